/*
 * test_txt.c: the DNS-SD TXT record of an aoip node (RFC 6763 section 6):
 * what aoipd publishes reads back to the same fields, every AOIP_ETXT_*
 * code is reached by the kind of mistake it names, the RFC's rules (keys
 * without case, the first of two keys, boolean attributes, empty strings)
 * hold, and garbage is refused without a read past its end.
 *
 * Every record the parser is given sits in a heap block of exactly its
 * length, so under the sanitizer build a read one byte past the end is a
 * failure, not a silent pass.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/txt.h"
#include "netmodel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ID "3f9a1c0e5b7d2a64"

/* A record of the given strings (NULL-terminated list), each with its length byte. */
static size_t record(uint8_t *buf, size_t cap, ...)
{
    va_list ap;
    size_t pos = 0;
    const char *s;

    va_start(ap, cap);
    while ((s = va_arg(ap, const char *)) != NULL) {
        size_t n = strlen(s);
        assert_true(n <= 255 && pos + 1 + n <= cap);
        buf[pos++] = (uint8_t)n;
        memcpy(buf + pos, s, n);
        pos += n;
    }
    va_end(ap);
    return pos;
}

static int parse_bytes(struct aoip_txt *t, const uint8_t *data, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);

    assert_non_null(p);
    if (len > 0)
        memcpy(p, data, len);
    int ret = aoip_txt_parse(t, p, len);
    free(p);
    return ret;
}

static bool is_txt_error(int ret)
{
    return ret <= AOIP_ETXT_TRUNCATED && ret >= AOIP_ETXT_COUNT;
}

/* Whether the length bytes of data[0..len) all stay inside it: the model of truncation. */
static bool well_framed(const uint8_t *data, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        size_t n = data[pos];
        if (n > len - pos - 1)
            return false;
        pos += 1 + n;
    }
    return true;
}

static void txt_reads_a_nodes_record(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=48000", "tx=4", "rx=2", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_int_equal(t.version, 1);
    assert_string_equal(t.id, ID);
    assert_int_equal(t.sample_rate, 48000);
    assert_int_equal(t.tx, 4);
    assert_int_equal(t.rx, 2);
}

static void txt_optional_keys_read_as_zero_when_absent(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "id=" ID, "v=1", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_string_equal(t.id, ID);
    assert_int_equal(t.sample_rate, 0);
    assert_int_equal(t.tx, 0);
    assert_int_equal(t.rx, 0);
}

static void txt_build_writes_the_published_bytes(void **state)
{
    (void)state;
    struct aoip_txt t = { .version = 1, .id = ID, .sample_rate = 96000, .tx = 64, .rx = 0 };
    uint8_t want[128], got[AOIP_TXT_MAX];
    size_t n = record(want, sizeof want, "v=1", "id=" ID, "sr=96000", "tx=64", "rx=0", NULL);

    assert_int_equal(aoip_txt_build(got, sizeof got, &t), (int)n);
    assert_memory_equal(got, want, n);
}

static void txt_build_leaves_out_an_unknown_sample_rate(void **state)
{
    (void)state;
    struct aoip_txt t = { .version = 1, .id = ID, .sample_rate = 0, .tx = 1, .rx = 1 };
    uint8_t want[128], got[AOIP_TXT_MAX];
    size_t n = record(want, sizeof want, "v=1", "id=" ID, "tx=1", "rx=1", NULL);

    assert_int_equal(aoip_txt_build(got, sizeof got, &t), (int)n);
    assert_memory_equal(got, want, n);
}

