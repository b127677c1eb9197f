# Sourced by the benchmarks/device_*.sh scripts on the lent device machine (repository root):
# NCCL without NVLink multicast, unbuffered output, $OUT, the carried wheels (.whl/) installed
# into /tmp/site, and the package and the ibi36 plugin on PYTHONPATH.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src:$PWD/plugins/glonet-regions-ibi36/src
