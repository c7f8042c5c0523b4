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
        "train --save -",
        "train --stop-after 2",
        "train --resume",
        "train --checkpoint-every 0 --save m.gnn",
        "info a.gnn b.gnn",
        "info --epochs 3",
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
        {"help", "--layers"},
        {"--help", "predict"},
        {"help train", "--val-split"},
        {"train --help", "--layers"},
        {"train -h", "--patience"},
        {"eval --help", "--model"},
        {"eval -h", "test_accuracy"},
        {"predict --help", "--input"},
        {"predict -h", "--labels"},
        {"train --epochs 3 --help", "usage: gemmnet train"},
        {"help --help", "commands:"},
        {"help -h", "info [FILE]"},
        {"info --help", "BLAS"},
        {"help info", "provenance"},
        {"train --help", "--resume FILE"},
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

/*==== Checkpoints: --save, --resume, --checkpoint-every, info ===============================*/

/* Runs "cat input | gemmnet args" (stdout and stderr together): a real pipe on stdin. */
static int run_pipe(const char *input, const char *args, char *buf, size_t len)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cat '%s' | OPENBLAS_NUM_THREADS=1 '%s' %s 2>&1", input,
             getenv("GEMMNET_CLI"), args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(buf, 1, len - 1, p);
    buf[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status), "'%s' did not exit normally", args);
    return WEXITSTATUS(status);
}

/* Asserts that two model files hold bit-identical parameters. */
static void assert_same_params(const char *a, const char *b, int same)
{
    gn_net *na = NULL, *nb = NULL;
    char err[512];
    cr_assert_eq(gn_net_load(&na, a, err, sizeof err), GN_OK, "%s", err);
    cr_assert_eq(gn_net_load(&nb, b, err, sizeof err), GN_OK, "%s", err);
    size_t n = gn_net_n_params(na);
    cr_assert_eq(gn_net_n_params(nb), n);
    int eq = memcmp(gn_net_params(na), gn_net_params(nb), n * sizeof(float)) == 0;
    cr_assert_eq(eq, same, "%s and %s: parameters %s", a, b, eq ? "equal" : "differ");
    gn_net_free(na);
    gn_net_free(nb);
}

/* train N, save, resume to N+M == train N+M: constant and cosine schedules, with validation,
 * dropout and momentum, from a final checkpoint and from a periodic one. Across processes
 * this needs a forced backend: an automatic choice is measured anew by each run. */
Test(cli, resume_continues_bit_for_bit)
{
    char *dir = make_tmpdir(), args[8192], a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a.gnn", dir);
    snprintf(b, sizeof b, "%s/b.gnn", dir);
    snprintf(c, sizeof c, "%s/c.gnn", dir);
    const char *common = "--threads 1 --batch 16 -q --backend openblas";

    snprintf(args, sizeof args, "train --train '%s' --schedule constant --epochs 4 --save %s %s",
             iris(), a, common);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "train --train '%s' --schedule constant --epochs 2 --save %s %s",
             iris(), b, common);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    assert_same_params(a, b, 0);
    /* the stored options and data file are the defaults: only the total changes */
    snprintf(args, sizeof args,
             "train --resume %s --epochs 4 --save %s --threads 1 --backend openblas", b, c);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "resume "), "%s", out);
    cr_assert_not_null(strstr(out, "2 of 4 epochs done"), "%s", out);
    cr_assert_null(strstr(out, "epoch 2/4"), "epochs 1-2 are not run again: %s", out);
    cr_assert_not_null(strstr(out, "epoch 3/4 train_loss="), "%s", out);
    double v[4];
    parse_final(out, FINAL_KEYS, v);
    cr_assert_eq(v[3], 4, "epochs counts the run resumed: %s", last_line(out));
    assert_same_params(a, c, 1);

    /* cosine over 4 epochs, stopped after 2 as a crash or a job limit would, then resumed;
     * with validation, dropout and momentum whose state must carry over */
    const char *more = "--val-split 0.2 --dropout 0.2 --opt momentum --lr 0.05";
    snprintf(args, sizeof args,
             "train --train '%s' --epochs 4 --checkpoint-every 2 --save %s %s %s", iris(), a, more,
             common);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args,
             "train --train '%s' --epochs 4 --checkpoint-every 2 --stop-after 2 --save %s %s %s",
             iris(), b, more, common);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    parse_final(out, FINAL_KEYS, v);
    cr_assert_eq(v[3], 2);
    snprintf(args, sizeof args, "info %s", b);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "progress: 2 epochs done"), "%s", out);
    snprintf(args, sizeof args, "train --resume %s --save %s %s", b, c, common);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    parse_final(out, FINAL_KEYS, v);
    cr_assert_eq(v[3], 4, "the stored --epochs 4 is the default total: %s", out);
    assert_same_params(a, c, 1);
    remove_tree(dir);
}

