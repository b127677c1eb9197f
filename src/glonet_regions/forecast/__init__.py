"""Forecasting: initial and boundary data known at the start date, the runner, the cube writer.

``sources`` reads the daily states a forecast starts from (a store or a daily file),
``operational`` the initial days of a forecast without a store (files or the region's
analysis-forecast service), ``boundary_sources`` the open-boundary data of each boundary mode
(a global forecast, persistence, the store's reanalysis), ``runner`` runs a forecaster bundle
(or persistence) from each start date, ``cube`` writes OceanBench-shaped forecast cubes. Import
the submodules you need (they pull in xarray; the package root stays light).
"""
