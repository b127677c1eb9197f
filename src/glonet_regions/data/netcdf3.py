"""Integrity check of classic netCDF files (CDF-1, CDF-2, CDF-5) from their header alone.

The netCDF-C library opens a truncated classic file and returns fill values for the missing
bytes without an error. :func:`classic_required_size` reads the header and computes how many
bytes the variables need, so a short file is caught before any data are read.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

__all__ = ["classic_required_size", "classic_version"]

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_NC_DIMENSION, _NC_VARIABLE, _NC_ATTRIBUTE = 0x0A, 0x0B, 0x0C


class _HeaderError(ValueError):
    pass


class _Reader:
    def __init__(self, fh: BinaryIO, version: int) -> None:
        self.fh = fh
        self.version = version

    def _read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise _HeaderError("the header ends early")
        return data

    def int32(self) -> int:
        return int(struct.unpack(">i", self._read(4))[0])

    def non_neg(self) -> int:  # lengths: 64-bit in CDF-5
        return int(struct.unpack(">q", self._read(8))[0]) if self.version == 5 else self.int32()

    def offset(self) -> int:  # variable offsets: 64-bit in CDF-2 and CDF-5
        return (
            int(struct.unpack(">q", self._read(8))[0]) if self.version in (2, 5) else self.int32()
        )

    def name(self) -> str:
        n = self.non_neg()
        raw = self._read(n + (-n % 4))
        return raw[:n].decode("utf-8", "replace")

    def skip_attributes(self) -> None:
        tag, count = self.int32(), self.non_neg()
        if tag == 0 and count == 0:
            return
        if tag != _NC_ATTRIBUTE:
            raise _HeaderError(f"bad attribute list tag {tag}")
        for _ in range(count):
            self.name()
            nc_type = self.int32()
            n = self.non_neg()
            size = n * _TYPE_SIZES.get(nc_type, 0)
            if nc_type not in _TYPE_SIZES:
                raise _HeaderError(f"unknown attribute type {nc_type}")
            self._read(size + (-size % 4))


def classic_version(path: Path) -> int | None:
    """1, 2 or 5 for a classic netCDF file, None otherwise."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:3] == b"CDF" and magic[3] in (1, 2, 5):
        return magic[3]
    return None


def classic_required_size(path: Path) -> int | None:
    """The least file size (bytes) the header of a classic file implies; None if not classic.

    Raises:
        ValueError: The header itself is truncated or malformed.
    """
    version = classic_version(path)
    if version is None:
        return None
    with open(path, "rb") as fh:
        fh.read(4)
        r = _Reader(fh, version)
        numrecs = r.non_neg()
        if numrecs < 0:  # STREAMING: the record count is unknown
            numrecs = 0
        tag, n_dims = r.int32(), r.non_neg()
        dims: list[int] = []
        if not (tag == 0 and n_dims == 0):
            if tag != _NC_DIMENSION:
                raise _HeaderError(f"bad dimension list tag {tag}")
            for _ in range(n_dims):
                r.name()
                dims.append(r.non_neg())
        r.skip_attributes()
        tag, n_vars = r.int32(), r.non_neg()
        if tag == 0 and n_vars == 0:
            return fh.tell()
        if tag != _NC_VARIABLE:
            raise _HeaderError(f"bad variable list tag {tag}")
        header_end = 0
        fixed_end = 0
        records: list[tuple[int, int, int]] = []  # (begin, unpadded size, vsize)
        for _ in range(n_vars):
            r.name()
            ndim = r.non_neg()
            dimids = [r.non_neg() for _ in range(ndim)]
            r.skip_attributes()
            nc_type = r.int32()
            vsize = r.non_neg()
            begin = r.offset()
            if nc_type not in _TYPE_SIZES or any(d >= len(dims) for d in dimids):
                raise _HeaderError("bad variable description")
            is_record = bool(dimids) and dims[dimids[0]] == 0
            count = 1
            for d in dimids[1:] if is_record else dimids:
                count *= dims[d]
            size = count * _TYPE_SIZES[nc_type]
            if is_record:
                records.append((begin, size, vsize))
            else:
                fixed_end = max(fixed_end, begin + size)
        header_end = fh.tell()
    required = max(header_end, fixed_end)
    if records and numrecs > 0:
        recsize = records[0][1] if len(records) == 1 else sum(v for _, _, v in records)
        for begin, size, _ in records:
            required = max(required, begin + (numrecs - 1) * recsize + size)
    return required
