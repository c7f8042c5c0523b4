/* Model files (.gnn), specified byte by byte in docs/format.md.
 *
 * Loading reads the whole file into memory (at most MAX_FILE bytes) and parses it from there,
 * so the file and buffer entry points share one parser, and every length the file claims can
 * be compared with the bytes actually present before it is used. Sizes are range-checked and
 * their products computed in size_t with overflow checks before anything is allocated.
 * Saving streams the encoding through a small buffer into a temporary file next to the
 * target, then syncs and renames it over the target. */
#define _POSIX_C_SOURCE 200809L /* fsync, O_CLOEXEC, the XSI strerror_r, clock_gettime */
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/*---- the format's constants (docs/format.md) ----*/

static const uint8_t MAGIC[8] = {0x89, 'G', 'N', 'N', '\r', '\n', 0x1a, '\n'};

enum {
    FORMAT_VERSION = 1,
    HEADER_LEN = 32,       /* the version-1 header; a longer one is allowed (extra bytes skipped) */
    MAX_HEADER_LEN = 4096, /* reader limit */
    MAX_SECTIONS = 1024,   /* reader limit */
    SECTION_HEAD = 16,     /* tag, flags, length */
    CRC_LEN = 4,
    MAX_LAYERS = 64, /* L; so at most 65 sizes */
    ARCH_FIXED = 16, /* n_layers, loss, leaky_slope, huber_delta */
    DEFAULT_BATCH = 128,
    WRITE_CHUNK = 1 << 16,
};

#define SECTION_REQUIRED 1u
#define SCALE_INPUT      1u
#define SCALE_OUTPUT     2u

#define MAX_WIDTH  ((uint64_t)1 << 20)
#define MAX_PARAMS ((uint64_t)1 << 28)
/* The largest file this reader accepts: every parameter, scaling at the largest width, and
 * room for sections it may have to skip. */
#define MAX_FILE ((size_t)4 * MAX_PARAMS + ((size_t)64 << 20))

#define TAG(a, b, c, d)                                                                            \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_ARCH TAG('A', 'R', 'C', 'H')
#define TAG_SCAL TAG('S', 'C', 'A', 'L')
#define TAG_PARM TAG('P', 'A', 'R', 'M')

/*---- little-endian encoding, byte by byte ----*/

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

static float get_f32(const uint8_t *p)
{
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
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

/* zlib's crc32 takes an unsigned int length, so large buffers go in pieces. */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n > 0) {
        unsigned piece = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        crc = (uint32_t)crc32(crc, p, piece);
        p += piece;
        n -= piece;
    }
    return crc;
}

/* strerror is not thread-safe; this is. */
static const char *errno_text(int e, char *buf, size_t len)
{
    if (strerror_r(e, buf, len) != 0)
        gn__format(buf, len, "error %d", e);
    return buf;
}

/* A tag as its four characters when they are printable, else in hex. */
static const char *tag_text(uint32_t tag, char buf[16])
{
    bool printable = true;
    for (int i = 0; i < 4; i++) {
        unsigned c = (tag >> (8 * i)) & 0xffu;
        printable = printable && c >= 0x20 && c < 0x7f;
        buf[i] = (char)c;
    }
    if (printable)
        buf[4] = '\0';
    else
        gn__format(buf, 16, "0x%08" PRIx32, tag);
    return buf;
}

/*---- loading ----*/

typedef struct reader {
    const uint8_t *buf;
    size_t len;       /* whole buffer, checksum included */
    const char *name; /* file name for messages, or NULL */
    char *err;
    size_t errlen;
} reader;

typedef struct section {
    size_t at;  /* offset of the section header */
    size_t pay; /* offset of the payload */
    uint64_t n; /* payload length */
} section;

/* Records "name: offset off: message" and returns status. */
static gn_status fail_at(const reader *r, gn_status status, size_t off, const char *fmt, ...)
    GN_PRINTF(4, 5);
static gn_status fail_at(const reader *r, gn_status status, size_t off, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    gn__vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gn__format(r->err, r->errlen, "%s%soffset %zu: %s", r->name ? r->name : "", r->name ? ": " : "",
               off, msg);
    return status;
}

/* The fixed header: magic, version, flags, lengths. On success *first is the offset of the
 * first section and *n_sections the number of sections. */
