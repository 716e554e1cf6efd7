/*
 * bench_rateconv.c: what converting an Opus flow between a node's rate
 * and 48 kHz costs, and what it does to the audio.
 *
 * Cost: nanoseconds per output sample per channel of aoip_rateconv_process
 * at 1, 2, 16 and 64 channels, for 44.1 -> 48, 48 -> 44.1, 96 -> 48 and
 * 48 -> 96 kHz, in calls of 1 ms of input, as the media thread makes them.
 * Each case runs for about SECONDS of CLOCK_MONOTONIC. The taps per output
 * frame (per phase) say what the figures are made of: a decimator's output
 * frame costs in_rate / out_rate times more taps than an interpolator's.
 *
 * Quality, for every pair the unit test covers: THD+N of a -1 dBFS tone
 * at 997 Hz and 10 kHz (1 s, after the filter has filled), the worst THD+N
 * over a sweep of tones across the passband (images and aliases of an
 * in-band tone count in it), and the worst leakage of a sweep of tones
 * from the stopband edge to the input's Nyquist frequency, where there is
 * such a band.
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

#include "aoip/rateconv.h"
#include "sig.h"
#include "bench_util.h"

#define SECONDS 0.3 /* per timed case */
#define BATCH   50  /* calls between clock reads */
#define MAXCH   64
#define AMP     0.89125093813374556 /* -1 dBFS */
/* The input the timed cases loop over: 20 ms per channel, in cache as a jitter buffer's would be.
 */
#define LOOP_MS 20
#define SWEEP   40 /* tones per sweep */

struct pair {
    uint32_t in, out;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_rateconv: %s\n", what);
    exit(1);
}

static struct aoip_rateconv *conv(unsigned channels, struct pair p, uint32_t max_in)
{
    struct aoip_rateconv_config cfg = {
        .channels = channels, .in_rate = p.in, .out_rate = p.out, .max_in_frames = max_in
    };
    struct aoip_rateconv *rc = aoip_rateconv_new(&cfg);
    if (rc == NULL)
        die("cannot make a converter");
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Cost */

/* ns per output sample per channel for one flow of `channels` at pair p. */
static double time_case(struct pair p, unsigned channels, double *checksum)
{
    const uint32_t chunk = p.in / 1000, loop = chunk * LOOP_MS;
    struct aoip_rateconv_config cfg = {
        .channels = channels, .in_rate = p.in, .out_rate = p.out, .max_in_frames = chunk
    };
    const uint32_t room = aoip_rateconv_max_out_frames(&cfg, chunk);
    float *src = malloc(sizeof(float) * loop * channels);
    float *dst = malloc(sizeof(float) * room * channels);
    if (src == NULL || dst == NULL)
        die("out of memory");
    for (unsigned c = 0; c < channels; c++)
        sig_tone(src + (size_t)c * loop, loop, 250.0 + 311.0 * c, p.in, AMP, 0.0, 0);
    struct aoip_rateconv *rc = conv(channels, p, chunk);
    const float *in[MAXCH];
    float *out[MAXCH];
    for (unsigned c = 0; c < channels; c++)
        out[c] = dst + (size_t)c * room;

    uint64_t calls = 0, made = 0, first = 0;
    double t0 = 0.0, t1;
    do {
        for (int b = 0; b < BATCH; b++, calls++) {
            uint32_t at = (uint32_t)(calls % LOOP_MS) * chunk;
            for (unsigned c = 0; c < channels; c++)
                in[c] = src + (size_t)c * loop + at;
            int n = aoip_rateconv_process(rc, in, chunk, out);
            if (n < 0)
                die("process refused a call");
            made += (uint64_t)n;
            *checksum += n > 0 ? dst[calls % (uint64_t)n] : 0.0;
        }
        t1 = bench_now();
        /* The first batch warms the caches and is not counted. */
        if (calls == BATCH) {
            t0 = t1;
            first = made;
        }
    } while (t1 - t0 < SECONDS);
    made -= first;
    aoip_rateconv_free(rc);
    free(src);
    free(dst);
    return (t1 - t0) * 1e9 / ((double)made * channels);
}

/* ------------------------------------------------------------------------ */
/* Quality */

static double pass_edge(struct pair p)
{
    double low = p.in < p.out ? p.in : p.out;
    return fmin(20000.0, 0.4167 * low);
}

/* A -1 dBFS tone of freq Hz through a mono converter in 1 ms calls; out gets 1 s after settling. */
static size_t through(struct pair p, double freq, float **out, size_t *settle)
{
    const uint32_t chunk = p.in / 1000;
    struct aoip_rateconv *rc = conv(1, p, chunk);
    *settle = (size_t)ceil(2.0 * aoip_rateconv_delay(rc)) + 16;
    size_t in_len = (size_t)p.in + (size_t)p.in / 10;
    float *in = malloc(sizeof(float) * in_len);
    *out = malloc(sizeof(float) * ((size_t)p.out + (size_t)p.out / 10 + 16));
    if (in == NULL || *out == NULL)
        die("out of memory");
    sig_tone(in, in_len, freq, p.in, AMP, 0.0, 0);
    size_t made = 0;
    for (size_t at = 0; at + chunk <= in_len; at += chunk) {
        const float *ip[1] = { in + at };
        float *op[1] = { *out + made };
        int n = aoip_rateconv_process(rc, ip, chunk, op);
        if (n < 0)
            die("process refused a call");
        made += (size_t)n;
    }
    aoip_rateconv_free(rc);
    free(in);
    return made;
}

/* THD+N in dB of a tone of freq Hz through p: the residual against a sine fitted at freq. */
static double thdn(struct pair p, double freq)
{
    float *out;
    size_t s, made = through(p, freq, &out, &s);
    double amp, res;
    if (sig_fit_tones(out + s, made - s, p.out, &freq, 1, &amp, NULL, &res) != 0)
        die("cannot fit the tone");
    free(out);
    return 20.0 * log10(res / (amp / sqrt(2.0)));
}

/* dB relative to the input tone of whatever comes out of a tone that should vanish. */
static double leakage(struct pair p, double freq)
{
    float *out;
    size_t s, made = through(p, freq, &out, &s);
    double db = sig_rms_dbfs(out + s, made - s) - (sig_dbfs(AMP) - 3.0103);
    free(out);
    return db;
}

int main(void)
{
    char cpu[128];
    double checksum = 0.0;
    const struct pair timed[] = {
        { 44100, 48000 }, { 48000, 44100 }, { 96000, 48000 }, { 48000, 96000 }
    };
    const unsigned counts[] = { 1, 2, 16, 64 };

    bench_cpu_model(cpu, sizeof(cpu));
    printf("aoip_rateconv on %s, calls of 1 ms of input\n\n", cpu);
    printf("ns per output sample per channel\n");
    printf("%16s %5s %8s %8s %8s %8s %8s\n", "pair", "taps", "delay", "1 ch", "2 ch", "16 ch",
           "64 ch");
    for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++) {
        struct aoip_rateconv *rc = conv(1, timed[i], 48);
        printf("%6u -> %6u %5u %8.3f", timed[i].in, timed[i].out, aoip_rateconv_taps(rc),
               aoip_rateconv_delay(rc));
        aoip_rateconv_free(rc);
        for (size_t j = 0; j < sizeof(counts) / sizeof(counts[0]); j++)
            printf(" %8.2f", time_case(timed[i], counts[j], &checksum));
        printf("\n");
        fflush(stdout);
    }

