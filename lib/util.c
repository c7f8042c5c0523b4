/* Aligned allocation and message formatting. */
#define _DEFAULT_SOURCE /* madvise */
#include "internal.h"

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
