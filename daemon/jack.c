/*
 * jack.c: a node's JACK client (jack.h).
 *
 * Threads: jack_open, jack_add_io, jack_start and jack_close run on the
 * control thread; on_process runs on JACK's real-time thread and is the
 * node's media thread (it neither allocates, locks, logs nor blocks: it
 * copies, runs the engine's period and copies); on_xrun and on_buffer_size
 * run on JACK's notification thread and only count; on_port_registration
 * only raises a flag for jack_tick, since JACK forbids connecting ports
 * from its callbacks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jack/jack.h>

#include "jack.h"
#include "log.h"
#include "node.h"

struct jack_port_map {
    jack_port_t *port;
    uint32_t index;   /* source slot (input) or destination (output) */
    const char *name; /* the channel's (the config's, which outlives the client) */
};

/* A jack section of a node whose clock is another device: its bridge. */
struct jack_section {
    const struct cfg_io *io;
    bool input;
    unsigned first_port; /* in the map of its direction */
    struct aoip_bridge *bridge;
};

struct node_jack {
    struct node *node;
    jack_client_t *client;
    struct jack_port_map *in, *out;
    unsigned n_in, n_out, cap_in, cap_out;
    bool clock; /* JACK is the node's media clock: the process callback runs the periods */
    struct jack_section *sections;
    unsigned n_sections;
    uint32_t bridge_frames; /* the buffer size the bridges were made for */
    atomic_uint buffer_frames;
    atomic_ullong xruns;
    atomic_ullong misfits;
    atomic_uint rate;       /* JACK's sample rate, as last reported */
    atomic_bool wrong_rate; /* not the node's: the periods play silence */
    bool rate_said;         /* jack_tick has logged the wrong rate */
    uint32_t phase;         /* rt: cycles of a period gathered, when cycles are shorter */
    float *held;            /* the outputs of the last period, n_out x period, for those */
    atomic_bool ports_came; /* a port registered somewhere: connect what is missing */
    atomic_bool gone;       /* the server shut down (JACK's info-shutdown callback) */
    bool active;
    int64_t retry_at_ns; /* with the server gone: the next attempt to come back */
    char name[80];       /* the client's */
};

/* How often a node whose server went away looks for it again. */
#define JACK_RETRY_NS 1000000000

bool jack_wanted(const struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].type == CFG_TYPE_JACK)
            return true;
    return false;
}

/* Every output port silent for this cycle. */
static AOIP_RT void silence_outputs(struct node_jack *j, jack_nframes_t nframes)
{
    for (unsigned i = 0; i < j->n_out; i++)
        memset(jack_port_get_buffer(j->out[i].port, nframes), 0, nframes * sizeof(float));
}

/*
 * JACK on a clock not the node's: each section's ports to or from its
 * bridge, in pieces of the buffer size the bridge was made for (JACK's
 * buffer sizes are powers of two: a cycle is a whole number of those
 * pieces, or one smaller piece).
 */
static AOIP_RT void process_bridged(struct node_jack *j, jack_nframes_t nframes)
{
    int64_t now = engine_mono_ns();
    float *bufs[CFG_IO_MAX_CHANNELS];
    uint32_t piece = nframes < j->bridge_frames ? nframes : j->bridge_frames;

    if (nframes % piece != 0) {
        silence_outputs(j, nframes);
        atomic_fetch_add_explicit(&j->misfits, 1, memory_order_relaxed);
        return;
    }
    for (unsigned s = 0; s < j->n_sections; s++) {
        const struct jack_section *sec = &j->sections[s];
        struct jack_port_map *ports = sec->input ? j->in : j->out;
        for (unsigned c = 0; c < sec->io->channels; c++)
            bufs[c] = jack_port_get_buffer(ports[sec->first_port + c].port, nframes);
        for (uint32_t at = 0; at < nframes; at += piece) {
            if (sec->input)
                aoip_bridge_push(sec->bridge, (const float *const *)bufs, piece, now);
            else
                aoip_bridge_pull(sec->bridge, bufs, piece, now);
            for (unsigned c = 0; c < sec->io->channels; c++)
                bufs[c] += piece;
        }
    }
}

