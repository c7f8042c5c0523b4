/* Allocation failure: the n-th allocation made by the library fails, for every n along a
 * model load, a checkpoint load, a training run with everything switched on, a checkpoint
 * save and a CSV load. Each call must return GN_ERR_NOMEM (or succeed, where the allocation
 * was only an optimisation), never crash, and leave nothing allocated.
 *
 * The hook is the linker's: this test is linked with --wrap for malloc, calloc, realloc,
 * aligned_alloc, strdup and free (tests/meson.build), which redirects the library objects'
 * calls (and this file's) to the __wrap_ functions below. Allocations made inside shared
 * libraries (OpenBLAS, zlib, libc's stdio, Criterion) are not redirected: they are not
 * gemmnet's. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, strdup */

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tmpfiles.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
char *__real_strdup(const char *s);
void __real_free(void *p);

/*---- the hook: counting, failing the n-th, remembering what is live ----*/

static bool armed;        /* counting and tracking only between arm() and disarm() */
static size_t fail_at;    /* 1-based index of the allocation to fail; 0 = none */
static size_t n_allocs;   /* allocations attempted since arm() */
static size_t n_failed;   /* allocations failed since arm() */
enum { SLOTS = 1 << 14 }; /* open addressing; far more than any operation here keeps live */
static void *live[SLOTS];
static size_t n_live;

static size_t slot_of(void *p) { return ((uintptr_t)p >> 4) * 2654435761u % SLOTS; }

static void remember(void *p)
{
    if (!armed || !p)
        return;
    size_t i = slot_of(p);
    while (live[i])
        i = (i + 1) % SLOTS;
    live[i] = p;
    n_live++;
}

static void forget(void *p)
{
    if (!armed || !p || n_live == 0)
        return;
    for (size_t i = slot_of(p), k = 0; live[i] && k < SLOTS; i = (i + 1) % SLOTS, k++)
        if (live[i] == p) {
            live[i] = NULL;
            n_live--;
            /* re-insert the rest of the cluster so lookups keep working */
            for (size_t j = (i + 1) % SLOTS; live[j]; j = (j + 1) % SLOTS) {
                void *q = live[j];
                live[j] = NULL;
                size_t t = slot_of(q);
                while (live[t])
                    t = (t + 1) % SLOTS;
                live[t] = q;
            }
            return;
        }
}

/* True if this allocation is to fail. */
static bool fail_now(void)
{
    if (!armed)
        return false;
    n_allocs++;
    if (n_allocs == fail_at) {
        n_failed++;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n)
{
    if (fail_now())
        return NULL;
    void *p = __real_malloc(n);
    remember(p);
    return p;
}

void *__wrap_calloc(size_t k, size_t n)
{
    if (fail_now())
        return NULL;
    void *p = __real_calloc(k, n);
    remember(p);
    return p;
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
    if (fail_now())
        return NULL;
    void *p = __real_aligned_alloc(a, n);
    remember(p);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    if (fail_now())
        return NULL; /* p stays valid, as with a real failure */
    void *q = __real_realloc(p, n);
    if (q) {
        forget(p);
        remember(q);
    }
    return q;
}

char *__wrap_strdup(const char *s)
{
    if (fail_now())
        return NULL;
    char *p = __real_strdup(s);
    remember(p);
    return p;
}

void __wrap_free(void *p)
{
    forget(p);
    __real_free(p);
}

static void arm(size_t n)
{
    memset(live, 0, sizeof live);
    n_live = 0;
    n_allocs = n_failed = 0;
    fail_at = n;
    armed = true;
}

static void disarm(void) { armed = false; }

/*---- the sweep ----*/

typedef gn_status (*operation)(void *ctx);

/* Runs op with the 1st, 2nd, … allocation failing until a run makes no allocation past the
 * failing index. Every failing run must return GN_ERR_NOMEM (or GN_OK when ok_despite is
 * set: best-effort allocations) and end with nothing live; the last run must succeed. */
static size_t sweep(const char *what, operation op, void *ctx, bool ok_despite)
{
    size_t n = 1;
    for (;; n++) {
        arm(n);
        gn_status st = op(ctx);
        disarm();
        cr_assert_eq(n_live, 0u, "%s, allocation %zu failing: %zu block(s) leaked", what, n,
                     n_live);
        if (n_failed == 0) {
            cr_assert_eq(st, GN_OK, "%s with no failure: status %d", what, st);
            break;
        }
        cr_assert(st == GN_ERR_NOMEM || (ok_despite && st == GN_OK),
                  "%s, allocation %zu failing: status %d (%s)", what, n, st, gn_strerror(st));
    }
    cr_log_info("%s: %zu allocations, each failure handled", what, n - 1);
    cr_assert_gt(n, 1u, "%s allocated nothing: the hook is not in place", what);
    return n - 1;
}

/* These sweeps link the library without libxsmm (tests/meson.build): under the per-backend
 * run that forces it, the networks take the default instead. */
static void setup(void)
{
    gn_backend b;
    const char *env = getenv("GN_BACKEND");
    if (env && (gn_backend_parse(env, &b) != GN_OK || !gn_backend_available(b)))
        unsetenv("GN_BACKEND");
    make_tmp_dir();
}

TestSuite(allocfail, .init = setup, .fini = remove_tmp_dir);

static const char *tmp_file(const char *name)
{
    char *p = tmp_files[n_tmp_files++];
    snprintf(p, sizeof tmp_files[0], "%s/%s", tmp_dir, name);
    return p;
}

/* A trained classifier with scaling, its optimizer and progress, saved as a checkpoint. */
typedef struct fixture {
    float *X, *Y;
    gn_dataset *train, *val;
    gn_net *net;
    gn_optimizer *opt;
    const char *ck_path, *csv_path;
} fixture;

static fixture make_fixture(void)
{
    fixture f;
    enum { N = 64 };
    f.X = random_floats(3 * N, -1, 1, 1);
    f.Y = random_onehot(2, N, 2);
    cr_assert_eq(gn_dataset_wrap(&f.train, f.X, 3, f.Y, 2, 3, 2, 48), GN_OK);
    cr_assert_eq(gn_dataset_wrap(&f.val, f.X + 3 * 48, 3, f.Y + 2 * 48, 2, 3, 2, 16), GN_OK);
    const size_t sizes[] = {3, 5, 4, 2};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_TANH, GN_ACT_SOFTMAX};
    f.net = make_net(sizes, 4, acts, GN_LOSS_CCE, 8, 3);
    gn_optimizer_config c;
    gn_optimizer_config_defaults(&c, GN_OPT_ADAM);
    cr_assert_eq(gn_optimizer_create(&f.opt, f.net, &c, NULL, 0), GN_OK);
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = 2;
    o.batch = 8;
    o.optimizer = f.opt;
    o.standardize = GN_STANDARDIZE_INPUTS;
    f.ck_path = tmp_file("ck.gnn");
    o.checkpoint_path = f.ck_path;
    o.checkpoint_meta = "k=v\n";
    cr_assert_eq(gn_net_fit(f.net, f.train, f.val, &o, NULL), GN_OK);
    f.csv_path = tmp_file("d.csv");
    FILE *csv = fopen(f.csv_path, "w");
    cr_assert_not_null(csv);
    fprintf(csv, "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,z\n");
    fclose(csv);
    return f;
}

