/*
 * bench_opus.c: what Opus costs the media thread, per channel.
 *
 * A WAN flow trades L24's 1.15 Mb/s per channel for CPU: every frame is
 * encoded on the sender and decoded on the receiver. This prints, for
 * frames of 2.5, 5, 10 and 20 ms and flows of 1 channel (mono), 2 (one
 * coupled stream) and 16 (the default mapping: eight coupled streams), at
 * the default bitrate and with FEC on as aoip_opus_config_default sets it,
 * plus 2 channels with FEC off:
 *   enc ns    aoip_opus_encode of one frame
 *   dec ns    aoip_opus_decode of that frame's packet
 *   core/ch   encode plus decode time per second of audio, divided by the
 *             channels: the share of one core that a channel sent and
 *             received costs
 *   kb/s      the flow's bitrate, as set and as the payloads came out
 *   B/pkt     mean payload bytes per packet (one frame per packet)
 *   coded     the mode of the packets' first stream (RFC 6716 section
 *             3.1): CELT, hybrid or SILK, the most frequent one
 * Frames of 5 ms and less run in restricted low delay, longer ones in the
 * general audio mode, by aoip_opus_low_delay() as the library applies it.
 * Then the load: the share of a core that encode plus decode of 64
 * channels takes at their default frame (aoip_opus_config_default(64)).
 *
 * The input is a tone per channel, each at its own frequency, at -20 dBFS
 * (peak 0.1): music-like enough that CELT spends its bits, and unrelated
 * between the channels of a pair, as the microphones of a WAN flow are.
 * A run makes a fresh encoder and decoder (untimed), encodes AUDIO_SECONDS
 * of frames into stored packets, then decodes them all; each figure is the
 * best of RUNS runs after a warm-up run, so every run codes the same audio
 * from the same state.
 *
 * A caveat on virtual machines: libopus 1.3.1's multistream calls, which
 * aoip makes for every flow, run the CPUID instruction on each encode and
 * decode (perf puts three quarters of a mono 2.5 ms run there). On bare
 * metal that is some hundred cycles; under a hypervisor that traps CPUID
 * it was about 15 us an encode and 30 us a decode on the machine this was
 * written on, where the plain opus_encode_float and opus_decode_float of
 * the same mono frames took 11.6 and 3.6 us. That fixed cost per call
 * weighs most on short frames and few channels.
 *
 * Figures only: nothing here fails on time. A packet that does not decode
 * stops the benchmark, and a checksum of payloads and decoded audio is
 * printed so that the work cannot be optimized away.
 */
/* clock_gettime (in bench_util.h) under -std=c17. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "aoip/opus.h"
#include "bench_util.h"

#define PI            3.14159265358979323846
#define RUNS          5
#define AUDIO_FRAMES  24000 /* samples per channel a run codes: 0.5 s */
#define AUDIO_SECONDS ((double)AUDIO_FRAMES / AOIP_OPUS_RATE)
#define MAXCH         64
#define LEVEL         0.1 /* -20 dBFS peak */
/* RFC 6716 section 3.1: TOC configurations 0-11 are SILK, 12-15 hybrid, 16-31 CELT. */
#define TOC_FIRST_HYBRID 12
#define TOC_FIRST_CELT   16

enum coded { CODED_SILK, CODED_HYBRID, CODED_CELT };

struct result {
    double enc_ns; /* best, per frame */
    double dec_ns;
    double mean_bytes;
    uint64_t coded[3]; /* packets by the mode of their first stream */
};

/* The tones of every channel, AUDIO_FRAMES long; [c] + i * frame is frame i. */
static float signal[MAXCH][AUDIO_FRAMES];
static float decoded[MAXCH][960];
static double checksum;

static void die(const char *what)
{
    fprintf(stderr, "bench_opus: %s\n", what);
    exit(1);
}

/* Channel c's tone: 250 Hz apart from 310 Hz (the last of 64 at 16060
 * Hz), so that no two share a frequency or sit on each other's harmonics
 * for the lowest channels. */
