"""Derived diagnostics scored like variables: mixed-layer depth and geostrophic currents.

Both are computed the same way on the forecast and on the truth, then compared.

- ``mld``: depth (m) where potential density (sigma0, TEOS-10 via ``gsw``) first exceeds its
  value at the reference depth (~10 m, interpolated) by 0.03 kg m-3, found by linear
  interpolation between levels. With GLONET's coarse levels (0.5, 47, 92... m) this is a crude
  estimate; it is only as good as the levels the cube carries. Where the threshold is never
  reached the deepest valid level is used.
- ``ugos``/``vgos``: surface geostrophic currents from SSH on an f-plane per latitude
  (``u = -g/f dη/dy``, ``v = g/f dη/dx``, centred differences), NaN within ``min_abs_lat``
  degrees of the equator and next to land.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError
from glonet_regions.core.grid import EARTH_RADIUS_M

__all__ = [
    "BUILTIN_DIAGNOSTICS",
    "compute_diagnostics",
    "geostrophic_currents",
    "mixed_layer_depth",
]

GRAVITY = 9.80665
OMEGA = 7.2921159e-5

DiagnosticFn = Callable[[xr.Dataset], xr.Dataset]


def _sigma0(ds: xr.Dataset) -> xr.DataArray:
    import gsw

    depth = ds["depth"].values
    lat = ds["latitude"].values
    lon = ds["longitude"].values
    so = ds["so"].transpose(..., "depth", "latitude", "longitude")
    pt = ds["thetao"].transpose(..., "depth", "latitude", "longitude")
    lat3 = lat[None, :, None]
    lon3 = lon[None, None, :]
    p = gsw.p_from_z(-depth[:, None, None], lat3)  # (depth, lat, 1)
    sa = gsw.SA_from_SP(so.values, p, lon3, lat3)
    ct = gsw.CT_from_pt(sa, pt.values)
    sig = gsw.sigma0(sa, ct)
    return xr.DataArray(sig, dims=so.dims, coords=so.coords, name="sigma0")


def mixed_layer_depth(
    ds: xr.Dataset, *, threshold: float = 0.03, ref_depth: float = 10.0
) -> xr.DataArray:
    """Mixed-layer depth (m) from a density threshold on sigma0 (TEOS-10).

    Args:
        ds: Dataset with ``thetao`` (potential temperature, degC) and ``so`` (practical
            salinity) on ``depth`` levels, plus ``latitude``/``longitude``.
        threshold: Density increase (kg m-3) defining the base of the mixed layer.
        ref_depth: Reference depth (m); sigma0 there is interpolated between levels (the top
            level is used when it is deeper).

    Returns:
        ``mld`` without the depth dimension; NaN on land.
    """
    for name in ("thetao", "so"):
        if name not in ds or "depth" not in ds[name].dims:
            raise DataError(f"Mixed-layer depth needs {name!r} on depth levels")
    sig = _sigma0(ds)
    depth = ds["depth"].values.astype(np.float64)
    s = np.moveaxis(sig.values, sig.dims.index("depth"), -1)  # (..., depth)
    valid = np.isfinite(s)
    # Reference sigma at ref_depth (linear in depth between bracketing valid levels).
    if ref_depth <= depth[0] or depth.size == 1:
        s_ref = s[..., 0]
    else:
        k = int(np.searchsorted(depth, ref_depth)) - 1
        k = min(max(k, 0), depth.size - 2)
        t = (ref_depth - depth[k]) / (depth[k + 1] - depth[k])
        upper, lower = s[..., k], s[..., k + 1]
        s_ref = np.where(np.isfinite(lower), upper + t * (lower - upper), upper)
    target = s_ref[..., None] + threshold
    below_ref = depth > ref_depth
    crossed = valid & (s >= target) & below_ref
    any_cross = crossed.any(axis=-1)
    first = np.argmax(crossed, axis=-1)
    # Interpolate between the level above the crossing and the crossing level.
    kp = np.maximum(first - 1, 0)
    s_hi = np.take_along_axis(s, first[..., None], -1)[..., 0]
    s_lo = np.take_along_axis(s, kp[..., None], -1)[..., 0]
    d_hi = depth[first]
    d_lo = np.where(depth[kp] < ref_depth, ref_depth, depth[kp])
    s_lo = np.where(depth[kp] < ref_depth, s_ref, s_lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((target[..., 0] - s_lo) / (s_hi - s_lo), 0.0, 1.0)
    mld_cross = d_lo + frac * (d_hi - d_lo)
    # Never crossed: the deepest valid level.
    n_valid = valid.sum(axis=-1)
    deepest = depth[np.maximum(n_valid - 1, 0)]
    mld = np.where(any_cross, mld_cross, deepest)
    mld = np.where(np.isfinite(s_ref), mld, np.nan)
    dims = [d for d in sig.dims if d != "depth"]
    coords = {c: sig[c] for c in sig.coords if "depth" not in sig[c].dims}
    out = xr.DataArray(mld.astype(np.float32), dims=dims, coords=coords, name="mld")
    out.attrs.update(
        standard_name="ocean_mixed_layer_thickness_defined_by_sigma_theta",
        long_name=f"Mixed-layer depth (sigma0 threshold {threshold} kg m-3 from {ref_depth} m)",
        units="m",
    )
    return out


def geostrophic_currents(
    zos: xr.DataArray, *, min_abs_lat: float = 5.0
) -> tuple[xr.DataArray, xr.DataArray]:
    """Surface geostrophic currents (m s-1) from sea surface height on a regular grid."""
    lat = zos["latitude"].values.astype(np.float64)
    lon = zos["longitude"].values.astype(np.float64)
    if lat.size < 2 or lon.size < 2:
        raise DataError("Geostrophic currents need at least 2 x 2 grid points")
    eta = zos.transpose(..., "latitude", "longitude").values.astype(np.float64)
    phi = np.deg2rad(lat)
    dy = EARTH_RADIUS_M * np.deg2rad(np.gradient(lat))  # (lat,)
    dx = EARTH_RADIUS_M * np.cos(phi)[:, None] * np.deg2rad(np.gradient(lon))[None, :]
    deta_dy = np.gradient(eta, axis=-2) / dy[:, None]
    deta_dx = np.gradient(eta, axis=-1) / dx
    f = 2 * OMEGA * np.sin(phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(np.abs(lat) >= min_abs_lat, GRAVITY / f, np.nan)[:, None]
    ug = -coef * deta_dy
    vg = coef * deta_dx
    dims = zos.transpose(..., "latitude", "longitude").dims
    coords = zos.coords
    u = xr.DataArray(ug.astype(np.float32), dims=dims, coords=coords, name="ugos")
    v = xr.DataArray(vg.astype(np.float32), dims=dims, coords=coords, name="vgos")
    u.attrs.update(
        standard_name="surface_geostrophic_eastward_sea_water_velocity",
        long_name="Eastward geostrophic current from SSH",
        units="m s-1",
    )
    v.attrs.update(
        standard_name="surface_geostrophic_northward_sea_water_velocity",
        long_name="Northward geostrophic current from SSH",
        units="m s-1",
    )
    return u, v


def _mld(ds: xr.Dataset) -> xr.Dataset:
    if not {"thetao", "so"} <= set(ds.data_vars) or "depth" not in ds.dims:
        return xr.Dataset()
    if ds.sizes["depth"] < 2:
        return xr.Dataset()
    return mixed_layer_depth(ds).to_dataset()


def _geostrophic(ds: xr.Dataset) -> xr.Dataset:
    if "zos" not in ds:
        return xr.Dataset()
    u, v = geostrophic_currents(ds["zos"])
    return xr.Dataset({"ugos": u, "vgos": v})


#: Built-in diagnostics: name -> function(dataset) -> dataset of derived fields.
BUILTIN_DIAGNOSTICS: dict[str, DiagnosticFn] = {"mld": _mld, "geostrophic": _geostrophic}


def compute_diagnostics(
    ds: xr.Dataset,
    diagnostics: dict[str, DiagnosticFn] | None = None,
    *,
    names: Sequence[str] | None = None,
) -> xr.Dataset:
    """Run each diagnostic on ``ds`` and merge their fields (one lacking inputs adds none)."""
    table = dict(BUILTIN_DIAGNOSTICS if diagnostics is None else diagnostics)
    parts = []
    for name, fn in table.items():
        if names is not None and name not in names:
            continue
        out = fn(ds)
        if not isinstance(out, xr.Dataset):
            raise DataError(f"Diagnostic {name!r} returned {type(out).__name__}, not a Dataset")
        parts.append(out)
    if not parts:
        return xr.Dataset()
    return xr.merge(parts, compat="override", join="exact")
