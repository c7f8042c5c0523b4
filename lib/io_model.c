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
    OPTM_FIXED = 64, /* kind, 9 configuration floats, lr, t, count, number of vectors */
    RNGS_LEN = 32,
    PROG_FIXED = 28,         /* epochs done, best epoch, best loss, flags */
    MAX_META = 1 << 20,      /* reader limit on PROV */
    MAX_USER_META = 1 << 16, /* writer limit on the caller's part of it */
    WRITE_CHUNK = 1 << 16,
};

#define SECTION_REQUIRED 1u
#define SCALE_INPUT      1u
#define SCALE_OUTPUT     2u
#define PROG_BEST        1u
#define MAX_EPOCHS       ((uint64_t)1 << 40)

#define MAX_WIDTH  ((uint64_t)1 << 20)
#define MAX_PARAMS ((uint64_t)1 << 28)
/* The largest file this reader accepts: the parameters, two optimizer state vectors and the
 * best parameters of a checkpoint, and room for scaling, provenance and sections it may have
 * to skip. */
#define MAX_FILE ((size_t)16 * MAX_PARAMS + ((size_t)64 << 20))

#define TAG(a, b, c, d)                                                                            \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_ARCH TAG('A', 'R', 'C', 'H')
#define TAG_SCAL TAG('S', 'C', 'A', 'L')
#define TAG_PARM TAG('P', 'A', 'R', 'M')
#define TAG_OPTM TAG('O', 'P', 'T', 'M')
#define TAG_RNGS TAG('R', 'N', 'G', 'S')
#define TAG_PROG TAG('P', 'R', 'O', 'G')
#define TAG_PROV TAG('P', 'R', 'O', 'V')

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
    uint64_t n; /* payload length; UINT64_MAX when the section is absent */
} section;

/* The sections this reader knows, in the order gemmnet writes them. */
enum { S_ARCH, S_SCAL, S_PARM, S_OPTM, S_RNGS, S_PROG, S_PROV, S_COUNT };
static const uint32_t KNOWN_TAGS[S_COUNT] = {TAG_ARCH, TAG_SCAL, TAG_PARM, TAG_OPTM,
                                             TAG_RNGS, TAG_PROG, TAG_PROV};
/* ARCH, SCAL and PARM change what the network computes: REQUIRED. The rest only matter for
 * resuming or for the record, so an older reader may skip them. */
static const uint32_t KNOWN_FLAGS[S_COUNT] = {
    SECTION_REQUIRED, SECTION_REQUIRED, SECTION_REQUIRED, 0, 0, 0, 0};

struct gn_checkpoint {
    gn_net *net;
    gn_optimizer *opt;
    bool has_progress;
    gn_fit_progress progress;
    float *best; /* progress.best_params points here */
    char *meta;  /* NUL-terminated provenance text, never NULL after a successful load */
    gn_checkpoint_info info;
};

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
        return fail_at(r, GN_ERR_MAGIC, 0, "not a gemmnet model file (bad magic)");
    if (len < HEADER_LEN)
        return fail_at(r, GN_ERR_TRUNCATED, len,
                       "truncated: the file ends inside the %d-byte header (%zu bytes)", HEADER_LEN,
                       len);
    uint32_t version = get_u32(b + 8);
    if (version != FORMAT_VERSION)
        return fail_at(r, GN_ERR_VERSION, 8,
                       "format version %" PRIu32 " is not supported (this reader knows "
                       "version %d%s)",
                       version, FORMAT_VERSION,
                       version > FORMAT_VERSION ? "; the file is from a newer gemmnet" : "");
    uint32_t flags = get_u32(b + 12);
    if (flags != 0)
        return fail_at(r, GN_ERR_VERSION, 12,
                       "unknown header flags 0x%08" PRIx32 " (from a newer gemmnet?)", flags);
    uint32_t header_len = get_u32(b + 16);
    if (header_len < HEADER_LEN || header_len > MAX_HEADER_LEN)
        return fail_at(r, GN_ERR_LIMIT, 16, "header length %" PRIu32 " not in [%d, %d]", header_len,
                       HEADER_LEN, MAX_HEADER_LEN);
    *n_sections = get_u32(b + 20);
    if (*n_sections < 2 || *n_sections > MAX_SECTIONS)
        return fail_at(r, GN_ERR_LIMIT, 20,
                       "%" PRIu32 " sections: a model has between 2 and %d (ARCH and PARM "
                       "at least)",
                       *n_sections, MAX_SECTIONS);
    uint64_t file_len = get_u64(b + 24);
    if (file_len > len)
        return fail_at(r, GN_ERR_TRUNCATED, len,
                       "truncated: the file ends after %zu bytes, its header (offset 24) says "
                       "%" PRIu64,
                       len, file_len);
    if (file_len < len)
        return fail_at(r, GN_ERR_TRAILING, (size_t)file_len,
                       "%zu trailing byte(s) after the checksum (the header says the file is "
                       "%" PRIu64 " bytes)",
                       len - (size_t)file_len, file_len);
    if (len < (size_t)header_len + CRC_LEN)
        return fail_at(r, GN_ERR_LIMIT, 24,
                       "file length %zu leaves no room for the %" PRIu32
                       "-byte header and the checksum",
                       len, header_len);
    *first = header_len;
    return GN_OK;
}

static gn_status check_crc(const reader *r, uint32_t *crc)
{
    size_t body = r->len - CRC_LEN;
    uint32_t found = get_u32(r->buf + body);
    uint32_t expected = crc_update((uint32_t)crc32(0L, Z_NULL, 0), r->buf, body);
    if (found != expected)
        return fail_at(r, GN_ERR_CHECKSUM, body,
                       "CRC-32 mismatch: expected 0x%08" PRIx32 " (computed over bytes 0..%zu), "
                       "found 0x%08" PRIx32 " (the file is corrupt)",
                       expected, body - 1, found);
    *crc = found;
    return GN_OK;
}

