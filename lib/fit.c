/* The full training loop: optimizer, schedule, dropout, standardisation, validation, early
 * stopping with the best parameters kept. */
#include "internal.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void gn_fit_options_defaults(gn_fit_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->epochs = 10;
    opt->batch = 128;
    gn_optimizer_config_defaults(&opt->opt, GN_OPT_ADAM);
    opt->schedule = GN_SCHEDULE_CONSTANT;
    opt->step_epochs = 10;
    opt->gamma = 0.1f;
    opt->min_lr = 0.0f;
    opt->restore_best = 1;
    opt->shuffle = 1;
    opt->checkpoint_every = 1;
}

/* The learning rate of a 1-based epoch. */
static float scheduled_lr(const gn_fit_options *o, float base, size_t epoch)
{
    switch (o->schedule) {
    case GN_SCHEDULE_STEP: return base * powf(o->gamma, (float)((epoch - 1) / o->step_epochs));
    case GN_SCHEDULE_COSINE: {
        const double pi = 3.14159265358979323846;
        double c = 0.5 * (1.0 + cos(pi * (double)(epoch - 1) / (double)o->epochs));
        return (float)(o->min_lr + ((double)base - o->min_lr) * c);
    }
    default: return base;
    }
}

static gn_status check_options(gn_net *net, const gn_fit_options *o, const gn_dataset *val)
{
#define BAD(...) return gn__fail(net, GN_ERR_ARG, "gn_net_fit: " __VA_ARGS__)
    if (o->epochs == 0)
        BAD("epochs must be at least 1");
    if (o->batch == 0 || o->batch > INT_MAX)
        BAD("batch %zu is not in [1, INT_MAX]", o->batch);
    if ((unsigned)o->schedule > GN_SCHEDULE_COSINE)
        BAD("unknown schedule %d", (int)o->schedule);
    if (o->schedule == GN_SCHEDULE_STEP &&
        (o->step_epochs == 0 || !(o->gamma > 0.0f) || !(o->gamma <= 1.0f)))
        BAD("step schedule: step_epochs must be ≥ 1 and gamma in (0, 1]");
    if (o->schedule == GN_SCHEDULE_COSINE && (!isfinite(o->min_lr) || o->min_lr < 0.0f))
        BAD("cosine schedule: min_lr must be finite and ≥ 0");
    if (!(o->dropout >= 0.0f && o->dropout < 1.0f))
        BAD("dropout %g is not in [0, 1)", (double)o->dropout);
    if (o->standardize > (GN_STANDARDIZE_INPUTS | GN_STANDARDIZE_OUTPUTS))
        BAD("unknown standardize flags %u", o->standardize);
    if (o->patience > 0 && !val)
        BAD("early stopping (patience %zu) needs a validation set", o->patience);
    if (o->checkpoint_path && o->checkpoint_every == 0)
        BAD("checkpoint_every must be at least 1");
    const gn_fit_progress *r = o->resume;
    if (r && r->epochs_done >= o->epochs)
        BAD("the run to resume has done %zu epochs already; ask for more than that (epochs is "
            "the total)",
            r->epochs_done);
    if (r && !gn__progress_consistent(r))
        BAD("resume: best epoch %zu (loss %g) does not fit %zu epochs done", r->best_epoch,
            r->best_val_loss, r->epochs_done);
    if (r && !o->optimizer)
        BAD("resume needs the checkpoint's optimizer (options.optimizer)");
    return GN_OK;
#undef BAD
}

/* gn__columns_finite in the dataset's layout: *bad gets the first sample with a non-finite
 * value. With samples in rows, each feature is contiguous over the samples. */
static bool samples_finite(const gn_dataset *ds, const float *A, size_t rows, size_t ld,
                           size_t *bad)
{
    if (ds->layout == GN_SAMPLES_IN_COLUMNS)
        return gn__columns_finite(A, rows, ld, ds->n, bad);
    size_t feature;
    if (gn__columns_finite(A, ds->n, ld, rows, &feature))
        return true;
    *bad = ds->n;
    for (size_t i = feature; i < rows; i++) /* earlier features are finite throughout */
        for (size_t j = 0; j < *bad; j++)
            if (!isfinite(A[j + i * ld])) {
                *bad = j;
                break;
            }
    return false;
}

/* Sizes against the net, and every value finite: after this, a non-finite loss or gradient
 * can only mean that training diverged. */
