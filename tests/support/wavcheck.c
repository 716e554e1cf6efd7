/*
 * wavcheck.c: aoip-wavcheck, the judge of a recording. Integration tests
 * record what a daemon played out to a WAV file and ask this tool whether
 * the tones sent arrived at the right frequency and level, without a gap or
 * a click, silent where nothing was routed, and how late.
 *
 *   aoip-wavcheck FILE [--skip-ms N] [--until-ms N] [--rate HZ] [--json] [--print]
 *     per channel (1-based), after --channel C:
 *       --freq F [--freq F2 ...]      tones of these frequencies are present
 *                                     (at most 8); the measured frequency must
 *                                     be within --freq-tol HZ (default 1)
 *       --level DBFS                  ... at this peak level, within --tol-db DB
 *                                     (default 0.1); a --level applies to every
 *                                     --freq of the channel that has none yet, so
 *                                     "--freq 440 --level -20 --freq 554 --level
 *                                     -26" and "--freq 440 --freq 554 --level -20"
 *                                     both say what they mean
 *       --silent [--below DBFS]       RMS below DBFS (default -90)
 *       --no-gaps                     the tones are continuous: no gap, dropout or
 *                                     click anywhere (needs --freq)
 *       --gaps-allowed-ms N           continuous but for at most N ms of bad blocks
 *       --gap-threshold-db DB         what is left after the fit, relative to the
 *                                     tones' RMS, that makes a block bad
 *                                     (default -40)
 *       --block-level-db DB           how far a tone's level in a block may
 *                                     stray from its median before the block
 *                                     is bad (default 1): a codec that rebuilds
 *                                     lost frames coarsely is judged for
 *                                     dropouts with a wider one
 *     between channels:
 *       --delay REF,C [--expect-ms X | --expect-samples N]
 *                     [--tol-ms Y | --tol-samples M] [--max-lag-ms L]
 *                                     lag of channel C behind REF, by
 *                                     cross-correlation of a pulse train or any
 *                                     wide-band signal (default tolerance 1 ms,
 *                                     or 0 samples with --expect-samples; lags up
 *                                     to +-L ms, default 500, are searched)
 *   --skip-ms N  leaves the first N ms (start-up, route ramps) out of every
 *   measurement; times reported are from the start of the file.
 *   --rate HZ    checks the file's sample rate.
 *   --print      prints, per channel, duration, RMS, peak, dominant frequency
 *                and the first and last sample above -90 dBFS.
 *   --json       prints every measurement and check as one JSON object.
 * Exit: 0 when every check passes, 1 when one fails (each check prints PASS or
 * FAIL with what it measured), 2 on a usage or file error.
 *
 * How the tones are measured. Frequencies are known, so each block of audio
 * is fitted jointly with a sine and cosine per tone plus DC
 * (sig_fit_tones): linear, exact for every tone of a sum. A recording made
 * through a drifting clock carries the tone a few ppm off, which a fit at
 * the nominal frequency would read as a lower level over a long span; so
 * the frequency is measured first, from how the fitted phase advances from
 * one short block to the next (the median over all pairs, so a gap does not
 * move it; capture range +-1 / (2 block) Hz, 50 Hz for 10 ms blocks), and
 * levels are then fitted at the measured frequency. The level checked is
 * the median over 100 ms blocks, so a gap (which the continuity check
 * judges) does not move it either.
 *
 * Continuity. The span is cut into short blocks (10 ms, longer if two tones
 * are too close to separate in 10 ms); a block is bad when what the fit
 * leaves over exceeds the threshold relative to the tones' RMS (a click: one
 * sample of 0.05 on a -20 dBFS tone leaves -30 dB in 10 ms), or when a
 * tone's level in the block strays more than 1 dB from its median (a block
 * of pure silence fits perfectly, at amplitude zero). A slow bend of pitch
 * is not a glitch: a receiver's clock recovery steers its resampler up to a
 * few hundred ppm off for seconds after a disturbance, which no ear hears
 * (500 ppm is under a cent), but which over 10 ms leaves -40 dB at 3 kHz
 * against a fit at one frequency. So each block is fitted again with all
 * its tones scaled by one factor within +-500 ppm, the best kept; a gap, a
 * click or noise cannot be fitted away like that. The first glitch is
 * located to the sample against the tone extrapolated from a good block.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "sig.h"

#define WC_MAX_CHANNELS 64
#define WC_MAX_DELAYS   64
#define WC_PI           3.14159265358979323846

/* Defaults, each documented in --help. */
#define WC_TOL_DB         0.1
#define WC_FREQ_TOL_HZ    1.0
#define WC_SILENT_DBFS    -90.0
#define WC_GAP_DB         -40.0
#define WC_DELAY_TOL_MS   1.0
#define WC_MAX_LAG_MS     500.0
#define WC_LEVEL_BLOCK_MS 100.0
#define WC_GAP_BLOCK_MS   10.0
/* A block whose tone level strays this far from the median is a glitch. */
#define WC_BLOCK_LEVEL_DB 1.0
/* Continuity forgives a pitch bend of up to this much in a short block. */
#define WC_BEND_PPM 500.0
/* A tone this far below the channel's own level is not there at all. */
#define WC_PRESENT_DB -30.0
/* Below this a correlation is no match: a delay is not measured. */
#define WC_MIN_SCORE 0.5
/* The dominant frequency of --print is fitted on this much of the channel. */
#define WC_PRINT_FIT_S 1.0

struct tone_spec {
    double freq;
    double level; /* dBFS; NAN when only presence and frequency are checked */
};

struct chan_spec {
    int channel; /* 1-based */
    struct tone_spec tones[SIG_MAX_TONES];
    size_t ntones;
    double tol_db, freq_tol_hz;
    bool silent;
    double below_dbfs;
    bool continuity;
    double gaps_allowed_ms;
    double gap_db;
    double block_level_db;
};

struct delay_spec {
    int ref, channel;
    bool expect, expect_samples; /* expect_samples: expected is in samples, else ms */
    double expected;
    bool tol_set, tol_samples;
    double tol;
};

struct options {
    const char *path;
    double skip_ms;
    double until_ms; /* 0: to the end */
    long rate;       /* 0: not checked */
    bool json, print;
    double max_lag_ms;
    struct chan_spec chans[WC_MAX_CHANNELS];
    size_t nchans;
    struct delay_spec delays[WC_MAX_DELAYS];
    size_t ndelays;
};

/* What was measured and judged, for the human and JSON outputs alike. */
struct report {
    bool json;
    json_t *root, *checks;
    unsigned total, failed;
};

