/*
 * bench_devfmt.c: what converting a sound device's buffer costs the media
 * thread.
 *
 * Prints nanoseconds per sample (one channel of one frame) of
 * aoip_dev_decode (device buffer to planar float) and aoip_dev_encode (the
 * other way) for each format, at 2 and 32 channels, in calls of one
 * PERIOD-frame period as a device hands them over. The buffers loop over
 * RING periods, small enough to stay in cache as a device's ring buffer
 * mapped for the period would be. The samples are a -1 dBFS tone per
 * channel, so that encoding rounds real values (nothing clips).
 *
 * Each case runs for about SECONDS of CLOCK_MONOTONIC. A checksum is
 * printed so that the work cannot be optimized away. Figures only: nothing
 * here fails on time.
 */
/* clock_gettime (in bench_util.h) under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aoip/devfmt.h"
#include "bench_util.h"

#define SECONDS 0.3 /* per timed case */
#define BATCH   64  /* calls between clock reads */
#define PERIOD  256 /* frames a call: 5.3 ms at 48 kHz, a common ALSA period */
#define RING    4   /* periods the buffers loop over */
#define MAXCH   32
#define PI      3.14159265358979323846

static void die(const char *what)
{
    fprintf(stderr, "bench_devfmt: %s\n", what);
    exit(1);
}

/* ns per sample of decode (encode false) or encode of fmt at channels. */
static double time_case(enum aoip_dev_format fmt, unsigned channels, int encode, double *checksum)
{
    const size_t frames = (size_t)PERIOD * RING,
                 period_bytes = aoip_dev_format_width(fmt) * channels * PERIOD;
    float *planar = malloc(sizeof(float) * frames * channels);
    uint8_t *dev = malloc(period_bytes * RING);
    float *planes[MAXCH];
    const float *cplanes[MAXCH];

    if (planar == NULL || dev == NULL)
        die("out of memory");
    for (unsigned c = 0; c < channels; c++) {
        planes[c] = planar + (size_t)c * frames;
        cplanes[c] = planes[c];
        for (size_t i = 0; i < frames; i++)
            planes[c][i] = (float)(0.891 * sin(2.0 * PI * (250.0 + 97.0 * c) * (double)i / 48000));
    }
    /* A device buffer of the same tone, for decoding. */
    aoip_dev_encode(fmt, dev, cplanes, 0, channels, frames);

    uint64_t calls = 0;
    double t0 = 0.0, t1;
    do {
        for (int b = 0; b < BATCH; b++, calls++) {
            size_t at = (size_t)(calls % RING);
            if (encode)
                aoip_dev_encode(fmt, dev + at * period_bytes, cplanes, at * PERIOD, channels,
                                PERIOD);
            else
                aoip_dev_decode(fmt, planes, at * PERIOD, dev + at * period_bytes, channels,
                                PERIOD);
        }
        *checksum += encode ? dev[calls % period_bytes] : planar[calls % (frames * channels)];
        t1 = bench_now();
        /* The first batch warms the caches and is not counted. */
        if (calls == BATCH)
            t0 = t1;
    } while (t1 - t0 < SECONDS);
    free(planar);
    free(dev);
    return (t1 - t0) * 1e9 / ((double)(calls - BATCH) * PERIOD * channels);
}

int main(void)
{
    static const enum aoip_dev_format fmts[] = {
        AOIP_DEV_S16_LE, AOIP_DEV_S24_3LE, AOIP_DEV_S24_LE, AOIP_DEV_S32_LE, AOIP_DEV_FLOAT_LE,
    };
    static const unsigned counts[] = { 2, 32 };
    char cpu[128];
    double checksum = 0.0;

    bench_cpu_model(cpu, sizeof(cpu));
    printf("aoip_dev_decode / aoip_dev_encode on %s, calls of %d frames\n\n", cpu, PERIOD);
    printf("ns per sample\n");
    printf("%-10s %10s %10s %10s %10s\n", "format", "dec 2 ch", "dec 32 ch", "enc 2 ch",
           "enc 32 ch");
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        printf("%-10s", aoip_dev_format_name(fmts[f]));
        for (int encode = 0; encode < 2; encode++)
            for (size_t j = 0; j < sizeof(counts) / sizeof(counts[0]); j++)
                printf(" %10.3f", time_case(fmts[f], counts[j], encode, &checksum));
        printf("\n");
        fflush(stdout);
    }
    printf("\nchecksum %.6f\n", checksum);
    return 0;
}
