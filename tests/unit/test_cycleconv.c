/*
 * test_cycleconv.c: a sound device's cycles to a node's periods
 * (lib/cycleconv.c), with real audio, over the rate pairs a JACK or
 * PipeWire server gives a node (44.1 kHz under a 48 kHz node and back,
 * 96 kHz over 48 kHz) and a cycle of 300 frames under a period of 256.
 *
 * Every run goes through one driver that checks the bookkeeping as
 * integers on every cycle and every period: after n device frames in all,
 * exactly floor(ceil(n L / M) / P) periods have run (the cycle returns how
 * many of them were its own), and each period's `after` is the node frames
 * converted by the end of its cycle less those the periods through it
 * took. The cycles come in three kinds: fixed, random from 1 to the
 * longest (seeded), and JACK's buffer size changed under it (256, then
 * 128, then 1024).
 *
 * The audio: tones of known frequency at -6 dBFS go in, and what is
 * played is fitted after the start: the frequency, the level, THD+N over
 * the whole and in windows (a gap, a repeat or a period out of order shows
 * as a window far above the rest), and the lag, from a click's peak
 * (to a frame) and from the tone's phase at two frequencies (to a
 * twentieth of a frame): it must be aoip_cycleconv_latency(), for every
 * kind of cycles. Because the converter is positional, any cycles give the
 * same playback sample for sample, and it is exactly that of a model made
 * of the two rate converters (rateconv.h) and the stated prefill of
 * silence: the capture a period sees is the capture converter's output,
 * bit for bit, and the playback is the prefill followed by the playback
 * converter's output. At one rate the converter copies, and the playback
 * is the capture delayed by period - 1 frames exactly.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/cycleconv.h"
#include "aoip/rateconv.h"
#include "netmodel.h"
#include "sig.h"

#define AMP   0.50118723362727224 /* -6 dBFS */
#define MAXCH 320
#define PI    3.14159265358979323846
/* Two rate converters in a row, each 100 dB clean: THD+N well below this. */
#define THDN_LIMIT_DB (-80.0)
/* Frames per analysis window of the playback. */
#define WINDOW 2048

struct pair {
    uint32_t device, node;
};

/* What a JACK or PipeWire server may run a node's device at, and the node's rate. */
static const struct pair pairs[] = {
    { 44100, 48000 }, { 48000, 44100 }, { 96000, 48000 }, { 48000, 96000 }, { 48000, 48000 },
};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))

/* L and M of a pair, from rateconv (which every config here is one it takes). */
static uint32_t gcd(uint32_t device, uint32_t node)
{
    uint32_t up = 0, down = 0;
    assert_true(aoip_rateconv_ratio(device, node, &up, &down));
    return node / up;
}

static struct aoip_cycleconv_config config(struct pair p, unsigned capture, unsigned playback,
                                           uint32_t period, uint32_t max_cycle)
{
    struct aoip_cycleconv_config cfg = {
        .capture_channels = capture,
        .playback_channels = playback,
        .device_rate = p.device,
        .node_rate = p.node,
        .period_frames = period,
        .max_cycle_frames = max_cycle,
    };
    return cfg;
}

/* ------------------------------------------------------------------------ */
/* Planar lines of audio */

struct lines {
    unsigned channels;
    size_t frames;
    float *line[MAXCH];
};

static void lines_init(struct lines *l, unsigned channels, size_t frames)
{
    assert_true(channels <= MAXCH);
    memset(l, 0, sizeof(*l));
    l->channels = channels;
    l->frames = frames;
    for (unsigned c = 0; c < channels; c++) {
        l->line[c] = calloc(frames + 1, sizeof(float));
        assert_non_null(l->line[c]);
    }
}

static void lines_free(struct lines *l)
{
    for (unsigned c = 0; c < l->channels; c++)
        free(l->line[c]);
}

static void noise(struct lines *l, uint64_t seed)
{
    struct netmodel_rng rng;
    netmodel_rng_seed(&rng, seed);
    for (unsigned c = 0; c < l->channels; c++)
        for (size_t k = 0; k < l->frames; k++)
            l->line[c][k] = (float)(1.8 * netmodel_rng_uniform(&rng) - 0.9);
}

/* The tone capture channel c carries in most cases: 997 Hz on the first, 1499 Hz on the second. */
static double tone_of(unsigned c)
{
    return c == 0 ? 997.0 : 1499.0 + 211.0 * (c - 1);
}

static void tones(struct lines *l, double rate)
{
    for (unsigned c = 0; c < l->channels; c++)
        sig_tone(l->line[c], l->frames, tone_of(c), rate, AMP, 0.0, 0);
}

/* ------------------------------------------------------------------------ */
/* Cycle lengths */

enum cycles_kind {
    CYCLES_FIXED,  /* always `fixed` */
    CYCLES_RANDOM, /* 1..max, seeded */
    CYCLES_JACK,   /* 256 for 50 cycles, 128 for 100, then 1024, over and over */
};

struct cycles {
    enum cycles_kind kind;
    uint32_t fixed;
    uint32_t max;
    uint64_t count;
    struct netmodel_rng rng;
};

static struct cycles cycles_fixed(uint32_t n)
{
    struct cycles c = { .kind = CYCLES_FIXED, .fixed = n, .max = n };
    return c;
}

