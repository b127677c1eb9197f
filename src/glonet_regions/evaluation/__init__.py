"""Evaluation: metrics, climatology, baselines, diagnostics, scoring, reports.

Import the submodules you need (they pull in xarray; the package root stays light).
"""
