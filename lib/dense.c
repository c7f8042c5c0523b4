/* Forward and backward passes of the dense layers, and the compute calls built on them.
 * Per layer: three products through gn__gemm, everything else one fused element-wise pass. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>

const float *gn__forward(gn_net *net, const float *X, size_t ldx, size_t m)
{
    const float *prev = X;
    size_t ld_prev = ldx;
    for (size_t l = 0; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        float *A = net->acts[l];
        /* Z := W · A_prev  (NoTrans, NoTrans), into A; bias and σ follow in one pass. */
        gn__gemm(net->impl, GN_NOTRANS, GN_NOTRANS, ly->n_out, m, ly->n_in, 1.0f,
                 net->params + ly->w_off, ly->n_out, prev, ld_prev, 0.0f, A, ly->n_out);
        gn__act_forward(ly->act, net->leaky_slope, A, net->params + ly->b_off, ly->n_out, m);
        prev = A;
        ld_prev = ly->n_out;
    }
    return net->acts[net->n_layers - 1];
}

double gn__backprop(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy, size_t m)
{
    size_t L = net->n_layers;
    const float *out = gn__forward(net, X, ldx, m);
    const gn_layer *top = &net->layers[L - 1];
    float *D = net->delta[0];
    double loss = gn__output_delta(net->loss, top->act, out, Y, ldy, D, top->n_out, m);
    gn__act_backward(gn__output_act(net->loss, top->act), net->leaky_slope, D, out,
                     net->grads + top->b_off, top->n_out, m);

    const float inv_m = 1.0f / (float)m;
    for (size_t l = L; l-- > 0;) {
        const gn_layer *ly = &net->layers[l];
        const float *prev = l > 0 ? net->acts[l - 1] : X;
        size_t ld_prev = l > 0 ? ly->n_in : ldx;
        /* dW := (1/m) Δ · A_prevᵀ  (NoTrans, Trans) */
        gn__gemm(net->impl, GN_NOTRANS, GN_TRANS, ly->n_out, ly->n_in, m, inv_m, D, ly->n_out, prev,
                 ld_prev, 0.0f, net->grads + ly->w_off, ly->n_out);
        if (l == 0)
            break; /* Wᵀ·Δ for the first layer would be the input gradient: not needed */
        const gn_layer *below = &net->layers[l - 1];
        float *Dn = D == net->delta[0] ? net->delta[1] : net->delta[0];
        /* Δ_below := Wᵀ · Δ  (Trans, NoTrans), then ⊙ σ'(Z_below) with db in the same pass */
        gn__gemm(net->impl, GN_TRANS, GN_NOTRANS, ly->n_in, m, ly->n_out, 1.0f,
                 net->params + ly->w_off, ly->n_out, D, ly->n_out, 0.0f, Dn, ly->n_in);
        gn__act_backward(below->act, net->leaky_slope, Dn, net->acts[l - 1],
                         net->grads + below->b_off, below->n_out, m);
        D = Dn;
    }
    return loss;
}

gn_status gn__check_batch(gn_net *net, const char *fn, const float *X, size_t ldx, const float *Y,
                          size_t ldy, bool need_y, size_t m, bool batch_limit)
{
    if (!net)
        return GN_ERR_NULL;
    if (!X || (need_y && !Y))
        return gn__fail(net, GN_ERR_NULL, "%s: %s is NULL", fn, !X ? "X" : "Y");
    size_t n_in = gn_net_n_inputs(net), n_out = gn_net_n_outputs(net);
    if (m == 0)
        return gn__fail(net, GN_ERR_DIM, "%s: the batch is empty (m = 0)", fn);
    if (ldx < n_in)
        return gn__fail(net, GN_ERR_DIM, "%s: ldx = %zu is less than the %zu inputs", fn, ldx,
                        n_in);
    if (need_y && ldy < n_out)
        return gn__fail(net, GN_ERR_DIM, "%s: ldy = %zu is less than the %zu outputs", fn, ldy,
                        n_out);
    /* BLAS takes int sizes and strides: larger ones would be truncated, not rejected */
    if (ldx > INT_MAX || ldy > INT_MAX || (batch_limit && m > INT_MAX))
        return gn__fail(net, GN_ERR_DIM, "%s: a leading dimension or the batch exceeds INT_MAX",
                        fn);
    if (batch_limit && m > net->max_batch)
        return gn__fail(net, GN_ERR_BATCH,
                        "%s: batch of %zu exceeds the workspace of %zu (see gn_net_reserve)", fn, m,
                        net->max_batch);
    return GN_OK;
}

