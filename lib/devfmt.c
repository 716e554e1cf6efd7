/*
 * devfmt.c: sound device buffers (interleaved, little-endian, in ALSA's
 * sample formats) to and from the engine's planar float.
 *
 * The conventions are those of pcm.c for the wire, so that a sample means
 * the same thing whichever door it came in by. Decoding multiplies the
 * code by 2^-(bits-1), which is exact for 16 and 24 bits (a float carries
 * 24 significant bits) and correctly rounded for 32. Encoding scales,
 * clips on floats to the code range (so +1.0 is the largest positive code
 * and the conversion to an integer only ever sees an integral value in
 * range), and rounds to nearest, ties to even. NaN becomes 0, in float
 * too: a corrupted sample should be silence, not a full-scale click.
 *
 * S32 is done in double: 2^31 - 1, the code of +1.0, has no float, and a
 * float clip to the float below it (2^31 - 128) would need a second
 * select after the conversion. In double every step is exact up to the
 * one rounding that is wanted.
 *
 * S24_LE keeps a sample in the low three bytes of four. Decoding ignores
 * the fourth byte (drivers leave 0x00 or the sign there) and extends bit
 * 23; encoding writes the sign extension, the 32-bit integer of the code.
 *
 * The shape is pcm.c's, for the same reason: one channel at a time, in
 * blocks of DEV_BLOCK frames called with that constant (gcc -O2 vectorizes
 * only loops whose trip count it knows), each block in separate passes
 * (unpack then scale; clip, round, pack) with no calls and no branches
 * that can trap. The arithmetic passes vectorize; the unpacking and
 * packing walk the device buffer at a stride of one frame and stay scalar,
 * as in pcm.c. Four-byte and two-byte samples are read and written with
 * memcpy on a little-endian host, where that is the device's byte order,
 * so that they are whole loads and stores at any alignment; elsewhere, and
 * for the three-byte format always, byte by byte in explicit order.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "aoip/devfmt.h"
#include "pcmblock.h"

/* Frames per pass, as in pcm.c: 16 floats fill four SSE registers or one
 * AVX-512 register, and divide the usual device periods. */
#define DEV_BLOCK 16

/* The code of +1.0 before clipping: 2^15, 2^23, 2^31. */
#define S16_SCALE 32768.0f
#define S24_SCALE 8388608.0f
#define S32_SCALE 2147483648.0

/* Round to nearest, ties to even, by adding and subtracting 2^52 in
 * double, as pcmblock.h does with 2^23 in float. Magnitudes stay below 2^32. */
#define ROUND_MAGIC_D 4503599627370496.0

/* What filter.h does for its blocks: gcc would not inline a block with
 * all its formats twice, and without the constants nothing vectorizes. */
#if defined(__GNUC__)
#define INLINE __attribute__((always_inline))
#else
#define INLINE
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_IS_LE 1
#else
#define HOST_IS_LE 0
#endif

static inline uint16_t get_le16(const uint8_t *p)
{
    uint16_t v;
    if (HOST_IS_LE) {
        memcpy(&v, p, sizeof v);
        return v;
    }
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
    uint32_t v;
    if (HOST_IS_LE) {
        memcpy(&v, p, sizeof v);
        return v;
    }
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
    if (HOST_IS_LE) {
        memcpy(p, &v, sizeof v);
        return;
    }
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    if (HOST_IS_LE) {
        memcpy(p, &v, sizeof v);
        return;
    }
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The two's complement reading of 32 bits. int32_t has no padding and no
 * other representation (C17 7.20.1.1), so the bytes are the answer; a cast
 * would be implementation-defined above INT32_MAX. */
static inline int32_t as_int32(uint32_t u)
{
    int32_t s;
    memcpy(&s, &u, sizeof s);
    return s;
}

static inline float as_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* ------------------------------------------------------------------------ */
/* Decoding: unpack the codes of one channel, then scale them. */

/* Sign extension as in pcm.c: flip the sign bit, subtract it again. */
static inline void unpack_s16(int32_t *restrict code, const uint8_t *restrict in, size_t stride,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        code[i] = (int32_t)(get_le16(in + i * stride) ^ 0x8000u) - 0x8000;
}

static inline void unpack_s24_3(int32_t *restrict code, const uint8_t *restrict in, size_t stride,
                                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in + i * stride;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
        code[i] = (int32_t)(u ^ 0x800000u) - 0x800000;
    }
}

static inline void unpack_s24_4(int32_t *restrict code, const uint8_t *restrict in, size_t stride,
                                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = get_le32(in + i * stride) & 0xFFFFFFu;
        code[i] = (int32_t)(u ^ 0x800000u) - 0x800000;
    }
}

static inline void unpack_s32(int32_t *restrict code, const uint8_t *restrict in, size_t stride,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        code[i] = as_int32(get_le32(in + i * stride));
}