/* Walks the section headers: every length within the file, known sections once each with
 * the flags the format gives them, unknown required sections refused, unknown skippable ones
 * passed over (and counted). Fills sec[S_*] (n = UINT64_MAX when absent). */
static gn_status frame_sections(const reader *r, size_t pos, uint32_t n_sections,
                                section sec[S_COUNT], uint32_t *skipped)
{
    size_t end = r->len - CRC_LEN;
    char tb[16];
    for (int k = 0; k < S_COUNT; k++)
        sec[k] = (section){0, 0, UINT64_MAX};
    *skipped = 0;
    for (uint32_t i = 0; i < n_sections; i++) {
        if (end - pos < SECTION_HEAD)
            return fail_at(r, GN_ERR_SECTION, pos,
                           "section %" PRIu32 " of %" PRIu32 ": only %zu bytes left before the "
                           "checksum, a section header needs %d",
                           i + 1, n_sections, end - pos, SECTION_HEAD);
        uint32_t tag = get_u32(r->buf + pos);
        uint32_t flags = get_u32(r->buf + pos + 4);
        uint64_t n = get_u64(r->buf + pos + 8);
        size_t pay = pos + SECTION_HEAD;
        if (n > end - pay)
            return fail_at(r, GN_ERR_SECTION, pos + 8,
                           "section %s: length %" PRIu64 " exceeds the %zu bytes left before "
                           "the checksum",
                           tag_text(tag, tb), n, end - pay);
        int k = -1;
        for (int j = 0; j < S_COUNT; j++)
            if (tag == KNOWN_TAGS[j])
                k = j;
        if (i == 0 && tag != TAG_ARCH)
            return fail_at(r, GN_ERR_SECTION, pos, "the first section is %s; it must be ARCH",
                           tag_text(tag, tb));
        if (k < 0 && (flags & SECTION_REQUIRED))
            return fail_at(r, GN_ERR_VERSION, pos,
                           "unknown required section %s (flags 0x%08" PRIx32
                           "): the file needs a newer gemmnet",
                           tag_text(tag, tb), flags);
        if (k < 0)
            ++*skipped;
        if (k >= 0) {
            if (sec[k].n != UINT64_MAX)
                return fail_at(r, GN_ERR_SECTION, pos,
                               "second %s section (the first is at offset %zu)", tag_text(tag, tb),
                               sec[k].at);
            if (flags != KNOWN_FLAGS[k])
                return fail_at(r, GN_ERR_SECTION, pos + 4,
                               "section %s: flags 0x%08" PRIx32 ", expected 0x%08" PRIx32,
                               tag_text(tag, tb), flags, KNOWN_FLAGS[k]);
            sec[k] = (section){.at = pos, .pay = pay, .n = n};
        }
        pos = pay + (size_t)n;
    }
    if (pos != end)
        return fail_at(r, GN_ERR_SECTION, pos,
                       "%zu bytes between the last of the %" PRIu32 " sections and the checksum",
                       end - pos, n_sections);
    if (sec[S_PARM].n == UINT64_MAX)
        return fail_at(r, GN_ERR_SECTION, end, "no PARM section: the file has no parameters");
    return GN_OK;
}

/* A known section's payload must have exactly the length its contents imply. */
static gn_status check_length(const reader *r, const section *s, const char *name, uint64_t want,
                              const char *what)
{
    if (s->n != want)
        return fail_at(r, GN_ERR_SECTION, s->at + 8,
                       "%s length %" PRIu64 " does not match %s (%" PRIu64 " bytes expected)", name,
                       s->n, what, want);
    return GN_OK;
}

/* PARM's count and length against the n parameters ARCH implies: checked before the network
 * is allocated, so that a small file cannot make the reader build a large network. */
static gn_status check_params(const reader *r, const section *s, size_t n)
{
    if (s->n < 8)
        return fail_at(r, GN_ERR_SECTION, s->at + 8,
                       "PARM length %" PRIu64 " is shorter than its 8-byte count", s->n);
    uint64_t count = get_u64(r->buf + s->pay);
    if (count != n)
        return fail_at(r, GN_ERR_VALUE, s->pay,
                       "PARM holds %" PRIu64 " parameters, the architecture has %zu", count, n);
    char what[64];
    gn__format(what, sizeof what, "its %zu parameters", n);
    return check_length(r, s, "PARM", 8 + 4 * (uint64_t)n, what);
}

