"""The synthetic ocean behind the embedded sample: geometry, mean flow, eddies, T/S, currents.

Everything here is SYNTHETIC. The coastline is real (``global-land-mask``, a 1 km mask); the
bathymetry, stratification, seasonal cycle, currents and eddies are analytic stand-ins chosen
so that a network has something learnable (mostly advection of eddies by a mean flow) while the
fields look plausible for the North-East Atlantic.

The model is evaluated analytically at any day on any regular grid and any depths, so the
regional truth, the coarse "global" source and the perturbed "physical" forecast share one
definition. The state at day ``t`` (days since the sample start, 12:00) is:

* ``zos = eta_eddies + eta_slope + steric(t)``; ``eta_slope`` is a coastal SSH ramp over the
  continental slope that carries a poleward slope current in geostrophic balance.
* ``uo, vo = geostrophic(eta_eddies) * exp(-z/600) + geostrophic(eta_slope) * exp(-z/400)
  + drift * exp(-z/150)``; ``geostrophic`` is ``(-g/f d/dy, g/f d/dx)`` by centred finite
  differences on the grid (f = 2 Omega sin(lat)); ``drift`` is a south-westward,
  non-geostrophic mean drift, tapered to zero near the coast.
* ``thetao = T_bg(lat, z) + seasonal(t) exp(-z/80) + 10 eta_eddies exp(-z/350)``;
  ``so = S_bg(lat, z) + 1.2 eta_eddies exp(-z/350)`` (warm, salty anticyclones).
* small deterministic noise, red in time (AR(1), e-folding ``NOISE_TAU_DAYS``) and smooth in
  space (Gaussian, ``NOISE_SCALE_KM``), so that it changes little from one day to the next; NaN
  on land and below the synthetic bottom.

Eddies are Gaussian SSH bumps born and dying smoothly (``sin^2`` life cycle) and carried by the
surface mean flow plus a westward beta drift, integrated daily from their birth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from glonet_regions.core.grid import EARTH_RADIUS_M, BBox, Grid, great_circle_km

OMEGA = 7.2921e-5
#: Bounds of the synthetic temperature (degC): freezing sea water and a warm-pool maximum.
T_MIN, T_MAX = -1.8, 32.0
#: Geostrophy holds the Coriolis latitude this far (degrees) from the equator.
MIN_CORIOLIS_LAT = 5.0
GRAVITY = 9.81
_KM_PER_DEG = EARTH_RADIUS_M * np.pi / 180.0 / 1000.0

# Vertical e-folding scales (m).
H_EDDY_VEL = 600.0
H_SLOPE_VEL = 400.0
H_DRIFT_VEL = 150.0
H_EDDY_TS = 350.0
H_SEASON = 80.0
# Eddy T/S anomaly per metre of SSH.
EDDY_T_PER_M = 10.0
EDDY_S_PER_M = 1.2
# Mean drift (m/s) offshore and beta drift of eddies (m/s).
DRIFT_U, DRIFT_V = -0.15, -0.17
BETA_U, BETA_V = -0.04, 0.015
# Slope current SSH amplitude (m) and width of the slope ramp (km).
SLOPE_ETA = 0.12
SLOPE_WIDTH_KM = 30.0
# Noise standard deviations at the surface: zos (m), thetao (degC), so (1e-3), uo/vo (m/s).
NOISE = {"zos": 0.002, "thetao": 0.015, "so": 0.002, "uo": 0.004, "vo": 0.004}
# The noise is an AR(1) process in time (e-folding in days) of smooth fields (Gaussian
# smoothing, e-folding km), defined on a coarse grid and interpolated: its day-to-day change is
# sqrt(2 (1 - exp(-1 / tau))) ~ 0.44 of its standard deviation.
NOISE_TAU_DAYS = 10.0
NOISE_SCALE_KM = 80.0
NOISE_RESOLUTION_DEG = 0.25
VARIABLE_IDS = {"zos": 0, "thetao": 1, "so": 2, "uo": 3, "vo": 4}


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, a smooth cubic in between."""
    s = np.clip((np.asarray(x, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return s * s * (3 - 2 * s)


def land_mask(grid: Grid) -> np.ndarray:
    """Boolean ``(nlat, nlon)`` land mask of ``grid`` from the 1 km ``global-land-mask``."""
    from glonet_regions.sample.land import is_land

    lat2d, lon2d = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    lon2d = (lon2d + 180.0) % 360.0 - 180.0
    lat2d = np.clip(lat2d, -89.99, 89.99)
    return is_land(lat2d, lon2d)


def bottom_depth(distance_km: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Synthetic sea-floor depth (m) from the distance to the coast.

    A shelf deepening from 15 m at the coast to 180 m at its edge (40 km wide south of 43 N,
    80 km north of 47 N), a slope to the abyssal plain over about 120 km, and an abyssal plain
    between about 4000 and 5400 m with smooth undulations.
    """
    d = np.asarray(distance_km, dtype=np.float64)
    width = 40.0 + 40.0 * smoothstep(lat, 43.0, 47.0)
    shelf = 15.0 + 165.0 * np.clip(d / width, 0.0, 1.0)
    abyss = 4700.0 + 350.0 * np.sin(np.deg2rad(lon) * 9.0 + 0.7) * np.cos(np.deg2rad(lat) * 7.0)
    abyss = abyss + 300.0 * np.sin(np.deg2rad(lat) * 13.0 - np.deg2rad(lon) * 5.0)
    slope = smoothstep(d - width, 0.0, 120.0)
    return shelf + (abyss - shelf) * slope


def _gradient_m(field2d: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Centred-difference ``(d/dx, d/dy)`` of a ``(..., nlat, nlon)`` field in metres."""
    dy = EARTH_RADIUS_M * np.deg2rad(grid.dlat)
    dx = EARTH_RADIUS_M * np.deg2rad(grid.dlon) * np.cos(np.deg2rad(grid.lat))[:, None]
    gy = np.gradient(field2d, axis=-2) / dy if grid.shape[0] > 1 else np.zeros_like(field2d)
    gx = np.gradient(field2d, axis=-1) / dx if grid.shape[1] > 1 else np.zeros_like(field2d)
    return gx, gy


def geostrophic(eta: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Surface geostrophic velocity ``(u, v)`` of an SSH field by finite differences on ``grid``.

    ``u = -g/f d(eta)/dy``, ``v = g/f d(eta)/dx`` with ``f = 2 Omega sin(lat)``, its latitude
    held at 5 degrees or more from the equator (where ``f`` vanishes) so a global grid stays
    finite.
    """
    lat = np.asarray(grid.lat, dtype=np.float64)
    lat = np.where(lat >= 0, 1.0, -1.0) * np.maximum(np.abs(lat), MIN_CORIOLIS_LAT)
    f = 2 * OMEGA * np.sin(np.deg2rad(lat))[:, None]
    gx, gy = _gradient_m(eta, grid)
    return -GRAVITY / f * gy, GRAVITY / f * gx


@dataclass(frozen=True, eq=False)
class Geography:
    """Coastline distance and mean-flow fields on a 1/12 degree "dynamics" grid with a margin.

    Everything else is interpolated from here, so every grid sees the same ocean.
    """

    grid: Grid
    land: np.ndarray
    distance_km: np.ndarray
    eta_slope: np.ndarray
    surface_u: np.ndarray
    surface_v: np.ndarray

    @classmethod
    def build(cls, box: BBox, *, margin_deg: float = 3.5, resolution: float = 1 / 12) -> Geography:
        """The geography of ``box`` plus ``margin_deg`` on every side."""
        from scipy import ndimage

        lat_min = max(box.lat_min - margin_deg, -85.0)
        lat_max = min(box.lat_max + margin_deg, 85.0)
        ext = BBox(box.lon_min - margin_deg, box.lon_max + margin_deg, lat_min, lat_max)
        grid = Grid.from_bbox(ext, resolution)
        land = land_mask(grid)
        lat2d, lon2d = np.meshgrid(grid.lat, grid.lon, indexing="ij")
        if land.any():
            _, (ii, jj) = ndimage.distance_transform_edt(
                ~land,
                sampling=(1.0, float(np.cos(np.deg2rad(np.mean(grid.lat))))),
                return_indices=True,
            )
            distance = great_circle_km(lat2d, lon2d, grid.lat[ii], grid.lon[jj])
        else:
            distance = np.full(grid.shape, 1e4)
        distance = np.where(land, 0.0, distance)
        # Coastal SSH ramp over the slope: high towards the coast, so the geostrophic flow keeps
        # the coast on its right (poleward along western Iberia, eastward along north Spain).
        width = 40.0 + 40.0 * smoothstep(lat2d, 43.0, 47.0)
        ramp = 0.5 * (1.0 - np.tanh((distance - width - 50.0) / SLOPE_WIDTH_KM))
        eta_slope = ndimage.gaussian_filter(SLOPE_ETA * ramp, sigma=1.0, mode="nearest")
        ug, vg = geostrophic(eta_slope, grid)
        du, dv = drift(distance)
        return cls(grid, land, distance, eta_slope, ug + du, vg + dv)

    def interp(self, field2d: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Bilinear interpolation of a dynamics-grid field at points (clamped at the edges)."""
        return bilinear(self.grid, field2d, lat, lon)

    def on_grid(self, field2d: np.ndarray, grid: Grid) -> np.ndarray:
        """A dynamics-grid field interpolated onto every node of ``grid``."""
        lat2d, lon2d = np.meshgrid(grid.lat, grid.lon, indexing="ij")
        return self.interp(field2d, lat2d, lon2d)


def bilinear(grid: Grid, field2d: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a ``grid`` field at points (clamped at the edges)."""
    fi = np.clip((np.asarray(lat) - grid.lat[0]) / grid.dlat, 0, grid.shape[0] - 1.000001)
    fj = np.clip((np.asarray(lon) - grid.lon[0]) / grid.dlon, 0, grid.shape[1] - 1.000001)
    i0, j0 = np.floor(fi).astype(np.int64), np.floor(fj).astype(np.int64)
    wi, wj = fi - i0, fj - j0
    f = field2d
    return (
        f[i0, j0] * (1 - wi) * (1 - wj)
        + f[i0 + 1, j0] * wi * (1 - wj)
        + f[i0, j0 + 1] * (1 - wi) * wj
        + f[i0 + 1, j0 + 1] * wi * wj
    )


def drift(distance_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The south-westward mean drift (m/s), tapered to zero within ~30-150 km of the coast."""
    taper = smoothstep(distance_km, 30.0, 150.0)
    return DRIFT_U * taper, DRIFT_V * taper


@dataclass(frozen=True, eq=False)
class Eddies:
    """A population of Gaussian eddies and their daily centres.

    Attributes:
        birth: Birth day of each eddy (days since the sample start, may be negative).
        life: Lifetime (days).
        amp: Peak SSH amplitude (m, > 0 anticyclonic/warm, < 0 cyclonic/cold).
        radius_km: e-folding radius of ``exp(-r^2 / R^2)``.
        days: The days (integers) at which centres are stored.
        lat, lon: Centres, shape ``(n_eddies, n_days)``.
        strength: Shallow-water damping of each eddy at each day (0..1).
    """

    birth: np.ndarray
    life: np.ndarray
    amp: np.ndarray
    radius_km: np.ndarray
    days: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    strength: np.ndarray

    @classmethod
    def spawn(
        cls, geo: Geography, first_day: int, last_day: int, rng: np.random.Generator
    ) -> Eddies:
        """A stationary population alive over ``first_day..last_day``, integrated daily."""
        max_life = 150.0
        deep = ~geo.land & (geo.distance_km > 150.0)
        g = geo.grid
        cell_km2 = (g.dlat * _KM_PER_DEG) ** 2 * np.cos(np.deg2rad(g.lat))[:, None]
        cell_km2 = np.broadcast_to(cell_km2, g.shape)
        deep_area = float(np.sum(cell_km2 * deep))
        mean_alive = deep_area / 220.0**2
        mean_life = 105.0
        t0 = first_day - max_life
        span = last_day + 1 - t0
        n = int(rng.poisson(mean_alive / mean_life * span)) if deep_area > 0 else 0
        birth = np.sort(rng.uniform(t0, last_day + 1, n))
        life = rng.uniform(60.0, max_life, n)
        amp = rng.uniform(0.12, 0.25, n) * rng.choice([-1.0, 1.0], n)
        radius = rng.uniform(50.0, 100.0, n)
        # Birth places: deep water, three times as likely 150-450 km off the coast (eddies shed
        # by the slope current) as in the open ocean, so the drift does not empty the region.
        ii, jj = np.nonzero(deep)
        near_slope = np.exp(-(((geo.distance_km[ii, jj] - 300.0) / 150.0) ** 2))
        weights = cell_km2[ii, jj] * (1.0 + 2.0 * near_slope)
        pick = rng.choice(ii.size, size=n, p=weights / weights.sum()) if n else np.zeros(0, int)
        lat0 = g.lat[ii[pick]] + rng.uniform(-0.5, 0.5, n) * g.dlat
        lon0 = g.lon[jj[pick]] + rng.uniform(-0.5, 0.5, n) * g.dlon
        days = np.arange(int(np.floor(t0)), last_day + 2)
        lat, lon = integrate_tracks(geo, lat0, lon0, amp, birth, days)
        strength = smoothstep(geo.interp(geo.distance_km, lat, lon), 60.0, 200.0)
        return cls(birth, life, amp, radius, days, lat, lon, strength)

    def envelope(self, t: float) -> np.ndarray:
        """Life-cycle amplitude factor ``sin^2(pi (t - birth) / life)`` (0 outside life)."""
        tau = (t - self.birth) / self.life
        return np.where((tau > 0) & (tau < 1), np.sin(np.pi * np.clip(tau, 0, 1)) ** 2, 0.0)

    def centres(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centres and shallow-water strength at (integer or fractional) day ``t``."""
        f = float(np.clip(t - self.days[0], 0, self.days.size - 1.000001))
        k = int(np.floor(f))
        w = f - k
        lat = self.lat[:, k] * (1 - w) + self.lat[:, k + 1] * w
        lon = self.lon[:, k] * (1 - w) + self.lon[:, k + 1] * w
        s = self.strength[:, k] * (1 - w) + self.strength[:, k + 1] * w
        return lat, lon, s


def translation_velocity(
    geo: Geography, lat: np.ndarray, lon: np.ndarray, amp: np.ndarray, flow_factor: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """How an eddy centre moves (m/s): surface mean flow plus a westward beta drift."""
    u = flow_factor * geo.interp(geo.surface_u, lat, lon) + BETA_U
    v = flow_factor * geo.interp(geo.surface_v, lat, lon) - np.sign(amp) * BETA_V
    return u, v


def integrate_tracks(
    geo: Geography,
    lat0: np.ndarray,
    lon0: np.ndarray,
    amp: np.ndarray,
    birth: np.ndarray,
    days: np.ndarray,
    *,
    flow_factor: float = 1.0,
    extra_u: np.ndarray | float = 0.0,
    extra_v: np.ndarray | float = 0.0,
    substeps: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily centres from ``days[0]`` on; an eddy stays at its birth place until it is born.

    Midpoint (RK2) steps of ``1/substeps`` day in the surface mean flow times ``flow_factor``
    plus ``extra_u/extra_v`` (m/s).
    """
    n = lat0.size
    lat = np.empty((n, days.size))
    lon = np.empty((n, days.size))
    la, lo = lat0.astype(np.float64).copy(), lon0.astype(np.float64).copy()
    dt_s = 86400.0 / substeps
    m_per_deg = EARTH_RADIUS_M * np.pi / 180.0

    def rate(la_: np.ndarray, lo_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, v = translation_velocity(geo, la_, lo_, amp, flow_factor)
        u, v = u + extra_u, v + extra_v
        return v / m_per_deg, u / (m_per_deg * np.cos(np.deg2rad(la_)))

    for k, day in enumerate(days):
        lat[:, k], lon[:, k] = la, lo
        for s in range(substeps):
            t = day + s / substeps
            moving = birth <= t
            if not moving.any():
                continue
            dla, dlo = rate(la, lo)
            mla, mlo = la + 0.5 * dt_s * dla, lo + 0.5 * dt_s * dlo
            dla, dlo = rate(mla, mlo)
            la = np.where(moving, la + dt_s * dla, la)
            lo = np.where(moving, lo + dt_s * dlo, lo)
    return lat, lon


def eddy_ssh(
    grid: Grid,
    lat_c: np.ndarray,
    lon_c: np.ndarray,
    amp: np.ndarray,
    radius_km: np.ndarray,
) -> np.ndarray:
    """Sum of Gaussian bumps ``amp * exp(-r^2 / R^2)`` on ``grid`` (windowed to 3.5 R)."""
    eta = np.zeros(grid.shape)
    for la, lo, a, r in zip(lat_c, lon_c, amp, radius_km):
        if a == 0.0:
            continue
        half_lat = 3.5 * r / _KM_PER_DEG
        half_lon = half_lat / max(np.cos(np.deg2rad(la)), 0.05)
        i0 = int(np.searchsorted(grid.lat, la - half_lat))
        i1 = int(np.searchsorted(grid.lat, la + half_lat, side="right"))
        j0 = int(np.searchsorted(grid.lon, lo - half_lon))
        j1 = int(np.searchsorted(grid.lon, lo + half_lon, side="right"))
        if i0 >= i1 or j0 >= j1:
            continue
        dy = (grid.lat[i0:i1] - la)[:, None] * _KM_PER_DEG
        dx = (grid.lon[j0:j1] - lo)[None, :] * _KM_PER_DEG * np.cos(np.deg2rad(la))
        eta[i0:i1, j0:j1] += a * np.exp(-(dx * dx + dy * dy) / (r * r))
    return eta


def day_of_year_phase(day: dt.date) -> float:
    """Phase (radians) of the annual cycle at ``day``."""
    return 2 * np.pi * (day.timetuple().tm_yday - 1) / 365.25


def seasonal_sst(day: dt.date) -> float:
    """Seasonal surface temperature anomaly (degC): +-3, warmest around 20 August."""
    return 3.0 * float(np.cos(day_of_year_phase(day) - 2 * np.pi * 231 / 365.25))


def steric_ssh(day: dt.date) -> float:
    """Seasonal steric SSH (m): +-4 cm, highest in late September."""
    return 0.04 * float(np.cos(day_of_year_phase(day) - 2 * np.pi * 268 / 365.25))


def background_ts(lat: np.ndarray, depths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified background ``(T, S)`` of shape ``(n_depths, nlat, 1)``.

    Warmer and saltier towards the south and the surface, a thermocline of ~250 m, and a warm
    salty Mediterranean-outflow-like tongue near 1000 m south of ~45 N.
    """
    z = np.asarray(depths, dtype=np.float64)[:, None, None]
    la = np.asarray(lat, dtype=np.float64)[None, :, None]
    mow = np.exp(-(((z - 1000.0) / 350.0) ** 2)) * (1.0 - smoothstep(la, 40.0, 50.0))
    # Symmetric about the equator and bounded, so a global grid stays in the ocean's range
    # (unchanged between 23 and 59 degrees, e.g. over IBI).
    t_surf = np.clip(23.5 - 0.42 * (np.abs(la) - 26.0), 3.0, 28.5)
    t_deep = 2.5 + 9.0 * np.exp(-z / 1200.0)
    temp = t_deep + (t_surf - t_deep) * np.exp(-z / 250.0) + 1.5 * mow
    s_surf = np.clip(36.9 - 0.055 * (np.abs(la) - 26.0), 33.0, 37.5)
    s_deep = 34.92 + 0.3 * np.exp(-z / 1000.0)
    sal = s_deep + (s_surf - s_deep) * np.exp(-z / 300.0) + 0.5 * mow
    return temp, sal


@dataclass(frozen=True)
class Perturbation:
    """How a model run differs from the truth (used for the global source and the forecast).

    Attributes:
        lag_days: Eddy positions and life cycles are those of ``lag_days`` earlier.
        smooth_km: Gaussian smoothing of eddies (radius grows, amplitude keeps the volume).
        t_bias: Temperature bias (degC), plus ``t_bias_per_day`` times the lead time.
        flow_factor: Scale of the (non-geostrophic) mean drift in ``uo/vo``.
    """

    lag_days: float = 0.0
    smooth_km: float = 0.0
    t_bias: float = 0.0
    t_bias_per_day: float = 0.0
    flow_factor: float = 1.0


@dataclass(frozen=True, eq=False)
class OceanOnGrid:
    """Static fields of the synthetic ocean on one grid: land, bottom, background, mean flow."""

    grid: Grid
    depths: np.ndarray
    land: np.ndarray
    bottom: np.ndarray
    wet: np.ndarray
    t_bg: np.ndarray
    s_bg: np.ndarray
    eta_slope: np.ndarray
    u_slope: np.ndarray
    v_slope: np.ndarray
    u_drift: np.ndarray
    v_drift: np.ndarray
    lat2d: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, geo: Geography, grid: Grid, depths: Sequence[float]) -> OceanOnGrid:
        """Land (real coastline), bottom (synthetic) and mean fields of ``grid``."""
        z = np.asarray(depths, dtype=np.float64)
        lat2d, lon2d = np.meshgrid(grid.lat, grid.lon, indexing="ij")
        land = land_mask(grid)
        distance = geo.on_grid(geo.distance_km, grid)
        bottom = np.where(land, 0.0, bottom_depth(distance, lat2d, lon2d))
        wet = bottom[None, :, :] > z[:, None, None]
        t_bg, s_bg = background_ts(grid.lat, z)
        eta_slope = geo.on_grid(geo.eta_slope, grid)
        u_slope, v_slope = geostrophic(eta_slope, grid)
        u_drift, v_drift = drift(distance)
        return cls(
            grid, z, land, bottom, wet, t_bg, s_bg, eta_slope, u_slope, v_slope,
            u_drift, v_drift, lat2d,
        )  # fmt: skip


class SyntheticOcean:
    """The truth (or a perturbed model run) of the synthetic ocean, evaluated day by day."""

    def __init__(self, geo: Geography, eddies: Eddies, start: dt.date) -> None:
        self.geo = geo
        self.eddies = eddies
        self.start = start

    def eddy_field(
        self,
        grid: Grid,
        t: float,
        *,
        smooth_km: float = 0.0,
        centres: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Eddy SSH (m) on ``grid`` at day ``t`` (optionally with given centres)."""
        e = self.eddies
        lat, lon, strength = centres if centres is not None else e.centres(t)
        amp = e.amp * e.envelope(t) * strength
        radius = e.radius_km
        if smooth_km > 0:
            r2 = radius**2 + smooth_km**2
            amp = amp * radius**2 / r2
            radius = np.sqrt(r2)
        alive = amp != 0
        return eddy_ssh(grid, lat[alive], lon[alive], amp[alive], radius[alive])

    def fields(
        self,
        static: OceanOnGrid,
        t: float,
        *,
        pert: Perturbation | None = None,
        centres: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        lead_days: float = 0.0,
    ) -> SurfaceState:
        """The 2-D ingredients of day ``t`` on ``static.grid`` (before depth and noise)."""
        p = pert or Perturbation()
        te = t - p.lag_days
        eta_e = self.eddy_field(static.grid, te, smooth_km=p.smooth_km, centres=centres)
        ue, ve = geostrophic(eta_e, static.grid)
        date = self.start + dt.timedelta(days=int(np.floor(t)))
        return SurfaceState(
            eta_e=eta_e,
            u_e=ue,
            v_e=ve,
            steric=steric_ssh(date),
            sst_season=seasonal_sst(date),
            flow_factor=p.flow_factor,
            t_bias=p.t_bias + p.t_bias_per_day * lead_days,
        )


@dataclass(frozen=True, eq=False)
class SurfaceState:
    """The 2-D fields of one day from which every level is built."""

    eta_e: np.ndarray
    u_e: np.ndarray
    v_e: np.ndarray
    steric: float
    sst_season: float
    flow_factor: float = 1.0
    t_bias: float = 0.0

    def zos(self, static: OceanOnGrid) -> np.ndarray:
        """Sea surface height (m), NaN on land."""
        z = self.eta_e + static.eta_slope + self.steric
        return np.where(static.land, np.nan, z)

    def level(self, static: OceanOnGrid, var: str, k0: int, k1: int) -> np.ndarray:
        """``var`` on levels ``k0:k1`` of ``static.depths``, NaN where dry (no noise)."""
        z = static.depths[k0:k1, None, None]
        if var == "thetao":
            out = (
                static.t_bg[k0:k1]
                + self.sst_season * np.exp(-z / H_SEASON)
                + EDDY_T_PER_M * self.eta_e[None] * np.exp(-z / H_EDDY_TS)
                + self.t_bias
            )
            out = np.clip(out, T_MIN, T_MAX)  # sea water freezes; the tropics cap SST
        elif var == "so":
            out = static.s_bg[k0:k1] + EDDY_S_PER_M * self.eta_e[None] * np.exp(-z / H_EDDY_TS)
        elif var in ("uo", "vo"):
            e, s, d = (
                (self.u_e, static.u_slope, static.u_drift)
                if var == "uo"
                else (self.v_e, static.v_slope, static.v_drift)
            )
            out = (
                e[None] * np.exp(-z / H_EDDY_VEL)
                + s[None] * np.exp(-z / H_SLOPE_VEL)
                + self.flow_factor * d[None] * np.exp(-z / H_DRIFT_VEL)
            )
        else:
            raise KeyError(var)
        return np.where(static.wet[k0:k1], out, np.nan)


@dataclass(frozen=True, eq=False)
class RedNoise:
    """Deterministic noise fields, smooth in space and red (AR(1)) in time.

    One unit-variance field per variable and day on a coarse grid (``NOISE_RESOLUTION_DEG``):
    white noise smoothed by a Gaussian of e-folding scale ``scale_km``, evolved as
    ``x[d] = phi x[d-1] + sqrt(1 - phi^2) e[d]`` with ``phi = exp(-1 / tau_days)`` (started in
    its stationary state), so consecutive days are strongly correlated and the day-to-day
    change is small. :meth:`level_block` scales a field by ``NOISE[var]`` and a depth profile.

    Attributes:
        grid: The coarse noise grid.
        fields: Variable name -> ``(n_days, nlat, nlon)`` float32 unit-variance fields.
        factor: Multiplies every standard deviation (the global source uses a quarter).
    """

    grid: Grid
    fields: dict[str, np.ndarray]
    factor: float = 1.0

    @classmethod
    def build(
        cls,
        box: BBox,
        n_days: int,
        seed: int,
        stream: int,
        *,
        factor: float = 1.0,
        tau_days: float = NOISE_TAU_DAYS,
        scale_km: float = NOISE_SCALE_KM,
        resolution: float = NOISE_RESOLUTION_DEG,
    ) -> RedNoise:
        """Noise for days ``0 .. n_days - 1`` over ``box`` (plus one coarse cell)."""
        from scipy import ndimage

        pad = 2 * resolution
        grid = Grid.from_bbox(
            BBox(
                box.lon_min - pad,
                box.lon_max + pad,
                max(box.lat_min - pad, -90.0 + resolution / 2),
                min(box.lat_max + pad, 90.0 - resolution / 2),
            ),
            resolution,
        )
        coslat = max(float(np.cos(np.deg2rad(np.mean(grid.lat)))), 0.1)
        # exp(-r^2 / L^2) has a Gaussian sigma of L / sqrt(2).
        sig_cells = scale_km / np.sqrt(2.0) / (resolution * _KM_PER_DEG)
        sigma = (sig_cells, sig_cells / coslat)
        delta = np.zeros(grid.shape)
        delta[grid.shape[0] // 2, grid.shape[1] // 2] = 1.0
        norm = float(np.sqrt(np.sum(ndimage.gaussian_filter(delta, sigma, mode="wrap") ** 2)))
        phi = float(np.exp(-1.0 / tau_days))
        innov = float(np.sqrt(1.0 - phi * phi))
        fields = {}
        for var, vid in VARIABLE_IDS.items():
            rng = np.random.default_rng([seed, stream, vid, 7_000_001])

            def smooth(rng: np.random.Generator = rng) -> np.ndarray:
                white = rng.standard_normal(grid.shape)
                out: np.ndarray = ndimage.gaussian_filter(white, sigma, mode="wrap") / norm
                return out

            out = np.empty((max(n_days, 1), *grid.shape), dtype=np.float32)
            state = smooth()
            for d in range(out.shape[0]):
                if d:
                    state = phi * state + innov * smooth()
                out[d] = state
            fields[var] = out
        return cls(grid, fields, factor)

    def surface(self, var: str, day: int, grid: Grid) -> np.ndarray:
        """The unit-variance field of ``var`` at ``day`` on ``grid`` (days are clamped)."""
        f = self.fields[var]
        d = int(np.clip(day, 0, f.shape[0] - 1))
        lat2d, lon2d = np.meshgrid(grid.lat, grid.lon, indexing="ij")
        return bilinear(self.grid, f[d], lat2d, lon2d)

    def profile(self, var: str, depths: np.ndarray | None = None) -> np.ndarray:
        """Standard deviation of ``var``: a scalar (surface) or one value per depth.

        ``factor * NOISE[var]`` at the surface, falling to a tenth of it at depth (e-folding
        300 m).
        """
        if depths is None:
            return np.asarray(self.factor * NOISE[var])
        z = np.asarray(depths, dtype=np.float64)
        return self.factor * NOISE[var] * (0.1 + 0.9 * np.exp(-z / 300.0))

    def level_block(
        self, var: str, day: int, grid: Grid, depths: np.ndarray | None = None
    ) -> np.ndarray:
        """Noise of ``var`` at ``day``: ``(nlat, nlon)`` or ``(levels, nlat, nlon)`` float32.

        The pattern is the same at every level, scaled by :meth:`profile`.
        """
        base = self.surface(var, day, grid)
        scale = self.profile(var, depths)
        if depths is None:
            return (base * scale).astype(np.float32)
        return (base[None] * scale[:, None, None]).astype(np.float32)
