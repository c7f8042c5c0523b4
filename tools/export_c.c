/* gemmnet export-c: writes a model's inference as a self-contained C file (see export_c.h).
 *
 * The generated code follows the library's forward pass operation by operation, so that it
 * rounds the same way wherever it can: Z := W·a first, then + b (as the sgemm and the fused
 * bias-and-activation pass do), the activations written as lib/act.c writes them, input
 * scaling as (x − mean)·(1/std) with the same float 1/std, outputs as a·std + mean. What
 * still differs is the summation order inside W·a (BLAS blocks it) and exp: the library
 * uses its own vectorised e^x in sigmoid and softmax, the generated code libm's expf.
 */
#define _POSIX_C_SOURCE 200809L /* fsync, fdopen, O_CLOEXEC */
#include "export_c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

const char *const export_c_text[] = {
    "usage: gemmnet export-c MODEL [-o FILE.c] [--prefix NAME]\n"
    "\n"
    "Writes a C source file that computes the model's outputs without gemmnet or BLAS: the\n"
    "weights, biases and scaling as static const float arrays (exact hex-float literals), and\n"
    "    void PREFIX_predict(const float *x, float *y);\n"
    "    void PREFIX_predict_batch(size_t n, const float *X, size_t ldx, float *Y, size_t ldy);\n"
    "(one sample; n samples as columns, sample j at X + j*ldx and Y + j*ldy), with the sizes\n"
    "as macros PREFIX_N_INPUTS and PREFIX_N_OUTPUTS (prefix in capitals). The file includes\n"
    "only <stddef.h> and <math.h>, needs no allocation, compiles as C99 or C++17 and links\n"
    "with -lm. Inputs are raw (the model's input scaling is applied inside) and outputs are\n"
    "those of 'gemmnet predict', equal to float rounding. MODEL '-' reads standard input.\n"
    "\n"
    "  -o, --output FILE    write to FILE (through a temporary file renamed over it, so a\n"
    "                       failure never leaves half a file) instead of standard output\n"
    "  --prefix NAME        names start with NAME (letters, digits, '_'; a letter first; no\n"
    "                       '__', no '_' last; at most 64); default: from MODEL's file name\n"
    "  -h, --help           print this help\n",
    NULL,
};

/*==== Names =================================================================================*/

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }

int export_c_prefix_ok(const char *prefix, char *why, size_t len)
{
    const char *reason = NULL;
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0)
        reason = "it is empty";
    else if (n > EXPORT_C_MAX_PREFIX)
        reason = "it is longer than 64 characters";
    else if (!is_alpha((unsigned char)prefix[0]))
        reason = "it must start with an ASCII letter";
    else if (prefix[n - 1] == '_')
        reason = "it must not end in '_' (PREFIX_predict would contain '__')";
    else if (strstr(prefix, "__"))
        reason = "it must not contain '__' (reserved in C++)";
    for (size_t i = 0; !reason && i < n; i++)
        if (!is_alnum((unsigned char)prefix[i]) && prefix[i] != '_')
            reason = "only ASCII letters, digits and '_' are allowed";
    if (len > 0)
        snprintf(why, len, "%s", reason ? reason : "");
    return reason == NULL;
}

void export_c_default_prefix(const char *path, char buf[EXPORT_C_MAX_PREFIX + 1])
{
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path ? path : "";
    if (strcmp(path ? path : "-", "-") == 0)
        base = "";
    const char *dot = strrchr(base, '.');
    size_t end = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    size_t n = 0;
    for (size_t i = 0; i < end && n < EXPORT_C_MAX_PREFIX; i++) {
        unsigned char c = (unsigned char)base[i];
        if (is_alnum(c)) {
            if (n == 0 && is_digit(c)) {
                memcpy(buf, "model_", 6);
                n = 6;
            }
            buf[n++] = (char)c;
        } else if (n > 0 && buf[n - 1] != '_') {
            buf[n++] = '_';
        }
    }
    while (n > 0 && buf[n - 1] == '_')
        n--;
    if (n == 0) {
        memcpy(buf, "model", 5);
        n = 5;
    }
    buf[n] = '\0';
}

/* The model's name for a comment: plain printable ASCII only, so the comment can neither end
 * early ("*" followed by "/"), nor hold a trigraph or a byte the compiler would question. */