static struct cycles cycles_random(uint32_t max, uint64_t seed)
{
    struct cycles c = { .kind = CYCLES_RANDOM, .max = max };
    netmodel_rng_seed(&c.rng, seed);
    return c;
}

static struct cycles cycles_jack(void)
{
    struct cycles c = { .kind = CYCLES_JACK, .max = 1024 };
    return c;
}

static uint32_t cycles_next(struct cycles *c)
{
    uint64_t i = c->count++;
    switch (c->kind) {
    case CYCLES_FIXED:
        return c->fixed;
    case CYCLES_RANDOM:
        return 1 + (uint32_t)(netmodel_rng_next(&c->rng) % c->max);
    case CYCLES_JACK:
        i %= 200;
        return i < 50 ? 256 : i < 150 ? 128 : 1024;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The driver: one converter, its counts checked on every cycle and period */

struct rig;
/* What a case's period does; index counts periods from 0. */
typedef void (*period_body)(struct rig *r, const float *const *in, float *const *out,
                            uint64_t index);

struct rig {
    struct aoip_cycleconv_config cfg;
    struct aoip_cycleconv *cc;
    uint32_t up, down;  /* L and M: node rate over device rate, reduced */
    uint64_t device;    /* device frames given in all */
    uint64_t converted; /* node frames converted by the end of the cycle running */
    uint64_t periods;   /* periods run */
    period_body body;
    void *user;
};

static void rig_init(struct rig *r, const struct aoip_cycleconv_config *cfg, period_body body,
                     void *user)
{
    memset(r, 0, sizeof(*r));
    r->cfg = *cfg;
    r->cc = aoip_cycleconv_new(cfg);
    assert_non_null(r->cc);
    const uint32_t g = gcd(cfg->device_rate, cfg->node_rate);
    r->up = cfg->node_rate / g;
    r->down = cfg->device_rate / g;
    r->body = body;
    r->user = user;
}

/* Back to the start of the counts, as aoip_cycleconv_reset takes the converter. */
static void rig_restart(struct rig *r)
{
    r->device = 0;
    r->converted = 0;
    r->periods = 0;
}

static void rig_free(struct rig *r)
{
    aoip_cycleconv_free(r->cc);
}

static void checked_period(void *arg, const float *const *in, float *const *out, uint32_t after)
{
    struct rig *r = arg;
    const uint64_t P = r->cfg.period_frames;
    /* This period was whole once (periods + 1) P node frames had been converted. */
    assert_true(r->converted >= (r->periods + 1) * P);
    assert_int_equal(after, r->converted - (r->periods + 1) * P);
    if (r->cfg.capture_channels > 0) {
        assert_non_null(in);
        for (unsigned c = 0; c < r->cfg.capture_channels; c++)
            assert_non_null(in[c]);
    }
    if (r->cfg.playback_channels > 0) {
        assert_non_null(out);
        for (unsigned c = 0; c < r->cfg.playback_channels; c++)
            assert_non_null(out[c]);
    }
    uint64_t index = r->periods++;
    if (r->body)
        r->body(r, in, out, index);
}

/*
 * Run capture (device rate, from its frame 0) through the converter in
 * cycles from cy, and write the playback to play from frame 0 (either may
 * have no channels: NULL is passed). Every cycle returns the periods it ran,
 * and the total is floor(ceil(n L / M) / P) after n device frames.
 */
static void run(struct rig *r, const struct lines *capture, struct lines *play, size_t frames,
                struct cycles *cy)
{
    const float *cp[MAXCH];
    float *pp[MAXCH];
    const uint64_t P = r->cfg.period_frames;
    assert_true(capture->frames >= frames && play->frames >= frames);
    size_t at = 0;
    while (at < frames) {
        uint32_t n = cycles_next(cy);
        assert_true(n <= r->cfg.max_cycle_frames);
        if (n > frames - at)
            n = (uint32_t)(frames - at);
        for (unsigned c = 0; c < capture->channels; c++)
            cp[c] = capture->line[c] + at;
        for (unsigned c = 0; c < play->channels; c++)
            pp[c] = play->line[c] + at;
        r->device += n;
        r->converted = (r->device * r->up + r->down - 1) / r->down;
        const uint64_t before = r->periods;
        int ran = aoip_cycleconv_cycle(r->cc, capture->channels ? cp : NULL,
                                       play->channels ? pp : NULL, n, checked_period, r);
        assert_true(ran >= 0);
        assert_int_equal((uint64_t)ran, r->periods - before);
        assert_int_equal(r->periods, r->converted / P);
        at += n;
    }
}

/* ------------------------------------------------------------------------ */
/* Period bodies */

/* Capture channel c to playback channel c; playback channels beyond the capture silent. */
static void body_copy(struct rig *r, const float *const *in, float *const *out, uint64_t index)
{
    (void)index;
    const uint32_t P = r->cfg.period_frames;
    for (unsigned c = 0; c < r->cfg.playback_channels; c++) {
        if (c < r->cfg.capture_channels)
            memcpy(out[c], in[c], sizeof(float) * P);
        else
            memset(out[c], 0, sizeof(float) * P);
    }
}

/* Stereo crossed over, the left at half gain: out 0 = in 1 / 2, out 1 = in 0. */
static void body_swap_half(struct rig *r, const float *const *in, float *const *out, uint64_t index)
{
    (void)index;
    for (uint32_t k = 0; k < r->cfg.period_frames; k++) {
        out[0][k] = 0.5f * in[1][k];
        out[1][k] = in[0][k];
    }
}

/* Keeps every period's capture (r->user is a struct lines at the node's rate), and copies. */
static void body_record(struct rig *r, const float *const *in, float *const *out, uint64_t index)
{
    struct lines *rec = r->user;
    const uint32_t P = r->cfg.period_frames;
    assert_true((index + 1) * P <= rec->frames);
    for (unsigned c = 0; c < r->cfg.capture_channels; c++)
        memcpy(rec->line[c] + index * P, in[c], sizeof(float) * P);
    body_copy(r, in, out, index);
}

/* Keeps every period's capture and plays it back negated at half gain (exact in float). */
static void body_record_invert(struct rig *r, const float *const *in, float *const *out,
                               uint64_t index)
{
    struct lines *rec = r->user;
    const uint32_t P = r->cfg.period_frames;
    assert_true((index + 1) * P <= rec->frames);
    for (unsigned c = 0; c < r->cfg.capture_channels; c++) {
        memcpy(rec->line[c] + index * P, in[c], sizeof(float) * P);
        for (uint32_t k = 0; k < P; k++)
            out[c][k] = -0.5f * in[c][k];
    }
}

/* A source at the node: tone_of(c) on playback channel c, counted in node frames. */
static void body_tone(struct rig *r, const float *const *in, float *const *out, uint64_t index)
{
    (void)in;
    const uint32_t P = r->cfg.period_frames;
    for (unsigned c = 0; c < r->cfg.playback_channels; c++)
        sig_tone(out[c], P, tone_of(c), r->cfg.node_rate, AMP, 0.0, (int64_t)(index * P));
}

/* ------------------------------------------------------------------------ */
/* What the converter should add, from the rate converters themselves */

static double delay_of(uint32_t in_rate, uint32_t out_rate)
{
    struct aoip_rateconv_config cfg = {
        .channels = 1, .in_rate = in_rate, .out_rate = out_rate, .max_in_frames = 1
    };
    struct aoip_rateconv *rc = aoip_rateconv_new(&cfg);
    assert_non_null(rc);
    double d = aoip_rateconv_delay(rc);
    aoip_rateconv_free(rc);
    return d;
}

/* The capture filter's delay, in node frames. */
static double capture_delay(struct pair p)
{
    return delay_of(p.device, p.node);
}

/* The playback filter's delay, in device frames. */
static double playback_delay(struct pair p)
{
    return delay_of(p.node, p.device);
}

/* The two filters' delays in device frames. */
static double filters_delay(struct pair p)
{
    return capture_delay(p) * p.device / p.node + playback_delay(p);
}

/* ceil((P - 1) M / L) */
static uint32_t stated_prefill(struct pair p, uint32_t period)
{
    const uint32_t g = gcd(p.device, p.node), up = p.node / g, down = p.device / g;
    return (uint32_t)(((uint64_t)(period - 1) * down + up - 1) / up);
}

/* Playback frames to skip before analysis: the latency and both filters filled, and some. */
static size_t settle(struct aoip_cycleconv *cc, struct pair p)
{
    return (size_t)ceil(aoip_cycleconv_latency(cc) + filters_delay(p)) + 64;
}

static double thdn_db(double amp, double residual)
{
    return 20.0 * log10(residual / (amp / sqrt(2.0)));
}

/* x reduced to (-0.5, 0.5]. */
static double wrap_half(double x)
{
    return x - ceil(x - 0.5);
}

/*
 * The tone freq at AMP scaled by gain, delayed by lat device frames, must
 * be what x[s..n) holds: frequency to 0.1 Hz, level to 0.1 dB, THD+N under
 * the limit over the whole and in every window, no sample off the fitted
 * sine by more than -80 dB of it, and the phase of a lag of lat frames to
 * 0.05 frame. Returns the worst THD+N of a window.
 */
static double check_tone(const float *x, size_t s, size_t n, double rate, double freq, double gain,
                         double lat)
{
    struct sig_fit f;
    assert_int_equal(sig_fit_sine(x + s, n - s, rate, freq, &f), 0);
    assert_true(fabs(f.freq - freq) < 0.1);
    assert_float_equal(sig_dbfs(f.amp), sig_dbfs(AMP * gain), 0.1);
    double whole = thdn_db(f.amp, f.residual);
    assert_true(whole < THDN_LIMIT_DB);
    size_t first;
    assert_int_equal(sig_count_glitches(x + s, n - s, rate, &f, 1e-4 * AMP * gain, &first), 0);

    double worst = -INFINITY;
    for (size_t w = s; w + WINDOW <= n; w += WINDOW) {
        double amp, phase, res;
        assert_int_equal(sig_fit_tones(x + w, WINDOW, rate, &freq, 1, &amp, &phase, &res), 0);
        worst = fmax(worst, thdn_db(amp, res));
        assert_true(thdn_db(amp, res) < THDN_LIMIT_DB);
        /* Frame w holds the input of time w - lat. */
        double err = wrap_half(phase / (2.0 * PI) - freq * ((double)w - lat) / rate) * rate / freq;
        assert_true(fabs(err) < 0.05);
    }
    return worst;
}

/* ------------------------------------------------------------------------ */
/* Counts */

static void periods_run_on_counts_alone(void **state)
{
    (void)state;
    /* The driver checks the counts and `after`; here over every pair, three
     * periods (one longer than the longest cycle) and all kinds of cycles. */
    const uint32_t periods[] = { 256, 100, 2000 };
    for (size_t i = 0; i < NPAIRS; i++) {
        for (size_t j = 0; j < 3; j++) {
            struct cycles kinds[] = { cycles_fixed(300), cycles_random(1024, 7 + i),
                                      cycles_jack() };
            for (size_t k = 0; k < 3; k++) {
                struct aoip_cycleconv_config cfg = config(pairs[i], 2, 2, periods[j], 1024);
                struct rig r;
                rig_init(&r, &cfg, body_copy, NULL);
                struct lines cap, play;
                const size_t frames = pairs[i].device / 4;
                lines_init(&cap, 2, frames);
                lines_init(&play, 2, frames);
                noise(&cap, 3);
                run(&r, &cap, &play, frames, &kinds[k]);
                assert_true(r.periods > 0);
                rig_free(&r);
                lines_free(&cap);
                lines_free(&play);
            }
        }
    }
}

static void after_is_the_capture_queued_behind_each_period(void **state)
{
    (void)state;
    /* One cycle of 1024 frames at 44.1 -> 48 kHz, period 128, from the
     * start: ceil(1024 * 160 / 147) = 1115 node frames, 8 periods, after
     * 1115 - 128 (j + 1) = 987, 859, ..., 91. The driver checks the same
     * thing from the formula; this is the formula worked by hand. */
    struct aoip_cycleconv_config cfg = config(pairs[0], 1, 1, 128, 1024);
    static float cap[1024], play[1024];
    const float *cp[1] = { cap };
    float *pp[1] = { play };
    struct rig r;
    rig_init(&r, &cfg, NULL, NULL);
    r.device = 1024;
    r.converted = 1115;
    assert_int_equal(aoip_cycleconv_cycle(r.cc, cp, pp, 1024, checked_period, &r), 8);
    assert_int_equal(r.periods, 8);
    /* 147 more frames make 160 more: 1275 in all, one more period (1280 would make two). */
    r.device += 147;
    r.converted += 160;
    assert_int_equal(aoip_cycleconv_cycle(r.cc, cp, pp, 147, checked_period, &r), 1);
    assert_int_equal(r.periods, 9);
    rig_free(&r);
}

/* ------------------------------------------------------------------------ */
/* The audio */

static void a_copied_tone_keeps_frequency_and_level_without_a_gap(void **state)
{
    (void)state;
    const struct pair ps[] = { { 44100, 48000 }, { 48000, 44100 }, { 96000, 48000 } };
    for (size_t i = 0; i < 3; i++) {
        const struct pair p = ps[i];
        struct aoip_cycleconv_config cfg = config(p, 2, 2, 256, 256);
        struct rig r;
        rig_init(&r, &cfg, body_copy, NULL);
        struct lines cap, play;
        const size_t frames = p.device / 2;
        lines_init(&cap, 2, frames);
        lines_init(&play, 2, frames);
        tones(&cap, p.device);
        struct cycles cy = cycles_fixed(256);
        run(&r, &cap, &play, frames, &cy);
        const double lat = aoip_cycleconv_latency(r.cc);
        const size_t s = settle(r.cc, p);
        /* Silence until the prefill is out. */
        for (unsigned c = 0; c < 2; c++)
            for (size_t k = 0; k < aoip_cycleconv_prefill(r.cc); k++)
                assert_true(play.line[c][k] == 0.0f);
        for (unsigned c = 0; c < 2; c++) {
            double worst = check_tone(play.line[c], s, frames, p.device, tone_of(c), 1.0, lat);
            print_message("%5u -> %5u Hz, %6.1f Hz: latency %.3f frames, worst window THD+N "
                          "%.1f dB\n",
                          p.device, p.node, tone_of(c), lat, worst);
        }
        rig_free(&r);
        lines_free(&cap);
        lines_free(&play);
    }
}

static void the_period_functions_mapping_and_gain_come_through(void **state)
{
    (void)state;
    /* Playback 0 must be capture 1's tone 6 dB down, playback 1 capture 0's. */
    const struct pair ps[] = { { 44100, 48000 }, { 48000, 44100 }, { 96000, 48000 } };
    for (size_t i = 0; i < 3; i++) {
        const struct pair p = ps[i];
        struct aoip_cycleconv_config cfg = config(p, 2, 2, 256, 1024);
        struct rig r;
        rig_init(&r, &cfg, body_swap_half, NULL);
        struct lines cap, play;
        const size_t frames = p.device / 2;
        lines_init(&cap, 2, frames);
        lines_init(&play, 2, frames);
        tones(&cap, p.device);
        struct cycles cy = cycles_random(1024, 99);
        run(&r, &cap, &play, frames, &cy);
        const double lat = aoip_cycleconv_latency(r.cc);
        const size_t s = settle(r.cc, p);
        check_tone(play.line[0], s, frames, p.device, tone_of(1), 0.5, lat);
        check_tone(play.line[1], s, frames, p.device, tone_of(0), 1.0, lat);
        /* And nothing of the other tone in either. */
        const double both[2] = { tone_of(0), tone_of(1) };
        double amps[2];
        assert_int_equal(
            sig_fit_tones(play.line[0] + s, frames - s, p.device, both, 2, amps, NULL, NULL), 0);
        assert_true(sig_dbfs(amps[0]) < -120.0);
        assert_int_equal(
            sig_fit_tones(play.line[1] + s, frames - s, p.device, both, 2, amps, NULL, NULL), 0);
        assert_true(sig_dbfs(amps[1]) < -120.0);
        rig_free(&r);
        lines_free(&cap);
        lines_free(&play);
    }
}

static void latency_is_as_stated_for_any_cycle_lengths(void **state)
{
    (void)state;
    /*
     * Stated: the prefill, ceil((P - 1) M / L), plus the two filters'
     * delays in device frames. Measured twice: a click at device frame
     * 2000 must peak within a frame of 2000 + latency, and the phases of
     * 997 and 1499 Hz tones must show the latency to 0.05 frame (the click
     * gives the whole periods of the tones that phases cannot).
     */
    const uint32_t periods[] = { 256, 64 };
    for (size_t i = 0; i < NPAIRS; i++) {
        for (size_t j = 0; j < 2; j++) {
            const struct pair p = pairs[i];
            const uint32_t P = periods[j];
            struct cycles kinds[] = { cycles_fixed(256), cycles_fixed(61),
                                      cycles_random(1024, 5 + i), cycles_jack() };
            for (size_t k = 0; k < 4; k++) {
                struct aoip_cycleconv_config cfg = config(p, 2, 2, P, 1024);
                struct rig r;
                rig_init(&r, &cfg, body_copy, NULL);
                const double lat = aoip_cycleconv_latency(r.cc);
                assert_int_equal(aoip_cycleconv_prefill(r.cc), stated_prefill(p, P));
                assert_true(fabs(lat - (stated_prefill(p, P) + filters_delay(p))) < 1e-9);

                struct lines cap, play;
                const size_t frames = p.device / 5;
                lines_init(&cap, 2, frames);
                lines_init(&play, 2, frames);
                cap.line[0][2000] = 1.0f;
                sig_tone(cap.line[1], frames, 997.0, p.device, AMP, 0.0, 0);
                run(&r, &cap, &play, frames, &kinds[k]);
                size_t peak = 0;
                for (size_t n = 0; n < frames; n++)
                    if (fabsf(play.line[0][n]) > fabsf(play.line[0][peak]))
                        peak = n;
                assert_true(fabs((double)peak - (2000.0 + lat)) <= 1.0);
                check_tone(play.line[1], settle(r.cc, p), frames, p.device, 997.0, 1.0, lat);
                if (k == 0)
                    print_message("%5u -> %5u Hz, period %3u: prefill %u, latency %.4f frames "
                                  "(%.3f ms), click at +%ld\n",
                                  p.device, p.node, P, aoip_cycleconv_prefill(r.cc), lat,
                                  1e3 * lat / p.device, (long)peak - 2000);
                rig_free(&r);

                /* The other tone, for the phase at a second frequency. */
                rig_init(&r, &cfg, body_copy, NULL);
                sig_tone(cap.line[1], frames, 1499.0, p.device, AMP, 0.0, 0);
                kinds[k].count = 0;
                run(&r, &cap, &play, frames, &kinds[k]);
                check_tone(play.line[1], settle(r.cc, p), frames, p.device, 1499.0, 1.0, lat);
                rig_free(&r);
                lines_free(&cap);
                lines_free(&play);
            }
        }
    }
}

static void playback_is_the_same_for_any_cycle_lengths(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        struct aoip_cycleconv_config cfg = config(p, 2, 2, 256, 1024);
        struct lines cap, ref, play;
        const size_t frames = p.device / 4;
        lines_init(&cap, 2, frames);
        noise(&cap, 40 + i);
        lines_init(&ref, 2, frames);
        lines_init(&play, 2, frames);
        struct rig r;
        rig_init(&r, &cfg, body_copy, NULL);
        struct cycles fixed = cycles_fixed(256);
        run(&r, &cap, &ref, frames, &fixed);
        rig_free(&r);
        struct cycles kinds[] = { cycles_fixed(1),         cycles_fixed(300),    cycles_fixed(1024),
                                  cycles_random(1024, 17), cycles_random(7, 18), cycles_jack() };
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            rig_init(&r, &cfg, body_copy, NULL);
            run(&r, &cap, &play, frames, &kinds[k]);
            for (unsigned c = 0; c < 2; c++)
                assert_memory_equal(play.line[c], ref.line[c], sizeof(float) * frames);
            rig_free(&r);
        }
        lines_free(&cap);
        lines_free(&ref);
        lines_free(&play);
    }
}

