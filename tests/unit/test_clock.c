/*
 * test_clock.c: clock recovery (lib/clock.c) against a small model of a
 * receive flow.
 *
 * The model is the part of the engine clock recovery sees: a sender whose
 * sample clock runs at (1 + ppm) times ours sends a 48-frame packet each
 * time one is complete; it arrives after a fixed delay and a seeded jitter;
 * a buffer counts frames (the newest packet's end minus the read position,
 * placed one target behind the first packet as the jitter buffer places
 * it); every 48 frames of our clock the level goes to aoip_clock_update and
 * the ratio it returns decides how many frames the period consumes, with
 * the fraction carried as a resampler carries it. The simulation in
 * tests/sim/sim_clock.c runs the real jitter buffer and resampler for an
 * hour; these tests pin one behaviour each.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/clock.h"
#include "netmodel.h"

#define RATE   48000
#define PERIOD 48
#define PACKET 48 /* unless a test sets the flow's own */

struct flow {
    struct aoip_clock clk;
    struct netmodel_rng rng;
    int64_t packet;      /* frames per packet */
    double ppm;          /* the sender against us */
    double jitter_ms;    /* uniform 0..this on top of the delay */
    int64_t ts0;         /* extended RTP timestamp of packet 0 */
    int64_t sent;        /* packets that arrived so far */
    int64_t base_k;      /* packet base_k completes at our time base_t, the rest follow */
    double base_t;       /* at the sender's rate */
    double next_at;      /* arrival of packet `sent`; < 0: not drawn yet */
    int64_t arrived_end; /* extended timestamp just past the newest packet in */
    int64_t read;        /* extended timestamp of the next frame consumed */
    double frac;         /* the consumption not yet taken as whole frames */
    bool started;
    uint64_t period; /* our periods so far */
    double target;
    double ratio;
    double level; /* the last level given to aoip_clock_update */
    bool report_arrivals;
};

/* Path delay: 0.3 ms. */
#define DELAY (0.3e-3 * RATE)

static void flow_init(struct flow *f, double ppm, double target, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    struct aoip_clock_config cfg = { .sample_rate = RATE, .period_frames = PERIOD };
    aoip_clock_init(&f->clk, &cfg);
    netmodel_rng_seed(&f->rng, seed);
    f->packet = PACKET;
    f->ppm = ppm;
    f->jitter_ms = 0.05;
    f->ts0 = 4000000000LL;
    f->base_k = 0;
    f->base_t = 17.0; /* the sender's packets fall anywhere against our periods */
    f->next_at = -1.0;
    f->target = target;
    f->ratio = 1.0;
    f->report_arrivals = true;
}

/* Our time, in frames, at which packet k is complete and sent. */
static double send_time(const struct flow *f, int64_t k)
{
    return f->base_t + (double)(k - f->base_k + 1) * (double)f->packet / (1.0 + f->ppm * 1e-6);
}

/* The sender's clock changes rate from the next packet on. */
static void flow_set_ppm(struct flow *f, double ppm)
{
    f->base_t = send_time(f, f->sent - 1);
    f->base_k = f->sent;
    f->ppm = ppm;
    f->next_at = -1.0;
}

/* One period of ours: packets that arrived by now, then update and consume. */
static void flow_period(struct flow *f)
{
    double now = (double)f->period * PERIOD;
    /* The jitter is below a packet time, so packets arrive in order. */
    for (;;) {
        if (f->next_at < 0.0)
            f->next_at = send_time(f, f->sent) + DELAY +
                         netmodel_rng_uniform(&f->rng) * f->jitter_ms * 1e-3 * RATE;
        if (f->next_at > now)
            break;
        int64_t ts = f->ts0 + f->sent * f->packet;
        if (!f->started) {
            f->started = true;
            f->read = ts - (int64_t)f->target;
        }
        f->arrived_end = ts + f->packet;
        if (f->report_arrivals)
            aoip_clock_arrival(&f->clk, ts, f->next_at);
        f->sent++;
        f->next_at = -1.0;
    }
    if (f->started) {
        f->level = (double)(f->arrived_end - f->read);
        f->ratio = aoip_clock_update(&f->clk, f->level, f->target);
        f->frac += f->ratio * PERIOD;
        int64_t n = (int64_t)floor(f->frac);
        f->frac -= (double)n;
        f->read += n;
    }
    f->period++;
}

static void flow_run(struct flow *f, double seconds)
{
    uint64_t n = (uint64_t)(seconds * RATE / PERIOD);
    for (uint64_t i = 0; i < n; i++)
        flow_period(f);
}

/*
 * The latency the flow really has now: how far the newest packet's first
 * frame is ahead of the read position at the moment it arrived, carried
 * forward in time without jitter. What the loop should hold at the target.
 */
