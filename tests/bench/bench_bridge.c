/*
 * bench_bridge.c: what a bridge between two sound devices' threads costs,
 * and how soon it locks.
 *
 * Cost: nanoseconds per sample per channel of aoip_bridge_push and of
 * aoip_bridge_pull (which resamples) at 2, 8 and 64 channels, for a
 * producer pushing 256-frame blocks 200 ppm fast and a consumer pulling 64
 * frames at 48 kHz, on a virtual clock, so that the ratio moves as it does
 * for real and the resampler filters. Each call is timed on its own, the
 * first virtual second (the ring filling, the fast start) left out. The
 * share of a core is what 48 kHz of that many channels takes.
 *
 * Lock: for the cases of the unit test (tests/unit/test_bridge.c, whose
 * model of two real-time threads this repeats), over SEEDS seeds each: the
 * time until the bridge settles (the level within 0.5 ms of the target and
 * the clock LOCKED, for good) and locks (also the drift estimate within
 * 1 ppm of the truth, for good), the estimate's error at 10 s, and the
 * THD+N of a -1 dBFS 997 Hz tone through it: the residual of a sine fitted
 * with its frequency free, the worst of the last second's 100 ms windows.
 *
 * Figures only: nothing here fails on time. A checksum is printed so that
 * the work cannot be optimized away.
 */
/* clock_gettime (in bench_util.h) under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/bridge.h"
#include "aoip/clock.h"
#include "bench_util.h"
#include "netmodel.h"
#include "sig.h"

#define RATE         48000
#define MAXCH        64
#define AMP          0.89125093813374556 /* -1 dBFS */
#define T0_NS        (5000 * (int64_t)1000000000)
#define COST_S       6.0 /* virtual seconds per timed case, the first one not counted */
#define LOCK_S       40.0
#define SEEDS        10
#define LOOP         (256 * 75) /* frames of tone the timed cases push round and round */
#define CONSUMER_PPM 60.0

enum jitter { JITTER_RT, JITTER_UNIFORM };

struct sim {
    struct aoip_bridge *b;
    unsigned channels;
    uint32_t push, pull;
    double ppm;
    enum jitter jitter;
    struct netmodel_rng rng, consumer_rng;
    uint64_t blocks, pulls;
    int64_t next_push, last_push, next_pull;
    const float *src[MAXCH]; /* tone per channel: LOOP frames round and round, or all */
    bool loop;
    float *out[MAXCH]; /* pull frames per channel, or a recording */
    size_t record;     /* frames the recording holds; 0: none */
    /* Timed calls. */
    bool timing;
    double push_s, pull_s;
    uint64_t timed_frames;
    /* Lock. */
    double unsettled_s, unlocked_s, ppm_at_10;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_bridge: %s\n", what);
    exit(1);
}

static double consumer_rate(void)
{
    return RATE * (1.0 + CONSUMER_PPM * 1e-6);
}

/* The unit test's wake-up of a real-time thread, or a uniform millisecond. */
static int64_t wakeup(struct netmodel_rng *rng, enum jitter jitter)
{
    double u = netmodel_rng_uniform(rng), ms;
    if (jitter == JITTER_UNIFORM || netmodel_rng_uniform(rng) < 0.01)
        ms = u;
    else
        ms = fmin(1.0, 0.020 - 0.030 * log1p(-u));
    return (int64_t)llround(ms * 1e6);
}

static int64_t pull_due(const struct sim *s, uint64_t j)
{
    return T0_NS + (int64_t)llround((double)(j * s->pull) * 1e9 / consumer_rate());
}

static void sim_init(struct sim *s, unsigned channels, double ppm, uint32_t push, uint32_t pull,
                     uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    struct aoip_bridge_config cfg = {
        .channels = channels, .sample_rate = RATE, .push_frames = push, .pull_frames = pull
    };
    s->b = aoip_bridge_new(&cfg);
    if (s->b == NULL)
        die("cannot make a bridge");
    s->channels = channels;
    s->push = push;
    s->pull = pull;
    s->ppm = ppm;
    netmodel_rng_seed(&s->rng, seed);
    netmodel_rng_seed(&s->consumer_rng, seed + 1000);
    s->next_push = -1;
    s->last_push = INT64_MIN;
    s->next_pull = T0_NS;
}

static void sim_free(struct sim *s)
{
    aoip_bridge_free(s->b);
}