/*
 * JACK as the node's clock. A cycle of the node's period runs one period.
 * JACK's buffer size may change under a running node (jack_bufsize): a
 * cycle of a whole number of periods runs that many, back to back; a cycle
 * of a fraction of a period gathers its inputs into the slots and plays
 * the outputs of the last period run (held), and the cycle that completes
 * a period runs it: the outputs come a period later, nothing is lost.
 * Anything else (not a power of two) plays silence and is counted.
 */
static AOIP_RT void process_clock(struct node_jack *j, jack_nframes_t nframes)
{
    struct engine *e = &j->node->engine;
    uint32_t period = e->cfg.period_frames;

    if (!atomic_load_explicit(&e->running, memory_order_acquire) ||
        atomic_load_explicit(&j->wrong_rate, memory_order_relaxed) ||
        (nframes % period != 0 && period % nframes != 0)) {
        silence_outputs(j, nframes);
        if (atomic_load_explicit(&e->running, memory_order_relaxed))
            atomic_fetch_add_explicit(&j->misfits, 1, memory_order_relaxed);
        return;
    }
    if (nframes >= period) {
        for (uint32_t at = 0; at < nframes; at += period) {
            for (unsigned i = 0; i < j->n_in; i++)
                memcpy(e->src[j->in[i].index],
                       (const float *)jack_port_get_buffer(j->in[i].port, nframes) + at,
                       period * sizeof(float));
            engine_tick(e);
            for (unsigned i = 0; i < j->n_out; i++)
                memcpy((float *)jack_port_get_buffer(j->out[i].port, nframes) + at,
                       e->dst[j->out[i].index], period * sizeof(float));
        }
        j->phase = 0;
        return;
    }
    uint32_t at = j->phase * nframes;
    for (unsigned i = 0; i < j->n_in; i++)
        memcpy(e->src[j->in[i].index] + at, jack_port_get_buffer(j->in[i].port, nframes),
               nframes * sizeof(float));
    for (unsigned i = 0; i < j->n_out; i++)
        memcpy(jack_port_get_buffer(j->out[i].port, nframes), j->held + (size_t)i * period + at,
               nframes * sizeof(float));
    if (at + nframes < period) {
        j->phase++;
        return;
    }
    j->phase = 0;
    engine_tick(e);
    for (unsigned i = 0; i < j->n_out; i++)
        memcpy(j->held + (size_t)i * period, e->dst[j->out[i].index], period * sizeof(float));
}

static int on_process(jack_nframes_t nframes, void *arg)
{
    struct node_jack *j = arg;

    if (j->clock)
        process_clock(j, nframes);
    else
        process_bridged(j, nframes);
    return 0;
}

static int on_xrun(void *arg)
{
    struct node_jack *j = arg;
    atomic_fetch_add_explicit(&j->xruns, 1, memory_order_relaxed);
    return 0;
}

/* JACK calls this with no cycle running: a new size starts at a period's start. */
static int on_buffer_size(jack_nframes_t nframes, void *arg)
{
    struct node_jack *j = arg;
    atomic_store_explicit(&j->buffer_frames, nframes, memory_order_relaxed);
    j->phase = 0;
    return 0;
}

static int on_sample_rate(jack_nframes_t rate, void *arg)
{
    struct node_jack *j = arg;
    atomic_store_explicit(&j->rate, rate, memory_order_relaxed);
    atomic_store_explicit(&j->wrong_rate, rate != j->node->cfg->sample_rate, memory_order_relaxed);
    return 0;
}

static void on_port_registration(jack_port_id_t port, int registered, void *arg)
{
    struct node_jack *j = arg;
    (void)port;
    if (registered)
        atomic_store_explicit(&j->ports_came, true, memory_order_relaxed);
}

static void on_shutdown(jack_status_t code, const char *reason, void *arg)
{
    struct node_jack *j = arg;
    (void)code;
    (void)reason;
    atomic_store_explicit(&j->gone, true, memory_order_release);
}

/* The client name every jack section of the node carries (config.c). */
static const char *client_name(const struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].type == CFG_TYPE_JACK)
            return cfg->ios[i].client_name;
    return NULL;
}

/*
 * Open the client, check its server's rate and set the callbacks. The
 * first time (period 0) the node takes JACK's buffer size as its period;
 * on a server that came back it must be the same (the engine was made for
 * it). -1 with err set.
 */
