/* The IDX loader: small IDX files written here (plain and gzip), every pixel and target checked
 * exactly, every malformed header and length with its status and message, headers that lie
 * about their size (which must fail before anything large is allocated), and the real
 * Fashion-MNIST test set when it is installed. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setrlimit */

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gemmnet.h"
#include "testutil.h"
#include "tmpfiles.h"

/*---- temporary files ----*/

TestSuite(idx, .init = make_tmp_dir, .fini = remove_tmp_dir);
TestSuite(idx_format, .init = make_tmp_dir, .fini = remove_tmp_dir);
TestSuite(idx_size, .init = make_tmp_dir, .fini = remove_tmp_dir);

/* A new path in the temporary directory, removed at the end of the test. */
static const char *new_path(const char *ext)
{
    cr_assert_lt(n_tmp_files, MAX_FILES);
    char *path = tmp_files[n_tmp_files];
    snprintf(path, sizeof tmp_files[0], "%s/f%zu%s", tmp_dir, n_tmp_files, ext);
    n_tmp_files++;
    return path;
}

/* Writes data[0..len) as a plain file, or gzip-compressed at the given level (1–9). */
static const char *write_bytes(const unsigned char *data, size_t len, int gz_level)
{
    const char *path = new_path(gz_level ? ".gz" : "");
    if (gz_level) {
        char mode[8];
        snprintf(mode, sizeof mode, "wb%d", gz_level);
        gzFile gz = gzopen(path, mode);
        cr_assert_not_null(gz, "cannot create %s", path);
        cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len, "gzwrite %s", path);
        cr_assert_eq(gzclose(gz), Z_OK, "gzclose %s", path);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "cannot create %s", path);
        cr_assert_eq(fwrite(data, 1, len, f), len);
        cr_assert_eq(fclose(f), 0);
    }
    return path;
}

/*---- building IDX files ----*/

typedef struct blob {
    unsigned char *p;
    size_t n, cap;
} blob;

static void put(blob *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* An IDX file: magic 00 00 type ndim, the dimensions big-endian, then payload[0..len). */
static blob idx_blob(unsigned type, unsigned ndim, const uint32_t *dims,
                     const unsigned char *payload, size_t len)
{
    blob b = {0};
    unsigned char magic[4] = {0, 0, (unsigned char)type, (unsigned char)ndim};
    put(&b, magic, 4);
    for (unsigned d = 0; d < ndim; d++) {
        unsigned char be[4] = {(unsigned char)(dims[d] >> 24), (unsigned char)(dims[d] >> 16),
                               (unsigned char)(dims[d] >> 8), (unsigned char)dims[d]};
        put(&b, be, 4);
    }
    if (len)
        put(&b, payload, len);
    return b;
}

static const char *write_idx(int gz_level, unsigned type, unsigned ndim, const uint32_t *dims,
                             const unsigned char *payload, size_t len)
{
    blob b = idx_blob(type, ndim, dims, payload, len);
    const char *path = write_bytes(b.p, b.n, gz_level);
    free(b.p);
    return path;
}

/* The standard small pair: 5 images of 3 × 4 pixels and their labels. */
enum { N = 5, ROWS = 3, COLS = 4, FEAT = ROWS * COLS };
static const unsigned char labels5[N] = {3, 0, 2, 3, 1};

static const unsigned char *pixels5(void)
{
    static unsigned char px[N * FEAT];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)((i * 37 + 11) % 256);
    px[0] = 0; /* both ends of the scale */
    px[1] = 255;
    return px;
}

static const char *images_file(int gz_level)
{
    const uint32_t dims[] = {N, ROWS, COLS};
    return write_idx(gz_level, 0x08, 3, dims, pixels5(), N * FEAT);
}

static const char *labels_file(int gz_level)
{
    const uint32_t dims[] = {N};
    return write_idx(gz_level, 0x08, 1, dims, labels5, N);
}

/*---- loading ----*/

