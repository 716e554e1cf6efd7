/*
 * test_latency.c: the adaptive latency target, fed simulated networks.
 *
 * A sender emits a packet every PACKET frames of its own clock (which may
 * run fast or slow against ours); each packet takes a base delay plus a
 * random one from a known distribution (Gaussian, uniform, exponential,
 * drawn from the seeded netmodel_rng) and is handed to the estimator in the
 * order of arrival; the media thread's update runs every PERIOD frames of
 * the local clock in between. Time is virtual: frames of the local clock.
 *
 * A packet is covered when the target in force when it arrived, less the
 * packet, the period and the margin, is at least its relative delay (its
 * delay above the least the distribution can give). The issue asks for at
 * least 99.9 % covered and a target not far above what that takes.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aoip/latency.h"
#include "netmodel.h"

#define RATE   48000
#define MS     (RATE / 1000.0)
#define PACKET 48
#define PERIOD 48
#define MARGIN 12 /* the default: a quarter millisecond */
#define EXTRA  (PACKET + PERIOD + MARGIN)
#define BASE   (5 * MS) /* the fixed part of the path delay */
#define PI     3.14159265358979323846
#define QUEUE  4096 /* packets in flight at most */

/* ------------------------------------------------------------------------ */
/* The network: a distribution of the random part of the delay, in frames. */

enum dist { GAUSS, UNIFORM, EXPONENTIAL, BURSTY };

struct net {
    struct netmodel_rng rng;
    enum dist dist;
    double scale; /* ms: spread of the distribution */
    double shift; /* ms added to every packet (a path that got longer) */
};

static double gauss(struct netmodel_rng *r)
{
    double u = netmodel_rng_uniform(r), v = netmodel_rng_uniform(r);

    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * PI * v);
}

/* The random part of a packet's delay, in frames; never below 0, and 0 is reached. */
static double net_jitter(struct net *n)
{
    switch (n->dist) {
    case GAUSS: /* 2 ms +- 1 ms (standard deviation), cut at 0 */
        return fmax(0.0, (2.0 + gauss(&n->rng)) * n->scale * MS) + n->shift * MS;
    case UNIFORM: /* 0 .. 2 ms */
        return 2.0 * n->scale * MS * netmodel_rng_uniform(&n->rng) + n->shift * MS;
    case EXPONENTIAL: /* mean 0.5 ms, a long tail */
        return -0.5 * n->scale * MS * log(1.0 - netmodel_rng_uniform(&n->rng)) + n->shift * MS;
    case BURSTY:
        break;
    }
    return n->shift * MS;
}

/* The 99.9 % quantile of each distribution at scale 1, in frames. */
static double net_q999(enum dist d)
{
    switch (d) {
    case GAUSS:
        return (2.0 + 3.090232) * MS;
    case UNIFORM:
        return 0.999 * 2.0 * MS;
    case EXPONENTIAL:
        return 0.5 * log(1000.0) * MS;
    case BURSTY:
        break;
    }
    return 0.0;
}

/* ------------------------------------------------------------------------ */
/* The simulation. */

struct flight {
    double arrival;
    int64_t ts;
    double rel; /* the delay above the least possible */
};

struct sim {
    struct aoip_latency *lt;
    struct net net;
    double ppm; /* the sender's clock against ours */
    int64_t ts0;
    uint64_t sent;
    double tick; /* the next period of the media thread */
    struct flight queue[QUEUE];
    size_t queued;
    /* What the run saw, from the moment counting was switched on. */
    bool counting;
    uint64_t packets, covered;
    double target_min, target_max;
    double last_target;
    double max_fall; /* the largest fall of the target between two updates */
};

static void sim_init(struct sim *s, const struct aoip_latency_config *cfg, enum dist d,
                     uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->lt = aoip_latency_new(cfg);
    assert_non_null(s->lt);
    netmodel_rng_seed(&s->net.rng, seed);
    s->net.dist = d;
    s->net.scale = 1.0;
    s->last_target = aoip_latency_target(s->lt);
    s->target_min = INFINITY;
    s->target_max = -INFINITY;
}

static void sim_free(struct sim *s)
{
    aoip_latency_free(s->lt);
}

static void sim_count(struct sim *s)
{
    s->counting = true;
    s->packets = 0;
    s->covered = 0;
    s->target_min = INFINITY;
    s->target_max = -INFINITY;
    s->max_fall = 0.0;
}

