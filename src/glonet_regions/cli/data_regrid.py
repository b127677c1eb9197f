"""``glonet-regions data regrid``: regrid a CF netCDF file onto a region's grid."""

from __future__ import annotations

from pathlib import Path

import click

from glonet_regions.cli._choices import RegistryChoice
from glonet_regions.cli._errors import user_errors


@click.command("regrid")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--region", "region_name", required=True, help="Region whose grid to regrid onto.")
@click.option(
    "--method",
    type=click.Choice(["bilinear", "conservative", "nearest"]),
    default="bilinear",
    show_default=True,
    help="Regridding method.",
)
@click.option(
    "--backend",
    type=RegistryChoice("regridder", aliases={"weights_file": "weights-file"}),
    default="builtin",
    show_default=True,
    help="A registered regridder: builtin, weights-file (needs --weights), xesmf (needs "
    "esmpy) or a plugin's (`glonet-regions plugins`).",
)
@click.option(
    "--weights",
    "weights_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="ESMF/xesmf weight file (with --backend weights-file).",
)
@click.option(
    "--fill-nearest/--no-fill-nearest",
    default=False,
    show_default=True,
    help="Fill coastal cells left NaN from the nearest valid source cell.",
)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Output netCDF file (written atomically).")  # fmt: skip
@user_errors
def regrid(
    file: Path,
    region_name: str,
    method: str,
    backend: str,
    weights_path: Path | None,
    fill_nearest: bool,
    out: Path,
) -> None:
    """Regrid FILE (any CF netCDF on a regular lat/lon grid) onto a region's grid.

    Only the part of the region's grid that the file covers is written. Variables, attributes
    and NaN land are kept.
    """
    from glonet_regions.data.regrid.files import regrid_file
    from glonet_regions.registry.facade import get_region

    region = get_region(region_name)
    written = regrid_file(
        file,
        region.grid,
        out,
        method=method,
        backend=backend,
        weights=weights_path,
        fill="nearest" if fill_nearest else None,
        history=f"glonet-regions data regrid --region {region_name} --method {method} "
        f"--backend {backend}",
    )
    click.echo(f"Wrote {written}")
