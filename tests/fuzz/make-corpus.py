#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus to tests/fuzz/corpus/<target>/ (run it again after changing
a harness's input layout; the output is deterministic). The model files are built from
docs/format.md with Python's struct and zlib, independently of the library, so the corpus
also checks that the document and the reader agree. Input layouts: tests/fuzz/targets.h."""
import gzip
import os
import random
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = b"\x89GNN\r\n\x1a\n"


def section(tag, payload, flags=1):
    return tag + struct.pack("<IQ", flags, len(payload)) + payload


def gnn(sections, header_extra=b""):
    """A model file: header (32 bytes + header_extra), the sections, the CRC-32."""
    header_len = 32 + len(header_extra)
    body = b"".join(sections)
    file_len = header_len + len(body) + 4
    head = MAGIC + struct.pack("<IIIIQ", 1, 0, header_len, len(sections), file_len)
    data = head + header_extra + body
    return data + struct.pack("<I", zlib.crc32(data))


def arch(sizes, acts, loss, slope=0.01, delta=1.0):
    L = len(sizes) - 1
    return section(b"ARCH", struct.pack("<IIff", L, loss, slope, delta) +
                   struct.pack("<%dQ" % (L + 1), *sizes) + struct.pack("<%dI" % L, *acts))


def n_params(sizes):
    return sum(sizes[i] * sizes[i - 1] + sizes[i] for i in range(1, len(sizes)))


def parm(sizes, rng):
    n = n_params(sizes)
    return section(b"PARM", struct.pack("<Q", n) +
                   struct.pack("<%df" % n, *[rng.uniform(-1, 1) for _ in range(n)]))


def scal(n0, nL, which, rng):
    out = struct.pack("<I", which)
    for bit, n in ((1, n0), (2, nL)):
        if which & bit:
            out += struct.pack("<%df" % n, *[rng.uniform(-2, 2) for _ in range(n)])
            out += struct.pack("<%df" % n, *[rng.uniform(0.5, 3) for _ in range(n)])
    return section(b"SCAL", out)


IDENTITY, SIGMOID, TANH, RELU, LEAKY, SOFTMAX, ELU, SOFTPLUS = range(8)
QUAD, BCE, CCE, MAE, HUBER = range(5)


def models(rng):
    s = [3, 4, 2]  # the example of docs/format.md
    yield "example-3-4-2", gnn([arch(s, [TANH, SOFTMAX], CCE), scal(3, 2, 1, rng), parm(s, rng)])
    s = [1, 1]
    yield "tiny-identity", gnn([arch(s, [IDENTITY], QUAD), parm(s, rng)])
    s = [2, 5, 3, 1]
    yield "regression-scaled", gnn([arch(s, [LEAKY, ELU, IDENTITY], HUBER, 0.2, 0.5),
                                    scal(2, 1, 3, rng), parm(s, rng)])
    s = [4, 3, 1]
    yield "bce-output-first", gnn([arch(s, [RELU, SIGMOID], BCE), parm(s, rng),
                                   scal(4, 1, 1, rng)])
    s = [2, 2, 2]
    yield "skippable-sections", gnn([arch(s, [SOFTPLUS, IDENTITY], MAE),
                                     section(b"xTRA", b"private\x00data", flags=0),
                                     parm(s, rng), section(b"xPRV", b"", flags=6)])
    s = [3, 2]
    yield "long-header", gnn([arch(s, [SIGMOID], QUAD), parm(s, rng)], header_extra=b"\0" * 8)


def idx(dims, payload):
    return b"\x00\x00\x08" + bytes([len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_inputs(rng):
    n, h, w = 3, 2, 2
    img = idx([n, h, w], bytes(rng.randrange(256) for _ in range(n * h * w)))
    lab = idx([n], bytes([0, 2, 1]))
    split = struct.pack("<H", len(img))
    yield "images-only", b"\x00\x00\x00" + img
    yield "images-labels", b"\x01" + split + img + lab
    yield "images-labels-10", b"\x41" + split + img + lab  # n_classes = 10
    yield "gzip-both", b"\x07" + split + img + lab  # the harness compresses each part
    yield "gzip-inside", b"\x00\x00\x00" + gzip.compress(img, 9, mtime=0)  # a real .gz file
    yield "images-3d", b"\x00\x00\x00" + idx([2, 1, 2, 3], bytes(range(12)))


def csv_inputs():
    # data[0]: bits 0-1 header (auto, no, yes), bit 2 regression, bits 3-5 delimiter
    # (, , ; tab space | : .); data[1] % 8 - 1: the label column
    yield "classes-header", b"\x00\x00" + b"x1,x2,label\n0.5,1,0\n-2,3e2,1\n1.25,.5,2\n"
    yield "string-labels", b"\x01\x00" + b"1,2,setosa\n3,4,virginica\n5,6,setosa\n"
    yield "regression", b"\x04\x01" + b"y,a,b\r\n1.5,2,3\r\n-0.25,4,5\r\n"
    yield "semicolon-bom", b"\x10\x00" + b"\xef\xbb\xbfa;b;c\n1;2;0\n\n3;4;1\n"
    yield "quoted-tab", b"\x1a\x00" + b'"f"\t"g"\t"k"\n"1"\t 2 \t"1"\n0\t-1\t0\n'
    yield "header-yes-space", b"\x22\x03" + b"h h h\n1 0 2\n2 1 3\n"


def roundtrip_inputs(rng):
    # data[0] flags: 1 raw parameters, 2 input scaling, 4 output scaling, 8 tame scaling,
    # 0x10 raw leaky slope, 0x20 raw Huber delta; then layers, sizes, acts, loss, ...
    yield "plain", bytes([0x00, 1, 3, 4, 2, 2, 5, 2, 0]) + bytes(8)
    yield "scaled-regression", bytes([0x0e, 2, 2, 3, 1, 4, 0, 4, 1]) + bytes(rng.randrange(256)
                                                                        for _ in range(120))
    yield "raw-everything", bytes([0x3f, 3]) + bytes(rng.randrange(256) for _ in range(400))
    yield "negative-zero-slope", bytes([0x10, 1, 1, 1, 4, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0x80])
    yield "nonfinite-param", bytes([0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0xc0, 0x7f])


def write(target, items):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in items:
        assert len(data) < 20000, (target, name)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def npy_inputs():
    """fuzz_npy: a mode byte (targets.h) before a fixture numpy wrote (tests/data/npy)."""
    d = os.path.join(HERE, "..", "data", "npy")
    for mode, name in [(0x00, "x-f4"), (0x00, "x-f8-3d-fortran"), (0x00, "x-f4-v3"),
                       (0x00, "x-u1"), (0x01, "y-i8"), (0x01, "y-f4"), (0x41, "y-u1"),
                       (0x03, "t-f4-2d-fortran"), (0x02, "x-i2"), (0x00, "bad-x-nan"),
                       (0x00, "bad-object")]:
        with open(os.path.join(d, name + ".npy"), "rb") as f:
            yield name, bytes([mode]) + f.read()


def main():
    write("model", models(random.Random(1)))
    write("idx", idx_inputs(random.Random(2)))
    write("csv", csv_inputs())
    write("roundtrip", roundtrip_inputs(random.Random(3)))
    write("npy", npy_inputs())


if __name__ == "__main__":
    main()
