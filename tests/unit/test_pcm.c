/*
 * test_pcm.c: L16 and L24 payloads against the bytes RFC 3190 puts on the
 * wire.
 *
 * Expected payloads are written out by hand, byte by byte, so that a byte
 * order or interleaving mistake cannot cancel itself out in a round trip.
 * The round trips then cover every code of both formats. Single values are
 * encoded as runs longer than one conversion block, so that each goes
 * through both the vectorized path and the scalar tail, which must agree.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/pcm.h"

/* 2^-23 and 2^-15: one LSB of each format as a float. */
#define LSB24 (1.0f / 8388608.0f)
#define LSB16 (1.0f / 32768.0f)

/* Longer than any conversion block plus a tail. */
#define RUN 37

/* The code on the wire of sample i of a mono payload, sign-extended. */
static int32_t wire_code(enum aoip_pcm_format fmt, const uint8_t *p, size_t i)
{
    if (fmt == AOIP_PCM_L24) {
        const uint8_t *b = p + 3 * i;
        int32_t v = (int32_t)((uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2]);
        return v >= 0x800000 ? v - 0x1000000 : v;
    }
    const uint8_t *b = p + 2 * i;
    int32_t v = (int32_t)((uint32_t)b[0] << 8 | b[1]);
    return v >= 0x8000 ? v - 0x10000 : v;
}

/* Encode RUN copies of x as mono; every copy must get the same code. */
static int32_t code_of(enum aoip_pcm_format fmt, float x)
{
    float in[RUN];
    uint8_t out[3 * RUN];
    const float *planes[1] = { in };

    for (size_t i = 0; i < RUN; i++)
        in[i] = x;
    aoip_pcm_encode(fmt, out, planes, 1, RUN);
    int32_t code = wire_code(fmt, out, 0);
    for (size_t i = 1; i < RUN; i++)
        assert_int_equal(wire_code(fmt, out, i), code);
    return code;
}

static void pcm_bytes_counts_width_channels_and_frames(void **state)
{
    (void)state;
    assert_int_equal(aoip_pcm_bytes(AOIP_PCM_L24, 8, 48), 1152);
    assert_int_equal(aoip_pcm_bytes(AOIP_PCM_L16, 2, 48), 192);
    assert_int_equal(aoip_pcm_bytes(AOIP_PCM_L24, 1, 0), 0);
}

static void pcm_l24_decodes_big_endian_codes(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0x7F, 0xFF, 0xFF,                   /* largest positive */
        0x80, 0x00, 0x00,                   /* most negative: -1.0 */
        0x00, 0x00, 0x01,                   /* +1 LSB */
        0xFF, 0xFF, 0xFF,                   /* -1 LSB */
        0x12, 0x34, 0x56,                   /* byte order: 0x123456 */
        0x00, 0x00, 0x00, 0x40, 0x00, 0x00, /* +0.5 */
        0xC0, 0x00, 0x00,                   /* -0.5 */
    };
    const float want[] = {
        8388607.0f * LSB24, -1.0f, LSB24, -LSB24, 1193046.0f * LSB24, 0.0f, 0.5f, -0.5f,
    };
    enum { N = sizeof want / sizeof want[0] };
    float out[N];
    float *planes[1] = { out };

    aoip_pcm_decode(AOIP_PCM_L24, planes, in, 1, N);
    for (size_t i = 0; i < N; i++)
        assert_float_equal(out[i], want[i], 0.0);
}

static void pcm_l16_decodes_big_endian_codes(void **state)
{
    (void)state;
    static const uint8_t in[] = {
        0x7F, 0xFF, 0x80, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0x12, 0x34, 0x00, 0x00, 0xC0, 0x00,
    };
    const float want[] = {
        32767.0f * LSB16, -1.0f, LSB16, -LSB16, 4660.0f * LSB16, 0.0f, -0.5f,
    };
    enum { N = sizeof want / sizeof want[0] };
    float out[N];
    float *planes[1] = { out };

    aoip_pcm_decode(AOIP_PCM_L16, planes, in, 1, N);
    for (size_t i = 0; i < N; i++)
        assert_float_equal(out[i], want[i], 0.0);
}

