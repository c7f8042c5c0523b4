/* NumPy .npy loading. The header is a Python dict literal; it is parsed by a small strict
 * grammar (only what numpy writes), never evaluated. Every size it claims is checked against
 * the limits and the file's length before anything large is allocated, and the payload is
 * read in bounded chunks. Also the target checks shared with the HDF5 loader (hdf5.c). */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r, O_CLOEXEC */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    MAX_DIMS = 32,        /* numpy's own limit (NPY_MAXDIMS) */
    MAX_HEADER = 1 << 20, /* bytes; numpy writes about a hundred */
    MAX_DESCR = 64,       /* characters of the descr string kept for messages */
    CHUNK = 1 << 20,      /* bytes per read */
    PREFIX_V1 = 10,       /* magic (6), version (2), header length (2) */
    PREFIX_V2 = 12,       /* the same with a 4-byte header length */
};
#define MAX_SAMPLES  ((uint64_t)1 << 31) /* as documented in gemmnet.h, and as for IDX */
#define MAX_FEATURES ((uint64_t)1 << 24)

void gn_array_options_defaults(gn_array_options *opt)
{
    if (!opt)
        return;
    opt->regression = 0;
    opt->n_classes = 0;
}

/*---- targets: shared with hdf5.c ----*/

gn_status gn__array_check_options(const gn_array_options *opt, char *err, size_t errlen)
{
    if (opt->regression != 0 && opt->regression != 1) {
        gn__format(err, errlen, "regression = %d: 0 (class labels) or 1 (real targets)",
                   opt->regression);
        return GN_ERR_ARG;
    }
    if (opt->regression && opt->n_classes != 0) {
        gn__format(err, errlen, "n_classes = %zu with regression: real targets have no classes",
                   opt->n_classes);
        return GN_ERR_ARG;
    }
    if (opt->n_classes > GN__ARRAY_MAX_CLASSES) {
        gn__format(err, errlen, "n_classes = %zu: at most %d classes", opt->n_classes,
                   GN__ARRAY_MAX_CLASSES);
        return GN_ERR_ARG;
    }
    return GN_OK;
}

const char *gn__array_bad_value(double v, char *buf, size_t len)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "infinite" : "minus infinity";
    gn__format(buf, len, "%.17g, beyond the float range", v);
    return buf;
}

gn_status gn__array_check_targets(const double *y, size_t n, size_t k, const gn_array_options *opt,
                                  const char *name, size_t *n_outputs, char *err, size_t errlen)
{
    char why[64];
    if (opt->regression) {
        for (size_t e = 0; e < n * k; e++) {
            if (!(fabs(y[e]) <= (double)FLT_MAX)) {
                gn__format(err, errlen, "%s: element %zu (sample %zu, output %zu) is %s", name, e,
                           e / k, e % k, gn__array_bad_value(y[e], why, sizeof why));
                return GN_ERR_NONFINITE;
            }
        }
        *n_outputs = k;
        return GN_OK;
    }
    double limit = opt->n_classes ? (double)opt->n_classes : (double)GN__ARRAY_MAX_CLASSES;
    double max = 0.0;
    for (size_t j = 0; j < n; j++) {
        double v = y[j];
        const char *what = NULL;
        if (isnan(v) || isinf(v))
            what = isnan(v) ? "NaN" : "infinite";
        else if (v != floor(v))
            what = "not a whole number";
        else if (v < 0.0)
            what = "negative";
        if (what) {
            gn__format(err, errlen,
                       "%s: label %zu is %s (%.17g): class labels are whole numbers "
                       "from 0",
                       name, j, what, v);
            return isnan(v) || isinf(v) ? GN_ERR_NONFINITE : GN_ERR_FORMAT;
        }
        if (v >= limit) {
            if (opt->n_classes)
                gn__format(err, errlen, "%s: label %zu is %.17g, not below n_classes = %zu", name,
                           j, v, opt->n_classes);
            else
                gn__format(err, errlen, "%s: label %zu is %.17g, above the largest class, %d", name,
                           j, v, GN__ARRAY_MAX_CLASSES - 1);
            return GN_ERR_FORMAT;
        }
        max = v > max ? v : max;
    }
    *n_outputs = opt->n_classes ? opt->n_classes : (size_t)max + 1;
    return GN_OK;
}

