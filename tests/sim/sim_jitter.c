/*
 * sim_jitter.c: a sender, a network and a receiver in virtual time.
 *
 * The sender packetizes a tone as real L24 RTP packets (aoip_rtp_write_header
 * and aoip_pcm_encode), a seeded network model delays (with jitter, and so
 * reorders), duplicates and drops them, and the receiver parses, decodes and
 * puts them into the jitter buffer, pulling one period at a time on its own
 * clock at a fixed latency. Time is a variable, so a minute of audio takes a
 * fraction of a second.
 *
 * Beside the real receiver runs a model of what it must do, kept from the
 * network's side: which packets the network dropped and duplicated, which
 * arrived after a higher sequence number, which arrived after their playout
 * time. The check asserts that the jitter buffer's counters equal the
 * model's, and that every frame it played is, sample for sample, the tone
 * the sender sent for that instant (or flagged missing exactly where the
 * model says no packet was there in time). That is what "continuous
 * wherever no packet was lost" means here.
 *
 *   aoip-sim --check        every scenario, silent unless one fails
 *   aoip-sim --demo [SEED]  one jittery, lossy scenario, second by second
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/jitter.h"
#include "aoip/pcm.h"
#include "aoip/rtp.h"
#include "netmodel.h"
#include "sig.h"

#define RATE      48000
#define PERIOD    48 /* frames per packet and per pull: 1 ms */
#define PERIOD_NS 1000000LL
#define CHANNELS  2
#define PT        96
#define MAX_SEQS  70000 /* enough sequence numbers for the longest scenario */
#define FIT_SPAN  4800  /* 100 ms of clean output for the frequency and level readout */

static const double tone_freq[2][CHANNELS] = { { 1000.0, 1500.0 }, { 1250.0, 625.0 } };
static const double tone_amp = 0.1; /* -20 dBFS */

struct scenario {
    const char *name;
    struct netmodel_config net;
    uint32_t latency_frames;
    uint16_t seq0;
    uint32_t ts0;
    unsigned seconds;
    unsigned restart_after; /* packets of the first stream; 0: the sender never restarts */
    int64_t pull_phase_ns;  /* where the receiver's periods fall against the sender's */
};

/* One packet the sender sent, and what the network and the receiver made of it. */
struct sent {
    unsigned stream; /* 0, or 1 after the sender restarted */
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    int64_t send_ns;
    unsigned copies;
    int64_t arrival_ns[2];
    unsigned delivered; /* copies that reached the receiver so far */
    bool stored;        /* the model says the jitter buffer holds its audio */
};

struct arrival {
    int64_t at;
    uint32_t packet;
    unsigned copy;
};

/* What the model expects the jitter buffer's counters to be. */
struct expect {
    uint64_t received, late, duplicates, reordered, resyncs, strays;
    uint64_t lost_before; /* lost in the streams played before the current one */
    uint64_t missing_frames;
};

struct run {
    const struct scenario *sc;
    struct sent *sent;
    uint32_t npackets;
    struct arrival *arrivals;
    uint32_t narrivals;

    struct aoip_jitter *jb;

    /* The model of the receiver. */
    bool started;
    unsigned stream;    /* the stream the model believes the buffer plays */
    int64_t read_ts;    /* extended timestamp of the next frame to play */
    int64_t start_ts;   /* timestamp of the packet the stream (re)started on: frames
                           before it are pre-roll, flagged missing but no gap */
    int64_t max_packet; /* highest and lowest packet index of the current stream seen */
    int64_t min_packet;
    uint64_t distinct; /* packets of the current stream seen, duplicates not counted */
    int64_t candidate; /* packet held in probation, -1 when none */
    struct expect want;

    /* What the receiver played, and how it compared. */
    uint64_t frames_played, frames_wrong, verdicts_wrong, pulls_wrong;
    uint64_t frames_silent;          /* played flagged missing: pre-roll and gaps */
    float clean[CHANNELS][FIT_SPAN]; /* the first run of FIT_SPAN frames with none missing */
    size_t clean_len;
};

