/*
 * test_mixer.c: the routing matrix as an engineer hears it.
 *
 * Route changes must never click: every test that changes a route puts a
 * full-scale DC or a 1 kHz tone through it and bounds the largest
 * sample-to-sample step of the output by what a linear ramp allows,
 * |gain change| / ramp_frames, plus the tone's own slope. Steady routes
 * must be exact: a settled crosspoint's output is gain * input to the bit,
 * and a sum is the sum in source order. Audio runs in 48-frame periods (1 ms
 * at 48 kHz) unless a test is about the period length.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/mixer.h"
#include "sig.h"

#define RATE   48000.0
#define PERIOD 48
#define RAMP   240
#define LEN    4800 /* 100 ms: room for a few ramps */
#define MAXCH  4
/* Float rounding in a ramp step and a product: far below any click. */
#define EPS 1e-6

struct rig {
    struct aoip_mixer *mx;
    float in[MAXCH][LEN];
    float out[MAXCH][LEN];
};

static struct rig *rig_new(uint32_t sources, uint32_t destinations, uint32_t max_crosspoints,
                           uint32_t ramp_frames)
{
    struct rig *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    struct aoip_mixer_config cfg = {
        .sources = sources,
        .destinations = destinations,
        .max_crosspoints = max_crosspoints,
        .max_frames = LEN,
        .ramp_frames = ramp_frames,
    };
    r->mx = aoip_mixer_new(&cfg);
    assert_non_null(r->mx);
    return r;
}

static void rig_free(struct rig *r)
{
    aoip_mixer_free(r->mx);
    free(r);
}

/* Mix frames [from, from + n) of every channel in periods of `period`. */
static void run(struct rig *r, size_t from, size_t n, uint32_t period)
{
    const float *s[MAXCH];
    float *d[MAXCH];

    for (size_t at = from; at < from + n; at += period) {
        uint32_t k = (uint32_t)(from + n - at < period ? from + n - at : period);
        for (size_t c = 0; c < MAXCH; c++) {
            s[c] = r->in[c] + at;
            d[c] = r->out[c] + at;
        }
        aoip_mixer_process(r->mx, s, d, k);
    }
}

static void fill_dc(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        x[i] = v;
}

/* The click bound: a ramp of |dg| over RAMP frames on a signal whose own
 * largest step is slope, at a gain of at most gmax. */
static void assert_no_click(const float *y, size_t n, double dg, double slope, double gmax)
{
    double step = sig_max_step(y, n);
    double bound = fabs(dg) / RAMP + gmax * slope + EPS;
    if (step > bound)
        fail_msg("step %.9g exceeds %.9g", step, bound);
}

/* y[i] == g * x[i] to the bit, over [from, to). */
static void assert_gain_exact(const float *y, const float *x, float g, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (y[i] != g * x[i])
            fail_msg("frame %zu: %.9g, want %.9g", i, (double)y[i], (double)(g * x[i]));
    }
}

static void assert_silent(const float *y, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (y[i] != 0.0f)
            fail_msg("frame %zu: %.9g, want silence", i, (double)y[i]);
    }
}

static void mixer_new_refuses_zero_sizes(void **state)
{
    (void)state;
    const struct aoip_mixer_config good = { 2, 2, 4, 48, 0, 0 };
    struct aoip_mixer_config c;

    c = good, c.sources = 0;
    assert_null(aoip_mixer_new(&c));
    c = good, c.destinations = 0;
    assert_null(aoip_mixer_new(&c));
    c = good, c.max_crosspoints = 0;
    assert_null(aoip_mixer_new(&c));
    c = good, c.max_frames = 0;
    assert_null(aoip_mixer_new(&c));
    assert_null(aoip_mixer_new(NULL));

    struct aoip_mixer *mx = aoip_mixer_new(&good);
    assert_non_null(mx);
    aoip_mixer_free(mx);
}

