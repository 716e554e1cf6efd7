/*
 * alsa.c: a node's ALSA devices (alsa.h).
 *
 * Threads: alsa_open, alsa_add_io, alsa_start, alsa_tick and alsa_close run
 * on the control thread. Each device runs dev_main on a real-time thread
 * of its own, which waits on the device (snd_pcm_wait) and moves one
 * period at a time: with mmap access straight between the device's buffer
 * and the engine's (or the bridge's) planar buffers, converted on the way;
 * else through one period of interleaved samples (snd_pcm_readi/writei).
 * It neither allocates, locks nor logs: what goes wrong is left in the
 * device's state for alsa_tick to say.
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alsa.h"
#include "log.h"
#include "node.h"

/* How often a device that failed is looked for again. */
#define ALSA_RETRY_NS 1000000000
/* A device silent for this long has stopped: the thread ends and it is reopened. */
#define ALSA_SILENT_MS 1000

enum dev_state {
    DEV_CLOSED,  /* not open: failed, or never opened */
    DEV_OPEN,    /* open and set up, no thread */
    DEV_RUNNING, /* its thread moves periods */
    DEV_FAILED,  /* its thread ended on an error it could not recover from */
};

struct alsa_dev {
    struct node *node;
    const struct cfg_io *io;
    bool input;
    bool clock;
    struct engine_input *in;
    struct engine_output *out;

    snd_pcm_t *pcm;
    enum aoip_dev_format fmt;
    bool mmap;
    uint32_t period; /* frames */
    uint32_t buffer; /* frames */
    float **planar;  /* the thread's side of a period: the engine's buffers, or scratch */
    float *scratch;  /* bridged: channels x period */
    void *rw;        /* rw access: a period interleaved */

    pthread_t thread;
    atomic_bool run;
    _Atomic int state;
    _Atomic int error; /* what ended the thread, a negative errno */
    atomic_ullong xruns;
    int64_t retry_at_ns;
};

struct node_alsa {
    struct alsa_dev *devs;
    unsigned n;
};

bool alsa_wanted(const struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->n_ios; i++)
        if (cfg->ios[i].type == CFG_TYPE_ALSA)
            return true;
    return false;
}

static snd_pcm_format_t alsa_format(enum aoip_dev_format f)
{
    static const snd_pcm_format_t of[AOIP_DEV_FORMATS] = {
        [AOIP_DEV_S16_LE] = SND_PCM_FORMAT_S16_LE,     [AOIP_DEV_S24_3LE] = SND_PCM_FORMAT_S24_3LE,
        [AOIP_DEV_S24_LE] = SND_PCM_FORMAT_S24_LE,     [AOIP_DEV_S32_LE] = SND_PCM_FORMAT_S32_LE,
        [AOIP_DEV_FLOAT_LE] = SND_PCM_FORMAT_FLOAT_LE,
    };
    return of[f];
}

/*
 * Open the device and set it up: access, format, channels, rate (exactly
 * the node's: no resampling inside alsa-lib), period and buffer. want is
 * the period in frames; a device that came back must give the one it gave
 * before (want_exact). -1 with err set.
 */
