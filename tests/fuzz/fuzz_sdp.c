/*
 * fuzz_sdp.c: libFuzzer target for the SDP parser and writer.
 *
 * Beyond "does not crash", it checks what the module promises. A refused
 * input returns one of the AOIP_ESDP_* codes and leaves the output as it
 * was. An accepted one has fields in the ranges the header gives, is
 * written back by aoip_sdp_write (which must accept whatever the parser
 * accepts), and that text parses to the same stream and writes the same
 * text again. A broken promise aborts, so libFuzzer and the replay driver
 * both see it as a crash.
 *
 * Every field of struct aoip_sdp_stream is compared. What the struct does
 * not hold is not: o=, i=, b=, t= and other attributes, the /N address
 * count of c=, and whether the packet time came from a=ptime or
 * a=framecount (the writer says it as a=ptime).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static int terminated(const char *field, size_t cap)
{
    return memchr(field, '\0', cap) != NULL;
}

static int same_stream(const struct aoip_sdp_stream *a, const struct aoip_sdp_stream *b)
{
    return strcmp(a->session, b->session) == 0 && strcmp(a->address, b->address) == 0 &&
           a->multicast == b->multicast && a->ttl == b->ttl && a->port == b->port &&
           a->payload_type == b->payload_type && strcmp(a->encoding, b->encoding) == 0 &&
           a->clock_rate == b->clock_rate && a->channels == b->channels &&
           a->ptime_us == b->ptime_us;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[2048], again[2048];
    struct aoip_sdp_stream a, b, before;
    int ret, n, m;

    memset(&a, 0xA5, sizeof a);
    before = a;
    ret = aoip_sdp_parse(&a, (const char *)data, size);
    if (ret != 0) {
        check(ret <= AOIP_ESDP_TOO_LONG && ret >= AOIP_ESDP_FIELD_TOO_LONG);
        check(memcmp(&a, &before, sizeof a) == 0);
        return 0;
    }

    check(terminated(a.session, sizeof a.session) && terminated(a.address, sizeof a.address));
    check(terminated(a.encoding, sizeof a.encoding) && a.encoding[0] != '\0');
    check(a.address[0] != '\0' && a.port != 0 && a.payload_type <= 127);
    check(a.clock_rate != 0 && a.channels >= 1);
    check(a.ttl == 0 || (a.multicast && strchr(a.address, ':') == NULL));

    /* The stream's own address as the origin exercises both o=...IP4 and IP6. */
    n = aoip_sdp_write(text, sizeof text, &a, a.address, (uint64_t)size);
    check(n > 0 && (size_t)n < sizeof text && strlen(text) == (size_t)n);
    check(aoip_sdp_parse(&b, text, (size_t)n) == 0);
    check(same_stream(&a, &b));

    m = aoip_sdp_write(again, sizeof again, &b, b.address, (uint64_t)size);
    check(m == n && memcmp(text, again, (size_t)n) == 0);
    return 0;
}
