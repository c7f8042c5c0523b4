/* The network object: layout of the parameter buffer, BLAS path against the reference path,
 * determinism, inference on any batch size, the SGD update, and every error path. */
#include <criterion/criterion.h>

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "measures.h"
#include "testutil.h"

Test(net, layout_and_introspection)
{
    const size_t sizes[] = {3, 4, 2};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_CCE, 5, 1);
    cr_assert_eq(gn_net_n_layers(net), 2);
    cr_assert_eq(gn_net_layer_size(net, 0), 3);
    cr_assert_eq(gn_net_layer_size(net, 2), 2);
    cr_assert_eq(gn_net_layer_size(net, 3), 0);
    cr_assert_eq(gn_net_layer_act(net, 1), GN_ACT_TANH);
    cr_assert_eq(gn_net_layer_act(net, 2), GN_ACT_SOFTMAX);
    cr_assert_eq(gn_net_n_inputs(net), 3);
    cr_assert_eq(gn_net_n_outputs(net), 2);
    cr_assert_eq(gn_net_loss(net), GN_LOSS_CCE);
    cr_assert_eq(gn_net_max_batch(net), 5);
    cr_assert_eq(gn_net_n_params(net), 4 * 3 + 4 + 2 * 4 + 2);
    size_t w, b;
    cr_assert_eq(gn_net_layer_offsets(net, 1, &w, &b), GN_OK);
    cr_assert_eq(w, 0);
    cr_assert_eq(b, 12);
    cr_assert_eq(gn_net_layer_offsets(net, 2, &w, &b), GN_OK);
    cr_assert_eq(w, 16);
    cr_assert_eq(b, 24);
    cr_assert_eq((uintptr_t)gn_net_params(net) % 64, 0, "parameters are 64-byte aligned");
    gn_net_free(net);
}

/* The documented layout, used by hand: an identity 2-3-2 net computes W2(W1 x + b1) + b2
 * with W column-major, ld = n_out, and b right after W. */
Test(net, forward_follows_documented_layout)
{
    const size_t sizes[] = {2, 3, 2};
    const gn_act acts[] = {GN_ACT_IDENTITY, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 4, 1);
    float *p = gn_net_params(net);
    /* W1 = [1 2; 3 4; 5 6] (3×2), b1 = (1, 0, −1); W2 = [1 0 1; 0 1 0] (2×3), b2 = (0.5, −0.5) */
    const float W1[6] = {1, 3, 5, 2, 4, 6}, b1[3] = {1, 0, -1};
    const float W2[6] = {1, 0, 0, 1, 1, 0}, b2[2] = {0.5f, -0.5f};
    memcpy(p, W1, sizeof W1);
    memcpy(p + 6, b1, sizeof b1);
    memcpy(p + 9, W2, sizeof W2);
    memcpy(p + 15, b2, sizeof b2);
    const float x[4] = {1, 1, 2, -1}; /* two samples */
    const float *y;
    cr_assert_eq(gn_net_forward(net, x, 2, 2, &y), GN_OK);
    /* sample 1: h = (1+2+1, 3+4, 5+6−1) = (4, 7, 10); out = (4+10+0.5, 7−0.5) */
    cr_assert_float_eq(y[0], 14.5f, 1e-6);
    cr_assert_float_eq(y[1], 6.5f, 1e-6);
    /* sample 2: h = (2−2+1, 6−4, 10−6−1) = (1, 2, 3); out = (1+3+0.5, 2−0.5) */
    cr_assert_float_eq(y[2], 4.5f, 1e-6);
    cr_assert_float_eq(y[3], 1.5f, 1e-6);
    gn_net_free(net);
}

/* BLAS and the two reference paths compute the same math with different summation orders.
 * Float rounding of sums of ≤ 64 terms is ≲ 64·6e-8 ≈ 4e-6 of the terms' magnitude; 1e-4 of
 * the largest entry allows for that with room, and is far below any real discrepancy. */
static void compare_impls(gn_impl ref_impl)
{
    const size_t sizes[] = {37, 64, 33, 10};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_SIGMOID, GN_ACT_SOFTMAX};
    const size_t m = 29;
    gn_net *a = make_net(sizes, 4, acts, GN_LOSS_CCE, 32, 7);
    gn_net *b = make_net(sizes, 4, acts, GN_LOSS_CCE, 32, 7);
    cr_assert_eq(gn_net_set_impl(b, ref_impl), GN_OK);
    size_t np = gn_net_n_params(a);
    cr_assert_eq(memcmp(gn_net_params(a), gn_net_params(b), np * sizeof(float)), 0);
    float *X = random_floats(37 * m, -1, 1, 3), *Y = random_onehot(10, m, 4);
    double la, lb;
    cr_assert_eq(gn_net_backprop(a, X, 37, Y, 10, m, &la), GN_OK);
    cr_assert_eq(gn_net_backprop(b, X, 37, Y, 10, m, &lb), GN_OK);
    cr_assert(rel_err(la, lb) < 1e-5, "loss %.9g vs %.9g", la, lb);
    double gscale = max_abs(gn_net_grads(a), np);
    cr_assert(gscale > 0);
    double gd = max_abs_diff(gn_net_grads(a), gn_net_grads(b), np);
    cr_assert(gd <= 1e-4 * gscale, "gradients differ by %.3g (scale %.3g)", gd, gscale);
    cr_assert_eq(gn_net_train_step(a, X, 37, Y, 10, m, 0.5f, &la), GN_OK);
    cr_assert_eq(gn_net_train_step(b, X, 37, Y, 10, m, 0.5f, &lb), GN_OK);
    double pscale = max_abs(gn_net_params(a), np);
    double pd = max_abs_diff(gn_net_params(a), gn_net_params(b), np);
    cr_assert(pd <= 1e-5 * pscale, "weights after a step differ by %.3g (scale %.3g)", pd, pscale);
    const float *oa, *ob;
    cr_assert_eq(gn_net_forward(a, X, 37, m, &oa), GN_OK);
    cr_assert_eq(gn_net_forward(b, X, 37, m, &ob), GN_OK);
    cr_assert(max_abs_diff(oa, ob, 10 * m) <= 1e-5);
    free(X);
    free(Y);
    gn_net_free(a);
    gn_net_free(b);
}

