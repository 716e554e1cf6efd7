/*
 * clock.h: clock recovery for one receive flow: how fast the sender's clock
 * runs against ours, and the resampling ratio that holds the jitter buffer
 * at its target.
 *
 * Pure: the caller feeds packet arrivals (the sender's RTP timestamp and the
 * arrival on the receiver's media clock, in frames) and, once per period,
 * the buffer level; it gets back the ratio to give the resampler. There is
 * no clock in here.
 *
 * Two stages. A fast start estimates the sender's rate from timestamps
 * against arrivals (a least-squares slope over the first seconds), so a
 * sender hundreds of ppm off is followed within seconds, not minutes. Then a
 * second-order loop (proportional-integral on the buffer level error,
 * averaged over the packet/period sawtooth) keeps the level at the target
 * and the integral term is the drift estimate. The ratio is clamped; the
 * loop is frozen while the buffer resyncs and starts again after it. A
 * change of target is reached by slewing, never by jumping.
 */
#ifndef AOIP_CLOCK_H
#define AOIP_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct aoip_clock_config {
    uint32_t sample_rate;   /* of both ends */
    uint32_t period_frames; /* how often aoip_clock_update is called */
    double max_ppm;         /* clamp of the ratio; 0: 1000 */
};

/* Caller-allocated state (no heap): its fields are the module's own. */
struct aoip_clock {
    struct aoip_clock_config cfg;
    /* fast start: running sums of a line fit of RTP time against arrival time */
    bool locked;
    uint32_t fit_n;
    double fit_t0, fit_r0, sx, sy, sxx, sxy;
    /* the loop */
    double ratio; /* what the resampler gets */
    double drift; /* the integral: sender rate / ours - 1 */
    double level_avg;
    bool level_primed;
    bool frozen;
    uint64_t updates;
};

AOIP_API void aoip_clock_init(struct aoip_clock *c, const struct aoip_clock_config *cfg);

/* A packet arrived: its extended RTP timestamp and when, in frames of our media clock. */
AOIP_API AOIP_RT void aoip_clock_arrival(struct aoip_clock *c, int64_t rtp_ts,
                                         double arrival_frames);

/* Once per period: level and target in frames; returns the ratio for the resampler. */
AOIP_API AOIP_RT double aoip_clock_update(struct aoip_clock *c, double level_frames,
                                          double target_frames);

/* The buffer resynced (or a new stream): start over from the fast start. */
AOIP_API AOIP_RT void aoip_clock_restart(struct aoip_clock *c);

/* The estimate: the sender's clock against ours, in ppm. */
AOIP_API AOIP_RT double aoip_clock_ppm(const struct aoip_clock *c);

#ifdef __cplusplus
}
#endif

#endif
