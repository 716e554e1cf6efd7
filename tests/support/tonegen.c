/*
 * tonegen.c: aoip-tonegen, a WAV file of known content, for testing the
 * tools that analyse recordings (aoip-wavcheck) and for feeding the daemon's
 * file input.
 *
 *   aoip-tonegen OUT.wav [--channels N] [--rate HZ] [--duration-ms MS]
 *                        [--format float|pcm24|pcm16] [--seed S]
 *     then, for each channel to fill (1-based; channels left out are silent):
 *     --channel C
 *       --tone F,DBFS[,PHASE_DEG]   a sine of F Hz, peak level DBFS (repeatable)
 *       --noise DBFS                white noise of this RMS level; every channel
 *                                   with --noise gets the same sequence (seeded
 *                                   by --seed), so a delayed copy correlates
 *       --pulses DBFS[,FIRST_MS]    one single-sample pulse a second, the first
 *                                   at FIRST_MS (default 100)
 *       --delay-samples S           the channel's signal starts S samples late
 *       --bend PPM,PERIOD_MS        the channel's tones run at a rate that swings
 *                                   +-PPM around the true one, once every
 *                                   PERIOD_MS (a sine): what a clock loop's
 *                                   resampler does while it settles
 *       --gap T,D                   silence from T ms for D ms (repeatable)
 *       --click T,AMP               add AMP (full scale 1.0) to the sample at T ms
 *                                   (repeatable)
 *
 * Everything is computed in double from the sample index, so a tone's
 * level, a delay and the position of a gap or click are exact, and a test
 * can ask the analysis for exact answers. The file is written in blocks, so
 * minutes of 64 channels need little memory. Exit 0, or 2 on a usage or
 * file error.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmodel.h"
#include "tool.h"
#include "sig.h"

#define TG_MAX_CHANNELS 64
#define TG_MAX_EVENTS   16 /* gaps, and clicks, per channel */
#define TG_BLOCK        4096

struct tg_tone {
    double freq, amp, phase;
};

struct tg_event {
    int64_t at, len; /* samples */
    double amp;
};

struct tg_channel {
    struct tg_tone tones[SIG_MAX_TONES];
    size_t ntones;
    double noise_amp; /* half-width of the uniform distribution, 0 for none */
    double pulse_amp; /* 0 for none */
    double pulse_first_ms;
    int64_t delay;
    double bend_ppm, bend_period_ms; /* 0: no bend */
    struct tg_event gaps[TG_MAX_EVENTS], clicks[TG_MAX_EVENTS];
    size_t ngaps, nclicks;
    struct netmodel_rng rng;
    bool used;
};

struct tg_options {
    const char *path;
    int channels, rate, format;
    double duration_ms;
    uint64_t seed;
    struct tg_channel ch[TG_MAX_CHANNELS];
};

static const char usage_text[] =
    "usage: aoip-tonegen OUT.wav [--channels N] [--rate HZ] [--duration-ms MS]\n"
    "                    [--format float|pcm24|pcm16] [--seed S]\n"
    "                    [--channel C [--tone F,DBFS[,PHASE_DEG]]... [--noise DBFS]\n"
    "                     [--pulses DBFS[,FIRST_MS]] [--delay-samples S]\n"
    "                     [--bend PPM,PERIOD_MS]\n"
    "                     [--gap T_MS,D_MS]... [--click T_MS,AMP]...]...\n"
    "Writes a WAV file of known content (defaults: 2 channels, 48000 Hz, 1000 ms,\n"
    "float). Channels are 1-based; a channel given no signal is silent.\n"
    "example: aoip-tonegen t.wav --channel 1 --tone 440,-20 --tone 554,-26 \\\n"
    "             --channel 2 --pulses -6 --delay-samples 137\n";

#define usage_error(...) tool_usage_error("aoip-tonegen", usage_text, __VA_ARGS__)