Test(net, blas_equals_naive_reference) { compare_impls(GN_IMPL_NAIVE); }
Test(net, blas_equals_loop_reference) { compare_impls(GN_IMPL_LOOP); }

Test(net, sgd_step_is_params_minus_eta_grads)
{
    const size_t sizes[] = {5, 6, 3};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 8, 2);
    /* both calls on the same products: an automatic network would be tuned by the step
     * (not by backprop), and another backend's loss differs by rounding */
    cr_assert_eq(gn_net_tune(net, 8), GN_OK);
    size_t np = gn_net_n_params(net);
    float *before = malloc(np * sizeof *before);
    memcpy(before, gn_net_params(net), np * sizeof *before);
    float *X = random_floats(5 * 8, -1, 1, 5), *Y = random_floats(3 * 8, 0, 1, 6);
    double loss_bp, loss_step;
    cr_assert_eq(gn_net_backprop(net, X, 5, Y, 3, 8, &loss_bp), GN_OK);
    cr_assert_eq(memcmp(before, gn_net_params(net), np * sizeof *before), 0,
                 "backprop must not change parameters");
    float *g = malloc(np * sizeof *g);
    memcpy(g, gn_net_grads(net), np * sizeof *g);
    cr_assert_eq(gn_net_train_step(net, X, 5, Y, 3, 8, 0.25f, &loss_step), GN_OK);
    cr_assert_eq(loss_bp, loss_step);
    /* the fused update computes the same thing in a different order: float rounding only */
    const float *p = gn_net_params(net);
    for (size_t i = 0; i < np; i++)
        cr_assert_float_eq(p[i], before[i] - 0.25f * g[i], 1e-6, "parameter %zu", i);
    free(g);
    /* the step lowers the loss for a small enough eta */
    double after;
    cr_assert_eq(gn_net_evaluate(net, X, 5, Y, 3, 8, &after, NULL), GN_OK);
    cr_assert_lt(after, loss_bp);
    free(before);
    free(X);
    free(Y);
    gn_net_free(net);
}

/* Values so large that the fused update could overflow (Σ Δ² · Σ X² ≥ 1e60) take the plain
 * path: the step must still equal params − eta · gradient. */
Test(net, huge_but_finite_values_use_the_checked_path)
{
    const size_t sizes[] = {1, 1};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 2, 1);
    float *p = gn_net_params(net);
    p[0] = 1e-8f; /* w */
    p[1] = 0.0f;  /* b */
    const float X[2] = {1e19f, 1e19f}, Y[2] = {0, 0};
    /* a = 1e11, Δ = 1e11: ΣΔ²·ΣX² = 2e22 · 2e38 ≥ 1e60, the gradient 1e30 is finite */
    cr_assert_eq(gn_net_backprop(net, X, 1, Y, 1, 2, NULL), GN_OK);
    float gw = gn_net_grads(net)[0], gb = gn_net_grads(net)[1];
    cr_assert(isfinite(gw) && fabsf(gw) > 1e29f, "dw = %g", (double)gw);
    cr_assert_eq(gn_net_train_step(net, X, 1, Y, 1, 2, 1e-30f, NULL), GN_OK);
    cr_assert_float_eq(p[0], 1e-8f - 1e-30f * gw, 1e-6f);
    cr_assert_float_eq(p[1], 0.0f - 1e-30f * gb, 1e-6f);
    gn_net_free(net);
}

/* An update that would overflow (a huge learning rate on the fused path, a huge gradient on
 * the checked path) is reported and leaves the parameters as they were. */
Test(net, overflowing_update_leaves_parameters_unchanged)
{
    const size_t sizes[] = {1, 1};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    const struct {
        float x, w, eta;
    } cases[] = {{2.0f, 1.0f, 3e38f}, {1e18f, 1.0f, 1e3f}};
    for (int c = 0; c < 2; c++) {
        gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 2, 1);
        float *p = gn_net_params(net);
        p[0] = cases[c].w;
        p[1] = 0.0f;
        const float X[2] = {cases[c].x, cases[c].x}, Y[2] = {0, 0};
        cr_assert_eq(gn_net_train_step(net, X, 1, Y, 1, 2, cases[c].eta, NULL), GN_ERR_NONFINITE,
                     "case %d", c);
        cr_assert_eq(p[0], cases[c].w, "case %d: w changed to %g", c, (double)p[0]);
        cr_assert_eq(p[1], 0.0f, "case %d: b changed to %g", c, (double)p[1]);
        gn_net_free(net);
    }
}

