/* Fuzz target bodies (see targets.h). Inputs reach the file loaders through a memfd opened by
 * path (/proc/self/fd/N): a regular file, as the loaders require, that never touches a disk.
 * Where memfd_create is missing, a file in a private temporary directory takes its place. */
#define _GNU_SOURCE /* memfd_create */
#include "targets.h"

#include "gemmnet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

enum { ERRLEN = 512 };

/*---- checks and scratch files ----*/

static void die(const char *target, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: broken promise: ", target);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

#define CHECK(target, cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            die(target, __VA_ARGS__);                                                              \
    } while (0)

/* A failed load must leave *out NULL and say why in a terminated, non-empty message. */
static void check_failure(const char *target, int st, const void *out, const char *err)
{
    CHECK(target, st < 0, "status %d is neither GN_OK nor an error", st);
    CHECK(target, out == NULL, "a failed load (%s) left an object behind", gn_strerror(st));
    CHECK(target, memchr(err, '\0', ERRLEN) != NULL, "error message not terminated");
    CHECK(target, err[0] != '\0', "a failed load (%s) gave no message", gn_strerror(st));
}

static char scratch_dir[256];

static void remove_scratch(void)
{
    DIR *d = opendir(scratch_dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", scratch_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(scratch_dir);
}

/* A private directory for model files (gn_net_save renames within a directory, which a memfd
 * does not have), removed at exit. */
static const char *scratch(void)
{
    if (!scratch_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(scratch_dir, sizeof scratch_dir, "%s/gemmnet-fuzz-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(scratch_dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_scratch);
    }
    return scratch_dir;
}

/* Number of entries in the scratch directory besides "." and "..". */
static size_t scratch_entries(void)
{
    DIR *d = opendir(scratch());
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/* Replaces the contents of scratch file `slot` with p[0..n) and returns a path to it. */
static const char *put_file(int slot, const void *p, size_t n)
{
    static int fds[2] = {-1, -1};
    static char paths[2][300];
    if (fds[slot] < 0) {
        fds[slot] = memfd_create(slot ? "gemmnet-fuzz-b" : "gemmnet-fuzz-a", MFD_CLOEXEC);
        if (fds[slot] >= 0) {
            snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
        } else {
            snprintf(paths[slot], sizeof paths[slot], "%s/input-%d", scratch(), slot);
            fds[slot] = open(paths[slot], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        }
        if (fds[slot] < 0) {
            perror("scratch file");
            abort();
        }
    }
    const char *b = p;
    if (ftruncate(fds[slot], 0) != 0) {
        perror("ftruncate");
        abort();
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fds[slot], b + done, n - done, (off_t)done);
        if (w <= 0) {
            perror("pwrite");
            abort();
        }
        done += (size_t)w;
    }
    return paths[slot];
}

/* The whole contents of path into a malloc'ed buffer (NULL if unreadable). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t get_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool same_bits(const float *a, const float *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

/*---- networks ----*/

/* Architecture, loss, scaling and parameters of a and b are identical, bit for bit. */
static void check_same_net(const char *target, gn_net *a, gn_net *b)
{
    size_t L = gn_net_n_layers(a);
    CHECK(target, gn_net_n_layers(b) == L, "layers %zu became %zu", L, gn_net_n_layers(b));
    for (size_t l = 0; l <= L; l++)
        CHECK(target, gn_net_layer_size(a, l) == gn_net_layer_size(b, l),
              "size of layer %zu: %zu became %zu", l, gn_net_layer_size(a, l),
              gn_net_layer_size(b, l));
    for (size_t l = 1; l <= L; l++)
        CHECK(target, gn_net_layer_act(a, l) == gn_net_layer_act(b, l),
              "activation of layer %zu changed", l);
    CHECK(target, gn_net_loss(a) == gn_net_loss(b), "loss changed");
    for (int part = 0; part < 2; part++) {
        const float *ma, *sa, *mb, *sb;
        size_t n = part == 0 ? gn_net_n_inputs(a) : gn_net_n_outputs(a);
        if (part == 0) {
            gn_net_input_scaling(a, &ma, &sa);
            gn_net_input_scaling(b, &mb, &sb);
        } else {
            gn_net_output_scaling(a, &ma, &sa);
            gn_net_output_scaling(b, &mb, &sb);
        }
        const char *what = part == 0 ? "input" : "output";
        CHECK(target, (ma == NULL) == (mb == NULL), "%s scaling %s", what,
              ma ? "was lost" : "appeared");
        if (ma)
            CHECK(target, same_bits(ma, mb, n) && same_bits(sa, sb, n),
                  "%s scaling differs after the round trip", what);
    }
    size_t n = gn_net_n_params(a);
    CHECK(target, gn_net_n_params(b) == n, "parameter count %zu became %zu", n,
          gn_net_n_params(b));
    const float *pa = gn_net_params(a), *pb = gn_net_params(b);
    for (size_t i = 0; i < n; i++) {
        uint32_t ua, ub;
        memcpy(&ua, &pa[i], 4);
        memcpy(&ub, &pb[i], 4);
        CHECK(target, ua == ub, "parameter %zu: bits %08x became %08x", i, (unsigned)ua,
              (unsigned)ub);
    }
}

/* Both networks predict the same bits for the same (finite) inputs, m ≤ 4 columns. */
static void check_same_predictions(const char *target, gn_net *a, gn_net *b, const uint8_t *seed,
                                   size_t seed_len)
{
    size_t n0 = gn_net_n_inputs(a), nL = gn_net_n_outputs(a), m = 1 + seed_len % 4, nx, ny;
    if (n0 > 4096 || nL > 4096) /* keep wide models cheap */
        m = 1;
    nx = n0 * m;
    ny = nL * m;
    float *X = malloc(nx * sizeof *X), *Ya = malloc(ny * sizeof *Ya), *Yb = malloc(ny * sizeof *Yb);
    CHECK(target, X && Ya && Yb, "out of memory in the harness");
    for (size_t i = 0; i < nx; i++)
        X[i] = seed_len ? (float)seed[i % seed_len] / 16.0f - 8.0f : 0.5f;
    gn_status sa = gn_net_predict(a, X, n0, m, Ya, nL);
    gn_status sb = gn_net_predict(b, X, n0, m, Yb, nL);
    CHECK(target, sa == GN_OK && sb == GN_OK, "predict failed: %s / %s", gn_strerror(sa),
          gn_strerror(sb));
    CHECK(target, same_bits(Ya, Yb, ny), "a reloaded model predicts different bits");
    free(X);
    free(Ya);
    free(Yb);
}

/* The section tags of a file the loader accepted, in order; true if it is exactly what
 * gn_net_save writes (32-byte header, ARCH, optional SCAL, PARM, nothing else). */
static bool canonical_file(const uint8_t *b, size_t len)
{
    if (get_u32le(b + 16) != 32)
        return false;
    uint32_t n = get_u32le(b + 20);
    static const char *const with[] = {"ARCH", "SCAL", "PARM"}, *const without[] = {"ARCH",
                                                                                     "PARM"};
    const char *const *want = n == 3 ? with : n == 2 ? without : NULL;
    if (!want)
        return false;
    size_t pos = 32;
    for (uint32_t i = 0; i < n; i++) {
        if (len - 4 - pos < 16 || memcmp(b + pos, want[i], 4) != 0)
            return false;
        uint64_t plen = get_u32le(b + pos + 8) | (uint64_t)get_u32le(b + pos + 12) << 32;
        pos += 16 + (size_t)plen;
    }
    return true;
}

/* A network that loaded from `file` (len bytes) survives save → load unchanged. */
static void model_roundtrip(const char *target, gn_net *net, const uint8_t *file, size_t len)
{
    char p1[300], p2[300], err[ERRLEN];
    snprintf(p1, sizeof p1, "%s/a.gnn", scratch());
    snprintf(p2, sizeof p2, "%s/b.gnn", scratch());
    gn_status st = gn_net_save(net, p1, err, sizeof err);
    CHECK(target, st == GN_OK, "a loaded model cannot be saved: %s: %s", gn_strerror(st), err);
    gn_net *again = NULL;
    st = gn_net_load(&again, p1, err, sizeof err);
    CHECK(target, st == GN_OK, "a saved model does not load: %s: %s", gn_strerror(st), err);
    check_same_net(target, net, again);
    check_same_predictions(target, net, again, file, len < 64 ? len : 64);
    st = gn_net_save(again, p2, err, sizeof err);
    CHECK(target, st == GN_OK, "a reloaded model cannot be saved: %s: %s", gn_strerror(st), err);
    size_t n1 = 0, n2 = 0;
    uint8_t *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
    CHECK(target, b1 && b2, "cannot read back the saved files");
    CHECK(target, n1 == n2 && memcmp(b1, b2, n1) == 0, "saving a reloaded model gives other bytes");
    if (file && canonical_file(file, len))
        CHECK(target, n1 == len && memcmp(b1, file, len) == 0,
              "a file in gn_net_save's own layout is not written back byte for byte");
    free(b1);
    free(b2);
    gn_net_free(again);
    unlink(p1);
    unlink(p2);
    CHECK(target, scratch_entries() == 0, "saving left files behind");
}

/* The checkpoint reader makes every check gn_net_load makes and those of the resume
 * sections, which gn_net_load also checks before dropping them: both must agree. */
static void checkpoint_one(const uint8_t *data, size_t size, gn_status net_status)
{
    static const char target[] = "fuzz_model";
    char err[ERRLEN];
    memset(err, 'x', sizeof err);
    gn_checkpoint *ck = (gn_checkpoint *)&err;
    gn_status st = gn_checkpoint_load_buffer(&ck, data, size, err, sizeof err);
    CHECK(target, st == net_status, "gn_checkpoint_load_buffer says %s, gn_net_load_buffer %s",
          gn_strerror(st), gn_strerror(net_status));
    if (st != GN_OK) {
        check_failure(target, st, ck, err);
        return;
    }
    gn_checkpoint_info info;
    CHECK(target, gn_checkpoint_get_info(ck, &info) == GN_OK && info.file_bytes == size,
          "checkpoint info does not describe the file");
    CHECK(target, gn_checkpoint_net(ck) != NULL, "a checkpoint without a network");
    gn_fit_progress prog;
    if (gn_checkpoint_progress(ck, &prog))
        CHECK(target, prog.best_epoch <= prog.epochs_done, "best epoch after the last one");
    char value[64];
    (void)gn_checkpoint_meta_get(ck, "gemmnet_version", value, sizeof value);
    CHECK(target, gn_checkpoint_meta(ck) != NULL, "NULL provenance text");
    gn_optimizer *opt = gn_checkpoint_take_optimizer(ck);
    CHECK(target, (opt != NULL) == (info.has_optimizer != 0), "optimizer presence mismatch");
    gn_net *net = gn_checkpoint_take_net(ck);
    CHECK(target, net && gn_checkpoint_net(ck) == NULL, "taking the network");
    if (opt)
        CHECK(target, gn_optimizer_apply(opt, net) != GN_ERR_DIM,
              "a loaded optimizer does not fit its network");
    gn_optimizer_free(opt);
    gn_net_free(net);
    gn_checkpoint_free(ck);
}

static void model_one(const uint8_t *data, size_t size)
{
    static const char target[] = "fuzz_model";
    char err[ERRLEN];
    memset(err, 'x', sizeof err);
    gn_net *net = (gn_net *)&err; /* must be overwritten */
    gn_status st = gn_net_load_buffer(&net, data, size, err, sizeof err);
    checkpoint_one(data, size, st);
    if (st != GN_OK) {
        check_failure(target, st, net, err);
        return;
    }
    CHECK(target, net != NULL, "GN_OK without a network");
    model_roundtrip(target, net, data, size);
    gn_net_free(net);
}

int gn_fuzz_model(const uint8_t *data, size_t size)
{
    model_one(data, size);
    /* Again with the length field and the CRC made to match, so mutations get past them. */
    if (size < 36)
        return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed)
        return 0;
    memcpy(fixed, data, size);
    put_u32le(fixed + 24, (uint32_t)size);
    put_u32le(fixed + 28, (uint32_t)((uint64_t)size >> 32));
    put_u32le(fixed + size - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), fixed, (uInt)(size - 4)));
    if (memcmp(fixed, data, size) != 0)
        model_one(fixed, size);
    free(fixed);
    return 0;
}

