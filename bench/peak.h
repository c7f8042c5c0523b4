/* The float FMA peak of the machine gemmnet-bench runs on, so that every rate it reports can be
 * read as a fraction of what the cores can physically do (bench/peak.c). */
#ifndef GEMMNET_BENCH_PEAK_H
#define GEMMNET_BENCH_PEAK_H

/** What one peak measurement found. */
typedef struct peak_result {
    const char *isa;   /**< the kernel run: "avx512f", "avx2+fma" or "scalar" */
    int vector_bits;   /**< width of one vector: 512, 256, or 32 for the scalar kernel */
    int chains;        /**< independent accumulators the kernel keeps in registers */
    int threads;       /**< threads of the all-core measurement: the online cores */
    int repeats;       /**< timed runs planned for each measurement; the best one is kept */
    int single_runs;   /**< runs made on one thread: `repeats`, up to twice that when the best
                            one had its core less than 90 % of the time */
    int all_runs;      /**< the same for the all-core measurement */
    double seconds;    /**< length of one timed run */
    double single;     /**< GFLOP/s of one thread, best run */
    double single_min; /**< GFLOP/s of one thread, worst run (spread) */
    double all;        /**< GFLOP/s of all threads together, best run */
    double all_min;    /**< GFLOP/s of all threads together, worst run (spread) */
    double overlap;    /**< best all-core run: the interval every thread was running, as a
                            fraction of the longest thread's interval (1 = fully together) */
    double single_cpu; /**< best one-thread run: share of its time the thread was on a CPU */
    double all_cpu;    /**< best all-core run: the same, for the thread that had the least */
} peak_result;

/**
 * The widest kernel this CPU supports, as chosen at run time: its ISA name and vector width in
 * bits (vector_bits may be NULL). Thread-safe.
 */
const char *peak_isa(int *vector_bits);

/**
 * Measures the single-thread and the all-core peak: `repeats` (≥ 1) runs of about `seconds`
 * each, first on one thread, then on one thread per online core started together. A flop is
 * counted per lane of a multiply and of an add, so an FMA lane counts 2. Takes about
 * 2 × repeats × seconds + 0.1 s, at most twice that when another job takes cores away. Returns 0,
 * or -1 with errno set when a thread could not be started (out->all is 0 then; the single-thread
 * figures are still valid).
 */
int peak_measure(peak_result *out, double seconds, int repeats);

/**
 * The GFLOP/s to compare a run on `threads` threads with: the all-core figure when `threads` is
 * at least the number of cores measured, else `threads` × the single-thread figure. *basis (may
 * be NULL) says which: "all-core" or "threads x single-core".
 */
double peak_for_threads(const peak_result *p, int threads, const char **basis);

#endif
