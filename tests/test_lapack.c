/* LAPACK in gemmnet (lib/lapack.c): orthogonal initialisation, the closed-form ridge readout
 * of the output layer, and singular values. Oracles are computed here: Gram–Schmidt and
 * normal equations in double, LAPACKE_sgels on the raw data, gradient descent, and matrices
 * with singular values known by construction. */
#include <criterion/criterion.h>

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

/*==== Helpers ===============================================================================*/

static float *layer_w(gn_net *net, size_t l)
{
    size_t w, b;
    cr_assert_eq(gn_net_layer_offsets(net, l, &w, &b), GN_OK);
    return gn_net_params(net) + w;
}

static float *layer_b(gn_net *net, size_t l)
{
    size_t w, b;
    cr_assert_eq(gn_net_layer_offsets(net, l, &w, &b), GN_OK);
    return gn_net_params(net) + b;
}

/* max |M − g²·I| where M = WᵀW (m ≥ n) or W·Wᵀ (m < n), W m × n, in double. */
static double orthonormality_error(const float *W, size_t m, size_t n, double gain)
{
    double err = 0.0;
    size_t k = m >= n ? n : m;
    for (size_t a = 0; a < k; a++)
        for (size_t c = 0; c < k; c++) {
            double s = 0.0;
            if (m >= n) /* columns a and c */
                for (size_t i = 0; i < m; i++)
                    s += (double)W[i + a * m] * W[i + c * m];
            else /* rows a and c */
                for (size_t j = 0; j < n; j++)
                    s += (double)W[a + j * m] * W[c + j * m];
            err = fmax(err, fabs(s - (a == c ? gain * gain : 0.0)));
        }
    return err;
}

/* Modified Gram–Schmidt on the columns of G (r × c, r ≥ c) in double: Q (r × c). */
static void gram_schmidt(const double *G, size_t r, size_t c, double *Q)
{
    memcpy(Q, G, r * c * sizeof *Q);
    for (size_t j = 0; j < c; j++) {
        for (size_t i = 0; i < j; i++) {
            double d = 0.0;
            for (size_t t = 0; t < r; t++)
                d += Q[t + i * r] * Q[t + j * r];
            for (size_t t = 0; t < r; t++)
                Q[t + j * r] -= d * Q[t + i * r];
        }
        double norm = 0.0;
        for (size_t t = 0; t < r; t++)
            norm += Q[t + j * r] * Q[t + j * r];
        norm = sqrt(norm);
        for (size_t t = 0; t < r; t++)
            Q[t + j * r] /= norm;
    }
}

/* Condition number σ_max/σ_min of G (r × c) from LAPACKE_dgesdd. */
static double condition(const double *G, size_t r, size_t c)
{
    double *A = malloc(r * c * sizeof *A), s[64], dummy = 0;
    cr_assert_not_null(A);
    cr_assert_leq(c, 64);
    memcpy(A, G, r * c * sizeof *A);
    cr_assert_eq(
        LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (int)r, (int)c, A, (int)r, s, &dummy, 1, &dummy, 1),
        0);
    free(A);
    size_t k = r < c ? r : c;
    return s[0] / s[k - 1];
}

/* Solves the symmetric positive definite system A·x = b (A p × p, b p × q, both column-major,
 * overwritten: x in b) by Cholesky in double, written out here. */
static void cholesky_solve(double *A, double *b, size_t p, size_t q)
{
    for (size_t j = 0; j < p; j++) { /* A = L·Lᵀ, L in the lower triangle */
        double d = A[j + j * p];
        for (size_t k = 0; k < j; k++)
            d -= A[j + k * p] * A[j + k * p];
        cr_assert_gt(d, 0.0, "the test's normal equations are not positive definite");
        A[j + j * p] = sqrt(d);
        for (size_t i = j + 1; i < p; i++) {
            double s = A[i + j * p];
            for (size_t k = 0; k < j; k++)
                s -= A[i + k * p] * A[j + k * p];
            A[i + j * p] = s / A[j + j * p];
        }
    }
    for (size_t c = 0; c < q; c++) {
        double *x = b + c * p;
        for (size_t i = 0; i < p; i++) { /* L·y = b */
            for (size_t k = 0; k < i; k++)
                x[i] -= A[i + k * p] * x[k];
            x[i] /= A[i + i * p];
        }
        for (size_t i = p; i-- > 0;) { /* Lᵀ·x = y */
            for (size_t k = i + 1; k < p; k++)
                x[i] -= A[k + i * p] * x[k];
            x[i] /= A[i + i * p];
        }
    }
}

/* The ridge solution x (p × q, p = nh + 1: weights of output c in x[0..nh) of column c, its
 * bias in x[nh]) of ½Σ‖W h_j + b − t_j‖² + ½λ‖W‖² from the normal equations
 * (Σ h̃ h̃ᵀ + λ·diag(1…1, 0)) x = Σ h̃ tᵀ, h̃ = (h, 1), in double. H is nh × n (ld nh),
 * T is q × n (ld q). */
