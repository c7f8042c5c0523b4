/*
 * gemmnet — fully connected neural networks trained by back-propagation, with every heavy
 * product a BLAS level-3 call.
 *
 * This is the only installed header. It is plain C11 and can be included from C++.
 */
#ifndef GEMMNET_H
#define GEMMNET_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(GN_BUILDING_DLL)
#define GN_API __declspec(dllexport)
#elif defined(__GNUC__) && defined(GN_BUILDING_LIBRARY)
#define GN_API __attribute__((visibility("default")))
#else
#define GN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*==== CONVENTIONS ============================================================================
 *
 * Numbers.   All data and parameters are float32. Losses and metrics are returned as double
 *            (they are accumulated in double so a large evaluation set does not lose digits).
 *
 * Matrices.  Column-major. Element (i, j) of a matrix A with leading dimension ld is
 *            A[i + j*ld], and ld ≥ number of rows. Sizes are size_t; every product of sizes
 *            is computed in size_t and checked for overflow.
 *
 * Batches.   A mini-batch is a features × batch matrix, one sample per column: sample j is
 *            column j. A C array `float x[n_samples][n_features]` already is such a matrix
 *            with ld = n_features.
 *
 * Layouts.   Host codes that keep one array per variable (x[features][n] in C, X(n,
 *            features) in Fortran) have their samples in rows instead: an n × features
 *            matrix with ld ≥ n. The *_layout functions (gn_layout) take either layout in
 *            place: the first layer multiplies by the transposed matrix (Z := W·Xᵀ, sgemm
 *            NoTrans, Trans) rather than copying it.
 *
 * Network.   Layer sizes n_0 (inputs), n_1, …, n_L (outputs). Layer l (1 ≤ l ≤ L) has a
 *            weight matrix W^l of n_l × n_{l-1} and a bias b^l of n_l, and computes, for a
 *            batch of m samples A^{l-1} (n_{l-1} × m):
 *
 *                Z^l := W^l · A^{l-1} + b^l · 1ᵀ          (sgemm NoTrans, NoTrans)
 *                A^l := σ_l(Z^l)                          (element-wise; softmax per column)
 *
 *            Back-propagation, with Δ^l = ∂C/∂Z^l (n_l × m) and C the batch-mean loss:
 *
 *                Δ^L := ∇_A C ⊙ σ_L'(Z^L)   (see Losses for the output error actually used)
 *                Δ^l := ((W^{l+1})ᵀ · Δ^{l+1}) ⊙ σ_l'(Z^l)   (sgemm Trans, NoTrans)
 *                dW^l := (1/m) · Δ^l · (A^{l-1})ᵀ              (sgemm NoTrans, Trans)
 *                db^l := (1/m) · Δ^l · 1                        (row means, fused)
 *
 *            (Inside the library Δ is kept without the 1/m; it is folded into alpha.)
 *            The product (W^1)ᵀ·Δ^1 would only give the gradient with respect to the
 *            inputs, which training does not need, so it is not computed.
 *
 * Parameters. All weights and biases live in one contiguous float buffer, layer after layer:
 *
 *                [ W^1 (n_1·n_0, column-major, ld = n_1) | b^1 (n_1) |
 *                  W^2 (n_2·n_1, column-major, ld = n_2) | b^2 (n_2) | … | W^L | b^L ]
 *
 *            The gradient buffer has exactly the same layout, so an optimizer, a checkpoint
 *            or an all-reduce acts on one vector. gn_net_layer_offsets() gives the offsets.
 *
 * Losses.    Batch means: C = (1/m) Σ_j c(a_j, y_j), with per-sample c:
 *                quadratic        c = ½ ‖a − y‖²                 (Nielsen, chapter 1)
 *                binary CE        c = −Σ_i [y_i ln a_i + (1 − y_i) ln(1 − a_i)]   (sigmoid out)
 *                categorical CE   c = −Σ_i y_i ln a_i                             (softmax out)
 *                mean abs. error  c = Σ_i |a_i − y_i|
 *                Huber (δ)        c = Σ_i h(a_i − y_i),  h(g) = ½g² for |g| ≤ δ, δ(|g| − ½δ) else
 *            Output error per sample, before the 1/m: quadratic on an element-wise σ:
 *            (a − y) ⊙ σ'(z); MAE: sign(a − y) ⊙ σ'(z) (0 where a = y); Huber:
 *            clamp(a − y, −δ, δ) ⊙ σ'(z); on a softmax output these three use the softmax
 *            Jacobian instead of σ'. BCE on sigmoid: a − y; CCE on softmax: a·Σ_i y_i − y.
 *            Softmax subtracts the column maximum before exponentiating, so any finite logits
 *            give finite probabilities. (The softmax Jacobian applied to g is
 *            a ⊙ (g − aᵀg); a·Σ_i y_i − y is the familiar a − y when the targets sum to one.)
 *            Logs are clamped at ln 1e-30, so a saturated output gives a large finite loss.
 *
 * Errors.    Every fallible call returns a gn_status: GN_OK (0) on success, a negative code
 *            on failure, and then leaves its outputs and the network untouched unless the
 *            function's documentation says otherwise (the training calls still report the
 *            non-finite loss that made them fail). The library never prints, never exits
 *            and never aborts. A message with details about the last failed call on a network
 *            is kept by gn_net_last_error().
 *
 * Memory.    Objects allocate everything when they are created (64-byte aligned) and never
 *            inside a training step or a forward pass. The sgemm backends below gemmnet may:
 *            oneDNN's dnnl_sgemm allocates its packing buffers in every call, and libxsmm
 *            generates (and keeps) a kernel the first time it meets a shape. OpenBLAS with
 *            its default kernels does not. Pointers passed in are not retained after the
 *            call returns unless documented. gn_*_free(NULL) is a no-op.
 *
 * Threads.   The library's only mutable global state is the memo of backend timings
 *            (gn_net_tune), behind a mutex: distinct gn_net objects may be used from
 *            distinct threads at the same time, and give bit-identical results to the
 *            same calls made one after the other (with a forced backend, or the same tuned
 *            choice). One gn_net must not be used by two
 *            threads at once, not even for read-only calls like gn_net_predict, because every
 *            compute call writes to the network's workspace. When several threads compute at
 *            once, give each one BLAS thread (OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1 for
 *            an OpenMP OpenBLAS, or gn_set_threads(1)): OpenBLAS's pthreads build runs one
 *            multithreaded product at a time. gn_set_threads() changes a process-wide
 *            setting, and is the only call that changes the BLAS thread count; call it when
 *            no other thread is inside the library. See docs/design.md, "Threading".
 *==========================================================================================*/

/*==== Version ===============================================================================*/

#define GN_VERSION_MAJOR 0
#define GN_VERSION_MINOR 4
#define GN_VERSION_PATCH 0
/** The version as one integer, e.g. 0.1.0 → 100: MAJOR*10000 + MINOR*100 + PATCH. */
#define GN_VERSION_NUMBER (GN_VERSION_MAJOR * 10000 + GN_VERSION_MINOR * 100 + GN_VERSION_PATCH)
#define GN_VERSION_STRING "0.4.0"

/** The version of the library actually linked, as "MAJOR.MINOR.PATCH". Static string;
 *  thread-safe. Compare with GN_VERSION_STRING to detect a header/library mismatch. */
GN_API const char *gn_version(void);

/*==== Status codes ==========================================================================*/

typedef enum gn_status {
    GN_OK = 0,
    GN_ERR_NULL = -1,        /**< a required pointer argument was NULL */
    GN_ERR_ARG = -2,         /**< an argument is out of its documented range */
    GN_ERR_DIM = -3,         /**< sizes or leading dimensions do not fit together */
    GN_ERR_BATCH = -4,       /**< batch larger than the network's workspace (gn_net_reserve) */
    GN_ERR_NONFINITE = -5,   /**< NaN or infinity in a hyperparameter, the data or the loss */
    GN_ERR_NOMEM = -6,       /**< memory allocation failed, or a size product overflowed */
    GN_ERR_UNSUPPORTED = -7, /**< a valid but unsupported combination (e.g. CE loss, tanh out) */
    GN_ERR_IO = -8,          /**< a file could not be opened, read or written */
    GN_ERR_FORMAT = -9,      /**< a data file (CSV, IDX) is malformed */
    /* Model files (.gnn): one code per kind of defect, so a caller can tell a file from a
     * newer gemmnet from a damaged one without parsing the message. */
    GN_ERR_MAGIC = -10,     /**< not a gemmnet model file (wrong leading bytes) */
    GN_ERR_VERSION = -11,   /**< written by a newer gemmnet: unknown format version, header
                                 flag or required section */
    GN_ERR_TRUNCATED = -12, /**< the file ends before the length its header states */
    GN_ERR_TRAILING = -13,  /**< bytes after the length its header states */
    GN_ERR_CHECKSUM = -14,  /**< CRC-32 mismatch: the file was damaged after it was written */
    GN_ERR_LIMIT = -15,     /**< a count or size beyond the format's or the reader's limits */
    GN_ERR_SECTION = -16,   /**< section structure: missing, repeated or misplaced section,
                                 wrong flags, or a length that does not match its contents */
    GN_ERR_VALUE = -17,     /**< a field holds an invalid value (unknown activation or loss,
                                 an inconsistent count, a bad scaling or optimizer setting) */
    /* Training. */
    GN_ERR_DIVERGED = -18, /**< the loss, a gradient or a parameter became NaN or infinite
                                during training from finite data; the parameters are the last
                                good ones */
    /* Linear algebra. */
    GN_ERR_SINGULAR = -19, /**< a least-squares problem is singular to working precision
                                (linearly dependent features, too few samples), or a LAPACK
                                iteration did not converge */
} gn_status;

/** A short English description of a status code. Never returns NULL (unknown codes give
 *  "unknown status"). The string is static; thread-safe. */
GN_API const char *gn_strerror(gn_status status);

/*==== Threads ===============================================================================*/

/** Sets the number of threads BLAS uses for every subsequent product, process-wide, on every
 *  backend (OpenBLAS keeps the count; oneDNN and libxsmm products are run on it).
 *  n ≥ 1. Without a call the BLAS default applies: OpenBLAS uses one thread per core
 *  unless OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) says otherwise. A network tuned for
 *  another count is tuned again by its next training call.
 *  Returns GN_ERR_ARG for n < 1 and GN_ERR_UNSUPPORTED if the BLAS the library was built
 *  against has no thread control. Not thread-safe: call it while no other thread is inside
 *  gemmnet. */
GN_API gn_status gn_set_threads(int n);

/** The number of threads BLAS will use (1 if the BLAS has no thread control). */
GN_API int gn_get_threads(void);

/*==== Matrix products: BLAS and the reference loops ========================================
 *
 * One operation, in BLAS terms:   C := alpha · op(A) · op(B) + beta · C
 * with op(X) = X or Xᵀ, C is m × n, op(A) is m × k and op(B) is k × n, all column-major.
 * A is m × k (lda ≥ m) for GN_NOTRANS and k × m (lda ≥ k) for GN_TRANS; likewise B.
 * When beta == 0, C is not read (NaN in C does not propagate), as in BLAS.
 *
 * The three products of a dense layer are the cases (NoTrans, NoTrans) forward,
 * (NoTrans, Trans) weight gradient and (Trans, NoTrans) back-propagated delta. The reference
 * implementations exist as the test oracle and as the benchmark's baseline.
 */

typedef enum gn_trans { GN_NOTRANS = 0, GN_TRANS = 1 } gn_trans;

typedef enum gn_impl {
    GN_IMPL_BLAS = 0,  /**< cblas_sgemm (default) */
    GN_IMPL_NAIVE = 1, /**< textbook loop: for i, for j, for p: C(i,j) += op(A)(i,p)·op(B)(p,j) */
    GN_IMPL_LOOP = 2,  /**< naive loops in a cache-friendly order the compiler vectorises */
} gn_impl;

/** C := alpha·op(A)·op(B) + beta·C with the chosen implementation.
 *  m, n, k may be 0 (then only C is scaled by beta, or left alone if m or n is 0).
 *  A, B, C: see the block above; A and B may be NULL only if the product is empty.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (unknown impl or trans), GN_ERR_DIM (ld too small, or a
 *  size larger than INT_MAX, which BLAS cannot take). Thread-safe (no shared state besides
 *  the BLAS itself). No allocation. */
GN_API gn_status gn_gemm(gn_impl impl, gn_trans transa, gn_trans transb, size_t m, size_t n,
                         size_t k, float alpha, const float *A, size_t lda, const float *B,
                         size_t ldb, float beta, float *C, size_t ldc);

