"""Data layer: sources, regridding, vertical interpolation, stores (import submodules directly)."""
