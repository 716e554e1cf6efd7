/*
 * fuzz_seal.c: libFuzzer target for opening sealed media packets.
 *
 * The input is taken as a datagram from the network, opened by a receiver
 * that holds two ChaCha20-Poly1305 keys (id 2 current, id 1 previous; the
 * corpus was sealed with them). Beyond "does not crash", it checks what
 * seal.h promises: a refused packet returns one of the AOIP_ESEAL_* codes,
 * raises exactly its counter and leaves the window alone; an opened one
 * returns its payload length and the same bytes again are a replay. A
 * broken promise aborts, so libFuzzer and the replay driver both see it as
 * a crash. The same bytes go to a sealed-RTCP receiver too (key 0x43...):
 * refused with a code and the counter unmoved, or opened once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PACKET 4096

static void check(int ok)
{
    if (!ok)
        abort();
}

/* The RTP header length the packet claims (fixed part, CSRCs, extension). */
static size_t header_len(const uint8_t *p, size_t size)
{
    size_t n = 12;

    if (size < n)
        return n;
    n += 4u * (p[0] & 0x0f);
    if ((p[0] & 0x10) && size >= n + 4)
        n += 4 + 4u * (size_t)((p[n + 2] << 8) | p[n + 3]);
    return n;
}

static uint64_t failures(const struct aoip_seal_rx *rx)
{
    return rx->auth_failures + rx->replays + rx->unknown_key + rx->wrong_ssrc + rx->malformed;
}

static void open_rtcp(const uint8_t *data, size_t size)
{
    static uint8_t out[MAX_PACKET];
    uint8_t key[AOIP_SEAL_KEY_BYTES];
    struct aoip_seal_ctl ctl;

    memset(key, 0x43, sizeof key);
    aoip_seal_ctl_init(&ctl, key);
    int ret = aoip_seal_ctl_open(&ctl, data, size, out, sizeof out);
    if (ret < 0) {
        check(ret == AOIP_ESEAL_SHORT || ret == AOIP_ESEAL_REPLAY || ret == AOIP_ESEAL_AUTH);
        check(ctl.next == 0);
        return;
    }
    check((size_t)ret == size - AOIP_SEAL_RTCP_OVERHEAD && ctl.next >= 1);
    check(aoip_seal_ctl_open(&ctl, data, size, out, sizeof out) == AOIP_ESEAL_REPLAY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pkt[MAX_PACKET];
    static int ready;
    struct aoip_seal_key k1, k2;
    struct aoip_seal_rx rx, before;
    size_t hdr;
    int ret;

    if (!ready) {
        check(aoip_seal_init() == 0);
        ready = 1;
    }
    if (size > MAX_PACKET)
        return 0;
    memset(k1.bytes, 0x41, sizeof k1.bytes);
    k1.id = 1;
    memset(k2.bytes, 0x42, sizeof k2.bytes);
    k2.id = 2;
    check(aoip_seal_rx_init(&rx, AOIP_SEAL_CHACHA20POLY1305, &k1) == 0);
    check(aoip_seal_rx_rekey(&rx, &k2) == 0);

    open_rtcp(data, size);
    hdr = header_len(data, size);
    memcpy(pkt, data, size);
    before = rx;
    ret = aoip_seal_rx_open(&rx, pkt, size, hdr);
    if (ret < 0) {
        check(ret <= AOIP_ESEAL_SHORT && ret >= AOIP_ESEAL_AUTH);
        check(failures(&rx) == failures(&before) + 1 && rx.opened == 0);
        check(rx.started == before.started && rx.highest == before.highest);
        check(memcmp(rx.window, before.window, sizeof rx.window) == 0);
        return 0;
    }
    check(size >= hdr + AOIP_SEAL_OVERHEAD && (size_t)ret == size - hdr - AOIP_SEAL_OVERHEAD);
    check(rx.opened == 1 && rx.started && (rx.window[0] & 1));

    memcpy(pkt, data, size);
    check(aoip_seal_rx_open(&rx, pkt, size, hdr) == AOIP_ESEAL_REPLAY);
    return 0;
}
