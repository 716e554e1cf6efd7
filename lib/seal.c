/*
 * seal.c: the sealed media envelope (layout in seal.h), on libsodium.
 *
 * Sealing and opening work in place, in the packet buffer the socket code
 * already owns, so the media thread neither allocates nor copies beyond a
 * move of the payload by the five prefix bytes. The receiver checks what
 * is cheap and public (length, key id, SSRC, replay window) before it
 * spends a decryption, and moves its window only after the tag verifies,
 * so a forger who cannot make a tag cannot push genuine packets out of it.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "aoip/rtp.h"
#include "aoip/seal.h"
#include "bytes.h"

_Static_assert(sizeof(crypto_aead_aes256gcm_state) <= AOIP_SEAL_AES_STATE_BYTES,
               "struct aoip_seal_aes holds libsodium's AES-GCM state");
_Static_assert(_Alignof(crypto_aead_aes256gcm_state) <= 16,
               "struct aoip_seal_aes is aligned as libsodium's AES-GCM state");

#define WORDS   (AOIP_SEAL_WINDOW / 64)
#define ROC_MAX ((int64_t)UINT32_MAX)

int aoip_seal_init(void)
{
    return sodium_init() < 0 ? -EIO : 0;
}

bool aoip_seal_cipher_available(enum aoip_seal_cipher cipher)
{
    switch (cipher) {
    case AOIP_SEAL_CHACHA20POLY1305:
        return true;
    case AOIP_SEAL_AES256GCM:
        return crypto_aead_aes256gcm_is_available() != 0;
    }
    return false;
}

enum aoip_seal_cipher aoip_seal_cipher_pick(void)
{
    return aoip_seal_cipher_available(AOIP_SEAL_AES256GCM) ? AOIP_SEAL_AES256GCM
                                                           : AOIP_SEAL_CHACHA20POLY1305;
}

static int check_cipher(enum aoip_seal_cipher cipher)
{
    if (cipher != AOIP_SEAL_CHACHA20POLY1305 && cipher != AOIP_SEAL_AES256GCM)
        return -EINVAL;
    return aoip_seal_cipher_available(cipher) ? 0 : -ENOTSUP;
}

void aoip_seal_key_generate(struct aoip_seal_key *key, uint8_t id)
{
    randombytes_buf(key->bytes, sizeof key->bytes);
    key->id = id;
}

AOIP_RT void aoip_seal_nonce(uint8_t nonce[AOIP_SEAL_NONCE_BYTES], uint32_t ssrc, uint32_t roc,
                             uint16_t seq)
{
    aoip__put_be32(nonce, ssrc);
    aoip__put_be32(nonce + 4, roc);
    nonce[8] = 0;
    nonce[9] = 0;
    aoip__put_be16(nonce + 10, seq);
}

/* Expand key for AES-256-GCM; nothing to do for ChaCha20-Poly1305. */
static AOIP_RT void expand(enum aoip_seal_cipher cipher, struct aoip_seal_aes *aes,
                           const struct aoip_seal_key *key)
{
    if (cipher == AOIP_SEAL_AES256GCM)
        crypto_aead_aes256gcm_beforenm((crypto_aead_aes256gcm_state *)aes->state, key->bytes);
}

int aoip_seal_tx_init(struct aoip_seal_tx *tx, enum aoip_seal_cipher cipher,
                      const struct aoip_seal_key *key)
{
    int ret = check_cipher(cipher);

    if (ret < 0)
        return ret;
    memset(tx, 0, sizeof *tx);
    tx->cipher = cipher;
    tx->key = *key;
    expand(cipher, &tx->aes, key);
    tx->last_index = -1;
    return 0;
}

AOIP_RT int aoip_seal_tx_rekey(struct aoip_seal_tx *tx, const struct aoip_seal_key *key)
{
    if (key->id == tx->key.id)
        return -EINVAL;
    sodium_memzero(&tx->key, sizeof tx->key);
    tx->key = *key;
    expand(tx->cipher, &tx->aes, key);
    return 0;
}