Test(cli, resume_rejects_contradictions_and_warns_on_other_data)
{
    char *dir = make_tmpdir(), args[8192], b[512], plain[512], other[512];
    snprintf(b, sizeof b, "%s/b.gnn", dir);
    snprintf(plain, sizeof plain, "%s/plain.gnn", dir);
    snprintf(other, sizeof other, "%s/other.csv", dir);
    snprintf(args, sizeof args, "train -q --train '%s' --epochs 2 --save %s", iris(), b);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);

    const struct {
        const char *args, *needle;
    } usage[] = {
        {"--layers 4,32,3", "4,64,3"},
        {"--act tanh", "relu"},
        {"--loss mse", "xent"},
        {"--opt sgd", "adam"},
        {"--lr 0.1", "0.002"},
        {"--epochs 2", "2 epochs already"},
        {"--epochs 1", "--epochs is the total"},
        {"--stop-after 1 --epochs 5", "--stop-after"},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        snprintf(args, sizeof args, "train --resume %s %s", b, usage[i].args);
        cr_assert_eq(run(args, out, sizeof out), 2, "%s: %s", usage[i].args, out);
        cr_assert_not_null(strstr(out, usage[i].needle), "%s: %s", usage[i].args, out);
    }
    /* the same values are not contradictions */
    snprintf(args, sizeof args, "train -q --resume %s --epochs 3 --layers 4,64,3 --lr 0.002", b);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "train --train '%s' --checkpoint-every 2", iris());
    cr_assert_eq(run(args, out, sizeof out), 2, "--checkpoint-every needs --save: %s", out);
    cr_assert_not_null(strstr(out, "--save"), "%s", out);

    /* bad files: missing, not a model, a model without optimizer state */
    cr_assert_eq(run("train --resume /nonexistent/b.gnn", out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "/nonexistent/b.gnn"), "%s", out);
    snprintf(args, sizeof args, "train --resume '%s'", iris());
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "offset"), "%s", out);
    gn_net *net = NULL;
    char err[512];
    cr_assert_eq(gn_net_load(&net, b, err, sizeof err), GN_OK, "%s", err);
    cr_assert_eq(gn_net_save(net, plain, err, sizeof err), GN_OK, "%s", err);
    gn_net_free(net);
    snprintf(args, sizeof args, "train --resume %s --epochs 3", plain);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "not a checkpoint"), "%s", out);

    /* other training data: a warning, and training goes on */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "sed '2s/^5.1,/5.2,/' '%s' > '%s'", iris(), other);
    cr_assert_eq(system(cmd), 0);
    snprintf(args, sizeof args, "train --resume %s --train %s --epochs 3", b, other);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "warning: the training data differs"), "%s", out);
    snprintf(args, sizeof args, "train --resume %s --epochs 3", b);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_null(strstr(out, "warning"), "the same data: %s", out);
    remove_tree(dir);
}