static void comment_safe(const char *s, char *out, size_t len)
{
    size_t n = 0;
    for (; *s && n + 1 < len; s++) {
        unsigned char c = (unsigned char)*s;
        int ok = is_alnum(c) || strchr(" ._-+,:=@~%/", c) != NULL;
        if (c == '/' && n > 0 && out[n - 1] == '*')
            ok = 0;
        out[n++] = ok ? (char)c : '_';
    }
    out[n] = '\0';
}

/*==== The generated source ==================================================================*/

static const char *act_name(gn_act act)
{
    switch (act) {
    case GN_ACT_IDENTITY: return "identity";
    case GN_ACT_SIGMOID: return "sigmoid";
    case GN_ACT_TANH: return "tanh";
    case GN_ACT_RELU: return "relu";
    case GN_ACT_LEAKY_RELU: return "leaky relu";
    case GN_ACT_SOFTMAX: return "softmax";
    case GN_ACT_ELU: return "elu";
    case GN_ACT_SOFTPLUS: return "softplus";
    }
    return "unknown";
}

static const char *loss_name(gn_loss loss)
{
    switch (loss) {
    case GN_LOSS_QUADRATIC: return "quadratic";
    case GN_LOSS_BCE: return "binary cross-entropy";
    case GN_LOSS_CCE: return "categorical cross-entropy";
    case GN_LOSS_MAE: return "mean absolute error";
    case GN_LOSS_HUBER: return "Huber";
    }
    return "unknown";
}

/* An exact C99 float literal: %a of the value (promoted exactly to double) and 'f'. */
static const char *hex_float(float v, char buf[40])
{
    snprintf(buf, 40, "%af", (double)v);
    return buf;
}

/* static const float PREFIX_NAME[n] = { ... }; five literals a line, of x[i] or, with
 * invert, of the float 1/x[i] (as the library forms it for input scaling). */
static void emit_array(FILE *f, const char *prefix, const char *name, const float *x, size_t n,
                       int invert)
{
    char lit[40];
    fprintf(f, "static const float %s_%s[%zu] = {", prefix, name, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s,", i % 5 == 0 ? "\n    " : " ",
                hex_float(invert ? 1.0f / x[i] : x[i], lit));
    fprintf(f, "\n};\n");
}

/* The element-wise activation as an expression of the float z, written as lib/act.c writes
 * it; NULL for identity and softmax. */
static const char *act_expr(gn_act act, float slope, char *buf, size_t len)
{
    char s[40], r[40];
    switch (act) {
    case GN_ACT_SIGMOID: return "1.0f / (1.0f + expf(-z))";
    case GN_ACT_TANH: return "tanhf(z)";
    case GN_ACT_RELU: return "z < 0.0f ? 0.0f : z";
    case GN_ACT_LEAKY_RELU:
        /* slope·z for z <= 0 and z·(slope + (1 − slope)) = z otherwise, without a branch,
         * exactly as the library computes it (so even the rounding of slope + (1 − slope)
         * agrees) */
        snprintf(buf, len, "z * (%s + %s * (float)(z > 0.0f))", hex_float(slope, s),
                 hex_float(1.0f - slope, r));
        return buf;
    case GN_ACT_ELU: return "z > 0.0f ? z : expm1f(z)";
    case GN_ACT_SOFTPLUS: return "fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z)))";
    case GN_ACT_IDENTITY:
    case GN_ACT_SOFTMAX: break;
    }
    return NULL;
}

typedef struct arch {
    size_t L, n_params, width;
    size_t sizes[GN_MAX_SIZES];
    gn_act acts[GN_MAX_SIZES];
    const float *in_mean, *in_std, *out_mean, *out_std;
    float slope;
} arch;

