/* Data-parallel training: the reducer a network calls in its steps, the share of each global
 * batch a worker takes, and agreement on errors across workers. The communication itself is
 * the caller's (gemmnet_mpi.c provides it over MPI). */
#include "internal.h"

#include <stdio.h>

gn_status gn_net_set_reducer(gn_net *net, const gn_reducer *r)
{
    if (!net)
        return GN_ERR_NULL;
    if (!r) {
        net->has_reducer = false;
        memset(&net->reducer, 0, sizeof net->reducer);
        return GN_OK;
    }
    if (!r->reduce)
        return gn__fail(net, GN_ERR_NULL, "gn_net_set_reducer: the reduce hook is NULL");
    if (r->workers == 0 || r->rank >= r->workers)
        return gn__fail(net, GN_ERR_ARG,
                        "gn_net_set_reducer: rank %zu is not in [0, workers = %zu)", r->rank,
                        r->workers);
    net->reducer = *r;
    net->has_reducer = true;
    return GN_OK;
}

const gn_reducer *gn_net_reducer(const gn_net *net)
{
    return net && net->has_reducer ? &net->reducer : NULL;
}

gn_rng *gn_net_rng(gn_net *net) { return net ? &net->rng : NULL; }

void gn__shard(const gn_net *net, size_t b, size_t *lo, size_t *hi)
{
    *lo = 0;
    *hi = b;
    if (!net->has_reducer || net->reducer.workers == 1)
        return;
    /* ⌊b·r/p⌋ without forming b·r, which could overflow: b = q·p + rem. */
    size_t p = net->reducer.workers, q = b / p, rem = b % p;
    size_t r = net->reducer.rank;
    *lo = q * r + rem * r / p;
    *hi = q * (r + 1) + rem * (r + 1) / p;
}

gn_status gn__agree(gn_net *net, const char *fn, gn_status st)
{
    if (!net->has_reducer || !net->reducer.agree)
        return st;
    char msg[sizeof net->err];
    snprintf(msg, sizeof msg, "%s", st != GN_OK ? net->err : "");
    gn_status agreed = net->reducer.agree(net->reducer.user, st, msg, sizeof msg);
    if (agreed == GN_OK || (agreed == st && strcmp(msg, net->err) == 0))
        return agreed;
    msg[sizeof msg - 1] = '\0';
    if (msg[0])
        return gn__fail(net, agreed, "%s", msg);
    return gn__fail(net, agreed, "%s: another worker failed: %s", fn, gn_strerror(agreed));
}

size_t gn__local_batch(const gn_net *net, size_t b)
{
    size_t p = net->has_reducer ? net->reducer.workers : 1, share = b / p + (b % p != 0);
    return share > 0 ? share : 1;
}

/* Worker 0's bytes at buf on every worker, through the broadcast hook (a no-op without one,
 * or alone). */
static gn_status share(gn_net *net, const char *fn, void *buf, size_t bytes)
{
    const gn_reducer *r = &net->reducer;
    if (!net->has_reducer || r->workers == 1 || !r->broadcast)
        return GN_OK;
    gn_status st = r->broadcast(r->user, buf, bytes);
    if (st != GN_OK)
        return gn__fail(net, st, "%s: the reducer's broadcast failed: %s", fn, gn_strerror(st));
    return GN_OK;
}

gn_status gn__share_backends(gn_net *net, const char *fn)
{
    int be[GN_MAX_SIZES * GN_PRODUCT_COUNT]; /* L < GN_MAX_SIZES layers */
    size_t n = net->n_layers * GN_PRODUCT_COUNT;
    for (size_t i = 0; i < n; i++)
        be[i] = (int)net->layers[i / GN_PRODUCT_COUNT].be[i % GN_PRODUCT_COUNT];
    gn_status st = share(net, fn, be, n * sizeof *be);
    for (size_t i = 0; st == GN_OK && i < n; i++)
        net->layers[i / GN_PRODUCT_COUNT].be[i % GN_PRODUCT_COUNT] = (gn_backend)be[i];
    return st;
}

gn_status gn__share_doubles(gn_net *net, const char *fn, double *x, size_t n)
{
    return share(net, fn, x, n * sizeof *x);
}
