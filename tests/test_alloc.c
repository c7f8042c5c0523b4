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
    double loss, acc;
    const float *out;
    /* warm-up: BLAS may set up its buffers on first use */
    cr_assert_eq(gn_net_train_step(net, X, 50, Y, 10, 64, 0.1f, &loss), GN_OK);

    struct mallinfo2 before = mallinfo2();
    start();
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
