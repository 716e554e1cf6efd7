/*
 * peer.c: connections between nodes (proto/peer.md).
 *
 * A node keeps a connection to every node it knows of. It dials the
 * addresses it was given (static [peer.*] entries) and the ones its peers
 * tell it about in their hello and peers messages, and it accepts whoever
 * dials it. Who a connection belongs to is known only after its hello;
 * when two nodes end up with two connections, the one dialled by the node
 * with the smaller id stays, as both sides decide the same without talking.
 *
 * Every connection is a sealed channel (aoip/peerchan.h, proto/security.md):
 * nothing is said on it, not even this node's name, before the other side
 * has proven that it holds the network secret and the identity key whose
 * fingerprint it claims as its id; a node that fails is logged with its
 * address, counted, and cut off. Past that, everything a peer sends is
 * still checked before it is used: records are bounded, an unknown type is
 * ignored, a malformed one is counted, and a peer that keeps talking
 * nonsense, stops answering or stops reading is cut off. The node's own
 * requests to a peer carry a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "flows.h"
#include "log.h"
#include "node.h"

/* Retry delays for a target that does not answer: 1 s, doubling to 5 s. */
#define PEER_RETRY_FIRST_MS 1000
#define PEER_RETRY_MAX_MS   5000
/* Output queued to a peer that does not read: past this, it is cut off. */
#define PEER_MAX_QUEUED (4u << 20)
/* A node whose connection closed, with no other, is lost after this long
 * (a connection closed as the twin of one both nodes dialled is no loss). */
#define PEER_LOSS_GRACE_MS 1000
/* A peer whose DNS-SD service went away is lost unless it answers within this. */
#define PEER_VANISHED_GRACE_MS 1500
/* Addresses a node keeps trying to reach: configured ones, plus what discovery and
 * gossip told it, which strangers can inflate. */
#define PEER_MAX_TARGETS 1024
/* Multicast groups a peer may announce. */
#define PEER_MAX_GROUPS 1024
/* Channels a peer may announce in each of its lists. */
#define PEER_MAX_CHANNELS 4096
/* A connection that has not authenticated within this is cut off. */
#define PEER_HANDSHAKE_MS 5000

struct target {
    char host[256];
    uint16_t port;
    char id[NODE_ID_LEN + 1]; /* once a hello told us */
    bool is_static, self;
    struct conn *conn;
    int64_t next_try_ms;
    unsigned backoff_ms;
    uv_getaddrinfo_t resolve;
    bool resolving;
    struct node *node;
    struct target *next;
};

struct conn {
    struct node *node;
    uv_tcp_t tcp;
    struct aoip_chan chan; /* zeroed by calloc: clearing it is safe before init */
    bool outgoing;
    struct target *target;
    struct peer *peer; /* set by its hello */
    bool hello_seen, closing;
    int64_t last_rx_ms, last_ping_ms;
    int64_t started_ms;
    unsigned errors;
    struct sockaddr_in remote;
    char remote_text[INET_ADDRSTRLEN + 8];
    struct conn *next;
};

struct pending {
    uint32_t rid;
    struct request *r;
    char peer_id[NODE_ID_LEN + 1];
    int64_t deadline_ms;
    struct pending *next;
};

/* A request a peer sent us, answered later: the connection may be gone by then. */
struct remote_ask {
    char peer_id[NODE_ID_LEN + 1];
    json_int_t rid;
};

static void conn_close(struct conn *c);
static void send_hello(struct conn *c);
static void peer_lost(struct node *n, struct peer *p);

bool peer_online(const struct peer *p)
{
    return p->conn && p->conn->hello_seen && !p->conn->closing &&
           p->sample_rate == p->node->cfg->sample_rate;
}

bool peer_rtcp_keys(struct peer *p)
{
    uint8_t tx[AOIP_SEAL_KEY_BYTES], rx[AOIP_SEAL_KEY_BYTES];
    const struct conn *c = p->conn;

    if (!peer_online(p))
        return false;
    if (p->rtcp_conn == c)
        return true;
    /* A new connection: new keys, counters from 0 both ways. */
    if (aoip_chan_export(&c->chan, "rtcp", true, tx) < 0 ||
        aoip_chan_export(&c->chan, "rtcp", false, rx) < 0)
        return false;
    aoip_seal_ctl_init(&p->rtcp_tx, tx);
    aoip_seal_ctl_init(&p->rtcp_rx, rx);
    sodium_memzero(tx, sizeof tx);
    sodium_memzero(rx, sizeof rx);
    p->rtcp_conn = c;
    return true;
}

bool peer_address(const struct peer *p, struct sockaddr_in *out)
{
    if (!p->conn)
        return false;
    *out = p->conn->remote;
    return true;
}

