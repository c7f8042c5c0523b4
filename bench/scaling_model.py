#!/usr/bin/env python3
"""Scaling figures for docs/scaling.md from gemmnet-mpi-bench's CSV output.

Reads three kinds of run of bench/gemmnet-mpi-bench --format csv:
  --one-thread FILE    plain run, --threads 1   (1 rank x 1 BLAS thread)
  --two-threads FILE   plain run, --threads 2   (1 rank x 2 BLAS threads)
  --two-ranks FILE     mpirun -np 2 ... --threads 1 (2 ranks x 1 thread); repeatable: the
                       tables use the median over the files and show the spread
and prints
  (a) the measured table: aggregate samples/s per configuration for each, the speedups over
      one rank on one thread, the parallel efficiency (speedup / 2), overlap against the
      blocking reductions, and the 2-rank step against compute + communication measured apart;
  (b) a cost model of one data-parallel step on p ranks:
        t_comm(p)    = 2(p-1)/p * bytes / BW + 2(p-1) * alpha     (ring all-reduce)
        t_compute(p) = the measured 1-thread compute time of a step at local batch ceil(B/p)
                       (strong scaling, the global batch stays B) or B (weak scaling, the
                       global batch grows to p*B); through the data-parallel path (rows
                       compute-dp, gemmnet-mpi-bench --dp-compute) when the one-thread file
                       has them, else the plain path
        t_step       = t_compute + t_comm (blocking), max(t_compute, t_comm) (perfect overlap,
                       a bound: only the backward products can hide communication)
        efficiency   = t_1 / (p * t_step)   (strong)
                       t_1 / t_step         (weak)
                       with t_1 = the plain 1-rank compute time of a step at batch B
      for p = 8, 64, 512 on a 100 Gb/s network, with a verdict per configuration.
Python 3 standard library only.
"""

import argparse
import csv
import math
import statistics
import sys

FIELDS = ["config", "ranks", "threads", "reduction", "batch", "local_batch", "step_ms",
          "samples_per_s", "compute_ms", "comm_ms", "bytes"]
BLOCKING = ("ordered", "allreduce")
REDUCTIONS = ("ordered", "allreduce", "overlap")


def fail(msg):
    sys.exit("scaling_model.py: " + msg)


def num(s):
    return float(s) if s not in ("", None) else None


