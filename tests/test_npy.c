/* The .npy loader: fixtures written by NumPy itself (tests/data/npy/make-fixtures.py) for every
 * supported dtype, memory order, format version and shape, compared element by element with
 * the generator's formulas recomputed here; files numpy refuses to make or that we refuse to
 * read (big-endian, object, structured, NaN, …); and headers built here that break each rule
 * of the grammar, with the byte offset the message must name. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <criterion/criterion.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemmnet.h"
#include "testutil.h"
#include "tmpfiles.h"

TestSuite(npy, .init = make_tmp_dir, .fini = remove_tmp_dir);
TestSuite(npy_header, .init = make_tmp_dir, .fini = remove_tmp_dir);
TestSuite(npy_refused, .init = make_tmp_dir, .fini = remove_tmp_dir);

enum { ERRLEN = 512 };

/* A fixture's path. */
static const char *fixture(const char *name)
{
    static char paths[4][1024];
    static int next;
    const char *dir = getenv("GEMMNET_TEST_DIR");
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/data/npy/%s", dir ? dir : "tests", name);
    return p;
}

static const char *new_path(void)
{
    cr_assert_lt(n_tmp_files, MAX_FILES);
    char *path = tmp_files[n_tmp_files];
    snprintf(path, sizeof tmp_files[0], "%s/f%zu.npy", tmp_dir, n_tmp_files);
    n_tmp_files++;
    return path;
}

static const char *write_file(const void *data, size_t len)
{
    const char *path = new_path();
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/*---- the generator's formulas, recomputed ----*/

/* Feature i of sample j (nf features per sample) in a file of the given kind. */
static double feature_value(char kind, size_t j, size_t i, size_t nf)
{
    long k = (long)(j * nf + i);
    if (kind == 'f')
        return 0.25 * (double)k - 2.0;
    if (kind == 'i')
        return (double)((7 * k) % 101 - 50);
    return (double)((7 * k) % 101);
}

static size_t label_of(size_t j) { return (2 * j) % 3; }

static double target_value(size_t j, size_t t) { return 1.5 * (double)j - (double)t; }

/* A dataset from load_npy that must load; fails the test with the message otherwise. */
static gn_dataset *load_ok(const char *x, const char *y, int regression, size_t n_classes)
{
    gn_array_options opt;
    gn_array_options_defaults(&opt);
    opt.regression = regression;
    opt.n_classes = n_classes;
    char err[ERRLEN];
    gn_dataset *ds = NULL;
    gn_status st = gn_dataset_load_npy(&ds, x, y, &opt, err, sizeof err);
    cr_assert_eq(st, GN_OK, "%s + %s: %s (%s)", x, y ? y : "-", gn_strerror(st), err);
    cr_assert_not_null(ds);
    cr_assert_str_empty(err, "a message after success: %s", err);
    return ds;
}

/* Loads and expects status st with a message containing `part` (if not NULL). */
static void load_fails(const char *x, const char *y, int regression, size_t n_classes, gn_status st,
                       const char *part)
{
    gn_array_options opt = {regression, n_classes};
    char err[ERRLEN];
    gn_dataset *ds = (gn_dataset *)&opt; /* must come back NULL */
    gn_status got = gn_dataset_load_npy(&ds, x, y, &opt, err, sizeof err);
    cr_assert_eq(got, st, "%s: expected %s, got %s (%s)", x, gn_strerror(st), gn_strerror(got),
                 err);
    cr_assert_null(ds, "a failed load left a dataset");
    cr_assert_neq(err[0], '\0', "no message");
    if (part)
        cr_assert_not_null(strstr(err, part), "message '%s' lacks '%s'", err, part);
}

/* Every feature against the formula; n samples of nf features. */
static void check_features(const gn_dataset *ds, char kind, size_t n, size_t nf)
{
    cr_assert_eq(gn_dataset_n_samples(ds), n);
    cr_assert_eq(gn_dataset_n_features(ds), nf);
    cr_assert_eq(gn_dataset_ldx(ds), nf);
    const float *X = gn_dataset_x(ds);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nf; i++)
            cr_assert_eq(X[i + j * nf], (float)feature_value(kind, j, i, nf),
                         "sample %zu feature %zu: %g, expected %g", j, i, (double)X[i + j * nf],
                         feature_value(kind, j, i, nf));
}