static void do_push(struct sim *s)
{
    const float *in[MAXCH];
    size_t at = (size_t)(s->blocks * s->push);
    if (s->loop)
        at %= LOOP;
    for (unsigned c = 0; c < s->channels; c++)
        in[c] = s->src[c] + at;
    double t0 = s->timing ? bench_now() : 0.0;
    aoip_bridge_push(s->b, in, s->push, s->next_push);
    if (s->timing)
        s->push_s += bench_now() - t0;
    s->last_push = s->next_push;
    s->blocks++;
    s->next_push = -1;
}

static void do_pull(struct sim *s)
{
    float *out[MAXCH];
    size_t at = s->record ? (size_t)s->pulls * s->pull : 0;
    for (unsigned c = 0; c < s->channels; c++)
        out[c] = s->out[c] + at;
    double t0 = s->timing ? bench_now() : 0.0;
    aoip_bridge_pull(s->b, out, s->pull, s->next_pull);
    if (s->timing) {
        s->pull_s += bench_now() - t0;
        s->timed_frames += s->pull;
    }
    s->pulls++;

    struct aoip_bridge_stats st;
    aoip_bridge_get_stats(s->b, &st);
    double t = (double)(s->next_pull - T0_NS) * 1e-9;
    if (fabs(st.level - st.target) > 0.5e-3 * RATE || st.clock_state != AOIP_CLOCK_LOCKED)
        s->unsettled_s = t;
    if (s->unsettled_s == t || !(fabs(st.ppm - s->ppm) < 1.0))
        s->unlocked_s = t;
    if (t < 10.0)
        s->ppm_at_10 = st.ppm;
    s->next_pull = pull_due(s, s->pulls) + wakeup(&s->consumer_rng, JITTER_RT);
}

/* Both threads in time order until `until` virtual seconds; timed from `from` on. */
static void sim_run(struct sim *s, double from, double until)
{
    for (;;) {
        double t = (double)(pull_due(s, s->pulls) - T0_NS) * 1e-9;
        if (t >= until || (s->record && (s->pulls + 1) * s->pull > s->record))
            break;
        s->timing = t >= from;
        if (s->next_push < 0) {
            double rate = consumer_rate() * (1.0 + s->ppm * 1e-6);
            double done = (double)(s->blocks + 1) * s->push / rate;
            int64_t at = T0_NS - 370000 + (int64_t)llround(done * 1e9) + wakeup(&s->rng, s->jitter);
            s->next_push = at > s->last_push ? at : s->last_push;
        }
        if (s->next_push <= s->next_pull)
            do_push(s);
        else
            do_pull(s);
    }
}

/* ------------------------------------------------------------------------ */
/* Cost */

static void cost(unsigned channels, float *tone, double *checksum)
{
    struct sim s;
    float *outs = malloc(sizeof(float) * 64 * channels);
    if (outs == NULL)
        die("out of memory");
    sim_init(&s, channels, 200.0, 256, 64, 1);
    for (unsigned c = 0; c < channels; c++) {
        s.src[c] = tone + (size_t)(c % 8) * LOOP;
        s.out[c] = outs + (size_t)c * 64;
    }
    s.loop = true;
    sim_run(&s, 1.0, COST_S);
    double samples = (double)s.timed_frames * channels;
    double push_ns = s.push_s * 1e9 / samples, pull_ns = s.pull_s * 1e9 / samples;
    printf("%8u %10.2f %10.2f %10.2f %9.2f %%\n", channels, push_ns, pull_ns, push_ns + pull_ns,
           (push_ns + pull_ns) * channels * RATE * 1e-9 * 100.0);
    fflush(stdout);
    for (unsigned c = 0; c < channels; c++)
        *checksum += outs[c * 64 + 17];
    sim_free(&s);
    free(outs);
}

/* ------------------------------------------------------------------------ */
/* Lock */

struct lock_case {
    const char *name;
    double ppm;
    uint32_t push, pull;
    enum jitter jitter;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void lock(const struct lock_case *lc, float *tone_src, float *rec)
{
    double settle[SEEDS], locked[SEEDS], err10[SEEDS], thdn[SEEDS];
    size_t len = (size_t)(LOCK_S * RATE) + 2048;

