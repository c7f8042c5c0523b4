/* Sensitivities (gn_net_jvp, gn_net_vjp, gn_net_jacobian, gn_net_input_gradient) against an
 * independent double-precision model of the network, written here from gn_net_params,
 * gn_net_layer_offsets and the scalings, differentiated by central finite differences.
 *
 * Tolerance: per sample, max |lib − ref| ≤ TOL · (size of the reference), TOL = 1e-4, where
 * the size is max |J_ij| for Jacobians, max_i Σ_k |J_ik v_k| for products (so cancellation in
 * Jv is not charged to the library) and max_k |g_k| for loss gradients.
 *  - ref (double, h = 1e-5 in standardised input units, i.e. h·std_k in raw units):
 *    truncation O(h²) ≈ 1e-10 relative, rounding ≈ 1e-16 / 1e-5 = 1e-11: negligible.
 *  - lib (float32): a few products and sums per layer, each with relative error of some
 *    u = 6e-8 times the widths (≤ 7 here) and the depth (≤ 4); σ' evaluated from float
 *    outputs (1 − a for a saturated sigmoid loses digits): errors of order 1e-6.
 *  1e-4 leaves a factor of ~100 over that, while every real mistake (a missing σ', a
 *  transposed W, a scaling applied the wrong way or not at all) gives errors of order 1,
 *  as the negative controls at the end show. Points within 1e-3 of a kink (|z| of ReLU,
 *  leaky ReLU and ELU units; |a − y| under MAE) are redrawn, since there the finite
 *  difference does not estimate the derivative the library uses. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

enum { MAX_SIZES = 6, MAX_W = 8, N = 11, MAX_BATCH = 4 }; /* 11 = 4 + 4 + 3: chunking */
static const float SLOPE = 0.1f;                          /* leaky ReLU, not the default */
static const float DELTA = 0.3f;                          /* Huber δ, not the default */
static const double H = 1e-5, TOL = 1e-4, KINK = 1e-3;
static const float PAD = -777.0f; /* in rows past the matrix, never to be written */

/*---- the double-precision model ----*/

typedef struct ref {
    size_t L, sizes[MAX_SIZES];
    gn_act acts[MAX_SIZES];
    size_t w[MAX_SIZES], b[MAX_SIZES];
    const float *p;
    const float *in_mean, *in_std, *out_mean, *out_std; /* NULL without the scaling */
} ref;

static ref ref_of(gn_net *net)
{
    ref r;
    memset(&r, 0, sizeof r);
    r.L = gn_net_n_layers(net);
    cr_assert(r.L + 1 <= MAX_SIZES);
    for (size_t l = 0; l <= r.L; l++) {
        r.sizes[l] = gn_net_layer_size(net, l);
        cr_assert(r.sizes[l] <= MAX_W);
    }
    for (size_t l = 1; l <= r.L; l++) {
        r.acts[l] = gn_net_layer_act(net, l);
        cr_assert_eq(gn_net_layer_offsets(net, l, &r.w[l], &r.b[l]), GN_OK);
    }
    r.p = gn_net_params(net);
    cr_assert_eq(gn_net_input_scaling(net, &r.in_mean, &r.in_std), GN_OK);
    cr_assert_eq(gn_net_output_scaling(net, &r.out_mean, &r.out_std), GN_OK);
    return r;
}

static double act_d(gn_act act, double z)
{
    switch (act) {
    case GN_ACT_IDENTITY: return z;
    case GN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case GN_ACT_TANH: return tanh(z);
    case GN_ACT_RELU: return z > 0 ? z : 0;
    case GN_ACT_LEAKY_RELU: return z > 0 ? z : SLOPE * z;
    case GN_ACT_ELU: return z > 0 ? z : expm1(z);
    case GN_ACT_SOFTPLUS: return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
    case GN_ACT_SOFTMAX: break;
    }
    return NAN;
}

/* The model on raw input x: a = the network's own output, y = a in raw units (output
 * scaling applied); *kink = the smallest |z| of a ReLU, leaky ReLU or ELU unit. */
static void ref_forward(const ref *r, const double *x, double *a_out, double *y_out, double *kink)
{
    double a[MAX_W], z[MAX_W];
    *kink = INFINITY;
    for (size_t k = 0; k < r->sizes[0]; k++)
        a[k] = r->in_std ? (x[k] - r->in_mean[k]) / r->in_std[k] : x[k];
    for (size_t l = 1; l <= r->L; l++) {
        size_t nin = r->sizes[l - 1], nout = r->sizes[l];
        for (size_t i = 0; i < nout; i++) {
            z[i] = r->p[r->b[l] + i];
            for (size_t k = 0; k < nin; k++)
                z[i] += (double)r->p[r->w[l] + i + k * nout] * a[k];
        }
        gn_act act = r->acts[l];
        if (act == GN_ACT_SOFTMAX) {
            double mx = z[0], s = 0;
            for (size_t i = 1; i < nout; i++)
                mx = fmax(mx, z[i]);
            for (size_t i = 0; i < nout; i++)
                s += exp(z[i] - mx);
            for (size_t i = 0; i < nout; i++)
                a[i] = exp(z[i] - mx) / s;
            continue;
        }
        for (size_t i = 0; i < nout; i++) {
            if (act == GN_ACT_RELU || act == GN_ACT_LEAKY_RELU || act == GN_ACT_ELU)
                *kink = fmin(*kink, fabs(z[i]));
            a[i] = act_d(act, z[i]);
        }
    }
    size_t nL = r->sizes[r->L];
    for (size_t i = 0; i < nL; i++) {
        if (a_out)
            a_out[i] = a[i];
        if (y_out)
            y_out[i] = r->out_std ? a[i] * r->out_std[i] + r->out_mean[i] : a[i];
    }
}