static void emit_header(FILE *f, const arch *a, const char *p, const char *P, gn_net *net,
                        const char *source)
{
    char src[512];
    comment_safe(source, src, sizeof src);
    fprintf(f,
            "/*\n"
            " * %s: inference of a gemmnet model in plain C, generated by gemmnet %s\n"
            " * (gemmnet export-c) from the model file \"%s\". Regenerate it from the model\n"
            " * rather than editing it.\n"
            " *\n"
            " * Network: %zu inputs",
            p, gn_version(), src, a->sizes[0]);
    for (size_t l = 1; l <= a->L; l++)
        fprintf(f, " -> %zu %s", a->sizes[l], act_name(a->acts[l]));
    fprintf(f,
            "\n"
            " * (%zu layers, %zu parameters; trained with the %s loss).\n",
            a->L, a->n_params, loss_name(gn_net_loss(net)));
    for (size_t l = 1; l <= a->L; l++)
        if (a->acts[l] == GN_ACT_LEAKY_RELU) {
            fprintf(f, " * Leaky ReLU slope for z <= 0: %.9g.\n", (double)a->slope);
            break;
        }
    fprintf(f, " * Inputs: %s.\n",
            a->in_mean ? "raw; the model's standardisation (x - mean) / std is applied inside"
                       : "used as given (the model has no input scaling)");
    fprintf(f, " * Outputs: %s.\n",
            a->out_mean ? "in raw units; the model's output scaling y = a * std + mean is "
                          "undone inside"
            : a->acts[a->L] == GN_ACT_SOFTMAX ? "class probabilities (softmax), summing to 1"
                                              : "the output layer's activations");
    fprintf(f,
            " *\n"
            " * Prototypes (declare them where you call the functions):\n"
            " *\n"
            " *     void %s_predict(const float *x, float *y);\n"
            " *     void %s_predict_batch(size_t n, const float *X, size_t ldx, float *Y, size_t "
            "ldy);\n"
            " *\n"
            " * %s_predict reads one sample x[0 .. %s_N_INPUTS) and writes its outputs to\n"
            " * y[0 .. %s_N_OUTPUTS); y may overlap x.\n"
            " * %s_predict_batch does the same for n samples stored as columns, as gemmnet\n"
            " * stores them: sample j is X[j*ldx .. j*ldx + %s_N_INPUTS) (ldx >= %s_N_INPUTS)\n"
            " * and its outputs go to Y[j*ldy .. j*ldy + %s_N_OUTPUTS) (ldy >= %s_N_OUTPUTS).\n"
            " * A C array float x[n][%s_N_INPUTS] is such an X with ldx = %s_N_INPUTS.\n"
            " * For example:\n"
            " *\n"
            " *     float x[%s_N_INPUTS] = { ... }, y[%s_N_OUTPUTS];\n"
            " *     %s_predict(x, y);\n"
            " *\n"
            " * Both are reentrant and thread-safe: no global state is written and nothing is\n"
            " * allocated; each call keeps at most 2 x %zu floats (%zu bytes) on the stack.\n"
            " * Compile as C99 or later, or as C++17 or later (hex-float literals); link with\n"
            " * -lm. Includes <stddef.h> and <math.h> only.\n"
            " * The outputs equal gemmnet's (gn_net_predict) up to float rounding: the order of\n"
            " * the sums in each layer differs, and exp here is libm's expf where gemmnet uses\n"
            " * its own vectorised e^x (about 1e-7 relative difference).\n"
            " */\n",
            p, p, p, P, P, p, P, P, P, P, P, P, P, P, p, a->width, 2 * a->width * sizeof(float));
}

/* Writes the weights, biases and scaling arrays. */
static void emit_data(FILE *f, const arch *a, const char *p, gn_net *net)
{
    const float *params = gn_net_params(net);
    char name[32];
    for (size_t l = 1; l <= a->L; l++) {
        size_t w_off = 0, b_off = 0, rows = a->sizes[l], cols = a->sizes[l - 1];
        gn_net_layer_offsets(net, l, &w_off, &b_off);
        fprintf(f,
                "\n/* Layer %zu: %zu -> %zu, %s. Weights W%zu (%zu x %zu, column-major:\n"
                " * W%zu[i + k*%zu] connects input k to unit i), then biases b%zu. */\n",
                l, cols, rows, act_name(a->acts[l]), l, rows, cols, l, rows, l);
        snprintf(name, sizeof name, "w%zu", l);
        emit_array(f, p, name, params + w_off, rows * cols, 0);
        snprintf(name, sizeof name, "b%zu", l);
        emit_array(f, p, name, params + b_off, rows, 0);
    }
    size_t n0 = a->sizes[0], nL = a->sizes[a->L];
    if (a->in_mean) {
        fprintf(f, "\n/* Input scaling: x' = (x - mean) * (1/std). */\n");
        emit_array(f, p, "in_mean", a->in_mean, n0, 0);
        emit_array(f, p, "in_inv_std", a->in_std, n0, 1);
    }
    if (a->out_mean) {
        fprintf(f, "\n/* Output scaling, undone: y = a * std + mean. */\n");
        emit_array(f, p, "out_mean", a->out_mean, nL, 0);
        emit_array(f, p, "out_std", a->out_std, nL, 0);
    }
}

