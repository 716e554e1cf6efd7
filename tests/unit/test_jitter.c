/*
 * test_jitter.c: the receive jitter buffer, fed real audio.
 *
 * A sender here is a set of reference tones (one per channel, computed once
 * with sig_tone) cut into packets; sample n of the stream travels in packet
 * n / frames at timestamp ts0 + n. Every pull is checked frame by frame: a
 * frame flagged missing must be silence, any other frame must be exactly the
 * reference sample the read position says it is. So a frame played twice,
 * from the wrong place or the wrong channel, or stale ring content shows up
 * as a mismatch, not as a slightly worse sine fit. Time is the media clock:
 * the frames pulled so far, never the wall clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/jitter.h"
#include "netmodel.h"
#include "sig.h"

#define RATE     48000.0
#define MAX_CH   8
#define PULL_MAX 8192

/* What a sender sends: tone[c][n] is sample n of channel c. */
struct stream {
    unsigned channels;
    uint32_t ssrc;
    uint16_t seq0;
    uint32_t ts0;
    uint32_t frames; /* per packet */
    size_t packets;
    float *tone[MAX_CH];
};

/* The media thread's side: where in the stream the next pulled frame is. */
struct player {
    struct aoip_jitter *jb;
    const struct stream *st;
    int64_t next; /* stream sample of the next frame pulled (negative: before the stream) */
    uint8_t missing[PULL_MAX];
};

static float out_buf[MAX_CH][PULL_MAX];

static void stream_init(struct stream *st, unsigned channels, uint32_t ssrc, uint16_t seq0,
                        uint32_t ts0, uint32_t frames, size_t packets, double freq)
{
    size_t len = packets * frames;

    memset(st, 0, sizeof(*st));
    st->channels = channels;
    st->ssrc = ssrc;
    st->seq0 = seq0;
    st->ts0 = ts0;
    st->frames = frames;
    st->packets = packets;
    for (unsigned c = 0; c < channels; c++) {
        st->tone[c] = malloc(len * sizeof(float));
        assert_non_null(st->tone[c]);
        /* A different frequency and level per channel, so a swap cannot pass. */
        sig_tone(st->tone[c], len, freq * (1.0 + 0.29 * c), RATE, 0.5 / (1.0 + 0.1 * c), 0.3, 0);
    }
}

static void stream_free(struct stream *st)
{
    for (unsigned c = 0; c < st->channels; c++)
        free(st->tone[c]);
}

/* Put packet k's audio under any header (strays, jumps, replays). */
static int put_as(struct aoip_jitter *jb, const struct stream *st, size_t k, uint32_t ssrc,
                  uint16_t seq, uint32_t ts)
{
    const float *audio[MAX_CH];

    assert_true(k < st->packets);
    for (unsigned c = 0; c < st->channels; c++)
        audio[c] = st->tone[c] + k * st->frames;
    return aoip_jitter_put(jb, ssrc, seq, ts, audio, st->frames);
}

/* Put packet k as the sender sent it. */
static int put(struct aoip_jitter *jb, const struct stream *st, size_t k)
{
    return put_as(jb, st, k, st->ssrc, (uint16_t)(st->seq0 + k),
                  (uint32_t)(st->ts0 + k * st->frames));
}

/*
 * Pull frames and check every one against the stream; the flags stay in
 * pl->missing. Returns how many were missing.
 */
static uint32_t play(struct player *pl, uint32_t frames)
{
    float *out[MAX_CH];
    const struct stream *st = pl->st;
    int64_t len = (int64_t)(st->packets * st->frames);
    uint32_t flagged = 0, got;
    size_t bad = 0, first_bad = 0;

    assert_true(frames <= PULL_MAX);
    for (unsigned c = 0; c < st->channels; c++) {
        out[c] = out_buf[c];
        /* Garbage in: the pull must write every frame it hands out. */
        for (uint32_t i = 0; i < frames; i++)
            out_buf[c][i] = 9.0f;
    }
    memset(pl->missing, 0xAA, frames);
    got = aoip_jitter_pull(pl->jb, out, pl->missing, frames);

    for (uint32_t i = 0; i < frames; i++) {
        int64_t n = pl->next + i;
        bool ok = pl->missing[i] <= 1;

        for (unsigned c = 0; c < st->channels && ok; c++) {
            if (pl->missing[i])
                ok = out_buf[c][i] == 0.0f;
            else
                ok = n >= 0 && n < len && out_buf[c][i] == st->tone[c][n];
        }
        if (!ok && bad++ == 0)
            first_bad = i;
        flagged += pl->missing[i] == 1;
    }
    if (bad)
        print_message("%zu bad frames, first at %zu (stream sample %lld, missing %u)\n", bad,
                      first_bad, (long long)(pl->next + (int64_t)first_bad),
                      pl->missing[first_bad]);
    assert_int_equal(bad, 0);
    assert_int_equal(got, flagged);
    pl->next += frames;
    return got;
}

/* Missing frames among [from, to) of the last pull. */
static uint32_t missing_in(const struct player *pl, uint32_t from, uint32_t to)
{
    uint32_t n = 0;

    for (uint32_t i = from; i < to; i++)
        n += pl->missing[i];
    return n;
}

static struct aoip_jitter *jb_new(unsigned channels, uint32_t latency, uint32_t capacity,
                                  uint32_t max_packet)
{
    struct aoip_jitter_config cfg = {
        .channels = channels,
        .latency_frames = latency,
        .capacity_frames = capacity,
        .max_packet_frames = max_packet,
    };
    struct aoip_jitter *jb = aoip_jitter_new(&cfg);

    assert_non_null(jb);
    return jb;
}

static struct aoip_jitter_stats stats_of(const struct aoip_jitter *jb)
{
    struct aoip_jitter_stats s;

    memset(&s, 0xFF, sizeof(s));
    aoip_jitter_get_stats(jb, &s);
    return s;
}

/* Packets [from, to) arrive one per period, each period then plays one packet's worth. */
static uint32_t run_periods(struct player *pl, size_t from, size_t to)
{
    uint32_t missing = 0;

    for (size_t k = from; k < to; k++) {
        assert_int_equal(put(pl->jb, pl->st, k), AOIP_JITTER_STORED);
        missing += play(pl, pl->st->frames);
    }
    return missing;
}

static void jitter_plays_in_order_stream_after_latency(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 1000, 5000, 48, 200, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    for (size_t k = 0; k < st.packets; k++) {
        assert_int_equal(put(pl.jb, &st, k), AOIP_JITTER_STORED);
        assert_int_equal(stats_of(pl.jb).level_frames, 96 + 48);
        /* The packet that came now plays two periods (96 frames) from now. */
        assert_int_equal(play(&pl, 48), k < 2 ? 48 : 0);
        assert_int_equal(stats_of(pl.jb).level_frames, 96);
    }

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.received, 200);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(s.reordered, 0);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.strays, 0);
    /* The 96 frames before packet 0 were pre-roll, not gaps. */
    assert_int_equal(s.missing_frames, 0);
    assert_int_equal(s.latency_frames, 96);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_reorders_within_window(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 200, 77777, 48, 60, 997.0);
    struct player pl = { .jb = jb_new(1, 192, 0, 48), .st = &st, .next = -192 };
    /* Arrival order within the first periods; every one is before its playout. */
    const size_t order[] = { 0, 1, 3, 2, 5, 4, 6, 9, 7, 8 };

    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(put(pl.jb, &st, order[i]), AOIP_JITTER_STORED);
        assert_int_equal(play(&pl, 48), i < 4 ? 48 : 0);
    }
    assert_int_equal(run_periods(&pl, 10, 60), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.reordered, 4); /* 2, 4, 7 and 8 each came after a higher one */
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_first_packet_overtaken_is_played_and_accounted(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 65535, 600, 48, 30, 997.0);
    /* Packet 1 overtook packet 0: the buffer starts on 1, 0 still plays. */
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = 48 - 96 };

    assert_int_equal(put(pl.jb, &st, 1), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 0), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(run_periods(&pl, 2, 6), 0);
    assert_int_equal(put(pl.jb, &st, 7), AOIP_JITTER_STORED); /* 6 is lost */
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(put(pl.jb, &st, 8), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(put(pl.jb, &st, 9), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48); /* packet 6's place */
    assert_int_equal(run_periods(&pl, 10, 30), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.reordered, 1);
    assert_int_equal(s.lost, 1);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.missing_frames, 48); /* packet 6's place, not the pre-roll */
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_counts_duplicates_once(void **state)
{
    (void)state;
    struct stream st, other;
    stream_init(&st, 1, 0x1234, 10, 0, 48, 40, 997.0);
    /* Duplicates carry different audio: had one been stored, it would be heard. */
    stream_init(&other, 1, 0x1234, 10, 0, 48, 40, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(put(pl.jb, &st, 0), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &other, 0), AOIP_JITTER_DUPLICATE);
    assert_int_equal(put(pl.jb, &st, 1), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &other, 1), AOIP_JITTER_DUPLICATE);
    assert_int_equal(put(pl.jb, &other, 1), AOIP_JITTER_DUPLICATE);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(run_periods(&pl, 2, 10), 0);
    /* Packet 0 played long ago: a copy of it now is a duplicate, not late. */
    assert_int_equal(put(pl.jb, &other, 0), AOIP_JITTER_DUPLICATE);
    assert_int_equal(run_periods(&pl, 10, 40), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.received, 44);
    assert_int_equal(s.duplicates, 4);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.reordered, 0);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
    stream_free(&other);
}

