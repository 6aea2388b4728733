"""Engines other than Polars for the projections (see `workbench.engines.spark`)."""