static void it_is_two_rate_converters_and_the_prefill(void **state)
{
    (void)state;
    /*
     * The model, bit for bit: the capture the periods see is a rate
     * converter's output over the whole capture, and the playback is the
     * prefill's silence followed by a rate converter's output over all the
     * periods' playback. Stereo: any grouping of the channels runs the
     * same per-channel kernel.
     */
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        const uint32_t P = 256;
        struct aoip_cycleconv_config cfg = config(p, 2, 2, P, 1024);
        const size_t frames = p.device / 4;
        const uint32_t g = gcd(p.device, p.node), up = p.node / g, down = p.device / g;
        const size_t node_frames = (frames * up + down - 1) / down;
        struct lines cap, play, rec;
        lines_init(&cap, 2, frames);
        noise(&cap, 70 + i);
        lines_init(&play, 2, frames);
        lines_init(&rec, 2, node_frames);
        struct rig r;
        rig_init(&r, &cfg, body_record_invert, &rec);
        struct cycles cy = cycles_random(1024, 71 + i);
        run(&r, &cap, &play, frames, &cy);
        const size_t ran = r.periods * P;
        const uint32_t prefill = aoip_cycleconv_prefill(r.cc);
        rig_free(&r);

        /* The capture converter, in one call. */
        struct aoip_rateconv_config in_cfg = { .channels = 2,
                                               .in_rate = p.device,
                                               .out_rate = p.node,
                                               .max_in_frames = (uint32_t)frames };
        struct aoip_rateconv *in_rc = aoip_rateconv_new(&in_cfg);
        assert_non_null(in_rc);
        struct lines node;
        lines_init(&node, 2, node_frames);
        const float *ip[2] = { cap.line[0], cap.line[1] };
        assert_int_equal(aoip_rateconv_process(in_rc, ip, (uint32_t)frames, node.line),
                         node_frames);
        for (unsigned c = 0; c < 2; c++)
            assert_memory_equal(rec.line[c], node.line[c], sizeof(float) * ran);

        /* The playback converter over what the periods played. */
        for (unsigned c = 0; c < 2; c++)
            for (size_t k = 0; k < ran; k++)
                node.line[c][k] = -0.5f * node.line[c][k];
        struct aoip_rateconv_config out_cfg = {
            .channels = 2, .in_rate = p.node, .out_rate = p.device, .max_in_frames = (uint32_t)ran
        };
        struct aoip_rateconv *out_rc = aoip_rateconv_new(&out_cfg);
        assert_non_null(out_rc);
        struct lines model;
        lines_init(&model, 2, prefill + frames + 16);
        float *mp[2] = { model.line[0] + prefill, model.line[1] + prefill };
        const float *np[2] = { node.line[0], node.line[1] };
        int made = aoip_rateconv_process(out_rc, np, (uint32_t)ran, mp);
        /* Enough that the playback never ran dry. */
        assert_true(prefill + (size_t)made >= frames);
        for (unsigned c = 0; c < 2; c++)
            assert_memory_equal(play.line[c], model.line[c], sizeof(float) * frames);

        aoip_rateconv_free(in_rc);
        aoip_rateconv_free(out_rc);
        lines_free(&cap);
        lines_free(&play);
        lines_free(&rec);
        lines_free(&node);
        lines_free(&model);
    }
}

