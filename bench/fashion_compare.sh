#!/usr/bin/env bash
# Fashion-MNIST, gemmnet against PyTorch in one run, same thread counts, runs interleaved so
# that a noisy neighbour on a shared machine hits all of them alike:
#   torch    bench/torch_fashion.py: 784-256-128-10 ReLU, softmax cross-entropy, Adam lr 1e-3,
#            batch 128, 10 epochs (the reference recipe)
#   same     gemmnet train with exactly that recipe (throughput like for like)
#   default  gemmnet train with its defaults (what `gemmnet train` does)
#   bench/fashion_compare.sh [REPEATS]        (default 3; needs Debian's python3-torch)
# Prints every run, then per thread count the median training times and the ratios. Data
# loading is timed apart by both (load_seconds) and is not part of train_seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
cli=${GEMMNET_CLI:-build/tools/gemmnet}
py=/usr/bin/python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "fashion_compare: needs python3-torch and python3-numpy (apt-get install python3-torch)" >&2
    exit 1
fi
[ -x "$cli" ] || { echo "fashion_compare: build first (tools/bootstrap)" >&2; exit 1; }
same_recipe=(--epochs 10 --lr 0.001 --schedule constant --standardize no)

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

for threads in 1 2; do
    declare -A times=() acc=()
    for ((r = 1; r <= repeats; r++)); do
        for who in default same torch; do
            case $who in
            default) line=$(OPENBLAS_NUM_THREADS=$threads "$cli" train --threads "$threads" 2>/dev/null | tail -n 2 | tr '\n' ' ') ;;
            same) line=$(OPENBLAS_NUM_THREADS=$threads "$cli" train --threads "$threads" "${same_recipe[@]}" 2>/dev/null | tail -n 2 | tr '\n' ' ') ;;
            torch) line=$("$py" bench/torch_fashion.py --threads "$threads" | tail -n 1) ;;
            esac
            echo "threads=$threads run=$r $who: $line"
            times[$who]+="$(field train_seconds "$line") "
            acc[$who]=$(field test_accuracy "$line")
        done
    done
    d=$(printf '%s\n' ${times[default]} | median)
    s=$(printf '%s\n' ${times[same]} | median)
    t=$(printf '%s\n' ${times[torch]} | median)
    echo "threads=$threads median train_seconds: default=$d (accuracy ${acc[default]})" \
        "same-recipe=$s (accuracy ${acc[same]}) torch=$t (accuracy ${acc[torch]})"
    echo "threads=$threads torch/default=$(ratio "$t" "$d") torch/same-recipe=$(ratio "$t" "$s")"
    unset times acc
done
