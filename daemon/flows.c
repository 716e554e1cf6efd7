/*
 * flows.c: the node's RTP flows, in and out, and the plans that carry them.
 *
 * A destination node asks a source node for the channels its routes need
 * (flows.want); the source node packs them into flows that fit the MTU and
 * says which SSRC carries what (flows.set). Changing the wanted set never
 * disturbs a flow that still carries something wanted: new channels get new
 * flows, and a flow goes only when nothing on it is wanted any more. So a
 * new route never makes another route click.
 *
 * Flow objects are shared with the media thread through plans. The control
 * thread counts, per flow, the plans holding it; a flow that has left the
 * node's lists is freed when the last plan holding it comes back retired.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "flows.h"
#include "log.h"
#include "node.h"

static struct flow_meta *rx_meta(const struct rx_flow *f)
{
    return f->owner;
}

static struct flow_meta *tx_meta(const struct tx_flow *f)
{
    return f->owner;
}

uint32_t flows_random(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != sizeof(v))
        v = (uint32_t)engine_mono_ns() * 2654435761u;
    return v;
}

bool flows_packet_us_valid(json_int_t us)
{
    return us == 125 || us == 250 || us == 333 || us == 1000 || us == 4000;
}

bool flows_frame_us_valid(json_int_t us)
{
    return us == 2500 || us == 5000 || us == 10000 || us == 20000;
}

bool flow_format_equal(const struct flow_format *a, const struct flow_format *b)
{
    if (a->encoding != b->encoding)
        return false;
    if (a->encoding != CFG_ENC_OPUS)
        return a->packet_us == b->packet_us;
    return a->opus.bitrate == b->opus.bitrate && a->opus.frame_us == b->opus.frame_us &&
           a->opus.fec == b->opus.fec && a->opus.expected_loss == b->opus.expected_loss;
}

json_t *flow_format_json(const struct flow_format *f)
{
    if (f->encoding != CFG_ENC_OPUS)
        return json_pack("{s:s, s:i}", "encoding", cfg_encoding_name(f->encoding), "packet_us",
                         (int)f->packet_us);
    return json_pack("{s:s, s:i, s:i, s:b, s:i}", "encoding", "opus", "bitrate",
                     (int)f->opus.bitrate, "frame_us", (int)f->opus.frame_us, "fec", f->opus.fec,
                     "expected_loss", (int)f->opus.expected_loss);
}

int flow_format_parse(const json_t *o, struct flow_format *out)
{
    struct flow_format f = { 0 };
    const char *enc = json_string_value(json_object_get(o, "encoding"));
    if (cfg_encoding_parse(enc, &f.encoding) < 0)
        return -1;
    if (f.encoding != CFG_ENC_OPUS) {
        json_t *us = json_object_get(o, "packet_us");
        if (!json_is_integer(us) || !flows_packet_us_valid(json_integer_value(us)))
            return -1;
        f.packet_us = (uint32_t)json_integer_value(us);
        *out = f;
        return 0;
    }
    json_t *rate = json_object_get(o, "bitrate"), *frame = json_object_get(o, "frame_us");
    json_t *fec = json_object_get(o, "fec"), *loss = json_object_get(o, "expected_loss");
    if (!json_is_integer(rate) || json_integer_value(rate) < AOIP_OPUS_BITRATE_MIN_STREAM ||
        json_integer_value(rate) > AOIP_OPUS_BITRATE_MAX_CHANNEL || !json_is_integer(frame) ||
        (json_integer_value(frame) != 0 && !flows_frame_us_valid(json_integer_value(frame))) ||
        !json_is_boolean(fec) || !json_is_integer(loss) || json_integer_value(loss) < 0 ||
        json_integer_value(loss) > 100)
        return -1;
    f.opus = (struct cfg_opus){ .bitrate = (uint32_t)json_integer_value(rate),
                                .frame_us = (uint32_t)json_integer_value(frame),
                                .fec = json_is_true(fec),
                                .expected_loss = (unsigned)json_integer_value(loss) };
    *out = f;
    return 0;
}

void flows_default_format(const struct node *n, const char *peer_name, struct flow_format *out)
{
    const struct cfg_peer *cp = cfg_peer_named(n->cfg, peer_name);
    *out = cp ? (struct flow_format){ cp->encoding, cp->packet_us, cp->opus }
              : (struct flow_format){ n->cfg->encoding, n->cfg->packet_us, n->cfg->opus };
}

void flows_opus_config(const struct flow_format *f, unsigned channels, bool rfc7587, uint32_t rate,
                       struct aoip_opus_config *out)
{
    aoip_opus_config_default(out, channels);
    if (!rfc7587 || channels > 2)
        aoip_opus_mapping_mono(&out->mapping, channels);
    out->bitrate = f->opus.bitrate * channels;
    out->frame_us = f->opus.frame_us;
    if (!out->frame_us) {
        /* The default, made longer where it is no whole number of the
         * node's frames (44.1 kHz: 10 ms at least). */
        out->frame_us = aoip_opus_default_frame_us(out->bitrate);
        while (out->frame_us < 20000 && !aoip_opus_frame_fits(out->frame_us, rate))
            out->frame_us *= 2;
    }
    out->fec = f->opus.fec;
    out->expected_loss = f->opus.expected_loss;
}

