/* gemmnet_mpi: the gradient-reduction hook of gemmnet.h (gn_reducer) over MPI collectives on a
 * duplicate of the caller's communicator. Built on libgemmnet's public API only. */
#define _POSIX_C_SOURCE 200809L /* strcasecmp, strnlen */
#include "gemmnet_mpi.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Floats per collective call: MPI counts and displacements are int, so longer buffers go in
 * chunks. Every element is still summed over the ranks in the same order, so the result does
 * not depend on the chunking (tests/mpi builds a copy with a tiny chunk to prove it). */
#ifndef GN_MPI_CHUNK
#define GN_MPI_CHUNK 268435456 /* 2^28 */
#endif
#if GN_MPI_CHUNK < 1 || GN_MPI_CHUNK > INT_MAX / 2
#error "GN_MPI_CHUNK must be in [1, INT_MAX / 2]"
#endif
#define CHUNK ((size_t)GN_MPI_CHUNK)

enum {
    MSG_MAX = 1024, /* longest message an agreement carries, NUL included */
    ARCH_HEAD = 5,  /* layers, loss, leaky slope, input and output scaling flags */
    ARCH_WORDS = ARCH_HEAD + 2 * GN_MAX_SIZES, /* then the sizes n_0..n_L and the activations */
};

/* What gn_mpi_attach sets up for one network. */
typedef struct attachment {
    const float *grads;    /* the network's gradient buffer: hooks given another are refused */
    size_t n;              /* its parameter count */
    size_t n_layers;       /* L */
    float *recv;           /* ORDERED: every rank's copy of this rank's part of one chunk */
    size_t *seg;           /* OVERLAP: layer l's segment is [seg[l−1], seg[l]), seg[0] = 0 */
    size_t *first_req;     /* OVERLAP: layer l's requests start at first_req[l−1] */
    MPI_Request *reqs;     /* OVERLAP: one per chunk of each layer's segment, then the loss's */
    size_t n_reqs;         /* including the loss's */
    unsigned char *posted; /* OVERLAP: layer l's requests were started in this step */
} attachment;

struct gn_mpi {
    MPI_Comm comm; /* our duplicate, MPI_ERRORS_RETURN */
    int rank, size;
    gn_mpi_reduction how;
    double *gathered;       /* size doubles: one value per rank (losses, gn_mpi_sum) */
    int *counts, *displs;   /* ORDERED: each rank's part of a chunk */
    int *rcounts, *rdispls; /* ORDERED: where each rank's copy of this rank's part goes */
    attachment at;          /* the attached network's buffers (all NULL before attach) */
};

/*---- errors ----*/

