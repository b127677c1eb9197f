"""``glonet-regions data``: regrid, prepare and inspect data."""

from __future__ import annotations

from glonet_regions.cli._lazy import LazyGroup

data = LazyGroup(
    name="data",
    help="Regrid source files, prepare training stores and inspect them.",
    lazy={
        "regrid": (
            "glonet_regions.cli.data_regrid:regrid",
            "Regrid a CF file onto a region's grid.",
        ),
        "prepare": ("glonet_regions.cli.data_prepare:prepare", "Build a zarr training store."),
        "inspect": (
            "glonet_regions.cli.data_inspect:inspect_cmd",
            "Describe and check a store or file.",
        ),
        "plan": (
            "glonet_regions.cli.data_plan:plan",
            "Size, time and memory of a store, before any download.",
        ),
        "report": (
            "glonet_regions.cli.data_report:report",
            "Representativeness and quality report of a store.",
        ),
        "sample": (
            "glonet_regions.cli.data_prepare:sample",
            "Generate the embedded synthetic sample.",
        ),
    },
)
