/* gemmnet — command-line front end: parses options, calls the library, prints progress.
 *
 * Exit status: 0 success, 1 runtime error (file, library), 2 usage error (bad command line,
 * or options that contradict the data).
 */
#define _POSIX_C_SOURCE 200809L /* access() */
#include <gemmnet.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Defaults of `gemmnet train`. Iris is tiny, so a few hundred SGD epochs take milliseconds. */
#define DEF_HIDDEN     16
#define DEF_EPOCHS     200
#define DEF_BATCH      10
#define DEF_ETA        0.05
#define DEF_SEED       1
#define DEF_SPLIT_SEED 42
#define DEF_TEST_FRAC  0.2
#define DEF_EVERY      20

/* Generous but finite limits, so a typo cannot ask for a year of training or a huge buffer. */
#define MAX_EPOCHS  100000000L
#define MAX_BATCH   (1L << 20)
#define MAX_THREADS 4096L

static const char usage_text[] =
    "usage: gemmnet <command> [options]\n"
    "\n"
    "commands:\n"
    "  train          train a fully connected network on a CSV dataset and report accuracy\n"
    "  version        print the library version\n"
    "  help           print this help\n"
    "\n"
    "train options:\n"
    "  --data FILE          CSV file: numeric features and one label column\n"
    "                       (default: the bundled iris.csv)\n"
    "  --label-column N     0-based column of the class label (default: last)\n"
    "  --header WHEN        auto|yes|no: is the first line a header? (default auto: yes if\n"
    "                       any field, the label included, is not a number)\n"
    "  --delimiter C        field separator, one character or 'tab' (default ',')\n"
    "  --test-frac F        fraction held out for testing, 0 < F < 1 (default 0.2)\n"
    "  --split-seed N       seed of the train/test shuffle (default 42)\n"
    "  --layers A,B,...,Z   all layer widths, inputs first, outputs last\n"
    "                       (default: features,16,classes)\n"
    "  --act NAME           hidden activation: sigmoid|tanh|relu|leaky-relu|identity\n"
    "                       (default sigmoid)\n"
    "  --out NAME           output activation: softmax|sigmoid|tanh|relu|leaky-relu|identity\n"
    "                       (default softmax; sigmoid with --loss bce)\n"
    "  --loss NAME          quadratic|bce|cce (default cce; bce needs --out sigmoid,\n"
    "                       cce needs --out softmax)\n"
    "  --init NAME          auto|xavier|he|nielsen (default auto)\n"
    "  --epochs N           training epochs (default 200)\n"
    "  --batch N            mini-batch size (default 10)\n"
    "  --eta F              learning rate, > 0 (default 0.05)\n"
    "  --seed N             seed of weight init and shuffling (default 1)\n"
    "  --threads N          BLAS threads (default: the BLAS default)\n"
    "  --impl NAME          products: blas|naive|loop (default blas)\n"
    "  --every K            print every K-th epoch and the last (default 20)\n"
    "  -q, --quiet          print only the final line\n"
    "  -h, --help           print this help\n"
    "\n"
    "train prints one line per reported epoch and finally\n"
    "  test_accuracy=... test_loss=... train_seconds=... samples_per_s=...\n"
    "where train_seconds counts only the training steps (not the per-epoch evaluation).\n"
    "\n"
    "exit status: 0 success, 1 runtime error, 2 usage error\n";

/*==== Option values =========================================================================*/

typedef struct name_value {
    const char *name;
    int value;
} name_value;