/* Opus payload bytes a packet may take: each stream but the last adds up to
 * two bytes of length (opus.h), and what is left of the budget is audio. */
static bool opus_fits(const struct node *n, const struct flow_format *f, unsigned channels)
{
    struct aoip_opus_config oc;
    flows_opus_config(f, channels, false, n->cfg->sample_rate, &oc);
    uint64_t audio = (uint64_t)oc.bitrate * oc.frame_us / 8000000u;
    return audio + 2u * (channels - 1) <= ENGINE_PAYLOAD_MAX;
}

/*
 * A flow's encoder runs in the period that completes its frame, and codes
 * the whole frame there. In the general audio mode (10 and 20 ms frames,
 * SILK or hybrid) that costs about 10 us of CPU per channel per ms of
 * audio (bench_nodes, 64 channels at 20 ms: 10.3 ms a channel-second), so
 * a flow of 8 channels at 20 ms took 1.6 ms, more than a 1 ms period, once
 * in 20 periods: the media thread fell behind every frame. Such flows
 * carry at most FLOWS_OPUS_CH_MS / frame_ms channels (2 at 20 ms, 4 at
 * 10 ms), about 0.4 ms of encoding, and flows_opus_stagger puts their
 * frames' ends in different periods. The restricted low-delay mode (2.5
 * and 5 ms) costs a third as much a channel and spreads over frames of
 * a few periods: it keeps the packet's limit.
 */
#define FLOWS_OPUS_CH_MS 40

unsigned flows_per_packet(const struct node *n, const struct flow_format *f)
{
    unsigned most = ENGINE_FLOW_CHANNELS;
    if (f->encoding == CFG_ENC_OPUS) {
        while (most > 1 && !opus_fits(n, f, most))
            most--;
        struct aoip_opus_config oc;
        flows_opus_config(f, most, false, n->cfg->sample_rate, &oc);
        unsigned cheap = FLOWS_OPUS_CH_MS * 1000u / oc.frame_us;
        if (!aoip_opus_low_delay(oc.frame_us) && most > cheap)
            most = cheap > 0 ? cheap : 1;
        return most;
    }
    uint32_t frames = cfg_frames_of_us(n->cfg, f->packet_us);
    unsigned fit =
        (unsigned)(ENGINE_PAYLOAD_MAX / aoip_pcm_bytes(cfg_pcm_of(f->encoding), 1, frames));
    return fit < most ? fit : most;
}

uint32_t flows_opus_stagger(struct node *n, uint32_t frame)
{
    uint32_t period = n->period_frames * AOIP_OPUS_RATE / n->cfg->sample_rate;
    if (frame <= period)
        return 0;
    return (n->opus_flows++ * period) % frame;
}

static void rx_parts_free(struct rx_flow *f)
{
    aoip_jitter_free(f->jb);
    aoip_conceal_free(f->cc);
    aoip_resampler_free(f->rs);
    aoip_latency_free(f->lat);
    opus_rx_free(f->opus);
    free(f->in);
    free(f->in_missing);
}

/* The latency settings for flows from a peer: its [peer.NAME] section's, else the node's. */
static void latency_for(const struct node *n, const char *peer_name, enum cfg_latency *mode,
                        uint32_t *us)
{
    const struct cfg_peer *cp = cfg_peer_named(n->cfg, peer_name);
    *mode = cp && cp->has_latency ? cp->latency : n->cfg->latency;
    *us = cp && cp->has_latency_us ? cp->latency_us : n->cfg->latency_us;
}

/* The most latency = auto or a route may choose: a WAN's worth, and never below latency_us. */
#define FLOWS_AUTO_CEILING_US 100000

