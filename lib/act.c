/* Activations: bias + σ fused into one pass forward, σ' from the layer output backward. */
#include "internal.h"

#include <math.h>

static float sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

static void softmax_column(float *a, size_t n)
{
    float mx = a[0];
    for (size_t i = 1; i < n; i++)
        mx = a[i] > mx ? a[i] : mx;
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        a[i] = expf(a[i] - mx); /* max subtracted: no overflow, the largest term is 1 */
        sum += a[i];
    }
    float inv = 1.0f / sum;
    for (size_t i = 0; i < n; i++)
        a[i] *= inv;
}

void gn__act_forward(gn_act act, float slope, float *A, const float *b, size_t n, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        float *restrict a = A + j * n;
        switch (act) {
        case GN_ACT_IDENTITY:
        case GN_ACT_SOFTMAX:
            for (size_t i = 0; i < n; i++)
                a[i] += b[i];
            if (act == GN_ACT_SOFTMAX)
                softmax_column(a, n);
            break;
        case GN_ACT_SIGMOID:
            for (size_t i = 0; i < n; i++)
                a[i] = sigmoid(a[i] + b[i]);
            break;
        case GN_ACT_TANH:
            for (size_t i = 0; i < n; i++)
                a[i] = tanhf(a[i] + b[i]);
            break;
        case GN_ACT_RELU:
            for (size_t i = 0; i < n; i++) {
                float z = a[i] + b[i];
                a[i] = z > 0.0f ? z : 0.0f;
            }
            break;
        case GN_ACT_LEAKY_RELU:
            for (size_t i = 0; i < n; i++) {
                float z = a[i] + b[i];
                a[i] = z > 0.0f ? z : slope * z;
            }
            break;
        }
    }
}

/* σ'(z) from a = σ(z). For the ReLU family a > 0 exactly when z > 0 because slope ≥ 0. */
static inline float deriv(gn_act act, float slope, float a)
{
    switch (act) {
    case GN_ACT_SIGMOID: return a * (1.0f - a);
    case GN_ACT_TANH: return 1.0f - a * a;
    case GN_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    case GN_ACT_LEAKY_RELU: return a > 0.0f ? 1.0f : slope;
    case GN_ACT_IDENTITY:
    case GN_ACT_SOFTMAX: break;
    }
    return 1.0f;
}

void gn__act_backward(gn_act act, float slope, float *D, const float *A, float *db, size_t n,
                      size_t m)
{
    for (size_t i = 0; i < n; i++)
        db[i] = 0.0f;
    for (size_t j = 0; j < m; j++) {
        float *restrict d = D + j * n;
        const float *restrict a = A + j * n;
        if (act != GN_ACT_IDENTITY)
            for (size_t i = 0; i < n; i++)
                d[i] *= deriv(act, slope, a[i]);
        for (size_t i = 0; i < n; i++)
            db[i] += d[i];
    }
    float inv_m = 1.0f / (float)m;
    for (size_t i = 0; i < n; i++)
        db[i] *= inv_m;
}
