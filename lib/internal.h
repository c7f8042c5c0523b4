/* Declarations shared between the library's source files. Never installed. */
#ifndef GN_INTERNAL_H
#define GN_INTERNAL_H

#include "gemmnet.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define GN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GN_PRINTF(f, a)
#endif

/* Passes over the whole parameter vector are compiled for the widest vector unit the CPU
 * has, chosen at load time. GCC only: clang 14 gives the resolvers of static clones global
 * names (two files with a static sum_squares no longer link) and leaves extern ones
 * undefined, and the fuzz build needs clang. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define WIDEST_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef WIDEST_SIMD
#define WIDEST_SIMD
#endif

/* 1 if v is NaN or infinite (all-ones exponent), else 0: an integer test, so OR-ing many of
 * them vectorises without a floating-point dependency chain. */
static inline uint32_t nonfinite(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

/*---- memory (util.c) ----*/

/* a·b in size_t; false if it overflows. */
static inline bool mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a)
        return false;
    *out = a * b;
    return true;
}

static inline bool add_ok(size_t a, size_t b, size_t *out)
{
    if (b > (size_t)-1 - a)
        return false;
    *out = a + b;
    return true;
}

/* 64-byte aligned, zeroed array of count floats; NULL on failure or overflow. */
float *gn__alloc_floats(size_t count);
void gn__free(void *p);

/* strerror(e) into buf, thread-safe (strerror_r); returns buf. */
const char *gn__errno_text(int e, char *buf, size_t len);

/* Opens path read-only (O_CLOEXEC) and checks that it is a regular file, whose length goes to
 * *size: GN_ERR_IO with "path: cannot open: …", "cannot stat", "is a directory" or "not a
 * regular file" in err otherwise. The caller closes *fd. */
gn_status gn__open_regular(const char *path, int *fd, uint64_t *size, char *err, size_t errlen);

/* Formats a message into buf (size len, always terminated). */
void gn__vformat(char *buf, size_t len, const char *fmt, va_list ap);
void gn__format(char *buf, size_t len, const char *fmt, ...) GN_PRINTF(3, 4);

/*---- random numbers (rng.c) ----*/

/* Fisher–Yates shuffle of perm[0..n) in place. */
void gn__shuffle(gn_rng *rng, size_t *perm, size_t n);

/*---- products (blas.c, ref.c) ----*/

/* One product on the implementation impl and, on the BLAS path, the backend be (OpenBLAS for
 * GN_BACKEND_AUTO or a backend not compiled in). Arguments already validated. */
void gn__gemm(gn_impl impl, gn_backend be, gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k,
              float alpha, const float *A, size_t lda, const float *B, size_t ldb, float beta,
              float *C, size_t ldc);
/* The backend a new network gets (backend.c): GN_BACKEND's if set, else GN_BACKEND_AUTO;
 * GN_ERR_ARG for an unknown name, GN_ERR_UNSUPPORTED if not available (explained in err). */
gn_status gn__backend_resolve(gn_backend *out, char *err, size_t errlen);
/* Sets the mode and every product's backend (OpenBLAS for auto until tuned). */
void gn__backend_apply(gn_net *net, gn_backend b);
/* tune.c: tunes an automatic network that is not tuned for m yet (when always, or when it
 * was never tuned). Never fails: a network that cannot be tuned keeps its choice. */
void gn__autotune(gn_net *net, size_t m, bool always);
/* Products a backend failed and OpenBLAS computed instead (tests expect 0). */
size_t gn__backend_fallbacks(void);
#ifdef GN_HAVE_ONEDNN
/* lib/onednn.c: false if oneDNN refused the call (nothing written then). */
bool gn__onednn_usable(void);
bool gn__gemm_onednn(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                     const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                     size_t ldc, int threads);
#endif
#ifdef GN_HAVE_LIBXSMM
/* lib/xsmm.c */
bool gn__xsmm_usable(void);
void gn__gemm_xsmm(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc, int threads);
size_t gn__xsmm_fallbacks(void);
#endif
void gn__gemm_blas(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc);
void gn__gemm_naive(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                    const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                    size_t ldc);
void gn__gemm_loop(gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc);

/*---- activations (act.c) ----*/

/* A := σ(A + b·1ᵀ) in place, A is n × m with ld = n: bias and activation in one pass.
 * Returns Σ A², which is not finite if any element is not (see gn_net_train_step). */
double gn__act_forward(gn_act act, float slope, float *A, const float *b, size_t n, size_t m);

/* D := D ⊙ σ'(Z), with σ'(Z) computed from the layer's output A (n × m, ld = n) times ascale
 * (1, or 1 − p to undo inverted dropout), and db := (1/m)·D·1 written in the same pass.
 * Returns Σ D² (of the result). */
