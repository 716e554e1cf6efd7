/*
 * opus.c: Opus and Opus multistream encode and decode for aoip flows, with
 * libopus' packet-loss concealment and in-band FEC (see opus.h for the
 * contract).
 *
 * Every flow, whatever its channel count, goes through libopus'
 * multistream API. With one stream its packets are plain Opus packets
 * (only streams before the last are self-delimited, RFC 6716 appendix B),
 * so mono and stereo flows are RFC 7587 as they stand, and there is one
 * code path to get right instead of two.
 *
 * libopus works on interleaved samples, the engine on planes: each object
 * owns one interleaved scratch of a frame, sized at _new, and the RT
 * functions copy through it. The copy is a small part of the cost of
 * encoding and keeps libopus' layout out of the engine.
 *
 * Decoding keeps one counter per outcome, and each frame lands in exactly
 * one of them, so decoded + recovered + concealed + corrupt is the number
 * of frames the decoder handed out.
 *
 * What is checked before libopus sees a packet: that it is one frame of
 * this flow long (opus_packet_get_nb_samples reads the first stream's TOC,
 * which is the first byte in both framings). libopus itself validates
 * every stream of a multistream packet before decoding any, so a packet
 * refused there leaves the decoder's state as it was, and the frame is
 * concealed from the same history a lost packet would be.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>
#include <opus_multistream.h>

#include "aoip/opus.h"

/* Frame lengths Opus has at or below 20 ms (RFC 6716 section 2.1.4); the
 * 40, 60 and longer ones only add latency, which is what these flows lack. */
static const uint32_t frame_lengths_us[] = { 2500, 5000, 10000, 20000 };

/* TOC configurations 16..31 are CELT-only (RFC 6716 section 3.1, table 2):
 * such a packet carries no SILK layer and so no in-band FEC. */
#define TOC_FIRST_CELT_CONFIG 16

struct aoip_opus_encoder {
    OpusMSEncoder *ms;
    unsigned channels;
    uint32_t frame; /* samples per channel */
    uint32_t delay; /* lookahead, samples */
    float *scratch; /* channels * frame, interleaved */
};

struct aoip_opus_decoder {
    OpusMSDecoder *ms;
    unsigned channels;
    uint32_t frame;
    float *scratch;
    /* The last packet decoded was CELT-only: libopus then has no SILK
     * state to apply FEC to, and conceals instead. */
    bool after_celt;
    struct aoip_opus_decoder_stats stats;
};

/* ---- mapping ---------------------------------------------------------- */

static int mapping_identity(struct aoip_opus_mapping *m, unsigned channels, unsigned coupled)
{
    if (channels < 1 || channels > AOIP_OPUS_MAX_CHANNELS)
        return -EINVAL;
    memset(m, 0, sizeof *m);
    m->channels = channels;
    m->coupled = coupled;
    m->streams = channels - coupled;
    for (unsigned i = 0; i < channels; i++)
        m->table[i] = (uint8_t)i;
    return 0;
}

int aoip_opus_mapping_default(struct aoip_opus_mapping *m, unsigned channels)
{
    return mapping_identity(m, channels, channels / 2);
}

int aoip_opus_mapping_mono(struct aoip_opus_mapping *m, unsigned channels)
{
    return mapping_identity(m, channels, 0);
}

int aoip_opus_mapping_check(const struct aoip_opus_mapping *m)
{
    if (m->channels < 1 || m->channels > AOIP_OPUS_MAX_CHANNELS)
        return -EINVAL;
    if (m->streams < 1 || m->coupled > m->streams || m->streams + m->coupled > 255)
        return -EINVAL;
    for (unsigned i = 0; i < m->channels; i++)
        if (m->table[i] >= m->streams + m->coupled && m->table[i] != AOIP_OPUS_SILENT)
            return -EINVAL;
    return 0;
}

