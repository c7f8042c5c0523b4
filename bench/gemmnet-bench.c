/* gemmnet-bench: throughput of the dense-layer products (textbook loop, cache-friendly loop,
 * and every available sgemm backend), of a full training step against its sgemm-only bound
 * (per backend, forced and automatic), and of inference, on the machine it runs on.
 * Everything is measured through the public API, in one run, and the variants compared with
 * each other are measured interleaved, so the ratios are comparable even where absolute
 * figures are not; every rate is also given as a fraction of the machine's float FMA peak,
 * measured first (bench/peak.c). */
#define _POSIX_C_SOURCE 200809L
#include <gemmnet.h>

#include "bench.h"
#include "peak.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_RECORDS = 4096 };

/* Variants measured together: a bound and a forced step per backend, the automatic step and
 * inference. */
enum { MAX_VARIANTS = 2 * GN_BACKEND_COUNT + 2 };

/* Small enough that thousands of timed steps on random data stay far from diverging. */
static const float STEP_ETA = 1e-4f;

typedef struct options {
    int quick, sweep, skip_ops;
    int peak_only, no_peak;
    int threads;      /* 0: all cores */
    double min_time;  /* seconds per sample */
    int samples;      /* samples per measurement */
    double naive_cap; /* skip the textbook loop when one call would take longer */
    double slow_cap;  /* fewer samples when samples × one call would take longer */
    const char *json, *csv;
    int only; /* -1: every available backend; else that one (GN_BACKEND_AUTO: auto step only) */
    int selected[N_STANDARD];
    int custom;
    config custom_cfg;
} options;

/*==== Records ===============================================================================*/

typedef struct record {
    const char *config, *op, *impl;
    int threads;
    size_t batch, m, n, k;
    double seconds, min_seconds, gflops;
    double samples_per_s; /* < 0: not applicable */
    double max_rel_err;   /* < 0: not applicable */
    double peak_gflops;   /* peak at the threads the row ran on; < 0: not measured */
    const char *backend;  /* sgemm backend or "auto"; NULL: the reference loops */
} record;

/* The sgemm backends the products and bounds run on (every available one, or --backend's),
 * in gn_backend order. */
static gn_backend backends[GN_BACKEND_COUNT];
static int n_backends;

/* The machine's float FMA peak, measured once before the configurations (bench/peak.c). */
static peak_result peak;
static int have_peak;

/* The peak a row is compared with: the reference loops run on one thread, BLAS on `threads`;
 * -1 without a measurement. */
static double row_peak(const char *impl, int threads)
{
    if (!have_peak)
        return -1;
    return peak_for_threads(&peak, strcmp(impl, "blas") && strcmp(impl, "gemmnet") ? 1 : threads,
                            NULL);
}

/* "  87.3" (percent of the peak) or blanks, for the tables. */
static const char *pct_peak(char *buf, size_t size, double gflops, double peak_gflops)
{
    if (peak_gflops > 0 && gflops > 0)
        snprintf(buf, size, "%7.1f", 100.0 * gflops / peak_gflops);
    else
        snprintf(buf, size, "%7s", "");
    return buf;
}

/* The human-readable table: stdout, or stderr when the data go to stdout. */
static FILE *table;

static void tprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(table, fmt, ap);
    va_end(ap);
}

static record records[MAX_RECORDS];
static size_t n_records;

static void add_record(record r)
{
    r.peak_gflops = row_peak(r.impl, r.threads);
    if (n_records < MAX_RECORDS)
        records[n_records++] = r;
}

static void write_csv(FILE *f)
{
    fputs("config,op,impl,threads,batch,m,n,k,seconds,min_seconds,gflops,samples_per_s,"
          "max_rel_err,peak_gflops,peak_fraction,peak_isa,peak_single_gflops,peak_all_gflops,"
          "backend\n",
          f);
    for (size_t i = 0; i < n_records; i++) {
        const record *r = &records[i];
        fprintf(f, "%s,%s,%s,%d,%zu,%zu,%zu,%zu,%.9g,%.9g,%.6g,", r->config, r->op, r->impl,
                r->threads, r->batch, r->m, r->n, r->k, r->seconds, r->min_seconds, r->gflops);
        if (r->samples_per_s >= 0)
            fprintf(f, "%.6g", r->samples_per_s);
        fputc(',', f);
        if (r->max_rel_err >= 0)
            fprintf(f, "%.3g", r->max_rel_err);
        if (r->peak_gflops > 0)
            fprintf(f, ",%.6g,%.6g,%s,%.6g,%.6g", r->peak_gflops, r->gflops / r->peak_gflops,
                    peak.isa, peak.single, peak.all);
        else
            fputs(",,,,,", f);
        fprintf(f, ",%s\n", r->backend ? r->backend : "");
    }
}

