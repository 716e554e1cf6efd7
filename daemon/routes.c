/*
 * routes.c: the routes into this node's destinations, and every command of
 * the control protocol (proto/control.md).
 *
 * A route lives on the node that owns its destination. A request about a
 * destination elsewhere is forwarded to that node over the peer protocol
 * and its answer passed back unchanged, so aoipctl on any node can route
 * anything. Questions about the whole network (every node's routes; does
 * this route close a loop through buses?) are gathered from every online
 * peer first.
 *
 * The route table is stored in state_dir/routes.json after every change,
 * written atomically, and read back at start: a node that reboots comes
 * back with its routes, and they resume as their source nodes reappear.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "alsa.h"
#include "jack.h"
#include "node.h"

/* Gains a route may have: below -120 dB is silence; above +24 dB is a mistake. */
#define ROUTE_GAIN_MIN_DB -120.0
#define ROUTE_GAIN_MAX_DB 24.0

/* A route's latency in JSON: microseconds, or null when it asks for none. */
static json_t *latency_json(uint32_t us)
{
    return us ? json_integer(us) : json_null();
}

/* latency_us as a request or routes.json has it: 0 for null, -1 when it is not one. */
static long latency_of(const json_t *v)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > NODE_ROUTE_LATENCY_MAX_US)
        return -1;
    return (long)json_integer_value(v);
}

/* A route's format in JSON: null when it takes its source node's default. */
static json_t *format_json(const struct route *rt)
{
    return rt->has_format ? flow_format_json(&rt->fmt) : json_null();
}

static void reply(struct request *r, json_t *response)
{
    r->done(r, response);
}

static void fail(struct request *r, enum aoip_control_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct request *r, enum aoip_control_code code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    reply(r, aoip_control_fail(r->id, code, "%s", text));
}

static json_t *channel_list(char (*names)[AOIP_NAME_MAX], unsigned count, const char *node,
                            json_t *into)
{
    for (unsigned i = 0; i < count; i++)
        json_array_append_new(into, json_pack("{s:s, s:s, s:i}", "node", node, "name", names[i],
                                              "index", (int)i + 1));
    return into;
}

static json_t *local_channels(const struct channel *list, unsigned count, const char *node,
                              json_t *into)
{
    for (unsigned i = 0; i < count; i++)
        json_array_append_new(into, json_pack("{s:s, s:s, s:i}", "node", node, "name", list[i].name,
                                              "index", (int)i + 1));
    return into;
}

json_t *route_json(const struct node *n, const struct route *rt)
{
    char src[2 * AOIP_NAME_MAX + 2], dst[2 * AOIP_NAME_MAX + 2];
    snprintf(src, sizeof(src), "%s/%s", rt->src_node, rt->src_channel);
    snprintf(dst, sizeof(dst), "%s/%s", n->cfg->name, n->destinations[rt->dst].name);
    return json_pack("{s:s, s:s, s:f, s:b, s:o, s:o}", "source", src, "destination", dst, "gain_db",
                     rt->gain_db, "muted", rt->muted, "latency_us", latency_json(rt->latency_us),
                     "format", format_json(rt));
}

static json_t *local_routes(const struct node *n)
{
    json_t *list = json_array();
    for (unsigned i = 0; i < n->n_routes; i++)
        json_array_append_new(list, route_json(n, &n->routes[i]));
    return list;
}

static void save(struct node *n)
{
    json_t *list = json_array();
    for (unsigned i = 0; i < n->n_routes; i++) {
        const struct route *rt = &n->routes[i];
        char src[2 * AOIP_NAME_MAX + 2];
        snprintf(src, sizeof(src), "%s/%s", rt->src_node, rt->src_channel);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:f, s:b, s:o, s:o}", "source", src, "source_id",
                            rt->src_id, "destination", n->destinations[rt->dst].name, "gain_db",
                            rt->gain_db, "muted", rt->muted, "latency_us",
                            latency_json(rt->latency_us), "format", format_json(rt)));
    }
    json_t *doc = json_pack("{s:i, s:o}", "version", 1, "routes", list);
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!text) {
        log_error("routes: out of memory writing routes.json");
        return;
    }
    int rc = state_write(n, "routes.json", text, strlen(text));
    if (rc < 0)
        log_error("routes: cannot write %s/routes.json: %s", n->cfg->state_dir, strerror(-rc));
    free(text);
}

/* This node, by its name or its id. */
static bool is_self(const struct node *n, const char *name)
{
    return strcmp(name, n->cfg->name) == 0 || strcmp(name, n->id) == 0;
}

