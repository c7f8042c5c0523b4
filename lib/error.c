/* Status strings, the version, and the per-network error message. */
#include "internal.h"

#include <stdio.h>

const char *gn_version(void) { return GN_VERSION_STRING; }

const char *gn_strerror(gn_status status)
{
    switch (status) {
    case GN_OK: return "success";
    case GN_ERR_NULL: return "a required pointer argument was NULL";
    case GN_ERR_ARG: return "an argument is out of range";
    case GN_ERR_DIM: return "sizes or leading dimensions do not fit together";
    case GN_ERR_BATCH: return "batch larger than the network's workspace";
    case GN_ERR_NONFINITE: return "NaN or infinity in a value that must be finite";
    case GN_ERR_NOMEM: return "out of memory, or a size too large to represent";
    case GN_ERR_UNSUPPORTED: return "unsupported combination of settings";
    case GN_ERR_IO: return "input/output error";
    case GN_ERR_FORMAT: return "malformed data";
    case GN_ERR_MAGIC: return "not a gemmnet model file";
    case GN_ERR_VERSION: return "model file from a newer gemmnet";
    case GN_ERR_TRUNCATED: return "truncated file";
    case GN_ERR_TRAILING: return "trailing bytes after the end of the file";
    case GN_ERR_CHECKSUM: return "checksum mismatch: the file is corrupt";
    case GN_ERR_LIMIT: return "a size beyond the format's limits";
    case GN_ERR_SECTION: return "malformed section structure";
    case GN_ERR_VALUE: return "invalid value in a model file";
    case GN_ERR_DIVERGED: return "training diverged (non-finite loss, gradient or parameter)";
    case GN_ERR_SINGULAR: return "singular linear system, or no convergence in LAPACK";
    }
    return "unknown status";
}

const char *gn_net_last_error(const gn_net *net) { return net ? net->err : ""; }

gn_status gn__fail(gn_net *net, gn_status status, const char *fmt, ...)
{
    if (net) {
        va_list ap;
        va_start(ap, fmt);
        gn__vformat(net->err, sizeof net->err, fmt, ap);
        va_end(ap);
    }
    return status;
}
