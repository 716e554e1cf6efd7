/*
 * fuzz_control.c: libFuzzer target for the control plumbing of
 * lib/control.c: line framing, the JSON parse, channel addresses.
 *
 * The input is what a client could write to the control socket. It goes
 * through a line buffer with a small limit (so over-long lines are common)
 * twice: whole, and in chunks whose size the input picks; framing must not
 * depend on how the bytes arrive, so both must give the same lines. Each
 * line is parsed; from an object, "cmd", "source" and "destination" are
 * read as channel addresses, the object is dumped and must read back as
 * itself on one line, and an error envelope quoting it must exist. The raw
 * input, NUL-terminated, is parsed as an address too. Beyond "does not
 * crash", every broken promise aborts, so libFuzzer and the replay driver
 * both see it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that inputs of a few hundred bytes already cross it. */
#define FUZZ_MAX_LINE 512

static void check(int ok)
{
    if (!ok)
        abort();
}

/* An accepted address prints back as itself; a refused one leaves nothing behind. */
static void check_address(const char *s)
{
    struct aoip_channel_addr a;
    char back[2 * AOIP_NAME_MAX + 8];

    if (aoip_channel_addr_parse(&a, s) != 0) {
        check(a.node[0] == '\0' && a.channel[0] == '\0' && a.index == 0);
        return;
    }
    check(aoip_name_valid(a.node, strlen(a.node)));
    if (a.index > 0) {
        check(a.channel[0] == '\0' && a.index <= 999999);
        snprintf(back, sizeof(back), "%s/%u", a.node, a.index);
    } else {
        check(aoip_name_valid(a.channel, strlen(a.channel)));
        snprintf(back, sizeof(back), "%s/%s", a.node, a.channel);
    }
    check(strcmp(back, s) == 0);
}

static void check_message(json_t *msg)
{
    static const char *const fields[] = { "cmd", "source", "destination" };
    char err[128];
    size_t len;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *s = json_string_value(json_object_get(msg, fields[i]));
        if (s)
            check_address(s);
    }

    /* What the daemon would send back: one line that reads as the same object. */
    char *line = aoip_control_dump(msg, &len);
    check(line != NULL);
    check(len == strlen(line) && line[len - 1] == '\n');
    check(memchr(line, '\n', len - 1) == NULL);
    json_t *back = aoip_control_parse(line, len - 1, err, sizeof(err));
    check(back != NULL && json_equal(back, msg));
    json_decref(back);
    free(line);

    /* An error quoting the client's words always makes an envelope. */
    const char *cmd = json_string_value(json_object_get(msg, "cmd"));
    json_t *fail =
        aoip_control_fail(1, AOIP_CODE_UNKNOWN_COMMAND, "no command '%s'", cmd ? cmd : "");
    check(fail != NULL);
    json_decref(fail);
}

struct framing {
    uint64_t digest; /* FNV-1a over every line and too-long report, in order */
    size_t lines, too_long;
    bool parse; /* parse the lines (the first pass) or only frame them */
};

static void digest(struct framing *f, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        f->digest = (f->digest ^ b[i]) * 0x100000001b3ULL;
}

static int on_line(void *arg, char *line, size_t len)
{
    struct framing *f = arg;
    char err[128];

    if (!line) {
        check(len == 0);
        f->too_long++;
        digest(f, "\xff<too long>", 11);
        return 0;
    }
    /* The line and its newline fit the limit; the newline itself is gone. */
    check(len + 1 <= FUZZ_MAX_LINE);
    check(line[len] == '\0');
    check(memchr(line, '\n', len) == NULL);
    f->lines++;
    digest(f, line, len + 1);
    /* "stop" closes the connection: the rest of the input goes unread. */
    if (len == 4 && memcmp(line, "stop", 4) == 0)
        return 1;
    if (!f->parse)
        return 0;

    err[0] = '\0';
    json_t *msg = aoip_control_parse(line, len, err, sizeof(err));
    if (!msg) {
        check(err[0] != '\0' && strlen(err) < sizeof(err));
        return 0;
    }
    check(json_is_object(msg));
    check_message(msg);
    json_decref(msg);
    return 0;
}

/* Frames data through a fresh line buffer, chunk bytes at a time (0: all at once). */
static void frame(const uint8_t *data, size_t size, size_t chunk, struct framing *f)
{
    struct aoip_linebuf lb;
    int rc = 0;

    f->digest = 0xcbf29ce484222325ULL;
    f->lines = f->too_long = 0;
    check(aoip_linebuf_init(&lb, FUZZ_MAX_LINE) == 0);
    for (size_t at = 0; at < size && rc == 0;) {
        size_t n = chunk && size - at > chunk ? chunk : size - at;
        rc = aoip_linebuf_feed(&lb, (const char *)data + at, n, on_line, f);
        check(rc == 0 || rc == 1);
        at += n;
    }
    aoip_linebuf_close(&lb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct framing whole = { .parse = true }, pieces = { .parse = false };

    frame(data, size, 0, &whole);
    frame(data, size, size ? 1 + data[0] % 97 : 1, &pieces);
    check(whole.digest == pieces.digest);
    check(whole.lines == pieces.lines && whole.too_long == pieces.too_long);

    char *s = malloc(size + 1);
    check(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    check_address(s);
    aoip_name_valid(s, size);
    free(s);
    return 0;
}