static void json_number(FILE *f, const char *key, double v, int last)
{
    if (v < 0)
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": %.9g%s", key, v, last ? "" : ", ");
}

static void write_json(FILE *f)
{
    fputs("[\n", f);
    for (size_t i = 0; i < n_records; i++) {
        const record *r = &records[i];
        fprintf(f,
                "  {\"config\": \"%s\", \"op\": \"%s\", \"impl\": \"%s\", \"threads\": %d, "
                "\"batch\": %zu, \"m\": %zu, \"n\": %zu, \"k\": %zu, ",
                r->config, r->op, r->impl, r->threads, r->batch, r->m, r->n, r->k);
        json_number(f, "seconds", r->seconds, 0);
        json_number(f, "min_seconds", r->min_seconds, 0);
        json_number(f, "gflops", r->gflops, 0);
        json_number(f, "samples_per_s", r->samples_per_s, 0);
        json_number(f, "max_rel_err", r->max_rel_err, 0);
        int p = r->peak_gflops > 0;
        json_number(f, "peak_gflops", p ? r->peak_gflops : -1, 0);
        json_number(f, "peak_fraction", p ? r->gflops / r->peak_gflops : -1, 0);
        if (p)
            fprintf(f, "\"peak_isa\": \"%s\", ", peak.isa);
        else
            fputs("\"peak_isa\": null, ", f);
        json_number(f, "peak_single_gflops", p ? peak.single : -1, 0);
        json_number(f, "peak_all_gflops", p ? peak.all : -1, 0);
        if (r->backend)
            fprintf(f, "\"backend\": \"%s\"", r->backend);
        else
            fputs("\"backend\": null", f);
        fprintf(f, "}%s\n", i + 1 < n_records ? "," : "");
    }
    fputs("]\n", f);
}

/* Writes the records to path ("-" = stdout); false after telling why on failure. */
static int save(const char *path, void (*writer)(FILE *))
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        fprintf(stderr, "gemmnet-bench: cannot write %s: %s\n", path, strerror(errno));
        return 0;
    }
    writer(f);
    int ok = !ferror(f);
    if (f != stdout)
        ok = fclose(f) == 0 && ok;
    else
        ok = fflush(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "gemmnet-bench: error writing %s\n", path);
    return ok;
}

/*==== Timing ================================================================================*/

typedef struct timing {
    double median, min;
    int samples;
} timing;

/* The code under test: fn(arg) is one call. */
typedef struct variant {
    void (*fn)(void *);
    void *arg;
} variant;

/* Times each variant: one warm-up call, then enough repetitions per sample that a sample lasts
 * at least min_time, then `samples` samples; per-call median and minimum. If a single call is
 * so slow that the samples would exceed slow_cap seconds, fewer samples are taken (at least
 * one). The samples are interleaved: round s takes sample s of every variant, starting one
 * variant further each round, so that another job's load, clock changes and the hand-over
 * between thread pools fall on all variants alike. */
static void measure_many(const variant *v, int n, const options *o, timing *out)
{
    long reps[MAX_VARIANTS];
    int samples[MAX_VARIANTS], rounds = 0;
    double t[MAX_VARIANTS][64];
    for (int i = 0; i < n; i++) {
        double t0 = now();
        v[i].fn(v[i].arg);
        double one = now() - t0;
        reps[i] = 1;
        if (one < o->min_time) {
            /* calibrate on a few calls: the first one paid for cold caches */
            t0 = now();
            long probe = one > 0 ? (long)fmin(1e6, fmax(1.0, 0.1 * o->min_time / one)) : 1000;
            for (long r = 0; r < probe; r++)
                v[i].fn(v[i].arg);
            one = (now() - t0) / (double)probe;
            reps[i] = (long)ceil(o->min_time / fmax(one, 1e-9));
        }
        samples[i] = o->samples;
        if (one * samples[i] > o->slow_cap)
            samples[i] = (int)fmax(1.0, floor(o->slow_cap / one));
        if (samples[i] > 64)
            samples[i] = 64;
        rounds = samples[i] > rounds ? samples[i] : rounds;
    }
    for (int s = 0; s < rounds; s++)
        for (int j = 0; j < n; j++) {
            int i = (s + j) % n;
            if (s >= samples[i])
                continue;
            if (n > 1) {
                /* Let the previous variant's thread pool go to sleep (OpenMP's threads spin
                 * for milliseconds after a product, and on 2 cores they take the core the next
                 * variant's threads need), then wake this one's with an untimed call: each
                 * variant is timed in its steady state, as a training run sees it. */
                nanosleep(&(struct timespec){0, 30000000}, NULL);
                v[i].fn(v[i].arg);
            }
            double t0 = now();
            for (long r = 0; r < reps[i]; r++)
                v[i].fn(v[i].arg);
            t[i][s] = (now() - t0) / (double)reps[i];
        }
    for (int i = 0; i < n; i++) {
        int k = samples[i];
        qsort(t[i], (size_t)k, sizeof t[i][0], cmp_double);
        out[i] = (timing){k % 2 ? t[i][k / 2] : 0.5 * (t[i][k / 2 - 1] + t[i][k / 2]), t[i][0], k};
    }
}

