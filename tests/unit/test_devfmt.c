/*
 * test_devfmt.c: sound device formats against the bytes ALSA puts in a
 * buffer.
 *
 * As in test_pcm.c, expected buffers are written out by hand, byte by
 * byte, so that a byte order or interleaving mistake cannot cancel itself
 * out in a round trip; the round trips then cover every code of the 16-
 * and 24-bit formats, and every 24-bit prefix of the 32-bit one. Single
 * values are encoded as runs longer than one conversion block, so that
 * each goes through both the vectorized path and the scalar tail, which
 * must agree.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/devfmt.h"
#include "sig.h"

/* 2^-15, 2^-23, 2^-31: one LSB of each integer format as a float. */
#define LSB16 (1.0f / 32768.0f)
#define LSB24 (1.0f / 8388608.0f)
#define LSB32 (1.0f / 2147483648.0f)

#define PI 3.14159265358979323846

/* Longer than any conversion block plus a tail. */
#define RUN 37

static const enum aoip_dev_format all[] = {
    AOIP_DEV_S16_LE, AOIP_DEV_S24_3LE, AOIP_DEV_S24_LE, AOIP_DEV_S32_LE, AOIP_DEV_FLOAT_LE,
};
#define FORMATS (sizeof all / sizeof all[0])

/* Sample i of a mono buffer of an integer format, read by hand: the code,
 * sign-extended from the format's top bit (bit 23 for S24_LE, whatever
 * the fourth byte holds). */
static int64_t code_at(enum aoip_dev_format fmt, const uint8_t *buf, size_t i)
{
    const size_t w = aoip_dev_format_width(fmt);
    const uint8_t *b = buf + w * i;
    int64_t v;

    switch (fmt) {
    case AOIP_DEV_S16_LE:
        v = b[0] | b[1] << 8;
        return v >= 0x8000 ? v - 0x10000 : v;
    case AOIP_DEV_S24_3LE:
    case AOIP_DEV_S24_LE:
        v = b[0] | b[1] << 8 | (int64_t)b[2] << 16;
        return v >= 0x800000 ? v - 0x1000000 : v;
    case AOIP_DEV_S32_LE:
        v = b[0] | b[1] << 8 | (int64_t)b[2] << 16 | (int64_t)b[3] << 24;
        return v >= 0x80000000 ? v - 0x100000000 : v;
    default:
        fail_msg("code_at on a format without codes");
    }
    return 0;
}

/* Write code as sample i of a mono buffer, by hand (S24_LE sign-extended). */
static void put_code(enum aoip_dev_format fmt, uint8_t *buf, size_t i, int64_t code)
{
    const size_t w = aoip_dev_format_width(fmt);
    uint64_t u = (uint64_t)code;

    for (size_t k = 0; k < w; k++)
        buf[w * i + k] = (uint8_t)(u >> (8 * k));
}

/* Encode RUN copies of x as mono; every copy must give the same bytes. */
static void encode_run(enum aoip_dev_format fmt, float x, uint8_t *out)
{
    float in[RUN];
    const float *planes[1] = { in };
    const size_t w = aoip_dev_format_width(fmt);

    for (size_t i = 0; i < RUN; i++)
        in[i] = x;
    aoip_dev_encode(fmt, out, planes, 0, 1, RUN);
    for (size_t i = 1; i < RUN; i++)
        assert_memory_equal(out + w * i, out, w);
}

static int64_t code_of(enum aoip_dev_format fmt, float x)
{
    uint8_t out[4 * RUN];

    encode_run(fmt, x, out);
    if (fmt == AOIP_DEV_S24_LE) {
        /* The fourth byte is the sign extension of the third. */
        assert_int_equal(out[3], out[2] & 0x80 ? 0xFF : 0x00);
    }
    return code_at(fmt, out, 0);
}

/* The float a FLOAT_LE encode writes for x. */
static float float_of(float x)
{
    uint8_t out[4 * RUN];
    float y;
    uint32_t u;

    encode_run(AOIP_DEV_FLOAT_LE, x, out);
    u = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 | (uint32_t)out[3] << 24;
    memcpy(&y, &u, sizeof y);
    return y;
}

/* Decode RUN copies of one sample's bytes; every copy must agree. */
static float decode_run(enum aoip_dev_format fmt, const uint8_t *sample)
{
    const size_t w = aoip_dev_format_width(fmt);
    uint8_t in[4 * RUN];
    float out[RUN];
    float *planes[1] = { out };

    for (size_t i = 0; i < RUN; i++)
        memcpy(in + w * i, sample, w);
    aoip_dev_decode(fmt, planes, 0, in, 1, RUN);
    for (size_t i = 1; i < RUN; i++)
        assert_memory_equal(&out[i], &out[0], sizeof(float));
    return out[0];
}

/* ------------------------------------------------------------------------ */

static void devfmt_names_and_widths_are_alsas(void **state)
{
    (void)state;
    static const char *const names[] = { "S16_LE", "S24_3LE", "S24_LE", "S32_LE", "FLOAT_LE" };
    static const size_t widths[] = { 2, 3, 4, 4, 4 };

    for (size_t i = 0; i < FORMATS; i++) {
        assert_string_equal(aoip_dev_format_name(all[i]), names[i]);
        assert_int_equal(aoip_dev_format_width(all[i]), widths[i]);
    }
    assert_int_equal(aoip_dev_format_width(AOIP_DEV_FORMATS), 0);
    assert_non_null(aoip_dev_format_name(AOIP_DEV_FORMATS));
}

