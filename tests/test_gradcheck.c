/* Gradient check: the library's analytic gradients against central finite differences of
 * the batch-mean loss, which this file evaluates itself in double precision, for every
 * hidden activation × (output activation, loss) pair on a random 3-layer net.
 *
 * Tolerance: max |a − n| / max(|a|, |n|) ≤ 1e-3 over every parameter.
 *  - n (finite difference, h = 1e-5, in double): truncation error O(h²) ≈ 1e-10 relative,
 *    rounding ≈ 1e-16 / 1e-5 = 1e-11: negligible.
 *  - a (library, float32): each entry is a sum of products in float, relative error of a
 *    few u = 6e-8 times the ratio Σ|terms| / |sum|. 1e-3 leaves a factor of ~10⁴ for that
 *    cancellation, while any real mistake (a missing σ', a missing term or 1/m, a transposed
 *    or shifted entry) gives errors of order 1, as the negative controls below show. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "../lib/internal.h" /* the dropout masks of the last backprop */

enum { BATCH = 6, N_SIZES = 4 };
static const size_t sizes[N_SIZES] = {4, 5, 4, 3};
static const float SLOPE = 0.1f; /* not the default, so a forgotten setting shows */
static const float DELTA = 0.3f; /* Huber threshold, likewise not the default */
static const double H = 1e-5, TOL = 1e-3;
static const double KINK_MARGIN = 1e-3; /* |z| of ReLU units must exceed this: h·|a| ≪ it */

/*---- an independent double-precision forward pass and loss ----*/

static double act_d(gn_act act, double z)
{
    switch (act) {
    case GN_ACT_IDENTITY: return z;
    case GN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case GN_ACT_TANH: return tanh(z);
    case GN_ACT_RELU: return z > 0 ? z : 0;
    case GN_ACT_LEAKY_RELU: return z > 0 ? z : SLOPE * z;
    case GN_ACT_ELU: return z > 0 ? z : expm1(z);
    case GN_ACT_SOFTPLUS: return log1p(exp(z));
    case GN_ACT_SOFTMAX: break;
    }
    return NAN;
}

/* Dropout masks of the two hidden layers (entries 0 or 1/(1 − p)), read from the network
 * after its backprop; NULL without dropout. */
static const float *g_masks[N_SIZES - 2];

/* Loss of the net with parameters theta on (X, Y); also reports the smallest distance to a
 * kink (|z| of a ReLU-family unit, |a − y| under MAE), so callers can keep away from it. */
static double loss_d(const double *theta, const gn_act *acts, gn_loss loss, const float *X,
                     const float *Y, double *min_kink)
{
    double total = 0;
    *min_kink = INFINITY;
    for (size_t j = 0; j < BATCH; j++) {
        double a[8], z[8];
        for (size_t i = 0; i < sizes[0]; i++)
            a[i] = X[i + j * sizes[0]];
        size_t off = 0;
        for (size_t l = 1; l < N_SIZES; l++) {
            size_t nin = sizes[l - 1], nout = sizes[l];
            const double *W = theta + off, *b = theta + off + nout * nin;
            off += nout * nin + nout;
            for (size_t i = 0; i < nout; i++) {
                z[i] = b[i];
                for (size_t p = 0; p < nin; p++)
                    z[i] += W[i + p * nout] * a[p];
            }
            gn_act act = acts[l - 1];
            if (act == GN_ACT_SOFTMAX) {
                double mx = z[0], s = 0;
                for (size_t i = 1; i < nout; i++)
                    mx = fmax(mx, z[i]);
                for (size_t i = 0; i < nout; i++)
                    s += exp(z[i] - mx);
                for (size_t i = 0; i < nout; i++)
                    a[i] = exp(z[i] - mx) / s;
            } else {
                for (size_t i = 0; i < nout; i++) {
                    if (act == GN_ACT_RELU || act == GN_ACT_LEAKY_RELU || act == GN_ACT_ELU)
                        *min_kink = fmin(*min_kink, fabs(z[i]));
                    a[i] = act_d(act, z[i]);
                }
            }
            if (l < N_SIZES - 1 && g_masks[l - 1])
                for (size_t i = 0; i < nout; i++)
                    a[i] *= g_masks[l - 1][i + j * nout];
        }
        size_t nL = sizes[N_SIZES - 1];
        for (size_t i = 0; i < nL; i++) {
            double y = Y[i + j * nL];
            double g = a[i] - y;
            if (loss == GN_LOSS_QUADRATIC)
                total += 0.5 * g * g;
            else if (loss == GN_LOSS_MAE) {
                total += fabs(g);
                *min_kink = fmin(*min_kink, fabs(g));
            } else if (loss == GN_LOSS_HUBER)
                total += fabs(g) <= DELTA ? 0.5 * g * g : DELTA * (fabs(g) - 0.5 * DELTA);
            else if (loss == GN_LOSS_BCE)
                total -= y * log(a[i]) + (1 - y) * log(1 - a[i]);
            else
                total -= y * log(a[i]);
        }
    }
    return total / BATCH;
}

