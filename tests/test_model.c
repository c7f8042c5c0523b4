/* Model files: round trips (parameters bit-identical, predictions identical), the exact byte
 * layout of docs/format.md, the atomic save, and the loader's refusal of every malformed file:
 * each truncation, each flipped byte, lying sizes with a correct checksum, unknown versions
 * and sections, trailing bytes, non-finite values, and NULL arguments.
 *
 * Malformed files are built here by hand, independently of lib/io_model.c, from the layout
 * the format document gives; a helper recomputes the CRC-32 so that the check under test,
 * not the checksum, is what rejects them. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fsync, open */

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../lib/internal.h" /* leaky_slope, huber_delta and the RNG of a loaded net */
#include "testutil.h"

/*---- the format, as docs/format.md gives it ----*/

static const uint8_t MAGIC[8] = {0x89, 'G', 'N', 'N', '\r', '\n', 0x1a, '\n'};
#define TAG(s)                                                                                     \
    ((uint32_t)(s)[0] | (uint32_t)(s)[1] << 8 | (uint32_t)(s)[2] << 16 | (uint32_t)(s)[3] << 24)
enum { HEADER = 32, SECTION_HEAD = 16, REQUIRED = 1 };

/*---- temporary directory ----*/

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    strcpy(tmp_dir, "/tmp/gemmnet-test-model-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp failed");
}

/* Removes everything the test left (files and empty subdirectories), then the directory. */
static void remove_tmp_dir(void)
{
    if (!tmp_dir[0])
        return;
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[sizeof tmp_dir + sizeof e->d_name + 1];
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    if (d)
        closedir(d);
    rmdir(tmp_dir);
}

TestSuite(model, .init = make_tmp_dir, .fini = remove_tmp_dir);

static const char *tmp_path(const char *name)
{
    static char paths[8][256];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, name);
    return p;
}

/* The names in the temporary directory, joined by '|', for checking that no temp file is left. */
static void list_dir(char *out, size_t len)
{
    out[0] = '\0';
    DIR *d = opendir(tmp_dir);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        strncat(out, e->d_name, len - strlen(out) - 1);
        strncat(out, "|", len - strlen(out) - 1);
    }
    closedir(d);
}

static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/*---- building files by hand ----*/

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n) + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void set_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void set_u64(uint8_t *p, uint64_t v)
{
    set_u32(p, (uint32_t)v);
    set_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(bytes *b, uint32_t v)
{
    uint8_t x[4];
    set_u32(x, v);
    put(b, x, 4);
}

static void put_u64(bytes *b, uint64_t v)
{
    uint8_t x[8];
    set_u64(x, v);
    put(b, x, 8);
}

static void put_f32(bytes *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_u32(b, u);
}

static void set_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    set_u32(p, u);
}

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

/* The header of a version-`version` file; finish() fills in the counts. */
static bytes begin_file(uint32_t version, uint32_t header_len)
{
    bytes b = {0};
    put(&b, MAGIC, 8);
    put_u32(&b, version);
    put_u32(&b, 0);
    put_u32(&b, header_len);
    put_u32(&b, 0); /* sections: finish() */
    put_u64(&b, 0); /* file length: finish() */
    for (uint32_t i = HEADER; i < header_len; i++)
        put(&b, "\0", 1);
    return b;
}

/* Opens a section; returns where it starts, for end_section. */
static size_t begin_section(bytes *b, const char *tag, uint32_t flags)
{
    size_t at = b->n;
    put_u32(b, TAG(tag));
    put_u32(b, flags);
    put_u64(b, 0);
    return at;
}

static void end_section(bytes *b, size_t at) { set_u64(b->p + at + 8, b->n - at - SECTION_HEAD); }

/* Writes the section count and the file length into the header and appends the CRC. */
static void finish(bytes *b, uint32_t n_sections)
{
    set_u32(b->p + 20, n_sections);
    set_u64(b->p + 24, b->n + 4);
    put_u32(b, crc_of(b->p, b->n));
}

/* Recomputes the CRC of a finished file after an edit. */
static void fix_crc(uint8_t *p, size_t n) { set_u32(p + n - 4, crc_of(p, n - 4)); }

typedef struct arch {
    uint32_t L, loss;
    float slope, delta;
    uint64_t sizes[70];
    uint32_t acts[70];
} arch;

static void put_arch(bytes *b, const arch *a)
{
    size_t at = begin_section(b, "ARCH", REQUIRED);
    put_u32(b, a->L);
    put_u32(b, a->loss);
    put_f32(b, a->slope);
    put_f32(b, a->delta);
    for (uint32_t i = 0; i <= a->L; i++)
        put_u64(b, a->sizes[i]);
    for (uint32_t l = 0; l < a->L; l++)
        put_u32(b, a->acts[l]);
    end_section(b, at);
}

static void put_parm(bytes *b, uint64_t count, const float *p, size_t n)
{
    size_t at = begin_section(b, "PARM", REQUIRED);
    put_u64(b, count);
    for (size_t i = 0; i < n; i++)
        put_f32(b, p[i]);
    end_section(b, at);
}

/* SCAL with the given blocks (NULL mean: absent). */
static void put_scal(bytes *b, const float *in_mean, const float *in_std, size_t n0,
                     const float *out_mean, const float *out_std, size_t nL)
{
    size_t at = begin_section(b, "SCAL", REQUIRED);
    put_u32(b, (in_mean ? 1u : 0u) | (out_mean ? 2u : 0u));
    for (size_t i = 0; in_mean && i < n0; i++)
        put_f32(b, in_mean[i]);
    for (size_t i = 0; in_mean && i < n0; i++)
        put_f32(b, in_std[i]);
    for (size_t i = 0; out_mean && i < nL; i++)
        put_f32(b, out_mean[i]);
    for (size_t i = 0; out_mean && i < nL; i++)
        put_f32(b, out_std[i]);
    end_section(b, at);
}

/* The architecture of net, as ARCH stores it. */
static arch arch_of(const gn_net *net)
{
    arch a = {.L = (uint32_t)gn_net_n_layers(net),
              .loss = (uint32_t)gn_net_loss(net),
              .slope = net->leaky_slope,
              .delta = net->huber_delta};
    for (size_t l = 0; l <= a.L; l++)
        a.sizes[l] = gn_net_layer_size(net, l);
    for (size_t l = 1; l <= a.L; l++)
        a.acts[l - 1] = (uint32_t)gn_net_layer_act(net, l);
    return a;
}

