/*
 * engine.c: the media thread and the control thread's handles on it.
 *
 * One period of the node, in order (engine_cycle):
 *   take a new plan and apply mixer commands (period boundary: no tearing);
 *   read every datagram that arrived into the jitter buffers;
 *   render local inputs into their source slots; pull every rx flow into
 *   its slots; mix sources into destinations; hand outputs their period;
 *   packetize and send every tx flow; copy buses to their source slots;
 *   publish meters and counters.
 * The thread sleeps on the media clock between periods: with no sound card
 * that is the monotonic clock, stretched by clock_skew_ppm, so two daemons
 * on one machine really run at different rates.
 *
 * Everything called from engine_main down is rt (see AOIP_RT): syscalls
 * here are the non-blocking recvmmsg/sendmmsg with MSG_DONTWAIT, the clock
 * reads, and the one sleep that is the clock itself.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "aoip/pcm.h"
#include "engine.h"

/* SCHED_FIFO priority: above JACK clients (their default is 10 below the server's 70-80
 * range would be too close to the sound card's IRQ threads), below the kernel's own. */
#define ENGINE_RT_PRIORITY 60
/* The media thread's stack: its deepest frames hold a period's worth of recvmmsg
 * headers (a few kB); 512 kB leaves room for the sanitizers' redzones. */
#define ENGINE_STACK_SIZE (512 * 1024)
/* After a stall this many periods long (a debugger, a suspended VM) the clock is
 * re-anchored rather than caught up with a burst of periods. */
#define ENGINE_MAX_CATCH_UP 50

int64_t engine_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t engine_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- rt: one period ---------------------------------------------------- */

static AOIP_RT bool plan_has_rx(const struct plan *p, const struct rx_flow *f)
{
    for (unsigned i = 0; i < p->n_rx; i++)
        if (p->rx[i] == f)
            return true;
    return false;
}

static AOIP_RT void take_plan(struct engine *e)
{
    struct plan *p = atomic_load_explicit(&e->pending, memory_order_acquire);

    if (!p)
        return;
    /* A flow whose leader leaves with this plan carries on with the leader's
     * clock recovery, before the control thread may free the leader. */
    for (unsigned i = 0; i < p->n_rx; i++) {
        struct rx_flow *f = p->rx[i];
        if (f->leader && !plan_has_rx(p, f->leader)) {
            f->clock = f->leader->clock;
            f->leader = NULL;
        }
    }
    /* The old plan must find its way back to be freed; if the ring is full the
     * swap waits a period (the control thread drains it every few ms). */
    if (e->current && !spsc_push(&e->retired, &e->current))
        return;
    atomic_store_explicit(&e->pending, NULL, memory_order_release);
    e->current = p;
    for (unsigned i = 0; i < p->n_silence; i++)
        memset(e->src[p->silence[i]], 0, e->cfg.period_frames * sizeof(float));
    /* New flows join the timeline of the flows they replace before any of
     * their packets is taken: this period both play the same frames. */
    for (unsigned i = 0; i < p->n_rx; i++) {
        struct rx_flow *f = p->rx[i];
        if (!f->align_to || f->aligned)
            continue;
        struct aoip_jitter_stats js;
        aoip_jitter_get_stats(f->align_to->jb, &js);
        if (js.received > 0) {
            aoip_jitter_expect(f->jb, f->ssrc, js.next_timestamp);
            /* Same frames pulled, same resampling position and ratio: the
             * two play the same samples, and the switch is silent. */
            aoip_resampler_follow(f->rs, f->align_to->rs);
            if (f->opus && f->align_to->opus)
                opus_rx_follow(f->opus, f->align_to->opus);
            else if (f->opus)
                opus_rx_follow_pcm(f->opus, js.next_timestamp);
            f->clock = f->align_to->clock;
            f->ratio = f->align_to->ratio;
            f->leader = f->align_to;
        }
        f->aligned = true;
    }
}

static AOIP_RT void apply_commands(struct engine *e)
{
    struct mix_cmd c;

    while (spsc_pop(&e->commands, &c)) {
        if (c.op == MIX_SET)
            aoip_mixer_set(e->mixer, c.src, c.dst, c.gain, c.mute);
        else
            aoip_mixer_remove(e->mixer, c.src, c.dst);
    }
}

static AOIP_RT struct rx_flow *find_rx(const struct plan *p, uint32_t ssrc)
{
    for (unsigned i = 0; p && i < p->n_rx; i++)
        if (p->rx[i]->fd < 0 && p->rx[i]->ssrc == ssrc)
            return p->rx[i];
    return NULL;
}

/* Where a wall-clock instant falls on the media clock, in frames. */
static AOIP_RT double local_frames(const struct engine *e, int64_t wall_ns)
{
    return (double)(wall_ns + e->wall_to_mono - e->clock_t0_ns) / e->frame_ns;
}

/* Clock recovery starts over when the stream it followed was replaced (a
 * resync of the jitter buffer) or when the media clock was re-anchored. */
static AOIP_RT void restart_clock_on_resync(const struct engine *e, struct rx_flow *f)
{
    struct aoip_jitter_stats js;

    aoip_jitter_get_stats(f->jb, &js);
    if (js.resyncs == f->resyncs_seen && f->clock_epoch == e->clock_epoch)
        return;
    f->resyncs_seen = js.resyncs;
    f->clock_epoch = e->clock_epoch;
    aoip_clock_restart(&f->clock);
    if (f->lat)
        aoip_latency_reset(f->lat);
}