static void free_fixture(fixture *f)
{
    gn_optimizer_free(f->opt);
    gn_net_free(f->net);
    gn_dataset_free(f->train);
    gn_dataset_free(f->val);
    free(f->X);
    free(f->Y);
}

static gn_status op_load_checkpoint(void *ctx)
{
    fixture *f = ctx;
    gn_checkpoint *ck = NULL;
    gn_status st = gn_checkpoint_load(&ck, f->ck_path, NULL, 0);
    if (st == GN_OK) {
        gn_fit_progress p;
        cr_assert_eq(gn_checkpoint_progress(ck, &p), 1);
        cr_assert_not_null(p.best_params);
    } else {
        cr_assert_null(ck);
    }
    gn_checkpoint_free(ck);
    return st;
}

static gn_status op_load_model(void *ctx)
{
    fixture *f = ctx;
    gn_net *net = NULL;
    gn_status st = gn_net_load(&net, f->ck_path, NULL, 0);
    cr_assert((st == GN_OK) == (net != NULL));
    gn_net_free(net);
    return st;
}

static gn_status op_save_checkpoint(void *ctx)
{
    fixture *f = ctx;
    float best[64];
    cr_assert_leq(gn_net_n_params(f->net), 64u);
    memcpy(best, gn_net_params(f->net), gn_net_n_params(f->net) * sizeof *best);
    gn_fit_progress p = {3, 1, 0.5, best};
    return gn_checkpoint_save(f->net, f->opt, &p, "a=b\n", tmp_files[n_tmp_files - 1], NULL, 0);
}

static gn_status op_train(void *ctx)
{
    fixture *f = ctx;
    const size_t sizes[] = {3, 6, 2};
    const gn_act acts[] = {GN_ACT_ELU, GN_ACT_SOFTMAX};
    gn_net_config cfg = net_config(sizes, 3, acts, GN_LOSS_CCE, 4, 5);
    gn_net *net = NULL;
    gn_status st = gn_net_create(&net, &cfg);
    if (st != GN_OK)
        return st;
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = 2;
    o.batch = 8; /* grows the workspace */
    o.dropout = 0.25f;
    o.standardize = GN_STANDARDIZE_INPUTS;
    o.checkpoint_path = tmp_files[n_tmp_files - 1];
    st = gn_net_fit(net, f->train, f->val, &o, NULL);
    gn_net_free(net);
    return st;
}

static gn_status op_load_csv(void *ctx)
{
    fixture *f = ctx;
    gn_csv_options o;
    gn_csv_options_defaults(&o);
    o.header = 1;
    gn_dataset *ds = NULL;
    gn_status st = gn_dataset_load_csv(&ds, f->csv_path, &o, NULL, 0);
    gn_dataset_free(ds);
    return st;
}

