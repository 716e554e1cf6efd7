/*
 * test_rtp.c: RTP parse and header build, sequence number and timestamp
 * extension, and the RFC 3550 interarrival jitter estimator.
 *
 * Every packet the parser is given here sits in a heap block of exactly its
 * length, so under the sanitizer build a read one byte past the end is a
 * failure, not a silent pass. The jitter expectations are computed from the
 * closed form of the RFC's recurrence, not from the implementation's
 * integer arithmetic.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/rtp.h"
#include "netmodel.h"

#define L24_8CH_1MS_PAYLOAD (48 * 8 * 3) /* 48 frames of 8 channels, 3 bytes a sample */
#define NS_PER_MS           1000000LL

/* A copy of bytes in a block of exactly len bytes, so ASan sees any over-read. */
static uint8_t *exact_copy(const uint8_t *bytes, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);

    assert_non_null(p);
    if (len > 0)
        memcpy(p, bytes, len);
    return p;
}

static int parse_exact(struct aoip_rtp_packet *pkt, const uint8_t *bytes, size_t len)
{
    uint8_t *p = exact_copy(bytes, len);
    int ret = aoip_rtp_parse(pkt, p, len);

    free(p);
    return ret;
}

static void rtp_parses_l24_8ch_1ms_packet(void **state)
{
    (void)state;
    size_t len = AOIP_RTP_HEADER_SIZE + L24_8CH_1MS_PAYLOAD;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    const uint8_t hdr[] = { 0x80, 0x80 | 97, 0x12, 0x34, 0xDE, 0xAD,
                            0xBE, 0xEF,      0x01, 0x02, 0x03, 0x04 };
    memcpy(buf, hdr, sizeof hdr);
    for (size_t i = 0; i < L24_8CH_1MS_PAYLOAD; i++)
        buf[AOIP_RTP_HEADER_SIZE + i] = (uint8_t)i;

    struct aoip_rtp_packet pkt;
    assert_int_equal(aoip_rtp_parse(&pkt, buf, len), 0);
    assert_true(pkt.marker);
    assert_int_equal(pkt.payload_type, 97);
    assert_int_equal(pkt.seq, 0x1234);
    assert_int_equal(pkt.timestamp, 0xDEADBEEF);
    assert_int_equal(pkt.ssrc, 0x01020304);
    assert_int_equal(pkt.csrc_count, 0);
    assert_false(pkt.has_extension);
    assert_null(pkt.ext);
    assert_int_equal(pkt.padding_len, 0);
    assert_ptr_equal(pkt.payload, buf + AOIP_RTP_HEADER_SIZE);
    assert_int_equal(pkt.payload_len, L24_8CH_1MS_PAYLOAD);
    assert_int_equal(aoip_rtp_header_size(&pkt), AOIP_RTP_HEADER_SIZE);
    free(buf);
}

static void rtp_parses_csrc_list(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x83, 0x0A, 0x00, 0x01, 0x00, 0x00, 0x00, 0x30, 0xAA,
                              0xBB, 0xCC, 0xDD, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22,
                              0x22, 0x22, 0x33, 0x33, 0x33, 0x33, 0xF0, 0xF1 };
    uint8_t *buf = exact_copy(bytes, sizeof bytes);
    struct aoip_rtp_packet pkt;

    assert_int_equal(aoip_rtp_parse(&pkt, buf, sizeof bytes), 0);
    assert_false(pkt.marker);
    assert_int_equal(pkt.payload_type, 10);
    assert_int_equal(pkt.csrc_count, 3);
    assert_int_equal(pkt.csrc[0], 0x11111111);
    assert_int_equal(pkt.csrc[1], 0x22222222);
    assert_int_equal(pkt.csrc[2], 0x33333333);
    assert_ptr_equal(pkt.payload, buf + 24);
    assert_int_equal(pkt.payload_len, 2);
    assert_int_equal(pkt.payload[0], 0xF0);
    free(buf);
}