static int dev_open(struct alsa_dev *d, uint32_t want, bool want_exact, char *err, size_t errlen)
{
    const struct cfg_io *io = d->io;
    uint32_t rate = d->node->cfg->sample_rate;
    snd_pcm_hw_params_t *hw;
    snd_pcm_sw_params_t *sw;
    const char *what = "open";
    int rc;

    rc = snd_pcm_open(&d->pcm, io->device,
                      d->input ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK, 0);
    if (rc < 0) {
        d->pcm = NULL;
        snprintf(err, errlen, "%s %s: ALSA device %s: %s", d->input ? "input" : "output", io->name,
                 io->device, snd_strerror(rc));
        return -1;
    }
    snd_pcm_hw_params_alloca(&hw);
    snd_pcm_sw_params_alloca(&sw);
    snd_pcm_hw_params_any(d->pcm, hw);

    /* mmap where the device offers it, unless access = says which. */
    d->mmap = io->access == CFG_ACCESS_MMAP ||
              (io->access == CFG_ACCESS_AUTO &&
               snd_pcm_hw_params_test_access(d->pcm, hw, SND_PCM_ACCESS_MMAP_INTERLEAVED) == 0);
    rc = snd_pcm_hw_params_set_access(
        d->pcm, hw, d->mmap ? SND_PCM_ACCESS_MMAP_INTERLEAVED : SND_PCM_ACCESS_RW_INTERLEAVED);
    if (rc < 0) {
        what = d->mmap ? "interleaved mmap access" : "interleaved read and write access";
        goto fail;
    }
    /* The format asked for, or the first the device takes of these. */
    static const enum aoip_dev_format prefer[] = { AOIP_DEV_S32_LE, AOIP_DEV_S24_3LE,
                                                   AOIP_DEV_S24_LE, AOIP_DEV_S16_LE,
                                                   AOIP_DEV_FLOAT_LE };
    rc = -EINVAL;
    for (size_t i = 0; i < sizeof(prefer) / sizeof(prefer[0]) && rc < 0; i++) {
        enum aoip_dev_format f = io->has_format ? io->format : prefer[i];
        if (snd_pcm_hw_params_test_format(d->pcm, hw, alsa_format(f)) == 0) {
            d->fmt = f;
            rc = snd_pcm_hw_params_set_format(d->pcm, hw, alsa_format(f));
        }
        if (io->has_format)
            break;
    }
    if (rc < 0) {
        what = io->has_format ? "the format asked for"
                              : "a sample format (S32, S24_3LE, S24, S16 or float)";
        goto fail;
    }
    if ((rc = snd_pcm_hw_params_set_channels(d->pcm, hw, io->channels)) < 0) {
        unsigned lo = 0, hi = 0;
        snd_pcm_hw_params_get_channels_min(hw, &lo);
        snd_pcm_hw_params_get_channels_max(hw, &hi);
        snprintf(err, errlen, "%s %s: ALSA device %s has %u..%u channels, not %u",
                 d->input ? "input" : "output", io->name, io->device, lo, hi, io->channels);
        goto close;
    }
    snd_pcm_hw_params_set_rate_resample(d->pcm, hw, 0);
    if ((rc = snd_pcm_hw_params_set_rate(d->pcm, hw, rate, 0)) < 0) {
        what = "the node's sample rate";
        goto fail;
    }
    snd_pcm_uframes_t period = want;
    int dir = 0;
    if ((rc = snd_pcm_hw_params_set_period_size_near(d->pcm, hw, &period, &dir)) < 0) {
        what = "a period size";
        goto fail;
    }
    unsigned periods = io->periods;
    if ((rc = snd_pcm_hw_params_set_periods_near(d->pcm, hw, &periods, &dir)) < 0) {
        what = "the periods";
        goto fail;
    }
    if ((rc = snd_pcm_hw_params(d->pcm, hw)) < 0) {
        what = "the setup";
        goto fail;
    }
    snd_pcm_uframes_t buffer = 0;
    snd_pcm_hw_params_get_period_size(hw, &period, &dir);
    snd_pcm_hw_params_get_buffer_size(hw, &buffer);
    if (want_exact && period != want) {
        snprintf(err, errlen, "%s %s: ALSA device %s came back with %lu-frame periods, not %u",
                 d->input ? "input" : "output", io->name, io->device, (unsigned long)period, want);
        goto close;
    }
    if (period > AOIP_RESAMPLE_MAX_FRAMES || buffer < 2 * period) {
        snprintf(err, errlen, "%s %s: ALSA device %s gives %lu-frame periods in %lu frames",
                 d->input ? "input" : "output", io->name, io->device, (unsigned long)period,
                 (unsigned long)buffer);
        goto close;
    }
    d->period = (uint32_t)period;
    d->buffer = (uint32_t)buffer;

    /* Woken a period at a time; the thread starts the device itself, and
     * an xrun stops it (to be recovered) rather than playing old samples. */
    snd_pcm_sw_params_current(d->pcm, sw);
    snd_pcm_sw_params_set_avail_min(d->pcm, sw, period);
    snd_pcm_sw_params_set_start_threshold(d->pcm, sw, d->input ? 1 : buffer);
    snd_pcm_sw_params_set_stop_threshold(d->pcm, sw, buffer);
    if ((rc = snd_pcm_sw_params(d->pcm, sw)) < 0) {
        what = "the software setup";
        goto fail;
    }
    atomic_store(&d->state, DEV_OPEN);
    return 0;

fail:
    snprintf(err, errlen, "%s %s: ALSA device %s refused %s: %s", d->input ? "input" : "output",
             io->name, io->device, what, snd_strerror(rc));
close:
    snd_pcm_close(d->pcm);
    d->pcm = NULL;
    return -1;
}