/* One-hot targets from label_of, with k classes. */
static void check_labels(const gn_dataset *ds, size_t n, size_t k)
{
    cr_assert_eq(gn_dataset_n_outputs(ds), k);
    const float *Y = gn_dataset_y(ds);
    for (size_t j = 0; j < n; j++)
        for (size_t c = 0; c < k; c++)
            cr_assert_eq(Y[c + j * k], c == label_of(j) ? 1.0f : 0.0f, "sample %zu class %zu", j,
                         c);
}

/*---- what numpy writes ----*/

Test(npy, features_of_every_dtype_with_int64_labels)
{
    static const struct {
        const char *file;
        char kind;
    } cases[] = {
        {"x-f4.npy", 'f'}, {"x-f8.npy", 'f'}, {"x-i1.npy", 'i'}, {"x-u1.npy", 'u'},
        {"x-i2.npy", 'i'}, {"x-u2.npy", 'u'}, {"x-i4.npy", 'i'}, {"x-u4.npy", 'u'},
        {"x-i8.npy", 'i'}, {"x-u8.npy", 'u'},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gn_dataset *ds = load_ok(fixture(cases[c].file), fixture("y-i8.npy"), 0, 0);
        check_features(ds, cases[c].kind, 5, 3);
        check_labels(ds, 5, 3);
        gn_dataset_free(ds);
    }
}

Test(npy, labels_of_every_dtype)
{
    static const char *files[] = {"y-i1.npy", "y-u1.npy", "y-i2.npy", "y-u2.npy", "y-i4.npy",
                                  "y-u4.npy", "y-i8.npy", "y-u8.npy", "y-f4.npy", "y-f8.npy"};
    for (size_t c = 0; c < sizeof files / sizeof files[0]; c++) {
        gn_dataset *ds = load_ok(fixture("x-f4.npy"), fixture(files[c]), 0, 0);
        check_labels(ds, 5, 3);
        gn_dataset_free(ds);
    }
}

Test(npy, fortran_order_is_transposed_into_samples)
{
    gn_dataset *ds = load_ok(fixture("x-f4-fortran.npy"), fixture("y-i8.npy"), 0, 0);
    check_features(ds, 'f', 5, 3);
    gn_dataset_free(ds);
    ds = load_ok(fixture("x-f8-fortran.npy"), NULL, 0, 0);
    check_features(ds, 'f', 5, 3);
    gn_dataset_free(ds);
}

Test(npy, three_dimensional_samples_flatten_row_major_in_both_orders)
{
    /* (4, 2, 3): feature 3·a + b of sample j is x[j, a, b] */
    gn_dataset *c = load_ok(fixture("x-f4-3d.npy"), fixture("y-i8-4.npy"), 0, 0);
    check_features(c, 'f', 4, 6);
    check_labels(c, 4, 3);
    gn_dataset *f = load_ok(fixture("x-f8-3d-fortran.npy"), fixture("y-i8-4.npy"), 0, 0);
    check_features(f, 'f', 4, 6);
    gn_dataset_free(c);
    gn_dataset_free(f);
}

Test(npy, one_dimensional_features_are_one_per_sample)
{
    gn_dataset *ds = load_ok(fixture("x-f4-1d.npy"), fixture("y-i8-6.npy"), 0, 0);
    check_features(ds, 'f', 6, 1);
    check_labels(ds, 6, 3);
    gn_dataset_free(ds);
}