static timing measure(void (*fn)(void *), void *arg, const options *o)
{
    variant v = {fn, arg};
    timing t;
    measure_many(&v, 1, o, &t);
    return t;
}

/*==== Helpers ===============================================================================*/

static void vexit(int status, const char *fmt, va_list ap)
{
    fputs("gemmnet-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    exit(status);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vexit(1, fmt, ap);
}

/* A bad command line: the message, and exit status 2. */
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vexit(2, fmt, ap);
}

static float *floats(size_t n, unsigned seed)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x)
        die("out of memory for %zu floats", n);
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)gn_rng_uniform(&rng);
    return x;
}

static void check(gn_status st, const char *what)
{
    if (st != GN_OK)
        die("%s failed: %s", what, gn_strerror(st));
}

/*==== Products ==============================================================================*/

typedef struct product {
    gn_impl impl;
    gn_backend backend; /* GN_IMPL_BLAS only */
    gn_trans ta, tb;
    size_t m, n, k; /* C is m × n, inner dimension k */
    const float *A, *B;
    float *C;
} product;

static void run_product(void *arg)
{
    product *p = arg;
    size_t lda = p->ta == GN_NOTRANS ? p->m : p->k, ldb = p->tb == GN_NOTRANS ? p->k : p->n;
    if (p->impl == GN_IMPL_BLAS)
        check(gn_gemm_backend(p->backend, p->ta, p->tb, p->m, p->n, p->k, 1.0f, p->A, lda, p->B,
                              ldb, 0.0f, p->C, p->m),
              "gn_gemm_backend");
    else
        check(gn_gemm(p->impl, p->ta, p->tb, p->m, p->n, p->k, 1.0f, p->A, lda, p->B, ldb, 0.0f,
                      p->C, p->m),
              "gn_gemm");
}

/* Seconds of one call of impl, estimated from a few columns of C. */
static double estimate(product p, size_t cols)
{
    size_t full = p.n;
    p.n = cols < full ? cols : full;
    double t0 = now();
    run_product(&p);
    return (now() - t0) * (double)full / (double)p.n;
}