static void rtp_parses_header_extension(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x91, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00,
                              0x00, 0x07, 0x44, 0x44, 0x44, 0x44, 0xBE, 0xDE, 0x00, 0x02,
                              0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0xAB };
    uint8_t *buf = exact_copy(bytes, sizeof bytes);
    struct aoip_rtp_packet pkt;

    assert_int_equal(aoip_rtp_parse(&pkt, buf, sizeof bytes), 0);
    assert_int_equal(pkt.csrc_count, 1);
    assert_int_equal(pkt.csrc[0], 0x44444444);
    assert_true(pkt.has_extension);
    assert_int_equal(pkt.ext_profile, 0xBEDE);
    assert_ptr_equal(pkt.ext, buf + 20);
    assert_int_equal(pkt.ext_len, 8);
    assert_ptr_equal(pkt.payload, buf + 28);
    assert_int_equal(pkt.payload_len, 1);
    assert_int_equal(aoip_rtp_header_size(&pkt), 28);
    free(buf);
}

static void rtp_parses_empty_extension(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x90, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60,
                              0x00, 0x00, 0x00, 0x07, 0x12, 0x34, 0x00, 0x00 };
    struct aoip_rtp_packet pkt;

    assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), 0);
    assert_true(pkt.has_extension);
    assert_int_equal(pkt.ext_profile, 0x1234);
    assert_int_equal(pkt.ext_len, 0);
    assert_int_equal(pkt.payload_len, 0);
}

static void rtp_strips_padding(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0xA0, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00,
                              0x00, 0x07, 0x01, 0x02, 0x03, 0x04, 0x05, 0x00, 0x00, 0x03 };
    uint8_t *buf = exact_copy(bytes, sizeof bytes);
    struct aoip_rtp_packet pkt;

    assert_int_equal(aoip_rtp_parse(&pkt, buf, sizeof bytes), 0);
    assert_int_equal(pkt.padding_len, 3);
    assert_ptr_equal(pkt.payload, buf + 12);
    assert_int_equal(pkt.payload_len, 5);
    free(buf);
}

static void rtp_accepts_padding_that_fills_the_whole_payload(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0xA0, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60,
                              0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x04 };
    struct aoip_rtp_packet pkt;

    assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), 0);
    assert_int_equal(pkt.padding_len, 4);
    assert_int_equal(pkt.payload_len, 0);
}

static void rtp_refuses_packet_shorter_than_fixed_header(void **state)
{
    (void)state;
    const uint8_t bytes[] = {
        0x80, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x07
    };
    struct aoip_rtp_packet pkt;

    for (size_t len = 0; len < sizeof bytes; len++)
        assert_int_equal(parse_exact(&pkt, bytes, len), AOIP_ERTP_SHORT);
    assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), 0);
}

static void rtp_refuses_version_other_than_2(void **state)
{
    (void)state;
    uint8_t bytes[] = { 0x80, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x07 };
    struct aoip_rtp_packet pkt;

    for (unsigned v = 0; v < 4; v++) {
        bytes[0] = (uint8_t)(v << 6);
        assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), v == 2 ? 0 : AOIP_ERTP_VERSION);
    }
}

static void rtp_refuses_csrc_list_past_end(void **state)
{
    (void)state;
    /* CC = 2 needs 8 bytes after the fixed header; give 0..7 of them. */
    uint8_t bytes[20] = { 0x82, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x07 };
    struct aoip_rtp_packet pkt;

    for (size_t len = 12; len < 20; len++)
        assert_int_equal(parse_exact(&pkt, bytes, len), AOIP_ERTP_CSRC);
    assert_int_equal(parse_exact(&pkt, bytes, 20), 0);

    /* CC = 15 with nothing after the header. */
    bytes[0] = 0x8F;
    assert_int_equal(parse_exact(&pkt, bytes, 12), AOIP_ERTP_CSRC);
}

static void rtp_refuses_truncated_extension_header(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x90, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60,
                              0x00, 0x00, 0x00, 0x07, 0xBE, 0xDE, 0x00, 0x00 };
    struct aoip_rtp_packet pkt;

    for (size_t len = 12; len < 16; len++)
        assert_int_equal(parse_exact(&pkt, bytes, len), AOIP_ERTP_EXTENSION);
}

static void rtp_refuses_extension_length_that_lies(void **state)
{
    (void)state;
    /* Says 3 words of extension, carries 2. */
    const uint8_t bytes[] = { 0x90, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60,
                              0x00, 0x00, 0x00, 0x07, 0xBE, 0xDE, 0x00, 0x03,
                              1,    2,    3,    4,    5,    6,    7,    8 };
    struct aoip_rtp_packet pkt;

    assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), AOIP_ERTP_EXTENSION);

    /* The largest length the field can hold, on a short packet. */
    uint8_t big[sizeof bytes];
    memcpy(big, bytes, sizeof bytes);
    big[14] = 0xFF;
    big[15] = 0xFF;
    assert_int_equal(parse_exact(&pkt, big, sizeof big), AOIP_ERTP_EXTENSION);
}