/* Give a route its source slot and its crosspoint, when its source node is known. */
static void route_connect(struct node *n, struct route *rt)
{
    if (rt->slot >= 0)
        return;
    if (is_self(n, rt->src_node)) {
        const struct channel *c = node_find_source(n, rt->src_channel, 0);
        if (!c)
            return;
        rt->slot = (int)c->index;
    } else {
        if (!rt->src_id[0])
            return;
        rt->slot = node_slot_get(n, rt->src_id, rt->src_channel);
        if (rt->slot < 0) {
            log_error("route %s/%s -> %s: every rx slot is in use", rt->src_node, rt->src_channel,
                      n->destinations[rt->dst].name);
            return;
        }
    }
    struct mix_cmd c = { .op = MIX_SET,
                         .src = (uint32_t)rt->slot,
                         .dst = rt->dst,
                         .gain = aoip_db_to_gain((float)rt->gain_db),
                         .mute = rt->muted };
    node_mix(n, &c);
}

static void route_disconnect(struct node *n, struct route *rt)
{
    if (rt->slot < 0)
        return;
    struct mix_cmd c = { .op = MIX_REMOVE, .src = (uint32_t)rt->slot, .dst = rt->dst };
    node_mix(n, &c);
    if (!is_self(n, rt->src_node))
        node_slot_put(n, rt->slot);
    rt->slot = -1;
}

static struct peer *source_peer(struct node *n, const struct route *rt)
{
    if (is_self(n, rt->src_node))
        return NULL;
    return rt->src_id[0] ? node_peer_by_id(n, rt->src_id) : node_peer_by_name(n, rt->src_node);
}

/* The format route rt's source is asked in. */
static void route_format(const struct node *n, const struct route *rt, struct flow_format *out)
{
    if (rt->has_format)
        *out = rt->fmt;
    else
        flows_default_format(n, rt->src_node, out);
}

json_t *routes_wanted_from(struct node *n, const struct peer *p)
{
    json_t *asks = json_array(), *seen = json_array();
    for (unsigned i = 0; i < n->n_routes; i++) {
        const struct route *rt = &n->routes[i];
        if (strcmp(rt->src_id, p->id) != 0 || flows_list_has(seen, rt->src_channel))
            continue;
        json_array_append_new(seen, json_string(rt->src_channel));
        struct flow_format fmt;
        route_format(n, rt, &fmt);
        json_t *f = flow_format_json(&fmt), *ask = NULL;
        size_t k;
        json_t *v;
        json_array_foreach(asks, k, v)
        {
            if (json_equal(json_object_get(v, "format"), f))
                ask = v;
        }
        if (!ask) {
            ask = json_pack("{s:O, s:[]}", "format", f, "channels");
            json_array_append_new(asks, ask);
        }
        json_array_append_new(json_object_get(ask, "channels"), json_string(rt->src_channel));
        json_decref(f);
    }
    json_decref(seen);
    return asks;
}

void routes_peer_known(struct node *n, struct peer *p)
{
    for (unsigned i = 0; i < n->n_routes; i++) {
        struct route *rt = &n->routes[i];
        if (strcmp(rt->src_node, p->name) != 0 || strcmp(rt->src_id, p->id) == 0)
            continue;
        /* A source node known by name only (or reinstalled with a new id): adopt this one. */
        route_disconnect(n, rt);
        snprintf(rt->src_id, sizeof(rt->src_id), "%s", p->id);
        route_connect(n, rt);
        save(n);
    }
    flows_update_latency(n);
    peer_update_wants(n, p);
}

