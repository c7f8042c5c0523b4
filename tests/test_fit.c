/* The training loop gn_net_fit and what comes with it: reproducibility, learning-rate
 * schedules, early stopping, callbacks, argument checks, workspace growth, wrapped datasets,
 * model-owned standardisation, dropout, and the metrics. Expected values are computed here, in
 * double, from the data and the formulas in gemmnet.h; none is copied from the library. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/*---- helpers ----*/

static const double PI = 3.14159265358979323846;

/* Three 2-D Gaussian blobs (σ = 0.6) centred on a circle of radius 3, 120° apart, the class of
 * each sample drawn uniformly: X is 2 × n (ld 2), Y one-hot 3 × n (ld 3). Neighbouring centres
 * are 3√3 ≈ 5.2 apart, 4.3 σ from the boundary between them, so the Bayes error is below 1e-4:
 * a working classifier reaches 0.95 easily, a broken one (chance is 1/3) does not. */
static void make_blobs(size_t n, uint64_t seed, float **X, float **Y)
{
    static const double cx[3] = {0.0, -2.598076, 2.598076}, cy[3] = {3.0, -1.5, -1.5};
    *X = malloc(2 * n * sizeof **X);
    *Y = calloc(3 * n, sizeof **Y);
    cr_assert(*X && *Y);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < n; j++) {
        size_t c = (size_t)gn_rng_below(&rng, 3);
        (*X)[2 * j] = (float)(cx[c] + 0.6 * gn_rng_normal(&rng));
        (*X)[2 * j + 1] = (float)(cy[c] + 0.6 * gn_rng_normal(&rng));
        (*Y)[c + 3 * j] = 1.0f;
    }
}

/* A 2-hidden-3 ReLU/softmax/CCE classifier for the blobs. */
static gn_net *blob_net(size_t hidden, size_t max_batch, uint64_t seed)
{
    const size_t sizes[] = {2, hidden, 3};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_SOFTMAX};
    return make_net(sizes, 3, acts, GN_LOSS_CCE, max_batch, seed);
}

static gn_dataset *wrap(const float *X, size_t ldx, const float *Y, size_t ldy, size_t nf,
                        size_t no, size_t n)
{
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_wrap(&ds, X, ldx, Y, ldy, nf, no, n), GN_OK);
    return ds;
}

/* The defaults (Adam) with these fields set. */
static gn_fit_options fit_options(size_t epochs, size_t batch, float lr)
{
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = epochs;
    o.batch = batch;
    o.opt.lr = lr;
    return o;
}

static void fit_ok(gn_net *net, const gn_dataset *train, const gn_dataset *val,
                   const gn_fit_options *o, gn_fit_result *r)
{
    gn_status st = gn_net_fit(net, train, val, o, r);
    cr_assert_eq(st, GN_OK, "gn_net_fit: %s: %s", gn_strerror(st), gn_net_last_error(net));
}

static float *copy_params(gn_net *net)
{
    size_t np = gn_net_n_params(net);
    float *p = malloc(np * sizeof *p);
    cr_assert_not_null(p);
    memcpy(p, gn_net_params(net), np * sizeof *p);
    return p;
}

static int same_params(gn_net *a, gn_net *b)
{
    size_t np = gn_net_n_params(a);
    return np == gn_net_n_params(b) &&
           memcmp(gn_net_params(a), gn_net_params(b), np * sizeof(float)) == 0;
}

static size_t argmax(const float *x, size_t k)
{
    size_t best = 0;
    for (size_t i = 1; i < k; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Fraction of the n samples whose predicted argmax (from gn_net_predict) is the target's. */
static double accuracy(gn_net *net, const float *X, size_t ldx, const float *Y, size_t k, size_t n)
{
    float *P = malloc(k * n * sizeof *P);
    cr_assert_not_null(P);
    cr_assert_eq(gn_net_predict(net, X, ldx, n, P, k), GN_OK);
    size_t hits = 0;
    for (size_t j = 0; j < n; j++)
        hits += argmax(P + j * k, k) == argmax(Y + j * k, k);
    free(P);
    return (double)hits / (double)n;
}

/* Population mean and standard deviation of row i of a rows × n matrix (ld), two passes in
 * double. */
static void row_mean_std(const float *A, size_t ld, size_t i, size_t n, double *mean, double *sd)
{
    double s = 0.0, q = 0.0;
    for (size_t j = 0; j < n; j++)
        s += A[i + j * ld];
    *mean = s / (double)n;
    for (size_t j = 0; j < n; j++)
        q += (A[i + j * ld] - *mean) * (A[i + j * ld] - *mean);
    *sd = sqrt(q / (double)n);
}

/* got is the float nearest to want, give or take one unit in the last place (the library and
 * this test sum in double in possibly different orders, then round once to float). */
static void assert_float_of(float got, double want, const char *what, size_t i)
{
    cr_assert(fabs((double)got - want) <= FLT_EPSILON * fabs(want), "%s[%zu] = %.9g, want %.9g",
              what, i, (double)got, want);
}

/*---- fit: reproducibility and equivalences ----*/

/* Same seed, data and options on one BLAS thread → bit-identical parameters (documented).
 * A different seed changes the result, and so does the shuffling alone: the same initial
 * parameters with another network seed end elsewhere, because the shuffle uses the network's
 * own RNG. */
Test(fit, same_seed_gives_bit_identical_parameters)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    float *X, *Y;
    make_blobs(200, 11, &X, &Y);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, 200);
    gn_fit_options o = fit_options(4, 16, 0.01f);
    gn_net *a = blob_net(8, 16, 7), *b = blob_net(8, 16, 7), *c = blob_net(8, 16, 8);
    gn_net *d = blob_net(8, 16, 8);
    memcpy(gn_net_params(d), gn_net_params(a), gn_net_n_params(a) * sizeof(float));
    float *init = copy_params(a);
    fit_ok(a, ds, NULL, &o, NULL);
    fit_ok(b, ds, NULL, &o, NULL);
    fit_ok(c, ds, NULL, &o, NULL);
    fit_ok(d, ds, NULL, &o, NULL);
    cr_assert_neq(memcmp(init, gn_net_params(a), gn_net_n_params(a) * sizeof(float)), 0,
                  "fit did not change the parameters");
    cr_assert(same_params(a, b), "same seed, different parameters");
    cr_assert_not(same_params(a, c), "seeds 7 and 8 give the same parameters");
    cr_assert_not(same_params(a, d), "the shuffle does not depend on the network's seed");
    free(init);
    gn_net_free(a);
    gn_net_free(b);
    gn_net_free(c);
    gn_net_free(d);
    gn_dataset_free(ds);
    free(X);
    free(Y);
}

/* Without shuffling, fit is gn_optimizer_step over consecutive batches (the last one short)
 * with an optimizer made from opt.opt: same parameters bit for bit, and train_loss is the
 * sample-weighted mean of the batch losses ("mean training loss of the last epoch"). */
Test(fit, unshuffled_fit_equals_manual_optimizer_steps)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    enum { N = 50, B = 16, E = 2 };
    float *X, *Y;
    make_blobs(N, 3, &X, &Y);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_fit_options o = fit_options(E, B, 0.01f);
    o.shuffle = 0;
    gn_net *a = blob_net(8, B, 5), *b = blob_net(8, B, 5);
    gn_fit_result r;
    fit_ok(a, ds, NULL, &o, &r);

    gn_optimizer *opt = NULL;
    cr_assert_eq(gn_optimizer_create(&opt, b, &o.opt, NULL, 0), GN_OK);
    double last = 0.0;
    for (int e = 0; e < E; e++) {
        double sum = 0.0;
        for (size_t j0 = 0; j0 < N; j0 += B) {
            size_t m = N - j0 < B ? N - j0 : B;
            double loss;
            cr_assert_eq(gn_optimizer_step(opt, b, X + 2 * j0, 2, Y + 3 * j0, 3, m, &loss), GN_OK);
            sum += loss * (double)m;
        }
        last = sum / N;
    }
    cr_assert_eq(gn_optimizer_steps(opt), E * 4, "ceil(50 / 16) = 4 steps per epoch");
    cr_assert(same_params(a, b), "fit without shuffling differs from the manual steps");
    cr_assert_eq(r.epochs, E);
    cr_assert_eq(r.samples, E * N);
    cr_assert_eq(r.stopped_early, 0);
    cr_assert_eq(r.best_epoch, 0, "no validation set");
    cr_assert(isnan(r.best_val_loss), "no validation set: best_val_loss %g", r.best_val_loss);
    cr_assert(rel_err(r.train_loss, last) < 1e-12, "train_loss %.17g, manual %.17g", r.train_loss,
              last);
    cr_assert(r.train_seconds >= 0.0);
    gn_optimizer_free(opt);
    gn_net_free(a);
    gn_net_free(b);
    gn_dataset_free(ds);
    free(X);
    free(Y);
}

/* An optimizer passed in opt.optimizer is used instead of opt.opt, and its state carries over:
 * fitting 2 epochs and then 1 more with the same optimizer equals one fit of 3 epochs (no
 * shuffling, constant rate). Its step count is the number of batches. */
typedef struct lr_probe {
    gn_optimizer *opt;
    size_t calls;
    float info_lr[16], opt_lr[16];
} lr_probe;

static int probe_lr(gn_net *net, const gn_epoch_info *info, void *user)
{
    (void)net;
    lr_probe *p = user;
    cr_assert_lt(p->calls, 16);
    p->info_lr[p->calls] = info->lr;
    p->opt_lr[p->calls] = p->opt ? gn_optimizer_lr(p->opt) : NAN;
    p->calls++;
    return 0;
}

