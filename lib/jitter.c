/*
 * jitter.c: the receive jitter buffer of one flow (see jitter.h for the
 * contract).
 *
 * Audio lives in a ring of float frames per channel, indexed by extended RTP
 * timestamp modulo the capacity, with one presence byte per frame: empty,
 * received (a packet's) or filled (aoip_jitter_fill's, which a packet may
 * still replace). The slot of timestamp t belongs to the one position in
 * [read, read + capacity), so a packet is written where its timestamp says
 * and the pull that consumes a slot also frees it. Two invariants keep the
 * hot paths to plain memcpy/memset:
 *  - a slot's audio is 0.0 whenever its presence byte is empty (the ring
 *    starts zeroed, a pull zeroes what it consumed, a resync zeroes what was
 *    stored), so a pull copies whole spans without looking at presence per
 *    sample;
 *  - everything stored lies in [read, top): writes never land behind the read
 *    position, so a resync only has to clear that span, not the whole ring.
 * The level is end - read, with end just past the newest received frame:
 * filled frames may lie beyond it (top keeps them in reach of a resync) but
 * never move it, since clock recovery must steer on what the network brought.
 *
 * Sequence numbers and timestamps are extended to 64 bits (rtp.h) against
 * the highest sequence number and the read position, so wrap-around is just
 * arithmetic. Sequence numbers of the last AOIP_JITTER_SEQ_WINDOW packets are
 * kept in a bitmap for duplicate detection; RFC 3550 appendix A.1 is the model
 * for the loss count and for probation before following a new stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/jitter.h"
#include "aoip/rtp.h"

/*
 * Sequence numbers remembered for duplicate detection. 1024 packets are at
 * least 1024 frames, more than any reorder a network produces inside a
 * latency worth having, and the bitmap is 128 bytes. A packet further than
 * this from the highest sequence number seen cannot be judged a duplicate or
 * not, so it is treated as far (probation), as RFC 3550 A.1 treats a dropout.
 */
#define AOIP_JITTER_SEQ_WINDOW 1024

/*
 * A run of late packets forces a resync only once it holds at least this many
 * packets (and covers the target latency). One late packet is jitter, not a
 * change of path delay: with a latency no longer than one packet, a single
 * straggler would otherwise already throw away the whole buffer. Two in a row,
 * with nothing in time between them, say the delay really grew.
 */
#define AOIP_JITTER_LATE_STREAK_PACKETS 2

/* Half a second at 48 kHz: longer than any burst of network jitter. */
#define AOIP_JITTER_SETTLE_FRAMES 24000

/*
 * Capacity picked when the config leaves it at 0: a power of two holding 4x
 * the latency plus one packet (room ahead for early packets and for clock
 * recovery to slew), never below 1024 frames (21 ms at 48 kHz: reorder room
 * even at a tiny latency, 4 KiB a channel).
 */
#define AOIP_JITTER_MIN_CAPACITY 1024

/*
 * Largest ring: 2^22 frames is 87 s at 48 kHz, beyond any latency a WAN
 * needs, and far below the 2^31 within which timestamps extend unambiguously
 * against the read position.
 */
#define AOIP_JITTER_MAX_CAPACITY (UINT32_C(1) << 22)

/* What a presence byte says of its slot. */
enum {
    AOIP_JITTER_SLOT_EMPTY = 0,
    AOIP_JITTER_SLOT_RECEIVED = 1,
    AOIP_JITTER_SLOT_FILLED = 2, /* made by a codec, not received: a packet wins */
};

struct aoip_jitter {
    unsigned channels;
    uint32_t capacity;
    uint32_t max_packet;
    uint32_t latency; /* the target; positions the read at the next (re)sync */

    float *ring[AOIP_JITTER_MAX_CHANNELS]; /* ring[c][0..capacity) */
    uint8_t *present;                      /* AOIP_JITTER_SLOT_* of each slot */
    float *storage;                        /* what ring[] points into */

    bool started; /* a first packet has been stored */