/* The file gn_net_save should write for net, built from the specification. */
static bytes encode_by_hand(gn_net *net)
{
    bytes b = begin_file(1, HEADER);
    arch a = arch_of(net);
    put_arch(&b, &a);
    const float *im, *is, *om, *os;
    gn_net_input_scaling(net, &im, &is);
    gn_net_output_scaling(net, &om, &os);
    uint32_t n = 2;
    if (im || om) {
        put_scal(&b, im, is, gn_net_n_inputs(net), om, os, gn_net_n_outputs(net));
        n = 3;
    }
    put_parm(&b, gn_net_n_params(net), gn_net_params(net), gn_net_n_params(net));
    finish(&b, n);
    return b;
}

/*---- checks ----*/

static void assert_contains(const char *msg, const char *part)
{
    cr_assert_not_null(strstr(msg, part), "message \"%s\" lacks \"%s\"", msg, part);
}

/* Loading buf must fail with want, leave no network, and say each of the given parts. */
__attribute__((sentinel)) static void expect_reject(const uint8_t *buf, size_t len, gn_status want,
                                                    ...)
{
    gn_net *out = (gn_net *)&out; /* not NULL: the call must reset it */
    char err[512];
    gn_status st = gn_net_load_buffer(&out, buf, len, err, sizeof err);
    cr_assert_eq(st, want, "status %d (%s), want %d; message: %s", st, gn_strerror(st), want, err);
    cr_assert_null(out);
    va_list ap;
    va_start(ap, want);
    const char *part;
    while ((part = va_arg(ap, const char *)) != NULL)
        assert_contains(err, part);
    va_end(ap);
}

static gn_net *load_ok(const uint8_t *buf, size_t len)
{
    gn_net *net = NULL;
    char err[512];
    gn_status st = gn_net_load_buffer(&net, buf, len, err, sizeof err);
    cr_assert_eq(st, GN_OK, "load failed: %s", err);
    cr_assert_not_null(net);
    cr_assert_str_empty(err);
    return net;
}

static void assert_same_scaling(const float *m1, const float *s1, const float *m2, const float *s2,
                                size_t n)
{
    cr_assert_eq(m1 == NULL, m2 == NULL, "scaling present in one net only");
    cr_assert_eq(s1 == NULL, s2 == NULL);
    if (m1) {
        cr_assert_eq(memcmp(m1, m2, n * sizeof *m1), 0, "scaling means differ");
        cr_assert_eq(memcmp(s1, s2, n * sizeof *s1), 0, "scaling stds differ");
    }
}

/* Same architecture, bit-identical parameters and scaling, identical predictions. */
static void assert_same_net(gn_net *a, gn_net *b)
{
    size_t L = gn_net_n_layers(a);
    cr_assert_eq(gn_net_n_layers(b), L);
    for (size_t l = 0; l <= L; l++)
        cr_assert_eq(gn_net_layer_size(b, l), gn_net_layer_size(a, l), "size %zu", l);
    for (size_t l = 1; l <= L; l++)
        cr_assert_eq(gn_net_layer_act(b, l), gn_net_layer_act(a, l), "activation %zu", l);
    cr_assert_eq(gn_net_loss(b), gn_net_loss(a));
    cr_assert_eq(memcmp(&b->leaky_slope, &a->leaky_slope, sizeof(float)), 0);
    cr_assert_eq(memcmp(&b->huber_delta, &a->huber_delta, sizeof(float)), 0);
    size_t n = gn_net_n_params(a);
    cr_assert_eq(gn_net_n_params(b), n);
    cr_assert_eq(memcmp(gn_net_params(a), gn_net_params(b), n * sizeof(float)), 0,
                 "parameters are not bit-identical");
    const float *m1, *s1, *m2, *s2;
    gn_net_input_scaling(a, &m1, &s1);
    gn_net_input_scaling(b, &m2, &s2);
    assert_same_scaling(m1, s1, m2, s2, gn_net_n_inputs(a));
    gn_net_output_scaling(a, &m1, &s1);
    gn_net_output_scaling(b, &m2, &s2);
    assert_same_scaling(m1, s1, m2, s2, gn_net_n_outputs(a));

    size_t n0 = gn_net_n_inputs(a), nL = gn_net_n_outputs(a), m = 150;
    float *X = random_floats(n0 * m, -3.0f, 3.0f, 99);
    float *Ya = calloc(nL * m, sizeof *Ya), *Yb = calloc(nL * m, sizeof *Yb);
    cr_assert(X && Ya && Yb);
    cr_assert_eq(gn_net_predict(a, X, n0, m, Ya, nL), GN_OK);
    cr_assert_eq(gn_net_predict(b, X, n0, m, Yb, nL), GN_OK);
    cr_assert_eq(memcmp(Ya, Yb, nL * m * sizeof *Ya), 0, "predictions differ");
    free(X);
    free(Ya);
    free(Yb);
}

static void save_ok(const gn_net *net, const char *path)
{
    char err[512];
    gn_status st = gn_net_save(net, path, err, sizeof err);
    cr_assert_eq(st, GN_OK, "save failed: %s", err);
    cr_assert_str_empty(err);
}

static gn_net *load_file_ok(const char *path)
{
    gn_net *net = NULL;
    char err[512];
    gn_status st = gn_net_load(&net, path, err, sizeof err);
    cr_assert_eq(st, GN_OK, "load failed: %s", err);
    return net;
}

/* Scaling with positive stds, from a seed. */
static void set_scaling(gn_net *net, bool input, bool output, uint64_t seed)
{
    for (int part = 0; part < 2; part++) {
        if (!(part == 0 ? input : output))
            continue;
        size_t n = part == 0 ? gn_net_n_inputs(net) : gn_net_n_outputs(net);
        float *mean = random_floats(n, -5.0f, 5.0f, seed + (uint64_t)part);
        float *sd = random_floats(n, 0.1f, 4.0f, seed + 10 + (uint64_t)part);
        cr_assert(mean && sd);
        gn_status st = part == 0 ? gn_net_set_input_scaling(net, mean, sd)
                                 : gn_net_set_output_scaling(net, mean, sd);
        cr_assert_eq(st, GN_OK, "%s", gn_net_last_error(net));
        free(mean);
        free(sd);
    }
}

/* A 3-4-2 tanh/softmax classifier with input scaling: the small valid file of the
 * corruption tests. */
static gn_net *small_net(void)
{
    const size_t sizes[] = {3, 4, 2};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_SOFTMAX};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_CCE, 128, 7);
    set_scaling(net, true, false, 3);
    return net;
}

