/*
 * test_seal.c: the sealed media envelope. A sealed packet opens to the
 * payload it was made from, under both ciphers, and has the layout seal.h
 * gives (checked by opening it with libsodium directly). Any damaged byte,
 * any truncation, a wrong key, a replay, a packet older than the window or
 * from another SSRC is refused with its own code and counter, and none of
 * them moves the replay window. Re-keying keeps the previous key usable;
 * a sequence number wrap never repeats a nonce.
 *
 * Packets the receiver is given sit in a heap block of exactly their
 * length, so under the sanitizer build a read past the end fails the test.
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
#include <sodium.h>

#include "aoip/common.h"
#include "aoip/seal.h"
#include "netmodel.h"
#include "tool.h"

#define SSRC        0x5eed1234u
#define PAYLOAD_LEN 288 /* 1 ms of 48 kHz L24 stereo */
#define HDR_LEN     12
#define SEALED_LEN  (HDR_LEN + PAYLOAD_LEN + AOIP_SEAL_OVERHEAD)
#define CAP         1500

struct packet {
    uint8_t data[CAP];
    size_t len;
};

static struct aoip_seal_key key_a, key_b, key_c;

static int setup(void **state)
{
    (void)state;
    if (aoip_seal_init() < 0)
        return -1;
    memset(key_a.bytes, 0x11, sizeof key_a.bytes);
    key_a.id = 1;
    memset(key_b.bytes, 0x22, sizeof key_b.bytes);
    key_b.id = 2;
    memset(key_c.bytes, 0x33, sizeof key_c.bytes);
    key_c.id = 3;
    return 0;
}

/* The payload of packet seq: bytes that differ from packet to packet. */
static void fill_payload(uint8_t *p, size_t n, uint16_t seq)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7u + seq * 13u + 1u);
}

static void rtp_header(uint8_t *h, uint16_t seq, uint32_t ssrc)
{
    uint32_t ts = (uint32_t)seq * 48u;

    h[0] = 0x80;
    h[1] = 97;
    h[2] = (uint8_t)(seq >> 8);
    h[3] = (uint8_t)seq;
    h[4] = (uint8_t)(ts >> 24);
    h[5] = (uint8_t)(ts >> 16);
    h[6] = (uint8_t)(ts >> 8);
    h[7] = (uint8_t)ts;
    h[8] = (uint8_t)(ssrc >> 24);
    h[9] = (uint8_t)(ssrc >> 16);
    h[10] = (uint8_t)(ssrc >> 8);
    h[11] = (uint8_t)ssrc;
}

static void seal_ssrc(struct aoip_seal_tx *tx, struct packet *p, uint16_t seq, uint32_t ssrc)
{
    rtp_header(p->data, seq, ssrc);
    fill_payload(p->data + HDR_LEN, PAYLOAD_LEN, seq);
    int n = aoip_seal_tx_seal(tx, p->data, HDR_LEN, PAYLOAD_LEN, sizeof p->data);
    assert_int_equal(n, SEALED_LEN);
    p->len = (size_t)n;
}

static void seal(struct aoip_seal_tx *tx, struct packet *p, uint16_t seq)
{
    seal_ssrc(tx, p, seq, SSRC);
}

/* Open a copy of p in a block of exactly its length; on success check the payload. */
static int open_copy(struct aoip_seal_rx *rx, const uint8_t *data, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);

    assert_non_null(buf);
    if (len > 0)
        memcpy(buf, data, len);
    int ret = aoip_seal_rx_open(rx, buf, len, HDR_LEN);
    if (ret >= 0) {
        uint8_t want[PAYLOAD_LEN];
        assert_int_equal(ret, PAYLOAD_LEN);
        fill_payload(want, PAYLOAD_LEN, (uint16_t)((buf[2] << 8) | buf[3]));
        assert_memory_equal(buf + HDR_LEN, want, PAYLOAD_LEN);
    }
    free(buf);
    return ret;
}