/* Decodes and checks ARCH and PARM's size, then creates the network ARCH describes. */
static gn_status load_arch(const reader *r, const section *s, const section *parm, gn_net **out)
{
    const uint8_t *p = r->buf + s->pay;
    if (s->n < ARCH_FIXED)
        return fail_at(r, GN_ERR_SECTION, s->at + 8,
                       "ARCH length %" PRIu64 " is shorter than its %d fixed bytes", s->n,
                       ARCH_FIXED);
    uint32_t L = get_u32(p);
    if (L < 1 || L > MAX_LAYERS)
        return fail_at(r, GN_ERR_LIMIT, s->pay, "%" PRIu32 " layers: must be in [1, %d]", L,
                       MAX_LAYERS);
    uint64_t want = ARCH_FIXED + 8 * ((uint64_t)L + 1) + 4 * (uint64_t)L;
    char what[64];
    gn__format(what, sizeof what, "its %" PRIu32 " layers", L);
    gn_status st = check_length(r, s, "ARCH", want, what);
    if (st != GN_OK)
        return st;
    uint32_t loss = get_u32(p + 4);
    if (loss >= GN_LOSS_COUNT)
        return fail_at(r, GN_ERR_VALUE, s->pay + 4, "unknown loss %" PRIu32, loss);

    size_t sizes[MAX_LAYERS + 1];
    gn_act acts[MAX_LAYERS];
    size_t n_params = 0;
    for (uint32_t i = 0; i <= L; i++) {
        size_t at = s->pay + ARCH_FIXED + 8 * (size_t)i;
        uint64_t w = get_u64(r->buf + at);
        if (w < 1 || w > MAX_WIDTH)
            return fail_at(r, GN_ERR_LIMIT, at,
                           "layer size %" PRIu32 " = %" PRIu64 ": must be in [1, %" PRIu64 "]", i,
                           w, MAX_WIDTH);
        sizes[i] = (size_t)w;
        size_t nw;
        if (i > 0 && (!mul_ok(sizes[i], sizes[i - 1], &nw) || !add_ok(n_params, nw, &n_params) ||
                      !add_ok(n_params, sizes[i], &n_params) || n_params > MAX_PARAMS))
            return fail_at(r, GN_ERR_LIMIT, at,
                           "layer sizes up to size %" PRIu32 " imply more than %" PRIu64
                           " parameters",
                           i, MAX_PARAMS);
    }
    for (uint32_t l = 0; l < L; l++) {
        size_t at = s->pay + ARCH_FIXED + 8 * ((size_t)L + 1) + 4 * (size_t)l;
        uint32_t a = get_u32(r->buf + at);
        if (a >= GN_ACT_COUNT)
            return fail_at(r, GN_ERR_VALUE, at, "layer %" PRIu32 ": unknown activation %" PRIu32,
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
    gn_backend be; /* the environment's GN_BACKEND is not the file's fault */
    st = gn__backend_resolve(&be, why, sizeof why);
    if (st != GN_OK) {
        gn__format(r->err, r->errlen, "%s%s%s", r->name ? r->name : "", r->name ? ": " : "", why);
        return st;
    }
    if (gn_net_config_check(&cfg, why, sizeof why) != GN_OK)
        return fail_at(r, GN_ERR_VALUE, s->pay, "ARCH describes no valid network: %s", why);
    st = check_params(r, parm, n_params);
    if (st != GN_OK)
        return st;
    st = gn_net_create(out, &cfg);
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

/* Index of the first NaN or infinity in x[0..n) (n if none), and where it sits in the
 * parameter layout, for messages. */
static size_t first_nonfinite(const gn_net *net, const float *x, size_t n, char *where, size_t len)
{
    if (gn__all_finite(x, n))
        return n;
    size_t i = 0;
    while (!nonfinite(x[i]))
        i++;
    describe_param(net, i, where, len);
    return i;
}

/* Decodes n floats at offset at into dst; a non-finite one is an error naming it. what
 * describes the vector ("parameter", "best parameter", "optimizer state 1 entry"). */
static gn_status read_floats(const reader *r, const gn_net *net, size_t at, size_t n, float *dst,
                             const char *what)
{
    const uint8_t *p = r->buf + at;
    for (size_t i = 0; i < n; i++)
        dst[i] = get_f32(p + 4 * i);
    char where[96];
    size_t i = first_nonfinite(net, dst, n, where, sizeof where);
    if (i == n)
        return GN_OK;
    return fail_at(r, GN_ERR_NONFINITE, at + 4 * i, "%s %zu (%s) is %g", what, i, where,
                   (double)dst[i]);
}

static gn_status load_params(const reader *r, const section *s, gn_net *net)
{
    return read_floats(r, net, s->pay + 8, gn_net_n_params(net), net->params, "parameter");
}

/* One mean/std block of SCAL: n means then n standard deviations at offset at. */
static gn_status check_scaling(const reader *r, size_t at, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float m = get_f32(r->buf + at + 4 * i);
        if (!isfinite(m))
            return fail_at(r, GN_ERR_NONFINITE, at + 4 * i, "%s mean[%zu] = %g is not finite", what,
                           i, (double)m);
    }
    for (size_t i = 0; i < n; i++) {
        size_t o = at + 4 * (n + i);
        float sd = get_f32(r->buf + o);
        /* as gn_net_set_*_scaling: 1/std must be finite too */
        if (!isfinite(sd))
            return fail_at(r, GN_ERR_NONFINITE, o, "%s std[%zu] = %g is not finite", what, i,
                           (double)sd);
        if (!(sd > 0.0f) || !isfinite(1.0f / sd))
            return fail_at(r, GN_ERR_VALUE, o,
                           "%s std[%zu] = %g is not positive with a finite reciprocal", what, i,
                           (double)sd);
    }
    return GN_OK;
}

static gn_status load_scaling(const reader *r, const section *s, gn_net *net)
{
    size_t n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    if (s->n < 4)
        return fail_at(r, GN_ERR_SECTION, s->at + 8,
                       "SCAL length %" PRIu64 " is shorter than its 4-byte flags", s->n);
    uint32_t which = get_u32(r->buf + s->pay);
    if (which == 0 || (which & ~(SCALE_INPUT | SCALE_OUTPUT)))
        return fail_at(r, GN_ERR_VALUE, s->pay,
                       "SCAL flags 0x%08" PRIx32 ": must be 1 (inputs), 2 (outputs) or 3", which);
    uint64_t want = 4 + ((which & SCALE_INPUT) ? 8 * (uint64_t)n0 : 0) +
                    ((which & SCALE_OUTPUT) ? 8 * (uint64_t)nL : 0);
    char what[96];
    gn__format(what, sizeof what, "its flags and the %zu inputs and %zu outputs", n0, nL);
    gn_status st = check_length(r, s, "SCAL", want, what);
    if (st != GN_OK)
        return st;
    size_t at = s->pay + 4, in_at = at, out_at = at;
    if (which & SCALE_INPUT) {
        st = check_scaling(r, in_at, n0, "input");
        if (st != GN_OK)
            return st;
        out_at += 8 * n0;
    }
    if (which & SCALE_OUTPUT) {
        st = check_scaling(r, out_at, nL, "output");
        if (st != GN_OK)
            return st;
    }
    size_t nmax = n0 > nL ? n0 : nL;
    float *tmp = malloc(2 * nmax * sizeof *tmp); /* nmax ≤ 2^20: no overflow */
    if (!tmp)
        return fail_at(r, GN_ERR_NOMEM, s->pay, "out of memory decoding the scaling");
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
            st = fail_at(r, GN_ERR_VALUE, o, "%s scaling refused: %s",
                         part == 0 ? "input" : "output", gn_net_last_error(net));
    }
    free(tmp);
    return st;
}

/* RNGS: the four xoshiro256** state words (never all zero). */
static gn_status load_rng(const reader *r, const section *s, gn_net *net)
{
    gn_status st = check_length(r, s, "RNGS", RNGS_LEN, "the 4 state words");
    if (st != GN_OK)
        return st;
    gn_rng rng;
    uint64_t any = 0;
    for (int i = 0; i < 4; i++)
        any |= rng.s[i] = get_u64(r->buf + s->pay + 8 * (size_t)i);
    if (any == 0)
        return fail_at(r, GN_ERR_VALUE, s->pay,
                       "RNG state is all zero (xoshiro256** needs a "
                       "non-zero state)");
    net->rng = rng;
    return GN_OK;
}

/* OPTM: configuration, current lr, step count and state vectors. */
static gn_status load_optimizer(const reader *r, const section *s, gn_net *net, gn_optimizer **out)
{
    const uint8_t *p = r->buf + s->pay;
    if (s->n < OPTM_FIXED)
        return fail_at(r, GN_ERR_SECTION, s->at + 8,
                       "OPTM length %" PRIu64 " is shorter than its %d fixed bytes", s->n,
                       OPTM_FIXED);
    uint32_t kind = get_u32(p);
    if (kind >= GN_OPT_COUNT)
        return fail_at(r, GN_ERR_VALUE, s->pay, "unknown optimizer %" PRIu32, kind);
    uint64_t count = get_u64(p + 52);
    size_t n = gn_net_n_params(net);
    if (count != n)
        return fail_at(r, GN_ERR_VALUE, s->pay + 52,
                       "the optimizer is for %" PRIu64 " parameters, the architecture has %zu",
                       count, n);
    uint32_t k = get_u32(p + 60);
    int want_k = gn__optimizer_vectors((gn_opt)kind);
    if (k != (uint32_t)want_k)
        return fail_at(r, GN_ERR_VALUE, s->pay + 60,
                       "%" PRIu32 " state vectors; this optimizer kind has %d", k, want_k);
    char what[64];
    gn__format(what, sizeof what, "%" PRIu32 " state vectors of %zu", k, n);
    gn_status st = check_length(r, s, "OPTM", OPTM_FIXED + 4 * (uint64_t)k * n, what);
    if (st != GN_OK)
        return st;
    gn_optimizer_config cfg = {.kind = (gn_opt)kind};
    float *fields[9] = {&cfg.lr,  &cfg.momentum,     &cfg.rho, &cfg.beta1,    &cfg.beta2,
                        &cfg.eps, &cfg.weight_decay, &cfg.l2,  &cfg.clip_norm};
    for (int i = 0; i < 9; i++)
        *fields[i] = get_f32(p + 4 + 4 * (size_t)i);
    float lr = get_f32(p + 40);
    if (!isfinite(lr) || !(lr > 0.0f))
        return fail_at(r, GN_ERR_VALUE, s->pay + 40,
                       "current learning rate %g is not finite and positive", (double)lr);
    char why[200];
    gn_optimizer *opt = NULL;
    st = gn_optimizer_create(&opt, net, &cfg, why, sizeof why);
    if (st == GN_ERR_NOMEM)
        return fail_at(r, st, s->pay, "%s", why);
    if (st != GN_OK)
        return fail_at(r, GN_ERR_VALUE, s->pay + 4, "invalid optimizer configuration: %s", why);
    opt->lr = lr;
    opt->t = get_u64(p + 44);
    float *vec[2] = {opt->s1, opt->s2};
    for (uint32_t v = 0; v < k && st == GN_OK; v++) {
        size_t at = s->pay + OPTM_FIXED + 4 * (size_t)v * n;
        gn__format(what, sizeof what, "optimizer state %" PRIu32 " entry", v + 1);
        st = read_floats(r, net, at, n, vec[v], what);
        /* RMSprop's mean square and Adam's second moment are sums of squares */
        bool squares = (kind == GN_OPT_RMSPROP && v == 0) || v == 1;
        for (size_t i = 0; squares && st == GN_OK && i < n; i++)
            if (vec[v][i] < 0.0f)
                st = fail_at(r, GN_ERR_VALUE, at + 4 * i,
                             "%s %zu = %g: a mean square cannot be "
                             "negative",
                             what, i, (double)vec[v][i]);
    }
    if (st != GN_OK) {
        gn_optimizer_free(opt);
        return st;
    }
    *out = opt;
    return GN_OK;
}

/* PROG: epochs done, the best epoch and loss, optionally the best parameters. */
static gn_status load_progress(const reader *r, const section *s, gn_checkpoint *ck)
{
    const uint8_t *p = r->buf + s->pay;
    if (s->n < PROG_FIXED)
        return fail_at(r, GN_ERR_SECTION, s->at + 8,
                       "PROG length %" PRIu64 " is shorter than its %d fixed bytes", s->n,
                       PROG_FIXED);
    uint64_t done = get_u64(p), best = get_u64(p + 8), bits = get_u64(p + 16);
    uint32_t flags = get_u32(p + 24);
    double loss;
    memcpy(&loss, &bits, sizeof loss);
    if (done > MAX_EPOCHS)
        return fail_at(r, GN_ERR_LIMIT, s->pay, "%" PRIu64 " epochs done: more than %" PRIu64, done,
                       (uint64_t)MAX_EPOCHS);
    if (best > done)
        return fail_at(r, GN_ERR_VALUE, s->pay + 8,
                       "best epoch %" PRIu64 " is after the %" PRIu64 " epochs done", best, done);
    if (best > 0 && !isfinite(loss))
        return fail_at(r, GN_ERR_NONFINITE, s->pay + 16, "best validation loss %g is not finite",
                       loss);
    if (best == 0 && !isnan(loss))
        return fail_at(r, GN_ERR_VALUE, s->pay + 16,
                       "best validation loss %g without a best epoch (must be NaN)", loss);
    if ((flags & ~PROG_BEST) || ((flags & PROG_BEST) && best == 0))
        return fail_at(r, GN_ERR_VALUE, s->pay + 24,
                       "PROG flags 0x%08" PRIx32 ": bit 0 (best parameters) only, and only with "
                       "a best epoch",
                       flags);
    size_t n = gn_net_n_params(ck->net);
    uint64_t want = PROG_FIXED + ((flags & PROG_BEST) ? 4 * (uint64_t)n : 0);
    gn_status st = check_length(r, s, "PROG", want, "its flags and the parameter count");
    if (st != GN_OK)
        return st;
    if (flags & PROG_BEST) {
        ck->best = gn__alloc_floats(n);
        if (!ck->best)
            return fail_at(r, GN_ERR_NOMEM, s->pay, "out of memory for %zu best parameters", n);
        st = read_floats(r, ck->net, s->pay + PROG_FIXED, n, ck->best, "best parameter");
        if (st != GN_OK)
            return st;
    }
    ck->has_progress = true;
    ck->progress = (gn_fit_progress){(size_t)done, (size_t)best, loss, ck->best};
    return GN_OK;
}

/* Provenance text: "key=value\n" lines, UTF-8, no NUL. Returns NULL if valid, else what is
 * wrong and *bad the offset within text. */
static const char *check_meta(const char *text, size_t n, size_t *bad)
{
    size_t line = 0;
    bool key = true, eq = false;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)text[i];
        *bad = i;
        if (c == 0)
            return "a NUL byte";
        if (c == '\n') {
            if (!eq)
                return i == line ? "an empty line" : "a line without '='";
            line = ++i;
            key = true, eq = false;
            continue;
        }
        if (c == '=' && key) {
            if (i == line)
                return "an empty key";
            key = false, eq = true;
        }
        /* UTF-8: a lead byte and its continuation bytes, no overlong forms or surrogates */
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        if (len == 0 || n - i < len)
            return "invalid UTF-8";
        uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
        for (size_t j = 1; j < len; j++) {
            unsigned char d = (unsigned char)text[i + j];
            if ((d & 0xc0) != 0x80)
                return "invalid UTF-8";
            cp = cp << 6 | (d & 0x3fu);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return "invalid UTF-8";
        i += len;
    }
    if (n > 0 && text[n - 1] != '\n') {
        *bad = n;
        return "no newline at the end";
    }
    return NULL;
}