static bytes small_file(void)
{
    gn_net *net = small_net();
    const char *path = tmp_path("small.gnn");
    save_ok(net, path);
    gn_net_free(net);
    bytes b = {0};
    b.p = read_whole_file(path, &b.n);
    b.cap = b.n;
    return b;
}

/*---- round trips ----*/

typedef struct case_ {
    size_t n_sizes;
    size_t sizes[6];
    gn_act acts[5];
    gn_loss loss;
    float slope, delta;
    bool in_scale, out_scale;
} case_;

static void round_trip(const case_ *c, int k)
{
    gn_net_config cfg = net_config(c->sizes, c->n_sizes, c->acts, c->loss, 128, 11 + (uint64_t)k);
    cfg.leaky_slope = c->slope;
    cfg.huber_delta = c->delta;
    cfg.init = GN_INIT_NIELSEN; /* non-zero biases too */
    gn_net *net = NULL;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK, "case %d", k);
    set_scaling(net, c->in_scale, c->out_scale, 100 + (uint64_t)k);
    /* special values that must survive bit for bit */
    float *p = gn_net_params(net);
    p[0] = -0.0f;
    p[1] = 1e-42f;          /* subnormal */
    p[2] = 1.17549435e-38f; /* FLT_MIN */
    p[3] = -12345.678f;

    char name[32];
    snprintf(name, sizeof name, "rt%d.gnn", k);
    const char *path = tmp_path(name);
    save_ok(net, path);
    gn_net *back = load_file_ok(path);
    assert_same_net(net, back);
    cr_assert_eq(gn_net_max_batch(back), 128);
    cr_assert_eq(gn_net_dropout(back), 0.0f);

    /* the writer produced exactly the bytes the specification describes */
    size_t len;
    uint8_t *file = read_whole_file(path, &len);
    bytes want = encode_by_hand(net);
    cr_assert_eq(len, want.n, "case %d: %zu bytes written, the format gives %zu", k, len, want.n);
    cr_assert_eq(memcmp(file, want.p, len), 0, "case %d: bytes differ from the format", k);

    /* and saving the loaded network gives the same file again */
    const char *again = tmp_path("again.gnn");
    save_ok(back, again);
    size_t len2;
    uint8_t *file2 = read_whole_file(again, &len2);
    cr_assert(len2 == len && memcmp(file, file2, len) == 0, "case %d: re-save differs", k);

    free(file);
    free(file2);
    free(want.p);
    gn_net_free(back);
    gn_net_free(net);
}

Test(model, round_trip_architectures)
{
    const case_ cases[] = {
        {3, {3, 4, 2}, {GN_ACT_TANH, GN_ACT_SOFTMAX}, GN_LOSS_CCE, 0.01f, 1.0f, true, false},
        {4,
         {5, 8, 6, 1},
         {GN_ACT_RELU, GN_ACT_LEAKY_RELU, GN_ACT_IDENTITY},
         GN_LOSS_QUADRATIC,
         0.2f,
         1.0f,
         true,
         true},
        {2, {4, 3}, {GN_ACT_SIGMOID}, GN_LOSS_BCE, 0.01f, 1.0f, true, false},
        {5,
         {2, 7, 7, 5, 3},
         {GN_ACT_ELU, GN_ACT_SOFTPLUS, GN_ACT_TANH, GN_ACT_IDENTITY},
         GN_LOSS_HUBER,
         0.0f,
         0.37f,
         false,
         true},
        {3, {6, 5, 2}, {GN_ACT_SIGMOID, GN_ACT_SIGMOID}, GN_LOSS_MAE, 0.5f, 2.0f, false, false},
        /* 23 860 parameters: the encoding crosses the writer's buffer many times */
        {3,
         {784, 30, 10},
         {GN_ACT_RELU, GN_ACT_SOFTMAX},
         GN_LOSS_QUADRATIC,
         0.01f,
         1.0f,
         true,
         false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        round_trip(&cases[k], (int)k);
}

Test(model, load_buffer_equals_load)
{
    const size_t sizes[] = {4, 6, 3};
    const gn_act acts[] = {GN_ACT_LEAKY_RELU, GN_ACT_IDENTITY};
    gn_net *net = make_net(sizes, 3, acts, GN_LOSS_QUADRATIC, 128, 5);
    set_scaling(net, true, true, 8);
    const char *path = tmp_path("m.gnn");
    save_ok(net, path);
    gn_net *a = load_file_ok(path);
    size_t len;
    uint8_t *buf = read_whole_file(path, &len);
    gn_net *b = load_ok(buf, len);
    assert_same_net(a, b);
    assert_same_net(net, b);
    /* both start the shuffling stream from seed 1 */
    gn_rng r;
    gn_rng_seed(&r, 1);
    cr_assert_eq(memcmp(&a->rng, &r, sizeof r), 0);
    cr_assert_eq(memcmp(&b->rng, &r, sizeof r), 0);
    free(buf);
    gn_net_free(a);
    gn_net_free(b);
    gn_net_free(net);
}

/* The first bytes of a file as the format document lists them. */
Test(model, header_bytes_follow_the_document)
{
    bytes f = small_file();
    const uint8_t head[24] = {0x89, 'G', 'N', 'N', '\r', '\n', 0x1a, '\n', 1, 0, 0, 0,
                              0,    0,   0,   0,   32,   0,    0,    0,    3, 0, 0, 0};
    cr_assert_eq(memcmp(f.p, head, sizeof head), 0);
    cr_assert_eq(f.n, 272, "the example in docs/format.md");
    cr_assert_eq(get_u32(f.p + 24), f.n);
    cr_assert_eq(get_u32(f.p + 28), 0);
    cr_assert_eq(memcmp(f.p + 32, "ARCH", 4), 0);
    cr_assert_eq(get_u32(f.p + 36), 1, "ARCH is required");
    /* 3-4-2: 16 fixed bytes + 3 sizes + 2 activations */
    cr_assert_eq(get_u32(f.p + 40), 16 + 3 * 8 + 2 * 4);
    cr_assert_eq(get_u32(f.p + f.n - 4), crc_of(f.p, f.n - 4));
    free(f.p);
}

/*---- saving ----*/

Test(model, save_replaces_atomically)
{
    umask(022);
    const size_t sizes[] = {3, 5, 2};
    gn_net *a = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 128, 1);
    gn_net *b = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 128, 2);
    const char *path = tmp_path("model.gnn");
    save_ok(a, path);
    size_t la;
    uint8_t *fa = read_whole_file(path, &la);

    /* a reader that opened the old file keeps seeing it whole: the new file is a new inode
     * renamed over the name, not the old one rewritten */
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    save_ok(b, path);
    uint8_t *old = malloc(la + 1);
    cr_assert_eq(read(fd, old, la + 1), (ssize_t)la);
    close(fd);
    cr_assert_eq(memcmp(old, fa, la), 0);

    gn_net *back = load_file_ok(path);
    assert_same_net(b, back);
    char names[512];
    list_dir(names, sizeof names);
    cr_assert_str_eq(names, "model.gnn|", "only the model is left: %s", names);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0644, "mode %o: the umask applies, as for any new file",
                 (unsigned)(sb.st_mode & 0777));
    free(fa);
    free(old);
    gn_net_free(back);
    gn_net_free(a);
    gn_net_free(b);
}

