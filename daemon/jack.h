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
 * JACK must run at the node's sample_rate. A cycle of another length than
 * the node's period (JACK's buffer size changed under a running node)
 * plays silence and is counted; xruns are counted from JACK's own report.
 * A port that connect names is connected at start and again whenever it
 * appears (jack_tick). When the server goes away the node's periods stop
 * with it (its flows go silent at their receivers); when it comes back at
 * the same rate and buffer size, the client and its ports come back.
 */
#ifndef AOIPD_JACK_H
#define AOIPD_JACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct cfg;
struct cfg_io;
struct node_jack;

/* The node has jack sections. */
bool jack_wanted(const struct cfg *cfg);

/*
 * Connect to the JACK server as the node's client, before the engine is
 * made: the node takes JACK's buffer size as its period. -1 with err set
 * when there is no server or it runs at another rate.
 */
int jack_open(struct node *n, char *err, size_t errlen);

/* The ports of one jack section; first is its first source slot (input)
 * or destination (output). */
int jack_add_io(struct node *n, const struct cfg_io *io, uint32_t first, char *err, size_t errlen);

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
    uint64_t misfits; /* cycles of another length than the node's period: silence */
};
void jack_get_stats(const struct node *n, struct jack_stats *out);

void jack_close(struct node *n);

#endif