static void rtp_refuses_zero_padding_count(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0xA0, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60,
                              0x00, 0x00, 0x00, 0x07, 0x01, 0x02, 0x03, 0x00 };
    struct aoip_rtp_packet pkt;

    assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), AOIP_ERTP_PADDING);
}

static void rtp_refuses_padding_longer_than_payload(void **state)
{
    (void)state;
    /* Four bytes after a header with one CSRC; padding claims five. */
    const uint8_t bytes[] = { 0xA1, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00,
                              0x00, 0x07, 0x11, 0x11, 0x11, 0x11, 0x01, 0x02, 0x03, 0x05 };
    struct aoip_rtp_packet pkt;

    assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), AOIP_ERTP_PADDING);
}

static void rtp_refuses_padding_bit_without_payload(void **state)
{
    (void)state;
    /* The last byte is the SSRC's, not a padding count. */
    const uint8_t bytes[] = {
        0xA0, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x01
    };
    struct aoip_rtp_packet pkt;

    assert_int_equal(parse_exact(&pkt, bytes, sizeof bytes), AOIP_ERTP_PADDING);
}

static void rtp_header_size_counts_csrcs_and_extension(void **state)
{
    (void)state;
    struct aoip_rtp_packet pkt = { 0 };

    assert_int_equal(aoip_rtp_header_size(&pkt), 12);
    pkt.csrc_count = 15;
    assert_int_equal(aoip_rtp_header_size(&pkt), 72);
    pkt.has_extension = true;
    assert_int_equal(aoip_rtp_header_size(&pkt), 76);
    pkt.ext_len = 40;
    assert_int_equal(aoip_rtp_header_size(&pkt), 116);
}

static void rtp_write_header_round_trips_all_field_combinations(void **state)
{
    (void)state;
    static const uint8_t pts[] = { 0, 96, 127 };
    static const size_t ext_lens[] = { 0, 4, 12, 1024 };
    static const uint8_t pads[] = { 0, 1, 4, 255 };
    static const size_t payload_lens[] = { 0, 1, L24_8CH_1MS_PAYLOAD };
    static uint8_t ext_data[1024];
    static uint8_t wire[4096];
    const unsigned n_ext = 1 + sizeof ext_lens / sizeof ext_lens[0]; /* none, then each length */
    const unsigned n_len = sizeof payload_lens / sizeof payload_lens[0];
    const unsigned total = 2 * sizeof pts * (AOIP_RTP_MAX_CSRC + 1) * n_ext * sizeof pads * n_len;

    for (size_t i = 0; i < sizeof ext_data; i++)
        ext_data[i] = (uint8_t)(i * 7 + 1);

    for (unsigned combo = 0; combo < total; combo++) {
        unsigned rest = combo;
        unsigned l = rest % n_len;
        rest /= n_len;
        unsigned d = rest % sizeof pads;
        rest /= sizeof pads;
        unsigned e = rest % n_ext;
        rest /= n_ext;
        unsigned cc = rest % (AOIP_RTP_MAX_CSRC + 1);
        rest /= AOIP_RTP_MAX_CSRC + 1;
        unsigned p = rest % sizeof pts;
        unsigned m = rest / sizeof pts;
        struct aoip_rtp_packet in = { 0 }, out;

        in.marker = m;
        in.payload_type = pts[p];
        in.seq = (uint16_t)(0xFFFF - combo);
        in.timestamp = 0xFFFFFFF0u + combo;
        in.ssrc = 0x80000000u ^ combo;
        in.csrc_count = (uint8_t)cc;
        for (unsigned i = 0; i < cc; i++)
            in.csrc[i] = 0x01010101u * (i + 1);
        if (e > 0) {
            in.has_extension = true;
            in.ext_profile = (uint16_t)(0x1000 + e);
            in.ext = ext_data;
            in.ext_len = ext_lens[e - 1];
        }
        in.padding_len = pads[d];

        int hlen = aoip_rtp_write_header(&in, wire, sizeof wire);
        assert_int_equal(hlen, (int)aoip_rtp_header_size(&in));
        size_t len = (size_t)hlen;
        for (size_t i = 0; i < payload_lens[l]; i++)
            wire[len++] = (uint8_t)(i ^ 0x5A);
        if (in.padding_len) {
            memset(wire + len, 0, in.padding_len);
            len += in.padding_len;
            wire[len - 1] = in.padding_len;
        }

        uint8_t *buf = exact_copy(wire, len);
        assert_int_equal(aoip_rtp_parse(&out, buf, len), 0);
        assert_int_equal(out.marker, in.marker);
        assert_int_equal(out.payload_type, in.payload_type);
        assert_int_equal(out.seq, in.seq);
        assert_int_equal(out.timestamp, in.timestamp);
        assert_int_equal(out.ssrc, in.ssrc);
        assert_int_equal(out.csrc_count, in.csrc_count);
        assert_memory_equal(out.csrc, in.csrc, cc * sizeof in.csrc[0]);
        assert_int_equal(out.has_extension, in.has_extension);
        if (in.has_extension) {
            assert_int_equal(out.ext_profile, in.ext_profile);
            assert_int_equal(out.ext_len, in.ext_len);
            assert_memory_equal(out.ext, ext_data, in.ext_len);
        }
        assert_int_equal(out.padding_len, in.padding_len);
        assert_ptr_equal(out.payload, buf + hlen);
        assert_int_equal(out.payload_len, payload_lens[l]);
        for (size_t i = 0; i < out.payload_len; i++)
            assert_int_equal(out.payload[i], (uint8_t)(i ^ 0x5A));
        free(buf);
    }
}

