/* Checkpoints: the optimizer, RNG, progress and provenance sections round trip bit for bit;
 * a run resumed from a checkpoint ends with exactly the parameters of an uninterrupted run;
 * every truncation and every single-bit flip of a checkpoint is rejected; each malformed
 * extra section gets its own status; gn_net_fit reports divergence with the last good
 * parameters kept.
 *
 * Sections are located here by walking the file as docs/format.md describes it, not through
 * lib/io_model.c, and the CRC of a deliberately edited file is recomputed with zlib. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../lib/internal.h" /* the optimizer's state and the network's RNG, to compare */
#include "testutil.h"
#include "tmpfiles.h"

TestSuite(checkpoint, .init = make_tmp_dir, .fini = remove_tmp_dir);

static const char *tmp_file(const char *name)
{
    cr_assert_lt(n_tmp_files, (size_t)MAX_FILES);
    char *p = tmp_files[n_tmp_files++];
    snprintf(p, sizeof tmp_files[0], "%s/%s", tmp_dir, name);
    return p;
}

/*---- the format, read independently (docs/format.md) ----*/

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}
static void wrf(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    wr32(p, u);
}
static void fix_crc(uint8_t *b, size_t n) { wr32(b + n - 4, (uint32_t)crc32(0, b, (uInt)(n - 4))); }

/* Offset of the section header with this tag (walking header_len and the lengths), or 0. */
static size_t find_section(const uint8_t *b, size_t n, const char *tag)
{
    uint32_t want =
        (uint32_t)tag[0] | (uint32_t)tag[1] << 8 | (uint32_t)tag[2] << 16 | (uint32_t)tag[3] << 24;
    size_t pos = rd32(b + 16);
    for (uint32_t i = 0; i < rd32(b + 20) && pos + 16 <= n - 4; i++) {
        if (rd32(b + pos) == want)
            return pos;
        pos += 16 + (size_t)rd64(b + pos + 8);
    }
    return 0;
}

/*---- a small trained state ----*/

static gn_net *small_net(void)
{
    const size_t sizes[] = {3, 4, 2};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_CCE, 8, 11);
    const float mean[3] = {0.5f, -1.0f, 2.0f}, sd[3] = {1.0f, 0.25f, 3.0f};
    cr_assert_eq(gn_net_set_input_scaling(net, mean, sd), GN_OK);
    return net;
}

/* An optimizer of this kind after three steps on random data (non-zero state). */
static gn_optimizer *stepped_optimizer(gn_net *net, gn_opt kind)
{
    gn_optimizer_config cfg;
    gn_optimizer_config_defaults(&cfg, kind);
    cfg.clip_norm = 5.0f;
    cfg.l2 = 1e-3f;
    gn_optimizer *opt = NULL;
    cr_assert_eq(gn_optimizer_create(&opt, net, &cfg, NULL, 0), GN_OK);
    size_t ni = gn_net_n_inputs(net), no = gn_net_n_outputs(net), m = 4;
    float *X = random_floats(ni * m, -1.0f, 1.0f, 4), *Y = random_onehot(no, m, 5);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(gn_optimizer_step(opt, net, X, ni, Y, no, m, NULL), GN_OK);
    cr_assert_eq(gn_optimizer_set_lr(opt, 0.0123f), GN_OK);
    free(X);
    free(Y);
    return opt;
}

static gn_checkpoint *load_ok(const char *path)
{
    gn_checkpoint *ck = NULL;
    char err[512];
    gn_status st = gn_checkpoint_load(&ck, path, err, sizeof err);
    cr_assert_eq(st, GN_OK, "%s", err);
    return ck;
}

static gn_checkpoint *load_buffer_ok(const uint8_t *b, size_t n)
{
    gn_checkpoint *ck = NULL;
    char err[512];
    gn_status st = gn_checkpoint_load_buffer(&ck, b, n, err, sizeof err);
    cr_assert_eq(st, GN_OK, "%s", err);
    return ck;
}

static bool same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/*---- round trips ----*/

