/* xoshiro256** (Blackman & Vigna), seeded through splitmix64: small, fast, and the same
 * stream on every platform, which bit-identical training needs. */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void gn_rng_seed(gn_rng *rng, uint64_t seed)
{
    if (!rng)
        return;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

uint64_t gn_rng_next(gn_rng *rng)
{
    uint64_t *s = rng->s;
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

double gn_rng_uniform(gn_rng *rng) { return (double)(gn_rng_next(rng) >> 11) * 0x1.0p-53; }

uint64_t gn_rng_below(gn_rng *rng, uint64_t bound)
{
    if (bound <= 1)
        return 0;
    /* Reject the top sliver of the range that would bias the modulo. */
    uint64_t limit = (uint64_t)-1 - ((uint64_t)-1 % bound);
    uint64_t r;
    do
        r = gn_rng_next(rng);
    while (r >= limit);
    return r % bound;
}

double gn_rng_normal(gn_rng *rng)
{
    /* Box–Muller; one of the pair is dropped so the stream does not depend on hidden state. */
    double u1 = 1.0 - gn_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = gn_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void gn__shuffle(gn_rng *rng, size_t *perm, size_t n)
{
    for (size_t i = n; i > 1; i--) { /* Fisher–Yates */
        size_t k = (size_t)gn_rng_below(rng, (uint64_t)i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[k];
        perm[k] = t;
    }
}