static double max_rel_err(const float *x, const float *ref, size_t n)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)x[i] - ref[i]));
        scale = fmax(scale, fabs((double)ref[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

static const char *impl_name[] = {"blas", "naive", "loop"};

/* One table row; name is the backend for BLAS rows, speedup 0 marks the fastest backend. */
static void print_product_row(const char *cfg, const char *op, size_t m, size_t n, size_t k,
                              const char *name, int threads, timing t, double gflops,
                              double peak_gflops, double speedup, double err, const char *note)
{
    char shape[48], pct[16];
    snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, k);
    tprintf("%-8s %-8s %-16s %-8s %3d %12.4f %12.4f %9.2f %s ", cfg, op, shape, name, threads,
            1e3 * t.median, 1e3 * t.min, gflops, pct_peak(pct, sizeof pct, gflops, peak_gflops));
    if (speedup > 0)
        tprintf("%8.2fx", speedup);
    else if (t.samples > 0)
        tprintf("%9s", "fastest");
    else
        tprintf("%9s", "");
    if (err >= 0)
        tprintf(" %10.2e", err);
    else
        tprintf(" %10s", "");
    tprintf("%s\n", note ? note : "");
}

/* "  (2 samples)" when slow calls got fewer samples than asked for, else "". */
static const char *samples_note(char *buf, size_t size, timing t, const options *o)
{
    buf[0] = '\0';
    if (t.samples < o->samples)
        snprintf(buf, size, "  (%d sample%s)", t.samples, t.samples == 1 ? "" : "s");
    return buf;
}

/* One product on every backend, measured interleaved, then the two reference loops; the
 * slowdown and the error are against the fastest backend. */
static void bench_product(const config *c, const char *op, gn_trans ta, gn_trans tb, size_t m,
                          size_t n, size_t k, int threads, const options *o)
{
    size_t a_len = m * k, b_len = k * n;
    float *A = floats(a_len, 1), *B = floats(b_len, 2);
    float *C[GN_BACKEND_COUNT], *Cref = floats(m * n, 3);
    product p[GN_BACKEND_COUNT];
    variant v[GN_BACKEND_COUNT];
    timing t[GN_BACKEND_COUNT];
    for (int i = 0; i < n_backends; i++) {
        C[i] = floats(m * n, 3);
        p[i] = (product){GN_IMPL_BLAS, backends[i], ta, tb, m, n, k, A, B, C[i]};
        v[i] = (variant){run_product, &p[i]};
    }
    double flops = 2.0 * (double)m * (double)n * (double)k;
    measure_many(v, n_backends, o, t);
    int best = 0;
    for (int i = 1; i < n_backends; i++)
        if (t[i].median < t[best].median)
            best = i;
    double pk = row_peak("blas", threads);
    char note[48];
    for (int i = 0; i < n_backends; i++) {
        double err = i == best ? -1 : max_rel_err(C[i], C[best], m * n);
        const char *name = gn_backend_name(backends[i]);
        double gflops = flops / t[i].median / 1e9;
        print_product_row(c->name, op, m, n, k, name, threads, t[i], gflops, pk,
                          i == best ? 0 : t[i].median / t[best].median, err,
                          samples_note(note, sizeof note, t[i], o));
        add_record((record){c->name, op, "blas", threads, c->batch, m, n, k, t[i].median, t[i].min,
                            gflops, -1, err, -1, name});
    }
    const gn_impl refs[2] = {GN_IMPL_LOOP, GN_IMPL_NAIVE};
    for (int ri = 0; ri < 2; ri++) {
        gn_impl impl = refs[ri];
        product q = {impl, GN_BACKEND_OPENBLAS, ta, tb, m, n, k, A, B, Cref};
        if (impl == GN_IMPL_NAIVE) {
            double est = estimate(q, 4);
            if (est > o->naive_cap) {
                char why[96];
                snprintf(why, sizeof why, "  skipped: one call would take ~%.0f s", est);
                print_product_row(c->name, op, m, n, k, impl_name[impl], threads, (timing){0, 0, 0},
                                  0, -1, 0, -1, why);
                continue;
            }
        }
        timing tr = measure(run_product, &q, o);
        double err = max_rel_err(Cref, C[best], m * n), gflops = flops / tr.median / 1e9;
        print_product_row(c->name, op, m, n, k, impl_name[impl], threads, tr, gflops,
                          row_peak(impl_name[impl], threads), tr.median / t[best].median, err,
                          samples_note(note, sizeof note, tr, o));
        add_record((record){c->name, op, impl_name[impl], threads, c->batch, m, n, k, tr.median,
                            tr.min, gflops, -1, err, -1, NULL});
    }
    free(A);
    free(B);
    free(Cref);
    for (int i = 0; i < n_backends; i++)
        free(C[i]);
}

/* Each distinct layer shape once: forward Z = W·A, weight gradient Δ·Aᵀ, delta Wᵀ·Δ. */
static void bench_products(const config *c, int threads, const options *o)
{
    size_t m = c->batch;
    for (size_t l = 1; l < c->n_sizes; l++) {
        size_t out = c->sizes[l], in = c->sizes[l - 1];
        int seen = 0;
        for (size_t q = 1; q < l; q++)
            seen |= c->sizes[q] == out && c->sizes[q - 1] == in;
        if (seen)
            continue;
        bench_product(c, "forward", GN_NOTRANS, GN_NOTRANS, out, m, in, threads, o);
        bench_product(c, "wgrad", GN_NOTRANS, GN_TRANS, out, in, m, threads, o);
        bench_product(c, "delta", GN_TRANS, GN_NOTRANS, in, m, out, threads, o);
    }
}

/*==== Training step, sgemm-only bound, inference ============================================*/

typedef struct step_ctx {
    gn_net *net;
    const float *X, *Y;
    size_t n_in, n_out, m;
} step_ctx;

static void run_step(void *arg)
{
    step_ctx *s = arg;
    double loss;
    gn_status st = gn_net_train_step(s->net, s->X, s->n_in, s->Y, s->n_out, s->m, STEP_ETA, &loss);
    if (st != GN_OK)
        die("training step failed: %s", gn_net_last_error(s->net));
}

static void run_inference(void *arg)
{
    step_ctx *s = arg;
    const float *out;
    check(gn_net_forward(s->net, s->X, s->n_in, s->m, &out), "gn_net_forward");
}

/* The products of one training step and nothing else, in the order the library runs them:
 * forward products, delta products, then the weight products with the SGD update folded in
 * (beta = 1 into W), all on one backend. */
typedef struct bound_ctx {
    const config *c;
    gn_backend backend;
    float **W, **A, **D;
    const float *X;
} bound_ctx;

static void run_bound(void *arg)
{
    bound_ctx *b = arg;
    const config *c = b->c;
    size_t L = c->n_sizes - 1, m = c->batch;
    int failed = 0;
    for (size_t l = 1; l <= L; l++) {
        size_t out = c->sizes[l], in = c->sizes[l - 1];
        failed |=
            GN_OK != gn_gemm_backend(b->backend, GN_NOTRANS, GN_NOTRANS, out, m, in, 1, b->W[l],
                                     out, l > 1 ? b->A[l - 1] : b->X, in, 0, b->A[l], out);
    }
    for (size_t l = L; l > 1; l--) {
        size_t out = c->sizes[l], in = c->sizes[l - 1];
        failed |= GN_OK != gn_gemm_backend(b->backend, GN_TRANS, GN_NOTRANS, in, m, out, 1, b->W[l],
                                           out, b->D[l], out, 0, b->D[l - 1], in);
    }
    for (size_t l = 1; l <= L; l++) {
        size_t out = c->sizes[l], in = c->sizes[l - 1];
        failed |= GN_OK != gn_gemm_backend(b->backend, GN_NOTRANS, GN_TRANS, out, in, m,
                                           -STEP_ETA / (float)m, b->D[l], out,
                                           l > 1 ? b->A[l - 1] : b->X, in, 1, b->W[l], out);
    }
    if (failed)
        die("sgemm-only bound on %s failed", gn_backend_name(b->backend));
}

static double step_flops(const config *c)
{
    double f = 0;
    for (size_t l = 1; l < c->n_sizes; l++) {
        double one = 2.0 * (double)c->sizes[l] * (double)c->sizes[l - 1] * (double)c->batch;
        f += one * (l > 1 ? 3 : 2); /* the first layer's Wᵀ·Δ is not needed */
    }
    return f;
}

/* A network of configuration c running every product on backend (GN_BACKEND_AUTO: tuned now
 * for the bench's batch, so that the tuning stays out of the timings). The backend is set
 * explicitly, overriding a GN_BACKEND in the environment. */
static gn_net *make_net(const config *c, gn_backend backend)
{
    gn_act acts[MAX_SIZES];
    gn_net_config cfg;
    config_net(c, acts, &cfg);
    char why[256];
    if (gn_net_config_check(&cfg, why, sizeof why) != GN_OK)
        die("configuration %s: %s", c->name, why);
    gn_net *net;
    check(gn_net_create(&net, &cfg), "gn_net_create");
    if (gn_net_set_backend(net, backend) != GN_OK)
        die("backend %s: %s", gn_backend_name(backend), gn_net_last_error(net));
    if (backend == GN_BACKEND_AUTO && gn_net_tune(net, c->batch) != GN_OK)
        die("gn_net_tune: %s", gn_net_last_error(net));
    return net;
}

/* One row of the step table; note follows the % peak column. */
static void print_rate_row(const char *cfg, const char *what, const char *backend, int threads,
                           size_t m, double flops, timing t, const char *note, const options *o)
{
    char pct[16], sn[48];
    double gflops = flops / t.median / 1e9;
    tprintf("%-8s %-10s %-9s %3d %6zu %14.0f %10.2f %12.4f %s%s%s\n", cfg, what, backend, threads,
            m, (double)m / t.median, gflops, 1e3 * t.median,
            pct_peak(pct, sizeof pct, gflops, row_peak("blas", threads)), note ? note : "",
            samples_note(sn, sizeof sn, t, o));
}

static void add_rate_record(const char *cfg, const char *op, const char *impl, const char *backend,
                            int threads, size_t m, double flops, timing t)
{
    add_record((record){cfg, op, impl, threads, m, 0, 0, 0, t.median, t.min, flops / t.median / 1e9,
                        (double)m / t.median, -1, -1, backend});
}

/* For configuration c: the sgemm-only bound per backend, the training step per forced
 * backend and with the automatic choice, and inference, all measured interleaved. */
static void bench_step(const config *c, int threads, const options *o)
{
    size_t L = c->n_sizes - 1, m = c->batch, n_in = c->sizes[0], n_out = c->sizes[L];
    int with_auto = o->only < 0 || o->only == GN_BACKEND_AUTO;
    int n_forced = o->only == GN_BACKEND_AUTO ? 0 : n_backends;
    float *X = floats(n_in * m, 4), *Y = floats(n_out * m, 5);
    if (c->loss == GN_LOSS_CCE) /* one-hot targets */
        for (size_t j = 0; j < m; j++)
            for (size_t i = 0; i < n_out; i++)
                Y[i + j * n_out] = i == j % n_out;

    /* buffers for the bounds: the same shapes the network uses, shared by the backends */
    float **W = calloc(L + 1, sizeof(float *)), **A = calloc(L + 1, sizeof(float *)),
          **D = calloc(L + 1, sizeof(float *));
    if (!W || !A || !D)
        die("out of memory");
    for (size_t l = 1; l <= L; l++) {
        W[l] = floats(c->sizes[l] * c->sizes[l - 1], 6);
        A[l] = floats(c->sizes[l] * m, 8);
        D[l] = floats(c->sizes[l] * m, 9);
    }

    /* the same initial parameters everywhere (same seed): every net does the same work */
    gn_net *forced[GN_BACKEND_COUNT], *autonet = NULL;
    step_ctx sf[GN_BACKEND_COUNT], sa = {0};
    bound_ctx bc[GN_BACKEND_COUNT];
    variant v[MAX_VARIANTS];
    int nv = 0;
    for (int i = 0; i < n_backends; i++) {
        bc[i] = (bound_ctx){c, backends[i], W, A, D, X};
        v[nv++] = (variant){run_bound, &bc[i]};
    }
    for (int i = 0; i < n_forced; i++) {
        forced[i] = make_net(c, backends[i]);
        sf[i] = (step_ctx){forced[i], X, Y, n_in, n_out, m};
        v[nv++] = (variant){run_step, &sf[i]};
    }
    double tune_s = 0;
    if (with_auto) {
        double t0 = now();
        autonet = make_net(c, GN_BACKEND_AUTO);
        tune_s = now() - t0;
        sa = (step_ctx){autonet, X, Y, n_in, n_out, m};
        v[nv++] = (variant){run_step, &sa};
    }
    /* inference with the automatic choice, or on the one forced backend */
    step_ctx si = with_auto ? sa : sf[0];
    const char *inf_backend = with_auto ? "auto" : gn_backend_name(backends[0]);
    v[nv++] = (variant){run_inference, &si};

    timing t[MAX_VARIANTS];
    measure_many(v, nv, o, t);
    const timing *tb = t, *tf = t + n_backends, *ta = tf + n_forced, *ti = t + nv - 1;

    double flops = step_flops(c), fwd_flops = 0;
    for (size_t l = 1; l <= L; l++)
        fwd_flops += 2.0 * (double)c->sizes[l] * (double)c->sizes[l - 1] * (double)m;
    int bb = 0, bf = 0; /* the fastest bound and forced step */
    for (int i = 1; i < n_backends; i++) {
        bb = tb[i].median < tb[bb].median ? i : bb;
        bf = i < n_forced && tf[i].median < tf[bf].median ? i : bf;
    }
    char note[96];
    for (int i = 0; i < n_backends; i++) {
        const char *name = gn_backend_name(backends[i]);
        print_rate_row(c->name, "bound", name, threads, m, flops, tb[i], NULL, o);
        add_rate_record(c->name, "bound", "blas", name, threads, m, flops, tb[i]);
    }
    for (int i = 0; i < n_forced; i++) {
        const char *name = gn_backend_name(backends[i]);
        snprintf(note, sizeof note, "   step/bound = %.1f%%", 100.0 * tb[i].median / tf[i].median);
        print_rate_row(c->name, "step", name, threads, m, flops, tf[i], note, o);
        add_rate_record(c->name, "step", "gemmnet", name, threads, m, flops, tf[i]);
    }
    if (with_auto) {
        snprintf(note, sizeof note, "   step/best bound = %.1f%%",
                 100.0 * tb[bb].median / ta->median);
        print_rate_row(c->name, "step", "auto", threads, m, flops, *ta, note, o);
        add_rate_record(c->name, "step", "gemmnet", "auto", threads, m, flops, *ta);
        char desc[2048];
        gn_net_describe_backends(autonet, desc, sizeof desc);
        tprintf("%-8s   choice: %s (creation and tuning: %.1f ms)\n", "", desc, 1e3 * tune_s);
    }
    print_rate_row(c->name, "inference", inf_backend, threads, m, fwd_flops, *ti, NULL, o);
    add_rate_record(c->name, "inference", "gemmnet", inf_backend, threads, m, fwd_flops, *ti);

    /* The target: the automatic step at most 5 % slower than the best forced one. */
    tprintf("%-8s summary: best bound on %s", c->name, gn_backend_name(backends[bb]));
    if (with_auto) {
        tprintf("; auto step %.1f%% of it", 100.0 * tb[bb].median / ta->median);
        if (n_forced > 0) {
            double ratio = ta->median / tf[bf].median;
            tprintf("; auto step time / best forced (%s) = %.3f (%s)",
                    gn_backend_name(backends[bf]), ratio,
                    ratio > 1.05 ? "MISSES the target <= 1.05" : "target <= 1.05");
        }
    } else {
        tprintf("; %s step %.1f%% of it", gn_backend_name(backends[0]),
                100.0 * tb[bb].median / tf[0].median);
    }
    tprintf("\n");

    for (int i = 0; i < n_forced; i++)
        gn_net_free(forced[i]);
    gn_net_free(autonet);
    for (size_t l = 1; l <= L; l++) {
        free(W[l]);
        free(A[l]);
        free(D[l]);
    }
    free(W);
    free(A);
    free(D);
    free(X);
    free(Y);
}

/*==== Command line ==========================================================================*/

static void usage(FILE *f)
{
    fputs("usage: gemmnet-bench [options]\n"
          "  --config LIST     comma list of nielsen,mlp,wide,huge (default: all)\n"
          "  --layers A,B,..   a custom network (ReLU hidden, identity output, quadratic loss)\n"
          "  --batch N         batch of the custom network (default 64)\n"
          "  --threads N       BLAS threads (default: all cores)\n"
          "  --backend NAME    openblas, onednn or libxsmm: products, bound and step on that\n"
          "                    sgemm backend only; auto: the automatic step (and inference)\n"
          "                    against every backend's bound (default: every available backend,\n"
          "                    each forced, and auto)\n"
          "  --sweep           run every thread count from 1 to the number of cores\n"
          "  --quick           short timings and fewer samples (all configurations: 1-2 min)\n"
          "  --skip-ops        only the training step, its sgemm-only bound and inference\n"
          "  --peak            measure and print the float FMA peak only\n"
          "  --no-peak         do not measure the peak (its columns stay empty)\n"
          "  --json FILE       write every measurement as JSON ('-' = stdout)\n"
          "  --csv FILE        write every measurement as CSV ('-' = stdout)\n"
          "Products: C is m x n with inner dimension k; forward W*A, wgrad D*A^T, delta W^T*D;\n"
          "'slower' and 'rel err' are against the fastest backend of the product.\n"
          "Step: 'bound' is the step's sgemm calls alone on one backend, 'step' a full training\n"
          "step with every product forced on one backend, or 'auto' (tuned before timing, the\n"
          "choice printed under it); the summary compares auto with the best bound and the\n"
          "best forced step. The variants of a table are measured interleaved.\n"
          "Timing: warm-up, repetitions of at least --quick ? 0.05 : 0.2 s per sample, median\n"
          "and minimum of 5 samples (3 with --quick; fewer for single calls over a few\n"
          "seconds, noted in the table).\n"
          "Peak: independent FMA chains in the widest vectors the CPU has, one thread, then one\n"
          "per core; best of 3 runs of 0.25 s (0.1 s with --quick; 5 x 0.3 s with --peak).\n"
          "'% peak' is of the peak at the row's threads: the all-core figure when they are all\n"
          "the cores, else threads x the one-thread figure (the reference loops: one thread).\n",
          f);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > (1 << 24))
        return 0;
    *out = (size_t)v;
    return 1;
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->only = -1;
    int any = 0;
    size_t batch = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--sweep")) {
            o->sweep = 1;
        } else if (!strcmp(a, "--skip-ops")) {
            o->skip_ops = 1;
        } else if (!strcmp(a, "--peak")) {
            o->peak_only = 1;
        } else if (!strcmp(a, "--no-peak")) {
            o->no_peak = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (v && !strcmp(a, "--threads")) {
            size_t t;
            if (!parse_size(v, &t) || t > 1024)
                usage_error("--threads: '%s' is not a thread count", v);
            o->threads = (int)t;
            i++;
        } else if (v && !strcmp(a, "--backend")) {
            gn_backend b;
            if (gn_backend_parse(v, &b) != GN_OK)
                usage_error("--backend: unknown backend '%s' (openblas, onednn, libxsmm, auto)", v);
            if (!gn_backend_available(b))
                usage_error("--backend: %s is not available in this build or on this CPU",
                            gn_backend_name(b));
            o->only = (int)b;
            i++;
        } else if (v && !strcmp(a, "--json")) {
            o->json = v;
            i++;
        } else if (v && !strcmp(a, "--csv")) {
            o->csv = v;
            i++;
        } else if (v && !strcmp(a, "--batch")) {
            if (!parse_size(v, &batch))
                usage_error("--batch: '%s' is not a batch size", v);
            i++;
        } else if (v && !strcmp(a, "--config")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                int found = 0;
                for (int c = 0; c < N_STANDARD; c++)
                    if (!strcmp(tok, standard[c].name))
                        o->selected[c] = found = any = 1;
                if (!found)
                    usage_error("--config: unknown configuration '%s' (nielsen, mlp, wide, huge)",
                                tok);
            }
            i++;
        } else if (v && !strcmp(a, "--layers")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            config *c = &o->custom_cfg;
            c->n_sizes = 0;
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                if (c->n_sizes == MAX_SIZES || !parse_size(tok, &c->sizes[c->n_sizes]))
                    usage_error("--layers: '%s' is not a list of up to %d widths", v, MAX_SIZES);
                c->n_sizes++;
            }
            if (c->n_sizes < 2)
                usage_error("--layers: need at least two widths, e.g. 784,256,10");
            o->custom = any = 1;
            i++;
        } else {
            usage(stderr);
            usage_error("unknown or incomplete option '%s'", a);
        }
    }
    if (o->peak_only &&
        (o->no_peak || o->json || o->csv || o->sweep || o->skip_ops || any || o->only >= 0))
        usage_error("--peak prints the peak alone: it takes only --quick");
    if (!any)
        for (int c = 0; c < N_STANDARD; c++)
            o->selected[c] = 1;
    if (o->custom) {
        config *c = &o->custom_cfg;
        c->name = "custom";
        c->hidden = GN_ACT_RELU;
        c->out = GN_ACT_IDENTITY;
        c->loss = GN_LOSS_QUADRATIC;
        c->batch = batch;
    }
    o->min_time = o->quick ? 0.05 : 0.2;
    o->samples = o->quick ? 3 : 5;
    o->naive_cap = o->quick ? 0.5 : 3.0;
    o->slow_cap = o->quick ? 1.5 : 30.0;
}

