"""Regridding xarray DataArrays and Datasets (variables, attrs and non-spatial dims kept)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from glonet_regions.core.errors import GridMismatchError
from glonet_regions.core.grid import Grid, find_lat_lon_names

if TYPE_CHECKING:
    import xarray as xr

    from glonet_regions.data.regrid.apply import BaseRegridder

#: Encoding keys that describe the source file's packing and must not follow regridded values.
_DROP_ENCODING = ("scale_factor", "add_offset", "_FillValue", "missing_value", "dtype",
                  "chunksizes", "preferred_chunks", "source", "original_shape")  # fmt: skip


def _mask_for(mask: Any, var: xr.DataArray) -> Any:
    """Broadcast a DataArray mask by dimension name to ``var``'s dims; other masks pass through."""
    import xarray as xr

    if not isinstance(mask, xr.DataArray):
        return mask
    m = mask
    for d in m.dims:
        if d not in var.dims:
            m = m.isel({d: 0})  # e.g. a level mask for a surface field: the top level
    variable = xr.Variable(m.dims, np.asarray(m.values, dtype=bool))
    return variable.set_dims(dict(var.sizes)).transpose(*var.dims).values


def regrid_xarray(
    regridder: BaseRegridder,
    obj: xr.DataArray | xr.Dataset,
    *,
    src_mask: Any = None,
    dst_mask: Any = None,
    fill: str | None = None,
) -> Any:
    """Regrid every variable of ``obj`` that spans latitude and longitude.

    Variables with neither dimension are kept as they are; those with only one (such as
    ``lat_bnds``) are dropped since they no longer describe the grid.
    """
    import xarray as xr

    lat_name, lon_name = find_lat_lon_names(obj)
    data_grid = Grid(lat=np.asarray(obj[lat_name].values), lon=np.asarray(obj[lon_name].values))
    if not regridder.source_grid.same_as(data_grid):
        raise GridMismatchError(
            f"The data's grid {data_grid} is not the regridder's source grid "
            f"{regridder.source_grid}"
        )
    lat_dim, lon_dim = obj[lat_name].dims[0], obj[lon_name].dims[0]
    target = regridder.target_grid
    new_lat = xr.Variable((lat_dim,), target.lat.copy(), attrs=dict(obj[lat_name].attrs))
    new_lon = xr.Variable((lon_dim,), target.lon.copy(), attrs=dict(obj[lon_name].attrs))

    def one(var: xr.DataArray) -> xr.DataArray:
        order = [d for d in var.dims if d not in (lat_dim, lon_dim)] + [lat_dim, lon_dim]
        vt = var.transpose(*order)
        out_shape = {**dict(vt.sizes), lat_dim: target.shape[0], lon_dim: target.shape[1]}
        smask = _mask_for(src_mask, vt)
        dmask = dst_mask
        if isinstance(dst_mask, xr.DataArray):
            dummy = xr.DataArray(np.zeros([out_shape[d] for d in order], dtype=bool), dims=order)
            dmask = _mask_for(dst_mask, dummy)
        values = regridder.apply_array(vt.values, src_mask=smask, dst_mask=dmask, fill=fill)
        if np.issubdtype(var.dtype, np.floating) and var.dtype.itemsize == 4:
            values = values.astype(np.float32)
        coords = {
            name: c.variable
            for name, c in vt.coords.items()
            if lat_dim not in c.dims and lon_dim not in c.dims
        }
        coords[lat_name] = new_lat
        coords[lon_name] = new_lon
        res = xr.DataArray(values, dims=order, coords=coords, name=var.name, attrs=dict(var.attrs))
        res.encoding = {k: v for k, v in var.encoding.items() if k not in _DROP_ENCODING}
        return res.transpose(*var.dims)

    if isinstance(obj, xr.DataArray):
        if lat_dim not in obj.dims or lon_dim not in obj.dims:
            raise GridMismatchError(
                f"DataArray {obj.name!r} does not span both {lat_dim!r} and {lon_dim!r}"
            )
        return one(obj)
    out_vars: dict[Any, xr.DataArray] = {}
    for name, var in obj.data_vars.items():
        spans = (lat_dim in var.dims, lon_dim in var.dims)
        if all(spans):
            out_vars[name] = one(var)
        elif not any(spans):
            out_vars[name] = var.variable.copy()  # type: ignore[assignment]
    coords: dict[Any, Any] = {}
    for name, c in obj.coords.items():  # keep the original order, lat/lon replaced
        if name == lat_name:
            coords[name] = new_lat
        elif name == lon_name:
            coords[name] = new_lon
        elif lat_dim not in c.dims and lon_dim not in c.dims:
            coords[name] = c.variable
    ds = xr.Dataset(out_vars, coords=coords, attrs=dict(obj.attrs))
    for name in (lat_name, lon_name):
        ds[name].encoding = {}
    return ds