static void mixer_new_refuses_absurd_sizes(void **state)
{
    (void)state;
    const struct aoip_mixer_config good = { 2, 2, 4, 48, 240, 0 };
    struct aoip_mixer_config c;

    c = good, c.sources = UINT32_MAX;
    assert_null(aoip_mixer_new(&c));
    c = good, c.destinations = 1u << 20;
    assert_null(aoip_mixer_new(&c));
    c = good, c.max_crosspoints = 65537;
    assert_null(aoip_mixer_new(&c));
    c = good, c.max_frames = 1u << 20;
    assert_null(aoip_mixer_new(&c));
    c = good, c.ramp_frames = UINT32_MAX;
    assert_null(aoip_mixer_new(&c));

    c = good, c.max_crosspoints = 65536;
    struct aoip_mixer *mx = aoip_mixer_new(&c);
    assert_non_null(mx);
    aoip_mixer_free(mx);
}

static void mixer_free_accepts_null(void **state)
{
    (void)state;
    aoip_mixer_free(NULL);
}

static void mixer_silences_destinations_without_crosspoints(void **state)
{
    (void)state;
    struct rig *r = rig_new(2, 3, 4, RAMP);

    fill_dc(r->in[0], LEN, 1.0f);
    fill_dc(r->in[1], LEN, 1.0f);
    for (size_t d = 0; d < 3; d++)
        fill_dc(r->out[d], LEN, 0.75f); /* whatever the buffer held before */
    assert_int_equal(aoip_mixer_set(r->mx, 0, 1, 1.0f, false), 0);
    run(r, 0, LEN, PERIOD);
    assert_silent(r->out[0], 0, LEN);
    assert_silent(r->out[2], 0, LEN);
    assert_gain_exact(r->out[1], r->in[0], 1.0f, RAMP, LEN);
    rig_free(r);
}

static void mixer_new_route_fades_in(void **state)
{
    (void)state;
    struct rig *r = rig_new(1, 1, 1, RAMP);
    const float g = 0.5f;

    fill_dc(r->in[0], LEN, 1.0f);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, g, false), 0);
    run(r, 0, LEN, PERIOD);
    /* Frame k of the fade is (k + 1) / RAMP of the gain. */
    for (size_t k = 0; k < RAMP; k++)
        assert_float_equal(r->out[0][k], g * (float)(k + 1) / RAMP, EPS);
    assert_no_click(r->out[0], LEN, g, 0.0, g);
    assert_gain_exact(r->out[0], r->in[0], g, RAMP, LEN);
    rig_free(r);
}

static void mixer_ramp_defaults_to_240_frames(void **state)
{
    (void)state;
    struct rig *r = rig_new(1, 1, 1, 0);

    fill_dc(r->in[0], LEN, 1.0f);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
    run(r, 0, LEN, PERIOD);
    assert_true(r->out[0][238] < 1.0f);
    assert_float_equal(r->out[0][119], 0.5f, EPS);
    assert_gain_exact(r->out[0], r->in[0], 1.0f, 240, LEN);
    rig_free(r);
}

/* 0 dB -> -inf and 0 dB -> -20 dB on a full-scale 1 kHz tone. */
static void mixer_ramps_gain_change_without_step(void **state)
{
    (void)state;
    static const float to_db[] = { -INFINITY, -20.0f, 6.0f };

    for (size_t t = 0; t < sizeof to_db / sizeof to_db[0]; t++) {
        struct rig *r = rig_new(1, 1, 1, RAMP);
        const float g1 = aoip_db_to_gain(to_db[t]);
        const size_t at = 960;

        sig_tone(r->in[0], LEN, 1000.0, RATE, 1.0, 0.3, 0);
        const double slope = sig_max_step(r->in[0], LEN);
        assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
        run(r, 0, at, PERIOD);
        assert_int_equal(aoip_mixer_set(r->mx, 0, 0, g1, false), 0);
        run(r, at, LEN - at, PERIOD);

        assert_gain_exact(r->out[0], r->in[0], 1.0f, RAMP, at);
        assert_no_click(r->out[0] + RAMP, LEN - RAMP, 1.0f - g1, slope, fmax(1.0, g1));
        assert_gain_exact(r->out[0], r->in[0], g1, at + RAMP, LEN);
        rig_free(r);
    }
}

static void mixer_mute_ramps_to_silence(void **state)
{
    (void)state;
    struct rig *r = rig_new(1, 1, 1, RAMP);
    const size_t at = 480;

    fill_dc(r->in[0], LEN, 1.0f);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
    run(r, 0, at, PERIOD);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, true), 0);
    run(r, at, LEN - at, PERIOD);

    assert_no_click(r->out[0], LEN, 1.0, 0.0, 1.0);
    assert_float_equal(r->out[0][at], 1.0f - 1.0f / RAMP, EPS);
    assert_true(r->out[0][at + RAMP / 2] > 0.25f);
    assert_silent(r->out[0], at + RAMP, LEN);
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 1);
    rig_free(r);
}

