/* The HDF5 loader: files written here with the HDF5 C API (float32 and float64 features in
 * either byte order, integer labels, a 3-D X, a chunked + gzip dataset, datasets in groups,
 * regression targets), every value compared with the formula that wrote it; missing files and
 * datasets, wrong classes and ranks, bad values; HDF5's error printing off during a call and
 * restored after it; two threads loading at once. Built without HDF5, it checks the stub. */
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
#include "tmpfiles.h"

enum { ERRLEN = 512 };

#ifndef GN_HAVE_HDF5

Test(hdf5, without_hdf5_the_loader_says_so)
{
    cr_assert_eq(gn_hdf5_available(), 0);
    char err[ERRLEN];
    gn_dataset *ds = (gn_dataset *)err;
    cr_assert_eq(gn_dataset_load_hdf5(&ds, "x.h5", "X", "y", NULL, err, sizeof err),
                 GN_ERR_UNSUPPORTED);
    cr_assert_null(ds);
    cr_assert_not_null(strstr(err, "without HDF5"), "%s", err);
}

#else

#include <hdf5.h>
#include <pthread.h>
#include <sys/wait.h>

TestSuite(hdf5, .init = make_tmp_dir, .fini = remove_tmp_dir);

static const char *new_path(void)
{
    cr_assert_lt(n_tmp_files, MAX_FILES);
    char *path = tmp_files[n_tmp_files];
    snprintf(path, sizeof tmp_files[0], "%s/f%zu.h5", tmp_dir, n_tmp_files);
    n_tmp_files++;
    return path;
}

/*---- writing files ----*/

static double feature_value(size_t j, size_t i, size_t nf)
{
    return 0.25 * (double)(j * nf + i) - 2.0;
}
static int label_of(size_t j) { return (int)((2 * j) % 3); }
static double target_value(size_t j, size_t t) { return 1.5 * (double)j - (double)t; }

/* Dataset `name` of file type ftype holding data (memory type mtype), rank dims; chunked and
 * gzip-compressed if chunk_rows > 0. */
static void put(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank,
                const hsize_t *dims, const void *data, hsize_t chunk_rows)
{
    hid_t space = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    cr_assert_geq(space, 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    cr_assert_geq(dcpl, 0);
    if (chunk_rows) {
        hsize_t chunk[H5S_MAX_RANK];
        memcpy(chunk, dims, (size_t)rank * sizeof *chunk);
        chunk[0] = chunk_rows;
        cr_assert_geq(H5Pset_chunk(dcpl, rank, chunk), 0);
        cr_assert_geq(H5Pset_deflate(dcpl, 6), 0);
    }
    hid_t d = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    cr_assert_geq(d, 0, "cannot create %s", name);
    cr_assert_geq(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    cr_assert_geq(H5Dclose(d), 0);
    cr_assert_geq(H5Pclose(dcpl), 0);
    cr_assert_geq(H5Sclose(space), 0);
}

/* Features of n samples with the shape dims[1..rank) as doubles, from feature_value. */
static double *features(size_t n, size_t nf)
{
    double *x = malloc(n * nf * sizeof *x);
    cr_assert_not_null(x);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nf; i++)
            x[i + j * nf] = feature_value(j, i, nf);
    return x;
}

static hid_t create(const char **path)
{
    *path = new_path();
    hid_t f = H5Fcreate(*path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    return f;
}

/* A file with X (n × nf, file type ftype) and int32 labels "y". */
static const char *simple_file(size_t n, size_t nf, hid_t ftype)
{
    const char *path;
    hid_t f = create(&path);
    double *x = features(n, nf);
    int *y = malloc(n * sizeof *y);
    for (size_t j = 0; j < n; j++)
        y[j] = label_of(j);
    hsize_t dx[2] = {n, nf}, dy[1] = {n};
    put(f, "X", ftype, H5T_NATIVE_DOUBLE, 2, dx, x, 0);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dy, y, 0);
    cr_assert_geq(H5Fclose(f), 0);
    free(x);
    free(y);
    return path;
}

/*---- checks ----*/

static gn_dataset *load_ok(const char *path, const char *x, const char *y, int regression)
{
    gn_array_options opt;
    gn_array_options_defaults(&opt);
    opt.regression = regression;
    char err[ERRLEN];
    gn_dataset *ds = NULL;
    gn_status st = gn_dataset_load_hdf5(&ds, path, x, y, &opt, err, sizeof err);
    cr_assert_eq(st, GN_OK, "%s: %s (%s)", path, gn_strerror(st), err);
    cr_assert_str_empty(err);
    return ds;
}

static void load_fails(const char *path, const char *x, const char *y, int regression, gn_status st,
                       const char *part)
{
    gn_array_options opt = {regression, 0};
    char err[ERRLEN];
    gn_dataset *ds = (gn_dataset *)&opt;
    gn_status got = gn_dataset_load_hdf5(&ds, path, x, y, &opt, err, sizeof err);
    cr_assert_eq(got, st, "%s: expected %s, got %s (%s)", path, gn_strerror(st), gn_strerror(got),
                 err);
    cr_assert_null(ds);
    cr_assert_not_null(strstr(err, part), "message '%s' lacks '%s'", err, part);
}

static void check_features(const gn_dataset *ds, size_t n, size_t nf)
{
    cr_assert_eq(gn_dataset_n_samples(ds), n);
    cr_assert_eq(gn_dataset_n_features(ds), nf);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nf; i++)
            cr_assert_eq(gn_dataset_x(ds)[i + j * nf], (float)feature_value(j, i, nf),
                         "sample %zu feature %zu", j, i);
}

