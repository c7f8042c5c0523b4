/* Data-parallel training through the gradient-reduction hook (gn_reducer), without any
 * transport: P workers are P threads, each with its own copy of the network, and the reducer
 * sums their buffers in rank order behind a barrier. Expected values come from one worker
 * training alone, or from gn_net_backprop on the whole batch. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "measures.h"
#include "testutil.h"

/* lib/reduce.c, reached through the library's objects */
void gn__shard(const gn_net *net, size_t b, size_t *lo, size_t *hi);

/*---- a reducer over threads ----*/

enum { MAX_WORKERS = 4 };

typedef struct group {
    size_t workers;
    pthread_barrier_t barrier;
    float *bufs[MAX_WORKERS];
    double losses[MAX_WORKERS];
    gn_status statuses[MAX_WORKERS];
    char msgs[MAX_WORKERS][256];
    size_t ms[MAX_WORKERS];
    /* what the hooks saw, per worker */
    size_t layer_calls[MAX_WORKERS], layer_order[MAX_WORKERS][8];
    size_t reduce_calls[MAX_WORKERS], agree_calls[MAX_WORKERS];
    int layer_not_final[MAX_WORKERS]; /* a segment changed between reduce_layer and reduce */
    float *seen[MAX_WORKERS];         /* copies of the segments handed to reduce_layer */
    size_t fail_reduce_on;            /* worker whose reduce fails (MAX_WORKERS: none) */
    void *shared;                     /* worker 0's buffer in a broadcast */
    size_t broadcasts[MAX_WORKERS];
} group;

typedef struct worker {
    group *g;
    size_t rank;
} worker;

static void group_init(group *g, size_t workers)
{
    memset(g, 0, sizeof *g);
    g->workers = workers;
    g->fail_reduce_on = MAX_WORKERS;
    cr_assert_eq(pthread_barrier_init(&g->barrier, NULL, (unsigned)workers), 0);
}

static void group_fini(group *g)
{
    pthread_barrier_destroy(&g->barrier);
    for (size_t r = 0; r < MAX_WORKERS; r++)
        free(g->seen[r]);
}

/* Sum in rank order 0, 1, …, P−1 into a private copy, then everyone copies: every worker
 * gets the same bits. */
static gn_status sum_reduce(void *user, float *grads, size_t n, double *loss)
{
    worker *w = user;
    group *g = w->g;
    g->reduce_calls[w->rank]++;
    if (g->seen[w->rank] && g->layer_calls[w->rank] > 0 &&
        memcmp(g->seen[w->rank], grads, n * sizeof *grads) != 0)
        g->layer_not_final[w->rank] = 1;
    if (w->rank == g->fail_reduce_on)
        return GN_ERR_IO;
    g->bufs[w->rank] = grads;
    g->losses[w->rank] = *loss;
    pthread_barrier_wait(&g->barrier);
    float *sum = malloc(n * sizeof *sum);
    cr_assert_not_null(sum);
    for (size_t i = 0; i < n; i++) {
        float s = g->bufs[0][i];
        for (size_t r = 1; r < g->workers; r++)
            s += g->bufs[r][i];
        sum[i] = s;
    }
    double l = g->losses[0];
    for (size_t r = 1; r < g->workers; r++)
        l += g->losses[r];
    pthread_barrier_wait(&g->barrier); /* everyone has read every buffer */
    memcpy(grads, sum, n * sizeof *grads);
    *loss = l;
    free(sum);
    pthread_barrier_wait(&g->barrier);
    return GN_OK;
}

/* Records the order and keeps a copy of each segment, to check later that it was final. */
static gn_status record_layer(void *user, size_t l, float *grads, size_t offset, size_t n)
{
    worker *w = user;
    group *g = w->g;
    size_t k = g->layer_calls[w->rank]++;
    if (k < 8)
        g->layer_order[w->rank][k] = l;
    if (g->seen[w->rank])
        memcpy(g->seen[w->rank] + offset, grads + offset, n * sizeof *grads);
    return GN_OK;
}

static gn_status sum_batch(void *user, size_t m, size_t *total)
{
    worker *w = user;
    group *g = w->g;
    g->ms[w->rank] = m;
    pthread_barrier_wait(&g->barrier);
    size_t t = 0;
    for (size_t r = 0; r < g->workers; r++)
        t += g->ms[r];
    pthread_barrier_wait(&g->barrier);
    *total = t;
    return GN_OK;
}