static void mixer_unmute_ramps_back_to_gain(void **state)
{
    (void)state;
    struct rig *r = rig_new(1, 1, 1, RAMP);
    const size_t at = 480;
    const float g = 0.25f;

    sig_tone(r->in[0], LEN, 1000.0, RATE, 1.0, 0.0, 0);
    const double slope = sig_max_step(r->in[0], LEN);
    /* Made muted: it stays silent and remembers its gain. */
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, g, true), 0);
    run(r, 0, at, PERIOD);
    assert_silent(r->out[0], 0, at);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, g, false), 0);
    run(r, at, LEN - at, PERIOD);

    assert_no_click(r->out[0], LEN, g, slope, g);
    assert_gain_exact(r->out[0], r->in[0], g, at + RAMP, LEN);
    rig_free(r);
}

static void mixer_removed_route_fades_out_and_frees_slot(void **state)
{
    (void)state;
    struct rig *r = rig_new(2, 1, 2, RAMP);
    const size_t at = 480;

    sig_tone(r->in[0], LEN, 1000.0, RATE, 1.0, 0.0, 0);
    fill_dc(r->in[1], LEN, 0.125f);
    const double slope = sig_max_step(r->in[0], LEN);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
    assert_int_equal(aoip_mixer_set(r->mx, 1, 0, 1.0f, false), 0);
    run(r, 0, at, PERIOD);
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 2);

    assert_int_equal(aoip_mixer_remove(r->mx, 0, 0), 0);
    /* Still fading one frame before the end of the ramp... */
    run(r, at, RAMP - 1, 7);
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 2);
    /* ...gone after its last frame. */
    run(r, at + RAMP - 1, 1, 1);
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 1);
    run(r, at + RAMP, LEN - at - RAMP, PERIOD);

    assert_no_click(r->out[0] + RAMP, LEN - RAMP, 1.0, slope, 1.0);
    /* Only the DC source is left, exactly. */
    assert_gain_exact(r->out[0], r->in[1], 1.0f, at + RAMP, LEN);
    assert_int_equal(aoip_mixer_remove(r->mx, 0, 0), -ENOENT);
    rig_free(r);
}

static void mixer_remove_of_unknown_route_reports_enoent(void **state)
{
    (void)state;
    struct rig *r = rig_new(2, 2, 4, RAMP);

    assert_int_equal(aoip_mixer_remove(r->mx, 0, 0), -ENOENT);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 1, 1.0f, false), 0);
    assert_int_equal(aoip_mixer_remove(r->mx, 1, 0), -ENOENT);
    assert_int_equal(aoip_mixer_remove(r->mx, 0, 1), 0);
    /* Removing twice: the second finds it already on its way out. */
    assert_int_equal(aoip_mixer_remove(r->mx, 0, 1), -ENOENT);
    assert_int_equal(aoip_mixer_remove(r->mx, 7, 7), -ENOENT);
    rig_free(r);
}

/* A 240-frame ramp cut into 48-frame periods, or into 7-frame ones that
 * never line up with a vector block, gives the same samples as one call. */
