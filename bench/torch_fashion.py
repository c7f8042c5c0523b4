#!/usr/bin/python3
"""PyTorch reference recipe for Fashion-MNIST, to compare with gemmnet on the same machine.

Trains the reference network of our issue with plain PyTorch and prints one result line in
the key=value style of `gemmnet train`:

    torch test_accuracy=0.8812 train_seconds=12.34 samples_per_s=48620 epochs=10 threads=2 load_seconds=0.41

Recipe: a 784-256-128-10 multilayer perceptron (nn.Sequential of Linear and ReLU, PyTorch's
default initialisation), softmax cross-entropy on the logits (nn.CrossEntropyLoss), Adam with
lr 1e-3, mini-batches of 128, 10 epochs, the training set reshuffled every epoch (the last,
partial batch is kept, as gemmnet does), inputs scaled to [0, 1] (or, with --standardize,
standardised per pixel with the training set's mean and standard deviation).

Timing: load_seconds is reading and converting the IDX files; train_seconds counts only the
training loop (shuffle, forward, loss, backward, Adam step) with time.perf_counter, never
evaluation; samples_per_s = training samples x epochs / train_seconds; test_accuracy is
measured on the 10000 test images after training.

The shebang is Debian's interpreter on purpose: PyTorch comes from the Debian package
python3-torch (a pyenv or venv `python3` earlier on PATH cannot import it). Only torch and
numpy are used: no torchvision, the IDX files are parsed here.

    bench/torch_fashion.py                      # the recipe, 2 threads
    bench/torch_fashion.py --best-threads       # 1 and 2 threads, each in a fresh process
    bench/torch_fashion.py --threads 1 --repeat 3 --verbose
    bench/torch_fashion.py --standardize --epochs 20 --layers 784,512,10

Exit status: 0 success, 1 runtime error (missing or malformed data), 2 usage error.
"""

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import time
import zlib

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DEFAULT_THREADS = 2
BEST_THREADS = (1, 2)  # the thread counts tried by --best-threads

# IDX magic numbers: two zero bytes, the element type (0x08 = unsigned byte), the number of
# dimensions.
IDX_UBYTE = 0x08
IMAGES_MAGIC = 0x00000803  # ubyte, 3 dimensions: n x rows x cols
LABELS_MAGIC = 0x00000801  # ubyte, 1 dimension: n

EXIT_RUNTIME, EXIT_USAGE = 1, 2


class DataError(Exception):
    """Missing or malformed data files (exit status 1)."""


def layer_sizes(text):
    """argparse type of --layers: comma-separated positive widths, inputs first."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("not a comma-separated list of integers: %r" % text)
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError("need at least two positive widths: %r" % text)
    return sizes


def positive(kind):
    """argparse type: a number of type `kind` that is > 0."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text)
        if not value > 0:
            raise argparse.ArgumentTypeError("must be > 0: %r" % text)
        return value
    return parse


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Train the Fashion-MNIST reference MLP with PyTorch and print "
                    "test accuracy and training time.")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                   help="directory of {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] "
                        "(default: %(default)s)")
    p.add_argument("--epochs", type=positive(int), default=10, help="default: %(default)s")
    p.add_argument("--batch", type=positive(int), default=128, help="default: %(default)s")
    p.add_argument("--lr", type=positive(float), default=1e-3,
                   help="Adam learning rate (default: %(default)g)")
    p.add_argument("--layers", type=layer_sizes, default=[784, 256, 128, 10],
                   help="all layer widths, inputs first, outputs last "
                        "(default: 784,256,128,10)")
    p.add_argument("--standardize", action="store_true",
                   help="standardise each pixel with the training set's mean and std "
                        "instead of only scaling to [0, 1]")
    p.add_argument("--threads", type=positive(int), default=None,
                   help="threads for PyTorch and its BLAS (default: %d)" % DEFAULT_THREADS)
    p.add_argument("--best-threads", action="store_true",
                   help="run with %s threads, each in a fresh process, print both results "
                        "and the fastest" % " and ".join(map(str, BEST_THREADS)))
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the weight init and the shuffles (default: %(default)s)")
    p.add_argument("--repeat", type=positive(int), default=1,
                   help="train K times (same seed) and report the median time "
                        "(default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print one line per epoch")
    args = p.parse_args(argv)
    if args.best_threads and args.threads is not None:
        p.error("--best-threads chooses the thread counts itself; drop --threads")
    if args.threads is None:
        args.threads = DEFAULT_THREADS
    return args


