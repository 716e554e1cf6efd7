/*
 * test_rtcp.c: RTCP compound validation, the packet walk and the builders.
 *
 * Built packets go through validate and next and must come back field for
 * field; crafted packets reach every AOIP_ERTCP_* code; seeded garbage and
 * mutations of valid compounds must give only documented results with every
 * pointer inside the datagram. Each datagram is parsed from a heap block of
 * exactly its length so the sanitizer build catches any over-read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/rtcp.h"
#include "netmodel.h"

static uint8_t *exact_copy(const uint8_t *bytes, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);

    assert_non_null(p);
    if (len > 0)
        memcpy(p, bytes, len);
    return p;
}

static int validate_exact(const uint8_t *bytes, size_t len)
{
    uint8_t *buf = exact_copy(bytes, len);
    struct aoip_rtcp_iter it;
    int ret = aoip_rtcp_validate(&it, buf, len);

    free(buf);
    return ret;
}

/* Validate, then walk to the end; returns the first error or the number of packets. */
static int walk_exact(const uint8_t *bytes, size_t len)
{
    uint8_t *buf = exact_copy(bytes, len);
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;
    int ret = aoip_rtcp_validate(&it, buf, len), n = 0;

    if (ret == 0) {
        while ((ret = aoip_rtcp_next(&it, &pkt)) == 1)
            n++;
    }
    free(buf);
    return ret < 0 ? ret : n;
}

static struct aoip_rtcp_report_block report(unsigned i)
{
    struct aoip_rtcp_report_block r = {
        .ssrc = 0xA0000000u + i,
        .fraction_lost = (uint8_t)(i * 13),
        .cumulative_lost = (int32_t)(i * 100003) - 1500000,
        .highest_seq = 0x00010000u + i,
        .jitter = 48 * i,
        .lsr = 0x12345678u ^ i,
        .dlsr = 0x00010000u * i,
    };
    return r;
}

static void assert_report_equal(const struct aoip_rtcp_report_block *a,
                                const struct aoip_rtcp_report_block *b)
{
    assert_int_equal(a->ssrc, b->ssrc);
    assert_int_equal(a->fraction_lost, b->fraction_lost);
    assert_int_equal(a->cumulative_lost, b->cumulative_lost);
    assert_int_equal(a->highest_seq, b->highest_seq);
    assert_int_equal(a->jitter, b->jitter);
    assert_int_equal(a->lsr, b->lsr);
    assert_int_equal(a->dlsr, b->dlsr);
}

static const struct aoip_rtcp_sender_info sender = {
    .ntp_time = 0xE8F1A2B3C4D5E6F7ull,
    .rtp_time = 0xFFFFFFF0u,
    .packet_count = 123456,
    .octet_count = 123456u * 1164u,
};

static void rtcp_sr_round_trips_for_every_report_count(void **state)
{
    (void)state;
    struct aoip_rtcp_report_block in[AOIP_RTCP_MAX_COUNT];
    uint8_t wire[1024];

    for (unsigned i = 0; i < AOIP_RTCP_MAX_COUNT; i++)
        in[i] = report(i);
    for (unsigned count = 0; count <= AOIP_RTCP_MAX_COUNT; count++) {
        int len = aoip_rtcp_build_sr(wire, sizeof wire, 0x11223344, &sender, in, count);
        assert_int_equal(len, 28 + 24 * (int)count);

        uint8_t *buf = exact_copy(wire, (size_t)len);
        struct aoip_rtcp_iter it;
        struct aoip_rtcp_packet pkt;
        assert_int_equal(aoip_rtcp_validate(&it, buf, (size_t)len), 0);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
        assert_int_equal(pkt.type, AOIP_RTCP_SR);
        assert_int_equal(pkt.count, count);
        assert_int_equal(pkt.ssrc, 0x11223344);
        assert_true(pkt.sender.ntp_time == sender.ntp_time);
        assert_int_equal(pkt.sender.rtp_time, sender.rtp_time);
        assert_int_equal(pkt.sender.packet_count, sender.packet_count);
        assert_int_equal(pkt.sender.octet_count, sender.octet_count);
        for (unsigned i = 0; i < count; i++)
            assert_report_equal(&pkt.reports[i], &in[i]);
        assert_ptr_equal(pkt.body, buf + 4);
        assert_int_equal(pkt.body_len, (size_t)len - 4);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
        free(buf);
    }
}