void gn__array_fill_targets(float *Y, const double *y, size_t n, size_t n_outputs, int regression)
{
    if (regression) {
        for (size_t e = 0; e < n * n_outputs; e++)
            Y[e] = (float)y[e];
        return;
    }
    for (size_t j = 0; j < n; j++)
        Y[(size_t)y[j] + j * n_outputs] = 1.0f;
}

/*---- the file and its header ----*/

typedef struct npy_file {
    const char *path;
    int fd;
    char kind;     /* 'f' float, 'i' signed, 'u' unsigned integer */
    unsigned size; /* bytes per element */
    bool fortran;
    unsigned ndim;
    uint64_t dims[MAX_DIMS];
    size_t n;                 /* dims[0] */
    size_t per_sample;        /* product of the other dimensions (1 for a 1-D array) */
    size_t data_bytes;        /* n · per_sample · size */
    size_t strides[MAX_DIMS]; /* of dimensions 1 … ndim−1 in a row-major sample */
    char descr[MAX_DESCR + 1];
} npy_file;

/* Reads up to len bytes; *got < len only at the end of the file. */
static gn_status read_bytes(const npy_file *f, void *buf, size_t len, size_t *got, char *err,
                            size_t errlen)
{
    *got = 0;
    while (*got < len) {
        size_t want = len - *got < CHUNK ? len - *got : CHUNK;
        ssize_t r = read(f->fd, (char *)buf + *got, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            char why[128];
            gn__format(err, errlen, "%s: read error: %s", f->path,
                       gn__errno_text(errno, why, sizeof why));
            return GN_ERR_IO;
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return GN_OK;
}

/* A cursor over the header text; offsets in messages are the file's (base + position). */
typedef struct cursor {
    const char *s;
    size_t len, at, base;
    const char *path;
    char *err;
    size_t errlen;
} cursor;

static void skip_spaces(cursor *c)
{
    while (c->at < c->len && c->s[c->at] == ' ')
        c->at++;
}

/* What the cursor sees, for messages: a quoted character, a byte in hex, or the end. */
static const char *seen(const cursor *c, char buf[16])
{
    if (c->at >= c->len)
        return "the end of the header";
    unsigned char ch = (unsigned char)c->s[c->at];
    if (ch >= 0x20 && ch < 0x7f)
        gn__format(buf, 16, "'%c'", ch);
    else
        gn__format(buf, 16, "byte 0x%02X", ch);
    return buf;
}

static gn_status bad(cursor *c, const char *expected)
{
    char buf[16];
    gn__format(c->err, c->errlen, "%s: bad .npy header at byte %zu: expected %s, found %s", c->path,
               c->base + c->at, expected, seen(c, buf));
    return GN_ERR_FORMAT;
}

static bool accept(cursor *c, char ch)
{
    if (c->at < c->len && c->s[c->at] == ch) {
        c->at++;
        return true;
    }
    return false;
}

/* A Python string literal without escapes or prefixes, in ' or " quotes, of printable ASCII;
 * at most MAX_DESCR characters (longer ones are refused, nothing we accept is that long). */
static gn_status parse_string(cursor *c, char *out, const char *what)
{
    if (c->at >= c->len || (c->s[c->at] != '\'' && c->s[c->at] != '"'))
        return bad(c, what);
    char q = c->s[c->at++];
    size_t n = 0;
    while (c->at < c->len && c->s[c->at] != q) {
        unsigned char ch = (unsigned char)c->s[c->at];
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            return bad(c, "a printable character without escapes in a string");
        if (n == MAX_DESCR)
            return bad(c, "the end of the string (at most 64 characters)");
        out[n++] = (char)ch;
        c->at++;
    }
    if (!accept(c, q))
        return bad(c, "the closing quote of the string");
    out[n] = '\0';
    return GN_OK;
}

/* A non-negative decimal integer as Python writes it: no sign, no leading zeros, no '_'. */
static gn_status parse_dim(cursor *c, uint64_t *v)
{
    size_t start = c->at;
    if (c->at >= c->len || c->s[c->at] < '0' || c->s[c->at] > '9')
        return bad(c, "a dimension (a non-negative whole number)");
    uint64_t x = 0;
    while (c->at < c->len && c->s[c->at] >= '0' && c->s[c->at] <= '9') {
        unsigned d = (unsigned)(c->s[c->at] - '0');
        if (c->at > start && x == 0)
            return bad(c, "no leading zeros in a dimension");
        if (x > (UINT64_MAX - d) / 10) {
            c->at = start;
            return bad(c, "a dimension below 2^64");
        }
        x = 10 * x + d;
        c->at++;
    }
    *v = x;
    return GN_OK;
}

/* A tuple of dimensions: "()", "(5,)", "(5, 3)", "(5, 3,)". */
static gn_status parse_shape(cursor *c, npy_file *f)
{
    if (!accept(c, '('))
        return bad(c, "a tuple '(' for 'shape'");
    skip_spaces(c);
    f->ndim = 0;
    bool comma = false;
    while (!accept(c, ')')) {
        if (f->ndim > 0 && !comma)
            return bad(c, "',' or ')' in the shape");
        if (f->ndim == MAX_DIMS) {
            gn__format(c->err, c->errlen,
                       "%s: bad .npy header at byte %zu: more than %d "
                       "dimensions",
                       c->path, c->base + c->at, MAX_DIMS);
            return GN_ERR_FORMAT;
        }
        gn_status st = parse_dim(c, &f->dims[f->ndim++]);
        if (st != GN_OK)
            return st;
        skip_spaces(c);
        comma = accept(c, ',');
        skip_spaces(c);
    }
    /* (5) is the number 5 in Python, not a tuple */
    if (f->ndim == 1 && !comma) {
        c->at--;
        return bad(c, "',' after the only dimension (a 1-tuple is written (n,))");
    }
    return GN_OK;
}

static gn_status parse_bool(cursor *c, bool *v)
{
    if (c->len - c->at >= 4 && memcmp(c->s + c->at, "True", 4) == 0) {
        c->at += 4;
        *v = true;
    } else if (c->len - c->at >= 5 && memcmp(c->s + c->at, "False", 5) == 0) {
        c->at += 5;
        *v = false;
    } else {
        return bad(c, "True or False for 'fortran_order'");
    }
    return GN_OK;
}

/* The element type from the descr string: little-endian (or byte-sized) floats of 4 or 8 bytes
 * and integers of 1, 2, 4 or 8 bytes. descr_at is its offset, for messages. */
static gn_status check_descr(npy_file *f, size_t descr_at, char *err, size_t errlen)
{
    const char *d = f->descr;
    size_t len = strlen(d);
    char order = len ? d[0] : 0, kind = len > 1 ? d[1] : 0;
    char *end = NULL;
    long size = len > 2 && d[2] >= '1' && d[2] <= '9' ? strtol(d + 2, &end, 10) : 0;
    bool well_formed =
        (order == '<' || order == '>' || order == '|' || order == '=') && end && *end == '\0';
    if (len >= 2 && d[1] == 'O') {
        gn__format(err, errlen,
                   "%s: dtype '%s' (byte %zu): an object array holds pickled Python objects, "
                   "which are never read; save numbers (arr.astype('<f4'))",
                   f->path, d, descr_at);
        return GN_ERR_FORMAT;
    }
    if (well_formed && order == '>' && size > 1) {
        gn__format(err, errlen,
                   "%s: dtype '%s' (byte %zu) is big-endian; only little-endian data is read "
                   "(save arr.astype('<%c%ld'))",
                   f->path, d, descr_at, kind, size);
        return GN_ERR_FORMAT;
    }
    bool ok =
        well_formed && (order == '<' || (order == '|' && size == 1)) &&
        (((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
         (kind == 'f' && (size == 4 || size == 8)));
    if (!ok) {
        gn__format(err, errlen,
                   "%s: unsupported dtype '%s' (byte %zu): only little-endian float32 and "
                   "float64 ('<f4', '<f8') and integers ('|i1', '|u1', '<i2' … '<u8')",
                   f->path, d, descr_at);
        return GN_ERR_FORMAT;
    }
    f->kind = kind;
    f->size = (unsigned)size;
    return GN_OK;
}

/* The dict: exactly 'descr', 'fortran_order' and 'shape', in any order, an optional comma
 * after the last, then spaces and a newline that ends the header. */
static gn_status parse_header(npy_file *f, const char *h, size_t len, size_t base, char *err,
                              size_t errlen)
{
    cursor c = {h, len, 0, base, f->path, err, errlen};
    enum { DESCR = 1, FORTRAN = 2, SHAPE = 4 };
    unsigned have = 0;
    size_t descr_at = 0;
    gn_status st;
    if (!accept(&c, '{'))
        return bad(&c, "'{' (the header is a Python dict)");
    skip_spaces(&c);
    while (!accept(&c, '}')) {
        char key[MAX_DESCR + 1];
        size_t key_at = c.at;
        if ((st = parse_string(&c, key, "a key in quotes or '}'")) != GN_OK)
            return st;
        unsigned which = strcmp(key, "descr") == 0           ? DESCR
                         : strcmp(key, "fortran_order") == 0 ? FORTRAN
                         : strcmp(key, "shape") == 0         ? SHAPE
                                                             : 0;
        if (!which || (have & which)) {
            gn__format(err, errlen,
                       "%s: bad .npy header at byte %zu: %s key '%s' (a header has exactly "
                       "'descr', 'fortran_order' and 'shape')",
                       f->path, base + key_at, which ? "repeated" : "unknown", key);
            return GN_ERR_FORMAT;
        }
        have |= which;
        skip_spaces(&c);
        if (!accept(&c, ':'))
            return bad(&c, "':' after the key");
        skip_spaces(&c);
        if (which == DESCR) {
            descr_at = base + c.at;
            if (c.at < c.len && c.s[c.at] == '[') {
                gn__format(err, errlen,
                           "%s: structured dtype (a list of fields, byte %zu) is not supported: "
                           "save one numeric array per file",
                           f->path, descr_at);
                return GN_ERR_FORMAT;
            }
            st = parse_string(&c, f->descr, "the dtype as a string, e.g. '<f4'");
        } else if (which == FORTRAN) {
            st = parse_bool(&c, &f->fortran);
        } else {
            st = parse_shape(&c, f);
        }
        if (st != GN_OK)
            return st;
        skip_spaces(&c);
        if (accept(&c, ',')) {
            skip_spaces(&c);
        } else if (c.at >= c.len || c.s[c.at] != '}') {
            return bad(&c, "',' or '}' after a value");
        }
    }
    if (have != (DESCR | FORTRAN | SHAPE)) {
        gn__format(err, errlen, "%s: bad .npy header at byte %zu: the key '%s' is missing", f->path,
                   base + c.at - 1,
                   !(have & DESCR)     ? "descr"
                   : !(have & FORTRAN) ? "fortran_order"
                                       : "shape");
        return GN_ERR_FORMAT;
    }
    skip_spaces(&c);
    if (!(c.at + 1 == c.len && c.s[c.at] == '\n'))
        return bad(&c, c.at < c.len ? "spaces and a final newline after the dict"
                                    : "a newline at the end of the header");
    return check_descr(f, descr_at, err, errlen);
}

/* Reads and checks the prefix and header, then the shape against the limits and the data
 * length against the file's. `what` is "features", "labels" or "targets"; max_ndim bounds the
 * rank (features: 32, labels: 1, targets: 2). */
static gn_status check_file(npy_file *f, uint64_t file_len, const char *what, unsigned max_ndim,
                            char *err, size_t errlen)
{
    unsigned char pre[PREFIX_V2];
    size_t got;
    gn_status st = read_bytes(f, pre, PREFIX_V1, &got, err, errlen);
    if (st != GN_OK)
        return st;
    size_t magic_ok = 0;
    while (magic_ok < got && magic_ok < 6 && pre[magic_ok] == (unsigned char)"\x93NUMPY"[magic_ok])
        magic_ok++;
    if (magic_ok < 6 && magic_ok < got) {
        gn__format(err, errlen,
                   "%s: bad magic at byte %zu: not a .npy file (it must begin with \\x93NUMPY)",
                   f->path, magic_ok);
        return GN_ERR_FORMAT;
    }
    if (got < PREFIX_V1) {
        gn__format(err, errlen, "%s: file ends inside the .npy prefix (%zu of its %d bytes)",
                   f->path, got, PREFIX_V1);
        return GN_ERR_FORMAT;
    }
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        gn__format(err, errlen,
                   "%s: .npy version %u.%u at byte 6 is not supported (1.0, 2.0 and 3.0 are)",
                   f->path, major, minor);
        return GN_ERR_FORMAT;
    }
    size_t prefix = major == 1 ? PREFIX_V1 : PREFIX_V2;
    if (major > 1) {
        st = read_bytes(f, pre + PREFIX_V1, 2, &got, err, errlen);
        if (st != GN_OK)
            return st;
        if (got < 2) {
            gn__format(err, errlen, "%s: file ends inside the .npy prefix (%zu of its %d bytes)",
                       f->path, PREFIX_V1 + got, PREFIX_V2);
            return GN_ERR_FORMAT;
        }
    }
    uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    if (major > 1)
        hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    if (hlen == 0 || hlen > MAX_HEADER) {
        gn__format(err, errlen, "%s: header length %" PRIu32 " at byte 8 is %s", f->path, hlen,
                   hlen ? "beyond the limit of 1 MiB" : "zero");
        return GN_ERR_FORMAT;
    }
    if ((uint64_t)prefix + hlen > file_len) {
        gn__format(err, errlen,
                   "%s: file ends inside the header: it has %" PRIu64 " bytes, the header "
                   "length at byte 8 says %zu",
                   f->path, file_len, prefix + hlen);
        return GN_ERR_FORMAT;
    }
    char *h = malloc(hlen);
    if (!h) {
        gn__format(err, errlen, "%s: out of memory for a header of %" PRIu32 " bytes", f->path,
                   hlen);
        return GN_ERR_NOMEM;
    }
    st = read_bytes(f, h, hlen, &got, err, errlen);
    if (st == GN_OK && got < hlen) {
        gn__format(err, errlen, "%s: file ends inside the header (%zu of its %" PRIu32 " bytes)",
                   f->path, got, hlen);
        st = GN_ERR_FORMAT;
    }
    if (st == GN_OK)
        st = parse_header(f, h, hlen, prefix, err, errlen);
    free(h);
    if (st != GN_OK)
        return st;

    if (f->ndim == 0) {
        gn__format(err, errlen,
                   "%s: a 0-d array (shape ()) has no samples: the first axis "
                   "counts them",
                   f->path);
        return GN_ERR_FORMAT;
    }
    if (f->ndim > max_ndim) {
        gn__format(err, errlen, "%s: %s need %s, the shape has %u dimensions", f->path, what,
                   max_ndim == 1 ? "1 dimension (n,)" : "1 or 2 dimensions ((n,) or (n, k))",
                   f->ndim);
        return GN_ERR_FORMAT;
    }
    if (f->dims[0] == 0) {
        gn__format(err, errlen, "%s: no samples (the first dimension is 0)", f->path);
        return GN_ERR_FORMAT;
    }
    if (f->dims[0] > MAX_SAMPLES) {
        gn__format(err, errlen, "%s: %" PRIu64 " samples exceed the limit of 2^31", f->path,
                   f->dims[0]);
        return GN_ERR_FORMAT;
    }
    uint64_t per = 1;
    for (unsigned d = 1; d < f->ndim; d++) {
        if (f->dims[d] == 0) {
            gn__format(err, errlen, "%s: dimension %u of %u is 0: no %s per sample", f->path, d + 1,
                       f->ndim, what);
            return GN_ERR_FORMAT;
        }
        if (f->dims[d] > MAX_FEATURES || (per *= f->dims[d]) > MAX_FEATURES) {
            gn__format(err, errlen,
                       "%s: more than 2^24 %s per sample (dimension %u is %" PRIu64 ")", f->path,
                       what, d + 1, f->dims[d]);
            return GN_ERR_FORMAT;
        }
    }
    f->n = (size_t)f->dims[0];
    f->per_sample = (size_t)per;
    for (size_t d = f->ndim, stride = 1; d-- > 1;) {
        f->strides[d] = stride;
        stride *= (size_t)f->dims[d];
    }
    size_t count;
    if (!mul_ok(f->n, f->per_sample, &count) || !mul_ok(count, f->size, &f->data_bytes)) {
        gn__format(err, errlen, "%s: %zu samples of %zu elements exceed the address space", f->path,
                   f->n, f->per_sample);
        return GN_ERR_FORMAT;
    }
    uint64_t after = file_len - prefix - hlen;
    if (after < f->data_bytes) {
        gn__format(err, errlen,
                   "%s: truncated: shape and dtype '%s' need %zu bytes of data, the file has "
                   "%" PRIu64,
                   f->path, f->descr, f->data_bytes, after);
        return GN_ERR_FORMAT;
    }
    if (after > f->data_bytes) {
        gn__format(err, errlen,
                   "%s: trailing bytes: %" PRIu64 " after the %zu bytes of data the header "
                   "announces",
                   f->path, after - f->data_bytes, f->data_bytes);
        return GN_ERR_FORMAT;
    }
    return GN_OK;
}

static gn_status npy_open(npy_file *f, const char *path, const char *what, unsigned max_ndim,
                          char *err, size_t errlen)
{
    *f = (npy_file){.path = path, .fd = -1};
    int fd;
    uint64_t file_len; /* the size checks need it, which only a regular file has */
    gn_status st = gn__open_regular(path, &fd, &file_len, err, errlen);
    if (st != GN_OK)
        return st;
    f->fd = fd;
    st = check_file(f, file_len, what, max_ndim, err, errlen);
    if (st != GN_OK) {
        close(fd);
        f->fd = -1;
    }
    return st;
}

static void npy_close(npy_file *f)
{
    if (f->fd >= 0)
        close(f->fd); /* read-only: a failed close loses nothing */
    f->fd = -1;
}

/*---- the data ----*/

/* Element e of the file as a double: exact for every type but 64-bit integers beyond 2^53,
 * which round. Little-endian decoding whatever the host's order. */
static double element(const npy_file *f, const unsigned char *p)
{
    uint64_t u = 0;
    for (unsigned b = 0; b < f->size; b++)
        u |= (uint64_t)p[b] << 8 * b;
    if (f->kind == 'f') {
        if (f->size == 4) {
            uint32_t u32 = (uint32_t)u;
            float v;
            memcpy(&v, &u32, sizeof v);
            return v;
        }
        double v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    uint64_t sign = (uint64_t)1 << (8 * f->size - 1), mask = sign | (sign - 1);
    if (f->kind == 'u' || !(u & sign))
        return (double)u;
    return -(double)(~u & mask) - 1.0; /* u − 2^bits, without a signed shift */
}

/* Where element e of the file (in its storage order) goes among `rows` values per sample,
 * sample-major: (sample j, row i) → i + j·rows. In C order that is e itself. In Fortran order
 * the sample index varies fastest, and the remaining index r = e / n counts the other
 * dimensions first-fastest, while rows are flattened row-major (last-fastest). */
static size_t destination(const npy_file *f, size_t e)
{
    if (!f->fortran || f->ndim == 1)
        return e;
    size_t j = e % f->n, r = e / f->n, row = 0;
    if (f->ndim == 2)
        return r + j * f->per_sample;
    for (unsigned d = 1; d < f->ndim; d++) {
        row += (r % (size_t)f->dims[d]) * f->strides[d];
        r /= (size_t)f->dims[d];
    }
    return row + j * f->per_sample;
}

/* Reads the data after the header into out (n · per_sample values, sample-major), as floats
 * (X) or doubles (targets). Floats must be finite and within the float range. */
static gn_status read_data(const npy_file *f, float *xf, double *xd, char *err, size_t errlen)
{
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
        gn__format(err, errlen, "%s: out of memory", f->path);
        return GN_ERR_NOMEM;
    }
    size_t total = f->n * f->per_sample, per_chunk = CHUNK / f->size;
    gn_status st = GN_OK;
    for (size_t e0 = 0; e0 < total && st == GN_OK; e0 += per_chunk) {
        size_t m = total - e0 < per_chunk ? total - e0 : per_chunk, got;
        st = read_bytes(f, buf, m * f->size, &got, err, errlen);
        if (st == GN_OK && got < m * f->size) { /* the file shrank since its length was taken */
            gn__format(err, errlen, "%s: truncated while reading: %zu of %zu bytes of data",
                       f->path, e0 * f->size + got, f->data_bytes);
            st = GN_ERR_FORMAT;
        }
        for (size_t i = 0; i < m && st == GN_OK; i++) {
            size_t e = e0 + i, to = destination(f, e);
            double v = element(f, buf + i * f->size);
            if (xd) {
                xd[to] = v;
            } else if (fabs(v) <= (double)FLT_MAX) {
                xf[to] = (float)v;
            } else {
                char why[64];
                gn__format(err, errlen, "%s: element %zu (sample %zu, feature %zu) is %s", f->path,
                           e, to / f->per_sample, to % f->per_sample,
                           gn__array_bad_value(v, why, sizeof why));
                st = GN_ERR_NONFINITE;
            }
        }
    }
    free(buf);
    return st;
}

gn_status gn_dataset_load_npy(gn_dataset **out, const char *x_path, const char *y_path,
                              const gn_array_options *opt, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return GN_ERR_NULL;
    *out = NULL;
    if (!x_path) {
        gn__format(err, errlen, "no features path given");
        return GN_ERR_NULL;
    }
    gn_array_options defaults;
    gn_array_options_defaults(&defaults);
    if (!opt)
        opt = &defaults;
    gn_status st = gn__array_check_options(opt, err, errlen);
    if (st != GN_OK)
        return st;

    npy_file xf, yf = {.fd = -1};
    double *y = NULL;
    gn_dataset *ds = NULL;
    size_t n_out = opt->n_classes ? opt->n_classes : 1;
    if ((st = npy_open(&xf, x_path, "features", MAX_DIMS, err, errlen)) != GN_OK)
        return st;
    if (y_path) {
        const char *what = opt->regression ? "targets" : "labels";
        if ((st = npy_open(&yf, y_path, what, opt->regression ? 2 : 1, err, errlen)) != GN_OK)
            goto done;
        if (yf.n != xf.n) {
            gn__format(err, errlen, "%s has %zu samples but %s has %zu %s", x_path, xf.n, y_path,
                       yf.n, what);
            st = GN_ERR_FORMAT;
            goto done;
        }
        /* The targets first: they are small, and a bad one fails before the features are
         * read. */
        y = malloc(yf.n * yf.per_sample * sizeof *y);
        if (!y) {
            gn__format(err, errlen, "%s: out of memory for %zu %s", y_path, yf.n, what);
            st = GN_ERR_NOMEM;
            goto done;
        }
        if ((st = read_data(&yf, NULL, y, err, errlen)) != GN_OK ||
            (st = gn__array_check_targets(y, yf.n, yf.per_sample, opt, y_path, &n_out, err,
                                          errlen)) != GN_OK)
            goto done;
    }
    ds = gn__dataset_new(xf.n, xf.per_sample, n_out, NULL);
    if (!ds) {
        gn__format(err, errlen, "%s: out of memory for %zu × %zu features and %zu × %zu targets",
                   x_path, xf.per_sample, xf.n, n_out, xf.n);
        st = GN_ERR_NOMEM;
        goto done;
    }
    if ((st = read_data(&xf, ds->own_x, NULL, err, errlen)) != GN_OK)
        goto done;
    if (y)
        gn__array_fill_targets(ds->own_y, y, xf.n, n_out, opt->regression);

done:
    npy_close(&xf);
    npy_close(&yf);
    free(y);
    if (st != GN_OK) {
        gn_dataset_free(ds);
        return st;
    }
    *out = ds;
    return GN_OK;
}