static gn_dataset *load_ok(const char *images, const char *labels, size_t n_classes)
{
    char err[512] = "";
    gn_dataset *ds = NULL;
    gn_status st = gn_dataset_load_idx(&ds, images, labels, n_classes, err, sizeof err);
    cr_assert_eq(st, GN_OK, "%s, %s: %s: %s", images, labels, gn_strerror(st), err);
    cr_assert_not_null(ds);
    cr_assert_str_empty(err, "message on success: %s", err);
    return ds;
}

/* A non-NULL pointer that is never dereferenced: a failing call must overwrite it with NULL. */
static char sentinel_byte;
#define SENTINEL ((gn_dataset *)(void *)&sentinel_byte)

/* Loads, expects status want and *out == NULL; the message is left in err (512 bytes). */
static void load_fails(const char *images, const char *labels, size_t n_classes, gn_status want,
                       char *err)
{
    gn_dataset *ds = SENTINEL;
    strcpy(err, "untouched");
    gn_status st = gn_dataset_load_idx(&ds, images, labels, n_classes, err, 512);
    cr_assert_eq(st, want, "%s, %s: got %d (%s), want %d (%s); message: %s", images, labels, st,
                 gn_strerror(st), want, gn_strerror(want), err);
    cr_assert_null(ds, "*out is not NULL after a failed load");
    cr_assert_neq(strcmp(err, "untouched"), 0, "no message");
    cr_assert_gt(strlen(err), 0, "empty message");
}

static void assert_contains(const char *msg, const char *part)
{
    cr_assert_not_null(strstr(msg, part), "message '%s' lacks '%s'", msg, part);
}

/* Exact contents: X[i + j·FEAT] = px[j·FEAT + i] / 255 and Y column j one-hot at labels[j]. */
static void check_dataset(const gn_dataset *ds, const unsigned char *px, size_t features,
                          const unsigned char *labels, size_t n, size_t n_outputs)
{
    cr_assert_eq(gn_dataset_n_samples(ds), n);
    cr_assert_eq(gn_dataset_n_features(ds), features);
    cr_assert_eq(gn_dataset_n_outputs(ds), n_outputs);
    cr_assert_eq(gn_dataset_ldx(ds), features);
    cr_assert_eq(gn_dataset_ldy(ds), n_outputs);
    const float *X = gn_dataset_x(ds), *Y = gn_dataset_y(ds);
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < features; i++) {
            float want = (float)px[j * features + i] / 255.0f;
            cr_assert(X[i + j * features] == want, "X(%zu,%zu) = %.9g, want %.9g", i, j,
                      (double)X[i + j * features], (double)want);
        }
        for (size_t k = 0; k < n_outputs; k++) {
            float want = k == labels[j] ? 1.0f : 0.0f;
            cr_assert(Y[k + j * n_outputs] == want, "Y(%zu,%zu) = %g, want %g", k, j,
                      (double)Y[k + j * n_outputs], (double)want);
        }
    }
}

/* Caps this test process's address space at its current size plus extra bytes, so a loader
 * that allocates what a lying header claims fails with GN_ERR_NOMEM instead of the expected
 * format error. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void limit_address_space(size_t extra)
{
#ifdef UNDER_ASAN /* its shadow memory needs terabytes of address space */
    (void)extra;
    /* info, not warn: Criterion exits 1 after any warning, failing the sanitizer suite. ASan
     * still refuses the terabyte allocations these tests guard against. */
    cr_log_info("AddressSanitizer: address space not limited");
    return;
#endif
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f || fscanf(f, "%lu", &pages) != 1) {
        if (f)
            fclose(f);
        cr_log_warn("no /proc/self/statm: address space not limited");
        return;
    }
    fclose(f);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_AS, &rl), 0);
    rlim_t want = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + extra;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    rl.rlim_cur = want;
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
    /* the limit works: 1 GiB more cannot be had */
    void *big = malloc((size_t)1 << 30);
    cr_assert_null(big, "address space limit not effective");
}

