"""``glonet-regions forecast REGION --weights-dir DIR``: GLONET's published global models.

Called from :mod:`glonet_regions.cli.forecast` when ``--weights-dir`` is given.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click


def forecast_published(
    region_name: str,
    *,
    weights_dir: Path,
    initial: tuple[Path, ...],
    starts: list[dt.date] | None,
    days: int,
    out: Path,
    use_sample: bool,
    store: Path | None,
    device: str,
    fmt: str | None,
    trust_weights: bool = False,
    pairing: str = "published",
) -> None:
    """Run the three published models on REGION and write the forecast cube."""
    from glonet_regions.core.errors import ValidationError
    from glonet_regions.forecast.cube import write_cube
    from glonet_regions.forecast.published_global import (
        FilesSource,
        PublishedForecastConfig,
        run_published_forecast,
    )
    from glonet_regions.forecast.runner import default_start_dates
    from glonet_regions.registry.facade import get_region

    region = get_region(region_name)
    if region.open_boundaries.edges:
        raise ValidationError(
            f"--weights-dir runs GLONET's published global models, which have no open "
            f"boundaries; region {region.name!r} has open edges "
            f"{', '.join(region.open_boundaries.edges)} (use a global region such as glo4)"
        )
    given = sum([bool(initial), use_sample, store is not None])
    if given != 1:
        raise ValidationError(
            "With --weights-dir give one source of initial days: --initial FILE (repeatable), "
            "--sample or --store STORE"
        )
    source: Any
    if initial:
        source = FilesSource(initial)
    else:
        from glonet_regions.evaluation.locate import store_from_hints
        from glonet_regions.forecast.sources import StoreSource

        source = StoreSource(store_from_hints(store=store, bundle_config=None))
    if starts is None:
        if initial:
            raise ValidationError("With --initial FILE give --start DATE")
        starts = default_start_dates(source, days)
    config = PublishedForecastConfig(
        weights_dir=weights_dir,
        days=days,
        device=device,
        pairing=pairing,
        trust_weights=trust_weights,
    )
    click.echo(
        f"forecast: published GLONET from {config.weights_dir}, {days} days, device "
        f"{config.device}, autocast {config.autocast}, {config.pairing} pairing of statistics",
        err=True,
    )
    cube = run_published_forecast(
        source,
        region,
        starts,
        config,
        progress=lambda m: click.echo(f"forecast: {m}", err=True),
    )
    path = write_cube(cube, out, fmt=fmt)
    click.echo(
        f"wrote {path}: {len(starts)} start date(s) from {starts[0]}, {days} lead days, "
        f"published GLONET ({cube.attrs['depth_groups_model']})"
    )