static void rtcp_rr_round_trips_for_every_report_count(void **state)
{
    (void)state;
    struct aoip_rtcp_report_block in[AOIP_RTCP_MAX_COUNT];
    uint8_t wire[1024];

    for (unsigned i = 0; i < AOIP_RTCP_MAX_COUNT; i++)
        in[i] = report(i + 7);
    for (unsigned count = 0; count <= AOIP_RTCP_MAX_COUNT; count++) {
        int len = aoip_rtcp_build_rr(wire, sizeof wire, 0x55667788, in, count);
        assert_int_equal(len, 8 + 24 * (int)count);

        uint8_t *buf = exact_copy(wire, (size_t)len);
        struct aoip_rtcp_iter it;
        struct aoip_rtcp_packet pkt;
        assert_int_equal(aoip_rtcp_validate(&it, buf, (size_t)len), 0);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
        assert_int_equal(pkt.type, AOIP_RTCP_RR);
        assert_int_equal(pkt.count, count);
        assert_int_equal(pkt.ssrc, 0x55667788);
        for (unsigned i = 0; i < count; i++)
            assert_report_equal(&pkt.reports[i], &in[i]);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
        free(buf);
    }
}

/* An RR with nothing in it, to put in front of packets that may not come first. */
static size_t put_empty_rr(uint8_t *wire)
{
    int len = aoip_rtcp_build_rr(wire, 8, 0x01, NULL, 0);
    assert_int_equal(len, 8);
    return 8;
}

static void rtcp_sdes_cname_round_trips_for_every_length(void **state)
{
    (void)state;
    char cname[255];
    uint8_t wire[512];

    for (size_t i = 0; i < sizeof cname; i++)
        cname[i] = (char)('a' + i % 26);
    for (size_t n = 0; n <= sizeof cname; n++) {
        size_t off = put_empty_rr(wire);
        int len = aoip_rtcp_build_sdes_cname(wire + off, sizeof wire - off, 0xC0FFEE, cname, n);
        /* header + SSRC + type + length + text + at least one null, to a word */
        assert_int_equal(len, (int)((4 + 4 + 2 + n + 1 + 3) / 4 * 4));
        size_t total = off + (size_t)len;

        uint8_t *buf = exact_copy(wire, total);
        struct aoip_rtcp_iter it;
        struct aoip_rtcp_packet pkt;
        assert_int_equal(aoip_rtcp_validate(&it, buf, total), 0);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
        assert_int_equal(pkt.type, AOIP_RTCP_SDES);
        assert_int_equal(pkt.count, 1);
        assert_int_equal(pkt.chunks[0].ssrc, 0xC0FFEE);
        assert_ptr_equal(pkt.chunks[0].cname, (const char *)buf + off + 10);
        assert_int_equal(pkt.chunks[0].cname_len, n);
        assert_memory_equal(pkt.chunks[0].cname, cname, n);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
        free(buf);
    }
}

static void rtcp_bye_round_trips_with_and_without_reason(void **state)
{
    (void)state;
    uint32_t ssrcs[AOIP_RTCP_MAX_COUNT];
    char reason[255];
    uint8_t wire[512];

    for (unsigned i = 0; i < AOIP_RTCP_MAX_COUNT; i++)
        ssrcs[i] = 0xB0000000u + i;
    for (size_t i = 0; i < sizeof reason; i++)
        reason[i] = (char)('A' + i % 26);
    for (unsigned count = 0; count <= AOIP_RTCP_MAX_COUNT; count += 5) {
        for (size_t n = 0; n <= sizeof reason; n++) {
            size_t off = put_empty_rr(wire);
            int len = aoip_rtcp_build_bye(wire + off, sizeof wire - off, ssrcs, count,
                                          n ? reason : NULL, n);
            assert_true(len > 0 && len % 4 == 0);
            assert_int_equal(len, (int)(4 + 4 * count + (n ? (1 + n + 3) / 4 * 4 : 0)));
            size_t total = off + (size_t)len;

            uint8_t *buf = exact_copy(wire, total);
            struct aoip_rtcp_iter it;
            struct aoip_rtcp_packet pkt;
            assert_int_equal(aoip_rtcp_validate(&it, buf, total), 0);
            assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
            assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
            assert_int_equal(pkt.type, AOIP_RTCP_BYE);
            assert_int_equal(pkt.count, count);
            assert_memory_equal(pkt.bye_ssrc, ssrcs, count * sizeof ssrcs[0]);
            if (n == 0) {
                assert_null(pkt.reason);
                assert_int_equal(pkt.reason_len, 0);
            } else {
                assert_ptr_equal(pkt.reason, (const char *)buf + off + 4 + 4 * count + 1);
                assert_int_equal(pkt.reason_len, n);
                assert_memory_equal(pkt.reason, reason, n);
            }
            assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
            free(buf);
        }
    }
}

