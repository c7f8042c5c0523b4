/* IDX loading (MNIST, Fashion-MNIST), plain or gzip. Every size the header claims is checked
 * against the file before anything large is allocated, and the payload is read in bounded
 * chunks, so a lying header costs neither memory nor time. */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r, O_CLOEXEC */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum {
    MAX_DIMS = 8,          /* as documented in gemmnet.h */
    MAX_CLASSES = 256,     /* labels are bytes */
    CHUNK = 1 << 20,       /* bytes per read: bounds the bounce buffer and each gzread */
    GZ_BUFFER = 256 << 10, /* zlib's input buffer (its default of 8 KiB costs many syscalls) */
};
#define MAX_SAMPLES  ((uint64_t)1 << 31)
#define MAX_FEATURES ((uint64_t)1 << 24)
/* Deflate expands at most about 1032:1, so a gzip file of c bytes never holds more than
 * GZ_RATIO·c + GZ_SLACK bytes; a header claiming more is lying. */
#define GZ_RATIO 1100u
#define GZ_SLACK (64u << 10)

typedef struct idx_file {
    const char *path;
    const char *what; /* "pixel data" or "label data", for messages */
    gzFile gz;
    size_t n;          /* first dimension: the number of samples */
    size_t per_sample; /* product of the other dimensions */
    size_t payload;    /* n · per_sample bytes after the header */
} idx_file;

/* zlib's message for the last error, without the "<fd:N>: " that gzdopen puts first. */
static const char *gz_text(gzFile gz, int *errnum)
{
    const char *msg = gzerror(gz, errnum);
    const char *sep = msg && strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ": ") : NULL;
    return sep ? sep + 2 : msg ? msg : "unknown error";
}

/* The status and message for a failed gzread; e is errno right after the call. */
static gn_status read_failed(const idx_file *f, int e, char *err, size_t errlen)
{
    int errnum = Z_OK;
    const char *msg = gz_text(f->gz, &errnum);
    char why[128];
    switch (errnum) {
    case Z_ERRNO:
        gn__format(err, errlen, "%s: read error: %s", f->path, gn__errno_text(e, why, sizeof why));
        return GN_ERR_IO;
    case Z_MEM_ERROR:
        gn__format(err, errlen, "%s: out of memory decompressing the file", f->path);
        return GN_ERR_NOMEM;
    default: /* Z_DATA_ERROR, Z_BUF_ERROR (the compressed stream is cut short), … */
        gn__format(err, errlen, "%s: corrupt gzip data: %s", f->path, msg);
        return GN_ERR_FORMAT;
    }
}

