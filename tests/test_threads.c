/* Threads: distinct networks trained at the same time in distinct threads give bit for bit the
 * parameters they give when trained one after the other, on one BLAS thread and on two; the
 * library never changes the BLAS thread count except in gn_set_threads; gn_blas_get_info.
 * The suite runs with OPENBLAS_NUM_THREADS=1 (tests/meson.build). */
#define _DEFAULT_SOURCE /* mkdtemp, opendir, sysconf(_SC_NPROCESSORS_ONLN) */
#include <criterion/criterion.h>

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tmpfiles.h"

TestSuite(threads, .init = make_tmp_dir, .fini = remove_tmp_dir);
TestSuite(blas_info);

/*---- one training job, run in any thread ----*/

/* Criterion's assertions may only fail in the test's own thread, so a job records what went
 * wrong and the test thread asserts on it. */
/* Shared by the jobs of one concurrent round: they start together, and a job that finishes a
 * mini-batch while the other is also training records that the two really overlapped. */
typedef struct race {
    pthread_barrier_t start;
    atomic_int running;
    atomic_int overlapped;
} race;

typedef struct job {
    int regression; /* 0: classifier (softmax, CCE, validation split); 1: regression */
    int wide;       /* layers wide enough that OpenBLAS splits each product over its threads */
    uint64_t seed;
    race *race;    /* NULL when run alone */
    float *params; /* the trained parameters (malloc'ed), NULL on failure */
    size_t n_params;
    double train_loss;
    gn_status status;
    char msg[256];
} job;

/* Classifier data: k Gaussian blobs in nf dimensions (centres uniform in [−2, 2]^nf, σ 0.7),
 * Y one-hot. Regression data: x uniform in [−2, 2]^nf, y_0 = sin x_0 + ½ x_1 x_2,
 * y_1 = x_0 − x_3² (when there are two outputs). Column-major, one sample per column. */
static void make_data(const job *jb, size_t nf, size_t no, size_t n, float *X, float *Y)
{
    gn_rng rng;
    gn_rng_seed(&rng, jb->seed * 7919 + 1);
    if (!jb->regression) {
        float centre[16][64];
        for (size_t c = 0; c < no; c++)
            for (size_t i = 0; i < nf; i++)
                centre[c][i] = (float)(4.0 * gn_rng_uniform(&rng) - 2.0);
        memset(Y, 0, no * n * sizeof *Y);
        for (size_t j = 0; j < n; j++) {
            size_t c = (size_t)gn_rng_below(&rng, no);
            for (size_t i = 0; i < nf; i++)
                X[i + j * nf] = centre[c][i] + (float)(0.7 * gn_rng_normal(&rng));
            Y[c + j * no] = 1.0f;
        }
        return;
    }
    for (size_t j = 0; j < n; j++) {
        float *x = X + j * nf;
        for (size_t i = 0; i < nf; i++)
            x[i] = (float)(4.0 * gn_rng_uniform(&rng) - 2.0);
        Y[j * no] = sinf(x[0]) + 0.5f * x[1] * x[2];
        if (no > 1)
            Y[1 + j * no] = x[0] - x[3] * x[3];
    }
}

static void on_batch(gn_net *net, size_t epoch, size_t batch, size_t n_batches, void *user)
{
    (void)net, (void)epoch, (void)batch, (void)n_batches;
    race *r = ((job *)user)->race;
    if (r && atomic_load(&r->running) == 2)
        atomic_store(&r->overlapped, 1);
}

static void fail(job *jb, gn_status st, const char *what, const gn_net *net)
{
    jb->status = st;
    snprintf(jb->msg, sizeof jb->msg, "%s: %s%s%s", what, gn_strerror(st), net ? ": " : "",
             net ? gn_net_last_error(net) : "");
}

/* Makes the data, creates the network and fits it with Adam, dropout, shuffling and
 * standardisation, all inside the calling thread; keeps a copy of the parameters. */
