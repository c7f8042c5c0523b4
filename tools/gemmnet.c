/* gemmnet — command-line front end: parses options, calls the library, prints results.
 *
 *   gemmnet train    train a network (default: Fashion-MNIST), report test accuracy, --save
 *   gemmnet eval     evaluate a saved model on a test set
 *   gemmnet predict  a saved model's outputs (or classes) for new inputs
 *
 * Exit status: 0 success, 1 data or runtime error (file, library), 2 usage error (bad command
 * line, or options that contradict each other or the data). Messages go to stderr, prefixed
 * "gemmnet: "; results go to stdout.
 */
#define _POSIX_C_SOURCE 200809L /* access, getline, clock_gettime, isatty */
#include <gemmnet.h>

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Defaults of `gemmnet train`. */
#define DEF_FASHION_DIR "/usr/share/datasets/fashion-mnist"
/* The defaults train Fashion-MNIST to about 0.895 test accuracy in 6 epochs: the layer widths
 * of the PyTorch reference recipe (bench/torch_fashion.py), with standardised inputs and a
 * cosine-annealed Adam at twice its usual rate instead of 10 constant-rate epochs (measured in
 * docs/performance.md). */
#define DEF_FASHION_LAYERS "784,256,128,10"
#define DEF_EPOCHS         6
#define DEF_ADAM_LR        0.002 /* adam and adamw; the other optimizers keep their own */
#define DEF_HIDDEN         64    /* other data: features,64,outputs */
#define DEF_SPLIT_SEED     42
#define DEF_TEST_FRAC      0.2

/* Generous but finite limits, so a typo cannot ask for a year of training or a huge buffer. */
#define MAX_EPOCHS    100000000L
#define MAX_BATCH     (1L << 20)
#define MAX_THREADS   4096L
#define MAX_CONFUSION 100 /* classes: a bigger matrix is not worth printing */

#define FASHION_INSTALL_HINT "apt-get install dataset-fashion-mnist"

/*==== Usage =================================================================================*/

static const char *const overview_text[] = {
    "usage: gemmnet <command> [options]\n"
    "\n"
    "commands:\n"
    "  train            train a network (default: on Fashion-MNIST) and report test accuracy\n"
    "  eval             evaluate a model saved by 'train --save' on a test set\n"
    "  predict          print a saved model's outputs or predicted classes for new inputs\n"
    "  version          print the library version\n"
    "  help [COMMAND]   print this help, or only a command's\n"
    "\n"
    "'gemmnet COMMAND --help' describes a command's options.\n"
    "exit status: 0 success, 1 data or runtime error, 2 usage error\n",
    NULL,
};

static const char *const train_text[] = {
    "usage: gemmnet train [options]\n"
    "\n"
    "Trains a fully connected network with mini-batches and reports its accuracy on a test\n"
    "set. Without --train it uses Fashion-MNIST from " DEF_FASHION_DIR "\n"
    "(" FASHION_INSTALL_HINT "; GEMMNET_FASHION_DIR overrides the directory).\n"
    "\n"
    "data:\n"
    "  --train FILE         training set: IDX images (a name containing 'idx', or IDX or\n"
    "                       gzip content) or CSV; --data is an alias\n"
    "  --test FILE          test set, of either kind (default: --test-frac of --train)\n"
    "  --train-labels FILE  IDX labels of --train (default: its name with 'images-idx3'\n"
    "                       replaced by 'labels-idx1'); --test-labels FILE likewise\n"
    "  --test-frac F        without --test: fraction of --train held out for testing,\n"
    "                       0 < F < 1 (default 0.2)\n"
    "  --val-split F        fraction of the training set held out for validation,\n"
    "                       0 < F < 1 (default: no validation)\n"
    "  --split-seed N       seed of both splits (default 42)\n"
    "  --standardize WHEN   auto|yes|no: scale inputs (and regression targets) to mean 0 and\n"
    "                       std 1 on the training set, as part of the model (default yes;\n"
    "                       auto is yes)\n"
    "CSV files:\n"
    "  --label-column N     0-based column of the label (default: last)\n"
    "  --header WHEN        auto|yes|no: is the first line a header? (default auto: yes if\n"
    "                       any field, the label included, is not a number)\n"
    "  --delimiter C        field separator, one character or 'tab' (default ',')\n"
    "  --regression         the label is a real-valued target: the defaults become --loss\n"
    "                       quadratic --out identity, targets are standardised, and the\n"
    "                       test set is scored by mse and r2\n"
    "network:\n"
    "  --layers A,B,...,Z   all layer widths, inputs first, outputs last (default\n"
    "                       " DEF_FASHION_LAYERS " for Fashion-MNIST, else features,64,outputs)\n"
    "  --act NAME           hidden activation: sigmoid|tanh|relu|leaky-relu|elu|softplus|\n"
    "                       identity (default relu)\n"
    "  --out NAME           output activation: softmax or one of the above (default softmax;\n"
    "                       sigmoid with --loss bce, identity with --regression)\n"
    "  --loss NAME          xent (= cce, needs softmax)|bce (needs sigmoid)|quadratic (= mse)\n"
    "                       |mae|huber (default xent; quadratic with --regression)\n"
    "  --init NAME          auto|xavier|he|nielsen (default auto)\n"
    "  --seed N             seed of initialisation, shuffling and dropout (default 1)\n"
    "  --impl NAME          products: blas|naive|loop (default blas)\n",
    /* (split: ISO C only promises string literals of 4095 characters) */
    "optimisation:\n"
    "  --opt NAME           sgd|momentum|nesterov|rmsprop|adam|adamw (default adam)\n"
    "  --lr F               learning rate > 0 (default 0.002 for adam and adamw, 0.001 for\n"
    "                       rmsprop, 0.1 for sgd, momentum and nesterov); --eta is an alias\n"
    "  --momentum F         μ of momentum and nesterov, 0 <= F < 1 (default 0.9)\n"
    "  --weight-decay F     decoupled weight decay >= 0 (default 0.01 for adamw, else 0)\n"
    "  --l2 F               L2 coefficient added to the weight gradient >= 0 (default 0)\n"
    "  --clip F             clip the gradient norm at F, 0 = off (default 0)\n"
    "  --schedule NAME      learning rate per epoch: constant|step|cosine (default cosine)\n"
    "  --step-epochs N      step: epochs per decay (default 10)\n"
    "  --gamma F            step: decay factor, 0 < F <= 1 (default 0.1)\n"
    "  --min-lr F           cosine: final learning rate >= 0 (default 0)\n"
    "  --epochs N           training epochs (default 6)\n"
    "  --batch N            mini-batch size (default 128)\n"
    "  --dropout P          dropout of hidden units, 0 <= P < 1 (default 0)\n"
    "  --patience N         stop after N epochs without a lower validation loss and keep\n"
    "                       the best epoch's parameters (needs --val-split; default 0: never)\n"
    "output:\n"
    "  --save FILE          write the trained model to FILE (for eval and predict)\n"
    "  --confusion          print the test confusion matrix and per-class precision and\n"
    "                       recall (also with --quiet)\n"
    "  --every K            print every K-th epoch and the last (default 1)\n"
    "  --threads N          BLAS threads (default: the BLAS default)\n"
    "  -q, --quiet          print only the final line\n"
    "  -h, --help           print this help\n"
    "\n"
    "Prints a line per epoch,\n"
    "  epoch 3/10 train_loss=... [val_loss=... val_accuracy=...] lr=... seconds=...\n"
    "with a progress bar on stderr when it is a terminal, then test_loss and load_seconds\n"
    "(the data loading time), and finally\n"
    "  test_accuracy=... train_seconds=... samples_per_s=... epochs=...\n"
    "or with --regression test_mse=... test_r2=... and the same three timing fields.\n"
    "train_seconds counts the training steps only (no loading, no evaluation); epochs is the\n"
    "number of epochs run.\n",
    NULL,
};

