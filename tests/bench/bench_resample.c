/*
 * bench_resample.c: what following a sender's clock costs, and what it
 * does to the audio, against libsamplerate in the same run.
 *
 * Cost: nanoseconds per sample per channel of aoip_resampler_process at
 * 1, 2, 4, 8, 16 and 64 channels, the ratio moving around 1 + 100 ppm as
 * clock recovery would move it (set every 48-frame period), then the same
 * at ratio 1 (the passthrough), then libsamplerate's SINC_FASTEST and
 * SINC_MEDIUM_QUALITY (src_callback_read, the same ratio schedule, the same
 * tones, interleaved as libsamplerate wants). Each case runs for about
 * SECONDS of CLOCK_MONOTONIC.
 *
 * Quality: THD+N of a -1 dBFS tone at 997 Hz and 10 kHz after 1 s at ratio
 * 1 + 100 ppm, fitted by sig_fit_sine after the filters settle, for all
 * three; for our own also with the ratio wobbling +-50 ppm, fitted along
 * the exact input time of every output frame (the wobble phase-modulates
 * the output legitimately; a plain sine fit would count that as noise).
 *
 * Load: the share of one core that 256 channels at 48 kHz take, as 32
 * flows of 8 channels, 4 flows of 64 and 256 mono flows, each its own
 * resampler, timed as a whole.
 *
 * Figures only: nothing here fails on time. Checksums are printed so that
 * the work cannot be optimized away.
 */
/* clock_gettime (in bench_util.h) under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <samplerate.h>

#include "aoip/resample.h"
#include "sig.h"
#include "bench_util.h"

#define PI      3.14159265358979323846
#define RATE    48000.0
#define FRAMES  48  /* 1 ms at 48 kHz */
#define SECONDS 0.4 /* per timed case */
#define BATCH   100 /* periods between clock reads */
#define MAXCH   64
#define AMP     0.89125093813374556 /* -1 dBFS */
/*
 * The input the timed cases loop over: 20 ms per channel, about what a
 * jitter buffer holds, so that the input sits in cache as a jitter
 * buffer's would (a longer loop times the memory, not the resampler).
 */
#define LOOP 960
/* The input of the quality runs: 1 s, a whole number of cycles of each tone. */
#define QLOOP 48000

static void die(const char *what)
{
    fprintf(stderr, "bench_resample: %s\n", what);
    exit(1);
}

/* 1 + 100 ppm, wobbling +-50 ppm once every 250 periods (4 Hz at 1 ms periods). */
static double wobble(uint64_t period)
{
    return 1.0 + 100e-6 + 50e-6 * sin(2.0 * PI * (double)period / 250.0);
}

static double ratio_at(uint64_t period, bool passthrough)
{
    return passthrough ? 1.0 : wobble(period);
}

/* Planar tones for channel c: each its own frequency, so nothing is shared. */
static float *tones(unsigned channels)
{
    float *x = malloc(sizeof(float) * LOOP * channels);
    if (x == NULL)
        die("out of memory");
    for (unsigned c = 0; c < channels; c++)
        sig_tone(x + (size_t)c * LOOP, LOOP, 250.0 + 311.0 * c, RATE, AMP, 0.0, 0);
    return x;
}

/* ------------------------------------------------------------------------ */
/* Our own */

struct flow {
    struct aoip_resampler *rs;
    unsigned channels;
    const float *src; /* LOOP frames per channel, planar */
    float *out;       /* FRAMES per channel */
    size_t at;        /* read position in the loop */
};

static void flow_init(struct flow *f, unsigned channels, const float *src)
{
    struct aoip_resampler_config cfg = { .channels = channels, .max_out_frames = FRAMES };
    f->rs = aoip_resampler_new(&cfg);
    f->channels = channels;
    f->src = src;
    f->out = malloc(sizeof(float) * FRAMES * channels);
    f->at = 0;
    if (f->rs == NULL || f->out == NULL)
        die("cannot make a resampler");
}

static void flow_free(struct flow *f)
{
    aoip_resampler_free(f->rs);
    free(f->out);
}

