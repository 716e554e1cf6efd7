/*
 * peerchan.c: the sealed peer channel (peerchan.h), on libsodium. The
 * bytes are specified in proto/security.md, section "The peer channel".
 *
 * The channel is a state machine fed with whatever a socket read returned:
 * half a HELLO, three records and the first byte of a fourth, one byte.
 * Input is consumed in units (the HELLO, then records). A unit that arrives
 * whole is taken straight from the caller's bytes; only the incomplete tail
 * of a read is copied into the channel's buffer, so the buffer never holds
 * more than one unit (one maximal record) unless a message callback asked
 * to stop, in which case the unread rest of that call is kept as well.
 *
 * Everything a record could tell before it opens (its length) is checked
 * as soon as its four length bytes are in, so a peer cannot make us
 * buffer more than one maximal record. A record is opened whole or not at
 * all; the AEAD checks the tag before it decrypts, so no plaintext of a
 * failing record exists, let alone reaches ops->message. Plaintext (which
 * carries flow keys) is wiped from the buffer once its callback returns,
 * and the secret-derived keys and the ephemeral secret are wiped as soon
 * as the handshake no longer needs them.
 *
 * Any failure is final: the keys are wiped, the input dropped, and every
 * later call returns the same error. A byte stream cannot lose, repeat or
 * reorder bytes, so a record that does not open is an attack or a bug,
 * and nothing after it can be trusted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "aoip/peerchan.h"
#include "bytes.h"

#define MAGIC     "AOIPSEC1"
#define MAGIC_LEN 8

/*
 * The two keys taken from the network secret with crypto_kdf (BLAKE2b
 * with the secret as key, the subkey id as salt, the context as
 * personalisation): one authenticates HELLOs, the other is mixed into
 * the session keys. Changing either id or the context is a new protocol.
 */
#define KDF_CONTEXT  "aoiphs01"
#define SUBKEY_HELLO 1
#define SUBKEY_MIX   2

#define ROLE_DIALLER  'I'
#define ROLE_ACCEPTOR 'R'

#define AUTH_LABEL     "aoip auth v1"
#define AUTH_LABEL_LEN 12
#define AUTH_SIGNED    (AUTH_LABEL_LEN + 1 + 32) /* label | role | transcript hash */
#define AUTH_LEN       (AOIP_ID_PUBLIC_BYTES + crypto_sign_ed25519_BYTES)

#define SECRET_PREFIX     "aoip-secret-v1:"
#define SECRET_PREFIX_LEN 15

#define CT_MAX   (AOIP_CHAN_RECORD_MAX + AOIP_CHAN_RECORD_TAG)
#define UNIT_MAX (AOIP_CHAN_RECORD_HEADER + CT_MAX)
/* Enough for the HELLO, the AUTH record and the small messages of a peer. */
#define BUFFER_START 512

_Static_assert(AOIP_CHAN_HELLO_LEN == MAGIC_LEN + crypto_kx_PUBLICKEYBYTES + 32, "HELLO layout");
_Static_assert(crypto_kx_SECRETKEYBYTES == 32 && crypto_kx_SESSIONKEYBYTES == 32, "kx sizes");
_Static_assert(crypto_kdf_KEYBYTES == AOIP_SECRET_BYTES, "the secret is a kdf key");
_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "kdf context length");
_Static_assert(sizeof AUTH_LABEL - 1 == AUTH_LABEL_LEN, "AUTH label length");
_Static_assert(sizeof SECRET_PREFIX - 1 == SECRET_PREFIX_LEN, "secret prefix length");
_Static_assert(AOIP_CHAN_RECORD_TAG == crypto_aead_chacha20poly1305_ietf_ABYTES, "record tag");
_Static_assert(crypto_sign_ed25519_PUBLICKEYBYTES == AOIP_ID_PUBLIC_BYTES &&
                   crypto_sign_ed25519_SECRETKEYBYTES == AOIP_ID_SECRET_BYTES,
               "identity sizes");
