/* The gemmnet command line, run as a user would: results, the final line's format, exit
 * statuses and messages for bad input, on small generated data (never full Fashion-MNIST). */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "gemmnet.h"

/* Runs the CLI with args (shell words); redir says where stderr goes ("2>&1" to capture it with
 * stdout). Returns the exit status. */
static int run_io(const char *args, const char *redir, char *out, size_t len)
{
    const char *cli = getenv("GEMMNET_CLI");
    cr_assert_not_null(cli, "GEMMNET_CLI is not set (meson sets it)");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 '%s' %s %s", cli, args, redir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status), "'%s' did not exit normally", args);
    return WEXITSTATUS(status);
}

/* stdout and stderr together */
static int run(const char *args, char *out, size_t len) { return run_io(args, "2>&1", out, len); }

static char out[1 << 18];

static const char *iris(void)
{
    static char path[1024];
    const char *dir = getenv("GEMMNET_DATA_DIR");
    snprintf(path, sizeof path, "%s/iris.csv", dir ? dir : "data");
    return path;
}

/* The last non-empty line of s. */
static const char *last_line(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n')
        n--;
    while (n > 0 && s[n - 1] != '\n')
        n--;
    return s + n;
}

/* Asserts that the last line of s is exactly "k1=v1 k2=v2 ..." with the keys given (space
 * separated, in order) and every value a whole number, and stores the values. */
static void parse_final(const char *s, const char *keys, double *vals)
{
    const char *line = last_line(s), *p = line, *k = keys;
    size_t i = 0;
    while (*k) {
        size_t klen = strcspn(k, " ");
        cr_assert(strncmp(p, k, klen) == 0 && p[klen] == '=', "expected key '%.*s' in: %s",
                  (int)klen, k, line);
        char *end;
        vals[i++] = strtod(p + klen + 1, &end);
        cr_assert(end > p + klen + 1 && (*end == ' ' || *end == '\n' || *end == '\0'),
                  "bad value of '%.*s' in: %s", (int)klen, k, line);
        k += klen;
        k += *k == ' ';
        p = end;
        if (*k) {
            cr_assert_eq(*p, ' ', "fields end early in: %s", line);
            p++;
        }
    }
    cr_assert(*p == '\n' || *p == '\0', "trailing text in the final line: %s", line);
}

#define FINAL_KEYS     "test_accuracy train_seconds samples_per_s epochs"
#define FINAL_REG_KEYS "test_mse test_r2 train_seconds samples_per_s epochs"

static char *make_tmpdir(void)
{
    static char dir[64];
    strcpy(dir, "/tmp/gemmnet-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/*==== Generated data ========================================================================*/

static uint32_t lcg_state = 12345;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

enum { SIDE = 6, PIXELS = SIDE * SIDE, CLASSES = 3 };

/* n images of 6×6 bytes: class c has bright rows 2c and 2c+1 over a dark, noisy background. */
static void make_images(unsigned char *img, unsigned char *lab, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        unsigned c = (unsigned)(j % CLASSES);
        lab[j] = (unsigned char)c;
        for (int p = 0; p < PIXELS; p++) {
            int bright = p / SIDE / 2 == (int)c;
            img[j * PIXELS + p] = (unsigned char)(bright ? 150 + lcg() % 106 : lcg() % 90);
        }
    }
}

static void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8), b[3] = (unsigned char)v;
}

/* Writes an IDX file of unsigned bytes (header: 00 00 08 ndims, then big-endian sizes),
 * gzip-compressed when the name ends in .gz. */
static void write_idx(const char *path, const unsigned char *data, size_t n, int images)
{
    unsigned char h[16] = {0, 0, 8, (unsigned char)(images ? 3 : 1)};
    be32(h + 4, (uint32_t)n);
    be32(h + 8, SIDE);
    be32(h + 12, SIDE);
    size_t hlen = images ? 16 : 8, dlen = images ? n * PIXELS : n;
    if (strstr(path, ".gz")) {
        gzFile gz = gzopen(path, "wb");
        cr_assert_not_null(gz);
        cr_assert_eq(gzwrite(gz, h, (unsigned)hlen), (int)hlen);
        cr_assert_eq(gzwrite(gz, data, (unsigned)dlen), (int)dlen);
        cr_assert_eq(gzclose(gz), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(h, 1, hlen, f), hlen);
        cr_assert_eq(fwrite(data, 1, dlen, f), dlen);
        cr_assert_eq(fclose(f), 0);
    }
}

