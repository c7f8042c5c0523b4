/* Layouts: host arrays with the samples in rows (n × features, ld ≥ n) must give what the same
 * data as columns gives, read in place: predictions, evaluation, statistics, splits and whole
 * fits. The column results are the oracle; the row matrices are built here by transposing
 * them, with padding (ld > n) filled with values that would show up if read. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { NI = 5, NO = 3, N = 77, LDR = N + 4 };
#define PAD 1.0e6f /* in the padding of a row matrix: reading it would wreck the results */

/* B (n × rows, ld = ldb) := Aᵀ for A rows × n with ld = rows; the padding gets PAD. */
static float *transpose(const float *A, size_t rows, size_t n, size_t ldb)
{
    float *B = malloc(ldb * rows * sizeof *B);
    cr_assert_not_null(B);
    for (size_t k = 0; k < ldb * rows; k++)
        B[k] = PAD;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < rows; i++)
            B[j + i * ldb] = A[i + j * rows];
    return B;
}

static gn_net *layout_net(gn_act out, gn_loss loss, size_t max_batch)
{
    static const size_t sizes[] = {NI, 8, NO};
    gn_act acts[] = {GN_ACT_TANH, out};
    return make_net(sizes, 3, acts, loss, max_batch, 11);
}

static void set_input_scaling(gn_net *net)
{
    float mean[NI], std[NI];
    for (int i = 0; i < NI; i++) {
        mean[i] = 0.1f * (float)i - 0.2f;
        std[i] = 0.5f + 0.25f * (float)i;
    }
    cr_assert_eq(gn_net_set_input_scaling(net, mean, std), GN_OK);
}

/* Predictions of n samples in rows against the same samples in columns. */
static void check_predict(gn_net *net, size_t n, double tol)
{
    float *X = random_floats(NI * n, -2.0f, 2.0f, 5);
    float *Y = malloc(NO * n * sizeof *Y);
    cr_assert_eq(gn_net_predict(net, X, NI, n, Y, NO), GN_OK);
    size_t ld = n + 4;
    float *Xr = transpose(X, NI, n, ld), *Yr = malloc(ld * NO * sizeof *Yr);
    for (size_t k = 0; k < ld * NO; k++)
        Yr[k] = -7.0f;
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_ROWS, Xr, ld, n, Yr, ld), GN_OK);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < NO; i++) {
            double a = Yr[j + i * ld], b = Y[i + j * NO];
            if (tol == 0.0)
                cr_assert(a == b, "sample %zu output %zu: %.9g vs %.9g", j, i, a, b);
            else
                cr_assert(fabs(a - b) <= tol, "sample %zu output %zu: %.9g vs %.9g", j, i, a, b);
        }
    for (size_t i = 0; i < NO; i++) /* nothing written past row n in any output column */
        for (size_t j = n; j < ld; j++)
            cr_assert(Yr[j + i * ld] == -7.0f, "padding of output %zu written", i);
    free(X), free(Y), free(Xr), free(Yr);
}

/* Without input scaling the first product reads X transposed: BLAS may round the NoTrans and
 * Trans kernels differently, so agreement is to float rounding of sums of NI products of
 * O(1) terms (outputs of a softmax, in [0, 1]). */
Test(layout, predict_rows_matches_columns_in_place)
{
    gn_net *net = layout_net(GN_ACT_SOFTMAX, GN_LOSS_CCE, 16);
    check_predict(net, N, 2e-6); /* N > max_batch: several chunks */
    check_predict(net, 1, 2e-6);
    gn_net_free(net);
}

/* Same with the reference loops, whose two transpose cases sum in the same order. */
Test(layout, predict_rows_matches_columns_on_reference_path)
{
    gn_net *net = layout_net(GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, 32);
    cr_assert_eq(gn_net_set_impl(net, GN_IMPL_NAIVE), GN_OK);
    check_predict(net, N, 1e-6);
    gn_net_free(net);
}

/* With input scaling both layouts are scaled into the same workspace: bit for bit. */
Test(layout, predict_rows_with_scaling_is_bit_identical)
{
    gn_net *net = layout_net(GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, 16);
    set_input_scaling(net);
    float mean[NO] = {1, -2, 3}, std[NO] = {2, 0.5f, 4};
    cr_assert_eq(gn_net_set_output_scaling(net, mean, std), GN_OK);
    check_predict(net, N, 0.0);
    gn_net_free(net);
}

