/*
 * test_opus.c: Opus flows, encoded and decoded by lib/opus.c.
 *
 * Round trips carry a tone of its own on every channel, and each output
 * channel must carry its own tone, at its level, with the tone of its
 * neighbour far below it. Tones sit where Opus in every one of its modes
 * keeps a lone sine a sine: even channels (the left of each coupled pair)
 * spread over 200..1100 Hz, odd ones 1100 Hz above their left neighbour,
 * so that the two halves of a pair never share a band of CELT's coarse
 * 2.5 ms spectrum (two tones in one band come out as the band's energy,
 * not as two tones: a 4.3 kHz tone beside a 4.6 kHz one in its pair read
 * 2.4 dB low at 2.5 ms). Tolerances, from what the codec was measured to
 * do to these tones (libopus 1.3.1), with room:
 *
 *  - frequency within 1 Hz: a fit over 400 ms is exact to far less
 *    whatever the codec does to the waveform; a tone on the wrong channel
 *    is at least 7 Hz off (in 255 channels), usually hundreds;
 *  - level within 2 dB: Opus keeps each band's energy, not the sine within
 *    it; the worst tones measured were 1.33 dB low (20 ms, hybrid stereo)
 *    and 1.32 dB high (2.5 ms, CELT, 6 channels);
 *  - the neighbour's tone (the other half of a pair, where coupling could
 *    leak it) at least 40 dB down where the codec is CELT or the streams
 *    are mono (measured: 64 dB or more), and at least 12 dB down for a
 *    coupled stream in hybrid mode (10 and 20 ms with FEC), whose SILK
 *    stereo is a speech codec's: measured 18.6 dB at 20 ms, 29.4 at 10.
 *
 * Loss: a missing packet is concealed (libopus' PLC), a missing packet
 * whose successor is at hand is rebuilt from that packet's in-band FEC
 * when the sender coded some, and the rebuilt frame is closer to the
 * frame the lost packet held than the concealed one. Corrupt payloads are
 * counted, concealed, and the decoder carries on.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <opus.h>

#include "aoip/opus.h"
#include "netmodel.h"
#include "sig.h"

#define RATE      48000.0
#define AMP       0.25 /* -12 dBFS: loud, with headroom for the codec's overshoot */
#define TRIP_MS   600  /* of audio per round trip */
#define SKIP_MS   200  /* codec delay and the encoder's settling, left out of every fit */
#define FIT_MS    (TRIP_MS - SKIP_MS)
#define MAX_FRAME 960 /* 20 ms */

#define SEPARATION_CELT   40.0 /* dB; see the file comment */
#define SEPARATION_HYBRID 12.0

/* The tone of channel c in a flow of channels channels. */
static double tone_freq(unsigned c, unsigned channels)
{
    double step = 900.0 / ((channels + 1) / 2);

    return 200.0 + step * (c / 2) + (c % 2) * 1100.0;
}

/* A flow's worth of output: out[c] holds every frame decoded, one after the other. */
struct trip {
    unsigned channels;
    size_t samples;
    float *out[AOIP_OPUS_MAX_CHANNELS];
};

static void trip_free(struct trip *t)
{
    for (unsigned c = 0; c < t->channels; c++)
        free(t->out[c]);
}

/* The input of channel c, frame f: its tone, continuing from frame to frame. */
static void fill_input(float **in, unsigned channels, uint32_t frame, size_t f)
{
    for (unsigned c = 0; c < channels; c++)
        sig_tone(in[c], frame, tone_freq(c, channels), RATE, AMP, 0.0, (int64_t)(f * frame));
}

/* Encode and decode TRIP_MS of tones with cfg, every packet delivered. */
static void round_trip(const struct aoip_opus_config *cfg, struct trip *t)
{
    unsigned ch = cfg->mapping.channels;
    uint32_t frame = aoip_opus_frame_samples(cfg);
    size_t frames = TRIP_MS * 48u / frame;
    size_t cap = aoip_opus_max_payload(&cfg->mapping);
    uint8_t *pkt = malloc(cap);
    float *in[AOIP_OPUS_MAX_CHANNELS], *out[AOIP_OPUS_MAX_CHANNELS];

    assert_non_null(pkt);
    struct aoip_opus_encoder *enc = aoip_opus_encoder_new(cfg);
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(cfg);
    assert_non_null(enc);
    assert_non_null(dec);

    t->channels = ch;
    t->samples = frames * frame;
    for (unsigned c = 0; c < ch; c++) {
        in[c] = malloc(frame * sizeof(float));
        t->out[c] = malloc(t->samples * sizeof(float));
        assert_non_null(in[c]);
        assert_non_null(t->out[c]);
    }
    for (size_t f = 0; f < frames; f++) {
        fill_input(in, ch, frame, f);
        int n = aoip_opus_encode(enc, pkt, cap, (const float *const *)in);
        assert_true(n > 0);
        for (unsigned c = 0; c < ch; c++)
            out[c] = t->out[c] + f * frame;
        assert_int_equal(aoip_opus_decode(dec, out, pkt, (size_t)n), AOIP_OPUS_DECODED);
    }

    struct aoip_opus_decoder_stats st;
    aoip_opus_decoder_stats(dec, &st);
    assert_int_equal(st.decoded, frames);
    assert_int_equal(st.recovered + st.concealed + st.corrupt, 0);

    for (unsigned c = 0; c < ch; c++)
        free(in[c]);
    free(pkt);
    aoip_opus_encoder_free(enc);
    aoip_opus_decoder_free(dec);
}

/*
 * Output channel c carries the tone of input channel want (or silence when
 * want is negative): the right frequency and level, and the tone of
 * channel other (another channel of the flow) at least separation dB
 * below it.
 */