static void mixer_ramp_spans_periods(void **state)
{
    (void)state;
    static const uint32_t periods[] = { 48, 7, 1 };
    const size_t n = 1200;
    struct rig *whole = rig_new(2, 2, 4, RAMP);

    for (size_t c = 0; c < 2; c++)
        sig_tone(whole->in[c], LEN, 1000.0 + 500.0 * (double)c, RATE, 0.9, 0.1, 0);
    assert_int_equal(aoip_mixer_set(whole->mx, 0, 0, 0.5f, false), 0);
    assert_int_equal(aoip_mixer_set(whole->mx, 1, 0, 1.5f, false), 0);
    assert_int_equal(aoip_mixer_set(whole->mx, 1, 1, 1.0f, false), 0);
    run(whole, 0, n, (uint32_t)n);
    assert_int_equal(aoip_mixer_set(whole->mx, 0, 0, 0.1f, false), 0);
    assert_int_equal(aoip_mixer_remove(whole->mx, 1, 1), 0);
    run(whole, n, n, (uint32_t)n);

    for (size_t p = 0; p < sizeof periods / sizeof periods[0]; p++) {
        struct rig *cut = rig_new(2, 2, 4, RAMP);
        memcpy(cut->in, whole->in, sizeof cut->in);
        assert_int_equal(aoip_mixer_set(cut->mx, 0, 0, 0.5f, false), 0);
        assert_int_equal(aoip_mixer_set(cut->mx, 1, 0, 1.5f, false), 0);
        assert_int_equal(aoip_mixer_set(cut->mx, 1, 1, 1.0f, false), 0);
        run(cut, 0, n, periods[p]);
        assert_int_equal(aoip_mixer_set(cut->mx, 0, 0, 0.1f, false), 0);
        assert_int_equal(aoip_mixer_remove(cut->mx, 1, 1), 0);
        run(cut, n, n, periods[p]);
        assert_memory_equal(cut->out[0], whole->out[0], 2 * n * sizeof(float));
        assert_memory_equal(cut->out[1], whole->out[1], 2 * n * sizeof(float));
        rig_free(cut);
    }
    rig_free(whole);
}

static void mixer_change_mid_ramp_continues_from_current_gain(void **state)
{
    (void)state;
    struct rig *r = rig_new(1, 1, 1, RAMP);

    fill_dc(r->in[0], LEN, 1.0f);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
    run(r, 0, RAMP / 2, PERIOD);
    assert_float_equal(r->out[0][RAMP / 2 - 1], 0.5f, EPS);
    /* Halfway up, turn it down to silence: it falls from 0.5, not 1.0. */
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 0.0f, false), 0);
    run(r, RAMP / 2, LEN - RAMP / 2, PERIOD);

    assert_float_equal(r->out[0][RAMP / 2], 0.5f - 0.5f / RAMP, EPS);
    assert_no_click(r->out[0], LEN, 1.0, 0.0, 1.0);
    /* The new ramp takes a full ramp length from where it started. */
    assert_true(r->out[0][RAMP / 2 + RAMP - 2] > 0.0f);
    assert_silent(r->out[0], RAMP / 2 + RAMP, LEN);
    rig_free(r);
}

static void mixer_set_revives_a_fading_route_without_step(void **state)
{
    (void)state;
    struct rig *r = rig_new(1, 1, 1, RAMP);

    fill_dc(r->in[0], LEN, 1.0f);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
    run(r, 0, 480, PERIOD);
    assert_int_equal(aoip_mixer_remove(r->mx, 0, 0), 0);
    run(r, 480, 96, PERIOD);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
    run(r, 576, LEN - 576, PERIOD);

    assert_int_equal(aoip_mixer_crosspoints(r->mx), 1);
    assert_no_click(r->out[0], LEN, 1.0, 0.0, 1.0);
    assert_gain_exact(r->out[0], r->in[0], 1.0f, 576 + RAMP, LEN);
    rig_free(r);
}

static void mixer_sums_sources_into_destination(void **state)
{
    (void)state;
    struct rig *r = rig_new(3, 2, 8, RAMP);
    const float g0 = 0.5f, g2 = aoip_db_to_gain(-6.0f);

    sig_tone(r->in[0], LEN, 997.0, RATE, 0.5, 0.0, 0);
    sig_tone(r->in[1], LEN, 440.0, RATE, 0.9, 0.0, 0);
    sig_tone(r->in[2], LEN, 3000.0, RATE, 0.25, 1.0, 0);
    assert_int_equal(aoip_mixer_set(r->mx, 2, 1, g2, false), 0);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 1, g0, false), 0);
    run(r, 0, LEN, PERIOD);

    for (size_t i = RAMP; i < LEN; i++) {
        float want = 0.0f;
        want += g0 * r->in[0][i];
        want += g2 * r->in[2][i];
        if (r->out[1][i] != want)
            fail_msg("frame %zu: %.9g, want %.9g", i, (double)r->out[1][i], (double)want);
    }
    assert_silent(r->out[0], 0, LEN);
    rig_free(r);
}

/* Routes made in any order give the same bits: sources are summed in
 * source order. */