/* Queue buf (taken: freed here or once written); cut off a peer that does not read. */
static void conn_queue(struct conn *c, uint8_t *buf, size_t len)
{
    if (c->closing) {
        free(buf);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > PEER_MAX_QUEUED) {
        log_warn("peer %s: does not read what it is sent; disconnecting", c->remote_text);
        free(buf);
        conn_close(c);
        return;
    }
    if (node_write_line((uv_stream_t *)&c->tcp, (char *)buf, len) < 0)
        conn_close(c);
}

/* Queue a copy of bytes (what the channel itself sends: HELLO, AUTH). */
static void conn_write(struct conn *c, const uint8_t *bytes, size_t len)
{
    uint8_t *copy = malloc(len);
    if (!copy) {
        conn_close(c);
        return;
    }
    memcpy(copy, bytes, len);
    conn_queue(c, copy, len);
}

/* One message, sealed as one record. Nothing goes out before the channel is open. */
static void conn_send(struct conn *c, json_t *msg)
{
    size_t len = 0;
    char *text = msg ? aoip_control_dump(msg, &len) : NULL;

    json_decref(msg);
    if (!text || c->closing || c->chan.state != AOIP_CHAN_OPEN) {
        free(text);
        return;
    }
    if (len && text[len - 1] == '\n')
        len--;
    size_t cap = len + AOIP_CHAN_RECORD_OVERHEAD;
    uint8_t *rec = malloc(cap);
    int rl = rec ? aoip_chan_seal(&c->chan, text, len, rec, cap) : -ENOMEM;
    free(text);
    if (rl < 0) {
        log_warn("peer %s: cannot seal a message: %s", c->remote_text, aoip_strerror(rl));
        free(rec);
        conn_close(c);
        return;
    }
    conn_queue(c, rec, (size_t)rl);
}

void peer_send_json(struct peer *p, json_t *msg)
{
    if (p->conn)
        conn_send(p->conn, msg);
    else
        json_decref(msg);
}

static json_t *known_peers(struct node *n, const struct peer *except)
{
    json_t *list = json_array();
    for (unsigned i = 0; i < n->n_peers; i++) {
        struct peer *p = n->peers[i];
        if (p == except || !peer_online(p))
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i}", "id", p->id, "name", p->name,
                                              "address", p->host, "port", (int)p->port));
    }
    return list;
}

static void gossip(struct node *n)
{
    for (unsigned i = 0; i < n->n_peers; i++) {
        struct peer *p = n->peers[i];
        if (peer_online(p))
            peer_send_json(p, json_pack("{s:s, s:o}", "type", "peers", "peers", known_peers(n, p)));
    }
}

static void send_hello(struct conn *c)
{
    struct node *n = c->node;
    json_t *src = json_array(), *dst = json_array(), *bus = json_array();

    for (unsigned i = 0; i < n->n_sources; i++) {
        json_array_append_new(src, json_string(n->sources[i].name));
        if (n->sources[i].bus)
            json_array_append_new(bus, json_string(n->sources[i].name));
    }
    for (unsigned i = 0; i < n->n_destinations; i++)
        json_array_append_new(dst, json_string(n->destinations[i].name));
    json_t *hello =
        json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o}", "type",
                  "hello", "v", 1, "id", n->id, "session", n->session, "name", n->cfg->name, "port",
                  (int)n->port, "rtp_port", (int)n->rtp_port, "rtcp_port", (int)n->rtcp_port,
                  "sample_rate", (int)n->cfg->sample_rate, "sources", src, "destinations", dst,
                  "buses", bus, "peers", known_peers(n, NULL));
    json_object_set_new(hello, "groups", flows_groups(n));
    json_t *ciphers = json_array();
    if (aoip_seal_cipher_available(AOIP_SEAL_AES256GCM))
        json_array_append_new(ciphers, json_string("aes-256-gcm"));
    json_array_append_new(ciphers, json_string("chacha20-poly1305"));
    json_object_set_new(hello, "ciphers", ciphers);
    conn_send(c, hello);
}

/* ---- requests forwarded to peers ---------------------------------------- */

static void finish_pending(struct node *n, struct pending *pd, json_t *response)
{
    struct pending **pp = &n->pending;
    while (*pp && *pp != pd)
        pp = &(*pp)->next;
    if (*pp)
        *pp = pd->next;
    struct request *r = pd->r;
    free(pd);
    r->done(r, response);
}

static void fail_pending(struct node *n, struct pending *pd, const char *why)
{
    finish_pending(n, pd, aoip_control_fail(pd->r->id, AOIP_CODE_UNREACHABLE, "%s", why));
}

