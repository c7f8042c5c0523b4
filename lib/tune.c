/* gn_net_tune: each product of each layer timed on every available sgemm backend, the
 * fastest kept per product, then whole steps timed with that mix and with each single
 * backend, the fastest kept: the libraries' thread pools (OpenBLAS's pthreads, OpenMP's for
 * oneDNN and libxsmm) can slow each other down when products alternate between them.
 *
 * Everything runs on the network's own buffers: the stand-in batch is written into the
 * input and target buffers of the workspace, the products write the activations, deltas and
 * gradients, and the parameters are only read. The decisions are remembered for the process
 * (keyed by the shapes, the batch, the threads and the backends available), so a second
 * network of the same shapes is not measured again and gets the same choice: two such
 * networks then compute bit for bit alike. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* A measurement takes the median of its timed calls, repeated until it has MIN_SECONDS and
 * at least MIN_REPS of them (at most MAX_REPS): the median, not the minimum, because an
 * OpenMP team that is sometimes awake and sometimes not makes a backend fast once in a while
 * and slow as a rule. A call slower than SLOW_CALL is timed once (its first call, JIT and
 * thread start-up included, is then a small part of it), which bounds the cost for large
 * networks to about one call per product and backend. */
#define MIN_SECONDS 2e-3
#define MIN_REPS    5
#define MAX_REPS    64
#define SLOW_CALL   20e-3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

typedef struct product {
    gn_trans ta, tb;
    size_t m, n, k;
    float alpha;
    const float *A;
    size_t lda;
    const float *B;
    size_t ldb;
    float *C;
    size_t ldc;
} product;

/* Seconds per call of run(arg): the median of the timed calls, after an untimed first call
 * unless that first call was slow. */
static double timed(void (*run)(void *), void *arg)
{
    double t0 = now();
    run(arg);
    double first = now() - t0;
    if (first > SLOW_CALL)
        return first;
    double t[MAX_REPS], spent = 0;
    int r = 0;
    while (r < MAX_REPS && (r < MIN_REPS || spent < MIN_SECONDS)) {
        t0 = now();
        run(arg);
        t[r] = now() - t0;
        spent += t[r++];
    }
    return median(t, r);
}

typedef struct product_run {
    gn_backend be;
    const product *p;
} product_run;

static void run_product(void *arg)
{
    const product_run *r = arg;
    const product *p = r->p;
    gn__gemm(GN_IMPL_BLAS, r->be, p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->A, p->lda, p->B,
             p->ldb, 0.0f, p->C, p->ldc);
}

static double time_product(gn_backend be, const product *p)
{
    product_run r = {be, p};
    return timed(run_product, &r);
}

typedef struct step_run {
    gn_net *net;
    size_t m;
} step_run;

/* One back-propagation of the stand-in batch with the layers' current choice. */
static void run_step(void *arg)
{
    const step_run *r = arg;
    gn_net *net = r->net;
    gn__backprop(net, net->xbuf, net->layers[0].n_in, net->ybuf,
                 net->layers[net->n_layers - 1].n_out, r->m);
}

static double time_step(gn_net *net, size_t m)
{
    step_run r = {net, m};
    return timed(run_step, &r);
}

/* The three products of layer l (0-based) for a batch of m, as the training step runs them
 * (the weight product into the gradient buffer, alpha = 1/m, beta = 0). */
static product layer_product(gn_net *net, size_t l, gn_product which, size_t m)
{
    const gn_layer *ly = &net->layers[l];
    const float *W = net->params + ly->w_off;
    const float *prev = l > 0 ? net->acts[l - 1] : net->xbuf;
    switch (which) {
    case GN_PRODUCT_FORWARD:
        return (product){GN_NOTRANS, GN_NOTRANS, ly->n_out, m,        ly->n_in,     1.0f,
                         W,          ly->n_out,  prev,      ly->n_in, net->acts[l], ly->n_out};
    case GN_PRODUCT_DELTA:
        return (product){
            GN_TRANS, GN_NOTRANS, ly->n_in,       m,         ly->n_out,          1.0f,
            W,        ly->n_out,  net->deltas[l], ly->n_out, net->deltas[l - 1], ly->n_in};
    case GN_PRODUCT_WEIGHT:
    default:
        return (product){GN_NOTRANS,
                         GN_TRANS,
                         ly->n_out,
                         ly->n_in,
                         m,
                         1.0f / (float)m,
                         net->deltas[l],
                         ly->n_out,
                         prev,
                         ly->n_in,
                         net->grads + ly->w_off,
                         ly->n_out};
    }
}

