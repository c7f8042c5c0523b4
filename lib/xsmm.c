/* The libxsmm backend: C := alpha·op(A)·op(B) + beta·C on libxsmm's JIT kernels.
 *
 * libxsmm 1.17 only generates NoTrans·op(B) kernels with alpha = 1 and beta ∈ {0, 1}, and they
 * are neither cache-blocked nor threaded. Small NN/NT products with alpha = 1, beta ∈ {0, 1}
 * are one kernel call on the caller's matrices. Everything else goes through a blocked driver
 * of ours, in which the kernel only ever sees a packed, NoTrans, alpha-scaled block of A:
 *
 *   for each column panel j (NC columns of C and op(B))
 *     for each k block p (KC)
 *       for each row block i (MC)
 *         P := alpha · op(A)(i, p)           packed NoTrans, ld = rows rounded to 16
 *         C(i, j) := P · op(B)(p, j) + (p first ? beta : 1) · C(i, j)
 *
 * op(B) is read in place (TRANS_B flag of the kernel). libxsmm's functions are called only
 * for dispatch, never its BLAS-like entry points, which fall back to the system BLAS; a block
 * whose kernel libxsmm refuses is computed by a plain loop and counted (gn__xsmm_fallbacks).
 *
 * Threads split C into a grid of independent tiles, each a product of its own that one
 * thread computes as above with its own pack buffer (on its stack: no heap, no shared state).
 * See grid() for how many threads and which grid. */
#ifdef GN_HAVE_LIBXSMM
#include "internal.h"

#include <immintrin.h>
#include <libxsmm.h>
#include <pthread.h>
#include <stdatomic.h>

/* Block sizes (floats), measured on Zen 4 (32 KiB L1d, 1 MiB L2) against other choices. The
 * packed block of A, MC × KC = 64 KiB, is the most the stack may hold; the kernel re-reads it
 * for every few columns of C, from L2. MC = 64 rows is four AVX-512 vectors per kernel column,
 * and KC = 256 makes the load and store of C that each k block costs small against 256
 * FMAs per element (64 × 256 beat 128 × 128 by 8–12 %, 32 × 512 by over 20 %; 64 × 512,
 * twice the stack, would gain 3–8 % on the 4096 products). NC only sets how often A is
 * packed again and how long each kernel call runs: 512 to 4096 measured the same, 256 about
 * 5 % slower on the 4096-wide products. */
#define XSMM_MC 64
#define XSMM_KC 256
#define XSMM_NC 1024
/* The direct single call, measured against the blocked driver on Zen 4 (1 MiB L2): it wins
 * while op(A) is small (m·k ≤ 64 Ki floats), and for up to 2 MiB of A as long as its columns
 * are short (784 rows: 10 % faster direct; 1024 rows: 5 % slower, 4096: 5× slower) and k is
 * moderate (k = 8192 with 64 rows: 10 % slower). */
#define XSMM_DIRECT_SMALL (64 * 1024)
#define XSMM_DIRECT_MK    (512 * 1024)
#define XSMM_DIRECT_M     800
#define XSMM_DIRECT_K     2048
/* Flops (2mnk) each thread must get: a second thread already paid off at 0.25 MFLOP each
 * (50³: 110 against 88 GFLOP/s), with the team's threads still spinning from the last call. */
#define XSMM_PAR_FLOPS 2.5e5

#define LD_ALIGN 16 /* floats per 64-byte line: packed columns start on a line */

static atomic_size_t fallbacks;

size_t gn__xsmm_fallbacks(void) { return atomic_load_explicit(&fallbacks, memory_order_relaxed); }

/* The kernel for an m × n × k block, A NoTrans with lda, op(B) with ldb, beta 0 or 1; NULL
 * when libxsmm cannot make one (no JIT on this CPU, or a shape it refuses). */