Test(model, save_into_missing_directory_fails)
{
    gn_net *net = small_net();
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/no/such/dir/m.gnn", tmp_dir);
    cr_assert_eq(gn_net_save(net, path, err, sizeof err), GN_ERR_IO);
    assert_contains(err, path);
    assert_contains(err, "cannot create a temporary file");
    assert_contains(err, strerror(ENOENT));
    cr_assert_eq(gn_net_save(net, path, NULL, 0), GN_ERR_IO, "err may be NULL");
    gn_net_free(net);
}

/* The rename fails (the target is a directory): GN_ERR_IO, the target untouched and the
 * temporary file removed. */
Test(model, failed_rename_leaves_no_temporary_file)
{
    gn_net *net = small_net();
    const char *path = tmp_path("adir");
    cr_assert_eq(mkdir(path, 0755), 0);
    char err[512];
    cr_assert_eq(gn_net_save(net, path, err, sizeof err), GN_ERR_IO);
    assert_contains(err, "rename");
    assert_contains(err, "is left as it was");
    char names[512];
    list_dir(names, sizeof names);
    cr_assert_str_eq(names, "adir|", "left behind: %s", names);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
    gn_net_free(net);
}

Test(model, save_refuses_nonfinite_parameters)
{
    gn_net *net = small_net();
    gn_net_params(net)[13] = NAN; /* W^1 is 4 × 3 (12), then b^1: bias 1 */
    const char *path = tmp_path("nan.gnn");
    char err[512];
    cr_assert_eq(gn_net_save(net, path, err, sizeof err), GN_ERR_NONFINITE);
    assert_contains(err, "parameter 13 (layer 1 bias 1)");
    char names[512];
    list_dir(names, sizeof names);
    cr_assert_str_empty(names, "nothing written: %s", names);
    gn_net_free(net);
}

/* fsync, interposed for the library linked into this binary: fails with EIO while
 * fail_fsync is set, else does the data part of the real thing. */
static volatile int fail_fsync;
int fsync(int fd)
{
    if (fail_fsync) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

/* Saves a 3-5-2 net to path and returns its bytes, for checking that a failed save leaves
 * them alone. */
static uint8_t *save_old(const char *path, size_t *len)
{
    const size_t sizes[] = {3, 5, 2};
    gn_net *old = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 128, 3);
    save_ok(old, path);
    gn_net_free(old);
    return read_whole_file(path, len);
}

static void assert_unchanged(const char *path, const uint8_t *old, size_t len)
{
    size_t n;
    uint8_t *now = read_whole_file(path, &n);
    cr_assert(n == len && memcmp(now, old, len) == 0, "the old file was changed");
    free(now);
    char names[512];
    list_dir(names, sizeof names);
    cr_assert_str_eq(names, "model.gnn|", "left behind: %s", names);
}

Test(model, failed_fsync_keeps_the_old_file)
{
    const char *path = tmp_path("model.gnn");
    size_t len;
    uint8_t *old = save_old(path, &len);
    gn_net *net = small_net();
    char err[512];
    fail_fsync = 1;
    gn_status st = gn_net_save(net, path, err, sizeof err);
    fail_fsync = 0;
    cr_assert_eq(st, GN_ERR_IO, "%s", err);
    assert_contains(err, "fsync of temporary file");
    assert_contains(err, strerror(EIO));
    assert_unchanged(path, old, len);
    free(old);
    gn_net_free(net);
}

/* A full disk, simulated with a file-size limit: the writes fail part way (the first one
 * short, the next with EFBIG). */
Test(model, full_disk_keeps_the_old_file)
{
    const char *path = tmp_path("model.gnn");
    size_t len;
    uint8_t *old = save_old(path, &len);
    /* ~950 KB: many 64 KiB pieces are still encoded after the first write fails (an encoder
     * that stopped emptying its buffer then would run far past it) */
    const size_t sizes[] = {784, 300, 10};
    gn_net *big = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 128, 4);
    struct rlimit saved, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 40000;
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char err[512];
    gn_status st = gn_net_save(big, path, err, sizeof err);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    cr_assert_eq(st, GN_ERR_IO, "%s", err);
    assert_contains(err, "write of temporary file");
    assert_contains(err, strerror(EFBIG));
    assert_unchanged(path, old, len);
    free(old);
    gn_net_free(big);
}

/* Networks gn_net_create allows but the file format cannot hold are refused before any file
 * is made, so that every file written can be read back. */
Test(model, save_refuses_networks_beyond_the_format_limits)
{
    const size_t wide[] = {1, ((size_t)1 << 20) + 1, 1};
    gn_net *net = make_net(wide, 3, NULL, GN_LOSS_QUADRATIC, 1, 1);
    char err[512];
    cr_assert_eq(gn_net_save(net, tmp_path("wide.gnn"), err, sizeof err), GN_ERR_UNSUPPORTED);
    assert_contains(err, "layer size 1 = 1048577 exceeds the model file's limit of 1048576");
    gn_net_free(net);
    size_t deep[66];
    for (size_t i = 0; i < 66; i++)
        deep[i] = 2;
    net = make_net(deep, 66, NULL, GN_LOSS_QUADRATIC, 1, 1);
    cr_assert_eq(gn_net_save(net, tmp_path("deep.gnn"), err, sizeof err), GN_ERR_UNSUPPORTED);
    assert_contains(err, "65 layers");
    gn_net_free(net);
    char names[512];
    list_dir(names, sizeof names);
    cr_assert_str_empty(names, "nothing written: %s", names);
}

/*---- truncation and corruption ----*/