static const char usage_text[] =
    "usage: aoip-wavcheck FILE [--skip-ms N] [--until-ms N] [--rate HZ] [--json] [--print]\n"
    "         [--channel C [--freq F]... [--level DBFS] [--tol-db DB] [--freq-tol HZ]\n"
    "                      [--silent [--below DBFS]] [--no-gaps | --gaps-allowed-ms N]\n"
    "                      [--gap-threshold-db DB] [--block-level-db DB]]...\n"
    "         [--delay REF,C [--expect-ms X | --expect-samples N]\n"
    "                        [--tol-ms Y | --tol-samples M] [--max-lag-ms L]]...\n"
    "Measures a recording and checks it. Channels are 1-based; times are from the\n"
    "start of the file; --skip-ms leaves the start out of every measurement,\n"
    "--until-ms the end after N ms.\n"
    "  --freq F          a tone of F Hz is present (up to 8 per channel), within\n"
    "                    --freq-tol HZ (default 1)\n"
    "  --level DBFS      at this peak level within --tol-db (default 0.1); applies to\n"
    "                    every --freq of the channel that has no level yet\n"
    "  --silent          RMS below --below DBFS (default -90)\n"
    "  --no-gaps         no gap or click: in every 10 ms block the tones fit to within\n"
    "                    --gap-threshold-db (default -40 dB) and hold their level\n"
    "                    within --block-level-db (default 1 dB)\n"
    "  --gaps-allowed-ms N  as --no-gaps, tolerating N ms of bad blocks in all\n"
    "  --delay REF,C     lag of C behind REF by cross-correlation (pulses or noise);\n"
    "                    --expect-ms/--tol-ms (default 1) or --expect-samples/\n"
    "                    --tol-samples (default 0); searched to +-500 ms (--max-lag-ms)\n"
    "  --rate HZ         the file's sample rate is HZ\n"
    "  --print           duration, RMS, peak, dominant frequency and first/last sound\n"
    "                    of every channel\n"
    "  --json            everything as one JSON object\n"
    "Exit: 0 all checks pass, 1 a check failed, 2 usage or file error.\n"
    "examples:\n"
    "  aoip-wavcheck out.wav --skip-ms 500 --channel 1 --freq 440 --level -20 --no-gaps \\\n"
    "      --channel 2 --silent\n"
    "  aoip-wavcheck out.wav --channel 1 --freq 440 --level -20 --freq 554 --level -26\n"
    "  aoip-wavcheck out.wav --delay 1,2 --expect-ms 3 --tol-ms 0.5\n"
    "  aoip-wavcheck out.wav --print\n";

#define usage_error(...)                                                                           \
    tool_usage_error("aoip-wavcheck", "(aoip-wavcheck --help shows every option)\n", __VA_ARGS__)

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool parse_channel(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < 1 || v > WC_MAX_CHANNELS)
        return false;
    *out = (int)v;
    return true;
}

static struct chan_spec *chan_spec_get(struct options *o, int channel)
{
    for (size_t i = 0; i < o->nchans; i++)
        if (o->chans[i].channel == channel)
            return &o->chans[i];
    struct chan_spec *c = &o->chans[o->nchans++];
    *c = (struct chan_spec){ .channel = channel,
                             .tol_db = WC_TOL_DB,
                             .freq_tol_hz = WC_FREQ_TOL_HZ,
                             .below_dbfs = WC_SILENT_DBFS,
                             .gap_db = WC_GAP_DB,
                             .block_level_db = WC_BLOCK_LEVEL_DB };
    return c;
}

static bool is_channel_option(const char *a)
{
    static const char *const names[] = {
        "--freq",  "--level",   "--tol-db",          "--freq-tol",         "--silent",
        "--below", "--no-gaps", "--gaps-allowed-ms", "--gap-threshold-db", "--block-level-db"
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(a, names[i]) == 0)
            return true;
    return false;
}

