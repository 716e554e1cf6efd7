/*
 * fuzz_rtp.c: libFuzzer target for the RTP and RTCP parsers.
 *
 * Every input goes to both parsers, as a datagram on a media port would.
 * Beyond "does not crash", it checks properties the parsers promise: every
 * pointer they hand out lies inside the input, an RTP header they accept
 * is rebuilt by aoip_rtp_write_header byte for byte and parses back to the
 * same fields, and every SR, RR, SDES and BYE they accept is rebuilt by the
 * builders and parses back to the same values. A broken promise aborts, so
 * libFuzzer and the replay driver both see it as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/rtcp.h"
#include "aoip/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for a rebuilt RTP packet: the largest header plus a jumbo datagram. */
#define REBUILD_CAP (AOIP_RTP_HEADER_SIZE + 4 * AOIP_RTP_MAX_CSRC + 4 + 4 * 65535 + 65536)

static uint8_t rebuilt[REBUILD_CAP];

static void check(int ok)
{
    if (!ok)
        abort();
}

static int inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
    const uint8_t *q = p;

    return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

static void fuzz_rtp(const uint8_t *data, size_t size)
{
    struct aoip_rtp_packet a, b;
    int hlen;

    if (aoip_rtp_parse(&a, data, size) != 0)
        return;
    check(a.csrc_count <= AOIP_RTP_MAX_CSRC);
    check(!a.has_extension || inside(a.ext, a.ext_len, data, size));
    check(a.payload + a.payload_len + a.padding_len == data + size);

    hlen = aoip_rtp_write_header(&a, rebuilt, sizeof rebuilt);
    check(hlen > 0 && (size_t)hlen == aoip_rtp_header_size(&a));
    check(a.payload == data + hlen);
    check(memcmp(rebuilt, data, (size_t)hlen) == 0);
    if (size > sizeof rebuilt)
        return;
    memcpy(rebuilt + hlen, data + hlen, size - (size_t)hlen);

    check(aoip_rtp_parse(&b, rebuilt, size) == 0);
    check(b.marker == a.marker && b.payload_type == a.payload_type && b.seq == a.seq);
    check(b.timestamp == a.timestamp && b.ssrc == a.ssrc && b.csrc_count == a.csrc_count);
    check(memcmp(b.csrc, a.csrc, a.csrc_count * sizeof a.csrc[0]) == 0);
    check(b.has_extension == a.has_extension && b.ext_profile == a.ext_profile);
    check(b.ext_len == a.ext_len && (b.ext_len == 0 || memcmp(b.ext, a.ext, a.ext_len) == 0));
    check(b.payload_len == a.payload_len && b.padding_len == a.padding_len);
}

static void check_reports(const struct aoip_rtcp_packet *a, const struct aoip_rtcp_packet *b)
{
    check(b->count == a->count && b->ssrc == a->ssrc);
    for (unsigned i = 0; i < a->count; i++) {
        const struct aoip_rtcp_report_block *x = &a->reports[i], *y = &b->reports[i];

        check(x->ssrc == y->ssrc && x->fraction_lost == y->fraction_lost);
        check(x->cumulative_lost == y->cumulative_lost && x->highest_seq == y->highest_seq);
        check(x->jitter == y->jitter && x->lsr == y->lsr && x->dlsr == y->dlsr);
    }
}