static void expect_tone(const struct trip *t, unsigned c, int want, unsigned other,
                        double separation)
{
    const float *x = t->out[c] + SKIP_MS * 48;
    size_t n = FIT_MS * 48;

    if (want < 0) {
        assert_true(sig_peak(x, n) == 0.0);
        return;
    }
    double f = tone_freq((unsigned)want, t->channels);
    struct sig_fit fit;
    assert_int_equal(sig_fit_sine(x, n, RATE, f, &fit), 0);
    if (fabs(fit.freq - f) > 1.0 || fabs(sig_dbfs(fit.amp) - sig_dbfs(AMP)) > 2.0)
        fail_msg("channel %u: %.2f Hz at %.2f dBFS, want %.2f Hz at %.2f dBFS", c, fit.freq,
                 sig_dbfs(fit.amp), f, sig_dbfs(AMP));

    double freqs[2] = { f, tone_freq(other, t->channels) };
    double amps[2];
    assert_int_equal(sig_fit_tones(x, n, RATE, freqs, 2, amps, NULL, NULL), 0);
    if (sig_dbfs(amps[1]) > sig_dbfs(AMP) - separation)
        fail_msg("channel %u: the tone of channel %u is at %.1f dBFS", c, other, sig_dbfs(amps[1]));
}

/* Every channel its own tone; the neighbour checked for bleed is the other
 * half of its pair (where coupling could leak) or, for a last odd channel,
 * the one before. A mono flow is checked against the tone a second
 * channel would have had. */
static void expect_identity(const struct trip *t, double separation)
{
    for (unsigned c = 0; c < t->channels; c++) {
        unsigned other = t->channels == 1 ? 1 : (c ^ 1u) < t->channels ? c ^ 1u : c - 1;
        expect_tone(t, c, (int)c, other, separation);
    }
}

static void check_default_round_trip(unsigned channels)
{
    struct aoip_opus_config cfg;
    struct trip t;

    assert_int_equal(aoip_opus_config_default(&cfg, channels), 0);
    round_trip(&cfg, &t);
    expect_identity(&t, SEPARATION_CELT);
    trip_free(&t);
}

static void opus_round_trip_mono(void **state)
{
    (void)state;
    check_default_round_trip(1);
}

static void opus_round_trip_stereo(void **state)
{
    (void)state;
    check_default_round_trip(2);
}

static void opus_round_trip_6_channels(void **state)
{
    (void)state;
    check_default_round_trip(6);
}

static void opus_round_trip_16_channels(void **state)
{
    (void)state;
    check_default_round_trip(16);
}

/* Each frame length, in both of libopus' modes, with and without FEC. */
static void opus_round_trip_every_frame_length(void **state)
{
    (void)state;
    static const uint32_t lengths[] = { 2500, 5000, 10000, 20000 };

    for (size_t i = 0; i < 4; i++) {
        for (int fec = 0; fec < 2; fec++) {
            struct aoip_opus_config cfg;
            struct trip t;
            assert_int_equal(aoip_opus_config_default(&cfg, 2), 0);
            cfg.frame_us = lengths[i];
            cfg.fec = fec;
            round_trip(&cfg, &t);
            expect_identity(&t, fec && lengths[i] >= 10000 ? SEPARATION_HYBRID : SEPARATION_CELT);
            trip_free(&t);
        }
    }
}

/* All 255 channels in one flow (128 streams, 16 Mb/s), each carrying its tone. */
static void opus_round_trip_255_channels(void **state)
{
    (void)state;
    struct aoip_opus_config cfg;
    struct trip t;

    assert_int_equal(aoip_opus_config_default(&cfg, 255), 0);
    assert_int_equal(cfg.mapping.streams, 128);
    assert_int_equal(cfg.mapping.coupled, 127);
    round_trip(&cfg, &t);
    expect_identity(&t, SEPARATION_CELT);
    trip_free(&t);
}

/* A mapping that is not the identity: channels 1 and 4 swap places in the
 * decoded order, channel 6 is not sent at all. What comes out of each
 * output channel is still what went into it, and the silent one is silent. */
static void opus_custom_mapping_routes_every_channel(void **state)
{
    (void)state;
    struct aoip_opus_config cfg;
    struct trip t;
    static const uint8_t table[] = { 0, 4, 2, 3, 1, 5, AOIP_OPUS_SILENT };

    assert_int_equal(aoip_opus_config_default(&cfg, 7), 0);
    cfg.mapping.streams = 4;
    cfg.mapping.coupled = 2;
    memcpy(cfg.mapping.table, table, sizeof table);
    cfg.bitrate = 0;
    round_trip(&cfg, &t);
    for (unsigned c = 0; c < 6; c++)
        expect_tone(&t, c, (int)c, (c + 1) % 6, SEPARATION_CELT);
    expect_tone(&t, 6, -1, 0, 0.0);
    trip_free(&t);
}

/* One and two channels are plain Opus (RFC 7587): a stock libopus decoder
 * reads the packets, and the TOC's stereo bit says how many channels. */
static void opus_mono_and_stereo_are_plain_opus_packets(void **state)
{
    (void)state;

    for (unsigned ch = 1; ch <= 2; ch++) {
        struct aoip_opus_config cfg;
        float buf[2][MAX_FRAME], pcm[2 * MAX_FRAME];
        float *in[2] = { buf[0], buf[1] };
        uint8_t pkt[1500];
        int err;

        assert_int_equal(aoip_opus_config_default(&cfg, ch), 0);
        uint32_t frame = aoip_opus_frame_samples(&cfg);
        struct aoip_opus_encoder *enc = aoip_opus_encoder_new(&cfg);
        OpusDecoder *plain = opus_decoder_create(48000, (int)ch, &err);
        assert_non_null(enc);
        assert_non_null(plain);
        for (size_t f = 0; f < 10; f++) {
            fill_input(in, ch, frame, f);
            int n = aoip_opus_encode(enc, pkt, sizeof pkt, (const float *const *)in);
            assert_true(n > 0);
            assert_int_equal(opus_packet_get_nb_channels(pkt), (int)ch);
            assert_int_equal(opus_decode_float(plain, pkt, n, pcm, (int)frame, 0), (int)frame);
        }
        opus_decoder_destroy(plain);
        aoip_opus_encoder_free(enc);
    }
}