    for (int k = 0; k < SEEDS; k++) {
        struct sim s;
        sim_init(&s, 1, lc->ppm, lc->push, lc->pull, (uint64_t)k + 1);
        s.jitter = lc->jitter;
        s.src[0] = tone_src;
        s.out[0] = rec;
        s.record = len;
        sim_run(&s, INFINITY, LOCK_S);
        settle[k] = s.unsettled_s;
        locked[k] = s.unlocked_s;
        err10[k] = fabs(s.ppm_at_10 - lc->ppm);
        /* The worst 100 ms of the last second: over longer the fit of one
         * frequency reads the ratio's slow wander (a few ppm) as residual. */
        size_t end = (size_t)s.pulls * s.pull, win = RATE / 10;
        thdn[k] = -INFINITY;
        for (size_t at = end - RATE; at + win <= end; at += win) {
            struct sig_fit fit;
            if (sig_fit_sine(rec + at, win, RATE, 997.0 * (1.0 + lc->ppm * 1e-6), &fit) != 0)
                die("cannot fit the tone");
            thdn[k] = fmax(thdn[k], 20.0 * log10(fit.residual / (fit.amp / sqrt(2.0))));
        }
        sim_free(&s);
    }
    qsort(settle, SEEDS, sizeof(double), cmp_double);
    qsort(locked, SEEDS, sizeof(double), cmp_double);
    qsort(err10, SEEDS, sizeof(double), cmp_double);
    qsort(thdn, SEEDS, sizeof(double), cmp_double);
    printf("%-26s %6.1f %6.1f %6.1f %6.1f %6.2f %6.2f %7.1f %7.1f\n", lc->name, settle[SEEDS / 2],
           settle[SEEDS - 1], locked[SEEDS / 2], locked[SEEDS - 1], err10[SEEDS / 2],
           err10[SEEDS - 1], thdn[SEEDS / 2], thdn[SEEDS - 1]);
    fflush(stdout);
}

int main(void)
{
    char cpu[128];
    double checksum = 0.0;
    const unsigned counts[] = { 2, 8, 64 };
    float *tone = malloc(sizeof(float) * 8 * LOOP);
    if (tone == NULL)
        die("out of memory");
    for (unsigned c = 0; c < 8; c++)
        sig_tone(tone + (size_t)c * LOOP, LOOP, 250.0 + 311.0 * c, RATE, AMP, 0.0, 0);

    bench_cpu_model(cpu, sizeof(cpu));
    printf("aoip_bridge on %s: pushes of 256 frames 200 ppm fast, pulls of 64 at 48 kHz\n\n", cpu);
    printf("ns per sample per channel\n");
    printf("%8s %10s %10s %10s %11s\n", "channels", "push", "pull", "both", "of a core");
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        cost(counts[i], tone, &checksum);
    free(tone);

    /* The lock runs push a tone as long as themselves, so that it has no seam. */
    size_t len = (size_t)(LOCK_S * RATE * 1.002) + 4096;
    float *long_tone = malloc(sizeof(float) * len);
    float *rec = malloc(sizeof(float) * ((size_t)(LOCK_S * RATE) + 4096));
    if (long_tone == NULL || rec == NULL)
        die("out of memory");
    sig_tone(long_tone, len, 997.0, RATE, AMP, 0.0, 0);
    const struct lock_case cases[] = {
        { "+200 ppm, 256/64", 200.0, 256, 64, JITTER_RT },
        { "-200 ppm, 256/64", -200.0, 256, 64, JITTER_RT },
        { "+1000 ppm, 256/64", 1000.0, 256, 64, JITTER_RT },
        { "0 ppm, 256/64", 0.0, 256, 64, JITTER_RT },
        { "+200 ppm, 256/256", 200.0, 256, 256, JITTER_RT },
        { "-150 ppm, 1024/48", -150.0, 1024, 48, JITTER_RT },
        { "+200 ppm, 256/64, 1 ms", 200.0, 256, 64, JITTER_UNIFORM },
    };
    printf(
        "\nLock over %d seeds of %.0f s (median, worst): push/pull frames; the producer's\n"
        "wake-up that of a real-time thread, or uniform up to 1 ms; consumer %+.0f ppm\n"
        "against the monotonic clock. 'locked' = settled and the estimate within 1 ppm;\n"
        "at most %.0f s shown as that. THD+N of -1 dBFS 997 Hz: worst 100 ms of the last second.\n",
        SEEDS, LOCK_S, CONSUMER_PPM, LOCK_S);
    printf("%-26s %13s %13s %13s %15s\n", "", "settled (s)", "locked (s)", "ppm at 10 s",
           "THD+N (dB)");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        lock(&cases[i], long_tone, rec);
    printf("\nchecksum %.6f\n", checksum);
    free(long_tone);
    free(rec);
    return 0;
}