static void run_job(job *jb)
{
    /* Small: 2-32-16-3 classifier, 4-24-1 regression. Wide: 64-256-128-10 classifier,
     * 32-192-192-2 regression, batch 64: the forward products have m·n·k of 256·64·64 and
     * 192·192·64, above OpenBLAS's 64³ threshold for using more than one thread. */
    const size_t small_c[] = {2, 32, 16, 3}, small_r[] = {4, 24, 1};
    const size_t wide_c[] = {64, 256, 128, 10}, wide_r[] = {32, 192, 192, 2};
    const gn_act acts_c[] = {GN_ACT_RELU, GN_ACT_RELU, GN_ACT_SOFTMAX};
    const gn_act acts_r[] = {GN_ACT_TANH, GN_ACT_ELU, GN_ACT_IDENTITY};
    const gn_act acts_r_small[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    const size_t *sizes =
        jb->regression ? (jb->wide ? wide_r : small_r) : (jb->wide ? wide_c : small_c);
    size_t n_sizes = jb->regression && !jb->wide ? 3 : 4;
    const gn_act *acts = !jb->regression ? acts_c : jb->wide ? acts_r : acts_r_small;
    size_t nf = sizes[0], no = sizes[n_sizes - 1];
    size_t n = jb->wide ? 1024 : 1500;

    jb->status = GN_OK;
    jb->params = NULL;
    float *X = malloc(nf * n * sizeof *X), *Y = malloc(no * n * sizeof *Y);
    gn_dataset *all = NULL, *train = NULL, *val = NULL;
    gn_net *net = NULL;
    if (!X || !Y) {
        fail(jb, GN_ERR_NOMEM, "data", NULL);
        goto done;
    }
    make_data(jb, nf, no, n, X, Y);
    gn_status st = gn_dataset_wrap(&all, X, nf, Y, no, nf, no, n);
    if (st != GN_OK) {
        fail(jb, st, "gn_dataset_wrap", NULL);
        goto done;
    }
    if (!jb->regression) {
        st = gn_dataset_split(all, 0.8, jb->seed, &train, &val);
        if (st != GN_OK) {
            fail(jb, st, "gn_dataset_split", NULL);
            goto done;
        }
    }

    gn_net_config cfg = net_config(sizes, n_sizes, acts,
                                   jb->regression ? GN_LOSS_QUADRATIC : GN_LOSS_CCE, 32, jb->seed);
    st = gn_net_create(&net, &cfg);
    if (st != GN_OK) {
        fail(jb, st, "gn_net_create", NULL);
        goto done;
    }

    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = jb->wide ? 2 : 8;
    o.batch = jb->wide ? 64 : 32; /* wide: grows the workspace from 32 */
    o.opt.kind = GN_OPT_ADAM;
    o.opt.lr = 0.005f;
    o.dropout = 0.2f;
    o.shuffle = 1;
    o.standardize = GN_STANDARDIZE_INPUTS | (jb->regression ? GN_STANDARDIZE_OUTPUTS : 0u);
    o.on_batch = on_batch;
    o.user = jb;
    gn_fit_result r;
    st = gn_net_fit(net, train ? train : all, val, &o, &r);
    if (st != GN_OK) {
        fail(jb, st, "gn_net_fit", net);
        goto done;
    }
    jb->train_loss = r.train_loss;
    jb->n_params = gn_net_n_params(net);
    jb->params = malloc(jb->n_params * sizeof *jb->params);
    if (!jb->params) {
        fail(jb, GN_ERR_NOMEM, "params", NULL);
        goto done;
    }
    memcpy(jb->params, gn_net_params(net), jb->n_params * sizeof *jb->params);

done:
    gn_net_free(net);
    gn_dataset_free(train);
    gn_dataset_free(val);
    gn_dataset_free(all);
    free(X);
    free(Y);
}

static void *job_thread(void *p)
{
    job *jb = p;
    pthread_barrier_wait(&jb->race->start);
    atomic_fetch_add(&jb->race->running, 1);
    run_job(jb);
    atomic_fetch_sub(&jb->race->running, 1);
    return NULL;
}

static void assert_job_ok(const job *jb)
{
    cr_assert_eq(jb->status, GN_OK, "job (seed %llu): %s", (unsigned long long)jb->seed, jb->msg);
    cr_assert_not_null(jb->params);
}

/* The two jobs one after the other, then `rounds` times in two threads at once; every
 * concurrent run must give bit-identical parameters and the same final training loss. */
static void concurrent_equals_sequential(int wide, int rounds)
{
    job ref[2] = {{.regression = 0, .wide = wide, .seed = 11},
                  {.regression = 1, .wide = wide, .seed = 23}};
    for (int i = 0; i < 2; i++) {
        run_job(&ref[i]);
        assert_job_ok(&ref[i]);
    }
    cr_assert(isfinite(ref[0].train_loss) && isfinite(ref[1].train_loss));

    int overlapped = 0;
    for (int round = 0; round < rounds; round++) {
        race r = {.running = 0, .overlapped = 0};
        cr_assert_eq(pthread_barrier_init(&r.start, NULL, 2), 0);
        job jb[2] = {ref[0], ref[1]};
        jb[0].race = jb[1].race = &r;
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            cr_assert_eq(pthread_create(&th[i], NULL, job_thread, &jb[i]), 0);
        for (int i = 0; i < 2; i++)
            cr_assert_eq(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&r.start);
        overlapped += atomic_load(&r.overlapped);
        for (int i = 0; i < 2; i++) {
            assert_job_ok(&jb[i]);
            cr_assert_eq(jb[i].n_params, ref[i].n_params);
            cr_assert(memcmp(jb[i].params, ref[i].params, ref[i].n_params * sizeof(float)) == 0,
                      "round %d, job %d: concurrent parameters differ from sequential", round, i);
            cr_assert(memcmp(&jb[i].train_loss, &ref[i].train_loss, sizeof(double)) == 0,
                      "round %d, job %d: loss %.17g vs %.17g", round, i, jb[i].train_loss,
                      ref[i].train_loss);
            free(jb[i].params);
        }
    }
    cr_assert_gt(overlapped, 0, "the two fits never ran at the same time in %d rounds", rounds);
    free(ref[0].params);
    free(ref[1].params);
}

Test(threads, concurrent_fits_match_sequential_one_blas_thread)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    concurrent_equals_sequential(0, 3);
    cr_assert_eq(gn_get_threads(), 1);
}

