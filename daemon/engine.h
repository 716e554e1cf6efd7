/*
 * engine.h: the media plane of a node: its buffers, its flows, its plan,
 * and the real-time thread that runs them once per period.
 *
 * The media thread owns everything marked rt below and touches nothing
 * else. It never allocates, locks, logs or blocks (DESIGN.md): what it
 * needs was allocated by the control thread before it could see it. The two
 * threads meet at exactly four places:
 *  - the plan pointer: the control thread publishes a new immutable plan
 *    (which flows exist), the media thread takes it at a period boundary;
 *  - the retired ring: the media thread hands back the plan it replaced, so
 *    the control thread can free what no plan uses any more;
 *  - the command ring: route changes for the mixer, applied at a period
 *    boundary (the mixer ramps them);
 *  - seqlocked snapshots: per-flow counters and per-channel meter blocks,
 *    published by the media thread, read by the control thread.
 *
 * Buffers. Every source of the node has a slot: one period of float audio.
 * Local sources (input channels, then bus channels, in config order) come
 * first; after them, ENGINE_RX_SLOTS slots for remote channels, which rx
 * flows fill. Every local destination (output channels, then bus channels)
 * has a buffer the mixer fills. A bus's destination buffer is copied into
 * its source slot at the end of the period, so a bus adds one period of
 * latency and a chain of buses can never feed back within a period.
 */
#ifndef AOIPD_ENGINE_H
#define AOIPD_ENGINE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "aoip/bridge.h"
#include "aoip/clock.h"
#include "aoip/conceal.h"
#include "aoip/jitter.h"
#include "aoip/latency.h"
#include "aoip/mixer.h"
#include "aoip/pcm.h"
#include "aoip/resample.h"
#include "aoip/rtp.h"
#include "aoip/seal.h"
#include "codec.h"
#include "config.h"
#include "seqlock.h"
#include "spsc.h"

/* Remote channels one node can hear at once: four MADI streams' worth. */
#define ENGINE_RX_SLOTS 1024
/* Channels in one flow: the jitter buffer's limit, 255, what an Opus multistream
 * flow may carry (at 6 kb/s a channel, 147 fit a packet of 10 ms); PCM flows are
 * held far below it by the MTU (9 channels of L24 at 1 ms). */
#define ENGINE_FLOW_CHANNELS AOIP_JITTER_MAX_CHANNELS
/* RTP payload budget: 1500-byte MTU minus IPv4 (20), UDP (8), RTP (12), with room
 * left for the sealed envelope the security issue adds. */
#define ENGINE_PAYLOAD_MAX 1400
/* The largest datagram read: anything longer is not ours and is counted as malformed. */
#define ENGINE_DATAGRAM_MAX 2048
/* Datagrams read per recvmmsg call, and at most per period (a flood cannot starve the mix). */
#define ENGINE_RECV_BATCH      32
#define ENGINE_RECV_PER_PERIOD 4096
/* Packets sent per period across all flows (256 channels at 125 us is 232). */
#define ENGINE_SEND_PER_PERIOD 1024
/* Crosspoints of the node's mixer. */
#define ENGINE_CROSSPOINTS 16384
/* Periods between meter blocks published (100 ms at 1 ms), and blocks kept (1 s). */
#define ENGINE_METER_BLOCK_MS 100
#define ENGINE_METER_BLOCKS   10

