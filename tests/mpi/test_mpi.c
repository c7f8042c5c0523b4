/* gemmnet_mpi under mpirun: a plain MPI program (Criterion forks, which MPI does not allow) with
 * its own checks. Every rank runs every case; a case fails if a check failed on any rank. Rank
 * 0 prints one line per case and, last, Criterion's summary line (tools/run-tests counts it);
 * the exit status is 1 if any case failed. Run by meson with -np 1, 2 and 3.
 *
 * Expected values come from each rank fitting the same data alone, without a reducer. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "gemmnet_mpi.h"
#include "measures.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*---- checks ----*/

static int rank, size;
static int case_failed; /* a check failed on this rank in the current case */

static void check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char why[512] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "rank %d: %s:%d: check failed: %s%s%s\n", rank, file, line, cond,
            why[0] ? ": " : "", why);
    case_failed = 1;
}

/* CHECK(cond, fmt, ...) records a failure and goes on (a rank that returned early would leave
 * the others waiting in a collective). */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_failed(__FILE__, __LINE__, #cond, __VA_ARGS__);                                  \
    } while (0)

/* For allocations in the test itself: nothing sensible can follow. */
static void *need(void *p)
{
    if (!p) {
        fprintf(stderr, "rank %d: test out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

/* 1 if buf holds the same bytes as rank 0's buf. Collective. */
static int same_as_root(const void *buf, size_t bytes)
{
    unsigned char *root = need(malloc(bytes ? bytes : 1));
    memcpy(root, buf, bytes);
    MPI_Bcast(root, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    int same = memcmp(root, buf, bytes) == 0, all;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    free(root);
    return all;
}

/*---- data and networks ----*/

enum { N_IN = 6, N_HID = 12, N_OUT = 3, N_SAMPLES = 122, BATCH = 10 };
static const size_t sizes[] = {N_IN, N_HID, N_HID, N_OUT};

static float *random_floats(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = need(malloc(n * sizeof *x));
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)gn_rng_uniform(&rng);
    return x;
}

static float *random_onehot(size_t k, size_t n, uint64_t seed)
{
    float *y = need(calloc(k * n, sizeof *y));
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < n; j++)
        y[gn_rng_below(&rng, k) + j * k] = 1.0f;
    return y;
}

typedef struct problem {
    float *X, *Y;
    gn_dataset *ds;
} problem;

/* 122 samples: batches of 10 give shares 3, 3, 4 on 3 ranks, and a last batch of 2 leaves one
 * rank an empty share. A NaN at sample 0 if poisoned. */
static problem make_problem(int poisoned)
{
    problem p = {random_floats(N_IN * N_SAMPLES, -1.0f, 1.0f, 99),
                 random_onehot(N_OUT, N_SAMPLES, 100), NULL};
    if (poisoned)
        p.X[0] = NAN;
    gn_status st = gn_dataset_wrap(&p.ds, p.X, N_IN, p.Y, N_OUT, N_IN, N_OUT, N_SAMPLES);
    CHECK(st == GN_OK, "gn_dataset_wrap: %s", gn_strerror(st));
    if (!p.ds)
        MPI_Abort(MPI_COMM_WORLD, 2);
    return p;
}

static void free_problem(problem *p)
{
    gn_dataset_free(p->ds);
    free(p->X);
    free(p->Y);
}

static gn_net *make_net(const size_t *sz, size_t n_sizes, gn_act hidden, uint64_t seed)
{
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sz;
    cfg.n_sizes = n_sizes;
    cfg.hidden_act = hidden;
    cfg.output_act = GN_ACT_SOFTMAX;
    cfg.loss = GN_LOSS_CCE;
    cfg.max_batch = BATCH;
    cfg.seed = seed;
    gn_net *net = NULL;
    gn_status st = gn_net_create(&net, &cfg);
    if (st != GN_OK) {
        fprintf(stderr, "rank %d: gn_net_create: %s\n", rank, gn_strerror(st));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    /* the reduced path must not depend on which backend a tuner picks per rank */
    gn_net_set_backend(net, GN_BACKEND_OPENBLAS);
    return net;
}

static gn_net *tanh_net(uint64_t seed) { return make_net(sizes, 4, GN_ACT_TANH, seed); }

static gn_mpi *make_mpi(gn_mpi_reduction how)
{
    char err[256];
    gn_mpi *mpi = NULL;
    gn_status st = gn_mpi_create(&mpi, MPI_COMM_WORLD, how, err, sizeof err);
    if (st != GN_OK) {
        fprintf(stderr, "rank %d: gn_mpi_create: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return mpi;
}

static void attach(gn_mpi *mpi, gn_net *net)
{
    char err[256];
    gn_status st = gn_mpi_attach(mpi, net, err, sizeof err);
    if (st != GN_OK) {
        fprintf(stderr, "rank %d: gn_mpi_attach: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
}

static gn_fit_options fit_opts(gn_opt kind, size_t epochs)
{
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    gn_optimizer_config_defaults(&o.opt, kind);
    o.opt.lr = kind == GN_OPT_SGD ? 0.1f : 0.003f;
    o.batch = BATCH;
    o.epochs = epochs;
    return o;
}

static float *copy_params(gn_net *net)
{
    size_t n = gn_net_n_params(net);
    float *p = need(malloc(n * sizeof *p));
    memcpy(p, gn_net_params(net), n * sizeof *p);
    return p;
}

/*---- a reducer wrapped to count the hooks' calls ----*/

typedef struct counting {
    gn_reducer inner;
    size_t reduce_calls, layer_calls;
} counting;

static gn_status count_reduce(void *user, float *g, size_t n, double *loss)
{
    counting *c = user;
    c->reduce_calls++;
    return c->inner.reduce(c->inner.user, g, n, loss);
}

static gn_status count_layer(void *user, size_t l, float *g, size_t off, size_t n)
{
    counting *c = user;
    c->layer_calls++;
    return c->inner.reduce_layer(c->inner.user, l, g, off, n);
}

static gn_status count_batch(void *user, size_t m, size_t *total)
{
    counting *c = user;
    return c->inner.batch_total(c->inner.user, m, total);
}

static gn_status count_agree(void *user, gn_status st, char *msg, size_t len)
{
    counting *c = user;
    return c->inner.agree(c->inner.user, st, msg, len);
}

static gn_status count_broadcast(void *user, void *buf, size_t bytes)
{
    counting *c = user;
    return c->inner.broadcast(c->inner.user, buf, bytes);
}

/* Puts a counting wrapper around net's reducer (as gn_mpi_attach set it). */
static void wrap(gn_net *net, counting *c)
{
    const gn_reducer *r = gn_net_reducer(net);
    CHECK(r != NULL, "no reducer after gn_mpi_attach");
    if (!r)
        MPI_Abort(MPI_COMM_WORLD, 2);
    memset(c, 0, sizeof *c);
    c->inner = *r;
    gn_reducer w = *r;
    w.reduce = count_reduce;
    w.reduce_layer = r->reduce_layer ? count_layer : NULL;
    w.batch_total = r->batch_total ? count_batch : NULL;
    w.agree = r->agree ? count_agree : NULL;
    w.broadcast = r->broadcast ? count_broadcast : NULL;
    w.user = c;
    CHECK(gn_net_set_reducer(net, &w) == GN_OK, "setting the wrapper");
}

/*---- fits ----*/

/* The fit of one rank alone, no reducer: the reference every MPI fit is compared with. */
static float *fit_alone(gn_opt kind, size_t epochs, gn_fit_result *res)
{
    problem p = make_problem(0);
    gn_net *net = tanh_net(42);
    gn_fit_options o = fit_opts(kind, epochs);
    gn_status st = gn_net_fit(net, p.ds, NULL, &o, res);
    CHECK(st == GN_OK, "fit alone: %s", gn_net_last_error(net));
    float *w = copy_params(net);
    gn_net_free(net);
    free_problem(&p);
    return w;
}

/* gn_net_fit on every rank through a context with this reduction; each rank's network starts
 * from its own seed, so only gn_mpi_attach makes them equal (to seed 42's, rank 0's). */
static float *fit_mpi(gn_mpi_reduction how, gn_opt kind, size_t epochs, gn_fit_result *res,
                      counting *c)
{
    problem p = make_problem(0);
    gn_mpi *mpi = make_mpi(how);
    gn_net *net = tanh_net(42 + (uint64_t)rank);
    attach(mpi, net);
    wrap(net, c);
    gn_fit_options o = fit_opts(kind, epochs);
    gn_status st = gn_net_fit(net, p.ds, NULL, &o, res);
    CHECK(st == GN_OK, "%s fit: %s", gn_mpi_reduction_name(how), gn_net_last_error(net));
    float *w = copy_params(net);
    gn_net_set_reducer(net, NULL);
    gn_net_free(net);
    gn_mpi_free(mpi);
    free_problem(&p);
    return w;
}

enum { N_PARAMS = N_IN * N_HID + N_HID + N_HID * N_HID + N_HID + N_HID * N_OUT + N_OUT };
static const gn_opt kinds[2] = {GN_OPT_SGD, GN_OPT_ADAM};
static float *fitted[GN_MPI_REDUCTION_COUNT][2]; /* kept for case_reductions_compare */
static float *alone[2];
static double alone_loss[2];

/* The tolerance, as tests/test_reduce.c argues it: each step's gradient differs from one
 * worker's by a few float roundings (the products and the reduction sum the same terms in
 * another order), and 3 epochs of 13 steps at these learning rates on a tanh net keep that
 * from growing by more than a small factor; 1e-5 of the largest weight is ≈ 100 float ulps
 * of it, while a real error (a share counted twice, a missing layer, a wrong 1/M) moves the
 * weights by ≥ 1e-3 of it. */
static void check_close(const float *w, const float *ref, const char *what)
{
    double scale = max_abs(ref, N_PARAMS), d = max_abs_diff(w, ref, N_PARAMS);
    CHECK(d <= 1e-5 * scale, "%s: max |Δw| = %g (max |w| = %g)", what, d, scale);
}

static void check_fit(gn_mpi_reduction how)
{
    size_t steps = 3 * ((N_SAMPLES + BATCH - 1) / BATCH);
    for (int k = 0; k < 2; k++) {
        gn_fit_result res, ref_res;
        counting c;
        if (!alone[k]) {
            alone[k] = fit_alone(kinds[k], 3, &ref_res);
            alone_loss[k] = ref_res.train_loss;
        }
        float *w = fit_mpi(how, kinds[k], 3, &res, &c);
        char what[64];
        snprintf(what, sizeof what, "%s, %s", gn_mpi_reduction_name(how),
                 kinds[k] == GN_OPT_SGD ? "SGD" : "Adam");
        CHECK(res.epochs == 3, "%s: %zu epochs", what, res.epochs);
        CHECK(res.samples == 3 * N_SAMPLES, "%s: %zu samples", what, res.samples);
        CHECK(same_as_root(w, N_PARAMS * sizeof *w), "%s: the ranks' weights differ", what);
        CHECK(same_as_root(&res.train_loss, sizeof res.train_loss), "%s: the losses differ", what);
        check_close(w, alone[k], what);
        CHECK(fabs(res.train_loss - alone_loss[k]) <= 1e-5 * fabs(alone_loss[k]),
              "%s: last epoch's loss %.9g, alone %.9g", what, res.train_loss, alone_loss[k]);
        /* it trained: the weights moved far beyond the tolerance */
        gn_net *init = tanh_net(42);
        CHECK(max_abs_diff(gn_net_params(init), alone[k], N_PARAMS) >
                  100 * 1e-5 * max_abs(alone[k], N_PARAMS),
              "%s: the reference did not train", what);
        gn_net_free(init);
        CHECK(c.reduce_calls == steps, "%s: reduce called %zu times, not %zu", what, c.reduce_calls,
              steps);
        size_t layers = how == GN_MPI_OVERLAP ? 3 * steps : 0;
        CHECK(c.layer_calls == layers, "%s: reduce_layer called %zu times, not %zu", what,
              c.layer_calls, layers);
        fitted[how][k] = w;
    }
}

/*---- cases ----*/

static void case_fit_ordered(void) { check_fit(GN_MPI_ORDERED); }
static void case_fit_allreduce(void) { check_fit(GN_MPI_ALLREDUCE); }
static void case_fit_overlap(void) { check_fit(GN_MPI_OVERLAP); }

/* ORDERED repeats bit for bit; with P ≤ 2 every reduction gives the same bits (a + b = b + a);
 * with more ranks ALLREDUCE and OVERLAP agree within the tolerance. */
static void case_reductions_compare(void)
{
    for (int k = 0; k < 2; k++) {
        if (!fitted[0][k] || !fitted[1][k] || !fitted[2][k]) {
            CHECK(0, "the fit cases did not run");
            return;
        }
        gn_fit_result res;
        counting c;
        float *again = fit_mpi(GN_MPI_ORDERED, kinds[k], 3, &res, &c);
        CHECK(memcmp(again, fitted[GN_MPI_ORDERED][k], N_PARAMS * sizeof(float)) == 0,
              "ordered, optimizer %d: a second run gives other bits", k);
        free(again);
        if (size <= 2) {
            for (int h = 1; h < GN_MPI_REDUCTION_COUNT; h++)
                CHECK(memcmp(fitted[h][k], fitted[0][k], N_PARAMS * sizeof(float)) == 0,
                      "%s differs from ordered with %d ranks, optimizer %d",
                      gn_mpi_reduction_name((gn_mpi_reduction)h), size, k);
        }
        check_close(fitted[GN_MPI_OVERLAP][k], fitted[GN_MPI_ALLREDUCE][k], "overlap vs allreduce");
    }
}

/* The hooks called directly on values whose float sum depends on the order: ORDERED gives
 * exactly ((g_0 + g_1) + g_2) + …, the others the same bits on every rank and the sum up to
 * rounding; OVERLAP also with some layers handed to reduce_layer first, the rest left to
 * reduce. The loss likewise. */
static float value(int r, size_t i)
{
    /* 1 on rank 0, then terms of about half an ulp of 1 that round differently in another order */
    return r == 0 ? 1.0f + (float)(i % 5) : (float)((i + (size_t)r) % 7 + 1) * 0x1p-24f;
}

static void case_hooks_sum_exactly(void)
{
    float *expect = need(malloc(N_PARAMS * sizeof *expect));
    for (size_t i = 0; i < N_PARAMS; i++) {
        float s = value(0, i);
        for (int r = 1; r < size; r++)
            s += value(r, i);
        expect[i] = s;
    }
    double expect_loss = 0.0;
    for (int r = 0; r < size; r++)
        expect_loss += r == 0 ? 1e16 : 1.0 + 0.1 * r;
    for (int how = 0; how < GN_MPI_REDUCTION_COUNT; how++) {
        const char *name = gn_mpi_reduction_name((gn_mpi_reduction)how);
        gn_mpi *mpi = make_mpi((gn_mpi_reduction)how);
        gn_net *net = tanh_net(3);
        attach(mpi, net);
        const gn_reducer *red = gn_net_reducer(net);
        float *g = gn_net_grads(net);
        for (int round = 0; round < 2; round++) {
            for (size_t i = 0; i < N_PARAMS; i++)
                g[i] = value(rank, i);
            double loss = rank == 0 ? 1e16 : 1.0 + 0.1 * rank;
            gn_status st = GN_OK;
            if (red->reduce_layer && round == 1) /* layers 3 and 2 early, layer 1 in reduce */
                for (size_t l = 3; l >= 2 && st == GN_OK; l--) {
                    size_t w_off, b_off;
                    gn_net_layer_offsets(net, l, &w_off, &b_off);
                    st = red->reduce_layer(red->user, l, g, w_off,
                                           b_off + gn_net_layer_size(net, l) - w_off);
                }
            if (st == GN_OK)
                st = red->reduce(red->user, g, N_PARAMS, &loss);
            CHECK(st == GN_OK, "%s: %s", name, gn_strerror(st));
            CHECK(same_as_root(g, N_PARAMS * sizeof *g), "%s: the sums differ across ranks", name);
            CHECK(same_as_root(&loss, sizeof loss), "%s: the losses differ across ranks", name);
            if (how == GN_MPI_ORDERED) {
                CHECK(memcmp(g, expect, N_PARAMS * sizeof *g) == 0,
                      "ordered: not the sum in rank order");
                CHECK(loss == expect_loss, "ordered: loss %.17g, in rank order %.17g", loss,
                      expect_loss);
            } else {
                double d = max_abs_diff(g, expect, N_PARAMS);
                CHECK(d <= 4.0 * size * 0x1p-24 * max_abs(expect, N_PARAMS), "%s: max error %g",
                      name, d);
                CHECK(fabs(loss - expect_loss) <= 1e-15 * expect_loss, "%s: loss %.17g", name,
                      loss);
            }
        }
        gn_net_set_reducer(net, NULL);
        gn_net_free(net);
        gn_mpi_free(mpi);
    }
    free(expect);
}

/* Networks made with rank-dependent seeds become rank 0's: parameters, RNG, input scaling set
 * on rank 0 only (set everywhere), output scaling set on the other ranks only (removed). */
static void case_attach_makes_ranks_equal(void)
{
    static const size_t rsizes[] = {4, 8, 2};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = rsizes;
    cfg.n_sizes = 3;
    cfg.hidden_act = GN_ACT_TANH;
    cfg.output_act = GN_ACT_IDENTITY;
    cfg.seed = 7 + (uint64_t)rank;
    gn_net *net = NULL;
    if (gn_net_create(&net, &cfg) != GN_OK)
        MPI_Abort(MPI_COMM_WORLD, 2);
    float mean[4] = {1.0f, -2.0f, 0.5f, 3.0f}, std[4] = {2.0f, 0.25f, 1.0f, 4.0f};
    float omean[2] = {10.0f, -1.0f}, ostd[2] = {3.0f, 0.5f};
    if (rank == 0)
        CHECK(gn_net_set_input_scaling(net, mean, std) == GN_OK, "input scaling");
    else
        CHECK(gn_net_set_output_scaling(net, omean, ostd) == GN_OK, "output scaling");
    gn_net_rng(net)->s[3] ^= (uint64_t)rank << 32; /* and a state no seed gives */
    size_t n = gn_net_n_params(net);
    float *before = copy_params(net);
    gn_rng rng_before = *gn_net_rng(net);

    gn_mpi *mpi = make_mpi(GN_MPI_ORDERED);
    CHECK(gn_mpi_rank(mpi) == rank && gn_mpi_size(mpi) == size, "rank %d of %d", gn_mpi_rank(mpi),
          gn_mpi_size(mpi));
    CHECK(gn_mpi_reduction_of(mpi) == GN_MPI_ORDERED, "reduction");
    attach(mpi, net);
    CHECK(same_as_root(gn_net_params(net), n * sizeof(float)), "parameters differ");
    CHECK(same_as_root(gn_net_rng(net), sizeof(gn_rng)), "RNG states differ");
    if (rank == 0) {
        CHECK(memcmp(before, gn_net_params(net), n * sizeof(float)) == 0,
              "rank 0's parameters changed");
        CHECK(memcmp(&rng_before, gn_net_rng(net), sizeof rng_before) == 0, "rank 0's RNG changed");
    } else {
        CHECK(memcmp(before, gn_net_params(net), n * sizeof(float)) != 0,
              "the parameters were not replaced");
    }
    const float *m, *s;
    CHECK(gn_net_input_scaling(net, &m, &s) == GN_OK && m && s, "no input scaling");
    if (m && s) {
        CHECK(memcmp(m, mean, sizeof mean) == 0 && memcmp(s, std, sizeof std) == 0,
              "the input scaling is not rank 0's");
    }
    CHECK(gn_net_output_scaling(net, &m, &s) == GN_OK && !m && !s,
          "the output scaling was not removed");
    const gn_reducer *r = gn_net_reducer(net);
    CHECK(r && r->rank == (size_t)rank && r->workers == (size_t)size && r->user == mpi,
          "the reducer is not this context's");
    CHECK(r && r->batch_total && r->agree && !r->reduce_layer, "hooks of ordered");

    /* a second network on the same context detaches the first: its steps fail alike */
    gn_net *other = NULL;
    cfg.seed = 8;
    if (gn_net_create(&other, &cfg) != GN_OK)
        MPI_Abort(MPI_COMM_WORLD, 2);
    attach(mpi, other);
    float X[4] = {0.1f, 0.2f, 0.3f, 0.4f}, Y[2] = {1.0f, 0.0f};
    double loss;
    float *kept = copy_params(net);
    gn_status st = gn_net_train_step(net, X, 4, Y, 2, 1, 0.1f, &loss);
    CHECK(st == GN_ERR_ARG, "a detached network trained: %s", gn_strerror(st));
    CHECK(memcmp(kept, gn_net_params(net), n * sizeof(float)) == 0, "and changed");
    st = gn_net_train_step(other, X, 4, Y, 2, 1, 0.1f, &loss);
    CHECK(st == GN_OK, "the attached network: %s", gn_net_last_error(other));
    CHECK(same_as_root(gn_net_params(other), n * sizeof(float)), "after a step, ranks differ");
    gn_net_set_reducer(net, NULL);
    gn_net_set_reducer(other, NULL);
    gn_net_free(other);
    gn_net_free(net);
    gn_mpi_free(mpi);
    free(before);
    free(kept);
}

/* A network of another shape (or activation) on the last rank: GN_ERR_DIM on every rank, naming
 * that rank, and nothing changed. With one rank, a NULL network instead. */
static void case_attach_refuses_other_architectures(void)
{
    static const size_t wider[] = {N_IN, N_HID + 1, N_HID, N_OUT};
    char err[256] = ""; /* compared as bytes across ranks: no garbage after the message */
    gn_mpi *mpi = make_mpi(GN_MPI_ALLREDUCE);
    for (int variant = 0; variant < 2; variant++) {
        int odd = size > 1 && rank == size - 1;
        gn_net *net = !odd           ? tanh_net(5)
                      : variant == 0 ? make_net(wider, 4, GN_ACT_TANH, 5)
                                     : make_net(sizes, 4, GN_ACT_SIGMOID, 5);
        float *before = copy_params(net);
        gn_status st = gn_mpi_attach(mpi, size > 1 ? net : NULL, err, sizeof err);
        gn_status expect = size > 1 ? GN_ERR_DIM : GN_ERR_NULL;
        CHECK(st == expect, "variant %d: status %s", variant, gn_strerror(st));
        char who[32];
        snprintf(who, sizeof who, "rank %d", size - 1);
        CHECK(strstr(err, who) != NULL, "variant %d: the message does not name %s: %s", variant,
              who, err);
        CHECK(same_as_root(err, sizeof err), "variant %d: the messages differ", variant);
        CHECK(gn_net_reducer(net) == NULL, "a reducer was set");
        CHECK(memcmp(before, gn_net_params(net), gn_net_n_params(net) * sizeof(float)) == 0,
              "the parameters changed");
        free(before);
        gn_net_free(net);
    }
    CHECK(gn_mpi_attach(NULL, NULL, err, sizeof err) == GN_ERR_NULL, "NULL context");
    gn_mpi_free(mpi);
}

/* Rank P−1 fails with a message: every rank gets its status and message. */
static void case_agree(void)
{
    gn_mpi *mpi = make_mpi(GN_MPI_ORDERED);
    char msg[128];
    snprintf(msg, sizeof msg, "mine");
    CHECK(gn_mpi_agree(mpi, GN_OK, msg, sizeof msg) == GN_OK, "all passed");
    CHECK(strcmp(msg, "mine") == 0, "the message changed: %s", msg);
    CHECK(gn_mpi_agree(mpi, GN_OK, NULL, 0) == GN_OK, "NULL message");

    gn_status st = rank == size - 1 ? GN_ERR_FORMAT : GN_OK;
    snprintf(msg, sizeof msg, rank == size - 1 ? "rank %d broke" : "rank %d is fine", rank);
    gn_status got = gn_mpi_agree(mpi, st, msg, sizeof msg);
    char expect[64];
    snprintf(expect, sizeof expect, "rank %d broke", size - 1);
    CHECK(got == GN_ERR_FORMAT, "status %s", gn_strerror(got));
    CHECK(strcmp(msg, expect) == 0, "message '%s'", msg);

    /* several fail: the lowest rank wins; a short buffer gets a truncated, terminated copy */
    st = rank >= size / 2 ? (rank % 2 ? GN_ERR_IO : GN_ERR_NOMEM) : GN_OK;
    snprintf(msg, sizeof msg, "rank %d says so", rank);
    char small[8];
    memcpy(small, msg, sizeof small - 1);
    small[sizeof small - 1] = '\0';
    got = gn_mpi_agree(mpi, st, rank == 0 ? small : msg, rank == 0 ? sizeof small : sizeof msg);
    int first = size / 2;
    CHECK(got == (first % 2 ? GN_ERR_IO : GN_ERR_NOMEM), "status %s", gn_strerror(got));
    snprintf(expect, sizeof expect, "rank %d says so", first);
    if (rank == 0)
        CHECK(strncmp(small, expect, sizeof small - 1) == 0 && strlen(small) == sizeof small - 1,
              "truncated '%s'", small);
    else
        CHECK(strcmp(msg, expect) == 0, "message '%s'", msg);
    /* a failure with no message buffer at the failing rank */
    got = gn_mpi_agree(mpi, rank == 0 ? GN_ERR_ARG : GN_OK, rank == 0 ? NULL : msg,
                       rank == 0 ? 0 : sizeof msg);
    CHECK(got == GN_ERR_ARG, "status %s", gn_strerror(got));
    CHECK(rank == 0 || msg[0] == '\0', "message '%s'", msg);
    CHECK(gn_mpi_agree(NULL, GN_OK, NULL, 0) == GN_ERR_NULL, "NULL context");
    gn_mpi_free(mpi);
}

/* A NaN in the last rank's data: gn_net_fit fails on every rank with that rank's message, and
 * nobody trained. */
static void case_error_stops_all(void)
{
    for (int how = 0; how < GN_MPI_REDUCTION_COUNT; how++) {
        problem p = make_problem(rank == size - 1);
        gn_mpi *mpi = make_mpi((gn_mpi_reduction)how);
        gn_net *net = tanh_net(42);
        attach(mpi, net);
        counting c;
        wrap(net, &c);
        float *before = copy_params(net);
        gn_fit_options o = fit_opts(GN_OPT_ADAM, 2);
        gn_fit_result res;
        memset(&res, 0, sizeof res);
        gn_status st = gn_net_fit(net, p.ds, NULL, &o, &res);
        const char *err = gn_net_last_error(net);
        CHECK(st == GN_ERR_NONFINITE, "%s: status %s (%s)",
              gn_mpi_reduction_name((gn_mpi_reduction)how), gn_strerror(st), err);
        CHECK(strstr(err, "NaN") != NULL, "the message does not say why: %s", err);
        char copy[256] = "";
        snprintf(copy, sizeof copy, "%s", err);
        CHECK(same_as_root(copy, sizeof copy), "the messages differ: %s", err);
        CHECK(res.epochs == 0 && c.reduce_calls == 0, "rank %d trained", rank);
        CHECK(memcmp(before, gn_net_params(net), N_PARAMS * sizeof(float)) == 0,
              "the parameters changed");
        free(before);
        gn_net_set_reducer(net, NULL);
        gn_net_free(net);
        gn_mpi_free(mpi);
        free_problem(&p);
    }
}

/* A 2-epoch fit under MPI writes checkpoints from rank 0 only; rank 0 resumes from one alone to
 * 4 epochs and matches a 4-epoch MPI run. */
static void case_checkpoint(void)
{
    char dir[64] = "", path[128];
    if (rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/gn-mpi-XXXXXX");
        if (!mkdtemp(dir))
            dir[0] = '\0';
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    CHECK(dir[0] != '\0', "mkdtemp failed");
    if (!dir[0])
        return;
    snprintf(path, sizeof path, "%s/ck.gnn", dir);
    problem p = make_problem(0);

    gn_mpi *mpi = make_mpi(GN_MPI_ORDERED);
    gn_net *net = tanh_net(42 + (uint64_t)rank);
    attach(mpi, net);
    gn_fit_options o = fit_opts(GN_OPT_ADAM, 2);
    o.checkpoint_path = path;
    gn_fit_result res;
    gn_status st = gn_net_fit(net, p.ds, NULL, &o, &res);
    CHECK(st == GN_OK, "2 epochs: %s", gn_net_last_error(net));
    float *two = copy_params(net);
    gn_net_set_reducer(net, NULL);
    gn_net_free(net);

    /* the whole 4 epochs under MPI, on every rank */
    net = tanh_net(42 + (uint64_t)rank);
    attach(mpi, net);
    o = fit_opts(GN_OPT_ADAM, 4);
    st = gn_net_fit(net, p.ds, NULL, &o, &res);
    CHECK(st == GN_OK, "4 epochs: %s", gn_net_last_error(net));
    float *four = copy_params(net);
    gn_net_set_reducer(net, NULL);
    gn_net_free(net);
    gn_mpi_free(mpi);

    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        int files = 0;
        DIR *d = opendir(dir);
        CHECK(d != NULL, "opendir %s", dir);
        for (struct dirent *e; d && (e = readdir(d));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                files++;
                CHECK(strcmp(e->d_name, "ck.gnn") == 0, "unexpected file %s", e->d_name);
            }
        if (d)
            closedir(d);
        CHECK(files == 1, "%d files in %s", files, dir);

        char err[256];
        gn_checkpoint *ck = NULL;
        st = gn_checkpoint_load(&ck, path, err, sizeof err);
        CHECK(st == GN_OK, "gn_checkpoint_load: %s", err);
        if (ck) {
            gn_fit_progress prog;
            CHECK(gn_checkpoint_progress(ck, &prog) == 1 && prog.epochs_done == 2,
                  "progress of the checkpoint");
            gn_net *resumed = gn_checkpoint_take_net(ck);
            gn_optimizer *opt = gn_checkpoint_take_optimizer(ck);
            CHECK(resumed && opt, "the checkpoint lacks a network or an optimizer");
            if (resumed && opt) {
                CHECK(memcmp(gn_net_params(resumed), two, N_PARAMS * sizeof(float)) == 0,
                      "the checkpoint is not the 2-epoch MPI result");
                CHECK(gn_net_reducer(resumed) == NULL, "a loaded network has a reducer");
                gn_net_set_backend(resumed, GN_BACKEND_OPENBLAS);
                o = fit_opts(GN_OPT_ADAM, 4);
                o.optimizer = opt;
                o.resume = &prog;
                st = gn_net_fit(resumed, p.ds, NULL, &o, &res);
                CHECK(st == GN_OK, "resuming: %s", gn_net_last_error(resumed));
                check_close(gn_net_params(resumed), four, "resumed alone vs 4 epochs under MPI");
                CHECK(max_abs_diff(gn_net_params(resumed), two, N_PARAMS) >
                          100 * 1e-5 * max_abs(two, N_PARAMS),
                      "the resumed run did not train");
            }
            gn_optimizer_free(opt);
            gn_net_free(resumed);
            gn_checkpoint_free(ck);
        }
        unlink(path);
        rmdir(dir);
    }
    free(two);
    free(four);
    free_problem(&p);
}

/* Direct steps with uneven shares (rank r passes r + 1 samples): the step of the mean over all
 * of them, the global batch coming from batch_total. */
static void case_direct_steps(void)
{
    size_t total = (size_t)size * (size_t)(size + 1) / 2,
           j0 = (size_t)rank * (size_t)(rank + 1) / 2;
    problem p = make_problem(0);
    gn_net *ref = tanh_net(42);
    if (gn_net_reserve(ref, total) != GN_OK)
        MPI_Abort(MPI_COMM_WORLD, 2);
    double ref_loss;
    CHECK(gn_net_backprop(ref, p.X, N_IN, p.Y, N_OUT, total, &ref_loss) == GN_OK, "backprop");
    float *expect = copy_params(ref);
    for (size_t i = 0; i < N_PARAMS; i++) /* SGD on the mean gradient over all the samples */
        expect[i] -= 0.5f * gn_net_grads(ref)[i];
    for (int how = 0; how < GN_MPI_REDUCTION_COUNT; how++) {
        gn_mpi *mpi = make_mpi((gn_mpi_reduction)how);
        gn_net *net = tanh_net(42);
        attach(mpi, net);
        double loss;
        gn_status st = gn_net_train_step(net, p.X + j0 * N_IN, N_IN, p.Y + j0 * N_OUT, N_OUT,
                                         (size_t)rank + 1, 0.5f, &loss);
        CHECK(st == GN_OK, "%s: %s", gn_mpi_reduction_name((gn_mpi_reduction)how),
              gn_net_last_error(net));
        CHECK(fabs(loss - ref_loss) <= 1e-6 * fabs(ref_loss), "loss %.9g, mean over all %.9g", loss,
              ref_loss);
        CHECK(same_as_root(gn_net_params(net), N_PARAMS * sizeof(float)), "the ranks differ");
        double d = max_abs_diff(gn_net_params(net), expect, N_PARAMS);
        CHECK(d <= 1e-6 * max_abs(expect, N_PARAMS), "%s: max |Δw| %g",
              gn_mpi_reduction_name((gn_mpi_reduction)how), d);
        gn_net_set_reducer(net, NULL);
        gn_net_free(net);
        gn_mpi_free(mpi);
    }
    free(expect);
    gn_net_free(ref);
    free_problem(&p);
}

/* gn_mpi_sum adds in rank order (the same bits as a loop here), gn_mpi_max is the maximum. */
static void case_sum_and_max(void)
{
    gn_mpi *mpi = make_mpi(GN_MPI_OVERLAP);
    /* values whose sum depends on the order: 1e16, then ones, then 0.1s */
    double mine = rank == 0 ? 1e16 : rank % 2 ? 1.0 : 0.1, expect = 0.0, sum = -1.0, max = -1.0;
    for (int r = 0; r < size; r++)
        expect += r == 0 ? 1e16 : r % 2 ? 1.0 : 0.1;
    CHECK(gn_mpi_sum(mpi, mine, &sum) == GN_OK, "sum");
    CHECK(memcmp(&sum, &expect, sizeof sum) == 0, "sum %.17g, in rank order %.17g", sum, expect);
    CHECK(gn_mpi_max(mpi, (double)rank - 0.5, &max) == GN_OK, "max");
    CHECK(max == (double)size - 1.5, "max %g", max);
    CHECK(gn_mpi_sum(mpi, 1.0, &sum) == GN_OK && sum == (double)size, "count %g", sum);
    CHECK(gn_mpi_sum(NULL, 1.0, &sum) == GN_ERR_NULL, "NULL context");
    CHECK(gn_mpi_sum(mpi, 1.0, NULL) == GN_ERR_NULL, "NULL result");
    CHECK(gn_mpi_max(NULL, 1.0, &max) == GN_ERR_NULL, "NULL context");
    CHECK(gn_mpi_max(mpi, 1.0, NULL) == GN_ERR_NULL, "NULL result");
    gn_mpi_free(mpi);
}

/* Names, parsing, and the arguments gn_mpi_create refuses. */
static void case_names_and_arguments(void)
{
    for (int h = 0; h < GN_MPI_REDUCTION_COUNT; h++) {
        gn_mpi_reduction back = (gn_mpi_reduction)-1;
        const char *name = gn_mpi_reduction_name((gn_mpi_reduction)h);
        CHECK(gn_mpi_reduction_parse(name, &back) == GN_OK && back == (gn_mpi_reduction)h,
              "round trip of %s", name);
    }
    CHECK(strcmp(gn_mpi_reduction_name(GN_MPI_ORDERED), "ordered") == 0, "ordered");
    CHECK(strcmp(gn_mpi_reduction_name(GN_MPI_ALLREDUCE), "allreduce") == 0, "allreduce");
    CHECK(strcmp(gn_mpi_reduction_name(GN_MPI_OVERLAP), "overlap") == 0, "overlap");
    CHECK(strcmp(gn_mpi_reduction_name((gn_mpi_reduction)GN_MPI_REDUCTION_COUNT), "unknown") == 0,
          "unknown");
    CHECK(strcmp(gn_mpi_reduction_name((gn_mpi_reduction)-1), "unknown") == 0, "unknown");
    gn_mpi_reduction how = GN_MPI_OVERLAP;
    CHECK(gn_mpi_reduction_parse("ring", &how) == GN_ERR_ARG && how == GN_MPI_OVERLAP, "ring");
    CHECK(gn_mpi_reduction_parse("", &how) == GN_ERR_ARG, "empty name");
    CHECK(gn_mpi_reduction_parse(NULL, &how) == GN_ERR_NULL, "NULL name");
    CHECK(gn_mpi_reduction_parse("ordered", NULL) == GN_ERR_NULL, "NULL out");
    CHECK(gn_mpi_rank(NULL) == -1 && gn_mpi_size(NULL) == 0, "NULL context");
    gn_mpi_free(NULL);

    char err[256];
    gn_mpi *mpi = (gn_mpi *)&how;
    CHECK(gn_mpi_create(NULL, MPI_COMM_WORLD, GN_MPI_ORDERED, err, sizeof err) == GN_ERR_NULL,
          "NULL out");
    CHECK(gn_mpi_create(&mpi, MPI_COMM_NULL, GN_MPI_ORDERED, err, sizeof err) == GN_ERR_ARG && !mpi,
          "MPI_COMM_NULL");
    /* collective refusals: every rank gets the same status */
    gn_status st = gn_mpi_create(&mpi, MPI_COMM_WORLD, (gn_mpi_reduction)7, err, sizeof err);
    CHECK(st == GN_ERR_ARG && !mpi, "unknown reduction: %s", gn_strerror(st));
    CHECK(strstr(err, "reduction") != NULL, "message: %s", err);
    st = gn_mpi_create(&mpi, MPI_COMM_WORLD, rank == 1 ? (gn_mpi_reduction)9 : GN_MPI_ORDERED, err,
                       sizeof err);
    CHECK(st == (size > 1 ? GN_ERR_ARG : GN_OK), "unknown reduction on rank 1: %s",
          gn_strerror(st));
    gn_mpi_free(mpi);
    st = gn_mpi_create(&mpi, MPI_COMM_WORLD, rank == 1 ? GN_MPI_OVERLAP : GN_MPI_ORDERED, err,
                       sizeof err);
    CHECK(st == (size > 1 ? GN_ERR_ARG : GN_OK), "different reductions: %s", gn_strerror(st));
    CHECK(size == 1 || strstr(err, "different"), "message: %s", err);
    gn_mpi_free(mpi);
    /* a context on a sub-communicator works alone: ranks split into evens and odds */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    st = gn_mpi_create(&mpi, half, GN_MPI_ORDERED, err, sizeof err);
    CHECK(st == GN_OK, "split: %s", err);
    double sum = 0.0;
    CHECK(mpi && gn_mpi_sum(mpi, 1.0, &sum) == GN_OK && sum == (double)((size - rank % 2 + 1) / 2),
          "ranks in my half: %g", sum);
    CHECK(gn_mpi_rank(mpi) == rank / 2, "rank in my half %d", gn_mpi_rank(mpi));
    gn_mpi_free(mpi);
    MPI_Comm_free(&half);
}

/*---- main ----*/

typedef struct test_case {
    const char *name;
    void (*run)(void);
} test_case;

static const test_case cases[] = {
    {"attach_makes_ranks_equal", case_attach_makes_ranks_equal},
    {"attach_refuses_other_architectures", case_attach_refuses_other_architectures},
    {"hooks_sum_exactly", case_hooks_sum_exactly},
    {"fit_ordered", case_fit_ordered},
    {"fit_allreduce", case_fit_allreduce},
    {"fit_overlap", case_fit_overlap},
    {"reductions_compare", case_reductions_compare},
    {"direct_steps", case_direct_steps},
    {"agree", case_agree},
    {"error_stops_all", case_error_stops_all},
    {"checkpoint", case_checkpoint},
    {"sum_and_max", case_sum_and_max},
    {"names_and_arguments", case_names_and_arguments},
};

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 2;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int n = (int)(sizeof cases / sizeof cases[0]), passed = 0;
    for (int i = 0; i < n; i++) {
        case_failed = 0;
        double t0 = MPI_Wtime();
        cases[i].run();
        int any = 0;
        MPI_Allreduce(&case_failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        passed += !any;
        if (rank == 0)
            printf("[%s] mpi::%s (%d ranks, %.2f s)\n", any ? "FAIL" : "PASS", cases[i].name, size,
                   MPI_Wtime() - t0);
        fflush(stdout);
    }
    for (int k = 0; k < 2; k++) {
        free(alone[k]);
        for (int h = 0; h < GN_MPI_REDUCTION_COUNT; h++)
            free(fitted[h][k]);
    }
    if (rank == 0)
        printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0\n", n,
               passed, n - passed);
    MPI_Finalize();
    return passed == n ? 0 : 1;
}