int routes_load(struct node *n)
{
    size_t len = 0;
    char *text = state_read(n, "routes.json", &len);
    json_error_t je;

    n->routes = calloc(NODE_MAX_ROUTES, sizeof(*n->routes));
    if (!n->routes) {
        free(text);
        return -ENOMEM;
    }
    if (!text)
        return 0;
    json_t *doc = json_loadb(text, len, 0, &je);
    free(text);
    json_t *list = json_object_get(doc, "routes");
    if (!json_is_array(list)) {
        json_decref(doc);
        return -EINVAL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *src = NULL, *src_id = "", *dst = NULL;
        double gain = 0.0;
        int muted = 0;
        json_t *latency = NULL; /* absent from files older than route latencies */
        json_t *format = NULL;  /* and formats */
        struct aoip_channel_addr a;
        if (json_unpack(v, "{s:s, s?s, s:s, s:F, s:b, s?o, s?o}", "source", &src, "source_id",
                        &src_id, "destination", &dst, "gain_db", &gain, "muted", &muted,
                        "latency_us", &latency, "format", &format) != 0 ||
            aoip_channel_addr_parse(&a, src) < 0 || a.index || n->n_routes == NODE_MAX_ROUTES) {
            log_warn("routes: entry %zu of routes.json is malformed; skipped", i + 1);
            continue;
        }
        const struct channel *d = node_find_destination(n, dst, 0);
        if (!d) {
            log_warn("routes: %s -> %s: no such destination any more; dropped", src, dst);
            continue;
        }
        struct flow_format fmt;
        bool has_format = json_is_object(format) && flow_format_parse(format, &fmt) == 0;
        if (format && !json_is_null(format) && !has_format)
            log_warn("routes: %s -> %s: its format in routes.json is not one; the default taken",
                     src, dst);
        long latency_us = latency ? latency_of(latency) : 0;
        if (latency_us < 0) {
            /* The route matters more than its latency: keep it, at the flow's own. */
            log_warn("routes: %s -> %s: latency_us in routes.json is not 0..%d; left out", src, dst,
                     NODE_ROUTE_LATENCY_MAX_US);
            latency_us = 0;
        }
        struct route *rt = &n->routes[n->n_routes++];
        *rt = (struct route){ .dst = d->index,
                              .gain_db = gain,
                              .muted = muted,
                              .latency_us = (uint32_t)latency_us,
                              .has_format = has_format,
                              .fmt = has_format ? fmt : (struct flow_format){ 0 },
                              .slot = -1 };
        snprintf(rt->src_node, sizeof(rt->src_node), "%s", a.node);
        snprintf(rt->src_channel, sizeof(rt->src_channel), "%s", a.channel);
        snprintf(rt->src_id, sizeof(rt->src_id), "%s", src_id);
        route_connect(n, rt);
    }
    json_decref(doc);
    flows_update_latency(n);
    log_info("routes: %u loaded from %s/routes.json", n->n_routes, n->cfg->state_dir);
    return 0;
}

/* ---- the whole network's routes, gathered ------------------------------ */

struct gather;
typedef void (*gather_done)(struct gather *g);

struct gather {
    struct node *node;
    struct request *req; /* the request this serves */
    json_t *routes;      /* every route gathered so far */
    unsigned outstanding;
    gather_done done;
    /* what a route.add waits to do after its cycle check */
    json_t *args;
};

static void gather_release(struct gather *g)
{
    if (--g->outstanding > 0)
        return;
    g->done(g);
    json_decref(g->routes);
    json_decref(g->args);
    free(g);
}

static void gather_part(struct request *sub, json_t *response)
{
    struct gather *g = sub->ctx;
    json_t *result = json_object_get(response, "result");
    /* A node that does not answer in time adds nothing: its routes are unknown. */
    if (json_is_true(json_object_get(response, "ok")) && json_is_array(result))
        json_array_extend(g->routes, result);
    json_decref(response);
    json_decref(sub->msg);
    free(sub);
    gather_release(g);
}

/* Collect every online node's routes, then call done (which must answer g->req). */
static void gather_routes(struct node *n, struct request *r, json_t *args, gather_done done)
{
    struct gather *g = calloc(1, sizeof(*g));
    if (!g) {
        fail(r, AOIP_CODE_REFUSED, "out of memory");
        json_decref(args);
        return;
    }
    g->node = n;
    g->req = r;
    g->routes = local_routes(n);
    g->done = done;
    g->args = args;
    g->outstanding = 1; /* held until every request is out */
    for (unsigned i = 0; i < n->n_peers; i++) {
        struct peer *p = n->peers[i];
        if (!peer_online(p))
            continue;
        struct request *sub = calloc(1, sizeof(*sub));
        if (!sub)
            break;
        sub->node = n;
        sub->ctx = g;
        sub->done = gather_part;
        sub->msg = json_pack("{s:s, s:s}", "cmd", "route.list", "node", p->name);
        g->outstanding++;
        peer_forward(n, p, json_incref(sub->msg), sub);
    }
    gather_release(g);
}

/* ---- commands ----------------------------------------------------------- */

static void cmd_status(struct request *r)
{
    struct node *n = r->node;
    unsigned peers = 0;
    for (unsigned i = 0; i < n->n_peers; i++)
        peers += peer_online(n->peers[i]);
    json_t *status = json_pack(
        "{s:s, s:s, s:s, s:f, s:i, s:i, s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:i, "
        "s:i, s:i, s:i}",
        "name", n->cfg->name, "id", n->id, "version", AOIP_VERSION_STRING, "uptime_s",
        (double)(engine_mono_ns() - n->start_ns) / 1e9, "sample_rate", (int)n->cfg->sample_rate,
        "period_us", (int)lround(n->period_frames * 1e6 / n->cfg->sample_rate), "latency_us",
        (int)n->cfg->latency_us, "encoding", cfg_encoding_name(n->cfg->encoding), "packet_us",
        (int)n->cfg->packet_us, "sources", (int)n->n_sources, "destinations",
        (int)n->n_destinations, "routes", (int)n->n_routes, "flows", (int)(n->n_rx + n->n_tx),
        "peers", (int)peers, "port", (int)n->port, "rtp_port", (int)n->rtp_port, "rtcp_port",
        (int)n->rtcp_port);
    /* The period is the clock device's when a device is the clock. */
    json_object_set_new(status, "period_frames", json_integer(n->period_frames));
    json_object_set_new(status, "media_clock", json_string(n->cfg->clock));
    reply(r, aoip_control_ok(r->id, status));
}