static libxsmm_smmfunction dispatch(size_t m, size_t n, size_t k, size_t lda, size_t ldb,
                                    size_t ldc, bool tb, bool beta0)
{
    const libxsmm_blasint ld[3] = {(libxsmm_blasint)lda, (libxsmm_blasint)ldb,
                                   (libxsmm_blasint)ldc};
    const float alpha = 1.0f, beta = beta0 ? 0.0f : 1.0f;
    const int flags = tb ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
    const int prefetch = LIBXSMM_PREFETCH_NONE;
    return libxsmm_smmdispatch((libxsmm_blasint)m, (libxsmm_blasint)n, (libxsmm_blasint)k, &ld[0],
                               &ld[1], &ld[2], &alpha, &beta, &flags, &prefetch);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool usable, avx_kernels;

/* libxsmm's kernels return with the upper halves of the vector registers still in use (no
 * VZEROUPPER: XGETBV(1) shows the AVX and AVX-512 state set after every call). Until that is
 * cleared, each legacy-SSE instruction the caller runs next pays for it: the sigmoid, loss and
 * σ' passes of a nielsen training step took 2.5 to 5 times as long after libxsmm products as
 * after OpenBLAS ones (whose kernels end with VZEROUPPER), a fifth of the step's time on Zen 4.
 * So each thread clears the state once its share of a product is done (the opmask and
 * zmm16–31 state that VZEROUPPER leaves measured harmless). */
#if defined(__GNUC__)
__attribute__((target("avx"))) static void clear_upper(void) { _mm256_zeroupper(); }
#else
static void clear_upper(void) {}
#endif

/* libxsmm_init, then one 3 × 2 × 2 kernel with a known answer: a missing JIT (a CPU without
 * AVX, LIBXSMM_TARGET=generic) shows as a NULL kernel, a broken one as a wrong result. */
static void init(void)
{
    libxsmm_init();
    libxsmm_smmfunction f = dispatch(3, 2, 2, 3, 2, 3, false, true);
    if (!f)
        return;
    const float A[6] = {1, 2, 3, 4, 5, 6}, B[4] = {1, 0, 1, 1}; /* A 3×2, B 2×2 */
    float C[6] = {-1, -1, -1, -1, -1, -1};
    const float want[6] = {1, 2, 3, 5, 7, 9};
    avx_kernels = libxsmm_get_target_archid() >= LIBXSMM_X86_AVX;
    f(A, B, C);
    if (avx_kernels)
        clear_upper();
    usable = memcmp(C, want, sizeof C) == 0;
}

bool gn__xsmm_usable(void)
{
    pthread_once(&init_once, init);
    return usable;
}

/* One product, or the part of one that a thread computes. */
typedef struct job {
    gn_trans ta, tb;
    size_t m, n, k;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb;
    float *C;
    size_t ldc;
} job;

/* C := beta·C for an m × n block; beta == 0 writes zeros without reading C. */
static void scale_c(float *C, size_t ldc, size_t m, size_t n, float beta)
{
    if (beta == 1.0f)
        return;
    for (size_t j = 0; j < n; j++) {
        float *c = C + j * ldc;
        if (beta == 0.0f)
            memset(c, 0, m * sizeof *c);
        else
            for (size_t i = 0; i < m; i++)
                c[i] *= beta;
    }
}

/* P := alpha·op(A)(i0 .. i0+mb, p0 .. p0+kb), NoTrans with leading dimension ldp: the one
 * place where TRANS_A and alpha are dealt with, so that every kernel is NoTrans with alpha 1.
 * For op(A) = Aᵀ, element (i, p) is A[p + i·lda], so the copy is a transposition, done in
 * 4 × 4 tiles: four pieces of columns of A (rows of the block) are loaded, transposed in
 * registers and stored into four columns of P. SSE is the x86-64 baseline (libxsmm is x86-only
 * anyway); the clones give it VEX encodings next to the AVX kernels. */
WIDEST_SIMD static void pack_a(const job *g, size_t i0, size_t p0, size_t mb, size_t kb,
                               float *restrict P, size_t ldp)
{
    const float alpha = g->alpha;
    const __m128 va = _mm_set1_ps(alpha);
    if (g->ta == GN_NOTRANS) {
        for (size_t p = 0; p < kb; p++) {
            const float *a = g->A + i0 + (p0 + p) * g->lda;
            float *d = P + p * ldp;
            size_t i = 0;
            for (; i + 4 <= mb; i += 4)
                _mm_store_ps(d + i, _mm_mul_ps(va, _mm_loadu_ps(a + i)));
            for (; i < mb; i++)
                d[i] = alpha * a[i];
        }
        return;
    }
    /* transposition in 4 × 4 tiles, edges element by element */
    const size_t lda = g->lda;
    const float *At = g->A + p0 + i0 * lda;
    size_t i = 0;
    for (; i + 4 <= mb; i += 4) {
        const float *a = At + i * lda;
        size_t p = 0;
        for (; p + 4 <= kb; p += 4) {
            __m128 r0 = _mm_loadu_ps(a + p), r1 = _mm_loadu_ps(a + lda + p);
            __m128 r2 = _mm_loadu_ps(a + 2 * lda + p), r3 = _mm_loadu_ps(a + 3 * lda + p);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float *d = P + i + p * ldp;
            _mm_store_ps(d, _mm_mul_ps(va, r0));
            _mm_store_ps(d + ldp, _mm_mul_ps(va, r1));
            _mm_store_ps(d + 2 * ldp, _mm_mul_ps(va, r2));
            _mm_store_ps(d + 3 * ldp, _mm_mul_ps(va, r3));
        }
        for (; p < kb; p++)
            for (size_t r = 0; r < 4; r++)
                P[i + r + p * ldp] = alpha * a[p + r * lda];
    }
    for (; i < mb; i++)
        for (size_t p = 0; p < kb; p++)
            P[i + p * ldp] = alpha * At[p + i * lda];
}

/* The block product with a plain loop, for a shape libxsmm refused: C(mb × nb) := P·op(B) +
 * (beta0 ? 0 : 1)·C, P NoTrans with ldp. */
static void block_loop(const job *g, const float *P, size_t ldp, const float *B, float *C,
                       size_t mb, size_t nb, size_t kb, bool beta0)
{
    atomic_fetch_add_explicit(&fallbacks, 1, memory_order_relaxed);
    for (size_t j = 0; j < nb; j++) {
        float *c = C + j * g->ldc;
        if (beta0)
            memset(c, 0, mb * sizeof *c);
        for (size_t p = 0; p < kb; p++) {
            float b = g->tb == GN_NOTRANS ? B[p + j * g->ldb] : B[j + p * g->ldb];
            const float *a = P + p * ldp;
            for (size_t i = 0; i < mb; i++)
                c[i] += a[i] * b;
        }
    }
}

/* The kernels of one blocked product, by block shape: full (0) or edge (1) block in m, n and
 * k, and kernel beta 1 (0) or 0 (1). */
typedef struct kernels {
    libxsmm_smmfunction f[2][2][2][2];
} kernels;

static size_t round_ld(size_t m) { return (m + LD_ALIGN - 1) / LD_ALIGN * LD_ALIGN; }

/* Dispatches exactly the kernels gemm_blocked will call, before it runs: a lookup per block
 * would cost more than the smallest blocks, and a JIT compilation needs about 200 KiB of
 * stack of its own (measured), which is then not added to the pack buffer's 64 KiB. */
static void plan_kernels(const job *g, kernels *ks)
{
    memset(ks, 0, sizeof *ks);
    const size_t full[3] = {XSMM_MC, XSMM_NC, XSMM_KC};
    const size_t size[3] = {g->m, g->n, g->k};
    size_t dim[3][2];
    bool has[3][2];
    for (int d = 0; d < 3; d++) {
        dim[d][0] = full[d];
        dim[d][1] = size[d] % full[d];
        has[d][0] = size[d] >= full[d];
        has[d][1] = dim[d][1] != 0;
    }
    /* the first k block applies beta (kernel beta 0 only when beta is 0), later ones add */
    bool first[2] = {g->k >= XSMM_KC, g->k < XSMM_KC};
    bool later[2] = {g->k >= 2 * XSMM_KC, g->k > XSMM_KC && has[2][1]};
    bool beta0 = g->beta == 0.0f;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++) {
                if (!has[0][a] || !has[1][b])
                    continue;
                size_t mb = dim[0][a], nb = dim[1][b], kb = dim[2][c];
                for (int z = 0; z < 2; z++)
                    if ((first[c] && beta0 == z) || (later[c] && z == 0))
                        ks->f[a][b][c][z] = dispatch(mb, nb, kb, round_ld(mb), g->ldb, g->ldc,
                                                     g->tb == GN_TRANS, z);
            }
}

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* The blocked driver (see the top of the file). Out of line, so that its 64 KiB frame exists
 * only while it runs. */
