/*
 * node.h: one running aoipd, seen from its control thread.
 *
 * The node owns the libuv loop and everything on it: the control socket,
 * the peer listener and connections, the RTCP socket, the timers. It keeps
 * the node's model of the network (its channels, the routes into its
 * destinations, the peers it knows and the flows to and from them) and
 * turns every change of that model into mixer commands and a new plan for
 * the engine. Peers are found by configuration or by their peers' gossip;
 * nothing here cares which.
 *
 * Requests (from aoipctl, or forwarded by a peer) are answered through a
 * struct request whose done callback the handler calls exactly once, now
 * or later: a request for another node's destination waits for that node.
 */
#ifndef AOIPD_NODE_H
#define AOIPD_NODE_H

#include <jansson.h>
#include <sndfile.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "aoip/control.h"
#include "aoip/peerchan.h"
#include "config.h"
#include "engine.h"
#include "flows.h"

#define NODE_ID_LEN 16 /* hex characters of a node id */
/* Routes into one node's destinations: a full 256-destination node with 16 sources each. */
#define NODE_MAX_ROUTES 4096
/* Known nodes, connections at once (peers and strangers), requests in flight. */
#define NODE_MAX_PEERS   256
#define NODE_MAX_CONNS   512
#define NODE_MAX_PENDING 1024
/* Seconds of silence after which a peer connection is dead; ping interval. */
#define NODE_PEER_TIMEOUT_MS 5000
#define NODE_PING_MS         1000
/* A forwarded request with no answer after this long fails as unreachable. */
#define NODE_REQUEST_TIMEOUT_MS 5000
/* Protocol errors a peer connection may make before it is closed. */
#define NODE_PEER_MAX_ERRORS 16
/* A freed rx slot rests this long before reuse, so a fading crosspoint never
 * mixes the next channel that lands in it. */
#define NODE_SLOT_REST_MS 1000
/* The longest latency a route may ask for: what every rx flow's ring holds (flows.c). */
#define NODE_ROUTE_LATENCY_MAX_US 100000

struct node;
struct conn;

/* A channel of this node: a source (input or bus channel) or a destination (output or bus). */
struct channel {
    char name[AOIP_NAME_MAX];
    unsigned io; /* index into cfg.ios */
    bool bus;
    uint32_t index; /* source slot or destination buffer: the 0-based number */
};

/* A node other than this one. */
struct peer {
    struct node *node;
    char id[NODE_ID_LEN + 1]; /* the fingerprint of its identity key, proven by the handshake */
    char session[NODE_ID_LEN + 1]; /* of its process: a new one means it restarted */
    char name[AOIP_NAME_MAX];
    char host[64]; /* its address as we reach it */
    uint16_t port; /* its peer port */
    uint16_t rtp_port;
    uint16_t rtcp_port;
    uint32_t sample_rate;
    char (*sources)[AOIP_NAME_MAX];
    unsigned n_sources;
    char (*destinations)[AOIP_NAME_MAX];
    unsigned n_destinations;
    char (*buses)[AOIP_NAME_MAX];
    unsigned n_buses;
    struct conn *conn;  /* the connection in use; NULL while lost */
    int64_t loss_at_ms; /* its connection closed: lost at this time, unless it is back */
    json_t *wanted;     /* the channel list last sent in flows.want, NULL: none sent */
    /* What p asked of this node (flows.want), and the flow list it was told last. */
    struct peer_ask *asks;
    unsigned n_asks;
    json_t *sent_set;
    json_t *groups; /* the multicast groups p sends to */
    bool aes;       /* it can open AES-256-GCM (its hello said so) */
    /* RTCP to and from p, sealed under keys of the connection in use
     * (peer_rtcp_keys), and what failed to open. */
    struct aoip_seal_ctl rtcp_tx, rtcp_rx;
    const struct conn *rtcp_conn;
    uint64_t rtcp_failures;
    /* Flows p announced in plain RTP, refused because this node is sealed. */
    uint64_t plain_refused;
};