Test(checkpoint, round_trip_keeps_everything)
{
    for (int kind = 0; kind < GN_OPT_COUNT; kind++) {
        gn_net *net = small_net();
        gn_optimizer *opt = stepped_optimizer(net, (gn_opt)kind);
        size_t P = gn_net_n_params(net);
        float *best = random_floats(P, -2.0f, 2.0f, 99);
        gn_fit_progress prog = {5, 3, 0.25, best};
        const char *meta = "seed=7\nlabel=a=b\nnote=\xce\xbb \xe2\x9c\x93\nseed=8\n";
        const char *path = tmp_file("ck.gnn");
        char err[512];
        cr_assert_eq(gn_checkpoint_save(net, opt, &prog, meta, path, err, sizeof err), GN_OK, "%s",
                     err);

        gn_checkpoint *ck = load_ok(path);
        const gn_net *got = gn_checkpoint_net(ck);
        cr_assert(same_floats(got->params, gn_net_params(net), P));
        cr_assert_eq(memcmp(&got->rng, &net->rng, sizeof net->rng), 0, "RNG state");
        const float *m1, *s1, *m2, *s2;
        gn_net_input_scaling(net, &m1, &s1);
        gn_net_input_scaling(got, &m2, &s2);
        cr_assert(same_floats(m1, m2, 3) && same_floats(s1, s2, 3));

        gn_optimizer *o2 = gn_checkpoint_take_optimizer(ck);
        cr_assert_not_null(o2);
        cr_assert_null(gn_checkpoint_take_optimizer(ck), "taken twice");
        cr_assert_eq(memcmp(&o2->cfg, &opt->cfg, sizeof opt->cfg), 0, "kind %d config", kind);
        cr_assert_eq(o2->lr, 0.0123f);
        cr_assert_eq(o2->t, 3u);
        int k = gn__optimizer_vectors((gn_opt)kind);
        cr_assert(k < 1 || same_floats(o2->s1, opt->s1, P), "kind %d state 1", kind);
        cr_assert(k < 2 || same_floats(o2->s2, opt->s2, P), "kind %d state 2", kind);
        cr_assert(k < 1 || !same_floats(o2->s1, best, 1)); /* not trivially zero-equal */

        gn_fit_progress p2;
        cr_assert_eq(gn_checkpoint_progress(ck, &p2), 1);
        cr_assert_eq(p2.epochs_done, 5u);
        cr_assert_eq(p2.best_epoch, 3u);
        cr_assert_eq(p2.best_val_loss, 0.25);
        cr_assert(same_floats(p2.best_params, best, P));

        char v[64];
        cr_assert_eq(gn_checkpoint_meta_get(ck, "label", v, sizeof v), 3);
        cr_assert_str_eq(v, "a=b");
        cr_assert_eq(gn_checkpoint_meta_get(ck, "seed", v, sizeof v), 1);
        cr_assert_str_eq(v, "8", "the last line with a key wins");
        cr_assert_eq(gn_checkpoint_meta_get(ck, "gemmnet_version", v, sizeof v),
                     (long)strlen(GN_VERSION_STRING));
        cr_assert_str_eq(v, GN_VERSION_STRING);
        cr_assert_eq(gn_checkpoint_meta_get(ck, "note", v, 3), 6, "full length reported");
        cr_assert_str_eq(v, "\xce\xbb", "truncated to the buffer");
        cr_assert_eq(gn_checkpoint_meta_get(ck, "see", v, sizeof v), -1, "prefix is no key");
        cr_assert_eq(gn_checkpoint_meta_get(ck, "absent", v, sizeof v), -1);

        size_t n;
        uint8_t *b = read_whole_file(path, &n);
        gn_checkpoint_info info;
        cr_assert_eq(gn_checkpoint_get_info(ck, &info), GN_OK);
        cr_assert_eq(info.format_version, 1u);
        cr_assert_eq(info.file_bytes, n);
        cr_assert_eq(info.crc, rd32(b + n - 4));
        cr_assert_eq(info.n_sections, 7u);
        cr_assert_eq(info.n_skipped, 0u);
        cr_assert(info.has_scaling && info.has_optimizer && info.has_rng && info.has_progress &&
                  info.has_meta);
        /* OPTM carries exactly the kind's state vectors */
        size_t optm = find_section(b, n, "OPTM");
        cr_assert_neq(optm, 0u);
        cr_assert_eq(rd64(b + optm + 8), 64 + 4 * (uint64_t)k * P);
        free(b);

        gn_net *taken = gn_checkpoint_take_net(ck);
        cr_assert_eq(taken, got);
        cr_assert_null(gn_checkpoint_net(ck));
        gn_checkpoint_free(ck);
        gn_net_free(taken);
        gn_optimizer_free(o2);
        gn_optimizer_free(opt);
        gn_net_free(net);
        free(best);
    }
}

