/*
 * bridge.c: audio between two real-time threads on different clocks (see
 * bridge.h for the contract).
 *
 * Two single-producer, single-consumer rings, both lock-free with C11
 * atomics: the frames, one line per channel, and the producer's stamps, one
 * per block (where the block starts in the ring, its length, and when it
 * was pushed). The producer writes a block's frames, publishes the new head
 * (release), then its stamp (release); the consumer takes the stamps
 * (acquire) and so sees every frame a stamp speaks of. Indices are 64-bit
 * frame and stamp counts that never wrap in practice; the capacity is a
 * power of two and the masked index is the slot.
 *
 * Each line has MIRROR frames past its end that repeat its first ones, so
 * that whatever the consumer reads (at most what the resampler needs for
 * the longest pull) is one contiguous run: the resampler reads the ring in
 * place, with no copy, and the producer pays for it with a second memcpy
 * of at most that many frames once per lap.
 *
 * The consumer's timeline. The clock loop wants arrivals and the moment of
 * each update on one clock in the consumer's frames. The consumer's frames
 * are its pull count; on CLOCK_MONOTONIC they fall at anchor + count x the
 * nominal frame duration + offset, and the offset follows how late each
 * pull is against that with a first-order tracker (TIMELINE_TAU_S): a late
 * wake-up moves it by a small share of its lateness, so it does not read as
 * drift, while the consumer's crystal against the monotonic clock (tens of
 * ppm) is followed with a lag of a frame or two. From an anchor the tracker
 * starts as a running mean (gain 1/k at the k-th pull) until its gain is
 * down to the steady one: started at the steady gain, it would take its
 * time constant to move from the anchoring pull's lateness to the mean one,
 * and the clock's fast start, fitting arrivals placed on it, would read that
 * slide as drift (5 ppm, measured, from 0.2 ms of wake-up jitter). The time
 * constant is short because the tracker lags the consumer's crystal by
 * that crystal's error times it, and builds that lag up while the fast
 * start fits: with the consumer 100 ppm off the monotonic clock, 0.5 s
 * left the drift estimate 4 ppm off at 10 s, 0.1 s 0.4 ppm, 0.05 s nothing
 * measurable; and no shorter a one lets the wake-up jitter through any
 * more, since the fit averages it the same. (A least-squares line of pull
 * times, rate and all, fared worse: its error in the consumer's rate goes
 * one for one into the drift.) A pull's lateness is clipped to LATE_MEANS
 * of its mean (LATE_FLOOR_MS at least) before the tracker takes it.
 *
 * A pull the timeline puts off by more than its wake-ups stray (twice the
 * lateness a pull is clipped at below, OFF_MIN_MS at least, TIMELINE_GAP_MS
 * and a pull at most) is a wake-up that late, or a consumer that stalled
 * and skipped what it missed. (With the gap alone, a stop of the machine
 * of 2 to 14 ms, which a card's timer in user space loses, went unseen:
 * the tracker took the step in over a second, the ring kept it as level
 * above the target, and the locked loop read that as drift, -100 ppm
 * estimated as -11.5 or +8.6, the ratio at its clamp for seconds.) The first catches up: its next
 * pulls come back to back, each a pull less late, and the timeline is left as it is. The second
 * stays off: at the second such pull in a row that is no less late than the one before by half a
 * pull, the timeline anchors again and the bridge starts over (as it does at once if the ring
 * overran meanwhile). A producer stamp's ns on this timeline is its arrival (its "RTP timestamp"
 * being where its block starts in the ring), and a pull's own place on it is simply its count.
 *
 * Late stamps. A producer's thread wakes after its block is complete,
 * never before, and now and then a long way after (a millisecond where it
 * is usually tens of microseconds). The clock's fast start fits a line to
 * the arrivals and leaves points out only once it has a few dozen, and a
 * point that far out early on moves the slope by ppm (1.9 ppm from one 1 ms
 * wake in the first 0.7 s of 1024-frame blocks, measured). So each stamp
 * is held until the next has come, and one that lies later than the line
 * through its two neighbours by more than LATE_MEANS times the mean such
 * distance (LATE_FLOOR_MS at least) is placed on that line: the neighbours
 * of a late wake say where it should have been. It is moved, not left out:
 * the clock learns a block's length from the step between the first two
 * arrivals it hears, and one missing there would have it hold the level
 * half a block off. A stamp early against its neighbours is left alone (it
 * is a neighbour that was late). The hold has a second use: the clock
 * counts a negative time since the newest arrival as none, and with a
 * jitter that is all lateness its timeline of arrivals lies about half the
 * jitter after the earliest ones; held a block, the newest it has heard of
 * is in the past even so (unheld, the level read high by up to 16 frames,
 * with a millisecond of jitter, whenever a pull fell just after an early
 * stamp).
 *
 * Steering, per pull: the level before the pull, as the jitter buffer of a
 * flow defines it (the end of the newest block the clock has heard of,
 * minus the read position), goes to aoip_clock_update_at with the pull's
 * place on the timeline; the clock takes the push sawtooth out with the
 * arrivals, as it does for a flow's packets, and returns the ratio for the
 * resampler.
 *
 * Starting (and starting over). The ring first fills. It plays once the
 * level seen (the newest block's first frame minus the read position, plus
 * the time since that block came) reaches the target; the frames it has
 * beyond that are discarded, so that it starts at the target, as a jitter
 * buffer places a new stream. While it fills, the resampler
 * runs on silence: what it held plays out, and the stream that comes next
 * fades in through its filter instead of starting on a step. A pull that
 * finds too little plays what there is, silence for the rest, and starts
 * over (an underrun); a block the producer could not fit is dropped and
 * flagged (an overrun), and the consumer starts over at once, which
 * discards the oldest frames down to the target. Starting over restarts
 * the clock (which keeps the drift) and ignores the stamps of blocks
 * pushed before the last drop: their place in the ring and their time no
 * longer agree with the blocks after it by the block that was lost.
 *
 * Nothing in push, pull or get_stats allocates, locks, logs or blocks. The
 * figures an operator reads are published by the consumer with relaxed
 * atomic stores (doubles as their bit patterns), the overrun count by the
 * producer.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aoip/bridge.h"
#include "aoip/clock.h"
#include "aoip/resample.h"

/*
 * The drift followed. Sound devices are specified to +-50..100 ppm and
 * cheap ones stray further; 1500 keeps a device at the flows' default
 * limit of 1000 ppm off the clamp, and with the clock's 200 ppm of room to
 * steer the level (1700) stays inside the resampler's 2000.
 */