void peer_forward(struct node *n, struct peer *p, json_t *msg, struct request *r)
{
    struct pending *pd = calloc(1, sizeof(*pd));
    json_t *out = json_deep_copy(msg);

    json_decref(msg);
    if (!pd || !out || !peer_online(p)) {
        free(pd);
        json_decref(out);
        r->done(r, aoip_control_fail(r->id, AOIP_CODE_UNREACHABLE, "node '%s' is not connected",
                                     p->name));
        return;
    }
    pd->rid = ++n->next_rid;
    pd->r = r;
    snprintf(pd->peer_id, sizeof(pd->peer_id), "%s", p->id);
    pd->deadline_ms = node_now_ms(n) + NODE_REQUEST_TIMEOUT_MS;
    pd->next = n->pending;
    n->pending = pd;
    json_object_del(out, "id");
    json_object_set_new(out, "type", json_string("request"));
    json_object_set_new(out, "rid", json_integer(pd->rid));
    peer_send_json(p, out);
}

static void on_reply(struct conn *c, json_t *msg)
{
    struct node *n = c->node;
    json_t *rid = json_object_get(msg, "rid");

    for (struct pending *pd = n->pending; pd; pd = pd->next) {
        if (!json_is_integer(rid) || pd->rid != json_integer_value(rid) ||
            strcmp(pd->peer_id, c->peer->id) != 0)
            continue;
        /* The answer goes back in the control protocol's shape, under the asker's id. */
        json_t *response = json_deep_copy(msg);
        json_object_del(response, "type");
        json_object_del(response, "rid");
        json_object_set_new(response, "id", json_integer(pd->r->id));
        if (!json_is_boolean(json_object_get(response, "ok"))) {
            json_decref(response);
            response = aoip_control_fail(pd->r->id, AOIP_CODE_UNREACHABLE,
                                         "node '%s' answered nonsense", c->peer->name);
        }
        finish_pending(n, pd, response);
        return;
    }
}

static void remote_done(struct request *r, json_t *response)
{
    struct remote_ask *ask = r->ctx;
    struct peer *p = node_peer_by_id(r->node, ask->peer_id);

    if (p && p->conn) {
        json_object_del(response, "id");
        json_object_set_new(response, "type", json_string("reply"));
        json_object_set_new(response, "rid", json_integer(ask->rid));
        peer_send_json(p, response);
    } else {
        json_decref(response);
    }
    json_decref(r->msg);
    free(ask);
    free(r);
}

static void on_request(struct conn *c, json_t *msg)
{
    struct request *r = calloc(1, sizeof(*r));
    struct remote_ask *ask = calloc(1, sizeof(*ask));
    json_t *rid = json_object_get(msg, "rid");

    if (!r || !ask || !json_is_integer(rid)) {
        free(r);
        free(ask);
        c->errors++;
        return;
    }
    snprintf(ask->peer_id, sizeof(ask->peer_id), "%s", c->peer->id);
    ask->rid = json_integer_value(rid);
    r->node = c->node;
    r->msg = json_deep_copy(msg);
    json_object_del(r->msg, "type");
    json_object_del(r->msg, "rid");
    r->done = remote_done;
    r->ctx = ask;
    r->from_peer = true;
    node_handle(r);
}

/* ---- who is who ----------------------------------------------------------- */

static struct target *target_find(struct node *n, const char *host, uint16_t port)
{
    for (struct target *t = n->targets; t; t = t->next)
        if (t->port == port && strcmp(t->host, host) == 0)
            return t;
    return NULL;
}

static struct target *target_add(struct node *n, const char *host, uint16_t port, bool is_static)
{
    struct target *t = target_find(n, host, port);
    if (t)
        return t;
    /* Announcements and gossip are strangers' input: the list stays bounded. */
    if (n->n_targets >= PEER_MAX_TARGETS && !is_static)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    snprintf(t->host, sizeof(t->host), "%s", host);
    t->port = port;
    t->is_static = is_static;
    t->node = n;
    t->next = n->targets;
    n->targets = t;
    n->n_targets++;
    return t;
}

/* Forget a target nobody configured, unless a lookup of its name is under way. */
static void target_forget(struct node *n, struct target *t)
{
    if (t->is_static || t->conn || t->resolving)
        return;
    struct target **pp = &n->targets;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = t->next;
        n->n_targets--;
        free(t);
    }
}

