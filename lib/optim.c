/* Optimizers over the flat parameter buffer: SGD, momentum, Nesterov, RMSprop, Adam, AdamW. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void gn_optimizer_config_defaults(gn_optimizer_config *cfg, gn_opt kind)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->lr = kind == GN_OPT_RMSPROP || kind == GN_OPT_ADAM || kind == GN_OPT_ADAMW ? 1e-3f : 0.1f;
    cfg->momentum = 0.9f;
    cfg->rho = 0.99f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->weight_decay = kind == GN_OPT_ADAMW ? 0.01f : 0.0f;
}

static bool in_unit(float x) { return x >= 0.0f && x < 1.0f; } /* false for NaN */
static bool nonneg(float x) { return isfinite(x) && x >= 0.0f; }

int gn__optimizer_vectors(gn_opt kind)
{
    return kind == GN_OPT_SGD ? 0 : kind == GN_OPT_ADAM || kind == GN_OPT_ADAMW ? 2 : 1;
}

static const char *check_config(const gn_optimizer_config *c)
{
    if ((unsigned)c->kind >= GN_OPT_COUNT)
        return "unknown optimizer kind";
    if (!isfinite(c->lr) || !(c->lr > 0.0f))
        return "lr must be finite and positive";
    if (!in_unit(c->momentum))
        return "momentum must be in [0, 1)";
    if (!in_unit(c->rho))
        return "rho must be in [0, 1)";
    if (!in_unit(c->beta1) || !in_unit(c->beta2))
        return "beta1 and beta2 must be in [0, 1)";
    if (!isfinite(c->eps) || !(c->eps > 0.0f))
        return "eps must be finite and positive";
    if (!nonneg(c->weight_decay) || !nonneg(c->l2) || !nonneg(c->clip_norm))
        return "weight_decay, l2 and clip_norm must be finite and ≥ 0";
    return NULL;
}

gn_status gn_optimizer_create(gn_optimizer **out, const gn_net *net, const gn_optimizer_config *cfg,
                              char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return GN_ERR_NULL;
    *out = NULL;
    if (!net || !cfg) {
        gn__format(err, errlen, "%s is NULL", !net ? "net" : "cfg");
        return GN_ERR_NULL;
    }
    const char *why = check_config(cfg);
    if (why) {
        gn__format(err, errlen, "optimizer: %s", why);
        return GN_ERR_ARG;
    }
    gn_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt)
        return GN_ERR_NOMEM;
    opt->cfg = *cfg;
    opt->lr = cfg->lr;
    opt->n_params = net->n_params;
    int k = gn__optimizer_vectors(cfg->kind);
    if (k >= 1)
        opt->s1 = gn__alloc_floats(opt->n_params);
    if (k == 2)
        opt->s2 = gn__alloc_floats(opt->n_params);
    if ((k >= 1 && !opt->s1) || (k == 2 && !opt->s2)) {
        gn_optimizer_free(opt);
        gn__format(err, errlen, "optimizer: no memory for the state of %zu parameters",
                   net->n_params);
        return GN_ERR_NOMEM;
    }
    *out = opt;
    return GN_OK;
}

void gn_optimizer_free(gn_optimizer *opt)
{
    if (!opt)
        return;
    gn__free(opt->s1);
    gn__free(opt->s2);
    free(opt);
}

gn_status gn_optimizer_set_lr(gn_optimizer *opt, float lr)
{
    if (!opt)
        return GN_ERR_NULL;
    if (!isfinite(lr) || !(lr > 0.0f))
        return GN_ERR_ARG;
    opt->lr = lr;
    return GN_OK;
}

float gn_optimizer_lr(const gn_optimizer *opt) { return opt ? opt->lr : 0.0f; }
uint64_t gn_optimizer_steps(const gn_optimizer *opt) { return opt ? opt->t : 0; }

gn_status gn_optimizer_get_config(const gn_optimizer *opt, gn_optimizer_config *cfg)
{
    if (!opt || !cfg)
        return GN_ERR_NULL;
    *cfg = opt->cfg;
    return GN_OK;
}