Test(checkpoint, plain_model_and_plain_load)
{
    gn_net *net = small_net();
    gn_rng_next(&net->rng); /* a state no seed-1 net has */
    gn_optimizer *opt = stepped_optimizer(net, GN_OPT_ADAM);
    const char *ck_path = tmp_file("ck.gnn"), *plain = tmp_file("plain.gnn");
    cr_assert_eq(gn_checkpoint_save(net, opt, NULL, NULL, ck_path, NULL, 0), GN_OK);
    cr_assert_eq(gn_net_save(net, plain, NULL, 0), GN_OK);

    /* gn_net_load of a checkpoint: the model and its RNG state, the rest dropped */
    gn_net *a = NULL;
    cr_assert_eq(gn_net_load(&a, ck_path, NULL, 0), GN_OK);
    cr_assert(same_floats(gn_net_params(a), gn_net_params(net), gn_net_n_params(net)));
    cr_assert_eq(memcmp(&a->rng, &net->rng, sizeof net->rng), 0);
    gn_net_free(a);

    /* a plain model has no extra sections; its RNG starts from seed 1 */
    gn_checkpoint *ck = load_ok(plain);
    gn_checkpoint_info info;
    gn_checkpoint_get_info(ck, &info);
    cr_assert_eq(info.n_sections, 3u);
    cr_assert(!info.has_optimizer && !info.has_rng && !info.has_progress && !info.has_meta);
    cr_assert_null(gn_checkpoint_take_optimizer(ck));
    gn_fit_progress p;
    cr_assert_eq(gn_checkpoint_progress(ck, &p), 0);
    cr_assert_str_eq(gn_checkpoint_meta(ck), "");
    gn_rng one;
    gn_rng_seed(&one, 1);
    cr_assert_eq(memcmp(&gn_checkpoint_net(ck)->rng, &one, sizeof one), 0);
    /* no progress given: no PROG, but RNGS and PROV */
    gn_checkpoint_free(ck);
    ck = load_ok(ck_path);
    gn_checkpoint_get_info(ck, &info);
    cr_assert(info.has_optimizer && info.has_rng && !info.has_progress && info.has_meta);
    gn_checkpoint_free(ck);
    gn_optimizer_free(opt);
    gn_net_free(net);
}

/*---- resuming gn_net_fit ----*/

/* Three 2-D blobs, as in test_fit.c: X 2 × n, Y one-hot 3 × n. */
static void blobs(size_t n, uint64_t seed, float **X, float **Y)
{
    static const double cx[3] = {0.0, -2.6, 2.6}, cy[3] = {3.0, -1.5, -1.5};
    *X = malloc(2 * n * sizeof **X);
    *Y = calloc(3 * n, sizeof **Y);
    cr_assert(*X && *Y);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t j = 0; j < n; j++) {
        size_t c = (size_t)gn_rng_below(&rng, 3);
        (*X)[2 * j] = (float)(cx[c] + 1.5 * gn_rng_normal(&rng));
        (*X)[2 * j + 1] = (float)(cy[c] + 1.5 * gn_rng_normal(&rng));
        (*Y)[c + 3 * j] = 1.0f;
    }
}

static gn_net *blob_net(void)
{
    const size_t sizes[] = {2, 16, 16, 3};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_TANH, GN_ACT_SOFTMAX};
    return make_net(sizes, 4, acts, GN_LOSS_CCE, 16, 3);
}

static int stop_at(gn_net *net, const gn_epoch_info *info, void *user)
{
    (void)net;
    return info->epoch == *(size_t *)user;
}

typedef struct fit_data {
    float *X, *Y, *VX, *VY;
    gn_dataset *train, *val;
} fit_data;

static fit_data make_data(void)
{
    fit_data d;
    blobs(300, 1, &d.X, &d.Y);
    blobs(90, 2, &d.VX, &d.VY);
    cr_assert_eq(gn_dataset_wrap(&d.train, d.X, 2, d.Y, 3, 2, 3, 300), GN_OK);
    cr_assert_eq(gn_dataset_wrap(&d.val, d.VX, 2, d.VY, 3, 2, 3, 90), GN_OK);
    return d;
}

static void free_data(fit_data *d)
{
    gn_dataset_free(d->train);
    gn_dataset_free(d->val);
    free(d->X), free(d->Y), free(d->VX), free(d->VY);
}

