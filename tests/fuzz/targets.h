/* The fuzz targets' bodies, shared by the libFuzzer mains (main.c, one binary per target) and
 * by the replay test (tests/test_fuzz_replay.c), which feeds them the seed corpus and every
 * saved regression input in the normal test suite.
 *
 * Each function takes one input of any length and returns 0. A target checks the library's
 * promises on that input and calls abort() (after a message on stderr) when one is broken;
 * crashes, leaks and undefined behaviour are left to the sanitizers. */
#ifndef GN_FUZZ_TARGETS_H
#define GN_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* gn_net_load_buffer and gn_checkpoint_load_buffer on the input as is, and again with its
 * file length and CRC-32 patched to match (so mutations reach the section parsers instead of
 * dying at the checksum); the two readers must agree. A model that loads is saved, reloaded
 * and compared: architecture, scaling and parameters bit for bit, a second save byte for
 * byte, and a file in gn_net_save's own layout is written back unchanged. */
int gn_fuzz_model(const uint8_t *data, size_t size);

/* gn_dataset_load_idx. data[0] chooses: bit 0 images + labels (split at the u16 in data[1..2],
 * modulo the rest) or images only; bits 1 and 2 gzip the images or labels part before writing
 * it; bits 4–7 pick n_classes (0 = from the labels, else 1, 2, 10, 255, 256, 257, …). A
 * dataset that loads is checked against the bytes it came from. */
int gn_fuzz_idx(const uint8_t *data, size_t size);

/* gn_dataset_load_csv. data[0] chooses header (auto, no, yes), regression and delimiter,
 * data[1] the label column (−1 = last, 0…); the rest is the file. A dataset that loads is
 * checked for shape and finiteness. */
int gn_fuzz_csv(const uint8_t *data, size_t size);

/* Builds a small network (≤ 4 layers, widths ≤ 16, any activation and loss the library
 * accepts, leaky slope and Huber δ from raw input bits) with parameters and optional input
 * and output scaling taken from the input, then save → load → compare bit for bit. A
 * non-finite parameter must make the save fail with GN_ERR_NONFINITE and write no file.
 * data[0] bit 6 adds a checkpoint (optimizer after one step, progress, provenance) that must
 * load back identical and save back to the same bytes. */
int gn_fuzz_roundtrip(const uint8_t *data, size_t size);

/* gn_dataset_load_npy. data[0] chooses: bit 0 loads the file as its own targets too, bit 1
 * regression, bits 4–7 n_classes (0, 1, 2, 3, 10, 256, 65536, 65537, then 0); the rest is the
 * file. A dataset that loads is checked: finite features, at least a byte per element, the
 * bytes themselves for numpy's C-order float32 header, targets equal to the features (zeros
 * without targets, one-hot at the label for labels). */
int gn_fuzz_npy(const uint8_t *data, size_t size);

#endif
