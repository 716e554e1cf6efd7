/*
 * latency.c: the adaptive latency target of a receive flow (see latency.h
 * for the contract).
 *
 * Time is cut into sub-windows of one second of arrivals; the last ten are
 * kept in a ring. Each holds the lowest relative delay that arrived in it
 * (and when), and a histogram of the delays above the floor that arrived in
 * it. The sum of the histograms is the distribution over the last ~10 s: a
 * sub-window that leaves the ring is subtracted from it, so memory is
 * bounded and the work per packet is O(1), with an O(bins) pass once a
 * second.
 *
 * The floor: the sender's clock and ours differ by a constant and a drift,
 * so the minima of the sub-windows lie on a line, not a level. Its slope is
 * the median of the slopes between pairs of sub-window minima (Theil-Sen:
 * robust to a few seconds of congestion that lift one minimum), and the
 * floor is the lowest minimum carried along that slope to the present.
 *
 * The histogram has exact one-frame bins up to 64 frames and 32 bins per
 * octave above (3 % resolution), 704 in all, enough for 2^26 frames; the
 * quantile reads the upper edge of its bin, erring high. It is a bin index
 * moved as delays are added, and found afresh when a sub-window leaves.
 *
 * What the measurements ask for (raw) is the quantile, or the second latest
 * of the last eight packets if that is more: one late packet is jitter the
 * quantile allows, two in eight say the network got worse before ten
 * seconds of quantile can. The target rises to raw at once. The hold time is
 * kept as 30 slices, each with the highest raw seen in it; the target falls
 * only to the highest of them, by at most fall_ppm, so it keeps what was
 * needed at any time in the hold and lets go of it slowly. When it must
 * rise again after it fell, the calm it fell in was not calm: the hold
 * doubles (up to 16 times), so a network with a delay spike every minute
 * or so keeps the target that covers the spikes instead of see-sawing.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/latency.h"

/* Sub-windows of one second, ten of them: the minimum and the quantile span 10 s. */
#define LAT_WINDOWS 10

/* Bins: exact below 64 frames, 32 per octave from 2^6 to 2^26 frames. */
#define LAT_LINEAR     64
#define LAT_PER_OCTAVE 32
#define LAT_OCTAVES    20
#define LAT_BINS       (LAT_LINEAR + LAT_PER_OCTAVE * LAT_OCTAVES)
#define LAT_MAX_DELAY  ((UINT32_C(1) << 26) - 1)

/* The hold time is kept as this many slices, each with the highest need in it. */
#define LAT_HOLD_BUCKETS 30

/* A hold that proved too short doubles, up to this many times its configured length. */
#define LAT_HOLD_GROWTH 16.0

/* Recent packets watched for a sudden rise. */
#define LAT_RECENT 8

/*
 * The floor's slope is clamped to this (frames per frame): 2000 ppm, twice
 * the drift clock recovery follows; a larger one is a path change, not a
 * clock.
 */
#define LAT_MAX_SLOPE 0.002

/* Defaults of the config's zeros. */
#define LAT_DEFAULT_QUANTILE   0.999
#define LAT_DEFAULT_HOLD_S     30
#define LAT_DEFAULT_FALL_PPM   500
#define LAT_DEFAULT_MARGIN_DIV 4000 /* a quarter millisecond: rate / 4000 */

/* A histogram of relative delays. */
struct lat_hist {
    uint32_t count[LAT_BINS];
    uint64_t n;
};

/*
 * A quantile of a histogram that grows a delay at a time: qbin is the
 * lowest bin such that at most (1 - level) n delays lie above it.
 */
struct lat_quantile {
    double level;
    unsigned qbin;
    uint64_t above; /* delays in bins above qbin */
};

struct lat_window {
    uint64_t count;
    double min;    /* lowest relative delay that arrived in it */
    double min_at; /* its arrival */
    uint32_t hist[LAT_BINS];
};

struct aoip_latency {
    /* The config, defaults applied. */
    double sub_len;
    double extra; /* packet + period + margin */
    double floor, ceiling;
    double fall; /* frames per frame */

    bool started;
    double t0;   /* arrival of the first packet */
    int64_t ts0; /* its timestamp: delays are taken relative to it, to keep precision */
    double sub_start;
    unsigned cur;
    struct lat_window win[LAT_WINDOWS];
    struct lat_hist all; /* the sum of the sub-windows' histograms: the last ~10 s */
    struct lat_quantile q;
    double slope;

