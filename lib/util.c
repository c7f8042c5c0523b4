/* Aligned allocation and message formatting. */
#define _DEFAULT_SOURCE /* madvise, the XSI strerror_r, O_CLOEXEC */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

enum { ALIGNMENT = 64, HUGE_PAGE = 2 << 20 };

float *gn__alloc_floats(size_t count)
{
    size_t bytes;
    if (count == 0)
        count = 1;
    if (!mul_ok(count, sizeof(float), &bytes) || !add_ok(bytes, ALIGNMENT - 1, &bytes))
        return NULL;
    bytes -= bytes % ALIGNMENT; /* aligned_alloc wants a multiple of the alignment */
    /* Large buffers (datasets, big layers) on 2 MiB boundaries, with a hint that the kernel
     * may back them with huge pages: the shuffled gather of a training batch touches
     * scattered columns of the data set, which otherwise costs a TLB miss per column. */
    size_t align = bytes >= 4 * (size_t)HUGE_PAGE ? HUGE_PAGE : ALIGNMENT;
    if (align == HUGE_PAGE && add_ok(bytes, HUGE_PAGE - 1, &bytes))
        bytes -= bytes % HUGE_PAGE;
    float *p = aligned_alloc(align, bytes);
    if (!p)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == HUGE_PAGE)
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* only a hint: failure changes nothing */
#endif
    memset(p, 0, bytes);
    return p;
}

void gn__free(void *p) { free(p); }

void gn__vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
    if (!buf || len == 0)
        return;
    if (vsnprintf(buf, len, fmt, ap) < 0)
        buf[0] = '\0';
}

void gn__format(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gn__vformat(buf, len, fmt, ap);
    va_end(ap);
}

const char *gn__errno_text(int e, char *buf, size_t len)
{
    if (strerror_r(e, buf, len) != 0)
        gn__format(buf, len, "error %d", e);
    return buf;
}

gn_status gn__open_regular(const char *path, int *fd, uint64_t *size, char *err, size_t errlen)
{
    char why[128];
    int d = open(path, O_RDONLY | O_CLOEXEC);
    if (d < 0) {
        gn__format(err, errlen, "%s: cannot open: %s", path,
                   gn__errno_text(errno, why, sizeof why));
        return GN_ERR_IO;
    }
    struct stat sb;
    if (fstat(d, &sb) != 0) {
        gn__format(err, errlen, "%s: cannot stat: %s", path,
                   gn__errno_text(errno, why, sizeof why));
        close(d);
        return GN_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        gn__format(err, errlen, "%s: %s", path,
                   S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
        close(d);
        return GN_ERR_IO;
    }
    *fd = d;
    *size = (uint64_t)sb.st_size;
    return GN_OK;
}
