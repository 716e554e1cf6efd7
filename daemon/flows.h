/*
 * flows.h: what the control thread keeps about each flow beside what the
 * media thread needs: who is at the other end, which channels it carries,
 * and what RTCP has said about it.
 */
#ifndef AOIPD_FLOWS_H
#define AOIPD_FLOWS_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "aoip/opus.h"
#include "engine.h"

struct node;
struct peer;

/*
 * How a flow is coded on the wire (proto/peer.md, "Formats"): PCM with its
 * packet time, or Opus with its bitrate per channel, frame (0: the default
 * for the flow's bitrate), FEC and the loss it plans for. A receiver asks
 * for its channels in a format; the sender packs channels asked in the
 * same format into flows, so a source asked for in two formats is encoded
 * once per format, not once per route.
 */
struct flow_format {
    enum cfg_encoding encoding;
    uint32_t packet_us; /* PCM */
    struct cfg_opus opus;
};

/* What a peer asked of this node: channels, in one format. */
struct peer_ask {
    struct flow_format fmt;
    json_t *channels; /* names of this node's sources */
};

/* How long a replaced flow goes on beside its successor: the receiver
 * switches as soon as the new one plays (a latency and a network delay
 * after it started), so this only has to outlast the longest of those. */
#define FLOWS_RETIRE_MS 3000

/* Seconds from 1900 (NTP's epoch) to 1970 (Unix's). */
#define FLOWS_NTP_UNIX_OFFSET 2208988800LL

struct flow_meta {
    char peer_id[17];       /* "" for plain RTP */
    char peer_name[96];     /* the peer's name, or "rtp:ADDRESS:PORT" */
    json_t *channels;       /* "NODE/NAME" strings, in flow order */
    uint32_t packet_us;     /* PCM: the packet time; Opus: the frame */
    struct flow_format fmt; /* tx: the format it was asked in (pack.c) */
    int64_t retire_at_ms;   /* replaced: goes at this time (monotonic ms); 0: live */

    /* A multicast flow: sent to group:FLOWS_MULTICAST_PORT, joined by the
     * receivers listed (tx), or received on a socket of its own (rx). */
    bool multicast;
    struct in_addr group;
    json_t *receivers; /* tx: ids of the peers it serves */
    bool owns_fd;      /* rx: the flow's fd is its own, to close with it */

    /* rx: the sender's last SR, for latency and for the LSR/DLSR of our RR */
    bool have_sr;
    uint64_t sr_ntp;
    uint32_t sr_rtp;
    int64_t sr_arrival_ns; /* monotonic */
    uint64_t expected_prior, received_prior;

    /* tx: what the receiver's last RR said */
    bool have_rr;
    uint64_t remote_lost;
    double remote_jitter; /* frames */
    double rtt_ms;
    bool have_latency;
    double remote_latency_ms;

    /* Sealed media (keys.c). tx: the key in use and, for a second before
     * it takes over, its successor (both announced); rx: the newest key id
     * announced, and one not yet handed to the media thread. */
    enum aoip_seal_cipher cipher;
    struct aoip_seal_key key, next;
    bool has_next;
    int64_t switch_at_ms; /* tx: next becomes key then */
    int64_t rekey_at_ms;  /* tx: a new key is made then */
    bool has_pending;
    struct aoip_seal_key pending;
};

/* The port of every multicast flow (AES67's default): groups tell them apart. */
#define FLOWS_MULTICAST_PORT 5004

static inline struct flow_meta *flow_meta_of_tx(const struct tx_flow *f)
{
    return f->owner;
}

/* Shared by flows.c and pack.c. */
uint32_t flows_random(void);
bool flows_packet_us_valid(json_int_t us);
bool flows_frame_us_valid(json_int_t us);

bool flow_format_equal(const struct flow_format *a, const struct flow_format *b);
/* The format as flows.want and routes.json carry it: {"encoding": "L24",
 * "packet_us": 1000} or {"encoding": "opus", "bitrate": 64000, "frame_us":
 * 0, "fec": true, "expected_loss": 10}. */
json_t *flow_format_json(const struct flow_format *f);
/* The inverse, every key checked: 0, or -1 for an object that is not one. */
int flow_format_parse(const json_t *o, struct flow_format *out);
/* The format flows from a node of this name are asked in: its [peer.NAME]
 * section's, else the node's own. */
void flows_default_format(const struct node *n, const char *peer_name, struct flow_format *out);
/*
 * The Opus settings of a flow of channels channels in format f: every
 * channel its own mono stream (the channels of a routing matrix have
 * nothing to do with each other, and coupled streams under FEC mix them,
 * opus.h), or for one or two channels to and from other equipment
 * (rfc7587) a plain Opus stream; the frame resolved when f leaves it to
 * the default, as a whole number of frames at the node's rate.
 */
void flows_opus_config(const struct flow_format *f, unsigned channels, bool rfc7587, uint32_t rate,
                       struct aoip_opus_config *out);
/* Channels of format f that fit one packet (at most ENGINE_FLOW_CHANNELS),
 * and for Opus in long frames, that one period can encode. */
unsigned flows_per_packet(const struct node *n, const struct flow_format *f);
/* The silence a new Opus tx flow with frames of frame samples (48 kHz)
 * starts with: a period more than the last one's, modulo the frame, so
 * that flows made together encode in different periods. */
uint32_t flows_opus_stagger(struct node *n, uint32_t frame);
bool flows_list_has(json_t *list, const char *name);
/* "NODE/NAME" -> "NAME" */
const char *flows_channel_of(const json_t *full);
void flows_drop_tx(struct node *n, unsigned i);
void flows_tx_free(struct tx_flow *f);
void flows_rx_free(struct node *n, struct rx_flow *f);
/* A flow's entry in flows.set. */
json_t *flows_set_entry(const struct node *n, const struct tx_flow *f);
/* Send every online peer its flows.set again where it changed (pack.c). */
void flows_announce(struct node *n);

/* keys.c: the keys of sealed flows, on the control thread. */
/* How long a new key is announced before it is used. */
#define KEYS_SWITCH_MS 1000
/* Seal tx flow f (security = sealed), with AES-256-GCM if aes_ok and this CPU has it. */
int keys_tx_start(struct node *n, struct tx_flow *f, bool aes_ok);
/* Replace f's key soon (a receiver left a multicast flow and must not go on listening). */
void keys_tx_rekey_soon(struct tx_flow *f);
/* The "seal" object of a tx flow's flows.set entry; NULL for a plain flow. */
json_t *keys_entry(const struct tx_flow *f);
/* An rx flow from an entry's "seal" (NULL: plain). Returns 0, or -1 (logged) when
 * the flow must be refused. */
int keys_rx_start(struct node *n, const struct peer *p, struct rx_flow *f, json_t *seal);
/* A flows.set entry for a flow already received: take a new key if it has one. */
void keys_rx_update(const struct peer *p, struct rx_flow *f, json_t *seal);
/* Rotations and hand-overs due; returns true when an announcement changed. */
bool keys_tick(struct node *n);

#endif