/*---- IDX ----*/

/* gzip-compresses p[0..n) into a malloc'ed buffer. */
static uint8_t *gzip(const uint8_t *p, size_t n, size_t *out_len)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&zs, (uLong)n);
    uint8_t *out = malloc(cap);
    if (out) {
        zs.next_in = (Bytef *)(uintptr_t)p;
        zs.avail_in = (uInt)n;
        zs.next_out = out;
        zs.avail_out = (uInt)cap;
        if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
            free(out);
            out = NULL;
        }
        *out_len = cap - zs.avail_out;
    }
    deflateEnd(&zs);
    return out;
}

/* The file contents the loader sees after decompression, if this harness knows them: the
 * part as given, unless it is itself a gzip stream (then only the shape is checked). */
static bool plain_known(const uint8_t *p, size_t n) { return !(n >= 2 && p[0] == 0x1f && p[1] == 0x8b); }

/* Checks a loaded dataset against the plain IDX bytes of its images and labels (labels NULL
 * for an images-only load). */
static void check_idx(const gn_dataset *ds, const uint8_t *img, size_t img_len,
                      const uint8_t *lab, size_t lab_len, bool have_labels, size_t n_classes)
{
    static const char target[] = "fuzz_idx";
    size_t n = gn_dataset_n_samples(ds), nf = gn_dataset_n_features(ds);
    size_t no = gn_dataset_n_outputs(ds);
    const float *X = gn_dataset_x(ds), *Y = gn_dataset_y(ds);
    CHECK(target, n >= 1 && nf >= 1 && no >= 1 && X && Y, "empty dataset");
    CHECK(target, gn_dataset_ldx(ds) == nf && gn_dataset_ldy(ds) == no, "unexpected strides");
    if (n_classes)
        CHECK(target, no == n_classes, "%zu outputs for n_classes = %zu", no, n_classes);
    if (img) {
        CHECK(target, img_len >= 4, "loaded from %zu bytes of images", img_len);
        size_t hdr = 4 + 4 * (size_t)img[3], per = 1;
        CHECK(target, img_len >= hdr, "loaded a truncated header");
        for (size_t d = 1; d < img[3]; d++)
            per *= get_u32be(img + 4 + 4 * d);
        CHECK(target, get_u32be(img + 4) == n && per == nf, "shape %zu × %zu, header says %u × %zu",
              nf, n, (unsigned)get_u32be(img + 4), per);
        CHECK(target, img_len - hdr == n * nf, "accepted %zu payload bytes for %zu × %zu",
              img_len - hdr, nf, n);
        for (size_t i = 0; i < n * nf; i++)
            CHECK(target, X[i] == (float)img[hdr + i] / 255.0f, "pixel %zu is %g, byte %u", i,
                  (double)X[i], img[hdr + i]);
    } else {
        for (size_t i = 0; i < n * nf; i++)
            CHECK(target, X[i] >= 0.0f && X[i] <= 1.0f, "pixel %zu is %g", i, (double)X[i]);
    }
    for (size_t j = 0; j < n; j++) {
        size_t ones = 0, at = 0;
        for (size_t c = 0; c < no; c++) {
            float y = Y[c + j * no];
            CHECK(target, y == 0.0f || y == 1.0f, "target (%zu, %zu) is %g", c, j, (double)y);
            if (y == 1.0f) {
                ones++;
                at = c;
            }
        }
        CHECK(target, ones == (have_labels ? 1u : 0u), "sample %zu has %zu ones", j, ones);
        if (lab)
            CHECK(target, lab_len == 8 + n && at == lab[8 + j], "sample %zu: class %zu, label %u",
                  j, at, lab_len > 8 + j ? lab[8 + j] : 0u);
    }
}

