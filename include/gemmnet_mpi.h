/* gemmnet_mpi — data-parallel training of gemmnet networks over MPI.
 *
 * A small add-on library (libgemmnet_mpi, pkg-config gemmnet-mpi) that implements the core
 * library's gradient-reduction hook (gn_reducer in gemmnet.h) with MPI collectives on a
 * communicator the caller supplies. Every rank holds a copy of the network; gn_mpi_attach
 * makes the copies equal (rank 0's parameters, scaling and RNG) and sets the reducer, after
 * which gn_net_fit, gn_net_train, gn_net_train_step and gn_optimizer_step train
 * data-parallel: each rank back-propagates its share of every global mini-batch and the
 * gradients are summed across ranks before each update (see the data-parallel section of
 * gemmnet.h for the exact semantics: sharding, dropout, checkpoints from rank 0 only).
 *
 *     MPI_Init(&argc, &argv);
 *     gn_mpi *mpi;  gn_net *net;  ...create net the same way on every rank...
 *     gn_mpi_create(&mpi, MPI_COMM_WORLD, GN_MPI_ORDERED, err, sizeof err);
 *     gn_mpi_attach(mpi, net, err, sizeof err);
 *     gn_net_fit(net, train, val, &opt, &res);   // every rank, same data and options
 *     gn_net_set_reducer(net, NULL);  gn_mpi_free(mpi);  gn_net_free(net);
 *     MPI_Finalize();
 *
 * Errors: the functions return gn_status and never abort. An MPI call that fails is reported
 * as GN_ERR_IO with MPI's message (the library's communicator is set to MPI_ERRORS_RETURN);
 * after such a failure the ranks may no longer be matched in their collective calls, so the
 * caller should treat it as fatal (e.g. MPI_Abort). In a training step the failure reaches the
 * caller as the step's GN_ERR_IO, gn_net_last_error naming the hook (MPI's text is not kept
 * there). Buffers longer than 2^28 floats go through the collectives in chunks, since MPI
 * counts are int; the results are the same as in one piece. Thread safety: the functions marked
 * collective must be called by every rank of the communicator, in the same order; one gn_mpi
 * must not be used by two threads at once. MPI must be initialised (any thread level).
 */
#ifndef GEMMNET_MPI_H
#define GEMMNET_MPI_H

#include <mpi.h>
#include <stddef.h>

#include "gemmnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How the gradients are summed across ranks. */
typedef enum gn_mpi_reduction {
    /** Default. The library's own rank-ordered sum: the buffer is cut into one part per rank;
     *  each rank receives every rank's copy of its part (MPI_Alltoallv), adds them in rank
     *  order 0, 1, …, P−1, and the sums are gathered back to every rank (MPI_Allgatherv). The
     *  order of every addition is fixed, so the result is the same bits on every rank, in
     *  every run, whatever the placement of the ranks or the MPI library's algorithms. Same
     *  traffic as a ring all-reduce: 2·(P−1)/P of the buffer per rank. */
    GN_MPI_ORDERED = 0,
    /** One MPI_Allreduce (MPI_SUM) of the whole buffer after back-propagation: the MPI
     *  library's algorithm and order of summation (identical on every rank for P = 2; for
     *  P > 2 the MPI standard does not promise it). */
    GN_MPI_ALLREDUCE = 1,
    /** One MPI_Iallreduce per layer, started as soon as back-propagation has made that layer's
     *  gradient final, progressed with MPI_Testall while the layers below are computed, and
     *  completed before the update: communication overlaps the remaining backward products.
     *  Summation order as GN_MPI_ALLREDUCE. */
    GN_MPI_OVERLAP = 2,
} gn_mpi_reduction;
#define GN_MPI_REDUCTION_COUNT 3

/** An opaque context: a duplicate of the caller's communicator, and buffers for one
 *  network's reductions. */
typedef struct gn_mpi gn_mpi;

/** The name of a reduction ("ordered", "allreduce", "overlap"), or "unknown". Thread-safe. */
GN_API const char *gn_mpi_reduction_name(gn_mpi_reduction how);

/** Parses a reduction name as printed by gn_mpi_reduction_name (in any case) into *out.
 *  Returns GN_ERR_NULL, GN_ERR_ARG (not a reduction name). Thread-safe. */