static void check_labels(const gn_dataset *ds, size_t n)
{
    cr_assert_eq(gn_dataset_n_outputs(ds), 3);
    for (size_t j = 0; j < n; j++)
        for (int c = 0; c < 3; c++)
            cr_assert_eq(gn_dataset_y(ds)[(size_t)c + 3 * j], c == label_of(j) ? 1.0f : 0.0f,
                         "sample %zu class %d", j, c);
}

/*---- tests ----*/

Test(hdf5, available) { cr_assert_eq(gn_hdf5_available(), 1); }

Test(hdf5, float32_and_float64_in_both_byte_orders)
{
    hid_t types[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_IEEE_F32BE, H5T_IEEE_F64BE};
    for (int t = 0; t < 4; t++) {
        const char *path = simple_file(7, 4, types[t]);
        gn_dataset *ds = load_ok(path, "X", "y", 0);
        check_features(ds, 7, 4);
        check_labels(ds, 7);
        gn_dataset_free(ds);
    }
}

Test(hdf5, integer_labels_of_several_widths_and_integer_features)
{
    const char *path;
    hid_t f = create(&path);
    size_t n = 6;
    long long y64[6];
    unsigned char y8[6];
    short xs[6 * 2];
    for (size_t j = 0; j < n; j++) {
        y64[j] = label_of(j);
        y8[j] = (unsigned char)label_of(j);
        xs[2 * j] = (short)(-100 * (int)j);
        xs[2 * j + 1] = (short)(7 * (int)j);
    }
    hsize_t dy[1] = {n}, dx[2] = {n, 2};
    put(f, "y64", H5T_STD_I64BE, H5T_NATIVE_LLONG, 1, dy, y64, 0);
    put(f, "y8", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, dy, y8, 0);
    put(f, "xs", H5T_STD_I16LE, H5T_NATIVE_SHORT, 2, dx, xs, 0);
    cr_assert_geq(H5Fclose(f), 0);
    const char *labels[] = {"y64", "y8"};
    for (int l = 0; l < 2; l++) {
        gn_dataset *ds = load_ok(path, "xs", labels[l], 0);
        check_labels(ds, n);
        for (size_t j = 0; j < n; j++) {
            cr_assert_eq(gn_dataset_x(ds)[2 * j], -100.0f * (float)j);
            cr_assert_eq(gn_dataset_x(ds)[2 * j + 1], 7.0f * (float)j);
        }
        gn_dataset_free(ds);
    }
}