_Static_assert(UNIT_MAX <= INT32_MAX, "a record length fits the int aoip_chan_seal returns");

/* A key made without a working random source must never exist: stop instead. */
static void need_sodium(void)
{
    if (sodium_init() < 0)
        abort();
}

void aoip_identity_generate(struct aoip_identity *id)
{
    need_sodium();
    crypto_sign_ed25519_keypair(id->pk, id->sk);
}

int aoip_identity_check(const struct aoip_identity *id)
{
    uint8_t pk[AOIP_ID_PUBLIC_BYTES], sk[AOIP_ID_SECRET_BYTES];
    int ok;

    if (sodium_init() < 0)
        return -EIO;
    /* libsodium's secret key is seed | public key: rebuild both from the seed. */
    crypto_sign_ed25519_seed_keypair(pk, sk, id->sk);
    ok = sodium_memcmp(pk, id->pk, sizeof pk) == 0 && sodium_memcmp(sk, id->sk, sizeof sk) == 0;
    sodium_memzero(sk, sizeof sk);
    return ok ? 0 : -EINVAL;
}

void aoip_fingerprint(const uint8_t pk[AOIP_ID_PUBLIC_BYTES], char out[AOIP_FINGERPRINT_LEN + 1])
{
    uint8_t h[32];

    crypto_generichash(h, sizeof h, pk, AOIP_ID_PUBLIC_BYTES, NULL, 0);
    sodium_bin2hex(out, AOIP_FINGERPRINT_LEN + 1, h, AOIP_FINGERPRINT_LEN / 2);
}

void aoip_secret_generate(uint8_t secret[AOIP_SECRET_BYTES])
{
    need_sodium();
    randombytes_buf(secret, AOIP_SECRET_BYTES);
}

void aoip_secret_format(const uint8_t secret[AOIP_SECRET_BYTES], char out[AOIP_SECRET_TEXT_LEN + 1])
{
    memcpy(out, SECRET_PREFIX, SECRET_PREFIX_LEN);
    sodium_bin2hex(out + SECRET_PREFIX_LEN, 2 * AOIP_SECRET_BYTES + 1, secret, AOIP_SECRET_BYTES);
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

int aoip_secret_parse(const char *text, size_t len, uint8_t secret[AOIP_SECRET_BYTES])
{
    uint8_t bin[AOIP_SECRET_BYTES];
    size_t bin_len = 0;
    const char *end = NULL;
    int ret;

    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1]))
        len--;
    if (len != AOIP_SECRET_TEXT_LEN || memcmp(text, SECRET_PREFIX, SECRET_PREFIX_LEN) != 0)
        return -EINVAL;
    /* hex2bin stops at the first byte that is no hex digit: end says where. */
    ret = sodium_hex2bin(bin, sizeof bin, text + SECRET_PREFIX_LEN, 2 * AOIP_SECRET_BYTES, NULL,
                         &bin_len, &end);
    if (ret != 0 || bin_len != AOIP_SECRET_BYTES || end != text + len) {
        sodium_memzero(bin, sizeof bin);
        return -EINVAL;
    }
    memcpy(secret, bin, sizeof bin);
    sodium_memzero(bin, sizeof bin);
    return 0;
}

static uint8_t own_role(const struct aoip_chan *c)
{
    return c->initiator ? ROLE_DIALLER : ROLE_ACCEPTOR;
}

static uint8_t peer_role(const struct aoip_chan *c)
{
    return c->initiator ? ROLE_ACCEPTOR : ROLE_DIALLER;
}

/* tag = BLAKE2b-256, keyed with k_hello, of magic | role | ephemeral public key. */
static void hello_tag(uint8_t tag[32], const uint8_t k_hello[32], uint8_t role,
                      const uint8_t eph_pk[32])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, k_hello, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)MAGIC, MAGIC_LEN);
    crypto_generichash_update(&st, &role, 1);
    crypto_generichash_update(&st, eph_pk, 32);
    crypto_generichash_final(&st, tag, 32);
    sodium_memzero(&st, sizeof st);
}