/* ---- settings ---- */

static void opus_default_mapping_pairs_then_mono(void **state)
{
    (void)state;
    struct aoip_opus_mapping m;

    assert_int_equal(aoip_opus_mapping_default(&m, 1), 0);
    assert_int_equal(m.streams, 1);
    assert_int_equal(m.coupled, 0);
    assert_int_equal(aoip_opus_mapping_default(&m, 2), 0);
    assert_int_equal(m.streams, 1);
    assert_int_equal(m.coupled, 1);
    assert_int_equal(aoip_opus_mapping_default(&m, 7), 0);
    assert_int_equal(m.streams, 4);
    assert_int_equal(m.coupled, 3);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(m.table[i], i);
    assert_int_equal(aoip_opus_mapping_mono(&m, 5), 0);
    assert_int_equal(m.streams, 5);
    assert_int_equal(m.coupled, 0);
    assert_int_equal(aoip_opus_mapping_default(&m, 0), -EINVAL);
    assert_int_equal(aoip_opus_mapping_default(&m, 256), -EINVAL);
}

/* The rule of aoip_opus_default_frame_us, at and around its thresholds. */
static void opus_default_frame_is_shortest_with_overhead_below_audio(void **state)
{
    (void)state;

    assert_int_equal(aoip_opus_default_frame_us(1000000), 2500);
    assert_int_equal(aoip_opus_default_frame_us(195200), 2500);
    assert_int_equal(aoip_opus_default_frame_us(195199), 5000);
    assert_int_equal(aoip_opus_default_frame_us(97600), 5000);
    assert_int_equal(aoip_opus_default_frame_us(97599), 10000);
    assert_int_equal(aoip_opus_default_frame_us(48800), 10000);
    assert_int_equal(aoip_opus_default_frame_us(48799), 20000);
    assert_int_equal(aoip_opus_default_frame_us(24400), 20000);
    assert_int_equal(aoip_opus_default_frame_us(6000), 20000);

    static const struct {
        unsigned channels;
        uint32_t bitrate, frame_us;
    } want[] = {
        { 1, 64000, 10000 }, { 2, 128000, 5000 }, { 3, 192000, 5000 },
        { 4, 256000, 2500 }, { 6, 384000, 2500 }, { 16, 1024000, 2500 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct aoip_opus_config cfg;
        assert_int_equal(aoip_opus_config_default(&cfg, want[i].channels), 0);
        assert_int_equal(cfg.bitrate, want[i].bitrate);
        assert_int_equal(cfg.frame_us, want[i].frame_us);
        assert_true(cfg.fec);
        assert_int_equal(cfg.expected_loss, AOIP_OPUS_DEFAULT_EXPECTED_LOSS);
        assert_false(cfg.dtx);
    }
}

/* Low-delay mode at 5 ms and less shows in the lookahead: 2.5 ms against
 * the general mode's 6.5 ms. */
static void opus_low_delay_mode_for_short_frames(void **state)
{
    (void)state;
    static const struct {
        uint32_t frame_us, delay;
        bool low;
    } want[] = {
        { 2500, 120, true }, { 5000, 120, true }, { 10000, 312, false }, { 20000, 312, false }
    };

    for (size_t i = 0; i < 4; i++) {
        struct aoip_opus_config cfg;
        assert_int_equal(aoip_opus_config_default(&cfg, 2), 0);
        cfg.frame_us = want[i].frame_us;
        assert_true(aoip_opus_low_delay(cfg.frame_us) == want[i].low);
        struct aoip_opus_encoder *enc = aoip_opus_encoder_new(&cfg);
        assert_non_null(enc);
        assert_int_equal(aoip_opus_encoder_delay(enc), want[i].delay);
        aoip_opus_encoder_free(enc);
    }
}

static void opus_config_check_refuses_what_opus_cannot_do(void **state)
{
    (void)state;
    struct aoip_opus_config good, cfg;

    assert_int_equal(aoip_opus_config_default(&good, 6), 0);
    assert_int_equal(aoip_opus_config_check(&good), 0);

    cfg = good;
    cfg.frame_us = 40000; /* Opus has it; aoip does not want its latency */
    assert_int_equal(aoip_opus_config_check(&cfg), -EINVAL);
    cfg.frame_us = 7500;
    assert_int_equal(aoip_opus_config_check(&cfg), -EINVAL);
    cfg = good;
    cfg.expected_loss = 101;
    assert_int_equal(aoip_opus_config_check(&cfg), -EINVAL);
    cfg = good;
    cfg.bitrate = 3 * AOIP_OPUS_BITRATE_MIN_STREAM - 1;
    assert_int_equal(aoip_opus_config_check(&cfg), -EINVAL);
    cfg.bitrate = 6 * AOIP_OPUS_BITRATE_MAX_CHANNEL + 1;
    assert_int_equal(aoip_opus_config_check(&cfg), -EINVAL);
    cfg.bitrate = 0; /* the default */
    assert_int_equal(aoip_opus_config_check(&cfg), 0);
    cfg = good;
    cfg.mapping.table[5] = 6; /* decoded channels are 0..5 */
    assert_int_equal(aoip_opus_config_check(&cfg), -EINVAL);
    assert_null(aoip_opus_encoder_new(&cfg));
    assert_null(aoip_opus_decoder_new(&cfg));
    cfg = good;
    cfg.mapping.coupled = 4; /* more coupled streams than streams */
    assert_int_equal(aoip_opus_config_check(&cfg), -EINVAL);

    /* A decoder may duplicate a decoded channel; an encoder needs each fed. */
    cfg = good;
    cfg.mapping.table[5] = 4;
    assert_int_equal(aoip_opus_config_check(&cfg), 0);
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(&cfg);
    assert_non_null(dec);
    aoip_opus_decoder_free(dec);
    assert_null(aoip_opus_encoder_new(&cfg));
    aoip_opus_encoder_free(NULL);
    aoip_opus_decoder_free(NULL);
}

/* ---- mapping text ---- */

static void expect_text_round_trip(const struct aoip_opus_mapping *m)
{
    char text[AOIP_OPUS_MAPPING_TEXT_MAX];
    struct aoip_opus_mapping back;

    int n = aoip_opus_mapping_print(text, sizeof text, m);
    assert_true(n > 0);
    assert_int_equal(strlen(text), (size_t)n);
    memset(&back, 0x5a, sizeof back);
    assert_int_equal(aoip_opus_mapping_parse(&back, text, (size_t)n), 0);
    assert_int_equal(back.channels, m->channels);
    assert_int_equal(back.streams, m->streams);
    assert_int_equal(back.coupled, m->coupled);
    assert_memory_equal(back.table, m->table, m->channels);
}

static void opus_mapping_text_round_trips(void **state)
{
    (void)state;
    struct aoip_opus_mapping m;
    char text[AOIP_OPUS_MAPPING_TEXT_MAX];

    static const unsigned counts[] = { 1, 2, 3, 6, 16, 255 };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(aoip_opus_mapping_default(&m, counts[i]), 0);
        expect_text_round_trip(&m);
        assert_int_equal(aoip_opus_mapping_mono(&m, counts[i]), 0);
        expect_text_round_trip(&m);
    }

    assert_int_equal(aoip_opus_mapping_default(&m, 6), 0);
    assert_int_equal(aoip_opus_mapping_print(text, sizeof text, &m), 59);
    assert_string_equal(text, "num_streams=3;coupled_streams=3;channel_mapping=0,1,2,3,4,5");

    /* WebRTC's 5.1 multiopus layout, with a silent channel added. */
    static const uint8_t surround[] = { 0, 4, 1, 2, 3, 5, 255 };
    m.channels = 7;
    m.streams = 4;
    m.coupled = 2;
    memcpy(m.table, surround, sizeof surround);
    expect_text_round_trip(&m);
    assert_int_equal(aoip_opus_mapping_print(text, sizeof text, &m), 63);
    assert_string_equal(text, "num_streams=4;coupled_streams=2;channel_mapping=0,4,1,2,3,5,255");

    /* The longest text there is fits AOIP_OPUS_MAPPING_TEXT_MAX exactly. */
    m.channels = 255;
    m.streams = 128;
    m.coupled = 127;
    memset(m.table, 255, sizeof m.table);
    assert_int_equal(aoip_opus_mapping_print(text, sizeof text, &m),
                     AOIP_OPUS_MAPPING_TEXT_MAX - 1);
    expect_text_round_trip(&m);
    m.streams = 255;
    m.coupled = 0;
    int n = aoip_opus_mapping_print(text, sizeof text, &m);
    assert_int_equal(n, AOIP_OPUS_MAPPING_TEXT_MAX - 3);
    assert_int_equal(aoip_opus_mapping_print(text, (size_t)n + 1, &m), n);
    assert_int_equal(aoip_opus_mapping_print(text, (size_t)n, &m), -ENOSPC);
    assert_string_equal(text, "");
    assert_int_equal(aoip_opus_mapping_print(text, 0, &m), -ENOSPC);
    m.coupled = 1; /* 256 decoded channels: no mapping */
    assert_int_equal(aoip_opus_mapping_print(text, sizeof text, &m), -EINVAL);
}