/** gn_gemm with GN_IMPL_NAIVE: the textbook i, j, p triple loop, one float dot product per
 *  element of C. Same arguments, errors and guarantees as gn_gemm. */
GN_API gn_status gn_ref_gemm_naive(gn_trans transa, gn_trans transb, size_t m, size_t n, size_t k,
                                   float alpha, const float *A, size_t lda, const float *B,
                                   size_t ldb, float beta, float *C, size_t ldc);

/** gn_gemm with GN_IMPL_LOOP: loops ordered so the innermost one walks memory with unit
 *  stride (column axpys for NN and NT, column dot products for TN), which the compiler
 *  vectorises. Same arguments, errors and guarantees as gn_gemm. */
GN_API gn_status gn_ref_gemm_loop(gn_trans transa, gn_trans transb, size_t m, size_t n, size_t k,
                                  float alpha, const float *A, size_t lda, const float *B,
                                  size_t ldb, float beta, float *C, size_t ldc);

/*==== GEMM backends ==========================================================================
 *
 * The BLAS path (GN_IMPL_BLAS) runs each product on one of several sgemm libraries, all
 * computing the same C := alpha·op(A)·op(B) + beta·C: OpenBLAS (always there), oneDNN's
 * dnnl_sgemm and libxsmm's JIT kernels (each compiled in when meson finds it: options
 * onednn and libxsmm). Results agree to rounding, not bit for bit, across backends.
 * Threads: every backend runs on gn_get_threads() threads. oneDNN and gemmnet's libxsmm
 * driver run on OpenMP; gemmnet sets the calling thread's OpenMP thread count to
 * gn_get_threads() before each of their products, so OMP_NUM_THREADS matters only through
 * the default of gn_set_threads (see docs/performance.md, "Backends").
 */

typedef enum gn_backend {
    GN_BACKEND_AUTO = 0,     /**< per product, the fastest measured (gn_net_tune) */
    GN_BACKEND_OPENBLAS = 1, /**< cblas_sgemm of the BLAS gemmnet links (OpenBLAS) */
    GN_BACKEND_ONEDNN = 2,   /**< oneDNN's dnnl_sgemm */
    GN_BACKEND_LIBXSMM = 3,  /**< libxsmm JIT kernels inside gemmnet's blocked driver */
} gn_backend;
#define GN_BACKEND_COUNT 4

/** "auto", "openblas", "onednn", "libxsmm", or "unknown" for any other value. Static;
 *  thread-safe. */
GN_API const char *gn_backend_name(gn_backend backend);

/** Parses a name as gn_backend_name writes it (ASCII case ignored) into *out.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (not a backend's name; *out unchanged). Thread-safe. */
GN_API gn_status gn_backend_parse(const char *name, gn_backend *out);

/** 1 if the backend is compiled in and works on this CPU (GN_BACKEND_AUTO and
 *  GN_BACKEND_OPENBLAS always), 0 otherwise. The first call for libxsmm generates a probe
 *  kernel. Thread-safe. */
GN_API int gn_backend_available(gn_backend backend);

/** gn_gemm on the BLAS path with a chosen backend (not GN_BACKEND_AUTO). Same arguments,
 *  errors and guarantees as gn_gemm, plus GN_ERR_ARG (GN_BACKEND_AUTO or an unknown value) and
 *  GN_ERR_UNSUPPORTED (the backend is not available). No allocation. Thread-safe. */
GN_API gn_status gn_gemm_backend(gn_backend backend, gn_trans transa, gn_trans transb, size_t m,
                                 size_t n, size_t k, float alpha, const float *A, size_t lda,
                                 const float *B, size_t ldb, float beta, float *C, size_t ldc);

/*==== Network configuration =================================================================*/

typedef enum gn_act {
    GN_ACT_IDENTITY = 0,   /**< σ(z) = z */
    GN_ACT_SIGMOID = 1,    /**< σ(z) = 1 / (1 + e^−z) */
    GN_ACT_TANH = 2,       /**< σ(z) = tanh z */
    GN_ACT_RELU = 3,       /**< σ(z) = max(0, z); σ'(0) is taken as 0 */
    GN_ACT_LEAKY_RELU = 4, /**< σ(z) = z for z > 0, slope·z otherwise (gn_net_config.leaky_slope) */
    GN_ACT_SOFTMAX = 5, /**< per column: e^{z_i − max z} / Σ_k e^{z_k − max z}; output layer only */
    GN_ACT_ELU = 6,      /**< σ(z) = z for z > 0, e^z − 1 otherwise (α = 1) */
    GN_ACT_SOFTPLUS = 7, /**< σ(z) = ln(1 + e^z), computed as max(z, 0) + ln(1 + e^−|z|) */
} gn_act;
#define GN_ACT_COUNT 8

typedef enum gn_loss {
    GN_LOSS_QUADRATIC = 0, /**< ½‖a − y‖²; any output activation, softmax included */
    GN_LOSS_BCE = 1,       /**< binary cross-entropy; requires a sigmoid output layer */
    GN_LOSS_CCE = 2,       /**< categorical cross-entropy; requires a softmax output layer;
                                targets are usually one-hot or probabilities */
    GN_LOSS_MAE = 3,       /**< mean absolute error Σ_i |a_i − y_i|; any output activation */
    GN_LOSS_HUBER = 4,     /**< Huber loss with threshold gn_net_config.huber_delta; any output */
} gn_loss;
#define GN_LOSS_COUNT 5

typedef enum gn_init {
    GN_INIT_AUTO = 0,    /**< He for ReLU, leaky ReLU and ELU layers, Xavier/Glorot for others */
    GN_INIT_XAVIER = 1,  /**< W ~ U(−r, r), r = √(6 / (n_in + n_out)); b = 0 */
    GN_INIT_HE = 2,      /**< W ~ N(0, 2 / n_in); b = 0 */
    GN_INIT_NIELSEN = 3, /**< W, b ~ N(0, 1), as in Nielsen's network.py */
    /** W = gain·Q, Q with orthonormal columns (n_out ≥ n_in) or rows (n_out < n_in),
     *  uniformly (Haar) distributed; gain √2 for ReLU, leaky ReLU and ELU layers, 1
     *  otherwise; b = 0. See gn_net_init_params. */
    GN_INIT_ORTHOGONAL = 4,
} gn_init;
#define GN_INIT_COUNT 5

/** Everything needed to create a network. Fill with gn_net_config_defaults(), then set at
 *  least n_sizes, sizes and (optionally) acts. The structure is read during gn_net_create
 *  only; the arrays it points to are copied and may be freed afterwards. */
typedef struct gn_net_config {
    size_t n_sizes;      /**< number of entries in sizes: L + 1 ≥ 2 (inputs, …, outputs) */
    const size_t *sizes; /**< n_0, n_1, …, n_L; each in [1, GN_MAX_WIDTH] */
    const gn_act *acts;  /**< L activations, acts[l-1] for layer l; NULL: hidden_act for
                              hidden layers and output_act for the output layer */
    gn_act hidden_act;   /**< used when acts == NULL; default GN_ACT_SIGMOID */
    gn_act output_act;   /**< used when acts == NULL; default GN_ACT_SIGMOID */
    gn_loss loss;        /**< default GN_LOSS_QUADRATIC */
    gn_init init;        /**< default GN_INIT_AUTO */
    uint64_t seed;       /**< seeds weight init and shuffling; default 1 */
    size_t max_batch;    /**< workspace size in samples, ≥ 1; default 128 */
    float leaky_slope;   /**< slope of leaky ReLU for z ≤ 0, finite, in [0, 1); default 0.01 */
    gn_impl impl;        /**< products: GN_IMPL_BLAS (default) or a reference path */
    float huber_delta;   /**< threshold δ of the Huber loss, finite, > 0; default 1 */
} gn_net_config;

/** Largest layer width accepted, and the largest number of layers (L + 1 sizes). */
#define GN_MAX_WIDTH ((size_t)1 << 24)
#define GN_MAX_SIZES 256

/** Fills *cfg with the defaults listed in gn_net_config (sizes = NULL, n_sizes = 0).
 *  Does nothing if cfg is NULL. Thread-safe. */
GN_API void gn_net_config_defaults(gn_net_config *cfg);

/** Checks *cfg as gn_net_create would, without allocating, and explains the first problem
 *  found in err (errlen bytes, always NUL-terminated; "" when valid; err may be NULL).
 *  Returns the status gn_net_create would return for it, GN_ERR_NOMEM aside. Thread-safe. */
GN_API gn_status gn_net_config_check(const gn_net_config *cfg, char *err, size_t errlen);

/*==== Network lifecycle =====================================================================*/

/** An opaque network: architecture, parameters, gradients, workspace, RNG state and the
 *  last error message. */
typedef struct gn_net gn_net;

/** Creates a network from *cfg and initialises its parameters from cfg->seed.
 *  On success *out owns a new network (free it with gn_net_free); on failure *out is set
 *  to NULL. Allocates parameters, gradients and a workspace for cfg->max_batch samples.
 *  Returns GN_ERR_NULL (out, cfg or cfg->sizes NULL), GN_ERR_ARG (fewer than 2 or more than
 *  GN_MAX_SIZES sizes, a width of 0 or above GN_MAX_WIDTH, max_batch 0, an unknown enum,
 *  softmax on a hidden layer, a bad leaky_slope, GN_BACKEND set to an unknown name),
 *  GN_ERR_UNSUPPORTED (BCE without sigmoid output, CCE without softmax output, softmax
 *  output with a single unit, a backend (from cfg or GN_BACKEND) that is not available),
 *  GN_ERR_NOMEM.
 *  There is no network to keep a message on failure: gn_net_config_check explains it.
 *  Thread-safe. */
GN_API gn_status gn_net_create(gn_net **out, const gn_net_config *cfg);

/** Frees a network and everything it owns. NULL is a no-op. */
GN_API void gn_net_free(gn_net *net);

/** Re-draws all parameters with the given scheme from the given seed, and re-seeds the
 *  network's shuffling RNG with it too. Same seed, same parameters (one BLAS thread).
 *  GN_INIT_ORTHOGONAL draws, layer after layer from layer 1 and one RNG stream, an
 *  r × c matrix G of standard normal deviates (gn_rng_normal, column by column), where
 *  r = max(n_out, n_in) and c = min(n_out, n_in); factorises G = Q·R (LAPACK sgeqrf and
 *  sorgqr), flips the sign of each column of Q whose diagonal entry of R is negative (so Q
 *  is the Gram–Schmidt orthonormalisation of G's columns, Haar-distributed), and sets
 *  W = gain·Q when n_out ≥ n_in (then WᵀW = gain²·I) or W = gain·Qᵀ otherwise
 *  (W·Wᵀ = gain²·I), with gain √2 for ReLU, leaky ReLU and ELU layers and 1 for the others;
 *  b = 0. It allocates a temporary of about max_l(n_l·n_{l−1}) floats plus LAPACK's
 *  workspace for the call, before anything is changed. The other schemes do not allocate.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (unknown init), GN_ERR_NOMEM (orthogonal only; the
 *  parameters and the RNG are then unchanged). Not thread-safe on one network. */
GN_API gn_status gn_net_init_params(gn_net *net, gn_init init, uint64_t seed);

/** Grows or shrinks the workspace to hold batches of up to max_batch samples. This is the
 *  only call besides gn_net_create that allocates for computation. On failure the old
 *  workspace is kept. Returns GN_ERR_NULL, GN_ERR_ARG (max_batch 0), GN_ERR_NOMEM. */
GN_API gn_status gn_net_reserve(gn_net *net, size_t max_batch);

/** Chooses how the network computes its products (see gn_impl); the default is BLAS.
 *  Returns GN_ERR_NULL, GN_ERR_ARG. */
GN_API gn_status gn_net_set_impl(gn_net *net, gn_impl impl);

/** The three products of a dense layer l (docs/design.md): forward Z = W·A (NoTrans,
 *  NoTrans), back-propagated delta Wᵀ·Δ (Trans, NoTrans; not run for layer 1) and weight
 *  gradient Δ·Aᵀ (NoTrans, Trans; also the fused SGD update). */
typedef enum gn_product {
    GN_PRODUCT_FORWARD = 0,
    GN_PRODUCT_DELTA = 1,
    GN_PRODUCT_WEIGHT = 2,
} gn_product;
#define GN_PRODUCT_COUNT 3