static const name_value hidden_acts[] = {
    {"sigmoid", GN_ACT_SIGMOID},       {"tanh", GN_ACT_TANH},         {"relu", GN_ACT_RELU},
    {"leaky-relu", GN_ACT_LEAKY_RELU}, {"identity", GN_ACT_IDENTITY}, {NULL, 0},
};
static const name_value output_acts[] = {
    {"softmax", GN_ACT_SOFTMAX},
    {"sigmoid", GN_ACT_SIGMOID},
    {"tanh", GN_ACT_TANH},
    {"relu", GN_ACT_RELU},
    {"leaky-relu", GN_ACT_LEAKY_RELU},
    {"identity", GN_ACT_IDENTITY},
    {NULL, 0},
};
static const name_value losses[] = {
    {"quadratic", GN_LOSS_QUADRATIC},
    {"bce", GN_LOSS_BCE},
    {"cce", GN_LOSS_CCE},
    {NULL, 0},
};
static const name_value inits[] = {
    {"auto", GN_INIT_AUTO},
    {"xavier", GN_INIT_XAVIER},
    {"he", GN_INIT_HE},
    {"nielsen", GN_INIT_NIELSEN},
    {NULL, 0},
};
static const name_value impls[] = {
    {"blas", GN_IMPL_BLAS},
    {"naive", GN_IMPL_NAIVE},
    {"loop", GN_IMPL_LOOP},
    {NULL, 0},
};

static const char *name_of(const name_value *table, int value)
{
    for (; table->name; table++)
        if (table->value == value)
            return table->name;
    return "?";
}

typedef struct train_args {
    const char *data;  /* NULL: the default dataset */
    long label_column; /* -1: last */
    int header;        /* -1 auto, 0 no, 1 yes */
    char delimiter;
    int out_set; /* --out given: do not derive it from the loss */
    double test_frac;
    uint64_t split_seed;
    size_t sizes[GN_MAX_SIZES];
    size_t n_sizes; /* 0: derived from the data */
    gn_act act, out;
    gn_loss loss;
    gn_init init;
    long epochs, batch;
    float eta;
    uint64_t seed;
    long threads; /* 0: leave the BLAS default */
    gn_impl impl;
    long every;
    int quiet;
} train_args;

