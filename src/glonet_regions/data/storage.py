"""How a store keeps its values on disk: the storage dtype and the packed boundary zone.

Storage dtypes (:data:`STORAGE_DTYPES`, the ``storage_dtype`` field of
:class:`~glonet_regions.data.store.Layout`, recorded in the store attributes):

- ``float32``: the values as they are (physical units, NaN on land).
- ``float16``: per channel ``(x - offset) / scale`` cast to IEEE half precision; ``offset`` and
  ``scale`` are the ocean mean and standard deviation of the first day of the store.
- ``bfloat16``: the same normalisation, then bfloat16 (the 16 upper bits of float32, rounded
  to nearest even) kept as ``uint16``.
- ``int16``: scale-offset integers: ``round((x - offset) / scale)`` with ``offset`` the middle
  of the variable's plausible range (``Variable.valid_range``) and ``scale`` 0.001 in the
  variable's units (the packing step of the Copernicus Marine IBI files, which are themselves
  int16 with ``scale_factor`` 0.001), or 1/65532 of that range where it is wider, so no
  plausible value is ever clipped. On the ``(T, C, H, W)`` data arrays the integers are stored
  as differences along latitude (land set to 0 first, restored as NaN from the ocean mask on
  reading): smooth fields then compress about 1.3x better. On the packed boundary arrays
  ``-32768`` marks NaN.

Whatever the choice, :meth:`ChannelCodec.decode` gives float32 in physical units with NaN on
land. The boundary arrays keep only the cells of the open-boundary zone (:func:`zone_index`):
``(T, C, N)`` with the zone's flat cell indices stored beside them, scattered back onto the
full grid by :func:`unpack_zone`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from glonet_regions.core.errors import StoreError, ValidationError
from glonet_regions.core.variables import GLONET_VARIABLES

StorageDtype = Literal["float32", "float16", "bfloat16", "int16"]
STORAGE_DTYPES: tuple[str, ...] = get_args(StorageDtype)

#: The on-disk numpy dtype of each storage dtype.
DISK_DTYPE = {"float32": "float32", "float16": "float16", "bfloat16": "uint16", "int16": "int16"}
#: The fill value (land / unwritten) of each on-disk dtype.
FILL = {"float32": np.nan, "float16": np.nan, "bfloat16": 0x7FC0, "int16": -32768}
_INT_LIMIT = 32766
#: Quantisation step of ``int16`` stores, in the variable's units (IBI files' scale_factor).
INT16_STEP = 1e-3
_BF16_NAN = np.uint16(0x7FC0)


def check_storage_dtype(value: str, *, what: str = "storage_dtype") -> str:
    """``value`` if it is a known storage dtype, else a ValidationError naming the choices."""
    if value not in STORAGE_DTYPES:
        raise ValidationError(f"{what} {value!r} is not one of {', '.join(STORAGE_DTYPES)}")
    return value


def to_bfloat16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even, NaN kept."""
    f = np.ascontiguousarray(x, dtype=np.float32)
    bits = f.view(np.uint32)
    rounded = bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))
    out = (rounded >> np.uint32(16)).astype(np.uint16)
    out[np.isnan(f)] = _BF16_NAN
    return out