    /* aoip_jitter_expect: where the first packet of which SSRC is to play,
     * the position moving on with every pull until that packet comes. */
    bool expecting;
    uint32_t expect_ssrc;
    uint32_t expect_read;
    uint32_t ssrc;
    int64_t read; /* extended timestamp of the next frame pulled */
    int64_t end;  /* extended timestamp just past the newest frame received */
    int64_t top;  /* just past the newest frame stored, received or filled: >= end */
    /*
     * Extended timestamp of the packet the stream (re)started on. Frames
     * before it are the pre-roll: silence before the stream's first frame,
     * not audio that failed to come, so missing_frames leaves them out.
     */
    int64_t count_from;

    /* Sequence accounting of the current stream. */
    int64_t base_seq;     /* lowest extended sequence number seen */
    int64_t max_seq;      /* highest extended sequence number seen */
    uint64_t distinct;    /* distinct sequence numbers seen */
    uint64_t lost_before; /* lost in streams before the last re-base */
    /* Bit s mod window, for every s in (max_seq - window, max_seq]. */
    uint64_t seen[AOIP_JITTER_SEQ_WINDOW / 64];

    /* The probation candidate: a far packet waiting for its continuation. */
    bool candidate;
    uint32_t cand_ssrc;
    uint16_t cand_seq;
    uint32_t cand_ts_next; /* its timestamp plus its frames, modulo 2^32 */

    /* Consecutive late packets, with nothing in time between them, and how
     * much had been pulled when the run began, and when the last came. A
     * packet in time that came between the same two pulls as a late one
     * does not end the run: a sender that sends a period of packets at once
     * (a JACK node, say) has the first of every burst late and the rest in
     * time when the buffer has run dry, and that is a late run all the same. */
    uint32_t late_packets;
    uint64_t late_frames;
    uint64_t late_since;
    uint64_t late_last;

    /* A candidate from the past (its own SSRC, behind the read position) is a
     * chain that must have lasted a target latency of pulls before it counts:
     * what was pulled when the chain began. */
    bool cand_past;
    uint64_t cand_since;
    uint64_t pulled; /* frames pulled since the first packet */

    /* The lowest level seen in the current window of pulls (see settle()). */
    int64_t window_min;
    uint64_t window_pulled;
    uint32_t window_frames;
    uint32_t packet_frames; /* of the last packet stored: the stream's packet time */

    uint64_t received;
    uint64_t late;
    uint64_t duplicates;
    uint64_t reordered;
    uint64_t resyncs;
    uint64_t strays;
    uint64_t missing_frames;
};

/* Ring slot of an extended timestamp; positions may be negative. */
static AOIP_RT uint32_t slot_of(const struct aoip_jitter *jb, int64_t pos)
{
    int64_t cap = jb->capacity;
    int64_t r = pos % cap;

    return (uint32_t)(r < 0 ? r + cap : r);
}

static AOIP_RT bool seq_seen(const struct aoip_jitter *jb, int64_t seq)
{
    uint64_t bit = (uint64_t)seq & (AOIP_JITTER_SEQ_WINDOW - 1);

    return (jb->seen[bit / 64] >> (bit % 64)) & 1u;
}

static AOIP_RT void seq_set(struct aoip_jitter *jb, int64_t seq, bool on)
{
    uint64_t bit = (uint64_t)seq & (AOIP_JITTER_SEQ_WINDOW - 1);
    uint64_t mask = UINT64_C(1) << (bit % 64);

    jb->seen[bit / 64] = on ? jb->seen[bit / 64] | mask : jb->seen[bit / 64] & ~mask;
}

/* Start sequence accounting afresh at seq, keeping what was lost so far. */
static AOIP_RT void seq_rebase(struct aoip_jitter *jb, int64_t seq)
{
    int64_t expected = jb->max_seq - jb->base_seq + 1;

    if (jb->started && expected > (int64_t)jb->distinct)
        jb->lost_before += (uint64_t)expected - jb->distinct;
    memset(jb->seen, 0, sizeof(jb->seen));
    jb->base_seq = seq;
    jb->max_seq = seq;
    jb->distinct = 1;
    seq_set(jb, seq, true);
}

