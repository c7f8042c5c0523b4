/* Everything that calls LAPACK (the only file that includes <lapacke.h>): orthogonal weight
 * initialisation, the closed-form ridge readout of the output layer, and singular values. */
#include "internal.h"

#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* A LAPACK work-size answer (a float or double holding an integer) as a count ≥ floor. */
static size_t work_count(double query, size_t floor)
{
    return query > (double)floor && query < 1e15 ? (size_t)query : floor;
}

/* n zeroed doubles, 64-byte aligned (gn__alloc_floats of twice as many floats). */
static double *alloc_doubles(size_t n)
{
    size_t floats;
    return mul_ok(n, 2, &floats) ? (double *)(void *)gn__alloc_floats(floats) : NULL;
}

/* A negative info from a LAPACK driver means gemmnet passed an illegal argument: a bug here,
 * reported rather than ignored. */
static gn_status lapack_bug(gn_net *net, const char *fn, const char *routine, lapack_int info)
{
    return gn__fail(net, GN_ERR_ARG, "%s: LAPACK %s rejected argument %d (a gemmnet bug)", fn,
                    routine, (int)-info);
}

/*==== Orthogonal initialisation ============================================================*/

static float orthogonal_gain(gn_act act)
{
    bool rectifier = act == GN_ACT_RELU || act == GN_ACT_LEAKY_RELU || act == GN_ACT_ELU;
    return rectifier ? 1.41421356f : 1.0f;
}

gn_status gn__init_orthogonal(gn_net *net, uint64_t seed)
{
    static const char fn[] = "gn_net_init_params";
    /* Every buffer and workspace size first, so that running out of memory changes nothing:
     * G holds one layer's Gaussian draw (rows × cols, rows ≥ cols), then its Q. */
    size_t g_max = 1, k_max = 1, lwork = 1;
    float one = 0.0f, query = 0.0f;
    for (size_t l = 0; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        size_t rows = max_size(ly->n_out, ly->n_in), cols = min_size(ly->n_out, ly->n_in);
        g_max = max_size(g_max, ly->n_out * ly->n_in); /* no overflow: the parameters fit */
        k_max = max_size(k_max, cols);
        lapack_int info = LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)cols,
                                              &one, (lapack_int)rows, &one, &query, -1);
        if (info != 0)
            return lapack_bug(net, fn, "sgeqrf", info);
        lwork = max_size(lwork, work_count(query, cols));
        info = LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)cols,
                                   (lapack_int)cols, &one, (lapack_int)rows, &one, &query, -1);
        if (info != 0)
            return lapack_bug(net, fn, "sorgqr", info);
        lwork = max_size(lwork, work_count(query, cols));
    }
    size_t total = 0;
    if (lwork > INT_MAX || !add_ok(g_max, 2 * k_max, &total) || !add_ok(total, lwork, &total))
        return gn__fail(net, GN_ERR_NOMEM, "%s: orthogonal initialisation: size overflow", fn);
    float *G = gn__alloc_floats(total);
    if (!G)
        return gn__fail(net, GN_ERR_NOMEM,
                        "%s: no memory for the orthogonal initialisation's %zu-float temporary", fn,
                        total);
    float *tau = G + g_max, *scale = tau + k_max, *work = scale + k_max;

    gn_rng_seed(&net->rng, seed);
    gn_status st = GN_OK;
    for (size_t l = 0; l < net->n_layers && st == GN_OK; l++) {
        const gn_layer *ly = &net->layers[l];
        size_t n_out = ly->n_out, n_in = ly->n_in;
        size_t rows = max_size(n_out, n_in), cols = min_size(n_out, n_in);
        for (size_t i = 0; i < rows * cols; i++) /* column by column */
            G[i] = (float)gn_rng_normal(&net->rng);
        /* G = Q·R (Householder), then Q := Q·sign(diag R), which makes R's diagonal positive:
         * that factorisation is unique, and its Q is Haar-distributed (uniform over matrices
         * with orthonormal columns) where LAPACK's own sign convention would bias it. */
        lapack_int info = LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)cols,
                                              G, (lapack_int)rows, tau, work, (lapack_int)lwork);
        if (info != 0) {
            st = lapack_bug(net, fn, "sgeqrf", info);
            break;
        }
        float gain = orthogonal_gain(ly->act);
        for (size_t j = 0; j < cols; j++)
            scale[j] = G[j + j * rows] < 0.0f ? -gain : gain;
        info = LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)cols,
                                   (lapack_int)cols, G, (lapack_int)rows, tau, work,
                                   (lapack_int)lwork);
        if (info != 0) {
            st = lapack_bug(net, fn, "sorgqr", info);
            break;
        }
        float *W = net->params + ly->w_off;
        if (n_out >= n_in) { /* W := gain·Q·S, orthonormal columns */
            for (size_t j = 0; j < n_in; j++)
                for (size_t i = 0; i < n_out; i++)
                    W[i + j * n_out] = scale[j] * G[i + j * rows];
        } else { /* W := gain·(Q·S)ᵀ, orthonormal rows */
            for (size_t j = 0; j < n_in; j++)
                for (size_t i = 0; i < n_out; i++)
                    W[i + j * n_out] = scale[i] * G[j + i * rows];
        }
        memset(net->params + ly->b_off, 0, n_out * sizeof(float));
    }
    gn__free(G);
    return st;
}

