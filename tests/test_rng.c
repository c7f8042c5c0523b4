/* The public PRNG: the exact xoshiro256** stream (checked against published vectors and an
 * independent implementation written here), seeding, and the statistics of the derived
 * uniform, bounded and normal draws. Statistical bounds are at least 5 standard errors or
 * p = 0.001, with fixed seeds, so the tests are deterministic and a pass is not luck. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gemmnet.h"

/*---- an independent reference, written from the published algorithm descriptions ----*/

/* splitmix64 (Steele, Lea & Flood; Vigna's splitmix64.c): a Weyl sequence with step
 * 0x9e3779b97f4a7c15 fed through a variant of the MurmurHash3 finaliser. */
static uint64_t ref_splitmix64(uint64_t *state)
{
    *state += UINT64_C(0x9e3779b97f4a7c15);
    uint64_t z = *state;
    z ^= z >> 30;
    z *= UINT64_C(0xbf58476d1ce4e5b9);
    z ^= z >> 27;
    z *= UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return z;
}

static uint64_t ref_rotl(uint64_t x, unsigned k) { return (x << k) | (x >> (64u - k)); }

/* xoshiro256** (Blackman & Vigna 2018): output rotl(s1·5, 7)·9, then the xor-shift-rotate
 * linear engine updates the four words. */
static uint64_t ref_xoshiro(uint64_t s[4])
{
    const uint64_t out = ref_rotl(s[1] * 5u, 7) * 9u;
    const uint64_t shifted = s[1] << 17;
    uint64_t a = s[0], b = s[1], c = s[2], d = s[3];
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= shifted;
    d = ref_rotl(d, 45);
    s[0] = a;
    s[1] = b;
    s[2] = c;
    s[3] = d;
    return out;
}

/* The reference helpers are themselves checked against published values first, so a test
 * comparing them with the library cannot pass by sharing a mistake. */
Test(rng, reference_splitmix64_matches_published_vector)
{
    /* Rosetta Code, "Pseudo-random numbers/Splitmix64": the first five outputs for 1234567. */
    const uint64_t want[5] = {UINT64_C(6457827717110365317), UINT64_C(3203168211198807973),
                              UINT64_C(9817491932198370423), UINT64_C(4593380528125082431),
                              UINT64_C(16408922859458223821)};
    uint64_t x = 1234567;
    for (int i = 0; i < 5; i++)
        cr_assert_eq(ref_splitmix64(&x), want[i], "splitmix64 output %d", i);
}

/* The reference vector of xoshiro256** for the state {1, 2, 3, 4}, as published with several
 * independent implementations. Checked against both the helper and gn_rng_next: gn_rng is a
 * plain struct, so the state can be set by hand and next() is pinned without any seeding. */
Test(rng, next_matches_published_vector_for_state_1234)
{
    const uint64_t want[10] = {
        UINT64_C(11520),
        UINT64_C(0),
        UINT64_C(1509978240),
        UINT64_C(1215971899390074240),
        UINT64_C(1216172134540287360),
        UINT64_C(607988272756665600),
        UINT64_C(16172922978634559625),
        UINT64_C(8476171486693032832),
        UINT64_C(10595114339597558777),
        UINT64_C(2904607092377533576),
    };
    uint64_t ref[4] = {1, 2, 3, 4};
    gn_rng rng = {{1, 2, 3, 4}};
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(ref_xoshiro(ref), want[i], "reference helper, output %d", i);
        cr_assert_eq(gn_rng_next(&rng), want[i], "gn_rng_next, output %d", i);
    }
}

/* gn_rng_seed is documented as a splitmix64 expansion: the four state words are the first
 * four splitmix64 outputs of the seed, and the stream is xoshiro256** from there. */
Test(rng, seed_12345_matches_independent_implementation)
{
    uint64_t x = 12345, ref[4];
    for (int i = 0; i < 4; i++)
        ref[i] = ref_splitmix64(&x);
    gn_rng rng;
    gn_rng_seed(&rng, 12345);
    for (int i = 0; i < 10; i++) {
        uint64_t want = ref_xoshiro(ref);
        cr_assert_eq(gn_rng_next(&rng), want, "output %d for seed 12345", i);
    }
}

Test(rng, same_seed_gives_same_stream)
{
    gn_rng a, b;
    gn_rng_seed(&a, 987654321);
    gn_rng_seed(&b, 987654321);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(gn_rng_next(&a), gn_rng_next(&b), "draw %d", i);
}

/* Nearby seeds (0, 1, 2, …) are what users pass; they must give unrelated streams. A 64-bit
 * collision among 260 first draws would have probability about 2^-48 if they were random. */
