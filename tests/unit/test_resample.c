/*
 * test_resample.c: the resampler as clock recovery drives it.
 *
 * Tones of known frequency go in at -1 dBFS, in periods, with the ratio set
 * before every period as clock recovery would, and what comes out is
 * analysed. The test keeps its own account of where each output frame
 * should sample the input: frame k at input time (the ratios of frames
 * 0..k-1 summed) - delay. At a constant ratio the output is a plain tone
 * and sig_fit_sine reads its frequency, level and residual. While the ratio
 * moves, the output is legitimately phase-modulated, so its fundamental is
 * fitted along that account of time instead (amplitude, phase and DC free):
 * whatever the fit leaves is distortion, noise, a click or a time error.
 * THD+N is the residual against the fitted tone's RMS; the filter settles
 * before SETTLE frames and the analysis starts after.
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

#include "aoip/resample.h"
#include "netmodel.h"
#include "sig.h"

#define RATE   48000.0
#define PERIOD 48
#define AMP    0.89125093813374556 /* -1 dBFS */
#define SETTLE 480
#define MAXCH  AOIP_RESAMPLE_MAX_CHANNELS
#define PI     3.14159265358979323846
/* What the issue asks of every tone. */
#define THDN_LIMIT_DB (-120.0)

/* ------------------------------------------------------------------------ */
/* The rig: input tones, the ratio schedule, the output and where it should sample. */

typedef double (*ratio_fn)(uint64_t period, const void *arg);

struct run {
    unsigned channels;
    size_t frames;     /* output frames */
    size_t in_len;     /* input frames available per channel */
    size_t consumed;   /* input frames taken */
    float *in[MAXCH];  /* in_len each */
    float *out[MAXCH]; /* frames each */
    int64_t *whole;    /* input time of output frame k: whole[k] + frac[k] */
    double *frac;
};

static void run_init(struct run *r, unsigned channels, size_t frames)
{
    memset(r, 0, sizeof(*r));
    r->channels = channels;
    r->frames = frames;
    r->in_len = frames + frames / 256 + 4 * 256;
    for (unsigned c = 0; c < channels; c++) {
        r->in[c] = calloc(r->in_len, sizeof(float));
        r->out[c] = calloc(frames, sizeof(float));
        assert_non_null(r->in[c]);
        assert_non_null(r->out[c]);
    }
    r->whole = calloc(frames, sizeof(int64_t));
    r->frac = calloc(frames, sizeof(double));
    assert_non_null(r->whole);
    assert_non_null(r->frac);
}

static void run_tone(struct run *r, unsigned c, double freq)
{
    sig_tone(r->in[c], r->in_len, freq, RATE, AMP, 0.0, 0);
}

static void run_free(struct run *r)
{
    for (unsigned c = 0; c < r->channels; c++) {
        free(r->in[c]);
        free(r->out[c]);
    }
    free(r->whole);
    free(r->frac);
}

static struct aoip_resampler *resampler(unsigned channels, uint32_t max_out)
{
    struct aoip_resampler_config cfg = { .channels = channels, .max_out_frames = max_out };
    struct aoip_resampler *rs = aoip_resampler_new(&cfg);
    assert_non_null(rs);
    return rs;
}

/*
 * Drive rs over the whole run in periods of `period` frames, the ratio from
 * fn before each, and keep the account of input time per output frame.
 */
static void run_drive(struct run *r, struct aoip_resampler *rs, uint32_t period, ratio_fn fn,
                      const void *arg)
{
    int64_t whole = -(int64_t)aoip_resampler_delay(rs);
    double frac = 0.0;
    const float *in[MAXCH];
    float *out[MAXCH];
    for (size_t k = 0, p = 0; k < r->frames; p++) {
        uint32_t n = (uint32_t)(r->frames - k < period ? r->frames - k : period);
        double ratio = fn(p, arg);
        aoip_resampler_set_ratio(rs, ratio);
        uint32_t need = aoip_resampler_needed(rs, n);
        assert_true(r->consumed + need <= r->in_len);
        for (unsigned c = 0; c < r->channels; c++) {
            in[c] = r->in[c] + r->consumed;
            out[c] = r->out[c] + k;
        }
        assert_int_equal(aoip_resampler_process(rs, in, need, out, n), 0);
        r->consumed += need;
        for (uint32_t j = 0; j < n; j++, k++) {
            r->whole[k] = whole;
            r->frac[k] = frac;
            frac += ratio;
            double carry = floor(frac);
            whole += (int64_t)carry;
            frac -= carry;
        }
    }
}

