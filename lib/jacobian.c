/* Sensitivities of a network's outputs to its inputs: Jacobian-vector products (forward mode),
 * vector-Jacobian products (reverse mode), whole Jacobians and input gradients of the loss.
 *
 * Everything runs in the network's workspace after an inference forward pass: acts[] keep
 * the A^l that σ' is read from, deltas[] carry the tangents or reverse-mode vectors layer by
 * layer (Δ^l and T^l are both n_l × m), and xbuf, which only fed the forward pass, is free
 * for an n_0 × m result. The gradient buffer is never touched. */
#include "internal.h"

#include <limits.h>

/* A matrix argument besides X: its name, the name of its leading dimension and the rows it
 * must have. */
typedef struct operand {
    const char *name, *ld_name;
    const void *p;
    size_t ld, rows;
} operand;

static gn_status check_args(gn_net *net, const char *fn, gn_layout layout, const float *X,
                            size_t ldx, size_t n, const operand *op, size_t count)
{
    if (!net)
        return GN_ERR_NULL;
    for (size_t i = 0; i < count; i++)
        if (!op[i].p)
            return gn__fail(net, GN_ERR_NULL, "%s: %s is NULL", fn, op[i].name);
    gn_status st = gn__check_layout(net, fn, layout, X, ldx, NULL, 0, false, n);
    if (st != GN_OK)
        return st;
    for (size_t i = 0; i < count; i++) {
        if (op[i].ld < op[i].rows)
            return gn__fail(net, GN_ERR_DIM, "%s: %s = %zu is less than the %zu rows of %s", fn,
                            op[i].ld_name, op[i].ld, op[i].rows, op[i].name);
        if (op[i].ld > INT_MAX)
            return gn__fail(net, GN_ERR_DIM, "%s: %s = %zu exceeds INT_MAX", fn, op[i].ld_name,
                            op[i].ld);
    }
    return GN_OK;
}

/* ∂x'_k/∂x_k = 1/std_k of the input scaling x' = (x − mean)/std, 1 without it. */
static float input_factor(const gn_net *net, size_t k)
{
    return net->in_scale ? net->in_scale[gn_net_n_inputs(net) + k] : 1.0f;
}

/* ∂y_i/∂y'_i = std_i of the output scaling y = y'·std + mean, 1 without it. */
static float output_factor(const gn_net *net, size_t i)
{
    return net->out_scale ? net->out_scale[2 * gn_net_n_outputs(net) + i] : 1.0f;
}

/* Rows of G (n_0 × m, ld ldg) times 1/std: the chain rule through the input scaling. */
static void scale_input_rows(const gn_net *net, float *G, size_t ldg, size_t m)
{
    if (!net->in_scale)
        return;
    size_t n0 = gn_net_n_inputs(net);
    const float *inv = net->in_scale + n0;
    for (size_t j = 0; j < m; j++) {
        float *restrict g = G + j * ldg;
        for (size_t k = 0; k < n0; k++)
            g[k] *= inv[k];
    }
}

/* Tangents upwards from deltas[from] (layer from + 1, already through its σ'):
 * T^l := σ'(Z^l) ⊙ (W^l · T^{l−1}) for every layer above. */
static void forward_sweep(gn_net *net, size_t from, size_t m)
{
    for (size_t l = from + 1; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        /* T^l := W^l · T^{l−1}  (NoTrans, NoTrans) */
        gn__gemm(net->impl, ly->be[GN_PRODUCT_FORWARD], GN_NOTRANS, GN_NOTRANS, ly->n_out, m,
                 ly->n_in, 1.0f, net->params + ly->w_off, ly->n_out, net->deltas[l - 1], ly->n_in,
                 0.0f, net->deltas[l], ly->n_out);
        gn__act_deriv(ly->act, net->leaky_slope, net->deltas[l], net->acts[l], ly->n_out, m);
    }
}

/* Reverse-mode vectors downwards from deltas[top] (already through its σ') to Δ^1, then
 * G := (W^1)ᵀ Δ^1, n_0 × m with leading dimension ldg. */
static void reverse_sweep(gn_net *net, size_t top, size_t m, float *G, size_t ldg)
{
    for (size_t l = top; l > 0; l--) {
        const gn_layer *ly = &net->layers[l], *below = &net->layers[l - 1];
        /* Δ_below := Wᵀ · Δ  (Trans, NoTrans), then ⊙ σ'(Z_below) */
        gn__gemm(net->impl, ly->be[GN_PRODUCT_DELTA], GN_TRANS, GN_NOTRANS, ly->n_in, m, ly->n_out,
                 1.0f, net->params + ly->w_off, ly->n_out, net->deltas[l], ly->n_out, 0.0f,
                 net->deltas[l - 1], ly->n_in);
        gn__act_deriv(below->act, net->leaky_slope, net->deltas[l - 1], net->acts[l - 1],
                      below->n_out, m);
    }
    const gn_layer *first = &net->layers[0];
    /* G := (W^1)ᵀ · Δ^1  (Trans, NoTrans): the product training skips */
    gn__gemm(net->impl, first->be[GN_PRODUCT_DELTA], GN_TRANS, GN_NOTRANS, first->n_in, m,
             first->n_out, 1.0f, net->params + first->w_off, first->n_out, net->deltas[0],
             first->n_out, 0.0f, G, ldg);
}