/*
 * Open a sealed packet in place. Returns the plaintext payload's length,
 * or -1 when it must be dropped (counted by the flow's seal state; only a
 * packet that opened carries a sample to the jitter buffer).
 */
static AOIP_RT long open_sealed(struct rx_flow *f, uint8_t *buf, size_t len,
                                const struct aoip_rtp_packet *pkt)
{
    const struct aoip_seal_key *k = key_pending(&f->next);
    if (k) {
        aoip_seal_rx_rekey(&f->seal, k);
        key_taken(&f->next);
    }
    if (pkt->padding_len) {
        /* No padding in a sealed packet (seal.h): damaged or forged. */
        f->seal.malformed++;
        return -1;
    }
    int rc = aoip_seal_rx_open(&f->seal, buf, len, (size_t)(pkt->payload - buf));
    return rc < 0 ? -1 : rc;
}

/* One datagram: for flow f when it came on f's own socket, else found by SSRC. */
static AOIP_RT void take_datagram(struct engine *e, struct rx_flow *f, uint8_t *buf, size_t len,
                                  const struct sockaddr_storage *from, int64_t arrival_ns)
{
    struct aoip_rtp_packet pkt;

    if (len > ENGINE_DATAGRAM_MAX || aoip_rtp_parse(&pkt, buf, len) != 0) {
        atomic_fetch_add_explicit(&e->dropped_malformed, 1, memory_order_relaxed);
        return;
    }
    /* A flow's own socket (a plain RTP input, a multicast group) may carry
     * other streams too: unless it takes any SSRC, it takes only its own. */
    if (!f)
        f = find_rx(e->current, pkt.ssrc);
    else if (!f->any_ssrc && pkt.ssrc != f->ssrc)
        f = NULL;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)from;
    if (!f || (f->from.s_addr != htonl(INADDR_ANY) &&
               (from->ss_family != AF_INET || sin->sin_addr.s_addr != f->from.s_addr))) {
        atomic_fetch_add_explicit(&e->dropped_unknown, 1, memory_order_relaxed);
        return;
    }

    if (f->sealed) {
        long plain = open_sealed(f, buf, len, &pkt);
        f->rt.auth_failures =
            f->seal.auth_failures + f->seal.unknown_key + f->seal.malformed + f->seal.wrong_ssrc;
        f->rt.replays = f->seal.replays;
        if (plain < 0)
            return;
        pkt.payload_len = (size_t)plain;
        f->rt.key_id = f->seal.cur.id;
    }
    int verdict;
    size_t frames;
    if (f->opus) {
        /* Whatever its bytes, an Opus packet is one frame: one that does not
         * decode is counted and concealed by the decoder. */
        if (pkt.payload_type != f->payload_type || pkt.payload_len == 0) {
            f->rt.bad++;
            atomic_fetch_add_explicit(&e->dropped_payload, 1, memory_order_relaxed);
            return;
        }
        verdict = opus_rx_take(f->opus, f->jb, &pkt, pkt.payload, pkt.payload_len);
        /* From here on the packet lies on the node's timeline. */
        pkt.timestamp = f->opus->local_ts;
        frames = f->opus->local_frame;
        f->rt.wire_ts = f->opus->wire_ts;
        f->rt.wire_local_ts = f->opus->local_ts;
        struct aoip_opus_decoder_stats ds;
        opus_rx_stats(f->opus, &ds);
        f->rt.fec_recovered = ds.recovered;
        f->rt.plc_concealed = ds.concealed;
        f->rt.corrupt = ds.corrupt;
    } else {
        size_t frame_bytes = (size_t)f->encoding * f->channels;
        frames = pkt.payload_len / frame_bytes;
        if (pkt.payload_type != f->payload_type || pkt.payload_len % frame_bytes != 0 ||
            frames == 0 || frames > e->cfg.max_packet_frames) {
            f->rt.bad++;
            atomic_fetch_add_explicit(&e->dropped_payload, 1, memory_order_relaxed);
            return;
        }
        float *planes[ENGINE_FLOW_CHANNELS];
        for (unsigned c = 0; c < f->channels; c++)
            planes[c] = e->decode + (size_t)c * e->cfg.max_packet_frames;
        aoip_pcm_decode(cfg_pcm_of(f->encoding), planes, pkt.payload, f->channels, frames);
        verdict = aoip_jitter_put(f->jb, pkt.ssrc, pkt.seq, pkt.timestamp,
                                  (const float *const *)planes, (uint32_t)frames);
    }
    if (verdict == AOIP_JITTER_STORED || verdict == AOIP_JITTER_LATE ||
        verdict == AOIP_JITTER_RESYNC) {
        /* Interarrival jitter and clock recovery follow the stream being
         * played, and start again with it. */
        if (verdict == AOIP_JITTER_RESYNC || pkt.ssrc != (uint32_t)f->rt.ssrc) {
            aoip_rtp_jitter_init(&f->ia, e->cfg.sample_rate);
            f->have_ts = false;
        }
        aoip_rtp_jitter_update(&f->ia, arrival_ns, pkt.timestamp);
        f->rt.ssrc = pkt.ssrc;
        restart_clock_on_resync(e, f);
        f->ext_ts = f->have_ts ? aoip_rtp_ts_extend(f->ext_ts, pkt.timestamp) : pkt.timestamp;
        f->have_ts = true;
        double at = local_frames(e, arrival_ns);
        aoip_clock_arrival(&f->clock, f->ext_ts, at);
        if (f->lat)
            aoip_latency_arrival(f->lat, f->ext_ts, at);
    }
    f->rt.packets++;
    f->rt.bytes += len;
    f->rt.packet_frames = frames;
}