static void mixer_sum_does_not_depend_on_route_order(void **state)
{
    (void)state;
    static const uint32_t order[2][4] = { { 0, 1, 2, 3 }, { 3, 1, 0, 2 } };
    static float first[LEN];

    for (size_t o = 0; o < 2; o++) {
        struct rig *r = rig_new(4, 1, 4, RAMP);
        for (size_t s = 0; s < 4; s++)
            sig_tone(r->in[s], LEN, 100.0 * (double)(s + 1) + 0.37, RATE, 0.3, 0.7 * (double)s, 0);
        for (size_t k = 0; k < 4; k++) {
            uint32_t s = order[o][k];
            assert_int_equal(aoip_mixer_set(r->mx, s, 0, 0.1f + 0.3f * (float)s, false), 0);
        }
        run(r, 0, LEN, PERIOD);
        if (o == 0)
            memcpy(first, r->out[0], sizeof first);
        else
            assert_memory_equal(r->out[0], first, sizeof first);
        rig_free(r);
    }
}

/* One source to several destinations: each hears the tone at its own level. */
static void mixer_sends_one_source_to_each_destination_at_its_gain(void **state)
{
    (void)state;
    static const float db[] = { 0.0f, -6.0f, -20.0f };
    struct rig *r = rig_new(1, 3, 3, RAMP);

    sig_tone(r->in[0], LEN, 1000.0, RATE, 0.5, 0.2, 0);
    for (uint32_t d = 0; d < 3; d++)
        assert_int_equal(aoip_mixer_set(r->mx, 0, d, aoip_db_to_gain(db[d]), false), 0);
    run(r, 0, LEN, PERIOD);
    for (size_t d = 0; d < 3; d++) {
        struct sig_fit f;
        assert_int_equal(sig_fit_sine(r->out[d] + RAMP, LEN - RAMP, RATE, 1000.0, &f), 0);
        assert_float_equal(f.freq, 1000.0, 1e-3);
        assert_float_equal(sig_dbfs(f.amp), sig_dbfs(0.5) + db[d], 1e-3);
        assert_true(f.residual < 1e-6);
    }
    rig_free(r);
}

static void mixer_refuses_out_of_range_indices(void **state)
{
    (void)state;
    struct rig *r = rig_new(2, 3, 4, RAMP);

    assert_int_equal(aoip_mixer_set(r->mx, 2, 0, 1.0f, false), -EINVAL);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 3, 1.0f, false), -EINVAL);
    assert_int_equal(aoip_mixer_set(r->mx, UINT32_MAX, UINT32_MAX, 1.0f, false), -EINVAL);
    assert_int_equal(aoip_mixer_set(r->mx, 1, 2, 1.0f, false), 0);
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 1);
    rig_free(r);
}

static void mixer_refuses_non_finite_gain(void **state)
{
    (void)state;
    struct rig *r = rig_new(1, 1, 1, RAMP);

    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, NAN, false), -EINVAL);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, INFINITY, false), -EINVAL);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, -INFINITY, false), -EINVAL);
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 0);
    rig_free(r);
}

static void mixer_full_matrix_reports_enospc(void **state)
{
    (void)state;
    struct rig *r = rig_new(4, 4, 3, RAMP);

    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 1.0f, false), 0);
    assert_int_equal(aoip_mixer_set(r->mx, 1, 1, 1.0f, false), 0);
    assert_int_equal(aoip_mixer_set(r->mx, 2, 2, 1.0f, false), 0);
    assert_int_equal(aoip_mixer_set(r->mx, 3, 3, 1.0f, false), -ENOSPC);
    /* Changing a crosspoint that exists needs no slot. */
    assert_int_equal(aoip_mixer_set(r->mx, 1, 1, 0.5f, true), 0);
    /* A crosspoint fading out still holds its slot... */
    assert_int_equal(aoip_mixer_remove(r->mx, 0, 0), 0);
    assert_int_equal(aoip_mixer_set(r->mx, 3, 3, 1.0f, false), -ENOSPC);
    run(r, 0, RAMP, PERIOD);
    /* ...until it is gone. */
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 2);
    assert_int_equal(aoip_mixer_set(r->mx, 3, 3, 1.0f, false), 0);
    assert_int_equal(aoip_mixer_crosspoints(r->mx), 3);
    rig_free(r);
}

