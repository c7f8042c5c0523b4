/* Activations: bias + σ fused into one pass forward, σ' from the layer output backward. */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^x in float, written so it vectorises (libm's expf is a call per element, which made the
 * sigmoid the largest element-wise cost of narrow nets). x = n·ln2 + r with |r| ≤ ln2/2, e^r
 * by a degree-6 polynomial (Cephes coefficients), 2^n put into the exponent bits. Relative
 * error ≤ 2e-7 over the range; x is clamped to [−87.3, 87.3], so the result is never 0 or
 * infinite (both ends are far beyond where a sigmoid or softmax can tell the difference);
 * NaN stays NaN. */
static inline float exp_approx(float x)
{
    x = x < -87.3f ? -87.3f : x;           /* comparisons are false for NaN: it passes through */
    x = x > 87.3f ? 87.3f : x;             /* symmetric: sigmoid(−88) stays a normal float */
    const float round_magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + round_magic) - round_magic;
    float r = x - n * 0.693359375f - n * -2.12194440e-4f; /* ln 2 in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e_r = p * r * r + r + 1.0f;
    float n_int = n == n ? n : 0.0f; /* converting NaN to int is undefined; e_r carries it */
    int32_t bits = ((int32_t)n_int + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e_r * scale;
}

static float sigmoid(float z) { return 1.0f / (1.0f + exp_approx(-z)); }

/* expm1f keeps the relative accuracy of e^z − 1 near 0, where the gradient check looks. */
static float elu(float z) { return z > 0.0f ? z : expm1f(z); }

/* ln(1 + e^z) without overflow for large z or loss of the tiny result for very negative z. */
static float softplus(float z) { return fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z))); }

static void softmax_column(float *a, size_t n)
{
    float mx = a[0];
    for (size_t i = 1; i < n; i++)
        mx = a[i] > mx ? a[i] : mx;
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        a[i] = exp_approx(a[i] - mx); /* max subtracted: the largest term is 1 */
        sum += a[i];
    }
    float inv = 1.0f / sum;
    for (size_t i = 0; i < n; i++)
        a[i] *= inv;
}

/* One loop per activation, with the activation chosen outside it, so each loop is a plain
 * element-wise sweep the compiler can vectorise. Each also sums the squares of what it
 * writes: a NaN or infinity anywhere makes the sum non-finite, and its size bounds every
 * product formed from the matrix later (Cauchy–Schwarz), at no extra pass. */
#define FOR_EACH_COLUMN(body)                                                                      \
    for (size_t j = 0; j < m; j++) {                                                               \
        float *restrict a = A + j * n;                                                             \
        float ss = 0.0f;                                                                           \
        _Pragma("omp simd reduction(+ : ss)") for (size_t i = 0; i < n; i++)                       \
        {                                                                                          \
            float z = a[i] + b[i];                                                                 \
            float v = (body);                                                                      \
            a[i] = v;                                                                              \
            ss += v * v;                                                                           \
        }                                                                                          \
        total += ss;                                                                               \
    }

double gn__act_forward(gn_act act, float slope, float *A, const float *restrict b, size_t n,
                       size_t m)
{
    const float rest = 1.0f - slope; /* (float)(z > 0) selects without a branch */
    double total = 0.0;
    switch (act) {
    case GN_ACT_IDENTITY: FOR_EACH_COLUMN(z); break;
    case GN_ACT_SIGMOID: FOR_EACH_COLUMN(sigmoid(z)); break;
    case GN_ACT_TANH: FOR_EACH_COLUMN(tanhf(z)); break;
    case GN_ACT_RELU: FOR_EACH_COLUMN(z < 0.0f ? 0.0f : z); break; /* NaN stays NaN */
    case GN_ACT_LEAKY_RELU: FOR_EACH_COLUMN(z * (slope + rest * (float)(z > 0.0f))); break;
    case GN_ACT_ELU: FOR_EACH_COLUMN(elu(z)); break;
    case GN_ACT_SOFTPLUS: FOR_EACH_COLUMN(softplus(z)); break;
    case GN_ACT_SOFTMAX:
        for (size_t j = 0; j < m; j++) {
            float *a = A + j * n;
            for (size_t i = 0; i < n; i++)
                a[i] += b[i];
            softmax_column(a, n);
            for (size_t i = 0; i < n; i++)
                total += (double)a[i] * a[i];
        }
        break;
    }
    return total;
}
#undef FOR_EACH_COLUMN

/* D := D ⊙ σ'(Z) with σ' written in terms of the output a = σ(z), and db += D and Σ D² in the
 * same sweep. For the ReLU family a > 0 exactly when z > 0 because slope ≥ 0; for ELU
 * σ'(z) = e^z = a + 1 when z ≤ 0; for softplus σ'(z) = sigmoid(z) = 1 − e^−a. ascale
 * multiplies A first: 1 − p recovers σ(z) from a dropped-out output a·1/(1 − p). */
