/* gemmnet-bench on a tiny custom net: it runs, writes well-formed CSV, and its own
 * correctness column (loops against BLAS) is small. The timings themselves are not tested:
 * speed is reported by the benchmark, never asserted by a unit test. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

Test(bench, tiny_custom_net_csv)
{
    const char *bench = getenv("GEMMNET_BENCH");
    cr_assert_not_null(bench, "GEMMNET_BENCH is not set (meson sets it)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --layers 20,10,3 --batch 8 --quick --threads 1 --csv -", bench);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[1024];
    cr_assert_not_null(fgets(line, sizeof line, p));
    cr_assert_str_eq(line, "config,op,impl,threads,batch,m,n,k,seconds,min_seconds,gflops,"
                           "samples_per_s,max_rel_err\n");
    int products = 0, checked = 0, step = 0, bound = 0, inference = 0;
    while (fgets(line, sizeof line, p)) {
        /* split at every comma, keeping empty fields */
        char *f[13];
        int nf = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *q = line; nf < 13; q++) {
            f[nf++] = q;
            q = strchr(q, ',');
            if (!q)
                break;
            *q = '\0';
        }
        cr_assert_eq(nf, 13, "a record has 13 fields");
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
    }
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* two layer shapes × three products × three implementations */
    cr_assert_eq(products, 18);
    cr_assert_eq(checked, 12);
    cr_assert_eq(step + bound + inference, 3);
}
