/* Forward and backward passes of the dense layers, and the compute calls built on them.
 * Per layer: three products through gn__gemm, everything else fused element-wise passes. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* The finiteness guarantees of gn_net_train_step rest on NaN comparing false. */
#if defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__
#error "gemmnet must not be compiled with -ffinite-math-only or -ffast-math"
#endif

/* The forward pass; x_rows: X holds the samples in rows (m × n_0, ld ≥ m), and the first
 * product reads it transposed instead of a copy being made. */
static const float *forward(gn_net *net, const float *X, size_t ldx, bool x_rows, size_t m,
                            bool training)
{
    bool drop = training && net->dropout > 0.0f;
    const float *prev = X;
    size_t ld_prev = ldx;
    for (size_t l = 0; l < net->n_layers; l++) {
        gn_layer *ly = &net->layers[l];
        float *A = net->acts[l];
        /* Z := W · A_prev  (NoTrans, NoTrans), or W · Xᵀ (NoTrans, Trans) for inputs in
         * rows, into A; bias and σ follow in one pass. */
        gn_trans tb = l == 0 && x_rows ? GN_TRANS : GN_NOTRANS;
        gn__gemm(net->impl, ly->be[GN_PRODUCT_FORWARD], GN_NOTRANS, tb, ly->n_out, m, ly->n_in,
                 1.0f, net->params + ly->w_off, ly->n_out, prev, ld_prev, 0.0f, A, ly->n_out);
        ly->a_sumsq =
            gn__act_forward(ly->act, net->leaky_slope, A, net->params + ly->b_off, ly->n_out, m);
        if (drop && l + 1 < net->n_layers) /* inverted dropout on hidden layers */
            ly->a_sumsq =
                gn__dropout_forward(&net->rng, net->dropout, A, net->masks[l], ly->n_out, m);
        prev = A;
        ld_prev = ly->n_out;
    }
    return net->acts[net->n_layers - 1];
}

const float *gn__forward(gn_net *net, const float *X, size_t ldx, size_t m, bool training)
{
    return forward(net, X, ldx, false, m, training);
}

/* A data-parallel step's back-propagation (see gn_reducer): the weight gradient of each
 * layer is formed as soon as its Δ is, as this worker's part of the mean over `total`
 * samples, and handed to reduce_layer before the layers below are computed. */
typedef struct reduced_pass {
    const float *X;
    size_t ldx, m, total;
    gn_status status; /* of the first hook that failed */
} reduced_pass;

/* Layer l's (0-based) segment of the gradient buffer, W^l then b^l, to reduce_layer (once
 * no hook has failed). */
static void hand_over(gn_net *net, reduced_pass *rp, size_t l)
{
    const gn_reducer *r = &net->reducer;
    const gn_layer *ly = &net->layers[l];
    if (rp->status == GN_OK && r->reduce_layer)
        rp->status = r->reduce_layer(r->user, l + 1, net->grads, ly->w_off,
                                     ly->b_off + ly->n_out - ly->w_off);
}

/* Layer l (0-based) is final: dW := (1/total) Δ · A_prevᵀ (NoTrans, Trans), db (the mean over
 * this worker's m samples) rescaled to its part of the mean over total, then the hook. */
static void finish_layer(gn_net *net, reduced_pass *rp, size_t l)
{
    const gn_layer *ly = &net->layers[l];
    const float *prev = l > 0 ? net->acts[l - 1] : rp->X;
    size_t ld_prev = l > 0 ? ly->n_in : rp->ldx;
    gn__gemm(net->impl, ly->be[GN_PRODUCT_WEIGHT], GN_NOTRANS, GN_TRANS, ly->n_out, ly->n_in, rp->m,
             1.0f / (float)rp->total, net->deltas[l], ly->n_out, prev, ld_prev, 0.0f,
             net->grads + ly->w_off, ly->n_out);
    if (rp->m != rp->total) {
        float share = (float)((double)rp->m / (double)rp->total);
        float *db = net->grads + ly->b_off;
        for (size_t i = 0; i < ly->n_out; i++)
            db[i] *= share;
    }
    hand_over(net, rp, l);
}