static void one_rate_and_an_odd_cycle_copy_exactly_a_period_less_one_late(void **state)
{
    (void)state;
    /* 300-frame cycles under 256-frame periods at 48 kHz, and random ones. */
    const struct pair p = { 48000, 48000 };
    struct cycles kinds[] = { cycles_fixed(300), cycles_random(1024, 300) };
    for (size_t k = 0; k < 2; k++) {
        struct aoip_cycleconv_config cfg = config(p, 2, 2, 256, 1024);
        struct rig r;
        rig_init(&r, &cfg, body_copy, NULL);
        assert_int_equal(aoip_cycleconv_prefill(r.cc), 255);
        assert_true(aoip_cycleconv_latency(r.cc) == 255.0);
        struct lines cap, play;
        const size_t frames = 24000;
        lines_init(&cap, 2, frames);
        lines_init(&play, 2, frames);
        noise(&cap, 300 + k);
        run(&r, &cap, &play, frames, &kinds[k]);
        for (unsigned c = 0; c < 2; c++) {
            for (size_t n = 0; n < 255; n++)
                assert_true(play.line[c][n] == 0.0f);
            assert_memory_equal(play.line[c] + 255, cap.line[c], sizeof(float) * (frames - 255));
        }
        rig_free(&r);
        lines_free(&cap);
        lines_free(&play);
    }
}

