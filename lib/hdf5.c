/* HDF5 loading: two named datasets of one file, read through HDF5's own type conversion (to
 * double, in bounded blocks of samples) and checked as the .npy loader checks its arrays.
 * Debian's HDF5 is the serial build, which is not thread-safe, so every call into it happens
 * under one lock; its automatic error printing is off for the duration (the library never
 * prints) and its error stack is folded into our messages instead. */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r, O_CLOEXEC */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef GN_HAVE_HDF5

int gn_hdf5_available(void) { return 0; }

gn_status gn_dataset_load_hdf5(gn_dataset **out, const char *path, const char *x_name,
                               const char *y_name, const gn_array_options *opt, char *err,
                               size_t errlen)
{
    (void)path, (void)x_name, (void)y_name, (void)opt;
    if (err && errlen)
        err[0] = '\0';
    if (out)
        *out = NULL;
    gn__format(err, errlen,
               "this gemmnet was built without HDF5 support (install libhdf5-dev "
               "and build again with -Dhdf5=enabled)");
    return GN_ERR_UNSUPPORTED;
}

#else /* GN_HAVE_HDF5 */

#include <hdf5.h>
#include <pthread.h>

enum { BLOCK = 1 << 17 }; /* doubles per read: 1 MiB */
#define MAX_SAMPLES  ((uint64_t)1 << 31) /* as for .npy and IDX */
#define MAX_FEATURES ((uint64_t)1 << 24)

int gn_hdf5_available(void) { return 1; }

/* One lock for every call into HDF5, which the serial build needs. */
static pthread_mutex_t hdf5_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct h5_array {
    const char *path, *name, *what;
    hid_t dset, space;
    unsigned ndim;
    hsize_t dims[H5S_MAX_RANK];
    size_t n, per_sample;
} h5_array;

/* The most specific message on HDF5's error stack, e.g. "can't open file". */
static herr_t first_error(unsigned n, const H5E_error2_t *e, void *user)
{
    char *buf = user;
    if (n == 0 && e && e->desc && !buf[0]) {
        strncpy(buf, e->desc, 127);
        buf[127] = '\0';
    }
    return 0;
}

/* Formats a message, then appends " (HDF5: …)" from the error stack if it has something. */
static gn_status fail(gn_status st, char *err, size_t errlen, const char *fmt, ...) GN_PRINTF(4, 5);
static gn_status fail(gn_status st, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[512], detail[128] = "";
    va_list ap;
    va_start(ap, fmt);
    gn__vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, detail) < 0)
        detail[0] = '\0';
    H5Eclear2(H5E_DEFAULT);
    if (detail[0])
        gn__format(err, errlen, "%s (HDF5: %s)", msg, detail);
    else
        gn__format(err, errlen, "%s", msg);
    return st;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_TIME: return "times";
    case H5T_STRING: return "strings";
    case H5T_BITFIELD: return "bit fields";
    case H5T_OPAQUE: return "opaque data";
    case H5T_COMPOUND: return "records (a compound type)";
    case H5T_REFERENCE: return "references";
    case H5T_ENUM: return "an enumeration";
    case H5T_VLEN: return "variable-length data";
    case H5T_ARRAY: return "an array type";
    default: return "data of an unknown class";
    }
}

static void array_close(h5_array *a)
{
    if (a->space >= 0)
        H5Sclose(a->space);
    if (a->dset >= 0)
        H5Dclose(a->dset);
    a->space = a->dset = -1;
}