/* Parse a list of channel names from a hello; NULL list and 0 count when absent. */
static int take_names(json_t *v, char (**out)[AOIP_NAME_MAX], unsigned *count)
{
    size_t i, n = json_array_size(v);
    json_t *e;

    if (!json_is_array(v) || n > PEER_MAX_CHANNELS)
        return -1;
    char(*names)[AOIP_NAME_MAX] = calloc(n + 1, AOIP_NAME_MAX);
    if (!names)
        return -1;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        if (!s || !aoip_name_valid(s, strlen(s))) {
            free(names);
            return -1;
        }
        snprintf(names[i], AOIP_NAME_MAX, "%s", s);
    }
    free(*out);
    *out = names;
    *count = (unsigned)n;
    return 0;
}

/* The multicast groups a peer says it sends to: IPv4 multicast addresses, a bounded list. */
static void take_groups(struct peer *p, json_t *list)
{
    size_t i;
    json_t *v;
    struct in_addr a;

    if (!json_is_array(list) || json_array_size(list) > PEER_MAX_GROUPS)
        return;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || inet_pton(AF_INET, s, &a) != 1 || !IN_MULTICAST(ntohl(a.s_addr)))
            return;
    }
    json_decref(p->groups);
    p->groups = json_incref(list);
}

static bool valid_id(const char *s)
{
    return s && strlen(s) == NODE_ID_LEN && strspn(s, "0123456789abcdef") == NODE_ID_LEN;
}

static void learn_peers(struct node *n, json_t *list)
{
    size_t i;
    json_t *v;

    if (!json_is_array(list))
        return;
    json_array_foreach(list, i, v)
    {
        const char *id = NULL, *address = NULL;
        json_int_t port = 0;
        struct in_addr a;
        if (i >= NODE_MAX_PEERS)
            break;
        if (json_unpack(v, "{s:s, s:s, s:I}", "id", &id, "address", &address, "port", &port) != 0 ||
            !valid_id(id) || port <= 0 || port > 65535 || inet_pton(AF_INET, address, &a) != 1)
            continue;
        if (strcmp(id, n->id) == 0)
            continue;
        struct peer *p = node_peer_by_id(n, id);
        if (p && p->conn)
            continue;
        struct target *t = target_add(n, address, (uint16_t)port, false);
        if (t && !t->id[0])
            snprintf(t->id, sizeof(t->id), "%s", id);
    }
}

/* The connection that stays when a peer has two: the one dialled by the smaller id. */
static bool keeps(const struct node *n, const struct conn *a, const struct conn *b)
{
    const char *ia = a->outgoing ? n->id : a->peer->id;
    const char *ib = b->outgoing ? n->id : b->peer->id;
    /* The same dialler twice (two addresses of one node): the older stays. */
    return strcmp(ia, ib) <= 0;
}

static void peer_became_online(struct node *n, struct peer *p)
{
    log_info("peer %s (%s) online at %s:%u", p->name, p->id, p->host, p->port);
    gossip(n);
    routes_peer_known(n, p);
}