/* Step for input k in raw units: H in the standardised units the network sees. */
static double step(const ref *r, size_t k) { return r->in_std ? H * r->in_std[k] : H; }

/* Central-difference Jacobian ∂y/∂x at x (float, as the library sees it): nL × n0, ld = nL. */
static void fd_jacobian(const ref *r, const float *x, double *J)
{
    size_t n0 = r->sizes[0], nL = r->sizes[r->L];
    double xd[MAX_W], yp[MAX_W], ym[MAX_W], kink;
    for (size_t k = 0; k < n0; k++)
        xd[k] = x[k];
    for (size_t k = 0; k < n0; k++) {
        double h = step(r, k), t = xd[k];
        xd[k] = t + h;
        ref_forward(r, xd, NULL, yp, &kink);
        xd[k] = t - h;
        ref_forward(r, xd, NULL, ym, &kink);
        xd[k] = t;
        for (size_t i = 0; i < nL; i++)
            J[i + k * nL] = (yp[i] - ym[i]) / (2 * h);
    }
}

/* The per-sample loss c(a, y') on the network's own output, y' the standardised target. */
static double loss_d(const ref *r, gn_loss loss, const double *a, const float *y)
{
    size_t nL = r->sizes[r->L];
    double s = 0;
    for (size_t i = 0; i < nL; i++) {
        double t = r->out_std ? ((double)y[i] - r->out_mean[i]) / r->out_std[i] : y[i];
        double g = a[i] - t;
        switch (loss) {
        case GN_LOSS_QUADRATIC: s += 0.5 * g * g; break;
        case GN_LOSS_BCE: s -= t * log(a[i]) + (1 - t) * log(1 - a[i]); break;
        case GN_LOSS_CCE: s -= t * log(a[i]); break;
        case GN_LOSS_MAE: s += fabs(g); break;
        case GN_LOSS_HUBER: s += fabs(g) <= DELTA ? 0.5 * g * g : DELTA * (fabs(g) - 0.5 * DELTA);
        }
    }
    return s;
}

static double loss_at(const ref *r, gn_loss loss, const double *x, const float *y)
{
    double a[MAX_W], kink;
    ref_forward(r, x, a, NULL, &kink);
    return loss_d(r, loss, a, y);
}

/*---- set-up ----*/

static const char *act_name(gn_act a)
{
    static const char *names[] = {"identity", "sigmoid", "tanh", "relu",
                                  "leaky",    "softmax", "elu",  "softplus"};
    return names[a];
}

/* Deterministic scalings, every std well away from 1 so that ignoring one shows. */
static const float IN_MEAN[MAX_W] = {0.5f, -1.0f, 2.0f, 0.0f, -0.3f, 1.5f, -2.0f, 0.7f};
static const float IN_STD[MAX_W] = {0.25f, 3.0f, 0.5f, 2.0f, 0.4f, 4.0f, 0.3f, 2.5f};
static const float OUT_MEAN[MAX_W] = {1.0f, -0.5f, 3.0f, 0.2f, -2.0f, 0.0f, 0.8f, -1.2f};
static const float OUT_STD[MAX_W] = {2.5f, 0.5f, 4.0f, 0.3f, 3.0f, 0.6f, 2.0f, 5.0f};

/* A net with small random biases (so a dropped bias shows) and the given scalings. */
static gn_net *make(const size_t *sizes, size_t n_sizes, const gn_act *acts, gn_loss loss,
                    bool scale_in, bool scale_out, uint64_t seed)
{
    gn_net_config cfg = net_config(sizes, n_sizes, acts, loss, MAX_BATCH, seed);
    cfg.leaky_slope = SLOPE;
    cfg.huber_delta = DELTA;
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    float *p = gn_net_params(net);
    for (size_t l = 1; l < n_sizes; l++) {
        size_t w, b;
        cr_assert_eq(gn_net_layer_offsets(net, l, &w, &b), GN_OK);
        fill_uniform(p + b, sizes[l], -0.5f, 0.5f, seed * 7 + l);
    }
    if (scale_in)
        cr_assert_eq(gn_net_set_input_scaling(net, IN_MEAN, IN_STD), GN_OK);
    if (scale_out)
        cr_assert_eq(gn_net_set_output_scaling(net, OUT_MEAN, OUT_STD), GN_OK);
    return net;
}

/* Raw inputs, rows × N with ld = rows + 2 (the padding holds NaN: reading it would show),
 * each column redrawn until no unit is within KINK of a kink. */
