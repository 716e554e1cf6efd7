/*
 * rtcp.c: RTCP compound packets (RFC 3550 section 6): validation of the
 * compound as a whole, a walk over its packets, and builders for SR, RR,
 * SDES CNAME and BYE.
 *
 * Validation is split from parsing as in appendix A.2: the cheap structural
 * checks (version, SR or RR first, padding only at the end, lengths that add
 * up exactly to the datagram) decide whether the datagram is RTCP at all,
 * before any body is looked at. The walk then checks each body against its
 * own header (counts, SDES items, BYE reason). It re-checks the structural
 * bounds it relies on, so even an iterator that was not validated cannot
 * make it read outside the buffer.
 *
 * Nothing allocates or copies: CNAMEs, reasons and bodies point into the
 * datagram. Byte order is handled with explicit shifts because nothing
 * inside an SDES or BYE body is aligned.
 */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "aoip/rtcp.h"

#define RTCP_VERSION     2
#define RTCP_HEADER_SIZE 4
#define RTCP_SENDER_SIZE 24 /* SSRC of sender + NTP (8) + RTP time + packets + octets */
#define RTCP_REPORT_SIZE 24 /* section 6.4.1: six 32-bit words per report block */
#define RTCP_ITEM_MAX    255
#define RTCP_LOST_MAX    0x7FFFFF /* cumulative lost is a 24-bit two's complement field */
#define RTCP_LOST_MIN    (-0x800000)
#define RTCP_SDES_END    0 /* the null item that ends an SDES chunk */

static size_t align4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/*
 * Check the common header of the packet at off: version, length inside the
 * datagram, padding sane. Returns 0 and the packet's total length and
 * padding, or an AOIP_ERTCP_* code.
 */
static int check_header(const uint8_t *buf, size_t len, size_t off, size_t *plen, size_t *pad)
{
    const uint8_t *p = buf + off;

    if (len - off < RTCP_HEADER_SIZE)
        return AOIP_ERTCP_SHORT;
    if ((p[0] >> 6) != RTCP_VERSION)
        return AOIP_ERTCP_VERSION;
    *plen = 4 * ((size_t)aoip__get_be16(p + 2) + 1);
    if (*plen > len - off)
        return AOIP_ERTCP_LENGTH;
    *pad = 0;
    if (p[0] & 0x20) {
        /* Padding belongs only to the last packet of a compound (A.2). */
        if (off + *plen != len)
            return AOIP_ERTCP_PADDING;
        *pad = p[*plen - 1];
        if (*pad == 0 || *pad > *plen - RTCP_HEADER_SIZE)
            return AOIP_ERTCP_PADDING;
    }
    return 0;
}

AOIP_RT int aoip_rtcp_validate(struct aoip_rtcp_iter *it, const uint8_t *buf, size_t len)
{
    size_t off, plen, pad;
    int err;

    if (len < RTCP_HEADER_SIZE)
        return AOIP_ERTCP_SHORT;
    /* Every packet is a whole number of words, so their sum must be too. */
    if (len % 4 != 0)
        return AOIP_ERTCP_LENGTH;
    /*
     * The first header is checked before any length is trusted: a datagram
     * that is not RTCP at all (a stray RTP packet) is named as such.
     */
    if ((buf[0] >> 6) != RTCP_VERSION)
        return AOIP_ERTCP_VERSION;
    if (buf[1] != AOIP_RTCP_SR && buf[1] != AOIP_RTCP_RR)
        return AOIP_ERTCP_FIRST;
    for (off = 0; off < len; off += plen) {
        err = check_header(buf, len, off, &plen, &pad);
        if (err < 0)
            return err;
    }
    it->buf = buf;
    it->len = len;
    it->off = 0;
    return 0;
}

