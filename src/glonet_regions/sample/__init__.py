"""The embedded SYNTHETIC sample: a deterministic ocean on a region's real grid geometry.

``generate`` writes the sample's files for any region, ``ocean`` holds the synthetic physics,
``land`` the coastline from the 1 km land mask, ``io`` the CMEMS-like netCDF writing. Import
the submodules you need (they pull in numpy and xarray; the package root stays light).
"""