static void jitter_late_packet_counted_and_future_part_kept(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 500, 1000, 48, 20, 997.0);
    struct player pl = { .jb = jb_new(1, 48, 0, 48), .st = &st, .next = -48 };

    assert_int_equal(put(pl.jb, &st, 0), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(play(&pl, 48), 0);  /* packet 0 */
    assert_int_equal(play(&pl, 24), 24); /* first half of packet 1: not there yet */
    assert_int_equal(put(pl.jb, &st, 1), AOIP_JITTER_LATE);
    assert_int_equal(put(pl.jb, &st, 2), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 72);
    assert_int_equal(play(&pl, 24), 0); /* second half of packet 1, kept */
    assert_int_equal(play(&pl, 48), 0); /* packet 2 */

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.reordered, 0);
    assert_int_equal(s.missing_frames, 24); /* packet 1's first half */
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_lost_packet_flags_missing_frames(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 2, 0x1234, 0, 0, 48, 20, 997.0);
    struct player pl = { .jb = jb_new(2, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 7), 96);
    assert_int_equal(play(&pl, 48), 0);                       /* packet 5 */
    assert_int_equal(put(pl.jb, &st, 8), AOIP_JITTER_STORED); /* 7 never comes */
    assert_int_equal(play(&pl, 48), 0);                       /* packet 6 */
    assert_int_equal(put(pl.jb, &st, 9), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48); /* packet 7's place: silence, all flagged */
    assert_int_equal(run_periods(&pl, 10, 20), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.lost, 1);
    assert_int_equal(s.missing_frames, 48); /* packet 7's place, and only that */
    assert_int_equal(s.reordered, 0);
    assert_int_equal(s.late, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_sequence_wrap_is_seamless(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 65530, 123456, 48, 40, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 5), 96);
    /* Packets 5 (seq 65535) and 6 (seq 0) arrive swapped, across the wrap. */
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(put(pl.jb, &st, 6), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 5), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 7, 9), 0);
    /* Copies from both sides of the wrap are still known. */
    assert_int_equal(put(pl.jb, &st, 5), AOIP_JITTER_DUPLICATE);
    assert_int_equal(put(pl.jb, &st, 7), AOIP_JITTER_DUPLICATE);
    assert_int_equal(run_periods(&pl, 9, 40), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.reordered, 1);
    assert_int_equal(s.duplicates, 2);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.strays, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_timestamp_wrap_is_seamless(void **state)
{
    (void)state;
    struct stream st;
    /* Packet 20 holds the frames on both sides of 2^32. */
    stream_init(&st, 2, 0x1234, 7, UINT32_MAX - 999, 48, 100, 997.0);
    struct player pl = { .jb = jb_new(2, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 20), 96);
    /* 21 (after the wrap) overtakes 20 (across it). */
    assert_int_equal(put(pl.jb, &st, 21), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 20), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 96 + 96);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 22, 100), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.reordered, 1);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.strays, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_new_ssrc_resyncs_after_two_packets(void **state)
{
    (void)state;
    struct stream a, b;
    stream_init(&a, 1, 0x1111, 100, 1000, 48, 20, 997.0);
    stream_init(&b, 1, 0x2222, 40000, 123456789, 48, 30, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &a, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 20), 96);
    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_PROBATION);
    assert_int_equal(play(&pl, 48), 0); /* the old stream plays on meanwhile */
    assert_int_equal(put(pl.jb, &b, 1), AOIP_JITTER_RESYNC);
    assert_int_equal(stats_of(pl.jb).level_frames, 96 + 48);

    /* Packet 1 of the new stream plays one latency after it came. */
    pl.st = &b;
    pl.next = 48 - 96;
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(put(pl.jb, &b, 2), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(run_periods(&pl, 3, 30), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.strays, 0);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.received, 20 + 30);
    /* Packet 0 of b, dropped in probation, was in b's pre-roll. */
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&a);
    stream_free(&b);
}

static void jitter_resync_keeps_loss_count_and_forgets_old_sequence(void **state)
{
    (void)state;
    struct stream a, b;
    stream_init(&a, 1, 0x1111, 100, 1000, 48, 20, 997.0);
    /* The sender restarted: new SSRC, same first sequence number. */
    stream_init(&b, 1, 0x2222, 100, 800000, 48, 30, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &a, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 5), 96);
    assert_int_equal(put(pl.jb, &a, 6), AOIP_JITTER_STORED); /* 5 is lost */
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 7, 20), 48);
    assert_int_equal(stats_of(pl.jb).lost, 1);

    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_PROBATION);
    assert_int_equal(put(pl.jb, &b, 1), AOIP_JITTER_RESYNC);
    pl.st = &b;
    pl.next = 48 - 96;
    /* Sequence numbers the old stream used are new in this one, even out of
     * order: a copy of the candidate dropped in probation, and a swap. */
    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &b, 3), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(put(pl.jb, &b, 2), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 4, 10), 0);
    assert_int_equal(put(pl.jb, &b, 11), AOIP_JITTER_STORED); /* 10 is lost */
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 12, 30), 48);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.lost, 2);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(s.reordered, 2);
    assert_int_equal(s.resyncs, 1);
    /* Packets 5 of a and 10 of b; neither stream's pre-roll. */
    assert_int_equal(s.missing_frames, 48 + 48);
    aoip_jitter_free(pl.jb);
    stream_free(&a);
    stream_free(&b);
}

static void jitter_resync_needs_exact_continuation(void **state)
{
    (void)state;
    struct stream a, b;
    stream_init(&a, 1, 0x1111, 0, 0, 48, 20, 997.0);
    stream_init(&b, 1, 0x2222, 5000, 3000000, 48, 30, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &a, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 20), 96);
    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_PROBATION);
    /* Each of these misses the candidate before it in one field only. */
    assert_int_equal(put_as(pl.jb, &b, 1, 0x3333, 5001, b.ts0 + 48), AOIP_JITTER_PROBATION);
    assert_int_equal(put_as(pl.jb, &b, 2, b.ssrc, 5002, b.ts0 + 2 * 48), AOIP_JITTER_PROBATION);
    assert_int_equal(put_as(pl.jb, &b, 3, b.ssrc, 5004, b.ts0 + 3 * 48), AOIP_JITTER_PROBATION);
    assert_int_equal(put_as(pl.jb, &b, 4, b.ssrc, 5005, b.ts0 + 4 * 48 + 1), AOIP_JITTER_PROBATION);
    assert_int_equal(stats_of(pl.jb).strays, 4);
    assert_int_equal(stats_of(pl.jb).resyncs, 0);
    /* A copy of the candidate is a duplicate, and the candidate stands. */
    assert_int_equal(put_as(pl.jb, &b, 4, b.ssrc, 5005, b.ts0 + 4 * 48 + 1), AOIP_JITTER_DUPLICATE);
    /* Near copies are not: another sequence number, timestamp, SSRC in turn. */
    assert_int_equal(put_as(pl.jb, &b, 4, b.ssrc, 5009, b.ts0 + 4 * 48 + 1), AOIP_JITTER_PROBATION);
    assert_int_equal(put_as(pl.jb, &b, 4, b.ssrc, 5009, b.ts0 + 4 * 48 + 2), AOIP_JITTER_PROBATION);
    assert_int_equal(put_as(pl.jb, &b, 4, 0x3333, 5009, b.ts0 + 4 * 48 + 2), AOIP_JITTER_PROBATION);
    /* Exactly contiguous with the candidate: now it is followed. */
    assert_int_equal(put_as(pl.jb, &b, 5, 0x3333, 5010, b.ts0 + 5 * 48 + 2), AOIP_JITTER_RESYNC);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.strays, 7);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.level_frames, 96 + 48);
    aoip_jitter_free(pl.jb);
    stream_free(&a);
    stream_free(&b);
}