#define BRIDGE_MAX_PPM 1500.0
/* The timeline's tracker: its time constant, and the offset that makes a gap. */
#ifndef TIMELINE_TAU_S
#define TIMELINE_TAU_S 0.05
#endif
#define TIMELINE_GAP_MS 10.0
/* A pull is off the timeline at twice the lateness a stamp is clipped at, a millisecond at least.
 */
#define OFF_MIN_MS 1.0
/* Late stamps: how many mean distances from their neighbours' line, and the least. */
#define LATE_MEANS    4.0
#define LATE_FLOOR_MS 0.1
/* The mean distance is a running mean over this many stamps (from fewer at the start). */
#define LATE_SPAN 64.0
/* Limits that keep every count in 32 bits and every allocation sane. */
#define MAX_PUSH_FRAMES (1u << 20)
#define MAX_CAPACITY    (1u << 24)
#define MIN_RATE        1000u
#define MAX_RATE        768000u
/* Stamps: at least this many slots, and one per this many frames of the ring. */
#define STAMPS_MIN       64u
#define STAMP_PER_FRAMES 16u
/* Floats per line are a multiple of this (a 64-byte cache line). */
#define LINE_ALIGN 16u

struct stamp {
    uint64_t start; /* the block's first frame, counted since the bridge began */
    int64_t ns;     /* when it was pushed */
    uint32_t frames;
};