static void ridge_reference(const double *H, const double *T, size_t nh, size_t q, size_t n,
                            double lambda, double *x)
{
    size_t p = nh + 1;
    double *A = calloc(p * p, sizeof *A), *h = malloc(p * sizeof *h);
    cr_assert(A && h);
    memset(x, 0, p * q * sizeof *x);
    for (size_t j = 0; j < n; j++) {
        memcpy(h, H + j * nh, nh * sizeof *h);
        h[nh] = 1.0;
        for (size_t a = 0; a < p; a++) {
            for (size_t c = 0; c < p; c++)
                A[a + c * p] += h[a] * h[c];
            for (size_t c = 0; c < q; c++)
                x[a + c * p] += h[a] * T[c + j * q];
        }
    }
    for (size_t a = 0; a < nh; a++)
        A[a + a * p] += lambda;
    cholesky_solve(A, x, p, q);
    free(A);
    free(h);
}

/* max over outputs i and hidden units k of |W[i,k] − x[k,i]| and |b[i] − x[nh,i]|. */
static double readout_diff(const float *W, const float *b, const double *x, size_t nh, size_t q)
{
    double d = 0.0;
    for (size_t i = 0; i < q; i++) {
        for (size_t k = 0; k < nh; k++)
            d = fmax(d, fabs((double)W[i + k * q] - x[k + i * (nh + 1)]));
        d = fmax(d, fabs((double)b[i] - x[nh + i * (nh + 1)]));
    }
    return d;
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    cr_assert_not_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* A linear problem: X uniform in [−1, 1] (n_in × n), T = A·X + c + noise (q × n), noise
 * uniform in [−amp, amp]. */
static void linear_problem(size_t n_in, size_t q, size_t n, float amp, uint64_t seed, float **X,
                           float **T)
{
    *X = random_floats(n_in * n, -1.0f, 1.0f, seed);
    *T = malloc(q * n * sizeof **T);
    float *A = random_floats(q * n_in, -2.0f, 2.0f, seed + 1);
    float *c = random_floats(q, -1.0f, 1.0f, seed + 2);
    float *e = random_floats(q * n, -amp, amp, seed + 3);
    cr_assert(*X && *T && A && c && e);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < q; i++) {
            double s = c[i] + e[i + j * q];
            for (size_t k = 0; k < n_in; k++)
                s += (double)A[i + k * q] * (*X)[k + j * n_in];
            (*T)[i + j * q] = (float)s;
        }
    free(A);
    free(c);
    free(e);
}

/*==== Orthogonal initialisation =============================================================*/

static const size_t orth_sizes[] = {5, 5, 9, 3, 7, 4};
static const gn_act orth_acts[] = {GN_ACT_RELU, GN_ACT_TANH, GN_ACT_ELU, GN_ACT_LEAKY_RELU,
                                   GN_ACT_SIGMOID};
/* square, tall, wide, tall, wide; gains √2, 1, √2, √2, 1 */
static const double orth_gain[] = {1.4142135623730951, 1.0, 1.4142135623730951, 1.4142135623730951,
                                   1.0};

static gn_net *orthogonal_net(uint64_t seed)
{
    gn_net_config cfg = net_config(orth_sizes, 6, orth_acts, GN_LOSS_QUADRATIC, 8, seed);
    cfg.init = GN_INIT_ORTHOGONAL;
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    return net;
}

Test(lapack, orthogonal_layers_have_orthonormal_rows_or_columns_times_the_gain)
{
    gn_net *net = orthogonal_net(3);
    for (size_t l = 1; l <= 5; l++) {
        size_t m = orth_sizes[l], n = orth_sizes[l - 1];
        /* float rounding of a few products of length ≤ 9: a few 1e-7 */
        double err = orthonormality_error(layer_w(net, l), m, n, orth_gain[l - 1]);
        cr_assert_lt(err, 2e-6, "layer %zu (%zu × %zu): |WᵀW − g²I| = %g", l, m, n, err);
        for (size_t i = 0; i < m; i++)
            cr_assert_eq(layer_b(net, l)[i], 0.0f);
    }
    /* the same check fails for another scheme: the test can tell */
    cr_assert_eq(gn_net_init_params(net, GN_INIT_HE, 3), GN_OK);
    cr_assert_gt(orthonormality_error(layer_w(net, 1), 5, 5, orth_gain[0]), 1e-2);
    gn_net_free(net);
}

/* W is gain × the Gram–Schmidt orthonormalisation of the Gaussian matrix the header says is
 * drawn (columns of an r × c matrix, layer after layer, one stream): this pins down the sign
 * fix (R's diagonal made positive) that makes Q Haar-distributed. */
Test(lapack, orthogonal_equals_gram_schmidt_of_the_documented_draw)
{
    const uint64_t seed = 41;
    gn_net *net = orthogonal_net(seed);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t l = 1; l <= 5; l++) {
        size_t m = orth_sizes[l], n = orth_sizes[l - 1];
        size_t r = m > n ? m : n, c = m > n ? n : m;
        double G[81], Q[81];
        for (size_t i = 0; i < r * c; i++)
            G[i] = (float)gn_rng_normal(&rng); /* as drawn: rounded to float */
        gram_schmidt(G, r, c, Q);
        /* Householder QR in float against exact Gram–Schmidt: the orthonormal factor of G
         * moves by about cond(G)·ε per unit of perturbation; 10·r·cond(G)·ε_float */
        double tol = 10.0 * (double)r * condition(G, r, c) * FLT_EPSILON;
        const float *W = layer_w(net, l);
        double d = 0.0;
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < m; i++) {
                double q = m >= n ? Q[i + j * r] : Q[j + i * r];
                d = fmax(d, fabs((double)W[i + j * m] - orth_gain[l - 1] * q));
            }
        cr_assert_lt(d, tol, "layer %zu: |W − g·Q_gs| = %g (tolerance %g)", l, d, tol);
    }
    gn_net_free(net);
}