static double true_level(const struct flow *f)
{
    double now = (double)f->period * PERIOD;
    /* The sender's position now, less the path: the end of the newest
     * packet that came without jitter. */
    double packet = (double)f->packet;
    double end = (double)f->ts0 + (double)(f->base_k + 1) * packet +
                 (now - DELAY - f->base_t) * (1.0 + f->ppm * 1e-6) - packet;
    return end - packet - (double)f->read - f->frac;
}

static void clock_fast_start_follows_200_ppm_within_2_s(void **state)
{
    (void)state;
    static const double ppms[] = { 200.0, -200.0 };
    for (unsigned i = 0; i < 2; i++) {
        struct flow f;
        flow_init(&f, ppms[i], 144, 0xC10C0001 + i);
        flow_run(&f, 2.0);
        assert_float_equal(aoip_clock_ppm(&f.clk), ppms[i], 1.5);
    }
}

static void clock_loop_holds_the_level_at_the_target(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, 137.0, 144, 0xC10C0002);
    flow_run(&f, 60.0);
    double worst = 0.0, sum = 0.0;
    unsigned n = 0;
    for (unsigned i = 0; i < 10 * 1000; i++) {
        flow_period(&f);
        double err = true_level(&f) - f.target;
        sum += err;
        n++;
        if (fabs(err) > worst)
            worst = fabs(err);
    }
    /* Held against the mean arrival, which the jitter (0 to 2.4 frames)
     * puts a frame or so after the jitter-free one measured here. */
    assert_float_equal(sum / n, 0.0, 1.5);
    assert_true(worst < 2.0);
    assert_float_equal(aoip_clock_ppm(&f.clk), 137.0, 0.2);
    assert_float_equal((f.ratio - 1.0) * 1e6, 137.0, 1.0);
}

static void clock_level_seen_has_no_packet_sawtooth(void **state)
{
    (void)state;
    /* At 500 ppm the arrivals slip against our periods by a packet every
     * 2 s: the raw level before each pull sweeps a whole packet. */
    struct flow f;
    flow_init(&f, 500.0, 192, 0xC10C0003);
    f.jitter_ms = 0.0;
    flow_run(&f, 30.0);
    double raw_lo = 1e9, raw_hi = -1e9, seen_lo = 1e9, seen_hi = -1e9;
    for (unsigned i = 0; i < 4000; i++) {
        flow_period(&f);
        raw_lo = fmin(raw_lo, f.level);
        raw_hi = fmax(raw_hi, f.level);
        seen_lo = fmin(seen_lo, f.clk.level);
        seen_hi = fmax(seen_hi, f.clk.level);
    }
    assert_true(raw_hi - raw_lo >= PACKET - 2);
    assert_true(seen_hi - seen_lo < 2.0);
    assert_float_equal((seen_hi + seen_lo) / 2.0, 192.0, 1.5);
}

/*
 * Packets far longer than a period (Opus: 20 ms): the level cannot be read
 * until the second packet tells a packet's length. Read before, it would
 * sit up to a packet high, and the loop would pull the real latency up to
 * it (19 ms here) and slew it back for a minute.
 */
static void clock_long_packets_start_at_the_target(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, 0.0, 240, 0xC10C000A);
    f.packet = 960;
    double worst = 0.0;
    for (unsigned i = 0; i < 10 * 1000; i++) {
        flow_period(&f);
        if (f.period > 50)
            worst = fmax(worst, fabs(true_level(&f) - f.target));
    }
    assert_true(worst < 24.0);
    assert_true(aoip_clock_get_state(&f.clk) == AOIP_CLOCK_LOCKED);
}

static void clock_ratio_is_clamped(void **state)
{
    (void)state;
    /* A sender 5000 ppm fast: the drift stops at 1000 ppm, the ratio at
     * 200 ppm beyond (room to steer the level), and never past. */
    struct flow f;
    flow_init(&f, 5000.0, 480, 0xC10C0004);
    for (unsigned i = 0; i < 30 * 1000; i++) {
        flow_period(&f);
        assert_true(f.ratio <= 1.0 + 1200e-6 + 1e-12);
        assert_true(f.ratio >= 1.0 - 1200e-6 - 1e-12);
    }
    assert_float_equal(aoip_clock_ppm(&f.clk), 1000.0, 1e-6);
    assert_float_equal(f.ratio, 1.0 + 1200e-6, 1e-9);

    /* A narrower clamp from the config. */
    struct aoip_clock c;
    struct aoip_clock_config cfg = { .sample_rate = RATE, .period_frames = PERIOD, .max_ppm = 50 };
    aoip_clock_init(&c, &cfg);
    for (unsigned i = 0; i < 20 * 1000; i++) {
        aoip_clock_arrival(&c, (int64_t)i * PACKET, (double)i * PACKET / 1.0003);
        double r = aoip_clock_update(&c, 96.0 + i * 0.01, 96.0);
        assert_true(r <= 1.0 + 250e-6 + 1e-12);
    }
    assert_float_equal(aoip_clock_ppm(&c), 50.0, 1e-6);
}

