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
    "--initial",
    "initial",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Daily file(s) holding the two days before the start (repeatable; with --weights-dir).",
)
@click.option(
    "--device", default="cpu", show_default=True, help="Torch device (cpu, cuda, cuda:1)."
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
    initial: tuple[Path, ...],
    device: str,
    exec_mode: str,
    fmt: str | None,
) -> None:
    """Forecast REGION from a checkpoint and write an OceanBench-shaped CF cube.

    For each start date the two days before it are the initial conditions; every depth group
    runs ceil(days/2) model calls with boundary data from the store. Depth groups missing from
    the checkpoint are filled with persistence (the file's attributes say which).
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

        forecast_published(
            region_name, weights_dir=weights_dir, initial=initial, starts=starts, days=days,
            out=out, use_sample=use_sample, store=store, device=device, fmt=fmt,
        )  # fmt: skip
        return
    if initial:
        raise ValidationError("--initial FILE is only for --weights-dir")
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
    source: Any
    if truth is not None:
        source = FileSource(truth, splits=region.splits)
    elif use_sample or store is not None:
        source = StoreSource(
            store_from_hints(store=store, bundle_config=bundle.config if bundle else None)
        )
    else:
        raise ValidationError("Give a data source: --sample, --store STORE (or --truth FILE)")
    if starts is None:
        starts = default_start_dates(source, days)
    if persistence:
        cube = persistence_cube(source, starts, days, region=region)
        if isinstance(source, StoreSource):
            cube.attrs["source_store"] = str(source.path)
    else:
        cube = run_bundle_forecast(
            bundle,
            source,
            region,
            starts,
            days,
            device=device,
            exec_mode=exec_mode,
            progress=lambda m: click.echo(f"forecast: {m}", err=True),
        )
    path = write_cube(cube, out, fmt=fmt)
    click.echo(
        f"wrote {path}: {len(starts)} start date(s) from {starts[0]}, {days} lead days, "
        f"variables {', '.join(str(v) for v in cube.data_vars)}"
    )
    if "comment" in cube.attrs:
        click.echo(f"note: {cube.attrs['comment']}")