/* A whole multiopus fmtp value parses, its other parameters skipped, in
 * any order and with RFC 7587's spaces after the semicolons. */
static void opus_mapping_parses_an_fmtp_line(void **state)
{
    (void)state;
    struct aoip_opus_mapping m;
    static const char webrtc[] = "minptime=10;useinbandfec=1;channel_mapping=0,4,1,2,3,5;"
                                 "num_streams=4;coupled_streams=2";
    static const char spaced[] = "coupled_streams=1; channel_mapping=1,0;  num_streams=1; "
                                 "sprop-stereo=1";

    assert_int_equal(aoip_opus_mapping_parse(&m, webrtc, strlen(webrtc)), 0);
    assert_int_equal(m.channels, 6);
    assert_int_equal(m.streams, 4);
    assert_int_equal(m.coupled, 2);
    static const uint8_t want[] = { 0, 4, 1, 2, 3, 5 };
    assert_memory_equal(m.table, want, 6);

    assert_int_equal(aoip_opus_mapping_parse(&m, spaced, strlen(spaced)), 0);
    assert_int_equal(m.channels, 2);
    assert_int_equal(m.table[0], 1);
    assert_int_equal(m.table[1], 0);

    /* Not NUL-terminated: only len bytes are read. */
    char buf[64];
    static const char one[] = "num_streams=1;coupled_streams=0;channel_mapping=0";
    memcpy(buf, one, strlen(one));
    memcpy(buf + strlen(one), ",1,2,3", 6);
    assert_int_equal(aoip_opus_mapping_parse(&m, buf, strlen(one)), 0);
    assert_int_equal(m.channels, 1);
}