static gn_status check_data(gn_net *net, const gn_dataset *ds, const char *which)
{
    size_t ni = gn_net_n_inputs(net), no = gn_net_n_outputs(net);
    if (ds->n_features != ni || ds->n_outputs != no)
        return gn__fail(net, GN_ERR_DIM,
                        "gn_net_fit: the %s set has %zu features and %zu outputs, the net %zu "
                        "inputs and %zu outputs",
                        which, ds->n_features, ds->n_outputs, ni, no);
    size_t j;
    if (!samples_finite(ds, ds->X, ni, ds->ldx, &j))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_fit: %s sample %zu has a NaN or infinite "
                        "input",
                        which, j);
    if (!samples_finite(ds, ds->Y, no, ds->ldy, &j))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "gn_net_fit: %s sample %zu has a NaN or infinite "
                        "target",
                        which, j);
    return GN_OK;
}

/* A scaling buffer from the mean and std of the training inputs or targets (not yet part of
 * the model). */
static gn_status standardize(gn_net *net, const gn_dataset *train, int y_part, float **out)
{
    size_t n = y_part ? train->n_outputs : train->n_features;
    float *buf = malloc(2 * n * sizeof *buf);
    if (!buf)
        return gn__fail(net, GN_ERR_NOMEM, "gn_net_fit: out of memory");
    gn_status st = gn_dataset_mean_std(train, y_part, buf, buf + n);
    if (st != GN_OK)
        st = gn__fail(net, st, "gn_net_fit: the training %s contain non-finite values",
                      y_part ? "targets" : "inputs");
    else
        st = gn__make_scaling(net, "gn_net_fit", n, buf, buf + n, out);
    free(buf);
    return st;
}

/* Everything the loop needs besides the network. */
typedef struct fit_state {
    gn_optimizer *opt;
    bool own_opt;
    size_t *perm;
    float *best; /* parameters after the best epoch (restore_best with validation) */
    bool have_best;
    float *good; /* parameters at the start of the epoch: the last known good ones */
} fit_state;

/* One epoch of mini-batch steps over train in perm order; *loss_sum gets Σ batch loss · m. */
static gn_status run_epoch(gn_net *net, const gn_dataset *train, const gn_fit_options *o,
                           fit_state *fs, size_t epoch, double *loss_sum)
{
    size_t n = train->n, n_batches = (n + o->batch - 1) / o->batch;
    *loss_sum = 0.0;
    for (size_t b = 0; b < n_batches; b++) {
        size_t j0 = b * o->batch, m = n - j0 < o->batch ? n - j0 : o->batch, lo, hi;
        gn__shard(net, m, &lo, &hi);  /* this worker's part of the batch (all of it alone) */
        if (hi - lo > net->max_batch) /* on_batch shrank the workspace */
            return gn__fail(net, GN_ERR_BATCH,
                            "gn_net_fit: batch %zu exceeds the workspace of %zu (did a "
                            "callback call gn_net_reserve?)",
                            hi - lo, net->max_batch);
        if (hi == lo) {
            /* an empty share (fewer samples than workers) gathers nothing */
        } else if (o->shuffle) {
            gn__gather_layout(net, train->layout, train->X, train->ldx, train->Y, train->ldy,
                              fs->perm + j0 + lo, hi - lo);
        } else { /* sample j is j strides further on, whatever the layout */
            size_t xf, xs, yf, ys;
            gn__strides(train->layout, train->ldx, &xf, &xs);
            gn__strides(train->layout, train->ldy, &yf, &ys);
            gn__gather_layout(net, train->layout, train->X + (j0 + lo) * xs, train->ldx,
                              train->Y + (j0 + lo) * ys, train->ldy, NULL, hi - lo);
        }
        double loss = 0.0;
        gn_status st =
            gn__optimizer_step_prepared(fs->opt, net, net->xbuf, gn_net_n_inputs(net), net->ybuf,
                                        gn_net_n_outputs(net), hi - lo, m, &loss);
        if (st == GN_ERR_NONFINITE) /* the data is finite (check_data): training diverged */
            return gn__fail(net, GN_ERR_DIVERGED,
                            "gn_net_fit: the loss or a gradient became non-finite in epoch %zu, "
                            "batch %zu (training diverged; lower the learning rate?)",
                            epoch, b + 1);
        if (st != GN_OK)
            return st;
        *loss_sum += loss * (double)m;
        if (o->on_batch)
            o->on_batch(net, epoch, b + 1, n_batches, o->user);
    }
    return GN_OK;
}

