/* Datasets: CSV loading into column-major feature and one-hot target matrices, and splits. */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r */
#include "internal.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CLASSES = 65536, MAX_NUMBER_CHARS = 255 }; /* as documented in gemmnet.h */
#define MAX_LINE_BYTES ((size_t)8 << 20)              /* likewise */

void gn_csv_options_defaults(gn_csv_options *opt)
{
    if (!opt)
        return;
    opt->header = -1;
    opt->label_column = -1;
    opt->delimiter = ',';
    opt->regression = 0;
}

void gn_dataset_free(gn_dataset *ds)
{
    if (!ds)
        return;
    gn__free(ds->own_x);
    gn__free(ds->own_y);
    free(ds);
}

gn_dataset *gn__dataset_new(size_t n, size_t n_features, size_t n_outputs, float *X)
{
    gn_dataset *ds = calloc(1, sizeof *ds);
    size_t nx, ny;
    if (!ds || !mul_ok(n, n_features, &nx) || !mul_ok(n, n_outputs, &ny)) {
        free(ds);
        return NULL;
    }
    ds->n = n;
    ds->n_features = ds->ldx = n_features;
    ds->n_outputs = ds->ldy = n_outputs;
    ds->own_x = X ? X : gn__alloc_floats(nx);
    ds->own_y = gn__alloc_floats(ny);
    if (!ds->own_x || !ds->own_y) {
        if (X)
            ds->own_x = NULL;
        gn_dataset_free(ds);
        return NULL;
    }
    ds->X = ds->own_x;
    ds->Y = ds->own_y;
    return ds;
}

gn_status gn_dataset_wrap(gn_dataset **out, const float *X, size_t ldx, const float *Y, size_t ldy,
                          size_t n_features, size_t n_outputs, size_t n)
{
    return gn_dataset_wrap_layout(out, GN_SAMPLES_IN_COLUMNS, X, ldx, Y, ldy, n_features, n_outputs,
                                  n);
}

gn_status gn_dataset_wrap_layout(gn_dataset **out, gn_layout layout, const float *X, size_t ldx,
                                 const float *Y, size_t ldy, size_t n_features, size_t n_outputs,
                                 size_t n)
{
    if (!out)
        return GN_ERR_NULL;
    *out = NULL;
    if (!X || !Y)
        return GN_ERR_NULL;
    if (layout != GN_SAMPLES_IN_COLUMNS && layout != GN_SAMPLES_IN_ROWS)
        return GN_ERR_ARG;
    bool rows = layout == GN_SAMPLES_IN_ROWS;
    /* the ld spans the samples (rows) or the features (columns), the other size counts lds */
    size_t x_min = rows ? n : n_features, y_min = rows ? n : n_outputs;
    size_t x_count = rows ? n_features : n, y_count = rows ? n_outputs : n, span;
    if (n == 0 || n_features == 0 || n_outputs == 0 || ldx < x_min || ldy < y_min ||
        ldx > INT_MAX || ldy > INT_MAX || !mul_ok(x_count, ldx, &span) ||
        !mul_ok(y_count, ldy, &span))
        return GN_ERR_DIM;
    gn_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return GN_ERR_NOMEM;
    *ds = (gn_dataset){.n = n,
                       .n_features = n_features,
                       .n_outputs = n_outputs,
                       .ldx = ldx,
                       .ldy = ldy,
                       .layout = layout,
                       .X = X,
                       .Y = Y};
    *out = ds;
    return GN_OK;
}

