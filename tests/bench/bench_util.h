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

#endif