Test(net, predict_any_batch_size_matches_forward)
{
    const size_t sizes[] = {6, 9, 4};
    const gn_act acts[] = {GN_ACT_LEAKY_RELU, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_CCE, 4, 9);
    const size_t n = 11, ldx = 8, ldy = 5; /* n > max_batch, padded leading dimensions */
    float *X = random_floats(ldx * n, -2, 2, 10);
    float Y[5 * 11];
    for (size_t i = 0; i < sizeof Y / sizeof Y[0]; i++)
        Y[i] = -7.0f;
    cr_assert_eq(gn_net_predict(net, X, ldx, n, Y, ldy), GN_OK);
    for (size_t j = 0; j < n; j++) {
        const float *one;
        cr_assert_eq(gn_net_forward(net, X + j * ldx, ldx, 1, &one), GN_OK);
        for (size_t i = 0; i < 4; i++)
            cr_assert_float_eq(Y[i + j * ldy], one[i], 1e-6, "sample %zu output %zu", j, i);
        cr_assert_eq(Y[4 + j * ldy], -7.0f, "padding row of Y was written");
    }
    free(X);
    gn_net_free(net);
}

Test(net, evaluate_counts_argmax_matches)
{
    const size_t sizes[] = {2, 2};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 2, 1);
    float *p = gn_net_params(net);
    const float eye[6] = {1, 0, 0, 1, 0, 0}; /* W = I, b = 0: output = input */
    memcpy(p, eye, sizeof eye);
    const float X[10] = {1, 0, 0, 1, 2, 3, 5, 1, 0.2f, 0.1f};
    const float Y[10] = {1, 0, 0, 1, 1, 0, 1, 0, 0, 1}; /* right, right, wrong, right, wrong */
    double loss, acc;
    cr_assert_eq(gn_net_evaluate(net, X, 2, Y, 2, 5, &loss, &acc), GN_OK);
    cr_assert_float_eq(acc, 3.0 / 5.0, 1e-12);
    /* ½‖x − y‖² per sample: 0, 0, ½(1+9), ½(16+1), ½(0.04+0.81) */
    double want = (0 + 0 + 5 + 8.5 + 0.5 * (0.04 + 0.81)) / 5;
    cr_assert_float_eq(loss, want, 1e-6);
    gn_net_free(net);
}

Test(net, single_output_accuracy_thresholds_at_half)
{
    const size_t sizes[] = {1, 1};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 4, 1);
    float *p = gn_net_params(net);
    p[0] = 1;
    p[1] = 0;
    const float X[4] = {0.9f, 0.1f, 0.6f, 0.4f}, Y[4] = {1, 0, 0, 1};
    double acc;
    cr_assert_eq(gn_net_evaluate(net, X, 1, Y, 1, 4, NULL, &acc), GN_OK);
    cr_assert_float_eq(acc, 0.5, 1e-12);
    gn_net_free(net);
}

static void train_once(uint64_t seed, float *out, size_t np)
{
    const size_t sizes[] = {4, 8, 3};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_CCE, 16, seed);
    cr_assert_eq(gn_net_n_params(net), np);
    float *X = random_floats(4 * 50, -1, 1, 77), *Y = random_onehot(3, 50, 78);
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = 5;
    opt.batch = 7; /* 50 = 7·7 + 1: a short last batch */
    opt.eta = 0.3f;
    cr_assert_eq(gn_net_train(net, X, 4, Y, 3, 50, &opt), GN_OK);
    memcpy(out, gn_net_params(net), np * sizeof *out);
    free(X);
    free(Y);
    gn_net_free(net);
}

Test(net, same_seed_gives_bit_identical_weights)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    enum { NP = 4 * 8 + 8 + 3 * 8 + 3 };
    float a[NP], b[NP], c[NP];
    train_once(42, a, NP);
    train_once(42, b, NP);
    train_once(43, c, NP);
    cr_assert_eq(memcmp(a, b, sizeof a), 0, "same seed, different weights");
    cr_assert_neq(memcmp(a, c, sizeof a), 0, "different seeds, same weights");
}

typedef struct job {
    uint64_t seed;
    float params[4 * 8 + 8 + 3 * 8 + 3];
} job;

static void *train_job(void *arg)
{
    job *j = arg;
    for (int rep = 0; rep < 20; rep++) /* enough overlap for the two threads to meet */
        train_once(j->seed, j->params, sizeof j->params / sizeof j->params[0]);
    return NULL;
}

/* Two networks trained on two threads at once give the same weights as alone (documented:
 * distinct gn_net objects may be used concurrently). */
Test(net, two_networks_on_two_threads)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    job alone[2] = {{.seed = 5}, {.seed = 6}}, together[2] = {{.seed = 5}, {.seed = 6}};
    train_job(&alone[0]);
    train_job(&alone[1]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, train_job, &together[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(memcmp(alone[i].params, together[i].params, sizeof alone[i].params), 0,
                     "network %d differs when trained concurrently", i);
}

static int stop_after_two(gn_net *net, const gn_epoch_info *info, void *user)
{
    (void)net;
    int *calls = user;
    ++*calls;
    cr_assert_eq(info->epoch, (size_t)*calls);
    cr_assert_eq(info->epochs, 10);
    cr_assert_eq(info->samples, 20);
    cr_assert(isfinite(info->train_loss) && info->train_loss > 0);
    cr_assert(info->seconds >= 0);
    return info->epoch == 2;
}

Test(net, epoch_callback_reports_and_can_stop)
{
    const size_t sizes[] = {3, 4, 2};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 8, 1);
    float *X = random_floats(3 * 20, -1, 1, 1), *Y = random_floats(2 * 20, 0, 1, 2);
    int calls = 0;
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = 10;
    opt.batch = 8;
    opt.on_epoch = stop_after_two;
    opt.user = &calls;
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 20, &opt), GN_OK);
    cr_assert_eq(calls, 2);
    free(X);
    free(Y);
    gn_net_free(net);
}