/* Read what a socket has, in batches, without waiting. */
static AOIP_RT void receive(struct engine *e, int fd, struct rx_flow *own)
{
    struct mmsghdr msgs[ENGINE_RECV_BATCH];
    struct iovec iov[ENGINE_RECV_BATCH];
    struct sockaddr_storage from[ENGINE_RECV_BATCH];
    /* Room for one struct timespec control message per datagram. */
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl[ENGINE_RECV_BATCH];
    unsigned total = 0;

    while (total < ENGINE_RECV_PER_PERIOD) {
        for (unsigned i = 0; i < ENGINE_RECV_BATCH; i++) {
            iov[i].iov_base = e->recv_buf + (size_t)i * ENGINE_DATAGRAM_MAX;
            /* One byte more than the largest datagram taken, to see one that is too long. */
            iov[i].iov_len = ENGINE_DATAGRAM_MAX;
            msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
                                               .msg_namelen = sizeof(from[i]),
                                               .msg_iov = &iov[i],
                                               .msg_iovlen = 1,
                                               .msg_control = ctl[i].buf,
                                               .msg_controllen = sizeof(ctl[i].buf) };
        }
        int n = recvmmsg(fd, msgs, ENGINE_RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        int64_t fallback = engine_wall_ns();
        for (int i = 0; i < n; i++) {
            int64_t arrival = fallback;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
                 c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                    arrival = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                }
            }
            size_t len = msgs[i].msg_len;
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                len = ENGINE_DATAGRAM_MAX + 1;
            take_datagram(e, own, iov[i].iov_base, len, &from[i], arrival);
        }
        total += (unsigned)n;
        if (n < ENGINE_RECV_BATCH)
            return;
    }
}

static AOIP_RT void render_tone(struct engine *e, struct engine_input *in)
{
    uint32_t frames = e->cfg.period_frames;

    for (unsigned ch = 0; ch < in->channels; ch++) {
        float *out = e->src[in->first_slot + ch];
        if (in->pulse) {
            memset(out, 0, frames * sizeof(float));
            continue;
        }
        double c = in->osc_c[ch], s = in->osc_s[ch];
        const double rc = in->rot_c[ch], rs = in->rot_s[ch];
        for (uint32_t i = 0; i < frames; i++) {
            out[i] = (float)(in->amp * s);
            double nc = c * rc - s * rs;
            s = s * rc + c * rs;
            c = nc;
        }
        /* The phasor's length drifts by rounding; hold it at 1 once a period. */
        double norm = 1.0 / sqrt(c * c + s * s);
        in->osc_c[ch] = c * norm;
        in->osc_s[ch] = s * norm;
    }
    if (in->pulse) {
        /* One pulse a second on every channel, at the level of the tone. */
        for (uint32_t i = 0; i < frames; i++) {
            if (in->pulse_phase == 0)
                for (unsigned ch = 0; ch < in->channels; ch++)
                    e->src[in->first_slot + ch][i] = in->amp;
            in->pulse_phase = (in->pulse_phase + 1) % e->cfg.sample_rate;
        }
    }
}

static AOIP_RT void render_wav(struct engine *e, struct engine_input *in)
{
    uint32_t frames = e->cfg.period_frames;
    size_t got = spsc_read(in->ring, in->scratch, frames);

    if (got < frames) {
        memset(in->scratch + got * in->channels, 0, (frames - got) * in->channels * sizeof(float));
        atomic_fetch_add_explicit(&in->underruns, 1, memory_order_relaxed);
    }
    for (unsigned ch = 0; ch < in->channels; ch++) {
        float *out = e->src[in->first_slot + ch];
        for (uint32_t i = 0; i < frames; i++)
            out[i] = in->scratch[i * in->channels + ch];
    }
}

static AOIP_RT void render_inputs(struct engine *e)
{
    for (unsigned i = 0; i < e->n_inputs; i++) {
        struct engine_input *in = &e->inputs[i];
        if (in->kind == INPUT_TONE)
            render_tone(e, in);
        else if (in->kind == INPUT_WAV)
            render_wav(e, in);
        else if (in->kind == INPUT_BRIDGED)
            aoip_bridge_pull(in->bridge, in->bufs, e->cfg.period_frames, e->period_ns);
    }
}

/* Clock recovery sets the flow's resampling ratio for this period from its buffer level. */
static AOIP_RT void steer_flow(struct engine *e, struct rx_flow *f, double now)
{
    struct aoip_jitter_stats js;

    restart_clock_on_resync(e, f);
    uint32_t want = atomic_load_explicit(&f->want_latency, memory_order_relaxed);
    if (want || !f->lat) {
        aoip_jitter_set_latency(f->jb, want ? want : f->base_latency);
    } else {
        /* The buffer takes a new target for where a resync places playout
         * and for its settling; clock recovery slews the level there. */
        uint32_t target = (uint32_t)lround(aoip_latency_update(f->lat, now));
        aoip_jitter_set_latency(f->jb, target);
    }
    if (f->leader) {
        f->ratio = f->leader->ratio;
    } else {
        aoip_jitter_get_stats(f->jb, &js);
        if (js.received > 0)
            f->ratio = aoip_clock_update_at(&f->clock, (double)js.level_frames,
                                            (double)js.latency_frames, e->read_at);
    }
    aoip_resampler_set_ratio(f->rs, f->ratio);
}

