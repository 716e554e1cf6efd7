/*
 * test_peerchan.c: the sealed peer channel. Two ends that hold the same
 * network secret open the channel, learn each other's node id and carry
 * messages both ways; the bytes they exchange are the ones
 * proto/security.md specifies (recomputed here from libsodium primitives,
 * not from peerchan.c). Every way a stranger or an attacker on the wire can
 * go wrong ends the channel with its own code and delivers nothing: a wrong
 * or missing secret, a stream that is not aoip, a reflected HELLO, a record
 * tampered with at any bit, truncated and continued wrongly, replayed,
 * reordered or taken from another session, an AUTH forged by hand in every
 * way that matters, a record out of size. The channel takes its input split
 * at any byte and many records at a time, and pauses when asked.
 *
 * Input the channel is fed sits in a heap block of exactly its length, so
 * under the sanitizer build a read past the end fails the test.
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

#include "aoip/peerchan.h"
#include "netmodel.h"
#include "tool.h"

#define MAX_MSGS    64
#define OUT_CAP     4096
#define AUTH_PLAIN  96 /* identity pk | signature */
#define AUTH_RECORD (AUTH_PLAIN + AOIP_CHAN_RECORD_OVERHEAD)
#define REC_CAP     (AOIP_CHAN_RECORD_MAX + AOIP_CHAN_RECORD_OVERHEAD)

/* One end of a channel and everything its callbacks saw. */
struct end {
    struct aoip_chan chan;
    const struct aoip_identity *id;
    uint8_t hello[AOIP_CHAN_HELLO_LEN];
    uint8_t out[OUT_CAP]; /* what ops->send handed over */
    size_t out_len;
    int sends;
    int opens;
    char open_id[AOIP_FINGERPRINT_LEN + 1];
    uint8_t open_pk[AOIP_ID_PUBLIC_BYTES];
    size_t nmsg;
    uint8_t *msg[MAX_MSGS];
    size_t msg_len[MAX_MSGS];
    bool stop; /* ops->message asks to stop after every message */
};

static struct aoip_identity id_a, id_b, id_c;
static uint8_t secret[AOIP_SECRET_BYTES];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    aoip_identity_generate(&id_a);
    aoip_identity_generate(&id_b);
    aoip_identity_generate(&id_c);
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(0xa0 + i);
    return 0;
}

static int on_message(void *arg, const uint8_t *msg, size_t len)
{
    struct end *e = arg;

    assert_true(e->nmsg < MAX_MSGS);
    assert_int_equal(e->chan.state, AOIP_CHAN_OPEN);
    e->msg[e->nmsg] = malloc(len ? len : 1);
    assert_non_null(e->msg[e->nmsg]);
    if (len > 0)
        memcpy(e->msg[e->nmsg], msg, len);
    e->msg_len[e->nmsg++] = len;
    return e->stop ? 1 : 0;
}

static void on_send(void *arg, const uint8_t *bytes, size_t len)
{
    struct end *e = arg;

    assert_true(len <= sizeof e->out - e->out_len);
    memcpy(e->out + e->out_len, bytes, len);
    e->out_len += len;
    e->sends++;
}

static void on_open(void *arg, const char *peer_id, const uint8_t pk[AOIP_ID_PUBLIC_BYTES])
{
    struct end *e = arg;

    e->opens++;
    assert_int_equal(strlen(peer_id), AOIP_FINGERPRINT_LEN);
    memcpy(e->open_id, peer_id, AOIP_FINGERPRINT_LEN + 1);
    memcpy(e->open_pk, pk, AOIP_ID_PUBLIC_BYTES);
}

static const struct aoip_chan_ops ops = {
    .message = on_message,
    .send = on_send,
    .open = on_open,
};

static struct end *end_new(bool initiator, const uint8_t *key, const struct aoip_identity *id)
{
    struct end *e = calloc(1, sizeof *e);

    assert_non_null(e);
    e->id = id;
    assert_int_equal(aoip_chan_init(&e->chan, initiator, key, id, e->hello), 0);
    assert_int_equal(e->chan.state, AOIP_CHAN_HELLO);
    return e;
}

static void end_free(struct end *e)
{
    for (size_t i = 0; i < e->nmsg; i++)
        free(e->msg[i]);
    aoip_chan_clear(&e->chan);
    free(e);
}

/* Feed a copy of data in a block of exactly its length. */
static int feed(struct end *e, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, data, len);
    int ret = aoip_chan_feed(&e->chan, copy, len, &ops, e);
    free(copy);
    return ret;
}

static int feed_bytewise(struct end *e, const uint8_t *data, size_t len)
{
    int ret = 0;

    for (size_t i = 0; i < len && ret == 0; i++)
        ret = feed(e, data + i, 1);
    return ret;
}

/* Hand over what e sent (its AUTH) to peer, and forget it. */
static int deliver(struct end *from, struct end *to)
{
    int ret = feed(to, from->out, from->out_len);
    from->out_len = 0;
    return ret;
}

/* A dialler (a) and an acceptor (b) that have opened the channel. */
static void handshake(struct end *a, struct end *b)
{
    assert_int_equal(feed(a, b->hello, AOIP_CHAN_HELLO_LEN), 0);
    assert_int_equal(feed(b, a->hello, AOIP_CHAN_HELLO_LEN), 0);
    assert_int_equal(a->chan.state, AOIP_CHAN_AUTH);
    assert_int_equal(b->chan.state, AOIP_CHAN_AUTH);
    assert_int_equal(a->out_len, AUTH_RECORD);
    assert_int_equal(b->out_len, AUTH_RECORD);
    assert_int_equal(deliver(a, b), 0);
    assert_int_equal(deliver(b, a), 0);
    assert_int_equal(a->chan.state, AOIP_CHAN_OPEN);
    assert_int_equal(b->chan.state, AOIP_CHAN_OPEN);
}

static void open_pair(struct end **a, struct end **b)
{
    *a = end_new(true, secret, &id_a);
    *b = end_new(false, secret, &id_b);
    handshake(*a, *b);
}

/* Seal msg at e into rec; returns the record's length. */
static size_t seal(struct end *e, const void *msg, size_t len, uint8_t *rec)
{
    int n = aoip_chan_seal(&e->chan, msg, len, rec, REC_CAP);

    assert_int_equal(n, (int)(len + AOIP_CHAN_RECORD_OVERHEAD));
    return (size_t)n;
}

static size_t seal_text(struct end *e, const char *text, uint8_t *rec)
{
    return seal(e, text, strlen(text), rec);
}

static void assert_message(const struct end *e, size_t i, const void *msg, size_t len)
{
    assert_true(i < e->nmsg);
    assert_int_equal(e->msg_len[i], len);
    if (len > 0)
        assert_memory_equal(e->msg[i], msg, len);
}