/* Σ g² in double: finite exactly when every g is, and without overflow for any float g. */
WIDEST_SIMD static double sum_squares(const float *restrict g, size_t n)
{
    double total = 0.0;
#pragma omp simd reduction(+ : total)
    for (size_t i = 0; i < n; i++)
        total += (double)g[i] * g[i];
    return total;
}

/* Coefficients of one step, shared by every segment of the buffer. */
typedef struct step_coef {
    float lr, clip; /* learning rate, gradient scale from clipping */
    float a1, b2c;  /* Adam: lr/(1 − β1^t), 1/√(1 − β2^t) */
} step_coef;

/* One segment (a weight matrix or a bias vector) of the buffer: replaces g by the step δ
 * (so that p − δ is the new value), updates the state, and returns 1 if some p − δ would
 * not be finite. decay is l2 and weight_decay for weights, 0 for biases. */
WIDEST_SIMD static uint32_t segment(const gn_optimizer_config *c, const step_coef *k,
                                    const float *restrict p, float *restrict g, float *restrict s1,
                                    float *restrict s2, size_t n, float l2, float wd)
{
    const float lr = k->lr, clip = k->clip, lwd = k->lr * wd;
    uint32_t bad = 0;
    switch (c->kind) {
    case GN_OPT_SGD:
        for (size_t i = 0; i < n; i++) {
            float gi = clip * g[i] + l2 * p[i];
            g[i] = lr * gi + lwd * p[i];
            bad |= nonfinite(p[i] - g[i]);
        }
        break;
    case GN_OPT_MOMENTUM:
    case GN_OPT_NESTEROV: {
        const float mu = c->momentum, nest = c->kind == GN_OPT_NESTEROV ? 1.0f : 0.0f;
        for (size_t i = 0; i < n; i++) {
            float gi = clip * g[i] + l2 * p[i];
            float v = mu * s1[i] + gi;
            s1[i] = v;
            /* momentum: lr·v; Nesterov: lr·(g + μv) */
            g[i] = lr * (nest * gi + (nest * mu + (1.0f - nest)) * v) + lwd * p[i];
            bad |= nonfinite(p[i] - g[i]);
        }
        break;
    }
    case GN_OPT_RMSPROP: {
        const float rho = c->rho, eps = c->eps;
        for (size_t i = 0; i < n; i++) {
            float gi = clip * g[i] + l2 * p[i];
            float s = rho * s1[i] + (1.0f - rho) * gi * gi;
            s1[i] = s;
            g[i] = lr * gi / (sqrtf(s) + eps) + lwd * p[i];
            bad |= nonfinite(p[i] - g[i]);
        }
        break;
    }
    case GN_OPT_ADAM:
    case GN_OPT_ADAMW: {
        const float b1 = c->beta1, b2 = c->beta2, eps = c->eps, a1 = k->a1, b2c = k->b2c;
        for (size_t i = 0; i < n; i++) {
            float gi = clip * g[i] + l2 * p[i];
            float m = b1 * s1[i] + (1.0f - b1) * gi;
            float v = b2 * s2[i] + (1.0f - b2) * gi * gi;
            s1[i] = m;
            s2[i] = v;
            g[i] = a1 * m / (sqrtf(v) * b2c + eps) + lwd * p[i];
            bad |= nonfinite(p[i] - g[i]);
        }
        break;
    }
    }
    return bad;
}

WIDEST_SIMD static void subtract(float *restrict p, const float *restrict d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] -= d[i];
}

