/* Aligned allocation and message formatting. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ALIGNMENT = 64 };

float *gn__alloc_floats(size_t count)
{
    size_t bytes;
    if (count == 0)
        count = 1;
    if (!mul_ok(count, sizeof(float), &bytes) || !add_ok(bytes, ALIGNMENT - 1, &bytes))
        return NULL;
    bytes -= bytes % ALIGNMENT; /* aligned_alloc wants a multiple of the alignment */
    float *p = aligned_alloc(ALIGNMENT, bytes);
    if (p)
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
