/*
 * test_control.c: the message plumbing of lib/control.c, which meets the
 * bytes of strangers on the control and peer sockets.
 *
 * Line framing is fed the way a socket delivers: lines cut at arbitrary
 * points across feeds, several lines in one feed, lines exactly at the
 * limit and one byte over. Every callback is recorded, so a test states
 * the exact sequence of lines (and too-long reports) it expects. Envelopes
 * are compared with the exact line that goes on the wire.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/control.h"

/* ---- a recorder for the line callback ---- */

#define MAX_SEEN 16
#define TOO_LONG "<too long>"

struct seen {
    char line[MAX_SEEN][128];
    size_t len[MAX_SEEN];
    size_t n;
    size_t stop_at; /* return 7 from the callback for this call (1-based), 0: never */
};

static int record(void *arg, char *line, size_t len)
{
    struct seen *s = arg;

    assert_true(s->n < MAX_SEEN);
    if (line) {
        assert_true(len < sizeof(s->line[0]));
        /* The line is NUL-terminated right after its length. */
        assert_int_equal(line[len], '\0');
        memcpy(s->line[s->n], line, len + 1);
    } else {
        assert_int_equal(len, 0);
        strcpy(s->line[s->n], TOO_LONG);
    }
    s->len[s->n] = len;
    s->n++;
    return s->n == s->stop_at ? 7 : 0;
}

static int feed(struct aoip_linebuf *lb, struct seen *s, const char *data)
{
    return aoip_linebuf_feed(lb, data, strlen(data), record, s);
}

/* ---- line framing ---- */

static void linebuf_joins_a_line_split_across_feeds(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { 0 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 64), 0);
    assert_int_equal(feed(&lb, &s, "{\"cmd\":"), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(feed(&lb, &s, "\"st"), 0);
    assert_int_equal(feed(&lb, &s, "atus\"}\n"), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.line[0], "{\"cmd\":\"status\"}");
    assert_int_equal(s.len[0], 16);
    aoip_linebuf_close(&lb);
}

static void linebuf_delivers_every_line_of_one_feed_in_order(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { 0 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 64), 0);
    assert_int_equal(feed(&lb, &s, "one\ntwo\n\nthree\nfou"), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.line[0], "one");
    assert_string_equal(s.line[1], "two");
    assert_string_equal(s.line[2], "");
    assert_int_equal(s.len[2], 0);
    assert_string_equal(s.line[3], "three");
    assert_int_equal(feed(&lb, &s, "r\n"), 0);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.line[4], "four");
    aoip_linebuf_close(&lb);
}

static void linebuf_drops_one_cr_before_the_newline_only(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { 0 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 64), 0);
    assert_int_equal(feed(&lb, &s, "crlf\r\na\rb\n"), 0);
    /* A CR at the end of one feed and its LF in the next. */
    assert_int_equal(feed(&lb, &s, "split\r"), 0);
    assert_int_equal(feed(&lb, &s, "\ntwo\r\r\n"), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.line[0], "crlf");
    assert_int_equal(s.len[0], 4);
    assert_string_equal(s.line[1], "a\rb");
    assert_string_equal(s.line[2], "split");
    assert_string_equal(s.line[3], "two\r");
    aoip_linebuf_close(&lb);
}

static void linebuf_passes_nul_bytes_inside_a_line_with_its_length(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { 0 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 64), 0);
    assert_int_equal(aoip_linebuf_feed(&lb, "a\0b\n", 4, record, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.len[0], 3);
    assert_memory_equal(s.line[0], "a\0b", 4);
    aoip_linebuf_close(&lb);
}

static void linebuf_takes_a_line_of_exactly_the_limit(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { 0 };
    (void)state;

    /* 8 bytes, newline included. */
    assert_int_equal(aoip_linebuf_init(&lb, 8), 0);
    assert_int_equal(feed(&lb, &s, "1234567\n"), 0);
    assert_int_equal(feed(&lb, &s, "abc"), 0);
    assert_int_equal(feed(&lb, &s, "defg"), 0);
    assert_int_equal(feed(&lb, &s, "\n"), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.line[0], "1234567");
    assert_string_equal(s.line[1], "abcdefg");
    aoip_linebuf_close(&lb);
}

static void linebuf_reports_a_line_one_byte_over_the_limit(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { 0 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 8), 0);
    assert_int_equal(feed(&lb, &s, "12345678\nok\n"), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.line[0], TOO_LONG);
    assert_string_equal(s.line[1], "ok");
    aoip_linebuf_close(&lb);
}

