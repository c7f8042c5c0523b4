#!/usr/bin/python3
"""Writes the .npy fixtures of tests/test_npy.c with NumPy itself (Debian: python3-numpy).

Run from anywhere (as ./make-fixtures.py, so that /usr/bin/python3 with python3-numpy runs it);
the files land next to this script and the output is deterministic, so a
re-run leaves the committed files unchanged. Every value is a formula of its position that
tests/test_npy.c recomputes on its own (it never reads an expected value from here):

  features, float dtypes:    x[j, i] = 0.25 * (j * nf + i) - 2      (j sample, i feature in
                                                                     row-major order)
  features, integer dtypes:  x[j, i] = (7 * (j * nf + i)) % 101 - 50 (signed)
                                       (7 * (j * nf + i)) % 101      (unsigned)
  labels:                    y[j] = (2 * j) % 3
  regression targets:        y[j, t] = 1.5 * j - t                  (t output)

Shapes: (5, 3) unless the name says otherwise; 3-D files are (4, 2, 3) (six features).
"""
import os

import numpy as np
from numpy.lib import format as npf

HERE = os.path.dirname(os.path.abspath(__file__))


def features(shape, dtype):
    n = shape[0]
    nf = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    k = np.arange(n * nf)
    if np.dtype(dtype).kind == "f":
        v = 0.25 * k - 2
    elif np.dtype(dtype).kind == "i":
        v = (7 * k) % 101 - 50
    else:
        v = (7 * k) % 101
    return v.reshape(shape).astype(dtype)


def labels(n, dtype):
    return ((2 * np.arange(n)) % 3).astype(dtype)


def targets(n, k, dtype):
    j = np.arange(n).reshape(n, 1)
    t = np.arange(k).reshape(1, k)
    return (1.5 * j - t).astype(dtype)


def save(name, arr, version=None):
    path = os.path.join(HERE, name)
    if version is None:
        np.save(path, arr, allow_pickle=False)
    else:
        with open(path, "wb") as f:
            npf.write_array(f, arr, version=version, allow_pickle=False)


def main():
    # features in every supported dtype, C order
    for dt in ["<f4", "<f8", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8"]:
        save("x-%s.npy" % dt[1:], features((5, 3), dt))
    # Fortran order, 2-D and 3-D (the 3-D case checks the row-major flattening of features)
    save("x-f4-fortran.npy", np.asfortranarray(features((5, 3), "<f4")))
    save("x-f8-fortran.npy", np.asfortranarray(features((5, 3), "<f8")))
    save("x-f4-3d.npy", features((4, 2, 3), "<f4"))
    save("x-f8-3d-fortran.npy", np.asfortranarray(features((4, 2, 3), "<f8")))
    save("x-f4-1d.npy", features((6,), "<f4"))
    # the other format versions (np.save picks 1.0 for small headers)
    save("x-f4-v2.npy", features((5, 3), "<f4"), version=(2, 0))
    save("x-f4-v3.npy", features((5, 3), "<f4"), version=(3, 0))
    # labels
    for dt in ["|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8"]:
        save("y-%s.npy" % dt[1:], labels(5, dt))
    save("y-i8-6.npy", labels(6, "<i8"))  # for x-f4-1d.npy
    save("y-i8-4.npy", labels(4, "<i8"))  # for the 3-D files
    # regression targets, one and two outputs
    save("t-f8-1d.npy", targets(5, 1, "<f8").reshape(5))
    save("t-f4-2d.npy", targets(5, 2, "<f4"))
    save("t-f4-2d-fortran.npy", np.asfortranarray(targets(5, 2, "<f4")))

    # refused: big-endian, object, structured, bool, complex, 0-d, no samples
    save("bad-x-be.npy", features((5, 3), ">f4"))
    obj = np.empty(5, dtype=object)
    obj[:] = [1, "a", None, 2.5, [3]]
    np.save(os.path.join(HERE, "bad-object.npy"), obj, allow_pickle=True)
    save("bad-structured.npy", np.zeros(5, dtype=[("a", "<f4"), ("b", "<i4")]))
    save("bad-bool.npy", np.array([True, False, True, True, False]))
    save("bad-complex.npy", np.zeros((5, 3), dtype="<c8"))
    save("bad-scalar.npy", np.array(1.5, dtype="<f4"))
    save("bad-empty.npy", np.zeros((0, 3), dtype="<f4"))
    # refused values: NaN at sample 3, feature 1; infinity; a double beyond the float range;
    # a label that is not an integer, a negative label, a NaN label, a NaN target
    x = features((5, 3), "<f4")
    x[3, 1] = np.nan
    save("bad-x-nan.npy", x)
    x = features((5, 3), "<f4")
    x[2, 2] = -np.inf
    save("bad-x-inf.npy", x)
    x = features((5, 3), "<f8")
    x[4, 0] = 1e300
    save("bad-x-f8-range.npy", x)
    y = labels(5, "<f8")
    y[2] = 1.5
    save("bad-y-fraction.npy", y)
    y = labels(5, "<i4")
    y[1] = -1
    save("bad-y-negative.npy", y)
    y = labels(5, "<f8")
    y[3] = np.nan
    save("bad-y-nan.npy", y)
    t = targets(5, 1, "<f8").reshape(5)
    t[4] = np.nan
    save("bad-t-nan.npy", t)


if __name__ == "__main__":
    main()