static void clock_ratio_moves_by_a_bounded_step(void **state)
{
    (void)state;
    /* From the first update on, including the fast start's jump from 0 to
     * -800 ppm: at most 1000 ppm a second, 1 ppm a period. */
    struct flow f;
    flow_init(&f, -800.0, 240, 0xC10C0005);
    double prev = 1.0;
    for (unsigned i = 0; i < 20 * 1000; i++) {
        flow_period(&f);
        assert_true(fabs(f.ratio - prev) <= 1e-6 + 1e-12);
        prev = f.ratio;
    }
    assert_float_equal(aoip_clock_ppm(&f.clk), -800.0, 1.0);
}

static void clock_restart_holds_the_ratio_until_the_stream_is_back(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, 250.0, 144, 0xC10C0006);
    flow_run(&f, 60.0);
    double drift = aoip_clock_ppm(&f.clk);
    assert_float_equal(drift, 250.0, 0.5);

    /* The buffer resynced; no packet yet. Whatever the level says, the
     * integral stays and the ratio settles on the drift. */
    aoip_clock_restart(&f.clk);
    double r = 0.0;
    for (unsigned i = 0; i < 2000; i++)
        r = aoip_clock_update(&f.clk, 5000.0 - i, 144.0);
    assert_float_equal(aoip_clock_ppm(&f.clk), drift, 1e-9);
    assert_float_equal((r - 1.0) * 1e6, drift, 1e-6);
}

static void clock_restart_keeps_the_drift_of_the_same_sender(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, -150.0, 144, 0xC10C0007);
    flow_run(&f, 60.0);
    double drift = aoip_clock_ppm(&f.clk);

    /* The same sender, a new stream: timestamps elsewhere, played from a
     * new read position one target behind its first packet. */
    aoip_clock_restart(&f.clk);
    f.ts0 += 123456789;
    f.started = false;
    flow_run(&f, 10.0);
    assert_true(f.clk.locked);
    /* The new fit agreed, so the hour's estimate stayed (untouched by the
     * fit's own error), and the loop went on from it. */
    assert_float_equal(aoip_clock_ppm(&f.clk), drift, 0.3);
    flow_run(&f, 50.0);
    assert_float_equal(true_level(&f), f.target, 6.0);
}

static void clock_restart_takes_the_rate_of_a_new_sender(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, 200.0, 144, 0xC10C0008);
    flow_run(&f, 30.0);
    aoip_clock_restart(&f.clk);
    flow_set_ppm(&f, -300.0);
    f.ts0 += 987654321;
    f.started = false;
    flow_run(&f, 10.0);
    assert_true(f.clk.locked);
    assert_float_equal(aoip_clock_ppm(&f.clk), -300.0, 2.0);
}

static void clock_target_change_is_slewed(void **state)
{
    (void)state;
    struct flow f;
    flow_init(&f, 60.0, 144, 0xC10C0009);
    flow_run(&f, 60.0);
    double drift = aoip_clock_ppm(&f.clk);

    /* Up by 10 ms: the ratio goes at most a rising slew (1000 ppm) below the
     * drift, gets there at 1000 ppm/s at most, and the level never passes
     * the new target. */
    f.target = 624;
    double prev = f.ratio, over = 0.0, extra = 0.0;
    int reached_at = -1;
    for (int i = 0; i < 90 * 1000; i++) {
        flow_period(&f);
        assert_true(fabs(f.ratio - prev) <= 1e-6 + 1e-12);
        prev = f.ratio;
        extra = fmax(extra, fabs((f.ratio - 1.0) * 1e6 - drift));
        over = fmax(over, true_level(&f) - f.target);
        if (reached_at < 0 && fabs(f.clk.setpoint - f.target) < 1e-9)
            reached_at = i;
    }
    assert_true(extra <= 1000.0 + 10.0);
    assert_true(over < 3.0);
    /* 480 frames at 48 frames/s, plus a second to speed up and to brake. */
    assert_in_range(reached_at, 10 * 1000, 12 * 1000);
    assert_float_equal(true_level(&f), 624.0, 6.0);
    /* The slew was fed forward: the drift estimate did not pay for it. */
    assert_float_equal(aoip_clock_ppm(&f.clk), drift, 0.5);

    /* Down by 8 ms: never below the new target (that would be an underrun). */
    f.target = 240;
    double under = 0.0;
    for (int i = 0; i < 90 * 1000; i++) {
        flow_period(&f);
        under = fmax(under, f.target - true_level(&f));
    }
    assert_true(under < 3.0);
    assert_float_equal(true_level(&f), 240.0, 6.0);
}

