/* Optimizers: single steps against updates worked out by hand from the formulas in the
 * header, state carried between steps, clipping, L2 and decoupled decay on weights only,
 * the non-finite guarantees, and each optimizer training a small regression problem. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "testutil.h"

/* A 2-input, 2-output identity layer: W (2×2) at 0..3, b at 4..5. */
enum { NP = 6 };
static const size_t sz22[] = {2, 2};
static const double P0[NP] = {0.5, -1.0, 2.0, 0.25, 0.1, -0.3};
static const double G1[NP] = {0.2, -0.4, 1.0, 0.0, -0.6, 0.05};
static const double G2[NP] = {-0.1, 0.3, 0.5, 0.7, 0.2, -0.05};

static gn_net *net22(void)
{
    gn_net *net = make_net(sz22, 2, (gn_act[]){GN_ACT_IDENTITY}, GN_LOSS_QUADRATIC, 4, 1);
    cr_assert_eq(gn_net_n_params(net), NP);
    float *p = gn_net_params(net);
    for (int i = 0; i < NP; i++)
        p[i] = (float)P0[i];
    return net;
}

static gn_optimizer *make_opt(gn_net *net, const gn_optimizer_config *cfg)
{
    gn_optimizer *opt = NULL;
    char err[200];
    cr_assert_eq(gn_optimizer_create(&opt, net, cfg, err, sizeof err), GN_OK, "%s", err);
    return opt;
}

/* Loads a gradient into the net and applies one step. */
static void apply(gn_optimizer *opt, gn_net *net, const double *g)
{
    float *gr = gn_net_grads(net);
    for (int i = 0; i < NP; i++)
        gr[i] = (float)g[i];
    cr_assert_eq(gn_optimizer_apply(opt, net), GN_OK, "%s", gn_net_last_error(net));
}

static void expect_params(gn_net *net, const double *want, const char *what)
{
    const float *p = gn_net_params(net);
    for (int i = 0; i < NP; i++)
        cr_assert(fabs(p[i] - want[i]) <= 1e-6 * fmax(1.0, fabs(want[i])),
                  "%s: param %d = %.9g, expected %.9g", what, i, (double)p[i], want[i]);
}

static int is_weight(int i) { return i < 4; }

Test(optim, sgd_one_step)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_SGD);
    c.lr = 0.5f;
    gn_optimizer *opt = make_opt(net, &c);
    apply(opt, net, G1);
    double want[NP];
    for (int i = 0; i < NP; i++)
        want[i] = P0[i] - 0.5 * G1[i];
    expect_params(net, want, "sgd");
    cr_assert_eq(gn_optimizer_steps(opt), 1);
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, momentum_two_steps)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_MOMENTUM);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    gn_optimizer *opt = make_opt(net, &c);
    apply(opt, net, G1);
    apply(opt, net, G2);
    /* v1 = g1, p1 = p0 − lr g1; v2 = 0.9 g1 + g2, p2 = p1 − lr v2 */
    double want[NP];
    for (int i = 0; i < NP; i++)
        want[i] = P0[i] - 0.1 * G1[i] - 0.1 * (0.9 * G1[i] + G2[i]);
    expect_params(net, want, "momentum");
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, nesterov_two_steps)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_NESTEROV);
    c.lr = 0.1f;
    c.momentum = 0.5f;
    gn_optimizer *opt = make_opt(net, &c);
    apply(opt, net, G1);
    apply(opt, net, G2);
    /* step 1: v = g1, p −= lr (g1 + 0.5 g1); step 2: v = 0.5 g1 + g2, p −= lr (g2 + 0.5 v) */
    double want[NP];
    for (int i = 0; i < NP; i++) {
        double v2 = 0.5 * G1[i] + G2[i];
        want[i] = P0[i] - 0.1 * 1.5 * G1[i] - 0.1 * (G2[i] + 0.5 * v2);
    }
    expect_params(net, want, "nesterov");
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, rmsprop_two_steps)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_RMSPROP);
    c.lr = 0.01f;
    c.rho = 0.9f;
    c.eps = 1e-8f;
    gn_optimizer *opt = make_opt(net, &c);
    apply(opt, net, G1);
    apply(opt, net, G2);
    double want[NP];
    for (int i = 0; i < NP; i++) {
        double s1 = 0.1 * G1[i] * G1[i], s2 = 0.9 * s1 + 0.1 * G2[i] * G2[i];
        want[i] = P0[i] - 0.01 * G1[i] / (sqrt(s1) + 1e-8) - 0.01 * G2[i] / (sqrt(s2) + 1e-8);
    }
    expect_params(net, want, "rmsprop");
    gn_optimizer_free(opt);
    gn_net_free(net);
}

