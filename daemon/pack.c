/*
 * pack.c: what a source node sends, to whom, in which flows.
 *
 * Every peer that wants channels of this node says which, and in which
 * format (flows.want). From all of those together the node works out its
 * flows: a channel that two or more peers want in the same format goes out
 * once (so it is encoded once),
 * to a multicast group they all join (`multicast = auto`; `always` sends
 * every wanted channel that way, `never` none); the rest goes to each peer
 * unicast. Either way the channels are packed into as few flows as fit the
 * MTU.
 *
 * Re-packing is stable and never clicks: a full flow whose channels are all
 * still wanted stays as it is, and the rest is packed anew in the order its
 * channels already had, so a flow that would come out the same stays too.
 * A flow that is not in the new set is replaced, not stopped: it goes on for
 * FLOWS_RETIRE_MS while the receiver lines its successor up on this node's
 * timeline and switches (flows.c, aoip_jitter_expect).
 *
 * Multicast groups are administratively scoped IPv4 (RFC 2365), 239.69.x.y:
 * x from a hash of the node's id, y counting up, skipping any group this
 * node or a peer (they announce theirs) already uses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "log.h"
#include "node.h"

/* Who a flow is for: one peer (unicast), or the multicast flows of one format. */
struct owner {
    struct peer *peer; /* NULL: multicast */
    struct flow_format fmt;
};

static bool same_format(const struct tx_flow *f, const struct flow_format *fmt)
{
    return flow_format_equal(&flow_meta_of_tx(f)->fmt, fmt);
}

static bool owned_by(const struct tx_flow *f, const struct owner *o)
{
    const struct flow_meta *m = flow_meta_of_tx(f);
    if (m->retire_at_ms || !same_format(f, &o->fmt))
        return false;
    if (!o->peer)
        return m->multicast;
    return !m->multicast && strcmp(m->peer_id, o->peer->id) == 0;
}

/* Is every channel of flow m in list? */
static bool all_in(const struct flow_meta *m, json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(m->channels, i, v)
    {
        if (!flows_list_has(list, flows_channel_of(v)))
            return false;
    }
    return true;
}

/* Does flow m carry exactly these channels, in this order? */
static bool carries(const struct flow_meta *m, const struct channel *const *chans, unsigned n)
{
    if (json_array_size(m->channels) != n)
        return false;
    for (unsigned c = 0; c < n; c++)
        if (strcmp(flows_channel_of(json_array_get(m->channels, c)), chans[c]->name) != 0)
            return false;
    return true;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static bool group_taken(struct node *n, struct in_addr g)
{
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &g, text, sizeof(text));
    for (unsigned k = 0; k < n->n_tx; k++) {
        const struct flow_meta *m = flow_meta_of_tx(n->tx[k]);
        if (m->multicast && m->group.s_addr == g.s_addr)
            return true;
    }
    for (unsigned i = 0; i < n->n_peers; i++)
        if (n->peers[i]->groups && flows_list_has(n->peers[i]->groups, text))
            return true;
    return false;
}

static int pick_group(struct node *n, struct in_addr *out)
{
    uint32_t x = fnv1a(n->id) % 254;
    for (uint32_t tries = 0; tries < 254u * 254u; tries++) {
        uint32_t third = (x + tries / 254) % 254 + 1, fourth = tries % 254 + 1;
        struct in_addr g = { htonl((239u << 24) | (69u << 16) | (third << 8) | fourth) };
        if (!group_taken(n, g)) {
            *out = g;
            return 0;
        }
    }
    return -1;
}

/* AES-256-GCM for a flow when every node that may receive it can open it:
 * the peer of a unicast flow, every online peer for a multicast one (a
 * later receiver must be able to join). */
static bool aes_for(const struct node *n, const struct peer *to)
{
    if (to)
        return to->aes;
    for (unsigned i = 0; i < n->n_peers; i++)
        if (peer_online(n->peers[i]) && !n->peers[i]->aes)
            return false;
    return true;
}

