/*
 * rateconv.c: the fixed-ratio converter between a node's rate and 48 kHz.
 *
 * A rational polyphase filter. In principle the input is upsampled by L
 * (L - 1 zeros after every frame), low-pass filtered at the rate L *
 * in_rate and kept one frame in M. Only the products that survive are
 * computed: output frame k sits at k * M ticks of 1 / (L * in_rate); with
 * n = floor(k * M / L) the newest input frame it needs and p = k * M mod L
 * its phase, it is the dot product of the taps * L prototype's taps p,
 * p + L, p + 2L, ... with input frames n, n - 1, n - 2, ... One row of
 * coefficients per phase, exact (nothing interpolated), built by
 * aoip_rateconv_new; each output frame picks its row and applies it to
 * every channel of the flow.
 *
 * The position is an integer: pos, the ticks from the first input frame
 * of the next call to the next output frame, always in 0..M-1. A call of
 * n frames writes the output frames whose ticks fall before n * L and
 * leaves pos + (written) * M - n * L. Nothing rounds, so any chunking
 * walks the same phases over the same history and gives the same bits.
 *
 * The prototype is a Kaiser-windowed sinc, cut off at half the lower of
 * the two rates, passband to f_pass = min(20 kHz, 0.4167 * lower rate) and
 * stopband from lower rate - f_pass. Between f_pass and the lower Nyquist
 * frequency the band is still a transition, and what aliases or images
 * from there and from above folds back only above f_pass (what most
 * converters do: a stopband from the Nyquist frequency would need about
 * twice the taps). Each row is scaled to a DC gain of exactly 1, as in
 * resample.c, so that the level cannot wobble with the phase.
 *
 * Its group delay is (taps * L - 1) / 2 ticks, the centre of a symmetric
 * filter, which is (taps * L - 1) / (2 M) output frames: what
 * aoip_rateconv_delay says.
 *
 * The history and the kernels are resample.c's two layouts: up to
 * RC_PLANAR_MAX channels a line per channel and partial sums along the
 * taps; above, frames interleaved (channels padded to a block of 8) and a
 * block of channels against one coefficient per tap. Both are plain C that
 * gcc -O2 vectorizes. The taps per row are a multiple of 8 (two SSE
 * vectors), so no kernel has a scalar tail.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/rateconv.h"
#include "filter.h"

/*
 * The filter's edges: passband to 20 kHz when the lower rate is 48 kHz or
 * more, to 41.67 % of it below (18.4 kHz at 44.1 kHz), which leaves a
 * transition of a sixth of the lower rate or more. Kaiser's estimate
 * (A = 2.285 (taps * L - 1) dw + 7.95, beta = 0.1102 (A - 8.7)) picks the
 * taps for RC_ATTEN_DB; they are rounded up to a multiple of RC_TAP_ALIGN,
 * and beta is then taken from the A the rounded length promises, so the
 * extra taps deepen the stopband rather than narrow a transition nobody
 * asked to narrow. Measured over the whole stopband of the prototype (as
 * stored, in float): 104.1 dB at the worst of all rates (384 -> 8 kHz),
 * 107.0 dB at 192 -> 48 kHz, 110.9 dB at 96 and 88.2 -> 48 kHz, 112.7 dB
 * at 48 -> 44.1 kHz, 120.6 to 121.5 dB where 48 taps go to an
 * interpolation (44.1 -> 48, 48 -> 96, 48 -> 192, 32 -> 48 kHz); the
 * passband is flat to +-0.0001 dB. Asking 102 dB instead would save 8 taps
 * of 48 at 44.1 -> 48 and 48 -> 96 kHz and measure 101.7 to 103.6 dB: too
 * close to the 100 dB the converter promises.
 */
#define RC_PASS_MAX_HZ 20000.0
#define RC_PASS_SHARE  0.4167
#define RC_ATTEN_DB    104.0
/* Taps per row are rounded up to this: the line kernel's block. */
#define RC_TAP_ALIGN 8

/*
 * Up to this many channels, lines per channel are faster. Measured in ns
 * per sample per channel at 44.1 -> 48 kHz, lines against interleaved:
 * 4.4 / 6.0 at 5 channels, 4.2 / 4.9 at 6, 3.9 / 3.7 at 8, 3.7 / 3.5 at 12
 * (the interleaved layout pads 5 channels to a block of 8 and computes 8).
 */