Test(cli, info_describes_a_checkpoint_and_rejects_damage)
{
    char *dir = make_tmpdir(), args[8192], m[512], bad[512], cmd[2048];
    snprintf(m, sizeof m, "%s/m.gnn", dir);
    snprintf(bad, sizeof bad, "%s/bad.gnn", dir);
    snprintf(args, sizeof args,
             "train -q --train '%s' --epochs 3 --seed 7 --val-split 0.2 --save %s", iris(), m);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "info %s", m);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    const char *lines[] = {
        "format: version 1, 7 sections: ARCH SCAL PARM OPTM RNGS PROG PROV\n",
        "checksum ok\n",
        "network: layers 4,64,3, activations relu,softmax, loss xent, 515 parameters\n",
        "scaling: inputs standardised, outputs none\n",
        "optimizer: adam, lr 0.002 (now ",
        ", step 3,", /* 3 epochs of 96 samples, one batch each */
        "progress: 3 epochs done, best epoch ",
        "rng: saved",
        "provenance:\n",
        "  gemmnet_version=" GN_VERSION_STRING "\n",
        "  args=--layers 4,64,3 --act relu --out softmax --loss xent --init auto --seed 7 ",
        " --epochs 3 --batch 128 --dropout 0 --val-split 0.2 --patience 0 --test-frac 0.2 ",
        "  train_hash=fnv1a64:",
        "  train_samples=96\n",
        "  seed=7\n",
        "  created=20",
        "  regression=no\n",
        "  label_column=-1\n",
        "  command=gemmnet train -q --train ",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_assert_not_null(strstr(out, lines[i]), "no '%s' in:\n%s", lines[i], out);
    cr_assert_not_null(strstr(out, "bytes\n"), "%s", out);

    /* every rejected file: exit 1 and the loader's message with the byte offset */
    const char *damage[] = {
        "head -c 100 '%s' > '%s'", /* truncated */
        "cp '%s' '%s' && printf '\\377' | dd of='%s' bs=1 seek=200 conv=notrunc 2>/dev/null",
        "cp '%s' '%s' && printf 'X' >> '%s'", /* trailing */
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        snprintf(cmd, sizeof cmd, damage[i], m, bad, bad);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
        snprintf(args, sizeof args, "info %s", bad);
        cr_assert_eq(run_io(args, "2>&1 >/dev/null", out, sizeof out), 1, "%s: %s", cmd, out);
        cr_assert_eq(strncmp(out, "gemmnet: ", 9), 0, "%s", out);
        cr_assert_not_null(strstr(out, "offset"), "%s: %s", cmd, out);
    }
    cr_assert_eq(run("info /nonexistent/m.gnn", out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "/nonexistent/m.gnn"), "%s", out);
    snprintf(args, sizeof args, "info '%s'", iris());
    cr_assert_eq(run(args, out, sizeof out), 1, "a CSV is not a model: %s", out);
    cr_assert_eq(run("info a.gnn b.gnn", out, sizeof out), 2, "%s", out);
    cr_assert_eq(run("info --bogus", out, sizeof out), 2, "%s", out);
    remove_tree(dir);
}

Test(cli, info_without_a_file_describes_the_blas)
{
    cr_assert_eq(run_io("info", "2>/dev/null", out, sizeof out), 0, "%s", out);
    const char *keys[] = {"gemmnet " GN_VERSION_STRING "\n",
                          "\nblas: ",
                          "\nblas_core: ",
                          "\nblas_threading: ",
                          "\nblas_threads: 1\n",
                          "\ncores: "};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_not_null(strstr(out, keys[i]), "no '%s' in:\n%s", keys[i], out);
}

/* --backend and GN_BACKEND: the choice is printed, forced ones are kept, bad ones are usage
 * errors; info lists the backends and, with --batch, tunes a model. */
