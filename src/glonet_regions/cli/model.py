"""``glonet-regions model``: inspect published GLONET weight files and check they import;
compile a forecaster bundle ahead of time for this machine."""

from __future__ import annotations

from pathlib import Path

import click

from glonet_regions.cli._errors import user_errors


@click.group(name="model")
def model() -> None:
    """Inspect GLONET weight files; compile a forecaster bundle for this machine."""


@model.command(name="inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--max-code-chars", default=20000, show_default=True, help="Truncate code to N.")
@user_errors
def inspect_cmd(path: Path, max_code_chars: int) -> None:
    """Print a TorchScript file's tensors (names, shapes) and its TorchScript code.

    Settles the open points of the published network (forward logic, SelectiveFilterLayer)
    for anyone who has the files.
    """
    from glonet_regions.model.weights import describe_torchscript

    click.echo(describe_torchscript(path, max_code_chars=max_code_chars))


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
@user_errors
def import_cmd(path: Path, region_name: str | None, group: str, size: str, strict: bool) -> None:
    """Map a TorchScript file's tensors onto our network by name and shape; print the report.

    Without --region the network is built on GLONET's global 672 x 1440 grid; with it, on the
    region's grid (the position embedding is then resized by interpolation).
    """
    import torch

    from glonet_regions.core.depth import GLONET_DEPTH_SCHEME
    from glonet_regions.model.network import build_glonet
    from glonet_regions.model.weights import import_torchscript

    channels = GLONET_DEPTH_SCHEME.group(group).n_channels
    shape: tuple[int, int] = (672, 1440)
    if region_name is not None:
        from glonet_regions.registry.facade import get_region

        shape = get_region(region_name).grid.shape
    with torch.device("cpu"):
        net = build_glonet(channels, size, shape)  # type: ignore[arg-type]
    report = import_torchscript(net, path, strict=strict)
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
