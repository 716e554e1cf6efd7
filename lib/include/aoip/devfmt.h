/*
 * devfmt.h: the sample formats of sound devices (ALSA's names), to and
 * from the engine's planar float, converted once at the device.
 *
 * A device's buffer is interleaved, little-endian, in the format the
 * device prefers; the engine's is one float buffer per channel, full scale
 * +-1.0. Integer formats round to nearest and clip on the way out (+1.0 is
 * the largest positive code, NaN is 0), and come in exactly (code / 2^(bits-1)),
 * as pcm.h does for the wire. Float passes as it is, NaN made 0.
 *
 * offset is where in each planar buffer the frames start: a device's ring
 * buffer wraps, so one period can come as two pieces.
 */
#ifndef AOIP_DEVFMT_H
#define AOIP_DEVFMT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum aoip_dev_format {
    AOIP_DEV_S16_LE,
    AOIP_DEV_S24_3LE, /* three bytes a sample */
    AOIP_DEV_S24_LE,  /* 24 bits in the low three bytes of four, sign-extended */
    AOIP_DEV_S32_LE,
    AOIP_DEV_FLOAT_LE,
    AOIP_DEV_FORMATS
};

/* Bytes of one sample. */
AOIP_API size_t aoip_dev_format_width(enum aoip_dev_format fmt);
/* ALSA's name: "S16_LE", "S24_3LE", "S24_LE", "S32_LE", "FLOAT_LE". */
AOIP_API const char *aoip_dev_format_name(enum aoip_dev_format fmt);
/*
 * A config's word for it, any case: "s16", "s24_3le", "s24", "s32",
 * "float", or ALSA's names above. 0, or -EINVAL for anything else.
 */
AOIP_API int aoip_dev_format_parse(const char *word, enum aoip_dev_format *out);

/* out[c][offset..offset+frames) from channels interleaved samples of fmt at in. */
AOIP_API AOIP_RT void aoip_dev_decode(enum aoip_dev_format fmt, float *const *out, size_t offset,
                                      const void *in, unsigned channels, size_t frames);

/* The inverse: in[c][offset..offset+frames) interleaved into out as fmt. */
AOIP_API AOIP_RT void aoip_dev_encode(enum aoip_dev_format fmt, void *out, const float *const *in,
                                      size_t offset, unsigned channels, size_t frames);

#ifdef __cplusplus
}
#endif

#endif