static gn_status setup(gn_net *net, const gn_dataset *train, const gn_dataset *val,
                       const gn_fit_options *o, fit_state *fs)
{
    gn_status st;
    gn_act out = gn_net_layer_act(net, net->n_layers);
    if ((o->standardize & GN_STANDARDIZE_OUTPUTS) &&
        (out == GN_ACT_SOFTMAX || net->loss == GN_LOSS_BCE || net->loss == GN_LOSS_CCE))
        return gn__fail(net, GN_ERR_UNSUPPORTED,
                        "gn_net_fit: output standardisation is for regression, not a classifier");
    if (o->optimizer) {
        if (o->optimizer->n_params != net->n_params)
            return gn__fail(net, GN_ERR_DIM,
                            "gn_net_fit: the optimizer is for %zu parameters, the net has %zu",
                            o->optimizer->n_params, net->n_params);
        fs->opt = o->optimizer;
    } else {
        char why[200];
        st = gn_optimizer_create(&fs->opt, net, &o->opt, why, sizeof why);
        if (st != GN_OK)
            return gn__fail(net, st, "gn_net_fit: %s", why);
        fs->own_opt = true;
    }
    fs->perm = malloc(train->n * sizeof *fs->perm); /* n·size_t fits: the data does */
    if (val && o->restore_best)
        fs->best = gn__alloc_floats(net->n_params);
    fs->good = gn__alloc_floats(net->n_params);
    if (!fs->perm || (val && o->restore_best && !fs->best) || !fs->good)
        return gn__fail(net, GN_ERR_NOMEM, "gn_net_fit: out of memory");
    const gn_fit_progress *r = o->resume;
    if (r && fs->best && r->best_epoch > 0 && r->best_params) {
        memcpy(fs->best, r->best_params, net->n_params * sizeof *fs->best);
        fs->have_best = true;
    }
    /* Everything that can fail comes before the model changes: a fit that fails here leaves
     * the network's scaling and dropout as they were (a larger workspace is not the model). */
    float *in = NULL, *out_s = NULL;
    unsigned standardize_flags = r ? 0 : o->standardize; /* a resumed model keeps its own */
    st = GN_OK;
    if (standardize_flags & GN_STANDARDIZE_INPUTS)
        st = standardize(net, train, 0, &in);
    if (st == GN_OK && (standardize_flags & GN_STANDARDIZE_OUTPUTS))
        st = standardize(net, train, 1, &out_s);
    if (st == GN_OK && o->batch > net->max_batch)
        st = gn_net_reserve(net, o->batch);
    if (st == GN_OK)
        st = gn_net_set_dropout(net, o->dropout);
    if (st == GN_OK) /* for the share of the batch a worker computes */
        gn__autotune(net, gn__local_batch(net, o->batch), true);
    if (st != GN_OK) {
        gn__free(in);
        gn__free(out_s);
        return st;
    }
    if (in) {
        gn__free(net->in_scale);
        net->in_scale = in;
    }
    if (out_s) {
        gn__free(net->out_scale);
        net->out_scale = out_s;
    }
    return GN_OK;
}

/* The checkpoint after an epoch: the network as it is now, the optimizer, the progress. */
static gn_status write_checkpoint(gn_net *net, const gn_fit_options *o, const fit_state *fs,
                                  const gn_fit_result *res)
{
    gn_fit_progress p = {res->epochs, res->best_epoch, res->best_val_loss,
                         fs->have_best ? fs->best : NULL};
    char why[sizeof net->err - 32];
    gn_status st = gn_checkpoint_save(net, fs->opt, &p, o->checkpoint_meta, o->checkpoint_path, why,
                                      sizeof why);
    if (st != GN_OK)
        return gn__fail(net, st, "gn_net_fit: checkpoint: %s", why);
    return GN_OK;
}