static void linebuf_reports_a_long_line_once_and_resumes_after_its_newline(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { 0 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 8), 0);
    assert_int_equal(feed(&lb, &s, "12345"), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(feed(&lb, &s, "6789"), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.line[0], TOO_LONG);
    /* The rest of the long line, however much, is discarded silently. */
    assert_int_equal(feed(&lb, &s, "abcdefghijklmnopqrstuvwxyz"), 0);
    assert_int_equal(feed(&lb, &s, "{\"still\": \"the same line\"}"), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(feed(&lb, &s, "end\nnext\nlast"), 0);
    assert_int_equal(feed(&lb, &s, "\n"), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.line[1], "next");
    assert_string_equal(s.line[2], "last");
    aoip_linebuf_close(&lb);
}

static void linebuf_stops_when_the_callback_says_so(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { .stop_at = 2 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 64), 0);
    assert_int_equal(feed(&lb, &s, "one\ntwo\nthree\n"), 7);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.line[1], "two");
    /* Taken: up to and with the newline of "two"; "three\n" is left to feed later. */
    assert_int_equal(lb.used, 8);
    aoip_linebuf_close(&lb);
}

static void linebuf_resumes_where_it_stopped(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { .stop_at = 1 };
    const char *in = "first\nsecond\nthi";
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 64), 0);
    assert_int_equal(feed(&lb, &s, in), 7);
    assert_int_equal(lb.used, 6);
    s.stop_at = 0;
    assert_int_equal(aoip_linebuf_feed(&lb, in + lb.used, strlen(in) - lb.used, record, &s), 0);
    assert_int_equal(lb.used, strlen(in) - 6);
    assert_int_equal(feed(&lb, &s, "rd\n"), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.line[1], "second");
    assert_string_equal(s.line[2], "third");
    aoip_linebuf_close(&lb);
}

static void linebuf_stops_when_the_callback_refuses_a_long_line(void **state)
{
    struct aoip_linebuf lb;
    struct seen s = { .stop_at = 1 };
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 4), 0);
    assert_int_equal(feed(&lb, &s, "toolong\nnext\n"), 7);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.line[0], TOO_LONG);
    assert_int_equal(lb.used, 8);
    aoip_linebuf_close(&lb);
}

static void linebuf_refuses_a_limit_with_no_room_for_a_line(void **state)
{
    struct aoip_linebuf lb;
    (void)state;

    assert_int_equal(aoip_linebuf_init(&lb, 1), -EINVAL);
    aoip_linebuf_close(&lb);
    assert_int_equal(aoip_linebuf_init(&lb, 2), 0);
    aoip_linebuf_close(&lb);
    /* Closing twice is harmless, as cleanup paths need. */
    aoip_linebuf_close(&lb);
}

/* ---- names ---- */

static bool name_ok(const char *s)
{
    return aoip_name_valid(s, strlen(s));
}

static void name_valid_accepts_the_name_alphabet(void **state)
{
    char longest[AOIP_NAME_MAX];
    (void)state;

    assert_true(name_ok("stage"));
    assert_true(name_ok("Mic-1_L.x"));
    assert_true(name_ok("a"));
    assert_true(name_ok("1a"));
    assert_true(name_ok("-"));
    memset(longest, 'n', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    assert_true(name_ok(longest));
}

static void name_valid_refuses_empty_overlong_digits_and_other_bytes(void **state)
{
    char overlong[AOIP_NAME_MAX + 1];
    (void)state;

    memset(overlong, 'n', sizeof(overlong) - 1);
    overlong[sizeof(overlong) - 1] = '\0';
    assert_false(name_ok(overlong));
    assert_false(name_ok(""));
    assert_false(name_ok("12"));
    assert_false(name_ok("mic 1"));
    assert_false(name_ok("stage/mic1"));
    assert_false(name_ok("mic+"));
    assert_false(name_ok("b\xc3\xbchne"));
    assert_false(aoip_name_valid("a\0b", 3));
    /* Only len bytes count: the valid prefix of a longer string is valid. */
    assert_true(aoip_name_valid("ab cd", 2));
}

/* ---- channel addresses ---- */

static void addr_parses_node_and_name(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "stage/mic1"), 0);
    assert_string_equal(a.node, "stage");
    assert_string_equal(a.channel, "mic1");
    assert_int_equal(a.index, 0);
}

static void addr_parses_node_and_number(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "truck/3"), 0);
    assert_string_equal(a.node, "truck");
    assert_string_equal(a.channel, "");
    assert_int_equal(a.index, 3);
    assert_int_equal(aoip_channel_addr_parse(&a, "truck/999999"), 0);
    assert_int_equal(a.index, 999999);
}