static gn_status load_meta(const reader *r, const section *s, gn_checkpoint *ck)
{
    if (s->n > MAX_META)
        return fail_at(r, GN_ERR_LIMIT, s->at + 8,
                       "PROV length %" PRIu64 ": more than the %d bytes of provenance allowed",
                       s->n, MAX_META);
    const char *text = (const char *)(r->buf + s->pay);
    size_t bad = 0;
    const char *why = check_meta(text, (size_t)s->n, &bad);
    if (why)
        return fail_at(r, GN_ERR_VALUE, s->pay + bad, "provenance text: %s", why);
    free(ck->meta);
    ck->meta = malloc((size_t)s->n + 1);
    if (!ck->meta)
        return fail_at(r, GN_ERR_NOMEM, s->pay, "out of memory for the provenance text");
    memcpy(ck->meta, text, (size_t)s->n);
    ck->meta[s->n] = '\0';
    return GN_OK;
}

void gn_checkpoint_free(gn_checkpoint *ck)
{
    if (!ck)
        return;
    gn_net_free(ck->net);
    gn_optimizer_free(ck->opt);
    gn__free(ck->best);
    free(ck->meta);
    free(ck);
}

static gn_status parse(const reader *r, gn_checkpoint **out)
{
    if (r->len > MAX_FILE)
        return fail_at(r, GN_ERR_LIMIT, 0,
                       "%zu bytes: larger than the largest model file this reader accepts (%zu)",
                       r->len, MAX_FILE);
    gn_checkpoint_info info = {.format_version = FORMAT_VERSION, .file_bytes = r->len};
    size_t first = 0;
    gn_status st = check_header(r, &first, &info.n_sections);
    if (st == GN_OK)
        st = check_crc(r, &info.crc);
    section sec[S_COUNT];
    if (st == GN_OK)
        st = frame_sections(r, first, info.n_sections, sec, &info.n_skipped);
    if (st != GN_OK)
        return st;
    gn_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck)
        return fail_at(r, GN_ERR_NOMEM, 0, "out of memory");
    st = load_arch(r, &sec[S_ARCH], &sec[S_PARM], &ck->net);
    if (st == GN_OK)
        st = load_params(r, &sec[S_PARM], ck->net);
    if (st == GN_OK && sec[S_SCAL].n != UINT64_MAX)
        st = load_scaling(r, &sec[S_SCAL], ck->net);
    /* gn_net_create drew the initial parameters from seed 1 before they were replaced; start
     * the shuffling stream at seed 1 itself, independent of the architecture, unless the file
     * carries the state to continue from. */
    if (st == GN_OK)
        gn_rng_seed(&ck->net->rng, 1);
    if (st == GN_OK && sec[S_RNGS].n != UINT64_MAX)
        st = load_rng(r, &sec[S_RNGS], ck->net);
    if (st == GN_OK && sec[S_OPTM].n != UINT64_MAX)
        st = load_optimizer(r, &sec[S_OPTM], ck->net, &ck->opt);
    if (st == GN_OK && sec[S_PROG].n != UINT64_MAX)
        st = load_progress(r, &sec[S_PROG], ck);
    if (st == GN_OK && sec[S_PROV].n != UINT64_MAX)
        st = load_meta(r, &sec[S_PROV], ck);
    if (st == GN_OK && !ck->meta && !(ck->meta = calloc(1, 1)))
        st = fail_at(r, GN_ERR_NOMEM, 0, "out of memory");
    if (st != GN_OK) {
        gn_checkpoint_free(ck);
        return st;
    }
    info.has_scaling = sec[S_SCAL].n != UINT64_MAX;
    info.has_optimizer = ck->opt != NULL;
    info.has_rng = sec[S_RNGS].n != UINT64_MAX;
    info.has_progress = ck->has_progress;
    info.has_meta = sec[S_PROV].n != UINT64_MAX;
    ck->info = info;
    *out = ck;
    return GN_OK;
}

