/*
 * seal.h: the sealed media envelope. Every RTP packet of a flow is sealed
 * with an AEAD under a per-flow key that travels over the sealed peer
 * channel and is replaced when the flow is re-keyed.
 *
 * Wire layout of a sealed packet (all integers big-endian):
 *
 *   RTP header (fixed part, CSRCs, extension) | clear, authenticated
 *   key id                 1 byte             | clear, authenticated
 *   ROC                    4 bytes            | clear, authenticated
 *   ciphertext of payload  payload_len bytes  | encrypted
 *   tag                    16 bytes           |
 *
 * ROC (rollover counter) is the number of times the sender's 16-bit
 * sequence number has wrapped, so ROC * 65536 + seq is the packet index:
 * it never repeats for one sender under one key. The nonce is 12 bytes:
 *
 *   SSRC (4) | ROC (4) | 0x00 0x00 | seq (2)
 *
 * and the associated data is every byte before the ciphertext: the RTP
 * header as sent, the key id and the ROC. The cipher is ChaCha20-Poly1305
 * (IETF, RFC 8439) or AES-256-GCM; which one is a parameter of the flow
 * that both ends agree on, it is not on the wire. A sealed packet has no
 * RTP padding (the P bit is 0; a receiver drops one that has it): the
 * envelope hides the payload's length no better with it.
 *
 * ROC is carried, not guessed as SRTP does (RFC 3711 section 3.3.1):
 * a guess from the highest sequence number seen goes wrong for good once
 * 32768 packets in a row are lost (half a minute at 1 ms packets), and a
 * receiver that joins late cannot guess it at all. Four bytes per packet
 * buy a receiver that recovers from any outage.
 *
 * The receiver holds the current key and the one before it, so packets
 * sealed before a re-key still open while the new key takes over. A
 * window of the last AOIP_SEAL_WINDOW packet indexes rejects duplicates and
 * packets older than it; only packets that authenticate move the window.
 * A receiver follows one SSRC: the first that authenticates.
 *
 * aoip_seal_init must have returned 0 before anything else here is called.
 */
#ifndef AOIP_SEAL_H
#define AOIP_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AOIP_SEAL_KEY_BYTES   32
#define AOIP_SEAL_NONCE_BYTES 12
#define AOIP_SEAL_TAG_BYTES   16
#define AOIP_SEAL_PREFIX      5 /* key id and ROC, between header and ciphertext */
#define AOIP_SEAL_OVERHEAD    (AOIP_SEAL_PREFIX + AOIP_SEAL_TAG_BYTES)
#define AOIP_SEAL_WINDOW      1024 /* packets the replay window remembers */

enum aoip_seal_cipher {
    AOIP_SEAL_CHACHA20POLY1305 = 1,
    AOIP_SEAL_AES256GCM = 2,
};

struct aoip_seal_key {
    uint8_t bytes[AOIP_SEAL_KEY_BYTES];
    uint8_t id; /* the epoch: changes with every re-key of the flow */
};

/* AES-256-GCM's expanded key (libsodium's crypto_aead_aes256gcm_state,
 * opaque here): made once per key, not once per packet. */
#define AOIP_SEAL_AES_STATE_BYTES 512
struct aoip_seal_aes {
    _Alignas(16) unsigned char state[AOIP_SEAL_AES_STATE_BYTES];
};

struct aoip_seal_tx {
    enum aoip_seal_cipher cipher;
    struct aoip_seal_key key;
    struct aoip_seal_aes aes; /* key, expanded, with AES-256-GCM */
    bool started;
    uint32_t ssrc;
    int64_t last_index; /* of the last packet sealed */
};

struct aoip_seal_rx {
    enum aoip_seal_cipher cipher;
    struct aoip_seal_key cur, prev;
    struct aoip_seal_aes aes_cur, aes_prev; /* expanded, with AES-256-GCM */
    bool has_prev;
    bool started; /* a packet has opened: ssrc and the window are set */
    uint32_t ssrc;
    int64_t highest; /* highest packet index opened */
    /* Bit i of word i / 64 (bit i % 64): index highest - i has opened. */
    uint64_t window[AOIP_SEAL_WINDOW / 64];

    /* What happened to packets, by cause. Only opened ones carry audio. */
    uint64_t opened;
    uint64_t auth_failures;
    uint64_t replays;
    uint64_t unknown_key;
    uint64_t wrong_ssrc;
    uint64_t malformed;
};

/* Initialise libsodium. Returns 0, or -EIO if it cannot be initialised. */
AOIP_API int aoip_seal_init(void);

/*
 * The cipher a sender picks for a new flow: AES-256-GCM where this CPU has
 * it in hardware, ChaCha20-Poly1305 otherwise. A peer that lacks AES-GCM
 * refuses it (aoip_seal_rx_init returns -ENOTSUP); the flow then uses
 * ChaCha20-Poly1305, which every node has.
 */
AOIP_API enum aoip_seal_cipher aoip_seal_cipher_pick(void);

/* Whether this node can seal and open with the cipher. */
AOIP_API bool aoip_seal_cipher_available(enum aoip_seal_cipher cipher);

/* A fresh random key with the given id. */
AOIP_API void aoip_seal_key_generate(struct aoip_seal_key *key, uint8_t id);

/* The nonce of the packet (SSRC, ROC, seq), as laid out above. */
AOIP_API AOIP_RT void aoip_seal_nonce(uint8_t nonce[AOIP_SEAL_NONCE_BYTES], uint32_t ssrc,
                                      uint32_t roc, uint16_t seq);