/* Build a packet like a from its parsed fields, parse it back into *b. */
static void rebuild_rtcp(const struct aoip_rtcp_packet *a, struct aoip_rtcp_packet *b)
{
    static struct aoip_rtcp_packet tail;
    uint8_t out[1024];
    struct aoip_rtcp_iter it;
    int rr, len;

    /* An empty RR first: a BYE may not open a compound. */
    rr = aoip_rtcp_build_rr(out, sizeof out, 0, NULL, 0);
    check(rr == 8);
    switch (a->type) {
    case AOIP_RTCP_SR:
        len =
            aoip_rtcp_build_sr(out + rr, sizeof out - 8, a->ssrc, &a->sender, a->reports, a->count);
        break;
    case AOIP_RTCP_RR:
        len = aoip_rtcp_build_rr(out + rr, sizeof out - 8, a->ssrc, a->reports, a->count);
        break;
    default:
        len = aoip_rtcp_build_bye(out + rr, sizeof out - 8, a->bye_ssrc, a->count, a->reason,
                                  a->reason_len);
        break;
    }
    check(len > 0 && len % 4 == 0);
    check(aoip_rtcp_validate(&it, out, (size_t)(rr + len)) == 0);
    check(aoip_rtcp_next(&it, b) == 1 && b->type == AOIP_RTCP_RR);
    check(aoip_rtcp_next(&it, b) == 1 && b->type == a->type);
    check(aoip_rtcp_next(&it, &tail) == 0);
}

static void check_sdes(const struct aoip_rtcp_packet *a)
{
    uint8_t out[512];
    struct aoip_rtcp_iter it;
    struct aoip_rtcp_packet b;

    for (unsigned c = 0; c < a->count; c++) {
        const struct aoip_rtcp_sdes_chunk *ch = &a->chunks[c];
        int rr = aoip_rtcp_build_rr(out, sizeof out, 0, NULL, 0);
        int len;

        if (ch->cname == NULL)
            continue;
        check(inside(ch->cname, ch->cname_len, a->body, a->body_len));
        len = aoip_rtcp_build_sdes_cname(out + rr, sizeof out - (size_t)rr, ch->ssrc, ch->cname,
                                         ch->cname_len);
        check(len > 0);
        check(aoip_rtcp_validate(&it, out, (size_t)(rr + len)) == 0);
        check(aoip_rtcp_next(&it, &b) == 1 && aoip_rtcp_next(&it, &b) == 1);
        check(b.type == AOIP_RTCP_SDES && b.count == 1 && b.chunks[0].ssrc == ch->ssrc);
        check(b.chunks[0].cname_len == ch->cname_len);
        check(memcmp(b.chunks[0].cname, ch->cname, ch->cname_len) == 0);
    }
}

static void fuzz_rtcp(const uint8_t *data, size_t size)
{
    static struct aoip_rtcp_packet a, b;
    struct aoip_rtcp_iter it;
    int ret;
    size_t packets = 0;

    if (aoip_rtcp_validate(&it, data, size) != 0)
        return;
    while ((ret = aoip_rtcp_next(&it, &a)) == 1) {
        packets++;
        check(packets <= size / 4);
        check(inside(a.body, a.body_len, data, size));
        check(a.count <= AOIP_RTCP_MAX_COUNT);
        switch (a.type) {
        case AOIP_RTCP_SR:
            rebuild_rtcp(&a, &b);
            check_reports(&a, &b);
            check(b.sender.ntp_time == a.sender.ntp_time);
            check(b.sender.rtp_time == a.sender.rtp_time);
            check(b.sender.packet_count == a.sender.packet_count);
            check(b.sender.octet_count == a.sender.octet_count);
            break;
        case AOIP_RTCP_RR:
            rebuild_rtcp(&a, &b);
            check_reports(&a, &b);
            break;
        case AOIP_RTCP_SDES:
            check_sdes(&a);
            break;
        case AOIP_RTCP_BYE:
            check(a.reason == NULL || inside(a.reason, a.reason_len, a.body, a.body_len));
            rebuild_rtcp(&a, &b);
            check(b.count == a.count);
            check(memcmp(b.bye_ssrc, a.bye_ssrc, a.count * sizeof a.bye_ssrc[0]) == 0);
            check(b.reason_len == a.reason_len);
            check(a.reason_len == 0 || memcmp(b.reason, a.reason, a.reason_len) == 0);
            break;
        default:
            break;
        }
    }
    check(ret == 0 || (ret <= AOIP_ERTCP_SHORT && ret >= AOIP_ERTCP_BYE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_rtp(data, size);
    fuzz_rtcp(data, size);
    return 0;
}