struct aoip_bridge {
    /* Set by aoip_bridge_new, read by both sides. */
    unsigned channels;
    uint32_t rate;
    uint32_t push_max, pull_max;
    uint32_t target;
    uint32_t cap;    /* frames in the ring, a power of two */
    uint32_t mirror; /* frames repeated past each line's end: the most one pull reads */
    size_t line;     /* floats from one channel's line to the next */
    uint32_t stamp_mask;
    float *ring;
    struct stamp *stamps;
    double frame_ns;
    double gap_ns;

    /* The producer's. */
    _Alignas(64) _Atomic uint64_t head; /* frames written */
    _Atomic uint64_t stamp_head;        /* stamps written */
    _Atomic uint64_t overruns;          /* blocks dropped */
    _Atomic uint64_t drop_at;           /* head when the last block was dropped */

    /* The consumer's. */
    _Alignas(64) _Atomic uint64_t tail; /* frames read */
    _Atomic uint64_t stamp_tail;        /* stamps read */
    uint64_t read;                      /* its own copy of tail */
    struct aoip_clock clock;
    struct aoip_resampler *rs;
    const float **ins;  /* per channel: where the resampler reads this pull */
    float *scratch;     /* an underrun's frames, and silence after them */
    const float *zeros; /* mirror frames of silence */
    bool playing;
    bool have_newest;    /* a stamp has come since the bridge began */
    struct stamp newest; /* the newest stamp taken */
    /* Arrivals for the clock: the stamp held until its next neighbour has come,
     * the one before it that the clock heard of, and the newest it heard of. */
    unsigned held; /* 0, 1 (held) or 2 (held, and a neighbour before it) */
    struct stamp hold_s, before_s;
    double hold_at, before_at;
    bool have_heard;
    struct stamp heard; /* the newest stamp the clock heard of */
    double late_mean;   /* mean distance after the neighbours' line, frames */
    double late_n;      /* stamps in that mean, up to LATE_SPAN */
    uint64_t overruns_seen;
    uint64_t skip_before; /* stamps of blocks before this frame are not arrivals */
    /* The timeline. */
    bool anchored;
    bool was_off;     /* the last pull was a gap away from it */
    double last_late; /* how late it was, ns */
    uint32_t last_frames;
    int64_t anchor_ns;
    uint64_t anchor_pos; /* the pull count at the anchor */
    double offset_ns;
    uint64_t pulled;  /* frames pulled since the bridge began */
    double track;     /* the tracker's steady gain per pull */
    uint64_t tracked; /* pulls since the anchor */
    double wake_mean; /* mean distance of a pull from the timeline, ns */
    double wake_n;    /* pulls in that mean, up to LATE_SPAN */

    /* What get_stats reads: the consumer's figures. */
    _Alignas(64) _Atomic uint64_t st_ratio; /* double bits */
    _Atomic uint64_t st_ppm;                /* double bits */
    _Atomic uint64_t st_level;              /* double bits */
    _Atomic uint64_t st_underruns;
    _Atomic uint64_t st_restarts;
    _Atomic int st_state;
};

static uint32_t pow2_ceil(uint32_t x)
{
    uint32_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

static AOIP_RT uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof(x));
    return x;
}

