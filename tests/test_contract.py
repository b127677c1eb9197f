"""The region contract over every registered region plus the dummy one."""

from __future__ import annotations

import pytest

from glonet_regions.core.grid import BBox
from glonet_regions.registry.facade import get_registry
from glonet_regions.testing import (
    DUMMY_NAME,
    RegionContract,
    check_region,
    make_dummy_region,
    region_checks,
)
from glonet_regions.testing.contract import check_grids, check_splits

_NAMES = [*get_registry().region_names(), DUMMY_NAME]


def _region(name: str):
    return make_dummy_region() if name == DUMMY_NAME else get_registry().get_region(name)


@pytest.mark.parametrize("name", _NAMES)
@pytest.mark.parametrize(
    ("check_name", "check"), region_checks(), ids=[n for n, _ in region_checks()]
)
def test_region_contract(name: str, check_name: str, check) -> None:
    check(_region(name), get_registry())


class TestDummyContract(RegionContract):
    """The pytest base class, as plugin packages use it."""

    def make_region(self):
        return make_dummy_region()


def test_contract_catches_a_broken_region() -> None:
    from dataclasses import replace

    from glonet_regions.core.region import DateRange, DateSplits

    region = make_dummy_region()
    short = replace(
        region,
        splits=DateSplits(
            DateRange("2020-01-01", "2020-01-02"),
            DateRange("2020-02-01", "2020-02-10"),
            DateRange("2020-03-01", "2020-03-10"),
        ),
    )
    with pytest.raises(AssertionError, match="'dummy': split 'train' has 2 days"):
        check_splits(short)
    far = replace(region, bbox=BBox(100.0, 140.0, -10.0, 40.0), subregions=())
    with pytest.raises(AssertionError, match="covers less than half of the region box"):
        check_grids(far)
    with pytest.raises(AssertionError):
        check_region(far)