    double late[LAT_RECENT];
    unsigned late_n, late_at;

    double raw;    /* what the measurements ask for, clamped */
    double target; /* what is returned */
    /* The highest raw of each of the last LAT_HOLD_BUCKETS slices of the hold
     * time, the current one being held[hb]: the target falls only to their
     * maximum, so it holds what was needed over the whole hold time. */
    double held[LAT_HOLD_BUCKETS];
    unsigned hb;
    double hb_start, hb_len, hb_len_max;
    bool fell; /* the target has fallen since it last rose */
    bool have_now;
    double last_now;
    uint64_t packets;
};

static AOIP_RT unsigned bin_of(double delay)
{
    double up = ceil(delay);
    uint32_t v = up <= 0.0 ? 0 : up >= (double)LAT_MAX_DELAY ? LAT_MAX_DELAY : (uint32_t)up;
    unsigned e = 6;

    if (v < LAT_LINEAR)
        return v;
    while (v >> (e + 1))
        e++;
    return LAT_LINEAR + (e - 6) * LAT_PER_OCTAVE + ((v >> (e - 5)) & (LAT_PER_OCTAVE - 1));
}

/* The largest delay, in frames, that falls in bin b. */
static AOIP_RT double bin_top(unsigned b)
{
    unsigned e, sub;

    if (b < LAT_LINEAR)
        return b;
    e = 6 + (b - LAT_LINEAR) / LAT_PER_OCTAVE;
    sub = (b - LAT_LINEAR) % LAT_PER_OCTAVE;
    return (double)(((uint64_t)(LAT_PER_OCTAVE + sub + 1) << (e - 5)) - 1);
}

/* How many of n delays may lie above the quantile. */
static AOIP_RT uint64_t allowed(const struct lat_quantile *q, uint64_t n)
{
    return (uint64_t)((1.0 - q->level) * (double)n);
}

/* The quantile's bin found afresh. */
static AOIP_RT void quantile_rescan(struct lat_quantile *q, const struct lat_hist *h)
{
    uint64_t limit = allowed(q, h->n), above = 0;
    unsigned b;

    for (b = LAT_BINS - 1; b > 0; b--) {
        if (above + h->count[b] > limit)
            break;
        above += h->count[b];
    }
    q->qbin = b;
    q->above = above;
}

/* A delay was added to bin b of h: move the quantile's bin. */
static AOIP_RT void quantile_added(struct lat_quantile *q, const struct lat_hist *h, unsigned b)
{
    uint64_t limit = allowed(q, h->n);

    if (b > q->qbin)
        q->above++;
    while (q->above > limit) {
        q->qbin++;
        q->above -= h->count[q->qbin];
    }
    while (q->qbin > 0 && q->above + h->count[q->qbin] <= limit) {
        q->above += h->count[q->qbin];
        q->qbin--;
    }
}

static AOIP_RT double quantile_frames(const struct lat_quantile *q, const struct lat_hist *h)
{
    return h->n ? bin_top(q->qbin) : 0.0;
}

static AOIP_RT void window_clear(struct lat_window *w)
{
    memset(w->hist, 0, sizeof(w->hist));
    w->count = 0;
    w->min = INFINITY;
    w->min_at = 0.0;
}

/* Theil-Sen slope of the minima of the sub-windows. */
static AOIP_RT void estimate_slope(struct aoip_latency *lt)
{
    double s[LAT_WINDOWS * (LAT_WINDOWS - 1) / 2];
    unsigned n = 0;

    for (unsigned i = 0; i < LAT_WINDOWS; i++) {
        const struct lat_window *a = &lt->win[i];

        if (!a->count)
            continue;
        for (unsigned j = i + 1; j < LAT_WINDOWS; j++) {
            const struct lat_window *b = &lt->win[j];
            double dt = b->min_at - a->min_at;

            /* Minima close in time say little about a slope. */
            if (!b->count || fabs(dt) < 0.5 * lt->sub_len)
                continue;
            s[n++] = (b->min - a->min) / dt;
        }
    }
    if (!n)
        return;
    for (unsigned i = 1; i < n; i++) {
        double v = s[i];
        unsigned j = i;

        for (; j > 0 && s[j - 1] > v; j--)
            s[j] = s[j - 1];
        s[j] = v;
    }
    lt->slope = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    lt->slope = fmin(fmax(lt->slope, -LAT_MAX_SLOPE), LAT_MAX_SLOPE);
}