static bool is_delay_option(const char *a)
{
    return strcmp(a, "--expect-ms") == 0 || strcmp(a, "--expect-samples") == 0 ||
           strcmp(a, "--tol-ms") == 0 || strcmp(a, "--tol-samples") == 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    struct chan_spec *c = NULL;
    struct delay_spec *d = NULL;
    o->max_lag_ms = WC_MAX_LAG_MS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (o->path)
                return usage_error("one file at a time: '%s' and '%s'", o->path, a);
            o->path = a;
            continue;
        }
        /* The options that take no value. */
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--print") == 0) {
            o->print = true;
            continue;
        }
        if (is_channel_option(a) && !c)
            return usage_error("%s needs a --channel before it", a);
        if (is_delay_option(a) && !d)
            return usage_error("%s needs a --delay before it", a);
        if (strcmp(a, "--silent") == 0) {
            c->silent = true;
            continue;
        }
        if (strcmp(a, "--no-gaps") == 0) {
            c->continuity = true;
            c->gaps_allowed_ms = 0.0;
            continue;
        }

        if (i + 1 >= argc)
            return usage_error("%s needs a value", a);
        const char *v = argv[++i];
        double num;
        if (strcmp(a, "--channel") == 0) {
            int ch;
            if (!parse_channel(v, &ch))
                return usage_error("--channel wants 1..%d, not '%s'", WC_MAX_CHANNELS, v);
            c = chan_spec_get(o, ch);
        } else if (strcmp(a, "--delay") == 0) {
            char ref[16], ch[16];
            const char *comma = strchr(v, ',');
            if (!comma || (size_t)(comma - v) >= sizeof(ref) || strlen(comma + 1) >= sizeof(ch))
                return usage_error("--delay wants REF,C (two channels), not '%s'", v);
            memcpy(ref, v, (size_t)(comma - v));
            ref[comma - v] = '\0';
            strcpy(ch, comma + 1);
            if (o->ndelays == WC_MAX_DELAYS)
                return usage_error("at most %d --delay", WC_MAX_DELAYS);
            d = &o->delays[o->ndelays++];
            *d = (struct delay_spec){ 0 };
            if (!parse_channel(ref, &d->ref) || !parse_channel(ch, &d->channel) ||
                d->ref == d->channel)
                return usage_error("--delay wants two different channels REF,C, not '%s'", v);
        } else if (strcmp(a, "--skip-ms") == 0) {
            if (!parse_double(v, &o->skip_ms) || o->skip_ms < 0.0)
                return usage_error("--skip-ms wants a time in ms, not '%s'", v);
        } else if (strcmp(a, "--until-ms") == 0) {
            if (!parse_double(v, &o->until_ms) || o->until_ms <= 0.0)
                return usage_error("--until-ms wants a time in ms, not '%s'", v);
        } else if (strcmp(a, "--rate") == 0) {
            if (!parse_double(v, &num) || num < 1.0 || num > 1e6 || num != floor(num))
                return usage_error("--rate wants a sample rate in Hz, not '%s'", v);
            o->rate = (long)num;
        } else if (strcmp(a, "--max-lag-ms") == 0) {
            if (!parse_double(v, &o->max_lag_ms) || o->max_lag_ms <= 0.0)
                return usage_error("--max-lag-ms wants a time in ms, not '%s'", v);
        } else if (strcmp(a, "--freq") == 0) {
            if (!parse_double(v, &num) || num <= 0.0)
                return usage_error("--freq wants a frequency in Hz, not '%s'", v);
            if (c->ntones == SIG_MAX_TONES)
                return usage_error("at most %d --freq a channel", SIG_MAX_TONES);
            for (size_t j = 0; j < c->ntones; j++)
                if (c->tones[j].freq == num)
                    return usage_error("--freq %s twice on channel %d", v, c->channel);
            c->tones[c->ntones++] = (struct tone_spec){ .freq = num, .level = NAN };
        } else if (strcmp(a, "--level") == 0) {
            if (!parse_double(v, &num))
                return usage_error("--level wants dBFS, not '%s'", v);
            bool any = false;
            for (size_t j = 0; j < c->ntones; j++)
                if (isnan(c->tones[j].level)) {
                    c->tones[j].level = num;
                    any = true;
                }
            if (!any)
                return usage_error("--level %s on channel %d has no --freq without a level "
                                   "before it",
                                   v, c->channel);
        } else if (strcmp(a, "--tol-db") == 0) {
            if (!parse_double(v, &c->tol_db) || c->tol_db < 0.0)
                return usage_error("--tol-db wants dB, not '%s'", v);
        } else if (strcmp(a, "--freq-tol") == 0) {
            if (!parse_double(v, &c->freq_tol_hz) || c->freq_tol_hz < 0.0)
                return usage_error("--freq-tol wants Hz, not '%s'", v);
        } else if (strcmp(a, "--below") == 0) {
            if (!parse_double(v, &c->below_dbfs))
                return usage_error("--below wants dBFS, not '%s'", v);
        } else if (strcmp(a, "--gaps-allowed-ms") == 0) {
            if (!parse_double(v, &c->gaps_allowed_ms) || c->gaps_allowed_ms < 0.0)
                return usage_error("--gaps-allowed-ms wants a time in ms, not '%s'", v);
            c->continuity = true;
        } else if (strcmp(a, "--gap-threshold-db") == 0) {
            if (!parse_double(v, &c->gap_db) || c->gap_db >= 0.0)
                return usage_error("--gap-threshold-db wants a negative dB figure, not '%s'", v);
        } else if (strcmp(a, "--block-level-db") == 0) {
            if (!parse_double(v, &c->block_level_db) || !(c->block_level_db > 0.0))
                return usage_error("--block-level-db wants a positive dB figure, not '%s'", v);
        } else if (strcmp(a, "--expect-ms") == 0 || strcmp(a, "--expect-samples") == 0) {
            if (!parse_double(v, &d->expected))
                return usage_error("%s wants a number, not '%s'", a, v);
            d->expect = true;
            d->expect_samples = strcmp(a, "--expect-samples") == 0;
        } else if (strcmp(a, "--tol-ms") == 0 || strcmp(a, "--tol-samples") == 0) {
            if (!parse_double(v, &d->tol) || d->tol < 0.0)
                return usage_error("%s wants a number, not '%s'", a, v);
            d->tol_set = true;
            d->tol_samples = strcmp(a, "--tol-samples") == 0;
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (!o->path)
        return usage_error("no FILE to check");
    for (size_t i = 0; i < o->nchans; i++)
        if (o->chans[i].continuity && o->chans[i].ntones == 0)
            return usage_error("--no-gaps and --gaps-allowed-ms on channel %d need its --freq",
                               o->chans[i].channel);
    return 0;
}

/* ---- output ------------------------------------------------------------ */

