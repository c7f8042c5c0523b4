#!/usr/bin/python3
"""Compare gemmnet's training-step throughput with PyTorch on the same networks.

The shebang is Debian's interpreter on purpose: PyTorch comes from the Debian package
python3-torch (CPU build, OpenBLAS behind libblas.so.3), which a pyenv or venv `python3`
earlier on PATH cannot import. Nothing from PyPI is needed.

For each standard configuration (the same ones gemmnet-bench builds) this script times
PyTorch training steps (zero_grad, forward, loss, backward, SGD step) and, in the same run,
calls `gemmnet-bench --skip-ops` for the gemmnet step (with the automatic backend choice)
and the sgemm-only bound (the fastest backend's), then prints one table. Both sides run one after the other (never concurrently) with the same thread
count, so neither steals cores from the other.

    bench/torch_compare.py                       # all four configurations, all cores
    bench/torch_compare.py --config nielsen,mlp --threads 1 --quick
    bench/torch_compare.py --json /tmp/pytorch.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# The standard configurations of gemmnet-bench. Keep in step with bench/gemmnet-bench.c:
# the comparison is only meaningful if both sides train exactly the same network.
#   layers: sizes n_0 (inputs) .. n_L (outputs)
#   acts:   activation of each of the L layers ("softmax" output is folded into the loss)
#   loss:   "quadratic" (mean over batch of 1/2 |a - y|^2) or "cce" (softmax + categorical CE)
CONFIGS = {
    "nielsen": {"layers": [784, 30, 10], "acts": ["sigmoid", "sigmoid"],
                "loss": "quadratic", "batch": 10},
    "mlp": {"layers": [784, 256, 128, 10], "acts": ["relu", "relu", "softmax"],
            "loss": "cce", "batch": 128},
    "wide": {"layers": [1024, 1024, 1024, 1024], "acts": ["relu", "relu", "relu"],
             "loss": "quadratic", "batch": 256},
    "huge": {"layers": [4096, 4096, 4096], "acts": ["relu", "relu"],
             "loss": "quadratic", "batch": 512},
}
CONFIG_ORDER = ["nielsen", "mlp", "wide", "huge"]

LEARNING_RATE = 0.01
# Distinct pre-generated batches cycled through in the timed loop: more than one so the step
# does not run on a single batch that stays hot in cache, few enough to stay small for "huge"
# (4 x 512 x 4096 floats = 32 MiB).
N_BATCHES = 4


def repo_root():
    """The repository root: the parent of the directory holding this script."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv):
    default_bench = os.path.join(repo_root(), "build", "bench", "gemmnet-bench")
    p = argparse.ArgumentParser(
        description="Time PyTorch training steps on gemmnet-bench's standard networks and "
                    "compare with gemmnet (step and sgemm-only bound).")
    p.add_argument("--bench", default=default_bench,
                   help="path to the gemmnet-bench binary (default: %(default)s)")
    p.add_argument("--config", default=",".join(CONFIG_ORDER),
                   help="comma-separated configurations among %s (default: all)"
                        % ",".join(CONFIG_ORDER))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads for both PyTorch and gemmnet (default: %(default)s, "
                        "the number of cores)")
    p.add_argument("--quick", action="store_true",
                   help="shorter samples and fewer of them (also passed to gemmnet-bench)")
    p.add_argument("--json", metavar="FILE",
                   help="write the PyTorch records (op step, impl pytorch) as a JSON array "
                        "in gemmnet-bench's schema")
    args = p.parse_args(argv)

    configs = [c.strip() for c in args.config.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        p.error("unknown configuration(s) %s; choose among %s"
                % (",".join(unknown) or "(none given)", ",".join(CONFIG_ORDER)))
    args.configs = configs
    if args.threads < 1:
        p.error("--threads must be at least 1")
    return args


def step_flops(layers, batch):
    """sgemm flops of one training step, counted as gemmnet-bench counts them.

    Per layer l: forward W·A and weight gradient Δ·Aᵀ, 2·n_l·n_{l-1}·m each; the
    back-propagated error Wᵀ·Δ (same size) exists for every layer but the first, since
    nothing needs the gradient with respect to the inputs (PyTorch skips it as well,
    because the input tensor does not require grad).
    """
    total = 0
    for l in range(1, len(layers)):
        per_product = 2 * layers[l] * layers[l - 1] * batch
        total += per_product * (2 if l == 1 else 3)
    return total


def build_model(torch, cfg):
    """nn.Sequential of Linear + activation per layer, and a loss function(out, y)."""
    nn = torch.nn
    mods = []
    layers = cfg["layers"]
    for l, act in enumerate(cfg["acts"]):
        mods.append(nn.Linear(layers[l], layers[l + 1]))
        if act == "sigmoid":
            mods.append(nn.Sigmoid())
        elif act == "relu":
            mods.append(nn.ReLU())
        elif act == "softmax":
            # No module: CrossEntropyLoss takes logits and applies log-softmax itself,
            # which is mathematically softmax + categorical cross-entropy.
            if l != len(cfg["acts"]) - 1 or cfg["loss"] != "cce":
                raise ValueError("softmax is only supported as the output of a CCE net")
        else:
            raise ValueError("unknown activation " + act)
    model = nn.Sequential(*mods)

    if cfg["loss"] == "cce":
        ce = nn.CrossEntropyLoss()  # mean over the batch, class-index targets

        def loss_fn(out, y):
            return ce(out, y)
    else:
        def loss_fn(out, y):
            # C = mean over the batch of 1/2 |a - y|^2, the same C as gemmnet's quadratic
            # loss (not nn.MSELoss, which would also divide by the number of outputs).
            return 0.5 * ((out - y) ** 2).sum(1).mean()
    return model, loss_fn


def make_batches(torch, cfg, gen):
    """Fixed random batches: inputs in [0,1), one-hot class indices or [0,1) targets."""
    n_in, n_out, m = cfg["layers"][0], cfg["layers"][-1], cfg["batch"]
    batches = []
    for _ in range(N_BATCHES):
        x = torch.rand(m, n_in, generator=gen, dtype=torch.float32)
        if cfg["loss"] == "cce":
            # Class indices: the one-hot target gemmnet uses, in the form
            # CrossEntropyLoss wants.
            y = torch.randint(0, n_out, (m,), generator=gen, dtype=torch.long)
        else:
            y = torch.rand(m, n_out, generator=gen, dtype=torch.float32)
        batches.append((x.contiguous(), y.contiguous()))
    return batches


def time_pytorch(torch, name, threads, quick):
    """Median and minimum seconds of one PyTorch training step for configuration `name`."""
    cfg = CONFIGS[name]
    gen = torch.Generator().manual_seed(12345)
    torch.manual_seed(12345)
    model, loss_fn = build_model(torch, cfg)
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0,
                          weight_decay=0.0)
    batches = make_batches(torch, cfg, gen)

    def step(i):
        x, y = batches[i % N_BATCHES]
        # set_to_none: gradients are then written, not accumulated into zeroed buffers,
        # which is what gemmnet does (beta = 0) and PyTorch 2's default.
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    min_time = 0.05 if quick else 0.2
    n_samples = 3 if quick else 5

    # Warm-up: the first steps allocate the gradient buffers, the OpenMP/OpenBLAS thread
    # pools and the caching allocator's blocks; keep going for about one sample's time so
    # clocks and caches settle too.
    i = 0
    t0 = time.perf_counter()
    while True:
        step(i)
        i += 1
        if i >= 3 and time.perf_counter() - t0 >= min_time:
            break

    samples = []
    for _ in range(n_samples):
        # Each sample repeats steps until it lasts at least min_time, so that timer
        # resolution and per-call jitter are negligible even for the tiny nielsen net.
        count = 0
        t0 = time.perf_counter()
        while True:
            step(i)
            i += 1
            count += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
        samples.append(elapsed / count)
    return statistics.median(samples), min(samples)