static int open_packet(struct aoip_seal_rx *rx, const struct packet *p)
{
    return open_copy(rx, p->data, p->len);
}

static void pair(struct aoip_seal_tx *tx, struct aoip_seal_rx *rx, enum aoip_seal_cipher c)
{
    assert_int_equal(aoip_seal_tx_init(tx, c, &key_a), 0);
    assert_int_equal(aoip_seal_rx_init(rx, c, &key_a), 0);
}

static void round_trip(enum aoip_seal_cipher c)
{
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p;

    pair(&tx, &rx, c);
    for (uint16_t seq = 100; seq < 200; seq++) {
        seal(&tx, &p, seq);
        assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
    }
    assert_int_equal(rx.opened, 100);
    assert_int_equal(rx.auth_failures + rx.replays + rx.unknown_key + rx.malformed, 0);
}

static void seal_round_trip_chacha20poly1305(void **state)
{
    (void)state;
    round_trip(AOIP_SEAL_CHACHA20POLY1305);
}

static void seal_round_trip_aes256gcm(void **state)
{
    (void)state;
    if (!aoip_seal_cipher_available(AOIP_SEAL_AES256GCM)) {
        printf("AES-256-GCM not available on this CPU: only its refusal is tested\n");
        struct aoip_seal_rx rx;
        assert_int_equal(aoip_seal_rx_init(&rx, AOIP_SEAL_AES256GCM, &key_a), -ENOTSUP);
        assert_int_equal(aoip_seal_cipher_pick(), AOIP_SEAL_CHACHA20POLY1305);
        return;
    }
    assert_int_equal(aoip_seal_cipher_pick(), AOIP_SEAL_AES256GCM);
    round_trip(AOIP_SEAL_AES256GCM);
}

static void seal_ciphers_do_not_open_each_other(void **state)
{
    (void)state;
    if (!aoip_seal_cipher_available(AOIP_SEAL_AES256GCM))
        return;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p;

    assert_int_equal(aoip_seal_tx_init(&tx, AOIP_SEAL_CHACHA20POLY1305, &key_a), 0);
    assert_int_equal(aoip_seal_rx_init(&rx, AOIP_SEAL_AES256GCM, &key_a), 0);
    seal(&tx, &p, 5);
    assert_int_equal(open_packet(&rx, &p), AOIP_ESEAL_AUTH);
}

static void seal_unknown_cipher_refused(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;

    assert_int_equal(aoip_seal_tx_init(&tx, (enum aoip_seal_cipher)7, &key_a), -EINVAL);
    assert_int_equal(aoip_seal_rx_init(&rx, (enum aoip_seal_cipher)0, &key_a), -EINVAL);
}

/* A second implementation following seal.h's text must open what aoip seals. */
static void seal_wire_layout_matches_header(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct packet p;
    uint8_t nonce[12], plain[PAYLOAD_LEN], want[PAYLOAD_LEN];
    const uint16_t seq = 0xfffe;

    assert_int_equal(aoip_seal_tx_init(&tx, AOIP_SEAL_CHACHA20POLY1305, &key_a), 0);
    seal(&tx, &p, seq);
    assert_int_equal(p.len, HDR_LEN + 1 + 4 + PAYLOAD_LEN + 16);

    uint8_t hdr[HDR_LEN];
    rtp_header(hdr, seq, SSRC);
    assert_memory_equal(p.data, hdr, HDR_LEN); /* the header stays in clear */
    assert_int_equal(p.data[12], key_a.id);
    assert_int_equal(p.data[13] | p.data[14] | p.data[15] | p.data[16], 0); /* ROC 0 */

    const uint8_t nonce_want[12] = { 0x5e, 0xed, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0xff, 0xfe };
    aoip_seal_nonce(nonce, SSRC, 0, seq);
    assert_memory_equal(nonce, nonce_want, 12);

    assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                         plain, NULL, p.data + 17, PAYLOAD_LEN, p.data + 17 + PAYLOAD_LEN, p.data,
                         17, nonce_want, key_a.bytes),
                     0);
    fill_payload(want, PAYLOAD_LEN, seq);
    assert_memory_equal(plain, want, PAYLOAD_LEN);
}

