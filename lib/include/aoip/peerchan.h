/*
 * peerchan.h: the sealed peer channel. Two members of a network (nodes that
 * hold the same 32-byte network secret) authenticate each other over a
 * byte stream (the peer TCP connection) and then exchange messages that
 * are encrypted and authenticated, in order, each exactly once.
 *
 * The exact bytes are in proto/security.md; in short:
 *
 *   1. Both sides send at once a HELLO of AOIP_CHAN_HELLO_LEN bytes:
 *        magic "AOIPSEC1" (8) | ephemeral X25519 public key (32) |
 *        tag (32) = BLAKE2b-256 keyed with a key derived from the network
 *        secret, over magic | role | ephemeral key
 *      where role is 'I' for the side that dialled and 'R' for the side
 *      that accepted. A HELLO whose tag does not verify comes from a node
 *      without the secret (or a reflection of our own): the channel fails
 *      with AOIP_ECHAN_SECRET before anything else is said.
 *   2. Both derive the session keys: crypto_kx between the two ephemeral
 *      keys (the dialler is the kx client), each direction's key then
 *      hashed with the transcript (both HELLOs) under a second key derived
 *      from the network secret. Ephemeral keys die after this step, so a
 *      secret or an identity key stolen later opens no recorded session.
 *   3. Both send, as their first sealed record, AUTH: their Ed25519
 *      identity public key (32) and its signature (64) over
 *      "aoip auth v1" | role | BLAKE2b-256 of the transcript. The receiver
 *      verifies it and learns the peer's node id (the fingerprint of that
 *      key). Only then does the channel carry messages.
 *
 * A record: a 4-byte big-endian length L, then L bytes of ChaCha20-Poly1305
 * IETF ciphertext with its 16-byte tag; the length bytes are associated
 * data; the nonce is 4 zero bytes then a 64-bit little-endian counter of
 * the records sent in that direction, from 0. A record that does not open
 * (tampered, truncated, replayed, reordered, from another session) ends the
 * channel: a stream cannot lose or reorder bytes, so it is an attack.
 *
 * All of this is pure computation on buffers: no I/O, no clock. The
 * caller moves bytes between the channel and its socket.
 */
#ifndef AOIP_PEERCHAN_H
#define AOIP_PEERCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AOIP_SECRET_BYTES         32
#define AOIP_ID_PUBLIC_BYTES      32 /* Ed25519 public key */
#define AOIP_ID_SECRET_BYTES      64 /* Ed25519 secret key (libsodium's layout) */
#define AOIP_FINGERPRINT_LEN      16 /* hex characters of a node id */
#define AOIP_CHAN_HELLO_LEN       72
#define AOIP_CHAN_RECORD_HEADER   4
#define AOIP_CHAN_RECORD_TAG      16
#define AOIP_CHAN_RECORD_MAX      65536 /* plaintext bytes of one record, at most */
#define AOIP_CHAN_RECORD_OVERHEAD (AOIP_CHAN_RECORD_HEADER + AOIP_CHAN_RECORD_TAG)

/* Why a channel fails: the AOIP_ECHAN_* codes of common.h (aoip_strerror). */

struct aoip_identity {
    uint8_t pk[AOIP_ID_PUBLIC_BYTES];
    uint8_t sk[AOIP_ID_SECRET_BYTES];
};

enum aoip_chan_state {
    AOIP_CHAN_HELLO,  /* waiting for the peer's HELLO */
    AOIP_CHAN_AUTH,   /* keys derived, waiting for the peer's AUTH record */
    AOIP_CHAN_OPEN,   /* authenticated: records are messages */
    AOIP_CHAN_FAILED, /* dead: every further call fails */
};

struct aoip_chan {
    enum aoip_chan_state state;
    bool initiator;
    int error; /* the AOIP_ECHAN_* that failed it */
    const struct aoip_identity *id;
    uint8_t k_hello[32], k_mix[32]; /* derived from the network secret */
    uint8_t eph_pk[32], eph_sk[32];
    uint8_t hello_out[AOIP_CHAN_HELLO_LEN], hello_in[AOIP_CHAN_HELLO_LEN];
    uint8_t tx_key[32], rx_key[32];
    uint64_t tx_count, rx_count;
    uint8_t peer_pk[AOIP_ID_PUBLIC_BYTES];
    char peer_id[AOIP_FINGERPRINT_LEN + 1]; /* once OPEN */
    /* Bytes received and not yet consumed (a partial HELLO or record). */
    uint8_t *in;
    size_t in_len, in_cap;
};

