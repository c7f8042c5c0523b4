/* Helpers shared by the tests: deterministic random data and error measures.
 * Everything here is independent of the code under test except the public RNG. */
#ifndef GN_TESTUTIL_H
#define GN_TESTUTIL_H

#include "gemmnet.h"

#include <math.h>
#include <stdlib.h>

/* Fills x[0..n) with uniform values in [lo, hi). */
static inline void fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)gn_rng_uniform(&rng);
}

static inline float *random_floats(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (x)
        fill_uniform(x, n, lo, hi, seed);
    return x;
}

/* One-hot targets: k × n, ld = k, class of column j drawn at random. */
static inline float *random_onehot(size_t k, size_t n, uint64_t seed)
{
    float *y = calloc(k * n > 0 ? k * n : 1, sizeof *y);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < n && y; j++)
        y[gn_rng_below(&rng, k) + j * k] = 1.0f;
    return y;
}

/* |a − n| / max(|a|, |n|), 0 when both are 0. */
static inline double rel_err(double a, double n)
{
    double d = fabs(a - n), s = fmax(fabs(a), fabs(n));
    return s == 0.0 ? 0.0 : d / s;
}

#endif