/** Chooses the sgemm backend of every product of the network. A new network starts with the
 *  one the environment variable GN_BACKEND names (a name as gn_backend_parse reads it), or
 *  with GN_BACKEND_AUTO when it is unset or empty. A named backend runs every
 *  product, and results are then reproducible run to run (same seed, threads and build).
 *  GN_BACKEND_AUTO lets gn_net_tune pick per product; until the network is tuned every
 *  product runs on OpenBLAS. The training calls (gn_net_train_step, gn_optimizer_step,
 *  gn_net_train, gn_net_fit) tune an automatic network on their first batch, and gn_net_fit
 *  again when its batch size differs from the one tuned for. Since backends round
 *  differently, an automatic network's results are reproducible only while the measured
 *  choice is the same: force a backend where bit-for-bit repeatability matters.
 *  GN_BACKEND applies in gn_net_create, gn_net_load and gn_checkpoint_load; this call
 *  overrides it.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (unknown value), GN_ERR_UNSUPPORTED (not available; the
 *  setting is then unchanged). Not thread-safe on one network. */
GN_API gn_status gn_net_set_backend(gn_net *net, gn_backend backend);

/** The backend mode set by GN_BACKEND or gn_net_set_backend (GN_BACKEND_AUTO for NULL). */
GN_API gn_backend gn_net_backend(const gn_net *net);

/** Measures, for a batch of `batch` samples (1 ≤ batch ≤ gn_net_max_batch), each product of
 *  each layer on every available backend and keeps the fastest per product, then times whole
 *  training steps with that mix against each single backend and keeps whichever is fastest
 *  (thread pools of different libraries can slow each other down). The timings run on the
 *  network's own workspace, gradient buffer and a copy-free stand-in input: no allocation,
 *  and the parameters are left as they were (the gradient buffer and the forward results
 *  are not). The cost is about two calls of each product per backend plus a few training
 *  steps; the measurements are remembered for the process, so networks of the same shapes
 *  and thread count reuse them. With a forced backend, or only OpenBLAS compiled in, it
 *  only records the batch. Not thread-safe on one network; other threads' BLAS work skews
 *  the measurement. Returns GN_ERR_NULL, GN_ERR_ARG (batch 0 or above max_batch). */
GN_API gn_status gn_net_tune(gn_net *net, size_t batch);

/** The backend that runs product p of layer l (1 ≤ l ≤ L) now: the forced backend, the
 *  tuned choice, or GN_BACKEND_OPENBLAS before tuning. GN_BACKEND_AUTO for NULL, an
 *  out-of-range l or an unknown p. */
GN_API gn_backend gn_net_layer_backend(const gn_net *net, size_t l, gn_product p);

/** The batch size the network was last tuned for (0: never). */
GN_API size_t gn_net_tuned_batch(const gn_net *net);

/** The backend choice as one line, e.g. "auto, tuned for batch 128: layer 1 onednn/-/onednn,
 *  layer 2 onednn/libxsmm/onednn" (forward/delta/weight per layer), or "onednn (forced)".
 *  Writes at most len bytes (terminated when len > 0; buf may be NULL when len is 0) and
 *  returns the full length, as snprintf does. 0 for NULL net. */
GN_API size_t gn_net_describe_backends(const gn_net *net, char *buf, size_t len);

/** A message about the last failed call on this network (more precise than gn_strerror),
 *  or "" if none failed yet. The string belongs to the network and is overwritten by the
 *  next failing call. NULL net gives "". */
GN_API const char *gn_net_last_error(const gn_net *net);

/*==== Scaling and dropout ===================================================================*/

/** Sets the input standardisation that belongs to the model: from now on every call that
 *  takes inputs X (forward, predict, backprop, train_step, evaluate, train, fit, metrics)
 *  feeds the network x'_i = (x_i − mean_i) / std_i, feature by feature, so callers always pass
 *  raw data. mean and std have n_inputs entries and are copied; every mean finite and every
 *  std finite and > 0. mean = std = NULL removes the scaling. The scaled batch goes through
 *  the network's input buffer, one extra pass over the batch. Not thread-safe on one net.
 *  Returns GN_ERR_NULL (net, or exactly one of mean/std NULL), GN_ERR_ARG (a non-finite mean,
 *  a std that is not finite and positive, or so small that 1/std overflows). On failure the
 *  old scaling is kept. */
GN_API gn_status gn_net_set_input_scaling(gn_net *net, const float *mean, const float *std);

/** Sets the output scaling of a regression model: training targets are standardised,
 *  y' = (y − mean) / std, before the loss, and the outputs of gn_net_forward, gn_net_predict
 *  and gn_net_regression_metrics are mapped back, a = a'·std + mean, so callers see raw
 *  units. Losses reported by the training calls and gn_net_evaluate are those the network
 *  minimises, i.e. in standardised units. mean and std have n_outputs entries (copied);
 *  NULL, NULL removes the scaling. Use only with element-wise output activations (identity,
 *  typically) and the quadratic, MAE or Huber loss: it is rejected with softmax, BCE and
 *  CCE, whose targets are class probabilities.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (as for inputs), GN_ERR_UNSUPPORTED (classification). */
GN_API gn_status gn_net_set_output_scaling(gn_net *net, const float *mean, const float *std);

/** The current input (or output) scaling: *mean and *std point into the network (valid until
 *  the scaling is changed or the net freed), or are both NULL when there is none.
 *  Returns GN_ERR_NULL if net, mean or std is NULL. */
GN_API gn_status gn_net_input_scaling(const gn_net *net, const float **mean, const float **std);
GN_API gn_status gn_net_output_scaling(const gn_net *net, const float **mean, const float **std);

/** Inverted dropout on every hidden layer: in the training calls (gn_net_backprop,
 *  gn_net_train_step, gn_optimizer_step, gn_net_train, gn_net_fit) each hidden activation is
 *  kept with probability 1 − p and then multiplied by 1/(1 − p), zeroed otherwise, with a
 *  fresh mask per batch drawn from the network's RNG; inference (forward, predict, evaluate,
 *  metrics) never drops. p in [0, 1); 0 turns dropout off. The gradient is that of the
 *  network with this batch's mask. Allocates one mask of n_l × max_batch floats per hidden
 *  layer (again on gn_net_reserve). On failure the old setting is kept.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (p not in [0, 1)), GN_ERR_NOMEM. */
GN_API gn_status gn_net_set_dropout(gn_net *net, float p);

/** The dropout probability (0 when off or for NULL). */
GN_API float gn_net_dropout(const gn_net *net);

/*==== Introspection and parameter access ====================================================
 * These never fail on a valid network; with a NULL network or an out-of-range index they
 * return 0 (or NULL) as stated.
 */

/** Number of weight layers L (number of sizes − 1); 0 for NULL. */
GN_API size_t gn_net_n_layers(const gn_net *net);
/** Width n_l of layer l, 0 ≤ l ≤ L (l = 0 is the input); 0 if out of range. */
GN_API size_t gn_net_layer_size(const gn_net *net, size_t l);
/** Activation of layer l, 1 ≤ l ≤ L; GN_ACT_IDENTITY if out of range. */
GN_API gn_act gn_net_layer_act(const gn_net *net, size_t l);
/** The loss; GN_LOSS_QUADRATIC for NULL. */
GN_API gn_loss gn_net_loss(const gn_net *net);
/** The slope of the leaky ReLU layers for z ≤ 0 (gn_net_config.leaky_slope, kept in model
 *  files whether or not a layer uses it); 0 for NULL. Thread-safe. */
GN_API float gn_net_leaky_slope(const gn_net *net);
/** Number of inputs n_0 and of outputs n_L. */
GN_API size_t gn_net_n_inputs(const gn_net *net);
GN_API size_t gn_net_n_outputs(const gn_net *net);
/** Current workspace size in samples (see gn_net_reserve). */
GN_API size_t gn_net_max_batch(const gn_net *net);
/** Total number of floats in the parameter (and gradient) buffer. */
GN_API size_t gn_net_n_params(const gn_net *net);

/** The parameter buffer (gn_net_n_params floats, layout in CONVENTIONS), owned by the
 *  network and valid until gn_net_free. Writing to it changes the model. NULL for NULL. */
GN_API float *gn_net_params(gn_net *net);

/** The gradient buffer, same layout; holds the gradient of the last gn_net_backprop (zeros
 *  before that). After gn_net_train_step the bias entries hold that step's bias gradient and
 *  the weight entries are unspecified (see there). Owned by the network. NULL for NULL. */
GN_API float *gn_net_grads(gn_net *net);

/** Offsets (in floats, from the start of the parameter buffer) of W^l and b^l,
 *  1 ≤ l ≤ L. W^l is n_l × n_{l-1}, column-major, ld = n_l.
 *  Returns GN_ERR_NULL (net or an out pointer NULL), GN_ERR_ARG (l out of range). */
GN_API gn_status gn_net_layer_offsets(const gn_net *net, size_t l, size_t *w_offset,
                                      size_t *b_offset);

/*==== Compute ===============================================================================
 * X is n_inputs × m (ldx ≥ n_inputs), Y is n_outputs × m (ldy ≥ n_outputs), both
 * column-major, one sample per column. Inference and gn_net_backprop do not search X or Y
 * for NaN or infinity (that would cost a pass over the data): it shows in the outputs and
 * the loss. The training calls never let one reach the parameters: they report it as
 * GN_ERR_NONFINITE and leave the parameters unchanged (gn_net_train_step makes one pass over
 * X for this; Y only acts through the loss and the output error, which are checked).
 * X and Y must not overlap the network's own memory (parameters, gradients, or the output
 * of gn_net_forward): the calls write there while they read X and Y. Copy such data first.
 */

/** Forward pass of m ≤ gn_net_max_batch samples. On success *out points to the output
 *  activations A^L (n_outputs × m, ld = n_outputs), owned by the network and valid until
 *  the next compute call on it, gn_net_reserve, gn_net_set_dropout, gn_net_fit (both may
 *  rebuild the workspace) or gn_net_free. No allocation.
 *  Returns GN_ERR_NULL, GN_ERR_DIM (m = 0, ldx < n_inputs, ldx > INT_MAX),
 *  GN_ERR_BATCH (m > max_batch). */
GN_API gn_status gn_net_forward(gn_net *net, const float *X, size_t ldx, size_t m,
                                const float **out);

/** Inference for any number of samples n: writes the outputs to Y (n_outputs × n,
 *  ldy ≥ n_outputs), processing max_batch columns at a time. Y must not overlap X.
 *  No allocation. The chunk width decides which sgemm shapes run, and BLAS kernels may
 *  round different shapes differently: the same parameters give the same bits for the same
 *  max_batch (gn_net_reserve); a loaded model reserves 128, so reserve the original width to
 *  reproduce a saved run's predictions bit for bit.
 *  Returns GN_ERR_NULL, GN_ERR_DIM (n = 0, ld too small). */
GN_API gn_status gn_net_predict(gn_net *net, const float *X, size_t ldx, size_t n, float *Y,
                                size_t ldy);

/** How a host array holds its samples (see "Layouts" in the CONVENTIONS). */
typedef enum gn_layout {
    GN_SAMPLES_IN_COLUMNS = 0, /**< features × n, ld ≥ features: sample j is column j. A C
                                    array x[n][features], a Fortran array X(features, n). */
    GN_SAMPLES_IN_ROWS = 1,    /**< n × features, ld ≥ n: sample j is row j, and feature i
                                    is column i, contiguous over the samples. A C array
                                    x[features][n] (one array per variable), a Fortran
                                    array X(n, features). */
} gn_layout;

/** gn_net_predict for inputs and outputs in either layout, read and written in place: with
 *  GN_SAMPLES_IN_ROWS, X is n × n_inputs (ldx ≥ n) and Y is n × n_outputs (ldy ≥ n), and
 *  the first layer's product reads X through a transpose flag, Z := W·Xᵀ (sgemm NoTrans,
 *  Trans), so X is not copied (with input scaling one batch at a time is scaled into the
 *  workspace, as for columns). With GN_SAMPLES_IN_COLUMNS this is gn_net_predict.
 *  Y must not overlap X. No allocation. Returns GN_ERR_NULL, GN_ERR_ARG (unknown layout),
 *  GN_ERR_DIM (n = 0, a leading dimension too small or above INT_MAX). Thread-safety as
 *  gn_net_predict. */
GN_API gn_status gn_net_predict_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx,
                                       size_t n, float *Y, size_t ldy);