/* Flip each bit of the bytes [from, to) of a sealed packet: every copy must fail with err. */
static void flip_each_bit(enum aoip_seal_cipher c, size_t from, size_t to, int err)
{
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p, bad;

    pair(&tx, &rx, c);
    seal(&tx, &p, 40);
    for (size_t i = from; i < to; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bad = p;
            bad.data[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(open_packet(&rx, &bad), err);
        }
    }
    assert_false(rx.started);
    assert_int_equal(rx.opened, 0);
    /* The genuine packet still opens: no forgery touched the window. */
    assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
}

static void seal_tampered_header_fails_auth(void **state)
{
    (void)state;
    flip_each_bit(AOIP_SEAL_CHACHA20POLY1305, 0, HDR_LEN, AOIP_ESEAL_AUTH);
}

static void seal_tampered_roc_fails_auth(void **state)
{
    (void)state;
    flip_each_bit(AOIP_SEAL_CHACHA20POLY1305, HDR_LEN + 1, HDR_LEN + 5, AOIP_ESEAL_AUTH);
}

static void seal_tampered_payload_fails_auth(void **state)
{
    (void)state;
    flip_each_bit(AOIP_SEAL_CHACHA20POLY1305, HDR_LEN + 5, HDR_LEN + 5 + PAYLOAD_LEN,
                  AOIP_ESEAL_AUTH);
}

static void seal_tampered_tag_fails_auth(void **state)
{
    (void)state;
    flip_each_bit(AOIP_SEAL_CHACHA20POLY1305, SEALED_LEN - 16, SEALED_LEN, AOIP_ESEAL_AUTH);
}

static void seal_tampered_aes256gcm_fails_auth(void **state)
{
    (void)state;
    if (!aoip_seal_cipher_available(AOIP_SEAL_AES256GCM))
        return;
    /* Every byte but the key id, which seal_tampered_key_id_refused covers. */
    flip_each_bit(AOIP_SEAL_AES256GCM, 0, HDR_LEN, AOIP_ESEAL_AUTH);
    flip_each_bit(AOIP_SEAL_AES256GCM, HDR_LEN + 1, SEALED_LEN, AOIP_ESEAL_AUTH);
}

static void seal_tampered_key_id_refused(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p, bad;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    assert_int_equal(aoip_seal_rx_rekey(&rx, &key_b), 0); /* holds ids 1 and 2 */
    seal(&tx, &p, 40);

    bad = p;
    bad.data[HDR_LEN] = key_b.id; /* a key it holds, but not the one that sealed */
    assert_int_equal(open_packet(&rx, &bad), AOIP_ESEAL_AUTH);
    assert_int_equal(rx.auth_failures, 1);
    bad.data[HDR_LEN] = 9;
    assert_int_equal(open_packet(&rx, &bad), AOIP_ESEAL_KEY);
    assert_int_equal(rx.unknown_key, 1);
    assert_false(rx.started);
    assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
}

static void seal_truncated_at_every_length_refused(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p;
    uint64_t shorts = 0;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    seal(&tx, &p, 7);
    for (size_t len = 0; len < p.len; len++) {
        int ret = open_copy(&rx, p.data, len);
        if (len < HDR_LEN + AOIP_SEAL_OVERHEAD) {
            assert_int_equal(ret, AOIP_ESEAL_SHORT);
            shorts++;
        } else {
            assert_int_equal(ret, AOIP_ESEAL_AUTH);
        }
    }
    assert_int_equal(rx.malformed, shorts);
    assert_int_equal(rx.auth_failures, p.len - shorts);
    assert_int_equal(rx.opened, 0);
    assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
}

