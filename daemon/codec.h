/*
 * codec.h: Opus on the media thread. A tx flow's frames are encoded as
 * engine.c stages them; an rx flow's packets are decoded in sequence order
 * as they arrive, and what the decoder makes for a packet that never came
 * (from the next packet's in-band FEC, or by its concealment) goes into
 * the jitter buffer at the missing packet's timestamp.
 *
 * Why on arrival. Opus' decoder is a state machine that must see frames
 * in order, so a frame that is missing is decided when the packet after
 * it arrives: its FEC rebuilds the missing frame, earlier missing frames
 * are concealed, then the packet itself is decoded. The jitter buffer
 * holds the hole meanwhile, so the frame rebuilt from FEC plays if the
 * next packet came before the hole's turn: the buffer waits for FEC
 * exactly as long as the latency allows (proto/rtp.md, "Opus flows").
 * A packet that comes after its frame was decided (reordered past the
 * next one) is counted late and dropped: its frame has been rebuilt.
 *
 * Opus runs at 48 kHz only (RFC 7587: so does the RTP timestamp). A node
 * at another rate converts: a tx flow's audio to 48 kHz before its
 * encoder, an rx flow's decoded frames to the node's rate before its jitter
 * buffer (aoip/rateconv.h). Inside the node everything stays at its rate:
 * an rx flow's packets are put, timed and steered on a timeline of the
 * node's frames, mapped from their 48 kHz timestamps packet by packet. A
 * frame must be a whole number of the node's frames for that
 * (aoip_opus_frame_fits).
 *
 * Everything is allocated by opus_rx_new and opus_tx_new on the control
 * thread; take, push and the rest neither allocate nor lock.
 */
#ifndef AOIPD_CODEC_H
#define AOIPD_CODEC_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aoip/jitter.h"
#include "aoip/opus.h"
#include "aoip/rateconv.h"
#include "aoip/rtp.h"

/* Frames of a gap the decoder rebuilds or conceals: the last ones before
 * the packet that ends it. Older frames of a longer gap have been played
 * out already at any latency aoip runs (four 20 ms frames are 80 ms), and
 * the decoder is taken straight on to the new packet. */
#define CODEC_GAP_FRAMES 4
/* A jump of more frames than this, or a new SSRC, is a new stream: the
 * decoder starts afresh. */
#define CODEC_RESTART_FRAMES 64

struct opus_rx {
    struct aoip_opus_decoder *dec;
    struct aoip_rateconv *rc; /* 48 kHz to the node's rate; NULL at 48 kHz */
    unsigned channels;
    uint32_t rate;  /* the node's */
    uint32_t frame; /* samples per frame, at 48 kHz (rt with follow) */
    bool fec;       /* the sender puts in-band FEC in its packets */
    bool follow;    /* the frame is the packets' own */
    float *pcm;     /* (CODEC_GAP_FRAMES + 1) blocks of channels x frame, planar */
    float *conv;    /* with rc: as many blocks of the node's frames, in time order */

    /* rt */
    bool started;
    uint32_t ssrc;
    uint16_t next_seq; /* the packet the decoder expects */
    uint32_t next_ts;
    uint64_t late;    /* packets that came after their frame was decided */
    uint64_t skipped; /* frames of long gaps the decoder was taken past */
    /* The last packet taken: its timestamp on the wire (48 kHz) and on the
     * node's timeline, and its frame in the node's frames. */
    uint32_t wire_ts, local_ts, local_frame;
    /* With rc: the first packet goes on the timeline of the flow this one
     * replaces (opus_rx_follow), not on one of its own. */
    bool follows;
};

/* A decoder for flows of cfg (mapping and frame) to a node at rate, FEC
 * used when fec. With follow, the frame is each packet's own (2.5 to
 * 20 ms, as far as aoip_opus_frame_fits): other equipment picks its frame, and
 * may change it. NULL when out of memory, or for a frame that does not fit
 * the rate. */
struct opus_rx *opus_rx_new(const struct aoip_opus_config *cfg, uint32_t rate, bool fec,
                            bool follow);
void opus_rx_free(struct opus_rx *o);

/*
 * One packet of the flow, with its payload: the frames missing before it
 * (at most CODEC_GAP_FRAMES) rebuilt or concealed, then its own decoded,
 * all into jb at the node's rate. Returns the jitter buffer's verdict on
 * the packet's own audio (enum aoip_jitter_verdict), or -1 when the packet
 * came too late for the decoder. After it, local_ts and local_frame say
 * where the packet's frame went.
 */
AOIP_RT int opus_rx_take(struct opus_rx *o, struct aoip_jitter *jb,
                         const struct aoip_rtp_packet *pkt, const uint8_t *payload, size_t len);

/*
 * A flow that replaces another of the same sender (a re-pack) joins its
 * timeline: at 48 kHz they share the wire's, at another rate the mapping
 * of the one replaced is taken over, so that the two put the same audio
 * at the same place of the node's timeline.
 */
AOIP_RT void opus_rx_follow(struct opus_rx *o, const struct opus_rx *from);
/* The same after a PCM flow, whose timestamps are the sender's timeline
 * itself: next_ts is where that flow goes on, and the sender's Opus
 * timestamps are that timeline scaled to 48 kHz (engine.c, send_flow). */
AOIP_RT void opus_rx_follow_pcm(struct opus_rx *o, uint32_t next_ts);

/* A wire timestamp near the last packet's, on the node's timeline (for an
 * RTCP sender report of the flow). */
static inline uint32_t opus_rx_local_of(uint32_t wire_ts, uint32_t local_ts, uint32_t ts,
                                        uint32_t rate)
{
    return local_ts +
           (uint32_t)(int32_t)llround((double)(int32_t)(ts - wire_ts) * rate / AOIP_OPUS_RATE);
}

/* The frames of audio that the rate conversion delays, at the node's rate. */
double opus_rx_delay(const struct opus_rx *o);

/*
 * A tx flow's encoder, and with a node at another rate than 48 kHz, the
 * conversion before it and the 48 kHz frames staged towards the next
 * packet.
 */
struct opus_tx {
    struct aoip_opus_encoder *enc;
    struct aoip_rateconv *rc; /* the node's rate to 48 kHz; NULL at 48 kHz */
    unsigned channels;
    uint32_t frame; /* samples per frame, at 48 kHz */
    uint32_t cap;   /* 48 kHz frames the staging holds */
    float *pcm;     /* with rc: channels x cap, planar */
    double delay;   /* the conversion's, in 48 kHz frames */
    uint32_t fill;  /* rt: frames staged */
};

/* An encoder for cfg at a node of rate and period (frames), or NULL (no
 * memory, a config libopus refuses, a frame that does not fit the rate). */
struct opus_tx *opus_tx_new(const struct aoip_opus_config *cfg, uint32_t rate,
                            uint32_t period_frames);
void opus_tx_free(struct opus_tx *o);

/*
 * With rc: one period of the node's audio, in[c][0..frames), converted and
 * staged. Then each whole frame staged is for a packet: opus_tx_staged
 * gives it (planes), and opus_tx_sent drops it.
 */
AOIP_RT void opus_tx_push(struct opus_tx *o, const float *const *in, uint32_t frames);
AOIP_RT bool opus_tx_staged(const struct opus_tx *o, const float **planes);
AOIP_RT void opus_tx_sent(struct opus_tx *o);

/* The decoder's counts: frames decoded, recovered by FEC, concealed, corrupt. */
void opus_rx_stats(const struct opus_rx *o, struct aoip_opus_decoder_stats *out);

#endif