Test(fit, given_optimizer_is_used_and_keeps_its_state)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    enum { N = 40, B = 16 };
    float *X, *Y;
    make_blobs(N, 4, &X, &Y);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_net *a = blob_net(8, B, 9), *b = blob_net(8, B, 9);

    gn_fit_options whole = fit_options(3, B, 0.004f);
    whole.shuffle = 0;
    fit_ok(a, ds, NULL, &whole, NULL);

    gn_optimizer_config oc;
    gn_optimizer_config_defaults(&oc, GN_OPT_ADAM);
    oc.lr = 0.004f;
    gn_optimizer *opt = NULL;
    cr_assert_eq(gn_optimizer_create(&opt, b, &oc, NULL, 0), GN_OK);
    lr_probe probe = {.opt = opt};
    gn_fit_options parts = fit_options(2, B, 0.5f); /* opt.opt is ignored */
    parts.opt.kind = GN_OPT_SGD;
    parts.optimizer = opt;
    parts.shuffle = 0;
    parts.on_epoch = probe_lr;
    parts.user = &probe;
    fit_ok(b, ds, NULL, &parts, NULL);
    cr_assert_eq(gn_optimizer_steps(opt), 2 * 3, "ceil(40 / 16) = 3 steps per epoch");
    parts.epochs = 1;
    fit_ok(b, ds, NULL, &parts, NULL);
    cr_assert_eq(gn_optimizer_steps(opt), 3 * 3);
    cr_assert(same_params(a, b), "2 + 1 epochs with one optimizer differ from 3 epochs");
    cr_assert_eq(probe.calls, 3);
    for (size_t e = 0; e < probe.calls; e++) {
        cr_assert_eq(probe.info_lr[e], 0.004f, "epoch %zu: lr %g", e + 1, (double)probe.info_lr[e]);
        cr_assert_eq(probe.opt_lr[e], 0.004f, "epoch %zu: the optimizer's lr is %g", e + 1,
                     (double)probe.opt_lr[e]);
    }
    gn_optimizer_free(opt);
    gn_net_free(a);
    gn_net_free(b);
    gn_dataset_free(ds);
    free(X);
    free(Y);
}

/*---- fit: learning-rate schedules ----*/

static void run_schedule(gn_schedule s, size_t epochs, float lr, lr_probe *probe)
{
    enum { N = 20 };
    float *X, *Y;
    make_blobs(N, 5, &X, &Y);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_net *net = blob_net(4, 10, 1);
    gn_fit_options o = fit_options(epochs, 10, lr);
    o.schedule = s;
    o.step_epochs = 3;
    o.gamma = 0.5f;
    o.min_lr = 1e-4f;
    o.on_epoch = probe_lr;
    o.user = probe;
    fit_ok(net, ds, NULL, &o, NULL);
    cr_assert_eq(probe->calls, epochs);
    gn_net_free(net);
    gn_dataset_free(ds);
    free(X);
    free(Y);
}

/* info->lr against the formulas of gn_schedule, epoch counted from 1. */
Test(fit, constant_schedule)
{
    lr_probe p = {0};
    run_schedule(GN_SCHEDULE_CONSTANT, 7, 0.01f, &p);
    for (size_t e = 1; e <= 7; e++)
        cr_assert_eq(p.info_lr[e - 1], 0.01f, "epoch %zu: %g", e, (double)p.info_lr[e - 1]);
}

/* lr · gamma^⌊(epoch − 1) / step_epochs⌋ with gamma = 1/2: 1, 1, 1, ½, ½, ½, ¼ times lr.
 * Scaling by a power of two is exact in float, so the comparison is exact. */
Test(fit, step_schedule)
{
    lr_probe p = {0};
    run_schedule(GN_SCHEDULE_STEP, 7, 0.01f, &p);
    for (size_t e = 1; e <= 7; e++) {
        float want = (float)((double)0.01f * pow(0.5, (double)((e - 1) / 3)));
        cr_assert_eq(p.info_lr[e - 1], want, "epoch %zu: %.9g, want %.9g", e,
                     (double)p.info_lr[e - 1], (double)want);
    }
    cr_assert_eq(p.info_lr[6], 0.0025f);
}

/* min_lr + ½(lr − min_lr)(1 + cos(π (epoch − 1) / epochs)), evaluated in double here: the
 * float result may differ by the rounding of a few float operations (≲ 4 ulp ≈ 5e-7). */
Test(fit, cosine_schedule)
{
    lr_probe p = {0};
    const double lr = 0.01f, min_lr = 1e-4f;
    run_schedule(GN_SCHEDULE_COSINE, 7, 0.01f, &p);
    for (size_t e = 1; e <= 7; e++) {
        double want = min_lr + 0.5 * (lr - min_lr) * (1.0 + cos(PI * (double)(e - 1) / 7.0));
        cr_assert(rel_err(p.info_lr[e - 1], want) <= 1e-6, "epoch %zu: %.9g, want %.9g", e,
                  (double)p.info_lr[e - 1], want);
    }
    cr_assert_eq(p.info_lr[0], 0.01f, "the first epoch uses lr itself");
    for (size_t e = 1; e < 7; e++)
        cr_assert_lt(p.info_lr[e], p.info_lr[e - 1], "cosine decay is strictly decreasing");
}

/*---- fit: early stopping ----*/

/* Every epoch's parameters and validation loss, indexed by the 1-based epoch. */
typedef struct snapshots {
    size_t np, cap, calls;
    float *params; /* (cap + 1) × np */
    double *val_loss;
    int stop_at; /* on_epoch returns non-zero at this epoch (0: never) */
} snapshots;

static int take_snapshot(gn_net *net, const gn_epoch_info *info, void *user)
{
    snapshots *s = user;
    s->calls++;
    cr_assert_eq(info->epoch, s->calls, "epochs are reported in order from 1");
    cr_assert_leq(info->epoch, s->cap);
    memcpy(s->params + info->epoch * s->np, gn_net_params(net), s->np * sizeof(float));
    s->val_loss[info->epoch] = info->val_loss;
    return s->stop_at && (int)info->epoch == s->stop_at;
}

static snapshots snapshots_new(size_t np, size_t cap)
{
    snapshots s = {
        np, cap, 0, malloc((cap + 1) * np * sizeof(float)), malloc((cap + 1) * sizeof(double)), 0};
    cr_assert(s.params && s.val_loss);
    return s;
}

static void snapshots_free(snapshots *s)
{
    free(s->params);
    free(s->val_loss);
}

enum { ES_F = 8, ES_K = 3, ES_TRAIN = 40, ES_VAL = 100, ES_LIMIT = 300, ES_PATIENCE = 5 };

/* An over-sized 8-64-3 net fits 40 random points with random labels; the validation set has
 * random labels too, so nothing learnt carries over. From its He initialisation the net is
 * over-confident, so the validation loss first falls as Adam (lr 0.002) calibrates the outputs,
 * then rises as the net memorises the training set: patience must run out long before the epoch
 * limit, with the best epoch inside the run. */
static gn_net *overfit_run(int restore_best, const float *X, const float *Y, const float *Xv,
                           const float *Yv, snapshots *s, gn_fit_result *r)
{
    const size_t sizes[] = {ES_F, 64, ES_K};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_CCE, 8, 21);
    gn_dataset *tr = wrap(X, ES_F, Y, ES_K, ES_F, ES_K, ES_TRAIN);
    gn_dataset *va = wrap(Xv, ES_F, Yv, ES_K, ES_F, ES_K, ES_VAL);
    *s = snapshots_new(gn_net_n_params(net), ES_LIMIT);
    gn_fit_options o = fit_options(ES_LIMIT, 8, 0.002f);
    o.patience = ES_PATIENCE;
    o.restore_best = restore_best;
    o.on_epoch = take_snapshot;
    o.user = s;
    fit_ok(net, tr, va, &o, r);
    gn_dataset_free(tr);
    gn_dataset_free(va);
    return net;
}

static const float *snapshot(const snapshots *s, size_t epoch) { return s->params + epoch * s->np; }

/* The result agrees with the losses seen in on_epoch: best_epoch is the first epoch of the
 * lowest validation loss, none of the patience epochs after it is lower, and training stopped
 * exactly patience epochs after it. */
static void assert_stopped_by_patience(const gn_fit_result *r, const snapshots *s)
{
    cr_assert_eq(r->stopped_early, 1, "stopped_early = %d", r->stopped_early);
    cr_assert_lt(r->epochs, ES_LIMIT);
    cr_assert_eq(s->calls, r->epochs);
    cr_assert_gt(r->best_epoch, 1, "degenerate scenario: the first epoch was the best");
    cr_assert_eq(r->best_epoch + ES_PATIENCE, r->epochs, "best epoch %zu, stopped after %zu",
                 r->best_epoch, r->epochs);
    size_t best = 1;
    for (size_t e = 2; e <= r->epochs; e++)
        if (s->val_loss[e] < s->val_loss[best])
            best = e;
    cr_assert_eq(r->best_epoch, best, "lowest validation loss in epoch %zu", best);
    cr_assert_eq(r->best_val_loss, s->val_loss[best]);
    cr_assert_eq(r->samples, r->epochs * ES_TRAIN);
}

Test(fit, early_stopping_with_restore_best)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    float *X = random_floats(ES_F * ES_TRAIN, -1, 1, 31), *Y = random_onehot(ES_K, ES_TRAIN, 32);
    float *Xv = random_floats(ES_F * ES_VAL, -1, 1, 33), *Yv = random_onehot(ES_K, ES_VAL, 34);
    snapshots s;
    gn_fit_result r;
    gn_net *net = overfit_run(1, X, Y, Xv, Yv, &s, &r);
    assert_stopped_by_patience(&r, &s);
    cr_assert_eq(memcmp(gn_net_params(net), snapshot(&s, r.best_epoch), s.np * sizeof(float)), 0,
                 "restore_best: the parameters are not those of epoch %zu", r.best_epoch);
    cr_assert_neq(memcmp(gn_net_params(net), snapshot(&s, r.epochs), s.np * sizeof(float)), 0,
                  "the last epoch's parameters equal the best epoch's: the test proves nothing");
    /* the restored network has the best validation loss again (same computation) */
    double vl;
    cr_assert_eq(gn_net_evaluate(net, Xv, ES_F, Yv, ES_K, ES_VAL, &vl, NULL), GN_OK);
    cr_assert(rel_err(vl, r.best_val_loss) < 1e-12, "%.17g vs %.17g", vl, r.best_val_loss);
    snapshots_free(&s);
    gn_net_free(net);
    free(X);
    free(Y);
    free(Xv);
    free(Yv);
}