/** Back-propagation for a batch of m ≤ max_batch samples: forward pass, loss, and the
 *  gradient of the batch-mean loss with respect to every parameter, written to the gradient
 *  buffer. Parameters are not changed. *loss (if loss is not NULL) gets the batch-mean loss.
 *  No allocation. Returns GN_ERR_NULL, GN_ERR_DIM, GN_ERR_BATCH. */
GN_API gn_status gn_net_backprop(gn_net *net, const float *X, size_t ldx, const float *Y,
                                 size_t ldy, size_t m, double *loss);

/** One step of mini-batch gradient descent, Nielsen's update_mini_batch:
 *  params := params − eta · (gradient of the batch-mean loss). No allocation.
 *  The weight update is applied inside the weight-gradient product,
 *  W^l := W^l − (eta/m)·Δ^l·(A^{l-1})ᵀ (sgemm NoTrans, Trans, beta = 1), after every Δ^l has
 *  been formed and checked, so the weight gradient is never stored: the weight part of the
 *  gradient buffer is left as it was and the bias part holds this step's bias gradient.
 *  Use gn_net_backprop where the gradient itself is wanted. (When an activation or Δ is so
 *  large, or eta so large, that the fused product could overflow, the step falls back to
 *  forming the gradient in the buffer, checking it and the updated values, and updating; the
 *  result is the same.)
 *  If the batch loss, any gradient entry or any updated parameter would not be finite, the
 *  parameters are left unchanged and GN_ERR_NONFINITE is returned; *loss then holds the
 *  loss computed, and only the bias entries of the gradient buffer are this batch's.
 *  Parameters already within a factor of about 1e8 of the float range (|w| > 1e30) are not
 *  guarded against overflow by the fused update.
 *  Returns GN_ERR_NULL, GN_ERR_DIM, GN_ERR_BATCH, GN_ERR_ARG (eta not finite or ≤ 0),
 *  GN_ERR_NONFINITE. */
GN_API gn_status gn_net_train_step(gn_net *net, const float *X, size_t ldx, const float *Y,
                                   size_t ldy, size_t m, float eta, double *loss);

/** Mean loss and classification accuracy over n samples (any n, max_batch at a time).
 *  Accuracy: with several outputs, a sample is correct when the argmax of the output equals
 *  the argmax of its target column; with one output, when (a > 0.5) == (y > 0.5).
 *  loss or accuracy may be NULL if not wanted. No allocation.
 *  Returns GN_ERR_NULL, GN_ERR_DIM. */
GN_API gn_status gn_net_evaluate(gn_net *net, const float *X, size_t ldx, const float *Y,
                                 size_t ldy, size_t n, double *loss, double *accuracy);

/** gn_net_evaluate for X and Y in either layout (as gn_net_predict_layout: with
 *  GN_SAMPLES_IN_ROWS, X is n × n_inputs with ldx ≥ n and Y is n × n_outputs with ldy ≥ n).
 *  Returns GN_ERR_NULL, GN_ERR_ARG (unknown layout), GN_ERR_DIM. */
GN_API gn_status gn_net_evaluate_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx,
                                        const float *Y, size_t ldy, size_t n, double *loss,
                                        double *accuracy);

/*==== Sensitivities: input gradients and Jacobians ==========================================
 * The function differentiated is the model as gn_net_predict applies it, in raw units and in
 * inference mode (no dropout): y = f(x) with x' = (x − mean_in)/std_in, a' = the network's
 * output on x', y = a'·std_out + mean_out (each scaling only if set). Its Jacobian at a
 * sample x is the n_outputs × n_inputs matrix
 *
 *     J(x) = ∂y/∂x = diag(std_out) · S^L · W^L · … · S^1 · W^1 · diag(1/std_in)
 *
 * with S^l = diag(σ_l'(Z^l)) (the symmetric diag(a) − a·aᵀ for a softmax layer). σ' is
 * the one training uses, also where σ has a kink (ReLU and leaky ReLU at z = 0 take the
 * z ≤ 0 side). For each of n samples (one per column of X), any n ≥ 1, max_batch columns
 * at a time:
 *
 *   forward mode (gn_net_jvp):  T^0 := v/std_in, T^l := S^l · (W^l · T^{l-1})
 *                               (sgemm NoTrans, NoTrans), Jv = std_out ⊙ T^L;
 *   reverse mode (gn_net_vjp):  Δ^L := S^L · (std_out ⊙ u),
 *                               Δ^{l-1} := S^{l-1} · ((W^l)ᵀ · Δ^l) (sgemm Trans, NoTrans),
 *                               Jᵀu = ((W^1)ᵀ · Δ^1) / std_in.
 *
 * gn_net_jacobian runs n_inputs forward or n_outputs reverse sweeps, whichever is fewer.
 * gn_net_input_gradient is the reverse mode seeded with the output error of training.
 *
 * Common to all four: X is n_inputs × n (ldx ≥ n_inputs). Results go to caller-owned
 * arrays, which must overlap neither the inputs nor the network's memory. They overwrite
 * only the network's workspace (so the output of gn_net_forward is no longer valid); the
 * parameters and the gradient buffer (gn_net_grads) are left as they were. NaN and infinity
 * are not searched for: they show in the results. No allocation. Thread-safety as
 * gn_net_predict: distinct networks from distinct threads, never one network from two.
 * Each returns GN_ERR_NULL (a NULL pointer argument; loss may be NULL) and GN_ERR_DIM
 * (n = 0, a leading dimension smaller than its matrix's rows or above INT_MAX), with a
 * message naming the function in gn_net_last_error; nothing is written on failure.
 */

/** Jacobian-vector products: JV[:,j] := J(x_j) · V[:,j] for j < n (forward mode).
 *  V is n_inputs × n (ldv ≥ n_inputs), the directions in raw input units; JV is
 *  n_outputs × n (ldjv ≥ n_outputs), the directional derivatives in raw output units.
 *  Cost: about two forward passes. Returns GN_OK, GN_ERR_NULL, GN_ERR_DIM. */
GN_API gn_status gn_net_jvp(gn_net *net, const float *X, size_t ldx, const float *V, size_t ldv,
                            size_t n, float *JV, size_t ldjv);

/** Vector-Jacobian products: G[:,j] := J(x_j)ᵀ · U[:,j] for j < n (reverse mode), the
 *  gradient with respect to x_j of uᵀy. U is n_outputs × n (ldu ≥ n_outputs), G is
 *  n_inputs × n (ldg ≥ n_inputs). Cost: about a forward and a backward pass.
 *  Returns GN_OK, GN_ERR_NULL, GN_ERR_DIM. */
GN_API gn_status gn_net_vjp(gn_net *net, const float *X, size_t ldx, const float *U, size_t ldu,
                            size_t n, float *G, size_t ldg);

/** The full Jacobian of every sample: for j < n, J(x_j) (n_outputs × n_inputs, column-major,
 *  leading dimension ldj ≥ n_outputs) is stored at J + j·ldj·n_inputs, so ∂y_i/∂x_k of
 *  sample j is J[i + k·ldj + j·ldj·n_inputs]; rows n_outputs ≤ i < ldj are not written.
 *  The array holds ldj·n_inputs·n floats. Computed with n_inputs forward sweeps if
 *  n_inputs ≤ n_outputs, else n_outputs reverse sweeps, each over max_batch samples at once.
 *  Returns GN_OK, GN_ERR_NULL, GN_ERR_DIM (also when ldj·n_inputs·n overflows size_t). */
GN_API gn_status gn_net_jacobian(gn_net *net, const float *X, size_t ldx, size_t n, float *J,
                                 size_t ldj);

/** gn_net_jacobian at samples held in either layout (gn_layout): with GN_SAMPLES_IN_ROWS, X is
 *  n × n_inputs with ldx ≥ n (one array per variable, a Fortran X(n, n_inputs)), read in
 *  place as gn_net_predict_layout does. J is laid out as for gn_net_jacobian whatever the
 *  layout. Returns as gn_net_jacobian, plus GN_ERR_ARG (unknown layout). */
GN_API gn_status gn_net_jacobian_layout(gn_net *net, gn_layout layout, const float *X, size_t ldx,
                                        size_t n, float *J, size_t ldj);

/** Input gradient of the loss: G[:,j] := ∂c(a_j, y_j)/∂x_j, the gradient of sample j's own
 *  loss (not divided by n) with respect to its raw inputs, e.g. for adversarial examples or
 *  feature sensitivity. The loss c and the output error are those of training (see
 *  CONVENTIONS, Losses) without dropout; with output scaling, c compares the standardised
 *  output with the standardised target (y − mean)/std, as gn_net_evaluate does.
 *  Y is n_outputs × n (ldy ≥ n_outputs), the targets in raw units; G is n_inputs × n
 *  (ldg ≥ n_inputs). *loss (if loss is not NULL) gets the mean loss, the value
 *  gn_net_evaluate reports for the same data. Returns GN_OK, GN_ERR_NULL, GN_ERR_DIM. */
GN_API gn_status gn_net_input_gradient(gn_net *net, const float *X, size_t ldx, const float *Y,
                                       size_t ldy, size_t n, float *G, size_t ldg, double *loss);

/*==== Training loop =========================================================================*/

/** Per-epoch report passed to a progress callback. */
typedef struct gn_epoch_info {
    size_t epoch;        /**< 1-based */
    size_t epochs;       /**< total requested */
    double train_loss;   /**< mean of the mini-batch losses seen during the epoch */
    double seconds;      /**< wall time of the epoch's training steps (monotonic clock) */
    size_t samples;      /**< samples trained on in the epoch */
    double val_loss;     /**< validation loss after the epoch (gn_net_fit with a validation
                              set; NaN otherwise) */
    double val_accuracy; /**< validation accuracy likewise (NaN otherwise) */
    float lr;            /**< learning rate used during the epoch */
} gn_epoch_info;

/** Called after each epoch; return non-zero to stop training early. */
typedef int (*gn_epoch_fn)(gn_net *net, const gn_epoch_info *info, void *user);

typedef struct gn_train_options {
    size_t epochs;        /**< ≥ 1; default 30 */
    size_t batch;         /**< mini-batch size, 1 ≤ batch ≤ max_batch; default 10 */
    float eta;            /**< learning rate, finite, > 0; default 3.0 (Nielsen chapter 1) */
    int shuffle;          /**< shuffle the sample order each epoch; default 1 */
    gn_epoch_fn on_epoch; /**< optional progress callback; default NULL */
    void *user;           /**< passed to on_epoch */
} gn_train_options;

/** Fills *opt with the defaults listed in gn_train_options. NULL is a no-op. */
GN_API void gn_train_options_defaults(gn_train_options *opt);

/** Nielsen's SGD: for each epoch, shuffle the n samples with the network's own seeded RNG
 *  (xoshiro256**, seeded from gn_net_config.seed), cut them into mini-batches of opt->batch
 *  (the last one may be smaller) and run gn_net_train_step on each. Columns are gathered
 *  into the network's own batch buffer, so X and Y are only read. Same seed, data and
 *  options on one BLAS thread give bit-identical parameters.
 *  Allocates one index array of n entries for the duration of the call (not per step).
 *  Returns GN_ERR_NULL, GN_ERR_DIM, GN_ERR_ARG (epochs 0, batch 0 or > max_batch, bad eta),
 *  GN_ERR_NOMEM, GN_ERR_NONFINITE (training diverged: the parameters are those from before
 *  the failing step), GN_ERR_BATCH (the callback shrank the workspace below opt->batch).
 *  A callback asking to stop is not an error. The callback may read and write the
 *  parameters and call the compute functions, but must not free the network. */
GN_API gn_status gn_net_train(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                              size_t n, const gn_train_options *opt);

/*==== Random numbers ========================================================================*/

/** The library's PRNG (xoshiro256**), exposed so callers can reproduce its streams.
 *  A plain struct: copy it to save and restore a stream. */
typedef struct gn_rng {
    uint64_t s[4];
} gn_rng;

/** Seeds *rng from one 64-bit value (expanded with splitmix64). NULL is a no-op. */
GN_API void gn_rng_seed(gn_rng *rng, uint64_t seed);
/** Next 64 random bits. rng must not be NULL. */
GN_API uint64_t gn_rng_next(gn_rng *rng);
/** Uniform double in [0, 1) with 53 random bits. rng must not be NULL (likewise below). */
GN_API double gn_rng_uniform(gn_rng *rng);
/** Uniform integer in [0, bound) without modulo bias; bound 0 or 1 gives 0. */
GN_API uint64_t gn_rng_below(gn_rng *rng, uint64_t bound);
/** Standard normal deviate (Box–Muller in double). */
GN_API double gn_rng_normal(gn_rng *rng);