/* What proto/security.md says, computed here with libsodium directly. */
static void spec_subkey(uint8_t out[32], const uint8_t *key, uint64_t id)
{
    uint8_t salt[16] = { 0 }, personal[16] = { 0 };

    for (int i = 0; i < 8; i++)
        salt[i] = (uint8_t)(id >> (8 * i));
    memcpy(personal, "aoiphs01", 8);
    assert_int_equal(
        crypto_generichash_blake2b_salt_personal(out, 32, NULL, 0, key, 32, salt, personal), 0);
}

static void spec_hello_tag(uint8_t tag[32], const uint8_t *key, uint8_t role, const uint8_t *eph)
{
    uint8_t k_hello[32], in[41];

    spec_subkey(k_hello, key, 1);
    memcpy(in, "AOIPSEC1", 8);
    in[8] = role;
    memcpy(in + 9, eph, 32);
    crypto_generichash(tag, 32, in, sizeof in, k_hello, sizeof k_hello);
}

static void spec_transcript(uint8_t th[32], const uint8_t *hello_i, const uint8_t *hello_r)
{
    uint8_t in[2 * AOIP_CHAN_HELLO_LEN];

    memcpy(in, hello_i, AOIP_CHAN_HELLO_LEN);
    memcpy(in + AOIP_CHAN_HELLO_LEN, hello_r, AOIP_CHAN_HELLO_LEN);
    crypto_generichash(th, 32, in, sizeof in, NULL, 0);
}

static void spec_nonce(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* A record sealed by hand: length, then ChaCha20-Poly1305 IETF under key at counter n. */
static size_t spec_record(uint8_t *out, const uint8_t key[32], uint64_t n, const uint8_t *pt,
                          size_t len)
{
    uint8_t nonce[12];
    unsigned long long clen = 0;
    uint32_t l = (uint32_t)(len + 16);

    out[0] = (uint8_t)(l >> 24);
    out[1] = (uint8_t)(l >> 16);
    out[2] = (uint8_t)(l >> 8);
    out[3] = (uint8_t)l;
    spec_nonce(nonce, n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out + 4, &clen, pt, len, out, 4, NULL, nonce, key);
    return 4 + (size_t)clen;
}

static void spec_auth_signed(uint8_t out[45], uint8_t role, const uint8_t th[32])
{
    memcpy(out, "aoip auth v1", 12);
    out[12] = role;
    memcpy(out + 13, th, 32);
}

static void chan_handshake_opens_both_ends(void **state)
{
    (void)state;
    struct end *a, *b;
    char fp_a[AOIP_FINGERPRINT_LEN + 1], fp_b[AOIP_FINGERPRINT_LEN + 1];

    open_pair(&a, &b);
    aoip_fingerprint(id_a.pk, fp_a);
    aoip_fingerprint(id_b.pk, fp_b);
    assert_int_equal(a->opens, 1);
    assert_int_equal(b->opens, 1);
    assert_string_equal(a->open_id, fp_b);
    assert_string_equal(b->open_id, fp_a);
    assert_string_equal(a->chan.peer_id, fp_b);
    assert_string_equal(b->chan.peer_id, fp_a);
    assert_memory_equal(a->open_pk, id_b.pk, AOIP_ID_PUBLIC_BYTES);
    assert_memory_equal(b->chan.peer_pk, id_a.pk, AOIP_ID_PUBLIC_BYTES);
    assert_int_equal(a->sends, 1); /* the AUTH, once */
    assert_int_equal(b->sends, 1);
    assert_int_equal(a->nmsg + b->nmsg, 0);
    end_free(a);
    end_free(b);
}

static void chan_messages_flow_both_ways_in_order(void **state)
{
    (void)state;
    static uint8_t big[AOIP_CHAN_RECORD_MAX], rec[REC_CAP];
    const size_t sizes[] = { 0, 1, 17, 1000, AOIP_CHAN_RECORD_MAX };
    struct end *a, *b;

    open_pair(&a, &b);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31u + 7u);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = seal(a, big, sizes[i], rec);
        assert_int_equal(feed(b, rec, n), 0);
        assert_message(b, i, big, sizes[i]);
        n = seal(b, big + 1, sizes[i] ? sizes[i] - 1 : 0, rec);
        assert_int_equal(feed(a, rec, n), 0);
        assert_message(a, i, big + 1, sizes[i] ? sizes[i] - 1 : 0);
    }
    assert_int_equal(a->nmsg, 5);
    assert_int_equal(b->nmsg, 5);
    assert_int_equal(a->chan.tx_count, 6); /* AUTH and five messages */
    assert_int_equal(b->chan.rx_count, 6);
    end_free(a);
    end_free(b);
}

