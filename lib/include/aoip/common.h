/*
 * common.h: what every libaoip module shares: the export marker, the
 * real-time marker, error codes and the version.
 *
 * libaoip takes libuv's conventions: functions return 0 (or a count) on
 * success and a negative value on failure. A failure is either a negative
 * errno (-EINVAL, -ENOSPC, -ENOMEM) or one of the AOIP_E* codes below, which
 * say exactly how a piece of input was wrong so that a caller can count
 * drops by cause. The AOIP_E* codes sit far below the errno range so the two
 * never collide.
 */
#ifndef AOIP_COMMON_H
#define AOIP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libaoip is built with -fvisibility=hidden; only what carries this is public. */
#if defined(__GNUC__)
#define AOIP_API __attribute__((visibility("default")))
#else
#define AOIP_API
#endif

/*
 * Marks a function that runs on the media thread (PipeWire SPA's discipline):
 * it never allocates, locks, logs or blocks, and it calls only other
 * AOIP_RT functions and plain arithmetic. The marker expands to nothing; it
 * is for the reader and for grep.
 */
#define AOIP_RT

enum aoip_error {
    AOIP_EBASE = -10000,

    /* RTP (RFC 3550 section 5.1) */
    AOIP_ERTP_SHORT = AOIP_EBASE, /* shorter than the 12-byte fixed header */
    AOIP_ERTP_VERSION = -10001,   /* version field is not 2 */
    AOIP_ERTP_CSRC = -10002,      /* CSRC list runs past the end */
    AOIP_ERTP_EXTENSION = -10003, /* header extension truncated or its length lies */
    AOIP_ERTP_PADDING = -10004,   /* padding count is 0 or longer than the payload */

    /* RTCP (RFC 3550 section 6 and appendix A.2) */
    AOIP_ERTCP_SHORT = -10020,   /* shorter than a 4-byte common header */
    AOIP_ERTCP_VERSION = -10021, /* version field is not 2 */
    AOIP_ERTCP_LENGTH = -10022,  /* length field runs past the compound */
    AOIP_ERTCP_FIRST = -10023,   /* compound does not start with SR or RR */
    AOIP_ERTCP_PADDING = -10024, /* padding on a packet that is not last, or a bad count */
    AOIP_ERTCP_COUNT = -10025,   /* report/source count does not fit the length */
    AOIP_ERTCP_SDES = -10026,    /* SDES item or chunk runs past its packet */
    AOIP_ERTCP_BYE = -10027,     /* BYE reason runs past its packet */

    /* SDP (RFC 8866) of an audio RTP stream */
    AOIP_ESDP_TOO_LONG = -10040,       /* longer than AOIP_SDP_MAX_TEXT */
    AOIP_ESDP_LINE = -10041,           /* a line not "x=value" with x a lowercase letter */
    AOIP_ESDP_VERSION = -10042,        /* v=0 missing, not first, not 0, or repeated */
    AOIP_ESDP_CONNECTION = -10043,     /* c= malformed, or none for the stream */
    AOIP_ESDP_ADDRESS = -10044,        /* c= address not numeric for its IP4/IP6 */
    AOIP_ESDP_MEDIA = -10045,          /* no m=audio, or bad port, profile or formats */
    AOIP_ESDP_RTPMAP = -10046,         /* rtpmap malformed, or none for a dynamic type */
    AOIP_ESDP_PTIME = -10047,          /* ptime or framecount malformed or at odds */
    AOIP_ESDP_DUPLICATE = -10048,      /* a line allowed once per level given twice */
    AOIP_ESDP_FIELD_TOO_LONG = -10049, /* session name or encoding longer than stored */

    /* DNS-SD TXT record of a node (RFC 6763 section 6; txt.h) */
    AOIP_ETXT_TRUNCATED = -10060,   /* a string's length byte runs past the record */
    AOIP_ETXT_NO_VERSION = -10061,  /* no v= key */
    AOIP_ETXT_VERSION = -10062,     /* v= is not 1: another protocol version */
    AOIP_ETXT_NO_ID = -10063,       /* no id= key */
    AOIP_ETXT_ID = -10064,          /* id= is not 16 lowercase hex digits */
    AOIP_ETXT_SAMPLE_RATE = -10065, /* sr= is not a decimal number in 8000..192000 */
    AOIP_ETXT_COUNT = -10066,       /* tx= or rx= is not a decimal number in 0..65535 */

    /* Sealed media envelope (seal.h) */
    AOIP_ESEAL_SHORT = -10080,  /* shorter than header, key id, ROC and tag */
    AOIP_ESEAL_KEY = -10081,    /* key id is not a key the receiver holds */
    AOIP_ESEAL_SSRC = -10082,   /* SSRC is not the one the receiver follows */
    AOIP_ESEAL_REPLAY = -10083, /* packet index seen before or older than the window */
    AOIP_ESEAL_AUTH = -10084,   /* tag does not verify: forged, damaged or wrong key */

    /* Sealed peer channel (peerchan.h) */
    AOIP_ECHAN_NOT_AOIP = -10090, /* the first bytes are no aoip HELLO */
    AOIP_ECHAN_SECRET = -10091,   /* HELLO tag wrong: not a member of this network */
    AOIP_ECHAN_AUTH = -10092,     /* AUTH missing, malformed or its signature wrong */
    AOIP_ECHAN_RECORD = -10093,   /* a record failed to open */
    AOIP_ECHAN_SIZE = -10094,     /* a record longer than AOIP_CHAN_RECORD_MAX */
    AOIP_ECHAN_STATE = -10095,    /* used in the wrong state (a bug of the caller) */

    AOIP_ELAST = -10099
};

/* A short English text for a return code: AOIP_E* or negative errno. */
AOIP_API const char *aoip_strerror(int err);

/* "MAJOR.MINOR.PATCH" of the library that is linked. */
AOIP_API const char *aoip_version(void);

#ifdef __cplusplus
}
#endif

#endif