/* The prototypes, the helpers and the two public functions. */
static void emit_code(FILE *f, const arch *a, const char *p, const char *P)
{
    size_t L = a->L;
    int softmax = a->acts[L] == GN_ACT_SOFTMAX;
    fprintf(f,
            "\n"
            "#ifdef __cplusplus\n"
            "extern \"C\" {\n"
            "#endif\n"
            "void %s_predict(const float *x, float *y);\n"
            "void %s_predict_batch(size_t n, const float *X, size_t ldx, float *Y, size_t ldy);\n"
            "#ifdef __cplusplus\n"
            "}\n"
            "#endif\n",
            p, p);
    fprintf(f,
            "\n"
            "/* z := W a + b for W n_out x n_in, column-major: the product first, then the bias\n"
            " * (the order in which gemmnet rounds). */\n"
            "static void %s_affine(const float *W, const float *b, size_t n_in, size_t n_out,\n"
            "    const float *a, float *z)\n"
            "{\n"
            "    size_t i, k;\n"
            "    for (i = 0; i < n_out; i++)\n"
            "        z[i] = 0.0f;\n"
            "    for (k = 0; k < n_in; k++) {\n"
            "        const float *w = W + k * n_out;\n"
            "        const float ak = a[k];\n"
            "        for (i = 0; i < n_out; i++)\n"
            "            z[i] += w[i] * ak;\n"
            "    }\n"
            "    for (i = 0; i < n_out; i++)\n"
            "        z[i] += b[i];\n"
            "}\n",
            p);
    if (softmax)
        fprintf(f,
                "\n"
                "/* Softmax in place, the largest z subtracted first so that no exp overflows. */\n"
                "static void %s_softmax(float *z, size_t n)\n"
                "{\n"
                "    float mx = z[0], sum = 0.0f, inv;\n"
                "    size_t i;\n"
                "    for (i = 1; i < n; i++)\n"
                "        mx = z[i] > mx ? z[i] : mx;\n"
                "    for (i = 0; i < n; i++) {\n"
                "        z[i] = expf(z[i] - mx);\n"
                "        sum += z[i];\n"
                "    }\n"
                "    inv = 1.0f / sum;\n"
                "    for (i = 0; i < n; i++)\n"
                "        z[i] *= inv;\n"
                "}\n",
                p);

    /* Layer outputs alternate between u and v; the first layer reads x itself unless the
     * inputs are scaled into u first. v is declared only when used (-Wunused). */
    int need_v = a->in_mean ? L >= 1 : L >= 2;
    fprintf(f,
            "\n"
            "void %s_predict(const float *x, float *y)\n"
            "{\n"
            "    float u[%s_MAX_WIDTH];\n",
            p, P);
    if (need_v)
        fprintf(f, "    float v[%s_MAX_WIDTH];\n", P);
    fprintf(f, "    size_t i;\n");
    const char *src = "x", *dst = "u";
    if (a->in_mean) {
        fprintf(f,
                "    for (i = 0; i < %s_N_INPUTS; i++)\n"
                "        u[i] = (x[i] - %s_in_mean[i]) * %s_in_inv_std[i];\n",
                P, p, p);
        src = "u";
        dst = "v";
    }
    char buf[128];
    for (size_t l = 1; l <= L; l++) {
        fprintf(f, "    %s_affine(%s_w%zu, %s_b%zu, %zu, %zu, %s, %s); /* %s */\n", p, p, l, p, l,
                a->sizes[l - 1], a->sizes[l], src, dst, act_name(a->acts[l]));
        const char *expr = act_expr(a->acts[l], a->slope, buf, sizeof buf);
        if (expr)
            fprintf(f,
                    "    for (i = 0; i < %zu; i++) {\n"
                    "        const float z = %s[i];\n"
                    "        %s[i] = %s;\n"
                    "    }\n",
                    a->sizes[l], dst, dst, expr);
        else if (a->acts[l] == GN_ACT_SOFTMAX)
            fprintf(f, "    %s_softmax(%s, %zu);\n", p, dst, a->sizes[l]);
        src = dst;
        dst = strcmp(dst, "u") == 0 ? "v" : "u";
    }
    if (a->out_mean)
        fprintf(f,
                "    for (i = 0; i < %s_N_OUTPUTS; i++)\n"
                "        y[i] = %s[i] * %s_out_std[i] + %s_out_mean[i];\n",
                P, src, p, p);
    else
        fprintf(f,
                "    for (i = 0; i < %s_N_OUTPUTS; i++)\n"
                "        y[i] = %s[i];\n",
                P, src);
    fprintf(f,
            "}\n"
            "\n"
            "void %s_predict_batch(size_t n, const float *X, size_t ldx, float *Y, size_t ldy)\n"
            "{\n"
            "    size_t j;\n"
            "    for (j = 0; j < n; j++)\n"
            "        %s_predict(X + j * ldx, Y + j * ldy);\n"
            "}\n",
            p, p);
}