/*==== Datasets ==============================================================================*/

/** A labelled dataset in memory: X (n_features × n, column-major, one sample per column) and
 *  Y (n_outputs × n: one-hot columns for class labels, real values for regression). A
 *  dataset either owns its matrices (the loaders, gn_dataset_split) or views the caller's
 *  (gn_dataset_wrap). Datasets are read-only once made; distinct threads may read one. */
typedef struct gn_dataset gn_dataset;

/** A dataset viewing caller-owned matrices without copying: X is n_features × n with
 *  leading dimension ldx ≥ n_features, Y is n_outputs × n with ldy ≥ n_outputs (a C array
 *  x[n][n_features] has ldx = n_features). The arrays must stay alive and unchanged until
 *  gn_dataset_free; the dataset never writes to them. Allocates only the small handle.
 *  Returns GN_ERR_NULL, GN_ERR_DIM (a size 0, ld too small, n·ld overflowing, a leading
 *  dimension above INT_MAX), GN_ERR_NOMEM. */
GN_API gn_status gn_dataset_wrap(gn_dataset **out, const float *X, size_t ldx, const float *Y,
                                 size_t ldy, size_t n_features, size_t n_outputs, size_t n);

/** gn_dataset_wrap for host arrays in either layout, still without copying. With
 *  GN_SAMPLES_IN_ROWS, X is n × n_features with ldx ≥ n (feature i at X + i·ldx, e.g. one
 *  array per variable laid end to end, or a Fortran X(n, n_features)) and Y is
 *  n × n_outputs with ldy ≥ n. gn_net_fit, gn_dataset_mean_std and gn_dataset_split read
 *  either layout; gn_dataset_x / gn_dataset_ldx return the matrices as given (see
 *  gn_dataset_layout). Training gathers each shuffled mini-batch into the network's
 *  workspace as it always does, so the cost of a step does not depend on the layout beyond
 *  that gather's strided reads. Returns as gn_dataset_wrap, plus GN_ERR_ARG (unknown
 *  layout). */
GN_API gn_status gn_dataset_wrap_layout(gn_dataset **out, gn_layout layout, const float *X,
                                        size_t ldx, const float *Y, size_t ldy, size_t n_features,
                                        size_t n_outputs, size_t n);

/** The layout of a dataset's matrices: GN_SAMPLES_IN_ROWS only for a dataset made by
 *  gn_dataset_wrap_layout with it; loaders and gn_dataset_split make column datasets.
 *  GN_SAMPLES_IN_COLUMNS for NULL. */
GN_API gn_layout gn_dataset_layout(const gn_dataset *ds);

/** Loads an IDX pair (the MNIST / Fashion-MNIST format; each file plain or gzip-compressed,
 *  detected from its first bytes): images of unsigned bytes (type 0x08) with any number of
 *  dimensions ≥ 1 after the count (each sample flattened row-major, e.g. 28 × 28 → 784
 *  features), scaled to [0, 1] by /255; labels of unsigned bytes, one dimension, turned
 *  into one-hot columns. n_classes is the number of outputs: 0 means max label + 1, or give
 *  it (e.g. 10) so that a test file missing a class still matches the network.
 *  labels_path may be NULL to load inputs only (for inference): Y is then all zeros with
 *  n_classes rows (1 if n_classes is 0).
 *  Checked, each with its own message naming the file and what is wrong: the magic (two
 *  zero bytes, type 0x08, dimension count 1 for labels and ≥ 2 for images, at most 8),
 *  zero dimensions, sizes whose product overflows or exceeds the limits (2^31 samples,
 *  2^24 features), the file length against what the header implies (short files and
 *  trailing bytes are both errors; for gzip files the decompressed length, read in bounded
 *  chunks and never beyond the implied size plus one byte), equal image and label counts,
 *  and every label < n_classes (≤ 255).
 *  Returns GN_ERR_NULL, GN_ERR_ARG (n_classes > 256), GN_ERR_IO, GN_ERR_FORMAT, GN_ERR_NOMEM.
 *  Thread-safe. */
GN_API gn_status gn_dataset_load_idx(gn_dataset **out, const char *images_path,
                                     const char *labels_path, size_t n_classes, char *err,
                                     size_t errlen);

typedef struct gn_csv_options {
    int header;        /**< −1 auto (a first line with a non-numeric field is a header),
                            0 no header, 1 header; default −1 */
    long label_column; /**< 0-based column of the label; −1 = last (default) */
    char delimiter;    /**< default ',' */
    int regression;    /**< 0: the label is a class (default); 1: it is a real-valued target,
                            Y is 1 × n */
} gn_csv_options;

/** Fills *opt with the defaults listed in gn_csv_options. NULL is a no-op. */
GN_API void gn_csv_options_defaults(gn_csv_options *opt);

/** Loads a CSV file of numeric features and one label column: a class label, or with
 *  opt->regression = 1 a real-valued target (finite, within the float range; Y is then
 *  1 × n with the values themselves). Class labels are integers in
 *  [0, 65535] (class = value) or strings (classes numbered in order of first appearance, at
 *  most 65536); the first data row decides: if its label is a number, every label must be
 *  one, otherwise every label (numbers included) is a class name. Y is one-hot with
 *  n_outputs = number of classes (max integer + 1). A numeric field has at most 255
 *  characters and is read with strtod, which follows the process's LC_NUMERIC locale (a host
 *  that sets a decimal-comma locale must switch to "C" around the call). Surrounding blanks
 *  and double quotes are not part of a field, and a quoted field cannot contain the
 *  delimiter. Lines end in "\n" or "\r\n" and are at most 8 MiB long; a leading UTF-8
 *  byte-order mark and blank lines are skipped. nan, inf and infinity (any case) are read
 *  as numbers and then refused as non-finite. With header = −1 the first line is a header if any of its fields, the label
 *  included, is not a number (so a headerless file with string labels needs header = 0).
 *  On failure *out is NULL and, if err is not NULL, a message naming the line and column
 *  (both counted from 1, the column among all columns) of the first bad field is written to
 *  err (errlen bytes, always NUL-terminated). opt may be NULL for defaults.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (header or regression out of range, label_column < −1, a
 *  delimiter that is NUL, a line end, '"', a letter, a digit, '.', '+' or '−'), GN_ERR_IO (cannot
 * open or read), GN_ERR_FORMAT (bad field, ragged or over-long line, no data, fewer than 2 columns, label column
 * out of range, label out of range or of the other kind than the first row's), GN_ERR_NONFINITE
 * (NaN or infinity in a feature, or a value beyond the float range), GN_ERR_NOMEM. Thread-safe. */
GN_API gn_status gn_dataset_load_csv(gn_dataset **out, const char *path, const gn_csv_options *opt,
                                     char *err, size_t errlen);

/*---- Arrays: NumPy .npy and HDF5 ----------------------------------------------------------
 *
 * Both loaders take features X and, optionally, targets Y as arrays whose first axis counts
 * the samples. X of shape (n,), (n, f) or (n, d1, d2, …) gives n samples of 1, f or
 * d1·d2·… features, each sample's trailing axes flattened row-major (C order), so a 28 × 28
 * image becomes 784 features, pixel (r, c) at feature 28·r + c. Values are converted to
 * float: float32 exactly, float64 rounded and refused beyond the float range (±3.4e38),
 * integers rounded to the nearest float; NaN and infinities are refused. X is stored in the
 * dataset's layout (n_features × n, column-major: each sample's features contiguous), so a
 * C-order float32 (n, f) array is a straight copy and a Fortran-order one a transpose.
 * Y holds n class labels, shape (n,), of an integer type or of floats that are whole numbers,
 * turned into one-hot columns; or, with regression, real targets of shape (n,) (one output)
 * or (n, k) (k outputs), used as they are.
 * Limits (as for IDX): 2^31 samples, 2^24 features per sample, 65536 classes.
 */
typedef struct gn_array_options {
    int regression;   /**< 0: Y holds class labels (default); 1: Y holds real targets */
    size_t n_classes; /**< number of outputs for class labels: 0 = max label + 1 (default),
                           else every label must be below it (≤ 65536; a test file missing
                           the last class still matches the network). 0 with regression */
} gn_array_options;

/** Fills *opt with the defaults listed in gn_array_options. NULL is a no-op. */
GN_API void gn_array_options_defaults(gn_array_options *opt);

/** Loads features from the NumPy .npy file x_path and targets from y_path (may be NULL to
 *  load inputs only, for inference: Y is then all zeros with n_classes rows, 1 if 0).
 *  Reads format versions 1.0, 2.0 and 3.0. The header, a Python dict literal, is parsed, never
 *  evaluated, and must be as numpy writes it: exactly the keys 'descr', 'fortran_order' and
 *  'shape' in any order, a trailing comma allowed, padded with spaces and ended by a newline.
 *  dtypes: '<f4', '<f8', and integers '|i1', '|u1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8';
 *  big-endian data, booleans, complex numbers, strings, object arrays (pickles are never
 *  read) and structured dtypes are refused. C and Fortran order are both read. The sizes are
 *  checked against the limits and the file's length before anything large is allocated:
 *  short files and trailing bytes are errors. Both files must be regular files (not pipes)
 *  and hold the same number of samples; labels are 1-D, regression targets 1-D or 2-D.
 *  On failure *out is NULL and a message naming the file and what is wrong (the byte offset
 *  of a header defect, the element index of a bad value) is written to err (errlen bytes,
 *  always NUL-terminated) if err is not NULL. opt may be NULL for defaults.
 *  Returns GN_ERR_NULL (out or x_path NULL), GN_ERR_ARG (regression not 0 or 1, n_classes
 *  above 65536 or given with regression), GN_ERR_IO (cannot open or read, not a regular
 *  file), GN_ERR_FORMAT (bad magic, version, header, dtype or shape, a size over a limit,
 *  truncated or trailing data, different sample counts, a label that is negative, not whole or
 *  not below n_classes), GN_ERR_NONFINITE (NaN, infinity or a value beyond the float range
 *  in X or in regression targets, or a NaN or infinite label), GN_ERR_NOMEM.
 *  Thread-safe. */
GN_API gn_status gn_dataset_load_npy(gn_dataset **out, const char *x_path, const char *y_path,
                                     const gn_array_options *opt, char *err, size_t errlen);

/** Loads features from the dataset x_name and targets from the dataset y_name (may be NULL:
 *  inputs only, as for gn_dataset_load_npy) of the HDF5 file at path. Names are HDF5 paths
 *  ("X", "/data/train/X"). Each dataset must be of the float or integer class (any size and
 *  byte order; HDF5 converts it in memory) with a simple dataspace of rank ≥ 1 (Y: rank 1 for
 *  labels, 1 or 2 for regression); chunked and compressed storage is read through HDF5's
 *  filters. The shape and value rules, limits and messages are those of
 *  gn_dataset_load_npy. HDF5's own printing of errors is switched off during the call and
 *  restored after it; its messages are folded into err.
 *  Returns GN_ERR_UNSUPPORTED if gemmnet was built without HDF5 (see gn_hdf5_available), and
 *  otherwise GN_ERR_NULL (out, path or x_name NULL), GN_ERR_ARG (as for
 *  gn_dataset_load_npy), GN_ERR_IO (the file cannot be opened, or HDF5 fails to read it),
 *  GN_ERR_FORMAT (not an HDF5 file, no such dataset, a class other than float or integer,
 *  a bad rank or shape, a size over a limit, different sample counts, a bad label),
 *  GN_ERR_NONFINITE, GN_ERR_NOMEM.
 *  Thread safety: Debian's HDF5 is the serial build, whose library is not thread-safe. Calls
 *  of this function are serialised by a lock inside gemmnet, so it may be called from several
 *  threads; but not while another part of the program uses HDF5 itself. */
GN_API gn_status gn_dataset_load_hdf5(gn_dataset **out, const char *path, const char *x_name,
                                      const char *y_name, const gn_array_options *opt,
                                      char *err, size_t errlen);

/** 1 if this gemmnet was built with HDF5 support (gn_dataset_load_hdf5 works), else 0.
 *  Thread-safe. */
GN_API int gn_hdf5_available(void);

/** Frees a dataset. NULL is a no-op. */
GN_API void gn_dataset_free(gn_dataset *ds);

/** Sizes of a dataset (0 for NULL). */
GN_API size_t gn_dataset_n_samples(const gn_dataset *ds);
GN_API size_t gn_dataset_n_features(const gn_dataset *ds);
GN_API size_t gn_dataset_n_outputs(const gn_dataset *ds);
/** The feature matrix and target matrix, owned by the dataset (or the caller's, for a
 *  wrapped one). NULL for NULL. */
