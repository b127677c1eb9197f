#!/usr/bin/env bash
# On the lent 2-GPU device machine: DDP scaling of full-size training steps (1 GPU vs 2 GPUs,
# same store, same code, same run). Usage (repository root, wheels in .whl/):
#   bash benchmarks/device_ddp.sh [modes-1-gpu [modes-2-gpus]]
# modes: comma lists for bench_train_gpu.py --modes (default fast,eager for both).
set -u
MODES=${1:-fast,eager}
MODES2=${2:-$MODES}
. benchmarks/device_env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpus.txt"
nvidia-smi topo -m | tee -a "$OUT/gpus.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'nccl', torch.cuda.nccl.version())" | tee -a "$OUT/gpus.txt"

echo "== 1 GPU (also builds the store) =="
SECONDS=0
timeout 300 python3 benchmarks/bench_train_gpu.py --store /tmp/fullstore --days 12 \
    --group surface --steps 6 --modes "$MODES" --out "$OUT/train_gpu.jsonl" \
    >"$OUT/train_1gpu.log" 2>&1
echo "rc=$? in ${SECONDS}s"; tail -6 "$OUT/train_1gpu.log"

echo "== 2 GPUs, DDP over NCCL =="
SECONDS=0
timeout 240 torchrun --standalone --nproc_per_node 2 benchmarks/bench_train_gpu.py \
    --store /tmp/fullstore --group surface --steps 6 --modes "$MODES2" --workers 4 \
    --out "$OUT/train_gpu.jsonl" >"$OUT/train_2gpu.log" 2>&1
echo "rc=$? in ${SECONDS}s"; tail -6 "$OUT/train_2gpu.log"