/*
 * Start a sender. Returns 0, -EINVAL for an unknown cipher, or -ENOTSUP if
 * this CPU lacks it.
 */
AOIP_API int aoip_seal_tx_init(struct aoip_seal_tx *tx, enum aoip_seal_cipher cipher,
                               const struct aoip_seal_key *key);

/*
 * Seal from now on with a new key. The packet index runs on: a re-key does
 * not start the sequence again. Returns 0, or -EINVAL if the key has the
 * id of the current one (the receiver could not tell them apart).
 */
AOIP_API AOIP_RT int aoip_seal_tx_rekey(struct aoip_seal_tx *tx, const struct aoip_seal_key *key);

/*
 * Seal in place the RTP packet pkt: its header (hdr_len bytes, at least the
 * fixed 12) followed by payload_len bytes of payload. The payload moves up
 * by AOIP_SEAL_PREFIX and the tag is appended. Returns the sealed length
 * (hdr_len + payload_len + AOIP_SEAL_OVERHEAD), -ENOSPC if that exceeds
 * cap, -EINVAL if hdr_len is under 12, if the SSRC is not the one of the
 * first packet sealed, or if the packet index does not advance past the
 * last one sealed (sealing it would repeat a nonce), or -EOVERFLOW when
 * the ROC would pass 2^32 - 1 (a re-key is long overdue).
 */
AOIP_API AOIP_RT int aoip_seal_tx_seal(struct aoip_seal_tx *tx, uint8_t *pkt, size_t hdr_len,
                                       size_t payload_len, size_t cap);

/* Forget the key. */
AOIP_API void aoip_seal_tx_clear(struct aoip_seal_tx *tx);

/*
 * Start a receiver with its first key; counters and window start empty.
 * Returns 0, -EINVAL for an unknown cipher, or -ENOTSUP if this CPU lacks
 * it.
 */
AOIP_API int aoip_seal_rx_init(struct aoip_seal_rx *rx, enum aoip_seal_cipher cipher,
                               const struct aoip_seal_key *key);

/*
 * Take a new current key; the current one becomes the previous one and
 * the one before is forgotten. The window, the SSRC and the counters stay.
 * Returns 0, or -EINVAL if the key has the id of the current one.
 */
AOIP_API AOIP_RT int aoip_seal_rx_rekey(struct aoip_seal_rx *rx, const struct aoip_seal_key *key);

/*
 * Open in place the sealed packet pkt[0..len) whose RTP header takes
 * hdr_len bytes. On success the plaintext payload sits at pkt + hdr_len
 * and its length is returned. On failure the packet must be dropped (its
 * bytes after the header are unspecified) and the return is:
 *   AOIP_ESEAL_SHORT   shorter than hdr_len + AOIP_SEAL_OVERHEAD, or
 *                      hdr_len under 12
 *   AOIP_ESEAL_KEY     key id is neither the current nor the previous key
 *   AOIP_ESEAL_SSRC    not the SSRC this receiver follows
 *   AOIP_ESEAL_REPLAY  index opened before, or older than the window
 *   AOIP_ESEAL_AUTH    tag does not verify: forged, damaged or wrong key
 * and the matching counter goes up. Only an opened packet changes the
 * window or the SSRC followed.
 */
AOIP_API AOIP_RT int aoip_seal_rx_open(struct aoip_seal_rx *rx, uint8_t *pkt, size_t len,
                                       size_t hdr_len);

/* Forget the keys. */
AOIP_API void aoip_seal_rx_clear(struct aoip_seal_rx *rx);

/*
 * Sealed RTCP: a whole compound RTCP packet as one ChaCha20-Poly1305 (IETF)
 * message under a key of one direction between two nodes (in aoipd, a key
 * exported from their peer channel), which a receiver takes in order only:
 *
 *   counter (8, big-endian) | ciphertext of the compound | tag (16)
 *
 * The counter is associated data and counts the packets sealed under the
 * key from 0; the nonce is "RTCP" then the counter, 8 bytes little-endian.
 * A receiver accepts a counter only above the last it opened, so a replay
 * or an old packet fails; RTCP is a packet a second, and a late one is
 * worth nothing.
 */
#define AOIP_SEAL_RTCP_OVERHEAD (8 + AOIP_SEAL_TAG_BYTES)

struct aoip_seal_ctl {
    uint8_t key[AOIP_SEAL_KEY_BYTES];
    uint64_t next; /* sender: the next counter; receiver: the lowest it takes */
};

/* Start one direction with key; counters from 0. */
AOIP_API void aoip_seal_ctl_init(struct aoip_seal_ctl *s, const uint8_t key[AOIP_SEAL_KEY_BYTES]);

/*
 * Seal in[0..len) into out (cap bytes, at least len + AOIP_SEAL_RTCP_OVERHEAD).
 * Returns the sealed length or -ENOSPC.
 */
AOIP_API int aoip_seal_ctl_seal(struct aoip_seal_ctl *s, const uint8_t *in, size_t len,
                                uint8_t *out, size_t cap);

/*
 * Open in[0..len) into out (cap bytes, at least len - AOIP_SEAL_RTCP_OVERHEAD).
 * Returns the plaintext's length, or AOIP_ESEAL_SHORT, AOIP_ESEAL_REPLAY (a
 * counter not above the last opened) or AOIP_ESEAL_AUTH; nothing is
 * written to out then, and the counter does not move.
 */
AOIP_API int aoip_seal_ctl_open(struct aoip_seal_ctl *s, const uint8_t *in, size_t len,
                                uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