/* The lowest-ranked failure wins, with its message. */
static gn_status first_failure(void *user, gn_status st, char *msg, size_t len)
{
    worker *w = user;
    group *g = w->g;
    g->agree_calls[w->rank]++;
    g->statuses[w->rank] = st;
    snprintf(g->msgs[w->rank], sizeof g->msgs[w->rank], "%s", msg);
    pthread_barrier_wait(&g->barrier);
    gn_status out = GN_OK;
    for (size_t r = 0; r < g->workers && out == GN_OK; r++)
        if (g->statuses[r] != GN_OK) {
            out = g->statuses[r];
            snprintf(msg, len, "worker %zu: %s", r, g->msgs[r]);
        }
    pthread_barrier_wait(&g->barrier);
    return out;
}

/* Worker 0's bytes to everyone. */
static gn_status copy_from_zero(void *user, void *buf, size_t bytes)
{
    worker *w = user;
    group *g = w->g;
    if (w->rank == 0)
        g->shared = buf;
    pthread_barrier_wait(&g->barrier);
    if (w->rank != 0)
        memcpy(buf, g->shared, bytes);
    g->broadcasts[w->rank]++;
    pthread_barrier_wait(&g->barrier);
    return GN_OK;
}

static gn_reducer make_reducer(worker *w, size_t rank, size_t workers)
{
    gn_reducer r = {0};
    r.rank = rank;
    r.workers = workers;
    r.reduce = sum_reduce;
    r.reduce_layer = record_layer;
    r.batch_total = sum_batch;
    r.agree = first_failure;
    r.broadcast = copy_from_zero;
    r.user = w;
    return r;
}

/*---- data and networks ----*/

enum { N_IN = 6, N_HID = 12, N_OUT = 3 };
static const size_t sizes[] = {N_IN, N_HID, N_HID, N_OUT};

typedef struct problem {
    size_t n;
    float *X, *Y;
} problem;

static problem make_problem(size_t n, uint64_t seed)
{
    problem p = {n, random_floats(N_IN * n, -1.0f, 1.0f, seed), random_onehot(N_OUT, n, seed + 1)};
    cr_assert(p.X && p.Y);
    return p;
}

static gn_net *tanh_net(size_t max_batch)
{
    gn_net_config cfg = net_config(sizes, 4, NULL, GN_LOSS_CCE, max_batch, 42);
    cfg.hidden_act = GN_ACT_TANH;
    cfg.output_act = GN_ACT_SOFTMAX;
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    /* the reduced path must not depend on which backend a tuner picks per worker */
    cr_assert_eq(gn_net_set_backend(net, GN_BACKEND_OPENBLAS), GN_OK);
    return net;
}

/*---- one fit per worker, in threads ----*/

typedef struct fit_job {
    worker w;
    const problem *data;
    gn_fit_options opt;
    gn_net *net;
    gn_status status;
    gn_fit_result result;
    char err[256];
    size_t max_batch;
    int bad_sample;     /* make this worker's copy of the data non-finite at sample 0 */
    const problem *val; /* a validation set of this worker's, or NULL */
    gn_backend backend; /* forced on this worker (GN_BACKEND_AUTO: openblas, as tanh_net) */
    char path[160];     /* this worker's checkpoint path, if set */
} fit_job;

static void *run_fit(void *arg)
{
    fit_job *j = arg;
    j->net = tanh_net(j->max_batch);
    if (j->backend != GN_BACKEND_AUTO)
        cr_assert_eq(gn_net_set_backend(j->net, j->backend), GN_OK);
    if (j->path[0])
        j->opt.checkpoint_path = j->path;
    gn_reducer r = make_reducer(&j->w, j->w.rank, j->w.g->workers);
    cr_assert_eq(gn_net_set_reducer(j->net, &r), GN_OK);
    float *X = malloc(N_IN * j->data->n * sizeof *X);
    cr_assert_not_null(X);
    memcpy(X, j->data->X, N_IN * j->data->n * sizeof *X);
    if (j->bad_sample)
        X[0] = NAN;
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_wrap(&ds, X, N_IN, j->data->Y, N_OUT, N_IN, N_OUT, j->data->n), GN_OK);
    gn_dataset *vs = NULL;
    if (j->val)
        cr_assert_eq(
            gn_dataset_wrap(&vs, j->val->X, N_IN, j->val->Y, N_OUT, N_IN, N_OUT, j->val->n), GN_OK);
    j->status = gn_net_fit(j->net, ds, vs, &j->opt, &j->result);
    snprintf(j->err, sizeof j->err, "%s", gn_net_last_error(j->net));
    gn_dataset_free(ds);
    gn_dataset_free(vs);
    free(X);
    return NULL;
}

/* P workers fit in parallel; jobs[r].net is left for the caller to free. */
static void fit_workers(group *g, fit_job *jobs, size_t workers, const problem *p,
                        const gn_fit_options *opt)
{
    group_init(g, workers);
    pthread_t th[MAX_WORKERS];
    for (size_t r = 0; r < workers; r++) {
        jobs[r].w = (worker){g, r};
        jobs[r].data = p;
        jobs[r].opt = *opt;
        if (!jobs[r].max_batch)
            jobs[r].max_batch = opt->batch;
        cr_assert_eq(pthread_create(&th[r], NULL, run_fit, &jobs[r]), 0);
    }
    for (size_t r = 0; r < workers; r++)
        pthread_join(th[r], NULL);
}