/* The first step of RMSprop moves every parameter with g ≠ 0 by lr/√(1 − ρ), whatever g. */
Test(optim, rmsprop_first_step_size)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_RMSPROP);
    c.lr = 0.01f;
    c.rho = 0.9f;
    gn_optimizer *opt = make_opt(net, &c);
    apply(opt, net, G1);
    const float *p = gn_net_params(net);
    for (int i = 0; i < NP; i++) {
        double moved = P0[i] - p[i];
        double want = G1[i] == 0 ? 0 : copysign(0.01 / sqrt(0.1), G1[i]);
        cr_assert(fabs(moved - want) < 1e-6, "param %d moved %.9g, expected %.9g", i, moved, want);
    }
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, adam_bias_correction)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_ADAM);
    c.lr = 0.01f;
    gn_optimizer *opt = make_opt(net, &c);
    /* With bias correction the first step is lr·g/(|g| + ε): every parameter with g ≠ 0
     * moves by almost exactly lr, whatever the size of its gradient. */
    apply(opt, net, G1);
    const float *p = gn_net_params(net);
    for (int i = 0; i < NP; i++) {
        double moved = P0[i] - p[i];
        double want = G1[i] == 0 ? 0 : copysign(0.01, G1[i]);
        cr_assert(fabs(moved - want) < 1e-7, "param %d moved %.9g, expected %.9g", i, moved, want);
    }
    apply(opt, net, G2);
    double want[NP];
    for (int i = 0; i < NP; i++) {
        double m = 0.9 * 0.1 * G1[i] + 0.1 * G2[i];
        double v = 0.999 * 0.001 * G1[i] * G1[i] + 0.001 * G2[i] * G2[i];
        double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
        double first = G1[i] == 0 ? 0 : copysign(0.01, G1[i]);
        want[i] = P0[i] - first - 0.01 * mh / (sqrt(vh) + 1e-8);
    }
    expect_params(net, want, "adam step 2");
    cr_assert_eq(gn_optimizer_steps(opt), 2);
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, adamw_decays_weights_not_biases)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_ADAMW);
    cr_assert_float_eq(c.weight_decay, 0.01f, 0.0f);
    c.lr = 0.01f;
    c.weight_decay = 0.5f;
    gn_optimizer *opt = make_opt(net, &c);
    apply(opt, net, G1);
    double want[NP];
    for (int i = 0; i < NP; i++) {
        double adam = G1[i] == 0 ? 0 : copysign(0.01, G1[i]);
        want[i] = P0[i] - adam - (is_weight(i) ? 0.01 * 0.5 * P0[i] : 0.0);
    }
    expect_params(net, want, "adamw");
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, l2_on_weights_only)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_SGD);
    c.lr = 0.1f;
    c.l2 = 0.2f;
    gn_optimizer *opt = make_opt(net, &c);
    apply(opt, net, G1);
    /* Nielsen (93): w → (1 − ηλ/n) w − η ∂C0/∂w; b → b − η ∂C0/∂b */
    double want[NP];
    for (int i = 0; i < NP; i++)
        want[i] = (is_weight(i) ? (1 - 0.1 * 0.2) * P0[i] : P0[i]) - 0.1 * G1[i];
    expect_params(net, want, "l2");
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, clipping_scales_the_whole_gradient)
{
    double norm = 0;
    for (int i = 0; i < NP; i++)
        norm += G1[i] * G1[i];
    norm = sqrt(norm); /* ≈ 1.26 */
    for (int below = 0; below < 2; below++) {
        gn_net *net = net22();
        gn_optimizer_config c;
        gn_optimizer_config_defaults(&c, GN_OPT_SGD);
        c.lr = 1.0f;
        c.clip_norm = below ? (float)(2 * norm) : 0.5f;
        gn_optimizer *opt = make_opt(net, &c);
        apply(opt, net, G1);
        double scale = below ? 1.0 : 0.5 / norm, want[NP];
        for (int i = 0; i < NP; i++)
            want[i] = P0[i] - scale * G1[i];
        expect_params(net, want, below ? "under the threshold" : "clipped");
        gn_optimizer_free(opt);
        gn_net_free(net);
    }
}