/* The media thread's periods up to local time t. */
static void sim_ticks(struct sim *s, double t)
{
    while (s->tick <= t) {
        double target = aoip_latency_update(s->lt, s->tick);

        if (s->counting) {
            s->target_min = fmin(s->target_min, target);
            s->target_max = fmax(s->target_max, target);
            s->max_fall = fmax(s->max_fall, s->last_target - target);
        }
        s->last_target = target;
        s->tick += PERIOD;
    }
}

/* Hand over every packet that has arrived by local time t, in order. */
static void sim_deliver(struct sim *s, double t)
{
    size_t k = 0;

    while (k < s->queued && s->queue[k].arrival <= t) {
        const struct flight *f = &s->queue[k];

        sim_ticks(s, f->arrival);
        if (s->counting) {
            s->packets++;
            s->covered += f->rel + EXTRA <= aoip_latency_target(s->lt);
        }
        aoip_latency_arrival(s->lt, f->ts, f->arrival);
        k++;
    }
    memmove(s->queue, s->queue + k, (s->queued - k) * sizeof(s->queue[0]));
    s->queued -= k;
}

/* Send one packet with the given extra delay on top of the network's; returns its delay. */
static double sim_send_one(struct sim *s, double extra_delay)
{
    /* The sender's clock: its frame n is our n / (1 + ppm). */
    int64_t ts = s->ts0 + (int64_t)(s->sent * PACKET);
    double send = (double)(s->sent * PACKET) / (1.0 + s->ppm * 1e-6);
    double rel = net_jitter(&s->net) + extra_delay;
    struct flight f = { send + BASE + rel, ts, rel };
    size_t k;

    /* Nothing sent from now on arrives before now. */
    sim_deliver(s, send);
    assert_true(s->queued < QUEUE);
    for (k = s->queued; k > 0 && s->queue[k - 1].arrival > f.arrival; k--)
        s->queue[k] = s->queue[k - 1];
    s->queue[k] = f;
    s->queued++;
    s->sent++;
    return rel;
}

static void sim_run(struct sim *s, double seconds)
{
    uint64_t n = (uint64_t)(seconds * RATE / PACKET);

    for (uint64_t i = 0; i < n; i++)
        sim_send_one(s, 0.0);
}

static double sim_coverage(const struct sim *s)
{
    return (double)s->covered / (double)s->packets;
}

static struct aoip_latency_config default_config(void)
{
    struct aoip_latency_config cfg = { 0 };

    cfg.sample_rate = RATE;
    cfg.packet_frames = PACKET;
    cfg.period_frames = PERIOD;
    return cfg;
}

/* ------------------------------------------------------------------------ */
/* Tests. */

/* What "settles at a target that covers 99.9 %, not far above" means in numbers. */
static void check_steady(enum dist d, const char *name)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;
    struct aoip_latency_stats st;
    double need = net_q999(d) + EXTRA;

    sim_init(&s, &cfg, d, 1 + d);
    sim_run(&s, 20.0);
    sim_count(&s);
    sim_run(&s, 100.0);
    aoip_latency_get_stats(s.lt, &st);
    print_message("%s: target %.1f..%.1f frames for a 99.9 %% need of %.1f; covered %.4f %%; "
                  "quantile %.1f (true %.1f)\n",
                  name, s.target_min, s.target_max, need, 100.0 * sim_coverage(&s),
                  st.quantile_frames, net_q999(d));
    assert_true(sim_coverage(&s) >= 0.999);
    assert_true(s.target_max <= need + 0.25 * net_q999(d));
    assert_true(s.target_min >= need - 0.1 * net_q999(d));
    assert_float_equal(st.quantile_frames, net_q999(d), 0.15 * net_q999(d));
    sim_free(&s);
}

static void latency_settles_over_gaussian_jitter(void **state)
{
    (void)state;
    check_steady(GAUSS, "gaussian 2 +- 1 ms");
}

static void latency_settles_over_uniform_jitter(void **state)
{
    (void)state;
    check_steady(UNIFORM, "uniform 0..2 ms");
}

static void latency_settles_over_exponential_jitter(void **state)
{
    (void)state;
    check_steady(EXPONENTIAL, "exponential 0.5 ms");
}

/* The worst steady target of check_steady's bound, for the tests that come back to it. */
static double steady_max(enum dist d)
{
    return net_q999(d) + EXTRA + 0.25 * net_q999(d);
}

