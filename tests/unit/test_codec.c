/*
 * test_codec.c: Opus rx flows on the media thread (daemon/codec.c): the
 * order in which packets are decoded, and what goes into the jitter
 * buffer for packets that never came.
 *
 * A 1 kHz tone on two channels is encoded in 10 ms frames with FEC on
 * (hybrid mode, so the packets carry FEC), and fed packet by packet to
 * opus_rx_take with a jitter buffer behind it. Each case then checks the
 * decoder's counts (decoded, recovered by FEC, concealed, corrupt), the
 * buffer's (lost, received, duplicates) and that the frames played hold
 * audio, not a hole: a rebuilt frame fills its place without counting as
 * received.
 *
 * At a node of another rate, the same with conversion: rx frames land on
 * the node's timeline at its rate, tx audio at the node's rate goes out
 * as 48 kHz frames; the tone keeps its frequency and level.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "sig.h"

#define CH      2
#define FRAME   480 /* 10 ms */
#define PACKETS 60
#define SSRC    0x1234abcdu
#define TS0     4294967000u /* the timestamp wraps during the test */

struct stream {
    uint8_t payload[PACKETS][1500];
    size_t len[PACKETS];
};

static struct aoip_opus_config config(void)
{
    struct aoip_opus_config c;
    assert_int_equal(aoip_opus_config_default(&c, CH), 0);
    aoip_opus_mapping_mono(&c.mapping, CH);
    c.frame_us = 10000;
    c.bitrate = 128000;
    c.fec = true;
    c.expected_loss = 20;
    return c;
}

static void encode(struct stream *s)
{
    struct aoip_opus_config c = config();
    struct aoip_opus_encoder *enc = aoip_opus_encoder_new(&c);
    float buf[CH][FRAME];
    const float *in[CH] = { buf[0], buf[1] };
    assert_non_null(enc);
    for (int p = 0; p < PACKETS; p++) {
        for (int i = 0; i < FRAME; i++) {
            double t = (double)(p * FRAME + i) / 48000.0;
            buf[0][i] = (float)(0.25 * sin(2.0 * M_PI * 1000.0 * t));
            buf[1][i] = (float)(0.25 * sin(2.0 * M_PI * 700.0 * t));
        }
        int n = aoip_opus_encode(enc, s->payload[p], sizeof(s->payload[p]), in);
        assert_true(n > 0);
        s->len[p] = (size_t)n;
    }
    aoip_opus_encoder_free(enc);
}

struct rig {
    struct stream s;
    struct opus_rx *rx;
    struct aoip_jitter *jb;
};

static int setup(void **state)
{
    struct rig *r = calloc(1, sizeof(*r));
    struct aoip_opus_config c = config();
    struct aoip_jitter_config jc = { .channels = CH,
                                     .latency_frames = 4 * FRAME,
                                     .max_packet_frames = FRAME };
    encode(&r->s);
    r->rx = opus_rx_new(&c, 48000, true, false);
    r->jb = aoip_jitter_new(&jc);
    assert_non_null(r->rx);
    assert_non_null(r->jb);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    opus_rx_free(r->rx);
    aoip_jitter_free(r->jb);
    free(r);
    return 0;
}

/* Packet p of the stream, with its own sequence number and timestamp;
 * then a frame's worth played out, as the media thread would meanwhile
 * (the buffer keeps a latency of four frames). */
static int take(struct rig *r, int p)
{
    static float buf[CH][FRAME];
    float *out[CH] = { buf[0], buf[1] };
    struct aoip_rtp_packet pkt = { .payload_type = 96,
                                   .seq = (uint16_t)(65500 + p),
                                   .timestamp = TS0 + (uint32_t)(p * FRAME),
                                   .ssrc = SSRC };
    int v = opus_rx_take(r->rx, r->jb, &pkt, r->s.payload[p], r->s.len[p]);
    aoip_jitter_pull(r->jb, out, NULL, FRAME);
    return v;
}

/* Frames played with nothing in them, once everything taken has played. */
static uint64_t missing_after_all(struct rig *r)
{
    static float buf[CH][4 * FRAME];
    float *out[CH] = { buf[0], buf[1] };
    struct aoip_jitter_stats js;
    aoip_jitter_pull(r->jb, out, NULL, 4 * FRAME);
    aoip_jitter_get_stats(r->jb, &js);
    return js.missing_frames;
}