Test(layout, evaluate_rows_matches_columns)
{
    gn_net *net = layout_net(GN_ACT_SOFTMAX, GN_LOSS_CCE, 16);
    float *X = random_floats(NI * N, -2.0f, 2.0f, 6), *Y = random_onehot(NO, N, 7);
    float *Xr = transpose(X, NI, N, LDR), *Yr = transpose(Y, NO, N, LDR);
    double lc, ac, lr, ar;
    cr_assert_eq(gn_net_evaluate(net, X, NI, Y, NO, N, &lc, &ac), GN_OK);
    cr_assert_eq(gn_net_evaluate_layout(net, GN_SAMPLES_IN_ROWS, Xr, LDR, Yr, LDR, N, &lr, &ar),
                 GN_OK);
    cr_assert(fabs(lr - lc) <= 1e-6 * fabs(lc), "loss %.9g vs %.9g", lr, lc);
    cr_assert(ar == ac, "accuracy %g vs %g", ar, ac);
    /* columns through the _layout call are the plain call */
    cr_assert_eq(gn_net_evaluate_layout(net, GN_SAMPLES_IN_COLUMNS, X, NI, Y, NO, N, &lr, &ar),
                 GN_OK);
    cr_assert(lr == lc && ar == ac);
    free(X), free(Y), free(Xr), free(Yr);
    gn_net_free(net);
}

Test(layout, bad_arguments_are_refused_with_messages)
{
    gn_net *net = layout_net(GN_ACT_SOFTMAX, GN_LOSS_CCE, 16);
    float X[NI * 4] = {0}, Y[NO * 4];
    cr_assert_eq(gn_net_predict_layout(net, (gn_layout)2, X, NI, 4, Y, NO), GN_ERR_ARG);
    cr_assert(strstr(gn_net_last_error(net), "layout"));
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_ROWS, X, 3, 4, Y, 4), GN_ERR_DIM);
    cr_assert(strstr(gn_net_last_error(net), "ldx = 3"), "%s", gn_net_last_error(net));
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_ROWS, X, 4, 4, Y, 3), GN_ERR_DIM);
    cr_assert(strstr(gn_net_last_error(net), "ldy = 3"), "%s", gn_net_last_error(net));
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_ROWS, X, 4, 0, Y, 4), GN_ERR_DIM);
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_ROWS, NULL, 4, 4, Y, 4), GN_ERR_NULL);
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_ROWS, X, 4, 4, NULL, 4), GN_ERR_NULL);
    cr_assert_eq(gn_net_predict_layout(NULL, GN_SAMPLES_IN_ROWS, X, 4, 4, Y, 4), GN_ERR_NULL);
    cr_assert_eq(gn_net_evaluate_layout(net, GN_SAMPLES_IN_ROWS, X, 4, Y, 2, 4, NULL, NULL),
                 GN_ERR_DIM);
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_ROWS, X, (size_t)1 << 40, 4, Y, 4),
                 GN_ERR_DIM);
    /* a column call keeps its own rules: ldx ≥ n_inputs */
    cr_assert_eq(gn_net_predict_layout(net, GN_SAMPLES_IN_COLUMNS, X, NI - 1, 4, Y, NO),
                 GN_ERR_DIM);
    gn_net_free(net);

    gn_dataset *ds = (gn_dataset *)1;
    cr_assert_eq(gn_dataset_wrap_layout(&ds, (gn_layout)-1, X, 4, Y, 4, NI, NO, 4), GN_ERR_ARG);
    cr_assert_null(ds);
    cr_assert_eq(gn_dataset_wrap_layout(&ds, GN_SAMPLES_IN_ROWS, X, 3, Y, 4, NI, NO, 4),
                 GN_ERR_DIM);
    cr_assert_eq(gn_dataset_wrap_layout(&ds, GN_SAMPLES_IN_ROWS, X, 4, Y, 3, NI, NO, 4),
                 GN_ERR_DIM);
    /* ld ≥ n is all rows need: ld = 4 < n_features = 5 is fine */
    cr_assert_eq(gn_dataset_wrap_layout(&ds, GN_SAMPLES_IN_ROWS, X, 4, Y, 4, NI, NO, 4), GN_OK);
    cr_assert_eq(gn_dataset_layout(ds), GN_SAMPLES_IN_ROWS);
    gn_dataset_free(ds);
    cr_assert_eq(gn_dataset_layout(NULL), GN_SAMPLES_IN_COLUMNS);
}

/* The same data wrapped both ways (rows with padding) for the dataset-level tests. */
typedef struct twin {
    float *X, *Y, *Xr, *Yr;
    gn_dataset *cols, *rows;
} twin;