static void rtcp_compound_sr_sdes_bye_walks_in_order(void **state)
{
    (void)state;
    struct aoip_rtcp_report_block rb[2] = { report(1), report(2) };
    const uint32_t gone = 0x11223344;
    uint8_t wire[256];
    size_t len = 0;
    int n;

    n = aoip_rtcp_build_sr(wire, sizeof wire, gone, &sender, rb, 2);
    assert_int_equal(n, 76);
    len += (size_t)n;
    n = aoip_rtcp_build_sdes_cname(wire + len, sizeof wire - len, gone, "aoip@stage-left", 15);
    assert_int_equal(n, 28);
    len += (size_t)n;
    n = aoip_rtcp_build_bye(wire + len, sizeof wire - len, &gone, 1, "shutdown", 8);
    assert_int_equal(n, 20);
    len += (size_t)n;

    uint8_t *buf = exact_copy(wire, len);
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;
    assert_int_equal(aoip_rtcp_validate(&it, buf, len), 0);

    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(pkt.type, AOIP_RTCP_SR);
    assert_int_equal(pkt.count, 2);
    assert_report_equal(&pkt.reports[1], &rb[1]);

    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(pkt.type, AOIP_RTCP_SDES);
    assert_int_equal(pkt.chunks[0].ssrc, gone);
    assert_int_equal(pkt.chunks[0].cname_len, 15);
    assert_memory_equal(pkt.chunks[0].cname, "aoip@stage-left", 15);

    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(pkt.type, AOIP_RTCP_BYE);
    assert_int_equal(pkt.count, 1);
    assert_int_equal(pkt.bye_ssrc[0], gone);
    assert_int_equal(pkt.reason_len, 8);
    assert_memory_equal(pkt.reason, "shutdown", 8);

    assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
    free(buf);
}

static void rtcp_cumulative_lost_is_sign_extended_from_24_bits(void **state)
{
    (void)state;
    /* RR with one block; cumulative lost in bytes 13..15. */
    uint8_t bytes[32] = { 0x81, 201, 0x00, 0x07, 0, 0, 0, 1, 0, 0, 0, 2, 0x40 };
    static const struct {
        uint8_t wire[3];
        int32_t value;
    } cases[] = {
        { { 0x00, 0x00, 0x00 }, 0 },        { { 0x00, 0x00, 0x01 }, 1 },
        { { 0x7F, 0xFF, 0xFF }, 8388607 },  { { 0xFF, 0xFF, 0xFF }, -1 },
        { { 0x80, 0x00, 0x00 }, -8388608 }, { { 0xFF, 0xFF, 0x9C }, -100 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bytes + 13, cases[i].wire, 3);
        struct aoip_rtcp_iter it;
        struct aoip_rtcp_packet pkt;
        assert_int_equal(aoip_rtcp_validate(&it, bytes, sizeof bytes), 0);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
        assert_int_equal(pkt.reports[0].fraction_lost, 0x40);
        assert_int_equal(pkt.reports[0].cumulative_lost, cases[i].value);
    }
}

static void rtcp_cumulative_lost_is_clamped_to_24_bits_when_built(void **state)
{
    (void)state;
    static const struct {
        int32_t value;
        uint8_t wire[3];
        int32_t parsed;
    } cases[] = {
        { -1, { 0xFF, 0xFF, 0xFF }, -1 },
        { 8388607, { 0x7F, 0xFF, 0xFF }, 8388607 },
        { 8388608, { 0x7F, 0xFF, 0xFF }, 8388607 },
        { INT32_MAX, { 0x7F, 0xFF, 0xFF }, 8388607 },
        { -8388608, { 0x80, 0x00, 0x00 }, -8388608 },
        { -8388609, { 0x80, 0x00, 0x00 }, -8388608 },
        { INT32_MIN, { 0x80, 0x00, 0x00 }, -8388608 },
    };
    uint8_t wire[32];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct aoip_rtcp_report_block rb = report(3);
        rb.fraction_lost = 0xAB;
        rb.cumulative_lost = cases[i].value;
        assert_int_equal(aoip_rtcp_build_rr(wire, sizeof wire, 9, &rb, 1), 32);
        assert_int_equal(wire[12], 0xAB);
        assert_memory_equal(wire + 13, cases[i].wire, 3);

        struct aoip_rtcp_iter it;
        struct aoip_rtcp_packet pkt;
        assert_int_equal(aoip_rtcp_validate(&it, wire, 32), 0);
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
        assert_int_equal(pkt.reports[0].cumulative_lost, cases[i].parsed);
        assert_int_equal(pkt.reports[0].fraction_lost, 0xAB);
    }
}