Test(hdf5, three_dimensional_features_flatten_row_major)
{
    const char *path;
    hid_t f = create(&path);
    float x[4][2][3];
    int y[4];
    for (size_t j = 0; j < 4; j++) {
        y[j] = label_of(j);
        for (size_t a = 0; a < 2; a++)
            for (size_t b = 0; b < 3; b++)
                x[j][a][b] = (float)feature_value(j, 3 * a + b, 6);
    }
    hsize_t dx[3] = {4, 2, 3}, dy[1] = {4};
    put(f, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dx, x, 0);
    put(f, "labels", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dy, y, 0);
    cr_assert_geq(H5Fclose(f), 0);
    gn_dataset *ds = load_ok(path, "images", "labels", 0);
    check_features(ds, 4, 6);
    check_labels(ds, 4);
    gn_dataset_free(ds);
}

Test(hdf5, chunked_gzip_datasets_in_groups_over_several_blocks)
{
    /* 300 000 values: more than one read block of the loader (2^17 doubles) */
    size_t n = 30000, nf = 10;
    const char *path;
    hid_t f = create(&path);
    hid_t g = H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(g, 0);
    cr_assert_geq(H5Gclose(g), 0);
    double *x = features(n, nf);
    int *y = malloc(n * sizeof *y);
    for (size_t j = 0; j < n; j++)
        y[j] = label_of(j);
    hsize_t dx[2] = {n, nf}, dy[1] = {n};
    put(f, "/train/X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dx, x, 1000);
    put(f, "/train/y", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dy, y, 777);
    cr_assert_geq(H5Fclose(f), 0);
    free(x);
    free(y);
    gn_dataset *ds = load_ok(path, "/train/X", "train/y", 0);
    check_features(ds, n, nf);
    check_labels(ds, n);
    gn_dataset_free(ds);
}

Test(hdf5, regression_targets_and_inputs_only)
{
    const char *path;
    hid_t f = create(&path);
    size_t n = 5;
    double *x = features(n, 3), t1[5], t2[5][2];
    for (size_t j = 0; j < n; j++) {
        t1[j] = target_value(j, 0);
        for (size_t t = 0; t < 2; t++)
            t2[j][t] = target_value(j, t);
    }
    hsize_t dx[2] = {n, 3}, d1[1] = {n}, d2[2] = {n, 2};
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 2, dx, x, 0);
    put(f, "t1", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d1, t1, 0);
    put(f, "t2", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 2, d2, t2, 0);
    cr_assert_geq(H5Fclose(f), 0);
    free(x);
    gn_dataset *ds = load_ok(path, "X", "t1", 1);
    cr_assert_eq(gn_dataset_n_outputs(ds), 1);
    for (size_t j = 0; j < n; j++)
        cr_assert_eq(gn_dataset_y(ds)[j], (float)target_value(j, 0));
    gn_dataset_free(ds);
    ds = load_ok(path, "X", "t2", 1);
    check_features(ds, n, 3);
    cr_assert_eq(gn_dataset_n_outputs(ds), 2);
    for (size_t j = 0; j < n; j++)
        for (size_t t = 0; t < 2; t++)
            cr_assert_eq(gn_dataset_y(ds)[t + 2 * j], (float)target_value(j, t));
    gn_dataset_free(ds);
    ds = load_ok(path, "X", NULL, 0);
    check_features(ds, n, 3);
    cr_assert_eq(gn_dataset_n_outputs(ds), 1);
    for (size_t j = 0; j < n; j++)
        cr_assert_eq(gn_dataset_y(ds)[j], 0.0f);
    gn_dataset_free(ds);
    /* two outputs are not labels */
    load_fails(path, "X", "t2", 0, GN_ERR_FORMAT, "rank 1 (n,)");
}

