"""``glonet-regions evaluate``: score a forecast cube and the baselines, write the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from glonet_regions.cli._choices import RegistryChoice
from glonet_regions.cli._errors import user_errors


def _ints(value: str | None, option: str) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None


def _floats(value: str | None) -> list[float] | None:
    if not value:
        return None
    if value.strip().lower() == "all":
        return None
    try:
        return [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated depths in m, got {value!r}") from None


@click.command("evaluate")
@click.argument("region_name", metavar="REGION")
@click.option(
    "--forecast",
    "forecast_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Forecast cube (netCDF or zarr) written by `glonet-regions forecast`.",
)
@click.option(
    "--reference",
    "references",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A reference forecast file (cube or daily fields on the region grid); repeatable. "
    "Name it with NAME=PATH.",
)
@click.option("--sample", "use_sample", is_flag=True, help="Truth and references from the sample.")
@click.option("--store", type=click.Path(path_type=Path), help="Truth from this training store.")
@click.option("--truth", type=click.Path(path_type=Path), help="Truth from a daily file.")
@click.option(
    "--global-model",
    "global_model",
    type=click.Path(path_type=Path),
    help="Global model forecast cube (the run issued on or before each start, same lead day) "
    "or daily file(s) (any regular grid), regridded to the region.",
)
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Report folder."
)
@click.option(
    "--lead-days", default=None, help="1-based lead days to score, e.g. 1,5,10 (default all)."
)
@click.option(
    "--depths",
    default=None,
    help="Depths (m) to score, comma-separated, or 'all' "
    "(default OceanBench's 0.49,47,92,223,318,541).",
)
@click.option(
    "--lagrangian-particles",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Particles per zone and start date of the Lagrangian trajectory deviation "
    "(surface drifters advected with each model's and the truth's currents); 0 disables it.",
)
@click.option(
    "--compare-scores",
    "compare_scores",
    type=click.Path(path_type=Path),
    default=None,
    help="scores.csv of another evaluation of the same start dates (e.g. the same checkpoint "
    "with --boundary reanalysis): the summary and report add its skill minus this run's "
    "at lead days 1, 5 and 10.",
)
@click.option(
    "--metric",
    "metric_names",
    multiple=True,
    type=RegistryChoice("metric"),
    help="A registered metric to score (repeatable; default every registered one: rmsd, rmse, "
    "bias, acc and plugins').",
)
@click.option("--no-plots", is_flag=True, help="Write scores only.")
@user_errors
def evaluate(
    region_name: str,
    forecast_path: Path,
    references: tuple[Path, ...],
    use_sample: bool,
    store: Path | None,
    truth: Path | None,
    global_model: Path | None,
    out_dir: Path,
    lead_days: str | None,
    depths: str | None,
    lagrangian_particles: int,
    compare_scores: Path | None,
    metric_names: tuple[str, ...],
    no_plots: bool,
) -> None:
    """Score a forecast and the baselines (persistence, climatology, global model, references).

    Scores per variable, depth and lead day: OceanBench RMSD (cos-latitude weighted, with its
    missing fraction) and the Lagrangian trajectory deviation (km) of surface drifters over the
    whole evaluation box, open-boundary zone included, as OceanBench; WeatherBench-2 RMSE, bias
    and ACC over the interior (open-boundary zone excluded); over the region and each
    sub-region. Writes scores.csv, scores.json, plots and report.html into --out.
    """
    from glonet_regions.core.errors import ValidationError
    from glonet_regions.evaluation.locate import sample_info_for_store, store_from_hints
    from glonet_regions.evaluation.pipeline import evaluate_forecast, registry_metrics
    from glonet_regions.evaluation.scoring import OCEANBENCH_DEPTHS
    from glonet_regions.forecast.cube import open_cube
    from glonet_regions.forecast.sources import FileSource, StoreSource
    from glonet_regions.registry.facade import get_region

    lead_day_list = _ints(lead_days, "--lead-days")
    other_scores = None
    if compare_scores is not None:
        from glonet_regions.evaluation.compare import read_scores

        other_scores = read_scores(compare_scores)  # a bad file fails before any work
    chosen = [x for x in (use_sample or store is not None, truth is not None) if x]
    if len(chosen) != 1:
        raise ValidationError(
            "Give one truth source: --sample (optionally with --store STORE), "
            "--store STORE or --truth FILE"
        )
    region = get_region(region_name)
    cube = open_cube(forecast_path)
    source: Any
    refs: dict[str, Any] = {}
    global_ds = None
    if truth is not None:
        source = FileSource(truth, splits=region.splits)
        lost = [v for v in source.missing if v in cube.data_vars]
        if lost:
            click.echo(
                f"evaluate: WARNING: truth {truth} has no {', '.join(lost)}: "
                f"{', '.join(lost)} will not be scored",
                err=True,
            )
    else:
        store_path = store_from_hints(
            store=store, cube_attrs=dict(cube.attrs) if use_sample else None
        )
        source = StoreSource(store_path)
        if use_sample:
            info = sample_info_for_store(store_path)
            if info is not None:
                for path in info.reference_forecast_files:
                    refs["physical forecast (synthetic)"] = _open_any(path)
                if info.global_forecast_files and global_model is None:
                    global_ds = _open_any(info.global_forecast_files[0])
                elif info.global_files and global_model is None:
                    global_ds = _open_global(info.global_files)
    for item in references:
        name, _, path = str(item).rpartition("=")
        refs[name or Path(path).stem] = _open_any(Path(path))
    if global_model is not None:
        global_ds = _open_any(global_model)
    depth_list = OCEANBENCH_DEPTHS if depths is None else _floats(depths)

    def say(msg: str) -> None:
        click.echo(f"evaluate: {msg}", err=True)

    result = evaluate_forecast(
        region,
        cube,
        source,
        references=refs,
        global_model=global_ds,
        lead_days=lead_day_list,
        depths=depth_list,
        lagrangian_particles=lagrangian_particles,
        metrics=registry_metrics(metric_names) if metric_names else None,
        progress=say,
    )
    if other_scores is not None:
        from glonet_regions.evaluation.compare import skill_difference

        result.comparison = skill_difference(result.scores, other_scores)
    if no_plots:
        from glonet_regions.evaluation.report import write_scores

        paths = write_scores(result, out_dir)
    else:
        from glonet_regions.evaluation.report import write_report

        paths = write_report(result, out_dir)
    click.echo(_summary(result))
    for key in ("csv", "json", "html"):
        if key in paths:
            click.echo(f"wrote {paths[key]}")


def _open_any(path: Path) -> Any:
    from glonet_regions.core.errors import DataError
    from glonet_regions.data.reader import open_checked
    from glonet_regions.forecast.align import open_daily

    if not path.exists():
        raise DataError(f"Reference file {path} does not exist")
    ds = open_checked(path)
    if "first_day_datetime" in ds.dims:
        return ds
    return open_daily(path)


def _open_global(files: list[Path]) -> Any:
    import xarray as xr

    from glonet_regions.data.reader import open_checked
    from glonet_regions.forecast.align import canonical_daily

    parts = [canonical_daily(open_checked(p), source=str(p)) for p in files]
    return xr.concat(parts, dim="time") if len(parts) > 1 else parts[0]


def _summary(result: Any) -> str:
    from glonet_regions.evaluation.headline import headlines, headlines_text
    from glonet_regions.evaluation.report import skill_table

    meta = result.meta
    lines = [
        f"{result.forecast_name}: boundary mode {meta.get('boundary_mode', 'unknown')} "
        f"({meta.get('boundary_mode_description', '')})"
    ]
    if meta.get("depth_groups_persistence"):
        groups = ", ".join(meta["depth_groups_persistence"])
        lines.append(f"depth groups not in the checkpoint (persistence): {groups}")
    head = headlines_text(headlines(result.scores, meta))
    if head:
        lines += [head, ""]
    table = skill_table(result.scores, result.forecast_name)
    lines.append(f"{result.forecast_name}: skill against persistence (1 - RMSE/RMSE_persistence)")
    if result.forecast_name == "persistence":
        lines[-1] = "the forecast is persistence itself: see scores.csv for the baselines"
    elif table.empty:
        lines.append("  (no persistence comparison available)")
    else:
        lines.append(table.to_string(float_format=lambda v: f"{v:+.3f}"))
    if result.comparison is not None:
        cmp_table, title = result.comparison
        lines += ["", title]
        if cmp_table.empty:
            lines.append("  (the two runs share no variable, depth and lead day)")
        else:
            lines.append(cmp_table.to_string(float_format=lambda v: f"{v:+.3f}"))
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