static gn_status check_header(const reader *r, size_t *first, uint32_t *n_sections)
{
    const uint8_t *b = r->buf;
    size_t len = r->len;
    size_t nm = len < sizeof MAGIC ? len : sizeof MAGIC;
    if (memcmp(b, MAGIC, nm) != 0)
        return fail_at(r, GN_ERR_FORMAT, 0, "not a gemmnet model file (bad magic)");
    if (len < HEADER_LEN)
        return fail_at(r, GN_ERR_FORMAT, len,
                       "truncated: the file ends inside the %d-byte header (%zu bytes)", HEADER_LEN,
                       len);
    uint32_t version = get_u32(b + 8);
    if (version != FORMAT_VERSION)
        return fail_at(r, GN_ERR_FORMAT, 8,
                       "format version %" PRIu32 " is not supported (this reader knows "
                       "version %d%s)",
                       version, FORMAT_VERSION,
                       version > FORMAT_VERSION ? "; the file is from a newer gemmnet" : "");
    uint32_t flags = get_u32(b + 12);
    if (flags != 0)
        return fail_at(r, GN_ERR_FORMAT, 12, "unknown header flags 0x%08" PRIx32, flags);
    uint32_t header_len = get_u32(b + 16);
    if (header_len < HEADER_LEN || header_len > MAX_HEADER_LEN)
        return fail_at(r, GN_ERR_FORMAT, 16, "header length %" PRIu32 " not in [%d, %d]",
                       header_len, HEADER_LEN, MAX_HEADER_LEN);
    *n_sections = get_u32(b + 20);
    if (*n_sections < 2 || *n_sections > MAX_SECTIONS)
        return fail_at(r, GN_ERR_FORMAT, 20,
                       "%" PRIu32 " sections: a model has between 2 and %d (ARCH and PARM "
                       "at least)",
                       *n_sections, MAX_SECTIONS);
    uint64_t file_len = get_u64(b + 24);
    if (file_len > len)
        return fail_at(r, GN_ERR_FORMAT, len,
                       "truncated: the file ends after %zu bytes, its header (offset 24) says "
                       "%" PRIu64,
                       len, file_len);
    if (file_len < len)
        return fail_at(r, GN_ERR_FORMAT, (size_t)file_len,
                       "%zu trailing byte(s) after the checksum (the header says the file is "
                       "%" PRIu64 " bytes)",
                       len - (size_t)file_len, file_len);
    if (len < (size_t)header_len + CRC_LEN)
        return fail_at(r, GN_ERR_FORMAT, 24,
                       "file length %zu leaves no room for the %" PRIu32
                       "-byte header and the checksum",
                       len, header_len);
    *first = header_len;
    return GN_OK;
}

static gn_status check_crc(const reader *r)
{
    size_t body = r->len - CRC_LEN;
    uint32_t found = get_u32(r->buf + body);
    uint32_t expected = crc_update((uint32_t)crc32(0L, Z_NULL, 0), r->buf, body);
    if (found != expected)
        return fail_at(r, GN_ERR_FORMAT, body,
                       "CRC-32 mismatch: expected 0x%08" PRIx32 " (computed over bytes 0..%zu), "
                       "found 0x%08" PRIx32 " (the file is corrupt)",
                       expected, body - 1, found);
    return GN_OK;
}

/* Walks the section headers: every length within the file, known sections once each with
 * the flags the format gives them, unknown required sections refused, unknown skippable ones
 * passed over. Fills arch, scal (n = UINT64_MAX if absent) and parm. */