static float *make_inputs(const ref *r, size_t ld, uint64_t seed)
{
    size_t n0 = r->sizes[0];
    float *X = malloc(ld * N * sizeof *X);
    cr_assert_not_null(X);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < N; j++) {
        float *x = X + j * ld;
        for (size_t i = n0; i < ld; i++)
            x[i] = NAN;
        for (int tries = 0;; tries++) {
            cr_assert(tries < 1000, "no input keeps the units away from their kinks");
            double xd[MAX_W], kink;
            for (size_t k = 0; k < n0; k++) {
                double u = 3 * gn_rng_uniform(&rng) - 1.5; /* standardised value */
                x[k] = r->in_std ? (float)(IN_MEAN[k] + IN_STD[k] * u) : (float)u;
                xd[k] = x[k];
            }
            ref_forward(r, xd, NULL, NULL, &kink);
            if (kink > KINK)
                break;
        }
    }
    return X;
}

/* A rows × N matrix with ld = rows + pad, values uniform in [lo, hi), padding fill. */
static float *padded(size_t rows, size_t ld, float lo, float hi, float fill, uint64_t seed)
{
    float *A = malloc(ld * N * sizeof *A);
    cr_assert_not_null(A);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < ld; i++)
            A[i + j * ld] = i < rows ? lo + (hi - lo) * (float)gn_rng_uniform(&rng) : fill;
    return A;
}

static void check_padding(const float *A, size_t rows, size_t ld, size_t cols, const char *what)
{
    for (size_t j = 0; j < cols; j++)
        for (size_t i = rows; i < ld; i++)
            cr_assert_eq(A[i + j * ld], PAD, "%s: padding (%zu, %zu) was written", what, i, j);
}

/* max over samples of max |Jlib − Jfd| / max |Jfd|, Jlib as gn_net_jacobian stores it. */
static double jacobian_error(const ref *r, const float *X, size_t ldx, const float *J, size_t ldj)
{
    size_t n0 = r->sizes[0], nL = r->sizes[r->L];
    double worst = 0, Jfd[MAX_W * MAX_W];
    for (size_t j = 0; j < N; j++) {
        fd_jacobian(r, X + j * ldx, Jfd);
        double diff = 0, size = 0;
        for (size_t k = 0; k < n0; k++)
            for (size_t i = 0; i < nL; i++) {
                double lib = J[i + k * ldj + j * ldj * n0];
                cr_assert(isfinite(lib), "J(%zu, %zu) of sample %zu = %g", i, k, j, lib);
                diff = fmax(diff, fabs(lib - Jfd[i + k * nL]));
                size = fmax(size, fabs(Jfd[i + k * nL]));
            }
        double e = size > 0 ? diff / size : diff > 0 ? INFINITY : 0;
        worst = fmax(worst, e);
    }
    return worst;
}

/* Jv (transpose: Jᵀu) of the FD Jacobian against the library's, per sample. */
static double product_error(const ref *r, const float *X, size_t ldx, const float *V, size_t ldv,
                            const float *P, size_t ldp, bool transpose)
{
    size_t n0 = r->sizes[0], nL = r->sizes[r->L];
    size_t rows = transpose ? n0 : nL, inner = transpose ? nL : n0;
    double worst = 0, Jfd[MAX_W * MAX_W];
    for (size_t j = 0; j < N; j++) {
        fd_jacobian(r, X + j * ldx, Jfd);
        double diff = 0, size = 0;
        for (size_t i = 0; i < rows; i++) {
            double exact = 0, mag = 0;
            for (size_t k = 0; k < inner; k++) {
                double jik = transpose ? Jfd[k + i * nL] : Jfd[i + k * nL];
                exact += jik * V[k + j * ldv];
                mag += fabs(jik * V[k + j * ldv]);
            }
            double lib = P[i + j * ldp];
            cr_assert(isfinite(lib), "product (%zu, %zu) = %g", i, j, lib);
            diff = fmax(diff, fabs(lib - exact));
            size = fmax(size, mag);
        }
        double e = size > 0 ? diff / size : diff > 0 ? INFINITY : 0;
        worst = fmax(worst, e);
    }
    return worst;
}

/*---- Jacobian, JVP and VJP for every activation, depth and sweep direction ----*/

typedef struct jcase {
    gn_act hidden, out;
    size_t n_sizes, sizes[MAX_SIZES];
    bool scale_in, scale_out;
} jcase;

enum { N_ACTS = 7, PER_ACT = 6, N_EXTRA = 4, N_CASES = N_ACTS * PER_ACT + N_EXTRA };
static jcase cases[N_CASES];

