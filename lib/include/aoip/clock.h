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
 * second-order loop (proportional-integral on the buffer level error) keeps
 * the level at the target and the integral term is the drift estimate. The
 * ratio is clamped and changes by a bounded step per period; the integral
 * is frozen while the buffer resyncs and starts again after it. A change of
 * target is reached by slewing, never by jumping.
 *
 * What the loop holds at the target is the level as the jitter buffer
 * defines its latency: the newest packet's first frame minus the read
 * position, at the moment that packet arrived. The level passed in (taken
 * before the period's pull) carries a sawtooth of one packet as arrivals
 * and pulls interleave; the arrivals say where in that sawtooth each update
 * falls, so the loop sees the level without it, and without the newest
 * packet's own jitter (see clock.c). A caller that never reports arrivals
 * gets a loop on the level alone, less half a period.
 *
 * Typical use, per receive flow on the media thread:
 *   on a packet stored (or late): aoip_clock_arrival(c, extended_ts, now_frames)
 *   on a jitter buffer resync:    aoip_clock_restart(c)
 *   every period:                 r = aoip_clock_update(c, level, target)
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
    uint32_t sample_rate;   /* of both ends; 0: 48000 */
    uint32_t period_frames; /* how often aoip_clock_update is called; 0: 48 */
    double max_ppm;         /* the largest drift followed; 0: 1000. The ratio goes up to
                               200 ppm beyond it, so that the level can still be steered
                               with a sender at the limit */
};

/* Caller-allocated state (no heap): its fields are the module's own. */
struct aoip_clock {
    struct aoip_clock_config cfg;

    /* Arrivals since the last restart: the newest packet and its spacing. */
    bool have_arrival;
    int64_t newest_ts;    /* extended RTP timestamp of the newest packet */
    double newest_at;     /* when it came by the timeline of all arrivals, our frames */
    double line_dev;      /* running mean |arrival - timeline| */
    double packet_frames; /* the smallest step between newest packets; 0: not known yet */
    uint64_t updates;     /* aoip_clock_update calls since the last restart */
    double update_phase;  /* update u falls at u * period + this, on the arrival clock */
    double phase_low;     /* the lowest bound any arrival put on it */
    bool phase_settled;   /* arrivals have fallen all across a period: the phase is known */
    double phase_applied; /* the phase the setpoint was last squared with */

    /* Fast start: a line fit of RTP time against arrival time, in sums
     * about the first point (x = arrival, z = RTP time - arrival). */
    bool locked; /* the fast start is over, the integral runs */
    uint32_t fit_n;
    double fit_t0;
    int64_t fit_r0;
    double sx, sz, sxx, sxz, szz;
    bool have_drift;   /* drift holds an estimate: a fast start has ended */
    double drift_kept; /* that estimate, for the restarted fit to agree with or not */

    /* The loop. */
    bool primed;     /* the setpoint and filter have a first level */
    bool settling;   /* fast start over, the ratio still moving to the new drift */
    bool frozen;     /* restarted, no arrival since: hold the ratio */
    double level;    /* the level the loop last saw, sawtooth removed */
    double error;    /* level minus setpoint, low-passed */
    double setpoint; /* where the level is held now: slews toward the target */
    double slew;     /* the setpoint's speed, frames per second */
    double drift;    /* the integral: sender rate / ours - 1 */
    double ratio;    /* what the resampler gets */
};

/* cfg may be NULL, and any field of it 0, for the defaults. */
AOIP_API void aoip_clock_init(struct aoip_clock *c, const struct aoip_clock_config *cfg);

/* A packet arrived: its extended RTP timestamp and when, in frames of our media clock. */
AOIP_API AOIP_RT void aoip_clock_arrival(struct aoip_clock *c, int64_t rtp_ts,
                                         double arrival_frames);

/*
 * Once per period: level and target in frames; returns the ratio for the
 * resampler. When the update falls is worked out from the arrivals, which
 * takes updates exactly a period apart on the arrival clock.
 */
AOIP_API AOIP_RT double aoip_clock_update(struct aoip_clock *c, double level_frames,
                                          double target_frames);

/*
 * The same where the caller knows when the level was taken, on the clock
 * of the arrivals (a media thread that wakes a little late now and then:
 * the arrivals it has read are those before now_frames).
 */
AOIP_API AOIP_RT double aoip_clock_update_at(struct aoip_clock *c, double level_frames,
                                             double target_frames, double now_frames);

/*
 * The buffer resynced (or a new stream): start over from the fast start. The
 * drift estimate is kept: the ratio holds at it until the new stream's first
 * arrival, the integral until the new stream's fit is done, and the fit
 * replaces it only if the two disagree (a new sender).
 */
AOIP_API AOIP_RT void aoip_clock_restart(struct aoip_clock *c);

/* Where the loop stands, for operators: "is it locked yet?" */
enum aoip_clock_state {
    AOIP_CLOCK_IDLE = 0,    /* no stream, or restarted and waiting for its first packet */
    AOIP_CLOCK_LOCKING = 1, /* the fast start measures the rate, or the ratio moves to it */
    AOIP_CLOCK_SLEWING = 2, /* locked, the level on its way to a new target */
    AOIP_CLOCK_LOCKED = 3,  /* the level held at the target */
};
AOIP_API AOIP_RT enum aoip_clock_state aoip_clock_get_state(const struct aoip_clock *c);
/* "idle", "locking", "slewing", "locked"; "idle" for anything else. */
AOIP_API const char *aoip_clock_state_name(int state);

/* The estimate: the sender's clock against ours, in ppm. */
AOIP_API AOIP_RT double aoip_clock_ppm(const struct aoip_clock *c);

#ifdef __cplusplus
}
#endif

#endif