static int client_up(struct node *n, uint32_t period, char *err, size_t errlen)
{
    struct node_jack *j = n->jack;
    jack_status_t status = 0;

    /* The exact name: a second node of the same name is a mistake to see,
     * not a client to rename behind the operator's back. */
    const char *server = NULL;
    for (size_t i = 0; i < n->cfg->n_ios && !server; i++)
        if (n->cfg->ios[i].type == CFG_TYPE_JACK && n->cfg->ios[i].server[0])
            server = n->cfg->ios[i].server;
    j->client =
        server ? jack_client_open(j->name, JackNoStartServer | JackUseExactName | JackServerName,
                                  &status, server)
               : jack_client_open(j->name, JackNoStartServer | JackUseExactName, &status);
    if (!j->client) {
        snprintf(err, errlen, "JACK client %s: %s (status 0x%x)", j->name,
                 status & JackServerFailed    ? "no JACK server is running"
                 : status & JackNameNotUnique ? "a client of that name is already connected"
                                              : "the server refused the client",
                 (unsigned)status);
        return -1;
    }
    jack_nframes_t rate = jack_get_sample_rate(j->client);
    jack_nframes_t frames = jack_get_buffer_size(j->client);
    const char *wrong = NULL;
    if (rate != n->cfg->sample_rate)
        wrong = "rate";
    else if (period && frames != period)
        wrong = "buffer size";
    if (wrong) {
        snprintf(err, errlen,
                 "JACK runs at %u Hz in %u-frame periods, this node at %u Hz in %u: another %s",
                 (unsigned)rate, (unsigned)frames, n->cfg->sample_rate,
                 period ? period : (unsigned)frames, wrong);
        jack_client_close(j->client);
        j->client = NULL;
        return -1;
    }
    atomic_store(&j->buffer_frames, frames);
    atomic_store(&j->rate, rate);
    atomic_store(&j->wrong_rate, false);
    atomic_store(&j->gone, false);
    if (jack_set_process_callback(j->client, on_process, j) != 0 ||
        jack_set_xrun_callback(j->client, on_xrun, j) != 0 ||
        jack_set_buffer_size_callback(j->client, on_buffer_size, j) != 0 ||
        jack_set_sample_rate_callback(j->client, on_sample_rate, j) != 0 ||
        jack_set_port_registration_callback(j->client, on_port_registration, j) != 0) {
        snprintf(err, errlen, "JACK client %s: callbacks refused", j->name);
        jack_client_close(j->client);
        j->client = NULL;
        return -1;
    }
    jack_on_info_shutdown(j->client, on_shutdown, j);
    return 0;
}

int jack_open(struct node *n, char *err, size_t errlen)
{
    struct node_jack *j = calloc(1, sizeof(*j));

    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n->jack = j;
    j->node = n;
    snprintf(j->name, sizeof(j->name), "%s", client_name(n->cfg));
    for (size_t i = 0; i < n->cfg->n_ios; i++)
        if (n->cfg->ios[i].type == CFG_TYPE_JACK && n->cfg->ios[i].clock)
            j->clock = true;
    if (client_up(n, 0, err, errlen) < 0)
        return -1;
    jack_nframes_t frames = jack_get_buffer_size(j->client);
    j->bridge_frames = frames;
    if (!j->clock)
        return 0;
    if (frames != n->period_frames)
        log_info("JACK client %s: periods of JACK's %u frames, not period_us's %u", j->name,
                 (unsigned)frames, n->period_frames);
    n->period_frames = frames;
    return 0;
}

/* Room for one more port in a map that grows on the control thread only. */
static struct jack_port_map *map_add(struct jack_port_map **map, unsigned *n, unsigned *cap)
{
    if (*n == *cap) {
        unsigned want = *cap ? 2 * *cap : 16;
        struct jack_port_map *m = realloc(*map, want * sizeof(*m));
        if (!m)
            return NULL;
        *map = m;
        *cap = want;
    }
    return &(*map)[(*n)++];
}

int jack_add_io(struct node *n, const struct cfg_io *io, struct engine_input *in,
                struct engine_output *out, char *err, size_t errlen)
{
    struct node_jack *j = n->jack;
    bool input = io->kind == CFG_INPUT;
    uint32_t first = input ? in->first_slot : out->first_dst;
    unsigned first_port = input ? j->n_in : j->n_out;

