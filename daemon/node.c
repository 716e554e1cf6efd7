/*
 * node.c: bringing a node up and down, and the housekeeping that ties its
 * model to the engine.
 *
 * Start-up order matters: the state directory (the node's id) first, then
 * the channels and the engine's buffers, inputs and outputs, the stored
 * routes, and only then the sockets the outside world can reach, so no
 * request is ever answered by a half-built node. The media thread starts
 * last. Shutdown is the reverse, and it finishes WAV files after the media
 * thread has stopped, so they hold every period it produced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "alsa.h"
#include "jack.h"
#include "node.h"
#include "notify.h"

#define NODE_TICK_MS 10
#define NODE_SLOW_MS 1000

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

int node_write_line(uv_stream_t *s, char *line, size_t len)
{
    uv_write_t *w = malloc(sizeof(*w));
    if (!w) {
        free(line);
        return -ENOMEM;
    }
    w->data = line;
    uv_buf_t buf = uv_buf_init(line, (unsigned)len);
    int rc = uv_write(w, s, &buf, 1, on_written);
    if (rc < 0) {
        free(line);
        free(w);
    }
    return rc;
}

void node_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One read at a time on this loop, and the line framing copies what it keeps. */
    static char chunk[65536];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(chunk, sizeof(chunk));
}

int64_t node_now_ms(const struct node *n)
{
    (void)n;
    return engine_mono_ns() / 1000000;
}

static int build_channels(struct node *n, char *err, size_t errlen)
{
    const struct cfg *cfg = n->cfg;
    unsigned ns = 0, nd = 0;

    for (size_t i = 0; i < cfg->n_ios; i++) {
        if (cfg->ios[i].kind != CFG_OUTPUT)
            ns += cfg->ios[i].channels;
        if (cfg->ios[i].kind != CFG_INPUT)
            nd += cfg->ios[i].channels;
    }
    n->sources = calloc(ns + 1, sizeof(*n->sources));
    n->destinations = calloc(nd + 1, sizeof(*n->destinations));
    if (!n->sources || !n->destinations) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_ios; i++) {
        const struct cfg_io *io = &cfg->ios[i];
        for (unsigned c = 0; c < io->channels; c++) {
            struct channel ch = { .io = (unsigned)i, .bus = io->kind == CFG_BUS };
            snprintf(ch.name, sizeof(ch.name), "%s", io->names[c]);
            if (io->kind != CFG_OUTPUT) {
                ch.index = n->n_sources;
                n->sources[n->n_sources++] = ch;
            }
            if (io->kind != CFG_INPUT) {
                ch.index = n->n_destinations;
                n->destinations[n->n_destinations++] = ch;
            }
        }
    }
    return 0;
}

