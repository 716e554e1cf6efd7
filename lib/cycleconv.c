/*
 * cycleconv.c: a sound device's cycles to a node's periods (cycleconv.h).
 *
 * Two queues of planar lines: capture at the node's rate, filled by the
 * capture converter and emptied a period at a time; playback at the
 * device's rate, filled by the playback converter a period at a time and
 * emptied a cycle at a time. Both are linear: what is left after a cycle
 * moves to the front (under a period of capture; at most the prefill, a
 * cycle and a little of playback), so the period function and the
 * converters see plain arrays.
 *
 * The bounds, with n device frames in all, x = ceil(n * L / M) node frames
 * converted and m = floor(x / P) periods run (P the period):
 *  - capture holds under P frames between cycles, and a cycle adds at most
 *    ceil(cycle * L / M);
 *  - playback has produced ceil(m * P * M / L) frames, which is at least
 *    n - (P - 1) * M / L (m * P > x - P >= n * L / M - P): with the
 *    prefill of ceil((P - 1) * M / L) it never has fewer than the n frames
 *    consumed by the end of the cycle; and since m * P <= x < n * L / M +
 *    1, it never holds more than the prefill, the cycle, M / L and a frame.
 *
 * rateconv takes at most AOIP_RATECONV_MAX_CHANNELS lines in a converter;
 * more channels are converted in groups of that many, each its own
 * converter with the same filter, so the groups stay in step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/cycleconv.h"
#include "aoip/rateconv.h"

#define CC_MAX_FRAMES 65536u

/* One direction: its converters, its queue, and pointer scratch for calls. */
struct cc_side {
    unsigned channels, groups;
    struct aoip_rateconv **rc; /* groups of up to AOIP_RATECONV_MAX_CHANNELS lines */
    float *mem;
    float **line; /* channel c's queue: line[c][0..len) */
    float **at;   /* scratch: line[c] + some offset */
    uint32_t len, cap;
    double delay; /* the converter's, in its output frames */
};

struct aoip_cycleconv {
    struct aoip_cycleconv_config cfg;
    uint32_t up, down;   /* node rate / device rate, reduced: L and M */
    uint64_t dev_frames; /* n: device frames in all since the start */
    uint64_t converted;  /* x: node frames of capture made from them */
    uint32_t prefill;
    struct cc_side cap, play;
    float *period_mem; /* the period function's out lines */
    float **period_out;
};

static void side_free(struct cc_side *s)
{
    for (unsigned g = 0; s->rc && g < s->groups; g++)
        aoip_rateconv_free(s->rc[g]);
    free(s->rc);
    free(s->mem);
    free(s->line);
    free(s->at);
}

/*
 * A side of channels lines of cap frames, converting from in_rate to
 * out_rate in calls of up to max_in frames. A side of no channels still
 * knows its converter's delay (a converter of one line made to ask).
 */
static int side_init(struct cc_side *s, unsigned channels, uint32_t cap, uint32_t in_rate,
                     uint32_t out_rate, uint32_t max_in)
{
    struct aoip_rateconv_config rcfg = {
        .channels = 1, .in_rate = in_rate, .out_rate = out_rate, .max_in_frames = max_in
    };

    s->channels = channels;
    s->cap = cap;
    s->groups = (channels + AOIP_RATECONV_MAX_CHANNELS - 1) / AOIP_RATECONV_MAX_CHANNELS;
    if (channels == 0) {
        struct aoip_rateconv *probe = aoip_rateconv_new(&rcfg);
        if (!probe)
            return -1;
        s->delay = aoip_rateconv_delay(probe);
        aoip_rateconv_free(probe);
        return 0;
    }
    s->rc = calloc(s->groups, sizeof(*s->rc));
    s->mem = calloc((size_t)channels * cap, sizeof(float));
    s->line = calloc(channels, sizeof(*s->line));
    s->at = calloc(channels, sizeof(*s->at));
    if (!s->rc || !s->mem || !s->line || !s->at)
        return -1;
    for (unsigned c = 0; c < channels; c++)
        s->line[c] = s->mem + (size_t)c * cap;
    for (unsigned g = 0; g < s->groups; g++) {
        unsigned left = channels - g * AOIP_RATECONV_MAX_CHANNELS;
        rcfg.channels = left < AOIP_RATECONV_MAX_CHANNELS ? left : AOIP_RATECONV_MAX_CHANNELS;
        s->rc[g] = aoip_rateconv_new(&rcfg);
        if (!s->rc[g])
            return -1;
    }
    s->delay = aoip_rateconv_delay(s->rc[0]);
    return 0;
}

/* Convert in[c][0..frames) onto the end of the side's queue. */
static AOIP_RT void side_convert(struct cc_side *s, const float *const *in, uint32_t frames)
{
    uint32_t made = 0;
    for (unsigned c = 0; c < s->channels; c++)
        s->at[c] = s->line[c] + s->len;
    for (unsigned g = 0; g < s->groups; g++) {
        size_t first = (size_t)g * AOIP_RATECONV_MAX_CHANNELS;
        int n = aoip_rateconv_process(s->rc[g], in + first, frames, s->at + first);
        made = n > 0 ? (uint32_t)n : 0;
    }
    s->len += made;
}

/* Drop the first frames of the side's queue. */
static AOIP_RT void side_consume(struct cc_side *s, uint32_t frames)
{
    uint32_t left = s->len - frames;
    for (unsigned c = 0; c < s->channels && left > 0; c++)
        memmove(s->line[c], s->line[c] + frames, left * sizeof(float));
    s->len = left;
}