static void addr_reads_a_name_with_digits_as_a_name(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "truck/3a"), 0);
    assert_string_equal(a.channel, "3a");
    assert_int_equal(a.index, 0);
}

static void addr_refuses_number_zero_and_leading_zeros(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "stage/0"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/01"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/000"), -EINVAL);
}

static void addr_refuses_a_number_longer_than_six_digits(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "stage/1234567"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/99999999999999999999"), -EINVAL);
}

static void addr_refuses_a_missing_slash_node_or_channel(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "stage"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "/mic1"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "/"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, ""), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, NULL), -EINVAL);
}

static void addr_refuses_invalid_characters(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "st age/mic1"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/mic 1"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/mic/1"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/+1"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/ 1"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "12/mic1"), -EINVAL);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/mic1\n"), -EINVAL);
}

static void addr_takes_names_up_to_the_limit_and_refuses_longer(void **state)
{
    struct aoip_channel_addr a;
    char s[3 * AOIP_NAME_MAX];
    (void)state;

    /* 63-byte node and channel: the longest names. */
    memset(s, 'n', 63);
    s[63] = '/';
    memset(s + 64, 'c', 63);
    s[127] = '\0';
    assert_int_equal(aoip_channel_addr_parse(&a, s), 0);
    assert_int_equal(strlen(a.node), 63);
    assert_int_equal(strlen(a.channel), 63);

    s[127] = 'c';
    s[128] = '\0';
    assert_int_equal(aoip_channel_addr_parse(&a, s), -EINVAL);

    memset(s, 'n', 64);
    s[64] = '/';
    strcpy(s + 65, "mic1");
    assert_int_equal(aoip_channel_addr_parse(&a, s), -EINVAL);
}

static void addr_leaves_nothing_behind_on_failure(void **state)
{
    struct aoip_channel_addr a;
    (void)state;

    assert_int_equal(aoip_channel_addr_parse(&a, "truck/7"), 0);
    assert_int_equal(aoip_channel_addr_parse(&a, "stage/mic 1"), -EINVAL);
    assert_string_equal(a.node, "");
    assert_string_equal(a.channel, "");
    assert_int_equal(a.index, 0);
}

/* ---- parsing ---- */

static void parse_returns_the_object(void **state)
{
    const char line[] = "{\"id\": 7, \"cmd\": \"route.add\", \"source\": \"stage/mic1\"}";
    char err[128] = "";
    (void)state;

    json_t *msg = aoip_control_parse(line, strlen(line), err, sizeof(err));
    assert_non_null(msg);
    assert_int_equal(json_integer_value(json_object_get(msg, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(msg, "cmd")), "route.add");
    json_decref(msg);
}

static void parse_reads_only_len_bytes(void **state)
{
    const char line[] = "{\"cmd\": \"nodes\"}garbage";
    char err[128];
    (void)state;

    json_t *msg = aoip_control_parse(line, 16, err, sizeof(err));
    assert_non_null(msg);
    json_decref(msg);
}

static void parse_refuses_what_is_not_json(void **state)
{
    const char *bad[] = {
        "hello", "", "{\"cmd\": }", "{\"cmd\": \"status\"} {}", "{\"cmd\": \"status\"", "{'cmd': 1}"
    };
    char err[128];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(aoip_control_parse(bad[i], strlen(bad[i]), err, sizeof(err)));
        assert_memory_equal(err, "not JSON: ", 10);
        assert_null(strchr(err, '\n'));
    }
}

static void parse_refuses_json_that_is_not_an_object(void **state)
{
    const char *bad[] = { "[1, 2]", "42", "\"status\"", "null", "true" };
    char err[128];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(aoip_control_parse(bad[i], strlen(bad[i]), err, sizeof(err)));
        assert_string_equal(err, "not a JSON object");
    }
}

static void parse_refuses_a_field_given_twice(void **state)
{
    const char line[] = "{\"cmd\": \"route.add\", \"source\": \"a/1\", \"source\": \"b/1\"}";
    char err[128] = "";
    (void)state;

    assert_null(aoip_control_parse(line, strlen(line), err, sizeof(err)));
    assert_memory_equal(err, "not JSON: ", 10);
    assert_non_null(strstr(err, "duplicate"));
}

static void parse_refuses_a_nul_byte(void **state)
{
    const char line[] = "{\"cmd\": \"sta\0tus\"}";
    char err[128];
    (void)state;

    assert_null(aoip_control_parse(line, sizeof(line) - 1, err, sizeof(err)));
}