static const struct channel *find_channel(const struct channel *list, unsigned count,
                                          const char *name, unsigned index)
{
    if (index)
        return index <= count ? &list[index - 1] : NULL;
    for (unsigned i = 0; name && i < count; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

const struct channel *node_find_source(const struct node *n, const char *name, unsigned index)
{
    return find_channel(n->sources, n->n_sources, name, index);
}

const struct channel *node_find_destination(const struct node *n, const char *name, unsigned index)
{
    return find_channel(n->destinations, n->n_destinations, name, index);
}

struct peer *node_peer_by_name(struct node *n, const char *name)
{
    struct peer *found = NULL;

    /* A node's id names it too, and never twice. */
    for (unsigned i = 0; i < n->n_peers; i++)
        if (strcmp(n->peers[i]->id, name) == 0)
            return n->peers[i];
    /* Two nodes may share a name (discovery tells them apart by id): the one
     * online is meant, the first found if both are. */
    for (unsigned i = 0; i < n->n_peers; i++) {
        if (strcmp(n->peers[i]->name, name) != 0)
            continue;
        if (peer_online(n->peers[i]))
            return n->peers[i];
        if (!found)
            found = n->peers[i];
    }
    return found;
}

struct peer *node_peer_by_id(struct node *n, const char *id)
{
    for (unsigned i = 0; i < n->n_peers; i++)
        if (strcmp(n->peers[i]->id, id) == 0)
            return n->peers[i];
    return NULL;
}

int node_slot_get(struct node *n, const char *node_id, const char *channel)
{
    int64_t now = engine_mono_ns();
    int free_slot = -1;

    for (int s = 0; s < ENGINE_RX_SLOTS; s++) {
        struct rx_slot *sl = &n->slots[s];
        if (sl->users && strcmp(sl->node_id, node_id) == 0 && strcmp(sl->channel, channel) == 0) {
            sl->users++;
            return (int)n->engine.cfg.local_sources + s;
        }
        bool rested =
            sl->free_since == 0 || now - sl->free_since >= (int64_t)NODE_SLOT_REST_MS * 1000000;
        if (!sl->users && rested && free_slot < 0)
            free_slot = s;
    }
    if (free_slot < 0)
        return -1;
    struct rx_slot *sl = &n->slots[free_slot];
    snprintf(sl->node_id, sizeof(sl->node_id), "%s", node_id);
    snprintf(sl->channel, sizeof(sl->channel), "%s", channel);
    sl->users = 1;
    sl->free_since = 0;
    return (int)n->engine.cfg.local_sources + free_slot;
}

void node_slot_put(struct node *n, int slot)
{
    int s = slot - (int)n->engine.cfg.local_sources;
    if (s < 0 || s >= ENGINE_RX_SLOTS || n->slots[s].users == 0)
        return;
    if (--n->slots[s].users == 0)
        n->slots[s].free_since = engine_mono_ns();
}

void node_plan_changed(struct node *n)
{
    n->plan_dirty = true;
}

void node_mix(struct node *n, const struct mix_cmd *cmd)
{
    /* Commands keep their order: once one waits, the ones after it wait too. */
    if (n->n_backlog == 0 && engine_command(&n->engine, cmd))
        return;
    if (n->n_backlog == n->cap_backlog) {
        unsigned cap = n->cap_backlog ? 2 * n->cap_backlog : 64;
        struct mix_cmd *b = realloc(n->backlog, cap * sizeof(*b));
        if (!b) {
            log_error("out of memory: a mixer change is lost");
            return;
        }
        n->backlog = b;
        n->cap_backlog = cap;
    }
    n->backlog[n->n_backlog++] = *cmd;
}

static void flush_backlog(struct node *n)
{
    unsigned done = 0;

    if (n->n_backlog == 0)
        return;
    while (done < n->n_backlog && engine_command(&n->engine, &n->backlog[done]))
        done++;
    memmove(n->backlog, n->backlog + done, (n->n_backlog - done) * sizeof(*n->backlog));
    n->n_backlog -= done;
}

static void publish_plan(struct node *n)
{
    if (!n->plan_dirty)
        return;
    struct plan *p = flows_plan(n);
    if (!p)
        return;
    if (engine_publish(&n->engine, p) < 0) {
        /* The last plan is not taken yet; try again next tick. */
        flows_free_plan(p, n);
        return;
    }
    n->plan_dirty = false;
}

static void on_tick(uv_timer_t *t)
{
    struct node *n = t->data;

    engine_collect(&n->engine, flows_free_plan, n);
    flush_backlog(n);
    flows_tick(n);
    publish_plan(n);
    io_pump(n);
    jack_tick(n);
    alsa_tick(n);
}

static void on_slow(uv_timer_t *t)
{
    struct node *n = t->data;

    peers_tick(n);
    rtcp_tick(n);
    notify_watchdog();
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct node *n = s->data;
    log_info("signal %d: stopping", signum);
    n->stopping = true;
    uv_stop(n->loop);
}

static int open_rtp(struct node *n, char *err, size_t errlen)
{
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_port = htons(n->cfg->rtp_port),
                               .sin_addr.s_addr = htonl(INADDR_ANY) };
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char why[256];

    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &sin, sizeof(sin));
    n->rtp_fd = io_media_socket(&ss, sizeof(sin), false, why, sizeof(why));
    if (n->rtp_fd < 0) {
        snprintf(err, errlen, "rtp_port %u: %s", n->cfg->rtp_port, why);
        return -1;
    }
    if (getsockname(n->rtp_fd, (struct sockaddr *)&ss, &len) == 0)
        n->rtp_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    /* Multicast flows leave through this socket too: how far they may travel. */
    int ttl = n->cfg->multicast_ttl;
    setsockopt(n->rtp_fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
    return 0;
}

static int start_engine(struct node *n, char *err, size_t errlen)
{
    unsigned nbus = 0;
    uint32_t *bus_src = calloc(n->n_sources + 1, sizeof(uint32_t));
    uint32_t *bus_dst = calloc(n->n_sources + 1, sizeof(uint32_t));
    /* The longest packet: an Opus frame of 20 ms (PCM packets are 4 ms at most). */
    uint32_t max_packet = cfg_frames_of_us(n->cfg, 20000);

    if (!bus_src || !bus_dst) {
        free(bus_src);
        free(bus_dst);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < n->n_sources; i++) {
        if (!n->sources[i].bus)
            continue;
        const struct channel *d = node_find_destination(n, n->sources[i].name, 0);
        bus_src[nbus] = n->sources[i].index;
        bus_dst[nbus++] = d->index;
    }
    struct engine_config ec = { .sample_rate = n->cfg->sample_rate,
                                .period_frames = n->period_frames,
                                .skew_ppm = n->cfg->clock_skew_ppm,
                                .local_sources = n->n_sources,
                                .local_destinations = n->n_destinations,
                                .n_bus = nbus,
                                .bus_src = bus_src,
                                .bus_dst = bus_dst,
                                .max_packet_frames = max_packet };
    int rc = engine_init(&n->engine, &ec, n->rtp_fd);
    free(bus_src);
    free(bus_dst);
    if (rc < 0) {
        snprintf(err, errlen, "media engine: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

int node_init(struct node *n, uv_loop_t *loop, struct cfg *cfg, char *err, size_t errlen)
{
    memset(n, 0, sizeof(*n));
    n->loop = loop;
    n->cfg = cfg;
    n->rtp_fd = -1;
    n->start_ns = engine_mono_ns();
    n->period_frames = cfg_period_frames(cfg);
    uint64_t session = 0;
    if (getrandom(&n->rtcp_ssrc, sizeof(n->rtcp_ssrc), 0) != sizeof(n->rtcp_ssrc) ||
        getrandom(&session, sizeof(session), 0) != sizeof(session)) {
        n->rtcp_ssrc = (uint32_t)n->start_ns;
        session = (uint64_t)n->start_ns * 0x9e3779b97f4a7c15ull;
    }
    snprintf(n->session, sizeof(n->session), "%016llx", (unsigned long long)session);

    if (aoip_seal_init() < 0) {
        snprintf(err, errlen, "libsodium cannot be initialised");
        return -1;
    }
    /* With a sound device as the clock, its period is the node's: known
     * before the engine is made. */
    if (state_init(n, err, errlen) < 0 || build_channels(n, err, errlen) < 0 ||
        open_rtp(n, err, errlen) < 0 || (jack_wanted(cfg) && jack_open(n, err, errlen) < 0) ||
        (alsa_wanted(cfg) && alsa_open(n, err, errlen) < 0) || start_engine(n, err, errlen) < 0 ||
        io_init(n, err, errlen) < 0)
        return -1;
    if (routes_load(n) < 0) {
        snprintf(err, errlen, "state_dir %s: routes.json is unreadable", cfg->state_dir);
        return -1;
    }
    if (rtcp_init(n, err, errlen) < 0 || peers_init(n, err, errlen) < 0 ||
        (cfg->discovery && discovery_init(n, err, errlen) < 0) || ctl_init(n, err, errlen) < 0)
        return -1;

    uv_timer_init(loop, &n->tick);
    uv_timer_init(loop, &n->slow);
    n->tick.data = n->slow.data = n;
    uv_timer_start(&n->tick, on_tick, NODE_TICK_MS, NODE_TICK_MS);
    uv_timer_start(&n->slow, on_slow, NODE_SLOW_MS, NODE_SLOW_MS);
    uv_signal_init(loop, &n->sigterm);
    uv_signal_init(loop, &n->sigint);
    n->sigterm.data = n->sigint.data = n;
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    uv_signal_start(&n->sigint, on_signal, SIGINT);

    /* The first plan goes in before the thread starts, so period one has it. */
    publish_plan(n);
    /* A device that is the clock runs the periods (JACK's process callback,
     * an ALSA device's thread): then the engine has no thread of its own. */
    bool device_clock = false;
    for (size_t i = 0; i < cfg->n_ios; i++)
        device_clock |= cfg->ios[i].clock;
    if (!device_clock) {
        int rc = engine_start(&n->engine);
        if (rc < 0) {
            snprintf(err, errlen, "media thread: %s", strerror(-rc));
            return -1;
        }
    }
    if ((n->jack && jack_start(n, err, errlen) < 0) || (n->alsa && alsa_start(n, err, errlen) < 0))
        return -1;
    log_info("node %s (%s) up: peer port %u, rtp port %u, %u sources, %u destinations, "
             "%u Hz, %u-frame periods",
             cfg->name, n->id, n->port, n->rtp_port, n->n_sources, n->n_destinations,
             cfg->sample_rate, n->period_frames);
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

void node_close(struct node *n)
{
    discovery_close(n);
    jack_close(n);
    alsa_close(n);
    engine_stop(&n->engine);
    ctl_close(n);
    peers_close(n);
    rtcp_close(n);
    if (n->tick.loop) {
        close_handle((uv_handle_t *)&n->tick);
        close_handle((uv_handle_t *)&n->slow);
        close_handle((uv_handle_t *)&n->sigterm);
        close_handle((uv_handle_t *)&n->sigint);
    }
    /* WAV files get the last periods the media thread wrote. */
    if (n->io.pumps)
        io_close(n);
    if (n->engine.mixer)
        flows_close(n);
    engine_close(&n->engine);
    if (n->rtp_fd >= 0)
        close(n->rtp_fd);
    free(n->routes);
    free(n->sources);
    free(n->destinations);
    free(n->backlog);
    free(n->meter_since);
    json_decref(n->groups);
    /* Let the loop run the close callbacks of every handle. */
    uv_run(n->loop, UV_RUN_DEFAULT);
}
