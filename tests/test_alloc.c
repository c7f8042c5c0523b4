/* No allocation inside a training step or a forward pass.
 *
 * This binary interposes malloc and friends (glibc lets an executable define them and
 * forward to the __libc_* entry points), so every allocation made anywhere in the process
 * while counting is on is seen, even one freed again before the step returns, which a
 * before/after heap comparison would miss.
 *
 * It also interposes cblas_sgemm, to tell gemmnet's own allocations (there must be none)
 * from the BLAS's: OpenBLAS 0.3.21's AVX-512 small-matrix kernels malloc a scratch buffer
 * on every call for small NoTrans products. With GEMMNET_STRICT_ALLOC=1 (meson runs this
 * binary a second time so, with OPENBLAS_CORETYPE=Haswell, whose kernels do not allocate)
 * the BLAS must not allocate either. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile int counting, in_blas;
static volatile size_t n_allocs, n_blas_allocs;

static void count(void)
{
    if (counting && in_blas)
        n_blas_allocs++;
    else if (counting)
        n_allocs++;
}

void *malloc(size_t n)
{
    count();
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    count();
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    count();
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t al, size_t n)
{
    count();
    return __libc_memalign(al, n);
}
void *memalign(size_t al, size_t n)
{
    count();
    return __libc_memalign(al, n);
}
int posix_memalign(void **out, size_t al, size_t n)
{
    count();
    void *p = __libc_memalign(al, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
void free(void *p) { __libc_free(p); }

/* The library's calls to cblas_sgemm land here (the test links its objects statically). */
typedef void sgemm_fn(int, int, int, int, int, int, float, const float *, int, const float *, int,
                      float, float *, int);
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    static sgemm_fn *real;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "cblas_sgemm");
    in_blas = 1;
    real(order, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    in_blas = 0;
}

/* oneDNN's sgemm is a BLAS too: what it allocates is counted with cblas_sgemm's. */
typedef int dnnl_fn(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t,
                    const float *, int64_t, float, float *, int64_t);
int dnnl_sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    static dnnl_fn *real;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "dnnl_sgemm");
    if (!real)
        return 1; /* not dnnl_success: the library falls back to OpenBLAS */
    in_blas = 1;
    int st = real(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    in_blas = 0;
    return st;
}

static bool strict(void) { return getenv("GEMMNET_STRICT_ALLOC") != NULL; }

static void start(void)
{
    n_allocs = n_blas_allocs = 0;
    counting = 1;
}
static size_t stop(void)
{
    counting = 0;
    return n_allocs;
}

Test(alloc, interposition_sees_allocations)
{
    /* the test must be able to fail: an allocation while counting is seen */
    start();
    void *volatile p = malloc(32);
    size_t n = stop();
    free(p);
    cr_assert_eq(n, 1);
    cr_assert_eq(n_blas_allocs, 0);
    gn_net *net = NULL;
    const size_t sizes[] = {3, 2};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes;
    cfg.n_sizes = 2;
    start();
    gn_status st = gn_net_create(&net, &cfg);
    n = stop();
    cr_assert_eq(st, GN_OK);
    cr_assert_gt(n, 0, "creating a network allocates, and that must be visible here");
    gn_net_free(net);
}

/* The calls of one step test: training steps, back-propagation, forward, predict, evaluate. */
static gn_status step_calls(gn_net *net, const float *X, const float *Y, float *P, size_t n)
{
    double loss, acc;
    const float *out;
    gn_status st = GN_OK;
    for (int i = 0; i < 5 && st == GN_OK; i++) {
        st = gn_net_train_step(net, X, 50, Y, 10, 64, 0.1f, &loss);
        if (st == GN_OK)
            st = gn_net_train_step(net, X + 50 * 64, 50, Y + 10 * 64, 10, 17, 0.1f, &loss);
        if (st == GN_OK)
            st = gn_net_backprop(net, X, 50, Y, 10, 3, &loss);
        if (st == GN_OK)
            st = gn_net_forward(net, X, 50, 64, &out);
        if (st == GN_OK)
            st = gn_net_predict(net, X, 50, n, P, 10);
        if (st == GN_OK)
            st = gn_net_evaluate(net, X, 50, Y, 10, n, &loss, &acc);
    }
    return st;
}