    if (io_device_attach(n, in, out, j->clock, j->bridge_frames, err, errlen) < 0)
        return -1;
    if (!j->clock) {
        struct jack_section *grown =
            realloc(j->sections, (j->n_sections + 1) * sizeof(*j->sections));
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        j->sections = grown;
        j->sections[j->n_sections++] = (struct jack_section){
            .io = io,
            .input = input,
            .first_port = first_port,
            .bridge = input ? in->bridge : out->bridge,
        };
    }

    for (unsigned c = 0; c < io->channels; c++) {
        struct jack_port_map *m = input ? map_add(&j->in, &j->n_in, &j->cap_in)
                                        : map_add(&j->out, &j->n_out, &j->cap_out);
        if (!m) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        m->index = first + c;
        m->name = io->names[c];
        m->port = jack_port_register(j->client, m->name, JACK_DEFAULT_AUDIO_TYPE,
                                     input ? JackPortIsInput : JackPortIsOutput, 0);
        if (!m->port) {
            snprintf(err, errlen, "%s %s: JACK refused its port %s", input ? "input" : "output",
                     io->name, io->names[c]);
            return -1;
        }
    }
    return 0;
}

/*
 * The connections one jack section asks for: its channel c to entry c of
 * connect. One already made is left as it is; one whose port is not there
 * is said in the log at start (first), and when it is made later.
 */
static void connect_io(struct node_jack *j, const struct cfg_io *io, unsigned first_port,
                       bool first)
{
    bool input = io->kind == CFG_INPUT;
    const char *s = io->connect;
    for (unsigned c = 0; c < io->channels && *s; c++) {
        size_t len = strcspn(s, ",");
        char theirs[CFG_PATH_MAX];
        snprintf(theirs, sizeof(theirs), "%.*s", (int)len, s);
        s += len + (s[len] == ',');
        if (!theirs[0])
            continue;
        jack_port_t *ours = input ? j->in[first_port + c].port : j->out[first_port + c].port;
        if (jack_port_connected_to(ours, theirs))
            continue;
        const char *ours_name = jack_port_name(ours);
        bool there = jack_port_by_name(j->client, theirs) != NULL;
        int rc = !there  ? -1
                 : input ? jack_connect(j->client, theirs, ours_name)
                         : jack_connect(j->client, ours_name, theirs);
        if (rc == 0 && !first)
            log_info("JACK: %s connected %s %s, which came back", ours_name, input ? "from" : "to",
                     theirs);
        else if (rc != 0 && rc != EEXIST && first)
            log_warn("JACK: cannot connect %s %s %s%s: connected when it appears", ours_name,
                     input ? "from" : "to", theirs, there ? "" : " (no such port)");
    }
}

/* Every connection the config asks for that is not made. */
static void connect_all(struct node *n, bool first)
{
    unsigned in = 0, out = 0;
    for (size_t i = 0; i < n->cfg->n_ios; i++) {
        const struct cfg_io *io = &n->cfg->ios[i];
        if (io->type != CFG_TYPE_JACK)
            continue;
        connect_io(n->jack, io, io->kind == CFG_INPUT ? in : out, first);
        *(io->kind == CFG_INPUT ? &in : &out) += io->channels;
    }
}

/*
 * The server came back: the client again, its ports under the same names,
 * active, connected. The engine was never stopped: its next period is late
 * by the whole outage, which re-anchors its clock (engine_tick), and every
 * flow's clock recovery starts again.
 */
static int come_back(struct node *n)
{
    struct node_jack *j = n->jack;
    char err[256];

    if (client_up(n, j->clock ? n->period_frames : j->bridge_frames, err, sizeof(err)) < 0) {
        if (!strstr(err, "no JACK server"))
            log_warn("%s", err);
        return -1;
    }
    bool ok = true;
    for (unsigned i = 0; ok && i < j->n_in + j->n_out; i++) {
        bool input = i < j->n_in;
        struct jack_port_map *m = input ? &j->in[i] : &j->out[i - j->n_in];
        m->port = jack_port_register(j->client, m->name, JACK_DEFAULT_AUDIO_TYPE,
                                     input ? JackPortIsInput : JackPortIsOutput, 0);
        ok = m->port != NULL;
    }
    if (!ok || jack_activate(j->client) != 0) {
        log_warn("JACK client %s: the server came back but refused the ports", j->name);
        jack_client_close(j->client);
        j->client = NULL;
        return -1;
    }
    j->active = true;
    connect_all(n, true);
    log_info("JACK client %s: the server is back, %u input and %u output ports again", j->name,
             j->n_in, j->n_out);
    return 0;
}