int gn_fuzz_idx(const uint8_t *data, size_t size)
{
    static const char target[] = "fuzz_idx";
    static const size_t classes[16] = {0, 1, 2, 3, 10, 255, 256, 257, 0, 0, 0, 2, 10, 10, 256, 0};
    if (size < 3)
        return 0;
    unsigned mode = data[0];
    bool two = mode & 1, gz_img = mode & 2, gz_lab = mode & 4;
    size_t n_classes = classes[mode >> 4];
    const uint8_t *rest = data + 3;
    size_t n = size - 3, split = two ? ((size_t)data[1] | (size_t)data[2] << 8) % (n + 1) : n;
    const uint8_t *img = rest, *lab = rest + split;
    size_t img_len = split, lab_len = n - split;

    uint8_t *zi = NULL, *zl = NULL;
    size_t zi_len = 0, zl_len = 0;
    if (gz_img && !(zi = gzip(img, img_len, &zi_len)))
        return 0;
    if (two && gz_lab && !(zl = gzip(lab, lab_len, &zl_len))) {
        free(zi);
        return 0;
    }
    const char *ip = put_file(0, zi ? zi : img, zi ? zi_len : img_len);
    const char *lp = two ? put_file(1, zl ? zl : lab, zl ? zl_len : lab_len) : NULL;

    char err[ERRLEN];
    memset(err, 'x', sizeof err);
    gn_dataset *ds = (gn_dataset *)&err;
    gn_status st = gn_dataset_load_idx(&ds, ip, lp, n_classes, err, sizeof err);
    if (n_classes > 256)
        CHECK(target, st == GN_ERR_ARG, "n_classes %zu accepted (%s)", n_classes, gn_strerror(st));
    if (st != GN_OK) {
        check_failure(target, st, ds, err);
    } else {
        CHECK(target, ds != NULL, "GN_OK without a dataset");
        /* a double-compressed part can never load: its plain form starts with 1f 8b */
        CHECK(target, plain_known(img, img_len) || !zi, "loaded gzip-in-gzip images");
        CHECK(target, !two || plain_known(lab, lab_len) || !zl, "loaded gzip-in-gzip labels");
        check_idx(ds, plain_known(img, img_len) ? img : NULL, img_len,
                  two && plain_known(lab, lab_len) ? lab : NULL, lab_len, two,
                  two ? n_classes : n_classes ? n_classes : 1);
        gn_dataset_free(ds);
    }
    free(zi);
    free(zl);
    return 0;
}