static double constant(uint64_t period, const void *arg)
{
    (void)period;
    return *(const double *)arg;
}

/* 1 + 100 ppm, wobbling +-50 ppm sinusoidally once every 250 periods. */
static double wobble_sine(uint64_t period, const void *arg)
{
    (void)arg;
    return 1.0 + 100e-6 + 50e-6 * sin(2.0 * PI * (double)period / 250.0);
}

/* 1 + 100 ppm, stepping +-50 ppm every period. */
static double wobble_step(uint64_t period, const void *arg)
{
    (void)arg;
    return 1.0 + 100e-6 + (period % 2 ? 50e-6 : -50e-6);
}

/* 1 +- 1000 ppm, the whole swing every period. */
static double swing(uint64_t period, const void *arg)
{
    (void)arg;
    return 1.0 + (period % 2 ? 1000e-6 : -1000e-6);
}

/* ------------------------------------------------------------------------ */
/* Analysis */

static double thdn_db(const struct sig_fit *f)
{
    return 20.0 * log10(f->residual / (f->amp / sqrt(2.0)));
}

/* Fit a plain tone to output channel c after SETTLE; THD+N in dB. */
static double fit_plain(const struct run *r, unsigned c, double hint, struct sig_fit *f)
{
    assert_int_equal(sig_fit_sine(r->out[c] + SETTLE, r->frames - SETTLE, RATE, hint, f), 0);
    return thdn_db(f);
}

/* Solve the 3 x 3 system m v = b (Gaussian elimination, partial pivoting). */
static void solve3(double m[3][3], double b[3], double v[3])
{
    for (int col = 0; col < 3; col++) {
        int piv = col;
        for (int row = col + 1; row < 3; row++)
            if (fabs(m[row][col]) > fabs(m[piv][col]))
                piv = row;
        for (int j = 0; j < 3; j++) {
            double t = m[col][j];
            m[col][j] = m[piv][j];
            m[piv][j] = t;
        }
        double t = b[col];
        b[col] = b[piv];
        b[piv] = t;
        for (int row = col + 1; row < 3; row++) {
            double f = m[row][col] / m[col][col];
            for (int j = col; j < 3; j++)
                m[row][j] -= f * m[col][j];
            b[row] -= f * b[col];
        }
    }
    for (int row = 2; row >= 0; row--) {
        double s = b[row];
        for (int j = row + 1; j < 3; j++)
            s -= m[row][j] * v[j];
        v[row] = s / m[row][row];
    }
}

struct track_fit {
    double amp;
    double thdn_db;
    double max_error; /* largest |output - fitted tone| */
};

/* The phase of a tone of freq Hz at input time whole + frac, reduced to one cycle. */
static double track_phase(int64_t whole, double frac, double freq)
{
    double cycles = (double)whole * freq / RATE;
    cycles -= floor(cycles);
    cycles += frac * freq / RATE;
    return 2.0 * PI * (cycles - floor(cycles));
}

/*
 * Fit a sin(th_k) + b cos(th_k) + dc to channel c over frames [from, to),
 * th_k the phase of the input tone at output frame k's input time.
 */
static struct track_fit fit_track(const struct run *r, unsigned c, double freq, size_t from,
                                  size_t to)
{
    double m[3][3] = { { 0 } }, b[3] = { 0 }, v[3] = { 0 };
    for (size_t k = from; k < to; k++) {
        double th = track_phase(r->whole[k], r->frac[k], freq);
        double g[3] = { sin(th), cos(th), 1.0 };
        for (int i = 0; i < 3; i++) {
            b[i] += g[i] * r->out[c][k];
            for (int j = 0; j < 3; j++)
                m[i][j] += g[i] * g[j];
        }
    }
    solve3(m, b, v);
    double sum = 0.0, worst = 0.0;
    for (size_t k = from; k < to; k++) {
        double th = track_phase(r->whole[k], r->frac[k], freq);
        double e = r->out[c][k] - (v[0] * sin(th) + v[1] * cos(th) + v[2]);
        sum += e * e;
        worst = fmax(worst, fabs(e));
    }
    struct track_fit f = { .amp = hypot(v[0], v[1]) };
    f.thdn_db = 20.0 * log10(sqrt(sum / (double)(to - from)) / (f.amp / sqrt(2.0)));
    f.max_error = worst;
    return f;
}