Test(cli, backend_choice)
{
    unsetenv("GN_BACKEND");
    char *dir = make_tmpdir(), args[8192], m[512];
    snprintf(m, sizeof m, "%s/m.gnn", dir);
    snprintf(args, sizeof args, "train --train '%s' --epochs 1 --batch 12 --save %s", iris(), m);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, " backend=auto\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\nbackend auto, tuned for batch 12: layer 1 "), "%s", out);
    for (int b = GN_BACKEND_OPENBLAS; b < GN_BACKEND_COUNT; b++) {
        const char *name = gn_backend_name((gn_backend)b);
        snprintf(args, sizeof args, "train --train '%s' --epochs 1 --backend %s", iris(), name);
        if (!gn_backend_available((gn_backend)b)) {
            cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
            cr_assert_not_null(strstr(out, "not available"), "%s", out);
            continue;
        }
        cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
        char want[64];
        snprintf(want, sizeof want, "\nbackend %s (forced)\n", name);
        cr_assert_not_null(strstr(out, want), "%s", out);
        /* eval and predict take it too */
        snprintf(args, sizeof args, "eval --model %s --test '%s' --backend %s", m, iris(), name);
        cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    }
    snprintf(args, sizeof args, "train --train '%s' --backend fastest", iris());
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "fastest"), "%s", out);
    setenv("GN_BACKEND", "openblas", 1);
    snprintf(args, sizeof args, "train --train '%s' --epochs 1", iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\nbackend openblas (forced)\n"), "%s", out);
    cr_assert_eq(run_io("info", "2>/dev/null", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\nbackend_default: openblas (from GN_BACKEND)\n"), "%s", out);
    setenv("GN_BACKEND", "fastest", 1);
    snprintf(args, sizeof args, "train --train '%s' --epochs 1", iris());
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "GN_BACKEND=fastest"), "%s", out);
    unsetenv("GN_BACKEND");

    cr_assert_eq(run_io("info", "2>/dev/null", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\nbackends: openblas"), "%s", out);
    cr_assert_not_null(strstr(out, "\nbackend_default: auto "), "%s", out);
    snprintf(args, sizeof args, "info %s --batch 200", m);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\nbackend: auto, tuned for batch 200: layer 1 "), "%s", out);
    cr_assert_eq(run("info --batch 10", out, sizeof out), 2, "%s", out);
    snprintf(args, sizeof args, "info %s --batch 0", m);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    remove_tree(dir);
}

/* The CSV options of training are eval's and predict's defaults; given ones still win. */
Test(cli, eval_and_predict_read_csv_as_in_training)
{
    char *dir = make_tmpdir(), lin[512], first[512], model[512], x[512], args[8192], cmd[2048];
    snprintf(lin, sizeof lin, "%s/lin.csv", dir);
    snprintf(first, sizeof first, "%s/first.csv", dir);
    snprintf(model, sizeof model, "%s/r.gnn", dir);
    snprintf(x, sizeof x, "%s/x.csv", dir);
    make_regression_csv(lin, 200);
    /* the target first, fields separated by ';' */
    snprintf(cmd, sizeof cmd, "awk -F, '{print $3\";\"$1\";\"$2}' '%s' > '%s'", lin, first);
    cr_assert_eq(system(cmd), 0);
    snprintf(args, sizeof args,
             "train -q --train %s --label-column 0 --delimiter ';' --regression --epochs 30 "
             "--batch 16 --lr 0.01 --save %s",
             first, model);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    double t[5], e[4];
    parse_final(out, FINAL_REG_KEYS, t);
    snprintf(args, sizeof args, "eval --model %s --test %s", model, first);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    parse_final(out, "test_mse test_r2 test_loss samples", e);
    cr_assert_gt(e[1], 0.9, "scored on the label column it was trained on: %s", out);
    snprintf(args, sizeof args, "eval --model %s --test %s --label-column 2", model, first);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    parse_final(out, "test_mse test_r2 test_loss samples", e);
    cr_assert_lt(e[1], 0.5, "an explicit --label-column wins: %s", out);
    /* predict: features only, ';'-separated as in training, from a pipe */
    snprintf(cmd, sizeof cmd, "awk -F, 'NR > 1 && NR <= 6 {print $1\";\"$2}' '%s' > '%s'", lin, x);
    cr_assert_eq(system(cmd), 0);
    snprintf(args, sizeof args, "predict --model %s --input -", model);
    cr_assert_eq(run_pipe(x, args, out, sizeof out), 0, "%s", out);
    int lines = 0;
    for (char *s = out; (s = strchr(s, '\n')); s++)
        lines++;
    cr_assert_eq(lines, 5, "%s", out);
    remove_tree(dir);
}

Test(cli, a_diverging_run_saves_nothing)
{
    char *dir = make_tmpdir(), lin[512], model[512], keep[512], args[8192], cmd[2048];
    snprintf(lin, sizeof lin, "%s/lin.csv", dir);
    snprintf(model, sizeof model, "%s/m.gnn", dir);
    snprintf(keep, sizeof keep, "%s/keep.gnn", dir);
    make_regression_csv(lin, 200);
    snprintf(args, sizeof args, "train -q --train %s --regression --epochs 2 --save %s", lin,
             model);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", model, keep);
    cr_assert_eq(system(cmd), 0);
    const char *boom = "--regression --opt sgd --lr 1e6 --schedule constant --epochs 5";
    snprintf(args, sizeof args, "train --train %s %s --save %s", lin, boom, model);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "diverged"), "%s", out);
    cr_assert_not_null(strstr(out, "nothing was saved"), "%s", out);
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", model, keep);
    cr_assert_eq(system(cmd), 0, "the good model was overwritten");
    /* with periodic checkpoints, the last one written before the failing epoch stays */
    snprintf(args, sizeof args, "train --train %s %s --save %s --checkpoint-every 1", lin, boom,
             model);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "holds the checkpoint of epoch"), "%s", out);
    snprintf(args, sizeof args, "info %s", model);
    cr_assert_eq(run(args, out, sizeof out), 0, "a loadable checkpoint: %s", out);
    remove_tree(dir);
}