struct rx_flow *rx_flow_new(struct node *n, unsigned channels, const char *peer_name,
                            uint32_t packet_us, uint32_t wait_us)
{
    enum cfg_latency mode;
    uint32_t latency_us;
    latency_for(n, peer_name, &mode, &latency_us);
    latency_us += wait_us;
    uint32_t latency_frames = cfg_frames_of_us(n->cfg, latency_us);
    uint32_t ceiling = cfg_frames_of_us(
        n->cfg, latency_us > FLOWS_AUTO_CEILING_US ? latency_us : FLOWS_AUTO_CEILING_US);
    struct rx_flow *f = calloc(1, sizeof(*f));
    struct flow_meta *m = calloc(1, sizeof(*m));
    struct aoip_jitter_config jc = { .channels = channels,
                                     .latency_frames = latency_frames,
                                     .max_packet_frames = n->engine.cfg.max_packet_frames,
                                     .settle_frames = n->cfg->sample_rate / 2 };
    /* A target moves (latency = auto, or a route that asks for its own): the
     * ring must hold the highest it may reach. */
    jc.capacity_frames = 2 * ceiling + 2 * jc.max_packet_frames;

    if (!f || !m || channels == 0 || channels > ENGINE_FLOW_CHANNELS)
        goto fail;
    uint32_t period = n->engine.cfg.period_frames;
    /* A pull at the steepest ratio the resampler takes, and its fraction. */
    f->in_max = period + period / 256 + 4;
    struct aoip_conceal_config cc = { .channels = channels,
                                      .sample_rate = n->cfg->sample_rate,
                                      .max_frames = f->in_max };
    struct aoip_resampler_config rc = { .channels = channels, .max_out_frames = period };
    struct aoip_clock_config kc = { .sample_rate = n->cfg->sample_rate, .period_frames = period };
    f->jb = aoip_jitter_new(&jc);
    f->cc = aoip_conceal_new(&cc);
    f->rs = aoip_resampler_new(&rc);
    f->in = calloc((size_t)channels * f->in_max, sizeof(float));
    f->in_missing = calloc(f->in_max, 1);
    m->channels = json_array();
    if (!f->jb || !f->cc || !f->rs || !f->in || !f->in_missing || !m->channels)
        goto fail;
    if (mode == CFG_LATENCY_AUTO) {
        struct aoip_latency_config lc = {
            .sample_rate = n->cfg->sample_rate,
            .packet_frames =
                cfg_frames_of_us(n->cfg, (packet_us ? packet_us : n->cfg->packet_us) + wait_us),
            .period_frames = period,
            .floor_frames = 0,
            .ceiling_frames = ceiling,
            /* No faster than clock recovery slews the level down (200 ppm):
             * a level left far above its target would be skipped, not slewed. */
            .fall_ppm = 200,
        };
        f->lat = aoip_latency_new(&lc);
        if (!f->lat)
            goto fail;
        aoip_jitter_set_latency(f->jb, (uint32_t)lround(aoip_latency_target(f->lat)));
    }
    aoip_clock_init(&f->clock, &kc);
    f->ratio = 1.0;
    f->base_latency = latency_frames;
    atomic_init(&f->want_latency, 0);
    f->channels = channels;
    f->fd = -1;
    f->owner = m;
    for (unsigned c = 0; c < ENGINE_FLOW_CHANNELS; c++)
        f->slots[c] = UINT32_MAX;
    aoip_rtp_jitter_init(&f->ia, n->cfg->sample_rate);
    return f;

fail:
    if (f)
        rx_parts_free(f);
    if (m)
        json_decref(m->channels);
    free(m);
    free(f);
    return NULL;
}

struct tx_flow *tx_flow_new(unsigned channels, uint32_t packet_frames)
{
    struct tx_flow *f = calloc(1, sizeof(*f));
    struct flow_meta *m = calloc(1, sizeof(*m));

    if (!f || !m || channels == 0 || channels > ENGINE_FLOW_CHANNELS)
        goto fail;
    f->staging = calloc((size_t)channels * packet_frames, sizeof(float));
    m->channels = json_array();
    if (!f->staging || !m->channels)
        goto fail;
    f->channels = channels;
    f->packet_frames = packet_frames;
    f->owner = m;
    return f;

fail:
    if (f)
        free(f->staging);
    if (m)
        json_decref(m->channels);
    free(m);
    free(f);
    return NULL;
}

static void meta_free(struct flow_meta *m)
{
    if (m) {
        json_decref(m->channels);
        json_decref(m->receivers);
    }
    free(m);
}

/* Free a flow no plan and no list holds any more. */
void flows_rx_free(struct node *n, struct rx_flow *f)
{
    for (unsigned c = 0; c < f->channels; c++)
        if (!f->any_ssrc && f->slots[c] != UINT32_MAX)
            node_slot_put(n, (int)f->slots[c]);
    /* A multicast flow's socket is the flow's own; a plain RTP input's is the input's. */
    if (rx_meta(f)->owns_fd && f->fd >= 0)
        close(f->fd);
    rx_parts_free(f);
    meta_free(f->owner);
    free(f);
}

void flows_tx_free(struct tx_flow *f)
{
    opus_tx_free(f->opus);
    free(f->staging);
    meta_free(f->owner);
    free(f);
}

/* A route may not ask for more than every flow's ring holds. */
_Static_assert(NODE_ROUTE_LATENCY_MAX_US <= FLOWS_AUTO_CEILING_US,
               "a route's latency must fit the ring of every rx flow");

/*
 * A flow carries several channels and has one buffer: it plays all of them
 * at the largest latency any route mixing one of them asks for, so a route
 * can lengthen the wait of its neighbours in the flow but never shorten
 * what another route asked for. The largest per slot is worked out first,
 * so the cost is one pass over the routes and one over the flows.
 */
void flows_update_latency(struct node *n)
{
    size_t n_slots = (size_t)n->engine.cfg.local_sources + ENGINE_RX_SLOTS;
    uint32_t *most = calloc(n_slots, sizeof(*most));

    if (!most) {
        log_error("flows: out of memory working out the routes' latencies");
        return;
    }
    for (unsigned i = 0; i < n->n_routes; i++) {
        const struct route *rt = &n->routes[i];
        if (rt->slot >= 0 && (size_t)rt->slot < n_slots && rt->latency_us > most[rt->slot])
            most[rt->slot] = rt->latency_us;
    }
    for (unsigned i = 0; i < n->n_rx; i++) {
        struct rx_flow *f = n->rx[i];
        uint32_t us = 0;
        for (unsigned c = 0; c < f->channels; c++)
            if (f->slots[c] < n_slots && most[f->slots[c]] > us)
                us = most[f->slots[c]];
        /* 0 means no route asks: a latency below half a frame is one frame. */
        uint32_t want = us ? cfg_frames_of_us(n->cfg, us) : 0;
        if (us && want == 0)
            want = 1;
        if (atomic_load_explicit(&f->want_latency, memory_order_relaxed) == want)
            continue;
        atomic_store_explicit(&f->want_latency, want, memory_order_relaxed);
        /* A plain RTP input's SSRC is whatever arrives: its address names it. */
        char ssrc[16] = "";
        if (!f->any_ssrc)
            snprintf(ssrc, sizeof(ssrc), "%08" PRIx32 " ", f->ssrc);
        if (want)
            log_info("flow %sfrom %s: latency %g ms, as a route asks", ssrc, rx_meta(f)->peer_name,
                     us / 1000.0);
        else
            log_info("flow %sfrom %s: latency as configured again", ssrc, rx_meta(f)->peer_name);
    }
    free(most);
}

