/*
 * txt.h: the DNS-SD TXT record of an aoip node (RFC 6763 section 6), as
 * its `_aoip._tcp` service announces it.
 *
 * The record is a sequence of strings, each one length byte and up to 255
 * bytes of `key=value`. aoip's keys:
 *
 *   v=1      the protocol version; required. A record with another v is
 *            reported as such (AOIP_ETXT_VERSION): that node speaks a
 *            protocol this one does not, and is left alone.
 *   id=      the node id, 16 lowercase hex digits; required.
 *   sr=      the sample rate in Hz, decimal, 8000..192000; optional.
 *   tx= rx=  how many sources and destinations the node has, decimal,
 *            0..65535; optional.
 *
 * Keys compare as ASCII without regard to case; of a key given twice the
 * first counts (RFC 6763 section 6.4), even when it is the malformed one; a
 * key with no `=` is a boolean attribute, and an empty string or one
 * without a key is ignored. Keys aoip does not know are ignored, so a later
 * version can add some without breaking this one. Channel names do not
 * travel here: the peer protocol carries them.
 */
#ifndef AOIP_TXT_H
#define AOIP_TXT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AOIP_TXT_VERSION         1
#define AOIP_TXT_ID_LEN          16
#define AOIP_TXT_SAMPLE_RATE_MIN 8000
#define AOIP_TXT_SAMPLE_RATE_MAX 192000
#define AOIP_TXT_COUNT_MAX       65535
/* Room for every record aoip_txt_build writes (52 bytes at most). */
#define AOIP_TXT_MAX 64

struct aoip_txt {
    unsigned version;             /* AOIP_TXT_VERSION */
    char id[AOIP_TXT_ID_LEN + 1]; /* lowercase hex, NUL-terminated */
    uint32_t sample_rate;         /* Hz; 0 when the record has no sr= */
    uint32_t tx, rx;              /* source and destination counts; 0 when absent */
};

/*
 * Parse the TXT rdata[0..len) of a node's service. Returns 0, or an
 * AOIP_ETXT_* code and *out untouched. When a record is wrong in several
 * ways the code names the first of: a string that runs past the end, no v,
 * another v, no id, a malformed id, a malformed sr, a malformed tx or rx.
 * Never reads outside rdata; allocates nothing.
 */
AOIP_API int aoip_txt_parse(struct aoip_txt *out, const uint8_t *rdata, size_t len);

/*
 * Write the record of *t into buf: v, id, sr (left out when sample_rate is
 * 0), tx and rx, in that order, so that aoip_txt_parse reads it back to *t.
 * Returns the length written, -EINVAL for a field parse would refuse
 * (version not AOIP_TXT_VERSION, an id not 16 lowercase hex digits, a
 * sample rate or count out of range), or -ENOSPC if cap is too small (buf
 * is then unspecified).
 */
AOIP_API int aoip_txt_build(uint8_t *buf, size_t cap, const struct aoip_txt *t);

#ifdef __cplusplus
}
#endif

#endif