Test(checkpoint, resumed_fit_is_bit_identical)
{
    fit_data d = make_data();
    struct {
        gn_schedule schedule;
        gn_opt kind;
        size_t epochs, stop;
        float dropout;
        size_t patience;
    } cases[] = {
        {GN_SCHEDULE_COSINE, GN_OPT_ADAM, 7, 3, 0.2f, 0},
        {GN_SCHEDULE_CONSTANT, GN_OPT_NESTEROV, 6, 2, 0.0f, 0},
        {GN_SCHEDULE_STEP, GN_OPT_RMSPROP, 6, 4, 0.1f, 2},
        {GN_SCHEDULE_CONSTANT, GN_OPT_ADAMW, 5, 1, 0.3f, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gn_fit_options o;
        gn_fit_options_defaults(&o);
        o.epochs = cases[c].epochs;
        o.batch = 16;
        gn_optimizer_config_defaults(&o.opt, cases[c].kind);
        o.opt.lr = cases[c].kind == GN_OPT_NESTEROV ? 0.05f : 0.01f;
        o.schedule = cases[c].schedule;
        o.step_epochs = 2;
        o.gamma = 0.5f;
        o.dropout = cases[c].dropout;
        o.patience = cases[c].patience;
        o.standardize = GN_STANDARDIZE_INPUTS;

        /* one run straight through */
        gn_net *a = blob_net();
        gn_fit_result ra;
        cr_assert_eq(gn_net_fit(a, d.train, d.val, &o, &ra), GN_OK, "%s", gn_net_last_error(a));

        /* the same run stopped after `stop` epochs with a checkpoint ... */
        gn_net *b = blob_net();
        gn_fit_options ob = o;
        ob.checkpoint_path = tmp_file("run.gnn");
        ob.checkpoint_every = 100; /* only the one written when it stops */
        ob.checkpoint_meta = "run=b\n";
        ob.on_epoch = stop_at;
        ob.user = &cases[c].stop;
        gn_fit_result rb;
        cr_assert_eq(gn_net_fit(b, d.train, d.val, &ob, &rb), GN_OK, "%s", gn_net_last_error(b));
        cr_assert_eq(rb.epochs, cases[c].stop);
        gn_net_free(b);

        /* ... and resumed from the file alone */
        gn_checkpoint *ck = load_ok(ob.checkpoint_path);
        gn_net *r = gn_checkpoint_take_net(ck);
        gn_optimizer *opt = gn_checkpoint_take_optimizer(ck);
        gn_fit_progress prog;
        cr_assert_eq(gn_checkpoint_progress(ck, &prog), 1);
        cr_assert_eq(prog.epochs_done, cases[c].stop);
        cr_assert_not_null(prog.best_params, "restore_best keeps the best parameters");
        gn_fit_options oc = o;
        oc.optimizer = opt;
        oc.resume = &prog;
        gn_fit_result rc;
        cr_assert_eq(gn_net_fit(r, d.train, d.val, &oc, &rc), GN_OK, "%s", gn_net_last_error(r));
        cr_assert_eq(rc.epochs, ra.epochs, "case %zu", c);
        cr_assert_eq(rc.best_epoch, ra.best_epoch, "case %zu: %zu vs %zu (%.17g vs %.17g)", c,
                     rc.best_epoch, ra.best_epoch, rc.best_val_loss, ra.best_val_loss);
        cr_assert_eq(rc.best_val_loss, ra.best_val_loss, "case %zu", c);
        cr_assert_eq(rc.stopped_early, ra.stopped_early, "case %zu", c);
        cr_assert(same_floats(gn_net_params(r), gn_net_params(a), gn_net_n_params(a)),
                  "case %zu: resumed parameters differ", c);
        cr_assert_eq(memcmp(&r->rng, &a->rng, sizeof a->rng), 0, "case %zu: RNG", c);
        cr_assert_eq(gn_optimizer_steps(opt), ra.samples / 300 * 19, "case %zu: steps", c);
        gn_checkpoint_free(ck);
        gn_optimizer_free(opt);
        gn_net_free(r);
        gn_net_free(a);
    }
    free_data(&d);
}

/* At each epoch's callback, the epochs_done of the checkpoint on disk (0 if none yet). */
typedef struct seen_files {
    const char *path;
    size_t done[8];
} seen_files;

static int record_checkpoint(gn_net *net, const gn_epoch_info *info, void *user)
{
    (void)net;
    seen_files *s = user;
    gn_checkpoint *ck = NULL;
    gn_fit_progress p = {0, 0, NAN, NULL};
    if (gn_checkpoint_load(&ck, s->path, NULL, 0) == GN_OK)
        gn_checkpoint_progress(ck, &p);
    s->done[info->epoch] = p.epochs_done;
    gn_checkpoint_free(ck);
    return 0;
}

Test(checkpoint, periodic_checkpoints_are_written)
{
    fit_data d = make_data();
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = 5;
    o.batch = 16;
    o.checkpoint_path = tmp_file("every2.gnn");
    o.checkpoint_every = 2;
    seen_files seen = {o.checkpoint_path, {0}};
    o.on_epoch = record_checkpoint;
    o.user = &seen;
    gn_net *net = blob_net();
    cr_assert_eq(gn_net_fit(net, d.train, NULL, &o, NULL), GN_OK);
    /* a callback runs before its epoch's checkpoint: it sees the one before */
    const size_t want[6] = {0, 0, 0, 2, 2, 4};
    for (size_t e = 1; e <= 5; e++)
        cr_assert_eq(seen.done[e], want[e], "epoch %zu saw %zu", e, seen.done[e]);
    gn_checkpoint *ck = load_ok(o.checkpoint_path);
    gn_fit_progress p;
    cr_assert_eq(gn_checkpoint_progress(ck, &p), 1);
    cr_assert_eq(p.epochs_done, 5u, "the last epoch is always checkpointed");
    cr_assert_eq(p.best_epoch, 0u);
    cr_assert(isnan(p.best_val_loss));
    cr_assert_null(p.best_params);
    cr_assert(same_floats(gn_checkpoint_net(ck)->params, gn_net_params(net), gn_net_n_params(net)));
    gn_checkpoint_free(ck);
    gn_net_free(net);
    free_data(&d);
}

Test(checkpoint, resume_arguments_are_checked)
{
    fit_data d = make_data();
    gn_net *net = blob_net();
    gn_optimizer *opt = stepped_optimizer(net, GN_OPT_ADAM);
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = 4;
    o.batch = 16;
    gn_fit_progress p = {4, 0, NAN, NULL};
    o.resume = &p;
    o.optimizer = opt;
    cr_assert_eq(gn_net_fit(net, d.train, NULL, &o, NULL), GN_ERR_ARG);
    cr_assert(strstr(gn_net_last_error(net), "done 4 epochs already") != NULL, "%s",
              gn_net_last_error(net));
    p.epochs_done = 2;
    p.best_epoch = 3;
    p.best_val_loss = 0.5;
    cr_assert_eq(gn_net_fit(net, d.train, NULL, &o, NULL), GN_ERR_ARG);
    p.best_epoch = 0;
    p.best_val_loss = NAN;
    o.optimizer = NULL;
    cr_assert_eq(gn_net_fit(net, d.train, NULL, &o, NULL), GN_ERR_ARG);
    cr_assert(strstr(gn_net_last_error(net), "optimizer") != NULL);
    o.resume = NULL;
    o.checkpoint_path = tmp_file("x.gnn");
    o.checkpoint_every = 0;
    cr_assert_eq(gn_net_fit(net, d.train, NULL, &o, NULL), GN_ERR_ARG);

    /* a checkpoint that cannot be written stops training with GN_ERR_IO after epoch 1 */
    o.checkpoint_every = 1;
    o.checkpoint_path = "/nonexistent-dir/x.gnn";
    gn_fit_result r;
    cr_assert_eq(gn_net_fit(net, d.train, NULL, &o, &r), GN_ERR_IO);
    cr_assert_eq(r.epochs, 1u);
    cr_assert(strstr(gn_net_last_error(net), "checkpoint") != NULL);
    gn_optimizer_free(opt);
    gn_net_free(net);
    free_data(&d);
}

/*---- corrupt checkpoints ----*/

static uint8_t *small_checkpoint(size_t *n)
{
    gn_net *net = small_net();
    gn_optimizer *opt = stepped_optimizer(net, GN_OPT_ADAM);
    float *best = random_floats(gn_net_n_params(net), -1.0f, 1.0f, 3);
    gn_fit_progress prog = {4, 2, 0.5, best};
    const char *path = tmp_file("small.gnn");
    cr_assert_eq(gn_checkpoint_save(net, opt, &prog, "k=v\n", path, NULL, 0), GN_OK);
    gn_optimizer_free(opt);
    gn_net_free(net);
    free(best);
    return read_whole_file(path, n);
}

Test(checkpoint, every_truncation_and_bit_flip_is_rejected)
{
    size_t n;
    uint8_t *b = small_checkpoint(&n);
    gn_checkpoint_free(load_buffer_ok(b, n));
    size_t rejected = 0;
    for (size_t len = 0; len < n; len++) {
        gn_checkpoint *ck = (gn_checkpoint *)1;
        gn_status st = gn_checkpoint_load_buffer(&ck, b, len, NULL, 0);
        cr_assert_eq(st, GN_ERR_TRUNCATED, "truncated at %zu: status %d", len, st);
        cr_assert_null(ck);
        rejected++;
    }
    size_t flips = 0;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            gn_checkpoint *ck = (gn_checkpoint *)1;
            char err[512];
            gn_status st = gn_checkpoint_load_buffer(&ck, b, n, err, sizeof err);
            cr_assert_neq(st, GN_OK, "byte %zu bit %d accepted", i, bit);
            cr_assert(st <= GN_ERR_MAGIC && st >= GN_ERR_VALUE, "byte %zu bit %d: status %d", i,
                      bit, st);
            cr_assert_null(ck);
            cr_assert_neq(err[0], '\0');
            b[i] ^= (uint8_t)(1u << bit);
            flips++;
        }
    cr_log_info("checkpoint of %zu bytes: %zu truncations and %zu single-bit flips rejected", n,
                rejected, flips);
    free(b);
}