/* What aoip_chan_feed calls back: a message to hand up, and bytes to send. */
struct aoip_chan_ops {
    /* A plaintext message (one record), valid during the call. Return
     * non-zero to stop feeding (the rest stays buffered). */
    int (*message)(void *arg, const uint8_t *msg, size_t len);
    /* Bytes the channel itself must send now (the AUTH record). */
    void (*send)(void *arg, const uint8_t *bytes, size_t len);
    /* Called once when the peer has authenticated (state becomes OPEN). */
    void (*open)(void *arg, const char *peer_id, const uint8_t peer_pk[AOIP_ID_PUBLIC_BYTES]);
};

/* A new identity keypair (randomly). */
AOIP_API void aoip_identity_generate(struct aoip_identity *id);

/* Check that sk belongs to pk (a keypair read from a file). Returns 0 or -EINVAL. */
AOIP_API int aoip_identity_check(const struct aoip_identity *id);

/* The node id of a public key: the first 8 bytes of its BLAKE2b-256, in hex. */
AOIP_API void aoip_fingerprint(const uint8_t pk[AOIP_ID_PUBLIC_BYTES],
                               char out[AOIP_FINGERPRINT_LEN + 1]);

/* A new random network secret. */
AOIP_API void aoip_secret_generate(uint8_t secret[AOIP_SECRET_BYTES]);

/*
 * Text form of a secret, as `aoipctl keygen` prints it and a secret file
 * holds it: "aoip-secret-v1:" then 64 lowercase hex digits. Parsing accepts
 * surrounding whitespace and nothing else. Returns 0, or -EINVAL.
 */
#define AOIP_SECRET_TEXT_LEN (15 + 2 * AOIP_SECRET_BYTES)
AOIP_API void aoip_secret_format(const uint8_t secret[AOIP_SECRET_BYTES],
                                 char out[AOIP_SECRET_TEXT_LEN + 1]);
AOIP_API int aoip_secret_parse(const char *text, size_t len, uint8_t secret[AOIP_SECRET_BYTES]);

/*
 * Start a channel. initiator: this side dialled. id must outlive the
 * channel. Writes the HELLO to send into hello (AOIP_CHAN_HELLO_LEN bytes).
 * Returns 0, -ENOMEM, or -EIO if libsodium cannot be initialised; after a
 * failure the channel is failed (AOIP_ECHAN_STATE) and may be cleared.
 */
AOIP_API int aoip_chan_init(struct aoip_chan *c, bool initiator,
                            const uint8_t secret[AOIP_SECRET_BYTES], const struct aoip_identity *id,
                            uint8_t hello[AOIP_CHAN_HELLO_LEN]);

/*
 * Feed bytes received from the peer. Calls ops->send for the AUTH record
 * once the peer's HELLO is in, ops->open once its AUTH verified, and
 * ops->message for each message after that. Returns 0, or a negative
 * AOIP_ECHAN_* once the channel has failed (it then stays failed; nothing
 * of the failing input reached ops->message), or -ENOMEM if the input could
 * not be buffered (the channel then fails as well). Any callback may be
 * NULL. Callbacks may call aoip_chan_seal, but not aoip_chan_feed or
 * aoip_chan_clear on the same channel.
 */
AOIP_API int aoip_chan_feed(struct aoip_chan *c, const uint8_t *data, size_t len,
                            const struct aoip_chan_ops *ops, void *arg);

/*
 * Seal a message of len bytes (at most AOIP_CHAN_RECORD_MAX) into a record
 * at out (cap bytes, at least len + AOIP_CHAN_RECORD_OVERHEAD). Only in
 * the OPEN state. Returns the record's length, AOIP_ECHAN_SIZE,
 * AOIP_ECHAN_STATE or -ENOSPC.
 */
AOIP_API int aoip_chan_seal(struct aoip_chan *c, const void *msg, size_t len, uint8_t *out,
                            size_t cap);

/*
 * A key for other traffic between the two ends of an OPEN channel, one
 * per direction and label: outbound for what this end sends, inbound for
 * what it receives (this end's outbound key is the other end's inbound
 * key for the same label). BLAKE2b-256 keyed with the direction's record
 * key, over "aoip export v1" and label. Returns 0, or AOIP_ECHAN_STATE
 * before the channel is open.
 */
AOIP_API int aoip_chan_export(const struct aoip_chan *c, const char *label, bool outbound,
                              uint8_t out[32]);

/* Wipe the keys and free the input buffer. */
AOIP_API void aoip_chan_clear(struct aoip_chan *c);

#ifdef __cplusplus
}
#endif

#endif