Test(npy, format_versions_2_and_3)
{
    const char *files[] = {"x-f4-v2.npy", "x-f4-v3.npy"};
    for (int v = 0; v < 2; v++) {
        size_t len;
        uint8_t *b = read_whole_file(fixture(files[v]), &len);
        cr_assert_eq(b[6], v + 2, "the fixture is not version %d.0", v + 2);
        free(b);
        gn_dataset *ds = load_ok(fixture(files[v]), fixture("y-u1.npy"), 0, 0);
        check_features(ds, 'f', 5, 3);
        check_labels(ds, 5, 3);
        gn_dataset_free(ds);
    }
}

Test(npy, regression_targets_one_and_two_outputs)
{
    gn_dataset *ds = load_ok(fixture("x-f4.npy"), fixture("t-f8-1d.npy"), 1, 0);
    cr_assert_eq(gn_dataset_n_outputs(ds), 1);
    for (size_t j = 0; j < 5; j++)
        cr_assert_eq(gn_dataset_y(ds)[j], (float)target_value(j, 0));
    gn_dataset_free(ds);
    const char *two[] = {"t-f4-2d.npy", "t-f4-2d-fortran.npy"};
    for (int f = 0; f < 2; f++) {
        ds = load_ok(fixture("x-f8.npy"), fixture(two[f]), 1, 0);
        check_features(ds, 'f', 5, 3);
        cr_assert_eq(gn_dataset_n_outputs(ds), 2);
        cr_assert_eq(gn_dataset_ldy(ds), 2);
        for (size_t j = 0; j < 5; j++)
            for (size_t t = 0; t < 2; t++)
                cr_assert_eq(gn_dataset_y(ds)[t + 2 * j], (float)target_value(j, t),
                             "%s: sample %zu output %zu", two[f], j, t);
        gn_dataset_free(ds);
    }
}

Test(npy, inputs_only_give_zero_targets)
{
    gn_dataset *ds = load_ok(fixture("x-i4.npy"), NULL, 0, 0);
    check_features(ds, 'i', 5, 3);
    cr_assert_eq(gn_dataset_n_outputs(ds), 1);
    for (size_t j = 0; j < 5; j++)
        cr_assert_eq(gn_dataset_y(ds)[j], 0.0f);
    gn_dataset_free(ds);
    ds = load_ok(fixture("x-i4.npy"), NULL, 0, 10);
    cr_assert_eq(gn_dataset_n_outputs(ds), 10);
    for (size_t e = 0; e < 50; e++)
        cr_assert_eq(gn_dataset_y(ds)[e], 0.0f);
    gn_dataset_free(ds);
}

Test(npy, n_classes_widens_and_bounds_the_labels)
{
    gn_dataset *ds = load_ok(fixture("x-f4.npy"), fixture("y-i2.npy"), 0, 7);
    check_labels(ds, 5, 7);
    gn_dataset_free(ds);
    ds = load_ok(fixture("x-f4.npy"), fixture("y-i2.npy"), 0, 3);
    check_labels(ds, 5, 3);
    gn_dataset_free(ds);
    /* labels go up to 2: two classes are too few, named by the first label out of range */
    load_fails(fixture("x-f4.npy"), fixture("y-i2.npy"), 0, 2, GN_ERR_FORMAT,
               "label 1 is 2, not below n_classes = 2");
}

Test(npy, options_out_of_range_are_argument_errors)
{
    load_fails(fixture("x-f4.npy"), fixture("y-i8.npy"), 0, 65537, GN_ERR_ARG, "65537");
    load_fails(fixture("x-f4.npy"), fixture("t-f8-1d.npy"), 1, 3, GN_ERR_ARG, "regression");
    load_fails(fixture("x-f4.npy"), fixture("y-i8.npy"), 2, 0, GN_ERR_ARG, "regression = 2");
    load_fails(fixture("x-f4.npy"), fixture("y-i8.npy"), -1, 0, GN_ERR_ARG, NULL);
    gn_dataset *ds = load_ok(fixture("x-f4.npy"), fixture("y-i8.npy"), 0, 65536);
    cr_assert_eq(gn_dataset_n_outputs(ds), 65536);
    gn_dataset_free(ds);
}

