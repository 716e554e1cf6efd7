/*
 * resample.h: the variable-ratio resampler that makes a flow follow the
 * local media clock.
 *
 * A receive flow's audio runs at its sender's clock; the node plays at its
 * own. Between them sits this resampler, whose ratio (input frames per
 * output frame, 1 +- a few hundred ppm) clock recovery updates every period.
 * All channels of a flow go through in one pass: the filter phase and the
 * interpolated coefficients are worked out once per output frame and
 * applied to every channel. At a ratio of exactly 1 with no fractional
 * phase left, samples pass untouched (delayed by the filter's fixed delay,
 * so switching between the two never moves the audio).
 *
 * A ratio r above 1 (a sender whose clock runs fast against ours) takes r
 * input frames per output frame, so a tone of f Hz counted in the sender's
 * frames comes out at f * r Hz counted in ours.
 *
 * All storage is allocated by aoip_resampler_new; the rest never allocates.
 */
#ifndef AOIP_RESAMPLE_H
#define AOIP_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most channels in one flow; the longest period (a caller's mistake beyond). */
#define AOIP_RESAMPLE_MAX_CHANNELS 255
#define AOIP_RESAMPLE_MAX_FRAMES   65536

struct aoip_resampler_config {
    unsigned channels;       /* 1..AOIP_RESAMPLE_MAX_CHANNELS */
    uint32_t max_out_frames; /* the largest period asked for, 1..AOIP_RESAMPLE_MAX_FRAMES */
};

struct aoip_resampler;

AOIP_API struct aoip_resampler *aoip_resampler_new(const struct aoip_resampler_config *cfg);
AOIP_API void aoip_resampler_free(struct aoip_resampler *rs);

/*
 * The ratio for the frames produced from now on: input frames consumed per
 * output frame. Clamped to 1 +- AOIP_RESAMPLE_MAX_PPM parts per million; a
 * NaN is ignored. The ratio starts at 1 and outlives aoip_resampler_reset.
 */
#define AOIP_RESAMPLE_MAX_PPM 2000
AOIP_API AOIP_RT void aoip_resampler_set_ratio(struct aoip_resampler *rs, double ratio);

/* Input frames the next aoip_resampler_process needs to make out_frames. */
AOIP_API AOIP_RT uint32_t aoip_resampler_needed(const struct aoip_resampler *rs,
                                                uint32_t out_frames);

/*
 * Consume in[c][0..in_frames) (what aoip_resampler_needed said, exactly)
 * and write out[c][0..out_frames). Returns 0, or -EINVAL when in_frames is
 * not that count or out_frames is over max_out_frames; then nothing moved.
 */
AOIP_API AOIP_RT int aoip_resampler_process(struct aoip_resampler *rs, const float *const *in,
                                            uint32_t in_frames, float *const *out,
                                            uint32_t out_frames);

/*
 * The filter's delay, in input frames (constant, a whole number): output
 * frame k carries the input at time (the ratios of frames 0..k-1 summed)
 * minus this. At ratio 1 the output is the input this many frames later.
 */
AOIP_API double aoip_resampler_delay(const struct aoip_resampler *rs);

/*
 * Take up the position of another resampler (same filter): its fraction,
 * its ratio and as many frames held ahead of the position, so that fed the
 * same input from here on the two give the same output once their
 * histories have filled. For a flow that replaces another of the same
 * sender, sample-aligned. The history is left as it is.
 */
AOIP_API AOIP_RT void aoip_resampler_follow(struct aoip_resampler *rs,
                                            const struct aoip_resampler *from);

/* Forget all history (a new stream): the next output starts from silence. */
AOIP_API AOIP_RT void aoip_resampler_reset(struct aoip_resampler *rs);

#ifdef __cplusplus
}
#endif

#endif
