"""One-pass numpy scoring: every built-in metric of every zone from a single sweep of a field.

:func:`glonet_regions.evaluation.scoring.score_models` used to call the xarray metrics of
:mod:`glonet_regions.evaluation.metrics` once per zone and metric, each making several
full-size float64 copies of the cube. Here, for one ``(start date, lead, depth)`` slice of a
forecast, its truth and (for ACC) the climatology, the cells of all zones are swept once, in
cache-sized pieces, and the sums every metric needs are accumulated in float64:

- ``n``, ``sum e``, ``sum e^2`` (unweighted; kept for custom studies),
- ``sum w``, ``sum w e``, ``sum w e^2`` (area-weighted, i.e. cos(latitude)-weighted on a
  regular grid: OceanBench RMSD, WeatherBench-2 RMSE and bias),
- ``sum w`` over the cells where the truth is valid (OceanBench's missing fraction),
- ``sum w f'o'``, ``sum w f'^2``, ``sum w o'^2`` and their unweighted twins (ACC), with
  ``e = f - o``, ``f' = f - c``, ``o' = o - c``.

Zones overlap (the whole region contains its sub-regions), so the scored cells are split once
into disjoint *atoms* (cells belonging to the same set of zones), each contiguous in a gather
index; a zone's sums are the sum of its atoms' sums. Differences and squares are taken in the
inputs' dtype (float32 for model cubes), exactly as the xarray metrics do, and only products
with weights and sums are float64, on pieces of at most ``chunk`` values (cells x slices, several
slices at once on small grids): no full-size float64 temporary is ever made. The scores agree
with the xarray metrics to float64 rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ACC_STATS",
    "ERR_STATS",
    "ZoneIndex",
    "block_sums",
    "build_zone_index",
    "finalize",
    "slice_sums",
]

#: Columns of the error sums: count, unweighted and weighted first and second moments, and
#: the weight of the cells where the truth is valid (scorable).
ERR_STATS = ("n", "se", "se2", "sw", "swe", "swe2", "swt")
#: Columns of the ACC sums: count, unweighted then weighted cross and squared anomalies.
ACC_STATS = ("na", "sfo", "sff", "soo", "swa", "swfo", "swff", "swoo")
_N_ERR = len(ERR_STATS)
_N_ACC = len(ACC_STATS)
_F64 = np.float64


@dataclass(frozen=True)
class ZoneIndex:
    """The scored cells of a set of zones, grouped into disjoint atoms.

    Attributes:
        names: Zone names, in order.
        shape: The grid's ``(nlat, nlon)``.
        idx: Flat grid indices of the cells in at least one zone, grouped by atom.
        weights: Area weights at ``idx`` (float64).
        pieces: ``(start, stop, atom)`` ranges of ``idx``, each inside one atom and at most
            ``chunk`` cells long.
        atom_zones: ``(n_atoms, n_zones)`` float64 0/1: which zones each atom belongs to.
        chunk: Most values handled at once (cells x slices).
    """

    names: tuple[str, ...]
    shape: tuple[int, int]
    idx: np.ndarray
    weights: np.ndarray
    pieces: tuple[tuple[int, int, int], ...]
    atom_zones: np.ndarray
    chunk: int = 1 << 16

    @property
    def n_atoms(self) -> int:
        return int(self.atom_zones.shape[0])

    @property
    def n_zones(self) -> int:
        return len(self.names)


def build_zone_index(
    names: Sequence[str],
    masks: Sequence[np.ndarray],
    weights: np.ndarray,
    *,
    chunk: int = 1 << 16,
) -> ZoneIndex:
    """Precompute the gather index of zones given as full-grid boolean masks.

    Args:
        names: Zone names.
        masks: One boolean ``(nlat, nlon)`` mask per zone (True = scored).
        weights: Area weights ``(nlat, nlon)``.
        chunk: Largest number of cells handled at once (bounds the float64 temporaries).
    """
    if len(names) != len(masks) or not masks:
        raise ValueError("build_zone_index needs one mask per zone name, and at least one")
    shape = tuple(np.shape(masks[0]))
    member = np.stack([np.asarray(mk, dtype=bool).ravel() for mk in masks], axis=1)
    keep = np.flatnonzero(member.any(axis=1))
    bits = member[keep]
    if len(names) <= 62:  # atom key: the membership bits read as an integer
        key = bits.astype(np.int64) @ (np.int64(1) << np.arange(len(names), dtype=np.int64))
        ukeys, atom_of = np.unique(key, return_inverse=True)
        atoms = (ukeys[:, None] >> np.arange(len(names))) & 1
    else:
        atoms, atom_of = np.unique(bits, axis=0, return_inverse=True)
    atom_of = np.asarray(atom_of).ravel()
    small = atom_of.astype(np.uint16) if atoms.shape[0] < 1 << 16 else atom_of
    order = np.argsort(small, kind="stable")  # stable (radix): grid order within each atom
    idx = keep[order].astype(np.intp)
    sorted_atoms = atom_of[order]
    bounds = np.flatnonzero(np.diff(sorted_atoms)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [idx.size]])
    pieces: list[tuple[int, int, int]] = []
    for a, b in zip(starts.tolist(), stops.tolist()):
        atom = int(sorted_atoms[a])
        for s in range(a, b, max(1, chunk)):
            pieces.append((s, min(b, s + chunk), atom))
    w = np.asarray(weights, dtype=_F64).ravel()[idx]
    return ZoneIndex(
        names=tuple(names),
        shape=(int(shape[0]), int(shape[1])),
        idx=idx,
        weights=np.ascontiguousarray(w),
        pieces=tuple(pieces),
        atom_zones=atoms.astype(_F64),
        chunk=max(1, chunk),
    )


def _wsum(*arrays: np.ndarray) -> np.ndarray:
    """``sum(a * b ...)`` over the last axis in float64, cast piecewise.

    1-D arrays (weights) broadcast over the leading slice axis of the 2-D ones. ``einsum``
    rather than BLAS ``dot``: no float64 copies, and OpenBLAS threads stall on a busy CPU.
    """
    subs = ",".join("i" if x.ndim == 1 else "si" for x in arrays) + "->s"
    return np.asarray(np.einsum(subs, *arrays, dtype=_F64, casting="safe"))


def slice_sums(
    forecast: np.ndarray,
    truth: np.ndarray,
    zi: ZoneIndex,
    climatology: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The per-zone sums of one 2-D slice (:func:`block_sums` of a single slice).

    Returns:
        ``(err, acc)``: float64 arrays ``(n_zones, len(ERR_STATS))`` and
        ``(n_zones, len(ACC_STATS))`` (None without a climatology).
    """
    c = None if climatology is None else climatology[None]
    err, acc = block_sums(forecast[None], truth[None], zi, c)
    return err[0], (None if acc is None else acc[0])


