"""Translation: parallel sentence pairs in, a :class:`Seq2Seq` (encoder-decoder with attention) out, scored by
BLEU and chrF on greedy and beam-search decodes against a copy-the-source baseline.

Source and target each get their own tokenizer and vocabulary, fitted on the training pairs only. Training
minimises the masked cross-entropy of the teacher-forced target tokens (``tgt_out`` of
:func:`~rnnkit.data.batching.collate_pairs`, padded with the ignored index). Each evaluation also decodes
``eval_pairs`` validation sentences greedily, so ``val_chrf`` can pick the best model.

BLEU on Korean (and Chinese, Japanese) targets uses sacrebleu's character tokenisation: word-level BLEU
on eojeols misses a whole word for one changed ending. chrF needs no tokenisation; it is the fairer of the
two on small test sets and the one to monitor.

Use::

    rnnkit train tatoeba_eng_kor                      # rnnkit/configs/tatoeba_eng_kor.yaml: English -> Korean
    rnnkit predict runs/tatoeba_eng_kor "I love you." # {"text", "translation", "log_prob"} per sentence
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError, from_dict
from rnnkit.data.batching import IGNORE_INDEX, BucketBatchSampler, collate_pairs, pad_batch
from rnnkit.data.records import TextPair
from rnnkit.data.tokenizers import (
    MorphemeTokenizer,
    Tokenizer,
    WordTokenizer,
    build_tokenizer,
    nfc,
    tokenizer_from_dict,
)
from rnnkit.data.vocab import BOS, EOS, PAD, UNK, Vocab
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.base import Task, register_task
from rnnkit.training.losses import masked_cross_entropy
from rnnkit.training.metrics import bleu, chrf

TokenizerName = Literal["char", "word", "morpheme", "bpe", "unigram"]
DECODE_BATCH = 64  # sentences decoded at once


@dataclass(frozen=True)
class TranslationData:
    """Where the sentence pairs come from, how each side becomes token ids, and how outputs are decoded.

    Attributes:
        dataset: a catalog name (``tatoeba_eng_kor``: English -> Korean, the default), ``"pairs"`` (a
            tab-separated ``source<TAB>target[<TAB>attribution]`` file at ``path``) or ``"table"``.
        path: a local copy of a catalog dataset (no download), or the file for ``pairs`` / ``table``.
        reverse: swap the two sides (Korean -> English on ``tatoeba_eng_kor``).
        format, source_column, target_column: how to read ``dataset="table"`` (csv, tsv or jsonl).
        source_tokenizer, target_tokenizer: ``char``, ``word``, ``morpheme`` (Korean, kiwipiepy), ``bpe`` or
            ``unigram`` (trained on that side of the training pairs, ``subword_vocab_size`` pieces).
        source_lowercase, target_lowercase: lowercase that side before tokenizing; a lowercased target is
            scored against lowercased references.
        max_vocab, min_freq: limits of each vocabulary (specials included in ``max_vocab``).
        max_length: training pairs with more tokens on either side are left out (None: keep all);
            validation and test pairs are all kept.
        val_fraction, test_fraction: held out where the dataset has no such split, seeded with
            ``split_seed``; pairs sharing a source sentence stay in one split, so no test source is seen
            in training.
        eval_pairs: validation sentences decoded greedily at each evaluation for ``val_bleu``/``val_chrf``.
        max_output_length: most tokens per translation (None: the longest training target + 10).
        strategy, beam_size, length_penalty: how ``predict`` decodes (``report`` scores both strategies
            with this beam size); ``length_penalty`` is GNMT's alpha.
        bleu_tokenize: sacrebleu tokenizer for BLEU; ``auto``: ``char`` for Hangul/CJK targets, else ``13a``.
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "tatoeba_eng_kor"
    path: str | None = None
    reverse: bool = False
    format: Literal["csv", "tsv", "jsonl"] = "tsv"
    source_column: str = "source"
    target_column: str = "target"
    source_tokenizer: TokenizerName = "word"
    target_tokenizer: TokenizerName = "char"
    source_lowercase: bool = True
    target_lowercase: bool = False
    subword_vocab_size: int = 4000
    max_vocab: int | None = 30000
    min_freq: int = 1
    max_length: int | None = 60
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    eval_pairs: int = 200
    max_output_length: int | None = None
    strategy: Literal["greedy", "beam"] = "beam"
    beam_size: int = 5
    length_penalty: float = 0.6
    bleu_tokenize: Literal["auto", "13a", "intl", "char", "zh", "none"] = "auto"
    offline: bool | None = None

    def __post_init__(self) -> None:
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"TranslationData.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"TranslationData: val_fraction + test_fraction must be < 1, got "
                             f"{self.val_fraction} + {self.test_fraction}")  # fmt: skip
        if self.dataset in ("pairs", "table") and self.path is None:
            raise ValueError(f"TranslationData: dataset={self.dataset!r} needs path= (the file of pairs)")
        for name in ("eval_pairs", "beam_size", "max_length", "max_output_length", "min_freq"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"TranslationData.{name} must be >= 1, got {value}")
        if self.subword_vocab_size <= 4:
            raise ValueError(f"TranslationData.subword_vocab_size must be > 4, got {self.subword_vocab_size}")
        if self.length_penalty < 0:
            raise ValueError(f"TranslationData.length_penalty must be >= 0, got {self.length_penalty}")


