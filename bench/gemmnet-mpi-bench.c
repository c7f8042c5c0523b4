/* gemmnet-mpi-bench: what data-parallel training over MPI costs and gains, per standard
 * configuration, measured on the machine it runs on. Run it plainly (one process, no
 * reduction) or under `mpirun -np P`. For each configuration it measures
 *   - the training throughput through the real path, gn_net_fit with the gemmnet_mpi reducer
 *     attached (each reduction, interleaved), the global batch being the configuration's B;
 *   - the compute part alone: the same fit with the reducer removed, at the local batch b a
 *     rank gets, for b in ⌈B/k⌉, k = 1, 2, 8, 64, 512, and at this run's share ⌈B/P⌉ (what a
 *     step costs without communication; under MPI every rank computes at once, as in training);
 *   - the communication part alone: the attached reducer's hooks called directly on the
 *     gradient buffer with no computation around them (median over many calls);
 *   - with --dp-compute, the compute part also through the data-parallel path, with a local
 *     reducer that does nothing: the gradient is then written out, checked and applied in
 *     passes of their own instead of the update fused into the weight product of plain SGD,
 *     which costs a memory-bound pass or two over the parameters at small local batches.
 * Times are the slowest rank's (gn_mpi_max); the fit figures are the best of --repeat runs.
 * The CSV has one line per measurement: reduction is ordered/allreduce/overlap (or none for
 * one process) for a throughput row, compute (compute-dp) for a compute row; batch is always the
 * configuration's global batch B and local_batch the per-rank batch the row ran at.
 * bench/scaling_model.py turns three such CSVs into docs/scaling.md's tables. */
#define _POSIX_C_SOURCE 200809L
#include <gemmnet.h>
#include <gemmnet_mpi.h>

#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_LOCAL = 8, MAX_CALLS = 500 };

/* Small enough that the many steps on random data stay far from diverging. */
static const float STEP_LR = 1e-4f;

/* The divisors k of the local batches ⌈B/k⌉ the compute part is measured at: the shares of
 * 1, 2, 8, 64 and 512 ranks, which the cost model needs. */
static const size_t divisors[] = {1, 2, 8, 64, 512};
enum { N_DIVISORS = sizeof divisors / sizeof divisors[0] };

typedef struct options {
    int selected[N_STANDARD], any_selected;
    int reduction[GN_MPI_REDUCTION_COUNT], any_reduction;
    gn_backend backend;
    int threads; /* 0: leave the BLAS default */
    int csv, quick, dp_compute;
    double seconds; /* per timed fit */
    int repeat;
} options;

/* MPI_COMM_WORLD's rank and size, and a context for agreement and maxima (never attached). */
static int rank, nranks;
static gn_mpi *ctl;
static gn_mpi *ctx[GN_MPI_REDUCTION_COUNT];

/*==== Ending ================================================================================*/

static void finish(int code)
{
    for (int i = 0; i < GN_MPI_REDUCTION_COUNT; i++)
        gn_mpi_free(ctx[i]);
    gn_mpi_free(ctl);
    MPI_Finalize();
    exit(code);
}