/* A second implementation that follows proto/security.md must interoperate. */
static void chan_wire_layout_matches_spec(void **state)
{
    (void)state;
    struct end *a = end_new(true, secret, &id_a), *b = end_new(false, secret, &id_b);
    uint8_t k[32], tag[32], eph_sk_a[32], q[32], keys[64], th[32], want[32], kmix[32];
    uint8_t nonce[12], plain[AUTH_PLAIN], sig_in[45], rec[64];
    unsigned long long plen = 0;
    crypto_generichash_state st;

    /* The secret's sub-keys are crypto_kdf as the spec spells it out. */
    crypto_kdf_derive_from_key(k, 32, 1, "aoiphs01", secret);
    spec_subkey(want, secret, 1);
    assert_memory_equal(k, want, 32);
    assert_memory_equal(a->chan.k_hello, want, 32);
    spec_subkey(kmix, secret, 2);
    assert_memory_equal(a->chan.k_mix, kmix, 32);

    /* HELLO: magic, ephemeral key, tag over magic | role | key. */
    assert_memory_equal(a->hello, "AOIPSEC1", 8);
    assert_memory_equal(a->hello + 8, a->chan.eph_pk, 32);
    spec_hello_tag(tag, secret, 'I', a->hello + 8);
    assert_memory_equal(a->hello + 40, tag, 32);
    spec_hello_tag(tag, secret, 'R', b->hello + 8);
    assert_memory_equal(b->hello + 40, tag, 32);

    /* Kept before the handshake wipes it, to recompute the keys. */
    memcpy(eph_sk_a, a->chan.eph_sk, 32);
    assert_int_equal(feed(a, b->hello, AOIP_CHAN_HELLO_LEN), 0);
    assert_int_equal(feed(b, a->hello, AOIP_CHAN_HELLO_LEN), 0);

    /* Session keys: X25519, BLAKE2b-512(q | pk_I | pk_R), then mixed with the transcript. */
    assert_int_equal(crypto_scalarmult(q, eph_sk_a, b->hello + 8), 0);
    crypto_generichash_init(&st, NULL, 0, 64);
    crypto_generichash_update(&st, q, 32);
    crypto_generichash_update(&st, a->hello + 8, 32);
    crypto_generichash_update(&st, b->hello + 8, 32);
    crypto_generichash_final(&st, keys, 64);
    spec_transcript(th, a->hello, b->hello);
    crypto_generichash_init(&st, kmix, 32, 32);
    crypto_generichash_update(&st, keys + 32, 32); /* dialler to acceptor */
    crypto_generichash_update(&st, th, 32);
    crypto_generichash_final(&st, want, 32);
    assert_memory_equal(a->chan.tx_key, want, 32);
    assert_memory_equal(b->chan.rx_key, want, 32);
    crypto_generichash_init(&st, kmix, 32, 32);
    crypto_generichash_update(&st, keys, 32); /* acceptor to dialler */
    crypto_generichash_update(&st, th, 32);
    crypto_generichash_final(&st, k, 32);
    assert_memory_equal(a->chan.rx_key, k, 32);
    assert_memory_equal(b->chan.tx_key, k, 32);

    /* a's AUTH record: length 112 big-endian, counter 0, AD the length bytes. */
    assert_int_equal(a->out_len, AUTH_RECORD);
    assert_memory_equal(a->out, "\x00\x00\x00\x70", 4);
    spec_nonce(nonce, 0);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(
                         plain, &plen, NULL, a->out + 4, AUTH_RECORD - 4, a->out, 4, nonce, want),
                     0);
    assert_int_equal(plen, AUTH_PLAIN);
    assert_memory_equal(plain, id_a.pk, 32);
    spec_auth_signed(sig_in, 'I', th);
    assert_int_equal(crypto_sign_ed25519_verify_detached(plain + 32, sig_in, 45, id_a.pk), 0);

    /* The first message after AUTH is counter 1. */
    assert_int_equal(deliver(a, b), 0);
    assert_int_equal(deliver(b, a), 0);
    size_t n = seal_text(a, "ping", rec);
    assert_int_equal(n, 4 + 4 + 16);
    spec_nonce(nonce, 1);
    assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plen, NULL, rec + 4, n - 4,
                                                               rec, 4, nonce, want),
                     0);
    assert_int_equal(plen, 4);
    assert_memory_equal(plain, "ping", 4);
    end_free(a);
    end_free(b);
}

/* Both ends see a HELLO they cannot verify: both fail at once, and say nothing. */
static void both_fail_on_secret(const uint8_t *secret_b)
{
    struct end *a = end_new(true, secret, &id_a), *b = end_new(false, secret_b, &id_b);

    assert_int_equal(feed(a, b->hello, AOIP_CHAN_HELLO_LEN), AOIP_ECHAN_SECRET);
    assert_int_equal(feed(b, a->hello, AOIP_CHAN_HELLO_LEN), AOIP_ECHAN_SECRET);
    assert_int_equal(a->chan.state, AOIP_CHAN_FAILED);
    assert_int_equal(b->chan.state, AOIP_CHAN_FAILED);
    assert_int_equal(a->sends + b->sends, 0); /* no AUTH went out */
    assert_int_equal(a->opens + b->opens, 0);
    assert_int_equal(a->nmsg + b->nmsg, 0);
    end_free(a);
    end_free(b);
}

/* Exported keys: one end's outbound is the other's inbound, per label; none before OPEN. */
static void chan_export_matches_across_ends(void **state)
{
    struct end *a, *b;
    uint8_t a_out[32], a_in[32], b_out[32], b_in[32], other[32], again[32];
    (void)state;

    a = end_new(true, secret, &id_a);
    assert_int_equal(aoip_chan_export(&a->chan, "rtcp", true, a_out), AOIP_ECHAN_STATE);
    end_free(a);
    open_pair(&a, &b);
    assert_int_equal(aoip_chan_export(&a->chan, "rtcp", true, a_out), 0);
    assert_int_equal(aoip_chan_export(&a->chan, "rtcp", false, a_in), 0);
    assert_int_equal(aoip_chan_export(&b->chan, "rtcp", true, b_out), 0);
    assert_int_equal(aoip_chan_export(&b->chan, "rtcp", false, b_in), 0);
    assert_memory_equal(a_out, b_in, 32);
    assert_memory_equal(b_out, a_in, 32);
    assert_memory_not_equal(a_out, a_in, 32);
    assert_int_equal(aoip_chan_export(&a->chan, "other", true, other), 0);
    assert_memory_not_equal(a_out, other, 32);
    end_free(a);
    end_free(b);
    /* A new session: new keys. */
    open_pair(&a, &b);
    assert_int_equal(aoip_chan_export(&a->chan, "rtcp", true, again), 0);
    assert_memory_not_equal(a_out, again, 32);
    end_free(a);
    end_free(b);
}

static void chan_wrong_secret_fails_both_sides(void **state)
{
    (void)state;
    uint8_t other[AOIP_SECRET_BYTES];

    memcpy(other, secret, sizeof other);
    other[31] ^= 0x01; /* one bit off */
    both_fail_on_secret(other);
}

/* A node without a secret is modelled as one whose secret differs in every byte. */
static void chan_missing_secret_fails_both_sides(void **state)
{
    (void)state;
    uint8_t other[AOIP_SECRET_BYTES];

    for (size_t i = 0; i < sizeof other; i++)
        other[i] = (uint8_t)~secret[i];
    both_fail_on_secret(other);
}

static void chan_non_aoip_stream_refused(void **state)
{
    (void)state;
    /* What a node of the plain-text peer protocol (proto/peer.md) would send. */
    const char *json = "{\"type\": \"hello\", \"v\": 1, \"id\": \"3f9a1c0e5b7d2a64\", "
                       "\"session\": \"9d0c5e7a11b2f384\", \"name\": \"stage\"}\n";
    uint8_t noise[200];
    struct end *e;

    e = end_new(false, secret, &id_b);
    assert_int_equal(feed(e, (const uint8_t *)json, strlen(json)), AOIP_ECHAN_NOT_AOIP);
    assert_int_equal(e->sends, 0);
    end_free(e);

    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)(i * 73u + 11u);
    e = end_new(true, secret, &id_a);
    assert_int_equal(feed(e, noise, sizeof noise), AOIP_ECHAN_NOT_AOIP);
    end_free(e);

    /* A short probe is refused at once, without waiting for 72 bytes. */
    e = end_new(false, secret, &id_b);
    assert_int_equal(feed(e, (const uint8_t *)"GET / HTTP/1.0\r\n", 16), AOIP_ECHAN_NOT_AOIP);
    end_free(e);
}

