/*
 * txt.c: the DNS-SD TXT record of an aoip node (RFC 6763 section 6).
 *
 * The record comes from anyone on the LAN, so the parser takes two passes
 * and never trusts a length. The first walks the strings, checks that each
 * length byte stays inside the record, and remembers where the first
 * occurrence of each of aoip's keys is (the first wins: section 6.4).
 * Only then are the values judged, in a fixed order that puts the version
 * first: a node of another protocol version is told apart from a broken
 * one even if its other keys mean something else now. The result is built
 * in a private copy and reaches the caller only when the record is good.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "aoip/txt.h"

#define TXT_STRING_MAX 255 /* one length byte */

enum txt_key { KEY_V, KEY_ID, KEY_SR, KEY_TX, KEY_RX, KEY_COUNT };

static const char *const key_names[KEY_COUNT] = { "v", "id", "sr", "tx", "rx" };

/* The first occurrence of one key: its value, or none for a boolean attribute. */
struct txt_value {
    bool present;
    bool has_value;
    const uint8_t *p;
    size_t len;
};

static uint8_t ascii_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* Section 6.4: keys compare as ASCII, case-insensitively; not by the locale. */
static int key_index(const uint8_t *key, size_t len)
{
    for (int k = 0; k < KEY_COUNT; k++) {
        const char *name = key_names[k];
        if (strlen(name) != len)
            continue;
        size_t i = 0;
        while (i < len && ascii_lower(key[i]) == (uint8_t)name[i])
            i++;
        if (i == len)
            return k;
    }
    return -1;
}

/* Decimal digits only, at least one, value at most max (<= UINT32_MAX). */
static bool parse_decimal(const struct txt_value *v, uint32_t max, uint32_t *out)
{
    uint64_t x = 0;

    if (!v->has_value || v->len == 0)
        return false;
    for (size_t i = 0; i < v->len; i++) {
        if (v->p[i] < '0' || v->p[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v->p[i] - '0');
        if (x > max)
            return false;
    }
    *out = (uint32_t)x;
    return true;
}

static bool id_valid(const char *s, size_t len)
{
    if (len != AOIP_TXT_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int judge(struct aoip_txt *r, const struct txt_value v[KEY_COUNT])
{
    uint32_t x;

    if (!v[KEY_V].present)
        return AOIP_ETXT_NO_VERSION;
    if (!parse_decimal(&v[KEY_V], UINT32_MAX, &x) || x != AOIP_TXT_VERSION)
        return AOIP_ETXT_VERSION;
    r->version = x;

    if (!v[KEY_ID].present)
        return AOIP_ETXT_NO_ID;
    if (!v[KEY_ID].has_value || !id_valid((const char *)v[KEY_ID].p, v[KEY_ID].len))
        return AOIP_ETXT_ID;
    memcpy(r->id, v[KEY_ID].p, AOIP_TXT_ID_LEN);
    r->id[AOIP_TXT_ID_LEN] = '\0';

    if (v[KEY_SR].present) {
        if (!parse_decimal(&v[KEY_SR], AOIP_TXT_SAMPLE_RATE_MAX, &x) ||
            x < AOIP_TXT_SAMPLE_RATE_MIN)
            return AOIP_ETXT_SAMPLE_RATE;
        r->sample_rate = x;
    }
    if (v[KEY_TX].present && !parse_decimal(&v[KEY_TX], AOIP_TXT_COUNT_MAX, &r->tx))
        return AOIP_ETXT_COUNT;
    if (v[KEY_RX].present && !parse_decimal(&v[KEY_RX], AOIP_TXT_COUNT_MAX, &r->rx))
        return AOIP_ETXT_COUNT;
    return 0;
}

int aoip_txt_parse(struct aoip_txt *out, const uint8_t *rdata, size_t len)
{
    struct txt_value v[KEY_COUNT];
    struct aoip_txt r;
    size_t pos = 0;

    memset(v, 0, sizeof(v));
    while (pos < len) {
        size_t n = rdata[pos++];
        if (n > len - pos)
            return AOIP_ETXT_TRUNCATED;
        const uint8_t *s = rdata + pos;
        pos += n;
        const uint8_t *eq = memchr(s, '=', n);
        size_t klen = eq ? (size_t)(eq - s) : n;
        /* Section 6.4: a string with no key (empty, or "=...") is ignored. */
        if (klen == 0)
            continue;
        int k = key_index(s, klen);
        if (k < 0 || v[k].present)
            continue;
        v[k].present = true;
        v[k].has_value = eq != NULL;
        v[k].p = eq ? eq + 1 : NULL;
        v[k].len = eq ? n - klen - 1 : 0;
    }

    memset(&r, 0, sizeof(r));
    int rc = judge(&r, v);
    if (rc < 0)
        return rc;
    *out = r;
    return 0;
}

/* Append one string: its length byte, then its text. */
static int put(uint8_t *buf, size_t cap, size_t *pos, const char *text)
{
    size_t n = strlen(text);

    if (n > TXT_STRING_MAX || cap - *pos < n + 1)
        return -ENOSPC;
    buf[(*pos)++] = (uint8_t)n;
    memcpy(buf + *pos, text, n);
    *pos += n;
    return 0;
}

int aoip_txt_build(uint8_t *buf, size_t cap, const struct aoip_txt *t)
{
    char s[32];
    size_t pos = 0;

    if (t->version != AOIP_TXT_VERSION || memchr(t->id, '\0', sizeof(t->id)) == NULL ||
        !id_valid(t->id, strlen(t->id)) || t->tx > AOIP_TXT_COUNT_MAX ||
        t->rx > AOIP_TXT_COUNT_MAX ||
        (t->sample_rate != 0 &&
         (t->sample_rate < AOIP_TXT_SAMPLE_RATE_MIN || t->sample_rate > AOIP_TXT_SAMPLE_RATE_MAX)))
        return -EINVAL;

    snprintf(s, sizeof(s), "v=%u", t->version);
    if (put(buf, cap, &pos, s) < 0)
        return -ENOSPC;
    snprintf(s, sizeof(s), "id=%s", t->id);
    if (put(buf, cap, &pos, s) < 0)
        return -ENOSPC;
    if (t->sample_rate != 0) {
        snprintf(s, sizeof(s), "sr=%u", (unsigned)t->sample_rate);
        if (put(buf, cap, &pos, s) < 0)
            return -ENOSPC;
    }
    snprintf(s, sizeof(s), "tx=%u", (unsigned)t->tx);
    if (put(buf, cap, &pos, s) < 0)
        return -ENOSPC;
    snprintf(s, sizeof(s), "rx=%u", (unsigned)t->rx);
    if (put(buf, cap, &pos, s) < 0)
        return -ENOSPC;
    return (int)pos;
}
