"""``glonet-regions data plan``: what a store will cost before any download."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from glonet_regions.cli._errors import user_errors
from glonet_regions.cli.data_prepare import DATE


@click.command("plan")
@click.argument("region_name")
@click.option("--start", type=DATE, default=None, help="First day (default: the first split day).")
@click.option("--end", type=DATE, default=None, help="Last day (default: the last split day).")
@click.option(
    "--groups", default=None, help="Comma list of depth groups (default: all the region's)."
)
@click.option(
    "--storage-dtype",
    type=click.Choice(["float32", "float16", "bfloat16", "int16"]),
    default="float32",
    show_default=True,
    help="On-disk dtype the store would use.",
)
@click.option("--shard-days", type=int, default=8, show_default=True, help="Days per shard file.")
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), default=None,
    help="Also write the figures to this JSON file.",
)  # fmt: skip
@user_errors
def plan(
    region_name: str, start: dt.date | None, end: dt.date | None, groups: str | None,
    storage_dtype: str, shard_days: int, json_path: Path | None,
) -> None:  # fmt: skip
    """Print the days, channels, download volume, store size, preparation time and memory of
    a store of REGION_NAME, from the region declaration and a short calibration run here."""
    from glonet_regions.data.plan import format_plan, plan_store
    from glonet_regions.registry.facade import get_region

    region = get_region(region_name)
    names = [g.strip() for g in groups.split(",") if g.strip()] if groups else None
    result = plan_store(
        region, start=start, end=end, groups=names, storage_dtype=storage_dtype,
        shard_days=shard_days,
    )  # fmt: skip
    click.echo(format_plan(result))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        click.echo(f"Wrote {json_path}")
