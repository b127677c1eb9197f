"""Regridding a CF netCDF file onto a target grid and writing the result atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from glonet_regions.core.errors import DataError, GlonetRegionsError, ValidationError
from glonet_regions.core.grid import Grid


def regrid_file(
    path: str | os.PathLike[str],
    target_grid: Grid,
    out: str | os.PathLike[str],
    *,
    method: str = "bilinear",
    backend: str = "builtin",
    weights: str | os.PathLike[str] | None = None,
    fill: str | None = None,
    history: str | None = None,
) -> Path:
    """Regrid every lat/lon variable of a netCDF file onto the overlapping part of a grid.

    Variables, attributes and NaN land are kept; packing (scale_factor/add_offset) is dropped
    so regridded values are stored as floats. The output is written to a temporary name in the
    output folder and renamed, so it never exists half-written.

    Raises:
        DataError: the input is missing or unreadable.
        GridMismatchError: no lat/lon coordinates, or no overlap with the target grid.
        ValidationError: unknown method, or a weights file is missing for ``weights-file``.
        UnknownNameError: ``backend`` is not a registered regridder.
    """
    from glonet_regions.data.reader import load_checked, open_checked
    from glonet_regions.data.regrid import (
        ALIASES,
        crop_to_overlap,
        make_regridder,
        normalise_method,
    )
    from glonet_regions.registry.facade import get_registry

    path, out = Path(path), Path(out)
    method = normalise_method(method)
    backend = ALIASES.get(backend, backend)
    get_registry().component("regridder", backend)  # unknown names fail before any reading
    options: dict[str, Any] = {}
    if backend == "weights-file":
        if weights is None:
            raise ValidationError("--backend weights-file needs --weights PATH (a weight file)")
        options["path"] = weights
    elif weights is not None:
        raise ValidationError(f"--weights is only used with --backend weights-file, not {backend}")
    if not path.is_file():
        raise DataError(f"Input file {path} does not exist")
    if out.resolve() == path.resolve():
        raise ValidationError(f"Output {out} would overwrite the input file")
    ds = open_checked(path)
    with ds:
        try:
            source_grid = Grid.from_dataset(ds, source=str(path))
        except GlonetRegionsError as exc:
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            raise type(exc)(message) from None
        target = crop_to_overlap(source_grid, target_grid, source=str(path))
        regridder = make_regridder(source_grid, target, method, backend, **options)
        result = regridder.regrid(load_checked(ds, source=str(path)), fill=fill)
    result.attrs["history"] = "\n".join(
        x for x in (ds.attrs.get("history"), history or f"regridded ({method}, {backend}) by "
                    "glonet-regions") if x
    )  # fmt: skip
    encoding = {
        name: {"zlib": True, "complevel": 4, "_FillValue": float("nan")}
        for name, var in result.data_vars.items()
        if var.dtype.kind == "f"
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        result.to_netcdf(tmp, encoding=encoding, engine="netcdf4")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