/*---- the process-wide memo of decisions ----*/

#define MEMO_SLOTS  64
#define MEMO_LAYERS 32

typedef struct memo {
    bool used;
    size_t n_layers, batch, sizes[MEMO_LAYERS + 1];
    int threads;
    unsigned available; /* bit b: backend b was a candidate */
    gn_backend be[MEMO_LAYERS][GN_PRODUCT_COUNT];
} memo;

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static memo memos[MEMO_SLOTS];
static size_t memo_next; /* the slot to overwrite when all are used */

static bool memo_matches(const memo *e, const gn_net *net, size_t batch, int threads,
                         unsigned available)
{
    if (!e->used || e->n_layers != net->n_layers || e->batch != batch || e->threads != threads ||
        e->available != available)
        return false;
    for (size_t l = 0; l < net->n_layers; l++)
        if (e->sizes[l] != net->layers[l].n_in)
            return false;
    return e->sizes[net->n_layers] == net->layers[net->n_layers - 1].n_out;
}

/* Copies a remembered decision into the network; false if there is none. */
static bool memo_recall(gn_net *net, size_t batch, int threads, unsigned available)
{
    if (net->n_layers > MEMO_LAYERS)
        return false;
    bool found = false;
    pthread_mutex_lock(&memo_lock);
    for (size_t i = 0; i < MEMO_SLOTS && !found; i++)
        if (memo_matches(&memos[i], net, batch, threads, available)) {
            for (size_t l = 0; l < net->n_layers; l++)
                for (int p = 0; p < GN_PRODUCT_COUNT; p++)
                    net->layers[l].be[p] = memos[i].be[l][p];
            found = true;
        }
    pthread_mutex_unlock(&memo_lock);
    return found;
}

static void memo_store(const gn_net *net, size_t batch, int threads, unsigned available)
{
    if (net->n_layers > MEMO_LAYERS)
        return;
    pthread_mutex_lock(&memo_lock);
    size_t slot = MEMO_SLOTS;
    for (size_t i = 0; i < MEMO_SLOTS && slot == MEMO_SLOTS; i++)
        if (!memos[i].used || memo_matches(&memos[i], net, batch, threads, available))
            slot = i;
    if (slot == MEMO_SLOTS)
        slot = memo_next++ % MEMO_SLOTS;
    memo *e = &memos[slot];
    e->used = true;
    e->n_layers = net->n_layers;
    e->batch = batch;
    e->threads = threads;
    e->available = available;
    for (size_t l = 0; l < net->n_layers; l++) {
        e->sizes[l] = net->layers[l].n_in;
        for (int p = 0; p < GN_PRODUCT_COUNT; p++)
            e->be[l][p] = net->layers[l].be[p];
    }
    e->sizes[net->n_layers] = net->layers[net->n_layers - 1].n_out;
    pthread_mutex_unlock(&memo_lock);
}

/*---- tuning ----*/

/* A stand-in batch that keeps every activation and loss finite: inputs in [−1, 1], targets 0
 * (valid for every loss: a probability vector may be all zero for the timing's purposes). */
static void stand_in_batch(gn_net *net, size_t m)
{
    size_t n0 = net->layers[0].n_in, nL = net->layers[net->n_layers - 1].n_out;
    for (size_t i = 0; i < n0 * m; i++)
        net->xbuf[i] = (float)((int)(i * 2654435761u % 2001u) - 1000) * 1e-3f;
    for (size_t i = 0; i < nL * m; i++)
        net->ybuf[i] = 0.0f;
}

static void set_all(gn_net *net, gn_backend b)
{
    for (size_t l = 0; l < net->n_layers; l++)
        for (int p = 0; p < GN_PRODUCT_COUNT; p++)
            net->layers[l].be[p] = b;
}