Test(cli, every_prints_the_last_epoch_run)
{
    char args[4096];
    snprintf(args, sizeof args,
             "train --train '%s' --val-split 0.3 --patience 3 --epochs 1000 --batch 10 --lr 0.05 "
             "--every 100",
             iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    double v[4];
    parse_final(out, FINAL_KEYS, v);
    cr_assert_lt(v[3], 100, "stopped early: %s", out);
    char want[64];
    snprintf(want, sizeof want, "epoch %d/1000 train_loss=", (int)v[3]);
    cr_assert_not_null(strstr(out, want), "the last epoch run is printed: %s", out);
    cr_assert_null(strstr(out, "epoch 1/1000"), "--every 100 skips the others: %s", out);
}

Test(cli, pipes_and_cannot_open_messages)
{
    char *dir = make_tmpdir(), args[8192], images[512];
    /* CSV through a pipe trains as from the file */
    cr_assert_eq(run_pipe(iris(), "train -q --train - --epochs 5 --threads 1", out, sizeof out), 0,
                 "%s", out);
    char piped[512];
    snprintf(piped, sizeof piped, "%.400s", last_line(out));
    snprintf(args, sizeof args, "train -q --train '%s' --epochs 5 --threads 1", iris());
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_eq(strncmp(piped, out, (size_t)(strstr(out, " train_seconds") - out)), 0, "%s vs %s",
                 piped, out);
    /* IDX needs its length: a clear refusal */
    make_idx_sets(dir);
    char labels[512];
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte", dir);
    snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte", dir);
    snprintf(args, sizeof args, "train --train %s --train-labels -", images);
    cr_assert_eq(run_pipe(labels, args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "must be a regular file (pipes are not supported"), "%s", out);
    cr_assert_eq(run("predict --model - --input -", out, sizeof out), 2, "%s", out);
    /* a missing file reads the same in every command */
    const char *missing[] = {
        "train --train /nonexistent/x.csv",
        "eval --model /nonexistent/m.gnn --test x.csv",
        "predict --model /nonexistent/m.gnn --input x.csv",
        "info /nonexistent/m.gnn",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        cr_assert_eq(run(missing[i], out, sizeof out), 1, "%s: %s", missing[i], out);
        cr_assert_not_null(strstr(out, "/nonexistent/"), "%s", out);
        cr_assert_not_null(strstr(out, ": cannot open: "), "%s: %s", missing[i], out);
    }
    char model[512];
    snprintf(model, sizeof model, "%s/m.gnn", dir);
    snprintf(args, sizeof args, "train -q --train '%s' --epochs 1 --save %s", iris(), model);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "predict --model %s --input /nonexistent/x.csv", model);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "/nonexistent/x.csv: cannot open: "), "%s", out);
    remove_tree(dir);
}

/*==== info: the singular values of each layer ===============================================*/

/* σ_max, σ_min and the condition number printed for layer l, from its "spectrum:" line. */
static void parse_spectrum(const char *text, size_t l, double v[3])
{
    char key[64];
    snprintf(key, sizeof key, "spectrum: layer %zu (", l);
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "no '%s' in:\n%s", key, text);
    p = strstr(p, "): sigma_max ");
    cr_assert_not_null(p, "%s", text);
    char cond[32];
    cr_assert_eq(sscanf(p, "): sigma_max %lf, sigma_min %lf, condition %31s", &v[0], &v[1], cond),
                 3, "%s", p);
    v[2] = strcmp(cond, "inf") == 0 ? INFINITY : strtod(cond, NULL);
}

