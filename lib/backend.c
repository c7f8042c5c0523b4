/* The sgemm backends as a whole: names, availability, and each network's choice (forced or
 * measured, see tune.c). The products themselves are dispatched in blas.c. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *const names[GN_BACKEND_COUNT] = {"auto", "openblas", "onednn", "libxsmm"};

const char *gn_backend_name(gn_backend b)
{
    return (unsigned)b < GN_BACKEND_COUNT ? names[b] : "unknown";
}

gn_status gn_backend_parse(const char *name, gn_backend *out)
{
    if (!name || !out)
        return GN_ERR_NULL;
    for (int b = 0; b < GN_BACKEND_COUNT; b++)
        if (!strcasecmp(name, names[b])) {
            *out = (gn_backend)b;
            return GN_OK;
        }
    return GN_ERR_ARG;
}

int gn_backend_available(gn_backend b)
{
    switch (b) {
    case GN_BACKEND_AUTO:
    case GN_BACKEND_OPENBLAS: return 1;
#ifdef GN_HAVE_ONEDNN
    case GN_BACKEND_ONEDNN: return gn__onednn_usable();
#endif
#ifdef GN_HAVE_LIBXSMM
    case GN_BACKEND_LIBXSMM: return gn__xsmm_usable();
#endif
    default: return 0;
    }
}

/* GN_ERR_ARG for a value that is no backend, GN_ERR_UNSUPPORTED for one this build or CPU
 * lacks, each explained in err. */
static gn_status check_backend(gn_backend b, char *err, size_t errlen)
{
    if ((unsigned)b >= GN_BACKEND_COUNT) {
        gn__format(err, errlen, "unknown backend %d", (int)b);
        return GN_ERR_ARG;
    }
    if (!gn_backend_available(b)) {
        gn__format(err, errlen, "backend %s is not available in this build or on this CPU",
                   gn_backend_name(b));
        return GN_ERR_UNSUPPORTED;
    }
    return GN_OK;
}

gn_status gn__backend_resolve(gn_backend *out, char *err, size_t errlen)
{
    gn_backend b = GN_BACKEND_AUTO;
    const char *env = getenv("GN_BACKEND");
    if (env && *env && gn_backend_parse(env, &b) != GN_OK) {
        gn__format(err, errlen, "GN_BACKEND=%s: not a backend (auto, openblas, onednn or libxsmm)",
                   env);
        return GN_ERR_ARG;
    }
    char why[128];
    gn_status st = check_backend(b, why, sizeof why);
    if (st != GN_OK) {
        gn__format(err, errlen, "GN_BACKEND: %s", why);
        return st;
    }
    *out = b;
    return GN_OK;
}

void gn__backend_apply(gn_net *net, gn_backend b)
{
    net->backend = b;
    net->tuned_batch = 0;
    gn_backend each = b == GN_BACKEND_AUTO ? GN_BACKEND_OPENBLAS : b;
    for (size_t l = 0; l < net->n_layers; l++)
        for (int p = 0; p < GN_PRODUCT_COUNT; p++)
            net->layers[l].be[p] = each;
}

gn_status gn_net_set_backend(gn_net *net, gn_backend b)
{
    if (!net)
        return GN_ERR_NULL;
    char why[128];
    gn_status st = check_backend(b, why, sizeof why);
    if (st != GN_OK)
        return gn__fail(net, st, "gn_net_set_backend: %s", why);
    gn__backend_apply(net, b);
    return GN_OK;
}

gn_backend gn_net_backend(const gn_net *net) { return net ? net->backend : GN_BACKEND_AUTO; }

size_t gn_net_tuned_batch(const gn_net *net) { return net ? net->tuned_batch : 0; }

gn_backend gn_net_layer_backend(const gn_net *net, size_t l, gn_product p)
{
    if (!net || l < 1 || l > net->n_layers || (unsigned)p >= GN_PRODUCT_COUNT)
        return GN_BACKEND_AUTO;
    return net->layers[l - 1].be[p];
}

/* snprintf into buf at *used, which keeps counting past len (the full length is returned). */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) GN_PRINTF(4, 5);
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = buf && *used < len ? buf + *used : NULL;
    int n = vsnprintf(at, at ? len - *used : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

size_t gn_net_describe_backends(const gn_net *net, char *buf, size_t len)
{
    if (buf && len > 0)
        buf[0] = '\0';
    if (!net)
        return 0;
    size_t used = 0;
    if (net->impl != GN_IMPL_BLAS) {
        append(buf, len, &used, "reference loops (%s)",
               net->impl == GN_IMPL_NAIVE ? "textbook" : "cache-friendly");
        return used;
    }
    if (net->backend != GN_BACKEND_AUTO) {
        append(buf, len, &used, "%s (forced)", gn_backend_name(net->backend));
        return used;
    }
    if (net->tuned_batch == 0) {
        append(buf, len, &used, "auto, not tuned yet (openblas until the first training batch)");
        return used;
    }
    append(buf, len, &used, "auto, tuned for batch %zu:", net->tuned_batch);
    for (size_t l = 0; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        append(buf, len, &used, "%s layer %zu %s/%s/%s", l ? "," : "", l + 1,
               gn_backend_name(ly->be[GN_PRODUCT_FORWARD]),
               l ? gn_backend_name(ly->be[GN_PRODUCT_DELTA]) : "-",
               gn_backend_name(ly->be[GN_PRODUCT_WEIGHT]));
    }
    return used;
}