gn_status gn_net_jvp(gn_net *net, const float *X, size_t ldx, const float *V, size_t ldv, size_t n,
                     float *JV, size_t ldjv)
{
    size_t n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    const operand op[] = {{"V", "ldv", V, ldv, n0}, {"JV", "ldjv", JV, ldjv, nL}};
    gn_status st = check_args(net, "gn_net_jvp", GN_SAMPLES_IN_COLUMNS, X, ldx, n, op, 2);
    if (st != GN_OK)
        return st;
    size_t L = net->n_layers;
    const gn_layer *first = &net->layers[0];
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
        gn__infer_chunk(net, X, ldx, NULL, 0, j0, m, NULL, NULL);
        /* T^0 := V / std, in xbuf now that the forward pass is done with it */
        const float *T0 = V + j0 * ldv;
        size_t ld0 = ldv;
        if (net->in_scale) {
            for (size_t j = 0; j < m; j++)
                for (size_t k = 0; k < n0; k++)
                    net->xbuf[k + j * n0] = T0[k + j * ldv] * input_factor(net, k);
            T0 = net->xbuf;
            ld0 = n0;
        }
        /* T^1 := W^1 · T^0  (NoTrans, NoTrans), then ⊙ σ'(Z^1) and on up */
        gn__gemm(net->impl, first->be[GN_PRODUCT_FORWARD], GN_NOTRANS, GN_NOTRANS, first->n_out, m,
                 n0, 1.0f, net->params + first->w_off, first->n_out, T0, ld0, 0.0f, net->deltas[0],
                 first->n_out);
        gn__act_deriv(first->act, net->leaky_slope, net->deltas[0], net->acts[0], first->n_out, m);
        forward_sweep(net, 0, m);
        const float *T = net->deltas[L - 1];
        for (size_t j = 0; j < m; j++)
            for (size_t i = 0; i < nL; i++)
                JV[i + (j0 + j) * ldjv] = T[i + j * nL] * output_factor(net, i);
    }
    return GN_OK;
}

gn_status gn_net_vjp(gn_net *net, const float *X, size_t ldx, const float *U, size_t ldu, size_t n,
                     float *G, size_t ldg)
{
    size_t n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    const operand op[] = {{"U", "ldu", U, ldu, nL}, {"G", "ldg", G, ldg, n0}};
    gn_status st = check_args(net, "gn_net_vjp", GN_SAMPLES_IN_COLUMNS, X, ldx, n, op, 2);
    if (st != GN_OK)
        return st;
    size_t L = net->n_layers;
    const gn_layer *top = &net->layers[L - 1];
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
        gn__infer_chunk(net, X, ldx, NULL, 0, j0, m, NULL, NULL);
        /* Δ^L := σ'(Z^L) ⊙ (std ⊙ u), or the softmax Jacobian times u */
        float *D = net->deltas[L - 1];
        for (size_t j = 0; j < m; j++)
            for (size_t i = 0; i < nL; i++)
                D[i + j * nL] = U[i + (j0 + j) * ldu] * output_factor(net, i);
        gn__act_deriv(top->act, net->leaky_slope, D, net->acts[L - 1], nL, m);
        reverse_sweep(net, L - 1, m, G + j0 * ldg, ldg);
        scale_input_rows(net, G + j0 * ldg, ldg, m);
    }
    return GN_OK;
}

/* Columns k of every sample's Jacobian, one forward sweep per input: the seed e_k/std_k
 * needs no product, W^1·e_k is column k of W^1. J points at the chunk's first sample. */
static void jacobian_forward(gn_net *net, size_t m, float *J, size_t ldj)
{
    size_t L = net->n_layers, n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    const gn_layer *first = &net->layers[0];
    size_t n1 = first->n_out;
    for (size_t k = 0; k < n0; k++) {
        const float *w = net->params + first->w_off + k * n1;
        float s = input_factor(net, k);
        float *T = net->deltas[0];
        for (size_t j = 0; j < m; j++)
            for (size_t i = 0; i < n1; i++)
                T[i + j * n1] = w[i] * s;
        gn__act_deriv(first->act, net->leaky_slope, T, net->acts[0], n1, m);
        forward_sweep(net, 0, m);
        const float *TL = net->deltas[L - 1];
        for (size_t j = 0; j < m; j++) {
            float *col = J + j * ldj * n0 + k * ldj;
            for (size_t i = 0; i < nL; i++)
                col[i] = TL[i + j * nL] * output_factor(net, i);
        }
    }
}

/* Rows i of every sample's Jacobian, one reverse sweep per output. For an element-wise output
 * the seed std_i·e_i picks row i of W^L (no product): (W^L)ᵀ Δ^L = W^L(i,:)ᵀ·σ'(z_i)·std_i.
 * A softmax output mixes the rows, so its seed is a column of the softmax Jacobian. */
