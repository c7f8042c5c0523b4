/* gemmnet export-c: the generated C file compiles cleanly as C99 and C++, needs nothing but
 * libm and libc, holds every parameter bit for bit, and computes what gn_net_predict and an
 * independent double-precision forward pass compute; the command's error cases.
 *
 * Each model is saved by the library, exported by the CLI (GEMMNET_CLI, as in test_cli.c),
 * compiled with the system compiler ($CC, else cc) together with a small driver written
 * here, and run on a batch of random inputs in a fresh temporary directory. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, popen */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gemmnet.h"
#include "testutil.h"

/*==== Scaffolding ===========================================================================*/

static char dir[64];
static char out[1 << 16]; /* output of the last command */

static void make_dir(void)
{
    strcpy(dir, "/tmp/gemmnet-export-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(export, .init = make_dir, .fini = remove_dir, .timeout = 120);

/* dir/name in buf. */
static const char *path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

/* Runs a shell command (printf-style) with stderr merged into stdout, which goes to out.
 * Returns the exit status. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
shell(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof cmd - 8, "command too long");
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status), "'%s' did not exit normally", cmd);
    return WEXITSTATUS(status);
}

static const char *cli_path(void)
{
    const char *p = getenv("GEMMNET_CLI");
    cr_assert_not_null(p, "GEMMNET_CLI is not set (meson sets it)");
    return p;
}

/* The CLI with these (shell, printf-style) arguments; exit status, output in out. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
cli(const char *fmt, ...)
{
    char args[3072];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof args, "arguments too long");
    return shell("OPENBLAS_NUM_THREADS=1 '%s' %s", cli_path(), args);
}

static const char *cc(void)
{
    const char *c = getenv("CC");
    return c && c[0] ? c : "cc";
}

static const char *cxx(void)
{
    const char *c = getenv("CXX");
    return c && c[0] ? c : "g++";
}

static void write_floats(const char *path, const float *x, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(x, sizeof *x, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static float *read_floats(const char *path, size_t n)
{
    size_t len = 0;
    uint8_t *b = read_whole_file(path, &len);
    cr_assert_eq(len, n * sizeof(float), "%s: %zu bytes, expected %zu", path, len,
                 n * sizeof(float));
    return (float *)b; /* malloc'ed: suitably aligned */
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of entries of dir whose name contains ".tmp." (left-over temporary files). */
static int temp_files_left(void)
{
    shell("ls -a '%s' | grep -c '\\.tmp\\.' || true", dir);
    return atoi(out);
}

/*==== Models ================================================================================*/

typedef struct spec {
    size_t n_sizes;
    size_t sizes[12];
    gn_act acts[11];
    gn_loss loss;
    float slope;   /* leaky ReLU slope */
    int in_scale;  /* random input standardisation */
    int out_scale; /* random output scaling */
} spec;

/* A network of the given shape with random parameters (W ~ U(−2, 2)/√n_in, b ~ U(−½, ½)),
 * and scaling if asked for, saved to dir/name. Returns the network as loaded back from the
 * file, which is what the export reads. */
static gn_net *make_model(const spec *s, uint64_t seed, const char *name)
{
    gn_net_config cfg = net_config(s->sizes, s->n_sizes, s->acts, s->loss, 64, seed);
    cfg.leaky_slope = s->slope;
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    gn_rng rng;
    gn_rng_seed(&rng, seed * 7919u + 1);
    float *p = gn_net_params(net);
    for (size_t l = 1; l < s->n_sizes; l++) {
        size_t w = 0, b = 0, rows = s->sizes[l], cols = s->sizes[l - 1];
        cr_assert_eq(gn_net_layer_offsets(net, l, &w, &b), GN_OK);
        float r = 2.0f / sqrtf((float)cols);
        for (size_t i = 0; i < rows * cols; i++)
            p[w + i] = r * (2.0f * (float)gn_rng_uniform(&rng) - 1.0f);
        for (size_t i = 0; i < rows; i++)
            p[b + i] = (float)gn_rng_uniform(&rng) - 0.5f;
    }
    float mean[16], std[16];
    size_t n0 = s->sizes[0], nL = s->sizes[s->n_sizes - 1];
    if (s->in_scale) {
        for (size_t i = 0; i < n0; i++) {
            mean[i] = 6.0f * (float)gn_rng_uniform(&rng) - 3.0f;
            std[i] = 0.25f + 4.0f * (float)gn_rng_uniform(&rng);
        }
        cr_assert_eq(gn_net_set_input_scaling(net, mean, std), GN_OK);
    }
    if (s->out_scale) {
        for (size_t i = 0; i < nL; i++) {
            mean[i] = 20.0f * (float)gn_rng_uniform(&rng) - 10.0f;
            std[i] = 0.5f + 3.0f * (float)gn_rng_uniform(&rng);
        }
        cr_assert_eq(gn_net_set_output_scaling(net, mean, std), GN_OK);
    }
    char path[256], err[512];
    cr_assert_eq(gn_net_save(net, path_of(path, sizeof path, name), err, sizeof err), GN_OK, "%s",
                 err);
    gn_net_free(net);
    gn_net *loaded = NULL;
    cr_assert_eq(gn_net_load(&loaded, path, err, sizeof err), GN_OK, "%s", err);
    return loaded;
}

/*==== An independent reference: the forward pass in double ================================*/

static double act_d(gn_act act, double slope, double z)
{
    switch (act) {
    case GN_ACT_IDENTITY: return z;
    case GN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
    case GN_ACT_TANH: return tanh(z);
    case GN_ACT_RELU: return z > 0.0 ? z : 0.0;
    case GN_ACT_LEAKY_RELU: return z > 0.0 ? z : slope * z;
    case GN_ACT_ELU: return z > 0.0 ? z : expm1(z);
    case GN_ACT_SOFTPLUS: return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
    case GN_ACT_SOFTMAX: break;
    }
    cr_assert_fail("act_d: softmax is per column");
    return 0.0;
}

/* y (n_outputs doubles) := the network's output for the raw input x, in double. */
static void forward_d(gn_net *net, const float *x, double *y)
{
    enum { W = 64 };
    double a[W], z[W];
    size_t L = gn_net_n_layers(net), n0 = gn_net_n_inputs(net);
    const float *mean = NULL, *std = NULL, *p = gn_net_params(net);
    gn_net_input_scaling(net, &mean, &std);
    for (size_t i = 0; i < n0; i++)
        a[i] = mean ? (x[i] - (double)mean[i]) / std[i] : x[i];
    for (size_t l = 1; l <= L; l++) {
        size_t rows = gn_net_layer_size(net, l), cols = gn_net_layer_size(net, l - 1), w, b;
        cr_assert(rows <= W && cols <= W);
        gn_net_layer_offsets(net, l, &w, &b);
        for (size_t i = 0; i < rows; i++) {
            z[i] = p[b + i];
            for (size_t k = 0; k < cols; k++)
                z[i] += (double)p[w + i + k * rows] * a[k];
        }
        gn_act act = gn_net_layer_act(net, l);
        if (act == GN_ACT_SOFTMAX) {
            double mx = z[0], sum = 0.0;
            for (size_t i = 1; i < rows; i++)
                mx = fmax(mx, z[i]);
            for (size_t i = 0; i < rows; i++)
                sum += exp(z[i] - mx);
            for (size_t i = 0; i < rows; i++)
                a[i] = exp(z[i] - mx) / sum;
        } else {
            for (size_t i = 0; i < rows; i++)
                a[i] = act_d(act, gn_net_leaky_slope(net), z[i]);
        }
    }
    gn_net_output_scaling(net, &mean, &std);
    for (size_t i = 0; i < gn_net_n_outputs(net); i++)
        y[i] = mean ? a[i] * std[i] + mean[i] : a[i];
}

/*==== Export, compile, run ==================================================================*/

/* Every undefined symbol of the object dir/obj is a libm or libc function (the compiler may
 * turn a zeroing loop into memset, and a hardened compiler adds the stack protector). */
static void check_undefined(const char *obj)
{
    static const char *const allowed[] = {
        "expf",
        "expm1f",
        "log1pf",
        "tanhf",
        "fmaxf",
        "fabsf",
        "memset",
        "memcpy",
        "memmove",
        "__stack_chk_fail",
        "__stack_chk_guard",
        NULL,
    };
    cr_assert_eq(shell("nm -u '%s/%s'", dir, obj), 0, "nm failed: %s", out);
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *name = strrchr(line, ' ');
        name = name ? name + 1 : line;
        char *at = strchr(name, '@'); /* versioned names, e.g. expf@GLIBC_2.27 */
        if (at)
            *at = '\0';
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(name, allowed[i]) == 0;
        cr_assert(ok, "%s needs '%s', which is neither libm nor libc", obj, name);
    }
}

/* Writes dir/driver_PREFIX.c: reads n raw inputs (columns, ld ldx) from argv[6], writes
 * the outputs of PREFIX_predict, one sample at a time, to argv[7] (ld n_out), and of
 * PREFIX_predict_batch (ld ldy, padding preset to 777) to argv[8]. Exit status 3 if
 * predicting in place (y = x) gives other bits than from a separate buffer. */
static void write_driver(const char *prefix)
{
    char path[256], name[128];
    snprintf(name, sizeof name, "driver_%s.c", prefix);
    FILE *f = fopen(path_of(path, sizeof path, name), "w");
    cr_assert_not_null(f);
    fprintf(f,
            "#include <stddef.h>\n"
            "#include <stdio.h>\n"
            "#include <stdlib.h>\n"
            "#include <string.h>\n"
            "void %s_predict(const float *x, float *y);\n"
            "void %s_predict_batch(size_t n, const float *X, size_t ldx, float *Y, size_t "
            "ldy);\n"
            "static void dump(const char *path, const float *y, size_t n)\n"
            "{\n"
            "    FILE *f = fopen(path, \"wb\");\n"
            "    if (!f || fwrite(y, sizeof *y, n, f) != n || fclose(f) != 0)\n"
            "        exit(2);\n"
            "}\n"
            "int main(int argc, char **argv)\n"
            "{\n"
            "    if (argc != 9)\n"
            "        return 2;\n"
            "    size_t n = strtoul(argv[1], NULL, 10), nin = strtoul(argv[2], NULL, 10);\n"
            "    size_t nout = strtoul(argv[3], NULL, 10), ldx = strtoul(argv[4], NULL, 10);\n"
            "    size_t ldy = strtoul(argv[5], NULL, 10), big = nin > nout ? nin : nout;\n"
            "    float *X = malloc(n * ldx * sizeof *X), *Y1 = malloc(n * nout * sizeof *Y1);\n"
            "    float *Y2 = malloc(n * ldy * sizeof *Y2), *buf = malloc(big * sizeof *buf);\n"
            "    FILE *f = fopen(argv[6], \"rb\");\n"
            "    if (!X || !Y1 || !Y2 || !buf || !f || fread(X, sizeof *X, n * ldx, f) != n * "
            "ldx)\n"
            "        return 2;\n"
            "    fclose(f);\n"
            "    for (size_t j = 0; j < n; j++)\n"
            "        %s_predict(X + j * ldx, Y1 + j * nout);\n"
            "    for (size_t i = 0; i < n * ldy; i++)\n"
            "        Y2[i] = 777.0f;\n"
            "    %s_predict_batch(n, X, ldx, Y2, ldy);\n"
            "    for (size_t j = 0; j < n; j++) {\n"
            "        memcpy(buf, X + j * ldx, nin * sizeof *buf);\n"
            "        %s_predict(buf, buf);\n"
            "        if (memcmp(buf, Y1 + j * nout, nout * sizeof *buf) != 0)\n"
            "            return 3;\n"
            "    }\n"
            "    dump(argv[7], Y1, n * nout);\n"
            "    dump(argv[8], Y2, n * ldy);\n"
            "    return 0;\n"
            "}\n",
            prefix, prefix, prefix, prefix, prefix);
    cr_assert_eq(fclose(f), 0);
}

/* Raw inputs for net: n columns with ld n_in + 3, the padding NaN (so reading it would show);
 * around the input scaling's mean ± 2.5 std if there is one, else in [−3, 3]; the last two
 * columns far out (±300 std) to drive sigmoid, tanh and softmax into saturation, and the
 * logits of a ReLU net's softmax beyond where e^z overflows a float. */
static float *make_inputs(gn_net *net, size_t n, size_t *ldx, uint64_t seed)
{
    size_t n0 = gn_net_n_inputs(net);
    *ldx = n0 + 3;
    float *X = random_floats(n * *ldx, -1.0f, 1.0f, seed);
    cr_assert_not_null(X);
    const float *mean = NULL, *std = NULL;
    gn_net_input_scaling(net, &mean, &std);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < *ldx; i++) {
            float *x = X + i + j * *ldx;
            float spread = j + 2 >= n ? 300.0f * (j + 1 == n ? 1.0f : -1.0f) : 2.5f * *x;
            if (i >= n0)
                *x = NAN;
            else
                *x = mean ? mean[i] + spread * std[i] : (j + 2 >= n ? spread : 3.0f * *x);
        }
    return X;
}

