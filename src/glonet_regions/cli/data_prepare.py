"""``glonet-regions data prepare`` and ``data sample``: build a training store, make the sample."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from glonet_regions.core.errors import GlonetRegionsError


class _Date(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date YYYY-MM-DD", param, ctx)


DATE = _Date()


def _load_or_generate_sample(region: Any, folder: Path, variant: str, seed: int) -> Any:
    from glonet_regions.data import sample as sample_mod

    try:
        info = sample_mod.SampleInfo.load(folder)
        if info.variant == variant and info.seed == seed:
            return info
    except Exception:  # no usable sample there yet: generate one
        pass
    return sample_mod.generate_sample(region, folder, variant=variant, seed=seed)  # type: ignore[arg-type]


def _sample_source(region: Any, info: Any) -> Any:
    from glonet_regions.data.canonical_source import CanonicalSource

    manifest = {
        "sample": {
            "variant": info.variant,
            "seed": info.seed,
            "start": str(info.start),
            "end": str(info.end),
            "description": info.description,
            "note": "synthetic embedded sample (see glonet_regions.data.sample)",
        }
    }
    return CanonicalSource.from_files(
        region, info.regional_files, info.global_files, description=manifest
    )


def _registry_source(region: Any, start: dt.date | None, end: dt.date | None) -> Any:
    from glonet_regions.core.errors import DataError
    from glonet_regions.data.canonical_source import CanonicalSource, InputRef

    regional = [d for d in region.datasets if d.kind == "reanalysis"]
    if not regional:
        raise DataError(
            f"Region {region.name!r} declares no reanalysis dataset; use --sample or --regional"
        )
    glob = [d for d in region.datasets if d.kind == "global"]
    return CanonicalSource(
        region,
        tuple(
            InputRef(service=d.service, dataset_key=d.key, start=start, end=end) for d in regional
        ),
        tuple(InputRef(service=d.service, dataset_key=d.key, start=start, end=end) for d in glob),
    )


@click.command("prepare")
@click.argument("region_name")
@click.option("--sample", "use_sample", is_flag=True, help="Use the embedded synthetic sample.")
@click.option("--start", type=DATE, default=None, help="First day (default: the first available).")
@click.option("--end", type=DATE, default=None, help="Last day (default: the last available).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Store folder.")
@click.option("--scheduler", default=None, help="dask.distributed scheduler address.")
@click.option("--chunk-days", type=int, default=8, show_default=True, help="Days per unit of work.")
@click.option("--shard-days", type=int, default=8, show_default=True, help="Days per shard file.")
@click.option("--workers", type=int, default=None, help="Threads of the default scheduler.")
@click.option(
    "--regional",
    multiple=True,
    type=click.Path(exists=True, dir_okay=True),
    help="Regional CMEMS-like file (repeatable) instead of the region's datasets.",
)
@click.option(
    "--global",
    "global_files",
    multiple=True,
    type=click.Path(exists=True),
    help="Global file for the boundary data (repeatable).",
)
@click.option(
    "--sample-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the sample is generated/cached (default: next to --out).",
)
@click.option("--variant", type=click.Choice(["demo", "full"]), default="demo", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def prepare(
    region_name: str, use_sample: bool, start: dt.date | None, end: dt.date | None, out: Path,
    scheduler: str | None, chunk_days: int, shard_days: int, workers: int | None,
    regional: tuple[str, ...], global_files: tuple[str, ...], sample_dir: Path | None,
    variant: str, seed: int,
) -> None:  # fmt: skip
    """Build (or resume) the zarr training store of REGION_NAME.

    Re-running the same command finishes an interrupted store and does nothing on a complete
    one.
    """
    try:
        from glonet_regions.data.prepare import prepare_store
        from glonet_regions.data.store import Layout
        from glonet_regions.registry.facade import get_region

        region = get_region(region_name)
        splits = None
        if use_sample:
            folder = sample_dir or out.parent / f"{out.name}.sample"
            click.echo(f"Sample in {folder}")
            info = _load_or_generate_sample(region, folder, variant, seed)
            source = _sample_source(region, info)
            splits = info.splits
        elif regional:
            from glonet_regions.data.canonical_source import CanonicalSource

            source = CanonicalSource.from_files(region, regional, global_files)
        else:
            source = _registry_source(region, start, end)
        result = prepare_store(
            out, source, region=region, start=start, end=end, splits=splits,
            layout=Layout(chunk_days, shard_days), workers=workers, scheduler=scheduler,
            command=" ".join(["glonet-regions", *sys.argv[1:]]), log=click.echo,
        )  # fmt: skip
    except GlonetRegionsError as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"{result.path}: {result.n_days} days, {result.chunks_written} chunks written, "
        f"{result.chunks_skipped} already done, {result.seconds:.1f} s"
    )


@click.command("sample")
@click.argument("region_name")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write.")
@click.option("--variant", type=click.Choice(["demo", "full"]), default="demo", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def sample(region_name: str, out: Path, variant: str, seed: int) -> None:
    """Generate the embedded synthetic sample of REGION_NAME into --out."""
    try:
        from glonet_regions.data.sample import generate_sample
        from glonet_regions.registry.facade import get_region

        info = generate_sample(get_region(region_name), out, variant=variant, seed=seed)  # type: ignore[arg-type]
    except GlonetRegionsError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Sample ({info.variant}, seed {info.seed}) in {out}: {info.start} .. {info.end}")
    click.echo(f"  grid {info.grid}")
    for f in (*info.regional_files, *info.global_files):
        click.echo(f"  {f}")
