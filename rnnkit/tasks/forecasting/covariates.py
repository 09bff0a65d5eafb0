"""The forecasting task's covariate encoding: :mod:`rnnkit.data.covariates` (torch-free, read by the export
runtime too), re-exported here."""

from rnnkit.data.covariates import CovariateEncoder, fill_gaps

__all__ = ["CovariateEncoder", "fill_gaps"]