Test(net, unshuffled_training_equals_manual_steps)
{
    const size_t sizes[] = {3, 5, 2};
    gn_net *a = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 3);
    gn_net *b = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 3);
    float *X = random_floats(3 * 10, -1, 1, 1), *Y = random_floats(2 * 10, 0, 1, 2);
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = 2;
    opt.batch = 4;
    opt.eta = 0.5f;
    opt.shuffle = 0;
    cr_assert_eq(gn_net_train(a, X, 3, Y, 2, 10, &opt), GN_OK);
    for (int e = 0; e < 2; e++)
        for (size_t j = 0; j < 10; j += 4) {
            size_t m = j + 4 <= 10 ? 4 : 10 - j;
            cr_assert_eq(gn_net_train_step(b, X + 3 * j, 3, Y + 2 * j, 2, m, 0.5f, NULL), GN_OK);
        }
    cr_assert_eq(memcmp(gn_net_params(a), gn_net_params(b), gn_net_n_params(a) * sizeof(float)), 0);
    free(X);
    free(Y);
    gn_net_free(a);
    gn_net_free(b);
}

Test(net, init_schemes)
{
    const size_t sizes[] = {400, 300, 2};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_SIGMOID};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 1, 5);
    size_t w, b;
    const float *p = gn_net_params(net);
    /* AUTO: He for the ReLU layer, N(0, 2/400): sample variance within 5% (n = 120000) */
    gn_net_layer_offsets(net, 1, &w, &b);
    double s = 0, s2 = 0;
    for (size_t i = w; i < b; i++) {
        s += p[i];
        s2 += (double)p[i] * p[i];
    }
    double n = (double)(b - w), mean = s / n, var = s2 / n - mean * mean;
    cr_assert(fabs(var / (2.0 / 400) - 1) < 0.05, "He variance %.4g", var);
    cr_assert(fabs(mean) < 5 * sqrt(2.0 / 400 / n));
    for (size_t i = b; i < b + 300; i++)
        cr_assert_eq(p[i], 0.0f);
    /* Xavier for the sigmoid layer: bounded by √(6/302) and spread over the range */
    gn_net_layer_offsets(net, 2, &w, &b);
    double r = sqrt(6.0 / 302), mx = 0;
    for (size_t i = w; i < b; i++)
        mx = fmax(mx, fabs(p[i]));
    cr_assert(mx <= r && mx > 0.9 * r, "Xavier max |w| %.4g, bound %.4g", mx, r);
    /* Nielsen: biases drawn too; re-init is reproducible */
    cr_assert_eq(gn_net_init_params(net, GN_INIT_NIELSEN, 11), GN_OK);
    gn_net_layer_offsets(net, 1, &w, &b);
    cr_assert_neq(p[b], 0.0f);
    float first = p[0];
    cr_assert_eq(gn_net_init_params(net, GN_INIT_NIELSEN, 11), GN_OK);
    cr_assert_eq(p[0], first);
    cr_assert_eq(gn_net_init_params(net, GN_INIT_XAVIER, 11), GN_OK);
    cr_assert_eq(gn_net_init_params(net, GN_INIT_HE, 11), GN_OK);
    gn_net_free(net);
}

Test(net, reserve_grows_and_shrinks_the_workspace)
{
    const size_t sizes[] = {3, 4, 2};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 2, 1);
    float *X = random_floats(3 * 6, -1, 1, 1);
    const float *out;
    cr_assert_eq(gn_net_forward(net, X, 3, 6, &out), GN_ERR_BATCH);
    cr_assert_eq(gn_net_reserve(net, 6), GN_OK);
    cr_assert_eq(gn_net_max_batch(net), 6);
    cr_assert_eq(gn_net_forward(net, X, 3, 6, &out), GN_OK);
    float first[12];
    memcpy(first, out, sizeof first);
    cr_assert_eq(gn_net_reserve(net, 1), GN_OK);
    cr_assert_eq(gn_net_forward(net, X, 3, 2, &out), GN_ERR_BATCH);
    cr_assert_eq(gn_net_forward(net, X + 3 * 5, 3, 1, &out), GN_OK);
    cr_assert_eq(out[0], first[10]);
    cr_assert_eq(out[1], first[11]);
    free(X);
    gn_net_free(net);
}

Test(net, nonfinite_input_leaves_parameters_unchanged)
{
    const size_t sizes[] = {2, 3, 1};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 1);
    size_t np = gn_net_n_params(net);
    float *before = malloc(np * sizeof *before);
    memcpy(before, gn_net_params(net), np * sizeof *before);
    float X[4] = {0.5f, NAN, 1, 1}, Y[2] = {1, 0};
    double loss;
    cr_assert_eq(gn_net_train_step(net, X, 2, Y, 1, 2, 0.1f, &loss), GN_ERR_NONFINITE);
    cr_assert(!isfinite(loss));
    cr_assert_eq(memcmp(before, gn_net_params(net), np * sizeof *before), 0);
    cr_assert(strstr(gn_net_last_error(net), "not finite") != NULL);
    /* gn_net_train reports it too, and stops */
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.batch = 2;
    cr_assert_eq(gn_net_train(net, X, 2, Y, 1, 2, &opt), GN_ERR_NONFINITE);
    cr_assert_eq(memcmp(before, gn_net_params(net), np * sizeof *before), 0);
    free(before);
    gn_net_free(net);
}