/* Record a sequence number accepted in the current stream (not a duplicate). */
static AOIP_RT void seq_accept(struct aoip_jitter *jb, int64_t seq)
{
    if (seq > jb->max_seq) {
        /* The window slides: slots of the numbers skipped become theirs. */
        if (seq - jb->max_seq >= AOIP_JITTER_SEQ_WINDOW) {
            memset(jb->seen, 0, sizeof(jb->seen));
        } else {
            for (int64_t s = jb->max_seq + 1; s < seq; s++)
                seq_set(jb, s, false);
        }
        jb->max_seq = seq;
    }
    if (seq < jb->base_seq)
        jb->base_seq = seq; /* arrived after the first packet, sent before it */
    seq_set(jb, seq, true);
    jb->distinct++;
}

/* Zero frames [from, from + n) of the ring, audio and presence; n <= capacity. */
static AOIP_RT void ring_clear(struct aoip_jitter *jb, int64_t from, uint32_t n)
{
    uint32_t pos = slot_of(jb, from);
    uint32_t first = n < jb->capacity - pos ? n : jb->capacity - pos;

    for (unsigned c = 0; c < jb->channels; c++) {
        memset(jb->ring[c] + pos, 0, first * sizeof(float));
        memset(jb->ring[c], 0, (n - first) * sizeof(float));
    }
    memset(jb->present + pos, 0, first);
    memset(jb->present, 0, n - first);
}

/*
 * Store frames [skip, frames) of a packet at extended timestamp ts + skip.
 * The caller guarantees ts + skip >= read and ts + frames <= read + capacity.
 */
static AOIP_RT void ring_write(struct aoip_jitter *jb, int64_t ts, const float *const *audio,
                               uint32_t skip, uint32_t frames)
{
    jb->packet_frames = frames;
    uint32_t n = frames - skip;
    uint32_t pos = slot_of(jb, ts + skip);
    uint32_t first = n < jb->capacity - pos ? n : jb->capacity - pos;

    for (unsigned c = 0; c < jb->channels; c++) {
        memcpy(jb->ring[c] + pos, audio[c] + skip, first * sizeof(float));
        memcpy(jb->ring[c], audio[c] + skip + first, (n - first) * sizeof(float));
    }
    memset(jb->present + pos, AOIP_JITTER_SLOT_RECEIVED, first);
    memset(jb->present, AOIP_JITTER_SLOT_RECEIVED, n - first);
    if (ts + frames > jb->end)
        jb->end = ts + frames;
    if (ts + frames > jb->top)
        jb->top = ts + frames;
}

/*
 * Restart playout on a packet at extended timestamp ts: drop what is stored,
 * place the read position so that this packet plays one target latency from
 * now. Sequence accounting is the caller's business.
 */
static AOIP_RT void restart(struct aoip_jitter *jb, int64_t ts)
{
    if (jb->top > jb->read)
        ring_clear(jb, jb->read, (uint32_t)(jb->top - jb->read));
    jb->read = ts - (int64_t)jb->latency;
    jb->end = jb->read;
    jb->top = jb->read;
    jb->count_from = ts;
    jb->candidate = false;
    jb->late_packets = 0;
    jb->late_frames = 0;
    jb->window_min = INT64_MAX;
    jb->window_pulled = 0;
}