static void seal_header_length_under_fixed_header_refused(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    assert_int_equal(aoip_seal_tx_seal(&tx, p.data, 11, 10, sizeof p.data), -EINVAL);
    seal(&tx, &p, 7);
    assert_int_equal(aoip_seal_rx_open(&rx, p.data, p.len, 11), AOIP_ESEAL_SHORT);
    assert_int_equal(aoip_seal_rx_open(&rx, p.data, p.len, p.len + 1), AOIP_ESEAL_SHORT);
    assert_int_equal(rx.malformed, 2);
}

static void seal_tx_needs_room_for_overhead(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct packet p;

    assert_int_equal(aoip_seal_tx_init(&tx, AOIP_SEAL_CHACHA20POLY1305, &key_a), 0);
    memset(p.data, 0, sizeof p.data);
    rtp_header(p.data, 1, SSRC);
    assert_int_equal(aoip_seal_tx_seal(&tx, p.data, HDR_LEN, PAYLOAD_LEN, SEALED_LEN - 1), -ENOSPC);
    assert_int_equal(aoip_seal_tx_seal(&tx, p.data, HDR_LEN, PAYLOAD_LEN, SEALED_LEN), SEALED_LEN);
}

static void seal_replayed_packet_refused(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p[3];

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    for (int i = 0; i < 3; i++)
        seal(&tx, &p[i], (uint16_t)(500 + i));
    for (int i = 0; i < 3; i++)
        assert_int_equal(open_packet(&rx, &p[i]), PAYLOAD_LEN);
    assert_int_equal(open_packet(&rx, &p[2]), AOIP_ESEAL_REPLAY); /* the newest */
    assert_int_equal(open_packet(&rx, &p[0]), AOIP_ESEAL_REPLAY); /* an older one */
    assert_int_equal(rx.replays, 2);
    assert_int_equal(rx.opened, 3);
}

static void seal_reordered_within_window_opens_once_each(void **state)
{
    (void)state;
    enum { N = 600 };
    static struct packet p[N];
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct netmodel_rng rng;
    int order[N];

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    for (int i = 0; i < N; i++) {
        seal(&tx, &p[i], (uint16_t)(65000 + i)); /* crosses the wrap too */
        order[i] = i;
    }
    /* Shuffle within blocks of 100: every packet arrives well inside the window. */
    netmodel_rng_seed(&rng, 42);
    for (int b = 0; b < N; b += 100) {
        for (int i = 99; i > 0; i--) {
            int j = (int)(netmodel_rng_next(&rng) % (uint64_t)(i + 1));
            int t = order[b + i];
            order[b + i] = order[b + j];
            order[b + j] = t;
        }
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(open_packet(&rx, &p[order[i]]), PAYLOAD_LEN);
    for (int i = 0; i < N; i++)
        assert_int_equal(open_packet(&rx, &p[order[i]]), AOIP_ESEAL_REPLAY);
    assert_int_equal(rx.opened, N);
    assert_int_equal(rx.replays, N);
}

static void seal_older_than_window_refused(void **state)
{
    (void)state;
    enum { N = AOIP_SEAL_WINDOW + 1 };
    static struct packet p[N];
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    for (int i = 0; i < N; i++)
        seal(&tx, &p[i], (uint16_t)(1000 + i));
    /* The newest first: the first packet is then AOIP_SEAL_WINDOW behind it. */
    assert_int_equal(open_packet(&rx, &p[N - 1]), PAYLOAD_LEN);
    assert_int_equal(open_packet(&rx, &p[0]), AOIP_ESEAL_REPLAY);
    assert_int_equal(open_packet(&rx, &p[1]), PAYLOAD_LEN); /* the oldest still in it */
    assert_int_equal(rx.replays, 1);
}

static void seal_wrong_key_fails_auth(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct aoip_seal_key other = key_b;
    struct packet p;

    other.id = key_a.id; /* same id, other bytes */
    assert_int_equal(aoip_seal_tx_init(&tx, AOIP_SEAL_CHACHA20POLY1305, &key_a), 0);
    assert_int_equal(aoip_seal_rx_init(&rx, AOIP_SEAL_CHACHA20POLY1305, &other), 0);
    seal(&tx, &p, 3);
    assert_int_equal(open_packet(&rx, &p), AOIP_ESEAL_AUTH);
    assert_int_equal(rx.auth_failures, 1);
    assert_int_equal(rx.opened, 0);
}

static void seal_rekey_keeps_previous_key(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet old1, old2, new1, newer;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    seal(&tx, &old1, 10);
    seal(&tx, &old2, 11);
    assert_int_equal(aoip_seal_tx_rekey(&tx, &key_a), -EINVAL); /* same id */
    assert_int_equal(aoip_seal_tx_rekey(&tx, &key_b), 0);
    seal(&tx, &new1, 12);
    assert_int_equal(new1.data[HDR_LEN], key_b.id);

    /* New-key packet before the receiver has the key: refused, nothing moved. */
    assert_int_equal(open_packet(&rx, &new1), AOIP_ESEAL_KEY);
    assert_int_equal(aoip_seal_rx_rekey(&rx, &key_a), -EINVAL);
    assert_int_equal(aoip_seal_rx_rekey(&rx, &key_b), 0);
    assert_int_equal(open_packet(&rx, &new1), PAYLOAD_LEN);
    assert_int_equal(open_packet(&rx, &old1), PAYLOAD_LEN); /* late, under the previous key */

    /* Two re-keys on, the first key is forgotten. */
    assert_int_equal(aoip_seal_tx_rekey(&tx, &key_c), 0);
    seal(&tx, &newer, 13);
    assert_int_equal(aoip_seal_rx_rekey(&rx, &key_c), 0);
    assert_int_equal(open_packet(&rx, &newer), PAYLOAD_LEN);
    assert_int_equal(open_packet(&rx, &old2), AOIP_ESEAL_KEY);
    assert_int_equal(rx.unknown_key, 2);
    assert_int_equal(rx.opened, 3);
}

static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, AOIP_SEAL_NONCE_BYTES);
}

