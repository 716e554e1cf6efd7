/*
 * fuzz_peerchan.c: libFuzzer target for the sealed peer channel.
 *
 * The first input byte picks what the rest is:
 *
 *   bit 7 clear: raw bytes from the network. They are fed, in chunks of
 *     (bits 0-5) bytes (0: all at once), to a channel waiting for a HELLO
 *     (as the acceptor, or the dialler if bit 6 is set) and to a channel
 *     that has completed its handshake. The corpus holds HELLOs made under
 *     the fixed secret below, so the first channel gets past the HELLO too.
 *   bit 7 set: a script run on an open pair. Each step is an op byte and an
 *     argument n: op % 4 = 0 seals the next n input bytes as a message and
 *     puts the record on the wire, 1 puts the next n input bytes on the
 *     wire raw, 2 flips a bit of the wire not yet delivered, 3 delivers the
 *     wire in chunks of n % 16 bytes (0: all at once).
 *
 * Beyond "does not crash", it checks what peerchan.h promises: every
 * return is 0 or an AOIP_ECHAN_* code, and a failed channel stays failed;
 * no message is delivered that the peer did not seal, and those it sealed
 * arrive in order, byte for byte, each once; an untouched wire delivers all
 * of them. A broken promise aborts, so libFuzzer and the replay driver both
 * see it as a crash.
 *
 * The handshakes are done once, and each input works on copies of their
 * channels (with buffers of their own), so an input costs no public-key
 * operation unless it carries a valid HELLO.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "aoip/peerchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT   4096
#define MAX_EXPECT  (MAX_INPUT / 2)
#define WIRE_MAX    (12 * MAX_INPUT) /* a 20-byte record per 2 input bytes, at most */
#define AUTH_RECORD (32 + 64 + AOIP_CHAN_RECORD_OVERHEAD)

static void check(int ok)
{
    if (!ok)
        abort();
}

/* What the callbacks saw, and which messages may arrive, in order. */
struct sink {
    size_t nmsg;
    size_t sends;
    size_t opens;
    const uint8_t *expect[MAX_EXPECT];
    size_t expect_len[MAX_EXPECT];
    size_t nexpect;
    uint8_t sent[AUTH_RECORD]; /* the AUTH record, during setup */
};

static int on_message(void *arg, const uint8_t *msg, size_t len)
{
    struct sink *s = arg;

    check(s->nmsg < s->nexpect);
    check(len == s->expect_len[s->nmsg]);
    check(len == 0 || memcmp(msg, s->expect[s->nmsg], len) == 0);
    s->nmsg++;
    return 0;
}

static void on_send(void *arg, const uint8_t *bytes, size_t len)
{
    struct sink *s = arg;

    check(len == AUTH_RECORD && s->sends == 0);
    memcpy(s->sent, bytes, len);
    s->sends++;
}

static void on_open(void *arg, const char *peer_id, const uint8_t *pk)
{
    struct sink *s = arg;

    (void)peer_id;
    (void)pk;
    s->opens++;
}

static const struct aoip_chan_ops ops = {
    .message = on_message,
    .send = on_send,
    .open = on_open,
};

static uint8_t secret[AOIP_SECRET_BYTES];
static struct aoip_identity id_dialler, id_acceptor;
static struct aoip_chan waiting[2];       /* in HELLO: [0] acceptor, [1] dialler */
static struct aoip_chan open_tx, open_rx; /* an open pair: dialler sends to acceptor */

static void setup(void)
{
    uint8_t seed[32], hello_tx[AOIP_CHAN_HELLO_LEN], hello_rx[AOIP_CHAN_HELLO_LEN];
    static struct sink s_tx, s_rx;

    /* The corpus was made with this secret: 0x53 ('S') in every byte. */
    memset(secret, 0x53, sizeof secret);
    memset(seed, 0x44, sizeof seed);
    check(crypto_sign_ed25519_seed_keypair(id_dialler.pk, id_dialler.sk, seed) == 0);
    memset(seed, 0x41, sizeof seed);
    check(crypto_sign_ed25519_seed_keypair(id_acceptor.pk, id_acceptor.sk, seed) == 0);

    check(aoip_chan_init(&waiting[0], false, secret, &id_acceptor, hello_rx) == 0);
    check(aoip_chan_init(&waiting[1], true, secret, &id_dialler, hello_tx) == 0);

    check(aoip_chan_init(&open_tx, true, secret, &id_dialler, hello_tx) == 0);
    check(aoip_chan_init(&open_rx, false, secret, &id_acceptor, hello_rx) == 0);
    check(aoip_chan_feed(&open_tx, hello_rx, sizeof hello_rx, &ops, &s_tx) == 0);
    check(aoip_chan_feed(&open_rx, hello_tx, sizeof hello_tx, &ops, &s_rx) == 0);
    check(aoip_chan_feed(&open_rx, s_tx.sent, AUTH_RECORD, &ops, &s_rx) == 0);
    check(aoip_chan_feed(&open_tx, s_rx.sent, AUTH_RECORD, &ops, &s_tx) == 0);
    check(open_tx.state == AOIP_CHAN_OPEN && open_rx.state == AOIP_CHAN_OPEN);
    check(open_tx.in_len == 0 && open_rx.in_len == 0);
}