Test(fit, early_stopping_without_restore_keeps_last_epoch)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    float *X = random_floats(ES_F * ES_TRAIN, -1, 1, 31), *Y = random_onehot(ES_K, ES_TRAIN, 32);
    float *Xv = random_floats(ES_F * ES_VAL, -1, 1, 33), *Yv = random_onehot(ES_K, ES_VAL, 34);
    snapshots s1, s0;
    gn_fit_result r1, r0;
    gn_net *kept = overfit_run(1, X, Y, Xv, Yv, &s1, &r1);
    gn_net *last = overfit_run(0, X, Y, Xv, Yv, &s0, &r0);
    assert_stopped_by_patience(&r0, &s0);
    /* restore_best acts only at the end: the run itself is the same */
    cr_assert_eq(r0.epochs, r1.epochs);
    cr_assert_eq(r0.best_epoch, r1.best_epoch);
    cr_assert_eq(memcmp(gn_net_params(last), snapshot(&s0, r0.epochs), s0.np * sizeof(float)), 0,
                 "restore_best = 0: the parameters are not the last epoch's");
    cr_assert_eq(memcmp(gn_net_params(last), snapshot(&s1, r1.epochs), s1.np * sizeof(float)), 0);
    cr_assert_not(same_params(kept, last));
    snapshots_free(&s1);
    snapshots_free(&s0);
    gn_net_free(kept);
    gn_net_free(last);
    free(X);
    free(Y);
    free(Xv);
    free(Yv);
}

/* on_epoch returning non-zero stops after that epoch, which is not an error. Without a
 * validation set the validation fields are NaN and best_epoch is 0. */
static int stop_at_three(gn_net *net, const gn_epoch_info *info, void *user)
{
    (void)net;
    gn_epoch_info *seen = user;
    seen[info->epoch - 1] = *info;
    return info->epoch == 3;
}

Test(fit, on_epoch_can_stop)
{
    enum { N = 30 };
    float *X, *Y;
    make_blobs(N, 6, &X, &Y);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_net *net = blob_net(4, 8, 2);
    gn_epoch_info seen[10];
    gn_fit_options o = fit_options(10, 8, 0.01f);
    o.on_epoch = stop_at_three;
    o.user = seen;
    gn_fit_result r;
    fit_ok(net, ds, NULL, &o, &r);
    cr_assert_eq(r.stopped_early, 2);
    cr_assert_eq(r.epochs, 3);
    cr_assert_eq(r.samples, 3 * N);
    cr_assert_eq(r.best_epoch, 0);
    cr_assert(isnan(r.best_val_loss));
    for (size_t e = 1; e <= 3; e++) {
        const gn_epoch_info *i = &seen[e - 1];
        cr_assert_eq(i->epoch, e);
        cr_assert_eq(i->epochs, 10);
        cr_assert_eq(i->samples, N);
        cr_assert(isfinite(i->train_loss) && i->train_loss > 0.0);
        cr_assert(i->seconds >= 0.0);
        cr_assert(isnan(i->val_loss) && isnan(i->val_accuracy), "no validation set");
    }
    cr_assert_eq(r.train_loss, seen[2].train_loss, "train_loss is the last epoch's");

    /* with a validation set and patience the callback's stop is still reported as 2 */
    float *Xv, *Yv;
    make_blobs(N, 7, &Xv, &Yv);
    gn_dataset *val = wrap(Xv, 2, Yv, 3, 2, 3, N);
    o.patience = 100;
    fit_ok(net, ds, val, &o, &r);
    cr_assert_eq(r.stopped_early, 2);
    cr_assert_eq(r.epochs, 3);
    for (size_t e = 1; e <= 3; e++) {
        cr_assert(isfinite(seen[e - 1].val_loss));
        cr_assert(seen[e - 1].val_accuracy >= 0.0 && seen[e - 1].val_accuracy <= 1.0);
    }
    gn_dataset_free(val);
    gn_dataset_free(ds);
    gn_net_free(net);
    free(X);
    free(Y);
    free(Xv);
    free(Yv);
}

/*---- fit: on_batch ----*/

typedef struct batch_log {
    gn_net *net;
    size_t calls;
    size_t epoch[64], batch[64], n_batches[64];
} batch_log;

static void log_batch(gn_net *net, size_t epoch, size_t batch, size_t n_batches, void *user)
{
    batch_log *l = user;
    cr_assert_eq(net, l->net);
    cr_assert_lt(l->calls, 64);
    l->epoch[l->calls] = epoch;
    l->batch[l->calls] = batch;
    l->n_batches[l->calls] = n_batches;
    l->calls++;
}

/* on_batch runs after every mini-batch: ceil(n / batch) times per epoch, with the 1-based
 * epoch, the 1-based batch number and the number of batches. */
Test(fit, on_batch_counts)
{
    const size_t ns[] = {50, 48, 5};
    const size_t want_batches[] = {4, 3, 1}; /* ceil(50/16), ceil(48/16), ceil(5/16) */
    for (int c = 0; c < 3; c++) {
        size_t n = ns[c];
        float *X, *Y;
        make_blobs(n, 8, &X, &Y);
        gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, n);
        gn_net *net = blob_net(4, 16, 3);
        batch_log log = {.net = net};
        gn_fit_options o = fit_options(3, 16, 0.01f);
        o.on_batch = log_batch;
        o.user = &log;
        fit_ok(net, ds, NULL, &o, NULL);
        size_t nb = want_batches[c];
        cr_assert_eq(log.calls, 3 * nb, "n = %zu: %zu calls", n, log.calls);
        for (size_t k = 0; k < log.calls; k++) {
            cr_assert_eq(log.epoch[k], k / nb + 1, "n = %zu, call %zu", n, k);
            cr_assert_eq(log.batch[k], k % nb + 1, "n = %zu, call %zu", n, k);
            cr_assert_eq(log.n_batches[k], nb, "n = %zu, call %zu", n, k);
        }
        gn_net_free(net);
        gn_dataset_free(ds);
        free(X);
        free(Y);
    }
}

/*---- fit: workspace ----*/

/* A batch above max_batch grows the workspace to it, and training is the same as on a net
 * created with that workspace; a larger workspace is kept. */
Test(fit, batch_above_max_batch_grows_the_workspace)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    enum { N = 100 };
    float *X, *Y;
    make_blobs(N, 9, &X, &Y);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_net *small = blob_net(8, 8, 4), *big = blob_net(8, 32, 4), *bigger = blob_net(8, 64, 4);
    gn_fit_options o = fit_options(2, 32, 0.01f);
    fit_ok(small, ds, NULL, &o, NULL);
    fit_ok(big, ds, NULL, &o, NULL);
    fit_ok(bigger, ds, NULL, &o, NULL);
    cr_assert_eq(gn_net_max_batch(small), 32, "workspace %zu", gn_net_max_batch(small));
    cr_assert_eq(gn_net_max_batch(big), 32);
    cr_assert_eq(gn_net_max_batch(bigger), 64, "fit must not shrink the workspace");
    cr_assert(same_params(small, big), "the grown workspace trains differently");
    cr_assert(same_params(small, bigger));
    gn_net_free(small);
    gn_net_free(big);
    gn_net_free(bigger);
    gn_dataset_free(ds);
    free(X);
    free(Y);
}

/*---- fit: wrapped datasets ----*/

/* Copies a rows × n matrix (ld = rows) into one with leading dimension ld, padding with NaN. */
static float *pad_nan(const float *A, size_t rows, size_t n, size_t ld)
{
    float *P = malloc(ld * n * sizeof *P);
    cr_assert_not_null(P);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < ld; i++)
            P[i + j * ld] = i < rows ? A[i + j * rows] : NAN;
    return P;
}

/* A wrapped dataset with ldx > n_features and ldy > n_outputs, the padding NaN, trains to the
 * same bits as the compact data: the padding is never read (a NaN read anywhere would spread to
 * the parameters or be reported), with and without shuffling, with validation, early stopping
 * and input standardisation (which reads the training set too). */
Test(fit, padded_wrapped_dataset_equals_compact)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    enum { N = 120, NV = 60, LDX = 5, LDY = 4 };
    float *X, *Y, *Xv, *Yv;
    make_blobs(N, 12, &X, &Y);
    make_blobs(NV, 13, &Xv, &Yv);
    float *PX = pad_nan(X, 2, N, LDX), *PY = pad_nan(Y, 3, N, LDY);
    float *PXv = pad_nan(Xv, 2, NV, LDX), *PYv = pad_nan(Yv, 3, NV, LDY);
    gn_dataset *tc = wrap(X, 2, Y, 3, 2, 3, N), *vc = wrap(Xv, 2, Yv, 3, 2, 3, NV);
    gn_dataset *tp = wrap(PX, LDX, PY, LDY, 2, 3, N), *vp = wrap(PXv, LDX, PYv, LDY, 2, 3, NV);
    for (int shuffle = 0; shuffle <= 1; shuffle++) {
        gn_net *a = blob_net(8, 16, 14), *b = blob_net(8, 16, 14);
        gn_fit_options o = fit_options(4, 16, 0.01f);
        o.shuffle = shuffle;
        o.patience = 2;
        o.standardize = GN_STANDARDIZE_INPUTS;
        gn_fit_result ra, rb;
        fit_ok(a, tc, vc, &o, &ra);
        fit_ok(b, tp, vp, &o, &rb);
        cr_assert(same_params(a, b), "shuffle %d: padded data trains differently", shuffle);
        for (size_t i = 0; i < gn_net_n_params(b); i++)
            cr_assert(isfinite(gn_net_params(b)[i]), "shuffle %d: parameter %zu", shuffle, i);
        const float *ma, *sa, *mb, *sb;
        cr_assert_eq(gn_net_input_scaling(a, &ma, &sa), GN_OK);
        cr_assert_eq(gn_net_input_scaling(b, &mb, &sb), GN_OK);
        cr_assert(ma && sa && mb && sb);
        cr_assert_eq(memcmp(ma, mb, 2 * sizeof *ma), 0);
        cr_assert_eq(memcmp(sa, sb, 2 * sizeof *sa), 0);
        cr_assert_eq(ra.train_loss, rb.train_loss);
        cr_assert_eq(ra.best_val_loss, rb.best_val_loss);
        cr_assert(isfinite(rb.best_val_loss));
        gn_net_free(a);
        gn_net_free(b);
    }
    gn_dataset *all[] = {tc, vc, tp, vp};
    for (int i = 0; i < 4; i++)
        gn_dataset_free(all[i]);
    float *bufs[] = {X, Y, Xv, Yv, PX, PY, PXv, PYv};
    for (int i = 0; i < 8; i++)
        free(bufs[i]);
}

