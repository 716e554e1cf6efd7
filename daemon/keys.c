/*
 * keys.c: the keys of sealed flows (proto/security.md, "Flow keys").
 *
 * A sender makes a random key for every flow it starts and announces it in
 * the flow's flows.set entry, over the sealed peer channel, to every node
 * that receives the flow. It replaces the key every rekey_s seconds, and
 * soon after a receiver leaves a multicast flow (a node that no longer
 * receives must not go on listening). A new key is announced beside the
 * one in use for KEYS_SWITCH_MS before the sender seals with it, so every
 * receiver holds it when the first packet under it arrives; the receiver
 * keeps the key before it as well, for packets still under way.
 *
 * Keys cross to the media thread through a flow's key_handover (engine.h),
 * one at a time.
 */
#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "flows.h"
#include "log.h"
#include "node.h"

static const char *cipher_name(enum aoip_seal_cipher c)
{
    return c == AOIP_SEAL_AES256GCM ? "aes-256-gcm" : "chacha20-poly1305";
}

static int cipher_parse(const char *s, enum aoip_seal_cipher *out)
{
    if (s && strcmp(s, "aes-256-gcm") == 0)
        *out = AOIP_SEAL_AES256GCM;
    else if (s && strcmp(s, "chacha20-poly1305") == 0)
        *out = AOIP_SEAL_CHACHA20POLY1305;
    else
        return -1;
    return 0;
}

static json_t *key_json(const struct aoip_seal_key *k)
{
    char hex[2 * AOIP_SEAL_KEY_BYTES + 1];
    sodium_bin2hex(hex, sizeof(hex), k->bytes, sizeof(k->bytes));
    json_t *o = json_pack("{s:i, s:s}", "id", (int)k->id, "key", hex);
    sodium_memzero(hex, sizeof(hex));
    return o;
}

static int key_parse(json_t *v, struct aoip_seal_key *out)
{
    json_int_t id = -1;
    const char *hex = NULL;
    size_t len = 0;

    if (json_unpack(v, "{s:I, s:s}", "id", &id, "key", &hex) != 0 || id < 0 || id > 255 ||
        strlen(hex) != 2 * AOIP_SEAL_KEY_BYTES ||
        sodium_hex2bin(out->bytes, sizeof(out->bytes), hex, strlen(hex), NULL, &len, NULL) != 0 ||
        len != sizeof(out->bytes))
        return -1;
    out->id = (uint8_t)id;
    return 0;
}

int keys_tx_start(struct node *n, struct tx_flow *f, bool aes_ok)
{
    struct flow_meta *m = flow_meta_of_tx(f);
    enum aoip_seal_cipher c = aes_ok ? aoip_seal_cipher_pick() : AOIP_SEAL_CHACHA20POLY1305;

    aoip_seal_key_generate(&m->key, 1);
    if (aoip_seal_tx_init(&f->seal, c, &m->key) < 0)
        return -1;
    m->cipher = c;
    m->rekey_at_ms = node_now_ms(n) + (int64_t)n->cfg->rekey_s * 1000;
    f->sealed = true;
    return 0;
}

void keys_tx_rekey_soon(struct tx_flow *f)
{
    struct flow_meta *m = flow_meta_of_tx(f);
    if (f->sealed)
        m->rekey_at_ms = 0;
}

json_t *keys_entry(const struct tx_flow *f)
{
    const struct flow_meta *m = flow_meta_of_tx(f);
    if (!f->sealed)
        return NULL;
    json_t *keys = json_array();
    json_array_append_new(keys, key_json(&m->key));
    if (m->has_next)
        json_array_append_new(keys, key_json(&m->next));
    return json_pack("{s:s, s:o}", "cipher", cipher_name(m->cipher), "keys", keys);
}

/* The keys of a "seal" object: one or two, the newest last. Returns how many, or -1. */
static int seal_parse(json_t *seal, enum aoip_seal_cipher *c, struct aoip_seal_key keys[2])
{
    json_t *list = json_object_get(seal, "keys");
    size_t n = json_array_size(list);

    if (!json_is_object(seal) ||
        cipher_parse(json_string_value(json_object_get(seal, "cipher")), c) < 0 ||
        !json_is_array(list) || n < 1 || n > 2)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (key_parse(json_array_get(list, i), &keys[i]) < 0)
            return -1;
    if (n == 2 && keys[0].id == keys[1].id)
        return -1;
    return (int)n;
}