Test(lapack, orthogonal_is_deterministic_per_seed)
{
    gn_net *a = orthogonal_net(7), *b = orthogonal_net(7), *c = orthogonal_net(8);
    size_t np = gn_net_n_params(a);
    cr_assert_eq(memcmp(gn_net_params(a), gn_net_params(b), np * sizeof(float)), 0);
    cr_assert_neq(memcmp(gn_net_params(a), gn_net_params(c), np * sizeof(float)), 0);
    /* re-drawing with gn_net_init_params gives the same bits as gn_net_create */
    cr_assert_eq(gn_net_init_params(c, GN_INIT_ORTHOGONAL, 7), GN_OK);
    cr_assert_eq(memcmp(gn_net_params(a), gn_net_params(c), np * sizeof(float)), 0);
    gn_net_free(a);
    gn_net_free(b);
    gn_net_free(c);
}

Test(lapack, orthogonal_singular_values_all_equal_the_gain)
{
    gn_net *net = orthogonal_net(5);
    for (size_t l = 1; l <= 5; l++) {
        size_t m = orth_sizes[l], n = orth_sizes[l - 1], k = m < n ? m : n;
        float s[9];
        cr_assert_eq(gn_net_layer_singular_values(net, l, s), GN_OK);
        for (size_t i = 0; i < k; i++)
            cr_assert_float_eq(s[i], orth_gain[l - 1], 2e-6, "layer %zu: s[%zu] = %g", l, i,
                               (double)s[i]);
    }
    gn_net_free(net);
}

Test(lapack, orthogonal_is_a_valid_config_and_the_next_value_is_not)
{
    const size_t sizes[] = {2, 3};
    gn_net_config cfg = net_config(sizes, 2, NULL, GN_LOSS_QUADRATIC, 4, 1);
    cfg.init = GN_INIT_ORTHOGONAL;
    cr_assert_eq(gn_net_config_check(&cfg, NULL, 0), GN_OK);
    cfg.init = (gn_init)GN_INIT_COUNT;
    cr_assert_eq(gn_net_config_check(&cfg, NULL, 0), GN_ERR_ARG);
    gn_net *net = make_net(sizes, 2, NULL, GN_LOSS_QUADRATIC, 4, 1);
    cr_assert_eq(gn_net_init_params(net, (gn_init)GN_INIT_COUNT, 1), GN_ERR_ARG);
    gn_net_free(net);
}

/*==== Closed-form readout ===================================================================*/

/* One identity layer, λ = 0: the weights are LAPACKE_sgels's least-squares solution of
 * [Xᵀ 1]·[Wᵀ; bᵀ] ≈ Tᵀ built here from the raw data. n = 1100 with max_batch 37 crosses the
 * library's blocks and forward chunks at odd places. */
Test(lapack, lstsq_one_layer_equals_sgels_on_the_raw_data)
{
    const size_t n_in = 4, q = 3, n = 1100, p = n_in + 1;
    float *X, *T;
    linear_problem(n_in, q, n, 0.01f, 100, &X, &T);
    const size_t sizes[] = {n_in, q};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 37, 1);
    double rmse = -1.0;
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n, 0.0f, &rmse), GN_OK, "%s",
                 gn_net_last_error(net));

    float *M = malloc(n * p * sizeof *M), *B = malloc(n * q * sizeof *B);
    cr_assert(M && B);
    for (size_t j = 0; j < n; j++) {
        for (size_t k = 0; k < n_in; k++)
            M[j + k * n] = X[k + j * n_in];
        M[j + n_in * n] = 1.0f;
        for (size_t i = 0; i < q; i++)
            B[j + i * n] = T[i + j * q];
    }
    cr_assert_eq(LAPACKE_sgels(LAPACK_COL_MAJOR, 'N', (int)n, (int)p, (int)q, M, (int)n, B, (int)n),
                 0);
    const float *W = layer_w(net, 1), *b = layer_b(net, 1);
    /* sgels works in float on a system of condition ≈ 2 (uniform features, a constant): its
     * error is about √n·ε·cond ≈ 1e-5, far above the library's double-precision solve */
    double d = 0.0;
    for (size_t i = 0; i < q; i++) {
        for (size_t k = 0; k < n_in; k++)
            d = fmax(d, fabs((double)W[i + k * q] - B[k + i * n]));
        d = fmax(d, fabs((double)b[i] - B[n_in + i * n]));
    }
    cr_assert_lt(d, 2e-5, "|lstsq − sgels| = %g", d);
    /* rmse: the residual of the installed parameters, recomputed here in double */
    double ss = 0.0;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < q; i++) {
            double r = (double)b[i] - T[i + j * q];
            for (size_t k = 0; k < n_in; k++)
                r += (double)W[i + k * q] * X[k + j * n_in];
            ss += r * r;
        }
    double expect = sqrt(ss / (double)(n * q));
    /* the library's predictions are float products: 1e-7 relative of |t| ≈ 3 on a residual
     * of ≈ 0.006 */
    cr_assert(fabs(rmse - expect) <= 1e-3 * expect, "rmse %g, recomputed %g", rmse, expect);
    /* and it is the noise level, uniform on ±0.01: 0.01/√3 (independent sanity, 10 %) */
    cr_assert(fabs(rmse - 0.01 / sqrt(3.0)) < 0.1 * 0.01 / sqrt(3.0), "rmse %g", rmse);
    free(M);
    free(B);
    free(X);
    free(T);
    gn_net_free(net);
}

