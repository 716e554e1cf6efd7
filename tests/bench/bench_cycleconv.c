/*
 * bench_cycleconv.c: what it costs to run a node's periods on a sound
 * device's cycles that do not line up with them, and what latency that adds.
 *
 * Cost: nanoseconds per device frame per channel of aoip_cycleconv_cycle
 * (capture in and playback out, both converted, and a period function that
 * copies) at 2, 8 and 64 channels each way, for a 44.1 kHz device under a
 * 48 kHz node in 256-frame cycles and for a 48 kHz device under a 48 kHz
 * node in 300-frame cycles (FIFOs only: the rate converters copy). The node's
 * period is 256 frames. Each case runs for about SECONDS of CLOCK_MONOTONIC.
 *
 * Latency: for the pairs a node meets (44.1/48, 48/44.1, 96/48 and
 * 48/96 kHz, device/node) at a period of 256, the prefill and the whole
 * latency aoip_cycleconv_latency states, in device frames and ms.
 *
 * Figures only: nothing here fails on time. A checksum is printed so that
 * the work cannot be optimized away.
 */
/* clock_gettime (in bench_util.h) under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/cycleconv.h"
#include "sig.h"
#include "bench_util.h"

#define SECONDS 0.3 /* per timed case */
#define BATCH   50  /* cycles between clock reads */
#define MAXCH   64
#define PERIOD  256
#define AMP     0.50118723362727224 /* -6 dBFS */
/* The capture the timed cases loop over: 32 cycles per channel. */
#define LOOP_CYCLES 32

struct pair {
    uint32_t device, node;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_cycleconv: %s\n", what);
    exit(1);
}

static struct aoip_cycleconv *conv(struct pair p, unsigned channels, uint32_t cycle)
{
    struct aoip_cycleconv_config cfg = {
        .capture_channels = channels,
        .playback_channels = channels,
        .device_rate = p.device,
        .node_rate = p.node,
        .period_frames = PERIOD,
        .max_cycle_frames = cycle,
    };
    struct aoip_cycleconv *cc = aoip_cycleconv_new(&cfg);
    if (cc == NULL)
        die("cannot make a converter");
    return cc;
}

/* The period function: capture to playback, channel for channel. */
static void copy(void *arg, const float *const *in, float *const *out, uint32_t after)
{
    const unsigned channels = *(const unsigned *)arg;
    (void)after;
    for (unsigned c = 0; c < channels; c++)
        memcpy(out[c], in[c], sizeof(float) * PERIOD);
}

/* ns per device frame per channel, for cycles of `cycle` frames at pair p. */
static double time_case(struct pair p, unsigned channels, uint32_t cycle, double *checksum)
{
    const size_t loop = (size_t)cycle * LOOP_CYCLES;
    float *src = malloc(sizeof(float) * loop * channels);
    float *dst = malloc(sizeof(float) * cycle * channels);
    if (src == NULL || dst == NULL)
        die("out of memory");
    for (unsigned c = 0; c < channels; c++)
        sig_tone(src + c * loop, loop, 250.0 + 311.0 * c, p.device, AMP, 0.0, 0);
    struct aoip_cycleconv *cc = conv(p, channels, cycle);
    const float *in[MAXCH];
    float *out[MAXCH];
    for (unsigned c = 0; c < channels; c++)
        out[c] = dst + (size_t)c * cycle;

    uint64_t cycles = 0, first = 0;
    double t0 = 0.0, t1;
    do {
        for (int b = 0; b < BATCH; b++, cycles++) {
            size_t at = (size_t)(cycles % LOOP_CYCLES) * cycle;
            for (unsigned c = 0; c < channels; c++)
                in[c] = src + c * loop + at;
            if (aoip_cycleconv_cycle(cc, in, out, cycle, copy, &channels) < 0)
                die("a cycle was refused");
            *checksum += dst[cycles % cycle];
        }
        t1 = bench_now();
        /* The first batch warms the caches and is not counted. */
        if (cycles == BATCH) {
            t0 = t1;
            first = cycles;
        }
    } while (t1 - t0 < SECONDS);
    aoip_cycleconv_free(cc);
    free(src);
    free(dst);
    return (t1 - t0) * 1e9 / ((double)(cycles - first) * cycle * channels);
}

int main(void)
{
    char cpu[128];
    bench_cpu_model(cpu, sizeof(cpu));
    printf("bench_cycleconv on %s, period %u node frames\n\n", cpu, PERIOD);

    const struct {
        struct pair p;
        uint32_t cycle;
    } cases[] = {
        { { 44100, 48000 }, 256 },
        { { 48000, 48000 }, 300 },
    };
    const unsigned counts[] = { 2, 8, 64 };
    double checksum = 0.0;
    printf("cost, ns per device frame per channel (capture and playback):\n");
    printf("  device -> node   cycle   2 ch    8 ch    64 ch\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        printf("  %6u -> %5u  %5u", cases[i].p.device, cases[i].p.node, cases[i].cycle);
        for (size_t j = 0; j < 3; j++)
            printf("  %6.2f", time_case(cases[i].p, counts[j], cases[i].cycle, &checksum));
        printf("\n");
    }

    const struct pair pairs[] = {
        { 44100, 48000 }, { 48000, 44100 }, { 96000, 48000 }, { 48000, 96000 }, { 48000, 48000 }
    };
    printf("\nlatency added, capture to playback through a copy, period %u:\n", PERIOD);
    printf("  device -> node   prefill   latency (device frames)     ms\n");
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        struct aoip_cycleconv *cc = conv(pairs[i], 2, 1024);
        double lat = aoip_cycleconv_latency(cc);
        printf("  %6u -> %5u  %7u   %12.3f            %6.3f\n", pairs[i].device, pairs[i].node,
               aoip_cycleconv_prefill(cc), lat, 1e3 * lat / pairs[i].device);
        aoip_cycleconv_free(cc);
    }
    printf("\nchecksum %g\n", checksum);
    return 0;
}