/* (float)code rounds to nearest for 32 bits and is exact below 2^24;
 * scaling by a power of two is exact either way. */
static inline void scale_block(float *restrict out, const int32_t *restrict code, float k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)code[i] * k;
}

static inline void unpack_float(float *restrict out, const uint8_t *restrict in, size_t stride,
                                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = as_float(get_le32(in + i * stride));
        out[i] = x == x ? x : 0.0f;
    }
}

/* At most DEV_BLOCK frames of one channel. Always inlined, with a
 * constant fmt from the caller's switch, so that the switch here folds
 * away and a full block reaches the loops with the constant n. */
static inline INLINE void decode_block(enum aoip_dev_format fmt, float *restrict out,
                                       const uint8_t *restrict in, size_t stride, size_t n)
{
    int32_t code[DEV_BLOCK];

    switch (fmt) {
    case AOIP_DEV_S16_LE:
        unpack_s16(code, in, stride, n);
        scale_block(out, code, 1.0f / S16_SCALE, n);
        break;
    case AOIP_DEV_S24_3LE:
        unpack_s24_3(code, in, stride, n);
        scale_block(out, code, 1.0f / S24_SCALE, n);
        break;
    case AOIP_DEV_S24_LE:
        unpack_s24_4(code, in, stride, n);
        scale_block(out, code, 1.0f / S24_SCALE, n);
        break;
    case AOIP_DEV_S32_LE:
        unpack_s32(code, in, stride, n);
        scale_block(out, code, (float)(1.0 / S32_SCALE), n);
        break;
    case AOIP_DEV_FLOAT_LE:
        unpack_float(out, in, stride, n);
        break;
    case AOIP_DEV_FORMATS: /* refused by the caller */
        break;
    }
}

static inline INLINE void decode_channel(enum aoip_dev_format fmt, float *restrict out,
                                         const uint8_t *restrict in, size_t stride, size_t frames)
{
    size_t i = 0;

    for (; i + DEV_BLOCK <= frames; i += DEV_BLOCK)
        decode_block(fmt, out + i, in + i * stride, stride, DEV_BLOCK);
    decode_block(fmt, out + i, in + i * stride, stride, frames - i);
}

/* ------------------------------------------------------------------------ */
/* Encoding: clip, round, pack. */

/* The same two passes for S32, in double, where 2^31 - 1 exists. */
static inline void clip_block_s32(double *restrict t, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double s = (double)x[i] * S32_SCALE;
        s = s > S32_SCALE - 1.0 ? S32_SCALE - 1.0 : s;
        s = s < -S32_SCALE ? -S32_SCALE : s;
        t[i] = s == s ? s : 0.0;
    }
}

static inline void round_block_s32(int32_t *restrict code, const double *restrict t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double a = fabs(t[i]);
        a = a + ROUND_MAGIC_D;
        a = a - ROUND_MAGIC_D;
        code[i] = (int32_t)copysign(a, t[i]);
    }
}

static inline void pack_s16(uint8_t *restrict out, const int32_t *restrict code, size_t stride,
                            size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_le16(out + i * stride, (uint16_t)(uint32_t)code[i]);
}

static inline void pack_s24_3(uint8_t *restrict out, const int32_t *restrict code, size_t stride,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)code[i];
        out[i * stride + 0] = (uint8_t)v;
        out[i * stride + 1] = (uint8_t)(v >> 8);
        out[i * stride + 2] = (uint8_t)(v >> 16);
    }
}

/* S24_LE and S32_LE alike: the code as a 32-bit integer (for S24 its sign
 * extension fills the fourth byte). */
static inline void pack_32(uint8_t *restrict out, const int32_t *restrict code, size_t stride,
                           size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_le32(out + i * stride, (uint32_t)code[i]);
}

static inline void pack_float(uint8_t *restrict out, const float *restrict x, size_t stride,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float s = x[i] == x[i] ? x[i] : 0.0f;
        put_le32(out + i * stride, float_bits(s));
    }
}

static inline INLINE void encode_block(enum aoip_dev_format fmt, uint8_t *restrict out,
                                       const float *restrict in, size_t stride, size_t n)
{
    float t[DEV_BLOCK];
    double td[DEV_BLOCK];
    int32_t code[DEV_BLOCK];

    switch (fmt) {
    case AOIP_DEV_S16_LE:
        clip_block(t, in, S16_SCALE, n);
        round_block(code, t, n);
        pack_s16(out, code, stride, n);
        break;
    case AOIP_DEV_S24_3LE:
        clip_block(t, in, S24_SCALE, n);
        round_block(code, t, n);
        pack_s24_3(out, code, stride, n);
        break;
    case AOIP_DEV_S24_LE:
        clip_block(t, in, S24_SCALE, n);
        round_block(code, t, n);
        pack_32(out, code, stride, n);
        break;
    case AOIP_DEV_S32_LE:
        clip_block_s32(td, in, n);
        round_block_s32(code, td, n);
        pack_32(out, code, stride, n);
        break;
    case AOIP_DEV_FLOAT_LE:
        pack_float(out, in, stride, n);
        break;
    case AOIP_DEV_FORMATS: /* refused by the caller */
        break;
    }
}