/* λ > 0: the ridge solution from normal equations solved in double here. */
Test(lapack, lstsq_ridge_equals_normal_equations_in_double)
{
    const size_t n_in = 5, q = 2, n = 700, p = n_in + 1;
    float *X, *T;
    linear_problem(n_in, q, n, 0.5f, 200, &X, &T);
    const size_t sizes[] = {n_in, q};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 64, 1);
    double *Xd = to_double(X, n_in * n), *Td = to_double(T, q * n), x0[12], x1[12];
    ridge_reference(Xd, Td, n_in, q, n, 0.0, x0);
    const float lambda = 150.0f; /* comparable to Σ x² = n/3 per feature: real shrinkage */
    ridge_reference(Xd, Td, n_in, q, n, lambda, x1);
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n, lambda, NULL), GN_OK);
    /* both solve the same float data in double: only the final rounding to float differs */
    double d = readout_diff(layer_w(net, 1), layer_b(net, 1), x1, n_in, q);
    cr_assert_lt(d, 1e-6, "|ridge − normal equations| = %g", d);
    double shrink = 0.0; /* the penalty moves the weights far more than the tolerance */
    for (size_t i = 0; i < p * q; i++)
        shrink = fmax(shrink, fabs(x1[i] - x0[i]));
    cr_assert_gt(shrink, 0.05);
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n, 0.0f, NULL), GN_OK);
    d = readout_diff(layer_w(net, 1), layer_b(net, 1), x0, n_in, q);
    cr_assert_lt(d, 1e-6, "|lstsq − normal equations| = %g at λ = 0", d);
    free(Xd);
    free(Td);
    free(X);
    free(T);
    gn_net_free(net);
}

/* A two-layer network: the readout equals what full-batch gradient descent on the output
 * layer alone converges to, with gemmnet's own optimizer on a one-layer network fed the
 * hidden activations computed here. gemmnet minimises (1/n)Σ½‖·‖² + ½·l2·‖W‖², so l2 = λ/n
 * gives the ridge objective divided by n: the same minimiser. */
Test(lapack, lstsq_two_layers_equals_gradient_descent_on_the_readout)
{
    const size_t n0 = 3, nh = 8, q = 2, n = 240;
    const float lambda = 3.0f;
    const size_t sizes[] = {n0, nh, q};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 50, 9);
    float *X = random_floats(n0 * n, -2.0f, 2.0f, 300), *T = malloc(q * n * sizeof *T);
    cr_assert(X && T);
    for (size_t j = 0; j < n; j++) { /* a smooth nonlinear target */
        const float *x = X + j * n0;
        T[0 + j * q] = sinf(x[0]) + 0.5f * x[1] * x[2];
        T[1 + j * q] = cosf(x[1] - x[2]) - 0.3f * x[0];
    }
    /* hidden activations, computed here in double from the first layer's parameters */
    const float *W1 = layer_w(net, 1), *b1 = layer_b(net, 1);
    float *H = malloc(nh * n * sizeof *H);
    cr_assert_not_null(H);
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < nh; k++) {
            double z = b1[k];
            for (size_t i = 0; i < n0; i++)
                z += (double)W1[k + i * nh] * X[i + j * n0];
            H[k + j * nh] = (float)tanh(z);
        }
    size_t np = gn_net_n_params(net), w1 = nh * n0 + nh;
    float *before = malloc(np * sizeof *before);
    cr_assert_not_null(before);
    memcpy(before, gn_net_params(net), np * sizeof *before);
    cr_assert_eq(gn_fit_output_lstsq(net, X, n0, T, q, n, lambda, NULL), GN_OK, "%s",
                 gn_net_last_error(net));
    cr_assert_eq(memcmp(before, gn_net_params(net), w1 * sizeof *before), 0,
                 "the first layer must not change");

    const size_t rsizes[] = {nh, q};
    gn_net *readout = make_net(rsizes, 2, acts + 1, GN_LOSS_QUADRATIC, n, 2);
    gn_optimizer_config oc;
    gn_optimizer_config_defaults(&oc, GN_OPT_MOMENTUM);
    oc.lr = 0.1f;
    oc.momentum = 0.9f;
    oc.l2 = lambda / (float)n;
    gn_optimizer *opt = NULL;
    cr_assert_eq(gn_optimizer_create(&opt, readout, &oc, NULL, 0), GN_OK);
    for (int step = 0; step < 20000; step++)
        cr_assert_eq(gn_optimizer_step(opt, readout, H, nh, T, q, n, NULL), GN_OK);
    /* converged: the ridge gradient, recomputed here in double, vanishes */
    const float *Wg = layer_w(readout, 1), *bg = layer_b(readout, 1);
    double gmax = 0.0;
    for (size_t i = 0; i < q; i++)
        for (size_t k = 0; k <= nh; k++) {
            double g = k < nh ? (double)oc.l2 * Wg[i + k * q] : 0.0;
            for (size_t j = 0; j < n; j++) {
                double r = (double)bg[i] - T[i + j * q];
                for (size_t c = 0; c < nh; c++)
                    r += (double)Wg[i + c * q] * H[c + j * nh];
                g += r * (k < nh ? H[k + j * nh] : 1.0) / (double)n;
            }
            gmax = fmax(gmax, fabs(g));
        }
    cr_assert_lt(gmax, 1e-5, "gradient descent has not converged: |∇| = %g", gmax);
    /* the activations fed to the two differ by float rounding (library sgemm + tanhf against
     * double tanh here), ≈ 1e-7, amplified by the problem's conditioning */
    double d = 0.0;
    const float *W = layer_w(net, 2), *b = layer_b(net, 2);
    for (size_t i = 0; i < q; i++) {
        for (size_t k = 0; k < nh; k++)
            d = fmax(d, fabs((double)W[i + k * q] - Wg[i + k * q]));
        d = fmax(d, fabs((double)b[i] - bg[i]));
    }
    cr_assert_lt(d, 2e-5, "|lstsq − gradient descent| = %g", d);
    gn_optimizer_free(opt);
    gn_net_free(readout);
    free(before);
    free(H);
    free(X);
    free(T);
    gn_net_free(net);
}