def from_bfloat16_bits(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


@dataclass(frozen=True)
class ChannelCodec:
    """Per-channel encoding of one depth group's arrays (see the module docstring)."""

    dtype: str
    offset: np.ndarray
    scale: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_storage_dtype(self.dtype)
        off = np.asarray(self.offset, dtype=np.float64).reshape(-1)
        sc = np.asarray(self.scale, dtype=np.float64).reshape(-1)
        if off.shape != sc.shape or not (np.all(np.isfinite(sc)) and np.all(sc > 0)):
            raise ValidationError(
                f"storage codec {self.dtype}: offsets {off.shape} and positive finite scales "
                f"{sc.shape} must have one value per channel"
            )
        object.__setattr__(self, "offset", off)
        object.__setattr__(self, "scale", sc)

    @property
    def disk_dtype(self) -> str:
        return DISK_DTYPE[self.dtype]

    @property
    def fill_value(self) -> Any:
        return FILL[self.dtype]

    def _shape(self, values: np.ndarray, ndim: int) -> np.ndarray:
        # channel axis is axis 1 of (T, C, ...)
        return values.reshape((1, -1) + (1,) * (ndim - 2)).astype(np.float32)

    @property
    def spatial_delta(self) -> bool:
        """Whether ``(T, C, H, W)`` arrays are stored as differences along latitude (int16);
        decoding them needs the land mask."""
        return self.dtype == "int16"

    def encode(self, x: np.ndarray, *, land: np.ndarray | None = None) -> np.ndarray:
        """``(T, C, ...)`` float32 physical values -> the on-disk array.

        ``land`` (``(C, H, W)`` bool) marks a ``(T, C, H, W)`` data array: int16 values are
        then stored as differences along latitude with land 0 (see the module docstring).
        """
        x = np.asarray(x, dtype=np.float32)
        if self.dtype == "float32":
            return x
        z = (x - self._shape(self.offset, x.ndim)) / self._shape(self.scale, x.ndim)
        if self.dtype == "float16":
            return z.astype(np.float16)
        if self.dtype == "bfloat16":
            return to_bfloat16_bits(z)
        q = np.rint(np.clip(np.nan_to_num(z, nan=0.0), -_INT_LIMIT, _INT_LIMIT)).astype(np.int16)
        if land is None:
            q[np.isnan(z)] = np.int16(-32768)
            return q
        q[np.broadcast_to(land, q.shape)] = 0
        out = q.copy()
        np.subtract(q[..., 1:, :], q[..., :-1, :], out=out[..., 1:, :])  # wraps modulo 2**16
        return out

    def decode(self, stored: np.ndarray, *, land: np.ndarray | None = None) -> np.ndarray:
        """The on-disk array -> ``(T, C, ...)`` float32 physical values (NaN on land).

        ``land`` as for :meth:`encode` (needed to read int16 data arrays).
        """
        a = np.asarray(stored)
        if self.dtype == "float32":
            return np.asarray(a, dtype=np.float32)
        nan_at: np.ndarray | None = None
        if self.dtype == "bfloat16":
            z = from_bfloat16_bits(a)
        elif self.dtype == "int16" and land is not None:
            z = np.cumsum(a, axis=-2, dtype=np.int16).astype(np.float32)
            z *= self._shape(self.scale, z.ndim)
            z += self.land_offset(land)  # offset, NaN on land: one pass for both
            return z
        elif self.dtype == "int16":
            z = a.astype(np.float32)
            nan_at = a == -32768
        else:
            z = a.astype(np.float32)
        z *= self._shape(self.scale, z.ndim)  # in place: one float32 copy in all
        z += self._shape(self.offset, z.ndim)
        if nan_at is not None:
            np.copyto(z, np.float32(np.nan), where=nan_at)
        return z

    def land_offset(self, land: np.ndarray) -> np.ndarray:
        """``(C, H, W)`` float32: each channel's offset, NaN on ``land`` (cached per mask)."""
        key = id(land)
        cached = self._cache.get("land_offset")
        if cached is not None and cached[0] == key and cached[1].shape == land.shape:
            return cached[1]
        off = np.broadcast_to(self._shape(self.offset, 4)[0], land.shape).astype(np.float32)
        off[np.asarray(land, dtype=bool)] = np.nan
        self._cache["land_offset"] = (key, off, land)
        return off

    def to_dict(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChannelCodec:
        return cls(str(d["dtype"]), np.asarray(d["offset"]), np.asarray(d["scale"]))


def make_codec(
    dtype: str,
    channel_variables: Sequence[tuple[str, int | None]],
    first_day: np.ndarray | None = None,
    ocean: np.ndarray | None = None,
) -> ChannelCodec:
    """The codec of a group: ``first_day`` ``(C, H, W)`` physical values and ``ocean``
    ``(C, H, W)`` give the float16/bfloat16 offsets and scales (needed for those only)."""
    check_storage_dtype(dtype)
    c = len(channel_variables)
    if dtype == "float32":
        return ChannelCodec(dtype, np.zeros(c), np.ones(c))
    if dtype == "int16":
        off, sc = np.zeros(c), np.ones(c)
        for k, (var, _) in enumerate(channel_variables):
            lo, hi = GLONET_VARIABLES[var].valid_range
            off[k], sc[k] = (lo + hi) / 2.0, max(INT16_STEP, (hi - lo) / (2 * _INT_LIMIT))
        return ChannelCodec(dtype, off, sc)
    if first_day is None or ocean is None:
        raise ValidationError(f"storage dtype {dtype} needs the first day to set its scales")
    off, sc = np.zeros(c), np.ones(c)
    for k in range(c):
        v = np.asarray(first_day[k], dtype=np.float64)[np.asarray(ocean[k], dtype=bool)]
        v = v[np.isfinite(v)]
        if v.size:
            off[k] = float(v.mean())
            sc[k] = max(float(v.std()), 1e-6 * max(abs(off[k]), 1.0))
    return ChannelCodec(dtype, off, sc)


def zone_index(zone: np.ndarray) -> np.ndarray:
    """Flat (row-major) indices of the open-boundary zone cells of a ``(H, W)`` mask."""
    return np.flatnonzero(np.asarray(zone, dtype=bool).reshape(-1)).astype(np.int64)


def pack_zone(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``(T, C, H, W)`` -> ``(T, C, N)``: the zone's cells only."""
    t, c = x.shape[:2]
    return np.ascontiguousarray(x.reshape(t, c, -1)[:, :, index])


def unpack_zone(packed: np.ndarray, index: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(T, C, N)`` -> ``(T, C, H, W)`` float32, NaN outside the zone."""
    t, c, n = packed.shape
    if n != index.size:
        raise StoreError(
            f"packed boundary array holds {n} cells but the zone index has {index.size}"
        )
    out = np.full((t, c, shape[0] * shape[1]), np.nan, dtype=np.float32)
    out[:, :, index] = packed
    return out.reshape(t, c, *shape)