/* NaN or infinity in the inputs must surface as GN_ERR_NONFINITE for every loss (the
 * cross-entropies clamp their logs, which must not hide a NaN), parameters unchanged. */
Test(net, nonfinite_input_detected_for_every_loss)
{
    const size_t sizes[] = {2, 3, 2};
    const gn_act acts[3][2] = {{GN_ACT_RELU, GN_ACT_SOFTMAX},
                               {GN_ACT_TANH, GN_ACT_SIGMOID},
                               {GN_ACT_RELU, GN_ACT_IDENTITY}};
    const gn_loss losses[3] = {GN_LOSS_CCE, GN_LOSS_BCE, GN_LOSS_QUADRATIC};
    const float bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 2; b++) {
            gn_net *net = make_net(sizes, 3, acts[k], losses[k], 2, 1);
            size_t np = gn_net_n_params(net);
            float *before = malloc(np * sizeof *before);
            memcpy(before, gn_net_params(net), np * sizeof *before);
            float X[4] = {0.5f, 1, bad[b], 1}, Y[4] = {1, 0, 0, 1};
            double loss;
            cr_assert_eq(gn_net_train_step(net, X, 2, Y, 2, 2, 0.1f, &loss), GN_ERR_NONFINITE,
                         "loss %d with %g in X", (int)losses[k], (double)bad[b]);
            cr_assert_eq(memcmp(before, gn_net_params(net), np * sizeof *before), 0);
            /* a NaN input poisons the output (an infinite one may legitimately saturate) */
            double eval;
            cr_assert_eq(gn_net_evaluate(net, X, 2, Y, 2, 2, &eval, NULL), GN_OK);
            cr_assert(b == 1 || isnan(eval), "evaluate hides a NaN input (loss %g)", eval);
            free(before);
            gn_net_free(net);
        }
}

static int shrink_workspace(gn_net *net, const gn_epoch_info *info, void *user)
{
    (void)info;
    (void)user;
    gn_net_reserve(net, 1);
    return 0;
}

/* A callback that shrinks the workspace below the batch must stop training with
 * GN_ERR_BATCH, not make the next epoch overrun the smaller buffers. */
Test(net, callback_shrinking_workspace_is_reported)
{
    const size_t sizes[] = {3, 4, 2};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 8, 1);
    float *X = random_floats(3 * 20, -1, 1, 1), *Y = random_floats(2 * 20, 0, 1, 2);
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = 3;
    opt.batch = 8;
    opt.on_epoch = shrink_workspace;
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 20, &opt), GN_ERR_BATCH);
    cr_assert(strstr(gn_net_last_error(net), "after epoch 1") != NULL, "%s",
              gn_net_last_error(net));
    free(X);
    free(Y);
    gn_net_free(net);
}

/*---- error paths of every public network function ----*/

/* gn_net_create rejects cfg with want, leaves *out NULL, and gn_net_config_check gives the
 * same status with a message containing the word `says`. */
static void expect_reject(const gn_net_config *cfg, gn_status want, const char *says)
{
    gn_net *net = (gn_net *)cfg;
    cr_assert_eq(gn_net_create(&net, cfg), want, "expected %d for '%s'", want, says);
    cr_assert_null(net);
    char why[256];
    cr_assert_eq(gn_net_config_check(cfg, why, sizeof why), want);
    cr_assert(strstr(why, says) != NULL, "message '%s' does not mention '%s'", why, says);
}