ParameterizedTestParameters(jacobian, against_finite_differences)
{
    static const gn_act acts[N_ACTS] = {GN_ACT_IDENTITY, GN_ACT_SIGMOID,    GN_ACT_TANH,
                                        GN_ACT_RELU,     GN_ACT_LEAKY_RELU, GN_ACT_ELU,
                                        GN_ACT_SOFTPLUS};
    size_t c = 0;
    for (size_t a = 0; a < N_ACTS; a++) {
        gn_act h = acts[a];
        /* n_in > n_out: reverse sweeps; n_in < n_out: forward sweeps */
        cases[c++] = (jcase){h, h, 4, {5, 7, 6, 3}, true, true};
        cases[c++] = (jcase){h, h, 4, {3, 6, 5, 7}, true, true};
        cases[c++] = (jcase){h, h, 2, {4, 2}, true, true}; /* a single layer */
        cases[c++] = (jcase){h, h, 2, {2, 5}, false, false};
        cases[c++] = (jcase){h, GN_ACT_SOFTMAX, 3, {5, 6, 4}, true, false};
        cases[c++] = (jcase){h, GN_ACT_SOFTMAX, 3, {3, 6, 4}, false, false};
    }
    cases[c++] = (jcase){GN_ACT_TANH, GN_ACT_IDENTITY, 5, {4, 6, 5, 6, 4}, false, true};
    cases[c++] = (jcase){GN_ACT_SIGMOID, GN_ACT_IDENTITY, 5, {6, 5, 8, 6, 2}, true, true};
    cases[c++] = (jcase){GN_ACT_SIGMOID, GN_ACT_SOFTMAX, 2, {3, 5}, true, false};
    cases[c++] = (jcase){GN_ACT_SIGMOID, GN_ACT_SOFTMAX, 2, {6, 3}, true, false};
    return cr_make_param_array(jcase, cases, c);
}

ParameterizedTest(jcase *c, jacobian, against_finite_differences)
{
    gn_act acts[MAX_SIZES];
    for (size_t l = 0; l + 1 < c->n_sizes; l++)
        acts[l] = l + 2 < c->n_sizes ? c->hidden : c->out;
    gn_net *net = make(c->sizes, c->n_sizes, acts, GN_LOSS_QUADRATIC, c->scale_in, c->scale_out,
                       3 + c->n_sizes);
    ref r = ref_of(net);
    size_t n0 = r.sizes[0], nL = r.sizes[r.L];
    size_t ldx = n0 + 2, ldj = nL + 3, ldv = n0 + 1, ldjv = nL + 2, ldu = nL + 1, ldg = n0 + 3;
    float *X = make_inputs(&r, ldx, 11);

    /* give the gradient buffer content, to see it survive */
    float *T = padded(nL, nL, -1, 1, 0, 12);
    cr_assert_eq(gn_net_backprop(net, X, ldx, T, nL, MAX_BATCH, NULL), GN_OK);
    size_t np = gn_net_n_params(net);
    float *p0 = malloc(np * sizeof *p0), *g0 = malloc(np * sizeof *g0);
    memcpy(p0, gn_net_params(net), np * sizeof *p0);
    memcpy(g0, gn_net_grads(net), np * sizeof *g0);

    float *J = malloc(ldj * n0 * N * sizeof *J);
    for (size_t i = 0; i < ldj * n0 * N; i++)
        J[i] = PAD;
    cr_assert_eq(gn_net_jacobian(net, X, ldx, N, J, ldj), GN_OK, "%s", gn_net_last_error(net));
    check_padding(J, nL, ldj, n0 * N, "J");
    double ej = jacobian_error(&r, X, ldx, J, ldj);

    float *V = padded(n0, ldv, -1, 1, NAN, 13), *JV = padded(nL, ldjv, 0, 0, PAD, 0);
    cr_assert_eq(gn_net_jvp(net, X, ldx, V, ldv, N, JV, ldjv), GN_OK);
    check_padding(JV, nL, ldjv, N, "JV");
    double ev = product_error(&r, X, ldx, V, ldv, JV, ldjv, false);

    float *U = padded(nL, ldu, -1, 1, NAN, 14), *G = padded(n0, ldg, 0, 0, PAD, 0);
    cr_assert_eq(gn_net_vjp(net, X, ldx, U, ldu, N, G, ldg), GN_OK);
    check_padding(G, n0, ldg, N, "G");
    double eu = product_error(&r, X, ldx, U, ldu, G, ldg, true);

    cr_log_info("jacobian hidden=%s out=%s depth=%zu %zux%zu: errors J %.2g, Jv %.2g, Jᵀu %.2g",
                act_name(c->hidden), act_name(c->out), r.L, nL, n0, ej, ev, eu);
    cr_assert(ej <= TOL, "hidden=%s out=%s depth %zu: Jacobian error %.3g", act_name(c->hidden),
              act_name(c->out), r.L, ej);
    cr_assert(ev <= TOL, "hidden=%s out=%s depth %zu: Jv error %.3g", act_name(c->hidden),
              act_name(c->out), r.L, ev);
    cr_assert(eu <= TOL, "hidden=%s out=%s depth %zu: Jᵀu error %.3g", act_name(c->hidden),
              act_name(c->out), r.L, eu);
    cr_assert_eq(memcmp(p0, gn_net_params(net), np * sizeof *p0), 0, "parameters changed");
    cr_assert_eq(memcmp(g0, gn_net_grads(net), np * sizeof *g0), 0, "gradients changed");

    free(X), free(T), free(p0), free(g0), free(J), free(V), free(JV), free(U), free(G);
    gn_net_free(net);
}

/*---- input gradients of every loss ----*/

typedef struct lcase {
    gn_loss loss;
    gn_act hidden, out;
    bool scale_out;
} lcase;