def block_sums(
    forecast: np.ndarray,
    truth: np.ndarray,
    zi: ZoneIndex,
    climatology: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The per-zone sums of a stack of 2-D slices, in one sweep.

    Args:
        forecast: ``(n_slices, nlat, nlon)`` forecast values (NaN = left out), any float dtype.
        truth: Truth values, same shape.
        zi: The zones (:func:`build_zone_index`).
        climatology: Climatology values for ACC, same shape (None: no ACC sums).

    Returns:
        ``(err, acc)``: float64 arrays ``(n_slices, n_zones, len(ERR_STATS))`` and
        ``(n_slices, n_zones, len(ACC_STATS))`` (None without a climatology).
    """
    n_s = forecast.shape[0]
    fr = np.ascontiguousarray(forecast).reshape(n_s, -1)
    tr = np.ascontiguousarray(truth).reshape(n_s, -1)
    cr = None if climatology is None else np.ascontiguousarray(climatology).reshape(n_s, -1)
    err = np.zeros((n_s, zi.n_atoms, _N_ERR), dtype=_F64)
    accs = None if cr is None else np.zeros((n_s, zi.n_atoms, _N_ACC), dtype=_F64)
    for a, b, atom in zi.pieces:
        ii = zi.idx[a:b]
        w = zi.weights[a:b]
        step = max(1, zi.chunk // max(1, b - a))  # slices per batch: <= chunk values
        for s0 in range(0, n_s, step):
            ss = slice(s0, min(n_s, s0 + step))
            f = fr[ss].take(ii, axis=1)
            t = tr[ss].take(ii, axis=1)
            e = f - t  # in the inputs' dtype, as the xarray metrics subtract
            ok = ~np.isnan(e)
            np.copyto(e, 0, where=~ok)
            e2 = e * e  # in the inputs' dtype, as the xarray metrics square it
            row = err[ss, atom]
            row[:, 0] += np.count_nonzero(ok, axis=1)
            row[:, 1] += e.sum(axis=1, dtype=_F64)
            row[:, 2] += e2.sum(axis=1, dtype=_F64)
            row[:, 3] += _wsum(w, ok)
            row[:, 4] += _wsum(w, e)
            row[:, 5] += _wsum(w, e2)
            row[:, 6] += _wsum(w, ~np.isnan(t))
            if cr is None or accs is None:
                continue
            c = cr[ss].take(ii, axis=1)
            fa = f - c
            oa = t - c
            oka = ~(np.isnan(fa) | np.isnan(oa))
            np.copyto(fa, 0, where=~oka)
            np.copyto(oa, 0, where=~oka)
            ff = fa * fa
            oo = oa * oa
            row = accs[ss, atom]
            row[:, 0] += np.count_nonzero(oka, axis=1)
            row[:, 1] += _wsum(fa, oa)
            row[:, 2] += ff.sum(axis=1, dtype=_F64)
            row[:, 3] += oo.sum(axis=1, dtype=_F64)
            row[:, 4] += _wsum(w, oka)
            row[:, 5] += _wsum(w, fa, oa)
            row[:, 6] += _wsum(w, ff)
            row[:, 7] += _wsum(w, oo)
    z = zi.atom_zones.T
    err_z = np.einsum("za,sak->szk", z, err)
    return err_z, (None if accs is None else np.einsum("za,sak->szk", z, accs))


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, NaN elsewhere (no warnings)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _date_mean(x: np.ndarray) -> np.ndarray:
    """Mean over axis 0 skipping NaN (all-NaN gives NaN, silently), like xarray's skipna."""
    ok = ~np.isnan(x)
    count = ok.sum(axis=0)
    total = np.where(ok, x, 0.0).sum(axis=0)
    return _div(total, count.astype(_F64))


def finalize(
    metric: str, weighted: bool, err: np.ndarray, acc_sums: np.ndarray | None
) -> np.ndarray:
    """A built-in metric from accumulated sums.

    Args:
        metric: ``"rmsd"`` (OceanBench: sqrt per date, then date mean), ``"rmse"`` (sqrt
            after the date mean), ``"bias"``, ``"acc"`` or ``"missing"`` (OceanBench's
            missing fraction: weighted share of the truth-valid cells where the forecast is
            NaN, per date, then the date mean).
        weighted: Use the area-weighted sums (else the unweighted ones).
        err: Error sums ``(n_dates, ..., len(ERR_STATS))``.
        acc_sums: ACC sums ``(n_dates, ..., len(ACC_STATS))`` (needed for ``"acc"``).

    Returns:
        The score with the leading date axis reduced.
    """
    if metric == "acc":
        if acc_sums is None:
            raise ValueError("ACC needs the climatology sums")
        k = 5 if weighted else 1
        num = acc_sums[..., k]
        den = np.sqrt(acc_sums[..., k + 1] * acc_sums[..., k + 2])
        return _date_mean(_div(num, den))
    if metric == "missing":
        return _date_mean(1.0 - _div(err[..., 3], err[..., 6]))
    norm = err[..., 3] if weighted else err[..., 0]
    if metric == "bias":
        return _date_mean(_div(err[..., 4] if weighted else err[..., 1], norm))
    mse = _div(err[..., 5] if weighted else err[..., 2], norm)
    if metric == "rmsd":
        return _date_mean(np.sqrt(mse))
    if metric == "rmse":
        return np.sqrt(_date_mean(mse))
    raise ValueError(f"Unknown built-in metric {metric!r}")
