"""``glonet-regions data inspect``: describe and check a training store or a data file."""

from __future__ import annotations

from pathlib import Path

import click

from glonet_regions.cli._errors import user_errors


def _inspect_file(path: Path, region_name: str | None) -> list[str]:
    """Canonical-reading summary of a netCDF/zarr file (and its grid on a region)."""
    from glonet_regions.core.grid import Grid
    from glonet_regions.data.prepare_source import STATE_VARIABLES
    from glonet_regions.data.reader import check_on_region, open_canonical

    ds = open_canonical(path, variables=STATE_VARIABLES, require=False, allow_gaps=True)
    grid = Grid.from_dataset(ds, source=str(path))
    times = ds["time"].values
    lines = [f"File {path}", f"  variables: {', '.join(map(str, ds.data_vars))}"]
    for name, da in ds.data_vars.items():
        lines.append(f"    {name}: dims {da.dims} shape {da.shape} units {da.attrs.get('units')}")
    lines.append(f"  days: {times.size}, {str(times[0])[:10]} .. {str(times[-1])[:10]}")
    if "depth" in ds.coords:
        d = ds["depth"].values
        lines.append(f"  depth: {d.size} levels, {d[0]:g} .. {d[-1]:g} m")
    lines.append(f"  grid: {grid}")
    if region_name:
        from glonet_regions.registry.facade import get_region

        match = check_on_region(ds, get_region(region_name), source=str(path))
        lines.append(
            f"  on region {region_name!r}: grid version {match.version.name!r}, stride "
            f"{match.stride}, lat index {int(match.index.lat[0])}.., lon index "
            f"{int(match.index.lon[0])}.."
        )
    return lines


@click.command("inspect")
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--region", "region_name", default=None, help="Match a file's grid on this region.")
@click.option("--no-values", is_flag=True, help="Skip reading days to check for NaN in the ocean.")
@user_errors
def inspect_cmd(target: Path, region_name: str | None, no_values: bool) -> None:
    """Describe TARGET (a training store or a netCDF/zarr file) and check it.

    Exits with status 1, listing the problems, when a store is incomplete or inconsistent.
    """
    from glonet_regions.data.store import is_store

    if is_store(target):
        from glonet_regions.data.inspect_store import inspect_store

        report = inspect_store(target, check_values=not no_values)
        for line in report.lines:
            click.echo(line)
        if report.problems:
            click.echo("Problems:", err=True)
            for p in report.problems:
                click.echo(f"  - {p}", err=True)
            raise click.exceptions.Exit(1)
        click.echo("OK: the store is complete and consistent")
        return
    for line in _inspect_file(target, region_name):
        click.echo(line)