/* Clears err and checks out; NULL status if fine. */
static gn_status start_load(const char *fn, void *out, const void *src, const char *src_name,
                            char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !src) {
        gn__format(err, errlen, "%s: %s is NULL", fn, !out ? "out" : src_name);
        return GN_ERR_NULL;
    }
    return GN_OK;
}

gn_status gn_checkpoint_load_buffer(gn_checkpoint **out, const void *buf, size_t len, char *err,
                                    size_t errlen)
{
    if (out)
        *out = NULL;
    gn_status st = start_load("gn_checkpoint_load_buffer", out, buf, "buf", err, errlen);
    if (st != GN_OK)
        return st;
    reader r = {.buf = buf, .len = len, .err = err, .errlen = errlen};
    return parse(&r, out);
}

/* A plain model: the network taken from a checkpoint, the rest dropped. */
static gn_status net_only(gn_status st, gn_checkpoint *ck, gn_net **out)
{
    if (st == GN_OK) {
        *out = gn_checkpoint_take_net(ck);
        gn_checkpoint_free(ck);
    }
    return st;
}

gn_status gn_net_load_buffer(gn_net **out, const void *buf, size_t len, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    gn_status st = start_load("gn_net_load_buffer", out, buf, "buf", err, errlen);
    if (st != GN_OK)
        return st;
    gn_checkpoint *ck = NULL;
    reader r = {.buf = buf, .len = len, .err = err, .errlen = errlen};
    st = parse(&r, &ck);
    return net_only(st, ck, out);
}