Test(npy, null_arguments_and_default_options)
{
    char err[ERRLEN];
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_load_npy(NULL, fixture("x-f4.npy"), NULL, NULL, err, sizeof err),
                 GN_ERR_NULL);
    cr_assert_eq(gn_dataset_load_npy(&ds, NULL, NULL, NULL, err, sizeof err), GN_ERR_NULL);
    cr_assert_null(ds);
    cr_assert_neq(err[0], '\0');
    cr_assert_eq(gn_dataset_load_npy(&ds, fixture("x-f4.npy"), fixture("y-i8.npy"), NULL, NULL, 0),
                 GN_OK, "NULL options and NULL err are allowed");
    check_labels(ds, 5, 3);
    gn_dataset_free(ds);
    gn_array_options_defaults(NULL); /* a no-op */
    gn_array_options opt = {7, 9};
    gn_array_options_defaults(&opt);
    cr_assert_eq(opt.regression, 0);
    cr_assert_eq(opt.n_classes, 0);
}

Test(npy, short_error_buffer_is_terminated)
{
    char err[8];
    memset(err, 'x', sizeof err);
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_load_npy(&ds, fixture("bad-x-be.npy"), NULL, NULL, err, sizeof err),
                 GN_ERR_FORMAT);
    cr_assert_eq(err[sizeof err - 1], '\0');
    cr_assert_eq(strlen(err), sizeof err - 1);
}

Test(npy, missing_files_and_directories_are_io_errors)
{
    load_fails("/nonexistent/x.npy", NULL, 0, 0, GN_ERR_IO, "/nonexistent/x.npy: cannot open");
    load_fails(fixture("x-f4.npy"), "/nonexistent/y.npy", 0, 0, GN_ERR_IO, "/nonexistent/y.npy");
    load_fails(tmp_dir, NULL, 0, 0, GN_ERR_IO, "is a directory");
    load_fails("/dev/null", NULL, 0, 0, GN_ERR_IO, "not a regular file");
}

Test(npy, sample_counts_must_match)
{
    load_fails(fixture("x-f4.npy"), fixture("y-i8-6.npy"), 0, 0, GN_ERR_FORMAT, "has 6 labels");
    load_fails(fixture("x-f4-1d.npy"), fixture("t-f8-1d.npy"), 1, 0, GN_ERR_FORMAT, "5 targets");
}

Test(npy, labels_are_one_dimensional_targets_at_most_two)
{
    load_fails(fixture("x-f4.npy"), fixture("t-f4-2d.npy"), 0, 0, GN_ERR_FORMAT, "labels need 1");
    load_fails(fixture("x-f4-3d.npy"), fixture("x-f4-3d.npy"), 1, 0, GN_ERR_FORMAT,
               "targets need 1 or 2");
}

/*---- what we refuse ----*/

Test(npy_refused, dtypes)
{
    load_fails(fixture("bad-x-be.npy"), NULL, 0, 0, GN_ERR_FORMAT, "'>f4' (byte 20) is big-endian");
    load_fails(fixture("bad-object.npy"), NULL, 0, 0, GN_ERR_FORMAT, "pickled");
    load_fails(fixture("bad-structured.npy"), NULL, 0, 0, GN_ERR_FORMAT, "structured dtype");
    load_fails(fixture("bad-bool.npy"), NULL, 0, 0, GN_ERR_FORMAT, "unsupported dtype '|b1'");
    load_fails(fixture("bad-complex.npy"), NULL, 0, 0, GN_ERR_FORMAT, "unsupported dtype '<c8'");
    /* a big-endian label file likewise */
    load_fails(fixture("x-f4.npy"), fixture("bad-x-be.npy"), 1, 0, GN_ERR_FORMAT, "big-endian");
}

Test(npy_refused, shapes_without_samples)
{
    load_fails(fixture("bad-scalar.npy"), NULL, 0, 0, GN_ERR_FORMAT, "0-d array");
    load_fails(fixture("bad-empty.npy"), NULL, 0, 0, GN_ERR_FORMAT, "no samples");
}