/*---- CSV ----*/

int gn_fuzz_csv(const uint8_t *data, size_t size)
{
    static const char target[] = "fuzz_csv";
    static const char delims[8] = {',', ',', ';', '\t', ' ', '|', ':', '.'};
    if (size < 2)
        return 0;
    gn_csv_options opt;
    gn_csv_options_defaults(&opt);
    unsigned mode = data[0];
    opt.header = (int)(mode & 3) % 3 - 1;  /* -1, 0, 1, then -1 again */
    opt.regression = (mode >> 2) & 1;
    opt.delimiter = delims[(mode >> 3) & 7]; /* '.' is invalid: GN_ERR_ARG */
    opt.label_column = (long)(data[1] % 8) - 1;
    const char *path = put_file(0, data + 2, size - 2);

    char err[ERRLEN];
    memset(err, 'x', sizeof err);
    gn_dataset *ds = (gn_dataset *)&err;
    gn_status st = gn_dataset_load_csv(&ds, path, &opt, err, sizeof err);
    if (opt.delimiter == '.')
        CHECK(target, st == GN_ERR_ARG, "delimiter '.' accepted (%s)", gn_strerror(st));
    if (st != GN_OK) {
        check_failure(target, st, ds, err);
        return 0;
    }
    CHECK(target, ds != NULL, "GN_OK without a dataset");
    size_t n = gn_dataset_n_samples(ds), nf = gn_dataset_n_features(ds);
    size_t no = gn_dataset_n_outputs(ds);
    const float *X = gn_dataset_x(ds), *Y = gn_dataset_y(ds);
    size_t lines = 1;
    for (size_t i = 2; i < size; i++)
        lines += data[i] == '\n';
    CHECK(target, n >= 1 && n <= lines, "%zu samples from %zu lines", n, lines);
    CHECK(target, nf >= 1 && X && Y, "no features");
    for (size_t i = 0; i < n * nf; i++)
        CHECK(target, isfinite(X[i]), "feature %zu is %g", i, (double)X[i]);
    if (opt.regression) {
        CHECK(target, no == 1, "regression with %zu outputs", no);
        for (size_t j = 0; j < n; j++)
            CHECK(target, isfinite(Y[j]), "target %zu is %g", j, (double)Y[j]);
    } else {
        CHECK(target, no >= 1 && no <= 65536, "%zu classes", no);
        for (size_t j = 0; j < n; j++) {
            size_t ones = 0;
            for (size_t c = 0; c < no; c++) {
                CHECK(target, Y[c + j * no] == 0.0f || Y[c + j * no] == 1.0f, "not one-hot");
                ones += Y[c + j * no] == 1.0f;
            }
            CHECK(target, ones == 1, "sample %zu has %zu ones", j, ones);
        }
    }
    gn_dataset_free(ds);
    return 0;
}