/* Follow a new stream (first packet, or a confirmed candidate) from this packet. */
static AOIP_RT void follow(struct aoip_jitter *jb, uint32_t ssrc, uint16_t seq, uint32_t ts,
                           const float *const *audio, uint32_t frames)
{
    /* The first value of a stream is taken as it is (rtp.h). */
    restart(jb, (int64_t)ts);
    if (jb->expecting && ssrc == jb->expect_ssrc) {
        /* Play on the timeline we were given, if the packet lands ahead of it
         * and within the ring; otherwise it starts a timeline of its own. */
        int64_t at = (int64_t)ts + (int32_t)(jb->expect_read - ts);
        if (at <= (int64_t)ts && (int64_t)ts + frames <= at + (int64_t)jb->capacity) {
            jb->read = at;
            jb->end = at;
            jb->top = at;
        }
    }
    jb->expecting = false;
    seq_rebase(jb, (int64_t)seq);
    jb->ssrc = ssrc;
    jb->started = true;
    ring_write(jb, (int64_t)ts, audio, 0, frames);
}

/* Drop the pending candidate, if any: it was a stray. */
static AOIP_RT void abandon_candidate(struct aoip_jitter *jb)
{
    if (jb->candidate)
        jb->strays++;
    jb->candidate = false;
}

/*
 * A far packet: it replaces any candidate and waits for its continuation. A
 * copy of the candidate itself is a duplicate and leaves it standing (a copy
 * that fits the current stream never gets here: it is stored).
 */
static AOIP_RT int probation(struct aoip_jitter *jb, uint32_t ssrc, uint16_t seq, uint32_t ts,
                             uint32_t frames)
{
    if (jb->candidate && ssrc == jb->cand_ssrc && seq == jb->cand_seq &&
        ts + frames == jb->cand_ts_next) {
        jb->duplicates++;
        return AOIP_JITTER_DUPLICATE;
    }
    /* The stream's own packets from before the read position: stale packets a
     * link let go in a burst, or a sender that really went back in time.
     * Only the second plays on in real time, so its chain must last. */
    bool past = ssrc == jb->ssrc && aoip_rtp_ts_extend(jb->read, ts) < jb->read;
    bool continues = jb->candidate && ssrc == jb->cand_ssrc &&
                     seq == (uint16_t)(jb->cand_seq + 1) && ts == jb->cand_ts_next;
    if (!(continues && jb->cand_past && past)) {
        abandon_candidate(jb);
        jb->cand_since = jb->pulled;
    }
    jb->candidate = true;
    jb->cand_past = past;
    jb->cand_ssrc = ssrc;
    jb->cand_seq = seq;
    jb->cand_ts_next = ts + frames;
    return AOIP_JITTER_PROBATION;
}

static uint32_t pick_capacity(const struct aoip_jitter_config *cfg)
{
    uint64_t need = 4 * (uint64_t)cfg->latency_frames + cfg->max_packet_frames;
    uint64_t cap = AOIP_JITTER_MIN_CAPACITY;

    if (cfg->capacity_frames)
        return cfg->capacity_frames;
    while (cap < need && cap <= AOIP_JITTER_MAX_CAPACITY)
        cap *= 2;
    return cap > AOIP_JITTER_MAX_CAPACITY ? 0 : (uint32_t)cap;
}

struct aoip_jitter *aoip_jitter_new(const struct aoip_jitter_config *cfg)
{
    struct aoip_jitter *jb = NULL;
    uint32_t cap;

    if (!cfg || cfg->channels < 1 || cfg->channels > AOIP_JITTER_MAX_CHANNELS ||
        cfg->max_packet_frames < 1)
        return NULL;
    cap = pick_capacity(cfg);
    if (cap == 0 || cap > AOIP_JITTER_MAX_CAPACITY ||
        (uint64_t)cfg->latency_frames + cfg->max_packet_frames > cap)
        return NULL;

    jb = calloc(1, sizeof(*jb));
    if (!jb)
        goto fail;
    jb->channels = cfg->channels;
    jb->capacity = cap;
    jb->max_packet = cfg->max_packet_frames;
    jb->latency = cfg->latency_frames;
    jb->window_frames = cfg->settle_frames ? cfg->settle_frames : AOIP_JITTER_SETTLE_FRAMES;
    jb->window_min = INT64_MAX;
    /* Zeroed: the ring starts as silence, which the pull relies on. */
    jb->storage = calloc((size_t)cfg->channels * cap, sizeof(float));
    jb->present = calloc(cap, 1);
    if (!jb->storage || !jb->present)
        goto fail;
    for (unsigned c = 0; c < jb->channels; c++)
        jb->ring[c] = jb->storage + (size_t)c * cap;
    return jb;

fail:
    aoip_jitter_free(jb);
    return NULL;
}

