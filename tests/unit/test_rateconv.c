/*
 * test_rateconv.c: the fixed-ratio converter between a node's rate and the
 * 48 kHz of Opus, over the pairs a node meets (44.1, 88.2, 96, 192 and
 * 32 kHz to 48 kHz and some of the way back).
 *
 * Tones of known frequency go in at -1 dBFS in 1 ms calls and what comes
 * out is analysed at the output rate after the filter has filled: the same
 * frequency in Hz, the same level, THD+N (the residual against a fitted
 * sine) and the phase, which shows the delay the converter states. Tones
 * above the stopband edge (or the images of one at the passband edge) must
 * come out 100 dB down. The bookkeeping is checked as integers: the count
 * of output frames is exactly ceil(input * L / M) after every call, as
 * aoip_rateconv_out_frames predicted, and any chunking gives the same bits
 * as one call over the whole input.
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

#include "aoip/rateconv.h"
#include "netmodel.h"
#include "sig.h"

#define AMP   0.89125093813374556 /* -1 dBFS */
#define MAXCH 64
#define PI    3.14159265358979323846
/* What the converter promises: the stopband, and so THD+N, at least 100 dB down. */
#define LIMIT_DB (-100.0)

struct pair {
    uint32_t in, out;
};

/* The pairs a node at a non-48 kHz rate meets on its Opus flows. */
static const struct pair pairs[] = {
    { 44100, 48000 },  { 48000, 44100 },  { 96000, 48000 }, { 48000, 96000 },
    { 192000, 48000 }, { 48000, 192000 }, { 88200, 48000 }, { 32000, 48000 },
};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b != 0) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The passband edge the converter is built to: min(20 kHz, 0.4167 * the lower rate). */
static double pass_edge(struct pair p)
{
    double low = p.in < p.out ? p.in : p.out;
    return fmin(20000.0, 0.4167 * low);
}