/*
 * One period of an rx flow: the jitter buffer gives the input frames the
 * ratio needs, concealment covers what did not come, and the resampler
 * plays them into the flow's slots at our clock.
 */
static AOIP_RT void pull_flow(struct engine *e, struct rx_flow *f, int64_t wall)
{
    float *outs[ENGINE_FLOW_CHANNELS], *ins[ENGINE_FLOW_CHANNELS];
    uint32_t period = e->cfg.period_frames;
    struct aoip_jitter_stats js;

    for (unsigned c = 0; c < f->channels; c++) {
        outs[c] = e->src[f->slots[c]];
        ins[c] = f->in + (size_t)c * f->in_max;
    }
    uint32_t n = aoip_resampler_needed(f->rs, period);
    uint32_t missing = aoip_jitter_pull(f->jb, ins, f->in_missing, n);
    /* Playing: what comes out of the resampler is made of received audio
     * only, all across its filter, not the silence before the stream. */
    f->heard += n - missing;
    if (f->heard >= 2 * (uint64_t)lround(aoip_resampler_delay(f->rs)) + 2 * (uint64_t)n)
        f->rt.playing = 1;
    aoip_conceal_process(f->cc, ins, f->in_missing, n);
    aoip_resampler_process(f->rs, (const float *const *)ins, n, outs, period);

    aoip_jitter_get_stats(f->jb, &js);
    const struct aoip_clock *clock = f->leader ? &f->leader->clock : &f->clock;
    f->rt.lost = js.lost;
    /* Opus: a packet that came after the decoder had decided its frame is late too. */
    f->rt.late = js.late + (f->opus ? f->opus->late : 0);
    f->rt.duplicates = js.duplicates;
    f->rt.reordered = js.reordered;
    f->rt.resyncs = js.resyncs;
    f->rt.strays = js.strays;
    f->rt.concealed = js.missing_frames;
    /* The level as clock recovery holds it (the packet sawtooth taken out),
     * once it has one; the buffer's own before. */
    f->rt.level = clock->primed ? llround(clock->level) : js.level_frames;
    f->rt.target = js.latency_frames;
    f->rt.jitter = aoip_rtp_jitter_get(&f->ia);
    f->rt.seq = js.highest_seq;
    f->rt.drift_ppb = llround(aoip_clock_ppm(clock) * 1000.0);
    f->rt.clock_state = aoip_clock_get_state(clock);
    /* The frame heard first this period left the buffer n frames ago and
     * sat in the resampler's filter for its delay (and an Opus flow's
     * conversion to the node's rate in its own, before the buffer). */
    double delay = aoip_resampler_delay(f->rs) + (f->opus ? opus_rx_delay(f->opus) : 0.0);
    f->rt.clock_ts = (uint32_t)(js.next_timestamp - n - (uint32_t)lround(delay));
    f->rt.clock_wall_ns = wall;
}

static AOIP_RT void pull_rx(struct engine *e, const struct plan *p, int64_t wall)
{
    double now = local_frames(e, wall);

    /* Leaders come after the flows that follow them: steer them first. */
    for (unsigned i = p ? p->n_rx : 0; i-- > 0;)
        steer_flow(e, p->rx[i], now);
    for (unsigned i = 0; p && i < p->n_rx; i++)
        pull_flow(e, p->rx[i], wall);
}

static AOIP_RT void render_outputs(struct engine *e)
{
    uint32_t frames = e->cfg.period_frames;

    for (unsigned o = 0; o < e->n_outputs; o++) {
        struct engine_output *out = &e->outputs[o];
        if (out->kind == OUTPUT_BRIDGED)
            aoip_bridge_push(out->bridge, out->bufs, frames, e->period_ns);
        if (out->kind != OUTPUT_WAV)
            continue;
        for (unsigned ch = 0; ch < out->channels; ch++) {
            const float *d = e->dst[out->first_dst + ch];
            for (uint32_t i = 0; i < frames; i++)
                out->scratch[i * out->channels + ch] = d[i];
        }
        if (spsc_write(out->ring, out->scratch, frames) < frames)
            atomic_fetch_add_explicit(&out->overruns, 1, memory_order_relaxed);
    }
}

struct sender {
    struct mmsghdr msgs[ENGINE_SEND_PER_PERIOD];
    struct iovec iov[ENGINE_SEND_PER_PERIOD];
    unsigned n;
};

static AOIP_RT void flush(struct engine *e, struct sender *s)
{
    unsigned done = 0;

    while (done < s->n) {
        int n = sendmmsg(e->rtp_fd, s->msgs + done, s->n - done, MSG_DONTWAIT);
        if (n <= 0) {
            /* A full socket buffer or an unreachable peer: count, never wait. */
            atomic_fetch_add_explicit(&e->send_errors, s->n - done, memory_order_relaxed);
            break;
        }
        done += (unsigned)n;
    }
    s->n = 0;
}