def pytorch_record(name, threads, median, fastest):
    cfg = CONFIGS[name]
    batch = cfg["batch"]
    return {
        "config": name, "op": "step", "impl": "pytorch", "threads": threads,
        "batch": batch, "m": 0, "n": 0, "k": 0,
        "seconds": median, "min_seconds": fastest,
        "gflops": step_flops(cfg["layers"], batch) / median / 1e9,
        "samples_per_s": batch / median, "max_rel_err": None,
    }


def run_gemmnet(bench, name, threads, quick, env):
    """Run gemmnet-bench for one configuration; return {op: record} or an error string."""
    fd, tmp = tempfile.mkstemp(prefix="gemmnet-bench-", suffix=".json")
    os.close(fd)
    try:
        # --no-peak: the FMA peak is the same for every configuration; this script compares
        # with PyTorch, not with the peak, and would otherwise measure it once per run.
        cmd = [bench, "--skip-ops", "--no-peak", "--config", name, "--threads", str(threads),
               "--json", tmp]
        if quick:
            cmd.append("--quick")
        # Its own table goes to a pipe: this script prints the combined one. Kept to show
        # it if the run fails.
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            return "exit status %d: %s" % (proc.returncode, " | ".join(tail))
        try:
            with open(tmp) as f:
                records = json.load(f)
        except (OSError, ValueError) as e:
            return "could not read its JSON output: %s" % e
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass

    # gemmnet-bench writes a step per forced backend plus one with the automatic choice
    # (backend "auto"), and a bound per backend: take the auto step and the fastest bound.
    # Output without a backend field (an older gemmnet-bench) has one of each.
    found = {}
    for r in records:
        if not isinstance(r, dict) or r.get("config") != name:
            continue
        if r.get("threads") not in (threads, None):
            continue
        op, backend = r.get("op"), r.get("backend")
        if op == "step" and backend in ("auto", None):
            found["step"] = r
        elif op == "bound":
            best = found.get("bound")
            if best is None or (r.get("samples_per_s") or 0) > (best.get("samples_per_s") or 0):
                found["bound"] = r
    if "step" not in found:
        return "no step record for %s in its output" % name
    return found