/* Edits one field of the small checkpoint, recomputes the CRC, expects status and text. */
static void expect_edit(const char *tag, size_t off, int width, uint64_t value, float fvalue,
                        gn_status want, const char *text)
{
    size_t n;
    uint8_t *b = small_checkpoint(&n);
    size_t s = find_section(b, n, tag);
    cr_assert_neq(s, 0u, "no %s", tag);
    uint8_t *p = b + s + (off == SIZE_MAX ? 4 : 16 + off);
    if (width == 4)
        wr32(p, (uint32_t)value);
    else if (width == 8)
        wr64(p, value);
    else if (width == -4)
        wrf(p, fvalue);
    else
        *p = (uint8_t)value;
    fix_crc(b, n);
    gn_checkpoint *ck = NULL;
    char err[512];
    gn_status st = gn_checkpoint_load_buffer(&ck, b, n, err, sizeof err);
    cr_assert_eq(st, want, "%s +%zu: status %d (%s), want %d", tag, off, st, err, want);
    cr_assert_null(ck);
    cr_assert(strstr(err, text) != NULL, "'%s' not in '%s'", text, err);
    /* gn_net_load checks the extra sections too */
    gn_net *net = NULL;
    cr_assert_eq(gn_net_load_buffer(&net, b, n, NULL, 0), want);
    free(b);
}

