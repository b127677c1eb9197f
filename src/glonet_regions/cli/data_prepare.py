"""``glonet-regions data prepare`` and ``data sample``: build a training store, make the sample."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from glonet_regions.cli._choices import RegistryChoice
from glonet_regions.cli._errors import user_errors


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


def _registry_source(
    region: Any, start: dt.date | None, end: dt.date | None, service: str | None = None
) -> Any:
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
            InputRef(service=service or d.service, dataset_key=d.key, start=start, end=end)
            for d in regional
        ),
        tuple(
            InputRef(service=service or d.service, dataset_key=d.key, start=start, end=end)
            for d in glob
        ),
    )


@click.command("prepare")
@click.argument("region_name")
@click.option("--sample", "use_sample", is_flag=True, help="Use the embedded synthetic sample.")
@click.option("--start", type=DATE, default=None, help="First day (default: the first available).")
@click.option("--end", type=DATE, default=None, help="Last day (default: the last available).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Store folder.")
@click.option(
    "--scheduler",
    default=None,
    help="dask.distributed scheduler: an address (tcp://host:8786), a scheduler file "
    "(scheduler.json, as dask-jobqueue / dask-mpi write) or local:N (a LocalCluster of N "
    "workers). Default: threads in this process.",
)
@click.option(
    "--storage-dtype",
    type=click.Choice(["float32", "float16", "bfloat16", "int16"]),
    default="float32",
    show_default=True,
    help="On-disk dtype of the data and boundary arrays (the loader always gives float32).",
)
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
    "--source",
    "source_name",
    type=RegistryChoice("source"),
    default=None,
    help="Read the region's datasets through this registered source (copernicusmarine, "
    "local or a plugin's) instead of the one each dataset names.",
)
@click.option(
    "--sample-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the sample is generated/cached (default: next to --out).",
)
@click.option(
    "--splits-from",
    "splits_from",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Take the train/validation/test splits from the sample in this folder (for --regional "
    "files cut from a sample, e.g. its global files for glo4) instead of the region's.",
)
@click.option("--variant", type=click.Choice(["demo", "full"]), default="demo", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@user_errors
def prepare(
    region_name: str, use_sample: bool, start: dt.date | None, end: dt.date | None, out: Path,
    scheduler: str | None, storage_dtype: str, chunk_days: int, shard_days: int,
    workers: int | None,
    regional: tuple[str, ...], global_files: tuple[str, ...], source_name: str | None,
    sample_dir: Path | None, splits_from: Path | None, variant: str, seed: int,
) -> None:  # fmt: skip
    """Build (or resume) the zarr training store of REGION_NAME.

    Re-running the same command finishes an interrupted store and does nothing on a complete
    one.
    """
    from glonet_regions.data.prepare import prepare_sample_store, prepare_store
    from glonet_regions.data.store import Layout
    from glonet_regions.registry.facade import get_region

    if source_name is not None and (use_sample or regional):
        from glonet_regions.core.errors import ValidationError

        raise ValidationError(
            "--source reads the region's datasets: it cannot be combined with --sample or "
            "--regional"
        )
    region = get_region(region_name)
    layout = Layout(chunk_days, shard_days, storage_dtype=storage_dtype)
    command = " ".join(["glonet-regions", *sys.argv[1:]])
    splits = None
    if splits_from is not None:
        from glonet_regions.core.errors import ValidationError
        from glonet_regions.sample.generate import SampleInfo

        if use_sample:
            raise ValidationError("--splits-from is for --regional files; --sample has its own")
        splits = SampleInfo.load(splits_from).splits
        click.echo(f"Splits from the sample in {splits_from}: {splits}")
    if use_sample:
        result = prepare_sample_store(
            region, out, sample_dir=sample_dir, variant=variant, seed=seed, start=start,
            end=end, layout=layout, workers=workers, scheduler=scheduler, command=command,
            log=click.echo,
        )  # fmt: skip
    else:
        if regional:
            from glonet_regions.data.canonical_source import CanonicalSource

            source = CanonicalSource.from_files(region, regional, global_files)
        else:
            source = _registry_source(region, start, end, source_name)
        result = prepare_store(
            out, source, region=region, start=start, end=end, splits=splits, layout=layout,
            workers=workers, scheduler=scheduler, command=command, log=click.echo,
        )  # fmt: skip
    click.echo(
        f"{result.path}: {result.n_days} days, {result.chunks_written} chunks written, "
        f"{result.chunks_skipped} already done, {result.seconds:.1f} s"
    )


@click.command("sample")
@click.argument("region_name")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write.")
@click.option("--variant", type=click.Choice(["demo", "full"]), default="demo", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@user_errors
def sample(region_name: str, out: Path, variant: str, seed: int) -> None:
    """Generate the embedded synthetic sample of REGION_NAME into --out."""
    from glonet_regions.registry.facade import get_region
    from glonet_regions.sample.generate import generate_sample

    info = generate_sample(get_region(region_name), out, variant=variant, seed=seed)  # type: ignore[arg-type]
    click.echo(f"Sample ({info.variant}, seed {info.seed}) in {out}: {info.start} .. {info.end}")
    click.echo(f"  grid {info.grid}")
    for f in (*info.regional_files, *info.global_files):
        click.echo(f"  {f}")