#define RC_PLANAR_MAX 8
/* The interleaved kernel's block: two SSE vectors of channels. */
#define RC_BLOCK 8

struct aoip_rateconv {
    unsigned channels;
    bool same;           /* in_rate == out_rate: copy */
    bool planar;         /* a line per channel, else frames interleaved */
    uint32_t up, down;   /* L and M */
    uint32_t step_whole; /* M / L: input frames from one output frame to the next */
    uint32_t step_phase; /* M % L: and phases */
    unsigned taps;       /* per row */
    uint32_t max_in;     /* largest call */
    uint32_t pos;        /* ticks from the next call's first frame to the next output */
    size_t stride;       /* floats from one frame to the next (interleaved) or line to line */
    uint32_t cap;        /* frames the history holds */
    uint32_t len;        /* frames in it; the newest input is len - 1 */
    double delay;        /* in output frames */
    float *rows; /* L rows of taps, reversed: row p's tap t multiplies frame n - taps + 1 + t */
    float *buf;  /* the history */
};

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b != 0) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

bool aoip_rateconv_ratio(uint32_t in_rate, uint32_t out_rate, uint32_t *up, uint32_t *down)
{
    if (in_rate < AOIP_RATECONV_MIN_RATE || in_rate > AOIP_RATECONV_MAX_RATE ||
        out_rate < AOIP_RATECONV_MIN_RATE || out_rate > AOIP_RATECONV_MAX_RATE)
        return false;
    uint32_t g = gcd(in_rate, out_rate);
    *up = out_rate / g;
    *down = in_rate / g;
    return *up <= AOIP_RATECONV_MAX_FACTOR && *down <= AOIP_RATECONV_MAX_FACTOR;
}

/* L and M of a config, or false when it is not one we take. */
static bool factors(const struct aoip_rateconv_config *cfg, uint32_t *up, uint32_t *down)
{
    if (cfg == NULL || cfg->channels < 1 || cfg->channels > AOIP_RATECONV_MAX_CHANNELS ||
        cfg->max_in_frames < 1 || cfg->max_in_frames > AOIP_RATECONV_MAX_FRAMES)
        return false;
    return aoip_rateconv_ratio(cfg->in_rate, cfg->out_rate, up, down);
}

/* The transition band in radians per tick of the prototype's rate, L * in_rate. */
static double transition(uint32_t in_rate, uint32_t out_rate, uint32_t up)
{
    const double low = in_rate < out_rate ? in_rate : out_rate;
    const double pass = fmin(RC_PASS_MAX_HZ, RC_PASS_SHARE * low);
    const double stop = low - pass;
    return 2.0 * FILTER_PI * (stop - pass) / ((double)up * in_rate);
}

/* Taps per row that Kaiser's estimate asks for RC_ATTEN_DB, rounded up to RC_TAP_ALIGN. */
static unsigned design_taps(uint32_t in_rate, uint32_t out_rate, uint32_t up)
{
    double n = (RC_ATTEN_DB - 7.95) / (2.285 * transition(in_rate, out_rate, up)) + 1.0;
    unsigned taps = (unsigned)ceil(n / up);
    return (taps + RC_TAP_ALIGN - 1) / RC_TAP_ALIGN * RC_TAP_ALIGN;
}

/* What Kaiser's estimate promises from taps per row: the rounding up goes into attenuation. */
static double atten(uint32_t in_rate, uint32_t out_rate, uint32_t up, unsigned taps)
{
    return 2.285 * ((double)taps * up - 1.0) * transition(in_rate, out_rate, up) + 7.95;
}

/*
 * The L rows of the prototype into rc->rows, each reversed (so the kernels
 * run forward through the history) and scaled to a sum of exactly 1. The
 * prototype's tap i sits at i - centre ticks from its centre; row p holds
 * taps p, p + L, p + 2L, ... The cutoff is midway between the edges, at
 * half the lower rate. h is scratch for one row.
 */