/* The same fit on one network with no reducer. */
static gn_net *fit_alone(const problem *p, const gn_fit_options *opt, gn_fit_result *res)
{
    gn_net *net = tanh_net(opt->batch);
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_wrap(&ds, p->X, N_IN, p->Y, N_OUT, N_IN, N_OUT, p->n), GN_OK);
    cr_assert_eq(gn_net_fit(net, ds, NULL, opt, res), GN_OK, "%s", gn_net_last_error(net));
    gn_dataset_free(ds);
    return net;
}

static gn_fit_options fit_opts(gn_opt kind, float lr, size_t batch, size_t epochs)
{
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    gn_optimizer_config_defaults(&o.opt, kind);
    o.opt.lr = lr;
    o.batch = batch;
    o.epochs = epochs;
    return o;
}

/*---- tests ----*/

Test(reduce, set_and_get)
{
    gn_net *net = tanh_net(8);
    cr_assert_null(gn_net_reducer(net));
    cr_assert_null(gn_net_reducer(NULL));
    worker w = {0};
    gn_reducer r = make_reducer(&w, 1, 2);
    cr_assert_eq(gn_net_set_reducer(NULL, &r), GN_ERR_NULL);
    r.reduce = NULL;
    cr_assert_eq(gn_net_set_reducer(net, &r), GN_ERR_NULL);
    cr_assert(strstr(gn_net_last_error(net), "reduce"));
    r.reduce = sum_reduce;
    r.rank = 2;
    cr_assert_eq(gn_net_set_reducer(net, &r), GN_ERR_ARG);
    r.workers = 0;
    r.rank = 0;
    cr_assert_eq(gn_net_set_reducer(net, &r), GN_ERR_ARG);
    cr_assert_null(gn_net_reducer(net), "a refused reducer must not be set");
    r = make_reducer(&w, 1, 2);
    cr_assert_eq(gn_net_set_reducer(net, &r), GN_OK);
    const gn_reducer *got = gn_net_reducer(net);
    cr_assert_not_null(got);
    cr_assert_neq(got, &r, "the network keeps its own copy");
    cr_assert_eq(got->rank, 1);
    cr_assert_eq(got->workers, 2);
    cr_assert_eq(got->user, &w);
    cr_assert_eq(gn_net_set_reducer(net, NULL), GN_OK);
    cr_assert_null(gn_net_reducer(net));
    cr_assert_not_null(gn_net_rng(net));
    cr_assert_null(gn_net_rng(NULL));
    gn_net_free(net);
}

/* Shares are contiguous, cover the batch exactly once, in rank order, and differ by ≤ 1. */
Test(reduce, shards_partition_the_batch)
{
    gn_net *net = tanh_net(4);
    worker w = {0};
    for (size_t p = 1; p <= 7; p++)
        for (size_t b = 0; b <= 50; b++) {
            size_t next = 0, lo, hi, small = b, big = 0;
            for (size_t r = 0; r < p; r++) {
                gn_reducer red = make_reducer(&w, r, p);
                cr_assert_eq(gn_net_set_reducer(net, &red), GN_OK);
                gn__shard(net, b, &lo, &hi);
                cr_assert_eq(lo, next, "p %zu b %zu rank %zu starts at %zu", p, b, r, lo);
                cr_assert_geq(hi, lo);
                cr_assert_eq(lo, b * r / p);
                small = hi - lo < small ? hi - lo : small;
                big = hi - lo > big ? hi - lo : big;
                next = hi;
            }
            cr_assert_eq(next, b, "p %zu b %zu: the shares end at %zu", p, b, next);
            cr_assert_leq(big - small, 1);
        }
    gn_net_free(net);
}

/* A worker alone with a reducer computes what gn_net_backprop does: the same bits for an
 * optimizer step (no summation differs), with the hooks called in order L, …, 1 on final
 * segments that are exactly each layer's W and b. */
