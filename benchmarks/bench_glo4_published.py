"""A 10-day global GLONET forecast (three depth groups) on glo4, run as operationally.

Times :func:`glonet_regions.forecast.published_global.run_published_forecast` end to end on
GLONET's 672 x 1440 grid: reading the two initial days, normalising, 5 calls of each of the
three published models (fp16 autocast on CUDA), de-normalising, building the cube; and,
separately, the model calls alone (the figure GLONET quotes as "seconds").

Usage (on a GPU machine)::

    python benchmarks/bench_glo4_published.py --weights-dir DIR --device cuda   # real files
    python benchmarks/bench_glo4_published.py --random --device cuda            # no files

``--weights-dir`` takes the published ``glonet_p1.pt``/``glonet_p2.pt``/``glonet_p3.pt`` and
their statistics folders (``glonet-regions model fetch``); ``--random`` builds full-size
networks of the same shapes with random weights (eager PyTorch, no filter layer) and unit
statistics, which times the same arithmetic. The initial days are synthetic. Prints one JSON
line per repeat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _initial_file(path: Path, start: dt.date) -> None:
    import xarray as xr

    from glonet_regions.core.depth import GLONET_LEVELS

    rng = np.random.default_rng(0)
    lat = -78.0 + 0.25 * np.arange(672)
    lon = -180.0 + 0.25 * np.arange(1440)
    depth = np.asarray(GLONET_LEVELS.values)
    land = rng.random((672, 1440)) < 0.3
    days = [start - dt.timedelta(days=2), start - dt.timedelta(days=1)]
    data: dict[str, Any] = {}
    for v, var in enumerate(("zos", "thetao", "so", "uo", "vo")):
        if var == "zos":
            a = rng.standard_normal((2, 672, 1440), dtype=np.float32)
            a[:, land] = np.nan
            data[var] = (("time", "latitude", "longitude"), a)
        else:
            a = rng.standard_normal((2, depth.size, 672, 1440), dtype=np.float32) + v
            a[:, :, land] = np.nan
            data[var] = (("time", "depth", "latitude", "longitude"), a)
    times = np.array([np.datetime64(f"{d}T12:00") for d in days]).astype("datetime64[ns]")
    xr.Dataset(
        data, coords={"time": times, "depth": depth, "latitude": lat, "longitude": lon}
    ).to_netcdf(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights-dir", type=Path)
    src.add_argument("--random", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    from glonet_regions.forecast.published_global import (
        FilesSource,
        PublishedForecastConfig,
        StatisticsLoader,
        jit_load,
        released_statistics,
        run_published_forecast,
    )
    from glonet_regions.model.network import build_glonet
    from glonet_regions.registry.facade import get_region

    region = get_region("glo4")
    start = dt.date(2024, 1, 3)
    calls = {"seconds": 0.0}

    def timed(model: Any) -> Any:
        def run(x: Any) -> Any:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = model(x)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            calls["seconds"] += time.perf_counter() - t
            return out

        return run

    statistics: StatisticsLoader = released_statistics("published")
    if args.random:
        channels = {"glonet_p1.pt": 5, "glonet_p2.pt": 40, "glonet_p3.pt": 40}

        def load_model(path: Path, device: str) -> Any:
            net = build_glonet(channels[path.name], "full", (672, 1440))
            return timed(net.to(device).eval())

        def unit_statistics(_dir: Path, group: Any, _levels: Any) -> tuple[np.ndarray, np.ndarray]:
            return np.zeros(group.n_channels, np.float32), np.ones(group.n_channels, np.float32)

        statistics = unit_statistics

        weights_dir = Path("random")
    else:

        def load_model(path: Path, device: str) -> Any:
            return timed(jit_load(path, device))

        weights_dir = args.weights_dir

    with tempfile.TemporaryDirectory() as tmp:
        init = Path(tmp) / "glo4_initial.nc"
        _initial_file(init, start)
        source = FilesSource([init])
        config = PublishedForecastConfig(
            weights_dir=weights_dir, days=args.days, device=args.device
        )
        for rep in range(args.repeats):
            calls["seconds"] = 0.0
            t0 = time.perf_counter()
            cube = run_published_forecast(
                source, region, [start], config, statistics=statistics, load_model=load_model
            )
            total = time.perf_counter() - t0
            print(
                json.dumps(
                    {
                        "repeat": rep,
                        "device": args.device,
                        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "",
                        "weights": "random" if args.random else str(weights_dir),
                        "days": args.days,
                        "model_calls_s": round(calls["seconds"], 3),
                        "end_to_end_s": round(total, 3),
                        "cube_variables": sorted(str(v) for v in cube.data_vars),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
