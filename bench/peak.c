/* Float FMA peak: each thread runs many independent chains x := x·a + b in vector registers,
 * enough of them to cover the FMA latency times the number of FMA pipes (4 cycles × 2 pipes on
 * current x86 cores, so ≥ 8 vectors; we keep 16 zmm or 12 ymm), so the loop is bound by FMA
 * throughput alone. The kernel is chosen at run time from the widest ISA the CPU has (target
 * attributes, no -march needed). a < 1 keeps every chain near b / (1 − a): no overflow, no
 * subnormals. a, b and the trip count come from volatile or measured values, and the chains'
 * sum is stored to a volatile, so the compiler can neither fold nor drop the work. */
#define _POSIX_C_SOURCE 200809L
#include "peak.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PEAK_X86 1
#include <immintrin.h>
#endif

static volatile float mult = 0.9999999f, addend = 1e-7f;
static volatile float sink;

typedef float (*kernel_fn)(long iters, float a, float b, float start);

typedef struct kernel {
    const char *isa;
    int bits, lanes, chains;
    kernel_fn fn;
} kernel;

#define REP12(S) S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) S(9) S(10) S(11)
#define REP16(S) REP12(S) S(12) S(13) S(14) S(15)

#ifdef PEAK_X86
#define DECL512(j) __m512 x##j = _mm512_set1_ps(start + 0x1p-10f * (float)(j));
#define STEP512(j) x##j = _mm512_fmadd_ps(x##j, va, vb);
#define SUM512(j)  s = _mm512_add_ps(s, x##j);

__attribute__((target("avx512f"))) static float fma_avx512(long iters, float a, float b,
                                                           float start)
{
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    REP16(DECL512)
    for (long i = 0; i < iters; i++) {
        REP16(STEP512)
    }
    __m512 s = _mm512_setzero_ps();
    REP16(SUM512)
    return _mm512_reduce_add_ps(s);
}

#define DECL256(j) __m256 x##j = _mm256_set1_ps(start + 0x1p-10f * (float)(j));
#define STEP256(j) x##j = _mm256_fmadd_ps(x##j, va, vb);
#define SUM256(j)  s = _mm256_add_ps(s, x##j);