Test(model, every_truncation_is_rejected)
{
    bytes f = small_file();
    for (size_t len = 0; len < f.n; len++) {
        char where[32];
        snprintf(where, sizeof where, "offset %zu:", len);
        expect_reject(f.p, len, GN_ERR_TRUNCATED, "truncated", where, NULL);
    }
    /* through a file too: the message names it */
    const char *path = tmp_path("cut.gnn");
    write_bytes(path, f.p, f.n - 1);
    gn_net *out = NULL;
    char err[512];
    cr_assert_eq(gn_net_load(&out, path, err, sizeof err), GN_ERR_TRUNCATED);
    cr_assert_null(out);
    assert_contains(err, path);
    assert_contains(err, "truncated");
    free(f.p);
}

Test(model, every_flipped_byte_is_rejected)
{
    bytes f = small_file();
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < f.n; i++)
        for (size_t k = 0; k < sizeof masks; k++) {
            f.p[i] ^= masks[k];
            gn_net *out = NULL;
            char err[512];
            gn_status st = gn_net_load_buffer(&out, f.p, f.n, err, sizeof err);
            /* the header's fields have their own codes; anything else breaks the checksum */
            bool ok = i < 8    ? st == GN_ERR_MAGIC
                      : i < 16 ? st == GN_ERR_VERSION
                      : i < 32 ? st == GN_ERR_LIMIT || st == GN_ERR_TRUNCATED ||
                                     st == GN_ERR_TRAILING || st == GN_ERR_CHECKSUM
                               : st == GN_ERR_CHECKSUM;
            cr_assert(ok, "byte %zu ^ 0x%02x: status %d (%s)", i, masks[k], st, err);
            cr_assert_null(out);
            assert_contains(err, "offset ");
            f.p[i] ^= masks[k];
        }
    /* the file itself is fine */
    gn_net_free(load_ok(f.p, f.n));
    free(f.p);
}

Test(model, checksum_mismatch_says_expected_and_found)
{
    bytes f = small_file();
    uint32_t good = get_u32(f.p + f.n - 4);
    f.p[f.n - 10] ^= 0x40; /* a parameter */
    char want[64], found[64], where[32];
    snprintf(want, sizeof want, "expected 0x%08x", crc_of(f.p, f.n - 4));
    snprintf(found, sizeof found, "found 0x%08x", good);
    snprintf(where, sizeof where, "offset %zu:", f.n - 4);
    expect_reject(f.p, f.n, GN_ERR_CHECKSUM, "CRC-32 mismatch", want, found, where, NULL);
    free(f.p);
}

Test(model, not_a_model_file)
{
    const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
    expect_reject(png, sizeof png, GN_ERR_MAGIC, "offset 0:", "bad magic", NULL);
    /* a text-mode transfer rewrote "\r\n" */
    bytes f = small_file();
    memmove(f.p + 4, f.p + 5, f.n - 5);
    expect_reject(f.p, f.n - 1, GN_ERR_MAGIC, "bad magic", NULL);
    free(f.p);
}

Test(model, trailing_bytes_are_rejected)
{
    bytes f = small_file();
    size_t n = f.n;
    put(&f, "junk", 4);
    char where[32];
    snprintf(where, sizeof where, "offset %zu:", n);
    expect_reject(f.p, n + 1, GN_ERR_TRAILING, "1 trailing byte", where, NULL);
    expect_reject(f.p, n + 4, GN_ERR_TRAILING, "4 trailing byte", NULL);
    /* with the header's length adjusted, the old CRC is no longer last */
    set_u64(f.p + 24, n + 4);
    expect_reject(f.p, n + 4, GN_ERR_CHECKSUM, "CRC-32 mismatch", NULL);
    /* and with a correct CRC at the new end, four bytes lie between the sections and it */
    fix_crc(f.p, n + 4);
    snprintf(where, sizeof where, "offset %zu:", n - 4);
    expect_reject(f.p, n + 4, GN_ERR_SECTION, "4 bytes between the last of the 3 sections", where,
                  NULL);
    free(f.p);
}

/*---- lying headers with a correct checksum ----*/

static arch arch_342(void)
{
    return (arch){.L = 2,
                  .loss = GN_LOSS_CCE,
                  .slope = 0.01f,
                  .delta = 1.0f,
                  .sizes = {3, 4, 2},
                  .acts = {GN_ACT_TANH, GN_ACT_SOFTMAX}};
}

/* A complete file: ARCH of a, then PARM with n_params parameters, all 0.5. */
static bytes file_with(const arch *a, size_t n_params)
{
    bytes b = begin_file(1, HEADER);
    put_arch(&b, a);
    float *p = malloc((n_params ? n_params : 1) * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n_params; i++)
        p[i] = 0.5f;
    put_parm(&b, n_params, p, n_params);
    free(p);
    finish(&b, 2);
    return b;
}

/* Current virtual memory size of this process in bytes (Linux), 0 if unknown. */
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* A file of a few hundred bytes whose ARCH implies many parameters (sizes 1, 2^20, 200: 2.1e8) must
 * be refused from PARM's count before the network is built: under an address-space limit of
 * 256 MiB above what the process already has, building it (over 2 GiB) would fail with
 * GN_ERR_NOMEM instead of the format error. (Found by fuzz_model.) */
Test(model, small_file_cannot_allocate_a_large_network)
{
    arch a = arch_342();
    a.sizes[0] = 1;
    a.sizes[1] = (uint64_t)1 << 20;
    a.sizes[2] = 200;
    bytes b = file_with(&a, 0);
    cr_assert_lt(b.n, 200u);
    struct rlimit lim;
    cr_assert_eq(getrlimit(RLIMIT_AS, &lim), 0);
    size_t now = vm_bytes();
    cr_assert_gt(now, 0u);
    lim.rlim_cur = now + ((size_t)256 << 20);
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "PARM holds 0 parameters, the architecture has", NULL);
    free(b.p);
}

Test(model, hand_built_file_loads)
{
    arch a = arch_342();
    bytes f = file_with(&a, 26);
    gn_net *net = load_ok(f.p, f.n);
    cr_assert_eq(gn_net_n_params(net), 26);
    cr_assert_eq(gn_net_params(net)[25], 0.5f);
    cr_assert_eq(gn_net_layer_act(net, 2), GN_ACT_SOFTMAX);
    gn_net_free(net);
    free(f.p);
}