/* Forward pass, loss, and every Δ^l with its bias gradient. Without rp, no weight products
 * yet, so the parameters are still those of the forward pass; with rp, each layer's weight
 * gradient follows its Δ (finish_layer). Returns the summed loss. */
static double deltas(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy, size_t m,
                     reduced_pass *rp)
{
    size_t L = net->n_layers;
    const float *out = gn__forward(net, X, ldx, m, true);
    gn_layer *top = &net->layers[L - 1];
    float *D = net->deltas[L - 1];
    double loss =
        gn__output_delta(net->loss, net->huber_delta, top->act, out, Y, ldy, D, top->n_out, m);
    top->d_sumsq = gn__act_backward(gn__output_act(net->loss, top->act), net->leaky_slope, D, out,
                                    1.0f, net->grads + top->b_off, top->n_out, m);
    bool drop = net->dropout > 0.0f;
    float ascale = drop ? 1.0f - net->dropout : 1.0f; /* σ(z) from the dropped-out a */
    /* Wᵀ·Δ for the first layer would be the input gradient: not needed */
    for (size_t l = L - 1; l > 0; l--) {
        const gn_layer *ly = &net->layers[l];
        gn_layer *below = &net->layers[l - 1];
        if (rp)
            finish_layer(net, rp, l);
        /* Δ_below := Wᵀ · Δ  (Trans, NoTrans), then ⊙ σ'(Z_below) with db in the same pass */
        gn__gemm(net->impl, ly->be[GN_PRODUCT_DELTA], GN_TRANS, GN_NOTRANS, ly->n_in, m, ly->n_out,
                 1.0f, net->params + ly->w_off, ly->n_out, net->deltas[l], ly->n_out, 0.0f,
                 net->deltas[l - 1], ly->n_in);
        if (drop) /* the kept units' Δ scaled as their activations were, the others 0 */
            gn__dropout_backward(net->deltas[l - 1], net->masks[l - 1], below->n_out, m);
        below->d_sumsq =
            gn__act_backward(below->act, net->leaky_slope, net->deltas[l - 1], net->acts[l - 1],
                             ascale, net->grads + below->b_off, below->n_out, m);
    }
    if (rp)
        finish_layer(net, rp, 0);
    return loss;
}

/* For every layer, dst^l := alpha · Δ^l · A_prevᵀ + beta · dst^l  (NoTrans, Trans), where
 * dst is the gradient buffer (alpha = 1/m, beta = 0) or, for a fused SGD update, the
 * parameters themselves (alpha = −η/m, beta = 1). */
static void weight_products(gn_net *net, const float *X, size_t ldx, size_t m, float alpha,
                            float beta, float *dst)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        const float *prev = l > 0 ? net->acts[l - 1] : X;
        size_t ld_prev = l > 0 ? ly->n_in : ldx;
        gn__gemm(net->impl, ly->be[GN_PRODUCT_WEIGHT], GN_NOTRANS, GN_TRANS, ly->n_out, ly->n_in, m,
                 alpha, net->deltas[l], ly->n_out, prev, ld_prev, beta, dst + ly->w_off, ly->n_out);
    }
}

double gn__backprop(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy, size_t m)
{
    double loss = deltas(net, X, ldx, Y, ldy, m, NULL);
    /* dW := (1/m) Δ · A_prevᵀ */
    weight_products(net, X, ldx, m, 1.0f / (float)m, 0.0f, net->grads);
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

gn_status gn__check_eta(gn_net *net, const char *fn, float eta)
{
    if (!isfinite(eta) || eta <= 0.0f)
        return gn__fail(net, GN_ERR_ARG, "%s: learning rate %g is not finite and positive", fn,
                        (double)eta);
    return GN_OK;
}

const float *gn__infer_chunk_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx,
                                    const float *Y, size_t ldy, size_t j0, size_t m,
                                    const float **Yb, size_t *ldyb)
{
    if (layout == GN_SAMPLES_IN_COLUMNS)
        return gn__infer_chunk(net, X, ldx, Y, ldy, j0, m, Yb, ldyb);
    /* samples in rows: sample j0 starts at X + j0, each feature ldx further on */
    if (Y) {
        gn__gather_layout(net, layout, NULL, 0, Y + j0, ldy, NULL, m);
        *Yb = net->ybuf;
        *ldyb = gn_net_n_outputs(net);
    }
    if (net->in_scale) { /* a scaled copy is needed anyway: gather it as columns */
        gn__gather_layout(net, layout, X + j0, ldx, NULL, 0, NULL, m);
        return forward(net, net->xbuf, gn_net_n_inputs(net), false, m, false);
    }
    return forward(net, X + j0, ldx, true, m, false);
}