Test(rng, different_seeds_give_different_streams)
{
    enum { N = 260 };
    uint64_t first[N], seeds[N];
    for (int i = 0; i < 256; i++)
        seeds[i] = (uint64_t)i;
    seeds[256] = UINT64_MAX;
    seeds[257] = UINT64_C(1) << 63;
    seeds[258] = UINT64_C(0x9e3779b97f4a7c15);
    seeds[259] = UINT64_C(12345);
    for (int i = 0; i < N; i++) {
        gn_rng r;
        gn_rng_seed(&r, seeds[i]);
        first[i] = gn_rng_next(&r);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            cr_assert_neq(first[i], first[j], "seeds %llu and %llu", (unsigned long long)seeds[i],
                          (unsigned long long)seeds[j]);
}

/* xoshiro's all-zero state is a fixed point; seed 0 must not land there. */
Test(rng, seed_zero_gives_a_live_stream)
{
    gn_rng rng;
    gn_rng_seed(&rng, 0);
    cr_assert(rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3], "state after seed 0 is all zero");
    uint64_t prev = gn_rng_next(&rng);
    int changes = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t v = gn_rng_next(&rng);
        changes += v != prev;
        prev = v;
    }
    cr_assert_eq(changes, 100, "consecutive outputs repeat");
}

/* The header promises a plain struct that can be copied to save and restore a stream. */
Test(rng, copying_the_struct_replays_the_stream)
{
    gn_rng rng;
    gn_rng_seed(&rng, 42);
    for (int i = 0; i < 37; i++) /* somewhere in the middle of the stream */
        gn_rng_next(&rng);
    gn_rng saved = rng;
    uint64_t first[100];
    for (int i = 0; i < 100; i++)
        first[i] = gn_rng_next(&rng);
    cr_assert_neq(memcmp(&saved, &rng, sizeof rng), 0, "drawing did not advance the state");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(gn_rng_next(&saved), first[i], "replayed draw %d", i);
}

/* NULL is documented as a no-op: it must neither crash nor touch any other generator. */
Test(rng, seed_null_is_a_noop)
{
    gn_rng a, b;
    gn_rng_seed(&a, 7);
    b = a;
    gn_rng_seed(NULL, 7);
    gn_rng_seed(NULL, 0);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    cr_assert_eq(gn_rng_next(&a), gn_rng_next(&b));
}

/*---- derived distributions ----*/

enum { N_DRAWS = 1000000 };

/* U[0,1): mean 1/2 and variance 1/12. The standard error of the mean is √(1/12 / n); that of
 * the sample variance is √((μ4 − σ⁴) / n) with μ4 = 1/80, σ⁴ = 1/144, i.e. √(1/(180 n)). */
Test(rng, uniform_range_mean_and_variance)
{
    gn_rng rng;
    gn_rng_seed(&rng, 2024);
    double sum = 0.0, sum2 = 0.0, lo = 1.0, hi = 0.0;
    for (int i = 0; i < N_DRAWS; i++) {
        double u = gn_rng_uniform(&rng);
        cr_assert(u >= 0.0 && u < 1.0, "draw %d = %.17g outside [0, 1)", i, u);
        sum += u;
        sum2 += u * u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    const double n = N_DRAWS, mean = sum / n, var = sum2 / n - mean * mean;
    const double se_mean = sqrt(1.0 / 12.0 / n), se_var = sqrt(1.0 / (180.0 * n));
    cr_assert_lt(fabs(mean - 0.5), 5 * se_mean, "mean %.6f", mean);
    cr_assert_lt(fabs(var - 1.0 / 12.0), 5 * se_var, "variance %.6f", var);
    /* the extremes of 10^6 uniforms lie within about 10/n of the ends */
    cr_assert_lt(lo, 1e-5, "minimum %.3g", lo);
    cr_assert_gt(hi, 1.0 - 1e-5, "maximum %.9f", hi);
}

/* "53 random bits": every draw is k / 2^53 for an integer k, and the low bit of k varies
 * (a 32-bit or float-based construction would leave it always 0). */
Test(rng, uniform_has_53_bit_resolution)
{
    gn_rng rng;
    gn_rng_seed(&rng, 99);
    int odd = 0;
    for (int i = 0; i < 1000; i++) {
        double k = gn_rng_uniform(&rng) * 0x1.0p53;
        cr_assert_eq(k, floor(k), "draw %d is not a multiple of 2^-53", i);
        odd += fmod(k, 2.0) == 1.0;
    }
    cr_assert(odd > 400 && odd < 600, "%d of 1000 draws use the lowest bit", odd);
}

Test(rng, below_degenerate_bounds_give_zero)
{
    gn_rng rng;
    gn_rng_seed(&rng, 5);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(gn_rng_below(&rng, 1), 0);
    /* outside the documented range (bound ≥ 1), but must not divide by zero or loop */
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(gn_rng_below(&rng, 0), 0);
}

Test(rng, below_stays_below_bound)
{
    const uint64_t bounds[] = {
        2,
        3,
        7,
        10,
        1000,
        UINT64_C(4294967295),
        UINT64_C(4294967297),
        UINT64_C(1) << 63,
        (UINT64_C(1) << 63) + 1,
        UINT64_MAX - 1,
        UINT64_MAX,
    };
    gn_rng rng;
    gn_rng_seed(&rng, 11);
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++)
        for (int i = 0; i < 20000; i++) {
            uint64_t v = gn_rng_below(&rng, bounds[b]);
            cr_assert_lt(v, bounds[b], "bound %llu gave %llu", (unsigned long long)bounds[b],
                         (unsigned long long)v);
        }
}