/* JSON has no infinity or NaN: silence and "not measured" become null. */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void report_add(struct report *r, const char *array, json_t *item)
{
    json_t *a = json_object_get(r->root, array);
    if (!a) {
        a = json_array();
        json_object_set_new(r->root, array, a);
    }
    json_array_append_new(a, item);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
note(const struct report *r, const char *fmt, ...)
{
    if (r->json)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* One check: PASS or FAIL and a line of what was measured; detail is its
 * JSON form, taken over. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
check(struct report *r, bool ok, json_t *detail, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    r->total++;
    r->failed += !ok;
    if (!r->json)
        printf("%s %s\n", ok ? "PASS" : "FAIL", text);
    json_object_set_new(detail, "ok", json_boolean(ok));
    json_object_set_new(detail, "text", json_string(text));
    json_array_append_new(r->checks, detail);
}

/* ---- the file ---------------------------------------------------------- */

struct audio {
    const char *path;
    SNDFILE *sf;
    SF_INFO info;
    size_t frames;
    double rate;
    float *ch[WC_MAX_CHANNELS]; /* planar copies of the channels asked for */
};

static int audio_open(struct audio *au, const char *path)
{
    au->path = path;
    au->sf = sf_open(path, SFM_READ, &au->info);
    if (!au->sf) {
        fprintf(stderr, "aoip-wavcheck: %s: %s\n", path, sf_strerror(NULL));
        return 2;
    }
    if (au->info.channels < 1 || au->info.channels > WC_MAX_CHANNELS) {
        fprintf(stderr, "aoip-wavcheck: %s: %d channels; at most %d are supported\n", path,
                au->info.channels, WC_MAX_CHANNELS);
        return 2;
    }
    if (au->info.frames <= 0) {
        fprintf(stderr,
                "aoip-wavcheck: %s: holds no audio (a recording that was never finished?)\n", path);
        return 2;
    }
    au->frames = (size_t)au->info.frames;
    au->rate = au->info.samplerate;
    return 0;
}

/* Read the channels marked in want (0-based) into planar buffers. */
static int audio_load(struct audio *au, const bool *want)
{
    enum { CHUNK = 4096 };
    size_t nch = (size_t)au->info.channels;
    for (size_t c = 0; c < nch; c++)
        if (want[c] && !au->ch[c] && !(au->ch[c] = malloc(au->frames * sizeof(float)))) {
            fprintf(stderr, "aoip-wavcheck: %s: out of memory\n", au->path);
            return 2;
        }
    float *buf = malloc(CHUNK * nch * sizeof(float));
    if (!buf || sf_seek(au->sf, 0, SEEK_SET) != 0) {
        free(buf);
        fprintf(stderr, "aoip-wavcheck: %s: cannot read from the start\n", au->path);
        return 2;
    }
    for (size_t at = 0; at < au->frames;) {
        sf_count_t want_n = au->frames - at < CHUNK ? (sf_count_t)(au->frames - at) : CHUNK;
        sf_count_t got = sf_readf_float(au->sf, buf, want_n);
        if (got <= 0) {
            free(buf);
            fprintf(stderr, "aoip-wavcheck: %s: ends after %zu of %zu frames\n", au->path, at,
                    au->frames);
            return 2;
        }
        for (size_t c = 0; c < nch; c++)
            if (want[c])
                for (size_t i = 0; i < (size_t)got; i++)
                    au->ch[c][at + i] = buf[i * nch + c];
        at += (size_t)got;
    }
    free(buf);
    return 0;
}

static void audio_close(struct audio *au)
{
    for (size_t c = 0; c < WC_MAX_CHANNELS; c++)
        free(au->ch[c]);
    if (au->sf)
        sf_close(au->sf);
}

static double ms_of(size_t sample, double rate)
{
    return (double)sample * 1000.0 / rate;
}

/* ---- small statistics ---------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) with stride, sorted in scratch; NAN when n is 0. */
static double median(const double *v, size_t n, size_t stride, double *scratch)
{
    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++)
        scratch[i] = v[i * stride];
    qsort(scratch, n, sizeof(*scratch), cmp_double);
    return n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
}

static double wrap_phase(double p)
{
    p = fmod(p, 2.0 * WC_PI);
    if (p > WC_PI)
        p -= 2.0 * WC_PI;
    else if (p <= -WC_PI)
        p += 2.0 * WC_PI;
    return p;
}

/* ---- tones ------------------------------------------------------------- */

/* The fits of one channel, block by block: amp[b * k + j], phase likewise. */
struct blocks {
    size_t len, count, k;
    double *amp, *phase, *resid;
    bool *fitted;
};

static void blocks_free(struct blocks *b)
{
    free(b->amp);
    free(b->phase);
    free(b->resid);
    free(b->fitted);
}

static void blocks_refit(struct blocks *b, const float *x, double rate, const double *freqs)
{
    for (size_t i = 0; i < b->count; i++)
        b->fitted[i] = sig_fit_tones(x + i * b->len, b->len, rate, freqs, b->k, b->amp + i * b->k,
                                     b->phase + i * b->k, b->resid + i) == 0;
}

/* The fit of block i with every tone scaled by (1 + ppm / 1e6): its
 * residual, with amps and phases written to out_amp and out_phase (k each);
 * INFINITY when it does not fit. */
static double bent_fit(const struct blocks *b, size_t i, const float *x, double rate,
                       const double *freqs, double ppm, double *out_amp, double *out_phase)
{
    double f[SIG_MAX_TONES], resid;
    for (size_t j = 0; j < b->k; j++)
        f[j] = freqs[j] * (1.0 + ppm * 1e-6);
    if (sig_fit_tones(x + i * b->len, b->len, rate, f, b->k, out_amp, out_phase, &resid) != 0)
        return INFINITY;
    return resid;
}

/*
 * Each block fitted again at the common scale of its tones' frequencies,
 * within +-WC_BEND_PPM, that leaves the least over (a golden-section
 * search: over so small a range the residual is one smooth bowl), kept
 * where it beats the fit at the measured frequencies.
 */
static void blocks_bend(struct blocks *b, const float *x, double rate, const double *freqs)
{
    const double g = 0.5 * (sqrt(5.0) - 1.0);
    double amp[SIG_MAX_TONES], phase[SIG_MAX_TONES];
    for (size_t i = 0; i < b->count; i++) {
        double lo = -WC_BEND_PPM, hi = WC_BEND_PPM;
        double p1 = hi - g * (hi - lo), p2 = lo + g * (hi - lo);
        double r1 = bent_fit(b, i, x, rate, freqs, p1, amp, phase);
        double r2 = bent_fit(b, i, x, rate, freqs, p2, amp, phase);
        for (int it = 0; it < 24; it++) {
            if (r1 <= r2) {
                hi = p2;
                p2 = p1;
                r2 = r1;
                p1 = hi - g * (hi - lo);
                r1 = bent_fit(b, i, x, rate, freqs, p1, amp, phase);
            } else {
                lo = p1;
                p1 = p2;
                r1 = r2;
                p2 = lo + g * (hi - lo);
                r2 = bent_fit(b, i, x, rate, freqs, p2, amp, phase);
            }
        }
        double r = bent_fit(b, i, x, rate, freqs, 0.5 * (lo + hi), amp, phase);
        if (b->fitted[i] && !(r < b->resid[i]))
            continue;
        if (r == INFINITY)
            continue;
        b->fitted[i] = true;
        b->resid[i] = r;
        memcpy(b->amp + i * b->k, amp, b->k * sizeof(double));
        memcpy(b->phase + i * b->k, phase, b->k * sizeof(double));
    }
}

static int blocks_fit(struct blocks *b, const float *x, size_t n, size_t len, double rate,
                      const double *freqs, size_t k)
{
    b->len = len;
    b->k = k;
    b->count = len ? n / len : 0;
    size_t cells = b->count ? b->count * k : 1;
    b->amp = calloc(cells, sizeof(double));
    b->phase = calloc(cells, sizeof(double));
    b->resid = calloc(b->count ? b->count : 1, sizeof(double));
    b->fitted = calloc(b->count ? b->count : 1, sizeof(bool));
    if (!b->amp || !b->phase || !b->resid || !b->fitted)
        return -1;
    blocks_refit(b, x, rate, freqs);
    return 0;
}

struct tone_result {
    double freq;       /* measured; NAN when the tone was not found */
    double level_dbfs; /* median over level blocks */
    double min_dbfs, max_dbfs;
    double span_dbfs; /* one fit over the whole span */
    bool found;
};

struct continuity_result {
    bool judged; /* false: no tone found to judge against */
    double block_ms;
    size_t blocks, bad;
    double bad_ms, worst_db;
    size_t first_bad;    /* block index */
    size_t first_glitch; /* sample index within the span */
};

/*
 * The short block length for frequency and continuity: 10 ms, or long
 * enough to hold two cycles of the difference between the two closest
 * tones, so the joint fit can tell them apart; at most the level block.
 */
static size_t short_block(const struct chan_spec *cs, double rate)
{
    double sep = INFINITY;
    for (size_t i = 0; i < cs->ntones; i++)
        for (size_t j = i + 1; j < cs->ntones; j++)
            sep = fmin(sep, fabs(cs->tones[i].freq - cs->tones[j].freq));
    double s = fmin(fmax(WC_GAP_BLOCK_MS / 1000.0, 2.0 / sep), WC_LEVEL_BLOCK_MS / 1000.0);
    return (size_t)llround(s * rate);
}

/* Frequencies from how the phase, fitted at the base frequencies, advances
 * between consecutive short blocks where the tone is clearly present. */
static void measure_freqs(const struct blocks *b, const double *base, double rate, double *scratch,
                          double *freqs, bool *measured)
{
    size_t k = b->k;
    for (size_t j = 0; j < k; j++) {
        double f0 = base[j];
        double med = median(b->amp + j, b->count, k, scratch);
        double w = 2.0 * WC_PI * f0 / rate;
        size_t pairs = 0;
        double *df = scratch;
        for (size_t i = 0; i + 1 < b->count; i++) {
            const double a0 = b->amp[i * k + j], a1 = b->amp[(i + 1) * k + j];
            if (!b->fitted[i] || !b->fitted[i + 1] || !(a0 >= 0.5 * med) || !(a1 >= 0.5 * med) ||
                a0 < 1e-6 || a1 < 1e-6)
                continue;
            double d =
                wrap_phase(b->phase[(i + 1) * k + j] - b->phase[i * k + j] - w * (double)b->len);
            df[pairs++] = d * rate / (2.0 * WC_PI * (double)b->len);
        }
        measured[j] = pairs > 0;
        freqs[j] = f0 + (pairs ? median(df, pairs, 1, df + pairs) : 0.0);
    }
}

/*
 * Judge continuity on short blocks fitted at the measured frequencies, and
 * find the first glitch to the sample: against the tones extrapolated from
 * the nearest good block, the first sample off by more than a tenth of the
 * tones' amplitude (or, for a block bad only by a little, the worst one).
 */
static void judge_continuity(const struct blocks *b, const float *x, double rate,
                             const double *freqs, const struct tone_result *tr, double gap_db,
                             double block_level_db, bool *bad, struct continuity_result *cr)
{
    size_t k = b->k;
    double ref2 = 0.0, amp_sum = 0.0;
    for (size_t j = 0; j < k; j++)
        if (tr[j].found) {
            double a = pow(10.0, tr[j].level_dbfs / 20.0);
            ref2 += a * a / 2.0;
            amp_sum += a;
        }
    *cr = (struct continuity_result){ .block_ms = ms_of(b->len, rate),
                                      .blocks = b->count,
                                      .worst_db = -INFINITY,
                                      .first_bad = b->count };
    if (ref2 <= 0.0 || b->count == 0)
        return;
    cr->judged = true;
    double ref = sqrt(ref2), limit = pow(10.0, gap_db / 20.0);
    for (size_t i = 0; i < b->count; i++) {
        double rel = b->resid[i] / ref;
        cr->worst_db = fmax(cr->worst_db, 20.0 * log10(fmax(rel, 1e-30)));
        bad[i] = !b->fitted[i] || rel > limit;
        for (size_t j = 0; j < k; j++)
            if (tr[j].found)
                bad[i] |=
                    !(fabs(20.0 * log10(b->amp[i * k + j]) - tr[j].level_dbfs) <= block_level_db);
        if (bad[i]) {
            if (cr->bad == 0)
                cr->first_bad = i;
            cr->bad++;
        }
    }
    cr->bad_ms = ms_of(cr->bad * b->len, rate);
    if (cr->bad == 0)
        return;

    /* The nearest good block: the one before the first bad one, or else the
     * next good one after it. */
    size_t good = cr->first_bad > 0 ? cr->first_bad - 1 : b->count;
    for (size_t i = cr->first_bad + 1; good == b->count && i < b->count; i++)
        if (!bad[i])
            good = i;
    size_t start = cr->first_bad * b->len, worst = start;
    cr->first_glitch = start;
    if (good == b->count)
        return;
    double worst_e = -1.0;
    bool located = false;
    for (size_t i = start; i < start + b->len && !located; i++) {
        double model = 0.0, t = (double)i - (double)(good * b->len);
        for (size_t j = 0; j < k; j++)
            if (tr[j].found)
                model += pow(10.0, tr[j].level_dbfs / 20.0) *
                         sin(2.0 * WC_PI * freqs[j] * t / rate + b->phase[good * k + j]);
        double e = fabs(x[i] - model);
        if (e > 0.1 * amp_sum) {
            worst = i;
            located = true;
        } else if (e > worst_e) {
            worst_e = e;
            worst = i;
        }
    }
    cr->first_glitch = worst;
}

static int check_tones(struct report *r, const struct chan_spec *cs, const float *x, size_t n,
                       size_t skip, double rate)
{
    size_t k = cs->ntones;
    double nominal[SIG_MAX_TONES], freqs[SIG_MAX_TONES], amps[SIG_MAX_TONES];
    bool measured[SIG_MAX_TONES];
    struct tone_result tr[SIG_MAX_TONES];
    struct blocks fine = { 0 }, coarse = { 0 }, cont = { 0 };
    double *scratch = NULL;
    bool *verdicts = NULL;
    int rc = 2;
    for (size_t j = 0; j < k; j++) {
        nominal[j] = cs->tones[j].freq;
        if (!(nominal[j] < rate / 2.0)) {
            fprintf(stderr,
                    "aoip-wavcheck: --freq %g on channel %d is not below half the "
                    "sample rate\n",
                    nominal[j], cs->channel);
            goto out;
        }
    }
    size_t short_len = short_block(cs, rate);
    size_t level_len = (size_t)llround(WC_LEVEL_BLOCK_MS / 1000.0 * rate);
    if (level_len < short_len)
        level_len = short_len;
    if (level_len > n)
        level_len = n;
    /* Room for two medians' worth of short blocks (measure_freqs). */
    scratch = malloc(2 * (n / short_len + 2) * sizeof(double));
    if (!scratch || blocks_fit(&fine, x, n, short_len, rate, nominal, k) != 0)
        goto oom;
    measure_freqs(&fine, nominal, rate, scratch, freqs, measured);
    /* A fit off the true frequency reads the phase with a small error that
     * depends on where the block starts; refitted nearer, the error shrinks
     * with the distance, so two more rounds leave nothing measurable. */
    for (int round = 0; round < 2; round++) {
        double next[SIG_MAX_TONES];
        bool again[SIG_MAX_TONES];
        blocks_refit(&fine, x, rate, freqs);
        measure_freqs(&fine, freqs, rate, scratch, next, again);
        for (size_t j = 0; j < k; j++)
            if (measured[j] && again[j])
                freqs[j] = next[j];
    }
    if (blocks_fit(&coarse, x, n, level_len, rate, freqs, k) != 0)
        goto oom;

    double span_amp = sqrt(2.0) * pow(10.0, sig_rms_dbfs(x, n) / 20.0);
    bool span_ok = sig_fit_tones(x, n, rate, freqs, k, amps, NULL, NULL) == 0;
    for (size_t j = 0; j < k; j++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < coarse.count; i++) {
            lo = fmin(lo, coarse.amp[i * k + j]);
            hi = fmax(hi, coarse.amp[i * k + j]);
        }
        double med = median(coarse.amp + j, coarse.count, k, scratch);
        tr[j] = (struct tone_result){
            .level_dbfs = sig_dbfs(med),
            .min_dbfs = sig_dbfs(lo),
            .max_dbfs = sig_dbfs(hi),
            .span_dbfs = span_ok ? sig_dbfs(amps[j]) : NAN,
        };
        tr[j].found =
            measured[j] && med >= 1e-6 && med >= span_amp * pow(10.0, WC_PRESENT_DB / 20.0);
        tr[j].freq = tr[j].found ? freqs[j] : NAN;

        note(r,
             "ch%d %g Hz: level %.3f dBFS (blocks %.3f..%.3f, whole span %.3f), "
             "frequency %.4f Hz%s",
             cs->channel, nominal[j], tr[j].level_dbfs, tr[j].min_dbfs, tr[j].max_dbfs,
             tr[j].span_dbfs, freqs[j], tr[j].found ? "" : " (not found)");
        json_t *m = json_pack("{s:i, s:f, s:o, s:o, s:o, s:o, s:o, s:b}", "channel", cs->channel,
                              "freq_hz", nominal[j], "measured_freq_hz", jnum(tr[j].freq),
                              "level_dbfs", jnum(tr[j].level_dbfs), "block_min_dbfs",
                              jnum(tr[j].min_dbfs), "block_max_dbfs", jnum(tr[j].max_dbfs),
                              "span_level_dbfs", jnum(tr[j].span_dbfs), "found", tr[j].found);
        report_add(r, "tones", m);

        check(r, tr[j].found && fabs(tr[j].freq - nominal[j]) <= cs->freq_tol_hz,
              json_pack("{s:s, s:i, s:f, s:o, s:f}", "check", "frequency", "channel", cs->channel,
                        "expected_hz", nominal[j], "measured_hz", jnum(tr[j].freq), "tol_hz",
                        cs->freq_tol_hz),
              tr[j].found ? "ch%d tone %g Hz: measured %.4f Hz (tolerance %g Hz)"
                          : "ch%d tone %g Hz: not found (fitted frequency %.4f Hz, level "
                            "below the channel's or not steady; tolerance %g Hz)",
              cs->channel, nominal[j], freqs[j], cs->freq_tol_hz);
        if (!isnan(cs->tones[j].level))
            check(r, fabs(tr[j].level_dbfs - cs->tones[j].level) <= cs->tol_db,
                  json_pack("{s:s, s:i, s:f, s:f, s:o, s:f}", "check", "level", "channel",
                            cs->channel, "freq_hz", nominal[j], "expected_dbfs", cs->tones[j].level,
                            "measured_dbfs", jnum(tr[j].level_dbfs), "tol_db", cs->tol_db),
                  "ch%d tone %g Hz: level %.3f dBFS, expected %.3f +- %g dB", cs->channel,
                  nominal[j], tr[j].level_dbfs, cs->tones[j].level, cs->tol_db);
    }

    if (cs->continuity) {
        struct continuity_result cr;
        if (blocks_fit(&cont, x, n, short_len, rate, freqs, k) != 0)
            goto oom;
        blocks_bend(&cont, x, rate, freqs);
        if (!(verdicts = calloc(cont.count + 1, sizeof(bool))))
            goto oom;
        judge_continuity(&cont, x, rate, freqs, tr, cs->gap_db, cs->block_level_db, verdicts, &cr);
        double first_bad_ms = cr.bad ? ms_of(skip + cr.first_bad * short_len, rate) : NAN;
        double first_glitch_ms = cr.bad ? ms_of(skip + cr.first_glitch, rate) : NAN;
        note(r,
             "ch%d continuity: %zu of %zu blocks of %.1f ms bad (%.1f ms), worst residual "
             "%.1f dB",
             cs->channel, cr.bad, cr.blocks, cr.block_ms, cr.bad_ms, cr.worst_db);
        report_add(r, "continuity",
                   json_pack("{s:i, s:f, s:I, s:I, s:f, s:o, s:o, s:o}", "channel", cs->channel,
                             "block_ms", cr.block_ms, "blocks", (json_int_t)cr.blocks, "bad_blocks",
                             (json_int_t)cr.bad, "bad_ms", cr.bad_ms, "first_bad_block_ms",
                             jnum(first_bad_ms), "first_glitch_ms", jnum(first_glitch_ms),
                             "worst_residual_db", jnum(cr.worst_db)));
        json_t *detail =
            json_pack("{s:s, s:i, s:f, s:f, s:I, s:o}", "check", "continuity", "channel",
                      cs->channel, "allowed_ms", cs->gaps_allowed_ms, "bad_ms", cr.bad_ms,
                      "bad_blocks", (json_int_t)cr.bad, "first_glitch_ms", jnum(first_glitch_ms));
        if (!cr.judged)
            check(r, false, detail, "ch%d continuity: no tone found to judge it against",
                  cs->channel);
        else if (cr.bad == 0)
            check(r, true, detail, "ch%d continuity: no glitch in %zu blocks of %.1f ms",
                  cs->channel, cr.blocks, cr.block_ms);
        else
            check(r, cr.bad_ms <= cs->gaps_allowed_ms, detail,
                  "ch%d continuity: %zu bad blocks (%.1f ms, %g ms allowed), first glitch at "
                  "%.3f ms",
                  cs->channel, cr.bad, cr.bad_ms, cs->gaps_allowed_ms, first_glitch_ms);
    }
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "aoip-wavcheck: out of memory\n");
out:
    blocks_free(&fine);
    blocks_free(&coarse);
    blocks_free(&cont);
    free(scratch);
    free(verdicts);
    return rc;
}