Test(reduce, one_worker_matches_plain_steps)
{
    problem p = make_problem(16, 7);
    gn_net *plain = tanh_net(16), *red = tanh_net(16);
    group g;
    group_init(&g, 1);
    g.seen[0] = calloc(gn_net_n_params(red), sizeof(float));
    worker w = {&g, 0};
    gn_reducer r = make_reducer(&w, 0, 1);
    cr_assert_eq(gn_net_set_reducer(red, &r), GN_OK);
    gn_optimizer_config oc;
    gn_optimizer_config_defaults(&oc, GN_OPT_ADAM);
    gn_optimizer *o1 = NULL, *o2 = NULL;
    cr_assert_eq(gn_optimizer_create(&o1, plain, &oc, NULL, 0), GN_OK);
    cr_assert_eq(gn_optimizer_create(&o2, red, &oc, NULL, 0), GN_OK);
    for (int step = 0; step < 5; step++) {
        double l1, l2;
        cr_assert_eq(gn_optimizer_step(o1, plain, p.X, N_IN, p.Y, N_OUT, 16, &l1), GN_OK);
        cr_assert_eq(gn_optimizer_step(o2, red, p.X, N_IN, p.Y, N_OUT, 16, &l2), GN_OK);
        cr_assert_eq(l1, l2, "step %d: loss %.17g vs %.17g", step, l1, l2);
    }
    size_t n = gn_net_n_params(red);
    cr_assert_eq(memcmp(gn_net_params(plain), gn_net_params(red), n * sizeof(float)), 0);
    cr_assert_eq(g.reduce_calls[0], 5);
    cr_assert_eq(g.layer_calls[0], 5 * 3);
    cr_assert_eq(g.layer_order[0][0], 3);
    cr_assert_eq(g.layer_order[0][1], 2);
    cr_assert_eq(g.layer_order[0][2], 1);
    cr_assert_not(g.layer_not_final[0], "a segment changed after reduce_layer");
    /* the segments handed over cover the buffer exactly: the copy equals it at reduce time,
     * and gn_net_backprop's gradient is the same */
    double loss;
    cr_assert_eq(gn_net_backprop(plain, p.X, N_IN, p.Y, N_OUT, 16, &loss), GN_OK);
    double l2;
    gn_optimizer *o3 = NULL;
    gn_optimizer_config_defaults(&oc, GN_OPT_RMSPROP);
    cr_assert_eq(gn_optimizer_create(&o3, red, &oc, NULL, 0), GN_OK);
    cr_assert_eq(gn_optimizer_step(o3, red, p.X, N_IN, p.Y, N_OUT, 16, &l2), GN_OK);
    cr_assert_eq(loss, l2);
    cr_assert_eq(memcmp(g.seen[0], gn_net_grads(plain), n * sizeof(float)), 0,
                 "the reduced path's gradient differs from gn_net_backprop's");
    gn_optimizer_free(o1);
    gn_optimizer_free(o2);
    gn_optimizer_free(o3);
    gn_net_free(plain);
    gn_net_free(red);
    group_fini(&g);
    free(p.X);
    free(p.Y);
}

/* P workers fitting together stay bit-identical to each other, and equal one worker fitting
 * alone up to the order of summation. The tolerance: each step's gradient differs from the
 * single worker's by a few float roundings of its size (the products sum the same terms in
 * another order), and 3 epochs of 12 steps at this learning rate on a tanh net keep that
 * from growing by more than a small factor; 1e-5 of the largest weight is ≈ 100 float
 * ulps of it, while a real error (a share counted twice, a missing layer, a wrong 1/M)
 * moves weights by ≥ 1e-3 of it. */
static void check_workers(size_t workers, gn_opt kind, float lr, size_t batch, size_t n)
{
    problem p = make_problem(n, 99);
    gn_fit_options o = fit_opts(kind, lr, batch, 3);
    gn_fit_result alone_res;
    gn_net *alone = fit_alone(&p, &o, &alone_res);
    group g;
    fit_job jobs[MAX_WORKERS] = {0};
    fit_workers(&g, jobs, workers, &p, &o);
    size_t np = gn_net_n_params(alone);
    const float *ref = gn_net_params(alone);
    double scale = max_abs(ref, np);
    for (size_t r = 0; r < workers; r++) {
        cr_assert_eq(jobs[r].status, GN_OK, "worker %zu: %s", r, jobs[r].err);
        cr_assert_eq(jobs[r].result.epochs, 3);
        cr_assert_eq(jobs[r].result.samples, alone_res.samples);
        cr_assert_eq(
            memcmp(gn_net_params(jobs[r].net), gn_net_params(jobs[0].net), np * sizeof(float)), 0,
            "worker %zu's weights differ from worker 0's", r);
        cr_assert_eq(jobs[r].result.train_loss, jobs[0].result.train_loss);
        /* the agreement after setup and after each of the 3 epochs */
        cr_assert_eq(g.agree_calls[r], 4);
    }
    double d = max_abs_diff(gn_net_params(jobs[0].net), ref, np);
    cr_assert_leq(d, 1e-5 * scale, "%zu workers vs one: max |Δw| = %g (max |w| = %g)", workers, d,
                  scale);
    cr_assert_lt(rel_err(jobs[0].result.train_loss, alone_res.train_loss), 1e-5);
    /* and it did train: the weights moved */
    gn_net *init = tanh_net(batch);
    cr_assert_gt(max_abs_diff(gn_net_params(init), ref, np), 100.0 * 1e-5 * scale);
    gn_net_free(init);
    for (size_t r = 0; r < workers; r++)
        gn_net_free(jobs[r].net);
    gn_net_free(alone);
    group_fini(&g);
    free(p.X);
    free(p.Y);
}