const float *gn__infer_chunk(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                             size_t j0, size_t m, const float **Yb, size_t *ldyb)
{
    const float *Xb = X + j0 * ldx;
    if (Y) {
        *Yb = Y + j0 * ldy;
        *ldyb = ldy;
    }
    gn__prepare(net, &Xb, &ldx, Y ? Yb : NULL, ldyb, m);
    return gn__forward(net, Xb, ldx, m, false);
}

gn_status gn_net_forward(gn_net *net, const float *X, size_t ldx, size_t m, const float **out)
{
    gn_status st = gn__check_batch(net, "gn_net_forward", X, ldx, NULL, 0, false, m, true);
    if (st != GN_OK)
        return st;
    if (!out)
        return gn__fail(net, GN_ERR_NULL, "gn_net_forward: out is NULL");
    gn__prepare(net, &X, &ldx, NULL, NULL, m);
    float *A = (float *)gn__forward(net, X, ldx, m, false); /* the network's own buffer */
    gn__unscale_outputs(net, A, gn_net_n_outputs(net), m);
    *out = A;
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
        const float *A = gn__infer_chunk(net, X, ldx, NULL, 0, j0, m, NULL, NULL);
        for (size_t j = 0; j < m; j++)
            memcpy(Y + (j0 + j) * ldy, A + j * n_out, n_out * sizeof *Y);
        gn__unscale_outputs(net, Y + j0 * ldy, ldy, m);
    }
    return GN_OK;
}

gn_status gn__check_layout(gn_net *net, const char *fn, gn_layout layout, const float *X,
                           size_t ldx, const float *Y, size_t ldy, bool need_y, size_t n)
{
    if (!net)
        return GN_ERR_NULL;
    if (layout != GN_SAMPLES_IN_COLUMNS && layout != GN_SAMPLES_IN_ROWS)
        return gn__fail(net, GN_ERR_ARG, "%s: unknown layout %d", fn, (int)layout);
    if (layout == GN_SAMPLES_IN_COLUMNS)
        return gn__check_batch(net, fn, X, ldx, Y, ldy, need_y, n, false);
    if (!X || (need_y && !Y))
        return gn__fail(net, GN_ERR_NULL, "%s: %s is NULL", fn, !X ? "X" : "Y");
    if (n == 0)
        return gn__fail(net, GN_ERR_DIM, "%s: the batch is empty (n = 0)", fn);
    if (ldx < n || (need_y && ldy < n))
        return gn__fail(net, GN_ERR_DIM,
                        "%s: with samples in rows, ld%c = %zu is less than the %zu samples", fn,
                        ldx < n ? 'x' : 'y', ldx < n ? ldx : ldy, n);
    size_t span;
    if (ldx > INT_MAX || ldy > INT_MAX || !mul_ok(ldx, gn_net_n_inputs(net), &span) ||
        !mul_ok(ldy, gn_net_n_outputs(net), &span))
        return gn__fail(net, GN_ERR_DIM, "%s: a leading dimension exceeds INT_MAX", fn);
    return GN_OK;
}