static void format(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* An MPI call's result as a status, with MPI's own text in err (may be NULL). */
static gn_status mpi_status(int rc, const char *call, char *err, size_t errlen)
{
    if (rc == MPI_SUCCESS)
        return GN_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", rc);
    format(err, errlen, "gemmnet_mpi: %s failed: %s", call, text);
    return GN_ERR_IO;
}

/*---- allocation ----*/

static void *alloc_bytes(size_t count, size_t size)
{
    if (count == 0)
        count = 1;
    if (count > SIZE_MAX / size - 64)
        return NULL;
    size_t bytes = (count * size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static void free_attachment(attachment *a)
{
    free(a->recv);
    free(a->seg);
    free(a->first_req);
    free(a->reqs);
    free(a->posted);
    memset(a, 0, sizeof *a);
}

static size_t chunks(size_t n) { return n / CHUNK + (n % CHUNK != 0); }

/* [lo, hi) of part r of P in a buffer of len: lo = ⌊len·r/P⌋, without forming len·r. */
static void part(size_t len, size_t r, size_t p, size_t *lo, size_t *hi)
{
    size_t q = len / p, rem = len % p;
    *lo = q * r + rem * r / p;
    *hi = q * (r + 1) + rem * (r + 1) / p;
}

/* The buffers of mpi's reduction for net, in *a. */
static gn_status alloc_attachment(const gn_mpi *mpi, gn_net *net, attachment *a)
{
    memset(a, 0, sizeof *a);
    a->grads = gn_net_grads(net);
    a->n = gn_net_n_params(net);
    a->n_layers = gn_net_n_layers(net);
    size_t p = (size_t)mpi->size;
    if (mpi->how == GN_MPI_ORDERED && p > 1) {
        size_t len = a->n < CHUNK ? a->n : CHUNK;
        size_t most = len / p + (len % p != 0); /* the largest part */
        if (most > SIZE_MAX / p || !(a->recv = alloc_bytes(most * p, sizeof *a->recv)))
            return GN_ERR_NOMEM;
    }
    if (mpi->how == GN_MPI_OVERLAP) {
        size_t L = a->n_layers;
        a->seg = alloc_bytes(L + 1, sizeof *a->seg);
        a->first_req = alloc_bytes(L + 1, sizeof *a->first_req);
        a->posted = alloc_bytes(L, 1);
        if (!a->seg || !a->first_req || !a->posted)
            return GN_ERR_NOMEM;
        size_t reqs = 0;
        for (size_t l = 1; l <= L; l++) {
            size_t w_off, b_off;
            if (gn_net_layer_offsets(net, l, &w_off, &b_off) != GN_OK)
                return GN_ERR_ARG;
            a->seg[l] = b_off + gn_net_layer_size(net, l); /* W^l then b^l, then the next */
            a->first_req[l - 1] = reqs;
            reqs += chunks(a->seg[l] - a->seg[l - 1]);
        }
        a->first_req[L] = reqs;
        a->n_reqs = reqs + 1;
        if (!(a->reqs = alloc_bytes(a->n_reqs, sizeof *a->reqs)))
            return GN_ERR_NOMEM;
        for (size_t i = 0; i < a->n_reqs; i++)
            a->reqs[i] = MPI_REQUEST_NULL;
    }
    return GN_OK;
}

/*---- agreement ----*/

/* The agreement of gn_mpi_agree on any communicator: the lowest failing rank (MINLOC over
 * (0 if failed else 1, rank)) broadcasts its status and message. text is MSG_MAX bytes. */
static gn_status agree_on(MPI_Comm comm, int rank, gn_status status, char *msg, size_t len,
                          char *text)
{
    int in[2] = {status != GN_OK ? 0 : 1, rank}, out[2];
    int rc = MPI_Allreduce(in, out, 1, MPI_2INT, MPI_MINLOC, comm);
    if (rc != MPI_SUCCESS)
        return mpi_status(rc, "MPI_Allreduce (agreement)", msg, len);
    if (out[0] == 1)
        return GN_OK;
    int root = out[1], agreed = status;
    if (rank == root) {
        size_t n = msg && len > 0 ? strnlen(msg, len) : 0;
        if (n > MSG_MAX - 1)
            n = MSG_MAX - 1;
        memcpy(text, msg ? msg : "", n);
        text[n] = '\0';
    }
    rc = MPI_Bcast(&agreed, 1, MPI_INT, root, comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Bcast(text, MSG_MAX, MPI_CHAR, root, comm);
    if (rc != MPI_SUCCESS)
        return mpi_status(rc, "MPI_Bcast (agreement)", msg, len);
    text[MSG_MAX - 1] = '\0';
    if (rank != root)
        format(msg, len, "%s", text);
    return (gn_status)agreed;
}

gn_status gn_mpi_agree(gn_mpi *mpi, gn_status status, char *msg, size_t len)
{
    if (!mpi)
        return GN_ERR_NULL;
    char text[MSG_MAX];
    return agree_on(mpi->comm, mpi->rank, status, msg, len, text);
}

/*---- the hooks ----*/

static bool attached(const gn_mpi *mpi, const float *grads, size_t n)
{
    return grads && grads == mpi->at.grads && n == mpi->at.n;
}

/* Rank-ordered sum: chunk by chunk, every rank gets all copies of its part (Alltoallv), adds
 * them in rank order, and the sums are gathered back in place (Allgatherv). */
static gn_status reduce_ordered(void *user, float *grads, size_t n, double *loss)
{
    gn_mpi *mpi = user;
    if (!attached(mpi, grads, n))
        return GN_ERR_ARG;
    if (mpi->size == 1)
        return GN_OK;
    size_t p = (size_t)mpi->size, me = (size_t)mpi->rank;
    for (size_t c0 = 0; c0 < n; c0 += CHUNK) {
        size_t len = n - c0 < CHUNK ? n - c0 : CHUNK, lo, hi, mine_lo, mine_hi;
        part(len, me, p, &mine_lo, &mine_hi);
        int mine = (int)(mine_hi - mine_lo);
        for (size_t r = 0; r < p; r++) {
            part(len, r, p, &lo, &hi);
            mpi->counts[r] = (int)(hi - lo);
            mpi->displs[r] = (int)lo;
            mpi->rcounts[r] = mine;
            mpi->rdispls[r] = (int)r * mine;
        }
        float *chunk = grads + c0, *recv = mpi->at.recv;
        int rc = MPI_Alltoallv(chunk, mpi->counts, mpi->displs, MPI_FLOAT, recv, mpi->rcounts,
                               mpi->rdispls, MPI_FLOAT, mpi->comm);
        if (rc != MPI_SUCCESS)
            return mpi_status(rc, "MPI_Alltoallv", NULL, 0);
        /* ((g_0 + g_1) + g_2) + … element by element, the same on every rank and in every run */
        float *restrict dst = chunk + mine_lo;
        size_t m = (size_t)mine;
        memcpy(dst, recv, m * sizeof *dst);
        for (size_t r = 1; r < p; r++) {
            const float *restrict src = recv + r * m;
            for (size_t i = 0; i < m; i++)
                dst[i] += src[i];
        }
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, chunk, mpi->counts, mpi->displs,
                            MPI_FLOAT, mpi->comm);
        if (rc != MPI_SUCCESS)
            return mpi_status(rc, "MPI_Allgatherv", NULL, 0);
    }
    return gn_mpi_sum(mpi, *loss, loss);
}

/* The MPI library's all-reduce of floats in place, in chunks. */
static int allreduce_floats(gn_mpi *mpi, float *x, size_t n)
{
    for (size_t c0 = 0; c0 < n; c0 += CHUNK) {
        size_t len = n - c0 < CHUNK ? n - c0 : CHUNK;
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + c0, (int)len, MPI_FLOAT, MPI_SUM, mpi->comm);
        if (rc != MPI_SUCCESS)
            return rc;
    }
    return MPI_SUCCESS;
}

static gn_status reduce_allreduce(void *user, float *grads, size_t n, double *loss)
{
    gn_mpi *mpi = user;
    if (!attached(mpi, grads, n))
        return GN_ERR_ARG;
    int rc = allreduce_floats(mpi, grads, n);
    if (rc != MPI_SUCCESS)
        return mpi_status(rc, "MPI_Allreduce", NULL, 0);
    rc = MPI_Allreduce(MPI_IN_PLACE, loss, 1, MPI_DOUBLE, MPI_SUM, mpi->comm);
    return mpi_status(rc, "MPI_Allreduce (loss)", NULL, 0);
}

/* Starts the sums of layer l's segment (l is 1-based), then lets MPI progress what is
 * outstanding: libraries without an asynchronous progress thread move a non-blocking
 * collective forward only inside MPI calls, and this is called between backward products. */
static gn_status post_layer(gn_mpi *mpi, float *grads, size_t l)
{
    attachment *a = &mpi->at;
    size_t lo = a->seg[l - 1], hi = a->seg[l];
    MPI_Request *req = a->reqs + a->first_req[l - 1];
    for (size_t c0 = lo; c0 < hi; c0 += CHUNK, req++) {
        size_t len = hi - c0 < CHUNK ? hi - c0 : CHUNK;
        int rc =
            MPI_Iallreduce(MPI_IN_PLACE, grads + c0, (int)len, MPI_FLOAT, MPI_SUM, mpi->comm, req);
        if (rc != MPI_SUCCESS)
            return mpi_status(rc, "MPI_Iallreduce", NULL, 0);
    }
    a->posted[l - 1] = 1;
    int done;
    int rc = MPI_Testall((int)a->first_req[a->n_layers], a->reqs, &done, MPI_STATUSES_IGNORE);
    return mpi_status(rc, "MPI_Testall", NULL, 0);
}

static gn_status reduce_layer_overlap(void *user, size_t l, float *grads, size_t offset, size_t n)
{
    gn_mpi *mpi = user;
    attachment *a = &mpi->at;
    if (!a->grads || grads != a->grads || l < 1 || l > a->n_layers || a->posted[l - 1] ||
        offset != a->seg[l - 1] || n != a->seg[l] - offset)
        return GN_ERR_ARG;
    return post_layer(mpi, grads, l);
}

static gn_status reduce_overlap(void *user, float *grads, size_t n, double *loss)
{
    gn_mpi *mpi = user;
    attachment *a = &mpi->at;
    if (!attached(mpi, grads, n))
        return GN_ERR_ARG;
    gn_status st = GN_OK;
    /* layers whose reduce_layer was not called (from the top, as back-propagation goes) */
    for (size_t l = a->n_layers; l > 0 && st == GN_OK; l--)
        if (!a->posted[l - 1])
            st = post_layer(mpi, grads, l);
    if (st != GN_OK)
        return st;
    memset(a->posted, 0, a->n_layers);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, loss, 1, MPI_DOUBLE, MPI_SUM, mpi->comm,
                            &a->reqs[a->n_reqs - 1]);
    if (rc != MPI_SUCCESS)
        return mpi_status(rc, "MPI_Iallreduce (loss)", NULL, 0);
    rc = MPI_Waitall((int)a->n_reqs, a->reqs, MPI_STATUSES_IGNORE);
    return mpi_status(rc, "MPI_Waitall", NULL, 0);
}

static gn_status batch_total(void *user, size_t m, size_t *total)
{
    gn_mpi *mpi = user;
    uint64_t mine = m, sum = 0;
    int rc = MPI_Allreduce(&mine, &sum, 1, MPI_UINT64_T, MPI_SUM, mpi->comm);
    if (rc != MPI_SUCCESS)
        return mpi_status(rc, "MPI_Allreduce (batch size)", NULL, 0);
    if (sum > SIZE_MAX)
        return GN_ERR_NOMEM;
    *total = (size_t)sum;
    return GN_OK;
}

static gn_status agree_hook(void *user, gn_status status, char *msg, size_t len)
{
    return gn_mpi_agree(user, status, msg, len);
}

/* Rank 0's bytes everywhere (the core's choices and validation figures: a few bytes). */
static gn_status broadcast_hook(void *user, void *buf, size_t bytes)
{
    gn_mpi *mpi = user;
    if (bytes > INT_MAX)
        return GN_ERR_DIM;
    int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, mpi->comm);
    return mpi_status(rc, "MPI_Bcast", NULL, 0);
}