/* The counters of one flow, as published once per period. All 64-bit. */
struct flow_counters {
    uint64_t packets;
    uint64_t bytes;
    uint64_t lost;
    uint64_t late;
    uint64_t duplicates;
    uint64_t reordered;
    uint64_t resyncs;
    uint64_t strays;
    uint64_t concealed; /* frames played with nothing received for them */
    uint64_t bad;       /* rx: payloads that did not fit the flow (wrong size, type) */
    uint64_t jitter;    /* rx: RFC 3550 interarrival jitter, timestamp units */
    int64_t level;      /* rx: buffer level, frames */
    uint64_t target;    /* rx: latency target, frames */
    uint64_t ssrc;      /* rx: the SSRC being played (rtp inputs learn it) */
    /* The media clock against the wall clock, for RTCP and latency: on a tx
     * flow the RTP timestamp of the first frame of the current period and
     * the wall time (CLOCK_REALTIME, ns) it was produced; on an rx flow the
     * timestamp of the first frame played this period and when. */
    uint64_t clock_ts;
    int64_t clock_wall_ns;
    uint64_t seq;           /* tx: next sequence number; rx: highest extended seq seen */
    uint64_t packet_frames; /* frames in the last packet sent or taken */
    uint64_t playing;       /* rx: 1 once a period played audio from packets only */
    int64_t drift_ppb;      /* rx: the sender's clock against ours, parts per billion */
    uint64_t clock_state;   /* rx: enum aoip_clock_state */
    uint64_t
        auth_failures; /* rx, sealed: packets that did not open (forged, damaged, unknown key) */
    uint64_t replays;  /* rx, sealed: packets opened before, or older than the window */
    uint64_t key_id;   /* sealed: the key in use (tx) or last taken (rx) */
    /* rx, Opus: frames rebuilt from the next packet's FEC, concealed by the
     * decoder, and packets that did not decode (concealed too). */
    uint64_t fec_recovered;
    uint64_t plc_concealed;
    uint64_t corrupt;
    /* rx, Opus at a node not at 48 kHz: the last packet's timestamp on the
     * wire and on the node's timeline (clock_ts is on the latter). */
    uint64_t wire_ts;
    uint64_t wire_local_ts;
};

SEQLOCK_DECLARE(flow_snapshot, SEQLOCK_WORDS(struct flow_counters));

/*
 * A new media key on its way from the control thread to the media thread,
 * one at a time: the control thread writes key only while gen equals
 * taken, then bumps gen (release); the media thread, seeing gen move
 * (acquire), uses key and sets taken to gen.
 */
struct key_handover {
    struct aoip_seal_key key;
    _Atomic uint32_t gen;
    _Atomic uint32_t taken;
};

/* Control thread: offer k. Returns false while the last one is not taken. */
static inline bool key_offer(struct key_handover *h, const struct aoip_seal_key *k)
{
    uint32_t gen = atomic_load_explicit(&h->gen, memory_order_relaxed);
    if (atomic_load_explicit(&h->taken, memory_order_acquire) != gen)
        return false;
    h->key = *k;
    atomic_store_explicit(&h->gen, gen + 1, memory_order_release);
    return true;
}

/* Media thread: the key offered and not taken yet, or NULL; key_taken() after use. */
static inline AOIP_RT const struct aoip_seal_key *key_pending(struct key_handover *h)
{
    uint32_t gen = atomic_load_explicit(&h->gen, memory_order_acquire);
    return gen == atomic_load_explicit(&h->taken, memory_order_relaxed) ? NULL : &h->key;
}

static inline AOIP_RT void key_taken(struct key_handover *h)
{
    atomic_store_explicit(&h->taken, atomic_load_explicit(&h->gen, memory_order_relaxed),
                          memory_order_release);
}

