"""Dataset loaders, in one import: ``from rnnkit.data.datasets import load_nsmc, TextExample, DataError``.

The loaders live in small modules by kind of data; this module re-exports them.

- records (:mod:`~rnnkit.data.records`): ``TextExample``, ``TaggedSentence``, ``TextPair``, ``SeriesExample``,
  ``TimeSeries`` (``windows``, ``chronological_split``), ``split_stratified``;
- text (:mod:`~rnnkit.data.loaders_text`): ``load_nsmc``, ``load_imdb``, ``load_mr``, ``load_sst``,
  ``load_trec``, ``load_pairs``, ``load_text``, ``split_text``;
- tables (:mod:`~rnnkit.data.loaders_table`): ``load_table`` (CSV/TSV/JSONL with a column mapping);
- tagging (:mod:`~rnnkit.data.loaders_tagging`): ``load_conll``, ``load_conllu``;
- series (:mod:`~rnnkit.data.loaders_series`): ``load_ts``, ``load_ts_splits``, ``load_series_csv``;
- named datasets (:mod:`~rnnkit.data.catalog`) and downloads (:mod:`~rnnkit.data.download`).

Every loader raises :class:`DataError` (a ``ValueError``) naming ``file:line`` on a malformed line.
"""

from rnnkit.data.catalog import DATASETS, DatasetInfo, describe, load_dataset
from rnnkit.data.download import DatasetFile, DatasetUnavailable, fetch
from rnnkit.data.loaders_series import load_series_csv, load_ts, load_ts_splits
from rnnkit.data.loaders_table import load_table
from rnnkit.data.loaders_tagging import load_conll, load_conllu
from rnnkit.data.loaders_text import (
    load_imdb,
    load_mr,
    load_nsmc,
    load_pairs,
    load_sst,
    load_text,
    load_trec,
    split_text,
)
from rnnkit.data.reading import DataError, DataWarning
from rnnkit.data.records import (
    SeriesExample,
    TaggedSentence,
    TextExample,
    TextPair,
    TimeSeries,
    split_stratified,
)

__all__ = [
    "DATASETS",
    "DataError",
    "DataWarning",
    "DatasetFile",
    "DatasetInfo",
    "DatasetUnavailable",
    "SeriesExample",
    "TaggedSentence",
    "TextExample",
    "TextPair",
    "TimeSeries",
    "describe",
    "fetch",
    "load_conll",
    "load_conllu",
    "load_dataset",
    "load_imdb",
    "load_mr",
    "load_nsmc",
    "load_pairs",
    "load_series_csv",
    "load_sst",
    "load_table",
    "load_text",
    "load_trec",
    "load_ts",
    "load_ts_splits",
    "split_stratified",
    "split_text",
]