static twin make_twin(int regression)
{
    twin t;
    t.X = random_floats(NI * N, -1.0f, 3.0f, 21);
    t.Y = regression ? random_floats(NO * N, 5.0f, 9.0f, 22) : random_onehot(NO, N, 22);
    t.Xr = transpose(t.X, NI, N, LDR);
    t.Yr = transpose(t.Y, NO, N, LDR);
    cr_assert_eq(gn_dataset_wrap(&t.cols, t.X, NI, t.Y, NO, NI, NO, N), GN_OK);
    cr_assert_eq(
        gn_dataset_wrap_layout(&t.rows, GN_SAMPLES_IN_ROWS, t.Xr, LDR, t.Yr, LDR, NI, NO, N),
        GN_OK);
    return t;
}

static void free_twin(twin *t)
{
    gn_dataset_free(t->cols);
    gn_dataset_free(t->rows);
    free(t->X), free(t->Y), free(t->Xr), free(t->Yr);
}

Test(layout, dataset_statistics_and_split_agree)
{
    twin t = make_twin(1);
    cr_assert(gn_dataset_x(t.rows) == t.Xr && gn_dataset_ldx(t.rows) == LDR);
    for (int part = 0; part < 2; part++) {
        size_t k = part ? NO : NI;
        float mc[NI], sc[NI], mr[NI], sr[NI];
        cr_assert_eq(gn_dataset_mean_std(t.cols, part, mc, sc), GN_OK);
        cr_assert_eq(gn_dataset_mean_std(t.rows, part, mr, sr), GN_OK);
        cr_assert(memcmp(mc, mr, k * sizeof *mc) == 0 && memcmp(sc, sr, k * sizeof *sc) == 0,
                  "part %d", part);
    }
    gn_dataset *a1, *b1, *a2, *b2;
    cr_assert_eq(gn_dataset_split(t.cols, 0.7, 9, &a1, &b1), GN_OK);
    cr_assert_eq(gn_dataset_split(t.rows, 0.7, 9, &a2, &b2), GN_OK);
    cr_assert_eq(gn_dataset_layout(a2), GN_SAMPLES_IN_COLUMNS);
    size_t na = gn_dataset_n_samples(a1), nb = gn_dataset_n_samples(b1);
    cr_assert(na == gn_dataset_n_samples(a2) && na + nb == N);
    cr_assert(memcmp(gn_dataset_x(a1), gn_dataset_x(a2), NI * na * sizeof(float)) == 0);
    cr_assert(memcmp(gn_dataset_y(a1), gn_dataset_y(a2), NO * na * sizeof(float)) == 0);
    cr_assert(memcmp(gn_dataset_x(b1), gn_dataset_x(b2), NI * nb * sizeof(float)) == 0);
    cr_assert(memcmp(gn_dataset_y(b1), gn_dataset_y(b2), NO * nb * sizeof(float)) == 0);
    gn_dataset_free(a1), gn_dataset_free(b1), gn_dataset_free(a2), gn_dataset_free(b2);
    free_twin(&t);
}

/* A fit reads each mini-batch through the same gather whatever the layout, so both give the
 * same parameters bit for bit: shuffled or not, standardised or not, with a validation set
 * in rows too. */
static void check_fit(int shuffle, int standardize, int regression)
{
    twin t = make_twin(regression), v = make_twin(regression);
    float *params[2];
    double val_loss[2];
    for (int k = 0; k < 2; k++) {
        gn_net *net = regression ? layout_net(GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, 16)
                                 : layout_net(GN_ACT_SOFTMAX, GN_LOSS_CCE, 16);
        gn_fit_options o;
        gn_fit_options_defaults(&o);
        o.epochs = 3;
        o.batch = 10;
        o.shuffle = shuffle;
        o.standardize =
            standardize ? GN_STANDARDIZE_INPUTS | (regression ? GN_STANDARDIZE_OUTPUTS : 0u) : 0u;
        gn_fit_result res;
        cr_assert_eq(gn_net_fit(net, k ? t.rows : t.cols, k ? v.rows : v.cols, &o, &res), GN_OK,
                     "%s", gn_net_last_error(net));
        val_loss[k] = res.best_val_loss;
        params[k] = malloc(gn_net_n_params(net) * sizeof(float));
        memcpy(params[k], gn_net_params(net), gn_net_n_params(net) * sizeof(float));
        size_t np = gn_net_n_params(net);
        gn_net_free(net);
        if (k == 1)
            cr_assert(memcmp(params[0], params[1], np * sizeof(float)) == 0,
                      "shuffle %d standardize %d regression %d: parameters differ", shuffle,
                      standardize, regression);
    }
    cr_assert(val_loss[0] == val_loss[1] && isfinite(val_loss[0]));
    free(params[0]), free(params[1]);
    free_twin(&t), free_twin(&v);
}