double gn__act_backward(gn_act act, float slope, float *D, const float *A, float ascale, float *db,
                        size_t n, size_t m);

/* D := J_σ · D column by column, from the layer's output A (both n × m, ld = n): D ⊙ σ'(Z)
 * with gn__act_backward's σ', or a ⊙ (d − aᵀd) for softmax (its Jacobian is symmetric, so
 * this serves tangents and reverse-mode vectors alike). No db, no dropout. */
void gn__act_deriv(gn_act act, float slope, float *D, const float *A, size_t n, size_t m);

/* Draws a dropout mask M (n × m, entries 0 or 1/(1 − p)) from rng and sets A := A ⊙ M.
 * Returns Σ A² of the result. */
double gn__dropout_forward(gn_rng *rng, float p, float *A, float *M, size_t n, size_t m);

/* D := D ⊙ M, n × m. */
void gn__dropout_backward(float *D, const float *M, size_t n, size_t m);

/*---- losses (loss.c) ----*/

/* Sum over the m columns of the per-sample loss (not divided by m); delta is the Huber δ. */
double gn__loss_sum(gn_loss loss, float delta, const float *A, const float *Y, size_t ldy, size_t n,
                    size_t m);

/* First part of the output error, from the output A and targets Y: D := a − y, times the
 * softmax Jacobian for quadratic loss on softmax. The element-wise σ' (quadratic loss on other
 * activations) is left to gn__act_backward; see gn__output_act. Returns the summed loss (as
 * gn__loss_sum) so one pass gives both. */
double gn__output_delta(gn_loss loss, float delta, gn_act act, const float *A, const float *Y,
                        size_t ldy, float *D, size_t n, size_t m);

/* The activation whose σ' still has to multiply the output error after gn__output_delta:
 * the layer's own for quadratic loss, identity where the delta is already complete. */
static inline gn_act gn__output_act(gn_loss loss, gn_act act)
{
    bool regression = loss == GN_LOSS_QUADRATIC || loss == GN_LOSS_MAE || loss == GN_LOSS_HUBER;
    return regression && act != GN_ACT_SOFTMAX ? act : GN_ACT_IDENTITY;
}

/* The class a column stands for: the argmax, or (x > 0.5) for a single row. */
size_t gn__class_of(const float *x, size_t n);

/* Number of columns whose prediction matches the target (see gn_net_evaluate). */
size_t gn__count_correct(const float *A, const float *Y, size_t ldy, size_t n, size_t m);

/*---- datasets (data.c) ----*/

struct gn_dataset {
    size_t n, n_features, n_outputs;
    size_t ldx, ldy;
    gn_layout layout;     /* of X and Y; owned storage is always GN_SAMPLES_IN_COLUMNS */
    const float *X, *Y;   /* what readers use: owned storage or the caller's arrays */
    float *own_x, *own_y; /* owned storage, NULL for a wrapped dataset */
};

/* A dataset owning X (if given, else a new zeroed n_features × n) and a new zeroed Y, both
 * with ld = rows. NULL on failure or overflow; X is then still the caller's. */
gn_dataset *gn__dataset_new(size_t n, size_t n_features, size_t n_outputs, float *X);

/*---- array datasets: targets shared by npy.c and hdf5.c (defined in npy.c) ----*/

#define GN__ARRAY_MAX_CLASSES 65536 /* as documented at gn_array_options */

/* GN_ERR_ARG with a message unless opt's fields are in range. */
gn_status gn__array_check_options(const gn_array_options *opt, char *err, size_t errlen);

/* Checks n samples of k target values y (sample-major) read from `name`: real targets within
 * the float range, or (k = 1) class labels that are whole numbers in [0, n_classes or 65536).
 * *n_outputs gets k, or the number of classes. */
gn_status gn__array_check_targets(const double *y, size_t n, size_t k, const gn_array_options *opt,
                                  const char *name, size_t *n_outputs, char *err, size_t errlen);

/* Y (n_outputs × n, zeroed) := the checked targets as floats, or one-hot columns. */
void gn__array_fill_targets(float *Y, const double *y, size_t n, size_t n_outputs, int regression);

/* "NaN", "infinite", … or the value: why v cannot be a float, for messages. */
const char *gn__array_bad_value(double v, char *buf, size_t len);

/* Element strides of a matrix with ld in a layout: (feature i, sample j) is at
 * p[i·fs + j·ss]; fs = 1, ss = ld for samples in columns, fs = ld, ss = 1 for rows. */
static inline void gn__strides(gn_layout layout, size_t ld, size_t *fs, size_t *ss)
{
    bool rows = layout == GN_SAMPLES_IN_ROWS;
    *fs = rows ? ld : 1;
    *ss = rows ? 1 : ld;
}

