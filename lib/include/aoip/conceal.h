/*
 * conceal.h: what a receive flow plays where its packets did not come (PCM).
 *
 * The jitter buffer hands out silence and a flag for every frame it did not
 * have. This turns those into something an audience does not notice: a
 * single lost packet (a millisecond or two) is bridged by extending the
 * waveform that came before it, crossfaded in and out; a longer gap fades
 * to silence within about 10 ms, and the audio fades back in when it
 * returns. Never a step: every transition is a crossfade.
 *
 * A gap may span any number of calls: the state is carried from one block
 * to the next, and the output does not depend on how the stream is cut into
 * blocks. Every channel is extended by the same lag (found once per gap on
 * their sum), so the image of a multichannel flow holds still in a gap.
 *
 * All storage is allocated by aoip_conceal_new; processing never allocates.
 */
#ifndef AOIP_CONCEAL_H
#define AOIP_CONCEAL_H

#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most channels of one flow (jitter.h). */
#define AOIP_CONCEAL_MAX_CHANNELS 255

struct aoip_conceal_config {
    unsigned channels;    /* 1..AOIP_CONCEAL_MAX_CHANNELS */
    uint32_t sample_rate; /* 8000..384000 */
    uint32_t max_frames;  /* the largest block processed in one piece; larger blocks are
                             worked through in pieces of this size */
};

struct aoip_conceal;

/* Returns NULL on a bad config or when memory runs out. */
AOIP_API struct aoip_conceal *aoip_conceal_new(const struct aoip_conceal_config *cfg);
AOIP_API void aoip_conceal_free(struct aoip_conceal *cc);

/*
 * Work on one block in place: audio[c][0..frames) as the jitter buffer
 * pulled it, missing[0..frames) its flags (1: not received; NULL: none
 * missing). Frames that are not missing, outside the crossfade back in
 * after a gap, come out bit-exact. Returns how many frames it filled in:
 * missing frames given a waveform extension. The silence a long gap has
 * faded to is not counted, nor are missing frames before the first
 * received one (after _new or _reset), which stay silent.
 */
AOIP_API AOIP_RT uint32_t aoip_conceal_process(struct aoip_conceal *cc, float *const *audio,
                                               const uint8_t *missing, uint32_t frames);

/* A new stream: forget the history (the next gap fades from silence). */
AOIP_API AOIP_RT void aoip_conceal_reset(struct aoip_conceal *cc);

#ifdef __cplusplus
}
#endif

#endif