/* Runs dir/exe on X and returns the one-by-one outputs Y1 (n_out × n); checks the batch
 * outputs equal them bit for bit and leave the padding of Y alone. */
static float *run_driver(const char *exe, gn_net *net, const float *X, size_t ldx, size_t n)
{
    size_t nin = gn_net_n_inputs(net), nout = gn_net_n_outputs(net), ldy = nout + 2;
    char xp[256], y1p[256], y2p[256];
    write_floats(path_of(xp, sizeof xp, "x.bin"), X, n * ldx);
    path_of(y1p, sizeof y1p, "y1.bin");
    path_of(y2p, sizeof y2p, "y2.bin");
    int rc = shell("'%s/%s' %zu %zu %zu %zu %zu '%s' '%s' '%s'", dir, exe, n, nin, nout, ldx, ldy,
                   xp, y1p, y2p);
    cr_assert_neq(rc, 3, "%s: predicting in place (y = x) changed the result", exe);
    cr_assert_eq(rc, 0, "%s failed (%d): %s", exe, rc, out);
    float *Y1 = read_floats(y1p, n * nout), *Y2 = read_floats(y2p, n * ldy);
    for (size_t j = 0; j < n; j++) {
        cr_assert(memcmp(Y1 + j * nout, Y2 + j * ldy, nout * sizeof *Y1) == 0,
                  "%s: predict_batch differs from predict for sample %zu", exe, j);
        for (size_t i = nout; i < ldy; i++)
            cr_assert_eq(Y2[i + j * ldy], 777.0f, "%s: predict_batch wrote Y's padding", exe);
    }
    free(Y2);
    return Y1;
}