static const char *const eval_text[] = {
    "usage: gemmnet eval --model FILE --test FILE [options]\n"
    "\n"
    "Evaluates a model saved by 'gemmnet train --save' and prints\n"
    "  test_accuracy=... test_loss=... samples=...\n"
    "or, for a regression model (identity outputs and a quadratic, mae or huber loss),\n"
    "  test_mse=... test_r2=... test_loss=... samples=...\n"
    "\n"
    "  --model FILE         the model file\n"
    "  --test FILE          test set: IDX images or CSV (features and a label, as for train)\n"
    "  --test-labels FILE   IDX labels (default: derived from the images file name)\n"
    "  --label-column N     CSV: 0-based column of the label (default: last)\n"
    "  --header WHEN        CSV: auto|yes|no (default auto)\n"
    "  --delimiter C        CSV: field separator, one character or 'tab' (default ',')\n"
    "  --confusion          also print the confusion matrix, precision and recall\n"
    "  --impl NAME          products: blas|naive|loop (default blas)\n"
    "  --threads N          BLAS threads (default: the BLAS default)\n"
    "  -h, --help           print this help\n",
    NULL,
};

static const char *const predict_text[] = {
    "usage: gemmnet predict --model FILE --input FILE [options]\n"
    "\n"
    "Prints one line per input sample: the model's outputs, comma-separated, or with\n"
    "--labels the predicted class (0-based index of the largest output; for a single\n"
    "output, 1 if it exceeds 0.5).\n"
    "\n"
    "  --model FILE         the model file\n"
    "  --input FILE         CSV with one column per model input and no label column, or IDX\n"
    "                       images (no labels file needed)\n"
    "  --header WHEN        CSV: auto|yes|no (default auto: yes if a field of the first line\n"
    "                       is not a number)\n"
    "  --delimiter C        CSV: field separator, one character or 'tab' (default ',')\n"
    "  --labels             print predicted class indices instead of the outputs\n"
    "  --impl NAME          products: blas|naive|loop (default blas)\n"
    "  --threads N          BLAS threads (default: the BLAS default)\n"
    "  -h, --help           print this help\n",
    NULL,
};

/*==== Option values =========================================================================*/

typedef struct name_value {
    const char *name;
    int value;
} name_value;