static void check_silence(struct report *r, const struct chan_spec *cs, const float *x, size_t n)
{
    double rms = sig_rms_dbfs(x, n);
    note(r, "ch%d RMS %.2f dBFS", cs->channel, rms);
    check(r, rms < cs->below_dbfs,
          json_pack("{s:s, s:i, s:f, s:o}", "check", "silent", "channel", cs->channel, "below_dbfs",
                    cs->below_dbfs, "measured_dbfs", jnum(rms)),
          "ch%d silent: RMS %.2f dBFS, expected below %g dBFS", cs->channel, rms, cs->below_dbfs);
}

/* ---- delay ------------------------------------------------------------- */

/* First sample of x[a..b) at or above half its peak. */
static size_t onset(const float *x, size_t a, size_t b)
{
    double half = 0.5 * sig_peak(x + a, b - a);
    for (size_t i = a; i < b; i++)
        if (half > 0.0 && fabs((double)x[i]) >= half)
            return i;
    return a;
}

/*
 * Lag of x behind ref, searched both ways: a window of ref starting just
 * before its first pulse (or its start, for noise) slid along x, and the
 * other way round for x ahead of ref. The better match wins.
 */
static long measure_delay(const float *ref, const float *x, size_t a, size_t b, double rate,
                          double max_lag_ms, double *score)
{
    size_t margin = (size_t)(rate / 1000.0), win = (size_t)(0.1 * rate);
    long max_lag = (long)llround(max_lag_ms * rate / 1000.0);
    long lags[2] = { 0, 0 };
    double scores[2] = { -2.0, -2.0 };
    for (int dir = 0; dir < 2; dir++) {
        const float *p = dir == 0 ? ref : x, *q = dir == 0 ? x : ref;
        size_t o = onset(p, a, b), ws = o >= a + margin ? o - margin : a;
        size_t nw = b - ws < win ? b - ws : win;
        lags[dir] = sig_delay(p + ws, nw, q + ws, b - ws, max_lag, &scores[dir]);
    }
    bool ahead = scores[1] > scores[0] && lags[1] > 0;
    *score = ahead ? scores[1] : scores[0];
    return ahead ? -lags[1] : lags[0];
}