static void pcm_l24_encodes_big_endian_codes(void **state)
{
    (void)state;
    const float in[] = { 0.5f, -0.5f, LSB24, -LSB24, 1193046.0f * LSB24, 0.0f, -0.0f, 0.25f };
    static const uint8_t want[] = {
        0x40, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF,
        0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
    };
    enum { N = sizeof in / sizeof in[0] };
    uint8_t out[3 * N];
    const float *planes[1] = { in };

    aoip_pcm_encode(AOIP_PCM_L24, out, planes, 1, N);
    assert_memory_equal(out, want, sizeof want);
}

static void pcm_l16_encodes_big_endian_codes(void **state)
{
    (void)state;
    const float in[] = { 0.5f, -0.5f, LSB16, -LSB16, 4660.0f * LSB16, 0.0f };
    static const uint8_t want[] = {
        0x40, 0x00, 0xC0, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0x12, 0x34, 0x00, 0x00,
    };
    enum { N = sizeof in / sizeof in[0] };
    uint8_t out[2 * N];
    const float *planes[1] = { in };

    aoip_pcm_encode(AOIP_PCM_L16, out, planes, 1, N);
    assert_memory_equal(out, want, sizeof want);
}

static void pcm_stereo_payload_matches_hand_written_bytes(void **state)
{
    (void)state;
    const float left[] = { 0.5f, -0.5f };
    const float right[] = { 0.25f, -LSB24 };
    const float *in[2] = { left, right };
    static const uint8_t want24[] = {
        0x40, 0x00, 0x00, 0x20, 0x00, 0x00, /* frame 0: L, R */
        0xC0, 0x00, 0x00, 0xFF, 0xFF, 0xFF, /* frame 1: L, R */
    };
    uint8_t out24[sizeof want24];

    aoip_pcm_encode(AOIP_PCM_L24, out24, in, 2, 2);
    assert_memory_equal(out24, want24, sizeof want24);

    /* -2^-23 is a third of an L16 LSB: it rounds to 0. */
    static const uint8_t want16[] = { 0x40, 0x00, 0x20, 0x00, 0xC0, 0x00, 0x00, 0x00 };
    uint8_t out16[sizeof want16];

    aoip_pcm_encode(AOIP_PCM_L16, out16, in, 2, 2);
    assert_memory_equal(out16, want16, sizeof want16);

    float l[2], r[2];
    float *back[2] = { l, r };
    aoip_pcm_decode(AOIP_PCM_L24, back, want24, 2, 2);
    assert_float_equal(l[0], 0.5f, 0.0);
    assert_float_equal(r[0], 0.25f, 0.0);
    assert_float_equal(l[1], -0.5f, 0.0);
    assert_float_equal(r[1], -LSB24, 0.0);
}

/* Every code: bytes -> float -> bytes gives the same bytes, and the float
 * is the code times one LSB. Chunks that are not a multiple of the block
 * size put codes through the scalar tail as well. */