/* The largest step a sampled sine of this frequency and amplitude takes. */
static double sine_step(double freq, double amp)
{
    return 2.0 * amp * sin(PI * freq / RATE);
}

/* ------------------------------------------------------------------------ */
/* Passthrough and delay */

static void passthrough_is_bit_exact_at_ratio_one(void **state)
{
    (void)state;
    /* Noise over the whole band: any filtering at all would change it. Two
     * and eight channels: one of each history layout. */
    const unsigned counts[] = { 2, 8 };
    for (size_t i = 0; i < 2; i++) {
        struct aoip_resampler *rs = resampler(counts[i], PERIOD);
        struct run r;
        run_init(&r, counts[i], 4800);
        struct netmodel_rng rng;
        netmodel_rng_seed(&rng, 42 + i);
        for (unsigned c = 0; c < r.channels; c++)
            for (size_t k = 0; k < r.in_len; k++)
                r.in[c][k] = (float)(2.0 * netmodel_rng_uniform(&rng) - 1.0);
        double one = 1.0;
        run_drive(&r, rs, PERIOD, constant, &one);

        size_t d = (size_t)aoip_resampler_delay(rs);
        assert_int_equal(r.consumed, r.frames);
        for (unsigned c = 0; c < r.channels; c++) {
            for (size_t k = 0; k < d; k++)
                assert_true(r.out[c][k] == 0.0f);
            assert_memory_equal(r.out[c] + d, r.in[c], sizeof(float) * (r.frames - d));
        }
        run_free(&r);
        aoip_resampler_free(rs);
    }
}

static void delay_is_a_constant_whole_number_of_frames(void **state)
{
    (void)state;
    struct aoip_resampler *rs = resampler(1, PERIOD);
    double d = aoip_resampler_delay(rs);
    assert_true(d > 0.0 && d == floor(d));
    const double ratios[] = { 1.0, 1.0 + 1000e-6, 1.0 - 2000e-6 };
    for (size_t i = 0; i < 3; i++) {
        aoip_resampler_set_ratio(rs, ratios[i]);
        assert_true(aoip_resampler_delay(rs) == d);
    }
    aoip_resampler_reset(rs);
    assert_true(aoip_resampler_delay(rs) == d);
    aoip_resampler_free(rs);
}

static void filtered_impulse_peaks_after_the_delay_symmetrically(void **state)
{
    (void)state;
    /* A ratio a hair off 1 takes the filter path, at a fraction of 1e-9
     * frame by the impulse: a linear-phase filter centred on the delay. */
    struct aoip_resampler *rs = resampler(1, PERIOD);
    struct run r;
    run_init(&r, 1, 2400);
    const size_t at = 1000;
    r.in[0][at] = 1.0f;
    double ratio = 1.0 + 1e-12;
    run_drive(&r, rs, PERIOD, constant, &ratio);

    size_t peak = at + (size_t)aoip_resampler_delay(rs);
    for (size_t k = 0; k < r.frames; k++)
        assert_true(fabsf(r.out[0][k]) <= r.out[0][peak]);
    assert_true(r.out[0][peak] > 0.9f);
    for (size_t j = 1; j < 52; j++)
        assert_float_equal(r.out[0][peak - j], r.out[0][peak + j], 1e-6);
    run_free(&r);
    aoip_resampler_free(rs);
}