/*---- valid files ----*/

Test(idx, plain_pair_exact_values_auto_classes)
{
    gn_dataset *ds = load_ok(images_file(0), labels_file(0), 0);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 4); /* max label 3 → 4 outputs */
    cr_assert(gn_dataset_x(ds)[0] == 0.0f && gn_dataset_x(ds)[1] == 1.0f);
    gn_dataset_free(ds);
}

Test(idx, gzip_pair_exact_values_given_classes)
{
    gn_dataset *ds = load_ok(images_file(6), labels_file(9), 10);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 10);
    gn_dataset_free(ds);
}

Test(idx, plain_and_gzip_mixed)
{
    gn_dataset *ds = load_ok(images_file(1), labels_file(0), 4);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 4);
    gn_dataset_free(ds);
    ds = load_ok(images_file(0), labels_file(1), 0);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 4);
    gn_dataset_free(ds);
}

Test(idx, all_byte_values_scale_exactly)
{
    /* 256 samples of one feature: sample j has pixel value j. */
    unsigned char px[256], lab[256];
    for (int j = 0; j < 256; j++) {
        px[j] = (unsigned char)j;
        lab[j] = (unsigned char)j;
    }
    const uint32_t di[] = {256, 1}, dl[] = {256};
    gn_dataset *ds =
        load_ok(write_idx(0, 0x08, 2, di, px, 256), write_idx(3, 0x08, 1, dl, lab, 256), 256);
    check_dataset(ds, px, 1, lab, 256, 256);
    cr_assert(gn_dataset_x(ds)[255] == 1.0f);
    cr_assert(gn_dataset_x(ds)[51] == 0.2f); /* 51/255 rounds to the float nearest 0.2 */
    gn_dataset_free(ds);
}

Test(idx, all_zero_labels_give_one_output)
{
    const unsigned char zeros[N] = {0};
    const uint32_t dl[] = {N};
    gn_dataset *ds = load_ok(images_file(0), write_idx(0, 0x08, 1, dl, zeros, N), 0);
    check_dataset(ds, pixels5(), FEAT, zeros, N, 1);
    gn_dataset_free(ds);
}

Test(idx, flat_and_deep_sample_shapes)
{
    /* count × 12 and count × 2 × 2 × 3: both flatten to the same 12 features */
    const uint32_t flat[] = {N, FEAT}, deep[] = {N, 2, 2, 3};
    gn_dataset *ds = load_ok(write_idx(0, 0x08, 2, flat, pixels5(), N * FEAT), labels_file(0), 0);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 4);
    gn_dataset_free(ds);
    ds = load_ok(write_idx(2, 0x08, 4, deep, pixels5(), N * FEAT), labels_file(0), 0);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 4);
    gn_dataset_free(ds);
}

Test(idx, eight_dimensions_is_the_maximum)
{
    const uint32_t dims[] = {N, 1, 2, 1, 2, 1, 3, 1};
    gn_dataset *ds = load_ok(write_idx(0, 0x08, 8, dims, pixels5(), N * FEAT), labels_file(0), 0);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 4);
    gn_dataset_free(ds);
}

Test(idx, highly_compressible_gzip_is_not_mistaken_for_a_bomb)
{
    /* 4000 blank 28 × 28 images: ~1000:1 at level 9, near deflate's maximum ratio */
    enum { M = 4000, F = 784 };
    unsigned char *px = calloc((size_t)M * F, 1), *lab = calloc(M, 1);
    cr_assert(px && lab);
    const uint32_t di[] = {M, 28, 28}, dl[] = {M};
    const char *images = write_idx(9, 0x08, 3, di, px, (size_t)M * F);
    struct stat sb;
    cr_assert_eq(stat(images, &sb), 0);
    cr_log_info("%d bytes of zeros compress to %lld", M * F, (long long)sb.st_size);
    cr_assert_gt((double)M * F / (double)sb.st_size, 500.0, "test data not compressible enough");
    gn_dataset *ds = load_ok(images, write_idx(9, 0x08, 1, dl, lab, M), 10);
    check_dataset(ds, px, F, lab, M, 10);
    gn_dataset_free(ds);
    free(px);
    free(lab);
}