static struct aoip_rateconv *conv(unsigned channels, struct pair p, uint32_t max_in)
{
    struct aoip_rateconv_config cfg = {
        .channels = channels, .in_rate = p.in, .out_rate = p.out, .max_in_frames = max_in
    };
    struct aoip_rateconv *rc = aoip_rateconv_new(&cfg);
    assert_non_null(rc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The rig: planar input and output, and a driver that feeds it in chunks. */

struct lines {
    unsigned channels;
    size_t frames;
    float *line[MAXCH];
};

static void lines_init(struct lines *l, unsigned channels, size_t frames)
{
    memset(l, 0, sizeof(*l));
    l->channels = channels;
    l->frames = frames;
    for (unsigned c = 0; c < channels; c++) {
        l->line[c] = calloc(frames, sizeof(float));
        assert_non_null(l->line[c]);
    }
}

static void lines_free(struct lines *l)
{
    for (unsigned c = 0; c < l->channels; c++)
        free(l->line[c]);
}

/* Room for everything in_frames of input can make. */
static size_t out_room(struct pair p, size_t in_frames)
{
    uint32_t g = gcd(p.in, p.out);
    return in_frames * (p.out / g) / (p.in / g) + 2;
}

/*
 * Feed in[..][0..in->frames) through rc in calls of `chunk` frames, or of
 * random sizes 1..max_in when rng is given; write what comes out to out
 * from frame 0. Every call must return what aoip_rateconv_out_frames
 * predicted and bring the total to exactly ceil(total in * L / M). Returns
 * the frames written.
 */
static size_t drive(struct aoip_rateconv *rc, struct pair p, const struct lines *in,
                    struct lines *out, uint32_t chunk, struct netmodel_rng *rng)
{
    const uint32_t g = gcd(p.in, p.out), up = p.out / g, down = p.in / g;
    const float *ip[MAXCH];
    float *op[MAXCH];
    size_t taken = 0, made = 0;
    while (taken < in->frames) {
        uint32_t n = rng ? 1 + (uint32_t)(netmodel_rng_next(rng) % chunk) : chunk;
        if (n > in->frames - taken)
            n = (uint32_t)(in->frames - taken);
        uint32_t want = aoip_rateconv_out_frames(rc, n);
        assert_true(made + want <= out->frames);
        for (unsigned c = 0; c < in->channels; c++) {
            ip[c] = in->line[c] + taken;
            op[c] = out->line[c] + made;
        }
        int got = aoip_rateconv_process(rc, ip, n, op);
        assert_int_equal(got, want);
        taken += n;
        made += (size_t)got;
        assert_int_equal(made, (taken * up + down - 1) / down);
    }
    return made;
}

/* A -1 dBFS tone of freq Hz through a new mono converter for p in 1 ms calls. */
static size_t tone_through(struct pair p, double freq, double seconds, struct lines *out)
{
    struct lines in;
    lines_init(&in, 1, (size_t)(seconds * p.in));
    sig_tone(in.line[0], in.frames, freq, p.in, AMP, 0.0, 0);
    lines_init(out, 1, out_room(p, in.frames));
    struct aoip_rateconv *rc = conv(1, p, p.in / 1000);
    size_t made = drive(rc, p, &in, out, p.in / 1000, NULL);
    aoip_rateconv_free(rc);
    lines_free(&in);
    return made;
}

/* Output frames to skip before analysis: the whole filter filled, and some. */
static size_t settle(struct pair p)
{
    struct aoip_rateconv *rc = conv(1, p, 1);
    size_t s = (size_t)ceil(2.0 * aoip_rateconv_delay(rc)) + 16;
    aoip_rateconv_free(rc);
    return s;
}

static void noise(struct lines *l, uint64_t seed)
{
    struct netmodel_rng rng;
    netmodel_rng_seed(&rng, seed);
    for (unsigned c = 0; c < l->channels; c++)
        for (size_t k = 0; k < l->frames; k++)
            l->line[c][k] = (float)(1.8 * netmodel_rng_uniform(&rng) - 0.9);
}

/* ------------------------------------------------------------------------ */
/* Bookkeeping */

static void output_count_is_exact_over_many_calls(void **state)
{
    (void)state;
    struct netmodel_rng rng;
    netmodel_rng_seed(&rng, 11);
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        const uint32_t g = gcd(p.in, p.out), up = p.out / g, down = p.in / g;
        const uint32_t max_in = p.in / 1000;
        struct aoip_rateconv_config cfg = {
            .channels = 1, .in_rate = p.in, .out_rate = p.out, .max_in_frames = max_in
        };
        struct aoip_rateconv *rc = aoip_rateconv_new(&cfg);
        assert_non_null(rc);
        /* From phase 0 the bound is reached; from anywhere it holds. */
        for (uint32_t n = 1; n <= max_in; n++)
            assert_int_equal(aoip_rateconv_out_frames(rc, n),
                             aoip_rateconv_max_out_frames(&cfg, n));
        /* A whole number of M frames, in thousands of calls of random size. */
        struct lines in, out;
        lines_init(&in, 1, (size_t)down * (40000 / down + 1));
        lines_init(&out, 1, out_room(p, in.frames));
        const float *ip[1];
        float *op[1];
        size_t taken = 0, made = 0;
        while (taken < in.frames) {
            uint32_t n = 1 + (uint32_t)(netmodel_rng_next(&rng) % max_in);
            if (n > in.frames - taken)
                n = (uint32_t)(in.frames - taken);
            uint32_t want = aoip_rateconv_out_frames(rc, n);
            assert_true(want <= aoip_rateconv_max_out_frames(&cfg, n));
            ip[0] = in.line[0] + taken;
            op[0] = out.line[0] + made;
            assert_int_equal(aoip_rateconv_process(rc, ip, n, op), want);
            taken += n;
            made += want;
            assert_int_equal(made, (taken * up + down - 1) / down);
        }
        assert_int_equal(made, in.frames / down * up);
        assert_int_equal(aoip_rateconv_out_frames(rc, 0), 0);
        lines_free(&in);
        lines_free(&out);
        aoip_rateconv_free(rc);
    }
}

static void chunked_output_equals_one_call_bit_for_bit(void **state)
{
    (void)state;
    /* 1 and 2 channels run on lines, 9 and 64 interleaved (9: a part block). */
    const unsigned counts[] = { 1, 2, 9, 64 };
    struct netmodel_rng rng;
    netmodel_rng_seed(&rng, 23);
    for (size_t i = 0; i < NPAIRS; i++) {
        for (size_t j = 0; j < 4; j++) {
            const struct pair p = pairs[i];
            const unsigned ch = counts[j];
            struct lines in, once, chunked;
            lines_init(&in, ch, counts[j] > 9 ? 2000 : 6000);
            noise(&in, 100 * i + j);
            lines_init(&once, ch, out_room(p, in.frames));
            lines_init(&chunked, ch, out_room(p, in.frames));
            struct aoip_rateconv *a = conv(ch, p, (uint32_t)in.frames);
            struct aoip_rateconv *b = conv(ch, p, 300);
            size_t na = drive(a, p, &in, &once, (uint32_t)in.frames, NULL);
            size_t nb = drive(b, p, &in, &chunked, 300, &rng);
            assert_int_equal(na, nb);
            for (unsigned c = 0; c < ch; c++)
                assert_memory_equal(once.line[c], chunked.line[c], sizeof(float) * na);
            aoip_rateconv_free(a);
            aoip_rateconv_free(b);
            lines_free(&in);
            lines_free(&once);
            lines_free(&chunked);
        }
    }
}

static void reset_starts_over_as_a_new_converter(void **state)
{
    (void)state;
    const unsigned counts[] = { 2, 9 };
    for (size_t i = 0; i < NPAIRS; i++) {
        for (size_t j = 0; j < 2; j++) {
            const struct pair p = pairs[i];
            const unsigned ch = counts[j];
            struct lines first, second, used, fresh;
            lines_init(&first, ch, 1001); /* leaves the phase away from 0 */
            lines_init(&second, ch, 3000);
            noise(&first, 1 + i);
            noise(&second, 50 + i);
            lines_init(&used, ch, out_room(p, 3000));
            lines_init(&fresh, ch, out_room(p, 3000));
            struct aoip_rateconv *rc = conv(ch, p, 480), *nc = conv(ch, p, 480);
            drive(rc, p, &first, &used, 480, NULL);
            aoip_rateconv_reset(rc);
            size_t nu = drive(rc, p, &second, &used, 480, NULL);
            size_t nf = drive(nc, p, &second, &fresh, 480, NULL);
            assert_int_equal(nu, nf);
            for (unsigned c = 0; c < ch; c++)
                assert_memory_equal(used.line[c], fresh.line[c], sizeof(float) * nf);
            aoip_rateconv_free(rc);
            aoip_rateconv_free(nc);
            lines_free(&first);
            lines_free(&second);
            lines_free(&used);
            lines_free(&fresh);
        }
    }
}

static void new_rejects_a_bad_config(void **state)
{
    (void)state;
    const struct aoip_rateconv_config bad[] = {
        { .channels = 0, .in_rate = 44100, .out_rate = 48000, .max_in_frames = 48 },
        { .channels = 256, .in_rate = 44100, .out_rate = 48000, .max_in_frames = 48 },
        { .channels = 2, .in_rate = 0, .out_rate = 48000, .max_in_frames = 48 },
        { .channels = 2, .in_rate = 44100, .out_rate = 0, .max_in_frames = 48 },
        { .channels = 2, .in_rate = 7999, .out_rate = 48000, .max_in_frames = 48 },
        { .channels = 2, .in_rate = 48000, .out_rate = 384001, .max_in_frames = 48 },
        /* 47999 and 44100 share no factor: L = 47999, M = 44100 */
        { .channels = 2, .in_rate = 44100, .out_rate = 47999, .max_in_frames = 48 },
        /* gcd 40: L = 1201, M = 1200 */
        { .channels = 2, .in_rate = 48000, .out_rate = 48040, .max_in_frames = 48 },
        { .channels = 2, .in_rate = 44100, .out_rate = 48000, .max_in_frames = 0 },
        { .channels = 2,
          .in_rate = 44100,
          .out_rate = 48000,
          .max_in_frames = AOIP_RATECONV_MAX_FRAMES + 1 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(aoip_rateconv_new(&bad[i]));
        assert_int_equal(aoip_rateconv_max_out_frames(&bad[i], 48), 0);
    }
    assert_null(aoip_rateconv_new(NULL));
    aoip_rateconv_free(NULL);

    /* The limits themselves are taken: L = 1024, M = 1023 (gcd 375). */
    const struct aoip_rateconv_config edge = {
        .channels = 255, .in_rate = 383625, .out_rate = 384000, .max_in_frames = 1
    };
    struct aoip_rateconv *rc = aoip_rateconv_new(&edge);
    assert_non_null(rc);
    aoip_rateconv_free(rc);
}

static void process_refuses_too_many_frames_and_moves_nothing(void **state)
{
    (void)state;
    /* Twins fed the same input; one is also refused calls. Had a refused
     * call moved anything, their outputs would part. */
    const struct pair p = { 44100, 48000 };
    struct aoip_rateconv *a = conv(2, p, 64), *b = conv(2, p, 64);
    static float tone[2][6400], oa[2][80], ob[2][80];
    sig_tone(tone[0], 6400, 997.0, p.in, AMP, 0.0, 0);
    sig_tone(tone[1], 6400, 3000.0, p.in, AMP, 0.0, 0);
    float *outa[2] = { oa[0], oa[1] }, *outb[2] = { ob[0], ob[1] };
    for (size_t at = 0; at < 6400; at += 64) {
        const float *in[2] = { tone[0] + at, tone[1] + at };
        uint32_t want = aoip_rateconv_out_frames(a, 64);
        assert_int_equal(aoip_rateconv_process(b, in, 65, outb), -EINVAL);
        assert_int_equal(aoip_rateconv_process(b, NULL, 64, outb), -EINVAL);
        assert_int_equal(aoip_rateconv_process(b, in, 64, NULL), -EINVAL);
        assert_int_equal(aoip_rateconv_out_frames(b, 64), want);
        assert_int_equal(aoip_rateconv_process(a, in, 64, outa), want);
        assert_int_equal(aoip_rateconv_process(b, in, 64, outb), want);
        assert_memory_equal(oa, ob, sizeof(oa));
        /* Nothing in, nothing out, nothing moved. */
        assert_int_equal(aoip_rateconv_process(b, in, 0, outb), 0);
    }
    aoip_rateconv_free(a);
    aoip_rateconv_free(b);
}

/* ------------------------------------------------------------------------ */
/* The audio */

static void same_rate_passes_untouched(void **state)
{
    (void)state;
    const uint32_t rates[] = { 44100, 48000, 192000 };
    const unsigned counts[] = { 1, 9 };
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 2; j++) {
            const struct pair p = { rates[i], rates[i] };
            struct lines in, out;
            lines_init(&in, counts[j], 5000);
            noise(&in, 7 + i);
            lines_init(&out, counts[j], 5000);
            struct aoip_rateconv *rc = conv(counts[j], p, 256);
            struct netmodel_rng rng;
            netmodel_rng_seed(&rng, 3);
            assert_true(aoip_rateconv_delay(rc) == 0.0);
            assert_int_equal(drive(rc, p, &in, &out, 256, &rng), 5000);
            for (unsigned c = 0; c < counts[j]; c++)
                assert_memory_equal(out.line[c], in.line[c], sizeof(float) * 5000);
            aoip_rateconv_free(rc);
            lines_free(&in);
            lines_free(&out);
        }
    }
}