static void filter_path_lines_up_with_passthrough(void **state)
{
    (void)state;
    /* Same tone through the passthrough (ratio 1) and through the filter
     * (1 + 1e-12, a drift of 5e-8 frames over the run): no time shift
     * between the two, so they agree sample for sample to the filter's
     * passband ripple. */
    const double freqs[] = { 997.0, 10000.0 };
    for (size_t i = 0; i < 2; i++) {
        struct run a, b;
        double one = 1.0, hair = 1.0 + 1e-12;
        struct aoip_resampler *ra = resampler(1, PERIOD), *rb = resampler(1, PERIOD);
        run_init(&a, 1, 48000);
        run_init(&b, 1, 48000);
        run_tone(&a, 0, freqs[i]);
        run_tone(&b, 0, freqs[i]);
        run_drive(&a, ra, PERIOD, constant, &one);
        run_drive(&b, rb, PERIOD, constant, &hair);
        double sum = 0.0;
        for (size_t k = SETTLE; k < a.frames; k++) {
            double e = (double)a.out[0][k] - b.out[0][k];
            sum += e * e;
            assert_float_equal(a.out[0][k], b.out[0][k], 2e-6);
        }
        double db = 20.0 * log10(sqrt(sum / (double)(a.frames - SETTLE)) / (AMP / sqrt(2.0)));
        print_message("passthrough vs filter at %5.0f Hz: difference %.1f dB\n", freqs[i], db);
        assert_true(db < THDN_LIMIT_DB);
        run_free(&a);
        run_free(&b);
        aoip_resampler_free(ra);
        aoip_resampler_free(rb);
    }
}

static double pass_filter_pass(uint64_t period, const void *arg)
{
    (void)arg;
    /* 2^-10 over 1024 frames is exactly one frame: the fraction comes back to 0. */
    return period >= 16 && period < 32 ? 1.0 + 0x1p-10 : 1.0;
}

static void switching_to_filter_and_back_does_not_move_the_audio(void **state)
{
    (void)state;
    const uint32_t period = 64;
    struct aoip_resampler *rs = resampler(1, period);
    struct run r;
    run_init(&r, 1, 48 * period);
    run_tone(&r, 0, 997.0);
    run_drive(&r, rs, period, pass_filter_pass, NULL);

    /* One tone throughout, along the account of time, with no step ... */
    struct track_fit f = fit_track(&r, 0, 997.0, 2 * SETTLE, r.frames);
    print_message("pass-filter-pass: THD+N %.1f dB, worst sample %.2g\n", f.thdn_db, f.max_error);
    assert_true(f.thdn_db < THDN_LIMIT_DB);
    assert_true(f.max_error < 1e-5);
    assert_true(sig_max_step(r.out[0] + SETTLE, r.frames - SETTLE) <=
                sine_step(997.0 * (1.0 + 0x1p-10), AMP) + 1e-6);

    /* ... and untouched copies before and after, the second one frame on. */
    size_t d = (size_t)aoip_resampler_delay(rs);
    assert_memory_equal(r.out[0] + d, r.in[0], sizeof(float) * (16 * period - d));
    size_t after = 32 * period;
    assert_memory_equal(r.out[0] + after, r.in[0] + after - d + 1,
                        sizeof(float) * (r.frames - after));
    run_free(&r);
    aoip_resampler_free(rs);
}

/* ------------------------------------------------------------------------ */
/* Quality */

static void output_frequency_is_input_frequency_times_ratio(void **state)
{
    (void)state;
    const double ratios[] = { 1.0 + 200e-6, 1.0 - 500e-6, 1.0 + 1000e-6 };
    for (size_t i = 0; i < 3; i++) {
        struct aoip_resampler *rs = resampler(1, PERIOD);
        struct run r;
        run_init(&r, 1, 48000);
        run_tone(&r, 0, 997.0);
        run_drive(&r, rs, PERIOD, constant, &ratios[i]);
        struct sig_fit f;
        fit_plain(&r, 0, 997.0 * ratios[i], &f);
        double err = f.freq / (997.0 * ratios[i]) - 1.0;
        print_message("ratio %.6f: %.9f Hz, %.2g relative error\n", ratios[i], f.freq, err);
        assert_true(fabs(err) < 1e-9);
        assert_float_equal(sig_dbfs(f.amp), -1.0, 1e-3);
        run_free(&r);
        aoip_resampler_free(rs);
    }
}

