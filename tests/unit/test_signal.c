/*
 * test_signal.c: the analysis the other tests trust must itself be right.
 *
 * If the sine fit misread a level or missed a gap, every audio test above
 * it would pass for the wrong reason; these tests feed it signals whose
 * answers are known in closed form.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "netmodel.h"
#include "sig.h"

#define RATE 48000.0
#define N    4800

static void fit_reads_frequency_level_and_phase(void **state)
{
    (void)state;
    static float x[N];
    sig_tone(x, N, 997.0, RATE, 0.1, 0.5, 0);
    struct sig_fit f;
    assert_int_equal(sig_fit_sine(x, N, RATE, 0.0, &f), 0);
    assert_float_equal(f.freq, 997.0, 1e-3);
    assert_float_equal(sig_dbfs(f.amp), -20.0, 1e-3);
    assert_float_equal(f.phase, 0.5, 1e-4);
    assert_true(f.residual < 1e-7);
}

static void fit_refines_a_wrong_hint(void **state)
{
    (void)state;
    static float x[N];
    sig_tone(x, N, 1000.0, RATE, 0.5, 0.0, 123456789);
    struct sig_fit f;
    assert_int_equal(sig_fit_sine(x, N, RATE, 1003.0, &f), 0);
    assert_float_equal(f.freq, 1000.0, 1e-3);
    assert_float_equal(f.amp, 0.5, 1e-6);
}

static void fit_refuses_silence(void **state)
{
    (void)state;
    static float x[N];
    struct sig_fit f;
    assert_int_equal(sig_fit_sine(x, N, RATE, 0.0, &f), -1);
}

static void glitches_find_a_gap(void **state)
{
    (void)state;
    static float x[N];
    sig_tone(x, N, 440.0, RATE, 0.25, 0.0, 0);
    struct sig_fit f;
    assert_int_equal(sig_fit_sine(x, N, RATE, 0.0, &f), 0);
    size_t first;
    assert_int_equal(sig_count_glitches(x, N, RATE, &f, 1e-4, &first), 0);
    assert_int_equal(first, N);

    for (size_t i = 2000; i < 2048; i++)
        x[i] = 0.0f;
    /* Only samples where the tone is far from zero can show the gap. */
    size_t n = sig_count_glitches(x, N, RATE, &f, 1e-2, &first);
    assert_in_range(n, 40, 48);
    assert_in_range(first, 2000, 2002);
}

static void rms_of_full_scale_sine_is_minus_3_dbfs(void **state)
{
    (void)state;
    static float x[N];
    sig_tone(x, N, 1000.0, RATE, 1.0, 0.0, 0);
    assert_float_equal(sig_rms_dbfs(x, N), -3.0103, 1e-3);
    assert_float_equal(sig_peak(x, N), 1.0, 1e-6);
}

static void max_step_of_sine_is_its_slope(void **state)
{
    (void)state;
    static float x[N];
    sig_tone(x, N, 1000.0, RATE, 1.0, 0.0, 0);
    /* |sin(a + w) - sin(a)| = 2 sin(w/2) |cos(a + w/2)|; at 48 samples a cycle
     * a + w/2 comes no closer to a multiple of pi than pi/48. */
    double pi = 3.14159265358979323846, w = 2.0 * pi * 1000.0 / RATE;
    assert_float_equal(sig_max_step(x, N), 2.0 * sin(w / 2.0) * cos(pi / 48.0), 1e-6);
}

static void delay_finds_the_lag(void **state)
{
    (void)state;
    static float noise[N], y[N + 300];
    struct netmodel_rng r;
    netmodel_rng_seed(&r, 7);
    for (size_t i = 0; i < N; i++)
        noise[i] = (float)(netmodel_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < N + 300; i++)
        y[i] = i >= 217 && i - 217 < N ? noise[i - 217] : 0.0f;
    double score;
    assert_int_equal(sig_delay(noise, 1000, y, N + 300, 300, &score), 217);
    assert_float_equal(score, 1.0, 1e-9);
}

/* 440 Hz at -20 dBFS plus 554 Hz at -26 dBFS: a major third, as a channel
 * carrying two test tones would. */
static void two_tones(float *x, size_t n)
{
    static float b[N];
    sig_tone(x, n, 440.0, RATE, pow(10.0, -20.0 / 20.0), 0.3, 0);
    sig_tone(b, n, 554.0, RATE, pow(10.0, -26.0 / 20.0), -1.2, 0);
    for (size_t i = 0; i < n; i++)
        x[i] += b[i];
}

static void tones_fit_reads_each_level_of_a_sum(void **state)
{
    (void)state;
    static float x[N];
    two_tones(x, N);
    double freqs[2] = { 440.0, 554.0 }, amps[2], phases[2], residual;
    assert_int_equal(sig_fit_tones(x, N, RATE, freqs, 2, amps, phases, &residual), 0);
    assert_float_equal(sig_dbfs(amps[0]), -20.0, 1e-3);
    assert_float_equal(sig_dbfs(amps[1]), -26.0, 1e-3);
    assert_float_equal(phases[0], 0.3, 1e-4);
    assert_float_equal(phases[1], -1.2, 1e-4);
    assert_true(residual < 1e-7);
}

static void tones_fit_of_one_tone_alone_is_disturbed_by_the_other(void **state)
{
    (void)state;
    static float x[N];
    two_tones(x, N);
    /* Why the fit is joint: on a short block the other tone leaks into a
     * one-tone fit, here by more than the 0.1 dB a level check allows. */
    double freqs[1] = { 440.0 }, amps[1], residual;
    assert_int_equal(sig_fit_tones(x, 480, RATE, freqs, 1, amps, NULL, &residual), 0);
    assert_true(fabs(sig_dbfs(amps[0]) + 20.0) > 0.1);
    assert_true(residual > 0.02);
}

