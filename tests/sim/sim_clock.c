/*
 * sim_clock.c: clock recovery in virtual time: a drifting sender, a seeded
 * network, and a receiver that plays on its own clock through the real
 * jitter buffer, the real clock recovery and the real resampler.
 *
 * The sender's sample clock runs at (1 + ppm) times ours (and, in one case,
 * steps by 100 ppm halfway); it sends a 997 Hz tone at -6 dBFS in 1 ms
 * packets whose sequence numbers and RTP timestamps start close enough to
 * their wrap to cross it during the run, however long. netmodel
 * (tests/support) delays,
 * reorders, duplicates, drops and stalls them. Every receiver period does
 * what the engine does (daemon/engine.c, pull_flow): ratio from
 * aoip_clock_update on the level before the pull, aoip_resampler_needed,
 * aoip_jitter_pull, aoip_resampler_process; every packet the buffer keeps
 * goes to aoip_clock_arrival, and a resync of the buffer restarts the clock.
 *
 * Measured, against what the simulation knows exactly:
 *  - level: the buffer's level with the packet sawtooth taken out using the
 *    true times (level - packet + time since the newest packet arrived), the
 *    latency as the jitter buffer defines it, averaged per second and held
 *    against the target. Under jitter this reads a little high against
 *    what the clock holds (where all arrivals put the newest packet, not
 *    its own arrival, which tends to be an early one): 0.17 ms at 0.5 ms of
 *    Gaussian jitter;
 *  - drift: aoip_clock_ppm against the sender's true ppm, every 10 ms;
 *  - glitches: the output in blocks of 960 frames (20 ms), each fitted with
 *    a sine (its frequency followed from block to block) plus a linear
 *    change of phase and amplitude; a block whose residual exceeds -80 dBFS
 *    is a glitch. A dropped or repeated sample or a gap reads -40 dBFS or
 *    more; a ratio moving at the clock's bounded rate stays near -90.
 *    sig_fit_sine would do the fit, but 9,000 blocks a minute of
 *    Gauss-Newton with libm per sample is what one hour per case cannot
 *    afford: here the sine and cosine of a block are tabulated for the
 *    frequency being followed, so each block costs five dot products;
 *  - underruns (frames the buffer had to flag missing, pre-roll excluded),
 *    resyncs, and the time to lock: from the start until the drift estimate
 *    stays within 1 ppm of the truth and the level within 0.5 ms.
 *
 *   aoip-sim-clock --check [--case NAME] [--minutes M]   assert, quiet
 *   aoip-sim-clock --bench [--case NAME] [--minutes M]   a table of figures
 *   aoip-sim-clock --trace NAME [--minutes M]            one line a second
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aoip/clock.h"
#include "aoip/jitter.h"
#include "aoip/resample.h"
#include "aoip/rtp.h"
#include "netmodel.h"

#define RATE       48000
#define PERIOD     48 /* frames per receiver period and per packet: 1 ms */
#define PERIOD_NS  1000000LL
#define TONE_HZ    997.0
#define TONE_AMP   0.5 /* -6 dBFS */
#define SSRC       0x5eedc10cu
#define BLOCK      960  /* frames per glitch-detector block */
#define GLITCH_RMS 1e-4 /* -80 dBFS */
#define PI         3.14159265358979323846

/* The assertions (see the top of the file and tests/sim/CMakeLists.txt). */
#define LOCK_PPM        1.0   /* drift estimate within this of the truth */
#define LEVEL_MS        0.5   /* level within this of the target */
#define SETTLE_S        60.0  /* after this, everything must hold */
#define STEP_SETTLE_S   180.0 /* the drift needs this after a step of the sender */
#define MOVE_SETTLE_S   60.0  /* and the level after a change of target */
#define RESYNC_SETTLE_S 20.0  /* and both after a resync (the drift is kept) */
#define NOISE_PPM       5.0   /* rms of the estimate about its mean */
#define CREEP_MS        0.05  /* level, last tenth against the tenth after SETTLE_S */
#define SAMPLE_UPDATES  10    /* drift sampled every 10 periods */
#define MOVE_OVERSHOOT  2.0   /* frames a per-second level may pass a new target by */

struct target_move {
    double at; /* when, as a fraction of the run */
    uint32_t frames;
};

struct ckcase {
    const char *name;
    const char *what;
    double ppm;      /* sender against us */
    double step_ppm; /* added halfway through the run */
    struct netmodel_config net;
    uint32_t latency_frames;
    struct target_move moves[2];
    bool clean;        /* no underrun, no glitch, no resync allowed */
    unsigned restarts; /* the sender starts a new stream this often in the run */
    uint16_t seq0;     /* the first sequence number (they wrap every 65.5 s anyway) */
    double ts_wrap;    /* the RTP timestamp wraps this far into the run (a fraction) */
    double phase_ms;   /* the sender's first packet against our periods */
};