/* The model's scaling: with λ = 0 an affine least-squares fit does not depend on affine
 * rescaling of the inputs and outputs, so the predictions in raw units equal those of the fit
 * on the raw data; with λ > 0 the penalty acts on the network's own W, so W equals the ridge
 * solution on the scaled data. */
Test(lapack, lstsq_honours_input_and_output_scaling)
{
    const size_t n_in = 3, q = 2, n = 500;
    const float in_mean[3] = {1.0f, -2.0f, 0.5f}, in_std[3] = {2.0f, 0.5f, 3.0f};
    const float out_mean[2] = {10.0f, -5.0f}, out_std[2] = {4.0f, 0.25f};
    float *U, *T0;
    linear_problem(n_in, q, n, 0.2f, 400, &U, &T0);
    float *X = malloc(n_in * n * sizeof *X), *T = malloc(q * n * sizeof *T);
    cr_assert(X && T);
    for (size_t j = 0; j < n; j++) {
        for (size_t k = 0; k < n_in; k++)
            X[k + j * n_in] = in_mean[k] + in_std[k] * U[k + j * n_in];
        for (size_t i = 0; i < q; i++)
            T[i + j * q] = out_mean[i] + out_std[i] * T0[i + j * q];
    }
    const size_t sizes[] = {n_in, q};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 64, 1);
    cr_assert_eq(gn_net_set_input_scaling(net, in_mean, in_std), GN_OK);
    cr_assert_eq(gn_net_set_output_scaling(net, out_mean, out_std), GN_OK);

    /* λ = 0: predictions in raw units against the raw-data fit */
    double *Xd = to_double(X, n_in * n), *Td = to_double(T, q * n), x0[8];
    ridge_reference(Xd, Td, n_in, q, n, 0.0, x0);
    double rmse = 0.0;
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n, 0.0f, &rmse), GN_OK);
    const float *W = layer_w(net, 1), *b = layer_b(net, 1);
    double worst = 0.0, ss = 0.0;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < q; i++) {
            double ref = x0[n_in + i * (n_in + 1)], a = b[i];
            for (size_t k = 0; k < n_in; k++) {
                ref += x0[k + i * (n_in + 1)] * Xd[k + j * n_in];
                a += (double)W[i + k * q] * (Xd[k + j * n_in] - in_mean[k]) / in_std[k];
            }
            a = a * out_std[i] + out_mean[i];
            worst = fmax(worst, fabs(a - ref) / out_std[i]);
            ss += (a - Td[i + j * q]) * (a - Td[i + j * q]);
        }
    /* in scaled units: float rounding of the scaled data and of W, a few 1e-7 */
    cr_assert_lt(worst, 1e-5, "raw-unit predictions differ from the raw fit by %g σ", worst);
    double expect = sqrt(ss / (double)(n * q));
    cr_assert(fabs(rmse - expect) <= 1e-4 * expect, "rmse %g in raw units, recomputed %g", rmse,
              expect);

    /* λ > 0: W is the ridge solution on the scaled data */
    double *Xs = malloc(n_in * n * sizeof *Xs), *Ts = malloc(q * n * sizeof *Ts), x1[8];
    cr_assert(Xs && Ts);
    for (size_t j = 0; j < n; j++) {
        for (size_t k = 0; k < n_in; k++)
            Xs[k + j * n_in] = (Xd[k + j * n_in] - in_mean[k]) / in_std[k];
        for (size_t i = 0; i < q; i++)
            Ts[i + j * q] = (Td[i + j * q] - out_mean[i]) / out_std[i];
    }
    const float lambda = 40.0f;
    ridge_reference(Xs, Ts, n_in, q, n, lambda, x1);
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n, lambda, NULL), GN_OK);
    double d = readout_diff(W, b, x1, n_in, q);
    cr_assert_lt(d, 1e-5, "|W − ridge on scaled data| = %g", d);
    /* on the raw data the same λ gives other weights: the scaling did matter */
    double xr[8];
    ridge_reference(Xd, Td, n_in, q, n, lambda, xr);
    double moved = 0.0;
    for (size_t i = 0; i < q; i++)
        for (size_t k = 0; k < n_in; k++) {
            double raw_in_scaled_units = xr[k + i * (n_in + 1)] * in_std[k] / out_std[i];
            moved = fmax(moved, fabs(raw_in_scaled_units - x1[k + i * (n_in + 1)]));
        }
    cr_assert_gt(moved, 1e-3);
    free(Xs);
    free(Ts);
    free(Xd);
    free(Td);
    free(U);
    free(T0);
    free(X);
    free(T);
    gn_net_free(net);
}

