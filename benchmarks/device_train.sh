#!/usr/bin/env bash
# On the lent 2-GPU device machine: DDP fine-tuning with NCCL through the product's CLI, then
# full-size training steps (loader vs on-GPU batches, eager vs optimised) on 1 and 2 GPUs.
# Usage (repository root, wheels for missing packages in .whl/): bash benchmarks/device_train.sh
set -u
. benchmarks/device_env.sh
# Entry points need installed metadata: install both distributions without dependencies.
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . \
    -e plugins/glonet-regions-ibi36 >"$OUT/pip.log" 2>&1 || echo "pip -e failed (see pip.log)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpus.txt"
python3 -c "import torch, xarray, zarr; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'xarray', xarray.__version__, 'zarr', zarr.__version__)" | tee -a "$OUT/gpus.txt"
python3 -m glonet_regions.cli regions list | tee "$OUT/regions.txt"

echo "== 1. finetune ibi36 --sample under torchrun, 2 GPUs, NCCL =="
SECONDS=0
timeout 190 torchrun --standalone --nproc_per_node 2 -m glonet_regions.cli finetune ibi36 \
    --sample --run-dir /tmp/ddp --epochs 2 --device cuda --no-progress \
    >"$OUT/ddp_finetune.log" 2>&1
echo "rc=$? in ${SECONDS}s"; tail -25 "$OUT/ddp_finetune.log"
cp /tmp/ddp/metrics.json "$OUT/ddp_metrics.json" 2>/dev/null
python3 - <<'PY' | tee "$OUT/ddp_check.txt"
import torch
from glonet_regions.model.bundle import load_bundle
b = load_bundle("/tmp/ddp/checkpoints/last.pt")
print("bundle groups", list(b.groups), "grid", b.grid.shape)
m = b.build_model("surface", "cuda")
x = torch.randn(1, 2, 5, *b.grid.shape, device="cuda")
with torch.no_grad():
    print("forward ok", tuple(m(x).shape))
PY

echo "== 2. full-size training steps, 1 GPU =="
SECONDS=0
timeout 230 python3 benchmarks/bench_train_gpu.py --store /tmp/fullstore --days 12 \
    --group surface --steps 6 --modes eager,fast --out "$OUT/train_gpu.jsonl" \
    >"$OUT/train_1gpu.log" 2>&1
echo "rc=$? in ${SECONDS}s"; tail -8 "$OUT/train_1gpu.log"

echo "== 3. the same under DDP on 2 GPUs (fast path) =="
SECONDS=0
timeout 120 torchrun --standalone --nproc_per_node 2 benchmarks/bench_train_gpu.py \
    --store /tmp/fullstore --group surface --steps 6 --modes fast --workers 4 \
    --out "$OUT/train_gpu.jsonl" >"$OUT/train_2gpu.log" 2>&1
echo "rc=$? in ${SECONDS}s"; tail -6 "$OUT/train_2gpu.log"