def split_pairs(
    pairs: Sequence[TextPair], fraction: float, seed: int
) -> tuple[list[TextPair], list[TextPair]]:
    """A seeded split that keeps every pair of one source sentence on the same side.

    ``round(fraction · S)`` of the S distinct sources (at least one when ``fraction > 0``), drawn by
    ``random.Random(seed)``, go to the held-out part; both parts keep the input order.

    Example:
        >>> pairs = [TextPair(s, s.upper()) for s in ["a", "b", "a", "c", "d"]]
        >>> rest, held = split_pairs(pairs, 0.25, seed=0)
        >>> len(rest) + len(held), {p.source for p in rest} & {p.source for p in held}
        (5, set())
    """
    sources = sorted({p.source for p in pairs})
    if fraction <= 0 or len(sources) < 2:
        return list(pairs), []
    random.Random(seed).shuffle(sources)
    held = set(sources[: max(1, round(fraction * len(sources)))])
    return [p for p in pairs if p.source not in held], [p for p in pairs if p.source in held]


def load_splits(data: TranslationData) -> dict[str, list[TextPair]]:
    """Train / validation / test pairs, using the dataset's own splits where it has them."""
    if data.dataset == "pairs":
        from rnnkit.data.loaders_text import load_pairs

        splits: dict[str, Any] = {"all": load_pairs(data.path)}
    elif data.dataset == "table":
        from rnnkit.data.loaders_table import load_table

        splits = {"all": load_table(data.path, data.format, source=data.source_column,
                                    target=data.target_column)}  # fmt: skip
    else:
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
    train = splits.get("train", splits.get("all"))
    if not train or not isinstance(train, list) or not isinstance(train[0], TextPair):
        raise ConfigError(f"data: dataset {data.dataset!r} has no sentence pairs for translation")
    if data.reverse:
        splits = {k: [TextPair(p.target, p.source, p.attribution) for p in v] for k, v in splits.items()}
        train = splits.get("train", splits.get("all"))
    test = splits.get("test")
    if test is None:
        train, test = split_pairs(train, data.test_fraction, data.split_seed)
    val = splits.get("dev", splits.get("validation"))
    if val is None:
        train, val = split_pairs(train, data.val_fraction / (1 - data.test_fraction), data.split_seed + 1)
    if not train or not test:
        raise ConfigError(f"data: {data.dataset!r} leaves {len(train)} training and {len(test)} test pairs; "
                          "both need at least one (more data, or other val/test fractions)")  # fmt: skip
    return {"train": train, "val": val, "test": test}


