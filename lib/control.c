/*
 * control.c: the message plumbing shared by aoipd, aoipctl and peers.
 *
 * Both sockets that carry JSON lines (control and peer) meet strangers'
 * bytes, so the framing here is the first line of defence: it never holds
 * more than one maximal line, never allocates after init, and turns an
 * over-long line into one error instead of unbounded memory.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/control.h"

static const char *const code_names[] = {
    [AOIP_CODE_OK] = "ok",
    [AOIP_CODE_BAD_REQUEST] = "bad_request",
    [AOIP_CODE_TOO_LONG] = "too_long",
    [AOIP_CODE_UNKNOWN_COMMAND] = "unknown_command",
    [AOIP_CODE_NOT_FOUND] = "not_found",
    [AOIP_CODE_REFUSED] = "refused",
    [AOIP_CODE_UNREACHABLE] = "unreachable",
};

#define N_CODES (sizeof(code_names) / sizeof(code_names[0]))

const char *aoip_control_code_name(enum aoip_control_code code)
{
    return (unsigned)code < N_CODES ? code_names[code] : "bad_request";
}

enum aoip_control_code aoip_control_code_parse(const char *s)
{
    for (unsigned i = 0; s && i < N_CODES; i++)
        if (strcmp(s, code_names[i]) == 0)
            return (enum aoip_control_code)i;
    return AOIP_CODE_BAD_REQUEST;
}

int aoip_linebuf_init(struct aoip_linebuf *lb, size_t max_line)
{
    memset(lb, 0, sizeof(*lb));
    if (max_line < 2)
        return -EINVAL;
    lb->buf = malloc(max_line);
    if (!lb->buf)
        return -ENOMEM;
    lb->cap = max_line;
    return 0;
}

void aoip_linebuf_close(struct aoip_linebuf *lb)
{
    free(lb->buf);
    lb->buf = NULL;
    lb->cap = lb->len = 0;
}

int aoip_linebuf_feed(struct aoip_linebuf *lb, const char *data, size_t len, aoip_line_cb cb,
                      void *arg)
{
    const char *start = data;

    lb->used = len;
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        /* What the input holds up to and with this line, if the callback stops here. */
        size_t upto = nl ? (size_t)(nl + 1 - start) : lb->used;
        int rc = 0;

        if (lb->discarding) {
            /* The rest of an over-long line: drop it up to its newline. */
            if (nl)
                lb->discarding = false;
        } else if (lb->len + take + 1 > lb->cap) {
            /* Newline included, the line would not fit: report it once. */
            lb->len = 0;
            lb->discarding = nl == NULL;
            rc = cb(arg, NULL, 0);
        } else {
            memcpy(lb->buf + lb->len, data, take);
            lb->len += take;
            if (nl) {
                size_t n = lb->len;
                if (n > 0 && lb->buf[n - 1] == '\r')
                    n--;
                lb->buf[n] = '\0';
                lb->len = 0;
                rc = cb(arg, lb->buf, n);
            }
        }
        if (rc) {
            lb->used = upto;
            return rc;
        }
        if (!nl)
            break;
        data = nl + 1;
        len -= take + 1;
    }
    return 0;
}

bool aoip_name_valid(const char *s, size_t len)
{
    bool digits_only = true;

    if (len == 0 || len >= AOIP_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool digit = c >= '0' && c <= '9';
        bool ok = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                  c == '_' || c == '.';
        if (!ok)
            return false;
        digits_only = digits_only && digit;
    }
    /* A name of digits alone would read as a channel number. */
    return !digits_only;
}

int aoip_channel_addr_parse(struct aoip_channel_addr *out, const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;

    memset(out, 0, sizeof(*out));
    if (!slash || !aoip_name_valid(s, (size_t)(slash - s)))
        return -EINVAL;

    const char *ch = slash + 1;
    size_t n = strlen(ch);
    if (n > 0 && n <= 6 && strspn(ch, "0123456789") == n) {
        unsigned long v = strtoul(ch, NULL, 10);
        if (v == 0 || ch[0] == '0')
            return -EINVAL;
        out->index = (unsigned)v;
    } else if (aoip_name_valid(ch, n)) {
        memcpy(out->channel, ch, n);
    } else {
        return -EINVAL;
    }
    /* Only a whole address is written, so a failed parse leaves *out empty. */
    memcpy(out->node, s, (size_t)(slash - s));
    return 0;
}

json_t *aoip_control_parse(const char *line, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    /*
     * JSON_REJECT_DUPLICATES: a request naming a field twice is ambiguous.
     * JSON_DECODE_ANY: a bare number or string is JSON, just not an object,
     * and the reason should say so.
     */
    json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);

    if (!msg) {
        snprintf(err, errlen, "not JSON: %s at column %d", je.text, je.column);
        return NULL;
    }
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "not a JSON object");
        json_decref(msg);
        return NULL;
    }
    return msg;
}

json_t *aoip_control_ok(json_int_t id, json_t *result)
{
    return json_pack("{s:I, s:b, s:o}", "id", id, "ok", 1, "result",
                     result ? result : json_object());
}

/* vsnprintf cuts at a byte: drop a UTF-8 character it cut in half. */
static void trim_partial_utf8(char *s, size_t len)
{
    size_t i = len, tail = 0;

    while (i > 0 && tail < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        tail++;
    }
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (need > tail + 1)
        s[i - 1] = '\0';
}

json_t *aoip_control_fail(json_int_t id, enum aoip_control_code code, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(text))
        trim_partial_utf8(text, strlen(text));

    json_t *msg = json_pack("{s:I, s:b, s:s, s:s}", "id", id, "ok", 0, "code",
                            aoip_control_code_name(code), "error", text);
    if (!msg) {
        /* The text quotes bytes that are not UTF-8 (jansson refuses them): keep their ASCII. */
        for (char *p = text; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        msg = json_pack("{s:I, s:b, s:s, s:s}", "id", id, "ok", 0, "code",
                        aoip_control_code_name(code), "error", text);
    }
    return msg;
}

char *aoip_control_dump(const json_t *msg, size_t *len)
{
    /* Compact output escapes control characters, so the line has no newline of its own. */
    char *s = json_dumps(msg, JSON_COMPACT);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (n + 1 > AOIP_CONTROL_MAX_LINE) {
        free(s);
        return NULL;
    }
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    if (len)
        *len = n + 1;
    return line;
}

json_t *aoip_json_db(double db)
{
    return isfinite(db) ? json_real(db) : json_null();
}