int aoip_opus_mapping_print(char *buf, size_t cap, const struct aoip_opus_mapping *m)
{
    size_t len;
    int n;

    if (cap > 0)
        buf[0] = '\0';
    if (aoip_opus_mapping_check(m) < 0)
        return -EINVAL;
    n = snprintf(buf, cap, "num_streams=%u;coupled_streams=%u;channel_mapping=", m->streams,
                 m->coupled);
    if (n < 0 || (size_t)n >= cap)
        goto nospace;
    len = (size_t)n;
    for (unsigned i = 0; i < m->channels; i++) {
        n = snprintf(buf + len, cap - len, i ? ",%u" : "%u", (unsigned)m->table[i]);
        if (n < 0 || (size_t)n >= cap - len)
            goto nospace;
        len += (size_t)n;
    }
    return (int)len;

nospace:
    if (cap > 0)
        buf[0] = '\0';
    return -ENOSPC;
}

/*
 * One number of a mapping text, s[0..n): plain decimal, no sign, no
 * leading zero, at most 255. -EINVAL for anything that is not such a
 * number, -ERANGE for one that is, but too large.
 */
static int parse_u8(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;

    if (n == 0 || (s[0] == '0' && n > 1))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        if (v <= 255)
            v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 255)
        return -ERANGE;
    *out = v;
    return 0;
}

/* "0,4,1,...": up to AOIP_OPUS_MAX_CHANNELS numbers, none of them empty. */
static int parse_table(struct aoip_opus_mapping *m, const char *s, size_t n)
{
    size_t i = 0;

    m->channels = 0;
    for (;;) {
        size_t start = i;
        unsigned v;
        int ret;

        while (i < n && s[i] != ',')
            i++;
        ret = parse_u8(s + start, i - start, &v);
        if (ret < 0)
            return ret;
        if (m->channels == AOIP_OPUS_MAX_CHANNELS)
            return -ERANGE;
        m->table[m->channels++] = (uint8_t)v;
        if (i == n)
            return 0;
        i++; /* the comma; a trailing one leaves an empty number */
    }
}

/* Characters of a key: RFC 8866 token characters fmtp keys use in practice. */
static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

static int key_is(const char *key, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(key, want, n) == 0;
}

int aoip_opus_mapping_parse(struct aoip_opus_mapping *m, const char *text, size_t len)
{
    struct aoip_opus_mapping r;
    bool have_streams = false, have_coupled = false, have_table = false;
    size_t i = 0;
    int ret;

    memset(&r, 0, sizeof r);
    if (len == 0)
        return -EINVAL;
    for (;;) {
        size_t key = i, value;

        while (i < len && is_key_char(text[i]))
            i++;
        if (i == key || i == len || text[i] != '=')
            return -EINVAL;
        size_t key_len = i - key;
        value = ++i;
        while (i < len && text[i] != ';')
            i++;
        size_t value_len = i - value;

        if (key_is(text + key, key_len, "num_streams")) {
            if (have_streams)
                return -EINVAL;
            have_streams = true;
            ret = parse_u8(text + value, value_len, &r.streams);
        } else if (key_is(text + key, key_len, "coupled_streams")) {
            if (have_coupled)
                return -EINVAL;
            have_coupled = true;
            ret = parse_u8(text + value, value_len, &r.coupled);
        } else if (key_is(text + key, key_len, "channel_mapping")) {
            if (have_table)
                return -EINVAL;
            have_table = true;
            ret = parse_table(&r, text + value, value_len);
        } else {
            /* Another fmtp parameter: its value is printable and has no space. */
            ret = value_len ? 0 : -EINVAL;
            for (size_t k = value; k < i && ret == 0; k++)
                if (text[k] <= ' ' || text[k] > '~')
                    ret = -EINVAL;
        }
        if (ret < 0)
            return ret;

        if (i == len)
            break;
        i++; /* the ';' */
        while (i < len && text[i] == ' ')
            i++;
    }
    if (!have_streams || !have_coupled || !have_table)
        return -EINVAL;
    if (aoip_opus_mapping_check(&r) < 0)
        return -ERANGE;
    *m = r;
    return 0;
}

/* ---- settings --------------------------------------------------------- */

uint32_t aoip_opus_default_bitrate(const struct aoip_opus_mapping *m)
{
    unsigned mono = m->streams - m->coupled;

    return mono * AOIP_OPUS_DEFAULT_MONO + m->coupled * AOIP_OPUS_DEFAULT_COUPLED;
}