def join_words(tokens: Sequence[str]) -> str:
    """Word tokens back to text: spaces between words, none before closing or after opening punctuation,
    none around an apostrophe inside a word.

    Example:
        >>> join_words(["i", "don", "'", "t", "know", "(", "yet", ")", "."])
        "i don't know (yet)."
        >>> join_words(["정말", "재밌어요", "!"])
        '정말 재밌어요!'
    """
    text = " ".join(tokens)
    text = re.sub(r" ([.,!?;:%)\]}…。、！？])", r"\1", text)
    text = re.sub(r"([(\[{]) ", r"\1", text)
    return re.sub(r"(\w) (['’]) (\w)", r"\1\2\3", text)


def detokenize(tokenizer: Tokenizer, tokens: Sequence[str]) -> str:
    """Tokens back to text: :func:`join_words` for word tokens, else the tokenizer's own ``detokenize``
    (``<unk>`` is kept visible; a morpheme without a tag is joined as a symbol)."""
    if isinstance(tokenizer, WordTokenizer):
        return join_words(tokens)
    if isinstance(tokenizer, MorphemeTokenizer) and tokenizer.with_tags:
        tokens = [t if tokenizer.separator in t[1:] else f"{t}{tokenizer.separator}SW" for t in tokens]
    try:
        return tokenizer.detokenize(tokens)
    except NotImplementedError:
        return " ".join(tokens)


def auto_bleu_tokenize(texts: Sequence[str]) -> str:
    """``"char"`` when most letters of ``texts`` are Hangul, CJK or kana (sacrebleu's 13a would score whole
    eojeols or unsegmented runs), else ``"13a"``.

    Example:
        >>> auto_bleu_tokenize(["나는 학생이야."]), auto_bleu_tokenize(["I am a student."])
        ('char', '13a')
    """
    letters = [c for text in texts for c in text if c.isalpha()]
    wide = sum(unicodedata.east_asian_width(c) == "W" for c in letters)
    return "char" if letters and wide > len(letters) / 2 else "13a"


