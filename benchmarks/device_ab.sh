#!/usr/bin/env bash
# On the lent single-GPU device machine: the 10-day forecast of the three groups (gpu.py's
# forecast section) under several environment settings, one
# after another in fresh processes sharing one Inductor cache (only the first compiles cold,
# except settings that change the compiled code); the eager baseline runs with the first setting
# only (~25 s saved per further setting). Usage (repository root, wheels in .whl/):
#   bash benchmarks/device_ab.sh ['NAME:VAR=VALUE[+VAR=VALUE...]' ...]
# Default: the product's defaults, the Inception branches run separately, no Triton convolutions.
. benchmarks/device_env.sh; export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/ind}
if [ $# -eq 0 ]; then
    set -- "default:" "separate:GLONET_REGIONS_INCEPTION_COMBINED=0" "cudnn_only:GLONET_REGIONS_CONV_TRITON=0"
fi
skip=afno,inference_c40,training_c40,inference_c5,training_c5,profile_train,profile
eager=--forecast-eager
for setting in "$@"; do
    name=${setting%%:*}; vars=${setting#*:}; mkdir -p "$OUT/$name"
    SECONDS=0
    IFS=+ read -r -a assignments <<<"$vars"
    env "${assignments[@]}" python3 benchmarks/gpu.py --out "$OUT/$name" --budget-s 240 --skip $skip $eager \
        >"$OUT/$name/run.log" 2>&1
    rc=$?; eager=--no-forecast-eager
    echo "== $name ($vars) rc=$rc ${SECONDS}s"
    grep -E "forecast (eager|capture|per group|fast|conv choices)" "$OUT/$name/run.log" | sed 's/^/   /'
done
