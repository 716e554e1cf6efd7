/*
 * pcm.h: linear PCM payloads (L16 and L24 of RFC 3190, as AES67 uses them):
 * big-endian, interleaved on the wire; 32-bit float, one buffer per channel
 * (planar) inside the engine.
 *
 * Full scale is +-1.0. Encoding rounds to nearest and clips to the integer
 * range, so +1.0 becomes the largest positive code and NaN becomes 0.
 * Decoding is exact: every 24-bit (and 16-bit) code maps to the float
 * code / 2^23 (code / 2^15) and back to itself.
 */
#ifndef AOIP_PCM_H
#define AOIP_PCM_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The value is the width of one sample on the wire in bytes. */
enum aoip_pcm_format {
    AOIP_PCM_L16 = 2,
    AOIP_PCM_L24 = 3,
};

/* Payload bytes for frames of channels samples. */
static inline size_t aoip_pcm_bytes(enum aoip_pcm_format fmt, unsigned channels, size_t frames)
{
    return (size_t)fmt * channels * frames;
}

/*
 * Interleave channels planar buffers (in[c][0..frames)) into out, which
 * holds aoip_pcm_bytes(fmt, channels, frames) bytes.
 */
AOIP_API AOIP_RT void aoip_pcm_encode(enum aoip_pcm_format fmt, uint8_t *out,
                                      const float *const *in, unsigned channels, size_t frames);

/* The inverse: out[c][0..frames) from an interleaved payload. */
AOIP_API AOIP_RT void aoip_pcm_decode(enum aoip_pcm_format fmt, float *const *out,
                                      const uint8_t *in, unsigned channels, size_t frames);

#ifdef __cplusplus
}
#endif

#endif