/*==== Strict parsing ========================================================================
 * Every parser prints its own message and returns 0 on failure, so callers only propagate.
 * strtol and friends accept leading blanks and signs and stop at the first bad character;
 * the checks below reject all of that, so "--epochs 1O" or "--eta ''" never pass silently.
 */

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gemmnet: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || (s[0] != '-' && (s[0] < '0' || s[0] > '9'))) {
        usage_error("%s: '%s' is not a whole number", opt, s);
        return 0;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        usage_error("%s: %s is out of range [%ld, %ld]", opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
    /* Only digits: strtoull would quietly turn "-1" into 2^64 − 1. */
    char *end = NULL;
    unsigned long long v = 0;
    errno = 0;
    if (s[0] >= '0' && s[0] <= '9')
        v = strtoull(s, &end, 10);
    if (!end || *end != '\0') {
        usage_error("%s: '%s' is not a non-negative whole number", opt, s);
        return 0;
    }
    if (errno == ERANGE) {
        usage_error("%s: %s is too large (at most 64 bits)", opt, s);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

static int parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || s[0] == ' ' || s[0] == '\t') {
        usage_error("%s: '%s' is not a number", opt, s);
        return 0;
    }
    if (errno == ERANGE || !isfinite(v)) {
        usage_error("%s: %s is not a finite number in range", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

/* "4,16,3": at least two widths, each in [1, GN_MAX_WIDTH], no empty entries. */
static int parse_layers(const char *opt, const char *s, size_t *sizes, size_t *n_sizes)
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        if (*p < '0' || *p > '9') {
            usage_error("%s: '%s' must be widths separated by commas, like 4,16,3", opt, s);
            return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE || v < 1 || v > GN_MAX_WIDTH) {
            usage_error("%s: every width must be in [1, %zu] in '%s'", opt, (size_t)GN_MAX_WIDTH,
                        s);
            return 0;
        }
        if (n == GN_MAX_SIZES) {
            usage_error("%s: at most %d widths", opt, GN_MAX_SIZES);
            return 0;
        }
        sizes[n++] = (size_t)v;
        if (*end == '\0')
            break;
        if (*end != ',') {
            usage_error("%s: '%s' must be widths separated by commas, like 4,16,3", opt, s);
            return 0;
        }
        p = end + 1;
    }
    if (n < 2) {
        usage_error("%s: '%s' needs at least two widths (inputs and outputs), separated by "
                    "commas, e.g. 4,16,3",
                    opt, s);
        return 0;
    }
    *n_sizes = n;
    return 1;
}

static int parse_name(const char *opt, const char *s, const name_value *table, int *out)
{
    for (const name_value *t = table; t->name; t++) {
        if (strcmp(s, t->name) == 0) {
            *out = t->value;
            return 1;
        }
    }
    fprintf(stderr, "gemmnet: %s: unknown value '%s' (one of:", opt, s);
    for (const name_value *t = table; t->name; t++)
        fprintf(stderr, " %s", t->name);
    fputs(")\n", stderr);
    return 0;
}

/*==== Command line ==========================================================================*/

enum { PARSE_OK, PARSE_HELP, PARSE_ERROR };

static void train_args_defaults(train_args *a)
{
    memset(a, 0, sizeof *a);
    a->label_column = -1;
    a->header = -1;
    a->delimiter = ',';
    a->test_frac = DEF_TEST_FRAC;
    a->split_seed = DEF_SPLIT_SEED;
    a->act = GN_ACT_SIGMOID;
    a->out = GN_ACT_SOFTMAX;
    a->loss = GN_LOSS_CCE;
    a->init = GN_INIT_AUTO;
    a->epochs = DEF_EPOCHS;
    a->batch = DEF_BATCH;
    a->eta = (float)DEF_ETA;
    a->seed = DEF_SEED;
    a->impl = GN_IMPL_BLAS;
    a->every = DEF_EVERY;
}

/* Parses argv[0..argc) (the words after "train"). Accepts "--opt value" and "--opt=value". */
static int parse_train_args(int argc, char **argv, train_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            return PARSE_HELP;
        if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            a->quiet = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            usage_error("unexpected argument '%s' (a dataset is given with --data FILE)", arg);
            return PARSE_ERROR;
        }

        /* Split "--name=value"; otherwise the value is the next word. */
        char name[32];
        const char *val;
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) {
            usage_error("unknown option '%s'", arg);
            return PARSE_ERROR;
        }
        memcpy(name, arg, len);
        name[len] = '\0';

        static const char *const valued[] = {
            "--data",  "--label-column", "--test-frac", "--split-seed", "--layers",
            "--act",   "--out",          "--loss",      "--init",       "--epochs",
            "--batch", "--eta",          "--seed",      "--threads",    "--impl",
            "--every", "--header",       "--delimiter", NULL,
        };
        int known = 0;
        for (const char *const *v = valued; *v && !known; v++)
            known = strcmp(name, *v) == 0;
        if (!known) {
            if (strcmp(name, "--quiet") == 0)
                usage_error("--quiet takes no value");
            else
                usage_error("unknown option '%s'", name);
            return PARSE_ERROR;
        }
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            usage_error("%s needs a value", name);
            return PARSE_ERROR;
        }

        int ok = 1, e = 0;
        double d = 0.0;
        if (strcmp(name, "--data") == 0) {
            if (val[0] == '\0') {
                usage_error("%s: empty file name", name);
                ok = 0;
            }
            a->data = val;
        } else if (strcmp(name, "--label-column") == 0) {
            ok = parse_long(name, val, -1, LONG_MAX, &a->label_column);
        } else if (strcmp(name, "--test-frac") == 0) {
            ok = parse_double(name, val, &d);
            if (ok && !(d > 0.0 && d < 1.0)) {
                usage_error("%s: %s is not strictly between 0 and 1", name, val);
                ok = 0;
            }
            a->test_frac = d;
        } else if (strcmp(name, "--split-seed") == 0) {
            ok = parse_u64(name, val, &a->split_seed);
        } else if (strcmp(name, "--layers") == 0) {
            ok = parse_layers(name, val, a->sizes, &a->n_sizes);
        } else if (strcmp(name, "--act") == 0) {
            ok = parse_name(name, val, hidden_acts, &e);
            a->act = (gn_act)e;
        } else if (strcmp(name, "--out") == 0) {
            ok = parse_name(name, val, output_acts, &e);
            a->out = (gn_act)e;
            a->out_set = 1;
        } else if (strcmp(name, "--header") == 0) {
            static const name_value whens[] = {{"auto", -1}, {"yes", 1}, {"no", 0}, {NULL, 0}};
            ok = parse_name(name, val, whens, &a->header);
        } else if (strcmp(name, "--delimiter") == 0) {
            if (strcmp(val, "tab") == 0 || strcmp(val, "\\t") == 0)
                a->delimiter = '\t';
            else if (strlen(val) == 1 && val[0] != '"' && val[0] != '\n' && val[0] != '\r')
                a->delimiter = val[0];
            else {
                usage_error("%s: '%s' is not one character (or 'tab'), nor a quote", name, val);
                ok = 0;
            }
        } else if (strcmp(name, "--loss") == 0) {
            ok = parse_name(name, val, losses, &e);
            a->loss = (gn_loss)e;
        } else if (strcmp(name, "--init") == 0) {
            ok = parse_name(name, val, inits, &e);
            a->init = (gn_init)e;
        } else if (strcmp(name, "--epochs") == 0) {
            ok = parse_long(name, val, 1, MAX_EPOCHS, &a->epochs);
        } else if (strcmp(name, "--batch") == 0) {
            ok = parse_long(name, val, 1, MAX_BATCH, &a->batch);
        } else if (strcmp(name, "--eta") == 0) {
            ok = parse_double(name, val, &d);
            /* The library trains in float: the value must stay finite and positive there. */
            if (ok && !(d > 0.0 && isfinite((float)d) && (float)d > 0.0f)) {
                usage_error("%s: %s is not a positive learning rate (float range)", name, val);
                ok = 0;
            }
            a->eta = (float)d;
        } else if (strcmp(name, "--seed") == 0) {
            ok = parse_u64(name, val, &a->seed);
        } else if (strcmp(name, "--threads") == 0) {
            ok = parse_long(name, val, 1, MAX_THREADS, &a->threads);
        } else if (strcmp(name, "--impl") == 0) {
            ok = parse_name(name, val, impls, &e);
            a->impl = (gn_impl)e;
        } else if (strcmp(name, "--every") == 0) {
            ok = parse_long(name, val, 1, MAX_EPOCHS, &a->every);
        }
        if (!ok)
            return PARSE_ERROR;
    }
    return PARSE_OK;
}