static void parse_cuts_the_reason_to_the_room_given(void **state)
{
    char err[8];
    (void)state;

    memset(err, 'x', sizeof(err));
    assert_null(aoip_control_parse("hello", 5, err, sizeof(err)));
    assert_int_equal(strlen(err), 7);
}

/* ---- envelopes and dump ---- */

static char *dump(const json_t *msg, size_t *len)
{
    char *line = aoip_control_dump(msg, len);

    assert_non_null(line);
    return line;
}

static void ok_envelope_carries_id_and_result(void **state)
{
    size_t len;
    (void)state;

    json_t *msg =
        aoip_control_ok(7, json_pack("{s:s, s:f}", "source", "stage/mic1", "gain_db", -6.0));
    char *line = dump(msg, &len);
    assert_string_equal(
        line, "{\"id\":7,\"ok\":true,\"result\":{\"source\":\"stage/mic1\",\"gain_db\":-6."
              "0}}\n");
    assert_int_equal(len, strlen(line));
    free(line);
    json_decref(msg);
}

static void ok_envelope_without_result_carries_an_empty_object(void **state)
{
    (void)state;

    json_t *msg = aoip_control_ok(0, NULL);
    char *line = dump(msg, NULL);
    assert_string_equal(line, "{\"id\":0,\"ok\":true,\"result\":{}}\n");
    free(line);
    json_decref(msg);
}

static void fail_envelope_carries_code_and_error(void **state)
{
    (void)state;

    json_t *msg = aoip_control_fail(12, AOIP_CODE_NOT_FOUND, "no source '%s'", "stage/mic9");
    char *line = dump(msg, NULL);
    assert_string_equal(line, "{\"id\":12,\"ok\":false,\"code\":\"not_found\","
                              "\"error\":\"no source 'stage/mic9'\"}\n");
    free(line);
    json_decref(msg);
}

static void fail_envelope_cuts_long_text_between_characters(void **state)
{
    char text[1201];
    (void)state;

    /* "xy" then "é" (2 bytes) repeated: bytes 510 and 511 are one "é", cut by the limit. */
    memcpy(text, "xy", 2);
    for (size_t i = 2; i < 1200; i += 2)
        memcpy(text + i, "\xc3\xa9", 2);
    text[1200] = '\0';
    json_t *msg = aoip_control_fail(1, AOIP_CODE_REFUSED, "%s", text);
    assert_non_null(msg);
    const char *error = json_string_value(json_object_get(msg, "error"));
    assert_non_null(error);
    assert_int_equal(strlen(error), 510);
    assert_memory_equal(error, text, 510);
    json_decref(msg);
}

static void fail_envelope_survives_text_that_is_not_utf8(void **state)
{
    (void)state;

    json_t *msg = aoip_control_fail(3, AOIP_CODE_BAD_REQUEST, "no node '%s'", "st\xff\xfe");
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(msg, "error")), "no node 'st?"
                                                                          "?'");
    json_decref(msg);
}

static void code_names_round_trip(void **state)
{
    static const char *const names[] = {
        "ok", "bad_request", "too_long", "unknown_command", "not_found", "refused", "unreachable"
    };
    (void)state;

    for (int c = AOIP_CODE_OK; c <= AOIP_CODE_UNREACHABLE; c++) {
        assert_string_equal(aoip_control_code_name((enum aoip_control_code)c), names[c]);
        assert_int_equal(aoip_control_code_parse(names[c]), c);
    }
    assert_int_equal(aoip_control_code_parse("no_such_code"), AOIP_CODE_BAD_REQUEST);
    assert_int_equal(aoip_control_code_parse(NULL), AOIP_CODE_BAD_REQUEST);
    assert_string_equal(aoip_control_code_name((enum aoip_control_code)99), "bad_request");
}

static void dump_is_one_line_even_when_strings_hold_newlines(void **state)
{
    size_t len;
    (void)state;

    json_t *msg = json_pack("{s:s}", "error", "line one\nline two\r\n\tend");
    char *line = dump(msg, &len);
    assert_int_equal(len, strlen(line));
    assert_int_equal(line[len - 1], '\n');
    assert_ptr_equal(strchr(line, '\n'), line + len - 1);
    assert_null(strchr(line, '\r'));
    /* And it reads back as the same text. */
    char err[128];
    json_t *back = aoip_control_parse(line, len - 1, err, sizeof(err));
    assert_non_null(back);
    assert_true(json_equal(back, msg));
    json_decref(back);
    free(line);
    json_decref(msg);
}