/* The sender's tone for one channel at one frame of its stream, as L24 carries it. */
static float sent_sample(unsigned stream, unsigned ch, int64_t frame)
{
    float x;
    sig_tone(&x, 1, tone_freq[stream][ch], RATE, tone_amp, 0.0, frame);
    uint8_t wire[3];
    const float *in[1] = { &x };
    float y;
    float *out[1] = { &y };
    aoip_pcm_encode(AOIP_PCM_L24, wire, in, 1, 1);
    aoip_pcm_decode(AOIP_PCM_L24, out, wire, 1, 1);
    return y;
}

static int by_arrival(const void *a, const void *b)
{
    const struct arrival *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->packet < y->packet ? -1 : x->packet > y->packet;
}

/* The sender's side: every packet, its stream, and its fate on the network. */
static int plan_packets(struct run *r, const struct scenario *sc)
{
    r->sc = sc;
    struct netmodel net;
    netmodel_init(&net, &sc->net);

    r->npackets = sc->seconds * 1000u;
    r->sent = calloc(r->npackets, sizeof(*r->sent));
    r->arrivals = calloc(2 * (size_t)r->npackets, sizeof(*r->arrivals));
    if (!r->sent || !r->arrivals)
        return -1;

    for (uint32_t k = 0; k < r->npackets; k++) {
        struct sent *p = &r->sent[k];
        bool second = sc->restart_after && k >= sc->restart_after;
        uint32_t n = second ? k - sc->restart_after : k;
        p->stream = second;
        p->ssrc = second ? 0x5eed0002u : 0x5eed0001u;
        /* A restarted sender starts its counters somewhere else entirely. */
        p->seq = (uint16_t)((second ? 40000u : sc->seq0) + n);
        p->ts = (second ? 0x80000000u : sc->ts0) + n * PERIOD;
        p->send_ns = (int64_t)k * PERIOD_NS;

        struct netmodel_fate fate;
        netmodel_send(&net, p->send_ns, &fate);
        p->copies = fate.copies;
        for (unsigned c = 0; c < fate.copies; c++) {
            p->arrival_ns[c] = fate.arrival_ns[c];
            r->arrivals[r->narrivals++] = (struct arrival){ fate.arrival_ns[c], k, c };
        }
    }
    qsort(r->arrivals, r->narrivals, sizeof(*r->arrivals), by_arrival);
    return 0;
}

/* Build the packet on the wire, as a sender would. */
static size_t build_packet(const struct sent *p, uint32_t k, const struct scenario *sc,
                           uint8_t *buf)
{
    struct aoip_rtp_packet h = { .payload_type = PT,
                                 .seq = p->seq,
                                 .timestamp = p->ts,
                                 .ssrc = p->ssrc,
                                 .marker = k == 0 || k == sc->restart_after };
    int hl = aoip_rtp_write_header(&h, buf, 1500);
    float audio[CHANNELS][PERIOD];
    const float *planes[CHANNELS];
    int64_t frame = (int64_t)(k - (p->stream ? sc->restart_after : 0)) * PERIOD;
    for (unsigned c = 0; c < CHANNELS; c++) {
        sig_tone(audio[c], PERIOD, tone_freq[p->stream][c], RATE, tone_amp, 0.0, frame);
        planes[c] = audio[c];
    }
    aoip_pcm_encode(AOIP_PCM_L24, buf + hl, planes, CHANNELS, PERIOD);
    return (size_t)hl + aoip_pcm_bytes(AOIP_PCM_L24, CHANNELS, PERIOD);
}

/* The receiver: parse, decode, put. Returns the jitter buffer's verdict. */
static int receive(struct run *r, const uint8_t *buf, size_t len)
{
    struct aoip_rtp_packet pkt;
    if (aoip_rtp_parse(&pkt, buf, len) != 0)
        return -1;
    unsigned frames = (unsigned)(pkt.payload_len / (3 * CHANNELS));
    float audio[CHANNELS][PERIOD];
    float *planes[CHANNELS];
    for (unsigned c = 0; c < CHANNELS; c++)
        planes[c] = audio[c];
    aoip_pcm_decode(AOIP_PCM_L24, planes, pkt.payload, CHANNELS, frames);
    const float *in[CHANNELS];
    for (unsigned c = 0; c < CHANNELS; c++)
        in[c] = audio[c];
    return aoip_jitter_put(r->jb, pkt.ssrc, pkt.seq, pkt.timestamp, in, frames);
}