def read_run(path):
    """{config: {"B": int, "ranks": int, "threads": int, "tput": {reduction: row},
    "compute": {local_batch: compute_ms}}} for one CSV."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    if not rows or any(k not in rows[0] for k in FIELDS):
        fail(f"{path}: not a gemmnet-mpi-bench CSV (header {','.join(FIELDS)})")
    run = {}
    for r in rows:
        try:
            c = run.setdefault(r["config"], {"B": int(r["batch"]), "ranks": int(r["ranks"]),
                                             "threads": int(r["threads"]), "tput": {},
                                             "compute": {}, "compute_dp": {}})
            if r["reduction"] in ("compute", "compute-dp"):
                key = "compute" if r["reduction"] == "compute" else "compute_dp"
                c[key][int(r["local_batch"])] = float(r["compute_ms"])
            else:
                c["tput"][r["reduction"]] = {
                    "step_ms": float(r["step_ms"]), "sps": float(r["samples_per_s"]),
                    "compute_ms": float(r["compute_ms"]), "comm_ms": num(r["comm_ms"]),
                    "bytes": int(r["bytes"]), "local": int(r["local_batch"])}
        except (KeyError, ValueError) as e:
            fail(f"{path}: bad row {r}: {e}")
    return run


def check_run(run, path, ranks, threads):
    for name, c in run.items():
        if c["ranks"] != ranks or c["threads"] != threads:
            fail(f"{path}: {name} ran on {c['ranks']} rank(s) x {c['threads']} thread(s), "
                 f"expected {ranks} x {threads}")


class Out:
    """Tables as Markdown or as aligned text."""

    def __init__(self, markdown):
        self.md = markdown

    def heading(self, text):
        print(f"\n### {text}\n" if self.md else f"\n{text}\n{'=' * len(text)}")

    def para(self, text):
        print(text + "\n" if self.md else text)

    def table(self, head, rows, right=None):
        right = right if right is not None else [i > 0 for i in range(len(head))]
        if self.md:
            print("| " + " | ".join(head) + " |")
            print("|" + "|".join("---:" if r else ":---" for r in right) + "|")
            for row in rows:
                print("| " + " | ".join(row) + " |")
            print()
            return
        w = [max(len(x) for x in col) for col in zip(head, *rows)]
        for row in [head] + rows:
            print("  ".join(x.rjust(w[i]) if right[i] else x.ljust(w[i])
                            for i, x in enumerate(row)))
        print()


def f_rate(x):
    return "–" if x is None else f"{x:,.0f}"


def f_ms(x):
    if x is None:
        return "–"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def f_pct(x):
    return "–" if x is None else f"{100 * x:.0f} %"


def f_x(x):
    return "–" if x is None else f"{x:.2f}×"


def spread(values):
    """'median (min–max)' of samples/s over repeated runs."""
    if len(values) == 1:
        return f_rate(values[0])
    return f"{f_rate(statistics.median(values))} ({f_rate(min(values))}–{f_rate(max(values))})"


def measured(out, one, two_t, two_r, configs):
    out.heading("Measured on this machine: 1 rank × 1 thread, 1 rank × 2 threads, 2 ranks × 1 thread")
    n = len(two_r)
    out.para("Aggregate training throughput (samples/s, gn_net_fit through the real path, global "
             "batch B, the slowest rank's time); speedup over 1 rank × 1 thread and parallel "
             "efficiency = speedup / 2." +
             (f" 2-rank figures: median over {n} runs (min–max)." if n > 1 else ""))
    head = ["config", "B", "1×1", "1×2 threads", "speedup", "eff."]
    for h in REDUCTIONS:
        head += [f"2 ranks {h}", "speedup", "eff."]
    rows = []
    for name in configs:
        base = one[name]["tput"]["none"]["sps"]
        t2 = two_t.get(name, {}).get("tput", {}).get("none", {}).get("sps")
        row = [name, str(one[name]["B"]), f_rate(base), f_rate(t2),
               f_x(t2 / base if t2 else None), f_pct(t2 / base / 2 if t2 else None)]
        for h in REDUCTIONS:
            v = [r[name]["tput"][h]["sps"] for r in two_r if h in r.get(name, {}).get("tput", {})]
            med = statistics.median(v) if v else None
            row += [spread(v) if v else "–", f_x(med / base if med else None),
                    f_pct(med / base / 2 if med else None)]
        rows.append(row)
    out.table(head, rows, [False] + [True] * (len(head) - 1))

    out.para("Where a 2-rank step goes (ms; medians over the 2-rank runs): the step, the "
             "compute part alone at the local batch B/2 (reducer removed, both ranks computing "
             "at once), the reducer's hooks alone on the gradient buffer, and the step they "
             "predict added; overlap against the better blocking reduction (< 1: overlap "
             "faster).")
    head = ["config", "bytes", "compute B/2"]
    for h in REDUCTIONS:
        head += [f"{h} step", "comm", "compute+comm"]
    head += ["overlap / blocking"]
    rows = []
    for name in configs:
        t = [r[name]["tput"] for r in two_r if name in r]
        if not t:
            continue
        any_h = next(iter(t[0].values()))
        comp = statistics.median(x[h]["compute_ms"] for x in t for h in x)
        row = [name, f"{any_h['bytes']:,}", f_ms(comp)]
        step = {}
        for h in REDUCTIONS:
            s = [x[h]["step_ms"] for x in t if h in x]
            c = [x[h]["comm_ms"] for x in t if h in x]
            step[h] = statistics.median(s) if s else None
            cm = statistics.median(c) if c else None
            row += [f_ms(step[h]), f_ms(cm), f_ms(comp + cm if cm is not None else None)]
        blocking = [step[h] for h in BLOCKING if step[h] is not None]
        row.append(f"{step['overlap'] / min(blocking):.2f}"
                   if blocking and step["overlap"] is not None else "–")
        rows.append(row)
    out.table(head, rows, [False] + [True] * (len(head) - 1))


def model(out, one, configs, bw_gbps, alpha_us, ranks, threshold):
    bw = bw_gbps * 1e9 / 8  # bytes/s
    alpha = alpha_us * 1e-6
    dp = all(one[name]["compute_dp"] for name in configs)
    out.heading(f"Model: p ranks on a {bw_gbps:g} Gb/s network")
    out.para(f"t_comm(p) = 2(p−1)/p · bytes / BW + 2(p−1)·α, BW = {bw_gbps:g} Gb/s "
             f"({bw / 1e9:g} GB/s), α = {alpha_us:g} µs per message (a ring all-reduce: p−1 "
             "reduce-scatter and p−1 all-gather steps; α of a few µs is typical of a 100 Gb/s "
             "InfiniBand or RoCE fabric with MPI, TCP over Ethernet is nearer 20–50 µs). "
             "t_compute = the measured 1-rank, 1-thread compute time of one step at the local "
             "batch (strong scaling: ⌈B/p⌉ per rank, global batch B; weak scaling: B per rank, "
             "global batch p·B)" +
             (", through the data-parallel path (the gradient written out, checked and applied "
              "in passes of their own, as under MPI, rather than plain SGD's update fused into "
              "the weight product)" if dp else ", on the plain path (plain SGD's update fused "
              "into the weight product: optimistic for a data-parallel step)") +
             ". Efficiency = t_1 / (p · t_step) (strong), t_1 / t_step (weak), t_1 = the plain "
             "1-rank compute time of a step at batch B; t_step = t_compute + t_comm without overlap, "
             "max(t_compute, t_comm) with perfect overlap (an upper bound on efficiency: only "
             "the backward products can hide the reduction). Times in ms.")
    head = ["config", "bytes", "p", "local batch", "t_compute", "t_comm", "strong eff.",
            "strong, overlap", "weak eff.", "weak, overlap"]
    rows, verdicts = [], []
    for name in configs:
        c = one[name]
        B, comp = c["B"], c["compute_dp"] if dp else c["compute"]
        nbytes = c["tput"]["none"]["bytes"]
        t1 = c["compute"].get(B)
        if t1 is None:
            fail(f"{name}: no compute row at the whole batch {B}")
        strong, weak = {}, {}
        for p in ranks:
            lb = math.ceil(B / p)
            tc = comp.get(lb)
            if tc is None:
                fail(f"{name}: no compute row at local batch {lb} (B = {B}, p = {p})")
            tm = 1e3 * (2 * (p - 1) / p * nbytes / bw + 2 * (p - 1) * alpha)
            es, eso = t1 / (p * (tc + tm)), t1 / (p * max(tc, tm))
            tb = comp.get(B)
            if tb is None:
                fail(f"{name}: no compute row at the whole batch {B}")
            ew, ewo = t1 / (tb + tm), t1 / max(tb, tm)
            strong[p], weak[p] = (es, eso), (ew, ewo)
            note = f" ({p - B} idle)" if p > B else ""
            rows.append([name, f"{nbytes:,}", str(p), f"{lb}{note}", f_ms(tc), f_ms(tm),
                         f_pct(es), f_pct(eso), f_pct(ew), f_pct(ewo)])
        verdicts.append(verdict(name, B, ranks, strong, weak, threshold, out.md))
    out.table(head, rows, [False, True, True, True, True, True, True, True, True, True])

    # Which batch sizes scale: a local batch b on p ranks (global batch p·b) against one rank's
    # throughput at B: (b · t_1 / B) / (t_compute(b) + t_comm(p)).
    out.para(f"Which batch sizes scale: the smallest measured local batch b (of B, B/2, B/8, "
             f"B/64, B/512) whose efficiency on p ranks, (b · t_1/B) / (t_compute(b) + "
             f"t_comm(p)), reaches {100 * threshold:.0f} % (blocking), with that efficiency and "
             f"the global batch p·b; '–' if none does, not even b = B.")
    head = ["config", "B"] + [f"p = {p}" for p in ranks]
    rows = []
    for name in configs:
        c = one[name]
        B, comp = c["B"], c["compute_dp"] if dp else c["compute"]
        nbytes = c["tput"]["none"]["bytes"]
        t1 = c["compute"][B]
        row = [name, str(B)]
        for p in ranks:
            tm = 1e3 * (2 * (p - 1) / p * nbytes / bw + 2 * (p - 1) * alpha)
            fit = [(b, b * t1 / B / (comp[b] + tm)) for b in sorted(comp)]
            ok = [(b, e) for b, e in fit if e >= threshold]
            row.append(f"b ≥ {ok[0][0]} ({f_pct(ok[0][1])}, global {p * ok[0][0]:,})"
                       if ok else "–")
        rows.append(row)
    out.table(head, rows, [False] + [True] * (len(head) - 1))
    out.para(f"Verdicts (scales = efficiency ≥ {100 * threshold:.0f} %, blocking reduction; "
             "overlap in brackets where it changes the answer):")
    for v in verdicts:
        print(f"- {v}" if out.md else f"  {v}")
    print()


def verdict(name, B, ranks, strong, weak, threshold, md):
    def reach(eff, i):
        """The largest p up to which every p scales, or None."""
        best = None
        for p in ranks:
            if eff[p][i] < threshold:
                break
            best = p
        return best

    def say(kind, eff):
        b0, b1 = reach(eff, 0), reach(eff, 1)
        worst = ranks[-1]
        if b0 == worst:
            s = f"{kind} scales to {worst} ranks ({f_pct(eff[worst][0])})"
        elif b0 is None:
            s = f"{kind} does not scale (already {f_pct(eff[ranks[0]][0])} at {ranks[0]})"
        else:
            nxt = ranks[ranks.index(b0) + 1]
            s = (f"{kind} scales to {b0} ranks ({f_pct(eff[b0][0])}), not to {nxt} "
                 f"({f_pct(eff[nxt][0])})")
        if b1 != b0:
            s += f" [overlap: up to {b1 if b1 else 'none'}]"
        return s

    label = f"**{name}**" if md else name
    return f"{label} (B = {B}): " + "; ".join(
        [say("strong (global batch B)", strong), say("weak (B per rank)", weak)]) + "."


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--one-thread", required=True, metavar="FILE")
    ap.add_argument("--two-threads", required=True, metavar="FILE")
    ap.add_argument("--two-ranks", required=True, metavar="FILE", action="append")
    ap.add_argument("--bandwidth", type=float, default=100.0, metavar="GBPS",
                    help="network bandwidth in Gb/s (default 100)")
    ap.add_argument("--latency", type=float, default=5.0, metavar="US",
                    help="per-message latency alpha in µs (default 5)")
    ap.add_argument("--ranks", default="8,64,512", help="rank counts (default 8,64,512)")
    ap.add_argument("--threshold", type=float, default=0.7,
                    help="efficiency that counts as scaling (default 0.7)")
    ap.add_argument("--markdown", action="store_true", help="Markdown tables")
    a = ap.parse_args()
    try:
        ranks = sorted({int(x) for x in a.ranks.split(",")})
    except ValueError:
        fail(f"--ranks wants integers, not '{a.ranks}'")
    if not ranks or ranks[0] < 2 or not a.bandwidth > 0 or not a.latency >= 0:
        fail("--ranks must be >= 2, --bandwidth > 0, --latency >= 0")

    one = read_run(a.one_thread)
    two_t = read_run(a.two_threads)
    two_r = [read_run(p) for p in a.two_ranks]
    check_run(one, a.one_thread, 1, 1)
    check_run(two_t, a.two_threads, 1, 2)
    for r, p in zip(two_r, a.two_ranks):
        check_run(r, p, 2, 1)
    order = ["nielsen", "mlp", "wide", "huge"]
    configs = [c for c in order if c in one] + [c for c in one if c not in order]
    for name in configs:
        if "none" not in one[name]["tput"]:
            fail(f"{a.one_thread}: {name} has no throughput row")
    out = Out(a.markdown)
    measured(out, one, two_t, two_r, configs)
    model(out, one, configs, a.bandwidth, a.latency, ranks, a.threshold)


if __name__ == "__main__":
    main()
