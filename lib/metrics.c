/* Metrics through inference: confusion matrix, per-class precision and recall, and regression
 * errors in raw units. */
#include "internal.h"

#include <math.h>

gn_status gn_net_confusion(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                           size_t n, size_t k, uint64_t *counts)
{
    gn_status st = gn__check_batch(net, "gn_net_confusion", X, ldx, Y, ldy, true, n, false);
    if (st != GN_OK)
        return st;
    if (!counts)
        return gn__fail(net, GN_ERR_NULL, "gn_net_confusion: counts is NULL");
    size_t n_out = gn_net_n_outputs(net);
    if (k != (n_out == 1 ? 2 : n_out))
        return gn__fail(net, GN_ERR_DIM, "gn_net_confusion: k = %zu, but the net has %zu classes",
                        k, n_out == 1 ? (size_t)2 : n_out);
    for (size_t i = 0; i < k * k; i++)
        counts[i] = 0;
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
        const float *A = gn__infer_chunk(net, X, ldx, NULL, 0, j0, m, NULL, NULL);
        for (size_t j = 0; j < m; j++)
            counts[gn__class_of(Y + (j0 + j) * ldy, n_out) * k +
                   gn__class_of(A + j * n_out, n_out)]++;
    }
    return GN_OK;
}

double gn_class_metrics(const uint64_t *counts, size_t k, double *precision, double *recall)
{
    if (!counts)
        return NAN;
    uint64_t total = 0, trace = 0;
    for (size_t c = 0; c < k; c++) {
        uint64_t predicted = 0, actual = 0;
        for (size_t o = 0; o < k; o++) {
            predicted += counts[o * k + c];
            actual += counts[c * k + o];
        }
        uint64_t hit = counts[c * k + c];
        if (precision)
            precision[c] = predicted ? (double)hit / (double)predicted : NAN;
        if (recall)
            recall[c] = actual ? (double)hit / (double)actual : NAN;
        total += actual;
        trace += hit;
    }
    return total ? (double)trace / (double)total : NAN;
}

gn_status gn_net_regression_metrics(gn_net *net, const float *X, size_t ldx, const float *Y,
                                    size_t ldy, size_t n, double *mse, double *mae, double *r2)
{
    gn_status st =
        gn__check_batch(net, "gn_net_regression_metrics", X, ldx, Y, ldy, true, n, false);
    if (st != GN_OK)
        return st;
    size_t n_out = gn_net_n_outputs(net);
    /* Per-output sums live on the stack, 64 outputs at a time (no allocation); nets with
     * more outputs run inference once per block of 64. */
    enum { BLOCK = 64 };
    double sq = 0.0, ab = 0.0, r2_sum = 0.0;
    for (size_t o0 = 0; o0 < n_out; o0 += BLOCK) {
        size_t nb = n_out - o0 < BLOCK ? n_out - o0 : BLOCK;
        double mean[BLOCK] = {0}, ss_tot[BLOCK] = {0}, ss_res[BLOCK] = {0};
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < nb; i++)
                mean[i] += Y[o0 + i + j * ldy];
        for (size_t i = 0; i < nb; i++)
            mean[i] /= (double)n;
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < nb; i++) {
                double d = Y[o0 + i + j * ldy] - mean[i];
                ss_tot[i] += d * d;
            }
        for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
            size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
            float *A = (float *)gn__infer_chunk(net, X, ldx, NULL, 0, j0, m, NULL, NULL);
            gn__unscale_outputs(net, A, n_out, m);
            for (size_t j = 0; j < m; j++)
                for (size_t i = 0; i < nb; i++) {
                    double e = (double)A[o0 + i + j * n_out] - Y[o0 + i + (j0 + j) * ldy];
                    ss_res[i] += e * e;
                    ab += fabs(e);
                }
        }
        for (size_t i = 0; i < nb; i++) {
            sq += ss_res[i];
            r2_sum += ss_tot[i] > 0.0 ? 1.0 - ss_res[i] / ss_tot[i] : NAN;
        }
    }
    double count = (double)n * (double)n_out;
    if (mse)
        *mse = sq / count;
    if (mae)
        *mae = ab / count;
    if (r2)
        *r2 = r2_sum / (double)n_out;
    return GN_OK;
}