/* Parse a list of up to max comma-separated numbers; returns how many, or -1. */
static int parse_numbers(const char *s, double *v, int max)
{
    int n = 0;
    for (;;) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno != 0 || !isfinite(d) || n == max)
            return -1;
        v[n++] = d;
        if (*end == '\0')
            return n;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static double from_dbfs(double dbfs)
{
    return pow(10.0, dbfs / 20.0);
}

static int64_t ms_to_samples(double ms, int rate)
{
    return (int64_t)llround(ms * rate / 1000.0);
}

/* Gaps and clicks are given in ms and placed in samples once every option
 * is read, since --rate may come after them. */
struct tg_pending {
    int channel;
    bool gap;
    double t_ms, value; /* a gap's length in ms, or a click's amplitude */
};

static int parse_options(int argc, char **argv, struct tg_options *o)
{
    static struct tg_pending pending[TG_MAX_CHANNELS * TG_MAX_EVENTS * 2];
    size_t npending = 0;
    int cur = -1;
    o->channels = 2;
    o->rate = 48000;
    o->duration_ms = 1000.0;
    o->format = SF_FORMAT_FLOAT;
    o->seed = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (a[0] != '-') {
            if (o->path)
                return usage_error("more than one output file: '%s'", a);
            o->path = a;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value", a);
        const char *v = argv[++i];
        double num[3];
        long l;
        struct tg_channel *c = cur >= 0 ? &o->ch[cur] : NULL;
        bool per_channel = strcmp(a, "--tone") == 0 || strcmp(a, "--noise") == 0 ||
                           strcmp(a, "--pulses") == 0 || strcmp(a, "--delay-samples") == 0 ||
                           strcmp(a, "--bend") == 0 || strcmp(a, "--gap") == 0 ||
                           strcmp(a, "--click") == 0;
        if (per_channel && !c)
            return usage_error("%s needs a --channel before it", a);

        if (strcmp(a, "--channels") == 0) {
            if (!parse_int(v, 1, TG_MAX_CHANNELS, &l))
                return usage_error("--channels wants 1..64, not '%s'", v);
            o->channels = (int)l;
        } else if (strcmp(a, "--rate") == 0) {
            if (!parse_int(v, 1000, 768000, &l))
                return usage_error("--rate wants 1000..768000, not '%s'", v);
            o->rate = (int)l;
        } else if (strcmp(a, "--duration-ms") == 0) {
            if (parse_numbers(v, num, 1) != 1 || num[0] <= 0.0 || num[0] > 3600e3)
                return usage_error("--duration-ms wants a positive number, not '%s'", v);
            o->duration_ms = num[0];
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "float") == 0)
                o->format = SF_FORMAT_FLOAT;
            else if (strcmp(v, "pcm24") == 0)
                o->format = SF_FORMAT_PCM_24;
            else if (strcmp(v, "pcm16") == 0)
                o->format = SF_FORMAT_PCM_16;
            else
                return usage_error("--format wants float, pcm24 or pcm16, not '%s'", v);
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_int(v, 0, LONG_MAX, &l))
                return usage_error("--seed wants a number, not '%s'", v);
            o->seed = (uint64_t)l;
        } else if (strcmp(a, "--channel") == 0) {
            if (!parse_int(v, 1, TG_MAX_CHANNELS, &l))
                return usage_error("--channel wants 1..64, not '%s'", v);
            cur = (int)l - 1;
            o->ch[cur].used = true;
        } else if (strcmp(a, "--tone") == 0) {
            int n = parse_numbers(v, num, 3);
            if (n < 2 || num[0] <= 0.0)
                return usage_error("--tone wants FREQ,DBFS[,PHASE_DEG], not '%s'", v);
            if (c->ntones == SIG_MAX_TONES)
                return usage_error("at most 8 tones a channel, at '%s'", v);
            c->tones[c->ntones++] = (struct tg_tone){
                .freq = num[0],
                .amp = from_dbfs(num[1]),
                .phase = n == 3 ? num[2] * 3.14159265358979323846 / 180.0 : 0.0,
            };
        } else if (strcmp(a, "--noise") == 0) {
            if (parse_numbers(v, num, 1) != 1)
                return usage_error("--noise wants DBFS, not '%s'", v);
            /* A uniform distribution on [-a, a) has an RMS of a / sqrt(3). */
            c->noise_amp = from_dbfs(num[0]) * sqrt(3.0);
        } else if (strcmp(a, "--pulses") == 0) {
            int n = parse_numbers(v, num, 2);
            if (n < 1 || (n == 2 && num[1] < 0.0))
                return usage_error("--pulses wants DBFS[,FIRST_MS], not '%s'", v);
            c->pulse_amp = from_dbfs(num[0]);
            c->pulse_first_ms = n == 2 ? num[1] : 100.0;
        } else if (strcmp(a, "--delay-samples") == 0) {
            if (!parse_int(v, 0, 100000000, &l))
                return usage_error("--delay-samples wants a count of samples, not '%s'", v);
            c->delay = l;
        } else if (strcmp(a, "--bend") == 0) {
            if (parse_numbers(v, num, 2) != 2 || !(fabs(num[0]) <= 1e5) || !(num[1] > 0.0))
                return usage_error("--bend wants PPM,PERIOD_MS, not '%s'", v);
            c->bend_ppm = num[0];
            c->bend_period_ms = num[1];
        } else if (strcmp(a, "--gap") == 0 || strcmp(a, "--click") == 0) {
            bool gap = strcmp(a, "--gap") == 0;
            if (parse_numbers(v, num, 2) != 2 || num[0] < 0.0 || (gap && num[1] <= 0.0))
                return usage_error(gap ? "--gap wants T_MS,D_MS, not '%s'"
                                       : "--click wants T_MS,AMP, not '%s'",
                                   v);
            size_t *count = gap ? &c->ngaps : &c->nclicks;
            if (*count == TG_MAX_EVENTS)
                return usage_error("at most 16 of each event a channel, at '%s'", v);
            (*count)++;
            pending[npending++] =
                (struct tg_pending){ .channel = cur, .gap = gap, .t_ms = num[0], .value = num[1] };
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (!o->path)
        return usage_error("no output file");
    for (int c = 0; c < TG_MAX_CHANNELS; c++) {
        if (c >= o->channels && o->ch[c].used)
            return usage_error("--channel %d is beyond --channels %d", c + 1, o->channels);
        for (size_t j = 0; j < o->ch[c].ntones; j++)
            if (o->ch[c].tones[j].freq >= o->rate / 2.0)
                return usage_error("a --tone on channel %d is at or above half the sample rate",
                                   c + 1);
        o->ch[c].ngaps = o->ch[c].nclicks = 0;
        netmodel_rng_seed(&o->ch[c].rng, o->seed);
    }
    for (size_t p = 0; p < npending; p++) {
        struct tg_channel *c = &o->ch[pending[p].channel];
        struct tg_event e = { .at = ms_to_samples(pending[p].t_ms, o->rate) };
        if (pending[p].gap) {
            e.len = ms_to_samples(pending[p].value, o->rate);
            c->gaps[c->ngaps++] = e;
        } else {
            e.amp = pending[p].value;
            c->clicks[c->nclicks++] = e;
        }
    }
    return 0;
}