Test(idx, largest_n_classes_accepted)
{
    gn_dataset *ds = load_ok(images_file(0), labels_file(0), 256);
    check_dataset(ds, pixels5(), FEAT, labels5, N, 256);
    gn_dataset_free(ds);
}

/*---- arguments and opening ----*/

Test(idx, null_arguments)
{
    const char *images = images_file(0), *labels = labels_file(0);
    char err[512];
    cr_assert_eq(gn_dataset_load_idx(NULL, images, labels, 0, err, sizeof err), GN_ERR_NULL);
    load_fails(NULL, labels, 0, GN_ERR_NULL, err);
    assert_contains(err, "images");
    /* err may be NULL, on success and on failure */
    gn_dataset *ds = SENTINEL;
    cr_assert_eq(gn_dataset_load_idx(&ds, NULL, labels, 0, NULL, 0), GN_ERR_NULL);
    cr_assert_null(ds);
    cr_assert_eq(gn_dataset_load_idx(&ds, images, labels, 0, NULL, 0), GN_OK);
    cr_assert_not_null(ds);
    gn_dataset_free(ds);
}

/* Without a labels file (inference): the images, and all-zero targets of n_classes rows. */
Test(idx, images_without_labels)
{
    for (size_t k = 0; k < 2; k++) {
        gn_dataset *ds = load_ok(images_file(1), NULL, k ? 10 : 0);
        size_t rows = k ? 10 : 1;
        cr_assert_eq(gn_dataset_n_outputs(ds), rows);
        const float *Y = gn_dataset_y(ds);
        for (size_t i = 0; i < rows * N; i++)
            cr_assert_eq(Y[i], 0.0f, "target %zu = %g", i, (double)Y[i]);
        const float *X = gn_dataset_x(ds);
        const unsigned char *px = pixels5();
        for (size_t i = 0; i < FEAT * N; i++)
            cr_assert_eq(X[i], px[i] / 255.0f);
        gn_dataset_free(ds);
    }
}

Test(idx, n_classes_above_256_is_an_argument_error)
{
    char err[512];
    load_fails(images_file(0), labels_file(0), 257, GN_ERR_ARG, err);
    assert_contains(err, "257");
}

Test(idx, short_error_buffer_is_terminated)
{
    char err[8];
    memset(err, 'x', sizeof err);
    gn_dataset *ds = SENTINEL;
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing", tmp_dir);
    cr_assert_eq(gn_dataset_load_idx(&ds, missing, missing, 0, err, sizeof err), GN_ERR_IO);
    cr_assert_null(ds);
    cr_assert_eq(strlen(err), sizeof err - 1);
    cr_assert_eq(strncmp(err, missing, sizeof err - 1), 0);
}

Test(idx, missing_files_are_io_errors)
{
    char err[512], missing[128];
    snprintf(missing, sizeof missing, "%s/does-not-exist.gz", tmp_dir);
    load_fails(missing, labels_file(0), 0, GN_ERR_IO, err);
    assert_contains(err, missing);
    assert_contains(err, "cannot open");
    assert_contains(err, "No such file");
    load_fails(images_file(0), missing, 0, GN_ERR_IO, err);
    assert_contains(err, missing);
}

Test(idx, directory_is_an_io_error)
{
    char err[512];
    load_fails(tmp_dir, labels_file(0), 0, GN_ERR_IO, err);
    assert_contains(err, tmp_dir);
    assert_contains(err, "directory");
}

/*---- malformed headers ----*/