/*---- fit: learning ----*/

/* 300 blob samples, 2-16-3 ReLU/softmax/CCE with Adam: ≥ 95 % on 300 held-out samples,
 * counted here from gn_net_predict (and gn_net_evaluate agrees). */
Test(fit, learns_gaussian_blobs)
{
    enum { N = 300 };
    float *X, *Y, *Xt, *Yt;
    make_blobs(N, 15, &X, &Y);
    make_blobs(N, 16, &Xt, &Yt);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_net *net = blob_net(16, 32, 17);
    double before = accuracy(net, Xt, 2, Yt, 3, N);
    gn_fit_options o = fit_options(30, 32, 0.01f);
    gn_fit_result r;
    fit_ok(net, ds, NULL, &o, &r);
    double acc = accuracy(net, Xt, 2, Yt, 3, N), eval_acc;
    cr_assert_geq(acc, 0.95, "held-out accuracy %.3f (before training %.3f)", acc, before);
    cr_assert_eq(gn_net_evaluate(net, Xt, 2, Yt, 3, N, NULL, &eval_acc), GN_OK);
    cr_assert_eq(eval_acc, acc, "gn_net_evaluate %.6f, counted %.6f", eval_acc, acc);
    cr_assert_eq(r.epochs, 30);
    cr_assert_eq(r.stopped_early, 0);
    gn_dataset_free(ds);
    gn_net_free(net);
    free(X);
    free(Y);
    free(Xt);
    free(Yt);
}

/*---- fit: argument errors ----*/

/* The call fails with want, says why, fills *result (no epochs) and leaves the parameters. */
static void expect_fit_error(gn_net *net, const gn_dataset *train, const gn_dataset *val,
                             const gn_fit_options *o, gn_status want, const char *what)
{
    float *before = copy_params(net);
    gn_fit_result r;
    memset(&r, 0xA5, sizeof r);
    gn_status st = gn_net_fit(net, train, val, o, &r);
    cr_assert_eq(st, want, "%s: got %d (%s), want %d (%s)", what, st, gn_strerror(st), want,
                 gn_strerror(want));
    cr_assert_str_neq(gn_net_last_error(net), "", "%s: no message", what);
    cr_assert_eq(r.epochs, 0, "%s: result not filled in", what);
    cr_assert_eq(r.samples, 0, "%s: result not filled in", what);
    cr_assert_eq(memcmp(before, gn_net_params(net), gn_net_n_params(net) * sizeof *before), 0,
                 "%s: the parameters changed", what);
    free(before);
}

Test(fit_errors, arguments)
{
    enum { N = 20 };
    float *X, *Y;
    make_blobs(N, 18, &X, &Y);
    float *X3 = random_floats(3 * N, -1, 1, 19), *Y2 = random_onehot(2, N, 20);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_dataset *wide = wrap(X3, 3, Y, 3, 3, 3, N); /* 3 features */
    gn_dataset *two = wrap(X, 2, Y2, 2, 2, 2, N);  /* 2 outputs */
    gn_net *net = blob_net(4, 8, 1);
    gn_fit_options ok = fit_options(2, 8, 0.01f), o;

    gn_fit_result r;
    memset(&r, 0xA5, sizeof r);
    cr_assert_eq(gn_net_fit(NULL, ds, NULL, &ok, &r), GN_ERR_NULL);
    cr_assert_eq(r.epochs, 0, "the result is filled in every case");
    expect_fit_error(net, NULL, NULL, &ok, GN_ERR_NULL, "train NULL");
    expect_fit_error(net, ds, NULL, NULL, GN_ERR_NULL, "options NULL");

    o = ok, o.epochs = 0;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "epochs 0");
    o = ok, o.batch = 0;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "batch 0");
    o = ok, o.patience = 3;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "patience without a validation set");
    const float bad_dropout[] = {1.0f, 1.5f, -0.1f, NAN, INFINITY};
    for (int i = 0; i < 5; i++) {
        o = ok, o.dropout = bad_dropout[i];
        expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "dropout out of [0, 1)");
    }
    o = ok, o.schedule = (gn_schedule)7;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "unknown schedule");
    o = ok, o.schedule = GN_SCHEDULE_STEP, o.step_epochs = 0;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "step_epochs 0");
    o = ok, o.schedule = GN_SCHEDULE_STEP, o.gamma = 0.0f;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "gamma 0");
    o = ok, o.schedule = GN_SCHEDULE_STEP, o.gamma = 1.5f;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "gamma above 1");
    o = ok, o.schedule = GN_SCHEDULE_COSINE, o.min_lr = -1e-3f;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "negative min_lr");
    o = ok, o.schedule = GN_SCHEDULE_COSINE, o.min_lr = o.opt.lr * 2;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "min_lr above lr");
    o = ok, o.opt.lr = 0.0f;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "optimizer lr 0");
    o = ok, o.standardize = 4u;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_ARG, "unknown standardize flag");

    expect_fit_error(net, wide, NULL, &ok, GN_ERR_DIM, "training set with 3 features");
    expect_fit_error(net, two, NULL, &ok, GN_ERR_DIM, "training set with 2 outputs");
    expect_fit_error(net, ds, wide, &ok, GN_ERR_DIM, "validation set with 3 features");
    expect_fit_error(net, ds, two, &ok, GN_ERR_DIM, "validation set with 2 outputs");

    o = ok, o.standardize = GN_STANDARDIZE_OUTPUTS;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_UNSUPPORTED, "output scaling, softmax/CCE");
    const float *m, *s;
    cr_assert_eq(gn_net_output_scaling(net, &m, &s), GN_OK);
    cr_assert(m == NULL && s == NULL, "a rejected fit set an output scaling");
    const size_t bsizes[] = {2, 4, 1};
    const gn_act bacts[] = {GN_ACT_RELU, GN_ACT_SIGMOID};
    gn_net *bin = make_net(bsizes, 3, bacts, GN_LOSS_BCE, 8, 1);
    gn_dataset *one = wrap(X, 2, Y, 3, 2, 1, N); /* first row of Y as a 0/1 target */
    expect_fit_error(bin, one, NULL, &o, GN_ERR_UNSUPPORTED, "output scaling, sigmoid/BCE");

    /* the same options with the bad field restored do work */
    fit_ok(net, ds, NULL, &ok, NULL);
    gn_net_free(bin);
    gn_dataset *all[] = {ds, wide, two, one};
    for (int i = 0; i < 4; i++)
        gn_dataset_free(all[i]);
    gn_net_free(net);
    free(X);
    free(Y);
    free(X3);
    free(Y2);
}

/* CONVENTIONS, Errors: a failing call leaves the network untouched unless its documentation
 * says otherwise; gn_net_fit documents only that the parameters of a diverged run are those
 * before the failing step. Standardisation and dropout are part of the model, so a fit that
 * fails on non-finite training data must not leave them changed either. */
Test(fit_errors, failed_fit_leaves_scaling_and_dropout)
{
    enum { N = 20 };
    const size_t sizes[] = {2, 4, 1};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 8, 1);
    const float mean0[2] = {0.5f, -0.5f}, std0[2] = {2.0f, 4.0f};
    cr_assert_eq(gn_net_set_input_scaling(net, mean0, std0), GN_OK);
    cr_assert_eq(gn_net_set_dropout(net, 0.125f), GN_OK);
    float *X = random_floats(2 * N, -1, 1, 40), *Y = random_floats(N, -1, 1, 41);
    Y[7] = NAN; /* a non-finite target */
    gn_dataset *ds = wrap(X, 2, Y, 1, 2, 1, N);
    gn_fit_options o = fit_options(2, 8, 0.01f);
    o.dropout = 0.5f;
    o.standardize = GN_STANDARDIZE_INPUTS | GN_STANDARDIZE_OUTPUTS;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_NONFINITE, "NaN target with standardisation");
    const float *m, *s;
    cr_assert_eq(gn_net_output_scaling(net, &m, &s), GN_OK);
    cr_assert(m == NULL && s == NULL, "a failed fit set an output scaling");
    cr_assert_eq(gn_net_input_scaling(net, &m, &s), GN_OK);
    cr_assert(m && s);
    cr_assert(m[0] == mean0[0] && m[1] == mean0[1] && s[0] == std0[0] && s[1] == std0[1],
              "a failed fit replaced the input scaling: mean (%g, %g), std (%g, %g)", (double)m[0],
              (double)m[1], (double)s[0], (double)s[1]);
    cr_assert_eq(gn_net_dropout(net), 0.125f, "a failed fit changed dropout to %g",
                 (double)gn_net_dropout(net));
    gn_dataset_free(ds);
    gn_net_free(net);
    free(X);
    free(Y);
}