static void cmd_nodes(struct request *r)
{
    struct node *n = r->node;
    char addr[96];
    json_t *list = json_array();

    snprintf(addr, sizeof(addr), "0.0.0.0:%u", n->port);
    json_array_append_new(list,
                          json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "name", n->cfg->name, "id",
                                    n->id, "address", addr, "state", "online", "sources",
                                    (int)n->n_sources, "destinations", (int)n->n_destinations));
    for (unsigned i = 0; i < n->n_peers; i++) {
        struct peer *p = n->peers[i];
        snprintf(addr, sizeof(addr), "%s:%u", p->host, p->port);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "name", p->name, "id", p->id,
                            "address", addr, "state", peer_online(p) ? "online" : "lost", "sources",
                            (int)p->n_sources, "destinations", (int)p->n_destinations));
    }
    reply(r, aoip_control_ok(r->id, list));
}

static void cmd_channels(struct request *r)
{
    struct node *n = r->node;
    const char *only = json_string_value(json_object_get(r->msg, "node"));
    json_t *src = json_array(), *dst = json_array();
    bool found = !only;

    if (!only || is_self(n, only)) {
        local_channels(n->sources, n->n_sources, n->cfg->name, src);
        local_channels(n->destinations, n->n_destinations, n->cfg->name, dst);
        found = true;
    }
    for (unsigned i = 0; i < n->n_peers; i++) {
        struct peer *p = n->peers[i];
        if (only && strcmp(only, p->name) != 0)
            continue;
        channel_list(p->sources, p->n_sources, p->name, src);
        channel_list(p->destinations, p->n_destinations, p->name, dst);
        found = true;
    }
    if (!found) {
        json_decref(src);
        json_decref(dst);
        fail(r, AOIP_CODE_NOT_FOUND, "no node '%s'", only);
        return;
    }
    reply(r, aoip_control_ok(r->id, json_pack("{s:o, s:o}", "sources", src, "destinations", dst)));
}

static void list_done(struct gather *g)
{
    reply(g->req, aoip_control_ok(g->req->id, json_incref(g->routes)));
}

static void cmd_route_list(struct request *r)
{
    struct node *n = r->node;
    const char *only = json_string_value(json_object_get(r->msg, "node"));

    if (!only) {
        if (r->from_peer) {
            reply(r, aoip_control_ok(r->id, local_routes(n)));
            return;
        }
        gather_routes(n, r, NULL, list_done);
        return;
    }
    if (is_self(n, only)) {
        reply(r, aoip_control_ok(r->id, local_routes(n)));
        return;
    }
    struct peer *p = node_peer_by_name(n, only);
    if (!p || r->from_peer) {
        fail(r, AOIP_CODE_NOT_FOUND, "no node '%s'", only);
        return;
    }
    if (!peer_online(p)) {
        fail(r, AOIP_CODE_UNREACHABLE, "node '%s' is not connected", only);
        return;
    }
    peer_forward(n, p, json_incref(r->msg), r);
}

/* The source of a route request, resolved against what this node knows. */
struct source_ref {
    char node[AOIP_NAME_MAX];
    char id[NODE_ID_LEN + 1];
    char channel[AOIP_NAME_MAX];
    bool bus;
};

static int resolve_source(struct node *n, struct request *r, const char *text,
                          struct source_ref *out)
{
    struct aoip_channel_addr a;

