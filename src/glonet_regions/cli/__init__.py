"""The ``glonet-regions`` command line (click).

Sub-commands live in their own modules and are imported only when invoked, so ``--help`` and
``--version`` stay instant.
"""

from __future__ import annotations

import warnings
from typing import Any

import click

from glonet_regions import __version__
from glonet_regions.cli._lazy import LazyGroup

_COMMANDS = {
    "regions": ("glonet_regions.cli.regions:regions", "List and describe registered regions."),
    "plugins": ("glonet_regions.cli.regions:plugins", "List loaded plugins and their hooks."),
    "data": ("glonet_regions.cli.data:data", "Regrid, prepare and inspect data."),
    "model": ("glonet_regions.cli.model:model", "Inspect and import GLONET weight files."),
    "finetune": ("glonet_regions.cli.finetune:finetune", "Fine-tune GLONET on a region."),
    "forecast": ("glonet_regions.cli.forecast:forecast", "Run a forecast from a checkpoint."),
    "evaluate": ("glonet_regions.cli.evaluate:evaluate", "Score forecasts against baselines."),
}


@click.group(
    cls=LazyGroup, lazy=_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="glonet-regions")
@click.option(
    "--regions-dir",
    "regions_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=str),
    envvar=None,
    help="Extra folder of declarative region files (repeatable; also GLONET_REGIONS_PATH).",
)
@click.pass_context
def main(ctx: click.Context, regions_dirs: tuple[str, ...]) -> None:
    """glonet-regions: fine-tune the GLONET neural ocean forecaster on a region."""
    ctx.ensure_object(dict)
    ctx.obj["regions_dirs"] = regions_dirs
    _one_line_warnings(ctx)
    if regions_dirs:
        from glonet_regions.registry.facade import set_extra_region_dirs

        set_extra_region_dirs(regions_dirs)


def _one_line_warnings(ctx: click.Context) -> None:
    """Show glonet-regions' own warnings (an invalid region file, say) as one stderr line.

    Filters and the display hook are restored when the command ends.
    """
    from glonet_regions.registry.facade import RegionFileWarning

    ctx.with_resource(warnings.catch_warnings())
    warnings.simplefilter("always", RegionFileWarning)
    shown = warnings.showwarning

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(category, type) and issubclass(category, RegionFileWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show