static void on_hello(struct conn *c, json_t *msg)
{
    struct node *n = c->node;
    const char *id = NULL, *name = NULL;
    json_int_t v = 0, port = 0, rtp = 0, rtcp = 0, rate = 0;

    if (json_unpack(msg, "{s:I, s:s, s:s, s:I, s:I, s:I, s:I}", "v", &v, "id", &id, "name", &name,
                    "port", &port, "rtp_port", &rtp, "rtcp_port", &rtcp, "sample_rate",
                    &rate) != 0 ||
        v != 1 || !valid_id(id) || !aoip_name_valid(name, strlen(name)) || port < 0 ||
        port > 65535 || rtp < 0 || rtp > 65535 || rtcp < 0 || rtcp > 65535 || rate <= 0) {
        log_warn("peer %s: malformed hello; disconnecting", c->remote_text);
        conn_close(c);
        return;
    }
    /* The id is the fingerprint of the key the handshake proved: nothing else. */
    if (strcmp(id, c->chan.peer_id) != 0) {
        log_warn("peer %s: says it is %s but its key is %s's; disconnecting", c->remote_text, id,
                 c->chan.peer_id);
        n->peer_auth_failures++;
        conn_close(c);
        return;
    }
    if (strcmp(id, n->id) == 0) {
        /* Our own address, learnt from someone's gossip: never dial it again. */
        if (c->target)
            c->target->self = true;
        conn_close(c);
        return;
    }
    struct peer *p = node_peer_by_id(n, id);
    if (!p) {
        if (n->n_peers == NODE_MAX_PEERS) {
            log_warn("peer %s: %d nodes known already, the limit; disconnecting", name,
                     NODE_MAX_PEERS);
            conn_close(c);
            return;
        }
        p = calloc(1, sizeof(*p));
        if (!p) {
            conn_close(c);
            return;
        }
        p->node = n;
        snprintf(p->id, sizeof(p->id), "%s", id);
        n->peers[n->n_peers++] = p;
    }
    if (take_names(json_object_get(msg, "sources"), &p->sources, &p->n_sources) < 0 ||
        take_names(json_object_get(msg, "destinations"), &p->destinations, &p->n_destinations) <
            0 ||
        take_names(json_object_get(msg, "buses"), &p->buses, &p->n_buses) < 0) {
        log_warn("peer %s: hello with malformed channel lists; disconnecting", name);
        conn_close(c);
        return;
    }
    if (strcmp(p->name, name) != 0 && p->name[0])
        log_info("peer %s is now called %s", p->name, name);
    const char *session = json_string_value(json_object_get(msg, "session"));
    if (session && valid_id(session) && strcmp(p->session, session) != 0) {
        if (p->session[0]) {
            /* A new process: whatever was agreed with the old one is gone, even
             * if it came back within the grace of its loss. */
            log_info("peer %s restarted", name);
            if (p->loss_at_ms) {
                p->loss_at_ms = 0;
                peer_lost(n, p);
            }
            flows_peer_restarted(n, p);
        }
        snprintf(p->session, sizeof(p->session), "%s", session);
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->rtp_port = (uint16_t)rtp;
    p->rtcp_port = (uint16_t)rtcp;
    p->sample_rate = (uint32_t)rate;
    p->aes = flows_list_has(json_object_get(msg, "ciphers"), "aes-256-gcm");
    c->peer = p;
    c->hello_seen = true;
    if (c->target)
        snprintf(c->target->id, sizeof(c->target->id), "%s", id);

    if (p->conn && p->conn != c && !p->conn->closing) {
        struct conn *old = p->conn;
        if (keeps(n, old, c)) {
            c->peer = NULL;
            conn_close(c);
            return;
        }
        old->peer = NULL; /* not a loss: the peer stays online through c */
        p->conn = c;
        conn_close(old);
    }
    bool was_online = peer_online(p) || p->loss_at_ms;
    p->loss_at_ms = 0;
    p->conn = c;
    /* A new connection: what was asked and answered on the old one may not
     * have reached the other side (it may have seen a loss this side did
     * not). Both sides say again what they want and what they send. */
    json_decref(p->wanted);
    json_decref(p->sent_set);
    p->wanted = NULL;
    p->sent_set = NULL;
    snprintf(p->host, sizeof(p->host), "%s", inet_ntoa(c->remote.sin_addr));
    p->port = (uint16_t)port;
    /* Either side may have to call the other again after a loss: remember the way. */
    if (p->port) {
        struct target *t = target_add(n, p->host, p->port, false);
        if (t && !t->id[0])
            snprintf(t->id, sizeof(t->id), "%s", p->id);
    }
    learn_peers(n, json_object_get(msg, "peers"));
    take_groups(p, json_object_get(msg, "groups"));
    if (p->sample_rate != n->cfg->sample_rate) {
        log_warn("peer %s runs at %u Hz, this node at %u Hz: not used", p->name, p->sample_rate,
                 n->cfg->sample_rate);
        return;
    }
    if (!was_online)
        peer_became_online(n, p);
    else
        peer_update_wants(n, p);
}

void peer_update_wants(struct node *n, struct peer *p)
{
    if (!peer_online(p))
        return;
    json_t *want = routes_wanted_from(n, p);
    if ((p->wanted && json_equal(want, p->wanted)) || (!p->wanted && json_array_size(want) == 0)) {
        json_decref(want);
        return;
    }
    json_decref(p->wanted);
    p->wanted = json_incref(want);
    peer_send_json(p, json_pack("{s:s, s:o}", "type", "flows.want", "asks", want));
}

static void on_message(struct conn *c, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));

    if (!type) {
        c->errors++;
        return;
    }
    if (strcmp(type, "hello") == 0) {
        on_hello(c, msg);
        return;
    }
    if (!c->hello_seen || !c->peer) {
        c->errors++;
        return;
    }
    struct node *n = c->node;
    if (strcmp(type, "ping") == 0) {
        json_t *t = json_object_get(msg, "t");
        conn_send(c, json_pack("{s:s, s:O}", "type", "pong", "t", t ? t : json_null()));
    } else if (strcmp(type, "peers") == 0) {
        learn_peers(n, json_object_get(msg, "peers"));
    } else if (strcmp(type, "request") == 0) {
        on_request(c, msg);
    } else if (strcmp(type, "reply") == 0) {
        on_reply(c, msg);
    } else if (strcmp(type, "flows.want") == 0) {
        json_t *asks = json_object_get(msg, "asks");
        size_t total = 0, i;
        json_t *v;
        json_array_foreach(asks, i, v)
        {
            total += json_array_size(json_object_get(v, "channels"));
        }
        if (!json_is_array(asks) || total > PEER_MAX_CHANNELS) {
            c->errors++;
            return;
        }
        flows_want_by(n, c->peer, asks);
    } else if (strcmp(type, "flows.set") == 0) {
        flows_set_from(n, c->peer, json_object_get(msg, "flows"));
    } else if (strcmp(type, "groups") == 0) {
        take_groups(c->peer, json_object_get(msg, "groups"));
    } else if (strcmp(type, "flows.drop") == 0) {
        json_t *ssrcs = json_object_get(msg, "ssrcs");
        if (json_is_array(ssrcs))
            flows_dropped_by(n, c->peer, ssrcs);
        else
            c->errors++;
    }
    /* pong, and types of later versions: nothing to do. */
}