GN_API gn_status gn_mpi_reduction_parse(const char *name, gn_mpi_reduction *out);

/** Collective over comm. Creates a context on a duplicate of comm (MPI_Comm_dup), so that
 *  its traffic never mixes with the caller's. On failure *out is NULL and err (if not NULL)
 *  gets a message of at most errlen bytes. Every rank must ask for the same reduction.
 *  Returns GN_ERR_NULL (out), GN_ERR_ARG (MPI not initialised, comm is MPI_COMM_NULL: at once,
 *  without communicating; an unknown reduction on any rank, or different reductions on
 *  different ranks: on every rank), GN_ERR_NOMEM (on every rank, if any rank ran out),
 *  GN_ERR_IO (an MPI call failed). */
GN_API gn_status gn_mpi_create(gn_mpi **out, MPI_Comm comm, gn_mpi_reduction how, char *err,
                               size_t errlen);

/** Collective. Frees the context and its communicator. NULL is a no-op (not collective then).
 *  A network still attached keeps a reducer that points here: remove it first
 *  (gn_net_set_reducer(net, NULL)). */
GN_API void gn_mpi_free(gn_mpi *mpi);

/** This process's rank in the context's communicator (−1 for NULL). */
GN_API int gn_mpi_rank(const gn_mpi *mpi);
/** The number of ranks, P (0 for NULL). */
GN_API int gn_mpi_size(const gn_mpi *mpi);
/** The reduction the context was created with. */
GN_API gn_mpi_reduction gn_mpi_reduction_of(const gn_mpi *mpi);

/** Collective. Prepares net for data-parallel training on every rank:
 *  1. checks that every rank's network has the same architecture (layer sizes, activations,
 *     loss): GN_ERR_DIM on every rank otherwise, naming the first rank that differs;
 *  2. broadcasts from rank 0 the parameters, the input and output scaling (set or removed to
 *     match) and the network's RNG state (gn_net_rng), so that every rank starts from the
 *     same model and draws the same shuffles;
 *  3. allocates the reduction buffers for net's size (GN_MPI_ORDERED with P > 1: about
 *     gn_net_n_params floats; GN_MPI_OVERLAP: one request per layer) and sets net's reducer
 *     (rank, P, and the hooks of the context's reduction), replacing any reducer it had.
 *  One context serves one network at a time: attaching another network detaches the first
 *  one's hooks from this context's buffers (that network's training steps then fail with
 *  GN_ERR_ARG on every rank alike until it is attached again). The context must outlive the
 *  training. Optimizer state is not broadcast: create optimizers after attaching (their
 *  state starts at zero on every rank), or load the same checkpoint on every rank.
 *  Returns GN_ERR_NULL, GN_ERR_DIM, GN_ERR_NOMEM, GN_ERR_IO (an MPI call failed); the status
 *  is the same on every rank (a rank that failed alone makes the others fail too, with
 *  its message in err). On failure the parameters, RNG, reducer and the context's previous
 *  attachment are unchanged; a failure while the ranks take rank 0's scaling may leave
 *  some of them with it already set. */
GN_API gn_status gn_mpi_attach(gn_mpi *mpi, gn_net *net, char *err, size_t errlen);

/** Collective. Agreement on a status, as gn_reducer.agree: returns GN_OK if every rank passed
 *  GN_OK, else the status of the lowest rank that did not, whose message (msg on entry at
 *  that rank, at most len bytes) is copied into msg on every rank (msg may be NULL when len
 *  is 0). Programs use it before collective work that a local failure would leave unmatched
 *  (e.g. after each rank has read its data). Returns GN_ERR_IO if the MPI calls fail. */
GN_API gn_status gn_mpi_agree(gn_mpi *mpi, gn_status status, char *msg, size_t len);

/** Collective. The sum over ranks of x (in rank order, so the same bits on every rank), in
 *  *sum. For counts and timings that a program reports once. Returns GN_ERR_NULL,
 *  GN_ERR_IO. */
GN_API gn_status gn_mpi_sum(gn_mpi *mpi, double x, double *sum);

/** Collective. The maximum over ranks of x in *max (e.g. the slowest rank's time).
 *  Returns GN_ERR_NULL, GN_ERR_IO. */
GN_API gn_status gn_mpi_max(gn_mpi *mpi, double x, double *max);

#ifdef __cplusplus
}
#endif

#endif
