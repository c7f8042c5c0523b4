/* What both benches (gemmnet-bench, gemmnet-mpi-bench) share: the standard configurations,
 * which bench/torch_compare.py mirrors (keep them in step), and two timing helpers. The
 * including file defines _POSIX_C_SOURCE (clock_gettime). */
#ifndef GN_BENCH_H
#define GN_BENCH_H

#include <gemmnet.h>

#include <stddef.h>
#include <time.h>

enum { MAX_SIZES = 16 };

typedef struct config {
    const char *name;
    size_t sizes[MAX_SIZES];
    size_t n_sizes;
    gn_act hidden, out;
    gn_loss loss;
    size_t batch;
} config;

static const config standard[] = {
    {"nielsen", {784, 30, 10}, 3, GN_ACT_SIGMOID, GN_ACT_SIGMOID, GN_LOSS_QUADRATIC, 10},
    {"mlp", {784, 256, 128, 10}, 4, GN_ACT_RELU, GN_ACT_SOFTMAX, GN_LOSS_CCE, 128},
    {"wide", {1024, 1024, 1024, 1024}, 4, GN_ACT_RELU, GN_ACT_RELU, GN_LOSS_QUADRATIC, 256},
    {"huge", {4096, 4096, 4096}, 3, GN_ACT_RELU, GN_ACT_RELU, GN_LOSS_QUADRATIC, 512},
};
enum { N_STANDARD = sizeof standard / sizeof standard[0] };

/* *cfg for configuration c (defaults otherwise), with acts (MAX_SIZES entries, which cfg
 * points to) filled in: the hidden activation, then the output one. */
static inline void config_net(const config *c, gn_act *acts, gn_net_config *cfg)
{
    size_t L = c->n_sizes - 1;
    for (size_t l = 0; l < L; l++)
        acts[l] = l + 1 == L ? c->out : c->hidden;
    gn_net_config_defaults(cfg);
    cfg->sizes = c->sizes;
    cfg->n_sizes = c->n_sizes;
    cfg->acts = acts;
    cfg->loss = c->loss;
    cfg->max_batch = c->batch;
}

/* Monotonic clock in seconds. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* qsort order of doubles (medians). */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