static lcase lcases[] = {
    {GN_LOSS_QUADRATIC, GN_ACT_TANH, GN_ACT_IDENTITY, true},
    {GN_LOSS_QUADRATIC, GN_ACT_RELU, GN_ACT_SIGMOID, false},
    {GN_LOSS_QUADRATIC, GN_ACT_SIGMOID, GN_ACT_SOFTMAX, false},
    {GN_LOSS_BCE, GN_ACT_SOFTPLUS, GN_ACT_SIGMOID, false},
    {GN_LOSS_CCE, GN_ACT_ELU, GN_ACT_SOFTMAX, false},
    {GN_LOSS_MAE, GN_ACT_LEAKY_RELU, GN_ACT_IDENTITY, true},
    {GN_LOSS_MAE, GN_ACT_TANH, GN_ACT_SOFTMAX, false},
    {GN_LOSS_HUBER, GN_ACT_SIGMOID, GN_ACT_IDENTITY, true},
    {GN_LOSS_HUBER, GN_ACT_TANH, GN_ACT_TANH, false},
};

ParameterizedTestParameters(jacobian, input_gradient_of_each_loss)
{
    return cr_make_param_array(lcase, lcases, sizeof lcases / sizeof lcases[0]);
}

ParameterizedTest(lcase *c, jacobian, input_gradient_of_each_loss)
{
    static const size_t sizes[] = {5, 6, 4, 3};
    gn_act acts[] = {c->hidden, c->hidden, c->out};
    gn_net *net = make(sizes, 4, acts, c->loss, true, c->scale_out, 21);
    ref r = ref_of(net);
    size_t n0 = 5, nL = 3, ldx = n0 + 2, ldy = nL + 1, ldg = n0 + 2;
    float *X = make_inputs(&r, ldx, 22);
    float *Y;
    if (c->loss == GN_LOSS_CCE || c->out == GN_ACT_SOFTMAX) {
        /* one-hot: for MAE on a softmax, targets on one side of every output would give a
         * gradient of exactly zero */
        float *oh = random_onehot(nL, N, 23);
        Y = padded(nL, ldy, 0, 0, NAN, 0);
        for (size_t j = 0; j < N; j++)
            memcpy(Y + j * ldy, oh + j * nL, nL * sizeof *Y);
        free(oh);
    } else if (c->scale_out) {
        Y = padded(nL, ldy, -4, 4, NAN, 24); /* raw units around OUT_MEAN ± a few std */
        for (size_t j = 0; j < N; j++)
            for (size_t i = 0; i < nL; i++)
                Y[i + j * ldy] = OUT_MEAN[i] + OUT_STD[i] * Y[i + j * ldy] / 4;
    } else {
        Y = padded(nL, ldy, 0.05f, 0.95f, NAN, 24);
    }
    /* MAE: targets away from the outputs, where |a − y| has its kink */
    size_t small = 0, large = 0;
    for (size_t j = 0; j < N; j++) {
        double xd[MAX_W], a[MAX_W], kink;
        for (size_t k = 0; k < n0; k++)
            xd[k] = X[k + j * ldx];
        ref_forward(&r, xd, a, NULL, &kink);
        for (size_t i = 0; i < nL; i++) {
            double t = r.out_std ? (Y[i + j * ldy] - r.out_mean[i]) / r.out_std[i] : Y[i + j * ldy];
            double g = fabs(a[i] - t);
            if (c->loss == GN_LOSS_MAE)
                cr_assert(g > KINK, "sample %zu output %zu: |a − y| = %g at the kink", j, i, g);
            small += g < DELTA;
            large += g > DELTA;
        }
    }
    if (c->loss == GN_LOSS_HUBER) /* both branches of the Huber loss are exercised */
        cr_assert(small > 0 && large > 0, "Huber: %zu quadratic, %zu linear", small, large);

    float *T = padded(nL, nL, -1, 1, 0, 12);
    cr_assert_eq(gn_net_backprop(net, X, ldx, T, nL, MAX_BATCH, NULL), GN_OK);
    size_t np = gn_net_n_params(net);
    float *g0 = malloc(np * sizeof *g0);
    memcpy(g0, gn_net_grads(net), np * sizeof *g0);

    float *G = padded(n0, ldg, 0, 0, PAD, 0);
    double loss = NAN;
    cr_assert_eq(gn_net_input_gradient(net, X, ldx, Y, ldy, N, G, ldg, &loss), GN_OK, "%s",
                 gn_net_last_error(net));
    check_padding(G, n0, ldg, N, "G");
    cr_assert_eq(memcmp(g0, gn_net_grads(net), np * sizeof *g0), 0, "gradients changed");

    double worst = 0, total = 0;
    for (size_t j = 0; j < N; j++) {
        double xd[MAX_W];
        for (size_t k = 0; k < n0; k++)
            xd[k] = X[k + j * ldx];
        const float *y = Y + j * ldy;
        total += loss_at(&r, c->loss, xd, y);
        double diff = 0, size = 0;
        for (size_t k = 0; k < n0; k++) {
            double h = step(&r, k), t = xd[k];
            xd[k] = t + h;
            double lp = loss_at(&r, c->loss, xd, y);
            xd[k] = t - h;
            double lm = loss_at(&r, c->loss, xd, y);
            xd[k] = t;
            double fd = (lp - lm) / (2 * h), lib = G[k + j * ldg];
            diff = fmax(diff, fabs(lib - fd));
            size = fmax(size, fabs(fd));
        }
        cr_assert(size > 0, "sample %zu: the loss does not depend on x", j);
        worst = fmax(worst, diff / size);
    }
    cr_log_info("input gradient loss=%d out=%s: error %.2g", (int)c->loss, act_name(c->out), worst);
    cr_assert(worst <= TOL, "loss %d, out %s: input gradient error %.3g", (int)c->loss,
              act_name(c->out), worst);
    /* the mean loss: the double model's, and what gn_net_evaluate reports */
    cr_assert(rel_err(loss, total / N) < 1e-5, "loss %.9g vs double %.9g", loss, total / N);
    double eval;
    cr_assert_eq(gn_net_evaluate(net, X, ldx, Y, ldy, N, &eval, NULL), GN_OK);
    cr_assert(rel_err(loss, eval) < 1e-6, "loss %.9g vs gn_net_evaluate %.9g", loss, eval);
    cr_assert_eq(gn_net_input_gradient(net, X, ldx, Y, ldy, N, G, ldg, NULL), GN_OK);

    free(X), free(Y), free(T), free(g0), free(G);
    gn_net_free(net);
}