/* Extended timestamp of a packet within its stream, on the model's axis. */
static int64_t packet_ts(const struct run *r, uint32_t k)
{
    const struct sent *p = &r->sent[k];
    uint32_t first = p->stream ? r->sc->restart_after : 0;
    return (int64_t)(p->stream ? 0x80000000u : r->sc->ts0) + (int64_t)(k - first) * PERIOD;
}

/* Start (or restart) the model on packet k, as the buffer does on its first packet. */
static void model_start(struct run *r, uint32_t k)
{
    if (r->started)
        r->want.lost_before += (uint64_t)(r->max_packet - r->min_packet + 1) - r->distinct;
    r->started = true;
    r->stream = r->sent[k].stream;
    r->start_ts = packet_ts(r, k);
    r->read_ts = r->start_ts - r->sc->latency_frames;
    r->min_packet = r->max_packet = k;
    r->distinct = 1;
    r->sent[k].stored = true;
}

/* The model's verdict on one arriving copy; updates the model and the expected counters. */
static int model_arrival(struct run *r, uint32_t k)
{
    struct sent *p = &r->sent[k];
    r->want.received++;
    if (p->delivered++ > 0) {
        r->want.duplicates++;
        return AOIP_JITTER_DUPLICATE;
    }
    if (!r->started) {
        model_start(r, k);
        return AOIP_JITTER_STORED;
    }
    if (p->stream != r->stream) {
        /* A new SSRC: probation, confirmed by the next packet of the same stream. */
        if (r->candidate >= 0 && r->sent[r->candidate].stream == p->stream &&
            (uint32_t)r->candidate + 1 == k) {
            r->candidate = -1;
            r->want.resyncs++;
            model_start(r, k);
            return AOIP_JITTER_RESYNC;
        }
        if (r->candidate >= 0)
            r->want.strays++;
        r->candidate = k;
        return AOIP_JITTER_PROBATION;
    }
    if (r->candidate >= 0) {
        r->want.strays++;
        r->candidate = -1;
    }
    r->distinct++;
    bool reordered = (int64_t)k < r->max_packet;
    /* Packets and periods are both 48 frames and aligned (the latency is a
     * multiple of 48), so a late packet is late as a whole. */
    bool late = packet_ts(r, k) < r->read_ts;
    r->want.reordered += reordered;
    r->want.late += late;
    if ((int64_t)k > r->max_packet)
        r->max_packet = k;
    if ((int64_t)k < r->min_packet)
        r->min_packet = k;
    p->stored = !late;
    return late ? AOIP_JITTER_LATE : AOIP_JITTER_STORED;
}

/*
 * Which packet of the current stream holds the frame at ts (on the model's
 * axis): -1 when the stream has no such packet or the buffer does not hold it.
 */
static int64_t model_frame_packet(const struct run *r, int64_t ts)
{
    uint32_t first = r->stream ? r->sc->restart_after : 0;
    uint32_t end = r->stream || !r->sc->restart_after ? r->npackets : r->sc->restart_after;
    int64_t base = packet_ts(r, first);
    if (ts < base)
        return -1;
    int64_t k = first + (ts - base) / PERIOD;
    if (k >= end || !r->sent[k].stored)
        return -1;
    return k;
}