const gn_net *gn_checkpoint_net(const gn_checkpoint *ck) { return ck ? ck->net : NULL; }

gn_net *gn_checkpoint_take_net(gn_checkpoint *ck)
{
    if (!ck)
        return NULL;
    gn_net *net = ck->net;
    ck->net = NULL;
    return net;
}

gn_optimizer *gn_checkpoint_take_optimizer(gn_checkpoint *ck)
{
    if (!ck)
        return NULL;
    gn_optimizer *opt = ck->opt;
    ck->opt = NULL;
    return opt;
}

int gn_checkpoint_progress(const gn_checkpoint *ck, gn_fit_progress *out)
{
    if (!ck || !out || !ck->has_progress)
        return 0;
    *out = ck->progress;
    return 1;
}

const char *gn_checkpoint_meta(const gn_checkpoint *ck) { return ck && ck->meta ? ck->meta : ""; }

long gn_checkpoint_meta_get(const gn_checkpoint *ck, const char *key, char *buf, size_t len)
{
    if (!ck || !key || !ck->meta)
        return -1;
    size_t k = strlen(key);
    /* the last line with this key wins, so a caller's meta can override a default */
    const char *found = NULL, *end = NULL;
    for (const char *line = ck->meta; *line;) {
        const char *nl = strchr(line, '\n'); /* every line ends in one (check_meta) */
        if ((size_t)(nl - line) > k && strncmp(line, key, k) == 0 && line[k] == '=')
            found = line + k + 1, end = nl;
        line = nl + 1;
    }
    if (!found)
        return -1;
    size_t n = (size_t)(end - found);
    if (buf && len) {
        size_t c = n < len - 1 ? n : len - 1;
        memcpy(buf, found, c);
        buf[c] = '\0';
    }
    return n > LONG_MAX ? LONG_MAX : (long)n;
}

