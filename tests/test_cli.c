/* The gemmnet command line, run as a user would: results, the final line's format, and
 * exit statuses and messages for bad input. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gemmnet.h"

/* Runs the CLI with args (shell words), capturing stdout+stderr; returns the exit status. */
static int run(const char *args, char *out, size_t len)
{
    const char *cli = getenv("GEMMNET_CLI");
    cr_assert_not_null(cli, "GEMMNET_CLI is not set (meson sets it)");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 '%s' %s 2>&1", cli, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status), "'%s' did not exit normally", args);
    return WEXITSTATUS(status);
}

static char out[1 << 16];

Test(cli, train_default_dataset_reaches_accuracy)
{
    cr_assert_eq(run("train", out, sizeof out), 0, "%s", out);
    const char *last = strstr(out, "test_accuracy=");
    cr_assert_not_null(last, "no final line in:\n%s", out);
    double acc, loss, secs, rate;
    cr_assert_eq(sscanf(last, "test_accuracy=%lf test_loss=%lf train_seconds=%lf samples_per_s=%lf",
                        &acc, &loss, &secs, &rate),
                 4, "bad final line: %s", last);
    cr_assert_geq(acc, 0.93);
    cr_assert(loss > 0 && secs > 0 && rate > 0);
    cr_assert_not_null(strstr(out, "epoch 200/200"), "the last epoch is reported");
}

Test(cli, quiet_prints_only_the_result)
{
    cr_assert_eq(run("train --quiet --epochs 5 --impl loop", out, sizeof out), 0, "%s", out);
    cr_assert_eq(strncmp(out, "test_accuracy=", 14), 0, "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line only: %s", out);
}

Test(cli, same_seed_same_result)
{
    char a[512];
    cr_assert_eq(run("train -q --epochs 20 --seed 9", a, sizeof a), 0);
    cr_assert_eq(run("train -q --epochs 20 --seed 9", out, sizeof out), 0);
    /* everything up to the timing must match */
    cr_assert_eq(strncmp(a, out, (size_t)(strstr(a, "train_seconds") - a)), 0, "%s vs %s", a, out);
}

Test(cli, usage_errors_exit_2)
{
    const char *bad[] = {
        "",
        "frobnicate",
        "train --epochs abc",
        "train --epochs 0",
        "train --eta -1",
        "train --eta nan",
        "train --layers 4,,3",
        "train --layers 5,16,3",
        "train --act swish",
        "train --batch 1x",
        "train --no-such-option",
        "train --test-frac 1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(run(bad[i], out, sizeof out), 2, "'%s' gave: %s", bad[i], out);
        cr_assert_not_null(strstr(out, "gemmnet"), "'%s' says nothing useful: %s", bad[i], out);
    }
}

Test(cli, runtime_errors_exit_1_with_a_message)
{
    cr_assert_eq(run("train --data /nonexistent/x.csv", out, sizeof out), 1);
    cr_assert_not_null(strstr(out, "/nonexistent/x.csv"), "%s", out);
    cr_assert_eq(run("train --loss bce --out softmax", out, sizeof out), 2, "%s", out);
    const char *dir = getenv("GEMMNET_TEST_DIR");
    char args[4096];
    snprintf(args, sizeof args, "train --data '%s/test_cli.c'", dir ? dir : ".");
    cr_assert_eq(run(args, out, sizeof out), 1, "a C file is not a dataset: %s", out);
    const char *at = strstr(out, "test_cli.c:");
    cr_assert(at && at[11] >= '1' && at[11] <= '9', "the message names the line: %s", out);
}

Test(cli, help_and_version)
{
    cr_assert_eq(run("help", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "--layers"));
    cr_assert_eq(run("version", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, GN_VERSION_STRING));
}

Test(cli, csv_options_header_delimiter_and_derived_output)
{
    char path[] = "/tmp/gemmnet-cli-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    /* no header, string labels, semicolons: auto-detection would eat the first row */
    fputs("1;2;cat\n3;4;dog\n1;2.5;cat\n3;4.2;dog\n1.1;2;cat\n3.1;4;dog\n", f);
    fclose(f);
    char args[512];
    snprintf(args, sizeof args, "train --data %s --delimiter ';' --header no --epochs 2", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, ": 6 samples"), "every row is data: %s", out);
    snprintf(args, sizeof args, "train --data %s --delimiter ';' --epochs 2", path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, ": 5 samples"), "auto takes the first row as header: %s", out);
    snprintf(args, sizeof args, "train --data %s --delimiter ';;'", path);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    /* one class only: nothing to learn, said plainly */
    f = fopen(path, "w");
    fputs("1,0\n2,0\n3,0\n", f);
    fclose(f);
    snprintf(args, sizeof args, "train --data %s", path);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "only one class"), "%s", out);
    remove(path);
    /* --loss bce without --out picks the sigmoid output it needs */
    cr_assert_eq(run("train --loss bce --epochs 5", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "out=sigmoid"), "%s", out);
    cr_assert_eq(run("train --loss cce --out tanh", out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "needs a softmax output"), "%s", out);
}