static void devfmt_parse_accepts_config_words_and_alsa_names_in_any_case(void **state)
{
    (void)state;
    static const struct {
        const char *word;
        enum aoip_dev_format fmt;
    } cases[] = {
        { "s16", AOIP_DEV_S16_LE },        { "S16", AOIP_DEV_S16_LE },
        { "S16_LE", AOIP_DEV_S16_LE },     { "s16_le", AOIP_DEV_S16_LE },
        { "s24_3le", AOIP_DEV_S24_3LE },   { "S24_3LE", AOIP_DEV_S24_3LE },
        { "S24_3le", AOIP_DEV_S24_3LE },   { "s24", AOIP_DEV_S24_LE },
        { "S24", AOIP_DEV_S24_LE },        { "S24_LE", AOIP_DEV_S24_LE },
        { "s24_le", AOIP_DEV_S24_LE },     { "s32", AOIP_DEV_S32_LE },
        { "S32_LE", AOIP_DEV_S32_LE },     { "s32_Le", AOIP_DEV_S32_LE },
        { "float", AOIP_DEV_FLOAT_LE },    { "FLOAT", AOIP_DEV_FLOAT_LE },
        { "FLOAT_LE", AOIP_DEV_FLOAT_LE }, { "Float_le", AOIP_DEV_FLOAT_LE },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum aoip_dev_format f = AOIP_DEV_FORMATS;
        if (aoip_dev_format_parse(cases[i].word, &f) != 0)
            fail_msg("\"%s\" refused", cases[i].word);
        assert_int_equal(f, cases[i].fmt);
    }
    /* Every name the library prints parses back to its format. */
    for (size_t i = 0; i < FORMATS; i++) {
        enum aoip_dev_format f = AOIP_DEV_FORMATS;
        assert_int_equal(aoip_dev_format_parse(aoip_dev_format_name(all[i]), &f), 0);
        assert_int_equal(f, all[i]);
    }
}

static void devfmt_parse_refuses_anything_else(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",        "s8",       "u16",     "s16_be",     "S16_BE", "s24_3be", "s24_be",
        "s32_be",  "float_be", "float64", "FLOAT64_LE", "s16 ",   " s16",    "s1",
        "s16_le_", "s24_3",    "s20_3le", "u8",         "s16\n",  "floatle", "S24_3LE\t",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum aoip_dev_format f = AOIP_DEV_S32_LE;
        if (aoip_dev_format_parse(bad[i], &f) != -EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(f, AOIP_DEV_S32_LE); /* untouched */
    }
    enum aoip_dev_format f;
    assert_int_equal(aoip_dev_format_parse(NULL, &f), -EINVAL);
    assert_int_equal(aoip_dev_format_parse("s16", NULL), -EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Decoding hand-written buffers */

static void decode_mono(enum aoip_dev_format fmt, const uint8_t *in, const float *want, size_t n)
{
    float out[16];
    float *planes[1] = { out };

    assert_true(n <= 16);
    aoip_dev_decode(fmt, planes, 0, in, 1, n);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&out[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s sample %zu: %.9g, want %.9g", aoip_dev_format_name(fmt), i, (double)out[i],
                     (double)want[i]);
    }
}

static void devfmt_s16_decodes_little_endian_codes(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0xFF, 0x7F,             /* largest positive */
        0x00, 0x80,             /* most negative: -1.0 */
        0x01, 0x00,             /* +1 LSB */
        0xFF, 0xFF,             /* -1 LSB */
        0x34, 0x12,             /* byte order: 0x1234 */
        0x00, 0x00, 0x00, 0x40, /* 0, +0.5 */
        0x00, 0xC0,             /* -0.5 */
    };
    const float want[] = {
        32767.0f * LSB16, -1.0f, LSB16, -LSB16, 4660.0f * LSB16, 0.0f, 0.5f, -0.5f,
    };

    decode_mono(AOIP_DEV_S16_LE, in, want, sizeof want / sizeof want[0]);
}

static void devfmt_s24_3le_decodes_little_endian_codes(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0xFF, 0xFF, 0x7F, /* largest positive */
        0x00, 0x00, 0x80, /* most negative: -1.0 */
        0x01, 0x00, 0x00, /* +1 LSB */
        0xFF, 0xFF, 0xFF, /* -1 LSB */
        0x56, 0x34, 0x12, /* byte order: 0x123456 */
        0x56, 0x34, 0x92, /* 0x923456: negative */
        0x00, 0x00, 0x40, /* +0.5 */
        0x00, 0x00, 0xC0, /* -0.5 */
    };
    const float want[] = {
        8388607.0f * LSB24,  -1.0f, LSB24, -LSB24, 1193046.0f * LSB24,
        -7195562.0f * LSB24, 0.5f,  -0.5f,
    };

    decode_mono(AOIP_DEV_S24_3LE, in, want, sizeof want / sizeof want[0]);
}

