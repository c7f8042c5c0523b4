/* Temporary files for the tests that write data files: they live in a fresh directory under
 * /tmp made by the suite's init and removed by its fini. Criterion runs each test in its own
 * process, so this state is per test. Register every file made in tmp_files[] so it is
 * removed. */
#ifndef GN_TMPFILES_H
#define GN_TMPFILES_H

/* needs _POSIX_C_SOURCE 200809L (mkdtemp) before the first include */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_FILES = 32 };
static char tmp_dir[64];
static char tmp_files[MAX_FILES][128];
static size_t n_tmp_files;

static inline void make_tmp_dir(void)
{
    strcpy(tmp_dir, "/tmp/gemmnet-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp failed");
}

static inline void remove_tmp_dir(void)
{
    for (size_t i = 0; i < n_tmp_files; i++)
        unlink(tmp_files[i]);
    if (tmp_dir[0])
        rmdir(tmp_dir);
}

#endif