/* The node ids a [trust] section lets in; every member when there is none. */
static bool trusted(const struct node *n, const char *id)
{
    if (!n->cfg->has_trust || strcmp(id, n->id) == 0)
        return true;
    for (size_t i = 0; i < n->cfg->n_trust; i++)
        if (strcmp(n->cfg->trust[i].id, id) == 0)
            return true;
    return false;
}

static void chan_send(void *arg, const uint8_t *bytes, size_t len)
{
    conn_write(arg, bytes, len);
}

static void chan_open(void *arg, const char *peer_id, const uint8_t pk[AOIP_ID_PUBLIC_BYTES])
{
    struct conn *c = arg;
    struct node *n = c->node;
    (void)pk;

    if (!trusted(n, peer_id)) {
        log_warn("peer %s: node %s is a member but not in [trust]; refused", c->remote_text,
                 peer_id);
        n->peer_auth_failures++;
        conn_close(c);
        return;
    }
    send_hello(c);
}

static int chan_message(void *arg, const uint8_t *msg, size_t len)
{
    struct conn *c = arg;
    char why[160];

    if (c->closing)
        return 1;
    json_t *j = len ? aoip_control_parse((const char *)msg, len, why, sizeof(why)) : NULL;
    if (j)
        on_message(c, j);
    else
        c->errors++;
    json_decref(j);
    if (c->closing)
        return 1;
    if (c->errors >= NODE_PEER_MAX_ERRORS) {
        log_warn("peer %s: %u protocol errors; disconnecting", c->remote_text, c->errors);
        conn_close(c);
        return 1;
    }
    return 0;
}

static const struct aoip_chan_ops chan_ops = {
    .message = chan_message,
    .send = chan_send,
    .open = chan_open,
};

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;

    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->last_rx_ms = node_now_ms(c->node);
    int rc = aoip_chan_feed(&c->chan, (const uint8_t *)buf->base, (size_t)nread, &chan_ops, c);
    if (rc < 0 && !c->closing) {
        /* Not a member, or an attack on the channel: logged with where it came from. */
        log_warn("peer %s: %s; disconnecting", c->remote_text, aoip_strerror(rc));
        c->node->peer_auth_failures++;
        conn_close(c);
    }
}

/* ---- connections ----------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    aoip_chan_clear(&c->chan);
    free(c);
}

static void peer_lost(struct node *n, struct peer *p)
{
    log_info("peer %s (%s) lost", p->name, p->id);
    flows_peer_lost(n, p);
    json_decref(p->wanted);
    p->wanted = NULL;
    for (struct pending *pd = n->pending; pd;) {
        struct pending *next = pd->next;
        if (strcmp(pd->peer_id, p->id) == 0)
            fail_pending(n, pd, "the node went away before it answered");
        pd = next;
    }
    gossip(n);
}

static void conn_close(struct conn *c)
{
    struct node *n = c->node;

    if (c->closing)
        return;
    c->closing = true;
    struct conn **pp = &n->conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    n->n_conns--;
    if (c->target) {
        c->target->conn = NULL;
        c->target->next_try_ms = node_now_ms(n) + c->target->backoff_ms;
    }
    struct peer *p = c->peer;
    if (p && p->conn == c) {
        bool was = p->sample_rate == n->cfg->sample_rate && c->hello_seen;
        p->conn = NULL;
        /* Another connection to the same node (both dialled at once) carries on. */
        for (struct conn *o = n->conns; o; o = o->next)
            if (o->peer == p && o->hello_seen && !o->closing)
                p->conn = o;
        /* Without one, the node may be gone, or its side just closed the twin of
         * a connection it kept: what depends on it waits a moment before it goes. */
        if (!p->conn && was && !p->loss_at_ms)
            p->loss_at_ms = node_now_ms(n) + PEER_LOSS_GRACE_MS;
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static struct conn *conn_new(struct node *n)
{
    if (n->n_conns >= NODE_MAX_CONNS)
        return NULL;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->node = n;
    c->last_rx_ms = c->last_ping_ms = c->started_ms = node_now_ms(n);
    uv_tcp_init(n->loop, &c->tcp);
    c->tcp.data = c;
    c->next = n->conns;
    n->conns = c;
    n->n_conns++;
    return c;
}