/* One period: pull from the buffer and hold every frame against the model. */
static void play_period(struct run *r)
{
    float out[CHANNELS][PERIOD];
    float *planes[CHANNELS];
    uint8_t missing[PERIOD];
    for (unsigned c = 0; c < CHANNELS; c++)
        planes[c] = out[c];
    uint32_t nmissing = aoip_jitter_pull(r->jb, planes, missing, PERIOD);
    if (!r->started) {
        if (nmissing != PERIOD)
            r->frames_wrong += PERIOD;
        return;
    }

    uint32_t flagged = 0;
    for (unsigned i = 0; i < PERIOD; i++) {
        int64_t ts = r->read_ts + i;
        int64_t k = model_frame_packet(r, ts);
        bool ok;
        r->frames_played++;
        if (k < 0) {
            flagged++;
            /* Before the stream's first frame is pre-roll, not a gap to conceal. */
            r->want.missing_frames += ts >= r->start_ts;
            if (r->clean_len < FIT_SPAN)
                r->clean_len = 0;
            ok = missing[i] == 1;
            for (unsigned c = 0; c < CHANNELS; c++)
                ok = ok && out[c][i] == 0.0f;
        } else {
            int64_t frame = ts - packet_ts(r, r->stream ? r->sc->restart_after : 0);
            ok = missing[i] == 0;
            for (unsigned c = 0; c < CHANNELS; c++)
                ok = ok && out[c][i] == sent_sample(r->stream, c, frame);
            if (r->clean_len < FIT_SPAN) {
                for (unsigned c = 0; c < CHANNELS; c++)
                    r->clean[c][r->clean_len] = out[c][i];
                r->clean_len++;
            }
        }
        if (!ok && r->frames_wrong++ == 0)
            fprintf(stderr, "sim %s: first wrong frame at ts %" PRId64 " (%s)\n", r->sc->name, ts,
                    k < 0 ? "should be missing" : "should be the tone");
    }
    /* What the pull returns is every frame flagged, pre-roll included. */
    r->pulls_wrong += nmissing != flagged;
    r->frames_silent += flagged;
    r->read_ts += PERIOD;
}

static void print_demo_line(const struct run *r, int64_t now)
{
    struct aoip_jitter_stats st;
    aoip_jitter_get_stats(r->jb, &st);
    printf("%6.1f s %8" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %7" PRIu64
           " %7.2f ms %8" PRIu64 "\n",
           (double)now / 1e9, st.received, st.lost, st.late, st.duplicates, st.reordered,
           (double)st.level_frames * 1000.0 / RATE, st.missing_frames);
}

struct tally {
    const char *scenario;
    int failures;
};

static void check_eq(struct tally *t, const char *what, uint64_t got, uint64_t want)
{
    if (got == want)
        return;
    fprintf(stderr, "sim %s: %s is %" PRIu64 ", the model says %" PRIu64 "\n", t->scenario, what,
            got, want);
    t->failures++;
}

/* Feed every copy that has arrived by now, then play one period. */
static void step(struct run *r, int64_t now, uint32_t *ai)
{
    uint8_t wire[1500];
    for (; *ai < r->narrivals && r->arrivals[*ai].at <= now; (*ai)++) {
        uint32_t k = r->arrivals[*ai].packet;
        size_t len = build_packet(&r->sent[k], k, r->sc, wire);
        int got = receive(r, wire, len);
        int want = model_arrival(r, k);
        if (got != want && r->verdicts_wrong++ == 0)
            fprintf(stderr, "sim %s: packet %u (seq %u) got verdict %d, the model says %d\n",
                    r->sc->name, k, r->sent[k].seq, got, want);
    }
    play_period(r);
}

