"""The pluggy markers of the ``glonet_regions`` project (importing pluggy only)."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "glonet_regions"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