Test(hdf5, missing_files_non_hdf5_files_and_missing_datasets)
{
    load_fails("/nonexistent/d.h5", "X", "y", 0, GN_ERR_IO, "/nonexistent/d.h5: cannot open");
    load_fails(tmp_dir, "X", "y", 0, GN_ERR_IO, "is a directory");
    const char *text = new_path();
    FILE *t = fopen(text, "w");
    cr_assert_not_null(t);
    fputs("x,y\n1,2\n", t);
    cr_assert_eq(fclose(t), 0);
    load_fails(text, "X", "y", 0, GN_ERR_FORMAT, "not an HDF5 file");
    const char *path = simple_file(4, 2, H5T_IEEE_F32LE);
    load_fails(path, "features", "y", 0, GN_ERR_FORMAT, "no dataset 'features' (for the features)");
    load_fails(path, "X", "labels", 0, GN_ERR_FORMAT, "no dataset 'labels' (for the labels)");
    load_fails(path, "/no/such/X", "y", 0, GN_ERR_FORMAT, "no dataset '/no/such/X'");
    load_fails(path, "", "y", 0, GN_ERR_ARG, "empty dataset name");
    load_fails(path, "/", "y", 0, GN_ERR_FORMAT, "'/'");
    char err[ERRLEN];
    gn_dataset *ds = NULL;
    cr_assert_eq(gn_dataset_load_hdf5(&ds, path, NULL, "y", NULL, err, sizeof err), GN_ERR_NULL);
    cr_assert_eq(gn_dataset_load_hdf5(&ds, NULL, "X", "y", NULL, err, sizeof err), GN_ERR_NULL);
    cr_assert_eq(gn_dataset_load_hdf5(NULL, path, "X", "y", NULL, err, sizeof err), GN_ERR_NULL);
    gn_array_options bad = {0, 70000};
    cr_assert_eq(gn_dataset_load_hdf5(&ds, path, "X", "y", &bad, err, sizeof err), GN_ERR_ARG);
    cr_assert_null(ds);
}

Test(hdf5, wrong_classes_ranks_and_shapes)
{
    const char *path;
    hid_t f = create(&path);
    hid_t g = H5Gcreate2(f, "group", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(H5Gclose(g), 0);
    double one = 1.0, x[4][2] = {{0}}, y2[4][2] = {{0}};
    hsize_t d1[1] = {4}, d2[2] = {4, 2}, d0[2] = {4, 0}, d5[1] = {5};
    put(f, "scalar", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &one, 0);
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2, x, 0);
    put(f, "y2", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2, y2, 0);
    put(f, "nofeat", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d0, x, 0);
    int five[5] = {0, 1, 2, 0, 1};
    put(f, "y5", H5T_STD_I32LE, H5T_NATIVE_INT, 1, d5, five, 0);
    hid_t str = H5Tcopy(H5T_C_S1);
    cr_assert_geq(H5Tset_size(str, 4), 0);
    char words[4][4] = {"ab", "cd", "ef", "gh"};
    put(f, "names", str, str, 1, d1, words, 0);
    cr_assert_geq(H5Tclose(str), 0);
    cr_assert_geq(H5Fclose(f), 0);

    load_fails(path, "scalar", NULL, 0, GN_ERR_FORMAT, "a scalar");
    load_fails(path, "X", "y2", 0, GN_ERR_FORMAT, "the labels need rank 1 (n,), it has rank 2");
    load_fails(path, "X", "scalar", 1, GN_ERR_FORMAT, "a scalar");
    load_fails(path, "nofeat", NULL, 0, GN_ERR_FORMAT, "dimension 2 of 2 is 0");
    load_fails(path, "X", "y5", 0, GN_ERR_FORMAT, "'X' has 4 samples but 'y5' has 5 labels");
    load_fails(path, "names", NULL, 0, GN_ERR_FORMAT, "holds strings");
    load_fails(path, "X", "names", 0, GN_ERR_FORMAT, "holds strings");
    load_fails(path, "group", NULL, 0, GN_ERR_FORMAT, "'group' is not a dataset");
}