static void many_channels_each_carry_their_own_tone(void **state)
{
    (void)state;
    /* More than one rate converter takes (255): 300 channels, each its own tone. */
    const struct pair p = { 44100, 48000 };
    const unsigned ch = 300;
    struct aoip_cycleconv_config cfg = config(p, ch, ch, 256, 512);
    struct rig r;
    rig_init(&r, &cfg, body_copy, NULL);
    struct lines cap, play;
    const size_t frames = 8820;
    lines_init(&cap, ch, frames);
    lines_init(&play, ch, frames);
    for (unsigned c = 0; c < ch; c++)
        sig_tone(cap.line[c], frames, 100.0 + 53.0 * c, p.device, AMP, 0.0, 0);
    struct cycles cy = cycles_random(512, 3);
    run(&r, &cap, &play, frames, &cy);
    const size_t s = settle(r.cc, p);
    for (unsigned c = 0; c < ch; c++) {
        const double f = 100.0 + 53.0 * c;
        double amp, res;
        assert_int_equal(
            sig_fit_tones(play.line[c] + s, frames - s, p.device, &f, 1, &amp, NULL, &res), 0);
        assert_float_equal(sig_dbfs(amp), sig_dbfs(AMP), 0.1);
        assert_true(thdn_db(amp, res) < THDN_LIMIT_DB);
    }
    rig_free(&r);
    lines_free(&cap);
    lines_free(&play);
}