int export_c_write(FILE *f, gn_net *net, const char *prefix, const char *source)
{
    arch a;
    memset(&a, 0, sizeof a);
    a.L = gn_net_n_layers(net);
    if (a.L == 0 || a.L >= GN_MAX_SIZES || !export_c_prefix_ok(prefix, NULL, 0))
        return -1;
    a.n_params = gn_net_n_params(net);
    for (size_t l = 0; l <= a.L; l++) {
        a.sizes[l] = gn_net_layer_size(net, l);
        a.acts[l] = l ? gn_net_layer_act(net, l) : GN_ACT_IDENTITY;
        if (l > 0 && a.sizes[l] > a.width)
            a.width = a.sizes[l];
    }
    gn_net_input_scaling(net, &a.in_mean, &a.in_std);
    gn_net_output_scaling(net, &a.out_mean, &a.out_std);
    if (a.in_mean && a.sizes[0] > a.width)
        a.width = a.sizes[0];
    a.slope = gn_net_leaky_slope(net);

    char P[EXPORT_C_MAX_PREFIX + 1];
    size_t n = strlen(prefix);
    for (size_t i = 0; i <= n; i++)
        P[i] = prefix[i] >= 'a' && prefix[i] <= 'z' ? (char)(prefix[i] - 'a' + 'A') : prefix[i];

    emit_header(f, &a, prefix, P, net, source ? source : "");
    fprintf(f,
            "\n"
            "#include <math.h>\n"
            "#include <stddef.h>\n"
            "\n"
            "#define %s_N_INPUTS %zu\n"
            "#define %s_N_OUTPUTS %zu\n"
            "#define %s_N_LAYERS %zu\n"
            "#define %s_N_PARAMS %zu\n"
            "#define %s_MAX_WIDTH %zu /* the widest layer: the workspace, in floats */\n",
            P, a.sizes[0], P, a.sizes[a.L], P, a.L, P, a.n_params, P, a.width);
    emit_data(f, &a, prefix, net);
    emit_code(f, &a, prefix, P);
    return ferror(f) ? -1 : 0;
}

/*==== The command ===========================================================================*/

/* Creates path.tmp.XXXXXX (mkstemp), then gives it mode 0666 less the umask, like any new
 * file, rather than mkstemp's 0600. *tmp receives the malloc'ed name. The fd, or −1 with
 * errno. */
static int create_temp(const char *path, char **tmp)
{
    size_t n = strlen(path);
    char *name = malloc(n + sizeof ".tmp.XXXXXX");
    if (!name) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(name, path, n);
    memcpy(name + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(name);
    if (fd >= 0) {
        mode_t mask = umask(0); /* read it back: the CLI has one thread */
        umask(mask);
        if (fchmod(fd, 0666 & ~mask) == 0) {
            *tmp = name;
            return fd;
        }
        int e = errno;
        close(fd);
        unlink(name);
        errno = e;
    }
    int e = errno;
    free(name);
    errno = e;
    return -1;
}

static int write_stdout(gn_net *net, const char *prefix, const char *source)
{
    errno = 0;
    if (export_c_write(stdout, net, prefix, source) != 0 || fflush(stdout) != 0) {
        errmsg("standard output: write error%s%s", errno ? ": " : "", errno ? strerror(errno) : "");
        return EXIT_RUNTIME;
    }
    return 0;
}

/* Writes the source to a device or FIFO named on the command line (which cannot be replaced
 * by a rename, and should not be: -o /dev/null). */
static int write_special(const char *path, gn_net *net, const char *prefix, const char *source)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        errmsg("%s: cannot open for writing: %s", path, strerror(errno));
        return EXIT_RUNTIME;
    }
    errno = 0;
    int bad = export_c_write(f, net, prefix, source) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        errmsg("%s: write error%s%s", path, e ? ": " : "", e ? strerror(e) : "");
        return EXIT_RUNTIME;
    }
    return 0;
}