gn_status gn_checkpoint_get_info(const gn_checkpoint *ck, gn_checkpoint_info *info)
{
    if (!ck || !info)
        return GN_ERR_NULL;
    *info = ck->info;
    return GN_OK;
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
            return GN_ERR_LIMIT;
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
                return GN_ERR_LIMIT;
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

/* Reads path whole and parses it. */
static gn_status load_file(const char *fn, const char *path, gn_checkpoint **out, char *err,
                           size_t errlen)
{
    gn_status st = start_load(fn, out, path, "path", err, errlen);
    if (st != GN_OK)
        return st;
    char why[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        gn__format(err, errlen, "%s: cannot open: %s", path, errno_text(errno, why, sizeof why));
        return GN_ERR_IO;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    st = read_all(fd, path, &data, &len, err, errlen);
    /* Read-only: a failing close loses nothing, the bytes are already in memory. */
    close(fd);
    if (st != GN_OK)
        return st;
    reader r = {.buf = data, .len = len, .name = path, .err = err, .errlen = errlen};
    st = parse(&r, out);
    free(data);
    return st;
}

gn_status gn_checkpoint_load(gn_checkpoint **out, const char *path, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    return load_file("gn_checkpoint_load", path, out, err, errlen);
}

gn_status gn_net_load(gn_net **out, const char *path, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    gn_checkpoint *ck = NULL;
    gn_status st = load_file("gn_net_load", path, out ? &ck : NULL, err, errlen);
    return net_only(st, ck, out);
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

/* Hands the buffer to the file. After a failed write the rest is encoded and dropped (the
 * buffer is still emptied, so encoding never runs past it). */
static void w_flush(writer *w)
{
    if (w->n > 0 && !w->error) {
        w->crc = crc_update(w->crc, w->buf, w->n);
        w->total += w->n;
        write_all(w->fd, w->buf, w->n, &w->error);
    }
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

static void w_section(writer *w, uint32_t tag, uint32_t flags, uint64_t n)
{
    w_u32(w, tag);
    w_u32(w, flags);
    w_u64(w, n);
}

static void w_floats(writer *w, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w_f32(w, x[i]);
}

/* What goes into a file beyond the model itself, and every section's payload length
 * (0 = section absent). */
typedef struct extras {
    const gn_optimizer *opt;
    const gn_fit_progress *prog;
    const char *meta; /* caller's provenance lines, or NULL */
    bool checkpoint;  /* RNGS and PROV too */
} extras;

typedef struct layout {
    uint64_t len[S_COUNT];
    uint32_t n_sections;
    uint64_t file_len;
} layout;

static const char VERSION_LINE[] = "gemmnet_version=" GN_VERSION_STRING "\n";

static layout plan(const gn_net *net, const extras *x)
{
    size_t L = net->n_layers, n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    uint64_t P = net->n_params;
    const float *in_mean, *in_std, *out_mean, *out_std;
    gn_net_input_scaling(net, &in_mean, &in_std);
    gn_net_output_scaling(net, &out_mean, &out_std);
    layout l = {{0}, 0, 0};
    l.len[S_ARCH] = ARCH_FIXED + 8 * ((uint64_t)L + 1) + 4 * (uint64_t)L;
    if (in_mean || out_mean)
        l.len[S_SCAL] = 4 + (in_mean ? 8 * (uint64_t)n0 : 0) + (out_mean ? 8 * (uint64_t)nL : 0);
    l.len[S_PARM] = 8 + 4 * P;
    if (x->opt)
        l.len[S_OPTM] = OPTM_FIXED + 4 * (uint64_t)gn__optimizer_vectors(x->opt->cfg.kind) * P;
    if (x->checkpoint)
        l.len[S_RNGS] = RNGS_LEN;
    if (x->prog)
        l.len[S_PROG] = PROG_FIXED + (x->prog->best_params ? 4 * P : 0);
    if (x->checkpoint)
        l.len[S_PROV] = strlen(VERSION_LINE) + (x->meta ? strlen(x->meta) : 0);
    l.file_len = HEADER_LEN + CRC_LEN;
    for (int k = 0; k < S_COUNT; k++)
        if (l.len[k]) {
            l.n_sections++;
            l.file_len += SECTION_HEAD + l.len[k];
        }
    return l;
}

/* Writes the whole file to w; its length must come out as l->file_len. */
static void encode(writer *w, const gn_net *net, const extras *x, const layout *l)
{
    size_t L = net->n_layers, n0 = gn_net_n_inputs(net), nL = gn_net_n_outputs(net);
    size_t P = net->n_params;
    const float *in_mean, *in_std, *out_mean, *out_std;
    gn_net_input_scaling(net, &in_mean, &in_std);
    gn_net_output_scaling(net, &out_mean, &out_std);

    memcpy(w_room(w, 8), MAGIC, 8);
    w_u32(w, FORMAT_VERSION);
    w_u32(w, 0); /* header flags */
    w_u32(w, HEADER_LEN);
    w_u32(w, l->n_sections);
    w_u64(w, l->file_len);

    w_section(w, TAG_ARCH, KNOWN_FLAGS[S_ARCH], l->len[S_ARCH]);
    w_u32(w, (uint32_t)L);
    w_u32(w, (uint32_t)net->loss);
    w_f32(w, net->leaky_slope);
    w_f32(w, net->huber_delta);
    for (size_t i = 0; i <= L; i++)
        w_u64(w, gn_net_layer_size(net, i));
    for (size_t i = 1; i <= L; i++)
        w_u32(w, (uint32_t)gn_net_layer_act(net, i));

    if (l->len[S_SCAL]) {
        w_section(w, TAG_SCAL, KNOWN_FLAGS[S_SCAL], l->len[S_SCAL]);
        w_u32(w, (in_mean ? SCALE_INPUT : 0) | (out_mean ? SCALE_OUTPUT : 0));
        if (in_mean) {
            w_floats(w, in_mean, n0);
            w_floats(w, in_std, n0);
        }
        if (out_mean) {
            w_floats(w, out_mean, nL);
            w_floats(w, out_std, nL);
        }
    }

    w_section(w, TAG_PARM, KNOWN_FLAGS[S_PARM], l->len[S_PARM]);
    w_u64(w, P);
    w_floats(w, net->params, P);

    if (l->len[S_OPTM]) {
        const gn_optimizer *o = x->opt;
        const gn_optimizer_config *c = &o->cfg;
        int k = gn__optimizer_vectors(c->kind);
        w_section(w, TAG_OPTM, KNOWN_FLAGS[S_OPTM], l->len[S_OPTM]);
        w_u32(w, (uint32_t)c->kind);
        const float fields[9] = {c->lr,  c->momentum,     c->rho, c->beta1,    c->beta2,
                                 c->eps, c->weight_decay, c->l2,  c->clip_norm};
        w_floats(w, fields, 9);
        w_f32(w, o->lr);
        w_u64(w, o->t);
        w_u64(w, P);
        w_u32(w, (uint32_t)k);
        if (k >= 1)
            w_floats(w, o->s1, P);
        if (k == 2)
            w_floats(w, o->s2, P);
    }
    if (l->len[S_RNGS]) {
        w_section(w, TAG_RNGS, KNOWN_FLAGS[S_RNGS], RNGS_LEN);
        for (int i = 0; i < 4; i++)
            w_u64(w, net->rng.s[i]);
    }
    if (l->len[S_PROG]) {
        const gn_fit_progress *p = x->prog;
        double loss = p->best_epoch ? p->best_val_loss : NAN;
        uint64_t bits;
        memcpy(&bits, &loss, sizeof bits);
        w_section(w, TAG_PROG, KNOWN_FLAGS[S_PROG], l->len[S_PROG]);
        w_u64(w, p->epochs_done);
        w_u64(w, p->best_epoch);
        w_u64(w, bits);
        w_u32(w, p->best_params ? PROG_BEST : 0);
        if (p->best_params)
            w_floats(w, p->best_params, P);
    }
    if (l->len[S_PROV]) {
        w_section(w, TAG_PROV, KNOWN_FLAGS[S_PROV], l->len[S_PROV]);
        const char *parts[2] = {VERSION_LINE, x->meta ? x->meta : ""};
        for (int i = 0; i < 2; i++)
            for (const char *c = parts[i]; *c; c++)
                *w_room(w, 1) = (uint8_t)*c;
    }

    w_flush(w);
    if (!w->error) {
        uint8_t crc[CRC_LEN];
        set_u32(crc, w->crc);
        if (write_all(w->fd, crc, CRC_LEN, &w->error))
            w->total += CRC_LEN;
    }
    assert(w->error || w->total == l->file_len);
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
 * directory. Allocates nothing, so that it cannot fail for lack of memory after the save has
 * in fact succeeded. */
static void sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!slash)
        memcpy(dir, ".", 2);
    else if (n == 0)
        memcpy(dir, "/", 2);
    else if (n < sizeof dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else
        return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The first non-finite value of x[0..n) as "what i (where) is v" in err; false if none. */
static bool report_nonfinite(const gn_net *net, const float *x, size_t n, const char *path,
                             const char *what, char *err, size_t errlen)
{
    char where[96];
    size_t i = first_nonfinite(net, x, n, where, sizeof where);
    if (i == n)
        return false;
    gn__format(err, errlen, "%s: %s %zu (%s) is %g; nothing was written", path, what, i, where,
               (double)x[i]);
    return true;
}

bool gn__progress_consistent(const gn_fit_progress *p)
{
    return p->best_epoch <= p->epochs_done && p->epochs_done <= MAX_EPOCHS &&
           (p->best_epoch == 0 || isfinite(p->best_val_loss)) &&
           (!p->best_params || p->best_epoch > 0);
}

/* Everything the reader would refuse, refused before any file is created. */
static gn_status check_saveable(const gn_net *net, const extras *x, const char *path, char *err,
                                size_t errlen)
{
    size_t L = net->n_layers, P = net->n_params;
    if (L > MAX_LAYERS || P > MAX_PARAMS) {
        gn__format(err, errlen,
                   "%s: the network (%zu layers, %zu parameters) exceeds the model file's "
                   "limits (%d layers, %" PRIu64 " parameters)",
                   path, L, P, MAX_LAYERS, MAX_PARAMS);
        return GN_ERR_UNSUPPORTED;
    }
    for (size_t l = 0; l <= L; l++)
        if (gn_net_layer_size(net, l) > MAX_WIDTH) {
            gn__format(err, errlen,
                       "%s: layer size %zu = %zu exceeds the model file's limit of %" PRIu64, path,
                       l, gn_net_layer_size(net, l), MAX_WIDTH);
            return GN_ERR_UNSUPPORTED;
        }
    if (report_nonfinite(net, net->params, P, path, "parameter", err, errlen))
        return GN_ERR_NONFINITE;
    const gn_optimizer *o = x->opt;
    if (o && o->n_params != P) {
        gn__format(err, errlen, "%s: the optimizer is for %zu parameters, the network has %zu",
                   path, o->n_params, P);
        return GN_ERR_DIM;
    }
    int k = o ? gn__optimizer_vectors(o->cfg.kind) : 0;
    if ((k >= 1 && report_nonfinite(net, o->s1, P, path, "optimizer state 1 entry", err, errlen)) ||
        (k == 2 && report_nonfinite(net, o->s2, P, path, "optimizer state 2 entry", err, errlen)))
        return GN_ERR_NONFINITE;
    const gn_fit_progress *p = x->prog;
    if (p && !gn__progress_consistent(p)) {
        gn__format(err, errlen,
                   "%s: progress of %zu epochs with best epoch %zu (loss %g%s) is inconsistent",
                   path, p->epochs_done, p->best_epoch, p->best_val_loss,
                   p->best_params ? ", with best parameters" : "");
        return GN_ERR_ARG;
    }
    if (p && p->best_params &&
        report_nonfinite(net, p->best_params, P, path, "best parameter", err, errlen))
        return GN_ERR_NONFINITE;
    if (x->meta) {
        size_t n = strlen(x->meta), bad = 0;
        const char *why = n > MAX_USER_META ? "longer than 64 KiB" : NULL;
        if (!why)
            why = check_meta(x->meta, n, &bad);
        if (why) {
            gn__format(err, errlen, "%s: provenance text: %s (at byte %zu)", path, why, bad);
            return GN_ERR_ARG;
        }
    }
    return GN_OK;
}

static gn_status save_file(const gn_net *net, const extras *x, const char *path, char *err,
                           size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!net || !path) {
        gn__format(err, errlen, "%s: %s is NULL",
                   x->checkpoint ? "gn_checkpoint_save" : "gn_net_save", !net ? "net" : "path");
        return GN_ERR_NULL;
    }
    gn_status st = check_saveable(net, x, path, err, errlen);
    if (st != GN_OK)
        return st;
    layout l = plan(net, x);

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
    encode(w, net, x, &l);

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

gn_status gn_net_save(const gn_net *net, const char *path, char *err, size_t errlen)
{
    extras x = {NULL, NULL, NULL, false};
    return save_file(net, &x, path, err, errlen);
}

gn_status gn_checkpoint_save(const gn_net *net, const gn_optimizer *opt,
                             const gn_fit_progress *progress, const char *meta, const char *path,
                             char *err, size_t errlen)
{
    extras x = {opt, progress, meta, true};
    return save_file(net, &x, path, err, errlen);
}
