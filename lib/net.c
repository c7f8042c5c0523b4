/* Network lifecycle: configuration, allocation, initialisation, introspection. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void gn_net_config_defaults(gn_net_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->hidden_act = GN_ACT_SIGMOID;
    cfg->output_act = GN_ACT_SIGMOID;
    cfg->loss = GN_LOSS_QUADRATIC;
    cfg->init = GN_INIT_AUTO;
    cfg->seed = 1;
    cfg->max_batch = 128;
    cfg->leaky_slope = 0.01f;
    cfg->impl = GN_IMPL_BLAS;
    cfg->huber_delta = 1.0f;
}

static bool act_valid(gn_act a) { return (unsigned)a < GN_ACT_COUNT; }
static bool impl_valid(gn_impl i)
{
    return i == GN_IMPL_BLAS || i == GN_IMPL_NAIVE || i == GN_IMPL_LOOP;
}

/* Workspace: A^1…A^L, Δ^1…Δ^L, the gathered X and Y batches and, with dropout, the masks of
 * the hidden layers, in one block. */
static gn_status alloc_workspace(gn_net *net, size_t max_batch, float dropout)
{
    size_t total = 0, part;
    size_t n0 = net->layers[0].n_in, nL = net->layers[net->n_layers - 1].n_out;
    int copies = dropout > 0.0f ? 3 : 2; /* activations, deltas, masks */
    for (size_t l = 0; l < net->n_layers; l++)
        for (int c = 0; c < (l + 1 < net->n_layers ? copies : 2); c++)
            if (!mul_ok(net->layers[l].n_out, max_batch, &part) || !add_ok(total, part, &total))
                return GN_ERR_NOMEM;
    size_t extra[2] = {n0, nL};
    for (int i = 0; i < 2; i++)
        if (!mul_ok(extra[i], max_batch, &part) || !add_ok(total, part, &total))
            return GN_ERR_NOMEM;
    float *work = gn__alloc_floats(total);
    if (!work)
        return GN_ERR_NOMEM;
    gn__free(net->work);
    net->work = work;
    net->max_batch = max_batch;
    net->dropout = dropout;
    float *p = work;
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t size = net->layers[l].n_out * max_batch;
        net->acts[l] = p;
        p += size;
        net->deltas[l] = p;
        p += size;
        net->masks[l] = NULL;
        if (copies == 3 && l + 1 < net->n_layers) {
            net->masks[l] = p;
            p += size;
        }
    }
    net->xbuf = p;
    p += n0 * max_batch;
    net->ybuf = p;
    return GN_OK;
}

static const char *act_name(gn_act a)
{
    static const char *names[GN_ACT_COUNT] = {"identity",   "sigmoid", "tanh", "relu",
                                              "leaky relu", "softmax", "elu",  "softplus"};
    return act_valid(a) ? names[a] : "unknown";
}

/* The activation of layer l (1-based) as cfg specifies it: acts[] if given, else the
 * hidden/output pair. */
static gn_act layer_act(const gn_net_config *cfg, size_t l)
{
    if (cfg->acts)
        return cfg->acts[l - 1];
    return l == cfg->n_sizes - 1 ? cfg->output_act : cfg->hidden_act;
}

