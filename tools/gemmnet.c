/* gemmnet — command-line front end: parses options, calls the library, prints results.
 *
 *   gemmnet train    train a network (default: Fashion-MNIST), report test accuracy, --save
 *   gemmnet eval     evaluate a saved model on a test set
 *   gemmnet predict  a saved model's outputs (or classes) for new inputs
 *   gemmnet export-c a saved model's inference as a C file (export_c.c)
 *
 * Exit status: 0 success, 1 data or runtime error (file, library), 2 usage error (bad command
 * line, or options that contradict each other or the data). Messages go to stderr, prefixed
 * "gemmnet: "; results go to stdout.
 */
#define _POSIX_C_SOURCE 200809L /* access, getline, clock_gettime, isatty */
#include <gemmnet.h>

#include "cli_mpi.h"
#include "export_c.h"

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
#include <sys/stat.h>
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
#define DEF_H5_X           "X" /* HDF5 dataset names (--h5-x, --h5-y) */
#define DEF_H5_Y           "y"

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
    "  info [FILE]      check a model file and print what it holds; without FILE, the BLAS\n"
    "                   in use and its threading\n"
    "  export-c MODEL   write a model's inference as a C file that needs no BLAS or gemmnet\n"
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
    "                       gzip content), a NumPy .npy array or an HDF5 file (told by\n"
    "                       their first bytes), or CSV; --data is an alias. '-' reads a CSV\n"
    "                       from standard input (the others must be regular files)\n"
    "  --test FILE          test set, of any kind (default: --test-frac of --train)\n"
    "  --train-labels FILE  labels of --train: IDX labels (default: its name with\n"
    "                       'images-idx3' replaced by 'labels-idx1'), or for a .npy --train\n"
    "                       a .npy of n labels or targets (required); --test-labels FILE\n"
    "                       likewise\n"
    "  --h5-x NAME          HDF5: the features dataset, first axis = samples (default X)\n"
    "  --h5-y NAME          HDF5: the labels or targets dataset (default y)\n",
    /* (split: ISO C only promises string literals of 4095 characters) */
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
    "  --delimiter C        field separator, one character, 'tab' or 'space' (default ',')\n"
    "  --regression         the label is a real-valued target: the defaults become --loss\n"
    "                       quadratic --out identity, targets are standardised, and the\n"
    "                       test set is scored by mse and r2 (also for .npy and HDF5 data,\n"
    "                       whose targets may have k outputs: shape (n, k))\n"
    "network:\n"
    "  --layers A,B,...,Z   all layer widths, inputs first, outputs last (default\n"
    "                       " DEF_FASHION_LAYERS " for Fashion-MNIST, else features,64,outputs)\n"
    "  --act NAME           hidden activation: sigmoid|tanh|relu|leaky-relu|elu|softplus|\n"
    "                       identity (default relu)\n"
    "  --out NAME           output activation: softmax or one of the above (default softmax;\n"
    "                       sigmoid with --loss bce, identity with --regression)\n"
    "  --loss NAME          xent (= cce, needs softmax)|bce (needs sigmoid)|quadratic (= mse)\n"
    "                       |mae|huber (default xent; quadratic with --regression)\n"
    "  --init NAME          auto|xavier|he|nielsen|orthogonal (default auto); orthogonal:\n"
    "                       orthonormal rows or columns, times sqrt 2 in relu, leaky-relu\n"
    "                       and elu layers\n"
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
    "checkpoints:\n"
    "  --save FILE          write the trained model to FILE as a checkpoint: the model (for\n"
    "                       eval, predict and gn_net_load), the optimizer state, the RNG,\n"
    "                       the progress and the run's options, data files and data hash\n"
    "                       (gemmnet info FILE shows them). A run that diverges saves\n"
    "                       nothing, so FILE keeps its last good model\n"
    "  --checkpoint-every K with --save: also write FILE after every K-th epoch, so that a\n"
    "                       crash loses at most K epochs\n"
    "  --stop-after N       with --save: stop after epoch N of the --epochs schedule and save\n"
    "                       (to split a run across jobs; continue it with --resume)\n"
    "  --resume FILE        continue the run FILE was saved from: its options and data files\n"
    "                       are the defaults, the command line's override them (not the\n"
    "                       network nor the optimizer, which are FILE's), and --epochs is\n"
    "                       the total. N epochs, then a resume to N+M, give the weights of\n"
    "                       one N+M epoch run, bit for bit on one thread (--threads 1)\n",
    "output:\n"
    "  --confusion          print the test confusion matrix and per-class precision and\n"
    "                       recall (also with --quiet)\n"
    "  --every K            print every K-th epoch and the last one run (default 1)\n"
    "  --threads N          BLAS threads (default: the BLAS default)\n"
    "  --backend NAME       sgemm library: auto|openblas|onednn|libxsmm (default: the\n"
    "                       environment's GN_BACKEND, else auto: each product on the\n"
    "                       fastest, measured before the first epoch); see 'gemmnet info'\n"
    "  -q, --quiet          print only the final line\n"
    "  -h, --help           print this help\n"
    "data-parallel (under mpirun -np P; see docs/scaling.md):\n"
    "  --reduction NAME     how the ranks sum their gradients: ordered (the same bits in\n"
    "                       every run)|allreduce (one MPI_Allreduce)|overlap (one\n"
    "                       MPI_Iallreduce per layer, during back-propagation); default\n"
    "                       ordered. --batch is the global batch, split among the ranks;\n"
    "                       rank 0 prints and saves; --threads defaults to the cores per rank\n"
    "\n"
    "Prints a line per epoch,\n"
    "  epoch 3/10 train_loss=... [val_loss=... val_accuracy=...] lr=... seconds=...\n"
    "with a progress bar on stderr when it is a terminal, then test_loss and load_seconds\n"
    "(the data loading time), and finally\n"
    "  test_accuracy=... train_seconds=... samples_per_s=... epochs=...\n"
    "or with --regression test_mse=... test_r2=... and the same three timing fields; under\n"
    "mpirun, ranks=P follows and samples_per_s counts the samples of all ranks.\n"
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
    "  --test FILE          test set: IDX images, .npy, HDF5 or CSV (features and a label,\n"
    "                       as for train)\n"
    "  --test-labels FILE   IDX labels (default: derived from the images file name), or the\n"
    "                       .npy labels or targets of a .npy --test (required)\n"
    "  --h5-x NAME          HDF5: features dataset (default: as in training, else X)\n"
    "  --h5-y NAME          HDF5: labels or targets dataset (default: as in training, else y)\n"
    "  --label-column N     CSV: 0-based column of the label (default: as in training,\n"
    "                       else the last)\n"
    "  --header WHEN        CSV: auto|yes|no (default: as in training, else auto)\n"
    "  --delimiter C        CSV: field separator, one character, 'tab' or 'space' (default:\n"
    "                       as in training, else ',')\n"
    "  --confusion          also print the confusion matrix, precision and recall\n"
    "  --impl NAME          products: blas|naive|loop (default blas)\n"
    "  --threads N          BLAS threads (default: the BLAS default)\n"
    "  --backend NAME       sgemm library: auto|openblas|onednn|libxsmm (default: GN_BACKEND,\n"
    "                       else openblas until tuned, which inference never does)\n"
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
    "  --input FILE         CSV with one column per model input and no label column ('-':\n"
    "                       standard input), or IDX images, a .npy array or an HDF5 file\n"
    "                       (features only: no labels needed)\n"
    "  --h5-x NAME          HDF5: features dataset (default: as in training, else X)\n"
    "  --header WHEN        CSV: auto|yes|no (default: as in training, else auto: yes if a\n"
    "                       field of the first line is not a number)\n"
    "  --delimiter C        CSV: field separator, one character, 'tab' or 'space' (default:\n"
    "                       as in training, else ',')\n"
    "  --labels             print predicted class indices instead of the outputs\n"
    "  --impl NAME          products: blas|naive|loop (default blas)\n"
    "  --threads N          BLAS threads (default: the BLAS default)\n"
    "  --backend NAME       sgemm library: auto|openblas|onednn|libxsmm (default: GN_BACKEND,\n"
    "                       else openblas until tuned, which inference never does)\n"
    "  -h, --help           print this help\n",
    NULL,
};