/* The configuration with its defaults filled in; false when out of range. */
static bool resolve(const struct aoip_bridge_config *in, struct aoip_bridge_config *cfg,
                    uint32_t *mirror)
{
    *cfg = *in;
    if (cfg->channels < 1 || cfg->channels > AOIP_RESAMPLE_MAX_CHANNELS ||
        cfg->sample_rate < MIN_RATE || cfg->sample_rate > MAX_RATE || cfg->push_frames < 1 ||
        cfg->push_frames > MAX_PUSH_FRAMES || cfg->pull_frames < 1 ||
        cfg->pull_frames > AOIP_RESAMPLE_MAX_FRAMES)
        return false;
    /* What the resampler takes for the longest pull at its largest ratio
     * (2000 ppm < 1/256), as it sizes its own history. */
    *mirror = cfg->pull_frames + cfg->pull_frames / 256 + 2;
    if (cfg->target_frames == 0)
        cfg->target_frames = cfg->push_frames + cfg->pull_frames + cfg->sample_rate / 1000;
    if (cfg->target_frames > MAX_CAPACITY / 4)
        return false;
    uint64_t least = (uint64_t)cfg->target_frames + cfg->push_frames + *mirror;
    uint64_t want = cfg->capacity_frames ? cfg->capacity_frames : 4 * (uint64_t)cfg->target_frames;
    if (want < least)
        want = cfg->capacity_frames ? 0 : least;
    if (want == 0 || want > MAX_CAPACITY)
        return false;
    cfg->capacity_frames = pow2_ceil((uint32_t)want);
    return true;
}

struct aoip_bridge *aoip_bridge_new(const struct aoip_bridge_config *in)
{
    struct aoip_bridge_config cfg;
    uint32_t mirror;

    if (in == NULL || !resolve(in, &cfg, &mirror))
        return NULL;
    /* aligned_alloc: the struct has cache-line aligned members. */
    size_t size = (sizeof(struct aoip_bridge) + 63) / 64 * 64;
    struct aoip_bridge *b = aligned_alloc(64, size);
    if (b == NULL)
        return NULL;
    memset(b, 0, size);
    b->channels = cfg.channels;
    b->rate = cfg.sample_rate;
    b->push_max = cfg.push_frames;
    b->pull_max = cfg.pull_frames;
    b->target = cfg.target_frames;
    b->cap = cfg.capacity_frames;
    b->mirror = mirror;
    b->line = ((size_t)b->cap + mirror + LINE_ALIGN - 1) / LINE_ALIGN * LINE_ALIGN;
    b->frame_ns = 1e9 / b->rate;
    b->gap_ns = TIMELINE_GAP_MS * 1e6 + b->pull_max * b->frame_ns;
    b->track = fmin(1.0, b->pull_max / (TIMELINE_TAU_S * b->rate));
    uint32_t slots = pow2_ceil(b->cap / STAMP_PER_FRAMES + STAMPS_MIN);
    b->stamp_mask = slots - 1;

    size_t ring_bytes = sizeof(float) * b->line * b->channels;
    b->ring = aligned_alloc(64, ring_bytes);
    b->stamps = calloc(slots, sizeof(struct stamp));
    b->ins = calloc(b->channels, sizeof(*b->ins));
    b->scratch = calloc((size_t)mirror * b->channels, sizeof(float));
    b->zeros = calloc(mirror, sizeof(float));
    struct aoip_resampler_config rc = { .channels = b->channels, .max_out_frames = b->pull_max };
    b->rs = aoip_resampler_new(&rc);
    if (b->ring == NULL || b->stamps == NULL || b->ins == NULL || b->scratch == NULL ||
        b->zeros == NULL || b->rs == NULL)
        goto fail;
    memset(b->ring, 0, ring_bytes);

    struct aoip_clock_config cc = { .sample_rate = b->rate,
                                    .period_frames = b->pull_max,
                                    .max_ppm = BRIDGE_MAX_PPM };
    aoip_clock_init(&b->clock, &cc);
    atomic_init(&b->head, 0);
    atomic_init(&b->stamp_head, 0);
    atomic_init(&b->overruns, 0);
    atomic_init(&b->drop_at, 0);
    atomic_init(&b->tail, 0);
    atomic_init(&b->stamp_tail, 0);
    atomic_init(&b->st_ratio, dbits(1.0));
    atomic_init(&b->st_ppm, dbits(0.0));
    atomic_init(&b->st_level, dbits(0.0));
    atomic_init(&b->st_underruns, 0);
    atomic_init(&b->st_restarts, 0);
    atomic_init(&b->st_state, AOIP_CLOCK_IDLE);
    return b;

fail:
    aoip_bridge_free(b);
    return NULL;
}