/* An optimizer made for another network is refused before anything is installed. */
Test(fit_errors, foreign_optimizer_changes_nothing)
{
    enum { N = 20 };
    const size_t sizes[] = {2, 4, 1}, other[] = {2, 5, 1};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 8, 1);
    gn_net *net2 = make_net(other, 3, acts, GN_LOSS_QUADRATIC, 8, 1);
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_ADAM);
    gn_optimizer *opt = NULL;
    cr_assert_eq(gn_optimizer_create(&opt, net2, &c, NULL, 0), GN_OK);
    float *X = random_floats(2 * N, -1, 1, 40), *Y = random_floats(N, -1, 1, 41);
    gn_dataset *ds = wrap(X, 2, Y, 1, 2, 1, N);
    gn_fit_options o = fit_options(2, 8, 0.01f);
    o.optimizer = opt;
    o.dropout = 0.5f;
    o.standardize = GN_STANDARDIZE_INPUTS | GN_STANDARDIZE_OUTPUTS;
    expect_fit_error(net, ds, NULL, &o, GN_ERR_DIM, "optimizer for another net");
    const float *m, *sd;
    gn_net_input_scaling(net, &m, &sd);
    cr_assert_null(m, "a failed fit set an input scaling");
    gn_net_output_scaling(net, &m, &sd);
    cr_assert_null(m, "a failed fit set an output scaling");
    cr_assert_eq(gn_net_dropout(net), 0.0f);
    gn_optimizer_free(opt);
    gn_dataset_free(ds);
    gn_net_free(net2);
    gn_net_free(net);
    free(X);
    free(Y);
}

static void shrink_workspace(gn_net *net, size_t epoch, size_t batch, size_t n_batches, void *user)
{
    (void)epoch, (void)batch, (void)n_batches, (void)user;
    gn_net_reserve(net, 1);
}

/* A callback that shrinks the workspace mid-epoch stops training before the next batch is
 * gathered into it. */
Test(fit_errors, on_batch_shrinking_the_workspace)
{
    enum { N = 40 };
    const size_t sizes[] = {2, 4, 1};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 8, 1);
    float *X = random_floats(2 * N, -1, 1, 40), *Y = random_floats(N, -1, 1, 41);
    gn_dataset *ds = wrap(X, 2, Y, 1, 2, 1, N);
    gn_fit_options o = fit_options(2, 8, 0.01f);
    o.on_batch = shrink_workspace;
    gn_fit_result r;
    cr_assert_eq(gn_net_fit(net, ds, NULL, &o, &r), GN_ERR_BATCH);
    cr_assert_eq(r.epochs, 0u);
    cr_assert(strstr(gn_net_last_error(net), "callback") != NULL, "%s", gn_net_last_error(net));
    gn_dataset_free(ds);
    gn_net_free(net);
    free(X);
    free(Y);
}

/*---- standardisation ----*/

enum { ST_N = 200, ST_NT = 100 };

/* x1 ~ 1e4 + N(0, 3²), x2 ~ 1e-3·N(0, 1) (plus shift), y = (x1 − 1e4)/3 + 1e3·x2: features
 * nine orders of magnitude apart, which only standardisation makes trainable. */
static void make_scaled(size_t n, uint64_t seed, double shift, float **X, float **Y)
{
    *X = malloc(2 * n * sizeof **X);
    *Y = malloc(n * sizeof **Y);
    cr_assert(*X && *Y);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < n; j++) {
        double z1 = gn_rng_normal(&rng) + shift, z2 = gn_rng_normal(&rng) + shift;
        (*X)[2 * j] = (float)(1e4 + 3.0 * z1);
        (*X)[2 * j + 1] = (float)(1e-3 * z2);
        (*Y)[j] = (float)(z1 + z2);
    }
}

static gn_net *regression_net(size_t hidden, uint64_t seed)
{
    const size_t sizes[] = {2, hidden, 1};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    return make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 32, seed);
}

/* GN_STANDARDIZE_INPUTS: the model's input scaling is the training set's population mean and
 * std; the validation set (here two very different ones) has no say. Predicting raw inputs
 * equals predicting, without scaling, the inputs standardised by hand: the inputs then differ
 * by the rounding of (x − μ)/σ against (x − μ)·(1/σ), a few ulp of values of order 1, which a
 * small tanh net turns into output differences far below 1e-5 of the output scale (≥ 1). */
Test(scaling, fit_standardizes_inputs_from_the_training_set)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    float *X, *Y, *Xa, *Ya, *Xb, *Yb, *Xt, *Yt;
    make_scaled(ST_N, 50, 0.0, &X, &Y);
    make_scaled(50, 51, 0.0, &Xa, &Ya);
    make_scaled(50, 52, 40.0, &Xb, &Yb); /* far from the training data */
    make_scaled(ST_NT, 53, 0.0, &Xt, &Yt);
    gn_dataset *tr = wrap(X, 2, Y, 1, 2, 1, ST_N);
    gn_dataset *va = wrap(Xa, 2, Ya, 1, 2, 1, 50), *vb = wrap(Xb, 2, Yb, 1, 2, 1, 50);
    gn_fit_options o = fit_options(40, 16, 0.01f);
    o.standardize = GN_STANDARDIZE_INPUTS;
    o.restore_best = 0;
    gn_net *a = regression_net(8, 54), *b = regression_net(8, 54);
    fit_ok(a, tr, va, &o, NULL);
    fit_ok(b, tr, vb, &o, NULL);

    const float *ma, *sa, *mb, *sb;
    cr_assert_eq(gn_net_input_scaling(a, &ma, &sa), GN_OK);
    cr_assert_eq(gn_net_input_scaling(b, &mb, &sb), GN_OK);
    cr_assert(ma && sa && mb && sb, "fit set no input scaling");
    cr_assert_eq(memcmp(ma, mb, 2 * sizeof *ma), 0, "the validation set changed the mean");
    cr_assert_eq(memcmp(sa, sb, 2 * sizeof *sa), 0, "the validation set changed the std");
    cr_assert(same_params(a, b), "the validation set changed training (restore_best is 0)");
    for (size_t i = 0; i < 2; i++) {
        double mu, sd;
        row_mean_std(X, 2, i, ST_N, &mu, &sd);
        assert_float_of(ma[i], mu, "mean", i);
        assert_float_of(sa[i], sd, "std", i);
    }
    cr_assert(fabs(ma[0] - 1e4) < 1.0 && fabs(sa[0] - 3.0) < 0.5, "x1 statistics implausible");
    cr_assert(fabs(sa[1] - 1e-3) < 2e-4, "x2 std %g implausible", (double)sa[1]);

    /* the scaled net actually learnt y = z1 + z2 */
    double r2;
    cr_assert_eq(gn_net_regression_metrics(a, Xt, 2, Yt, 1, ST_NT, NULL, NULL, &r2), GN_OK);
    cr_assert_gt(r2, 0.95, "r2 = %.4f", r2);

    float P1[ST_NT], P2[ST_NT], Xs[2 * ST_NT], mean[2], std[2];
    cr_assert_eq(gn_net_predict(a, Xt, 2, ST_NT, P1, 1), GN_OK);
    memcpy(mean, ma, sizeof mean); /* ma, sa die with the scaling */
    memcpy(std, sa, sizeof std);
    for (size_t j = 0; j < ST_NT; j++)
        for (size_t i = 0; i < 2; i++)
            Xs[i + 2 * j] = (float)(((double)Xt[i + 2 * j] - mean[i]) / std[i]);
    cr_assert_eq(gn_net_set_input_scaling(a, NULL, NULL), GN_OK);
    cr_assert_eq(gn_net_input_scaling(a, &ma, &sa), GN_OK);
    cr_assert(ma == NULL && sa == NULL);
    cr_assert_eq(gn_net_predict(a, Xs, 2, ST_NT, P2, 1), GN_OK);
    for (size_t j = 0; j < ST_NT; j++)
        cr_assert(fabs((double)P1[j] - P2[j]) <= 1e-5 * fmax(1.0, fabs(P2[j])),
                  "sample %zu: raw %.9g, standardised by hand %.9g", j, (double)P1[j],
                  (double)P2[j]);
    gn_dataset *all[] = {tr, va, vb};
    for (int i = 0; i < 3; i++)
        gn_dataset_free(all[i]);
    float *bufs[] = {X, Y, Xa, Ya, Xb, Yb, Xt, Yt};
    for (int i = 0; i < 8; i++)
        free(bufs[i]);
    gn_net_free(a);
    gn_net_free(b);
}

/* y = 1000 + 500·(x1 − 2·x2) + N(0, 5²), x ~ U(−1, 1)²: the targets have mean 1000 and std
 * 500·√(5/3) ≈ 645, so without output scaling a small net with default initialisation would
 * need thousands of steps; with it the fit explains > 99 % of the variance (the noise alone
 * leaves 1 − 25/645² ≈ 0.99994). */
static void make_affine(size_t n, uint64_t seed, float **X, float **Y)
{
    *X = malloc(2 * n * sizeof **X);
    *Y = malloc(n * sizeof **Y);
    cr_assert(*X && *Y);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < n; j++) {
        double x1 = 2.0 * gn_rng_uniform(&rng) - 1.0, x2 = 2.0 * gn_rng_uniform(&rng) - 1.0;
        (*X)[2 * j] = (float)x1;
        (*X)[2 * j + 1] = (float)x2;
        (*Y)[j] = (float)(1000.0 + 500.0 * (x1 - 2.0 * x2) + 5.0 * gn_rng_normal(&rng));
    }
}