static gn_status frame_sections(const reader *r, size_t pos, uint32_t n_sections, section *arch,
                                section *scal, section *parm)
{
    size_t end = r->len - CRC_LEN;
    section *known[3] = {arch, scal, parm};
    const uint32_t known_tags[3] = {TAG_ARCH, TAG_SCAL, TAG_PARM};
    bool seen[3] = {false, false, false};
    char tb[16];
    for (uint32_t i = 0; i < n_sections; i++) {
        if (end - pos < SECTION_HEAD)
            return fail_at(r, GN_ERR_FORMAT, pos,
                           "section %" PRIu32 " of %" PRIu32 ": only %zu bytes left before the "
                           "checksum, a section header needs %d",
                           i + 1, n_sections, end - pos, SECTION_HEAD);
        uint32_t tag = get_u32(r->buf + pos);
        uint32_t flags = get_u32(r->buf + pos + 4);
        uint64_t n = get_u64(r->buf + pos + 8);
        size_t pay = pos + SECTION_HEAD;
        if (n > end - pay)
            return fail_at(r, GN_ERR_FORMAT, pos + 8,
                           "section %s: length %" PRIu64 " exceeds the %zu bytes left before "
                           "the checksum",
                           tag_text(tag, tb), n, end - pay);
        int k = -1;
        for (int j = 0; j < 3; j++)
            if (tag == known_tags[j])
                k = j;
        if (i == 0 && tag != TAG_ARCH)
            return fail_at(r, GN_ERR_FORMAT, pos, "the first section is %s; it must be ARCH",
                           tag_text(tag, tb));
        if (k < 0 && (flags & SECTION_REQUIRED))
            return fail_at(r, GN_ERR_FORMAT, pos,
                           "unknown required section %s (flags 0x%08" PRIx32
                           "): the file needs a newer gemmnet",
                           tag_text(tag, tb), flags);
        if (k >= 0) {
            if (seen[k])
                return fail_at(r, GN_ERR_FORMAT, pos,
                               "second %s section (the first is at offset %zu)", tag_text(tag, tb),
                               known[k]->at);
            if (flags != SECTION_REQUIRED)
                return fail_at(r, GN_ERR_FORMAT, pos + 4,
                               "section %s: flags 0x%08" PRIx32 ", expected 0x%08x",
                               tag_text(tag, tb), flags, SECTION_REQUIRED);
            seen[k] = true;
            *known[k] = (section){.at = pos, .pay = pay, .n = n};
        }
        pos = pay + (size_t)n;
    }
    if (pos != end)
        return fail_at(r, GN_ERR_FORMAT, pos,
                       "%zu bytes between the last of the %" PRIu32 " sections and the checksum",
                       end - pos, n_sections);
    if (!seen[2])
        return fail_at(r, GN_ERR_FORMAT, end, "no PARM section: the file has no parameters");
    if (!seen[1])
        scal->n = UINT64_MAX;
    return GN_OK;
}

/* Decodes and checks ARCH, then creates the network it describes. */
static gn_status load_arch(const reader *r, const section *s, gn_net **out)
{
    const uint8_t *p = r->buf + s->pay;
    if (s->n < ARCH_FIXED)
        return fail_at(r, GN_ERR_FORMAT, s->at + 8,
                       "ARCH length %" PRIu64 " is shorter than its %d fixed bytes", s->n,
                       ARCH_FIXED);
    uint32_t L = get_u32(p);
    if (L < 1 || L > MAX_LAYERS)
        return fail_at(r, GN_ERR_FORMAT, s->pay, "%" PRIu32 " layers: must be in [1, %d]", L,
                       MAX_LAYERS);
    uint64_t want = ARCH_FIXED + 8 * ((uint64_t)L + 1) + 4 * (uint64_t)L;
    if (s->n != want)
        return fail_at(r, GN_ERR_FORMAT, s->at + 8,
                       "ARCH length %" PRIu64 " does not match its %" PRIu32 " layers (%" PRIu64
                       " bytes expected)",
                       s->n, L, want);
    uint32_t loss = get_u32(p + 4);
    if (loss >= GN_LOSS_COUNT)
        return fail_at(r, GN_ERR_FORMAT, s->pay + 4, "unknown loss %" PRIu32, loss);

    size_t sizes[MAX_LAYERS + 1];
    gn_act acts[MAX_LAYERS];
    size_t n_params = 0;
    for (uint32_t i = 0; i <= L; i++) {
        size_t at = s->pay + ARCH_FIXED + 8 * (size_t)i;
        uint64_t w = get_u64(r->buf + at);
        if (w < 1 || w > MAX_WIDTH)
            return fail_at(r, GN_ERR_FORMAT, at,
                           "layer size %" PRIu32 " = %" PRIu64 ": must be in [1, %" PRIu64 "]", i,
                           w, MAX_WIDTH);
        sizes[i] = (size_t)w;
        size_t nw;
        if (i > 0 && (!mul_ok(sizes[i], sizes[i - 1], &nw) || !add_ok(n_params, nw, &n_params) ||
                      !add_ok(n_params, sizes[i], &n_params) || n_params > MAX_PARAMS))
            return fail_at(r, GN_ERR_FORMAT, at,
                           "layer sizes up to size %" PRIu32 " imply more than %" PRIu64
                           " parameters",
                           i, MAX_PARAMS);
    }
    for (uint32_t l = 0; l < L; l++) {
        size_t at = s->pay + ARCH_FIXED + 8 * ((size_t)L + 1) + 4 * (size_t)l;
        uint32_t a = get_u32(r->buf + at);
        if (a >= GN_ACT_COUNT)
            return fail_at(r, GN_ERR_FORMAT, at, "layer %" PRIu32 ": unknown activation %" PRIu32,
                           l + 1, a);
        acts[l] = (gn_act)a;
    }

    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.n_sizes = (size_t)L + 1;
    cfg.sizes = sizes;
    cfg.acts = acts;
    cfg.loss = (gn_loss)loss;
    cfg.leaky_slope = get_f32(p + 8);
    cfg.huber_delta = get_f32(p + 12);
    cfg.max_batch = DEFAULT_BATCH;
    char why[256];
    if (gn_net_config_check(&cfg, why, sizeof why) != GN_OK)
        return fail_at(r, GN_ERR_FORMAT, s->pay, "ARCH describes no valid network: %s", why);
    gn_status st = gn_net_create(out, &cfg);
    if (st != GN_OK)
        return fail_at(r, st, s->pay, "cannot create a network of %zu parameters: %s", n_params,
                       gn_strerror(st));
    assert(gn_net_n_params(*out) == n_params);
    return GN_OK;
}