    if (aoip_channel_addr_parse(&a, text) < 0) {
        fail(r, AOIP_CODE_BAD_REQUEST, "'%s' is not a channel (NODE/NAME or NODE/N)", text);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (is_self(n, a.node)) {
        snprintf(out->node, sizeof(out->node), "%s", n->cfg->name);
        const struct channel *c = node_find_source(n, a.channel, a.index);
        if (!c) {
            fail(r, AOIP_CODE_NOT_FOUND, "no source '%s'", text);
            return -1;
        }
        snprintf(out->id, sizeof(out->id), "%s", n->id);
        snprintf(out->channel, sizeof(out->channel), "%s", c->name);
        out->bus = c->bus;
        return 0;
    }
    struct peer *p = node_peer_by_name(n, a.node);
    if (!p) {
        fail(r, AOIP_CODE_NOT_FOUND, "no node '%s'", a.node);
        return -1;
    }
    const char *name = NULL;
    if (a.index)
        name = a.index <= p->n_sources ? p->sources[a.index - 1] : NULL;
    for (unsigned i = 0; !a.index && i < p->n_sources; i++)
        if (strcmp(p->sources[i], a.channel) == 0)
            name = p->sources[i];
    if (!name) {
        fail(r, AOIP_CODE_NOT_FOUND, "no source '%s'", text);
        return -1;
    }
    snprintf(out->node, sizeof(out->node), "%s", p->name);
    snprintf(out->id, sizeof(out->id), "%s", p->id);
    snprintf(out->channel, sizeof(out->channel), "%s", name);
    for (unsigned i = 0; i < p->n_buses; i++)
        out->bus = out->bus || strcmp(p->buses[i], name) == 0;
    return 0;
}

static struct route *find_route(struct node *n, const struct source_ref *s, uint32_t dst)
{
    for (unsigned i = 0; i < n->n_routes; i++) {
        struct route *rt = &n->routes[i];
        /* Two nodes may share a name: where both ids are known, they decide. */
        bool same_node =
            strcmp(rt->src_node, s->node) == 0 &&
            (!rt->src_id[0] || !s->id[0] || strcmp(rt->src_id, s->id) == 0 || is_self(n, s->node));
        if (rt->dst == dst && same_node && strcmp(rt->src_channel, s->channel) == 0)
            return rt;
    }
    return NULL;
}

/* Is `to` reachable from `from` along the gathered routes (channels as "NODE/NAME")? */
static bool reaches(json_t *routes, const char *from, const char *to, unsigned depth)
{
    if (strcmp(from, to) == 0)
        return true;
    /* No path in a real network is longer than the number of routes. */
    if (depth > json_array_size(routes))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(routes, i, v)
    {
        const char *s = json_string_value(json_object_get(v, "source"));
        const char *d = json_string_value(json_object_get(v, "destination"));
        if (s && d && strcmp(s, from) == 0 && reaches(routes, d, to, depth + 1))
            return true;
    }
    return false;
}

/*
 * The format a route add asks for, from its "encoding", "bitrate" (b/s a
 * channel) and "frame_us" (0: the default for the flow), over the route's
 * own or its source's default: false when it asks for none. Checked by
 * check_format before.
 */
static bool format_from(const struct node *n, const struct route *rt, json_t *args,
                        struct flow_format *out)
{
    const char *enc = json_string_value(json_object_get(args, "encoding"));
    json_t *rate = json_object_get(args, "bitrate"), *frame = json_object_get(args, "frame_us");
    if (!enc && !rate && !frame)
        return false;
    route_format(n, rt, out);
    if (enc)
        cfg_encoding_parse(enc, &out->encoding);
    if (rate)
        out->opus.bitrate = (uint32_t)json_integer_value(rate);
    if (frame)
        out->opus.frame_us = (uint32_t)json_integer_value(frame);
    return true;
}

/* What check_format refuses, or NULL. */
static const char *format_problem(const struct node *n, json_t *msg)
{
    json_t *enc = json_object_get(msg, "encoding");
    json_t *rate = json_object_get(msg, "bitrate"), *frame = json_object_get(msg, "frame_us");
    enum cfg_encoding e = CFG_ENC_L24;
    if (enc && cfg_encoding_parse(json_string_value(enc), &e) < 0)
        return "encoding must be L24, L16 or opus";
    if (rate &&
        (!json_is_integer(rate) || json_integer_value(rate) < AOIP_OPUS_BITRATE_MIN_STREAM ||
         json_integer_value(rate) > AOIP_OPUS_BITRATE_MAX_CHANNEL))
        return "bitrate must be 6 to 256 kb/s a channel";
    if (frame && (!json_is_integer(frame) || (json_integer_value(frame) != 0 &&
                                              !flows_frame_us_valid(json_integer_value(frame)))))
        return "the Opus frame must be 2.5, 5, 10 or 20 ms";
    if ((rate || frame) && enc && e != CFG_ENC_OPUS)
        return "a bitrate and a frame are for Opus";
    if (frame && json_integer_value(frame) != 0 &&
        !aoip_opus_frame_fits((uint32_t)json_integer_value(frame), n->cfg->sample_rate))
        return "the Opus frame must be a whole number of this network's frames (at 44.1 kHz, "
               "10 or 20 ms)";
    return NULL;
}

/* Add or change the route; the destination is this node's. */
static void route_apply(struct request *r, json_t *args, json_t *network_routes)
{
    struct node *n = r->node;
    struct source_ref src;
    const char *src_text = json_string_value(json_object_get(args, "source"));
    uint32_t dst = (uint32_t)json_integer_value(json_object_get(args, "dst"));
    json_t *gain = json_object_get(args, "gain_db"), *muted = json_object_get(args, "muted");
    json_t *latency = json_object_get(args, "latency_us");

    /* The network may have changed while the routes were gathered. */
    if (resolve_source(n, r, src_text, &src) < 0)
        return;
    if (network_routes) {
        char from[2 * AOIP_NAME_MAX + 2], to[2 * AOIP_NAME_MAX + 2];
        snprintf(from, sizeof(from), "%s/%s", n->cfg->name, n->destinations[dst].name);
        snprintf(to, sizeof(to), "%s/%s", src.node, src.channel);
        if (reaches(network_routes, from, to, 0)) {
            fail(r, AOIP_CODE_REFUSED, "route %s -> %s would close a loop through buses", to, from);
            return;
        }
    }

    struct route *rt = find_route(n, &src, dst);
    if (!rt) {
        if (n->n_routes == NODE_MAX_ROUTES) {
            fail(r, AOIP_CODE_REFUSED, "node %s has %d routes, its limit", n->cfg->name,
                 NODE_MAX_ROUTES);
            return;
        }
        rt = &n->routes[n->n_routes++];
        *rt = (struct route){ .dst = dst, .slot = -1 };
        snprintf(rt->src_node, sizeof(rt->src_node), "%s", src.node);
        snprintf(rt->src_channel, sizeof(rt->src_channel), "%s", src.channel);
        if (!is_self(n, src.node))
            snprintf(rt->src_id, sizeof(rt->src_id), "%s", src.id);
    }
    if (gain)
        rt->gain_db = json_real_value(gain);
    if (muted)
        rt->muted = json_is_true(muted);
    if (latency)
        rt->latency_us = (uint32_t)latency_of(latency);
    struct flow_format fmt;
    if (format_from(n, rt, args, &fmt)) {
        /* A source arrives here once, in one format: every route of it takes this one. */
        for (unsigned i = 0; i < n->n_routes; i++) {
            struct route *o = &n->routes[i];
            if (strcmp(o->src_node, rt->src_node) == 0 &&
                strcmp(o->src_channel, rt->src_channel) == 0) {
                o->has_format = true;
                o->fmt = fmt;
            }
        }
    }
    if (rt->slot >= 0) {
        struct mix_cmd c = { .op = MIX_SET,
                             .src = (uint32_t)rt->slot,
                             .dst = dst,
                             .gain = aoip_db_to_gain((float)rt->gain_db),
                             .mute = rt->muted };
        node_mix(n, &c);
    } else {
        route_connect(n, rt);
    }
    save(n);
    struct peer *p = source_peer(n, rt);
    if (p)
        peer_update_wants(n, p);
    char asks[96] = "";
    if (rt->latency_us)
        snprintf(asks, sizeof(asks), ", latency %g ms", rt->latency_us / 1000.0);
    if (rt->has_format && rt->fmt.encoding == CFG_ENC_OPUS)
        snprintf(asks + strlen(asks), sizeof(asks) - strlen(asks), ", as Opus at %u kb/s",
                 rt->fmt.opus.bitrate / 1000);
    else if (rt->has_format)
        snprintf(asks + strlen(asks), sizeof(asks) - strlen(asks), ", as %s",
                 cfg_encoding_name(rt->fmt.encoding));
    log_info("route %s/%s -> %s/%s at %.1f dB%s%s", rt->src_node, rt->src_channel, n->cfg->name,
             n->destinations[dst].name, rt->gain_db, rt->muted ? ", muted" : "", asks);
    flows_update_latency(n);
    reply(r, aoip_control_ok(r->id, route_json(n, rt)));
}

static void cycle_checked(struct gather *g)
{
    route_apply(g->req, g->args, g->routes);
}

/*
 * Where a request about destination `dst_text` must go: returns the local
 * destination, or NULL after forwarding or failing the request.
 */
static const struct channel *route_target(struct request *r, const char *dst_text)
{
    struct node *n = r->node;
    struct aoip_channel_addr a;

    if (!dst_text || aoip_channel_addr_parse(&a, dst_text) < 0) {
        fail(r, AOIP_CODE_BAD_REQUEST, "'%s' is not a channel (NODE/NAME or NODE/N)",
             dst_text ? dst_text : "");
        return NULL;
    }
    if (!is_self(n, a.node)) {
        struct peer *p = node_peer_by_name(n, a.node);
        if (!p || r->from_peer)
            fail(r, AOIP_CODE_NOT_FOUND, "no node '%s'", a.node);
        else if (!peer_online(p))
            fail(r, AOIP_CODE_UNREACHABLE, "node '%s' is not connected", a.node);
        else
            peer_forward(n, p, json_incref(r->msg), r);
        return NULL;
    }
    const struct channel *d = node_find_destination(n, a.channel, a.index);
    if (!d)
        fail(r, AOIP_CODE_NOT_FOUND, "no destination '%s'", dst_text);
    return d;
}

static void cmd_route_add(struct request *r)
{
    struct node *n = r->node;
    const char *src_text = json_string_value(json_object_get(r->msg, "source"));
    json_t *gain = json_object_get(r->msg, "gain_db"), *muted = json_object_get(r->msg, "muted");
    json_t *latency = json_object_get(r->msg, "latency_us");
    struct source_ref src;

    if (!src_text) {
        fail(r, AOIP_CODE_BAD_REQUEST, "route.add needs a source");
        return;
    }
    if ((gain && !json_is_number(gain)) || (muted && !json_is_boolean(muted))) {
        fail(r, AOIP_CODE_BAD_REQUEST, "gain_db must be a number and muted true or false");
        return;
    }
    double g = gain ? json_number_value(gain) : 0.0;
    if (gain && (!isfinite(g) || g < ROUTE_GAIN_MIN_DB || g > ROUTE_GAIN_MAX_DB)) {
        fail(r, AOIP_CODE_BAD_REQUEST, "gain %.1f dB is outside %.0f..%+.0f dB", g,
             ROUTE_GAIN_MIN_DB, ROUTE_GAIN_MAX_DB);
        return;
    }
    if (latency && latency_of(latency) < 0) {
        fail(r, AOIP_CODE_BAD_REQUEST, "latency_us must be an integer from 0 to %d, or null",
             NODE_ROUTE_LATENCY_MAX_US);
        return;
    }
    const char *bad_format = format_problem(n, r->msg);
    if (bad_format) {
        fail(r, AOIP_CODE_BAD_REQUEST, "%s", bad_format);
        return;
    }
    const struct channel *d =
        route_target(r, json_string_value(json_object_get(r->msg, "destination")));
    if (!d || resolve_source(n, r, src_text, &src) < 0)
        return;

    json_t *args = json_pack("{s:s, s:i}", "source", src_text, "dst", (int)d->index);
    if (gain)
        json_object_set_new(args, "gain_db", json_real(g));
    if (muted)
        json_object_set(args, "muted", muted);
    if (latency)
        json_object_set(args, "latency_us", latency);
    static const char *const format_keys[] = { "encoding", "bitrate", "frame_us" };
    for (size_t k = 0; k < sizeof(format_keys) / sizeof(format_keys[0]); k++)
        if (json_object_get(r->msg, format_keys[k]))
            json_object_set(args, format_keys[k], json_object_get(r->msg, format_keys[k]));
    /* Only a bus feeding a bus can close a loop; then ask the whole network. */
    if (src.bus && d->bus) {
        gather_routes(n, r, args, cycle_checked);
        return;
    }
    route_apply(r, args, NULL);
    json_decref(args);
}

static void cmd_route_del(struct request *r)
{
    struct node *n = r->node;
    const char *src_text = json_string_value(json_object_get(r->msg, "source"));
    struct aoip_channel_addr a;

    if (!src_text || aoip_channel_addr_parse(&a, src_text) < 0) {
        fail(r, AOIP_CODE_BAD_REQUEST, "'%s' is not a channel (NODE/NAME or NODE/N)",
             src_text ? src_text : "");
        return;
    }
    const struct channel *d =
        route_target(r, json_string_value(json_object_get(r->msg, "destination")));
    if (!d)
        return;
    /* By number, the source is looked up as it is now; by name, as the route has it. */
    struct source_ref src = { 0 };
    snprintf(src.node, sizeof(src.node), "%s", a.node);
    snprintf(src.channel, sizeof(src.channel), "%s", a.channel);
    if (a.index) {
        struct source_ref now;
        if (resolve_source(n, r, src_text, &now) < 0)
            return;
        src = now;
    }
    struct route *rt = find_route(n, &src, d->index);
    if (!rt) {
        fail(r, AOIP_CODE_NOT_FOUND, "no route %s -> %s/%s", src_text, n->cfg->name, d->name);
        return;
    }
    json_t *was = route_json(n, rt);
    struct peer *p = source_peer(n, rt);
    route_disconnect(n, rt);
    *rt = n->routes[--n->n_routes];
    save(n);
    if (p)
        peer_update_wants(n, p);
    log_info("route %s -> %s/%s removed", src_text, n->cfg->name, d->name);
    flows_update_latency(n);
    reply(r, aoip_control_ok(r->id, was));
}

/* WAV inputs and outputs: periods lost because the file could not keep up. */
static json_t *io_stats(struct node *n)
{
    json_t *list = json_array();
    unsigned in = 0, out = 0;

    for (size_t i = 0; i < n->cfg->n_ios; i++) {
        const struct cfg_io *io = &n->cfg->ios[i];
        if (io->kind == CFG_INPUT) {
            const struct engine_input *e = &n->io.inputs[in++];
            if (e->kind == INPUT_WAV)
                json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "name", io->name, "kind",
                                                      "input", "underruns",
                                                      (json_int_t)atomic_load(&e->underruns)));
        } else if (io->kind == CFG_OUTPUT) {
            const struct engine_output *e = &n->io.outputs[out++];
            if (e->kind == OUTPUT_WAV)
                json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "name", io->name, "kind",
                                                      "output", "overruns",
                                                      (json_int_t)atomic_load(&e->overruns)));
        }
    }
    return list;
}