/* Writes the source to a temporary file next to path, syncs it and renames it over path, so
 * that path is either the old file or the whole new one. */
static int write_file(const char *path, gn_net *net, const char *prefix, const char *source)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return write_special(path, net, prefix, source);
    char *tmp = NULL;
    int fd = create_temp(path, &tmp);
    if (fd < 0) {
        errmsg("%s: cannot create a temporary file next to it: %s", path, strerror(errno));
        return EXIT_RUNTIME;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errmsg("%s: cannot write %s: %s", path, tmp, strerror(e));
        free(tmp);
        return EXIT_RUNTIME;
    }
    const char *failed = NULL;
    errno = 0;
    int e = 0;
    if (export_c_write(f, net, prefix, source) != 0 || fflush(f) != 0) {
        failed = "write";
        e = errno;
    } else if (fsync(fd) != 0) {
        failed = "fsync";
        e = errno;
    }
    if (fclose(f) != 0 && !failed) {
        failed = "close";
        e = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = "rename";
        e = errno;
    }
    if (failed) {
        unlink(tmp);
        errmsg("%s: %s of the temporary file %s failed%s%s (%s is left as it was)", path, failed,
               tmp, e ? ": " : "", e ? strerror(e) : "", path);
    }
    free(tmp);
    return failed ? EXIT_RUNTIME : 0;
}

/* The first len characters of arg are exactly name. */
static int is_option(const char *arg, size_t len, const char *name)
{
    return strlen(name) == len && strncmp(arg, name, len) == 0;
}

static int usage_error(void)
{
    fprintf(stderr, "Try 'gemmnet export-c --help'.\n");
    return EXIT_USAGE;
}

int cmd_export_c(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *prefix = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            for (const char *const *t = export_c_text; *t; t++)
                fputs(*t, stdout);
            return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], **slot = NULL, *val = NULL;
        size_t len = strcspn(arg, "="); /* "--name=value" or "--name value" */
        if (is_option(arg, len, "-o") || is_option(arg, len, "--output"))
            slot = &out;
        else if (is_option(arg, len, "--prefix"))
            slot = &prefix;
        if (slot) {
            if (arg[len] == '=')
                val = arg + len + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                errmsg("%.*s needs a value", (int)len, arg);
                return usage_error();
            }
            if (val[0] == '\0') {
                errmsg("%.*s: empty value", (int)len, arg);
                return usage_error();
            }
            *slot = val;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            errmsg("unknown option '%s'", arg);
            return usage_error();
        } else if (model) {
            errmsg("export-c takes one MODEL (got '%s' and '%s')", model, arg);
            return usage_error();
        } else if (arg[0] == '\0') {
            errmsg("export-c: empty model file name");
            return usage_error();
        } else {
            model = arg;
        }
    }
    if (!model) {
        errmsg("export-c: no MODEL given");
        return usage_error();
    }
    char why[128], derived[EXPORT_C_MAX_PREFIX + 1];
    if (prefix && !export_c_prefix_ok(prefix, why, sizeof why)) {
        errmsg("--prefix '%s' is not usable: %s", prefix, why);
        return usage_error();
    }
    if (!prefix) {
        export_c_default_prefix(model, derived);
        prefix = derived;
    }

    const char *path = strcmp(model, "-") == 0 ? "/dev/stdin" : model;
    char err[1024] = "";
    gn_net *net = NULL;
    gn_status st = gn_net_load(&net, path, err, sizeof err);
    if (st != GN_OK) {
        errmsg("%s", err[0] ? err : gn_strerror(st));
        return EXIT_RUNTIME;
    }
    const char *source = strcmp(model, "-") == 0 ? "(standard input)" : model;
    int rc = out ? write_file(out, net, prefix, source) : write_stdout(net, prefix, source);
    gn_net_free(net);
    return rc;
}