static void check_delay(struct report *r, const struct delay_spec *d, const struct audio *au,
                        size_t skip, double max_lag_ms)
{
    double score;
    long lag = measure_delay(au->ch[d->ref - 1], au->ch[d->channel - 1], skip, au->frames, au->rate,
                             max_lag_ms, &score);
    double lag_ms = (double)lag * 1000.0 / au->rate;
    bool found = score >= WC_MIN_SCORE;
    note(r, "delay ch%d -> ch%d: %ld samples = %.3f ms (correlation %.3f)", d->ref, d->channel, lag,
         lag_ms, score);
    report_add(r, "delays",
               json_pack("{s:i, s:i, s:I, s:f, s:f}", "ref", d->ref, "channel", d->channel,
                         "lag_samples", (json_int_t)lag, "lag_ms", lag_ms, "score", score));

    json_t *detail =
        json_pack("{s:s, s:i, s:i, s:I, s:f, s:f}", "check", "delay", "ref", d->ref, "channel",
                  d->channel, "lag_samples", (json_int_t)lag, "lag_ms", lag_ms, "score", score);
    if (!found) {
        check(r, false, detail,
              "delay ch%d -> ch%d: no match within +-%g ms (best correlation %.3f)", d->ref,
              d->channel, max_lag_ms, score);
        return;
    }
    if (!d->expect) {
        check(r, true, detail, "delay ch%d -> ch%d: %ld samples = %.3f ms", d->ref, d->channel, lag,
              lag_ms);
        return;
    }
    /* Compare in samples: exact when both are given in samples. */
    double per_ms = au->rate / 1000.0;
    double want = d->expect_samples ? d->expected : d->expected * per_ms;
    double tol = d->tol_set ? (d->tol_samples ? d->tol : d->tol * per_ms)
                            : (d->expect_samples ? 0.0 : WC_DELAY_TOL_MS * per_ms);
    json_object_set_new(detail, "expected_samples", json_real(want));
    json_object_set_new(detail, "tol_samples", json_real(tol));
    bool ok = fabs((double)lag - want) <= tol + 1e-9;
    if (d->expect_samples)
        check(r, ok, detail, "delay ch%d -> ch%d: %ld samples = %.3f ms, expected %g +- %g samples",
              d->ref, d->channel, lag, lag_ms, want, tol);
    else
        check(r, ok, detail, "delay ch%d -> ch%d: %ld samples = %.3f ms, expected %g +- %g ms",
              d->ref, d->channel, lag, lag_ms, want / per_ms, tol / per_ms);
}