static void rtcp_sdes_parses_every_chunk_and_skips_other_items(void **state)
{
    (void)state;
    const uint8_t bytes[] = {
        0x80, 201,  0x00, 0x01, 0x00, 0x00, 0x00, 0x01, /* RR, no reports */
        0x83, 202,  0x00, 0x0A,                         /* SDES, 3 chunks, 44 bytes */
        0x00, 0x00, 0x00, 0x0A,                         /* chunk 1: NAME, CNAME, EMAIL */
        2,    3,    'B',  'o',  'b',                    /* NAME "Bob" */
        1,    4,    'c',  '@',  'h',  '1',              /* CNAME "c@h1" */
        3,    2,    'e',  'm',                          /* EMAIL "em" */
        0,                                              /* end: 19 + 1 = 20 bytes */
        0x00, 0x00, 0x00, 0x0B,                         /* chunk 2: TOOL only, no CNAME */
        6,    2,    'g',  's',  0,    0,    0,    0,    /* end + 3 nulls: 12 bytes */
        0x00, 0x00, 0x00, 0x0C,                         /* chunk 3: no items at all */
        0,    0,    0,    0,
    };
    uint8_t *buf = exact_copy(bytes, sizeof bytes);
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;

    assert_int_equal(aoip_rtcp_validate(&it, buf, sizeof bytes), 0);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(pkt.type, AOIP_RTCP_SDES);
    assert_int_equal(pkt.count, 3);
    assert_int_equal(pkt.chunks[0].ssrc, 10);
    assert_ptr_equal(pkt.chunks[0].cname, (const char *)buf + 8 + 4 + 4 + 5 + 2);
    assert_int_equal(pkt.chunks[0].cname_len, 4);
    assert_memory_equal(pkt.chunks[0].cname, "c@h1", 4);
    assert_int_equal(pkt.chunks[1].ssrc, 11);
    assert_null(pkt.chunks[1].cname);
    assert_int_equal(pkt.chunks[2].ssrc, 12);
    assert_null(pkt.chunks[2].cname);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
    free(buf);
}

static void rtcp_hands_out_app_feedback_and_xr_with_raw_body(void **state)
{
    (void)state;
    const uint8_t others[] = {
        0x85, 204, 0x00, 0x03, 0, 0, 0, 2, 'A', 'O', 'I', 'P', 0xDE, 0xAD, 0xBE, 0xEF, /* APP */
        0x81, 205, 0x00, 0x02, 0, 0, 0, 3, 0,   0,   0,   4, /* RTPFB generic NACK */
        0x81, 206, 0x00, 0x02, 0, 0, 0, 3, 0,   0,   0,   4, /* PSFB PLI */
        0x80, 207, 0x00, 0x01, 0, 0, 0, 5,                   /* XR without blocks */
    };
    static const uint8_t types[] = { 204, 205, 206, 207 };
    static const size_t offsets[] = { 28, 44, 56, 68 };
    static const size_t body_lens[] = { 12, 8, 8, 4 };
    uint8_t wire[128];
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;

    assert_int_equal(aoip_rtcp_build_sr(wire, sizeof wire, 1, &sender, NULL, 0), 28);
    memcpy(wire + 28, others, sizeof others);
    size_t len = 28 + sizeof others;
    uint8_t *buf = exact_copy(wire, len);

    assert_int_equal(aoip_rtcp_validate(&it, buf, len), 0);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    for (size_t i = 0; i < sizeof types; i++) {
        assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
        assert_int_equal(pkt.type, types[i]);
        assert_ptr_equal(pkt.body, buf + offsets[i] + 4);
        assert_int_equal(pkt.body_len, body_lens[i]);
        if (types[i] == AOIP_RTCP_APP) {
            assert_int_equal(pkt.count, 5);
            assert_memory_equal(pkt.body + 4, "AOIP", 4);
        }
    }
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
    free(buf);
}

static void rtcp_removes_padding_of_last_packet_from_body(void **state)
{
    (void)state;
    const uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1,                         /* RR */
        0xA1, 203, 0x00, 0x03, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 8, /* BYE, padded by 8 */
    };
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;

    assert_int_equal(aoip_rtcp_validate(&it, bytes, sizeof bytes), 0);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(pkt.type, AOIP_RTCP_BYE);
    assert_int_equal(pkt.body_len, 4);
    assert_int_equal(pkt.count, 1);
    assert_int_equal(pkt.bye_ssrc[0], 7);
    assert_null(pkt.reason);
}

static void rtcp_refuses_datagram_shorter_than_a_header(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x80, 201, 0x00, 0x00 };

    for (size_t len = 0; len < 4; len++)
        assert_int_equal(validate_exact(bytes, len), AOIP_ERTCP_SHORT);
    /* An RR of the header alone has no room for its SSRC: valid compound, bad body. */
    assert_int_equal(validate_exact(bytes, 4), 0);
    assert_int_equal(walk_exact(bytes, 4), AOIP_ERTCP_COUNT);
}

static void rtcp_refuses_datagram_length_not_multiple_of_four(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0 };

    assert_int_equal(validate_exact(bytes, 9), AOIP_ERTCP_LENGTH);
    assert_int_equal(validate_exact(bytes, 7), AOIP_ERTCP_LENGTH);
    assert_int_equal(validate_exact(bytes, 5), AOIP_ERTCP_LENGTH);
    assert_int_equal(validate_exact(bytes, 8), 0);
}

static void rtcp_refuses_wrong_version_on_any_packet(void **state)
{
    (void)state;
    uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0x80, 203, 0x00, 0x01, 0, 0, 0, 1,
    };

    assert_int_equal(validate_exact(bytes, sizeof bytes), 0);
    for (unsigned v = 0; v < 4; v++) {
        if (v == 2)
            continue;
        bytes[0] = (uint8_t)(v << 6);
        assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_VERSION);
        bytes[0] = 0x80;
        bytes[8] = (uint8_t)((v << 6) | 1);
        assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_VERSION);
        bytes[8] = 0x81;
    }
}