static struct tx_flow *new_flow(struct node *n, const struct owner *o,
                                const struct channel *const *chans, unsigned count)
{
    struct sockaddr_in to = { .sin_family = AF_INET };
    struct in_addr group = { 0 };

    if (o->peer) {
        if (!peer_address(o->peer, &to))
            return NULL;
        to.sin_port = htons(o->peer->rtp_port);
    } else {
        if (pick_group(n, &group) < 0) {
            log_error("multicast: every group of 239.69.0.0/16 is in use");
            return NULL;
        }
        to.sin_addr = group;
        to.sin_port = htons(FLOWS_MULTICAST_PORT);
    }
    struct aoip_opus_config oc;
    uint32_t packet_us = o->fmt.packet_us;
    if (o->fmt.encoding == CFG_ENC_OPUS) {
        flows_opus_config(&o->fmt, count, false, n->cfg->sample_rate, &oc);
        packet_us = oc.frame_us;
    }
    /* An Opus flow's timestamps count 48 kHz, whatever the node's rate. */
    struct tx_flow *f =
        tx_flow_new(count, o->fmt.encoding == CFG_ENC_OPUS ? aoip_opus_frame_samples(&oc)
                                                           : cfg_frames_of_us(n->cfg, packet_us));
    if (!f)
        return NULL;
    struct flow_meta *m = flow_meta_of_tx(f);
    if (o->fmt.encoding == CFG_ENC_OPUS &&
        !(f->opus = opus_tx_new(&oc, n->cfg->sample_rate, n->period_frames))) {
        log_error("flow of %u channels: cannot make its Opus encoder", count);
        flows_tx_free(f);
        return NULL;
    }
    if (f->opus)
        f->stagger = flows_opus_stagger(n, f->opus->frame);
    memcpy(&f->to, &to, sizeof(to));
    f->to_len = sizeof(to);
    f->encoding = o->fmt.encoding;
    f->payload_type = 96;
    f->ssrc = flows_random();
    f->seq = (uint16_t)flows_random();
    m->packet_us = packet_us;
    m->fmt = o->fmt;
    if (o->peer) {
        snprintf(m->peer_id, sizeof(m->peer_id), "%s", o->peer->id);
        snprintf(m->peer_name, sizeof(m->peer_name), "%s", o->peer->name);
    } else {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &group, text, sizeof(text));
        m->multicast = true;
        m->group = group;
        m->receivers = json_array();
        snprintf(m->peer_name, sizeof(m->peer_name), "multicast:%s:%d", text, FLOWS_MULTICAST_PORT);
    }
    for (unsigned c = 0; c < count; c++) {
        f->bufs[c] = n->engine.src[chans[c]->index];
        char full[2 * AOIP_NAME_MAX + 2];
        snprintf(full, sizeof(full), "%s/%s", n->cfg->name, chans[c]->name);
        json_array_append_new(m->channels, json_string(full));
    }
    if (n->cfg->security == CFG_SECURITY_SEALED && keys_tx_start(n, f, aes_for(n, o->peer)) < 0) {
        log_error("flow to %s: cannot start sealing", m->peer_name);
        flows_tx_free(f);
        return NULL;
    }
    if (flows_add_tx(n, f) < 0) {
        flows_tx_free(f);
        return NULL;
    }
    char rate[32] = "";
    if (f->opus)
        snprintf(rate, sizeof(rate), " (%u kb/s)", oc.bitrate / 1000);
    log_info("flow %08" PRIx32 " to %s: %u channels of %s%s at %u us%s", f->ssrc, m->peer_name,
             count, cfg_encoding_name(f->encoding), rate, m->packet_us,
             f->sealed ? ", sealed" : "");
    return f;
}

/*
 * Pack an owner's wanted channels (names, in order) into flows: flows of
 * the owner that stay get keep[k] set (k < before); new ones are appended.
 */