/*---- the check ----*/

typedef struct combo {
    gn_act hidden, out;
    gn_loss loss;
} combo;

typedef struct setup {
    gn_net *net;
    gn_act acts[N_SIZES - 1];
    gn_loss loss;
    float X[4 * BATCH], Y[3 * BATCH];
    double *theta;
    size_t n_params;
    double lib_loss;
} setup;

static const char *act_name(gn_act a)
{
    static const char *names[] = {"identity", "sigmoid", "tanh", "relu",
                                  "leaky",    "softmax", "elu",  "softplus"};
    return names[a];
}

/* Builds the net and data for a combination, retrying seeds until no ReLU unit sits within
 * KINK_MARGIN of its kink (where the loss is not differentiable). */
static void make_setup(setup *s, combo c)
{
    memset(s, 0, sizeof *s);
    s->acts[0] = s->acts[1] = c.hidden;
    s->acts[2] = c.out;
    s->loss = c.loss;
    for (uint64_t seed = 1; seed < 200; seed++) {
        gn_net_config cfg = net_config(sizes, N_SIZES, s->acts, c.loss, BATCH, seed);
        cfg.init = GN_INIT_XAVIER;
        cfg.leaky_slope = SLOPE;
        cfg.huber_delta = DELTA;
        gn_net_free(s->net);
        cr_assert_eq(gn_net_create(&s->net, &cfg), GN_OK);
        /* small random biases, so a dropped bias gradient is visible */
        float *p = gn_net_params(s->net);
        for (size_t l = 1; l < N_SIZES; l++) {
            size_t w, b;
            gn_net_layer_offsets(s->net, l, &w, &b);
            fill_uniform(p + b, sizes[l], -0.5f, 0.5f, seed * 7 + l);
        }
        fill_uniform(s->X, sizeof s->X / sizeof s->X[0], -1, 1, seed * 13);
        /* MAE on a softmax with targets all above (or all below) the outputs has an exactly
         * zero gradient (the signs are equal, and the Jacobian maps a constant to 0), which a
         * relative error cannot judge; one-hot targets, its natural use, give mixed signs. */
        if (c.loss == GN_LOSS_CCE || (c.loss == GN_LOSS_MAE && c.out == GN_ACT_SOFTMAX)) {
            float *oh = random_onehot(3, BATCH, seed * 17);
            memcpy(s->Y, oh, sizeof s->Y);
            free(oh);
        } else {
            /* targets in (0, 1): valid for BCE, generic for quadratic */
            fill_uniform(s->Y, sizeof s->Y / sizeof s->Y[0], 0.05f, 0.95f, seed * 19);
        }
        s->n_params = gn_net_n_params(s->net);
        free(s->theta);
        s->theta = malloc(s->n_params * sizeof *s->theta);
        for (size_t i = 0; i < s->n_params; i++)
            s->theta[i] = p[i];
        double kink;
        loss_d(s->theta, s->acts, s->loss, s->X, s->Y, &kink);
        if (kink > KINK_MARGIN) {
            cr_assert_eq(gn_net_backprop(s->net, s->X, 4, s->Y, 3, BATCH, &s->lib_loss), GN_OK);
            return;
        }
    }
    cr_assert_fail("no seed keeps the ReLU units away from their kink");
}

