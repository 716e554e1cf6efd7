/*
 * rtp.h: RTP data packets (RFC 3550): strict parsing, header building,
 * sequence number and timestamp extension, interarrival jitter.
 *
 * Parsing never copies: the parsed packet points into the caller's buffer.
 * Every way a packet can be malformed has its own AOIP_ERTP_* code, so the
 * receiver can count drops by cause.
 */
#ifndef AOIP_RTP_H
#define AOIP_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AOIP_RTP_VERSION     2
#define AOIP_RTP_HEADER_SIZE 12 /* the fixed header, without CSRCs or extension */
#define AOIP_RTP_MAX_CSRC    15 /* the CC field is 4 bits */

struct aoip_rtp_packet {
    bool marker;
    uint8_t payload_type; /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint8_t csrc_count;
    uint32_t csrc[AOIP_RTP_MAX_CSRC];

    /* Header extension (section 5.3.1); ext points at its data words. */
    bool has_extension;
    uint16_t ext_profile;
    const uint8_t *ext;
    size_t ext_len; /* bytes, a multiple of 4 */

    const uint8_t *payload; /* without padding */
    size_t payload_len;
    uint8_t padding_len; /* bytes of padding that followed the payload, 0 if none */
};

/*
 * Parse buf[0..len) into *pkt. Returns 0, or an AOIP_ERTP_* code (and *pkt
 * is then unspecified). Never reads outside buf.
 */
AOIP_API AOIP_RT int aoip_rtp_parse(struct aoip_rtp_packet *pkt, const uint8_t *buf, size_t len);

/* Bytes the header of *pkt takes on the wire: fixed part, CSRCs, extension. */
AOIP_API AOIP_RT size_t aoip_rtp_header_size(const struct aoip_rtp_packet *pkt);

/*
 * Write the header of *pkt (fixed part, CSRCs, extension; never padding) to
 * buf. The payload field of *pkt is ignored: the caller encodes the payload
 * in place after the header, so a packet is built without a copy. The P bit
 * is set when padding_len is not 0; the caller then appends padding_len
 * bytes after the payload, the last of them holding the count. Returns
 * the header size, -ENOSPC if cap is too small, or -EINVAL if a field does
 * not fit its width (payload type over 127, more than 15 CSRCs, extension
 * length not a multiple of 4 or over 65535 words).
 */
AOIP_API AOIP_RT int aoip_rtp_write_header(const struct aoip_rtp_packet *pkt, uint8_t *buf,
                                           size_t cap);

/*
 * Extend a 16-bit sequence number (or a 32-bit timestamp) to 64 bits: of
 * all values congruent to it, pick the one nearest to the previous extended
 * value. That follows wrap-around forwards and backwards (a packet reordered
 * across the wrap), as long as consecutive values are less than half the
 * range apart. The first value of a stream has no previous value to be
 * near: the caller takes it as it is (extended = seq, or = ts).
 */
AOIP_API AOIP_RT int64_t aoip_rtp_seq_extend(int64_t last, uint16_t seq);
AOIP_API AOIP_RT int64_t aoip_rtp_ts_extend(int64_t last, uint32_t ts);

/*
 * The interarrival jitter estimator of RFC 3550 section 6.4.1 / A.8:
 * J += (|D| - J) / 16, with D the change in transit time between two
 * packets, in timestamp units. Arrival times come from the caller (the
 * library has no clock).
 */
struct aoip_rtp_jitter {
    bool primed;
    uint32_t clock_rate;  /* timestamp units per second */
    int64_t last_transit; /* arrival - timestamp, in timestamp units */
    uint64_t jitter_q4;   /* the estimate, scaled by 16 as in A.8 */
};

AOIP_API void aoip_rtp_jitter_init(struct aoip_rtp_jitter *j, uint32_t clock_rate);
AOIP_API AOIP_RT void aoip_rtp_jitter_update(struct aoip_rtp_jitter *j, int64_t arrival_ns,
                                             uint32_t timestamp);
/* The current estimate in timestamp units, as an RTCP report block carries it. */
AOIP_API AOIP_RT uint32_t aoip_rtp_jitter_get(const struct aoip_rtp_jitter *j);

#ifdef __cplusplus
}
#endif

#endif