static void jitter_stray_packet_is_dropped_and_counted(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 300, 9000, 48, 30, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 10), 96);
    /* Another source's packet, timestamp right where ours play. */
    assert_int_equal(put_as(pl.jb, &st, 3, 0x9999, 310, 9000 + 10 * 48), AOIP_JITTER_PROBATION);
    assert_int_equal(run_periods(&pl, 10, 20), 0);
    /* Our own SSRC, but a sequence number from nowhere near. */
    assert_int_equal(put_as(pl.jb, &st, 3, 0x1234, 300 + 5000, 9000 + 20 * 48),
                     AOIP_JITTER_PROBATION);
    assert_int_equal(run_periods(&pl, 20, 25), 0);
    /* One from long ago: 2048 numbers behind, too far back to know if seen. */
    assert_int_equal(put_as(pl.jb, &st, 3, 0x1234, (uint16_t)(300 + 24 - 2048), 9000 + 25 * 48),
                     AOIP_JITTER_PROBATION);
    assert_int_equal(run_periods(&pl, 25, 30), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.strays, 3);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(s.received, 33);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_timestamp_jump_resyncs(void **state)
{
    (void)state;
    struct stream st;
    /* A whole number of rings: what the old stream left stored sits in exactly
     * the slots the new one plays first, so a resync that kept it would be heard. */
    const uint32_t jump = 1024 * 9766;
    stream_init(&st, 1, 0x1234, 60000, 4000, 48, 40, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 1024, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 10), 96);
    /* From packet 10 on, the sender's timestamps are 'jump' further on. */
    assert_int_equal(put_as(pl.jb, &st, 10, 0x1234, 60010, 4000 + 10 * 48 + jump),
                     AOIP_JITTER_PROBATION);
    assert_int_equal(play(&pl, 48), 0); /* packet 8 */
    assert_int_equal(put_as(pl.jb, &st, 11, 0x1234, 60011, 4000 + 11 * 48 + jump),
                     AOIP_JITTER_RESYNC);
    /* Read moved with the jump: packet 11 plays one latency on; 9 and 10 are gone. */
    assert_int_equal(play(&pl, 48), 48);
    for (size_t k = 12; k < 40; k++) {
        assert_int_equal(
            put_as(pl.jb, &st, k, 0x1234, (uint16_t)(60000 + k), (uint32_t)(4000 + k * 48 + jump)),
            AOIP_JITTER_STORED);
        assert_int_equal(play(&pl, 48), k == 12 ? 48 : 0);
    }

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.strays, 0);
    assert_int_equal(s.lost, 0); /* accounting restarted at packet 11 */
    /* Packet 11's pre-roll (the places of 9 and 10) is not a gap. */
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_far_future_packet_probation(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 30, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 1024, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 10), 96);
    /* Packet 10 with a timestamp far ahead (a corrupted header, say). */
    assert_int_equal(put_as(pl.jb, &st, 10, 0x1234, 10, 10 * 48 + 100000), AOIP_JITTER_PROBATION);
    assert_int_equal(stats_of(pl.jb).level_frames, 96); /* nothing stored */
    /* The real packet 10 is not a duplicate of the dropped one. */
    assert_int_equal(run_periods(&pl, 10, 30), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.strays, 1);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_ring_edge_is_the_limit_ahead(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 64, 40, 997.0);
    /* Read starts at ts0 - 64: 15 packets of 64 end exactly at read + capacity. */
    struct player pl = { .jb = jb_new(1, 64, 1024, 64), .st = &st, .next = -64 };

    for (size_t k = 0; k < 15; k++)
        assert_int_equal(put(pl.jb, &st, k), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 1024);
    assert_int_equal(put(pl.jb, &st, 15), AOIP_JITTER_PROBATION);
    assert_int_equal(stats_of(pl.jb).level_frames, 1024);
    assert_int_equal(play(&pl, 64), 64);
    /* One packet of room now: the same packet fits and is stored. */
    assert_int_equal(put(pl.jb, &st, 15), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 1024);
    for (int i = 0; i < 16; i++)
        assert_int_equal(play(&pl, 64), 0);
    assert_int_equal(stats_of(pl.jb).level_frames, 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.strays, 1);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_far_behind_packet_probation(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 60, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 1024, 48), .st = &st, .next = -96 };

    /* Packets 3 and 4 are held up somewhere in the network. */
    assert_int_equal(run_periods(&pl, 0, 3), 96);
    for (size_t k = 5; k < 24; k++) {
        assert_int_equal(put(pl.jb, &st, k), AOIP_JITTER_STORED);
        assert_int_equal(play(&pl, 48), k == 7 || k == 8 ? 48 : 0);
    }
    assert_int_equal(put(pl.jb, &st, 24), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 25), AOIP_JITTER_STORED);
    /* Read is at ts 960; move it to ts(3) + capacity = 1168. */
    assert_int_equal(play(&pl, 208), 0);
    assert_int_equal(put(pl.jb, &st, 3), AOIP_JITTER_LATE); /* a capacity behind: in reach */
    assert_int_equal(play(&pl, 49), 0);
    assert_int_equal(put(pl.jb, &st, 4), AOIP_JITTER_PROBATION); /* one frame further */
    assert_int_equal(put(pl.jb, &st, 26), AOIP_JITTER_STORED);
    assert_int_equal(run_periods(&pl, 27, 60), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.strays, 1);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.lost, 1);            /* 4 never made it in */
    assert_int_equal(s.reordered, 1);       /* 3 did, very late */
    assert_int_equal(s.missing_frames, 96); /* packets 3 and 4's places */
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

/* Packets up to 'from' arrive on time, later ones 'delay' periods late. */
static void jitter_late_streak_resyncs(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 65500, 0, 48, 60, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 20), 96);
    /* The path delay grows by 5 periods: nothing arrives for a while. */
    for (int t = 20; t < 25; t++)
        assert_int_equal(play(&pl, 48), t < 22 ? 0 : 48);
    /* From now on every packet comes behind the read position, one a period. */
    assert_int_equal(put(pl.jb, &st, 20), AOIP_JITTER_LATE);
    assert_int_equal(play(&pl, 48), 48);
    /* Two in a row cover the latency, but only one period went by: wait. */
    assert_int_equal(put(pl.jb, &st, 21), AOIP_JITTER_LATE);
    assert_int_equal(play(&pl, 48), 48);
    /* Late for a whole latency of playout: the buffer moves back, onto 22. */
    assert_int_equal(put(pl.jb, &st, 22), AOIP_JITTER_RESYNC);
    assert_int_equal(stats_of(pl.jb).level_frames, 96 + 48);
    pl.next = 22 * 48 - 96;
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(put(pl.jb, &st, 23), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(run_periods(&pl, 24, 60), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.late, 3);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.reordered, 0);
    assert_int_equal(s.strays, 0);
    /* Five periods before the resync; the two after it were its pre-roll. */
    assert_int_equal(s.missing_frames, 5 * 48);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

/*
 * A sender that sends a period of packets at once (a JACK node: five 1 ms
 * packets every 5 ms). Once the buffer has run dry, the first two of every
 * burst come behind the read position and the rest in time, between the
 * same two pulls: a late run all the same, which resyncs, and after it
 * nothing is late. (Ending the run at every packet in time, the buffer
 * stayed dry for good: two of every five packets late, each time.)
 */
static void jitter_late_bursts_resync(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 80, 997.0);
    struct aoip_jitter *jb = jb_new(1, 96, 0, 48);
    float buf[48], *out[1] = { buf };

    for (size_t k = 0; k < 20; k++) {
        assert_int_equal(put(jb, &st, k), AOIP_JITTER_STORED);
        aoip_jitter_pull(jb, out, NULL, 48);
    }
    /* The sender stalls for four periods, then sends in bursts of five. */
    for (int t = 0; t < 4; t++)
        aoip_jitter_pull(jb, out, NULL, 48);
    int resync_burst = -1;
    for (size_t k = 20, burst = 0; burst < 10; burst++) {
        for (int i = 0; i < 5; i++, k++)
            if (put(jb, &st, k) == AOIP_JITTER_RESYNC && resync_burst < 0)
                resync_burst = (int)burst;
        for (int t = 0; t < 5; t++)
            aoip_jitter_pull(jb, out, NULL, 48);
    }
    struct aoip_jitter_stats s = stats_of(jb);
    assert_int_equal(resync_burst, 1);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.late, 3); /* 20 and 21, and 25, which the resync plays from */
    aoip_jitter_free(jb);
    stream_free(&st);
}