static void cmd_stats(struct request *r)
{
    json_t *stats = flows_stats(r->node);
    json_object_set_new(stats, "files", io_stats(r->node));
    struct engine *e = &r->node->engine;
    json_object_set_new(stats, "late_wakeups",
                        json_integer((json_int_t)atomic_load(&e->late_wakeups)));
    json_object_set_new(stats, "max_late_us",
                        json_real((double)atomic_load(&e->max_late_ns) / 1000.0));
    json_object_set_new(stats, "max_cycle_us",
                        json_real((double)atomic_load(&e->max_cycle_ns) / 1000.0));
    if (r->node->jack) {
        struct jack_stats js;
        jack_get_stats(r->node, &js);
        json_object_set_new(stats, "jack",
                            json_pack("{s:s, s:i, s:i, s:I, s:I, s:b, s:b, s:f}", "client",
                                      js.client, "buffer_frames", (int)js.buffer_frames, "rate",
                                      (int)js.rate, "xruns", (json_int_t)js.xruns, "misfit_periods",
                                      (json_int_t)js.misfits, "online", js.online, "converting",
                                      js.converting, "conversion_ms", js.conversion_ms));
    }
    if (r->node->jack || r->node->alsa) {
        json_t *devices = json_array();
        jack_devices(r->node, devices);
        alsa_stats(r->node, devices);
        json_object_set_new(stats, "devices", devices);
    }
    reply(r, aoip_control_ok(r->id, stats));
}