int flows_add_rx(struct node *n, struct rx_flow *f)
{
    struct rx_flow **a = realloc(n->rx, (n->n_rx + 1) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    n->rx = a;
    n->rx[n->n_rx++] = f;
    /* Routes may ask a latency of what it carries: it starts at that target. */
    flows_update_latency(n);
    node_plan_changed(n);
    return 0;
}

int flows_add_tx(struct node *n, struct tx_flow *f)
{
    struct tx_flow **a = realloc(n->tx, (n->n_tx + 1) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    n->tx = a;
    n->tx[n->n_tx++] = f;
    node_plan_changed(n);
    return 0;
}

static void drop_rx(struct node *n, unsigned i)
{
    struct rx_flow *f = n->rx[i];
    n->rx[i] = n->rx[--n->n_rx];
    f->dead = true;
    if (f->refs == 0)
        flows_rx_free(n, f);
    node_plan_changed(n);
}

void flows_drop_tx(struct node *n, unsigned i)
{
    struct tx_flow *f = n->tx[i];
    n->tx[i] = n->tx[--n->n_tx];
    f->dead = true;
    if (f->refs == 0)
        flows_tx_free(f);
    node_plan_changed(n);
}

struct plan *flows_plan(struct node *n)
{
    struct plan *p = calloc(1, sizeof(*p));
    bool *fed = calloc(ENGINE_RX_SLOTS, sizeof(bool));

    if (!p || !fed)
        goto fail;
    p->rx = calloc(n->n_rx + 1, sizeof(*p->rx));
    p->tx = calloc(n->n_tx + 1, sizeof(*p->tx));
    p->silence = calloc(ENGINE_RX_SLOTS, sizeof(uint32_t));
    if (!p->rx || !p->tx || !p->silence)
        goto fail;
    /* Replaced flows last: their successors write the same slots first (engine.h). */
    for (int retired = 0; retired < 2; retired++) {
        for (unsigned i = 0; i < n->n_rx; i++) {
            struct rx_flow *f = n->rx[i];
            if ((rx_meta(f)->retire_at_ms != 0) != retired)
                continue;
            p->rx[p->n_rx++] = f;
            f->refs++;
            if (f->any_ssrc)
                continue;
            for (unsigned c = 0; c < f->channels; c++) {
                uint32_t s = f->slots[c] - n->engine.cfg.local_sources;
                if (s < ENGINE_RX_SLOTS)
                    fed[s] = true;
            }
        }
    }
    for (unsigned i = 0; i < n->n_tx; i++) {
        p->tx[p->n_tx++] = n->tx[i];
        n->tx[i]->refs++;
    }
    /* Slots a flow fed until now and none feeds from this plan on: silence them. */
    for (unsigned s = 0; s < ENGINE_RX_SLOTS; s++) {
        if (n->fed && n->fed[s] && !fed[s])
            p->silence[p->n_silence++] = n->engine.cfg.local_sources + s;
    }
    free(n->fed);
    n->fed = fed;
    return p;

fail:
    free(fed);
    if (p) {
        free(p->rx);
        free(p->tx);
        free(p->silence);
    }
    free(p);
    return NULL;
}

void flows_free_plan(struct plan *p, void *arg)
{
    struct node *n = arg;

    if (!p)
        return;
    for (unsigned i = 0; i < p->n_rx; i++)
        if (--p->rx[i]->refs == 0 && p->rx[i]->dead)
            flows_rx_free(n, p->rx[i]);
    for (unsigned i = 0; i < p->n_tx; i++)
        if (--p->tx[i]->refs == 0 && p->tx[i]->dead)
            flows_tx_free(p->tx[i]);
    free(p->rx);
    free(p->tx);
    free(p->silence);
    free(p);
}

bool flows_list_has(json_t *list, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

const char *flows_channel_of(const json_t *full)
{
    const char *s = json_string_value(full);
    const char *slash = s ? strchr(s, '/') : NULL;
    return slash ? slash + 1 : "";
}

json_t *flows_set_entry(const struct node *n, const struct tx_flow *f)
{
    const struct flow_meta *m = f->owner;
    json_t *names = json_array();
    size_t i;
    json_t *v;
    char ssrc[9];

    json_array_foreach(m->channels, i, v)
    {
        json_array_append_new(names, json_string(flows_channel_of(v)));
    }
    snprintf(ssrc, sizeof(ssrc), "%08" PRIx32, f->ssrc);
    json_t *e = json_pack("{s:s, s:i, s:s, s:i, s:o}", "ssrc", ssrc, "payload_type",
                          f->payload_type, "encoding", cfg_encoding_name(f->encoding), "packet_us",
                          (int)m->packet_us, "channels", names);
    if (m->multicast) {
        char group[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &m->group, group, sizeof(group));
        json_object_set_new(e, "group", json_string(group));
        json_object_set_new(e, "port", json_integer(FLOWS_MULTICAST_PORT));
    }
    if (f->opus) {
        struct aoip_opus_config oc;
        char text[AOIP_OPUS_MAPPING_TEXT_MAX];
        flows_opus_config(&m->fmt, f->channels, false, n->cfg->sample_rate, &oc);
        aoip_opus_mapping_print(text, sizeof(text), &oc.mapping);
        json_object_set_new(e, "opus",
                            json_pack("{s:s, s:i, s:b}", "mapping", text, "bitrate",
                                      (int)oc.bitrate, "fec", oc.fec));
    }
    json_t *seal = keys_entry(f);
    if (seal)
        json_object_set_new(e, "seal", seal);
    return e;
}

static bool rx_has_ssrc(json_t *flows, uint32_t ssrc)
{
    size_t i;
    json_t *v;
    json_array_foreach(flows, i, v)
    {
        const char *s = json_string_value(json_object_get(v, "ssrc"));
        if (s && strtoul(s, NULL, 16) == ssrc)
            return true;
    }
    return false;
}

/* One flow of a flows.set message: checked whole before anything is made of it. */
static struct rx_flow *rx_from_message(struct node *n, struct peer *p, json_t *v)
{
    const char *ssrc_s = NULL, *enc_s = NULL;
    json_int_t pt = 0, packet_us = 0;
    json_t *chans = NULL;
    enum cfg_encoding enc;
    char *end = NULL;

    if (json_unpack(v, "{s:s, s:I, s:s, s:I, s:o}", "ssrc", &ssrc_s, "payload_type", &pt,
                    "encoding", &enc_s, "packet_us", &packet_us, "channels", &chans) != 0 ||
        !json_is_array(chans) || json_array_size(chans) == 0 ||
        json_array_size(chans) > ENGINE_FLOW_CHANNELS || cfg_encoding_parse(enc_s, &enc) < 0 ||
        pt < 0 || pt > 127 ||
        !(enc == CFG_ENC_OPUS ? flows_frame_us_valid(packet_us)
                              : flows_packet_us_valid(packet_us))) {
        log_warn("peer %s: a flow in flows.set is malformed", p->name);
        return NULL;
    }
    /* An Opus flow: its channel mapping, and whether its packets carry FEC. */
    struct aoip_opus_config oc = { .frame_us = (uint32_t)packet_us };
    bool fec = false;
    if (enc == CFG_ENC_OPUS) {
        json_t *o = json_object_get(v, "opus");
        const char *map = json_string_value(json_object_get(o, "mapping"));
        fec = json_is_true(json_object_get(o, "fec"));
        if (!map || aoip_opus_mapping_parse(&oc.mapping, map, strlen(map)) < 0 ||
            oc.mapping.channels != json_array_size(chans)) {
            log_warn("peer %s: an Opus flow in flows.set has no usable channel mapping", p->name);
            return NULL;
        }
        if (!aoip_opus_frame_fits((uint32_t)packet_us, n->cfg->sample_rate)) {
            log_warn("peer %s: an Opus frame of %d us is no whole number of frames at %u Hz: "
                     "not taken",
                     p->name, (int)packet_us, n->cfg->sample_rate);
            return NULL;
        }
    }
    unsigned long ssrc = strtoul(ssrc_s, &end, 16);
    if (!end || *end || strlen(ssrc_s) != 8) {
        log_warn("peer %s: flow ssrc '%s' is not 8 hex digits", p->name, ssrc_s);
        return NULL;
    }
    /* A multicast flow: join its group on a socket of the flow's own. */
    const char *group_s = json_string_value(json_object_get(v, "group"));
    json_t *port_j = json_object_get(v, "port");
    struct in_addr group = { 0 };
    if (group_s && (inet_pton(AF_INET, group_s, &group) != 1 ||
                    !IN_MULTICAST(ntohl(group.s_addr)) || !json_is_integer(port_j) ||
                    json_integer_value(port_j) <= 0 || json_integer_value(port_j) > 65535)) {
        log_warn("peer %s: flow %s has a bad multicast group", p->name, ssrc_s);
        return NULL;
    }
    int fd = -1;
    if (group_s) {
        struct sockaddr_storage ss = { 0 };
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        char why[200];
        sin->sin_family = AF_INET;
        sin->sin_addr = group;
        sin->sin_port = htons((uint16_t)json_integer_value(port_j));
        fd = io_media_socket(&ss, sizeof(*sin), true, why, sizeof(why));
        if (fd < 0) {
            log_warn("peer %s: cannot join %s: %s", p->name, group_s, why);
            return NULL;
        }
    }

    unsigned nch = (unsigned)json_array_size(chans);
    /* FEC for a frame comes with the next packet: a frame in front waits one more for it. */
    bool fec_waits = enc == CFG_ENC_OPUS && fec && packet_us >= 10000;
    struct rx_flow *f =
        rx_flow_new(n, nch, p->name, (uint32_t)packet_us, fec_waits ? (uint32_t)packet_us : 0);
    if (f && enc == CFG_ENC_OPUS &&
        !(f->opus = opus_rx_new(&oc, n->cfg->sample_rate, fec, false))) {
        flows_rx_free(n, f);
        f = NULL;
    }
    if (!f) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct flow_meta *m = rx_meta(f);
    struct sockaddr_in from;
    if (fd >= 0) {
        f->fd = fd;
        m->owns_fd = true;
        m->multicast = true;
        m->group = group;
    }
    f->ssrc = (uint32_t)ssrc;
    f->encoding = enc;
    f->payload_type = (uint8_t)pt;
    f->from.s_addr = peer_address(p, &from) ? from.sin_addr.s_addr : htonl(INADDR_ANY);
    snprintf(m->peer_id, sizeof(m->peer_id), "%s", p->id);
    snprintf(m->peer_name, sizeof(m->peer_name), "%s", p->name);
    m->packet_us = (uint32_t)packet_us;
    for (unsigned c = 0; c < nch; c++) {
        const char *name = json_string_value(json_array_get(chans, c));
        int slot = name && aoip_name_valid(name, strlen(name)) ? node_slot_get(n, p->id, name) : -1;
        if (slot < 0) {
            log_warn("peer %s: no rx slot for channel '%s' of flow %08lx", p->name,
                     name ? name : "?", ssrc);
            flows_rx_free(n, f);
            return NULL;
        }
        f->slots[c] = (uint32_t)slot;
        char full[2 * AOIP_NAME_MAX + 2];
        snprintf(full, sizeof(full), "%s/%s", p->name, name);
        json_array_append_new(m->channels, json_string(full));
    }
    if (keys_rx_start(n, p, f, json_object_get(v, "seal")) < 0) {
        if (!json_object_get(v, "seal"))
            p->plain_refused++;
        flows_rx_free(n, f);
        return NULL;
    }
    return f;
}

/* A flow from p that plays already: what a new flow from p lines up with. */
static struct rx_flow *playing_from(struct node *n, const struct peer *p)
{
    for (unsigned k = 0; k < n->n_rx; k++) {
        struct rx_flow *f = n->rx[k];
        struct flow_counters c;
        if (f->any_ssrc || strcmp(rx_meta(f)->peer_id, p->id) != 0)
            continue;
        rx_flow_read(f, &c);
        if (c.playing)
            return f;
    }
    return NULL;
}

void flows_set_from(struct node *n, struct peer *p, json_t *flows)
{
    if (!json_is_array(flows)) {
        log_warn("peer %s: flows.set without a flow list", p->name);
        return;
    }
    /* Flows the set no longer lists were replaced (or stopped): they play on
     * until their successors do, then go (flows_tick). */
    for (unsigned k = 0; k < n->n_rx; k++) {
        struct rx_flow *f = n->rx[k];
        struct flow_meta *m = rx_meta(f);
        if (!f->any_ssrc && strcmp(m->peer_id, p->id) == 0 && !rx_has_ssrc(flows, f->ssrc) &&
            !m->retire_at_ms) {
            m->retire_at_ms = node_now_ms(n) + FLOWS_RETIRE_MS;
            node_plan_changed(n);
        }
    }
    struct rx_flow *timeline = playing_from(n, p);
    size_t i;
    json_t *v;
    json_array_foreach(flows, i, v)
    {
        const char *s = json_string_value(json_object_get(v, "ssrc"));
        uint32_t ssrc = s ? (uint32_t)strtoul(s, NULL, 16) : 0;
        struct rx_flow *have = NULL;
        for (unsigned k = 0; k < n->n_rx && !have; k++)
            if (!n->rx[k]->any_ssrc && n->rx[k]->ssrc == ssrc &&
                strcmp(rx_meta(n->rx[k])->peer_id, p->id) == 0)
                have = n->rx[k];
        if (have) {
            keys_rx_update(p, have, json_object_get(v, "seal"));
            continue;
        }
        struct rx_flow *f = rx_from_message(n, p, v);
        if (!f)
            continue;
        /* All of p's flows share one timeline (engine.h): join the one playing. */
        f->align_to = timeline;
        if (flows_add_rx(n, f) < 0) {
            flows_rx_free(n, f);
            continue;
        }
        log_info("flow %08" PRIx32 " from %s: %u channels of %s", f->ssrc, p->name, f->channels,
                 cfg_encoding_name(f->encoding));
    }
}

/* May a replaced rx flow go? Only once nothing can still line up with it. */
static bool rx_may_go(struct node *n, const struct rx_flow *old, int64_t now)
{
    bool successors_play = true;
    for (unsigned k = 0; k < n->n_rx; k++) {
        struct rx_flow *f = n->rx[k];
        struct flow_meta *m = rx_meta(f);
        if (f == old || m->retire_at_ms || strcmp(m->peer_id, rx_meta(old)->peer_id) != 0)
            continue;
        struct flow_counters c;
        rx_flow_read(f, &c);
        /* A flow that plays has been lined up (that happens as it enters a plan). */
        if (!c.playing) {
            if (f->align_to == old)
                return false;
            successors_play = false;
        }
    }
    return successors_play || now >= rx_meta(old)->retire_at_ms;
}

void flows_tick(struct node *n)
{
    int64_t now = node_now_ms(n);

    if (keys_tick(n))
        flows_announce(n);

    for (unsigned k = 0; k < n->n_tx;) {
        struct flow_meta *m = tx_meta(n->tx[k]);
        if (m->retire_at_ms && now >= m->retire_at_ms)
            flows_drop_tx(n, k);
        else
            k++;
    }
    for (unsigned k = 0; k < n->n_rx;) {
        struct rx_flow *f = n->rx[k];
        if (rx_meta(f)->retire_at_ms && rx_may_go(n, f, now)) {
            log_debug("flow %08" PRIx32 " from %s: replaced", f->ssrc, rx_meta(f)->peer_name);
            /* The sender need not go on with it. */
            struct peer *p = node_peer_by_id(n, rx_meta(f)->peer_id);
            char ssrc[9];
            snprintf(ssrc, sizeof(ssrc), "%08" PRIx32, f->ssrc);
            if (p)
                peer_send_json(p, json_pack("{s:s, s:[s]}", "type", "flows.drop", "ssrcs", ssrc));
            drop_rx(n, k);
        } else {
            k++;
        }
    }
}

void flows_dropped_by(struct node *n, struct peer *p, json_t *ssrcs)
{
    size_t i;
    json_t *v;

    json_array_foreach(ssrcs, i, v)
    {
        const char *s = json_string_value(v);
        uint32_t ssrc = s ? (uint32_t)strtoul(s, NULL, 16) : 0;
        for (unsigned k = 0; k < n->n_tx; k++) {
            struct flow_meta *m = tx_meta(n->tx[k]);
            /* Only a replaced flow, and only the asker's: nobody stops another's audio. */
            if (n->tx[k]->ssrc == ssrc && m->retire_at_ms && strcmp(m->peer_id, p->id) == 0) {
                flows_drop_tx(n, k);
                break;
            }
        }
    }
}

void flows_peer_restarted(struct node *n, struct peer *p)
{
    /* Its flows were on the timeline of a process that is gone: nothing new
     * may line up with them, and its new flows will come with a flows.set. */
    for (unsigned k = 0; k < n->n_rx;) {
        struct rx_flow *f = n->rx[k];
        if (!f->any_ssrc && strcmp(rx_meta(f)->peer_id, p->id) == 0)
            drop_rx(n, k);
        else
            k++;
    }
}

/* NTP 32.32 time to wall-clock ns since 1970. */
static int64_t ntp_to_wall_ns(uint64_t ntp)
{
    int64_t sec = (int64_t)(ntp >> 32) - FLOWS_NTP_UNIX_OFFSET;
    return sec * 1000000000 + (int64_t)(((ntp & 0xffffffffu) * 1000000000ull) >> 32);
}

/* Time from a frame leaving the sender's media clock to it leaving ours. */
static json_t *rx_latency(const struct node *n, const struct rx_flow *f,
                          const struct flow_counters *c)
{
    const struct flow_meta *m = rx_meta(f);
    if (!m->have_sr || c->clock_wall_ns == 0 || c->packets == 0)
        return json_null();
    /* An Opus flow's report counts 48 kHz, clock_ts the node's frames (the
     * same at 48 kHz, where the mapping is the identity). */
    uint32_t sr_ts = f->opus ? opus_rx_local_of((uint32_t)c->wire_ts, (uint32_t)c->wire_local_ts,
                                                m->sr_rtp, n->cfg->sample_rate)
                             : m->sr_rtp;
    int32_t frames = (int32_t)((uint32_t)c->clock_ts - sr_ts);
    double sent_ns = (double)ntp_to_wall_ns(m->sr_ntp) + frames * 1e9 / n->cfg->sample_rate;
    return json_real(((double)c->clock_wall_ns - sent_ns) / 1e6);
}

static double ms_of_frames(const struct node *n, double frames)
{
    return frames * 1000.0 / n->cfg->sample_rate;
}

static json_t *flow_json(const struct node *n, const char *dir, const struct flow_meta *m,
                         const struct flow_counters *c, enum cfg_encoding enc, uint32_t packet_us,
                         uint32_t ssrc)
{
    char ssrc_s[9];
    snprintf(ssrc_s, sizeof(ssrc_s), "%08" PRIx32, ssrc);
    return json_pack("{s:s, s:s, s:O, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "direction", dir, "peer", m->peer_name, "channels", m->channels, "encoding",
                     cfg_encoding_name(enc), "packet_us", (int)packet_us, "ssrc", ssrc_s, "packets",
                     (json_int_t)c->packets, "bytes", (json_int_t)c->bytes, "lost",
                     (json_int_t)c->lost, "late", (json_int_t)c->late, "duplicates",
                     (json_int_t)c->duplicates, "reordered", (json_int_t)c->reordered, "concealed",
                     (json_int_t)c->concealed);
    (void)n;
}

/* Whether a flow is sealed, with what, and under which key. */
static void seal_json(json_t *o, bool sealed, const struct flow_meta *m,
                      const struct flow_counters *c)
{
    json_object_set_new(o, "sealed", json_boolean(sealed));
    if (!sealed)
        return;
    json_object_set_new(
        o, "cipher",
        json_string(m->cipher == AOIP_SEAL_AES256GCM ? "aes-256-gcm" : "chacha20-poly1305"));
    json_object_set_new(o, "key_id", json_integer((json_int_t)c->key_id));
}

json_t *flows_stats(struct node *n)
{
    json_t *list = json_array();

    for (unsigned i = 0; i < n->n_rx; i++) {
        struct rx_flow *f = n->rx[i];
        struct flow_counters c;
        rx_flow_read(f, &c);
        uint32_t ssrc = f->any_ssrc ? (uint32_t)c.ssrc : f->ssrc;
        /* A plain RTP input's packet time is whatever its sender uses. */
        uint32_t packet_us = rx_meta(f)->packet_us;
        if (c.packet_frames)
            packet_us = (uint32_t)(c.packet_frames * 1000000 / n->cfg->sample_rate);
        json_t *o = flow_json(n, "rx", rx_meta(f), &c, f->encoding, packet_us, ssrc);
        json_object_set_new(o, "jitter_ms", json_real(ms_of_frames(n, (double)c.jitter)));
        json_object_set_new(o, "buffer_ms", json_real(ms_of_frames(n, (double)c.level)));
        json_object_set_new(o, "target_ms", json_real(ms_of_frames(n, (double)c.target)));
        json_object_set_new(o, "drift_ppm", json_real((double)c.drift_ppb / 1000.0));
        json_object_set_new(o, "clock", json_string(aoip_clock_state_name((int)c.clock_state)));
        json_object_set_new(o, "latency_ms", rx_latency(n, f, &c));
        json_object_set_new(o, "resyncs", json_integer((json_int_t)c.resyncs));
        json_object_set_new(o, "malformed", json_integer((json_int_t)c.bad));
        json_object_set_new(o, "auth_failures", json_integer((json_int_t)c.auth_failures));
        json_object_set_new(o, "replays", json_integer((json_int_t)c.replays));
        if (f->opus) {
            json_object_set_new(o, "fec_recovered", json_integer((json_int_t)c.fec_recovered));
            json_object_set_new(o, "plc_concealed", json_integer((json_int_t)c.plc_concealed));
            json_object_set_new(o, "corrupt", json_integer((json_int_t)c.corrupt));
        }
        seal_json(o, f->sealed, rx_meta(f), &c);
        json_array_append_new(list, o);
    }
    for (unsigned i = 0; i < n->n_tx; i++) {
        struct tx_flow *f = n->tx[i];
        struct flow_meta *m = tx_meta(f);
        struct flow_counters c;
        tx_flow_read(f, &c);
        c.lost = m->have_rr ? m->remote_lost : 0;
        json_t *o = flow_json(n, "tx", m, &c, f->encoding, m->packet_us, f->ssrc);
        json_object_set_new(o, "jitter_ms",
                            json_real(m->have_rr ? ms_of_frames(n, m->remote_jitter) : 0.0));
        json_object_set_new(o, "buffer_ms", json_real(0.0));
        json_object_set_new(o, "target_ms", json_real(0.0));
        json_object_set_new(o, "drift_ppm", json_real(0.0));
        json_object_set_new(o, "latency_ms",
                            m->have_latency ? json_real(m->remote_latency_ms) : json_null());
        json_object_set_new(o, "rtt_ms", m->have_rr ? json_real(m->rtt_ms) : json_null());
        json_object_set_new(o, "mode", json_string(m->multicast ? "multicast" : "unicast"));
        json_object_set_new(
            o, "receivers",
            json_integer(m->multicast ? (json_int_t)json_array_size(m->receivers) : 1));
        seal_json(o, f->sealed, m, &c);
        json_array_append_new(list, o);
    }
    json_int_t refused = 0, rtcp = 0;
    for (unsigned i = 0; i < n->n_peers; i++) {
        refused += (json_int_t)n->peers[i]->plain_refused;
        rtcp += (json_int_t)n->peers[i]->rtcp_failures;
    }
    return json_pack("{s:o, s:{s:I, s:I, s:I, s:I}, s:{s:s, s:I, s:I, s:I, s:I}}", "flows", list,
                     "dropped", "malformed", (json_int_t)atomic_load(&n->engine.dropped_malformed),
                     "unknown_ssrc", (json_int_t)atomic_load(&n->engine.dropped_unknown),
                     "wrong_payload", (json_int_t)atomic_load(&n->engine.dropped_payload),
                     "send_errors", (json_int_t)atomic_load(&n->engine.send_errors), "security",
                     "mode", n->cfg->security == CFG_SECURITY_OPEN ? "open" : "sealed",
                     "peer_auth_failures", (json_int_t)n->peer_auth_failures, "plain_flows_refused",
                     refused, "rtcp_auth_failures", rtcp, "rtcp_strays",
                     (json_int_t)n->rtcp_strays);
}

void flows_close(struct node *n)
{
    /* The engine has stopped: its plan is the last holder of anything. */
    flows_free_plan(n->engine.current, n);
    n->engine.current = NULL;
    struct plan *pending = atomic_exchange(&n->engine.pending, NULL);
    flows_free_plan(pending, n);
    engine_collect(&n->engine, flows_free_plan, n);
    while (n->n_rx)
        drop_rx(n, n->n_rx - 1);
    while (n->n_tx)
        flows_drop_tx(n, n->n_tx - 1);
    free(n->rx);
    free(n->tx);
    free(n->fed);
    n->rx = NULL;
    n->tx = NULL;
    n->fed = NULL;
}
