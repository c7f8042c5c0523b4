/* Losses, the output error Δ^L, and classification accuracy. */
#include "internal.h"

#include <math.h>

/* Logs are clamped so a saturated output gives a large finite loss, not infinity; NaN passes
 * through, so a poisoned batch still shows as a non-finite loss. */
static double safe_log(double x) { return x > 1e-30 || isnan(x) ? log(x) : log(1e-30); }

/* Loss of one sample (column), with the loss chosen outside the element loop. */
static double column_loss(gn_loss loss, float delta, const float *a, const float *y, size_t n)
{
    double s = 0.0;
    switch (loss) {
    case GN_LOSS_QUADRATIC:
        for (size_t i = 0; i < n; i++) {
            double g = (double)a[i] - y[i];
            s += 0.5 * g * g;
        }
        break;
    case GN_LOSS_BCE:
        for (size_t i = 0; i < n; i++)
            s -= y[i] * safe_log(a[i]) + (1.0 - y[i]) * safe_log(1.0 - a[i]);
        break;
    case GN_LOSS_CCE:
        for (size_t i = 0; i < n; i++)
            if (y[i] != 0.0f)
                s -= y[i] * safe_log(a[i]);
        break;
    case GN_LOSS_MAE:
        for (size_t i = 0; i < n; i++)
            s += fabs((double)a[i] - y[i]);
        break;
    case GN_LOSS_HUBER:
        for (size_t i = 0; i < n; i++) {
            double g = fabs((double)a[i] - y[i]);
            s += g <= delta ? 0.5 * g * g : delta * (g - 0.5 * delta);
        }
        break;
    }
    return s;
}

/* ∂c/∂a of the regression losses: a − y, its sign, or a − y clamped to [−δ, δ]. */
static void output_gradient(gn_loss loss, float delta, const float *restrict a,
                            const float *restrict y, float *restrict d, size_t n)
{
    switch (loss) {
    case GN_LOSS_MAE:
        for (size_t i = 0; i < n; i++) {
            float g = a[i] - y[i];
            d[i] = g > 0.0f ? 1.0f : g < 0.0f ? -1.0f : g; /* 0 at 0, NaN stays NaN */
        }
        break;
    case GN_LOSS_HUBER:
        for (size_t i = 0; i < n; i++) {
            float g = a[i] - y[i];
            d[i] = g > delta ? delta : g < -delta ? -delta : g;
        }
        break;
    default: /* quadratic, and BCE on a sigmoid, whose delta simplifies to a − y */
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] - y[i];
        break;
    }
}

double gn__loss_sum(gn_loss loss, float delta, const float *A, const float *Y, size_t ldy, size_t n,
                    size_t m)
{
    double s = 0.0;
    for (size_t j = 0; j < m; j++)
        s += column_loss(loss, delta, A + j * n, Y + j * ldy, n);
    return s;
}

double gn__output_delta(gn_loss loss, float delta, gn_act act, const float *A, const float *Y,
                        size_t ldy, float *D, size_t n, size_t m)
{
    double total = 0.0;
    for (size_t j = 0; j < m; j++) {
        const float *restrict a = A + j * n;
        const float *restrict y = Y + j * ldy;
        float *restrict d = D + j * n;
        total += column_loss(loss, delta, a, y, n);
        if (loss == GN_LOSS_CCE) {
            /* ∂/∂z_i of −Σ_k y_k ln softmax_k(z) is a_i·Σ_k y_k − y_i: a − y for targets that
             * sum to one (one-hot or probabilities), and right for any others too. */
            float ysum = 0.0f;
            for (size_t i = 0; i < n; i++)
                ysum += y[i];
            for (size_t i = 0; i < n; i++)
                d[i] = a[i] * ysum - y[i];
            continue;
        }
        output_gradient(loss, delta, a, y, d, n);
        if (loss != GN_LOSS_BCE && act == GN_ACT_SOFTMAX) {
            /* Softmax Jacobian applied to g = ∇_a c: d_i := a_i (g_i − Σ_k a_k g_k). */
            float dotp = 0.0f;
            for (size_t i = 0; i < n; i++)
                dotp += a[i] * d[i];
            for (size_t i = 0; i < n; i++)
                d[i] = a[i] * (d[i] - dotp);
        }
    }
    return total;
}

size_t gn__class_of(const float *x, size_t n)
{
    if (n == 1)
        return x[0] > 0.5f;
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

size_t gn__count_correct(const float *A, const float *Y, size_t ldy, size_t n, size_t m)
{
    size_t correct = 0;
    for (size_t j = 0; j < m; j++)
        correct += gn__class_of(A + j * n, n) == gn__class_of(Y + j * ldy, n);
    return correct;
}