static void rtp_write_header_rewrites_parsed_header_in_place(void **state)
{
    (void)state;
    uint8_t bytes[] = { 0x92, 0xE0, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00,
                        0x00, 0x07, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22,
                        0xBE, 0xDE, 0x00, 0x01, 0x31, 0x32, 0x33, 0x34, 0x99 };
    uint8_t expect[sizeof bytes];
    struct aoip_rtp_packet pkt;

    memcpy(expect, bytes, sizeof bytes);
    expect[8] = 0xCA;
    expect[9] = 0xFE;
    expect[10] = 0xF0;
    expect[11] = 0x0D;
    assert_int_equal(aoip_rtp_parse(&pkt, bytes, sizeof bytes), 0);
    pkt.ssrc = 0xCAFEF00D;
    assert_int_equal(aoip_rtp_write_header(&pkt, bytes, sizeof bytes), 28);
    assert_memory_equal(bytes, expect, sizeof bytes);
}

static void rtp_write_header_refuses_small_buffer(void **state)
{
    (void)state;
    uint8_t ext[8] = { 0 };
    uint8_t buf[64];
    struct aoip_rtp_packet pkt = { 0 };

    pkt.payload_type = 96;
    pkt.csrc_count = 2;
    pkt.has_extension = true;
    pkt.ext = ext;
    pkt.ext_len = sizeof ext;
    /* 12 + 8 + 4 + 8 = 32 bytes */
    for (size_t cap = 0; cap < 32; cap++) {
        memset(buf, 0xEE, sizeof buf);
        assert_int_equal(aoip_rtp_write_header(&pkt, buf, cap), -ENOSPC);
        for (size_t i = 0; i < sizeof buf; i++)
            assert_int_equal(buf[i], 0xEE);
    }
    assert_int_equal(aoip_rtp_write_header(&pkt, buf, 32), 32);
}

static void rtp_write_header_refuses_fields_that_do_not_fit(void **state)
{
    (void)state;
    static uint8_t ext[4 * 65536];
    uint8_t buf[64];
    struct aoip_rtp_packet pkt = { 0 };

    pkt.payload_type = 128;
    assert_int_equal(aoip_rtp_write_header(&pkt, buf, sizeof buf), -EINVAL);
    pkt.payload_type = 127;
    pkt.csrc_count = 16;
    assert_int_equal(aoip_rtp_write_header(&pkt, buf, sizeof buf), -EINVAL);
    pkt.csrc_count = 0;
    pkt.has_extension = true;
    pkt.ext = ext;
    pkt.ext_len = 6;
    assert_int_equal(aoip_rtp_write_header(&pkt, buf, sizeof buf), -EINVAL);
    pkt.ext_len = 4 * 65536;
    assert_int_equal(aoip_rtp_write_header(&pkt, buf, sizeof buf), -EINVAL);
    pkt.ext_len = 4;
    pkt.ext = NULL;
    assert_int_equal(aoip_rtp_write_header(&pkt, buf, sizeof buf), -EINVAL);
    /* The largest extension is fine: only the buffer is too small for it. */
    pkt.ext = ext;
    pkt.ext_len = 4 * 65535;
    assert_int_equal(aoip_rtp_write_header(&pkt, buf, sizeof buf), -ENOSPC);
}