/* Tolerance for one output, in raw units. The generated code rounds like the library
 * operation by operation except for the order of the sums inside W·a (BLAS blocks them) and
 * e^x (libm's expf against the library's polynomial, ~1e-7 relative): each layer then
 * differs by a few float ulps of its largest partial sums, ~1e-7 relative, and our nets are
 * at most 8 layers of width ≤ 12 with weights of order 1, so the differences stay near
 * 1e-6 of the activations' scale. 1e-5 · std · (1 + |a|), a the output before the output
 * scaling, leaves a margin of ten, while a wrong weight, activation or layout errs by ~0.1.
 * The same bound holds against the double-precision reference (which differs from float
 * by the same roundings). */
static double tolerance(gn_net *net, size_t i, double y)
{
    const float *mean = NULL, *std = NULL;
    gn_net_output_scaling(net, &mean, &std);
    double s = mean ? std[i] : 1.0, a = mean ? (y - mean[i]) / s : y;
    return 1e-5 * s * (1.0 + fabs(a));
}

/* Exports dir/model (default prefix unless prefix is not NULL: then --prefix), compiles it
 * with the strict flags, checks its undefined symbols, links it with a driver and compares
 * its outputs on n random inputs with gn_net_predict and forward_d. Returns the largest
 * error relative to the tolerance (≤ 1). */