/* The fourth byte is padding: 0x00 or the sign, the decode is the same. */
static void devfmt_s24_le_decodes_low_three_bytes_sign_extended(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0x56, 0x34, 0x12, 0x00, /* 0x123456 */
        0x56, 0x34, 0x12, 0xFF, /* the same, whatever the padding */
        0x56, 0x34, 0x92, 0xFF, /* 0x923456, sign-extended */
        0x56, 0x34, 0x92, 0x00, /* the same, padded with 0x00 */
        0xFF, 0xFF, 0xFF, 0x00, /* -1 LSB */
        0xFF, 0xFF, 0xFF, 0xFF, /* -1 LSB */
        0x00, 0x00, 0x80, 0x00, /* -1.0 */
        0xFF, 0xFF, 0x7F, 0x00, /* largest positive */
        0xFF, 0xFF, 0x7F, 0xFF, /* largest positive, odd padding */
        0x00, 0x00, 0x00, 0x80, /* 0, whatever the padding */
    };
    const float want[] = {
        1193046.0f * LSB24,
        1193046.0f * LSB24,
        -7195562.0f * LSB24,
        -7195562.0f * LSB24,
        -LSB24,
        -LSB24,
        -1.0f,
        8388607.0f * LSB24,
        8388607.0f * LSB24,
        0.0f,
    };

    decode_mono(AOIP_DEV_S24_LE, in, want, sizeof want / sizeof want[0]);
}

static void devfmt_s32_decodes_little_endian_codes(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0x00, 0x00, 0x00, 0x80, /* most negative: -1.0 */
        0xFF, 0xFF, 0xFF, 0x7F, /* largest positive: rounds to 1.0 in float */
        0x00, 0xFF, 0xFF, 0x7F, /* 2^31 - 256: exact */
        0x00, 0x01, 0x00, 0x00, /* 256: one LSB of 24 bits */
        0x01, 0x00, 0x00, 0x00, /* +1 */
        0xFF, 0xFF, 0xFF, 0xFF, /* -1 */
        0x78, 0x56, 0x34, 0x12, /* byte order: 0x12345678, rounded */
        0x00, 0x00, 0x00, 0xC0, /* -0.5 */
    };
    const float want[] = {
        -1.0f, 1.0f, 2147483392.0f * LSB32, LSB24, LSB32, -LSB32, (float)0x12345678 * LSB32, -0.5f,
    };

    decode_mono(AOIP_DEV_S32_LE, in, want, sizeof want / sizeof want[0]);
}

static void devfmt_float_decodes_as_is(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0x00, 0x00, 0x00, 0x3F, /* 0.5 */
        0x00, 0x00, 0x00, 0xC0, /* -2.0: over full scale, kept */
        0x01, 0x00, 0x00, 0x00, /* the smallest subnormal */
        0x00, 0x00, 0x80, 0x7F, /* +inf, kept */
        0x00, 0x00, 0x00, 0x80, /* -0.0 */
        0xDB, 0x0F, 0x49, 0x40, /* pi */
    };
    const float want[] = { 0.5f, -2.0f, 0x1p-149f, INFINITY, -0.0f, 3.14159274f };

    decode_mono(AOIP_DEV_FLOAT_LE, in, want, sizeof want / sizeof want[0]);
}

static void devfmt_float_decode_turns_nan_into_silence(void **state)
{
    (void)state;
    static const uint8_t nans[][4] = {
        { 0x00, 0x00, 0xC0, 0x7F }, /* quiet */
        { 0x00, 0x00, 0xC0, 0xFF }, /* quiet, negative */
        { 0x01, 0x00, 0x80, 0x7F }, /* signalling */
        { 0xFF, 0xFF, 0xFF, 0xFF }, /* all ones */
    };

    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float x = decode_run(AOIP_DEV_FLOAT_LE, nans[i]);
        if (x != 0.0f)
            fail_msg("NaN %zu decodes to %g", i, (double)x);
    }
}

/* ------------------------------------------------------------------------ */
/* Encoding against hand-written buffers */

static void encode_mono(enum aoip_dev_format fmt, const float *in, size_t n, const uint8_t *want)
{
    uint8_t out[4 * 16 + 1];
    const float *planes[1] = { in };
    const size_t bytes = aoip_dev_format_width(fmt) * n;

    assert_true(n <= 16);
    out[bytes] = 0xA5;
    aoip_dev_encode(fmt, out, planes, 0, 1, n);
    assert_memory_equal(out, want, bytes);
    assert_int_equal(out[bytes], 0xA5);
}

static void devfmt_s16_encodes_little_endian_codes(void **state)
{
    (void)state;
    const float in[] = { 0.5f, -0.5f, LSB16, -LSB16, 4660.0f * LSB16, 0.0f, -0.0f };
    static const uint8_t want[] = {
        0x00, 0x40, 0x00, 0xC0, 0x01, 0x00, 0xFF, 0xFF, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00,
    };

    encode_mono(AOIP_DEV_S16_LE, in, sizeof in / sizeof in[0], want);
}

static void devfmt_s24_3le_encodes_little_endian_codes(void **state)
{
    (void)state;
    const float in[] = { 1193046.0f * LSB24, -7195562.0f * LSB24, LSB24, -LSB24, 0.5f, -0.5f };
    static const uint8_t want[] = {
        0x56, 0x34, 0x12, 0x56, 0x34, 0x92, 0x01, 0x00, 0x00,
        0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x40, 0x00, 0x00, 0xC0,
    };

    encode_mono(AOIP_DEV_S24_3LE, in, sizeof in / sizeof in[0], want);
}