gn_status gn_optimizer_apply(gn_optimizer *opt, gn_net *net)
{
    if (!opt || !net)
        return net ? gn__fail(net, GN_ERR_NULL, "gn_optimizer_apply: opt is NULL") : GN_ERR_NULL;
    if (net->n_params != opt->n_params)
        return gn__fail(net, GN_ERR_DIM,
                        "gn_optimizer_apply: the optimizer is for %zu parameters, the net has %zu",
                        opt->n_params, net->n_params);
    const gn_optimizer_config *c = &opt->cfg;
    /* Σ g² in double is finite exactly when every g is (a float's square fits a double) */
    double ss = sum_squares(net->grads, net->n_params);
    if (!isfinite(ss))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_optimizer_apply: the gradient is not finite; parameters unchanged");
    double norm = sqrt(ss);
    step_coef k = {opt->lr, 1.0f, 0.0f, 0.0f};
    if (c->clip_norm > 0.0f && norm > c->clip_norm)
        k.clip = (float)(c->clip_norm / norm);
    /* Unclipped, every g² must be a float (the second moments hold them). Only a norm² beyond
     * FLT_MAX can hide such an entry, so only then are the entries looked at one by one. */
    if (k.clip == 1.0f && ss >= (double)FLT_MAX)
        for (size_t i = 0; i < net->n_params; i++)
            if (fabsf(net->grads[i]) >= 1.8446743e19f) /* 2^64: its square overflows */
                return gn__fail(net, GN_ERR_NONFINITE,
                                "gn_optimizer_apply: gradient entry %zu = %g: its square "
                                "overflows; parameters unchanged",
                                i, (double)net->grads[i]);
    uint64_t t = opt->t + 1;
    if (c->kind == GN_OPT_ADAM || c->kind == GN_OPT_ADAMW) {
        double td = (double)t;
        k.a1 = (float)(opt->lr / (1.0 - pow(c->beta1, td)));
        k.b2c = (float)(1.0 / sqrt(1.0 - pow(c->beta2, td)));
    }
    uint32_t bad = 0;
    for (size_t l = 0; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        size_t offs[2] = {ly->w_off, ly->b_off}, lens[2] = {ly->b_off - ly->w_off, ly->n_out};
        for (int part = 0; part < 2; part++) {
            size_t o = offs[part];
            bool w = part == 0;
            bad |= segment(c, &k, net->params + o, net->grads + o, opt->s1 ? opt->s1 + o : NULL,
                           opt->s2 ? opt->s2 + o : NULL, lens[part], w ? c->l2 : 0.0f,
                           w ? c->weight_decay : 0.0f);
        }
    }
    opt->t = t;
    if (bad)
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_optimizer_apply: the update would overflow; parameters unchanged");
    subtract(net->params, net->grads, net->n_params);
    return GN_OK;
}

/* Plain SGD takes the fused update of gn_net_train_step. */
static bool plain_sgd(const gn_optimizer_config *c)
{
    return c->kind == GN_OPT_SGD && c->l2 == 0.0f && c->weight_decay == 0.0f &&
           c->clip_norm == 0.0f;
}

gn_status gn__optimizer_step_prepared(gn_optimizer *opt, gn_net *net, const float *X, size_t ldx,
                                      const float *Y, size_t ldy, size_t m, size_t total,
                                      double *loss)
{
    if (net->n_params != opt->n_params)
        return gn__fail(net, GN_ERR_DIM,
                        "gn_optimizer_step: the optimizer is for %zu parameters, the net has %zu",
                        opt->n_params, net->n_params);
    if (plain_sgd(&opt->cfg)) {
        gn_status st = gn__sgd_step(net, X, ldx, Y, ldy, m, total, opt->lr, loss);
        if (st == GN_OK)
            opt->t++;
        return st;
    }
    if (net->has_reducer) {
        double mean = NAN;
        gn_status st =
            gn__backprop_reduced(net, "gn_optimizer_step", X, ldx, Y, ldy, m, total, &mean);
        if (loss)
            *loss = mean;
        return st == GN_OK ? gn_optimizer_apply(opt, net) : st;
    }
    double mean = gn__backprop(net, X, ldx, Y, ldy, m) / (double)m;
    if (loss)
        *loss = mean;
    if (!isfinite(mean))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_optimizer_step: the batch loss is not finite; parameters unchanged");
    return gn_optimizer_apply(opt, net);
}

gn_status gn_optimizer_step(gn_optimizer *opt, gn_net *net, const float *X, size_t ldx,
                            const float *Y, size_t ldy, size_t m, double *loss)
{
    gn_status st = gn__check_batch(net, "gn_optimizer_step", X, ldx, Y, ldy, true, m, true);
    if (st != GN_OK)
        return st;
    if (!opt)
        return gn__fail(net, GN_ERR_NULL, "gn_optimizer_step: opt is NULL");
    gn__autotune(net, m, false);
    gn__prepare(net, &X, &ldx, &Y, &ldy, m);
    return gn__optimizer_step_prepared(opt, net, X, ldx, Y, ldy, m, 0, loss);
}