/* Every refusal leaves the parameters as they were. */
static void assert_refused(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                           size_t n, float lambda, gn_status want, const char *msg)
{
    size_t np = gn_net_n_params(net);
    float *before = malloc(np * sizeof *before);
    cr_assert_not_null(before);
    memcpy(before, gn_net_params(net), np * sizeof *before);
    double rmse = 12345.0;
    gn_status st = gn_fit_output_lstsq(net, X, ldx, Y, ldy, n, lambda, &rmse);
    cr_assert_eq(st, want, "%s: got %d (%s), want %d", gn_net_last_error(net), st, gn_strerror(st),
                 want);
    cr_assert_eq(memcmp(before, gn_net_params(net), np * sizeof *before), 0,
                 "parameters changed by a refused call (%s)", gn_net_last_error(net));
    cr_assert_eq(rmse, 12345.0, "rmse written by a refused call");
    if (msg)
        cr_assert_not_null(strstr(gn_net_last_error(net), msg), "'%s' not in '%s'", msg,
                           gn_net_last_error(net));
    free(before);
}

Test(lapack, lstsq_refuses_bad_arguments_and_leaves_the_parameters)
{
    const size_t n_in = 3, q = 2, n = 50;
    float *X, *T;
    linear_problem(n_in, q, n, 0.1f, 500, &X, &T);
    const size_t sizes[] = {n_in, q};
    const gn_act ident[] = {GN_ACT_IDENTITY}, sigm[] = {GN_ACT_SIGMOID};
    gn_net *net = make_net(sizes, 2, ident, GN_LOSS_QUADRATIC, 16, 1);
    cr_assert_eq(gn_fit_output_lstsq(NULL, X, n_in, T, q, n, 0.0f, NULL), GN_ERR_NULL);
    assert_refused(net, NULL, n_in, T, q, n, 0.0f, GN_ERR_NULL, "X");
    assert_refused(net, X, n_in, NULL, q, n, 0.0f, GN_ERR_NULL, "Y");
    assert_refused(net, X, n_in, T, q, 0, 0.0f, GN_ERR_DIM, NULL);
    assert_refused(net, X, n_in - 1, T, q, n, 0.0f, GN_ERR_DIM, "ldx");
    assert_refused(net, X, n_in, T, q - 1, n, 0.0f, GN_ERR_DIM, "ldy");
    assert_refused(net, X, n_in, T, q, n, -1.0f, GN_ERR_ARG, "lambda");
    assert_refused(net, X, n_in, T, q, n, NAN, GN_ERR_ARG, "lambda");
    assert_refused(net, X, n_in, T, q, n, INFINITY, GN_ERR_ARG, "lambda");
    /* non-finite data, named by sample */
    X[1 + 7 * n_in] = NAN;
    assert_refused(net, X, n_in, T, q, n, 1.0f, GN_ERR_NONFINITE, "sample 7 of X");
    X[1 + 7 * n_in] = 0.5f;
    T[0 + 33 * q] = INFINITY;
    assert_refused(net, X, n_in, T, q, n, 1.0f, GN_ERR_NONFINITE, "sample 33 of Y");
    T[0 + 33 * q] = 0.5f;
    /* the same call with good data succeeds: the refusals were about what they said */
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n, 0.0f, NULL), GN_OK);
    gn_net_free(net);

    gn_net *cls = make_net(sizes, 2, sigm, GN_LOSS_QUADRATIC, 16, 1);
    assert_refused(cls, X, n_in, T, q, n, 0.0f, GN_ERR_UNSUPPORTED, "identity");
    gn_net_free(cls);
    free(X);
    free(T);
}

