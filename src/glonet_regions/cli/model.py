"""``glonet-regions model``: fetch, inspect and import the published GLONET weight files;
compile a forecaster bundle ahead of time for this machine."""

from __future__ import annotations

from pathlib import Path

import click

from glonet_regions.cli._errors import user_errors

_TRUST_HELP = (
    "Load a TorchScript archive whose sha256 is not pinned (archives run code when loaded)."
)


@click.group(name="model")
def model() -> None:
    """Fetch, inspect and import GLONET weight files; compile a forecaster bundle for this
    machine."""


@model.command(name="fetch")
@click.option(
    "--group",
    "groups",
    type=click.Choice(["surface", "intermediate", "deep", "all"]),
    default="all",
    show_default=True,
    help="Depth group whose network and statistics to fetch.",
)
@click.option(
    "--mirror",
    help="A URL or local folder holding the release's files under the same names "
    "(for sites without access to the EDITO store).",
)
@click.option("--offline", is_flag=True, help="Never touch the network (check the cache only).")
@click.option(
    "--trust-weights",
    is_flag=True,
    help="Accept files whose sha256 is not pinned, and pin the hashes found (trust on first use).",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars.")
@user_errors
def fetch_cmd(
    groups: str, mirror: str | None, offline: bool, trust_weights: bool, progress: bool
) -> None:
    """Download the published networks and their statistics into the asset cache.

    Files already cached are hash-checked and kept; an interrupted download resumes. The
    cache folder is laid out like the release, so `finetune --init published` uses it (or
    pass it as --weights-dir).
    """
    from glonet_regions.data.assets import GLONET_ASSETS, file_sha256
    from glonet_regions.model.published import (
        DEPTH_GROUPS,
        PUBLISHED_WEIGHTS,
        normalisation_assets,
    )

    chosen = DEPTH_GROUPS if groups == "all" else tuple(g for g in DEPTH_GROUPS if g == groups)
    names: list[str] = []
    for g in chosen:
        names.append(PUBLISHED_WEIGHTS[g])
        names += [n for pair in normalisation_assets(g).values() for n in pair]
    for i, name in enumerate(names, 1):
        pinned = GLONET_ASSETS.resolved_hash(name) is not None
        path = GLONET_ASSETS.fetch(
            name,
            offline=offline or None,
            progress=progress and name.endswith(".pt"),
            allow_unverified=trust_weights,
            mirror=mirror,
        )
        note = "verified"
        if not pinned:
            digest = file_sha256(path)
            GLONET_ASSETS.pin(name, digest, save=True)
            note = f"pinned sha256 {digest}"
        click.echo(f"[{i}/{len(names)}] {name}: {note}")
    click.echo(f"release folder: {GLONET_ASSETS.cache_dir}")


@model.command(name="inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--max-code-chars", default=20000, show_default=True, help="Truncate code to N.")
@click.option("--trust-weights", is_flag=True, help=_TRUST_HELP)
@user_errors
def inspect_cmd(path: Path, max_code_chars: int, trust_weights: bool) -> None:
    """Print a TorchScript file's tensors, its TorchScript code and its filter module.

    The filter module (the published files' second module, SelectiveFilterLayer) is printed
    with its code and attributes.
    """
    from glonet_regions.model.weights import describe_torchscript

    click.echo(
        describe_torchscript(path, max_code_chars=max_code_chars, trust_weights=trust_weights)
    )


@model.command(name="import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--region", "region_name", default=None, help="Build the network on this region's grid."
)
@click.option(
    "--group",
    type=click.Choice(["surface", "intermediate", "deep"]),
    default="surface",
    show_default=True,
    help="Depth group the file holds (5 or 40 channels).",
)
@click.option("--size", type=click.Choice(["full", "tiny"]), default="full", show_default=True)
@click.option(
    "--strict", is_flag=True, help="Fail on any missing, unexpected or mismatched tensor."
)
@click.option("--trust-weights", is_flag=True, help=_TRUST_HELP)
@user_errors
def import_cmd(
    path: Path, region_name: str | None, group: str, size: str, strict: bool, trust_weights: bool
) -> None:
    """Map a TorchScript file's tensors onto our network by name and shape; print the report.

    Without --region the network is built on GLONET's global 672 x 1440 grid; with it, on the
    region's grid, and the position embedding is cut from the global one at the region's
    place. The file's filter module is kept (the report says whether it is the published one).
    """
    import warnings

    import torch

    from glonet_regions.core.depth import GLONET_DEPTH_SCHEME
    from glonet_regions.model.geo_embed import patch_geometry
    from glonet_regions.model.network import build_glonet
    from glonet_regions.model.weights import import_torchscript

    channels = GLONET_DEPTH_SCHEME.group(group).n_channels
    shape: tuple[int, int] = (672, 1440)
    geometry = None
    if region_name is not None:
        from glonet_regions.registry.facade import get_region

        grid = get_region(region_name).grid
        shape = grid.shape
    with torch.device("cpu"):
        net = build_glonet(channels, size, shape)  # type: ignore[arg-type]
    if region_name is not None:
        cfg = net.config
        geometry = patch_geometry(grid.lat, grid.lon, cfg.padded_grid_shape, cfg.patch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the report says it
        report = import_torchscript(
            net, path, strict=strict, target_geometry=geometry, trust_weights=trust_weights
        )
    click.echo(report.format())
    if not report.ok:
        raise SystemExit(1)


@model.command(name="compile")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--device", default="cuda", show_default=True, help="Torch device the packages run on."
)
@click.option("--groups", default=None, help="Comma-separated depth groups [all in the bundle].")
@user_errors
def compile_cmd(bundle: Path, device: str, groups: str | None) -> None:
    """Compile BUNDLE's networks ahead of time for this machine (BUNDLE.compiled/).

    Each depth group's optimised forward is exported (torch.export) and compiled with
    AOTInductor into a package, stored with the measured convolution choices beside the
    bundle and keyed by card, torch and CUDA versions. `forecast` on a matching machine loads
    the packages instead of compiling (seconds instead of minutes); elsewhere it says so once
    and falls back.
    """
    from glonet_regions.core.errors import ValidationError
    from glonet_regions.model.bundle import load_bundle
    from glonet_regions.model.gpu import compile_packages

    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValidationError(f"--device {device}: CUDA is not available on this machine")
    loaded = load_bundle(bundle)
    names = [g.strip() for g in groups.split(",") if g.strip()] if groups else None
    folder = compile_packages(
        loaded, device, groups=names, progress=lambda m: click.echo(f"compile: {m}", err=True)
    )
    click.echo(f"wrote {folder}")
