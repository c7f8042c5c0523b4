/* gemmnet train under mpirun: data-parallel training with gemmnet_mpi (tools/cli_mpi.c).
 * Built without MPI, par_launched() is 0 and the CLI runs as one process. */
#ifndef GN_CLI_MPI_H
#define GN_CLI_MPI_H

#include <stddef.h>

#include "gemmnet.h"

typedef struct cli_par {
    int active;      /* MPI_Init done and a context made: training is data-parallel */
    int rank, ranks; /* 0 and 1 when not active */
    int local_ranks; /* ranks on this host (for the default thread count) */
    int agreed;      /* the agreement before training has been made */
    void *ctx;       /* the gn_mpi context */
} cli_par;

/* 1 if this process was started by mpirun (OpenMPI's or a PMI/PMIx launcher's environment). */
int par_launched(void);
/* 1 if this gemmnet was built with gemmnet_mpi. */
int par_built(void);

/* MPI_Init and a context on MPI_COMM_WORLD with the reduction (a gn_mpi_reduction): 0, or
 * an exit status after a message. */
int par_start(cli_par *p, int reduction);
/* The agreement before training: every rank passes its exit status so far (0 if it can
 * train) and its last message. Returns 0 if all can train, else the first failing rank's
 * status, after rank 0 has reported that rank's message (when it is not its own). */
int par_agree(cli_par *p, int rc, const char *msg);
/* Makes net the same on every rank (rank 0's) and sets its reducer: 0, or an exit status
 * after a message (the same on every rank). */
int par_attach(cli_par *p, gn_net *net);
/* Removes net's reducer (net may be NULL), frees the context and finalises MPI; with
 * fatal, aborts the job instead (MPI_Abort), for a failure that leaves the ranks out of step
 * in their collective calls. */
void par_finish(cli_par *p, gn_net *net, int fatal);

#endif