/* Rank deficiency with λ = 0 is an error, not a solution; λ > 0 makes the same data solvable. */
Test(lapack, lstsq_reports_rank_deficiency)
{
    const size_t n_in = 4, q = 2, n = 300;
    float *X, *T;
    linear_problem(n_in, q, n, 0.1f, 600, &X, &T);
    const size_t sizes[] = {n_in, q};
    const gn_act ident[] = {GN_ACT_IDENTITY, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, ident, GN_LOSS_QUADRATIC, 32, 1);
    /* a feature that is a combination of two others */
    for (size_t j = 0; j < n; j++)
        X[3 + j * n_in] = 2.0f * X[0 + j * n_in] - X[1 + j * n_in];
    assert_refused(net, X, n_in, T, q, n, 0.0f, GN_ERR_SINGULAR, "linearly dependent");
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n, 0.5f, NULL), GN_OK);
    /* a constant feature duplicates the bias */
    for (size_t j = 0; j < n; j++)
        X[3 + j * n_in] = 7.0f;
    assert_refused(net, X, n_in, T, q, n, 0.0f, GN_ERR_SINGULAR, NULL);
    /* an all-zero feature */
    for (size_t j = 0; j < n; j++)
        X[3 + j * n_in] = 0.0f;
    assert_refused(net, X, n_in, T, q, n, 0.0f, GN_ERR_SINGULAR, "input 3 (0-based) is zero");
    /* fewer samples than unknowns */
    free(X);
    free(T);
    linear_problem(n_in, q, n, 0.1f, 601, &X, &T);
    assert_refused(net, X, n_in, T, q, n_in, 0.0f, GN_ERR_SINGULAR, NULL);
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n_in, 0.5f, NULL), GN_OK);
    cr_assert_eq(gn_fit_output_lstsq(net, X, n_in, T, q, n_in + 1, 0.0f, NULL), GN_OK);
    gn_net_free(net);

    /* an identity hidden layer wider than the input: its 10 units span only 3 + 1 dimensions,
     * exactly in real arithmetic and up to float rounding in the forward pass */
    const size_t wide[] = {3, 10, q};
    gn_net *deep = make_net(wide, 3, ident, GN_LOSS_QUADRATIC, 32, 1);
    assert_refused(deep, X, 3, T, q, n, 0.0f, GN_ERR_SINGULAR, "hidden activations");
    cr_assert_eq(gn_fit_output_lstsq(deep, X, 3, T, q, n, 1e-3f, NULL), GN_OK);
    gn_net_free(deep);
    free(X);
    free(T);
}

Test(lapack, lstsq_reports_a_dead_hidden_unit_and_nonfinite_activations)
{
    const size_t sizes[] = {2, 4, 1}, n = 100;
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 32, 3);
    float *X = random_floats(2 * n, -1.0f, 1.0f, 700), *T = random_floats(n, -1.0f, 1.0f, 701);
    cr_assert(X && T);
    float *W1 = layer_w(net, 1), *b1 = layer_b(net, 1);
    W1[2 + 0 * 4] = W1[2 + 1 * 4] = 0.0f; /* unit 2: relu(0·x − 1) = 0 on every sample */
    b1[2] = -1.0f;
    assert_refused(net, X, 2, T, 1, n, 0.0f, GN_ERR_SINGULAR, "hidden unit 2 (0-based) is zero");
    cr_assert_eq(gn_fit_output_lstsq(net, X, 2, T, 1, n, 0.1f, NULL), GN_OK);
    /* activations that overflow from finite data */
    W1[0] = 3e38f;
    X[0 + 5 * 2] = 10.0f;
    assert_refused(net, X, 2, T, 1, n, 0.1f, GN_ERR_NONFINITE, "hidden activations of sample 5");
    gn_net_free(net);
    free(X);
    free(T);
}

/*==== Singular values =======================================================================*/

/* Q := G(i, j, θ)·Q for random Givens rotations in random planes (Q r × r, starts as I). */
static void random_rotation(double *Q, size_t r, gn_rng *rng)
{
    for (size_t a = 0; a < r * r; a++)
        Q[a] = a % (r + 1) == 0 ? 1.0 : 0.0;
    for (size_t t = 0; t < 6 * r; t++) {
        size_t i = gn_rng_below(rng, r), j = gn_rng_below(rng, r);
        if (i == j)
            continue;
        double th = 6.283185307179586 * gn_rng_uniform(rng), c = cos(th), s = sin(th);
        for (size_t col = 0; col < r; col++) {
            double qi = Q[i + col * r], qj = Q[j + col * r];
            Q[i + col * r] = c * qi - s * qj;
            Q[j + col * r] = s * qi + c * qj;
        }
    }
}

/* W := U·diag(s)·Vᵀ (m × n) from rotations U (m × m) and V (n × n): singular values s. */
static void set_known_spectrum(float *W, size_t m, size_t n, const double *s, uint64_t seed)
{
    double U[64], V[64];
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    random_rotation(U, m, &rng);
    random_rotation(V, n, &rng);
    size_t k = m < n ? m : n;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < m; i++) {
            double w = 0.0;
            for (size_t t = 0; t < k; t++)
                w += U[i + t * m] * s[t] * V[j + t * n];
            W[i + j * m] = (float)w;
        }
}