Test(reduce, two_workers_sgd) { check_workers(2, GN_OPT_SGD, 0.1f, 16, 192); }
Test(reduce, two_workers_adam) { check_workers(2, GN_OPT_ADAM, 0.003f, 16, 192); }
/* 3 workers on batches of 10 (shares 3, 3, 4) and a last batch of 2 (one share empty) */
Test(reduce, three_workers_uneven) { check_workers(3, GN_OPT_MOMENTUM, 0.05f, 10, 122); }
Test(reduce, four_workers_nesterov) { check_workers(4, GN_OPT_NESTEROV, 0.05f, 16, 190); }

/* Direct steps: workers with different shares (3 and 5 samples) take the step of the mean
 * over all 8, the global batch coming from batch_total. */
typedef struct step_job {
    worker w;
    const problem *data;
    size_t j0, m;
    gn_net *net;
    gn_status st;
    double loss;
    int poison; /* put a NaN in this worker's inputs */
} step_job;

static void *run_step(void *arg)
{
    step_job *j = arg;
    j->net = tanh_net(8);
    gn_reducer r = make_reducer(&j->w, j->w.rank, j->w.g->workers);
    cr_assert_eq(gn_net_set_reducer(j->net, &r), GN_OK);
    float X[N_IN * 8];
    memcpy(X, j->data->X + j->j0 * N_IN, j->m * N_IN * sizeof *X);
    if (j->poison)
        X[1] = NAN;
    j->st =
        gn_net_train_step(j->net, X, N_IN, j->data->Y + j->j0 * N_OUT, N_OUT, j->m, 0.5f, &j->loss);
    return NULL;
}

static void run_steps(group *g, step_job *jobs, const problem *p, int poison_rank)
{
    group_init(g, 2);
    pthread_t th[2];
    size_t shares[2][2] = {{0, 3}, {3, 5}};
    for (size_t r = 0; r < 2; r++) {
        jobs[r] = (step_job){{g, r}, p,     shares[r][0], shares[r][1],
                             NULL,   GN_OK, 0.0,          (int)r == poison_rank};
        cr_assert_eq(pthread_create(&th[r], NULL, run_step, &jobs[r]), 0);
    }
    for (size_t r = 0; r < 2; r++)
        pthread_join(th[r], NULL);
}

Test(reduce, direct_steps_with_uneven_shares)
{
    problem p = make_problem(8, 5);
    gn_net *alone = tanh_net(8);
    double loss;
    cr_assert_eq(gn_net_backprop(alone, p.X, N_IN, p.Y, N_OUT, 8, &loss), GN_OK);
    size_t np = gn_net_n_params(alone);
    float *expect = malloc(np * sizeof *expect);
    cr_assert_not_null(expect);
    for (size_t i = 0; i < np; i++) /* SGD on the mean gradient over all 8 samples */
        expect[i] = gn_net_params(alone)[i] - 0.5f * gn_net_grads(alone)[i];
    group g;
    step_job jobs[2];
    run_steps(&g, jobs, &p, -1);
    for (size_t r = 0; r < 2; r++) {
        cr_assert_eq(jobs[r].st, GN_OK, "worker %zu: %s", r, gn_net_last_error(jobs[r].net));
        cr_assert_lt(rel_err(jobs[r].loss, loss), 1e-6, "worker %zu: loss %.9g, mean over 8 %.9g",
                     r, jobs[r].loss, loss);
        double d = max_abs_diff(gn_net_params(jobs[r].net), expect, np);
        cr_assert_leq(d, 1e-6 * max_abs(expect, np), "worker %zu: max |Δw| %g", r, d);
        cr_assert_eq(g.ms[r], jobs[r].m, "batch_total saw worker %zu's share", r);
    }
    cr_assert_eq(memcmp(gn_net_params(jobs[0].net), gn_net_params(jobs[1].net), np * sizeof(float)),
                 0);
    for (size_t r = 0; r < 2; r++)
        gn_net_free(jobs[r].net);
    group_fini(&g);
    free(expect);
    gn_net_free(alone);
    free(p.X);
    free(p.Y);
}

/* A NaN on one worker makes the summed loss and gradient NaN on all: every worker refuses
 * the step alike and keeps its parameters. */
