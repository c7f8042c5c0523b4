/* gemmnet-bench on a tiny custom net: it runs, writes well-formed CSV and JSON, and its own
 * correctness column (loops and backends against the fastest backend) is small; every
 * available sgemm backend gets its product, bound and step rows, plus the automatic step;
 * --backend restricts the run; its FMA peak is measured and every record is compared with the
 * right one. The timings themselves are not tested: speed is reported by
 * the benchmark, never asserted by a unit test. The peak checks are relations that hold on a
 * loaded machine too (these tests run beside each other and beside other jobs): positive and
 * finite, all cores together at least half of one core's rate and at most twice what every core
 * at the one-core rate would give, and the kernel the CPU's flags call for. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <gemmnet.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bench_path(void)
{
    const char *bench = getenv("GEMMNET_BENCH");
    cr_assert_not_null(bench, "GEMMNET_BENCH is not set (meson sets it)");
    return bench;
}

/* The names of the available backends in gn_backend order, as the library reports them (the
 * bench must agree); returns their number. */
static int available(const char *names[GN_BACKEND_COUNT])
{
    int n = 0;
    for (int b = GN_BACKEND_OPENBLAS; b < GN_BACKEND_COUNT; b++)
        if (gn_backend_available((gn_backend)b))
            names[n++] = gn_backend_name((gn_backend)b);
    cr_assert(n >= 1 && !strcmp(names[0], "openblas"), "OpenBLAS is always available");
    return n;
}