gn_status gn_net_predict_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx, size_t n,
                                float *Y, size_t ldy)
{
    gn_status st = gn__check_layout(net, "gn_net_predict_layout", layout, X, ldx, Y, ldy, true, n);
    if (st != GN_OK)
        return st;
    if (layout == GN_SAMPLES_IN_COLUMNS)
        return gn_net_predict(net, X, ldx, n, Y, ldy);
    size_t n_out = gn_net_n_outputs(net);
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
        float *A = (float *)gn__infer_chunk_layout(net, layout, X, ldx, NULL, 0, j0, m, NULL, NULL);
        gn__unscale_outputs(net, A, n_out, m); /* the network's own buffer */
        for (size_t i = 0; i < n_out; i++)     /* output i is row i of A, column i of Y */
            for (size_t j = 0; j < m; j++)
                Y[j0 + j + i * ldy] = A[i + j * n_out];
    }
    return GN_OK;
}

gn_status gn_net_backprop(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                          size_t m, double *loss)
{
    gn_status st = gn__check_batch(net, "gn_net_backprop", X, ldx, Y, ldy, true, m, true);
    if (st != GN_OK)
        return st;
    gn__prepare(net, &X, &ldx, &Y, &ldy, m);
    double sum = gn__backprop(net, X, ldx, Y, ldy, m);
    if (loss)
        *loss = sum / (double)m;
    return GN_OK;
}

/* These passes over the whole parameter vector are the step's largest element-wise cost on
 * narrow nets; WIDEST_SIMD (internal.h) builds them for the widest vector unit there is. */

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
    for (size_t i = 0; i < n; i++)
        bad |= nonfinite(x[i]);
    return bad == 0;
}

/* max |x_i| as the bits of a float (sign cleared): unsigned comparison of those bits orders
 * them as the magnitudes, and NaN and infinity, with an all-ones exponent, come out at or
 * above 0x7f800000. Integer maxima vectorise without a floating-point dependency chain. */
WIDEST_SIMD static uint32_t max_abs_bits(const float *restrict x, size_t n)
{
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        u &= 0x7fffffffu;
        top = u > top ? u : top;
    }
    return top;
}

/* GCC gives the ifunc of a non-static target_clones function default visibility whatever
 * -fvisibility says, so it would be exported: the clones stay static behind this call. */
bool gn__all_finite(const float *x, size_t n) { return all_finite(x, n); }

bool gn__columns_finite(const float *A, size_t rows, size_t ld, size_t n, size_t *bad)
{
    if (ld == rows && n > 0 && gn__all_finite(A, rows * n)) /* the common, contiguous case */
        return true;
    for (size_t j = 0; j < n; j++)
        if (!gn__all_finite(A + j * ld, rows)) {
            *bad = j;
            return false;
        }
    return true;
}

/* Σ X² over an n × m matrix with leading dimension ld. */
WIDEST_SIMD static double sum_squares(const float *X, size_t ld, size_t n, size_t m)
{
    double total = 0.0;
    for (size_t j = 0; j < m; j++) {
        const float *restrict x = X + j * ld;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (size_t i = 0; i < n; i++)
            ss += x[i] * x[i];
        total += ss;
    }
    return total;
}

/* Whether W := W − (η/m)·Δ·Aᵀ can be applied inside the product for every layer: all Δ and
 * A entries finite, and every partial sum of Δ·Aᵀ bounded by √(ΣΔ²·ΣA²) (Cauchy–Schwarz)
 * far below the float range, so the product can neither overflow nor produce NaN. */
static bool safe_to_fuse(const gn_net *net, double x_sumsq, float eta, size_t m)
{
    /* BLAS may apply alpha = η/m to an operand first or to the sum at the end: bounding
     * max(1, η/m)·max(1, ‖Δ‖)·max(1, ‖A‖) covers every intermediate either way. */
    double g = fmax(1.0, (double)eta / (double)m);
    for (size_t l = 0; l < net->n_layers; l++) {
        double a = l > 0 ? net->layers[l - 1].a_sumsq : x_sumsq;
        double bound = g * fmax(1.0, sqrt(net->layers[l].d_sumsq)) * fmax(1.0, sqrt(a));
        if (!(bound < 1e30)) /* also false for NaN */
            return false;
    }
    return true;
}