gn_status gn_dataset_mean_std(const gn_dataset *ds, int y_part, float *mean, float *std)
{
    if (!ds || !mean || !std)
        return GN_ERR_NULL;
    const float *M = y_part ? ds->Y : ds->X;
    size_t rows = y_part ? ds->n_outputs : ds->n_features, fs, ss;
    gn__strides(ds->layout, y_part ? ds->ldy : ds->ldx, &fs, &ss);
    /* Two passes in double (mean, then squared deviations): no cancellation for data far
     * from zero, unlike Σx² − n·mean². */
    for (size_t i = 0; i < rows; i++) {
        double s = 0.0, q = 0.0;
        for (size_t j = 0; j < ds->n; j++)
            s += M[i * fs + j * ss];
        double mu = s / (double)ds->n;
        for (size_t j = 0; j < ds->n; j++) {
            double d = M[i * fs + j * ss] - mu;
            q += d * d;
        }
        double sd = sqrt(q / (double)ds->n);
        if (!isfinite(mu) || !isfinite(sd) || fabs(mu) > FLT_MAX || sd > FLT_MAX)
            return GN_ERR_NONFINITE;
        mean[i] = (float)mu;
        /* a row that is constant up to rounding (or whose std has no finite float inverse)
         * is left unscaled instead of divided by ~0; small but real spreads are kept */
        std[i] = sd > 1e-6 * fabs(mu) && sd > 1e-30 ? (float)sd : 1.0f;
    }
    return GN_OK;
}

size_t gn_dataset_n_samples(const gn_dataset *ds) { return ds ? ds->n : 0; }
size_t gn_dataset_n_features(const gn_dataset *ds) { return ds ? ds->n_features : 0; }
size_t gn_dataset_n_outputs(const gn_dataset *ds) { return ds ? ds->n_outputs : 0; }
const float *gn_dataset_x(const gn_dataset *ds) { return ds ? ds->X : NULL; }
const float *gn_dataset_y(const gn_dataset *ds) { return ds ? ds->Y : NULL; }
size_t gn_dataset_ldx(const gn_dataset *ds) { return ds ? ds->ldx : 0; }
size_t gn_dataset_ldy(const gn_dataset *ds) { return ds ? ds->ldy : 0; }
gn_layout gn_dataset_layout(const gn_dataset *ds)
{
    return ds ? ds->layout : GN_SAMPLES_IN_COLUMNS;
}

/*---- CSV ----*/

/* Reads a whole file into a NUL-terminated buffer. */
static gn_status read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    char why[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        gn__format(err, errlen, "%s: cannot open: %s", path,
                   gn__errno_text(errno, why, sizeof why));
        return GN_ERR_IO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    gn_status st = buf ? GN_OK : GN_ERR_NOMEM;
    while (st == GN_OK) {
        if (cap - n < 2) {
            char *nb = cap <= ((size_t)-1) / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                st = GN_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                gn__format(err, errlen, "%s: read error: %s", path,
                           gn__errno_text(errno, why, sizeof why));
                st = GN_ERR_IO;
            }
            break;
        }
    }
    fclose(f); /* read-only: nothing to lose if close fails */
    if (st != GN_OK) {
        if (st == GN_ERR_NOMEM)
            gn__format(err, errlen, "%s: out of memory reading the file", path);
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return GN_OK;
}

/* A field of a line: [begin, end) with surrounding blanks and quotes removed. */
typedef struct field {
    const char *begin, *end;
} field;

static field trim(const char *b, const char *e)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    if (e - b >= 2 && *b == '"' && e[-1] == '"') {
        b++;
        e--;
    }
    return (field){b, e};
}

/* Splits [b, e) at delim into at most cap fields; returns the number of fields found
 * (may exceed cap, then only cap are stored). */
static size_t split(const char *b, const char *e, char delim, field *f, size_t cap)
{
    size_t count = 0;
    for (;;) {
        const char *d = memchr(b, delim, (size_t)(e - b));
        const char *fe = d ? d : e;
        if (count < cap)
            f[count] = trim(b, fe);
        count++;
        if (!d)
            return count;
        b = d + 1;
    }
}