static void dc_comes_through_at_unity_gain_at_every_phase(void **state)
{
    (void)state;
    /* Every row of coefficients sums to 1, so a constant comes out as
     * itself from every phase once the filter has filled, to float
     * rounding: within 3 ulp of 0.5. */
    const double ulp = 0x1p-24;
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        struct lines in, out;
        lines_init(&in, 1, 4800);
        for (size_t k = 0; k < in.frames; k++)
            in.line[0][k] = 0.5f;
        lines_init(&out, 1, out_room(p, in.frames));
        struct aoip_rateconv *rc = conv(1, p, 480);
        size_t made = drive(rc, p, &in, &out, 480, NULL);
        for (size_t k = settle(p); k < made; k++)
            assert_true(fabs(out.line[0][k] - 0.5) <= 3.0 * ulp);
        aoip_rateconv_free(rc);
        lines_free(&in);
        lines_free(&out);
    }
}

static void tones_keep_frequency_and_level_with_thdn_below_100_db(void **state)
{
    (void)state;
    const double freqs[] = { 997.0, 10000.0 };
    double worst = -INFINITY;
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        for (size_t j = 0; j < 2; j++) {
            struct lines out;
            size_t made = tone_through(p, freqs[j], 0.1, &out);
            size_t s = settle(p);
            struct sig_fit f;
            assert_int_equal(sig_fit_sine(out.line[0] + s, made - s, p.out, freqs[j], &f), 0);
            double thdn = 20.0 * log10(f.residual / (f.amp / sqrt(2.0)));
            print_message("%6u -> %6u Hz, %5.0f Hz: %+.6f dBFS, %.2e Hz off, THD+N %.1f dB\n", p.in,
                          p.out, freqs[j], sig_dbfs(f.amp), f.freq - freqs[j], thdn);
            assert_true(fabs(f.freq - freqs[j]) < 1e-6 * freqs[j]);
            assert_float_equal(sig_dbfs(f.amp), -1.0, 0.01);
            assert_true(thdn <= LIMIT_DB);
            worst = fmax(worst, thdn);
            lines_free(&out);
        }
    }
    print_message("worst THD+N %.1f dB\n", worst);
}