/* A link that held packets back lets them go at once: old audio, not a longer path. */
static void jitter_burst_of_stale_packets_changes_nothing(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 100, 7000, 48, 400, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 100), 96);
    /* The link is down for 200 periods; the sender goes on. */
    for (int t = 0; t < 200; t++)
        play(&pl, 48);
    /* The link comes back: what it held comes first, all at once, then the live stream. */
    for (size_t k = 100; k < 300; k++)
        assert_int_not_equal(put(pl.jb, &st, k), AOIP_JITTER_RESYNC);
    assert_int_equal(run_periods(&pl, 300, 400) <= 2 * 48, true);
    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.resyncs, 0);
    /* And the live stream plays on its own timeline, every frame in its place. */
    assert_int_equal(s.level_frames, 96);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_single_late_packet_does_not_resync(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 30, 997.0);
    /* A packet covers the whole latency, so one straggler alone fills a "streak". */
    struct player pl = { .jb = jb_new(1, 48, 0, 48), .st = &st, .next = -48 };

    assert_int_equal(run_periods(&pl, 0, 5), 48);
    /* Packet 5 is held up two periods. */
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(put(pl.jb, &st, 6), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48); /* packet 5's place */
    assert_int_equal(put(pl.jb, &st, 7), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 5), AOIP_JITTER_LATE);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 8, 12), 0);
    /* So is packet 12: late again, but stored packets came in between. */
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(put(pl.jb, &st, 13), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 48); /* packet 12's place */
    assert_int_equal(put(pl.jb, &st, 14), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 12), AOIP_JITTER_LATE);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 15, 30), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.late, 2);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.reordered, 2);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.missing_frames, 48 * 2);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_pull_before_first_packet_is_silent_and_uncounted(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 2, 0x1234, 0, 31337, 48, 20, 997.0);
    struct player pl = { .jb = jb_new(2, 96, 0, 48), .st = &st, .next = -1000000 };

    for (int i = 0; i < 10; i++) {
        assert_int_equal(play(&pl, 37), 37);
        assert_int_equal(missing_in(&pl, 0, 37), 37);
    }
    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.missing_frames, 0);
    assert_int_equal(s.level_frames, 0);
    assert_int_equal(s.received, 0);

    /* The pulls before did not move the read position: latency is from now. */
    pl.next = -96;
    assert_int_equal(run_periods(&pl, 0, 20), 96);
    assert_int_equal(stats_of(pl.jb).missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_preroll_is_not_missing(void **state)
{
    (void)state;
    struct stream st;
    /* The read position starts at slot 990 of a 1000-frame ring: the pre-roll
     * wraps around the end of it. */
    stream_init(&st, 2, 0x1234, 100, 4000 * 1000 + 86, 48, 20, 997.0);
    struct player pl = { .jb = jb_new(2, 96, 1000, 48), .st = &st, .next = -96 };

    assert_int_equal(put(pl.jb, &st, 0), AOIP_JITTER_STORED);
    /* Silence ahead of the stream's first frame: flagged, but no gap. */
    assert_int_equal(play(&pl, 37), 37);
    assert_int_equal(stats_of(pl.jb).missing_frames, 0);
    /* The rest of the pre-roll and the first 24 frames of packet 0. */
    assert_int_equal(play(&pl, 83), 59);
    assert_int_equal(missing_in(&pl, 0, 59), 59);
    assert_int_equal(stats_of(pl.jb).missing_frames, 0);
    assert_int_equal(put(pl.jb, &st, 1), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 3), AOIP_JITTER_STORED); /* 2 is lost */
    assert_int_equal(play(&pl, 72), 0);
    /* A frame of the stream that never came is a gap: counted. */
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(stats_of(pl.jb).missing_frames, 48);
    assert_int_equal(run_periods(&pl, 4, 20), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.lost, 1);
    assert_int_equal(s.missing_frames, 48);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

/* A second flow of the same sender, on the same timeline: aligned to the sample. */
static void jitter_expect_plays_on_the_given_timeline(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 2, 0x1111, 100, 5000, 48, 60, 997.0);
    struct player a = { .jb = jb_new(2, 96, 0, 48), .st = &st, .next = -96 };
    struct player b = { .jb = jb_new(2, 96, 0, 48), .st = &st };

    assert_int_equal(run_periods(&a, 0, 20), 96);
    /* B is told where A plays next; it has no packet yet. */
    aoip_jitter_expect(b.jb, 0x2222, stats_of(a.jb).next_timestamp);
    b.next = a.next;
    for (size_t k = 20; k < 60; k++) {
        assert_int_equal(put(a.jb, &st, k), AOIP_JITTER_STORED);
        /* B's sender starts two packets later, under its own SSRC and sequence. */
        if (k >= 22)
            assert_int_equal(
                put_as(b.jb, &st, k, 0x2222, (uint16_t)(7000 + k), (uint32_t)(5000 + k * 48)),
                AOIP_JITTER_STORED);
        assert_int_equal(play(&a, 48), 0);
        /* play() checks every frame B has against the stream sample A plays there:
         * B is missing until its first packet (22) is due, then exact. */
        assert_int_equal(play(&b, 48), k < 20 + 2 + 2 ? 48 : 0);
    }
    struct aoip_jitter_stats s = stats_of(b.jb);
    assert_int_equal(s.missing_frames, 0); /* before its first packet: not a gap */
    assert_int_equal(s.lost, 0);
    aoip_jitter_free(a.jb);
    aoip_jitter_free(b.jb);
    stream_free(&st);
}

/* The expectation is for one SSRC, and gives way to a packet it cannot place. */
static void jitter_expect_ignores_other_streams_and_late_packets(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1111, 0, 0, 48, 30, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    /* Another SSRC: started as usual, a latency after its first packet. */
    aoip_jitter_expect(pl.jb, 0x9999, 10 * 48);
    assert_int_equal(run_periods(&pl, 0, 10), 96);
    aoip_jitter_free(pl.jb);

    /* The right SSRC, but its first packet is behind the given position: as usual too. */
    pl = (struct player){ .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };
    aoip_jitter_expect(pl.jb, 0x1111, 5 * 48);
    assert_int_equal(run_periods(&pl, 0, 10), 96);
    /* And once playing, an expectation changes nothing. */
    aoip_jitter_expect(pl.jb, 0x1111, 0);
    assert_int_equal(run_periods(&pl, 10, 30), 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

/* The first packet came much later than the rest: the level stays high, then settles. */
static void jitter_level_far_above_target_settles(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 10, 1000, 48, 200, 997.0);
    struct aoip_jitter_config cfg = {
        .channels = 1, .latency_frames = 96, .max_packet_frames = 48, .settle_frames = 2400
    };
    struct player pl = { .jb = aoip_jitter_new(&cfg), .st = &st, .next = -96 };
    assert_non_null(pl.jb);

    /* Ten packets arrive with the first: the level is ten packets over the target. */
    for (size_t k = 0; k < 11; k++)
        assert_int_equal(put(pl.jb, &st, k), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 96 + 11 * 48);

    /* It stays there for the whole window: playout skips to the target, once. */
    size_t k = 11;
    for (; k < 11 + 60; k++) {
        put(pl.jb, &st, k);
        uint32_t before = stats_of(pl.jb).next_timestamp;
        /* Two periods of pre-roll, then audio. */
        assert_int_equal(play(&pl, 48), k < 13 ? 48 : 0);
        uint32_t after = stats_of(pl.jb).next_timestamp;
        if (after - before != 48)
            pl.next += (int64_t)(after - before) - 48;
    }
    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.level_frames, 96);
    /* And then it plays on, every frame in its place. */
    for (; k < 200; k++) {
        put(pl.jb, &st, k);
        assert_int_equal(play(&pl, 48), 0);
    }
    assert_int_equal(stats_of(pl.jb).resyncs, 1);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

/* Jitter that lifts the level for moments is not a reason to skip. */
static void jitter_brief_high_level_does_not_settle(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 10, 1000, 48, 400, 997.0);
    struct aoip_jitter_config cfg = {
        .channels = 1, .latency_frames = 96, .max_packet_frames = 48, .settle_frames = 2400
    };
    struct player pl = { .jb = aoip_jitter_new(&cfg), .st = &st, .next = -96 };
    assert_non_null(pl.jb);

    size_t sent = 0;
    for (int period = 0; period < 390; period++) {
        /* Every 40 periods, eight packets arrive early at once, then none for eight. */
        int phase = period % 40;
        size_t due = (size_t)period + 1;
        if (phase == 10)
            due += 8;
        while (sent < due && sent < st.packets)
            put(pl.jb, &st, sent++);
        play(&pl, 48);
    }
    assert_int_equal(stats_of(pl.jb).resyncs, 0);
    assert_int_equal(stats_of(pl.jb).missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_resync_preroll_is_not_missing(void **state)
{
    (void)state;
    struct stream a, b;
    stream_init(&a, 1, 0x1111, 100, 1000, 48, 20, 997.0);
    stream_init(&b, 1, 0x2222, 9000, 5000000, 48, 20, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &a, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 5), 96);
    assert_int_equal(put(pl.jb, &a, 6), AOIP_JITTER_STORED); /* 5 is lost */
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 7, 20), 48);
    assert_int_equal(stats_of(pl.jb).missing_frames, 48);

    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_PROBATION);
    assert_int_equal(put(pl.jb, &b, 1), AOIP_JITTER_RESYNC);
    assert_int_equal(put(pl.jb, &b, 3), AOIP_JITTER_STORED); /* 2 is lost */
    pl.st = &b;
    pl.next = 48 - 96;
    /* One pull over b's pre-roll (packet 0's place with it: dropped in
     * probation, it comes before the packet b restarted on), packet 1, and
     * the place of packet 2: only the last is a gap. */
    assert_int_equal(play(&pl, 192), 96 + 48);
    assert_int_equal(missing_in(&pl, 0, 96), 96);
    assert_int_equal(missing_in(&pl, 144, 192), 48);
    assert_int_equal(stats_of(pl.jb).missing_frames, 48 + 48);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(run_periods(&pl, 4, 20), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.lost, 2);
    assert_int_equal(s.missing_frames, 48 + 48);
    aoip_jitter_free(pl.jb);
    stream_free(&a);
    stream_free(&b);
}

