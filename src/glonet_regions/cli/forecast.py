"""``glonet-regions forecast``: run a trained bundle (or persistence) and write a forecast cube."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from glonet_regions.cli._errors import user_errors


def _dates(value: str | None) -> list[dt.date] | None:
    if not value:
        return None
    out = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(dt.date.fromisoformat(item))
        except ValueError:
            raise click.BadParameter(f"expected dates YYYY-MM-DD[,...], got {item!r}") from None
    return out


@click.command("forecast")
@click.argument("region_name", metavar="REGION")
@click.option(
    "--checkpoint", type=click.Path(path_type=Path), help="Forecaster bundle (finetune output)."
)
@click.option(
    "--persistence",
    is_flag=True,
    help="Write a persistence forecast (the day before each start held) "
    "instead of running a model.",
)
@click.option(
    "--start",
    "start",
    default=None,
    help="Start date(s) YYYY-MM-DD[,...] (lead day index 0). Default with a store: every 7th "
    "day of the test split that has the initial days and the truth of every lead day.",
)
@click.option(
    "--days",
    default=10,
    show_default=True,
    type=click.IntRange(1, 366),
    help="Forecast length in days.",
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Output cube (.nc or .zarr)."
)
@click.option(
    "--sample", "use_sample", is_flag=True, help="Initial and boundary data from the sample store."
)
@click.option(
    "--store", type=click.Path(path_type=Path), help="Training store with initial/boundary data."
)
@click.option(
    "--truth", type=click.Path(path_type=Path), help="Daily file (only with --persistence)."
)
@click.option(
    "--weights-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Run GLONET's three published models (glonet_p1/2/3.pt and their statistics in DIR) "
    "as its operational pipeline does, on a global region (glo4).",
)
@click.option(
    "--trust-weights",
    is_flag=True,
    help="With --weights-dir: run weight files whose sha256 is not pinned (TorchScript archives "
    "run code when loaded; give it only for files whose origin you trust).",
)
@click.option(
    "--stats-pairing",
    type=click.Choice(["published", "depth"]),
    default="published",
    show_default=True,
    help="With --weights-dir: pair channels with GLONET's statistics (and the deep group's "
    "input levels) as its operational inference does, or each with its own level.",
)
@click.option(
    "--initial",
    "initial",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Daily file(s) holding the two days before each start (an operational forecast "
    "without a store; repeatable). Without it, --store or --sample, the region's "
    "analysis-forecast datasets are read through their service (Copernicus Marine).",
)
@click.option(
    "--boundary",
    "boundary_mode",
    type=click.Choice(["forecast", "reanalysis", "persistence"]),
    default=None,
    help="Open-boundary data: forecast (a global forecast issued on or before the start; the "
    "default where one exists), persistence (the boundary held at the day before the start) "
    "or reanalysis (the store's boundary arrays: idealised, perfect boundaries).",
)
@click.option(
    "--boundary-source",
    "boundary_source",
    default=None,
    help="Global forecast for --boundary forecast: a cube file or zarr (first_day_datetime, "
    "lead_day_index, depth, latitude, longitude), daily fields taken as one run issued on "
    "their first day, or a Copernicus Marine dataset id. Default: the sample's global "
    "forecast with --sample, else the region's open_boundaries.forecast_source.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA when available, else the CPU) | cpu | cuda | cuda:N.",
)
@click.option(
    "--exec-mode",
    type=click.Choice(["auto", "fast", "eager"]),
    default="auto",
    show_default=True,
    help="auto: the optimised path (fused blocks, bf16, CUDA graph) on CUDA, eager on CPU.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["netcdf", "zarr"]),
    default=None,
    help="Output format (default from the --out suffix: .zarr gives zarr, else netCDF).",
)
@user_errors
def forecast(
    region_name: str,
    checkpoint: Path | None,
    persistence: bool,
    start: str | None,
    days: int,
    out: Path,
    use_sample: bool,
    store: Path | None,
    truth: Path | None,
    weights_dir: Path | None,
    trust_weights: bool,
    stats_pairing: str,
    initial: tuple[Path, ...],
    boundary_mode: str | None,
    boundary_source: str | None,
    device: str,
    exec_mode: str,
    fmt: str | None,
) -> None:
    """Forecast REGION from a checkpoint and write an OceanBench-shaped CF cube.

    For each start date the two days before it are the initial conditions; every depth group
    runs ceil(days/2) model calls, its open-boundary zone forced after each call with a global
    forecast issued on or before the start (--boundary forecast), the boundary held at the day
    before the start (persistence) or the store's reanalysis boundaries (reanalysis:
    idealised, perfect boundaries). Depth groups missing from the checkpoint are filled with
    persistence (the file's attributes say which).
    """
    from glonet_regions.core.errors import ValidationError
    from glonet_regions.evaluation.locate import store_from_hints
    from glonet_regions.forecast.cube import write_cube
    from glonet_regions.forecast.runner import (
        default_start_dates,
        persistence_cube,
        run_bundle_forecast,
    )
    from glonet_regions.forecast.sources import FileSource, StoreSource
    from glonet_regions.registry.facade import get_region

    starts = _dates(start)
    if weights_dir is not None:  # GLONET's published global models (forecast_published.py)
        if checkpoint is not None or persistence or truth is not None:
            raise ValidationError(
                "--weights-dir runs the published models: drop "
                "--checkpoint, --persistence and --truth"
            )
        from glonet_regions.cli.forecast_published import forecast_published
        from glonet_regions.engine.distributed import pick_device

        forecast_published(
            region_name, weights_dir=weights_dir, initial=initial, starts=starts, days=days,
            out=out, use_sample=use_sample, store=store, device=str(pick_device(device)),
            fmt=fmt, trust_weights=trust_weights, pairing=stats_pairing,
        )  # fmt: skip
        return
    region = get_region(region_name)
    if persistence == (checkpoint is not None):
        raise ValidationError("Give either --checkpoint CKPT or --persistence")
    if truth is not None and not persistence:
        raise ValidationError("--truth FILE is only for --persistence (a model needs a store)")
    if (use_sample or store is not None) and truth is not None:
        raise ValidationError("Give one data source: --sample, --store STORE or --truth FILE")
    bundle: Any = None
    if checkpoint is not None:
        from glonet_regions.model.bundle import load_bundle

        bundle = load_bundle(checkpoint)
        if bundle.region_name != region.name:
            raise ValidationError(
                f"Checkpoint {checkpoint} was trained for region {bundle.region_name!r}, "
                f"not {region.name!r}"
            )
    if initial and (use_sample or store is not None or truth is not None or persistence):
        raise ValidationError(
            "--initial FILE replaces --sample/--store/--truth (with --checkpoint)"
        )
    if persistence and (boundary_mode or boundary_source):
        raise ValidationError("--boundary/--boundary-source are for a model (--checkpoint)")
    source: Any
    sample_forecast = None
    if truth is not None:
        source = FileSource(truth, splits=region.splits)
    elif use_sample or store is not None:
        source = StoreSource(
            store_from_hints(store=store, bundle_config=bundle.config if bundle else None)
        )
        if use_sample:
            from glonet_regions.evaluation.locate import sample_info_for_store

            info = sample_info_for_store(source.path)
            if info is not None and info.global_forecast_files:
                sample_forecast = info.global_forecast_files[0]
    elif bundle is not None:
        from glonet_regions.forecast.operational import InitialSource

        if starts is None:
            raise ValidationError("An operational forecast (no --store/--sample) needs --start")
        need = sorted({s - dt.timedelta(days=k) for s in starts for k in (1, 2)})
        source = InitialSource(region, list(initial), grid=bundle.grid, days=need)
    else:
        raise ValidationError("Give a data source: --sample, --store STORE (or --truth FILE)")
    if starts is None:
        starts = default_start_dates(source, days)
    if persistence:
        cube = persistence_cube(source, starts, days, region=region)
        if isinstance(source, StoreSource):
            cube.attrs["source_store"] = str(source.path)
    else:
        from glonet_regions.engine.distributed import pick_device
        from glonet_regions.forecast.operational import boundary_data, default_boundary_mode

        bsource = boundary_source or sample_forecast
        bnd = None
        bcfg = dict(bundle.boundary or {})
        if bcfg.get("edges") and int(bcfg.get("width", 0)) > 0:
            mode = boundary_mode or default_boundary_mode(
                region, boundary_source=bsource, sample_forecast=sample_forecast
            )
            click.echo(f"forecast: boundary mode {mode}", err=True)
            bnd = boundary_data(
                mode,
                region=region,
                source=source,
                boundary_source=bsource,
                start=min(starts),
                n_days=2 * ((days + 1) // 2) + (max(starts) - min(starts)).days,
            )
        elif boundary_mode or boundary_source:
            raise ValidationError(
                f"Checkpoint {checkpoint} was trained without open-boundary forcing: "
                "--boundary/--boundary-source do not apply"
            )
        cube = run_bundle_forecast(
            bundle,
            source,
            region,
            starts,
            days,
            boundary=bnd,
            device=str(pick_device(device)),
            exec_mode=exec_mode,
            progress=lambda m: click.echo(f"forecast: {m}", err=True),
        )
    path = write_cube(cube, out, fmt=fmt)
    click.echo(
        f"wrote {path}: {len(starts)} start date(s) from {starts[0]}, {days} lead days, "
        f"variables {', '.join(str(v) for v in cube.data_vars)}; boundaries: "
        f"{cube.attrs.get('boundary_mode', 'none')} ({cube.attrs.get('boundary_mode_description')})"
    )
    if "comment" in cube.attrs:
        click.echo(f"note: {cube.attrs['comment']}")
