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
