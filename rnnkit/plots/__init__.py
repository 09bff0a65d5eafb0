"""Pictures: :mod:`~rnnkit.plots.figure` (the figure kit: fonts that draw Hangul, an atomic save) and
:mod:`~rnnkit.plots.charts` (learning curves, confusion matrices, forecasts). Inspection's pictures
(:mod:`rnnkit.inspect`) are drawn with the same kit."""

from rnnkit.plots.charts import (
    learning_curves,
    plot_confusion_matrix,
    plot_forecast,
    plot_labelled_matrix,
    plot_learning_curves,
)

__all__ = [
    "learning_curves",
    "plot_confusion_matrix",
    "plot_forecast",
    "plot_labelled_matrix",
    "plot_learning_curves",
]