@register_task
class TranslationTask(Task):
    """Sequence to sequence: a translation per sentence. The model section is a :class:`Seq2SeqConfig`
    without ``src_vocab_size``/``tgt_vocab_size`` and the special ids (all taken from the data)."""

    name = "translation"
    data_config = TranslationData
    DERIVED = ("src_vocab_size", "tgt_vocab_size", "bos_id", "eos_id", "pad_id")

    # ----- data ---------------------------------------------------------------------------------------
    def prepare(self, run_dir: Path) -> None:
        self.splits = load_splits(self.data)
        sources = [self._source_text(p.source) for p in self.splits["train"]]
        targets = [self._target_text(p.target) for p in self.splits["train"]]
        self.source_tokenizer = self._fit_tokenizer(self.data.source_tokenizer, sources)
        self.target_tokenizer = self._fit_tokenizer(self.data.target_tokenizer, targets)
        src_tokens = [self.source_tokenizer.tokenize(t) for t in sources]
        tgt_tokens = [self.target_tokenizer.tokenize(t) for t in targets]
        kept = [k for k, (s, t) in enumerate(zip(src_tokens, tgt_tokens)) if self._fits(len(s), len(t))]
        limits = self.data.max_vocab, self.data.min_freq
        self.source_vocab = Vocab.build((src_tokens[k] for k in kept), *limits)
        self.target_vocab = Vocab.build((tgt_tokens[k] for k in kept), *limits)
        self.longest_target = max((len(tgt_tokens[k]) for k in kept), default=0)
        tokenize = self.data.bleu_tokenize
        self.bleu_tokenize = auto_bleu_tokenize(targets) if tokenize == "auto" else tokenize
        self.save_state(run_dir)

    def _fit_tokenizer(self, kind: str, texts: list[str]) -> Tokenizer:
        if kind in ("bpe", "unigram"):
            return build_tokenizer(kind, texts=texts, vocab_size=self.data.subword_vocab_size)
        return build_tokenizer(kind)  # lowercasing is done by the task, the same for every tokenizer

    def _source_text(self, text: str) -> str:
        return nfc(text).lower() if self.data.source_lowercase else nfc(text)

    def _target_text(self, text: str) -> str:
        return nfc(text).lower() if self.data.target_lowercase else nfc(text)

    def _fits(self, source_length: int, target_length: int) -> bool:
        limit = self.data.max_length
        return limit is None or (source_length <= limit and target_length <= limit)

    def state(self) -> dict[str, Any]:
        return {
            "source_tokenizer": self.source_tokenizer.to_dict(),
            "target_tokenizer": self.target_tokenizer.to_dict(),
            "source_vocab": self.source_vocab.to_dict(),
            "target_vocab": self.target_vocab.to_dict(),
            "longest_target": self.longest_target,
            "bleu_tokenize": self.bleu_tokenize,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.source_tokenizer = tokenizer_from_dict(state["source_tokenizer"])
        self.target_tokenizer = tokenizer_from_dict(state["target_tokenizer"])
        self.source_vocab = Vocab.from_dict(state["source_vocab"], "source_vocab")
        self.target_vocab = Vocab.from_dict(state["target_vocab"], "target_vocab")
        self.longest_target = int(state["longest_target"])
        self.bleu_tokenize = str(state["bleu_tokenize"])

    def encode_source(self, text: str) -> list[int]:
        ids = self.source_vocab.encode(self.source_tokenizer.tokenize(self._source_text(text)))
        return ids or [UNK]  # an empty sentence still has one step

    def encode_target(self, text: str) -> list[int]:
        return self.target_vocab.encode(self.target_tokenizer.tokenize(self._target_text(text)))

    def decode_target(self, ids: Sequence[int]) -> str:
        return detokenize(self.target_tokenizer, self.target_vocab.decode(ids))

    def _items(self, pairs: list[TextPair], train: bool) -> list[tuple[list[int], list[int]]]:
        items = [(self.encode_source(p.source), self.encode_target(p.target)) for p in pairs]
        return [(s, t) for s, t in items if self._fits(len(s), len(t))] if train else items

    def loaders(self) -> tuple[Any, Any, Any]:
        if not hasattr(self, "splits"):
            self.splits = load_splits(self.data)

        def loader(pairs: list[TextPair], train: bool) -> DataLoader | None:
            items = self._items(pairs, train)
            if not items:
                return None
            lengths = [len(s) + len(t) for s, t in items]
            sampler = BucketBatchSampler(lengths, self.train.batch_size, shuffle=train, seed=self.train.seed)
            return DataLoader(items, batch_sampler=sampler, collate_fn=collate_pairs)

        return (
            loader(self.splits["train"], True),
            loader(self.splits["val"], False),
            loader(self.splits["test"], False),
        )

    # ----- model --------------------------------------------------------------------------------------
    def model_config(self) -> Seq2SeqConfig:
        options, where = dict(self.model_options), f"{self.where}: model"
        derived = [name for name in self.DERIVED if name in options]
        if derived:
            raise ConfigError(f"{where}: {derived[0]!r} comes from the data; remove it")
        sizes = {"src_vocab_size": len(self.source_vocab), "tgt_vocab_size": len(self.target_vocab)}
        return from_dict(
            Seq2SeqConfig, {**options, **sizes, "bos_id": BOS, "eos_id": EOS, "pad_id": PAD}, where
        )

    def build_model(self) -> nn.Module:
        return Seq2Seq(self.model_config())

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        logits, _ = model(batch["src"], batch["src_lengths"], batch["tgt_in"], batch["tgt_lengths"])
        return masked_cross_entropy(logits, batch["tgt_out"])  # tgt_out's padding is the ignored index

    def _token_loss(self, model: nn.Module, loader: Any) -> float:
        """The mean cross-entropy per target token (EOS included) over the whole loader."""
        total, tokens = 0.0, 0
        for batch in loader:
            batch = {k: v.to(self.device) for k, v in batch.items()}
            count = int((batch["tgt_out"] != IGNORE_INDEX).sum())
            total += self.compute_loss(model, batch).item() * count
            tokens += count
        return total / max(tokens, 1)

    # ----- decoding and scoring -----------------------------------------------------------------------
    @torch.no_grad()
    def translate(
        self,
        model: nn.Module,
        sources: Sequence[str],
        strategy: str | None = None,
        beam_size: int | None = None,
    ) -> list[tuple[str, float]]:
        """``(translation, summed log-probability)`` per source sentence, decoded in length-sorted batches."""
        strategy = strategy or self.data.strategy
        beam_size = beam_size or self.data.beam_size
        limit = self.data.max_output_length or self.longest_target + 10
        encoded = [self.encode_source(s) for s in sources]
        order = sorted(range(len(encoded)), key=lambda k: len(encoded[k]))
        device = next(model.parameters()).device
        results: list[tuple[str, float]] = [("", 0.0)] * len(encoded)
        for start in range(0, len(order), DECODE_BATCH):
            chunk = order[start : start + DECODE_BATCH]
            src, lengths = pad_batch([encoded[k] for k in chunk])
            decoded, _ = model.translate(src.to(device), lengths.to(device), max_length=limit,
                                         strategy=strategy, beam_size=beam_size,
                                         alpha=self.data.length_penalty)  # fmt: skip
            for row, k in enumerate(chunk):
                ids = decoded.tokens[row, : int(decoded.lengths[row])].tolist()
                results[k] = (self.decode_target(ids), float(decoded.scores[row]))
        return results

    def _references(self, pairs: Sequence[TextPair]) -> list[str]:
        return [self._target_text(p.target) for p in pairs]

    def _scores(self, hypotheses: list[str], pairs: Sequence[TextPair]) -> dict[str, float]:
        references = self._references(pairs)
        return {
            "bleu": bleu(hypotheses, references, tokenize=self.bleu_tokenize),
            "chrf": chrf(hypotheses, references),
        }

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        loss = self._token_loss(model, loader)
        shown = self.splits["val"][: self.data.eval_pairs]
        scores = self._scores(
            [t for t, _ in self.translate(model, [p.source for p in shown], "greedy")], shown
        )
        return {
            "val_loss": loss,
            "val_perplexity": math.exp(min(loss, 50.0)),
            "val_bleu": scores["bleu"],
            "val_chrf": scores["chrf"],
        }

    def report(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        """Test loss, BLEU and chrF of greedy and beam decodes of every test sentence, the copy-the-source
        baseline's BLEU and chrF, split and vocabulary sizes, and five sample translations."""
        train_loader, _, test_loader = self.loaders()
        model.eval()
        with torch.no_grad():
            loss = self._token_loss(model, test_loader)
        test = self.splits["test"]
        sources = [p.source for p in test]
        greedy = [t for t, _ in self.translate(model, sources, "greedy")]
        beam = [t for t, _ in self.translate(model, sources, "beam")]
        greedy_scores, beam_scores = self._scores(greedy, test), self._scores(beam, test)
        copied = self._scores([self._target_text(s) for s in sources], test)
        shown = list(range(0, len(test), max(1, len(test) // 5)))[:5]  # spread over the split
        skipped = len(self.splits["train"]) - (len(train_loader.dataset) if train_loader else 0)
        return {
            "test_loss": loss,
            "test_perplexity": math.exp(min(loss, 50.0)),
            "test_bleu_greedy": greedy_scores["bleu"],
            "test_chrf_greedy": greedy_scores["chrf"],
            "test_bleu_beam": beam_scores["bleu"],
            "test_chrf_beam": beam_scores["chrf"],
            "beam_size": self.data.beam_size,
            "bleu_tokenize": self.bleu_tokenize,
            "baseline": {"name": "copy the source", "test_bleu": copied["bleu"], "test_chrf": copied["chrf"]},
            "sizes": {
                **{split: len(pairs) for split, pairs in self.splits.items()},
                "train_too_long": skipped,
            },
            "vocab_sizes": {"source": len(self.source_vocab), "target": len(self.target_vocab)},
            "samples": [
                {"source": sources[k], "reference": test[k].target, "greedy": greedy[k], "beam": beam[k]}
                for k in shown
            ],
        }

    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        model.eval()
        return [
            {"text": text, "translation": translation, "log_prob": round(score, 4)}
            for text, (translation, score) in zip(inputs, self.translate(model, inputs))
        ]