Test(checkpoint, invalid_extra_sections)
{
    const uint64_t P = 26;
    /* OPTM: kind, config, lr, t, count, vectors (offsets in docs/format.md) */
    expect_edit("OPTM", 0, 4, 6, 0, GN_ERR_VALUE, "unknown optimizer 6");
    expect_edit("OPTM", 0, 4, GN_OPT_MOMENTUM, 0, GN_ERR_VALUE, "kind has 1"); /* 2 stored */
    expect_edit("OPTM", 16, -4, 0, 1.0f, GN_ERR_VALUE, "beta1 and beta2");     /* beta1 */
    expect_edit("OPTM", 40, -4, 0, 0.0f, GN_ERR_VALUE, "current learning rate 0");
    expect_edit("OPTM", 52, 8, P + 1, 0, GN_ERR_VALUE, "for 27 parameters");
    expect_edit("OPTM", 60, 4, 1, 0, GN_ERR_VALUE, "1 state vectors; this optimizer kind has 2");
    expect_edit("OPTM", 64 + 4 * 5, -4, 0, NAN, GN_ERR_NONFINITE, "optimizer state 1 entry 5");
    expect_edit("OPTM", 64 + 4 * (P + 7), -4, 0, -1.0f, GN_ERR_VALUE, "cannot be negative");
    expect_edit("OPTM", SIZE_MAX, 4, 1, 0, GN_ERR_SECTION, "section OPTM: flags 0x00000001");
    /* RNGS */
    {
        size_t n;
        uint8_t *b = small_checkpoint(&n);
        size_t s = find_section(b, n, "RNGS");
        memset(b + s + 16, 0, 32);
        fix_crc(b, n);
        gn_checkpoint *ck = NULL;
        char err[512];
        cr_assert_eq(gn_checkpoint_load_buffer(&ck, b, n, err, sizeof err), GN_ERR_VALUE);
        cr_assert(strstr(err, "all zero") != NULL, "%s", err);
        free(b);
    }
    /* PROG: epochs done, best epoch, best loss, flags, best parameters */
    expect_edit("PROG", 8, 8, 5, 0, GN_ERR_VALUE, "best epoch 5 is after the 4 epochs done");
    expect_edit("PROG", 0, 8, (uint64_t)1 << 50, 0, GN_ERR_LIMIT, "epochs done");
    expect_edit("PROG", 16, 8, 0x7ff8000000000000u, 0, GN_ERR_NONFINITE, "best validation loss");
    expect_edit("PROG", 24, 4, 3, 0, GN_ERR_VALUE, "PROG flags 0x00000003");
    expect_edit("PROG", 24, 4, 0, 0, GN_ERR_SECTION, "PROG length");
    expect_edit("PROG", 28 + 4 * 25, -4, 0, INFINITY, GN_ERR_NONFINITE,
                "best parameter 25 (layer 2 bias 1)");
    /* PROV: "gemmnet_version=…\nk=v\n" */
    expect_edit("PROV", 0, 1, 0, 0, GN_ERR_VALUE, "a NUL byte");
    expect_edit("PROV", 0, 1, '=', 0, GN_ERR_VALUE, "an empty key");
    expect_edit("PROV", 7, 1, 0xff, 0, GN_ERR_VALUE, "invalid UTF-8");
    expect_edit("PROV", 7, 1, 0xc0, 0, GN_ERR_VALUE, "invalid UTF-8"); /* overlong lead */
    expect_edit("PROV", 15, 1, '_', 0, GN_ERR_VALUE, "a line without '='");
}

