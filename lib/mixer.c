/*
 * mixer.c: the routing matrix, its mix, its gain ramps and its meters.
 *
 * Crosspoints live in one array allocated by aoip_mixer_new, kept sorted by
 * (destination, source). The mix walks destinations in order and each
 * destination's crosspoints are contiguous, so one pass over the array
 * sums every destination, and the order in which sources are added (and so
 * the exact float result) does not depend on the order routes were made.
 * Adding a crosspoint shifts the tail of the array up by one slot; that is
 * a memmove of at most MIXER_MAX_CROSSPOINTS small records, done once per
 * route change, never per period.
 *
 * Every change of a crosspoint's effective gain (gain, mute, add, remove)
 * starts a linear ramp from the gain applied to the last sample towards the
 * new target, ramp_frames long. Frame k of a ramp (counting from 0) gets
 * start + (k + 1) * step, computed from k itself rather than by adding step
 * once per frame, so a ramp gives the same samples however the periods cut
 * it, and its last frame lands on the target up to one rounding. A change
 * that arrives mid-ramp starts a new ramp from wherever the old one had
 * got to, so no change ever jumps. A removed crosspoint ramps to 0 and its
 * slot is freed at the end of the period in which the ramp ends.
 *
 * The inner loops are `d[i] += g * s[i]` and `d[i] += (g0 + k * dg) * s[i]`
 * over restrict pointers. gcc -O2 uses the "very cheap" vectorizer cost
 * model, which vectorizes a loop only when no scalar epilogue is needed, so
 * each loop runs first over the largest multiple of MIX_BLOCK frames (a
 * trip count gcc can see is a multiple of the vector width) and then over
 * the few frames left. At -O3 both halves vectorize.
 *
 * The mixer keeps no per-frame storage, so max_frames only bounds what a
 * configuration may ask for; every period is mixed in place in the
 * caller's destination buffers.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/mixer.h"

/*
 * Configuration limits. They keep a garbled configuration (a negative
 * number read as unsigned) from asking for gigabytes, and each is well past
 * what a real node needs.
 */

/* Sources and destinations each: a large Dante or MADI router is 512x512,
 * and a node with a few hundred buses on top still fits in 16384. */
#define MIXER_MAX_CHANNELS 16384u
/* At 0.13 to 0.2 ns per crosspoint-sample (bench_mixer, one x86-64 core,
 * SSE2; the higher figure while ramping) 65536 crosspoints take 0.4 to
 * 0.6 ms of a 1 ms, 48-frame period, as much as one core can give the mix
 * beside decoding, resampling and encoding. */
#define MIXER_MAX_CROSSPOINTS 65536u
/* JACK's largest period; beyond it latency is no longer live sound. */
#define MIXER_MAX_FRAMES 8192u
/* One second at 48 kHz. Longer is a fade, not click protection; it also
 * keeps every ramp position exact as a float (below 2^24). */
#define MIXER_MAX_RAMP_FRAMES 48000u
/* 5 ms at 48 kHz: long enough that a full-scale change moves at most
 * 1/240 of full scale per sample, short enough to feel immediate. */
#define MIXER_DEFAULT_RAMP_FRAMES 240u

/* The mix loops run over a multiple of this many frames, then a scalar
 * tail: see the file comment. */
#define MIX_BLOCK 16u
/* The meters keep four lanes (one SSE register) of peak and of sum of
 * squares: gcc may not reassociate a float sum, or a max that has to
 * respect NaN, into vector lanes itself. The lanes sum in float over at
 * most METER_CHUNK frames (256 squares each: relative error below 2e-5,
 * a ten-thousandth of a dB) and then into the meter's double. */
#define METER_LANES 4u
#define METER_CHUNK 1024u