static void round_trip_every_code(enum aoip_pcm_format fmt)
{
    enum { CHUNK = 4099 };
    const unsigned bits = fmt == AOIP_PCM_L24 ? 24 : 16;
    const uint32_t codes = 1u << bits;
    const float lsb = fmt == AOIP_PCM_L24 ? LSB24 : LSB16;
    uint8_t *in = malloc(3 * CHUNK);
    uint8_t *out = malloc(3 * CHUNK);
    float *x = malloc(sizeof(float) * CHUNK);
    float *dec[1] = { x };
    const float *enc[1] = { x };

    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(x);
    for (uint32_t first = 0; first < codes; first += CHUNK) {
        size_t n = codes - first < CHUNK ? codes - first : CHUNK;
        for (size_t i = 0; i < n; i++) {
            uint32_t u = first + (uint32_t)i;
            if (fmt == AOIP_PCM_L24) {
                in[3 * i] = (uint8_t)(u >> 16);
                in[3 * i + 1] = (uint8_t)(u >> 8);
                in[3 * i + 2] = (uint8_t)u;
            } else {
                in[2 * i] = (uint8_t)(u >> 8);
                in[2 * i + 1] = (uint8_t)u;
            }
        }
        aoip_pcm_decode(fmt, dec, in, 1, n);
        for (size_t i = 0; i < n; i++) {
            if (x[i] != (float)wire_code(fmt, in, i) * lsb)
                fail_msg("code %zu decodes to %.9g", first + i, (double)x[i]);
        }
        aoip_pcm_encode(fmt, out, enc, 1, n);
        if (memcmp(in, out, aoip_pcm_bytes(fmt, 1, n)) != 0)
            fail_msg("round trip changed a code in [%u, %zu)", first, first + n);
    }
    free(in);
    free(out);
    free(x);
}

static void pcm_l24_round_trips_every_code(void **state)
{
    (void)state;
    round_trip_every_code(AOIP_PCM_L24);
}

static void pcm_l16_round_trips_every_code(void **state)
{
    (void)state;
    round_trip_every_code(AOIP_PCM_L16);
}

static void pcm_encodes_full_scale_as_extreme_codes(void **state)
{
    (void)state;
    assert_int_equal(code_of(AOIP_PCM_L24, 1.0f), 0x7FFFFF);
    assert_int_equal(code_of(AOIP_PCM_L24, -1.0f), -0x800000);
    assert_int_equal(code_of(AOIP_PCM_L16, 1.0f), 0x7FFF);
    assert_int_equal(code_of(AOIP_PCM_L16, -1.0f), -0x8000);
}

static void pcm_encode_clips_beyond_full_scale(void **state)
{
    (void)state;
    /* Just below +1.0 rounds up to 2^23 and must clip back. */
    const float below_one = nextafterf(1.0f, 0.0f);
    const float over[] = { nextafterf(1.0f, 2.0f), 1.5f, 1e30f, FLT_MAX, below_one };
    const float under[] = { nextafterf(-1.0f, -2.0f), -1.5f, -1e30f, -FLT_MAX };

    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        assert_int_equal(code_of(AOIP_PCM_L24, over[i]), 0x7FFFFF);
        assert_int_equal(code_of(AOIP_PCM_L16, over[i]), 0x7FFF);
    }
    for (size_t i = 0; i < sizeof under / sizeof under[0]; i++) {
        assert_int_equal(code_of(AOIP_PCM_L24, under[i]), -0x800000);
        assert_int_equal(code_of(AOIP_PCM_L16, under[i]), -0x8000);
    }
    /* Within half an LSB of the most negative code it is that code. */
    assert_int_equal(code_of(AOIP_PCM_L16, -1.0f + 0.25f * LSB16), -0x8000);
    assert_int_equal(code_of(AOIP_PCM_L16, 1.0f - 1.25f * LSB16), 0x7FFF);
}

static void pcm_encode_clips_infinities(void **state)
{
    (void)state;
    assert_int_equal(code_of(AOIP_PCM_L24, INFINITY), 0x7FFFFF);
    assert_int_equal(code_of(AOIP_PCM_L24, -INFINITY), -0x800000);
    assert_int_equal(code_of(AOIP_PCM_L16, INFINITY), 0x7FFF);
    assert_int_equal(code_of(AOIP_PCM_L16, -INFINITY), -0x8000);
}

static void pcm_encode_turns_nan_into_silence(void **state)
{
    (void)state;
    assert_int_equal(code_of(AOIP_PCM_L24, NAN), 0);
    assert_int_equal(code_of(AOIP_PCM_L24, -NAN), 0);
    assert_int_equal(code_of(AOIP_PCM_L16, NAN), 0);
    assert_int_equal(code_of(AOIP_PCM_L16, -NAN), 0);
}