static void jitter_highest_seq_extends_across_wraps(void **state)
{
    (void)state;
    enum { PACKETS = 70000 };
    struct stream st;
    /* One frame a packet: the sequence number wraps twice. */
    stream_init(&st, 1, 0x1234, 65533, 4242, 1, PACKETS, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 1), .st = &st, .next = -96 };
    uint32_t missing = 0;

    assert_int_equal(stats_of(pl.jb).highest_seq, 0);
    for (size_t k = 0; k < PACKETS; k++) {
        /* Packets 2 (seq 65535) and 3 (seq 0) arrive swapped, across the first wrap. */
        size_t j = k == 2 ? 3 : k == 3 ? 2 : k;
        assert_int_equal(put(pl.jb, &st, j), AOIP_JITTER_STORED);
        /* Past a wrap, the extended number goes on counting up: 65536, not 0. */
        assert_int_equal(stats_of(pl.jb).highest_seq, 65533 + (k == 2 ? 3 : k));
        missing += play(&pl, 1);
    }
    assert_int_equal(missing, 96);

    /* As a receiver report carries it: wraps above, the last seq below. */
    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.highest_seq >> 16, 2);
    assert_int_equal(s.highest_seq & 0xFFFF, (uint16_t)(65533 + PACKETS - 1));
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.reordered, 1);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_highest_seq_is_the_current_streams(void **state)
{
    (void)state;
    struct stream a, b;
    stream_init(&a, 1, 0x1111, 65500, 1000, 48, 100, 997.0);
    stream_init(&b, 1, 0x2222, 7, 900000, 48, 10, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &a, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 100), 96);
    assert_int_equal(stats_of(pl.jb).highest_seq, 65500 + 99);
    /* A candidate of another source is not the stream yet. */
    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_PROBATION);
    assert_int_equal(stats_of(pl.jb).highest_seq, 65500 + 99);
    /* After the resync it is the new stream's, its wrap count from 0. */
    assert_int_equal(put(pl.jb, &b, 1), AOIP_JITTER_RESYNC);
    assert_int_equal(stats_of(pl.jb).highest_seq, 8);
    assert_int_equal(put(pl.jb, &b, 2), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).highest_seq, 9);
    aoip_jitter_free(pl.jb);
    stream_free(&a);
    stream_free(&b);
}

static void jitter_level_tracks_stored_audio(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 20, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(stats_of(pl.jb).level_frames, 0);
    assert_int_equal(put(pl.jb, &st, 0), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 144);
    assert_int_equal(put(pl.jb, &st, 2), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 240); /* up to the newest, over the hole */
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(stats_of(pl.jb).level_frames, 192);
    assert_int_equal(put(pl.jb, &st, 1), AOIP_JITTER_STORED); /* fills the hole */
    assert_int_equal(stats_of(pl.jb).level_frames, 192);
    assert_int_equal(play(&pl, 240), 96);
    assert_int_equal(missing_in(&pl, 0, 48), 48);    /* before the stream */
    assert_int_equal(missing_in(&pl, 192, 240), 48); /* packet 3, not come yet */
    /* Played past everything received: the level says by how much. */
    assert_int_equal(stats_of(pl.jb).level_frames, -48);
    assert_int_equal(put(pl.jb, &st, 4), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 48);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(stats_of(pl.jb).level_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_set_latency_applies_at_next_resync(void **state)
{
    (void)state;
    struct stream a, b;
    stream_init(&a, 1, 0x1111, 0, 0, 48, 30, 997.0);
    stream_init(&b, 1, 0x2222, 0, 500000, 48, 30, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 2000, 48), .st = &a, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 10), 96);
    aoip_jitter_set_latency(pl.jb, 192);
    assert_int_equal(stats_of(pl.jb).latency_frames, 192);
    /* The running stream keeps its playout point: no gap, no repeat. */
    assert_int_equal(run_periods(&pl, 10, 30), 0);
    assert_int_equal(stats_of(pl.jb).level_frames, 96);

    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_PROBATION);
    assert_int_equal(put(pl.jb, &b, 1), AOIP_JITTER_RESYNC);
    assert_int_equal(stats_of(pl.jb).level_frames, 192 + 48);
    pl.st = &b;
    pl.next = 48 - 192;
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(run_periods(&pl, 2, 30), 192 - 48);

    /* A target the ring cannot hold is clamped to what it can. */
    aoip_jitter_set_latency(pl.jb, UINT32_MAX);
    assert_int_equal(stats_of(pl.jb).latency_frames, 2000 - 48);
    aoip_jitter_free(pl.jb);
    stream_free(&a);
    stream_free(&b);
}

static void jitter_rejects_bad_config(void **state)
{
    (void)state;
    const struct aoip_jitter_config bad[] = {
        { .channels = 0, .latency_frames = 96, .max_packet_frames = 48 },
        { .channels = AOIP_JITTER_MAX_CHANNELS + 1, .latency_frames = 96, .max_packet_frames = 48 },
        { .channels = 2, .latency_frames = 96, .max_packet_frames = 0 },
        /* latency + largest packet must fit the ring */
        { .channels = 2, .latency_frames = 96, .capacity_frames = 143, .max_packet_frames = 48 },
        { .channels = 2,
          .latency_frames = 96,
          .capacity_frames = UINT32_MAX,
          .max_packet_frames = 48 },
        { .channels = 2, .latency_frames = UINT32_MAX, .max_packet_frames = 48 },
        { .channels = 2, .latency_frames = UINT32_C(1) << 30, .max_packet_frames = 48 },
        { .channels = 2, .latency_frames = 96, .max_packet_frames = UINT32_MAX },
    };

    assert_null(aoip_jitter_new(NULL));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct aoip_jitter *jb = aoip_jitter_new(&bad[i]);
        if (jb)
            print_message("config %zu accepted\n", i);
        assert_null(jb);
        aoip_jitter_free(jb);
    }
    /* The edges themselves are fine. */
    aoip_jitter_free(jb_new(2, 96, 144, 48));
    aoip_jitter_free(jb_new(AOIP_JITTER_MAX_CHANNELS, 96, 0, 48));
    aoip_jitter_free(jb_new(1, 0, 0, 1));
    aoip_jitter_free(NULL);
}

static void jitter_put_rejects_oversized_packet(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 65, 2, 997.0);
    struct aoip_jitter *jb = jb_new(1, 96, 0, 64);
    const float *audio[1] = { st.tone[0] };

    assert_int_equal(aoip_jitter_put(jb, 0x1234, 0, 0, audio, 65), -EINVAL);
    assert_int_equal(aoip_jitter_put(jb, 0x1234, 0, 0, audio, 0), -EINVAL);
    struct aoip_jitter_stats s = stats_of(jb);
    assert_int_equal(s.received, 0);
    assert_int_equal(s.level_frames, 0);
    assert_int_equal(aoip_jitter_put(jb, 0x1234, 0, 0, audio, 64), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(jb).level_frames, 96 + 64);
    assert_int_equal(stats_of(jb).received, 1);
    aoip_jitter_free(jb);
    stream_free(&st);
}