/* The buffers a device's periods come from or go to, once its period is known. */
static int dev_buffers(struct alsa_dev *d)
{
    unsigned ch = d->io->channels;
    struct engine *e = &d->node->engine;

    d->planar = calloc(ch, sizeof(float *));
    d->rw = malloc((size_t)d->period * ch * aoip_dev_format_width(d->fmt));
    if (!d->planar || !d->rw)
        return -1;
    if (d->clock) {
        for (unsigned c = 0; c < ch; c++)
            d->planar[c] = d->input ? e->src[d->in->first_slot + c] : e->dst[d->out->first_dst + c];
        return 0;
    }
    d->scratch = calloc((size_t)d->period * ch, sizeof(float));
    if (!d->scratch)
        return -1;
    for (unsigned c = 0; c < ch; c++)
        d->planar[c] = d->scratch + (size_t)c * d->period;
    return 0;
}

/*
 * Recover from what a call returned: an xrun (or a suspend) is counted and
 * the device prepared again; a playback device is filled with silence up
 * to a period short of its buffer and started. 0 when the device runs on.
 */
static AOIP_RT int dev_recover(struct alsa_dev *d, int rc)
{
    if (rc == -EPIPE || rc == -ESTRPIPE)
        atomic_fetch_add_explicit(&d->xruns, 1, memory_order_relaxed);
    if (snd_pcm_recover(d->pcm, rc, 1) < 0)
        return rc;
    return 0;
}

/* Move one period between the device and d->planar: pieces of its mmap'd buffer, or rw. */
static AOIP_RT int dev_transfer(struct alsa_dev *d)
{
    unsigned ch = d->io->channels;

    if (!d->mmap) {
        snd_pcm_sframes_t got;
        if (d->input) {
            got = snd_pcm_readi(d->pcm, d->rw, d->period);
            if (got == (snd_pcm_sframes_t)d->period)
                aoip_dev_decode(d->fmt, d->planar, 0, d->rw, ch, d->period);
        } else {
            aoip_dev_encode(d->fmt, d->rw, (const float *const *)d->planar, 0, ch, d->period);
            got = snd_pcm_writei(d->pcm, d->rw, d->period);
        }
        if (got < 0)
            return (int)got;
        return got == (snd_pcm_sframes_t)d->period ? 0 : -EIO;
    }
    uint32_t done = 0;
    while (done < d->period) {
        const snd_pcm_channel_area_t *areas;
        snd_pcm_uframes_t offset, frames = d->period - done;
        int rc = snd_pcm_mmap_begin(d->pcm, &areas, &offset, &frames);
        if (rc < 0)
            return rc;
        if (frames == 0)
            return -EIO;
        uint8_t *at = (uint8_t *)areas[0].addr + areas[0].first / 8 + offset * areas[0].step / 8;
        if (d->input)
            aoip_dev_decode(d->fmt, d->planar, done, at, ch, frames);
        else
            aoip_dev_encode(d->fmt, at, (const float *const *)d->planar, done, ch, frames);
        snd_pcm_sframes_t put = snd_pcm_mmap_commit(d->pcm, offset, frames);
        if (put < 0)
            return (int)put;
        if ((snd_pcm_uframes_t)put != frames)
            return -EIO;
        done += (uint32_t)frames;
    }
    return 0;
}

/* A playback device before it starts: silence up to a period short of its buffer. */
static AOIP_RT int dev_prefill(struct alsa_dev *d)
{
    for (uint32_t c = 0; c < d->io->channels; c++)
        memset(d->planar[c], 0, d->period * sizeof(float));
    while (1) {
        snd_pcm_sframes_t avail = snd_pcm_avail_update(d->pcm);
        if (avail < 0)
            return (int)avail;
        if ((uint32_t)avail < 2 * d->period)
            return 0;
        int rc = dev_transfer(d);
        if (rc < 0)
            return rc;
    }
}