static double check_model(gn_net *net, const char *model, const char *prefix, size_t n)
{
    char c_file[160], obj[160], exe[160];
    snprintf(c_file, sizeof c_file, "%s.c", prefix);
    snprintf(obj, sizeof obj, "%s.o", prefix);
    snprintf(exe, sizeof exe, "run_%s", prefix);
    int rc = cli("export-c '%s/%s' --prefix %s -o '%s/%s'", dir, model, prefix, dir, c_file);
    cr_assert_eq(rc, 0, "export-c failed (%d): %s", rc, out);
    cr_assert_eq(out[0], '\0', "export-c with -o printed: %s", out);
    rc = shell("cd '%s' && %s -std=c99 -Wall -Wextra -pedantic -Werror -O2 -c %s -o %s", dir, cc(),
               c_file, obj);
    cr_assert_eq(rc, 0, "the generated %s does not compile cleanly as C99:\n%s", c_file, out);
    check_undefined(obj);
    write_driver(prefix);
    rc = shell("cd '%s' && %s -std=c99 -O2 driver_%s.c %s -lm -o %s", dir, cc(), prefix, obj, exe);
    cr_assert_eq(rc, 0, "cannot link the driver with %s and -lm:\n%s", obj, out);

    size_t ldx, nout = gn_net_n_outputs(net);
    float *X = make_inputs(net, n, &ldx, 4242);
    float *Y = run_driver(exe, net, X, ldx, n);
    float *Ylib = malloc(n * nout * sizeof *Ylib);
    cr_assert_not_null(Ylib);
    cr_assert_eq(gn_net_predict(net, X, ldx, n, Ylib, nout), GN_OK, "%s", gn_net_last_error(net));
    double worst = 0.0, yd[64];
    for (size_t j = 0; j < n; j++) {
        forward_d(net, X + j * ldx, yd);
        for (size_t i = 0; i < nout; i++) {
            double y = Y[i + j * nout], ylib = Ylib[i + j * nout], tol = tolerance(net, i, ylib);
            cr_assert(isfinite(y), "%s: output %zu of sample %zu is %g", c_file, i, j, y);
            cr_assert_leq(fabs(y - ylib), tol,
                          "%s: output %zu of sample %zu is %.9g, gn_net_predict gives %.9g "
                          "(tolerance %.3g)",
                          c_file, i, j, y, ylib, tol);
            cr_assert_leq(fabs(y - yd[i]), tol,
                          "%s: output %zu of sample %zu is %.9g, the double reference gives "
                          "%.9g (tolerance %.3g)",
                          c_file, i, j, y, yd[i], tol);
            worst = fmax(worst, fabs(y - ylib) / tol);
        }
    }
    free(Ylib);
    free(Y);
    free(X);
    return worst;
}

/*==== Agreement with the library ============================================================*/

/* Every activation in one network, inputs and outputs scaled, a non-default leaky slope. */
Test(export, every_activation_with_scaling)
{
    spec s = {.n_sizes = 9,
              .sizes = {6, 9, 8, 7, 10, 5, 8, 12, 3},
              .acts = {GN_ACT_SIGMOID, GN_ACT_TANH, GN_ACT_RELU, GN_ACT_LEAKY_RELU, GN_ACT_ELU,
                       GN_ACT_SOFTPLUS, GN_ACT_IDENTITY, GN_ACT_IDENTITY},
              .loss = GN_LOSS_QUADRATIC,
              .slope = 0.3f,
              .in_scale = 1,
              .out_scale = 1};
    gn_net *net = make_model(&s, 11, "all.gnn");
    double worst = check_model(net, "all.gnn", "all", 200);
    cr_log_info("every activation: largest error %.3g of the tolerance", worst);
    gn_net_free(net);
}

/* The same activations, each as the output layer, without scaling. */
Test(export, every_activation_as_output)
{
    const gn_act outs[] = {GN_ACT_SIGMOID,    GN_ACT_TANH, GN_ACT_RELU,
                           GN_ACT_LEAKY_RELU, GN_ACT_ELU,  GN_ACT_SOFTPLUS};
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        spec s = {.n_sizes = 3,
                  .sizes = {4, 11, 5},
                  .acts = {GN_ACT_TANH, outs[k]},
                  .loss = GN_LOSS_QUADRATIC,
                  .slope = 0.01f};
        char model[32], prefix[32];
        snprintf(model, sizeof model, "out%zu.gnn", k);
        snprintf(prefix, sizeof prefix, "out%zu", k);
        gn_net *net = make_model(&s, 20 + k, model);
        check_model(net, model, prefix, 60);
        gn_net_free(net);
    }
}

