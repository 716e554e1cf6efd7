/*
 * sdp.h: session descriptions (RFC 8866) of audio RTP streams, as AES67
 * devices, ffmpeg (-sdp_file) and GStreamer write them, and as aoip
 * describes its own flows.
 *
 * Only what a receiver needs to play one audio stream is read: the
 * connection address, the first audio media line, its rtpmap, ptime and
 * channel count. Other lines are checked for the basic "x=value" shape and
 * skipped. Every way a description can be wrong has its own AOIP_ESDP_*
 * code.
 */
#ifndef AOIP_SDP_H
#define AOIP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AOIP_SDP_MAX_TEXT 65536 /* larger descriptions are refused unread */

struct aoip_sdp_stream {
    char session[128];    /* s= */
    char address[64];     /* c= connection address, without the /TTL suffix */
    bool multicast;       /* the address is IPv4 224/4 or IPv6 ff00::/8 */
    uint8_t ttl;          /* from "c=IN IP4 239.x.y.z/TTL", 0 when absent */
    uint16_t port;        /* m=audio PORT */
    uint8_t payload_type; /* the first format of the m= line */
    char encoding[16];    /* from a=rtpmap: "L24", "L16", "opus", ... as written */
    uint32_t clock_rate;  /* from a=rtpmap */
    unsigned channels;    /* from a=rtpmap (1 when not given), 1..256 */
    uint32_t ptime_us;    /* a=ptime (ms, may be fractional, e.g. 0.125) or a=framecount,
                             at most 60 s; 0 when absent */
};

/*
 * Parse text[0..len) (lines ended by CRLF or LF). Returns 0, or an
 * AOIP_ESDP_* code and *out untouched. Never reads outside text; text need
 * not be NUL-terminated.
 */
AOIP_API int aoip_sdp_parse(struct aoip_sdp_stream *out, const char *text, size_t len);

/*
 * Write a description of one stream into buf (NUL-terminated), one that
 * aoip_sdp_parse reads back to *s. Returns the length written without the
 * NUL, -ENOSPC if cap is too small (buf is then ""), or -EINVAL for a
 * stream that cannot be described (no address, no encoding, a multicast
 * flag or TTL the address contradicts, a field outside what parse
 * accepts).
 */
AOIP_API int aoip_sdp_write(char *buf, size_t cap, const struct aoip_sdp_stream *s,
                            const char *origin_address, uint64_t session_id);

#ifdef __cplusplus
}
#endif

#endif
