"""Test helpers importable by plugin packages.

- :mod:`glonet_regions.testing.dummy`: a tiny dummy region and a plugin registering it.
- :mod:`glonet_regions.testing.contract`: the region contract suite (:func:`check_region`,
  :class:`RegionContract` for pytest).
- :mod:`glonet_regions.testing.strategies`: hypothesis strategies (imported by path, since it
  needs hypothesis).
"""

from __future__ import annotations

from glonet_regions.testing.contract import RegionContract, check_region, region_checks
from glonet_regions.testing.dummy import DUMMY_NAME, DummyPlugin, make_dummy_region

__all__ = [
    "DUMMY_NAME",
    "DummyPlugin",
    "RegionContract",
    "check_region",
    "make_dummy_region",
    "region_checks",
]