/* A packet that could not be made: counted, and the timeline goes on
 * without it (receivers conceal the frames). Never sent plain or short. */
static AOIP_RT void skip_packet(struct engine *e, struct tx_flow *f)
{
    atomic_fetch_add_explicit(&e->send_errors, 1, memory_order_relaxed);
    f->seq++;
    f->ts += f->packet_frames;
}

/* Build one packet of flow f from planes (one pointer per channel) into the batch. */
static AOIP_RT void emit(struct engine *e, struct sender *s, struct tx_flow *f,
                         const float *const *planes)
{
    if (s->n == ENGINE_SEND_PER_PERIOD)
        flush(e, s);
    uint8_t *wire = e->send_buf + (size_t)s->n * ENGINE_DATAGRAM_MAX;
    struct aoip_rtp_packet h = { .marker = !f->first_sent,
                                 .payload_type = f->payload_type,
                                 .seq = f->seq,
                                 .timestamp = f->ts,
                                 .ssrc = f->ssrc };
    int hl = aoip_rtp_write_header(&h, wire, ENGINE_DATAGRAM_MAX);
    size_t pl;
    if (f->opus) {
        int got = aoip_opus_encode(f->opus->enc, wire + hl, ENGINE_PAYLOAD_MAX, planes);
        if (got < 0) {
            skip_packet(e, f);
            return;
        }
        pl = (size_t)got;
    } else {
        pl = aoip_pcm_bytes(cfg_pcm_of(f->encoding), f->channels, f->packet_frames);
        aoip_pcm_encode(cfg_pcm_of(f->encoding), wire + hl, planes, f->channels, f->packet_frames);
    }
    size_t len = (size_t)hl + pl;
    if (f->sealed) {
        int sealed = aoip_seal_tx_seal(&f->seal, wire, (size_t)hl, pl, ENGINE_DATAGRAM_MAX);
        if (sealed < 0) {
            /* Cannot happen with the sizes the config allows. */
            skip_packet(e, f);
            return;
        }
        len = (size_t)sealed;
    }

    s->iov[s->n] = (struct iovec){ .iov_base = wire, .iov_len = len };
    s->msgs[s->n].msg_hdr = (struct msghdr){
        .msg_name = &f->to, .msg_namelen = f->to_len, .msg_iov = &s->iov[s->n], .msg_iovlen = 1
    };
    s->n++;
    f->first_sent = true;
    f->seq++;
    f->ts += f->packet_frames;
    f->rt.packets++;
    f->rt.bytes += len;
}

static AOIP_RT void send_flow(struct engine *e, struct sender *s, struct tx_flow *f, int64_t wall)
{
    uint32_t frames = e->cfg.period_frames, off = 0;
    const float *planes[ENGINE_FLOW_CHANNELS];

    if (!f->started) {
        f->ts = e->ts_base + (uint32_t)(e->period_count * frames);
        /* Opus from a node at another rate: its timestamps count 48 kHz. */
        if (f->opus && f->opus->rc)
            f->ts = (uint32_t)((uint64_t)f->ts * AOIP_OPUS_RATE / e->cfg.sample_rate);
        f->fill = 0;
        if (f->stagger) {
            /* Silence in front: the frames still go out at their own timestamps. */
            float *staging = f->opus->rc ? f->opus->pcm : f->staging;
            size_t line = f->opus->rc ? f->opus->cap : f->packet_frames;
            for (unsigned c = 0; c < f->channels; c++)
                memset(staging + c * line, 0, f->stagger * sizeof(float));
            *(f->opus->rc ? &f->opus->fill : &f->fill) = f->stagger;
            f->ts -= f->stagger;
        }
        f->started = true;
    }
    if (f->sealed) {
        /* A new key: sealed with from this period's first packet on. */
        const struct aoip_seal_key *k = key_pending(&f->next);
        if (k) {
            aoip_seal_tx_rekey(&f->seal, k);
            key_taken(&f->next);
        }
        f->rt.key_id = f->seal.key.id;
    }
    f->rt.clock_ts = f->ts + f->fill;
    f->rt.clock_wall_ns = wall;
    if (f->opus && f->opus->rc) {
        /* This period's first frame comes out of the conversion after the
         * frames staged, and its filter's delay later. */
        struct opus_tx *o = f->opus;
        f->rt.clock_ts = f->ts + o->fill + (uint32_t)lround(o->delay);
        opus_tx_push(o, f->bufs, frames);
        while (opus_tx_staged(o, planes)) {
            emit(e, s, f, planes);
            opus_tx_sent(o);
        }
        off = frames;
    }
    while (off < frames) {
        uint32_t n = f->packet_frames - f->fill;
        if (n > frames - off)
            n = frames - off;
        if (f->fill == 0 && n == f->packet_frames) {
            /* The whole packet lies in this period: encode straight from the buffers. */
            for (unsigned c = 0; c < f->channels; c++)
                planes[c] = f->bufs[c] + off;
            emit(e, s, f, planes);
        } else {
            for (unsigned c = 0; c < f->channels; c++)
                memcpy(f->staging + (size_t)c * f->packet_frames + f->fill, f->bufs[c] + off,
                       n * sizeof(float));
            f->fill += n;
            if (f->fill == f->packet_frames) {
                for (unsigned c = 0; c < f->channels; c++)
                    planes[c] = f->staging + (size_t)c * f->packet_frames;
                emit(e, s, f, planes);
                f->fill = 0;
            }
        }
        off += n;
    }
    f->rt.seq = f->seq;
    f->rt.ssrc = f->ssrc;
    f->rt.packet_frames = f->packet_frames;
}