/*==== Closed-form ridge readout =============================================================
 * Unknowns x = [Wᵀ; bᵀ], p × n_L with p = n_h + 1; rows of the least-squares system are
 * [h_jᵀ 1] → t_jᵀ for every sample, then [√λ I 0] → 0 for the penalty. The triangular factor
 * R (p × p) and Qᵀt (p × n_L) are updated block by block with dtpqrt/dtpmqrt, the QR of
 * [R; block] for a triangular R on top, so memory stays O(p²) whatever n, and the solution
 * comes from R by back substitution: no normal equations, no squared condition number. */

enum { LSTSQ_BLOCK = 512, LSTSQ_NB = 32 };

/* Column-equilibrated R is refused as singular when LAPACK's reciprocal 1-norm condition
 * estimate is below this: the hidden activations are float, so independence below a few
 * float epsilons cannot be told from rounding. */
#define LSTSQ_RCOND_MIN (16.0 * FLT_EPSILON)

typedef struct lstsq_work {
    size_t p, n_out, rows_max, nb;
    double *R, *C;  /* p × p (upper triangle used), p × n_out */
    double *B, *Tb; /* rows_max × p block of the system, rows_max × n_out its targets */
    double *T;      /* nb × p block reflector factors */
    double *work;   /* nb · max(p, n_out), and 3p for dtrcon */
    double *colnorm;
    lapack_int *iwork; /* p */
    double *mem;
} lstsq_work;

static bool lstsq_alloc(lstsq_work *w, size_t p, size_t n_out)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->n_out = n_out;
    w->rows_max = max_size(p, LSTSQ_BLOCK);
    w->nb = min_size(p, LSTSQ_NB);
    size_t part[7], total = 0;
    if (!mul_ok(p, p, &part[0]) || !mul_ok(p, n_out, &part[1]) ||
        !mul_ok(w->rows_max, p, &part[2]) || !mul_ok(w->rows_max, n_out, &part[3]) ||
        !mul_ok(w->nb, p, &part[4]) || !mul_ok(w->nb + 3, max_size(p, n_out), &part[5]))
        return false;
    part[6] = 2 * p; /* column norms, and p ints */
    for (int i = 0; i < 7; i++)
        if (!add_ok(total, part[i], &total))
            return false;
    if (w->rows_max > INT_MAX || p > INT_MAX || n_out > INT_MAX)
        return false;
    double *m = alloc_doubles(total);
    if (!m)
        return false;
    w->mem = m;
    w->R = m;
    w->C = w->R + part[0];
    w->B = w->C + part[1];
    w->Tb = w->B + part[2];
    w->T = w->Tb + part[3];
    w->work = w->T + part[4];
    w->colnorm = w->work + part[5];
    w->iwork = (lapack_int *)(void *)(w->colnorm + p);
    return true;
}

/* [R; B] := Q·[R'; 0] and [C; Tb] := Qᵀ·[C; Tb] for the first rows of the block. */
static lapack_int lstsq_absorb(lstsq_work *w, size_t rows)
{
    lapack_int p = (lapack_int)w->p, nb = (lapack_int)w->nb, ld = (lapack_int)w->rows_max;
    lapack_int info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, (lapack_int)rows, p, 0, nb, w->R, p,
                                          w->B, ld, w->T, nb, w->work);
    if (info != 0)
        return info;
    return LAPACKE_dtpmqrt_work(LAPACK_COL_MAJOR, 'L', 'T', (lapack_int)rows, (lapack_int)w->n_out,
                                p, 0, nb, w->B, ld, w->T, nb, w->C, p, w->Tb, ld, w->work);
}

/* Fills rows [r, r + m) of the block from samples [j0, j0 + m): the last hidden activations
 * (or the scaled inputs) with a 1 for the bias, and the scaled targets. */
