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
 * Everything is allocated by opus_rx_new on the control thread; take
 * neither allocates nor locks.
 */
#ifndef AOIPD_CODEC_H
#define AOIPD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aoip/jitter.h"
#include "aoip/opus.h"
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
    unsigned channels;
    uint32_t frame; /* samples per frame, at 48 kHz (rt with follow) */
    bool fec;       /* the sender puts in-band FEC in its packets */
    bool follow;    /* the frame is the packets' own */
    float *pcm;     /* (CODEC_GAP_FRAMES + 1) blocks of channels x frame, planar */

    /* rt */
    bool started;
    uint32_t ssrc;
    uint16_t next_seq; /* the packet the decoder expects */
    uint32_t next_ts;
    uint64_t late;    /* packets that came after their frame was decided */
    uint64_t skipped; /* frames of long gaps the decoder was taken past */
};

/* A decoder for flows of cfg (mapping and frame), FEC used when fec. With
 * follow, the frame is each packet's own (2.5 to 20 ms): other equipment
 * picks its frame, and may change it. */
struct opus_rx *opus_rx_new(const struct aoip_opus_config *cfg, bool fec, bool follow);
void opus_rx_free(struct opus_rx *o);

/*
 * One packet of the flow, with its payload: the frames missing before it
 * (at most CODEC_GAP_FRAMES) rebuilt or concealed, then its own decoded,
 * all into jb. Returns the jitter buffer's verdict on the packet's own
 * audio (enum aoip_jitter_verdict), or -1 when the packet came too late
 * for the decoder.
 */
AOIP_RT int opus_rx_take(struct opus_rx *o, struct aoip_jitter *jb,
                         const struct aoip_rtp_packet *pkt, const uint8_t *payload, size_t len);

/* The decoder's counts: frames decoded, recovered by FEC, concealed, corrupt. */
void opus_rx_stats(const struct opus_rx *o, struct aoip_opus_decoder_stats *out);

#endif