Test(errors, create)
{
    const size_t sizes[] = {3, 4, 2}, zero[] = {3, 0, 2}, huge[] = {3, GN_MAX_WIDTH + 1, 2};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    gn_net *net = (gn_net *)&cfg; /* must be reset to NULL on failure */
    cr_assert_eq(gn_net_create(NULL, &cfg), GN_ERR_NULL);
    cr_assert_eq(gn_net_create(&net, NULL), GN_ERR_NULL);
    cr_assert_null(net);
    gn_net_config_defaults(&cfg);
    expect_reject(&cfg, GN_ERR_NULL, "sizes is NULL");
    cfg.sizes = sizes;
    cfg.n_sizes = 1;
    expect_reject(&cfg, GN_ERR_ARG, "n_sizes = 1");
    cfg.n_sizes = GN_MAX_SIZES + 1;
    expect_reject(&cfg, GN_ERR_ARG, "n_sizes = 257");
    cfg.n_sizes = 3;
    cfg.sizes = zero;
    expect_reject(&cfg, GN_ERR_ARG, "sizes[1] = 0");
    cfg.sizes = huge;
    expect_reject(&cfg, GN_ERR_ARG, "sizes[1] = 16777217");
    cfg.sizes = sizes;
    cfg.max_batch = 0;
    expect_reject(&cfg, GN_ERR_ARG, "max_batch");
    cfg.max_batch = 4;
    cfg.loss = (gn_loss)9;
    expect_reject(&cfg, GN_ERR_ARG, "unknown loss 9");
    cfg.loss = GN_LOSS_QUADRATIC;
    cfg.init = (gn_init)9;
    expect_reject(&cfg, GN_ERR_ARG, "unknown init scheme 9");
    cfg.init = GN_INIT_AUTO;
    cfg.impl = (gn_impl)9;
    expect_reject(&cfg, GN_ERR_ARG, "unknown implementation 9");
    cfg.impl = GN_IMPL_BLAS;
    cfg.hidden_act = (gn_act)42;
    expect_reject(&cfg, GN_ERR_ARG, "unknown activation 42");
    cfg.hidden_act = GN_ACT_SOFTMAX;
    expect_reject(&cfg, GN_ERR_ARG, "layer 1: softmax");
    cfg.hidden_act = GN_ACT_SIGMOID;
    const gn_act bad_acts[] = {GN_ACT_SIGMOID, (gn_act)-1};
    cfg.acts = bad_acts;
    expect_reject(&cfg, GN_ERR_ARG, "layer 2: unknown activation -1");
    cfg.acts = NULL;
    const float slopes[] = {-0.1f, 1.0f, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        cfg.leaky_slope = slopes[i];
        expect_reject(&cfg, GN_ERR_ARG, "leaky_slope");
    }
    cfg.leaky_slope = 0.01f;
    cfg.loss = GN_LOSS_BCE;
    cfg.output_act = GN_ACT_TANH;
    expect_reject(&cfg, GN_ERR_UNSUPPORTED,
                  "binary cross-entropy needs a sigmoid output layer, not tanh");
    cfg.loss = GN_LOSS_CCE;
    cfg.output_act = GN_ACT_SIGMOID;
    expect_reject(&cfg, GN_ERR_UNSUPPORTED,
                  "categorical cross-entropy needs a softmax output layer, not sigmoid");
    const size_t one_out[] = {3, 1};
    cfg.sizes = one_out;
    cfg.n_sizes = 2;
    cfg.output_act = GN_ACT_SOFTMAX;
    expect_reject(&cfg, GN_ERR_UNSUPPORTED, "at least 2 units");
    cr_assert_null(net);
    /* 255 layers of 2^24 × 2^24 weights (2^56 parameters): widths within limits, memory
     * impossible: NOMEM, cleanly */
    size_t wide[GN_MAX_SIZES];
    for (int i = 0; i < GN_MAX_SIZES; i++)
        wide[i] = GN_MAX_WIDTH;
    gn_net_config_defaults(&cfg);
    cfg.sizes = wide;
    cfg.n_sizes = GN_MAX_SIZES;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_ERR_NOMEM);
    cr_assert_null(net);
    char why[64] = "x";
    cr_assert_eq(gn_net_config_check(NULL, why, sizeof why), GN_ERR_NULL);
    cr_assert_str_neq(why, "x");
    cfg.sizes = sizes;
    cfg.n_sizes = 3;
    cr_assert_eq(gn_net_config_check(&cfg, NULL, 0), GN_OK, "err may be NULL");
    cr_assert_eq(gn_net_config_check(&cfg, why, sizeof why), GN_OK);
    cr_assert_str_eq(why, "", "a valid configuration clears the message");
    gn_net_config_defaults(NULL);
    gn_net_free(NULL);
}