static void playback_only_and_capture_only_run_on_counts(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        const size_t frames = p.device / 4;
        struct cycles cy = cycles_random(1024, 500 + i);

        /* No capture: the node is a source, its tone played at the device's rate. */
        struct aoip_cycleconv_config out_only = config(p, 0, 2, 256, 1024);
        struct rig r;
        rig_init(&r, &out_only, body_tone, NULL);
        struct lines none, play;
        lines_init(&none, 0, frames);
        lines_init(&play, 2, frames);
        run(&r, &none, &play, frames, &cy);
        /* The node's frame 0 is played after the prefill and the playback filter. */
        const double lag = aoip_cycleconv_prefill(r.cc) + playback_delay(p);
        const size_t s = settle(r.cc, p);
        for (unsigned c = 0; c < 2; c++)
            check_tone(play.line[c], s, frames, p.device, tone_of(c), 1.0, lag);
        rig_free(&r);

        /* No playback: the node is a destination, and what its periods get is the tone. */
        const uint32_t g = gcd(p.device, p.node);
        struct lines cap, rec;
        lines_init(&cap, 2, frames);
        tones(&cap, p.device);
        lines_init(&rec, 2, frames * (p.node / g) / (p.device / g) + 2);
        struct aoip_cycleconv_config in_only = config(p, 2, 0, 256, 1024);
        rig_init(&r, &in_only, body_record, &rec);
        struct lines noplay;
        lines_init(&noplay, 0, frames);
        cy = cycles_jack();
        run(&r, &cap, &noplay, frames, &cy);
        const size_t got = r.periods * 256;
        /* Node frame u holds the capture of node time u less the capture filter's delay. */
        const size_t s2 = (size_t)ceil(2.0 * capture_delay(p)) + 64;
        for (unsigned c = 0; c < 2; c++)
            check_tone(rec.line[c], s2, got, p.node, tone_of(c), 1.0, capture_delay(p));
        rig_free(&r);
        lines_free(&none);
        lines_free(&play);
        lines_free(&cap);
        lines_free(&rec);
        lines_free(&noplay);
    }
}

