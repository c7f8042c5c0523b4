#!/usr/bin/env python3
"""`gemmnet train` under mpirun, as a user runs it: data-parallel results against one process,
repeatability, resuming on one rank, and errors on one rank stopping every rank.

usage: test_cli_mpi.py GEMMNET MPIRUN DATA_DIR [--netns tests/mpi/netns-mpirun.sh]

Each case prints PASS or FAIL; the last line is Criterion's summary format, which
tools/run-tests counts. Exit status 1 if any case failed.
"""

import os
import re
import subprocess
import sys
import tempfile

GEMMNET, MPIRUN, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
# --netns SCRIPT: only the case across two network namespaces (tests/mpi/netns-mpirun.sh)
NETNS = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--netns" else None
IRIS = os.path.join(DATA, "iris.csv")
TIMEOUT = 240  # a hung collective must fail the test, not hang it

# One BLAS thread and a forced backend: the runs compared must compute alike.
ENV = dict(os.environ, GN_BACKEND="openblas", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
           OMP_WAIT_POLICY="passive",
           # containers without ptrace rights refuse shared memory's single-copy transfers
           OMPI_MCA_btl_vader_single_copy_mechanism="none")
MPI_FLAGS = ["--oversubscribe", "--bind-to", "none"]
if os.geteuid() == 0:
    MPI_FLAGS.append("--allow-run-as-root")
# the options of every training run below: a small net on iris, 6 epochs of batch 16
TRAIN = ["train", "--train", IRIS, "--layers", "4,16,3", "--epochs", "6", "--batch", "16",
         "--threads", "1", "--lr", "0.01"]

results = []


def run(cmd, timeout=TIMEOUT):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return "timeout", e.stdout or "", e.stderr or ""


def mpirun(n, args):
    return run([MPIRUN] + MPI_FLAGS + ["-np", str(n), GEMMNET] + args)


def case(name, ok, why=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why), flush=True)


def field(out, key):
    m = re.findall(r"\b%s=(\S+)" % re.escape(key), out)
    return m[-1] if m else None


def predictions(model, tmp):
    """The model's outputs on iris's features as floats (gemmnet predict on one process,
    which prints 9 significant digits: enough to tell floats apart)."""
    inputs = os.path.join(tmp, "features.csv")
    if not os.path.exists(inputs):
        with open(IRIS) as src, open(inputs, "w") as dst:
            for line in src.read().splitlines()[1:]:  # (the first line is a header)
                dst.write(",".join(line.split(",")[:4]) + "\n")
    code, out, err = run([GEMMNET, "predict", "--model", model, "--input", inputs])
    if code != 0:
        return None
    return [float(v) for line in out.splitlines() for v in line.split(",") if v]


def max_diff(a, b):
    return max(abs(x - y) for x, y in zip(a, b)) if a and b and len(a) == len(b) else None


def netns_case(tmp):
    """Two ranks on two hosts as OpenMPI sees them (two network namespaces, a veth pair, TCP)
    train the same bits as two ranks on one host: nothing depends on shared memory. A wider
    net, so that the gradients carried exceed the script's 1 MB proof of traffic."""
    args = TRAIN + ["--layers", "4,256,256,3"]
    local, far = os.path.join(tmp, "local.gnm"), os.path.join(tmp, "far.gnm")
    code, _, err = mpirun(2, args + ["--save", local])
    if code != 0:
        case("netns_setup", False, err)
        return
    code, out, err = run(["bash", NETNS, "--", GEMMNET] + args + ["--save", far], timeout=600)
    if code == 77:
        print("SKIP: " + err.strip())
        sys.exit(77)
    case("netns_two_hosts_train", code == 0 and field(out, "ranks") == "2"
         and "veth carried" in out + err, "exit %s\n%s\n%s" % (code, out, err))
    a, b = predictions(local, tmp), predictions(far, tmp)
    case("netns_same_bits_as_one_host", a is not None and a == b, "max diff %s" % max_diff(a, b))