struct crosspoint {
    uint32_t dst; /* sort key, first */
    uint32_t src; /* sort key, second */
    float gain;   /* linear, as last set (kept while muted) */
    float target; /* effective gain the ramp heads for: 0 when muted or removed */
    float start;  /* effective gain when the ramp began */
    float step;   /* (target - start) / ramp_frames */
    uint32_t pos; /* frames of the ramp done; ramp_frames once it has settled */
    bool mute;
    bool removing;
};

struct aoip_mixer {
    uint32_t sources;
    uint32_t destinations;
    uint32_t max_crosspoints;
    uint32_t max_frames;
    uint32_t ramp_frames;
    uint32_t count;
    bool fading_done; /* a removed crosspoint reached 0 this period */
    struct crosspoint *xp;
    struct aoip_meter *source_meters;
    uint32_t metered; /* sources with a meter: the first ones */
    struct aoip_meter *destination_meters;
};

struct aoip_mixer *aoip_mixer_new(const struct aoip_mixer_config *cfg)
{
    struct aoip_mixer *mx;
    uint32_t ramp;

    if (cfg == NULL)
        return NULL;
    if (cfg->sources == 0 || cfg->sources > MIXER_MAX_CHANNELS)
        return NULL;
    if (cfg->destinations == 0 || cfg->destinations > MIXER_MAX_CHANNELS)
        return NULL;
    if (cfg->max_crosspoints == 0 || cfg->max_crosspoints > MIXER_MAX_CROSSPOINTS)
        return NULL;
    if (cfg->max_frames == 0 || cfg->max_frames > MIXER_MAX_FRAMES)
        return NULL;
    ramp = cfg->ramp_frames ? cfg->ramp_frames : MIXER_DEFAULT_RAMP_FRAMES;
    if (ramp > MIXER_MAX_RAMP_FRAMES)
        return NULL;

    mx = calloc(1, sizeof(*mx));
    if (mx == NULL)
        return NULL;
    mx->sources = cfg->sources;
    mx->metered = cfg->metered_sources && cfg->metered_sources < cfg->sources ? cfg->metered_sources
                                                                              : cfg->sources;
    mx->destinations = cfg->destinations;
    mx->max_crosspoints = cfg->max_crosspoints;
    mx->max_frames = cfg->max_frames;
    mx->ramp_frames = ramp;
    mx->xp = calloc(cfg->max_crosspoints, sizeof(*mx->xp));
    mx->source_meters = calloc(cfg->sources, sizeof(*mx->source_meters));
    mx->destination_meters = calloc(cfg->destinations, sizeof(*mx->destination_meters));
    if (mx->xp == NULL || mx->source_meters == NULL || mx->destination_meters == NULL)
        goto fail;
    return mx;

fail:
    aoip_mixer_free(mx);
    return NULL;
}

void aoip_mixer_free(struct aoip_mixer *mx)
{
    if (mx == NULL)
        return;
    free(mx->xp);
    free(mx->source_meters);
    free(mx->destination_meters);
    free(mx);
}

/* Index of the first crosspoint not before (dst, src): where it is or
 * where it would go. */