GN_API const float *gn_dataset_x(const gn_dataset *ds);
GN_API const float *gn_dataset_y(const gn_dataset *ds);
/** Their leading dimensions: n_features and n_outputs for owned datasets, as given for
 *  wrapped ones (0 for NULL). */
GN_API size_t gn_dataset_ldx(const gn_dataset *ds);
GN_API size_t gn_dataset_ldy(const gn_dataset *ds);

/** Mean and standard deviation (population, divided by n) of every feature (y_part = 0,
 *  n_features entries) or every target row (y_part = 1, n_outputs entries), accumulated in
 *  double. A row that is constant up to rounding (std ≤ 1e-6·|mean|, or below 1e-30) gets
 *  std 1 rather than ~0, so the result can go straight to
 *  gn_net_set_input_scaling. Returns GN_ERR_NULL, GN_ERR_NONFINITE (a value is not finite). */
GN_API gn_status gn_dataset_mean_std(const gn_dataset *ds, int y_part, float *mean, float *std);

/** Splits ds into two new datasets after a seeded shuffle: the first gets
 *  round(frac · n) samples, the second the rest; both must be non-empty. Samples are copied
 *  once (both results own their matrices); ds is unchanged. On failure both outputs are NULL.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (frac not in (0, 1) or a side would be empty),
 *  GN_ERR_NOMEM. */
GN_API gn_status gn_dataset_split(const gn_dataset *ds, double frac, uint64_t seed,
                                  gn_dataset **first, gn_dataset **second);

/*==== Optimizers ============================================================================
 *
 * An optimizer updates the flat parameter buffer from the flat gradient buffer (layout in
 * CONVENTIONS) and keeps its own state of the same size (velocities, moment estimates).
 * With g the gradient of the batch-mean loss, t the 1-based step count and lr the current
 * learning rate, one step is, element by element:
 *
 *   clipping        g := g · min(1, clip_norm / ‖g‖₂)   over the whole buffer, if clip_norm > 0
 *   L2 (coupled)    g := g + l2·w                       weights only (Nielsen, chapter 3: l2 is
 *                                                        his λ/n, n the training-set size)
 *   SGD             p := p − lr·g
 *   momentum        v := μ·v + g;  p := p − lr·v
 *   Nesterov        v := μ·v + g;  p := p − lr·(g + μ·v)
 *   RMSprop         s := ρ·s + (1 − ρ)·g²;  p := p − lr·g / (√s + ε)
 *   Adam            m := β1·m + (1 − β1)·g;  v := β2·v + (1 − β2)·g²;
 *                   p := p − lr·m̂ / (√v̂ + ε),  m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)
 *   decoupled decay w := w − lr·weight_decay·w before the step, weights only (AdamW when
 *                   combined with Adam; it applies to every kind)
 *
 * (The order and the forms are PyTorch's: clip_grad_norm_ before the step, the optimizers'
 * weight_decay as l2, AdamW's as weight_decay; momentum is written so a learning-rate
 * schedule scales the whole step.) Biases get neither L2 nor weight decay.
 */

typedef enum gn_opt {
    GN_OPT_SGD = 0,
    GN_OPT_MOMENTUM = 1,
    GN_OPT_NESTEROV = 2,
    GN_OPT_RMSPROP = 3,
    GN_OPT_ADAM = 4,
    GN_OPT_ADAMW = 5, /**< Adam with decoupled weight decay (default 0.01) */
} gn_opt;
#define GN_OPT_COUNT 6

typedef struct gn_optimizer_config {
    gn_opt kind;        /**< default GN_OPT_SGD */
    float lr;           /**< learning rate, finite, > 0; default 0.1 for SGD/momentum/Nesterov,
                             0.001 for RMSprop/Adam/AdamW */
    float momentum;     /**< μ in [0, 1); default 0.9 */
    float rho;          /**< RMSprop decay ρ in [0, 1); default 0.99 */
    float beta1, beta2; /**< Adam decays in [0, 1); defaults 0.9 and 0.999 */
    float eps;          /**< ε, finite, > 0; default 1e-8 */
    float weight_decay; /**< decoupled decay ≥ 0; default 0.01 for AdamW, else 0 */
    float l2;           /**< coupled L2 coefficient ≥ 0; default 0 */
    float clip_norm;    /**< gradient-norm clipping threshold ≥ 0, 0 = off; default 0 */
} gn_optimizer_config;

/** Fills *cfg with the defaults of the given kind (see gn_optimizer_config). NULL is a no-op;
 *  an unknown kind is stored as is and rejected by gn_optimizer_create. Thread-safe. */
GN_API void gn_optimizer_config_defaults(gn_optimizer_config *cfg, gn_opt kind);

/** An opaque optimizer: its configuration, current learning rate, step count and state. */
typedef struct gn_optimizer gn_optimizer;

/** Creates an optimizer for networks with net's parameter count (the network is only read
 *  for its size and layer layout; it is not retained). The state starts at zero. On failure
 *  *out is NULL and, if err is not NULL, a message is written to err (errlen bytes).
 *  Returns GN_ERR_NULL, GN_ERR_ARG (unknown kind or a value out of its range), GN_ERR_NOMEM.
 *  Thread-safe. */
GN_API gn_status gn_optimizer_create(gn_optimizer **out, const gn_net *net,
                                     const gn_optimizer_config *cfg, char *err, size_t errlen);

/** Frees an optimizer. NULL is a no-op. */
GN_API void gn_optimizer_free(gn_optimizer *opt);

/** Sets the learning rate used by the following steps (schedules call this).
 *  Returns GN_ERR_NULL, GN_ERR_ARG (not finite or ≤ 0). */
GN_API gn_status gn_optimizer_set_lr(gn_optimizer *opt, float lr);
/** The current learning rate (0 for NULL). */
GN_API float gn_optimizer_lr(const gn_optimizer *opt);
/** Number of steps applied so far, t (0 for NULL). */
GN_API uint64_t gn_optimizer_steps(const gn_optimizer *opt);
/** The configuration it was created with (lr as configured, not the current one). */
GN_API gn_status gn_optimizer_get_config(const gn_optimizer *opt, gn_optimizer_config *cfg);

/** Applies one step to net's parameters from net's gradient buffer, as left by
 *  gn_net_backprop (or changed by the caller, e.g. after an all-reduce across processes).
 *  The gradient buffer is overwritten with scratch values. No allocation.
 *  If a gradient entry is not finite, or so large that its square overflows, or an updated
 *  parameter would not be finite, returns GN_ERR_NONFINITE with the parameters unchanged
 *  (in the last case the moment estimates have already absorbed the gradient).
 *  Returns GN_ERR_NULL, GN_ERR_DIM (net's parameter count differs from the optimizer's),
 *  GN_ERR_NONFINITE. Not thread-safe on one optimizer or net. */
GN_API gn_status gn_optimizer_apply(gn_optimizer *opt, gn_net *net);

/** One training step with this optimizer on a batch of m ≤ max_batch samples:
 *  gn_net_backprop followed by gn_optimizer_apply (plain SGD with no L2, decay or clipping
 *  takes the fused path of gn_net_train_step instead). *loss (may be NULL) gets the
 *  batch-mean loss. Same arguments as gn_net_train_step; returns its statuses and those of
 *  gn_optimizer_apply. No allocation. */
GN_API gn_status gn_optimizer_step(gn_optimizer *opt, gn_net *net, const float *X, size_t ldx,
                                   const float *Y, size_t ldy, size_t m, double *loss);

/*==== Fitting: the full training loop =======================================================*/

typedef enum gn_schedule {
    GN_SCHEDULE_CONSTANT = 0, /**< lr throughout */
    GN_SCHEDULE_STEP = 1,     /**< lr · gamma^⌊(epoch − 1) / step_epochs⌋ */
    GN_SCHEDULE_COSINE = 2,   /**< min_lr + ½(lr − min_lr)(1 + cos(π (epoch − 1) / epochs)) */
} gn_schedule;

/** Flags for gn_fit_options.standardize. */
#define GN_STANDARDIZE_INPUTS                                                                      \
    1u /**< input mean/std from the training set (gn_net_set_input_scaling) */
#define GN_STANDARDIZE_OUTPUTS 2u /**< target mean/std from the training set (regression) */

/** Where a gn_net_fit run stands, as saved in a checkpoint and given back to resume it. */
typedef struct gn_fit_progress {
    size_t epochs_done;       /**< epochs completed */
    size_t best_epoch;        /**< epoch of the lowest validation loss so far (0: none) */
    double best_val_loss;     /**< that loss (NaN when best_epoch is 0) */
    const float *best_params; /**< the parameters after best_epoch (gn_net_n_params floats),
                                   or NULL if they were not kept */
} gn_fit_progress;

typedef struct gn_fit_options {
    size_t epochs;           /**< ≥ 1; default 10 */
    size_t batch;            /**< ≥ 1; default 128; the workspace grows to it if needed */
    gn_optimizer_config opt; /**< default: Adam, lr 0.001 */
    gn_optimizer *optimizer; /**< optional: an existing optimizer (e.g. to resume); then opt
                                  is ignored and the optimizer's state carries over; default NULL */
    gn_schedule schedule;    /**< learning-rate schedule, per epoch, starting from the
                                  configured lr (of opt, or of the given optimizer's
                                  configuration, not its current lr); default constant */
    size_t step_epochs;      /**< GN_SCHEDULE_STEP: epochs per decay, ≥ 1; default 10 */
    float gamma;             /**< GN_SCHEDULE_STEP: factor in (0, 1]; default 0.1 */
    float min_lr;            /**< GN_SCHEDULE_COSINE: final lr in [0, lr]; default 0 */
    float dropout;           /**< hidden-layer dropout in [0, 1), set on the net with
                                  gn_net_set_dropout and left there (0 turns off a dropout set
                                  earlier); default 0 */
    unsigned standardize;    /**< GN_STANDARDIZE_* flags (other bits: GN_ERR_ARG); default 0:
                                  keep whatever scaling the net has */
    size_t patience;         /**< early stopping: stop after this many epochs without a lower
                                  validation loss; 0 = never (default). Needs a validation set. */
    int restore_best;        /**< with a validation set, end with the parameters of the epoch
                                  of lowest validation loss; default 1 */
    int shuffle;             /**< reshuffle every epoch; default 1 */
    gn_epoch_fn on_epoch;    /**< optional, after every epoch (may stop training) */
    void (*on_batch)(gn_net *net, size_t epoch, size_t batch, size_t n_batches,
                     void *user); /**< optional, after every mini-batch (progress bars) */
    void *user;                   /**< passed to both callbacks */
    const gn_fit_progress *resume; /**< continue a checkpointed run (gn_checkpoint_progress),
                                        with the checkpoint's network and optimizer: epochs
                                        run from epochs_done + 1 to epochs, the schedule and
                                        early stopping pick up where they were, and
                                        standardize is ignored (the model's scaling is kept);
                                        default NULL */
    const char *checkpoint_path; /**< if not NULL, gn_checkpoint_save to this path after every
                                      checkpoint_every epochs and after the last epoch run
                                      (before the best parameters are restored); a failed
                                      save stops training with its status; default NULL */
    size_t checkpoint_every;     /**< ≥ 1 when checkpoint_path is set; default 1 */
    const char *checkpoint_meta; /**< provenance text stored in each checkpoint (see
                                      gn_checkpoint_save); default NULL */
} gn_fit_options;

/** Fills *opt with the defaults listed in gn_fit_options. NULL is a no-op. */
GN_API void gn_fit_options_defaults(gn_fit_options *opt);

typedef struct gn_fit_result {
    size_t epochs;        /**< the last epoch completed (a resumed run counts from 1) */
    size_t best_epoch;    /**< epoch of the lowest validation loss (0 without validation) */
    double best_val_loss; /**< that loss (NaN without validation) */
    double train_loss;    /**< mean training loss of the last epoch run */
    double train_seconds; /**< time in training steps only (no evaluation), monotonic clock */
    size_t samples;       /**< samples trained on, over the epochs of this call */
    int stopped_early;    /**< 1 if patience ran out, 2 if on_epoch asked to stop */
} gn_fit_result;