/* Entries of 1e19 have finite squares (1e38 < FLT_MAX) but a norm² above FLT_MAX: clipping
 * must handle them, not refuse them; an entry of 1e20, whose square overflows, is refused
 * without clipping. */
Test(optim, huge_but_clippable_gradient_is_clipped)
{
    for (int clip = 0; clip < 2; clip++) {
        gn_net *net = net22();
        gn_optimizer_config c;
        gn_optimizer_config_defaults(&c, GN_OPT_ADAM);
        c.clip_norm = clip ? 1.0f : 0.0f;
        gn_optimizer *opt = make_opt(net, &c);
        float *g = gn_net_grads(net);
        for (int i = 0; i < NP; i++)
            g[i] = 1e19f;
        gn_status st = gn_optimizer_apply(opt, net);
        if (clip) {
            cr_assert_eq(st, GN_OK, "%s", gn_net_last_error(net));
            /* Adam's first step moves every parameter by lr (sign of g) whatever the scale */
            for (int i = 0; i < NP; i++)
                cr_assert_float_eq(gn_net_params(net)[i], (float)P0[i] - c.lr, 1e-6);
        } else {
            cr_assert_eq(st, GN_OK, "1e19² = 1e38 fits a float: %s", gn_net_last_error(net));
        }
        for (int i = 0; i < NP; i++)
            g[i] = (float)G1[i];
        g[2] = 1e20f;
        st = gn_optimizer_apply(opt, net);
        cr_assert_eq(st, clip ? GN_OK : GN_ERR_NONFINITE, "clip %d: %d", clip, st);
        gn_optimizer_free(opt);
        gn_net_free(net);
    }
}

Test(optim, nonfinite_gradient_leaves_parameters_unchanged)
{
    const float bad_values[] = {NAN, INFINITY, 1e30f}; /* 1e30² overflows the moments */
    for (size_t k = 0; k < 3; k++) {
        gn_net *net = net22();
        gn_optimizer_config c;
        gn_optimizer_config_defaults(&c, GN_OPT_ADAM);
        gn_optimizer *opt = make_opt(net, &c);
        float *g = gn_net_grads(net);
        for (int i = 0; i < NP; i++)
            g[i] = (float)G1[i];
        g[3] = bad_values[k];
        cr_assert_eq(gn_optimizer_apply(opt, net), GN_ERR_NONFINITE);
        cr_assert(strlen(gn_net_last_error(net)) > 0);
        for (int i = 0; i < NP; i++)
            cr_assert_eq(gn_net_params(net)[i], (float)P0[i]);
        cr_assert_eq(gn_optimizer_steps(opt), 0);
        gn_optimizer_free(opt);
        gn_net_free(net);
    }
}

Test(optim, overflowing_update_leaves_parameters_unchanged)
{
    gn_net *net = net22();
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_SGD);
    c.lr = 3e38f;
    c.l2 = 1e-9f; /* not plain SGD: the apply path */
    gn_optimizer *opt = make_opt(net, &c);
    float *g = gn_net_grads(net);
    for (int i = 0; i < NP; i++)
        g[i] = (float)G1[i] * 10;
    cr_assert_eq(gn_optimizer_apply(opt, net), GN_ERR_NONFINITE);
    for (int i = 0; i < NP; i++)
        cr_assert_eq(gn_net_params(net)[i], (float)P0[i]);
    gn_optimizer_free(opt);
    gn_net_free(net);
}