/* Every rank parses the same arguments, so every rank gets here together. */
static void usage_error(const char *fmt, ...)
{
    if (rank == 0) {
        va_list ap;
        va_start(ap, fmt);
        fputs("gemmnet-mpi-bench: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputs(" (see --help)\n", stderr);
        va_end(ap);
    }
    finish(2);
}

/* After work that may fail on one rank alone: every rank learns the first failure (lowest
 * rank's) and they all stop together, rank 0 telling why, instead of some waiting forever in
 * their next collective call. */
static void agree_or_stop(gn_status st, const char *what, const char *detail)
{
    char msg[512];
    if (detail && !detail[0])
        detail = NULL;
    snprintf(msg, sizeof msg, "%s: %s%s%s", what, gn_strerror(st), detail ? ": " : "",
             detail ? detail : "");
    gn_status all = gn_mpi_agree(ctl, st, msg, sizeof msg);
    if (all == GN_OK)
        return;
    if (rank == 0)
        fprintf(stderr, "gemmnet-mpi-bench: %s\n", msg);
    if (all == GN_ERR_IO && st == GN_OK) /* the agreement itself failed: ranks are unmatched */
        MPI_Abort(MPI_COMM_WORLD, 1);
    finish(1);
}

static double slowest(double x)
{
    double m = x;
    gn_status st = gn_mpi_max(ctl, x, &m);
    if (st != GN_OK) {
        fprintf(stderr, "gemmnet-mpi-bench: rank %d: gn_mpi_max: %s\n", rank, gn_strerror(st));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return m;
}

/*==== Measurements ==========================================================================*/

/* One configuration's network and synthetic data (the same on every rank: same seeds). */
typedef struct bench {
    const config *c;
    const options *o;
    gn_net *net;
    float *X, *Y; /* n_in × n_data and n_out × n_data, column-major */
    size_t n_in, n_out, n_data;
} bench;

/* Seconds per step of gn_net_fit over at least `steps` steps of global batch g, on the
 * slowest rank (its train_seconds: steps only), with whatever reducer the network has. The
 * dataset is a view of the first samples, a whole number of batches, run for as many epochs
 * as the steps need. Every rank passes the same g and steps, so every rank runs the same
 * steps. */
static double timed_fit(bench *b, size_t g, size_t steps)
{
    size_t per_epoch = b->n_data / g;
    if (per_epoch > steps)
        per_epoch = steps;
    size_t epochs = (steps + per_epoch - 1) / per_epoch;
    gn_dataset *ds = NULL;
    gn_status st =
        gn_dataset_wrap(&ds, b->X, b->n_in, b->Y, b->n_out, b->n_in, b->n_out, per_epoch * g);
    gn_fit_result res = {0};
    const char *detail = NULL;
    if (st == GN_OK) {
        gn_fit_options fo;
        gn_fit_options_defaults(&fo);
        fo.epochs = epochs;
        fo.batch = g;
        gn_optimizer_config_defaults(&fo.opt, GN_OPT_SGD);
        fo.opt.lr = STEP_LR;
        fo.restore_best = 0;
        st = gn_net_fit(b->net, ds, NULL, &fo, &res);
        if (st != GN_OK)
            detail = gn_net_last_error(b->net);
    }
    gn_dataset_free(ds);
    agree_or_stop(st, "gn_net_fit", detail);
    return slowest(res.train_seconds) / (double)(epochs * per_epoch);
}

/* The number of steps that make one timed fit last about --seconds, from a short fit (after a
 * one-step warm-up that touches the workspace). Agreed, since the times are. */
static size_t plan_steps(bench *b, size_t g)
{
    double t = timed_fit(b, g, 1);
    size_t probe = t > 0 ? (size_t)(0.1 * b->o->seconds / t) : 1000;
    probe = probe < 1 ? 1 : probe > 100000 ? 100000 : probe;
    t = timed_fit(b, g, probe);
    double want = b->o->seconds / (t > 0 ? t : 1e-6);
    size_t least = b->o->quick ? 1 : 2;
    return want < (double)least ? least : want > 1e7 ? 10000000 : (size_t)want;
}

/* Median seconds of one call of the attached reducer's hooks on the gradient buffer, with no
 * computation: reduce_layer for l = L, …, 1 first when the reducer has it (the overlapping
 * reduction), then reduce; the ranks start each call together. The slowest rank's median. */
static double time_comm(bench *b, size_t calls)
{
    const gn_reducer *r = gn_net_reducer(b->net);
    float *grads = gn_net_grads(b->net);
    size_t n = gn_net_n_params(b->net), L = b->c->n_sizes - 1;
    /* zeros stay zeros under summation, however many calls */
    memset(grads, 0, n * sizeof *grads);
    double t[MAX_CALLS];
    if (calls > MAX_CALLS)
        calls = MAX_CALLS;
    gn_status st = r ? GN_OK : GN_ERR_NULL;
    size_t done = 0;
    for (; done < calls && st == GN_OK; done++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        for (size_t l = L; l > 0 && r->reduce_layer && st == GN_OK; l--) {
            size_t w_off, b_off;
            st = gn_net_layer_offsets(b->net, l, &w_off, &b_off);
            if (st == GN_OK)
                st = r->reduce_layer(r->user, l, grads, w_off, b_off + b->c->sizes[l] - w_off);
        }
        double loss = 0.0;
        if (st == GN_OK)
            st = r->reduce(r->user, grads, n, &loss);
        t[done] = now() - t0;
    }
    /* a failed collective leaves the ranks unmatched: no agreement can follow it */
    if (st != GN_OK) {
        fprintf(stderr, "gemmnet-mpi-bench: rank %d: the reducer failed: %s\n", rank,
                gn_strerror(st));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    qsort(t, done, sizeof *t, cmp_double);
    return slowest(done % 2 ? t[done / 2] : 0.5 * (t[done / 2 - 1] + t[done / 2]));
}

/* As many calls as fit in a quarter of --seconds, at least 5. */
static double measure_comm(bench *b)
{
    double t = time_comm(b, 3);
    double want = 0.25 * b->o->seconds / (t > 0 ? t : 1e-6);
    size_t calls = want < 5 ? 5 : want > MAX_CALLS ? MAX_CALLS : (size_t)want;
    return time_comm(b, calls);
}

/*==== Output ================================================================================*/

typedef struct row {
    const char *reduction;
    size_t local_batch;
    double step_s, compute_s, comm_s; /* comm_s < 0: not applicable */
} row;

static void print_header(const options *o)
{
    if (rank != 0)
        return;
    if (o->csv) {
        puts("config,ranks,threads,reduction,batch,local_batch,step_ms,samples_per_s,compute_ms,"
             "comm_ms,bytes");
    } else {
        printf("%-8s %5s %7s %-10s %6s %6s %12s %12s %11s %11s %12s\n", "config", "ranks",
               "threads", "reduction", "batch", "local", "step_ms", "samples/s", "compute_ms",
               "comm_ms", "bytes");
    }
    fflush(stdout);
}

static void print_row(const bench *b, const row *r, int threads)
{
    if (rank != 0)
        return;
    size_t bytes = gn_net_n_params(b->net) * sizeof(float);
    /* a throughput row counts the global batch, a compute row one rank's */
    int compute = strncmp(r->reduction, "compute", 7) == 0;
    double sps = (double)(compute ? r->local_batch : b->c->batch) / r->step_s;
    if (b->o->csv) {
        printf("%s,%d,%d,%s,%zu,%zu,%.6g,%.6g,%.6g,", b->c->name, nranks, threads, r->reduction,
               b->c->batch, r->local_batch, 1e3 * r->step_s, sps, 1e3 * r->compute_s);
        if (r->comm_s >= 0)
            printf("%.6g,%zu\n", 1e3 * r->comm_s, bytes);
        else
            puts(",");
    } else {
        char comm[32] = "", nb[32] = "";
        if (r->comm_s >= 0) {
            snprintf(comm, sizeof comm, "%.4f", 1e3 * r->comm_s);
            snprintf(nb, sizeof nb, "%zu", bytes);
        }
        printf("%-8s %5d %7d %-10s %6zu %6zu %12.4f %12.0f %11.4f %11s %12s\n", b->c->name, nranks,
               threads, r->reduction, b->c->batch, r->local_batch, 1e3 * r->step_s, sps,
               1e3 * r->compute_s, comm, nb);
    }
    fflush(stdout);
}

/*==== One configuration =====================================================================*/

/* Synthetic data the same on every rank: inputs uniform in [0, 1); one-hot targets for a
 * classifier, else uniform in [0, 1). Sized to about 32 MB (4 MB with --quick), at least one
 * batch, so that long fits run several epochs over it rather than holding gigabytes. */
static gn_status make_data(bench *b)
{
    const config *c = b->c;
    b->n_in = c->sizes[0];
    b->n_out = c->sizes[c->n_sizes - 1];
    size_t cap = (b->o->quick ? 4u : 32u) << 20;
    b->n_data = cap / (sizeof(float) * (b->n_in + b->n_out));
    if (b->n_data < c->batch)
        b->n_data = c->batch;
    b->X = malloc(b->n_in * b->n_data * sizeof *b->X);
    b->Y = malloc(b->n_out * b->n_data * sizeof *b->Y);
    if (!b->X || !b->Y)
        return GN_ERR_NOMEM;
    gn_rng rng;
    gn_rng_seed(&rng, 12345);
    for (size_t i = 0; i < b->n_in * b->n_data; i++)
        b->X[i] = (float)gn_rng_uniform(&rng);
    int onehot = c->loss == GN_LOSS_CCE;
    for (size_t j = 0; j < b->n_data; j++) {
        float *y = b->Y + j * b->n_out;
        size_t hot = (size_t)(gn_rng_uniform(&rng) * (double)b->n_out) % b->n_out;
        for (size_t i = 0; i < b->n_out; i++)
            y[i] = onehot ? (float)(i == hot) : (float)gn_rng_uniform(&rng);
    }
    return GN_OK;
}

static gn_status make_net(bench *b, char *why, size_t len)
{
    gn_act acts[MAX_SIZES];
    gn_net_config cfg;
    config_net(b->c, acts, &cfg);
    gn_status st = gn_net_config_check(&cfg, why, len);
    if (st == GN_OK)
        st = gn_net_create(&b->net, &cfg);
    if (st == GN_OK && (st = gn_net_set_backend(b->net, b->o->backend)) != GN_OK)
        snprintf(why, len, "%s", gn_net_last_error(b->net));
    return st;
}

/* The local batches of the compute part, largest first, without repeats: ⌈B/k⌉ for each
 * divisor and this run's share ⌈B/P⌉. Returns their number. */
static size_t local_batches(size_t B, size_t share, size_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i <= N_DIVISORS; i++) {
        size_t b = i < N_DIVISORS ? (B + divisors[i] - 1) / divisors[i] : share;
        size_t at = 0;
        while (at < n && out[at] > b)
            at++;
        if (at < n && out[at] == b)
            continue;
        memmove(out + at + 1, out + at, (n - at) * sizeof *out);
        out[at] = b;
        n++;
    }
    return n;
}

/* The reducer of one worker alone: nothing to sum, but its presence sends the steps through
 * the data-parallel path. */
static gn_status reduce_nothing(void *user, float *grads, size_t n, double *loss)
{
    (void)user, (void)grads, (void)n, (void)loss;
    return GN_OK;
}

static void run_config(const config *c, const options *o, int threads)
{
    bench b = {c, o, NULL, NULL, NULL, 0, 0, 0};
    char why[512] = "";
    gn_status st = make_data(&b);
    agree_or_stop(st, c->name, "no memory for the data");
    st = make_net(&b, why, sizeof why);
    agree_or_stop(st, c->name, why);

    size_t B = c->batch, share = (B + (size_t)nranks - 1) / (size_t)nranks;
    size_t lb[MAX_LOCAL];
    size_t n_lb = local_batches(B, share, lb);
    double best[MAX_LOCAL], best_dp[MAX_LOCAL], tput[GN_MPI_REDUCTION_COUNT],
        comm[GN_MPI_REDUCTION_COUNT];
    for (size_t i = 0; i < n_lb; i++)
        best[i] = best_dp[i] = INFINITY;

    /* Throughput and communication, every reduction attached in turn, interleaved. */
    int first = -1;
    for (int h = 0; h < GN_MPI_REDUCTION_COUNT; h++)
        if (nranks > 1 && o->reduction[h] && first < 0)
            first = h;
    if (first >= 0) {
        size_t steps = 0;
        for (int h = 0; h < GN_MPI_REDUCTION_COUNT; h++)
            tput[h] = comm[h] = INFINITY;
        for (int rep = -1; rep < o->repeat; rep++) {
            for (int h = 0; h < GN_MPI_REDUCTION_COUNT; h++) {
                if (!o->reduction[h])
                    continue;
                st = gn_mpi_attach(ctx[h], b.net, why, sizeof why);
                agree_or_stop(st, "gn_mpi_attach", why);
                if (rep < 0) { /* the plan, on the first reduction, and each one's comm */
                    if (h == first)
                        steps = plan_steps(&b, B);
                    comm[h] = measure_comm(&b);
                    continue;
                }
                double t = timed_fit(&b, B, steps);
                tput[h] = t < tput[h] ? t : tput[h];
            }
        }
        gn_net_set_reducer(b.net, NULL);
    }

    /* The compute part alone, at each local batch (and through both paths), interleaved. */
    const gn_reducer alone = {.rank = 0, .workers = 1, .reduce = reduce_nothing};
    size_t steps[MAX_LOCAL];
    for (size_t i = 0; i < n_lb; i++)
        steps[i] = plan_steps(&b, lb[i]);
    for (int rep = 0; rep < o->repeat; rep++) {
        for (size_t i = 0; i < n_lb; i++) {
            double t = timed_fit(&b, lb[i], steps[i]);
            best[i] = t < best[i] ? t : best[i];
            if (!o->dp_compute)
                continue;
            gn_net_set_reducer(b.net, &alone);
            t = timed_fit(&b, lb[i], steps[i]);
            best_dp[i] = t < best_dp[i] ? t : best_dp[i];
            gn_net_set_reducer(b.net, NULL);
        }
    }
    double compute_share = INFINITY;
    for (size_t i = 0; i < n_lb; i++)
        if (lb[i] == share)
            compute_share = best[i];

    if (first >= 0) {
        for (int h = 0; h < GN_MPI_REDUCTION_COUNT; h++) {
            if (!o->reduction[h])
                continue;
            row r = {gn_mpi_reduction_name((gn_mpi_reduction)h), share, tput[h], compute_share,
                     comm[h]};
            print_row(&b, &r, threads);
        }
    } else { /* one process: the throughput is the compute at the whole batch */
        row r = {"none", B, compute_share, compute_share, 0.0};
        print_row(&b, &r, threads);
    }
    for (size_t i = 0; i < n_lb; i++) {
        row r = {"compute", lb[i], best[i], best[i], -1.0};
        print_row(&b, &r, threads);
    }
    for (size_t i = 0; i < n_lb && o->dp_compute; i++) {
        row r = {"compute-dp", lb[i], best_dp[i], best_dp[i], -1.0};
        print_row(&b, &r, threads);
    }
    gn_net_free(b.net);
    free(b.X);
    free(b.Y);
}

/*==== Command line ==========================================================================*/

static void usage(FILE *f)
{
    fputs("usage: gemmnet-mpi-bench [options]        (or: mpirun -np P gemmnet-mpi-bench ...)\n"
          "  --config NAME      nielsen, mlp, wide or huge; repeatable (default: all)\n"
          "  --reduction NAME   ordered, allreduce, overlap or all (default: all); repeatable;\n"
          "                     one process has no reduction ('none')\n"
          "  --backend NAME     sgemm backend, forced (default openblas)\n"
          "  --threads N        BLAS threads per rank (default: the BLAS default)\n"
          "  --seconds S        length of one timed fit (default 1.5)\n"
          "  --repeat N         timed fits per figure, the best kept (default 3)\n"
          "  --format FMT       text or csv (default text)\n"
          "  --dp-compute       also time the compute rows through the data-parallel path\n"
          "                     (a do-nothing reducer: gradient, check and update in passes of\n"
          "                     their own, as under MPI), as rows 'compute-dp'\n"
          "  --quick            tiny times, one repetition: a smoke test\n"
          "Prints (rank 0 only), per configuration: one throughput row per reduction (gn_net_fit\n"
          "with the reducer, global batch B; compute_ms is the fit without the reducer at this\n"
          "rank's share, comm_ms the reducer's hooks alone on the gradient buffer, bytes its\n"
          "size), then compute rows: the fit without reducer at local batches ceil(B/k),\n"
          "k = 1, 2, 8, 64, 512. Times are the slowest rank's.\n",
          f);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->backend = GN_BACKEND_OPENBLAS;
    o->seconds = 1.5;
    o->repeat = 3;
    int seconds_set = 0, repeat_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (rank == 0)
                usage(stdout);
            finish(0);
        }
        if (!strcmp(a, "--quick") || !strcmp(a, "--dp-compute")) {
            *(a[2] == 'q' ? &o->quick : &o->dp_compute) = 1;
            continue;
        }
        static const char *const valued[] = {"--config", "--reduction", "--backend", "--threads",
                                             "--repeat", "--seconds",   "--format"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(a, valued[k]);
        if (!known)
            usage_error("unknown option '%s'", a);
        if (i + 1 >= argc)
            usage_error("%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--config")) {
            int k = 0;
            while (k < N_STANDARD && strcmp(v, standard[k].name))
                k++;
            if (k == N_STANDARD)
                usage_error("unknown configuration '%s' (nielsen, mlp, wide, huge)", v);
            o->selected[k] = o->any_selected = 1;
        } else if (!strcmp(a, "--reduction")) {
            gn_mpi_reduction h;
            if (!strcmp(v, "all")) {
                for (int k = 0; k < GN_MPI_REDUCTION_COUNT; k++)
                    o->reduction[k] = 1;
            } else if (gn_mpi_reduction_parse(v, &h) == GN_OK) {
                o->reduction[h] = 1;
            } else {
                usage_error("unknown reduction '%s' (ordered, allreduce, overlap, all)", v);
            }
            o->any_reduction = 1;
        } else if (!strcmp(a, "--backend")) {
            if (gn_backend_parse(v, &o->backend) != GN_OK || o->backend == GN_BACKEND_AUTO)
                usage_error("unknown backend '%s' (a forced one: openblas, onednn, libxsmm)", v);
            if (!gn_backend_available(o->backend))
                usage_error("backend '%s' is not available in this build", v);
        } else if (!strcmp(a, "--threads")) {
            if (!parse_int(v, 1, 4096, &o->threads))
                usage_error("--threads wants an integer in [1, 4096], not '%s'", v);
        } else if (!strcmp(a, "--repeat")) {
            if (!parse_int(v, 1, 100, &o->repeat))
                usage_error("--repeat wants an integer in [1, 100], not '%s'", v);
            repeat_set = 1;
        } else if (!strcmp(a, "--seconds")) {
            char *end;
            errno = 0;
            o->seconds = strtod(v, &end);
            if (errno || end == v || *end || !(o->seconds >= 0.001 && o->seconds <= 3600))
                usage_error("--seconds wants a number in [0.001, 3600], not '%s'", v);
            seconds_set = 1;
        } else if (!strcmp(a, "--format")) {
            if (!strcmp(v, "csv"))
                o->csv = 1;
            else if (strcmp(v, "text"))
                usage_error("--format is text or csv, not '%s'", v);
        }
    }
    if (o->quick) {
        o->seconds = seconds_set ? o->seconds : 0.02;
        o->repeat = repeat_set ? o->repeat : 1;
    }
    for (int k = 0; k < N_STANDARD && !o->any_selected; k++)
        o->selected[k] = 1;
    for (int k = 0; k < GN_MPI_REDUCTION_COUNT && !o->any_reduction; k++)
        o->reduction[k] = 1;
}

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fputs("gemmnet-mpi-bench: MPI_Init failed\n", stderr);
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    options o;
    parse_args(argc, argv, &o);

    char err[512] = "";
    gn_status st = gn_mpi_create(&ctl, MPI_COMM_WORLD, GN_MPI_ORDERED, err, sizeof err);
    if (st != GN_OK) { /* no context to agree through: MPI itself is in trouble */
        fprintf(stderr, "gemmnet-mpi-bench: rank %d: gn_mpi_create: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int h = 0; h < GN_MPI_REDUCTION_COUNT && nranks > 1; h++) {
        if (!o.reduction[h])
            continue;
        st = gn_mpi_create(&ctx[h], MPI_COMM_WORLD, (gn_mpi_reduction)h, err, sizeof err);
        agree_or_stop(st, "gn_mpi_create", err);
    }
    if (o.threads > 0)
        agree_or_stop(gn_set_threads(o.threads), "gn_set_threads", NULL);
    int threads = gn_get_threads();

    if (rank == 0 && !o.csv) {
        char blas[256];
        gn_blas_describe(blas, sizeof blas);
        printf("gemmnet-mpi-bench %s: %d rank%s x %d BLAS thread%s, backend %s (%s)%s\n",
               gn_version(), nranks, nranks > 1 ? "s" : "", threads, threads > 1 ? "s" : "",
               gn_backend_name(o.backend), blas, o.quick ? ", quick" : "");
        printf("fits: best of %d, about %.3g s each; times are the slowest rank's\n", o.repeat,
               o.seconds);
    }
    print_header(&o);
    for (int k = 0; k < N_STANDARD; k++)
        if (o.selected[k])
            run_config(&standard[k], &o, threads);
    finish(0);
}