static void design_rows(struct aoip_rateconv *rc, uint32_t in_rate, uint32_t out_rate, double *h)
{
    const double low = in_rate < out_rate ? in_rate : out_rate;
    const double fc = low / 2.0 / ((double)rc->up * in_rate);
    const double beta = 0.1102 * (atten(in_rate, out_rate, rc->up, rc->taps) - 8.7);
    const double i0_beta = filter_bessel_i0(beta);
    const unsigned taps = rc->taps;
    const double centre = ((double)taps * rc->up - 1.0) / 2.0;
    for (uint32_t p = 0; p < rc->up; p++) {
        double sum = 0.0;
        for (unsigned j = 0; j < taps; j++) {
            double tau = (double)p + (double)j * rc->up - centre;
            h[j] = filter_kaiser_tap(tau, centre, fc, beta, i0_beta);
            sum += h[j];
        }
        float *row = rc->rows + (size_t)p * taps;
        for (unsigned j = 0; j < taps; j++)
            row[taps - 1 - j] = (float)(h[j] / sum);
    }
}

struct aoip_rateconv *aoip_rateconv_new(const struct aoip_rateconv_config *cfg)
{
    uint32_t up, down;
    if (!factors(cfg, &up, &down))
        return NULL;
    struct aoip_rateconv *rc = calloc(1, sizeof(*rc));
    double *h = NULL;
    if (rc == NULL)
        return NULL;
    rc->channels = cfg->channels;
    rc->up = up;
    rc->down = down;
    rc->max_in = cfg->max_in_frames;
    rc->same = up == down;
    if (rc->same)
        return rc;

    rc->planar = cfg->channels <= RC_PLANAR_MAX;
    rc->step_whole = down / up;
    rc->step_phase = down % up;
    rc->taps = design_taps(cfg->in_rate, cfg->out_rate, up);
    rc->delay = ((double)rc->taps * up - 1.0) / (2.0 * down);
    /* The taps - 1 frames of history the next output reaches back to, and
     * room for two calls: a compaction at most every other call. */
    rc->cap = rc->taps - 1 + 2 * rc->max_in;
    rc->stride = rc->planar ? rc->cap : (cfg->channels + RC_BLOCK - 1) / RC_BLOCK * RC_BLOCK;
    size_t floats = rc->planar ? (size_t)rc->cap * rc->channels : (size_t)rc->cap * rc->stride;
    /* Zeroed once: the padding lanes of the interleaved layout are never
     * written again and must stay 0 (garbage there could be a slow NaN). */
    rc->buf = calloc(floats, sizeof(float));
    rc->rows = malloc(sizeof(float) * up * rc->taps);
    h = malloc(sizeof(double) * rc->taps);
    if (rc->buf == NULL || rc->rows == NULL || h == NULL)
        goto fail;
    design_rows(rc, cfg->in_rate, cfg->out_rate, h);
    free(h);
    aoip_rateconv_reset(rc);
    return rc;

fail:
    free(h);
    aoip_rateconv_free(rc);
    return NULL;
}

void aoip_rateconv_free(struct aoip_rateconv *rc)
{
    if (rc == NULL)
        return;
    free(rc->rows);
    free(rc->buf);
    free(rc);
}

AOIP_RT void aoip_rateconv_reset(struct aoip_rateconv *rc)
{
    rc->pos = 0;
    if (rc->same)
        return;
    /* taps - 1 frames of silence before input frame 0. */
    uint32_t keep = rc->taps - 1;
    if (rc->planar) {
        for (unsigned c = 0; c < rc->channels; c++)
            memset(rc->buf + c * rc->stride, 0, sizeof(float) * keep);
    } else {
        memset(rc->buf, 0, sizeof(float) * keep * rc->stride);
    }
    rc->len = keep;
}

double aoip_rateconv_delay(const struct aoip_rateconv *rc)
{
    return rc->delay;
}

unsigned aoip_rateconv_taps(const struct aoip_rateconv *rc)
{
    return rc->same ? 1 : rc->taps;
}

/* Output frames whose ticks fall before in_frames * L, counted from pos. */
static AOIP_RT uint32_t count_out(uint32_t pos, uint32_t up, uint32_t down, uint32_t in_frames)
{
    uint64_t end = (uint64_t)in_frames * up;
    return end > pos ? (uint32_t)((end - pos + down - 1) / down) : 0;
}

AOIP_RT uint32_t aoip_rateconv_out_frames(const struct aoip_rateconv *rc, uint32_t in_frames)
{
    return count_out(rc->pos, rc->up, rc->down, in_frames);
}