/* The single backend whose whole steps are fastest (its time in *t); the net is left on it. */
static gn_backend fastest_single(gn_net *net, size_t m, const gn_backend *cand, int n_cand,
                                 double *t)
{
    gn_backend best_b = cand[0];
    *t = INFINITY;
    for (int c = 0; c < n_cand; c++) {
        set_all(net, cand[c]);
        double tc = time_step(net, m);
        if (tc < *t)
            *t = tc, best_b = cand[c];
    }
    set_all(net, best_b);
    return best_b;
}

static void measure(gn_net *net, size_t m, const gn_backend *cand, int n_cand)
{
    size_t L = net->n_layers;
    double t_single;
    if (L > MEMO_LAYERS) { /* too deep to keep a copy of the mix: the fastest single backend */
        fastest_single(net, m, cand, n_cand, &t_single);
        return;
    }
    /* Per product: layer 1 has no delta product in training; it keeps OpenBLAS. */
    for (size_t l = 0; l < L; l++) {
        net->layers[l].be[GN_PRODUCT_DELTA] = GN_BACKEND_OPENBLAS;
        for (int p = 0; p < GN_PRODUCT_COUNT; p++) {
            if (p == GN_PRODUCT_DELTA && l == 0)
                continue;
            product pr = layer_product(net, l, (gn_product)p, m);
            double best = INFINITY;
            for (int c = 0; c < n_cand; c++) {
                double t = time_product(cand[c], &pr);
                if (t < best) {
                    best = t;
                    net->layers[l].be[p] = cand[c];
                }
            }
        }
    }
    /* Then whole steps: the mix against every single backend, since products alternate in a
     * step and the thread pools of different runtimes get in each other's way. */
    gn_backend mix[MEMO_LAYERS][GN_PRODUCT_COUNT];
    for (size_t l = 0; l < L; l++)
        for (int p = 0; p < GN_PRODUCT_COUNT; p++)
            mix[l][p] = net->layers[l].be[p];
    double t_mix = time_step(net, m);
    fastest_single(net, m, cand, n_cand, &t_single);
    if (t_mix <= t_single) /* a tie keeps the mix */
        for (size_t l = 0; l < L; l++)
            for (int p = 0; p < GN_PRODUCT_COUNT; p++)
                net->layers[l].be[p] = mix[l][p];
}

gn_status gn_net_tune(gn_net *net, size_t batch)
{
    if (!net)
        return GN_ERR_NULL;
    if (batch == 0 || batch > net->max_batch)
        return gn__fail(net, GN_ERR_ARG, "gn_net_tune: batch %zu is not in [1, %zu]", batch,
                        net->max_batch);
    int threads = gn_get_threads();
    net->tuned_batch = batch;
    net->tuned_threads = threads;
    if (net->backend != GN_BACKEND_AUTO || net->impl != GN_IMPL_BLAS)
        return GN_OK;
    gn_backend cand[GN_BACKEND_COUNT];
    int n_cand = 0;
    unsigned available = 0;
    for (int b = GN_BACKEND_OPENBLAS; b < GN_BACKEND_COUNT; b++)
        if (gn_backend_available((gn_backend)b)) {
            cand[n_cand++] = (gn_backend)b;
            available |= 1u << b;
        }
    if (n_cand == 1) {
        set_all(net, GN_BACKEND_OPENBLAS);
        return GN_OK;
    }
    if (memo_recall(net, batch, threads, available))
        return GN_OK;
    gn_rng saved = net->rng; /* dropout masks of the timed steps must not show in training */
    stand_in_batch(net, batch);
    set_all(net, GN_BACKEND_OPENBLAS); /* one pass fills the activations and deltas */
    run_step(&(step_run){net, batch});
    measure(net, batch, cand, n_cand);
    net->rng = saved;
    memo_store(net, batch, threads, available);
    return GN_OK;
}

void gn__autotune(gn_net *net, size_t m, bool always)
{
    if (!net || net->backend != GN_BACKEND_AUTO || net->impl != GN_IMPL_BLAS || m == 0 ||
        m > net->max_batch)
        return;
    bool stale = net->tuned_batch == 0 || net->tuned_threads != gn_get_threads() ||
                 (always && net->tuned_batch != m);
    if (stale)
        gn_net_tune(net, m);
}