def fmt_rate(x):
    return "-" if x is None else "%.0f" % x


def print_table(rows, with_gemmnet):
    if with_gemmnet:
        head = ["config", "threads", "batch", "gemmnet/s", "bound/s", "bound on", "pytorch/s",
                "gemmnet/pytorch", "gemmnet/bound"]
    else:
        head = ["config", "threads", "batch", "pytorch/s"]
    lines = []
    for r in rows:
        cells = [r["config"], str(r["threads"]), str(r["batch"])]
        if with_gemmnet:
            g, b, p = r["gemmnet"], r["bound"], r["pytorch"]
            cells += [fmt_rate(g), fmt_rate(b), r.get("bound_backend") or "-", fmt_rate(p),
                      "-" if g is None or not p else "%.2fx" % (g / p),
                      "-" if g is None or not b else "%.0f%%" % (100.0 * g / b)]
        else:
            cells.append(fmt_rate(r["pytorch"]))
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    # Left-align the config name, right-align the numbers.
    def fmt(cells):
        return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(cells))
    print(fmt(head))
    print("  ".join("-" * w for w in widths))
    for cells in lines:
        print(fmt(cells))
    print("(rates in samples/s; gemmnet/s = full training step with the automatic backend "
          "choice, bound/s = the step's sgemm calls alone on the fastest backend)"
          if with_gemmnet else "(rates in samples/s)")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    # Thread counts go into the environment before torch is imported: Debian's torch uses
    # the pthread OpenBLAS through libblas.so.3, which reads OPENBLAS_NUM_THREADS once at
    # load time and ignores torch.set_num_threads. The same environment is handed to
    # gemmnet-bench so both sides use the same threads.
    n = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = n
    os.environ["OMP_NUM_THREADS"] = n
    child_env = dict(os.environ)
    # Only for PyTorch (gemmnet-bench keeps the environment as given, so its OpenMP backends,
    # oneDNN and libxsmm, run under libgomp's default policy, and its tuner measures whether
    # they pay there): ATen runs its element-wise
    # kernels on libgomp threads, which by default spin for a while after each parallel
    # region, while the sgemm calls run on OpenBLAS's own pthreads. With as many of each as
    # cores, the spinning OpenMP threads steal the cores OpenBLAS needs: measured on 2 cores,
    # the "wide" step ran 4-5x slower than with a passive wait policy, and erratically so.
    # A passive policy keeps torch.set_num_threads(threads) and removes that penalty. A
    # value the user set is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    try:
        import torch
    except ImportError:
        print("torch_compare: python3-torch is not installed "
              "(apt-get install python3-torch); skipping")
        return 0

    torch.set_num_threads(args.threads)
    try:
        # Can only be called once per process, before any inter-op work: guard it.
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass

    have_bench = os.path.isfile(args.bench) and os.access(args.bench, os.X_OK)
    if not have_bench:
        print("torch_compare: gemmnet-bench not found at %s\n"
              "  build it first:  tools/bootstrap  (or: meson setup build && meson compile -C build)\n"
              "  (or pass --bench PATH); showing PyTorch only.\n" % args.bench,
              file=sys.stderr)

    print("PyTorch %s, %d thread(s)%s" % (torch.__version__, args.threads,
                                          ", quick" if args.quick else ""), flush=True)
    rows, records, failures = [], [], []
    for name in args.configs:
        print("  %s: pytorch..." % name, end="", flush=True)
        median, fastest = time_pytorch(torch, name, args.threads, args.quick)
        rec = pytorch_record(name, args.threads, median, fastest)
        records.append(rec)
        row = {"config": name, "threads": args.threads, "batch": rec["batch"],
               "pytorch": rec["samples_per_s"], "gemmnet": None, "bound": None}
        if have_bench:
            print(" gemmnet...", end="", flush=True)
            res = run_gemmnet(args.bench, name, args.threads, args.quick, child_env)
            if isinstance(res, str):
                failures.append("%s: gemmnet-bench failed: %s" % (name, res))
            else:
                row["gemmnet"] = res["step"].get("samples_per_s")
                if "bound" in res:
                    row["bound"] = res["bound"].get("samples_per_s")
                    row["bound_backend"] = res["bound"].get("backend")
        print(" done", flush=True)
        rows.append(row)

    print()
    print_table(rows, have_bench)
    for f in failures:
        print("torch_compare: " + f, file=sys.stderr)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)
            f.write("\n")
        print("wrote %s" % args.json)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