/*==== Default dataset =======================================================================
 * Candidates in order of preference: the installed copy, then the source tree (running from
 * the build directory). A later default dataset only needs a new candidate list here.
 */

static const char *const default_data_candidates[] = {
#ifdef GN_INSTALLED_DATA
    GN_INSTALLED_DATA,
#endif
#ifdef GN_DEFAULT_DATA
    GN_DEFAULT_DATA,
#endif
    NULL,
};

/* The first readable candidate, or NULL after telling the user where it looked. */
static const char *resolve_default_data(void)
{
    for (const char *const *p = default_data_candidates; *p; p++)
        if (access(*p, R_OK) == 0)
            return *p;
    fputs("gemmnet: no default dataset found; looked for:\n", stderr);
    for (const char *const *p = default_data_candidates; *p; p++)
        fprintf(stderr, "  %s\n", *p);
    fputs("gemmnet: pass one with --data FILE\n", stderr);
    return NULL;
}

/*==== train =================================================================================*/

typedef struct progress {
    const gn_dataset *train, *test;
    long every;
    int quiet;
    double seconds;   /* sum of the epochs' training-step time */
    double samples;   /* samples trained on, summed over epochs */
    gn_status status; /* an evaluation failure inside the callback */
} progress;

/* Epoch time with a precision that suits both Iris (microseconds) and big sets (seconds). */
static void print_ms(double ms)
{
    if (ms >= 100.0)
        printf("%.0f ms", ms);
    else if (ms >= 1.0)
        printf("%.1f ms", ms);
    else
        printf("%.3f ms", ms);
}

/* Runs after each epoch, outside the timed region of gn_net_train, so the evaluation here
 * does not count in info->seconds. */