/* k + 1/2 LSB (exact in float for these k) goes to the even neighbour. */
static void pcm_encode_rounds_half_lsb_to_even(void **state)
{
    (void)state;
    static const struct {
        float half_lsbs; /* the sample, in LSBs */
        int32_t code;
    } cases[] = {
        { 0.5f, 0 },       { 1.5f, 2 },         { 2.5f, 2 },           { 3.5f, 4 },
        { -0.5f, 0 },      { -1.5f, -2 },       { -2.5f, -2 },         { 1000.5f, 1000 },
        { 1001.5f, 1002 }, { 32765.5f, 32766 }, { -32766.5f, -32766 }, { -32767.5f, -32768 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(code_of(AOIP_PCM_L24, cases[i].half_lsbs * LSB24), cases[i].code);
        assert_int_equal(code_of(AOIP_PCM_L16, cases[i].half_lsbs * LSB16), cases[i].code);
    }
    /* Where float spacing is already half an LSB (|x| >= 2^22 LSB). */
    assert_int_equal(code_of(AOIP_PCM_L24, 4194304.5f * LSB24), 4194304);
    assert_int_equal(code_of(AOIP_PCM_L24, 4194305.5f * LSB24), 4194306);
    assert_int_equal(code_of(AOIP_PCM_L24, 8388606.5f * LSB24), 8388606);
    assert_int_equal(code_of(AOIP_PCM_L24, -8388606.5f * LSB24), -8388606);
    assert_int_equal(code_of(AOIP_PCM_L24, -8388607.5f * LSB24), -8388608);
}

/* One float step either side of a half LSB decides the direction. */
static void pcm_encode_rounds_to_nearest_off_the_half(void **state)
{
    (void)state;
    static const float ks[] = { 0.5f, 1.5f, 2.5f, 77.5f, -0.5f, -1.5f, -2.5f, -77.5f };

    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        float k = ks[i];
        int32_t lo = (int32_t)floorf(k), hi = lo + 1;
        float x24 = k * LSB24, x16 = k * LSB16;
        assert_int_equal(code_of(AOIP_PCM_L24, nextafterf(x24, 1.0f)), hi);
        assert_int_equal(code_of(AOIP_PCM_L24, nextafterf(x24, -1.0f)), lo);
        assert_int_equal(code_of(AOIP_PCM_L16, nextafterf(x16, 1.0f)), hi);
        assert_int_equal(code_of(AOIP_PCM_L16, nextafterf(x16, -1.0f)), lo);
    }
    assert_int_equal(code_of(AOIP_PCM_L24, 0.49f * LSB24), 0);
    assert_int_equal(code_of(AOIP_PCM_L24, 0.51f * LSB24), 1);
    assert_int_equal(code_of(AOIP_PCM_L24, -0.51f * LSB24), -1);
    assert_int_equal(code_of(AOIP_PCM_L16, 0.3f), 9830);   /* 9830.4 */
    assert_int_equal(code_of(AOIP_PCM_L16, -0.3f), -9830); /* -9830.4 */
}

/* A distinct code for every (channel, frame), both signs. */
static int32_t pattern(unsigned c, size_t f, int32_t max)
{
    int32_t v = (int32_t)((c * 131 + f * 7 + 1) % (uint32_t)max);
    return (c + f) % 2 ? -v : v;
}

