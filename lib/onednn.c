/* The oneDNN backend: dnnl_sgemm, which is row-major. A column-major matrix is the row-major
 * view of its transpose, so C = op(A)·op(B) (column-major, m × n) is computed as the
 * row-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap places, m and n swap, and each keeps its
 * own transpose flag and leading dimension. oneDNN threads with OpenMP: each call runs on
 * gemmnet's thread count (gn_get_threads), and the calling thread's OpenMP setting is restored
 * afterwards. */
#ifdef GN_HAVE_ONEDNN
#include "internal.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>

bool gn__gemm_onednn(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                     const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                     size_t ldc, int threads)
{
    /* A thread per 0.25 MFLOP at most: oneDNN would wake the whole team for a product of a
     * few microseconds, and on 2 cores that made Nielsen's 784-30-10 network 4x slower than
     * one thread (the threshold is the one measured for the libxsmm driver, lib/xsmm.c). */
    double flops = 2.0 * (double)m * (double)n * (double)k;
    if (flops < (double)threads * 2.5e5)
        threads = flops < 5e5 ? 1 : (int)(flops / 2.5e5);
    /* the caller's OpenMP setting is put back: only this product runs on gemmnet's count */
    int before = omp_get_max_threads();
    if (threads >= 1 && threads != before)
        omp_set_num_threads(threads);
    char tra = ta == GN_TRANS ? 'T' : 'N', trb = tb == GN_TRANS ? 'T' : 'N';
    dnnl_status_t st = dnnl_sgemm(trb, tra, (dnnl_dim_t)n, (dnnl_dim_t)m, (dnnl_dim_t)k, alpha, B,
                                  (dnnl_dim_t)ldb, A, (dnnl_dim_t)lda, beta, C, (dnnl_dim_t)ldc);
    if (threads >= 1 && threads != before)
        omp_set_num_threads(before);
    return st == dnnl_success;
}

/* oneDNN runs on any x86-64, but a broken install (or a CPU it rejects) shows in its status:
 * one 2 × 3 × 2 product with a known answer decides, once. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool usable;

static void probe(void)
{
    const float A[4] = {1, 2, 3, 4}, B[6] = {1, 0, 0, 1, 1, 1}; /* A 2×2, B 2×3 */
    float C[6] = {0};
    const float want[6] = {1, 2, 3, 4, 4, 6};
    if (!gn__gemm_onednn(GN_NOTRANS, GN_NOTRANS, 2, 3, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2, 1))
        return;
    for (int i = 0; i < 6; i++)
        if (C[i] != want[i])
            return;
    usable = true;
}

bool gn__onednn_usable(void)
{
    pthread_once(&probe_once, probe);
    return usable;
}
#endif