static void chan_wrong_magic_refused_at_its_first_wrong_byte(void **state)
{
    (void)state;
    struct end *a = end_new(true, secret, &id_a);

    for (size_t i = 0; i < 8; i++) {
        struct end *b = end_new(false, secret, &id_b);
        uint8_t hello[AOIP_CHAN_HELLO_LEN];
        memcpy(hello, a->hello, sizeof hello);
        hello[i] ^= 0x20; /* "aOIPSEC1", "AoIPSEC1", ... */
        assert_int_equal(feed_bytewise(b, hello, i), 0);
        assert_int_equal(b->chan.state, AOIP_CHAN_HELLO);
        assert_int_equal(feed(b, hello + i, 1), AOIP_ECHAN_NOT_AOIP);
        end_free(b);
    }
    end_free(a);
}

static void chan_hello_with_bad_tag_refused(void **state)
{
    (void)state;
    struct end *a = end_new(true, secret, &id_a);

    for (size_t i = 8; i < AOIP_CHAN_HELLO_LEN; i++) {
        struct end *b = end_new(false, secret, &id_b);
        uint8_t hello[AOIP_CHAN_HELLO_LEN];
        memcpy(hello, a->hello, sizeof hello);
        hello[i] ^= 0x80; /* in the ephemeral key or in the tag */
        assert_int_equal(feed(b, hello, sizeof hello), AOIP_ECHAN_SECRET);
        assert_int_equal(b->sends, 0);
        end_free(b);
    }
    end_free(a);
}

static void chan_reflected_hello_refused(void **state)
{
    (void)state;
    struct end *a = end_new(true, secret, &id_a), *b = end_new(false, secret, &id_b);
    struct end *a2 = end_new(true, secret, &id_c), *b2 = end_new(false, secret, &id_c);

    /* Our own HELLO bounced back by the network. */
    assert_int_equal(feed(a, a->hello, AOIP_CHAN_HELLO_LEN), AOIP_ECHAN_SECRET);
    assert_int_equal(feed(b, b->hello, AOIP_CHAN_HELLO_LEN), AOIP_ECHAN_SECRET);
    /* A genuine member's HELLO, but made in our own role, is refused the same way. */
    assert_int_equal(feed(a2, a->hello, AOIP_CHAN_HELLO_LEN), AOIP_ECHAN_SECRET);
    assert_int_equal(feed(b2, b->hello, AOIP_CHAN_HELLO_LEN), AOIP_ECHAN_SECRET);
    assert_int_equal(a->sends + b->sends + a2->sends + b2->sends, 0);
    end_free(a);
    end_free(b);
    end_free(a2);
    end_free(b2);
}

/* A HELLO that verifies but carries a low-order point: no key can be agreed. */
static void chan_low_order_ephemeral_refused(void **state)
{
    (void)state;
    struct end *b = end_new(false, secret, &id_b);
    uint8_t hello[AOIP_CHAN_HELLO_LEN] = { 0 };

    memcpy(hello, "AOIPSEC1", 8); /* ephemeral key 0: the point of order 4 */
    spec_hello_tag(hello + 40, secret, 'I', hello + 8);
    assert_int_equal(feed(b, hello, sizeof hello), AOIP_ECHAN_AUTH);
    assert_int_equal(b->sends, 0);
    end_free(b);
}

static void chan_tampered_record_fails(void **state)
{
    (void)state;
    static uint8_t filler[AOIP_CHAN_RECORD_MAX + 100];
    uint8_t rec[64], next[64], bad[64];
    const size_t n = strlen("route stage/1") + AOIP_CHAN_RECORD_OVERHEAD;

    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            struct end *a, *b;
            open_pair(&a, &b);
            assert_int_equal(seal_text(a, "route stage/1", rec), n);
            size_t m = seal_text(a, "route stage/2", next);
            memcpy(bad, rec, n);
            bad[i] ^= (uint8_t)(1u << bit);
            /*
             * A record made longer waits for more: the next record and
             * zeros complete it. One made shorter or out of range fails at once.
             */
            int ret = feed(b, bad, n);
            if (ret == 0 && i < 4)
                ret = feed(b, next, m);
            if (ret == 0 && i < 4)
                ret = feed(b, filler, sizeof filler);
            if (i < 4)
                assert_true(ret == AOIP_ECHAN_RECORD || ret == AOIP_ECHAN_SIZE);
            else
                assert_int_equal(ret, AOIP_ECHAN_RECORD);
            assert_int_equal(b->chan.state, AOIP_CHAN_FAILED);
            assert_int_equal(b->nmsg, 0);
            end_free(a);
            end_free(b);
        }
    }
}

static void chan_truncated_record_waits_then_wrong_continuation_fails(void **state)
{
    (void)state;
    uint8_t rec[64], tail[64];
    const size_t n = 10 + AOIP_CHAN_RECORD_OVERHEAD;

    for (size_t cut = 1; cut < n; cut++) {
        struct end *a, *b, *c, *d;
        open_pair(&a, &b);
        open_pair(&c, &d);
        assert_int_equal(seal_text(a, "flow key 7", rec), n);

        assert_int_equal(feed(b, rec, cut), 0);
        assert_int_equal(b->chan.state, AOIP_CHAN_OPEN);
        assert_int_equal(b->nmsg, 0);
        assert_int_equal(feed(b, rec + cut, n - cut), 0);
        assert_message(b, 0, "flow key 7", 10);

        size_t m = seal_text(c, "flow key 7", rec);
        assert_int_equal(m, n);
        assert_int_equal(feed(d, rec, cut), 0);
        assert_int_equal(d->nmsg, 0);
        assert_int_equal(d->chan.state, AOIP_CHAN_OPEN);
        memcpy(tail, rec + cut, n - cut);
        tail[n - cut - 1] ^= 0x01;
        assert_int_equal(feed(d, tail, n - cut), AOIP_ECHAN_RECORD);
        assert_int_equal(d->nmsg, 0);

        end_free(a);
        end_free(b);
        end_free(c);
        end_free(d);
    }
}

static void chan_replayed_record_fails(void **state)
{
    (void)state;
    struct end *a, *b;
    uint8_t rec[64];

    open_pair(&a, &b);
    size_t n = seal_text(a, "start flow", rec);
    assert_int_equal(feed(b, rec, n), 0);
    assert_int_equal(feed(b, rec, n), AOIP_ECHAN_RECORD);
    assert_int_equal(b->nmsg, 1);
    end_free(a);
    end_free(b);
}

static void chan_reordered_records_fail(void **state)
{
    (void)state;
    struct end *a, *b;
    uint8_t r1[64], r2[64], both[128];

    open_pair(&a, &b);
    size_t n1 = seal_text(a, "first", r1);
    size_t n2 = seal_text(a, "second", r2);
    memcpy(both, r2, n2);
    memcpy(both + n2, r1, n1);
    assert_int_equal(feed(b, both, n1 + n2), AOIP_ECHAN_RECORD);
    assert_int_equal(b->nmsg, 0);
    end_free(a);
    end_free(b);
}