static void counts(struct rig *r, uint64_t decoded, uint64_t recovered, uint64_t concealed,
                   uint64_t corrupt)
{
    struct aoip_opus_decoder_stats ds;
    opus_rx_stats(r->rx, &ds);
    assert_int_equal(ds.decoded, decoded);
    assert_int_equal(ds.recovered, recovered);
    assert_int_equal(ds.concealed, concealed);
    assert_int_equal(ds.corrupt, corrupt);
}

static void in_order_decodes_every_packet(void **state)
{
    struct rig *r = *state;
    for (int p = 0; p < 20; p++)
        assert_true(take(r, p) >= 0);
    counts(r, 20, 0, 0, 0);
    assert_int_equal(missing_after_all(r), 0);
}

/* One packet lost: the next one's FEC rebuilds it, in its place, and the
 * buffer still counts the loss. */
static void a_lost_packet_is_rebuilt_from_fec(void **state)
{
    struct rig *r = *state;
    for (int p = 0; p < 30; p++)
        if (p != 20)
            assert_true(take(r, p) >= 0);
    counts(r, 29, 1, 0, 0);
    struct aoip_jitter_stats js;
    aoip_jitter_get_stats(r->jb, &js);
    assert_int_equal(js.lost, 1);
    assert_int_equal(js.received, 29);
    assert_int_equal(missing_after_all(r), 0);
}

/* Three in a row: two concealed, the last rebuilt. */
static void a_burst_is_concealed_then_rebuilt(void **state)
{
    struct rig *r = *state;
    for (int p = 0; p < 30; p++)
        if (p < 20 || p > 22)
            assert_true(take(r, p) >= 0);
    counts(r, 27, 1, 2, 0);
    assert_int_equal(missing_after_all(r), 0);
}

/* A long gap: only the last CODEC_GAP_FRAMES are made; the older ones are
 * counted as skipped and left to the buffer's own concealment. */
static void a_long_gap_makes_only_the_last_frames(void **state)
{
    struct rig *r = *state;
    for (int p = 0; p < 40; p++)
        if (p < 20 || p >= 30)
            assert_true(take(r, p) >= 0);
    counts(r, 30, 1, CODEC_GAP_FRAMES - 1, 0);
    assert_int_equal(r->rx->skipped, 10 - CODEC_GAP_FRAMES);
    assert_int_equal(missing_after_all(r), (10 - CODEC_GAP_FRAMES) * FRAME);
}

/* A packet overtaken by its successor was decided already: late, dropped;
 * a duplicate likewise. */
static void a_packet_after_its_successor_is_late(void **state)
{
    struct rig *r = *state;
    for (int p = 0; p < 20; p++)
        take(r, p);
    assert_true(take(r, 21) >= 0);
    assert_int_equal(take(r, 20), -1);
    assert_int_equal(take(r, 21), -1);
    assert_int_equal(r->rx->late, 2);
    counts(r, 21, 1, 0, 0);
}

/* A payload that is not Opus: counted corrupt, concealed, and the packets
 * after it decode. */
static void a_corrupt_payload_is_counted_and_concealed(void **state)
{
    struct rig *r = *state;
    memset(r->s.payload[10], 0xff, r->s.len[10]);
    for (int p = 0; p < 20; p++)
        assert_true(take(r, p) >= 0);
    counts(r, 19, 0, 0, 1);
    assert_int_equal(missing_after_all(r), 0);
}

/* A new SSRC, or a jump far ahead, restarts the decoder on it. */
static void a_new_stream_restarts_the_decoder(void **state)
{
    struct rig *r = *state;
    for (int p = 0; p < 10; p++)
        take(r, p);
    struct aoip_rtp_packet pkt = { .payload_type = 96, .seq = 7, .timestamp = 99, .ssrc = 42 };
    assert_true(opus_rx_take(r->rx, r->jb, &pkt, r->s.payload[10], r->s.len[10]) >= 0);
    assert_int_equal(r->rx->ssrc, 42);
    assert_int_equal(r->rx->next_seq, 8);
    assert_int_equal(r->rx->skipped, 0);
    counts(r, 11, 0, 0, 0);
}

/* Other equipment picks its frame: a decoder set up for 20 ms that
 * follows its sender plays 10 ms packets, a loss among them included. */
