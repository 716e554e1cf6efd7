/*
 * conceal.c: packet-loss concealment for PCM (see conceal.h for the
 * contract).
 *
 * The model is the speech codecs' (G.718, Opus SILK): a short-term linear
 * predictor carries the spectrum, a pitch lag carries the periodicity, and
 * the gap is synthesized from both.
 *
 *  - Every channel keeps the last ~45 ms it played in a ring, mirrored (each
 *    frame stored twice, ring_len apart) so that any stretch of it reads as
 *    one array. What was played, crossfades and fades included, is
 *    continuous, so whatever is repeated of it is too.
 *  - When a gap starts, one lag (2.5..20 ms) is searched on the sum of all
 *    channels: the lag at which the last 2.5 ms best match what came one lag
 *    before (normalized cross-correlation). One search per gap on one signal
 *    keeps its cost independent of the channel count, and one lag for all
 *    channels keeps their image coherent. Above 48 kHz the search runs on a
 *    box-decimated copy and is refined at the full rate.
 *  - Each channel gets a 16th-order predictor (autocorrelation method,
 *    Levinson-Durbin, over the last 10 ms). The gap is the prediction
 *    residual of the last lag, repeated, through the synthesis filter
 *    started from the frames last played: the filter carries the waveform
 *    across the join without a step and extends any sum of steady tones,
 *    harmonic or not (plain repetition cannot: 997 Hz and 440 Hz have no
 *    common period a few ms long), and the repeated residual keeps a pitched
 *    signal pitched. Where the repetition wraps, the last millisecond of each
 *    cycle crossfades into the one lag earlier, which is what naturally
 *    precedes the cycle's start.
 *  - Started from a few noisy frames, the filter can make much more of the
 *    noise than it is. So each channel's model is tried on a gap pretended
 *    to have started 3 ms earlier, against plain repetition of its last
 *    cycle (reached from the synthesis by a crossfade over the first
 *    millisecond), and the better one extends it.
 *  - A gap that starts while audio fades back in after a long one would
 *    repeat audio from before the fade: the extension is driven at the level
 *    played last, so it does not come back at full level; and a limiter
 *    holds it within a margin of the peak of the last 10 ms played.
 *  - The extension plays at full level for 3 ms, then a raised cosine takes
 *    it to silence by 9 ms (within the 10 ms an audience forgives). When
 *    audio returns, the extension is continued for 2 ms and crossfaded into
 *    it, which for a long gap is a plain fade in.
 *
 * The analysis is reused by a gap that starts within 10 ms of it: the
 * filter restarts from what was played just before the new gap and the
 * residual continues its cycle where the stream position puts it. That
 * bounds the work per call whatever the loss pattern (one analysis per 10 ms
 * of stream at most), and a loss that recurs during a crossfade back in
 * needs none. The residual itself is computed in chunks, as the gap reaches
 * them: a short gap needs a few.
 *
 * Work is planned frame by frame into small arrays shared by all channels
 * (which residual frames to read, with what weights, at what level), then
 * carried out channel by channel. Everything a frame's output depends on is
 * a function of stream position, never of where a block starts, so the
 * result does not depend on how the stream is cut into blocks.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/conceal.h"

#define CONCEAL_PI 3.14159265358979323846

/* Durations, in microseconds; see the file comment for where each comes from. */
#define CONCEAL_HOLD_US      3000  /* full level at the start of a gap */
#define CONCEAL_FADE_US      6000  /* then to silence: 9 ms in all */
#define CONCEAL_RECOVER_US   2000  /* crossfade back into received audio */
#define CONCEAL_JOIN_US      1000  /* crossfade at every wrap of the repeated residual */
#define CONCEAL_WINDOW_US    2500  /* what the lag search matches */
#define CONCEAL_LAG_MIN_US   2500  /* 400 Hz: shorter repeats sound buzzy on noise */
#define CONCEAL_LAG_MAX_US   20000 /* 50 Hz: bass and mains hum have periods this long */
#define CONCEAL_LPC_US       10000 /* what the predictor is fitted to */
#define CONCEAL_REANALYSE_US 10000 /* an analysis younger than this is reused */

/* Predictor order: four sinusoids' worth more than a two-tone test needs, as SILK. */
#define CONCEAL_ORDER 16

/*
 * Added to the zero-lag autocorrelation (white-noise correction, -50 dB):
 * keeps Levinson-Durbin well-conditioned on pure tones at no audible cost.
 */
#define CONCEAL_NOISE_FLOOR 1e-5

/*
 * The predictor must halve repetition's error on the pretended gap to be
 * chosen: where the two are close the signal is noisy, and there the
 * predictor's error varies far more from one gap to the next.
 */
#define CONCEAL_PREDICTOR_MARGIN 0.5