void jack_tick(struct node *n)
{
    struct node_jack *j = n->jack;
    if (!j)
        return;
    if (j->active && atomic_load_explicit(&j->gone, memory_order_acquire)) {
        /* Its threads are gone with the server: close what is left. */
        log_warn("JACK client %s: the server went away; the node's sound I/O stops until it is "
                 "back",
                 j->name);
        jack_client_close(j->client);
        j->client = NULL;
        j->active = false;
        j->retry_at_ns = engine_mono_ns();
    }
    if (!j->active) {
        int64_t now = engine_mono_ns();
        if (now >= j->retry_at_ns && come_back(n) < 0)
            j->retry_at_ns = now + JACK_RETRY_NS;
        return;
    }
    bool wrong = atomic_load_explicit(&j->wrong_rate, memory_order_relaxed);
    if (wrong != j->rate_said) {
        if (wrong)
            log_warn("JACK client %s: JACK now runs at %u Hz, this node at %u: its sound I/O is "
                     "silent until JACK is back at %u Hz",
                     j->name, atomic_load(&j->rate), n->cfg->sample_rate, n->cfg->sample_rate);
        else
            log_info("JACK client %s: JACK is back at %u Hz", j->name, n->cfg->sample_rate);
        j->rate_said = wrong;
    }
    if (atomic_exchange_explicit(&j->ports_came, false, memory_order_relaxed))
        connect_all(n, false);
}

int jack_start(struct node *n, char *err, size_t errlen)
{
    struct node_jack *j = n->jack;

    if (j->clock) {
        j->held = calloc((size_t)j->n_out * n->period_frames + 1, sizeof(float));
        if (!j->held) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        engine_start_external(&n->engine);
    }
    if (jack_activate(j->client) != 0) {
        snprintf(err, errlen, "JACK client %s: cannot activate", jack_get_client_name(j->client));
        return -1;
    }
    j->active = true;
    connect_all(n, true);
    log_info("JACK client %s: %u input and %u output ports, %u-frame periods at %u Hz",
             jack_get_client_name(j->client), j->n_in, j->n_out, n->period_frames,
             n->cfg->sample_rate);
    return 0;
}

void jack_get_stats(const struct node *n, struct jack_stats *out)
{
    const struct node_jack *j = n->jack;
    memset(out, 0, sizeof(*out));
    if (!j)
        return;
    snprintf(out->client, sizeof(out->client), "%s", j->name);
    out->online = j->active;
    out->buffer_frames = atomic_load(&j->buffer_frames);
    out->xruns = atomic_load(&j->xruns);
    out->misfits = atomic_load(&j->misfits);
}

void jack_devices(const struct node *n, json_t *list)
{
    const struct node_jack *j = n->jack;
    for (size_t i = 0; j && i < n->cfg->n_ios; i++) {
        const struct cfg_io *io = &n->cfg->ios[i];
        if (io->type != CFG_TYPE_JACK)
            continue;
        struct device_stats ds = { .io = io,
                                   .device = j->name,
                                   .online = j->active,
                                   .period_frames = atomic_load(&j->buffer_frames),
                                   .xruns = atomic_load(&j->xruns) };
        for (unsigned s = 0; s < j->n_sections; s++)
            if (j->sections[s].io == io)
                ds.bridge = j->sections[s].bridge;
        io_device_json(n, &ds, list);
    }
}

void jack_close(struct node *n)
{
    struct node_jack *j = n->jack;
    if (!j)
        return;
    if (j->client && j->active) {
        /* No callback runs after this returns: the engine can go. */
        jack_deactivate(j->client);
        jack_client_close(j->client);
    }
    free(j->in);
    free(j->out);
    free(j->sections);
    free(j->held);
    free(j);
    n->jack = NULL;
}
