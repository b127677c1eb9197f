"""The exception family of glonet-regions.

Every error the package raises on purpose derives from :class:`GlonetRegionsError`, so a
caller can catch ours without catching programming errors. Messages name the file, variable
or option at fault and say what was expected.
"""

from __future__ import annotations


class GlonetRegionsError(Exception):
    """Base class of every error raised on purpose by glonet-regions."""


class ValidationError(GlonetRegionsError, ValueError):
    """A value in the data contract (grid, variable, region, config) is invalid."""


class ConfigError(ValidationError):
    """A configuration or region file is malformed (unknown key, wrong type, bad version)."""


class RegistryError(GlonetRegionsError, LookupError):
    """A plugin or registered name is unknown, duplicated or broken."""


class UnknownNameError(RegistryError, KeyError):
    """A name (region, source, regridder, boundary provider, metric) is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable.
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(RegistryError):
    """Two plugins registered the same name."""


class GridMismatchError(ValidationError):
    """Coordinates do not lie on the expected grid (offset, wrong step, out of the box)."""


class DataError(GlonetRegionsError):
    """Input data are unusable: missing variable, wrong units, gaps, NaN in ocean, truncation."""


class AssetError(GlonetRegionsError):
    """A downloadable asset is missing, unreachable while offline, or fails its hash check."""


class SourceError(GlonetRegionsError):
    """A remote data source could not be used (credentials, network, unknown dataset)."""


class StoreError(GlonetRegionsError):
    """A training store is missing, incomplete or inconsistent."""


class CheckpointError(GlonetRegionsError):
    """A checkpoint or published weight file cannot be loaded."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist."""


class CheckpointIncompatibleError(CheckpointError):
    """The checkpoint's tensors, region or grid do not fit the model asked for."""
