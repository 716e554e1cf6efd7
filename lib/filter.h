/*
 * filter.h: what the two resamplers share (lib/resample.c, the variable
 * ratio one that follows a sender's clock, and lib/rateconv.c, the fixed
 * ratio one between a node's rate and Opus' 48 kHz): the Kaiser-windowed
 * sinc their filters are made of, and the kernel that applies one row of
 * taps to a frame-interleaved history, a block of channels at a time.
 *
 * Everything is static inline: each file's kernel is compiled with its own
 * tap count in view (a constant in resample.c), which is what lets gcc
 * unroll and vectorize it as if written there.
 */
#ifndef AOIP_LIB_FILTER_H
#define AOIP_LIB_FILTER_H

#include <math.h>
#include <stddef.h>

#include "aoip/common.h"

#define FILTER_PI 3.14159265358979323846

/* Zeroth-order modified Bessel function of the first kind, by its series. */
static inline double filter_bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 500 && term > sum * 1e-21; k++) {
        term *= q / ((double)k * k);
        sum += term;
    }
    return sum;
}

/*
 * The tap at tau (in taps) from the centre of a lowpass with cutoff fc
 * (cycles per tap), windowed by a Kaiser window of half-width half and
 * shape beta; i0_beta is filter_bessel_i0(beta). Zero outside the window.
 */
static inline double filter_kaiser_tap(double tau, double half, double fc, double beta,
                                       double i0_beta)
{
    double u = tau / half, x = 2.0 * fc * tau;
    if (fabs(u) > 1.0)
        return 0.0;
    double sinc = x == 0.0 ? 1.0 : sin(FILTER_PI * x) / (FILTER_PI * x);
    return 2.0 * fc * sinc * filter_bessel_i0(beta * sqrt(fmax(0.0, 1.0 - u * u))) / i0_beta;
}

/*
 * A block of width (8 or 16) channels of a frame-interleaved history
 * (stride floats from frame to frame) against taps (an even count) of
 * row. Each channel sums from both ends of the filter towards its centre,
 * in two accumulators: that puts four or eight independent vector
 * additions in flight, and the large centre taps come last, so every
 * addition before them rounds a partial sum that is still small (5 dB
 * better than summing in tap order). Called with a constant width, the
 * loops over k unroll and the accumulators live in registers.
 */
static AOIP_RT inline __attribute__((always_inline)) void
filter_dot_block(const float *restrict x, size_t stride, const float *restrict row, unsigned taps,
                 unsigned width, float *restrict y)
{
    float a[16] = { 0 }, b[16] = { 0 };
    for (unsigned t = 0; t < taps / 2; t++) {
        const float *restrict x0 = x + t * stride;
        const float *restrict x1 = x + (taps - 1 - t) * stride;
        float c0 = row[t], c1 = row[taps - 1 - t];
#pragma GCC unroll 16
        for (unsigned k = 0; k < width; k++) {
            a[k] += c0 * x0[k];
            b[k] += c1 * x1[k];
        }
    }
#pragma GCC unroll 16
    for (unsigned k = 0; k < width; k++)
        y[k] = a[k] + b[k];
}

/*
 * Output frame j of channels channels from a frame-interleaved history x
 * (its oldest frame under the row's first tap; stride a multiple of 8,
 * the channels padded to it) against row: 16 channels at a time while
 * that many lines are there, else 8.
 */
static AOIP_RT inline void filter_interleaved(const float *restrict x, size_t stride,
                                              unsigned channels, const float *restrict row,
                                              unsigned taps, float *const *out, uint32_t j)
{
    float y[16];
    for (unsigned c0 = 0; c0 < channels;) {
        unsigned w = stride - c0 >= 16 ? 16 : 8;
        if (w == 16)
            filter_dot_block(x + c0, stride, row, taps, 16, y);
        else
            filter_dot_block(x + c0, stride, row, taps, 8, y);
        unsigned m = channels - c0 < w ? channels - c0 : w;
        for (unsigned k = 0; k < m; k++)
            out[c0 + k][j] = y[k];
        c0 += w;
    }
}

#endif