static int on_epoch(gn_net *net, const gn_epoch_info *info, void *user)
{
    progress *pr = user;
    pr->seconds += info->seconds;
    pr->samples += (double)info->samples;
    if (pr->quiet || (info->epoch % (size_t)pr->every != 0 && info->epoch != info->epochs))
        return 0;

    double train_acc = 0.0, test_acc = 0.0;
    const gn_dataset *tr = pr->train, *te = pr->test;
    gn_status st =
        gn_net_evaluate(net, gn_dataset_x(tr), gn_dataset_n_features(tr), gn_dataset_y(tr),
                        gn_dataset_n_outputs(tr), gn_dataset_n_samples(tr), NULL, &train_acc);
    if (st == GN_OK)
        st = gn_net_evaluate(net, gn_dataset_x(te), gn_dataset_n_features(te), gn_dataset_y(te),
                             gn_dataset_n_outputs(te), gn_dataset_n_samples(te), NULL, &test_acc);
    if (st != GN_OK) {
        pr->status = st;
        return 1;
    }
    printf("epoch %zu/%zu loss=%.4f train_acc=%.4f test_acc=%.4f (", info->epoch, info->epochs,
           info->train_loss, train_acc, test_acc);
    print_ms(info->seconds * 1e3);
    printf(")\n");
    fflush(stdout);
    return 0;
}

static void print_sizes(FILE *f, const size_t *sizes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%zu", i ? "," : "", sizes[i]);
}