/*---- round trip ----*/

/* The input as a stream of bytes; zeros once it runs out. */
typedef struct stream {
    const uint8_t *p;
    size_t n, at;
} stream;

static unsigned byte(stream *s) { return s->at < s->n ? s->p[s->at++] : 0; }

static uint32_t u32(stream *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)byte(s) << 8 * i;
    return v;
}

static float raw_float(stream *s)
{
    uint32_t u = u32(s);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Mean and std vectors of n entries from the stream; with `tame`, std is made valid. */
static void scaling_from(stream *s, size_t n, bool tame, float *mean, float *std)
{
    for (size_t i = 0; i < n; i++) {
        mean[i] = raw_float(s);
        std[i] = raw_float(s);
        if (tame) {
            mean[i] = isfinite(mean[i]) ? mean[i] : 0.0f;
            std[i] = fabsf(std[i]);
            if (!isfinite(std[i]) || !(std[i] >= 1e-30f))
                std[i] = 1.0f;
        }
    }
}

/* A checkpoint of net with an optimizer that has taken one step, a progress record and
 * provenance text, all from the stream: gn_checkpoint_load gives back the same network,
 * optimizer and progress, and saving what it gave writes the same bytes (which covers the
 * RNG and the optimizer's state vectors too). */
static void checkpoint_roundtrip(stream *s, gn_net *net, unsigned flags)
{
    static const char target[] = "fuzz_roundtrip";
    gn_optimizer_config oc;
    gn_optimizer_config_defaults(&oc, (gn_opt)(byte(s) % GN_OPT_COUNT));
    if (byte(s) & 1)
        oc.clip_norm = 1.0f;
    gn_optimizer *opt = NULL;
    char err[ERRLEN];
    gn_status st = gn_optimizer_create(&opt, net, &oc, err, sizeof err);
    CHECK(target, st == GN_OK, "optimizer: %s: %s", gn_strerror(st), err);
    size_t n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net), np = gn_net_n_params(net);
    float X[16], Y[16];
    for (size_t i = 0; i < n0; i++)
        X[i] = (float)byte(s) / 64.0f - 2.0f;
    for (size_t i = 0; i < nL; i++)
        Y[i] = (float)(byte(s) & 1);
    (void)gn_optimizer_step(opt, net, X, n0, Y, nL, 1, NULL); /* may diverge: state is kept */

    gn_fit_progress prog = {0};
    prog.epochs_done = byte(s) % 5;
    prog.best_epoch = prog.epochs_done ? byte(s) % (prog.epochs_done + 1) : 0;
    prog.best_val_loss = prog.best_epoch ? (double)raw_float(s) : NAN;
    float *best = NULL;
    if (prog.best_epoch && (flags & 0x80)) {
        best = malloc(np * sizeof *best);
        CHECK(target, best, "out of memory in the harness");
        memcpy(best, gn_net_params(net), np * sizeof *best);
        prog.best_params = best;
    }
    char meta[64];
    snprintf(meta, sizeof meta, "run=fuzz\nseed=%u\n", (unsigned)u32(s));

    char path[300];
    snprintf(path, sizeof path, "%s/c.gnn", scratch());
    st = gn_checkpoint_save(net, opt, &prog, meta, path, err, sizeof err);
    if (st != GN_OK) { /* a non-finite best loss or optimizer state, or a diverged step */
        CHECK(target, st == GN_ERR_ARG || st == GN_ERR_NONFINITE, "checkpoint save: %s: %s",
              gn_strerror(st), err);
        CHECK(target, scratch_entries() == 0, "a refused checkpoint left a file behind");
        gn_optimizer_free(opt);
        free(best);
        return;
    }
    size_t len = 0;
    uint8_t *file = slurp(path, &len);
    CHECK(target, file, "cannot read back %s", path);
    gn_checkpoint *ck = NULL;
    st = gn_checkpoint_load_buffer(&ck, file, len, err, sizeof err);
    CHECK(target, st == GN_OK, "a checkpoint does not load: %s: %s", gn_strerror(st), err);
    gn_net *net2 = gn_checkpoint_take_net(ck);
    gn_optimizer *opt2 = gn_checkpoint_take_optimizer(ck);
    CHECK(target, net2 && opt2, "the checkpoint lost its network or optimizer");
    check_same_net(target, net, net2);
    gn_optimizer_config c1, c2;
    gn_optimizer_get_config(opt, &c1);
    gn_optimizer_get_config(opt2, &c2);
    float lr1 = gn_optimizer_lr(opt), lr2 = gn_optimizer_lr(opt2);
    CHECK(target, memcmp(&c1, &c2, sizeof c1) == 0 && memcmp(&lr1, &lr2, sizeof lr1) == 0 &&
                      gn_optimizer_steps(opt) == gn_optimizer_steps(opt2),
          "the optimizer's configuration, learning rate or step count changed");
    gn_fit_progress p2;
    CHECK(target, gn_checkpoint_progress(ck, &p2), "the checkpoint lost its progress");
    CHECK(target, p2.epochs_done == prog.epochs_done && p2.best_epoch == prog.best_epoch &&
                      (p2.best_epoch == 0 || memcmp(&p2.best_val_loss, &prog.best_val_loss,
                                                    sizeof(double)) == 0),
          "progress changed");
    CHECK(target, (p2.best_params != NULL) == (best != NULL) &&
                      (!best || same_bits(best, p2.best_params, np)),
          "best parameters changed");
    char value[32];
    CHECK(target, gn_checkpoint_meta_get(ck, "run", value, sizeof value) == 4 &&
                      strcmp(value, "fuzz") == 0,
          "provenance lost");
    /* the reader's text starts with the line the writer adds itself */
    const char *m = gn_checkpoint_meta(ck), *nl = strchr(m, '\n');
    CHECK(target, strncmp(m, "gemmnet_version=", 16) == 0 && nl, "no version line in '%s'", m);
    char path2[300];
    snprintf(path2, sizeof path2, "%s/d.gnn", scratch());
    st = gn_checkpoint_save(net2, opt2, &p2, nl + 1, path2, err, sizeof err);
    CHECK(target, st == GN_OK, "a loaded checkpoint cannot be saved: %s: %s", gn_strerror(st),
          err);
    size_t len2 = 0;
    uint8_t *file2 = slurp(path2, &len2);
    CHECK(target, file2 && len2 == len && memcmp(file, file2, len) == 0,
          "saving a loaded checkpoint gives other bytes");
    unlink(path);
    unlink(path2);
    free(file);
    free(file2);
    gn_checkpoint_free(ck);
    gn_net_free(net2);
    gn_optimizer_free(opt2);
    gn_optimizer_free(opt);
    free(best);
}

