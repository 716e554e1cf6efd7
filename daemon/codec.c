/*
 * codec.c: Opus for rx flows on the media thread (codec.h).
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* Frames at rate in a frame of samples at 48 kHz (a whole number: fits). */
static AOIP_RT uint32_t local_frames(uint32_t samples, uint32_t rate)
{
    return (uint32_t)((uint64_t)samples * rate / AOIP_OPUS_RATE);
}

struct opus_rx *opus_rx_new(const struct aoip_opus_config *cfg, uint32_t rate, bool fec,
                            bool follow)
{
    if (!aoip_opus_frame_fits(cfg->frame_us, rate))
        return NULL;
    struct opus_rx *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->channels = cfg->mapping.channels;
    o->rate = rate;
    o->frame = aoip_opus_frame_samples(cfg);
    o->fec = fec;
    o->follow = follow;
    o->dec = aoip_opus_decoder_new(cfg);
    uint32_t most = follow ? AOIP_OPUS_MAX_FRAME_SAMPLES : o->frame;
    size_t blocks = (size_t)(CODEC_GAP_FRAMES + 1) * o->channels;
    o->pcm = calloc(blocks * most, sizeof(float));
    if (rate != AOIP_OPUS_RATE) {
        struct aoip_rateconv_config rc = { .channels = o->channels,
                                           .in_rate = AOIP_OPUS_RATE,
                                           .out_rate = rate,
                                           .max_in_frames = most };
        o->rc = aoip_rateconv_new(&rc);
        o->conv = calloc(blocks * local_frames(most, rate), sizeof(float));
    }
    if (!o->dec || !o->pcm || (rate != AOIP_OPUS_RATE && (!o->rc || !o->conv))) {
        opus_rx_free(o);
        return NULL;
    }
    return o;
}

void opus_rx_free(struct opus_rx *o)
{
    if (!o)
        return;
    aoip_opus_decoder_free(o->dec);
    aoip_rateconv_free(o->rc);
    free(o->pcm);
    free(o->conv);
    free(o);
}

void opus_rx_follow(struct opus_rx *o, const struct opus_rx *from)
{
    if (!o->rc || !from->rc || !from->started)
        return;
    o->wire_ts = from->wire_ts;
    o->local_ts = from->local_ts;
    o->follows = true;
}

void opus_rx_follow_pcm(struct opus_rx *o, uint32_t next_ts)
{
    if (!o->rc)
        return;
    o->wire_ts = (uint32_t)((uint64_t)next_ts * AOIP_OPUS_RATE / o->rate);
    o->local_ts = next_ts;
    o->follows = true;
}

double opus_rx_delay(const struct opus_rx *o)
{
    return o->rc ? aoip_rateconv_delay(o->rc) : 0.0;
}

/* The planes of block b of a scratch of frames per block (0: the packet's own frame). */
static AOIP_RT void planes_of(const struct opus_rx *o, float *scratch, uint32_t frames, unsigned b,
                              float **planes)
{
    float *base = scratch + (size_t)b * o->channels * frames;
    for (unsigned c = 0; c < o->channels; c++)
        planes[c] = base + (size_t)c * frames;
}

/* With rc: block b of the decoded frames converted into block b of conv. */
static AOIP_RT void convert_block(struct opus_rx *o, unsigned b)
{
    float *in[AOIP_OPUS_MAX_CHANNELS], *out[AOIP_OPUS_MAX_CHANNELS];
    planes_of(o, o->pcm, o->frame, b, in);
    planes_of(o, o->conv, o->local_frame, b, out);
    aoip_rateconv_process(o->rc, (const float *const *)in, o->frame, out);
}