static void reset_starts_over_as_a_new_converter(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        struct aoip_cycleconv_config cfg = config(p, 2, 2, 256, 1024);
        struct lines first, second, used, fresh;
        lines_init(&first, 2, 5001); /* leaves periods and filters half way */
        lines_init(&second, 2, 12000);
        noise(&first, 1 + i);
        noise(&second, 50 + i);
        lines_init(&used, 2, 12000);
        lines_init(&fresh, 2, 12000);
        struct rig a, b;
        rig_init(&a, &cfg, body_copy, NULL);
        rig_init(&b, &cfg, body_copy, NULL);
        struct cycles cy = cycles_random(1024, 9);
        run(&a, &first, &used, first.frames, &cy);
        aoip_cycleconv_reset(a.cc);
        rig_restart(&a);
        assert_int_equal(aoip_cycleconv_prefill(a.cc), aoip_cycleconv_prefill(b.cc));
        struct cycles ca = cycles_random(1024, 10), cb = cycles_random(1024, 10);
        run(&a, &second, &used, second.frames, &ca);
        run(&b, &second, &fresh, second.frames, &cb);
        assert_int_equal(a.periods, b.periods);
        for (unsigned c = 0; c < 2; c++)
            assert_memory_equal(used.line[c], fresh.line[c], sizeof(float) * second.frames);
        rig_free(&a);
        rig_free(&b);
        lines_free(&first);
        lines_free(&second);
        lines_free(&used);
        lines_free(&fresh);
    }
}

/* ------------------------------------------------------------------------ */
/* Refusals */