static void opus_mapping_text_rejects_garbage(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int err;
    } bad[] = {
        { "", -EINVAL },
        { "hello", -EINVAL },
        { "num_streams=1;coupled_streams=0", -EINVAL }, /* no channel_mapping */
        { "num_streams=1;channel_mapping=0", -EINVAL }, /* no coupled_streams */
        { "coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=1;num_streams=1;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0;channel_mapping=0", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0;", -EINVAL },
        { ";num_streams=1;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0,", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=,0", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0,,0", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=", -EINVAL },
        { "num_streams=01;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=+1;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=-1;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams= 1;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=1 ;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0 ", -EINVAL },
        { "num_streams=0x1;coupled_streams=0;channel_mapping=0", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0;x=", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0;=1", -EINVAL },
        { "num_streams=1;coupled_streams=0;channel_mapping=0;x=a b", -EINVAL },
        { "num_streams=1,coupled_streams=0,channel_mapping=0", -EINVAL },
        { "num_streams=256;coupled_streams=0;channel_mapping=0", -ERANGE },
        { "num_streams=99999999999;coupled_streams=0;channel_mapping=0", -ERANGE },
        { "num_streams=0;coupled_streams=0;channel_mapping=0", -ERANGE },
        { "num_streams=1;coupled_streams=2;channel_mapping=0", -ERANGE },
        { "num_streams=1;coupled_streams=0;channel_mapping=1", -ERANGE },
        { "num_streams=1;coupled_streams=0;channel_mapping=0,256", -ERANGE },
        { "num_streams=200;coupled_streams=56;channel_mapping=0", -ERANGE },
    };
    struct aoip_opus_mapping m, before;

    memset(&m, 0x5a, sizeof m);
    before = m;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ret = aoip_opus_mapping_parse(&m, bad[i].text, strlen(bad[i].text));
        if (ret != bad[i].err)
            fail_msg("\"%s\": %d, want %d", bad[i].text, ret, bad[i].err);
        assert_memory_equal(&m, &before, sizeof m);
    }

    /* 256 entries are one too many. */
    char text[AOIP_OPUS_MAPPING_TEXT_MAX + 8];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "num_streams=1;coupled_streams=0;"
                                "channel_mapping=0");
    for (unsigned i = 1; i < 256; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, ",0");
    assert_int_equal(aoip_opus_mapping_parse(&m, text, n), -ERANGE);
    assert_int_equal(aoip_opus_mapping_parse(&m, text, n - 2), 0);
    assert_int_equal(m.channels, 255);

    /* A NUL inside the text is not the end of it. */
    static const char nul[] = "num_streams=1;coupled_streams=0;channel_mapping=0\0,1";
    assert_int_equal(aoip_opus_mapping_parse(&m, nul, sizeof nul - 1), -EINVAL);
}

/* ---- loss ---- */

/* A mono flow of frames frames of a 997 Hz tone, encoded with cfg. */
struct packets {
    uint8_t data[64][1500];
    int len[64];
    size_t count;
    uint32_t frame;
};

static void encode_tone(const struct aoip_opus_config *cfg, struct packets *p, size_t count)
{
    float buf[MAX_FRAME];
    float *in[1] = { buf };
    struct aoip_opus_encoder *enc = aoip_opus_encoder_new(cfg);

    assert_non_null(enc);
    assert_true(count <= 64);
    p->count = count;
    p->frame = aoip_opus_frame_samples(cfg);
    for (size_t f = 0; f < count; f++) {
        sig_tone(buf, p->frame, 997.0, RATE, AMP, 0.0, (int64_t)(f * p->frame));
        p->len[f] = aoip_opus_encode(enc, p->data[f], sizeof p->data[f], (const float *const *)in);
        assert_true(p->len[f] > 0);
    }
    aoip_opus_encoder_free(enc);
}

enum plan { CLEAN, LOSE_PLC, LOSE_FEC };

/* Decode every packet, but for packet lost: per plan, conceal it or rebuild
 * it from the next packet's FEC. out gets every frame; returns what the
 * decoder said of the lost frame. */
static int decode_all(const struct aoip_opus_config *cfg, const struct packets *p, size_t lost,
                      enum plan plan, float *out, struct aoip_opus_decoder_stats *st)
{
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(cfg);
    int outcome = -1;

    assert_non_null(dec);
    for (size_t f = 0; f < p->count; f++) {
        float *o[1] = { out + f * p->frame };
        int ret;
        if (f == lost && plan == LOSE_PLC)
            ret = outcome = aoip_opus_conceal(dec, o);
        else if (f == lost && plan == LOSE_FEC)
            ret = outcome = aoip_opus_decode_fec(dec, o, p->data[f + 1], (size_t)p->len[f + 1]);
        else
            ret = aoip_opus_decode(dec, o, p->data[f], (size_t)p->len[f]);
        if (f != lost || plan == CLEAN)
            assert_int_equal(ret, AOIP_OPUS_DECODED);
    }
    aoip_opus_decoder_stats(dec, st);
    aoip_opus_decoder_free(dec);
    return outcome;
}

/* Energy of a - b over one frame. */
static double error_energy(const float *a, const float *b, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return e;
}