/* 12 accumulators + a + b fit the 16 ymm registers without spilling. */
__attribute__((target("avx2,fma"))) static float fma_avx2(long iters, float a, float b, float start)
{
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    REP12(DECL256)
    for (long i = 0; i < iters; i++) {
        REP12(STEP256)
    }
    __m256 s = _mm256_setzero_ps();
    REP12(SUM256)
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

/* Any CPU: a multiply and an add per chain (C11 does not contract them into an FMA). */
#define DECL1(j) float x##j = start + 0x1p-10f * (float)(j);
#define STEP1(j) x##j = x##j * a + b;
#define SUM1(j)  s += x##j;

static float mul_add_scalar(long iters, float a, float b, float start)
{
    REP12(DECL1)
    for (long i = 0; i < iters; i++) {
        REP12(STEP1)
    }
    float s = 0;
    REP12(SUM1)
    return s;
}

static const kernel kernels[] = {
#ifdef PEAK_X86
    {"avx512f", 512, 16, 16, fma_avx512},
    {"avx2+fma", 256, 8, 12, fma_avx2},
#endif
    {"scalar", 32, 1, 12, mul_add_scalar},
};

static const kernel *choose(void)
{
#ifdef PEAK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return &kernels[0];
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &kernels[1];
    return &kernels[2];
#else
    return &kernels[0];
#endif
}

const char *peak_isa(int *vector_bits)
{
    const kernel *k = choose();
    if (vector_bits)
        *vector_bits = k->bits;
    return k->isa;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: against the wall clock it tells whether another job took the
 * core away during a run. */
static double thread_cpu(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return -1;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One timed run: chunks of `chunk` iterations until `seconds` have passed (the clock is read
 * about once a millisecond, which costs nothing next to the chunk). */
typedef struct run {
    const kernel *k;
    long chunk;
    double seconds;
    double t0, t1, flops; /* out */
    double cpu;           /* out: share of t1 − t0 the thread was on a CPU; 1 if unknown */
} run;

static void timed_run(run *r)
{
    const float a = mult, b = addend;
    float s = 0;
    long n = 0;
    double c0 = thread_cpu(), t0 = now(), t;
    do {
        s += r->k->fn(r->chunk, a, b, 1.0f + 0x1p-6f * (float)(n & 7));
        n++;
        t = now();
    } while (t - t0 < r->seconds);
    double c1 = thread_cpu();
    sink = s;
    r->cpu = c0 >= 0 && c1 >= 0 ? (c1 - c0) / (t - t0) : 1;
    r->t0 = t0;
    r->t1 = t;
    r->flops = 2.0 * (double)n * (double)r->chunk * r->k->lanes * r->k->chains;
}

/* The start barrier of the all-core run, a condition variable rather than a pthread_barrier so
 * that the threads already started can be released when starting another one fails. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready, go, abort;
} gate;

typedef struct worker {
    gate *g;
    run r;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    gate *g = w->g;
    pthread_mutex_lock(&g->lock);
    g->ready++;
    pthread_cond_broadcast(&g->cond);
    while (!g->go)
        pthread_cond_wait(&g->cond, &g->lock);
    int stop = g->abort;
    pthread_mutex_unlock(&g->lock);
    if (!stop)
        timed_run(&w->r);
    return NULL;
}

/* One all-core run: the sum of the per-thread rates, each thread timing its own loop; *overlap
 * gets the common interval over the longest thread's interval, *cpu the lowest thread's CPU
 * share. -1 if a thread failed to start. */
static int all_core_run(const run *proto, int n, double *gflops, double *overlap, double *cpu)
{
    worker *w = calloc((size_t)n, sizeof *w);
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    if (!w || !tid) {
        free(w);
        free(tid);
        errno = ENOMEM;
        return -1;
    }
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    int started = 0, err = 0;
    for (; started < n; started++) {
        w[started].g = &g;
        w[started].r = *proto;
        err = pthread_create(&tid[started], NULL, worker_main, &w[started]);
        if (err)
            break;
    }
    pthread_mutex_lock(&g.lock);
    while (g.ready < started)
        pthread_cond_wait(&g.cond, &g.lock);
    g.abort = started < n;
    g.go = 1;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    if (started == n) {
        double sum = 0, start = w[0].r.t0, end = w[0].r.t1, longest = 0, share = 1;
        for (int i = 0; i < n; i++) {
            const run *r = &w[i].r;
            sum += r->flops / (r->t1 - r->t0);
            start = r->t0 > start ? r->t0 : start;
            end = r->t1 < end ? r->t1 : end;
            longest = r->t1 - r->t0 > longest ? r->t1 - r->t0 : longest;
            share = r->cpu < share ? r->cpu : share;
        }
        *cpu = share;
        *gflops = sum / 1e9;
        *overlap = end > start ? (end - start) / longest : 0;
    }
    pthread_cond_destroy(&g.cond);
    pthread_mutex_destroy(&g.lock);
    free(w);
    free(tid);
    if (started < n) {
        errno = err;
        return -1;
    }
    return 0;
}

int peak_measure(peak_result *out, double seconds, int repeats)
{
    const kernel *k = choose();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (repeats < 1)
        repeats = 1;
    *out = (peak_result){.isa = k->isa,
                         .vector_bits = k->bits,
                         .chains = k->chains,
                         .threads = (int)cores,
                         .repeats = repeats,
                         .seconds = seconds};

    /* Chunks of about a millisecond, from a short calibration that also brings the core out
     * of any low-frequency state; then a warm-up run of 0.1 s, not counted. */
    long chunk = 1024;
    double t;
    for (;;) {
        double t0 = now();
        sink = k->fn(chunk, mult, addend, 1.0f);
        t = now() - t0;
        if (t > 2e-3 || chunk > (1L << 40))
            break;
        chunk *= 2;
    }
    chunk = (long)((double)chunk * 1e-3 / t);
    if (chunk < 64)
        chunk = 64;
    run r = {k, chunk, 0.1, 0, 0, 0, 1};
    timed_run(&r);

    /* When the best run so far lost its core to another job for more than a tenth of the
     * time, up to `repeats` more runs are made: the time stays bounded by twice the plan. */
    r.seconds = seconds;
    for (int i = 0; i < repeats || (i < 2 * repeats && out->single_cpu < 0.9); i++) {
        timed_run(&r);
        double g = r.flops / (r.t1 - r.t0) / 1e9;
        if (g > out->single) {
            out->single = g;
            out->single_cpu = r.cpu;
        }
        out->single_min = i == 0 || g < out->single_min ? g : out->single_min;
        out->single_runs = i + 1;
    }
    for (int i = 0; i < repeats || (i < 2 * repeats && out->all_cpu < 0.9); i++) {
        double g = 0, overlap = 0, cpu = 1;
        if (all_core_run(&r, (int)cores, &g, &overlap, &cpu) != 0) {
            out->all = out->all_min = out->overlap = out->all_cpu = 0;
            return -1;
        }
        if (g > out->all) {
            out->all = g;
            out->overlap = overlap;
            out->all_cpu = cpu;
        }
        out->all_min = i == 0 || g < out->all_min ? g : out->all_min;
        out->all_runs = i + 1;
    }
    return 0;
}

double peak_for_threads(const peak_result *p, int threads, const char **basis)
{
    if (threads >= p->threads || threads < 1) {
        if (basis)
            *basis = "all-core";
        return p->all;
    }
    if (basis)
        *basis = "threads x single-core";
    return threads * p->single;
}
