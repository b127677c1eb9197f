"""``--scheduler``: bad values are refused clearly; a LocalCluster builds the same store."""

from __future__ import annotations

import numpy as np
import pytest

from glonet_regions.core.errors import ValidationError
from glonet_regions.data.schedule import connect
from glonet_regions.data.store import StoreReader


@pytest.mark.parametrize(
    "value,message",
    [("local:0", "local:N with N >= 1"), ("local:x", "local:N"),
     ("/nonexistent/scheduler.json", "scheduler file not found")],
)  # fmt: skip
def test_bad_scheduler_values_are_refused(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        connect(value)


@pytest.mark.slow
def test_local_cluster_builds_the_same_store(build, source) -> None:  # type: ignore[no-untyped-def]
    ref, _ = build(source, name="threads.zarr")
    out, res = build(source, name="cluster.zarr", scheduler="local:2", workers=None)
    assert res.chunks_written == res.n_chunks
    a, b = StoreReader(ref), StoreReader(out)
    np.testing.assert_array_equal(a.read("surface", 0, 32), b.read("surface", 0, 32))
    np.testing.assert_allclose(a.stats("surface").mean, b.stats("surface").mean)