static void conn_started(struct conn *c)
{
    int len = sizeof(c->remote);
    struct sockaddr_storage ss;

    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET)
        memcpy(&c->remote, &ss, sizeof(c->remote));
    snprintf(c->remote_text, sizeof(c->remote_text), "%s:%u", inet_ntoa(c->remote.sin_addr),
             ntohs(c->remote.sin_port));
    uv_tcp_nodelay(&c->tcp, 1);
    uint8_t hello[AOIP_CHAN_HELLO_LEN];
    if (aoip_chan_init(&c->chan, c->outgoing, c->node->secret, &c->node->identity, hello) < 0) {
        conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, node_read_alloc, on_read);
    conn_write(c, hello, sizeof(hello));
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    free(req);
    if (c->closing)
        return;
    if (status < 0) {
        if (c->target) {
            log_debug("peer %s:%u: %s", c->target->host, c->target->port, uv_strerror(status));
            c->target->backoff_ms =
                c->target->backoff_ms ? c->target->backoff_ms * 2 : PEER_RETRY_FIRST_MS;
            if (c->target->backoff_ms > PEER_RETRY_MAX_MS)
                c->target->backoff_ms = PEER_RETRY_MAX_MS;
        }
        conn_close(c);
        return;
    }
    if (c->target)
        c->target->backoff_ms = PEER_RETRY_FIRST_MS;
    conn_started(c);
}

static void dial(struct target *t, const struct sockaddr_in *addr)
{
    struct node *n = t->node;
    struct conn *c = conn_new(n);
    uv_connect_t *req = malloc(sizeof(*req));

    if (!c || !req) {
        free(req);
        if (c)
            conn_close(c);
        return;
    }
    c->outgoing = true;
    c->target = t;
    t->conn = c;
    req->data = c;
    if (uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)addr, on_connect) < 0) {
        free(req);
        conn_close(c);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct target *t = req->data;
    t->resolving = false;
    if (!t->node) {
        /* The node stopped while the name was being looked up. */
        uv_freeaddrinfo(res);
        free(t);
        return;
    }
    if (status == 0 && res && res->ai_family == AF_INET) {
        struct sockaddr_in a;
        memcpy(&a, res->ai_addr, sizeof(a));
        a.sin_port = htons(t->port);
        dial(t, &a);
    } else {
        log_debug("peer %s: cannot resolve: %s", t->host, uv_strerror(status));
        t->next_try_ms = node_now_ms(t->node) + PEER_RETRY_MAX_MS;
    }
    uv_freeaddrinfo(res);
}

static void target_try(struct node *n, struct target *t)
{
    struct sockaddr_in a;

    if (t->self || t->conn || t->resolving || node_now_ms(n) < t->next_try_ms)
        return;
    /* Connected to that node some other way: no need to dial. */
    struct peer *p = t->id[0] ? node_peer_by_id(n, t->id) : NULL;
    if (p && p->conn)
        return;
    t->next_try_ms = node_now_ms(n) + PEER_RETRY_FIRST_MS;
    if (uv_ip4_addr(t->host, t->port, &a) == 0) {
        dial(t, &a);
        return;
    }
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    t->resolve.data = t;
    if (uv_getaddrinfo(n->loop, &t->resolve, on_resolved, t->host, NULL, &hints) == 0)
        t->resolving = true;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct node *n = server->data;
    if (status < 0)
        return;
    struct conn *c = conn_new(n);
    if (!c) {
        /* Over the limit: accept and drop, so the backlog does not fill. */
        uv_tcp_t *drop = malloc(sizeof(*drop));
        if (drop && uv_tcp_init(n->loop, drop) == 0 && uv_accept(server, (uv_stream_t *)drop) == 0)
            uv_close((uv_handle_t *)drop, (uv_close_cb)free);
        else
            free(drop);
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    conn_started(c);
}

int peers_init(struct node *n, char *err, size_t errlen)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss), rc;

    uv_tcp_init(n->loop, &n->listener);
    n->listener.data = n;
    uv_ip4_addr("0.0.0.0", n->cfg->port, &a);
    rc = uv_tcp_bind(&n->listener, (const struct sockaddr *)&a, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&n->listener, 64, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "port %u: %s", n->cfg->port, uv_strerror(rc));
        return -1;
    }
    if (uv_tcp_getsockname(&n->listener, (struct sockaddr *)&ss, &len) == 0)
        n->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    for (size_t i = 0; i < n->cfg->n_peers; i++) {
        const struct cfg_peer *cp = &n->cfg->peers[i];
        if (!cp->host[0])
            continue;
        if (!target_add(n, cp->host, cp->port, true)) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    peers_tick(n);
    return 0;
}

