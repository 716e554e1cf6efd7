/*
 * rtp.c: RTP data packets (RFC 3550 section 5): parse, header build,
 * sequence number and timestamp extension, interarrival jitter.
 *
 * Everything here runs on the media thread for every packet, so nothing
 * allocates or copies: a parsed packet points into the caller's buffer and a
 * header is written in front of a payload the caller encodes in place.
 *
 * The parser checks each length against what is left of the buffer before it
 * reads, in the order the fields appear, and refuses a malformed packet with
 * the code of the first field that is wrong, so drop counters say why.
 * Byte order is handled with explicit shifts rather than ntohl on unaligned
 * pointers: the payload offset depends on the CSRC count and the extension,
 * so nothing after the fixed header is aligned.
 */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "aoip/rtp.h"

#define RTP_EXT_HEADER_SIZE 4      /* profile (16 bits) + length in words (16 bits) */
#define RTP_EXT_MAX_WORDS   0xFFFF /* the extension length field is 16 bits */
#define NS_PER_SEC          1000000000

AOIP_RT int aoip_rtp_parse(struct aoip_rtp_packet *pkt, const uint8_t *buf, size_t len)
{
    size_t off, pad;

    if (len < AOIP_RTP_HEADER_SIZE)
        return AOIP_ERTP_SHORT;
    if ((buf[0] >> 6) != AOIP_RTP_VERSION)
        return AOIP_ERTP_VERSION;

    pkt->marker = (buf[1] & 0x80) != 0;
    pkt->payload_type = buf[1] & 0x7F;
    pkt->seq = aoip__get_be16(buf + 2);
    pkt->timestamp = aoip__get_be32(buf + 4);
    pkt->ssrc = aoip__get_be32(buf + 8);
    pkt->csrc_count = buf[0] & 0x0F;
    off = AOIP_RTP_HEADER_SIZE;

    if (len - off < 4 * (size_t)pkt->csrc_count)
        return AOIP_ERTP_CSRC;
    for (unsigned i = 0; i < pkt->csrc_count; i++)
        pkt->csrc[i] = aoip__get_be32(buf + off + 4 * i);
    off += 4 * (size_t)pkt->csrc_count;

    pkt->has_extension = (buf[0] & 0x10) != 0;
    pkt->ext_profile = 0;
    pkt->ext = NULL;
    pkt->ext_len = 0;
    if (pkt->has_extension) {
        if (len - off < RTP_EXT_HEADER_SIZE)
            return AOIP_ERTP_EXTENSION;
        pkt->ext_profile = aoip__get_be16(buf + off);
        pkt->ext_len = 4 * (size_t)aoip__get_be16(buf + off + 2);
        off += RTP_EXT_HEADER_SIZE;
        if (len - off < pkt->ext_len)
            return AOIP_ERTP_EXTENSION;
        pkt->ext = buf + off;
        off += pkt->ext_len;
    }

    /*
     * The last byte counts the padding, itself included (section 5.1), so
     * 0 is impossible and the count may not reach back into the header.
     */
    pad = 0;
    if (buf[0] & 0x20) {
        if (len == off)
            return AOIP_ERTP_PADDING;
        pad = buf[len - 1];
        if (pad == 0 || pad > len - off)
            return AOIP_ERTP_PADDING;
    }
    pkt->padding_len = (uint8_t)pad;
    pkt->payload = buf + off;
    pkt->payload_len = len - off - pad;
    return 0;
}

AOIP_RT size_t aoip_rtp_header_size(const struct aoip_rtp_packet *pkt)
{
    size_t size = AOIP_RTP_HEADER_SIZE + 4 * (size_t)pkt->csrc_count;

    if (pkt->has_extension)
        size += RTP_EXT_HEADER_SIZE + pkt->ext_len;
    return size;
}