Test(model, absurd_sizes_are_rejected_before_allocating)
{
    clock_t t0 = clock();
    /* 2^32 − 1 layers: refused from the count alone */
    arch a = arch_342();
    a.L = UINT32_MAX;
    bytes b = begin_file(1, HEADER);
    size_t at = begin_section(&b, "ARCH", REQUIRED);
    put_u32(&b, a.L);
    put_u32(&b, a.loss);
    put_f32(&b, a.slope);
    put_f32(&b, a.delta);
    end_section(&b, at);
    put_parm(&b, 0, NULL, 0);
    finish(&b, 2);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "offset 48:", "4294967295 layers: must be in [1, 64]",
                  NULL);
    free(b.p);

    /* 65 layers */
    a = arch_342();
    a.L = 65;
    for (int i = 0; i <= 65; i++)
        a.sizes[i] = 2;
    b = file_with(&a, 0);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "65 layers", NULL);
    free(b.p);

    /* a width of 2^40 */
    a = arch_342();
    a.sizes[1] = (uint64_t)1 << 40;
    b = file_with(&a, 0);
    expect_reject(b.p, b.n, GN_ERR_LIMIT,
                  "offset 72:", "layer size 1 = 1099511627776: must be in [1, 1048576]", NULL);
    free(b.p);

    /* a width of 2^64 − 1, which wraps to 0 when one is added */
    a = arch_342();
    a.sizes[2] = UINT64_MAX;
    b = file_with(&a, 0);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "layer size 2 = 18446744073709551615", NULL);
    free(b.p);

    /* 64 layers of the largest width: each within limits, their products 2^40 each */
    a = arch_342();
    a.L = 64;
    for (int i = 0; i <= 64; i++)
        a.sizes[i] = (uint64_t)1 << 20;
    for (int l = 0; l < 64; l++)
        a.acts[l] = GN_ACT_RELU;
    a.loss = GN_LOSS_QUADRATIC;
    b = file_with(&a, 0);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "offset 72:", "imply more than 268435456 parameters",
                  NULL);
    free(b.p);

    /* alternating 255 and 2^20: layer 1 alone has exactly 2^28 parameters, which is allowed;
     * the running total passes the limit at layer 2 */
    for (int i = 0; i <= 64; i++)
        a.sizes[i] = i % 2 ? (uint64_t)1 << 20 : 255u;
    b = file_with(&a, 0);
    expect_reject(b.p, b.n, GN_ERR_LIMIT,
                  "offset 80:", "layer sizes up to size 2 imply more than 268435456 parameters",
                  NULL);
    free(b.p);

    /* a PARM count of 2^62 with 26 floats behind it */
    a = arch_342();
    b = begin_file(1, HEADER);
    put_arch(&b, &a);
    at = begin_section(&b, "PARM", REQUIRED);
    put_u64(&b, (uint64_t)1 << 62);
    for (int i = 0; i < 26; i++)
        put_f32(&b, 0.0f);
    end_section(&b, at);
    finish(&b, 2);
    expect_reject(b.p, b.n, GN_ERR_VALUE,
                  "PARM holds 4611686018427387904 parameters, the architecture has 26", NULL);
    free(b.p);

    /* a section length of 2^63 */
    b = file_with(&a, 26);
    set_u64(b.p + 32 + 8, (uint64_t)1 << 63);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_SECTION,
                  "offset 40:", "section ARCH: length 9223372036854775808", "exceeds", NULL);
    /* a section length one byte too long */
    set_u64(b.p + 40, 16 + 3 * 8 + 2 * 4 + 1);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_SECTION, NULL);
    /* 2^32 − 1 sections */
    set_u64(b.p + 40, 16 + 3 * 8 + 2 * 4);
    set_u32(b.p + 20, UINT32_MAX);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "offset 20:", "4294967295 sections", NULL);
    /* more sections than the file holds */
    set_u32(b.p + 20, 3);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_SECTION, "section 3 of 3: only 0 bytes left", NULL);
    /* a header length of 2^31 */
    set_u32(b.p + 20, 2);
    set_u32(b.p + 16, 1u << 31);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "offset 16:", "header length 2147483648", NULL);
    /* a file length of 2^64 − 1 */
    set_u32(b.p + 16, HEADER);
    set_u64(b.p + 24, UINT64_MAX);
    expect_reject(b.p, b.n, GN_ERR_TRUNCATED, "truncated", "says 18446744073709551615", NULL);
    free(b.p);

    double seconds = (double)(clock() - t0) / CLOCKS_PER_SEC;
    cr_assert_lt(seconds, 5.0, "rejecting small files took %g s", seconds);
}

Test(model, length_fields_must_match_exactly)
{
    arch a = arch_342();
    /* one parameter too many, count and payload agreeing */
    bytes b = file_with(&a, 27);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "PARM holds 27 parameters, the architecture has 26",
                  NULL);
    free(b.p);
    /* one too few */
    b = file_with(&a, 25);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "PARM holds 25 parameters", NULL);
    free(b.p);
    /* the right count, one float short: the section is 4 bytes shorter */
    b = begin_file(1, HEADER);
    put_arch(&b, &a);
    float p[26] = {0};
    put_parm(&b, 26, p, 25);
    finish(&b, 2);
    expect_reject(b.p, b.n, GN_ERR_SECTION, "PARM length 108 does not match its 26 parameters",
                  NULL);
    free(b.p);
    /* ARCH with a spare byte */
    b = begin_file(1, HEADER);
    size_t at = b.n;
    put_arch(&b, &a);
    put(&b, "", 1);
    end_section(&b, at);
    put_parm(&b, 26, p, 26);
    finish(&b, 2);
    expect_reject(b.p, b.n, GN_ERR_SECTION,
                  "offset 40:", "ARCH length 49 does not match its 2 layers (48 bytes expected)",
                  NULL);
    free(b.p);
    /* SCAL whose flags say inputs and outputs but which holds inputs only */
    b = begin_file(1, HEADER);
    put_arch(&b, &a);
    const float mean[3] = {0, 1, 2}, sd[3] = {1, 1, 1};
    at = begin_section(&b, "SCAL", REQUIRED);
    put_u32(&b, 3);
    for (int i = 0; i < 3; i++)
        put_f32(&b, mean[i]);
    for (int i = 0; i < 3; i++)
        put_f32(&b, sd[i]);
    end_section(&b, at);
    put_parm(&b, 26, p, 26);
    finish(&b, 3);
    expect_reject(b.p, b.n, GN_ERR_SECTION, "SCAL length 28 does not match", NULL);
    free(b.p);
}