/** Trains net on train with mini-batches (shuffled each epoch with the network's RNG and
 *  gathered column by column into the network's batch buffer, so the data is read, never
 *  copied or modified), the configured optimizer and schedule, optional dropout and input/
 *  output standardisation (computed on train only, then part of the model), and, if val is
 *  not NULL, validation loss and accuracy after every epoch with optional early stopping
 *  and restoring of the best parameters. Same seed, data, options and one BLAS thread give
 *  bit-identical parameters. result may be NULL.
 *  Validation loss and accuracy are computed in chunks of batch samples (so a resumed run,
 *  whatever its workspace, sees the same bits). Each epoch's order is a fresh shuffle of
 *  the identity drawn from the network's RNG.
 *  Allocates for the call: the index array, the optimizer (unless given), a copy of the
 *  parameters at the start of each epoch, a copy of the best parameters when restore_best
 *  applies, and the workspace if batch > max_batch.
 *  Before the first step every value of train and val is checked finite (GN_ERR_NONFINITE,
 *  naming the sample; the network is unchanged). A fit that fails before its first step
 *  (bad arguments, non-finite data, no memory) leaves the network's scaling and dropout as
 *  they were. Divergence is caught on every batch (a non-finite loss or gradient, or an
 *  update that would make a parameter non-finite, is refused) and once per epoch on the
 *  parameters themselves (a callback may have written to them): training stops with
 *  GN_ERR_DIVERGED and the last good parameters, those from before the failing step, or
 *  from the start of the epoch if the parameters are no longer finite, or the best ones if
 *  restore_best applies.
 *  Returns GN_ERR_NULL, GN_ERR_DIM (dataset sizes do not match the net, or train and val
 *  differ), GN_ERR_ARG (an option out of range; patience > 0 without val; a resume that has
 *  done all epochs already, is inconsistent or comes without its optimizer;
 *  checkpoint_every 0), GN_ERR_NOMEM, GN_ERR_UNSUPPORTED (output standardisation on a
 *  classifier), GN_ERR_NONFINITE (non-finite data), GN_ERR_DIVERGED, and
 *  gn_checkpoint_save's statuses (a checkpoint could not be written: training stops after
 *  the epoch it was for); *result is filled in every case it is not NULL, with the epochs
 *  completed (counting those of the run resumed). gn_net_last_error says more.
 *  Not thread-safe on one network; distinct networks may be fitted concurrently. */
GN_API gn_status gn_net_fit(gn_net *net, const gn_dataset *train, const gn_dataset *val,
                            const gn_fit_options *opt, gn_fit_result *result);

/*==== Data-parallel training: the gradient-reduction hook ===================================
 * Data-parallel training runs one copy of the network on each of P workers (processes, MPI
 * ranks, threads), each on its share of every global mini-batch, and sums their gradients
 * before each update, so that all copies take the same step. The library does each worker's
 * part and calls the caller's reducer for the communication: it depends on no transport
 * (gemmnet_mpi.h provides a reducer over MPI).
 *
 * With a reducer set on a network (gn_net_set_reducer), every training step — of
 * gn_net_train_step, gn_optimizer_step, gn_net_fit and gn_net_train — runs:
 *   1. back-propagation of this worker's m samples, scaled so that the gradient buffer holds
 *      this worker's part of the global batch-mean gradient, (1/M)·Σ over its own samples,
 *      where M is the global batch size (the sum of every worker's m; in gn_net_fit and
 *      gn_net_train a worker's m is 0 when a batch has fewer samples than there are
 *      workers, and it still takes part in every hook; direct steps need m ≥ 1);
 *   2. reduce_layer (if set) for l = L, L−1, …, 1, each as soon as layer l's gradient is
 *      final and before the products of the layers below run, so that summing it can overlap
 *      the rest of back-propagation;
 *   3. reduce, which must leave in the whole buffer, and in *loss, the sum over all workers;
 *   4. the update from the summed gradient (plain SGD is then not fused into the product),
 *      refused on every worker alike if the summed loss or gradient is not finite.
 * Parameters stay identical on every worker as long as they start identical (gemmnet_mpi
 * broadcasts them): every worker applies the same sum to the same values.
 *
 * gn_net_fit and gn_net_train split each global mini-batch of B samples (same shuffle on every
 * worker, drawn from the network's RNG, which must therefore start equal on every worker:
 * same seed, or see gn_net_rng) so that worker r takes samples [⌊B·r/P⌋, ⌊B·(r+1)/P⌋) of
 * it: each worker reads only its share, and the batch is the same as on one worker. Without
 * dropout, P workers compute the same steps as one worker up to the order of summation; with
 * dropout, each worker draws its masks from a stream of its own, derived each step from the
 * shared RNG and its rank (the shared RNG advances by one draw per step), so P = 1 and P > 1
 * draw different masks. gn_net_fit and gn_net_train tune the backends for the local share,
 * ⌈B/P⌉, then take worker 0's choice (broadcast, if set). gn_net_fit evaluates the
 * validation set on every worker and takes worker 0's values (broadcast), and only worker 0
 * writes checkpoints; after its setup and after every epoch it calls agree (if set), so that
 * an error on one worker (no memory, a checkpoint that could not be written) stops all of
 * them with that error (gn_net_train agrees once, after its setup). Callbacks run on every
 * worker and see the same values (given broadcast, or one forced backend); one that stops
 * training (on_epoch) must decide alike on every worker, since a worker that stops alone
 * leaves the others waiting in their next reduction.
 * In gn_net_train_step and gn_optimizer_step the caller passes its own share, and M comes
 * from batch_total (or is P·m without it).
 * gn_net_backprop is not affected: it gives this worker's own gradient, unscaled and
 * unreduced, as gn_optimizer_apply (also unaffected) takes one.
 *
 * A hook's non-zero status fails the step with it (gn_net_last_error says which hook); a
 * transport normally cannot recover from a failed collective, so treat it as fatal.
 */

/** A gradient reducer: the caller's communication for data-parallel training. */
typedef struct gn_reducer {
    size_t rank;    /**< this worker, in [0, workers) */
    size_t workers; /**< P ≥ 1 */
    /** Required. grads (n = gn_net_n_params floats, the gradient buffer) holds this worker's
     *  part of the gradient and *loss its part of the batch-mean loss; on return both must
     *  hold the sum over all workers, identical on every worker. Called last in every step,
     *  also after reduce_layer, which it completes (e.g. waits for). */
    gn_status (*reduce)(void *user, float *grads, size_t n, double *loss);
    /** Optional. Layer l's part of the gradient, grads[offset, offset + n) (W^l then b^l),
     *  is final: a reducer may start summing it, in place, while back-propagation goes on
     *  below (it must not touch other parts of the buffer, which are still being written,
     *  until reduce is called). */
    gn_status (*reduce_layer)(void *user, size_t l, float *grads, size_t offset, size_t n);
    /** Optional. *total := the sum over workers of m (a collective call in
     *  gn_net_train_step and gn_optimizer_step, before back-propagation); without it,
     *  total = P·m. Not called by gn_net_fit and gn_net_train, which know the batch. */
    gn_status (*batch_total)(void *user, size_t m, size_t *total);
    /** Optional. A collective agreement on a status: returns GN_OK if every worker passed
     *  GN_OK, else the status of the lowest-ranked worker that did not, with its message
     *  copied into msg (len bytes; on entry, this worker's own message). */
    gn_status (*agree)(void *user, gn_status status, char *msg, size_t len);
    /** Optional. Worker 0's `bytes` bytes at buf are copied to buf on every other worker (a
     *  collective call). gn_net_fit uses it so that every worker decides alike where local
     *  computations could round differently: after its setup for the backends chosen per
     *  product (each worker tunes by timing, and may choose otherwise), and after every
     *  epoch for the validation loss and accuracy (early stopping and the best epoch
     *  depend on them). Without it, force one backend (gn_net_set_backend, GN_BACKEND) on
     *  every worker when validating with patience or restore_best. */
    gn_status (*broadcast)(void *user, void *buf, size_t bytes);
    void *user; /**< passed to every hook */
} gn_reducer;

/** Sets (a copy of) *r as net's reducer, or removes it (r NULL). The hooks and user must stay
 *  valid while the network trains with them. The workspace does not change.
 *  Returns GN_ERR_NULL (net, or r->reduce), GN_ERR_ARG (workers 0, rank ≥ workers).
 *  Not thread-safe on one network. */
GN_API gn_status gn_net_set_reducer(gn_net *net, const gn_reducer *r);

/** net's reducer, or NULL if none is set (or net is NULL). The pointer stays valid until the
 *  next gn_net_set_reducer or gn_net_free. */
GN_API const gn_reducer *gn_net_reducer(const gn_net *net);

/** The network's own random stream: it draws the initial parameters, the shuffles of
 *  gn_net_fit and gn_net_train and the dropout masks, and checkpoints save it. Callers may
 *  read, copy or overwrite the state (e.g. broadcast it so that every worker shuffles alike).
 *  NULL for NULL. Not thread-safe on one network. */
GN_API gn_rng *gn_net_rng(gn_net *net);

/*==== Metrics ===============================================================================
 * Computed through inference (no dropout, scaling applied as the model says), max_batch
 * samples at a time, without allocation. X and Y as for gn_net_evaluate.
 */

/** Confusion matrix of a classifier over n samples: counts[t·k + p] (k = number of classes)
 *  is the number of samples of true class t predicted as p — a row-major k × k array
 *  counts[true][predicted], zeroed first. Classes are the argmax of the output and of the
 *  target column; with one output, class 1 means > 0.5 (k = 2). k must be n_outputs, or 2
 *  when n_outputs = 1.
 *  Returns GN_ERR_NULL, GN_ERR_DIM (k wrong, ld too small, n = 0). */
GN_API gn_status gn_net_confusion(gn_net *net, const float *X, size_t ldx, const float *Y,
                                  size_t ldy, size_t n, size_t k, uint64_t *counts);

/** Per-class precision and recall from a k × k confusion matrix (as above): precision[c] =
 *  counts[c][c] / Σ_t counts[t][c], recall[c] = counts[c][c] / Σ_p counts[c][p]; NaN where the
 *  denominator is 0. Either output may be NULL. Returns the accuracy (trace / total; NaN for
 *  an empty matrix or NULL counts). Thread-safe. */
GN_API double gn_class_metrics(const uint64_t *counts, size_t k, double *precision, double *recall);

/** Regression metrics over n samples in raw units (output scaling undone): mse = mean over
 *  all n·n_outputs entries of (prediction − target)², mae likewise of |·|, and r2 = the mean
 *  over outputs of 1 − SS_res/SS_tot (NaN for an output whose targets are all equal). Any
 *  output pointer may be NULL. Returns GN_ERR_NULL, GN_ERR_DIM. */
GN_API gn_status gn_net_regression_metrics(gn_net *net, const float *X, size_t ldx, const float *Y,
                                           size_t ldy, size_t n, double *mse, double *mae,
                                           double *r2);

/*==== Model files ===========================================================================
 * A model file (.gnn, specified byte by byte in docs/format.md) holds the architecture, the
 * loss and its parameters, the input/output scaling and the parameter buffer, little-endian,
 * in sections an older reader can skip, with a CRC-32 over everything before it.
 */

/** Writes net to path: to a temporary file in the same directory first, flushed and
 *  fsync'ed, then renamed over path, so a crash or a full disk mid-save leaves any old file
 *  intact. The network is not changed. On failure err (may be NULL) says what failed.
 *  Returns GN_ERR_NULL, GN_ERR_IO (cannot create, write, sync or rename; the temporary file
 *  is removed), GN_ERR_NOMEM, GN_ERR_NONFINITE (a parameter is NaN or infinite: nothing is
 *  written), GN_ERR_UNSUPPORTED (the network exceeds the file format's limits, ≤ 64 layers,
 *  widths ≤ 2^20, ≤ 2^28 parameters, which gn_net_load enforces). Thread-safe for distinct
 *  networks. */
GN_API gn_status gn_net_save(const gn_net *net, const char *path, char *err, size_t errlen);

/** Reads a model file and creates the network it describes (workspace for max_batch 128,
 *  dropout off). The network's shuffling/dropout RNG continues from the saved state if the
 *  file has one (a checkpoint), else it is seeded with 1. Sections that only matter for
 *  resuming (optimizer state, progress, provenance) are checked and then dropped; use
 *  gn_checkpoint_load to keep them. Every size is range-checked before anything is
 *  allocated, and the checksum and every parameter's finiteness are verified. On failure
 *  *out is NULL, nothing is leaked, and err says what was wrong and at which byte offset.
 *  Returns GN_ERR_NULL, GN_ERR_IO (cannot open or read), GN_ERR_NOMEM, and for a rejected
 *  file one of GN_ERR_MAGIC, GN_ERR_VERSION, GN_ERR_TRUNCATED, GN_ERR_TRAILING,
 *  GN_ERR_CHECKSUM, GN_ERR_LIMIT, GN_ERR_SECTION, GN_ERR_VALUE, GN_ERR_NONFINITE (a
 *  non-finite parameter, scaling or optimizer value); docs/format.md lists which check gives
 *  which. Thread-safe. */