static void chan_record_from_other_session_fails(void **state)
{
    (void)state;
    struct end *a1, *b1, *a2, *b2;
    uint8_t rec[64];

    open_pair(&a1, &b1);
    open_pair(&a2, &b2); /* same secret, same identities, same counters */
    size_t n = seal_text(a1, "gain -6", rec);
    assert_int_equal(feed(b2, rec, n), AOIP_ECHAN_RECORD);
    assert_int_equal(b2->nmsg, 0);
    assert_int_equal(feed(b1, rec, n), 0);
    assert_int_equal(b1->nmsg, 1);
    end_free(a1);
    end_free(b1);
    end_free(a2);
    end_free(b2);
}

static void chan_auth_from_other_session_fails(void **state)
{
    (void)state;
    struct end *a1 = end_new(true, secret, &id_a), *b1 = end_new(false, secret, &id_b);
    struct end *a2 = end_new(true, secret, &id_a), *b2 = end_new(false, secret, &id_b);

    assert_int_equal(feed(a1, b1->hello, AOIP_CHAN_HELLO_LEN), 0);
    assert_int_equal(feed(b2, a2->hello, AOIP_CHAN_HELLO_LEN), 0);
    assert_int_equal(feed(b2, a1->out, a1->out_len), AOIP_ECHAN_RECORD);
    assert_int_equal(b2->opens, 0);
    end_free(a1);
    end_free(b1);
    end_free(a2);
    end_free(b2);
}

/*
 * AUTH forged by hand. m is a member that dialled v and completed the
 * HELLOs; what m's channel would send as AUTH is thrown away and a record
 * built here, under m's real session key and counter 0, is sent instead.
 */
enum forgery {
    FORGE_NONE,          /* a correct AUTH: the control */
    FORGE_OTHER_KEY,     /* claims id_a, signed by id_c */
    FORGE_OTHER_SESSION, /* signed over another transcript */
    FORGE_WRONG_ROLE,    /* signed as the acceptor */
    FORGE_WRONG_LABEL,   /* "aoip auth v2" */
    FORGE_SHORT,         /* 95 bytes */
    FORGE_LONG,          /* 97 bytes */
    FORGE_EMPTY,         /* a valid record with nothing in it */
    FORGE_FLIPPED_PK,    /* one bit of the public key changed after signing */
};

static int forged_auth(enum forgery how, struct end **v_out)
{
    struct end *m = end_new(true, secret, &id_a), *v = end_new(false, secret, &id_b);
    uint8_t th[32], msg[45], plain[AUTH_PLAIN + 1], rec[AUTH_RECORD + 1];
    size_t len = AUTH_PLAIN;

    assert_int_equal(feed(m, v->hello, AOIP_CHAN_HELLO_LEN), 0);
    assert_int_equal(feed(v, m->hello, AOIP_CHAN_HELLO_LEN), 0);
    m->out_len = 0;

    spec_transcript(th, m->hello, v->hello);
    if (how == FORGE_OTHER_SESSION)
        spec_transcript(th, v->hello, m->hello);
    spec_auth_signed(msg, how == FORGE_WRONG_ROLE ? 'R' : 'I', th);
    if (how == FORGE_WRONG_LABEL)
        msg[11] = '2';
    memcpy(plain, id_a.pk, 32);
    crypto_sign_ed25519_detached(plain + 32, NULL, msg, sizeof msg,
                                 how == FORGE_OTHER_KEY ? id_c.sk : id_a.sk);
    if (how == FORGE_FLIPPED_PK)
        plain[5] ^= 0x10;
    if (how == FORGE_SHORT)
        len = AUTH_PLAIN - 1;
    if (how == FORGE_LONG)
        plain[len++] = 0;
    if (how == FORGE_EMPTY)
        len = 0;

    size_t n = spec_record(rec, m->chan.tx_key, 0, plain, len);
    int ret = feed(v, rec, n);
    assert_int_equal(v->nmsg, 0);
    end_free(m);
    *v_out = v;
    return ret;
}

static void expect_forgery_refused(enum forgery how)
{
    struct end *v;

    assert_int_equal(forged_auth(how, &v), AOIP_ECHAN_AUTH);
    assert_int_equal(v->chan.state, AOIP_CHAN_FAILED);
    assert_int_equal(v->opens, 0);
    end_free(v);
}

static void chan_auth_built_by_hand_opens(void **state)
{
    (void)state;
    struct end *v;
    char fp[AOIP_FINGERPRINT_LEN + 1];

    assert_int_equal(forged_auth(FORGE_NONE, &v), 0);
    assert_int_equal(v->chan.state, AOIP_CHAN_OPEN);
    aoip_fingerprint(id_a.pk, fp);
    assert_string_equal(v->open_id, fp);
    end_free(v);
}

static void chan_auth_signed_by_other_key_fails(void **state)
{
    (void)state;
    expect_forgery_refused(FORGE_OTHER_KEY);
}

static void chan_auth_over_wrong_transcript_fails(void **state)
{
    (void)state;
    expect_forgery_refused(FORGE_OTHER_SESSION);
}

static void chan_auth_with_wrong_role_fails(void **state)
{
    (void)state;
    expect_forgery_refused(FORGE_WRONG_ROLE);
}

static void chan_auth_with_wrong_label_fails(void **state)
{
    (void)state;
    expect_forgery_refused(FORGE_WRONG_LABEL);
}

static void chan_auth_of_wrong_length_fails(void **state)
{
    (void)state;
    expect_forgery_refused(FORGE_SHORT);
    expect_forgery_refused(FORGE_LONG);
    expect_forgery_refused(FORGE_EMPTY);
}

static void chan_auth_with_substituted_key_fails(void **state)
{
    (void)state;
    expect_forgery_refused(FORGE_FLIPPED_PK);
}

/* The daemon, not the channel, decides what to do with a peer that is us. */
static void chan_peer_with_our_own_identity_opens(void **state)
{
    (void)state;
    struct end *a = end_new(true, secret, &id_a), *b = end_new(false, secret, &id_a);

    handshake(a, b);
    assert_string_equal(a->chan.peer_id, b->chan.peer_id);
    assert_memory_equal(a->chan.peer_pk, id_a.pk, AOIP_ID_PUBLIC_BYTES);
    end_free(a);
    end_free(b);
}