/* Parses a whole field as a number. */
static bool parse_number(field f, double *out)
{
    char tmp[MAX_NUMBER_CHARS + 1];
    size_t len = (size_t)(f.end - f.begin);
    if (len == 0 || len >= sizeof tmp)
        return false;
    memcpy(tmp, f.begin, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + len)
        return false;
    *out = v;
    return true;
}

/* Next line [*b, *e) starting at *pos; false at the end of the buffer. */
static bool next_line(const char **pos, const char *limit, const char **b, const char **e)
{
    if (*pos >= limit)
        return false;
    *b = *pos;
    const char *nl = memchr(*pos, '\n', (size_t)(limit - *pos));
    *e = nl ? nl : limit;
    *pos = nl ? nl + 1 : limit;
    if (*e > *b && (*e)[-1] == '\r')
        (*e)--;
    return true;
}

static bool blank(const char *b, const char *e)
{
    for (; b < e; b++)
        if (!isspace((unsigned char)*b))
            return false;
    return true;
}

typedef struct label_map {
    size_t count;
    field names[MAX_CLASSES]; /* point into the file buffer */
} label_map;

static long label_index(label_map *map, field f)
{
    size_t len = (size_t)(f.end - f.begin);
    for (size_t i = 0; i < map->count; i++)
        if ((size_t)(map->names[i].end - map->names[i].begin) == len &&
            memcmp(map->names[i].begin, f.begin, len) == 0)
            return (long)i;
    if (map->count == MAX_CLASSES)
        return -1;
    map->names[map->count] = f;
    return (long)map->count++;
}

typedef struct csv_state {
    const char *path;
    char *err;
    size_t errlen;
} csv_state;

static gn_status csv_fail(const csv_state *cs, gn_status st, size_t line, size_t col,
                          const char *what, field f)
{
    int len = (int)(f.end - f.begin);
    if (len > 40)
        len = 40;
    if (col)
        gn__format(cs->err, cs->errlen, "%s:%zu: column %zu: %s: '%.*s'", cs->path, line, col, what,
                   len, f.begin);
    else
        gn__format(cs->err, cs->errlen, "%s:%zu: %s", cs->path, line, what);
    return st;
}