Test(npy_refused, nonfinite_features_name_the_element)
{
    /* element k of a (5, 3) array is sample k / 3, feature k % 3 */
    load_fails(fixture("bad-x-nan.npy"), fixture("y-i8.npy"), 0, 0, GN_ERR_NONFINITE,
               "element 10 (sample 3, feature 1) is NaN");
    load_fails(fixture("bad-x-inf.npy"), NULL, 0, 0, GN_ERR_NONFINITE,
               "element 8 (sample 2, feature 2) is minus infinity");
    load_fails(fixture("bad-x-f8-range.npy"), NULL, 0, 0, GN_ERR_NONFINITE,
               "element 12 (sample 4, feature 0) is 1.0000000000000001e+300, beyond the float "
               "range");
}

Test(npy_refused, bad_labels_and_targets)
{
    load_fails(fixture("x-f4.npy"), fixture("bad-y-fraction.npy"), 0, 0, GN_ERR_FORMAT,
               "label 2 is not a whole number (1.5)");
    load_fails(fixture("x-f4.npy"), fixture("bad-y-negative.npy"), 0, 0, GN_ERR_FORMAT,
               "label 1 is negative (-1)");
    load_fails(fixture("x-f4.npy"), fixture("bad-t-nan.npy"), 1, 0, GN_ERR_NONFINITE,
               "element 4 (sample 4, output 0) is NaN");
    load_fails(fixture("x-f4.npy"), fixture("bad-y-nan.npy"), 0, 0, GN_ERR_NONFINITE,
               "label 3 is NaN");
}

Test(npy_refused, truncation_at_every_byte)
{
    const char *files[] = {"x-f4.npy", "x-f4-v2.npy", "y-u1.npy"};
    for (int f = 0; f < 3; f++) {
        size_t len;
        uint8_t *b = read_whole_file(fixture(files[f]), &len);
        const char *path = new_path();
        for (size_t cut = 0; cut < len; cut++) {
            FILE *o = fopen(path, "wb");
            cr_assert_not_null(o);
            cr_assert_eq(fwrite(b, 1, cut, o), cut);
            cr_assert_eq(fclose(o), 0);
            char err[ERRLEN] = "";
            gn_dataset *ds = NULL;
            gn_status st = gn_dataset_load_npy(&ds, path, NULL, NULL, err, sizeof err);
            cr_assert_eq(st, GN_ERR_FORMAT, "%s cut at %zu: %s (%s)", files[f], cut,
                         gn_strerror(st), err);
            cr_assert_null(ds);
            cr_assert(strstr(err, "truncated") || strstr(err, "ends inside"), "%s cut at %zu: %s",
                      files[f], cut, err);
        }
        free(b);
    }
}

Test(npy_refused, trailing_bytes)
{
    size_t len;
    uint8_t *b = read_whole_file(fixture("x-f4.npy"), &len); /* has a spare byte */
    b[len] = 0;
    load_fails(write_file(b, len + 1), NULL, 0, 0, GN_ERR_FORMAT,
               "trailing bytes: 1 after the 60 bytes of data");
    free(b);
}

Test(npy_refused, magic_and_version)
{
    size_t len;
    uint8_t *b = read_whole_file(fixture("x-f4.npy"), &len);
    for (size_t i = 0; i < 6; i++) {
        b[i] ^= 0x20;
        char part[32];
        snprintf(part, sizeof part, "bad magic at byte %zu", i);
        load_fails(write_file(b, len), NULL, 0, 0, GN_ERR_FORMAT, part);
        b[i] ^= 0x20;
    }
    const unsigned char versions[][2] = {{0, 0}, {4, 0}, {1, 1}, {2, 1}};
    for (size_t v = 0; v < 4; v++) {
        b[6] = versions[v][0];
        b[7] = versions[v][1];
        char part[64];
        snprintf(part, sizeof part, "version %u.%u at byte 6", versions[v][0], versions[v][1]);
        load_fails(write_file(b, len), NULL, 0, 0, GN_ERR_FORMAT, part);
    }
    free(b);
    load_fails(write_file("x,y\n1,2\n", 8), NULL, 0, 0, GN_ERR_FORMAT, "not a .npy file");
}