Test(errors, compute_calls)
{
    const size_t sizes[] = {3, 4, 2};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 1);
    float X[3 * 8] = {0}, Y[2 * 8] = {0}, out[2 * 8];
    const float *o;
    double loss;
    /* forward */
    cr_assert_eq(gn_net_forward(NULL, X, 3, 1, &o), GN_ERR_NULL);
    cr_assert_eq(gn_net_forward(net, NULL, 3, 1, &o), GN_ERR_NULL);
    cr_assert_eq(gn_net_forward(net, X, 3, 1, NULL), GN_ERR_NULL);
    cr_assert_eq(gn_net_forward(net, X, 3, 0, &o), GN_ERR_DIM);
    cr_assert_eq(gn_net_forward(net, X, 2, 1, &o), GN_ERR_DIM);
    cr_assert_eq(gn_net_forward(net, X, 3, 5, &o), GN_ERR_BATCH);
    cr_assert(strstr(gn_net_last_error(net), "gn_net_reserve") != NULL);
    /* strides BLAS cannot represent are rejected, not truncated (m = 1 reads only n_in) */
    cr_assert_eq(gn_net_forward(net, X, (size_t)INT_MAX + 1, 1, &o), GN_ERR_DIM);
    cr_assert_eq(gn_net_predict(net, X, 3, 1, out, (size_t)1 << 32), GN_ERR_DIM);
    /* predict */
    cr_assert_eq(gn_net_predict(NULL, X, 3, 1, out, 2), GN_ERR_NULL);
    cr_assert_eq(gn_net_predict(net, NULL, 3, 1, out, 2), GN_ERR_NULL);
    cr_assert_eq(gn_net_predict(net, X, 3, 1, NULL, 2), GN_ERR_NULL);
    cr_assert_eq(gn_net_predict(net, X, 3, 0, out, 2), GN_ERR_DIM);
    cr_assert_eq(gn_net_predict(net, X, 1, 1, out, 2), GN_ERR_DIM);
    cr_assert_eq(gn_net_predict(net, X, 3, 1, out, 1), GN_ERR_DIM);
    /* backprop */
    cr_assert_eq(gn_net_backprop(NULL, X, 3, Y, 2, 1, &loss), GN_ERR_NULL);
    cr_assert_eq(gn_net_backprop(net, NULL, 3, Y, 2, 1, &loss), GN_ERR_NULL);
    cr_assert_eq(gn_net_backprop(net, X, 3, NULL, 2, 1, &loss), GN_ERR_NULL);
    cr_assert_eq(gn_net_backprop(net, X, 3, Y, 2, 0, &loss), GN_ERR_DIM);
    cr_assert_eq(gn_net_backprop(net, X, 3, Y, 1, 1, &loss), GN_ERR_DIM);
    cr_assert_eq(gn_net_backprop(net, X, 3, Y, 2, 8, &loss), GN_ERR_BATCH);
    cr_assert_eq(gn_net_backprop(net, X, 3, Y, 2, 1, NULL), GN_OK, "loss may be NULL");
    /* train_step */
    cr_assert_eq(gn_net_train_step(NULL, X, 3, Y, 2, 1, 0.1f, &loss), GN_ERR_NULL);
    cr_assert_eq(gn_net_train_step(net, X, 3, NULL, 2, 1, 0.1f, &loss), GN_ERR_NULL);
    cr_assert_eq(gn_net_train_step(net, X, 0, Y, 2, 1, 0.1f, &loss), GN_ERR_DIM);
    cr_assert_eq(gn_net_train_step(net, X, 3, Y, 2, 5, 0.1f, &loss), GN_ERR_BATCH);
    const float etas[] = {0.0f, -1.0f, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(gn_net_train_step(net, X, 3, Y, 2, 1, etas[i], &loss), GN_ERR_ARG, "eta %g",
                     (double)etas[i]);
        cr_assert(strstr(gn_net_last_error(net), "learning rate") != NULL);
    }
    /* evaluate */
    double acc;
    cr_assert_eq(gn_net_evaluate(NULL, X, 3, Y, 2, 1, &loss, &acc), GN_ERR_NULL);
    cr_assert_eq(gn_net_evaluate(net, NULL, 3, Y, 2, 1, &loss, &acc), GN_ERR_NULL);
    cr_assert_eq(gn_net_evaluate(net, X, 3, NULL, 2, 1, &loss, &acc), GN_ERR_NULL);
    cr_assert_eq(gn_net_evaluate(net, X, 3, Y, 2, 0, &loss, &acc), GN_ERR_DIM);
    cr_assert_eq(gn_net_evaluate(net, X, 3, Y, 0, 1, &loss, &acc), GN_ERR_DIM);
    cr_assert_eq(gn_net_evaluate(net, X, 3, Y, 2, 8, NULL, NULL), GN_OK, "any n, outputs optional");
    /* train */
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.batch = 4;
    cr_assert_eq(gn_net_train(NULL, X, 3, Y, 2, 8, &opt), GN_ERR_NULL);
    cr_assert_eq(gn_net_train(net, NULL, 3, Y, 2, 8, &opt), GN_ERR_NULL);
    cr_assert_eq(gn_net_train(net, X, 3, NULL, 2, 8, &opt), GN_ERR_NULL);
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 8, NULL), GN_ERR_NULL);
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 0, &opt), GN_ERR_DIM);
    cr_assert_eq(gn_net_train(net, X, 1, Y, 2, 8, &opt), GN_ERR_DIM);
    opt.epochs = 0;
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 8, &opt), GN_ERR_ARG);
    opt.epochs = 1;
    opt.batch = 0;
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 8, &opt), GN_ERR_ARG);
    opt.batch = 5; /* > max_batch */
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 8, &opt), GN_ERR_ARG);
    opt.batch = 4;
    opt.eta = NAN;
    cr_assert_eq(gn_net_train(net, X, 3, Y, 2, 8, &opt), GN_ERR_ARG);
    gn_train_options_defaults(NULL);
    gn_net_free(net);
}

Test(errors, lifecycle_and_access)
{
    const size_t sizes[] = {3, 4, 2};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 1);
    cr_assert_str_eq(gn_net_last_error(net), "");
    cr_assert_str_eq(gn_net_last_error(NULL), "");
    cr_assert_eq(gn_net_init_params(NULL, GN_INIT_HE, 1), GN_ERR_NULL);
    cr_assert_eq(gn_net_init_params(net, (gn_init)17, 1), GN_ERR_ARG);
    cr_assert_eq(gn_net_reserve(NULL, 4), GN_ERR_NULL);
    cr_assert_eq(gn_net_reserve(net, 0), GN_ERR_ARG);
    cr_assert_eq(gn_net_max_batch(net), 4, "a failed reserve keeps the workspace");
    cr_assert_eq(gn_net_reserve(net, (size_t)INT_MAX + 1), GN_ERR_ARG, "BLAS takes int");
    cr_assert_eq(gn_net_max_batch(net), 4, "a failed reserve keeps the workspace");
    cr_assert_eq(gn_net_reserve(net, INT_MAX), GN_ERR_NOMEM);
    cr_assert_eq(gn_net_max_batch(net), 4, "a failed reserve keeps the workspace");
    cr_assert_eq(gn_net_set_impl(NULL, GN_IMPL_BLAS), GN_ERR_NULL);
    cr_assert_eq(gn_net_set_impl(net, (gn_impl)3), GN_ERR_ARG);
    size_t w, b;
    cr_assert_eq(gn_net_layer_offsets(NULL, 1, &w, &b), GN_ERR_NULL);
    cr_assert_eq(gn_net_layer_offsets(net, 1, NULL, &b), GN_ERR_NULL);
    cr_assert_eq(gn_net_layer_offsets(net, 1, &w, NULL), GN_ERR_NULL);
    cr_assert_eq(gn_net_layer_offsets(net, 0, &w, &b), GN_ERR_ARG);
    cr_assert_eq(gn_net_layer_offsets(net, 3, &w, &b), GN_ERR_ARG);
    cr_assert_eq(gn_net_n_layers(NULL), 0);
    cr_assert_eq(gn_net_layer_size(NULL, 0), 0);
    cr_assert_eq(gn_net_layer_act(NULL, 1), GN_ACT_IDENTITY);
    cr_assert_eq(gn_net_layer_act(net, 0), GN_ACT_IDENTITY);
    cr_assert_eq(gn_net_loss(NULL), GN_LOSS_QUADRATIC);
    cr_assert_eq(gn_net_n_inputs(NULL), 0);
    cr_assert_eq(gn_net_n_outputs(NULL), 0);
    cr_assert_eq(gn_net_max_batch(NULL), 0);
    cr_assert_eq(gn_net_n_params(NULL), 0);
    cr_assert_null(gn_net_params(NULL));
    cr_assert_null(gn_net_grads(NULL));
    gn_net_free(net);
}