static AOIP_RT uint32_t find(const struct aoip_mixer *mx, uint32_t src, uint32_t dst)
{
    uint64_t key = (uint64_t)dst << 32 | src;
    uint32_t lo = 0, hi = mx->count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t k = (uint64_t)mx->xp[mid].dst << 32 | mx->xp[mid].src;
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static AOIP_RT bool found(const struct aoip_mixer *mx, uint32_t i, uint32_t src, uint32_t dst)
{
    return i < mx->count && mx->xp[i].src == src && mx->xp[i].dst == dst;
}

/* The gain applied to the most recent sample. */
static AOIP_RT float current_gain(const struct aoip_mixer *mx, const struct crosspoint *x)
{
    if (x->pos >= mx->ramp_frames)
        return x->target;
    return x->start + (float)x->pos * x->step;
}

static AOIP_RT void retarget(const struct aoip_mixer *mx, struct crosspoint *x, float target)
{
    float now;

    if (target == x->target)
        return;
    now = current_gain(mx, x);
    x->start = now;
    x->target = target;
    x->step = (target - now) / (float)mx->ramp_frames;
    x->pos = 0;
}

AOIP_RT int aoip_mixer_set(struct aoip_mixer *mx, uint32_t src, uint32_t dst, float gain, bool mute)
{
    struct crosspoint *x;
    uint32_t i;

    if (src >= mx->sources || dst >= mx->destinations || !isfinite(gain))
        return -EINVAL;
    i = find(mx, src, dst);
    if (!found(mx, i, src, dst)) {
        if (mx->count == mx->max_crosspoints)
            return -ENOSPC;
        memmove(&mx->xp[i + 1], &mx->xp[i], (mx->count - i) * sizeof(*mx->xp));
        mx->count++;
        /* A new crosspoint starts settled at silence and fades in from it. */
        mx->xp[i] =
            (struct crosspoint){ .dst = dst, .src = src, .target = 0.0f, .pos = mx->ramp_frames };
    }
    x = &mx->xp[i];
    x->gain = gain;
    x->mute = mute;
    x->removing = false;
    retarget(mx, x, mute ? 0.0f : gain);
    return 0;
}

AOIP_RT int aoip_mixer_remove(struct aoip_mixer *mx, uint32_t src, uint32_t dst)
{
    uint32_t i = find(mx, src, dst);

    /* A crosspoint already fading out has been removed as far as the
     * caller can tell; only aoip_mixer_set brings it back. */
    if (!found(mx, i, src, dst) || mx->xp[i].removing)
        return -ENOENT;
    mx->xp[i].removing = true;
    retarget(mx, &mx->xp[i], 0.0f);
    return 0;
}

AOIP_RT uint32_t aoip_mixer_crosspoints(const struct aoip_mixer *mx)
{
    return mx->count;
}

static AOIP_RT void mix_gain(float *restrict d, const float *restrict s, float g, uint32_t n)
{
    uint32_t body = n & ~(MIX_BLOCK - 1);

    for (uint32_t i = 0; i < body; i++)
        d[i] += g * s[i];
    for (uint32_t i = body; i < n; i++)
        d[i] += g * s[i];
}

/* Frame i gets g0 + (k + i) * dg: the position k + i is exact in a float. */
static AOIP_RT void mix_ramp(float *restrict d, const float *restrict s, float g0, float dg,
                             int32_t k, uint32_t n)
{
    uint32_t body = n & ~(MIX_BLOCK - 1);

    for (uint32_t i = 0; i < body; i++)
        d[i] += (g0 + (float)(k + (int32_t)i) * dg) * s[i];
    for (uint32_t i = body; i < n; i++)
        d[i] += (g0 + (float)(k + (int32_t)i) * dg) * s[i];
}

static AOIP_RT void mix_crosspoint(struct aoip_mixer *mx, struct crosspoint *x,
                                   const float *restrict s, float *restrict d, uint32_t frames)
{
    uint32_t done = 0;

    if (x->pos < mx->ramp_frames) {
        uint32_t left = mx->ramp_frames - x->pos;
        done = left < frames ? left : frames;
        mix_ramp(d, s, x->start, x->step, (int32_t)x->pos + 1, done);
        x->pos += done;
    }
    if (x->pos < mx->ramp_frames)
        return;
    if (x->removing) {
        mx->fading_done = true;
        return;
    }
    /* Settled at 0 (muted) adds nothing, and skipping it keeps an inf or
     * NaN in a muted source out of the mix. */
    if (x->target != 0.0f && done < frames)
        mix_gain(d + done, s + done, x->target, frames - done);
}

/* Free the slots of removed crosspoints whose fade has ended, keeping the
 * order of the rest. */
static AOIP_RT void drop_faded(struct aoip_mixer *mx)
{
    uint32_t w = 0;

    for (uint32_t r = 0; r < mx->count; r++) {
        if (mx->xp[r].removing && mx->xp[r].pos >= mx->ramp_frames)
            continue;
        if (w != r)
            mx->xp[w] = mx->xp[r];
        w++;
    }
    mx->count = w;
    mx->fading_done = false;
}

AOIP_RT void aoip_mixer_process(struct aoip_mixer *mx, const float *const *src, float *const *dst,
                                uint32_t frames)
{
    uint32_t k = 0;

    for (uint32_t s = 0; s < mx->metered; s++)
        aoip_meter_update(&mx->source_meters[s], src[s], frames);

    for (uint32_t d = 0; d < mx->destinations; d++) {
        float *out = dst[d];
        for (uint32_t i = 0; i < frames; i++)
            out[i] = 0.0f;
        for (; k < mx->count && mx->xp[k].dst == d; k++)
            mix_crosspoint(mx, &mx->xp[k], src[mx->xp[k].src], out, frames);
        aoip_meter_update(&mx->destination_meters[d], out, frames);
    }

    if (mx->fading_done)
        drop_faded(mx);
}

static AOIP_RT void meter_take(struct aoip_meter *m, struct aoip_meter *out)
{
    *out = *m;
    *m = (struct aoip_meter){ 0 };
}

AOIP_RT void aoip_mixer_source_meter(struct aoip_mixer *mx, uint32_t src, struct aoip_meter *out)
{
    if (src >= mx->sources) {
        *out = (struct aoip_meter){ 0 };
        return;
    }
    meter_take(&mx->source_meters[src], out);
}

AOIP_RT void aoip_mixer_destination_meter(struct aoip_mixer *mx, uint32_t dst,
                                          struct aoip_meter *out)
{
    if (dst >= mx->destinations) {
        *out = (struct aoip_meter){ 0 };
        return;
    }
    meter_take(&mx->destination_meters[dst], out);
}

/* Four lanes of peak and sum of squares, one SSE register each. A NaN
 * sample fails the compare and leaves the peak alone. */
static inline void meter_lanes(float *restrict peak, float *restrict sum_sq,
                               const float *restrict x)
{
    for (uint32_t j = 0; j < METER_LANES; j++) {
        float a = fabsf(x[j]);
        peak[j] = a > peak[j] ? a : peak[j];
        sum_sq[j] += x[j] * x[j];
    }
}

static AOIP_RT void meter_chunk(struct aoip_meter *m, const float *x, size_t n)
{
    float peak[METER_LANES] = { 0 };
    float sum_sq[METER_LANES] = { 0 };
    size_t i = 0;

    for (; i + METER_LANES <= n; i += METER_LANES)
        meter_lanes(peak, sum_sq, x + i);
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        peak[0] = a > peak[0] ? a : peak[0];
        sum_sq[0] += x[i] * x[i];
    }
    for (uint32_t j = 0; j < METER_LANES; j++) {
        m->peak = peak[j] > m->peak ? peak[j] : m->peak;
        m->sum_sq += (double)sum_sq[j];
    }
}

AOIP_RT void aoip_meter_update(struct aoip_meter *m, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += METER_CHUNK)
        meter_chunk(m, x + i, n - i < METER_CHUNK ? n - i : METER_CHUNK);
    m->frames += n;
}

double aoip_meter_rms_dbfs(const struct aoip_meter *m)
{
    if (m->frames == 0 || !(m->sum_sq > 0.0))
        return -INFINITY;
    return 10.0 * log10(m->sum_sq / (double)m->frames);
}

double aoip_meter_peak_dbfs(const struct aoip_meter *m)
{
    if (!(m->peak > 0.0f))
        return -INFINITY;
    return 20.0 * log10((double)m->peak);
}

float aoip_db_to_gain(float db)
{
    if (db == -INFINITY)
        return 0.0f;
    return powf(10.0f, db / 20.0f);
}

/* A negative gain (polarity inverted) has the level of its magnitude. */
float aoip_gain_to_db(float gain)
{
    if (gain == 0.0f)
        return -INFINITY;
    return 20.0f * log10f(fabsf(gain));
}