static void devfmt_s24_le_encodes_sign_extended(void **state)
{
    (void)state;
    const float in[] = { 1193046.0f * LSB24, -7195562.0f * LSB24, LSB24, -LSB24, 0.5f, -0.5f };
    static const uint8_t want[] = {
        0x56, 0x34, 0x12, 0x00, 0x56, 0x34, 0x92, 0xFF, 0x01, 0x00, 0x00, 0x00,
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0xC0, 0xFF,
    };

    encode_mono(AOIP_DEV_S24_LE, in, sizeof in / sizeof in[0], want);
}

static void devfmt_s32_encodes_little_endian_codes(void **state)
{
    (void)state;
    const float in[] = { 0.5f, -0.5f, LSB32, -LSB32, 305419904.0f * LSB32, 1.0f, -1.0f };
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF,
        0xFF, 0xFF, 0x80, 0x56, 0x34, 0x12, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x00, 0x00, 0x80,
    };

    encode_mono(AOIP_DEV_S32_LE, in, sizeof in / sizeof in[0], want);
}

static void devfmt_float_encodes_as_is(void **state)
{
    (void)state;
    const float in[] = { 0.5f, -2.0f, 0x1p-149f, -INFINITY, 3.14159274f };
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x80, 0xFF, 0xDB, 0x0F, 0x49, 0x40,
    };

    encode_mono(AOIP_DEV_FLOAT_LE, in, sizeof in / sizeof in[0], want);
}

/* ------------------------------------------------------------------------ */
/* Round trips */

/*
 * Codes first + i (i < n), as a mono buffer, decoded and encoded again:
 * the float must be the code times one LSB, the bytes must come back as
 * they were (S32: within tol codes).
 */
static void round_trip_chunk(enum aoip_dev_format fmt, uint8_t *in, uint8_t *out, float *x,
                             size_t n, int64_t tol)
{
    const float lsb = fmt == AOIP_DEV_S16_LE ? LSB16 : fmt == AOIP_DEV_S32_LE ? LSB32 : LSB24;
    float *dec[1] = { x };
    const float *enc[1] = { x };

    aoip_dev_decode(fmt, dec, 0, in, 1, n);
    for (size_t i = 0; i < n; i++) {
        if (x[i] != (float)code_at(fmt, in, i) * lsb)
            fail_msg("%s: code %lld decodes to %.9g", aoip_dev_format_name(fmt),
                     (long long)code_at(fmt, in, i), (double)x[i]);
    }
    aoip_dev_encode(fmt, out, enc, 0, 1, n);
    if (tol == 0) {
        if (memcmp(in, out, aoip_dev_format_width(fmt) * n) != 0)
            fail_msg("%s: round trip changed a code", aoip_dev_format_name(fmt));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t a = code_at(fmt, in, i), b = code_at(fmt, out, i);
        if (llabs(a - b) > tol)
            fail_msg("%s: code %lld comes back as %lld", aoip_dev_format_name(fmt), (long long)a,
                     (long long)b);
    }
}

enum { CHUNK = 4099 }; /* not a multiple of the block: codes go through the tail too */

static void round_trip_every_code(enum aoip_dev_format fmt)
{
    const unsigned bits = fmt == AOIP_DEV_S16_LE ? 16 : 24;
    const int64_t codes = (int64_t)1 << bits, lowest = -(codes / 2);
    uint8_t *in = malloc(4 * CHUNK), *out = malloc(4 * CHUNK);
    float *x = malloc(sizeof(float) * CHUNK);

    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(x);
    for (int64_t first = 0; first < codes; first += CHUNK) {
        size_t n = (size_t)(codes - first < CHUNK ? codes - first : CHUNK);
        for (size_t i = 0; i < n; i++)
            put_code(fmt, in, i, lowest + first + (int64_t)i);
        round_trip_chunk(fmt, in, out, x, n, 0);
    }
    free(in);
    free(out);
    free(x);
}

static void devfmt_s16_round_trips_every_code(void **state)
{
    (void)state;
    round_trip_every_code(AOIP_DEV_S16_LE);
}

static void devfmt_s24_3le_round_trips_every_code(void **state)
{
    (void)state;
    round_trip_every_code(AOIP_DEV_S24_3LE);
}

static void devfmt_s24_le_round_trips_every_code(void **state)
{
    (void)state;
    round_trip_every_code(AOIP_DEV_S24_LE);
}

/*
 * A float holds 24 significant bits, so an S32 code comes back exactly
 * when its low 8 bits are zero (every 24-bit code, shifted), and otherwise
 * within half the float spacing at the code: 64 at most (spacing 128 just
 * below 2^31), a quarter of a 24-bit LSB. Every 24-bit prefix, with low
 * bytes of zero, one, just below, at and just above half, and all ones.
 */
static void devfmt_s32_round_trips_within_a_24_bit_lsb(void **state)
{
    (void)state;
    static const unsigned lows[] = { 0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF };
    const int64_t prefixes = (int64_t)1 << 24;
    uint8_t *in = malloc(4 * CHUNK), *out = malloc(4 * CHUNK);
    float *x = malloc(sizeof(float) * CHUNK);

    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(x);
    for (size_t l = 0; l < sizeof lows / sizeof lows[0]; l++) {
        for (int64_t first = 0; first < prefixes; first += CHUNK) {
            size_t n = (size_t)(prefixes - first < CHUNK ? prefixes - first : CHUNK);
            for (size_t i = 0; i < n; i++) {
                int64_t prefix = first + (int64_t)i - prefixes / 2;
                put_code(AOIP_DEV_S32_LE, in, i, prefix * 256 + lows[l]);
            }
            round_trip_chunk(AOIP_DEV_S32_LE, in, out, x, n, lows[l] == 0 ? 0 : 64);
        }
    }
    free(in);
    free(out);
    free(x);
}