/* BLAKE2b-256 of the dialler's HELLO then the acceptor's. */
static void transcript_hash(const struct aoip_chan *c, uint8_t th[32])
{
    const uint8_t *first = c->initiator ? c->hello_out : c->hello_in;
    const uint8_t *second = c->initiator ? c->hello_in : c->hello_out;
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, first, AOIP_CHAN_HELLO_LEN);
    crypto_generichash_update(&st, second, AOIP_CHAN_HELLO_LEN);
    crypto_generichash_final(&st, th, 32);
}

/* A direction's key: BLAKE2b-256, keyed with k_mix, of its kx key | transcript hash. */
static void mix_key(uint8_t out[32], const uint8_t k_mix[32], const uint8_t kx[32],
                    const uint8_t th[32])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, k_mix, 32, 32);
    crypto_generichash_update(&st, kx, 32);
    crypto_generichash_update(&st, th, 32);
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof st);
}

/* What AUTH signs: label | the signer's role | transcript hash. */
static void auth_signed(uint8_t out[AUTH_SIGNED], uint8_t role, const uint8_t th[32])
{
    memcpy(out, AUTH_LABEL, AUTH_LABEL_LEN);
    out[AUTH_LABEL_LEN] = role;
    memcpy(out + AUTH_LABEL_LEN + 1, th, 32);
}

static void record_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* Seal len bytes at msg into a record at out (room for len + overhead); returns its length. */
static size_t seal_record(struct aoip_chan *c, const uint8_t *msg, size_t len, uint8_t *out)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    unsigned long long clen = 0;

    aoip__put_be32(out, (uint32_t)(len + AOIP_CHAN_RECORD_TAG));
    record_nonce(nonce, c->tx_count);
    crypto_aead_chacha20poly1305_ietf_encrypt(out + AOIP_CHAN_RECORD_HEADER, &clen, msg, len, out,
                                              AOIP_CHAN_RECORD_HEADER, NULL, nonce, c->tx_key);
    /* 2^64 records would take longer than any connection lives: no wrap check. */
    c->tx_count++;
    return AOIP_CHAN_RECORD_HEADER + (size_t)clen;
}

static void wipe_keys(struct aoip_chan *c)
{
    sodium_memzero(c->k_hello, sizeof c->k_hello);
    sodium_memzero(c->k_mix, sizeof c->k_mix);
    sodium_memzero(c->eph_sk, sizeof c->eph_sk);
    sodium_memzero(c->tx_key, sizeof c->tx_key);
    sodium_memzero(c->rx_key, sizeof c->rx_key);
}

static void free_input(struct aoip_chan *c)
{
    if (c->in) {
        sodium_memzero(c->in, c->in_cap);
        free(c->in);
    }
    c->in = NULL;
    c->in_len = 0;
    c->in_cap = 0;
}

static int fail(struct aoip_chan *c, int err)
{
    c->state = AOIP_CHAN_FAILED;
    c->error = err;
    wipe_keys(c);
    free_input(c);
    return err;
}

/*
 * Room for need bytes in the buffer. Growth doubles, but stops at one
 * maximal record for as long as that is enough. A new block rather than
 * realloc, so the old one can be wiped before it is freed.
 */
static int ensure_cap(struct aoip_chan *c, size_t need)
{
    size_t cap = c->in_cap ? c->in_cap : BUFFER_START;
    uint8_t *in;

    if (need <= c->in_cap)
        return 0;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap < need)
        cap = need;
    if (need <= UNIT_MAX && cap > UNIT_MAX)
        cap = UNIT_MAX;
    in = malloc(cap);
    if (!in)
        return -ENOMEM;
    if (c->in) {
        memcpy(in, c->in, c->in_len);
        sodium_memzero(c->in, c->in_cap);
        free(c->in);
    }
    c->in = in;
    c->in_cap = cap;
    return 0;
}