Test(idx_format, bad_magic)
{
    blob b = idx_blob(0x08, 3, (const uint32_t[]){N, ROWS, COLS}, pixels5(), N * FEAT);
    b.p[1] = 0x01;
    const char *images = write_bytes(b.p, b.n, 0);
    free(b.p);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "bad magic");
    assert_contains(err, "00 01 08 03");
}

Test(idx_format, text_file_is_not_idx)
{
    const char *text = "label,x1,x2\n1,2,3\n";
    const char *images = write_bytes((const unsigned char *)text, strlen(text), 0);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "bad magic");
}

Test(idx_format, unsupported_element_types)
{
    const unsigned types[] = {0x09, 0x0B, 0x0C, 0x0D, 0x0E};
    const uint32_t dims[] = {N, ROWS, COLS};
    char err[512], want[64];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const char *images = write_idx(0, types[t], 3, dims, pixels5(), N * FEAT);
        load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
        snprintf(want, sizeof want, "unsupported IDX element type 0x%02X", types[t]);
        assert_contains(err, want);
        assert_contains(err, "only unsigned bytes, 0x08");
        assert_contains(err, images);
    }
    /* a type byte the format does not define at all, on the labels */
    const uint32_t dl[] = {N};
    const char *labels = write_idx(6, 0x07, 1, dl, labels5, N);
    load_fails(images_file(0), labels, 0, GN_ERR_FORMAT, err);
    assert_contains(err, "unknown IDX element type 0x07");
    assert_contains(err, labels);
}

Test(idx_format, labels_need_exactly_one_dimension)
{
    const uint32_t dims[] = {N, 1};
    const char *labels = write_idx(0, 0x08, 2, dims, labels5, N);
    char err[512];
    load_fails(images_file(0), labels, 0, GN_ERR_FORMAT, err);
    assert_contains(err, labels);
    assert_contains(err, "labels need 1 dimension, the header gives 2");
}

Test(idx_format, images_need_a_sample_shape)
{
    const uint32_t dims[] = {N};
    const char *images = write_idx(0, 0x08, 1, dims, labels5, N);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "at least 2 dimensions");
    /* and a labels file passed as images, the classic mix-up, fails the same way */
    load_fails(labels_file(0), images_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "at least 2 dimensions");
}

Test(idx_format, more_than_eight_dimensions)
{
    const uint32_t dims[] = {N, 1, 2, 1, 2, 1, 3, 1, 1};
    const char *images = write_idx(0, 0x08, 9, dims, pixels5(), N * FEAT);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "9 dimensions, more than the 8 supported");
    /* no dimensions at all */
    load_fails(write_idx(0, 0x08, 0, NULL, NULL, 0), labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "the header gives 0");
}

Test(idx_format, zero_dimensions)
{
    char err[512];
    const uint32_t d1[] = {N, 0, COLS};
    const char *images = write_idx(0, 0x08, 3, d1, NULL, 0);
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "dimension 2 of 3 is zero");
    const uint32_t d0[] = {0, ROWS, COLS}, dl[] = {0};
    load_fails(write_idx(0, 0x08, 3, d0, NULL, 0), write_idx(0, 0x08, 1, dl, NULL, 0), 0,
               GN_ERR_FORMAT, err);
    assert_contains(err, "dimension 1 of 3 is zero");
}

Test(idx_format, file_shorter_than_its_header)
{
    char err[512];
    const unsigned char part[] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0}; /* 3 dims need 16 bytes */
    const char *images = write_bytes(part, sizeof part, 0);
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "ends inside the IDX header (10 of its 16 bytes)");
    /* the same, compressed */
    load_fails(write_bytes(part, sizeof part, 6), labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "ends inside the IDX header (10 of its 16 bytes)");
    /* shorter than the magic, and empty */
    load_fails(write_bytes(part, 3, 0), labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "ends inside the IDX header (3 bytes)");
    load_fails(images_file(0), write_bytes(part, 0, 0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "ends inside the IDX header (0 bytes)");
}