/*---- semantics ----*/

/* Training's σ' at a kink: ReLU at z = 0 counts as inactive (0), leaky ReLU takes its slope. */
Test(jacobian, relu_kink_uses_the_training_derivative)
{
    static const size_t sizes[] = {2, 2};
    static const gn_act kinds[] = {GN_ACT_RELU, GN_ACT_LEAKY_RELU};
    for (size_t t = 0; t < 2; t++) {
        gn_net *net = make(sizes, 2, &kinds[t], GN_LOSS_QUADRATIC, false, false, 1);
        float *p = gn_net_params(net);
        /* W = [[1, 2], [3, 4]], b = (−3, 1): at x = (1, 1), z = (0, 8) */
        const float w[6] = {1, 3, 2, 4, -3, 1};
        memcpy(p, w, sizeof w);
        const float x[2] = {1, 1};
        float J[4];
        cr_assert_eq(gn_net_jacobian(net, x, 2, 1, J, 2), GN_OK);
        float s = t == 0 ? 0.0f : SLOPE;
        /* row 0 (the unit at its kink) is s·(1, 2); row 1 (active) is (3, 4) */
        cr_assert_float_eq(J[0], s * 1.0f, 1e-7f);
        cr_assert_float_eq(J[2], s * 2.0f, 1e-7f);
        cr_assert_float_eq(J[1], 3.0f, 1e-7f);
        cr_assert_float_eq(J[3], 4.0f, 1e-7f);
        /* and in reverse mode: Jᵀ·e_0 is row 0 */
        const float u[2] = {1, 0};
        float g[2];
        cr_assert_eq(gn_net_vjp(net, x, 2, u, 2, 1, g, 2), GN_OK);
        cr_assert_float_eq(g[0], s * 1.0f, 1e-7f);
        cr_assert_float_eq(g[1], s * 2.0f, 1e-7f);
        gn_net_free(net);
    }
}

/* Inference mode: with dropout set, the sensitivities are those of the full network. */
Test(jacobian, dropout_does_not_act)
{
    static const size_t sizes[] = {4, 6, 5, 2};
    gn_net *net = make(sizes, 4, (gn_act[]){GN_ACT_TANH, GN_ACT_TANH, GN_ACT_IDENTITY},
                       GN_LOSS_QUADRATIC, true, true, 5);
    ref r = ref_of(net);
    float *X = make_inputs(&r, 6, 31);
    size_t len = 2 * 4 * N;
    float *J0 = malloc(len * sizeof *J0), *J1 = malloc(len * sizeof *J1);
    cr_assert_eq(gn_net_jacobian(net, X, 6, N, J0, 2), GN_OK);
    cr_assert_eq(gn_net_set_dropout(net, 0.5f), GN_OK);
    cr_assert_eq(gn_net_jacobian(net, X, 6, N, J1, 2), GN_OK);
    cr_assert_eq(memcmp(J0, J1, len * sizeof *J0), 0);
    cr_assert(jacobian_error(&r, X, 6, J1, 2) <= TOL);
    free(X), free(J0), free(J1);
    gn_net_free(net);
}

/* The columns of J are the JVPs with unit directions, its rows the VJPs with unit vectors:
 * the three calls agree with each other (in float, to rounding), in both sweep directions. */