static void new_rejects_a_bad_config(void **state)
{
    (void)state;
    const struct pair p = { 44100, 48000 };
    const struct aoip_cycleconv_config bad[] = {
        config(p, 2, 2, 0, 256),
        config(p, 2, 2, 65537, 256),
        config(p, 2, 2, 256, 0),
        config(p, 2, 2, 256, 65537),
        config(p, AOIP_CYCLECONV_MAX_CHANNELS + 1, 2, 256, 256),
        config(p, 2, AOIP_CYCLECONV_MAX_CHANNELS + 1, 256, 256),
        config((struct pair){ 0, 48000 }, 2, 2, 256, 256),
        config((struct pair){ 44100, 0 }, 2, 2, 256, 256),
        config((struct pair){ 7999, 48000 }, 2, 2, 256, 256),
        config((struct pair){ 48000, 384001 }, 2, 2, 256, 256),
        /* L = 47999, M = 44100: over rateconv's largest factor */
        config((struct pair){ 44100, 47999 }, 2, 2, 256, 256),
        config((struct pair){ 47999, 44100 }, 2, 2, 256, 256),
        /* gcd 40: L = 1201, M = 1200 */
        config((struct pair){ 48000, 48040 }, 2, 2, 256, 256),
        /* the same, with no audio to convert on one side or the other */
        config((struct pair){ 44100, 47999 }, 0, 2, 256, 256),
        config((struct pair){ 44100, 47999 }, 2, 0, 256, 256),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(aoip_cycleconv_new(&bad[i]));
    assert_null(aoip_cycleconv_new(NULL));
    aoip_cycleconv_free(NULL);

    /* The limits themselves are taken, and run. */
    const struct aoip_cycleconv_config edge[] = {
        config(p, AOIP_CYCLECONV_MAX_CHANNELS, AOIP_CYCLECONV_MAX_CHANNELS, 64, 64),
        config((struct pair){ 48000, 48000 }, 1, 1, 65536, 65536),
        config(p, 1, 1, 1, 1),
        /* L = 1024, M = 1023 */
        config((struct pair){ 383625, 384000 }, 1, 1, 256, 256),
    };
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        struct rig r;
        rig_init(&r, &edge[i], body_copy, NULL);
        const unsigned ch = edge[i].capture_channels;
        const size_t frames = 3 * (size_t)edge[i].max_cycle_frames + 5;
        struct lines cap, play;
        if (ch <= MAXCH) {
            lines_init(&cap, ch, frames);
            lines_init(&play, ch, frames);
            noise(&cap, 1);
            struct cycles cy = cycles_fixed(edge[i].max_cycle_frames);
            run(&r, &cap, &play, frames, &cy);
            lines_free(&cap);
            lines_free(&play);
        } else {
            /* A cycle of every channel, on one shared line. */
            float *line = calloc(64, sizeof(float));
            const float **cp = calloc(ch, sizeof(*cp));
            float **pp = calloc(ch, sizeof(*pp));
            float *outs = calloc((size_t)ch * 64, sizeof(float));
            assert_true(line && cp && pp && outs);
            for (unsigned c = 0; c < ch; c++) {
                cp[c] = line;
                pp[c] = outs + (size_t)c * 64;
            }
            int total = 0;
            for (int k = 0; k < 4; k++) {
                r.device += 64;
                r.converted = (r.device * r.up + r.down - 1) / r.down;
                total += aoip_cycleconv_cycle(r.cc, cp, pp, 64, checked_period, &r);
            }
            assert_int_equal(total, r.converted / 64);
            free(line);
            free(cp);
            free(pp);
            free(outs);
        }
        rig_free(&r);
    }
}

static void never_called(void *arg, const float *const *in, float *const *out, uint32_t after)
{
    (void)arg;
    (void)in;
    (void)out;
    (void)after;
    fail_msg("a refused cycle ran a period");
}

static void a_cycle_too_long_is_refused_silent_and_moves_nothing(void **state)
{
    (void)state;
    /* Twins fed the same cycles; one is also refused cycles. Had a refused
     * cycle moved anything, their playback would part. */
    const struct pair p = { 44100, 48000 };
    struct aoip_cycleconv_config cfg = config(p, 2, 2, 256, 256);
    struct rig a, b;
    rig_init(&a, &cfg, body_copy, NULL);
    rig_init(&b, &cfg, body_copy, NULL);
    static float cap[2][44100], pa[2][257], pb[2][257];
    sig_tone(cap[0], 44100, 997.0, p.device, AMP, 0.0, 0);
    sig_tone(cap[1], 44100, 1499.0, p.device, AMP, 0.0, 0);
    float *outa[2] = { pa[0], pa[1] }, *outb[2] = { pb[0], pb[1] };
    for (size_t at = 0; at + 257 <= 44100; at += 200) {
        const float *in[2] = { cap[0] + at, cap[1] + at };
        for (size_t k = 0; k < 257; k++)
            pb[0][k] = pb[1][k] = 1.0f;
        assert_int_equal(aoip_cycleconv_cycle(b.cc, in, outb, 257, never_called, NULL), -EINVAL);
        for (size_t k = 0; k < 257; k++)
            assert_true(pb[0][k] == 0.0f && pb[1][k] == 0.0f);
        /* Nothing in, nothing out, nothing run. */
        assert_int_equal(aoip_cycleconv_cycle(b.cc, in, outb, 0, never_called, NULL), 0);

        a.device += 200;
        a.converted = (a.device * a.up + a.down - 1) / a.down;
        b.device = a.device;
        b.converted = a.converted;
        int ra = aoip_cycleconv_cycle(a.cc, in, outa, 200, checked_period, &a);
        int rb = aoip_cycleconv_cycle(b.cc, in, outb, 200, checked_period, &b);
        assert_int_equal(ra, rb);
        assert_int_equal(a.periods, a.converted / 256);
        assert_memory_equal(pa[0], pb[0], sizeof(float) * 200);
        assert_memory_equal(pa[1], pb[1], sizeof(float) * 200);
    }
    rig_free(&a);
    rig_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(periods_run_on_counts_alone),
        cmocka_unit_test(after_is_the_capture_queued_behind_each_period),
        cmocka_unit_test(a_copied_tone_keeps_frequency_and_level_without_a_gap),
        cmocka_unit_test(the_period_functions_mapping_and_gain_come_through),
        cmocka_unit_test(latency_is_as_stated_for_any_cycle_lengths),
        cmocka_unit_test(playback_is_the_same_for_any_cycle_lengths),
        cmocka_unit_test(it_is_two_rate_converters_and_the_prefill),
        cmocka_unit_test(one_rate_and_an_odd_cycle_copy_exactly_a_period_less_one_late),
        cmocka_unit_test(many_channels_each_carry_their_own_tone),
        cmocka_unit_test(playback_only_and_capture_only_run_on_counts),
        cmocka_unit_test(reset_starts_over_as_a_new_converter),
        cmocka_unit_test(new_rejects_a_bad_config),
        cmocka_unit_test(a_cycle_too_long_is_refused_silent_and_moves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