static gn_status lstsq_rows(gn_net *net, lstsq_work *w, const float *X, size_t ldx, const float *Y,
                            size_t ldy, size_t j0, size_t m, size_t r)
{
    static const char fn[] = "gn_fit_output_lstsq";
    size_t L = net->n_layers, n_in = gn_net_n_inputs(net), nh = w->p - 1, no = w->n_out, bad;
    const float *Xb = X + j0 * ldx, *Yb = Y + j0 * ldy;
    if (!gn__columns_finite(Xb, n_in, ldx, m, &bad))
        return gn__fail(net, GN_ERR_NONFINITE, "%s: sample %zu of X is not finite", fn, j0 + bad);
    if (!gn__columns_finite(Yb, no, ldy, m, &bad))
        return gn__fail(net, GN_ERR_NONFINITE, "%s: sample %zu of Y is not finite", fn, j0 + bad);
    gn__prepare(net, &Xb, &ldx, &Yb, &ldy, m);
    const float *H = Xb;
    size_t ldh = ldx;
    if (L > 1) {
        gn__forward(net, Xb, ldx, m, false);
        H = net->acts[L - 2];
        ldh = nh;
    }
    if (!gn__columns_finite(H, nh, ldh, m, &bad))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "%s: the %s of sample %zu are not finite (overflow in the scaling or the "
                        "hidden layers)",
                        fn, L > 1 ? "hidden activations" : "scaled inputs", j0 + bad);
    if (!gn__columns_finite(Yb, no, ldy, m, &bad))
        return gn__fail(net, GN_ERR_NONFINITE,
                        "%s: the scaled targets of sample %zu are not finite", fn, j0 + bad);
    size_t ld = w->rows_max;
    for (size_t j = 0; j < m; j++) {
        for (size_t k = 0; k < nh; k++)
            w->B[r + j + k * ld] = H[k + j * ldh];
        w->B[r + j + nh * ld] = 1.0;
        for (size_t i = 0; i < no; i++)
            w->Tb[r + j + i * ld] = Yb[i + j * ldy];
    }
    return GN_OK;
}

gn_status gn_fit_output_lstsq(gn_net *net, const float *X, size_t ldx, const float *Y, size_t ldy,
                              size_t n, float lambda, double *rmse)
{
    static const char fn[] = "gn_fit_output_lstsq";
    gn_status st = gn__check_batch(net, fn, X, ldx, Y, ldy, true, n, false);
    if (st != GN_OK)
        return st;
    if (!isfinite(lambda) || lambda < 0.0f)
        return gn__fail(net, GN_ERR_ARG, "%s: lambda = %g must be finite and ≥ 0", fn,
                        (double)lambda);
    const gn_layer *top = &net->layers[net->n_layers - 1];
    if (top->act != GN_ACT_IDENTITY)
        return gn__fail(net, GN_ERR_UNSUPPORTED,
                        "%s: the output layer must have the identity activation", fn);
    size_t nh = top->n_in, no = top->n_out, p = nh + 1;
    lstsq_work w;
    if (!lstsq_alloc(&w, p, no))
        return gn__fail(net, GN_ERR_NOMEM,
                        "%s: no memory for the %zu × %zu triangular factor and its blocks", fn, p,
                        p);

    lapack_int info = 0;
    const char *routine = "dtpqrt/dtpmqrt";
    for (size_t done = 0; done < n && st == GN_OK && info == 0;) {
        size_t rows = min_size(w.rows_max, n - done);
        for (size_t r = 0; r < rows && st == GN_OK;) {
            size_t m = min_size(net->max_batch, rows - r);
            st = lstsq_rows(net, &w, X, ldx, Y, ldy, done + r, m, r);
            r += m;
        }
        if (st == GN_OK)
            info = lstsq_absorb(&w, rows);
        done += rows;
    }
    if (st == GN_OK && info == 0 && lambda > 0.0f) { /* the penalty rows [√λ I 0] → 0 */
        size_t ld = w.rows_max;
        memset(w.B, 0, ld * p * sizeof *w.B);
        memset(w.Tb, 0, ld * no * sizeof *w.Tb);
        double root = sqrt((double)lambda);
        for (size_t k = 0; k < nh; k++)
            w.B[k + k * ld] = root;
        info = lstsq_absorb(&w, nh);
    }
    if (st == GN_OK && info == 0) {
        /* Equilibrate the columns (norms of R's columns are those of the whole system's), so
         * the rank test does not depend on the units of a hidden unit. */
        for (size_t k = 0; k < p; k++) {
            double s = 0.0;
            for (size_t i = 0; i <= k; i++)
                s = hypot(s, w.R[i + k * p]);
            if (!(s > 0.0)) {
                st = gn__fail(net, GN_ERR_SINGULAR,
                              "%s: %s %zu (0-based) is zero on every sample: the least-squares "
                              "problem is singular (use lambda > 0)",
                              fn, net->n_layers > 1 ? "hidden unit" : "input", k);
                break;
            }
            w.colnorm[k] = s;
            for (size_t i = 0; i <= k; i++)
                w.R[i + k * p] /= s;
        }
    }
    double rcond = 0.0;
    if (st == GN_OK && info == 0) {
        routine = "dtrcon";
        info = LAPACKE_dtrcon_work(LAPACK_COL_MAJOR, '1', 'U', 'N', (lapack_int)p, w.R,
                                   (lapack_int)p, &rcond, w.work, w.iwork);
        if (info == 0 && !(rcond >= LSTSQ_RCOND_MIN))
            st = gn__fail(net, GN_ERR_SINGULAR,
                          "%s: the %s and the constant 1 of the bias are linearly dependent "
                          "over these samples (reciprocal condition number %.3g of the "
                          "equilibrated factor; use %s)",
                          fn, net->n_layers > 1 ? "hidden activations" : "inputs", rcond,
                          lambda > 0.0f ? "a larger lambda" : "lambda > 0");
    }
    if (st == GN_OK && info == 0) {
        routine = "dtrtrs";
        info = LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'U', 'N', 'N', (lapack_int)p, (lapack_int)no,
                                   w.R, (lapack_int)p, w.C, (lapack_int)p);
        if (info > 0) {
            st = gn__fail(net, GN_ERR_SINGULAR, "%s: the triangular factor is singular", fn);
            info = 0;
        }
    }
    if (st == GN_OK && info != 0)
        st = lapack_bug(net, fn, routine, info);
    if (st == GN_OK) { /* undo the equilibration, and check the result fits a float */
        for (size_t i = 0; i < no && st == GN_OK; i++)
            for (size_t k = 0; k < p; k++) {
                double v = w.C[k + i * p] / w.colnorm[k];
                if (!(fabs(v) <= FLT_MAX)) {
                    st = gn__fail(net, GN_ERR_SINGULAR,
                                  "%s: the solution overflows a float (output %zu): the problem "
                                  "is too ill-conditioned",
                                  fn, i);
                    break;
                }
                w.C[k + i * p] = v;
            }
    }
    if (st != GN_OK) {
        gn__free(w.mem);
        return st;
    }
    float *W = net->params + top->w_off, *b = net->params + top->b_off;
    for (size_t i = 0; i < no; i++) {
        for (size_t k = 0; k < nh; k++)
            W[i + k * no] = (float)w.C[k + i * p];
        b[i] = (float)w.C[nh + i * p];
    }
    gn__free(w.mem);

    if (rmse) { /* the fitted network's own predictions, in raw output units */
        double sum = 0.0;
        for (size_t j0 = 0; j0 < n; j0 += net->max_batch) {
            size_t m = min_size(net->max_batch, n - j0);
            float *A = (float *)gn__infer_chunk(net, X, ldx, NULL, 0, j0, m, NULL, NULL);
            gn__unscale_outputs(net, A, no, m);
            for (size_t j = 0; j < m; j++)
                for (size_t i = 0; i < no; i++) {
                    double d = (double)A[i + j * no] - (double)Y[i + (j0 + j) * ldy];
                    sum += d * d;
                }
        }
        *rmse = sqrt(sum / ((double)n * (double)no));
    }
    return GN_OK;
}

