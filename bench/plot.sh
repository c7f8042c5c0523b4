#!/usr/bin/env bash
# Plot gemmnet-bench results as one PNG with two panels:
#   top:    GFLOP/s of each per-layer product (forward, wgrad, delta), naive / loop / blas
#           bars side by side, log scale;
#   bottom: samples/s of the full training step, the sgemm-only bound and inference per
#           configuration (plus PyTorch's step when such records are present), log scale,
#           with step/bound in percent above the step bar.
#
# Usage: bench/plot.sh RESULTS.csv|RESULTS.json OUT.png
#
# RESULTS is what `gemmnet-bench --csv FILE` or `--json FILE` wrote (a JSON file is turned
# into the same CSV with /usr/bin/python3 first). Columns are found by name in the header,
# so the order of columns does not matter. When the file holds several thread counts (a
# --sweep), each bar shows the record with the most threads for that product and impl.
# With several sgemm backends (the `backend` column), the blas bar and the bound show the
# fastest backend, and the step bar the step with the automatic choice (backend "auto"; the
# fastest forced step when a --backend run has none).
#
# Needs gnuplot (Debian: apt-get install gnuplot-nox) and awk. The CPU named in the title is
# the one of the machine that plots (/proc/cpuinfo); set GEMMNET_CPU to name another one
# when plotting results brought from elsewhere.
set -euo pipefail