/* Move the ring of sub-windows on to the one that holds time t. */
static AOIP_RT void rotate(struct aoip_latency *lt, double t)
{
    double steps = floor((t - lt->sub_start) / lt->sub_len);

    if (!(steps >= 1.0))
        return;
    /* Silent for longer than the ring spans: nothing in it is current. */
    if (steps > LAT_WINDOWS)
        steps = LAT_WINDOWS;
    for (unsigned k = 0; k < (unsigned)steps; k++) {
        struct lat_window *w;

        lt->cur = (lt->cur + 1) % LAT_WINDOWS;
        w = &lt->win[lt->cur];
        for (unsigned b = 0; b < LAT_BINS; b++)
            lt->all.count[b] -= w->hist[b];
        lt->all.n -= w->count;
        window_clear(w);
    }
    lt->sub_start += floor((t - lt->sub_start) / lt->sub_len) * lt->sub_len;
    quantile_rescan(&lt->q, &lt->all);
    estimate_slope(lt);
}

/* Move the slices of the hold time on to the one that holds time t. */
static AOIP_RT void hold_rotate(struct aoip_latency *lt, double t)
{
    double steps = floor((t - lt->hb_start) / lt->hb_len);

    if (!(steps >= 1.0))
        return;
    if (steps > LAT_HOLD_BUCKETS)
        steps = LAT_HOLD_BUCKETS;
    /* A new slice starts with what is needed now. */
    for (unsigned k = 0; k < (unsigned)steps; k++) {
        lt->hb = (lt->hb + 1) % LAT_HOLD_BUCKETS;
        lt->held[lt->hb] = lt->raw;
    }
    lt->hb_start += floor((t - lt->hb_start) / lt->hb_len) * lt->hb_len;
}

/* The floor of the relative delay at time t: the minima carried along the slope. */
static AOIP_RT double floor_at(const struct aoip_latency *lt, double t)
{
    double f = INFINITY;

    for (unsigned i = 0; i < LAT_WINDOWS; i++) {
        const struct lat_window *w = &lt->win[i];

        if (w->count)
            f = fmin(f, w->min + lt->slope * (t - w->min_at));
    }
    return f;
}

/* The second latest of the recent packets (0 with fewer than two). */
static AOIP_RT double second_latest(const struct aoip_latency *lt)
{
    double first = 0.0, second = 0.0;

    for (unsigned i = 0; i < lt->late_n; i++) {
        double v = lt->late[i];

        if (v > first) {
            second = first;
            first = v;
        } else if (v > second) {
            second = v;
        }
    }
    return second;
}

static AOIP_RT double clamp_target(const struct aoip_latency *lt, double v)
{
    return fmin(fmax(v, lt->floor), lt->ceiling);
}

struct aoip_latency *aoip_latency_new(const struct aoip_latency_config *cfg)
{
    struct aoip_latency *lt;
    double rate, margin;

    if (!cfg || cfg->sample_rate < 8000 || cfg->sample_rate > 384000 || !cfg->packet_frames ||
        !cfg->period_frames || (cfg->quantile != 0.0 && !(cfg->quantile >= 0.5)) ||
        !(cfg->quantile < 1.0) || (cfg->ceiling_frames && cfg->floor_frames > cfg->ceiling_frames))
        return NULL;
    lt = calloc(1, sizeof(*lt));
    if (!lt)
        return NULL;
    rate = cfg->sample_rate;
    margin = cfg->margin_frames ? cfg->margin_frames : rate / LAT_DEFAULT_MARGIN_DIV;
    lt->sub_len = rate;
    lt->extra = (double)cfg->packet_frames + cfg->period_frames + margin;
    lt->floor = cfg->floor_frames;
    lt->ceiling = cfg->ceiling_frames ? cfg->ceiling_frames : rate;
    lt->hb_len =
        (cfg->hold_frames ? cfg->hold_frames : LAT_DEFAULT_HOLD_S * rate) / LAT_HOLD_BUCKETS;
    lt->hb_len_max = lt->hb_len * LAT_HOLD_GROWTH;
    lt->fall = (cfg->fall_ppm ? cfg->fall_ppm : LAT_DEFAULT_FALL_PPM) * 1e-6;
    lt->q.level = cfg->quantile != 0.0 ? cfg->quantile : LAT_DEFAULT_QUANTILE;
    lt->target = clamp_target(lt, lt->extra);
    lt->raw = lt->target;
    aoip_latency_reset(lt);
    return lt;
}