/* Fill x with samples [start, start + n) of one channel. */
static void render(struct tg_channel *c, int rate, int64_t start, size_t n, float *x)
{
    static float t[TG_BLOCK];
    memset(x, 0, n * sizeof(*x));
    /* The signal proper begins at c->delay; before it the channel is silent. */
    size_t lead = 0;
    if (start < c->delay)
        lead = (size_t)(c->delay - start) < n ? (size_t)(c->delay - start) : n;
    int64_t s0 = start + (int64_t)lead - c->delay; /* signal time of x[lead] */
    size_t m = n - lead;

    for (size_t j = 0; j < c->ntones && c->bend_ppm == 0.0; j++) {
        sig_tone(t, m, c->tones[j].freq, rate, c->tones[j].amp, c->tones[j].phase, s0);
        for (size_t i = 0; i < m; i++)
            x[lead + i] += t[i];
    }
    if (c->bend_ppm != 0.0) {
        /* Signal time runs at 1 + b sin(2 pi s / P): integrated, it is
         * s + b P / (2 pi) (1 - cos(2 pi s / P)), all in samples. */
        const double two_pi = 2.0 * 3.14159265358979323846;
        double b = c->bend_ppm * 1e-6, period = c->bend_period_ms * rate / 1000.0;
        for (size_t i = 0; i < m; i++) {
            double s = (double)(s0 + (int64_t)i);
            double tau = s + b * period / two_pi * (1.0 - cos(two_pi * s / period));
            for (size_t j = 0; j < c->ntones; j++)
                x[lead + i] +=
                    (float)(c->tones[j].amp *
                            sin(two_pi * c->tones[j].freq * tau / rate + c->tones[j].phase));
        }
    }
    if (c->noise_amp > 0.0)
        for (size_t i = 0; i < m; i++)
            x[lead + i] += (float)(c->noise_amp * (2.0 * netmodel_rng_uniform(&c->rng) - 1.0));
    if (c->pulse_amp > 0.0) {
        int64_t first = ms_to_samples(c->pulse_first_ms, rate);
        for (size_t i = 0; i < m; i++) {
            int64_t s = s0 + (int64_t)i - first;
            if (s >= 0 && s % rate == 0)
                x[lead + i] += (float)c->pulse_amp;
        }
    }
    /* Gaps and clicks are events on the file's timeline, not the signal's. */
    for (size_t g = 0; g < c->ngaps; g++)
        for (size_t i = 0; i < n; i++)
            if (start + (int64_t)i >= c->gaps[g].at &&
                start + (int64_t)i < c->gaps[g].at + c->gaps[g].len)
                x[i] = 0.0f;
    for (size_t k = 0; k < c->nclicks; k++)
        if (c->clicks[k].at >= start && c->clicks[k].at < start + (int64_t)n)
            x[c->clicks[k].at - start] += (float)c->clicks[k].amp;
}

