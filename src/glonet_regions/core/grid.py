"""Regular latitude/longitude grids: bounds, areas, sub-setting, padding, coarsening, matching.

Conventions: coordinates are cell centres in degrees, latitude and longitude strictly
increasing, arrays laid out ``(..., lat, lon)``. A grid is immutable; every operation returns a
new grid. Nothing here does I/O or imports xarray: :meth:`Grid.from_dataset` accepts any object
with xarray-like ``variables`` (or ``coords``) mappings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glonet_regions.core.errors import GridMismatchError, ValidationError

#: Mean Earth radius (m), the IUGG value used by most ocean-model area computations.
EARTH_RADIUS_M = 6_371_008.8


def great_circle_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Haversine distance (km) between points in degrees, on the sphere of ``EARTH_RADIUS_M``."""
    p1 = np.deg2rad(lat1)
    p2 = np.deg2rad(lat2)
    dl = np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_M / 1000.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


_LAT_NAMES = ("latitude", "lat", "nav_lat", "y", "LATITUDE", "Latitude")
_LON_NAMES = ("longitude", "lon", "nav_lon", "x", "LONGITUDE", "Longitude")
_GENERIC_NAMES = ("x", "y")
_F32_EPS = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class BBox:
    """A lon/lat box ``[lon_min, lon_max] x [lat_min, lat_max]`` in degrees (inclusive)."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float

    def __post_init__(self) -> None:
        for name in ("lon_min", "lon_max", "lat_min", "lat_max"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise ValidationError(f"BBox.{name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        if not self.lon_min < self.lon_max:
            raise ValidationError(
                f"BBox lon_min ({self.lon_min}) must be smaller than lon_max ({self.lon_max})"
            )
        if not self.lat_min < self.lat_max:
            raise ValidationError(
                f"BBox lat_min ({self.lat_min}) must be smaller than lat_max ({self.lat_max})"
            )
        if self.lat_min < -90 or self.lat_max > 90:
            raise ValidationError(f"BBox latitudes must lie in [-90, 90], got {self.as_list()}")
        if self.lon_min < -360 or self.lon_max > 360:
            raise ValidationError(f"BBox longitudes must lie in [-360, 360], got {self.as_list()}")

    @classmethod
    def from_sequence(cls, values: Sequence[float], *, what: str = "bbox") -> BBox:
        """Build from ``[lon_min, lon_max, lat_min, lat_max]``."""
        if len(values) != 4:
            raise ValidationError(
                f"{what} must be [lon_min, lon_max, lat_min, lat_max], got {list(values)}"
            )
        return cls(*(float(v) for v in values))

    def as_list(self) -> list[float]:
        """``[lon_min, lon_max, lat_min, lat_max]``."""
        return [self.lon_min, self.lon_max, self.lat_min, self.lat_max]

    def contains(self, other: BBox, *, tol: float = 1e-9) -> bool:
        """Whether ``other`` lies inside this box."""
        return (
            other.lon_min >= self.lon_min - tol
            and other.lon_max <= self.lon_max + tol
            and other.lat_min >= self.lat_min - tol
            and other.lat_max <= self.lat_max + tol
        )

    def intersection(self, other: BBox) -> BBox | None:
        """The overlap of two boxes, or None."""
        lo0, lo1 = max(self.lon_min, other.lon_min), min(self.lon_max, other.lon_max)
        la0, la1 = max(self.lat_min, other.lat_min), min(self.lat_max, other.lat_max)
        if lo0 >= lo1 or la0 >= la1:
            return None
        return BBox(lo0, lo1, la0, la1)

    def area_m2(self, radius: float = EARTH_RADIUS_M) -> float:
        """Analytic area of the box on the sphere."""
        dlon = np.deg2rad(self.lon_max - self.lon_min)
        return float(
            radius**2 * dlon * (np.sin(np.deg2rad(self.lat_max)) - np.sin(np.deg2rad(self.lat_min)))
        )


@dataclass(frozen=True)
class Padding:
    """Cells added on each side of a grid (``(..., lat, lon)`` arrays)."""

    lat_before: int = 0
    lat_after: int = 0
    lon_before: int = 0
    lon_after: int = 0

    def __post_init__(self) -> None:
        for name in ("lat_before", "lat_after", "lon_before", "lon_after"):
            if int(getattr(self, name)) < 0:
                raise ValidationError(f"Padding.{name} must be >= 0")

    @property
    def is_zero(self) -> bool:
        return not (self.lat_before or self.lat_after or self.lon_before or self.lon_after)

    def pad_array(self, array: np.ndarray, mode: str = "edge", **kwargs: Any) -> np.ndarray:
        """Pad the last two axes of ``array`` (``numpy.pad`` mode)."""
        widths = [(0, 0)] * (array.ndim - 2) + [
            (self.lat_before, self.lat_after),
            (self.lon_before, self.lon_after),
        ]
        return np.pad(array, widths, mode=mode, **kwargs)  # type: ignore[call-overload]

    def crop_array(self, array: np.ndarray) -> np.ndarray:
        """Remove the padding from the last two axes of ``array``."""
        h, w = array.shape[-2:]
        return array[
            ...,
            self.lat_before : h - self.lat_after,
            self.lon_before : w - self.lon_after,
        ]


@dataclass(frozen=True)
class GridIndex:
    """Where a set of coordinates falls on a grid: integer indices along lat and lon."""

    lat: np.ndarray
    lon: np.ndarray

    @staticmethod
    def _as_slice(idx: np.ndarray) -> slice | None:
        if idx.size == 0:
            return None
        if idx.size == 1:
            return slice(int(idx[0]), int(idx[0]) + 1)
        steps = np.diff(idx)
        if np.all(steps == steps[0]) and steps[0] > 0:
            # Contiguous -> step None, so the slice equals the ones ``Grid.index_box`` returns.
            step = int(steps[0])
            return slice(int(idx[0]), int(idx[-1]) + 1, step if step > 1 else None)
        return None

    @property
    def lat_slice(self) -> slice | None:
        """The latitude indices as a slice if they are evenly strided, else None."""
        return self._as_slice(self.lat)

    @property
    def lon_slice(self) -> slice | None:
        """The longitude indices as a slice if they are evenly strided, else None."""
        return self._as_slice(self.lon)

    @property
    def stride(self) -> tuple[int, int]:
        """The (lat, lon) stride between matched points (1 for contiguous)."""
        sl, so = self.lat_slice, self.lon_slice
        return (
            (sl.step or 1) if sl is not None else 0,
            (so.step or 1) if so is not None else 0,
        )


def _check_axis(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValidationError(f"Grid {name} must be 1-D, got shape {arr.shape}")
    if arr.size < 1:
        raise ValidationError(f"Grid {name} must have at least one point")
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"Grid {name} contains NaN or infinite values")
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValidationError(
            f"Grid {name} must be strictly increasing (sort the data by {name} first)"
        )
    return arr


def _regular_step(arr: np.ndarray, name: str, step: float | None) -> float:
    if arr.size == 1:
        if step is None:
            raise ValidationError(f"Grid {name} has one point: give its step explicitly")
        return float(step)
    fitted = (arr[-1] - arr[0]) / (arr.size - 1)
    given = step is not None
    step = float(step if step is not None else fitted)
    ideal = arr[0] + np.arange(arr.size) * step
    # Points may carry float32 rounding: compare absolute deviations (a relative check of the
    # fitted step fails on short float32 axes far from 0, e.g. 3 points near lon 128).
    tol = max(1e-4 * step, 16 * _F32_EPS * float(np.max(np.abs(arr))))
    worst = float(np.max(np.abs(arr - ideal)))
    if given and worst > tol:
        raise ValidationError(f"Grid {name}: step {step} does not match the coordinates ({fitted})")
    if worst > tol:
        raise ValidationError(
            f"Grid {name} is not regular: a point lies {worst:.3g} deg from the regular "
            f"step {step:.6g} (tolerance {tol:.2g})"
        )
    return step


@dataclass(frozen=True, eq=False)
class Grid:
    """A regular latitude/longitude grid of cell centres.

    Build one with :meth:`regular` (origin, step, shape), from explicit coordinates
    (``Grid(lat, lon)``; they must be evenly spaced within float32 rounding) or from a dataset
    (:meth:`from_dataset`).
    """

    lat: np.ndarray
    lon: np.ndarray
    dlat: float = field(default=0.0)
    dlon: float = field(default=0.0)

    def __post_init__(self) -> None:
        lat = _check_axis(self.lat, "latitude")
        lon = _check_axis(self.lon, "longitude")
        dlat = _regular_step(lat, "latitude", self.dlat or None)
        dlon = _regular_step(lon, "longitude", self.dlon or None)
        if lat[0] - dlat / 2 < -90 - 1e-9 or lat[-1] + dlat / 2 > 90 + 1e-9:
            raise ValidationError(
                f"Grid latitude cells must lie within [-90, 90], got centres {lat[0]}..{lat[-1]}"
            )
        # Store the regularised coordinates (float32 noise removed).
        lat = lat[0] + np.arange(lat.size) * dlat
        lon = lon[0] + np.arange(lon.size) * dlon
        lat.flags.writeable = False
        lon.flags.writeable = False
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "dlat", dlat)
        object.__setattr__(self, "dlon", dlon)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def regular(
        cls, *, lon0: float, lat0: float, dlon: float, dlat: float, nlon: int, nlat: int
    ) -> Grid:
        """A grid whose first cell centre is ``(lon0, lat0)`` with the given steps and shape."""
        if nlon < 1 or nlat < 1:
            raise ValidationError(f"Grid shape must be positive, got nlat={nlat}, nlon={nlon}")
        if dlon <= 0 or dlat <= 0:
            raise ValidationError(f"Grid steps must be positive, got dlat={dlat}, dlon={dlon}")
        return cls(
            lat=lat0 + np.arange(nlat) * dlat,
            lon=lon0 + np.arange(nlon) * dlon,
            dlat=dlat,
            dlon=dlon,
        )

    @classmethod
    def from_bbox(cls, bbox: BBox, resolution: float) -> Grid:
        """A grid of cells of ``resolution`` degrees whose centres start at the box's corner."""
        nlon = int(np.floor((bbox.lon_max - bbox.lon_min) / resolution + 1e-6)) + 1
        nlat = int(np.floor((bbox.lat_max - bbox.lat_min) / resolution + 1e-6)) + 1
        return cls.regular(
            lon0=bbox.lon_min, lat0=bbox.lat_min, dlon=resolution, dlat=resolution,
            nlon=nlon, nlat=nlat,
        )  # fmt: skip

    @classmethod
    def from_dataset(cls, ds: Any, *, source: str | None = None) -> Grid:
        """The grid of an xarray-like dataset, whatever its lat/lon names.

        Coordinates are recognised by name (latitude, lat, nav_lat, ...), by
        ``standard_name`` or by ``units`` (degrees_north / degrees_east).
        """
        lat_name, lon_name = find_lat_lon_names(ds, source=source)
        variables = _variables_of(ds)
        return cls(lat=np.asarray(variables[lat_name]), lon=np.asarray(variables[lon_name]))

    # -- geometry -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(nlat, nlon)``."""
        return (int(self.lat.size), int(self.lon.size))

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def lat_bounds(self) -> np.ndarray:
        """Cell edges along latitude, ``nlat + 1`` values, clipped to [-90, 90]."""
        edges = self.lat[0] - self.dlat / 2 + np.arange(self.lat.size + 1) * self.dlat
        return np.clip(edges, -90.0, 90.0)

    @property
    def lon_bounds(self) -> np.ndarray:
        """Cell edges along longitude, ``nlon + 1`` values."""
        return self.lon[0] - self.dlon / 2 + np.arange(self.lon.size + 1) * self.dlon

    @property
    def bbox(self) -> BBox:
        """The box spanned by the cell edges."""
        lat_b, lon_b = self.lat_bounds, self.lon_bounds
        return BBox(float(lon_b[0]), float(lon_b[-1]), float(lat_b[0]), float(lat_b[-1]))

    @property
    def centre_bbox(self) -> BBox | None:
        """The box spanned by the cell centres (None for a single row or column)."""
        if self.lat.size < 2 or self.lon.size < 2:
            return None
        return BBox(
            float(self.lon[0]), float(self.lon[-1]), float(self.lat[0]), float(self.lat[-1])
        )

    def cell_area(self, radius: float = EARTH_RADIUS_M) -> np.ndarray:
        """Area of every cell on the sphere (m^2), shape ``(nlat, nlon)``."""
        sin_b = np.sin(np.deg2rad(self.lat_bounds))
        dlon = np.deg2rad(np.diff(self.lon_bounds))
        return radius**2 * np.outer(np.diff(sin_b), dlon)

    def area_weights(self) -> np.ndarray:
        """Cell areas normalised to mean 1 (the usual area weights of scores)."""
        area = self.cell_area()
        return area / area.mean()

    # -- sub-setting ---------------------------------------------------------------------
    def index_box(self, bbox: BBox, *, tol: float | None = None) -> tuple[slice, slice]:
        """Slices selecting the cells whose centres lie in ``bbox`` (inclusive)."""
        tol = 1e-6 * max(self.dlat, self.dlon) if tol is None else tol
        lat_sel = np.flatnonzero(
            (self.lat >= bbox.lat_min - tol) & (self.lat <= bbox.lat_max + tol)
        )
        lon_sel = np.flatnonzero(
            (self.lon >= bbox.lon_min - tol) & (self.lon <= bbox.lon_max + tol)
        )
        if lat_sel.size == 0 or lon_sel.size == 0:
            raise GridMismatchError(
                f"Box {bbox.as_list()} holds no cell centre of the grid "
                f"(centres lon {self.lon[0]:.4f}..{self.lon[-1]:.4f}, "
                f"lat {self.lat[0]:.4f}..{self.lat[-1]:.4f})"
            )
        return slice(int(lat_sel[0]), int(lat_sel[-1]) + 1), slice(
            int(lon_sel[0]), int(lon_sel[-1]) + 1
        )

    def isel(self, lat: slice, lon: slice) -> Grid:
        """The sub-grid selected by two slices (a step is allowed)."""
        new_lat, new_lon = self.lat[lat], self.lon[lon]
        if new_lat.size == 0 or new_lon.size == 0:
            raise ValidationError(f"Selection lat={lat}, lon={lon} is empty on a {self.shape} grid")
        return Grid(
            lat=new_lat,
            lon=new_lon,
            dlat=self.dlat * (lat.step or 1),
            dlon=self.dlon * (lon.step or 1),
        )

    def subset(self, bbox: BBox) -> Grid:
        """The exact sub-grid of cells whose centres lie in ``bbox``."""
        return self.isel(*self.index_box(bbox))

    # -- padding -------------------------------------------------------------------------
    def padding_to_multiple(self, multiple: int, *, centred: bool = False) -> Padding:
        """The padding that makes both dimensions multiples of ``multiple``."""
        if multiple < 1:
            raise ValidationError(f"Padding multiple must be >= 1, got {multiple}")
        extra_lat = (-self.shape[0]) % multiple
        extra_lon = (-self.shape[1]) % multiple
        if centred:
            return Padding(extra_lat // 2, extra_lat - extra_lat // 2, extra_lon // 2,
                           extra_lon - extra_lon // 2)  # fmt: skip
        return Padding(0, extra_lat, 0, extra_lon)

    def pad(self, padding: Padding) -> Grid:
        """The grid extended by ``padding`` cells on each side (same steps)."""
        return Grid.regular(
            lon0=float(self.lon[0] - padding.lon_before * self.dlon),
            lat0=float(self.lat[0] - padding.lat_before * self.dlat),
            dlon=self.dlon,
            dlat=self.dlat,
            nlon=self.shape[1] + padding.lon_before + padding.lon_after,
            nlat=self.shape[0] + padding.lat_before + padding.lat_after,
        )

    def pad_to_multiple(self, multiple: int, *, centred: bool = False) -> tuple[Grid, Padding]:
        """Pad to a multiple of ``multiple`` in both dimensions; returns the grid and padding."""
        padding = self.padding_to_multiple(multiple, centred=centred)
        return self.pad(padding), padding

    def crop(self, padding: Padding) -> Grid:
        """Undo :meth:`pad`."""
        h, w = self.shape
        return self.isel(
            slice(padding.lat_before, h - padding.lat_after),
            slice(padding.lon_before, w - padding.lon_after),
        )

    # -- coarsening ----------------------------------------------------------------------
    def coarsen(self, factor: int, *, trim: bool = False) -> Grid:
        """Merge ``factor x factor`` blocks of cells into one.

        Raises unless both dimensions are multiples of ``factor`` (or ``trim`` drops the
        remainder at the north and east ends).
        """
        if factor < 1:
            raise ValidationError(f"Coarsening factor must be >= 1, got {factor}")
        h, w = self.shape
        if not trim and (h % factor or w % factor):
            raise ValidationError(
                f"Grid shape {self.shape} is not a multiple of the coarsening factor {factor}; "
                "pass trim=True to drop the remainder"
            )
        nh, nw = h // factor, w // factor
        if nh == 0 or nw == 0:
            raise ValidationError(f"Grid shape {self.shape} is smaller than the factor {factor}")
        return Grid.regular(
            lon0=float(self.lon[0] + (factor - 1) * self.dlon / 2),
            lat0=float(self.lat[0] + (factor - 1) * self.dlat / 2),
            dlon=self.dlon * factor,
            dlat=self.dlat * factor,
            nlon=nw,
            nlat=nh,
        )

    # -- matching ------------------------------------------------------------------------
    def default_tolerance(self) -> tuple[float, float]:
        """Matching tolerance in degrees (lat, lon): float32 rounding or 1e-3 of a cell."""
        lat_tol = max(1e-3 * self.dlat, 8 * _F32_EPS * max(abs(self.lat[0]), abs(self.lat[-1]), 1))
        lon_tol = max(1e-3 * self.dlon, 8 * _F32_EPS * max(abs(self.lon[0]), abs(self.lon[-1]), 1))
        return float(lat_tol), float(lon_tol)

    def locate(
        self,
        lat: Sequence[float] | np.ndarray,
        lon: Sequence[float] | np.ndarray,
        *,
        tol: float | tuple[float, float] | None = None,
        source: str | None = None,
    ) -> GridIndex:
        """Indices of the given coordinates on this grid.

        Every coordinate must lie on a grid node within ``tol`` degrees (default: float32
        rounding or a thousandth of a cell). A real offset (say half a cell) or a point outside
        the grid raises :class:`GridMismatchError` naming ``source`` and the offset in cells.
        """
        if tol is None:
            lat_tol, lon_tol = self.default_tolerance()
        elif isinstance(tol, tuple):
            lat_tol, lon_tol = tol
        else:
            lat_tol = lon_tol = float(tol)
        where = f" in {source}" if source else ""
        out = []
        for axis, values, step, ref, t in (
            ("latitude", lat, self.dlat, self.lat, lat_tol),
            ("longitude", lon, self.dlon, self.lon, lon_tol),
        ):
            vals = np.asarray(values, dtype=np.float64).ravel()
            pos = (vals - ref[0]) / step
            idx = np.rint(pos).astype(np.int64)
            offset = np.abs(vals - (ref[0] + idx * step))
            worst = int(np.argmax(offset)) if vals.size else 0
            if vals.size and offset[worst] > t:
                raise GridMismatchError(
                    f"{axis.capitalize()} {vals[worst]:.6f}{where} is "
                    f"{offset[worst] / step:.3f} cells from the nearest grid node "
                    f"(tolerance {t / step:.2g} cells): the data are not on this grid"
                )
            outside = (idx < 0) | (idx >= ref.size)
            if np.any(outside):
                bad = vals[outside][0]
                raise GridMismatchError(
                    f"{axis.capitalize()} {bad:.6f}{where} lies outside the grid "
                    f"({ref[0]:.4f}..{ref[-1]:.4f})"
                )
            out.append(idx)
        return GridIndex(lat=out[0], lon=out[1])

    def same_as(self, other: Grid, *, tol: float | None = None) -> bool:
        """Whether two grids have the same nodes within tolerance."""
        if self.shape != other.shape:
            return False
        lat_tol, lon_tol = self.default_tolerance() if tol is None else (tol, tol)
        return bool(
            np.allclose(self.lat, other.lat, rtol=0, atol=lat_tol)
            and np.allclose(self.lon, other.lon, rtol=0, atol=lon_tol)
        )

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (origin, step, shape)."""
        return {
            "lat0": float(self.lat[0]),
            "lon0": float(self.lon[0]),
            "dlat": self.dlat,
            "dlon": self.dlon,
            "nlat": self.shape[0],
            "nlon": self.shape[1],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grid:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls.regular(
                lon0=float(data["lon0"]), lat0=float(data["lat0"]),
                dlon=float(data["dlon"]), dlat=float(data["dlat"]),
                nlon=int(data["nlon"]), nlat=int(data["nlat"]),
            )  # fmt: skip
        except KeyError as exc:
            raise ValidationError(f"Grid description lacks key {exc.args[0]!r}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.same_as(other)

    def __hash__(self) -> int:
        # Equality is "same nodes within tolerance", so only the shape can enter the hash:
        # rounding the coordinates would split grids that compare equal (float32 rounding).
        return hash(("Grid", self.shape))

    def __repr__(self) -> str:
        return (
            f"Grid(shape={self.shape}, "
            f"lat={self.lat[0]:.4f}..{self.lat[-1]:.4f} step {self.dlat:.6g}, "
            f"lon={self.lon[0]:.4f}..{self.lon[-1]:.4f} step {self.dlon:.6g})"
        )

    def fingerprint(self) -> str:
        """A short stable hash of the grid nodes (for caches and provenance)."""
        import hashlib

        text = ",".join(f"{v:.10f}" for v in self.to_dict().values())
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _variables_of(ds: Any) -> Mapping[str, Any]:
    variables = getattr(ds, "variables", None)
    if variables is None:
        variables = getattr(ds, "coords", None)
    if variables is None:
        raise ValidationError(f"Object of type {type(ds).__name__} has no variables or coords")
    return variables


def find_lat_lon_names(ds: Any, *, source: str | None = None) -> tuple[str, str]:
    """Names of the 1-D latitude and longitude coordinates of a dataset."""
    variables = _variables_of(ds)

    def pick(names: tuple[str, ...], standard: str, units: tuple[str, ...]) -> str | None:
        for name in names:
            if name in variables and np.ndim(variables[name]) == 1:
                attrs = getattr(variables[name], "attrs", {}) or {}
                if name in _GENERIC_NAMES and "degree" not in str(attrs.get("units", "")):
                    # 'x'/'y' are often index or projected coordinates (NEMO, UTM): only
                    # trust them with degree units (the CF pass below covers standard_name).
                    continue
                return name
        for name, var in variables.items():
            attrs = getattr(var, "attrs", {}) or {}
            if np.ndim(var) == 1 and (
                attrs.get("standard_name") == standard or attrs.get("units") in units
            ):
                return str(name)
        return None

    lat = pick(_LAT_NAMES, "latitude", ("degrees_north", "degree_north", "degrees_N"))
    lon = pick(_LON_NAMES, "longitude", ("degrees_east", "degree_east", "degrees_E"))
    if lat is None or lon is None:
        where = f" in {source}" if source else ""
        raise GridMismatchError(
            f"No 1-D {'latitude' if lat is None else 'longitude'} coordinate found{where}; "
            f"looked for names {_LAT_NAMES if lat is None else _LON_NAMES} or CF attributes"
        )
    return lat, lon