void aoip_jitter_free(struct aoip_jitter *jb)
{
    if (!jb)
        return;
    free(jb->storage);
    free(jb->present);
    free(jb);
}

AOIP_RT int aoip_jitter_put(struct aoip_jitter *jb, uint32_t ssrc, uint16_t seq, uint32_t timestamp,
                            const float *const *audio, uint32_t frames)
{
    int64_t s, ts, d;
    uint32_t skip;

    if (frames == 0 || frames > jb->max_packet)
        return -EINVAL;
    jb->received++;

    if (!jb->started) {
        follow(jb, ssrc, seq, timestamp, audio, frames);
        return AOIP_JITTER_STORED;
    }

    /* A candidate's continuation confirms it, whatever it is to the old stream
     * (a chain from the past only once it has lasted a target latency). */
    if (jb->candidate && ssrc == jb->cand_ssrc && seq == (uint16_t)(jb->cand_seq + 1) &&
        timestamp == jb->cand_ts_next &&
        (!jb->cand_past || jb->pulled - jb->cand_since >= jb->latency)) {
        follow(jb, ssrc, seq, timestamp, audio, frames);
        jb->resyncs++;
        return AOIP_JITTER_RESYNC;
    }

    if (ssrc != jb->ssrc)
        return probation(jb, ssrc, seq, timestamp, frames);
    s = aoip_rtp_seq_extend(jb->max_seq, seq);
    d = s - jb->max_seq;
    if (d <= -AOIP_JITTER_SEQ_WINDOW || d > AOIP_JITTER_SEQ_WINDOW)
        return probation(jb, ssrc, seq, timestamp, frames);
    if (d <= 0 && seq_seen(jb, s)) {
        jb->duplicates++;
        return AOIP_JITTER_DUPLICATE;
    }
    ts = aoip_rtp_ts_extend(jb->read, timestamp);
    if (ts + frames > jb->read + (int64_t)jb->capacity || ts < jb->read - (int64_t)jb->capacity)
        return probation(jb, ssrc, seq, timestamp, frames);

    /* Accepted into the current stream. */
    abandon_candidate(jb);
    seq_accept(jb, s);
    if (d < 0)
        jb->reordered++;
    if (ts >= jb->read) {
        if (jb->late_packets == 0 || jb->pulled != jb->late_last) {
            jb->late_packets = 0;
            jb->late_frames = 0;
        }
        ring_write(jb, ts, audio, 0, frames);
        return AOIP_JITTER_STORED;
    }

    jb->late++;
    if (jb->late_packets++ == 0)
        jb->late_since = jb->pulled;
    jb->late_last = jb->pulled;
    jb->late_frames += frames;
    /* Late for as long as the target, in real time too (pulls went on meanwhile):
     * a burst of old packets is not a longer path. */
    if (jb->late_packets >= AOIP_JITTER_LATE_STREAK_PACKETS && jb->late_frames >= jb->latency &&
        jb->pulled - jb->late_since >= jb->latency) {
        /* The path delay grew past the buffer: same stream, new playout point. */
        restart(jb, ts);
        ring_write(jb, ts, audio, 0, frames);
        jb->resyncs++;
        return AOIP_JITTER_RESYNC;
    }
    skip = jb->read - ts < frames ? (uint32_t)(jb->read - ts) : frames;
    if (skip < frames)
        ring_write(jb, ts, audio, skip, frames);
    return AOIP_JITTER_LATE;
}