/* Pearson's χ² over 10 equally likely values: 9 degrees of freedom, the p = 0.001 critical
 * value is 27.877. */
Test(rng, below_is_uniform_chi_square)
{
    enum { K = 10, N = 200000 };
    long count[K] = {0};
    gn_rng rng;
    gn_rng_seed(&rng, 31337);
    for (int i = 0; i < N; i++)
        count[gn_rng_below(&rng, K)]++;
    const double expect = (double)N / K;
    double chi2 = 0.0;
    for (int k = 0; k < K; k++) {
        const double d = (double)count[k] - expect;
        chi2 += d * d / expect;
    }
    cr_assert_lt(chi2, 27.877, "chi-square %.2f over %d buckets", chi2, K);
}

/* 3·2^62 is the bound where plain "next() % bound" is most visibly biased: values below 2^62
 * would come up with probability 1/2 instead of 1/3. Three buckets [0, 2^62), [2^62, 2^63),
 * [2^63, 3·2^62) must be equally likely: χ² with 2 degrees of freedom, p = 0.001 critical
 * value 13.816. */
Test(rng, below_large_non_power_of_two_bound_is_unbiased)
{
    enum { N = 60000 };
    const uint64_t quarter = UINT64_C(1) << 62, bound = 3 * quarter;
    long count[3] = {0};
    gn_rng rng;
    gn_rng_seed(&rng, 8);
    for (int i = 0; i < N; i++) {
        uint64_t v = gn_rng_below(&rng, bound);
        cr_assert_lt(v, bound, "draw %d = %llu", i, (unsigned long long)v);
        count[v / quarter]++;
    }
    const double expect = N / 3.0;
    double chi2 = 0.0;
    for (int k = 0; k < 3; k++) {
        const double d = (double)count[k] - expect;
        chi2 += d * d / expect;
    }
    cr_assert_lt(chi2, 13.816, "chi-square %.2f, counts %ld %ld %ld", chi2, count[0], count[1],
                 count[2]);
}

/* N(0, 1): the mean has standard error 1/√n, the sample variance √(2/n) (μ4 = 3). Beyond the
 * first two moments, P(|z| < 1) = erf(1/√2) and P(z < 0) = 1/2 catch a wrong shape, with
 * binomial standard errors √(p(1−p)/n). */
Test(rng, normal_moments_and_shape)
{
    gn_rng rng;
    gn_rng_seed(&rng, 4242);
    double sum = 0.0, sum2 = 0.0;
    long inside = 0, negative = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        double z = gn_rng_normal(&rng);
        cr_assert(isfinite(z), "draw %d is %g", i, z);
        sum += z;
        sum2 += z * z;
        inside += fabs(z) < 1.0;
        negative += z < 0.0;
    }
    const double n = N_DRAWS, mean = sum / n, var = sum2 / n - mean * mean;
    cr_assert_lt(fabs(mean), 5 / sqrt(n), "mean %.6f", mean);
    cr_assert_lt(fabs(var - 1.0), 5 * sqrt(2.0 / n), "variance %.6f", var);
    const double p1 = erf(1.0 / sqrt(2.0)), f1 = (double)inside / n;
    const double fneg = (double)negative / n;
    cr_assert_lt(fabs(f1 - p1), 5 * sqrt(p1 * (1 - p1) / n), "P(|z| < 1) = %.6f", f1);
    cr_assert_lt(fabs(fneg - 0.5), 5 * sqrt(0.25 / n), "P(z < 0) = %.6f", fneg);
}