/* A classifier: softmax output (probabilities), input scaling only. */
Test(export, softmax_classifier)
{
    spec s = {.n_sizes = 4,
              .sizes = {7, 12, 10, 5},
              .acts = {GN_ACT_RELU, GN_ACT_ELU, GN_ACT_SOFTMAX},
              .loss = GN_LOSS_CCE,
              .slope = 0.01f,
              .in_scale = 1};
    gn_net *net = make_model(&s, 31, "cls.gnn");
    check_model(net, "cls.gnn", "cls", 200);
    gn_net_free(net);
}

/* A binary classifier without any scaling: the first layer reads x itself. */
Test(export, sigmoid_output_without_scaling)
{
    spec s = {.n_sizes = 3,
              .sizes = {3, 4, 1},
              .acts = {GN_ACT_TANH, GN_ACT_SIGMOID},
              .loss = GN_LOSS_BCE,
              .slope = 0.01f};
    gn_net *net = make_model(&s, 41, "bin.gnn");
    check_model(net, "bin.gnn", "bin", 100);
    gn_net_free(net);
}

/* One layer, with and without scaling (one workspace buffer, or two). */
Test(export, single_layer)
{
    spec plain = {.n_sizes = 2, .sizes = {5, 2}, .acts = {GN_ACT_IDENTITY}, .slope = 0.01f};
    gn_net *net = make_model(&plain, 51, "lin.gnn");
    check_model(net, "lin.gnn", "lin", 50);
    gn_net_free(net);
    spec scaled = plain;
    scaled.in_scale = scaled.out_scale = 1;
    scaled.sizes[0] = 9; /* the inputs are the widest: the workspace must hold them */
    net = make_model(&scaled, 52, "lins.gnn");
    check_model(net, "lins.gnn", "lins", 50);
    gn_net_free(net);
}

/* A regression model trained by gn_net_fit, which standardises inputs and targets itself. */
Test(export, trained_regression)
{
    enum { N = 400, F = 3 };
    float *X = random_floats(F * N, -2.0f, 5.0f, 61), *Y = malloc(N * sizeof *Y);
    cr_assert_not_null(Y);
    for (size_t j = 0; j < N; j++) {
        const float *x = X + j * F;
        Y[j] = 100.0f + 30.0f * sinf(x[0]) + 5.0f * x[1] * x[2];
    }
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_wrap(&ds, X, F, Y, 1, F, 1, N), GN_OK);
    const size_t sizes[] = {F, 16, 16, 1};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_SOFTPLUS, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 4, acts, GN_LOSS_QUADRATIC, 64, 62);
    gn_fit_options opt;
    gn_fit_options_defaults(&opt);
    opt.epochs = 20;
    opt.batch = 32;
    opt.opt.lr = 0.01f;
    opt.standardize = GN_STANDARDIZE_INPUTS | GN_STANDARDIZE_OUTPUTS;
    cr_assert_eq(gn_net_fit(net, ds, NULL, &opt, NULL), GN_OK, "%s", gn_net_last_error(net));
    char path[256], err[512];
    cr_assert_eq(gn_net_save(net, path_of(path, sizeof path, "reg.gnn"), err, sizeof err), GN_OK,
                 "%s", err);
    gn_net_free(net);
    cr_assert_eq(gn_net_load(&net, path, err, sizeof err), GN_OK, "%s", err);
    const float *mean = NULL, *std = NULL;
    gn_net_output_scaling(net, &mean, &std);
    cr_assert_not_null(mean, "the fit did not keep an output scaling");
    check_model(net, "reg.gnn", "reg", 150);
    gn_net_free(net);
    gn_dataset_free(ds);
    free(X);
    free(Y);
}

/* With weights, inputs and scaling on a coarse binary grid every sum is exact in float in
 * any order, so the generated code must give gn_net_predict's bits exactly (relu, leaky
 * relu with slope ¼ and identity: no exp). A wrong literal, layout or scaling shows. */
