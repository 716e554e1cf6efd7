/*
 * rateconv.h: the fixed-ratio sample-rate converter between a node's rate
 * and Opus' 48 kHz.
 *
 * Opus codes at 48 kHz only (RFC 7587 section 4.1). A node that runs at
 * 44.1, 88.2, 96, 176.4, 192 or 32 kHz converts its audio to 48 kHz before
 * it encodes an Opus flow, and the decoded audio back to its own rate. The
 * ratio is fixed and rational: out_rate / in_rate reduced by their greatest
 * common divisor g is L / M (L = out_rate / g, M = in_rate / g; 160 / 147
 * from 44.1 to 48 kHz). Unlike resample.h, nothing here follows a clock:
 * the two rates are those of one node's one clock.
 *
 * Time: input frame n is at input time n, output frame k at output time k,
 * and both streams start at time 0 when the converter is made or reset. A
 * tone of f Hz in comes out as a tone of f Hz at the output rate. An event
 * at input time t comes out at output time t * L / M + aoip_rateconv_delay()
 * (the filter's group delay, the same at every frequency and every call).
 *
 * Counts: after n input frames in all, ceil(n * L / M) output frames have
 * been written: output frame k is written by the call that brings input
 * frame floor(k * M / L), the newest input it depends on. A stream of
 * whole multiples of M input frames gives exactly n * L / M out. Any
 * chunking of the same input gives the same output, bit for bit.
 *
 * Audio is planar float, one line per channel, all channels converted in
 * one pass. All storage is allocated by aoip_rateconv_new; the rest never
 * allocates, locks or blocks.
 */
#ifndef AOIP_RATECONV_H
#define AOIP_RATECONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most channels in one flow (an Opus multistream's limit, opus.h). */
#define AOIP_RATECONV_MAX_CHANNELS 255
/* Rates accepted, Hz: telephone band to eight times 48 kHz. */
#define AOIP_RATECONV_MIN_RATE 8000
#define AOIP_RATECONV_MAX_RATE 384000
/* Largest L and M: the filter has L phases, its table L rows. */
#define AOIP_RATECONV_MAX_FACTOR 1024
/* Largest max_in_frames: 2.7 s at 384 kHz; a longer call is a caller's mistake. */
#define AOIP_RATECONV_MAX_FRAMES (1u << 20)

struct aoip_rateconv_config {
    unsigned channels;          /* 1..AOIP_RATECONV_MAX_CHANNELS */
    uint32_t in_rate, out_rate; /* Hz, each AOIP_RATECONV_MIN_RATE..AOIP_RATECONV_MAX_RATE;
                                   L and M (above) at most AOIP_RATECONV_MAX_FACTOR */
    uint32_t max_in_frames;     /* the largest in_frames ever passed to process,
                                   1..AOIP_RATECONV_MAX_FRAMES */
};

struct aoip_rateconv;

/*
 * L and M (above) for in_rate to out_rate into *up and *down: true when
 * both rates are in range and neither factor is over
 * AOIP_RATECONV_MAX_FACTOR, the pairs aoip_rateconv_new takes.
 */
AOIP_API bool aoip_rateconv_ratio(uint32_t in_rate, uint32_t out_rate, uint32_t *up,
                                  uint32_t *down);

/* A converter at phase 0 with silent history, or NULL on a bad config or no memory. */
AOIP_API struct aoip_rateconv *aoip_rateconv_new(const struct aoip_rateconv_config *cfg);
AOIP_API void aoip_rateconv_free(struct aoip_rateconv *rc);

/* Frames the next aoip_rateconv_process of in_frames input frames will write: exact. */
AOIP_API AOIP_RT uint32_t aoip_rateconv_out_frames(const struct aoip_rateconv *rc,
                                                   uint32_t in_frames);

/*
 * The most frames one aoip_rateconv_process of in_frames can write in any
 * state, ceil(in_frames * L / M) (reached at phase 0): for sizing output
 * buffers. 0 for a bad config; saturates at UINT32_MAX.
 */
AOIP_API uint32_t aoip_rateconv_max_out_frames(const struct aoip_rateconv_config *cfg,
                                               uint32_t in_frames);

/*
 * Consume in[c][0..in_frames) and write out[c][0..n) for every channel;
 * returns n, what aoip_rateconv_out_frames said (0 is a valid count: a call
 * may complete no output frame). -EINVAL when in_frames is over
 * max_in_frames or a pointer that is needed is NULL; then nothing moved.
 * When in_rate == out_rate the samples are copied untouched.
 */
AOIP_API AOIP_RT int aoip_rateconv_process(struct aoip_rateconv *rc, const float *const *in,
                                           uint32_t in_frames, float *const *out);

/*
 * The filter's group delay in output frames, (taps * L - 1) / (2 * M) for
 * a prototype of taps * L taps (constant for the config, often
 * fractional): an event at input time t comes out at output time
 * t * L / M + delay. 0 when in_rate == out_rate.
 */
AOIP_API double aoip_rateconv_delay(const struct aoip_rateconv *rc);

/* Taps per output frame (per phase of the filter): what one output sample costs; 1 for a copy. */
AOIP_API unsigned aoip_rateconv_taps(const struct aoip_rateconv *rc);

/* Forget the history and return to phase 0: the next output starts as from a new converter. */
AOIP_API AOIP_RT void aoip_rateconv_reset(struct aoip_rateconv *rc);

#ifdef __cplusplus
}
#endif

#endif