/* Reads up to len bytes; *got < len only at the end of the data. */
static gn_status read_bytes(const idx_file *f, unsigned char *buf, size_t len, size_t *got,
                            char *err, size_t errlen)
{
    *got = 0;
    while (*got < len) {
        size_t want = len - *got < CHUNK ? len - *got : CHUNK;
        errno = 0;
        int r = gzread(f->gz, buf + *got, (unsigned)want);
        if (r < 0)
            return read_failed(f, errno, err, errlen);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return GN_OK;
}

/* zlib keeps going after a compressed stream that stops without its end (Z_BUF_ERROR): its
 * reads just come up short. This names that case in the message of a short read. */
static const char *cut_note(const idx_file *f)
{
    int errnum = Z_OK;
    gzerror(f->gz, &errnum);
    return errnum == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "";
}

static gn_status truncated(const idx_file *f, size_t found, char *err, size_t errlen)
{
    gn__format(err, errlen, "%s: truncated: expected %zu bytes of %s, found %zu%s", f->path,
               f->payload, f->what, found, cut_note(f));
    return GN_ERR_FORMAT;
}

/* After the payload: one more byte must not exist. Reading it also makes zlib check the gzip
 * trailer (CRC and length). */
static gn_status expect_end(const idx_file *f, char *err, size_t errlen)
{
    unsigned char extra;
    size_t got;
    gn_status st = read_bytes(f, &extra, 1, &got, err, errlen);
    if (st == GN_OK && got != 0) {
        gn__format(err, errlen, "%s: trailing bytes after the %zu bytes of %s the header announces",
                   f->path, f->payload, f->what);
        st = GN_ERR_FORMAT;
    } else if (st == GN_OK && *cut_note(f)) {
        gn__format(err, errlen,
                   "%s: corrupt gzip data: the stream is cut short after the %zu bytes of %s",
                   f->path, f->payload, f->what);
        st = GN_ERR_FORMAT;
    }
    return st;
}

static const char *type_name(unsigned t)
{
    switch (t) {
    case 0x09: return "signed bytes";
    case 0x0B: return "16-bit integers";
    case 0x0C: return "32-bit integers";
    case 0x0D: return "32-bit floats";
    case 0x0E: return "64-bit floats";
    default: return NULL;
    }
}

/* Reads and checks the header (magic, dimensions, limits) and checks the length of the file
 * against it: exactly for a plain file, against the deflate bound for a gzip file. */
static gn_status check_header(idx_file *f, bool labels, uint64_t file_len, char *err, size_t errlen)
{
    unsigned char head[4 + 4 * MAX_DIMS];
    size_t got;
    gn_status st = read_bytes(f, head, 4, &got, err, errlen);
    if (st != GN_OK)
        return st;
    if (got < 4) {
        gn__format(err, errlen, "%s: file ends inside the IDX header (%zu bytes)%s", f->path, got,
                   cut_note(f));
        return GN_ERR_FORMAT;
    }
    if (head[0] != 0 || head[1] != 0) {
        gn__format(err, errlen,
                   "%s: bad magic %02X %02X %02X %02X: not an IDX file (it must begin with two "
                   "zero bytes)",
                   f->path, head[0], head[1], head[2], head[3]);
        return GN_ERR_FORMAT;
    }
    if (head[2] != 0x08) {
        const char *name = type_name(head[2]);
        if (name)
            gn__format(err, errlen,
                       "%s: unsupported IDX element type 0x%02X, %s (only unsigned bytes, 0x08)",
                       f->path, head[2], name);
        else
            gn__format(err, errlen,
                       "%s: unknown IDX element type 0x%02X (only unsigned bytes, 0x08)", f->path,
                       head[2]);
        return GN_ERR_FORMAT;
    }
    unsigned ndim = head[3];
    if (labels && ndim != 1) {
        gn__format(err, errlen, "%s: labels need 1 dimension, the header gives %u", f->path, ndim);
        return GN_ERR_FORMAT;
    }
    if (!labels && ndim < 2) {
        gn__format(err, errlen,
                   "%s: images need at least 2 dimensions (the count and a sample shape), the "
                   "header gives %u",
                   f->path, ndim);
        return GN_ERR_FORMAT;
    }
    if (ndim > MAX_DIMS) {
        gn__format(err, errlen, "%s: %u dimensions, more than the %d supported", f->path, ndim,
                   MAX_DIMS);
        return GN_ERR_FORMAT;
    }
    size_t header_len = 4 + 4 * (size_t)ndim;
    st = read_bytes(f, head + 4, header_len - 4, &got, err, errlen);
    if (st != GN_OK)
        return st;
    if (got < header_len - 4) {
        gn__format(err, errlen, "%s: file ends inside the IDX header (%zu of its %zu bytes)%s",
                   f->path, 4 + got, header_len, cut_note(f));
        return GN_ERR_FORMAT;
    }
    uint64_t dims[MAX_DIMS] = {0}, per_sample = 1;
    for (unsigned d = 0; d < ndim; d++) {
        const unsigned char *p = head + 4 + 4 * d;
        dims[d] = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        if (dims[d] == 0) {
            gn__format(err, errlen, "%s: dimension %u of %u is zero", f->path, d + 1, ndim);
            return GN_ERR_FORMAT;
        }
    }
    if (dims[0] > MAX_SAMPLES) {
        gn__format(err, errlen, "%s: %" PRIu64 " samples exceed the limit of 2^31", f->path,
                   dims[0]);
        return GN_ERR_FORMAT;
    }
    for (unsigned d = 1; d < ndim; d++) {
        per_sample *= dims[d]; /* ≤ 2^24 · 2^32 before the check: no overflow */
        if (per_sample > MAX_FEATURES) {
            gn__format(err, errlen,
                       "%s: more than 2^24 features per sample (dimension %u is %" PRIu64 ")",
                       f->path, d + 1, dims[d]);
            return GN_ERR_FORMAT;
        }
    }
    /* dims[0] ≤ 2^31 and per_sample ≤ 2^24 fit a size_t; their product may not (32-bit) */
    if (!mul_ok((size_t)dims[0], (size_t)per_sample, &f->payload)) {
        gn__format(err, errlen,
                   "%s: %" PRIu64 " samples of %" PRIu64 " bytes exceed the address space", f->path,
                   dims[0], per_sample);
        return GN_ERR_FORMAT;
    }
    f->n = (size_t)dims[0];
    f->per_sample = (size_t)per_sample;

    if (gzdirect(f->gz)) {
        uint64_t after = file_len > header_len ? file_len - header_len : 0;
        if (after < f->payload)
            return truncated(f, (size_t)after, err, errlen);
        if (after > f->payload) {
            gn__format(err, errlen,
                       "%s: trailing bytes: %" PRIu64 " after the %zu bytes of %s the header "
                       "announces",
                       f->path, after - f->payload, f->payload, f->what);
            return GN_ERR_FORMAT;
        }
    } else {
        uint64_t bound = file_len > (UINT64_MAX - GZ_SLACK) / GZ_RATIO
                             ? UINT64_MAX
                             : file_len * GZ_RATIO + GZ_SLACK;
        if ((uint64_t)f->payload + header_len > bound) {
            gn__format(err, errlen,
                       "%s: the header claims %zu bytes of %s, more than a gzip file of %" PRIu64
                       " bytes can hold (deflate expands at most about 1032:1): the file is "
                       "corrupt or hostile",
                       f->path, f->payload, f->what, file_len);
            return GN_ERR_FORMAT;
        }
    }
    return GN_OK;
}

/* Opens path and checks its header. On failure f->gz is NULL. */
static gn_status idx_open(idx_file *f, const char *path, bool labels, char *err, size_t errlen)
{
    *f = (idx_file){.path = path, .what = labels ? "label data" : "pixel data"};
    int fd;
    uint64_t file_len; /* the size checks need it, which only a regular file has */
    gn_status st = gn__open_regular(path, &fd, &file_len, err, errlen);
    if (st != GN_OK)
        return st;
    f->gz = gzdopen(fd, "rb"); /* owns fd from here on */
    if (!f->gz) {
        close(fd);
        gn__format(err, errlen, "%s: out of memory opening the file", path);
        return GN_ERR_NOMEM;
    }
    gzbuffer(f->gz, GZ_BUFFER);
    st = check_header(f, labels, file_len, err, errlen);
    if (st != GN_OK) {
        gzclose(f->gz); /* already failing: nothing more to learn from the close */
        f->gz = NULL;
    }
    return st;
}

/* Closes f; with check, a failed close is an error. */
static gn_status idx_close(idx_file *f, bool check, char *err, size_t errlen)
{
    if (!f->gz)
        return GN_OK;
    errno = 0;
    int rc = gzclose(f->gz);
    int e = errno;
    f->gz = NULL;
    if (!check || rc == Z_OK)
        return GN_OK;
    char why[128];
    if (rc == Z_ERRNO) {
        gn__format(err, errlen, "%s: close failed: %s", f->path,
                   gn__errno_text(e, why, sizeof why));
        return GN_ERR_IO;
    }
    gn__format(err, errlen, "%s: gzip stream ends in the middle (zlib status %d)", f->path, rc);
    return GN_ERR_FORMAT;
}

/* X := bytes / 255, read CHUNK bytes at a time through buf. */
static gn_status read_pixels(const idx_file *f, float *X, unsigned char *buf, char *err,
                             size_t errlen)
{
    for (size_t done = 0; done < f->payload;) {
        size_t want = f->payload - done < CHUNK ? f->payload - done : CHUNK, got;
        gn_status st = read_bytes(f, buf, want, &got, err, errlen);
        if (st != GN_OK)
            return st;
        float *x = X + done;
        for (size_t i = 0; i < got; i++)
            x[i] = (float)buf[i] / 255.0f;
        done += got;
        if (got < want)
            return truncated(f, done, err, errlen);
    }
    return expect_end(f, err, errlen);
}

/* Reads all labels into lab (f->n bytes) and returns the largest in *max. */
static gn_status read_labels(const idx_file *f, unsigned char *lab, unsigned *max, char *err,
                             size_t errlen)
{
    size_t got;
    gn_status st = read_bytes(f, lab, f->payload, &got, err, errlen);
    if (st != GN_OK)
        return st;
    if (got < f->payload)
        return truncated(f, got, err, errlen);
    st = expect_end(f, err, errlen);
    if (st != GN_OK)
        return st;
    unsigned m = 0;
    for (size_t j = 0; j < f->n; j++)
        m = lab[j] > m ? lab[j] : m;
    *max = m;
    return GN_OK;
}

gn_status gn_dataset_load_idx(gn_dataset **out, const char *images_path, const char *labels_path,
                              size_t n_classes, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return GN_ERR_NULL;
    *out = NULL;
    if (!images_path) {
        gn__format(err, errlen, "no images path given");
        return GN_ERR_NULL;
    }
    if (n_classes > MAX_CLASSES) {
        gn__format(err, errlen, "n_classes = %zu: IDX labels are bytes, at most %d classes",
                   n_classes, MAX_CLASSES);
        return GN_ERR_ARG;
    }

    idx_file img, lab = {0};
    gn_status st = idx_open(&img, images_path, false, err, errlen);
    if (st != GN_OK)
        return st;
    unsigned char *labels = NULL, *buf = NULL;
    gn_dataset *ds = NULL;
    unsigned max = 0;
    if (!labels_path) { /* inputs only, for inference: all-zero targets */
        if (n_classes == 0)
            n_classes = 1;
        goto images;
    }
    st = idx_open(&lab, labels_path, true, err, errlen);
    if (st != GN_OK) {
        idx_close(&img, false, err, errlen);
        return st;
    }
    if (img.n != lab.n) {
        gn__format(err, errlen, "%s has %zu images but %s has %zu labels", images_path, img.n,
                   labels_path, lab.n);
        st = GN_ERR_FORMAT;
        goto done;
    }
    /* The labels first: they are small, and a bad one fails before the images are read. */
    labels = malloc(lab.n);
    if (!labels) {
        gn__format(err, errlen, "%s: out of memory for %zu labels", labels_path, lab.n);
        st = GN_ERR_NOMEM;
        goto done;
    }
    st = read_labels(&lab, labels, &max, err, errlen);
    if (st == GN_OK)
        st = idx_close(&lab, true, err, errlen);
    if (st != GN_OK)
        goto done;
    if (n_classes == 0) {
        n_classes = (size_t)max + 1;
    } else if (max >= n_classes) {
        size_t j = 0;
        while (labels[j] < n_classes)
            j++;
        gn__format(err, errlen, "%s: label %u of sample %zu is not below n_classes = %zu",
                   labels_path, labels[j], j, n_classes);
        st = GN_ERR_FORMAT;
        goto done;
    }

images:
    ds = gn__dataset_new(img.n, img.per_sample, n_classes, NULL);
    buf = malloc(CHUNK);
    if (!ds || !buf) {
        gn__format(err, errlen, "%s: out of memory for %zu × %zu features and %zu × %zu targets",
                   images_path, img.per_sample, img.n, n_classes, img.n);
        st = GN_ERR_NOMEM;
        goto done;
    }
    st = read_pixels(&img, ds->own_x, buf, err, errlen);
    if (st == GN_OK)
        st = idx_close(&img, true, err, errlen);
    if (st != GN_OK)
        goto done;
    for (size_t j = 0; labels && j < img.n; j++)
        ds->own_y[labels[j] + j * n_classes] = 1.0f;

done:
    idx_close(&img, false, err, errlen);
    idx_close(&lab, false, err, errlen);
    free(buf);
    free(labels);
    if (st != GN_OK) {
        gn_dataset_free(ds);
        return st;
    }
    *out = ds;
    return GN_OK;
}