static void clock_runs_on_the_level_alone_without_arrivals(void **state)
{
    (void)state;
    /* A caller that reports no arrivals: the loop steers on the level, less
     * half a period for the packet sawtooth it cannot see. */
    struct flow f;
    flow_init(&f, -90.0, 192, 0xC10C000A);
    f.report_arrivals = false;
    flow_run(&f, 200.0);
    assert_float_equal(aoip_clock_ppm(&f.clk), -90.0, 1.0);
    /* Averaged over whole cycles of the sawtooth: a packet slips every
     * 1 / (90 ppm x 1000 packets/s) = 11.1 s. */
    double sum = 0.0;
    unsigned n = (unsigned)(5 * 11.111 * 1000);
    for (unsigned i = 0; i < n; i++) {
        flow_period(&f);
        sum += f.level - PERIOD / 2.0;
    }
    assert_float_equal(sum / n, 192.0, 3.0);
}

static void clock_survives_degenerate_input(void **state)
{
    (void)state;
    struct aoip_clock c;

    /* A zeroed config takes the defaults; no arrivals, a constant level. */
    aoip_clock_init(&c, &(struct aoip_clock_config){ 0 });
    for (unsigned i = 0; i < 20000; i++) {
        double r = aoip_clock_update(&c, 0.0, 0.0);
        assert_true(isfinite(r));
    }
    assert_true(isfinite(aoip_clock_ppm(&c)));

    /* Every packet with the same timestamp and the same arrival time. */
    aoip_clock_init(&c, NULL);
    for (unsigned i = 0; i < 20000; i++) {
        aoip_clock_arrival(&c, 1000, 5000.0);
        double r = aoip_clock_update(&c, 96.0, 96.0);
        assert_true(isfinite(r));
        /* Within the drift's clamp and a rising slew. */
        assert_true(fabs(r - 1.0) <= 2000e-6 + 1e-12);
    }
    assert_true(isfinite(aoip_clock_ppm(&c)));

    /* Arrivals all at one instant with advancing timestamps (a burst), then
     * non-finite input of every kind: ignored, the ratio stays put. */
    aoip_clock_init(&c, NULL);
    for (unsigned i = 0; i < 5000; i++)
        aoip_clock_arrival(&c, (int64_t)i * 48, 777.0);
    double r = aoip_clock_update(&c, 100.0, 96.0);
    assert_true(isfinite(r));
    aoip_clock_arrival(&c, 1 << 30, NAN);
    aoip_clock_arrival(&c, 1 << 30, INFINITY);
    assert_float_equal(aoip_clock_update(&c, NAN, 96.0), r, 0.0);
    assert_float_equal(aoip_clock_update(&c, 96.0, INFINITY), r, 0.0);
    assert_float_equal(aoip_clock_update(&c, -INFINITY, NAN), r, 0.0);
    for (unsigned i = 0; i < 20000; i++)
        assert_true(isfinite(aoip_clock_update(&c, 96.0, 96.0)));
    assert_true(isfinite(aoip_clock_ppm(&c)));

    /* Restart before anything ever came. */
    aoip_clock_init(&c, NULL);
    aoip_clock_restart(&c);
    assert_float_equal(aoip_clock_update(&c, 10.0, 96.0), 1.0, 0.0);
    assert_float_equal(aoip_clock_ppm(&c), 0.0, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clock_fast_start_follows_200_ppm_within_2_s),
        cmocka_unit_test(clock_loop_holds_the_level_at_the_target),
        cmocka_unit_test(clock_level_seen_has_no_packet_sawtooth),
        cmocka_unit_test(clock_long_packets_start_at_the_target),
        cmocka_unit_test(clock_ratio_is_clamped),
        cmocka_unit_test(clock_ratio_moves_by_a_bounded_step),
        cmocka_unit_test(clock_restart_holds_the_ratio_until_the_stream_is_back),
        cmocka_unit_test(clock_restart_keeps_the_drift_of_the_same_sender),
        cmocka_unit_test(clock_restart_takes_the_rate_of_a_new_sender),
        cmocka_unit_test(clock_target_change_is_slewed),
        cmocka_unit_test(clock_runs_on_the_level_alone_without_arrivals),
        cmocka_unit_test(clock_survives_degenerate_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