/* Whether p − η·g is finite everywhere (checked before anything is written). */
WIDEST_SIMD static bool update_stays_finite(const float *restrict p, const float *restrict g,
                                            float eta, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= nonfinite(p[i] - eta * g[i]);
    return bad == 0;
}

gn_status gn__backprop_reduced(gn_net *net, const char *fn, const float *X, size_t ldx,
                               const float *Y, size_t ldy, size_t m, size_t total, double *loss)
{
    const gn_reducer *r = &net->reducer;
    gn_status st;
    if (total == 0) { /* a step called directly: the global batch from every worker's share */
        if (r->batch_total && (st = r->batch_total(r->user, m, &total)) != GN_OK)
            return gn__fail(net, st, "%s: the reducer's batch_total failed: %s", fn,
                            gn_strerror(st));
        if (!r->batch_total && !mul_ok(m, r->workers, &total))
            total = 0;
        if (total < m || total == 0)
            return gn__fail(net, GN_ERR_ARG,
                            "%s: a global batch of %zu samples cannot hold this worker's %zu", fn,
                            total, m);
    }
    /* With dropout on several workers, each draws its masks from a stream of its own, seeded
     * from one draw of the shared RNG and the rank: the shared RNG advances alike everywhere. */
    bool own_stream = net->dropout > 0.0f && r->workers > 1;
    gn_rng shared = net->rng;
    if (own_stream)
        gn_rng_seed(&net->rng, gn_rng_next(&shared) ^ (0x9e3779b97f4a7c15u * (r->rank + 1)));
    reduced_pass rp = {X, ldx, m, total, GN_OK};
    double sum = 0.0;
    if (m > 0) {
        sum = deltas(net, X, ldx, Y, ldy, m, &rp);
    } else { /* an empty share still takes part in every reduction */
        memset(net->grads, 0, net->n_params * sizeof *net->grads);
        for (size_t l = net->n_layers; l > 0; l--)
            hand_over(net, &rp, l - 1);
    }
    if (own_stream)
        net->rng = shared;
    if (rp.status != GN_OK)
        return gn__fail(net, rp.status, "%s: the reducer's reduce_layer failed: %s", fn,
                        gn_strerror(rp.status));
    double part = sum / (double)total;
    if ((st = r->reduce(r->user, net->grads, net->n_params, &part)) != GN_OK)
        return gn__fail(net, st, "%s: the reducer's reduce failed: %s", fn, gn_strerror(st));
    *loss = part;
    if (!isfinite(part))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "%s: the batch loss summed over the workers is not finite; parameters "
                        "unchanged",
                        fn);
    return GN_OK;
}

/* gn__sgd_step with a reducer: the summed gradient is formed, checked, then applied. */
static gn_status reduced_sgd_step(gn_net *net, const float *X, size_t ldx, const float *Y,
                                  size_t ldy, size_t m, size_t total, float eta, double *loss)
{
    double mean = NAN;
    gn_status st = gn__backprop_reduced(net, "gn_net_train_step", X, ldx, Y, ldy, m, total, &mean);
    if (loss)
        *loss = mean;
    if (st != GN_OK)
        return st;
    /* One read of the gradient for both its finiteness and its size: with η·max|g| far
     * below the float range, p − η·g cannot overflow (for |p| ≤ 1e30, as for the fused
     * update), and the update needs no check pass of its own. */
    uint32_t top = max_abs_bits(net->grads, net->n_params);
    if (top >= 0x7f800000u)
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_train_step: the summed gradient is not finite; parameters "
                        "unchanged");
    float gmax;
    memcpy(&gmax, &top, sizeof gmax);
    if (!((double)eta * gmax < 1e30) &&
        !update_stays_finite(net->params, net->grads, eta, net->n_params))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_train_step: the update would overflow; parameters unchanged");
    sgd_update(net->params, net->grads, eta, net->n_params);
    return GN_OK;
}