static void make_signal(void)
{
    for (unsigned c = 0; c < MAXCH; c++) {
        double f = 310.0 + 250.0 * c;
        for (int k = 0; k < AUDIO_FRAMES; k++)
            signal[c][k] = (float)(LEVEL * sin(2.0 * PI * f * k / AOIP_OPUS_RATE));
    }
}

static enum coded coded_mode(const uint8_t *pkt)
{
    unsigned config = pkt[0] >> 3;
    if (config >= TOC_FIRST_CELT)
        return CODED_CELT;
    return config >= TOC_FIRST_HYBRID ? CODED_HYBRID : CODED_SILK;
}

/*
 * One run of cfg: encode every frame of the signal into pkts (stride
 * bytes apart), then decode them all. Adds its times to *enc_s and
 * *dec_s and, when r is given, its payload figures to r.
 */
static void run(const struct aoip_opus_config *cfg, uint8_t *pkts, size_t stride, size_t *lens,
                double *enc_s, double *dec_s, struct result *r)
{
    const unsigned channels = cfg->mapping.channels;
    const uint32_t frame = aoip_opus_frame_samples(cfg);
    const unsigned n = AUDIO_FRAMES / frame;
    const float *in[MAXCH];
    float *out[MAXCH];
    struct aoip_opus_encoder *enc = aoip_opus_encoder_new(cfg);
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(cfg);
    double t0;

    if (!enc || !dec)
        die("cannot make an encoder or a decoder");
    for (unsigned c = 0; c < channels; c++)
        out[c] = decoded[c];

    t0 = bench_now();
    for (unsigned i = 0; i < n; i++) {
        for (unsigned c = 0; c < channels; c++)
            in[c] = signal[c] + (size_t)i * frame;
        int len = aoip_opus_encode(enc, pkts + i * stride, stride, in);
        if (len < 0)
            die("encode failed");
        lens[i] = (size_t)len;
    }
    *enc_s += bench_now() - t0;

    t0 = bench_now();
    for (unsigned i = 0; i < n; i++) {
        if (aoip_opus_decode(dec, out, pkts + i * stride, lens[i]) != AOIP_OPUS_DECODED)
            die("a packet did not decode");
        checksum += decoded[i % channels][i % frame];
    }
    *dec_s += bench_now() - t0;

    if (r) {
        size_t bytes = 0;
        for (unsigned i = 0; i < n; i++) {
            bytes += lens[i];
            r->coded[coded_mode(pkts + i * stride)]++;
            checksum += pkts[i * stride + lens[i] - 1];
        }
        r->mean_bytes = (double)bytes / n;
    }
    aoip_opus_encoder_free(enc);
    aoip_opus_decoder_free(dec);
}

/* Best encode and decode ns per frame of cfg over RUNS runs, after a warm-up. */
static struct result measure(const struct aoip_opus_config *cfg)
{
    const uint32_t frame = aoip_opus_frame_samples(cfg);
    const unsigned n = AUDIO_FRAMES / frame;
    const size_t stride = aoip_opus_max_payload(&cfg->mapping);
    uint8_t *pkts = malloc(n * stride);
    size_t *lens = malloc(n * sizeof *lens);
    struct result r = { .enc_ns = INFINITY, .dec_ns = INFINITY };

    if (!pkts || !lens)
        die("out of memory");
    for (int i = -1; i < RUNS; i++) {
        double enc_s = 0, dec_s = 0;
        /* Run -1 warms caches, branch predictors and the CPU's clock. */
        run(cfg, pkts, stride, lens, &enc_s, &dec_s, i == 0 ? &r : NULL);
        if (i >= 0) {
            r.enc_ns = fmin(r.enc_ns, enc_s * 1e9 / n);
            r.dec_ns = fmin(r.dec_ns, dec_s * 1e9 / n);
        }
    }
    free(pkts);
    free(lens);
    return r;
}

static const char *coded_name(const struct result *r)
{
    static const char *const names[] = { "SILK", "hybrid", "CELT" };
    int best = 0;
    for (int m = 1; m < 3; m++)
        if (r->coded[m] > r->coded[best])
            best = m;
    return names[best];
}

