/*
 * bridge.h: audio from one real-time thread to another that runs on a
 * different clock: a sound device that is not the node's media clock.
 *
 * A node's media clock is one of its devices (or the system clock). Every
 * other device runs on its own crystal: its thread hands periods to the
 * media thread (a capture device) or takes them from it (a playback
 * device), and the two sides drift apart by tens to hundreds of ppm. A
 * bridge sits between them: a lock-free ring of frames with one producer
 * and one consumer, and on the consumer's side the clock recovery of the
 * network flows (clock.h: fast start, then the PI loop on the ring's level)
 * driving their resampler (resample.h), so that the consumer always gets
 * exactly the frames it asks for, at its own clock, and the ring's level is
 * held at its target.
 *
 * The producer stamps each block with when it produced it (CLOCK_MONOTONIC
 * or any one clock both sides read, in ns); those stamps are the clock
 * loop's arrivals, as a packet's arrival is for a flow. The consumer says
 * when it pulls on the same clock. Its own timeline is its pull count
 * (frames), anchored to those times and smoothed, so a late wake-up is not
 * read as drift; one that far late the timeline cannot take it is let
 * catch up, and a consumer whose count fell behind (it skipped what it
 * missed) starts the bridge over. How soon the drift estimate is good
 * depends on how well the stamps say when a block was complete: the time a
 * real-time thread wakes (tens of microseconds late) gives it within a ppm
 * in 6 to 10 s as a rule; a device's own timestamp of its period, where it
 * has one, is better still; a millisecond of jitter takes half a minute
 * (figures in tests/unit/test_bridge.c and tests/bench/bench_bridge.c).
 *
 * A capture device that is not the clock: its thread pushes, the media
 * thread pulls. A playback device: the media thread pushes what the mixer
 * made for it, the device's thread pulls. Either way the resampling runs on
 * the side that pulls, whose clock the audio must follow.
 *
 * When the ring runs dry the consumer gets silence for what is missing
 * (counted: underruns) and the bridge starts again from its target level,
 * silent while the ring refills; when it is full the producer's block is
 * dropped (counted: overruns) and the consumer starts again likewise: from
 * the newest frames, down to the target. A device that stops (unplugged,
 * or its server gone) is no more than that: its side stops calling, the
 * other side counts, and when it is back the bridge fills and plays again.
 * aoip_bridge_push and aoip_bridge_pull never allocate, lock, log or block;
 * everything is allocated by aoip_bridge_new.
 */
#ifndef AOIP_BRIDGE_H
#define AOIP_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct aoip_bridge_config {
    unsigned channels;        /* 1..AOIP_RESAMPLE_MAX_CHANNELS */
    uint32_t sample_rate;     /* nominal, of both sides */
    uint32_t push_frames;     /* the largest block the producer pushes */
    uint32_t pull_frames;     /* the largest block the consumer pulls */
    uint32_t target_frames;   /* the level held; 0: push + pull frames and a millisecond */
    uint32_t capacity_frames; /* the ring, rounded up to a power of two; 0: four times the
                                 target. At least target + push + pull + pull / 256 + 2 */
};

/* What an operator sees (aoipctl stats), readable from any thread. */
struct aoip_bridge_stats {
    double ratio;       /* producer's clock against the consumer's: frames in per frame out */
    double ppm;         /* the drift estimate: (producer rate / consumer rate - 1) * 1e6 */
    double level;       /* at the last pull, as the clock holds it (the newest block's first
                           frame minus the read position when it came: the push sawtooth out);
                           before it has one, frames in the ring */
    uint32_t target;    /* frames */
    uint64_t underruns; /* pulls that found too little (silence given for the rest); the
                           silent pulls while it refills are not counted again */
    uint64_t overruns;  /* blocks dropped because the ring was full */
    uint64_t restarts;  /* times the bridge started over: an underrun, an overrun, or a
                           consumer whose pull count fell behind its timeline */
    int clock_state;    /* enum aoip_clock_state */
};

struct aoip_bridge;

/* NULL when out of memory or cfg is out of range. */
AOIP_API struct aoip_bridge *aoip_bridge_new(const struct aoip_bridge_config *cfg);
AOIP_API void aoip_bridge_free(struct aoip_bridge *b);

/*
 * Producer: frames (<= push_frames) of in[c][0..frames), produced at
 * now_ns (when the block was complete, as closely as the caller knows).
 * Returns 0, -ENOSPC when the ring had no room (the block is dropped and
 * counted), or -EINVAL for more than push_frames (refused, not counted).
 */
AOIP_API AOIP_RT int aoip_bridge_push(struct aoip_bridge *b, const float *const *in,
                                      uint32_t frames, int64_t now_ns);

/*
 * Consumer: exactly frames (<= pull_frames) into out[c][0..frames), at
 * now_ns; silence where the ring had nothing to give. Returns the frames
 * that came from the ring (frames when all did, 0 while it fills at the
 * start or after a restart). The clock loop takes each pull for a period of
 * pull_frames, so a consumer pulls that much each time where it can. More
 * than pull_frames is silence and 0.
 */
AOIP_API AOIP_RT uint32_t aoip_bridge_pull(struct aoip_bridge *b, float *const *out,
                                           uint32_t frames, int64_t now_ns);

/* From any thread: a consistent-enough snapshot (each field is read atomically). */
AOIP_API void aoip_bridge_get_stats(const struct aoip_bridge *b, struct aoip_bridge_stats *out);

#ifdef __cplusplus
}
#endif

#endif