/* A copy of a template channel that owns no buffer yet. */
static void copy(struct aoip_chan *dst, const struct aoip_chan *tmpl)
{
    *dst = *tmpl;
    dst->in = NULL;
    dst->in_len = 0;
    dst->in_cap = 0;
}

static bool chan_error(int ret)
{
    return ret <= AOIP_ECHAN_NOT_AOIP && ret >= AOIP_ECHAN_STATE;
}

/* Feed n bytes in chunks (0: at once); returns 0 or the error that failed the channel. */
static int feed_chunks(struct aoip_chan *c, const uint8_t *p, size_t n, size_t chunk,
                       struct sink *s)
{
    size_t off = 0;

    while (off < n) {
        size_t k = chunk == 0 || chunk > n - off ? n - off : chunk;
        int ret = aoip_chan_feed(c, p + off, k, &ops, s);
        if (ret < 0) {
            check(chan_error(ret));
            check(c->state == AOIP_CHAN_FAILED && c->error == ret);
            check(aoip_chan_feed(c, p, n, &ops, s) == ret);
            check(c->in == NULL && c->in_len == 0);
            return ret;
        }
        check(ret == 0);
        off += k;
    }
    return 0;
}

static void raw(const uint8_t *data, size_t size, uint8_t ctl)
{
    static struct sink s;
    struct aoip_chan c;
    size_t chunk = ctl & 0x3f;
    bool past_hello;
    int ret;

    memset(&s, 0, sizeof s);
    copy(&c, &waiting[(ctl >> 6) & 1]);
    ret = feed_chunks(&c, data, size, chunk, &s);
    /* Nobody without the keys of this session can authenticate or send a message. */
    check(s.nmsg == 0 && s.opens == 0);
    check(c.state != AOIP_CHAN_OPEN);
    /* Past a good HELLO, our AUTH went out once; a record then failed or is awaited. */
    past_hello = c.state == AOIP_CHAN_AUTH || ret == AOIP_ECHAN_RECORD || ret == AOIP_ECHAN_SIZE;
    check(s.sends == (past_hello ? 1u : 0u));
    if (ret == 0 && c.state == AOIP_CHAN_HELLO)
        check(size < AOIP_CHAN_HELLO_LEN && c.in_len == size);
    aoip_chan_clear(&c);

    memset(&s, 0, sizeof s);
    copy(&c, &open_rx);
    ret = feed_chunks(&c, data, size, chunk, &s);
    check(s.nmsg == 0 && s.sends == 0 && s.opens == 0);
    /* Nothing opens, so whatever did not fail the channel is still waiting in it. */
    if (ret == 0)
        check(c.state == AOIP_CHAN_OPEN && c.in_len == size);
    aoip_chan_clear(&c);
}

static void script(const uint8_t *data, size_t size)
{
    static struct sink s;
    static uint8_t wire[WIRE_MAX];
    struct aoip_chan tx, rx;
    size_t i = 0, wlen = 0, fed = 0;
    bool tampered = false;
    int ret = 0;

    memset(&s, 0, sizeof s);
    copy(&tx, &open_tx);
    copy(&rx, &open_rx);
    while (i + 2 <= size && ret == 0) {
        uint8_t op = data[i], n = data[i + 1];
        size_t m = n < size - i - 2 ? n : size - i - 2;
        i += 2;
        switch (op % 4) {
        case 0:
            if (wlen + m + AOIP_CHAN_RECORD_OVERHEAD > sizeof wire || s.nexpect == MAX_EXPECT)
                break;
            check(aoip_chan_seal(&tx, data + i, m, wire + wlen, sizeof wire - wlen) ==
                  (int)(m + AOIP_CHAN_RECORD_OVERHEAD));
            s.expect[s.nexpect] = data + i;
            s.expect_len[s.nexpect++] = m;
            wlen += m + AOIP_CHAN_RECORD_OVERHEAD;
            i += m;
            break;
        case 1:
            if (wlen + m > sizeof wire)
                break;
            memcpy(wire + wlen, data + i, m);
            wlen += m;
            tampered |= m > 0;
            i += m;
            break;
        case 2:
            if (wlen > fed) {
                wire[fed + (n * 257u + op) % (wlen - fed)] ^= (uint8_t)(1u << ((op >> 2) & 7));
                tampered = true;
            }
            break;
        default:
            ret = feed_chunks(&rx, wire + fed, wlen - fed, n % 16, &s);
            fed = wlen;
            break;
        }
    }
    if (ret == 0)
        ret = feed_chunks(&rx, wire + fed, wlen - fed, 0, &s);
    check(s.sends == 0 && s.opens == 0);
    if (!tampered)
        check(ret == 0 && s.nmsg == s.nexpect && rx.in_len == 0);
    aoip_chan_clear(&tx);
    aoip_chan_clear(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0 || size > MAX_INPUT)
        return 0;
    if (data[0] & 0x80)
        script(data + 1, size - 1);
    else
        raw(data + 1, size - 1, data[0]);
    return 0;
}