Test(cli, info_prints_the_spectrum_of_each_layer)
{
    char *dir = make_tmpdir(), args[8192], m[512], z[512], err[512];
    snprintf(m, sizeof m, "%s/m.gnn", dir);
    snprintf(z, sizeof z, "%s/z.gnn", dir);
    snprintf(args, sizeof args,
             "train -q --train '%s' --epochs 1 --init orthogonal --seed 3 --save %s", iris(), m);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "info %s", m);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, " --init orthogonal "), "%s", out);
    gn_net *net = NULL;
    cr_assert_eq(gn_net_load(&net, m, err, sizeof err), GN_OK, "%s", err);
    /* one Adam step away from orthogonal: gains √2 (relu, 64 × 4) and 1 (softmax, 3 × 64) */
    const double gain[2] = {sqrt(2.0), 1.0};
    for (size_t l = 1; l <= 2; l++) {
        double v[3];
        parse_spectrum(out, l, v);
        cr_assert(fabs(v[0] - gain[l - 1]) < 0.1 && fabs(v[1] - gain[l - 1]) < 0.1,
                  "layer %zu: %g %g", l, v[0], v[1]);
        cr_assert(fabs(v[2] - v[0] / v[1]) < 1e-5 * v[2], "condition %g", v[2]);
        float s[4];
        cr_assert_eq(gn_net_layer_singular_values(net, l, s), GN_OK);
        size_t k = l == 1 ? 4 : 3;
        cr_assert(fabs(v[0] - s[0]) <= 1e-5 * s[0] && fabs(v[1] - s[k - 1]) <= 1e-5 * s[0],
                  "layer %zu printed %g %g, library %g %g", l, v[0], v[1], (double)s[0],
                  (double)s[k - 1]);
    }
    cr_assert_not_null(strstr(out, "spectrum: layer 1 (64 x 4): "), "%s", out);
    cr_assert_null(strstr(out, "spectrum: layer 3"), "%s", out);
    /* a layer of zeros: condition inf */
    size_t w, b;
    cr_assert_eq(gn_net_layer_offsets(net, 2, &w, &b), GN_OK);
    memset(gn_net_params(net) + w, 0, 3 * 64 * sizeof(float));
    cr_assert_eq(gn_net_save(net, z, err, sizeof err), GN_OK, "%s", err);
    snprintf(args, sizeof args, "info %s", z);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "spectrum: layer 2 (3 x 64): sigma_max 0, sigma_min 0, "
                                   "condition inf\n"),
                       "%s", out);
    gn_net_free(net);
    remove_tree(dir);
}

/*==== NumPy .npy data =======================================================================*/

/* A version 1.0 .npy file as the format describes it: magic, version, header length, the dict
 * padded with spaces to a multiple of 64 bytes and ended by a newline, then the data. */