#define MS(x) ((int64_t)((x)*1e6))

static const struct ckcase cases[] = {
    { .name = "clean+200",
      .what = "+200 ppm, 0.3 ms delay, 0.2 ms uniform jitter",
      .ppm = 200,
      .net = { .seed = 11, .delay_ns = MS(0.3), .jitter_ns = MS(0.2) },
      .latency_frames = 144,
      .clean = true,
      .seq0 = 65000,
      .ts_wrap = 0.25,
      .phase_ms = 0.37 },
    { .name = "clean-200",
      .what = "-200 ppm, 0.3 ms delay, 0.2 ms uniform jitter",
      .ppm = -200,
      .net = { .seed = 12, .delay_ns = MS(0.3), .jitter_ns = MS(0.2) },
      .latency_frames = 144,
      .clean = true,
      .seq0 = 65535,
      .ts_wrap = 0.02,
      .phase_ms = 0.81 },
    { .name = "clean+1000",
      .what = "+1000 ppm, 0.3 ms delay, 0.2 ms uniform jitter",
      .ppm = 1000,
      .net = { .seed = 13, .delay_ns = MS(0.3), .jitter_ns = MS(0.2) },
      .latency_frames = 144,
      .clean = true,
      .seq0 = 60000,
      .ts_wrap = 0.5,
      .phase_ms = 0.05 },
    { .name = "step",
      .what = "-50 ppm stepping to +50 ppm halfway, clean",
      .ppm = -50,
      .step_ppm = 100,
      .net = { .seed = 14, .delay_ns = MS(0.3), .jitter_ns = MS(0.2) },
      .latency_frames = 144,
      .clean = true,
      .seq0 = 1,
      .ts_wrap = 0.66,
      .phase_ms = 0.5 },
    { .name = "retarget",
      .what = "+80 ppm, clean; target 3 ms, 8 ms a third into the run, 5 ms at two thirds",
      .ppm = 80,
      .net = { .seed = 15, .delay_ns = MS(0.3), .jitter_ns = MS(0.2) },
      .latency_frames = 144,
      .moves = { { 1.0 / 3.0, 384 }, { 2.0 / 3.0, 240 } },
      .clean = true,
      .seq0 = 40000,
      .ts_wrap = 0.1,
      .phase_ms = 0.66 },
    { .name = "gauss",
      .what = "+137 ppm, 3 ms delay, Gaussian jitter sd 0.5 ms",
      .ppm = 137,
      .net = { .seed = 21,
               .delay_ns = MS(3),
               .jitter_ns = MS(0.5),
               .jitter_dist = NETMODEL_JITTER_GAUSSIAN },
      .latency_frames = 192,
      .seq0 = 65500,
      .ts_wrap = 0.33,
      .phase_ms = 0.2 },
    { .name = "pareto",
      .what = "-173 ppm, Pareto jitter (alpha 1.5, mean 0.5 ms, cap 100 ms)",
      .ppm = -173,
      .net = { .seed = 22,
               .delay_ns = MS(1),
               .jitter_ns = MS(0.5),
               .jitter_dist = NETMODEL_JITTER_PARETO,
               .pareto_shape = 1.5,
               .jitter_max_ns = MS(100) },
      .latency_frames = 240,
      .seq0 = 12345,
      .ts_wrap = 0.03,
      .phase_ms = 0.9 },
    { .name = "stalls",
      .what = "+200 ppm, the path stalls 15 ms every 5 s, 0.5 ms jitter",
      .ppm = 200,
      .net = { .seed = 23,
               .delay_ns = MS(1),
               .jitter_ns = MS(0.5),
               .stall_every_ns = MS(5000),
               .stall_ns = MS(15) },
      .latency_frames = 960,
      .seq0 = 65535,
      .ts_wrap = 0.28,
      .phase_ms = 0.4 },
    { .name = "burst-loss",
      .what = "-200 ppm, Gilbert-Elliott loss, 2% reordered by 3 ms, 1% dup, 1 ms jitter",
      .ppm = -200,
      .net = { .seed = 24,
               .delay_ns = MS(1),
               .jitter_ns = MS(1),
               .duplicate = 0.01,
               .ge_good_to_bad = 0.005,
               .ge_bad_to_good = 0.25,
               .ge_loss_good = 0.001,
               .ge_loss_bad = 0.5,
               .reorder = 0.02,
               .reorder_ns = MS(3) },
      .latency_frames = 288,
      .seq0 = 65000,
      .ts_wrap = 0.55,
      .phase_ms = 0.15 },
    { .name = "restart",
      .what = "+300 ppm, 0.3 ms jitter; the sender restarts (new SSRC, seq, timestamps) "
              "five times",
      .ppm = 300,
      .net = { .seed = 25, .delay_ns = MS(1), .jitter_ns = MS(0.3) },
      .latency_frames = 240,
      .restarts = 5,
      .seq0 = 100,
      .ts_wrap = 0.4,
      .phase_ms = 0.3 },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- the sender and the network ----------------------------------------- */

struct flight {
    int64_t at; /* arrival, ns */
    uint32_t k; /* packet index */
    uint32_t copy;
};

struct heap {
    struct flight *v;
    size_t n, cap;
};

static bool flight_before(const struct flight *a, const struct flight *b)
{
    if (a->at != b->at)
        return a->at < b->at;
    if (a->k != b->k)
        return a->k < b->k;
    return a->copy < b->copy;
}

static void heap_push(struct heap *h, struct flight f)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 1024;
        h->v = realloc(h->v, h->cap * sizeof(*h->v));
        if (!h->v) {
            fprintf(stderr, "sim: out of memory\n");
            exit(1);
        }
    }
    size_t i = h->n++;
    while (i > 0 && flight_before(&f, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = f;
}

static struct flight heap_pop(struct heap *h)
{
    struct flight top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct flight *best = &last;
        if (l < h->n && flight_before(&h->v[l], best)) {
            m = l;
            best = &h->v[l];
        }
        if (r < h->n && flight_before(&h->v[r], best))
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

/* The sender's sample clock: frames sent by real time t (seconds), and back. */
struct sender {
    double rate1, rate2; /* frames per second before and after the step */
    double t_step;       /* seconds */
    double offset_s;     /* the sender starts this long after our period 0 */
};

/* When packet k is complete (its last frame sampled): it is sent then. */
static int64_t send_ns(const struct sender *s, uint32_t k)
{
    double pos = (double)PERIOD * ((double)k + 1.0);
    double pos_step = s->rate1 * s->t_step;
    double t = pos < pos_step ? pos / s->rate1 : s->t_step + (pos - pos_step) / s->rate2;
    return (int64_t)llround((t + s->offset_s) * 1e9);
}

/* The tone, frames [48k, 48k + 48) of the sender: exact phase per packet, rotated within. */
static void packet_audio(uint32_t k, float *out)
{
    const double w = 2.0 * PI * TONE_HZ / RATE;
    double n0 = (double)PERIOD * k;
    double ph = fmod(w * n0, 2.0 * PI);
    double re = cos(ph), im = sin(ph);
    const double cr = cos(w), ci = sin(w);
    for (unsigned i = 0; i < PERIOD; i++) {
        out[i] = (float)(TONE_AMP * im);
        double t = re * cr - im * ci;
        im = re * ci + im * cr;
        re = t;
    }
}

/* ---- the glitch detector ---------------------------------------------------- */

/*
 * Model of a block: a sin + b cos + c + tau (d sin + e cos), with
 * tau = (i - N/2) / N: a sine at the tabulated frequency, whose phase and
 * amplitude may move linearly across the block (a frequency a little off
 * the table's shows as d and e). The normal matrix depends on the frequency
 * only, so it is inverted once per table.
 */
struct detector {
    double w;      /* table frequency, radians per frame */
    double *basis; /* 5 x BLOCK: sin, cos, 1, tau sin, tau cos */
    double inv[5][5];
    float block[BLOCK];
    size_t fill;
    uint64_t blocks, glitches, skip_frames;
    double worst;      /* largest residual rms seen */
    int64_t first_bad; /* block index of the first glitch, -1 if none */
};

static void invert5(double a[5][5], double inv[5][5])
{
    double m[5][10];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 10; j++)
            m[i][j] = j < 5 ? a[i][j] : (j - 5 == i);
    for (int c = 0; c < 5; c++) {
        int p = c;
        for (int r = c + 1; r < 5; r++)
            if (fabs(m[r][c]) > fabs(m[p][c]))
                p = r;
        for (int j = 0; j < 10; j++) {
            double t = m[c][j];
            m[c][j] = m[p][j];
            m[p][j] = t;
        }
        double d = m[c][c];
        for (int j = 0; j < 10; j++)
            m[c][j] /= d;
        for (int r = 0; r < 5; r++) {
            if (r == c)
                continue;
            double f = m[r][c];
            for (int j = 0; j < 10; j++)
                m[r][j] -= f * m[c][j];
        }
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            inv[i][j] = m[i][j + 5];
}

static void detector_table(struct detector *d, double w)
{
    d->w = w;
    double *b = d->basis;
    for (size_t i = 0; i < BLOCK; i++) {
        double tau = ((double)i - BLOCK / 2.0) / BLOCK;
        double s = sin(w * (double)i), c = cos(w * (double)i);
        b[0 * BLOCK + i] = s;
        b[1 * BLOCK + i] = c;
        b[2 * BLOCK + i] = 1.0;
        b[3 * BLOCK + i] = tau * s;
        b[4 * BLOCK + i] = tau * c;
    }
    double a[5][5];
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            double sum = 0.0;
            for (size_t i = 0; i < BLOCK; i++)
                sum += b[r * BLOCK + i] * b[c * BLOCK + i];
            a[r][c] = sum;
        }
    invert5(a, d->inv);
}

/* Fit the block at the table's frequency: residual rms, and the frequency it says. */
static double detector_fit(const struct detector *d, double *w_seen)
{
    const double *b = d->basis;
    double xy[5] = { 0 }, yy = 0.0;
    for (size_t i = 0; i < BLOCK; i++) {
        double y = d->block[i];
        yy += y * y;
        xy[0] += y * b[i];
        xy[1] += y * b[BLOCK + i];
        xy[2] += y;
        xy[3] += y * b[3 * BLOCK + i];
        xy[4] += y * b[4 * BLOCK + i];
    }
    double th[5], fit = 0.0;
    for (int r = 0; r < 5; r++) {
        th[r] = 0.0;
        for (int c = 0; c < 5; c++)
            th[r] += d->inv[r][c] * xy[c];
        fit += th[r] * xy[r];
    }
    /* sin((w + dw) i) ~ sin(w i) + dw i cos(w i): d = -dw N b, e = dw N a. */
    double p = th[0] * th[0] + th[1] * th[1];
    *w_seen = d->w + (p > 0.0 ? (th[0] * th[4] - th[1] * th[3]) / (BLOCK * p) : 0.0);
    return sqrt(fmax(yy - fit, 0.0) / BLOCK);
}

static void detector_block(struct detector *d)
{
    double w_seen, rms = detector_fit(d, &w_seen);
    /* A block fitted at a stale frequency is refitted, until the frequency
     * holds still, before it counts; only blocks near the threshold are
     * worth the tables (from a quarter of it to 30 times: a gap or a click is
     * far above). */
    for (int tries = 0; tries < 8 && rms > GLITCH_RMS / 4 && rms < GLITCH_RMS * 30; tries++) {
        if (fabs(w_seen / d->w - 1.0) < 1e-7 || !(fabs(w_seen / d->w - 1.0) < 0.01))
            break;
        detector_table(d, w_seen);
        rms = detector_fit(d, &w_seen);
    }
    /* Follow the frequency: a new table when it moved by 5 ppm. */
    if (rms <= GLITCH_RMS && fabs(w_seen / d->w - 1.0) > 5e-6)
        detector_table(d, w_seen);
    if (rms > GLITCH_RMS) {
        if (d->glitches++ == 0)
            d->first_bad = (int64_t)d->blocks;
    }
    if (rms > d->worst)
        d->worst = rms;
    d->blocks++;
}

static void detector_feed(struct detector *d, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d->skip_frames > 0) {
            d->skip_frames--;
            continue;
        }
        d->block[d->fill++] = x[i];
        if (d->fill == BLOCK) {
            detector_block(d);
            d->fill = 0;
        }
    }
}