int gn_fuzz_roundtrip(const uint8_t *data, size_t size)
{
    static const char target[] = "fuzz_roundtrip";
    stream s = {data, size, 0};
    unsigned flags = byte(&s);
    size_t sizes[5];
    gn_act acts[4];
    size_t L = 1 + byte(&s) % 4;
    for (size_t l = 0; l <= L; l++)
        sizes[l] = 1 + byte(&s) % 16;
    for (size_t l = 0; l < L; l++)
        acts[l] = (gn_act)(byte(&s) % GN_ACT_COUNT);
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.n_sizes = L + 1;
    cfg.sizes = sizes;
    cfg.acts = acts;
    cfg.loss = (gn_loss)(byte(&s) % GN_LOSS_COUNT);
    cfg.init = (gn_init)(byte(&s) % 4);
    cfg.seed = u32(&s);
    cfg.max_batch = 1 + byte(&s) % 8;
    float slope = raw_float(&s), delta = raw_float(&s);
    if (flags & 0x10)
        cfg.leaky_slope = slope; /* raw bits: -0.0, subnormals, values that are refused */
    if (flags & 0x20)
        cfg.huber_delta = delta;
    if (gn_net_config_check(&cfg, NULL, 0) != GN_OK) {
        gn_net_config d;
        gn_net_config_defaults(&d);
        cfg.leaky_slope = d.leaky_slope;
        cfg.huber_delta = d.huber_delta;
    }
    if (gn_net_config_check(&cfg, NULL, 0) != GN_OK) { /* an invalid combination: plainest net */
        for (size_t l = 0; l < L; l++)
            acts[l] = l + 1 < L ? GN_ACT_TANH : GN_ACT_IDENTITY;
        cfg.loss = GN_LOSS_QUADRATIC;
    }
    gn_net *net = NULL;
    gn_status st = gn_net_create(&net, &cfg);
    CHECK(target, st == GN_OK, "gn_net_create refused a checked configuration: %s",
          gn_strerror(st));

    size_t n0 = sizes[0], nL = sizes[L];
    float mean[16], std[16];
    if (flags & 0x02) {
        scaling_from(&s, n0, flags & 0x08, mean, std);
        st = gn_net_set_input_scaling(net, mean, std);
        CHECK(target, st == GN_OK || st == GN_ERR_ARG, "input scaling: %s", gn_strerror(st));
    }
    if (flags & 0x04) {
        scaling_from(&s, nL, flags & 0x08, mean, std);
        st = gn_net_set_output_scaling(net, mean, std);
        CHECK(target, st == GN_OK || st == GN_ERR_ARG || st == GN_ERR_UNSUPPORTED,
              "output scaling: %s", gn_strerror(st));
    }
    size_t np = gn_net_n_params(net);
    float *params = gn_net_params(net);
    bool finite = true;
    if (flags & 0x01) /* raw parameter bits while the input lasts; the initial values after */
        for (size_t i = 0; i < np && s.at + 4 <= s.n; i++)
            params[i] = raw_float(&s);
    for (size_t i = 0; i < np; i++)
        finite = finite && isfinite(params[i]);

    char path[300], err[ERRLEN];
    snprintf(path, sizeof path, "%s/r.gnn", scratch());
    unlink(path);
    st = gn_net_save(net, path, err, sizeof err);
    if (!finite) {
        CHECK(target, st == GN_ERR_NONFINITE, "saving a non-finite parameter gave %s",
              gn_strerror(st));
        CHECK(target, scratch_entries() == 0, "a refused save left a file behind");
        gn_net_free(net);
        return 0;
    }
    CHECK(target, st == GN_OK, "save failed: %s: %s", gn_strerror(st), err);
    size_t len = 0;
    uint8_t *file = slurp(path, &len);
    CHECK(target, file, "cannot read back %s", path);
    unlink(path);
    gn_net *loaded = NULL;
    st = gn_net_load_buffer(&loaded, file, len, err, sizeof err);
    CHECK(target, st == GN_OK, "a saved model does not load: %s: %s", gn_strerror(st), err);
    check_same_net(target, net, loaded);
    check_same_predictions(target, net, loaded, data, size);
    CHECK(target, canonical_file(file, len), "gn_net_save wrote an unexpected layout");
    model_roundtrip(target, loaded, file, len); /* and saving the loaded one gives these bytes */
    free(file);
    gn_net_free(loaded);
    if (flags & 0x40)
        checkpoint_roundtrip(&s, net, flags);
    gn_net_free(net);
    return 0;
}