/*---- headers built here ----*/

/* A version 1.0 file: prefix, the header text exactly as given, then `data`. */
static const char *npy_v1(const char *header, const void *data, size_t data_len)
{
    size_t hlen = strlen(header);
    uint8_t *b = malloc(10 + hlen + data_len + 1);
    cr_assert_not_null(b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)(hlen & 0xff);
    b[9] = (uint8_t)(hlen >> 8);
    memcpy(b + 10, header, hlen);
    if (data_len)
        memcpy(b + 10 + hlen, data, data_len);
    const char *path = write_file(b, 10 + hlen + data_len);
    free(b);
    return path;
}

static float six[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};

/* Expects the header to be refused with a message naming `part` and, if at is not NULL, the
 * byte offset in the file of the first occurrence of `at` in the header. */
static void header_fails(const char *header, const char *part, const char *at)
{
    char want[96] = "";
    if (at) {
        const char *p = strstr(header, at);
        cr_assert_not_null(p, "test bug: '%s' not in the header", at);
        snprintf(want, sizeof want, "byte %zu", (size_t)(p - header) + 10);
    }
    const char *path = npy_v1(header, six, sizeof six);
    char err[ERRLEN];
    gn_dataset *ds = NULL;
    gn_status st = gn_dataset_load_npy(&ds, path, NULL, NULL, err, sizeof err);
    cr_assert_eq(st, GN_ERR_FORMAT, "header '%s': %s (%s)", header, gn_strerror(st), err);
    cr_assert_null(ds);
    cr_assert_not_null(strstr(err, part), "header '%s': message '%s' lacks '%s'", header, err,
                       part);
    if (at)
        cr_assert_not_null(strstr(err, want), "header '%s': message '%s' lacks '%s'", header, err,
                           want);
}

static void header_loads(const char *header, size_t n, size_t nf, bool fortran)
{
    gn_dataset *ds = load_ok(npy_v1(header, six, sizeof six), NULL, 0, 0);
    cr_assert_eq(gn_dataset_n_samples(ds), n);
    cr_assert_eq(gn_dataset_n_features(ds), nf);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nf; i++) {
            size_t e = fortran ? j + i * n : i + j * nf; /* where (j, i) sits in the file */
            cr_assert_eq(gn_dataset_x(ds)[i + j * nf], six[e], "'%s': sample %zu feature %zu",
                         header, j, i);
        }
    gn_dataset_free(ds);
}

Test(npy_header, accepted_spellings)
{
    header_loads("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   \n", 2, 3, false);
    header_loads("{'shape': (3, 2), 'fortran_order': True, 'descr': '<f4'}\n", 3, 2, true);
    header_loads("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (6,)}\n", 6, 1, false);
    header_loads("{'descr':'<f4','fortran_order':False,'shape':(2,3,),}\n", 2, 3, false);
    header_loads("{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 3 , 1 , 2 ) }\n", 3, 2,
                 false);
}

Test(npy_header, dict_structure)
{
    header_fails(" {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", "expected '{'",
                 " {");
    header_fails("['descr', '<f4']\n", "expected '{'", "[");
    header_fails("{'descr': '<f4', 'fortran_order': False}\n", "the key 'shape' is missing", NULL);
    header_fails("{'descr': '<f4', 'shape': (2, 3)}\n", "'fortran_order' is missing", NULL);
    header_fails("{'fortran_order': False, 'shape': (2, 3)}\n", "'descr' is missing", NULL);
    header_fails("{}\n", "missing", NULL);
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}\n",
                 "unknown key 'x'", "'x'");
    header_fails("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}\n",
                 "repeated key 'descr'", "'descr': '<f4', 'f");
    header_fails("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}\n", "expected ':'",
                 "'<f4'");
    header_fails("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}\n",
                 "expected ',' or '}'", "'fortran");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3),, }\n",
                 "a key in quotes", ", }");
    header_fails("{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}\n", "a key in quotes",
                 "descr");
}

