/* Replays the fuzzers' seed corpus (tests/fuzz/corpus/<target>/) and every input that once
 * broke the library (tests/fuzz/regressions/<target>/) through the fuzz targets' own bodies
 * (tests/fuzz/targets.c), so the normal suite keeps them fixed without clang or libFuzzer.
 * A target aborts on a broken promise, which Criterion reports as a crash. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz/targets.h"
#include "gemmnet.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef int (*target_fn)(const uint8_t *, size_t);

/* Feeds every file in tests/fuzz/<kind>/<target>/ to fn; returns how many there were. With
 * must_load (model seeds), each must also load as a model: the seeds are written from
 * docs/format.md, so this checks the document against the reader. */
static size_t replay(const char *kind, const char *target, target_fn fn, bool must_load)
{
    const char *root = getenv("GEMMNET_TEST_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz/%s/%s", root ? root : "tests", kind, target);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* no regressions for this target (yet) */
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *buf = (char *)read_whole_file(path, &len);
        fprintf(stderr, "replay %s/%s/%s (%zu bytes)\n", kind, target, e->d_name, len);
        fn((const uint8_t *)buf, len);
        if (must_load) {
            char err[256];
            gn_net *net = NULL;
            gn_status st = gn_net_load_buffer(&net, buf, len, err, sizeof err);
            cr_expect_eq(st, GN_OK, "seed %s does not load: %s", e->d_name, err);
            gn_net_free(net);
        }
        free(buf);
        count++;
    }
    closedir(d);
    return count;
}

static void replay_target(const char *target, target_fn fn)
{
    size_t seeds = replay("corpus", target, fn, strcmp(target, "model") == 0);
    cr_assert_gt(seeds, 0, "no seed corpus for %s (GEMMNET_TEST_DIR unset?)", target);
    replay("regressions", target, fn, false);
}

Test(fuzz_replay, model, .timeout = 60) { replay_target("model", gn_fuzz_model); }
Test(fuzz_replay, idx, .timeout = 60) { replay_target("idx", gn_fuzz_idx); }
Test(fuzz_replay, csv, .timeout = 60) { replay_target("csv", gn_fuzz_csv); }
Test(fuzz_replay, roundtrip, .timeout = 60) { replay_target("roundtrip", gn_fuzz_roundtrip); }
Test(fuzz_replay, npy, .timeout = 60) { replay_target("npy", gn_fuzz_npy); }