Test(export, bit_exact_on_exact_arithmetic)
{
    const size_t sizes[] = {5, 6, 4, 3};
    const gn_act acts[] = {GN_ACT_RELU, GN_ACT_LEAKY_RELU, GN_ACT_IDENTITY};
    gn_net_config cfg = net_config(sizes, 4, acts, GN_LOSS_QUADRATIC, 64, 71);
    cfg.leaky_slope = 0.25f;
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    gn_rng rng;
    gn_rng_seed(&rng, 72);
    float *p = gn_net_params(net);
    for (size_t i = 0; i < gn_net_n_params(net); i++) /* multiples of 1/8 in [−1, 1] */
        p[i] = (float)((int)gn_rng_below(&rng, 17) - 8) / 8.0f;
    const float in_mean[5] = {1, -2, 0, 3, -1}, in_std[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    const float out_mean[3] = {-3, 4, 0.5f}, out_std[3] = {2, 0.25f, 1};
    cr_assert_eq(gn_net_set_input_scaling(net, in_mean, in_std), GN_OK);
    cr_assert_eq(gn_net_set_output_scaling(net, out_mean, out_std), GN_OK);
    char path[256], err[512];
    cr_assert_eq(gn_net_save(net, path_of(path, sizeof path, "exact.gnn"), err, sizeof err), GN_OK,
                 "%s", err);

    enum { N = 64 };
    size_t ldx = 5 + 1;
    float X[N * 6];
    for (size_t i = 0; i < N * ldx; i++) /* multiples of 1/8 in [−2, 2] */
        X[i] = (float)((int)gn_rng_below(&rng, 33) - 16) / 8.0f;
    float Ylib[N * 3];
    cr_assert_eq(gn_net_predict(net, X, ldx, N, Ylib, 3), GN_OK);
    double yd[3];
    for (size_t j = 0; j < N; j++) { /* the premise: the library itself is exact here */
        forward_d(net, X + j * ldx, yd);
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq((double)Ylib[i + 3 * j], yd[i],
                         "premise: sums not exact in float (sample %zu output %zu)", j, i);
    }

    cr_assert_eq(cli("export-c '%s' --prefix exact -o '%s/exact.c'", path, dir), 0, "%s", out);
    write_driver("exact");
    int rc = shell("cd '%s' && %s -std=c99 -O2 exact.c driver_exact.c -lm -o run_exact", dir, cc());
    cr_assert_eq(rc, 0, "%s", out);
    float *Y = run_driver("run_exact", net, X, ldx, N);
    for (size_t j = 0; j < N; j++)
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq(Y[i + 3 * j], Ylib[i + 3 * j], "sample %zu output %zu: %a, library %a", j,
                         i, (double)Y[i + 3 * j], (double)Ylib[i + 3 * j]);
    free(Y);
    gn_net_free(net);
}

/* The literals are the parameters bit for bit, in the documented layout, even for zero,
 * −0, subnormals and values near FLT_MAX; the macros give the sizes. The dumper includes
 * the generated file, so it sees the static arrays themselves. */
Test(export, literals_are_exact)
{
    const size_t sizes[] = {3, 4, 2};
    const gn_act acts[] = {GN_ACT_LEAKY_RELU, GN_ACT_SOFTMAX};
    gn_net_config cfg = net_config(sizes, 3, acts, GN_LOSS_CCE, 16, 81);
    cfg.leaky_slope = 0.1f;
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    float *p = gn_net_params(net);
    const float special[] = {0.0f,     -0.0f,       1e-45f, -3e-42f,     FLT_MIN, 3.0e38f,
                             -FLT_MAX, 1.0f / 3.0f, -0.1f,  16777217.0f, 1e-10f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        p[3 * i % gn_net_n_params(net)] = special[i];
    const float mean[3] = {0.1f, -7.25f, 1e6f}, std[3] = {3.0f, 0.7f, 1e-3f};
    cr_assert_eq(gn_net_set_input_scaling(net, mean, std), GN_OK);
    char path[256], err[512];
    cr_assert_eq(gn_net_save(net, path_of(path, sizeof path, "lit.gnn"), err, sizeof err), GN_OK,
                 "%s", err);
    cr_assert_eq(cli("export-c '%s' --prefix lit -o '%s/lit.c'", path, dir), 0, "%s", out);
    cr_assert_eq(shell("cd '%s' && %s -std=c99 -Wall -Wextra -pedantic -Werror -c lit.c -o lit.o",
                       dir, cc()),
                 0, "special values do not compile cleanly:\n%s", out);

    char dumper[256];
    FILE *f = fopen(path_of(dumper, sizeof dumper, "dump.c"), "w");
    cr_assert_not_null(f);
    fprintf(f, "#include <stdio.h>\n"
               "#include \"lit.c\"\n"
               "static void put(const float *x, size_t n) { fwrite(x, sizeof *x, n, stdout); }\n"
               "int main(void)\n"
               "{\n"
               "    put(lit_w1, sizeof lit_w1 / sizeof *lit_w1);\n"
               "    put(lit_b1, sizeof lit_b1 / sizeof *lit_b1);\n"
               "    put(lit_w2, sizeof lit_w2 / sizeof *lit_w2);\n"
               "    put(lit_b2, sizeof lit_b2 / sizeof *lit_b2);\n"
               "    put(lit_in_mean, 3);\n"
               "    put(lit_in_inv_std, 3);\n"
               "    fprintf(stderr, \"%%d %%d %%d %%d %%d\", LIT_N_INPUTS, LIT_N_OUTPUTS,\n"
               "            LIT_N_LAYERS, LIT_N_PARAMS, LIT_MAX_WIDTH);\n"
               "    return 0;\n"
               "}\n");
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(shell("(cd '%s' && %s -std=c99 dump.c -lm -o dump && ./dump > dump.bin 2> sizes)",
                       dir, cc()),
                 0, "%s", out);
    size_t n = gn_net_n_params(net);
    char bin[256];
    float *got = read_floats(path_of(bin, sizeof bin, "dump.bin"), n + 6);
    cr_assert(memcmp(got, p, n * sizeof *p) == 0, "the arrays differ from the parameters");
    for (size_t i = 0; i < 3; i++) {
        float inv = 1.0f / std[i];
        cr_assert(memcmp(&got[n + i], &mean[i], sizeof inv) == 0, "mean[%zu]", i);
        cr_assert(memcmp(&got[n + 3 + i], &inv, sizeof inv) == 0, "1/std[%zu]", i);
    }
    free(got);
    cr_assert_eq(shell("cat '%s/sizes'", dir), 0);
    cr_assert_str_eq(out, "3 2 2 26 4");
    gn_net_free(net);
}

/* The file is C++ too (g++ defaults to C++17, where hex floats are standard), with C
 * linkage, so a C driver links against the C++ object; clang compiles it as strictly. */
Test(export, compiles_as_cxx_and_with_clang)
{
    spec s = {.n_sizes = 4,
              .sizes = {4, 6, 5, 3},
              .acts = {GN_ACT_LEAKY_RELU, GN_ACT_SOFTPLUS, GN_ACT_SOFTMAX},
              .loss = GN_LOSS_CCE,
              .slope = 0.05f,
              .in_scale = 1};
    gn_net *net = make_model(&s, 91, "cx.gnn");
    cr_assert_eq(cli("export-c '%s/cx.gnn' -o '%s/cx.c'", dir, dir), 0, "%s", out);
    if (shell("%s --version", cxx()) != 0)
        cr_skip_test("no C++ compiler (%s)", cxx());
    int rc =
        shell("cd '%s' && %s -Wall -Wextra -Werror -O2 -x c++ -c cx.c -o cx_cpp.o", dir, cxx());
    cr_assert_eq(rc, 0, "the generated file does not compile cleanly as C++:\n%s", out);
    check_undefined("cx_cpp.o");
    write_driver("cx");
    rc = shell("cd '%s' && %s -std=c99 -O2 driver_cx.c cx_cpp.o -lm -o run_cx", dir, cc());
    cr_assert_eq(rc, 0, "a C driver does not link with the C++ object:\n%s", out);
    size_t ldx;
    float *X = make_inputs(net, 40, &ldx, 92);
    float *Y = run_driver("run_cx", net, X, ldx, 40), Ylib[40 * 3];
    cr_assert_eq(gn_net_predict(net, X, ldx, 40, Ylib, 3), GN_OK);
    for (size_t i = 0; i < 40 * 3; i++)
        cr_assert_leq(fabs((double)Y[i] - Ylib[i]), tolerance(net, i % 3, Ylib[i]), "entry %zu", i);
    free(Y);
    free(X);
    if (shell("clang --version") == 0) {
        rc = shell(
            "cd '%s' && clang -std=c99 -Wall -Wextra -pedantic -Werror -c cx.c -o cx_clang.o", dir);
        cr_assert_eq(rc, 0, "the generated file does not compile cleanly with clang:\n%s", out);
    }
    gn_net_free(net);
}

/*==== The command ===========================================================================*/

/* Default prefix from the file name, standard input and standard output, macros in
 * capitals, the header comment. */
Test(export, names_and_streams)
{
    spec s = {.n_sizes = 3, .sizes = {2, 3, 2}, .acts = {GN_ACT_RELU, GN_ACT_IDENTITY}};
    gn_net *net = make_model(&s, 101, "2-layer net.v1.gnn");
    gn_net_free(net);
    cr_assert_eq(cli("export-c '%s/2-layer net.v1.gnn' -o '%s/a.c'", dir, dir), 0, "%s", out);
    cr_assert_eq(shell("grep -c 'void model_2_layer_net_v1_predict(const float \\*x, float \\*y)' "
                       "'%s/a.c'",
                       dir),
                 0, "no model_2_layer_net_v1_predict in the file");
    cr_assert_eq(shell("grep -c '^#define MODEL_2_LAYER_NET_V1_N_INPUTS 2$' '%s/a.c'", dir), 0);
    cr_assert_eq(shell("grep -c 'generated by gemmnet %s' '%s/a.c'", gn_version(), dir), 0);
    cr_assert_eq(shell("grep -c 'Network: 2 inputs -> 3 relu -> 2 identity' '%s/a.c'", dir), 0);
    cr_assert_eq(shell("grep '^#include' '%s/a.c'", dir), 0);
    cr_assert_str_eq(out, "#include <math.h>\n#include <stddef.h>\n");

    /* standard output and -o give the same file; '-' reads standard input ("model") */
    cr_assert_eq(cli("export-c '%s/2-layer net.v1.gnn' > '%s/b.c'", dir, dir), 0, "%s", out);
    cr_assert_eq(shell("cmp '%s/a.c' '%s/b.c'", dir, dir), 0, "stdout differs from -o: %s", out);
    cr_assert_eq(cli("export-c - -o '%s/c.c' < '%s/2-layer net.v1.gnn'", dir, dir), 0, "%s", out);
    cr_assert_eq(shell("grep -c 'void model_predict(const float' '%s/c.c'", dir), 0);
    cr_assert_eq(cli("export-c --prefix=Net7 --output='%s/d.c' '%s/2-layer net.v1.gnn'", dir, dir),
                 0, "%s", out);
    cr_assert_eq(shell("grep -c '^#define NET7_N_OUTPUTS 2$' '%s/d.c'", dir), 0);
    cr_assert_eq(shell("grep -c 'void Net7_predict_batch(size_t n' '%s/d.c'", dir), 0);

    /* an existing output is replaced whole by a new file renamed over it (a new inode; a
     * hard link to the old one keeps the old text), and no temporary file stays behind */
    char e_c[256], e_link[256];
    cr_assert_eq(shell("echo old > '%s'", path_of(e_c, sizeof e_c, "e.c")), 0);
    cr_assert_eq(link(e_c, path_of(e_link, sizeof e_link, "e.link")), 0);
    cr_assert_eq(cli("export-c '%s/2-layer net.v1.gnn' -o '%s'", dir, e_c), 0, "%s", out);
    cr_assert_eq(shell("cmp '%s/a.c' '%s'", dir, e_c), 0, "%s", out);
    cr_assert_eq(shell("cat '%s'", e_link), 0);
    cr_assert_str_eq(out, "old\n", "the old file was written over in place");
    cr_assert_eq(temp_files_left(), 0);
}

Test(export, help)
{
    cr_assert_eq(cli("export-c --help"), 0);
    cr_assert(strstr(out, "usage: gemmnet export-c MODEL [-o FILE.c] [--prefix NAME]"), "%s", out);
    cr_assert_eq(cli("help export-c"), 0);
    cr_assert(strstr(out, "usage: gemmnet export-c"), "%s", out);
    cr_assert_eq(cli("help"), 0);
    cr_assert(strstr(out, "  export-c MODEL"), "the overview does not list export-c: %s", out);
}

/* Runtime errors exit 1 with a message and write nothing; usage errors exit 2. */
Test(export, errors)
{
    spec s = {.n_sizes = 2, .sizes = {2, 2}, .acts = {GN_ACT_SIGMOID}};
    gn_net *net = make_model(&s, 111, "ok.gnn");
    gn_net_free(net);
    char target[256];
    path_of(target, sizeof target, "out.c");

    /* missing model */
    cr_assert_eq(cli("export-c '%s/missing.gnn' -o '%s'", dir, target), 1, "%s", out);
    cr_assert(strstr(out, "gemmnet: ") && strstr(out, "missing.gnn"), "%s", out);
    cr_assert(!file_exists(target));

    /* corrupt model: one byte flipped in the middle */
    size_t len = 0;
    char path[256];
    uint8_t *b = read_whole_file(path_of(path, sizeof path, "ok.gnn"), &len);
    b[len / 2] ^= 0x40;
    FILE *f = fopen(path_of(path, sizeof path, "bad.gnn"), "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    free(b);
    cr_assert_eq(cli("export-c '%s' -o '%s'", path, target), 1, "%s", out);
    cr_assert(strstr(out, "gemmnet: "), "%s", out);
    cr_assert(!file_exists(target));
    cr_assert_eq(cli("export-c /dev/null"), 1, "an empty model: %s", out);

    /* a full disk on standard output */
    cr_assert_eq(shell("{ '%s' export-c '%s/ok.gnn' 2>&1 > /dev/full; }", cli_path(), dir), 1, "%s",
                 out);
    cr_assert(strstr(out, "standard output: write error"), "%s", out);

    /* unwritable output: no such directory, a file where a directory should be, a directory */
    cr_assert_eq(cli("export-c '%s/ok.gnn' -o '%s/no/such/dir/x.c'", dir, dir), 1, "%s", out);
    cr_assert(strstr(out, "gemmnet: ") && strstr(out, "x.c"), "%s", out);
    cr_assert_eq(cli("export-c '%s/ok.gnn' -o '%s/ok.gnn/x.c'", dir, dir), 1, "%s", out);
    cr_assert_eq(shell("mkdir '%s/sub'", dir), 0);
    cr_assert_eq(cli("export-c '%s/ok.gnn' -o '%s/sub'", dir, dir), 1, "%s", out);
    cr_assert(strstr(out, "gemmnet: "), "%s", out);
    cr_assert_eq(temp_files_left(), 0, "a temporary file was left behind");

    /* prefixes that are no usable C identifier: a usage error, like every bad option value */
    const char *bad[] = {"9lives", "a-b", "a__b", "x_", "_x", "'a b'", "\"\"", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(cli("export-c '%s/ok.gnn' --prefix %s -o '%s'", dir, bad[i], target), 2,
                     "--prefix %s: %s", bad[i], out);
        cr_assert(strstr(out, "gemmnet: "), "%s", out);
    }
    char longp[80];
    memset(longp, 'a', 65);
    longp[65] = '\0';
    cr_assert_eq(cli("export-c '%s/ok.gnn' --prefix %s", dir, longp), 2, "%s", out);
    longp[64] = '\0';
    cr_assert_eq(cli("export-c '%s/ok.gnn' --prefix %s -o '%s'", dir, longp, target), 0, "%s", out);
    cr_assert(file_exists(target));

    /* other usage errors */
    cr_assert_eq(cli("export-c"), 2, "%s", out);
    cr_assert_eq(cli("export-c '%s/ok.gnn' '%s/ok.gnn'", dir, dir), 2, "%s", out);
    cr_assert_eq(cli("export-c '%s/ok.gnn' --frobnicate", dir), 2, "%s", out);
    cr_assert_eq(cli("export-c '%s/ok.gnn' -o", dir), 2, "%s", out);
    cr_assert(strstr(out, "Try 'gemmnet export-c --help'."), "%s", out);
}
