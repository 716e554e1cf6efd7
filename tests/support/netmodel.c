/*
 * netmodel.c: the seeded network path of netmodel.h.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64: tiny, fast
 * and with no global state, so several models can run side by side and a
 * seed printed by a failing test replays it exactly.
 */
#include <math.h>

#include "netmodel.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void netmodel_rng_seed(struct netmodel_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t netmodel_rng_next(struct netmodel_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double netmodel_rng_uniform(struct netmodel_rng *r)
{
    /* The top 53 bits make an exact double in [0, 1). */
    return (double)(netmodel_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

void netmodel_init(struct netmodel *m, const struct netmodel_config *cfg)
{
    m->cfg = *cfg;
    netmodel_rng_seed(&m->rng, cfg->seed);
}

static int64_t draw_jitter(struct netmodel *m)
{
    double u = netmodel_rng_uniform(&m->rng);
    double j = m->cfg.jitter_exponential ? -log1p(-u) * (double)m->cfg.jitter_ns
                                         : u * (double)m->cfg.jitter_ns;
    return (int64_t)j;
}

void netmodel_send(struct netmodel *m, int64_t send_ns, struct netmodel_fate *fate)
{
    /* Draw every die for every packet, so changing one probability does not
     * shift the others' random streams. */
    double lose = netmodel_rng_uniform(&m->rng);
    double dup = netmodel_rng_uniform(&m->rng);
    int64_t j0 = draw_jitter(m), j1 = draw_jitter(m);

    fate->copies = lose < m->cfg.loss ? 0 : (dup < m->cfg.duplicate ? 2 : 1);
    fate->arrival_ns[0] = send_ns + m->cfg.delay_ns + j0;
    fate->arrival_ns[1] = send_ns + m->cfg.delay_ns + j1;
}