static void seq_extend_follows_forward_wrap(void **state)
{
    (void)state;
    int64_t ext = 65534;

    ext = aoip_rtp_seq_extend(ext, 65535);
    assert_int_equal(ext, 65535);
    ext = aoip_rtp_seq_extend(ext, 0);
    assert_int_equal(ext, 65536);
    ext = aoip_rtp_seq_extend(ext, 1);
    assert_int_equal(ext, 65537);
}

static void seq_extend_places_packet_reordered_across_wrap_before_it(void **state)
{
    (void)state;
    int64_t ext = aoip_rtp_seq_extend(65534, 0);

    assert_int_equal(ext, 65536);
    /* 65535 arrives late, after 0: it belongs before the wrap. */
    int64_t late = aoip_rtp_seq_extend(ext, 65535);
    assert_int_equal(late, 65535);
    /* and the stream continues after the wrap from there. */
    assert_int_equal(aoip_rtp_seq_extend(late, 1), 65537);
}

static void seq_extend_goes_below_zero_backwards(void **state)
{
    (void)state;
    assert_int_equal(aoip_rtp_seq_extend(0, 65535), -1);
    assert_int_equal(aoip_rtp_seq_extend(-1, 65534), -2);
    assert_int_equal(aoip_rtp_seq_extend(-2, 0), 0);
}

static void seq_extend_jumps_less_than_half_the_range_either_way(void **state)
{
    (void)state;
    int64_t last = 3 * 65536 + 100;

    assert_int_equal(aoip_rtp_seq_extend(last, 100 + 32767), last + 32767);
    assert_int_equal(aoip_rtp_seq_extend(last, (uint16_t)(100 + 32769)), last - 32767);
    assert_int_equal(aoip_rtp_seq_extend(last, 100), last);
}

static void seq_extend_counts_many_wraps(void **state)
{
    (void)state;
    int64_t ext = 0;

    for (int64_t n = 1; n <= 20 * 65536; n += 1237)
        ext = aoip_rtp_seq_extend(ext, (uint16_t)n);
    assert_int_equal(ext, 1 + 1237 * ((20 * 65536 - 1) / 1237));
}

static void ts_extend_follows_forward_wrap(void **state)
{
    (void)state;
    int64_t ext = 0xFFFFFF00;

    ext = aoip_rtp_ts_extend(ext, 0x100);
    assert_int_equal(ext, 0x100000100LL);
    ext = aoip_rtp_ts_extend(ext, 0x200);
    assert_int_equal(ext, 0x100000200LL);
}

static void ts_extend_follows_backward_wrap(void **state)
{
    (void)state;
    int64_t ext = aoip_rtp_ts_extend(0xFFFFFF00, 0x100);

    assert_int_equal(aoip_rtp_ts_extend(ext, 0xFFFFFF00), 0xFFFFFF00LL);
    assert_int_equal(aoip_rtp_ts_extend(0x100, 0xFFFFFF00), -0x100LL);
}

static void ts_extend_jumps_less_than_half_the_range_either_way(void **state)
{
    (void)state;
    int64_t last = 5 * 0x100000000LL + 10;

    assert_int_equal(aoip_rtp_ts_extend(last, 10u + 0x7FFFFFFFu), last + 0x7FFFFFFF);
    assert_int_equal(aoip_rtp_ts_extend(last, 10 + 0x80000001u), last - 0x7FFFFFFF);
}

