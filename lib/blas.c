/* The BLAS boundary: the only file that includes <cblas.h>. It also validates the public
 * product calls and dispatches between BLAS and the reference loops (ref.c). */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <stdatomic.h>

static size_t max1(size_t x) { return x > 1 ? x : 1; }

static enum CBLAS_TRANSPOSE cblas_trans(gn_trans t)
{
    return t == GN_TRANS ? CblasTrans : CblasNoTrans;
}

void gn__gemm_blas(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc)
{
    cblas_sgemm(CblasColMajor, cblas_trans(ta), cblas_trans(tb), (int)m, (int)n, (int)k, alpha, A,
                (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* Products a backend handed back to OpenBLAS (it cannot fail on validated arguments, but a
 * library call that returns a status is checked, never trusted). */
static atomic_size_t fallbacks;

size_t gn__backend_fallbacks(void) { return atomic_load(&fallbacks); }

void gn__gemm(gn_impl impl, gn_backend be, gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k,
              float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta,
              float *C, size_t ldc)
{
    switch (impl) {
    case GN_IMPL_NAIVE:
        gn__gemm_naive(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    case GN_IMPL_LOOP: gn__gemm_loop(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc); return;
    case GN_IMPL_BLAS:
    default: break;
    }
    switch (be) {
#ifdef GN_HAVE_ONEDNN
    case GN_BACKEND_ONEDNN:
        if (gn__gemm_onednn(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, gn_get_threads()))
            return;
        atomic_fetch_add(&fallbacks, 1);
        break;
#endif
#ifdef GN_HAVE_LIBXSMM
    case GN_BACKEND_LIBXSMM:
        gn__gemm_xsmm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, gn_get_threads());
        return;
#endif
    default: break;
    }
    gn__gemm_blas(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* The argument checks of gn_gemm and gn_gemm_backend; GN_OK with *empty when there is
 * nothing to compute. */
static gn_status check_product(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k,
                               const float *A, size_t lda, const float *B, size_t ldb,
                               const float *C, size_t ldc, bool *empty)
{
    if ((ta != GN_NOTRANS && ta != GN_TRANS) || (tb != GN_NOTRANS && tb != GN_TRANS))
        return GN_ERR_ARG;
    /* BLAS takes int sizes and leading dimensions. */
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return GN_ERR_DIM;
    size_t a_rows = ta == GN_NOTRANS ? m : k;
    size_t b_rows = tb == GN_NOTRANS ? k : n;
    if (lda < max1(a_rows) || ldb < max1(b_rows) || ldc < max1(m))
        return GN_ERR_DIM;
    *empty = m == 0 || n == 0;
    if (!*empty && (!C || (k > 0 && (!A || !B))))
        return GN_ERR_NULL;
    return GN_OK;
}

gn_status gn_gemm(gn_impl impl, gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                  const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                  size_t ldc)
{
    if (impl != GN_IMPL_BLAS && impl != GN_IMPL_NAIVE && impl != GN_IMPL_LOOP)
        return GN_ERR_ARG;
    bool empty;
    gn_status st = check_product(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, &empty);
    if (st == GN_OK && !empty)
        gn__gemm(impl, GN_BACKEND_OPENBLAS, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return st;
}

gn_status gn_gemm_backend(gn_backend be, gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k,
                          float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                          float beta, float *C, size_t ldc)
{
    if (be == GN_BACKEND_AUTO || (unsigned)be >= GN_BACKEND_COUNT)
        return GN_ERR_ARG;
    bool empty;
    gn_status st = check_product(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, &empty);
    if (st != GN_OK)
        return st;
    if (!gn_backend_available(be))
        return GN_ERR_UNSUPPORTED;
    if (!empty)
        gn__gemm(GN_IMPL_BLAS, be, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return GN_OK;
}

gn_status gn_ref_gemm_naive(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                            const float *A, size_t lda, const float *B, size_t ldb, float beta,
                            float *C, size_t ldc)
{
    return gn_gemm(GN_IMPL_NAIVE, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

gn_status gn_ref_gemm_loop(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                           const float *A, size_t lda, const float *B, size_t ldb, float beta,
                           float *C, size_t ldc)
{
    return gn_gemm(GN_IMPL_LOOP, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* OpenBLAS keeps the thread count every backend runs on; the OpenMP backends (oneDNN,
 * libxsmm) are given it product by product. */
gn_status gn_set_threads(int n)
{
    if (n < 1)
        return GN_ERR_ARG;
#ifdef GN_HAVE_OPENBLAS_THREADS
    openblas_set_num_threads(n);
    return GN_OK;
#else
    return n == 1 ? GN_OK : GN_ERR_UNSUPPORTED;
#endif
}

int gn_get_threads(void)
{
#ifdef GN_HAVE_OPENBLAS_THREADS
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

/* Raw queries for gn_blas_get_info (blasinfo.c), kept here because this is the only file that
 * sees <cblas.h>. openblas_get_config() rewrites a static buffer on every call, so blasinfo.c
 * calls gn__blas_config() once and copies the result. */
const char *gn__blas_config(void)
{
#ifdef GN_HAVE_OPENBLAS_INFO
    return openblas_get_config();
#else
    return NULL;
#endif
}

const char *gn__blas_corename(void)
{
#ifdef GN_HAVE_OPENBLAS_INFO
    return openblas_get_corename();
#else
    return NULL;
#endif
}

int gn__blas_parallel(void)
{
#ifdef GN_HAVE_OPENBLAS_INFO
    return openblas_get_parallel();
#else
    return -1;
#endif
}