static int32_t lost_from_wire(const uint8_t *p)
{
    int32_t v = (int32_t)(((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2]);

    return v > RTCP_LOST_MAX ? v - 0x1000000 : v;
}

static void parse_reports(struct aoip_rtcp_report_block *r, const uint8_t *p, unsigned count)
{
    for (unsigned i = 0; i < count; i++, p += RTCP_REPORT_SIZE) {
        r[i].ssrc = aoip__get_be32(p);
        r[i].fraction_lost = p[4];
        r[i].cumulative_lost = lost_from_wire(p + 5);
        r[i].highest_seq = aoip__get_be32(p + 8);
        r[i].jitter = aoip__get_be32(p + 12);
        r[i].lsr = aoip__get_be32(p + 16);
        r[i].dlsr = aoip__get_be32(p + 20);
    }
}

/*
 * SR and RR: the report blocks must fit; bytes after them are a profile
 * extension (section 6.4.1) and are left in body for whoever knows it.
 */
static int parse_sr_rr(struct aoip_rtcp_packet *pkt)
{
    const uint8_t *p = pkt->body;
    size_t fixed = pkt->type == AOIP_RTCP_SR ? RTCP_SENDER_SIZE : 4;

    if (pkt->body_len < fixed + (size_t)pkt->count * RTCP_REPORT_SIZE)
        return AOIP_ERTCP_COUNT;
    pkt->ssrc = aoip__get_be32(p);
    if (pkt->type == AOIP_RTCP_SR) {
        pkt->sender.ntp_time = ((uint64_t)aoip__get_be32(p + 4) << 32) | aoip__get_be32(p + 8);
        pkt->sender.rtp_time = aoip__get_be32(p + 12);
        pkt->sender.packet_count = aoip__get_be32(p + 16);
        pkt->sender.octet_count = aoip__get_be32(p + 20);
    }
    parse_reports(pkt->reports, p + fixed, pkt->count);
    return 0;
}

/*
 * Section 6.5: each chunk is an SSRC and a list of items, ended by a null
 * item and padded with null octets to the next 32-bit boundary. The body
 * starts on a boundary, so offsets inside it can be aligned directly. A
 * chunk that does not start inside the body means the count lies; anything
 * that goes wrong inside a chunk is an SDES error.
 */
static int parse_sdes(struct aoip_rtcp_packet *pkt)
{
    const uint8_t *p = pkt->body;
    size_t end = pkt->body_len, pos = 0, stop;

    for (unsigned c = 0; c < pkt->count; c++) {
        struct aoip_rtcp_sdes_chunk *chunk = &pkt->chunks[c];

        if (end - pos < 4)
            return AOIP_ERTCP_COUNT;
        chunk->ssrc = aoip__get_be32(p + pos);
        chunk->cname = NULL;
        chunk->cname_len = 0;
        pos += 4;
        for (;;) {
            if (pos >= end)
                return AOIP_ERTCP_SDES;
            if (p[pos] == RTCP_SDES_END)
                break;
            if (end - pos < 2 || end - pos - 2 < p[pos + 1])
                return AOIP_ERTCP_SDES;
            if (p[pos] == AOIP_RTCP_SDES_CNAME && chunk->cname == NULL) {
                chunk->cname = (const char *)(p + pos + 2);
                chunk->cname_len = p[pos + 1];
            }
            pos += 2 + (size_t)p[pos + 1];
        }
        stop = align4(pos + 1);
        if (stop > end)
            return AOIP_ERTCP_SDES;
        for (; pos < stop; pos++) {
            if (p[pos] != 0)
                return AOIP_ERTCP_SDES;
        }
    }
    if (pos != end)
        return AOIP_ERTCP_COUNT;
    return 0;
}

/*
 * Section 6.6: the SSRC list, then optionally a length-prefixed reason
 * padded with null octets to the next 32-bit boundary. Anything longer than
 * that padding is a reason length that lies.
 */
static int parse_bye(struct aoip_rtcp_packet *pkt)
{
    const uint8_t *p = pkt->body;
    size_t pos = 4 * (size_t)pkt->count, rlen;

    if (pkt->body_len < pos)
        return AOIP_ERTCP_COUNT;
    for (unsigned i = 0; i < pkt->count; i++)
        pkt->bye_ssrc[i] = aoip__get_be32(p + 4 * i);
    if (pos == pkt->body_len)
        return 0;
    rlen = p[pos];
    if (pkt->body_len - pos - 1 < rlen)
        return AOIP_ERTCP_BYE;
    pkt->reason = (const char *)(p + pos + 1);
    pkt->reason_len = (uint8_t)rlen;
    pos += 1 + rlen;
    if (pkt->body_len > align4(pos))
        return AOIP_ERTCP_BYE;
    for (; pos < pkt->body_len; pos++) {
        if (p[pos] != 0)
            return AOIP_ERTCP_BYE;
    }
    return 0;
}

AOIP_RT int aoip_rtcp_next(struct aoip_rtcp_iter *it, struct aoip_rtcp_packet *pkt)
{
    size_t plen, pad;
    int err;

    if (it->off >= it->len)
        return 0;
    err = check_header(it->buf, it->len, it->off, &plen, &pad);
    if (err < 0)
        goto fail;

    pkt->type = it->buf[it->off + 1];
    pkt->count = it->buf[it->off] & 0x1F;
    pkt->ssrc = 0;
    memset(&pkt->sender, 0, sizeof pkt->sender);
    pkt->reason = NULL;
    pkt->reason_len = 0;
    pkt->body = it->buf + it->off + RTCP_HEADER_SIZE;
    pkt->body_len = plen - RTCP_HEADER_SIZE - pad;

    switch (pkt->type) {
    case AOIP_RTCP_SR:
    case AOIP_RTCP_RR:
        err = parse_sr_rr(pkt);
        break;
    case AOIP_RTCP_SDES:
        err = parse_sdes(pkt);
        break;
    case AOIP_RTCP_BYE:
        err = parse_bye(pkt);
        break;
    default:
        /* APP, feedback, XR, anything newer: the caller skips or reads the raw body. */
        err = 0;
        break;
    }
    if (err < 0)
        goto fail;
    it->off += plen;
    return 1;

fail:
    /* The walk stops: what follows a packet that lies cannot be trusted. */
    it->off = it->len;
    return err;
}

static void put_header(uint8_t *buf, unsigned count, uint8_t type, size_t size)
{
    buf[0] = (uint8_t)((RTCP_VERSION << 6) | count);
    buf[1] = type;
    aoip__put_be16(buf + 2, (uint16_t)(size / 4 - 1));
}

static void put_reports(uint8_t *p, const struct aoip_rtcp_report_block *r, unsigned count)
{
    for (unsigned i = 0; i < count; i++, p += RTCP_REPORT_SIZE) {
        int32_t lost = r[i].cumulative_lost;

        /* Clamp, then two's complement in 24 bits. */
        lost = lost > RTCP_LOST_MAX ? RTCP_LOST_MAX : lost < RTCP_LOST_MIN ? RTCP_LOST_MIN : lost;
        aoip__put_be32(p, r[i].ssrc);
        aoip__put_be32(p + 4, ((uint32_t)r[i].fraction_lost << 24) | ((uint32_t)lost & 0xFFFFFF));
        aoip__put_be32(p + 8, r[i].highest_seq);
        aoip__put_be32(p + 12, r[i].jitter);
        aoip__put_be32(p + 16, r[i].lsr);
        aoip__put_be32(p + 20, r[i].dlsr);
    }
}

AOIP_RT int aoip_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t ssrc,
                               const struct aoip_rtcp_sender_info *sender,
                               const struct aoip_rtcp_report_block *reports, unsigned count)
{
    size_t size = RTCP_HEADER_SIZE + RTCP_SENDER_SIZE + (size_t)count * RTCP_REPORT_SIZE;

    if (sender == NULL || count > AOIP_RTCP_MAX_COUNT || (count > 0 && reports == NULL))
        return -EINVAL;
    if (size > cap)
        return -ENOSPC;
    put_header(buf, count, AOIP_RTCP_SR, size);
    aoip__put_be32(buf + 4, ssrc);
    aoip__put_be32(buf + 8, (uint32_t)(sender->ntp_time >> 32));
    aoip__put_be32(buf + 12, (uint32_t)sender->ntp_time);
    aoip__put_be32(buf + 16, sender->rtp_time);
    aoip__put_be32(buf + 20, sender->packet_count);
    aoip__put_be32(buf + 24, sender->octet_count);
    put_reports(buf + RTCP_HEADER_SIZE + RTCP_SENDER_SIZE, reports, count);
    return (int)size;
}

