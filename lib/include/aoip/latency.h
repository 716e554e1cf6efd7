/*
 * latency.h: the adaptive latency target of a receive flow (`latency = auto`).
 *
 * Pure, like clock.h: the caller feeds each packet's extended RTP timestamp
 * and its arrival on the local media clock (both in frames), and once per
 * period asks for the target. No clock in here, no allocation after _new.
 *
 * What is measured is the relative delay of each packet, arrival minus
 * timestamp, against the floor of that delay: the sliding minimum over the
 * last ~10 s. The difference between the two clocks is an unknown constant
 * plus a slow drift (the sender's clock against ours), so the minimum is
 * kept as one per second, and the floor is the lowest of those carried
 * forward along the drift they show: a drift of 1000 ppm does not raise the
 * measured delay by 10 ms, as a plain 10 s minimum would.
 *
 * The target is a high quantile (default 99.9 %) of that relative delay
 * over the last ~10 s, plus a packet (a packet is not complete until its
 * last frame came), a period (the media thread pulls that far ahead) and a
 * small margin, clamped to a floor and a ceiling. It rises at once: as soon
 * as the quantile rises, or as soon as two of the last eight packets came
 * later than it allows. It falls only when the higher value has not been
 * needed for the hold time (30 s, doubled whenever it had to rise again
 * after a fall, up to 16 times), and then at a slow, bounded rate, so
 * clock recovery, which gets there by slewing the resampling ratio, hears
 * no jump.
 */
#ifndef AOIP_LATENCY_H
#define AOIP_LATENCY_H

#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct aoip_latency_config {
    uint32_t sample_rate;    /* frames per second of the local clock; 8000..384000 */
    uint32_t packet_frames;  /* frames per packet of the stream; at least 1 */
    uint32_t period_frames;  /* frames per pull of the media thread; at least 1 */
    uint32_t floor_frames;   /* the target never goes below this (0: no floor) */
    uint32_t ceiling_frames; /* nor above this; 0: one second */
    uint32_t margin_frames;  /* added on top of the measured delay; 0: a quarter ms */
    uint32_t hold_frames;    /* a higher target is kept this long after it was last
                                needed; 0: 30 s */
    uint32_t fall_ppm;       /* then it falls by at most this many frames per million
                                frames of time; 0: 500 (half a ms per second) */
    double quantile;         /* of the relative delay the target covers, in [0.5, 1);
                                0: 0.999 */
};

struct aoip_latency_stats {
    double target_frames;   /* what aoip_latency_update returns */
    double quantile_frames; /* the measured relative delay at the quantile (over ~10 s),
                               before packet, period and margin are added */
    double drift_ppm;       /* the slope the delay floor follows: negative when the
                               sender's clock runs faster than ours */
    uint64_t packets;       /* arrivals measured since _new or _reset */
};

struct aoip_latency;

/* Returns NULL on a bad config or when memory runs out. */
AOIP_API struct aoip_latency *aoip_latency_new(const struct aoip_latency_config *cfg);
AOIP_API void aoip_latency_free(struct aoip_latency *lt);

/*
 * A packet arrived: its RTP timestamp extended to 64 bits (rtp.h) and its
 * arrival on the local media clock, in frames. Arrivals are given in the
 * order they happen. Raises the target at once when the packet shows it
 * too low.
 */
AOIP_API AOIP_RT void aoip_latency_arrival(struct aoip_latency *lt, int64_t rtp_ts,
                                           double arrival_frames);

/*
 * Once per period, with the local media clock in frames (the same clock as
 * the arrivals): lets a target that is no longer needed fall, and returns
 * the target in frames. Before the first packet: the packet, the period
 * and the margin, clamped.
 */
AOIP_API AOIP_RT double aoip_latency_update(struct aoip_latency *lt, double now_frames);

/* The target as the last call left it. */
AOIP_API AOIP_RT double aoip_latency_target(const struct aoip_latency *lt);

AOIP_API AOIP_RT void aoip_latency_get_stats(const struct aoip_latency *lt,
                                             struct aoip_latency_stats *out);

/*
 * A new stream (the jitter buffer resynced): forget what was measured, whose
 * timestamps mean nothing for the new stream. The target stays where it is,
 * held for the hold time from the next arrival, and follows the new
 * measurements from there.
 */
AOIP_API AOIP_RT void aoip_latency_reset(struct aoip_latency *lt);

#ifdef __cplusplus
}
#endif

#endif