    const struct pair pairs[] = {
        { 44100, 48000 },  { 48000, 44100 },  { 96000, 48000 }, { 48000, 96000 },
        { 192000, 48000 }, { 48000, 192000 }, { 88200, 48000 }, { 32000, 48000 },
    };
    printf("\nTHD+N of -1 dBFS tones (1 s), worst over %d tones 20 Hz..f_pass, worst leakage\n"
           "of %d tones from the stopband edge to the input's Nyquist frequency (dB)\n",
           SWEEP, SWEEP);
    printf("%16s %5s %8s %8s %8s %11s %9s\n", "pair", "taps", "f_pass", "997 Hz", "10 kHz",
           "worst pass", "leakage");
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        const struct pair p = pairs[i];
        const double pass = pass_edge(p), low = p.in < p.out ? p.in : p.out;
        double worst = -INFINITY, leak = -INFINITY;
        for (int k = 0; k < SWEEP; k++)
            worst = fmax(worst, thdn(p, 20.0 + (pass - 20.0) * k / (SWEEP - 1)));
        /* A stopband the input reaches: only where the input is the higher rate. */
        const double stop = low - pass, top = p.in / 2.0 - 50.0;
        for (int k = 0; stop < top && k < SWEEP; k++)
            leak = fmax(leak, leakage(p, stop + (top - stop) * k / (SWEEP - 1)));
        struct aoip_rateconv *rc = conv(1, p, 48);
        printf("%6u -> %6u %5u %8.0f %8.1f %8.1f %11.1f ", p.in, p.out, aoip_rateconv_taps(rc),
               pass, thdn(p, 997.0), thdn(p, 10000.0), worst);
        if (stop < top)
            printf("%9.1f\n", leak);
        else
            printf("%9s\n", "-");
        aoip_rateconv_free(rc);
        fflush(stdout);
    }
    printf("\n48000 -> 44100: a 23 kHz tone (transition band) folds to 21.1 kHz at %.1f dB\n",
           leakage((struct pair){ 48000, 44100 }, 23000.0));
    printf("\nchecksum %.6f\n", checksum);
    return 0;
}