gn_status gn_net_config_check(const gn_net_config *cfg, char *err, size_t errlen)
{
#define REJECT(st, ...) return (gn__format(err, errlen, __VA_ARGS__), (st))
    if (err && errlen)
        err[0] = '\0';
    if (!cfg)
        REJECT(GN_ERR_NULL, "the configuration is NULL");
    if (!cfg->sizes)
        REJECT(GN_ERR_NULL, "sizes is NULL");
    if (cfg->n_sizes < 2 || cfg->n_sizes > GN_MAX_SIZES)
        REJECT(GN_ERR_ARG, "n_sizes = %zu: need between 2 and %d layer sizes", cfg->n_sizes,
               GN_MAX_SIZES);
    for (size_t i = 0; i < cfg->n_sizes; i++)
        if (cfg->sizes[i] == 0 || cfg->sizes[i] > GN_MAX_WIDTH)
            REJECT(GN_ERR_ARG, "sizes[%zu] = %zu: widths must be in [1, %zu]", i, cfg->sizes[i],
                   GN_MAX_WIDTH);
    if (cfg->max_batch == 0 || cfg->max_batch > INT_MAX)
        REJECT(GN_ERR_ARG, "max_batch = %zu: must be in [1, INT_MAX]", cfg->max_batch);
    if ((unsigned)cfg->loss >= GN_LOSS_COUNT)
        REJECT(GN_ERR_ARG, "unknown loss %d", (int)cfg->loss);
    if ((unsigned)cfg->init >= GN_INIT_COUNT)
        REJECT(GN_ERR_ARG, "unknown init scheme %d", (int)cfg->init);
    if (!impl_valid(cfg->impl))
        REJECT(GN_ERR_ARG, "unknown implementation %d", (int)cfg->impl);
    if (!cfg->acts && (!act_valid(cfg->hidden_act) || !act_valid(cfg->output_act)))
        REJECT(GN_ERR_ARG, "unknown activation %d",
               (int)(act_valid(cfg->hidden_act) ? cfg->output_act : cfg->hidden_act));
    if (!isfinite(cfg->huber_delta) || !(cfg->huber_delta > 0.0f))
        REJECT(GN_ERR_ARG, "huber_delta = %g: must be finite and positive",
               (double)cfg->huber_delta);
    if (!isfinite(cfg->leaky_slope) || cfg->leaky_slope < 0.0f || cfg->leaky_slope >= 1.0f)
        REJECT(GN_ERR_ARG, "leaky_slope = %g: must be finite and in [0, 1)",
               (double)cfg->leaky_slope);
    size_t L = cfg->n_sizes - 1;
    for (size_t l = 1; l <= L; l++) {
        gn_act a = layer_act(cfg, l);
        if (!act_valid(a))
            REJECT(GN_ERR_ARG, "layer %zu: unknown activation %d", l, (int)a);
        if (a == GN_ACT_SOFTMAX && l != L)
            REJECT(GN_ERR_ARG, "layer %zu: softmax is allowed on the output layer only", l);
    }
    gn_act out = layer_act(cfg, L);
    if (cfg->loss == GN_LOSS_BCE && out != GN_ACT_SIGMOID)
        REJECT(GN_ERR_UNSUPPORTED, "binary cross-entropy needs a sigmoid output layer, not %s",
               act_name(out));
    if (cfg->loss == GN_LOSS_CCE && out != GN_ACT_SOFTMAX)
        REJECT(GN_ERR_UNSUPPORTED, "categorical cross-entropy needs a softmax output layer, not %s",
               act_name(out));
    if (out == GN_ACT_SOFTMAX && cfg->sizes[L] < 2)
        REJECT(GN_ERR_UNSUPPORTED, "a softmax output needs at least 2 units, not %zu",
               cfg->sizes[L]);
    gn_backend be; /* GN_BACKEND's, if set, must be a backend this build has */
    return gn__backend_resolve(&be, err, errlen);
#undef REJECT
}

gn_status gn_net_create(gn_net **out, const gn_net_config *cfg)
{
    if (!out)
        return GN_ERR_NULL;
    *out = NULL;
    if (!cfg)
        return GN_ERR_NULL;
    gn_status st = gn_net_config_check(cfg, NULL, 0);
    if (st != GN_OK)
        return st;

    size_t L = cfg->n_sizes - 1;
    gn_net *net = calloc(1, sizeof *net);
    if (!net)
        return GN_ERR_NOMEM;
    net->n_layers = L;
    net->loss = cfg->loss;
    net->leaky_slope = cfg->leaky_slope;
    net->impl = cfg->impl;
    net->huber_delta = cfg->huber_delta;
    net->layers = calloc(L, sizeof *net->layers);
    net->acts = calloc(L, sizeof *net->acts);
    net->deltas = calloc(L, sizeof *net->deltas);
    net->masks = calloc(L, sizeof *net->masks);
    if (!net->layers || !net->acts || !net->deltas || !net->masks) {
        gn_net_free(net);
        return GN_ERR_NOMEM;
    }
    size_t off = 0, w;
    for (size_t l = 1; l <= L; l++) {
        gn_layer *ly = &net->layers[l - 1];
        ly->n_in = cfg->sizes[l - 1];
        ly->n_out = cfg->sizes[l];
        ly->act = layer_act(cfg, l);
        ly->w_off = off;
        if (!mul_ok(ly->n_out, ly->n_in, &w) || !add_ok(off, w, &off)) {
            gn_net_free(net);
            return GN_ERR_NOMEM;
        }
        ly->b_off = off;
        if (!add_ok(off, ly->n_out, &off)) {
            gn_net_free(net);
            return GN_ERR_NOMEM;
        }
    }
    net->n_params = off;
    net->params = gn__alloc_floats(off);
    net->grads = gn__alloc_floats(off);
    if (!net->params || !net->grads || alloc_workspace(net, cfg->max_batch, 0.0f) != GN_OK) {
        gn_net_free(net);
        return GN_ERR_NOMEM;
    }
    if (gn_net_init_params(net, cfg->init, cfg->seed) != GN_OK) { /* orthogonal: no memory */
        gn_net_free(net);
        return GN_ERR_NOMEM;
    }
    gn_backend be = GN_BACKEND_OPENBLAS;
    gn__backend_resolve(&be, NULL, 0); /* succeeded in gn_net_config_check */
    gn__backend_apply(net, be);
    *out = net;
    return GN_OK;
}

void gn_net_free(gn_net *net)
{
    if (!net)
        return;
    gn__free(net->work);
    gn__free(net->params);
    gn__free(net->grads);
    gn__free(net->in_scale);
    gn__free(net->out_scale);
    free(net->masks);
    free(net->acts);
    free(net->deltas);
    free(net->layers);
    free(net);
}