Test(hdf5, bad_values_name_the_element)
{
    const char *path;
    hid_t f = create(&path);
    double *x = features(5, 3), big = 1e300, frac[5] = {0, 1, 1.5, 2, 0}, neg[5] = {0, -1, 0, 0, 0};
    hsize_t dx[2] = {5, 3}, dy[1] = {5};
    x[3 * 3 + 1] = NAN;
    put(f, "nan", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, 2, dx, x, 0);
    x[3 * 3 + 1] = 0.0;
    x[4 * 3 + 2] = big;
    put(f, "big", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dx, x, 0);
    put(f, "frac", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dy, frac, 0);
    put(f, "neg", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dy, neg, 0);
    cr_assert_geq(H5Fclose(f), 0);
    free(x);
    load_fails(path, "nan", NULL, 0, GN_ERR_NONFINITE, "element 10 (sample 3, feature 1) is NaN");
    load_fails(path, "big", NULL, 0, GN_ERR_NONFINITE,
               "element 14 (sample 4, feature 2) is 1.0000000000000001e+300, beyond");
    load_fails(path, "big", "frac", 0, GN_ERR_FORMAT, "label 2 is not a whole number (1.5)");
    load_fails(path, "big", "neg", 0, GN_ERR_FORMAT, "label 1 is negative");
    /* as regression targets the same values are fine */
    gn_array_options opt = {1, 0};
    gn_dataset *ds = NULL;
    char err[ERRLEN];
    cr_assert_eq(gn_dataset_load_hdf5(&ds, path, "frac", "frac", &opt, err, sizeof err), GN_OK,
                 "%s", err);
    cr_assert_eq(gn_dataset_y(ds)[2], 1.5f);
    gn_dataset_free(ds);
}

static int printed;
static herr_t count_prints(hid_t stack, void *data)
{
    (void)stack, (void)data;
    printed++;
    return 0;
}

Test(hdf5, error_printing_is_off_during_a_call_and_restored_after)
{
    const char *path = simple_file(4, 2, H5T_IEEE_F32LE);
    cr_assert_geq(H5Eset_auto2(H5E_DEFAULT, count_prints, &printed), 0);
    load_fails(path, "X", "nope", 0, GN_ERR_FORMAT, "no dataset 'nope'");
    load_fails(path, "X", "/a/b/c", 0, GN_ERR_FORMAT, "no dataset");
    cr_assert_eq(printed, 0, "HDF5 printed %d error stacks during the calls", printed);
    H5E_auto2_t fn = NULL;
    void *data = NULL;
    cr_assert_geq(H5Eget_auto2(H5E_DEFAULT, &fn, &data), 0);
    cr_assert_eq(fn, count_prints, "the caller's error handler was not restored");
    cr_assert_eq(data, &printed);
    /* the handler does fire outside the call (so the count above could have seen prints) */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(file, 0);
    cr_assert_lt(H5Dopen2(file, "nope", H5P_DEFAULT), 0);
    cr_assert_gt(printed, 0);
    H5Fclose(file);
}

typedef struct job {
    const char *path;
    int ok;
} job;

static void *load_many(void *arg)
{
    job *jb = arg;
    jb->ok = 1;
    for (int r = 0; r < 10 && jb->ok; r++) {
        gn_dataset *ds = NULL;
        char err[ERRLEN];
        if (gn_dataset_load_hdf5(&ds, jb->path, "X", "y", NULL, err, sizeof err) != GN_OK) {
            jb->ok = 0;
            break;
        }
        const float *X = gn_dataset_x(ds);
        for (size_t e = 0; e < 2000 * 8; e++)
            jb->ok &= X[e] == (float)feature_value(e / 8, e % 8, 8);
        gn_dataset_free(ds);
    }
    return NULL;
}

