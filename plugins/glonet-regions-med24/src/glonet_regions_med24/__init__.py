"""The Mediterranean Sea at 1/24 degree, a glonet-regions plugin."""

from __future__ import annotations

__version__ = "0.1.0"
