/*
 * jack.h: a node's JACK client: type = jack inputs and outputs.
 *
 * A node with jack sections is one JACK client (client_name, default
 * "aoip-NODE") with one port per channel, named after the channel. JACK's
 * process callback is the node's media thread: each call copies the input
 * ports into their source slots, runs one period of the engine
 * (engine_tick), and copies the destinations out to the output ports. The
 * node's period is JACK's buffer size and its media clock is JACK's, so
 * every received flow is resampled to the sound card by clock recovery.
 *
 * JACK's buffer size may change under a running node (jack_bufsize): a
 * cycle of several periods runs them back to back, a cycle of part of a
 * period gathers them (its outputs a period later). JACK's rate may change
 * too (PipeWire's graph follows what its clients ask for): the node keeps
 * its own rate and period, and a JACK at another rate, or in cycles of
 * any other length, runs through a converter (aoip/cycleconv.h) made for
 * it off the real-time thread: the change is logged, the cycles until the
 * converter is there play silence (counted), and then the audio goes on,
 * still on JACK's clock. xruns are counted from JACK's own report.
 * A port that connect names is connected at start and again whenever it
 * appears (jack_tick); server = names the JACK server (one per node).
 *
 * When the node's clock is another device ([node] clock), the process
 * callback does not run periods: each jack section's ports go to or come
 * from a bridge (aoip/bridge.h) that resamples them to the node's clock.
 *
 * When the server goes away the node's periods stop
 * with it (its flows go silent at their receivers); when it comes back,
 * at whatever rate and buffer size, the client and its ports come back.
 */
#ifndef AOIPD_JACK_H
#define AOIPD_JACK_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct cfg;
struct cfg_io;
struct node_jack;
struct engine_input;
struct engine_output;

/* The node has jack sections. */
bool jack_wanted(const struct cfg *cfg);

/*
 * Connect to the JACK server as the node's client, before the engine is
 * made: a node on JACK's clock takes JACK's buffer size as its period
 * when JACK runs at its rate. -1 with err set when there is no server.
 */
int jack_open(struct node *n, char *err, size_t errlen);

/* The ports of one jack section, for its channels' slots (in) or
 * destinations (out): exactly one of them. When JACK is not the node's
 * clock, the section gets a bridge of JACK's buffer size. */
int jack_add_io(struct node *n, const struct cfg_io *io, struct engine_input *in,
                struct engine_output *out, char *err, size_t errlen);

/* Start the periods (the engine in external mode, the client active) and
 * make the connections the config asks for. */
int jack_start(struct node *n, char *err, size_t errlen);

/* On the control thread's tick: connect the ports the config names that
 * have appeared since (a client that restarted, a card plugged in); when
 * the server has gone away, look for it once a second and, when it is
 * back, register the ports again and connect them. */
void jack_tick(struct node *n);

/* What stats show. */
struct jack_stats {
    char client[80];
    bool online;            /* the server is there and the client active */
    uint32_t buffer_frames; /* JACK's buffer size, as last reported */
    uint64_t xruns;
    uint64_t misfits;     /* cycles played silent: they did not line up with the node's
                             periods and no converter was ready for them */
    uint32_t rate;        /* JACK's, as last reported */
    bool converting;      /* the last cycle ran through a converter */
    double conversion_ms; /* what it adds from JACK's inputs to its outputs, when converting */
};
void jack_get_stats(const struct node *n, struct jack_stats *out);
/* Append each jack section's stats to list (io_device_json). */
void jack_devices(const struct node *n, json_t *list);

void jack_close(struct node *n);

#endif