uint32_t aoip_opus_default_frame_us(uint32_t bitrate)
{
    for (size_t i = 0; i < sizeof frame_lengths_us / sizeof frame_lengths_us[0]; i++) {
        uint64_t overhead = AOIP_OPUS_PACKET_OVERHEAD * 8ull * 1000000ull / frame_lengths_us[i];
        if (overhead <= bitrate)
            return frame_lengths_us[i];
    }
    return 20000;
}

bool aoip_opus_low_delay(uint32_t frame_us)
{
    return frame_us <= 5000;
}

int aoip_opus_config_default(struct aoip_opus_config *cfg, unsigned channels)
{
    memset(cfg, 0, sizeof *cfg);
    if (aoip_opus_mapping_default(&cfg->mapping, channels) < 0)
        return -EINVAL;
    cfg->bitrate = aoip_opus_default_bitrate(&cfg->mapping);
    cfg->frame_us = aoip_opus_default_frame_us(cfg->bitrate);
    cfg->fec = true;
    cfg->expected_loss = AOIP_OPUS_DEFAULT_EXPECTED_LOSS;
    cfg->dtx = false;
    return 0;
}

int aoip_opus_config_check(const struct aoip_opus_config *cfg)
{
    const struct aoip_opus_mapping *m = &cfg->mapping;
    bool frame_ok = false;

    if (aoip_opus_mapping_check(m) < 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof frame_lengths_us / sizeof frame_lengths_us[0]; i++)
        frame_ok = frame_ok || cfg->frame_us == frame_lengths_us[i];
    if (!frame_ok || cfg->expected_loss > 100)
        return -EINVAL;
    if (cfg->bitrate != 0 &&
        (cfg->bitrate < (uint64_t)m->streams * AOIP_OPUS_BITRATE_MIN_STREAM ||
         cfg->bitrate > (uint64_t)(m->streams + m->coupled) * AOIP_OPUS_BITRATE_MAX_CHANNEL))
        return -EINVAL;
    return 0;
}

/* ---- encoder ---------------------------------------------------------- */

/*
 * Whether every decoded channel is fed by some input channel. A decoder
 * may leave one out or repeat one; an encoder must have each, or libopus
 * 1.3 (which checks this only for its surround layouts) reads the input
 * at channel index -1.
 */
static bool every_stream_fed(const struct aoip_opus_mapping *m)
{
    for (unsigned d = 0; d < m->streams + m->coupled; d++) {
        bool fed = false;
        for (unsigned i = 0; i < m->channels && !fed; i++)
            fed = m->table[i] == d;
        if (!fed)
            return false;
    }
    return true;
}

struct aoip_opus_encoder *aoip_opus_encoder_new(const struct aoip_opus_config *cfg)
{
    const struct aoip_opus_mapping *m = &cfg->mapping;
    struct aoip_opus_encoder *enc;
    opus_int32 lookahead = 0;
    int err = OPUS_OK;

    if (aoip_opus_config_check(cfg) < 0 || !every_stream_fed(m))
        return NULL;
    enc = calloc(1, sizeof *enc);
    if (!enc)
        return NULL;
    enc->channels = m->channels;
    enc->frame = aoip_opus_frame_samples(cfg);
    enc->scratch = calloc((size_t)m->channels * enc->frame, sizeof(float));
    if (!enc->scratch)
        goto fail;
    enc->ms = opus_multistream_encoder_create(
        AOIP_OPUS_RATE, (int)m->channels, (int)m->streams, (int)m->coupled, m->table,
        aoip_opus_low_delay(cfg->frame_us) ? OPUS_APPLICATION_RESTRICTED_LOWDELAY
                                           : OPUS_APPLICATION_AUDIO,
        &err);
    if (!enc->ms || err != OPUS_OK)
        goto fail;