/* The epoch shuffle (internal, reached through the library's objects) must give every
 * permutation with equal probability: a Fisher–Yates off-by-one skews or misses some. */
void gn__shuffle(gn_rng *rng, size_t *perm, size_t n);

Test(net, shuffle_is_uniform_over_permutations)
{
    enum { N = 4, PERMS = 24, DRAWS = 24000 };
    size_t counts[PERMS] = {0};
    gn_rng rng;
    gn_rng_seed(&rng, 99);
    size_t perm[N] = {0, 1, 2, 3};
    for (int d = 0; d < DRAWS; d++) {
        gn__shuffle(&rng, perm, N);
        /* Lehmer code of the permutation, relative to the identity */
        size_t code = 0;
        for (size_t i = 0; i < N; i++) {
            size_t smaller = 0;
            for (size_t k = i + 1; k < N; k++)
                smaller += perm[k] < perm[i];
            code = code * (N - i) + smaller;
        }
        counts[code]++;
        for (size_t i = 0; i < N; i++)
            perm[i] = i;
    }
    double chi2 = 0, expect = (double)DRAWS / PERMS;
    for (int i = 0; i < PERMS; i++) {
        cr_assert_gt(counts[i], 0, "permutation %d never drawn", i);
        chi2 += (counts[i] - expect) * (counts[i] - expect) / expect;
    }
    /* χ² with 23 degrees of freedom: P(χ² > 49.7) = 0.001 */
    cr_assert_lt(chi2, 49.7, "chi-square %.1f: the shuffle is not uniform", chi2);
}

/* The activations against double precision over their whole useful range: sigmoid and
 * softmax use the library's own vectorised exponential, which must be as good as expf. */
Test(net, activations_match_double_precision)
{
    enum { N = 601 };
    const size_t sizes[] = {1, 2};
    const gn_act sig[] = {GN_ACT_SIGMOID}, soft[] = {GN_ACT_SOFTMAX};
    gn_net *s = make_net(sizes, 2, sig, GN_LOSS_QUADRATIC, N, 1);
    gn_net *x = make_net(sizes, 2, soft, GN_LOSS_CCE, N, 1);
    /* z_0 = t, z_1 = −t/2 for inputs t in [−90, 90] */
    const float W[2] = {1.0f, -0.5f}, b[2] = {0, 0};
    memcpy(gn_net_params(s), W, sizeof W);
    memcpy(gn_net_params(s) + 2, b, sizeof b);
    memcpy(gn_net_params(x), W, sizeof W);
    memcpy(gn_net_params(x) + 2, b, sizeof b);
    float t[N];
    for (int i = 0; i < N; i++)
        t[i] = -90.0f + 0.3f * (float)i;
    const float *ys, *yx;
    cr_assert_eq(gn_net_forward(s, t, 1, N, &ys), GN_OK);
    cr_assert_eq(gn_net_forward(x, t, 1, N, &yx), GN_OK);
    for (int i = 0; i < N; i++) {
        double z0 = t[i], z1 = (double)(-0.5f * t[i]);
        double s0 = 1 / (1 + exp(-z0)), e = exp(z1 - z0), p0 = 1 / (1 + e);
        /* a few float roundings: 1e-6 relative, or absolute where the value underflows */
        cr_assert(fabs(ys[2 * i] - s0) <= 1e-6 * s0 + 1e-37, "sigmoid(%g) = %.9g, want %.9g", z0,
                  (double)ys[2 * i], s0);
        /* softmax takes e^(z0 − z1) and z0 − z1 is rounded to float first: an error of
         * |z0 − z1|·2⁻²⁴ relative, inherent to float, comes on top */
        double tol = (1e-6 + 1.2e-7 * fabs(z0 - z1)) * p0 + 1e-37;
        cr_assert(fabs(yx[2 * i] - p0) <= tol, "softmax at %g = %.9g, want %.9g", z0,
                  (double)yx[2 * i], p0);
        cr_assert(fabs(yx[2 * i] + yx[2 * i + 1] - 1.0) <= 2e-7, "softmax sums to 1");
    }
    /* NaN passes through both */
    const float nan_in = NAN;
    cr_assert_eq(gn_net_forward(s, &nan_in, 1, 1, &ys), GN_OK);
    cr_assert(isnan(ys[0]) && isnan(ys[1]));
    cr_assert_eq(gn_net_forward(x, &nan_in, 1, 1, &yx), GN_OK);
    cr_assert(isnan(yx[0]) && isnan(yx[1]));
    gn_net_free(s);
    gn_net_free(x);
}