/* {"s":"..."}: 8 bytes of frame around n bytes of string, plus the newline. */
static json_t *message_of_line_length(size_t total)
{
    size_t n = total - 9;
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, 'x', n);
    s[n] = '\0';
    json_t *msg = json_pack("{s:s}", "s", s);
    free(s);
    return msg;
}

static void dump_takes_a_line_of_exactly_the_limit(void **state)
{
    size_t len;
    (void)state;

    json_t *msg = message_of_line_length(AOIP_CONTROL_MAX_LINE);
    char *line = dump(msg, &len);
    assert_int_equal(len, AOIP_CONTROL_MAX_LINE);
    free(line);
    json_decref(msg);
}

static void dump_refuses_a_line_over_the_limit(void **state)
{
    size_t len = 12345;
    (void)state;

    json_t *msg = message_of_line_length(AOIP_CONTROL_MAX_LINE + 1);
    assert_null(aoip_control_dump(msg, &len));
    json_decref(msg);
}

static void json_db_is_null_for_silence(void **state)
{
    (void)state;

    json_t *v = aoip_json_db(-INFINITY);
    assert_true(json_is_null(v));
    json_decref(v);
    v = aoip_json_db(NAN);
    assert_true(json_is_null(v));
    json_decref(v);
    v = aoip_json_db(-23.5);
    assert_true(json_is_real(v));
    assert_float_equal(json_real_value(v), -23.5, 0);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linebuf_joins_a_line_split_across_feeds),
        cmocka_unit_test(linebuf_delivers_every_line_of_one_feed_in_order),
        cmocka_unit_test(linebuf_drops_one_cr_before_the_newline_only),
        cmocka_unit_test(linebuf_passes_nul_bytes_inside_a_line_with_its_length),
        cmocka_unit_test(linebuf_takes_a_line_of_exactly_the_limit),
        cmocka_unit_test(linebuf_reports_a_line_one_byte_over_the_limit),
        cmocka_unit_test(linebuf_reports_a_long_line_once_and_resumes_after_its_newline),
        cmocka_unit_test(linebuf_stops_when_the_callback_says_so),
        cmocka_unit_test(linebuf_resumes_where_it_stopped),
        cmocka_unit_test(linebuf_stops_when_the_callback_refuses_a_long_line),
        cmocka_unit_test(linebuf_refuses_a_limit_with_no_room_for_a_line),
        cmocka_unit_test(name_valid_accepts_the_name_alphabet),
        cmocka_unit_test(name_valid_refuses_empty_overlong_digits_and_other_bytes),
        cmocka_unit_test(addr_parses_node_and_name),
        cmocka_unit_test(addr_parses_node_and_number),
        cmocka_unit_test(addr_reads_a_name_with_digits_as_a_name),
        cmocka_unit_test(addr_refuses_number_zero_and_leading_zeros),
        cmocka_unit_test(addr_refuses_a_number_longer_than_six_digits),
        cmocka_unit_test(addr_refuses_a_missing_slash_node_or_channel),
        cmocka_unit_test(addr_refuses_invalid_characters),
        cmocka_unit_test(addr_takes_names_up_to_the_limit_and_refuses_longer),
        cmocka_unit_test(addr_leaves_nothing_behind_on_failure),
        cmocka_unit_test(parse_returns_the_object),
        cmocka_unit_test(parse_reads_only_len_bytes),
        cmocka_unit_test(parse_refuses_what_is_not_json),
        cmocka_unit_test(parse_refuses_json_that_is_not_an_object),
        cmocka_unit_test(parse_refuses_a_field_given_twice),
        cmocka_unit_test(parse_refuses_a_nul_byte),
        cmocka_unit_test(parse_cuts_the_reason_to_the_room_given),
        cmocka_unit_test(ok_envelope_carries_id_and_result),
        cmocka_unit_test(ok_envelope_without_result_carries_an_empty_object),
        cmocka_unit_test(fail_envelope_carries_code_and_error),
        cmocka_unit_test(fail_envelope_cuts_long_text_between_characters),
        cmocka_unit_test(fail_envelope_survives_text_that_is_not_utf8),
        cmocka_unit_test(code_names_round_trip),
        cmocka_unit_test(dump_is_one_line_even_when_strings_hold_newlines),
        cmocka_unit_test(dump_takes_a_line_of_exactly_the_limit),
        cmocka_unit_test(dump_refuses_a_line_over_the_limit),
        cmocka_unit_test(json_db_is_null_for_silence),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