/*
 * How far above the peak of the last 10 ms played an extension may go
 * before the limiter holds it back: a tone carried on stays within a few
 * percent of it.
 */
#define CONCEAL_HEADROOM 1.25

/* The lag search runs at about this rate; above it the history is box-decimated. */
#define CONCEAL_SEARCH_RATE 48000

/*
 * The lag search reads the sum of the channels unless it has less energy
 * than this fraction of the loudest channel (channels in antiphase cancel),
 * and then reads the loudest channel alone.
 */
#define CONCEAL_CANCEL_RATIO 0.25

enum conceal_state {
    CONCEAL_IDLE,    /* passing received audio through */
    CONCEAL_GAP,     /* playing the extension */
    CONCEAL_RECOVER, /* crossfading from the extension into received audio */
};

struct aoip_conceal {
    unsigned channels;
    uint32_t max_frames;

    /* Durations in frames. */
    uint32_t hold, span; /* full level until hold, silent from span on */
    uint32_t recover, join, window, lpc_len, reanalyse;
    uint32_t trial; /* the gap pretended to choose a model */
    uint32_t lag_min, lag_max;
    uint32_t decim;    /* box decimation of the lag search (1: none) */
    uint32_t history;  /* frames before a gap the analysis reads */
    uint32_t ring_len; /* history, and what is played while an analysis is in use */
    uint32_t res_len;  /* residual kept per channel: lag_max + join */
    uint32_t chunk;    /* the residual is computed in 64 chunks of this, as needed */

    /* What was played: channel c at c * 2 * ring_len, frame p at p % ring_len
     * and at p % ring_len + ring_len. */
    float *ring;
    float *ext;     /* [max_frames] one channel's extension over a piece */
    float *gain;    /* [span] level of the extension at gap time t */
    float *rise;    /* [recover] weight of received audio when it returns */
    float *join_w;  /* [join] crossfade weight, rising from 0 to 1 */
    float *lpc_win; /* [lpc_len] Hann window of the predictor fit */
    float *mix;     /* [history] what the lag search reads; also the windowed fit input */
    float *mix_d;   /* [history / decim] the same, decimated */

    /*
     * The filters run in double: a predictor of a pure tone has large
     * coefficients whose float rounding can put a pole outside the unit
     * circle.
     */
    double *coef; /* channel c: [ORDER], coef[i] weighs the frame ORDER - i back */
    double *mem;  /* channel c: [2 * ORDER], the filter's last outputs, mirrored */
    uint32_t sq;  /* oldest of the filter's outputs: mem[sq .. sq + ORDER) */
    bool repeat[AOIP_CONCEAL_MAX_CHANNELS]; /* extends by repetition, not synthesis */
    float *resid;      /* channel c: [res_len], frames [ana_at - lag - join, ana_at) */
    uint64_t res_done; /* chunks of resid computed */
    uint64_t res_need; /* chunks the plan reads */
    float *trial_res;  /* [join + trial] the residual predictor_wins reads */

    /*
     * The peak of the last 10 ms played before the gap, and the highest the
     * extension reached in it. A fade in is part of what was played, and a
     * residual taken over it drives the filter on growing past the level
     * reached: the extension is scaled down to stay within the peak and a
     * margin (a limiter with instant attack and no release, whose gain only
     * changes where the extension is at its highest, so it never steps).
     */
    float peak[AOIP_CONCEAL_MAX_CHANNELS];
    double top[AOIP_CONCEAL_MAX_CHANNELS];

    /*
     * The plan of one piece, for max_frames frames: x = w_in * x + w_g * ext,
     * ext the synthesis of w_a * resid[i_a] + w_b * resid[i_b] or, for a
     * channel that repeats, crossfaded by w_r into the same of the signal.
     */
    uint32_t *i_a, *i_b;
    float *w_in, *w_g, *w_a, *w_b, *w_r;

    enum conceal_state state;
    bool primed;   /* a frame has been received since _new or _reset */
    bool analysed; /* lag, coef and resid describe the history before ana_at */
    uint64_t pos;  /* stream position of the next frame */
    uint64_t ana_at;
    uint32_t lag;
    float level; /* of the last frame played, against the signal: 1 but in fades */
    float drive; /* the level a gap started at: its residual or cycle is scaled by it */
    uint32_t t;  /* frames since the gap started, saturating at span */
    uint32_t r;  /* frames since audio returned */
};

static uint32_t us_to_frames(uint32_t rate, uint32_t us)
{
    uint64_t f = ((uint64_t)rate * us + 500000) / 1000000;

    return f ? (uint32_t)f : 1;
}

