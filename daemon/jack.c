/*
 * jack.c: a node's JACK client (jack.h).
 *
 * Threads: jack_open, jack_add_io, jack_start, jack_tick and jack_close
 * run on the control thread; on_process runs on JACK's real-time thread and
 * is the node's media thread (it neither allocates, locks, logs nor
 * blocks: it copies, runs the engine's period and copies); on_xrun,
 * on_buffer_size and on_sample_rate run on JACK's notification thread and
 * only count or store; on_port_registration only raises a flag for
 * jack_tick, since JACK forbids connecting ports from its callbacks.
 *
 * A JACK whose rate is not the node's (a PipeWire graph switched to 44.1
 * kHz for a player), or whose cycles neither divide nor fill the node's
 * period, runs through a converter (jack_conv: cycleconv.h) that jack_tick
 * makes for it off the real-time thread and hands over with an atomic
 * pointer; until it is there the ports play silence (counted). The node
 * keeps its rate, its period and its flows: on JACK's clock still, when
 * JACK is the node's clock, each period run where the converted capture
 * completes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jack/jack.h>

#include "aoip/cycleconv.h"
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

/*
 * JACK's cycles to the node's periods when they do not line up: made by
 * jack_tick for JACK's rate of the moment, taken up by the process
 * callback, freed once a cycle has begun after another took its place.
 */
struct jack_conv {
    struct aoip_cycleconv *cc;
    uint32_t rate;         /* JACK's, that it converts from and to */
    uint32_t max_frames;   /* the longest cycle it takes */
    const float **capture; /* rt: the input ports' buffers of a cycle */
    float **playback;      /* rt: the output ports' */
};

/* The longest JACK cycle a converter is made for, unless JACK's is longer (PipeWire's limit). */
#define JACK_CONV_FRAMES 8192

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
    atomic_uint rate;      /* JACK's sample rate, as last reported */
    uint32_t rate_said;    /* the rate jack_tick last logged a change to (0: the node's) */
    uint32_t conv_refused; /* a rate no converter could be made for, said in the log */
    _Atomic(struct jack_conv *) conv; /* the converter the process callback is to use */
    struct jack_conv *retired;        /* one it used, to free after... */
    uint64_t retired_at;              /* ...a cycle that began after this count of cycles */
    atomic_ullong cycles;             /* process callbacks finished */
    atomic_bool converting;           /* the last cycle ran through conv */
    struct jack_conv *rt_conv;        /* rt: the converter of the last cycle, NULL: none */
    int64_t cycle_ns;                 /* rt: when this cycle began */
    uint32_t phase;                   /* rt: cycles of a period gathered, when cycles are shorter */
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
 * bridge, in pieces of the buffer size the bridge was made for (a cycle
 * that comes here is a whole number of those pieces, or one smaller piece).
 */
