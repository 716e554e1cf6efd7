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
 * All storage is allocated by aoip_conceal_new; processing never allocates.
 */
#ifndef AOIP_CONCEAL_H
#define AOIP_CONCEAL_H

#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct aoip_conceal_config {
    unsigned channels; /* 1..64 */
    uint32_t sample_rate;
    uint32_t max_frames; /* the largest block processed */
};

struct aoip_conceal;

AOIP_API struct aoip_conceal *aoip_conceal_new(const struct aoip_conceal_config *cfg);
AOIP_API void aoip_conceal_free(struct aoip_conceal *cc);

/*
 * Work on one block in place: audio[c][0..frames) as the jitter buffer
 * pulled it, missing[0..frames) its flags (1: not received). Returns how
 * many frames it filled in.
 */
AOIP_API AOIP_RT uint32_t aoip_conceal_process(struct aoip_conceal *cc, float *const *audio,
                                               const uint8_t *missing, uint32_t frames);

/* A new stream: forget the history (the next gap fades from silence). */
AOIP_API AOIP_RT void aoip_conceal_reset(struct aoip_conceal *cc);

#ifdef __cplusplus
}
#endif

#endif