/* 0.5 - 0.5 cos(pi (k + 1) / (n + 1)): rises from just above 0 to just below 1. */
static void raised_cosine(float *w, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        w[k] = (float)(0.5 - 0.5 * cos(CONCEAL_PI * (double)(k + 1) / (double)(n + 1)));
}

/* Durations from the sample rate; the history holds whatever the analysis reads. */
static void size_for_rate(struct aoip_conceal *cc, uint32_t rate)
{
    uint32_t window_d, lmin_d, lmax_d, need;

    cc->hold = us_to_frames(rate, CONCEAL_HOLD_US);
    cc->span = cc->hold + us_to_frames(rate, CONCEAL_FADE_US);
    cc->recover = us_to_frames(rate, CONCEAL_RECOVER_US);
    cc->join = us_to_frames(rate, CONCEAL_JOIN_US);
    cc->lpc_len = us_to_frames(rate, CONCEAL_LPC_US);
    cc->reanalyse = us_to_frames(rate, CONCEAL_REANALYSE_US);
    cc->decim = rate > CONCEAL_SEARCH_RATE ? rate / CONCEAL_SEARCH_RATE : 1;
    window_d = us_to_frames(rate, CONCEAL_WINDOW_US) / cc->decim;
    lmin_d = us_to_frames(rate, CONCEAL_LAG_MIN_US) / cc->decim;
    lmax_d = us_to_frames(rate, CONCEAL_LAG_MAX_US) / cc->decim;
    cc->window = window_d * cc->decim;
    cc->lag_min = lmin_d * cc->decim;
    cc->lag_max = lmax_d * cc->decim + cc->decim - 1; /* the refinement may go past */
    cc->res_len = cc->lag_max + cc->join;

    /* The search: a window and the window one lag_max (decimated) earlier. */
    need = (lmax_d + window_d + 1) * cc->decim;
    /* The residual: the order's frames before the oldest residual frame. */
    if (need < cc->res_len + CONCEAL_ORDER)
        need = cc->res_len + CONCEAL_ORDER;
    if (need < cc->lpc_len)
        need = cc->lpc_len;
    /* The pretended gap of predictor_wins, one lag, a join and the order before it. */
    cc->trial = cc->hold;
    if (need < cc->trial + cc->lag_max + cc->join + CONCEAL_ORDER + 1)
        need = cc->trial + cc->lag_max + cc->join + CONCEAL_ORDER + 1;
    cc->history = (need + cc->decim - 1) / cc->decim * cc->decim;
    /* The residual is computed from the ring while its analysis is in use. */
    cc->ring_len = cc->history + cc->reanalyse + cc->span;
    cc->chunk = (cc->res_len + 63) / 64;
}

struct aoip_conceal *aoip_conceal_new(const struct aoip_conceal_config *cfg)
{
    struct aoip_conceal *cc;
    uint32_t fade;
    size_t ch;

    if (!cfg || cfg->channels < 1 || cfg->channels > AOIP_CONCEAL_MAX_CHANNELS ||
        cfg->sample_rate < 8000 || cfg->sample_rate > 384000 || cfg->max_frames < 1 ||
        cfg->max_frames > (UINT32_C(1) << 20))
        return NULL;
    cc = calloc(1, sizeof(*cc));
    if (!cc)
        return NULL;
    cc->channels = cfg->channels;
    cc->max_frames = cfg->max_frames;
    size_for_rate(cc, cfg->sample_rate);
    fade = cc->span - cc->hold;

    ch = cc->channels;
    cc->ring = calloc(ch * 2 * cc->ring_len, sizeof(float));
    cc->ext = malloc(cc->max_frames * sizeof(float));
    cc->gain = malloc(cc->span * sizeof(float));
    cc->rise = malloc(cc->recover * sizeof(float));
    cc->join_w = malloc(cc->join * sizeof(float));
    cc->lpc_win = malloc(cc->lpc_len * sizeof(float));
    cc->mix = malloc(cc->history * sizeof(float));
    cc->mix_d = malloc(cc->history / cc->decim * sizeof(float));
    cc->coef = calloc(ch * CONCEAL_ORDER, sizeof(double));
    cc->resid = calloc(ch * cc->res_len, sizeof(float));
    cc->mem = calloc(ch * 2 * CONCEAL_ORDER, sizeof(double));
    cc->trial_res = malloc((cc->join + cc->trial) * sizeof(float));
    cc->i_a = malloc(cc->max_frames * sizeof(uint32_t));
    cc->i_b = malloc(cc->max_frames * sizeof(uint32_t));
    cc->w_in = malloc(cc->max_frames * sizeof(float));
    cc->w_g = malloc(cc->max_frames * sizeof(float));
    cc->w_a = malloc(cc->max_frames * sizeof(float));
    cc->w_b = malloc(cc->max_frames * sizeof(float));
    cc->w_r = malloc(cc->max_frames * sizeof(float));
    if (!cc->ring || !cc->ext || !cc->gain || !cc->rise || !cc->join_w || !cc->lpc_win ||
        !cc->mix || !cc->mix_d || !cc->coef || !cc->resid || !cc->mem || !cc->trial_res ||
        !cc->i_a || !cc->i_b || !cc->w_in || !cc->w_g || !cc->w_a || !cc->w_b || !cc->w_r)
        goto fail;