void aoip_latency_free(struct aoip_latency *lt)
{
    free(lt);
}

AOIP_RT void aoip_latency_reset(struct aoip_latency *lt)
{
    for (unsigned i = 0; i < LAT_WINDOWS; i++)
        window_clear(&lt->win[i]);
    memset(&lt->all, 0, sizeof(lt->all));
    quantile_rescan(&lt->q, &lt->all);
    lt->started = false;
    lt->cur = 0;
    lt->slope = 0.0;
    lt->late_n = 0;
    lt->late_at = 0;
    lt->packets = 0;
    lt->raw = clamp_target(lt, lt->extra);
    /* The target as it is is held for the hold time from the next arrival. */
    for (unsigned i = 0; i < LAT_HOLD_BUCKETS; i++)
        lt->held[i] = lt->target;
    lt->hb = 0;
}

AOIP_RT void aoip_latency_arrival(struct aoip_latency *lt, int64_t rtp_ts, double arrival_frames)
{
    struct lat_window *w;
    double d, rel;
    unsigned b;

    if (!lt->started) {
        lt->started = true;
        lt->t0 = arrival_frames;
        lt->ts0 = rtp_ts;
        lt->sub_start = arrival_frames;
        lt->hb_start = arrival_frames;
    }
    rotate(lt, arrival_frames);
    hold_rotate(lt, arrival_frames);

    d = (arrival_frames - lt->t0) - (double)(rtp_ts - lt->ts0);
    w = &lt->win[lt->cur];
    if (d < w->min) {
        w->min = d;
        w->min_at = arrival_frames;
    }
    rel = fmax(d - floor_at(lt, arrival_frames), 0.0);

    b = bin_of(rel);
    w->hist[b]++;
    w->count++;
    lt->all.count[b]++;
    lt->all.n++;
    quantile_added(&lt->q, &lt->all, b);

    lt->late[lt->late_at] = rel;
    lt->late_at = (lt->late_at + 1) % LAT_RECENT;
    lt->late_n += lt->late_n < LAT_RECENT;
    lt->packets++;

    lt->raw = fmax(quantile_frames(&lt->q, &lt->all), second_latest(lt));
    lt->raw = clamp_target(lt, lt->raw + lt->extra);
    lt->held[lt->hb] = fmax(lt->held[lt->hb], lt->raw);
    if (lt->raw > lt->target) {
        /* It had to rise again after it fell: the calm was not calm. Hold
         * twice as long from now on (up to LAT_HOLD_GROWTH times). */
        if (lt->fell && lt->hb_len * 2.0 <= lt->hb_len_max)
            lt->hb_len *= 2.0;
        lt->fell = false;
        lt->target = lt->raw;
    }
}

AOIP_RT double aoip_latency_update(struct aoip_latency *lt, double now_frames)
{
    double dt = lt->have_now ? fmax(now_frames - lt->last_now, 0.0) : 0.0;
    double goal = -INFINITY;

    lt->have_now = true;
    lt->last_now = now_frames;
    if (!lt->started)
        return lt->target;
    hold_rotate(lt, now_frames);
    for (unsigned i = 0; i < LAT_HOLD_BUCKETS; i++)
        goal = fmax(goal, lt->held[i]);
    if (lt->target > goal) {
        lt->target = fmax(goal, lt->target - lt->fall * dt);
        lt->fell = true;
    }
    return lt->target;
}

AOIP_RT double aoip_latency_target(const struct aoip_latency *lt)
{
    return lt->target;
}

AOIP_RT void aoip_latency_get_stats(const struct aoip_latency *lt, struct aoip_latency_stats *out)
{
    out->target_frames = lt->target;
    out->quantile_frames = quantile_frames(&lt->q, &lt->all);
    out->drift_ppm = lt->slope * 1e6;
    out->packets = lt->packets;
}
