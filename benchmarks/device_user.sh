#!/usr/bin/env bash
# On the lent single-GPU device machine: the three user-facing figures of docs/performance.md
# ("Time to the user's answer"), each against eager in the same call, every command in a fresh
# process (benchmarks/gpu_user.py), then the steady training step and its fraction of the bf16
# matmul peak (benchmarks/bench_train_gpu.py). Usage (repository root, wheels in .whl/):
#   bash benchmarks/device_user.sh [PARTS]   # PARTS: train,single,package,campaign (default: all)
# Budget: the store (~3 min) and the bundle (train) on the first call; one or two PARTS per
# call to stay under the 10-minute limit (the store and bundle under /tmp/gpu_user are reused
# by a warm machine only), e.g. "train,single", then "package", then "campaign".
. benchmarks/device_env.sh
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . -e plugins/glonet-regions-ibi36 >$OUT/pip.log 2>&1 || echo pip failed
parts=${1:-train,single,package,campaign}
prep=; [ -d /tmp/gpu_user/store ] || prep=--prepare
python3 benchmarks/gpu_user.py --out "$OUT/user" --work /tmp/gpu_user --store /tmp/gpu_user/store \
    $prep --parts "$parts" --campaign-starts 52 2>&1 | tee "$OUT/user.log" | grep -v '^{"name"'
if [[ $parts == *train* ]]; then
    python3 benchmarks/bench_train_gpu.py --store /tmp/gpu_user/train_store --days 12 \
        --group intermediate --steps 8 --modes eager,fast --out "$OUT/train" 2>&1 | tail -12
fi