void aoip_bridge_free(struct aoip_bridge *b)
{
    if (b == NULL)
        return;
    aoip_resampler_free(b->rs);
    free((void *)b->zeros);
    free(b->scratch);
    free(b->ins);
    free(b->stamps);
    free(b->ring);
    free(b);
}

/* ---- producer ---------------------------------------------------------- */

/* Copy a block into the ring at head, and the part that lands in the first
 * mirror frames of a line into its repeat past the end. */
static AOIP_RT void put(struct aoip_bridge *b, const float *const *in, uint32_t frames,
                        uint64_t head)
{
    uint32_t at = (uint32_t)(head & (b->cap - 1));
    uint32_t first = frames < b->cap - at ? frames : b->cap - at;
    uint32_t rest = frames - first;

    for (unsigned c = 0; c < b->channels; c++) {
        float *line = b->ring + c * b->line;
        memcpy(line + at, in[c], sizeof(float) * first);
        if (at < b->mirror) {
            uint32_t m = b->mirror - at < first ? b->mirror - at : first;
            memcpy(line + b->cap + at, in[c], sizeof(float) * m);
        }
        if (rest > 0) {
            memcpy(line, in[c] + first, sizeof(float) * rest);
            uint32_t m = rest < b->mirror ? rest : b->mirror;
            memcpy(line + b->cap, in[c] + first, sizeof(float) * m);
        }
    }
}

AOIP_RT int aoip_bridge_push(struct aoip_bridge *b, const float *const *in, uint32_t frames,
                             int64_t now_ns)
{
    if (frames == 0)
        return 0;
    if (frames > b->push_max || in == NULL)
        return -EINVAL;
    uint64_t head = atomic_load_explicit(&b->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&b->tail, memory_order_acquire);
    if (b->cap - (head - tail) < frames) {
        /* The consumer learns of the drop by the count (release), and where
         * it happened by drop_at, stored before it. */
        atomic_store_explicit(&b->drop_at, head, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->overruns, 1, memory_order_release);
        return -ENOSPC;
    }
    put(b, in, frames, head);
    atomic_store_explicit(&b->head, head + frames, memory_order_release);

    /* A full stamp ring (a consumer that has not pulled for a while) costs
     * the clock an arrival, not the audio. */
    uint64_t sh = atomic_load_explicit(&b->stamp_head, memory_order_relaxed);
    uint64_t st = atomic_load_explicit(&b->stamp_tail, memory_order_acquire);
    if (sh - st <= b->stamp_mask) {
        b->stamps[sh & b->stamp_mask] =
            (struct stamp){ .start = head, .ns = now_ns, .frames = frames };
        atomic_store_explicit(&b->stamp_head, sh + 1, memory_order_release);
    }
    return 0;
}

/* ---- consumer ---------------------------------------------------------- */

/* Where a CLOCK_MONOTONIC instant falls on the consumer's timeline, in frames. */
static AOIP_RT double timeline_at(const struct aoip_bridge *b, int64_t ns)
{
    return (double)(b->anchor_pos) + ((double)(ns - b->anchor_ns) - b->offset_ns) / b->frame_ns;
}

static AOIP_RT void anchor(struct aoip_bridge *b, int64_t now_ns)
{
    b->anchored = true;
    b->anchor_ns = now_ns;
    b->anchor_pos = b->pulled;
    b->offset_ns = 0.0;
    b->tracked = 0;
}

/* How late this pull is against the timeline (anchoring it at the first pull). */
static AOIP_RT double timeline_late(struct aoip_bridge *b, int64_t now_ns)
{
    if (!b->anchored) {
        anchor(b, now_ns);
        return 0.0;
    }
    return (double)(now_ns - b->anchor_ns) - b->offset_ns -
           (double)(b->pulled - b->anchor_pos) * b->frame_ns;
}