static void pack(struct node *n, const struct owner *o, json_t *wanted, bool *keep, unsigned before)
{
    unsigned per_flow = flows_per_packet(n, &o->fmt);
    json_t *covered = json_array(), *rest = json_array();
    size_t i;
    json_t *v;

    for (unsigned k = 0; k < before; k++) {
        struct tx_flow *f = n->tx[k];
        struct flow_meta *m = flow_meta_of_tx(f);
        if (!owned_by(f, o))
            continue;
        if (f->channels == per_flow && all_in(m, wanted)) {
            keep[k] = true;
            json_array_foreach(m->channels, i, v)
            {
                json_array_append_new(covered, json_string(flows_channel_of(v)));
            }
            continue;
        }
        json_array_foreach(m->channels, i, v)
        {
            const char *name = flows_channel_of(v);
            if (flows_list_has(wanted, name) && !flows_list_has(rest, name))
                json_array_append_new(rest, json_string(name));
        }
    }
    json_array_foreach(wanted, i, v)
    {
        const char *name = json_string_value(v);
        if (!flows_list_has(covered, name) && !flows_list_has(rest, name))
            json_array_append_new(rest, json_string(name));
    }

    const struct channel *chunk[ENGINE_FLOW_CHANNELS];
    unsigned count = 0;
    size_t total = json_array_size(rest);
    json_array_foreach(rest, i, v)
    {
        chunk[count++] = node_find_source(n, json_string_value(v), 0);
        if (count < per_flow && i + 1 < total)
            continue;
        bool found = false;
        for (unsigned k = 0; k < before && !found; k++) {
            if (!keep[k] && owned_by(n->tx[k], o) &&
                carries(flow_meta_of_tx(n->tx[k]), chunk, count))
                found = keep[k] = true;
        }
        if (!found)
            new_flow(n, o, chunk, count);
        count = 0;
    }
    json_decref(covered);
    json_decref(rest);
}

/* The peers that asked for channels, and are there to receive them. */
static bool asking(const struct peer *p)
{
    return p->n_asks > 0 && peer_online(p);
}

/* The channels p asked for in format fmt, or NULL. */
static json_t *asked_in(const struct peer *p, const struct flow_format *fmt)
{
    for (unsigned a = 0; asking(p) && a < p->n_asks; a++)
        if (flow_format_equal(&p->asks[a].fmt, fmt))
            return p->asks[a].channels;
    return NULL;
}

/* Channels that go multicast among the peers asking in format fmt. */
static json_t *shared_channels(struct node *n, const struct flow_format *fmt)
{
    json_t *seen = json_array(), *shared = json_array();
    size_t i;
    json_t *v;

    for (unsigned k = 0; k < n->n_peers; k++) {
        json_t *asked = asked_in(n->peers[k], fmt);
        json_array_foreach(asked, i, v)
        {
            const char *name = json_string_value(v);
            bool again = flows_list_has(seen, name);
            if (!again)
                json_array_append_new(seen, json_string(name));
            bool share = n->cfg->multicast == CFG_MULTICAST_ALWAYS ||
                         (n->cfg->multicast == CFG_MULTICAST_AUTO && again);
            if (share && !flows_list_has(shared, name))
                json_array_append_new(shared, json_string(name));
        }
    }
    json_decref(seen);
    return shared;
}

/* Pack every channel asked for in format fmt: multicast what is shared,
 * the rest per peer. */
static void pack_format(struct node *n, const struct flow_format *fmt, bool *keep, unsigned before)
{
    size_t i;
    json_t *v;
    json_t *shared = shared_channels(n, fmt);
    struct owner mc = { NULL, *fmt };
    pack(n, &mc, shared, keep, before);
    for (unsigned k = 0; k < n->n_peers; k++) {
        json_t *asked = asked_in(n->peers[k], fmt);
        if (!asked)
            continue;
        json_t *own = json_array();
        json_array_foreach(asked, i, v)
        {
            if (!flows_list_has(shared, json_string_value(v)))
                json_array_append(own, v);
        }
        struct owner uc = { n->peers[k], *fmt };
        pack(n, &uc, own, keep, before);
        json_decref(own);
    }
    json_decref(shared);
}