static void passband_is_flat_to_its_edge(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        const double freqs[] = { 40.0, 5000.0, 0.75 * pass_edge(p), pass_edge(p) };
        for (size_t j = 0; j < 4; j++) {
            struct lines out;
            size_t made = tone_through(p, freqs[j], 0.1, &out);
            size_t s = settle(p);
            double amp;
            assert_int_equal(
                sig_fit_tones(out.line[0] + s, made - s, p.out, &freqs[j], 1, &amp, NULL, NULL), 0);
            assert_float_equal(sig_dbfs(amp), -1.0, 0.01);
            lines_free(&out);
        }
    }
}

/* What frequency a component at f Hz of the prototype's rate shows at the output rate. */
static double folded(double f, double rate)
{
    f = fmod(f, rate);
    return f > rate / 2.0 ? rate - f : f;
}

static void tones_above_the_stopband_edge_come_out_100_db_down(void **state)
{
    (void)state;
    /* Down: a tone above lower rate - f_pass has no place in the output and
     * must vanish. */
    const struct {
        struct pair p;
        double freq;
    } down[] = {
        { { 96000, 48000 }, 30000.0 },  { { 96000, 48000 }, 47000.0 },
        { { 192000, 48000 }, 28500.0 }, { { 192000, 48000 }, 90000.0 },
        { { 88200, 48000 }, 30000.0 },  { { 88200, 48000 }, 43000.0 },
    };
    for (size_t i = 0; i < sizeof(down) / sizeof(down[0]); i++) {
        struct lines out;
        size_t made = tone_through(down[i].p, down[i].freq, 0.05, &out);
        size_t s = settle(down[i].p);
        double db = sig_rms_dbfs(out.line[0] + s, made - s) - (sig_dbfs(AMP) - 3.0103);
        print_message("%6u -> %6u Hz, %5.0f Hz in: %.1f dB\n", down[i].p.in, down[i].p.out,
                      down[i].freq, db);
        assert_true(db <= LIMIT_DB);
        lines_free(&out);
    }

    /*
     * Every pair with L > 1 upsamples first, and a tone at the passband edge
     * f images at in_rate - f (the stopband edge when in_rate is the lower
     * rate), which lands at the output folded about its Nyquist frequency.
     * Fitted jointly with the tone, the image must be 100 dB below it. (At
     * 48 -> 44.1 kHz no input tone lies above the stopband edge, 25724 Hz:
     * the input stops at 24 kHz. A 23 kHz tone there is in the transition
     * band and folds to 21.1 kHz, above f_pass, as designed.)
     */
    const struct pair up[] = {
        { 44100, 48000 },  { 48000, 44100 }, { 48000, 96000 },
        { 48000, 192000 }, { 88200, 48000 }, { 32000, 48000 },
    };
    for (size_t i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
        const struct pair p = up[i];
        const double f[2] = { pass_edge(p), folded(p.in - pass_edge(p), p.out) };
        struct lines out;
        size_t made = tone_through(p, f[0], 0.1, &out);
        size_t s = settle(p);
        double amps[2];
        assert_int_equal(sig_fit_tones(out.line[0] + s, made - s, p.out, f, 2, amps, NULL, NULL),
                         0);
        double db = sig_dbfs(amps[1] / amps[0]);
        print_message("%6u -> %6u Hz, %5.0f Hz in: image at %5.0f Hz %.1f dB\n", p.in, p.out, f[0],
                      f[1], db);
        assert_true(db <= LIMIT_DB);
        lines_free(&out);
    }
}