Test(checkpoint, save_refuses_what_load_would_refuse)
{
    gn_net *net = small_net();
    gn_optimizer *opt = stepped_optimizer(net, GN_OPT_ADAM);
    const char *path = tmp_file("bad.gnn");
    char err[512];
    const char *bad_meta[] = {"no newline", "=v\n",     "k\n",
                              "k=v\n\n",    "k=\xff\n", "k=\xed\xa0\x80\n" /* a surrogate */};
    for (size_t i = 0; i < sizeof bad_meta / sizeof bad_meta[0]; i++) {
        cr_assert_eq(gn_checkpoint_save(net, opt, NULL, bad_meta[i], path, err, sizeof err),
                     GN_ERR_ARG, "meta %zu accepted", i);
        cr_assert(strstr(err, "provenance text") != NULL, "%s", err);
    }
    char *big = malloc(70000);
    memset(big, 'a', 69998);
    big[0] = 'k', big[1] = '=', big[69998] = '\n', big[69999] = '\0';
    cr_assert_eq(gn_checkpoint_save(net, opt, NULL, big, path, err, sizeof err), GN_ERR_ARG);
    free(big);

    size_t P = gn_net_n_params(net);
    float *best = random_floats(P, -1.0f, 1.0f, 1);
    gn_fit_progress p = {2, 3, 0.1, NULL};
    cr_assert_eq(gn_checkpoint_save(net, opt, &p, NULL, path, err, sizeof err), GN_ERR_ARG);
    p = (gn_fit_progress){2, 0, NAN, best};
    cr_assert_eq(gn_checkpoint_save(net, opt, &p, NULL, path, err, sizeof err), GN_ERR_ARG);
    p = (gn_fit_progress){2, 1, INFINITY, best};
    cr_assert_eq(gn_checkpoint_save(net, opt, &p, NULL, path, err, sizeof err), GN_ERR_ARG);
    best[4] = NAN;
    p = (gn_fit_progress){2, 1, 0.5, best};
    cr_assert_eq(gn_checkpoint_save(net, opt, &p, NULL, path, err, sizeof err), GN_ERR_NONFINITE);
    cr_assert(strstr(err, "best parameter 4") != NULL, "%s", err);
    opt->s2[7] = INFINITY;
    cr_assert_eq(gn_checkpoint_save(net, opt, NULL, NULL, path, err, sizeof err), GN_ERR_NONFINITE);
    cr_assert(strstr(err, "optimizer state 2 entry 7") != NULL, "%s", err);

    /* an optimizer made for another network */
    const size_t sizes[] = {3, 5, 2};
    gn_net *other = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 1);
    gn_optimizer *o2 = stepped_optimizer(other, GN_OPT_SGD);
    cr_assert_eq(gn_checkpoint_save(net, o2, NULL, NULL, path, err, sizeof err), GN_ERR_DIM);
    cr_assert_eq(gn_checkpoint_save(NULL, opt, NULL, NULL, path, err, sizeof err), GN_ERR_NULL);
    cr_assert_eq(gn_checkpoint_save(net, opt, NULL, NULL, NULL, err, sizeof err), GN_ERR_NULL);
    cr_assert_eq(access(path, F_OK), -1, "nothing was written");

    gn_checkpoint *ck = (gn_checkpoint *)1;
    cr_assert_eq(gn_checkpoint_load(&ck, NULL, err, sizeof err), GN_ERR_NULL);
    cr_assert_null(ck);
    cr_assert_eq(gn_checkpoint_load(NULL, path, err, sizeof err), GN_ERR_NULL);
    cr_assert_eq(gn_checkpoint_load_buffer(&ck, NULL, 3, err, sizeof err), GN_ERR_NULL);
    cr_assert_eq(gn_checkpoint_get_info(NULL, NULL), GN_ERR_NULL);
    cr_assert_eq(gn_checkpoint_meta_get(NULL, "k", NULL, 0), -1);
    cr_assert_str_eq(gn_checkpoint_meta(NULL), "");
    cr_assert_null(gn_checkpoint_take_net(NULL));
    gn_checkpoint_free(NULL);
    gn_optimizer_free(o2);
    gn_net_free(other);
    gn_optimizer_free(opt);
    gn_net_free(net);
    free(best);
}