    /*
     * Constrained VBR: the packets of a frame stay near bitrate * frame, so
     * a WAN link sized for the flow's bitrate never sees a burst the jitter
     * buffer did not plan for; within that, VBR still moves bits to where
     * the music needs them.
     */
    opus_int32 bitrate = (opus_int32)(cfg->bitrate ? cfg->bitrate : aoip_opus_default_bitrate(m));
    if (opus_multistream_encoder_ctl(enc->ms, OPUS_SET_BITRATE(bitrate)) != OPUS_OK ||
        opus_multistream_encoder_ctl(enc->ms, OPUS_SET_VBR(1)) != OPUS_OK ||
        opus_multistream_encoder_ctl(enc->ms, OPUS_SET_VBR_CONSTRAINT(1)) != OPUS_OK ||
        opus_multistream_encoder_ctl(enc->ms, OPUS_SET_INBAND_FEC(cfg->fec ? 1 : 0)) != OPUS_OK ||
        opus_multistream_encoder_ctl(enc->ms, OPUS_SET_PACKET_LOSS_PERC((int)cfg->expected_loss)) !=
            OPUS_OK ||
        opus_multistream_encoder_ctl(enc->ms, OPUS_SET_DTX(cfg->dtx ? 1 : 0)) != OPUS_OK ||
        opus_multistream_encoder_ctl(enc->ms, OPUS_GET_LOOKAHEAD(&lookahead)) != OPUS_OK)
        goto fail;
    enc->delay = (uint32_t)lookahead;
    return enc;

fail:
    aoip_opus_encoder_free(enc);
    return NULL;
}

void aoip_opus_encoder_free(struct aoip_opus_encoder *enc)
{
    if (!enc)
        return;
    if (enc->ms)
        opus_multistream_encoder_destroy(enc->ms);
    free(enc->scratch);
    free(enc);
}

uint32_t aoip_opus_encoder_delay(const struct aoip_opus_encoder *enc)
{
    return enc->delay;
}

/* Planes into the interleaved scratch. Samples are held to full scale and
 * NaN becomes 0, as L24 does (pcm.c): the far end may decode to integers,
 * and a corrupted sample should be silence, not a full-scale click. */
static AOIP_RT void interleave(float *restrict out, const float *const *in, unsigned channels,
                               uint32_t frames)
{
    for (unsigned c = 0; c < channels; c++) {
        const float *restrict x = in[c];
        for (uint32_t i = 0; i < frames; i++) {
            float s = x[i];
            s = s > 1.0f ? 1.0f : s;
            s = s < -1.0f ? -1.0f : s;
            out[(size_t)i * channels + c] = s == s ? s : 0.0f;
        }
    }
}

AOIP_RT int aoip_opus_encode(struct aoip_opus_encoder *enc, uint8_t *out, size_t cap,
                             const float *const *in)
{
    opus_int32 room = cap > INT32_MAX ? INT32_MAX : (opus_int32)cap;
    int n;

    interleave(enc->scratch, in, enc->channels, enc->frame);
    n = opus_multistream_encode_float(enc->ms, enc->scratch, (int)enc->frame, out, room);
    if (n == OPUS_BUFFER_TOO_SMALL)
        return -ENOSPC;
    if (n < 0)
        return -EIO;
    return n;
}

/* ---- decoder ---------------------------------------------------------- */

struct aoip_opus_decoder *aoip_opus_decoder_new(const struct aoip_opus_config *cfg)
{
    const struct aoip_opus_mapping *m = &cfg->mapping;
    struct aoip_opus_decoder *dec;
    int err = OPUS_OK;

    if (aoip_opus_config_check(cfg) < 0)
        return NULL;
    dec = calloc(1, sizeof *dec);
    if (!dec)
        return NULL;
    dec->channels = m->channels;
    dec->frame = aoip_opus_frame_samples(cfg);
    /* Room for the longest frame, so the frame can change (aoip_opus_decoder_set_frame). */
    dec->scratch = calloc((size_t)m->channels * AOIP_OPUS_MAX_FRAME_SAMPLES, sizeof(float));
    if (!dec->scratch)
        goto fail;
    dec->ms = opus_multistream_decoder_create(AOIP_OPUS_RATE, (int)m->channels, (int)m->streams,
                                              (int)m->coupled, m->table, &err);
    if (!dec->ms || err != OPUS_OK)
        goto fail;
    return dec;

fail:
    aoip_opus_decoder_free(dec);
    return NULL;
}

void aoip_opus_decoder_free(struct aoip_opus_decoder *dec)
{
    if (!dec)
        return;
    if (dec->ms)
        opus_multistream_decoder_destroy(dec->ms);
    free(dec->scratch);
    free(dec);
}