/*---- network ----*/

typedef struct gn_layer {
    size_t n_in, n_out;
    gn_act act;
    size_t w_off, b_off;             /* in the parameter/gradient buffers */
    gn_backend be[GN_PRODUCT_COUNT]; /* backend of each product (gn_product order) */
    double a_sumsq;                  /* Σ A² of the last forward pass */
    double d_sumsq;                  /* Σ Δ² of the last backward pass */
} gn_layer;

struct gn_net {
    size_t n_layers;  /* L */
    gn_layer *layers; /* L entries, layer l at layers[l-1] */
    gn_loss loss;
    float leaky_slope;
    gn_impl impl;
    gn_backend backend; /* the mode: forced, or GN_BACKEND_AUTO */
    size_t tuned_batch; /* batch of the last gn_net_tune, 0: never */
    int tuned_threads;  /* gn_get_threads() at that time */

    size_t n_params;
    float *params;
    float *grads;

    size_t max_batch;
    float **acts;   /* A^1 … A^L, each n_l × max_batch, ld = n_l */
    float **deltas; /* Δ^1 … Δ^L, each n_l × max_batch, ld = n_l */
    float *xbuf;    /* gathered or scaled inputs, n_0 × max_batch */
    float *ybuf;    /* gathered or scaled targets, n_L × max_batch */
    float **masks;  /* dropout masks of the hidden layers (0 or 1/(1−p)), NULL without */
    float *work;    /* the one allocation behind all of the above */

    float dropout; /* p, 0 = off */
    float huber_delta;
    float *in_scale;  /* 3·n_0 floats: mean, 1/std, std; NULL without input scaling */
    float *out_scale; /* 3·n_L floats: mean, 1/std, std; NULL without output scaling */

    gn_rng rng;
    gn_reducer reducer; /* data-parallel training, if has_reducer */
    bool has_reducer;
    char err[256];
};

/* Records a message for gn_net_last_error and returns status. */
gn_status gn__fail(gn_net *net, gn_status status, const char *fmt, ...) GN_PRINTF(3, 4);

/* Checks the common arguments of the compute calls: X (and Y if need_y), leading dimensions,
 * m ≥ 1 and, if batch_limit, m ≤ max_batch. */
gn_status gn__check_batch(gn_net *net, const char *fn, const float *X, size_t ldx, const float *Y,
                          size_t ldy, bool need_y, size_t m, bool batch_limit);

/* gn__check_batch for the *_layout calls (any n, no batch limit): for samples in rows, X (and
 * Y) are n × features with a leading dimension ≥ n. */
gn_status gn__check_layout(gn_net *net, const char *fn, gn_layout layout, const float *X,
                           size_t ldx, const float *Y, size_t ldy, bool need_y, size_t n);

/* GN_ERR_ARG (with a message naming fn) unless eta is finite and positive. */
gn_status gn__check_eta(gn_net *net, const char *fn, float eta);

/* Unchecked forward pass of already scaled inputs; returns A^L (in the network's own output
 * units). training draws and applies dropout masks. */
const float *gn__forward(gn_net *net, const float *X, size_t ldx, size_t m, bool training);

/* Unchecked backprop of already scaled X, Y into net->grads; returns the summed (not mean)
 * batch loss. */
double gn__backprop(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy, size_t m);

/* Copies columns idx[0..m) (or 0..m if idx is NULL) of X and Y into xbuf/ybuf, applying the
 * model's input and output scaling on the way. Y may be NULL. */
void gn__gather(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                const size_t *idx, size_t m);

/* gn__gather for matrices in any layout; X may be NULL too (only Y wanted). Sample idx[j] (or
 * j) of X is read at X + idx[j]·ss with feature stride fs (gn__strides). */
void gn__gather_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx, const float *Y,
                       size_t ldy, const size_t *idx, size_t m);

/* Inputs and targets as the network sees them: X (and Y) themselves when there is no
 * scaling, else scaled copies in xbuf (ybuf). */
void gn__prepare(gn_net *net, const float **X, size_t *ldx, const float **Y, size_t *ldy, size_t m);

/* Checks mean/std (n entries each, both non-NULL) and builds a scaling buffer
 * [mean | 1/std | std] for net->in_scale or net->out_scale, without installing it. */
gn_status gn__make_scaling(gn_net *net, const char *fn, size_t n, const float *mean,
                           const float *std, float **out);

/* Inference on columns [j0, j0 + m) of X (m ≤ max_batch), scaled as the model says; returns
 * A^L in the network's own units. If Y is not NULL, *Yb and *ldyb get those columns of Y as the
 * network sees them (scaled with the outputs' scaling). */