static void chan_record_length_out_of_range_refused(void **state)
{
    (void)state;
    const uint32_t lengths[] = {
        0, 1, AOIP_CHAN_RECORD_TAG - 1, AOIP_CHAN_RECORD_MAX + 17, 0x7fffffffu, 0xffffffffu
    };

    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        struct end *a, *b;
        uint8_t hdr[4] = { (uint8_t)(lengths[i] >> 24), (uint8_t)(lengths[i] >> 16),
                           (uint8_t)(lengths[i] >> 8), (uint8_t)lengths[i] };
        open_pair(&a, &b);
        /* Refused on its four length bytes, before any more arrive. */
        assert_int_equal(feed_bytewise(b, hdr, 3), 0);
        assert_int_equal(feed(b, hdr + 3, 1), AOIP_ECHAN_SIZE);
        assert_null(b->chan.in);
        end_free(a);
        end_free(b);
    }
}

static void chan_record_of_maximum_length_accepted(void **state)
{
    (void)state;
    static uint8_t msg[AOIP_CHAN_RECORD_MAX], rec[REC_CAP];
    struct end *a, *b;

    open_pair(&a, &b);
    randombytes_buf(msg, sizeof msg);
    size_t n = seal(a, msg, sizeof msg, rec);
    assert_int_equal(n, AOIP_CHAN_RECORD_MAX + 20);
    assert_int_equal(rec[0], 0x00);
    assert_int_equal(rec[1], 0x01);
    assert_int_equal(rec[2], 0x00);
    assert_int_equal(rec[3], 0x10);
    assert_int_equal(feed(b, rec, n - 1), 0);
    assert_int_equal(feed(b, rec + n - 1, 1), 0);
    assert_message(b, 0, msg, sizeof msg);
    /* Buffered input never needs more than one maximal record. */
    assert_true(b->chan.in_cap <= AOIP_CHAN_RECORD_MAX + AOIP_CHAN_RECORD_OVERHEAD);
    end_free(a);
    end_free(b);
}

static void chan_seal_checks_state_size_and_room(void **state)
{
    (void)state;
    static uint8_t msg[AOIP_CHAN_RECORD_MAX + 1], rec[REC_CAP + 1];
    struct end *a = end_new(true, secret, &id_a), *b = end_new(false, secret, &id_b);

    assert_int_equal(aoip_chan_seal(&a->chan, "x", 1, rec, sizeof rec), AOIP_ECHAN_STATE);
    assert_int_equal(feed(a, b->hello, AOIP_CHAN_HELLO_LEN), 0);
    /* AUTH sent, the peer's not yet in: still no messages. */
    assert_int_equal(aoip_chan_seal(&a->chan, "x", 1, rec, sizeof rec), AOIP_ECHAN_STATE);
    assert_int_equal(feed(b, a->hello, AOIP_CHAN_HELLO_LEN), 0);
    assert_int_equal(deliver(a, b), 0);
    assert_int_equal(deliver(b, a), 0);

    assert_int_equal(aoip_chan_seal(&a->chan, msg, sizeof msg, rec, sizeof rec), AOIP_ECHAN_SIZE);
    assert_int_equal(aoip_chan_seal(&a->chan, msg, 10, rec, 29), -ENOSPC);
    assert_int_equal(aoip_chan_seal(&a->chan, msg, 10, rec, 30), 30);
    end_free(a);
    end_free(b);
}

static void chan_failed_channel_stays_failed(void **state)
{
    (void)state;
    struct end *a, *b;
    uint8_t r1[64], r2[64], bad[64];

    open_pair(&a, &b);
    size_t n1 = seal_text(a, "one", r1);
    size_t n2 = seal_text(a, "two", r2);
    memcpy(bad, r1, n1);
    bad[n1 - 1] ^= 0x40;
    assert_int_equal(feed(b, bad, n1), AOIP_ECHAN_RECORD);
    /* The genuine records, in order, no longer help. */
    assert_int_equal(feed(b, r1, n1), AOIP_ECHAN_RECORD);
    assert_int_equal(feed(b, r2, n2), AOIP_ECHAN_RECORD);
    assert_int_equal(feed(b, NULL, 0), AOIP_ECHAN_RECORD);
    assert_int_equal(aoip_chan_seal(&b->chan, "x", 1, r1, sizeof r1), AOIP_ECHAN_RECORD);
    assert_int_equal(b->chan.error, AOIP_ECHAN_RECORD);
    assert_int_equal(b->nmsg, 0);
    /* Its keys are gone already. */
    assert_true(sodium_is_zero(b->chan.rx_key, 32));
    assert_true(sodium_is_zero(b->chan.tx_key, 32));
    end_free(a);
    end_free(b);
}

/* The full stream each end receives, for feeding in pieces. */
struct streams {
    uint8_t to_a[1024]; /* b's HELLO and AUTH */
    size_t to_a_len;
    uint8_t to_b_hello[AOIP_CHAN_HELLO_LEN];
    uint8_t to_b[8192]; /* a's AUTH and messages */
    size_t to_b_len;
};

#define N_STREAM_MSGS 40

static void stream_text(char *buf, size_t cap, size_t i)
{
    snprintf(buf, cap, "message %zu of the peer stream%.*s", i, (int)(i % 23),
             "........................");
}

/*
 * Run a conversation whose bytes are fed in pieces of the sizes split
 * returns (0: the rest at once), and check everything arrived.
 */
static void conversation(size_t (*split)(struct netmodel_rng *), uint64_t seed)
{
    struct end *a = end_new(true, secret, &id_a), *b = end_new(false, secret, &id_b);
    static struct streams s;
    struct netmodel_rng rng;
    char text[80];

    netmodel_rng_seed(&rng, seed);
    /* b's side: it takes a's HELLO, then we collect its HELLO and AUTH for a. */
    memcpy(s.to_b_hello, a->hello, AOIP_CHAN_HELLO_LEN);
    memcpy(s.to_a, b->hello, AOIP_CHAN_HELLO_LEN);
    for (size_t off = 0; off < AOIP_CHAN_HELLO_LEN;) {
        size_t k = split(&rng);
        if (k == 0 || k > AOIP_CHAN_HELLO_LEN - off)
            k = AOIP_CHAN_HELLO_LEN - off;
        assert_int_equal(feed(b, s.to_b_hello + off, k), 0);
        off += k;
    }
    memcpy(s.to_a + AOIP_CHAN_HELLO_LEN, b->out, b->out_len);
    s.to_a_len = AOIP_CHAN_HELLO_LEN + b->out_len;
    b->out_len = 0;

    /* a takes b's HELLO and AUTH in pieces; opens; then seals its messages. */
    for (size_t off = 0; off < s.to_a_len;) {
        size_t k = split(&rng);
        if (k == 0 || k > s.to_a_len - off)
            k = s.to_a_len - off;
        assert_int_equal(feed(a, s.to_a + off, k), 0);
        off += k;
    }
    assert_int_equal(a->chan.state, AOIP_CHAN_OPEN);
    memcpy(s.to_b, a->out, a->out_len);
    s.to_b_len = a->out_len;
    for (size_t i = 0; i < N_STREAM_MSGS; i++) {
        stream_text(text, sizeof text, i);
        s.to_b_len += seal_text(a, text, s.to_b + s.to_b_len);
        assert_true(s.to_b_len < sizeof s.to_b - 100);
    }

    for (size_t off = 0; off < s.to_b_len;) {
        size_t k = split(&rng);
        if (k == 0 || k > s.to_b_len - off)
            k = s.to_b_len - off;
        assert_int_equal(feed(b, s.to_b + off, k), 0);
        off += k;
    }
    assert_int_equal(b->chan.state, AOIP_CHAN_OPEN);
    assert_int_equal(b->nmsg, N_STREAM_MSGS);
    for (size_t i = 0; i < N_STREAM_MSGS; i++) {
        stream_text(text, sizeof text, i);
        assert_message(b, i, text, strlen(text));
    }
    end_free(a);
    end_free(b);
}