/* Where parameter i lives, for messages: "layer 2 weight (3, 1)" or "layer 2 bias 3". */
static void describe_param(const gn_net *net, size_t i, char *buf, size_t len)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        const gn_layer *ly = &net->layers[l];
        if (i >= ly->b_off && i < ly->b_off + ly->n_out) {
            gn__format(buf, len, "layer %zu bias %zu", l + 1, i - ly->b_off);
            return;
        }
        if (i >= ly->w_off && i < ly->b_off) {
            size_t k = i - ly->w_off;
            gn__format(buf, len, "layer %zu weight (%zu, %zu)", l + 1, k % ly->n_out,
                       k / ly->n_out);
            return;
        }
    }
    gn__format(buf, len, "out of range");
}

static gn_status load_params(const reader *r, const section *s, gn_net *net)
{
    if (s->n < 8)
        return fail_at(r, GN_ERR_FORMAT, s->at + 8,
                       "PARM length %" PRIu64 " is shorter than its 8-byte count", s->n);
    uint64_t count = get_u64(r->buf + s->pay);
    size_t n = gn_net_n_params(net);
    if (count != n)
        return fail_at(r, GN_ERR_FORMAT, s->pay,
                       "PARM holds %" PRIu64 " parameters, the architecture has %zu", count, n);
    if (s->n != 8 + 4 * (uint64_t)n)
        return fail_at(r, GN_ERR_FORMAT, s->at + 8,
                       "PARM length %" PRIu64 " does not match its %zu parameters (%" PRIu64
                       " bytes expected)",
                       s->n, n, 8 + 4 * (uint64_t)n);
    float *params = net->params;
    const uint8_t *p = r->buf + s->pay + 8;
    for (size_t i = 0; i < n; i++)
        params[i] = get_f32(p + 4 * i);
    if (!gn__all_finite(params, n)) {
        size_t i = 0;
        while (!nonfinite(params[i]))
            i++;
        char where[96];
        describe_param(net, i, where, sizeof where);
        return fail_at(r, GN_ERR_FORMAT, s->pay + 8 + 4 * i, "parameter %zu (%s) is %g", i, where,
                       (double)params[i]);
    }
    return GN_OK;
}

/* One mean/std block of SCAL: n means then n standard deviations at offset at. */
static gn_status check_scaling(const reader *r, size_t at, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float m = get_f32(r->buf + at + 4 * i);
        if (!isfinite(m))
            return fail_at(r, GN_ERR_FORMAT, at + 4 * i, "%s mean[%zu] = %g is not finite", what, i,
                           (double)m);
    }
    for (size_t i = 0; i < n; i++) {
        size_t o = at + 4 * (n + i);
        float sd = get_f32(r->buf + o);
        /* as gn_net_set_*_scaling: 1/std must be finite too */
        if (!isfinite(sd) || !(sd > 0.0f) || !isfinite(1.0f / sd))
            return fail_at(r, GN_ERR_FORMAT, o, "%s std[%zu] = %g is not finite and positive", what,
                           i, (double)sd);
    }
    return GN_OK;
}