/* How many of present[0..n) are empty (received and filled frames both play). */
static AOIP_RT uint32_t count_absent(const uint8_t *restrict present, uint32_t n)
{
    uint32_t absent = 0;

    for (uint32_t i = 0; i < n; i++)
        absent += present[i] == AOIP_JITTER_SLOT_EMPTY;
    return absent;
}

/*
 * A level that stays far above the target for a whole window means the
 * buffer holds audio it should already have played: a sender that stalled
 * and caught up in a burst after a late-run resync, a first packet that
 * came much later than the rest. Nothing else would bring it back (clock
 * recovery steers by parts per million), so playout skips ahead to the
 * target, once, and counts a resync. The lowest level of the window is the
 * test, so bursts of jitter, which raise the level for a moment, never
 * trigger it.
 */
static AOIP_RT void settle(struct aoip_jitter *jb, uint32_t frames)
{
    int64_t level = jb->end - jb->read;
    int64_t slack = (int64_t)jb->latency > 4 * (int64_t)jb->packet_frames
                        ? (int64_t)jb->latency
                        : 4 * (int64_t)jb->packet_frames;

    if (level < jb->window_min)
        jb->window_min = level;
    jb->window_pulled += frames;
    if (jb->window_pulled < jb->window_frames)
        return;
    int64_t excess = jb->window_min - (int64_t)jb->latency;
    jb->window_min = INT64_MAX;
    jb->window_pulled = 0;
    if (excess <= slack)
        return;
    ring_clear(jb, jb->read, (uint32_t)excess);
    jb->read += excess;
    jb->resyncs++;
}

/* Flag present[0..n) into missing (when not NULL); returns how many are absent. */
static AOIP_RT uint32_t flag_absent(const uint8_t *restrict present, uint8_t *restrict missing,
                                    uint32_t n)
{
    uint32_t absent = count_absent(present, n);

    if (missing) {
        for (uint32_t i = 0; i < n; i++)
            missing[i] = present[i] == AOIP_JITTER_SLOT_EMPTY;
    }
    return absent;
}

AOIP_RT uint32_t aoip_jitter_pull(struct aoip_jitter *jb, float *const *out, uint8_t *missing,
                                  uint32_t frames)
{
    uint32_t done = 0, absent = 0, preroll_absent = 0;
    uint32_t pos, preroll;
    int64_t before_start;

    if (!jb->started) {
        for (unsigned c = 0; c < jb->channels; c++)
            memset(out[c], 0, (size_t)frames * sizeof(float));
        if (missing)
            memset(missing, 1, frames);
        jb->expect_read += frames;
        return frames;
    }

    /* The first 'preroll' frames of this pull lie before the stream's start. */
    before_start = jb->count_from - jb->read;
    preroll = before_start <= 0 ? 0 : before_start < frames ? (uint32_t)before_start : frames;
    pos = slot_of(jb, jb->read);
    while (done < frames) {
        uint32_t span = frames - done < jb->capacity - pos ? frames - done : jb->capacity - pos;
        uint32_t left = preroll > done ? preroll - done : 0;
        uint32_t head = left < span ? left : span; /* pre-roll frames in this span */

        /* Absent slots hold 0.0 (see the top of the file): copy spans whole. */
        for (unsigned c = 0; c < jb->channels; c++) {
            memcpy(out[c] + done, jb->ring[c] + pos, (size_t)span * sizeof(float));
            memset(jb->ring[c] + pos, 0, (size_t)span * sizeof(float));
        }
        preroll_absent += count_absent(jb->present + pos, head);
        absent += flag_absent(jb->present + pos, missing ? missing + done : NULL, span);
        memset(jb->present + pos, 0, span);
        done += span;
        pos = 0; /* a span ends the pull or the ring: any next one starts at slot 0 */
    }
    jb->read += frames;
    jb->pulled += frames;
    /* Flagged all the same, but silence before the first frame is no gap. */
    jb->missing_frames += absent - preroll_absent;
    settle(jb, frames);
    return absent;
}