static NOINLINE void gemm_blocked(const job *g, const kernels *ks)
{
    _Alignas(64) float P[XSMM_MC * XSMM_KC];
    for (size_t j0 = 0; j0 < g->n; j0 += XSMM_NC) {
        size_t nb = g->n - j0 < XSMM_NC ? g->n - j0 : XSMM_NC;
        for (size_t p0 = 0; p0 < g->k; p0 += XSMM_KC) {
            size_t kb = g->k - p0 < XSMM_KC ? g->k - p0 : XSMM_KC;
            const float *B =
                g->tb == GN_NOTRANS ? g->B + p0 + j0 * g->ldb : g->B + j0 + p0 * g->ldb;
            /* beta is applied by the first k block: kernel beta 0 or 1 directly, any other
             * beta by scaling the C block once before the kernel accumulates into it */
            bool first = p0 == 0;
            bool beta0 = first && g->beta == 0.0f;
            for (size_t i0 = 0; i0 < g->m; i0 += XSMM_MC) {
                size_t mb = g->m - i0 < XSMM_MC ? g->m - i0 : XSMM_MC;
                float *C = g->C + i0 + j0 * g->ldc;
                size_t ldp = round_ld(mb);
                pack_a(g, i0, p0, mb, kb, P, ldp);
                if (first && !beta0)
                    scale_c(C, g->ldc, mb, nb, g->beta);
                libxsmm_smmfunction f = ks->f[mb != XSMM_MC][nb != XSMM_NC][kb != XSMM_KC][beta0];
                if (f)
                    f(P, B, C);
                else
                    block_loop(g, P, ldp, B, C, mb, nb, kb, beta0);
            }
        }
    }
}