int main(int argc, char **argv)
{
    static struct tg_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;

    SF_INFO info = { .samplerate = o.rate,
                     .channels = o.channels,
                     .format = SF_FORMAT_WAV | o.format };
    SNDFILE *sf = sf_open(o.path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "aoip-tonegen: %s: %s\n", o.path, sf_strerror(NULL));
        return 2;
    }
    /* Integer formats clip instead of wrapping, as a sound card would. */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);

    static float plane[TG_BLOCK], frames[TG_BLOCK * TG_MAX_CHANNELS];
    int64_t total = ms_to_samples(o.duration_ms, o.rate);
    for (int64_t start = 0; start < total; start += TG_BLOCK) {
        size_t n = total - start < TG_BLOCK ? (size_t)(total - start) : TG_BLOCK;
        for (int c = 0; c < o.channels; c++) {
            render(&o.ch[c], o.rate, start, n, plane);
            for (size_t i = 0; i < n; i++)
                frames[i * (size_t)o.channels + (size_t)c] = plane[i];
        }
        if (sf_writef_float(sf, frames, (sf_count_t)n) != (sf_count_t)n) {
            fprintf(stderr, "aoip-tonegen: %s: %s\n", o.path, sf_strerror(sf));
            sf_close(sf);
            return 2;
        }
    }
    if (sf_close(sf) != 0) {
        fprintf(stderr, "aoip-tonegen: %s: could not finish the file\n", o.path);
        return 2;
    }
    return 0;
}