static void cmd_meter(struct request *r)
{
    struct node *n = r->node;
    unsigned total = n->n_sources + n->n_destinations;
    json_t *list = json_array();

    if (!n->meter_since)
        n->meter_since = calloc(total + 1, sizeof(uint64_t));
    for (unsigned i = 0; n->meter_since && i < total; i++) {
        bool src = i < n->n_sources;
        const struct channel *c = src ? &n->sources[i] : &n->destinations[i - n->n_sources];
        char name[2 * AOIP_NAME_MAX + 2];
        double peak, rms;
        engine_meter(&n->engine, i, &n->meter_since[i], &peak, &rms);
        snprintf(name, sizeof(name), "%s/%s", n->cfg->name, c->name);
        json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:o}", "channel", name, "kind",
                                              src ? "source" : "destination", "peak_dbfs",
                                              aoip_json_db(peak), "rms_dbfs", aoip_json_db(rms)));
    }
    reply(r, aoip_control_ok(r->id, list));
}

struct command {
    const char *name;
    void (*run)(struct request *r);
    bool peers_may; /* may arrive forwarded from a peer */
};

static const struct command commands[] = {
    { "status", cmd_status, false },      { "nodes", cmd_nodes, false },
    { "channels", cmd_channels, false },  { "route.add", cmd_route_add, true },
    { "route.del", cmd_route_del, true }, { "route.list", cmd_route_list, true },
    { "stats", cmd_stats, false },        { "meter", cmd_meter, false },
};

void node_handle(struct request *r)
{
    json_t *id = json_object_get(r->msg, "id");
    const char *cmd = json_string_value(json_object_get(r->msg, "cmd"));

    r->id = json_is_integer(id) ? json_integer_value(id) : 0;
    if (id && !json_is_integer(id)) {
        fail(r, AOIP_CODE_BAD_REQUEST, "id must be an integer");
        return;
    }
    if (!cmd) {
        fail(r, AOIP_CODE_BAD_REQUEST, "a request needs \"cmd\", a string");
        return;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, cmd) != 0)
            continue;
        if (r->from_peer && !commands[i].peers_may)
            break;
        commands[i].run(r);
        return;
    }
    fail(r, AOIP_CODE_UNKNOWN_COMMAND, "no command '%.64s'", cmd);
}