static int cmd_train(int argc, char **argv)
{
    train_args a;
    train_args_defaults(&a);
    switch (parse_train_args(argc, argv, &a)) {
    case PARSE_HELP: fputs(usage_text, stdout); return 0;
    case PARSE_ERROR: fputs("Try 'gemmnet help'.\n", stderr); return EXIT_USAGE;
    default: break;
    }

    const char *path = a.data ? a.data : resolve_default_data();
    if (!path)
        return EXIT_RUNTIME;

    int rc = EXIT_RUNTIME;
    gn_dataset *all = NULL, *train = NULL, *test = NULL;
    gn_net *net = NULL;
    char err[512] = "";
    gn_status st;

    if (a.threads > 0 && (st = gn_set_threads((int)a.threads)) != GN_OK) {
        fprintf(stderr, "gemmnet: --threads %ld: %s\n", a.threads, gn_strerror(st));
        goto done;
    }

    gn_csv_options csv;
    gn_csv_options_defaults(&csv);
    csv.label_column = a.label_column;
    csv.header = a.header;
    csv.delimiter = a.delimiter;
    if ((st = gn_dataset_load_csv(&all, path, &csv, err, sizeof err)) != GN_OK) {
        fprintf(stderr, "gemmnet: %s\n", err[0] ? err : gn_strerror(st));
        goto done;
    }
    size_t n = gn_dataset_n_samples(all), n_features = gn_dataset_n_features(all),
           n_classes = gn_dataset_n_outputs(all);

    if (n_classes < 2) {
        fprintf(stderr,
                "gemmnet: %s has only one class (label %zu): there is nothing to tell apart "
                "(is --label-column right?)\n",
                path, n_classes - 1);
        goto done;
    }
    if (a.n_sizes == 0) {
        a.sizes[0] = n_features;
        a.sizes[1] = DEF_HIDDEN;
        a.sizes[2] = n_classes;
        a.n_sizes = 3;
    } else if (a.sizes[0] != n_features || a.sizes[a.n_sizes - 1] != n_classes) {
        fputs("gemmnet: --layers ", stderr);
        print_sizes(stderr, a.sizes, a.n_sizes);
        fprintf(stderr,
                " does not fit %s: it has %zu features and %zu classes, so the layers "
                "must start with %zu and end with %zu\n",
                path, n_features, n_classes, n_features, n_classes);
        rc = EXIT_USAGE;
        goto done;
    }

    if ((st = gn_dataset_split(all, a.test_frac, a.split_seed, &test, &train)) != GN_OK) {
        /* The fraction is already known to be in (0, 1), so GN_ERR_ARG means a side of the
         * split would be empty. */
        fprintf(stderr, "gemmnet: cannot split %zu samples with --test-frac %g: %s\n", n,
                a.test_frac,
                st == GN_ERR_ARG ? "the train or the test part would be empty" : gn_strerror(st));
        goto done;
    }
    gn_dataset_free(all);
    all = NULL;

    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.n_sizes = a.n_sizes;
    cfg.sizes = a.sizes;
    cfg.hidden_act = a.act;
    cfg.output_act = a.out_set || a.loss != GN_LOSS_BCE ? a.out : GN_ACT_SIGMOID;
    cfg.loss = a.loss;
    cfg.init = a.init;
    cfg.seed = a.seed;
    /* Keep the default workspace (it also sets how many samples evaluation does at once)
     * unless the training batch needs more. */
    if ((size_t)a.batch > cfg.max_batch)
        cfg.max_batch = (size_t)a.batch;
    char why[256];
    if ((st = gn_net_config_check(&cfg, why, sizeof why)) != GN_OK ||
        (st = gn_net_create(&net, &cfg)) != GN_OK) {
        fprintf(stderr, "gemmnet: cannot create the network (layers ");
        print_sizes(stderr, a.sizes, a.n_sizes);
        fprintf(stderr, "): %s\n", why[0] ? why : gn_strerror(st));
        if (st == GN_ERR_ARG || st == GN_ERR_UNSUPPORTED)
            rc = EXIT_USAGE; /* the options do not go together */
        goto done;
    }
    if ((st = gn_net_set_impl(net, a.impl)) != GN_OK) {
        fprintf(stderr, "gemmnet: %s\n", gn_net_last_error(net));
        goto done;
    }

    size_t n_train = gn_dataset_n_samples(train), n_test = gn_dataset_n_samples(test);
    if (!a.quiet) {
        printf("data %s: %zu samples (%zu train, %zu test), %zu features, %zu classes\n", path, n,
               n_train, n_test, n_features, n_classes);
        printf("net ");
        print_sizes(stdout, a.sizes, a.n_sizes);
        printf(" act=%s out=%s loss=%s init=%s; epochs=%ld batch=%ld eta=%g seed=%llu "
               "impl=%s threads=%d\n",
               name_of(hidden_acts, (int)a.act), name_of(output_acts, (int)cfg.output_act),
               name_of(losses, (int)a.loss), name_of(inits, (int)a.init), a.epochs, a.batch,
               (double)a.eta, (unsigned long long)a.seed, name_of(impls, (int)a.impl),
               gn_get_threads());
    }

    progress pr = {train, test, a.every, a.quiet, 0.0, 0.0, GN_OK};
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = (size_t)a.epochs;
    opt.batch = (size_t)a.batch;
    opt.eta = a.eta;
    opt.on_epoch = on_epoch;
    opt.user = &pr;
    st = gn_net_train(net, gn_dataset_x(train), n_features, gn_dataset_y(train), n_classes, n_train,
                      &opt);
    if (st == GN_OK)
        st = pr.status;
    if (st != GN_OK) {
        const char *msg = gn_net_last_error(net);
        fprintf(stderr, "gemmnet: %s\n", msg[0] ? msg : gn_strerror(st));
        goto done;
    }

    double test_loss, test_acc;
    st = gn_net_evaluate(net, gn_dataset_x(test), n_features, gn_dataset_y(test), n_classes, n_test,
                         &test_loss, &test_acc);
    if (st != GN_OK) {
        const char *msg = gn_net_last_error(net);
        fprintf(stderr, "gemmnet: %s\n", msg[0] ? msg : gn_strerror(st));
        goto done;
    }
    printf("test_accuracy=%.4f test_loss=%.4f train_seconds=%.6f samples_per_s=%.0f\n", test_acc,
           test_loss, pr.seconds, pr.seconds > 0.0 ? pr.samples / pr.seconds : 0.0);
    rc = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;

done:
    gn_net_free(net);
    gn_dataset_free(all);
    gn_dataset_free(train);
    gn_dataset_free(test);
    return rc;
}

/*==== main ==================================================================================*/

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2) {
            fprintf(stderr, "gemmnet: version takes no arguments\n");
            return EXIT_USAGE;
        }
        printf("gemmnet %s\n", gn_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    fprintf(stderr, "gemmnet: unknown command '%s'\nTry 'gemmnet help'.\n", cmd);
    return EXIT_USAGE;
}