static void print_peak(void)
{
    tprintf("peak: %.1f GFLOP/s on 1 core, %.1f GFLOP/s on %d cores (%s, %d-bit vectors, "
            "%d accumulators; best of %d x %.2g s)\n",
            peak.single, peak.all, peak.threads, peak.isa, peak.vector_bits, peak.chains,
            peak.repeats, peak.seconds);
    tprintf("peak: worst of %d and %d runs: %.1f and %.1f GFLOP/s; in the best ones the threads "
            "had a CPU %.1f%% and %.1f%% of the time, ran together %.1f%% of it\n",
            peak.single_runs, peak.all_runs, peak.single_min, peak.all_min, 100.0 * peak.single_cpu,
            100.0 * peak.all_cpu, 100.0 * peak.overlap);
    if (peak.single_cpu < 0.9 || peak.all_cpu < 0.9)
        tprintf("peak: warning: another job kept taking cores away, the peak is too low and "
                "every %% peak too high\n");
}

static void run_config(const config *c, int threads, const options *o)
{
    check(gn_set_threads(threads), "gn_set_threads");
    if (have_peak) {
        const char *basis;
        double p = peak_for_threads(&peak, threads, &basis);
        tprintf("\n%s on %d thread%s: %% peak is of %.1f GFLOP/s (%s)\n", c->name, threads,
                threads == 1 ? "" : "s", p, basis);
    }
    if (!o->skip_ops) {
        tprintf("\n%-8s %-8s %-16s %-8s %3s %12s %12s %9s %7s %9s %10s\n", "config", "op",
                "m x n x k", "impl", "thr", "median ms", "min ms", "GFLOP/s", "% peak", "slower",
                "rel err");
        bench_products(c, threads, o);
    }
    tprintf("\n%-8s %-10s %-9s %3s %6s %14s %10s %12s %7s\n", "config", "what", "backend", "thr",
            "batch", "samples/s", "GFLOP/s", "median ms", "% peak");
    bench_step(c, threads, o);
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    /* With --json - or --csv - the table would corrupt the data on stdout. */
    table = (o.json && !strcmp(o.json, "-")) || (o.csv && !strcmp(o.csv, "-")) ? stderr : stdout;
    tprintf("gemmnet-bench %s, %ld cores%s\n", gn_version(), cores, o.quick ? ", quick" : "");
    /* the backends to measure: every available one, or the one --backend names */
    char avail[128] = "", blas[512];
    size_t used = 0;
    for (int b = GN_BACKEND_OPENBLAS; b < GN_BACKEND_COUNT; b++) {
        if (!gn_backend_available((gn_backend)b))
            continue;
        used += (size_t)snprintf(avail + used, sizeof avail - used, "%s%s", used ? " " : "",
                                 gn_backend_name((gn_backend)b));
        if (o.only < 0 || o.only == GN_BACKEND_AUTO || o.only == b)
            backends[n_backends++] = (gn_backend)b;
    }
    gn_blas_describe(blas, sizeof blas);
    tprintf("backends: %s (this run: %s); BLAS: %s\n", avail,
            o.only < 0 ? "each forced, and auto" : gn_backend_name((gn_backend)o.only), blas);
    if (!o.no_peak) {
        double secs = o.quick ? 0.1 : o.peak_only ? 0.3 : 0.25;
        int repeats = o.peak_only && !o.quick ? 5 : 3;
        if (peak_measure(&peak, secs, repeats) == 0) {
            have_peak = 1;
            print_peak();
        } else {
            fprintf(stderr, "gemmnet-bench: peak: cannot start %d threads: %s\n", peak.threads,
                    strerror(errno));
            if (o.peak_only)
                return 1;
        }
    }
    if (o.peak_only)
        return 0;
    int lo = o.sweep ? 1 : (o.threads ? o.threads : (int)cores);
    int hi = o.sweep ? (int)cores : lo;
    for (int t = lo; t <= hi; t++) {
        for (int c = 0; c < N_STANDARD; c++)
            if (o.selected[c])
                run_config(&standard[c], t, &o);
        if (o.custom)
            run_config(&o.custom_cfg, t, &o);
    }
    fflush(table);
    int ok = 1;
    if (o.json)
        ok &= save(o.json, write_json);
    if (o.csv)
        ok &= save(o.csv, write_csv);
    return ok ? 0 : 1;
}
