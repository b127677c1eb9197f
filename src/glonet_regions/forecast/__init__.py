"""Forecasting: initial and boundary data known at the start date, the runner, the cube writer.

``sources`` reads the daily states a forecast starts from, ``runner`` runs a forecaster bundle
(or persistence) from each start date, ``cube`` writes OceanBench-shaped forecast cubes. Import
the submodules you need (they pull in xarray; the package root stays light).
"""
