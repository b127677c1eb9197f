#!/usr/bin/env bash
# Runs sections of benchmarks/gpu.py each in its own fresh Python process (as the product runs:
# one model family per process), so no section inherits another's allocator state or cuDNN
# algorithm choices. Usage (repository root, on the device machine):
#   bash benchmarks/device_gpu_fresh.sh "inference_c5,training_c5" "forecast" ...
# Each argument is one process: the comma list of sections it runs. Results go to
# $OUT/fresh_N.json and $OUT/fresh_N.md (N = argument number).
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
ALL=afno,inference_c40,profile_train,training_c40,forecast,inference_c5,training_c5,profile
n=0
for keep in "$@"; do
    n=$((n + 1))
    skip=$(tr , '\n' <<<"$ALL" | grep -vxF -f <(tr , '\n' <<<"$keep") | paste -sd,)
    echo "== process $n: $keep =="
    SECONDS=0
    python3 benchmarks/gpu.py --out "/tmp/fresh_$n" --budget-s 560 --skip "$skip" \
        >"/tmp/fresh_$n.log" 2>&1
    echo "rc=$? in ${SECONDS}s"
    grep -v '^\s*$' "/tmp/fresh_$n.log" | grep -v "Warning\|_warn_once" | tail -n 30
    cp "/tmp/fresh_$n/results.json" "$OUT/fresh_$n.json" 2>/dev/null
    cp "/tmp/fresh_$n/table.md" "$OUT/fresh_$n.md" 2>/dev/null
done