static AOIP_RT void deinterleave(float *const *out, const float *restrict in, unsigned channels,
                                 uint32_t frames)
{
    for (unsigned c = 0; c < channels; c++) {
        float *restrict y = out[c];
        for (uint32_t i = 0; i < frames; i++)
            y[i] = in[(size_t)i * channels + c];
    }
}

/* libopus' PLC for one frame. It cannot fail with the arguments _new
 * checked; if it ever did, the frame is silence rather than stale scratch. */
static AOIP_RT void plc(struct aoip_opus_decoder *dec, float *const *out)
{
    int n = opus_multistream_decode_float(dec->ms, NULL, 0, dec->scratch, (int)dec->frame, 0);
    if (n != (int)dec->frame)
        memset(dec->scratch, 0, (size_t)dec->channels * dec->frame * sizeof(float));
    deinterleave(out, dec->scratch, dec->channels, dec->frame);
}

static AOIP_RT bool is_celt(const uint8_t *pkt)
{
    return pkt[0] >> 3 >= TOC_FIRST_CELT_CONFIG;
}

/* Whether pkt[0..len) is one frame of this flow long, as its TOC says. */
static AOIP_RT bool one_frame(const struct aoip_opus_decoder *dec, const uint8_t *pkt, size_t len)
{
    if (!pkt || len == 0 || len > INT32_MAX)
        return false;
    return opus_packet_get_nb_samples(pkt, (opus_int32)len, AOIP_OPUS_RATE) == (int)dec->frame;
}

AOIP_RT int aoip_opus_decode(struct aoip_opus_decoder *dec, float *const *out, const uint8_t *pkt,
                             size_t len)
{
    if (one_frame(dec, pkt, len)) {
        int n = opus_multistream_decode_float(dec->ms, pkt, (opus_int32)len, dec->scratch,
                                              (int)dec->frame, 0);
        if (n == (int)dec->frame) {
            deinterleave(out, dec->scratch, dec->channels, dec->frame);
            dec->after_celt = is_celt(pkt);
            dec->stats.decoded++;
            return AOIP_OPUS_DECODED;
        }
    }
    plc(dec, out);
    dec->stats.corrupt++;
    return AOIP_OPUS_CORRUPT;
}

AOIP_RT int aoip_opus_conceal(struct aoip_opus_decoder *dec, float *const *out)
{
    plc(dec, out);
    dec->stats.concealed++;
    return AOIP_OPUS_CONCEALED;
}

AOIP_RT int aoip_opus_decode_fec(struct aoip_opus_decoder *dec, float *const *out,
                                 const uint8_t *next, size_t len)
{
    if (one_frame(dec, next, len) && !is_celt(next) && !dec->after_celt) {
        int n = opus_multistream_decode_float(dec->ms, next, (opus_int32)len, dec->scratch,
                                              (int)dec->frame, 1);
        if (n == (int)dec->frame) {
            deinterleave(out, dec->scratch, dec->channels, dec->frame);
            dec->after_celt = false;
            dec->stats.recovered++;
            return AOIP_OPUS_RECOVERED;
        }
    }
    return aoip_opus_conceal(dec, out);
}

AOIP_RT int aoip_opus_packet_samples(const uint8_t *pkt, size_t len)
{
    if (!pkt || len == 0 || len > INT32_MAX)
        return -EINVAL;
    int n = opus_packet_get_nb_samples(pkt, (opus_int32)len, AOIP_OPUS_RATE);
    return n > 0 ? n : -EINVAL;
}

AOIP_RT int aoip_opus_decoder_set_frame(struct aoip_opus_decoder *dec, uint32_t samples)
{
    if (samples != 120 && samples != 240 && samples != 480 && samples != 960)
        return -EINVAL;
    dec->frame = samples;
    return 0;
}

uint32_t aoip_opus_decoder_frame(const struct aoip_opus_decoder *dec)
{
    return dec->frame;
}

void aoip_opus_decoder_stats(const struct aoip_opus_decoder *dec,
                             struct aoip_opus_decoder_stats *out)
{
    *out = dec->stats;
}

AOIP_RT void aoip_opus_decoder_reset(struct aoip_opus_decoder *dec)
{
    opus_multistream_decoder_ctl(dec->ms, OPUS_RESET_STATE);
    dec->after_celt = false;
}