/* ---- --print ------------------------------------------------------------- */

static int print_summary(struct report *r, struct audio *au, size_t skip)
{
    enum { CHUNK = 4096 };
    size_t nch = (size_t)au->info.channels;
    double sum[WC_MAX_CHANNELS] = { 0 }, peak[WC_MAX_CHANNELS] = { 0 };
    size_t first[WC_MAX_CHANNELS], last[WC_MAX_CHANNELS];
    double floor_lin = pow(10.0, WC_SILENT_DBFS / 20.0);
    for (size_t c = 0; c < nch; c++)
        first[c] = last[c] = SIZE_MAX;

    /* One pass over the file for every channel, so 64 channels of minutes need
     * no more memory than a chunk. */
    float *buf = malloc(CHUNK * nch * sizeof(float));
    float *win = malloc((size_t)(WC_PRINT_FIT_S * au->rate + 1) * nch * sizeof(float));
    float *one = malloc((size_t)(WC_PRINT_FIT_S * au->rate + 1) * sizeof(float));
    if (!buf || !win || !one || sf_seek(au->sf, (sf_count_t)skip, SEEK_SET) < 0)
        goto fail;
    for (size_t at = skip; at < au->frames;) {
        sf_count_t got = sf_readf_float(au->sf, buf, CHUNK);
        if (got <= 0)
            goto fail;
        for (size_t c = 0; c < nch; c++)
            for (size_t i = 0; i < (size_t)got; i++) {
                double v = buf[i * nch + c], m = fabs(v);
                sum[c] += v * v;
                peak[c] = fmax(peak[c], m);
                if (m > floor_lin) {
                    if (first[c] == SIZE_MAX)
                        first[c] = at + i;
                    last[c] = at + i;
                }
            }
        at += (size_t)got;
    }

    size_t n = au->frames - skip;
    for (size_t c = 0; c < nch; c++) {
        /* The dominant frequency from a second of the middle of the sound. */
        double freq = NAN;
        if (first[c] != SIZE_MAX) {
            size_t wlen = (size_t)(WC_PRINT_FIT_S * au->rate);
            size_t mid = first[c] + (last[c] - first[c]) / 2;
            size_t ws = mid > first[c] + wlen / 2 ? mid - wlen / 2 : first[c];
            if (ws + wlen > last[c] + 1)
                wlen = last[c] + 1 - ws;
            struct sig_fit f;
            if (sf_seek(au->sf, (sf_count_t)ws, SEEK_SET) >= 0 &&
                sf_readf_float(au->sf, win, (sf_count_t)wlen) == (sf_count_t)wlen) {
                for (size_t i = 0; i < wlen; i++)
                    one[i] = win[i * nch + c];
                if (sig_fit_sine(one, wlen, au->rate, 0.0, &f) == 0)
                    freq = f.freq;
            }
        }
        double rms = n ? sig_dbfs(sqrt(sum[c] / (double)n)) : -INFINITY;
        double pk = sig_dbfs(peak[c]);
        double t0 = first[c] == SIZE_MAX ? NAN : (double)first[c] / au->rate;
        double t1 = first[c] == SIZE_MAX ? NAN : (double)last[c] / au->rate;
        note(r, "ch%zu: %.3f s, RMS %.2f dBFS, peak %.2f dBFS, %.3f Hz, sound %.4f s .. %.4f s",
             c + 1, (double)au->frames / au->rate, rms, pk, freq, t0, t1);
        report_add(r, "channels",
                   json_pack("{s:i, s:f, s:o, s:o, s:o, s:o, s:o}", "channel", (int)c + 1,
                             "duration_s", (double)au->frames / au->rate, "rms_dbfs", jnum(rms),
                             "peak_dbfs", jnum(pk), "freq_hz", jnum(freq), "first_sound_s",
                             jnum(t0), "last_sound_s", jnum(t1)));
    }
    free(buf);
    free(win);
    free(one);
    return 0;
fail:
    free(buf);
    free(win);
    free(one);
    fprintf(stderr, "aoip-wavcheck: %s: cannot read the file through\n", au->path);
    return 2;
}