static void txt_round_trips_build_and_parse(void **state)
{
    (void)state;
    const struct aoip_txt cases[] = {
        { .version = 1, .id = ID, .sample_rate = 48000, .tx = 4, .rx = 2 },
        { .version = 1, .id = "0000000000000000", .sample_rate = 8000, .tx = 0, .rx = 0 },
        { .version = 1, .id = "ffffffffffffffff", .sample_rate = 192000, .tx = 65535, .rx = 65535 },
        { .version = 1, .id = "0123456789abcdef", .sample_rate = 0, .tx = 7, .rx = 65535 },
        { .version = 1, .id = "a0a0a0a0a0a0a0a0", .sample_rate = 44100, .tx = 256, .rx = 128 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t buf[AOIP_TXT_MAX];
        struct aoip_txt t;
        int n = aoip_txt_build(buf, sizeof buf, &cases[i]);
        assert_in_range(n, 1, AOIP_TXT_MAX);
        assert_int_equal(parse_bytes(&t, buf, (size_t)n), 0);
        assert_int_equal(t.version, cases[i].version);
        assert_string_equal(t.id, cases[i].id);
        assert_int_equal(t.sample_rate, cases[i].sample_rate);
        assert_int_equal(t.tx, cases[i].tx);
        assert_int_equal(t.rx, cases[i].rx);
    }
}

static void txt_build_largest_record_fits_txt_max(void **state)
{
    (void)state;
    struct aoip_txt t = { .version = 1, .id = ID, .sample_rate = 192000, .tx = 65535, .rx = 65535 };
    uint8_t buf[256];

    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), 52);
    assert_true(52 <= AOIP_TXT_MAX);
}

static void txt_build_refuses_small_buffer(void **state)
{
    (void)state;
    struct aoip_txt t = { .version = 1, .id = ID, .sample_rate = 48000, .tx = 4, .rx = 2 };
    uint8_t buf[AOIP_TXT_MAX];
    int n = aoip_txt_build(buf, sizeof buf, &t);

    assert_true(n > 0);
    for (int cap = 0; cap < n; cap++)
        assert_int_equal(aoip_txt_build(buf, (size_t)cap, &t), -ENOSPC);
    assert_int_equal(aoip_txt_build(buf, (size_t)n, &t), n);
}

static void txt_build_refuses_fields_parse_would_refuse(void **state)
{
    (void)state;
    const struct aoip_txt good = { .version = 1, .id = ID, .sample_rate = 48000, .tx = 4, .rx = 2 };
    uint8_t buf[AOIP_TXT_MAX];
    struct aoip_txt t;

    t = good, t.version = 2;
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, t.version = 0;
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, memcpy(t.id, "3F9A1C0E5B7D2A64", 17);
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, memcpy(t.id, "3f9a1c0e5b7d2a6", 16);
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, memset(t.id, 'a', sizeof t.id); /* no NUL anywhere */
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, t.sample_rate = 7999;
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, t.sample_rate = 192001;
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, t.tx = 65536;
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
    t = good, t.rx = 65536;
    assert_int_equal(aoip_txt_build(buf, sizeof buf, &t), -EINVAL);
}

static void txt_truncated_string_is_refused(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=48000", "tx=4", "rx=2", NULL);

    /* Every cut inside a string is a truncation; a cut between strings is a shorter record. */
    for (size_t len = 0; len < n; len++) {
        int ret = parse_bytes(&t, buf, len);
        if (well_framed(buf, len))
            assert_int_not_equal(ret, AOIP_ETXT_TRUNCATED);
        else
            assert_int_equal(ret, AOIP_ETXT_TRUNCATED);
    }
    /* A length byte that lies about the last string, and a lone length byte. */
    n = record(buf, sizeof buf, "v=1", "id=" ID, NULL);
    buf[n] = 5;
    assert_int_equal(parse_bytes(&t, buf, n + 1), AOIP_ETXT_TRUNCATED);
    buf[4] = 255;
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_TRUNCATED);
}

static void txt_truncation_outranks_other_errors(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=2", NULL);

    buf[n++] = 9; /* a string of 9 with 2 bytes left */
    buf[n++] = 'x';
    buf[n++] = 'y';
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_TRUNCATED);
}

static void txt_without_version_is_refused(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    const uint8_t rfc_empty[] = { 0 }; /* RFC 6763 6.1: an empty TXT is one empty string */
    size_t n = record(buf, sizeof buf, "id=" ID, "sr=48000", "tx=4", "rx=2", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_NO_VERSION);
    assert_int_equal(parse_bytes(&t, rfc_empty, sizeof rfc_empty), AOIP_ETXT_NO_VERSION);
    assert_int_equal(parse_bytes(&t, buf, 0), AOIP_ETXT_NO_VERSION);
    /* "v =1" has the key "v " (spaces are significant, section 6.4): not v. */
    n = record(buf, sizeof buf, "v =1", "id=" ID, NULL);
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_NO_VERSION);
}