Test(reduce, nonfinite_on_one_worker_is_refused_by_all)
{
    problem p = make_problem(8, 6);
    gn_net *init = tanh_net(8);
    size_t np = gn_net_n_params(init);
    group g;
    step_job jobs[2];
    run_steps(&g, jobs, &p, 1);
    for (size_t r = 0; r < 2; r++) {
        cr_assert_eq(jobs[r].st, GN_ERR_NONFINITE, "worker %zu: status %d", r, jobs[r].st);
        cr_assert(strstr(gn_net_last_error(jobs[r].net), "not finite"));
        cr_assert_eq(memcmp(gn_net_params(jobs[r].net), gn_net_params(init), np * sizeof(float)), 0,
                     "worker %zu changed its parameters", r);
        gn_net_free(jobs[r].net);
    }
    group_fini(&g);
    gn_net_free(init);
    free(p.X);
    free(p.Y);
}

/* A failing hook fails the step with its status and says so; nothing is updated. */
Test(reduce, failing_hook_fails_the_step)
{
    problem p = make_problem(4, 8);
    gn_net *net = tanh_net(4), *init = tanh_net(4);
    group g;
    group_init(&g, 1);
    g.fail_reduce_on = 0;
    worker w = {&g, 0};
    gn_reducer r = make_reducer(&w, 0, 1);
    cr_assert_eq(gn_net_set_reducer(net, &r), GN_OK);
    double loss;
    cr_assert_eq(gn_net_train_step(net, p.X, N_IN, p.Y, N_OUT, 4, 0.1f, &loss), GN_ERR_IO);
    cr_assert(strstr(gn_net_last_error(net), "reduce failed"), "%s", gn_net_last_error(net));
    cr_assert_eq(
        memcmp(gn_net_params(net), gn_net_params(init), gn_net_n_params(net) * sizeof(float)), 0);
    gn_net_free(net);
    gn_net_free(init);
    group_fini(&g);
    free(p.X);
    free(p.Y);
}

/* Bad data on worker 1 only: its check fails, the agreement after setup stops worker 0 too,
 * and both report worker 1's error; neither trained. */
Test(reduce, error_on_one_worker_stops_all)
{
    problem p = make_problem(64, 3);
    gn_fit_options o = fit_opts(GN_OPT_SGD, 0.1f, 16, 2);
    group g;
    fit_job jobs[2] = {0};
    jobs[1].bad_sample = 1;
    fit_workers(&g, jobs, 2, &p, &o);
    for (size_t r = 0; r < 2; r++) {
        cr_assert_eq(jobs[r].status, GN_ERR_NONFINITE, "worker %zu: %d", r, jobs[r].status);
        cr_assert(strstr(jobs[r].err, "worker 1") && strstr(jobs[r].err, "NaN"),
                  "worker %zu says: %s", r, jobs[r].err);
        cr_assert_eq(jobs[r].result.epochs, 0);
        cr_assert_eq(g.reduce_calls[r], 0, "worker %zu trained", r);
        gn_net_free(jobs[r].net);
    }
    group_fini(&g);
    free(p.X);
    free(p.Y);
}

/* Only worker 0 writes checkpoints; a checkpoint that worker 0 cannot write stops both. */
Test(reduce, checkpoints_from_worker_zero_only)
{
    char dir[] = "/tmp/gn-reduce-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/ck.gnm", dir);
    problem p = make_problem(64, 4);
    gn_fit_options o = fit_opts(GN_OPT_ADAM, 0.01f, 16, 2);
    o.checkpoint_path = path;
    group g;
    fit_job jobs[2] = {0};
    /* a path of its own for worker 1: a second writer would show */
    char other[160];
    snprintf(other, sizeof other, "%s/ck1.gnm", dir);
    snprintf(jobs[1].path, sizeof jobs[1].path, "%s", other);
    fit_workers(&g, jobs, 2, &p, &o);
    cr_assert_eq(access(other, F_OK), -1, "worker 1 wrote a checkpoint");
    cr_assert_eq(jobs[0].status, GN_OK, "%s", jobs[0].err);
    cr_assert_eq(jobs[1].status, GN_OK, "%s", jobs[1].err);
    gn_checkpoint *ck = NULL;
    cr_assert_eq(gn_checkpoint_load(&ck, path, NULL, 0), GN_OK);
    size_t np = gn_net_n_params(jobs[0].net);
    cr_assert_eq(memcmp(gn_net_params((gn_net *)gn_checkpoint_net(ck)), gn_net_params(jobs[1].net),
                        np * sizeof(float)),
                 0);
    gn_checkpoint_free(ck);
    for (size_t r = 0; r < 2; r++)
        gn_net_free(jobs[r].net);
    group_fini(&g);
    unlink(path);

    /* a directory that does not exist: worker 0 fails to write after epoch 1 */
    snprintf(path, sizeof path, "%s/missing/ck.gnm", dir);
    memset(jobs, 0, sizeof jobs);
    fit_workers(&g, jobs, 2, &p, &o);
    for (size_t r = 0; r < 2; r++) {
        cr_assert_neq(jobs[r].status, GN_OK, "worker %zu went on", r);
        cr_assert_eq(jobs[r].status, jobs[0].status);
        cr_assert(strstr(jobs[r].err, "worker 0") && strstr(jobs[r].err, "checkpoint"),
                  "worker %zu says: %s", r, jobs[r].err);
        cr_assert_eq(jobs[r].result.epochs, 1);
        gn_net_free(jobs[r].net);
    }
    group_fini(&g);
    rmdir(dir);
    free(p.X);
    free(p.Y);
}