Test(hdf5, two_threads_load_at_once)
{
    job jobs[2] = {{simple_file(2000, 8, H5T_IEEE_F64LE), 0},
                   {simple_file(2000, 8, H5T_IEEE_F32BE), 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, load_many, &jobs[i]), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_assert(jobs[i].ok, "thread %d loaded wrong values or failed", i);
    }
}

/* Runs the CLI (GEMMNET_CLI) with args, stdout and stderr into out; returns the exit status. */
static int run_cli(const char *args, char *out, size_t len)
{
    const char *cli = getenv("GEMMNET_CLI");
    cr_assert_not_null(cli, "GEMMNET_CLI is not set (meson sets it)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 '%s' %s 2>&1", cli, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

Test(hdf5, cli_trains_evaluates_and_predicts_with_dataset_names_from_the_model)
{
    /* three classes: feature c of a class-c sample is large */
    size_t n = 300;
    const char *path;
    hid_t f = create(&path);
    hid_t g = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(H5Gclose(g), 0);
    float *x = malloc(n * 4 * sizeof *x);
    int *y = malloc(n * sizeof *y);
    uint32_t s = 7;
    for (size_t j = 0; j < n; j++) {
        y[j] = label_of(j);
        for (size_t i = 0; i < 4; i++) {
            s = s * 1664525u + 1013904223u;
            x[i + 4 * j] = (float)(s >> 8) / 16777216.0f + ((int)i == y[j] ? 2.0f : 0.0f);
        }
    }
    hsize_t dx[2] = {n, 4}, dy[1] = {n};
    put(f, "/data/features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dx, x, 50);
    put(f, "/data/classes", H5T_STD_U8LE, H5T_NATIVE_INT, 1, dy, y, 0);
    cr_assert_geq(H5Fclose(f), 0);
    free(x);
    free(y);

    static char out[1 << 16];
    char args[2048];
    cr_assert_lt(n_tmp_files, MAX_FILES);
    char *model = tmp_files[n_tmp_files++]; /* removed at the end */
    snprintf(model, sizeof tmp_files[0], "%s/m.gnn", tmp_dir);
    snprintf(args, sizeof args,
             "train -q --train %s --h5-x /data/features --h5-y data/classes --epochs 20 "
             "--batch 16 --save %s",
             path, model);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    const char *acc = strstr(out, "test_accuracy=");
    cr_assert_not_null(acc, "%s", out);
    cr_assert_geq(strtod(acc + 14, NULL), 0.9, "%s", out);
    /* the default names do not exist in this file: a data error naming the dataset */
    snprintf(args, sizeof args, "train --train %s --epochs 1", path);
    cr_assert_eq(run_cli(args, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "no dataset 'X'"), "%s", out);
    /* eval and predict take the names from the model's provenance */
    snprintf(args, sizeof args, "eval --model %s --test %s", model, path);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "samples=300"), "%s", out);
    acc = strstr(out, "test_accuracy=");
    cr_assert_not_null(acc, "%s", out);
    cr_assert_geq(strtod(acc + 14, NULL), 0.9, "%s", out);
    snprintf(args, sizeof args, "predict --model %s --input %s --labels", model, path);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    size_t lines = 0, right = 0;
    for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++)
        right += strtol(p, NULL, 10) == label_of(lines);
    cr_assert_eq(lines, n, "%s", out);
    cr_assert_geq(right, 270);
    /* labels files do not apply to HDF5 */
    snprintf(args, sizeof args, "eval --model %s --test %s --test-labels %s", model, path, path);
    cr_assert_eq(run_cli(args, out, sizeof out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "--h5-y"), "%s", out);
}

#endif /* GN_HAVE_HDF5 */