static AOIP_RT void process_bridged(struct node_jack *j, jack_nframes_t nframes)
{
    int64_t now = engine_mono_ns();
    float *bufs[CFG_IO_MAX_CHANNELS];
    uint32_t piece = nframes < j->bridge_frames ? nframes : j->bridge_frames;

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
 * Any other length goes through the converter.
 */
static AOIP_RT void process_clock(struct node_jack *j, jack_nframes_t nframes)
{
    struct engine *e = &j->node->engine;
    uint32_t period = e->cfg.period_frames;

    if (nframes >= period) {
        for (uint32_t at = 0; at < nframes; at += period) {
            for (unsigned i = 0; i < j->n_in; i++)
                memcpy(e->src[j->in[i].index],
                       (const float *)jack_port_get_buffer(j->in[i].port, nframes) + at,
                       period * sizeof(float));
            engine_tick(e, j->cycle_ns);
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
    engine_tick(e, j->cycle_ns);
    for (unsigned i = 0; i < j->n_out; i++)
        memcpy(j->held + (size_t)i * period, e->dst[j->out[i].index], period * sizeof(float));
}

/* When a period the converter runs began: after frames of capture at the node's rate ago. */
static AOIP_RT int64_t period_began(const struct node_jack *j, uint32_t after)
{
    return j->cycle_ns - (int64_t)((double)after * 1e9 / j->node->cfg->sample_rate);
}

/* A period through the converter with JACK as the node's clock: the engine's. */
static AOIP_RT void clock_period(void *arg, const float *const *in, float *const *out,
                                 uint32_t after)
{
    struct node_jack *j = arg;
    struct engine *e = &j->node->engine;
    size_t bytes = e->cfg.period_frames * sizeof(float);

    for (unsigned i = 0; i < j->n_in; i++)
        memcpy(e->src[j->in[i].index], in[i], bytes);
    engine_tick(e, period_began(j, after));
    for (unsigned i = 0; i < j->n_out; i++)
        memcpy(out[i], e->dst[j->out[i].index], bytes);
}

/* A period through the converter on another clock: each section to or from its bridge. */
static AOIP_RT void bridged_period(void *arg, const float *const *in, float *const *out,
                                   uint32_t after)
{
    struct node_jack *j = arg;
    int64_t at = period_began(j, after);

    for (unsigned s = 0; s < j->n_sections; s++) {
        const struct jack_section *sec = &j->sections[s];
        if (sec->input)
            aoip_bridge_push(sec->bridge, in + sec->first_port, j->bridge_frames, at);
        else
            aoip_bridge_pull(sec->bridge, out + sec->first_port, j->bridge_frames, at);
    }
}

/* A cycle through the converter; one it has not run the last cycle starts afresh. */
static AOIP_RT void process_converted(struct node_jack *j, struct jack_conv *cv,
                                      jack_nframes_t nframes)
{
    for (unsigned i = 0; i < j->n_in; i++)
        cv->capture[i] = jack_port_get_buffer(j->in[i].port, nframes);
    for (unsigned i = 0; i < j->n_out; i++)
        cv->playback[i] = jack_port_get_buffer(j->out[i].port, nframes);
    if (j->rt_conv != cv)
        aoip_cycleconv_reset(cv->cc);
    j->rt_conv = cv;
    aoip_cycleconv_cycle(cv->cc, cv->capture, cv->playback, nframes,
                         j->clock ? clock_period : bridged_period, j);
}

/*
 * The cycle's way: straight (JACK at the node's rate in cycles that are a
 * whole number of periods or a fraction of one), through the converter
 * jack_tick made for JACK's rate, or, until it has, silence (counted).
 */
static int on_process(jack_nframes_t nframes, void *arg)
{
    struct node_jack *j = arg;
    struct engine *e = &j->node->engine;
    uint32_t period = j->clock ? e->cfg.period_frames : j->bridge_frames;
    struct jack_conv *cv = atomic_load_explicit(&j->conv, memory_order_acquire);
    uint32_t rate = atomic_load_explicit(&j->rate, memory_order_relaxed);
    bool straight =
        rate == j->node->cfg->sample_rate && (nframes % period == 0 || period % nframes == 0);

    j->cycle_ns = engine_mono_ns();
    if (j->clock && !atomic_load_explicit(&e->running, memory_order_acquire)) {
        silence_outputs(j, nframes);
    } else if (straight) {
        if (j->rt_conv)
            j->phase = 0;
        j->rt_conv = NULL;
        if (j->clock)
            process_clock(j, nframes);
        else
            process_bridged(j, nframes);
    } else if (cv && cv->rate == rate && nframes <= cv->max_frames) {
        process_converted(j, cv, nframes);
    } else {
        j->rt_conv = NULL;
        silence_outputs(j, nframes);
        atomic_fetch_add_explicit(&j->misfits, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&j->converting, j->rt_conv != NULL, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->cycles, 1, memory_order_release);
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
 * Open the client and set the callbacks. Any rate and buffer size will do:
 * what does not line up with the node goes through a converter. -1 with
 * err set.
 */
static int client_up(struct node *n, char *err, size_t errlen)
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
    atomic_store(&j->buffer_frames, jack_get_buffer_size(j->client));
    atomic_store(&j->rate, rate);
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
    if (client_up(n, err, errlen) < 0)
        return -1;
    jack_nframes_t frames = jack_get_buffer_size(j->client);
    jack_nframes_t rate = jack_get_sample_rate(j->client);
    /* The node's period and the bridges' blocks are JACK's cycle, where JACK runs at the
     * node's rate; at another, the period period_us makes, the blocks as long as a cycle. */
    j->bridge_frames = rate == n->cfg->sample_rate
                           ? frames
                           : (uint32_t)((uint64_t)frames * n->cfg->sample_rate / rate + 1);
    if (!j->clock || rate != n->cfg->sample_rate)
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

static void conv_tick(struct node_jack *j);

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

    if (client_up(n, err, sizeof(err)) < 0) {
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
    conv_tick(j);
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

static void conv_free(struct jack_conv *cv)
{
    if (!cv)
        return;
    aoip_cycleconv_free(cv->cc);
    free(cv->capture);
    free(cv->playback);
    free(cv);
}

/* A converter for JACK at rate in cycles up to frames; NULL for a rate it cannot take. */
static struct jack_conv *conv_new(struct node_jack *j, uint32_t rate, uint32_t frames)
{
    struct node *n = j->node;
    struct jack_conv *cv = calloc(1, sizeof(*cv));
    struct aoip_cycleconv_config cfg = {
        .capture_channels = j->n_in,
        .playback_channels = j->n_out,
        .device_rate = rate,
        .node_rate = n->cfg->sample_rate,
        .period_frames = j->clock ? n->period_frames : j->bridge_frames,
        .max_cycle_frames = frames > JACK_CONV_FRAMES ? frames : JACK_CONV_FRAMES,
    };

    if (!cv)
        return NULL;
    cv->rate = rate;
    cv->max_frames = cfg.max_cycle_frames;
    cv->cc = aoip_cycleconv_new(&cfg);
    cv->capture = calloc(j->n_in + 1, sizeof(*cv->capture));
    cv->playback = calloc(j->n_out + 1, sizeof(*cv->playback));
    if (!cv->cc || !cv->capture || !cv->playback) {
        conv_free(cv);
        return NULL;
    }
    return cv;
}

/*
 * What JACK's rate and buffer size of now ask for: said in the log when the
 * rate changed, and a converter made and handed to the process callback
 * where they do not line up with the node. The converter it replaces is
 * freed once a cycle has ended after the handover (cycles run one after
 * another on JACK's one thread: none can be in the old one then).
 */
static void conv_tick(struct node_jack *j)
{
    struct node *n = j->node;
    uint32_t rate = atomic_load(&j->rate), frames = atomic_load(&j->buffer_frames);
    uint32_t period = j->clock ? n->period_frames : j->bridge_frames;

    if (rate != (j->rate_said ? j->rate_said : n->cfg->sample_rate)) {
        if (rate == n->cfg->sample_rate)
            log_info("JACK client %s: JACK is back at this node's %u Hz", j->name, rate);
        else
            log_info("JACK client %s: JACK now runs at %u Hz, this node at %u", j->name, rate,
                     n->cfg->sample_rate);
        j->rate_said = rate == n->cfg->sample_rate ? 0 : rate;
        j->conv_refused = 0;
    }
    if (j->retired) {
        if (j->active && atomic_load(&j->cycles) <= j->retired_at)
            return;
        conv_free(j->retired);
        j->retired = NULL;
    }
    struct jack_conv *cur = atomic_load(&j->conv);
    bool lines_up = rate == n->cfg->sample_rate && (frames % period == 0 || period % frames == 0);
    if (lines_up || (cur && cur->rate == rate && cur->max_frames >= frames) ||
        j->conv_refused == rate)
        return;
    struct jack_conv *cv = conv_new(j, rate, frames);
    if (!cv) {
        log_warn("JACK client %s: JACK's %u Hz cannot be converted to this node's %u: its sound "
                 "I/O is silent until JACK runs at another rate",
                 j->name, rate, n->cfg->sample_rate);
        j->conv_refused = rate;
        return;
    }
    log_info("JACK client %s: JACK's %u Hz in %u-frame cycles converted to this node's %u Hz in "
             "%u-frame periods, %.2f ms from JACK's inputs to its outputs through a copy",
             j->name, rate, frames, n->cfg->sample_rate, period,
             aoip_cycleconv_latency(cv->cc) * 1000.0 / rate);
    j->retired = atomic_exchange(&j->conv, cv);
    j->retired_at = atomic_load(&j->cycles);
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
    conv_tick(j);
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
    /* A JACK that does not line up with the node has its converter from the first cycle. */
    conv_tick(j);
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
    out->rate = atomic_load(&j->rate);
    out->converting = atomic_load(&j->converting);
    const struct jack_conv *cv = atomic_load(&j->conv);
    if (out->converting && cv)
        out->conversion_ms = aoip_cycleconv_latency(cv->cc) * 1000.0 / cv->rate;
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
                                   .rate = atomic_load(&j->rate),
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
    conv_free(atomic_load(&j->conv));
    conv_free(j->retired);
    free(j);
    n->jack = NULL;
}
