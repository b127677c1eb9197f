"""Plugin sources shared by registry tests."""

GOOD_PLUGIN = """
    from glonet_regions import hookimpl
    from glonet_regions.testing import make_dummy_region

    @hookimpl
    def register_regions(register):
        register(make_dummy_region("good"))

    @hookimpl
    def register_sources(register):
        register("good-source", "some.module:Thing")
"""


def dummy_file_text(name: str = "filed", **overrides: str) -> str:
    """A small valid region file (YAML) on a 1-degree grid; ``overrides`` replace top keys."""
    parts = {
        "schema_version": "schema_version: 1",
        "name": f"name: {name}",
        "title": "title: A file region",
        "bbox": "bbox: [0.0, 10.0, 40.0, 48.0]",
        "resolution_deg": "resolution_deg: 1",
        "grid": "grid:\n  versions:\n    - {name: a, lon0: 0.0, lat0: 40.0, nlon: 11, nlat: 9}",
        "splits": (
            "splits:\n  train: [2000-01-01, 2000-12-31]\n  validation: [2001-01-01, 2001-06-30]\n"
            "  test: [2001-07-01, 2001-12-31]"
        ),
        "open_boundaries": "open_boundaries: {edges: [west], width: 2, provider: relaxation}",
    }
    parts.update(overrides)
    return "\n".join(v for v in parts.values() if v) + "\n"