static void txt_of_another_version_is_reported(void **state)
{
    (void)state;
    const char *versions[] = { "v=2",   "v=0",  "v=10",
                               "v=",    "v",    "v=1.0",
                               "v=one", "v= 1", "v=99999999999999999999" };
    uint8_t buf[128];
    struct aoip_txt t;

    for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
        size_t n = record(buf, sizeof buf, versions[i], "id=" ID, "sr=48000", NULL);
        assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_VERSION);
    }
    /* Another version is reported even when the rest would be wrong for version 1. */
    size_t n = record(buf, sizeof buf, "v=2", "id=something-else", NULL);
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_VERSION);
}

static void txt_without_id_is_refused(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=1", "sr=48000", "tx=4", "rx=2", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_NO_ID);
    /* Even when sr is wrong too: the missing id comes first. */
    n = record(buf, sizeof buf, "v=1", "sr=5", NULL);
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_NO_ID);
}

static void txt_with_malformed_id_is_refused(void **state)
{
    (void)state;
    const char *ids[] = {
        "id=3F9A1C0E5B7D2A64",  /* uppercase: ids compare as strings */
        "id=3f9a1c0e5b7d2a6",   /* 15 digits */
        "id=3f9a1c0e5b7d2a640", /* 17 digits */
        "id=3f9a1c0e5b7d2a6g",  /* not hex */
        "id= 3f9a1c0e5b7d2a6",  /* a space */
        "id=",                  /* empty value */
        "id",                   /* boolean attribute */
    };
    uint8_t buf[128];
    struct aoip_txt t;

    for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
        size_t n = record(buf, sizeof buf, "v=1", ids[i], "sr=48000", NULL);
        assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_ID);
    }
    /* A NUL inside the id is a malformed id, not a shorter one. */
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, NULL);
    buf[4 + 1 + 3 + 5] = '\0';
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_ID);
}

static void txt_with_malformed_sample_rate_is_refused(void **state)
{
    (void)state;
    const char *rates[] = {
        "sr=7999",   "sr=192001", "sr=48k",    "sr=",  "sr",
        "sr=-48000", "sr=+48000", "sr=48000 ", "sr=0", "sr=99999999999999999999999"
    };
    uint8_t buf[128];
    struct aoip_txt t;

    for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
        size_t n = record(buf, sizeof buf, "v=1", "id=" ID, rates[i], "tx=1", NULL);
        assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_SAMPLE_RATE);
    }
}

static void txt_sample_rate_range_is_inclusive(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=8000", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_int_equal(t.sample_rate, 8000);
    n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=192000", NULL);
    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_int_equal(t.sample_rate, 192000);
    n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=0048000", NULL);
    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_int_equal(t.sample_rate, 48000);
}

static void txt_with_malformed_count_is_refused(void **state)
{
    (void)state;
    const char *counts[] = { "tx=65536", "rx=65536", "tx=",   "rx",           "tx=-1",
                             "rx=1e3",   "tx=0x10",  "rx= 2", "tx=4294967297" };
    uint8_t buf[128];
    struct aoip_txt t;

    for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
        size_t n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=48000", counts[i], NULL);
        assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_COUNT);
    }
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, "tx=65535", "rx=0", NULL);
    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_int_equal(t.tx, 65535);
    assert_int_equal(t.rx, 0);
}

static void txt_sample_rate_error_outranks_count_error(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "tx=x", "v=1", "sr=1", "id=" ID, NULL);

    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_SAMPLE_RATE);
}

static void txt_keys_compare_without_case(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "V=1", "Id=" ID, "SR=44100", "Tx=3", "rX=5", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_string_equal(t.id, ID);
    assert_int_equal(t.sample_rate, 44100);
    assert_int_equal(t.tx, 3);
    assert_int_equal(t.rx, 5);
}

static void txt_values_keep_their_case(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t;
    /* Only keys fold: an id value in capitals is still a malformed id. */
    size_t n = record(buf, sizeof buf, "V=1", "ID=3F9A1C0E5B7D2A64", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_ID);
}