/* With OpenBLAS's pthreads build and two BLAS threads, products big enough to be split run
 * one at a time across the process (its level-3 lock), which keeps concurrent callers correct
 * though not faster; an OpenMP build gives each caller its own team. Either way the results
 * must still be those of the sequential runs with the same thread count. */
Test(threads, concurrent_fits_match_sequential_two_blas_threads)
{
    /* A sequential OpenBLAS (libopenblas0-serial) accepts the call and stays at one thread. */
    if (gn_set_threads(2) != GN_OK || gn_get_threads() != 2)
        cr_skip_test("the BLAS runs sequentially");
    concurrent_equals_sequential(1, 1);
    cr_assert_eq(gn_get_threads(), 2, "the thread count changed during training");
}

/* The wide networks on one BLAS thread, concurrently: the same test for products that take
 * OpenBLAS's large-matrix paths, which a two-thread run would split. */
Test(threads, concurrent_wide_fits_match_sequential_one_blas_thread)
{
    cr_assert_eq(gn_set_threads(1), GN_OK);
    concurrent_equals_sequential(1, 1);
}

/*---- the BLAS thread count belongs to the caller ----*/

#define ASSERT_THREADS(expect, after)                                                              \
    cr_assert_eq(gn_get_threads(), (expect), "BLAS thread count changed by %s", after)

