/*
 * bench_util.h: what the C benchmarks (bench_mixer, bench_resample,
 * bench_seal) share: the clock they time with.
 *
 * Header-only, so that a benchmark needs no library beyond what it
 * measures. The including file defines _POSIX_C_SOURCE before its first
 * #include, as clock_gettime under -std=c17 wants.
 */
#ifndef AOIP_BENCH_UTIL_H
#define AOIP_BENCH_UTIL_H

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 199309L
#error "define _POSIX_C_SOURCE (200809L) before the first #include"
#endif

#include <stdio.h>
#include <string.h>
#include <time.h>

/*
 * Seconds of CLOCK_MONOTONIC: it never steps back when NTP or PTP sets
 * the wall clock, so a difference of two reads is time spent.
 */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The CPU's model name from /proc/cpuinfo into out, for the figures' heading. */
static inline void bench_cpu_model(char *out, size_t n)
{
    char line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(out, n, "unknown CPU");
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, n, "%s", colon + 2);
            break;
        }
    }
    if (f)
        fclose(f);
}

#endif