int main(int argc, char **argv)
{
    static struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;

    struct audio au = { 0 };
    struct report r = { .json = o.json, .root = json_object(), .checks = json_array() };
    if ((rc = audio_open(&au, o.path)) != 0)
        goto out;

    int nch = au.info.channels;
    bool want[WC_MAX_CHANNELS] = { false };
    for (size_t i = 0; i < o.nchans; i++) {
        if (o.chans[i].channel > nch) {
            fprintf(stderr, "aoip-wavcheck: %s has %d channels, no channel %d\n", o.path, nch,
                    o.chans[i].channel);
            rc = 2;
            goto out;
        }
        want[o.chans[i].channel - 1] = true;
    }
    for (size_t i = 0; i < o.ndelays; i++) {
        if (o.delays[i].ref > nch || o.delays[i].channel > nch) {
            fprintf(stderr, "aoip-wavcheck: %s has %d channels, not %d and %d\n", o.path, nch,
                    o.delays[i].ref, o.delays[i].channel);
            rc = 2;
            goto out;
        }
        want[o.delays[i].ref - 1] = want[o.delays[i].channel - 1] = true;
    }
    size_t skip = (size_t)llround(o.skip_ms * au.rate / 1000.0);
    /* --until-ms ends every measurement there: the file reads as if it stopped. */
    if (o.until_ms > 0.0) {
        size_t end = (size_t)llround(o.until_ms * au.rate / 1000.0);
        if (end > au.frames) {
            fprintf(stderr, "aoip-wavcheck: %s: --until-ms %g is past its end at %.3f s\n", o.path,
                    o.until_ms, (double)au.frames / au.rate);
            rc = 2;
            goto out;
        }
        au.frames = end;
    }
    if (skip >= au.frames) {
        fprintf(stderr, "aoip-wavcheck: %s: --skip-ms %g leaves nothing of its %.3f s\n", o.path,
                o.skip_ms, (double)au.frames / au.rate);
        rc = 2;
        goto out;
    }

    json_object_set_new(r.root, "file", json_string(o.path));
    json_object_set_new(r.root, "rate", json_integer(au.info.samplerate));
    json_object_set_new(r.root, "channel_count", json_integer(nch));
    json_object_set_new(r.root, "frames", json_integer((json_int_t)au.frames));
    json_object_set_new(r.root, "duration_s", json_real((double)au.frames / au.rate));
    json_object_set_new(r.root, "skip_ms", json_real(o.skip_ms));
    note(&r, "%s: %d channels, %d Hz, %.3f s; measuring from %.1f ms", o.path, nch,
         au.info.samplerate, (double)au.frames / au.rate, o.skip_ms);

    if (o.print) {
        if ((rc = print_summary(&r, &au, skip)) != 0)
            goto out;
    }
    if (o.rate)
        check(&r, au.info.samplerate == o.rate,
              json_pack("{s:s, s:I, s:i}", "check", "rate", "expected_hz", (json_int_t)o.rate,
                        "measured_hz", au.info.samplerate),
              "sample rate %d Hz, expected %ld Hz", au.info.samplerate, o.rate);

    if ((rc = audio_load(&au, want)) != 0)
        goto out;
    size_t n = au.frames - skip;
    for (size_t i = 0; i < o.nchans; i++) {
        const struct chan_spec *cs = &o.chans[i];
        const float *x = au.ch[cs->channel - 1] + skip;
        if (cs->ntones && (rc = check_tones(&r, cs, x, n, skip, au.rate)) != 0)
            goto out;
        if (cs->silent)
            check_silence(&r, cs, x, n);
    }
    for (size_t i = 0; i < o.ndelays; i++)
        check_delay(&r, &o.delays[i], &au, skip, o.max_lag_ms);

    json_object_set_new(r.root, "checks", json_incref(r.checks));
    json_object_set_new(r.root, "ok", json_boolean(r.failed == 0));
    if (o.json) {
        char *s = json_dumps(r.root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (s)
            puts(s);
        free(s);
    } else if (r.total) {
        printf("%u checks, %u failed\n", r.total, r.failed);
    }
    rc = r.failed ? 1 : 0;
out:
    audio_close(&au);
    json_decref(r.checks);
    json_decref(r.root);
    return rc;
}