static const char *const info_text[] = {
    "usage: gemmnet info [FILE [--batch N]]\n"
    "\n"
    "With FILE, a model file or checkpoint (train --save), checks it as the loader does and\n"
    "prints its format version, size, sections and checksum, the network (layer widths,\n"
    "activations, loss, parameter count), each weight matrix's largest and smallest singular\n"
    "values and their ratio, the condition number ('spectrum' lines), its scaling, optimizer\n"
    "state (kind, settings, learning rate, step count), training progress (epochs done, best\n"
    "epoch), whether it holds the RNG state, and its provenance (the options, data files and\n"
    "data hash, time and command line of the run). A rejected file gives exit status 1 and\n"
    "the loader's message, which names the byte offset of the defect. FILE '-' reads\n"
    "standard input.\n"
    "\n"
    "Without FILE, prints the gemmnet version and the BLAS in use: its configuration, the\n"
    "kernels chosen for this CPU, how it threads (sequential, pthreads or openmp), its\n"
    "thread count and the number of cores online; then the sgemm backends available\n"
    "(openblas, onednn, libxsmm) and the default (GN_BACKEND, else auto).\n"
    "\n"
    "  --batch N            with FILE: also tune the model for batches of N on this machine\n"
    "                       and print which backend runs each product ('backend' line:\n"
    "                       forward/delta/weight per layer)\n"
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
    {"auto", GN_INIT_AUTO},       {"xavier", GN_INIT_XAVIER},         {"he", GN_INIT_HE},
    {"nielsen", GN_INIT_NIELSEN}, {"orthogonal", GN_INIT_ORTHOGONAL}, {NULL, 0},
};
static const name_value impls[] = {
    {"blas", GN_IMPL_BLAS},
    {"naive", GN_IMPL_NAIVE},
    {"loop", GN_IMPL_LOOP},
    {NULL, 0},
};
static const name_value backends[] = {
    {"auto", GN_BACKEND_AUTO},
    {"openblas", GN_BACKEND_OPENBLAS},
    {"onednn", GN_BACKEND_ONEDNN},
    {"libxsmm", GN_BACKEND_LIBXSMM},
    {NULL, 0},
};
/* gn_mpi_reduction's values (gemmnet_mpi.h) */
static const name_value reductions[] = {
    {"ordered", 0},
    {"allreduce", 1},
    {"overlap", 2},
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

/* Under mpirun: this rank (−1 when not data-parallel), and whether its messages are left to
 * rank 0 (once training has started, every rank fails alike). */
static int msg_rank = -1, msg_muted;
/* The last message, for the ranks' agreement before training. */
static char last_msg[8192];

void errmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    if (msg_muted)
        return;
    if (msg_rank >= 0)
        fprintf(stderr, "gemmnet[rank %d]: %s\n", msg_rank, last_msg);
    else
        fprintf(stderr, "gemmnet: %s\n", last_msg);
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
    else if (strcmp(s, "space") == 0)
        *out = ' ';
    else if (strlen(s) == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r')
        *out = s[0];
    else {
        errmsg("%s: '%s' is not one character (or 'tab' or 'space'), nor a quote", opt, s);
        return 0;
    }
    return 1;
}

/* The delimiter as parse_delimiter reads it back. */
static const char *delimiter_name(char c, char buf[2])
{
    if (c == '\t')
        return "tab";
    if (c == ' ')
        return "space";
    buf[0] = c;
    buf[1] = '\0';
    return buf;
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
    O_H5_X,
    O_H5_Y,
    O_INPUT,
    O_MODEL,
    O_SAVE,
    O_RESUME,
    O_CHECKPOINT_EVERY,
    O_STOP_AFTER,
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
    O_BACKEND,
    O_REDUCTION,
    O_QUIET,
    O_HELP,
    O_COUNT
} opt_id;

/* Everything the three commands can be told; enumerations are kept as int until used. */
typedef struct cli_args {
    unsigned cmd;
    const char *name;             /* "train", "eval", "predict" */
    unsigned char given[O_COUNT]; /* which options appeared (stored in a resumed checkpoint
                                     or on the command line) */
    unsigned char user[O_COUNT];  /* which options appeared on the command line */
    const char *train, *test, *train_labels, *test_labels, *input, *model, *save, *resume;
    const char *h5_x, *h5_y;             /* HDF5 dataset names of the features and targets */
    int header, regression, standardize; /* header, standardize: −1 auto, 0 no, 1 yes */
    long label_column;
    char delimiter;
    double test_frac, val_split;
    uint64_t split_seed, seed;
    size_t sizes[GN_MAX_SIZES];
    size_t n_sizes; /* 0: derived from the data */
    int act, out, loss, init, impl, opt, schedule;
    int backend;   /* with user[O_BACKEND]; else the library's default (GN_BACKEND, auto) */
    int reduction; /* under mpirun: how gradients are summed (gn_mpi_reduction) */
    double lr, momentum, weight_decay, clip, l2, gamma, min_lr, dropout;
    long epochs, batch, patience, step_epochs, every, threads, checkpoint_every, stop_after;
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
    {"--h5-x", NULL, O_H5_X, CMD_ALL, V_PATH, AT(h5_x), NULL, 0, 0, 0},
    {"--h5-y", NULL, O_H5_Y, TRAIN | CMD_EVAL, V_PATH, AT(h5_y), NULL, 0, 0, 0},
    {"--input", NULL, O_INPUT, CMD_PREDICT, V_PATH, AT(input), NULL, 0, 0, 0},
    {"--model", NULL, O_MODEL, CMD_EVAL | CMD_PREDICT, V_PATH, AT(model), NULL, 0, 0, 0},
    {"--save", NULL, O_SAVE, TRAIN, V_PATH, AT(save), NULL, 0, 0, 0},
    {"--stop-after", NULL, O_STOP_AFTER, TRAIN, V_LONG, AT(stop_after), NULL, 1, MAX_EPOCHS, 0},
    {"--resume", NULL, O_RESUME, TRAIN, V_PATH, AT(resume), NULL, 0, 0, 0},
    {"--checkpoint-every", NULL, O_CHECKPOINT_EVERY, TRAIN, V_LONG, AT(checkpoint_every), NULL, 1,
     MAX_EPOCHS, 0},
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
    {"--backend", NULL, O_BACKEND, CMD_ALL, V_NAME, AT(backend), backends, 0, 0, 0},
    {"--reduction", NULL, O_REDUCTION, TRAIN, V_NAME, AT(reduction), reductions, 0, 0, 0},
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
    a->h5_x = DEF_H5_X;
    a->h5_y = DEF_H5_Y;
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
    case V_PATH:
        if (strcmp(val, "-") == 0 && o->id == O_SAVE) {
            errmsg("%s: a model is written to a file, not to standard output", name);
            return 0;
        }
        return parse_path(name, strcmp(val, "-") == 0 ? "/dev/stdin" : val, p);
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

/* "-" names standard input, which only a file that is read once can be. */
static int is_stdin(const char *path) { return path && strcmp(path, "/dev/stdin") == 0; }

static int n_stdin(const cli_args *a)
{
    return is_stdin(a->train) + is_stdin(a->test) + is_stdin(a->train_labels) +
           is_stdin(a->test_labels) + is_stdin(a->input) + is_stdin(a->model) + is_stdin(a->resume);
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
        {g[O_STOP_AFTER] && !a->save,
         "--stop-after needs --save FILE (to resume from; a run that stops early is saved)"},
        {g[O_CHECKPOINT_EVERY] && !a->save,
         "--checkpoint-every needs --save FILE (the checkpoint is written there)"},
        {n_stdin(a) > 1, "only one file can be '-' (standard input)"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (rules[i].bad) {
            errmsg("%s", rules[i].why);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* check_args, then the defaults that depend on other options: 0 or EXIT_USAGE. */
static int finish_args(cli_args *a)
{
    if (check_args(a) != 0)
        return EXIT_USAGE;
    if (a->regression && !a->given[O_LOSS])
        a->loss = GN_LOSS_QUADRATIC;
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
    if (r == PARSE_OK)
        memcpy(a->user, a->given, sizeof a->user);
    /* A resumed run is checked once the checkpoint's options are under the user's. */
    if (r == PARSE_OK && a->resume)
        return -1;
    if (r == PARSE_OK && finish_args(a) == 0)
        return -1;
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

/*==== Provenance: what a checkpoint records about its run ===================================
 * train --save writes "key=value" lines into the checkpoint (gn_checkpoint_save's meta): the
 * effective options as a canonical argument list (args=, read back by --resume with the same
 * parser), the data files and a hash of the training samples, the CSV options that eval and
 * predict default to, and the command line. Words are quoted as a POSIX shell would need, so
 * args= and command= can be pasted into one.
 */

/* A growing string; after a failed allocation it stays empty and oom is set. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)n + 256;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void sb_free(sbuf *b)
{
    free(b->s);
    *b = (sbuf){0};
}

/* One word, single-quoted unless it only has characters no shell treats specially. */
static void sb_word(sbuf *b, const char *w)
{
    int plain = w[0] != '\0';
    for (const char *p = w; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-_.,/:=+@%", *p);
    if (plain) {
        sb_printf(b, "%s", w);
        return;
    }
    sb_printf(b, "'");
    for (const char *p = w; *p; p++)
        sb_printf(b, *p == '\'' ? "'\\''" : "%c", *p);
    sb_printf(b, "'");
}

/* Splits s in place into at most max words: blanks separate, '…' quotes, \ escapes one
 * character. Returns the count, or −1 (unterminated quote, too many words). */
static int split_words(char *s, char **words, int max)
{
    int n = 0;
    char *r = s, *w = s;
    for (;;) {
        while (*r == ' ' || *r == '\t')
            r++;
        if (!*r)
            return n;
        if (n == max)
            return -1;
        words[n++] = w;
        while (*r && *r != ' ' && *r != '\t') {
            if (*r == '\'') {
                for (r++; *r && *r != '\'';)
                    *w++ = *r++;
                if (!*r)
                    return -1;
                r++;
            } else if (*r == '\\' && r[1]) {
                *w++ = r[1];
                r += 2;
            } else {
                *w++ = *r++;
            }
        }
        if (*r)
            r++;
        *w++ = '\0';
    }
}

/* The shortest decimal that reads back as the same double (or, for shortest_float, the same
 * float): the stored options must give the same run, and stay readable. */
static const char *real_text(double v, int as_float, char buf[32])
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (as_float ? (float)back == (float)v : back == v)
            break;
    }
    return buf;
}

/* 64-bit FNV-1a over the training samples (features, then targets, as float32 bytes in
 * sample order): cheap, and enough to tell a resumed run that its data changed. */
static uint64_t hash_dataset(const gn_dataset *ds)
{
    uint64_t h = 0xcbf29ce484222325u;
    size_t n = gn_dataset_n_samples(ds);
    for (int part = 0; part < 2; part++) {
        const float *base = part ? gn_dataset_y(ds) : gn_dataset_x(ds);
        size_t rows = part ? gn_dataset_n_outputs(ds) : gn_dataset_n_features(ds);
        size_t ld = part ? gn_dataset_ldy(ds) : gn_dataset_ldx(ds);
        for (size_t j = 0; j < n; j++) {
            const unsigned char *p = (const unsigned char *)(base + j * ld);
            for (size_t i = 0; i < rows * sizeof(float); i++)
                h = (h ^ p[i]) * 0x100000001b3u;
        }
    }
    return h;
}

/* A provenance value: one line of valid UTF-8, so control characters and stray bytes of a
 * file name become '?' (the names are for people; the data hash is what resume checks). */
static void sb_value(sbuf *b, const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    while (*p) {
        size_t len = *p < 0x80             ? 1
                     : (*p & 0xE0) == 0xC0 ? 2
                     : (*p & 0xF0) == 0xE0 ? 3
                     : (*p & 0xF8) == 0xF0 ? 4
                                           : 0;
        int ok = len > 0 && !(len == 1 && *p < 0x20) && *p != 0x7F;
        for (size_t i = 1; ok && i < len; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && len > 1)
            ok = !(len == 2 && *p < 0xC2) && !(len == 3 && *p == 0xE0 && p[1] < 0xA0) &&
                 !(len == 4 && (*p > 0xF4 || (*p == 0xF0 && p[1] < 0x90)));
        if (!ok) {
            sb_printf(b, "?");
            p++;
            continue;
        }
        sb_printf(b, "%.*s", (int)len, (const char *)p);
        p += len;
    }
}

static void sb_meta(sbuf *b, const char *key, const char *value)
{
    sb_printf(b, "%s=", key);
    sb_value(b, value);
    sb_printf(b, "\n");
}

/* Everything of the run that goes into the checkpoint beside the network and optimizer. */
typedef struct run_facts {
    const char *train, *train_labels, *test, *test_labels; /* files read (NULL: none) */
    int fashion;                                           /* the default dataset */
    int any_csv;                                           /* CSV options apply */
    const size_t *sizes;
    size_t n_sizes;
    int out_act;
    const gn_optimizer_config *oc;
    uint64_t hash;
    size_t n_train;
    const char *resumed_from;
    size_t resumed_epoch;
    int any_hdf5; /* --h5-x and --h5-y apply */
} run_facts;

/* The effective training options as the train command line reads them back. */
static void sb_args(sbuf *b, const cli_args *a, const run_facts *f)
{
    char r[32], d[2];
    const gn_optimizer_config *oc = f->oc;
    sb_printf(b, "--layers ");
    for (size_t i = 0; i < f->n_sizes; i++)
        sb_printf(b, "%s%zu", i ? "," : "", f->sizes[i]);
    sb_printf(b, " --act %s --out %s --loss %s --init %s --seed %llu --impl %s",
              name_of(hidden_acts, a->act), name_of(output_acts, f->out_act),
              name_of(losses, a->loss), name_of(inits, a->init), (unsigned long long)a->seed,
              name_of(impls, a->impl));
    sb_printf(b, " --opt %s --lr %s", name_of(optimizers, oc->kind), real_text(oc->lr, 1, r));
    if (oc->kind == GN_OPT_MOMENTUM || oc->kind == GN_OPT_NESTEROV)
        sb_printf(b, " --momentum %s", real_text(oc->momentum, 1, r));
    sb_printf(b, " --weight-decay %s", real_text(oc->weight_decay, 1, r));
    sb_printf(b, " --l2 %s", real_text(oc->l2, 1, r));
    sb_printf(b, " --clip %s", real_text(oc->clip_norm, 1, r));
    sb_printf(b, " --schedule %s", name_of(schedules, a->schedule));
    if (a->schedule == GN_SCHEDULE_STEP)
        sb_printf(b, " --step-epochs %ld --gamma %s", a->step_epochs, real_text(a->gamma, 1, r));
    if (a->schedule == GN_SCHEDULE_COSINE)
        sb_printf(b, " --min-lr %s", real_text(a->min_lr, 1, r));
    sb_printf(b, " --epochs %ld --batch %ld --dropout %s", a->epochs, a->batch,
              real_text(a->dropout, 1, r));
    if (a->val_split > 0.0)
        sb_printf(b, " --val-split %s --patience %ld", real_text(a->val_split, 0, r), a->patience);
    if (a->train && !a->test)
        sb_printf(b, " --test-frac %s", real_text(a->test_frac, 0, r));
    sb_printf(b, " --split-seed %llu --standardize %s%s", (unsigned long long)a->split_seed,
              a->standardize ? "yes" : "no", a->regression ? " --regression" : "");
    if (f->any_csv) {
        sb_printf(b, " --label-column %ld --header %s --delimiter ", a->label_column,
                  name_of(whens, a->header));
        sb_word(b, delimiter_name(a->delimiter, d));
    }
    if (f->any_hdf5) {
        sb_printf(b, " --h5-x ");
        sb_word(b, a->h5_x);
        sb_printf(b, " --h5-y ");
        sb_word(b, a->h5_y);
    }
}

/* The provenance text of a run; NULL if out of memory. The caller frees it. */
static char *make_meta(const cli_args *a, const run_facts *f, int argc, char **argv)
{
    sbuf b = {0}, w = {0};
    char r[32], d[2], when[32] = "";
    sb_args(&w, a, f);
    sb_meta(&b, "args", w.oom ? "" : w.s);
    sb_free(&w);
    if (f->fashion)
        sb_meta(&b, "dataset", "fashion-mnist");
    if (f->train)
        sb_meta(&b, "train_file", f->train);
    if (f->train_labels)
        sb_meta(&b, "train_labels", f->train_labels);
    if (f->test)
        sb_meta(&b, "test_file", f->test);
    if (f->test_labels)
        sb_meta(&b, "test_labels", f->test_labels);
    sb_printf(&b, "train_hash=fnv1a64:%016llx\ntrain_samples=%zu\nseed=%llu\n",
              (unsigned long long)f->hash, f->n_train, (unsigned long long)a->seed);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sb_meta(&b, "created", when);
    sb_meta(&b, "regression", a->regression ? "yes" : "no");
    if (f->any_csv) {
        snprintf(r, sizeof r, "%ld", a->label_column);
        sb_meta(&b, "label_column", r);
        sb_meta(&b, "header", name_of(whens, a->header));
        sb_meta(&b, "delimiter", delimiter_name(a->delimiter, d));
    }
    if (f->any_hdf5) { /* the dataset names eval and predict default to */
        sb_meta(&b, "h5_x", a->h5_x);
        sb_meta(&b, "h5_y", a->h5_y);
    }
    if (f->resumed_from) {
        sb_meta(&b, "resumed_from", f->resumed_from);
        snprintf(r, sizeof r, "%zu", f->resumed_epoch);
        sb_meta(&b, "resumed_epoch", r);
    }
    sb_printf(&w, "gemmnet");
    for (int i = 0; i < argc; i++) {
        sb_printf(&w, " ");
        sb_word(&w, argv[i]);
    }
    if (!w.oom && w.len > 8192) /* a provenance section holds at most 64 KiB */
        strcpy(w.s + 8192 - 4, "...");
    sb_meta(&b, "command", w.oom ? "" : w.s);
    sb_free(&w);
    if (b.oom) {
        sb_free(&b);
        return NULL;
    }
    return b.s;
}

/* CSV options and kind of model, from a checkpoint's provenance, for eval and predict. */
typedef struct model_meta {
    int have_csv, header, regression; /* regression: −1 unknown */
    long label_column;
    char delimiter;
    char h5_x[256], h5_y[256]; /* HDF5 dataset names of training ("": not recorded) */
} model_meta;

static void read_model_meta(const gn_checkpoint *ck, model_meta *m)
{
    char v[64];
    long x;
    *m = (model_meta){0, -1, -1, -1, ',', "", ""};
    if (gn_checkpoint_meta_get(ck, "regression", v, sizeof v) >= 0)
        m->regression = strcmp(v, "yes") == 0;
    int ok = gn_checkpoint_meta_get(ck, "label_column", v, sizeof v) >= 0;
    char *end;
    x = ok ? strtol(v, &end, 10) : 0;
    ok = ok && end != v && *end == '\0' && x >= -1 && x <= INT_MAX;
    m->label_column = x;
    const name_value *t = whens;
    if (ok && gn_checkpoint_meta_get(ck, "header", v, sizeof v) >= 0)
        while (t->name && strcmp(v, t->name) != 0)
            t++;
    ok = ok && t->name;
    m->header = ok ? t->value : -1;
    ok = ok && gn_checkpoint_meta_get(ck, "delimiter", v, sizeof v) >= 0;
    if (ok) {
        if (strcmp(v, "tab") == 0)
            m->delimiter = '\t';
        else if (strcmp(v, "space") == 0)
            m->delimiter = ' ';
        else if (strlen(v) == 1)
            m->delimiter = v[0];
        else
            ok = 0;
    }
    m->have_csv = ok;
    if (gn_checkpoint_meta_get(ck, "h5_x", m->h5_x, sizeof m->h5_x) < 0 ||
        gn_checkpoint_meta_get(ck, "h5_y", m->h5_y, sizeof m->h5_y) < 0 ||
        strlen(m->h5_x) + 1 >= sizeof m->h5_x || strlen(m->h5_y) + 1 >= sizeof m->h5_y)
        m->h5_x[0] = m->h5_y[0] = '\0'; /* absent, or too long to be a name we wrote */
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

/* A model file or checkpoint, with every check of the loader: 0, or EXIT_RUNTIME after
 * the loader's message (which names the byte offset of a defect). */
static int load_checkpoint(gn_checkpoint **ck, const char *path)
{
    char err[1024] = "";
    gn_status st = gn_checkpoint_load(ck, path, err, sizeof err);
    if (st != GN_OK) {
        errmsg("%s", err[0] ? err : gn_strerror(st));
        return EXIT_RUNTIME;
    }
    return 0;
}

/* --backend, when given (else the library's default stands: GN_BACKEND, or auto). */
static int apply_backend(gn_net *net, const cli_args *a)
{
    if (!a->user[O_BACKEND] || gn_net_set_backend(net, (gn_backend)a->backend) == GN_OK)
        return 0;
    errmsg("--backend %s: %s", name_of(backends, a->backend), gn_net_last_error(net));
    return EXIT_USAGE;
}

/* The network of a model file, and what its provenance says about reading data for it. */
static int load_model(gn_net **net, model_meta *meta, const char *path, const cli_args *a)
{
    gn_checkpoint *ck = NULL;
    int rc = load_checkpoint(&ck, path);
    if (rc)
        return rc;
    read_model_meta(ck, meta);
    *net = gn_checkpoint_take_net(ck);
    gn_checkpoint_free(ck);
    gn_status st = gn_net_set_impl(*net, (gn_impl)a->impl);
    return st == GN_OK ? apply_backend(*net, a) : net_failed(*net, st);
}

/*==== Data files ============================================================================*/

/* IDX when the name says so or the content does: the IDX magic 00 00 08, or gzip, which
 * only the IDX loader reads. Anything else (a missing file included) is read as CSV. */
static int is_idx(const char *path)
{
    const char *base = strrchr(path, '/');
    if (strstr(base ? base + 1 : path, "idx"))
        return 1;
    /* Looking into a pipe would eat the bytes the loader needs: only a regular file is
     * sniffed, and anything else (standard input, a FIFO) is CSV. */
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    unsigned char m[3] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(m, 1, sizeof m, f);
    fclose(f);
    return got == 3 && ((m[0] == 0 && m[1] == 0 && m[2] == 8) || (m[0] == 0x1f && m[1] == 0x8b));
}

/* The kinds of data file. .npy and HDF5 are told by their leading bytes, "\x93NUMPY" and
 * "\x89HDF\r\n\x1a\n"; IDX as is_idx says; anything else is CSV. */
enum { DATA_CSV, DATA_IDX, DATA_NPY, DATA_HDF5 };
static const char *const data_kind_names[] = {"CSV", "IDX", ".npy", "HDF5"};

static int data_kind(const char *path)
{
    struct stat sb;
    unsigned char m[8] = {0};
    size_t got = 0;
    /* (only a regular file is sniffed: looking into a pipe would eat its bytes) */
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        FILE *f = fopen(path, "rb");
        if (f) {
            got = fread(m, 1, sizeof m, f);
            fclose(f);
        }
    }
    if (got >= 6 && memcmp(m, "\x93NUMPY", 6) == 0)
        return DATA_NPY;
    if (got == 8 && memcmp(m, "\x89HDF\r\n\x1a\n", 8) == 0)
        return DATA_HDF5;
    return is_idx(path) ? DATA_IDX : DATA_CSV;
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

/* 1 if path is not a pipe or other special file, else 0 after a message: the IDX loader
 * checks sizes against the file's length, which a pipe does not have. */
static int idx_regular(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        errmsg("%s: IDX data must be a regular file (pipes are not supported; CSV can be read "
               "from a pipe)",
               path);
        return 0;
    }
    return 1;
}

/* Loads path as IDX (labels from labels_path, or derived, naming labels_opt in a message),
 * .npy (labels or targets from labels_path, which training and eval need), HDF5 (the datasets
 * --h5-x and --h5-y of a) or CSV, as `kind` says. Returns 0, or the exit status after a
 * message. */
static int load_data(dset *out, const char *path, const char *labels_path, const char *labels_opt,
                     int kind, const gn_csv_options *csv, const cli_args *a)
{
    char err[1024] = "", derived[4096];
    gn_status st;
    if (kind == DATA_NPY || kind == DATA_HDF5) {
        if (kind == DATA_NPY && !labels_path) {
            errmsg("%s is a .npy array of features: give its %s with %s FILE (a .npy array of "
                   "n %s)",
                   path, csv->regression ? "targets" : "labels", labels_opt,
                   csv->regression ? "targets, or n × k" : "class labels");
            return EXIT_USAGE;
        }
        if (kind == DATA_HDF5 && labels_path) {
            errmsg("%s: %s is for IDX and .npy data; the labels of an HDF5 file are its "
                   "dataset --h5-y (default '" DEF_H5_Y "')",
                   path, labels_opt);
            return EXIT_USAGE;
        }
        gn_array_options ao;
        gn_array_options_defaults(&ao);
        ao.regression = csv->regression;
        st = kind == DATA_NPY
                 ? gn_dataset_load_npy(&out->ds, path, labels_path, &ao, err, sizeof err)
                 : gn_dataset_load_hdf5(&out->ds, path, a->h5_x, a->h5_y, &ao, err, sizeof err);
    } else if (kind == DATA_IDX) {
        if (!labels_path) {
            if (!derive_labels(path, labels_opt, derived, sizeof derived))
                return EXIT_USAGE;
            labels_path = derived;
        }
        if (!idx_regular(path) || !idx_regular(labels_path))
            return EXIT_RUNTIME;
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
        errmsg("%s: cannot open: %s", path, strerror(errno)); /* as the library's loaders */
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

/* Per-epoch lines on stdout and, on a terminal, a progress bar on stderr. An epoch line that
 * --every skips is kept, so that the last epoch run is printed even when training stops
 * before the planned last epoch (early stopping, divergence). */
typedef struct progress {
    int quiet, regression, bar, drawn;
    long every;
    size_t epochs;
    double last_draw;
    size_t stop_after;    /* --stop-after: ask gn_net_fit to stop after this epoch; 0 never */
    size_t pending_epoch; /* the epoch of `pending`, 0 if none */
    char pending[256];
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

/* Prints the kept epoch line, if any. */
static void flush_epoch_line(progress *pr)
{
    if (!pr->pending_epoch)
        return;
    printf("%s\n", pr->pending);
    fflush(stdout);
    pr->pending_epoch = 0;
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
    int stop = pr->stop_after && info->epoch >= pr->stop_after;
    if (pr->quiet)
        return stop;
    char *b = pr->pending;
    size_t len = sizeof pr->pending;
    int n = snprintf(b, len, "epoch %zu/%zu train_loss=%.4f", info->epoch, info->epochs,
                     info->train_loss);
    if (!isnan(info->val_loss) && n >= 0 && (size_t)n < len)
        n += snprintf(b + n, len - (size_t)n,
                      pr->regression ? " val_loss=%.4f" : " val_loss=%.4f val_accuracy=%.4f",
                      info->val_loss, info->val_accuracy);
    if (n >= 0 && (size_t)n < len)
        snprintf(b + n, len - (size_t)n, " lr=%g seconds=%.4g", (double)info->lr, info->seconds);
    pr->pending_epoch = info->epoch;
    if (stop || info->epoch % (size_t)pr->every == 0 || info->epoch == info->epochs)
        flush_epoch_line(pr);
    return stop;
}

/*==== train --resume ========================================================================*/

/* What a resumed run takes from its checkpoint and keeps while it trains. */
typedef struct resumed {
    gn_checkpoint *ck;        /* owns the progress's best parameters */
    gn_net *net;              /* taken from ck */
    gn_optimizer *opt;        /* taken from ck */
    gn_fit_progress progress; /* epochs done, best epoch */
    char *args;               /* the words of args= point into it */
    char train[4096], train_labels[4096], test[4096], test_labels[4096], hash[64];
    int fashion; /* the run trained on the default dataset */
} resumed;

static void resumed_free(resumed *r)
{
    gn_checkpoint_free(r->ck);
    gn_net_free(r->net);
    gn_optimizer_free(r->opt);
    free(r->args);
    r->ck = NULL;
    r->net = NULL;
    r->opt = NULL;
    r->args = NULL;
}

/* A provenance value that fits buf: 1, else 0 (absent, or too long to be a path we wrote). */
static int meta_str(const gn_checkpoint *ck, const char *key, char *buf, size_t len)
{
    long n = gn_checkpoint_meta_get(ck, key, buf, len);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return 0;
    }
    return 1;
}

/* An option with its value as stored in a, e.g. "--lr 0.1", for messages. */
static const char *option_text(const cli_args *a, opt_id id, char *buf, size_t len)
{
    const option *o = options;
    while (o->id != id)
        o++;
    const void *p = (const char *)a + o->field;
    int n = snprintf(buf, len, "%s ", o->name);
    if (n < 0 || (size_t)n >= len)
        return o->name;
    char *b = buf + n;
    len -= (size_t)n;
    switch (o->kind) {
    case V_NAME: snprintf(b, len, "%s", name_of(o->names, *(const int *)p)); break;
    case V_REAL: snprintf(b, len, "%g", *(const double *)p); break;
    case V_U64: snprintf(b, len, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case V_LONG: snprintf(b, len, "%ld", *(const long *)p); break;
    case V_LAYERS:
        for (size_t i = 0, m = 0; i < a->n_sizes && m < len; i++)
            m += (size_t)snprintf(b + m, len - m, "%s%zu", i ? "," : "", a->sizes[i]);
        break;
    default: b[-1] = '\0'; break;
    }
    return buf;
}

/* The architecture and optimizer are the checkpoint's: an option that says otherwise is a
 * usage error rather than silently ignored. 0 or EXIT_USAGE. */
static int check_resumed(const cli_args *a, const resumed *r, const cli_args *base, int have_base)
{
    const gn_net *net = r->net;
    const unsigned char *u = a->user;
    size_t L = gn_net_n_layers(net);
    char what[256] = "";
    opt_id bad = O_LAYERS;
    if (u[O_LAYERS]) {
        int same = a->n_sizes == L + 1;
        for (size_t i = 0; same && i <= L; i++)
            same = a->sizes[i] == gn_net_layer_size(net, i);
        if (!same) {
            int n = snprintf(what, sizeof what, "its network is ");
            for (size_t i = 0; i <= L && n > 0 && (size_t)n < sizeof what; i++)
                n += snprintf(what + n, sizeof what - (size_t)n, "%s%zu", i ? "," : "",
                              gn_net_layer_size(net, i));
        }
    }
    gn_optimizer_config oc;
    gn_optimizer_get_config(r->opt, &oc);
#define CONTRADICTS(id, cond, ...)                                                                 \
    if (!what[0] && u[id] && (cond))                                                               \
    bad = id, snprintf(what, sizeof what, __VA_ARGS__)
    CONTRADICTS(O_ACT, L > 1 && a->act != (int)gn_net_layer_act(net, 1), "its hidden layers are %s",
                name_of(hidden_acts, gn_net_layer_act(net, 1)));
    CONTRADICTS(O_OUT, a->out != (int)gn_net_layer_act(net, L), "its output is %s",
                name_of(output_acts, gn_net_layer_act(net, L)));
    CONTRADICTS(O_LOSS, a->loss != (int)gn_net_loss(net), "its loss is %s",
                name_of(losses, gn_net_loss(net)));
    CONTRADICTS(O_INIT, have_base && base->given[O_INIT] && a->init != base->init,
                "its network was initialised with %s", name_of(inits, base->init));
    CONTRADICTS(O_SEED, have_base && base->given[O_SEED] && a->seed != base->seed,
                "its run's seed is %llu", (unsigned long long)base->seed);
    const float *mean = NULL, *std = NULL;
    gn_net_input_scaling(net, &mean, &std);
    CONTRADICTS(O_STANDARDIZE, a->standardize >= 0 && (a->standardize != 0) != (mean != NULL),
                "its model %s its inputs", mean ? "standardises" : "does not scale");
    CONTRADICTS(O_OPT, a->opt != (int)oc.kind, "its optimizer is %s", name_of(optimizers, oc.kind));
    CONTRADICTS(O_LR, (float)a->lr != oc.lr, "its optimizer's learning rate is %g", (double)oc.lr);
    CONTRADICTS(O_MOMENTUM, (float)a->momentum != oc.momentum, "its momentum is %g",
                (double)oc.momentum);
    CONTRADICTS(O_WEIGHT_DECAY, (float)a->weight_decay != oc.weight_decay, "its weight decay is %g",
                (double)oc.weight_decay);
    CONTRADICTS(O_L2, (float)a->l2 != oc.l2, "its L2 coefficient is %g", (double)oc.l2);
    CONTRADICTS(O_CLIP, (float)a->clip != oc.clip_norm, "its clipping norm is %g",
                (double)oc.clip_norm);
#undef CONTRADICTS
    if (what[0]) {
        char given[256];
        errmsg("%s contradicts the checkpoint %s: %s. A resumed run keeps the checkpoint's "
               "network and optimizer (drop the option, or train a new model)",
               option_text(a, bad, given, sizeof given), a->resume, what);
        return EXIT_USAGE;
    }
    return 0;
}

/* train --resume FILE: loads the checkpoint, reads the options it stores (args=) and then the
 * command line's on top of them, so that only what the user changes differs. The network,
 * loss and optimizer are the checkpoint's; --epochs is the total. Returns -1 to go on, or the
 * exit status after a message. */
static int resume_args(cli_args *a, int argc, char **argv, resumed *r)
{
    const char *file = a->resume;
    int rc = load_checkpoint(&r->ck, file);
    if (rc)
        return rc;
    int has_progress = gn_checkpoint_progress(r->ck, &r->progress);
    r->opt = gn_checkpoint_take_optimizer(r->ck);
    if (!has_progress || !r->opt) {
        errmsg("%s has no %s: it is a model, not a checkpoint to resume (train --save writes "
               "checkpoints)",
               file, r->opt ? "training progress" : "optimizer state");
        return EXIT_RUNTIME;
    }
    r->net = gn_checkpoint_take_net(r->ck);

    /* The checkpoint's options first ... */
    cli_args base;
    args_defaults(&base, CMD_TRAIN, "train");
    long n = gn_checkpoint_meta_get(r->ck, "args", NULL, 0);
    int have_base = n >= 0;
    if (have_base) {
        char *words[256];
        r->args = malloc((size_t)n + 1);
        if (!r->args) {
            errmsg("out of memory");
            return EXIT_RUNTIME;
        }
        gn_checkpoint_meta_get(r->ck, "args", r->args, (size_t)n + 1);
        int nw = split_words(r->args, words, (int)(sizeof words / sizeof words[0]));
        if (nw < 0 || parse_args(nw, words, &base) != PARSE_OK) {
            errmsg("%s: the options it stores (args=) cannot be read back", file);
            return EXIT_RUNTIME;
        }
    }
    /* ... then the command line's over them. */
    *a = base;
    memset(a->given, 0, sizeof a->given);
    if (parse_args(argc, argv, a) != PARSE_OK) /* parsed once already: cannot fail */
        return EXIT_USAGE;
    memcpy(a->user, a->given, sizeof a->user);
    for (int i = 0; i < O_COUNT; i++)
        a->given[i] |= base.given[i];
    if ((rc = check_resumed(a, r, &base, have_base)))
        return rc;

    /* The data of the checkpoint's run, unless the command line names other data. */
    meta_str(r->ck, "train_hash", r->hash, sizeof r->hash);
    if (!a->user[O_TRAIN]) {
        char v[32];
        r->fashion = meta_str(r->ck, "dataset", v, sizeof v) && strcmp(v, "fashion-mnist") == 0;
        if (!r->fashion && meta_str(r->ck, "train_file", r->train, sizeof r->train)) {
            a->train = r->train;
            if (!a->user[O_TRAIN_LABELS] &&
                meta_str(r->ck, "train_labels", r->train_labels, sizeof r->train_labels))
                a->train_labels = r->train_labels;
            if (!a->user[O_TEST] && meta_str(r->ck, "test_file", r->test, sizeof r->test)) {
                a->test = r->test;
                if (!a->user[O_TEST_LABELS] &&
                    meta_str(r->ck, "test_labels", r->test_labels, sizeof r->test_labels))
                    a->test_labels = r->test_labels;
            }
        }
    }
    /* Stored options that no longer apply after the user's changes are dropped. */
    cli_args def;
    args_defaults(&def, CMD_TRAIN, "train");
    unsigned char *g = a->given;
    if (g[O_STEP_EPOCHS] && !a->user[O_STEP_EPOCHS] && a->schedule != GN_SCHEDULE_STEP) {
        g[O_STEP_EPOCHS] = g[O_GAMMA] = 0;
        a->step_epochs = def.step_epochs;
        a->gamma = def.gamma;
    }
    if (g[O_MIN_LR] && !a->user[O_MIN_LR] && a->schedule != GN_SCHEDULE_COSINE) {
        g[O_MIN_LR] = 0;
        a->min_lr = def.min_lr;
    }
    if (g[O_TEST_FRAC] && !a->user[O_TEST_FRAC] && (a->test || !a->train))
        g[O_TEST_FRAC] = 0;

    /* The network and optimizer decide these, whatever was stored. */
    size_t L = gn_net_n_layers(r->net);
    a->n_sizes = L + 1;
    for (size_t i = 0; i <= L; i++)
        a->sizes[i] = gn_net_layer_size(r->net, i);
    if (L > 1)
        a->act = (int)gn_net_layer_act(r->net, 1);
    a->out = (int)gn_net_layer_act(r->net, L);
    a->loss = (int)gn_net_loss(r->net);
    g[O_OUT] = g[O_LOSS] = 1;
    gn_optimizer_config oc;
    gn_optimizer_get_config(r->opt, &oc);
    a->opt = (int)oc.kind;
    a->lr = oc.lr;
    g[O_LR] = 1;
    if (finish_args(a) != 0) {
        fprintf(stderr, "Try 'gemmnet train --help'.\n");
        return EXIT_USAGE;
    }
    size_t done = r->progress.epochs_done;
    if (a->stop_after > 0 && (size_t)a->stop_after <= done) {
        errmsg("--stop-after %ld: %s has done %zu epochs already", a->stop_after, file, done);
        return EXIT_USAGE;
    }
    if ((size_t)a->epochs <= done) {
        errmsg("%s has done %zu epoch%s already, and --epochs is the total: ask for more than "
               "%zu (e.g. --epochs %zu)",
               file, done, done == 1 ? "" : "s", done, done + (done ? done : 1));
        return EXIT_USAGE;
    }
    return -1;
}

/*==== train =================================================================================*/

static int cmd_train(int argc, char **argv)
{
    cli_args a;
    int rc = parse_command(CMD_TRAIN, "train", train_text, argc, argv, &a);
    if (rc >= 0)
        return rc;
    /* Under mpirun: data-parallel, every rank running this same command. Rank 0 alone
     * prints; every rank reads its data, and the ranks agree before training starts. */
    cli_par par = {0, 0, 1, 1, 0, NULL};
    if (par_launched()) {
        if ((rc = par_start(&par, a.reduction)))
            return rc;
        if (par.ranks > 1)
            msg_rank = par.rank;
        if (par.rank != 0 && !freopen("/dev/null", "w", stdout))
            a.quiet = 1;
        if (!a.user[O_THREADS]) { /* the cores shared among the ranks on this host */
            long cores = sysconf(_SC_NPROCESSORS_ONLN);
            long per = cores > 0 ? cores / par.local_ranks : 1;
            a.threads = per > 0 ? per : 1;
        }
    } else if (a.user[O_REDUCTION]) {
        errmsg("--reduction applies to data-parallel training: run gemmnet train under "
               "mpirun -np P");
        return EXIT_USAGE;
    }
    resumed rs = {0};
    dset all = {0}, train = {0}, val = {0}, test = {0};
    gn_net *net = NULL;
    gn_optimizer *opt = NULL;
    char *meta = NULL;
    int fatal = 0;
    if (a.resume && (rc = resume_args(&a, argc, argv, &rs)) >= 0)
        goto done;
    rc = 0;

    /* Where the data comes from, and what kind it is. */
    static fashion fm;
    const char *train_path = a.train, *train_labels = a.train_labels, *test_path = a.test,
               *test_labels = a.test_labels;
    if (!a.train) {
        if (!find_fashion(&fm)) {
            rc = EXIT_RUNTIME;
            goto done;
        }
        train_path = fm.train;
        train_labels = fm.train_labels;
        test_path = fm.test;
        test_labels = fm.test_labels;
    }
    int train_kind = data_kind(train_path),
        test_kind = test_path ? data_kind(test_path) : train_kind;
    int train_idx = train_kind == DATA_IDX, test_idx = test_kind == DATA_IDX;
    int any_csv = train_kind == DATA_CSV || test_kind == DATA_CSV;
    int any_hdf5 = train_kind == DATA_HDF5 || test_kind == DATA_HDF5;
    /* (options stored in a checkpoint that the data makes moot are not the user's mistake) */
    const char *csv_opt = a.user[O_HEADER]         ? "--header"
                          : a.user[O_DELIMITER]    ? "--delimiter"
                          : a.user[O_LABEL_COLUMN] ? "--label-column"
                                                   : NULL;
    rc = EXIT_USAGE;
    if (a.train_labels && train_kind == DATA_CSV) {
        errmsg("--train-labels: %s is read as CSV, whose labels are a column (--label-column)",
               train_path);
        goto done;
    }
    if (a.test_labels && test_kind == DATA_CSV) {
        errmsg("--test-labels: %s is read as CSV, whose labels are a column (--label-column)",
               test_path);
        goto done;
    }
    if (csv_opt && !any_csv) {
        errmsg("%s applies to CSV files, and the data is %s", csv_opt, data_kind_names[train_kind]);
        goto done;
    }
    if ((a.user[O_H5_X] || a.user[O_H5_Y]) && !any_hdf5) {
        errmsg("%s applies to HDF5 files, and the data is %s", a.user[O_H5_X] ? "--h5-x" : "--h5-y",
               data_kind_names[train_kind]);
        goto done;
    }
    if (a.regression && (train_idx || test_idx)) {
        errmsg("--regression and IDX data contradict: IDX labels are classes");
        goto done;
    }
    rc = 0;
    if (a.standardize < 0)
        a.standardize = 1;

    gn_csv_options csv = csv_options(&a, a.regression);
    double t0 = now_seconds();
    if ((rc = load_data(&train, train_path, train_labels, "--train-labels", train_kind, &csv, &a)))
        goto done;
    size_t n_file = gn_dataset_n_samples(train.ds);
    if (test_path) {
        if ((rc = load_data(&test, test_path, test_labels, "--test-labels", test_kind, &csv, &a)))
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
        /* One class count for both sets, whichever file happens to lack the last class (and
         * a resumed network's, if this data lacks its last class). */
        size_t k = gn_dataset_n_outputs(test.ds);
        n_out = k > n_out ? k : n_out;
        if (rs.net && gn_net_n_outputs(rs.net) > n_out)
            n_out = gn_net_n_outputs(rs.net);
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
    /* (only for a checkpoint to record or to compare with; not part of the loading time) */
    uint64_t hash = a.save || rs.hash[0] ? hash_dataset(train.ds) : 0;

    /* The network: the checkpoint's, or a new one. */
    if (a.n_sizes == 0 && !a.train) {
        parse_layers("DEF_FASHION_LAYERS", DEF_FASHION_LAYERS, a.sizes, &a.n_sizes);
    } else if (a.n_sizes == 0) {
        a.sizes[0] = n_features;
        a.sizes[1] = DEF_HIDDEN;
        a.sizes[2] = n_out;
        a.n_sizes = 3;
    }
    if (a.sizes[0] != n_features || a.sizes[a.n_sizes - 1] != n_out) {
        if (rs.net) {
            errmsg("%s does not fit the checkpoint %s: it has %zu features and %zu %s, and the "
                   "network takes %zu inputs and gives %zu outputs",
                   train_path, a.resume, n_features, n_out, a.regression ? "targets" : "classes",
                   a.sizes[0], a.sizes[a.n_sizes - 1]);
            rc = EXIT_RUNTIME;
            goto done;
        }
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
    char why[512] = "";
    gn_status st;
    if (rs.net) {
        net = rs.net;
        rs.net = NULL;
    } else if ((st = gn_net_config_check(&cfg, why, sizeof why)) != GN_OK ||
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
    if ((rc = apply_backend(net, &a)))
        goto done;
    if ((rc = set_threads(a.threads)))
        goto done;

    /* The optimizer: the checkpoint's, or one made here so that the final checkpoint can hold
     * it (gn_net_fit would free one it made itself). */
    gn_fit_options fit = fit_options(&a);
    if (rs.opt) {
        opt = rs.opt;
        rs.opt = NULL;
        gn_optimizer_get_config(opt, &fit.opt);
        fit.resume = &rs.progress;
    } else if ((st = gn_optimizer_create(&opt, net, &fit.opt, why, sizeof why)) != GN_OK) {
        errmsg("cannot create the optimizer: %s", why[0] ? why : gn_strerror(st));
        rc = st == GN_ERR_ARG ? EXIT_USAGE : EXIT_RUNTIME;
        goto done;
    }
    fit.optimizer = opt;
    const gn_optimizer_config *oc = &fit.opt;
    size_t first_epoch = fit.resume ? fit.resume->epochs_done + 1 : 1;
    if (rs.hash[0] && strncmp(rs.hash, "fnv1a64:", 8) == 0 &&
        strtoull(rs.hash + 8, NULL, 16) != hash)
        fprintf(stderr,
                "gemmnet: warning: the training data differs from the checkpoint's (%s, now "
                "fnv1a64:%016llx); resuming anyway\n",
                rs.hash, (unsigned long long)hash);

    /* The provenance, and checkpoints: every K epochs if asked, and after the last one. */
    if (a.save) {
        run_facts facts = {
            a.train ? train_path : fm.train,
            train_idx || train_kind == DATA_NPY ? train_labels : NULL,
            a.test || !a.train ? test_path : NULL,
            test_path && (test_idx || test_kind == DATA_NPY) ? test_labels : NULL,
            !a.train,
            any_csv,
            a.sizes,
            a.n_sizes,
            (int)cfg.output_act,
            oc,
            hash,
            gn_dataset_n_samples(train.ds),
            a.resume,
            first_epoch - 1,
            any_hdf5,
        };
        if (!(meta = make_meta(&a, &facts, argc + 1, argv - 1))) {
            errmsg("out of memory");
            rc = EXIT_RUNTIME;
            goto done;
        }
        fit.checkpoint_path = a.save;
        fit.checkpoint_every = a.checkpoint_every > 0 ? (size_t)a.checkpoint_every : SIZE_MAX;
        fit.checkpoint_meta = meta;
    }

    size_t n_train = gn_dataset_n_samples(train.ds), n_test = gn_dataset_n_samples(test.ds);
    size_t n_val = val.ds ? gn_dataset_n_samples(val.ds) : 0;
    if (!a.quiet) {
        printf("data %s: %zu samples (%zu train, %zu val, %zu test), %zu features, %zu %s\n",
               a.train ? train_path : fm.dir, n_file + (test_path ? n_test : 0), n_train, n_val,
               n_test, n_features, n_out, a.regression ? "targets" : "classes");
        if (fit.resume)
            printf("resume %s: %zu of %zu epochs done, optimizer step %llu\n", a.resume,
                   first_epoch - 1, fit.epochs, (unsigned long long)gn_optimizer_steps(opt));
        printf("net ");
        print_sizes(stdout, a.sizes, a.n_sizes);
        printf(" act=%s out=%s loss=%s init=%s seed=%llu standardize=%s impl=%s threads=%d "
               "backend=%s",
               name_of(hidden_acts, a.act), name_of(output_acts, (int)cfg.output_act),
               name_of(losses, a.loss), name_of(inits, a.init), (unsigned long long)a.seed,
               a.standardize ? "yes" : "no", name_of(impls, a.impl), gn_get_threads(),
               gn_backend_name(gn_net_backend(net)));
        if (par.active)
            printf(" ranks=%d reduction=%s", par.ranks, name_of(reductions, a.reduction));
        printf("\n");
        printf("train opt=%s lr=%g schedule=%s epochs=%zu batch=%zu", name_of(optimizers, oc->kind),
               (double)oc->lr, name_of(schedules, a.schedule), fit.epochs, fit.batch);
        if (fit.dropout > 0.0f)
            printf(" dropout=%g", (double)fit.dropout);
        if (fit.patience > 0)
            printf(" patience=%zu", fit.patience);
        printf("\n");
        fflush(stdout);
    }

    /* Every rank could read its data and build its network: from here on the ranks work in
     * step (their errors are agreed), so rank 0 alone reports. */
    if ((rc = par_agree(&par, 0, NULL)) || (rc = par_attach(&par, net)))
        goto done;
    msg_muted = par.rank != 0;

    progress pr = {.quiet = a.quiet,
                   .regression = a.regression,
                   .every = a.every,
                   .epochs = fit.epochs,
                   .stop_after = (size_t)a.stop_after};
    pr.bar = !a.quiet && isatty(STDERR_FILENO);
    fit.on_epoch = on_epoch;
    fit.on_batch = pr.bar ? on_batch : NULL;
    fit.user = &pr;
    gn_fit_result res;
    st = gn_net_fit(net, train.ds, val.ds, &fit, &res);
    flush_epoch_line(&pr); /* the last epoch run, if --every skipped it */
    /* a failed collective leaves the ranks out of step: nothing to do but stop them all */
    fatal =
        par.active && st != GN_OK &&
        (strstr(gn_net_last_error(net), "the reducer's") || strstr(gn_net_last_error(net), "MPI_"));
    if (st == GN_ERR_DIVERGED) {
        errmsg("%s", gn_net_last_error(net));
        /* The diverged weights are never saved: FILE keeps what it had, or this run's last
         * periodic checkpoint, which was written before the failing epoch. */
        size_t k = a.checkpoint_every > 0 ? (size_t)a.checkpoint_every : 0;
        size_t kept = k ? res.epochs - res.epochs % k : 0;
        if (a.save && kept >= first_epoch)
            errmsg("training diverged: %s holds the checkpoint of epoch %zu; nothing later was "
                   "saved",
                   a.save, kept);
        else if (a.save)
            errmsg("training diverged: nothing was saved (%s is unchanged)", a.save);
        else
            errmsg("training diverged");
        rc = EXIT_RUNTIME;
        goto done;
    }
    if (st != GN_OK) {
        rc = net_failed(net, st);
        goto done;
    }
    if (par.rank != 0) /* the model is rank 0's to save, test and report */
        goto done;
    /* gn_net_fit's checkpoint after the last epoch holds that epoch's weights; if it then
     * restored a better epoch's, the file gets those, so that eval and predict see the model
     * this run reports on. */
    if (a.save && val.ds && fit.restore_best && res.best_epoch > 0 &&
        res.best_epoch != res.epochs && res.stopped_early != 2) {
        gn_fit_progress p = {res.epochs, res.best_epoch, res.best_val_loss, gn_net_params(net)};
        if ((st = gn_checkpoint_save(net, opt, &p, meta, a.save, why, sizeof why)) != GN_OK) {
            errmsg("%s", why[0] ? why : gn_strerror(st));
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
        if (res.stopped_early == 2)
            printf(" stopped_after=%zu", res.epochs);
        if (a.save)
            printf(" saved=%s", a.save);
        printf("\n");
    }
    if (a.confusion && !a.regression && (rc = print_confusion(net, test.ds)))
        goto done;
    if (!a.quiet) {
        char choice[1024];
        gn_net_describe_backends(net, choice, sizeof choice);
        printf("backend %s\n", choice);
    }
    double rate = res.train_seconds > 0.0 ? (double)res.samples / res.train_seconds : 0.0;
    if (a.regression)
        printf("test_mse=%.6g test_r2=%.4f", s.mse, s.r2);
    else
        printf("test_accuracy=%.4f", s.accuracy);
    printf(" train_seconds=%.4g samples_per_s=%.0f epochs=%zu", res.train_seconds, rate,
           res.epochs);
    if (par.active)
        printf(" ranks=%d", par.ranks);
    printf("\n");
    rc = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;

done:
    /* a rank that failed before training makes every rank stop (if not agreed already) */
    rc = par_agree(&par, rc, last_msg);
    par_finish(&par, net, fatal ? EXIT_RUNTIME : 0);
    gn_net_free(net);
    gn_optimizer_free(opt);
    free(meta);
    dset_free(&all);
    dset_free(&train);
    dset_free(&val);
    dset_free(&test);
    resumed_free(&rs);
    return rc;
}

/* The CSV options the model was trained with, where the command line gives none: a model
 * trained with --label-column 0 is evaluated on column 0 without being told again. */
static void model_csv_defaults(gn_csv_options *csv, const cli_args *a, const model_meta *mm)
{
    if (!mm->have_csv)
        return;
    if (!a->user[O_LABEL_COLUMN])
        csv->label_column = mm->label_column;
    if (!a->user[O_HEADER])
        csv->header = mm->header;
    if (!a->user[O_DELIMITER])
        csv->delimiter = mm->delimiter;
}

/* Likewise the HDF5 dataset names the model was trained with. */
static void model_hdf5_defaults(cli_args *a, const model_meta *mm)
{
    if (!a->user[O_H5_X] && mm->h5_x[0])
        a->h5_x = mm->h5_x;
    if (!a->user[O_H5_Y] && mm->h5_y[0])
        a->h5_y = mm->h5_y;
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
    model_meta mm;
    if ((rc = set_threads(a.threads)) || (rc = load_model(&net, &mm, a.model, &a)))
        goto done;
    /* What the model was trained as, if its file says; else what its outputs suggest. */
    int kind = data_kind(a.test), idx = kind == DATA_IDX,
        regression = mm.regression >= 0 ? mm.regression : is_regression_model(net);
    if (a.test_labels && kind == DATA_CSV) {
        errmsg("--test-labels: %s is read as CSV, whose labels are a column", a.test);
        rc = EXIT_USAGE;
        goto done;
    }
    model_hdf5_defaults(&a, &mm);
    if (idx && regression) {
        errmsg("%s is a regression model, and IDX labels are classes", a.model);
        rc = EXIT_RUNTIME;
        goto done;
    }
    gn_csv_options csv = csv_options(&a, regression);
    model_csv_defaults(&csv, &a, &mm);
    if ((rc = load_data(&test, a.test, a.test_labels, "--test-labels", kind, &csv, &a)))
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
    model_meta mm;
    if ((rc = set_threads(a.threads)) || (rc = load_model(&net, &mm, a.model, &a)))
        goto done;
    if (a.labels && (mm.regression >= 0 ? mm.regression : is_regression_model(net))) {
        errmsg("--labels: %s is a regression model, its outputs are not class scores", a.model);
        rc = EXIT_USAGE;
        goto done;
    }
    size_t ni = gn_net_n_inputs(net), no = gn_net_n_outputs(net), n = 0, ldx = ni;
    const float *X;
    int kind = data_kind(a.input);
    if (a.user[O_H5_X] && kind != DATA_HDF5) {
        errmsg("--h5-x applies to HDF5 files, and %s is %s", a.input, data_kind_names[kind]);
        rc = EXIT_USAGE;
        goto done;
    }
    if (kind != DATA_CSV) {
        char err[1024] = "";
        if (kind == DATA_IDX && !idx_regular(a.input)) {
            rc = EXIT_RUNTIME;
            goto done;
        }
        model_hdf5_defaults(&a, &mm);
        /* inputs only: no labels are needed to predict */
        gn_status st =
            kind == DATA_IDX ? gn_dataset_load_idx(&in.ds, a.input, NULL, 0, err, sizeof err)
            : kind == DATA_NPY
                ? gn_dataset_load_npy(&in.ds, a.input, NULL, NULL, err, sizeof err)
                : gn_dataset_load_hdf5(&in.ds, a.input, a.h5_x, NULL, NULL, err, sizeof err);
        if (st != GN_OK) {
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
        model_csv_defaults(&csv, &a, &mm);
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

/*==== info ==================================================================================*/

/* One line per layer: the extreme singular values of W^l and their ratio, the condition
 * number (inf when the smallest is 0). */
static void print_spectra(const gn_net *net)
{
    for (size_t l = 1; l <= gn_net_n_layers(net); l++) {
        size_t n_out = gn_net_layer_size(net, l), n_in = gn_net_layer_size(net, l - 1);
        size_t k = n_out < n_in ? n_out : n_in;
        float *s = malloc(k * sizeof *s);
        gn_status st = s ? gn_net_layer_singular_values(net, l, s) : GN_ERR_NOMEM;
        printf("spectrum: layer %zu (%zu x %zu)", l, n_out, n_in);
        if (st != GN_OK)
            printf(" unavailable: %s\n", gn_strerror(st));
        else if (s[k - 1] > 0.0f)
            printf(": sigma_max %.6g, sigma_min %.6g, condition %.6g\n", (double)s[0],
                   (double)s[k - 1], (double)s[0] / (double)s[k - 1]);
        else
            printf(": sigma_max %.6g, sigma_min 0, condition inf\n", (double)s[0]);
        free(s);
    }
}

/* Prints what a model file or checkpoint holds, after every check of the loader. */
/* "backend auto, tuned for batch N: layer 1 …": what gn_net_tune picks for this model here. */
static int info_tune(gn_net *net, size_t batch)
{
    gn_status st = GN_OK;
    if (batch > gn_net_max_batch(net))
        st = gn_net_reserve(net, batch);
    if (st == GN_OK)
        st = gn_net_tune(net, batch);
    if (st != GN_OK)
        return net_failed(net, st);
    char choice[1024];
    gn_net_describe_backends(net, choice, sizeof choice);
    printf("backend: %s (%d thread%s)\n", choice, gn_get_threads(),
           gn_get_threads() == 1 ? "" : "s");
    return 0;
}

static int info_file(const char *path, size_t tune_batch)
{
    gn_checkpoint *ck = NULL;
    int rc = load_checkpoint(&ck, path);
    if (rc)
        return rc;
    gn_checkpoint_info fi;
    gn_checkpoint_get_info(ck, &fi);
    const gn_net *net = gn_checkpoint_net(ck);
    size_t L = gn_net_n_layers(net);
    printf("file: %s, %llu bytes\n", path, (unsigned long long)fi.file_bytes);
    printf("format: version %u, %u sections: ARCH%s PARM%s%s%s%s", fi.format_version, fi.n_sections,
           fi.has_scaling ? " SCAL" : "", fi.has_optimizer ? " OPTM" : "",
           fi.has_rng ? " RNGS" : "", fi.has_progress ? " PROG" : "", fi.has_meta ? " PROV" : "");
    if (fi.n_skipped)
        printf(" and %u unknown (skipped)", fi.n_skipped);
    printf("\nchecksum: crc32 0x%08x, checksum ok\n", fi.crc);
    printf("network: layers ");
    for (size_t l = 0; l <= L; l++)
        printf("%s%zu", l ? "," : "", gn_net_layer_size(net, l));
    printf(", activations ");
    for (size_t l = 1; l <= L; l++)
        printf("%s%s", l > 1 ? "," : "", name_of(output_acts, gn_net_layer_act(net, l)));
    printf(", loss %s, %zu parameters\n", name_of(losses, gn_net_loss(net)), gn_net_n_params(net));
    print_spectra(net);
    const float *im = NULL, *is = NULL, *om = NULL, *os = NULL;
    gn_net_input_scaling(net, &im, &is);
    gn_net_output_scaling(net, &om, &os);
    printf("scaling: inputs %s, outputs %s\n", im ? "standardised" : "none",
           om ? "standardised" : "none");
    gn_optimizer *opt = gn_checkpoint_take_optimizer(ck);
    if (opt) {
        gn_optimizer_config c;
        gn_optimizer_get_config(opt, &c);
        printf("optimizer: %s, lr %g (now %g), step %llu", name_of(optimizers, c.kind),
               (double)c.lr, (double)gn_optimizer_lr(opt),
               (unsigned long long)gn_optimizer_steps(opt));
        if (c.kind == GN_OPT_MOMENTUM || c.kind == GN_OPT_NESTEROV)
            printf(", momentum %g", (double)c.momentum);
        if (c.kind == GN_OPT_RMSPROP)
            printf(", rho %g, eps %g", (double)c.rho, (double)c.eps);
        if (c.kind == GN_OPT_ADAM || c.kind == GN_OPT_ADAMW)
            printf(", beta1 %g, beta2 %g, eps %g", (double)c.beta1, (double)c.beta2, (double)c.eps);
        printf(", weight decay %g, l2 %g, clip %g\n", (double)c.weight_decay, (double)c.l2,
               (double)c.clip_norm);
        gn_optimizer_free(opt);
    } else {
        printf("optimizer: none (a model only: it cannot be resumed)\n");
    }
    gn_fit_progress p;
    if (gn_checkpoint_progress(ck, &p)) {
        printf("progress: %zu epochs done", p.epochs_done);
        if (p.best_epoch)
            printf(", best epoch %zu (val loss %.6g)%s", p.best_epoch, p.best_val_loss,
                   p.best_params ? ", its parameters kept" : "");
        else
            printf(", no validation");
        printf("\n");
    } else {
        printf("progress: none\n");
    }
    printf("rng: %s\n", fi.has_rng ? "saved (shuffling and dropout continue on resume)"
                                   : "none (seeded with 1 on load)");
    const char *meta = gn_checkpoint_meta(ck);
    printf("provenance:%s\n", meta[0] ? "" : " none");
    for (const char *line = meta; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        printf("  %.*s\n", (int)len, line);
        line += len + (nl != NULL);
    }
    if (tune_batch) {
        gn_net *own = gn_checkpoint_take_net(ck);
        rc = info_tune(own, tune_batch);
        gn_net_free(own);
    }
    gn_checkpoint_free(ck);
    if (rc)
        return rc;
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

/* The BLAS in use and how it threads, for bug reports and performance questions. */
static int info_blas(void)
{
    gn_blas_info bi;
    gn_blas_get_info(&bi);
    printf("gemmnet %s\n", gn_version());
    printf("blas: %s\n", bi.config);
    printf("blas_core: %s\n", bi.corename[0] ? bi.corename : "unknown");
    printf("blas_threading: %s\n", gn_blas_parallel_name(bi.parallel));
    printf("blas_threads: %d\n", bi.threads);
    printf("cores: %d\n", bi.cores);
    printf("backends:");
    for (int b = GN_BACKEND_OPENBLAS; b < GN_BACKEND_COUNT; b++)
        if (gn_backend_available((gn_backend)b))
            printf(" %s", gn_backend_name((gn_backend)b));
    printf("\n");
    const char *env = getenv("GN_BACKEND");
    printf("backend_default: %s%s%s\n", env && *env ? env : "auto",
           env && *env ? " (from GN_BACKEND)" : "",
           env && *env ? "" : " (each product on the fastest backend, measured per network)");
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_info(int argc, char **argv)
{
    const char *file = NULL;
    size_t tune_batch = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout, info_text);
            return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--batch") == 0) {
            long b;
            if (i + 1 >= argc)
                errmsg("--batch needs a value");
            else if (parse_long(arg, argv[++i], 1, MAX_BATCH, &b)) {
                tune_batch = (size_t)b;
                continue;
            }
        } else if (arg[0] == '-' && arg[1] != '\0') {
            errmsg("unknown option '%s'", arg);
        } else if (file) {
            errmsg("info takes one FILE (got '%s' and '%s')", file, arg);
        } else if (arg[0] == '\0') {
            errmsg("info: empty file name");
        } else {
            file = strcmp(arg, "-") == 0 ? "/dev/stdin" : arg;
            continue;
        }
        fprintf(stderr, "Try 'gemmnet info --help'.\n");
        return EXIT_USAGE;
    }
    if (tune_batch && !file) {
        errmsg("info: --batch needs a model FILE to tune");
        fprintf(stderr, "Try 'gemmnet info --help'.\n");
        return EXIT_USAGE;
    }
    return file ? info_file(file, tune_batch) : info_blas();
}

/*==== main ==================================================================================*/

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *const *usage;
} commands[] = {
    {"train", cmd_train, train_text},          {"eval", cmd_eval, eval_text},
    {"predict", cmd_predict, predict_text},    {"info", cmd_info, info_text},
    {"export-c", cmd_export_c, export_c_text},
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
        if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0))
            argc = 2; /* help about help: the general help */
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