Test(jacobian, columns_and_rows_are_jvp_and_vjp)
{
    static const size_t shapes[2][3] = {{3, 7, 5}, {6, 7, 2}};
    for (size_t s = 0; s < 2; s++) {
        gn_net *net = make(shapes[s], 3, (gn_act[]){GN_ACT_SOFTPLUS, GN_ACT_IDENTITY},
                           GN_LOSS_QUADRATIC, true, true, 9);
        ref r = ref_of(net);
        size_t n0 = shapes[s][0], nL = shapes[s][2];
        float *X = make_inputs(&r, n0 + 2, 41);
        float *J = malloc(nL * n0 * N * sizeof *J), *E = calloc(MAX_W * N, sizeof *E),
              *P = malloc(MAX_W * N * sizeof *P);
        cr_assert_eq(gn_net_jacobian(net, X, n0 + 2, N, J, nL), GN_OK);
        /* The routes sum the same products in other orders (and, on some backends, with
         * other kernels per shape), so they differ by rounding relative to the summands: an
         * entry that is small by cancellation is compared on the scale of its sample's
         * largest entry. */
        double scale[N];
        for (size_t j = 0; j < N; j++) {
            scale[j] = 0;
            for (size_t e = 0; e < nL * n0; e++)
                scale[j] = fmax(scale[j], fabs(J[e + j * nL * n0]));
        }
#define CLOSE(got, want, j) (fabs((double)(got) - (want)) <= 1e-5 * fmax(fabs(want), scale[j]))
        for (size_t k = 0; k < n0; k++) { /* column k: J·e_k */
            memset(E, 0, MAX_W * N * sizeof *E);
            for (size_t j = 0; j < N; j++)
                E[k + j * n0] = 1.0f;
            cr_assert_eq(gn_net_jvp(net, X, n0 + 2, E, n0, N, P, nL), GN_OK);
            for (size_t j = 0; j < N; j++)
                for (size_t i = 0; i < nL; i++)
                    cr_assert(CLOSE(P[i + j * nL], J[i + k * nL + j * nL * n0], j),
                              "J(%zu,%zu) of sample %zu: %g vs Jv %g", i, k, j,
                              (double)J[i + k * nL + j * nL * n0], (double)P[i + j * nL]);
        }
        for (size_t i = 0; i < nL; i++) { /* row i: Jᵀ·e_i */
            memset(E, 0, MAX_W * N * sizeof *E);
            for (size_t j = 0; j < N; j++)
                E[i + j * nL] = 1.0f;
            cr_assert_eq(gn_net_vjp(net, X, n0 + 2, E, nL, N, P, n0), GN_OK);
            for (size_t j = 0; j < N; j++)
                for (size_t k = 0; k < n0; k++)
                    cr_assert(CLOSE(P[k + j * n0], J[i + k * nL + j * nL * n0], j),
                              "J(%zu,%zu) of sample %zu: %g vs Jᵀu %g", i, k, j,
                              (double)J[i + k * nL + j * nL * n0], (double)P[k + j * n0]);
        }
#undef CLOSE
        free(X), free(J), free(E), free(P);
        gn_net_free(net);
    }
}

/*---- negative controls: the comparison rejects a wrong function ----*/

/* The library's Jacobian against the FD of a model without one of the scalings must fail,
 * in both sweep directions: a library that ignored the scaling would fail the main test. */
Test(jacobian, negative_control_scalings_matter)
{
    static const size_t shapes[2][3] = {{3, 6, 5}, {5, 6, 3}};
    for (size_t s = 0; s < 2; s++) {
        gn_net *net = make(shapes[s], 3, (gn_act[]){GN_ACT_TANH, GN_ACT_IDENTITY},
                           GN_LOSS_QUADRATIC, true, true, 17);
        ref r = ref_of(net);
        size_t n0 = shapes[s][0], nL = shapes[s][2];
        float *X = make_inputs(&r, n0 + 2, 51);
        float *J = malloc(nL * n0 * N * sizeof *J);
        cr_assert_eq(gn_net_jacobian(net, X, n0 + 2, N, J, nL), GN_OK);
        cr_assert(jacobian_error(&r, X, n0 + 2, J, nL) <= TOL);
        ref no_out = r;
        no_out.out_mean = no_out.out_std = NULL;
        cr_assert(jacobian_error(&no_out, X, n0 + 2, J, nL) > 0.1,
                  "a Jacobian without the output scaling passed");
        ref no_in = r;
        no_in.in_mean = no_in.in_std = NULL;
        cr_assert(jacobian_error(&no_in, X, n0 + 2, J, nL) > 0.1,
                  "a Jacobian without the input scaling passed");
        /* one entry off by 1 % is caught too */
        size_t big = 0;
        for (size_t i = 0; i < nL * n0; i++)
            big = fabsf(J[i]) > fabsf(J[big]) ? i : big;
        J[big] *= 1.01f;
        cr_assert(jacobian_error(&r, X, n0 + 2, J, nL) > TOL, "a 1%% error passed");
        free(X), free(J);
        gn_net_free(net);
    }
}

/*---- errors ----*/