/* Feed packets sent every 1 ms (48 units at 48 kHz) with the given delays. */
static void feed_jitter(struct aoip_rtp_jitter *j, int64_t t0_ns, uint32_t ts0, uint32_t ts_step,
                        const int64_t *delay_ns, size_t ndelay, size_t n)
{
    for (size_t k = 0; k < n; k++)
        aoip_rtp_jitter_update(j, t0_ns + (int64_t)k * NS_PER_MS + delay_ns[k % ndelay],
                               ts0 + (uint32_t)k * ts_step);
}

static void jitter_is_zero_for_constant_delay(void **state)
{
    (void)state;
    const int64_t delay = 3700000; /* 3.7 ms, not a whole number of units */
    struct aoip_rtp_jitter j;

    aoip_rtp_jitter_init(&j, 48000);
    feed_jitter(&j, 1000 * NS_PER_MS, 12345, 48, &delay, 1, 5000);
    assert_int_equal(j.jitter_q4, 0);
    assert_int_equal(aoip_rtp_jitter_get(&j), 0);
}

static void jitter_is_zero_for_constant_delay_at_44100(void **state)
{
    (void)state;
    /* 441 frames every 10 ms: arrival units are never whole, the offset is constant. */
    const int64_t delay = 2345678;
    struct aoip_rtp_jitter j;

    aoip_rtp_jitter_init(&j, 44100);
    for (int k = 0; k < 3000; k++)
        aoip_rtp_jitter_update(&j, 777 + (int64_t)k * 10 * NS_PER_MS + delay, 441u * k);
    assert_int_equal(j.jitter_q4, 0);
}

static void jitter_is_zero_for_constant_delay_across_negative_arrival_times(void **state)
{
    (void)state;
    const int64_t delay = 1500001;
    struct aoip_rtp_jitter j;

    aoip_rtp_jitter_init(&j, 48000);
    feed_jitter(&j, -2000 * NS_PER_MS, 0, 48, &delay, 1, 4000);
    assert_int_equal(j.jitter_q4, 0);
}

static void jitter_is_zero_for_constant_delay_after_centuries_of_arrival_time(void **state)
{
    (void)state;
    /*
     * Arrival near INT64_MAX ns (292 years) with a 2 GHz clock: whole
     * seconds times the rate exceeds 2^64, which must not disturb transit.
     */
    const int64_t delay = 123456789;
    const int64_t t0 = INT64_MAX - 10000 * NS_PER_MS;
    struct aoip_rtp_jitter j;

    aoip_rtp_jitter_init(&j, 2000000000u);
    feed_jitter(&j, t0, 99, 2000000, &delay, 1, 5000);
    assert_int_equal(j.jitter_q4, 0);

    aoip_rtp_jitter_init(&j, 48000);
    feed_jitter(&j, t0, 99, 48, &delay, 1, 5000);
    assert_int_equal(j.jitter_q4, 0);
}

/*
 * Delay alternating between 0 and 2 ms makes |D| = 96 units (48 kHz) for
 * every packet after the first, so RFC 3550's J += (|D| - J) / 16 has the
 * closed form J_n = 96 (1 - (15/16)^n). The integer form of A.8 rounds, so
 * it may sit up to half a unit from the real value, never more.
 */
static void jitter_converges_for_alternating_delay(void **state)
{
    (void)state;
    const int64_t delays[2] = { 0, 2 * NS_PER_MS };
    struct aoip_rtp_jitter j;

    aoip_rtp_jitter_init(&j, 48000);
    aoip_rtp_jitter_update(&j, 0, 0);
    assert_int_equal(aoip_rtp_jitter_get(&j), 0);
    for (int n = 1; n <= 400; n++) {
        aoip_rtp_jitter_update(&j, n * NS_PER_MS + delays[n % 2], 48u * (uint32_t)n);
        double expect = 96.0 * (1.0 - pow(15.0 / 16.0, n));
        assert_float_equal((double)j.jitter_q4 / 16.0, expect, 0.5 + 1e-9);
        assert_in_range(aoip_rtp_jitter_get(&j), (uint32_t)floor(expect - 0.5),
                        (uint32_t)floor(expect + 0.5));
    }
    assert_in_range(aoip_rtp_jitter_get(&j), 95, 96);
}

