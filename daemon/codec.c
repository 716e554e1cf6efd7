/*
 * codec.c: Opus for rx flows on the media thread (codec.h).
 */
#include <stdlib.h>

#include "codec.h"

struct opus_rx *opus_rx_new(const struct aoip_opus_config *cfg, bool fec, bool follow)
{
    struct opus_rx *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->channels = cfg->mapping.channels;
    o->frame = aoip_opus_frame_samples(cfg);
    o->fec = fec;
    o->follow = follow;
    o->dec = aoip_opus_decoder_new(cfg);
    uint32_t most = follow ? AOIP_OPUS_MAX_FRAME_SAMPLES : o->frame;
    o->pcm = calloc((size_t)(CODEC_GAP_FRAMES + 1) * o->channels * most, sizeof(float));
    if (!o->dec || !o->pcm) {
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
    free(o->pcm);
    free(o);
}

/* The planes of block b of the scratch (0: the packet's own frame). */
static AOIP_RT void planes_of(const struct opus_rx *o, unsigned b, float **planes)
{
    float *base = o->pcm + (size_t)b * o->channels * o->frame;
    for (unsigned c = 0; c < o->channels; c++)
        planes[c] = base + (size_t)c * o->frame;
}

int opus_rx_take(struct opus_rx *o, struct aoip_jitter *jb, const struct aoip_rtp_packet *pkt,
                 const uint8_t *payload, size_t len)
{
    float *planes[AOIP_OPUS_MAX_CHANNELS];
    if (o->follow) {
        /* A packet of another length: the decoder makes frames of it from
         * here on (a gap across the change restarts the stream, below). */
        int n = aoip_opus_packet_samples(payload, len);
        if (n > 0 && (uint32_t)n != o->frame &&
            aoip_opus_decoder_set_frame(o->dec, (uint32_t)n) == 0)
            o->frame = (uint32_t)n;
    }
    int16_t ahead = (int16_t)(uint16_t)(pkt->seq - o->next_seq);
    /* Where this packet's frame lies if the stream goes on as it did. */
    bool on_time = (uint32_t)(pkt->timestamp - o->next_ts) == (uint32_t)ahead * o->frame;

    if (!o->started || pkt->ssrc != o->ssrc || ahead > CODEC_RESTART_FRAMES ||
        ahead < -CODEC_RESTART_FRAMES || !on_time) {
        if (o->started)
            aoip_opus_decoder_reset(o->dec);
        o->started = true;
        o->ssrc = pkt->ssrc;
        o->next_seq = pkt->seq;
        o->next_ts = pkt->timestamp;
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
        planes_of(o, j, planes);
        if (j == made && o->fec)
            aoip_opus_decode_fec(o->dec, planes, payload, len);
        else
            aoip_opus_conceal(o->dec, planes);
    }
    planes_of(o, 0, planes);
    aoip_opus_decode(o->dec, planes, payload, len);
    int verdict = aoip_jitter_put(jb, pkt->ssrc, pkt->seq, pkt->timestamp,
                                  (const float *const *)planes, o->frame);
    /* The rebuilt frames after the packet, so they fill a hole behind it. */
    for (unsigned j = 1; j <= made; j++) {
        planes_of(o, j, planes);
        aoip_jitter_fill(jb, pkt->timestamp - (made + 1 - j) * o->frame,
                         (const float *const *)planes, o->frame);
    }
    o->next_seq = (uint16_t)(pkt->seq + 1);
    o->next_ts = pkt->timestamp + o->frame;
    return verdict;
}

void opus_rx_stats(const struct opus_rx *o, struct aoip_opus_decoder_stats *out)
{
    aoip_opus_decoder_stats(o->dec, out);
}
