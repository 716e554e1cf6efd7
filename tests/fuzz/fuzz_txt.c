/*
 * fuzz_txt.c: libFuzzer target for the DNS-SD TXT record of a node.
 *
 * Beyond "does not crash", it checks what txt.h promises. A refused record
 * returns one of the AOIP_ETXT_* codes and leaves the output as it was. An
 * accepted one has its fields in the ranges the header gives, is written
 * back by aoip_txt_build (which must take whatever the parser accepts, in
 * AOIP_TXT_MAX bytes), and that record parses to the same fields and
 * builds to the same bytes again. A broken promise aborts, so libFuzzer and
 * the replay driver both see it as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static int same(const struct aoip_txt *a, const struct aoip_txt *b)
{
    return a->version == b->version && strcmp(a->id, b->id) == 0 &&
           a->sample_rate == b->sample_rate && a->tx == b->tx && a->rx == b->rx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t rec[AOIP_TXT_MAX], again[AOIP_TXT_MAX];
    struct aoip_txt a, b, before;
    int ret, n, m;

    memset(&a, 0xA5, sizeof a);
    before = a;
    ret = aoip_txt_parse(&a, data, size);
    if (ret != 0) {
        check(ret <= AOIP_ETXT_TRUNCATED && ret >= AOIP_ETXT_COUNT);
        check(memcmp(&a, &before, sizeof a) == 0);
        return 0;
    }

    check(a.version == AOIP_TXT_VERSION);
    check(memchr(a.id, '\0', sizeof a.id) != NULL && strlen(a.id) == AOIP_TXT_ID_LEN);
    check(a.sample_rate == 0 ||
          (a.sample_rate >= AOIP_TXT_SAMPLE_RATE_MIN && a.sample_rate <= AOIP_TXT_SAMPLE_RATE_MAX));
    check(a.tx <= AOIP_TXT_COUNT_MAX && a.rx <= AOIP_TXT_COUNT_MAX);

    n = aoip_txt_build(rec, sizeof rec, &a);
    check(n > 0 && (size_t)n <= sizeof rec);
    check(aoip_txt_parse(&b, rec, (size_t)n) == 0);
    check(same(&a, &b));

    m = aoip_txt_build(again, sizeof again, &b);
    check(m == n && memcmp(rec, again, (size_t)n) == 0);
    return 0;
}
