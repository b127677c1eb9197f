"""Lagrangian trajectory deviation: drift particles in a forecast's and the truth's currents.

OceanBench's definition: the deviation in kilometres between two sets of drifting particles,
one advected by the challenger's surface currents and one by the reference's, seeded by
sampling ocean grid points without replacement with cos(latitude)-weighted probabilities.

Method, as implemented here:

- **Seeding** (:func:`seed_particles`): per start date, ``n`` ocean cells are drawn without
  replacement with probability proportional to cos(latitude) (every ocean cell once when there
  are no more than ``n``); a particle starts at the cell centre. Ocean means: ``uo`` and ``vo``
  finite at the shallowest level of the *truth's* first lead day, and inside the zone scored.
  The same particles are advected with the model and with the truth.
- **Integration** (:func:`advect`): classic fourth-order Runge-Kutta in (longitude, latitude)
  degrees on a sphere of radius :data:`~glonet_regions.core.grid.EARTH_RADIUS_M`
  (``dlon/dt = u / (R cos lat)``, ``dlat/dt = v / R``, radians converted to degrees), with a
  fixed step (one hour by default, a whole divisor of a day). Vectorised over particles.
- **Space interpolation**: bilinear between the four surrounding nodes of the regular grid,
  over the ocean nodes only (nodes where ``uo`` or ``vo`` is NaN are left out and the weights of
  the others renormalised): ``u = bilinear(u * ocean) / bilinear(ocean)``.
- **Time interpolation**: daily field ``k`` (``lead_day_index`` k) is valid at ``t = k`` days
  from the start; the fields are linear in time between two daily fields. The particles start
  on the first forecast day (field 0) and drift ``n_lead - 1`` days, to the last field.
- **Lead days** (OceanBench's labels): lead day ``L`` is the position after ``L - 1`` days of
  drift, i.e. on the day of field ``L - 1``; the first reported lead day is 2 (lead day 1 is
  the seeding, deviation 0), the last is the forecast's last lead day.
- **Land and the grid edge**: a point is land where ``bilinear(ocean)`` (interpolated in time
  too) is below 0.5: at a straight coast, beyond the edge of the last ocean cell, i.e. the
  cells the seeding treats as land. Beyond the grid's outer half-cell is land too (the grid is
  padded with a ring of land nodes; inside the outer half-cell the edge velocity is held). A
  particle meeting land at any RK4 stage of a step stops where it was at the start of that
  step and is dead from then on. The deviation at a lead day is the mean great-circle
  (haversine) distance over the particles alive in *both* trajectories; their count is
  reported with it.
- **Cost**: the particles of every zone and start date go through one integration per model
  (a cell drawn by two zones is advected once), plus one for the truth.

Differences from OceanBench (its ``oceanbench/core/lagrangian_trajectory.py`` runs Parcels'
``AdvectionRK4`` with a 1 h step and deletes particles leaving the domain):

- no Parcels: our own vectorised RK4 (the same scheme and step, an hourly step by default);
- land: Parcels reads NaN velocities as zero, so its particles slow down at the coast; ours stop
  and are excluded from then on (only particles alive in both trajectories are averaged);
- distance: great-circle, where OceanBench uses 111 km per degree scaled by cos(latitude);
- particles: per zone and start date (cos(latitude)-weighted, as OceanBench's documentation
  states), seeded from the truth's ocean cells; velocities are held in float32;
- lead days: the same labels as OceanBench (lead day ``L`` = ``L - 1`` days of drift, from
  lead day 2), the same start (the first forecast day) and the same duration;
- the particles drift over the evaluation grid only (beyond it they are dead). Velocities of
  the open-boundary zone are used as they are (particles may drift through it); only the
  seeding is restricted to the zone scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import xarray as xr

from glonet_regions.core.errors import DataError, ValidationError
from glonet_regions.core.grid import EARTH_RADIUS_M, great_circle_km
from glonet_regions.forecast.cube import FIRST_DAY, LEAD

__all__ = [
    "DAY_S",
    "Trajectories",
    "ZoneDeviation",
    "advect",
    "seed_particles",
    "surface_currents",
    "trajectory_deviation",
    "zone_deviations",
]

DAY_S = 86_400.0
_DEG = 180.0 / np.pi


class Trajectories(NamedTuple):
    """Positions after each whole day: arrays of shape ``(days, n_particles)``.

    ``lat``/``lon`` hold the position after day ``1..days`` (a dead particle keeps the
    position where it stopped); ``alive`` is False from the day a particle stopped on.
    """

    lat: np.ndarray
    lon: np.ndarray
    alive: np.ndarray


def seed_particles(
    grid_lat: np.ndarray | Sequence[float],
    grid_lon: np.ndarray | Sequence[float],
    ocean_mask_2d: np.ndarray,
    n: int,
    rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` ocean cells without replacement, weighted by cos(latitude).

    Args:
        grid_lat: Cell-centre latitudes (degrees), length ``nlat``.
        grid_lon: Cell-centre longitudes (degrees), length ``nlon``.
        ocean_mask_2d: Boolean ``(nlat, nlon)``, True on the cells that may be drawn.
        n: How many particles; fewer when there are fewer ocean cells (then every ocean
            cell is drawn once).
        rng: A numpy Generator or an integer seed.

    Returns:
        ``(lat, lon)`` of the particles (cell centres), float64 arrays.
    """
    lat = np.asarray(grid_lat, dtype=np.float64)
    lon = np.asarray(grid_lon, dtype=np.float64)
    mask = np.asarray(ocean_mask_2d, dtype=bool)
    if mask.shape != (lat.size, lon.size):
        raise ValidationError(
            f"ocean mask shape {mask.shape} does not match the grid ({lat.size}, {lon.size})"
        )
    if n < 0:
        raise ValidationError(f"n (number of particles) must be >= 0, got {n}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    cells = _pick_cells(lat, mask, n, gen)
    ii, jj = np.unravel_index(cells, mask.shape)
    return lat[ii], lon[jj]


def _pick_cells(lat: np.ndarray, mask: np.ndarray, n: int, gen: np.random.Generator) -> np.ndarray:
    """Flat indices of ``min(n, mask.sum())`` cells of ``mask``, cos(lat)-weighted, no repeats."""
    flat = np.flatnonzero(mask)
    k = min(int(n), flat.size)
    if k == 0:
        return np.empty(0, dtype=np.intp)
    if k == flat.size:
        return flat[gen.permutation(flat.size)]
    w = np.clip(np.cos(np.deg2rad(lat[flat // mask.shape[1]])), 1e-12, None)
    return flat[gen.choice(flat.size, size=k, replace=False, p=w / w.sum())]


@dataclass(frozen=True)
class _Axis:
    """A regular, increasing axis of cell centres."""

    start: float
    step: float
    size: int

    @classmethod
    def of(cls, values: np.ndarray, name: str) -> _Axis:
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1 or x.size < 2:
            raise ValidationError(f"{name} must be a 1-D axis of at least 2 values")
        steps = np.diff(x)
        step = (x[-1] - x[0]) / (x.size - 1)
        if step <= 0 or not np.allclose(steps, step, rtol=1e-3, atol=0):
            raise ValidationError(f"{name} must be increasing and evenly spaced")
        return cls(float(x[0]), float(step), int(x.size))


class _Field:
    """Daily velocity fields of several members, sampled at particle positions and times.

    Built from ``u`` and ``v`` of shape ``(member, time, lat, lon)`` (NaN on land). The grid is
    padded with a ring of land nodes, so the outer half-cell of the grid is ocean where its edge
    node is, and anything beyond is land. Each time level is stored as three flat float32
    arrays over ``(member, padded lat, padded lon)``: ``u`` and ``v`` (0 on land) and the ocean
    mask (1 ocean, 0 land). At a point, the velocity is ``bilinear(u) / bilinear(mask)`` (the
    bilinear interpolation over the ocean nodes only) and the point is land where
    ``bilinear(mask) < 0.5`` (at a straight coast: beyond the edge of the last ocean cell).
    """

    def __init__(self, u: np.ndarray, v: np.ndarray, lat: _Axis, lon: _Axis) -> None:
        if u.shape != v.shape or u.ndim != 4:
            raise ValidationError(
                f"u and v must share a (member, time, lat, lon) shape, got {u.shape}, {v.shape}"
            )
        n_member, n_time, ny, nx = u.shape
        if (ny, nx) != (lat.size, lon.size):
            raise ValidationError(
                f"velocity fields are {ny} x {nx}, the axes {lat.size} x {lon.size}"
            )
        if n_time < 1:
            raise ValidationError("velocity fields need at least one time level")
        self.n_time = n_time
        self.ny, self.nx = ny + 2, nx + 2
        self.plane = self.ny * self.nx
        self.lat0 = lat.start - lat.step  # the padded axes
        self.lon0 = lon.start - lon.step
        self.dlat = lat.step
        self.dlon = lon.step
        # (time, channel, member, padded lat, padded lon); flattened to one contiguous array
        # per level and channel.
        levels = np.zeros((n_time, 3, n_member, self.ny, self.nx), dtype=np.float32)
        uu = np.moveaxis(u, 1, 0)
        vv = np.moveaxis(v, 1, 0)
        ok = np.isfinite(uu) & np.isfinite(vv)
        levels[:, 0, :, 1:-1, 1:-1] = np.where(ok, uu, 0.0)
        levels[:, 1, :, 1:-1, 1:-1] = np.where(ok, vv, 0.0)
        levels[:, 2, :, 1:-1, 1:-1] = ok
        self.levels = levels.reshape(n_time, 3, -1)
        self._cache: dict[float, np.ndarray] = {}

    def member_offset(self, member: np.ndarray) -> np.ndarray:
        """Flat offset of each particle's member within a level."""
        return np.asarray(member, dtype=np.intp) * self.plane

    def _at(self, t_s: float, blend_grid: bool) -> tuple[np.ndarray, np.ndarray | None, float]:
        """The level(s) at ``t_s``: ``(level k0, level k0+1 or None, weight of k0+1)``."""
        k = t_s / DAY_S
        k0 = min(int(np.floor(k)), self.n_time - 1)
        a = k - k0 if k0 < self.n_time - 1 else 0.0
        if a <= 0.0:
            return self.levels[k0], None, 0.0
        if not blend_grid:
            return self.levels[k0], self.levels[k0 + 1], a
        hit = self._cache.get(t_s)
        if hit is None:
            hit = (1.0 - a) * self.levels[k0] + np.float32(a) * self.levels[k0 + 1]
            if len(self._cache) > 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[t_s] = hit
        return hit, None, 0.0

    def velocity(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        offset: np.ndarray,
        t_s: float,
        *,
        blend_grid: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(u, v)`` in m/s at the positions and time ``t_s`` (NaN: land or outside).

        ``offset`` is :meth:`member_offset`. Positions may be NaN (their velocity is NaN).
        """
        fy = (lat - self.lat0) / self.dlat
        fx = (lon - self.lon0) / self.dlon
        np.minimum(np.maximum(fy, 0.0, out=fy), self.ny - 1.000001, out=fy)
        np.minimum(np.maximum(fx, 0.0, out=fx), self.nx - 1.000001, out=fx)
        iy = fy.astype(np.intp)  # NaN positions cast to garbage, clipped by take below
        ix = fx.astype(np.intp)
        wy = (fy - iy).astype(np.float32)  # float32 arithmetic: half the memory traffic
        wx = (fx - ix).astype(np.float32)
        i0 = offset + iy * self.nx + ix
        i1 = i0 + 1
        i2 = i0 + self.nx
        i3 = i2 + 1

        def interp(level: np.ndarray) -> list[np.ndarray]:
            out = []
            for c in level:
                c0 = c.take(i0, mode="clip")
                c1 = c.take(i1, mode="clip")
                c2 = c.take(i2, mode="clip")
                c3 = c.take(i3, mode="clip")
                r0 = c0 + wx * (c1 - c0)
                r1 = c2 + wx * (c3 - c2)
                out.append(r0 + wy * (r1 - r0))
            return out

        first, second, a = self._at(t_s, blend_grid)
        u, v, m = interp(first)
        if second is not None:
            u2, v2, m2 = interp(second)
            u = (1.0 - a) * u + a * u2
            v = (1.0 - a) * v + a * v2
            m = (1.0 - a) * m + a * m2
        m = np.where(m >= 0.5, m, np.float32(np.nan))  # NaN (a NaN position) is land too
        return u / m, v / m


def _rate(
    field: _Field, lat: np.ndarray, lon: np.ndarray, offset: np.ndarray, t_s: float, blend: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(dlat/dt, dlon/dt)`` in degrees per second."""
    u, v = field.velocity(lat, lon, offset, t_s, blend_grid=blend)
    scale = np.float32(_DEG / EARTH_RADIUS_M)
    dlat = v * scale
    dlon = u * (scale / np.cos((lat * (np.pi / 180.0)).astype(np.float32)))
    return dlat, dlon


def _steps_per_day(dt_s: float) -> int:
    if not dt_s > 0:
        raise ValidationError(f"dt_s must be positive, got {dt_s}")
    n = round(DAY_S / dt_s)
    if n < 1 or abs(n * dt_s - DAY_S) > 1e-6 * DAY_S:
        raise ValidationError(f"dt_s must divide a day (86400 s) into whole steps, got {dt_s}")
    return int(n)


def _integrate(
    field: _Field,
    lat0: np.ndarray,
    lon0: np.ndarray,
    member: np.ndarray,
    *,
    dt_s: float,
    days: int,
) -> Trajectories:
    n_step = _steps_per_day(dt_s)
    h = DAY_S / n_step
    lat = np.asarray(lat0, dtype=np.float64).copy()
    lon = np.asarray(lon0, dtype=np.float64).copy()
    alive = np.ones(lat.size, dtype=bool)
    out_lat = np.empty((days, lat.size))
    out_lon = np.empty((days, lat.size))
    out_alive = np.empty((days, lat.size), dtype=bool)
    off = field.member_offset(member)
    # Blend whole time levels (cached per stage time) when a level is smaller than a few
    # times the particle count; else interpolate the two bracketing levels per particle.
    blend = field.levels.shape[2] <= 4 * max(lat.size, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for day in range(days):
            for s in range(n_step):
                t = day * DAY_S + s * h
                th = t + 0.5 * h
                k1 = _rate(field, lat, lon, off, t, blend)
                k2 = _rate(field, lat + 0.5 * h * k1[0], lon + 0.5 * h * k1[1], off, th, blend)
                k3 = _rate(field, lat + 0.5 * h * k2[0], lon + 0.5 * h * k2[1], off, th, blend)
                k4 = _rate(field, lat + h * k3[0], lon + h * k3[1], off, t + h, blend)
                new_lat = lat + h / 6.0 * (k1[0] + 2.0 * (k2[0] + k3[0]) + k4[0])
                new_lon = lon + h / 6.0 * (k1[1] + 2.0 * (k2[1] + k3[1]) + k4[1])
                alive &= np.isfinite(new_lat) & np.isfinite(new_lon)
                lat = np.where(alive, new_lat, lat)
                lon = np.where(alive, new_lon, lon)
            out_lat[day] = lat
            out_lon[day] = lon
            out_alive[day] = alive
    return Trajectories(out_lat, out_lon, out_alive)


def _check_uv(u: np.ndarray, v: np.ndarray) -> None:
    if u.shape != v.shape:
        raise ValidationError(f"u and v differ in shape: {u.shape} and {v.shape}")


def advect(
    u: np.ndarray,
    v: np.ndarray,
    lat: np.ndarray | Sequence[float],
    lon: np.ndarray | Sequence[float],
    lat0: np.ndarray | Sequence[float],
    lon0: np.ndarray | Sequence[float],
    *,
    dt_s: float = 3600.0,
    days: int,
) -> Trajectories:
    """Advect particles with daily velocity fields (RK4 on the sphere, see the module doc).

    Args:
        u: Eastward velocity (m/s), ``(time, lat, lon)`` daily fields (field ``k`` valid
            ``k`` days after the start) or one steady ``(lat, lon)`` field; NaN on land.
        v: Northward velocity (m/s), same shape.
        lat: Grid latitudes (increasing, evenly spaced).
        lon: Grid longitudes (increasing, evenly spaced).
        lat0: Particle start latitudes.
        lon0: Particle start longitudes.
        dt_s: Time step (s); must divide a day.
        days: Number of days to integrate.

    Returns:
        The positions after each day ``1..days`` and whether each particle is still alive.
    """
    uu = np.asarray(u)
    vv = np.asarray(v)
    if uu.ndim == 2:
        uu, vv = uu[None], vv[None]
    if uu.ndim != 3:
        raise ValidationError(f"u must be (time, lat, lon) or (lat, lon), got shape {uu.shape}")
    if days < 0:
        raise ValidationError(f"days must be >= 0, got {days}")
    _check_uv(uu, vv)
    field = _Field(
        uu[None],
        vv[None],
        _Axis.of(np.asarray(lat), "latitude"),
        _Axis.of(np.asarray(lon), "longitude"),
    )
    la = np.asarray(lat0, dtype=np.float64).ravel()
    lo = np.asarray(lon0, dtype=np.float64).ravel()
    if la.shape != lo.shape:
        raise ValidationError("lat0 and lon0 must have the same length")
    return _integrate(field, la, lo, np.zeros(la.size, dtype=np.intp), dt_s=dt_s, days=days)


def surface_currents(cube: xr.Dataset, *, source: str = "cube") -> xr.Dataset:
    """``uo``/``vo`` of a cube at its shallowest level, as ``(first_day, lead, lat, lon)``."""
    missing = [v for v in ("uo", "vo") if v not in cube.data_vars]
    if missing:
        raise DataError(f"{source} has no {' or '.join(missing)}: no Lagrangian trajectories")
    out = cube[["uo", "vo"]]
    if "depth" in out.dims:
        out = out.isel(depth=int(np.argmin(out["depth"].values)))
    if FIRST_DAY not in out.dims:
        out = out.expand_dims(FIRST_DAY)
    return out.transpose(FIRST_DAY, LEAD, "latitude", "longitude")


def _cube_field(cube: xr.Dataset, lat: _Axis, lon: _Axis) -> _Field:
    return _Field(np.asarray(cube["uo"].values), np.asarray(cube["vo"].values), lat, lon)


@dataclass(frozen=True)
class ZoneDeviation:
    """Per start date and lead day: mean separation (km) and particles alive in both."""

    mean_km: np.ndarray  # (n_date, n_lead - 1): lead days 2..n_lead; NaN: none alive in both
    count: np.ndarray  # (n_date, n_lead - 1) int
    seeded: np.ndarray  # (n_date,) particles seeded


def _seeds(
    truth: xr.Dataset, zone_masks: Mapping[str, np.ndarray], n_particles: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, int, np.ndarray]]]:
    """Seeds of every zone and start date: ``lat, lon, member, parts``.

    Zone ``z`` of start date ``i`` draws its cells with ``default_rng((seed, i))``, as
    :func:`trajectory_deviation` does for one zone. A cell drawn by several zones is advected
    once: ``parts`` lists ``(zone, date index, indices into the particle arrays)``.
    """
    lat = truth["latitude"].values.astype(np.float64)
    lon = truth["longitude"].values.astype(np.float64)
    ocean = (truth["uo"].isel({LEAD: 0}).notnull() & truth["vo"].isel({LEAD: 0}).notnull()).values
    plane = lat.size * lon.size
    picks: list[np.ndarray] = []
    per_zone: list[tuple[str, int, np.ndarray]] = []
    for i in range(ocean.shape[0]):
        for zone, zmask in zone_masks.items():
            cells = _pick_cells(
                lat, ocean[i] & zmask, n_particles, np.random.default_rng((seed, i))
            )
            per_zone.append((zone, i, cells + i * plane))
            picks.append(cells + i * plane)
    keys = np.unique(np.concatenate(picks)) if picks else np.empty(0, dtype=np.intp)
    parts = [(z, i, np.searchsorted(keys, c)) for z, i, c in per_zone]
    member, cell = np.divmod(keys, plane)
    return lat[cell // lon.size], lon[cell % lon.size], member, parts


def zone_deviations(
    models: Mapping[str, xr.Dataset],
    truth: xr.Dataset,
    zone_masks: Mapping[str, np.ndarray],
    *,
    n_particles: int = 1000,
    seed: int = 0,
    dt_s: float = 3600.0,
) -> dict[str, dict[str, ZoneDeviation]]:
    """Trajectory deviation of several models over several zones, in one batch per model.

    The particles of every zone and start date are advected together (one integration per
    model and one for the truth), which is what makes many zones cheap.

    Args:
        models: Name to a cube with ``uo``/``vo`` on the truth's grid, start dates and leads.
        truth: The truth cube.
        zone_masks: Zone name to a boolean ``(lat, lon)`` mask of the full grid.
        n_particles: Particles per zone and start date (at most the zone's ocean cells).
        seed: Seed of the sampling (start date ``i`` uses ``default_rng((seed, i))``).
        dt_s: RK4 step (s).

    Returns:
        ``model -> zone -> ZoneDeviation``, over lead days ``2..n`` (``L - 1`` days of drift).
    """
    ts = surface_currents(truth, source="truth")
    lat_axis = _Axis.of(ts["latitude"].values, "latitude")
    lon_axis = _Axis.of(ts["longitude"].values, "longitude")
    n_date, n_days = ts.sizes[FIRST_DAY], ts.sizes[LEAD] - 1  # days of drift: lead days 2..n
    if n_days < 1:
        raise DataError(
            "Lagrangian trajectories need at least 2 lead days (lead day 2 = 1 day of drift)"
        )
    plat, plon, member, parts = _seeds(ts, zone_masks, n_particles, seed)
    surfaces: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, cube in models.items():
        ms = surface_currents(cube, source=name)
        if ms.sizes != ts.sizes:
            raise DataError(
                f"{name}: surface currents {dict(ms.sizes)} do not match the truth's "
                f"{dict(ts.sizes)}"
            )
        if not np.array_equal(ms[FIRST_DAY].values, ts[FIRST_DAY].values):
            raise DataError(f"{name}: start dates differ from the truth's")
        for axis in ("latitude", "longitude"):
            if not np.allclose(ms[axis].values, ts[axis].values, rtol=0, atol=1e-6):
                raise DataError(f"{name}: {axis} differs from the truth's grid")
        surfaces[name] = (np.asarray(ms["uo"].values), np.asarray(ms["vo"].values))
    truth_uv = (np.asarray(ts["uo"].values), np.asarray(ts["vo"].values))

    def run(uv: tuple[np.ndarray, np.ndarray]) -> Trajectories:
        field = _Field(uv[0], uv[1], lat_axis, lon_axis)
        return _integrate(field, plat, plon, member, dt_s=dt_s, days=n_days)

    ref = run(truth_uv)
    out: dict[str, dict[str, ZoneDeviation]] = {}
    for name, uv in surfaces.items():
        traj = run(uv)  # one model's padded field in memory at a time
        both = traj.alive & ref.alive
        with np.errstate(invalid="ignore"):
            dist = great_circle_km(traj.lat, traj.lon, ref.lat, ref.lon)
        dist = np.where(both, dist, 0.0)
        per_zone: dict[str, ZoneDeviation] = {}
        for zone in zone_masks:
            total = np.zeros((n_date, n_days))
            count = np.zeros((n_date, n_days), dtype=np.int64)
            seeded = np.zeros(n_date, dtype=np.int64)
            for z, i, idx in parts:
                if z == zone:
                    total[i] = dist[:, idx].sum(axis=1)
                    count[i] = both[:, idx].sum(axis=1)
                    seeded[i] = idx.size
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            per_zone[zone] = ZoneDeviation(mean, count, seeded)
        out[name] = per_zone
    return out


def trajectory_deviation(
    model_cube: xr.Dataset,
    truth_cube: xr.Dataset,
    *,
    zone_mask: np.ndarray | None = None,
    n_particles: int = 1000,
    seed: int = 0,
    dt_s: float = 3600.0,
) -> xr.Dataset:
    """Mean separation (km) of particles drifting in the model's and the truth's currents.

    Args:
        model_cube: Forecast cube (OceanBench layout) with ``uo`` and ``vo``.
        truth_cube: Truth cube on the same grid, start dates and lead days.
        zone_mask: Boolean ``(lat, lon)``: seed only there (default: every ocean cell).
        n_particles: Particles per start date.
        seed: Seed of the cos(latitude)-weighted sampling.
        dt_s: RK4 step (s).

    Returns:
        A Dataset over ``(first_day_datetime, lead_day)``, lead days 2..n as OceanBench labels
        them (lead day ``L``: after ``L - 1`` days of drift): ``deviation_km`` (NaN where no
        particle is alive in both) and ``n_particles`` (particles alive in both trajectories).
    """
    ts = surface_currents(truth_cube, source="truth")
    shape = (ts.sizes["latitude"], ts.sizes["longitude"])
    mask = np.ones(shape, dtype=bool) if zone_mask is None else np.asarray(zone_mask, bool)
    if mask.shape != shape:
        raise ValidationError(f"zone_mask shape {mask.shape} does not match the grid {shape}")
    res = zone_deviations(
        {"model": model_cube},
        truth_cube,
        {"zone": mask},
        n_particles=n_particles,
        seed=seed,
        dt_s=dt_s,
    )["model"]["zone"]
    coords = {FIRST_DAY: ts[FIRST_DAY].values, "lead_day": np.arange(2, ts.sizes[LEAD] + 1)}
    dims = (FIRST_DAY, "lead_day")
    return xr.Dataset(
        {
            "deviation_km": xr.DataArray(
                res.mean_km, dims=dims, coords=coords, attrs={"units": "km"}
            ),
            "n_particles": xr.DataArray(res.count, dims=dims, coords=coords),
        },
        attrs={"method": "RK4 surface drifters, see glonet_regions.evaluation.lagrangian"},
    )