/* A flow of RTP into this node: from a peer (on the engine's socket) or a plain RTP input. */
struct rx_flow {
    /* Set by the control thread before the flow is in any plan; read-only after. */
    uint32_t ssrc;       /* the SSRC to accept on the engine's socket */
    bool any_ssrc;       /* a plain RTP input: whatever arrives on its own socket */
    int fd;              /* -1: the engine's socket; else the input's own */
    struct in_addr from; /* accept only from this IPv4 address (INADDR_ANY: anyone) */
    enum cfg_encoding encoding;
    struct opus_rx *opus; /* encoding opus: the decoder (codec.h) */
    uint8_t payload_type;
    unsigned channels;
    uint32_t slots[ENGINE_FLOW_CHANNELS]; /* source slot each channel plays into */
    struct aoip_jitter *jb;
    /* Between the jitter buffer and the slots: concealment of what did not
     * come, then the resampler that plays the sender's clock at ours. in and
     * in_missing hold one pull of the jitter buffer (in_max frames at most). */
    struct aoip_conceal *cc;
    struct aoip_resampler *rs;
    float *in;
    uint8_t *in_missing;
    uint32_t in_max;
    /* latency = auto: the target follows the network's measured delay (NULL: fixed). */
    struct aoip_latency *lat;
    /* A fixed target the control thread asks for (routes may set one), in
     * frames; 0: none. Taken by the media thread at the next period, and
     * over latency = auto; clock recovery slews the level to it. */
    _Atomic uint32_t want_latency;
    uint32_t base_latency; /* the fixed target from the config, frames */
    /* Sealed media (seal.h): set before the flow is in a plan, then the
     * media thread's; new keys come through next. */
    bool sealed;
    struct aoip_seal_rx seal;
    struct key_handover next;
    /* A flow from the same sender already playing, whose timeline this one
     * joins (aoip_jitter_expect) when it enters a plan: it replaces flows of
     * that sender without a step. Used once, in the plan that brings this
     * flow in, which holds align_to too. */
    struct rx_flow *align_to;

    /* rt: the media thread's own. */
    struct aoip_rtp_jitter ia;
    struct aoip_clock clock;
    int64_t ext_ts;        /* the last RTP timestamp taken, extended */
    bool have_ts;          /* ext_ts holds one of the stream being played */
    uint64_t resyncs_seen; /* the jitter buffer's count when the clock last restarted */
    uint64_t clock_epoch;  /* the engine's, when the clock last restarted */
    /* The flow this one replaces, while both play (from the alignment until
     * a plan without it): this one runs at its ratio, in lockstep, and takes
     * over its clock recovery when it goes. */
    struct rx_flow *leader;
    double ratio;   /* what the resampler got this period */
    uint64_t heard; /* frames pulled that were received, not missing */
    struct flow_counters rt;
    bool aligned;

    struct flow_snapshot pub;

    /* Control thread only. */
    int refs;    /* plans that hold it */
    bool dead;   /* out of the node's lists: freed when refs reaches 0 */
    void *owner; /* node bookkeeping */
};

/* A flow of RTP out of this node: to a peer, or a plain RTP output. */
struct tx_flow {
    /* Set by the control thread before the flow is in any plan; read-only after. */
    struct sockaddr_storage to;
    socklen_t to_len;
    enum cfg_encoding encoding;
    struct opus_tx *opus; /* encoding opus (codec.h): packet_frames is its frame at 48 kHz */
    uint8_t payload_type;
    unsigned channels;
    const float *bufs[ENGINE_FLOW_CHANNELS]; /* source slots or destination buffers */
    uint32_t packet_frames;
    /* Opus: the flow starts with this many frames of silence staged, so its
     * frame boundaries, where its encoder runs, fall in another period than
     * those of other flows (flows.c, flows_opus_stagger). */
    uint32_t stagger;
    uint32_t ssrc;
    /* Sealed media, as for struct rx_flow. */
    bool sealed;
    struct aoip_seal_tx seal;
    struct key_handover next;

    /* rt */
    bool started; /* its timestamps have been put on the node's timeline */
    uint16_t seq;
    uint32_t ts;
    uint32_t fill;   /* frames staged towards the next packet */
    float *staging;  /* channels x packet_frames, for packets that span periods */
    bool first_sent; /* the marker bit goes on the first packet */
    struct flow_counters rt;

    struct flow_snapshot pub;

    /* Control thread only. */
    int refs;
    bool dead;
    void *owner;
};

/*
 * What the media thread runs: immutable once published. Rx flows that
 * replace others come before the ones they replace: both write the same
 * slots, and the replaced flow (still complete) must write last.
 */
struct plan {
    unsigned n_rx;
    struct rx_flow **rx;
    unsigned n_tx;
    struct tx_flow **tx;
    /* Slots no flow feeds any more: zeroed when the plan is taken, so no
     * stale period loops in a destination. */
    unsigned n_silence;
    uint32_t *silence;
};

enum mix_op {
    MIX_SET,
    MIX_REMOVE,
};