/* With dropout, the workers draw different masks but stay identical, and their shared RNG
 * advances alike (the next epoch's shuffle is the same everywhere). */
Test(reduce, dropout_keeps_workers_in_step)
{
    problem p = make_problem(96, 12);
    gn_fit_options o = fit_opts(GN_OPT_SGD, 0.1f, 16, 3);
    o.dropout = 0.3f;
    group g;
    fit_job jobs[2] = {0};
    fit_workers(&g, jobs, 2, &p, &o);
    size_t np = gn_net_n_params(jobs[0].net);
    for (size_t r = 0; r < 2; r++)
        cr_assert_eq(jobs[r].status, GN_OK, "worker %zu: %s", r, jobs[r].err);
    cr_assert_eq(memcmp(gn_net_params(jobs[0].net), gn_net_params(jobs[1].net), np * sizeof(float)),
                 0);
    cr_assert_eq(memcmp(gn_net_rng(jobs[0].net), gn_net_rng(jobs[1].net), sizeof(gn_rng)), 0);
    for (size_t r = 0; r < 2; r++)
        gn_net_free(jobs[r].net);
    group_fini(&g);
    free(p.X);
    free(p.Y);
}

/* gn_net_train shards like gn_net_fit: 2 workers equal one worker up to summation order. */
typedef struct train_job {
    worker w;
    const problem *data;
    gn_net *net;
    gn_status st;
} train_job;

static void *run_train(void *arg)
{
    train_job *j = arg;
    j->net = tanh_net(10);
    if (j->w.g) {
        gn_reducer r = make_reducer(&j->w, j->w.rank, j->w.g->workers);
        cr_assert_eq(gn_net_set_reducer(j->net, &r), GN_OK);
    }
    gn_train_options o;
    gn_train_options_defaults(&o);
    o.epochs = 3;
    o.eta = 0.2f;
    j->st = gn_net_train(j->net, j->data->X, N_IN, j->data->Y, N_OUT, j->data->n, &o);
    return NULL;
}

Test(reduce, nielsen_loop_two_workers)
{
    problem p = make_problem(95, 21);
    train_job alone = {{NULL, 0}, &p, NULL, GN_OK};
    run_train(&alone);
    cr_assert_eq(alone.st, GN_OK);
    group g;
    group_init(&g, 2);
    train_job jobs[2];
    pthread_t th[2];
    for (size_t r = 0; r < 2; r++) {
        jobs[r] = (train_job){{&g, r}, &p, NULL, GN_OK};
        cr_assert_eq(pthread_create(&th[r], NULL, run_train, &jobs[r]), 0);
    }
    for (size_t r = 0; r < 2; r++)
        pthread_join(th[r], NULL);
    size_t np = gn_net_n_params(alone.net);
    double scale = max_abs(gn_net_params(alone.net), np);
    for (size_t r = 0; r < 2; r++) {
        cr_assert_eq(jobs[r].st, GN_OK);
        double d = max_abs_diff(gn_net_params(jobs[r].net), gn_net_params(alone.net), np);
        cr_assert_leq(d, 1e-5 * scale, "worker %zu: max |Δw| %g of %g", r, d, scale);
    }
    cr_assert_eq(memcmp(gn_net_params(jobs[0].net), gn_net_params(jobs[1].net), np * sizeof(float)),
                 0);
    cr_assert_eq(g.reduce_calls[0], 3 * 10);
    for (size_t r = 0; r < 2; r++)
        gn_net_free(jobs[r].net);
    gn_net_free(alone.net);
    group_fini(&g);
    free(p.X);
    free(p.Y);
}

/* The summed gradient is checked before plain SGD applies it: a reducer that returns an
 * infinity, or a finite value whose update overflows, makes the step refuse, unchanged. */
static float injected;
static gn_status inject_reduce(void *user, float *grads, size_t n, double *loss)
{
    (void)user;
    (void)n;
    (void)loss;
    grads[0] = injected;
    return GN_OK;
}