/* Max relative error of grad against central differences; reports the worst index. */
static double max_rel_error(setup *s, const float *grad, size_t *worst)
{
    double max_err = 0, kink;
    *worst = 0;
    for (size_t i = 0; i < s->n_params; i++) {
        double t = s->theta[i];
        s->theta[i] = t + H;
        double lp = loss_d(s->theta, s->acts, s->loss, s->X, s->Y, &kink);
        s->theta[i] = t - H;
        double lm = loss_d(s->theta, s->acts, s->loss, s->X, s->Y, &kink);
        s->theta[i] = t;
        double e = rel_err(grad[i], (lp - lm) / (2 * H));
        if (e > max_err) {
            max_err = e;
            *worst = i;
        }
    }
    return max_err;
}

static void free_setup(setup *s)
{
    gn_net_free(s->net);
    free(s->theta);
}

enum { N_HIDDEN = 7, N_OUTS = 13 };
#define N_COMBOS (N_HIDDEN * N_OUTS)
static combo combos[N_COMBOS];

ParameterizedTestParameters(gradcheck, all_combinations)
{
    static const combo outs[N_OUTS] = {
        {0, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC},   {0, GN_ACT_SIGMOID, GN_LOSS_QUADRATIC},
        {0, GN_ACT_TANH, GN_LOSS_QUADRATIC},       {0, GN_ACT_RELU, GN_LOSS_QUADRATIC},
        {0, GN_ACT_LEAKY_RELU, GN_LOSS_QUADRATIC}, {0, GN_ACT_SOFTMAX, GN_LOSS_QUADRATIC},
        {0, GN_ACT_SIGMOID, GN_LOSS_BCE},          {0, GN_ACT_SOFTMAX, GN_LOSS_CCE},
        {0, GN_ACT_IDENTITY, GN_LOSS_MAE},         {0, GN_ACT_SOFTMAX, GN_LOSS_MAE},
        {0, GN_ACT_IDENTITY, GN_LOSS_HUBER},       {0, GN_ACT_TANH, GN_LOSS_HUBER},
        {0, GN_ACT_SOFTPLUS, GN_LOSS_HUBER},
    };
    static const gn_act hidden[N_HIDDEN] = {GN_ACT_IDENTITY, GN_ACT_SIGMOID,    GN_ACT_TANH,
                                            GN_ACT_RELU,     GN_ACT_LEAKY_RELU, GN_ACT_ELU,
                                            GN_ACT_SOFTPLUS};
    for (int h = 0; h < N_HIDDEN; h++)
        for (int o = 0; o < N_OUTS; o++) {
            combos[h * N_OUTS + o] = outs[o];
            combos[h * N_OUTS + o].hidden = hidden[h];
        }
    return cr_make_param_array(combo, combos, N_COMBOS);
}

ParameterizedTest(combo *c, gradcheck, all_combinations)
{
    setup s;
    make_setup(&s, *c);
    double kink, ref_loss = loss_d(s.theta, s.acts, s.loss, s.X, s.Y, &kink);
    cr_assert(rel_err(s.lib_loss, ref_loss) < 1e-5, "loss %.9g vs double %.9g", s.lib_loss,
              ref_loss);
    size_t worst;
    double err = max_rel_error(&s, gn_net_grads(s.net), &worst);
    /* Printed so the closing note can quote the measured errors. */
    cr_log_info("gradcheck hidden=%s out=%s loss=%d: max rel err %.3g (param %zu)",
                act_name(c->hidden), act_name(c->out), (int)c->loss, err, worst);
    cr_assert(err <= TOL, "hidden=%s out=%s loss=%d: max relative error %.3g at parameter %zu",
              act_name(c->hidden), act_name(c->out), (int)c->loss, err, worst);
    free_setup(&s);
}

/*---- negative controls: the same check must reject broken gradients ----*/

static float *broken_copy(setup *s)
{
    float *g = malloc(s->n_params * sizeof *g);
    memcpy(g, gn_net_grads(s->net), s->n_params * sizeof *g);
    return g;
}

