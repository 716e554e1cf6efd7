/*
 * jitter.h: the receive jitter buffer of one flow.
 *
 * Audio is stored by RTP timestamp, decoded, in a ring of float frames (one
 * ring per channel). The media thread pulls one period at a time; the read
 * position advances by what was pulled, so the buffer level (newest received
 * audio minus read position) is what clock recovery steers on. A packet is
 * placed where its timestamp says, whatever order it arrived in. Audio a
 * codec made for a lost packet (FEC, concealment) can be filled in at its
 * timestamp too: it plays, but it is no packet and it never moves the level.
 *
 * Classification of each packet put (counted in struct aoip_jitter_stats):
 *  - duplicate: its sequence number was already seen (a recent window);
 *  - late: its first frame had already been played; frames of it still
 *    ahead of the read position are kept;
 *  - reordered: it arrived after a packet with a higher sequence number;
 *  - lost is derived: sequence numbers expected minus distinct ones seen.
 * A packet far from the read position (beyond the ring ahead, or more than
 * the ring behind), more than 1024 sequence numbers from the highest seen
 * (too far to tell a duplicate), or with a new SSRC, starts a probation: if
 * the next packet continues it (same SSRC, next sequence number, contiguous
 * timestamp) the buffer resyncs to the new stream; otherwise it was a stray
 * and is dropped (a copy of it counts as a duplicate). A candidate of the
 * stream's own SSRC from before the read position (a sender gone back in
 * time) is confirmed only by a chain that lasts a target latency of pulls:
 * a burst of stale packets a link held back is dropped, never played. A
 * run of late packets (at least two, nothing in time between them but
 * packets that came between the same two pulls as a late one: a sender's
 * burst) that covers the whole target latency, and has lasted that long in
 * pulls, also resyncs, onto the packet that completed the run (the network
 * delay grew beyond the buffer). A level that stays far above the target
 * (by more than the target, and at least four packets) for settle_frames of
 * pulls makes playout skip ahead to the target: the buffer held audio it
 * should have played already (a sender that stalled and caught up in a
 * burst). Every one of these counts as a resync. A resync keeps the
 * counters: lost stays cumulative across streams.
 *
 * All storage is allocated by aoip_jitter_new; put, fill and pull never
 * allocate.
 */
#ifndef AOIP_JITTER_H
#define AOIP_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most channels of one flow: an Opus multistream flow's (RFC 7845). */
#define AOIP_JITTER_MAX_CHANNELS 255

struct aoip_jitter_config {
    unsigned channels;          /* 1..AOIP_JITTER_MAX_CHANNELS */
    uint32_t latency_frames;    /* target: a frame plays this long after its packet came */
    uint32_t capacity_frames;   /* ring size, at least latency + max packet; 0 picks a
                                   power of two holding 4x the latency plus a packet */
    uint32_t max_packet_frames; /* the largest packet accepted */
    uint32_t settle_frames;     /* how long the level must stay far above the target before
                                   playout skips ahead to it; 0: 24000 (0.5 s at 48 kHz) */
};

/* What aoip_jitter_put made of a packet. */
enum aoip_jitter_verdict {
    AOIP_JITTER_STORED = 0,    /* in order, or reordered, in time */
    AOIP_JITTER_DUPLICATE = 1, /* dropped */
    AOIP_JITTER_LATE = 2,      /* arrived after its playout time started */
    AOIP_JITTER_PROBATION = 3, /* far away or new SSRC: held as a resync candidate, dropped */
    AOIP_JITTER_RESYNC = 4,    /* confirmed a candidate, or ended a late run: the buffer
                                  restarted on it, stored */
};