/* One period, as the media thread runs it. */
static void flow_period(struct flow *f, double ratio)
{
    const float *in[MAXCH];
    float *out[MAXCH];
    aoip_resampler_set_ratio(f->rs, ratio);
    uint32_t need = aoip_resampler_needed(f->rs, FRAMES);
    if (f->at + need > LOOP)
        f->at = 0;
    for (unsigned c = 0; c < f->channels; c++) {
        in[c] = f->src + (size_t)c * LOOP + f->at;
        out[c] = f->out + (size_t)c * FRAMES;
    }
    if (aoip_resampler_process(f->rs, in, need, out, FRAMES) != 0)
        die("process refused its own count");
    f->at += need;
}

/* ns per sample per channel for one flow of `channels`. */
static double time_own(unsigned channels, bool passthrough, double *checksum)
{
    float *src = tones(channels);
    struct flow f;
    flow_init(&f, channels, src);
    uint64_t periods = 0;
    for (int i = 0; i < 50; i++, periods++)
        flow_period(&f, ratio_at(periods, passthrough));
    uint64_t first = periods;
    double t0 = bench_now(), t1;
    do {
        for (int b = 0; b < BATCH; b++, periods++) {
            flow_period(&f, ratio_at(periods, passthrough));
            *checksum += f.out[periods % (FRAMES * channels)];
        }
        t1 = bench_now();
    } while (t1 - t0 < SECONDS);
    flow_free(&f);
    free(src);
    return (t1 - t0) * 1e9 / ((double)(periods - first) * FRAMES * channels);
}

/* ------------------------------------------------------------------------ */
/* libsamplerate */

struct src_feed {
    unsigned channels;
    float *loop; /* len frames, interleaved */
    size_t len;
    size_t at;
};

/* Hands libsamplerate the next FRAMES of the loop, as a jitter buffer would. */
static long src_feed_cb(void *arg, float **data)
{
    struct src_feed *f = arg;
    if (f->at + FRAMES > f->len)
        f->at = 0;
    *data = f->loop + f->at * f->channels;
    f->at += FRAMES;
    return FRAMES;
}

static float *interleave(const float *planar, unsigned channels)
{
    float *x = malloc(sizeof(float) * LOOP * channels);
    if (x == NULL)
        die("out of memory");
    for (size_t i = 0; i < LOOP; i++)
        for (unsigned c = 0; c < channels; c++)
            x[i * channels + c] = planar[(size_t)c * LOOP + i];
    return x;
}

static SRC_STATE *src_open(int converter, struct src_feed *feed)
{
    int err = 0;
    SRC_STATE *st = src_callback_new(src_feed_cb, converter, (int)feed->channels, &err, feed);
    if (st == NULL)
        die(src_strerror(err));
    return st;
}

/* libsamplerate's ratio is output over input: ours upside down. */
static void src_period(SRC_STATE *st, double ratio, float *out)
{
    if (src_callback_read(st, 1.0 / ratio, FRAMES, out) != FRAMES)
        die("libsamplerate came back short");
}

static double time_src(int converter, unsigned channels, double *checksum)
{
    float *planar = tones(channels);
    struct src_feed feed = { .channels = channels,
                             .loop = interleave(planar, channels),
                             .len = LOOP };
    float *out = malloc(sizeof(float) * FRAMES * channels);
    if (out == NULL)
        die("out of memory");
    SRC_STATE *st = src_open(converter, &feed);
    uint64_t periods = 0;
    for (int i = 0; i < 50; i++, periods++)
        src_period(st, wobble(periods), out);
    uint64_t first = periods;
    double t0 = bench_now(), t1;
    do {
        for (int b = 0; b < BATCH; b++, periods++) {
            src_period(st, wobble(periods), out);
            *checksum += out[periods % (FRAMES * channels)];
        }
        t1 = bench_now();
    } while (t1 - t0 < SECONDS);
    src_delete(st);
    free(out);
    free(feed.loop);
    free(planar);
    return (t1 - t0) * 1e9 / ((double)(periods - first) * FRAMES * channels);
}

/* ------------------------------------------------------------------------ */
/* Quality */

#define Q_SETTLE 4800  /* 100 ms: every filter here has settled */
#define Q_FRAMES 52800 /* Q_SETTLE + 1 s analysed */

static double thdn_db(const float *x, size_t n, double hint)
{
    struct sig_fit f;
    if (sig_fit_sine(x, n, RATE, hint, &f) != 0)
        die("cannot fit the tone");
    return 20.0 * log10(f.residual / (f.amp / sqrt(2.0)));
}

