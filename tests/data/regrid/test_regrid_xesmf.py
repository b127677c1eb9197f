"""The xesmf backend: only where xesmf and esmpy import (conda-forge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glonet_regions.core.errors import RegistryError
from glonet_regions.core.grid import Grid
from glonet_regions.data.regrid.builtin import compute_weights
from glonet_regions.data.regrid.xesmf_backend import UNAVAILABLE, XesmfRegridder, xesmf_available

SRC = Grid.regular(lon0=-10, lat0=40, dlon=0.5, dlat=0.5, nlon=12, nlat=10)
DST = Grid.regular(lon0=-9.5, lat0=40.5, dlon=1.0, dlat=1.0, nlon=5, nlat=4)

needs_xesmf = pytest.mark.skipif(not xesmf_available(), reason=UNAVAILABLE)


def test_unavailable_backend_is_named() -> None:
    if xesmf_available():
        pytest.skip("xesmf is importable here")
    with pytest.raises(RegistryError, match="conda-forge"):
        XesmfRegridder(SRC, DST, "bilinear")


@needs_xesmf
@pytest.mark.parametrize("method", ["bilinear", "conservative", "nearest"])
def test_xesmf_matches_builtin(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLONET_REGIONS_CACHE", str(tmp_path))
    ours = compute_weights(SRC, DST, method)
    theirs = XesmfRegridder(SRC, DST, method)
    field = np.random.default_rng(0).normal(size=SRC.shape)
    a = theirs.regrid(field)
    b = ours.matrix @ field.ravel()
    np.testing.assert_allclose(a.ravel(), b, rtol=1e-6, atol=1e-8)
    assert list((tmp_path / "regrid").glob("*.nc"))
