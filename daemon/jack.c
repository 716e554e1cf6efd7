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
    uint32_t index; /* source slot (input) or destination (output) */
};

struct node_jack {
    struct node *node;
    jack_client_t *client;
    struct jack_port_map *in, *out;
    unsigned n_in, n_out, cap_in, cap_out;
    atomic_uint buffer_frames;
    atomic_ullong xruns;
    atomic_ullong misfits;
    atomic_bool ports_came; /* a port registered somewhere: connect what is missing */
    bool active;
};

bool jack_wanted(const struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].type == CFG_TYPE_JACK)
            return true;
    return false;
}

static int on_process(jack_nframes_t nframes, void *arg)
{
    struct node_jack *j = arg;
    struct engine *e = &j->node->engine;

    if (nframes != e->cfg.period_frames ||
        !atomic_load_explicit(&e->running, memory_order_acquire)) {
        for (unsigned i = 0; i < j->n_out; i++)
            memset(jack_port_get_buffer(j->out[i].port, nframes), 0, nframes * sizeof(float));
        if (nframes != e->cfg.period_frames)
            atomic_fetch_add_explicit(&j->misfits, 1, memory_order_relaxed);
        return 0;
    }
    for (unsigned i = 0; i < j->n_in; i++)
        memcpy(e->src[j->in[i].index], jack_port_get_buffer(j->in[i].port, nframes),
               nframes * sizeof(float));
    engine_tick(e);
    for (unsigned i = 0; i < j->n_out; i++)
        memcpy(jack_port_get_buffer(j->out[i].port, nframes), e->dst[j->out[i].index],
               nframes * sizeof(float));
    return 0;
}

static int on_xrun(void *arg)
{
    struct node_jack *j = arg;
    atomic_fetch_add_explicit(&j->xruns, 1, memory_order_relaxed);
    return 0;
}

static int on_buffer_size(jack_nframes_t nframes, void *arg)
{
    struct node_jack *j = arg;
    atomic_store_explicit(&j->buffer_frames, nframes, memory_order_relaxed);
    return 0;
}

static void on_port_registration(jack_port_id_t port, int registered, void *arg)
{
    struct node_jack *j = arg;
    (void)port;
    if (registered)
        atomic_store_explicit(&j->ports_came, true, memory_order_relaxed);
}

/* The client name every jack section of the node carries (config.c). */
static const char *client_name(const struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].type == CFG_TYPE_JACK)
            return cfg->ios[i].client_name;
    return NULL;
}

int jack_open(struct node *n, char *err, size_t errlen)
{
    struct node_jack *j = calloc(1, sizeof(*j));
    jack_status_t status = 0;

    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n->jack = j;
    j->node = n;
    const char *name = client_name(n->cfg);
    /* The exact name: a second node of the same name is a mistake to see,
     * not a client to rename behind the operator's back. */
    j->client = jack_client_open(name, JackNoStartServer | JackUseExactName, &status);
    if (!j->client) {
        snprintf(err, errlen, "JACK client %s: %s (status 0x%x)", name,
                 status & JackServerFailed    ? "no JACK server is running"
                 : status & JackNameNotUnique ? "a client of that name is already connected"
                                              : "the server refused the client",
                 (unsigned)status);
        return -1;
    }
    jack_nframes_t rate = jack_get_sample_rate(j->client);
    if (rate != n->cfg->sample_rate) {
        snprintf(err, errlen, "JACK runs at %u Hz and this node at %u Hz (sample_rate)",
                 (unsigned)rate, n->cfg->sample_rate);
        return -1;
    }
    jack_nframes_t frames = jack_get_buffer_size(j->client);
    atomic_init(&j->buffer_frames, frames);
    if (frames != n->period_frames)
        log_info("JACK client %s: periods of JACK's %u frames, not period_us's %u", name,
                 (unsigned)frames, n->period_frames);
    n->period_frames = frames;
    if (jack_set_process_callback(j->client, on_process, j) != 0 ||
        jack_set_xrun_callback(j->client, on_xrun, j) != 0 ||
        jack_set_buffer_size_callback(j->client, on_buffer_size, j) != 0 ||
        jack_set_port_registration_callback(j->client, on_port_registration, j) != 0) {
        snprintf(err, errlen, "JACK client %s: callbacks refused", name);
        return -1;
    }
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

int jack_add_io(struct node *n, const struct cfg_io *io, uint32_t first, char *err, size_t errlen)
{
    struct node_jack *j = n->jack;
    bool input = io->kind == CFG_INPUT;

    for (unsigned c = 0; c < io->channels; c++) {
        struct jack_port_map *m = input ? map_add(&j->in, &j->n_in, &j->cap_in)
                                        : map_add(&j->out, &j->n_out, &j->cap_out);
        if (!m) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        m->index = first + c;
        m->port = jack_port_register(j->client, io->names[c], JACK_DEFAULT_AUDIO_TYPE,
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

void jack_tick(struct node *n)
{
    struct node_jack *j = n->jack;
    if (j && j->active && atomic_exchange_explicit(&j->ports_came, false, memory_order_relaxed))
        connect_all(n, false);
}

int jack_start(struct node *n, char *err, size_t errlen)
{
    struct node_jack *j = n->jack;

    engine_start_external(&n->engine);
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
    if (!j || !j->client)
        return;
    snprintf(out->client, sizeof(out->client), "%s", jack_get_client_name(j->client));
    out->buffer_frames = atomic_load(&j->buffer_frames);
    out->xruns = atomic_load(&j->xruns);
    out->misfits = atomic_load(&j->misfits);
}

void jack_close(struct node *n)
{
    struct node_jack *j = n->jack;
    if (!j)
        return;
    if (j->client) {
        /* No callback runs after this returns: the engine can go. */
        jack_deactivate(j->client);
        jack_client_close(j->client);
    }
    free(j->in);
    free(j->out);
    free(j);
    n->jack = NULL;
}