static void meter_reads_peak_and_rms_of_sine(void **state)
{
    (void)state;
    static float x[48000];
    struct aoip_meter m = { 0 };

    sig_tone(x, 48000, 997.0, RATE, 0.1, 0.0, 0); /* -20 dBFS */
    for (size_t at = 0; at < 48000; at += PERIOD)
        aoip_meter_update(&m, x + at, PERIOD);
    assert_int_equal(m.frames, 48000);
    assert_float_equal(aoip_meter_rms_dbfs(&m), -23.0103, 0.01);
    assert_float_equal(aoip_meter_peak_dbfs(&m), -20.0, 0.01);
    /* Odd periods, or one long call, read the same. */
    struct aoip_meter odd = { 0 }, whole = { 0 };
    for (size_t at = 0; at < 48000; at += 5)
        aoip_meter_update(&odd, x + at, 5);
    aoip_meter_update(&whole, x, 48000);
    assert_float_equal(aoip_meter_rms_dbfs(&odd), aoip_meter_rms_dbfs(&m), 1e-4);
    assert_float_equal(aoip_meter_rms_dbfs(&whole), aoip_meter_rms_dbfs(&m), 1e-4);
    assert_float_equal(odd.peak, m.peak, 0.0);
    assert_float_equal(whole.peak, m.peak, 0.0);
    assert_int_equal(whole.frames, 48000);
}

static void meter_reads_silence_as_minus_infinity(void **state)
{
    (void)state;
    float zeros[100] = { 0 };
    struct aoip_meter m = { 0 };

    assert_true(isinf(aoip_meter_rms_dbfs(&m)) && aoip_meter_rms_dbfs(&m) < 0);
    assert_true(isinf(aoip_meter_peak_dbfs(&m)) && aoip_meter_peak_dbfs(&m) < 0);
    aoip_meter_update(&m, zeros, 100);
    assert_int_equal(m.frames, 100);
    assert_true(isinf(aoip_meter_rms_dbfs(&m)) && aoip_meter_rms_dbfs(&m) < 0);
    assert_true(isinf(aoip_meter_peak_dbfs(&m)) && aoip_meter_peak_dbfs(&m) < 0);
}

static void mixer_meters_sources_and_destinations_until_read(void **state)
{
    (void)state;
    struct rig *r = rig_new(2, 2, 2, RAMP);
    struct aoip_meter m;

    sig_tone(r->in[0], LEN, 1000.0, RATE, 0.5, 0.0, 0);
    assert_int_equal(aoip_mixer_set(r->mx, 0, 0, 0.5f, false), 0);
    run(r, 0, 480, PERIOD);
    /* Reading starts afresh: what follows the fade-in is steady. */
    aoip_mixer_source_meter(r->mx, 0, &m);
    assert_int_equal(m.frames, 480);
    aoip_mixer_destination_meter(r->mx, 0, &m);
    assert_int_equal(m.frames, 480);
    run(r, 480, LEN - 480, PERIOD);

    aoip_mixer_source_meter(r->mx, 0, &m);
    assert_int_equal(m.frames, LEN - 480);
    assert_float_equal(aoip_meter_rms_dbfs(&m), sig_dbfs(0.5) - 3.0103, 0.01);
    assert_float_equal(aoip_meter_peak_dbfs(&m), sig_dbfs(0.5), 0.01);
    aoip_mixer_destination_meter(r->mx, 0, &m);
    assert_float_equal(aoip_meter_rms_dbfs(&m), sig_dbfs(0.25) - 3.0103, 0.01);
    assert_float_equal(aoip_meter_peak_dbfs(&m), sig_dbfs(0.25), 0.01);
    /* Read again at once: nothing since the last read. */
    aoip_mixer_destination_meter(r->mx, 0, &m);
    assert_int_equal(m.frames, 0);
    assert_float_equal(m.peak, 0.0f, 0.0);
    /* The silent source, never read so far, and the destination nothing
     * feeds. */
    aoip_mixer_source_meter(r->mx, 1, &m);
    assert_int_equal(m.frames, LEN);
    assert_true(isinf(aoip_meter_rms_dbfs(&m)));
    aoip_mixer_destination_meter(r->mx, 1, &m);
    assert_true(isinf(aoip_meter_peak_dbfs(&m)));
    /* Out of range reads as an empty meter. */
    m.frames = 99;
    aoip_mixer_destination_meter(r->mx, 2, &m);
    assert_int_equal(m.frames, 0);
    rig_free(r);
}

