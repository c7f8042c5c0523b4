/* Error measures over float vectors, in double, for the tests (no Criterion: the MPI test
 * program, which cannot use it, shares them). */
#ifndef GN_TEST_MEASURES_H
#define GN_TEST_MEASURES_H

#include <math.h>
#include <stddef.h>

/* max |x_i| */
static inline double max_abs(const float *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i]));
    return m;
}

/* max |x_i − y_i| */
static inline double max_abs_diff(const float *x, const float *y, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i] - (double)y[i]));
    return m;
}

#endif