static void rtcp_refuses_compound_not_starting_with_sr_or_rr(void **state)
{
    (void)state;
    uint8_t bytes[] = { 0x81, 202, 0x00, 0x01, 0, 0, 0, 1 };
    static const uint8_t types[] = { 202, 203, 204, 205, 206, 207, 0, 96, 199 };

    for (size_t i = 0; i < sizeof types; i++) {
        bytes[1] = types[i];
        assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_FIRST);
    }
    /* A stray RTP packet (marker set, payload type 96) is not RTCP either. */
    const uint8_t rtp[] = { 0x80, 0x80 | 96, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(validate_exact(rtp, sizeof rtp), AOIP_ERTCP_FIRST);
}

static void rtcp_refuses_length_that_runs_past_the_datagram(void **state)
{
    (void)state;
    uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0x80, 203, 0x00, 0x01, 0, 0, 0, 1,
    };

    bytes[3] = 0x04; /* the RR claims 5 words, the datagram has 4 */
    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_LENGTH);
    bytes[3] = 0x01;
    bytes[11] = 0x02; /* the BYE claims one word more than is there */
    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_LENGTH);
    bytes[10] = 0xFF;
    bytes[11] = 0xFF;
    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_LENGTH);
}

static void rtcp_refuses_bytes_left_over_after_the_last_packet(void **state)
{
    (void)state;
    /* The lengths sum to 8 but the datagram is 12: the rest is no packet. */
    const uint8_t bytes[] = { 0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 0 };

    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_VERSION);
}

static void rtcp_refuses_padding_on_a_packet_that_is_not_last(void **state)
{
    (void)state;
    const uint8_t bytes[] = {
        0xA0, 201, 0x00, 0x01, 0, 0, 0, 4, 0x80, 203, 0x00, 0x01, 0, 0, 0, 1,
    };

    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_PADDING);
}

static void rtcp_refuses_bad_padding_count(void **state)
{
    (void)state;
    uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0xA0, 203, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 8,
    };

    assert_int_equal(validate_exact(bytes, sizeof bytes), 0);
    bytes[19] = 0; /* a count of 0 */
    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_PADDING);
    bytes[19] = 9; /* reaches into the header */
    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_PADDING);
    bytes[19] = 255;
    assert_int_equal(validate_exact(bytes, sizeof bytes), AOIP_ERTCP_PADDING);
}

static void rtcp_refuses_report_count_that_does_not_fit(void **state)
{
    (void)state;
    struct aoip_rtcp_report_block rb[2] = { report(1), report(2) };
    uint8_t wire[128];

    /* An SR with two blocks whose count says three. */
    int len = aoip_rtcp_build_sr(wire, sizeof wire, 1, &sender, rb, 2);
    wire[0] = (uint8_t)((wire[0] & ~0x1F) | 3);
    assert_int_equal(walk_exact(wire, (size_t)len), AOIP_ERTCP_COUNT);

    /* An SR without room for its sender info. */
    const uint8_t short_sr[] = { 0x80, 200, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2 };
    assert_int_equal(walk_exact(short_sr, sizeof short_sr), AOIP_ERTCP_COUNT);

    /* An RR with one block whose count says 31. */
    len = aoip_rtcp_build_rr(wire, sizeof wire, 1, rb, 1);
    wire[0] = (uint8_t)(wire[0] | 0x1F);
    assert_int_equal(walk_exact(wire, (size_t)len), AOIP_ERTCP_COUNT);
}

static void rtcp_refuses_sdes_chunk_count_that_does_not_fit(void **state)
{
    (void)state;
    uint8_t wire[64];
    size_t off = put_empty_rr(wire);
    int len = aoip_rtcp_build_sdes_cname(wire + off, sizeof wire - off, 1, "abc", 3);

    wire[off] = (uint8_t)((wire[off] & ~0x1F) | 2); /* two chunks, one there */
    assert_int_equal(walk_exact(wire, off + (size_t)len), AOIP_ERTCP_COUNT);
    wire[off] = (uint8_t)(wire[off] & ~0x1F); /* no chunks, one there */
    assert_int_equal(walk_exact(wire, off + (size_t)len), AOIP_ERTCP_COUNT);
}

static void rtcp_refuses_bye_count_that_does_not_fit(void **state)
{
    (void)state;
    const uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0x83, 203, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2,
    };

    assert_int_equal(walk_exact(bytes, sizeof bytes), AOIP_ERTCP_COUNT);
}

static void rtcp_refuses_sdes_item_length_that_lies(void **state)
{
    (void)state;
    uint8_t wire[64];
    size_t off = put_empty_rr(wire);
    int len = aoip_rtcp_build_sdes_cname(wire + off, sizeof wire - off, 1, "abcdef", 6);
    size_t total = off + (size_t)len;

    assert_int_equal(walk_exact(wire, total), 2);
    wire[off + 9] = 10; /* CNAME swallows the null item and padding: no terminator left */
    assert_int_equal(walk_exact(wire, total), AOIP_ERTCP_SDES);
    wire[off + 9] = 200; /* far past the packet */
    assert_int_equal(walk_exact(wire, total), AOIP_ERTCP_SDES);
}