Test(layout, fit_on_rows_equals_fit_on_columns)
{
    for (int shuffle = 0; shuffle < 2; shuffle++)
        for (int standardize = 0; standardize < 2; standardize++)
            for (int regression = 0; regression < 2; regression++)
                check_fit(shuffle, standardize, regression);
}

Test(layout, fit_names_the_first_nonfinite_sample_in_rows)
{
    twin t = make_twin(1);
    t.Xr[3 * LDR + 40] = NAN;      /* feature 3 of sample 40 */
    t.Xr[4 * LDR + 12] = INFINITY; /* a later feature, earlier sample: reported first */
    gn_net *net = layout_net(GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, 16);
    gn_fit_options o;
    gn_fit_options_defaults(&o);
    o.epochs = 1;
    cr_assert_eq(gn_net_fit(net, t.rows, NULL, &o, NULL), GN_ERR_NONFINITE);
    cr_assert(strstr(gn_net_last_error(net), "sample 12 "), "%s", gn_net_last_error(net));
    t.Xr[4 * LDR + 12] = 0.0f;
    cr_assert_eq(gn_net_fit(net, t.rows, NULL, &o, NULL), GN_ERR_NONFINITE);
    cr_assert(strstr(gn_net_last_error(net), "sample 40 "), "%s", gn_net_last_error(net));
    t.Xr[3 * LDR + 40] = 0.0f;
    t.Yr[2 * LDR + 76] = NAN;
    cr_assert_eq(gn_net_fit(net, t.rows, NULL, &o, NULL), GN_ERR_NONFINITE);
    cr_assert(strstr(gn_net_last_error(net), "sample 76 has a NaN or infinite target"), "%s",
              gn_net_last_error(net));
    gn_net_free(net);
    free_twin(&t);
}

/* The Jacobian at samples in rows against the same samples in columns (whose values
 * tests/test_jacobian.c checks against finite differences), in both sweep directions, with
 * and without input scaling; the padding of the rows matrix is never read. */
static void check_jacobian(const size_t *sizes, int scaled)
{
    gn_act acts[] = {GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 16, 3);
    size_t n0 = sizes[0], nL = sizes[2], n = N, ld = n + 3;
    if (scaled) {
        float mean[8], std[8];
        for (size_t i = 0; i < n0; i++)
            mean[i] = 0.3f * (float)i, std[i] = 1.5f + (float)i;
        cr_assert_eq(gn_net_set_input_scaling(net, mean, std), GN_OK);
    }
    float *X = random_floats(n0 * n, -1.0f, 1.0f, 31), *Xr = transpose(X, n0, n, ld);
    float *Jc = malloc(nL * n0 * n * sizeof *Jc), *Jr = malloc(nL * n0 * n * sizeof *Jr);
    cr_assert_eq(gn_net_jacobian(net, X, n0, n, Jc, nL), GN_OK);
    cr_assert_eq(gn_net_jacobian_layout(net, GN_SAMPLES_IN_ROWS, Xr, ld, n, Jr, nL), GN_OK, "%s",
                 gn_net_last_error(net));
    for (size_t k = 0; k < nL * n0 * n; k++) /* the first product rounds per transpose flag */
        cr_assert(fabs(Jr[k] - Jc[k]) <= 1e-5 * (1.0 + fabs(Jc[k])), "entry %zu: %g vs %g", k,
                  (double)Jr[k], (double)Jc[k]);
    cr_assert_eq(gn_net_jacobian_layout(net, GN_SAMPLES_IN_ROWS, Xr, n - 1, n, Jr, nL), GN_ERR_DIM);
    cr_assert_eq(gn_net_jacobian_layout(net, (gn_layout)5, Xr, ld, n, Jr, nL), GN_ERR_ARG);
    cr_assert_eq(gn_net_jacobian_layout(net, GN_SAMPLES_IN_ROWS, Xr, ld, n, NULL, nL), GN_ERR_NULL);
    cr_assert_eq(gn_net_jacobian_layout(net, GN_SAMPLES_IN_ROWS, Xr, ld, n, Jr, nL - 1),
                 GN_ERR_DIM);
    free(X), free(Xr), free(Jc), free(Jr);
    gn_net_free(net);
}

Test(layout, jacobian_at_samples_in_rows)
{
    static const size_t forward[] = {2, 9, 4}, reverse[] = {6, 9, 2};
    for (int scaled = 0; scaled < 2; scaled++) {
        check_jacobian(forward, scaled);
        check_jacobian(reverse, scaled);
    }
}