static void latency_starts_at_packet_period_and_margin(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct aoip_latency *lt = aoip_latency_new(&cfg);
    struct aoip_latency_stats st;

    (void)state;
    assert_non_null(lt);
    assert_float_equal(aoip_latency_update(lt, 0.0), EXTRA, 1e-9);
    assert_float_equal(aoip_latency_update(lt, 1e6), EXTRA, 1e-9);
    aoip_latency_get_stats(lt, &st);
    assert_float_equal(st.target_frames, EXTRA, 1e-9);
    assert_float_equal(st.quantile_frames, 0.0, 1e-9);
    assert_int_equal(st.packets, 0);
    aoip_latency_free(lt);
}

/* Every packet from one moment on comes 10 ms later (a queue filled up). */
static void latency_rises_within_two_packets_when_delay_jumps(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;

    (void)state;
    sim_init(&s, &cfg, UNIFORM, 7);
    sim_run(&s, 20.0);
    sim_deliver(&s, INFINITY);
    assert_true(aoip_latency_target(s.lt) < 10.0 * MS);

    s.net.shift = 10.0;
    sim_send_one(&s, 0.0);
    sim_send_one(&s, 0.0);
    sim_deliver(&s, INFINITY);
    /* Both later than the target allowed: it covers the lesser of them. */
    assert_true(aoip_latency_target(s.lt) >= 10.0 * MS + EXTRA);
    sim_free(&s);
}

/*
 * The jitter grows five times. The target rises with the first packets that
 * show it; what 99.9 % of the new delays need cannot be known before some
 * thousand of them came (a causal estimate leaves about 0.2 % late over the
 * first 10 s however it is made), and from then on it is covered.
 */
static void latency_covers_wider_jitter_at_once(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;
    double before, second = 0.0;

    (void)state;
    sim_init(&s, &cfg, GAUSS, 8);
    sim_run(&s, 20.0);
    sim_deliver(&s, INFINITY);
    before = aoip_latency_target(s.lt);
    s.net.scale = 5.0;
    /* Until two packets came later than the target allowed. */
    for (int late = 0; late < 2;) {
        double rel = sim_send_one(&s, 0.0);

        sim_deliver(&s, INFINITY);
        if (rel + EXTRA > before) {
            late++;
            second = late == 1 ? rel : fmin(second, rel);
        }
    }
    assert_true(aoip_latency_target(s.lt) >= second + EXTRA);

    sim_count(&s);
    sim_run(&s, 10.0);
    print_message("jitter x5: covered %.4f %% over the first 10 s\n", 100.0 * sim_coverage(&s));
    assert_true(sim_coverage(&s) >= 0.99);
    sim_count(&s);
    sim_run(&s, 60.0);
    print_message("jitter x5: covered %.4f %% over the next 60 s\n", 100.0 * sim_coverage(&s));
    assert_true(sim_coverage(&s) >= 0.999);
    sim_free(&s);
}

static void latency_holds_then_falls_slowly_after_calm(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;
    double rough = 0.99 * 10.0 * MS + EXTRA, fall_per_period = 500e-6 * PERIOD;
    int held = 0;

    (void)state;
    cfg.floor_frames = 150;
    sim_init(&s, &cfg, UNIFORM, 9);
    s.net.scale = 5.0; /* 0..10 ms */
    sim_run(&s, 20.0);
    assert_true(aoip_latency_target(s.lt) >= rough);

    /* Calm: the last 10 s of delays keep the rough need for 10 s, then it is
     * held for 30 s. */
    s.net.scale = 1.0;
    sim_count(&s);
    while (aoip_latency_target(s.lt) >= rough) {
        sim_run(&s, 1.0);
        held++;
    }
    /* Then it falls, half a millisecond a second at most, to the calm level. */
    sim_run(&s, 120.0);
    print_message("held the rough network's need %d s into the calm; 120 s later %.1f frames; "
                  "largest fall in a period %.4f frames\n",
                  held, aoip_latency_target(s.lt), s.max_fall);
    assert_in_range(held, 39, 41);
    assert_true(s.max_fall <= fall_per_period + 1e-9);
    assert_true(aoip_latency_target(s.lt) <= steady_max(UNIFORM));
    assert_true(s.target_min >= 150.0);
    sim_free(&s);
}