/* A route into one of this node's destinations. */
struct route {
    char src_node[AOIP_NAME_MAX];
    char src_id[NODE_ID_LEN + 1]; /* "" until the source node is known */
    char src_channel[AOIP_NAME_MAX];
    uint32_t dst; /* destination index */
    double gain_db;
    bool muted;
    /* The latency the route asks of the flow that carries its source, in us; 0: none. */
    uint32_t latency_us;
    /* The format its source is asked in (route add --encoding), else the
     * source node's default (flows_default_format). The same for every
     * route of a source on this node: a source arrives here once. */
    bool has_format;
    struct flow_format fmt;
    int slot; /* the source slot it mixes from, -1 while unresolved */
};

/* A remote channel's place among the engine's rx slots. */
struct rx_slot {
    char node_id[NODE_ID_LEN + 1];
    char channel[AOIP_NAME_MAX];
    unsigned users;     /* routes and flows that refer to it */
    int64_t free_since; /* monotonic ns when users fell to 0, or 0 */
};

struct request;
typedef void (*request_done)(struct request *r, json_t *response);

struct request {
    struct node *node;
    json_int_t id;
    json_t *msg; /* the request object (owned) */
    request_done done;
    void *ctx;
    bool from_peer; /* forwarded: never forwarded again */
};

/* A wav input's reader or a wav output's writer, driven by the control thread. */
struct wav_pump {
    SNDFILE *file;
    unsigned channels;
    bool loop, eof, output;
    bool empty; /* an input file with no frames: nothing to loop */
    struct spsc ring;
    float *buf; /* pump-sized scratch, interleaved */
};

/* Local inputs and outputs as the node runs them. */
struct node_io {
    struct engine_input *inputs;
    unsigned n_inputs;
    struct engine_output *outputs;
    unsigned n_outputs;
    struct wav_pump *pumps;  /* one per cfg io; file == NULL when not wav */
    int *fds;                /* rtp sockets per cfg io, -1 when none */
    struct rx_flow **rtp_in; /* per cfg io: an rtp input's flow */
    struct tx_flow **rtp_out;
};

struct node {
    uv_loop_t *loop;
    struct cfg *cfg;
    char id[NODE_ID_LEN + 1]; /* the fingerprint of identity.pk */
    struct aoip_identity identity;
    uint8_t secret[AOIP_SECRET_BYTES]; /* the network's */
    /* Peer connections refused: a wrong secret or identity, an untrusted
     * node, a stranger's bytes. */
    uint64_t peer_auth_failures;
    /* RTCP datagrams from no peer's RTCP port. */
    uint64_t rtcp_strays;
    char session[NODE_ID_LEN + 1]; /* random for each start of the process */
    int64_t start_ns;
    uint32_t period_frames;
    uint32_t rtcp_ssrc;  /* this node's SSRC as an RTCP receiver */
    uint32_t opus_flows; /* Opus tx flows made so far: the next one's stagger */

    struct channel *sources;
    unsigned n_sources;
    struct channel *destinations;
    unsigned n_destinations;

    struct engine engine;
    struct node_io io;
    struct node_jack *jack; /* the node's JACK client, when it has jack sections */
    struct node_alsa *alsa; /* the node's ALSA devices, when it has alsa sections */

    struct route *routes;
    unsigned n_routes;
    struct rx_slot slots[ENGINE_RX_SLOTS];

    struct peer *peers[NODE_MAX_PEERS];
    unsigned n_peers;
    struct conn *conns; /* every connection, a list */
    unsigned n_conns;
    struct target *targets; /* addresses to keep a connection to */
    unsigned n_targets;

    struct rx_flow **rx; /* live flows in, peers' and rtp inputs' */
    unsigned n_rx;
    struct tx_flow **tx;
    unsigned n_tx;
    bool plan_dirty;
    bool *fed; /* rx slots the last plan's flows feed */