/* The first name of a value is the one printed back; later ones are aliases. */
static const name_value hidden_acts[] = {
    {"sigmoid", GN_ACT_SIGMOID},   {"tanh", GN_ACT_TANH},
    {"relu", GN_ACT_RELU},         {"leaky-relu", GN_ACT_LEAKY_RELU},
    {"elu", GN_ACT_ELU},           {"softplus", GN_ACT_SOFTPLUS},
    {"identity", GN_ACT_IDENTITY}, {NULL, 0},
};
static const name_value output_acts[] = {
    {"softmax", GN_ACT_SOFTMAX},   {"sigmoid", GN_ACT_SIGMOID},       {"tanh", GN_ACT_TANH},
    {"relu", GN_ACT_RELU},         {"leaky-relu", GN_ACT_LEAKY_RELU}, {"elu", GN_ACT_ELU},
    {"softplus", GN_ACT_SOFTPLUS}, {"identity", GN_ACT_IDENTITY},     {NULL, 0},
};
static const name_value losses[] = {
    {"xent", GN_LOSS_CCE},      {"cce", GN_LOSS_CCE},
    {"bce", GN_LOSS_BCE},       {"quadratic", GN_LOSS_QUADRATIC},
    {"mse", GN_LOSS_QUADRATIC}, {"mae", GN_LOSS_MAE},
    {"huber", GN_LOSS_HUBER},   {NULL, 0},
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
static const name_value optimizers[] = {
    {"sgd", GN_OPT_SGD},
    {"momentum", GN_OPT_MOMENTUM},
    {"nesterov", GN_OPT_NESTEROV},
    {"rmsprop", GN_OPT_RMSPROP},
    {"adam", GN_OPT_ADAM},
    {"adamw", GN_OPT_ADAMW},
    {NULL, 0},
};
static const name_value schedules[] = {
    {"constant", GN_SCHEDULE_CONSTANT},
    {"step", GN_SCHEDULE_STEP},
    {"cosine", GN_SCHEDULE_COSINE},
    {NULL, 0},
};
static const name_value whens[] = {{"auto", -1}, {"yes", 1}, {"no", 0}, {NULL, 0}};

static const char *name_of(const name_value *table, int value)
{
    for (; table->name; table++)
        if (table->value == value)
            return table->name;
    return "?";
}

/*==== Strict parsing ========================================================================
 * Every parser prints its own message and returns 0 on failure, so callers only propagate.
 * strtol and friends accept leading blanks and signs and stop at the first bad character;
 * the checks below reject all of that, so "--epochs 1O" or "--lr ''" never pass silently.
 */

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void
errmsg(const char *fmt, ...)
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
        errmsg("%s: '%s' is not a whole number", opt, s);
        return 0;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        errmsg("%s: %s is out of range [%ld, %ld]", opt, s, lo, hi);
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
        errmsg("%s: '%s' is not a non-negative whole number", opt, s);
        return 0;
    }
    if (errno == ERANGE) {
        errmsg("%s: %s is too large (at most 64 bits)", opt, s);
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
        errmsg("%s: '%s' is not a number", opt, s);
        return 0;
    }
    if (errno == ERANGE || !isfinite(v)) {
        errmsg("%s: %s is not a finite number in range", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

enum { CLOSED = 0, OPEN_LO = 1, OPEN_HI = 2 };

/* A number in [lo, hi] (either end open as flagged) that keeps its place in that range as a
 * float, since the library computes in float: "--lr 1e-50" is not a positive float. */
static int parse_real(const char *opt, const char *s, double lo, double hi, int open, double *out)
{
    if (!parse_double(opt, s, out))
        return 0;
    int ok = 1;
    for (int pass = 0; pass < 2; pass++) {
        double v = pass ? (double)(float)*out : *out;
        ok = ok && ((open & OPEN_LO) ? v > lo : v >= lo) && ((open & OPEN_HI) ? v < hi : v <= hi);
    }
    if (ok)
        return 1;
    if (hi >= FLT_MAX)
        errmsg("%s: %s is not %s %g (in float range)", opt, s, (open & OPEN_LO) ? ">" : ">=", lo);
    else
        errmsg("%s: %s is not in %c%g, %g%c", opt, s, (open & OPEN_LO) ? '(' : '[', lo, hi,
               (open & OPEN_HI) ? ')' : ']');
    return 0;
}

/* "4,16,3": at least two widths, each in [1, GN_MAX_WIDTH], no empty entries. */
static int parse_layers(const char *opt, const char *s, size_t *sizes, size_t *n_sizes)
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        if (*p < '0' || *p > '9') {
            errmsg("%s: '%s' must be widths separated by commas, like 4,16,3", opt, s);
            return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE || v < 1 || v > GN_MAX_WIDTH) {
            errmsg("%s: every width must be in [1, %zu] in '%s'", opt, (size_t)GN_MAX_WIDTH, s);
            return 0;
        }
        if (n == GN_MAX_SIZES) {
            errmsg("%s: at most %d widths", opt, GN_MAX_SIZES);
            return 0;
        }
        sizes[n++] = (size_t)v;
        if (*end == '\0')
            break;
        if (*end != ',') {
            errmsg("%s: '%s' must be widths separated by commas, like 4,16,3", opt, s);
            return 0;
        }
        p = end + 1;
    }
    if (n < 2) {
        errmsg("%s: '%s' needs at least two widths (inputs and outputs), separated by commas, "
               "e.g. 4,16,3",
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

static int parse_delimiter(const char *opt, const char *s, char *out)
{
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0)
        *out = '\t';
    else if (strlen(s) == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r')
        *out = s[0];
    else {
        errmsg("%s: '%s' is not one character (or 'tab'), nor a quote", opt, s);
        return 0;
    }
    return 1;
}

static int parse_path(const char *opt, const char *s, const char **out)
{
    if (s[0] == '\0') {
        errmsg("%s: empty file name", opt);
        return 0;
    }
    *out = s;
    return 1;
}

/*==== Command line ==========================================================================
 * One table holds every option: which commands take it, what kind of value it has, its range
 * and where it is stored. One parser serves all commands, so an option they share is parsed
 * and checked the same way everywhere.
 */

enum { CMD_TRAIN = 1, CMD_EVAL = 2, CMD_PREDICT = 4, CMD_ALL = 7 };

typedef enum opt_id {
    O_TRAIN,
    O_TEST,
    O_TRAIN_LABELS,
    O_TEST_LABELS,
    O_INPUT,
    O_MODEL,
    O_SAVE,
    O_HEADER,
    O_DELIMITER,
    O_LABEL_COLUMN,
    O_REGRESSION,
    O_TEST_FRAC,
    O_VAL_SPLIT,
    O_SPLIT_SEED,
    O_STANDARDIZE,
    O_LAYERS,
    O_ACT,
    O_OUT,
    O_LOSS,
    O_INIT,
    O_SEED,
    O_IMPL,
    O_OPT,
    O_LR,
    O_MOMENTUM,
    O_WEIGHT_DECAY,
    O_CLIP,
    O_L2,
    O_SCHEDULE,
    O_STEP_EPOCHS,
    O_GAMMA,
    O_MIN_LR,
    O_EPOCHS,
    O_BATCH,
    O_DROPOUT,
    O_PATIENCE,
    O_CONFUSION,
    O_LABELS,
    O_EVERY,
    O_THREADS,
    O_QUIET,
    O_HELP,
    O_COUNT
} opt_id;

/* Everything the three commands can be told; enumerations are kept as int until used. */
typedef struct cli_args {
    unsigned cmd;
    const char *name;             /* "train", "eval", "predict" */
    unsigned char given[O_COUNT]; /* which options appeared */
    const char *train, *test, *train_labels, *test_labels, *input, *model, *save;
    int header, regression, standardize; /* header, standardize: −1 auto, 0 no, 1 yes */
    long label_column;
    char delimiter;
    double test_frac, val_split;
    uint64_t split_seed, seed;
    size_t sizes[GN_MAX_SIZES];
    size_t n_sizes; /* 0: derived from the data */
    int act, out, loss, init, impl, opt, schedule;
    double lr, momentum, weight_decay, clip, l2, gamma, min_lr, dropout;
    long epochs, batch, patience, step_epochs, every, threads;
    int confusion, labels, quiet;
} cli_args;

typedef enum value_kind {
    V_FLAG,
    V_PATH,
    V_LONG,
    V_U64,
    V_REAL,
    V_NAME,
    V_LAYERS,
    V_DELIM
} value_kind;

typedef struct option {
    const char *name, *alias; /* alias: another spelling, or NULL */
    opt_id id;
    unsigned cmds; /* CMD_* mask */
    value_kind kind;
    size_t field;            /* offsetof(cli_args, …) of the value */
    const name_value *names; /* V_NAME: the accepted names */
    double lo, hi;           /* V_LONG, V_REAL: the range (V_LONG: whole numbers) */
    int open;                /* V_REAL: OPEN_LO, OPEN_HI */
} option;

#define AT(f)   offsetof(cli_args, f)
#define TRAIN   CMD_TRAIN
#define FLT_BIG FLT_MAX

static const option options[] = {
    {"--train", "--data", O_TRAIN, TRAIN, V_PATH, AT(train), NULL, 0, 0, 0},
    {"--test", NULL, O_TEST, TRAIN | CMD_EVAL, V_PATH, AT(test), NULL, 0, 0, 0},
    {"--train-labels", NULL, O_TRAIN_LABELS, TRAIN, V_PATH, AT(train_labels), NULL, 0, 0, 0},
    {"--test-labels", NULL, O_TEST_LABELS, TRAIN | CMD_EVAL, V_PATH, AT(test_labels), NULL, 0, 0,
     0},
    {"--input", NULL, O_INPUT, CMD_PREDICT, V_PATH, AT(input), NULL, 0, 0, 0},
    {"--model", NULL, O_MODEL, CMD_EVAL | CMD_PREDICT, V_PATH, AT(model), NULL, 0, 0, 0},
    {"--save", NULL, O_SAVE, TRAIN, V_PATH, AT(save), NULL, 0, 0, 0},
    {"--header", NULL, O_HEADER, CMD_ALL, V_NAME, AT(header), whens, 0, 0, 0},
    {"--delimiter", NULL, O_DELIMITER, CMD_ALL, V_DELIM, AT(delimiter), NULL, 0, 0, 0},
    {"--label-column", NULL, O_LABEL_COLUMN, TRAIN | CMD_EVAL, V_LONG, AT(label_column), NULL, -1,
     INT_MAX, 0},
    {"--regression", NULL, O_REGRESSION, TRAIN, V_FLAG, AT(regression), NULL, 0, 0, 0},
    {"--test-frac", NULL, O_TEST_FRAC, TRAIN, V_REAL, AT(test_frac), NULL, 0, 1, OPEN_LO | OPEN_HI},
    {"--val-split", NULL, O_VAL_SPLIT, TRAIN, V_REAL, AT(val_split), NULL, 0, 1, OPEN_LO | OPEN_HI},
    {"--split-seed", NULL, O_SPLIT_SEED, TRAIN, V_U64, AT(split_seed), NULL, 0, 0, 0},
    {"--standardize", NULL, O_STANDARDIZE, TRAIN, V_NAME, AT(standardize), whens, 0, 0, 0},
    {"--layers", NULL, O_LAYERS, TRAIN, V_LAYERS, AT(sizes), NULL, 0, 0, 0},
    {"--act", NULL, O_ACT, TRAIN, V_NAME, AT(act), hidden_acts, 0, 0, 0},
    {"--out", NULL, O_OUT, TRAIN, V_NAME, AT(out), output_acts, 0, 0, 0},
    {"--loss", NULL, O_LOSS, TRAIN, V_NAME, AT(loss), losses, 0, 0, 0},
    {"--init", NULL, O_INIT, TRAIN, V_NAME, AT(init), inits, 0, 0, 0},
    {"--seed", NULL, O_SEED, TRAIN, V_U64, AT(seed), NULL, 0, 0, 0},
    {"--impl", NULL, O_IMPL, CMD_ALL, V_NAME, AT(impl), impls, 0, 0, 0},
    {"--opt", NULL, O_OPT, TRAIN, V_NAME, AT(opt), optimizers, 0, 0, 0},
    {"--lr", "--eta", O_LR, TRAIN, V_REAL, AT(lr), NULL, 0, FLT_BIG, OPEN_LO},
    {"--momentum", NULL, O_MOMENTUM, TRAIN, V_REAL, AT(momentum), NULL, 0, 1, OPEN_HI},
    {"--weight-decay", NULL, O_WEIGHT_DECAY, TRAIN, V_REAL, AT(weight_decay), NULL, 0, FLT_BIG, 0},
    {"--clip", NULL, O_CLIP, TRAIN, V_REAL, AT(clip), NULL, 0, FLT_BIG, 0},
    {"--l2", NULL, O_L2, TRAIN, V_REAL, AT(l2), NULL, 0, FLT_BIG, 0},
    {"--schedule", NULL, O_SCHEDULE, TRAIN, V_NAME, AT(schedule), schedules, 0, 0, 0},
    {"--step-epochs", NULL, O_STEP_EPOCHS, TRAIN, V_LONG, AT(step_epochs), NULL, 1, MAX_EPOCHS, 0},
    {"--gamma", NULL, O_GAMMA, TRAIN, V_REAL, AT(gamma), NULL, 0, 1, OPEN_LO},
    {"--min-lr", NULL, O_MIN_LR, TRAIN, V_REAL, AT(min_lr), NULL, 0, FLT_BIG, 0},
    {"--epochs", NULL, O_EPOCHS, TRAIN, V_LONG, AT(epochs), NULL, 1, MAX_EPOCHS, 0},
    {"--batch", NULL, O_BATCH, TRAIN, V_LONG, AT(batch), NULL, 1, MAX_BATCH, 0},
    {"--dropout", NULL, O_DROPOUT, TRAIN, V_REAL, AT(dropout), NULL, 0, 1, OPEN_HI},
    {"--patience", NULL, O_PATIENCE, TRAIN, V_LONG, AT(patience), NULL, 0, MAX_EPOCHS, 0},
    {"--confusion", NULL, O_CONFUSION, TRAIN | CMD_EVAL, V_FLAG, AT(confusion), NULL, 0, 0, 0},
    {"--labels", NULL, O_LABELS, CMD_PREDICT, V_FLAG, AT(labels), NULL, 0, 0, 0},
    {"--every", NULL, O_EVERY, TRAIN, V_LONG, AT(every), NULL, 1, MAX_EPOCHS, 0},
    {"--threads", NULL, O_THREADS, CMD_ALL, V_LONG, AT(threads), NULL, 1, MAX_THREADS, 0},
    {"--quiet", "-q", O_QUIET, TRAIN, V_FLAG, AT(quiet), NULL, 0, 0, 0},
    {"--help", "-h", O_HELP, CMD_ALL, V_FLAG, 0, NULL, 0, 0, 0},
};

#undef AT
#undef TRAIN
#undef FLT_BIG

static void args_defaults(cli_args *a, unsigned cmd, const char *name)
{
    gn_csv_options csv;
    gn_csv_options_defaults(&csv);
    gn_fit_options fit;
    gn_fit_options_defaults(&fit);
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->name = name;
    a->header = csv.header;
    a->label_column = csv.label_column;
    a->delimiter = csv.delimiter;
    a->test_frac = DEF_TEST_FRAC;
    a->split_seed = DEF_SPLIT_SEED;
    a->standardize = -1;
    a->seed = 1;
    a->act = GN_ACT_RELU;
    a->out = GN_ACT_SOFTMAX;
    a->loss = GN_LOSS_CCE;
    a->init = GN_INIT_AUTO;
    a->impl = GN_IMPL_BLAS;
    a->opt = GN_OPT_ADAM; /* lr, momentum, weight decay: the optimizer's defaults (finish_args) */
    a->schedule = (int)GN_SCHEDULE_COSINE;
    a->gamma = fit.gamma;
    a->min_lr = fit.min_lr;
    a->epochs = DEF_EPOCHS;
    a->batch = (long)fit.batch;
    a->step_epochs = (long)fit.step_epochs;
    a->every = 1;
}

/* Parses and stores one option's value; 0 after printing why it is bad. */
static int set_option(cli_args *a, const option *o, const char *name, const char *val)
{
    void *p = (char *)a + o->field;
    switch (o->kind) {
    case V_FLAG: *(int *)p = 1; return 1;
    case V_PATH: return parse_path(name, val, p);
    case V_LONG: return parse_long(name, val, (long)o->lo, (long)o->hi, p);
    case V_U64: return parse_u64(name, val, p);
    case V_REAL: return parse_real(name, val, o->lo, o->hi, o->open, p);
    case V_NAME: return parse_name(name, val, o->names, p);
    case V_LAYERS: return parse_layers(name, val, a->sizes, &a->n_sizes);
    case V_DELIM: return parse_delimiter(name, val, p);
    }
    return 0;
}

static const option *find_option(const char *name)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(name, options[i].name) == 0 ||
            (options[i].alias && strcmp(name, options[i].alias) == 0))
            return &options[i];
    return NULL;
}

enum { PARSE_OK, PARSE_HELP, PARSE_ERROR };

/* Parses argv[0..argc) (the words after the command). Accepts "--opt value" and
 * "--opt=value"; the last of repeated options wins. */
static int parse_args(int argc, char **argv, cli_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-') {
            errmsg("unexpected argument '%s' (files are given with options, e.g. %s FILE)", arg,
                   a->cmd == CMD_PREDICT ? "--input"
                   : a->cmd == CMD_EVAL  ? "--test"
                                         : "--train");
            return PARSE_ERROR;
        }
        /* Split "--name=value"; otherwise a value is the next word. */
        char name[32];
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) {
            errmsg("unknown option '%s'", arg);
            return PARSE_ERROR;
        }
        memcpy(name, arg, len);
        name[len] = '\0';
        const option *o = find_option(name);
        if (!o) {
            errmsg("unknown option '%s'", name);
            return PARSE_ERROR;
        }
        if (!(o->cmds & a->cmd)) {
            errmsg("%s is not an option of '%s'", name, a->name);
            return PARSE_ERROR;
        }
        const char *val = NULL;
        if (o->kind == V_FLAG) {
            if (eq) {
                errmsg("%s takes no value", name);
                return PARSE_ERROR;
            }
            if (o->id == O_HELP)
                return PARSE_HELP;
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            errmsg("%s needs a value", name);
            return PARSE_ERROR;
        }
        a->given[o->id] = 1;
        if (!set_option(a, o, name, val))
            return PARSE_ERROR;
    }
    return PARSE_OK;
}