static void txt_first_of_duplicate_keys_wins(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=48000", "tx=4", "rx=2", "V=2",
                      "id=0000000000000000", "sr=96000", "TX=9", "rx=junk", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_string_equal(t.id, ID);
    assert_int_equal(t.sample_rate, 48000);
    assert_int_equal(t.tx, 4);
    assert_int_equal(t.rx, 2);
}

static void txt_first_of_duplicate_keys_wins_when_malformed(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=1", "id=bad", "id=" ID, NULL);

    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_ID);
    n = record(buf, sizeof buf, "v=2", "v=1", "id=" ID, NULL);
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_VERSION);
    /* A boolean first occurrence counts too: "v" alone is a v without a value. */
    n = record(buf, sizeof buf, "v", "v=1", "id=" ID, NULL);
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_VERSION);
}

static void txt_ignores_unknown_keys_and_boolean_attributes(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "txtvers=1", "v=1", "secure", "model=Stage Box", "id=" ID,
                      "vv=2", "ids=x", "s=", "sr=48000", "futurekey=a=b=c", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_string_equal(t.id, ID);
    assert_int_equal(t.sample_rate, 48000);
}

static void txt_ignores_empty_strings_and_missing_keys(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct aoip_txt t;
    /* Section 6.4: "=1" has no key and is ignored, not taken for anything. */
    size_t n = record(buf, sizeof buf, "", "=2", "v=1", "", "", "=", "id=" ID, "", NULL);

    assert_int_equal(parse_bytes(&t, buf, n), 0);
    assert_int_equal(t.version, 1);
    assert_string_equal(t.id, ID);
}

static void txt_value_may_hold_any_bytes_of_an_unknown_key(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct aoip_txt t;
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, NULL);
    /* Binary data after the key, NULs included (section 6.5). */
    const uint8_t blob[] = { 6, 'b', 'l', '=', 0, 0xff, '=' };

    memcpy(buf + n, blob, sizeof blob);
    assert_int_equal(parse_bytes(&t, buf, n + sizeof blob), 0);
    assert_string_equal(t.id, ID);
}

static void txt_error_leaves_output_untouched(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct aoip_txt t, before;
    size_t n = record(buf, sizeof buf, "v=1", "id=" ID, "sr=48000", "tx=99999", NULL);

    memset(&t, 0x5a, sizeof t);
    before = t;
    assert_int_equal(parse_bytes(&t, buf, n), AOIP_ETXT_COUNT);
    assert_memory_equal(&t, &before, sizeof t);
}

static void txt_strerror_names_every_code(void **state)
{
    (void)state;
    for (int code = AOIP_ETXT_TRUNCATED; code >= AOIP_ETXT_COUNT; code--) {
        const char *s = aoip_strerror(code);
        assert_non_null(s);
        assert_non_null(strstr(s, "TXT"));
    }
}

/* Accepted input: fields in range and a build that reads back the same. */
static void check_accepted(const struct aoip_txt *t)
{
    uint8_t buf[AOIP_TXT_MAX];
    struct aoip_txt again;

    assert_int_equal(t->version, 1);
    assert_int_equal(strlen(t->id), AOIP_TXT_ID_LEN);
    assert_true(t->sample_rate == 0 || (t->sample_rate >= AOIP_TXT_SAMPLE_RATE_MIN &&
                                        t->sample_rate <= AOIP_TXT_SAMPLE_RATE_MAX));
    assert_true(t->tx <= AOIP_TXT_COUNT_MAX && t->rx <= AOIP_TXT_COUNT_MAX);
    int n = aoip_txt_build(buf, sizeof buf, t);
    assert_in_range(n, 1, AOIP_TXT_MAX);
    assert_int_equal(parse_bytes(&again, buf, (size_t)n), 0);
    assert_memory_equal(&again, t, sizeof again);
}

static void check_any(const uint8_t *data, size_t len, unsigned *accepted)
{
    struct aoip_txt t;

    memset(&t, 0, sizeof t);
    int ret = parse_bytes(&t, data, len);
    if (ret == 0) {
        assert_true(well_framed(data, len));
        check_accepted(&t);
        ++*accepted;
    } else {
        assert_true(is_txt_error(ret));
        assert_int_equal(ret == AOIP_ETXT_TRUNCATED, !well_framed(data, len));
    }
}