static void check_interleaving(enum aoip_pcm_format fmt, unsigned channels)
{
    enum { FRAMES = 53 }; /* three blocks and a tail */
    const size_t w = (size_t)fmt;
    const int32_t max = fmt == AOIP_PCM_L24 ? 0x800000 : 0x8000;
    const float lsb = fmt == AOIP_PCM_L24 ? LSB24 : LSB16;
    float *planes = malloc(sizeof(float) * channels * FRAMES);
    float *back = malloc(sizeof(float) * channels * FRAMES);
    const float **in = malloc(sizeof(*in) * channels);
    float **out = malloc(sizeof(*out) * channels);
    uint8_t *wire = malloc(aoip_pcm_bytes(fmt, channels, FRAMES) + 1);

    assert_non_null(planes);
    assert_non_null(back);
    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(wire);
    for (unsigned c = 0; c < channels; c++) {
        in[c] = planes + (size_t)c * FRAMES;
        out[c] = back + (size_t)c * FRAMES;
        for (size_t f = 0; f < FRAMES; f++)
            planes[(size_t)c * FRAMES + f] = (float)pattern(c, f, max) * lsb;
    }
    wire[aoip_pcm_bytes(fmt, channels, FRAMES)] = 0xA5;

    aoip_pcm_encode(fmt, wire, in, channels, FRAMES);
    for (size_t f = 0; f < FRAMES; f++) {
        for (unsigned c = 0; c < channels; c++) {
            uint32_t u = (uint32_t)pattern(c, f, max);
            const uint8_t *p = wire + (f * channels + c) * w;
            if (fmt == AOIP_PCM_L24) {
                assert_int_equal(p[0], (u >> 16) & 0xFF);
                assert_int_equal(p[1], (u >> 8) & 0xFF);
                assert_int_equal(p[2], u & 0xFF);
            } else {
                assert_int_equal(p[0], (u >> 8) & 0xFF);
                assert_int_equal(p[1], u & 0xFF);
            }
        }
    }
    assert_int_equal(wire[aoip_pcm_bytes(fmt, channels, FRAMES)], 0xA5);

    aoip_pcm_decode(fmt, out, wire, channels, FRAMES);
    assert_memory_equal(back, planes, sizeof(float) * channels * FRAMES);

    free(planes);
    free(back);
    free(in);
    free(out);
    free(wire);
}

static void pcm_interleaves_channels_in_frame_order(void **state)
{
    (void)state;
    static const unsigned counts[] = { 1, 2, 8, 64 };

    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        check_interleaving(AOIP_PCM_L24, counts[i]);
        check_interleaving(AOIP_PCM_L16, counts[i]);
    }
}

static void pcm_zero_frames_touches_nothing(void **state)
{
    (void)state;
    float x[4] = { 0.5f, 0.5f, 0.5f, 0.5f };
    const float *in[2] = { x, x };
    float *out[2] = { x, x };
    uint8_t wire[4] = { 0xA5, 0xA5, 0xA5, 0xA5 };

    aoip_pcm_encode(AOIP_PCM_L24, wire, in, 2, 0);
    aoip_pcm_decode(AOIP_PCM_L16, out, wire, 2, 0);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(wire[i], 0xA5);
        assert_float_equal(x[i], 0.5f, 0.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pcm_bytes_counts_width_channels_and_frames),
        cmocka_unit_test(pcm_l24_decodes_big_endian_codes),
        cmocka_unit_test(pcm_l16_decodes_big_endian_codes),
        cmocka_unit_test(pcm_l24_encodes_big_endian_codes),
        cmocka_unit_test(pcm_l16_encodes_big_endian_codes),
        cmocka_unit_test(pcm_stereo_payload_matches_hand_written_bytes),
        cmocka_unit_test(pcm_l24_round_trips_every_code),
        cmocka_unit_test(pcm_l16_round_trips_every_code),
        cmocka_unit_test(pcm_encodes_full_scale_as_extreme_codes),
        cmocka_unit_test(pcm_encode_clips_beyond_full_scale),
        cmocka_unit_test(pcm_encode_clips_infinities),
        cmocka_unit_test(pcm_encode_turns_nan_into_silence),
        cmocka_unit_test(pcm_encode_rounds_half_lsb_to_even),
        cmocka_unit_test(pcm_encode_rounds_to_nearest_off_the_half),
        cmocka_unit_test(pcm_interleaves_channels_in_frame_order),
        cmocka_unit_test(pcm_zero_frames_touches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