AOIP_RT int aoip_seal_tx_seal(struct aoip_seal_tx *tx, uint8_t *pkt, size_t hdr_len,
                              size_t payload_len, size_t cap)
{
    uint8_t nonce[AOIP_SEAL_NONCE_BYTES];
    unsigned long long maclen = 0;
    uint8_t *prefix = pkt + hdr_len;
    uint8_t *ct = prefix + AOIP_SEAL_PREFIX;
    uint16_t seq;
    uint32_t ssrc;
    int64_t index;

    if (hdr_len < AOIP_RTP_HEADER_SIZE)
        return -EINVAL;
    if (cap < hdr_len || cap - hdr_len < AOIP_SEAL_OVERHEAD ||
        cap - hdr_len - AOIP_SEAL_OVERHEAD < payload_len || payload_len > INT32_MAX / 2)
        return -ENOSPC;

    seq = aoip__get_be16(pkt + 2);
    ssrc = aoip__get_be32(pkt + 8);
    if (!tx->started) {
        index = seq;
    } else {
        if (ssrc != tx->ssrc)
            return -EINVAL;
        index = aoip_rtp_seq_extend(tx->last_index, seq);
        if (index <= tx->last_index)
            return -EINVAL;
        if ((index >> 16) > ROC_MAX)
            return -EOVERFLOW;
    }

    memmove(ct, prefix, payload_len);
    prefix[0] = tx->key.id;
    aoip__put_be32(prefix + 1, (uint32_t)(index >> 16));
    aoip_seal_nonce(nonce, ssrc, (uint32_t)(index >> 16), seq);

    if (tx->cipher == AOIP_SEAL_AES256GCM)
        crypto_aead_aes256gcm_encrypt_detached_afternm(
            ct, ct + payload_len, &maclen, ct, payload_len, pkt, hdr_len + AOIP_SEAL_PREFIX, NULL,
            nonce, (const crypto_aead_aes256gcm_state *)tx->aes.state);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            ct, ct + payload_len, &maclen, ct, payload_len, pkt, hdr_len + AOIP_SEAL_PREFIX, NULL,
            nonce, tx->key.bytes);

    tx->started = true;
    tx->ssrc = ssrc;
    tx->last_index = index;
    return (int)(hdr_len + payload_len + AOIP_SEAL_OVERHEAD);
}

void aoip_seal_tx_clear(struct aoip_seal_tx *tx)
{
    sodium_memzero(tx, sizeof *tx);
}

int aoip_seal_rx_init(struct aoip_seal_rx *rx, enum aoip_seal_cipher cipher,
                      const struct aoip_seal_key *key)
{
    int ret = check_cipher(cipher);

    if (ret < 0)
        return ret;
    memset(rx, 0, sizeof *rx);
    rx->cipher = cipher;
    rx->cur = *key;
    expand(cipher, &rx->aes_cur, key);
    rx->highest = -1;
    return 0;
}

AOIP_RT int aoip_seal_rx_rekey(struct aoip_seal_rx *rx, const struct aoip_seal_key *key)
{
    if (key->id == rx->cur.id)
        return -EINVAL;
    sodium_memzero(&rx->prev, sizeof rx->prev);
    rx->prev = rx->cur;
    rx->aes_prev = rx->aes_cur;
    rx->has_prev = true;
    rx->cur = *key;
    expand(rx->cipher, &rx->aes_cur, key);
    return 0;
}

/* Whether index may still open: newer than the highest, or in the window and not seen. */
static AOIP_RT bool window_fresh(const struct aoip_seal_rx *rx, int64_t index)
{
    int64_t age;

    if (!rx->started || index > rx->highest)
        return true;
    age = rx->highest - index;
    if (age >= AOIP_SEAL_WINDOW)
        return false;
    return !((rx->window[age / 64] >> (age % 64)) & 1);
}

static AOIP_RT void window_mark(struct aoip_seal_rx *rx, int64_t index)
{
    int64_t age;

    if (!rx->started) {
        memset(rx->window, 0, sizeof rx->window);
        rx->highest = index;
    } else if (index > rx->highest) {
        int64_t shift = index - rx->highest;
        if (shift >= AOIP_SEAL_WINDOW) {
            memset(rx->window, 0, sizeof rx->window);
        } else {
            /* Move every bit up by shift: older packets grow older. */
            size_t words = (size_t)(shift / 64);
            unsigned bits = (unsigned)(shift % 64);
            for (size_t i = WORDS; i-- > 0;) {
                uint64_t hi = i >= words ? rx->window[i - words] : 0;
                uint64_t lo = i >= words + 1 ? rx->window[i - words - 1] : 0;
                rx->window[i] = bits ? (hi << bits) | (lo >> (64 - bits)) : hi;
            }
        }
        rx->highest = index;
    }
    age = rx->highest - index;
    rx->window[age / 64] |= (uint64_t)1 << (age % 64);
}

