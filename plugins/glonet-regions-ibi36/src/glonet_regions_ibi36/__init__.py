"""The Iberia-Biscay-Ireland region at 1/36 degree, a glonet-regions plugin."""

from __future__ import annotations

__version__ = "0.1.0"