gn_status gn_net_forward(gn_net *net, const float *X, size_t ldx, size_t m, const float **out)
{
    gn_status st = gn__check_batch(net, "gn_net_forward", X, ldx, NULL, 0, false, m, true);
    if (st != GN_OK)
        return st;
    if (!out)
        return gn__fail(net, GN_ERR_NULL, "gn_net_forward: out is NULL");
    *out = gn__forward(net, X, ldx, m);
    return GN_OK;
}

gn_status gn_net_predict(gn_net *net, const float *X, size_t ldx, size_t n, float *Y, size_t ldy)
{
    gn_status st = gn__check_batch(net, "gn_net_predict", X, ldx, Y, ldy, true, n, false);
    if (st != GN_OK)
        return st;
    size_t n_out = gn_net_n_outputs(net);
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
        const float *A = gn__forward(net, X + j0 * ldx, ldx, m);
        for (size_t j = 0; j < m; j++)
            for (size_t i = 0; i < n_out; i++)
                Y[i + (j0 + j) * ldy] = A[i + j * n_out];
    }
    return GN_OK;
}

gn_status gn_net_backprop(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                          size_t m, double *loss)
{
    gn_status st = gn__check_batch(net, "gn_net_backprop", X, ldx, Y, ldy, true, m, true);
    if (st != GN_OK)
        return st;
    double sum = gn__backprop(net, X, ldx, Y, ldy, m);
    if (loss)
        *loss = sum / (double)m;
    return GN_OK;
}

/* These two passes over the whole parameter vector are the step's largest element-wise cost
 * on narrow nets; compiled for the widest vector unit the CPU has, chosen at load time. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define WIDEST_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef WIDEST_SIMD
#define WIDEST_SIMD
#endif

/* params := params − η · grads, over the one flat buffer */
WIDEST_SIMD static void sgd_update(float *restrict p, const float *restrict g, float eta, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] -= eta * g[i];
}

/* True if no element is NaN or infinite, i.e. none has an all-ones exponent. Integer tests
 * OR-ed together vectorise without a dependency chain through floating-point adds. */
WIDEST_SIMD static bool all_finite(const float *restrict x, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad == 0;
}

gn_status gn_net_train_step(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                            size_t m, float eta, double *loss)
{
    gn_status st = gn__check_batch(net, "gn_net_train_step", X, ldx, Y, ldy, true, m, true);
    if (st != GN_OK)
        return st;
    if (!isfinite(eta) || eta <= 0.0f)
        return gn__fail(net, GN_ERR_ARG,
                        "gn_net_train_step: learning rate %g is not finite and positive",
                        (double)eta);
    double mean = gn__backprop(net, X, ldx, Y, ldy, m) / (double)m;
    if (loss)
        *loss = mean;
    if (!isfinite(mean))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_train_step: the batch loss is not finite; parameters unchanged");
    /* A finite loss can still come with a non-finite gradient (an infinite input behind a
     * saturated sigmoid): check before touching the parameters. */
    if (!all_finite(net->grads, net->n_params))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_train_step: the gradient is not finite; parameters unchanged");
    sgd_update(net->params, net->grads, eta, net->n_params);
    return GN_OK;
}

gn_status gn_net_evaluate(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                          size_t n, double *loss, double *accuracy)
{
    gn_status st = gn__check_batch(net, "gn_net_evaluate", X, ldx, Y, ldy, true, n, false);
    if (st != GN_OK)
        return st;
    size_t n_out = gn_net_n_outputs(net), correct = 0;
    double sum = 0.0;
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
        const float *A = gn__forward(net, X + j0 * ldx, ldx, m);
        const float *Yb = Y + j0 * ldy;
        sum += gn__loss_sum(net->loss, A, Yb, ldy, n_out, m);
        correct += gn__count_correct(A, Yb, ldy, n_out, m);
    }
    if (loss)
        *loss = sum / (double)n;
    if (accuracy)
        *accuracy = (double)correct / (double)n;
    return GN_OK;
}
