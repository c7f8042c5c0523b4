/* The sgemm backends as the API presents them: names, availability against what the build
 * found, forcing a backend (argument, GN_BACKEND), tuning (choices, memo, what it must leave
 * alone), and training on each backend against OpenBLAS. The products themselves are checked
 * against a double-precision oracle in test_gemm.c, and the whole unit suite runs once per
 * backend (tools/run-tests, GN_BACKEND). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tmpfiles.h"

/* Set by tests/meson.build from what meson found. */
#ifndef EXPECT_ONEDNN
#error "EXPECT_ONEDNN must be defined"
#endif
#ifndef EXPECT_LIBXSMM
#error "EXPECT_LIBXSMM must be defined"
#endif

/* Internals (the test links the library's objects): products a backend gave back. */
size_t gn__backend_fallbacks(void);
/* Blocks the libxsmm driver computed with its own loop (a kernel it could not get); weak, as
 * the driver is only there with libxsmm. */
size_t gn__xsmm_fallbacks(void) __attribute__((weak));
/* OpenMP, present when a backend is; weak so that an OpenBLAS-only build links. */
int omp_get_max_threads(void) __attribute__((weak));
void omp_set_num_threads(int) __attribute__((weak));

static const gn_backend named[] = {GN_BACKEND_OPENBLAS, GN_BACKEND_ONEDNN, GN_BACKEND_LIBXSMM};
enum { N_NAMED = sizeof named / sizeof named[0] };

/* The tests below that are about the default must not see the per-backend runs' setting. */
static void no_env(void) { unsetenv("GN_BACKEND"); }

Test(backends, names_round_trip)
{
    const char *want[GN_BACKEND_COUNT] = {"auto", "openblas", "onednn", "libxsmm"};
    for (int b = 0; b < GN_BACKEND_COUNT; b++) {
        cr_assert_str_eq(gn_backend_name((gn_backend)b), want[b]);
        gn_backend got = (gn_backend)99;
        cr_assert_eq(gn_backend_parse(want[b], &got), GN_OK);
        cr_assert_eq(got, (gn_backend)b);
    }
    gn_backend got = GN_BACKEND_AUTO;
    cr_assert_eq(gn_backend_parse("OneDNN", &got), GN_OK, "ASCII case is ignored");
    cr_assert_eq(got, GN_BACKEND_ONEDNN);
    got = GN_BACKEND_LIBXSMM;
    cr_assert_eq(gn_backend_parse("mkl", &got), GN_ERR_ARG);
    cr_assert_eq(gn_backend_parse("", &got), GN_ERR_ARG);
    cr_assert_eq(gn_backend_parse("openblas ", &got), GN_ERR_ARG);
    cr_assert_eq(got, GN_BACKEND_LIBXSMM, "a rejected name leaves *out alone");
    cr_assert_eq(gn_backend_parse(NULL, &got), GN_ERR_NULL);
    cr_assert_eq(gn_backend_parse("auto", NULL), GN_ERR_NULL);
    cr_assert_str_eq(gn_backend_name((gn_backend)GN_BACKEND_COUNT), "unknown");
    cr_assert_str_eq(gn_backend_name((gn_backend)-1), "unknown");
}

Test(backends, available_as_built)
{
    cr_assert_eq(gn_backend_available(GN_BACKEND_AUTO), 1);
    cr_assert_eq(gn_backend_available(GN_BACKEND_OPENBLAS), 1);
    /* what meson found must work here: a backend that links but fails its probe is a bug */
    cr_assert_eq(gn_backend_available(GN_BACKEND_ONEDNN), EXPECT_ONEDNN);
    cr_assert_eq(gn_backend_available(GN_BACKEND_LIBXSMM), EXPECT_LIBXSMM);
    cr_assert_eq(gn_backend_available((gn_backend)GN_BACKEND_COUNT), 0);
    cr_assert_eq(gn_backend_available((gn_backend)-3), 0);
}

