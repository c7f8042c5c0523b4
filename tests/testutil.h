/* Helpers shared by the tests: deterministic random data, error measures and network set-up.
 * The data and measures depend on nothing under test but the public RNG. */
#ifndef GN_TESTUTIL_H
#define GN_TESTUTIL_H

#include "gemmnet.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* The default configuration with these fields set (acts may be NULL: then hidden_act and
 * output_act apply). */
static inline gn_net_config net_config(const size_t *sizes, size_t n_sizes, const gn_act *acts,
                                       gn_loss loss, size_t max_batch, uint64_t seed)
{
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes;
    cfg.n_sizes = n_sizes;
    cfg.acts = acts;
    cfg.loss = loss;
    cfg.max_batch = max_batch;
    cfg.seed = seed;
    return cfg;
}

/* A network from net_config(...); failing to create it fails the test. */
static inline gn_net *make_net(const size_t *sizes, size_t n_sizes, const gn_act *acts,
                               gn_loss loss, size_t max_batch, uint64_t seed)
{
    gn_net_config cfg = net_config(sizes, n_sizes, acts, loss, max_batch, seed);
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    return net;
}

/* The whole of a file in a new buffer (one spare byte at the end); a test fails if it cannot
 * be read. */
static inline uint8_t *read_whole_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n, "short read of %s", path);
    cr_assert_eq(fclose(f), 0);
    *len = (size_t)n;
    return b;
}

#endif