/* Keep len bytes at the end of the buffer for a later call. */
static int keep(struct aoip_chan *c, const uint8_t *data, size_t len)
{
    int ret;

    if (len == 0)
        return 0;
    if (len > SIZE_MAX - c->in_len)
        return fail(c, -ENOMEM);
    ret = ensure_cap(c, c->in_len + len);
    if (ret < 0)
        return fail(c, ret);
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

/*
 * How many bytes the unit starting at p takes, judged from the avail bytes
 * there: the HELLO's fixed length, 4 while a record's length is not yet in,
 * then the record's whole length. Fails as soon as the bytes in say that the
 * unit cannot be good.
 */
static int unit_len(const struct aoip_chan *c, const uint8_t *p, size_t avail, size_t *need)
{
    uint32_t ct_len;

    if (c->state == AOIP_CHAN_HELLO) {
        /* Refuse a stranger at its first wrong byte, not after 72 of them. */
        if (memcmp(p, MAGIC, avail < MAGIC_LEN ? avail : MAGIC_LEN) != 0)
            return AOIP_ECHAN_NOT_AOIP;
        *need = AOIP_CHAN_HELLO_LEN;
        return 0;
    }
    if (avail < AOIP_CHAN_RECORD_HEADER) {
        *need = AOIP_CHAN_RECORD_HEADER;
        return 0;
    }
    ct_len = aoip__get_be32(p);
    if (ct_len < AOIP_CHAN_RECORD_TAG || ct_len > CT_MAX)
        return AOIP_ECHAN_SIZE;
    *need = AOIP_CHAN_RECORD_HEADER + ct_len;
    return 0;
}

/* Our AUTH: identity public key | signature over label | our role | transcript hash. */
static void send_auth(struct aoip_chan *c, const uint8_t th[32], const struct aoip_chan_ops *ops,
                      void *arg)
{
    uint8_t msg[AUTH_SIGNED], auth[AUTH_LEN], rec[AOIP_CHAN_RECORD_OVERHEAD + AUTH_LEN];
    size_t n;

    auth_signed(msg, own_role(c), th);
    memcpy(auth, c->id->pk, AOIP_ID_PUBLIC_BYTES);
    crypto_sign_ed25519_detached(auth + AOIP_ID_PUBLIC_BYTES, NULL, msg, sizeof msg, c->id->sk);
    n = seal_record(c, auth, sizeof auth, rec);
    if (ops->send)
        ops->send(arg, rec, n);
}

static int take_hello(struct aoip_chan *c, const uint8_t *hello, const struct aoip_chan_ops *ops,
                      void *arg)
{
    const uint8_t *peer_eph = hello + MAGIC_LEN;
    uint8_t tag[32], kx_rx[32], kx_tx[32], th[32];
    int ret;

    /*
     * The tag must be the one a member makes in the role opposite ours: our
     * own HELLO reflected back carries our role and fails here.
     */
    hello_tag(tag, c->k_hello, peer_role(c), peer_eph);
    if (crypto_verify_32(tag, hello + MAGIC_LEN + 32) != 0)
        return AOIP_ECHAN_SECRET;
    memcpy(c->hello_in, hello, AOIP_CHAN_HELLO_LEN);

    if (c->initiator)
        ret = crypto_kx_client_session_keys(kx_rx, kx_tx, c->eph_pk, c->eph_sk, peer_eph);
    else
        ret = crypto_kx_server_session_keys(kx_rx, kx_tx, c->eph_pk, c->eph_sk, peer_eph);
    sodium_memzero(c->eph_sk, sizeof c->eph_sk);
    if (ret != 0) {
        /* A member sent a low-order point: no shared key, so no peer to authenticate. */
        sodium_memzero(kx_rx, sizeof kx_rx);
        sodium_memzero(kx_tx, sizeof kx_tx);
        return AOIP_ECHAN_AUTH;
    }
    transcript_hash(c, th);
    mix_key(c->tx_key, c->k_mix, kx_tx, th);
    mix_key(c->rx_key, c->k_mix, kx_rx, th);
    sodium_memzero(kx_rx, sizeof kx_rx);
    sodium_memzero(kx_tx, sizeof kx_tx);
    /* The secret's keys have done their work for this channel. */
    sodium_memzero(c->k_hello, sizeof c->k_hello);
    sodium_memzero(c->k_mix, sizeof c->k_mix);

    c->state = AOIP_CHAN_AUTH;
    send_auth(c, th, ops, arg);
    return 0;
}

static int take_auth(struct aoip_chan *c, const uint8_t *auth, size_t len,
                     const struct aoip_chan_ops *ops, void *arg)
{
    uint8_t msg[AUTH_SIGNED], th[32];

    if (len != AUTH_LEN)
        return AOIP_ECHAN_AUTH;
    transcript_hash(c, th);
    auth_signed(msg, peer_role(c), th);
    if (crypto_sign_ed25519_verify_detached(auth + AOIP_ID_PUBLIC_BYTES, msg, sizeof msg, auth) !=
        0)
        return AOIP_ECHAN_AUTH;
    memcpy(c->peer_pk, auth, AOIP_ID_PUBLIC_BYTES);
    aoip_fingerprint(c->peer_pk, c->peer_id);
    c->state = AOIP_CHAN_OPEN;
    if (ops->open)
        ops->open(arg, c->peer_id, c->peer_pk);
    return 0;
}

/*
 * Open the record rec (len bytes with its header) into out, which has room
 * for its plaintext and may be rec + 4 (in place). Returns 1 if the message
 * callback asked to stop, 0 to go on, or an AOIP_ECHAN_* code.
 */
static int take_record(struct aoip_chan *c, const uint8_t *rec, size_t len, uint8_t *out,
                       const struct aoip_chan_ops *ops, void *arg)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    unsigned long long mlen = 0;
    int ret = 0;

    record_nonce(nonce, c->rx_count);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, rec + AOIP_CHAN_RECORD_HEADER,
                                                  len - AOIP_CHAN_RECORD_HEADER, rec,
                                                  AOIP_CHAN_RECORD_HEADER, nonce, c->rx_key) != 0)
        return AOIP_ECHAN_RECORD;
    c->rx_count++;
    if (c->state == AOIP_CHAN_AUTH)
        ret = take_auth(c, out, (size_t)mlen, ops, arg);
    else if (ops->message && ops->message(arg, out, (size_t)mlen) != 0)
        ret = 1;
    sodium_memzero(out, (size_t)mlen);
    return ret;
}