Test(scaling, fit_standardizes_regression_targets)
{
    enum { N = 300, NT = 200 };
    float *X, *Y, *Xt, *Yt;
    make_affine(N, 60, &X, &Y);
    make_affine(NT, 61, &Xt, &Yt);
    gn_dataset *tr = wrap(X, 2, Y, 1, 2, 1, N);
    gn_net *net = regression_net(8, 62);
    gn_fit_options o = fit_options(40, 16, 0.01f);
    o.standardize = GN_STANDARDIZE_OUTPUTS;
    fit_ok(net, tr, NULL, &o, NULL);

    const float *m, *s;
    cr_assert_eq(gn_net_output_scaling(net, &m, &s), GN_OK);
    cr_assert(m && s, "fit set no output scaling");
    double mu, sd;
    row_mean_std(Y, 1, 0, N, &mu, &sd);
    assert_float_of(m[0], mu, "output mean", 0);
    assert_float_of(s[0], sd, "output std", 0);
    const double out_std = s[0];
    cr_assert_eq(gn_net_input_scaling(net, &m, &s), GN_OK);
    cr_assert(m == NULL && s == NULL, "only the outputs were to be standardised");

    double mse, mae, r2;
    cr_assert_eq(gn_net_regression_metrics(net, Xt, 2, Yt, 1, NT, &mse, &mae, &r2), GN_OK);
    cr_assert_gt(r2, 0.99, "r2 = %.5f", r2);

    /* predictions are in raw units: compare with the targets in double */
    float P[NT];
    cr_assert_eq(gn_net_predict(net, Xt, 2, NT, P, 1), GN_OK);
    double pm = 0.0, ym = 0.0, sq = 0.0, ab = 0.0;
    for (size_t j = 0; j < NT; j++) {
        pm += P[j];
        ym += Yt[j];
        sq += ((double)P[j] - Yt[j]) * ((double)P[j] - Yt[j]);
        ab += fabs((double)P[j] - Yt[j]);
    }
    pm /= NT;
    ym /= NT;
    cr_assert(fabs(pm - ym) < 0.05 * sd, "mean prediction %.2f, mean target %.2f", pm, ym);
    cr_assert(fabs(pm - 1000.0) < 150.0, "mean prediction %.2f is not near 1000", pm);
    cr_assert(rel_err(mse, sq / NT) < 1e-6, "mse %.9g, from predict %.9g", mse, sq / NT);
    cr_assert(rel_err(mae, ab / NT) < 1e-6, "mae %.9g, from predict %.9g", mae, ab / NT);

    /* gn_net_evaluate reports the loss the network minimises, in standardised units:
     * ½·mean((p − y)/σ)² = ½·mse/σ². The float arithmetic of standardising targets of order
     * 1000 costs a few 1e-7 of each residual of order 50, so 1e-3 relative is ample. */
    double loss;
    cr_assert_eq(gn_net_evaluate(net, Xt, 2, Yt, 1, NT, &loss, NULL), GN_OK);
    double want = 0.5 * (sq / NT) / (out_std * out_std);
    cr_assert(rel_err(loss, want) < 1e-3, "evaluate loss %.9g, want ½·mse/σ² = %.9g", loss, want);
    gn_dataset_free(tr);
    gn_net_free(net);
    free(X);
    free(Y);
    free(Xt);
    free(Yt);
}

/* Both setters check every entry, copy the arrays, and keep the old scaling on failure. */
static void check_setter(gn_status (*set)(gn_net *, const float *, const float *),
                         gn_status (*get)(const gn_net *, const float **, const float **),
                         const char *name)
{
    const size_t sizes[] = {2, 3, 2};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 4, 1);
    const float *m, *s;
    cr_assert_eq(get(net, &m, &s), GN_OK);
    cr_assert(m == NULL && s == NULL, "%s: a new net has scaling", name);
    float mean[2] = {1.0f, -2.0f}, std[2] = {3.0f, 0.25f};
    cr_assert_eq(set(net, mean, std), GN_OK, "%s", name);
    mean[0] = 99.0f; /* the net keeps its own copy */
    std[1] = 99.0f;
    cr_assert_eq(get(net, &m, &s), GN_OK);
    cr_assert(m && s && m != mean && s != std, "%s: arrays not copied", name);
    cr_assert(m[0] == 1.0f && m[1] == -2.0f && s[0] == 3.0f && s[1] == 0.25f, "%s: values", name);

    const struct {
        float m0, s0;
        const char *what;
    } bad[] = {
        {NAN, 1.0f, "NaN mean"},
        {INFINITY, 1.0f, "infinite mean"},
        {0.0f, 0.0f, "std 0"},
        {0.0f, -1.0f, "negative std"},
        {0.0f, NAN, "NaN std"},
        {0.0f, INFINITY, "infinite std"},
        {0.0f, -0.0f, "negative zero std"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const float bm[2] = {0.0f, bad[i].m0}, bs[2] = {1.0f, bad[i].s0};
        cr_assert_eq(set(net, bm, bs), GN_ERR_ARG, "%s: %s", name, bad[i].what);
        cr_assert_str_neq(gn_net_last_error(net), "", "%s: %s: no message", name, bad[i].what);
    }
    const float one[2] = {0.0f, 0.0f};
    cr_assert_eq(set(net, one, NULL), GN_ERR_NULL, "%s: std NULL only", name);
    cr_assert_eq(set(net, NULL, one), GN_ERR_NULL, "%s: mean NULL only", name);
    cr_assert_eq(set(NULL, one, one), GN_ERR_NULL, "%s: net NULL", name);
    cr_assert_eq(get(net, &m, &s), GN_OK);
    cr_assert(m && s && m[0] == 1.0f && m[1] == -2.0f && s[0] == 3.0f && s[1] == 0.25f,
              "%s: a rejected call changed the scaling", name);
    cr_assert_eq(get(net, NULL, &s), GN_ERR_NULL);
    cr_assert_eq(get(net, &m, NULL), GN_ERR_NULL);
    cr_assert_eq(get(NULL, &m, &s), GN_ERR_NULL);
    cr_assert_eq(set(net, NULL, NULL), GN_OK, "%s: removing", name);
    cr_assert_eq(get(net, &m, &s), GN_OK);
    cr_assert(m == NULL && s == NULL, "%s: not removed", name);
    gn_net_free(net);
}

Test(scaling, input_setter_checks)
{
    check_setter(gn_net_set_input_scaling, gn_net_input_scaling, "input");
}

Test(scaling, output_setter_checks)
{
    check_setter(gn_net_set_output_scaling, gn_net_output_scaling, "output");
}

/* Output scaling is for regression: rejected on softmax (any loss), BCE and CCE; input
 * scaling is fine on a classifier. */
Test(scaling, output_scaling_rejected_on_classifiers)
{
    const float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
    const struct {
        gn_act out;
        gn_loss loss;
        size_t k;
    } cls[] = {{GN_ACT_SOFTMAX, GN_LOSS_CCE, 3},
               {GN_ACT_SOFTMAX, GN_LOSS_QUADRATIC, 3},
               {GN_ACT_SIGMOID, GN_LOSS_BCE, 1}};
    for (int c = 0; c < 3; c++) {
        const size_t sizes[] = {3, 4, cls[c].k};
        const gn_act acts[] = {GN_ACT_RELU, cls[c].out};
        gn_net *net = make_net(sizes, 3, acts, cls[c].loss, 4, 1);
        cr_assert_eq(gn_net_set_output_scaling(net, mean, std), GN_ERR_UNSUPPORTED, "case %d", c);
        cr_assert_str_neq(gn_net_last_error(net), "");
        const float *m, *s;
        cr_assert_eq(gn_net_output_scaling(net, &m, &s), GN_OK);
        cr_assert(m == NULL && s == NULL);
        cr_assert_eq(gn_net_set_input_scaling(net, mean, std), GN_OK, "case %d", c);
        gn_net_free(net);
    }
    /* a sigmoid output with the quadratic loss is element-wise regression: allowed */
    const size_t sizes[] = {3, 4, 3};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_SIGMOID};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 4, 1);
    cr_assert_eq(gn_net_set_output_scaling(net, mean, std), GN_OK);
    gn_net_free(net);
}

/*---- dropout ----*/

Test(dropout, inference_never_drops)
{
    enum { N = 20 };
    const size_t sizes[] = {4, 16, 16, 3};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_RELU, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 4, acts, GN_LOSS_CCE, 8, 3);
    float *X = random_floats(4 * N, -1, 1, 70), *Y = random_onehot(3, N, 71);
    float P1[3 * N], P2[3 * N], P0[3 * N];
    double l1, l2, l0, a1, a0;
    cr_assert_eq(gn_net_dropout(net), 0.0f, "off by default");
    cr_assert_eq(gn_net_set_dropout(net, 0.5f), GN_OK);
    cr_assert_eq(gn_net_dropout(net), 0.5f);
    cr_assert_eq(gn_net_predict(net, X, 4, N, P1, 3), GN_OK);
    cr_assert_eq(gn_net_predict(net, X, 4, N, P2, 3), GN_OK);
    cr_assert_eq(memcmp(P1, P2, sizeof P1), 0, "predict is not deterministic with dropout");
    const float *F;
    cr_assert_eq(gn_net_forward(net, X, 4, 8, &F), GN_OK);
    cr_assert_eq(memcmp(F, P1, 3 * 8 * sizeof *F), 0, "forward drops units");
    cr_assert_eq(gn_net_evaluate(net, X, 4, Y, 3, N, &l1, &a1), GN_OK);
    cr_assert_eq(gn_net_evaluate(net, X, 4, Y, 3, N, &l2, NULL), GN_OK);
    cr_assert_eq(l1, l2);

    cr_assert_eq(gn_net_set_dropout(net, 0.0f), GN_OK);
    cr_assert_eq(gn_net_dropout(net), 0.0f);
    cr_assert_eq(gn_net_predict(net, X, 4, N, P0, 3), GN_OK);
    cr_assert_eq(memcmp(P0, P1, sizeof P0), 0, "inference with dropout 0.5 differs from 0");
    cr_assert_eq(gn_net_evaluate(net, X, 4, Y, 3, N, &l0, &a0), GN_OK);
    cr_assert_eq(l0, l1);
    cr_assert_eq(a0, a1);
    free(X);
    free(Y);
    gn_net_free(net);
}