/* The index of name among the available backends, -1 if it is not one. */
static int backend_index(const char *name)
{
    const char *names[GN_BACKEND_COUNT];
    int n = available(names);
    for (int i = 0; i < n; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

static FILE *run_bench(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s", bench_path(), args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    return p;
}

static void finish(FILE *p)
{
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The "backends: a b c (this run: ...); BLAS: ..." header line lists the available backends. */
static void check_backends_line(const char *line)
{
    const char *names[GN_BACKEND_COUNT];
    int n = available(names);
    char want[128] = "backends:";
    for (int i = 0; i < n; i++) {
        strcat(want, " ");
        strcat(want, names[i]);
    }
    strcat(want, " (this run: ");
    cr_assert(!strncmp(line, want, strlen(want)), "'%s' should start '%s'", line, want);
    cr_assert_not_null(strstr(line, "; BLAS: "), "no BLAS description: %s", line);
}

/* Splits a CSV line at every comma, keeping empty fields; returns the number of fields. */
static int split(char *line, char **f, int max)
{
    int nf = 0;
    line[strcspn(line, "\n")] = '\0';
    for (char *q = line; nf < max; q++) {
        f[nf++] = q;
        q = strchr(q, ',');
        if (!q)
            break;
        *q = '\0';
    }
    return nf;
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* The kernel the bench should pick on this CPU, from the kernel's own flag list (not from the
 * bench's dispatch); NULL when /proc/cpuinfo cannot tell (not Linux on x86). */
static const char *expected_isa(void)
{
#if defined(__x86_64__) || defined(__i386__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return NULL;
    static char line[8192];
    const char *isa = NULL;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            /* pad so every flag is matched as a whole word */
            char padded[sizeof line + 2];
            line[strcspn(line, "\n")] = '\0';
            snprintf(padded, sizeof padded, "%s ", line);
            if (strstr(padded, " avx512f "))
                isa = "avx512f";
            else if (strstr(padded, " avx2 ") && strstr(padded, " fma "))
                isa = "avx2+fma";
            else
                isa = "scalar";
            break;
        }
    fclose(f);
    return isa;
#else
    return NULL;
#endif
}

/* A known kernel, of the width given (bits < 0: not printed), and the one this CPU calls for. */
static void check_isa(const char *isa, int bits)
{
    int w = !strcmp(isa, "avx512f")    ? 512
            : !strcmp(isa, "avx2+fma") ? 256
            : !strcmp(isa, "scalar")   ? 32
                                       : 0;
    cr_assert(w, "unknown kernel '%s'", isa);
    cr_assert(bits < 0 || bits == w, "kernel %s with %d-bit vectors", isa, bits);
    const char *want = expected_isa();
    if (want)
        cr_assert_str_eq(isa, want, "the CPU's flags call for the %s kernel", want);
}

/* Sanity of a peak measurement (see the top of the file for the bounds). */
static void check_peak(double single, double all)
{
    cr_assert(isfinite(single) && single > 0, "single-core peak %g", single);
    cr_assert(isfinite(all) && all > 0, "all-core peak %g", all);
    cr_assert(all >= 0.5 * single, "all-core peak %g below one core's %g", all, single);
    cr_assert(all <= 2.0 * cores() * single, "all-core peak %g: more than %d cores of %g", all,
              cores(), single);
}

Test(bench, peak_alone)
{
    FILE *p = run_bench("--peak --quick");
    char line[1024], isa[32];
    double single = 0, all = 0, low1 = 0, low_all = 0, together = -1, cpu1 = -1, cpu_all = -1;
    int n_cores = 0, bits = 0, parsed = 0, spread = 0, runs1 = 0, runs_all = 0, header = 0;
    while (fgets(line, sizeof line, p)) {
        if (!strncmp(line, "backends: ", 10)) {
            check_backends_line(line);
            header++;
            continue;
        }
        cr_assert(!strncmp(line, "gemmnet-bench ", 14) || !strncmp(line, "peak: ", 6),
                  "--peak prints the peak alone: '%s'", line);
        parsed +=
            sscanf(line, "peak: %lf GFLOP/s on 1 core, %lf GFLOP/s on %d cores (%31[^,], %d-bit",
                   &single, &all, &n_cores, isa, &bits) == 5;
        spread += sscanf(line,
                         "peak: worst of %d and %d runs: %lf and %lf GFLOP/s; in the best ones the "
                         "threads had a CPU %lf%% and %lf%% of the time, ran together %lf%%",
                         &runs1, &runs_all, &low1, &low_all, &cpu1, &cpu_all, &together) == 7;
    }
    finish(p);
    cr_assert_eq(header, 1, "one 'backends:' line");
    cr_assert_eq(parsed, 1,
                 "one 'peak: X GFLOP/s on 1 core, Y GFLOP/s on N cores (ISA, B-bit' line");
    cr_assert_eq(spread, 1, "one 'peak: worst of' line");
    cr_assert_eq(n_cores, cores(), "the all-core run uses every online core");
    check_isa(isa, bits);
    check_peak(single, all);
    cr_assert(low1 > 0 && low1 <= single && low_all > 0 && low_all <= all,
              "worst runs %g, %g against the best %g, %g", low1, low_all, single, all);
    /* --quick plans 3 runs, and makes up to 3 more when another job takes the cores */
    cr_assert(runs1 >= 3 && runs1 <= 6 && runs_all >= 3 && runs_all <= 6, "%d and %d runs", runs1,
              runs_all);
    cr_assert(together > 0 && together <= 100, "threads ran together %g%% of the time", together);
    /* CPU time over wall time, within the clocks' granularity */
    cr_assert(cpu1 > 0 && cpu1 <= 101 && cpu_all > 0 && cpu_all <= 101, "CPU shares %g%%, %g%%",
              cpu1, cpu_all);
}

/* The peak every record is compared with: the reference loops run on one thread. */
static double expected_row_peak(const char *impl, int threads, double single, double all)
{
    int t = strcmp(impl, "blas") && strcmp(impl, "gemmnet") ? 1 : threads;
    return t >= cores() ? all : t * single;
}

static void assert_close(double x, double want, const char *what)
{
    cr_assert(fabs(x - want) <= 1e-4 * fabs(want), "%s: %.9g, expected %.9g", what, x, want);
}

enum { MAX_KEYS = 16 };

/* What one CSV run held, after the per-record checks of read_csv. */
typedef struct tally {
    int n_keys;
    char key[MAX_KEYS][64];  /* a product: op and shape */
    unsigned mask[MAX_KEYS]; /* the backends it ran on, bit i = available()[i] */
    int fastest[MAX_KEYS];   /* its backend rows without an error (the reference of the others) */
    int refs[MAX_KEYS];      /* its reference-loop rows */
    int bound[GN_BACKEND_COUNT], step[GN_BACKEND_COUNT], step_auto, inference;
    char inference_backend[16];
} tally;

/* Reads gemmnet-bench's CSV on the tiny custom net run on `threads` threads, checks every
 * record, and counts them into *t. */
static void read_csv(FILE *p, int threads, int with_peak, tally *t)
{
    memset(t, 0, sizeof *t);
    char line[1024];
    cr_assert_not_null(fgets(line, sizeof line, p));
    cr_assert_str_eq(line, "config,op,impl,threads,batch,m,n,k,seconds,min_seconds,gflops,"
                           "samples_per_s,max_rel_err,peak_gflops,peak_fraction,peak_isa,"
                           "peak_single_gflops,peak_all_gflops,backend\n");
    double single0 = -1, all0 = -1;
    char isa0[32] = "";
    while (fgets(line, sizeof line, p)) {
        char *f[20];
        int nf = split(line, f, 20);
        cr_assert_eq(nf, 19, "a record has 19 fields");
        const char *config = f[0], *op = f[1], *impl = f[2], *sps = f[11], *err = f[12],
                   *backend = f[18];
        size_t batch = (size_t)atol(f[4]);
        double secs = atof(f[8]), min_secs = atof(f[9]), gflops = atof(f[10]);
        cr_assert_str_eq(config, "custom");
        cr_assert_eq(atoi(f[3]), threads);
        cr_assert_eq(batch, 8);
        cr_assert(secs > 0 && min_secs > 0 && min_secs <= secs && gflops > 0, "%s %s", op, impl);
        int b = backend_index(backend);
        if (!strcmp(op, "forward") || !strcmp(op, "wgrad") || !strcmp(op, "delta")) {
            char key[64];
            snprintf(key, sizeof key, "%s %sx%sx%s", op, f[5], f[6], f[7]);
            int q = 0;
            while (q < t->n_keys && strcmp(t->key[q], key))
                q++;
            if (q == t->n_keys) {
                cr_assert(q < MAX_KEYS, "too many products");
                snprintf(t->key[t->n_keys++], sizeof t->key[0], "%s", key);
            }
            if (!strcmp(impl, "blas")) {
                cr_assert(b >= 0, "%s on '%s', not an available backend", key, backend);
                cr_assert(!(t->mask[q] & 1u << b), "%s twice on %s", key, backend);
                t->mask[q] |= 1u << b;
                if (!err[0])
                    t->fastest[q]++;
                else
                    cr_assert(atof(err) < 1e-5, "%s on %s disagrees with the fastest: %s", key,
                              backend, err);
            } else {
                cr_assert(!strcmp(impl, "loop") || !strcmp(impl, "naive"), "impl %s", impl);
                cr_assert(!backend[0], "%s %s has backend '%s'", key, impl, backend);
                cr_assert(err[0] && atof(err) < 1e-5, "%s %s disagrees with the fastest: %s", key,
                          impl, err);
                t->refs[q]++;
            }
        } else {
            cr_assert(atof(sps) > 0, "%s: no samples/s", op);
            cr_assert(!err[0], "%s: no error column", op);
            if (!strcmp(op, "bound")) {
                cr_assert_str_eq(impl, "blas", "bound rows keep impl blas");
                cr_assert(b >= 0, "bound on '%s'", backend);
                t->bound[b]++;
            } else if (!strcmp(op, "step")) {
                cr_assert_str_eq(impl, "gemmnet", "step rows keep impl gemmnet");
                if (!strcmp(backend, "auto"))
                    t->step_auto++;
                else {
                    cr_assert(b >= 0, "step on '%s'", backend);
                    t->step[b]++;
                }
            } else {
                cr_assert_str_eq(op, "inference");
                cr_assert_str_eq(impl, "gemmnet");
                cr_assert(b >= 0 || !strcmp(backend, "auto"), "inference on '%s'", backend);
                t->inference++;
                snprintf(t->inference_backend, sizeof t->inference_backend, "%s", backend);
            }
        }

        /* the peak: one measurement for the whole run, each row against its threads' share */
        if (!with_peak) {
            for (int i = 13; i <= 17; i++)
                cr_assert(!f[i][0], "--no-peak leaves the peak fields empty");
            continue;
        }
        double peak = atof(f[13]), fraction = atof(f[14]), single = atof(f[16]), all = atof(f[17]);
        cr_assert(f[13][0] && f[14][0] && f[15][0] && f[16][0] && f[17][0], "%s %s: no peak", op,
                  impl);
        if (single0 < 0) {
            check_peak(single, all);
            check_isa(f[15], -1);
            single0 = single;
            all0 = all;
            snprintf(isa0, sizeof isa0, "%s", f[15]);
        }
        cr_assert(single == single0 && all == all0 && !strcmp(f[15], isa0),
                  "every row carries the same peak");
        assert_close(peak, expected_row_peak(impl, threads, single, all), "peak_gflops");
        assert_close(fraction, gflops / peak, "peak_fraction");
    }
}

/* Every product on the backends in mask, one of them the reference, and both loops. */
static void check_products(const tally *t, int n_keys, unsigned mask)
{
    cr_assert_eq(t->n_keys, n_keys, "%d distinct products", n_keys);
    for (int q = 0; q < t->n_keys; q++) {
        cr_assert_eq(t->mask[q], mask, "%s: backends %#x, expected %#x", t->key[q], t->mask[q],
                     mask);
        cr_assert_eq(t->fastest[q], 1, "%s: one fastest backend", t->key[q]);
        cr_assert_eq(t->refs[q], 2, "%s: the cache-friendly and the textbook loop", t->key[q]);
    }
}

/* The bound on each backend in mask, the step forced on each of forced, step_auto automatic
 * steps and one inference. */
static void check_steps(const tally *t, int nb, unsigned mask, unsigned forced, int step_auto)
{
    for (int b = 0; b < nb; b++) {
        cr_assert_eq(t->bound[b], (int)(mask >> b & 1), "bound rows of backend %d", b);
        cr_assert_eq(t->step[b], (int)(forced >> b & 1), "forced step rows of backend %d", b);
    }
    cr_assert_eq(t->step_auto, step_auto);
    cr_assert_eq(t->inference, 1);
}

Test(bench, tiny_custom_net_csv)
{
    const char *names[GN_BACKEND_COUNT];
    int nb = available(names);
    unsigned all = (1u << nb) - 1;
    FILE *p = run_bench("--layers 20,10,3 --batch 8 --quick --threads 1 --csv -");
    tally t;
    read_csv(p, 1, 1, &t);
    finish(p);
    /* two layer shapes × three products, each on every backend plus the two loops; a bound
     * and a forced step per backend, the automatic step, and inference with it */
    check_products(&t, 6, all);
    check_steps(&t, nb, all, all, 1);
    cr_assert_str_eq(t.inference_backend, "auto");
}

/* --backend NAME: the products, the bound and the step (and inference) on that backend only;
 * the last available one, which is not OpenBLAS when another backend is compiled in. */
Test(bench, backend_forced)
{
    const char *names[GN_BACKEND_COUNT];
    int nb = available(names);
    char args[256];
    snprintf(args, sizeof args,
             "--backend %s --layers 20,10,3 --batch 8 --quick --threads 1 --no-peak --csv -",
             names[nb - 1]);
    FILE *p = run_bench(args);
    tally t;
    read_csv(p, 1, 0, &t);
    finish(p);
    unsigned one = 1u << (nb - 1);
    check_products(&t, 6, one);
    check_steps(&t, nb, one, one, 0);
    cr_assert_str_eq(t.inference_backend, names[nb - 1]);
}

/* --backend auto: every backend's bound, only the automatic step. */
Test(bench, backend_auto)
{
    const char *names[GN_BACKEND_COUNT];
    int nb = available(names);
    FILE *p = run_bench("--backend AUTO --layers 20,10,3 --batch 8 --quick --threads 1 --no-peak "
                        "--skip-ops --csv -");
    tally t;
    read_csv(p, 1, 0, &t);
    finish(p);
    check_products(&t, 0, 0);
    check_steps(&t, nb, (1u << nb) - 1, 0, 1);
    cr_assert_str_eq(t.inference_backend, "auto");
}

/* Runs the bench with stderr joined to stdout into out; returns its exit status. */
static int run_status(const char *args, char *out, size_t len)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s 2>&1", args);
    FILE *p = run_bench(cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status), "the bench crashed: %s", out);
    return WEXITSTATUS(status);
}

/* A name that is no backend, or one that is not available, is a usage error (exit 2). */
Test(bench, backend_errors)
{
    char out[4096];
    cr_assert_eq(run_status("--backend blis --no-peak --skip-ops", out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "unknown backend 'blis'"), "%s", out);
    cr_assert_eq(run_status("--no-peak --skip-ops --backend", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run_status("--peak --backend openblas", out, sizeof out), 2, "%s", out);
    for (int b = GN_BACKEND_OPENBLAS; b < GN_BACKEND_COUNT; b++) {
        if (gn_backend_available((gn_backend)b))
            continue;
        char args[128];
        snprintf(args, sizeof args, "--backend %s --no-peak --skip-ops",
                 gn_backend_name((gn_backend)b));
        cr_assert_eq(run_status(args, out, sizeof out), 2, "%s", out);
        cr_assert_not_null(strstr(out, "not available"), "%s", out);
    }
}

/* The table: the header line, a bound row per backend, a step row per backend plus auto with
 * its choice under it, inference, and the summary comparing auto with the best forced step. */
Test(bench, step_table)
{
    const char *names[GN_BACKEND_COUNT];
    int nb = available(names);
    FILE *p = run_bench("--layers 20,10,3 --batch 8 --quick --threads 1 --no-peak --skip-ops");
    char line[4096];
    int header = 0, bound = 0, step = 0, step_auto = 0, choice = 0, inference = 0, summary = 0;
    while (fgets(line, sizeof line, p)) {
        char what[16] = "", backend[16] = "";
        if (!strncmp(line, "backends: ", 10)) {
            check_backends_line(line);
            header++;
        } else if (sscanf(line, "custom %15s %15s", what, backend) == 2) {
            if (!strcmp(what, "summary:")) {
                char best[16] = "";
                cr_assert_eq(sscanf(line, "custom summary: best bound on %15[^;]", best), 1, "%s",
                             line);
                cr_assert(backend_index(best) >= 0, "best bound on '%s'", best);
                cr_assert_not_null(strstr(line, "; auto step time / best forced ("), "%s", line);
                summary++;
                continue;
            }
            int b = backend_index(backend);
            if (!strcmp(what, "bound")) {
                cr_assert(b >= 0, "%s", line);
                bound++;
            } else if (!strcmp(what, "step")) {
                cr_assert(b >= 0 || !strcmp(backend, "auto"), "%s", line);
                step++;
                step_auto += b < 0;
            } else if (!strcmp(what, "inference")) {
                cr_assert_str_eq(backend, "auto", "%s", line);
                inference++;
            }
        } else if (strstr(line, " choice: auto, tuned for batch 8: layer 1 ")) {
            cr_assert_eq(step_auto, 1, "the choice comes right under the auto step");
            choice++;
        }
    }
    finish(p);
    cr_assert_eq(header, 1);
    cr_assert_eq(bound, nb);
    cr_assert_eq(step, nb + 1);
    cr_assert_eq(step_auto, 1);
    cr_assert_eq(choice, 1);
    cr_assert_eq(inference, 1);
    cr_assert_eq(summary, 1);
}

/* Extracts the number after "key": in a JSON record line; NAN for null, -1 when absent. */
static double json_field(const char *rec, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *q = strstr(rec, pat);
    if (!q)
        return -1;
    q += strlen(pat);
    return !strncmp(q, "null", 4) ? NAN : atof(q);
}

/* The last field of a JSON record, "backend": null for the reference loops, else an available
 * backend's name, or "auto" for the training step and inference. */
static void check_json_backend(const char *rec, const char *impl)
{
    const char *q = strstr(rec, "\"backend\": ");
    cr_assert_not_null(q, "no backend field: %s", rec);
    cr_assert_not_null(strstr(rec, "\"peak_all_gflops\": "), "%s", rec);
    cr_assert(q > strstr(rec, "\"peak_all_gflops\": "), "backend comes after the peak: %s", rec);
    q += strlen("\"backend\": ");
    char name[16] = "";
    if (!strcmp(impl, "naive") || !strcmp(impl, "loop")) {
        cr_assert(!strncmp(q, "null}", 5), "the loops have no backend: %s", rec);
        return;
    }
    int n = 0;
    cr_assert(sscanf(q, "\"%15[^\"]\"}%n", name, &n) == 1 && n > 0, "backend is the last field: %s",
              rec);
    cr_assert(backend_index(name) >= 0 || (!strcmp(impl, "gemmnet") && !strcmp(name, "auto")),
              "backend '%s' for impl %s", name, impl);
}

/* On all the cores the BLAS rows are compared with the all-core figure and the reference loops
 * with one core's; without the peak the fields are there and null. */
Test(bench, tiny_custom_net_json_peak_fields)
{
    for (int with_peak = 1; with_peak >= 0; with_peak--) {
        char args[256];
        snprintf(args, sizeof args, "--layers 20,10,3 --batch 8 --quick --threads %d --json -%s",
                 cores(), with_peak ? "" : " --no-peak --skip-ops");
        FILE *p = run_bench(args);
        char line[4096];
        int records = 0;
        while (fgets(line, sizeof line, p)) {
            if (line[0] != ' ')
                continue; /* the brackets around the records */
            records++;
            const char *isa = strstr(line, "\"peak_isa\": ");
            cr_assert_not_null(isa, "no peak_isa field: %s", line);
            isa += strlen("\"peak_isa\": ");
            double gflops = json_field(line, "gflops"), peak = json_field(line, "peak_gflops"),
                   fraction = json_field(line, "peak_fraction"),
                   single = json_field(line, "peak_single_gflops"),
                   all = json_field(line, "peak_all_gflops");
            cr_assert(peak != -1 && fraction != -1 && single != -1 && all != -1,
                      "a peak field is missing: %s", line);
            if (!with_peak) {
                char impl[16] = "";
                const char *q = strstr(line, "\"impl\": ");
                cr_assert(q && sscanf(q, "\"impl\": \"%15[^\"]\"", impl) == 1, "%s", line);
                check_json_backend(line, impl);
                cr_assert(isnan(peak) && isnan(fraction) && isnan(single) && isnan(all) &&
                              !strncmp(isa, "null", 4),
                          "--no-peak leaves the peak fields null: %s", line);
                continue;
            }
            char name[32] = "";
            cr_assert_eq(sscanf(isa, "\"%31[^\"]\"", name), 1, "peak_isa is a string: %s", line);
            check_isa(name, -1);
            check_peak(single, all);
            char impl[16] = "";
            const char *q = strstr(line, "\"impl\": ");
            cr_assert(q && sscanf(q, "\"impl\": \"%15[^\"]\"", impl) == 1, "no impl: %s", line);
            check_json_backend(line, impl);
            assert_close(peak, expected_row_peak(impl, cores(), single, all), "peak_gflops");
            assert_close(fraction, gflops / peak, "peak_fraction");
        }
        finish(p);
        /* 6 products (not with --skip-ops) on every backend and the two loops, a bound and a
         * step per backend, the automatic step and inference */
        const char *names[GN_BACKEND_COUNT];
        int nb = available(names);
        cr_assert_eq(records, (with_peak ? 6 * (nb + 2) : 0) + 2 * nb + 2);
    }
}
