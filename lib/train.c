/* Nielsen's SGD loop: shuffle, cut into mini-batches, update_mini_batch on each. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void gn_train_options_defaults(gn_train_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->epochs = 30;
    opt->batch = 10;
    opt->eta = 3.0f;
    opt->shuffle = 1;
}

double gn__now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

gn_status gn_net_train(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                       size_t n, const gn_train_options *opt)
{
    gn_status st = gn__check_batch(net, "gn_net_train", X, ldx, Y, ldy, true, n, false);
    if (st != GN_OK)
        return st;
    if (!opt)
        return gn__fail(net, GN_ERR_NULL, "gn_net_train: options are NULL");
    if (opt->epochs == 0)
        return gn__fail(net, GN_ERR_ARG, "gn_net_train: epochs must be at least 1");
    if (opt->batch == 0 || opt->batch > net->max_batch)
        return gn__fail(
            net, GN_ERR_ARG,
            "gn_net_train: batch %zu is not in [1, %zu] (the workspace, see gn_net_reserve)",
            opt->batch, net->max_batch);
    if ((st = gn__check_eta(net, "gn_net_train", opt->eta)) != GN_OK)
        return st;
    gn__autotune(net, gn__local_batch(net, opt->batch), true);
    size_t bytes;
    size_t *perm = mul_ok(n, sizeof *perm, &bytes) ? malloc(bytes) : NULL;
    st = perm ? GN_OK
              : gn__fail(net, GN_ERR_NOMEM, "gn_net_train: no memory for %zu sample indices", n);
    /* data-parallel: every worker trains only if all could start, on worker 0's backends */
    if ((st = gn__agree(net, "gn_net_train", st)) == GN_OK)
        st = gn__share_backends(net, "gn_net_train");
    if (st != GN_OK) {
        free(perm);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = i;

    for (size_t epoch = 1; epoch <= opt->epochs && st == GN_OK; epoch++) {
        if (opt->batch > net->max_batch) { /* the callback shrank the workspace */
            st = gn__fail(net, GN_ERR_BATCH,
                          "gn_net_train: batch %zu exceeds the workspace of %zu after epoch %zu",
                          opt->batch, net->max_batch, epoch - 1);
            break;
        }
        if (opt->shuffle)
            gn__shuffle(&net->rng, perm, n);
        double t0 = gn__now_seconds(), loss_sum = 0.0;
        for (size_t j0 = 0; j0 < n && st == GN_OK; j0 += opt->batch) {
            size_t m = n - j0 < opt->batch ? n - j0 : opt->batch, lo, hi;
            gn__shard(net, m, &lo, &hi); /* this worker's part of the batch (all of it alone) */
            double loss = 0.0;
            const float *Xb = net->xbuf, *Yb = net->ybuf; /* (an empty share reads neither) */
            size_t ldxb = gn_net_n_inputs(net), ldyb = gn_net_n_outputs(net);
            if (opt->shuffle) {
                gn__gather(net, X, ldx, Y, ldy, perm + j0 + lo, hi - lo);
            } else if (hi > lo) {
                Xb = X + (j0 + lo) * ldx, ldxb = ldx;
                Yb = Y + (j0 + lo) * ldy, ldyb = ldy;
                gn__prepare(net, &Xb, &ldxb, &Yb, &ldyb, hi - lo);
            }
            st = gn__sgd_step(net, Xb, ldxb, Yb, ldyb, hi - lo, m, opt->eta, &loss);
            if (st == GN_OK)
                loss_sum += loss * (double)m;
        }
        if (st != GN_OK)
            break;
        gn_epoch_info info = {
            epoch, opt->epochs, loss_sum / (double)n, gn__now_seconds() - t0, n, NAN,
            NAN,   opt->eta};
        if (opt->on_epoch && opt->on_epoch(net, &info, opt->user))
            break;
    }
    free(perm);
    if (st == GN_ERR_NONFINITE)
        gn__fail(net, st,
                 "gn_net_train: the loss became non-finite (training diverged; lower eta?)");
    return st;
}