static void opus_missing_packet_is_concealed(void **state)
{
    (void)state;
    struct aoip_opus_config cfg;
    struct packets *p = malloc(sizeof *p);
    static float clean[64 * MAX_FRAME], plc[64 * MAX_FRAME];
    struct aoip_opus_decoder_stats st;
    const size_t lost = 30;

    assert_non_null(p);
    assert_int_equal(aoip_opus_config_default(&cfg, 1), 0);
    encode_tone(&cfg, p, 40);
    decode_all(&cfg, p, lost, CLEAN, clean, &st);
    assert_int_equal(decode_all(&cfg, p, lost, LOSE_PLC, plc, &st), AOIP_OPUS_CONCEALED);
    assert_int_equal(st.decoded, 39);
    assert_int_equal(st.concealed, 1);
    assert_int_equal(st.recovered + st.corrupt, 0);

    /* The concealed frame goes on with the tone: not silence, not a blast. */
    const float *gap = plc + lost * p->frame;
    double level = sig_rms_dbfs(gap, p->frame);
    assert_true(level > sig_dbfs(AMP) - 3.01 - 6.0);
    assert_true(sig_peak(gap, p->frame) < 2 * AMP);
    /* Frames before the loss are untouched by it. */
    assert_memory_equal(plc, clean, lost * p->frame * sizeof(float));
    free(p);
}

/*
 * A lost packet rebuilt from its successor's FEC is closer to what the
 * lost packet held than PLC's guess, at both frame lengths FEC exists at,
 * and close in absolute terms: at least 30 dB SNR against the clean
 * decode of that frame. Measured: 47.9 dB at 10 ms and 48.7 at 20 ms for
 * FEC, 19.2 and 4.2 for PLC; playing the next packet's own audio in the
 * lost frame's place (decoding it without asking for its FEC) reads 19.7
 * and 7.9, so 30 dB tells real FEC from both. The encoder is told to
 * expect 20 % loss, as a WAN flow that sees it would be.
 */
#define FEC_MIN_SNR_DB 30.0

static void opus_fec_recovers_a_lost_packet_better_than_plc(void **state)
{
    (void)state;
    static const uint32_t lengths[] = { 10000, 20000 };

    for (size_t i = 0; i < 2; i++) {
        struct aoip_opus_config cfg;
        struct packets *p = malloc(sizeof *p);
        static float clean[64 * MAX_FRAME], fec[64 * MAX_FRAME], plc[64 * MAX_FRAME];
        struct aoip_opus_decoder_stats st;
        const size_t lost = 30;

        assert_non_null(p);
        assert_int_equal(aoip_opus_config_default(&cfg, 1), 0);
        cfg.frame_us = lengths[i];
        cfg.expected_loss = 20;
        encode_tone(&cfg, p, 40);
        /* FEC rides in SILK: the packet after the loss is SILK or hybrid. */
        assert_true(p->data[lost + 1][0] >> 3 < 16);

        decode_all(&cfg, p, lost, CLEAN, clean, &st);
        assert_int_equal(decode_all(&cfg, p, lost, LOSE_FEC, fec, &st), AOIP_OPUS_RECOVERED);
        assert_int_equal(st.recovered, 1);
        assert_int_equal(st.decoded, 39);
        assert_int_equal(st.concealed + st.corrupt, 0);
        assert_int_equal(decode_all(&cfg, p, lost, LOSE_PLC, plc, &st), AOIP_OPUS_CONCEALED);
        assert_int_equal(st.concealed, 1);
        assert_int_equal(st.recovered, 0);

        size_t at = lost * p->frame;
        static const float zero[MAX_FRAME];
        double signal = error_energy(clean + at, zero, p->frame);
        double e_fec = error_energy(fec + at, clean + at, p->frame);
        double e_plc = error_energy(plc + at, clean + at, p->frame);
        print_message("%u ms frames, the lost frame against the clean decode: "
                      "FEC %.1f dB SNR, PLC %.1f dB\n",
                      lengths[i] / 1000, 10 * log10(signal / e_fec), 10 * log10(signal / e_plc));
        if (!(e_fec < e_plc) || !(10 * log10(signal / e_fec) >= FEC_MIN_SNR_DB))
            fail_msg("%u ms: FEC error %g, PLC error %g, frame %g", lengths[i] / 1000, e_fec, e_plc,
                     signal);
        free(p);
    }
}

/*
 * Where the next packet cannot carry FEC, asking for it conceals instead
 * and counts as such: the low-delay mode is CELT only, and so is a 20 ms
 * flow with FEC off (at 64 kb/s a tone is music to libopus, which it
 * codes with CELT unless FEC makes it choose SILK).
 */
static void opus_fec_request_without_fec_conceals(void **state)
{
    (void)state;
    static const struct {
        uint32_t frame_us;
        bool fec;
    } cases[] = { { 2500, true }, { 5000, true }, { 20000, false } };

    for (size_t i = 0; i < 3; i++) {
        struct aoip_opus_config cfg;
        struct packets *p = malloc(sizeof *p);
        static float out[64 * MAX_FRAME];
        struct aoip_opus_decoder_stats st;

        assert_non_null(p);
        assert_int_equal(aoip_opus_config_default(&cfg, 1), 0);
        cfg.frame_us = cases[i].frame_us;
        cfg.fec = cases[i].fec;
        encode_tone(&cfg, p, 40);
        assert_true(p->data[31][0] >> 3 >= 16);
        assert_int_equal(decode_all(&cfg, p, 30, LOSE_FEC, out, &st), AOIP_OPUS_CONCEALED);
        assert_int_equal(st.concealed, 1);
        assert_int_equal(st.recovered, 0);
        free(p);
    }
}

