/*
 * control.h: what aoipd, aoipctl and the peer protocol share about their
 * messages (proto/control.md, proto/peer.md): line framing with a hard
 * length limit, channel addresses, names, error codes, and the JSON
 * envelopes of requests and responses (jansson).
 */
#ifndef AOIP_CONTROL_H
#define AOIP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest line, newline included, on the control socket and between peers. */
#define AOIP_CONTROL_MAX_LINE 65536
/* Node and channel names: [A-Za-z0-9_.-], 1..63 bytes, not all digits. */
#define AOIP_NAME_MAX 64

/* Error codes of proto/control.md. */
enum aoip_control_code {
    AOIP_CODE_OK = 0,
    AOIP_CODE_BAD_REQUEST,
    AOIP_CODE_TOO_LONG,
    AOIP_CODE_UNKNOWN_COMMAND,
    AOIP_CODE_NOT_FOUND,
    AOIP_CODE_REFUSED,
    AOIP_CODE_UNREACHABLE,
};

AOIP_API const char *aoip_control_code_name(enum aoip_control_code code);
/* The code named s; AOIP_CODE_BAD_REQUEST for a name it does not know. */
AOIP_API enum aoip_control_code aoip_control_code_parse(const char *s);

/*
 * Line framing. Bytes go in as they arrive; each complete line comes out
 * through the callback, without its newline and NUL-terminated (a CR
 * before the newline is dropped too). A line longer than the limit comes
 * out once as line == NULL (too long), and the rest of it, up to the next
 * newline, is discarded. Storage is allocated once, at init.
 */
typedef int (*aoip_line_cb)(void *arg, char *line, size_t len);

struct aoip_linebuf {
    char *buf;
    size_t cap; /* max line, newline included */
    size_t len;
    bool discarding;
    size_t used; /* bytes of the last feed's data taken: all, unless the callback stopped it */
};

AOIP_API int aoip_linebuf_init(struct aoip_linebuf *lb, size_t max_line);
AOIP_API void aoip_linebuf_close(struct aoip_linebuf *lb);
/*
 * Feed data; calls cb for every line it completes. Stops early, returning
 * what cb returned, when cb returns non-zero: then lb->used says how much of
 * data was taken (up to and with the line the callback stopped on), so a
 * caller that must pause can feed the rest later. Returns 0 otherwise.
 */
AOIP_API int aoip_linebuf_feed(struct aoip_linebuf *lb, const char *data, size_t len,
                               aoip_line_cb cb, void *arg);

/* True when s[0..len) is a valid node or channel name. */
AOIP_API bool aoip_name_valid(const char *s, size_t len);

/* "NODE/NAME" or "NODE/N" (N 1-based). */
struct aoip_channel_addr {
    char node[AOIP_NAME_MAX];
    char channel[AOIP_NAME_MAX]; /* "" when given by number */
    unsigned index;              /* 1-based when given by number, else 0 */
};

/* Returns 0, or -EINVAL when s is not a channel address (and *out is all zero). */
AOIP_API int aoip_channel_addr_parse(struct aoip_channel_addr *out, const char *s);

/*
 * Parse one line as a JSON object. Returns the object (a new reference),
 * or NULL with a one-line reason in err.
 */
AOIP_API json_t *aoip_control_parse(const char *line, size_t len, char *err, size_t errlen);

/* {"id": id, "ok": true, "result": result}; steals result (NULL: {}). */
AOIP_API json_t *aoip_control_ok(json_int_t id, json_t *result);
/*
 * {"id": id, "ok": false, "code": ..., "error": printf(fmt, ...)}. The text
 * is cut to 511 bytes at a character boundary; bytes that are not UTF-8
 * (a quoted piece of bad input) become '?', so the envelope always exists.
 */
AOIP_API json_t *aoip_control_fail(json_int_t id, enum aoip_control_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Serialize msg as one line with its newline (compact, no embedded
 * newlines). Returns a malloc'd string the caller frees, or NULL when it
 * would exceed AOIP_CONTROL_MAX_LINE or memory runs out.
 */
AOIP_API char *aoip_control_dump(const json_t *msg, size_t *len);

/* A dB value for JSON: a number, or null for minus infinity / NaN. */
AOIP_API json_t *aoip_json_db(double db);

#ifdef __cplusplus
}
#endif

#endif