    for (uint32_t t = 0; t < cc->hold; t++)
        cc->gain[t] = 1.0f;
    for (uint32_t k = 0; k < fade; k++)
        cc->gain[cc->hold + k] =
            (float)(0.5 + 0.5 * cos(CONCEAL_PI * (double)(k + 1) / (double)(fade + 1)));
    raised_cosine(cc->rise, cc->recover);
    raised_cosine(cc->join_w, cc->join);
    for (uint32_t n = 0; n < cc->lpc_len; n++)
        cc->lpc_win[n] = (float)(0.5 - 0.5 * cos(2.0 * CONCEAL_PI * (double)(n + 1) /
                                                 (double)(cc->lpc_len + 1)));

    aoip_conceal_reset(cc);
    return cc;

fail:
    aoip_conceal_free(cc);
    return NULL;
}

void aoip_conceal_free(struct aoip_conceal *cc)
{
    if (!cc)
        return;
    free(cc->ring);
    free(cc->ext);
    free(cc->gain);
    free(cc->rise);
    free(cc->join_w);
    free(cc->lpc_win);
    free(cc->mix);
    free(cc->mix_d);
    free(cc->coef);
    free(cc->resid);
    free(cc->mem);
    free(cc->trial_res);
    free(cc->i_a);
    free(cc->i_b);
    free(cc->w_in);
    free(cc->w_g);
    free(cc->w_a);
    free(cc->w_b);
    free(cc->w_r);
    free(cc);
}

AOIP_RT void aoip_conceal_reset(struct aoip_conceal *cc)
{
    memset(cc->ring, 0, (size_t)cc->channels * 2 * cc->ring_len * sizeof(float));
    cc->state = CONCEAL_IDLE;
    cc->primed = false;
    cc->analysed = false;
    cc->pos = 0;
    cc->ana_at = 0;
    cc->lag = cc->lag_min;
    cc->level = 1.0f;
    cc->drive = 1.0f;
    cc->t = 0;
    cc->r = 0;
}

/* Write src[0, n) as frames [pos, pos + n) of a mirrored ring of len frames. */
static AOIP_RT void mirror_write(float *ring, uint32_t len, uint64_t pos, const float *src,
                                 uint32_t n)
{
    uint32_t skip = n > len ? n - len : 0;
    uint32_t at = (uint32_t)((pos + skip) % len);
    uint32_t m = n - skip;
    uint32_t first = m < len - at ? m : len - at;

    src += skip;
    memcpy(ring + at, src, first * sizeof(float));
    memcpy(ring + len + at, src, first * sizeof(float));
    memcpy(ring, src + first, (m - first) * sizeof(float));
    memcpy(ring + len, src + first, (m - first) * sizeof(float));
}

static AOIP_RT float *ring_of(const struct aoip_conceal *cc, unsigned c)
{
    return cc->ring + (size_t)c * 2 * cc->ring_len;
}

/*
 * Frames [end - back, end) of channel c as one array; back <= ring_len, and
 * end no older than what the ring holds. Frames before the stream are silence.
 */
static AOIP_RT const float *ring_at(const struct aoip_conceal *cc, unsigned c, uint64_t end,
                                    uint32_t back)
{
    return ring_of(cc, c) + end % cc->ring_len + cc->ring_len - back;
}

/* The history of channel c: [0, history) are the frames before the current position. */
static AOIP_RT const float *history_of(const struct aoip_conceal *cc, unsigned c)
{
    return ring_at(cc, c, cc->pos, cc->history);
}

/* Frames [pos, pos + n) of every channel were played as audio[c][off, off + n). */
static AOIP_RT void played(struct aoip_conceal *cc, float *const *audio, uint32_t off, uint32_t n)
{
    for (unsigned c = 0; c < cc->channels; c++)
        mirror_write(ring_of(cc, c), cc->ring_len, cc->pos, audio[c] + off, n);
    cc->pos += n;
}

/*
 * Dot product in eight float lanes, which gcc vectorizes without
 * -ffast-math (size_t indices: a 32-bit index could wrap, which stops it).
 */