/* The phase of the input tone at input time whole + frac, reduced to one cycle. */
static double track_phase(int64_t whole, double frac, double freq)
{
    double cycles = (double)whole * freq / RATE;
    cycles -= floor(cycles);
    cycles += frac * freq / RATE;
    return 2.0 * PI * (cycles - floor(cycles));
}

/* Residual of a sin th + b cos th + dc fitted along the phases th, as THD+N in dB. */
static double thdn_along(const float *x, const double *th, size_t n)
{
    double m[3][3] = { { 0 } }, r[3] = { 0 }, v[3] = { 0 };
    for (size_t k = 0; k < n; k++) {
        double g[3] = { sin(th[k]), cos(th[k]), 1.0 };
        for (int i = 0; i < 3; i++) {
            r[i] += g[i] * x[k];
            for (int j = 0; j < 3; j++)
                m[i][j] += g[i] * g[j];
        }
    }
    for (int col = 0; col < 3; col++) {
        for (int row = col + 1; row < 3; row++) {
            double f = m[row][col] / m[col][col];
            for (int j = col; j < 3; j++)
                m[row][j] -= f * m[col][j];
            r[row] -= f * r[col];
        }
    }
    for (int row = 2; row >= 0; row--) {
        double s = r[row];
        for (int j = row + 1; j < 3; j++)
            s -= m[row][j] * v[j];
        v[row] = s / m[row][row];
    }
    double sum = 0.0;
    for (size_t k = 0; k < n; k++) {
        double e = x[k] - (v[0] * sin(th[k]) + v[1] * cos(th[k]) + v[2]);
        sum += e * e;
    }
    return 20.0 * log10(sqrt(sum / (double)n) / (hypot(v[0], v[1]) / sqrt(2.0)));
}

/* Our own, mono, 1 s: constant 1 + 100 ppm, or wobbling and fitted along time. */
static double quality_own(double freq, bool wobbling)
{
    size_t in_len = Q_FRAMES + Q_FRAMES / 256 + 4 * FRAMES;
    float *in = malloc(sizeof(float) * in_len), *out = malloc(sizeof(float) * Q_FRAMES);
    double *th = malloc(sizeof(double) * Q_FRAMES);
    if (in == NULL || out == NULL || th == NULL)
        die("out of memory");
    sig_tone(in, in_len, freq, RATE, AMP, 0.0, 0);
    struct aoip_resampler_config cfg = { .channels = 1, .max_out_frames = FRAMES };
    struct aoip_resampler *rs = aoip_resampler_new(&cfg);
    if (rs == NULL)
        die("cannot make a resampler");
    int64_t whole = -(int64_t)aoip_resampler_delay(rs);
    double frac = 0.0;
    size_t at = 0;
    for (size_t k = 0, p = 0; k < Q_FRAMES; p++) {
        double ratio = wobbling ? wobble(p) : 1.0 + 100e-6;
        aoip_resampler_set_ratio(rs, ratio);
        uint32_t need = aoip_resampler_needed(rs, FRAMES);
        const float *ip[1] = { in + at };
        float *op[1] = { out + k };
        if (aoip_resampler_process(rs, ip, need, op, FRAMES) != 0)
            die("process refused its own count");
        at += need;
        for (int j = 0; j < FRAMES; j++, k++) {
            th[k] = track_phase(whole, frac, freq);
            frac += ratio;
            double carry = floor(frac);
            whole += (int64_t)carry;
            frac -= carry;
        }
    }
    double db = wobbling ? thdn_along(out + Q_SETTLE, th + Q_SETTLE, Q_FRAMES - Q_SETTLE)
                         : thdn_db(out + Q_SETTLE, Q_FRAMES - Q_SETTLE, freq * (1.0 + 100e-6));
    aoip_resampler_free(rs);
    free(in);
    free(out);
    free(th);
    return db;
}

static double quality_src(int converter, double freq)
{
    float *loop = malloc(sizeof(float) * QLOOP), *out = malloc(sizeof(float) * Q_FRAMES);
    if (loop == NULL || out == NULL)
        die("out of memory");
    /* A whole number of cycles in the loop, so that wrapping it is seamless. */
    double f = round(freq * QLOOP / RATE) * RATE / QLOOP;
    sig_tone(loop, QLOOP, f, RATE, AMP, 0.0, 0);
    struct src_feed feed = { .channels = 1, .loop = loop, .len = QLOOP };
    SRC_STATE *st = src_open(converter, &feed);
    for (size_t k = 0; k < Q_FRAMES; k += FRAMES)
        src_period(st, 1.0 + 100e-6, out + k);
    double db = thdn_db(out + Q_SETTLE, Q_FRAMES - Q_SETTLE, f * (1.0 + 100e-6));
    src_delete(st);
    free(loop);
    free(out);
    return db;
}