/* No next packet, or a next packet that is broken: the frame is concealed. */
static void opus_fec_from_a_bad_next_packet_conceals(void **state)
{
    (void)state;
    struct aoip_opus_config cfg;
    float buf[MAX_FRAME];
    float *out[1] = { buf };
    struct aoip_opus_decoder_stats st;
    static const uint8_t silk_10ms[] = { 0x00 };   /* SILK NB 10 ms, code 0, no frame */
    static const uint8_t code3_short[] = { 0x0b }; /* SILK NB 20 ms, code 3 without its count */

    assert_int_equal(aoip_opus_config_default(&cfg, 1), 0);
    cfg.frame_us = 20000;
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(&cfg);
    assert_non_null(dec);
    assert_int_equal(aoip_opus_decode_fec(dec, out, NULL, 0), AOIP_OPUS_CONCEALED);
    /* 10 ms: not one frame of this 20 ms flow. */
    assert_int_equal(aoip_opus_decode_fec(dec, out, silk_10ms, 1), AOIP_OPUS_CONCEALED);
    assert_int_equal(aoip_opus_decode_fec(dec, out, code3_short, 1), AOIP_OPUS_CONCEALED);
    aoip_opus_decoder_stats(dec, &st);
    assert_int_equal(st.concealed, 3);
    assert_int_equal(st.recovered + st.decoded + st.corrupt, 0);
    aoip_opus_decoder_free(dec);
}

/* ---- bad input ---- */

static void expect_finite(float *const *out, unsigned channels, uint32_t frame)
{
    for (unsigned c = 0; c < channels; c++)
        for (uint32_t i = 0; i < frame; i++)
            assert_true(isfinite(out[c][i]));
}

/*
 * Payloads that are not one frame of the flow: empty, a TOC alone that
 * promises more, a frame of the wrong length, a multistream packet cut
 * inside its first stream, a self-delimiting length that runs past the
 * end. Each is counted corrupt and concealed; the decoder then decodes the
 * next good packet as if nothing had happened.
 */
static void opus_corrupt_payloads_are_counted_and_concealed(void **state)
{
    (void)state;
    struct aoip_opus_config cfg;
    float bufs[6][MAX_FRAME], in_bufs[6][MAX_FRAME];
    float *out[6], *in[6];
    uint8_t good[6 * AOIP_OPUS_MAX_FRAME_BYTES], bad[64];
    struct aoip_opus_decoder_stats st;

    for (unsigned c = 0; c < 6; c++) {
        out[c] = bufs[c];
        in[c] = in_bufs[c];
    }
    assert_int_equal(aoip_opus_config_default(&cfg, 6), 0);
    cfg.frame_us = 10000;
    uint32_t frame = aoip_opus_frame_samples(&cfg);
    struct aoip_opus_encoder *enc = aoip_opus_encoder_new(&cfg);
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(&cfg);
    assert_non_null(enc);
    assert_non_null(dec);
    fill_input(in, 6, frame, 0);
    int n = aoip_opus_encode(enc, good, sizeof good, (const float *const *)in);
    assert_true(n > 8);
    assert_int_equal(aoip_opus_decode(dec, out, good, (size_t)n), AOIP_OPUS_DECODED);

    unsigned corrupt = 0;
    assert_int_equal(aoip_opus_decode(dec, out, good, 0), AOIP_OPUS_CORRUPT);
    corrupt++;
    assert_int_equal(aoip_opus_decode(dec, out, NULL, 5), AOIP_OPUS_CORRUPT);
    corrupt++;
    bad[0] = 0x0b; /* code 3, no count byte */
    assert_int_equal(aoip_opus_decode(dec, out, bad, 1), AOIP_OPUS_CORRUPT);
    corrupt++;
    bad[0] = 0xf8; /* CELT FB 20 ms: twice this flow's frame */
    memset(bad + 1, 0x55, 40);
    assert_int_equal(aoip_opus_decode(dec, out, bad, 41), AOIP_OPUS_CORRUPT);
    corrupt++;
    expect_finite(out, 6, frame);
    for (int cut = 1; cut < 5; cut++) { /* three streams need at least five bytes */
        assert_int_equal(aoip_opus_decode(dec, out, good, (size_t)cut), AOIP_OPUS_CORRUPT);
        corrupt++;
    }
    bad[0] = (uint8_t)(good[0] & ~3u); /* code 0: one frame, its length follows */
    bad[1] = 252; /* first stream's length: 252 + 4 * next byte, far past the end */
    bad[2] = 255;
    assert_int_equal(aoip_opus_decode(dec, out, bad, 8), AOIP_OPUS_CORRUPT);
    corrupt++;
    expect_finite(out, 6, frame);

    aoip_opus_decoder_stats(dec, &st);
    assert_int_equal(st.corrupt, corrupt);
    assert_int_equal(st.decoded, 1);
    assert_int_equal(st.concealed + st.recovered, 0);

    fill_input(in, 6, frame, 1);
    n = aoip_opus_encode(enc, good, sizeof good, (const float *const *)in);
    assert_true(n > 0);
    assert_int_equal(aoip_opus_decode(dec, out, good, (size_t)n), AOIP_OPUS_DECODED);
    expect_finite(out, 6, frame);
    aoip_opus_encoder_free(enc);
    aoip_opus_decoder_free(dec);
}

/* Random bytes of every length to 300, through 1, 2 and 6 channel
 * decoders of every frame length: whatever libopus makes of them is
 * finite, and every call is counted exactly once. */