enum { N_TRAIN = 240, N_TEST = 60 };
static unsigned char test_img[N_TEST * PIXELS], test_lab[N_TEST];

/* A Fashion-MNIST-like pair of sets in dir: plain IDX for training, gzip for testing. */
static void make_idx_sets(const char *dir)
{
    static unsigned char img[N_TRAIN * PIXELS], lab[N_TRAIN];
    char path[512];
    make_images(img, lab, N_TRAIN);
    make_images(test_img, test_lab, N_TEST);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_idx(path, img, N_TRAIN, 1);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    write_idx(path, lab, N_TRAIN, 0);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    write_idx(path, test_img, N_TEST, 1);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_idx(path, test_lab, N_TEST, 0);
}

/* The arguments that train on the sets of make_idx_sets, quickly. */
static void idx_train_args(char *buf, size_t len, const char *dir, const char *more)
{
    snprintf(buf, len,
             "train --train %s/train-images-idx3-ubyte --test %s/t10k-images-idx3-ubyte.gz "
             "--epochs 15 --batch 16 --lr 0.01 %s",
             dir, dir, more);
}

/* y = 2·x1 − x2 + small noise, x uniform in [−1, 1]. */
static void make_regression_csv(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("x1,x2,y\n", f);
    for (int i = 0; i < n; i++) {
        double x1 = (lcg() % 20001) / 10000.0 - 1.0, x2 = (lcg() % 20001) / 10000.0 - 1.0;
        double noise = ((lcg() % 2001) / 1000.0 - 1.0) * 0.05;
        fprintf(f, "%.6f,%.6f,%.6f\n", x1, x2, 2 * x1 - x2 + noise);
    }
    cr_assert_eq(fclose(f), 0);
}

/*==== Training ==============================================================================*/

Test(cli, iris_reaches_accuracy_and_reports_every_epoch)
{
    char args[4096];
    snprintf(args, sizeof args,
             "train --train '%s' --epochs 50 --batch 10 --lr 0.01 --schedule constant", iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    double v[4];
    parse_final(out, FINAL_KEYS, v);
    cr_assert_geq(v[0], 0.9, "test accuracy %g", v[0]);
    cr_assert(v[1] > 0 && v[2] > 0, "%s", last_line(out));
    cr_assert_eq(v[3], 50);
    cr_assert_not_null(strstr(out, "epoch 1/50 train_loss="), "%s", out);
    const char *e50 = strstr(out, "epoch 50/50 train_loss=");
    cr_assert_not_null(e50, "the last epoch is reported: %s", out);
    cr_assert(strstr(e50, " lr=0.01 seconds=") && !strstr(out, "val_loss"), "%s", e50);
    cr_assert_not_null(strstr(out, "test_loss="), "%s", out);
    cr_assert_not_null(strstr(out, " load_seconds="), "%s", out);
    cr_assert_not_null(strstr(out, "net 4,64,3 act=relu out=softmax loss=xent"), "%s", out);
}

Test(cli, quiet_prints_only_the_final_line)
{
    char args[4096];
    snprintf(args, sizeof args, "train --quiet --data '%s' --epochs 5 --impl loop", iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_eq(strncmp(out, "test_accuracy=", 14), 0, "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line only: %s", out);
    double v[4];
    parse_final(out, FINAL_KEYS, v);
}

Test(cli, same_seed_same_result)
{
    char a[512], args[4096];
    snprintf(args, sizeof args, "train -q --train '%s' --epochs 20 --seed 9 --dropout 0.2", iris());
    cr_assert_eq(run(args, a, sizeof a), 0);
    cr_assert_eq(run(args, out, sizeof out), 0);
    /* everything up to the timing must match */
    cr_assert_eq(strncmp(a, out, (size_t)(strstr(a, "train_seconds") - a)), 0, "%s vs %s", a, out);
}

Test(cli, no_progress_bar_when_stderr_is_not_a_terminal)
{
    char *dir = make_tmpdir(), args[4096];
    make_idx_sets(dir);
    idx_train_args(args, sizeof args, dir, "--batch 4");
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_null(strchr(out, '\r'), "a progress bar went to a pipe: %s", out);
    remove_tree(dir);
}

Test(cli, idx_pair_trains_end_to_end)
{
    char *dir = make_tmpdir(), args[4096];
    make_idx_sets(dir);
    idx_train_args(args, sizeof args, dir, "--layers 36,32,3 --confusion");
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "samples (240 train, 0 val, 60 test), 36 features, 3 classes"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "standardize=yes"), "inputs are standardised: %s", out);
    cr_assert_not_null(strstr(out, "confusion"), "%s", out);
    double v[4];
    parse_final(out, FINAL_KEYS, v);
    cr_assert_geq(v[0], 0.9, "%s", out);
    cr_assert_eq(v[3], 15);

    /* IDX recognised by content, labels named explicitly */
    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/pixels.bin", dir);
    snprintf(cmd, sizeof cmd, "cp '%s/train-images-idx3-ubyte' '%s'", dir, path);
    cr_assert_eq(system(cmd), 0);
    snprintf(args, sizeof args,
             "train -q --train %s --train-labels %s/train-labels-idx1-ubyte --epochs 2", path, dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    /* no labels file to derive from the name: a usage error that names the option */
    snprintf(args, sizeof args, "train --train %s/pixels.idx --epochs 2", dir);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "--train-labels"), "%s", out);
    /* CSV options do not apply to IDX data, nor does regression */
    idx_train_args(args, sizeof args, dir, "--header yes");
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    idx_train_args(args, sizeof args, dir, "--regression");
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    /* a truncated file is a data error naming the file */
    snprintf(cmd, sizeof cmd, "head -c 100 '%s/train-images-idx3-ubyte' > '%s/bad-images-idx3'",
             dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(args, sizeof args,
             "train --train %s/bad-images-idx3 --train-labels %s/train-labels-idx1-ubyte", dir,
             dir);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "bad-images-idx3"), "%s", out);
    remove_tree(dir);
}