Test(gradcheck, negative_control_dropped_bias_gradient)
{
    setup s;
    make_setup(&s, (combo){GN_ACT_SIGMOID, GN_ACT_SOFTMAX, GN_LOSS_CCE});
    float *g = broken_copy(&s);
    size_t w, b, worst;
    gn_net_layer_offsets(s.net, 2, &w, &b);
    memset(g + b, 0, sizes[2] * sizeof *g); /* db^2 "forgotten" */
    cr_assert(max_rel_error(&s, g, &worst) > TOL, "a zeroed bias gradient passed the check");
    free(g);
    free_setup(&s);
}

Test(gradcheck, negative_control_missing_one_over_m)
{
    setup s;
    make_setup(&s, (combo){GN_ACT_TANH, GN_ACT_SIGMOID, GN_LOSS_QUADRATIC});
    float *g = broken_copy(&s);
    size_t worst;
    for (size_t i = 0; i < s.n_params; i++)
        g[i] *= BATCH; /* summed instead of averaged over the batch */
    cr_assert(max_rel_error(&s, g, &worst) > TOL, "an unaveraged gradient passed the check");
    free(g);
    free_setup(&s);
}

Test(gradcheck, negative_control_single_entry_off_by_one_percent)
{
    setup s;
    make_setup(&s, (combo){GN_ACT_RELU, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC});
    float *g = broken_copy(&s);
    size_t w, b, worst;
    gn_net_layer_offsets(s.net, 1, &w, &b);
    size_t target = w;
    for (size_t i = w; i < b; i++) /* the largest entry of dW^1, so it is surely not 0 */
        if (fabsf(g[i]) > fabsf(g[target]))
            target = i;
    g[target] *= 1.01f;
    cr_assert(max_rel_error(&s, g, &worst) > TOL, "a 1%% error in one entry passed the check");
    cr_assert_eq(worst, target);
    free(g);
    free_setup(&s);
}

Test(gradcheck, negative_control_wrong_loss_derivative)
{
    /* The simplified CE delta a − y is not the gradient of the quadratic loss on a softmax:
     * the CCE net's analytic gradient, checked against the quadratic loss, must fail. */
    setup c;
    make_setup(&c, (combo){GN_ACT_SIGMOID, GN_ACT_SOFTMAX, GN_LOSS_CCE});
    c.loss = GN_LOSS_QUADRATIC; /* only the double-precision side changes */
    size_t worst;
    cr_assert(max_rel_error(&c, gn_net_grads(c.net), &worst) > TOL,
              "the CE gradient passed as the quadratic one");
    free_setup(&c);
}

/* Categorical cross-entropy with targets that do not sum to one (multi-label or unnormalised
 * weights): the gradient is a·Σy − y, not the textbook a − y. */
Test(gradcheck, cce_targets_not_summing_to_one)
{
    setup s;
    make_setup(&s, (combo){GN_ACT_TANH, GN_ACT_SOFTMAX, GN_LOSS_CCE});
    fill_uniform(s.Y, sizeof s.Y / sizeof s.Y[0], 0.0f, 1.0f, 5); /* column sums ≠ 1 */
    cr_assert_eq(gn_net_backprop(s.net, s.X, 4, s.Y, 3, BATCH, &s.lib_loss), GN_OK);
    double kink, ref_loss = loss_d(s.theta, s.acts, s.loss, s.X, s.Y, &kink);
    cr_assert(rel_err(s.lib_loss, ref_loss) < 1e-5, "loss %.9g vs double %.9g", s.lib_loss,
              ref_loss);
    size_t worst;
    double err = max_rel_error(&s, gn_net_grads(s.net), &worst);
    cr_assert(err <= TOL, "max relative error %.3g at parameter %zu", err, worst);
    free_setup(&s);
}

/* Inverted dropout: the gradient is that of the network with this batch's mask. The masks
 * the library drew are read back and applied in the double-precision loss. */
