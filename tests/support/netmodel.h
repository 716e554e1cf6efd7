/*
 * netmodel.h: a seeded model of a network path, for simulations and for
 * the lab's impairment program.
 *
 * Each packet sent gets a fate: dropped, or delivered once or twice, each
 * copy after base delay plus a random jitter. Reordering is what jitter
 * larger than the packet interval does. The same seed gives the same fates,
 * so a failing run can be replayed.
 */
#ifndef AOIP_TEST_NETMODEL_H
#define AOIP_TEST_NETMODEL_H

#include <stdbool.h>
#include <stdint.h>

struct netmodel_config {
    uint64_t seed;
    int64_t delay_ns;        /* fixed part of the path delay */
    int64_t jitter_ns;       /* scale of the random part */
    bool jitter_exponential; /* exponential (long tail) with mean jitter_ns; else uniform
                                0..jitter_ns */
    double loss;             /* probability a packet is dropped, 0..1 */
    double duplicate;        /* probability a delivered packet comes twice, 0..1 */
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
};

struct netmodel_fate {
    unsigned copies;       /* 0 (dropped), 1 or 2 */
    int64_t arrival_ns[2]; /* for each copy */
};

void netmodel_init(struct netmodel *m, const struct netmodel_config *cfg);
/* Decide what happens to a packet sent at send_ns. */
void netmodel_send(struct netmodel *m, int64_t send_ns, struct netmodel_fate *fate);

#endif