Test(cli, missing_fashion_mnist_says_how_to_install_it)
{
    char *dir = make_tmpdir();
    cr_assert_eq(setenv("GEMMNET_FASHION_DIR", dir, 1), 0);
    cr_assert_eq(run("train --epochs 1", out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "apt-get install dataset-fashion-mnist"), "%s", out);
    cr_assert_not_null(strstr(out, "--train"), "%s", out);
    cr_assert_not_null(strstr(out, dir), "names where it looked: %s", out);
    cr_assert_eq(strncmp(out, "gemmnet: ", 9), 0, "%s", out);
    remove_tree(dir);
}

Test(cli, regression_reaches_r2)
{
    char *dir = make_tmpdir(), path[512], args[4096];
    snprintf(path, sizeof path, "%s/lin.csv", dir);
    make_regression_csv(path, 400);
    snprintf(args, sizeof args, "train --train %s --regression --epochs 40 --batch 16 --lr 0.01",
             path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "out=identity loss=quadratic"), "%s", out);
    cr_assert_not_null(strstr(out, "2 features, 1 targets"), "%s", out);
    double v[5];
    parse_final(out, FINAL_REG_KEYS, v);
    cr_assert_gt(v[1], 0.9, "r2 = %g: %s", v[1], last_line(out));
    cr_assert(v[0] >= 0 && v[0] < 0.5, "mse = %g", v[0]);
    remove_tree(dir);
}

Test(cli, patience_stops_early_on_a_validation_split)
{
    char args[4096];
    snprintf(args, sizeof args,
             "train --train '%s' --val-split 0.3 --patience 3 --epochs 1000 --batch 10 --lr 0.05",
             iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "(84 train, 36 val, 30 test)"), "%s", out);
    cr_assert_not_null(strstr(out, "val_loss="), "%s", out);
    cr_assert_not_null(strstr(out, "val_accuracy="), "%s", out);
    cr_assert_not_null(strstr(out, "stopped_early=yes"), "%s", out);
    double v[4];
    parse_final(out, FINAL_KEYS, v);
    cr_assert_lt(v[3], 1000);
    cr_assert_geq(v[3], 4);
}