static void a_follower_takes_the_senders_frame(void **state)
{
    struct rig *r = *state;
    struct aoip_opus_config c = config();
    c.frame_us = 20000;
    opus_rx_free(r->rx);
    r->rx = opus_rx_new(&c, 48000, true, true);
    assert_non_null(r->rx);
    assert_int_equal(r->rx->frame, 960);
    for (int p = 0; p < 30; p++)
        if (p != 12)
            assert_true(take(r, p) >= 0);
    assert_int_equal(r->rx->frame, FRAME);
    counts(r, 29, 1, 0, 0);
    assert_int_equal(missing_after_all(r), 0);

    /* A decoder that does not follow counts them corrupt. */
    opus_rx_free(r->rx);
    r->rx = opus_rx_new(&c, 48000, true, false);
    take(r, 30);
    counts(r, 0, 0, 0, 1);
}

/* The two tones' level and frequency in x[0..n) at rate (after the start). */
static void tone_is(const float *x, size_t n, double rate, double freq)
{
    struct sig_fit fit;
    assert_int_equal(sig_fit_sine(x, n, rate, freq, &fit), 0);
    print_message("tone %.3f Hz at %.2f dBFS, residual %.1f dB\n", fit.freq, sig_dbfs(fit.amp),
                  sig_dbfs(fit.residual * sqrt(2.0)));
    assert_true(fabs(fit.freq - freq) < 0.05);
    assert_true(fabs(sig_dbfs(fit.amp) - sig_dbfs(0.25)) < 0.5);
}

/* At 44.1 kHz: each 10 ms packet is 441 of the node's frames at a
 * timestamp that counts them, across the wrap of the wire's; a lost
 * packet is rebuilt in its place; the tone comes out at 1 kHz. */
static void at_44k1_packets_land_on_the_nodes_timeline(void **state)
{
    struct rig *r = *state;
    const uint32_t lf = 441;
    static float played[CH][PACKETS * 441];
    struct aoip_opus_config c = config();
    opus_rx_free(r->rx);
    r->rx = opus_rx_new(&c, 44100, true, false);
    assert_non_null(r->rx);
    float *out[CH];
    for (int p = 0; p < PACKETS; p++) {
        /* The buffer keeps four frames; a frame's worth plays per packet. */
        out[0] = played[0] + p * lf;
        out[1] = played[1] + p * lf;
        if (p == 30) {
            aoip_jitter_pull(r->jb, out, NULL, lf);
            continue;
        }
        struct aoip_rtp_packet pkt = { .payload_type = 96,
                                       .seq = (uint16_t)(65500 + p),
                                       .timestamp = TS0 + (uint32_t)(p * FRAME),
                                       .ssrc = SSRC };
        assert_true(opus_rx_take(r->rx, r->jb, &pkt, r->s.payload[p], r->s.len[p]) >= 0);
        assert_int_equal(r->rx->local_frame, lf);
        assert_int_equal(r->rx->local_ts, TS0 + (uint32_t)p * lf);
        assert_int_equal(r->rx->wire_ts, pkt.timestamp);
        aoip_jitter_pull(r->jb, out, NULL, lf);
    }
    counts(r, PACKETS - 1, 1, 0, 0);
    struct aoip_jitter_stats js;
    aoip_jitter_get_stats(r->jb, &js);
    assert_int_equal(js.lost, 1);
    tone_is(played[0] + 10 * lf, 45 * lf, 44100, 1000.0);
    tone_is(played[1] + 10 * lf, 45 * lf, 44100, 700.0);
    assert_true(opus_rx_delay(r->rx) > 0.0);
}

/* A sender at 96 kHz with 1 ms periods and 5 ms frames: a packet every
 * five periods, of 240 frames at 48 kHz, that decode to the tone. */
