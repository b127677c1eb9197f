"""``glonet-regions regions list|show`` and ``glonet-regions plugins``.

Light imports only (click, the registry, the core): no torch, no xarray.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from glonet_regions.cli._errors import user_errors


def _registry() -> Any:
    from glonet_regions.registry.facade import get_registry

    return get_registry()


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt_box(box: Sequence[float]) -> str:
    return f"lon {box[0]:g}..{box[1]:g}, lat {box[2]:g}..{box[3]:g}"


def _fmt_res(deg: float) -> str:
    inv = 1.0 / deg
    return f"1/{round(inv)}" if abs(inv - round(inv)) < 1e-6 else f"{deg:g}"


def _summary(region: Any) -> dict[str, Any]:
    nlat, nlon = region.grid.shape
    return {
        "name": region.name,
        "title": region.title,
        "plugin": region.plugin,
        "bbox": region.bbox.as_list(),
        "resolution_deg": region.resolution_deg,
        "grid_shape": [nlat, nlon],
        "grid_versions": [v.name for v in region.grid_versions],
        "variables": list(region.variables.names),
        "n_depth_levels": len(region.depth.levels),
    }


@click.group()
def regions() -> None:
    """List and describe registered regions."""


@regions.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@user_errors
def list_regions(as_json: bool) -> None:
    """List every registered region."""
    reg = _registry()
    items = [_summary(reg.get_region(n)) for n in reg.region_names()]
    skipped = reg.skipped_regions
    if as_json:
        click.echo(json.dumps({"regions": items, "skipped": skipped}, indent=2))
        return
    if not items:
        click.echo("No regions registered (install a region plugin, or see --regions-dir).")
    else:
        rows = [
            (
                s["name"],
                _fmt_res(s["resolution_deg"]),
                f"{s['grid_shape'][0]} x {s['grid_shape'][1]}",
                _fmt_box(s["bbox"]),
                str(s["plugin"]),
                s["title"],
            )
            for s in items
        ]
        click.echo(
            _table(rows, ("NAME", "RES (deg)", "GRID (lat x lon)", "BOX", "PLUGIN", "TITLE"))
        )
    for name, why in sorted(skipped.items()):
        click.echo(f"skipped {name}: {why}")


def _show_text(region: Any, provider: Any, extras: tuple[list[Any], list[Any]]) -> str:
    d = region.to_dict()
    lines = [f"{region.name}: {region.title}"]
    if region.description:
        lines.append(f"  {region.description}")
    origin = f" (file {provider.origin})" if provider.origin else ""
    dist = f", distribution {provider.distribution}" if provider.distribution else ""
    lines += [
        f"plugin:          {region.plugin}{dist}{origin}",
        f"box:             {_fmt_box(d['bbox'])}",
        f"resolution:      {_fmt_res(region.resolution_deg)} deg",
        "grid versions:",
    ]
    for v in region.grid_versions:
        g = v.grid
        tol = f", tolerance {v.tolerance_deg:g} deg" if v.tolerance_deg else ""
        lines.append(
            f"  {v.name}: {g.shape[0]} x {g.shape[1]} (lat x lon), centres lon "
            f"{g.lon[0]:.4f}..{g.lon[-1]:.4f}, lat {g.lat[0]:.4f}..{g.lat[-1]:.4f}{tol}"
        )
    lines.append(f"variables:       {', '.join(region.variables.names)}")
    levels = d["depth_levels_m"]
    lines.append(f"depth levels:    {len(levels)} ({levels[0]:g}..{levels[-1]:g} m)")
    for name, g in d["depth_groups"].items():
        lines.append(f"  {name}: {len(g['levels_m'])} levels, {g['channels']} channels")
    if region.native_levels is not None:
        nat = region.native_levels
        lines.append(f"native levels:   {len(nat)} ({nat[0]:g}..{nat[len(nat) - 1]:g} m)")
    for split, (start, end) in d["splits"].items():
        lines.append(f"{split + ':':<17}{start} .. {end}")
    ob = region.open_boundaries
    lines.append(
        f"open boundaries: {', '.join(ob.edges) or '(none)'}; width {ob.width}, provider "
        f"{ob.provider}, source {ob.source}"
    )
    lines.append("datasets:")
    for ds in region.datasets:
        product = f" ({ds.product_id})" if ds.product_id else ""
        lines.append(
            f"  {ds.key}: {ds.kind}, {ds.service} {ds.dataset_id}{product}; "
            f"{', '.join(ds.variables) or '-'}"
        )
    if region.evaluation_box is not None:
        lines.append(f"evaluation box:  {_fmt_box(region.evaluation_box.as_list())}")
    subs = [*region.subregions, *extras[0]]
    if subs:
        lines.append("sub-regions:")
        lines += [f"  {s.name}: {s.title}, {_fmt_box(s.bbox.as_list())}" for s in subs]
    if extras[1]:
        lines.append(f"diagnostics:     {', '.join(name for name, _ in extras[1])}")
    return "\n".join(lines)


@regions.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the full description as JSON.")
@user_errors
def show_region(name: str, as_json: bool) -> None:
    """Describe region NAME: grid, variables, levels, periods, boundaries, datasets."""
    reg = _registry()
    region = reg.get_region(name)
    provider = reg.region_provider(name)
    extras = reg.evaluation_extras(region)
    if as_json:
        data = region.to_dict()
        data["distribution"] = provider.distribution
        data["region_file"] = str(provider.origin) if provider.origin else None
        data["evaluation_subregions"] = [s.to_dict() for s in extras[0]]
        data["diagnostics"] = [n for n, _ in extras[1]]
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(_show_text(region, provider, extras))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@user_errors
def plugins(as_json: bool) -> None:
    """List loaded plugins: name, distribution, version and hooks implemented."""
    infos = _registry().plugin_infos()
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in infos], indent=2))
        return
    rows = [
        (p.name, p.distribution or "-", p.version or "-", ", ".join(p.hooks) or "-") for p in infos
    ]
    click.echo(_table(rows, ("PLUGIN", "DISTRIBUTION", "VERSION", "HOOKS")))