static void tones_fit_reads_an_absent_tone_as_zero(void **state)
{
    (void)state;
    static float x[N];
    two_tones(x, N);
    double freqs[3] = { 440.0, 554.0, 660.0 }, amps[3];
    assert_int_equal(sig_fit_tones(x, N, RATE, freqs, 3, amps, NULL, NULL), 0);
    assert_float_equal(sig_dbfs(amps[0]), -20.0, 1e-3);
    assert_float_equal(sig_dbfs(amps[1]), -26.0, 1e-3);
    assert_true(amps[2] < 1e-6);
}

static void tones_fit_residual_measures_a_click(void **state)
{
    (void)state;
    static float x[N];
    two_tones(x, N);
    x[1234] += 0.05f;
    double freqs[2] = { 440.0, 554.0 }, amps[2], residual;
    assert_int_equal(sig_fit_tones(x, N, RATE, freqs, 2, amps, NULL, &residual), 0);
    /* One sample of 0.05 in N is an RMS of 0.05 / sqrt(N); the fit absorbs
     * only the click's share along its five basis signals. */
    assert_float_equal(residual, 0.05 / sqrt((double)N), 0.05 / sqrt((double)N) * 1e-2);
}

static void tones_fit_reads_eight_tones_over_a_minute(void **state)
{
    (void)state;
    /* A minute at 48 kHz, 2.9 million steps of the rotation basis: it must
     * not drift. */
    size_t n = 60 * 48000;
    float *x = calloc(n, sizeof(*x)), *t = calloc(n, sizeof(*t));
    assert_non_null(x);
    assert_non_null(t);
    double freqs[SIG_MAX_TONES], amps[SIG_MAX_TONES], residual;
    for (size_t j = 0; j < SIG_MAX_TONES; j++) {
        freqs[j] = 250.0 + 1234.5 * (double)j;
        sig_tone(t, n, freqs[j], RATE, 0.01 * (double)(j + 1), 0.1 * (double)j, 0);
        for (size_t i = 0; i < n; i++)
            x[i] += t[i];
    }
    assert_int_equal(sig_fit_tones(x, n, RATE, freqs, SIG_MAX_TONES, amps, NULL, &residual), 0);
    for (size_t j = 0; j < SIG_MAX_TONES; j++)
        assert_float_equal(amps[j], 0.01 * (double)(j + 1), 1e-6);
    assert_true(residual < 1e-7);
    free(x);
    free(t);
}

static void tones_fit_refuses_what_it_cannot_solve(void **state)
{
    (void)state;
    static float x[N];
    two_tones(x, N);
    double same[2] = { 440.0, 440.0 }, nine[9] = { 100, 200, 300, 400, 500, 600, 700, 800, 900 };
    double nyquist[1] = { 24000.0 }, amps[9];
    assert_int_equal(sig_fit_tones(x, N, RATE, same, 0, amps, NULL, NULL), -1);
    assert_int_equal(sig_fit_tones(x, N, RATE, nine, 9, amps, NULL, NULL), -1);
    assert_int_equal(sig_fit_tones(x, N, RATE, same, 2, amps, NULL, NULL), -1);
    assert_int_equal(sig_fit_tones(x, N, RATE, nyquist, 1, amps, NULL, NULL), -1);
    assert_int_equal(sig_fit_tones(x, 4, RATE, nine, 2, amps, NULL, NULL), -1);
}

static void netmodel_replays_with_the_same_seed(void **state)
{
    (void)state;
    struct netmodel_config cfg = {
        .seed = 42, .delay_ns = 1000000, .jitter_ns = 500000, .loss = 0.1, .duplicate = 0.05
    };
    struct netmodel a, b;
    netmodel_init(&a, &cfg);
    netmodel_init(&b, &cfg);
    unsigned dropped = 0, doubled = 0;
    for (int i = 0; i < 10000; i++) {
        struct netmodel_fate fa, fb;
        netmodel_send(&a, i * 1000000LL, &fa);
        netmodel_send(&b, i * 1000000LL, &fb);
        assert_int_equal(fa.copies, fb.copies);
        assert_true(fa.arrival_ns[0] == fb.arrival_ns[0]);
        assert_in_range(fa.arrival_ns[0] - i * 1000000LL, 1000000, 1500000);
        dropped += fa.copies == 0;
        doubled += fa.copies == 2;
    }
    /* 10 % and 4.5 % of 10000, within a few standard deviations. */
    assert_in_range(dropped, 900, 1100);
    assert_in_range(doubled, 380, 520);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fit_reads_frequency_level_and_phase),
        cmocka_unit_test(fit_refines_a_wrong_hint),
        cmocka_unit_test(fit_refuses_silence),
        cmocka_unit_test(glitches_find_a_gap),
        cmocka_unit_test(rms_of_full_scale_sine_is_minus_3_dbfs),
        cmocka_unit_test(max_step_of_sine_is_its_slope),
        cmocka_unit_test(delay_finds_the_lag),
        cmocka_unit_test(tones_fit_reads_each_level_of_a_sum),
        cmocka_unit_test(tones_fit_of_one_tone_alone_is_disturbed_by_the_other),
        cmocka_unit_test(tones_fit_reads_an_absent_tone_as_zero),
        cmocka_unit_test(tones_fit_residual_measures_a_click),
        cmocka_unit_test(tones_fit_reads_eight_tones_over_a_minute),
        cmocka_unit_test(tones_fit_refuses_what_it_cannot_solve),
        cmocka_unit_test(netmodel_replays_with_the_same_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