/* x reduced to (-0.5, 0.5]. */
static double wrap_half(double x)
{
    return x - ceil(x - 0.5);
}

static void phase_shows_the_stated_delay(void **state)
{
    (void)state;
    /*
     * The input tone is sin(2 pi f n / in_rate): phase 0 at input time 0.
     * Delayed by d output frames it is sin(2 pi f (k - d) / out_rate) at
     * output frame k. Its phase fitted over frames [s, end) must be that of
     * k = s, to 0.01 frame, at two frequencies (so that no whole number of
     * periods can hide).
     */
    const double freqs[] = { 997.0, 10000.0 };
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct pair p = pairs[i];
        struct aoip_rateconv *rc = conv(1, p, 1);
        const double d = aoip_rateconv_delay(rc);
        aoip_rateconv_free(rc);
        for (size_t j = 0; j < 2; j++) {
            struct lines out;
            size_t made = tone_through(p, freqs[j], 0.05, &out);
            size_t s = settle(p);
            double amp, phase;
            assert_int_equal(
                sig_fit_tones(out.line[0] + s, made - s, p.out, &freqs[j], 1, &amp, &phase, NULL),
                0);
            double want = freqs[j] * ((double)s - d) / p.out; /* in cycles */
            double err = wrap_half(phase / (2.0 * PI) - want) * p.out / freqs[j];
            print_message("%6u -> %6u Hz, %5.0f Hz: delay %.4f frames, off by %.2e\n", p.in, p.out,
                          freqs[j], d, err);
            assert_true(fabs(err) < 0.01);
            lines_free(&out);
        }
    }
}