static void db_and_gain_convert_with_minus_infinity_as_silence(void **state)
{
    (void)state;
    assert_float_equal(aoip_db_to_gain(-INFINITY), 0.0f, 0.0);
    assert_true(isinf(aoip_gain_to_db(0.0f)) && aoip_gain_to_db(0.0f) < 0);
    assert_float_equal(aoip_db_to_gain(0.0f), 1.0f, 0.0);
    assert_float_equal(aoip_gain_to_db(1.0f), 0.0f, 0.0);
    assert_float_equal(aoip_db_to_gain(20.0f), 10.0f, 1e-5);
    assert_float_equal(aoip_db_to_gain(-6.0206f), 0.5f, 1e-5);
    assert_float_equal(aoip_gain_to_db(0.1f), -20.0f, 1e-4);
    assert_float_equal(aoip_gain_to_db(-0.5f), -6.0206f, 1e-4);
    for (float db = -120.0f; db <= 24.0f; db += 0.5f)
        assert_float_equal(aoip_gain_to_db(aoip_db_to_gain(db)), db, 1e-4);
}

static void mixer_meters_only_the_first_sources_when_told(void **state)
{
    (void)state;
    struct aoip_mixer_config cfg = { .sources = 4,
                                     .destinations = 1,
                                     .max_crosspoints = 4,
                                     .max_frames = 48,
                                     .metered_sources = 2 };
    struct aoip_mixer *mx = aoip_mixer_new(&cfg);
    float s[4][48], d[48];
    const float *src[4] = { s[0], s[1], s[2], s[3] };
    float *dst[1] = { d };
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 48; i++)
            s[c][i] = 0.5f;
    aoip_mixer_process(mx, src, dst, 48);
    struct aoip_meter m;
    aoip_mixer_source_meter(mx, 1, &m);
    assert_int_equal(m.frames, 48);
    assert_float_equal(m.peak, 0.5, 1e-9);
    aoip_mixer_source_meter(mx, 2, &m);
    assert_int_equal(m.frames, 0);
    aoip_mixer_free(mx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixer_meters_only_the_first_sources_when_told),
        cmocka_unit_test(mixer_new_refuses_zero_sizes),
        cmocka_unit_test(mixer_new_refuses_absurd_sizes),
        cmocka_unit_test(mixer_free_accepts_null),
        cmocka_unit_test(mixer_silences_destinations_without_crosspoints),
        cmocka_unit_test(mixer_new_route_fades_in),
        cmocka_unit_test(mixer_ramp_defaults_to_240_frames),
        cmocka_unit_test(mixer_ramps_gain_change_without_step),
        cmocka_unit_test(mixer_mute_ramps_to_silence),
        cmocka_unit_test(mixer_unmute_ramps_back_to_gain),
        cmocka_unit_test(mixer_removed_route_fades_out_and_frees_slot),
        cmocka_unit_test(mixer_remove_of_unknown_route_reports_enoent),
        cmocka_unit_test(mixer_ramp_spans_periods),
        cmocka_unit_test(mixer_change_mid_ramp_continues_from_current_gain),
        cmocka_unit_test(mixer_set_revives_a_fading_route_without_step),
        cmocka_unit_test(mixer_sums_sources_into_destination),
        cmocka_unit_test(mixer_sum_does_not_depend_on_route_order),
        cmocka_unit_test(mixer_sends_one_source_to_each_destination_at_its_gain),
        cmocka_unit_test(mixer_refuses_out_of_range_indices),
        cmocka_unit_test(mixer_refuses_non_finite_gain),
        cmocka_unit_test(mixer_full_matrix_reports_enospc),
        cmocka_unit_test(meter_reads_peak_and_rms_of_sine),
        cmocka_unit_test(meter_reads_silence_as_minus_infinity),
        cmocka_unit_test(mixer_meters_sources_and_destinations_until_read),
        cmocka_unit_test(db_and_gain_convert_with_minus_infinity_as_silence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