static void txt_parse_survives_random_bytes(void **state)
{
    (void)state;
    struct netmodel_rng rng;
    uint8_t buf[512];
    unsigned accepted = 0;

    netmodel_rng_seed(&rng, 0x7478747478740001ull);
    for (int it = 0; it < 20000; it++) {
        size_t len = (size_t)(netmodel_rng_next(&rng) % sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)netmodel_rng_next(&rng);
        check_any(buf, len, &accepted);
    }
    /* Noise does not spell v=1 and a good id by chance. */
    assert_int_equal(accepted, 0);
}

static void txt_parse_survives_mutated_records(void **state)
{
    (void)state;
    struct netmodel_rng rng;
    uint8_t seed[128], buf[160];
    unsigned accepted = 0;
    size_t seed_len =
        record(seed, sizeof seed, "v=1", "id=" ID, "sr=48000", "tx=4", "rx=2", "x=y", NULL);

    netmodel_rng_seed(&rng, 0x7478747478740002ull);
    for (int it = 0; it < 20000; it++) {
        size_t len = seed_len;
        memcpy(buf, seed, seed_len);
        unsigned rounds = 1 + (unsigned)(netmodel_rng_next(&rng) % 3);
        for (unsigned k = 0; k < rounds; k++) {
            uint64_t x = netmodel_rng_next(&rng);
            size_t pos = len ? (size_t)(x >> 8) % len : 0;
            switch (x % 4) {
            case 0: /* flip a bit */
                if (len)
                    buf[pos] ^= (uint8_t)(1u << ((x >> 40) & 7));
                break;
            case 1: /* a random byte */
                if (len)
                    buf[pos] = (uint8_t)(x >> 48);
                break;
            case 2: /* truncate */
                len = pos;
                break;
            default: /* append noise */
                for (unsigned i = 0; i < (x >> 56) % 16 && len < sizeof buf; i++)
                    buf[len++] = (uint8_t)netmodel_rng_next(&rng);
                break;
            }
        }
        check_any(buf, len, &accepted);
    }
    /* Mutations that land in the values of unknown keys or keep the record whole leave
     * accepted records; both outcomes are exercised. */
    assert_true(accepted > 0 && accepted < 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(txt_reads_a_nodes_record),
        cmocka_unit_test(txt_optional_keys_read_as_zero_when_absent),
        cmocka_unit_test(txt_build_writes_the_published_bytes),
        cmocka_unit_test(txt_build_leaves_out_an_unknown_sample_rate),
        cmocka_unit_test(txt_round_trips_build_and_parse),
        cmocka_unit_test(txt_build_largest_record_fits_txt_max),
        cmocka_unit_test(txt_build_refuses_small_buffer),
        cmocka_unit_test(txt_build_refuses_fields_parse_would_refuse),
        cmocka_unit_test(txt_truncated_string_is_refused),
        cmocka_unit_test(txt_truncation_outranks_other_errors),
        cmocka_unit_test(txt_without_version_is_refused),
        cmocka_unit_test(txt_of_another_version_is_reported),
        cmocka_unit_test(txt_without_id_is_refused),
        cmocka_unit_test(txt_with_malformed_id_is_refused),
        cmocka_unit_test(txt_with_malformed_sample_rate_is_refused),
        cmocka_unit_test(txt_sample_rate_range_is_inclusive),
        cmocka_unit_test(txt_with_malformed_count_is_refused),
        cmocka_unit_test(txt_sample_rate_error_outranks_count_error),
        cmocka_unit_test(txt_keys_compare_without_case),
        cmocka_unit_test(txt_values_keep_their_case),
        cmocka_unit_test(txt_first_of_duplicate_keys_wins),
        cmocka_unit_test(txt_first_of_duplicate_keys_wins_when_malformed),
        cmocka_unit_test(txt_ignores_unknown_keys_and_boolean_attributes),
        cmocka_unit_test(txt_ignores_empty_strings_and_missing_keys),
        cmocka_unit_test(txt_value_may_hold_any_bytes_of_an_unknown_key),
        cmocka_unit_test(txt_error_leaves_output_untouched),
        cmocka_unit_test(txt_strerror_names_every_code),
        cmocka_unit_test(txt_parse_survives_random_bytes),
        cmocka_unit_test(txt_parse_survives_mutated_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