static AOIP_RT void side_reset(struct cc_side *s, uint32_t silence)
{
    for (unsigned g = 0; g < s->groups; g++)
        aoip_rateconv_reset(s->rc[g]);
    for (unsigned c = 0; c < s->channels; c++)
        memset(s->line[c], 0, silence * sizeof(float));
    s->len = silence;
}

struct aoip_cycleconv *aoip_cycleconv_new(const struct aoip_cycleconv_config *cfg)
{
    uint32_t up, down;

    if (!cfg || cfg->capture_channels > AOIP_CYCLECONV_MAX_CHANNELS ||
        cfg->playback_channels > AOIP_CYCLECONV_MAX_CHANNELS || cfg->period_frames < 1 ||
        cfg->period_frames > CC_MAX_FRAMES || cfg->max_cycle_frames < 1 ||
        cfg->max_cycle_frames > CC_MAX_FRAMES ||
        !aoip_rateconv_ratio(cfg->device_rate, cfg->node_rate, &up, &down))
        return NULL;
    struct aoip_cycleconv *cc = calloc(1, sizeof(*cc));
    if (!cc)
        return NULL;
    cc->cfg = *cfg;
    cc->up = up;
    cc->down = down;
    uint64_t p = cfg->period_frames;
    cc->prefill = (uint32_t)(((p - 1) * down + up - 1) / up);
    /* A cycle's capture at most, and under a period left from the last. */
    uint32_t cap_frames = (uint32_t)(((uint64_t)cfg->max_cycle_frames * up + down - 1) / down) +
                          cfg->period_frames + 1;
    /* The prefill, a cycle, M / L and a frame at most, and a period's worth of slack. */
    uint32_t play_frames =
        cc->prefill + cfg->max_cycle_frames + down / up + 2 + (uint32_t)((p * down + up - 1) / up);
    cc->period_out = calloc(cfg->playback_channels + 1, sizeof(*cc->period_out));
    cc->period_mem = calloc((size_t)cfg->playback_channels * p + 1, sizeof(float));
    if (!cc->period_out || !cc->period_mem ||
        side_init(&cc->cap, cfg->capture_channels, cap_frames, cfg->device_rate, cfg->node_rate,
                  cfg->max_cycle_frames) < 0 ||
        side_init(&cc->play, cfg->playback_channels, play_frames, cfg->node_rate, cfg->device_rate,
                  cfg->period_frames) < 0) {
        aoip_cycleconv_free(cc);
        return NULL;
    }
    for (unsigned c = 0; c < cfg->playback_channels; c++)
        cc->period_out[c] = cc->period_mem + (size_t)c * p;
    aoip_cycleconv_reset(cc);
    return cc;
}

void aoip_cycleconv_free(struct aoip_cycleconv *cc)
{
    if (!cc)
        return;
    side_free(&cc->cap);
    side_free(&cc->play);
    free(cc->period_out);
    free(cc->period_mem);
    free(cc);
}

void aoip_cycleconv_reset(struct aoip_cycleconv *cc)
{
    cc->dev_frames = 0;
    cc->converted = 0;
    side_reset(&cc->cap, 0);
    side_reset(&cc->play, cc->prefill);
}

int aoip_cycleconv_cycle(struct aoip_cycleconv *cc, const float *const *capture,
                         float *const *playback, uint32_t frames, aoip_cycleconv_period_fn period,
                         void *arg)
{
    const uint32_t p = cc->cfg.period_frames;
    struct cc_side *cap = &cc->cap, *play = &cc->play;

    if (frames > cc->cfg.max_cycle_frames) {
        for (unsigned c = 0; c < play->channels; c++)
            memset(playback[c], 0, frames * sizeof(float));
        return -EINVAL;
    }
    /* What the counts say the capture converter makes (it makes as much). */
    cc->dev_frames += frames;
    uint64_t converted = (cc->dev_frames * cc->up + cc->down - 1) / cc->down;
    uint32_t queued = cap->len + (uint32_t)(converted - cc->converted);
    cc->converted = converted;
    side_convert(cap, capture, frames);
    cap->len = queued; /* what it made, and a side of no lines counts as well */

    int runs = 0;
    uint32_t used = 0;
    for (; queued - used >= p; used += p, runs++) {
        for (unsigned c = 0; c < cap->channels; c++)
            cap->at[c] = cap->line[c] + used;
        period(arg, (const float *const *)cap->at, cc->period_out, queued - used - p);
        side_convert(play, (const float *const *)cc->period_out, p);
    }
    side_consume(cap, used);

    /* Never short (the prefill sees to it); a side of no lines only counts. */
    uint32_t have = play->channels ? play->len : frames;
    uint32_t give = have < frames ? have : frames;
    for (unsigned c = 0; c < play->channels; c++) {
        memcpy(playback[c], play->line[c], give * sizeof(float));
        memset(playback[c] + give, 0, (frames - give) * sizeof(float));
    }
    if (play->channels)
        side_consume(play, give);
    return runs;
}

double aoip_cycleconv_latency(const struct aoip_cycleconv *cc)
{
    return cc->prefill + cc->cap.delay * cc->down / cc->up + cc->play.delay;
}

uint32_t aoip_cycleconv_prefill(const struct aoip_cycleconv *cc)
{
    return cc->prefill;
}