/* Floats travel bit for bit, NaN aside. */
static void devfmt_float_round_trips_bit_for_bit(void **state)
{
    (void)state;
    enum { N = 4096 };
    uint8_t in[4 * N], out[4 * N];
    float x[N];
    float *dec[1] = { x };
    const float *enc[1] = { x };
    uint32_t u = 0x12345u;

    for (size_t i = 0; i < N; i++) {
        /* A spread of bit patterns across every exponent, NaNs skipped. */
        do
            u = u * 1664525u + 1013904223u;
        while ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu) != 0);
        for (size_t k = 0; k < 4; k++)
            in[4 * i + k] = (uint8_t)(u >> (8 * k));
    }
    aoip_dev_decode(AOIP_DEV_FLOAT_LE, dec, 0, in, 1, N);
    aoip_dev_encode(AOIP_DEV_FLOAT_LE, out, enc, 0, 1, N);
    assert_memory_equal(in, out, sizeof in);
}

/* ------------------------------------------------------------------------ */
/* Clipping, NaN, rounding */

static void devfmt_encodes_full_scale_as_extreme_codes(void **state)
{
    (void)state;
    assert_int_equal(code_of(AOIP_DEV_S16_LE, 1.0f), 0x7FFF);
    assert_int_equal(code_of(AOIP_DEV_S16_LE, -1.0f), -0x8000);
    assert_int_equal(code_of(AOIP_DEV_S24_3LE, 1.0f), 0x7FFFFF);
    assert_int_equal(code_of(AOIP_DEV_S24_3LE, -1.0f), -0x800000);
    assert_int_equal(code_of(AOIP_DEV_S24_LE, 1.0f), 0x7FFFFF);
    assert_int_equal(code_of(AOIP_DEV_S24_LE, -1.0f), -0x800000);
    assert_int_equal(code_of(AOIP_DEV_S32_LE, 1.0f), INT32_MAX);
    assert_int_equal(code_of(AOIP_DEV_S32_LE, -1.0f), INT32_MIN);
    /* The float below 1.0 is a code of its own in S32: 2^31 - 128. */
    assert_int_equal(code_of(AOIP_DEV_S32_LE, nextafterf(1.0f, 0.0f)), 0x7FFFFF80);
    assert_int_equal(code_of(AOIP_DEV_S32_LE, nextafterf(-1.0f, 0.0f)), -0x7FFFFF80);
}

static void devfmt_encode_clips_beyond_full_scale(void **state)
{
    (void)state;
    /* Just below +1.0 rounds up to 2^23 (2^15) and must clip back. */
    const float over[] = { nextafterf(1.0f, 2.0f), 1.5f, 2.0f, 1e30f, FLT_MAX, INFINITY,
                           nextafterf(1.0f, 0.0f) };
    const float under[] = { nextafterf(-1.0f, -2.0f), -1.5f, -2.0f, -1e30f, -FLT_MAX, -INFINITY };

    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        assert_int_equal(code_of(AOIP_DEV_S16_LE, over[i]), 0x7FFF);
        assert_int_equal(code_of(AOIP_DEV_S24_3LE, over[i]), 0x7FFFFF);
        assert_int_equal(code_of(AOIP_DEV_S24_LE, over[i]), 0x7FFFFF);
        if (i < 6)
            assert_int_equal(code_of(AOIP_DEV_S32_LE, over[i]), INT32_MAX);
    }
    for (size_t i = 0; i < sizeof under / sizeof under[0]; i++) {
        assert_int_equal(code_of(AOIP_DEV_S16_LE, under[i]), -0x8000);
        assert_int_equal(code_of(AOIP_DEV_S24_3LE, under[i]), -0x800000);
        assert_int_equal(code_of(AOIP_DEV_S24_LE, under[i]), -0x800000);
        assert_int_equal(code_of(AOIP_DEV_S32_LE, under[i]), INT32_MIN);
    }
}

/* FLOAT_LE does not clip: the device (or the sound server) decides. */
static void devfmt_float_encode_keeps_over_full_scale(void **state)
{
    (void)state;
    const float keep[] = { 1.0f, -1.0f, 1.5f, -2.0f, INFINITY, -INFINITY, 0x1p-149f, -0.0f };

    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        float y = float_of(keep[i]);
        assert_memory_equal(&y, &keep[i], sizeof y);
    }
}

static void devfmt_encode_turns_nan_into_silence(void **state)
{
    (void)state;
    const float nans[] = { NAN, -NAN };

    for (size_t i = 0; i < 2; i++) {
        for (size_t f = 0; f < FORMATS; f++) {
            if (all[f] == AOIP_DEV_FLOAT_LE) {
                float y = float_of(nans[i]);
                const float zero = 0.0f;
                assert_memory_equal(&y, &zero, sizeof y); /* +0.0, not -0.0 */
            } else {
                assert_int_equal(code_of(all[f], nans[i]), 0);
            }
        }
    }
}

static const struct {
    enum aoip_dev_format fmt;
    float lsb;
} integer_formats[] = {
    { AOIP_DEV_S16_LE, LSB16 },
    { AOIP_DEV_S24_3LE, LSB24 },
    { AOIP_DEV_S24_LE, LSB24 },
    { AOIP_DEV_S32_LE, LSB32 },
};
#define INTEGER_FORMATS (sizeof integer_formats / sizeof integer_formats[0])

