/* Losses, the output error Δ^L, and classification accuracy. */
#include "internal.h"

#include <math.h>

/* Logs are clamped so a saturated output gives a large finite loss, not infinity. */
static double safe_log(double x) { return log(x > 1e-30 ? x : 1e-30); }

static double sample_loss(gn_loss loss, const float *a, const float *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double ai = a[i], yi = y[i];
        switch (loss) {
        case GN_LOSS_QUADRATIC: s += 0.5 * (ai - yi) * (ai - yi); break;
        case GN_LOSS_BCE: s -= yi * safe_log(ai) + (1.0 - yi) * safe_log(1.0 - ai); break;
        case GN_LOSS_CCE: s -= yi != 0.0 ? yi * safe_log(ai) : 0.0; break;
        }
    }
    return s;
}

double gn__loss_sum(gn_loss loss, const float *A, const float *Y, size_t ldy, size_t n, size_t m)
{
    double s = 0.0;
    for (size_t j = 0; j < m; j++)
        s += sample_loss(loss, A + j * n, Y + j * ldy, n);
    return s;
}

double gn__output_delta(gn_loss loss, gn_act act, const float *A, const float *Y, size_t ldy,
                        float *D, size_t n, size_t m)
{
    double total = 0.0;
    for (size_t j = 0; j < m; j++) {
        const float *a = A + j * n;
        const float *y = Y + j * ldy;
        float *d = D + j * n;
        total += sample_loss(loss, a, y, n);
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] - y[i]; /* ∇_a of ½‖a−y‖², and the simplified CE deltas */
        if (loss == GN_LOSS_QUADRATIC && act == GN_ACT_SOFTMAX) {
            /* Softmax Jacobian applied to g = a − y: d_i := a_i (g_i − Σ_k a_k g_k). */
            float dotp = 0.0f;
            for (size_t i = 0; i < n; i++)
                dotp += a[i] * d[i];
            for (size_t i = 0; i < n; i++)
                d[i] = a[i] * (d[i] - dotp);
        }
    }
    return total;
}

static size_t argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

size_t gn__count_correct(const float *A, const float *Y, size_t ldy, size_t n, size_t m)
{
    size_t correct = 0;
    for (size_t j = 0; j < m; j++) {
        const float *a = A + j * n, *y = Y + j * ldy;
        if (n == 1)
            correct += (a[0] > 0.5f) == (y[0] > 0.5f);
        else
            correct += argmax(a, n) == argmax(y, n);
    }
    return correct;
}