const float *gn__infer_chunk(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                             size_t j0, size_t m, const float **Yb, size_t *ldyb);

/* gn__infer_chunk for X and Y in either layout. Samples in rows are read in place through a
 * transposed first product unless input scaling needs a scaled copy; their Y is gathered. */
const float *gn__infer_chunk_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx,
                                    const float *Y, size_t ldy, size_t j0, size_t m,
                                    const float **Yb, size_t *ldyb);

/* Maps network outputs back to raw units in place (output scaling), n_L × m, ld = ld. */
void gn__unscale_outputs(const gn_net *net, float *A, size_t ld, size_t m);

/* The fused-or-checked SGD step on prepared inputs (the body of gn_net_train_step). With a
 * reducer, m is this worker's share of a global batch of total samples (0: unknown, ask the
 * reducer), and the summed gradient is applied. */
gn_status gn__sgd_step(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                       size_t m, size_t total, float eta, double *loss);

/* Steps 1–3 of a data-parallel step (see gn_reducer) on prepared inputs: this worker's m
 * samples (m may be 0) as its part of the mean over total (0: ask batch_total), layers handed
 * to reduce_layer as they are done, then reduce. *loss gets the summed batch-mean loss once
 * reduce succeeded. GN_ERR_NONFINITE if it is not finite; a hook's status if one fails. */
gn_status gn__backprop_reduced(gn_net *net, const char *fn, const float *X, size_t ldx,
                               const float *Y, size_t ldy, size_t m, size_t total, double *loss);

/* The share of a global batch of b samples that worker `rank` of `workers` takes:
 * [*lo, *hi) with lo = ⌊b·rank/workers⌋ (reduce.c). */
void gn__shard(const gn_net *net, size_t b, size_t *lo, size_t *hi);

/* The batch each worker tunes for: ⌈b/P⌉ (b alone), at least 1. */
size_t gn__local_batch(const gn_net *net, size_t b);

/* With a reducer of several workers and a broadcast hook, worker 0's choice of backend per
 * product (gn__share_backends) or n doubles (gn__share_doubles) on every worker: collective.
 * GN_OK without one; the hook's status (recorded, naming fn) if it fails. */
gn_status gn__share_backends(gn_net *net, const char *fn);
gn_status gn__share_doubles(gn_net *net, const char *fn, double *x, size_t n);

/* With a reducer: its agree hook on st (GN_OK passes through without one). A failure agreed
 * from another worker is recorded for gn_net_last_error, naming fn. */
gn_status gn__agree(gn_net *net, const char *fn, gn_status st);

struct gn_optimizer {
    gn_optimizer_config cfg;
    float lr;        /* current */
    uint64_t t;      /* steps applied */
    size_t n_params; /* of the networks it serves */
    float *s1, *s2;  /* velocity / RMS / first and second moments, n_params each */
};

/* GN_INIT_ORTHOGONAL for every layer (lapack.c): allocates its temporary first, so on
 * GN_ERR_NOMEM the parameters and the RNG are unchanged; then seeds the RNG and draws. */
gn_status gn__init_orthogonal(gn_net *net, uint64_t seed);

/* True if a fit's progress can be saved and resumed: best_epoch ≤ epochs_done ≤ 2^40, a
 * finite best loss with a best epoch, best parameters only with one (io_model.c). */
bool gn__progress_consistent(const gn_fit_progress *p);

/* How many state vectors (s1, s2) an optimizer of this kind keeps: 0, 1 or 2. */
int gn__optimizer_vectors(gn_opt kind);

/* gn_optimizer_step on inputs gn__prepare has already scaled (optim.c). */
gn_status gn__optimizer_step_prepared(gn_optimizer *opt, gn_net *net, const float *X, size_t ldx,
                                      const float *Y, size_t ldy, size_t m, size_t total,
                                      double *loss);

/* gn_net_evaluate without the argument checks, in chunks of chunk ≤ max_batch samples. The
 * chunk size fixes which sgemm shapes run, so the same chunk gives the same bits. */
void gn__evaluate(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy, size_t n,
                  size_t chunk, double *loss, double *accuracy);
void gn__evaluate_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx, const float *Y,
                         size_t ldy, size_t n, size_t chunk, double *loss, double *accuracy);

/* True if no element of x[0..n) is NaN or infinite. */
bool gn__all_finite(const float *x, size_t n);

/* True if every element of the rows × n matrix A (leading dimension ld) is finite; else
 * false with *bad the first column holding a NaN or an infinity. */
bool gn__columns_finite(const float *A, size_t rows, size_t ld, size_t n, size_t *bad);

/* Monotonic clock in seconds. */
double gn__now_seconds(void);

#endif
