/* gemmnet export-c: a saved model as one dependency-free C source file (weights as static
 * arrays, a forward pass in plain loops), for codes that must not link BLAS or gemmnet.
 * Part of the command-line tool, not of the library. */
#ifndef GN_TOOLS_EXPORT_C_H
#define GN_TOOLS_EXPORT_C_H

#include <gemmnet.h>

#include <stddef.h>
#include <stdio.h>

/** Longest prefix accepted (characters), for --prefix and for one derived from a file name. */
#define EXPORT_C_MAX_PREFIX 64

/* Prints "gemmnet: <message>\n" to stderr (defined in gemmnet.c, shared by the commands). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void errmsg(const char *fmt, ...);

/** The help text of `gemmnet export-c`, NULL-terminated (for `gemmnet help` and --help). */
extern const char *const export_c_text[];

/** Runs `gemmnet export-c` on the words after the command name. Prints results to stdout or
 *  the -o file and messages to stderr ("gemmnet: ..."). Returns the exit status: 0, 1 (the
 *  model cannot be read, the output cannot be written), 2 (usage error: unknown option,
 *  missing or extra MODEL, a --prefix that is not a usable C identifier). */
int cmd_export_c(int argc, char **argv);

/** 1 if prefix can start the generated names (PREFIX_predict, PREFIX_N_INPUTS, ...): ASCII
 *  letters, digits and '_', a letter first, no "__" and no '_' last (both would make names
 *  C++ reserves), at most EXPORT_C_MAX_PREFIX characters. Otherwise 0 and a reason in why
 *  (len bytes, always terminated when len > 0). */
int export_c_prefix_ok(const char *prefix, char *why, size_t len);

/** The default prefix for a model path: the file name without directory and extension,
 *  every run of characters other than ASCII letters and digits turned into one '_', leading
 *  and trailing '_' dropped, "model_" put in front of a leading digit, "model" if nothing is
 *  left (and for "-", standard input); cut to EXPORT_C_MAX_PREFIX characters. The result
 *  always satisfies export_c_prefix_ok. buf must hold EXPORT_C_MAX_PREFIX + 1 bytes. */
void export_c_default_prefix(const char *path, char buf[EXPORT_C_MAX_PREFIX + 1]);

/** Writes the C source of net's inference to f: a comment header (source, gemmnet version,
 *  architecture, how to call it, the prototypes), the sizes as PREFIX_N_* macros (prefix in
 *  capitals), every parameter and scaling value as a static const float array of exact C99
 *  hex-float literals, and PREFIX_predict / PREFIX_predict_batch. source is the model's name
 *  for the header comment (characters other than plain printable ASCII are shown as '_').
 *  prefix must satisfy export_c_prefix_ok. Only writes to f: f is not flushed or closed.
 *  Returns 0, or -1 when f reports a write error (ferror). net is only read. */
int export_c_write(FILE *f, gn_net *net, const char *prefix, const char *source);

#endif