static void rtcp_refuses_sdes_chunk_without_null_item(void **state)
{
    (void)state;
    /* A CNAME that fills the chunk to the end of the packet, no null item after it. */
    const uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0x81, 202, 0x00, 0x02, 0, 0, 0, 9, 1, 2, 'a', 'b',
    };

    assert_int_equal(walk_exact(bytes, sizeof bytes), AOIP_ERTCP_SDES);
}

static void rtcp_refuses_sdes_chunk_padding_that_is_not_null(void **state)
{
    (void)state;
    /* An empty CNAME, the null item, one octet of padding to the boundary. */
    uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1, 0x81, 202, 0x00, 0x02, 0, 0, 0, 9, 1, 0, 0, 0,
    };

    assert_int_equal(walk_exact(bytes, sizeof bytes), 2);
    bytes[19] = 0x55;
    assert_int_equal(walk_exact(bytes, sizeof bytes), AOIP_ERTCP_SDES);
}

static void rtcp_refuses_sdes_chunk_padding_past_packet(void **state)
{
    (void)state;
    /*
     * RTCP padding of 2 leaves a body of 10 bytes: SSRC, CNAME "abc", the
     * null item at byte 9, whose padding to the boundary (byte 12) would
     * run into the RTCP padding.
     */
    const uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0,   1,   0xA1, 202, 0x00, 0x03,
        0,    0,   0,    9,    1, 3, 'a', 'b', 'c',  0,   0,    2,
    };

    assert_int_equal(validate_exact(bytes, sizeof bytes), 0);
    assert_int_equal(walk_exact(bytes, sizeof bytes), AOIP_ERTCP_SDES);
}

static void rtcp_refuses_bye_reason_length_that_lies(void **state)
{
    (void)state;
    uint8_t wire[64];
    size_t off = put_empty_rr(wire);
    const uint32_t ssrc = 5;
    int len = aoip_rtcp_build_bye(wire + off, sizeof wire - off, &ssrc, 1, "bye", 3);
    size_t total = off + (size_t)len;

    assert_int_equal(len, 12);
    assert_int_equal(walk_exact(wire, total), 2);
    wire[off + 8] = 4; /* one byte more than the packet has */
    assert_int_equal(walk_exact(wire, total), AOIP_ERTCP_BYE);
    wire[off + 8] = 255;
    assert_int_equal(walk_exact(wire, total), AOIP_ERTCP_BYE);
}

static void rtcp_refuses_bye_with_bytes_after_reason_padding(void **state)
{
    (void)state;
    /* Reason of 3 bytes fills its word; a further word of zeros follows. */
    uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0,   0,   1,   0x81, 203, 0x00, 0x03,
        0,    0,   0,    5,    3, 'b', 'y', 'e', 0,    0,   0,    0,
    };

    assert_int_equal(walk_exact(bytes, sizeof bytes), AOIP_ERTCP_BYE);
    /* Reason of 1 byte, then padding that is not null. */
    bytes[11] = 0x02;
    bytes[16] = 1;
    bytes[18] = 'x';
    assert_int_equal(walk_exact(bytes, 20), AOIP_ERTCP_BYE);
    bytes[18] = 0;
    bytes[19] = 0;
    assert_int_equal(walk_exact(bytes, 20), 2);
}

static void rtcp_walk_stops_after_an_error(void **state)
{
    (void)state;
    const uint8_t bytes[] = {
        0x80, 201, 0x00, 0x01, 0, 0, 0, 1, /* RR */
        0x83, 203, 0x00, 0x01, 0, 0, 0, 1, /* BYE with count 3, one SSRC */
        0x80, 203, 0x00, 0x01, 0, 0, 0, 2, /* a valid BYE */
    };
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;

    assert_int_equal(aoip_rtcp_validate(&it, bytes, sizeof bytes), 0);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 1);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), AOIP_ERTCP_COUNT);
    assert_int_equal(aoip_rtcp_next(&it, &pkt), 0);
}