struct aoip_jitter_stats {
    uint64_t received; /* every packet put, whatever became of it (not -EINVAL refusals) */
    uint64_t lost;     /* expected minus distinct sequence numbers seen */
    uint64_t late;
    uint64_t duplicates;
    uint64_t reordered;
    uint64_t resyncs;
    uint64_t strays; /* probation candidates that were not confirmed */
    /*
     * Frames pulled with nothing in them, which concealment had to cover: what
     * should have been audio and was not. Never counted: pulls before the
     * first packet, and the pre-roll, i.e. frames before the timestamp of the
     * packet that started the stream or restarted it at a resync (the read
     * position is then placed one latency before that packet, so the first
     * pulls play silence that precedes the stream, not a gap in it). Such
     * frames are flagged missing by aoip_jitter_pull all the same.
     */
    uint64_t missing_frames;
    int64_t level_frames;    /* newest received frame end minus read position (filled
                                audio does not count); negative when playout ran past
                                everything received */
    uint32_t latency_frames; /* the target */
    uint32_t next_timestamp; /* RTP timestamp of the next frame pulled (0 before the first
                                packet): what clock recovery and latency measurement
                                hold against the sender's clock */
    uint32_t highest_seq;    /* extended highest sequence number received in the current
                                stream, as an RTCP receiver report carries it (RFC 3550
                                6.4.1): low 16 bits the highest seq, high 16 bits the
                                count of wraps; 0 before the first packet */
};

struct aoip_jitter;

/* Returns NULL on a bad config or when memory runs out. */
AOIP_API struct aoip_jitter *aoip_jitter_new(const struct aoip_jitter_config *cfg);
AOIP_API void aoip_jitter_free(struct aoip_jitter *jb);

/*
 * Store one packet's audio: audio[c][0..frames) for every channel of the
 * config. Returns an enum aoip_jitter_verdict, or -EINVAL if frames is 0 or
 * over max_packet_frames.
 */
AOIP_API AOIP_RT int aoip_jitter_put(struct aoip_jitter *jb, uint32_t ssrc, uint16_t seq,
                                     uint32_t timestamp, const float *const *audio,
                                     uint32_t frames);

/*
 * Store audio that was not received but made for frames with none: what
 * a codec rebuilt or concealed for a lost packet. audio[c][0..frames) goes
 * where timestamp says in the stream being played, like a packet's, but
 * it is not a packet: no sequence number is seen, nothing is counted as
 * received, and it never starts, confirms or probes a stream. Frames
 * already played, beyond the ring, or already holding received audio
 * are left alone (received audio wins); frames an earlier fill made are
 * replaced. A packet put later over filled frames replaces them and is
 * judged as if they were not there. Frames may be filled beyond the newest
 * received one: they play if no packet comes for them first, but the level
 * stays where received audio puts it, and a resync drops them. Returns the
 * number of frames stored; 0 before the first packet or when none fit;
 * -EINVAL if frames is 0 or over max_packet_frames.
 */
AOIP_API AOIP_RT int aoip_jitter_fill(struct aoip_jitter *jb, uint32_t timestamp,
                                      const float *const *audio, uint32_t frames);

/*
 * Play out the next frames: out[c][0..frames). Frames with no audio are
 * written as 0.0 and flagged with 1 in missing[0..frames) (which may be
 * NULL); present frames get 0. Returns the number of missing frames. Before
 * the first packet everything is missing but nothing is counted.
 */
AOIP_API AOIP_RT uint32_t aoip_jitter_pull(struct aoip_jitter *jb, float *const *out,
                                           uint8_t *missing, uint32_t frames);

/*
 * Before the first packet: the stream with this SSRC is on the same
 * timeline as one already playing, whose next frame pulled is
 * next_timestamp. Its first packet is then placed on that timeline instead
 * of a target latency after its arrival, so the two play sample-aligned
 * (a flow that replaces another, from the same sender, switches without a
 * step). Pulls before that packet move the position on. A first packet
 * behind the position, or beyond the ring, starts as usual. Does nothing
 * once a packet has been stored.
 */
AOIP_API AOIP_RT void aoip_jitter_expect(struct aoip_jitter *jb, uint32_t ssrc,
                                         uint32_t next_timestamp);

/*
 * Change the target; takes effect at the next resync (clock recovery slews
 * toward it). Clamped so that the target and the largest packet fit the ring.
 */
AOIP_API AOIP_RT void aoip_jitter_set_latency(struct aoip_jitter *jb, uint32_t latency_frames);

AOIP_API AOIP_RT void aoip_jitter_get_stats(const struct aoip_jitter *jb,
                                            struct aoip_jitter_stats *out);

#ifdef __cplusplus
}
#endif

#endif