/*==== Singular values =======================================================================*/

gn_status gn_net_layer_singular_values(const gn_net *net, size_t l, float *s)
{
    if (!net || !s)
        return GN_ERR_NULL;
    if (l == 0 || l > net->n_layers)
        return GN_ERR_ARG;
    const gn_layer *ly = &net->layers[l - 1];
    size_t m = ly->n_out, n = ly->n_in, k = min_size(m, n), size = m * n;
    const float *W = net->params + ly->w_off;
    if (!gn__all_finite(W, size))
        return GN_ERR_NONFINITE;
    float one = 0.0f, query = 0.0f;
    lapack_int ione = 0;
    lapack_int info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'N', (lapack_int)m, (lapack_int)n, &one,
                                          (lapack_int)m, &one, &one, 1, &one, 1, &query, -1, &ione);
    if (info != 0)
        return GN_ERR_ARG;
    /* sgesdd with jobz 'N' wants at least 3k + max(m, n, 7k) floats. */
    size_t lwork = work_count(query, 3 * k + max_size(max_size(m, n), 7 * k)), total;
    if (lwork > INT_MAX || !add_ok(size, lwork, &total) || !add_ok(total, k, &total) ||
        !add_ok(total, 8 * k, &total))
        return GN_ERR_NOMEM;
    float *A = gn__alloc_floats(total);
    if (!A)
        return GN_ERR_NOMEM;
    float *sv = A + size, *work = sv + k;
    lapack_int *iwork = (lapack_int *)(void *)(work + lwork);
    memcpy(A, W, size * sizeof *A);
    info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'N', (lapack_int)m, (lapack_int)n, A,
                               (lapack_int)m, sv, &one, 1, &one, 1, work, (lapack_int)lwork, iwork);
    if (info == 0)
        memcpy(s, sv, k * sizeof *s);
    gn__free(A);
    return info == 0 ? GN_OK : info > 0 ? GN_ERR_SINGULAR : GN_ERR_ARG;
}