Test(reduce, summed_gradient_is_checked)
{
    problem p = make_problem(4, 9);
    gn_net *net = tanh_net(4), *init = tanh_net(4);
    gn_reducer r = {.rank = 0, .workers = 1, .reduce = inject_reduce};
    cr_assert_eq(gn_net_set_reducer(net, &r), GN_OK);
    size_t bytes = gn_net_n_params(net) * sizeof(float);
    double loss;
    injected = INFINITY;
    cr_assert_eq(gn_net_train_step(net, p.X, N_IN, p.Y, N_OUT, 4, 0.1f, &loss), GN_ERR_NONFINITE);
    cr_assert(strstr(gn_net_last_error(net), "summed gradient is not finite"), "%s",
              gn_net_last_error(net));
    cr_assert_eq(memcmp(gn_net_params(net), gn_net_params(init), bytes), 0);
    injected = 1e38f;
    cr_assert_eq(gn_net_train_step(net, p.X, N_IN, p.Y, N_OUT, 4, 10.0f, &loss), GN_ERR_NONFINITE);
    cr_assert(strstr(gn_net_last_error(net), "overflow"), "%s", gn_net_last_error(net));
    cr_assert_eq(memcmp(gn_net_params(net), gn_net_params(init), bytes), 0);
    injected = 1e30f; /* large but harmless at this η: applied */
    cr_assert_eq(gn_net_train_step(net, p.X, N_IN, p.Y, N_OUT, 4, 1e-30f, &loss), GN_OK);
    cr_assert_float_eq(gn_net_params(net)[0], gn_net_params(init)[0] - 1.0f, 1e-5f);
    gn_net_free(net);
    gn_net_free(init);
    free(p.X);
    free(p.Y);
}

/* Worker 0 decides for all where workers could compute differently: worker 1 forced onto
 * another backend and validating on other data still ends with worker 0's backends, best
 * epoch, early stop and parameters (without the broadcasts it would stop elsewhere). */
Test(reduce, worker_zero_decides_backends_and_validation)
{
    gn_backend other = gn_backend_available(GN_BACKEND_LIBXSMM)  ? GN_BACKEND_LIBXSMM
                       : gn_backend_available(GN_BACKEND_ONEDNN) ? GN_BACKEND_ONEDNN
                                                                 : GN_BACKEND_OPENBLAS;
    problem p = make_problem(128, 31), v0 = make_problem(64, 32), v1 = make_problem(64, 33);
    gn_fit_options o = fit_opts(GN_OPT_ADAM, 0.05f, 16, 12);
    o.patience = 2;
    group g;
    fit_job jobs[2] = {0};
    jobs[0].val = &v0;
    jobs[1].val = &v1;
    jobs[1].backend = other;
    fit_workers(&g, jobs, 2, &p, &o);
    size_t np = gn_net_n_params(jobs[0].net);
    for (size_t r = 0; r < 2; r++)
        cr_assert_eq(jobs[r].status, GN_OK, "worker %zu: %s", r, jobs[r].err);
    cr_assert_eq(jobs[1].result.epochs, jobs[0].result.epochs);
    cr_assert_eq(jobs[1].result.best_epoch, jobs[0].result.best_epoch);
    cr_assert_eq(jobs[1].result.best_val_loss, jobs[0].result.best_val_loss);
    cr_assert_eq(memcmp(gn_net_params(jobs[0].net), gn_net_params(jobs[1].net), np * sizeof(float)),
                 0);
    for (size_t l = 1; l <= 3; l++)
        for (int q = 0; q < GN_PRODUCT_COUNT; q++)
            cr_assert_eq(gn_net_layer_backend(jobs[1].net, l, (gn_product)q),
                         gn_net_layer_backend(jobs[0].net, l, (gn_product)q));
    /* one broadcast for the backends, one per epoch for the validation figures */
    cr_assert_eq(g.broadcasts[1], 1 + jobs[0].result.epochs);
    /* and worker 1's own validation set alone would have chosen otherwise */
    gn_net *alone = tanh_net(16);
    gn_dataset *ds = NULL, *vs = NULL;
    cr_assert_eq(gn_dataset_wrap(&ds, p.X, N_IN, p.Y, N_OUT, N_IN, N_OUT, p.n), GN_OK);
    cr_assert_eq(gn_dataset_wrap(&vs, v1.X, N_IN, v1.Y, N_OUT, N_IN, N_OUT, v1.n), GN_OK);
    gn_fit_result res;
    cr_assert_eq(gn_net_fit(alone, ds, vs, &o, &res), GN_OK);
    cr_assert(res.best_val_loss != jobs[0].result.best_val_loss);
    gn_dataset_free(ds);
    gn_dataset_free(vs);
    gn_net_free(alone);
    for (size_t r = 0; r < 2; r++)
        gn_net_free(jobs[r].net);
    group_fini(&g);
    free(p.X);
    free(p.Y);
    free(v0.X);
    free(v0.Y);
    free(v1.X);
    free(v1.Y);
}
