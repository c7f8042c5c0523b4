/* Standardisation that belongs to the model: inputs scaled on the way in, regression outputs
 * mapped back on the way out. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* dst (rows × m, ld = rows) := columns idx[j] (or j) of src, optionally (x − mean) · (1/std)
 * with scale = [mean | 1/std | std]. */
static void copy_columns(float *dst, const float *src, size_t ld, size_t rows, const size_t *idx,
                         size_t m, const float *scale)
{
    for (size_t j = 0; j < m; j++) {
        const float *restrict s = src + (idx ? idx[j] : j) * ld;
        float *restrict d = dst + j * rows;
        if (!scale) {
            memcpy(d, s, rows * sizeof *d);
            continue;
        }
        const float *restrict mu = scale, *restrict inv = scale + rows;
#pragma omp simd
        for (size_t i = 0; i < rows; i++)
            d[i] = (s[i] - mu[i]) * inv[i];
    }
}

/* copy_columns for a matrix whose samples are rows (feature i at src + i·ld, contiguous over
 * the samples): one feature at a time, so consecutive samples are consecutive reads. */
static void copy_rows(float *dst, const float *src, size_t ld, size_t rows, const size_t *idx,
                      size_t m, const float *scale)
{
    for (size_t i = 0; i < rows; i++) {
        const float *restrict s = src + i * ld;
        float mu = scale ? scale[i] : 0.0f, inv = scale ? scale[rows + i] : 1.0f;
        for (size_t j = 0; j < m; j++) {
            float v = s[idx ? idx[j] : j];
            dst[i + j * rows] = scale ? (v - mu) * inv : v;
        }
    }
}

void gn__gather(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                const size_t *idx, size_t m)
{
    gn__gather_layout(net, GN_SAMPLES_IN_COLUMNS, X, ldx, Y, ldy, idx, m);
}

void gn__gather_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx, const float *Y,
                       size_t ldy, const size_t *idx, size_t m)
{
    void (*copy)(float *, const float *, size_t, size_t, const size_t *, size_t, const float *) =
        layout == GN_SAMPLES_IN_ROWS ? copy_rows : copy_columns;
    if (X)
        copy(net->xbuf, X, ldx, gn_net_n_inputs(net), idx, m, net->in_scale);
    if (Y)
        copy(net->ybuf, Y, ldy, gn_net_n_outputs(net), idx, m, net->out_scale);
}

void gn__prepare(gn_net *net, const float **X, size_t *ldx, const float **Y, size_t *ldy, size_t m)
{
    if (net->in_scale) {
        size_t n0 = gn_net_n_inputs(net);
        copy_columns(net->xbuf, *X, *ldx, n0, NULL, m, net->in_scale);
        *X = net->xbuf;
        *ldx = n0;
    }
    if (Y && *Y && net->out_scale) {
        size_t nL = gn_net_n_outputs(net);
        copy_columns(net->ybuf, *Y, *ldy, nL, NULL, m, net->out_scale);
        *Y = net->ybuf;
        *ldy = nL;
    }
}

void gn__unscale_outputs(const gn_net *net, float *A, size_t ld, size_t m)
{
    if (!net->out_scale)
        return;
    size_t n = gn_net_n_outputs(net);
    const float *mu = net->out_scale, *sd = net->out_scale + 2 * n;
    for (size_t j = 0; j < m; j++) {
        float *restrict a = A + j * ld;
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            a[i] = a[i] * sd[i] + mu[i];
    }
}

gn_status gn__make_scaling(gn_net *net, const char *fn, size_t n, const float *mean,
                           const float *std, float **out)
{
    *out = NULL;
    if (!mean || !std)
        return gn__fail(net, GN_ERR_NULL, "%s: %s is NULL (pass both or neither)", fn,
                        !mean ? "mean" : "std");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(mean[i]))
            return gn__fail(net, GN_ERR_ARG, "%s: mean[%zu] = %g is not finite", fn, i,
                            (double)mean[i]);
        /* 1/std must be finite too, so subnormal std values are rejected */
        if (!isfinite(std[i]) || !(std[i] > 0.0f) || !isfinite(1.0f / std[i]))
            return gn__fail(net, GN_ERR_ARG,
                            "%s: std[%zu] = %g is not finite and positive with a finite inverse",
                            fn, i, (double)std[i]);
    }
    size_t count;
    float *s = mul_ok(n, 3, &count) ? gn__alloc_floats(count) : NULL;
    if (!s)
        return gn__fail(net, GN_ERR_NOMEM, "%s: out of memory", fn);
    for (size_t i = 0; i < n; i++) {
        s[i] = mean[i];
        s[n + i] = 1.0f / std[i];
        s[2 * n + i] = std[i];
    }
    *out = s;
    return GN_OK;
}

/* Validates and installs a new scaling at *slot (the old one is freed only on success). */
static gn_status set_scaling(gn_net *net, const char *fn, float **slot, size_t n, const float *mean,
                             const float *std)
{
    float *s = NULL;
    if (mean || std) {
        gn_status st = gn__make_scaling(net, fn, n, mean, std, &s);
        if (st != GN_OK)
            return st;
    }
    gn__free(*slot);
    *slot = s;
    return GN_OK;
}

gn_status gn_net_set_input_scaling(gn_net *net, const float *mean, const float *std)
{
    if (!net)
        return GN_ERR_NULL;
    return set_scaling(net, "gn_net_set_input_scaling", &net->in_scale, gn_net_n_inputs(net), mean,
                       std);
}

gn_status gn_net_set_output_scaling(gn_net *net, const float *mean, const float *std)
{
    if (!net)
        return GN_ERR_NULL;
    gn_act out = gn_net_layer_act(net, net->n_layers);
    if ((mean || std) &&
        (out == GN_ACT_SOFTMAX || net->loss == GN_LOSS_BCE || net->loss == GN_LOSS_CCE))
        return gn__fail(net, GN_ERR_UNSUPPORTED,
                        "gn_net_set_output_scaling: a classifier's targets are probabilities "
                        "and must not be rescaled");
    return set_scaling(net, "gn_net_set_output_scaling", &net->out_scale, gn_net_n_outputs(net),
                       mean, std);
}

static gn_status get_scaling(const float *s, size_t n, const float **mean, const float **std)
{
    if (!mean || !std)
        return GN_ERR_NULL;
    *mean = s ? s : NULL;
    *std = s ? s + 2 * n : NULL;
    return GN_OK;
}

gn_status gn_net_input_scaling(const gn_net *net, const float **mean, const float **std)
{
    if (!net)
        return GN_ERR_NULL;
    return get_scaling(net->in_scale, gn_net_n_inputs(net), mean, std);
}

gn_status gn_net_output_scaling(const gn_net *net, const float **mean, const float **std)
{
    if (!net)
        return GN_ERR_NULL;
    return get_scaling(net->out_scale, gn_net_n_outputs(net), mean, std);
}
