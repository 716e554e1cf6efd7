/*
 * pcmblock.h: the encoding passes that pcm.c (the wire's L16 and L24) and
 * devfmt.c (sound devices' formats) share: clip a block of scaled floats to
 * the code range, and round it to integer codes. Internal to libaoip.
 */
#ifndef AOIP_PCMBLOCK_H
#define AOIP_PCMBLOCK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Round to nearest, ties to even, by the classic float trick: adding 2^23
 * to a magnitude below 2^24 leaves no fraction bits, so the addition itself
 * rounds (in the default rounding mode, ties to even, and 2^23 is even so
 * the parity is that of the rounded magnitude); subtracting 2^23 again is
 * exact. Assignments to float drop any excess precision (C17 5.2.4.2.2),
 * which -std=c17 makes gcc honour on x87 too.
 */
#define ROUND_MAGIC 8388608.0f

/* scale * x, clipped to [-scale, scale - 1]; NaN becomes 0. The compare and
 * select form (fminf and fmaxf would return the other operand for a NaN)
 * lets NaN through the clips so that the last select catches it. */
static inline void clip_block(float *restrict t, const float *restrict x, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float s = x[i] * scale;
        s = s > scale - 1.0f ? scale - 1.0f : s;
        s = s < -scale ? -scale : s;
        t[i] = s == s ? s : 0.0f;
    }
}

static inline void round_block(int32_t *restrict code, const float *restrict t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(t[i]);
        a = a + ROUND_MAGIC;
        a = a - ROUND_MAGIC;
        code[i] = (int32_t)copysignf(a, t[i]);
    }
}

#endif