/* Run one scenario; returns the number of failed checks. */
static int run_scenario(const struct scenario *sc, bool demo)
{
    struct run *r = calloc(1, sizeof(*r));
    struct tally t = { sc->name, 0 };
    if (!r || plan_packets(r, sc) < 0) {
        fprintf(stderr, "sim %s: out of memory\n", sc->name);
        exit(1);
    }
    r->candidate = -1;
    struct aoip_jitter_config cfg = { .channels = CHANNELS,
                                      .latency_frames = sc->latency_frames,
                                      .max_packet_frames = PERIOD };
    r->jb = aoip_jitter_new(&cfg);
    if (!r->jb) {
        fprintf(stderr, "sim %s: aoip_jitter_new refused the config\n", sc->name);
        exit(1);
    }
    if (demo)
        printf("%8s %8s %6s %6s %6s %7s %10s %8s\n", "time", "received", "lost", "late", "dup",
               "reorder", "level", "missing");

    /* Run until every copy has arrived and a latency more has played. */
    int64_t end = r->arrivals[r->narrivals - 1].at + 2 * PERIOD_NS +
                  (int64_t)sc->latency_frames * 1000000000LL / RATE;
    uint32_t ai = 0;
    for (int64_t j = 0; sc->pull_phase_ns + j * PERIOD_NS <= end; j++) {
        int64_t now = sc->pull_phase_ns + j * PERIOD_NS;
        step(r, now, &ai);
        if (demo && j % 1000 == 999)
            print_demo_line(r, now);
    }

    struct aoip_jitter_stats st;
    aoip_jitter_get_stats(r->jb, &st);
    uint64_t want_lost =
        r->want.lost_before + (uint64_t)(r->max_packet - r->min_packet + 1) - r->distinct;
    uint64_t dropped = 0, dropped_in_range = 0;
    for (uint32_t k = 0; k < r->npackets; k++) {
        dropped += r->sent[k].copies == 0;
        dropped_in_range += r->sent[k].copies == 0 && k > r->min_packet && k < r->max_packet;
    }

    check_eq(&t, "received", st.received, r->want.received);
    check_eq(&t, "lost", st.lost, want_lost);
    check_eq(&t, "late", st.late, r->want.late);
    check_eq(&t, "duplicates", st.duplicates, r->want.duplicates);
    check_eq(&t, "reordered", st.reordered, r->want.reordered);
    check_eq(&t, "resyncs", st.resyncs, r->want.resyncs);
    check_eq(&t, "strays", st.strays, r->want.strays);
    check_eq(&t, "missing frames", st.missing_frames, r->want.missing_frames);
    check_eq(&t, "packets with a wrong verdict", r->verdicts_wrong, 0);
    check_eq(&t, "frames that differ from the tone sent", r->frames_wrong, 0);
    check_eq(&t, "pulls that returned a wrong missing count", r->pulls_wrong, 0);
    /* Without a restart, what the buffer calls lost is exactly what the network dropped
     * between the first and the last packet that came through. */
    if (!sc->restart_after)
        check_eq(&t, "lost against the network's drops", st.lost, dropped_in_range);

    struct sig_fit fit = { 0 };
    bool fitted =
        r->clean_len == FIT_SPAN && sig_fit_sine(r->clean[0], FIT_SPAN, RATE, 0.0, &fit) == 0;
    if (!fitted || fabs(fit.freq - tone_freq[0][0]) > 0.01 ||
        fabs(sig_dbfs(fit.amp) - sig_dbfs(tone_amp)) > 0.01) {
        fprintf(stderr, "sim %s: no clean 100 ms of the 1 kHz tone at -20 dBFS in the output\n",
                sc->name);
        t.failures++;
    }

    if (demo) {
        printf("\nnetwork: %u packets sent, %" PRIu64 " dropped, %" PRIu64
               " duplicated; receiver latency %.1f ms\n",
               r->npackets, dropped, r->want.duplicates, sc->latency_frames * 1000.0 / RATE);
        printf("output: %.3f Hz at %.2f dBFS (sine fit over 100 ms); %" PRIu64 " of %" PRIu64
               " frames played with audio, %" PRIu64 " silent before the stream began, %" PRIu64
               " missing (lost or late, for concealment)\n",
               fit.freq, sig_dbfs(fit.amp), r->frames_played - r->frames_silent, r->frames_played,
               r->frames_silent - r->want.missing_frames, r->want.missing_frames);
        printf("every frame played equals the tone that was sent: %s\n",
               r->frames_wrong == 0 ? "yes" : "NO");
        printf("jitter buffer counters equal the network model's: %s\n",
               t.failures == 0 ? "yes" : "NO");
    } else {
        printf("sim %-24s %s %6" PRIu64 " received %5" PRIu64 " lost %4" PRIu64 " late %5" PRIu64
               " dup %6" PRIu64 " reordered %" PRIu64 " resyncs\n",
               sc->name, t.failures ? "FAIL" : "ok  ", st.received, st.lost, st.late, st.duplicates,
               st.reordered, st.resyncs);
    }

    aoip_jitter_free(r->jb);
    free(r->sent);
    free(r->arrivals);
    free(r);
    return t.failures;
}