static AOIP_RT double dot(const float *restrict a, const float *restrict b, size_t n)
{
    float lane[8] = { 0 };
    double sum = 0.0;
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; k++)
            lane[k] += a[i + k] * b[i + k];
    for (size_t k = 0; k < 8; k++)
        sum += lane[k];
    for (; i < n; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

/*
 * sum coef[i] x[i] over the order. In the synthesis filter x[ORDER - 1] is
 * the output just computed, so it is added last: the rest, in four partial
 * sums, does not wait for it, and the recursion's critical path is one
 * multiply and two adds per frame.
 */
static AOIP_RT double predict(const double *restrict coef, const double *restrict x)
{
    double p[4] = { 0 };

    for (size_t i = 0; i + 4 < CONCEAL_ORDER; i += 4)
        for (size_t k = 0; k < 4; k++)
            p[k] += coef[i + k] * x[i + k];
    for (size_t k = 0; k < 3; k++)
        p[k] += coef[CONCEAL_ORDER - 4 + k] * x[CONCEAL_ORDER - 4 + k];
    return (p[0] + p[1]) + (p[2] + p[3]) + coef[CONCEAL_ORDER - 1] * x[CONCEAL_ORDER - 1];
}

/*
 * The prediction residual: res[m] = x[m] + sum coef[i] x[m - ORDER + i] for
 * m in [0, n), x readable from ORDER frames before. Eight frames at a time
 * in fixed-size loops, which gcc vectorizes at -O2.
 */
static AOIP_RT void residual(const float *restrict x, const double *restrict coef,
                             float *restrict res, size_t n)
{
    size_t m = 0;

    for (; m + 8 <= n; m += 8) {
        double acc[8];

        for (size_t k = 0; k < 8; k++)
            acc[k] = x[m + k];
        for (size_t i = 0; i < CONCEAL_ORDER; i++)
            for (size_t k = 0; k < 8; k++)
                acc[k] += coef[i] * (double)x[(ptrdiff_t)(m + k + i) - CONCEAL_ORDER];
        for (size_t k = 0; k < 8; k++)
            res[m + k] = (float)acc[k];
    }
    for (; m < n; m++) {
        double acc = x[m];

        for (size_t i = 0; i < CONCEAL_ORDER; i++)
            acc += coef[i] * (double)x[(ptrdiff_t)(m + i) - CONCEAL_ORDER];
        res[m] = (float)acc;
    }
}

/*
 * The lag in [lo, hi] at which x[end - window, end) best matches what came
 * one lag before, by normalized cross-correlation (only a positive match
 * counts; ties go to the shorter lag). Returns 0 when nothing matches.
 */
static AOIP_RT uint32_t best_lag(const float *x, uint32_t end, uint32_t window, uint32_t lo,
                                 uint32_t hi)
{
    const float *a = x + end - window;
    double best = 0.0;
    uint32_t lag = 0;

    for (uint32_t l = lo; l <= hi; l++) {
        const float *b = a - l;
        double ab = dot(a, b, window);
        double bb = dot(b, b, window);

        /* ab / sqrt(bb) compared without the root: ab > 0, so square it. */
        if (ab > 0.0 && bb > 0.0 && ab * ab / bb > best) {
            best = ab * ab / bb;
            lag = l;
        }
    }
    return lag;
}

/* The pitch lag of the history, found on the sum of the channels. */
static AOIP_RT uint32_t search_lag(struct aoip_conceal *cc)
{
    uint32_t hist = cc->history, dec = cc->decim, hist_d = hist / dec;
    double loudest = 0.0;
    unsigned loud_c = 0;
    uint32_t l_d, lag, lo, hi;

    memset(cc->mix, 0, hist * sizeof(float));
    for (unsigned c = 0; c < cc->channels; c++) {
        const float *restrict src = history_of(cc, c);
        float *restrict mix = cc->mix;
        double e = dot(src, src, hist);

        for (uint32_t i = 0; i < hist; i++)
            mix[i] += src[i];
        if (e > loudest) {
            loudest = e;
            loud_c = c;
        }
    }
    if (loudest == 0.0)
        return cc->lag_min; /* silence: any lag extends it as silence */
    if (dot(cc->mix, cc->mix, hist) < CONCEAL_CANCEL_RATIO * loudest)
        memcpy(cc->mix, history_of(cc, loud_c), hist * sizeof(float));

    if (dec == 1) {
        lag = best_lag(cc->mix, hist, cc->window, cc->lag_min, cc->lag_max);
        return lag ? lag : cc->lag_min;
    }
    for (uint32_t i = 0; i < hist_d; i++) {
        float s = 0.0f;
        for (uint32_t k = 0; k < dec; k++)
            s += cc->mix[i * dec + k];
        cc->mix_d[i] = s;
    }
    l_d = best_lag(cc->mix_d, hist_d, cc->window / dec, cc->lag_min / dec,
                   (cc->lag_max - (dec - 1)) / dec);
    if (!l_d)
        return cc->lag_min;
    lo = l_d * dec - (dec - 1);
    hi = l_d * dec + (dec - 1);
    lo = lo < cc->lag_min ? cc->lag_min : lo;
    hi = hi > cc->lag_max ? cc->lag_max : hi;
    lag = best_lag(cc->mix, hist, cc->window, lo, hi);
    return lag ? lag : l_d * dec;
}

/*
 * The predictor of x[0, n) (autocorrelation method, Levinson-Durbin in
 * double), into coef as the synthesis filter reads it. Silence gives all
 * zeros: the filter then just passes the residual, which is silence too.
 */
static AOIP_RT void fit_predictor(struct aoip_conceal *cc, const float *x, double *coef)
{
    uint32_t n = cc->lpc_len;
    float *restrict xw = cc->mix;
    const float *restrict win = cc->lpc_win;
    double r[CONCEAL_ORDER + 1], a[CONCEAL_ORDER + 1] = { 0 }, tmp[CONCEAL_ORDER + 1];
    double err;

    for (uint32_t i = 0; i < n; i++)
        xw[i] = x[i] * win[i];
    for (uint32_t k = 0; k <= CONCEAL_ORDER; k++)
        r[k] = dot(xw, xw + k, n - k);
    memset(coef, 0, CONCEAL_ORDER * sizeof(double));
    if (!(r[0] > 0.0))
        return;
    err = r[0] * (1.0 + CONCEAL_NOISE_FLOOR);
    /* a[1..p]: x[t] is predicted as -sum a[k] x[t - k]. */
    for (int m = 1; m <= CONCEAL_ORDER; m++) {
        double acc = r[m], k;

        for (int i = 1; i < m; i++)
            acc += a[i] * r[m - i];
        k = -acc / err;
        /* |k| < 1 keeps the filter stable; rounding at the edge stops the recursion. */
        if (!(fabs(k) < 1.0))
            break;
        memcpy(tmp, a, sizeof(tmp));
        for (int i = 1; i < m; i++)
            a[i] = tmp[i] + k * tmp[m - i];
        a[m] = k;
        err *= 1.0 - k * k;
    }
    for (int i = 0; i < CONCEAL_ORDER; i++)
        coef[i] = a[CONCEAL_ORDER - i];
}

/*
 * Whether the predictor extends channel c better than repetition would:
 * both are tried on a gap pretended to have started a hold before the
 * current position, and compared with what came. The predictor wins on
 * steady tones, harmonic or not; repetition wins on a periodic signal with
 * noise in it, where the filter, started from 16 noisy frames (a third of a
 * millisecond at 48 kHz), makes far more of the noise than it is.
 */
static AOIP_RT bool predictor_wins(struct aoip_conceal *cc, unsigned c, const double *coef)
{
    uint32_t n = cc->trial, lag = cc->lag, join = cc->join;
    uint32_t span = join + (n < lag ? n : lag);
    /* x[0] is the first frame of the pretended gap. */
    const float *x = history_of(cc, c) + cc->history - n;
    /* sig[0] and res[0] are the frame a lag and a join before it. */
    const float *sig = x - lag - join;
    float *res = cc->trial_res;
    double st[2 * CONCEAL_ORDER];
    double err_lpc = 0.0, err_rep = 0.0;
    uint32_t sq = 0;

    residual(sig, coef, res, span);
    for (uint32_t i = 0; i < CONCEAL_ORDER; i++)
        st[i] = st[i + CONCEAL_ORDER] = x[(int64_t)i - CONCEAL_ORDER];
    for (uint32_t j = 0; j < n; j++) {
        /* The cycle as the plan reads it: one lag back, crossfaded at the wrap
         * into two lags back. */
        uint32_t jj = j % lag, ia = join + jj;
        bool wrap = jj + join >= lag;
        uint32_t ib = wrap ? ia - lag : ia;
        double w = wrap ? cc->join_w[jj + join - lag] : 0.0;
        double cyc = (1.0 - w) * sig[ia] + w * sig[ib];
        double y = (1.0 - w) * res[ia] + w * res[ib] - predict(coef, st + sq);
        double rep_y = j < join ? y + cc->join_w[j] * (cyc - y) : cyc;

        st[sq] = st[sq + CONCEAL_ORDER] = y;
        sq = sq + 1 == CONCEAL_ORDER ? 0 : sq + 1;
        err_lpc += (y - x[j]) * (y - x[j]);
        err_rep += (rep_y - x[j]) * (rep_y - x[j]);
    }
    return err_lpc < CONCEAL_PREDICTOR_MARGIN * err_rep;
}

/*
 * Lag and, per channel, the model: the predictor's synthesis, or repetition
 * of the signal's last cycle (reached from the predictor's synthesis by a
 * crossfade over the first join of each gap, which carries the waveform
 * across the join without a step whatever the signal).
 */
static AOIP_RT void analyse(struct aoip_conceal *cc)
{
    cc->lag = search_lag(cc);
    for (unsigned c = 0; c < cc->channels; c++) {
        double *coef = cc->coef + (size_t)c * CONCEAL_ORDER;

        fit_predictor(cc, history_of(cc, c) + cc->history - cc->lpc_len, coef);
        cc->repeat[c] = !predictor_wins(cc, c, coef);
    }
    cc->ana_at = cc->pos;
    cc->analysed = true;
    cc->res_done = 0;
}

/*
 * The residual chunks the plan needs and the analysis has not computed yet:
 * res[m] = x[t] + sum a[k] x[t - k] for the frame t = ana_at - lag - join + m.
 * A short gap reads a few chunks, so most of them never are.
 */
static AOIP_RT void compute_residual(struct aoip_conceal *cc)
{
    uint64_t pending = cc->res_need & ~cc->res_done;
    uint32_t len = cc->lag + cc->join;

    cc->res_done |= pending;
    for (uint32_t q = 0; pending; q++, pending >>= 1) {
        uint32_t from = q * cc->chunk, to = from + cc->chunk;

        if (!(pending & 1))
            continue;
        to = to < len ? to : len;
        for (unsigned c = 0; c < cc->channels; c++)
            residual(ring_at(cc, c, cc->ana_at, len) + from, cc->coef + (size_t)c * CONCEAL_ORDER,
                     cc->resid + (size_t)c * cc->res_len + from, to - from);
    }
}

/* A gap starts at the current position. */
static AOIP_RT void gap_start(struct aoip_conceal *cc)
{
    if (!cc->analysed || cc->pos - cc->ana_at >= cc->reanalyse)
        analyse(cc);
    for (unsigned c = 0; c < cc->channels; c++) {
        const float *restrict x = history_of(cc, c) + cc->history - cc->lpc_len;
        const float *h = x + cc->lpc_len - CONCEAL_ORDER;
        double *st = cc->mem + (size_t)c * 2 * CONCEAL_ORDER;
        float peak = 0.0f;

        /* The synthesis filter starts from what was played. */
        for (uint32_t i = 0; i < CONCEAL_ORDER; i++) {
            st[i] = h[i];
            st[i + CONCEAL_ORDER] = h[i];
        }
        for (uint32_t i = 0; i < cc->lpc_len; i++) {
            float a = fabsf(x[i]);

            peak = a > peak ? a : peak;
        }
        cc->peak[c] = peak;
        cc->top[c] = CONCEAL_HEADROOM * peak;
    }
    cc->drive = cc->level;
    cc->sq = 0;
    cc->state = CONCEAL_GAP;
    cc->t = 0;
}

/* Plan frame k of the piece that starts at the current position. */
static AOIP_RT void plan_frame(struct aoip_conceal *cc, uint32_t k, float w_in, float level)
{
    uint32_t t = cc->t, lag = cc->lag, join = cc->join;

    cc->w_in[k] = w_in;
    cc->w_g[k] = t < cc->span ? level * cc->gain[t] : 0.0f;
    /* Where the residual's cycle is: from the stream position, so a reused
     * analysis continues it in phase. */
    uint32_t j = (uint32_t)((cc->pos + k - cc->ana_at) % lag);
    bool wrap = j + join >= lag;
    float w = wrap ? cc->join_w[j + join - lag] : 0.0f;

    cc->i_a[k] = join + j;
    cc->i_b[k] = wrap ? join + j - lag : join + j;
    cc->w_a[k] = 1.0f - w;
    cc->w_b[k] = w;
    cc->w_r[k] = t < join ? cc->join_w[t] : 1.0f;
    if (cc->w_g[k] != 0.0f) {
        cc->res_need |= UINT64_C(1) << (cc->i_a[k] / cc->chunk);
        cc->res_need |= UINT64_C(1) << (cc->i_b[k] / cc->chunk);
    }
}

/*
 * Plan frames [off, off + n) from a gap or its crossfade back in: stops where
 * the crossfade ends, or where a new gap starts during it (the filter must
 * restart from what was played). Returns the frames planned; *filled counts
 * the missing ones given an extension.
 */
static AOIP_RT uint32_t plan(struct aoip_conceal *cc, const uint8_t *missing, uint32_t off,
                             uint32_t n, uint32_t *filled)
{
    uint32_t k = 0;

    while (k < n) {
        if (missing && missing[off + k]) {
            if (cc->state == CONCEAL_RECOVER)
                break;
            *filled += cc->t < cc->span;
            plan_frame(cc, k, 0.0f, 1.0f);
            cc->level = cc->w_g[k] * cc->drive;
        } else {
            if (cc->state == CONCEAL_GAP) {
                cc->state = CONCEAL_RECOVER;
                cc->r = 0;
            }
            float w = cc->rise[cc->r];
            plan_frame(cc, k, w, 1.0f - w);
            cc->level = w + cc->w_g[k] * cc->drive;
            if (++cc->r == cc->recover)
                cc->state = CONCEAL_IDLE;
        }
        cc->t += cc->t < cc->span;
        k++;
        if (cc->state == CONCEAL_IDLE)
            break;
    }
    return k;
}

/*
 * Channel c's extension over frames [0, n) of a piece into ext: the
 * synthesis, or for a channel that repeats, the signal's cycle crossfaded
 * from the synthesis (which then stops once the crossfade is over). Frames
 * past the fade (w_g 0) are not computed: nothing is left to say.
 */
static AOIP_RT void extend(struct aoip_conceal *cc, unsigned c, float *restrict ext, uint32_t n)
{
    const uint32_t *restrict i_a = cc->i_a, *restrict i_b = cc->i_b;
    const float *restrict w_g = cc->w_g, *restrict w_a = cc->w_a, *restrict w_b = cc->w_b;
    const float *restrict w_r = cc->w_r;
    const float *restrict res = cc->resid + (size_t)c * cc->res_len;
    const float *restrict sig = ring_at(cc, c, cc->ana_at, cc->lag + cc->join);
    const double *restrict coef = cc->coef + (size_t)c * CONCEAL_ORDER;
    double *restrict st = cc->mem + (size_t)c * 2 * CONCEAL_ORDER;
    bool repeat = cc->repeat[c];
    float scale = cc->drive;
    double limit = CONCEAL_HEADROOM * cc->peak[c], top = cc->top[c];
    uint32_t sq = cc->sq;

    for (uint32_t k = 0; k < n; k++) {
        double y = 0.0;

        if (w_g[k] == 0.0f) {
            ext[k] = 0.0f;
            continue;
        }
        /* A channel that repeats has no use for the filter after the crossfade;
         * its state goes stale, and the next gap starts it afresh. */
        if (!repeat || w_r[k] < 1.0f) {
            y = (double)(scale * (w_a[k] * res[i_a[k]] + w_b[k] * res[i_b[k]])) -
                predict(coef, st + sq);
            st[sq] = y;
            st[sq + CONCEAL_ORDER] = y;
        }
        sq = sq + 1 == CONCEAL_ORDER ? 0 : sq + 1;
        if (repeat)
            y += w_r[k] * ((double)(scale * (w_a[k] * sig[i_a[k]] + w_b[k] * sig[i_b[k]])) - y);
        top = fabs(y) > top ? fabs(y) : top;
        ext[k] = top > 0.0 ? (float)(y * (limit / top)) : 0.0f;
    }
    cc->top[c] = top;
    /* Every channel moved the same way. */
    if (c + 1 == cc->channels)
        cc->sq = sq;
}

/* Carry out the plan on frames [off, off + n) of every channel. */
static AOIP_RT void apply(struct aoip_conceal *cc, float *const *audio, uint32_t off, uint32_t n)
{
    const float *restrict w_in = cc->w_in, *restrict w_g = cc->w_g;
    float *restrict ext = cc->ext;

    compute_residual(cc);
    for (unsigned c = 0; c < cc->channels; c++) {
        float *restrict x = audio[c] + off;

        extend(cc, c, ext, n);
        for (uint32_t k = 0; k < n; k++)
            x[k] = w_in[k] * x[k] + w_g[k] * ext[k];
    }
    played(cc, audio, off, n);
    cc->res_need = 0;
}

AOIP_RT uint32_t aoip_conceal_process(struct aoip_conceal *cc, float *const *audio,
                                      const uint8_t *missing, uint32_t frames)
{
    uint32_t f = 0, filled = 0;

    while (f < frames) {
        uint32_t n = 0;

        if (cc->state == CONCEAL_IDLE) {
            /* Received audio, and gaps before anything was received, pass as they are. */
            while (f + n < frames) {
                if (missing && missing[f + n]) {
                    if (cc->primed)
                        break;
                } else {
                    cc->primed = true;
                }
                n++;
            }
            if (n) {
                played(cc, audio, f, n);
                cc->level = 1.0f;
                f += n;
                continue;
            }
        }
        if (missing && missing[f] && cc->state != CONCEAL_GAP)
            gap_start(cc);
        n = frames - f < cc->max_frames ? frames - f : cc->max_frames;
        n = plan(cc, missing, f, n, &filled);
        apply(cc, audio, f, n);
        f += n;
    }
    return filled;
}