Test(idx_format, count_mismatch_names_both)
{
    const uint32_t dl[] = {N - 1};
    const char *images = images_file(0), *labels = write_idx(0, 0x08, 1, dl, labels5, N - 1);
    char err[512];
    load_fails(images, labels, 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, labels);
    assert_contains(err, "5 images");
    assert_contains(err, "4 labels");
}

Test(idx_format, label_out_of_range)
{
    const unsigned char lab[N] = {0, 1, 2, 7, 9};
    const uint32_t dl[] = {N};
    const char *labels = write_idx(0, 0x08, 1, dl, lab, N);
    char err[512];
    load_fails(images_file(0), labels, 3, GN_ERR_FORMAT, err);
    assert_contains(err, labels);
    assert_contains(err, "label 7 of sample 3 is not below n_classes = 3");
    /* with n_classes 8 the 9 at sample 4 is the first one out of range; 0 accepts all */
    load_fails(images_file(0), labels, 8, GN_ERR_FORMAT, err);
    assert_contains(err, "label 9 of sample 4");
    /* the boundary: label 3 is out of range for 3 classes, in range for 4 */
    load_fails(images_file(0), labels_file(0), 3, GN_ERR_FORMAT, err);
    assert_contains(err, "label 3 of sample 0 is not below n_classes = 3");
    gn_dataset *ds = load_ok(images_file(0), labels, 0);
    check_dataset(ds, pixels5(), FEAT, lab, N, 10);
    gn_dataset_free(ds);
}

/*---- lengths ----*/

Test(idx_size, truncated_pixels_plain)
{
    const uint32_t dims[] = {N, ROWS, COLS};
    const char *images = write_idx(0, 0x08, 3, dims, pixels5(), N * FEAT - 1);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "truncated: expected 60 bytes of pixel data, found 59");
}

Test(idx_size, truncated_pixels_gzip)
{
    const uint32_t dims[] = {N, ROWS, COLS};
    const char *images = write_idx(6, 0x08, 3, dims, pixels5(), 17);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "truncated: expected 60 bytes of pixel data, found 17");
}

Test(idx_size, truncated_labels_plain_and_gzip)
{
    const uint32_t dl[] = {N};
    char err[512];
    for (int level = 0; level <= 9; level += 9) {
        const char *labels = write_idx(level, 0x08, 1, dl, labels5, 2);
        load_fails(images_file(0), labels, 0, GN_ERR_FORMAT, err);
        assert_contains(err, labels);
        assert_contains(err, "truncated: expected 5 bytes of label data, found 2");
    }
}

Test(idx_size, trailing_bytes_plain)
{
    unsigned char more[N * FEAT + 3];
    memcpy(more, pixels5(), N * FEAT);
    more[N * FEAT] = more[N * FEAT + 1] = more[N * FEAT + 2] = 0;
    const uint32_t dims[] = {N, ROWS, COLS};
    const char *images = write_idx(0, 0x08, 3, dims, more, sizeof more);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "trailing bytes");
    assert_contains(err, "3 after the 60 bytes of pixel data");
}

Test(idx_size, trailing_bytes_gzip)
{
    unsigned char more[N + 1];
    memcpy(more, labels5, N);
    more[N] = 1;
    const uint32_t dl[] = {N};
    const char *labels = write_idx(6, 0x08, 1, dl, more, sizeof more);
    char err[512];
    load_fails(images_file(6), labels, 0, GN_ERR_FORMAT, err);
    assert_contains(err, labels);
    assert_contains(err, "trailing bytes after the 5 bytes of label data");
    /* one byte too many in compressed images */
    unsigned char px[N * FEAT + 1];
    memcpy(px, pixels5(), N * FEAT);
    px[N * FEAT] = 0;
    const uint32_t di[] = {N, ROWS, COLS};
    const char *images = write_idx(1, 0x08, 3, di, px, sizeof px);
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "trailing bytes after the 60 bytes of pixel data");
}