static gn_status load_scaling(const reader *r, const section *s, gn_net *net)
{
    size_t n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    if (s->n < 4)
        return fail_at(r, GN_ERR_FORMAT, s->at + 8,
                       "SCAL length %" PRIu64 " is shorter than its 4-byte flags", s->n);
    uint32_t which = get_u32(r->buf + s->pay);
    if (which == 0 || (which & ~(SCALE_INPUT | SCALE_OUTPUT)))
        return fail_at(r, GN_ERR_FORMAT, s->pay,
                       "SCAL flags 0x%08" PRIx32 ": must be 1 (inputs), 2 (outputs) or 3", which);
    uint64_t want = 4 + ((which & SCALE_INPUT) ? 8 * (uint64_t)n0 : 0) +
                    ((which & SCALE_OUTPUT) ? 8 * (uint64_t)nL : 0);
    if (s->n != want)
        return fail_at(r, GN_ERR_FORMAT, s->at + 8,
                       "SCAL length %" PRIu64 " does not match its flags and the %zu inputs and "
                       "%zu outputs (%" PRIu64 " bytes expected)",
                       s->n, n0, nL, want);
    size_t at = s->pay + 4, in_at = at, out_at = at;
    if (which & SCALE_INPUT) {
        gn_status st = check_scaling(r, in_at, n0, "input");
        if (st != GN_OK)
            return st;
        out_at += 8 * n0;
    }
    if (which & SCALE_OUTPUT) {
        gn_status st = check_scaling(r, out_at, nL, "output");
        if (st != GN_OK)
            return st;
    }
    size_t nmax = n0 > nL ? n0 : nL;
    float *tmp = malloc(2 * nmax * sizeof *tmp); /* nmax ≤ 2^20: no overflow */
    if (!tmp)
        return fail_at(r, GN_ERR_NOMEM, s->pay, "out of memory decoding the scaling");
    gn_status st = GN_OK;
    for (int part = 0; part < 2 && st == GN_OK; part++) {
        unsigned bit = part == 0 ? SCALE_INPUT : SCALE_OUTPUT;
        if (!(which & bit))
            continue;
        size_t n = part == 0 ? n0 : nL, o = part == 0 ? in_at : out_at;
        for (size_t i = 0; i < 2 * n; i++)
            tmp[i] = get_f32(r->buf + o + 4 * i);
        st = part == 0 ? gn_net_set_input_scaling(net, tmp, tmp + n)
                       : gn_net_set_output_scaling(net, tmp, tmp + n);
        if (st == GN_ERR_NOMEM)
            st = fail_at(r, st, s->pay, "out of memory storing the scaling");
        else if (st != GN_OK)
            st = fail_at(r, GN_ERR_FORMAT, o, "%s scaling refused: %s",
                         part == 0 ? "input" : "output", gn_net_last_error(net));
    }
    free(tmp);
    return st;
}

static gn_status parse(const reader *r, gn_net **out)
{
    if (r->len > MAX_FILE)
        return fail_at(r, GN_ERR_FORMAT, 0,
                       "%zu bytes: larger than the largest model file this reader accepts (%zu)",
                       r->len, MAX_FILE);
    size_t first = 0;
    uint32_t n_sections = 0;
    gn_status st = check_header(r, &first, &n_sections);
    if (st == GN_OK)
        st = check_crc(r);
    section arch = {0}, scal = {0}, parm = {0};
    if (st == GN_OK)
        st = frame_sections(r, first, n_sections, &arch, &scal, &parm);
    gn_net *net = NULL;
    if (st == GN_OK)
        st = load_arch(r, &arch, &net);
    if (st == GN_OK)
        st = load_params(r, &parm, net);
    if (st == GN_OK && scal.n != UINT64_MAX)
        st = load_scaling(r, &scal, net);
    if (st != GN_OK) {
        gn_net_free(net);
        return st;
    }
    /* gn_net_create drew the initial parameters from seed 1 before they were replaced; start
     * the shuffling stream at seed 1 itself, independent of the architecture. */
    gn_rng_seed(&net->rng, 1);
    *out = net;
    return GN_OK;
}