static void *dev_main(void *arg)
{
    struct alsa_dev *d = arg;
    struct engine *e = &d->node->engine;
    int silent_ms = 0, rc = 0;
    bool primed = false;
    /* A wait of a few periods: a device that keeps time wakes us well before. */
    int wait_ms = (int)(4000ull * d->period / d->node->cfg->sample_rate) + 10;

    engine_realtime();
    while (atomic_load_explicit(&d->run, memory_order_acquire)) {
        if (!primed) {
            rc = d->input ? snd_pcm_start(d->pcm) : dev_prefill(d);
            if (rc == 0 && !d->input)
                rc = snd_pcm_start(d->pcm);
            if (rc < 0 && dev_recover(d, rc) < 0)
                break;
            primed = rc == 0;
            continue;
        }
        snd_pcm_sframes_t avail = snd_pcm_avail_update(d->pcm);
        if (avail >= 0 && (uint32_t)avail < d->period) {
            int w = snd_pcm_wait(d->pcm, wait_ms);
            if (w == 0) {
                silent_ms += wait_ms;
                if (silent_ms >= ALSA_SILENT_MS) {
                    rc = -ETIMEDOUT;
                    break;
                }
                continue;
            }
            avail = w < 0 ? w : snd_pcm_avail_update(d->pcm);
        }
        if (avail < 0) {
            if (dev_recover(d, (int)avail) < 0) {
                rc = (int)avail;
                break;
            }
            primed = false;
            continue;
        }
        if ((uint32_t)avail < d->period)
            continue;
        silent_ms = 0;
        int64_t now = engine_mono_ns();
        if (!d->input) {
            if (d->clock)
                engine_tick(e, now);
            else
                aoip_bridge_pull(d->out->bridge, d->planar, d->period, now);
        }
        rc = dev_transfer(d);
        if (rc < 0) {
            if (dev_recover(d, rc) < 0)
                break;
            primed = false;
            continue;
        }
        if (d->input) {
            if (d->clock)
                engine_tick(e, now);
            else
                aoip_bridge_push(d->in->bridge, (const float *const *)d->planar, d->period, now);
        }
    }
    atomic_store_explicit(&d->error, rc, memory_order_relaxed);
    atomic_store_explicit(
        &d->state, atomic_load_explicit(&d->run, memory_order_acquire) ? DEV_FAILED : DEV_OPEN,
        memory_order_release);
    return NULL;
}

static int dev_start(struct alsa_dev *d)
{
    atomic_store(&d->run, true);
    atomic_store(&d->state, DEV_RUNNING);
    snd_pcm_prepare(d->pcm);
    if (pthread_create(&d->thread, NULL, dev_main, d) != 0) {
        atomic_store(&d->state, DEV_OPEN);
        return -1;
    }
    return 0;
}

/* Stop its thread, if it has one, and close it. */
static void dev_shut(struct alsa_dev *d)
{
    int state = atomic_load(&d->state);
    if (state == DEV_RUNNING || state == DEV_FAILED) {
        atomic_store(&d->run, false);
        pthread_join(d->thread, NULL);
    }
    if (d->pcm) {
        snd_pcm_drop(d->pcm);
        snd_pcm_close(d->pcm);
        d->pcm = NULL;
    }
    atomic_store(&d->state, DEV_CLOSED);
}