static void write_npy(const char *path, const char *descr, const char *shape, const void *data,
                      size_t len)
{
    char header[256];
    int h = snprintf(header, sizeof header,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = ((10 + (size_t)h + 1 + 63) / 64) * 64, hlen = total - 10;
    memset(header + h, ' ', hlen - 1 - (size_t)h);
    header[hlen - 1] = '\n';
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(pre, 1, 10, f), 10);
    cr_assert_eq(fwrite(header, 1, hlen, f), hlen);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* The generated images as (n, 6, 6) bytes and their labels as int64, named without a .npy
 * extension: the CLI recognises the format by its first bytes. */
static void make_npy_sets(const char *dir)
{
    static unsigned char img[N_TRAIN * PIXELS], lab[N_TRAIN];
    int64_t labels[N_TRAIN];
    char path[512], shape[64];
    make_images(img, lab, N_TRAIN);
    make_images(test_img, test_lab, N_TEST);
    for (size_t j = 0; j < N_TRAIN; j++)
        labels[j] = lab[j];
    snprintf(shape, sizeof shape, "(%d, %d, %d)", N_TRAIN, SIDE, SIDE);
    snprintf(path, sizeof path, "%s/train-x.bin", dir);
    write_npy(path, "|u1", shape, img, sizeof img);
    snprintf(shape, sizeof shape, "(%d,)", N_TRAIN);
    snprintf(path, sizeof path, "%s/train-y.bin", dir);
    write_npy(path, "<i8", shape, labels, sizeof labels);
    snprintf(shape, sizeof shape, "(%d, %d, %d)", N_TEST, SIDE, SIDE);
    snprintf(path, sizeof path, "%s/test-x.npy", dir);
    write_npy(path, "|u1", shape, test_img, sizeof test_img);
    for (size_t j = 0; j < N_TEST; j++)
        labels[j] = test_lab[j];
    snprintf(shape, sizeof shape, "(%d,)", N_TEST);
    snprintf(path, sizeof path, "%s/test-y.npy", dir);
    write_npy(path, "<i8", shape, labels, N_TEST * sizeof labels[0]);
}

Test(cli, npy_train_save_eval_predict)
{
    char *dir = make_tmpdir(), args[4096], model[512];
    make_npy_sets(dir);
    snprintf(model, sizeof model, "%s/m.gnn", dir);
    snprintf(args, sizeof args,
             "train --train %s/train-x.bin --train-labels %s/train-y.bin --test %s/test-x.npy "
             "--test-labels %s/test-y.npy --epochs 15 --batch 16 --lr 0.01 --save %s",
             dir, dir, dir, dir, model);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "samples (240 train, 0 val, 60 test), 36 features, 3 classes"),
                       "%s", out);
    double t[4];
    parse_final(out, FINAL_KEYS, t);
    cr_assert_geq(t[0], 0.9, "%s", out);
    const char *tl = strstr(out, "test_loss=");
    cr_assert_not_null(tl);
    double train_loss = strtod(tl + 10, NULL);

    /* the checkpoint names the label files, so eval and resume can find them */
    snprintf(args, sizeof args, "info %s", model);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "train_labels="), "%s", out);
    cr_assert_not_null(strstr(out, "test-y.npy"), "%s", out);

    /* eval on the same files: the same accuracy and loss */
    snprintf(args, sizeof args, "eval --model %s --test %s/test-x.npy --test-labels %s/test-y.npy",
             model, dir, dir);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    double e[3];
    parse_final(out, "test_accuracy test_loss samples", e);
    cr_assert_eq(e[0], t[0], "eval %g, train %g", e[0], t[0]);
    cr_assert_float_eq(e[1], train_loss, 1e-4);
    cr_assert_eq(e[2], N_TEST);

    /* predict from the features alone: one class per line, mostly right */
    snprintf(args, sizeof args, "predict --model %s --input %s/test-x.npy --labels", model, dir);
    cr_assert_eq(run_io(args, "2>/dev/null", out, sizeof out), 0, "%s", out);
    int lines = 0, right = 0;
    for (char *s = out, *nl; (nl = strchr(s, '\n')); s = nl + 1, lines++)
        right += lines < N_TEST && strtol(s, NULL, 10) == test_lab[lines];
    cr_assert_eq(lines, N_TEST, "%s", out);
    cr_assert_geq(right, 54, "%d of %d right", right, N_TEST);

    /* labels are required to train and evaluate, and the error says which option */
    snprintf(args, sizeof args, "train --train %s/train-x.bin --epochs 1", dir);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "--train-labels"), "%s", out);
    snprintf(args, sizeof args, "eval --model %s --test %s/test-x.npy", model, dir);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "--test-labels"), "%s", out);
    /* options of other formats do not apply */
    snprintf(args, sizeof args,
             "train --train %s/train-x.bin --train-labels %s/train-y.bin --h5-x images", dir, dir);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "applies to HDF5 files"), "%s", out);
    snprintf(args, sizeof args,
             "train --train %s/train-x.bin --train-labels %s/train-y.bin --header yes", dir, dir);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    /* a bad file is a data error with the loader's message: labels that do not match */
    snprintf(args, sizeof args,
             "train --train %s/train-x.bin --train-labels %s/test-y.npy --epochs 1", dir, dir);
    cr_assert_eq(run(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "has 60 labels"), "%s", out);
    remove_tree(dir);
}