/* k + 1/2 LSB (exact in float for these k) goes to the even neighbour. */
static void devfmt_encode_rounds_half_lsb_to_even(void **state)
{
    (void)state;
    static const struct {
        float lsbs; /* the sample, in LSBs */
        int32_t code;
    } cases[] = {
        { 0.5f, 0 },   { 1.5f, 2 },   { 2.5f, 2 },       { 3.5f, 4 },           { -0.5f, 0 },
        { -1.5f, -2 }, { -2.5f, -2 }, { 1001.5f, 1002 }, { -32767.5f, -32768 }, { 32765.5f, 32766 },
    };

    for (size_t f = 0; f < INTEGER_FORMATS; f++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            assert_int_equal(
                code_of(integer_formats[f].fmt, cases[i].lsbs * integer_formats[f].lsb),
                cases[i].code);
    }
    /* Where float spacing is already half an LSB (|x| >= 2^22 LSB). */
    assert_int_equal(code_of(AOIP_DEV_S24_3LE, 4194304.5f * LSB24), 4194304);
    assert_int_equal(code_of(AOIP_DEV_S24_LE, 4194305.5f * LSB24), 4194306);
    assert_int_equal(code_of(AOIP_DEV_S24_LE, -8388607.5f * LSB24), -8388608);
    assert_int_equal(code_of(AOIP_DEV_S16_LE, 0.3f), 9830); /* 9830.4 */
    assert_int_equal(code_of(AOIP_DEV_S16_LE, -0.3f), -9830);
    /* Above 2^-8 every S32 value of a float is an integer already. */
    assert_int_equal(code_of(AOIP_DEV_S32_LE, 0.3f), 644245120); /* 0.3f * 2^31, exactly */
    assert_int_equal(code_of(AOIP_DEV_S32_LE, -0.3f), -644245120);
}

/* One float step either side of a half LSB decides the direction. */
static void devfmt_encode_rounds_to_nearest_off_the_half(void **state)
{
    (void)state;
    static const float ks[] = { 0.5f, 1.5f, 2.5f, 77.5f, -0.5f, -1.5f, -2.5f, -77.5f };

    for (size_t f = 0; f < INTEGER_FORMATS; f++) {
        const enum aoip_dev_format fmt = integer_formats[f].fmt;
        const float lsb = integer_formats[f].lsb;
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
            int64_t lo = (int64_t)floorf(ks[i]), hi = lo + 1;
            float x = ks[i] * lsb;
            assert_int_equal(code_of(fmt, nextafterf(x, 1.0f)), hi);
            assert_int_equal(code_of(fmt, nextafterf(x, -1.0f)), lo);
        }
        assert_int_equal(code_of(fmt, 0.49f * lsb), 0);
        assert_int_equal(code_of(fmt, 0.51f * lsb), 1);
        assert_int_equal(code_of(fmt, -0.51f * lsb), -1);
    }
}

/* ------------------------------------------------------------------------ */
/* Interleaving, offsets, wrap */

/* A distinct code for every (channel, frame), both signs, in range of fmt. */
static int64_t pattern(enum aoip_dev_format fmt, unsigned c, size_t f)
{
    const int64_t max = fmt == AOIP_DEV_S16_LE ? 0x8000 : 0x800000;
    int64_t v = (int64_t)((c * 131 + f * 7 + 1) % (uint64_t)max);
    if (fmt == AOIP_DEV_S32_LE)
        v *= 256; /* exact in float */
    return (c + f) % 2 ? -v : v;
}

static float pattern_float(enum aoip_dev_format fmt, unsigned c, size_t f)
{
    if (fmt == AOIP_DEV_FLOAT_LE)
        return (float)pattern(AOIP_DEV_S24_LE, c, f) * LSB24 * 3.0f; /* over +-1 too */
    const float lsb = fmt == AOIP_DEV_S16_LE ? LSB16 : fmt == AOIP_DEV_S32_LE ? LSB32 : LSB24;
    return (float)pattern(fmt, c, f) * lsb;
}

/* The bytes sample (f, c) must have in the device buffer. */
static void expected_sample(enum aoip_dev_format fmt, unsigned c, size_t f, uint8_t *b)
{
    if (fmt == AOIP_DEV_FLOAT_LE) {
        float x = pattern_float(fmt, c, f);
        uint32_t u;
        memcpy(&u, &x, sizeof u);
        for (size_t k = 0; k < 4; k++)
            b[k] = (uint8_t)(u >> (8 * k));
        return;
    }
    put_code(fmt, b, 0, pattern(fmt, c, f));
}