static void rtcp_builders_refuse_small_buffer(void **state)
{
    (void)state;
    struct aoip_rtcp_report_block rb[3] = { report(1), report(2), report(3) };
    const uint32_t ssrcs[2] = { 1, 2 };
    uint8_t buf[256];

    for (size_t cap = 0; cap < 100; cap++) {
        memset(buf, 0xEE, sizeof buf);
        assert_int_equal(aoip_rtcp_build_sr(buf, cap, 1, &sender, rb, 3), -ENOSPC);
        if (cap < 56)
            assert_int_equal(aoip_rtcp_build_rr(buf, cap, 1, rb, 2), -ENOSPC);
        if (cap < 24)
            assert_int_equal(aoip_rtcp_build_sdes_cname(buf, cap, 1, "0123456789", 10), -ENOSPC);
        if (cap < 16)
            assert_int_equal(aoip_rtcp_build_bye(buf, cap, ssrcs, 2, "abc", 3), -ENOSPC);
        for (size_t i = 0; i < sizeof buf; i++)
            assert_int_equal(buf[i], 0xEE);
    }
    assert_int_equal(aoip_rtcp_build_sr(buf, 100, 1, &sender, rb, 3), 100);
    assert_int_equal(aoip_rtcp_build_rr(buf, 56, 1, rb, 2), 56);
    assert_int_equal(aoip_rtcp_build_sdes_cname(buf, 24, 1, "0123456789", 10), 24);
    assert_int_equal(aoip_rtcp_build_bye(buf, 16, ssrcs, 2, "abc", 3), 16);
}

static void rtcp_builders_refuse_counts_and_lengths_that_do_not_fit(void **state)
{
    (void)state;
    static struct aoip_rtcp_report_block rb[32];
    static uint32_t ssrcs[32];
    static char text[256];
    static uint8_t buf[2048];

    assert_int_equal(aoip_rtcp_build_sr(buf, sizeof buf, 1, &sender, rb, 32), -EINVAL);
    assert_int_equal(aoip_rtcp_build_sr(buf, sizeof buf, 1, NULL, rb, 1), -EINVAL);
    assert_int_equal(aoip_rtcp_build_sr(buf, sizeof buf, 1, &sender, NULL, 1), -EINVAL);
    assert_int_equal(aoip_rtcp_build_rr(buf, sizeof buf, 1, rb, 32), -EINVAL);
    assert_int_equal(aoip_rtcp_build_rr(buf, sizeof buf, 1, NULL, 1), -EINVAL);
    assert_int_equal(aoip_rtcp_build_sdes_cname(buf, sizeof buf, 1, text, 256), -EINVAL);
    assert_int_equal(aoip_rtcp_build_sdes_cname(buf, sizeof buf, 1, NULL, 1), -EINVAL);
    assert_int_equal(aoip_rtcp_build_bye(buf, sizeof buf, ssrcs, 32, NULL, 0), -EINVAL);
    assert_int_equal(aoip_rtcp_build_bye(buf, sizeof buf, NULL, 1, NULL, 0), -EINVAL);
    assert_int_equal(aoip_rtcp_build_bye(buf, sizeof buf, ssrcs, 1, text, 256), -EINVAL);
    assert_int_equal(aoip_rtcp_build_bye(buf, sizeof buf, ssrcs, 1, NULL, 1), -EINVAL);
    /* The limits themselves are fine. */
    assert_int_equal(aoip_rtcp_build_sr(buf, sizeof buf, 1, &sender, rb, 31), 28 + 24 * 31);
    assert_int_equal(aoip_rtcp_build_sdes_cname(buf, sizeof buf, 1, text, 255), 268);
    assert_int_equal(aoip_rtcp_build_bye(buf, sizeof buf, ssrcs, 31, text, 255), 4 + 124 + 256);
}

static bool rtcp_result_is_documented(int ret)
{
    return ret == 0 || ret == 1 || (ret <= AOIP_ERTCP_SHORT && ret >= AOIP_ERTCP_BYE);
}

static bool inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
    const uint8_t *q = p;
    return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

/* Validate and walk a heap copy of exactly len bytes, checking every result and pointer. */
static int walk_and_check_bounds(const uint8_t *bytes, size_t len)
{
    uint8_t *buf = exact_copy(bytes, len);
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet pkt;
    int ret = aoip_rtcp_validate(&it, buf, len), packets = 0;

    assert_true(rtcp_result_is_documented(ret) && ret != 1);
    while (ret >= 0 && (ret = aoip_rtcp_next(&it, &pkt)) == 1) {
        packets++;
        assert_true(packets <= (int)(len / 4));
        assert_true(inside(pkt.body, pkt.body_len, buf, len));
        if (pkt.type == AOIP_RTCP_SDES) {
            for (unsigned c = 0; c < pkt.count; c++) {
                if (pkt.chunks[c].cname != NULL)
                    assert_true(inside(pkt.chunks[c].cname, pkt.chunks[c].cname_len, pkt.body,
                                       pkt.body_len));
            }
        }
        if (pkt.type == AOIP_RTCP_BYE && pkt.reason != NULL)
            assert_true(inside(pkt.reason, pkt.reason_len, pkt.body, pkt.body_len));
    }
    assert_true(rtcp_result_is_documented(ret));
    free(buf);
    return ret;
}