static void seal_nonces_distinct_across_seq_wrap(void **state)
{
    (void)state;
    enum { N = 70000 };
    uint8_t(*nonces)[AOIP_SEAL_NONCE_BYTES] = malloc(N * sizeof *nonces);
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p;
    uint32_t last_roc = 0;
    int wraps = 0;

    assert_non_null(nonces);
    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    for (int i = 0; i < N; i++) {
        uint16_t seq = (uint16_t)(40000 + i);
        seal(&tx, &p, seq);
        uint32_t roc = ((uint32_t)p.data[13] << 24) | ((uint32_t)p.data[14] << 16) |
                       ((uint32_t)p.data[15] << 8) | p.data[16];
        if (roc != last_roc) {
            assert_int_equal(roc, last_roc + 1);
            assert_int_equal(seq, 0);
            wraps++;
            last_roc = roc;
        }
        aoip_seal_nonce(nonces[i], SSRC, roc, seq);
        assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
    }
    assert_int_equal(wraps, 1);
    assert_int_equal(rx.opened, N);

    qsort(nonces, N, sizeof *nonces, cmp_nonce);
    for (int i = 1; i < N; i++)
        assert_true(memcmp(nonces[i - 1], nonces[i], AOIP_SEAL_NONCE_BYTES) != 0);
    free(nonces);
}

static void seal_tx_refuses_index_that_does_not_advance(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct packet p;

    assert_int_equal(aoip_seal_tx_init(&tx, AOIP_SEAL_CHACHA20POLY1305, &key_a), 0);
    seal(&tx, &p, 100);
    rtp_header(p.data, 100, SSRC);
    assert_int_equal(aoip_seal_tx_seal(&tx, p.data, HDR_LEN, 10, sizeof p.data), -EINVAL);
    rtp_header(p.data, 99, SSRC);
    assert_int_equal(aoip_seal_tx_seal(&tx, p.data, HDR_LEN, 10, sizeof p.data), -EINVAL);
    rtp_header(p.data, 101, SSRC + 1);
    assert_int_equal(aoip_seal_tx_seal(&tx, p.data, HDR_LEN, 10, sizeof p.data), -EINVAL);
    seal(&tx, &p, 101);
}