gn_status gn_net_train_step(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                            size_t m, float eta, double *loss)
{
    gn_status st = gn__check_batch(net, "gn_net_train_step", X, ldx, Y, ldy, true, m, true);
    if (st != GN_OK)
        return st;
    if ((st = gn__check_eta(net, "gn_net_train_step", eta)) != GN_OK)
        return st;
    gn__autotune(net, m, false);
    gn__prepare(net, &X, &ldx, &Y, &ldy, m);
    return gn__sgd_step(net, X, ldx, Y, ldy, m, 0, eta, loss);
}

gn_status gn__sgd_step(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                       size_t m, size_t total, float eta, double *loss)
{
    if (net->has_reducer)
        return reduced_sgd_step(net, X, ldx, Y, ldy, m, total, eta, loss);
    double mean = deltas(net, X, ldx, Y, ldy, m, NULL) / (double)m;
    if (loss)
        *loss = mean;
    if (!isfinite(mean))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_train_step: the batch loss is not finite; parameters unchanged");
    size_t n_in = net->layers[0].n_in;
    if (safe_to_fuse(net, sum_squares(X, ldx, n_in, m), eta, m)) {
        /* The usual case: W := W − (η/m) Δ · A_prevᵀ inside the weight-gradient product
         * (NoTrans, Trans, beta = 1), so neither a gradient write nor an update pass over
         * the weights is needed; then b := b − η db. */
        weight_products(net, X, ldx, m, -eta / (float)m, 1.0f, net->params);
        for (size_t l = 0; l < net->n_layers; l++) {
            const gn_layer *ly = &net->layers[l];
            sgd_update(net->params + ly->b_off, net->grads + ly->b_off, eta, ly->n_out);
        }
        return GN_OK;
    }
    /* Some Δ or activation is non-finite or huge: form the gradient, check it, then update. */
    weight_products(net, X, ldx, m, 1.0f / (float)m, 0.0f, net->grads);
    if (!gn__all_finite(net->grads, net->n_params))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_train_step: the gradient is not finite; parameters unchanged");
    if (!update_stays_finite(net->params, net->grads, eta, net->n_params))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_train_step: the update would overflow; parameters unchanged");
    sgd_update(net->params, net->grads, eta, net->n_params);
    return GN_OK;
}

void gn__evaluate(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy, size_t n,
                  size_t chunk, double *loss, double *accuracy)
{
    gn__evaluate_layout(net, GN_SAMPLES_IN_COLUMNS, X, ldx, Y, ldy, n, chunk, loss, accuracy);
}

void gn__evaluate_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx, const float *Y,
                         size_t ldy, size_t n, size_t chunk, double *loss, double *accuracy)
{
    size_t n_out = gn_net_n_outputs(net), correct = 0;
    double sum = 0.0;
    for (size_t j0 = 0; j0 < n; j0 += chunk) {
        size_t m = n - j0 < chunk ? n - j0 : chunk, ldyb;
        const float *Yb,
            *A = gn__infer_chunk_layout(net, layout, X, ldx, Y, ldy, j0, m, &Yb, &ldyb);
        sum += gn__loss_sum(net->loss, net->huber_delta, A, Yb, ldyb, n_out, m);
        correct += gn__count_correct(A, Yb, ldyb, n_out, m);
    }
    if (loss)
        *loss = sum / (double)n;
    if (accuracy)
        *accuracy = (double)correct / (double)n;
}

gn_status gn_net_evaluate(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                          size_t n, double *loss, double *accuracy)
{
    gn_status st = gn__check_batch(net, "gn_net_evaluate", X, ldx, Y, ldy, true, n, false);
    if (st == GN_OK)
        gn__evaluate(net, X, ldx, Y, ldy, n, net->max_batch, loss, accuracy);
    return st;
}

gn_status gn_net_evaluate_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx,
                                 const float *Y, size_t ldy, size_t n, double *loss,
                                 double *accuracy)
{
    gn_status st = gn__check_layout(net, "gn_net_evaluate_layout", layout, X, ldx, Y, ldy, true, n);
    if (st == GN_OK)
        gn__evaluate_layout(net, layout, X, ldx, Y, ldy, n, net->max_batch, loss, accuracy);
    return st;
}