def set_thread_environment(threads):
    """Fix the thread counts; must run before numpy or torch is imported.

    Debian's torch does its matrix products in the pthread OpenBLAS behind libblas.so.3 (numpy
    loads the same library), which reads OPENBLAS_NUM_THREADS once, when it is loaded, and
    ignores torch.set_num_threads: without this it would use every core whatever --threads
    says. torch.set_num_threads(threads) then covers ATen's own OpenMP kernels.
    """
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    # ATen's element-wise kernels run on libgomp threads, which by default spin after each
    # parallel region and then steal the cores OpenBLAS's own threads need (bench/
    # torch_compare.py measured several times slower steps on 2 cores). A value the user set
    # is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# ---- Data ------------------------------------------------------------------------------------

def read_idx(np, path, magic):
    """The array stored in IDX file `path` (gzip-compressed if it ends in .gz).

    Checks the magic number (which fixes element type and number of dimensions) and that the
    payload holds exactly the product of the dimensions.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # missing, truncated or corrupt file
        raise DataError("%s: %s" % (path, e))
    if len(raw) < 4:
        raise DataError("%s: too short for an IDX header" % path)
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError("%s: magic number 0x%08x, expected 0x%08x" % (path, found, magic))
    ndim = magic & 0xff
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("%s: truncated IDX header" % path)
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    if len(raw) - header != int(np.prod(dims)):
        raise DataError("%s: %d data bytes, the header's dimensions %s need %d"
                        % (path, len(raw) - header, "x".join(map(str, dims)),
                           int(np.prod(dims))))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(tuple(dims))


def idx_path(data_dir, stem):
    """data_dir/stem.gz, or the uncompressed data_dir/stem if only that exists."""
    path = os.path.join(data_dir, stem)
    return path if os.path.exists(path) and not os.path.exists(path + ".gz") else path + ".gz"


def load_split(np, data_dir, prefix):
    """Images (n x rows*cols float32 in [0, 1]) and labels (n int64) of split `prefix`."""
    images = read_idx(np, idx_path(data_dir, prefix + "-images-idx3-ubyte"), IMAGES_MAGIC)
    labels = read_idx(np, idx_path(data_dir, prefix + "-labels-idx1-ubyte"), LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DataError("%s: %d images but %d labels" % (prefix, images.shape[0],
                                                          labels.shape[0]))
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255)
    return x, labels.astype(np.int64)


def load_data(np, torch, args):
    """Training and test tensors, whole, as (x_train, y_train, x_test, y_test)."""
    x_train, y_train = load_split(np, args.data_dir, "train")
    x_test, y_test = load_split(np, args.data_dir, "t10k")
    n_in, n_out = args.layers[0], args.layers[-1]
    if x_train.shape[1] != n_in or x_test.shape[1] != n_in:
        raise DataError("the images have %d pixels but --layers starts with %d"
                        % (x_train.shape[1], n_in))
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    if n_classes > n_out:
        raise DataError("labels go up to %d but --layers ends with %d outputs"
                        % (n_classes - 1, n_out))
    if args.standardize:
        # Statistics of the training set only, applied to both splits. Pixels that are
        # constant over the training set keep std 1 (they become 0 instead of NaN).
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
        std[std == 0] = 1
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
    # One contiguous float32 tensor per split (from_numpy shares the arrays' memory); the
    # mini-batches are gathered from it by index, with no DataLoader in between.
    return tuple(torch.from_numpy(np.ascontiguousarray(a))
                 for a in (x_train, y_train, x_test, y_test))


# ---- Training --------------------------------------------------------------------------------

def build_model(torch, layers):
    """nn.Sequential of Linear layers with ReLU between them (none after the last: the
    softmax is inside nn.CrossEntropyLoss, which takes logits)."""
    mods = []
    for i, (n_in, n_out) in enumerate(zip(layers[:-1], layers[1:])):
        mods.append(torch.nn.Linear(n_in, n_out))
        if i < len(layers) - 2:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def accuracy(torch, model, x, y):
    """Fraction of rows of x whose largest logit is at the label in y."""
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).double().mean().item()


def train_once(torch, data, args, tag=""):
    """Trains a fresh model; returns (test accuracy, seconds spent in the training loop)."""
    x_train, y_train, x_test, y_test = data
    n = x_train.shape[0]
    torch.manual_seed(args.seed)                          # weight init
    gen = torch.Generator().manual_seed(args.seed)        # the shuffles
    model = build_model(torch, args.layers)
    loss_fn = torch.nn.CrossEntropyLoss()                 # mean over the batch
    # foreach: one multi-tensor update for all parameters instead of a Python loop over
    # them; the same arithmetic (identical weights), a few percent faster here.
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, foreach=True)

    train_seconds = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64)
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        for j in range(0, n, args.batch):
            idx = perm[j:j + args.batch]
            xb = x_train.index_select(0, idx)             # gathered into a fresh batch
            yb = y_train.index_select(0, idx)
            # set_to_none: gradients are written, not accumulated into zeroed buffers.
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            if args.verbose:  # one tiny tensor op per batch; .item() once per epoch
                loss_sum += loss.detach() * idx.numel()
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        if args.verbose:  # outside the timed region
            model.eval()
            print("torch%s epoch=%d/%d loss=%.4f test_accuracy=%.4f epoch_seconds=%.2f"
                  % (tag, epoch, args.epochs, loss_sum.item() / n,
                     accuracy(torch, model, x_test, y_test), seconds), flush=True)

    model.eval()
    return accuracy(torch, model, x_test, y_test), train_seconds


def run(args):
    """Loads the data and trains --repeat times with --threads threads; prints the results."""
    set_thread_environment(args.threads)
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print("torch_fashion: %s (apt-get install python3-torch python3-numpy, and run with "
              "/usr/bin/python3)" % e, file=sys.stderr)
        return EXIT_RUNTIME
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)  # no inter-op parallelism here; once per process
    except RuntimeError:
        pass

    t0 = time.perf_counter()
    try:
        data = load_data(np, torch, args)
    except DataError as e:
        print("torch_fashion: %s" % e, file=sys.stderr)
        return EXIT_RUNTIME
    load_seconds = time.perf_counter() - t0
    n_train = data[0].shape[0]

    results = []
    for r in range(1, args.repeat + 1):
        tag = " run=%d/%d" % (r, args.repeat) if args.repeat > 1 else ""
        acc, seconds = train_once(torch, data, args, tag)
        results.append((seconds, acc))
        if args.repeat > 1:
            print("torch%s test_accuracy=%.4f train_seconds=%.2f"
                  % (tag, acc, seconds), flush=True)

    # Median time; the accuracy reported is the median too (with one seed the runs do the
    # same arithmetic, so they normally agree anyway).
    seconds = statistics.median(s for s, _ in results)
    acc = statistics.median(a for _, a in results)
    print("torch test_accuracy=%.4f train_seconds=%.2f samples_per_s=%.0f epochs=%d threads=%d "
          "load_seconds=%.2f%s"
          % (acc, seconds, n_train * args.epochs / seconds if seconds > 0 else 0.0,
             args.epochs, args.threads, load_seconds,
             " repeats=%d" % args.repeat if args.repeat > 1 else ""), flush=True)
    return 0


def child_argv(args, threads):
    """The command line of this script for one --best-threads run."""
    argv = [sys.executable, os.path.abspath(__file__),
            "--data-dir", args.data_dir, "--epochs", str(args.epochs),
            "--batch", str(args.batch), "--lr", repr(args.lr),
            "--layers", ",".join(map(str, args.layers)), "--seed", str(args.seed),
            "--repeat", str(args.repeat), "--threads", str(threads)]
    if args.standardize:
        argv.append("--standardize")
    if args.verbose:
        argv.append("--verbose")
    return argv


def best_threads(args):
    """Runs the recipe once per thread count in BEST_THREADS, each in a fresh process (the
    BLAS thread count can only be set before the library is loaded), echoes their output and
    prints the fastest."""
    best = None  # (train_seconds, threads, final line's fields)
    for threads in BEST_THREADS:
        proc = subprocess.Popen(child_argv(args, threads), stdout=subprocess.PIPE, text=True)
        final = None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.startswith("torch test_accuracy="):
                final = dict(kv.split("=", 1) for kv in line.split()[1:])
        if proc.wait() != 0 or final is None:
            print("torch_fashion: the run with %d thread(s) failed (exit status %d)"
                  % (threads, proc.returncode), file=sys.stderr)
            return proc.returncode or EXIT_RUNTIME
        seconds = float(final["train_seconds"])
        if best is None or seconds < best[0]:  # ties go to fewer threads
            best = (seconds, threads, final)
    _, threads, final = best
    print("torch best_threads=%d test_accuracy=%s train_seconds=%s samples_per_s=%s"
          % (threads, final["test_accuracy"], final["train_seconds"], final["samples_per_s"]))
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return best_threads(args) if args.best_threads else run(args)


if __name__ == "__main__":
    sys.exit(main())