struct mix_cmd {
    enum mix_op op;
    uint32_t src; /* slot */
    uint32_t dst;
    float gain; /* linear */
    bool mute;
};

/* A local input's period, produced on the media thread. */
enum engine_input_kind {
    INPUT_TONE,
    INPUT_WAV,
    INPUT_RTP, /* its slots are filled by its rx flow */
    /* A sound device that is the node's clock: its callback or thread fills
     * the slots before each period (jack.c, alsa.c). */
    INPUT_DIRECT,
    /* A sound device on a clock of its own: pulled from its bridge
     * (aoip/bridge.h), resampled to the node's clock. */
    INPUT_BRIDGED,
};

struct engine_input {
    enum engine_input_kind kind;
    unsigned channels;
    uint32_t first_slot;
    /* tone: a rotating phasor per channel (cos, sin), renormalized every period */
    double *osc_c, *osc_s, *rot_c, *rot_s;
    float amp;
    bool pulse;
    uint64_t pulse_phase; /* frames since the last pulse */
    /* wav: interleaved frames from the file reader */
    struct spsc *ring;
    float *scratch; /* channels x period, interleaved */
    atomic_ullong underruns;
    /* bridged: the bridge, and the channels' slots (the engine's) */
    struct aoip_bridge *bridge;
    float **bufs;
};

enum engine_output_kind {
    OUTPUT_NULL,
    OUTPUT_WAV,
    OUTPUT_RTP,     /* its tx flow reads the destination buffers */
    OUTPUT_DIRECT,  /* the node's clock device reads them after each period */
    OUTPUT_BRIDGED, /* pushed into its bridge for a device on another clock */
};

struct engine_output {
    enum engine_output_kind kind;
    unsigned channels;
    uint32_t first_dst;
    struct spsc *ring;
    float *scratch;
    atomic_ullong overruns;
    struct aoip_bridge *bridge;
    const float **bufs;
};

/* A meter block: peak and RMS of 100 ms of one channel. */
struct meter_block {
    uint64_t index; /* which block this is (monotonic), 0 = none yet */
    double peak;
    double sum_sq;
    uint64_t frames;
};

SEQLOCK_DECLARE(meter_snapshot, SEQLOCK_WORDS(struct meter_block) * ENGINE_METER_BLOCKS);

struct engine_config {
    uint32_t sample_rate;
    uint32_t period_frames;
    double skew_ppm;
    unsigned local_sources;      /* input channels + bus channels */
    unsigned local_destinations; /* output channels + bus channels */
    unsigned n_bus;              /* bus channels: pairs below */
    const uint32_t *bus_src;     /* source slot of bus channel i */
    const uint32_t *bus_dst;     /* destination of bus channel i */
    uint32_t max_packet_frames;  /* the longest packet any flow may carry */
};

struct sender;

struct engine {
    struct engine_config cfg;
    uint32_t *bus_src, *bus_dst;

    float **src; /* local_sources + ENGINE_RX_SLOTS slots */
    float **dst; /* local_destinations buffers */
    float *audio;
    unsigned n_src;

    struct aoip_mixer *mixer;
    int rtp_fd;

    struct engine_input *inputs;
    unsigned n_inputs;
    struct engine_output *outputs;
    unsigned n_outputs;

    _Atomic(struct plan *) pending;
    struct plan *current; /* rt */
    struct spsc retired;  /* struct plan * */
    struct spsc commands; /* struct mix_cmd */

