/*
 * alsa.h: a node's ALSA devices: type = alsa inputs and outputs.
 *
 * Each alsa section is one PCM (device = hw:CARD,DEV or any ALSA PCM
 * name), capture for an input, playback for an output, opened with the
 * node's rate and the section's channels, period (period_us) and periods,
 * mmap access where the device offers it (access = mmap or rw insists on
 * one), and the sample format the device prefers (S32, S24_3LE, S24, S16, float, in that order)
 * unless format names one: converted once, at the device (aoip/devfmt.h).
 *
 * Each device has a real-time thread of its own that waits on it. The one
 * that is the node's media clock ([node] clock) runs the node's periods:
 * a capture device reads a period straight into its source slots and runs
 * the engine (engine_tick); a playback device runs the engine and writes
 * the period from its destinations. The node's period is that device's.
 * Every other device hands its periods to the engine through a bridge
 * (aoip/bridge.h), which resamples them to the node's clock.
 *
 * An xrun is recovered where the thread stands and counted. A device that
 * fails otherwise (unplugged, its server gone) or stops delivering for a
 * second ends its thread; the control thread logs it, closes it and opens
 * it again every second until it is back (alsa_tick). While the clock
 * device is away the node's periods stop with it, as with JACK.
 */
#ifndef AOIPD_ALSA_H
#define AOIPD_ALSA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct cfg;
struct cfg_io;
struct engine_input;
struct engine_output;

/* The node has alsa sections. */
bool alsa_wanted(const struct cfg *cfg);

/*
 * Open and set up every alsa section's device, before the engine is made:
 * when one is the node's clock, the node takes its period. -1 with err set
 * (no such device, no such rate, format or channel count).
 */
int alsa_open(struct node *n, char *err, size_t errlen);

/* One alsa section's channels: its slots or destinations, and its bridge
 * when it is not the clock. Exactly one of in and out. */
int alsa_add_io(struct node *n, const struct cfg_io *io, struct engine_input *in,
                struct engine_output *out, char *err, size_t errlen);

/* Start the devices' threads (the clock's runs the engine in external mode). */
int alsa_start(struct node *n, char *err, size_t errlen);

/* On the control thread's tick: log and close a device that failed, and
 * open it again once a second until it is back. */
void alsa_tick(struct node *n);

/* Append each device's stats to list (io_device_json). */
void alsa_stats(const struct node *n, json_t *list);

/* Stop the threads and close the devices. */
void alsa_close(struct node *n);

#endif