int keys_rx_start(struct node *n, const struct peer *p, struct rx_flow *f, json_t *seal)
{
    struct flow_meta *m = f->owner;
    struct aoip_seal_key keys[2];
    enum aoip_seal_cipher c;

    if (!seal) {
        if (n->cfg->security == CFG_SECURITY_OPEN)
            return 0;
        log_warn("peer %s: flow %08" PRIx32 " is plain RTP; refused (this node is sealed: "
                 "security = open on both ends lets plain media through)",
                 p->name, f->ssrc);
        return -1;
    }
    int count = seal_parse(seal, &c, keys);
    if (count < 0) {
        log_warn("peer %s: flow %08" PRIx32 ": malformed keys", p->name, f->ssrc);
        return -1;
    }
    if (aoip_seal_rx_init(&f->seal, c, &keys[0]) < 0) {
        log_warn("peer %s: flow %08" PRIx32 " is sealed with %s, which this node cannot open",
                 p->name, f->ssrc, cipher_name(c));
        sodium_memzero(keys, sizeof(keys));
        return -1;
    }
    if (count == 2)
        aoip_seal_rx_rekey(&f->seal, &keys[1]);
    m->cipher = c;
    m->key.id = keys[count - 1].id;
    f->sealed = true;
    sodium_memzero(keys, sizeof(keys));
    return 0;
}

/* Hand key k to rx flow f's media side, or keep it pending until it can be. */
static void rx_hand_over(struct rx_flow *f, const struct aoip_seal_key *k)
{
    struct flow_meta *m = f->owner;

    m->has_pending = !key_offer(&f->next, k);
    if (m->has_pending)
        m->pending = *k;
}

void keys_rx_update(const struct peer *p, struct rx_flow *f, json_t *seal)
{
    struct flow_meta *m = f->owner;
    struct aoip_seal_key keys[2];
    enum aoip_seal_cipher c;

    if (!f->sealed)
        return;
    int count = seal_parse(seal, &c, keys);
    if (count < 0 || c != m->cipher) {
        log_warn("peer %s: flow %08" PRIx32 ": malformed keys", p->name, f->ssrc);
        return;
    }
    const struct aoip_seal_key *newest = &keys[count - 1];
    if (newest->id != m->key.id) {
        m->key.id = newest->id;
        rx_hand_over(f, newest);
    }
    sodium_memzero(keys, sizeof(keys));
}

/* A tx flow's next key to the media thread, when it has taken the last one. */
static bool tx_hand_over(struct tx_flow *f)
{
    struct flow_meta *m = flow_meta_of_tx(f);

    if (!key_offer(&f->next, &m->next))
        return false;
    m->key = m->next;
    m->has_next = false;
    sodium_memzero(&m->next, sizeof(m->next));
    return true;
}

bool keys_tick(struct node *n)
{
    int64_t now = node_now_ms(n);
    bool changed = false;

    for (unsigned k = 0; k < n->n_tx; k++) {
        struct tx_flow *f = n->tx[k];
        struct flow_meta *m = flow_meta_of_tx(f);
        if (!f->sealed || m->retire_at_ms)
            continue;
        if (m->has_next) {
            if (now >= m->switch_at_ms && tx_hand_over(f)) {
                log_debug("flow %08" PRIx32 ": sealed with key %u", f->ssrc, m->key.id);
                changed = true;
            }
        } else if (now >= m->rekey_at_ms) {
            aoip_seal_key_generate(&m->next, (uint8_t)(m->key.id + 1));
            m->has_next = true;
            m->switch_at_ms = now + KEYS_SWITCH_MS;
            m->rekey_at_ms = now + (int64_t)n->cfg->rekey_s * 1000;
            changed = true;
        }
    }
    for (unsigned k = 0; k < n->n_rx; k++) {
        struct rx_flow *f = n->rx[k];
        struct flow_meta *m = f->owner;
        if (f->sealed && m->has_pending) {
            struct aoip_seal_key key = m->pending;
            rx_hand_over(f, &key);
            sodium_memzero(&key, sizeof(key));
        }
    }
    return changed;
}
