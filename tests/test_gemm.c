/* The three dense-layer products (and the fourth transpose case) on every implementation,
 * against an oracle computed here in double precision, for many shapes. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdio.h>

#include "testutil.h"

typedef struct shape {
    size_t m, n, k;
} shape;

/* Includes 1×1, the odd sizes 1, 7, 33, 257, batch 1 and batch larger than features. */
static const shape shapes[] = {
    {1, 1, 1},     {1, 7, 1},    {7, 1, 33},    {33, 7, 1},    {7, 33, 257}, {257, 1, 7},
    {1, 257, 33},  {33, 33, 33}, {257, 33, 7},  {30, 10, 784}, {10, 1, 30},  {784, 10, 30},
    {30, 784, 10}, {16, 300, 4}, {3, 257, 257}, {64, 64, 1},
};

static const float *el(const float *X, size_t ld, gn_trans t, size_t i, size_t j)
{
    return t == GN_NOTRANS ? &X[i + j * ld] : &X[j + i * ld];
}

/* Checks C against alpha·op(A)·op(B) + beta·C0 computed in double. The allowed error for
 * element (i,j) is the standard forward error bound of a float dot product of length k,
 * c·k·u·(|α|·Σ|a||b| + |β||c0|), with u = 2⁻²⁴ and a safety factor c = 2 (the bound is
 * worst-case and k·u is tiny here, so 2 loses no power: a single wrong term is far above it). */
static void check_product(gn_impl impl, gn_backend be, gn_trans ta, gn_trans tb, shape s,
                          float alpha, float beta)
{
    size_t lda = (ta == GN_NOTRANS ? s.m : s.k) + 3; /* ld > rows: padding must be skipped */
    size_t ldb = (tb == GN_NOTRANS ? s.k : s.n) + 1;
    size_t ldc = s.m + 2;
    size_t acols = ta == GN_NOTRANS ? s.k : s.m, bcols = tb == GN_NOTRANS ? s.n : s.k;
    float *A = random_floats(lda * acols, -1, 1, 11 + s.m);
    float *B = random_floats(ldb * bcols, -1, 1, 23 + s.n);
    float *C = random_floats(ldc * s.n, -1, 1, 37 + s.k);
    float *C0 = malloc(ldc * s.n * sizeof *C0);
    cr_assert(A && B && C && C0);
    for (size_t i = 0; i < ldc * s.n; i++)
        C0[i] = C[i];
    if (beta == 0.0f) /* BLAS semantics: C is not read when beta is 0 */
        for (size_t i = 0; i < ldc * s.n; i++)
            C[i] = (i % ldc) < s.m ? NAN : C[i];
    if (be == GN_BACKEND_AUTO)
        cr_assert_eq(gn_gemm(impl, ta, tb, s.m, s.n, s.k, alpha, A, lda, B, ldb, beta, C, ldc),
                     GN_OK);
    else
        cr_assert_eq(
            gn_gemm_backend(be, ta, tb, s.m, s.n, s.k, alpha, A, lda, B, ldb, beta, C, ldc), GN_OK);
    const double u = FLT_EPSILON / 2;
    size_t bad_i = 0, bad_j = 0, n_bad = 0, n_pad = 0;
    double bad_got = 0, bad_exact = 0, bad_bound = 0;
    for (size_t j = 0; j < s.n; j++)
        for (size_t i = 0; i < ldc; i++) {
            if (i >= s.m) {
                n_pad += C[i + j * ldc] != C0[i + j * ldc];
                continue;
            }
            double exact = 0, mag = 0;
            for (size_t p = 0; p < s.k; p++) {
                double t = (double)*el(A, lda, ta, i, p) * *el(B, ldb, tb, p, j);
                exact += t;
                mag += fabs(t);
            }
            double c0 = C0[i + j * ldc];
            exact = alpha * exact + (beta == 0.0f ? 0.0 : beta * c0);
            double bound =
                2.0 * (double)(s.k + 2) * u * (fabs(alpha) * mag + fabs(beta) * fabs(c0));
            double got = C[i + j * ldc];
            if (!(fabs(got - exact) <= bound + 1e-30) && n_bad++ == 0) {
                bad_i = i, bad_j = j, bad_got = got, bad_exact = exact, bad_bound = bound;
            }
        }
    cr_assert_eq(n_pad, 0, "impl %d backend %s: %zu padding elements of C were written", impl,
                 gn_backend_name(be), n_pad);
    cr_assert_eq(n_bad, 0,
                 "impl %d backend %s trans %d%d shape %zux%zux%zu alpha %g beta %g: %zu wrong, "
                 "first C(%zu,%zu) = %.9g, exact %.9g, bound %.3g",
                 impl, gn_backend_name(be), ta, tb, s.m, s.n, s.k, alpha, beta, n_bad, bad_i, bad_j,
                 bad_got, bad_exact, bad_bound);
    free(A);
    free(B);
    free(C);
    free(C0);
}