gn_status gn_net_init_params(gn_net *net, gn_init init, uint64_t seed)
{
    if (!net)
        return GN_ERR_NULL;
    if ((unsigned)init >= GN_INIT_COUNT)
        return gn__fail(net, GN_ERR_ARG, "gn_net_init_params: unknown init scheme %d", (int)init);
    if (init == GN_INIT_ORTHOGONAL) /* QR factorisations: lapack.c */
        return gn__init_orthogonal(net, seed);
    gn_rng_seed(&net->rng, seed);
    for (size_t l = 0; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        float *W = net->params + ly->w_off, *b = net->params + ly->b_off;
        size_t nw = ly->n_out * ly->n_in;
        gn_init scheme = init;
        if (scheme == GN_INIT_AUTO)
            scheme = ly->act == GN_ACT_RELU || ly->act == GN_ACT_LEAKY_RELU || ly->act == GN_ACT_ELU
                         ? GN_INIT_HE
                         : GN_INIT_XAVIER;
        if (scheme == GN_INIT_XAVIER) {
            double r = sqrt(6.0 / (double)(ly->n_in + ly->n_out));
            for (size_t i = 0; i < nw; i++)
                W[i] = (float)(r * (2.0 * gn_rng_uniform(&net->rng) - 1.0));
        } else {
            double sd = scheme == GN_INIT_HE ? sqrt(2.0 / (double)ly->n_in) : 1.0;
            for (size_t i = 0; i < nw; i++)
                W[i] = (float)(sd * gn_rng_normal(&net->rng));
        }
        for (size_t i = 0; i < ly->n_out; i++)
            b[i] = scheme == GN_INIT_NIELSEN ? (float)gn_rng_normal(&net->rng) : 0.0f;
    }
    return GN_OK;
}

gn_status gn_net_reserve(gn_net *net, size_t max_batch)
{
    if (!net)
        return GN_ERR_NULL;
    if (max_batch == 0 || max_batch > INT_MAX)
        return gn__fail(net, GN_ERR_ARG, "gn_net_reserve: max_batch = %zu: must be in [1, INT_MAX]",
                        max_batch);
    if (alloc_workspace(net, max_batch, net->dropout) != GN_OK)
        return gn__fail(net, GN_ERR_NOMEM,
                        "gn_net_reserve: cannot allocate a workspace for %zu samples", max_batch);
    return GN_OK;
}

gn_status gn_net_set_dropout(gn_net *net, float p)
{
    if (!net)
        return GN_ERR_NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return gn__fail(net, GN_ERR_ARG, "gn_net_set_dropout: p = %g is not in [0, 1)", (double)p);
    if ((p > 0.0f) == (net->dropout > 0.0f)) { /* the masks are there, or not needed */
        net->dropout = p;
        return GN_OK;
    }
    if (alloc_workspace(net, net->max_batch, p) != GN_OK)
        return gn__fail(net, GN_ERR_NOMEM, "gn_net_set_dropout: no memory for the masks");
    return GN_OK;
}

float gn_net_dropout(const gn_net *net) { return net ? net->dropout : 0.0f; }

gn_status gn_net_set_impl(gn_net *net, gn_impl impl)
{
    if (!net)
        return GN_ERR_NULL;
    if (!impl_valid(impl))
        return gn__fail(net, GN_ERR_ARG, "gn_net_set_impl: unknown implementation %d", (int)impl);
    net->impl = impl;
    return GN_OK;
}

size_t gn_net_n_layers(const gn_net *net) { return net ? net->n_layers : 0; }

size_t gn_net_layer_size(const gn_net *net, size_t l)
{
    if (!net || l > net->n_layers)
        return 0;
    return l == 0 ? net->layers[0].n_in : net->layers[l - 1].n_out;
}

gn_act gn_net_layer_act(const gn_net *net, size_t l)
{
    if (!net || l == 0 || l > net->n_layers)
        return GN_ACT_IDENTITY;
    return net->layers[l - 1].act;
}

gn_loss gn_net_loss(const gn_net *net) { return net ? net->loss : GN_LOSS_QUADRATIC; }
float gn_net_leaky_slope(const gn_net *net) { return net ? net->leaky_slope : 0.0f; }
size_t gn_net_n_inputs(const gn_net *net) { return gn_net_layer_size(net, 0); }
size_t gn_net_n_outputs(const gn_net *net)
{
    return net ? gn_net_layer_size(net, net->n_layers) : 0;
}
size_t gn_net_max_batch(const gn_net *net) { return net ? net->max_batch : 0; }
size_t gn_net_n_params(const gn_net *net) { return net ? net->n_params : 0; }
float *gn_net_params(gn_net *net) { return net ? net->params : NULL; }
float *gn_net_grads(gn_net *net) { return net ? net->grads : NULL; }

gn_status gn_net_layer_offsets(const gn_net *net, size_t l, size_t *w_offset, size_t *b_offset)
{
    if (!net || !w_offset || !b_offset)
        return GN_ERR_NULL;
    if (l == 0 || l > net->n_layers)
        return GN_ERR_ARG;
    *w_offset = net->layers[l - 1].w_off;
    *b_offset = net->layers[l - 1].b_off;
    return GN_OK;
}