static void thdn_is_below_minus_120_db_at_constant_ratios(void **state)
{
    (void)state;
    const double freqs[] = { 997.0, 10000.0 };
    const double ratios[] = { 1.0 + 200e-6, 1.0 - 500e-6, 1.0 + 1000e-6 };
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 3; j++) {
            struct aoip_resampler *rs = resampler(1, PERIOD);
            struct run r;
            run_init(&r, 1, 48000);
            run_tone(&r, 0, freqs[i]);
            run_drive(&r, rs, PERIOD, constant, &ratios[j]);
            struct sig_fit f;
            double db = fit_plain(&r, 0, freqs[i] * ratios[j], &f);
            print_message("%5.0f Hz at ratio %.6f: THD+N %.1f dB\n", freqs[i], ratios[j], db);
            assert_true(db < THDN_LIMIT_DB);
            run_free(&r);
            aoip_resampler_free(rs);
        }
    }
}

static void thdn_is_below_minus_120_db_while_the_ratio_wobbles(void **state)
{
    (void)state;
    const double freqs[] = { 997.0, 10000.0 };
    const ratio_fn wobbles[] = { wobble_sine, wobble_step };
    const char *names[] = { "sine", "step" };
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            struct aoip_resampler *rs = resampler(1, PERIOD);
            struct run r;
            run_init(&r, 1, 48000);
            run_tone(&r, 0, freqs[i]);
            run_drive(&r, rs, PERIOD, wobbles[j], NULL);
            struct track_fit f = fit_track(&r, 0, freqs[i], SETTLE, r.frames);
            print_message("%5.0f Hz, ratio wobbling +-50 ppm (%s): THD+N %.1f dB\n", freqs[i],
                          names[j], f.thdn_db);
            assert_true(f.thdn_db < THDN_LIMIT_DB);
            assert_float_equal(sig_dbfs(f.amp), -1.0, 1e-3);
            run_free(&r);
            aoip_resampler_free(rs);
        }
    }
}

static void ratio_swinging_every_period_does_not_click(void **state)
{
    (void)state;
    /* 2000 ppm up and down every period, far rougher than clock recovery. */
    struct aoip_resampler *rs = resampler(1, PERIOD);
    struct run r;
    run_init(&r, 1, 48000);
    run_tone(&r, 0, 997.0);
    run_drive(&r, rs, PERIOD, swing, NULL);
    struct track_fit f = fit_track(&r, 0, 997.0, SETTLE, r.frames);
    print_message("ratio swinging +-1000 ppm: THD+N %.1f dB, worst sample %.2g\n", f.thdn_db,
                  f.max_error);
    assert_true(f.thdn_db < THDN_LIMIT_DB);
    assert_true(f.max_error < 1e-5);
    assert_true(sig_max_step(r.out[0] + SETTLE, r.frames - SETTLE) <=
                sine_step(997.0 * 1.001, AMP) + 1e-6);
    run_free(&r);
    aoip_resampler_free(rs);
}

static void passband_is_flat_to_20_khz(void **state)
{
    (void)state;
    const double freqs[] = { 100.0, 1000.0, 10000.0, 15000.0, 20000.0 };
    double ratio = 1.0 + 1000e-6;
    for (size_t i = 0; i < 5; i++) {
        struct aoip_resampler *rs = resampler(1, PERIOD);
        struct run r;
        run_init(&r, 1, 24000);
        run_tone(&r, 0, freqs[i]);
        run_drive(&r, rs, PERIOD, constant, &ratio);
        struct sig_fit f;
        fit_plain(&r, 0, freqs[i] * ratio, &f);
        assert_float_equal(sig_dbfs(f.amp), -1.0, 1e-3);
        run_free(&r);
        aoip_resampler_free(rs);
    }
}