static void no_alloc_in_steps(gn_impl impl)
{
    gn_set_threads(1);
    const size_t sizes[] = {50, 40, 30, 10};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_TANH, GN_ACT_SOFTMAX};
    gn_net_config cfg = net_config(sizes, 4, acts, GN_LOSS_CCE, 64, 1);
    cfg.impl = impl;
    gn_net *net;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    const size_t n = 150;
    float *X = random_floats(50 * n, -1, 1, 1), *Y = random_onehot(10, n, 2),
          *P = malloc(10 * n * 4);
    double loss;
    cr_assert_eq(gn_net_set_backend(net, GN_BACKEND_OPENBLAS), GN_OK);
    /* warm-up: BLAS may set up its buffers on first use */
    cr_assert_eq(gn_net_train_step(net, X, 50, Y, 10, 64, 0.1f, &loss), GN_OK);

    struct mallinfo2 before = mallinfo2();
    start();
    gn_status st = step_calls(net, X, Y, P, n);
    size_t count = stop();
    struct mallinfo2 after = mallinfo2();
    cr_assert_eq(st, GN_OK);
    size_t blas_count = n_blas_allocs;
    cr_log_info("impl %d: %zu allocations by gemmnet, %zu inside cblas_sgemm%s", impl, count,
                blas_count, strict() ? " (strict)" : "");
    cr_assert_eq(count, 0, "impl %d: gemmnet allocated %zu times during steps", impl, count);
    if (strict() || impl != GN_IMPL_BLAS)
        cr_assert_eq(blas_count, 0, "impl %d: BLAS allocated %zu times", impl, blas_count);
    cr_assert_eq(before.uordblks, after.uordblks, "heap in use changed");
    cr_assert_eq(before.hblkhd, after.hblkhd, "mmapped heap changed");

    /* gn_net_train allocates its index array once per call, not per epoch or step */
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.batch = 16;
    opt.eta = 0.1f;
    opt.epochs = 1;
    start();
    st = gn_net_train(net, X, 50, Y, 10, n, &opt);
    size_t one_epoch = stop();
    cr_assert_eq(st, GN_OK);
    opt.epochs = 4;
    start();
    st = gn_net_train(net, X, 50, Y, 10, n, &opt);
    size_t four_epochs = stop();
    cr_assert_eq(st, GN_OK);
    cr_assert_eq(one_epoch, 1);
    cr_assert_eq(four_epochs, 1);
    free(X);
    free(Y);
    free(P);
    gn_net_free(net);
}

Test(alloc, none_in_steps_blas) { no_alloc_in_steps(GN_IMPL_BLAS); }
Test(alloc, none_in_steps_naive) { no_alloc_in_steps(GN_IMPL_NAIVE); }
Test(alloc, none_in_steps_loop) { no_alloc_in_steps(GN_IMPL_LOOP); }

/* The other backends (and the automatic choice, which tunes on the first training batch and
 * again when gn_net_train's batch differs): once every shape has been seen, nothing allocates,
 * neither gemmnet nor the backend (JIT kernels and oneDNN's buffers are made on first use). */
static void no_alloc_once_warm(gn_backend be)
{
    if (!gn_backend_available(be))
        cr_skip_test("backend %s is not in this build", gn_backend_name(be));
    gn_set_threads(1);
    const size_t sizes[] = {50, 40, 30, 10};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_TANH, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 4, acts, GN_LOSS_CCE, 64, 1);
    cr_assert_eq(gn_net_set_backend(net, be), GN_OK);
    const size_t n = 150;
    float *X = random_floats(50 * n, -1, 1, 1), *Y = random_onehot(10, n, 2),
          *P = malloc(10 * n * 4);
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.batch = 16;
    opt.eta = 0.1f;
    opt.epochs = 1;
    cr_assert_eq(gn_net_train(net, X, 50, Y, 10, n, &opt), GN_OK);
    cr_assert_eq(step_calls(net, X, Y, P, n), GN_OK);
    if (be == GN_BACKEND_AUTO)
        cr_assert_eq(gn_net_tuned_batch(net), 16);

    struct mallinfo2 before = mallinfo2();
    start();
    gn_status st = step_calls(net, X, Y, P, n);
    size_t count = stop();
    struct mallinfo2 after = mallinfo2();
    cr_assert_eq(st, GN_OK);
    cr_log_info("%s: %zu allocations by gemmnet, %zu inside a BLAS call", gn_backend_name(be),
                count, (size_t)n_blas_allocs);
    cr_assert_eq(count, 0, "%s: %zu allocations outside BLAS calls", gn_backend_name(be), count);
    /* oneDNN's dnnl_sgemm takes no workspace: it allocates its packing buffers per call */
    bool onednn = false;
    for (size_t l = 1; l <= 3; l++)
        for (int p = 0; p < GN_PRODUCT_COUNT; p++)
            onednn |= gn_net_layer_backend(net, l, (gn_product)p) == GN_BACKEND_ONEDNN;
    if (strict() && !onednn)
        cr_assert_eq(n_blas_allocs, 0, "%s: BLAS allocated %zu times", gn_backend_name(be),
                     (size_t)n_blas_allocs);
    if (n_blas_allocs == 0) {
        cr_assert_eq(before.uordblks, after.uordblks, "heap in use changed");
        cr_assert_eq(before.hblkhd, after.hblkhd, "mmapped heap changed");
    }
    start();
    st = gn_net_train(net, X, 50, Y, 10, n, &opt);
    count = stop();
    cr_assert_eq(st, GN_OK);
    cr_assert_eq(count, 1, "gn_net_train allocates its index array and nothing else");
    free(X);
    free(Y);
    free(P);
    gn_net_free(net);
}

Test(alloc, none_in_steps_onednn) { no_alloc_once_warm(GN_BACKEND_ONEDNN); }
Test(alloc, none_in_steps_libxsmm) { no_alloc_once_warm(GN_BACKEND_LIBXSMM); }
Test(alloc, none_in_steps_auto) { no_alloc_once_warm(GN_BACKEND_AUTO); }