    struct pending *pending; /* requests forwarded to peers */
    uint32_t next_rid;

    int rtp_fd;
    uint16_t rtp_port;
    uv_udp_t rtcp;
    uint16_t rtcp_port;
    uv_tcp_t listener;
    uint16_t port;
    uv_pipe_t control;
    bool control_open;
    uv_timer_t tick; /* 10 ms: plans, mixer commands, wav pumps */
    uv_timer_t slow; /* 1 s: peers, RTCP, housekeeping */
    uv_signal_t sigterm, sigint;
    bool stopping;
    struct discovery *discovery; /* NULL with discovery = no */
    json_t *groups;              /* the multicast groups last announced */

    uint64_t *meter_since; /* per local channel: the newest meter block read */

    /* Mixer commands that did not fit the ring yet. */
    struct mix_cmd *backlog;
    unsigned n_backlog, cap_backlog;
};

/* node.c */
int node_init(struct node *n, uv_loop_t *loop, struct cfg *cfg, char *err, size_t errlen);
void node_close(struct node *n);
/* Has the node rebuild and publish the engine's plan at the next tick. */
void node_plan_changed(struct node *n);
/* Send a mixer command to the engine (queued if the ring is full). */
void node_mix(struct node *n, const struct mix_cmd *cmd);
const struct channel *node_find_source(const struct node *n, const char *name, unsigned index);
const struct channel *node_find_destination(const struct node *n, const char *name, unsigned index);
/* rx slots: take one for a remote channel (refcounted), or let one go. -1 when all are used. */
int node_slot_get(struct node *n, const char *node_id, const char *channel);
void node_slot_put(struct node *n, int slot);
int64_t node_now_ms(const struct node *n);
/* Queue one line (with its newline) on a stream; takes line. Returns 0 or a libuv error. */
int node_write_line(uv_stream_t *s, char *line, size_t len);
/* libuv's read buffer for the line-framed streams (control socket, peers). */
void node_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
struct peer *node_peer_by_name(struct node *n, const char *name);
struct peer *node_peer_by_id(struct node *n, const char *id);

/* routes.c: the route table, its file, and every control command. */
int routes_load(struct node *n);
void node_handle(struct request *r);
/* Peers' comings and goings, for routes waiting on them. */
void routes_peer_known(struct node *n, struct peer *p);
/* The channels of peer p that this node's routes need. */
json_t *routes_wanted_from(struct node *n, const struct peer *p);
json_t *route_json(const struct node *n, const struct route *rt);

/* peer.c. Discovery (or anything else) tells it of nodes with peers_discovered:
 * it keeps a connection to them; peers_vanished: their announcement went away. */
void peers_discovered(struct node *n, const char *id, const char *host, uint16_t port);
void peers_vanished(struct node *n, const char *id);
int peers_init(struct node *n, char *err, size_t errlen);
void peers_close(struct node *n);
void peers_tick(struct node *n);
/* Forward a request object to peer p; done(response) is called once. */
void peer_forward(struct node *n, struct peer *p, json_t *msg, struct request *r);
bool peer_online(const struct peer *p);
/* RTCP keys for p, from the connection in use: false while there is none. */
bool peer_rtcp_keys(struct peer *p);
/* Send one message to p (takes msg); dropped when p is not connected. */
void peer_send_json(struct peer *p, json_t *msg);
/* Tell p which of its channels this node needs (sends flows.want if changed). */
void peer_update_wants(struct node *n, struct peer *p);
/* The IPv4 address p's connection comes from. */
bool peer_address(const struct peer *p, struct sockaddr_in *out);

/* flows.c: rx and tx flows negotiated with peers. */
void flows_set_from(struct node *n, struct peer *p, json_t *flows);
/* pack.c: p asks for channels of ours (flows.want's "asks": each a format and
 * its channels); all flows are worked out again. */