/*
 * Fill frames [from, to) of a codec's audio, which starts at extended
 * timestamp ts, wherever no packet's audio is; to - from <= capacity - pos
 * of ts + from, i.e. one span that does not wrap the ring.
 */
static AOIP_RT uint32_t fill_span(struct aoip_jitter *jb, int64_t ts, const float *const *audio,
                                  uint32_t from, uint32_t to)
{
    uint32_t pos = slot_of(jb, ts + from), n = to - from, stored = 0;
    uint8_t *present = jb->present + pos;

    for (unsigned c = 0; c < jb->channels; c++) {
        float *ring = jb->ring[c] + pos;
        const float *src = audio[c] + from;

        for (uint32_t i = 0; i < n; i++) {
            if (present[i] != AOIP_JITTER_SLOT_RECEIVED)
                ring[i] = src[i];
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (present[i] != AOIP_JITTER_SLOT_RECEIVED) {
            present[i] = AOIP_JITTER_SLOT_FILLED;
            stored++;
        }
    }
    return stored;
}

AOIP_RT int aoip_jitter_fill(struct aoip_jitter *jb, uint32_t timestamp, const float *const *audio,
                             uint32_t frames)
{
    int64_t ts, lo, hi;
    uint32_t from, to, split, stored;

    if (frames == 0 || frames > jb->max_packet)
        return -EINVAL;
    if (!jb->started)
        return 0;
    /* Extended against the read position, as put does; only the part in
     * [read, read + capacity) has a slot of its own. */
    ts = aoip_rtp_ts_extend(jb->read, timestamp);
    lo = ts > jb->read ? ts : jb->read;
    hi = ts + frames < jb->read + (int64_t)jb->capacity ? ts + frames
                                                        : jb->read + (int64_t)jb->capacity;
    if (lo >= hi)
        return 0;
    from = (uint32_t)(lo - ts);
    to = (uint32_t)(hi - ts);
    /* The ring wraps at most once inside [from, to). */
    split = from + (jb->capacity - slot_of(jb, lo));
    if (split >= to) {
        stored = fill_span(jb, ts, audio, from, to);
    } else {
        stored = fill_span(jb, ts, audio, from, split);
        stored += fill_span(jb, ts, audio, split, to);
    }
    /* end, and with it the level, stays where received audio puts it. */
    if (stored && hi > jb->top)
        jb->top = hi;
    return (int)stored;
}

AOIP_RT void aoip_jitter_expect(struct aoip_jitter *jb, uint32_t ssrc, uint32_t next_timestamp)
{
    if (jb->started)
        return;
    jb->expecting = true;
    jb->expect_ssrc = ssrc;
    jb->expect_read = next_timestamp;
}

AOIP_RT void aoip_jitter_set_latency(struct aoip_jitter *jb, uint32_t latency_frames)
{
    uint32_t most = jb->capacity - jb->max_packet;

    jb->latency = latency_frames < most ? latency_frames : most;
}

AOIP_RT void aoip_jitter_get_stats(const struct aoip_jitter *jb, struct aoip_jitter_stats *out)
{
    int64_t expected = jb->max_seq - jb->base_seq + 1;
    uint64_t lost = jb->lost_before;

    if (jb->started && expected > (int64_t)jb->distinct)
        lost += (uint64_t)expected - jb->distinct;
    out->received = jb->received;
    out->lost = lost;
    out->late = jb->late;
    out->duplicates = jb->duplicates;
    out->reordered = jb->reordered;
    out->resyncs = jb->resyncs;
    out->strays = jb->strays;
    out->missing_frames = jb->missing_frames;
    out->level_frames = jb->end - jb->read; /* both 0 before the first packet */
    out->latency_frames = jb->latency;
    out->next_timestamp = (uint32_t)jb->read;
    /* The extension is the first seq plus 65536 per wrap: its low 32 bits are
     * RFC 3550's cycles << 16 | max_seq. */
    out->highest_seq = jb->started ? (uint32_t)jb->max_seq : 0;
}