static void check_interleaving(enum aoip_dev_format fmt, unsigned channels)
{
    enum { FRAMES = 53 }; /* three blocks and a tail */
    const size_t w = aoip_dev_format_width(fmt), bytes = w * channels * FRAMES;
    float *planes = malloc(sizeof(float) * channels * FRAMES);
    float *back = malloc(sizeof(float) * channels * FRAMES);
    const float **in = malloc(sizeof(*in) * channels);
    float **out = malloc(sizeof(*out) * channels);
    uint8_t *dev = malloc(bytes + 1);

    assert_non_null(planes);
    assert_non_null(back);
    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(dev);
    for (unsigned c = 0; c < channels; c++) {
        in[c] = planes + (size_t)c * FRAMES;
        out[c] = back + (size_t)c * FRAMES;
        for (size_t f = 0; f < FRAMES; f++)
            planes[(size_t)c * FRAMES + f] = pattern_float(fmt, c, f);
    }
    dev[bytes] = 0xA5;

    aoip_dev_encode(fmt, dev, in, 0, channels, FRAMES);
    for (size_t f = 0; f < FRAMES; f++) {
        for (unsigned c = 0; c < channels; c++) {
            uint8_t want[4];
            expected_sample(fmt, c, f, want);
            if (memcmp(dev + (f * channels + c) * w, want, w) != 0)
                fail_msg("%s, %u channels: frame %zu channel %u misplaced",
                         aoip_dev_format_name(fmt), channels, f, c);
        }
    }
    assert_int_equal(dev[bytes], 0xA5);

    aoip_dev_decode(fmt, out, 0, dev, channels, FRAMES);
    assert_memory_equal(back, planes, sizeof(float) * channels * FRAMES);

    free(planes);
    free(back);
    free(in);
    free(out);
    free(dev);
}

static void devfmt_interleaves_channels_in_frame_order(void **state)
{
    (void)state;
    static const unsigned counts[] = { 1, 2, 3, 8, 32, 64 };

    for (size_t f = 0; f < FORMATS; f++)
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
            check_interleaving(all[f], counts[i]);
}

/*
 * A period of PERIOD frames that the device's ring buffer gives as two
 * pieces (SPLIT frames at the end of the ring, the rest at its start):
 * two calls with offsets 0 and SPLIT must fill the planar period exactly
 * as one call over the whole would, and touch nothing around it; the
 * other way, two encodes from offsets 0 and SPLIT must write the two
 * pieces.
 */
static void check_wrap(enum aoip_dev_format fmt)
{
    enum { CH = 3, PERIOD = 75, SPLIT = 29, PAD = 5, RING = 2 * PERIOD };
    const size_t w = aoip_dev_format_width(fmt), frame = w * CH;
    static uint8_t whole[4 * CH * PERIOD], ring[4 * CH * RING + 1], ring2[4 * CH * RING + 1];
    static float planes[CH][PAD + PERIOD + PAD], once[CH][PERIOD], src[CH][PERIOD];
    float *two_calls[CH], *one_call[CH];
    const float *in[CH];
    const size_t tail_at = RING - SPLIT; /* the first piece: the last SPLIT frames of the ring */

    for (unsigned c = 0; c < CH; c++) {
        for (size_t f = 0; f < PERIOD; f++) {
            src[c][f] = pattern_float(fmt, c, f);
        }
        for (size_t f = 0; f < PAD + PERIOD + PAD; f++)
            planes[c][f] = 7.0f; /* sentinel */
        two_calls[c] = planes[c] + PAD;
        one_call[c] = once[c];
        in[c] = src[c];
    }

    /* The period as one contiguous buffer, and laid into the ring at the wrap. */
    aoip_dev_encode(fmt, whole, in, 0, CH, PERIOD);
    memset(ring, 0x5A, sizeof ring);
    memcpy(ring + tail_at * frame, whole, SPLIT * frame);
    memcpy(ring, whole + SPLIT * frame, (PERIOD - SPLIT) * frame);

    aoip_dev_decode(fmt, one_call, 0, whole, CH, PERIOD);
    aoip_dev_decode(fmt, two_calls, 0, ring + tail_at * frame, CH, SPLIT);
    aoip_dev_decode(fmt, two_calls, SPLIT, ring, CH, PERIOD - SPLIT);
    for (unsigned c = 0; c < CH; c++) {
        assert_memory_equal(two_calls[c], once[c], sizeof once[c]);
        assert_memory_equal(once[c], src[c], sizeof src[c]);
        for (size_t f = 0; f < PAD; f++) {
            assert_float_equal(planes[c][f], 7.0f, 0.0);
            assert_float_equal(planes[c][PAD + PERIOD + f], 7.0f, 0.0);
        }
    }

    /* Encoding into the two pieces from offsets 0 and SPLIT writes the same ring. */
    memset(ring2, 0x5A, sizeof ring2);
    aoip_dev_encode(fmt, ring2 + tail_at * frame, in, 0, CH, SPLIT);
    aoip_dev_encode(fmt, ring2, in, SPLIT, CH, PERIOD - SPLIT);
    assert_memory_equal(ring2, ring, sizeof ring);
}

static void devfmt_two_calls_with_offsets_build_one_period(void **state)
{
    (void)state;
    for (size_t f = 0; f < FORMATS; f++)
        check_wrap(all[f]);
}

static void devfmt_zero_frames_or_channels_touches_nothing(void **state)
{
    (void)state;
    float x[4] = { 0.5f, 0.5f, 0.5f, 0.5f };
    const float *in[2] = { x, x };
    float *out[2] = { x, x };
    uint8_t dev[8] = { 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5 };

    for (size_t f = 0; f < FORMATS; f++) {
        aoip_dev_encode(all[f], dev, in, 1, 2, 0);
        aoip_dev_decode(all[f], out, 1, dev, 2, 0);
        aoip_dev_encode(all[f], dev, in, 0, 0, 2);
        aoip_dev_decode(all[f], out, 0, dev, 0, 2);
    }
    /* An unknown format converts nothing. */
    aoip_dev_encode(AOIP_DEV_FORMATS, dev, in, 0, 2, 2);
    aoip_dev_decode(AOIP_DEV_FORMATS, out, 0, dev, 2, 2);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(dev[i], 0xA5);
    for (size_t i = 0; i < 4; i++)
        assert_float_equal(x[i], 0.5f, 0.0);
}