Test(cli, optimizers_and_schedules)
{
    const char *variants[] = {
        "--opt sgd --lr 0.1",
        "--opt momentum --momentum 0.8 --schedule step --step-epochs 5 --gamma 0.5",
        "--opt nesterov --lr 0.05 --clip 1",
        "--opt rmsprop --schedule cosine --min-lr 0.0001",
        "--opt adamw --weight-decay 0.001 --l2 0.0001",
        "--act tanh --loss huber --out identity --init xavier",
        "--act elu --loss mse",
        "--act softplus --loss mae --standardize no",
        "--act sigmoid --loss bce",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char args[4096];
        snprintf(args, sizeof args, "train -q --train '%s' --epochs 30 --batch 10 %s", iris(),
                 variants[i]);
        cr_assert_eq(run(args, out, sizeof out), 0, "%s: %s", variants[i], out);
        double v[4];
        parse_final(out, FINAL_KEYS, v);
        cr_assert_geq(v[0], 0.6, "%s learns something: %s", variants[i], out);
    }
    char args[4096];
    snprintf(args, sizeof args,
             "train --train '%s' --epochs 3 --opt sgd --schedule step --step-epochs 1 --gamma 0.5",
             iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "epoch 3/3 train_loss="), "%s", out);
    cr_assert_not_null(strstr(strstr(out, "epoch 3/3"), " lr=0.025 "), "the step schedule: %s",
                       out);
}

/*==== Exit statuses and messages ============================================================*/

Test(cli, usage_errors_exit_2)
{
    const char *bad[] = {
        "",
        "frobnicate",
        "help nosuchcommand",
        "version extra",
        "train --epochs abc",
        "train --epochs 0",
        "train --eta -1",
        "train --lr nan",
        "train --lr 1e-60",
        "train --lr",
        "train --layers 4,,3",
        "train --act swish",
        "train --out swish",
        "train --loss hinge",
        "train --opt lbfgs",
        "train --schedule linear",
        "train --standardize maybe",
        "train --batch 1x",
        "train --dropout 1",
        "train --momentum 1 --opt momentum",
        "train --no-such-option",
        "train --test-frac 1",
        "train --val-split 0",
        "train --quiet=yes",
        "train stray-word",
        "train --labels",
        "train --test x.csv",
        "train --patience 3",
        "train --opt adam --momentum 0.9",
        "train --gamma 0.5",
        "train --min-lr 0.1",
        "train --regression --loss xent",
        "train --regression --out softmax",
        "eval",
        "eval --model m.gnn",
        "eval --test t.csv",
        "eval --epochs 3 --model m --test t",
        "eval --model m --test t --bogus",
        "predict",
        "predict --model m.gnn",
        "predict --input x.csv",
        "predict --model m --input x --confusion",
        "predict --model m --input x --delimiter ab",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(run(bad[i], out, sizeof out), 2, "'%s' gave: %s", bad[i], out);
        cr_assert_not_null(strstr(out, "gemmnet"), "'%s' says nothing useful: %s", bad[i], out);
    }
    /* messages go to stderr only */
    cr_assert_eq(run_io("train --epochs 0", "2>/dev/null", out, sizeof out), 2);
    cr_assert_str_empty(out);
    char args[4096];
    const char *data_bad[] = {"--layers 5,16,3", "--loss bce --out softmax",
                              "--loss cce --out tanh", "--train-labels x"};
    for (size_t i = 0; i < sizeof data_bad / sizeof data_bad[0]; i++) {
        snprintf(args, sizeof args, "train --train '%s' %s", iris(), data_bad[i]);
        cr_assert_eq(run(args, out, sizeof out), 2, "'%s' gave: %s", data_bad[i], out);
    }
    cr_assert_not_null(strstr(out, "--train-labels"), "%s", out);
}