static void shapes_on(gn_impl impl, gn_backend be, gn_trans ta, gn_trans tb, const shape *list,
                      size_t n_shapes)
{
    for (size_t i = 0; i < n_shapes; i++) {
        check_product(impl, be, ta, tb, list[i], 1.0f, 0.0f);
        check_product(impl, be, ta, tb, list[i], 0.25f, 0.0f); /* 1/m folded into alpha */
        check_product(impl, be, ta, tb, list[i], -1.5f, 0.5f);
        check_product(impl, be, ta, tb, list[i], 1.0f, 1.0f);
        check_product(impl, be, ta, tb, list[i], -0.01f, 1.0f); /* the fused SGD update */
    }
}

static void all_shapes(gn_impl impl, gn_trans ta, gn_trans tb)
{
    shapes_on(impl, GN_BACKEND_AUTO, ta, tb, shapes, sizeof shapes / sizeof shapes[0]);
}

/* Each backend on the same shapes, plus shapes that cross the blocking of gemmnet's libxsmm
 * driver (and the size where it stops calling one kernel for the whole product). */
static const shape large_shapes[] = {
    {300, 130, 520}, {129, 257, 65}, {512, 64, 1100}, {1030, 17, 3}, {5, 700, 300},
};

size_t gn__xsmm_fallbacks(void) __attribute__((weak)); /* lib/xsmm.c, with libxsmm only */

static void backend_products(gn_backend be)
{
    if (!gn_backend_available(be))
        cr_skip_test("backend %s is not in this build", gn_backend_name(be));
    for (int t = 0; t < 4; t++) {
        gn_trans ta = t & 1 ? GN_TRANS : GN_NOTRANS, tb = t & 2 ? GN_TRANS : GN_NOTRANS;
        shapes_on(GN_IMPL_BLAS, be, ta, tb, shapes, sizeof shapes / sizeof shapes[0]);
        shapes_on(GN_IMPL_BLAS, be, ta, tb, large_shapes,
                  sizeof large_shapes / sizeof large_shapes[0]);
    }
    /* every block of every shape had a JIT kernel: the driver's own loop was not needed */
    if (be == GN_BACKEND_LIBXSMM && gn__xsmm_fallbacks)
        cr_assert_eq(gn__xsmm_fallbacks(), 0);
}

Test(gemm, backend_openblas, .timeout = 120) { backend_products(GN_BACKEND_OPENBLAS); }
Test(gemm, backend_onednn, .timeout = 120) { backend_products(GN_BACKEND_ONEDNN); }
Test(gemm, backend_libxsmm, .timeout = 120) { backend_products(GN_BACKEND_LIBXSMM); }

/* forward Z = W·A */
Test(gemm, forward_nn_blas) { all_shapes(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS); }
Test(gemm, forward_nn_naive) { all_shapes(GN_IMPL_NAIVE, GN_NOTRANS, GN_NOTRANS); }
Test(gemm, forward_nn_loop) { all_shapes(GN_IMPL_LOOP, GN_NOTRANS, GN_NOTRANS); }
/* weight gradient dW = (1/m) Δ·Aᵀ */
Test(gemm, wgrad_nt_blas) { all_shapes(GN_IMPL_BLAS, GN_NOTRANS, GN_TRANS); }
Test(gemm, wgrad_nt_naive) { all_shapes(GN_IMPL_NAIVE, GN_NOTRANS, GN_TRANS); }
Test(gemm, wgrad_nt_loop) { all_shapes(GN_IMPL_LOOP, GN_NOTRANS, GN_TRANS); }
/* back-propagated delta Wᵀ·Δ */
Test(gemm, delta_tn_blas) { all_shapes(GN_IMPL_BLAS, GN_TRANS, GN_NOTRANS); }
Test(gemm, delta_tn_naive) { all_shapes(GN_IMPL_NAIVE, GN_TRANS, GN_NOTRANS); }
Test(gemm, delta_tn_loop) { all_shapes(GN_IMPL_LOOP, GN_TRANS, GN_NOTRANS); }
/* not a layer product, but part of the public contract */
Test(gemm, tt_all_impls)
{
    all_shapes(GN_IMPL_BLAS, GN_TRANS, GN_TRANS);
    all_shapes(GN_IMPL_NAIVE, GN_TRANS, GN_TRANS);
    all_shapes(GN_IMPL_LOOP, GN_TRANS, GN_TRANS);
}