/* ------------------------------------------------------------------------ */
/* Load */

/* The share of one core that `flows` flows of `channels` take in real time. */
static double load_own(unsigned flows, unsigned channels, double *checksum)
{
    float *src = tones(channels);
    struct flow *f = malloc(sizeof(*f) * flows);
    if (f == NULL)
        die("out of memory");
    for (unsigned i = 0; i < flows; i++) {
        flow_init(&f[i], channels, src);
        f[i].at = (size_t)i * 977 % LOOP;
    }
    uint64_t periods = 0;
    double t0 = bench_now(), t1;
    do {
        for (int b = 0; b < BATCH; b++, periods++) {
            for (unsigned i = 0; i < flows; i++) {
                /* Every flow its own drift, as every sender has. */
                flow_period(&f[i], wobble(periods + 17 * i) + 5e-6 * (i % 16));
                *checksum += f[i].out[periods % FRAMES];
            }
        }
        t1 = bench_now();
    } while (t1 - t0 < 2.0 * SECONDS);
    for (unsigned i = 0; i < flows; i++)
        flow_free(&f[i]);
    free(f);
    free(src);
    return (t1 - t0) / ((double)periods * FRAMES / RATE);
}

int main(void)
{
    const unsigned counts[] = { 1, 2, 4, 8, 16, 64 };
    const size_t ncounts = sizeof(counts) / sizeof(counts[0]);
    double checksum = 0.0;
    double own[6], pass[6], fast[6], medium[6];

    printf("aoip_resampler against libsamplerate %s, %d-frame periods, ratio 1 + 100 ppm "
           "+- 50 ppm set every period\n\n",
           src_get_version(), FRAMES);
    for (size_t i = 0; i < ncounts; i++) {
        own[i] = time_own(counts[i], false, &checksum);
        pass[i] = time_own(counts[i], true, &checksum);
        fast[i] = time_src(SRC_SINC_FASTEST, counts[i], &checksum);
        medium[i] = time_src(SRC_SINC_MEDIUM_QUALITY, counts[i], &checksum);
    }
    printf("ns per sample per channel\n");
    printf("%8s %10s %12s %12s %12s\n", "channels", "aoip", "aoip ratio 1", "SINC_FASTEST",
           "SINC_MEDIUM");
    for (size_t i = 0; i < ncounts; i++)
        printf("%8u %10.2f %12.2f %12.2f %12.2f\n", counts[i], own[i], pass[i], fast[i], medium[i]);

    printf("\nTHD+N of a -1 dBFS tone, 1 s after 100 ms settling (dB)\n");
    printf("%8s %14s %14s %12s %12s\n", "tone", "aoip constant", "aoip wobbling", "SINC_FASTEST",
           "SINC_MEDIUM");
    const double freqs[] = { 997.0, 10000.0 };
    for (size_t i = 0; i < 2; i++)
        printf("%5.0f Hz %14.1f %14.1f %12.1f %12.1f\n", freqs[i], quality_own(freqs[i], false),
               quality_own(freqs[i], true), quality_src(SRC_SINC_FASTEST, freqs[i]),
               quality_src(SRC_SINC_MEDIUM_QUALITY, freqs[i]));

    printf("\n256 channels at 48 kHz, every flow drifting on its own: share of one core\n");
    printf("  aoip, 32 flows x 8 channels:  %5.2f %%\n", 100.0 * load_own(32, 8, &checksum));
    printf("  aoip,  4 flows x 64 channels: %5.2f %%\n", 100.0 * load_own(4, 64, &checksum));
    printf("  aoip, 256 mono flows:         %5.2f %%\n", 100.0 * load_own(256, 1, &checksum));
    printf("  SINC_FASTEST, 32 x 8 (from the table): %5.2f %%\n",
           100.0 * fast[3] * 1e-9 * 256 * RATE);
    printf("  SINC_MEDIUM,  32 x 8 (from the table): %5.2f %%\n",
           100.0 * medium[3] * 1e-9 * 256 * RATE);
    printf("\nchecksum %.6f\n", checksum);
    return 0;
}