static AOIP_RT void send_tx(struct engine *e, const struct plan *p, int64_t wall)
{
    struct sender *s = e->sender;

    s->n = 0;
    for (unsigned i = 0; p && i < p->n_tx; i++)
        send_flow(e, s, p->tx[i], wall);
    flush(e, s);
}

static AOIP_RT void copy_buses(struct engine *e)
{
    for (unsigned b = 0; b < e->cfg.n_bus; b++)
        memcpy(e->src[e->bus_src[b]], e->dst[e->bus_dst[b]], e->cfg.period_frames * sizeof(float));
}

static AOIP_RT void publish_meters(struct engine *e)
{
    uint64_t block =
        e->period_count * e->cfg.period_frames * 1000 / e->cfg.sample_rate / ENGINE_METER_BLOCK_MS;
    uint64_t prev = (e->period_count - 1) * e->cfg.period_frames * 1000 / e->cfg.sample_rate /
                    ENGINE_METER_BLOCK_MS;
    unsigned nsrc = e->cfg.local_sources, n = nsrc + e->cfg.local_destinations;

    if (block == prev)
        return;
    for (unsigned i = 0; i < n; i++) {
        struct aoip_meter m;
        if (i < nsrc)
            aoip_mixer_source_meter(e->mixer, i, &m);
        else
            aoip_mixer_destination_meter(e->mixer, i - nsrc, &m);
        struct meter_block *hist = e->meter_hist + (size_t)i * ENGINE_METER_BLOCKS;
        memmove(hist + 1, hist, (ENGINE_METER_BLOCKS - 1) * sizeof(*hist));
        hist[0] = (struct meter_block){
            .index = block, .peak = m.peak, .sum_sq = m.sum_sq, .frames = m.frames
        };
        seqlock_write(&e->meters[i].seq, e->meters[i].w, hist,
                      SEQLOCK_WORDS(struct meter_block) * ENGINE_METER_BLOCKS);
    }
}

static AOIP_RT void publish_flows(const struct plan *p)
{
    for (unsigned i = 0; p && i < p->n_rx; i++)
        seqlock_write(&p->rx[i]->pub.seq, p->rx[i]->pub.w, &p->rx[i]->rt,
                      SEQLOCK_WORDS(struct flow_counters));
    for (unsigned i = 0; p && i < p->n_tx; i++)
        seqlock_write(&p->tx[i]->pub.seq, p->tx[i]->pub.w, &p->tx[i]->rt,
                      SEQLOCK_WORDS(struct flow_counters));
}

static AOIP_RT void engine_cycle(struct engine *e)
{
    int64_t wall = engine_wall_ns();

    e->wall_to_mono = engine_mono_ns() - wall;
    /* This period's place on the media clock, not when the thread woke: a
     * bridge's clock recovery reads the node's clock from it, and a late
     * wake-up (or the periods run back to back after one) is no drift. */
    e->period_ns = e->clock_t0_ns +
                   (int64_t)llround((double)e->period_count * e->cfg.period_frames * e->frame_ns);

    take_plan(e);
    apply_commands(e);
    const struct plan *p = e->current;

    receive(e, e->rtp_fd, NULL);
    for (unsigned i = 0; p && i < p->n_rx; i++)
        if (p->rx[i]->fd >= 0)
            receive(e, p->rx[i]->fd, p->rx[i]);
    /* What arrived after this was not read: the buffers' levels stand as of now. */
    e->read_at = local_frames(e, engine_wall_ns());

    render_inputs(e);
    pull_rx(e, p, wall);
    aoip_mixer_process(e->mixer, (const float *const *)e->src, e->dst, e->cfg.period_frames);
    render_outputs(e);
    send_tx(e, p, wall);
    copy_buses(e);

    e->period_count++;
    publish_meters(e);
    publish_flows(p);
    atomic_fetch_add_explicit(&e->periods, 1, memory_order_relaxed);
}

