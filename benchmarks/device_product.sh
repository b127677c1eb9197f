#!/usr/bin/env bash
# On the lent single-GPU device machine: the product commands on CUDA with the fast path
# (finetune ibi36 --sample, forecast with --exec-mode auto and eager) and the difference of the
# two forecasts. Usage (repository root, wheels in .whl/): bash benchmarks/device_product.sh
. benchmarks/device_env.sh; export TORCHINDUCTOR_CACHE_DIR=/tmp/ind
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . -e plugins/glonet-regions-ibi36 >$OUT/pip.log 2>&1 || echo pip failed
SECONDS=0; timeout 230 python3 -m glonet_regions.cli finetune ibi36 --sample --run-dir /tmp/r --epochs 2 --device cuda --no-progress >$OUT/ft.log 2>&1; echo "finetune rc=$? ${SECONDS}s"; grep -iE "epoch|score|persist|rmse|error" $OUT/ft.log | tail -14
for m in auto eager; do SECONDS=0; timeout 100 python3 -m glonet_regions.cli forecast ibi36 --sample --checkpoint /tmp/r/checkpoints/best.pt --device cuda --exec-mode $m --out /tmp/fc_$m.nc >$OUT/fc_$m.log 2>&1; echo "forecast $m rc=$? ${SECONDS}s"; tail -2 $OUT/fc_$m.log; done
python3 - <<'PY'
import xarray as xr, numpy as np
a, b = xr.open_dataset("/tmp/fc_auto.nc"), xr.open_dataset("/tmp/fc_eager.nc")
for v in a.data_vars:
    x, y = a[v].values.astype("f8"), b[v].values.astype("f8")
    m = np.isfinite(x) & np.isfinite(y)
    print(v, "rel L2 auto vs eager", float(np.linalg.norm((x - y)[m]) / np.linalg.norm(y[m])))
PY