/* Share of one core, in percent, that coding cfg's audio takes. */
static double core_percent(const struct aoip_opus_config *cfg, const struct result *r)
{
    double frames_per_s = 1e6 / cfg->frame_us;
    return 100.0 * (r->enc_ns + r->dec_ns) * 1e-9 * frames_per_s;
}

static void print_row(const struct aoip_opus_config *cfg, const struct result *r)
{
    const struct aoip_opus_mapping *m = &cfg->mapping;
    double frame_s = cfg->frame_us * 1e-6;

    printf("%5.1f  %-9s %3u %4u/%-3u %-4s %7.1f %7.1f %7.1f  %-6s %10.0f %10.0f %8.2f %%\n",
           cfg->frame_us / 1000.0, aoip_opus_low_delay(cfg->frame_us) ? "low-delay" : "audio",
           m->channels, m->streams, m->coupled, cfg->fec ? "on" : "off", cfg->bitrate / 1000.0,
           r->mean_bytes * 8.0 / frame_s / 1000.0, r->mean_bytes, coded_name(r), r->enc_ns,
           r->dec_ns, core_percent(cfg, r) / m->channels);
}

int main(void)
{
    const uint32_t frames_us[] = { 2500, 5000, 10000, 20000 };
    /* Channels and FEC of the rows of each frame length. */
    const struct {
        unsigned channels;
        bool fec;
    } flows[] = { { 1, true }, { 2, true }, { 2, false }, { 16, true } };
    struct aoip_opus_config cfg;
    char cpu[128];
    double t_start = bench_now();

    make_signal();
    bench_cpu_model(cpu, sizeof(cpu));
    printf("Opus encode + decode at 48 kHz, a -20 dBFS tone per channel: best of %d runs "
           "of %.1f s of audio\n",
           RUNS, AUDIO_SECONDS);
    printf("%s on %s; default bitrates, FEC at %u %% expected loss, constrained VBR\n\n",
           opus_get_version_string(), cpu, AOIP_OPUS_DEFAULT_EXPECTED_LOSS);

    printf("%5s  %-9s %3s %8s %-4s %7s %7s %7s  %-6s %10s %10s %10s\n", "ms", "mode", "ch",
           "str/cpl", "FEC", "kb/s", "kb/s", "B/pkt", "coded", "enc ns", "dec ns", "core/ch");
    printf("%5s  %-9s %3s %8s %-4s %7s %7s %7s  %-6s %10s %10s %10s\n", "", "", "", "", "", "set",
           "out", "", "", "/frame", "/frame", "");
    for (size_t f = 0; f < sizeof frames_us / sizeof frames_us[0]; f++) {
        for (size_t i = 0; i < sizeof flows / sizeof flows[0]; i++) {
            if (aoip_opus_config_default(&cfg, flows[i].channels) != 0)
                die("no default config");
            cfg.frame_us = frames_us[f];
            cfg.fec = flows[i].fec;
            struct result r = measure(&cfg);
            print_row(&cfg, &r);
        }
    }
    printf("(core/ch: encode + decode time per second of audio, per channel; "
           "100 %% is a whole core)\n");

    if (aoip_opus_config_default(&cfg, 64) != 0)
        die("no default config for 64 channels");
    struct result r = measure(&cfg);
    printf("\nload: 64 channels, default config (%u streams, %u coupled, %.0f kb/s, %.1f ms "
           "frames, %s)\n",
           cfg.mapping.streams, cfg.mapping.coupled, cfg.bitrate / 1000.0, cfg.frame_us / 1000.0,
           aoip_opus_low_delay(cfg.frame_us) ? "low-delay" : "audio");
    printf("  encode %.0f ns + decode %.0f ns per frame: %.1f %% of one core "
           "(%.2f %% per channel)\n",
           r.enc_ns, r.dec_ns, core_percent(&cfg, &r), core_percent(&cfg, &r) / 64.0);

    printf("\nchecksum %.4f; %.1f s\n", checksum, bench_now() - t_start);
    return 0;
}
