/* Declarations shared between the library's source files. Never installed. */
#ifndef GN_INTERNAL_H
#define GN_INTERNAL_H

#include "gemmnet.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__)
#define GN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GN_PRINTF(f, a)
#endif

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

/* Formats a message into buf (size len, always terminated). */
void gn__vformat(char *buf, size_t len, const char *fmt, va_list ap);
void gn__format(char *buf, size_t len, const char *fmt, ...) GN_PRINTF(3, 4);

/*---- random numbers (rng.c) ----*/

/* Fisher–Yates shuffle of perm[0..n) in place. */
void gn__shuffle(gn_rng *rng, size_t *perm, size_t n);

/*---- products (blas.c, ref.c) ----*/

/* Unchecked C := alpha·op(A)·op(B) + beta·C; callers have validated the arguments. */
void gn__gemm(gn_impl impl, gn_trans ta, gn_trans tb, size_t m, size_t n, size_t k, float alpha,
              const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
              size_t ldc);
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

/* D := D ⊙ σ'(Z), with σ'(Z) computed from the layer's output A (n × m, ld = n), and
 * db := (1/m)·D·1 written in the same pass. Returns Σ D² (of the result). */
double gn__act_backward(gn_act act, float slope, float *D, const float *A, float *db, size_t n,
                        size_t m);

/*---- losses (loss.c) ----*/

/* Sum over the m columns of the per-sample loss (not divided by m). */
double gn__loss_sum(gn_loss loss, const float *A, const float *Y, size_t ldy, size_t n, size_t m);

/* First part of the output error, from the output A and targets Y: D := a − y, times the
 * softmax Jacobian for quadratic loss on softmax. The element-wise σ' (quadratic loss on other
 * activations) is left to gn__act_backward; see gn__output_act. Returns the summed loss (as
 * gn__loss_sum) so one pass gives both. */
double gn__output_delta(gn_loss loss, gn_act act, const float *A, const float *Y, size_t ldy,
                        float *D, size_t n, size_t m);

/* The activation whose σ' still has to multiply the output error after gn__output_delta:
 * the layer's own for quadratic loss, identity where the delta is already complete. */
static inline gn_act gn__output_act(gn_loss loss, gn_act act)
{
    return loss == GN_LOSS_QUADRATIC && act != GN_ACT_SOFTMAX ? act : GN_ACT_IDENTITY;
}

/* Number of columns whose prediction matches the target (see gn_net_evaluate). */
size_t gn__count_correct(const float *A, const float *Y, size_t ldy, size_t n, size_t m);

/*---- network ----*/

typedef struct gn_layer {
    size_t n_in, n_out;
    gn_act act;
    size_t w_off, b_off; /* in the parameter/gradient buffers */
    double a_sumsq;      /* Σ A² of the last forward pass */
    double d_sumsq;      /* Σ Δ² of the last backward pass */
} gn_layer;

struct gn_net {
    size_t n_layers;  /* L */
    gn_layer *layers; /* L entries, layer l at layers[l-1] */
    gn_loss loss;
    float leaky_slope;
    gn_impl impl;

    size_t n_params;
    float *params;
    float *grads;

    size_t max_batch;
    float **acts;   /* A^1 … A^L, each n_l × max_batch, ld = n_l */
    float **deltas; /* Δ^1 … Δ^L, each n_l × max_batch, ld = n_l */
    float *xbuf;    /* gathered inputs, n_0 × max_batch (gn_net_train) */
    float *ybuf;    /* gathered targets, n_L × max_batch */
    float *work;    /* the one allocation behind all of the above */

    gn_rng rng;
    char err[256];
};

/* Records a message for gn_net_last_error and returns status. */
gn_status gn__fail(gn_net *net, gn_status status, const char *fmt, ...) GN_PRINTF(3, 4);

/* Checks the common arguments of the compute calls: X (and Y if need_y), leading dimensions,
 * m ≥ 1 and, if batch_limit, m ≤ max_batch. */
gn_status gn__check_batch(gn_net *net, const char *fn, const float *X, size_t ldx, const float *Y,
                          size_t ldy, bool need_y, size_t m, bool batch_limit);

/* GN_ERR_ARG (with a message naming fn) unless eta is finite and positive. */
gn_status gn__check_eta(gn_net *net, const char *fn, float eta);

/* Unchecked forward pass; returns A^L. */
const float *gn__forward(gn_net *net, const float *X, size_t ldx, size_t m);

/* Unchecked backprop into net->grads; returns the summed (not mean) batch loss. */
double gn__backprop(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy, size_t m);

#endif