/*
 * Move the timeline's offset by a share of this pull's lateness: a running
 * mean from the anchor, then the steady gain. Lateness is clipped to
 * LATE_MEANS of its mean distance from the offset (LATE_FLOOR_MS at least),
 * so that a pull a millisecond late among pulls tens of microseconds late
 * moves the timeline, and with it the arrivals placed on it, no more than
 * one a little late would.
 */
static AOIP_RT void track(struct aoip_bridge *b, double late)
{
    double limit = fmax(LATE_MEANS * b->wake_mean, LATE_FLOOR_MS * 1e6);
    double clipped = fmin(fmax(late, -limit), limit);
    if (b->wake_n < LATE_SPAN)
        b->wake_n += 1.0;
    b->wake_mean += (fabs(clipped) - b->wake_mean) / b->wake_n;
    b->tracked++;
    b->offset_ns += fmax(b->track, 1.0 / (double)(b->tracked + 1)) * clipped;
}

/* Start over: the clock from its fast start (keeping the drift), the ring from filling. */
static AOIP_RT void start_over(struct aoip_bridge *b)
{
    aoip_clock_restart(&b->clock);
    /* A held stamp is of the stream before: with the next ones it would
     * read as a jump of however long the producer was gone. */
    b->held = 0;
    b->have_heard = false;
    b->playing = false;
    atomic_store_explicit(&b->st_restarts,
                          atomic_load_explicit(&b->st_restarts, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static AOIP_RT void hear(struct aoip_bridge *b, const struct stamp *s, double at)
{
    aoip_clock_arrival(&b->clock, (int64_t)s->start, at);
    b->heard = *s;
    b->have_heard = true;
}

/*
 * A new stamp has come: judge the one held against the line through its
 * neighbours (arrival minus position, in frames, interpolated by position),
 * let the clock hear of it there if it is late by far or where it came if
 * not, and hold the new one.
 */
static AOIP_RT void judge(struct aoip_bridge *b, const struct stamp *s, double at)
{
    if (b->held == 2) {
        double e0 = b->before_at - (double)b->before_s.start;
        double e1 = b->hold_at - (double)b->hold_s.start;
        double e2 = at - (double)s->start;
        double span = (double)(s->start - b->before_s.start);
        double w = span > 0.0 ? (double)(b->hold_s.start - b->before_s.start) / span : 0.5;
        double late = e1 - (e0 + w * (e2 - e0));
        double limit = fmax(LATE_MEANS * b->late_mean, LATE_FLOOR_MS * 1e-3 * b->rate);

        if (b->late_n < LATE_SPAN)
            b->late_n += 1.0;
        b->late_mean += (fmin(fabs(late), limit) - b->late_mean) / b->late_n;
        if (late > limit)
            b->hold_at -= late;
        hear(b, &b->hold_s, b->hold_at);
        b->before_s = b->hold_s;
        b->before_at = b->hold_at;
    } else if (b->held == 1) {
        /* The first of a stream has no neighbour before it to be judged by. */
        hear(b, &b->hold_s, b->hold_at);
        b->before_s = b->hold_s;
        b->before_at = b->hold_at;
        b->held = 2;
    } else {
        b->held = 1;
    }
    b->hold_s = *s;
    b->hold_at = at;
}

/* Take the stamps the producer has published: each one an arrival, once judged. */
static AOIP_RT void take_stamps(struct aoip_bridge *b)
{
    uint64_t st = atomic_load_explicit(&b->stamp_tail, memory_order_relaxed);
    uint64_t sh = atomic_load_explicit(&b->stamp_head, memory_order_acquire);

    for (; st != sh; st++) {
        const struct stamp *s = &b->stamps[st & b->stamp_mask];
        b->newest = *s;
        b->have_newest = true;
        if (s->start >= b->skip_before)
            judge(b, s, timeline_at(b, s->ns));
    }
    atomic_store_explicit(&b->stamp_tail, st, memory_order_release);
}

static AOIP_RT void consume(struct aoip_bridge *b, uint64_t frames)
{
    b->read += frames;
    atomic_store_explicit(&b->tail, b->read, memory_order_release);
}

/*
 * Filling: play once the level seen reaches the target, from the frame
 * that puts it there. The level seen is the newest block's first frame
 * minus the read position, plus the time since that block came. When that
 * time is more than a block, the newest is stale: after an overrun, blocks
 * kept coming and were refused, and the next that fits comes where the
 * producer's cadence puts it, so the time since the newest is taken modulo
 * a block (placed as if the next block came now, the level would start
 * half a block low on average, and the clock would slew it up for
 * seconds). A producer that is only late, or gone, is placed no higher for
 * it, so the ring waits for its next block.
 */
static AOIP_RT bool try_start(struct aoip_bridge *b, double now, uint64_t head, uint32_t frames)
{
    if (!b->have_newest)
        return false;
    double speed = 1.0 + aoip_clock_ppm(&b->clock) * 1e-6; /* producer frames per ours */
    double block = (double)b->newest.frames / speed;
    /* Placed now: the timeline may have been anchored again since it came. */
    double age = fmax(now - timeline_at(b, b->newest.ns), 0.0);
    if (age > block)
        age = fmod(age, block);
    double seen = (double)(int64_t)(b->newest.start - b->read) + age * speed;
    if (!(seen >= (double)b->target))
        return false;
    uint64_t avail = head - b->read;
    uint64_t excess = (uint64_t)(seen - (double)b->target);
    if (excess > avail)
        excess = avail;
    consume(b, excess);
    if (avail - excess < aoip_resampler_needed(b->rs, frames))
        return false;
    b->playing = true;
    return true;
}

/* The level before this pull: the end of the newest block known (to the clock: it heard of) minus
 * the read position. */
static AOIP_RT double level_of(const struct aoip_bridge *b, bool have, const struct stamp *s,
                               uint64_t head)
{
    if (!have)
        return (double)(head - b->read);
    return (double)(int64_t)(s->start + s->frames - b->read);
}

/* One pull while playing: steer, read in place, resample. Returns frames from the ring. */
static AOIP_RT uint32_t play(struct aoip_bridge *b, float *const *out, uint32_t frames, double now,
                             uint64_t head)
{
    double level = level_of(b, b->have_heard, &b->heard, head);
    double ratio = aoip_clock_update_at(&b->clock, level, b->target, now);
    aoip_resampler_set_ratio(b->rs, ratio);
    uint32_t n = aoip_resampler_needed(b->rs, frames);
    uint64_t avail = head - b->read;
    uint32_t at = (uint32_t)(b->read & (b->cap - 1));

    if (avail >= n) {
        /* The mirror makes [at, at + n) one run in every line. */
        for (unsigned c = 0; c < b->channels; c++)
            b->ins[c] = b->ring + c * b->line + at;
        aoip_resampler_process(b->rs, b->ins, n, out, frames);
        consume(b, n);
        return frames;
    }
    /* An underrun: what there is, then silence, and start over. */
    uint32_t have = (uint32_t)avail;
    for (unsigned c = 0; c < b->channels; c++) {
        float *s = b->scratch + (size_t)c * b->mirror;
        memcpy(s, b->ring + c * b->line + at, sizeof(float) * have);
        memset(s + have, 0, sizeof(float) * (n - have));
        b->ins[c] = s;
    }
    aoip_resampler_process(b->rs, b->ins, n, out, frames);
    consume(b, have);
    atomic_store_explicit(&b->st_underruns,
                          atomic_load_explicit(&b->st_underruns, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    start_over(b);
    return (uint32_t)((uint64_t)frames * have / n);
}

/* Filling: the resampler plays out what it holds, then silence. */
static AOIP_RT void idle(struct aoip_bridge *b, float *const *out, uint32_t frames)
{
    uint32_t n = aoip_resampler_needed(b->rs, frames);
    for (unsigned c = 0; c < b->channels; c++)
        b->ins[c] = b->zeros;
    aoip_resampler_process(b->rs, b->ins, n, out, frames);
}

static AOIP_RT void publish(struct aoip_bridge *b, uint64_t head)
{
    const struct aoip_clock *c = &b->clock;
    double level =
        b->playing && c->primed ? c->level : level_of(b, b->have_newest, &b->newest, head);

    atomic_store_explicit(&b->st_ratio, dbits(c->ratio), memory_order_relaxed);
    atomic_store_explicit(&b->st_ppm, dbits(aoip_clock_ppm(c)), memory_order_relaxed);
    atomic_store_explicit(&b->st_level, dbits(level), memory_order_relaxed);
    atomic_store_explicit(&b->st_state, (int)aoip_clock_get_state(c), memory_order_relaxed);
}

AOIP_RT uint32_t aoip_bridge_pull(struct aoip_bridge *b, float *const *out, uint32_t frames,
                                  int64_t now_ns)
{
    if (frames == 0 || out == NULL)
        return 0;
    if (frames > b->pull_max) {
        for (unsigned c = 0; c < b->channels; c++)
            memset(out[c], 0, sizeof(float) * frames);
        return 0;
    }

    /* The timeline first: the arrivals taken below are placed on it. */
    double late = timeline_late(b, now_ns);
    /* Off: further from the timeline than wake-ups stray (a stop of the machine that
     * the consumer's count lost, 2 to 14 ms on a VM, is one), never more than the gap. */
    double off_ns = fmin(b->gap_ns, fmax(OFF_MIN_MS * 1e6, 2.0 * LATE_MEANS * b->wake_mean));
    bool off = !(fabs(late) <= off_ns);
    bool dropped = false;
    uint64_t ov = atomic_load_explicit(&b->overruns, memory_order_acquire);
    if (ov != b->overruns_seen) {
        b->overruns_seen = ov;
        b->skip_before = atomic_load_explicit(&b->drop_at, memory_order_relaxed);
        dropped = true;
    }
    /* Off again, and not catching up: the count fell behind (or jumped ahead). */
    bool behind =
        off && b->was_off && fabs(late) > fabs(b->last_late) - 0.5 * b->last_frames * b->frame_ns;
    bool restart = dropped || behind;
    if (restart) {
        if (off)
            anchor(b, now_ns);
        start_over(b);
    }
    b->was_off = off && !restart;
    b->last_late = late;
    b->last_frames = frames;
    double now = (double)b->pulled;

    /* The stamps are placed before this pull's lateness moves the timeline:
     * a late pull is the one that takes the blocks that came while it was
     * late, and where they are placed should not depend on which pull took
     * them. */
    take_stamps(b);
    if (!restart && !off)
        track(b, late);
    uint64_t head = atomic_load_explicit(&b->head, memory_order_acquire);
    uint32_t got = 0;
    if (b->playing || try_start(b, now, head, frames))
        got = play(b, out, frames, now, head);
    else
        idle(b, out, frames);
    b->pulled += frames;
    publish(b, head);
    return got;
}

void aoip_bridge_get_stats(const struct aoip_bridge *b, struct aoip_bridge_stats *out)
{
    out->ratio = bitsd(atomic_load_explicit(&b->st_ratio, memory_order_relaxed));
    out->ppm = bitsd(atomic_load_explicit(&b->st_ppm, memory_order_relaxed));
    out->level = bitsd(atomic_load_explicit(&b->st_level, memory_order_relaxed));
    out->target = b->target;
    out->underruns = atomic_load_explicit(&b->st_underruns, memory_order_relaxed);
    out->overruns = atomic_load_explicit(&b->overruns, memory_order_relaxed);
    out->restarts = atomic_load_explicit(&b->st_restarts, memory_order_relaxed);
    out->clock_state = atomic_load_explicit(&b->st_state, memory_order_relaxed);
}