/*---- divergence ----*/

typedef struct poison {
    size_t epoch;    /* poison the parameters in this epoch's first batch */
    float *snapshot; /* the parameters at the end of the epoch before */
    size_t n;
} poison;

static void poison_batch(gn_net *net, size_t epoch, size_t batch, size_t n_batches, void *user)
{
    (void)n_batches;
    poison *p = user;
    if (epoch == p->epoch && batch == 1)
        gn_net_params(net)[3] = NAN;
}

static int keep_snapshot(gn_net *net, const gn_epoch_info *info, void *user)
{
    poison *p = user;
    if (info->epoch == p->epoch - 1)
        memcpy(p->snapshot, gn_net_params(net), p->n * sizeof *p->snapshot);
    return 0;
}

Test(checkpoint, divergence_keeps_the_last_good_parameters)
{
    fit_data d = make_data();
    /* a learning rate that makes momentum SGD on a least-squares fit blow up */
    const size_t rs[] = {2, 8, 1};
    const gn_act ra[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net *net = make_net(rs, 3, ra, GN_LOSS_QUADRATIC, 16, 5);
    float *T = malloc(300 * sizeof *T);
    for (size_t j = 0; j < 300; j++)
        T[j] = 10.0f * (d.X[2 * j] + d.X[2 * j + 1]);
    gn_dataset *reg = NULL;
    cr_assert_eq(gn_dataset_wrap(&reg, d.X, 2, T, 1, 2, 1, 300), GN_OK);
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = 50;
    o.batch = 16;
    gn_optimizer_config_defaults(&o.opt, GN_OPT_MOMENTUM);
    o.opt.lr = 10.0f;
    gn_fit_result r;
    gn_status st = gn_net_fit(net, reg, NULL, &o, &r);
    cr_assert_eq(st, GN_ERR_DIVERGED, "status %d: %s", st, gn_net_last_error(net));
    cr_assert(strstr(gn_net_last_error(net), "diverged") != NULL);
    cr_assert(r.epochs < 50);
    for (size_t i = 0; i < gn_net_n_params(net); i++)
        cr_assert(isfinite(gn_net_params(net)[i]), "parameter %zu", i);
    gn_dataset_free(reg);
    free(T);
    gn_net_free(net);
    size_t P;

    /* a callback that writes a NaN into the weights: the epoch's starting point comes back */
    net = blob_net();
    P = gn_net_n_params(net);
    poison p = {3, malloc(P * sizeof(float)), P};
    gn_fit_options_defaults(&o);
    o.epochs = 5;
    o.batch = 16;
    o.on_batch = poison_batch;
    o.on_epoch = keep_snapshot;
    o.user = &p;
    st = gn_net_fit(net, d.train, NULL, &o, &r);
    cr_assert_eq(st, GN_ERR_DIVERGED, "status %d: %s", st, gn_net_last_error(net));
    cr_assert_eq(r.epochs, 2u);
    cr_assert(same_floats(gn_net_params(net), p.snapshot, P), "not the last good parameters");
    free(p.snapshot);
    gn_net_free(net);

    /* non-finite data is refused before the first step, the network unchanged */
    net = blob_net();
    float *before = malloc(P * sizeof *before);
    memcpy(before, gn_net_params(net), P * sizeof *before);
    d.X[2 * 17 + 1] = NAN;
    st = gn_net_fit(net, d.train, NULL, &o, &r);
    cr_assert_eq(st, GN_ERR_NONFINITE);
    cr_assert(strstr(gn_net_last_error(net), "training sample 17") != NULL, "%s",
              gn_net_last_error(net));
    cr_assert_eq(r.epochs, 0u);
    cr_assert(same_floats(gn_net_params(net), before, P));
    d.X[2 * 17 + 1] = 0.0f;
    d.VY[3 * 5] = INFINITY;
    cr_assert_eq(gn_net_fit(net, d.train, d.val, &o, &r), GN_ERR_NONFINITE);
    cr_assert(strstr(gn_net_last_error(net), "validation sample 5 has a NaN or infinite target"));
    free(before);
    gn_net_free(net);
    free_data(&d);
}