int opus_rx_take(struct opus_rx *o, struct aoip_jitter *jb, const struct aoip_rtp_packet *pkt,
                 const uint8_t *payload, size_t len)
{
    float *planes[AOIP_OPUS_MAX_CHANNELS];
    if (o->follow) {
        /* A packet of another length: the decoder makes frames of it from
         * here on (a gap across the change restarts the stream, below).
         * One that is no whole number of the node's frames stays what it
         * was, and the packet decodes as corrupt. */
        int n = aoip_opus_packet_samples(payload, len);
        if (n > 0 && (uint32_t)n != o->frame && (uint64_t)n * o->rate % AOIP_OPUS_RATE == 0 &&
            aoip_opus_decoder_set_frame(o->dec, (uint32_t)n) == 0)
            o->frame = (uint32_t)n;
    }
    int16_t ahead = (int16_t)(uint16_t)(pkt->seq - o->next_seq);
    /* Where this packet's frame lies if the stream goes on as it did. */
    bool on_time = (uint32_t)(pkt->timestamp - o->next_ts) == (uint32_t)ahead * o->frame;

    if (!o->started || pkt->ssrc != o->ssrc || ahead > CODEC_RESTART_FRAMES ||
        ahead < -CODEC_RESTART_FRAMES || !on_time) {
        if (o->started) {
            aoip_opus_decoder_reset(o->dec);
            if (o->rc)
                aoip_rateconv_reset(o->rc);
        }
        o->started = true;
        o->ssrc = pkt->ssrc;
        o->next_seq = pkt->seq;
        o->next_ts = pkt->timestamp;
        /* A new timeline: at 48 kHz the wire's own, else anchored here,
         * or where the flow this one replaces had it. */
        if (!o->follows)
            o->wire_ts = o->local_ts = pkt->timestamp;
        o->follows = false;
        ahead = 0;
    }
    if (ahead < 0) {
        o->late++;
        return -1;
    }
    unsigned gap = (unsigned)ahead, made = gap < CODEC_GAP_FRAMES ? gap : CODEC_GAP_FRAMES;
    o->skipped += gap - made;
    /* The missing frames, oldest first, into blocks 1..made; the last one
     * from this packet's FEC. */
    for (unsigned j = 1; j <= made; j++) {
        planes_of(o, o->pcm, o->frame, j, planes);
        if (j == made && o->fec)
            aoip_opus_decode_fec(o->dec, planes, payload, len);
        else
            aoip_opus_conceal(o->dec, planes);
    }
    planes_of(o, o->pcm, o->frame, 0, planes);
    aoip_opus_decode(o->dec, planes, payload, len);

    /* Onto the node's timeline: the same frames at its rate, converted in
     * the order they play (the frames a gap skipped never were). */
    float *scratch = o->pcm;
    o->local_ts +=
        (uint32_t)((int64_t)(int32_t)(pkt->timestamp - o->wire_ts) * o->rate / AOIP_OPUS_RATE);
    o->wire_ts = pkt->timestamp;
    o->local_frame = local_frames(o->frame, o->rate);
    if (o->rc) {
        for (unsigned j = 1; j <= made; j++)
            convert_block(o, j);
        convert_block(o, 0);
        scratch = o->conv;
        planes_of(o, scratch, o->local_frame, 0, planes);
    }
    int verdict = aoip_jitter_put(jb, pkt->ssrc, pkt->seq, o->local_ts,
                                  (const float *const *)planes, o->local_frame);
    /* The rebuilt frames after the packet, so they fill a hole behind it. */
    for (unsigned j = 1; j <= made; j++) {
        planes_of(o, scratch, o->local_frame, j, planes);
        aoip_jitter_fill(jb, o->local_ts - (made + 1 - j) * o->local_frame,
                         (const float *const *)planes, o->local_frame);
    }
    o->next_seq = (uint16_t)(pkt->seq + 1);
    o->next_ts = pkt->timestamp + o->frame;
    return verdict;
}

void opus_rx_stats(const struct opus_rx *o, struct aoip_opus_decoder_stats *out)
{
    aoip_opus_decoder_stats(o->dec, out);
}

struct opus_tx *opus_tx_new(const struct aoip_opus_config *cfg, uint32_t rate,
                            uint32_t period_frames)
{
    if (!aoip_opus_frame_fits(cfg->frame_us, rate))
        return NULL;
    struct opus_tx *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->channels = cfg->mapping.channels;
    o->frame = aoip_opus_frame_samples(cfg);
    o->enc = aoip_opus_encoder_new(cfg);
    if (!o->enc) {
        opus_tx_free(o);
        return NULL;
    }
    if (rate == AOIP_OPUS_RATE)
        return o;
    struct aoip_rateconv_config rc = { .channels = o->channels,
                                       .in_rate = rate,
                                       .out_rate = AOIP_OPUS_RATE,
                                       .max_in_frames = period_frames };
    /* Less than a frame is left staged after each period's packets. */
    o->cap = o->frame + aoip_rateconv_max_out_frames(&rc, period_frames);
    o->rc = aoip_rateconv_new(&rc);
    o->pcm = calloc((size_t)o->channels * o->cap, sizeof(float));
    if (!o->rc || !o->pcm) {
        opus_tx_free(o);
        return NULL;
    }
    o->delay = aoip_rateconv_delay(o->rc);
    return o;
}

void opus_tx_free(struct opus_tx *o)
{
    if (!o)
        return;
    aoip_opus_encoder_free(o->enc);
    aoip_rateconv_free(o->rc);
    free(o->pcm);
    free(o);
}

void opus_tx_push(struct opus_tx *o, const float *const *in, uint32_t frames)
{
    float *out[AOIP_OPUS_MAX_CHANNELS];
    for (unsigned c = 0; c < o->channels; c++)
        out[c] = o->pcm + (size_t)c * o->cap + o->fill;
    int n = aoip_rateconv_process(o->rc, in, frames, out);
    if (n > 0)
        o->fill += (uint32_t)n;
}

bool opus_tx_staged(const struct opus_tx *o, const float **planes)
{
    if (o->fill < o->frame)
        return false;
    for (unsigned c = 0; c < o->channels; c++)
        planes[c] = o->pcm + (size_t)c * o->cap;
    return true;
}

void opus_tx_sent(struct opus_tx *o)
{
    o->fill -= o->frame;
    for (unsigned c = 0; c < o->channels; c++) {
        float *line = o->pcm + (size_t)c * o->cap;
        memmove(line, line + o->frame, o->fill * sizeof(float));
    }
}
