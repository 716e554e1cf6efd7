/*
 * rtcp.h: RTCP (RFC 3550 section 6): compound packets of SR, RR, SDES and
 * BYE, parsed strictly and built into caller buffers.
 *
 * A compound packet is first validated as a whole (appendix A.2: version,
 * SR or RR first, padding only on the last packet, lengths that add up to
 * the datagram), then walked one packet at a time. Packet types other than
 * SR, RR, SDES and BYE (APP, XR, feedback) are handed out with their type
 * and raw body so a caller can skip them; they are not errors.
 */
#ifndef AOIP_RTCP_H
#define AOIP_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum aoip_rtcp_type {
    AOIP_RTCP_SR = 200,
    AOIP_RTCP_RR = 201,
    AOIP_RTCP_SDES = 202,
    AOIP_RTCP_BYE = 203,
    AOIP_RTCP_APP = 204,
};

#define AOIP_RTCP_MAX_COUNT  31 /* the RC/SC field is 5 bits */
#define AOIP_RTCP_SDES_CNAME 1

/* Section 6.4.1: one reception report. */
struct aoip_rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* lost / expected since the last report, in 1/256 */
    int32_t cumulative_lost; /* 24-bit signed on the wire */
    uint32_t highest_seq;    /* extended highest sequence number received */
    uint32_t jitter;         /* timestamp units */
    uint32_t lsr;            /* middle 32 bits of the last SR's NTP time */
    uint32_t dlsr;           /* delay since that SR, in 1/65536 s */
};

struct aoip_rtcp_sender_info {
    uint64_t ntp_time; /* 32.32 fixed point seconds since 1900 */
    uint32_t rtp_time;
    uint32_t packet_count;
    uint32_t octet_count;
};

/* One SDES chunk; cname points into the packet and is not NUL-terminated. */
struct aoip_rtcp_sdes_chunk {
    uint32_t ssrc;
    const char *cname; /* NULL when the chunk has no CNAME item */
    uint8_t cname_len;
};

/* One packet out of a compound. Which fields are meaningful depends on type. */
struct aoip_rtcp_packet {
    uint8_t type;
    uint8_t count; /* RC, SC or the subtype of APP */

    uint32_t ssrc;                       /* SR, RR: the sender of the report */
    struct aoip_rtcp_sender_info sender; /* SR */
    struct aoip_rtcp_report_block reports[AOIP_RTCP_MAX_COUNT]; /* SR, RR: count of them */

    struct aoip_rtcp_sdes_chunk chunks[AOIP_RTCP_MAX_COUNT]; /* SDES: count of them */

    uint32_t bye_ssrc[AOIP_RTCP_MAX_COUNT]; /* BYE: count of them */
    const char *reason;                     /* BYE: optional, not NUL-terminated */
    uint8_t reason_len;

    const uint8_t *body; /* every type: the bytes after the 4-byte header, padding removed */
    size_t body_len;
};

/* Walks a validated compound packet. */
struct aoip_rtcp_iter {
    const uint8_t *buf;
    size_t len;
    size_t off;
};

/*
 * Check buf[0..len) as a whole compound packet (RFC 3550 A.2). Returns 0 or
 * an AOIP_ERTCP_* code. On success *it is ready for aoip_rtcp_next.
 */
AOIP_API AOIP_RT int aoip_rtcp_validate(struct aoip_rtcp_iter *it, const uint8_t *buf, size_t len);

/*
 * Parse the next packet of a validated compound into *pkt. Returns 1 when a
 * packet was parsed, 0 at the end, or an AOIP_ERTCP_* code when the packet's
 * body contradicts its header (the walk then stops).
 */
AOIP_API AOIP_RT int aoip_rtcp_next(struct aoip_rtcp_iter *it, struct aoip_rtcp_packet *pkt);

/*
 * Builders: each writes one RTCP packet at buf and returns its length in
 * bytes (a multiple of 4), -ENOSPC when cap is too small, or -EINVAL when a
 * count or length does not fit the wire format. A compound packet is these
 * concatenated, SR or RR first.
 */
AOIP_API AOIP_RT int aoip_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t ssrc,
                                        const struct aoip_rtcp_sender_info *sender,
                                        const struct aoip_rtcp_report_block *reports,
                                        unsigned count);
AOIP_API AOIP_RT int aoip_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc,
                                        const struct aoip_rtcp_report_block *reports,
                                        unsigned count);
/* One chunk with one CNAME item (at most 255 bytes). */
AOIP_API AOIP_RT int aoip_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc,
                                                const char *cname, size_t cname_len);
/* reason may be NULL; at most 255 bytes. */
AOIP_API AOIP_RT int aoip_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs,
                                         unsigned count, const char *reason, size_t reason_len);

#ifdef __cplusplus
}
#endif

#endif