static void jitter_has_no_spike_when_timestamps_wrap(void **state)
{
    (void)state;
    const int64_t delays[3] = { 0, 700000, 300000 };
    struct aoip_rtp_jitter a, b;

    /* The same arrivals, once far from the wrap and once crossing it midway. */
    aoip_rtp_jitter_init(&a, 48000);
    aoip_rtp_jitter_init(&b, 48000);
    for (uint32_t k = 0; k < 2000; k++) {
        int64_t t = (int64_t)k * NS_PER_MS + delays[k % 3];
        aoip_rtp_jitter_update(&a, t, 1000 + 48 * k);
        aoip_rtp_jitter_update(&b, t, 0xFFFFFFFFu - 48 * 1000 + 48 * k);
        assert_int_equal(b.jitter_q4, a.jitter_q4);
    }
    assert_true(aoip_rtp_jitter_get(&a) > 0);

    /* With constant delay across the wrap the estimate stays exactly 0. */
    const int64_t delay = 5 * NS_PER_MS;
    aoip_rtp_jitter_init(&b, 48000);
    feed_jitter(&b, 0, 0xFFFFFF00u, 48, &delay, 1, 100);
    assert_int_equal(b.jitter_q4, 0);
}

/*
 * Transit (arrival minus timestamp, modulo 2^32) is an arbitrary offset: with
 * a timestamp base just above the arrival count it alternates either side of
 * the 2^32 boundary. Only differences matter, so the result must equal a run
 * whose transit stays well inside the range.
 */
static void jitter_has_no_spike_when_transit_straddles_the_wrap(void **state)
{
    (void)state;
    const int64_t delays[3] = { 0, 700000, 300000 };
    struct aoip_rtp_jitter a, b;

    aoip_rtp_jitter_init(&a, 48000);
    aoip_rtp_jitter_init(&b, 48000);
    for (uint32_t k = 0; k < 2000; k++) {
        int64_t t = (int64_t)k * NS_PER_MS + delays[k % 3];
        aoip_rtp_jitter_update(&a, t, 0x80000000u + 48 * k);
        aoip_rtp_jitter_update(&b, t, 20 + 48 * k);
        assert_int_equal(b.jitter_q4, a.jitter_q4);
    }
    assert_in_range(aoip_rtp_jitter_get(&b), 1, 40);
}

static bool rtp_result_is_documented(int ret)
{
    return ret == 0 || ret == AOIP_ERTP_SHORT || ret == AOIP_ERTP_VERSION ||
           ret == AOIP_ERTP_CSRC || ret == AOIP_ERTP_EXTENSION || ret == AOIP_ERTP_PADDING;
}

/* Parse a heap copy of exactly len bytes; on success every pointer must lie inside it. */
static int parse_and_check_bounds(const uint8_t *bytes, size_t len)
{
    uint8_t *buf = exact_copy(bytes, len);
    struct aoip_rtp_packet pkt;
    int ret = aoip_rtp_parse(&pkt, buf, len);

    assert_true(rtp_result_is_documented(ret));
    if (ret == 0) {
        assert_true(pkt.payload >= buf + AOIP_RTP_HEADER_SIZE);
        assert_true(pkt.payload + pkt.payload_len + pkt.padding_len == buf + len);
        assert_int_equal((size_t)(pkt.payload - buf), aoip_rtp_header_size(&pkt));
        if (pkt.has_extension) {
            assert_true(pkt.ext >= buf + AOIP_RTP_HEADER_SIZE + 4);
            assert_true(pkt.ext + pkt.ext_len <= pkt.payload);
        }
        assert_true(pkt.csrc_count <= AOIP_RTP_MAX_CSRC);
    }
    free(buf);
    return ret;
}

static void rtp_parse_survives_garbage(void **state)
{
    (void)state;
    struct netmodel_rng rng;
    uint8_t bytes[256];
    unsigned accepted = 0;

    netmodel_rng_seed(&rng, 0x5EED0001);
    for (int iter = 0; iter < 40000; iter++) {
        size_t len = netmodel_rng_next(&rng) % sizeof bytes;
        for (size_t i = 0; i < len; i++)
            bytes[i] = (uint8_t)netmodel_rng_next(&rng);
        /* Most random first bytes fail on the version; give half of them a 2. */
        if (len > 0 && (iter & 1))
            bytes[0] = (uint8_t)(0x80 | (bytes[0] & 0x3F));
        if (parse_and_check_bounds(bytes, len) == 0)
            accepted++;
    }
    assert_true(accepted > 1000);
}