/* Training calls do drop: a fresh mask per batch, so two gradients of the same batch differ
 * with dropout and agree without. */
Test(dropout, training_draws_a_fresh_mask_per_batch)
{
    enum { M = 8 };
    const size_t sizes[] = {4, 16, 3};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_CCE, M, 3);
    size_t np = gn_net_n_params(net);
    float *X = random_floats(4 * M, -1, 1, 72), *Y = random_onehot(3, M, 73);
    float *g1 = malloc(np * sizeof *g1);
    cr_assert_eq(gn_net_backprop(net, X, 4, Y, 3, M, NULL), GN_OK);
    memcpy(g1, gn_net_grads(net), np * sizeof *g1);
    cr_assert_eq(gn_net_backprop(net, X, 4, Y, 3, M, NULL), GN_OK);
    cr_assert_eq(memcmp(g1, gn_net_grads(net), np * sizeof *g1), 0, "no dropout: same gradient");
    cr_assert_eq(gn_net_set_dropout(net, 0.5f), GN_OK);
    cr_assert_eq(gn_net_backprop(net, X, 4, Y, 3, M, NULL), GN_OK);
    memcpy(g1, gn_net_grads(net), np * sizeof *g1);
    cr_assert_eq(gn_net_backprop(net, X, 4, Y, 3, M, NULL), GN_OK);
    cr_assert_neq(memcmp(g1, gn_net_grads(net), np * sizeof *g1), 0,
                  "dropout 0.5: two batches drew the same mask of 128 units");
    free(g1);
    free(X);
    free(Y);
    gn_net_free(net);
}

Test(dropout, out_of_range_rejected)
{
    gn_net *net = blob_net(4, 4, 1);
    cr_assert_eq(gn_net_set_dropout(net, 0.25f), GN_OK);
    const float bad[] = {1.0f, 1.5f, -0.1f, -1e-30f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(gn_net_set_dropout(net, bad[i]), GN_ERR_ARG, "p = %g", (double)bad[i]);
        cr_assert_eq(gn_net_dropout(net), 0.25f, "p = %g changed the setting", (double)bad[i]);
        cr_assert_str_neq(gn_net_last_error(net), "");
    }
    cr_assert_eq(gn_net_set_dropout(net, 0.999f), GN_OK, "just below 1 is in [0, 1)");
    cr_assert_eq(gn_net_set_dropout(NULL, 0.5f), GN_ERR_NULL);
    cr_assert_eq(gn_net_dropout(NULL), 0.0f);
    gn_net_free(net);
}

Test(dropout, fit_with_dropout_learns_blobs)
{
    enum { N = 300 };
    float *X, *Y, *Xt, *Yt;
    make_blobs(N, 80, &X, &Y);
    make_blobs(N, 81, &Xt, &Yt);
    gn_dataset *ds = wrap(X, 2, Y, 3, 2, 3, N);
    gn_net *net = blob_net(32, 32, 82);
    gn_fit_options o = fit_options(30, 32, 0.01f);
    o.dropout = 0.3f;
    fit_ok(net, ds, NULL, &o, NULL);
    double acc = accuracy(net, Xt, 2, Yt, 3, N);
    cr_assert_geq(acc, 0.9, "held-out accuracy %.3f with dropout 0.3", acc);
    gn_dataset_free(ds);
    gn_net_free(net);
    free(X);
    free(Y);
    free(Xt);
    free(Yt);
}

/*---- metrics ----*/

/* counts[t·k + p] counted here from the target and predicted classes. */
static void count_confusion(const size_t *t, const size_t *p, size_t n, size_t k, uint64_t *c)
{
    memset(c, 0, k * k * sizeof *c);
    for (size_t j = 0; j < n; j++)
        c[t[j] * k + p[j]]++;
}

/* A 3-3 softmax net with W = I and b = 0 predicts the argmax of its input, so with inputs of
 * known argmax and chosen targets the confusion matrix is known. Inputs are multiples of 1/8
 * with a unique maximum per column; X has ld 4 with NaN padding, n = 30 runs through a workspace
 * of 4. The same counts come out through an input scaling (raw = 5 + 2·x, exact in float). */
Test(metrics, confusion_of_a_hand_set_softmax_net)
{
    enum { N = 30, K = 3, LD = 4 };
    const size_t sizes[] = {K, K};
    const gn_act acts[] = {GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_CCE, 4, 1);
    float *p = gn_net_params(net);
    memset(p, 0, gn_net_n_params(net) * sizeof *p);
    p[0] = p[4] = p[8] = 1.0f; /* W = I (3 × 3, column-major), b = 0 */

    float X[LD * N], Xraw[LD * N], Y[K * N] = {0};
    size_t truth[N], pred[N];
    gn_rng rng;
    gn_rng_seed(&rng, 90);
    for (size_t j = 0; j < N; j++) {
        float v[K];
        do {
            for (size_t i = 0; i < K; i++)
                v[i] = (float)((int)gn_rng_below(&rng, 33) - 16) / 8.0f;
        } while (v[argmax(v, K)] == v[(argmax(v, K) + 1) % K] ||
                 v[argmax(v, K)] == v[(argmax(v, K) + 2) % K]);
        for (size_t i = 0; i < LD; i++) {
            X[i + j * LD] = i < K ? v[i] : NAN;
            Xraw[i + j * LD] = i < K ? 5.0f + 2.0f * v[i] : NAN;
        }
        pred[j] = argmax(v, K);
        truth[j] = (size_t)gn_rng_below(&rng, K);
        Y[truth[j] + j * K] = 1.0f;
    }
    uint64_t want[K * K], got[K * K];
    count_confusion(truth, pred, N, K, want);
    memset(got, 0xff, sizeof got);
    cr_assert_eq(gn_net_confusion(net, X, LD, Y, K, N, K, got), GN_OK);
    for (size_t i = 0; i < K * K; i++)
        cr_assert_eq(got[i], want[i], "counts[%zu][%zu] = %llu, want %llu", i / K, i % K,
                     (unsigned long long)got[i], (unsigned long long)want[i]);
    /* the accuracy from the matrix is gn_net_evaluate's */
    double acc;
    cr_assert_eq(gn_net_evaluate(net, X, LD, Y, K, N, NULL, &acc), GN_OK);
    cr_assert_eq(gn_class_metrics(got, K, NULL, NULL), acc);

    const float mean[K] = {5, 5, 5}, std[K] = {2, 2, 2};
    cr_assert_eq(gn_net_set_input_scaling(net, mean, std), GN_OK);
    cr_assert_eq(gn_net_confusion(net, Xraw, LD, Y, K, N, K, got), GN_OK);
    cr_assert_eq(memcmp(got, want, sizeof got), 0, "confusion ignores the input scaling");

    /* errors */
    cr_assert_eq(gn_net_confusion(net, Xraw, LD, Y, K, N, 2, got), GN_ERR_DIM, "k = 2");
    cr_assert_str_neq(gn_net_last_error(net), "");
    cr_assert_eq(gn_net_confusion(net, Xraw, LD, Y, K, N, 4, got), GN_ERR_DIM, "k = 4");
    cr_assert_eq(gn_net_confusion(net, Xraw, LD, Y, K, 0, K, got), GN_ERR_DIM, "n = 0");
    cr_assert_eq(gn_net_confusion(net, Xraw, 2, Y, K, N, K, got), GN_ERR_DIM, "ldx < 3");
    cr_assert_eq(gn_net_confusion(net, Xraw, LD, Y, 2, N, K, got), GN_ERR_DIM, "ldy < 3");
    cr_assert_eq(gn_net_confusion(NULL, Xraw, LD, Y, K, N, K, got), GN_ERR_NULL);
    cr_assert_eq(gn_net_confusion(net, NULL, LD, Y, K, N, K, got), GN_ERR_NULL);
    cr_assert_eq(gn_net_confusion(net, Xraw, LD, NULL, K, N, K, got), GN_ERR_NULL);
    cr_assert_eq(gn_net_confusion(net, Xraw, LD, Y, K, N, K, NULL), GN_ERR_NULL);
    gn_net_free(net);
}

/* One sigmoid output: k = 2, class 1 means > 0.5 for the output and the target alike. With
 * w = 1, b = 0 the output is σ(x) > 0.5 exactly when x > 0 (the inputs stay away from 0). */
Test(metrics, confusion_single_output_uses_two_classes)
{
    enum { N = 10 };
    const size_t sizes[] = {1, 1};
    const gn_act acts[] = {GN_ACT_SIGMOID};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_BCE, 4, 1);
    gn_net_params(net)[0] = 1.0f;
    gn_net_params(net)[1] = 0.0f;
    const float X[N] = {2, -1, 0.5f, -3, 1, -0.5f, 4, -2, 3, -4};
    const float Y[N] = {1, 0, 0, 0.7f, 0.5f, 1, 1, 0, 0.51f, 0.49f};
    size_t truth[N], pred[N];
    for (size_t j = 0; j < N; j++) {
        truth[j] = Y[j] > 0.5f;
        pred[j] = X[j] > 0.0f;
    }
    uint64_t want[4], got[4];
    count_confusion(truth, pred, N, 2, want);
    cr_assert_eq(gn_net_confusion(net, X, 1, Y, 1, N, 2, got), GN_OK);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(got[i], want[i], "counts[%zu][%zu] = %llu, want %llu", i / 2, i % 2,
                     (unsigned long long)got[i], (unsigned long long)want[i]);
    /* hand check of the table above: (t, p) = (1,1) ×4 [2, 4, 3; 0.51 with 3], ... */
    cr_assert_eq(want[0] + want[1] + want[2] + want[3], N);
    cr_assert_eq(gn_net_confusion(net, X, 1, Y, 1, N, 1, got), GN_ERR_DIM, "k = 1");
    cr_assert_eq(gn_net_confusion(net, X, 1, Y, 1, N, 3, got), GN_ERR_DIM, "k = 3");
    gn_net_free(net);
}