static void impulse_peaks_at_the_stated_delay(void **state)
{
    (void)state;
    /* A click at input frame 1000 of 44.1 kHz is at 1000 * 160 / 147 output
     * frames of 48 kHz; the filter is symmetric about that plus the delay. */
    const struct pair p = { 44100, 48000 };
    struct lines in, out;
    lines_init(&in, 1, 2000);
    in.line[0][1000] = 1.0f;
    lines_init(&out, 1, out_room(p, 2000));
    struct aoip_rateconv *rc = conv(1, p, 2000);
    size_t made = drive(rc, p, &in, &out, 2000, NULL);
    double at = 1000.0 * 160.0 / 147.0 + aoip_rateconv_delay(rc);
    size_t peak = 0;
    for (size_t k = 0; k < made; k++)
        if (fabsf(out.line[0][k]) > fabsf(out.line[0][peak]))
            peak = k;
    assert_true(fabs((double)peak - at) <= 0.5);
    /* Its centroid, over the main lobe and the ringing, is the time itself. */
    double sum = 0.0, moment = 0.0;
    for (size_t k = 0; k < made; k++) {
        sum += out.line[0][k];
        moment += (double)k * out.line[0][k];
    }
    print_message("peak at %zu, centroid %.4f, stated %.4f\n", peak, moment / sum, at);
    assert_true(fabs(moment / sum - at) < 0.01);
    aoip_rateconv_free(rc);
    lines_free(&in);
    lines_free(&out);
}