GN_API gn_status gn_net_load(gn_net **out, const char *path, char *err, size_t errlen);

/** gn_net_load from len bytes in memory (e.g. a model a host code keeps in its own files).
 *  buf is only read during the call. Same statuses, GN_ERR_IO aside. */
GN_API gn_status gn_net_load_buffer(gn_net **out, const void *buf, size_t len, char *err,
                                    size_t errlen);

/*==== Checkpoints: resuming training ========================================================
 * A checkpoint is a model file with the extra, skippable sections needed to continue
 * training exactly where it stopped: the optimizer (configuration, current learning rate,
 * step count, momentum/moment vectors), the network's RNG state, the fit's progress (epochs
 * done, best validation loss, the best parameters) and provenance text. An older reader, or
 * gn_net_load, still loads it as a plain model. gn_net_fit writes checkpoints itself
 * (gn_fit_options.checkpoint_path) and resumes from one (gn_fit_options.resume); training N
 * epochs, checkpointing, and resuming for M more gives bit for bit the parameters of one run
 * of N + M epochs (same options, one BLAS thread).
 */

/** Saves a checkpoint atomically, like gn_net_save: net with its RNG state, opt (may be NULL:
 *  no optimizer section) and progress (may be NULL: no progress section; its best_params, if
 *  not NULL, must hold gn_net_n_params floats). meta (may be NULL) is provenance text: lines
 *  "key=value" each ending in '\n', UTF-8, no NUL, at most 64 KiB; the file also records
 *  "gemmnet_version=…" before them. Nothing is changed. Returns gn_net_save's statuses, and
 *  GN_ERR_DIM (opt was made for another parameter count), GN_ERR_ARG (malformed meta,
 *  best_epoch > epochs_done), GN_ERR_NONFINITE (a non-finite optimizer state or best
 *  parameter). Thread-safe for distinct objects. */
GN_API gn_status gn_checkpoint_save(const gn_net *net, const gn_optimizer *opt,
                                    const gn_fit_progress *progress, const char *meta,
                                    const char *path, char *err, size_t errlen);

/** Everything read from one model file or checkpoint: an opaque object owning the network,
 *  the optimizer, the progress and the provenance until they are taken or it is freed. */
typedef struct gn_checkpoint gn_checkpoint;

/** Facts about the file a gn_checkpoint was read from. */
typedef struct gn_checkpoint_info {
    uint32_t format_version; /**< 1 */
    uint32_t n_sections;     /**< sections in the file, skipped ones included */
    uint32_t n_skipped;      /**< unknown, skippable sections passed over */
    uint32_t crc;            /**< the stored (and verified) CRC-32 */
    uint64_t file_bytes;     /**< length of the file */
    int has_scaling;         /**< a SCAL section */
    int has_optimizer;       /**< an OPTM section */
    int has_rng;             /**< an RNGS section */
    int has_progress;        /**< a PROG section */
    int has_meta;            /**< a PROV section */
} gn_checkpoint_info;

/** Reads a model file or checkpoint with every check of gn_net_load, plus those of the
 *  optimizer, RNG, progress and provenance sections. On success *out owns a network, and
 *  the optimizer and progress if the file has them. Same statuses as gn_net_load; on failure
 *  *out is NULL and nothing is leaked. Thread-safe. */
GN_API gn_status gn_checkpoint_load(gn_checkpoint **out, const char *path, char *err,
                                    size_t errlen);
/** gn_checkpoint_load from memory; buf is only read during the call. */
GN_API gn_status gn_checkpoint_load_buffer(gn_checkpoint **out, const void *buf, size_t len,
                                           char *err, size_t errlen);
/** Frees a checkpoint and whatever was not taken from it. NULL is a no-op. */
GN_API void gn_checkpoint_free(gn_checkpoint *ck);
/** The network, still owned by ck (NULL once taken or for NULL ck). */
GN_API const gn_net *gn_checkpoint_net(const gn_checkpoint *ck);
/** Transfers the network to the caller (who frees it with gn_net_free); later calls give
 *  NULL. */
GN_API gn_net *gn_checkpoint_take_net(gn_checkpoint *ck);
/** Transfers the optimizer to the caller (gn_optimizer_free); NULL if the file has none or
 *  it was taken already. */
GN_API gn_optimizer *gn_checkpoint_take_optimizer(gn_checkpoint *ck);
/** The progress, if the file has one: fills *out and returns 1, else returns 0. out->
 *  best_params (NULL if absent) points into ck and lives as long as ck. */
GN_API int gn_checkpoint_progress(const gn_checkpoint *ck, gn_fit_progress *out);
/** The provenance text ("key=value\n" lines, NUL-terminated, owned by ck; "" if none). */
GN_API const char *gn_checkpoint_meta(const gn_checkpoint *ck);
/** The value of one provenance key copied into buf (NUL-terminated, truncated to len − 1
 *  bytes); returns the value's full length, or −1 if the key is absent or ck/key is NULL. */
GN_API long gn_checkpoint_meta_get(const gn_checkpoint *ck, const char *key, char *buf, size_t len);
/** Facts about the file. Returns GN_ERR_NULL if either pointer is NULL. */
GN_API gn_status gn_checkpoint_get_info(const gn_checkpoint *ck, gn_checkpoint_info *info);

/*==== Linear algebra: closed-form readout and diagnostics ====================================
 * LAPACK (through LAPACKE) where a factorisation beats iterating: the least-squares output
 * layer below, the singular values of a weight matrix, and GN_INIT_ORTHOGONAL.
 */

/** Replaces the output layer's W^L and b^L by the minimiser of the ridge objective
 *
 *      ½ Σ_j ‖W·h_j + b − t_j‖² + ½ λ ‖W‖²_F        (the bias is not penalised)
 *
 *  over the n samples, where h_j is the last hidden layer's activation of sample j (sample
 *  j itself for a one-layer network) as the network computes it, after its input scaling,
 *  and t_j is column j of Y after the network's output scaling. The other layers are not
 *  changed. This is gn_net_train's quadratic loss on the output layer alone with the
 *  optimizer's coupled L2 at l2 = λ/n, solved exactly; it is the same whatever the
 *  network's loss. X is n_inputs × n (ldx ≥ n_inputs), Y is n_outputs × n
 *  (ldy ≥ n_outputs); any n ≥ 1, processed max_batch samples at a time with the network's
 *  own forward pass (no dropout).
 *  Method: Householder QR in double precision of the system [Hᵀ 1; √λ·I 0]·[Wᵀ; bᵀ] ≈ [T; 0]
 *  (H is n_h × n), accumulated block by block (LAPACK dtpqrt and dtpmqrt), then back
 *  substitution (dtrtrs): the condition number is not squared as with normal equations,
 *  and the memory does not grow with n: at most (p + max(p, 512) + 70)·(p + n_outputs)
 *  doubles, p = n_h + 1, allocated for the call. The columns are equilibrated and the factor's
 *  reciprocal condition number estimated (dtrcon): below 16 float epsilons (about 2e−6),
 *  or with a hidden unit that is 0 on every sample, the problem is singular and refused
 *  (only λ = 0, or a λ too small to matter, can get there; with λ = 0 it needs at least
 *  n_h + 1 samples whose activations, with the constant, are independent).
 *  rmse (may be NULL) gets, after the fit, the root mean squared residual of the network's
 *  predictions over all n·n_outputs entries, in raw output units (output scaling undone,
 *  as gn_net_regression_metrics's mse), from one more pass of inference over X.
 *  Every value of X and Y, the scaled targets and the hidden activations are checked
 *  finite. On failure the parameters are unchanged (the workspace is not).
 *  Returns GN_ERR_NULL (net, X or Y), GN_ERR_DIM (n = 0, ldx or ldy too small or above
 *  INT_MAX), GN_ERR_ARG (λ negative or not finite), GN_ERR_UNSUPPORTED (the output layer's
 *  activation is not the identity), GN_ERR_NONFINITE (a NaN or infinity in the data, the
 *  scaled targets or the hidden activations: gn_net_last_error names the sample),
 *  GN_ERR_SINGULAR, GN_ERR_NOMEM. Not thread-safe on one network (as gn_net_train);
 *  distinct networks may be fitted concurrently. */
GN_API gn_status gn_fit_output_lstsq(gn_net *net, const float *X, size_t ldx, const float *Y,
                                     size_t ldy, size_t n, float lambda, double *rmse);

/** The min(n_l, n_{l−1}) singular values of W^l, 1 ≤ l ≤ L, in descending order, written to
 *  s (min(n_l, n_{l−1}) floats). σ_1 = s[0] is the spectral norm ‖W^l‖₂; s[0]/s[k−1] the
 *  condition number (infinite when the last is 0). Computed by LAPACK sgesdd without
 *  singular vectors on a copy of W^l: allocates n_l·n_{l−1} floats plus its workspace for
 *  the call. The network is not changed and s is written only on success.
 *  Returns GN_ERR_NULL (net or s), GN_ERR_ARG (l out of 1..L), GN_ERR_NONFINITE (W^l holds
 *  a NaN or infinity), GN_ERR_NOMEM, GN_ERR_SINGULAR (sgesdd did not converge). Thread-safe
 *  as long as no other thread changes the network's parameters. */
GN_API gn_status gn_net_layer_singular_values(const gn_net *net, size_t l, float *s);

/*==== BLAS information ======================================================================
 * Which BLAS gemmnet runs on and how it threads, for logs and `gemmnet info`. The threading
 * rules (docs/design.md, "Threading"): distinct networks may train in distinct threads;
 * with OpenBLAS, keep one BLAS thread per caller thread (OPENBLAS_NUM_THREADS=1 or
 * gn_set_threads(1)) when several threads call gemmnet at once, because the pthreads build
 * runs one multithreaded product at a time; the library changes the BLAS thread count only
 * in gn_set_threads.
 */

/** How the BLAS was built to thread (OpenBLAS's openblas_get_parallel()). */
typedef enum gn_blas_parallel {
    GN_BLAS_PARALLEL_UNKNOWN = -1,   /**< not OpenBLAS: the BLAS cannot say */
    GN_BLAS_PARALLEL_SEQUENTIAL = 0, /**< no threads of its own (Debian libopenblas0-serial) */
    GN_BLAS_PARALLEL_PTHREADS = 1,   /**< its own thread pool (libopenblas0-pthread, Debian's
                                          default) */
    GN_BLAS_PARALLEL_OPENMP = 2,     /**< OpenMP (libopenblas0-openmp) */
} gn_blas_parallel;

typedef struct gn_blas_info {
    const char *config;        /**< the BLAS's own description (openblas_get_config()), e.g.
                                    "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY
                                    Haswell MAX_THREADS=64"; "unknown CBLAS (not OpenBLAS)"
                                    otherwise */
    const char *corename;      /**< kernels chosen for this CPU (openblas_get_corename()),
                                    e.g. "Haswell"; "" if not OpenBLAS */
    gn_blas_parallel parallel; /**< build variant */
    int threads;               /**< threads BLAS uses now, as gn_get_threads() */
    int cores;                 /**< processors online (sysconf(_SC_NPROCESSORS_ONLN)), ≥ 1 */
} gn_blas_info;

/** Fills *info. Both strings are static, never NULL, and stay valid for the life of the
 *  process. Returns GN_ERR_NULL. Thread-safe (openblas_get_config(), which is not, is called
 *  once, the first time; an application that calls it itself should not do so while another
 *  thread may be making the first gn_blas_get_info call). Never changes the thread count. */
GN_API gn_status gn_blas_get_info(gn_blas_info *info);

/** gn_blas_get_info as one line: "<config>; threading <variant>; <n> BLAS threads; <c> cores".
 *  Writes at most len bytes, always terminated when len > 0 (buf may be NULL when len is 0),
 *  and returns the length of the whole line, as snprintf does. Thread-safe. */
GN_API size_t gn_blas_describe(char *buf, size_t len);

/** "sequential", "pthreads", "openmp" or "unknown" (any other value). Static; thread-safe. */
GN_API const char *gn_blas_parallel_name(gn_blas_parallel parallel);

#ifdef __cplusplus
}
#endif

#endif /* GEMMNET_H */