static void nothing_aliases_within_the_clamp(void **state)
{
    (void)state;
    /* Just below the input's Nyquist frequency, above the output's when
     * slowed by the full clamp: it must go, not fold back. */
    const double freqs[] = { 23970.0, 23990.0 };
    const double ratios[] = { 1.0 + 2000e-6, 1.0 - 2000e-6 };
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            struct aoip_resampler *rs = resampler(1, PERIOD);
            struct run r;
            run_init(&r, 1, 24000);
            run_tone(&r, 0, freqs[i]);
            run_drive(&r, rs, PERIOD, constant, &ratios[j]);
            double db = sig_rms_dbfs(r.out[0] + SETTLE, r.frames - SETTLE) - (-1.0 - 3.0103);
            print_message("%5.0f Hz at ratio %.4f: %.1f dB\n", freqs[i], ratios[j], db);
            assert_true(db < THDN_LIMIT_DB);
            run_free(&r);
            aoip_resampler_free(rs);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Bookkeeping */

static void needed_frames_follow_the_ratio_without_drift(void **state)
{
    (void)state;
    /* Periods of 1 to 256 frames at ratios anywhere in +-1000 ppm: the
     * input taken must stay within a frame of the ratios summed. */
    struct aoip_resampler *rs = resampler(1, 256);
    static float in[512], out[256];
    const float *ip[1] = { in };
    float *op[1] = { out };
    struct netmodel_rng rng;
    netmodel_rng_seed(&rng, 7);
    uint64_t taken = 0;
    double sum = 0.0, comp = 0.0; /* Kahan: the sum of millions of ratios */
    for (int p = 0; p < 20000; p++) {
        uint32_t n = 1 + (uint32_t)(netmodel_rng_next(&rng) % 256);
        double ratio = 1.0 + 1000e-6 * (2.0 * netmodel_rng_uniform(&rng) - 1.0);
        aoip_resampler_set_ratio(rs, ratio);
        uint32_t need = aoip_resampler_needed(rs, n);
        assert_int_equal(aoip_resampler_process(rs, ip, need, op, n), 0);
        taken += need;
        for (uint32_t j = 0; j < n; j++) {
            double y = ratio - comp, t = sum + y;
            comp = (t - sum) - y;
            sum = t;
        }
    }
    print_message("taken %llu frames for ratios summing to %.3f\n", (unsigned long long)taken, sum);
    assert_true(fabs((double)taken - sum) <= 1.0);
    aoip_resampler_free(rs);
}

static void ratio_is_clamped(void **state)
{
    (void)state;
    const double asked[] = { 1.5, 0.5, INFINITY, -INFINITY };
    const double got[] = { 1.002, 0.998, 1.002, 0.998 };
    for (size_t i = 0; i < 4; i++) {
        struct aoip_resampler *rs = resampler(1, PERIOD);
        static float in[PERIOD + 2] = { 0 }, out[PERIOD];
        const float *ip[1] = { in };
        float *op[1] = { out };
        aoip_resampler_set_ratio(rs, asked[i]);
        /* NaN is ignored: the ratio stays what it was. */
        aoip_resampler_set_ratio(rs, NAN);
        uint64_t taken = 0;
        for (int p = 0; p < 1000; p++) {
            uint32_t need = aoip_resampler_needed(rs, PERIOD);
            assert_int_equal(aoip_resampler_process(rs, ip, need, op, PERIOD), 0);
            taken += need;
        }
        assert_true(fabs((double)taken - 48000.0 * got[i]) <= 1.0);
        aoip_resampler_free(rs);
    }
}

static void reset_keeps_the_ratio(void **state)
{
    (void)state;
    struct aoip_resampler *rs = resampler(1, PERIOD);
    static float in[PERIOD + 2] = { 0 }, out[PERIOD];
    const float *ip[1] = { in };
    float *op[1] = { out };
    aoip_resampler_set_ratio(rs, 1.0 + 2000e-6);
    aoip_resampler_reset(rs);
    uint64_t taken = 0;
    for (int p = 0; p < 1000; p++) {
        uint32_t need = aoip_resampler_needed(rs, PERIOD);
        assert_int_equal(aoip_resampler_process(rs, ip, need, op, PERIOD), 0);
        taken += need;
    }
    assert_true(fabs((double)taken - 48000.0 * 1.002) <= 1.0);
    aoip_resampler_free(rs);
}

static void process_rejects_a_wrong_input_count(void **state)
{
    (void)state;
    /* Two resamplers fed the same tone; one also gets refused calls. If a
     * refused call moved anything, their outputs would part. */
    struct aoip_resampler *a = resampler(2, PERIOD), *b = resampler(2, PERIOD);
    static float tone[2][4000], oa[2][PERIOD], ob[2][PERIOD];
    sig_tone(tone[0], 4000, 997.0, RATE, AMP, 0.0, 0);
    sig_tone(tone[1], 4000, 3000.0, RATE, AMP, 0.0, 0);
    size_t at = 0;
    for (int p = 0; p < 60; p++) {
        double ratio = 1.0 + 300e-6 * (p % 3);
        aoip_resampler_set_ratio(a, ratio);
        aoip_resampler_set_ratio(b, ratio);
        uint32_t need = aoip_resampler_needed(a, PERIOD);
        assert_int_equal(aoip_resampler_needed(b, PERIOD), need);
        const float *in[2] = { tone[0] + at, tone[1] + at };
        float *outa[2] = { oa[0], oa[1] }, *outb[2] = { ob[0], ob[1] };
        assert_int_equal(aoip_resampler_process(b, in, need + 1, outb, PERIOD), -EINVAL);
        assert_int_equal(aoip_resampler_process(b, in, need - 1, outb, PERIOD), -EINVAL);
        assert_int_equal(aoip_resampler_process(b, in, need, outb, PERIOD + 1), -EINVAL);
        assert_int_equal(aoip_resampler_needed(b, PERIOD), need);
        assert_int_equal(aoip_resampler_process(a, in, need, outa, PERIOD), 0);
        assert_int_equal(aoip_resampler_process(b, in, need, outb, PERIOD), 0);
        assert_memory_equal(oa, ob, sizeof(oa));
        at += need;
    }
    aoip_resampler_free(a);
    aoip_resampler_free(b);
}

static void reset_forgets_history(void **state)
{
    (void)state;
    struct aoip_resampler *rs = resampler(8, PERIOD);
    struct run loud, quiet;
    double ratio = 1.0 + 700e-6, one = 1.0;
    run_init(&loud, 8, 4800);
    for (unsigned c = 0; c < 8; c++)
        run_tone(&loud, c, 1000.0 + 500.0 * c);
    run_drive(&loud, rs, PERIOD, constant, &ratio);

    /* After reset, silence in is silence out from the first frame, and at
     * ratio 1 the passthrough starts over as on a new resampler. */
    aoip_resampler_reset(rs);
    assert_int_equal(aoip_resampler_needed(rs, PERIOD), PERIOD);
    run_init(&quiet, 8, 4800);
    run_drive(&quiet, rs, PERIOD, constant, &ratio);
    for (unsigned c = 0; c < 8; c++)
        for (size_t k = 0; k < quiet.frames; k++)
            assert_true(quiet.out[c][k] == 0.0f);

    aoip_resampler_reset(rs);
    run_free(&quiet);
    run_init(&quiet, 8, 4800);
    run_tone(&quiet, 5, 440.0);
    run_drive(&quiet, rs, PERIOD, constant, &one);
    size_t d = (size_t)aoip_resampler_delay(rs);
    for (size_t k = 0; k < d; k++)
        assert_true(quiet.out[5][k] == 0.0f);
    assert_memory_equal(quiet.out[5] + d, quiet.in[5], sizeof(float) * (quiet.frames - d));
    run_free(&loud);
    run_free(&quiet);
    aoip_resampler_free(rs);
}

static void new_rejects_a_bad_config(void **state)
{
    (void)state;
    const struct aoip_resampler_config bad[] = {
        { .channels = 0, .max_out_frames = PERIOD },
        { .channels = AOIP_RESAMPLE_MAX_CHANNELS + 1, .max_out_frames = PERIOD },
        { .channels = 2, .max_out_frames = 0 },
        { .channels = 2, .max_out_frames = AOIP_RESAMPLE_MAX_FRAMES + 1 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(aoip_resampler_new(&bad[i]));
    assert_null(aoip_resampler_new(NULL));
    aoip_resampler_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* Channels */

static void channels_do_not_leak_into_each_other(void **state)
{
    (void)state;
    /* One loud channel among silent ones, in both layouts: the silent ones
     * stay exactly 0. */
    const unsigned counts[] = { 3, 24 };
    for (size_t i = 0; i < 2; i++) {
        struct aoip_resampler *rs = resampler(counts[i], PERIOD);
        struct run r;
        run_init(&r, counts[i], 4800);
        unsigned loud = counts[i] / 2;
        run_tone(&r, loud, 5000.0);
        run_drive(&r, rs, PERIOD, wobble_step, NULL);
        for (unsigned c = 0; c < r.channels; c++) {
            if (c == loud)
                continue;
            for (size_t k = 0; k < r.frames; k++)
                assert_true(r.out[c][k] == 0.0f);
        }
        assert_true(sig_rms_dbfs(r.out[loud] + SETTLE, r.frames - SETTLE) > -5.0);
        run_free(&r);
        aoip_resampler_free(rs);
    }
}

static void each_channel_matches_a_mono_resampler(void **state)
{
    (void)state;
    /* The same tone through one channel of a wide flow and through a mono
     * resampler: the same audio, to float rounding (the layouts sum in
     * different orders, so not to the bit). */
    const unsigned counts[] = { 4, 8, 20 };
    for (size_t i = 0; i < 3; i++) {
        struct aoip_resampler *wide = resampler(counts[i], PERIOD);
        struct run r;
        run_init(&r, counts[i], 9600);
        for (unsigned c = 0; c < r.channels; c++)
            run_tone(&r, c, 300.0 + 900.0 * c);
        run_drive(&r, wide, PERIOD, wobble_sine, NULL);
        for (unsigned c = 0; c < r.channels; c++) {
            struct aoip_resampler *mono = resampler(1, PERIOD);
            struct run m;
            run_init(&m, 1, r.frames);
            run_tone(&m, 0, 300.0 + 900.0 * c);
            run_drive(&m, mono, PERIOD, wobble_sine, NULL);
            for (size_t k = 0; k < r.frames; k++)
                assert_float_equal(r.out[c][k], m.out[0][k], 5e-7);
            run_free(&m);
            aoip_resampler_free(mono);
        }
        run_free(&r);
        aoip_resampler_free(wide);
    }
}

static void sixty_four_channels_each_carry_their_tone(void **state)
{
    (void)state;
    struct aoip_resampler *rs = resampler(64, 256);
    struct run r;
    double ratio = 1.0 + 300e-6, worst = -INFINITY;
    run_init(&r, 64, 12000);
    for (unsigned c = 0; c < 64; c++)
        run_tone(&r, c, 150.0 + 300.0 * c);
    run_drive(&r, rs, 256, constant, &ratio);
    for (unsigned c = 0; c < 64; c++) {
        double want = (150.0 + 300.0 * c) * ratio;
        struct sig_fit f;
        double db = fit_plain(&r, c, want, &f);
        worst = fmax(worst, db);
        assert_true(fabs(f.freq / want - 1.0) < 1e-8);
        assert_float_equal(sig_dbfs(f.amp), -1.0, 1e-3);
        assert_true(db < THDN_LIMIT_DB);
    }
    print_message("64 channels, 150 Hz to 19 kHz: worst THD+N %.1f dB\n", worst);
    run_free(&r);
    aoip_resampler_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(passthrough_is_bit_exact_at_ratio_one),
        cmocka_unit_test(delay_is_a_constant_whole_number_of_frames),
        cmocka_unit_test(filtered_impulse_peaks_after_the_delay_symmetrically),
        cmocka_unit_test(filter_path_lines_up_with_passthrough),
        cmocka_unit_test(switching_to_filter_and_back_does_not_move_the_audio),
        cmocka_unit_test(output_frequency_is_input_frequency_times_ratio),
        cmocka_unit_test(thdn_is_below_minus_120_db_at_constant_ratios),
        cmocka_unit_test(thdn_is_below_minus_120_db_while_the_ratio_wobbles),
        cmocka_unit_test(ratio_swinging_every_period_does_not_click),
        cmocka_unit_test(passband_is_flat_to_20_khz),
        cmocka_unit_test(nothing_aliases_within_the_clamp),
        cmocka_unit_test(needed_frames_follow_the_ratio_without_drift),
        cmocka_unit_test(ratio_is_clamped),
        cmocka_unit_test(reset_keeps_the_ratio),
        cmocka_unit_test(process_rejects_a_wrong_input_count),
        cmocka_unit_test(reset_forgets_history),
        cmocka_unit_test(new_rejects_a_bad_config),
        cmocka_unit_test(channels_do_not_leak_into_each_other),
        cmocka_unit_test(each_channel_matches_a_mono_resampler),
        cmocka_unit_test(sixty_four_channels_each_carry_their_tone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