static void jitter_pull_size_differs_from_packet_size(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 2, 0x1234, 0, 0, 48, 1000, 997.0);
    struct player pl = { .jb = jb_new(2, 96, 0, 48), .st = &st, .next = -96 };
    uint32_t missing = 0;
    size_t k = 0;
    int64_t now = 0; /* media time, frames pulled */

    /* Each packet is put at the first pull boundary at or after it was sent. */
    for (int i = 0; now < 1000 * 48 - 96; i++) {
        uint32_t n = i % 2 ? 64 : 32;
        while (k < st.packets && (int64_t)k * 48 <= now)
            assert_int_equal(put(pl.jb, &st, k++), AOIP_JITTER_STORED);
        missing += play(&pl, n);
        now += n;
    }
    assert_int_equal(missing, 96);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.missing_frames, 0);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.late, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_multichannel_keeps_channel_order(void **state)
{
    (void)state;
    enum { CH = 8, KEEP = 4800 };
    static float kept[CH][KEEP];
    struct stream st;
    stream_init(&st, CH, 0x1234, 0, 0, 48, 200, 440.0);
    struct player pl = { .jb = jb_new(CH, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 2), 96);
    for (size_t k = 2; k < 2 + KEEP / 48; k++) {
        assert_int_equal(run_periods(&pl, k, k + 1), 0);
        for (unsigned c = 0; c < CH; c++)
            memcpy(kept[c] + (k - 2) * 48, out_buf[c], 48 * sizeof(float));
    }
    /* Each output channel carries its own tone, at its own frequency and level. */
    for (unsigned c = 0; c < CH; c++) {
        struct sig_fit f;
        assert_int_equal(sig_fit_sine(kept[c], KEEP, RATE, 0.0, &f), 0);
        assert_float_equal(f.freq, 440.0 * (1.0 + 0.29 * c), 1e-3);
        assert_float_equal(f.amp, 0.5 / (1.0 + 0.1 * c), 1e-5);
        assert_true(f.residual < 1e-6);
    }
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

/* 20 s of audio with small reordering through a ring of the given size. */
static void ring_wrap_run(uint32_t capacity)
{
    enum { PACKETS = 20000 };
    struct stream st;
    stream_init(&st, 2, 0x1234, 65000, UINT32_MAX - 100000, 48, PACKETS, 997.0);
    struct player pl = { .jb = jb_new(2, 96, capacity, 48), .st = &st, .next = -96 };
    uint32_t missing = 0;

    for (size_t k = 0; k < PACKETS; k++) {
        /* Every seventh pair arrives swapped. */
        size_t j = k % 7 == 3 ? k + 1 : k % 7 == 4 ? k - 1 : k;
        assert_int_equal(put(pl.jb, &st, j), AOIP_JITTER_STORED);
        missing += play(&pl, 48);
    }
    assert_int_equal(missing, 96);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.reordered, PACKETS / 7);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_ring_wraps_over_many_seconds(void **state)
{
    (void)state;
    ring_wrap_run(0);    /* a power of two */
    ring_wrap_run(1000); /* not one, and not a multiple of the packet */
}

/*
 * A seeded network (netmodel: loss, duplicates, exponential jitter with a
 * long tail) between a sender and the buffer. The test keeps its own books
 * from what it sent and when each copy was put: the verdict of every put,
 * every counter, the level after every pull and every frame played.
 */
struct arrival {
    int64_t at; /* media time in frames */
    uint64_t tie;
    uint32_t k;
};

static int arrival_cmp(const void *pa, const void *pb)
{
    const struct arrival *a = pa, *b = pb;

    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return a->tie < b->tie ? -1 : a->tie > b->tie;
}

static void stress_run(uint64_t seed)
{
    enum { N = 6000, F = 48, L = 240 };
    struct netmodel_config ncfg = {
        .seed = seed,
        .delay_ns = 0,
        .jitter_ns = 1000000,
        .jitter_exponential = true,
        .loss = 0.02,
        .duplicate = 0.02,
    };
    struct netmodel net;
    struct netmodel_rng rng;
    struct stream st;
    static struct arrival arr[2 * N];
    static uint8_t delivered[N];
    static uint8_t written[N * F];
    size_t narr = 0;

    netmodel_init(&net, &ncfg);
    netmodel_rng_seed(&rng, seed ^ 0x5EED);
    stream_init(&st, 2, 0xC0FFEE, 65535 - 2000, UINT32_MAX - 200 * F - 5, F, N, 997.0);
    struct player pl = { .jb = jb_new(2, L, 0, F), .st = &st, .next = -L };
    memset(delivered, 0, sizeof(delivered));
    memset(written, 0, sizeof(written));

    /* Packet k is sent at k ms = k * F frames; the first goes through at once. */
    arr[narr++] = (struct arrival){ .at = 0, .tie = 0, .k = 0 };
    for (uint32_t k = 1; k < N; k++) {
        struct netmodel_fate fate;
        netmodel_send(&net, (int64_t)k * 1000000, &fate);
        for (unsigned i = 0; i < fate.copies; i++)
            arr[narr++] = (struct arrival){ .at = fate.arrival_ns[i] * 48 / 1000000,
                                            .tie = netmodel_rng_next(&rng),
                                            .k = k };
    }
    qsort(arr, narr, sizeof(arr[0]), arrival_cmp);

    uint64_t dups = 0, late = 0, reordered = 0, distinct = 0, missing = 0;
    int64_t now = 0, max_k = -1, max_end = 0;
    uint32_t streak_packets = 0, streak_frames = 0;
    size_t next_arr = 0;

    while (next_arr < narr || now < (int64_t)N * F + L) {
        for (; next_arr < narr && arr[next_arr].at <= now; next_arr++) {
            uint32_t k = arr[next_arr].k;
            int64_t read = now - L; /* in stream samples */
            int64_t start = (int64_t)k * F;
            int expect;

            if (delivered[k]) {
                expect = AOIP_JITTER_DUPLICATE;
                dups++;
            } else {
                delivered[k] = 1;
                distinct++;
                reordered += (int64_t)k < max_k;
                max_k = (int64_t)k > max_k ? (int64_t)k : max_k;
                if (start < read) {
                    expect = AOIP_JITTER_LATE;
                    late++;
                    streak_packets++;
                    streak_frames += F;
                    /* The seeds are picked so that no late run forces a resync. */
                    assert_false(streak_packets >= 2 && streak_frames >= L);
                } else {
                    expect = AOIP_JITTER_STORED;
                    streak_packets = 0;
                    streak_frames = 0;
                }
                if (start + F > read) {
                    for (int64_t n = start > read ? start : read; n < start + F; n++)
                        written[n] = 1;
                    max_end = start + F > max_end ? start + F : max_end;
                }
            }
            assert_int_equal(put(pl.jb, &st, k), expect);
        }

        uint32_t n = 1 + (uint32_t)(netmodel_rng_next(&rng) % 96);
        uint32_t expect_missing = 0, expect_counted = 0;
        for (uint32_t i = 0; i < n; i++) {
            int64_t s = pl.next + i;
            bool absent = !(s >= 0 && s < (int64_t)N * F && written[s]);
            expect_missing += absent;
            /* Before sample 0 (packet 0 started the stream) is pre-roll. */
            expect_counted += absent && s >= 0;
        }
        uint64_t before = stats_of(pl.jb).missing_frames;
        assert_int_equal(play(&pl, n), expect_missing);
        for (uint32_t i = 0; i < n; i++) {
            int64_t s = pl.next - n + i;
            assert_int_equal(pl.missing[i], !(s >= 0 && s < (int64_t)N * F && written[s]));
        }
        assert_int_equal(stats_of(pl.jb).missing_frames, before + expect_counted);
        missing += expect_counted;
        now += n;
        assert_int_equal(stats_of(pl.jb).level_frames, max_end - (now - L));
    }

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.received, narr);
    assert_int_equal(s.duplicates, dups);
    assert_int_equal(s.late, late);
    assert_int_equal(s.reordered, reordered);
    assert_int_equal(s.lost, (uint64_t)(max_k + 1) - distinct);
    assert_int_equal(s.missing_frames, missing);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.strays, 0);
    /* The run exercised what it is meant to. */
    assert_true(dups > 0 && late > 0 && reordered > 0 && max_k + 1 > (int64_t)distinct);
    print_message("seed %llu: %zu puts, %llu dup, %llu late, %llu reordered, %llu lost\n",
                  (unsigned long long)seed, narr, (unsigned long long)dups,
                  (unsigned long long)late, (unsigned long long)reordered,
                  (unsigned long long)s.lost);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_random_stress_matches_what_was_sent(void **state)
{
    (void)state;
    const uint64_t seeds[] = { 1, 2, 3, 42, 20240601 };

    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        stress_run(seeds[i]);
}

/*
 * aoip_jitter_fill: audio a codec made for a lost packet (Opus FEC or
 * concealment). It plays where its timestamp says, but it is no packet: the
 * counters, the sequence state and the level stay what the network made them.
 */

/* Fill in packet k's place with audio taken from packet j of stream 'from'. */
static int fill_from(struct aoip_jitter *jb, const struct stream *st, size_t k,
                     const struct stream *from, size_t j)
{
    const float *audio[MAX_CH];

    assert_true(j < from->packets);
    for (unsigned c = 0; c < from->channels; c++)
        audio[c] = from->tone[c] + j * from->frames;
    return aoip_jitter_fill(jb, (uint32_t)(st->ts0 + k * st->frames), audio, from->frames);
}

/* Fill in packet k's place with what was sent in it, as FEC would rebuild it. */
static int fill(struct aoip_jitter *jb, const struct stream *st, size_t k)
{
    return fill_from(jb, st, k, st, k);
}

static void assert_stats_equal(const struct aoip_jitter_stats *a, const struct aoip_jitter_stats *b)
{
    assert_int_equal(a->received, b->received);
    assert_int_equal(a->lost, b->lost);
    assert_int_equal(a->late, b->late);
    assert_int_equal(a->duplicates, b->duplicates);
    assert_int_equal(a->reordered, b->reordered);
    assert_int_equal(a->resyncs, b->resyncs);
    assert_int_equal(a->strays, b->strays);
    assert_int_equal(a->missing_frames, b->missing_frames);
    assert_int_equal(a->level_frames, b->level_frames);
    assert_int_equal(a->latency_frames, b->latency_frames);
    assert_int_equal(a->next_timestamp, b->next_timestamp);
    assert_int_equal(a->highest_seq, b->highest_seq);
}

static void jitter_fill_covers_lost_packet_without_counting_it(void **state)
{
    (void)state;
    struct stream st;
    /* Packet 7 straddles both 2^32 and the end of the 256-frame ring. */
    stream_init(&st, 2, 0x1234, 0, UINT32_MAX - 359, 48, 20, 997.0);
    struct player pl = { .jb = jb_new(2, 96, 256, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 7), 96);
    assert_int_equal(play(&pl, 48), 0);                       /* packet 5 */
    assert_int_equal(put(pl.jb, &st, 8), AOIP_JITTER_STORED); /* 7 never comes */
    /* With packet 8 in hand, the decoder rebuilds 7 from its FEC. */
    struct aoip_jitter_stats before = stats_of(pl.jb);
    assert_int_equal(fill(pl.jb, &st, 7), 48);
    struct aoip_jitter_stats after = stats_of(pl.jb);
    assert_stats_equal(&after, &before);
    assert_int_equal(after.lost, 1);
    assert_int_equal(play(&pl, 48), 0); /* packet 6 */
    assert_int_equal(put(pl.jb, &st, 9), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 0); /* packet 7's place: the rebuilt audio */
    assert_int_equal(run_periods(&pl, 10, 20), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.received, 19);
    assert_int_equal(s.lost, 1); /* the network still lost it */
    assert_int_equal(s.missing_frames, 0);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(s.reordered, 0);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.strays, 0);
    assert_int_equal(s.highest_seq, 19);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_fill_before_first_packet_stores_nothing(void **state)
{
    (void)state;
    struct stream st, other;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 20, 997.0);
    stream_init(&other, 1, 0x1234, 0, 0, 48, 20, 1500.0);
    /* One pull before the first packet, then the usual pre-roll. */
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 - 48 };

    assert_int_equal(fill_from(pl.jb, &st, 1, &other, 1), 0);
    assert_int_equal(fill_from(pl.jb, &st, 0, &other, 0), 0);
    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.received, 0);
    assert_int_equal(s.level_frames, 0);
    assert_int_equal(s.next_timestamp, 0);
    assert_int_equal(s.highest_seq, 0);
    assert_int_equal(play(&pl, 48), 48);

    /* It never started a stream: the first packet does. */
    assert_int_equal(put(pl.jb, &st, 0), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 96 + 48);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(play(&pl, 48), 48);
    assert_int_equal(play(&pl, 48), 0);  /* packet 0 */
    assert_int_equal(play(&pl, 48), 48); /* packet 1's place: the refused fill is not there */

    s = stats_of(pl.jb);
    assert_int_equal(s.received, 1);
    assert_int_equal(s.missing_frames, 48);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
    stream_free(&other);
}