static void seal_forged_high_seq_does_not_move_window(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p[3], forged;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    for (int i = 0; i < 3; i++)
        seal(&tx, &p[i], (uint16_t)(200 + i));
    assert_int_equal(open_packet(&rx, &p[0]), PAYLOAD_LEN);

    /* Far ahead in sequence and ROC, with a made-up tag. */
    forged = p[0];
    forged.data[2] = 0x7f;
    forged.data[13] = 0x40;
    assert_int_equal(open_packet(&rx, &forged), AOIP_ESEAL_AUTH);
    assert_int_equal(rx.highest, 200);

    assert_int_equal(open_packet(&rx, &p[2]), PAYLOAD_LEN);
    assert_int_equal(open_packet(&rx, &p[1]), PAYLOAD_LEN);
    assert_int_equal(rx.opened, 3);
}

static void seal_other_ssrc_refused(void **state)
{
    (void)state;
    struct aoip_seal_tx tx, tx2;
    struct aoip_seal_rx rx;
    struct packet p, q;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    assert_int_equal(aoip_seal_tx_init(&tx2, AOIP_SEAL_CHACHA20POLY1305, &key_a), 0);
    seal(&tx, &p, 1);
    seal_ssrc(&tx2, &q, 2, SSRC ^ 1);
    assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
    assert_int_equal(open_packet(&rx, &q), AOIP_ESEAL_SSRC);
    assert_int_equal(rx.wrong_ssrc, 1);
}

/* ROC travels in the packet: a receiver follows after any outage. */
static void seal_opens_after_outage_of_many_wraps(void **state)
{
    (void)state;
    struct aoip_seal_tx tx;
    struct aoip_seal_rx rx;
    struct packet p;
    uint16_t seq = 0;

    pair(&tx, &rx, AOIP_SEAL_CHACHA20POLY1305);
    seal(&tx, &p, seq);
    assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
    /* 300000 packets the receiver never sees, sealed in steps the sender can follow. */
    for (int i = 0; i < 300000 / 30000; i++) {
        seq = (uint16_t)(seq + 30000);
        seal(&tx, &p, seq);
    }
    seal(&tx, &p, (uint16_t)(seq + 1));
    assert_int_equal(open_packet(&rx, &p), PAYLOAD_LEN);
    assert_int_equal(rx.highest, 300001);
}