Test(idx_size, sample_count_limit)
{
    const uint32_t dims[] = {(1u << 31) + 1, 1};
    char err[512];
    load_fails(write_idx(0, 0x08, 2, dims, NULL, 0), labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "2147483649 samples exceed the limit of 2^31");
}

Test(idx_size, feature_count_limit)
{
    const uint32_t dims[] = {N, 4096, 4097}; /* 2^24 + 4096 features */
    char err[512];
    load_fails(write_idx(0, 0x08, 3, dims, NULL, 0), labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "more than 2^24 features per sample");
    /* a product that would overflow 32 bits, even 64 bits over the dimensions */
    const uint32_t huge[] = {N, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    load_fails(write_idx(0, 0x08, 4, huge, NULL, 0), labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "more than 2^24 features per sample");
}

Test(idx_size, huge_claim_in_a_tiny_plain_file_fails_before_allocating)
{
    /* 2^31 samples of 64 × 64 pixels (8 TiB of floats) and 2^31 labels (2 GiB), each within
     * the limits, in files of a few bytes; with at most 256 MiB of address space to spare */
    const uint32_t di[] = {1u << 31, 64, 64}, dl[] = {1u << 31};
    const char *images = write_idx(0, 0x08, 3, di, pixels5(), N * FEAT);
    const char *labels = write_idx(0, 0x08, 1, dl, labels5, N);
    limit_address_space((size_t)256 << 20);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, "truncated: expected 8796093022208 bytes of pixel data, found 60");
    load_fails(images_file(0), labels, 0, GN_ERR_FORMAT, err);
    assert_contains(err, "truncated: expected 2147483648 bytes of label data, found 5");
}

Test(idx_size, gzip_bomb_header_is_rejected_before_allocating)
{
    /* 1 MiB of real (zero) pixels compressing to about 1 KiB, under a header claiming 200000
     * images of 28 × 28 (157 MB of bytes, 627 MB of floats): a real file that size cannot
     * come from so little deflate data */
    enum { REAL = 1 << 20 };
    unsigned char *px = calloc(REAL, 1);
    cr_assert_not_null(px);
    const uint32_t di[] = {200000, 28, 28}, dl[] = {200000};
    const char *images = write_idx(9, 0x08, 3, di, px, REAL);
    free(px);
    struct stat sb;
    cr_assert_eq(stat(images, &sb), 0);
    cr_assert_lt(sb.st_size, 4096);
    const char *labels = write_idx(9, 0x08, 1, dl, labels5, N);
    limit_address_space((size_t)256 << 20);
    char err[512], want[128];
    load_fails(images, labels, 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    snprintf(want, sizeof want,
             "claims 156800000 bytes of pixel data, more than a gzip file of %lld bytes",
             (long long)sb.st_size);
    assert_contains(err, want);
    /* a claim of 50000 labels is within the bound for their tiny file (about 30 bytes may
     * hold 1100 · 30 + 64 KiB), so those labels are caught by reading: too few */
    const uint32_t d5[] = {50000, ROWS, COLS}, dl5[] = {50000};
    unsigned char *zeros = calloc((size_t)50000 * FEAT, 1);
    cr_assert_not_null(zeros);
    const char *ok_images = write_idx(9, 0x08, 3, d5, zeros, (size_t)50000 * FEAT);
    free(zeros);
    const char *few_labels = write_idx(9, 0x08, 1, dl5, labels5, N);
    load_fails(ok_images, few_labels, 0, GN_ERR_FORMAT, err);
    assert_contains(err, few_labels);
    assert_contains(err, "truncated: expected 50000 bytes of label data, found 5");
}

/*---- corrupt gzip data ----*/

/* The gzip file of the standard images, with a change made by edit. */
static const char *damaged_gzip(void (*edit)(blob *))
{
    const char *good = images_file(6);
    FILE *f = fopen(good, "rb");
    cr_assert_not_null(f);
    blob b = {0};
    unsigned char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        put(&b, buf, got);
    fclose(f);
    edit(&b);
    const char *path = write_bytes(b.p, b.n, 0);
    free(b.p);
    return path;
}

static void cut_in_half(blob *b) { b->n /= 2; }
static void cut_length(blob *b) { b->n -= 4; }
static void flip_crc(blob *b) { b->p[b->n - 8] ^= 0xFF; } /* CRC-32 is the trailer's first word */

Test(idx_size, cut_gzip_stream_is_corrupt)
{
    const char *images = damaged_gzip(cut_in_half);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "truncated: expected 60 bytes of pixel data, found ");
    assert_contains(err, "(the gzip stream is cut short)");
}

