/* gemmnet-bench on a tiny custom net: it runs, writes well-formed CSV and JSON, and its own
 * correctness column (loops against BLAS) is small; its FMA peak is measured and every record
 * is compared with the right one. The timings themselves are not tested: speed is reported by
 * the benchmark, never asserted by a unit test. The peak checks are relations that hold on a
 * loaded machine too (these tests run beside each other and beside other jobs): positive and
 * finite, all cores together at least half of one core's rate and at most twice what every core
 * at the one-core rate would give, and the kernel the CPU's flags call for. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>

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
    int n_cores = 0, bits = 0, parsed = 0, spread = 0, runs1 = 0, runs_all = 0;
    while (fgets(line, sizeof line, p)) {
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

Test(bench, tiny_custom_net_csv)
{
    FILE *p = run_bench("--layers 20,10,3 --batch 8 --quick --threads 1 --csv -");
    char line[1024];
    cr_assert_not_null(fgets(line, sizeof line, p));
    cr_assert_str_eq(line, "config,op,impl,threads,batch,m,n,k,seconds,min_seconds,gflops,"
                           "samples_per_s,max_rel_err,peak_gflops,peak_fraction,peak_isa,"
                           "peak_single_gflops,peak_all_gflops\n");
    int products = 0, checked = 0, step = 0, bound = 0, inference = 0;
    double single0 = -1, all0 = -1;
    char isa0[32] = "";
    while (fgets(line, sizeof line, p)) {
        char *f[18];
        int nf = split(line, f, 18);
        cr_assert_eq(nf, 18, "a record has 18 fields");
        const char *config = f[0], *op = f[1], *impl = f[2], *sps = f[11], *err = f[12];
        int threads = atoi(f[3]);
        size_t batch = (size_t)atol(f[4]);
        double secs = atof(f[8]), min_secs = atof(f[9]), gflops = atof(f[10]);
        cr_assert_str_eq(config, "custom");
        cr_assert_eq(threads, 1);
        cr_assert_eq(batch, 8);
        cr_assert(secs > 0 && min_secs > 0 && min_secs <= secs && gflops > 0, "%s %s", op, impl);
        if (!strcmp(op, "forward") || !strcmp(op, "wgrad") || !strcmp(op, "delta")) {
            products++;
            if (strcmp(impl, "blas") != 0) {
                cr_assert(err[0] && atof(err) < 1e-5, "%s %s disagrees with BLAS: %s", op, impl,
                          err);
                checked++;
            }
        } else {
            step += !strcmp(op, "step");
            bound += !strcmp(op, "bound");
            inference += !strcmp(op, "inference");
            cr_assert(atof(sps) > 0, "%s: no samples/s", op);
            cr_assert(!err[0], "%s: no error column", op);
        }

        /* the peak: one measurement for the whole run, each row against its threads' share */
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
    finish(p);
    /* two layer shapes × three products × three implementations */
    cr_assert_eq(products, 18);
    cr_assert_eq(checked, 12);
    cr_assert_eq(step + bound + inference, 3);
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
            assert_close(peak, expected_row_peak(impl, cores(), single, all), "peak_gflops");
            assert_close(fraction, gflops / peak, "peak_fraction");
        }
        finish(p);
        /* 18 products (not with --skip-ops), step, bound and inference */
        cr_assert_eq(records, with_peak ? 21 : 3);
    }
}
