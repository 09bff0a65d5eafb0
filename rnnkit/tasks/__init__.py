"""Tasks: how each kind of problem is trained, evaluated and used, and the runner that does it
(``rnnkit.fit``, ``rnnkit train``).

Each task is a package, ``tasks/<name>/``: ``data.py`` (its data config, reading and splits),
``baseline.py`` (what its scores are reported beside) and ``task.py`` (the :class:`Task`: encoding, model,
loss, metrics, artefacts, prediction). ``base.py`` holds the protocol every task follows and the run
config; ``runner.py`` fit / evaluate / predict. Nothing outside a task needs its name.
"""

from rnnkit.tasks.base import TASKS, RunConfig, Task, load_run_config, register_task
from rnnkit.tasks.classification import ClassificationData, ClassificationTask
from rnnkit.tasks.forecasting import ForecastingData, ForecastingTask
from rnnkit.tasks.generation import GenerationData, GenerationTask
from rnnkit.tasks.language_model import GenerationOptions, LanguageModelData, LanguageModelTask
from rnnkit.tasks.runner import RunResult, evaluate, fit, load_run, predict
from rnnkit.tasks.series_classification import SeriesClassificationData, SeriesClassificationTask
from rnnkit.tasks.tagging import TaggingData, TaggingTask
from rnnkit.tasks.translation import TranslationData, TranslationTask

__all__ = [
    "TASKS",
    "ClassificationData",
    "ClassificationTask",
    "ForecastingData",
    "ForecastingTask",
    "GenerationData",
    "GenerationOptions",
    "GenerationTask",
    "LanguageModelData",
    "LanguageModelTask",
    "RunConfig",
    "RunResult",
    "SeriesClassificationData",
    "SeriesClassificationTask",
    "TaggingData",
    "TaggingTask",
    "Task",
    "TranslationData",
    "TranslationTask",
    "evaluate",
    "fit",
    "load_run",
    "load_run_config",
    "predict",
    "register_task",
]