die() { echo "plot.sh: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || { echo "usage: $0 RESULTS.csv|RESULTS.json OUT.png" >&2; exit 2; }
in=$1
out=$2
[[ -r $in ]] || die "cannot read $in"
command -v gnuplot >/dev/null 2>&1 \
    || die "gnuplot is not installed (apt-get install gnuplot-nox)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gemmnet-plot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# JSON -> CSV with the benchmark's header. Debian's interpreter, not whatever python3 is
# first on PATH: only the standard library is used, but it is the one known to be there.
if [[ $in == *.json ]]; then
    py=/usr/bin/python3
    [[ -x $py ]] || py=$(command -v python3 || true)
    [[ -n $py ]] || die "python3 is needed to read a .json file (or pass the --csv output)"
    "$py" -c '
import csv, json, sys
cols = ["config", "op", "impl", "threads", "batch", "m", "n", "k", "seconds",
        "min_seconds", "gflops", "samples_per_s", "max_rel_err", "backend"]
with open(sys.argv[1]) as f:
    recs = json.load(f)
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(cols)
for r in recs:
    w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
' "$in" >"$tmp/results.csv" || die "could not convert $in from JSON"
    in=$tmp/results.csv
fi

# Reshape the records into two gnuplot data files with awk:
#   products.dat  "label" naive loop blas          (one line per config/op/size)
#   rates.dat     "label" step bound inference [pytorch] pct
# and shell assignments in meta.sh (counts, value ranges, thread counts). Missing values
# are written as "?" so that gnuplot leaves a gap instead of dropping the whole line.
awk -F, -v dir="$tmp" '
function num(s) { return s + 0 }
function keep(key, thr, val) {
    # Keep the record with the most threads for each key (a --sweep has several), and among
    # those the fastest (one per sgemm backend).
    if (!(key in best_thr) || thr > best_thr[key] || (thr == best_thr[key] && val > best_val[key])) {
        best_thr[key] = thr; best_val[key] = val
    }
}
function lo(v) { if (v > 0 && (minv == "" || v < minv)) minv = v }
function hi(v) { if (v > 0 && (maxv == "" || v > maxv)) maxv = v }
{ sub(/\r$/, "") }
NR == 1 {
    for (i = 1; i <= NF; i++) col[$i] = i
    split("config op impl threads batch m n k gflops samples_per_s", need, " ")
    for (i = 1; i in need; i++) if (!(need[i] in col)) missing = missing " " need[i]
    if (missing != "") { print "plot.sh: missing column(s):" missing > "/dev/stderr"; bad = 1; exit 1 }
    next
}
NF < 2 { next }
{
    cfg = $col["config"]; op = $col["op"]; impl = $col["impl"]; thr = num($col["threads"])
    threads[thr] = 1
    if (op == "forward" || op == "wgrad" || op == "delta") {
        pkey = cfg " " op " " $col["m"] "x" $col["n"] "x" $col["k"]
        if (!(pkey in pseen)) {
            pseen[pkey] = 1; porder[++np] = pkey
            if (length(pkey) > maxlab) maxlab = length(pkey)
        }
        if ($col["gflops"] != "") keep("P" SUBSEP pkey SUBSEP impl, thr, num($col["gflops"]))
    } else if (op == "step" || op == "bound" || op == "inference") {
        # One cluster per config and batch size, in case a run varied the batch.
        ckey = cfg " (batch " $col["batch"] ")"
        if (!(ckey in cseen)) { cseen[ckey] = 1; corder[++nc] = ckey }
        what = (op == "step" && impl == "pytorch") ? "pytorch" : op
        # a step forced on one backend: only a stand-in when there is no automatic step
        be = ("backend" in col) ? $col["backend"] : ""
        if (what == "step" && be != "" && be != "auto") what = "fstep"
        if (what == "pytorch") have_pt = 1
        if ($col["samples_per_s"] != "") keep("R" SUBSEP ckey SUBSEP what, thr, num($col["samples_per_s"]))
    }
}
END {
    if (bad) exit 1
    f = dir "/products.dat"
    split("naive loop blas", impls, " ")
    pmin = ""; pmax = ""
    for (i = 1; i <= np; i++) {
        line = "\"" porder[i] "\""
        for (j = 1; j <= 3; j++) {
            key = "P" SUBSEP porder[i] SUBSEP impls[j]
            if (key in best_val) {
                v = best_val[key]; line = line " " v
                minv = pmin; maxv = pmax; lo(v); hi(v); pmin = minv; pmax = maxv
            } else line = line " ?"
        }
        print line > f
    }
    close(f)
    f = dir "/rates.dat"
    for (i = 1; i <= nc; i++) {
        ks = "R" SUBSEP corder[i] SUBSEP "step"; kf = "R" SUBSEP corder[i] SUBSEP "fstep"
        if (!(ks in best_val) && kf in best_val) best_val[ks] = best_val[kf]
    }
    n_what = have_pt ? 4 : 3
    split("step bound inference pytorch", whats, " ")
    rmin = ""; rmax = ""
    for (i = 1; i <= nc; i++) {
        c = corder[i]
        line = "\"" c "\""
        for (j = 1; j <= n_what; j++) {
            key = "R" SUBSEP c SUBSEP whats[j]
            if (key in best_val) {
                v = best_val[key]; line = line " " v
                minv = rmin; maxv = rmax; lo(v); hi(v); rmin = minv; rmax = maxv
            } else line = line " ?"
        }
        ks = "R" SUBSEP c SUBSEP "step"; kb = "R" SUBSEP c SUBSEP "bound"
        pct = (ks in best_val && kb in best_val && best_val[kb] > 0) \
            ? sprintf("%.0f%%", 100 * best_val[ks] / best_val[kb]) : ""
        print line " \"" pct "\"" > f
    }
    close(f)
    tl = ""
    for (t in threads) tl = (tl == "" ? t : tl "," t)
    printf "n_products=%d\nn_configs=%d\nhave_pytorch=%d\n", np, nc, have_pt + 0
    printf "pmin=%s\npmax=%s\nrmin=%s\nrmax=%s\n", (pmin == "" ? 1 : pmin), (pmax == "" ? 1 : pmax), (rmin == "" ? 1 : rmin), (rmax == "" ? 1 : rmax)
    printf "thread_list=%s\nmax_label=%d\n", tl, maxlab + 0
}
' "$in" >"$tmp/meta.sh" || die "$in does not look like gemmnet-bench output (header: config,op,impl,threads,...)"
# Defaults for what meta.sh assigns (and so shellcheck sees them assigned).
n_products=0 n_configs=0 have_pytorch=0 max_label=0 pmin=1 pmax=1 rmin=1 rmax=1 thread_list=
# shellcheck disable=SC1091
. "$tmp/meta.sh"
((n_products + n_configs > 0)) || die "$in holds no product, step, bound or inference record"

# Thread counts sorted numerically for the title ("for (t in threads)" has no order).
thread_list=$(tr , '\n' <<<"$thread_list" | sort -n | paste -sd, -)
if [[ $thread_list == *,* ]]; then
    threads_txt="threads ${thread_list} (bars: most threads)"
else
    threads_txt="${thread_list} thread$([[ $thread_list == 1 ]] || echo s)"
fi
cpu=${GEMMNET_CPU:-$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)}
cpu=${cpu:-unknown CPU}
title="gemmnet-bench on ${cpu}, ${threads_txt}"
# The title goes inside a gnuplot double-quoted string.
title=${title//\\/\\\\}
title=${title//\"/\\\"}

# pngcairo draws anti-aliased text and lines; the libgd png terminal is the fallback.
if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then
    term='pngcairo enhanced font "sans,10"'
elif gnuplot -e 'set terminal' 2>&1 | grep -qw png; then
    term='png'
else
    die "this gnuplot has neither the pngcairo nor the png terminal (apt-get install gnuplot-nox)"
fi

# Layout in pixels, bottom to top, turned into "set [tb]margin at screen" fractions so
# that the vertical product labels never run into the panel below, whatever their length:
#   bottom panel: 45 px of x labels, 380 px of plot, 40 px for its title;
#   top panel:    the vertical labels (about 7 px per character at font size 9), 420 px
#                 of plot, 30 px for its title; then 45 px for the overall title.
# Width: about 45 px per cluster of three bars, so the vertical labels have room.
width=$(( n_products * 45 + 160 ))
(( width < 900 )) && width=900
(( width > 4000 )) && width=4000
title_px=45
top_plot_px=420
top_title_px=30
label_px=$(( max_label * 7 + 15 ))
bot_labels_px=45
bot_plot_px=380
bot_title_px=40
height=$title_px
((n_products > 0)) && height=$(( height + top_title_px + top_plot_px + label_px ))
((n_configs > 0)) && height=$(( height + bot_title_px + bot_plot_px + bot_labels_px ))
frac() { awk -v p="$1" -v h="$height" 'BEGIN { printf "%.5f", p / h }'; }
# Left/right margins in pixels too, identical for both panels so their frames line up.
lmargin=$(awk -v w="$width" 'BEGIN { printf "%.5f", 80 / w }')
rmargin=$(awk -v w="$width" 'BEGIN { printf "%.5f", 1 - 25 / w }')

{
    cat <<EOF
set terminal $term size $width,$height
set output "$out"
# Plain text: no "_" subscripts or "^" superscripts in labels and titles.
set termoption noenhanced
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.95 relative
set logscale y
set grid ytics mytics lc rgb "#d8d8d8"
set key top left horizontal reverse Left opaque box samplen 2 spacing 1.1
set xtics nomirror scale 0
set ytics nomirror
set format y "%g"
set lmargin at screen $lmargin
set rmargin at screen $rmargin
EOF
    echo "set multiplot title \"$title\" font \",13\""

    if ((n_products > 0)); then
        top_hi=$(( height - title_px - top_title_px ))
        top_lo=$(( top_hi - top_plot_px ))
        # y range: about a decade of slack above so the key does not hide the tallest bars.
        cat <<EOF
set tmargin at screen $(frac $top_hi)
set bmargin at screen $(frac $top_lo)
set title "Per-layer products: GFLOP/s of each sgemm (config, op, m x n x k)"
set ylabel "GFLOP/s"
set yrange [$(awk -v v="$pmin" 'BEGIN{print v/3}'):$(awk -v v="$pmax" 'BEGIN{print v*12}')]
set xtics rotate by 90 right font ",9"
set xrange [-0.6:$n_products-0.4]
plot "$tmp/products.dat" using 2:xtic(1) title "naive" lc rgb "#d95f02", \
     "" using 3 title "loop" lc rgb "#7570b3", \
     "" using 4 title "blas" lc rgb "#1b9e77"
EOF
    fi

    if ((n_configs > 0)); then
        bot_lo=$bot_labels_px
        bot_hi=$(( bot_lo + bot_plot_px ))
        n_bars=$((have_pytorch ? 4 : 3))
        # Centre of the step bar (first of each cluster) for the percentage label: with n
        # bars and gap 1 each bar is 1/(n+1) wide and the cluster is centred on its index.
        step_off=$(awk -v n=$n_bars 'BEGIN{printf "%.4f", -(n-1)/2/(n+1)}')
        cat <<EOF
set tmargin at screen $(frac $bot_hi)
set bmargin at screen $(frac $bot_lo)
set title "Training throughput: full step vs its sgemm calls alone (percent: step / bound)"
set ylabel "samples/s"
set yrange [$(awk -v v="$rmin" 'BEGIN{print v/3}'):$(awk -v v="$rmax" 'BEGIN{print v*12}')]
set xtics norotate center font ",10"
# SI prefixes (10k, 1M) read better than 1e+06 for rates.
set format y "%.0s%c"
set xrange [-0.6:$n_configs-0.4]
EOF
        pt=""
        if ((have_pytorch)); then
            pt=", \"\" using 5 title \"pytorch step\" lc rgb \"#e7298a\""
        fi
        pct_col=$((n_bars + 2))
        cat <<EOF
plot "$tmp/rates.dat" using 2:xtic(1) title "step" lc rgb "#1f78b4", \
     "" using 3 title "bound (sgemm only)" lc rgb "#a6cee3", \
     "" using 4 title "inference" lc rgb "#33a02c"$pt, \
     "" using (\$0 + $step_off):2:$pct_col with labels center offset 0,0.8 font ",10" notitle
EOF
    fi
    echo "unset multiplot"
} >"$tmp/plot.gp"

gnuplot "$tmp/plot.gp" || die "gnuplot failed on the script it was given (see the messages above)"
echo "wrote $out"