Test(idx_size, gzip_without_its_trailer_is_corrupt)
{
    /* all pixels are there, but the length word of the gzip trailer is not */
    const char *images = damaged_gzip(cut_length);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "corrupt gzip data: the stream is cut short after the 60 bytes");
}

Test(idx_size, bad_gzip_checksum_is_corrupt)
{
    const char *images = damaged_gzip(flip_crc);
    char err[512];
    load_fails(images, labels_file(0), 0, GN_ERR_FORMAT, err);
    assert_contains(err, images);
    assert_contains(err, "corrupt gzip data: incorrect data check");
}

/*---- the real thing ----*/

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"

Test(idx, fashion_mnist_test_set)
{
    const char *images = FASHION_DIR "t10k-images-idx3-ubyte.gz";
    const char *labels = FASHION_DIR "t10k-labels-idx1-ubyte.gz";
    if (access(images, R_OK) != 0 || access(labels, R_OK) != 0)
        cr_skip_test("Fashion-MNIST is not installed in " FASHION_DIR);
    gn_dataset *ds = load_ok(images, labels, 0);
    enum { M = 10000, F = 784, K = 10 };
    cr_assert_eq(gn_dataset_n_samples(ds), M);
    cr_assert_eq(gn_dataset_n_features(ds), F);
    cr_assert_eq(gn_dataset_n_outputs(ds), K);

    /* every pixel against the file decompressed here, independently: 16 header bytes, then
     * sample after sample */
    gzFile gz = gzopen(images, "rb");
    cr_assert_not_null(gz);
    unsigned char head[16], row[F];
    cr_assert_eq(gzread(gz, head, sizeof head), (int)sizeof head);
    const float *X = gn_dataset_x(ds), *Y = gn_dataset_y(ds);
    double sum = 0.0;
    for (size_t j = 0; j < M; j++) {
        cr_assert_eq(gzread(gz, row, F), F);
        for (size_t i = 0; i < F; i++) {
            float x = X[i + j * F];
            cr_assert(x >= 0.0f && x <= 1.0f, "X(%zu,%zu) = %g", i, j, (double)x);
            cr_assert(x == (float)row[i] / 255.0f, "X(%zu,%zu) = %g, file byte %d", i, j, (double)x,
                      row[i]);
            sum += x;
        }
    }
    gzclose(gz);
    cr_assert_gt(sum / (M * F), 0.2); /* Fashion-MNIST's mean pixel is about 0.286 */
    cr_assert_lt(sum / (M * F), 0.4);

    size_t count[K] = {0};
    for (size_t j = 0; j < M; j++) {
        size_t ones = 0, cls = K;
        for (size_t k = 0; k < K; k++) {
            float y = Y[k + j * K];
            cr_assert(y == 0.0f || y == 1.0f);
            if (y == 1.0f) {
                ones++;
                cls = k;
            }
        }
        cr_assert_eq(ones, 1, "column %zu is not one-hot", j);
        count[cls]++;
    }
    for (size_t k = 0; k < K; k++)
        cr_assert_eq(count[k], 1000, "class %zu has %zu samples", k, count[k]);
    gn_dataset_free(ds);
}