Test(lapack, singular_values_of_matrices_built_with_known_ones)
{
    const size_t sizes[] = {5, 3, 7};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 1);
    const double wide[3] = {4.0, 2.5, 0.125};      /* layer 1: 3 × 5 */
    const double tall[3] = {3.0, 3.0 - 1e-3, 0.5}; /* layer 2: 7 × 3, a near tie */
    set_known_spectrum(layer_w(net, 1), 3, 5, wide, 11);
    set_known_spectrum(layer_w(net, 2), 7, 3, tall, 12);
    float s[3];
    cr_assert_eq(gn_net_layer_singular_values(net, 1, s), GN_OK);
    /* W rounded to float moves each σ by at most ‖ΔW‖₂ ≈ √(mn)·ε·σ_max; sgesdd adds a few ε */
    for (size_t i = 0; i < 3; i++)
        cr_assert_float_eq(s[i], wide[i], 4.0 * 1e-6, "layer 1 s[%zu] = %.9g", i, (double)s[i]);
    cr_assert_eq(gn_net_layer_singular_values(net, 2, s), GN_OK);
    for (size_t i = 0; i < 3; i++)
        cr_assert_float_eq(s[i], tall[i], 3.0 * 1e-6, "layer 2 s[%zu] = %.9g", i, (double)s[i]);
    /* a permuted diagonal with a zero: values sorted, the zero exact */
    float *W = layer_w(net, 1);
    memset(W, 0, 15 * sizeof *W);
    W[0 + 3 * 3] = -2.0f; /* row 0, column 3 */
    W[1 + 0 * 3] = 5.0f;
    cr_assert_eq(gn_net_layer_singular_values(net, 1, s), GN_OK);
    cr_assert_float_eq(s[0], 5.0f, 1e-6);
    cr_assert_float_eq(s[1], 2.0f, 1e-6);
    cr_assert_eq(s[2], 0.0f);
    gn_net_free(net);
}

Test(lapack, singular_values_errors)
{
    const size_t sizes[] = {4, 3, 2};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 1);
    float s[3] = {-1.0f, -1.0f, -1.0f};
    cr_assert_eq(gn_net_layer_singular_values(NULL, 1, s), GN_ERR_NULL);
    cr_assert_eq(gn_net_layer_singular_values(net, 1, NULL), GN_ERR_NULL);
    cr_assert_eq(gn_net_layer_singular_values(net, 0, s), GN_ERR_ARG);
    cr_assert_eq(gn_net_layer_singular_values(net, 3, s), GN_ERR_ARG);
    layer_w(net, 2)[3] = NAN;
    cr_assert_eq(gn_net_layer_singular_values(net, 2, s), GN_ERR_NONFINITE);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s[i], -1.0f, "s written by a failed call");
    cr_assert_eq(gn_net_layer_singular_values(net, 1, s), GN_OK);
    cr_assert_gt(s[0], 0.0f);
    cr_assert_geq(s[0], s[1]);
    cr_assert_geq(s[1], s[2]);
    cr_assert_str_neq(gn_strerror(GN_ERR_SINGULAR), gn_strerror((gn_status)-1000));
    gn_net_free(net);
}

/*==== Out of memory =========================================================================*/

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Bytes of address space this process uses now (/proc/self/statm), 0 if unknown. */
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Under an address-space limit too tight for their temporaries (16 MiB for the orthogonal
 * draw of a 2048 × 2048 layer, 32 MiB for the readout's 2049² factor), both calls fail with
 * GN_ERR_NOMEM and leave the parameters as they were. */
Test(lapack, no_memory_leaves_the_parameters)
{
#ifdef UNDER_ASAN /* its shadow memory needs terabytes of address space: no limit possible */
    cr_log_info("AddressSanitizer: address space not limited, test not run");
    return;
#endif
    const size_t sizes[] = {2048, 2048}, n = 4;
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 4, 1);
    float *X = random_floats(2048 * n, -1.0f, 1.0f, 800), *T = random_floats(2048 * n, 0, 1, 801);
    size_t np = gn_net_n_params(net);
    float *before = malloc(np * sizeof *before);
    cr_assert(X && T && before);
    memcpy(before, gn_net_params(net), np * sizeof *before);
    struct rlimit saved, lim;
    cr_assert_eq(getrlimit(RLIMIT_AS, &saved), 0);
    size_t now = vm_bytes();
    cr_assert_gt(now, 0u);
    lim = saved;
    lim.rlim_cur = now + ((size_t)4 << 20);
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
    gn_status a = gn_net_init_params(net, GN_INIT_ORTHOGONAL, 5);
    gn_status b = gn_fit_output_lstsq(net, X, 2048, T, 2048, n, 1.0f, NULL);
    cr_assert_eq(setrlimit(RLIMIT_AS, &saved), 0);
    cr_assert_eq(a, GN_ERR_NOMEM, "orthogonal init: %d", a);
    cr_assert_eq(b, GN_ERR_NOMEM, "lstsq: %d", b);
    cr_assert_eq(memcmp(before, gn_net_params(net), np * sizeof *before), 0);
    /* with the memory back, both work */
    cr_assert_eq(gn_net_init_params(net, GN_INIT_ORTHOGONAL, 5), GN_OK);
    cr_assert_neq(memcmp(before, gn_net_params(net), np * sizeof *before), 0);
    free(before);
    free(X);
    free(T);
    gn_net_free(net);
}