void flows_want_by(struct node *n, struct peer *p, json_t *asks);
/* Forget what p asked (it is gone, or the node is closing). */
void flows_asks_free(struct peer *p);
void flows_repack(struct node *n);
/* The multicast groups this node sends to (announced to peers). */
json_t *flows_groups(struct node *n);
void flows_peer_lost(struct node *n, struct peer *p);
/* p came back as a new process (a new session): its old flows go. */
void flows_peer_restarted(struct node *n, struct peer *p);
/* Replaced flows whose time is up, or whose successors play, go. */
void flows_tick(struct node *n);
/* p has switched away from these replaced flows of ours (flows.drop). */
void flows_dropped_by(struct node *n, struct peer *p, json_t *ssrcs);
struct plan *flows_plan(struct node *n);
void flows_free_plan(struct plan *p, void *arg);
json_t *flows_stats(struct node *n);
void flows_close(struct node *n);
int flows_add_rx(struct node *n, struct rx_flow *f);
int flows_add_tx(struct node *n, struct tx_flow *f);
/*
 * peer_name: the node it comes from, whose [peer.NAME] section may set its
 * latency (NULL for plain RTP); packet_us: its packet time (0: not known);
 * wait_us: how much longer than the latency a frame is held, for what may
 * still rebuild it (Opus FEC comes a frame later), 0 for none.
 */
struct rx_flow *rx_flow_new(struct node *n, unsigned channels, const char *peer_name,
                            uint32_t packet_us, uint32_t wait_us);
struct tx_flow *tx_flow_new(unsigned channels, uint32_t packet_frames);
/* Every rx flow's latency target again, from the routes that mix its channels:
 * after any change of routes or their slots, and for each new rx flow. */
void flows_update_latency(struct node *n);

/* io.c: local inputs and outputs. */
int io_init(struct node *n, char *err, size_t errlen);
/* A bound, non-blocking UDP socket for media (DSCP AF41, kernel receive timestamps). */
int io_media_socket(const struct sockaddr_storage *bind_to, socklen_t len, bool multicast,
                    char *err, size_t errlen);
void io_pump(struct node *n);
void io_close(struct node *n);
/*
 * A sound device section's channels, in (its slots, first_slot set) or out
 * (its destinations, first_dst set): on the node's clock, filled or read
 * by the device around each period (DIRECT); else a bridge (aoip/bridge.h)
 * between the device's thread, which moves device_frames at a time, and
 * the engine's periods (BRIDGED). -1 with err set.
 */
int io_device_attach(struct node *n, struct engine_input *in, struct engine_output *out, bool clock,
                     uint32_t device_frames, char *err, size_t errlen);

/* What aoipctl stats shows of one sound device section (jack.c, alsa.c). */
struct device_stats {
    const struct cfg_io *io;
    const char *device; /* the JACK client, the ALSA PCM */
    bool online;        /* open and running */
    uint32_t period_frames;
    uint32_t rate;      /* the device's, 0: the node's */
    unsigned periods;   /* ALSA: in its buffer */
    const char *format; /* ALSA: the sample format taken, NULL for JACK */
    const char *access; /* ALSA: "mmap" or "rw" */
    uint64_t xruns;
    const struct aoip_bridge *bridge; /* NULL: the node's clock */
};
/* Append the stats of one device section to list (a JSON array). */
void io_device_json(const struct node *n, const struct device_stats *ds, json_t *list);

/* rtcp.c */
int rtcp_init(struct node *n, char *err, size_t errlen);
void rtcp_tick(struct node *n);
void rtcp_close(struct node *n);

/* ctl.c */
int ctl_init(struct node *n, char *err, size_t errlen);
void ctl_close(struct node *n);

/* discovery.c: mDNS/DNS-SD with Avahi, on this loop. */
int discovery_init(struct node *n, char *err, size_t errlen);
void discovery_close(struct node *n);

/* state.c */
int state_init(struct node *n, char *err, size_t errlen);
int state_write(const struct node *n, const char *file, const char *text, size_t len);
char *state_read(const struct node *n, const char *file, size_t *len);

#endif