/* One thread's share: a single kernel call on the caller's matrices when the kernel can take
 * the product as it is and it is small enough to run well unblocked, else the blocked
 * driver. */
static void gemm_serial(const job *g)
{
    size_t mk = g->k <= SIZE_MAX / g->m ? g->m * g->k : SIZE_MAX;
    bool small = mk <= XSMM_DIRECT_SMALL ||
                 (mk <= XSMM_DIRECT_MK && g->m <= XSMM_DIRECT_M && g->k <= XSMM_DIRECT_K);
    libxsmm_smmfunction f = NULL;
    if (small && g->ta == GN_NOTRANS && g->alpha == 1.0f && (g->beta == 0.0f || g->beta == 1.0f))
        f = dispatch(g->m, g->n, g->k, g->lda, g->ldb, g->ldc, g->tb == GN_TRANS, g->beta == 0.0f);
    if (f) {
        f(g->A, g->B, g->C);
    } else {
        kernels ks;
        plan_kernels(g, &ks);
        gemm_blocked(g, &ks);
    }
    if (avx_kernels)
        clear_upper();
}

/* Tile t of a tm × tn grid over C: rows split on multiples of 16 (whole vectors for the
 * kernel), columns split evenly. */
static job tile(const job *g, int t, int tm, int tn)
{
    size_t units = (g->m + LD_ALIGN - 1) / LD_ALIGN;
    size_t ti = (size_t)(t % tm), tj = (size_t)(t / tm);
    size_t i0 = units * ti / (size_t)tm * LD_ALIGN, i1 = units * (ti + 1) / (size_t)tm * LD_ALIGN;
    size_t j0 = g->n * tj / (size_t)tn, j1 = g->n * (tj + 1) / (size_t)tn;
    if (i1 > g->m)
        i1 = g->m;
    job s = *g;
    s.m = i1 - i0;
    s.n = j1 - j0;
    s.A = g->ta == GN_NOTRANS ? g->A + i0 : g->A + i0 * g->lda;
    s.B = g->tb == GN_NOTRANS ? g->B + j0 * g->ldb : g->B + j0;
    s.C = g->C + i0 + j0 * g->ldc;
    return s;
}

/* The threading rule: as many threads as the work pays for (XSMM_PAR_FLOPS each), never more
 * than there are tiles (m is cut on multiples of 16 rows, n anywhere), arranged tm × tn to
 * minimise the part of op(A) and op(B) each thread reads (m/tm + n/tn): the forward and delta
 * products (n = batch) split m, the weight gradient of a narrow layer (m = n_out small,
 * n = n_in) splits n. Returns the thread count; 1 means no parallel region. */
static int grid(const job *g, int threads, int *tm, int *tn)
{
    double per = 2.0 * (double)g->m * (double)g->n * (double)g->k / XSMM_PAR_FLOPS;
    int t = per < (double)threads ? (int)per : threads;
    size_t units = (g->m + LD_ALIGN - 1) / LD_ALIGN;
    for (; t > 1; t--) {
        double best = -1;
        for (int c = 1; c <= t; c++) {
            if (t % c != 0 || (size_t)(t / c) > units || (size_t)c > g->n)
                continue;
            double cost = (double)g->m / (t / c) + (double)g->n / c;
            if (best < 0 || cost < best) {
                best = cost;
                *tm = t / c;
                *tn = c;
            }
        }
        if (best >= 0)
            return t;
    }
    *tm = *tn = 1;
    return 1;
}

void gn__gemm_xsmm(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc, int threads)
{
    if (k == 0 || alpha == 0.0f) {
        scale_c(C, ldc, m, n, beta);
        return;
    }
    gn__xsmm_usable(); /* libxsmm_init once before any dispatch; without JIT every block
                          takes the plain loop */
    const job g = {ta, tb, m, n, k, alpha, beta, A, B, lda, ldb, C, ldc};
    int tm = 1, tn = 1;
    int t = threads > 1 ? grid(&g, threads, &tm, &tn) : 1;
    if (t == 1) {
        gemm_serial(&g);
        return;
    }
    /* Tiles are independent blocks of C; a team smaller than asked for (nested parallelism,
     * OMP_THREAD_LIMIT) still covers them all. */
#pragma omp parallel for num_threads(t) schedule(static)
    for (int i = 0; i < t; i++) {
        job s = tile(&g, i, tm, tn);
        if (s.m > 0 && s.n > 0)
            gemm_serial(&s);
    }
}

#endif