/* Every kind of call the library makes, with the count set to `want` beforehand. */
static void calls_keep_thread_count(int want)
{
    const size_t sizes[] = {3, 8, 2};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 16, 5);
    ASSERT_THREADS(want, "gn_net_create");

    size_t n = 40;
    float *X = random_floats(3 * n, -1, 1, 1), *Y = random_floats(2 * n, 0, 1, 2), P[2 * 40];
    cr_assert(X && Y);
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_wrap(&ds, X, 3, Y, 2, 3, 2, n), GN_OK);
    float mean[3], sd[3];
    cr_assert_eq(gn_dataset_mean_std(ds, 0, mean, sd), GN_OK);
    ASSERT_THREADS(want, "gn_dataset_*");

    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = 2;
    o.batch = 32; /* grows the workspace */
    o.dropout = 0.1f;
    o.standardize = GN_STANDARDIZE_INPUTS;
    cr_assert_eq(gn_net_fit(net, ds, ds, &o, NULL), GN_OK, "%s", gn_net_last_error(net));
    ASSERT_THREADS(want, "gn_net_fit");

    double loss;
    cr_assert_eq(gn_net_train_step(net, X, 3, Y, 2, 16, 0.1f, &loss), GN_OK);
    cr_assert_eq(gn_net_predict(net, X, 3, n, P, 2), GN_OK);
    cr_assert_eq(gn_net_evaluate(net, X, 3, Y, 2, n, &loss, NULL), GN_OK);
    ASSERT_THREADS(want, "training and inference calls");

    char *path = tmp_files[n_tmp_files++];
    snprintf(path, sizeof tmp_files[0], "%s/m%d.gnn", tmp_dir, want);
    char err[256];
    cr_assert_eq(gn_net_save(net, path, err, sizeof err), GN_OK, "%s", err);
    gn_net *loaded = NULL;
    cr_assert_eq(gn_net_load(&loaded, path, err, sizeof err), GN_OK, "%s", err);
    ASSERT_THREADS(want, "gn_net_save/gn_net_load");
    gn_net *bad = NULL;
    cr_assert_neq(gn_net_load_buffer(&bad, "not a model", 11, err, sizeof err), GN_OK);
    ASSERT_THREADS(want, "gn_net_load_buffer");

    gn_blas_info info;
    cr_assert_eq(gn_blas_get_info(&info), GN_OK);
    cr_assert_eq(info.threads, want);
    char line[512];
    gn_blas_describe(line, sizeof line);
    ASSERT_THREADS(want, "gn_blas_get_info/gn_blas_describe");

    gn_net_free(loaded);
    gn_net_free(net);
    gn_dataset_free(ds);
    ASSERT_THREADS(want, "gn_*_free");
    free(X);
    free(Y);
}

Test(threads, library_keeps_callers_blas_thread_count)
{
    /* OPENBLAS_NUM_THREADS=1 from the environment, untouched by loading the library. */
    int start = gn_get_threads();
    gn_blas_info info;
    cr_assert_eq(gn_blas_get_info(&info), GN_OK);
    if (info.parallel == GN_BLAS_PARALLEL_PTHREADS || info.parallel == GN_BLAS_PARALLEL_OPENMP) {
        /* the pthreads build reads OPENBLAS_NUM_THREADS first; the OpenMP build ignores it */
        const char *env = getenv(info.parallel == GN_BLAS_PARALLEL_OPENMP ? "OMP_NUM_THREADS"
                                                                          : "OPENBLAS_NUM_THREADS");
        if (env && atoi(env) >= 1)
            cr_assert_eq(start, atoi(env), "the environment's OPENBLAS_NUM_THREADS is not used");
    }
    calls_keep_thread_count(start);
    if (gn_set_threads(3) == GN_OK && gn_get_threads() == 3) {
        calls_keep_thread_count(3);
        cr_assert_eq(gn_set_threads(start), GN_OK);
        cr_assert_eq(gn_get_threads(), start);
    }
    cr_assert_eq(gn_set_threads(0), GN_ERR_ARG);
    cr_assert_eq(gn_get_threads(), start, "a rejected gn_set_threads changed the count");
}

