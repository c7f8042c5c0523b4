/* gemmnet train under mpirun: the MPI side of the CLI, kept apart from tools/gemmnet.c so that
 * the CLI builds without MPI (every function below then has its one-process answer). */
#include "cli_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void errmsg(const char *fmt, ...); /* tools/gemmnet.c */

int par_launched(void)
{
    /* OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE; other launchers PMI_SIZE or PMIX_RANK */
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

#ifdef GN_HAVE_MPI
#include "gemmnet_mpi.h"

/* A whole number from the environment, or def. */
static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && v > 0 && v < 1 << 20 ? (int)v : def;
}

int par_built(void) { return 1; }

int par_start(cli_par *p, int reduction)
{
    memset(p, 0, sizeof *p);
    p->ranks = 1;
    p->local_ranks = 1;
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        errmsg("MPI_Init failed");
        return 1;
    }
    char err[512] = "";
    gn_mpi *mpi = NULL;
    gn_status st =
        gn_mpi_create(&mpi, MPI_COMM_WORLD, (gn_mpi_reduction)reduction, err, sizeof err);
    if (st != GN_OK) {
        errmsg("MPI: %s", err[0] ? err : gn_strerror(st));
        MPI_Abort(MPI_COMM_WORLD, 1); /* gn_mpi_create is collective: the others may wait */
        return 1;
    }
    p->active = 1;
    p->ctx = mpi;
    p->rank = gn_mpi_rank(mpi);
    p->ranks = gn_mpi_size(mpi);
    p->local_ranks = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", env_int("MPI_LOCALNRANKS", 1));
    return 0;
}

int par_agree(cli_par *p, int rc, const char *msg)
{
    if (!p->active || p->agreed)
        return rc;
    p->agreed = 1;
    /* exit statuses as gn_status values for gn_mpi_agree: 1 → GN_ERR_UNSUPPORTED, 2 →
     * GN_ERR_ARG; GN_ERR_IO is left to mean that the agreement itself failed */
    gn_status mine = rc == 0 ? GN_OK : rc == 2 ? GN_ERR_ARG : GN_ERR_UNSUPPORTED;
    char text[512];
    snprintf(text, sizeof text, "%s", rc && msg && msg[0] ? msg : "(no message)");
    gn_status st = gn_mpi_agree(p->ctx, mine, text, sizeof text);
    if (st == GN_OK)
        return 0;
    if (st != GN_ERR_UNSUPPORTED && st != GN_ERR_ARG) { /* the agreement itself failed */
        errmsg("MPI: the ranks could not agree (%s)", text);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (p->rank == 0 && !rc)
        errmsg("another rank failed, so no rank trains: %s", text);
    return st == GN_ERR_ARG ? 2 : 1;
}

int par_attach(cli_par *p, gn_net *net)
{
    if (!p->active)
        return 0;
    char err[512] = "";
    gn_status st = gn_mpi_attach(p->ctx, net, err, sizeof err);
    if (st == GN_OK)
        return 0;
    if (p->rank == 0)
        errmsg("MPI: %s", err[0] ? err : gn_strerror(st));
    return 1;
}

void par_finish(cli_par *p, gn_net *net, int fatal)
{
    if (!p->active)
        return;
    if (fatal) {
        fflush(stdout);
        MPI_Abort(MPI_COMM_WORLD, fatal);
    }
    if (net)
        gn_net_set_reducer(net, NULL);
    gn_mpi_free(p->ctx);
    p->ctx = NULL;
    p->active = 0;
    MPI_Finalize();
}

#else

int par_built(void) { return 0; }

int par_start(cli_par *p, int reduction)
{
    (void)reduction;
    memset(p, 0, sizeof *p);
    p->ranks = 1;
    p->local_ranks = 1;
    errmsg("this gemmnet was built without MPI (meson feature 'mpi', needs libopenmpi-dev): "
           "it cannot train data-parallel under mpirun");
    return 2;
}

int par_agree(cli_par *p, int rc, const char *msg)
{
    (void)p;
    (void)msg;
    return rc;
}

int par_attach(cli_par *p, gn_net *net)
{
    (void)p;
    (void)net;
    return 0;
}

void par_finish(cli_par *p, gn_net *net, int fatal)
{
    (void)p;
    (void)net;
    (void)fatal;
}

#endif