static void at_96k_a_sender_sends_48k_frames(void **state)
{
    (void)state;
    enum { PERIOD = 96, PERIODS = 400 };
    struct aoip_opus_config c = config();
    c.frame_us = 5000;
    struct opus_tx *tx = opus_tx_new(&c, 96000, PERIOD);
    struct aoip_opus_decoder *dec = aoip_opus_decoder_new(&c);
    static float in[CH][PERIOD], decoded[CH][PERIODS / 5 * 240];
    const float *planes[CH];
    unsigned packets = 0;
    assert_non_null(tx);
    assert_non_null(dec);
    assert_true(tx->delay > 0.0);
    for (int p = 0; p < PERIODS; p++) {
        sig_tone(in[0], PERIOD, 1000.0, 96000, 0.25, 0.0, (int64_t)p * PERIOD);
        sig_tone(in[1], PERIOD, 700.0, 96000, 0.25, 0.0, (int64_t)p * PERIOD);
        const float *pin[CH] = { in[0], in[1] };
        opus_tx_push(tx, pin, PERIOD);
        while (opus_tx_staged(tx, planes)) {
            uint8_t pkt[1500];
            int len = aoip_opus_encode(tx->enc, pkt, sizeof(pkt), planes);
            assert_true(len > 0);
            float *out[CH] = { decoded[0] + packets * 240, decoded[1] + packets * 240 };
            assert_int_equal(aoip_opus_decode(dec, out, pkt, (size_t)len), AOIP_OPUS_DECODED);
            opus_tx_sent(tx);
            packets++;
        }
        assert_int_equal(packets, (unsigned)(p + 1) / 5);
    }
    tone_is(decoded[0] + 4800, 12000, 48000, 1000.0);
    tone_is(decoded[1] + 4800, 12000, 48000, 700.0);
    aoip_opus_decoder_free(dec);
    opus_tx_free(tx);
}

/* At 44.1 kHz a flow that replaces another of the same sender (a re-pack:
 * a new SSRC, the same wire timeline) puts its packets where the old one
 * would have: it takes over the old one's mapping. Without that, each
 * anchors on its own first packet, and the two land apart. */
static void at_44k1_a_replacement_keeps_the_timeline(void **state)
{
    struct rig *r = *state;
    struct aoip_opus_config c = config();
    struct opus_rx *old = opus_rx_new(&c, 44100, true, false);
    struct opus_rx *repl = opus_rx_new(&c, 44100, true, false);
    struct opus_rx *alone = opus_rx_new(&c, 44100, true, false);
    assert_non_null(old);
    assert_non_null(repl);
    assert_non_null(alone);
    uint32_t at[PACKETS];
    for (int p = 0; p < 20; p++) {
        struct aoip_rtp_packet pkt = { .payload_type = 96,
                                       .seq = (uint16_t)p,
                                       .timestamp = TS0 + (uint32_t)(p * FRAME),
                                       .ssrc = SSRC };
        opus_rx_take(old, r->jb, &pkt, r->s.payload[p], r->s.len[p]);
        at[p] = old->local_ts;
    }
    opus_rx_follow(repl, old);
    for (int p = 12; p < 20; p++) {
        struct aoip_rtp_packet pkt = { .payload_type = 96,
                                       .seq = (uint16_t)(900 + p),
                                       .timestamp = TS0 + (uint32_t)(p * FRAME),
                                       .ssrc = SSRC + 1 };
        opus_rx_take(repl, r->jb, &pkt, r->s.payload[p], r->s.len[p]);
        assert_int_equal(repl->local_ts, at[p]);
        opus_rx_take(alone, r->jb, &pkt, r->s.payload[p], r->s.len[p]);
    }
    assert_int_not_equal(alone->local_ts, at[19]);
    opus_rx_free(old);
    opus_rx_free(repl);
    opus_rx_free(alone);
}

/* Frames that are no whole number of the node's: refused. */
static void frames_must_fit_the_rate(void **state)
{
    (void)state;
    struct aoip_opus_config c = config();
    c.frame_us = 5000;
    assert_null(opus_tx_new(&c, 44100, 441));
    assert_null(opus_rx_new(&c, 44100, true, false));
    c.frame_us = 2500;
    assert_null(opus_rx_new(&c, 88200, true, false));
    c.frame_us = 20000;
    struct opus_rx *rx = opus_rx_new(&c, 88200, true, true);
    assert_non_null(rx);
    opus_rx_free(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(in_order_decodes_every_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lost_packet_is_rebuilt_from_fec, setup, teardown),
        cmocka_unit_test_setup_teardown(a_burst_is_concealed_then_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(a_long_gap_makes_only_the_last_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(a_packet_after_its_successor_is_late, setup, teardown),
        cmocka_unit_test_setup_teardown(a_corrupt_payload_is_counted_and_concealed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_new_stream_restarts_the_decoder, setup, teardown),
        cmocka_unit_test_setup_teardown(a_follower_takes_the_senders_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(at_44k1_packets_land_on_the_nodes_timeline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(at_44k1_a_replacement_keeps_the_timeline, setup, teardown),
        cmocka_unit_test(at_96k_a_sender_sends_48k_frames),
        cmocka_unit_test(frames_must_fit_the_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