static size_t split_whole(struct netmodel_rng *r)
{
    (void)r;
    return 0;
}

static size_t split_bytes(struct netmodel_rng *r)
{
    (void)r;
    return 1;
}

static size_t split_random(struct netmodel_rng *r)
{
    return 1 + (size_t)(netmodel_rng_next(r) % 150);
}

static void chan_many_records_in_one_feed(void **state)
{
    (void)state;
    conversation(split_whole, 1);
}

static void chan_input_fed_one_byte_at_a_time(void **state)
{
    (void)state;
    conversation(split_bytes, 1);
}

static void chan_input_split_at_random_points(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++)
        conversation(split_random, seed);
}

static void chan_message_callback_stops_and_resumes(void **state)
{
    (void)state;
    struct end *a, *b;
    uint8_t wire[512], r4[64];
    size_t n = 0;

    open_pair(&a, &b);
    b->stop = true;
    n += seal_text(a, "one", wire + n);
    n += seal_text(a, "two", wire + n);
    n += seal_text(a, "three", wire + n);
    size_t n4 = seal_text(a, "four", r4);

    assert_int_equal(feed(b, wire, n), 0);
    assert_int_equal(b->nmsg, 1);
    /* New bytes queue behind the kept ones: still one message per call. */
    assert_int_equal(feed(b, r4, 5), 0);
    assert_int_equal(b->nmsg, 2);
    assert_int_equal(feed(b, NULL, 0), 0);
    assert_int_equal(b->nmsg, 3);
    assert_int_equal(feed(b, NULL, 0), 0);
    assert_int_equal(b->nmsg, 3); /* "four" is not all in yet */
    b->stop = false;
    assert_int_equal(feed(b, r4 + 5, n4 - 5), 0);
    assert_int_equal(b->nmsg, 4);
    assert_message(b, 0, "one", 3);
    assert_message(b, 1, "two", 3);
    assert_message(b, 2, "three", 5);
    assert_message(b, 3, "four", 4);
    assert_int_equal(b->chan.in_len, 0);
    end_free(a);
    end_free(b);
}

/* Forward secrecy: nothing of one session's keys recurs in the next. */
static void chan_session_keys_differ_between_sessions(void **state)
{
    (void)state;
    struct end *a1, *b1, *a2, *b2;

    open_pair(&a1, &b1);
    open_pair(&a2, &b2);
    assert_memory_not_equal(a1->hello + 8, a2->hello + 8, 32);
    assert_memory_not_equal(b1->hello + 8, b2->hello + 8, 32);
    assert_memory_not_equal(a1->chan.tx_key, a2->chan.tx_key, 32);
    assert_memory_not_equal(a1->chan.rx_key, a2->chan.rx_key, 32);
    assert_memory_not_equal(a1->chan.tx_key, a1->chan.rx_key, 32);
    assert_memory_equal(a1->chan.tx_key, b1->chan.rx_key, 32);
    end_free(a1);
    end_free(b1);
    end_free(a2);
    end_free(b2);
}

static void chan_handshake_wipes_ephemeral_and_secret_keys(void **state)
{
    (void)state;
    struct end *a, *b;

    open_pair(&a, &b);
    assert_true(sodium_is_zero(a->chan.eph_sk, 32));
    assert_true(sodium_is_zero(b->chan.eph_sk, 32));
    assert_true(sodium_is_zero(a->chan.k_hello, 32));
    assert_true(sodium_is_zero(a->chan.k_mix, 32));
    end_free(a);
    end_free(b);
}

static void chan_clear_wipes_keys(void **state)
{
    (void)state;
    struct end *a, *b;
    uint8_t rec[64];

    open_pair(&a, &b);
    assert_int_equal(feed(b, rec, seal_text(a, "partial", rec) - 3), 0);
    assert_true(b->chan.in_len > 0);
    aoip_chan_clear(&b->chan);
    assert_null(b->chan.in);
    assert_int_equal(b->chan.in_len, 0);
    assert_true(sodium_is_zero(b->chan.tx_key, 32));
    assert_true(sodium_is_zero(b->chan.rx_key, 32));
    assert_true(sodium_is_zero(b->chan.peer_pk, 32));
    /* A cleared channel is of no further use, and clearing again is harmless. */
    assert_int_equal(feed(b, rec, 4), AOIP_ECHAN_STATE);
    end_free(a);
    end_free(b);
}