int aoip_chan_init(struct aoip_chan *c, bool initiator, const uint8_t secret[AOIP_SECRET_BYTES],
                   const struct aoip_identity *id, uint8_t hello[AOIP_CHAN_HELLO_LEN])
{
    memset(c, 0, sizeof *c);
    c->state = AOIP_CHAN_FAILED;
    c->error = AOIP_ECHAN_STATE;
    if (sodium_init() < 0)
        return -EIO;
    c->in = malloc(BUFFER_START);
    if (!c->in)
        return -ENOMEM;
    c->in_cap = BUFFER_START;
    c->state = AOIP_CHAN_HELLO;
    c->error = 0;
    c->initiator = initiator;
    c->id = id;

    crypto_kdf_derive_from_key(c->k_hello, sizeof c->k_hello, SUBKEY_HELLO, KDF_CONTEXT, secret);
    crypto_kdf_derive_from_key(c->k_mix, sizeof c->k_mix, SUBKEY_MIX, KDF_CONTEXT, secret);
    crypto_kx_keypair(c->eph_pk, c->eph_sk);

    memcpy(c->hello_out, MAGIC, MAGIC_LEN);
    memcpy(c->hello_out + MAGIC_LEN, c->eph_pk, 32);
    hello_tag(c->hello_out + MAGIC_LEN + 32, c->k_hello, own_role(c), c->eph_pk);
    memcpy(hello, c->hello_out, AOIP_CHAN_HELLO_LEN);
    return 0;
}