/* A .npy fixture (tests/data/npy/, written by NumPy). */
static const char *npy_fixture(const char *name)
{
    static char paths[2][1024];
    static int next;
    const char *dir = getenv("GEMMNET_TEST_DIR");
    char *p = paths[next++ % 2];
    snprintf(p, sizeof paths[0], "%s/data/npy/%s", dir ? dir : "tests", name);
    return p;
}

/* Fortran order and float64: the loader's transposing and converting path. */
static gn_status op_load_npy(void *ctx)
{
    (void)ctx;
    gn_dataset *ds = NULL;
    gn_status st = gn_dataset_load_npy(&ds, npy_fixture("x-f8-fortran.npy"),
                                       npy_fixture("y-i8.npy"), NULL, NULL, 0);
    gn_dataset_free(ds);
    return st;
}

/* A network to run the LAPACK paths on (made before arming: its own allocations are the
 * fit's sweep's business). */
typedef struct lapack_ctx {
    gn_net *net;
    float *X, *Y;
    size_t n;
} lapack_ctx;

static gn_status op_orthogonal(void *ctx)
{
    lapack_ctx *c = ctx;
    return gn_net_init_params(c->net, GN_INIT_ORTHOGONAL, 5);
}

static gn_status op_lstsq(void *ctx)
{
    lapack_ctx *c = ctx;
    return gn_fit_output_lstsq(c->net, c->X, 3, c->Y, 2, c->n, 0.1f, NULL);
}

static gn_status op_singular_values(void *ctx)
{
    lapack_ctx *c = ctx;
    float s[8];
    return gn_net_layer_singular_values(c->net, 1, s);
}

/* Every failure leaves the parameters as they were: compared with a copy taken before. */
static void sweep_keeping_params(const char *what, operation op, lapack_ctx *c)
{
    size_t np = gn_net_n_params(c->net);
    float *before = malloc(np * sizeof *before);
    cr_assert_not_null(before);
    memcpy(before, gn_net_params(c->net), np * sizeof *before);
    for (size_t n = 1;; n++) {
        arm(n);
        gn_status st = op(c);
        disarm();
        cr_assert_eq(n_live, 0u, "%s, allocation %zu failing: %zu block(s) leaked", what, n,
                     n_live);
        if (n_failed == 0) {
            cr_assert_eq(st, GN_OK, "%s with no failure: status %d", what, st);
            cr_assert_gt(n, 1u, "%s allocated nothing: the hook is not in place", what);
            cr_log_info("%s: %zu allocations, each failure handled, parameters kept", what, n - 1);
            break;
        }
        cr_assert_eq(st, GN_ERR_NOMEM, "%s, allocation %zu failing: status %d", what, n, st);
        cr_assert(memcmp(before, gn_net_params(c->net), np * sizeof *before) == 0,
                  "%s, allocation %zu failing: the parameters changed", what, n);
    }
    free(before);
}

Test(allocfail, lapack_paths_and_npy_load)
{
    sweep("npy load (Fortran order, float64)", op_load_npy, NULL, false);
    const size_t sizes[] = {3, 8, 2};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes;
    cfg.n_sizes = 3;
    cfg.hidden_act = GN_ACT_TANH;
    cfg.output_act = GN_ACT_IDENTITY;
    lapack_ctx c = {NULL, NULL, NULL, 40};
    cr_assert_eq(gn_net_create(&c.net, &cfg), GN_OK);
    c.X = malloc(3 * c.n * sizeof *c.X);
    c.Y = malloc(2 * c.n * sizeof *c.Y);
    cr_assert(c.X && c.Y);
    for (size_t k = 0; k < 3 * c.n; k++)
        c.X[k] = (float)((k * 37) % 101) / 50.0f - 1.0f;
    for (size_t k = 0; k < 2 * c.n; k++)
        c.Y[k] = (float)((k * 53) % 97) / 40.0f;
    sweep_keeping_params("orthogonal init", op_orthogonal, &c);
    sweep_keeping_params("least-squares readout", op_lstsq, &c);
    sweep("singular values", op_singular_values, &c, false);
    free(c.X), free(c.Y);
    gn_net_free(c.net);
}

Test(allocfail, every_allocation_failure_is_handled)
{
    fixture f = make_fixture();
    sweep("checkpoint load", op_load_checkpoint, &f, false);
    sweep("model load", op_load_model, &f, false);
    tmp_file("saved.gnn");
    sweep("checkpoint save", op_save_checkpoint, &f, false);
    gn_checkpoint *ck = NULL;
    cr_assert_eq(gn_checkpoint_load(&ck, tmp_files[n_tmp_files - 1], NULL, 0), GN_OK);
    gn_checkpoint_free(ck);
    tmp_file("train.gnn");
    sweep("fit with validation, dropout, standardisation and checkpoints", op_train, &f, false);
    sweep("CSV load", op_load_csv, &f, false);
    free_fixture(&f);
}