Test(gradcheck, dropout_hidden_layers)
{
    static const gn_act hs[] = {GN_ACT_SIGMOID, GN_ACT_RELU, GN_ACT_TANH, GN_ACT_SOFTPLUS};
    for (size_t h = 0; h < sizeof hs / sizeof hs[0]; h++) {
        setup s;
        make_setup(&s, (combo){hs[h], GN_ACT_SOFTMAX, GN_LOSS_CCE});
        cr_assert_eq(gn_net_set_dropout(s.net, 0.4f), GN_OK);
        cr_assert_eq(gn_net_backprop(s.net, s.X, 4, s.Y, 3, BATCH, &s.lib_loss), GN_OK);
        size_t dropped = 0;
        for (size_t l = 0; l < N_SIZES - 2; l++) {
            g_masks[l] = s.net->masks[l];
            for (size_t i = 0; i < sizes[l + 1] * BATCH; i++) {
                float v = g_masks[l][i];
                cr_assert(v == 0.0f || v == 1.0f / 0.6f, "mask entry %g", (double)v);
                dropped += v == 0.0f;
            }
        }
        cr_assert(dropped > 0 && dropped < (5 + 4) * BATCH, "%zu of %d units dropped", dropped,
                  (5 + 4) * BATCH);
        double kink, ref_loss = loss_d(s.theta, s.acts, s.loss, s.X, s.Y, &kink);
        cr_assert(rel_err(s.lib_loss, ref_loss) < 1e-5, "loss %.9g vs double %.9g", s.lib_loss,
                  ref_loss);
        size_t worst;
        double err = max_rel_error(&s, gn_net_grads(s.net), &worst);
        cr_assert(err <= TOL, "hidden=%s: max relative error %.3g at parameter %zu",
                  act_name(hs[h]), err, worst);
        /* and without the masks the same gradient must fail: dropout really acted */
        g_masks[0] = g_masks[1] = NULL;
        cr_assert(max_rel_error(&s, gn_net_grads(s.net), &worst) > TOL,
                  "the dropout gradient passed as the full network's");
        free_setup(&s);
    }
}

/* Logits far beyond exp's float range: softmax subtracts the maximum, so probabilities and
 * the CE loss stay finite and correct, and so does the gradient. */
Test(gradcheck, softmax_huge_logits_stay_finite)
{
    static const size_t sz[] = {2, 3};
    gn_net *net;
    gn_net_config cfg = net_config(sz, 2, (gn_act[]){GN_ACT_SOFTMAX}, GN_LOSS_CCE, 2, 1);
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    float *p = gn_net_params(net);
    /* W = [[400, 0], [0, 400], [0, 0]] (3 × 2), b = 0: logits 400·x */
    memset(p, 0, gn_net_n_params(net) * sizeof *p);
    p[0] = 400.0f;
    p[4] = 400.0f;
    const float X[4] = {1, 0, 0, 1};       /* logits (400, 0, 0) and (0, 400, 0) */
    const float Y[6] = {0, 0, 1, 0, 1, 0}; /* first sample wrong by a lot, second right */
    double loss;
    cr_assert_eq(gn_net_backprop(net, X, 2, Y, 3, 2, &loss), GN_OK);
    /* sample 1: −ln softmax_3 = 400 + ln(1 + 2e−400) ≈ 400 (the log clamp would give 69);
     * sample 2: ≈ 0 */
    cr_assert(isfinite(loss), "loss %g", loss);
    const float *g = gn_net_grads(net);
    for (size_t i = 0; i < gn_net_n_params(net); i++)
        cr_assert(isfinite(g[i]), "gradient %zu = %g", i, (double)g[i]);
    /* dW(:,1) = ½ (a − y) x1ᵀ for sample 1: (1, 0, −1)/2 in the first column */
    cr_assert_float_eq(g[0], 0.5f, 1e-6f);
    cr_assert_float_eq(g[2], -0.5f, 1e-6f);
    const float *out;
    cr_assert_eq(gn_net_forward(net, X, 2, 2, &out), GN_OK);
    cr_assert_float_eq(out[0], 1.0f, 1e-6f);
    cr_assert_float_eq(out[4], 1.0f, 1e-6f);
    gn_net_free(net);
}