void peers_discovered(struct node *n, const char *id, const char *host, uint16_t port)
{
    if (!valid_id(id) || strcmp(id, n->id) == 0 || port == 0)
        return;
    struct target *t = target_add(n, host, port, false);
    if (!t)
        return;
    snprintf(t->id, sizeof(t->id), "%s", id);
    /* Found just now: no reason to wait for a retry delay. */
    t->next_try_ms = 0;
    t->backoff_ms = 0;
    target_try(n, t);
}

void peers_vanished(struct node *n, const char *id)
{
    struct peer *p = node_peer_by_id(n, id);
    struct conn *c = p ? p->conn : NULL;
    int64_t now = node_now_ms(n);

    if (!c) {
        /* Never connected, or gone already: stop dialling the addresses it was at. */
        for (struct target *t = n->targets, *next; t; t = next) {
            next = t->next;
            if (strcmp(t->id, id) == 0)
                target_forget(n, t);
        }
        return;
    }
    /* Its service went away: if it does not answer a ping soon, it went with it. */
    if (c->last_rx_ms > now - NODE_PEER_TIMEOUT_MS + PEER_VANISHED_GRACE_MS)
        c->last_rx_ms = now - NODE_PEER_TIMEOUT_MS + PEER_VANISHED_GRACE_MS;
    c->last_ping_ms = now;
    conn_send(c, json_pack("{s:s, s:I}", "type", "ping", "t", (json_int_t)now));
}

void peers_tick(struct node *n)
{
    int64_t now = node_now_ms(n);

    for (struct conn *c = n->conns, *next; c; c = next) {
        next = c->next;
        if (c->chan.state != AOIP_CHAN_OPEN && now - c->started_ms > PEER_HANDSHAKE_MS) {
            log_warn("peer %s: no handshake in %d s; disconnecting", c->remote_text,
                     PEER_HANDSHAKE_MS / 1000);
            n->peer_auth_failures++;
            conn_close(c);
            continue;
        }
        if (now - c->last_rx_ms > NODE_PEER_TIMEOUT_MS) {
            log_info("peer %s: silent for %d s; disconnecting",
                     c->peer ? c->peer->name : c->remote_text, NODE_PEER_TIMEOUT_MS / 1000);
            conn_close(c);
            continue;
        }
        if (c->hello_seen && now - c->last_ping_ms >= NODE_PING_MS) {
            c->last_ping_ms = now;
            conn_send(c, json_pack("{s:s, s:I}", "type", "ping", "t", (json_int_t)now));
        }
    }
    for (struct pending *pd = n->pending, *next; pd; pd = next) {
        next = pd->next;
        if (now >= pd->deadline_ms)
            fail_pending(n, pd, "the node did not answer in time");
    }
    for (unsigned i = 0; i < n->n_peers; i++) {
        struct peer *p = n->peers[i];
        if (p->loss_at_ms && now >= p->loss_at_ms) {
            p->loss_at_ms = 0;
            peer_lost(n, p);
        }
    }
    for (struct target *t = n->targets; t; t = t->next)
        target_try(n, t);
}

void peers_close(struct node *n)
{
    while (n->pending)
        fail_pending(n, n->pending, "the node is stopping");
    while (n->conns) {
        struct conn *c = n->conns;
        c->peer = NULL; /* no loss handling on the way out */
        conn_close(c);
    }
    if (n->listener.loop)
        uv_close((uv_handle_t *)&n->listener, NULL);
    for (struct target *t = n->targets, *next; t; t = next) {
        next = t->next;
        if (t->resolving) {
            /* Freed by its callback, which the loop still runs. */
            t->node = NULL;
            uv_cancel((uv_req_t *)&t->resolve);
            continue;
        }
        free(t);
    }
    n->targets = NULL;
    for (unsigned i = 0; i < n->n_peers; i++) {
        struct peer *p = n->peers[i];
        free(p->sources);
        free(p->destinations);
        free(p->buses);
        json_decref(p->wanted);
        flows_asks_free(p);
        json_decref(p->sent_set);
        json_decref(p->groups);
        free(p);
    }
    n->n_peers = 0;
}