Test(jacobian, errors)
{
    static const size_t sizes[] = {3, 4, 2};
    gn_net *net = make(sizes, 3, NULL, GN_LOSS_QUADRATIC, false, false, 1);
    float X[3 * 2] = {0}, V[3 * 2] = {0}, Y[2 * 2] = {0}, out[64];
    for (size_t i = 0; i < 64; i++)
        out[i] = PAD;
    size_t big = (size_t)INT_MAX + 1;
#define EXPECT(call, status, fn)                                                                   \
    do {                                                                                           \
        cr_assert_eq((call), (status), "%s", #call);                                               \
        cr_assert_not_null(strstr(gn_net_last_error(net), fn), "%s: message '%s'", #call,          \
                           gn_net_last_error(net));                                                \
    } while (0)

    cr_assert_eq(gn_net_jvp(NULL, X, 3, V, 3, 2, out, 2), GN_ERR_NULL);
    cr_assert_eq(gn_net_vjp(NULL, X, 3, Y, 2, 2, out, 3), GN_ERR_NULL);
    cr_assert_eq(gn_net_jacobian(NULL, X, 3, 2, out, 2), GN_ERR_NULL);
    cr_assert_eq(gn_net_input_gradient(NULL, X, 3, Y, 2, 2, out, 3, NULL), GN_ERR_NULL);

    EXPECT(gn_net_jvp(net, NULL, 3, V, 3, 2, out, 2), GN_ERR_NULL, "gn_net_jvp");
    EXPECT(gn_net_jvp(net, X, 3, NULL, 3, 2, out, 2), GN_ERR_NULL, "gn_net_jvp");
    EXPECT(gn_net_jvp(net, X, 3, V, 3, 2, NULL, 2), GN_ERR_NULL, "gn_net_jvp");
    EXPECT(gn_net_jvp(net, X, 3, V, 3, 0, out, 2), GN_ERR_DIM, "gn_net_jvp");
    EXPECT(gn_net_jvp(net, X, 2, V, 3, 2, out, 2), GN_ERR_DIM, "ldx");
    EXPECT(gn_net_jvp(net, X, 3, V, 2, 2, out, 2), GN_ERR_DIM, "ldv");
    EXPECT(gn_net_jvp(net, X, 3, V, 3, 2, out, 1), GN_ERR_DIM, "ldjv");
    EXPECT(gn_net_jvp(net, X, big, V, 3, 2, out, 2), GN_ERR_DIM, "gn_net_jvp");
    EXPECT(gn_net_jvp(net, X, 3, V, big, 2, out, 2), GN_ERR_DIM, "ldv");
    EXPECT(gn_net_jvp(net, X, 3, V, 3, 2, out, big), GN_ERR_DIM, "ldjv");

    EXPECT(gn_net_vjp(net, NULL, 3, Y, 2, 2, out, 3), GN_ERR_NULL, "gn_net_vjp");
    EXPECT(gn_net_vjp(net, X, 3, NULL, 2, 2, out, 3), GN_ERR_NULL, "gn_net_vjp");
    EXPECT(gn_net_vjp(net, X, 3, Y, 2, 2, NULL, 3), GN_ERR_NULL, "gn_net_vjp");
    EXPECT(gn_net_vjp(net, X, 3, Y, 2, 0, out, 3), GN_ERR_DIM, "gn_net_vjp");
    EXPECT(gn_net_vjp(net, X, 2, Y, 2, 2, out, 3), GN_ERR_DIM, "ldx");
    EXPECT(gn_net_vjp(net, X, 3, Y, 1, 2, out, 3), GN_ERR_DIM, "ldu");
    EXPECT(gn_net_vjp(net, X, 3, Y, 2, 2, out, 2), GN_ERR_DIM, "ldg");
    EXPECT(gn_net_vjp(net, X, 3, Y, big, 2, out, 3), GN_ERR_DIM, "ldu");
    EXPECT(gn_net_vjp(net, X, 3, Y, 2, 2, out, big), GN_ERR_DIM, "ldg");

    EXPECT(gn_net_jacobian(net, NULL, 3, 2, out, 2), GN_ERR_NULL, "gn_net_jacobian");
    EXPECT(gn_net_jacobian(net, X, 3, 2, NULL, 2), GN_ERR_NULL, "gn_net_jacobian");
    EXPECT(gn_net_jacobian(net, X, 3, 0, out, 2), GN_ERR_DIM, "gn_net_jacobian");
    EXPECT(gn_net_jacobian(net, X, 2, 2, out, 2), GN_ERR_DIM, "ldx");
    EXPECT(gn_net_jacobian(net, X, 3, 2, out, 1), GN_ERR_DIM, "ldj");
    EXPECT(gn_net_jacobian(net, X, 3, 2, out, big), GN_ERR_DIM, "ldj");
    /* ldj·n_in·n beyond size_t */
    EXPECT(gn_net_jacobian(net, X, 3, SIZE_MAX / 4, out, 2), GN_ERR_DIM, "overflow");

    EXPECT(gn_net_input_gradient(net, NULL, 3, Y, 2, 2, out, 3, NULL), GN_ERR_NULL,
           "gn_net_input_gradient");
    EXPECT(gn_net_input_gradient(net, X, 3, NULL, 2, 2, out, 3, NULL), GN_ERR_NULL,
           "gn_net_input_gradient");
    EXPECT(gn_net_input_gradient(net, X, 3, Y, 2, 2, NULL, 3, NULL), GN_ERR_NULL,
           "gn_net_input_gradient");
    EXPECT(gn_net_input_gradient(net, X, 3, Y, 2, 0, out, 3, NULL), GN_ERR_DIM,
           "gn_net_input_gradient");
    EXPECT(gn_net_input_gradient(net, X, 2, Y, 2, 2, out, 3, NULL), GN_ERR_DIM, "ldx");
    EXPECT(gn_net_input_gradient(net, X, 3, Y, 1, 2, out, 3, NULL), GN_ERR_DIM, "ldy");
    EXPECT(gn_net_input_gradient(net, X, 3, Y, 2, 2, out, 2, NULL), GN_ERR_DIM, "ldg");
    EXPECT(gn_net_input_gradient(net, X, 3, Y, big, 2, out, 3, NULL), GN_ERR_DIM, "ldy");
#undef EXPECT
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(out[i], PAD, "a failed call wrote out[%zu]", i);
    gn_net_free(net);
}