Test(npy_header, padding_and_newline)
{
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}   ",
                 "a newline at the end of the header", NULL);
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\t\n",
                 "spaces and a final newline", "\t");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x\n",
                 "spaces and a final newline", "x\n");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\n \n",
                 "spaces and a final newline", "\n \n");
    header_fails("{'descr': '<f4',\n'fortran_order': False, 'shape': (2, 3)}\n", "expected",
                 "\n'f");
}

Test(npy_header, values)
{
    header_fails("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}\n", "True or False",
                 "false");
    header_fails("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}\n", "True or False", "0,");
    header_fails("{'descr': <f4, 'fortran_order': False, 'shape': (2, 3)}\n",
                 "the dtype as a string", "<f4,");
    header_fails("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}\n",
                 "expected ',' or '}'", "fortran");
    header_fails("{'descr': '<f4\\n', 'fortran_order': False, 'shape': (2, 3)}\n",
                 "without escapes", "\\n");
    header_fails("{'descr': '<f4\xe9', 'fortran_order': False, 'shape': (2, 3)}\n",
                 "without escapes", "\xe9");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}\n", "a tuple", "[2");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}\n", "a 1-tuple", ")}");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}\n", "',' or ')'", "3)");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}\n", "a dimension",
                 "-3");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (02, 3)}\n", "leading zeros",
                 "2, 3");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3L)}\n", "',' or ')'",
                 "L)");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1_0)}\n", "',' or ')'",
                 "_0");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1)}\n",
                 "below 2^64", "9999");
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)\n", "expected", "\n");
    char many[512] = "{'descr': '<f4', 'fortran_order': False, 'shape': (6";
    for (int d = 1; d < 33; d++)
        strcat(many, ", 1");
    strcat(many, ")}\n");
    header_fails(many, "more than 32 dimensions", "1)}");
}

Test(npy_header, dtypes_spelled_wrong)
{
    header_fails("{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3)}\n",
                 "unsupported dtype 'f4'", "'f4'");
    header_fails("{'descr': '<f4x', 'fortran_order': False, 'shape': (2, 3)}\n",
                 "unsupported dtype", NULL);
    header_fails("{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3)}\n", "unsupported dtype",
                 NULL);
    header_fails("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3)}\n",
                 "unsupported dtype '<f2'", NULL);
    header_fails("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2, 3)}\n",
                 "unsupported dtype", NULL);
    header_fails("{'descr': '', 'fortran_order': False, 'shape': (2, 3)}\n", "unsupported dtype",
                 NULL);
}

Test(npy_header, sizes_against_limits_and_the_file)
{
    /* 6 floats of data in every case */
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483649,)}\n",
                 "exceed the limit of 2^31", NULL);
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4096, 4097)}\n",
                 "more than 2^24 features", NULL);
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 0)}\n", "is 0", NULL);
    header_fails("{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648, 16777216)}\n",
                 "truncated: shape and dtype '<f8' need 288230376151711744 bytes", NULL);
    header_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}\n",
                 "trailing bytes: 8 after the 16 bytes", NULL);
    /* header length 0, and beyond the file */
    uint8_t b[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    load_fails(write_file(b, 16), NULL, 0, 0, GN_ERR_FORMAT, "header length 0 at byte 8 is zero");
    b[8] = 0xff;
    load_fails(write_file(b, 16), NULL, 0, 0, GN_ERR_FORMAT, "file ends inside the header");
    b[6] = 2;
    b[8] = 0;
    b[10] = 0x20; /* 2 MiB */
    load_fails(write_file(b, 16), NULL, 0, 0, GN_ERR_FORMAT, "beyond the limit of 1 MiB");
}