/* The flows.set a peer gets: its unicast flows and the multicast flows it joins. */
static json_t *set_for(struct node *n, const struct peer *p)
{
    json_t *list = json_array();
    for (unsigned k = 0; k < n->n_tx; k++) {
        const struct flow_meta *m = flow_meta_of_tx(n->tx[k]);
        if (m->retire_at_ms)
            continue;
        bool mine =
            m->multicast ? flows_list_has(m->receivers, p->id) : strcmp(m->peer_id, p->id) == 0;
        if (mine)
            json_array_append_new(list, flows_set_entry(n, n->tx[k]));
    }
    return list;
}

static json_t *own_groups(struct node *n)
{
    json_t *list = json_array();
    for (unsigned k = 0; k < n->n_tx; k++) {
        const struct flow_meta *m = flow_meta_of_tx(n->tx[k]);
        char text[INET_ADDRSTRLEN];
        if (!m->multicast)
            continue;
        inet_ntop(AF_INET, &m->group, text, sizeof(text));
        json_array_append_new(list, json_string(text));
    }
    return list;
}

json_t *flows_groups(struct node *n)
{
    return own_groups(n);
}

void flows_repack(struct node *n)
{
    unsigned before = n->n_tx;
    bool *keep = calloc(before + 1, sizeof(bool));
    size_t i;
    json_t *v;

    if (!keep) {
        log_error("flows: out of memory re-packing");
        return;
    }
    /* Every format some peer asked in, once. */
    for (unsigned a = 0; a < n->n_peers; a++) {
        struct peer *first = n->peers[a];
        for (unsigned q = 0; asking(first) && q < first->n_asks; q++) {
            const struct flow_format *fmt = &first->asks[q].fmt;
            bool done = false;
            for (unsigned b = 0; b < a && !done; b++)
                done = asked_in(n->peers[b], fmt) != NULL;
            if (!done)
                pack_format(n, fmt, keep, before);
        }
    }

    /* What is not in the new set is replaced; a gone peer's unicast flows stop now. */
    for (unsigned k = 0; k < before; k++) {
        struct flow_meta *m = flow_meta_of_tx(n->tx[k]);
        if (keep[k] || m->retire_at_ms || (!m->multicast && !m->peer_id[0]))
            continue;
        m->retire_at_ms = node_now_ms(n) + FLOWS_RETIRE_MS;
        log_debug("flow %08" PRIx32 " to %s: replaced", n->tx[k]->ssrc, m->peer_name);
    }
    free(keep);
    for (unsigned k = n->n_tx; k-- > 0;) {
        struct flow_meta *m = flow_meta_of_tx(n->tx[k]);
        struct peer *p = m->multicast ? NULL : node_peer_by_id(n, m->peer_id);
        if (m->retire_at_ms && m->peer_id[0] && (!p || !peer_online(p)))
            flows_drop_tx(n, k);
    }

    /* Who joins which multicast flow: every asking peer that wants one of its channels. */
    for (unsigned k = 0; k < n->n_tx; k++) {
        struct flow_meta *m = flow_meta_of_tx(n->tx[k]);
        if (!m->multicast || m->retire_at_ms)
            continue;
        json_t *before_ids = json_copy(m->receivers);
        json_array_clear(m->receivers);
        for (unsigned a = 0; a < n->n_peers; a++) {
            json_t *asked = asked_in(n->peers[a], &m->fmt);
            if (!asked)
                continue;
            bool wants = false;
            json_array_foreach(m->channels, i, v)
            {
                wants = wants || flows_list_has(asked, flows_channel_of(v));
            }
            if (wants)
                json_array_append_new(m->receivers, json_string(n->peers[a]->id));
        }
        /* A node that left holds the key: the flow gets a new one it is not told. */
        json_array_foreach(before_ids, i, v)
        {
            if (!flows_list_has(m->receivers, json_string_value(v)))
                keys_tx_rekey_soon(n->tx[k]);
        }
        json_decref(before_ids);
    }
    flows_announce(n);
}