static void rtp_parse_survives_truncated_and_flipped_packets(void **state)
{
    (void)state;
    static const uint8_t ext[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    struct netmodel_rng rng;
    uint8_t valid[128], bytes[128];
    struct aoip_rtp_packet in = { 0 };
    unsigned errors = 0;

    in.payload_type = 96;
    in.csrc_count = 3;
    in.has_extension = true;
    in.ext = ext;
    in.ext_len = sizeof ext;
    in.padding_len = 6;
    int hlen = aoip_rtp_write_header(&in, valid, sizeof valid);
    assert_int_equal(hlen, 40);
    size_t vlen = (size_t)hlen + 24 + in.padding_len;
    memset(valid + hlen, 0x42, vlen - (size_t)hlen);
    valid[vlen - 1] = in.padding_len;
    assert_int_equal(parse_and_check_bounds(valid, vlen), 0);

    netmodel_rng_seed(&rng, 0x5EED0002);
    for (int iter = 0; iter < 40000; iter++) {
        uint64_t r = netmodel_rng_next(&rng);
        size_t len = vlen;

        memcpy(bytes, valid, vlen);
        if (r & 1)
            len = (size_t)(netmodel_rng_next(&rng) % (vlen + 1));
        for (unsigned f = 0; f < ((r >> 1) & 3); f++) {
            uint64_t bit = netmodel_rng_next(&rng) % (vlen * 8);
            bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        if (parse_and_check_bounds(bytes, len) != 0)
            errors++;
    }
    assert_true(errors > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rtp_parses_l24_8ch_1ms_packet),
        cmocka_unit_test(rtp_parses_csrc_list),
        cmocka_unit_test(rtp_parses_header_extension),
        cmocka_unit_test(rtp_parses_empty_extension),
        cmocka_unit_test(rtp_strips_padding),
        cmocka_unit_test(rtp_accepts_padding_that_fills_the_whole_payload),
        cmocka_unit_test(rtp_refuses_packet_shorter_than_fixed_header),
        cmocka_unit_test(rtp_refuses_version_other_than_2),
        cmocka_unit_test(rtp_refuses_csrc_list_past_end),
        cmocka_unit_test(rtp_refuses_truncated_extension_header),
        cmocka_unit_test(rtp_refuses_extension_length_that_lies),
        cmocka_unit_test(rtp_refuses_zero_padding_count),
        cmocka_unit_test(rtp_refuses_padding_longer_than_payload),
        cmocka_unit_test(rtp_refuses_padding_bit_without_payload),
        cmocka_unit_test(rtp_header_size_counts_csrcs_and_extension),
        cmocka_unit_test(rtp_write_header_round_trips_all_field_combinations),
        cmocka_unit_test(rtp_write_header_rewrites_parsed_header_in_place),
        cmocka_unit_test(rtp_write_header_refuses_small_buffer),
        cmocka_unit_test(rtp_write_header_refuses_fields_that_do_not_fit),
        cmocka_unit_test(seq_extend_follows_forward_wrap),
        cmocka_unit_test(seq_extend_places_packet_reordered_across_wrap_before_it),
        cmocka_unit_test(seq_extend_goes_below_zero_backwards),
        cmocka_unit_test(seq_extend_jumps_less_than_half_the_range_either_way),
        cmocka_unit_test(seq_extend_counts_many_wraps),
        cmocka_unit_test(ts_extend_follows_forward_wrap),
        cmocka_unit_test(ts_extend_follows_backward_wrap),
        cmocka_unit_test(ts_extend_jumps_less_than_half_the_range_either_way),
        cmocka_unit_test(jitter_is_zero_for_constant_delay),
        cmocka_unit_test(jitter_is_zero_for_constant_delay_at_44100),
        cmocka_unit_test(jitter_is_zero_for_constant_delay_across_negative_arrival_times),
        cmocka_unit_test(jitter_is_zero_for_constant_delay_after_centuries_of_arrival_time),
        cmocka_unit_test(jitter_converges_for_alternating_delay),
        cmocka_unit_test(jitter_has_no_spike_when_timestamps_wrap),
        cmocka_unit_test(jitter_has_no_spike_when_transit_straddles_the_wrap),
        cmocka_unit_test(rtp_parse_survives_garbage),
        cmocka_unit_test(rtp_parse_survives_truncated_and_flipped_packets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