#define MS(x) ((int64_t)((x)*1000000.0))

static const struct scenario scenarios[] = {
    { .name = "clean",
      .net = { .seed = 1, .delay_ns = MS(0.3), .jitter_ns = MS(0.2) },
      .latency_frames = 2 * PERIOD,
      .seq0 = 1000,
      .ts0 = 5000,
      .seconds = 20,
      .pull_phase_ns = MS(0.37) },
    { .name = "jitter-reorder-dup-loss",
      .net = { .seed = 2,
               .delay_ns = MS(0.5),
               .jitter_ns = MS(2.5),
               .loss = 0.01,
               .duplicate = 0.02 },
      .latency_frames = 4 * PERIOD,
      .seq0 = 17,
      .ts0 = 123456,
      .seconds = 60,
      .pull_phase_ns = MS(0.61) },
    { .name = "long-tail-late",
      .net = { .seed = 3,
               .delay_ns = MS(0.4),
               .jitter_ns = MS(0.5),
               .jitter_exponential = true,
               .loss = 0.005,
               .duplicate = 0.01 },
      .latency_frames = 3 * PERIOD,
      .seq0 = 30000,
      .ts0 = 1,
      .seconds = 60,
      .pull_phase_ns = MS(0.05) },
    { .name = "wrap-seq-and-timestamp",
      .net = { .seed = 4,
               .delay_ns = MS(0.5),
               .jitter_ns = MS(2.0),
               .loss = 0.02,
               .duplicate = 0.02 },
      .latency_frames = 3 * PERIOD,
      .seq0 = 65000,
      .ts0 = 0xFFFFFFFFu - 20000u * PERIOD,
      .seconds = 40,
      .pull_phase_ns = MS(0.2) },
    { .name = "sender-restart",
      .net = { .seed = 5, .delay_ns = MS(0.3), .jitter_ns = MS(0.4) },
      .latency_frames = 3 * PERIOD,
      .seq0 = 500,
      .ts0 = 777,
      .seconds = 20,
      .restart_after = 9000,
      .pull_phase_ns = MS(0.5) },
};

static const struct scenario demo_scenario = {
    .name = "demo",
    .net = { .seed = 2026,
             .delay_ns = MS(0.5),
             .jitter_ns = MS(0.6),
             .jitter_exponential = true,
             .loss = 0.01,
             .duplicate = 0.01 },
    .latency_frames = 3 * PERIOD,
    .seq0 = 65000,
    .ts0 = 0xFFFF0000u,
    .seconds = 10,
    .pull_phase_ns = MS(0.4),
};

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--demo") == 0) {
        struct scenario sc = demo_scenario;
        if (argc >= 3)
            sc.net.seed = strtoull(argv[2], NULL, 0);
        printf("aoip jitter buffer, simulated: 2 channels of L24 at 48 kHz in 1 ms RTP packets\n"
               "(1 kHz and 1.5 kHz tones at -20 dBFS) over a network with %.1f ms base delay,\n"
               "exponential jitter (mean %.1f ms), %.0f %% loss and %.0f %% duplicates; seed "
               "%" PRIu64 ".\n\n",
               sc.net.delay_ns / 1e6, sc.net.jitter_ns / 1e6, sc.net.loss * 100,
               sc.net.duplicate * 100, sc.net.seed);
        return run_scenario(&sc, true) ? 1 : 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--check") == 0) {
        int failures = 0;
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
            failures += run_scenario(&scenarios[i], false);
        return failures ? 1 : 0;
    }
    fprintf(stderr, "usage: aoip-sim --check | --demo [SEED]\n");
    return 2;
}