/* Process one whole unit: the HELLO or a record. Same returns as take_record. */
static int take_unit(struct aoip_chan *c, const uint8_t *unit, size_t len, uint8_t *out,
                     const struct aoip_chan_ops *ops, void *arg)
{
    if (c->state == AOIP_CHAN_HELLO)
        return take_hello(c, unit, ops, arg);
    return take_record(c, unit, len, out, ops, arg);
}

int aoip_chan_feed(struct aoip_chan *c, const uint8_t *data, size_t len,
                   const struct aoip_chan_ops *ops, void *arg)
{
    size_t need, pos = 0;
    int ret;

    if (c->state == AOIP_CHAN_FAILED)
        return c->error;

    /* Bytes kept from before come first: complete their unit from data. */
    while (pos < c->in_len) {
        size_t avail = c->in_len - pos;
        ret = unit_len(c, c->in + pos, avail, &need);
        if (ret < 0)
            return fail(c, ret);
        if (avail < need) {
            size_t take = need - avail < len ? need - avail : len;
            if (pos > 0) {
                memmove(c->in, c->in + pos, avail);
                c->in_len = avail;
                pos = 0;
            }
            if (take == 0)
                return 0;
            ret = ensure_cap(c, need);
            if (ret < 0)
                return fail(c, ret);
            memcpy(c->in + c->in_len, data, take);
            c->in_len += take;
            data += take;
            len -= take;
            continue;
        }
        uint8_t *unit = c->in + pos;
        ret = take_unit(c, unit, need, unit + AOIP_CHAN_RECORD_HEADER, ops, arg);
        if (ret < 0)
            return fail(c, ret);
        pos += need;
        if (ret > 0) {
            memmove(c->in, c->in + pos, c->in_len - pos);
            c->in_len -= pos;
            return keep(c, data, len);
        }
    }
    c->in_len = 0;

    /* Whole units straight from data; the plaintext goes to the (empty) buffer. */
    while (len > 0) {
        ret = unit_len(c, data, len, &need);
        if (ret < 0)
            return fail(c, ret);
        if (len < need)
            return keep(c, data, len);
        if (c->state != AOIP_CHAN_HELLO) {
            ret = ensure_cap(c, need);
            if (ret < 0)
                return fail(c, ret);
        }
        ret = take_unit(c, data, need, c->in, ops, arg);
        if (ret < 0)
            return fail(c, ret);
        data += need;
        len -= need;
        if (ret > 0)
            return keep(c, data, len);
    }
    return 0;
}

int aoip_chan_seal(struct aoip_chan *c, const void *msg, size_t len, uint8_t *out, size_t cap)
{
    if (c->state == AOIP_CHAN_FAILED)
        return c->error;
    if (c->state != AOIP_CHAN_OPEN)
        return AOIP_ECHAN_STATE;
    if (len > AOIP_CHAN_RECORD_MAX)
        return AOIP_ECHAN_SIZE;
    if (cap < len + AOIP_CHAN_RECORD_OVERHEAD)
        return -ENOSPC;
    return (int)seal_record(c, msg, len, out);
}

int aoip_chan_export(const struct aoip_chan *c, const char *label, bool outbound, uint8_t out[32])
{
    static const char ctx[] = "aoip export v1";
    crypto_generichash_state st;

    if (c->state != AOIP_CHAN_OPEN)
        return AOIP_ECHAN_STATE;
    crypto_generichash_init(&st, outbound ? c->tx_key : c->rx_key, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof ctx - 1);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof st);
    return 0;
}

void aoip_chan_clear(struct aoip_chan *c)
{
    free_input(c);
    sodium_memzero(c, sizeof *c);
    c->state = AOIP_CHAN_FAILED;
    c->error = AOIP_ECHAN_STATE;
}