/* precision[c] = counts[c][c] / column sum, recall[c] = counts[c][c] / row sum, accuracy =
 * trace / total; the divisions are the same IEEE operations here, so the comparison is exact. */
Test(metrics, class_metrics_of_a_hand_written_matrix)
{
    const uint64_t c[9] = {5, 1, 0, /* true 0 */
                           2, 3, 1, /* true 1 */
                           0, 0, 4 /* true 2 */};
    double prec[3], rec[3];
    double acc = gn_class_metrics(c, 3, prec, rec);
    cr_assert_eq(acc, 12.0 / 16.0);
    const double want_p[3] = {5.0 / 7.0, 3.0 / 4.0, 4.0 / 5.0};
    const double want_r[3] = {5.0 / 6.0, 3.0 / 6.0, 4.0 / 4.0};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(prec[i], want_p[i], "precision[%d] = %.17g", i, prec[i]);
        cr_assert_eq(rec[i], want_r[i], "recall[%d] = %.17g", i, rec[i]);
    }
    cr_assert_eq(gn_class_metrics(c, 3, NULL, NULL), acc, "outputs may be NULL");
    cr_assert_eq(gn_class_metrics(c, 3, prec, NULL), acc);

    /* class 1 never predicted (empty column): precision NaN, recall 0; class 2 absent
     * altogether: both NaN */
    const uint64_t d[9] = {3, 0, 1, 4, 0, 2, 0, 0, 0};
    acc = gn_class_metrics(d, 3, prec, rec);
    cr_assert_eq(acc, 3.0 / 10.0);
    cr_assert_eq(prec[0], 3.0 / 7.0);
    cr_assert(isnan(prec[1]), "precision of a never-predicted class: %g", prec[1]);
    cr_assert_eq(prec[2], 0.0 / 3.0);
    cr_assert_eq(rec[0], 3.0 / 4.0);
    cr_assert_eq(rec[1], 0.0);
    cr_assert(isnan(rec[2]), "recall of an absent class: %g", rec[2]);

    const uint64_t zero[4] = {0, 0, 0, 0};
    cr_assert(isnan(gn_class_metrics(zero, 2, prec, rec)), "empty matrix");
    cr_assert(isnan(prec[0]) && isnan(prec[1]) && isnan(rec[0]) && isnan(rec[1]));
    cr_assert(isnan(gn_class_metrics(NULL, 3, prec, rec)), "NULL counts");
}

/* A 2-2 identity net with known W and b; predictions a = W·x + b, errors and r2 computed here in
 * double. The net computes in float: predictions of order 3 carry rounding of ~1e-6, against
 * residuals of order 1, so 1e-5 relative bounds the difference with room. */
static void regression_expect(const float *X, size_t ldx, const float *Y, size_t n,
                              const double mu[2], const double sd[2], double *mse, double *mae,
                              double *r2)
{
    const double W[2][2] = {{2.0, -1.0}, {0.5, 1.0}}, b[2] = {0.5, -1.0};
    double sq = 0.0, ab = 0.0, r2s = 0.0;
    for (int i = 0; i < 2; i++) {
        double ym = 0.0, tot = 0.0, res = 0.0;
        for (size_t j = 0; j < n; j++)
            ym += Y[i + 2 * j];
        ym /= (double)n;
        for (size_t j = 0; j < n; j++) {
            double a = W[i][0] * X[ldx * j] + W[i][1] * X[1 + ldx * j] + b[i];
            double e = a * sd[i] + mu[i] - Y[i + 2 * j];
            res += e * e;
            ab += fabs(e);
            tot += (Y[i + 2 * j] - ym) * (Y[i + 2 * j] - ym);
        }
        sq += res;
        r2s += tot > 0.0 ? 1.0 - res / tot : NAN;
    }
    *mse = sq / (2.0 * (double)n);
    *mae = ab / (2.0 * (double)n);
    *r2 = r2s / 2.0;
}

Test(metrics, regression_metrics_of_a_hand_set_linear_net)
{
    enum { N = 7, LD = 3 };
    const size_t sizes[] = {2, 2};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 3, 1);
    const float params[6] = {2.0f, 0.5f, -1.0f, 1.0f, /* W column-major */ 0.5f, -1.0f};
    memcpy(gn_net_params(net), params, sizeof params);
    float X[LD * N], Y[2 * N];
    fill_uniform(Y, 2 * N, -3, 3, 91);
    float *x2 = random_floats(2 * N, -1, 1, 92);
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < LD; i++)
            X[i + LD * j] = i < 2 ? x2[i + 2 * j] : NAN;
    free(x2);

    const double none_mu[2] = {0, 0}, none_sd[2] = {1, 1};
    double mse, mae, r2, wmse, wmae, wr2;
    regression_expect(X, LD, Y, N, none_mu, none_sd, &wmse, &wmae, &wr2);
    cr_assert_eq(gn_net_regression_metrics(net, X, LD, Y, 2, N, &mse, &mae, &r2), GN_OK);
    cr_assert(rel_err(mse, wmse) < 1e-5, "mse %.9g, want %.9g", mse, wmse);
    cr_assert(rel_err(mae, wmae) < 1e-5, "mae %.9g, want %.9g", mae, wmae);
    cr_assert(fabs(r2 - wr2) < 1e-5, "r2 %.9g, want %.9g", r2, wr2);
    cr_assert_eq(gn_net_regression_metrics(net, X, LD, Y, 2, N, NULL, NULL, &r2), GN_OK);
    cr_assert(fabs(r2 - wr2) < 1e-5);

    /* output scaling: metrics are in raw units, a = a'·σ + μ; targets in that range */
    const float mu[2] = {100.0f, -50.0f}, sd[2] = {10.0f, 2.0f};
    const double mud[2] = {100.0, -50.0}, sdd[2] = {10.0, 2.0};
    float Yr[2 * N];
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < 2; i++)
            Yr[i + 2 * j] = (float)(mud[i] + sdd[i] * Y[i + 2 * j]);
    cr_assert_eq(gn_net_set_output_scaling(net, mu, sd), GN_OK);
    regression_expect(X, LD, Yr, N, mud, sdd, &wmse, &wmae, &wr2);
    cr_assert_eq(gn_net_regression_metrics(net, X, LD, Yr, 2, N, &mse, &mae, &r2), GN_OK);
    cr_assert(rel_err(mse, wmse) < 1e-5, "scaled: mse %.9g, want %.9g", mse, wmse);
    cr_assert(rel_err(mae, wmae) < 1e-5, "scaled: mae %.9g, want %.9g", mae, wmae);
    cr_assert(fabs(r2 - wr2) < 1e-5, "scaled: r2 %.9g, want %.9g", r2, wr2);
    cr_assert_eq(gn_net_set_output_scaling(net, NULL, NULL), GN_OK);

    /* constant targets in one output: r2 (a mean over outputs) is NaN, the errors are not */
    for (size_t j = 0; j < N; j++)
        Y[1 + 2 * j] = 0.75f;
    regression_expect(X, LD, Y, N, none_mu, none_sd, &wmse, &wmae, &wr2);
    cr_assert(isnan(wr2));
    cr_assert_eq(gn_net_regression_metrics(net, X, LD, Y, 2, N, &mse, &mae, &r2), GN_OK);
    cr_assert(isnan(r2), "r2 = %g with a constant target row", r2);
    cr_assert(rel_err(mse, wmse) < 1e-5, "mse %.9g, want %.9g", mse, wmse);
    cr_assert(rel_err(mae, wmae) < 1e-5, "mae %.9g, want %.9g", mae, wmae);

    /* errors */
    cr_assert_eq(gn_net_regression_metrics(NULL, X, LD, Y, 2, N, &mse, &mae, &r2), GN_ERR_NULL);
    cr_assert_eq(gn_net_regression_metrics(net, NULL, LD, Y, 2, N, &mse, &mae, &r2), GN_ERR_NULL);
    cr_assert_eq(gn_net_regression_metrics(net, X, LD, NULL, 2, N, &mse, &mae, &r2), GN_ERR_NULL);
    cr_assert_eq(gn_net_regression_metrics(net, X, LD, Y, 2, 0, &mse, &mae, &r2), GN_ERR_DIM);
    cr_assert_eq(gn_net_regression_metrics(net, X, 1, Y, 2, N, &mse, &mae, &r2), GN_ERR_DIM);
    cr_assert_eq(gn_net_regression_metrics(net, X, LD, Y, 1, N, &mse, &mae, &r2), GN_ERR_DIM);
    gn_net_free(net);
}

/* A single-output net on constant targets: r2 is NaN. */
Test(metrics, r2_nan_for_constant_targets)
{
    const size_t sizes[] = {1, 1};
    const gn_act acts[] = {GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 2, acts, GN_LOSS_QUADRATIC, 4, 1);
    gn_net_params(net)[0] = 1.0f;
    gn_net_params(net)[1] = 0.0f;
    const float X[5] = {1, 2, 3, 4, 5}, Y[5] = {2, 2, 2, 2, 2};
    double mse, mae, r2;
    cr_assert_eq(gn_net_regression_metrics(net, X, 1, Y, 1, 5, &mse, &mae, &r2), GN_OK);
    cr_assert(isnan(r2), "r2 = %g", r2);
    cr_assert_eq(mse, (1.0 + 0.0 + 1.0 + 4.0 + 9.0) / 5.0); /* exact: small integers */
    cr_assert_eq(mae, (1.0 + 0.0 + 1.0 + 2.0 + 3.0) / 5.0);
    gn_net_free(net);
}