static void channels_do_not_leak_into_each_other(void **state)
{
    (void)state;
    /* One loud channel among silent ones, in both layouts: the silent ones stay exactly 0. */
    const unsigned counts[] = { 3, 24 };
    const struct pair p = { 48000, 44100 };
    for (size_t i = 0; i < 2; i++) {
        struct lines in, out;
        lines_init(&in, counts[i], 4800);
        lines_init(&out, counts[i], out_room(p, 4800));
        unsigned loud = counts[i] / 2;
        sig_tone(in.line[loud], in.frames, 5000.0, p.in, AMP, 0.0, 0);
        struct aoip_rateconv *rc = conv(counts[i], p, 48);
        size_t made = drive(rc, p, &in, &out, 48, NULL);
        for (unsigned c = 0; c < counts[i]; c++) {
            if (c == loud)
                continue;
            for (size_t k = 0; k < made; k++)
                assert_true(out.line[c][k] == 0.0f);
        }
        assert_true(sig_rms_dbfs(out.line[loud] + 100, made - 100) > -5.0);
        aoip_rateconv_free(rc);
        lines_free(&in);
        lines_free(&out);
    }
}

static void sixty_four_channels_each_carry_their_tone(void **state)
{
    (void)state;
    const struct pair p = { 44100, 48000 };
    struct lines in, out;
    lines_init(&in, 64, 8820);
    for (unsigned c = 0; c < 64; c++)
        sig_tone(in.line[c], in.frames, 150.0 + 280.0 * c, p.in, AMP, 0.0, 0);
    lines_init(&out, 64, out_room(p, in.frames));
    struct aoip_rateconv *rc = conv(64, p, 44);
    size_t made = drive(rc, p, &in, &out, 44, NULL);
    size_t s = settle(p);
    double worst = -INFINITY;
    for (unsigned c = 0; c < 64; c++) {
        const double f = 150.0 + 280.0 * c;
        double amp, res;
        assert_int_equal(sig_fit_tones(out.line[c] + s, made - s, p.out, &f, 1, &amp, NULL, &res),
                         0);
        double thdn = 20.0 * log10(res / (amp / sqrt(2.0)));
        assert_float_equal(sig_dbfs(amp), -1.0, 0.01);
        assert_true(thdn <= LIMIT_DB);
        worst = fmax(worst, thdn);
    }
    print_message("64 channels, 150 Hz to 17.8 kHz: worst THD+N %.1f dB\n", worst);
    aoip_rateconv_free(rc);
    lines_free(&in);
    lines_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(output_count_is_exact_over_many_calls),
        cmocka_unit_test(chunked_output_equals_one_call_bit_for_bit),
        cmocka_unit_test(reset_starts_over_as_a_new_converter),
        cmocka_unit_test(new_rejects_a_bad_config),
        cmocka_unit_test(process_refuses_too_many_frames_and_moves_nothing),
        cmocka_unit_test(same_rate_passes_untouched),
        cmocka_unit_test(dc_comes_through_at_unity_gain_at_every_phase),
        cmocka_unit_test(tones_keep_frequency_and_level_with_thdn_below_100_db),
        cmocka_unit_test(passband_is_flat_to_its_edge),
        cmocka_unit_test(tones_above_the_stopband_edge_come_out_100_db_down),
        cmocka_unit_test(phase_shows_the_stated_delay),
        cmocka_unit_test(impulse_peaks_at_the_stated_delay),
        cmocka_unit_test(channels_do_not_leak_into_each_other),
        cmocka_unit_test(sixty_four_channels_each_carry_their_tone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
