/* Self-test for tests/mpi/netns-mpirun.sh: a plain MPI program (no gemmnet) that moves enough
 * data through MPI_Allreduce for the veth byte counters to show it, and checks the sum exactly.
 *
 *   mpicc -std=c11 -O2 -o /tmp/mpi_allreduce_check tests/mpi/mpi_allreduce_check.c
 *   tests/mpi/netns-mpirun.sh -- /tmp/mpi_allreduce_check
 *
 * Each rank prints one line with its host name and the first non-loopback IPv4 address it can
 * see, so the output shows that the two ranks ran in different network namespaces. */
#define _DEFAULT_SOURCE /* getifaddrs, gethostname */

#include <mpi.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 4 * 1024 * 1024, PERIOD = 1000 };

/* Small integers times small integers: every partial sum is exact in float whatever order the
 * reduction uses, so the check can compare with ==. */
static float value(int rank, size_t i) { return (float)(rank + 1) * (float)(i % PERIOD); }

static void first_ipv4(char *out, size_t len)
{
    snprintf(out, len, "none");
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return;
    for (const struct ifaddrs *a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK))
            continue;
        const struct sockaddr_in *in = (const struct sockaddr_in *)a->ifa_addr;
        char ip[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip))
            snprintf(out, len, "%s (%s)", ip, a->ifa_name);
        break;
    }
    freeifaddrs(list);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    float *send = malloc(N * sizeof *send);
    float *recv = malloc(N * sizeof *recv);
    int ok = send && recv;
    size_t bad = 0;
    double seconds = 0.0;
    if (ok) {
        for (size_t i = 0; i < N; i++)
            send[i] = value(rank, i);
        double t0 = MPI_Wtime();
        ok = MPI_Allreduce(send, recv, N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS;
        seconds = MPI_Wtime() - t0;
        /* sum over ranks r of (r + 1) * k = k * size * (size + 1) / 2 */
        float ranks = (float)size * (float)(size + 1) / 2.0f;
        for (size_t i = 0; ok && i < N; i++)
            bad += recv[i] != ranks * (float)(i % PERIOD);
    }
    ok = ok && bad == 0;

    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    char ip[64 + IF_NAMESIZE];
    first_ipv4(ip, sizeof ip);
    printf("rank %d/%d host %s ip %s: allreduce of %d floats %s (%zu wrong, %.3f s)\n", rank, size,
           host, ip, N, ok ? "OK" : "FAILED", bad, seconds);
    fflush(stdout);

    /* Every rank must agree on the verdict, or one rank could exit 0 while another fails. */
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    free(send);
    free(recv);
    MPI_Finalize();
    return all_ok ? 0 : 1;
}