uint32_t aoip_rateconv_max_out_frames(const struct aoip_rateconv_config *cfg, uint32_t in_frames)
{
    uint32_t up, down;
    if (!factors(cfg, &up, &down))
        return 0;
    uint64_t n = ((uint64_t)in_frames * up + down - 1) / down;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Make room for n more frames, keeping the taps - 1 that the next output reaches back to. */
static AOIP_RT void compact(struct aoip_rateconv *rc, uint32_t n)
{
    if (rc->len + n <= rc->cap)
        return;
    uint32_t keep = rc->taps - 1, drop = rc->len - keep;
    if (rc->planar) {
        for (unsigned c = 0; c < rc->channels; c++) {
            float *line = rc->buf + c * rc->stride;
            memmove(line, line + drop, sizeof(float) * keep);
        }
    } else {
        memmove(rc->buf, rc->buf + drop * rc->stride, sizeof(float) * keep * rc->stride);
    }
    rc->len = keep;
}

static AOIP_RT void append(struct aoip_rateconv *rc, const float *const *in, uint32_t n)
{
    if (rc->planar) {
        for (unsigned c = 0; c < rc->channels; c++)
            memcpy(rc->buf + c * rc->stride + rc->len, in[c], sizeof(float) * n);
    } else {
        float *dst = rc->buf + rc->len * rc->stride;
        for (unsigned c = 0; c < rc->channels; c++) {
            const float *src = in[c];
            for (uint32_t i = 0; i < n; i++)
                dst[i * rc->stride + c] = src[i];
        }
    }
    rc->len += n;
}

/*
 * One channel's line against a row in eight partial sums (lane k adds
 * every eighth tap): two vector additions in flight. The loop runs over
 * whole blocks of 8, a count gcc can compute, which is what lets its loop
 * vectorizer take the eight sums as lanes of two vectors; partial sums of
 * 16 with a tail measured slower, the tail falling back to scalars.
 */
static AOIP_RT inline float dot_line(const float *restrict x, const float *restrict row,
                                     unsigned taps)
{
    float a[8] = { 0 };
    for (unsigned i = 0; i < taps / 8; i++) {
        const float *restrict r = row + 8 * i, *restrict y = x + 8 * i;
#pragma GCC unroll 8
        for (unsigned k = 0; k < 8; k++)
            a[k] += r[k] * y[k];
    }
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/*
 * n output frames from the history, the first at pos ticks after history
 * frame base. Each frame's phase and newest input frame advance by M ticks
 * in integers: M / L frames and M % L phases, with a carry.
 */
static AOIP_RT void filter(const struct aoip_rateconv *rc, uint32_t base, float *const *out,
                           uint32_t n)
{
    const unsigned taps = rc->taps;
    uint32_t newest = base + rc->pos / rc->up, phase = rc->pos % rc->up;
    for (uint32_t j = 0; j < n; j++) {
        const float *row = rc->rows + (size_t)phase * taps;
        size_t first = newest - (taps - 1);
        if (rc->planar) {
            for (unsigned c = 0; c < rc->channels; c++)
                out[c][j] = dot_line(rc->buf + c * rc->stride + first, row, taps);
        } else {
            filter_interleaved(rc->buf + first * rc->stride, rc->stride, rc->channels, row, taps,
                               out, j);
        }
        newest += rc->step_whole;
        phase += rc->step_phase;
        if (phase >= rc->up) {
            phase -= rc->up;
            newest++;
        }
    }
}

AOIP_RT int aoip_rateconv_process(struct aoip_rateconv *rc, const float *const *in,
                                  uint32_t in_frames, float *const *out)
{
    if (in_frames > rc->max_in)
        return -EINVAL;
    if (in_frames == 0)
        return 0;
    uint32_t n = aoip_rateconv_out_frames(rc, in_frames);
    if (in == NULL || (n > 0 && out == NULL))
        return -EINVAL;
    if (rc->same) {
        for (unsigned c = 0; c < rc->channels; c++)
            memcpy(out[c], in[c], sizeof(float) * in_frames);
        return (int)in_frames;
    }
    compact(rc, in_frames);
    uint32_t base = rc->len;
    append(rc, in, in_frames);
    filter(rc, base, out, n);
    rc->pos = (uint32_t)(rc->pos + (uint64_t)n * rc->down - (uint64_t)in_frames * rc->up);
    return (int)n;
}