Test(cli, help_exits_0_on_stdout)
{
    const struct {
        const char *args, *needle;
    } cases[] = {
        {"help", "--layers"},          {"--help", "predict"},
        {"help train", "--val-split"}, {"train --help", "--layers"},
        {"train -h", "--patience"},    {"eval --help", "--model"},
        {"eval -h", "test_accuracy"},  {"predict --help", "--input"},
        {"predict -h", "--labels"},    {"train --epochs 3 --help", "usage: gemmnet train"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(run_io(cases[i].args, "2>/dev/null", out, sizeof out), 0, "%s", cases[i].args);
        cr_assert_not_null(strstr(out, cases[i].needle), "'%s' lacks '%s': %s", cases[i].args,
                           cases[i].needle, out);
    }
    cr_assert_eq(run("version", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, GN_VERSION_STRING));
}

Test(cli, runtime_errors_exit_1_with_a_message)
{
    const char *missing[] = {
        "train --data /nonexistent/x.csv",
        "train --train /nonexistent/train-images-idx3-ubyte",
        "eval --model /nonexistent/m.gnn --test /nonexistent/t.csv",
        "predict --model /nonexistent/m.gnn --input /nonexistent/x.csv",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        cr_assert_eq(run(missing[i], out, sizeof out), 1, "'%s' gave: %s", missing[i], out);
        cr_assert_eq(strncmp(out, "gemmnet: ", 9), 0, "%s", out);
        cr_assert_not_null(strstr(out, "/nonexistent/"), "names the file: %s", out);
    }
    const char *dir = getenv("GEMMNET_TEST_DIR");
    char args[4096];
    snprintf(args, sizeof args, "train --data '%s/test_cli.c'", dir ? dir : ".");
    cr_assert_eq(run(args, out, sizeof out), 1, "a C file is not a dataset: %s", out);
    const char *at = strstr(out, "test_cli.c:");
    cr_assert(at && at[11] >= '1' && at[11] <= '9', "the message names the line: %s", out);
    snprintf(args, sizeof args, "train --train '%s' --val-split 0.999", iris());
    cr_assert_eq(run(args, out, sizeof out), 1, "an empty training part: %s", out);
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
    char args[4096];
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
    snprintf(args, sizeof args, "train --data '%s' --loss bce --epochs 5", iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "out=sigmoid"), "%s", out);
    snprintf(args, sizeof args, "train --data '%s' --loss cce --out tanh", iris());
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "needs a softmax output"), "%s", out);
}

Test(cli, separate_csv_test_file_with_fewer_classes)
{
    /* The test file lacks the last class: the CLI widens its targets to the network's. */
    char *dir = make_tmpdir(), tr[512], te[512], args[4096];
    snprintf(tr, sizeof tr, "%s/tr.csv", dir);
    snprintf(te, sizeof te, "%s/te.csv", dir);
    FILE *f = fopen(tr, "w"), *g = fopen(te, "w");
    for (int i = 0; i < 90; i++) {
        int c = i % 3;
        fprintf(f, "%d.%d,%d,%d\n", c * 3, i % 7, c, c);
        if (c < 2)
            fprintf(g, "%d.%d,%d,%d\n", c * 3, i % 5, c, c);
    }
    fclose(f);
    fclose(g);
    snprintf(args, sizeof args, "train --train %s --test %s --epochs 30 --batch 10 --lr 0.01", tr,
             te);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "(90 train, 0 val, 60 test), 2 features, 3 classes"), "%s", out);
    double v[4];
    parse_final(out, FINAL_KEYS, v);
    cr_assert_geq(v[0], 0.9, "%s", out);
    snprintf(args, sizeof args, "train --train %s --test %s --test-frac 0.5", tr, te);
    cr_assert_eq(run(args, out, sizeof out), 2, "--test and --test-frac: %s", out);
    remove_tree(dir);
}

/*==== Model files: train --save, eval, predict ==============================================*/