static void opus_random_payloads_never_break_the_decoder(void **state)
{
    (void)state;
    static const uint32_t lengths[] = { 2500, 5000, 10000, 20000 };
    static const unsigned counts[] = { 1, 2, 6 };
    struct netmodel_rng rng;
    float bufs[6][MAX_FRAME];
    float *out[6];
    uint8_t pkt[300] = { 0 };

    for (unsigned c = 0; c < 6; c++)
        out[c] = bufs[c];
    netmodel_rng_seed(&rng, 7);
    for (size_t k = 0; k < 3; k++) {
        for (size_t l = 0; l < 4; l++) {
            struct aoip_opus_config cfg;
            struct aoip_opus_decoder_stats st;
            assert_int_equal(aoip_opus_config_default(&cfg, counts[k]), 0);
            cfg.frame_us = lengths[l];
            uint32_t frame = aoip_opus_frame_samples(&cfg);
            struct aoip_opus_decoder *dec = aoip_opus_decoder_new(&cfg);
            assert_non_null(dec);
            uint64_t calls = 0;
            for (size_t len = 0; len < sizeof pkt; len++) {
                for (size_t i = 0; i < len; i++)
                    pkt[i] = (uint8_t)netmodel_rng_next(&rng);
                /* Half of them with a TOC of this flow's frame length: CELT (RFC
                 * 6716 table 2: config 16 + 4 * bandwidth + log2(frame / 120)),
                 * or for 10 and 20 ms hybrid (12 + 2 * bandwidth + 20 ms?). */
                unsigned dur = frame == 120 ? 0 : frame == 240 ? 1 : frame == 480 ? 2 : 3;
                unsigned bw = pkt[0] >> 6;
                if (len % 4 == 1)
                    pkt[0] = (uint8_t)((16 + 4 * bw + dur) << 3 | (pkt[0] & 7));
                else if (len % 4 == 3 && dur >= 2)
                    pkt[0] = (uint8_t)((12 + 2 * (bw & 1) + dur - 2) << 3 | (pkt[0] & 7));
                int r = aoip_opus_decode(dec, out, pkt, len);
                assert_true(r == AOIP_OPUS_DECODED || r == AOIP_OPUS_CORRUPT);
                expect_finite(out, counts[k], frame);
                r = aoip_opus_decode_fec(dec, out, pkt, len);
                assert_true(r == AOIP_OPUS_RECOVERED || r == AOIP_OPUS_CONCEALED);
                expect_finite(out, counts[k], frame);
                calls += 2;
            }
            aoip_opus_decoder_stats(dec, &st);
            assert_int_equal(st.decoded + st.recovered + st.concealed + st.corrupt, calls);
            aoip_opus_decoder_free(dec);
        }
    }
}

/* NaN and infinities in the input are sent as silence and full scale, as
 * L24 does; the far end decodes finite audio. */
static void opus_non_finite_input_encodes_as_finite_audio(void **state)
{
    (void)state;
    struct aoip_opus_config cfg;
    float a[MAX_FRAME], b[MAX_FRAME];
    float *in[2] = { a, b }, *out[2] = { a, b };
    uint8_t pkt[1500];

    assert_int_equal(aoip_opus_config_default(&cfg, 2), 0);
    uint32_t frame = aoip_opus_frame_samples(&cfg);
    struct aoip_opus_encoder *enc = aoip_opus_encoder_new(&cfg);
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(&cfg);
    assert_non_null(enc);
    assert_non_null(dec);
    for (int f = 0; f < 20; f++) {
        for (uint32_t i = 0; i < frame; i++) {
            a[i] = i % 3 ? NAN : INFINITY;
            b[i] = -INFINITY;
        }
        int n = aoip_opus_encode(enc, pkt, sizeof pkt, (const float *const *)in);
        assert_true(n > 0);
        assert_int_equal(aoip_opus_decode(dec, out, pkt, (size_t)n), AOIP_OPUS_DECODED);
        expect_finite(out, 2, frame);
    }
    aoip_opus_encoder_free(enc);
    aoip_opus_decoder_free(dec);
}

/* An output buffer too small for any frame is refused, not overrun. */
static void opus_encode_refuses_a_buffer_too_small(void **state)
{
    (void)state;
    struct aoip_opus_config cfg;
    float bufs[6][MAX_FRAME];
    float *in[6];
    uint8_t pkt[4];

    for (unsigned c = 0; c < 6; c++)
        in[c] = bufs[c];
    assert_int_equal(aoip_opus_config_default(&cfg, 6), 0);
    struct aoip_opus_encoder *enc = aoip_opus_encoder_new(&cfg);
    assert_non_null(enc);
    fill_input(in, 6, aoip_opus_frame_samples(&cfg), 0);
    /* Three streams need at least 2 * 3 - 1 bytes. */
    assert_int_equal(aoip_opus_encode(enc, pkt, sizeof pkt, (const float *const *)in), -ENOSPC);
    aoip_opus_encoder_free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opus_round_trip_mono),
        cmocka_unit_test(opus_round_trip_stereo),
        cmocka_unit_test(opus_round_trip_6_channels),
        cmocka_unit_test(opus_round_trip_16_channels),
        cmocka_unit_test(opus_round_trip_every_frame_length),
        cmocka_unit_test(opus_round_trip_255_channels),
        cmocka_unit_test(opus_custom_mapping_routes_every_channel),
        cmocka_unit_test(opus_mono_and_stereo_are_plain_opus_packets),
        cmocka_unit_test(opus_default_mapping_pairs_then_mono),
        cmocka_unit_test(opus_default_frame_is_shortest_with_overhead_below_audio),
        cmocka_unit_test(opus_low_delay_mode_for_short_frames),
        cmocka_unit_test(opus_config_check_refuses_what_opus_cannot_do),
        cmocka_unit_test(opus_mapping_text_round_trips),
        cmocka_unit_test(opus_mapping_parses_an_fmtp_line),
        cmocka_unit_test(opus_mapping_text_rejects_garbage),
        cmocka_unit_test(opus_missing_packet_is_concealed),
        cmocka_unit_test(opus_fec_recovers_a_lost_packet_better_than_plc),
        cmocka_unit_test(opus_fec_request_without_fec_conceals),
        cmocka_unit_test(opus_fec_from_a_bad_next_packet_conceals),
        cmocka_unit_test(opus_corrupt_payloads_are_counted_and_concealed),
        cmocka_unit_test(opus_random_payloads_never_break_the_decoder),
        cmocka_unit_test(opus_non_finite_input_encodes_as_finite_audio),
        cmocka_unit_test(opus_encode_refuses_a_buffer_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