Test(optim, configuration_is_checked)
{
    gn_net *net = net22();
    enum { N_CASES = 9 };
    for (int k = 0; k < N_CASES; k++) {
        gn_optimizer_config c;
        gn_optimizer_config_defaults(&c, GN_OPT_ADAM);
        switch (k) {
        case 0: c.lr = 0.0f; break;
        case 1: c.lr = NAN; break;
        case 2: c.momentum = 1.0f; break;
        case 3: c.beta2 = -0.1f; break;
        case 4: c.eps = 0.0f; break;
        case 5: c.weight_decay = -1.0f; break;
        case 6: c.clip_norm = INFINITY; break;
        case 7: c.kind = (gn_opt)GN_OPT_COUNT; break;
        case 8: c.rho = NAN; break;
        }
        gn_optimizer *opt = (gn_optimizer *)&c; /* must be reset to NULL */
        char err[200] = "x";
        cr_assert_eq(gn_optimizer_create(&opt, net, &c, err, sizeof err), GN_ERR_ARG, "case %d", k);
        cr_assert_null(opt);
        cr_assert(strlen(err) > 10, "case %d: message '%s'", k, err);
    }
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_SGD);
    gn_optimizer *opt = NULL;
    cr_assert_eq(gn_optimizer_create(&opt, NULL, &c, NULL, 0), GN_ERR_NULL);
    cr_assert_eq(gn_optimizer_create(&opt, net, NULL, NULL, 0), GN_ERR_NULL);
    cr_assert_eq(gn_optimizer_create(NULL, net, &c, NULL, 0), GN_ERR_NULL);
    opt = make_opt(net, &c);
    cr_assert_eq(gn_optimizer_set_lr(opt, -1.0f), GN_ERR_ARG);
    cr_assert_eq(gn_optimizer_set_lr(opt, 0.25f), GN_OK);
    cr_assert_float_eq(gn_optimizer_lr(opt), 0.25f, 0.0f);
    /* an optimizer sized for another network is refused */
    static const size_t other[] = {3, 2};
    gn_net *net2 = make_net(other, 2, (gn_act[]){GN_ACT_IDENTITY}, GN_LOSS_QUADRATIC, 4, 1);
    cr_assert_eq(gn_optimizer_apply(opt, net2), GN_ERR_DIM);
    gn_net_free(net2);
    gn_optimizer_free(opt);
    gn_optimizer_free(NULL);
    gn_net_free(net);
}

/*---- each optimizer trains a small regression problem ----*/

enum { N_TRAIN = 256, EPOCHS = 150 };

/* y = sin(x1)·cos(x2) on [−2, 2]², a 2-16-1 tanh net, batch 16, 150 epochs. The untrained
 * net's loss is 0.56 and the best constant predictor's (½ the variance of y) about 0.07;
 * every optimizer must reach 0.003 (measured: 0.0005 to 0.001 with these rates). */
static double train_problem(gn_opt kind, float lr, double *initial)
{
    static const size_t sz[] = {2, 16, 1};
    gn_net *net =
        make_net(sz, 3, (gn_act[]){GN_ACT_TANH, GN_ACT_IDENTITY}, GN_LOSS_QUADRATIC, 16, 7);
    float *X = random_floats(2 * N_TRAIN, -2.0f, 2.0f, 11), Y[N_TRAIN];
    for (int j = 0; j < N_TRAIN; j++)
        Y[j] = sinf(X[2 * j]) * cosf(X[2 * j + 1]);
    cr_assert_eq(gn_net_evaluate(net, X, 2, Y, 1, N_TRAIN, initial, NULL), GN_OK);
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, kind);
    c.lr = lr;
    gn_optimizer *opt = make_opt(net, &c);
    for (int e = 0; e < EPOCHS; e++)
        for (int j0 = 0; j0 < N_TRAIN; j0 += 16)
            cr_assert_eq(gn_optimizer_step(opt, net, X + 2 * j0, 2, Y + j0, 1, 16, NULL), GN_OK);
    double loss;
    cr_assert_eq(gn_net_evaluate(net, X, 2, Y, 1, N_TRAIN, &loss, NULL), GN_OK);
    gn_optimizer_free(opt);
    gn_net_free(net);
    free(X);
    return loss;
}

typedef struct trial {
    gn_opt kind;
    float lr;
    double target;
} trial;

Test(optim, every_optimizer_trains)
{
    const trial trials[] = {
        {GN_OPT_SGD, 0.1f, 0.003},       {GN_OPT_MOMENTUM, 0.02f, 0.003},
        {GN_OPT_NESTEROV, 0.02f, 0.003}, {GN_OPT_RMSPROP, 0.003f, 0.003},
        {GN_OPT_ADAM, 0.01f, 0.003},     {GN_OPT_ADAMW, 0.01f, 0.003},
    };
    for (size_t k = 0; k < sizeof trials / sizeof trials[0]; k++) {
        double initial, loss = train_problem(trials[k].kind, trials[k].lr, &initial);
        cr_log_info("optimizer %d lr %g: loss %.3g -> %.3g", (int)trials[k].kind,
                    (double)trials[k].lr, initial, loss);
        cr_assert(loss < trials[k].target, "optimizer %d: loss %.4g, expected < %.4g",
                  (int)trials[k].kind, loss, trials[k].target);
    }
}
