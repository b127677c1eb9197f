"""Every hook a glonet-regions plugin can implement, in one module.

Each hook receives a ``register`` callback instead of returning values: a plugin calls
``register(thing)`` once per thing it provides. The registry then catches duplicates in one
place and new keyword arguments can be added to hooks without breaking older plugins (pluggy
passes only the arguments a hook implementation asks for).

Plugins import the marker from the package root::

    from glonet_regions import hookimpl

    @hookimpl
    def register_regions(register):
        register(my_region)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glonet_regions.registry.markers import hookspec


@hookspec
def register_regions(register: Callable[..., None], resolve: Callable[[str], Any]) -> None:
    """Register regions.

    Called once when the registry is first used. Call ``register(region)`` with a
    :class:`glonet_regions.Region` for each region the plugin provides. Two plugins
    registering the same region name is an error naming both.

    ``resolve(name)`` returns a region registered by another plugin's ``register_regions``
    (the registry calls that plugin first). Pass it to
    :func:`glonet_regions.load_region_file` for a file that refers to another region::

        @hookimpl
        def register_regions(register, resolve):
            register(load_region_file(path, resolve=resolve))

    Regions declared only in region files are not visible to ``resolve``; register the folder
    of such files with ``register_region_paths`` instead.
    """


@hookspec
def register_region_paths(register: Callable[..., None]) -> None:
    """Register folders of declarative region files (YAML or TOML).

    Called once when the registry is first used. Call ``register(path)`` with a
    :class:`pathlib.Path` to a folder; every ``*.yaml``, ``*.yml`` or ``*.toml`` file in it is
    loaded as a region (see ``docs/reference/region-files.md``).
    """


@hookspec
def register_sources(register: Callable[..., None]) -> None:
    """Register data sources.

    Called when a command first needs a source. Call ``register(name, factory)`` where
    ``factory(**options)`` returns an object with ``open(dataset, *, bbox, depth_range,
    start, end, variables)`` returning an :class:`xarray.Dataset`. Built in: ``copernicusmarine``
    and ``local``.
    """


@hookspec
def register_assets(register: Callable[..., None]) -> None:
    """Register downloadable HTTP assets (masks, statistics, weights).

    Call ``register(registry)`` with a :class:`glonet_regions.data.assets.AssetRegistry`
    (one pooch registry of names and sha256 hashes per plugin).
    """


@hookspec
def register_regridders(register: Callable[..., None]) -> None:
    """Register regridding backends.

    Call ``register(name, factory)`` where ``factory(source_grid, target_grid, method,
    **options)`` returns a regridder with ``regrid(array)``. Built in: ``builtin``,
    ``weights-file`` and ``xesmf`` (when esmpy imports).
    """


@hookspec
def register_boundary_providers(register: Callable[..., None]) -> None:
    """Register open-boundary providers.

    Call ``register(name, factory)`` where ``factory(zone, width, **options)`` returns a
    provider applied to every rollout step. Built in: ``strip``, ``relaxation``, ``none``.
    """


@hookspec
def register_metrics(register: Callable[..., None]) -> None:
    """Register evaluation metrics.

    Call ``register(name, function, convention=...)``. ``function(forecast, reference,
    weights)`` returns an :class:`xarray.DataArray` of scores. Built in: ``rmsd`` (OceanBench),
    ``rmse``, ``bias`` and ``acc`` (WeatherBench-2).
    """


@hookspec
def register_evaluation(region: Any, register: Callable[..., None]) -> None:
    """Add region-specific evaluation: sub-regions and diagnostics.

    Called by ``glonet-regions evaluate`` for the region being scored. Call
    ``register(subregion=SubRegion(...))`` for an extra sub-region to score over and
    ``register(diagnostic=(name, function))`` for an extra diagnostic, where ``function(ds)``
    returns a dataset of derived fields scored like the others. Plugins should only act when
    ``region.name`` is theirs.
    """