Test(gemm, public_ref_wrappers_match_dispatch)
{
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, -1, 2, 0, 1, 3};
    float C1[4], C2[4], C3[4];
    /* [1 3 5; 2 4 6] · [1 0; -1 1; 2 3] = [8 18; 10 22] */
    cr_assert_eq(gn_ref_gemm_naive(GN_NOTRANS, GN_NOTRANS, 2, 2, 3, 1, A, 2, B, 3, 0, C1, 2),
                 GN_OK);
    cr_assert_eq(gn_ref_gemm_loop(GN_NOTRANS, GN_NOTRANS, 2, 2, 3, 1, A, 2, B, 3, 0, C2, 2), GN_OK);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS, 2, 2, 3, 1, A, 2, B, 3, 0, C3, 2),
                 GN_OK);
    const float want[4] = {8, 10, 18, 22};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(C1[i], want[i]);
        cr_assert_eq(C2[i], want[i]);
        cr_assert_eq(C3[i], want[i]);
    }
}

Test(gemm, empty_products)
{
    float C[4] = {1, 2, 3, 4};
    /* k = 0: C := beta·C */
    for (int impl = 0; impl < 3; impl++) {
        float D[4] = {1, 2, 3, 4};
        cr_assert_eq(
            gn_gemm(impl, GN_NOTRANS, GN_NOTRANS, 2, 2, 0, 1, NULL, 2, NULL, 1, 0.5f, D, 2), GN_OK);
        for (int i = 0; i < 4; i++)
            cr_assert_eq(D[i], 0.5f * C[i], "impl %d", impl);
    }
    /* m = 0 or n = 0: nothing happens, NULL pointers allowed */
    cr_assert_eq(
        gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS, 0, 2, 2, 1, NULL, 1, NULL, 2, 0, NULL, 1),
        GN_OK);
    cr_assert_eq(
        gn_gemm(GN_IMPL_NAIVE, GN_NOTRANS, GN_NOTRANS, 2, 0, 2, 1, NULL, 2, NULL, 2, 0, NULL, 2),
        GN_OK);
}

Test(gemm, errors)
{
    float A[4] = {0}, B[4] = {0}, C[4] = {0};
    cr_assert_eq(gn_gemm((gn_impl)7, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
                 GN_ERR_ARG);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, (gn_trans)2, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
                 GN_ERR_ARG);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, (gn_trans)-1, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
                 GN_ERR_ARG);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, NULL, 2, B, 2, 0, C, 2),
                 GN_ERR_NULL);
    cr_assert_eq(gn_gemm(GN_IMPL_LOOP, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, NULL, 2, 0, C, 2),
                 GN_ERR_NULL);
    cr_assert_eq(gn_gemm(GN_IMPL_NAIVE, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, NULL, 2),
                 GN_ERR_NULL);
    /* leading dimensions smaller than the rows stored */
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 1, B, 2, 0, C, 2),
                 GN_ERR_DIM);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_TRANS, GN_NOTRANS, 2, 2, 3, 1, A, 2, B, 3, 0, C, 2),
                 GN_ERR_DIM);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_TRANS, 2, 3, 2, 1, A, 2, B, 2, 0, C, 2),
                 GN_ERR_DIM);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 1),
                 GN_ERR_DIM);
    cr_assert_eq(gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS, 0, 2, 2, 1, A, 0, B, 2, 0, C, 1),
                 GN_ERR_DIM);
    /* sizes BLAS cannot take (int) */
    size_t big = (size_t)1 << 33;
    cr_assert_eq(
        gn_gemm(GN_IMPL_BLAS, GN_NOTRANS, GN_NOTRANS, big, 1, 1, 1, A, big, B, 1, 0, C, big),
        GN_ERR_DIM);
    cr_assert_eq(gn_ref_gemm_naive(GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, NULL, 2),
                 GN_ERR_NULL);
    cr_assert_eq(gn_ref_gemm_loop(GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 1),
                 GN_ERR_DIM);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(C[i], 0.0f, "a rejected call must not write C");
}

Test(threads, set_and_get)
{
    cr_assert_eq(gn_set_threads(0), GN_ERR_ARG);
    cr_assert_eq(gn_set_threads(-3), GN_ERR_ARG);
    cr_assert_eq(gn_set_threads(1), GN_OK);
    cr_assert_eq(gn_get_threads(), 1);
    gn_status st = gn_set_threads(2);
    cr_assert(st == GN_OK || st == GN_ERR_UNSUPPORTED);
    if (st == GN_OK)
        cr_assert_eq(gn_get_threads(), 2);
    gn_set_threads(1);
}

Test(version, matches_header)
{
    cr_assert_str_eq(gn_version(), GN_VERSION_STRING);
    cr_assert_eq(GN_VERSION_NUMBER,
                 GN_VERSION_MAJOR * 10000 + GN_VERSION_MINOR * 100 + GN_VERSION_PATCH);
}

Test(strerror, every_status_has_text)
{
    for (int s = 0; s >= -9; s--) {
        const char *msg = gn_strerror((gn_status)s);
        cr_assert_not_null(msg);
        cr_assert_str_neq(msg, "unknown status", "status %d has no text", s);
    }
    cr_assert_str_eq(gn_strerror((gn_status)-1000), "unknown status");
    cr_assert_str_eq(gn_strerror((gn_status)5), "unknown status");
}