/* The learning rate training starts from: --lr, or the CLI's default for the optimizer. */
static double start_lr(const cli_args *a)
{
    if (a->given[O_LR])
        return a->lr;
    if (a->opt == GN_OPT_ADAM || a->opt == GN_OPT_ADAMW)
        return DEF_ADAM_LR;
    gn_optimizer_config oc;
    gn_optimizer_config_defaults(&oc, (gn_opt)a->opt);
    return oc.lr;
}

/* Contradictions and missing options that show without looking at the data: 0 or
 * EXIT_USAGE after a message. */
static int check_args(const cli_args *a)
{
    const unsigned char *g = a->given;
    int classifier_loss = a->loss == GN_LOSS_CCE || a->loss == GN_LOSS_BCE;
    const struct {
        int bad;
        const char *why;
    } rules[] = {
        {a->cmd == CMD_EVAL && !a->model, "eval needs --model FILE"},
        {a->cmd == CMD_EVAL && !a->test, "eval needs --test FILE"},
        {a->cmd == CMD_PREDICT && !a->model, "predict needs --model FILE"},
        {a->cmd == CMD_PREDICT && !a->input, "predict needs --input FILE"},
        {a->cmd == CMD_TRAIN && a->test && !a->train,
         "--test needs --train (the default dataset brings its own test set)"},
        {g[O_TRAIN_LABELS] && !a->train, "--train-labels needs --train"},
        {a->cmd == CMD_TRAIN && g[O_TEST_LABELS] && !a->test, "--test-labels needs --test"},
        {g[O_TEST_FRAC] && a->test, "--test-frac and --test contradict: the test set is given"},
        {g[O_TEST_FRAC] && !a->train, "--test-frac needs --train (Fashion-MNIST has a test set)"},
        {a->patience > 0 && !g[O_VAL_SPLIT],
         "--patience needs a validation set: add --val-split F"},
        {g[O_MOMENTUM] && a->opt != GN_OPT_MOMENTUM && a->opt != GN_OPT_NESTEROV,
         "--momentum applies to --opt momentum or nesterov"},
        {(g[O_STEP_EPOCHS] || g[O_GAMMA]) && a->schedule != GN_SCHEDULE_STEP,
         "--step-epochs and --gamma apply to --schedule step"},
        {g[O_MIN_LR] && a->schedule != GN_SCHEDULE_COSINE, "--min-lr applies to --schedule cosine"},
        {g[O_MIN_LR] && a->min_lr >= start_lr(a),
         "--min-lr must be below the learning rate the schedule starts from"},
        {a->regression && g[O_LOSS] && classifier_loss,
         "--regression needs a regression loss: quadratic, mae or huber"},
        {a->regression && g[O_OUT] && a->out == GN_ACT_SOFTMAX,
         "--regression and --out softmax contradict: a softmax output is a distribution"},
        {a->regression && a->confusion, "--confusion is for classifiers, not --regression"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (rules[i].bad) {
            errmsg("%s", rules[i].why);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static void print_usage(FILE *f, const char *const *usage)
{
    for (; *usage; usage++)
        fputs(*usage, f);
}

/* Parses a command's arguments: -1 to go on, or the exit status (0 after --help). */
static int parse_command(unsigned cmd, const char *name, const char *const *usage, int argc,
                         char **argv, cli_args *a)
{
    args_defaults(a, cmd, name);
    int r = parse_args(argc, argv, a);
    if (r == PARSE_HELP) {
        print_usage(stdout, usage);
        return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
    }
    if (r == PARSE_OK && check_args(a) == 0) {
        if (a->regression && !a->given[O_LOSS])
            a->loss = GN_LOSS_QUADRATIC;
        return -1;
    }
    fprintf(stderr, "Try 'gemmnet %s --help'.\n", name);
    return EXIT_USAGE;
}

/* gn_net_fit's options from the command line; the optimizer's own defaults where it is
 * silent (so --opt sgd trains at 0.1 and --opt adam at 0.001). */
static gn_fit_options fit_options(const cli_args *a)
{
    gn_fit_options fit;
    gn_fit_options_defaults(&fit);
    gn_optimizer_config *oc = &fit.opt;
    gn_optimizer_config_defaults(oc, (gn_opt)a->opt);
    oc->lr = (float)start_lr(a);
    if (a->given[O_MOMENTUM])
        oc->momentum = (float)a->momentum;
    if (a->given[O_WEIGHT_DECAY])
        oc->weight_decay = (float)a->weight_decay;
    oc->l2 = (float)a->l2;
    oc->clip_norm = (float)a->clip;
    fit.epochs = (size_t)a->epochs;
    fit.batch = (size_t)a->batch;
    fit.schedule = (gn_schedule)a->schedule;
    fit.step_epochs = (size_t)a->step_epochs;
    fit.gamma = (float)a->gamma;
    fit.min_lr = (float)a->min_lr;
    fit.dropout = (float)a->dropout;
    fit.patience = (size_t)a->patience;
    if (a->standardize)
        fit.standardize = GN_STANDARDIZE_INPUTS | (a->regression ? GN_STANDARDIZE_OUTPUTS : 0u);
    return fit;
}

static gn_csv_options csv_options(const cli_args *a, int regression)
{
    gn_csv_options csv;
    gn_csv_options_defaults(&csv);
    csv.header = a->header;
    csv.label_column = a->label_column;
    csv.delimiter = a->delimiter;
    csv.regression = regression;
    return csv;
}

/*==== Helpers ===============================================================================*/

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_sizes(FILE *f, const size_t *sizes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%zu", i ? "," : "", sizes[i]);
}

/* A library failure on a network: its detailed message, else the status text. */
static int net_failed(const gn_net *net, gn_status st)
{
    const char *msg = gn_net_last_error(net);
    errmsg("%s", msg[0] ? msg : gn_strerror(st));
    return EXIT_RUNTIME;
}

static int set_threads(long threads)
{
    gn_status st;
    if (threads > 0 && (st = gn_set_threads((int)threads)) != GN_OK) {
        errmsg("--threads %ld: %s", threads, gn_strerror(st));
        return EXIT_RUNTIME;
    }
    return 0;
}

/* A model whose outputs are values rather than class scores. */
static int is_regression_model(const gn_net *net)
{
    const float *mean = NULL, *std = NULL;
    if (gn_net_output_scaling(net, &mean, &std) == GN_OK && mean)
        return 1;
    gn_loss loss = gn_net_loss(net);
    return gn_net_layer_act(net, gn_net_n_layers(net)) == GN_ACT_IDENTITY && loss != GN_LOSS_BCE &&
           loss != GN_LOSS_CCE;
}

static int load_model(gn_net **net, const char *path, gn_impl impl)
{
    char err[512] = "";
    gn_status st = gn_net_load(net, path, err, sizeof err);
    if (st != GN_OK) {
        errmsg("%s", err[0] ? err : gn_strerror(st));
        return EXIT_RUNTIME;
    }
    if ((st = gn_net_set_impl(*net, impl)) != GN_OK)
        return net_failed(*net, st);
    return 0;
}

/*==== Data files ============================================================================*/

/* IDX when the name says so or the content does: the IDX magic 00 00 08, or gzip, which
 * only the IDX loader reads. Anything else (a missing file included) is read as CSV. */
static int is_idx(const char *path)
{
    const char *base = strrchr(path, '/');
    if (strstr(base ? base + 1 : path, "idx"))
        return 1;
    unsigned char m[3] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(m, 1, sizeof m, f);
    fclose(f);
    return got == 3 && ((m[0] == 0 && m[1] == 0 && m[2] == 8) || (m[0] == 0x1f && m[1] == 0x8b));
}

/* The labels file of an IDX images file: "images-idx3" replaced by "labels-idx1" in its
 * base name. 0 after a usage message if the name has no such part. */
static int derive_labels(const char *images, const char *opt, char *buf, size_t len)
{
    const char *base = strrchr(images, '/');
    base = base ? base + 1 : images;
    const char *at = strstr(base, "images-idx3");
    if (!at) {
        errmsg("cannot tell the labels file of '%s' (its name has no 'images-idx3'): give %s "
               "FILE",
               images, opt);
        return 0;
    }
    int n = snprintf(buf, len, "%.*slabels-idx1%s", (int)(at - images), images, at + 11);
    if (n < 0 || (size_t)n >= len) {
        errmsg("%s: file name too long", images);
        return 0;
    }
    return 1;
}

/* A dataset, possibly a view of a file's samples with more classes than the file mentions
 * (see widen_classes): then `file` owns X and `y` the widened targets. */
typedef struct dset {
    gn_dataset *ds, *file;
    float *y;
} dset;

static void dset_free(dset *d)
{
    gn_dataset_free(d->ds);
    gn_dataset_free(d->file);
    free(d->y);
    d->ds = d->file = NULL;
    d->y = NULL;
}

/* Loads path as IDX (labels from labels_path, or derived, naming labels_opt in a message)
 * or as CSV. Returns 0, or the exit status after a message. */
static int load_data(dset *out, const char *path, const char *labels_path, const char *labels_opt,
                     int idx, const gn_csv_options *csv)
{
    char err[1024] = "", derived[4096];
    gn_status st;
    if (idx) {
        if (!labels_path) {
            if (!derive_labels(path, labels_opt, derived, sizeof derived))
                return EXIT_USAGE;
            labels_path = derived;
        }
        st = gn_dataset_load_idx(&out->ds, path, labels_path, 0, err, sizeof err);
    } else {
        st = gn_dataset_load_csv(&out->ds, path, csv, err, sizeof err);
    }
    if (st != GN_OK) {
        errmsg("%s", err[0] ? err : gn_strerror(st));
        return EXIT_RUNTIME;
    }
    return 0;
}

/* Gives d's one-hot targets k rows: a file whose largest label is below k − 1 (a test file
 * that lacks the last class) becomes a view with zero rows added. */
static int widen_classes(dset *d, size_t k, const char *path)
{
    const gn_dataset *ds = d->ds;
    size_t n = gn_dataset_n_samples(ds), ko = gn_dataset_n_outputs(ds);
    if (ko == k)
        return 0;
    if (ko > k) {
        errmsg("%s has %zu classes, more than the %zu the network has", path, ko, k);
        return EXIT_RUNTIME;
    }
    float *y = n <= SIZE_MAX / k / sizeof *y ? calloc(n * k, sizeof *y) : NULL;
    gn_dataset *view = NULL;
    if (!y) {
        errmsg("out of memory for the targets of %s", path);
        return EXIT_RUNTIME;
    }
    const float *yo = gn_dataset_y(ds);
    size_t ldy = gn_dataset_ldy(ds);
    for (size_t j = 0; j < n; j++)
        memcpy(y + j * k, yo + j * ldy, ko * sizeof *y);
    gn_status st = gn_dataset_wrap(&view, gn_dataset_x(ds), gn_dataset_ldx(ds), y, k,
                                   gn_dataset_n_features(ds), k, n);
    if (st != GN_OK) {
        free(y);
        errmsg("%s: %s", path, gn_strerror(st));
        return EXIT_RUNTIME;
    }
    d->file = d->ds;
    d->ds = view;
    d->y = y;
    return 0;
}

/* Splits *all into *first (frac of the samples) and *second after a seeded shuffle; *all is
 * freed. `what` names the first part in a message. */
static int split_data(dset *all, double frac, uint64_t seed, const char *what, dset *first,
                      dset *second)
{
    gn_status st = gn_dataset_split(all->ds, frac, seed, &first->ds, &second->ds);
    size_t n = gn_dataset_n_samples(all->ds);
    dset_free(all);
    if (st != GN_OK) {
        /* The fraction is known to be in (0, 1), so GN_ERR_ARG means a side would be empty. */
        errmsg("cannot hold out %g of %zu samples for %s: %s", frac, n, what,
               st == GN_ERR_ARG ? "a part would be empty" : gn_strerror(st));
        return EXIT_RUNTIME;
    }
    return 0;
}

/* Paths of the default dataset, from GEMMNET_FASHION_DIR or the Debian package. */
typedef struct fashion {
    char dir[2048], train[4096], train_labels[4096], test[4096], test_labels[4096];
} fashion;

static int find_fashion(fashion *f)
{
    const char *dir = getenv("GEMMNET_FASHION_DIR");
    if (!dir || !dir[0])
        dir = DEF_FASHION_DIR;
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    char *paths[] = {f->train, f->train_labels, f->test, f->test_labels};
    const char *names[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 4; i++) {
        snprintf(paths[i], sizeof f->train, "%s/%s", f->dir, names[i]);
        if (access(paths[i], R_OK) != 0) {
            errmsg("the default dataset, Fashion-MNIST, is not in %s (no readable %s).\n"
                   "gemmnet: install it with '" FASHION_INSTALL_HINT "' (or point "
                   "GEMMNET_FASHION_DIR to its files), or pass --train FILE [--test FILE]",
                   f->dir, names[i]);
            return 0;
        }
    }
    return 1;
}

/* A CSV field with surrounding blanks and double quotes removed, as the library reads it. */
static void trim_field(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
    if (*e - *b >= 2 && **b == '"' && (*e)[-1] == '"') {
        (*b)++;
        (*e)--;
    }
}

/* Parses the whole field [b, e) as a finite float: 0 ok, 1 not a number, 2 not finite. */
static int parse_field(const char *b, const char *e, float *out)
{
    char tmp[256];
    size_t len = (size_t)(e - b);
    if (len == 0 || len >= sizeof tmp)
        return 1;
    memcpy(tmp, b, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    float v = strtof(tmp, &end);
    if (end != tmp + len)
        return 1;
    if (!isfinite(v))
        return 2;
    *out = v;
    return 0;
}

/* Reads a CSV of features only (every column is one) into a new n_features × n matrix *X,
 * column-major, ld = n_features, for predict. The library's CSV loader needs a label column,
 * so this is a small strict reader with the same field rules. 0 or EXIT_RUNTIME. */
static int read_features_csv(const char *path, const gn_csv_options *csv, size_t n_features,
                             float **X, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        errmsg("%s: %s", path, strerror(errno));
        return EXIT_RUNTIME;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0, rows = 0, alloc = 0;
    float *x = NULL;
    int rc = 0, first = 1;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, f)) != -1) {
        lineno++;
        char *b = line, *e = line + len;
        if (lineno == 1 && len >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0)
            b += 3;
        if (e > b && e[-1] == '\n')
            e--;
        if (e > b && e[-1] == '\r')
            e--;
        if (strlen(b) < (size_t)(e - b)) {
            errmsg("%s:%zu: a NUL byte: not a text file", path, lineno);
            rc = EXIT_RUNTIME;
            break;
        }
        const char *p = b;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p == e)
            continue; /* blank line */
        if (rows == alloc) {
            size_t grow = alloc ? 2 * alloc : 1024;
            float *nx = grow <= SIZE_MAX / n_features / sizeof *x
                            ? realloc(x, grow * n_features * sizeof *x)
                            : NULL;
            if (!nx) {
                errmsg("%s: out of memory after %zu rows", path, rows);
                rc = EXIT_RUNTIME;
                break;
            }
            x = nx;
            alloc = grow;
        }
        float *col = x + rows * n_features;
        int header = first && csv->header == 1;
        size_t count = 0;
        for (const char *fb = b;; count++) {
            const char *d = memchr(fb, csv->delimiter, (size_t)(e - fb));
            const char *fe = d ? d : e, *tb = fb, *te = fe;
            trim_field(&tb, &te);
            float v = 0.0f;
            int bad = header ? 0 : parse_field(tb, te, &v);
            if (bad && first && csv->header == -1) {
                header = 1; /* auto: a non-number on the first line makes it a header */
            } else if (bad) {
                errmsg("%s:%zu:%zu: '%.*s' is %s", path, lineno, count + 1, (int)(te - tb), tb,
                       bad == 1 ? "not a number" : "not finite in float range");
                rc = EXIT_RUNTIME;
                break;
            } else if (!header && count < n_features) {
                col[count] = v;
            }
            if (!d)
                break;
            fb = d + 1;
        }
        if (rc != 0)
            break;
        count++;
        first = 0;
        if (header)
            continue;
        if (count != n_features) {
            errmsg("%s:%zu: %zu fields, but the model takes %zu inputs (every column is a "
                   "feature; there is no label column)",
                   path, lineno, count, n_features);
            rc = EXIT_RUNTIME;
            break;
        }
        rows++;
    }
    if (rc == 0 && ferror(f)) {
        errmsg("%s: read error: %s", path, strerror(errno));
        rc = EXIT_RUNTIME;
    }
    if (rc == 0 && rows == 0) {
        errmsg("%s: no data rows", path);
        rc = EXIT_RUNTIME;
    }
    free(line);
    fclose(f);
    if (rc != 0) {
        free(x);
        return rc;
    }
    *X = x;
    *n = rows;
    return 0;
}

/*==== Evaluation and reports ================================================================*/

typedef struct scores {
    double loss, accuracy, mse, r2;
} scores;

static int evaluate(gn_net *net, const gn_dataset *ds, int regression, scores *s)
{
    const float *X = gn_dataset_x(ds), *Y = gn_dataset_y(ds);
    size_t ldx = gn_dataset_ldx(ds), ldy = gn_dataset_ldy(ds), n = gn_dataset_n_samples(ds);
    gn_status st = gn_net_evaluate(net, X, ldx, Y, ldy, n, &s->loss, &s->accuracy);
    if (st == GN_OK && regression)
        st = gn_net_regression_metrics(net, X, ldx, Y, ldy, n, &s->mse, NULL, &s->r2);
    return st == GN_OK ? 0 : net_failed(net, st);
}

static void print_ratio(double v)
{
    if (isnan(v))
        printf(" %9s", "-");
    else
        printf(" %9.4f", v);
}

/* The confusion matrix (rows: true class) and per-class precision and recall. */
static int print_confusion(gn_net *net, const gn_dataset *ds)
{
    size_t no = gn_net_n_outputs(net), k = no == 1 ? 2 : no;
    if (k > MAX_CONFUSION) {
        errmsg("--confusion: %zu classes are too many to print (at most %d)", k, MAX_CONFUSION);
        return 0; /* not worth failing the run for */
    }
    uint64_t *counts = malloc(k * k * sizeof *counts);
    double *prec = malloc(k * sizeof *prec), *rec = malloc(k * sizeof *rec);
    gn_status st = GN_ERR_NOMEM;
    if (counts && prec && rec)
        st = gn_net_confusion(net, gn_dataset_x(ds), gn_dataset_ldx(ds), gn_dataset_y(ds),
                              gn_dataset_ldy(ds), gn_dataset_n_samples(ds), k, counts);
    if (st == GN_OK) {
        uint64_t max = 0;
        for (size_t i = 0; i < k * k; i++)
            max = counts[i] > max ? counts[i] : max;
        int w = snprintf(NULL, 0, "%llu", (unsigned long long)max);
        w = w < 5 ? 5 : w;
        gn_class_metrics(counts, k, prec, rec);
        printf("confusion (rows: true class, columns: predicted class)\n%5s", "");
        for (size_t p = 0; p < k; p++)
            printf(" %*zu", w, p);
        printf("\n");
        for (size_t t = 0; t < k; t++) {
            printf("%5zu", t);
            for (size_t p = 0; p < k; p++)
                printf(" %*llu", w, (unsigned long long)counts[t * k + p]);
            printf("\n");
        }
        printf("class precision    recall\n");
        for (size_t c = 0; c < k; c++) {
            printf("%5zu", c);
            print_ratio(prec[c]);
            print_ratio(rec[c]);
            printf("\n");
        }
    }
    free(counts);
    free(prec);
    free(rec);
    return st == GN_OK ? 0 : net_failed(net, st);
}

/* Per-epoch lines on stdout and, on a terminal, a progress bar on stderr. */
typedef struct progress {
    int quiet, regression, bar, drawn;
    long every;
    size_t epochs;
    double last_draw;
} progress;

enum { BAR_WIDTH = 30 };

static void on_batch(gn_net *net, size_t epoch, size_t batch, size_t n_batches, void *user)
{
    (void)net;
    progress *pr = user;
    double t = now_seconds();
    if (batch < n_batches && t - pr->last_draw < 0.1) /* about ten redraws a second */
        return;
    pr->last_draw = t;
    char bar[BAR_WIDTH + 1];
    size_t done = batch * BAR_WIDTH / n_batches;
    memset(bar, '=', done);
    memset(bar + done, ' ', BAR_WIDTH - done);
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\repoch %zu/%zu [%s] %zu/%zu", epoch, pr->epochs, bar, batch, n_batches);
    fflush(stderr);
    pr->drawn = 1;
}

static int on_epoch(gn_net *net, const gn_epoch_info *info, void *user)
{
    (void)net;
    progress *pr = user;
    if (pr->drawn) {
        fprintf(stderr, "\r%*s\r", BAR_WIDTH + 60, "");
        fflush(stderr);
        pr->drawn = 0;
    }
    if (pr->quiet || (info->epoch % (size_t)pr->every != 0 && info->epoch != info->epochs))
        return 0;
    printf("epoch %zu/%zu train_loss=%.4f", info->epoch, info->epochs, info->train_loss);
    if (!isnan(info->val_loss)) {
        printf(" val_loss=%.4f", info->val_loss);
        if (!pr->regression)
            printf(" val_accuracy=%.4f", info->val_accuracy);
    }
    printf(" lr=%g seconds=%.4g\n", (double)info->lr, info->seconds);
    fflush(stdout);
    return 0;
}

/*==== train =================================================================================*/

static int cmd_train(int argc, char **argv)
{
    cli_args a;
    int rc = parse_command(CMD_TRAIN, "train", train_text, argc, argv, &a);
    if (rc >= 0)
        return rc;

    /* Where the data comes from, and what kind it is. */
    static fashion fm;
    const char *train_path = a.train, *train_labels = a.train_labels, *test_path = a.test,
               *test_labels = a.test_labels;
    if (!a.train) {
        if (!find_fashion(&fm))
            return EXIT_RUNTIME;
        train_path = fm.train;
        train_labels = fm.train_labels;
        test_path = fm.test;
        test_labels = fm.test_labels;
    }
    int train_idx = is_idx(train_path), test_idx = test_path ? is_idx(test_path) : train_idx;
    int any_csv = !train_idx || !test_idx;
    const char *csv_opt = a.given[O_HEADER]         ? "--header"
                          : a.given[O_DELIMITER]    ? "--delimiter"
                          : a.given[O_LABEL_COLUMN] ? "--label-column"
                                                    : NULL;
    if (a.train_labels && !train_idx) {
        errmsg("--train-labels: %s is read as CSV, whose labels are a column (--label-column)",
               train_path);
        return EXIT_USAGE;
    }
    if (a.test_labels && !test_idx) {
        errmsg("--test-labels: %s is read as CSV, whose labels are a column (--label-column)",
               test_path);
        return EXIT_USAGE;
    }
    if (csv_opt && !any_csv) {
        errmsg("%s applies to CSV files, and the data is IDX", csv_opt);
        return EXIT_USAGE;
    }
    if (a.regression && (train_idx || test_idx)) {
        errmsg("--regression and IDX data contradict: IDX labels are classes");
        return EXIT_USAGE;
    }
    if (a.standardize < 0)
        a.standardize = 1;

    dset all = {0}, train = {0}, val = {0}, test = {0};
    gn_net *net = NULL;
    gn_csv_options csv = csv_options(&a, a.regression);
    double t0 = now_seconds();
    if ((rc = load_data(&train, train_path, train_labels, "--train-labels", train_idx, &csv)))
        goto done;
    size_t n_file = gn_dataset_n_samples(train.ds);
    if (test_path) {
        if ((rc = load_data(&test, test_path, test_labels, "--test-labels", test_idx, &csv)))
            goto done;
    } else {
        all = train;
        train = (dset){0};
        if ((rc = split_data(&all, a.test_frac, a.split_seed, "testing", &test, &train)))
            goto done;
    }
    size_t n_features = gn_dataset_n_features(train.ds), n_out = gn_dataset_n_outputs(train.ds);
    if (gn_dataset_n_features(test.ds) != n_features) {
        errmsg("%s has %zu features per sample, but %s has %zu", test_path,
               gn_dataset_n_features(test.ds), train_path, n_features);
        rc = EXIT_RUNTIME;
        goto done;
    }
    if (!a.regression) {
        /* One class count for both sets, whichever file happens to lack the last class. */
        size_t k = gn_dataset_n_outputs(test.ds);
        n_out = k > n_out ? k : n_out;
        if ((rc = widen_classes(&train, n_out, train_path)) ||
            (rc = widen_classes(&test, n_out, test_path)))
            goto done;
        if (n_out < 2) {
            errmsg("%s has only one class (label %zu): there is nothing to tell apart "
                   "(is --label-column right?)",
                   train_path, n_out - 1);
            rc = EXIT_RUNTIME;
            goto done;
        }
    }
    if (a.val_split > 0.0) {
        all = train;
        train = (dset){0};
        if ((rc = split_data(&all, a.val_split, a.split_seed, "validation", &val, &train)))
            goto done;
    }
    double load_seconds = now_seconds() - t0;

    /* The network. */
    if (a.n_sizes == 0 && !a.train) {
        parse_layers("DEF_FASHION_LAYERS", DEF_FASHION_LAYERS, a.sizes, &a.n_sizes);
    } else if (a.n_sizes == 0) {
        a.sizes[0] = n_features;
        a.sizes[1] = DEF_HIDDEN;
        a.sizes[2] = n_out;
        a.n_sizes = 3;
    }
    if (a.sizes[0] != n_features || a.sizes[a.n_sizes - 1] != n_out) {
        fputs("gemmnet: --layers ", stderr);
        print_sizes(stderr, a.sizes, a.n_sizes);
        fprintf(stderr,
                " does not fit %s: it has %zu features and %zu %s, so the layers must start "
                "with %zu and end with %zu\n",
                train_path, n_features, n_out, a.regression ? "targets" : "classes", n_features,
                n_out);
        rc = EXIT_USAGE;
        goto done;
    }
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.n_sizes = a.n_sizes;
    cfg.sizes = a.sizes;
    cfg.hidden_act = (gn_act)a.act;
    cfg.output_act = a.given[O_OUT]          ? (gn_act)a.out
                     : a.regression          ? GN_ACT_IDENTITY
                     : a.loss == GN_LOSS_BCE ? GN_ACT_SIGMOID
                                             : GN_ACT_SOFTMAX;
    cfg.loss = (gn_loss)a.loss;
    cfg.init = (gn_init)a.init;
    cfg.seed = a.seed;
    char why[256] = "";
    gn_status st;
    if ((st = gn_net_config_check(&cfg, why, sizeof why)) != GN_OK ||
        (st = gn_net_create(&net, &cfg)) != GN_OK) {
        fprintf(stderr, "gemmnet: cannot create the network (layers ");
        print_sizes(stderr, a.sizes, a.n_sizes);
        fprintf(stderr, "): %s\n", why[0] ? why : gn_strerror(st));
        rc = st == GN_ERR_ARG || st == GN_ERR_UNSUPPORTED ? EXIT_USAGE : EXIT_RUNTIME;
        goto done;
    }
    if ((st = gn_net_set_impl(net, (gn_impl)a.impl)) != GN_OK) {
        rc = net_failed(net, st);
        goto done;
    }
    if ((rc = set_threads(a.threads)))
        goto done;

    size_t n_train = gn_dataset_n_samples(train.ds), n_test = gn_dataset_n_samples(test.ds);
    size_t n_val = val.ds ? gn_dataset_n_samples(val.ds) : 0;
    gn_fit_options fit = fit_options(&a);
    const gn_optimizer_config *oc = &fit.opt;
    if (!a.quiet) {
        printf("data %s: %zu samples (%zu train, %zu val, %zu test), %zu features, %zu %s\n",
               a.train ? train_path : fm.dir, n_file + (test_path ? n_test : 0), n_train, n_val,
               n_test, n_features, n_out, a.regression ? "targets" : "classes");
        printf("net ");
        print_sizes(stdout, a.sizes, a.n_sizes);
        printf(" act=%s out=%s loss=%s init=%s seed=%llu standardize=%s impl=%s threads=%d\n",
               name_of(hidden_acts, a.act), name_of(output_acts, (int)cfg.output_act),
               name_of(losses, a.loss), name_of(inits, a.init), (unsigned long long)a.seed,
               a.standardize ? "yes" : "no", name_of(impls, a.impl), gn_get_threads());
        printf("train opt=%s lr=%g schedule=%s epochs=%zu batch=%zu", name_of(optimizers, oc->kind),
               (double)oc->lr, name_of(schedules, a.schedule), fit.epochs, fit.batch);
        if (fit.dropout > 0.0f)
            printf(" dropout=%g", (double)fit.dropout);
        if (fit.patience > 0)
            printf(" patience=%zu", fit.patience);
        printf("\n");
        fflush(stdout);
    }

    progress pr = {a.quiet, a.regression, 0, 0, a.every, fit.epochs, 0.0};
    pr.bar = !a.quiet && isatty(STDERR_FILENO);
    fit.on_epoch = on_epoch;
    fit.on_batch = pr.bar ? on_batch : NULL;
    fit.user = &pr;
    gn_fit_result res;
    st = gn_net_fit(net, train.ds, val.ds, &fit, &res);
    if (st != GN_OK) {
        rc = net_failed(net, st);
        goto done;
    }
    if (a.save) {
        char err[512] = "";
        if ((st = gn_net_save(net, a.save, err, sizeof err)) != GN_OK) {
            errmsg("%s", err[0] ? err : gn_strerror(st));
            rc = EXIT_RUNTIME;
            goto done;
        }
    }

    scores s;
    if ((rc = evaluate(net, test.ds, a.regression, &s)))
        goto done;
    if (!a.quiet) {
        printf("test_loss=%.4f test_samples=%zu load_seconds=%.4g", s.loss, n_test, load_seconds);
        if (val.ds)
            printf(" best_epoch=%zu best_val_loss=%.4f%s", res.best_epoch, res.best_val_loss,
                   res.stopped_early == 1 ? " stopped_early=yes" : "");
        if (a.save)
            printf(" saved=%s", a.save);
        printf("\n");
    }
    if (a.confusion && !a.regression && (rc = print_confusion(net, test.ds)))
        goto done;
    double rate = res.train_seconds > 0.0 ? (double)res.samples / res.train_seconds : 0.0;
    if (a.regression)
        printf("test_mse=%.6g test_r2=%.4f", s.mse, s.r2);
    else
        printf("test_accuracy=%.4f", s.accuracy);
    printf(" train_seconds=%.4g samples_per_s=%.0f epochs=%zu\n", res.train_seconds, rate,
           res.epochs);
    rc = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;

done:
    gn_net_free(net);
    dset_free(&all);
    dset_free(&train);
    dset_free(&val);
    dset_free(&test);
    return rc;
}

/*==== eval ==================================================================================*/

static int cmd_eval(int argc, char **argv)
{
    cli_args a;
    int rc = parse_command(CMD_EVAL, "eval", eval_text, argc, argv, &a);
    if (rc >= 0)
        return rc;
    gn_net *net = NULL;
    dset test = {0};
    if ((rc = set_threads(a.threads)) || (rc = load_model(&net, a.model, (gn_impl)a.impl)))
        goto done;
    int idx = is_idx(a.test), regression = is_regression_model(net);
    if (a.test_labels && !idx) {
        errmsg("--test-labels: %s is read as CSV, whose labels are a column", a.test);
        rc = EXIT_USAGE;
        goto done;
    }
    if (idx && regression) {
        errmsg("%s is a regression model, and IDX labels are classes", a.model);
        rc = EXIT_RUNTIME;
        goto done;
    }
    gn_csv_options csv = csv_options(&a, regression);
    if ((rc = load_data(&test, a.test, a.test_labels, "--test-labels", idx, &csv)))
        goto done;
    size_t ni = gn_net_n_inputs(net), no = gn_net_n_outputs(net);
    if (gn_dataset_n_features(test.ds) != ni) {
        errmsg("%s has %zu features per sample, but the model takes %zu inputs", a.test,
               gn_dataset_n_features(test.ds), ni);
        rc = EXIT_RUNTIME;
        goto done;
    }
    if (regression && gn_dataset_n_outputs(test.ds) != no) {
        errmsg("%s has one target per sample, but the model has %zu outputs", a.test, no);
        rc = EXIT_RUNTIME;
        goto done;
    }
    if (!regression && (rc = widen_classes(&test, no, a.test)))
        goto done;
    scores s;
    if ((rc = evaluate(net, test.ds, regression, &s)))
        goto done;
    if (a.confusion && !regression && (rc = print_confusion(net, test.ds)))
        goto done;
    if (regression)
        printf("test_mse=%.6g test_r2=%.4f", s.mse, s.r2);
    else
        printf("test_accuracy=%.4f", s.accuracy);
    printf(" test_loss=%.4f samples=%zu\n", s.loss, gn_dataset_n_samples(test.ds));
    rc = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
done:
    gn_net_free(net);
    dset_free(&test);
    return rc;
}

/*==== predict ===============================================================================*/

static int cmd_predict(int argc, char **argv)
{
    cli_args a;
    int rc = parse_command(CMD_PREDICT, "predict", predict_text, argc, argv, &a);
    if (rc >= 0)
        return rc;
    gn_net *net = NULL;
    dset in = {0};
    float *own_x = NULL, *Y = NULL;
    if ((rc = set_threads(a.threads)) || (rc = load_model(&net, a.model, (gn_impl)a.impl)))
        goto done;
    if (a.labels && is_regression_model(net)) {
        errmsg("--labels: %s is a regression model, its outputs are not class scores", a.model);
        rc = EXIT_USAGE;
        goto done;
    }
    size_t ni = gn_net_n_inputs(net), no = gn_net_n_outputs(net), n = 0, ldx = ni;
    const float *X;
    if (is_idx(a.input)) {
        char err[1024] = "";
        gn_status st = gn_dataset_load_idx(&in.ds, a.input, NULL, 0, err, sizeof err);
        if (st != GN_OK) { /* images only: no labels file is needed to predict */
            errmsg("%s", err[0] ? err : gn_strerror(st));
            rc = EXIT_RUNTIME;
            goto done;
        }
        X = gn_dataset_x(in.ds);
        ldx = gn_dataset_ldx(in.ds);
        n = gn_dataset_n_samples(in.ds);
        if (gn_dataset_n_features(in.ds) != ni) {
            errmsg("%s has %zu features per sample, but the model takes %zu inputs", a.input,
                   gn_dataset_n_features(in.ds), ni);
            rc = EXIT_RUNTIME;
            goto done;
        }
    } else {
        gn_csv_options csv = csv_options(&a, 0);
        if ((rc = read_features_csv(a.input, &csv, ni, &own_x, &n)))
            goto done;
        X = own_x;
    }
    Y = n <= SIZE_MAX / no / sizeof *Y ? malloc(n * no * sizeof *Y) : NULL;
    if (!Y) {
        errmsg("out of memory for the outputs of %zu samples", n);
        rc = EXIT_RUNTIME;
        goto done;
    }
    gn_status st = gn_net_predict(net, X, ldx, n, Y, no);
    if (st != GN_OK) {
        rc = net_failed(net, st);
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        const float *y = Y + j * no;
        if (a.labels) {
            size_t best = 0;
            for (size_t i = 1; i < no; i++)
                best = y[i] > y[best] ? i : best;
            printf("%zu\n", no == 1 ? (size_t)(y[0] > 0.5f) : best);
        } else {
            for (size_t i = 0; i < no; i++)
                printf("%s%.9g", i ? "," : "", (double)y[i]);
            printf("\n");
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errmsg("writing the predictions: %s", strerror(errno));
        rc = EXIT_RUNTIME;
    }
done:
    gn_net_free(net);
    dset_free(&in);
    free(own_x);
    free(Y);
    return rc;
}

/*==== main ==================================================================================*/

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *const *usage;
} commands[] = {
    {"train", cmd_train, train_text},
    {"eval", cmd_eval, eval_text},
    {"predict", cmd_predict, predict_text},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr, overview_text);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2) {
            errmsg("version takes no arguments");
            return EXIT_USAGE;
        }
        printf("gemmnet %s\n", gn_version());
        return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 3) {
            errmsg("help takes at most one command");
            return EXIT_USAGE;
        }
        for (int i = 0; argc == 3 && i < N_COMMANDS; i++)
            if (strcmp(argv[2], commands[i].name) == 0) {
                print_usage(stdout, commands[i].usage);
                return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
            }
        if (argc == 3) {
            errmsg("help: unknown command '%s'", argv[2]);
            return EXIT_USAGE;
        }
        print_usage(stdout, overview_text);
        for (int i = 0; i < N_COMMANDS; i++) {
            fputs("\n", stdout);
            print_usage(stdout, commands[i].usage);
        }
        return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
    }
    errmsg("unknown command '%s'\nTry 'gemmnet help'.", cmd);
    return EXIT_USAGE;
}