static void secret_text_round_trip(void **state)
{
    (void)state;
    char text[AOIP_SECRET_TEXT_LEN + 1];
    uint8_t back[AOIP_SECRET_BYTES], fresh[AOIP_SECRET_BYTES];

    aoip_secret_format(secret, text);
    assert_int_equal(strlen(text), AOIP_SECRET_TEXT_LEN);
    assert_string_equal(text, "aoip-secret-v1:"
                              "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    assert_int_equal(aoip_secret_parse(text, strlen(text), back), 0);
    assert_memory_equal(back, secret, sizeof back);

    aoip_secret_generate(fresh);
    assert_memory_not_equal(fresh, secret, sizeof fresh);
    aoip_secret_format(fresh, text);
    assert_int_equal(aoip_secret_parse(text, strlen(text), back), 0);
    assert_memory_equal(back, fresh, sizeof back);
}

static void secret_text_accepts_whitespace_and_uppercase(void **state)
{
    (void)state;
    const char *hex = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
    char text[200];
    uint8_t back[AOIP_SECRET_BYTES];

    snprintf(text, sizeof text, "  aoip-secret-v1:%s\n", hex);
    assert_int_equal(aoip_secret_parse(text, strlen(text), back), 0);
    assert_memory_equal(back, secret, sizeof back);
    snprintf(text, sizeof text, "\r\n\taoip-secret-v1:%s\r\n\n", hex);
    assert_int_equal(aoip_secret_parse(text, strlen(text), back), 0);
    snprintf(text, sizeof text, "aoip-secret-v1:%s",
             "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
             "B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF");
    assert_int_equal(aoip_secret_parse(text, strlen(text), back), 0);
    assert_memory_equal(back, secret, sizeof back);
}

static void secret_text_rejects_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "\n",
        "aoip-secret-v1:",
        "aoip-secret-v1:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbeb",
        "aoip-secret-v1:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf0",
        "aoip-secret-v1:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf00",
        "aoip-secret-v1:g0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "aoip-secret-v1:a0a1a2a3a4a5a6a7 8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "aoip-secret-v1: a0a1a2a3a4a5a6a78a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "aoip-secret-v2:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "AOIP-SECRET-V1:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "aoip-secret-v1 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "aoip-secret-v1:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf x",
        "x aoip-secret-v1:a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
    };
    uint8_t back[AOIP_SECRET_BYTES];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(back, 0x55, sizeof back);
        assert_int_equal(aoip_secret_parse(bad[i], strlen(bad[i]), back), -EINVAL);
        for (size_t j = 0; j < sizeof back; j++)
            assert_int_equal(back[j], 0x55); /* untouched */
    }
    /* A NUL inside the text is not whitespace. */
    char text[AOIP_SECRET_TEXT_LEN + 2];
    aoip_secret_format(secret, text);
    text[AOIP_SECRET_TEXT_LEN] = '\0';
    assert_int_equal(aoip_secret_parse(text, AOIP_SECRET_TEXT_LEN + 1, back), -EINVAL);
    text[20] = '\0';
    assert_int_equal(aoip_secret_parse(text, AOIP_SECRET_TEXT_LEN, back), -EINVAL);
}

static void identity_check_detects_mismatch(void **state)
{
    (void)state;
    struct aoip_identity id = id_a;

    assert_int_equal(aoip_identity_check(&id_a), 0);
    id.pk[0] ^= 1;
    assert_int_equal(aoip_identity_check(&id), -EINVAL);
    id = id_a;
    id.sk[0] ^= 1; /* the seed */
    assert_int_equal(aoip_identity_check(&id), -EINVAL);
    id = id_a;
    id.sk[40] ^= 1; /* the copy of the public key inside sk */
    assert_int_equal(aoip_identity_check(&id), -EINVAL);
    id = id_b;
    memcpy(id.pk, id_a.pk, sizeof id.pk);
    assert_int_equal(aoip_identity_check(&id), -EINVAL);
}

static void fingerprint_is_hex_of_blake2b_prefix(void **state)
{
    (void)state;
    char fp[AOIP_FINGERPRINT_LEN + 1], want[AOIP_FINGERPRINT_LEN + 1];
    uint8_t h[32];

    aoip_fingerprint(id_a.pk, fp);
    crypto_generichash(h, 32, id_a.pk, 32, NULL, 0);
    for (int i = 0; i < 8; i++)
        snprintf(want + 2 * i, 3, "%02x", h[i]);
    assert_string_equal(fp, want);
    aoip_fingerprint(id_b.pk, want);
    assert_string_not_equal(fp, want);
}

static void chan_error_texts_name_the_cause(void **state)
{
    (void)state;
    const int codes[] = { AOIP_ECHAN_NOT_AOIP, AOIP_ECHAN_SECRET, AOIP_ECHAN_AUTH,
                          AOIP_ECHAN_RECORD,   AOIP_ECHAN_SIZE,   AOIP_ECHAN_STATE };
    assert_int_equal(tool_error_texts_distinct(codes, sizeof codes / sizeof codes[0]), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chan_handshake_opens_both_ends),
        cmocka_unit_test(chan_messages_flow_both_ways_in_order),
        cmocka_unit_test(chan_wire_layout_matches_spec),
        cmocka_unit_test(chan_wrong_secret_fails_both_sides),
        cmocka_unit_test(chan_export_matches_across_ends),
        cmocka_unit_test(chan_missing_secret_fails_both_sides),
        cmocka_unit_test(chan_non_aoip_stream_refused),
        cmocka_unit_test(chan_wrong_magic_refused_at_its_first_wrong_byte),
        cmocka_unit_test(chan_hello_with_bad_tag_refused),
        cmocka_unit_test(chan_reflected_hello_refused),
        cmocka_unit_test(chan_low_order_ephemeral_refused),
        cmocka_unit_test(chan_tampered_record_fails),
        cmocka_unit_test(chan_truncated_record_waits_then_wrong_continuation_fails),
        cmocka_unit_test(chan_replayed_record_fails),
        cmocka_unit_test(chan_reordered_records_fail),
        cmocka_unit_test(chan_record_from_other_session_fails),
        cmocka_unit_test(chan_auth_from_other_session_fails),
        cmocka_unit_test(chan_auth_built_by_hand_opens),
        cmocka_unit_test(chan_auth_signed_by_other_key_fails),
        cmocka_unit_test(chan_auth_over_wrong_transcript_fails),
        cmocka_unit_test(chan_auth_with_wrong_role_fails),
        cmocka_unit_test(chan_auth_with_wrong_label_fails),
        cmocka_unit_test(chan_auth_of_wrong_length_fails),
        cmocka_unit_test(chan_auth_with_substituted_key_fails),
        cmocka_unit_test(chan_peer_with_our_own_identity_opens),
        cmocka_unit_test(chan_record_length_out_of_range_refused),
        cmocka_unit_test(chan_record_of_maximum_length_accepted),
        cmocka_unit_test(chan_seal_checks_state_size_and_room),
        cmocka_unit_test(chan_failed_channel_stays_failed),
        cmocka_unit_test(chan_many_records_in_one_feed),
        cmocka_unit_test(chan_input_fed_one_byte_at_a_time),
        cmocka_unit_test(chan_input_split_at_random_points),
        cmocka_unit_test(chan_message_callback_stops_and_resumes),
        cmocka_unit_test(chan_session_keys_differ_between_sessions),
        cmocka_unit_test(chan_handshake_wipes_ephemeral_and_secret_keys),
        cmocka_unit_test(chan_clear_wipes_keys),
        cmocka_unit_test(secret_text_round_trip),
        cmocka_unit_test(secret_text_accepts_whitespace_and_uppercase),
        cmocka_unit_test(secret_text_rejects_malformed),
        cmocka_unit_test(identity_check_detects_mismatch),
        cmocka_unit_test(fingerprint_is_hex_of_blake2b_prefix),
        cmocka_unit_test(chan_error_texts_name_the_cause),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