Test(backends, gemm_backend_arguments)
{
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4] = {9, 9, 9, 9};
    cr_assert_eq(
        gn_gemm_backend(GN_BACKEND_AUTO, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
        GN_ERR_ARG);
    cr_assert_eq(
        gn_gemm_backend((gn_backend)7, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
        GN_ERR_ARG);
    for (int i = 0; i < N_NAMED; i++) {
        gn_backend be = named[i];
        gn_status want = gn_backend_available(be) ? GN_OK : GN_ERR_UNSUPPORTED;
        cr_assert_eq(gn_gemm_backend(be, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
                     want, "%s", gn_backend_name(be));
        cr_assert_eq(gn_gemm_backend(be, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 1, B, 2, 0, C, 2),
                     GN_ERR_DIM, "lda < m is refused before availability matters");
        cr_assert_eq(
            gn_gemm_backend(be, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, NULL, 2, B, 2, 0, C, 2),
            GN_ERR_NULL);
        cr_assert_eq(gn_gemm_backend(be, (gn_trans)5, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
                     GN_ERR_ARG);
        if (want == GN_OK)
            for (int j = 0; j < 4; j++)
                cr_assert_eq(C[j], A[j], "%s: A·I = A", gn_backend_name(be));
    }
    cr_assert_eq(gn__backend_fallbacks(), 0);
}

Test(backends, onednn_leaves_the_callers_openmp_setting)
{
    if (!gn_backend_available(GN_BACKEND_ONEDNN) || !omp_get_max_threads)
        cr_skip_test("oneDNN is not in this build");
    omp_set_num_threads(3);
    cr_assert_eq(gn_set_threads(1), GN_OK);
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4];
    cr_assert_eq(
        gn_gemm_backend(GN_BACKEND_ONEDNN, GN_NOTRANS, GN_NOTRANS, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2),
        GN_OK);
    cr_assert_eq(omp_get_max_threads(), 3, "the caller's OpenMP thread count was changed");
}

static gn_net *small_net(size_t max_batch, uint64_t seed)
{
    static const size_t sizes[] = {12, 9, 7, 3};
    static const gn_act acts[] = {GN_ACT_TANH, GN_ACT_RELU, GN_ACT_SOFTMAX};
    return make_net(sizes, 4, acts, GN_LOSS_CCE, max_batch, seed);
}

Test(backends, forcing)
{
    no_env();
    gn_net *net = small_net(16, 3);
    cr_assert_eq(gn_net_backend(net), GN_BACKEND_AUTO, "the default is auto");
    for (size_t l = 1; l <= 3; l++)
        for (int p = 0; p < GN_PRODUCT_COUNT; p++)
            cr_assert_eq(gn_net_layer_backend(net, l, (gn_product)p), GN_BACKEND_OPENBLAS,
                         "untuned auto runs on OpenBLAS");
    char buf[256];
    gn_net_describe_backends(net, buf, sizeof buf);
    cr_assert(strstr(buf, "not tuned"), "%s", buf);
    for (int i = 0; i < N_NAMED; i++) {
        gn_backend be = named[i];
        if (!gn_backend_available(be)) {
            cr_assert_eq(gn_net_set_backend(net, be), GN_ERR_UNSUPPORTED);
            cr_assert(strstr(gn_net_last_error(net), gn_backend_name(be)));
            continue;
        }
        cr_assert_eq(gn_net_set_backend(net, be), GN_OK);
        cr_assert_eq(gn_net_backend(net), be);
        for (size_t l = 1; l <= 3; l++)
            for (int p = 0; p < GN_PRODUCT_COUNT; p++)
                cr_assert_eq(gn_net_layer_backend(net, l, (gn_product)p), be);
        size_t len = gn_net_describe_backends(net, buf, sizeof buf);
        cr_assert_eq(len, strlen(buf));
        char want[64];
        snprintf(want, sizeof want, "%s (forced)", gn_backend_name(be));
        cr_assert_str_eq(buf, want);
        /* the training calls do not tune a forced network */
        float *X = random_floats(12 * 16, -1, 1, 4), *Y = random_onehot(3, 16, 5);
        double loss;
        cr_assert_eq(gn_net_train_step(net, X, 12, Y, 3, 16, 0.1f, &loss), GN_OK);
        cr_assert_eq(gn_net_tuned_batch(net), 0);
        free(X);
        free(Y);
    }
    cr_assert_eq(gn_net_set_backend(net, (gn_backend)GN_BACKEND_COUNT), GN_ERR_ARG);
    cr_assert_eq(gn_net_set_backend(NULL, GN_BACKEND_OPENBLAS), GN_ERR_NULL);
    /* out of range asks */
    cr_assert_eq(gn_net_layer_backend(net, 0, GN_PRODUCT_FORWARD), GN_BACKEND_AUTO);
    cr_assert_eq(gn_net_layer_backend(net, 4, GN_PRODUCT_FORWARD), GN_BACKEND_AUTO);
    cr_assert_eq(gn_net_layer_backend(net, 1, (gn_product)3), GN_BACKEND_AUTO);
    cr_assert_eq(gn_net_layer_backend(NULL, 1, GN_PRODUCT_FORWARD), GN_BACKEND_AUTO);
    cr_assert_eq(gn_net_backend(NULL), GN_BACKEND_AUTO);
    cr_assert_eq(gn_net_tuned_batch(NULL), 0);
    cr_assert_eq(gn_net_describe_backends(NULL, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    /* snprintf's contract: the full length, a terminated prefix */
    cr_assert_eq(gn_net_set_backend(net, GN_BACKEND_OPENBLAS), GN_OK);
    char tiny[5];
    cr_assert_eq(gn_net_describe_backends(net, tiny, sizeof tiny), strlen("openblas (forced)"));
    cr_assert_str_eq(tiny, "open");
    cr_assert_eq(gn_net_describe_backends(net, NULL, 0), strlen("openblas (forced)"));
    gn_net_free(net);
}

Test(backends, environment_variable, .init = make_tmp_dir, .fini = remove_tmp_dir)
{
    const size_t sizes[] = {4, 3, 2};
    gn_net_config cfg = net_config(sizes, 3, NULL, GN_LOSS_QUADRATIC, 8, 1);
    gn_net *net = NULL;
    setenv("GN_BACKEND", "OpenBLAS", 1);
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    cr_assert_eq(gn_net_backend(net), GN_BACKEND_OPENBLAS, "GN_BACKEND sets the default");
    cr_assert_eq(gn_net_set_backend(net, GN_BACKEND_AUTO), GN_OK, "but not gn_net_set_backend");
    cr_assert_eq(gn_net_backend(net), GN_BACKEND_AUTO);
    /* a model file loaded under GN_BACKEND gets it too */
    char *path = tmp_files[n_tmp_files++];
    snprintf(path, sizeof tmp_files[0], "%s/backend-env.gnn", tmp_dir);
    cr_assert_eq(gn_net_save(net, path, NULL, 0), GN_OK);
    gn_net_free(net);
    gn_net *loaded = NULL;
    cr_assert_eq(gn_net_load(&loaded, path, NULL, 0), GN_OK);
    cr_assert_eq(gn_net_backend(loaded), GN_BACKEND_OPENBLAS);
    gn_net_free(loaded);

    setenv("GN_BACKEND", "fastest", 1);
    char why[256];
    cr_assert_eq(gn_net_config_check(&cfg, why, sizeof why), GN_ERR_ARG);
    cr_assert(strstr(why, "GN_BACKEND=fastest"), "%s", why);
    net = (gn_net *)1;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_ERR_ARG);
    cr_assert_null(net);
    /* the file is fine: the loader says so, with GN_ERR_ARG rather than a format error */
    cr_assert_eq(gn_net_load(&loaded, path, why, sizeof why), GN_ERR_ARG);
    cr_assert_null(loaded);
    cr_assert(strstr(why, "GN_BACKEND=fastest") && !strstr(why, "offset"), "%s", why);
    for (int i = 0; i < N_NAMED; i++)
        if (!gn_backend_available(named[i])) {
            setenv("GN_BACKEND", gn_backend_name(named[i]), 1);
            cr_assert_eq(gn_net_create(&net, &cfg), GN_ERR_UNSUPPORTED);
            cr_assert_eq(gn_net_config_check(&cfg, why, sizeof why), GN_ERR_UNSUPPORTED);
            cr_assert(strstr(why, "not available"), "%s", why);
        }
    setenv("GN_BACKEND", "", 1);
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK, "an empty GN_BACKEND is unset");
    cr_assert_eq(gn_net_backend(net), GN_BACKEND_AUTO);
    gn_net_free(net);
    unsetenv("GN_BACKEND");
}

/* Tuning: every choice is an available backend, layer 1 has no delta product to choose for,
 * the parameters are only read, and a second network of the same shapes gets the same choice
 * without being measured (the memo), so the two train bit for bit alike. */
Test(backends, tune)
{
    no_env();
    gn_net *a = small_net(32, 7), *b = small_net(32, 7);
    cr_assert_eq(gn_net_tune(a, 0), GN_ERR_ARG);
    cr_assert_eq(gn_net_tune(a, 33), GN_ERR_ARG);
    cr_assert(strstr(gn_net_last_error(a), "gn_net_tune"));
    cr_assert_eq(gn_net_tune(NULL, 4), GN_ERR_NULL);
    size_t n = gn_net_n_params(a);
    float *before = malloc(n * sizeof *before);
    memcpy(before, gn_net_params(a), n * sizeof *before);
    cr_assert_eq(gn_net_tune(a, 32), GN_OK);
    cr_assert_eq(memcmp(before, gn_net_params(a), n * sizeof *before), 0,
                 "tuning changed the parameters");
    cr_assert_eq(gn_net_tuned_batch(a), 32);
    cr_assert_eq(gn_net_layer_backend(a, 1, GN_PRODUCT_DELTA), GN_BACKEND_OPENBLAS);
    for (size_t l = 1; l <= 3; l++)
        for (int p = 0; p < GN_PRODUCT_COUNT; p++) {
            gn_backend be = gn_net_layer_backend(a, l, (gn_product)p);
            cr_assert(be != GN_BACKEND_AUTO && gn_backend_available(be));
        }
    char buf[512];
    gn_net_describe_backends(a, buf, sizeof buf);
    cr_assert(strstr(buf, "tuned for batch 32") && strstr(buf, "layer 3"), "%s", buf);

    /* the training calls tune b the same way (train_step on its first batch) */
    float *X = random_floats(12 * 32, -1, 1, 8), *Y = random_onehot(3, 32, 9);
    double loss;
    cr_assert_eq(gn_net_train_step(b, X, 12, Y, 3, 32, 0.05f, &loss), GN_OK);
    cr_assert_eq(gn_net_tuned_batch(b), 32);
    for (size_t l = 1; l <= 3; l++)
        for (int p = 0; p < GN_PRODUCT_COUNT; p++)
            cr_assert_eq(gn_net_layer_backend(a, l, (gn_product)p),
                         gn_net_layer_backend(b, l, (gn_product)p), "layer %zu product %d", l, p);
    cr_assert_eq(gn_net_train_step(a, X, 12, Y, 3, 32, 0.05f, &loss), GN_OK);
    for (int s = 0; s < 5; s++) {
        cr_assert_eq(gn_net_train_step(a, X, 12, Y, 3, 32, 0.05f, &loss), GN_OK);
        cr_assert_eq(gn_net_train_step(b, X, 12, Y, 3, 32, 0.05f, &loss), GN_OK);
    }
    cr_assert_eq(memcmp(gn_net_params(a), gn_net_params(b), n * sizeof(float)), 0);
    /* a smaller train_step batch keeps the choice; gn_net_train retunes for its batch */
    cr_assert_eq(gn_net_train_step(a, X, 12, Y, 3, 5, 0.05f, &loss), GN_OK);
    cr_assert_eq(gn_net_tuned_batch(a), 32);
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.batch = 8;
    opt.epochs = 1;
    cr_assert_eq(gn_net_train(a, X, 12, Y, 3, 32, &opt), GN_OK);
    cr_assert_eq(gn_net_tuned_batch(a), 8);
    /* and a new thread count counts as stale */
    if (gn_set_threads(2) == GN_OK && gn_get_threads() == 2) {
        cr_assert_eq(gn_net_train_step(a, X, 12, Y, 3, 8, 0.05f, &loss), GN_OK);
        cr_assert_eq(gn_net_tuned_batch(a), 8);
        gn_set_threads(1);
    }
    free(before);
    free(X);
    free(Y);
    gn_net_free(a);
    gn_net_free(b);
}

/* Dropout draws its masks from the network's RNG: tuning (whose timed steps run with dropout)
 * must give it back untouched, or an automatic network would train differently from a forced
 * one with the same choice. */
Test(backends, tune_keeps_the_rng)
{
    no_env();
    gn_net *a = small_net(16, 11), *b = small_net(16, 11);
    cr_assert_eq(gn_net_set_dropout(a, 0.3f), GN_OK);
    cr_assert_eq(gn_net_set_dropout(b, 0.3f), GN_OK);
    cr_assert_eq(gn_net_tune(a, 16), GN_OK);
    /* then both compute on OpenBLAS: only the RNG could make them differ */
    cr_assert_eq(gn_net_set_backend(a, GN_BACKEND_OPENBLAS), GN_OK);
    cr_assert_eq(gn_net_set_backend(b, GN_BACKEND_OPENBLAS), GN_OK);
    float *X = random_floats(12 * 16, -1, 1, 12), *Y = random_onehot(3, 16, 13);
    double la, lb;
    for (int s = 0; s < 4; s++) {
        cr_assert_eq(gn_net_train_step(a, X, 12, Y, 3, 16, 0.05f, &la), GN_OK);
        cr_assert_eq(gn_net_train_step(b, X, 12, Y, 3, 16, 0.05f, &lb), GN_OK);
        cr_assert_eq(la, lb, "step %d: the dropout masks differ", s);
    }
    cr_assert_eq(memcmp(gn_net_params(a), gn_net_params(b), gn_net_n_params(a) * sizeof(float)), 0);
    free(X);
    free(Y);
    gn_net_free(a);
    gn_net_free(b);
}

/* Each backend trains the same network as OpenBLAS does, up to rounding: after 20 SGD steps on
 * a fixed batch the parameters agree to a relative 1e-4 of their norm, and the loss falls. */
Test(backends, training_agrees_with_openblas)
{
    const size_t sizes[] = {40, 33, 17, 5};
    const gn_act acts[] = {GN_ACT_SIGMOID, GN_ACT_ELU, GN_ACT_SOFTMAX};
    float *X = random_floats(40 * 24, -1, 1, 21), *Y = random_onehot(5, 24, 22);
    gn_net *ref = make_net(sizes, 4, acts, GN_LOSS_CCE, 24, 5);
    cr_assert_eq(gn_net_set_backend(ref, GN_BACKEND_OPENBLAS), GN_OK);
    double first = 0, loss;
    for (int s = 0; s < 20; s++) {
        cr_assert_eq(gn_net_train_step(ref, X, 40, Y, 5, 24, 0.5f, &loss), GN_OK);
        if (s == 0)
            first = loss;
    }
    cr_assert_lt(loss, 0.9 * first, "OpenBLAS did not learn: %g -> %g", first, loss);
    size_t n = gn_net_n_params(ref);
    const float *p_ref = gn_net_params(ref);
    double norm = 0;
    for (size_t i = 0; i < n; i++)
        norm += (double)p_ref[i] * p_ref[i];
    norm = sqrt(norm);
    int tried = 0;
    for (int i = 1; i < N_NAMED; i++) {
        if (!gn_backend_available(named[i]))
            continue;
        tried++;
        gn_net *net = make_net(sizes, 4, acts, GN_LOSS_CCE, 24, 5);
        cr_assert_eq(gn_net_set_backend(net, named[i]), GN_OK);
        for (int s = 0; s < 20; s++)
            cr_assert_eq(gn_net_train_step(net, X, 40, Y, 5, 24, 0.5f, &loss), GN_OK);
        const float *p = gn_net_params(net);
        double diff = 0;
        for (size_t j = 0; j < n; j++)
            diff += ((double)p[j] - p_ref[j]) * ((double)p[j] - p_ref[j]);
        cr_assert_lt(sqrt(diff), 1e-4 * norm, "%s: |Δθ| = %g, |θ| = %g", gn_backend_name(named[i]),
                     sqrt(diff), norm);
        gn_net_free(net);
    }
    cr_log_info("compared %d backends with OpenBLAS", tried);
    cr_assert_eq(gn__backend_fallbacks(), 0);
    if (gn__xsmm_fallbacks)
        cr_assert_eq(gn__xsmm_fallbacks(), 0, "libxsmm gave no kernel for some blocks");
    free(X);
    free(Y);
    gn_net_free(ref);
}