/*---- .npy ----*/

/* The float32 little-endian value of 4 bytes. */
static float get_f32le(const uint8_t *p)
{
    uint32_t u = get_u32le(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int gn_fuzz_npy(const uint8_t *data, size_t size)
{
    static const char target[] = "fuzz_npy";
    static const size_t classes[16] = {0, 1, 2, 3, 10, 256, 65536, 65537, 0, 0, 0, 0, 0, 0, 0, 0};
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    bool as_targets = mode & 1;
    gn_array_options opt;
    gn_array_options_defaults(&opt);
    opt.regression = (mode >> 1) & 1;
    opt.n_classes = classes[mode >> 4];
    const uint8_t *file = data + 1;
    size_t len = size - 1;
    const char *path = put_file(0, file, len);

    char err[ERRLEN];
    memset(err, 'x', sizeof err);
    gn_dataset *ds = (gn_dataset *)&err;
    gn_status st = gn_dataset_load_npy(&ds, path, as_targets ? path : NULL, &opt, err, sizeof err);
    bool bad_opt = opt.n_classes > 65536 || (opt.regression && opt.n_classes);
    if (bad_opt)
        CHECK(target, st == GN_ERR_ARG, "bad options accepted (%s)", gn_strerror(st));
    if (st != GN_OK) {
        check_failure(target, st, ds, err);
        return 0;
    }
    CHECK(target, ds != NULL, "GN_OK without a dataset");
    size_t n = gn_dataset_n_samples(ds), nf = gn_dataset_n_features(ds);
    size_t no = gn_dataset_n_outputs(ds);
    const float *X = gn_dataset_x(ds), *Y = gn_dataset_y(ds);
    CHECK(target, n >= 1 && nf >= 1 && no >= 1 && X && Y, "empty dataset");
    CHECK(target, gn_dataset_ldx(ds) == nf && gn_dataset_ldy(ds) == no, "unexpected strides");
    CHECK(target, len >= 10 && memcmp(file, "\x93NUMPY", 6) == 0, "loaded without the magic");
    /* the data is the end of the file: at least one byte per element */
    CHECK(target, n * nf < len, "%zu × %zu elements from %zu bytes", n, nf, len);
    for (size_t i = 0; i < n * nf; i++)
        CHECK(target, isfinite(X[i]), "feature %zu is %g", i, (double)X[i]);
    /* numpy's own spelling of a C-order float32 array: X is the last 4·n·nf bytes, bit for bit */
    static const char c_f4[] = "{'descr': '<f4', 'fortran_order': False, ";
    if (len >= 10 + sizeof c_f4 - 1 && file[6] == 1 && memcmp(file + 10, c_f4, sizeof c_f4 - 1) == 0) {
        CHECK(target, len - 10 >= 4 * n * nf, "too little data for %zu floats", n * nf);
        const uint8_t *d = file + len - 4 * n * nf;
        for (size_t i = 0; i < n * nf; i++) {
            float v = get_f32le(d + 4 * i);
            CHECK(target, memcmp(&v, &X[i], sizeof v) == 0, "feature %zu is %g, the file has %g", i,
                  (double)X[i], (double)v);
        }
    }
    if (!as_targets) {
        for (size_t e = 0; e < n * no; e++)
            CHECK(target, Y[e] == 0.0f, "inputs only, but target %zu is %g", e, (double)Y[e]);
    } else if (opt.regression) {
        CHECK(target, no == nf, "%zu outputs from a file of %zu values per sample", no, nf);
        for (size_t e = 0; e < n * no; e++)
            CHECK(target, Y[e] == X[e], "target %zu is %g, the same value as a feature is %g", e,
                  (double)Y[e], (double)X[e]);
    } else {
        CHECK(target, nf == 1 && no <= 65536, "labels of %zu per sample, %zu classes", nf, no);
        for (size_t j = 0; j < n; j++) {
            CHECK(target, X[j] >= 0.0f && X[j] < (float)no, "label %g of %zu classes",
                  (double)X[j], no);
            for (size_t c = 0; c < no; c++)
                CHECK(target, Y[c + j * no] == (c == (size_t)X[j] ? 1.0f : 0.0f),
                      "sample %zu is not one-hot at its label", j);
        }
    }
    gn_dataset_free(ds);
    return 0;
}
