"""``glonet-regions data report``: representativeness and quality of a training store."""

from __future__ import annotations

from pathlib import Path

import click

from glonet_regions.cli._errors import user_errors


@click.command("report")
@click.argument("store", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write.")
@click.option(
    "--groups",
    default=None,
    help="Comma list of depth groups to report on (default: the first, surface, group).",
)
@user_errors
def report(store: Path, out: Path, groups: str | None) -> None:
    """Write OUT/index.html (plots) and OUT/summary.json for STORE: per variable and
    sub-region the train/validation/test distributions and distances, the seasonal cycle of
    each split, extremes (marine heat waves, coastal upwelling where the region flags it),
    gaps, NaN and range checks, and warnings where the test split leaves the training range.
    """
    from glonet_regions.core.errors import StoreError, UnknownNameError
    from glonet_regions.data.report import compute_report, open_complete
    from glonet_regions.data.report_html import write_report
    from glonet_regions.registry.facade import evaluation_extras, get_region

    reader = open_complete(store)
    try:
        region = get_region(reader.region_name)
    except UnknownNameError:
        raise StoreError(
            f"Store {store} was prepared for region {reader.region_name!r}, which is not "
            "installed: install its plugin to name its sub-regions"
        ) from None
    subs = list(region.subregions) + list(evaluation_extras(region)[0])
    upwelling = [str(u) for u in region.extra.get("upwelling_subregions", []) or []]
    names = [g.strip() for g in groups.split(",") if g.strip()] if groups else None
    data = compute_report(store, subregions=subs, upwelling=upwelling, groups=names)
    page, js = write_report(data, out)
    for w in data.summary["warnings"]:
        click.echo(f"warning: {w}")
    click.echo(f"Wrote {page} and {js}")