static void rtcp_survives_garbage(void **state)
{
    (void)state;
    struct netmodel_rng rng;
    uint8_t bytes[256];
    unsigned walked = 0;

    netmodel_rng_seed(&rng, 0x5EED0101);
    for (int iter = 0; iter < 40000; iter++) {
        size_t len = netmodel_rng_next(&rng) % sizeof bytes;
        for (size_t i = 0; i < len; i++)
            bytes[i] = (uint8_t)netmodel_rng_next(&rng);
        /* Make most of them look like RTCP up front so the walk gets exercised. */
        if (len >= 4 && (iter & 1)) {
            len &= ~(size_t)3;
            bytes[0] = (uint8_t)(0x80 | (bytes[0] & 0x07));
            bytes[1] = (uint8_t)(200 + (bytes[1] & 1));
            bytes[2] = 0;
            bytes[3] = (uint8_t)((iter & 2) ? len / 4 - 1 : bytes[3] % (len / 4));
        }
        if (walk_and_check_bounds(bytes, len) == 0)
            walked++;
    }
    assert_true(walked > 1000);
}

static size_t build_valid_compound(uint8_t *wire, size_t cap)
{
    struct aoip_rtcp_report_block rb[2] = { report(4), report(5) };
    const uint32_t ssrcs[2] = { 0x10, 0x20 };
    size_t len = 0;
    int n;

    n = aoip_rtcp_build_sr(wire, cap, 0x10, &sender, rb, 2);
    assert_true(n > 0);
    len += (size_t)n;
    n = aoip_rtcp_build_sdes_cname(wire + len, cap - len, 0x10, "node-a@10.0.0.1", 15);
    assert_true(n > 0);
    len += (size_t)n;
    n = aoip_rtcp_build_bye(wire + len, cap - len, ssrcs, 2, "gone", 4);
    assert_true(n > 0);
    len += (size_t)n;
    return len;
}

static void rtcp_survives_truncated_and_flipped_compounds(void **state)
{
    (void)state;
    struct netmodel_rng rng;
    uint8_t valid[256], bytes[256];
    size_t vlen = build_valid_compound(valid, sizeof valid);
    unsigned outcome[2] = { 0, 0 };

    assert_int_equal(walk_and_check_bounds(valid, vlen), 0);
    netmodel_rng_seed(&rng, 0x5EED0102);
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
        outcome[walk_and_check_bounds(bytes, len) == 0]++;
    }
    assert_true(outcome[0] > 1000);
    assert_true(outcome[1] > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rtcp_sr_round_trips_for_every_report_count),
        cmocka_unit_test(rtcp_rr_round_trips_for_every_report_count),
        cmocka_unit_test(rtcp_sdes_cname_round_trips_for_every_length),
        cmocka_unit_test(rtcp_bye_round_trips_with_and_without_reason),
        cmocka_unit_test(rtcp_compound_sr_sdes_bye_walks_in_order),
        cmocka_unit_test(rtcp_cumulative_lost_is_sign_extended_from_24_bits),
        cmocka_unit_test(rtcp_cumulative_lost_is_clamped_to_24_bits_when_built),
        cmocka_unit_test(rtcp_sdes_parses_every_chunk_and_skips_other_items),
        cmocka_unit_test(rtcp_hands_out_app_feedback_and_xr_with_raw_body),
        cmocka_unit_test(rtcp_removes_padding_of_last_packet_from_body),
        cmocka_unit_test(rtcp_refuses_datagram_shorter_than_a_header),
        cmocka_unit_test(rtcp_refuses_datagram_length_not_multiple_of_four),
        cmocka_unit_test(rtcp_refuses_wrong_version_on_any_packet),
        cmocka_unit_test(rtcp_refuses_compound_not_starting_with_sr_or_rr),
        cmocka_unit_test(rtcp_refuses_length_that_runs_past_the_datagram),
        cmocka_unit_test(rtcp_refuses_bytes_left_over_after_the_last_packet),
        cmocka_unit_test(rtcp_refuses_padding_on_a_packet_that_is_not_last),
        cmocka_unit_test(rtcp_refuses_bad_padding_count),
        cmocka_unit_test(rtcp_refuses_report_count_that_does_not_fit),
        cmocka_unit_test(rtcp_refuses_sdes_chunk_count_that_does_not_fit),
        cmocka_unit_test(rtcp_refuses_bye_count_that_does_not_fit),
        cmocka_unit_test(rtcp_refuses_sdes_item_length_that_lies),
        cmocka_unit_test(rtcp_refuses_sdes_chunk_without_null_item),
        cmocka_unit_test(rtcp_refuses_sdes_chunk_padding_that_is_not_null),
        cmocka_unit_test(rtcp_refuses_sdes_chunk_padding_past_packet),
        cmocka_unit_test(rtcp_refuses_bye_reason_length_that_lies),
        cmocka_unit_test(rtcp_refuses_bye_with_bytes_after_reason_padding),
        cmocka_unit_test(rtcp_walk_stops_after_an_error),
        cmocka_unit_test(rtcp_builders_refuse_small_buffer),
        cmocka_unit_test(rtcp_builders_refuse_counts_and_lengths_that_do_not_fit),
        cmocka_unit_test(rtcp_survives_garbage),
        cmocka_unit_test(rtcp_survives_truncated_and_flipped_compounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
