/*
 * pcm.c: L16 and L24 payloads (RFC 3190 section 4, the formats AES67 carries)
 * to and from the engine's planar float buffers.
 *
 * On the wire a sample is a two's complement integer, most significant byte
 * first, and the channels of one frame follow each other. Inside the engine a
 * sample is a float, full scale +-1.0, one buffer per channel.
 *
 * Decoding multiplies by 2^-23 (2^-15), which is exact: a float carries 24
 * significant bits, so every code has its own float, and encoding that float
 * gives the code back. Encoding multiplies by 2^23 (2^15), exact too, then
 * clips to the integer range and rounds to nearest, ties to even (the IEEE
 * default, what lrintf() does). Clipping comes first, on floats, so +1.0 and
 * anything that would round up past the largest code land on that code, and
 * the conversion to an integer only ever sees an integral value in range.
 * NaN becomes 0: a corrupted sample should be silence, not a full-scale
 * click.
 *
 * The work runs one channel at a time and in blocks of PCM_BLOCK frames, in
 * separate passes: clip, round, pack bytes (and for decoding: unpack bytes,
 * scale). That shape is for the vectorizer. gcc -O2 uses the "very cheap"
 * cost model, which vectorizes only loops whose trip count it knows, so
 * every full block goes through a call with the constant PCM_BLOCK and only
 * the last, partial block runs scalar. The passes are separate because a
 * clip that yields a constant lets gcc thread jumps around the float to
 * integer conversion, and a conversion that may trap (-ftrapping-math, the
 * default) under control flow stops if-conversion and so vectorization.
 * The byte (un)packing walks the wire at a stride of one frame and stays
 * scalar: gcc finds strided byte stores not worth vectorizing even when the
 * stride is a constant, so mono and stereo get no special case.
 */
#include <math.h>

#include "aoip/pcm.h"
#include "pcmblock.h"

/* Frames per pass. 16 floats fill one AVX-512 or four SSE registers and
 * divide the common packet times (1, 2 and 4 ms at 48 kHz: 48, 96, 192). */
#define PCM_BLOCK 16

/* The code of +1.0 before clipping: 2^23 and 2^15. */
#define L24_SCALE 8388608.0f
#define L16_SCALE 32768.0f

static inline void pack_l24(uint8_t *restrict out, const int32_t *restrict code, size_t stride,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)code[i];
        out[i * stride + 0] = (uint8_t)(v >> 16);
        out[i * stride + 1] = (uint8_t)(v >> 8);
        out[i * stride + 2] = (uint8_t)v;
    }
}

static inline void pack_l16(uint8_t *restrict out, const int32_t *restrict code, size_t stride,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)code[i];
        out[i * stride + 0] = (uint8_t)(v >> 8);
        out[i * stride + 1] = (uint8_t)v;
    }
}

/* Sign extension without shifting a negative number: flipping the sign bit
 * and subtracting it again maps 0x800000 to -2^23 and 0x7FFFFF to 2^23 - 1. */
static inline void unpack_l24(int32_t *restrict code, const uint8_t *restrict in, size_t stride,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)in[i * stride] << 16 | (uint32_t)in[i * stride + 1] << 8 |
                     (uint32_t)in[i * stride + 2];
        code[i] = (int32_t)(u ^ 0x800000u) - 0x800000;
    }
}

static inline void unpack_l16(int32_t *restrict code, const uint8_t *restrict in, size_t stride,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)in[i * stride] << 8 | (uint32_t)in[i * stride + 1];
        code[i] = (int32_t)(u ^ 0x8000u) - 0x8000;
    }
}

static inline void scale_block(float *restrict out, const int32_t *restrict code, float k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)code[i] * k;
}

/* One block of at most PCM_BLOCK frames of one channel. Inlined into each
 * caller, so that a constant n reaches the loops. */
static inline void encode_block(enum aoip_pcm_format fmt, uint8_t *restrict out,
                                const float *restrict in, size_t stride, size_t n)
{
    float t[PCM_BLOCK];
    int32_t code[PCM_BLOCK];

    if (fmt == AOIP_PCM_L24) {
        clip_block(t, in, L24_SCALE, n);
        round_block(code, t, n);
        pack_l24(out, code, stride, n);
    } else {
        clip_block(t, in, L16_SCALE, n);
        round_block(code, t, n);
        pack_l16(out, code, stride, n);
    }
}

static inline void decode_block(enum aoip_pcm_format fmt, float *restrict out,
                                const uint8_t *restrict in, size_t stride, size_t n)
{
    int32_t code[PCM_BLOCK];

    if (fmt == AOIP_PCM_L24) {
        unpack_l24(code, in, stride, n);
        scale_block(out, code, 1.0f / L24_SCALE, n);
    } else {
        unpack_l16(code, in, stride, n);
        scale_block(out, code, 1.0f / L16_SCALE, n);
    }
}

static void encode_channel(enum aoip_pcm_format fmt, uint8_t *restrict out,
                           const float *restrict in, size_t stride, size_t frames)
{
    size_t i = 0;

    for (; i + PCM_BLOCK <= frames; i += PCM_BLOCK)
        encode_block(fmt, out + i * stride, in + i, stride, PCM_BLOCK);
    encode_block(fmt, out + i * stride, in + i, stride, frames - i);
}

static void decode_channel(enum aoip_pcm_format fmt, float *restrict out,
                           const uint8_t *restrict in, size_t stride, size_t frames)
{
    size_t i = 0;

    for (; i + PCM_BLOCK <= frames; i += PCM_BLOCK)
        decode_block(fmt, out + i, in + i * stride, stride, PCM_BLOCK);
    decode_block(fmt, out + i, in + i * stride, stride, frames - i);
}

AOIP_RT void aoip_pcm_encode(enum aoip_pcm_format fmt, uint8_t *out, const float *const *in,
                             unsigned channels, size_t frames)
{
    size_t width = (size_t)fmt;

    for (unsigned c = 0; c < channels; c++)
        encode_channel(fmt, out + c * width, in[c], width * channels, frames);
}

AOIP_RT void aoip_pcm_decode(enum aoip_pcm_format fmt, float *const *out, const uint8_t *in,
                             unsigned channels, size_t frames)
{
    size_t width = (size_t)fmt;

    for (unsigned c = 0; c < channels; c++)
        decode_channel(fmt, out[c], in + c * width, width * channels, frames);
}