void engine_realtime(void)
{
    struct sched_param sp = { .sched_priority = ENGINE_RT_PRIORITY };
    /* Without CAP_SYS_NICE or an rtprio limit this fails, and the thread runs at
     * normal priority: fine on an idle machine, audible on a loaded one. */
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

/*
 * A period that began late ns after it was due: counted when over a
 * period, and the latest kept. Only the media thread writes these: a plain
 * compare, then a relaxed store.
 */
static AOIP_RT void note_late(struct engine *e, int64_t late, double period_ns)
{
    if (late > (int64_t)period_ns)
        atomic_fetch_add_explicit(&e->late_wakeups, 1, memory_order_relaxed);
    if (late > 0 && (uint64_t)late > atomic_load_explicit(&e->max_late_ns, memory_order_relaxed))
        atomic_store_explicit(&e->max_late_ns, (uint64_t)late, memory_order_relaxed);
}

/* A period whose run began at start (mono ns) is done: the longest run kept. */
static AOIP_RT void note_took(struct engine *e, int64_t start)
{
    uint64_t took = (uint64_t)(engine_mono_ns() - start);
    if (took > atomic_load_explicit(&e->max_cycle_ns, memory_order_relaxed))
        atomic_store_explicit(&e->max_cycle_ns, took, memory_order_relaxed);
}

static void *engine_main(void *arg)
{
    struct engine *e = arg;
    double period_ns =
        (double)e->cfg.period_frames * 1e9 / e->cfg.sample_rate / (1.0 + e->cfg.skew_ppm * 1e-6);
    int64_t t0 = engine_mono_ns();
    uint64_t n = 0;

    e->clock_t0_ns = t0;
    e->frame_ns = period_ns / e->cfg.period_frames;
    engine_realtime();
    while (atomic_load_explicit(&e->running, memory_order_acquire)) {
        n++;
        int64_t due = t0 + (int64_t)llround((double)n * period_ns);
        struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        int64_t start = engine_mono_ns(), late = start - due;
        if (late > ENGINE_MAX_CATCH_UP * (int64_t)period_ns) {
            t0 += late;
            e->clock_t0_ns = t0;
            e->clock_epoch++;
        }
        note_late(e, late, period_ns);
        engine_cycle(e);
        note_took(e, start);
    }
    return NULL;
}

/*
 * How slowly an external clock's anchor follows the callbacks: each period
 * moves it by this share of how far the period began from where the anchor
 * put it. The callbacks of a device jitter by a fraction of a period; the
 * device's rate against the monotonic clock (tens of ppm) is followed with
 * a lag of a few hundred periods.
 */
#define ENGINE_EXTERNAL_TRACK 256

void engine_tick(struct engine *e, int64_t start)
{
    double period_ns = (double)e->cfg.period_frames * 1e9 / e->cfg.sample_rate;
    int64_t began = engine_mono_ns();

    if (!e->ticked) {
        e->clock_t0_ns = start;
        e->frame_ns = period_ns / e->cfg.period_frames;
        e->ticked = true;
    } else {
        int64_t due = e->clock_t0_ns + (int64_t)llround((double)e->period_count * period_ns);
        int64_t late = start - due;
        if (late > ENGINE_MAX_CATCH_UP * (int64_t)period_ns ||
            late < -ENGINE_MAX_CATCH_UP * (int64_t)period_ns) {
            /* The device stopped, or ran far off: a new anchor, as after a stall. */
            e->clock_t0_ns += late;
            e->clock_epoch++;
        } else {
            e->clock_t0_ns += late / ENGINE_EXTERNAL_TRACK;
        }
        note_late(e, late, period_ns);
    }
    engine_cycle(e);
    note_took(e, began);
}

/* ---- control thread ---------------------------------------------------- */

int engine_init(struct engine *e, const struct engine_config *cfg, int rtp_fd)
{
    memset(e, 0, sizeof(*e));
    e->cfg = *cfg;
    e->rtp_fd = rtp_fd;
    e->n_src = cfg->local_sources + ENGINE_RX_SLOTS;
    size_t frames = cfg->period_frames;
    unsigned nmeters = cfg->local_sources + cfg->local_destinations;

    e->bus_src = calloc(cfg->n_bus + 1, sizeof(uint32_t));
    e->bus_dst = calloc(cfg->n_bus + 1, sizeof(uint32_t));
    e->src = calloc(e->n_src, sizeof(float *));
    e->dst = calloc(cfg->local_destinations + 1, sizeof(float *));
    e->audio = calloc((e->n_src + cfg->local_destinations) * frames, sizeof(float));
    e->decode = calloc((size_t)ENGINE_FLOW_CHANNELS * cfg->max_packet_frames, sizeof(float));
    e->recv_buf = malloc((size_t)ENGINE_RECV_BATCH * ENGINE_DATAGRAM_MAX);
    e->send_buf = malloc((size_t)ENGINE_SEND_PER_PERIOD * ENGINE_DATAGRAM_MAX);
    e->sender = calloc(1, sizeof(*e->sender));
    e->meters = calloc(nmeters + 1, sizeof(*e->meters));
    e->meter_hist = calloc(((size_t)nmeters + 1) * ENGINE_METER_BLOCKS, sizeof(*e->meter_hist));
    struct aoip_mixer_config mc = { .sources = e->n_src,
                                    .destinations =
                                        cfg->local_destinations ? cfg->local_destinations : 1,
                                    .max_crosspoints = ENGINE_CROSSPOINTS,
                                    .max_frames = cfg->period_frames,
                                    /* Its own channels, not the remote slots: 1024 meters
                                     * a period for nobody to read would cost more than the mix. */
                                    .metered_sources =
                                        cfg->local_sources ? cfg->local_sources : 1 };
    e->mixer = aoip_mixer_new(&mc);
    if (!e->bus_src || !e->bus_dst || !e->src || !e->dst || !e->audio || !e->decode ||
        !e->recv_buf || !e->send_buf || !e->sender || !e->meters || !e->meter_hist || !e->mixer)
        goto fail;
    if (spsc_init(&e->retired, sizeof(struct plan *), 64) < 0 ||
        spsc_init(&e->commands, sizeof(struct mix_cmd), 4096) < 0)
        goto fail;

    memcpy(e->bus_src, cfg->bus_src, cfg->n_bus * sizeof(uint32_t));
    memcpy(e->bus_dst, cfg->bus_dst, cfg->n_bus * sizeof(uint32_t));
    for (unsigned i = 0; i < e->n_src; i++)
        e->src[i] = e->audio + (size_t)i * frames;
    for (unsigned i = 0; i < cfg->local_destinations; i++)
        e->dst[i] = e->audio + ((size_t)e->n_src + i) * frames;
    /* The mixer wants a buffer for each destination it was made with. */
    if (cfg->local_destinations == 0)
        e->dst[0] = e->decode;
    atomic_init(&e->pending, NULL);
    atomic_init(&e->running, false);
    if (getrandom(&e->ts_base, sizeof(e->ts_base), 0) != sizeof(e->ts_base))
        e->ts_base = (uint32_t)engine_mono_ns();
    return 0;

fail:
    engine_close(e);
    return -ENOMEM;
}

void engine_set_io(struct engine *e, struct engine_input *inputs, unsigned n_inputs,
                   struct engine_output *outputs, unsigned n_outputs)
{
    e->inputs = inputs;
    e->n_inputs = n_inputs;
    e->outputs = outputs;
    e->n_outputs = n_outputs;
}

int engine_start(struct engine *e)
{
    pthread_attr_t attr;
    int rc;

    atomic_store(&e->running, true);
    pthread_attr_init(&attr);
    /* Its stack is locked in memory with the rest (mlockall): a small one will do,
     * nothing on the media thread recurses or keeps much on the stack. */
    pthread_attr_setstacksize(&attr, ENGINE_STACK_SIZE);
    rc = pthread_create(&e->thread, &attr, engine_main, e);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_store(&e->running, false);
        return -rc;
    }
    /* So top, ps -L and perf name it. */
    pthread_setname_np(e->thread, "aoipd-media");
    e->started = true;
    return 0;
}

