/*
 * bench_mixer.c: what the mix costs the media thread.
 *
 * Prints nanoseconds per crosspoint-sample (one source sample scaled and
 * added into one destination) and microseconds per 48-frame period for
 * matrices of 64, 512 and 4096 crosspoints, with steady gains, and for 4096
 * crosspoints that are all ramping. The layout is the realistic sparse one:
 * N sources and N destinations, each destination fed by a handful of
 * sources (4096 crosspoints: 256 x 256, 16 per destination). The figure
 * covers the whole of aoip_mixer_process: clearing destinations, the mix
 * and the meters.
 *
 * Each case runs for about half a second of CLOCK_MONOTONIC. The checksum
 * of the output is printed so that the work cannot be optimized away.
 * Figures only: nothing here fails on time.
 */
/* clock_gettime (in bench_util.h) under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aoip/mixer.h"
#include "bench_util.h"

#define PI      3.14159265358979323846
#define FRAMES  48  /* 1 ms at 48 kHz */
#define SECONDS 0.5 /* per case */
#define BATCH   250 /* periods between clock reads */
/* The ramping case retargets every crosspoint this often, well inside one
 * ramp, so that every period of the run is mid-ramp. */
#define RAMP_FRAMES    48000
#define RETARGET_EVERY 500

static void die(const char *what)
{
    fprintf(stderr, "bench_mixer: %s\n", what);
    exit(1);
}

/* Route `per` sources into each of `chans` destinations, all different. */
static void route(struct aoip_mixer *mx, uint32_t chans, uint32_t per, float gain)
{
    for (uint32_t d = 0; d < chans; d++) {
        for (uint32_t k = 0; k < per; k++) {
            uint32_t s = (d + k * (chans / per)) % chans;
            if (aoip_mixer_set(mx, s, d, gain * (float)(k + 1) / (float)per, false) != 0)
                die("cannot set a crosspoint");
        }
    }
}

static void bench(uint32_t crosspoints, uint32_t chans, bool ramping)
{
    const uint32_t per = crosspoints / chans;
    struct aoip_mixer_config cfg = {
        .sources = chans,
        .destinations = chans,
        .max_crosspoints = crosspoints,
        .max_frames = FRAMES,
        .ramp_frames = ramping ? RAMP_FRAMES : 0,
    };
    struct aoip_mixer *mx = aoip_mixer_new(&cfg);
    float *in = malloc(sizeof(float) * chans * FRAMES);
    float *out = malloc(sizeof(float) * chans * FRAMES);
    const float **src = malloc(sizeof(*src) * chans);
    float **dst = malloc(sizeof(*dst) * chans);
    double checksum = 0.0;
    uint64_t periods = 0;
    double t0, t1;

    if (mx == NULL || in == NULL || out == NULL || src == NULL || dst == NULL)
        die("out of memory");
    for (uint32_t c = 0; c < chans; c++) {
        src[c] = in + (size_t)c * FRAMES;
        dst[c] = out + (size_t)c * FRAMES;
        for (uint32_t i = 0; i < FRAMES; i++)
            in[(size_t)c * FRAMES + i] =
                (float)(0.5 * sin(2.0 * PI * (100.0 + 37.0 * c) * i / 48000.0));
    }
    route(mx, chans, per, 0.5f);
    /* Let the fade-ins of the new routes finish (5 ms) before timing. */
    if (!ramping) {
        for (int i = 0; i < 10; i++)
            aoip_mixer_process(mx, src, dst, FRAMES);
    }

    t0 = bench_now();
    do {
        for (int b = 0; b < BATCH; b++, periods++) {
            if (ramping && periods % RETARGET_EVERY == 0)
                route(mx, chans, per, periods / RETARGET_EVERY % 2 ? 0.25f : 0.75f);
            aoip_mixer_process(mx, src, dst, FRAMES);
            checksum += out[(periods % chans) * FRAMES + periods % FRAMES];
        }
        t1 = bench_now();
    } while (t1 - t0 < SECONDS);
    for (size_t i = 0; i < (size_t)chans * FRAMES; i++)
        checksum += out[i];

    double ns = (t1 - t0) * 1e9 / ((double)periods * crosspoints * FRAMES);
    double us = (t1 - t0) * 1e6 / (double)periods;
    char layout[32];
    snprintf(layout, sizeof layout, "%ux%u,", chans, chans);
    printf("mixer %-7s %5u crosspoints (%-8s %2u per destination): "
           "%6.3f ns/crosspoint-sample, %7.2f us/period, %8llu periods, checksum %.6f\n",
           ramping ? "ramping" : "steady", crosspoints, layout, per, ns, us,
           (unsigned long long)periods, checksum);

    aoip_mixer_free(mx);
    free(in);
    free(out);
    free(src);
    free(dst);
}

int main(void)
{
    printf("aoip_mixer_process, %d-frame periods, about %.1f s per line\n", FRAMES, SECONDS);
    bench(64, 16, false);
    bench(512, 64, false);
    bench(4096, 256, false);
    bench(4096, 256, true);
    return 0;
}