static void jitter_fill_of_played_frames_changes_nothing(void **state)
{
    (void)state;
    struct stream st, other;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 20, 997.0);
    stream_init(&other, 1, 0x1234, 0, 0, 48, 20, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 6), 96);
    assert_int_equal(put(pl.jb, &st, 7), AOIP_JITTER_STORED); /* 6 is lost */
    assert_int_equal(play(&pl, 48), 0);                       /* packet 4 */
    assert_int_equal(put(pl.jb, &st, 8), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 0);  /* packet 5 */
    assert_int_equal(play(&pl, 24), 24); /* first half of packet 6's place */

    /* Wholly played: nothing is stored, nothing counted. */
    struct aoip_jitter_stats before = stats_of(pl.jb);
    assert_int_equal(fill_from(pl.jb, &st, 5, &other, 5), 0);
    assert_int_equal(fill_from(pl.jb, &st, 0, &other, 0), 0);
    struct aoip_jitter_stats after = stats_of(pl.jb);
    assert_stats_equal(&after, &before);

    /* Half played: only the half ahead of the read position is stored. */
    assert_int_equal(fill(pl.jb, &st, 6), 24);
    after = stats_of(pl.jb);
    assert_stats_equal(&after, &before);
    assert_int_equal(play(&pl, 24), 0); /* second half of packet 6's place, rebuilt */
    assert_int_equal(run_periods(&pl, 9, 20), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.missing_frames, 24);
    assert_int_equal(s.lost, 1);
    assert_int_equal(s.received, 19);
    assert_int_equal(s.late, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
    stream_free(&other);
}

static void jitter_fill_leaves_received_frames_alone(void **state)
{
    (void)state;
    enum { F = 48 };
    static float mixed[2][F];
    struct stream st, other;
    stream_init(&st, 2, 0x1234, 0, 0, F, 20, 997.0);
    stream_init(&other, 2, 0x1234, 0, 0, F, 20, 1500.0);
    struct player pl = { .jb = jb_new(2, 96, 0, F), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 7), 96);
    assert_int_equal(put(pl.jb, &st, 8), AOIP_JITTER_STORED); /* 7 is lost */
    /* Over received packets, not yet played: nothing is stored. */
    assert_int_equal(fill_from(pl.jb, &st, 6, &other, 6), 0);
    assert_int_equal(fill_from(pl.jb, &st, 8, &other, 8), 0);

    /* Over the second half of 7's place and the first half of packet 8: the
     * half over the hole is stored, the half over packet 8 (junk) is not. */
    const float *audio[2] = { mixed[0], mixed[1] };
    for (unsigned c = 0; c < 2; c++) {
        for (uint32_t i = 0; i < F; i++)
            mixed[c][i] = i < F / 2 ? st.tone[c][7 * F + F / 2 + i] : 7.0f;
    }
    assert_int_equal(aoip_jitter_fill(pl.jb, 7 * F + F / 2, audio, F), F / 2);

    assert_int_equal(play(&pl, F), 0); /* packet 5 */
    assert_int_equal(put(pl.jb, &st, 9), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, F), 0); /* packet 6, as received */
    assert_int_equal(put(pl.jb, &st, 10), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, F), F / 2); /* packet 7's place */
    assert_int_equal(missing_in(&pl, 0, F / 2), F / 2);
    assert_int_equal(missing_in(&pl, F / 2, F), 0);
    assert_int_equal(run_periods(&pl, 11, 20), 0); /* packet 8 first, as received */

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.missing_frames, F / 2);
    assert_int_equal(s.lost, 1);
    assert_int_equal(s.duplicates, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
    stream_free(&other);
}

static void jitter_put_after_fill_replaces_filled_audio(void **state)
{
    (void)state;
    enum { F = 48 };
    static float mixed[1][F];
    struct stream st, other;
    stream_init(&st, 1, 0x1234, 0, 0, F, 20, 997.0);
    /* What concealment guessed: not what was sent, so it must not be heard. */
    stream_init(&other, 1, 0x1234, 0, 0, F, 20, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, F), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 7), 96);
    assert_int_equal(put(pl.jb, &st, 8), AOIP_JITTER_STORED);
    assert_int_equal(fill_from(pl.jb, &st, 7, &other, 7), F);
    /* Packet 7 was only late on the network: it is judged as if no fill had
     * been, and its audio replaces the guess. A real copy is a duplicate. */
    assert_int_equal(put(pl.jb, &st, 7), AOIP_JITTER_STORED);
    assert_int_equal(put(pl.jb, &st, 7), AOIP_JITTER_DUPLICATE);
    assert_int_equal(play(&pl, F), 0); /* packet 5 */
    assert_int_equal(play(&pl, F), 0); /* packet 6 */
    assert_int_equal(put(pl.jb, &st, 9), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, F), 0); /* packet 7, as received */
    assert_int_equal(run_periods(&pl, 10, 12), 0);

    /* Packet 12 comes after its first half played: that half plays the fill,
     * the rest the packet, which counts as late. */
    assert_int_equal(put(pl.jb, &st, 13), AOIP_JITTER_STORED);
    const float *audio[1] = { mixed[0] };
    for (uint32_t i = 0; i < F; i++)
        mixed[0][i] = i < F / 2 ? st.tone[0][12 * F + i] : other.tone[0][12 * F + i];
    assert_int_equal(aoip_jitter_fill(pl.jb, 12 * F, audio, F), F);
    assert_int_equal(play(&pl, F), 0); /* packet 10 */
    assert_int_equal(put(pl.jb, &st, 14), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, F), 0);     /* packet 11 */
    assert_int_equal(play(&pl, F / 2), 0); /* packet 12's first half, filled */
    assert_int_equal(put(pl.jb, &st, 12), AOIP_JITTER_LATE);
    assert_int_equal(play(&pl, F / 2), 0); /* its second half, as received */
    assert_int_equal(put(pl.jb, &st, 15), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, F), 0); /* packet 13 */
    assert_int_equal(run_periods(&pl, 16, 20), 0);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.received, 21);
    assert_int_equal(s.lost, 0);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(s.reordered, 2); /* 7 after 8, 12 after 14 */
    assert_int_equal(s.late, 1);
    assert_int_equal(s.resyncs, 0);
    assert_int_equal(s.missing_frames, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
    stream_free(&other);
}

static void jitter_later_fill_replaces_earlier_fill(void **state)
{
    (void)state;
    struct stream st, other;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 20, 997.0);
    stream_init(&other, 1, 0x1234, 0, 0, 48, 20, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 7), 96);
    /* Concealment first, then the FEC that came with packet 8. */
    assert_int_equal(fill_from(pl.jb, &st, 7, &other, 7), 48);
    assert_int_equal(put(pl.jb, &st, 8), AOIP_JITTER_STORED);
    assert_int_equal(fill(pl.jb, &st, 7), 48);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(put(pl.jb, &st, 9), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 0);
    assert_int_equal(put(pl.jb, &st, 10), AOIP_JITTER_STORED);
    assert_int_equal(play(&pl, 48), 0); /* packet 7's place: the FEC audio */
    assert_int_equal(run_periods(&pl, 11, 20), 0);
    assert_int_equal(stats_of(pl.jb).lost, 1);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
    stream_free(&other);
}

