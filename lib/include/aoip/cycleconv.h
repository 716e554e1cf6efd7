/*
 * cycleconv.h: a sound device's cycles to a node's periods, when the two
 * do not line up: another sample rate, or a cycle length that is neither a
 * multiple nor a fraction of the period.
 *
 * A node runs fixed periods at its own rate (the network flows, their
 * SDP and their clock recovery are made for it). The device it runs on
 * may not: a JACK server whose rate was changed under it (PipeWire's graph
 * going to 44.1 kHz for a player), or one whose cycle is 300 frames. The
 * converter sits in the device's callback, on the device's clock, and
 * needs no clock recovery: the ratio of the rates is exact and rational
 * (rateconv.h), and everything runs on one thread.
 *
 * Each device cycle gives frames of capture (one line per capture
 * channel) and wants as many frames of playback (one per playback
 * channel). The capture is converted to the node's rate and queued; for
 * every whole period queued the caller's period function runs, with that
 * period of capture and room for that period of playback at the node's
 * rate; the playback is converted to the device's rate and queued; the
 * cycle's playback is taken from the front of that queue.
 *
 * Which periods run in which cycle follows from counts alone, whatever the
 * channels (none on either side is allowed): after n device frames in all,
 * ceil(n * L / M) node frames have been converted (L / M is node rate over
 * device rate, reduced), and every whole period of them has run. The
 * playback queue starts with ceil((period - 1) * M / L) frames of silence,
 * the least that keeps it from running dry under any sequence of cycle
 * lengths: the playback of a period is due at most that long after its
 * last capture frame came in. So the latency the converter adds, capture
 * to playback through a period function that copies, is constant: that
 * prefill plus both filters' delays (aoip_cycleconv_latency), whatever the
 * cycle lengths.
 *
 * The period function gets, besides the audio, how many node frames of
 * converted capture are queued after its period: its period was complete
 * that long before the end of the cycle, which is what a caller that
 * stamps periods with times needs (regular stamps, though a cycle runs one
 * period, two or none).
 *
 * aoip_cycleconv_cycle and aoip_cycleconv_reset never allocate, lock or
 * block; aoip_cycleconv_new allocates everything.
 */
#ifndef AOIP_CYCLECONV_H
#define AOIP_CYCLECONV_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most channels on either side. */
#define AOIP_CYCLECONV_MAX_CHANNELS 1024

struct aoip_cycleconv_config {
    unsigned capture_channels;  /* 0..AOIP_CYCLECONV_MAX_CHANNELS */
    unsigned playback_channels; /* 0..AOIP_CYCLECONV_MAX_CHANNELS */
    uint32_t device_rate;       /* Hz; with node_rate, what aoip_rateconv accepts */
    uint32_t node_rate;         /* Hz */
    uint32_t period_frames;     /* the node's period, at node_rate, 1..65536 */
    uint32_t max_cycle_frames;  /* the longest device cycle, at device_rate, 1..65536 */
};

/*
 * One period: in[c][0..period) is capture channel c at the node's rate,
 * out[c][0..period) is for playback channel c, to be filled (it holds
 * nothing to keep); after is the node frames of capture queued behind this
 * period at the end of the cycle (this period was complete that long
 * before the cycle ended).
 */
typedef void (*aoip_cycleconv_period_fn)(void *arg, const float *const *in, float *const *out,
                                         uint32_t after);

struct aoip_cycleconv;

/* NULL for a config out of range (rates rateconv refuses among them) or no memory. */
AOIP_API struct aoip_cycleconv *aoip_cycleconv_new(const struct aoip_cycleconv_config *cfg);
AOIP_API void aoip_cycleconv_free(struct aoip_cycleconv *cc);

/*
 * One device cycle of frames (<= max_cycle_frames): capture[c][0..frames)
 * in, playback[c][0..frames) out (either may be NULL for a side of no
 * channels), and period() for every period completed meanwhile. Returns
 * the periods run, or -EINVAL (frames too long; the playback is then
 * silence and nothing moved).
 */
AOIP_API AOIP_RT int aoip_cycleconv_cycle(struct aoip_cycleconv *cc, const float *const *capture,
                                          float *const *playback, uint32_t frames,
                                          aoip_cycleconv_period_fn period, void *arg);

/* As new: empty queues, silent filters, the prefill again. */
AOIP_API AOIP_RT void aoip_cycleconv_reset(struct aoip_cycleconv *cc);

/*
 * The latency it adds from capture to playback through a period function
 * that copies in to out, in device frames (often fractional): the same
 * for every cycle length and every sequence of them.
 */
AOIP_API double aoip_cycleconv_latency(const struct aoip_cycleconv *cc);

/* The playback queue's silence at the start, in device frames. */
AOIP_API uint32_t aoip_cycleconv_prefill(const struct aoip_cycleconv *cc);

#ifdef __cplusplus
}
#endif

#endif