/* Sealed RTCP: opens in order once, nothing else does. */
static void seal_rtcp_opens_in_order_only(void **state)
{
    struct aoip_seal_ctl tx, rx, wrong;
    uint8_t key[AOIP_SEAL_KEY_BYTES], other[AOIP_SEAL_KEY_BYTES];
    uint8_t rtcp[52], sealed[3][52 + AOIP_SEAL_RTCP_OVERHEAD], out[64];
    (void)state;

    randombytes_buf(key, sizeof key);
    randombytes_buf(other, sizeof other);
    for (size_t i = 0; i < sizeof rtcp; i++)
        rtcp[i] = (uint8_t)(i * 7 + 1);
    aoip_seal_ctl_init(&tx, key);
    aoip_seal_ctl_init(&rx, key);
    aoip_seal_ctl_init(&wrong, other);
    for (int k = 0; k < 3; k++)
        assert_int_equal(aoip_seal_ctl_seal(&tx, rtcp, sizeof rtcp, sealed[k], sizeof sealed[k]),
                         (int)sizeof sealed[k]);
    assert_int_equal(aoip_seal_ctl_seal(&tx, rtcp, sizeof rtcp, out, sizeof rtcp + 23), -ENOSPC);
    /* The compound is not in the clear. */
    assert_memory_not_equal(sealed[0] + 8, rtcp, sizeof rtcp);
    assert_int_equal(aoip_seal_ctl_open(&wrong, sealed[0], sizeof sealed[0], out, sizeof out),
                     AOIP_ESEAL_AUTH);
    assert_int_equal(aoip_seal_ctl_open(&rx, sealed[1], sizeof sealed[1], out, sizeof out),
                     (int)sizeof rtcp);
    assert_memory_equal(out, rtcp, sizeof rtcp);
    /* Replayed, and older than the last opened. */
    assert_int_equal(aoip_seal_ctl_open(&rx, sealed[1], sizeof sealed[1], out, sizeof out),
                     AOIP_ESEAL_REPLAY);
    assert_int_equal(aoip_seal_ctl_open(&rx, sealed[0], sizeof sealed[0], out, sizeof out),
                     AOIP_ESEAL_REPLAY);
    /* Every bit matters: counter, ciphertext, tag. */
    for (size_t bit = 0; bit < 8 * sizeof sealed[2]; bit++) {
        uint8_t t[sizeof sealed[2]];
        memcpy(t, sealed[2], sizeof t);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(aoip_seal_ctl_open(&rx, t, sizeof t, out, sizeof out) < 0);
    }
    assert_int_equal(
        aoip_seal_ctl_open(&rx, sealed[2], AOIP_SEAL_RTCP_OVERHEAD - 1, out, sizeof out),
        AOIP_ESEAL_SHORT);
    assert_int_equal(aoip_seal_ctl_open(&rx, sealed[2], sizeof sealed[2], out, sizeof out),
                     (int)sizeof rtcp);
}

static void seal_error_texts_name_the_cause(void **state)
{
    (void)state;
    const int codes[] = { AOIP_ESEAL_SHORT, AOIP_ESEAL_KEY, AOIP_ESEAL_SSRC, AOIP_ESEAL_REPLAY,
                          AOIP_ESEAL_AUTH };
    assert_int_equal(tool_error_texts_distinct(codes, sizeof codes / sizeof codes[0]), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seal_round_trip_chacha20poly1305),
        cmocka_unit_test(seal_round_trip_aes256gcm),
        cmocka_unit_test(seal_ciphers_do_not_open_each_other),
        cmocka_unit_test(seal_unknown_cipher_refused),
        cmocka_unit_test(seal_wire_layout_matches_header),
        cmocka_unit_test(seal_tampered_header_fails_auth),
        cmocka_unit_test(seal_tampered_roc_fails_auth),
        cmocka_unit_test(seal_tampered_payload_fails_auth),
        cmocka_unit_test(seal_tampered_tag_fails_auth),
        cmocka_unit_test(seal_tampered_aes256gcm_fails_auth),
        cmocka_unit_test(seal_tampered_key_id_refused),
        cmocka_unit_test(seal_truncated_at_every_length_refused),
        cmocka_unit_test(seal_header_length_under_fixed_header_refused),
        cmocka_unit_test(seal_tx_needs_room_for_overhead),
        cmocka_unit_test(seal_replayed_packet_refused),
        cmocka_unit_test(seal_reordered_within_window_opens_once_each),
        cmocka_unit_test(seal_older_than_window_refused),
        cmocka_unit_test(seal_wrong_key_fails_auth),
        cmocka_unit_test(seal_rekey_keeps_previous_key),
        cmocka_unit_test(seal_nonces_distinct_across_seq_wrap),
        cmocka_unit_test(seal_tx_refuses_index_that_does_not_advance),
        cmocka_unit_test(seal_forged_high_seq_does_not_move_window),
        cmocka_unit_test(seal_other_ssrc_refused),
        cmocka_unit_test(seal_opens_after_outage_of_many_wraps),
        cmocka_unit_test(seal_error_texts_name_the_cause),
        cmocka_unit_test(seal_rtcp_opens_in_order_only),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