static gn_status parse_csv(const char *buf, size_t len, const gn_csv_options *opt,
                           const csv_state *cs, gn_dataset **out)
{
    const char *pos = buf, *limit = buf + len, *b, *e;
    size_t line = 0, first_line = 0, n_cols = 0, n_rows = 0;
    field probe[1];

    /* Pass 1: the column count from the first non-blank line, the number of data rows. */
    bool have_header = false;
    while (next_line(&pos, limit, &b, &e)) {
        line++;
        if ((size_t)(e - b) > MAX_LINE_BYTES)
            return csv_fail(cs, GN_ERR_FORMAT, line, 0, "line longer than 8 MiB", (field){0});
        if (blank(b, e))
            continue;
        if (!n_cols) {
            n_cols = split(b, e, opt->delimiter, probe, 0);
            first_line = line;
            if (opt->header == 1) {
                have_header = true;
                continue;
            }
            if (opt->header == -1) {
                /* auto: any non-numeric field in the first line makes it a header */
                const char *p = b;
                for (size_t c = 0; c < n_cols && !have_header; c++) {
                    const char *d = memchr(p, opt->delimiter, (size_t)(e - p));
                    double v;
                    if (!parse_number(trim(p, d ? d : e), &v))
                        have_header = true;
                    p = d ? d + 1 : e;
                }
                if (have_header)
                    continue;
            }
        }
        n_rows++;
    }
    if (n_rows == 0) {
        gn__format(cs->err, cs->errlen, "%s: no data rows", cs->path);
        return GN_ERR_FORMAT;
    }
    if (n_cols < 2)
        return csv_fail(cs, GN_ERR_FORMAT, first_line, 0,
                        "need at least one feature column and a label column", (field){0});
    size_t label_col = opt->label_column < 0 ? n_cols - 1 : (size_t)opt->label_column;
    if (label_col >= n_cols) {
        gn__format(cs->err, cs->errlen,
                   "%s: label column %ld (0-based) is not one of the %zu columns", cs->path,
                   opt->label_column, n_cols);
        return GN_ERR_FORMAT;
    }

    size_t nx, n_feat = n_cols - 1;
    float *X = mul_ok(n_rows, n_feat, &nx) ? gn__alloc_floats(nx) : NULL;
    long *labels = calloc(n_rows, sizeof *labels);
    float *targets = opt->regression ? calloc(n_rows, sizeof *targets) : NULL;
    field *fields = calloc(n_cols, sizeof *fields);
    label_map *map = NULL;
    gn_status st = X && labels && fields && (targets || !opt->regression) ? GN_OK : GN_ERR_NOMEM;
    int numeric_labels = -1; /* decided by the first data row */
    long max_label = -1;

    /* Pass 2: parse. */
    pos = buf;
    line = 0;
    size_t row = 0;
    bool skip_header = have_header;
    while (st == GN_OK && next_line(&pos, limit, &b, &e)) {
        line++;
        if (blank(b, e))
            continue;
        if (skip_header) {
            skip_header = false;
            continue;
        }
        size_t got = split(b, e, opt->delimiter, fields, n_cols);
        if (got != n_cols) {
            char what[96];
            gn__format(what, sizeof what, "expected %zu fields, found %zu", n_cols, got);
            st = csv_fail(cs, GN_ERR_FORMAT, line, 0, what, (field){0});
            break;
        }
        for (size_t c = 0, fc = 0; c < n_cols && st == GN_OK; c++) {
            double v;
            bool num = parse_number(fields[c], &v);
            if (c == label_col && opt->regression) {
                if (!num)
                    st = csv_fail(cs, GN_ERR_FORMAT, line, c + 1, "target is not a number",
                                  fields[c]);
                else if (!isfinite(v) || fabs(v) > FLT_MAX)
                    st = csv_fail(cs, GN_ERR_NONFINITE, line, c + 1, "target is not a finite float",
                                  fields[c]);
                else
                    targets[row] = (float)v;
                continue;
            }
            if (c == label_col) {
                if (numeric_labels < 0)
                    numeric_labels = num;
                if (numeric_labels) {
                    if (!num || v < 0 || v != floor(v) || v >= MAX_CLASSES)
                        st = csv_fail(cs, GN_ERR_FORMAT, line, c + 1,
                                      "class label is not an integer in [0, 65535]", fields[c]);
                    else
                        labels[row] = (long)v;
                } else {
                    if (!map && !(map = calloc(1, sizeof *map)))
                        st = GN_ERR_NOMEM;
                    else if (fields[c].begin == fields[c].end ||
                             (labels[row] = label_index(map, fields[c])) < 0)
                        st = csv_fail(cs, GN_ERR_FORMAT, line, c + 1,
                                      "empty label or more than 65536 classes", fields[c]);
                }
                if (st == GN_OK && labels[row] > max_label)
                    max_label = labels[row];
                continue;
            }
            if (!num)
                st = csv_fail(cs, GN_ERR_FORMAT, line, c + 1, "not a number", fields[c]);
            else if (!isfinite(v) || fabs(v) > FLT_MAX)
                st = csv_fail(cs, GN_ERR_NONFINITE, line, c + 1, "not a finite float", fields[c]);
            else
                X[fc++ + row * n_feat] = (float)v;
        }
        row++;
    }

    gn_dataset *ds = NULL;
    if (st == GN_OK) {
        size_t n_out = opt->regression ? 1 : (size_t)max_label + 1;
        ds = gn__dataset_new(n_rows, n_feat, n_out, X);
        if (!ds)
            st = GN_ERR_NOMEM;
    }
    if (st == GN_OK) {
        X = NULL; /* now the dataset's */
        for (size_t j = 0; j < n_rows; j++)
            if (opt->regression)
                ds->own_y[j] = targets[j];
            else
                ds->own_y[(size_t)labels[j] + j * ds->n_outputs] = 1.0f;
        *out = ds;
    }
    if (st == GN_ERR_NOMEM)
        gn__format(cs->err, cs->errlen, "%s: out of memory", cs->path);
    gn__free(X);
    free(labels);
    free(targets);
    free(fields);
    free(map);
    return st;
}

