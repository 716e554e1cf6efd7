/*
 * mixer.h: the routing matrix and its mix.
 *
 * A node's matrix is sparse: a venue has hundreds of sources and
 * destinations but each destination hears a few sources. The mixer keeps a
 * list of crosspoints (source, destination, gain, mute) ordered by
 * destination and sums, for one period of planar float audio, every
 * destination from its crosspoints. Destinations with no crosspoint are
 * silent.
 *
 * Every change of what a destination hears ramps linearly over ramp_frames:
 * a gain change, a mute, a new crosspoint (which fades in from silence) and
 * a removed one (which fades out and then frees its slot). So a route
 * change never clicks, and the largest step it can add between two
 * consecutive samples is |gain change| / ramp_frames times the signal.
 *
 * Meters (peak and RMS) are kept per destination and per source (all of
 * them, or the first metered_sources); they accumulate across periods until
 * read and reset.
 */
#ifndef AOIP_MIXER_H
#define AOIP_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct aoip_mixer_config {
    uint32_t sources;
    uint32_t destinations;
    uint32_t max_crosspoints;
    uint32_t max_frames;      /* the largest period processed */
    uint32_t ramp_frames;     /* length of every gain ramp; 0 means 5 ms at 48 kHz (240) */
    uint32_t metered_sources; /* sources 0..N-1 get meters; 0 means all of them (a node
                                 meters its own channels, not every remote slot) */
};

struct aoip_meter {
    float peak;    /* largest |sample| since the last read, linear */
    double sum_sq; /* sum of squares since the last read */
    uint64_t frames;
};

struct aoip_mixer;

AOIP_API struct aoip_mixer *aoip_mixer_new(const struct aoip_mixer_config *cfg);
AOIP_API void aoip_mixer_free(struct aoip_mixer *mx);

/*
 * Add the crosspoint src -> dst, or change its gain and mute. gain is
 * linear (aoip_db_to_gain converts). Returns 0, -EINVAL for an index out of
 * range or a gain that is not finite, or -ENOSPC when max_crosspoints are
 * in use (a crosspoint still fading out counts until it is gone).
 */
AOIP_API AOIP_RT int aoip_mixer_set(struct aoip_mixer *mx, uint32_t src, uint32_t dst, float gain,
                                    bool mute);

/* Fade the crosspoint out and then drop it. Returns 0 or -ENOENT. */
AOIP_API AOIP_RT int aoip_mixer_remove(struct aoip_mixer *mx, uint32_t src, uint32_t dst);

/* Crosspoints in use, fading ones included. */
AOIP_API AOIP_RT uint32_t aoip_mixer_crosspoints(const struct aoip_mixer *mx);

/*
 * Mix one period: dst[d][0..frames) = sum over crosspoints of gain * src[s].
 * frames is at most max_frames. The src and dst buffers must not overlap
 * (a bus feeds back through the next period, never the same one).
 */
AOIP_API AOIP_RT void aoip_mixer_process(struct aoip_mixer *mx, const float *const *src,
                                         float *const *dst, uint32_t frames);

/* Read a meter and start it afresh. */
AOIP_API AOIP_RT void aoip_mixer_source_meter(struct aoip_mixer *mx, uint32_t src,
                                              struct aoip_meter *out);
AOIP_API AOIP_RT void aoip_mixer_destination_meter(struct aoip_mixer *mx, uint32_t dst,
                                                   struct aoip_meter *out);

/* Accumulate x[0..n) into a meter. */
AOIP_API AOIP_RT void aoip_meter_update(struct aoip_meter *m, const float *x, size_t n);
/* RMS of what the meter saw, in dBFS (full-scale sine = -3.01); -inf when silent. */
AOIP_API double aoip_meter_rms_dbfs(const struct aoip_meter *m);
AOIP_API double aoip_meter_peak_dbfs(const struct aoip_meter *m);

/* 20*log10 conversions; -inf dB is gain 0. */
AOIP_API float aoip_db_to_gain(float db);
AOIP_API float aoip_gain_to_db(float gain);

#ifdef __cplusplus
}
#endif

#endif
