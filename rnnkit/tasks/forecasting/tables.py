"""The forecasting task's tables: :mod:`rnnkit.data.series_tables` (torch-free, read by the export runtime
too), re-exported here."""

from rnnkit.data.series_tables import SeriesFrame, concat_frames, read_frames, table_columns

__all__ = ["SeriesFrame", "concat_frames", "read_frames", "table_columns"]