gn_status gn_net_load_buffer(gn_net **out, const void *buf, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out) {
        gn__format(err, errlen, "gn_net_load_buffer: out is NULL");
        return GN_ERR_NULL;
    }
    *out = NULL;
    if (!buf) {
        gn__format(err, errlen, "gn_net_load_buffer: buf is NULL");
        return GN_ERR_NULL;
    }
    reader r = {.buf = buf, .len = len, .err = err, .errlen = errlen};
    return parse(&r, out);
}

/* Reads all of fd into a new buffer, refusing more than MAX_FILE bytes. */
static gn_status read_all(int fd, const char *path, uint8_t **data, size_t *len, char *err,
                          size_t errlen)
{
    char why[128];
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        gn__format(err, errlen, "%s: cannot stat: %s", path, errno_text(errno, why, sizeof why));
        return GN_ERR_IO;
    }
    if (S_ISDIR(sb.st_mode)) {
        gn__format(err, errlen, "%s: is a directory", path);
        return GN_ERR_IO;
    }
    size_t cap = 1 << 16;
    if (S_ISREG(sb.st_mode)) {
        if ((uintmax_t)sb.st_size > MAX_FILE) {
            gn__format(err, errlen,
                       "%s: offset 0: %jd bytes: larger than the largest model file this reader "
                       "accepts (%zu)",
                       path, (intmax_t)sb.st_size, MAX_FILE);
            return GN_ERR_FORMAT;
        }
        cap = (size_t)sb.st_size + 1; /* + 1 so that reaching the end needs no growth */
    }
    uint8_t *b = malloc(cap);
    if (!b) {
        gn__format(err, errlen, "%s: out of memory reading %zu bytes", path, cap);
        return GN_ERR_NOMEM;
    }
    size_t n = 0;
    for (;;) {
        if (n == cap) { /* the file is longer than it was, or not a regular file */
            if (cap > MAX_FILE) {
                free(b);
                gn__format(err, errlen,
                           "%s: offset %zu: the file is larger than the largest model file this "
                           "reader accepts (%zu)",
                           path, n, MAX_FILE);
                return GN_ERR_FORMAT;
            }
            size_t grown = cap > MAX_FILE / 2 ? MAX_FILE + 1 : 2 * cap;
            uint8_t *nb = realloc(b, grown);
            if (!nb) {
                free(b);
                gn__format(err, errlen, "%s: out of memory reading %zu bytes", path, grown);
                return GN_ERR_NOMEM;
            }
            b = nb;
            cap = grown;
        }
        size_t want = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        ssize_t got = read(fd, b + n, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            gn__format(err, errlen, "%s: read error at offset %zu: %s", path, n,
                       errno_text(errno, why, sizeof why));
            free(b);
            return GN_ERR_IO;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *data = b;
    *len = n;
    return GN_OK;
}

gn_status gn_net_load(gn_net **out, const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !path) {
        if (out)
            *out = NULL;
        gn__format(err, errlen, "gn_net_load: %s is NULL", !out ? "out" : "path");
        return GN_ERR_NULL;
    }
    *out = NULL;
    char why[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        gn__format(err, errlen, "%s: cannot open: %s", path, errno_text(errno, why, sizeof why));
        return GN_ERR_IO;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    gn_status st = read_all(fd, path, &data, &len, err, errlen);
    /* Read-only: a failing close loses nothing, the bytes are already in memory. */
    close(fd);
    if (st != GN_OK)
        return st;
    reader r = {.buf = data, .len = len, .name = path, .err = err, .errlen = errlen};
    st = parse(&r, out);
    free(data);
    return st;
}

/*---- saving ----*/

/* Encodes into a small buffer, handing it to the file (and the checksum) when full. */
typedef struct writer {
    int fd;
    uint32_t crc;
    uint64_t total; /* bytes handed over so far */
    int error;      /* errno of the first failed write, 0 if none */
    size_t n;
    uint8_t buf[WRITE_CHUNK];
} writer;

static bool write_all(int fd, const uint8_t *p, size_t n, int *error)
{
    while (n > 0) {
        size_t want = n > (1u << 30) ? (1u << 30) : n;
        ssize_t got = write(fd, p, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            *error = got < 0 ? errno : EIO;
            return false;
        }
        p += got;
        n -= (size_t)got;
    }
    return true;
}

static void w_flush(writer *w)
{
    if (w->n == 0 || w->error)
        return;
    w->crc = crc_update(w->crc, w->buf, w->n);
    w->total += w->n;
    write_all(w->fd, w->buf, w->n, &w->error);
    w->n = 0;
}

/* Room for k more bytes (k ≤ 8). */
static uint8_t *w_room(writer *w, size_t k)
{
    if (WRITE_CHUNK - w->n < k)
        w_flush(w);
    uint8_t *p = w->buf + w->n;
    w->n += k;
    return p;
}

static void w_u32(writer *w, uint32_t v) { set_u32(w_room(w, 4), v); }
static void w_u64(writer *w, uint64_t v) { set_u64(w_room(w, 8), v); }
static void w_f32(writer *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    w_u32(w, u);
}

static void w_section(writer *w, uint32_t tag, uint64_t n)
{
    w_u32(w, tag);
    w_u32(w, SECTION_REQUIRED);
    w_u64(w, n);
}

/* Writes the whole file to w; its length must come out as file_len. */
static void encode(writer *w, const gn_net *net, uint64_t file_len, uint32_t n_sections,
                   uint64_t arch_len, uint64_t scal_len)
{
    size_t L = net->n_layers, n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    const float *in_mean, *in_std, *out_mean, *out_std;
    gn_net_input_scaling(net, &in_mean, &in_std);
    gn_net_output_scaling(net, &out_mean, &out_std);

    memcpy(w_room(w, 8), MAGIC, 8);
    w_u32(w, FORMAT_VERSION);
    w_u32(w, 0); /* header flags */
    w_u32(w, HEADER_LEN);
    w_u32(w, n_sections);
    w_u64(w, file_len);

    w_section(w, TAG_ARCH, arch_len);
    w_u32(w, (uint32_t)L);
    w_u32(w, (uint32_t)net->loss);
    w_f32(w, net->leaky_slope);
    w_f32(w, net->huber_delta);
    for (size_t l = 0; l <= L; l++)
        w_u64(w, gn_net_layer_size(net, l));
    for (size_t l = 1; l <= L; l++)
        w_u32(w, (uint32_t)gn_net_layer_act(net, l));

    if (scal_len) {
        w_section(w, TAG_SCAL, scal_len);
        w_u32(w, (in_mean ? SCALE_INPUT : 0) | (out_mean ? SCALE_OUTPUT : 0));
        for (size_t i = 0; in_mean && i < n0; i++)
            w_f32(w, in_mean[i]);
        for (size_t i = 0; in_mean && i < n0; i++)
            w_f32(w, in_std[i]);
        for (size_t i = 0; out_mean && i < nL; i++)
            w_f32(w, out_mean[i]);
        for (size_t i = 0; out_mean && i < nL; i++)
            w_f32(w, out_std[i]);
    }

    w_section(w, TAG_PARM, 8 + 4 * (uint64_t)net->n_params);
    w_u64(w, net->n_params);
    for (size_t i = 0; i < net->n_params; i++)
        w_f32(w, net->params[i]);

    w_flush(w);
    if (!w->error) {
        uint8_t crc[CRC_LEN];
        set_u32(crc, w->crc);
        if (write_all(w->fd, crc, CRC_LEN, &w->error))
            w->total += CRC_LEN;
    }
    assert(w->error || w->total == file_len);
}

/* Creates path.tmp.XXXXXX exclusively, with mode 0666 less the umask like any new file
 * (mkstemp would make it 0600). *tmp receives the malloc'ed name. Returns the fd or -1 with
 * errno set. */
static int create_temp(const char *path, char **tmp)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = strlen(path);
    char *name = malloc(n + sizeof ".tmp.XXXXXX");
    if (!name) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(name, path, n);
    memcpy(name + n, ".tmp.", 5);
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_REALTIME, &ts);
    gn_rng rng;
    gn_rng_seed(&rng, (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
                          (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)&rng);
    for (int attempt = 0; attempt < 100; attempt++) {
        for (size_t i = 0; i < 6; i++)
            name[n + 5 + i] = chars[gn_rng_below(&rng, sizeof chars - 1)];
        name[n + 11] = '\0';
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp = name;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(name);
    errno = e;
    return -1;
}

/* Makes the rename itself durable; best effort, as not every file system can sync a
 * directory. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else if ((dir = malloc((size_t)(slash - path) + 1)) != NULL) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

gn_status gn_net_save(const gn_net *net, const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!net || !path) {
        gn__format(err, errlen, "gn_net_save: %s is NULL", !net ? "net" : "path");
        return GN_ERR_NULL;
    }
    /* The reader's limits, so that every file written can be read back. */
    size_t L = net->n_layers, n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    if (L > MAX_LAYERS || net->n_params > MAX_PARAMS) {
        gn__format(err, errlen,
                   "%s: the network (%zu layers, %zu parameters) exceeds the model file's "
                   "limits (%d layers, %" PRIu64 " parameters)",
                   path, L, net->n_params, MAX_LAYERS, MAX_PARAMS);
        return GN_ERR_UNSUPPORTED;
    }
    for (size_t l = 0; l <= L; l++)
        if (gn_net_layer_size(net, l) > MAX_WIDTH) {
            gn__format(err, errlen,
                       "%s: layer size %zu = %zu exceeds the model file's limit of %" PRIu64, path,
                       l, gn_net_layer_size(net, l), MAX_WIDTH);
            return GN_ERR_UNSUPPORTED;
        }
    /* Non-finite parameters would make a file the reader refuses. */
    if (!gn__all_finite(net->params, net->n_params)) {
        size_t i = 0;
        while (!nonfinite(net->params[i]))
            i++;
        char where[96];
        describe_param(net, i, where, sizeof where);
        gn__format(err, errlen, "%s: parameter %zu (%s) is %g; nothing was written", path, i, where,
                   (double)net->params[i]);
        return GN_ERR_NONFINITE;
    }
    const float *in_mean, *in_std, *out_mean, *out_std;
    gn_net_input_scaling(net, &in_mean, &in_std);
    gn_net_output_scaling(net, &out_mean, &out_std);
    uint64_t arch_len = ARCH_FIXED + 8 * ((uint64_t)L + 1) + 4 * (uint64_t)L;
    uint64_t scal_len = in_mean || out_mean ? 4 + (in_mean ? 8 * (uint64_t)n0 : 0) +
                                                  (out_mean ? 8 * (uint64_t)nL : 0)
                                            : 0;
    uint64_t parm_len = 8 + 4 * (uint64_t)net->n_params;
    uint32_t n_sections = scal_len ? 3 : 2;
    uint64_t file_len =
        HEADER_LEN + SECTION_HEAD * (uint64_t)n_sections + arch_len + scal_len + parm_len + CRC_LEN;

    writer *w = malloc(sizeof *w);
    if (!w) {
        gn__format(err, errlen, "%s: out of memory", path);
        return GN_ERR_NOMEM;
    }
    char why[128], *tmp = NULL;
    w->fd = create_temp(path, &tmp);
    if (w->fd < 0) {
        int e = errno;
        gn__format(err, errlen, "%s: cannot create a temporary file next to it: %s", path,
                   errno_text(e, why, sizeof why));
        free(w);
        return e == ENOMEM ? GN_ERR_NOMEM : GN_ERR_IO;
    }
    w->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    w->total = 0;
    w->error = 0;
    w->n = 0;
    encode(w, net, file_len, n_sections, arch_len, scal_len);

    const char *failed = NULL;
    int e = 0;
    if (w->error) {
        failed = "write";
        e = w->error;
    } else if (fsync(w->fd) != 0) {
        failed = "fsync";
        e = errno;
    }
    /* close reports deferred write errors (NFS); it must not be retried, even on EINTR */
    if (close(w->fd) != 0 && !failed) {
        failed = "close";
        e = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = "rename";
        e = errno;
    }
    free(w);
    if (failed) {
        unlink(tmp);
        gn__format(err, errlen, "%s: %s of temporary file %s failed: %s (%s is left as it was)",
                   path, failed, tmp, errno_text(e, why, sizeof why), path);
        free(tmp);
        return GN_ERR_IO;
    }
    free(tmp);
    sync_dir(path);
    return GN_OK;
}