Test(cli, save_then_eval_and_predict)
{
    char *dir = make_tmpdir(), args[8192], model[512], csv[512];
    make_idx_sets(dir);
    snprintf(model, sizeof model, "%s/m.gnn", dir);
    char more[600];
    snprintf(more, sizeof more, "--save %s", model);
    idx_train_args(args, sizeof args, dir, more);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    double t[4];
    parse_final(out, FINAL_KEYS, t);
    const char *tl = strstr(out, "test_loss=");
    cr_assert_not_null(tl);
    double train_loss = strtod(tl + 10, NULL);

    /* eval on the same test set: the same accuracy and loss */
    snprintf(args, sizeof args, "eval --model %s --test %s/t10k-images-idx3-ubyte.gz --confusion",
             model, dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "precision"), "%s", out);
    double e[3];
    parse_final(out, "test_accuracy test_loss samples", e);
    cr_assert_eq(e[0], t[0], "eval %g, train %g", e[0], t[0]);
    cr_assert_float_eq(e[1], train_loss, 1e-4);
    cr_assert_eq(e[2], N_TEST);

    /* predict on a CSV of features only, with a header line */
    snprintf(csv, sizeof csv, "%s/x.csv", dir);
    FILE *f = fopen(csv, "w");
    for (int p = 0; p < PIXELS; p++)
        fprintf(f, "%sp%d", p ? "," : "", p);
    fputs("\n", f);
    for (int j = 0; j < 12; j++) {
        for (int p = 0; p < PIXELS; p++)
            fprintf(f, "%s%.6f", p ? "," : "", test_img[j * PIXELS + p] / 255.0);
        fputs(j % 2 ? "\r\n" : "\n", f);
    }
    fclose(f);
    snprintf(args, sizeof args, "predict --model %s --input %s --labels", model, csv);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    int lines = 0, right = 0;
    for (char *s = out, *nl; (nl = strchr(s, '\n')); s = nl + 1, lines++) {
        char *end;
        long c = strtol(s, &end, 10);
        cr_assert(end == nl && c >= 0 && c < CLASSES, "not a class: %.*s", (int)(nl - s), s);
        right += lines < 12 && c == test_lab[lines];
    }
    cr_assert_eq(lines, 12, "one line per input: %s", out);
    cr_assert_geq(right, 10, "%s", out);

    /* outputs: three probabilities per line */
    snprintf(args, sizeof args, "predict --model %s --input %s", model, csv);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    lines = 0;
    for (char *s = out, *nl; (nl = strchr(s, '\n')); s = nl + 1, lines++) {
        double a, b, c;
        int n = 0;
        cr_assert_eq(sscanf(s, "%lf,%lf,%lf%n", &a, &b, &c, &n), 3, "%s", s);
        cr_assert_eq(s + n, nl);
        cr_assert_float_eq(a + b + c, 1.0, 1e-5);
    }
    cr_assert_eq(lines, 12);

    /* predict on IDX images: one line per image */
    snprintf(args, sizeof args, "predict --model %s --input %s/t10k-images-idx3-ubyte.gz --labels",
             model, dir);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    lines = 0;
    for (char *s = out; (s = strchr(s, '\n')); s++)
        lines++;
    cr_assert_eq(lines, N_TEST);

    /* and from a lone images file: no labels file is needed for inference */
    char lone[600];
    snprintf(lone, sizeof lone, "%s/lone-images.idx", dir);
    write_idx(lone, test_img, N_TEST, 1);
    snprintf(args, sizeof args, "predict --model %s --input %s --labels", model, lone);
    char out2[sizeof out];
    cr_assert_eq(run_io(args, "2>/dev/null", out2, sizeof out2), 0, "%s", out2);
    cr_assert_str_eq(out2, out, "lone images predicted differently");

    /* bad inputs: wrong width, a non-number (named by line and column), a non-model */
    f = fopen(csv, "w");
    fputs("1,2,3\n", f);
    fclose(f);
    snprintf(args, sizeof args, "predict --model %s --input %s", model, csv);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "36 inputs"), "%s", out);
    f = fopen(csv, "w");
    for (int r = 0; r < 2; r++)
        for (int p = 0; p < PIXELS; p++)
            fprintf(f, "%s%s", p ? "," : "", r == 1 && p == 4 ? "x1" : "0.5");
    fputs("\n", f);
    fclose(f);
    snprintf(args, sizeof args, "predict --model %s --input %s --header no", model, csv);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    snprintf(args, sizeof args, "predict --model %s --input %s", model, iris());
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    snprintf(args, sizeof args, "eval --model %s --test %s", iris(), iris());
    cr_assert_eq(run(args, out, sizeof out), 1, "a CSV is not a model: %s", out);
    snprintf(args, sizeof args, "eval --model %s --test %s", model, iris());
    cr_assert_eq(run(args, out, sizeof out), 1, "iris does not fit the model: %s", out);
    remove_tree(dir);
}

Test(cli, regression_model_round_trip)
{
    char *dir = make_tmpdir(), path[512], model[512], args[4096];
    snprintf(path, sizeof path, "%s/lin.csv", dir);
    snprintf(model, sizeof model, "%s/r.gnn", dir);
    make_regression_csv(path, 200);
    snprintf(args, sizeof args,
             "train -q --train %s --test %s --regression --epochs 20 --batch 16 --lr 0.01 "
             "--save %s",
             path, path, model);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    double t[5], e[4];
    parse_final(out, FINAL_REG_KEYS, t);
    snprintf(args, sizeof args, "eval --model %s --test %s", model, path);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    parse_final(out, "test_mse test_r2 test_loss samples", e);
    cr_assert_float_eq(e[0], t[0], 1e-6 + 1e-4 * t[0]);
    cr_assert_eq(e[3], 200);
    snprintf(args, sizeof args, "predict --model %s --input %s --labels", model, path);
    cr_assert_eq(run(args, out, sizeof out), 2, "--labels needs a classifier: %s", out);
    remove_tree(dir);
}