static void latency_holds_twice_as_long_after_a_premature_fall(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;
    double rough = 0.99 * 10.0 * MS + EXTRA;
    int held[3] = { 0, 0, 0 };

    (void)state;
    sim_init(&s, &cfg, UNIFORM, 19);
    /* Rough, calm, rough again, calm, rough again, calm: each calm the
     * target fell in proved not to last, so each hold is twice the last. */
    for (int round = 0; round < 3; round++) {
        s.net.scale = 5.0; /* 0..10 ms */
        sim_run(&s, 20.0);
        assert_true(aoip_latency_target(s.lt) >= rough);
        s.net.scale = 1.0;
        while (aoip_latency_target(s.lt) >= rough) {
            sim_run(&s, 1.0);
            held[round]++;
        }
        sim_run(&s, 60.0);
    }
    print_message("held the rough need %d, %d and %d s into each calm\n", held[0], held[1],
                  held[2]);
    /* 10 s of delays still in the quantile, then the hold: 30, 60, 120 s. */
    assert_in_range(held[0], 39, 41);
    assert_in_range(held[1], 67, 71); /* give or take a slice of the hold */
    assert_in_range(held[2], 125, 131);
    sim_free(&s);
}

static void latency_stays_between_floor_and_ceiling(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;

    (void)state;
    cfg.floor_frames = 480;
    sim_init(&s, &cfg, UNIFORM, 10);
    sim_count(&s);
    sim_run(&s, 20.0);
    assert_float_equal(s.target_min, 480.0, 1e-9);
    assert_float_equal(s.target_max, 480.0, 1e-9);
    sim_free(&s);

    cfg.floor_frames = 0;
    cfg.ceiling_frames = 240;
    sim_init(&s, &cfg, UNIFORM, 11);
    s.net.scale = 5.0;
    sim_count(&s);
    sim_run(&s, 20.0);
    assert_float_equal(s.target_max, 240.0, 1e-9);
    sim_free(&s);
}

/*
 * The sender's clock 1000 ppm fast, then slow, for an hour each: the delay
 * drifts by 3.6 s over it, and the floor must follow without the target
 * creeping (a plain 10 s minimum would put it 10 ms too high).
 */
static void latency_ignores_clock_drift(void **state)
{
    const double ppms[] = { 1000.0, -1000.0 };

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct aoip_latency_config cfg = default_config();
        struct aoip_latency_stats st;
        struct sim s;
        double first = 0.0, last = 0.0;

        sim_init(&s, &cfg, GAUSS, 12 + i);
        s.ppm = ppms[i];
        sim_run(&s, 60.0);
        sim_count(&s);
        /* The mean target over the first ten minutes and over the last ten. */
        for (int second = 60; second < 3600; second++) {
            sim_run(&s, 1.0);
            first += second < 660 ? aoip_latency_target(s.lt) / 600.0 : 0.0;
            last += second >= 3000 ? aoip_latency_target(s.lt) / 600.0 : 0.0;
        }
        aoip_latency_get_stats(s.lt, &st);
        print_message("%+.0f ppm for an hour: target %.1f..%.1f (mean %.1f in the first ten "
                      "minutes, %.1f in the last), covered %.4f %%, floor drift %.1f ppm\n",
                      ppms[i], s.target_min, s.target_max, first, last, 100.0 * sim_coverage(&s),
                      st.drift_ppm);
        assert_true(sim_coverage(&s) >= 0.999);
        assert_true(s.target_max <= steady_max(GAUSS));
        assert_true(s.target_min >= net_q999(GAUSS) + EXTRA - 0.1 * net_q999(GAUSS));
        assert_true(fabs(last - first) <= 0.05 * net_q999(GAUSS));
        assert_float_equal(st.drift_ppm, -ppms[i], 50.0);
        sim_free(&s);
    }
}

/* The same stream with timestamps that wrap 2^32 five seconds in, extended to 64 bits. */
static void latency_follows_timestamps_across_the_32_bit_wrap(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct aoip_latency_stats a, b;
    struct sim s0, s1;

    (void)state;
    sim_init(&s0, &cfg, EXPONENTIAL, 13);
    sim_init(&s1, &cfg, EXPONENTIAL, 13);
    s1.ts0 = (INT64_C(1) << 32) - 5 * RATE;
    for (int second = 0; second < 30; second++) {
        sim_run(&s0, 1.0);
        sim_run(&s1, 1.0);
        assert_true(aoip_latency_target(s0.lt) == aoip_latency_target(s1.lt));
    }
    aoip_latency_get_stats(s0.lt, &a);
    aoip_latency_get_stats(s1.lt, &b);
    assert_true(a.quantile_frames == b.quantile_frames);
    assert_true(a.drift_ppm == b.drift_ppm);
    assert_true(s1.ts0 + (int64_t)(s1.sent * PACKET) > (INT64_C(1) << 32));
    sim_free(&s0);
    sim_free(&s1);
}

