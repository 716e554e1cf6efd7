/*
 * netmodel.h: a seeded model of a network path, for simulations and for
 * the lab's impairment program.
 *
 * Each packet sent gets a fate: dropped, or delivered once or twice, each
 * copy after base delay plus a random jitter. Reordering is what jitter
 * larger than the packet interval does (and, on request, a packet held
 * back on purpose). The same seed gives the same fates, so a failing run
 * can be replayed.
 *
 * The fields after `duplicate` were added for clock recovery's simulations:
 * every one of them is off at zero, and a config that leaves them at zero
 * draws exactly the dice it drew before they existed, so the fates of an
 * older config are unchanged.
 */
#ifndef AOIP_TEST_NETMODEL_H
#define AOIP_TEST_NETMODEL_H

#include <stdbool.h>
#include <stdint.h>

/* The shape of the random part of the delay. */
enum netmodel_jitter {
    NETMODEL_JITTER_DEFAULT = 0, /* as jitter_exponential says */
    NETMODEL_JITTER_UNIFORM,     /* 0..jitter_ns */
    NETMODEL_JITTER_EXPONENTIAL, /* mean jitter_ns */
    /* Normal around the base delay, standard deviation jitter_ns: a packet can
     * come early as well as late (never before it was sent). */
    NETMODEL_JITTER_GAUSSIAN,
    /* Pareto (Lomax, starting at 0) with mean jitter_ns and tail index
     * pareto_shape: most packets nearly on time, a few very late, as queues
     * behind bursty cross traffic make them. */
    NETMODEL_JITTER_PARETO,
};

struct netmodel_config {
    uint64_t seed;
    int64_t delay_ns;        /* fixed part of the path delay */
    int64_t jitter_ns;       /* scale of the random part */
    bool jitter_exponential; /* exponential (long tail) with mean jitter_ns; else uniform
                                0..jitter_ns */
    double loss;             /* probability a packet is dropped, 0..1 */
    double duplicate;        /* probability a delivered packet comes twice, 0..1 */

    enum netmodel_jitter jitter_dist; /* overrides jitter_exponential when not DEFAULT */
    double pareto_shape;              /* tail index alpha (> 1) of PARETO; 0: 1.5 */
    int64_t jitter_max_ns;            /* no draw of jitter exceeds this; 0: no cap */

    /*
     * Gilbert-Elliott burst loss: a two-state Markov chain, stepped once per
     * packet sent, loses a packet with ge_loss_good in the good state and
     * ge_loss_bad in the bad one. On when either transition probability is
     * above 0. Adds to `loss` (a packet is lost if either says so).
     */
    double ge_good_to_bad; /* probability per packet of going from good to bad */
    double ge_bad_to_good; /* and back */
    double ge_loss_good;
    double ge_loss_bad;

    /* A fraction of packets held back by reorder_ns on top of their jitter. */
    double reorder;
    int64_t reorder_ns;

    /*
     * Path stalls: from stall_every_ns on, every stall_every_ns (on the
     * arrival clock), the path holds whatever would arrive during the next
     * stall_ns and releases it all at once when the stall ends, in order
     * (a wireless link retrying, a switch buffer draining). Off at 0.
     */
    int64_t stall_every_ns;
    int64_t stall_ns;
};

/* xoshiro256** state: fast, seedable, good enough for a test's dice. */
struct netmodel_rng {
    uint64_t s[4];
};

void netmodel_rng_seed(struct netmodel_rng *r, uint64_t seed);
uint64_t netmodel_rng_next(struct netmodel_rng *r);
double netmodel_rng_uniform(struct netmodel_rng *r); /* [0, 1) */

struct netmodel {
    struct netmodel_config cfg;
    struct netmodel_rng rng;
    bool ge_bad; /* the Gilbert-Elliott chain is in its bad state */
};

struct netmodel_fate {
    unsigned copies;       /* 0 (dropped), 1 or 2 */
    int64_t arrival_ns[2]; /* for each copy */
};

void netmodel_init(struct netmodel *m, const struct netmodel_config *cfg);
/* Decide what happens to a packet sent at send_ns. */
void netmodel_send(struct netmodel *m, int64_t send_ns, struct netmodel_fate *fate);

#endif