int alsa_open(struct node *n, char *err, size_t errlen)
{
    struct node_alsa *a = calloc(1, sizeof(*a));
    if (!a || !(a->devs = calloc(n->cfg->n_ios, sizeof(*a->devs)))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    n->alsa = a;
    for (size_t i = 0; i < n->cfg->n_ios; i++) {
        const struct cfg_io *io = &n->cfg->ios[i];
        if (io->type != CFG_TYPE_ALSA)
            continue;
        struct alsa_dev *d = &a->devs[a->n++];
        d->node = n;
        d->io = io;
        d->input = io->kind == CFG_INPUT;
        d->clock = io->clock;
        if (dev_open(d, cfg_frames_of_us(n->cfg, io->period_us), false, err, errlen) < 0)
            return -1;
        if (d->clock) {
            if (d->period != n->period_frames)
                log_info("ALSA %s: the node's periods are the device's %u frames", io->device,
                         d->period);
            n->period_frames = d->period;
        }
    }
    return 0;
}

int alsa_add_io(struct node *n, const struct cfg_io *io, struct engine_input *in,
                struct engine_output *out, char *err, size_t errlen)
{
    struct alsa_dev *d = NULL;
    for (unsigned i = 0; i < n->alsa->n && !d; i++)
        if (n->alsa->devs[i].io == io)
            d = &n->alsa->devs[i];
    d->in = in;
    d->out = out;
    if (io_device_attach(n, in, out, d->clock, d->period, err, errlen) < 0)
        return -1;
    if (dev_buffers(d) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static const char *access_word(const struct alsa_dev *d)
{
    return d->mmap ? "mmap" : "rw";
}

int alsa_start(struct node *n, char *err, size_t errlen)
{
    struct node_alsa *a = n->alsa;
    for (unsigned i = 0; i < a->n; i++) {
        struct alsa_dev *d = &a->devs[i];
        if (d->clock)
            engine_start_external(&n->engine);
        if (dev_start(d) < 0) {
            snprintf(err, errlen, "ALSA %s: cannot start its thread", d->io->device);
            return -1;
        }
        log_info("ALSA %s (%s %s): %u channels of %s, %s access, %u-frame periods in %u%s",
                 d->io->device, d->input ? "input" : "output", d->io->name, d->io->channels,
                 aoip_dev_format_name(d->fmt), access_word(d), d->period, d->buffer,
                 d->clock ? ", the node's clock" : ", resampled to the node's clock");
    }
    return 0;
}

void alsa_tick(struct node *n)
{
    struct node_alsa *a = n->alsa;
    for (unsigned i = 0; a && i < a->n; i++) {
        struct alsa_dev *d = &a->devs[i];
        int state = atomic_load_explicit(&d->state, memory_order_acquire);
        int64_t now = engine_mono_ns();
        if (state == DEV_FAILED) {
            int rc = atomic_load(&d->error);
            log_warn("ALSA %s (%s %s): %s; %s until it is back", d->io->device,
                     d->input ? "input" : "output", d->io->name,
                     rc == -ETIMEDOUT ? "stopped delivering periods" : snd_strerror(rc),
                     d->clock ? "the node's periods stop" : "its channels are silent");
            dev_shut(d);
            d->retry_at_ns = now;
            state = DEV_CLOSED;
        }
        if (state != DEV_CLOSED || now < d->retry_at_ns)
            continue;
        char err[256];
        d->retry_at_ns = now + ALSA_RETRY_NS;
        if (dev_open(d, d->period, true, err, sizeof(err)) < 0)
            continue;
        if (dev_start(d) < 0) {
            dev_shut(d);
            continue;
        }
        log_info("ALSA %s (%s %s): back, %u-frame periods", d->io->device,
                 d->input ? "input" : "output", d->io->name, d->period);
    }
}

void alsa_stats(const struct node *n, json_t *list)
{
    const struct node_alsa *a = n->alsa;
    for (unsigned i = 0; a && i < a->n; i++) {
        const struct alsa_dev *d = &a->devs[i];
        struct device_stats ds = {
            .io = d->io,
            .device = d->io->device,
            .online = atomic_load(&d->state) == DEV_RUNNING,
            .period_frames = d->period,
            .periods = d->period ? d->buffer / d->period : 0,
            .format = aoip_dev_format_name(d->fmt),
            .access = access_word(d),
            .xruns = atomic_load(&d->xruns),
            .bridge = d->clock ? NULL
                      : d->in  ? d->in->bridge
                               : d->out->bridge,
        };
        io_device_json(n, &ds, list);
    }
}

void alsa_close(struct node *n)
{
    struct node_alsa *a = n->alsa;
    if (!a)
        return;
    for (unsigned i = 0; i < a->n; i++) {
        struct alsa_dev *d = &a->devs[i];
        dev_shut(d);
        free(d->planar);
        free(d->scratch);
        free(d->rw);
    }
    free(a->devs);
    free(a);
    n->alsa = NULL;
}