/* A source check that keeps it so: in lib/, only gn_set_threads (blas.c) sets a thread count
 * (onednn.c sets OpenMP's around each product and puts it back), and nothing sets the
 * environment variables BLAS reads. */
Test(threads, only_gn_set_threads_sets_blas_threads)
{
    static const char *setters[] = {"openblas_set_num_threads", "goto_set_num_threads",
                                    "omp_set_num_threads", "setenv", "putenv"};
    const char *test_dir = getenv("GEMMNET_TEST_DIR");
    if (!test_dir)
        cr_skip_test("GEMMNET_TEST_DIR not set");
    char lib_dir[512];
    snprintf(lib_dir, sizeof lib_dir, "%s/../lib", test_dir);
    DIR *d = opendir(lib_dir);
    cr_assert_not_null(d, "cannot open %s", lib_dir);
    int files = 0, calls = 0, omp_sets = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", lib_dir, e->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "cannot read %s", path);
        static char src[1 << 20];
        size_t got = fread(src, 1, sizeof src - 1, f);
        fclose(f);
        cr_assert_lt(got, sizeof src - 1, "%s is too large for this check", path);
        src[got] = '\0';
        files++;
        for (size_t s = 0; s < sizeof setters / sizeof *setters; s++) {
            for (const char *p = strstr(src, setters[s]); p; p = strstr(p + 1, setters[s])) {
                if (strcmp(e->d_name, "onednn.c") == 0 &&
                    strcmp(setters[s], "omp_set_num_threads") == 0) {
                    omp_sets++; /* a scoped change around dnnl_sgemm, counted below */
                    continue;
                }
                cr_assert(strcmp(e->d_name, "blas.c") == 0 &&
                              strcmp(setters[s], "openblas_set_num_threads") == 0,
                          "%s calls %s: only gn_set_threads may change the BLAS thread count",
                          e->d_name, setters[s]);
                /* and there, only inside gn_set_threads */
                const char *fn = strstr(src, "gn_status gn_set_threads(int n)");
                const char *end = fn ? strstr(fn, "\n}\n") : NULL;
                cr_assert(fn && end && p > fn && p < end, "blas.c calls %s outside gn_set_threads",
                          setters[s]);
                calls++;
            }
        }
    }
    closedir(d);
    cr_assert_gt(files, 10, "found only %d files in %s", files, lib_dir);
    cr_assert_eq(calls, 1, "expected exactly one openblas_set_num_threads call, found %d", calls);
    /* oneDNN's products run on gemmnet's count: set before dnnl_sgemm, the caller's put back
     * after (the pair is checked at run time by threads::onednn_keeps_omp_setting) */
    cr_assert(omp_sets == 0 || omp_sets == 2, "onednn.c: %d omp_set_num_threads calls", omp_sets);
}

/*---- gn_blas_get_info ----*/