static void jitter_fill_does_not_move_level(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 48, 20, 997.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &st, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 10), 96);
    assert_int_equal(stats_of(pl.jb).level_frames, 96);
    assert_int_equal(put(pl.jb, &st, 11), AOIP_JITTER_STORED); /* 10 is lost */
    assert_int_equal(stats_of(pl.jb).level_frames, 192);
    assert_int_equal(fill(pl.jb, &st, 10), 48); /* in the hole */
    assert_int_equal(stats_of(pl.jb).level_frames, 192);
    /* Beyond the newest packet: stored, but the level is what was received. */
    assert_int_equal(fill(pl.jb, &st, 12), 48);
    assert_int_equal(fill(pl.jb, &st, 13), 48);
    assert_int_equal(stats_of(pl.jb).level_frames, 192);

    assert_int_equal(play(&pl, 48), 0); /* packet 8 */
    assert_int_equal(stats_of(pl.jb).level_frames, 144);
    assert_int_equal(play(&pl, 48), 0); /* packet 9 */
    assert_int_equal(play(&pl, 48), 0); /* 10, filled */
    assert_int_equal(play(&pl, 48), 0); /* packet 11 */
    assert_int_equal(stats_of(pl.jb).level_frames, 0);
    /* Played past everything received, on filled audio. */
    assert_int_equal(play(&pl, 48), 0); /* 12, filled */
    assert_int_equal(stats_of(pl.jb).level_frames, -48);
    /* Packet 13 comes after all: it replaces its fill and moves the level. */
    assert_int_equal(put(pl.jb, &st, 13), AOIP_JITTER_STORED);
    assert_int_equal(stats_of(pl.jb).level_frames, 48);
    assert_int_equal(play(&pl, 48), 0);  /* packet 13 */
    assert_int_equal(play(&pl, 48), 48); /* nothing, received or made */
    assert_int_equal(stats_of(pl.jb).level_frames, -48);

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.received, 12);
    assert_int_equal(s.lost, 2); /* 10 and 12 */
    assert_int_equal(s.missing_frames, 48);
    assert_int_equal(s.reordered, 0);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.resyncs, 0);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_fill_stops_at_the_ring_edge(void **state)
{
    (void)state;
    enum { F = 48, CAP = 1024 };
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, F, 40, 997.0);
    struct player pl = { .jb = jb_new(1, 96, CAP, F), .st = &st, .next = -96 };
    const float *audio[1];

    assert_int_equal(run_periods(&pl, 0, 4), 96);
    int64_t read = pl.next; /* stream sample = timestamp: ts0 is 0 */
    assert_int_equal(read, 96);
    /* Straddling the last slot of the ring: the part inside is stored. */
    audio[0] = st.tone[0] + read + CAP - F / 2;
    assert_int_equal(aoip_jitter_fill(pl.jb, (uint32_t)(read + CAP - F / 2), audio, F), F / 2);
    /* Wholly beyond it: nothing. */
    audio[0] = st.tone[0] + read + CAP;
    assert_int_equal(aoip_jitter_fill(pl.jb, (uint32_t)(read + CAP), audio, F), 0);
    assert_int_equal(stats_of(pl.jb).level_frames, 96);

    /* Packets 2 and 3, a long gap, then the frames filled at the edge. */
    assert_int_equal(play(&pl, CAP), CAP - 96 - F / 2);
    assert_int_equal(missing_in(&pl, 0, 96), 0);
    assert_int_equal(missing_in(&pl, CAP - F / 2, CAP), 0);
    assert_int_equal(stats_of(pl.jb).missing_frames, CAP - 96 - F / 2);
    assert_int_equal(stats_of(pl.jb).level_frames, 96 - CAP);
    aoip_jitter_free(pl.jb);
    stream_free(&st);
}

static void jitter_resync_drops_filled_audio(void **state)
{
    (void)state;
    struct stream a, b;
    stream_init(&a, 1, 0x1111, 0, 0, 48, 20, 997.0);
    /* A new sender on the same timeline: its packet 1 follows a's packet 9. */
    stream_init(&b, 1, 0x2222, 5000, 432, 48, 30, 1500.0);
    struct player pl = { .jb = jb_new(1, 96, 0, 48), .st = &a, .next = -96 };

    assert_int_equal(run_periods(&pl, 0, 10), 96);
    /* Concealment ahead of a's newest packet, over where b will play. */
    assert_int_equal(fill(pl.jb, &a, 10), 48);
    assert_int_equal(fill(pl.jb, &a, 11), 48);
    assert_int_equal(put(pl.jb, &b, 0), AOIP_JITTER_PROBATION);
    assert_int_equal(put(pl.jb, &b, 1), AOIP_JITTER_RESYNC);

    pl.st = &b;
    pl.next = 48 - 96;
    assert_int_equal(play(&pl, 48), 48); /* pre-roll */
    assert_int_equal(play(&pl, 48), 48); /* b's packet 0, dropped in probation */
    assert_int_equal(play(&pl, 48), 0);  /* b's packet 1 */
    assert_int_equal(play(&pl, 48), 48); /* b's packet 2 never came; a's fill is gone */

    struct aoip_jitter_stats s = stats_of(pl.jb);
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.received, 12);
    assert_int_equal(s.missing_frames, 48);
    aoip_jitter_free(pl.jb);
    stream_free(&a);
    stream_free(&b);
}

static void jitter_fill_rejects_bad_sizes(void **state)
{
    (void)state;
    struct stream st;
    stream_init(&st, 1, 0x1234, 0, 0, 49, 4, 997.0);
    struct aoip_jitter *jb = jb_new(1, 96, 0, 48);
    const float *audio[1] = { st.tone[0] };

    assert_int_equal(aoip_jitter_fill(jb, 0, audio, 0), -EINVAL);
    assert_int_equal(aoip_jitter_fill(jb, 0, audio, 49), -EINVAL);
    assert_int_equal(aoip_jitter_put(jb, 0x1234, 0, 0, audio, 48), AOIP_JITTER_STORED);
    struct aoip_jitter_stats before = stats_of(jb);
    assert_int_equal(aoip_jitter_fill(jb, 48, audio, 0), -EINVAL);
    assert_int_equal(aoip_jitter_fill(jb, 48, audio, 49), -EINVAL);
    struct aoip_jitter_stats after = stats_of(jb);
    assert_stats_equal(&after, &before);
    /* The largest packet is fine. */
    assert_int_equal(aoip_jitter_fill(jb, 48, audio, 48), 48);
    aoip_jitter_free(jb);
    stream_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jitter_plays_in_order_stream_after_latency),
        cmocka_unit_test(jitter_reorders_within_window),
        cmocka_unit_test(jitter_first_packet_overtaken_is_played_and_accounted),
        cmocka_unit_test(jitter_counts_duplicates_once),
        cmocka_unit_test(jitter_late_packet_counted_and_future_part_kept),
        cmocka_unit_test(jitter_lost_packet_flags_missing_frames),
        cmocka_unit_test(jitter_sequence_wrap_is_seamless),
        cmocka_unit_test(jitter_timestamp_wrap_is_seamless),
        cmocka_unit_test(jitter_new_ssrc_resyncs_after_two_packets),
        cmocka_unit_test(jitter_resync_keeps_loss_count_and_forgets_old_sequence),
        cmocka_unit_test(jitter_resync_needs_exact_continuation),
        cmocka_unit_test(jitter_stray_packet_is_dropped_and_counted),
        cmocka_unit_test(jitter_timestamp_jump_resyncs),
        cmocka_unit_test(jitter_far_future_packet_probation),
        cmocka_unit_test(jitter_ring_edge_is_the_limit_ahead),
        cmocka_unit_test(jitter_far_behind_packet_probation),
        cmocka_unit_test(jitter_late_streak_resyncs),
        cmocka_unit_test(jitter_late_bursts_resync),
        cmocka_unit_test(jitter_burst_of_stale_packets_changes_nothing),
        cmocka_unit_test(jitter_single_late_packet_does_not_resync),
        cmocka_unit_test(jitter_pull_before_first_packet_is_silent_and_uncounted),
        cmocka_unit_test(jitter_preroll_is_not_missing),
        cmocka_unit_test(jitter_level_far_above_target_settles),
        cmocka_unit_test(jitter_brief_high_level_does_not_settle),
        cmocka_unit_test(jitter_expect_plays_on_the_given_timeline),
        cmocka_unit_test(jitter_expect_ignores_other_streams_and_late_packets),
        cmocka_unit_test(jitter_resync_preroll_is_not_missing),
        cmocka_unit_test(jitter_highest_seq_extends_across_wraps),
        cmocka_unit_test(jitter_highest_seq_is_the_current_streams),
        cmocka_unit_test(jitter_level_tracks_stored_audio),
        cmocka_unit_test(jitter_set_latency_applies_at_next_resync),
        cmocka_unit_test(jitter_rejects_bad_config),
        cmocka_unit_test(jitter_put_rejects_oversized_packet),
        cmocka_unit_test(jitter_pull_size_differs_from_packet_size),
        cmocka_unit_test(jitter_multichannel_keeps_channel_order),
        cmocka_unit_test(jitter_ring_wraps_over_many_seconds),
        cmocka_unit_test(jitter_random_stress_matches_what_was_sent),
        cmocka_unit_test(jitter_fill_covers_lost_packet_without_counting_it),
        cmocka_unit_test(jitter_fill_before_first_packet_stores_nothing),
        cmocka_unit_test(jitter_fill_of_played_frames_changes_nothing),
        cmocka_unit_test(jitter_fill_leaves_received_frames_alone),
        cmocka_unit_test(jitter_put_after_fill_replaces_filled_audio),
        cmocka_unit_test(jitter_later_fill_replaces_earlier_fill),
        cmocka_unit_test(jitter_fill_does_not_move_level),
        cmocka_unit_test(jitter_fill_stops_at_the_ring_edge),
        cmocka_unit_test(jitter_resync_drops_filled_audio),
        cmocka_unit_test(jitter_fill_rejects_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