gn_status gn_net_fit(gn_net *net, const gn_dataset *train, const gn_dataset *val,
                     const gn_fit_options *o, gn_fit_result *result)
{
    gn_fit_result res = {0};
    res.best_val_loss = NAN;
    res.train_loss = NAN;
    if (result)
        *result = res;
    if (!net)
        return GN_ERR_NULL;
    if (!train || !o)
        return gn__fail(net, GN_ERR_NULL, "gn_net_fit: %s is NULL", !train ? "train" : "options");
    gn_status st = check_options(net, o, val);
    if (st == GN_OK)
        st = check_data(net, train, "training");
    if (st == GN_OK && val)
        st = check_data(net, val, "validation");
    gn_optimizer_config base = o->opt;
    if (o->optimizer)
        gn_optimizer_get_config(o->optimizer, &base);
    if (st == GN_OK && o->schedule == GN_SCHEDULE_COSINE && o->min_lr > base.lr)
        st = gn__fail(net, GN_ERR_ARG, "gn_net_fit: cosine schedule: min_lr %g exceeds lr %g",
                      (double)o->min_lr, (double)base.lr);

    fit_state fs = {0};
    if (st == GN_OK)
        st = setup(net, train, val, o, &fs);
    /* Data-parallel: every worker starts only if all could (and so stops with the first
     * worker's error otherwise). */
    st = gn__agree(net, "gn_net_fit", st);
    if (st == GN_OK) /* and compute alike: worker 0's backends everywhere */
        st = gn__share_backends(net, "gn_net_fit");
    gn_optimizer_config oc = {0};
    if (st == GN_OK)
        gn_optimizer_get_config(fs.opt, &oc);
    size_t first = 1, since_best = 0;
    if (o->resume) {
        first = o->resume->epochs_done + 1;
        res.epochs = o->resume->epochs_done;
        res.best_epoch = o->resume->best_epoch;
        res.best_val_loss = o->resume->best_val_loss;
        since_best = res.best_epoch ? res.epochs - res.best_epoch : res.epochs;
    }
    for (size_t epoch = first; st == GN_OK && epoch <= o->epochs; epoch++) {
        float lr = scheduled_lr(o, oc.lr, epoch);
        if (!(lr > 0.0f)) /* a schedule that underflowed to 0: the smallest step there is */
            lr = FLT_TRUE_MIN;
        gn_optimizer_set_lr(fs.opt, lr);
        if (o->batch > net->max_batch) { /* a callback shrank the workspace */
            st = gn__fail(net, GN_ERR_BATCH, "gn_net_fit: batch %zu exceeds the workspace of %zu",
                          o->batch, net->max_batch);
            break;
        }
        memcpy(fs.good, net->params, net->n_params * sizeof *fs.good);
        /* Each epoch's order is a shuffle of the identity, so it depends on nothing but the
         * RNG state, which a checkpoint saves: a resumed run sees the same orders. */
        if (o->shuffle) {
            for (size_t i = 0; i < train->n; i++)
                fs.perm[i] = i;
            gn__shuffle(&net->rng, fs.perm, train->n);
        }
        double t0 = gn__now_seconds(), loss_sum;
        st = run_epoch(net, train, o, &fs, epoch, &loss_sum);
        res.train_seconds += gn__now_seconds() - t0;
        /* Once per epoch, the weights themselves: a callback may have written to them. */
        if (st == GN_OK && !gn__all_finite(net->params, net->n_params))
            st = gn__fail(net, GN_ERR_DIVERGED,
                          "gn_net_fit: a parameter became non-finite in epoch %zu", epoch);
        if (st != GN_OK)
            break;
        res.epochs = epoch;
        res.samples += train->n;
        res.train_loss = loss_sum / (double)train->n;
        gn_epoch_info info = {
            epoch, o->epochs, res.train_loss, gn__now_seconds() - t0, train->n, NAN, NAN, lr};
        if (val) {
            /* in chunks of the training batch, not of the workspace: a resumed network may
             * have a larger workspace, and must still see the same losses bit for bit */
            gn__evaluate_layout(net, val->layout, val->X, val->ldx, val->Y, val->ldy, val->n,
                                o->batch, &info.val_loss, &info.val_accuracy);
            /* data-parallel: worker 0's values, so that every worker stops and keeps alike */
            double v[2] = {info.val_loss, info.val_accuracy};
            if ((st = gn__share_doubles(net, "gn_net_fit", v, 2)) != GN_OK)
                break;
            info.val_loss = v[0];
            info.val_accuracy = v[1];
            if (info.val_loss < res.best_val_loss || isnan(res.best_val_loss)) {
                res.best_val_loss = info.val_loss;
                res.best_epoch = epoch;
                since_best = 0;
                if (fs.best) {
                    memcpy(fs.best, net->params, net->n_params * sizeof *fs.best);
                    fs.have_best = true;
                }
            } else {
                since_best++;
            }
        }
        if (o->on_epoch && o->on_epoch(net, &info, o->user))
            res.stopped_early = 2;
        else if (o->patience && since_best >= o->patience)
            res.stopped_early = 1;
        bool last = res.stopped_early || epoch == o->epochs;
        bool writer = !net->has_reducer || net->reducer.rank == 0; /* one copy of the model */
        if (o->checkpoint_path && writer && (last || epoch % o->checkpoint_every == 0))
            st = write_checkpoint(net, o, &fs, &res);
        st = gn__agree(net, "gn_net_fit", st); /* a failed write stops every worker */
        if (last)
            break;
    }
    /* A diverged run ends with the last good parameters: those from before the failing step
     * if they are all finite, else those from the start of the epoch. */
    if (st == GN_ERR_DIVERGED && !gn__all_finite(net->params, net->n_params))
        memcpy(net->params, fs.good, net->n_params * sizeof *fs.good);
    if (fs.have_best)
        memcpy(net->params, fs.best, net->n_params * sizeof *fs.best);
    if (fs.own_opt)
        gn_optimizer_free(fs.opt);
    free(fs.perm);
    gn__free(fs.best);
    gn__free(fs.good);
    if (result)
        *result = res;
    return st;
}