void engine_start_external(struct engine *e)
{
    atomic_store(&e->running, true);
    e->external = true;
    e->started = true;
}

void engine_stop(struct engine *e)
{
    if (!e->started)
        return;
    if (e->external) {
        /* The device's callback has been stopped by its owner (jack.c). */
        atomic_store_explicit(&e->running, false, memory_order_release);
        e->started = false;
        return;
    }
    atomic_store_explicit(&e->running, false, memory_order_release);
    pthread_join(e->thread, NULL);
    e->started = false;
}

void engine_close(struct engine *e)
{
    engine_stop(e);
    aoip_mixer_free(e->mixer);
    spsc_close(&e->retired);
    spsc_close(&e->commands);
    free(e->bus_src);
    free(e->bus_dst);
    free(e->src);
    free(e->dst);
    free(e->audio);
    free(e->decode);
    free(e->recv_buf);
    free(e->send_buf);
    free(e->sender);
    free(e->meters);
    free(e->meter_hist);
    memset(e, 0, sizeof(*e));
}

int engine_publish(struct engine *e, struct plan *p)
{
    struct plan *expected = NULL;

    if (!e->started) {
        /* Before the thread runs, the plan is simply the current one. */
        if (e->current && !spsc_push(&e->retired, &e->current))
            return -EBUSY;
        e->current = p;
        return 0;
    }
    if (!atomic_compare_exchange_strong(&e->pending, &expected, p))
        return -EBUSY;
    return 0;
}

void engine_collect(struct engine *e, void (*done)(struct plan *p, void *arg), void *arg)
{
    struct plan *p;

    while (spsc_pop(&e->retired, &p))
        done(p, arg);
}

bool engine_command(struct engine *e, const struct mix_cmd *cmd)
{
    if (!e->started) {
        /* Nothing runs yet: apply at once, on this thread. */
        if (cmd->op == MIX_SET)
            aoip_mixer_set(e->mixer, cmd->src, cmd->dst, cmd->gain, cmd->mute);
        else
            aoip_mixer_remove(e->mixer, cmd->src, cmd->dst);
        return true;
    }
    return spsc_push(&e->commands, cmd);
}

void rx_flow_read(struct rx_flow *f, struct flow_counters *out)
{
    seqlock_read(&f->pub.seq, f->pub.w, out, SEQLOCK_WORDS(struct flow_counters));
}

void tx_flow_read(struct tx_flow *f, struct flow_counters *out)
{
    seqlock_read(&f->pub.seq, f->pub.w, out, SEQLOCK_WORDS(struct flow_counters));
}

void engine_meter(struct engine *e, unsigned i, uint64_t *since, double *peak, double *rms)
{
    struct meter_block hist[ENGINE_METER_BLOCKS];
    double pk = 0.0, sum = 0.0;
    uint64_t frames = 0, newest = *since;

    seqlock_read(&e->meters[i].seq, e->meters[i].w, hist,
                 SEQLOCK_WORDS(struct meter_block) * ENGINE_METER_BLOCKS);
    for (unsigned b = 0; b < ENGINE_METER_BLOCKS; b++) {
        /* Blocks newer than the last read; the newest alone when none are. */
        if (hist[b].index == 0 || (hist[b].index <= *since && b > 0))
            break;
        pk = fmax(pk, hist[b].peak);
        sum += hist[b].sum_sq;
        frames += hist[b].frames;
        if (hist[b].index > newest)
            newest = hist[b].index;
    }
    *since = newest;
    *peak = pk > 0.0 ? 20.0 * log10(pk) : -INFINITY;
    *rms = frames && sum > 0.0 ? 10.0 * log10(sum / (double)frames) : -INFINITY;
}