Test(blas_info, fields)
{
    cr_assert_eq(gn_blas_get_info(NULL), GN_ERR_NULL);
    gn_blas_info info;
    memset(&info, 0xff, sizeof info);
    cr_assert_eq(gn_blas_get_info(&info), GN_OK);
    cr_assert_not_null(info.config);
    cr_assert_not_null(info.corename);
    cr_assert_gt(strlen(info.config), 0);
    cr_assert(info.parallel >= GN_BLAS_PARALLEL_UNKNOWN &&
              info.parallel <= GN_BLAS_PARALLEL_OPENMP);
    cr_assert_eq(info.threads, gn_get_threads());
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(info.cores, cores >= 1 ? (int)cores : 1);
    if (info.parallel != GN_BLAS_PARALLEL_UNKNOWN) {
        /* OpenBLAS: "OpenBLAS <version> <options> <core> MAX_THREADS=n" or "… SINGLE_THREADED" */
        cr_assert(strncmp(info.config, "OpenBLAS ", 9) == 0, "config: %s", info.config);
        cr_assert(strstr(info.config, info.corename), "core %s not in %s", info.corename,
                  info.config);
        cr_assert_eq(strstr(info.config, "SINGLE_THREADED") != NULL,
                     info.parallel == GN_BLAS_PARALLEL_SEQUENTIAL, "%s", info.config);
        cr_assert_eq(strstr(info.config, "USE_OPENMP") != NULL,
                     info.parallel == GN_BLAS_PARALLEL_OPENMP, "%s", info.config);
    } else {
        cr_assert_str_empty(info.corename);
    }

    /* the strings are static and stable */
    gn_blas_info again;
    cr_assert_eq(gn_blas_get_info(&again), GN_OK);
    cr_assert_eq(again.config, info.config);
    cr_assert_str_eq(again.config, info.config);

    if (gn_set_threads(2) == GN_OK) {
        cr_assert_eq(gn_blas_get_info(&again), GN_OK);
        cr_assert_eq(again.threads, info.parallel == GN_BLAS_PARALLEL_SEQUENTIAL ? 1 : 2);
    }
}

Test(blas_info, describe)
{
    gn_blas_info info;
    cr_assert_eq(gn_blas_get_info(&info), GN_OK);
    char line[512];
    size_t n = gn_blas_describe(line, sizeof line);
    cr_assert_eq(n, strlen(line));
    cr_assert(strncmp(line, info.config, strlen(info.config)) == 0, "%s", line);
    char expect[128];
    snprintf(expect, sizeof expect, "; threading %s; %d BLAS thread%s; %d core",
             gn_blas_parallel_name(info.parallel), info.threads, info.threads == 1 ? "" : "s",
             info.cores);
    cr_assert(strstr(line, expect), "'%s' lacks '%s'", line, expect);

    cr_assert_eq(gn_blas_describe(NULL, 0), n);
    char small[12];
    memset(small, 'x', sizeof small);
    cr_assert_eq(gn_blas_describe(small, sizeof small), n);
    cr_assert_eq(strlen(small), sizeof small - 1);
    cr_assert(strncmp(small, line, sizeof small - 1) == 0);
    char one = 'x';
    cr_assert_eq(gn_blas_describe(&one, 1), n);
    cr_assert_eq(one, '\0');
}

Test(blas_info, parallel_names)
{
    cr_assert_str_eq(gn_blas_parallel_name(GN_BLAS_PARALLEL_SEQUENTIAL), "sequential");
    cr_assert_str_eq(gn_blas_parallel_name(GN_BLAS_PARALLEL_PTHREADS), "pthreads");
    cr_assert_str_eq(gn_blas_parallel_name(GN_BLAS_PARALLEL_OPENMP), "openmp");
    cr_assert_str_eq(gn_blas_parallel_name(GN_BLAS_PARALLEL_UNKNOWN), "unknown");
    cr_assert_str_eq(gn_blas_parallel_name((gn_blas_parallel)7), "unknown");
}

/* The first call in the process (Criterion runs each test in its own process) made from
 * several threads at once: every thread sees the same complete string. */
static void *info_thread(void *p)
{
    gn_blas_info *info = p;
    gn_blas_get_info(info);
    return NULL;
}

Test(blas_info, first_call_from_many_threads)
{
    enum { T = 8 };
    gn_blas_info info[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, info_thread, &info[i]), 0);
    for (int i = 0; i < T; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    gn_blas_info ref;
    cr_assert_eq(gn_blas_get_info(&ref), GN_OK);
    for (int i = 0; i < T; i++) {
        cr_assert_eq(info[i].config, ref.config);
        cr_assert_str_eq(info[i].config, ref.config);
        cr_assert_str_eq(info[i].corename, ref.corename);
        cr_assert_eq(info[i].parallel, ref.parallel);
    }
}