gn_status gn_dataset_load_csv(gn_dataset **out, const char *path, const gn_csv_options *opt,
                              char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return GN_ERR_NULL;
    *out = NULL;
    if (!path) {
        gn__format(err, errlen, "no path given");
        return GN_ERR_NULL;
    }
    gn_csv_options defaults;
    gn_csv_options_defaults(&defaults);
    if (!opt)
        opt = &defaults;
    /* A delimiter that can be part of a number or a line end would split fields silently. */
    unsigned char dc = (unsigned char)opt->delimiter;
    if (opt->header < -1 || opt->header > 1 || opt->label_column < -1 ||
        (opt->regression != 0 && opt->regression != 1) || dc == '\0' || dc == '\n' || dc == '\r' ||
        dc == '"' || isalnum(dc) || strchr(".+-", dc)) {
        gn__format(err, errlen,
                   "%s: invalid CSV options (header %d, label column %ld, delimiter %d)", path,
                   opt->header, opt->label_column, (int)opt->delimiter);
        return GN_ERR_ARG;
    }
    char *buf;
    size_t len;
    gn_status st = read_file(path, &buf, &len, err, errlen);
    if (st != GN_OK)
        return st;
    csv_state cs = {path, err, errlen};
    size_t skip = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* UTF-8 BOM */
    st = parse_csv(buf + skip, len - skip, opt, &cs, out);
    free(buf);
    return st;
}

gn_status gn_dataset_split(const gn_dataset *ds, double frac, uint64_t seed, gn_dataset **first,
                           gn_dataset **second)
{
    if (first)
        *first = NULL;
    if (second)
        *second = NULL;
    if (!ds || !first || !second)
        return GN_ERR_NULL;
    if (!(frac > 0.0 && frac < 1.0))
        return GN_ERR_ARG;
    size_t n1 = (size_t)llround(frac * (double)ds->n);
    if (n1 == 0 || n1 >= ds->n)
        return GN_ERR_ARG;
    size_t *perm = calloc(ds->n, sizeof *perm);
    gn_dataset *a = gn__dataset_new(n1, ds->n_features, ds->n_outputs, NULL);
    gn_dataset *b = gn__dataset_new(ds->n - n1, ds->n_features, ds->n_outputs, NULL);
    if (!perm || !a || !b) {
        free(perm);
        gn_dataset_free(a);
        gn_dataset_free(b);
        return GN_ERR_NOMEM;
    }
    gn_rng rng;
    gn_rng_seed(&rng, seed);
    for (size_t i = 0; i < ds->n; i++)
        perm[i] = i;
    gn__shuffle(&rng, perm, ds->n);
    size_t xf, xs, yf, ys;
    gn__strides(ds->layout, ds->ldx, &xf, &xs);
    gn__strides(ds->layout, ds->ldy, &yf, &ys);
    for (size_t j = 0; j < ds->n; j++) {
        gn_dataset *d = j < n1 ? a : b;
        size_t col = j < n1 ? j : j - n1;
        float *dx = d->own_x + col * d->n_features, *dy = d->own_y + col * d->n_outputs;
        const float *sx = ds->X + perm[j] * xs, *sy = ds->Y + perm[j] * ys;
        for (size_t i = 0; i < ds->n_features; i++)
            dx[i] = sx[i * xf];
        for (size_t i = 0; i < ds->n_outputs; i++)
            dy[i] = sy[i * yf];
    }
    free(perm);
    *first = a;
    *second = b;
    return GN_OK;
}