/* ------------------------------------------------------------------------ */
/* A tone */

/*
 * One second of a -1 dBFS 997 Hz tone (the AES17 test frequency) in
 * stereo, the right channel a quarter cycle later, through the device
 * format and back: each channel keeps its level to a thousandth of a dB
 * and its phase, and what is left after the fitted sine is no more than
 * the format's quantization noise allows.
 */
static void devfmt_997_hz_tone_keeps_its_level(void **state)
{
    (void)state;
    enum { RATE = 48000, N = RATE };
    const double amp = 0.89125093813374556; /* -1 dBFS */
    /* THD+N limits, dB below the tone: quantization noise of 16 and 24
     * bits is -101 and -149 dBFS; S32 and float are limited by the
     * float the tone is made in. */
    static const double limit[] = { -95.0, -140.0, -140.0, -140.0, -140.0 };
    float *l = malloc(sizeof(float) * N), *r = malloc(sizeof(float) * N);
    float *l2 = malloc(sizeof(float) * N), *r2 = malloc(sizeof(float) * N);
    uint8_t *dev = malloc(4 * 2 * N);

    assert_non_null(l);
    assert_non_null(r);
    assert_non_null(l2);
    assert_non_null(r2);
    assert_non_null(dev);
    sig_tone(l, N, 997.0, RATE, amp, 0.0, 0);
    sig_tone(r, N, 997.0, RATE, amp, PI / 2, 0);
    for (size_t f = 0; f < FORMATS; f++) {
        const float *in[2] = { l, r };
        float *out[2] = { l2, r2 };
        const double phases[2] = { 0.0, PI / 2 };

        aoip_dev_encode(all[f], dev, in, 0, 2, N);
        aoip_dev_decode(all[f], out, 0, dev, 2, N);
        for (int ch = 0; ch < 2; ch++) {
            struct sig_fit fit;
            assert_int_equal(sig_fit_sine(out[ch], N, RATE, 997.0, &fit), 0);
            double level = 20.0 * log10(fit.amp / amp);
            double thdn = 20.0 * log10(fit.residual / (fit.amp / sqrt(2.0)));
            double dphase = remainder(fit.phase - phases[ch], 2.0 * PI);
            if (fabs(level) > 0.001 || thdn > limit[f] || fabs(dphase) > 1e-5)
                fail_msg("%s channel %d: level %+.5f dB, THD+N %.1f dB, phase off %.2g rad",
                         aoip_dev_format_name(all[f]), ch, level, thdn, dphase);
            assert_true(fabs(fit.freq - 997.0) < 1e-4);
        }
    }
    free(l);
    free(r);
    free(l2);
    free(r2);
    free(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(devfmt_names_and_widths_are_alsas),
        cmocka_unit_test(devfmt_parse_accepts_config_words_and_alsa_names_in_any_case),
        cmocka_unit_test(devfmt_parse_refuses_anything_else),
        cmocka_unit_test(devfmt_s16_decodes_little_endian_codes),
        cmocka_unit_test(devfmt_s24_3le_decodes_little_endian_codes),
        cmocka_unit_test(devfmt_s24_le_decodes_low_three_bytes_sign_extended),
        cmocka_unit_test(devfmt_s32_decodes_little_endian_codes),
        cmocka_unit_test(devfmt_float_decodes_as_is),
        cmocka_unit_test(devfmt_float_decode_turns_nan_into_silence),
        cmocka_unit_test(devfmt_s16_encodes_little_endian_codes),
        cmocka_unit_test(devfmt_s24_3le_encodes_little_endian_codes),
        cmocka_unit_test(devfmt_s24_le_encodes_sign_extended),
        cmocka_unit_test(devfmt_s32_encodes_little_endian_codes),
        cmocka_unit_test(devfmt_float_encodes_as_is),
        cmocka_unit_test(devfmt_s16_round_trips_every_code),
        cmocka_unit_test(devfmt_s24_3le_round_trips_every_code),
        cmocka_unit_test(devfmt_s24_le_round_trips_every_code),
        cmocka_unit_test(devfmt_s32_round_trips_within_a_24_bit_lsb),
        cmocka_unit_test(devfmt_float_round_trips_bit_for_bit),
        cmocka_unit_test(devfmt_encodes_full_scale_as_extreme_codes),
        cmocka_unit_test(devfmt_encode_clips_beyond_full_scale),
        cmocka_unit_test(devfmt_float_encode_keeps_over_full_scale),
        cmocka_unit_test(devfmt_encode_turns_nan_into_silence),
        cmocka_unit_test(devfmt_encode_rounds_half_lsb_to_even),
        cmocka_unit_test(devfmt_encode_rounds_to_nearest_off_the_half),
        cmocka_unit_test(devfmt_interleaves_channels_in_frame_order),
        cmocka_unit_test(devfmt_two_calls_with_offsets_build_one_period),
        cmocka_unit_test(devfmt_zero_frames_or_channels_touches_nothing),
        cmocka_unit_test(devfmt_997_hz_tone_keeps_its_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