void flows_announce(struct node *n)
{

    /* Tell every peer whose set changed. */
    for (unsigned a = 0; a < n->n_peers; a++) {
        struct peer *p = n->peers[a];
        if (!peer_online(p))
            continue;
        json_t *set = asking(p) ? set_for(n, p) : json_array();
        if (p->sent_set && json_equal(set, p->sent_set)) {
            json_decref(set);
            continue;
        }
        if (!p->sent_set && json_array_size(set) == 0 && p->n_asks == 0) {
            json_decref(set);
            continue;
        }
        json_decref(p->sent_set);
        p->sent_set = json_incref(set);
        peer_send_json(p, json_pack("{s:s, s:o}", "type", "flows.set", "flows", set));
    }

    /* And everyone, when the groups this node uses changed. */
    json_t *groups = own_groups(n);
    if (!n->groups || !json_equal(groups, n->groups)) {
        json_decref(n->groups);
        n->groups = json_incref(groups);
        for (unsigned a = 0; a < n->n_peers; a++)
            if (peer_online(n->peers[a]))
                peer_send_json(n->peers[a],
                               json_pack("{s:s, s:O}", "type", "groups", "groups", groups));
    }
    json_decref(groups);
}

void flows_asks_free(struct peer *p)
{
    for (unsigned a = 0; a < p->n_asks; a++)
        json_decref(p->asks[a].channels);
    free(p->asks);
    p->asks = NULL;
    p->n_asks = 0;
}

/* Only names of this node's sources count, each once; the rest is logged and ignored. */
static json_t *known_sources(struct node *n, const struct peer *p, json_t *channels)
{
    json_t *wanted = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(channels, i, v)
    {
        const char *name = json_string_value(v);
        if (!name || !node_find_source(n, name, 0)) {
            log_warn("peer %s: wants channel '%s', which this node does not have", p->name,
                     name ? name : "(not a string)");
            continue;
        }
        if (!flows_list_has(wanted, name))
            json_array_append_new(wanted, json_string(name));
    }
    return wanted;
}

void flows_want_by(struct node *n, struct peer *p, json_t *asks)
{
    size_t count = json_array_size(asks);
    struct peer_ask *list = calloc(count + 1, sizeof(*list));
    unsigned used = 0;
    size_t i;
    json_t *v;

    if (!list) {
        log_error("flows: out of memory taking what peer %s asks for", p->name);
        return;
    }
    json_array_foreach(asks, i, v)
    {
        struct flow_format fmt;
        json_t *chans = json_object_get(v, "channels");
        if (flow_format_parse(json_object_get(v, "format"), &fmt) < 0 || !json_is_array(chans)) {
            log_warn("peer %s: asks for channels in a format this node does not know", p->name);
            continue;
        }
        if (fmt.encoding == CFG_ENC_OPUS && fmt.opus.frame_us &&
            !aoip_opus_frame_fits(fmt.opus.frame_us, n->cfg->sample_rate)) {
            log_warn("peer %s: asks for Opus in frames of %u us, no whole number of frames at "
                     "%u Hz",
                     p->name, fmt.opus.frame_us, n->cfg->sample_rate);
            continue;
        }
        /* One list per format: a format asked twice is one ask. */
        unsigned at = 0;
        while (at < used && !flow_format_equal(&list[at].fmt, &fmt))
            at++;
        json_t *known = known_sources(n, p, chans);
        if (at == used) {
            list[used++] = (struct peer_ask){ fmt, known };
            continue;
        }
        size_t j;
        json_t *name;
        json_array_foreach(known, j, name)
        {
            if (!flows_list_has(list[at].channels, json_string_value(name)))
                json_array_append(list[at].channels, name);
        }
        json_decref(known);
    }
    flows_asks_free(p);
    p->asks = list;
    p->n_asks = used;
    flows_repack(n);
}

void flows_peer_lost(struct node *n, struct peer *p)
{
    flows_asks_free(p);
    json_decref(p->sent_set);
    p->sent_set = NULL;
    flows_repack(n);
}