with tempfile.TemporaryDirectory() as tmp:
    if NETNS:
        netns_case(tmp)
        passed = sum(results)
        print("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0"
              % (len(results), passed, len(results) - passed))
        sys.exit(0 if passed == len(results) else 1)
    one = os.path.join(tmp, "one.gnm")
    code, out1, err = run([GEMMNET] + TRAIN + ["--save", one])
    if code != 0:
        print("the single-process run failed:", err, file=sys.stderr)
        sys.exit(1)

    # 2 ranks: one set of output lines, from rank 0, naming the ranks
    two = os.path.join(tmp, "two.gnm")
    code, out2, err = mpirun(2, TRAIN + ["--save", two])
    case("two_ranks_train", code == 0 and field(out2, "ranks") == "2"
         and out2.count("test_accuracy=") == 1 and "reduction=ordered" in out2,
         "exit %s\n%s\n%s" % (code, out2, err))
    # samples_per_s counts every rank's samples: 6 epochs of the 120 training samples
    rate, secs = field(out2, "samples_per_s"), field(out2, "train_seconds")
    case("two_ranks_report_all_samples",
         field(out2, "epochs") == "6" and field(out1, "test_samples") == field(out2, "test_samples")
         and rate is not None and abs(float(rate) * float(secs) / (6 * 120) - 1) < 0.02,
         out2)

    # the same model as one process, up to the order of summation: outputs (probabilities
    # in [0, 1]) within 1e-4, far below what one wrong step would change
    p1, p2 = predictions(one, tmp), predictions(two, tmp)
    d = max_diff(p1, p2)
    case("two_ranks_match_one_process", d is not None and d < 1e-4, "max diff %s" % d)

    # the rank-ordered reduction repeats bit for bit; for two ranks every reduction sums
    # a + b, so all three give the same bits
    again = os.path.join(tmp, "again.gnm")
    code, _, err = mpirun(2, TRAIN + ["--save", again])
    case("ordered_repeats_bit_for_bit", code == 0 and predictions(again, tmp) == p2, err)
    for how in ("allreduce", "overlap"):
        path = os.path.join(tmp, how + ".gnm")
        code, out, err = mpirun(2, TRAIN + ["--save", path, "--reduction", how])
        case("reduction_" + how, code == 0 and ("reduction=" + how) in out
             and predictions(path, tmp) == p2, "exit %s %s" % (code, err))

    # three ranks: batches of 16 split 5, 5, 6, and iris's last batch unevenly
    three = os.path.join(tmp, "three.gnm")
    code, out3, err = mpirun(3, TRAIN + ["--save", three])
    d = max_diff(p1, predictions(three, tmp))
    case("three_ranks_match_one_process", code == 0 and field(out3, "ranks") == "3"
         and d is not None and d < 1e-4, "exit %s diff %s %s" % (code, d, err))

    # a checkpoint written under MPI resumes on one process
    ck, resumed = os.path.join(tmp, "ck.gnm"), os.path.join(tmp, "resumed.gnm")
    code, _, err = mpirun(2, TRAIN + ["--save", ck, "--stop-after", "3"])
    ok = code == 0
    code, out, err2 = run([GEMMNET, "train", "--resume", ck, "--threads", "1", "--save", resumed])
    d = max_diff(p2, predictions(resumed, tmp))
    case("resume_on_one_process", ok and code == 0 and field(out, "epochs") == "6"
         and d is not None and d < 1e-4, "%s %s diff %s" % (err, err2, d))

    # one rank cannot read its data: every rank stops, nonzero, with that rank's message
    code, out, err = run([MPIRUN] + MPI_FLAGS + [
        "-np", "1", GEMMNET] + TRAIN + [":", "-np", "1", GEMMNET, "train", "--train",
                                        os.path.join(tmp, "missing.csv")] + TRAIN[3:])
    case("data_error_on_one_rank_stops_all", code not in (0, "timeout")
         and "rank 1" in err and "missing.csv" in err and "test_accuracy" not in out,
         "exit %s\n%s" % (code, err))

    # rank 0 cannot write its checkpoint after the first epoch: every rank stops
    code, out, err = mpirun(2, TRAIN + ["--save", os.path.join(tmp, "no", "dir.gnm"),
                                        "--checkpoint-every", "1"])
    case("checkpoint_error_stops_all", code not in (0, "timeout") and "test_accuracy" not in out
         and err.count("dir.gnm") >= 1, "exit %s\n%s" % (code, err))

    # --reduction outside mpirun is a usage error
    code, _, err = run([GEMMNET] + TRAIN + ["--reduction", "overlap"])
    case("reduction_needs_mpirun", code == 2 and "mpirun" in err, err)

passed = sum(results)
print("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0"
      % (len(results), passed, len(results) - passed))
sys.exit(0 if passed == len(results) else 1)