static inline INLINE void encode_channel(enum aoip_dev_format fmt, uint8_t *restrict out,
                                         const float *restrict in, size_t stride, size_t frames)
{
    size_t i = 0;

    for (; i + DEV_BLOCK <= frames; i += DEV_BLOCK)
        encode_block(fmt, out + i * stride, in + i, stride, DEV_BLOCK);
    encode_block(fmt, out + i * stride, in + i, stride, frames - i);
}

/* ------------------------------------------------------------------------ */

static const struct {
    const char *name; /* ALSA's */
    const char *word; /* the short one a config may use instead */
    size_t width;
} formats[AOIP_DEV_FORMATS] = {
    [AOIP_DEV_S16_LE] = { "S16_LE", "s16", 2 },
    [AOIP_DEV_S24_3LE] = { "S24_3LE", "s24_3le", 3 },
    [AOIP_DEV_S24_LE] = { "S24_LE", "s24", 4 },
    [AOIP_DEV_S32_LE] = { "S32_LE", "s32", 4 },
    [AOIP_DEV_FLOAT_LE] = { "FLOAT_LE", "float", 4 },
};

size_t aoip_dev_format_width(enum aoip_dev_format fmt)
{
    return (unsigned)fmt < AOIP_DEV_FORMATS ? formats[fmt].width : 0;
}

const char *aoip_dev_format_name(enum aoip_dev_format fmt)
{
    return (unsigned)fmt < AOIP_DEV_FORMATS ? formats[fmt].name : "unknown";
}

/* ASCII only: a config's meaning must not depend on the locale. */
static bool same_word(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

int aoip_dev_format_parse(const char *word, enum aoip_dev_format *out)
{
    if (word == NULL || out == NULL)
        return -EINVAL;
    for (unsigned f = 0; f < AOIP_DEV_FORMATS; f++) {
        if (same_word(word, formats[f].name) || same_word(word, formats[f].word)) {
            *out = (enum aoip_dev_format)f;
            return 0;
        }
    }
    return -EINVAL;
}

/*
 * The switch is per channel, not per block: each case inlines the
 * channel's loops with its own constant format.
 */
AOIP_RT void aoip_dev_decode(enum aoip_dev_format fmt, float *const *out, size_t offset,
                             const void *in, unsigned channels, size_t frames)
{
    const size_t width = aoip_dev_format_width(fmt), stride = width * channels;

    for (unsigned c = 0; c < channels; c++) {
        float *o = out[c] + offset;
        const uint8_t *p = (const uint8_t *)in + c * width;
        switch (fmt) {
        case AOIP_DEV_S16_LE:
            decode_channel(AOIP_DEV_S16_LE, o, p, stride, frames);
            break;
        case AOIP_DEV_S24_3LE:
            decode_channel(AOIP_DEV_S24_3LE, o, p, stride, frames);
            break;
        case AOIP_DEV_S24_LE:
            decode_channel(AOIP_DEV_S24_LE, o, p, stride, frames);
            break;
        case AOIP_DEV_S32_LE:
            decode_channel(AOIP_DEV_S32_LE, o, p, stride, frames);
            break;
        case AOIP_DEV_FLOAT_LE:
            decode_channel(AOIP_DEV_FLOAT_LE, o, p, stride, frames);
            break;
        case AOIP_DEV_FORMATS:
            return;
        }
    }
}

AOIP_RT void aoip_dev_encode(enum aoip_dev_format fmt, void *out, const float *const *in,
                             size_t offset, unsigned channels, size_t frames)
{
    const size_t width = aoip_dev_format_width(fmt), stride = width * channels;

    for (unsigned c = 0; c < channels; c++) {
        uint8_t *p = (uint8_t *)out + c * width;
        const float *x = in[c] + offset;
        switch (fmt) {
        case AOIP_DEV_S16_LE:
            encode_channel(AOIP_DEV_S16_LE, p, x, stride, frames);
            break;
        case AOIP_DEV_S24_3LE:
            encode_channel(AOIP_DEV_S24_3LE, p, x, stride, frames);
            break;
        case AOIP_DEV_S24_LE:
            encode_channel(AOIP_DEV_S24_LE, p, x, stride, frames);
            break;
        case AOIP_DEV_S32_LE:
            encode_channel(AOIP_DEV_S32_LE, p, x, stride, frames);
            break;
        case AOIP_DEV_FLOAT_LE:
            encode_channel(AOIP_DEV_FLOAT_LE, p, x, stride, frames);
            break;
        case AOIP_DEV_FORMATS:
            return;
        }
    }
}