AOIP_RT int aoip_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc,
                               const struct aoip_rtcp_report_block *reports, unsigned count)
{
    size_t size = RTCP_HEADER_SIZE + 4 + (size_t)count * RTCP_REPORT_SIZE;

    if (count > AOIP_RTCP_MAX_COUNT || (count > 0 && reports == NULL))
        return -EINVAL;
    if (size > cap)
        return -ENOSPC;
    put_header(buf, count, AOIP_RTCP_RR, size);
    aoip__put_be32(buf + 4, ssrc);
    put_reports(buf + 8, reports, count);
    return (int)size;
}

AOIP_RT int aoip_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname,
                                       size_t cname_len)
{
    /* header, SSRC, CNAME item (type, length, text), then at least one null octet */
    size_t used = RTCP_HEADER_SIZE + 4 + 2 + cname_len;
    size_t size = align4(used + 1);

    if (cname_len > RTCP_ITEM_MAX || (cname_len > 0 && cname == NULL))
        return -EINVAL;
    if (size > cap)
        return -ENOSPC;
    put_header(buf, 1, AOIP_RTCP_SDES, size);
    aoip__put_be32(buf + 4, ssrc);
    buf[8] = AOIP_RTCP_SDES_CNAME;
    buf[9] = (uint8_t)cname_len;
    if (cname_len > 0)
        memcpy(buf + 10, cname, cname_len);
    memset(buf + used, 0, size - used);
    return (int)size;
}

AOIP_RT int aoip_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, unsigned count,
                                const char *reason, size_t reason_len)
{
    size_t list = RTCP_HEADER_SIZE + 4 * (size_t)count;
    size_t size = reason_len > 0 ? align4(list + 1 + reason_len) : list;

    if (count > AOIP_RTCP_MAX_COUNT || (count > 0 && ssrcs == NULL) || reason_len > RTCP_ITEM_MAX ||
        (reason_len > 0 && reason == NULL))
        return -EINVAL;
    if (size > cap)
        return -ENOSPC;
    put_header(buf, count, AOIP_RTCP_BYE, size);
    for (unsigned i = 0; i < count; i++)
        aoip__put_be32(buf + RTCP_HEADER_SIZE + 4 * i, ssrcs[i]);
    if (reason_len > 0) {
        buf[list] = (uint8_t)reason_len;
        memcpy(buf + list + 1, reason, reason_len);
        memset(buf + list + 1 + reason_len, 0, size - list - 1 - reason_len);
    }
    return (int)size;
}