static void jacobian_reverse(gn_net *net, size_t m, float *J, size_t ldj)
{
    size_t L = net->n_layers, n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    const gn_layer *top = &net->layers[L - 1];
    size_t below = top->n_in;
    bool softmax = top->act == GN_ACT_SOFTMAX;
    float *G = net->xbuf; /* n_0 × m: the forward pass is done with the inputs */
    float *S = net->deltas[L - 1];
    if (!softmax) { /* σ'(Z^L) once: each seed uses one of its rows */
        for (size_t p = 0; p < nL * m; p++)
            S[p] = 1.0f;
        gn__act_deriv(top->act, net->leaky_slope, S, net->acts[L - 1], nL, m);
    }
    for (size_t i = 0; i < nL; i++) {
        float s_out = output_factor(net, i);
        if (softmax) {
            for (size_t p = 0; p < nL * m; p++)
                S[p] = 0.0f;
            for (size_t j = 0; j < m; j++)
                S[i + j * nL] = s_out;
            gn__act_deriv(GN_ACT_SOFTMAX, net->leaky_slope, S, net->acts[L - 1], nL, m);
            reverse_sweep(net, L - 1, m, G, n0);
        } else {
            float *dst = L > 1 ? net->deltas[L - 2] : G;
            const float *w = net->params + top->w_off + i; /* row i, stride nL */
            for (size_t j = 0; j < m; j++) {
                float c = S[i + j * nL] * s_out;
                for (size_t p = 0; p < below; p++)
                    dst[p + j * below] = w[p * nL] * c;
            }
            if (L > 1) {
                const gn_layer *ly = &net->layers[L - 2];
                gn__act_deriv(ly->act, net->leaky_slope, dst, net->acts[L - 2], below, m);
                reverse_sweep(net, L - 2, m, G, n0);
            }
        }
        for (size_t j = 0; j < m; j++) {
            float *Jj = J + j * ldj * n0;
            for (size_t k = 0; k < n0; k++)
                Jj[i + k * ldj] = G[k + j * n0] * input_factor(net, k);
        }
    }
}

static gn_status jacobian(gn_net *net, const char *fn, gn_layout layout, const float *X, size_t ldx,
                          size_t n, float *J, size_t ldj)
{
    size_t n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    const operand op[] = {{"J", "ldj", J, ldj, nL}};
    gn_status st = check_args(net, fn, layout, X, ldx, n, op, 1);
    if (st != GN_OK)
        return st;
    size_t per_sample, total;
    if (!mul_ok(ldj, n0, &per_sample) || !mul_ok(per_sample, n, &total))
        return gn__fail(net, GN_ERR_DIM, "%s: ldj·n_inputs·n overflows size_t", fn);
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch;
        gn__infer_chunk_layout(net, layout, X, ldx, NULL, 0, j0, m, NULL, NULL);
        if (n0 <= nL)
            jacobian_forward(net, m, J + j0 * per_sample, ldj);
        else
            jacobian_reverse(net, m, J + j0 * per_sample, ldj);
    }
    return GN_OK;
}

gn_status gn_net_jacobian(gn_net *net, const float *X, size_t ldx, size_t n, float *J, size_t ldj)
{
    return jacobian(net, "gn_net_jacobian", GN_SAMPLES_IN_COLUMNS, X, ldx, n, J, ldj);
}

gn_status gn_net_jacobian_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx,
                                 size_t n, float *J, size_t ldj)
{
    return jacobian(net, "gn_net_jacobian_layout", layout, X, ldx, n, J, ldj);
}

gn_status gn_net_input_gradient(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                                size_t n, float *G, size_t ldg, double *loss)
{
    size_t n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    const operand op[] = {{"Y", "ldy", Y, ldy, nL}, {"G", "ldg", G, ldg, n0}};
    gn_status st =
        check_args(net, "gn_net_input_gradient", GN_SAMPLES_IN_COLUMNS, X, ldx, n, op, 2);
    if (st != GN_OK)
        return st;
    size_t L = net->n_layers;
    const gn_layer *top = &net->layers[L - 1];
    double sum = 0.0;
    for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
        size_t m = n - j0 < net->max_batch ? n - j0 : net->max_batch, ldyb;
        const float *Yb, *A = gn__infer_chunk(net, X, ldx, Y, ldy, j0, m, &Yb, &ldyb);
        /* the output error of training, per sample (no 1/m) */
        float *D = net->deltas[L - 1];
        sum += gn__output_delta(net->loss, net->huber_delta, top->act, A, Yb, ldyb, D, nL, m);
        gn__act_deriv(gn__output_act(net->loss, top->act), net->leaky_slope, D, A, nL, m);
        reverse_sweep(net, L - 1, m, G + j0 * ldg, ldg);
        scale_input_rows(net, G + j0 * ldg, ldg, m);
    }
    if (loss)
        *loss = sum / (double)n;
    return GN_OK;
}