    /* rt scratch */
    float *decode;         /* ENGINE_FLOW_CHANNELS x max_packet_frames, planar */
    uint8_t *recv_buf;     /* ENGINE_RECV_BATCH x ENGINE_DATAGRAM_MAX */
    uint8_t *send_buf;     /* ENGINE_SEND_PER_PERIOD x ENGINE_DATAGRAM_MAX */
    struct sender *sender; /* the period's outgoing packets, for one sendmmsg */
    uint64_t period_count; /* rt */
    /* The media clock (rt): the period of frame f begins at clock_t0_ns +
     * f * frame_ns on the monotonic clock; wall_to_mono turns a packet's
     * arrival stamp (CLOCK_REALTIME) into that time, refreshed every period.
     * clock_epoch moves when a stall re-anchors the clock, which restarts
     * every flow's clock recovery. */
    int64_t clock_t0_ns;
    double frame_ns;
    int64_t wall_to_mono;
    uint64_t clock_epoch;
    int64_t period_ns; /* rt: when this period falls on the media clock (monotonic ns) */
    double read_at;    /* when the sockets were last drained, in frames of the media clock */
    /* Every tx flow's RTP timestamps are this plus the node's frame count: one
     * timeline for all, so a receiver can switch between flows of this node
     * sample-aligned. Random, as RFC 3550 wants timestamps to start. */
    uint32_t ts_base;

    /* Meters: one snapshot per local source, then per local destination. */
    struct meter_snapshot *meters;
    struct meter_block *meter_acc;  /* rt: the block being filled, per channel */
    struct meter_block *meter_hist; /* rt: the last blocks, per channel */

    /* Node-wide counters, media thread writes, control thread reads. */
    atomic_ullong dropped_malformed;
    atomic_ullong dropped_unknown;
    atomic_ullong dropped_payload;
    atomic_ullong send_errors;
    atomic_ullong late_wakeups; /* periods the thread woke more than a period late */
    atomic_ullong periods;
    atomic_ullong max_late_ns;  /* the latest a period began, since start */
    atomic_ullong max_cycle_ns; /* the longest a period took to run, since start */

    atomic_bool running;
    pthread_t thread;
    bool started;
    bool external; /* a sound device's callback runs the periods (engine_tick) */
    bool ticked;   /* rt: the first external period has run */
};

/* Allocate everything; rtp_fd is the node's bound, non-blocking UDP socket. */
int engine_init(struct engine *e, const struct engine_config *cfg, int rtp_fd);
/* Inputs and outputs, before engine_start: arrays the engine keeps. */
void engine_set_io(struct engine *e, struct engine_input *inputs, unsigned n_inputs,
                   struct engine_output *outputs, unsigned n_outputs);
int engine_start(struct engine *e);
/*
 * A node whose media clock is a sound device's: no thread of the engine's
 * own. The device's real-time callback calls engine_tick once a period of
 * period_frames, with when that period began on the monotonic clock (its
 * callback's time, or less what it holds of the period's audio after it);
 * the media clock follows those times (smoothed over a few hundred
 * periods), so packets are timed against the device.
 */
void engine_start_external(struct engine *e);
AOIP_RT void engine_tick(struct engine *e, int64_t start);
/* Make the calling thread real-time (SCHED_FIFO at the media thread's priority), if allowed. */
void engine_realtime(void);
/* Stop the thread (returns within a period) and free what the engine owns. */
void engine_stop(struct engine *e);
void engine_close(struct engine *e);

/*
 * Publish a plan. Returns 0, or -EBUSY when the previous one has not been
 * taken yet (try again after engine_collect).
 */
int engine_publish(struct engine *e, struct plan *p);
/* Collect plans the media thread has let go of; calls done(p) for each. */
void engine_collect(struct engine *e, void (*done)(struct plan *p, void *arg), void *arg);
/* Queue a mixer command; false when the ring is full (try again later). */
bool engine_command(struct engine *e, const struct mix_cmd *cmd);

/* Read a flow's published counters. */
void rx_flow_read(struct rx_flow *f, struct flow_counters *out);
void tx_flow_read(struct tx_flow *f, struct flow_counters *out);

/*
 * Meter of local channel i (sources first, then destinations): peak and
 * sum of squares over the blocks newer than *since (at most the last
 * second); *since is advanced to the newest block read.
 */
void engine_meter(struct engine *e, unsigned i, uint64_t *since, double *peak, double *rms);

/* Wall clock (CLOCK_REALTIME) and monotonic clock in ns. */
int64_t engine_wall_ns(void);
int64_t engine_mono_ns(void);

#endif