AOIP_RT int aoip_rtp_write_header(const struct aoip_rtp_packet *pkt, uint8_t *buf, size_t cap)
{
    size_t size, off;

    if (pkt->payload_type > 127 || pkt->csrc_count > AOIP_RTP_MAX_CSRC)
        return -EINVAL;
    if (pkt->has_extension && (pkt->ext_len % 4 != 0 || pkt->ext_len / 4 > RTP_EXT_MAX_WORDS ||
                               (pkt->ext_len > 0 && pkt->ext == NULL)))
        return -EINVAL;
    size = aoip_rtp_header_size(pkt);
    if (size > cap)
        return -ENOSPC;

    buf[0] = (uint8_t)((AOIP_RTP_VERSION << 6) | (pkt->padding_len ? 0x20 : 0) |
                       (pkt->has_extension ? 0x10 : 0) | pkt->csrc_count);
    buf[1] = (uint8_t)((pkt->marker ? 0x80 : 0) | pkt->payload_type);
    aoip__put_be16(buf + 2, pkt->seq);
    aoip__put_be32(buf + 4, pkt->timestamp);
    aoip__put_be32(buf + 8, pkt->ssrc);
    off = AOIP_RTP_HEADER_SIZE;
    for (unsigned i = 0; i < pkt->csrc_count; i++) {
        aoip__put_be32(buf + off, pkt->csrc[i]);
        off += 4;
    }
    if (pkt->has_extension) {
        aoip__put_be16(buf + off, pkt->ext_profile);
        aoip__put_be16(buf + off + 2, (uint16_t)(pkt->ext_len / 4));
        off += RTP_EXT_HEADER_SIZE;
        /* memmove: a forwarder rewrites a parsed header in place, ext then points into buf. */
        if (pkt->ext_len > 0)
            memmove(buf + off, pkt->ext, pkt->ext_len);
    }
    return (int)size;
}

/*
 * The difference to the previous value is taken modulo the range and read
 * as signed, so the result is the congruent value nearest to last. The sum
 * is done unsigned so that no value of last can make it overflow.
 */
AOIP_RT int64_t aoip_rtp_seq_extend(int64_t last, uint16_t seq)
{
    int64_t d = (int64_t)((seq - (uint64_t)last) & 0xFFFF);

    if (d >= 0x8000)
        d -= 0x10000;
    return (int64_t)((uint64_t)last + (uint64_t)d);
}

AOIP_RT int64_t aoip_rtp_ts_extend(int64_t last, uint32_t ts)
{
    int64_t d = (int64_t)((ts - (uint64_t)last) & 0xFFFFFFFF);

    if (d >= 0x80000000)
        d -= 0x100000000;
    return (int64_t)((uint64_t)last + (uint64_t)d);
}

void aoip_rtp_jitter_init(struct aoip_rtp_jitter *j, uint32_t clock_rate)
{
    j->primed = false;
    j->clock_rate = clock_rate;
    j->last_transit = 0;
    j->jitter_q4 = 0;
}

/*
 * Arrival time in timestamp units, modulo 2^32 (only differences of transit
 * times matter, and RTP timestamps are modulo 2^32 anyway). Whole seconds
 * and the nanosecond remainder are scaled separately: remainder * rate stays
 * below 10^9 * 2^32 < 2^64, and the seconds part may wrap harmlessly in
 * unsigned arithmetic, so no 128-bit product is needed for any arrival time
 * or clock rate. The division is floored so negative (virtual) times work.
 */
static uint32_t arrival_units(int64_t arrival_ns, uint32_t rate)
{
    int64_t sec = arrival_ns / NS_PER_SEC;
    int64_t rem = arrival_ns % NS_PER_SEC;

    if (rem < 0) {
        rem += NS_PER_SEC;
        sec -= 1;
    }
    return (uint32_t)((uint64_t)sec * rate + (uint64_t)rem * rate / NS_PER_SEC);
}

/*
 * RFC 3550 A.8, with the transit difference taken modulo 2^32 and read as
 * signed: a timestamp wrap changes transit by 2^32, which this cancels.
 */
AOIP_RT void aoip_rtp_jitter_update(struct aoip_rtp_jitter *j, int64_t arrival_ns,
                                    uint32_t timestamp)
{
    uint32_t transit = arrival_units(arrival_ns, j->clock_rate) - timestamp;
    uint32_t diff = transit - (uint32_t)j->last_transit;
    uint64_t d = diff < 0x80000000u ? diff : (uint32_t)(0u - diff);

    j->last_transit = transit;
    if (!j->primed) {
        j->primed = true;
        return;
    }
    /* J += (|D| - J) / 16, kept scaled by 16 and rounded as in A.8. */
    j->jitter_q4 = j->jitter_q4 + d - ((j->jitter_q4 + 8) >> 4);
}

AOIP_RT uint32_t aoip_rtp_jitter_get(const struct aoip_rtp_jitter *j)
{
    return (uint32_t)(j->jitter_q4 >> 4);
}