/* Opens dataset `name` and checks its class, rank and shape against the limits. */
static gn_status array_open(h5_array *a, hid_t file, const char *path, const char *name,
                            const char *what, unsigned max_ndim, char *err, size_t errlen)
{
    *a = (h5_array){.path = path, .name = name, .what = what, .dset = -1, .space = -1};
    if (!name[0])
        return fail(GN_ERR_ARG, err, errlen, "%s: empty dataset name for the %s", path, what);
    htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
    if (exists <= 0) /* negative when a group on the way is missing */
        return fail(GN_ERR_FORMAT, err, errlen, "%s: no dataset '%s' (for the %s)", path, name,
                    what);
    if ((a->dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0)
        return fail(GN_ERR_FORMAT, err, errlen, "%s: '%s' is not a dataset (a group?)", path, name);
    hid_t type = H5Dget_type(a->dset);
    if (type < 0)
        return fail(GN_ERR_IO, err, errlen, "%s: cannot read the type of '%s'", path, name);
    H5T_class_t cls = H5Tget_class(type);
    if (H5Tclose(type) < 0 || cls == H5T_NO_CLASS)
        return fail(GN_ERR_IO, err, errlen, "%s: cannot read the type of '%s'", path, name);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        return fail(GN_ERR_FORMAT, err, errlen,
                    "%s: dataset '%s' holds %s; the %s must be floats or integers", path, name,
                    class_name(cls), what);
    if ((a->space = H5Dget_space(a->dset)) < 0)
        return fail(GN_ERR_IO, err, errlen, "%s: cannot read the shape of '%s'", path, name);
    H5S_class_t sc = H5Sget_simple_extent_type(a->space);
    if (sc == H5S_SCALAR || sc == H5S_NULL)
        return fail(GN_ERR_FORMAT, err, errlen,
                    "%s: dataset '%s' is %s: it has no samples (the first axis counts them)", path,
                    name, sc == H5S_SCALAR ? "a scalar" : "empty (a null dataspace)");
    int ndim = H5Sget_simple_extent_ndims(a->space);
    if (sc != H5S_SIMPLE || ndim < 0 || H5Sget_simple_extent_dims(a->space, a->dims, NULL) != ndim)
        return fail(GN_ERR_IO, err, errlen, "%s: cannot read the shape of '%s'", path, name);
    a->ndim = (unsigned)ndim;
    if (a->ndim == 0 || a->ndim > max_ndim)
        return fail(GN_ERR_FORMAT, err, errlen, "%s: dataset '%s': the %s need %s, it has rank %u",
                    path, name, what,
                    max_ndim == 1   ? "rank 1 (n,)"
                    : max_ndim == 2 ? "rank 1 or 2 ((n,) or (n, k))"
                                    : "rank 1 or more",
                    a->ndim);
    if (a->dims[0] == 0)
        return fail(GN_ERR_FORMAT, err, errlen,
                    "%s: dataset '%s' has no samples (dimension 1 "
                    "is 0)",
                    path, name);
    if (a->dims[0] > MAX_SAMPLES)
        return fail(GN_ERR_FORMAT, err, errlen,
                    "%s: dataset '%s': %" PRIu64 " samples exceed "
                    "the limit of 2^31",
                    path, name, (uint64_t)a->dims[0]);
    uint64_t per = 1;
    for (unsigned d = 1; d < a->ndim; d++) {
        if (a->dims[d] == 0)
            return fail(GN_ERR_FORMAT, err, errlen,
                        "%s: dataset '%s': dimension %u of %u is 0: "
                        "no %s per sample",
                        path, name, d + 1, a->ndim, what);
        if (a->dims[d] > MAX_FEATURES || (per *= a->dims[d]) > MAX_FEATURES)
            return fail(GN_ERR_FORMAT, err, errlen,
                        "%s: dataset '%s': more than 2^24 %s per "
                        "sample (dimension %u is %" PRIu64 ")",
                        path, name, what, d + 1, (uint64_t)a->dims[d]);
    }
    a->n = (size_t)a->dims[0];
    a->per_sample = (size_t)per;
    size_t count;
    if (!mul_ok(a->n, a->per_sample, &count) || !mul_ok(count, sizeof(double), &count))
        return fail(GN_ERR_FORMAT, err, errlen,
                    "%s: dataset '%s': %zu samples of %zu values "
                    "exceed the address space",
                    path, name, a->n, a->per_sample);
    return GN_OK;
}

/* Reads the whole dataset, sample-major, converted by HDF5 to double: into xd as it is, or
 * into xf as floats, each finite and within the float range. Blocks of whole samples. */
static gn_status array_read(const h5_array *a, float *xf, double *xd, char *err, size_t errlen)
{
    size_t per = a->per_sample, block = per < BLOCK ? BLOCK / per : 1;
    double *buf = xd ? NULL : malloc((block < a->n ? block : a->n) * per * sizeof *buf);
    if (!xd && !buf)
        return fail(GN_ERR_NOMEM, err, errlen, "%s: out of memory", a->path);
    gn_status st = GN_OK;
    for (size_t j0 = 0; j0 < a->n && st == GN_OK; j0 += block) {
        size_t m = a->n - j0 < block ? a->n - j0 : block;
        hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
        memcpy(count, a->dims, a->ndim * sizeof *count);
        start[0] = j0;
        count[0] = m;
        hsize_t mcount = (hsize_t)(m * per);
        hid_t mspace = H5Screate_simple(1, &mcount, NULL);
        double *dst = xd ? xd + j0 * per : buf;
        herr_t r = mspace < 0
                       ? -1
                       : H5Sselect_hyperslab(a->space, H5S_SELECT_SET, start, NULL, count, NULL);
        if (r >= 0)
            r = H5Dread(a->dset, H5T_NATIVE_DOUBLE, mspace, a->space, H5P_DEFAULT, dst);
        if (mspace >= 0 && H5Sclose(mspace) < 0)
            r = -1;
        if (r < 0) {
            st = fail(GN_ERR_IO, err, errlen, "%s: cannot read samples %zu to %zu of '%s'", a->path,
                      j0, j0 + m - 1, a->name);
            break;
        }
        for (size_t i = 0; xf && i < m * per; i++) {
            double v = buf[i];
            if (!(fabs(v) <= (double)FLT_MAX)) {
                char why[64];
                size_t e = j0 * per + i;
                st = fail(GN_ERR_NONFINITE, err, errlen,
                          "%s: dataset '%s': element %zu (sample %zu, feature %zu) is %s", a->path,
                          a->name, e, e / per, e % per, gn__array_bad_value(v, why, sizeof why));
                break;
            }
            xf[j0 * per + i] = (float)v;
        }
    }
    free(buf);
    return st;
}

/* The file must exist and be a regular file: HDF5's own message for a missing file is vague. */
static gn_status check_path(const char *path, char *err, size_t errlen)
{
    int fd;
    uint64_t len;
    gn_status st = gn__open_regular(path, &fd, &len, err, errlen);
    if (st == GN_OK)
        close(fd);
    return st;
}

/* The body of gn_dataset_load_hdf5, under the lock with HDF5's printing off. */
static gn_status load_locked(gn_dataset **out, const char *path, const char *x_name,
                             const char *y_name, const gn_array_options *opt, char *err,
                             size_t errlen)
{
    H5Eclear2(H5E_DEFAULT);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return fail(is == 0 ? GN_ERR_FORMAT : GN_ERR_IO, err, errlen,
                    "%s: not an HDF5 file (no HDF5 signature)", path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return fail(GN_ERR_IO, err, errlen, "%s: HDF5 cannot open the file", path);

    h5_array x = {.dset = -1, .space = -1}, y = {.dset = -1, .space = -1};
    double *yv = NULL;
    gn_dataset *ds = NULL;
    size_t n_out = opt->n_classes ? opt->n_classes : 1;
    gn_status st = GN_OK;
    const char *what = opt->regression ? "targets" : "labels";
    if ((st = array_open(&x, file, path, x_name, "features", H5S_MAX_RANK, err, errlen)) != GN_OK)
        goto done;
    if (y_name) {
        if ((st = array_open(&y, file, path, y_name, what, opt->regression ? 2 : 1, err, errlen)) !=
            GN_OK)
            goto done;
        if (y.n != x.n) {
            st = fail(GN_ERR_FORMAT, err, errlen, "%s: '%s' has %zu samples but '%s' has %zu %s",
                      path, x_name, x.n, y_name, y.n, what);
            goto done;
        }
        yv = malloc(y.n * y.per_sample * sizeof *yv);
        if (!yv) {
            st = fail(GN_ERR_NOMEM, err, errlen, "%s: out of memory for %zu %s", path, y.n, what);
            goto done;
        }
        char name[600];
        gn__format(name, sizeof name, "%s: dataset '%s'", path, y_name);
        if ((st = array_read(&y, NULL, yv, err, errlen)) != GN_OK ||
            (st = gn__array_check_targets(yv, y.n, y.per_sample, opt, name, &n_out, err, errlen)) !=
                GN_OK)
            goto done;
    }
    ds = gn__dataset_new(x.n, x.per_sample, n_out, NULL);
    if (!ds) {
        st = fail(GN_ERR_NOMEM, err, errlen,
                  "%s: out of memory for %zu × %zu features and %zu × %zu targets", path,
                  x.per_sample, x.n, n_out, x.n);
        goto done;
    }
    if ((st = array_read(&x, ds->own_x, NULL, err, errlen)) != GN_OK)
        goto done;
    if (yv)
        gn__array_fill_targets(ds->own_y, yv, x.n, n_out, opt->regression);

done:
    array_close(&x);
    array_close(&y);
    if (H5Fclose(file) < 0 && st == GN_OK)
        st = fail(GN_ERR_IO, err, errlen, "%s: HDF5 cannot close the file", path);
    H5Eclear2(H5E_DEFAULT);
    free(yv);
    if (st != GN_OK) {
        gn_dataset_free(ds);
        return st;
    }
    *out = ds;
    return GN_OK;
}

gn_status gn_dataset_load_hdf5(gn_dataset **out, const char *path, const char *x_name,
                               const char *y_name, const gn_array_options *opt, char *err,
                               size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return GN_ERR_NULL;
    *out = NULL;
    if (!path || !x_name) {
        gn__format(err, errlen, "no %s given", path ? "features dataset name" : "file path");
        return GN_ERR_NULL;
    }
    gn_array_options defaults;
    gn_array_options_defaults(&defaults);
    if (!opt)
        opt = &defaults;
    gn_status st = gn__array_check_options(opt, err, errlen);
    if (st == GN_OK)
        st = check_path(path, err, errlen);
    if (st != GN_OK)
        return st;

    if (pthread_mutex_lock(&hdf5_lock) != 0) {
        gn__format(err, errlen, "%s: cannot take the HDF5 lock", path);
        return GN_ERR_IO;
    }
    H5E_auto2_t saved_fn = NULL;
    void *saved_data = NULL;
    if (H5Eget_auto2(H5E_DEFAULT, &saved_fn, &saved_data) < 0 ||
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) {
        gn__format(err, errlen, "%s: cannot silence HDF5's error printing", path);
        st = GN_ERR_IO;
    } else {
        st = load_locked(out, path, x_name, y_name, opt, err, errlen);
        if (H5Eset_auto2(H5E_DEFAULT, saved_fn, saved_data) < 0 && st == GN_OK) {
            gn_dataset_free(*out);
            *out = NULL;
            gn__format(err, errlen, "%s: cannot restore HDF5's error printing", path);
            st = GN_ERR_IO;
        }
    }
    pthread_mutex_unlock(&hdf5_lock);
    return st;
}

#endif /* GN_HAVE_HDF5 */