/*---- names ----*/

static const char *const names[GN_MPI_REDUCTION_COUNT] = {"ordered", "allreduce", "overlap"};

const char *gn_mpi_reduction_name(gn_mpi_reduction how)
{
    return (unsigned)how < GN_MPI_REDUCTION_COUNT ? names[how] : "unknown";
}

gn_status gn_mpi_reduction_parse(const char *name, gn_mpi_reduction *out)
{
    if (!name || !out)
        return GN_ERR_NULL;
    for (int i = 0; i < GN_MPI_REDUCTION_COUNT; i++)
        if (!strcasecmp(name, names[i])) {
            *out = (gn_mpi_reduction)i;
            return GN_OK;
        }
    return GN_ERR_ARG;
}

/*---- the context ----*/

static void free_context(gn_mpi *mpi)
{
    free_attachment(&mpi->at);
    free(mpi->gathered);
    free(mpi->counts);
    free(mpi->displs);
    free(mpi->rcounts);
    free(mpi->rdispls);
    free(mpi);
}

gn_status gn_mpi_create(gn_mpi **out, MPI_Comm comm, gn_mpi_reduction how, char *err, size_t errlen)
{
    format(err, errlen, "%s", "");
    if (!out) {
        format(err, errlen, "gn_mpi_create: out is NULL");
        return GN_ERR_NULL;
    }
    *out = NULL;
    int init = 0, fini = 0;
    if (MPI_Initialized(&init) != MPI_SUCCESS || MPI_Finalized(&fini) != MPI_SUCCESS || !init ||
        fini) {
        format(err, errlen, "gn_mpi_create: MPI is not initialised (or already finalised)");
        return GN_ERR_ARG;
    }
    if (comm == MPI_COMM_NULL) {
        format(err, errlen, "gn_mpi_create: the communicator is MPI_COMM_NULL");
        return GN_ERR_ARG;
    }
    MPI_Comm dup;
    int rc = MPI_Comm_dup(comm, &dup);
    if (rc != MPI_SUCCESS)
        return mpi_status(rc, "MPI_Comm_dup", err, errlen);
    int rank = 0, size = 1;
    if ((rc = MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
        (rc = MPI_Comm_rank(dup, &rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(dup, &size)) != MPI_SUCCESS) {
        gn_status st = mpi_status(rc, "setting up the duplicated communicator", err, errlen);
        MPI_Comm_free(&dup);
        return st;
    }
    /* Local failures are agreed on, so that no rank returns while the others go on. */
    char msg[MSG_MAX] = "", text[MSG_MAX];
    gn_status st = GN_OK;
    gn_mpi *mpi = NULL;
    if ((unsigned)how >= GN_MPI_REDUCTION_COUNT) {
        st = GN_ERR_ARG;
        snprintf(msg, sizeof msg, "gn_mpi_create: rank %d: unknown reduction %d", rank, (int)how);
    } else if (!(mpi = calloc(1, sizeof *mpi)) ||
               !(mpi->gathered = alloc_bytes((size_t)size, sizeof *mpi->gathered)) ||
               !(mpi->counts = alloc_bytes((size_t)size, sizeof(int))) ||
               !(mpi->displs = alloc_bytes((size_t)size, sizeof(int))) ||
               !(mpi->rcounts = alloc_bytes((size_t)size, sizeof(int))) ||
               !(mpi->rdispls = alloc_bytes((size_t)size, sizeof(int)))) {
        st = GN_ERR_NOMEM;
        snprintf(msg, sizeof msg, "gn_mpi_create: rank %d is out of memory", rank);
    }
    gn_status agreed = agree_on(dup, rank, st, msg, sizeof msg, text);
    if (agreed == GN_OK) { /* the same reduction everywhere, or the collectives would not match */
        int in[2] = {(int)how, -(int)how}, lim[2];
        rc = MPI_Allreduce(in, lim, 2, MPI_INT, MPI_MIN, dup);
        if (rc != MPI_SUCCESS) {
            agreed = mpi_status(rc, "MPI_Allreduce", msg, sizeof msg);
        } else if (lim[0] != -lim[1]) {
            agreed = GN_ERR_ARG;
            snprintf(msg, sizeof msg,
                     "gn_mpi_create: the ranks asked for different reductions (%s and %s)",
                     gn_mpi_reduction_name((gn_mpi_reduction)lim[0]),
                     gn_mpi_reduction_name((gn_mpi_reduction)-lim[1]));
        }
    }
    if (agreed != GN_OK) {
        format(err, errlen, "%s", msg);
        if (mpi)
            free_context(mpi);
        MPI_Comm_free(&dup);
        return agreed;
    }
    mpi->comm = dup;
    mpi->rank = rank;
    mpi->size = size;
    mpi->how = how;
    *out = mpi;
    return GN_OK;
}

void gn_mpi_free(gn_mpi *mpi)
{
    if (!mpi)
        return;
    int fini = 1;
    if (MPI_Finalized(&fini) == MPI_SUCCESS && !fini)
        MPI_Comm_free(&mpi->comm);
    free_context(mpi);
}

int gn_mpi_rank(const gn_mpi *mpi) { return mpi ? mpi->rank : -1; }
int gn_mpi_size(const gn_mpi *mpi) { return mpi ? mpi->size : 0; }
gn_mpi_reduction gn_mpi_reduction_of(const gn_mpi *mpi) { return mpi ? mpi->how : GN_MPI_ORDERED; }

gn_status gn_mpi_sum(gn_mpi *mpi, double x, double *sum)
{
    if (!mpi || !sum)
        return GN_ERR_NULL;
    int rc = MPI_Allgather(&x, 1, MPI_DOUBLE, mpi->gathered, 1, MPI_DOUBLE, mpi->comm);
    if (rc != MPI_SUCCESS)
        return mpi_status(rc, "MPI_Allgather", NULL, 0);
    double s = mpi->gathered[0];
    for (int r = 1; r < mpi->size; r++)
        s += mpi->gathered[r];
    *sum = s;
    return GN_OK;
}

gn_status gn_mpi_max(gn_mpi *mpi, double x, double *max)
{
    if (!mpi || !max)
        return GN_ERR_NULL;
    int rc = MPI_Allreduce(&x, max, 1, MPI_DOUBLE, MPI_MAX, mpi->comm);
    return mpi_status(rc, "MPI_Allreduce", NULL, 0);
}

/*---- attach ----*/

/* What must match across ranks, in ARCH_WORDS words (the scaling flags ride along). */
static void describe(gn_net *net, uint64_t *d)
{
    memset(d, 0, ARCH_WORDS * sizeof *d);
    if (!net)
        return;
    size_t L = gn_net_n_layers(net);
    float slope = gn_net_leaky_slope(net);
    uint32_t bits;
    memcpy(&bits, &slope, sizeof bits);
    const float *mean, *std;
    d[0] = L;
    d[1] = (uint64_t)gn_net_loss(net);
    d[2] = bits;
    d[3] = gn_net_input_scaling(net, &mean, &std) == GN_OK && mean;
    d[4] = gn_net_output_scaling(net, &mean, &std) == GN_OK && mean;
    for (size_t l = 0; l <= L && l < GN_MAX_SIZES; l++)
        d[ARCH_HEAD + l] = gn_net_layer_size(net, l);
    for (size_t l = 1; l <= L && l < GN_MAX_SIZES; l++)
        d[ARCH_HEAD + GN_MAX_SIZES + l] = (uint64_t)gn_net_layer_act(net, l);
}

/* Explains the first architectural difference of mine from root's in msg; 0 if none. */
static int differs(const uint64_t *root, const uint64_t *mine, int rank, char *msg, size_t len)
{
    const char *pre = "gn_mpi_attach: the network of rank";
    if (mine[0] != root[0]) {
        snprintf(msg, len, "%s %d has %llu layers, rank 0's %llu", pre, rank,
                 (unsigned long long)mine[0], (unsigned long long)root[0]);
        return 1;
    }
    for (size_t l = 0; l <= mine[0] && l < GN_MAX_SIZES; l++)
        if (mine[ARCH_HEAD + l] != root[ARCH_HEAD + l]) {
            snprintf(msg, len, "%s %d has %llu units in layer %zu, rank 0's %llu", pre, rank,
                     (unsigned long long)mine[ARCH_HEAD + l], l,
                     (unsigned long long)root[ARCH_HEAD + l]);
            return 1;
        }
    for (size_t l = 1; l <= mine[0] && l < GN_MAX_SIZES; l++)
        if (mine[ARCH_HEAD + GN_MAX_SIZES + l] != root[ARCH_HEAD + GN_MAX_SIZES + l]) {
            snprintf(msg, len, "%s %d has activation %llu in layer %zu, rank 0's %llu", pre, rank,
                     (unsigned long long)mine[ARCH_HEAD + GN_MAX_SIZES + l], l,
                     (unsigned long long)root[ARCH_HEAD + GN_MAX_SIZES + l]);
            return 1;
        }
    if (mine[1] != root[1]) {
        snprintf(msg, len, "%s %d has loss %llu, rank 0's %llu", pre, rank,
                 (unsigned long long)mine[1], (unsigned long long)root[1]);
        return 1;
    }
    if (mine[2] != root[2]) {
        float a, b;
        uint32_t x = (uint32_t)mine[2], y = (uint32_t)root[2];
        memcpy(&a, &x, sizeof a);
        memcpy(&b, &y, sizeof b);
        snprintf(msg, len, "%s %d has leaky slope %.9g, rank 0's %.9g", pre, rank, (double)a,
                 (double)b);
        return 1;
    }
    return 0;
}

/* Broadcasts n floats from rank 0, in chunks. */
static int bcast_floats(gn_mpi *mpi, float *x, size_t n)
{
    for (size_t c0 = 0; c0 < n; c0 += CHUNK) {
        size_t len = n - c0 < CHUNK ? n - c0 : CHUNK;
        int rc = MPI_Bcast(x + c0, (int)len, MPI_FLOAT, 0, mpi->comm);
        if (rc != MPI_SUCCESS)
            return rc;
    }
    return MPI_SUCCESS;
}

/* Rank 0's input and output scaling into every rank's net (set, or removed), through tmp
 * (2·(n_in + n_out) floats: mean and std of the inputs, then of the outputs). */
static gn_status share_scaling(gn_mpi *mpi, gn_net *net, const uint64_t *root, float *tmp,
                               char *msg, size_t len)
{
    size_t ni = gn_net_n_inputs(net), no = gn_net_n_outputs(net);
    float *in = tmp, *out = tmp + 2 * ni;
    const float *mean, *std;
    if (mpi->rank == 0) {
        if (root[3] && gn_net_input_scaling(net, &mean, &std) == GN_OK) {
            memcpy(in, mean, ni * sizeof *in);
            memcpy(in + ni, std, ni * sizeof *in);
        }
        if (root[4] && gn_net_output_scaling(net, &mean, &std) == GN_OK) {
            memcpy(out, mean, no * sizeof *out);
            memcpy(out + no, std, no * sizeof *out);
        }
    }
    if (root[3] || root[4]) {
        int rc = bcast_floats(mpi, tmp, 2 * (ni + no));
        if (rc != MPI_SUCCESS)
            return mpi_status(rc, "MPI_Bcast (scaling)", msg, len);
    }
    if (mpi->rank == 0)
        return GN_OK;
    gn_status st = gn_net_set_input_scaling(net, root[3] ? in : NULL, root[3] ? in + ni : NULL);
    if (st == GN_OK)
        st = gn_net_set_output_scaling(net, root[4] ? out : NULL, root[4] ? out + no : NULL);
    if (st != GN_OK)
        snprintf(msg, len, "gn_mpi_attach: rank %d could not take rank 0's scaling: %s", mpi->rank,
                 gn_net_last_error(net));
    return st;
}

gn_status gn_mpi_attach(gn_mpi *mpi, gn_net *net, char *err, size_t errlen)
{
    format(err, errlen, "%s", "");
    if (!mpi) {
        format(err, errlen, "gn_mpi_attach: mpi is NULL");
        return GN_ERR_NULL;
    }
    char msg[MSG_MAX] = "", text[MSG_MAX];
    gn_status st = GN_OK;
    int rc;

    /* 1. The same architecture everywhere: rank 0's description against each rank's. */
    uint64_t mine[ARCH_WORDS], root[ARCH_WORDS];
    describe(net, mine);
    memcpy(root, mine, sizeof root);
    if ((rc = MPI_Bcast(root, ARCH_WORDS, MPI_UINT64_T, 0, mpi->comm)) != MPI_SUCCESS) {
        st = mpi_status(rc, "MPI_Bcast (architecture)", err, errlen);
        return st;
    }
    if (!net) {
        st = GN_ERR_NULL;
        snprintf(msg, sizeof msg, "gn_mpi_attach: the network of rank %d is NULL", mpi->rank);
    } else if (differs(root, mine, mpi->rank, msg, sizeof msg)) {
        st = GN_ERR_DIM;
    }
    if ((st = agree_on(mpi->comm, mpi->rank, st, msg, sizeof msg, text)) != GN_OK) {
        format(err, errlen, "%s", msg);
        return st;
    }

    /* 2. Everything this attachment needs, allocated before anything changes. */
    attachment a;
    size_t ni = gn_net_n_inputs(net), no = gn_net_n_outputs(net);
    float *tmp = alloc_bytes(2 * (ni + no), sizeof *tmp);
    st = alloc_attachment(mpi, net, &a);
    if (st == GN_OK && !tmp)
        st = GN_ERR_NOMEM;
    if (st != GN_OK)
        snprintf(msg, sizeof msg, "gn_mpi_attach: rank %d: %s for the reduction buffers", mpi->rank,
                 st == GN_ERR_NOMEM ? "out of memory" : gn_strerror(st));
    if ((st = agree_on(mpi->comm, mpi->rank, st, msg, sizeof msg, text)) != GN_OK)
        goto fail;

    /* 3. Rank 0's scaling (a local failure, e.g. no memory, is agreed on too). */
    st = share_scaling(mpi, net, root, tmp, msg, sizeof msg);
    if (st == GN_ERR_IO)
        goto fail;
    if ((st = agree_on(mpi->comm, mpi->rank, st, msg, sizeof msg, text)) != GN_OK)
        goto fail;

    /* 4. Rank 0's parameters and RNG: every rank starts from the same model and shuffles. */
    gn_rng *rng = gn_net_rng(net);
    if ((rc = bcast_floats(mpi, gn_net_params(net), gn_net_n_params(net))) != MPI_SUCCESS ||
        (rc = MPI_Bcast(rng->s, 4, MPI_UINT64_T, 0, mpi->comm)) != MPI_SUCCESS) {
        st = mpi_status(rc, "MPI_Bcast (parameters)", msg, sizeof msg);
        goto fail;
    }

    /* 5. The hooks, on this context's new buffers (a network attached before is detached:
     *    its gradient buffer is not the one the hooks accept). */
    gn_reducer r = {0};
    r.rank = (size_t)mpi->rank;
    r.workers = (size_t)mpi->size;
    r.reduce = mpi->how == GN_MPI_ORDERED     ? reduce_ordered
               : mpi->how == GN_MPI_ALLREDUCE ? reduce_allreduce
                                              : reduce_overlap;
    r.reduce_layer = mpi->how == GN_MPI_OVERLAP ? reduce_layer_overlap : NULL;
    r.batch_total = batch_total;
    r.agree = agree_hook;
    r.broadcast = broadcast_hook;
    r.user = mpi;
    if ((st = gn_net_set_reducer(net, &r)) != GN_OK) {
        snprintf(msg, sizeof msg, "gn_mpi_attach: %s", gn_net_last_error(net));
        goto fail;
    }
    free_attachment(&mpi->at);
    mpi->at = a;
    free(tmp);
    return GN_OK;

fail:
    format(err, errlen, "%s", msg);
    free_attachment(&a);
    free(tmp);
    return st;
}