Test(model, unknown_version_is_rejected)
{
    bytes f = small_file();
    set_u32(f.p + 8, 2);
    fix_crc(f.p, f.n);
    expect_reject(f.p, f.n, GN_ERR_VERSION, "offset 8:", "format version 2 is not supported",
                  "newer gemmnet", NULL);
    set_u32(f.p + 8, 0);
    fix_crc(f.p, f.n);
    expect_reject(f.p, f.n, GN_ERR_VERSION, "format version 0 is not supported", NULL);
    /* checked before the CRC, which a later version may place differently */
    set_u32(f.p + 8, 7);
    expect_reject(f.p, f.n, GN_ERR_VERSION, "format version 7", NULL);
    set_u32(f.p + 8, 1);
    set_u32(f.p + 12, 4);
    fix_crc(f.p, f.n);
    expect_reject(f.p, f.n, GN_ERR_VERSION, "offset 12:", "unknown header flags 0x00000004", NULL);
    free(f.p);
}

/* A longer header (a later minor addition) is skipped. */
Test(model, longer_header_is_skipped)
{
    arch a = arch_342();
    bytes b = begin_file(1, 40);
    memset(b.p + 32, 0xab, 8);
    put_arch(&b, &a);
    float p[26];
    for (int i = 0; i < 26; i++)
        p[i] = (float)i;
    put_parm(&b, 26, p, 26);
    finish(&b, 2);
    gn_net *net = load_ok(b.p, b.n);
    cr_assert_eq(memcmp(gn_net_params(net), p, sizeof p), 0);
    gn_net_free(net);
    free(b.p);
}

Test(model, unknown_sections)
{
    gn_net *ref = small_net();
    const float *im, *is;
    gn_net_input_scaling(ref, &im, &is);
    arch a = arch_of(ref);
    /* skippable ones anywhere after ARCH, whatever their other flag bits, are ignored */
    bytes b = begin_file(1, HEADER);
    put_arch(&b, &a);
    size_t at = begin_section(&b, "xPRV", 0);
    put(&b, "trained on iris", 15);
    end_section(&b, at);
    put_parm(&b, 26, gn_net_params(ref), 26);
    at = begin_section(&b, "xyz1", 0xfffffffeu);
    end_section(&b, at);
    put_scal(&b, im, is, 3, NULL, NULL, 2);
    finish(&b, 5);
    gn_net *net = load_ok(b.p, b.n);
    assert_same_net(ref, net);
    gn_net_free(net);

    /* a required one is refused */
    set_u32(b.p + 96 + 4, REQUIRED); /* ARCH of a 3-4-2 net ends at 96 */
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_VERSION, "offset 96:", "unknown required section xPRV",
                  "newer gemmnet", NULL);
    /* an unprintable tag is shown in hex */
    set_u32(b.p + 96, 0x01020304u);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_VERSION, "unknown required section 0x01020304", NULL);
    free(b.p);
    gn_net_free(ref);
}

Test(model, section_structure)
{
    arch a = arch_342();
    float p[26] = {0};
    /* PARM twice */
    bytes b = begin_file(1, HEADER);
    put_arch(&b, &a);
    put_parm(&b, 26, p, 26);
    size_t second = b.n;
    put_parm(&b, 26, p, 26);
    finish(&b, 3);
    char want[64];
    snprintf(want, sizeof want, "offset %zu:", second);
    expect_reject(b.p, b.n, GN_ERR_SECTION, want, "second PARM section (the first is at offset 96)",
                  NULL);
    free(b.p);
    /* ARCH twice */
    b = begin_file(1, HEADER);
    put_arch(&b, &a);
    put_arch(&b, &a);
    put_parm(&b, 26, p, 26);
    finish(&b, 3);
    expect_reject(b.p, b.n, GN_ERR_SECTION, "offset 96:", "second ARCH section", NULL);
    free(b.p);
    /* no PARM */
    b = begin_file(1, HEADER);
    put_arch(&b, &a);
    size_t at = begin_section(&b, "note", 0);
    end_section(&b, at);
    finish(&b, 2);
    expect_reject(b.p, b.n, GN_ERR_SECTION, "no PARM section", NULL);
    free(b.p);
    /* PARM before ARCH */
    b = begin_file(1, HEADER);
    put_parm(&b, 26, p, 26);
    put_arch(&b, &a);
    finish(&b, 2);
    expect_reject(b.p, b.n, GN_ERR_SECTION,
                  "offset 32:", "the first section is PARM; it must be ARCH", NULL);
    free(b.p);
    /* a known section marked skippable */
    b = file_with(&a, 26);
    set_u32(b.p + 96 + 4, 0);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_SECTION, "offset 100:", "section PARM: flags 0x00000000", NULL);
    free(b.p);
    /* only one section */
    b = file_with(&a, 26);
    set_u32(b.p + 20, 1);
    fix_crc(b.p, b.n);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "1 sections", NULL);
    free(b.p);
}

Test(model, invalid_architecture_values)
{
    arch a = arch_342();
    a.acts[0] = GN_ACT_COUNT;
    bytes b = file_with(&a, 26);
    /* sizes at 64..87, activations from 88 */
    expect_reject(b.p, b.n, GN_ERR_VALUE, "offset 88:", "layer 1: unknown activation 8", NULL);
    free(b.p);

    a = arch_342();
    a.loss = 0x7fffffff;
    b = file_with(&a, 26);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "offset 52:", "unknown loss 2147483647", NULL);
    free(b.p);

    a = arch_342();
    a.sizes[0] = 0;
    b = file_with(&a, 26);
    expect_reject(b.p, b.n, GN_ERR_LIMIT, "offset 64:", "layer size 0 = 0", NULL);
    free(b.p);

    /* valid values in an invalid combination: gn_net_config_check's message */
    a = arch_342();
    a.acts[0] = GN_ACT_SOFTMAX;
    b = file_with(&a, 26);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "ARCH describes no valid network",
                  "softmax is allowed on the output layer only", NULL);
    free(b.p);

    a = arch_342();
    a.loss = GN_LOSS_BCE;
    b = file_with(&a, 26);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "binary cross-entropy needs a sigmoid output", NULL);
    free(b.p);

    a = arch_342();
    a.slope = NAN;
    b = file_with(&a, 26);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "leaky_slope", NULL);
    free(b.p);

    a = arch_342();
    a.delta = -1.0f;
    b = file_with(&a, 26);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "huber_delta", NULL);
    free(b.p);
}

