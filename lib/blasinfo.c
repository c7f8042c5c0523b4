/* Which BLAS the library runs on and how it threads (gn_blas_get_info, gn_blas_describe). The
 * BLAS itself is queried in blas.c, the only file that includes <cblas.h>. */
#define _DEFAULT_SOURCE /* sysconf(_SC_NPROCESSORS_ONLN) */
#include "blasinfo.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

/* openblas_get_config() is not thread-safe (it rebuilds a static string on every call), and
 * its answer never changes, so it is copied here exactly once. */
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static char config[256];
static char corename[64];

static void copy_config(void)
{
    const char *c = gn__blas_config();
    const char *k = gn__blas_corename();
    snprintf(config, sizeof config, "%s", c ? c : "unknown CBLAS (not OpenBLAS)");
    snprintf(corename, sizeof corename, "%s", k ? k : "");
}

const char *gn_blas_parallel_name(gn_blas_parallel p)
{
    switch (p) {
    case GN_BLAS_PARALLEL_SEQUENTIAL: return "sequential";
    case GN_BLAS_PARALLEL_PTHREADS: return "pthreads";
    case GN_BLAS_PARALLEL_OPENMP: return "openmp";
    case GN_BLAS_PARALLEL_UNKNOWN:
    default: return "unknown";
    }
}

gn_status gn_blas_get_info(gn_blas_info *info)
{
    if (!info)
        return GN_ERR_NULL;
    pthread_once(&config_once, copy_config);
    int p = gn__blas_parallel();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    info->config = config;
    info->corename = corename;
    info->parallel = p >= GN_BLAS_PARALLEL_SEQUENTIAL && p <= GN_BLAS_PARALLEL_OPENMP
                         ? (gn_blas_parallel)p
                         : GN_BLAS_PARALLEL_UNKNOWN;
    info->threads = gn_get_threads();
    info->cores = cores >= 1 && cores <= 1 << 20 ? (int)cores : 1;
    return GN_OK;
}

size_t gn_blas_describe(char *buf, size_t len)
{
    gn_blas_info info;
    gn_blas_get_info(&info);
    int n = snprintf(buf, buf ? len : 0, "%s; threading %s; %d BLAS thread%s; %d core%s",
                     info.config, gn_blas_parallel_name(info.parallel), info.threads,
                     info.threads == 1 ? "" : "s", info.cores, info.cores == 1 ? "" : "s");
    return n > 0 ? (size_t)n : 0;
}
