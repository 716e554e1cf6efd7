/*
 * netmodel.c: the seeded network path of netmodel.h.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64: tiny, fast
 * and with no global state, so several models can run side by side and a
 * seed printed by a failing test replays it exactly.
 *
 * Every packet draws the same four dice it always drew (loss, duplicate,
 * the jitter of each copy), in the same order; the later additions (burst
 * loss, held-back packets, the Gaussian's second uniform) draw theirs only
 * when they are switched on, so the fates of a config that does not use
 * them do not move.
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
    m->ge_bad = false;
    netmodel_rng_seed(&m->rng, cfg->seed);
}

static enum netmodel_jitter jitter_shape(const struct netmodel_config *c)
{
    if (c->jitter_dist != NETMODEL_JITTER_DEFAULT)
        return c->jitter_dist;
    return c->jitter_exponential ? NETMODEL_JITTER_EXPONENTIAL : NETMODEL_JITTER_UNIFORM;
}

static int64_t draw_jitter(struct netmodel *m)
{
    const struct netmodel_config *c = &m->cfg;
    double scale = (double)c->jitter_ns, j;
    double u = netmodel_rng_uniform(&m->rng);

    switch (jitter_shape(c)) {
    case NETMODEL_JITTER_EXPONENTIAL:
        j = -log1p(-u) * scale;
        break;
    case NETMODEL_JITTER_GAUSSIAN: {
        /* Box-Muller on u and one more uniform; the second normal is not kept,
         * so each draw stands alone. */
        double v = netmodel_rng_uniform(&m->rng);
        j = sqrt(-2.0 * log1p(-u)) * cos(2.0 * 3.14159265358979323846 * v) * scale;
        break;
    }
    case NETMODEL_JITTER_PARETO: {
        /* Lomax: scale (1 - u)^(-1/alpha) - scale has mean scale / (alpha - 1). */
        double alpha = c->pareto_shape > 1.0 ? c->pareto_shape : 1.5;
        j = scale * (alpha - 1.0) * (pow(1.0 - u, -1.0 / alpha) - 1.0);
        break;
    }
    default:
        j = u * scale;
        break;
    }
    if (c->jitter_max_ns > 0 && j > (double)c->jitter_max_ns)
        j = (double)c->jitter_max_ns;
    return (int64_t)j;
}

/* Gilbert-Elliott: step the chain, then lose the packet with its state's probability. */
static bool burst_loses(struct netmodel *m)
{
    const struct netmodel_config *c = &m->cfg;
    double step = netmodel_rng_uniform(&m->rng);
    double lose = netmodel_rng_uniform(&m->rng);

    if (m->ge_bad ? step < c->ge_bad_to_good : step < c->ge_good_to_bad)
        m->ge_bad = !m->ge_bad;
    return lose < (m->ge_bad ? c->ge_loss_bad : c->ge_loss_good);
}

/* Where a copy that would arrive at t comes out of a stalling path. */
static int64_t after_stall(const struct netmodel_config *c, int64_t t)
{
    if (c->stall_every_ns <= 0 || c->stall_ns <= 0 || t < c->stall_every_ns)
        return t;
    int64_t start = t - t % c->stall_every_ns;
    return t < start + c->stall_ns ? start + c->stall_ns : t;
}

void netmodel_send(struct netmodel *m, int64_t send_ns, struct netmodel_fate *fate)
{
    const struct netmodel_config *c = &m->cfg;
    /* Draw every die for every packet, so changing one probability does not
     * shift the others' random streams. */
    double lose = netmodel_rng_uniform(&m->rng);
    double dup = netmodel_rng_uniform(&m->rng);
    int64_t j0 = draw_jitter(m), j1 = draw_jitter(m);
    bool burst = (c->ge_good_to_bad > 0 || c->ge_bad_to_good > 0) && burst_loses(m);
    int64_t held = 0;

    if (c->reorder > 0 && netmodel_rng_uniform(&m->rng) < c->reorder)
        held = c->reorder_ns;
    fate->copies = lose < c->loss || burst ? 0 : (dup < c->duplicate ? 2 : 1);
    fate->arrival_ns[0] = send_ns + c->delay_ns + j0 + held;
    fate->arrival_ns[1] = send_ns + c->delay_ns + j1;
    for (unsigned i = 0; i < 2; i++) {
        /* A Gaussian may draw below the base delay; nothing comes before it left. */
        if (fate->arrival_ns[i] < send_ns)
            fate->arrival_ns[i] = send_ns;
        fate->arrival_ns[i] = after_stall(c, fate->arrival_ns[i]);
    }
}