AOIP_RT int aoip_seal_rx_open(struct aoip_seal_rx *rx, uint8_t *pkt, size_t len, size_t hdr_len)
{
    uint8_t nonce[AOIP_SEAL_NONCE_BYTES];
    const struct aoip_seal_key *key;
    const struct aoip_seal_aes *aes;
    uint8_t *prefix, *ct;
    size_t ct_len;
    uint16_t seq;
    uint32_t ssrc, roc;
    int64_t index;
    int ret;

    if (hdr_len < AOIP_RTP_HEADER_SIZE || len < hdr_len || len - hdr_len < AOIP_SEAL_OVERHEAD ||
        len > INT32_MAX) {
        rx->malformed++;
        return AOIP_ESEAL_SHORT;
    }
    prefix = pkt + hdr_len;
    ct = prefix + AOIP_SEAL_PREFIX;
    ct_len = len - hdr_len - AOIP_SEAL_OVERHEAD;

    if (prefix[0] == rx->cur.id) {
        key = &rx->cur;
        aes = &rx->aes_cur;
    } else if (rx->has_prev && prefix[0] == rx->prev.id) {
        key = &rx->prev;
        aes = &rx->aes_prev;
    } else {
        rx->unknown_key++;
        return AOIP_ESEAL_KEY;
    }

    seq = aoip__get_be16(pkt + 2);
    ssrc = aoip__get_be32(pkt + 8);
    roc = aoip__get_be32(prefix + 1);
    index = ((int64_t)roc << 16) | seq;
    if (rx->started && ssrc != rx->ssrc) {
        rx->wrong_ssrc++;
        return AOIP_ESEAL_SSRC;
    }
    if (!window_fresh(rx, index)) {
        rx->replays++;
        return AOIP_ESEAL_REPLAY;
    }

    aoip_seal_nonce(nonce, ssrc, roc, seq);
    if (rx->cipher == AOIP_SEAL_AES256GCM)
        ret = crypto_aead_aes256gcm_decrypt_detached_afternm(
            ct, NULL, ct, ct_len, ct + ct_len, pkt, hdr_len + AOIP_SEAL_PREFIX, nonce,
            (const crypto_aead_aes256gcm_state *)aes->state);
    else
        ret = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            ct, NULL, ct, ct_len, ct + ct_len, pkt, hdr_len + AOIP_SEAL_PREFIX, nonce, key->bytes);
    if (ret != 0) {
        rx->auth_failures++;
        return AOIP_ESEAL_AUTH;
    }

    window_mark(rx, index);
    rx->started = true;
    rx->ssrc = ssrc;
    rx->opened++;
    memmove(prefix, ct, ct_len);
    return (int)ct_len;
}

void aoip_seal_rx_clear(struct aoip_seal_rx *rx)
{
    sodium_memzero(rx, sizeof *rx);
}

void aoip_seal_ctl_init(struct aoip_seal_ctl *s, const uint8_t key[AOIP_SEAL_KEY_BYTES])
{
    memcpy(s->key, key, AOIP_SEAL_KEY_BYTES);
    s->next = 0;
}

static void ctl_nonce(uint8_t nonce[AOIP_SEAL_NONCE_BYTES], uint64_t counter)
{
    memcpy(nonce, "RTCP", 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

int aoip_seal_ctl_seal(struct aoip_seal_ctl *s, const uint8_t *in, size_t len, uint8_t *out,
                       size_t cap)
{
    uint8_t nonce[AOIP_SEAL_NONCE_BYTES];
    unsigned long long maclen = 0;

    if (cap < AOIP_SEAL_RTCP_OVERHEAD || cap - AOIP_SEAL_RTCP_OVERHEAD < len || len > INT32_MAX / 2)
        return -ENOSPC;
    aoip__put_be32(out, (uint32_t)(s->next >> 32));
    aoip__put_be32(out + 4, (uint32_t)s->next);
    ctl_nonce(nonce, s->next);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(out + 8, out + 8 + len, &maclen, in, len,
                                                       out, 8, NULL, nonce, s->key);
    s->next++;
    return (int)(len + AOIP_SEAL_RTCP_OVERHEAD);
}

int aoip_seal_ctl_open(struct aoip_seal_ctl *s, const uint8_t *in, size_t len, uint8_t *out,
                       size_t cap)
{
    uint8_t nonce[AOIP_SEAL_NONCE_BYTES];

    if (len < AOIP_SEAL_RTCP_OVERHEAD || len > INT32_MAX || cap < len - AOIP_SEAL_RTCP_OVERHEAD)
        return AOIP_ESEAL_SHORT;
    uint64_t counter = ((uint64_t)aoip__get_be32(in) << 32) | aoip__get_be32(in + 4);
    size_t ct_len = len - AOIP_SEAL_RTCP_OVERHEAD;
    if (counter < s->next)
        return AOIP_ESEAL_REPLAY;
    ctl_nonce(nonce, counter);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            out, NULL, in + 8, ct_len, in + 8 + ct_len, in, 8, nonce, s->key) != 0)
        return AOIP_ESEAL_AUTH;
    s->next = counter + 1;
    return (int)ct_len;
}