#define FOR_EACH_COLUMN(deriv)                                                                     \
    for (size_t j = 0; j < m; j++) {                                                               \
        float *restrict d = D + j * n;                                                             \
        const float *restrict a = A + j * n;                                                       \
        float ss = 0.0f;                                                                           \
        _Pragma("omp simd reduction(+ : ss)") for (size_t i = 0; i < n; i++)                       \
        {                                                                                          \
            float ai = a[i] * ascale;                                                              \
            (void)ai;                                                                              \
            float v = d[i] * (deriv);                                                              \
            d[i] = v;                                                                              \
            db[i] += v;                                                                            \
            ss += v * v;                                                                           \
        }                                                                                          \
        total += ss;                                                                               \
    }

double gn__act_backward(gn_act act, float slope, float *D, const float *A, float ascale,
                        float *restrict db, size_t n, size_t m)
{
    const float rest = 1.0f - slope;
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        db[i] = 0.0f;
    switch (act) {
    case GN_ACT_IDENTITY:
    case GN_ACT_SOFTMAX: FOR_EACH_COLUMN(1.0f); break;
    case GN_ACT_SIGMOID: FOR_EACH_COLUMN(ai * (1.0f - ai)); break;
    case GN_ACT_TANH: FOR_EACH_COLUMN(1.0f - ai * ai); break;
    case GN_ACT_RELU: FOR_EACH_COLUMN((float)(ai > 0.0f)); break;
    case GN_ACT_LEAKY_RELU: FOR_EACH_COLUMN(slope + rest * (float)(ai > 0.0f)); break;
    case GN_ACT_ELU: FOR_EACH_COLUMN(ai > 0.0f ? 1.0f : ai + 1.0f); break;
    case GN_ACT_SOFTPLUS: FOR_EACH_COLUMN(-expm1f(-ai)); break;
    }
    float inv_m = 1.0f / (float)m;
    for (size_t i = 0; i < n; i++)
        db[i] *= inv_m;
    return total;
}
#undef FOR_EACH_COLUMN

/* The same σ' as gn__act_backward (ascale 1), without db or the sum of squares: both tangents
 * and reverse-mode vectors are multiplied by it. D and A are contiguous (ld = n), so one flat
 * sweep covers them. */
#define FOR_EACH_ELEMENT(deriv)                                                                    \
    _Pragma("omp simd") for (size_t i = 0; i < total; i++)                                         \
    {                                                                                              \
        float ai = A[i];                                                                           \
        (void)ai;                                                                                  \
        D[i] *= (deriv);                                                                           \
    }

void gn__act_deriv(gn_act act, float slope, float *restrict D, const float *restrict A, size_t n,
                   size_t m)
{
    const float rest = 1.0f - slope;
    size_t total = n * m;
    switch (act) {
    case GN_ACT_IDENTITY: break;
    case GN_ACT_SIGMOID: FOR_EACH_ELEMENT(ai * (1.0f - ai)); break;
    case GN_ACT_TANH: FOR_EACH_ELEMENT(1.0f - ai * ai); break;
    case GN_ACT_RELU: FOR_EACH_ELEMENT((float)(ai > 0.0f)); break;
    case GN_ACT_LEAKY_RELU: FOR_EACH_ELEMENT(slope + rest * (float)(ai > 0.0f)); break;
    case GN_ACT_ELU: FOR_EACH_ELEMENT(ai > 0.0f ? 1.0f : ai + 1.0f); break;
    case GN_ACT_SOFTPLUS: FOR_EACH_ELEMENT(-expm1f(-ai)); break;
    case GN_ACT_SOFTMAX:
        /* J = diag(a) − a·aᵀ is symmetric: J·d = a ⊙ (d − aᵀd) serves both directions */
        for (size_t j = 0; j < m; j++) {
            float *d = D + j * n;
            const float *a = A + j * n;
            float dotp = 0.0f;
            for (size_t i = 0; i < n; i++)
                dotp += a[i] * d[i];
            for (size_t i = 0; i < n; i++)
                d[i] = a[i] * (d[i] - dotp);
        }
        break;
    }
}
#undef FOR_EACH_ELEMENT

double gn__dropout_forward(gn_rng *rng, float p, float *A, float *M, size_t n, size_t m)
{
    /* keep when a 32-bit uniform integer is ≥ p·2^32: each half of a 64-bit draw is one */
    uint32_t threshold = (uint32_t)fmin((double)p * 4294967296.0, 4294967295.0);
    float keep = 1.0f / (1.0f - p);
    size_t total = n * m, i = 0;
    for (; i + 1 < total; i += 2) {
        uint64_t r = gn_rng_next(rng);
        M[i] = (uint32_t)r >= threshold ? keep : 0.0f;
        M[i + 1] = (uint32_t)(r >> 32) >= threshold ? keep : 0.0f;
    }
    if (i < total)
        M[i] = (uint32_t)gn_rng_next(rng) >= threshold ? keep : 0.0f;
    float ss = 0.0f;
    double sum = 0.0;
    for (size_t j = 0; j < m; j++) {
        float *restrict a = A + j * n;
        const float *restrict mk = M + j * n;
        ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (size_t k = 0; k < n; k++) {
            a[k] *= mk[k];
            ss += a[k] * a[k];
        }
        sum += ss;
    }
    return sum;
}

void gn__dropout_backward(float *restrict D, const float *restrict M, size_t n, size_t m)
{
    size_t total = n * m;
#pragma omp simd
    for (size_t i = 0; i < total; i++)
        D[i] *= M[i];
}