Test(model, nonfinite_parameters_are_rejected)
{
    bytes f = small_file();
    /* PARM is the last section: its floats end 4 bytes before the end */
    size_t first = f.n - 4 - 26 * 4;
    set_f32(f.p + first + 7 * 4, NAN);
    fix_crc(f.p, f.n);
    char where[32];
    snprintf(where, sizeof where, "offset %zu:", first + 7 * 4);
    /* W^1 is 4 × 3, column-major: index 7 is row 3, column 1 */
    expect_reject(f.p, f.n, GN_ERR_NONFINITE, where, "parameter 7 (layer 1 weight (3, 1)) is nan",
                  NULL);
    set_f32(f.p + first + 7 * 4, 1.0f);
    set_f32(f.p + first + 25 * 4, -INFINITY);
    fix_crc(f.p, f.n);
    expect_reject(f.p, f.n, GN_ERR_NONFINITE, "parameter 25 (layer 2 bias 1) is -inf", NULL);
    free(f.p);
}

Test(model, invalid_scaling_is_rejected)
{
    arch a = arch_342();
    float p[26] = {0};
    const float mean[3] = {0, 1, 2}, sd[3] = {1, 2, 3};
    struct {
        int which; /* 0: input mean, 1: input std */
        int index;
        float value;
        gn_status status;
        const char *msg;
    } cases[] = {
        {1, 1, 0.0f, GN_ERR_VALUE, "input std[1] = 0 is not positive with a finite reciprocal"},
        {1, 2, -1.0f, GN_ERR_VALUE, "input std[2] = -1 is not positive"},
        {1, 0, INFINITY, GN_ERR_NONFINITE, "input std[0] = inf is not finite"},
        {1, 0, 1e-45f, GN_ERR_VALUE, "input std[0] = 1.4013e-45"}, /* 1/std overflows */
        {0, 2, NAN, GN_ERR_NONFINITE, "input mean[2] = nan is not finite"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        float m[3], s[3];
        memcpy(m, mean, sizeof m);
        memcpy(s, sd, sizeof s);
        (cases[k].which ? s : m)[cases[k].index] = cases[k].value;
        bytes b = begin_file(1, HEADER);
        put_arch(&b, &a);
        put_scal(&b, m, s, 3, NULL, NULL, 2);
        put_parm(&b, 26, p, 26);
        finish(&b, 3);
        /* SCAL payload at 112: flags, 3 means from 116, 3 stds from 128 */
        char where[32];
        snprintf(where, sizeof where,
                 "offset %d:", 116 + 4 * (cases[k].which * 3 + cases[k].index));
        expect_reject(b.p, b.n, cases[k].status, where, cases[k].msg, NULL);
        free(b.p);
    }
    /* output scaling on a classifier */
    bytes b = begin_file(1, HEADER);
    put_arch(&b, &a);
    const float om[2] = {0, 0}, os[2] = {1, 1};
    put_scal(&b, NULL, NULL, 3, om, os, 2);
    put_parm(&b, 26, p, 26);
    finish(&b, 3);
    expect_reject(b.p, b.n, GN_ERR_VALUE, "output scaling refused", "classifier", NULL);
    free(b.p);
    /* unknown or no scaling flags */
    for (uint32_t flags = 0; flags < 16; flags += 4) {
        b = begin_file(1, HEADER);
        put_arch(&b, &a);
        size_t at = begin_section(&b, "SCAL", REQUIRED);
        put_u32(&b, flags);
        end_section(&b, at);
        put_parm(&b, 26, p, 26);
        finish(&b, 3);
        expect_reject(b.p, b.n, GN_ERR_VALUE, "offset 112:", "SCAL flags", NULL);
        free(b.p);
    }
}

/*---- arguments and files ----*/

Test(model, null_arguments)
{
    gn_net *net = small_net();
    bytes f = small_file();
    char err[256];
    gn_net *out = net;
    cr_assert_eq(gn_net_save(NULL, tmp_path("x.gnn"), err, sizeof err), GN_ERR_NULL);
    assert_contains(err, "net is NULL");
    cr_assert_eq(gn_net_save(net, NULL, err, sizeof err), GN_ERR_NULL);
    assert_contains(err, "path is NULL");
    cr_assert_eq(gn_net_load(NULL, tmp_path("small.gnn"), err, sizeof err), GN_ERR_NULL);
    assert_contains(err, "out is NULL");
    cr_assert_eq(gn_net_load(&out, NULL, err, sizeof err), GN_ERR_NULL);
    cr_assert_null(out);
    assert_contains(err, "path is NULL");
    out = net;
    cr_assert_eq(gn_net_load_buffer(&out, NULL, 10, err, sizeof err), GN_ERR_NULL);
    cr_assert_null(out);
    cr_assert_eq(gn_net_load_buffer(NULL, f.p, f.n, err, sizeof err), GN_ERR_NULL);
    /* err may be NULL, or too short */
    cr_assert_eq(gn_net_load_buffer(&out, f.p, f.n - 1, NULL, 0), GN_ERR_TRUNCATED);
    cr_assert_eq(gn_net_load_buffer(&out, f.p, f.n - 1, err, 5), GN_ERR_TRUNCATED);
    cr_assert_eq(strlen(err), 4);
    cr_assert_eq(gn_net_load_buffer(&out, f.p, f.n, NULL, 0), GN_OK);
    gn_net_free(out);
    gn_net_free(net);
    free(f.p);
}

Test(model, unreadable_files)
{
    gn_net *out = NULL;
    char err[512];
    const char *missing = tmp_path("missing.gnn");
    cr_assert_eq(gn_net_load(&out, missing, err, sizeof err), GN_ERR_IO);
    cr_assert_null(out);
    assert_contains(err, missing);
    assert_contains(err, strerror(ENOENT));
    cr_assert_eq(gn_net_load(&out, tmp_dir, err, sizeof err), GN_ERR_IO);
    assert_contains(err, "is a directory");
    const char *empty = tmp_path("empty.gnn");
    write_bytes(empty, (const uint8_t *)"", 0);
    cr_assert_eq(gn_net_load(&out, empty, err, sizeof err), GN_ERR_TRUNCATED);
    assert_contains(err, "offset 0: truncated");

    /* a file beyond the reader's limit (sparse: no disk used) is refused from its size */
    const char *huge = tmp_path("huge.gnn");
    write_bytes(huge, (const uint8_t *)"", 0);
    cr_assert_eq(truncate(huge, (off_t)16 * (1 << 28) + (64 << 20) + 1), 0);
    clock_t t0 = clock();
    cr_assert_eq(gn_net_load(&out, huge, err, sizeof err), GN_ERR_LIMIT);
    cr_assert_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 1.0, "the file was read");
    assert_contains(err, "4362076161 bytes: larger than the largest model file");
}