/* One packet 500 ms late in a steady stream is jitter the quantile allows. */
static void latency_ignores_a_single_late_packet(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;

    (void)state;
    sim_init(&s, &cfg, GAUSS, 14);
    sim_run(&s, 20.0);
    sim_count(&s);
    sim_send_one(&s, 500.0 * MS);
    sim_run(&s, 5.0);
    assert_true(s.target_max <= steady_max(GAUSS));
    sim_free(&s);
}

/*
 * In the first second, with few packets measured, one 50 ms late raises the
 * target; it must come down again: after the window, the hold and the fall.
 */
static void latency_lets_an_early_outlier_go(void **state)
{
    struct aoip_latency_config cfg = default_config();
    struct sim s;

    (void)state;
    sim_init(&s, &cfg, GAUSS, 15);
    sim_run(&s, 0.5);
    sim_send_one(&s, 50.0 * MS);
    sim_run(&s, 1.0);
    assert_true(aoip_latency_target(s.lt) >= 50.0 * MS);
    /* 10 s of window, 30 s of hold, 100 s of falling 50 ms at half a ms a second. */
    sim_run(&s, 150.0);
    assert_true(aoip_latency_target(s.lt) <= steady_max(GAUSS));
    sim_free(&s);
}

/*
 * A new stream on a new timestamp base: without a reset its timestamps read
 * as a delay change of seconds; after one, they are measured afresh.
 */
static void latency_reset_forgets_the_old_stream(void **state)
{
    for (int with_reset = 0; with_reset < 2; with_reset++) {
        struct aoip_latency_config cfg = default_config();
        struct aoip_latency_stats st;
        struct sim s;

        (void)state;
        sim_init(&s, &cfg, GAUSS, 16);
        sim_run(&s, 20.0);
        sim_deliver(&s, INFINITY);
        if (with_reset)
            aoip_latency_reset(s.lt);
        s.ts0 -= 3 * RATE; /* the new stream's timestamps are 3 s behind */
        sim_count(&s);
        sim_run(&s, 5.0);
        aoip_latency_get_stats(s.lt, &st);
        if (with_reset) {
            assert_true(s.target_max <= steady_max(GAUSS));
            assert_true(st.packets <= 5 * RATE / PACKET);
        } else {
            assert_float_equal(s.target_max, RATE, 1e-9); /* the ceiling */
        }
        sim_free(&s);
    }
}

static void latency_rejects_bad_config(void **state)
{
    struct aoip_latency_config cfg = default_config();

    (void)state;
    assert_null(aoip_latency_new(NULL));
    cfg.sample_rate = 0;
    assert_null(aoip_latency_new(&cfg));
    cfg = default_config();
    cfg.packet_frames = 0;
    assert_null(aoip_latency_new(&cfg));
    cfg = default_config();
    cfg.quantile = 1.0;
    assert_null(aoip_latency_new(&cfg));
    cfg.quantile = 0.2;
    assert_null(aoip_latency_new(&cfg));
    cfg = default_config();
    cfg.floor_frames = 500;
    cfg.ceiling_frames = 400;
    assert_null(aoip_latency_new(&cfg));
    aoip_latency_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(latency_starts_at_packet_period_and_margin),
        cmocka_unit_test(latency_settles_over_gaussian_jitter),
        cmocka_unit_test(latency_settles_over_uniform_jitter),
        cmocka_unit_test(latency_settles_over_exponential_jitter),
        cmocka_unit_test(latency_rises_within_two_packets_when_delay_jumps),
        cmocka_unit_test(latency_covers_wider_jitter_at_once),
        cmocka_unit_test(latency_holds_then_falls_slowly_after_calm),
        cmocka_unit_test(latency_holds_twice_as_long_after_a_premature_fall),
        cmocka_unit_test(latency_stays_between_floor_and_ceiling),
        cmocka_unit_test(latency_ignores_clock_drift),
        cmocka_unit_test(latency_follows_timestamps_across_the_32_bit_wrap),
        cmocka_unit_test(latency_ignores_a_single_late_packet),
        cmocka_unit_test(latency_lets_an_early_outlier_go),
        cmocka_unit_test(latency_reset_forgets_the_old_stream),
        cmocka_unit_test(latency_rejects_bad_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