/* ---- one run ---------------------------------------------------------------- */

struct result {
    double seconds;
    double lock_s;                             /* -1: never */
    double level_mean, level_rms, level_worst; /* ms, per-second means after SETTLE_S */
    double creep_ms;
    double ppm_mean, ppm_rms, ppm_sd, ppm_worst; /* estimate minus truth, after settling */
    uint64_t ppm_samples, level_windows;
    uint64_t missing_frames, resyncs, glitches;
    double first_glitch_s; /* when the first glitch began, -1 if none */
    double worst_residual;
    double ratio_step_max;    /* largest change of ratio between periods, ppm */
    double ppm_restart_worst; /* the drift estimate just after a resync */
    double slew_extra_max;    /* largest |ratio - 1 - true drift| after settling, ppm */
    double move_overshoot;    /* frames the level went beyond a new target, worst */
    double move_reach_s;      /* the slowest a change of target was reached (0.5 ms), s */
    double wall_s;
};

struct run {
    const struct ckcase *cs;
    double minutes;
    bool trace;
};

static double now_s(void)
{
    /* C17 has only the calendar clock; it is for the figures, never asserted. */
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void simulate(const struct run *rn, struct result *res)
{
    const struct ckcase *cs = rn->cs;
    double wall0 = now_s();
    memset(res, 0, sizeof(*res));
    res->lock_s = -1;

    const uint64_t updates = (uint64_t)llround(rn->minutes * 60.0 * 1000.0);
    const double t_end = (double)updates * 1e-3;
    const double t_step = cs->step_ppm != 0.0 ? t_end / 2.0 : 1e300;
    struct sender snd = { .rate1 = RATE * (1.0 + cs->ppm * 1e-6),
                          .rate2 = RATE * (1.0 + (cs->ppm + cs->step_ppm) * 1e-6),
                          .t_step = t_step,
                          .offset_s = cs->phase_ms * 1e-3 };

    struct netmodel net;
    netmodel_init(&net, &cs->net);
    struct heap inflight = { 0 };

    struct aoip_jitter_config jc = { .channels = 1,
                                     .latency_frames = cs->latency_frames,
                                     .capacity_frames = 8192,
                                     .max_packet_frames = PERIOD,
                                     .settle_frames = RATE / 2 };
    struct aoip_jitter *jb = aoip_jitter_new(&jc);
    struct aoip_resampler_config rc = { .channels = 1, .max_out_frames = PERIOD };
    struct aoip_resampler *rs = aoip_resampler_new(&rc);
    struct aoip_clock_config kc = { .sample_rate = RATE, .period_frames = PERIOD };
    struct aoip_clock clk;
    struct detector det = { .first_bad = -1 };
    det.basis = malloc(5 * BLOCK * sizeof(double));
    if (!jb || !rs || !det.basis) {
        fprintf(stderr, "sim %s: setup failed\n", cs->name);
        exit(1);
    }
    aoip_clock_init(&clk, &kc);
    detector_table(&det, 2.0 * PI * TONE_HZ / RATE);
    /* The stream starts with silence (pre-roll, filter): judge from 1 s on. */
    det.skip_frames = RATE;

    uint32_t next_k = 0;
    /* 2^32 less the frames until the wrap. */
    const uint32_t ts0 = 0u - (uint32_t)(cs->ts_wrap * t_end * RATE);
    /* Packets per stream of a restarting sender: the last stream starts a
     * good second before the end, whatever the sender's rate. */
    const uint32_t per_stream =
        cs->restarts ? (uint32_t)(t_end * 1000.0 / (cs->restarts + 1)) + 1000 : 0;
    int64_t next_send = send_ns(&snd, 0);
    uint64_t resyncs_seen = 0;
    int64_t ext_ts = 0;
    bool have_ts = false;
    /* The simulation's own view of the newest packet, for the level it measures. */
    int64_t newest_k = -1;
    double newest_at = 0.0;

    uint32_t target = cs->latency_frames;
    unsigned next_move = 0;
    double move_from = 0.0, move_at = -1e300;
    bool move_reached = true;

    /* Per-second level windows and drift samples. */
    double win_sum = 0.0;
    unsigned win_n = 0;
    double lv_sum = 0.0, lv_sq = 0.0;
    double pe_sum = 0.0, pe_sq = 0.0;
    double early_sum = 0.0, late_sum = 0.0;
    unsigned early_n = 0, late_n = 0;
    double last_bad = 0.0; /* time of the last violation of lock, before any step */
    double prev_ratio = 1.0;
    double resync_at = -1e300;

    float in[PERIOD + 8], out[PERIOD];
    uint8_t missing[PERIOD + 8];
    float audio[PERIOD];

    for (uint64_t j = 0; j < updates; j++) {
        const int64_t now = (int64_t)j * PERIOD_NS;
        const double t = (double)j * 1e-3;
        const double now_frames = (double)j * PERIOD;

        /* The sender: everything sent by now goes onto the network. */
        while (next_send <= now) {
            struct netmodel_fate fate;
            netmodel_send(&net, next_send, &fate);
            for (unsigned c = 0; c < fate.copies; c++)
                heap_push(&inflight, (struct flight){ fate.arrival_ns[c], next_k, c });
            next_send = send_ns(&snd, ++next_k);
        }
        /* The receiver: every packet that arrived by now, in arrival order. */
        while (inflight.n > 0 && inflight.v[0].at <= now) {
            struct flight f = heap_pop(&inflight);
            /* A restarted sender starts its counters somewhere else entirely. */
            uint32_t stream = per_stream ? f.k / per_stream : 0;
            uint32_t i = f.k - stream * per_stream;
            uint16_t seq = (uint16_t)(cs->seq0 + 7919u * stream + i);
            uint32_t ts = ts0 + 0x9E3779B9u * stream + i * PERIOD;
            packet_audio(f.k, audio);
            const float *planes[1] = { audio };
            int v = aoip_jitter_put(jb, SSRC + stream, seq, ts, planes, PERIOD);
            if (v != AOIP_JITTER_STORED && v != AOIP_JITTER_LATE && v != AOIP_JITTER_RESYNC)
                continue;
            struct aoip_jitter_stats js;
            aoip_jitter_get_stats(jb, &js);
            if (js.resyncs != resyncs_seen) {
                resyncs_seen = js.resyncs;
                aoip_clock_restart(&clk);
                resync_at = t;
                newest_k = -1;
            }
            if (v == AOIP_JITTER_RESYNC)
                have_ts = false;
            ext_ts = have_ts ? aoip_rtp_ts_extend(ext_ts, ts) : (int64_t)ts;
            have_ts = true;
            double at = (double)f.at * (RATE / 1e9);
            aoip_clock_arrival(&clk, ext_ts, at);
            if ((int64_t)f.k > newest_k) {
                newest_k = f.k;
                newest_at = at;
            }
        }

        /* A change of target, as the adaptive latency would make it. */
        if (next_move < 2 && cs->moves[next_move].frames && t >= cs->moves[next_move].at * t_end) {
            move_from = target;
            target = cs->moves[next_move].frames;
            aoip_jitter_set_latency(jb, target);
            move_at = t;
            move_reached = false;
            next_move++;
        }

        /* One period, as the engine does it. */
        struct aoip_jitter_stats js;
        aoip_jitter_get_stats(jb, &js);
        if (js.resyncs != resyncs_seen) {
            resyncs_seen = js.resyncs;
            aoip_clock_restart(&clk);
            resync_at = t;
            newest_k = -1;
        }
        if (js.received > 0) {
            double r = aoip_clock_update(&clk, (double)js.level_frames, (double)target);
            aoip_resampler_set_ratio(rs, r);
            double dr = fabs(r - prev_ratio) * 1e6;
            if (j > 0 && dr > res->ratio_step_max)
                res->ratio_step_max = dr;
            prev_ratio = r;
        }
        uint32_t n = aoip_resampler_needed(rs, PERIOD);
        float *ins[1] = { in }, *outs[1] = { out };
        aoip_jitter_pull(jb, ins, missing, n);
        aoip_resampler_process(rs, (const float *const *)ins, n, outs, PERIOD);
        detector_feed(&det, out, PERIOD);

        /* What the simulation measures. */
        double truth = t < t_step ? cs->ppm : cs->ppm + cs->step_ppm;
        if (newest_k >= 0 && js.received > 0) {
            double level = (double)js.level_frames - PERIOD + (now_frames - newest_at);
            double err = level - target;
            win_sum += err;
            win_n++;
        }
        /* The level must hold through a step of the sender; the drift estimate
         * is given time to follow it. */
        bool level_settled = t >= SETTLE_S && t - resync_at >= RESYNC_SETTLE_S;
        bool settled = level_settled && !(t >= t_step && t < t_step + STEP_SETTLE_S);
        if (j % SAMPLE_UPDATES == 0 && js.received > 0) {
            double pe = aoip_clock_ppm(&clk) - truth;
            if (fabs(pe) > LOCK_PPM && t < t_step && resync_at < 0)
                last_bad = t + SAMPLE_UPDATES * 1e-3;
            if (t - resync_at < RESYNC_SETTLE_S && fabs(pe) > res->ppm_restart_worst)
                res->ppm_restart_worst = fabs(pe);
            if (settled) {
                pe_sum += pe;
                pe_sq += pe * pe;
                res->ppm_samples++;
                if (fabs(pe) > res->ppm_worst)
                    res->ppm_worst = fabs(pe);
                double extra = fabs((prev_ratio - 1.0) * 1e6 - truth);
                if (extra > res->slew_extra_max)
                    res->slew_extra_max = extra;
            }
        }
        if ((j + 1) % 1000 == 0) {
            /* A second's window of level. */
            double mean_ms = win_n ? win_sum / win_n / (RATE / 1000.0) : 0.0;
            bool moving = t + 1e-3 - move_at < MOVE_SETTLE_S;
            if (win_n && t + 1e-3 - move_at < 2 * MOVE_SETTLE_S) {
                double mean = win_sum / win_n;
                double over = move_from < target ? mean : -mean;
                if (over > res->move_overshoot)
                    res->move_overshoot = over;
            }
            if (!move_reached && fabs(mean_ms) <= LEVEL_MS) {
                move_reached = true;
                if (t + 1e-3 - move_at > res->move_reach_s)
                    res->move_reach_s = t + 1e-3 - move_at;
            }
            if (win_n && fabs(mean_ms) > LEVEL_MS && t < t_step && resync_at < 0 && !moving)
                last_bad = t + 1e-3;
            if (win_n && level_settled && !moving) {
                lv_sum += mean_ms;
                lv_sq += mean_ms * mean_ms;
                res->level_windows++;
                if (fabs(mean_ms) > fabs(res->level_worst))
                    res->level_worst = mean_ms;
                if (t < SETTLE_S + (t_end - SETTLE_S) / 10.0) {
                    early_sum += mean_ms;
                    early_n++;
                }
                if (t >= t_end - (t_end - SETTLE_S) / 10.0) {
                    late_sum += mean_ms;
                    late_n++;
                }
            }
            if (rn->trace)
                printf("%7.1f s  level %+7.3f ms  ppm %+9.3f (true %+7.1f)  ratio %+9.3f ppm  "
                       "missing %" PRIu64 " resyncs %" PRIu64 " glitches %" PRIu64 "\n",
                       t + 1e-3, mean_ms, aoip_clock_ppm(&clk), truth, (prev_ratio - 1.0) * 1e6,
                       js.missing_frames, js.resyncs, det.glitches);
            win_sum = 0.0;
            win_n = 0;
        }
    }

    struct aoip_jitter_stats js;
    aoip_jitter_get_stats(jb, &js);
    res->seconds = t_end;
    res->lock_s = last_bad < fmin(t_end, t_step) - 1.0 ? last_bad : -1.0;
    if (res->level_windows) {
        res->level_mean = lv_sum / res->level_windows;
        res->level_rms = sqrt(lv_sq / res->level_windows);
    }
    if (early_n && late_n)
        res->creep_ms = late_sum / late_n - early_sum / early_n;
    if (res->ppm_samples) {
        res->ppm_mean = pe_sum / res->ppm_samples;
        res->ppm_rms = sqrt(pe_sq / res->ppm_samples);
        res->ppm_sd = sqrt(fmax(res->ppm_rms * res->ppm_rms - res->ppm_mean * res->ppm_mean, 0));
    }
    res->missing_frames = js.missing_frames;
    res->resyncs = js.resyncs;
    res->glitches = det.glitches;
    /* Judged from 1 s on, a block at a time. */
    res->first_glitch_s = det.first_bad < 0 ? -1.0 : 1.0 + (double)det.first_bad * BLOCK / RATE;
    res->worst_residual = det.worst;

    aoip_jitter_free(jb);
    aoip_resampler_free(rs);
    free(det.basis);
    free(inflight.v);
    res->wall_s = now_s() - wall0;
}

/* ---- checks and the table --------------------------------------------------- */

static int fails;

#define EXPECT(cs, ok, ...)                                                                        \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "sim_clock %s: ", (cs)->name);                                         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

static void check(const struct ckcase *cs, const struct result *r)
{
    EXPECT(cs, r->level_windows > 0, "no level measured after settling");
    EXPECT(cs, fabs(r->level_worst) <= LEVEL_MS,
           "level %.3f ms off the target after settling (bound %.1f)", r->level_worst, LEVEL_MS);
    EXPECT(cs, fabs(r->creep_ms) <= CREEP_MS, "level crept %.3f ms (bound %.2f)", r->creep_ms,
           CREEP_MS);
    if (r->ppm_samples) {
        EXPECT(cs, fabs(r->ppm_mean) <= LOCK_PPM, "drift estimate %.3f ppm off (bound %.1f)",
               r->ppm_mean, LOCK_PPM);
        EXPECT(cs, r->ppm_sd < NOISE_PPM, "drift estimate noise %.3f ppm rms (bound %.1f)",
               r->ppm_sd, NOISE_PPM);
    }
    if (cs->clean) {
        EXPECT(cs, r->missing_frames == 0, "%" PRIu64 " frames missing on a clean network",
               r->missing_frames);
        EXPECT(cs, r->glitches == 0, "%" PRIu64 " glitches on a clean network, the first at %.2f s",
               r->glitches, r->first_glitch_s);
        EXPECT(cs, r->resyncs == 0, "%" PRIu64 " resyncs on a clean network", r->resyncs);
    }
    if (cs->restarts > 0) {
        /* Every new stream is a resync, and the drift kept across it. */
        EXPECT(cs, r->resyncs == cs->restarts, "%" PRIu64 " resyncs for %u sender restarts",
               r->resyncs, cs->restarts);
        EXPECT(cs, r->ppm_restart_worst <= LOCK_PPM,
               "drift estimate %.3f ppm off right after a restart (bound %.1f)",
               r->ppm_restart_worst, LOCK_PPM);
    }
    if (cs->moves[0].frames) {
        /* A change of target is slewed: no overshoot, and reached in time. */
        EXPECT(cs, r->move_overshoot <= MOVE_OVERSHOOT,
               "level went %.1f frames past a new target (bound %.0f)", r->move_overshoot,
               MOVE_OVERSHOOT);
        EXPECT(cs, r->move_reach_s > 0 && r->move_reach_s < MOVE_SETTLE_S,
               "a new target took %.1f s to reach (bound %.0f)", r->move_reach_s, MOVE_SETTLE_S);
    }
}

static void print_header(void)
{
    printf("%-11s %6s %8s %7s %7s %7s %7s %7s %7s %7s %7s %6s %6s %6s %6s %5s\n", "case", "lock",
           "level", "level", "level", "creep", "ppm", "ppm", "ppm", "ppm", "missing", "glitch",
           "worst", "resync", "dratio", "wall");
    printf("%-11s %6s %8s %7s %7s %7s %7s %7s %7s %7s %7s %6s %6s %6s %6s %5s\n", "", "s",
           "mean ms", "rms ms", "worst", "ms", "mean", "worst", "rms", "sd", "frames", "blocks",
           "dBFS", "", "ppm", "s");
}

static void print_row(const struct ckcase *cs, const struct result *r)
{
    char lock[16];
    if (r->lock_s >= 0)
        snprintf(lock, sizeof lock, "%.1f", r->lock_s);
    else
        snprintf(lock, sizeof lock, "-");
    printf("%-11s %6s %+8.4f %7.4f %+7.3f %+7.4f %+7.3f %7.3f %7.3f %7.3f %7" PRIu64 " %6" PRIu64
           " %6.1f %6" PRIu64 " %6.3f %5.1f\n",
           cs->name, lock, r->level_mean, r->level_rms, r->level_worst, r->creep_ms, r->ppm_mean,
           r->ppm_worst, r->ppm_rms, r->ppm_sd, r->missing_frames, r->glitches,
           20.0 * log10(fmax(r->worst_residual, 1e-12)), r->resyncs, r->ratio_step_max, r->wall_s);
}

static int usage(void)
{
    fprintf(stderr, "usage: aoip-sim-clock --check | --bench [--case NAME] [--minutes M]\n"
                    "       aoip-sim-clock --trace NAME [--minutes M]\n");
    return 2;
}

int main(int argc, char **argv)
{
    enum { NONE, CHECK, BENCH, TRACE } mode = NONE;
    const char *only = NULL;
    double minutes = 60.0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            mode = CHECK;
        } else if (strcmp(argv[i], "--bench") == 0) {
            mode = BENCH;
        } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            mode = TRACE;
            only = argv[++i];
        } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--minutes") == 0 && i + 1 < argc) {
            minutes = strtod(argv[++i], NULL);
            if (!(minutes >= 2.0 && minutes <= 24 * 60.0)) {
                fprintf(stderr, "aoip-sim-clock: --minutes wants 2 to 1440\n");
                return 2;
            }
        } else {
            return usage();
        }
    }
    if (mode == NONE)
        return usage();

    bool found = false;
    if (mode == BENCH) {
        printf("clock recovery, simulated: %.0f min per case, 48 kHz, 1 ms packets, 997 Hz at "
               "-6 dBFS\n",
               minutes);
        print_header();
    }
    for (size_t i = 0; i < NCASES; i++) {
        if (only && strcmp(only, cases[i].name) != 0)
            continue;
        found = true;
        struct run rn = { .cs = &cases[i], .minutes = minutes, .trace = mode == TRACE };
        struct result r;
        simulate(&rn, &r);
        if (mode == BENCH)
            print_row(&cases[i], &r);
        if (mode == BENCH && cases[i].moves[0].frames)
            printf("%-11s   changes of target reached (0.5 ms) in %.1f s at worst, %.2f frames "
                   "past it, ratio at most %.1f ppm off the true drift\n",
                   "", r.move_reach_s, r.move_overshoot, r.slew_extra_max);
        if (mode == CHECK)
            check(&cases[i], &r);
        fflush(stdout);
    }
    if (!found) {
        fprintf(stderr, "aoip-sim-clock: no case named %s\n", only);
        return 2;
    }
    if (mode == BENCH) {
        printf("\nlevel: latency of the newest packet (buffer level less a packet, plus its age)\n"
               "against the target, per-second means after %.0f s; ppm: estimate minus the\n"
               "truth, sampled every 10 ms after %.0f s (and %.0f s after the step); lock: "
               "until ppm\n"
               "stays within %.0f and level within %.1f ms (-: the estimate's noise crosses it\n"
               "now and then); worst: the largest residual of a 20 ms sine fit; dratio: the\n"
               "largest change of ratio between two periods. Missing frames and glitches are\n"
               "lost and late packets (not concealed here), and in restart the jump to each\n"
               "new stream.\n",
               SETTLE_S, SETTLE_S, STEP_SETTLE_S, LOCK_PPM, LEVEL_MS);
        for (size_t i = 0; i < NCASES; i++)
            if (!only || strcmp(only, cases[i].name) == 0)
                printf("  %-11s %s\n", cases[i].name, cases[i].what);
    }
    return fails ? 1 : 0;
}
