/* The reference path: the dense-layer products as plain loops, behind the same signature
 * as gn__gemm_blas. The test oracle and the benchmark baseline. */
#include "internal.h"

/* op(A)(i, p) and op(B)(p, j) for column-major storage. */
#define OPA(i, p) (ta == GN_NOTRANS ? A[(i) + (p)*lda] : A[(p) + (i)*lda])
#define OPB(p, j) (tb == GN_NOTRANS ? B[(p) + (j)*ldb] : B[(j) + (p)*ldb])

void gn__gemm_naive(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                    const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                    size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (size_t p = 0; p < k; p++)
                s += OPA(i, p) * OPB(p, j);
            float *c = &C[i + j * ldc];
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
}

static void scale_column(float *restrict c, size_t m, float beta)
{
    if (beta == 0.0f) {
        for (size_t i = 0; i < m; i++)
            c[i] = 0.0f;
    } else if (beta != 1.0f) {
        for (size_t i = 0; i < m; i++)
            c[i] *= beta;
    }
}

/* Σ_p x[p]·y[p] with unit strides, written so the compiler may reassociate (omp simd). */
static float dot(const float *restrict x, const float *restrict y, size_t k)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (size_t p = 0; p < k; p++)
        s += x[p] * y[p];
    return s;
}

void gn__gemm_loop(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc)
{
    if (ta == GN_NOTRANS) {
        /* C(:, j) += (alpha·op(B)(p, j)) · A(:, p): a unit-stride axpy innermost. */
        for (size_t j = 0; j < n; j++) {
            float *restrict c = C + j * ldc;
            scale_column(c, m, beta);
            for (size_t p = 0; p < k; p++) {
                const float *restrict a = A + p * lda;
                float t = alpha * OPB(p, j);
                for (size_t i = 0; i < m; i++)
                    c[i] += t * a[i];
            }
        }
    } else if (tb == GN_NOTRANS) {
        /* C(i, j) = alpha · A(:, i)·B(:, j): both columns have unit stride. */
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < m; i++) {
                float s = alpha * dot(A + i * lda, B + j * ldb, k);
                float *c = &C[i + j * ldc];
                *c = beta == 0.0f ? s : s + beta * *c;
            }
    } else {
        /* Aᵀ·Bᵀ: not one of the layer products; kept simple and correct. */
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < m; i++) {
                float s = 0.0f;
                for (size_t p = 0; p < k; p++)
                    s += A[p + i * lda] * B[j + p * ldb];
                float *c = &C[i + j * ldc];
                *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
            }
    }
}
