"""Tagging: the Task: encoding, model, loss, metrics, artefacts and prediction."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError
from rnnkit.data.batching import BucketBatchSampler, collate_tagging, move_to_device, pad_batch, pad_words
from rnnkit.data.records import TaggedSentence
from rnnkit.data.vocab import PAD, SPECIALS, Vocab, character_vocab, encode_characters
from rnnkit.data.words import SUFFIX, backoff_id, split_columns
from rnnkit.losses import crf_negative_log_likelihood, masked_cross_entropy
from rnnkit.metrics import (
    accuracy,
    chunk_f1,
    classification_report,
    confusion_matrix,
    extract_chunks,
    labelled_matrix,
)
from rnnkit.models.modes import eval_mode
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.plots.charts import plot_labelled_matrix
from rnnkit.tasks.base import (
    CHARACTER_FIELDS,
    InputError,
    InspectionInput,
    Task,
    character_sizes,
    register_task,
)
from rnnkit.tasks.tagging.baseline import MostFrequentTag
from rnnkit.tasks.tagging.data import (
    DEFAULT_TAGS,
    MAX_PLOTTED_TAGS,
    METRIC_SCHEME,
    TaggingData,
    load_splits,
)
from rnnkit.tasks.tagging.schemes import _parses, detect_scheme, transition_violations


@register_task
class TaggingTask(Task):
    """Many-to-many aligned: a tag per token. The model section is a :class:`TaggerConfig` without
    ``vocab_size``, ``num_tags`` and ``labels`` (taken from the data); ``crf: true`` gets the detected IOB
    scheme's constraints unless ``constraints`` is given (``null`` allows every transition)."""

    name = "tagging"
    data_config = TaggingData

    def prepare(self, run_dir: Path) -> None:
        self.splits = load_splits(self.data, self.where)
        train = self.splits["train"]
        words = [self.normalize(s.tokens) for s in train]
        endings = [
            [self._ending(w, n) for w in ws for n in range(1, self.data.suffix_backoff + 1)] for ws in words
        ]
        self.vocab, self._unknown = (
            Vocab.build(words + endings, self.data.max_vocab, self.data.min_freq),
            None,
        )
        self.chars = None
        if self.data.characters:
            self.chars = character_vocab(w for s in train for w in self._words(s.tokens))
        self.column_vocabs = [
            Vocab.build([s.features[c] for s in train], None, 1) for c in self._columns(train)
        ]
        # tags of every split: a tag seen only in test (CoNLL-2000's I-LST) still has an id and a score
        self.labels = sorted({t for part in self.splits.values() for s in part for t in s.tags})
        if self.data.scheme == "auto":
            self.scheme, self.crf_constraints = detect_scheme(self.labels, train)
        elif self.data.scheme == "none":
            self.scheme = self.crf_constraints = None
        else:
            if not _parses(self.labels, self.data.scheme):
                raise ConfigError(
                    f"{self.where}: data.scheme {self.data.scheme!r}: the tags {self.labels[:8]} are not "
                    "'O' and prefixed chunk tags of that scheme"
                )
            self.scheme = self.crf_constraints = self.data.scheme
            broken = transition_violations(self.labels, train, self.data.scheme)
            if broken:
                self.crf_constraints = None
                if self.model_options.get("crf") is True and "constraints" not in self.model_options:
                    raise ConfigError(
                        f"{self.where}: data.scheme {self.data.scheme!r}: {len(broken)} training transitions "
                        f"break it ({broken[0]}), so the CRF constraints would forbid gold paths; use "
                        "scheme: auto, or model.constraints: null"
                    )
        self.save_state(run_dir)

    def _columns(self, train: list[TaggedSentence]) -> tuple[str, ...]:
        """``data.feature_columns``, checked against the data and the tag column."""
        wanted, known = self.data.feature_columns, sorted(train[0].features) if train else []
        tag = self.data.tag_column or DEFAULT_TAGS.get(self.data.dataset) or self.data.columns[-1]
        for name in wanted:
            if name == tag:
                raise ConfigError(
                    f"{self.where}: data.feature_columns: {name!r} is the tag column (the answers)"
                )
            if name not in known:
                raise ConfigError(f"{self.where}: data.feature_columns: {name!r} is not a column of the data "
                                  f"(its other columns: {known})")  # fmt: skip
        return wanted

    def state(self) -> dict[str, Any]:
        return {"vocab": self.vocab.to_dict(), "labels": self.labels, "scheme": self.scheme,
                "crf_constraints": self.crf_constraints,
                "chars": None if self.chars is None else self.chars.to_dict(),
                "columns": [vocab.to_dict() for vocab in self.column_vocabs]}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.vocab, self._unknown = Vocab.from_dict(state["vocab"]), None
        chars = state.get("chars")  # runs saved before character features have none
        self.chars = None if chars is None else Vocab.from_dict(chars, "task state: chars")
        self.column_vocabs = [Vocab.from_dict(v, "task state: columns") for v in state.get("columns", [])]
        self.labels = list(state["labels"])
        self.scheme, self.crf_constraints = state["scheme"], state["crf_constraints"]

    SUFFIX = SUFFIX

    def _ending(self, word: str, n: int) -> str:
        return self.SUFFIX + word[-n:]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of (normalized) tokens; an unknown word gets its longest known ending, else ``<unk>``."""
        return [self._id(word) for word in self.normalize(tokens)]

    def _id(self, word: str, known: bool = True) -> int:
        return backoff_id(self.vocab, word, self.data.suffix_backoff, known)

    def _unknown_ids(self, device: torch.device) -> Tensor:
        """``(V,)``: for each id, the id its word would get were it unknown (what word dropout feeds in)."""
        if getattr(self, "_unknown", None) is None or self._unknown.device != device:
            tokens = self.vocab.tokens
            ids = [
                i if i < len(SPECIALS) or t.startswith(self.SUFFIX) else self._id(t, known=False)
                for i, t in enumerate(tokens)
            ]
            self._unknown = torch.tensor(ids, device=device)
        return self._unknown

    def normalize(self, tokens: Sequence[str]) -> list[str]:
        tokens = self._words(tokens)
        return [t.lower() for t in tokens] if self.data.lowercase else tokens

    @staticmethod
    def _words(tokens: Sequence[str]) -> list[str]:
        return [unicodedata.normalize("NFC", t) for t in tokens]

    def encode_chars(self, tokens: Sequence[str]) -> list[list[int]]:
        """Each token's character ids (the first ``max_word_length``; unknown characters ``<unk>``)."""
        return encode_characters(self.chars, self._words(tokens), self.data.max_word_length)

    def encode_columns(self, columns: Sequence[Sequence[str]]) -> list[list[int]]:
        """``(T, F)`` ids of the feature columns (one sequence of values per column; unknown -> ``<unk>``)."""
        encoded = [vocab.encode(values) for vocab, values in zip(self.column_vocabs, columns)]
        return [list(step) for step in zip(*encoded)]

    def _item(self, tokens: Sequence[str], tags: list[int], columns: Sequence[Sequence[str]]) -> dict:
        item: dict[str, Any] = {"inputs": self.encode(tokens), "targets": tags}
        if self.chars is not None:
            item["chars"] = self.encode_chars(tokens)
        if self.column_vocabs:
            item["columns"] = self.encode_columns(columns)
        return item

    def _encode(self, sentences: list[TaggedSentence]) -> list[dict[str, Any]]:
        """One item per sentence: word ids, tag ids, and the character and column ids the model reads."""
        index = {label: k for k, label in enumerate(self.labels)}
        unknown = sorted({t for s in sentences for t in s.tags} - set(index))
        if unknown:
            raise ValueError(f"tags {unknown[:5]} do not occur in the data the run was prepared on "
                             f"(known: {self.labels})")  # fmt: skip
        names = self.data.feature_columns
        return [
            self._item(s.tokens, [index[t] for t in s.tags], [s.features[c] for c in names])
            for s in sentences
        ]

    @staticmethod
    def collate(items: Sequence[dict[str, Any]]) -> dict[str, Tensor]:
        """``collate_tagging`` of the words and tags, plus ``chars (B, T, L)`` and ``columns (B, T, F)`` for
        items that have them."""
        batch = collate_tagging([(item["inputs"], item["targets"]) for item in items])
        if items and "chars" in items[0]:
            batch["chars"] = pad_words([item["chars"] for item in items])
        if items and "columns" in items[0]:
            batch["columns"] = pad_batch([item["columns"] for item in items])[0]
        return batch

    def batch(
        self,
        token_lists: Sequence[Sequence[str]],
        column_lists: Sequence[Sequence[Sequence[str]]] | None = None,
    ) -> dict[str, Tensor]:
        """A batch of raw token lists (and their column values, one sequence per column) as the model reads
        them, tags all 0: ``predict`` and inspection."""
        column_lists = column_lists or [[] for _ in token_lists]
        return self.collate([self._item(t, [0] * len(t), c) for t, c in zip(token_lists, column_lists)])

    def split_text(self, text: str) -> tuple[list[str], list[list[str]]]:
        """A raw sentence -> its words and the values of each feature column (``He/PRP`` -> ``He``, ``PRP``).

        Raises:
            ValueError: the model reads columns and a word does not carry them.
        """
        return split_columns(text, self.data.feature_columns, self.data.column_separator,
                             self.data.split_punctuation)  # fmt: skip

    def loaders(self) -> tuple[Any, Any, Any]:
        if not hasattr(self, "splits"):
            self.splits = load_splits(self.data, self.where)

        def loader(sentences: list[TaggedSentence], shuffle: bool) -> DataLoader | None:
            if not sentences:
                return None
            items = self._encode(sentences)
            sizes = [len(item["inputs"]) for item in items]
            sampler = BucketBatchSampler(sizes, self.train.batch_size, shuffle=shuffle, seed=self.train.seed)
            return DataLoader(items, batch_sampler=sampler, collate_fn=self.collate)

        return (
            loader(self.splits["train"], True),
            loader(self.splits["val"], False),
            loader(self.splits["test"], False),
        )

    # ----- model --------------------------------------------------------------------------------------
    model_config_class = TaggerConfig
    DERIVED = ("vocab_size", "num_tags", "labels", "input_size", "char_vocab_size", "column_vocab_sizes")
    DATA_DEFAULTS = ("constraints",)  # the detected scheme's, with crf: true

    @classmethod
    def placeholder_sizes(cls, data: TaggingData) -> dict[str, Any]:
        return {"vocab_size": 1000, "num_tags": 3, "labels": ["O", "B-X", "I-X"],
                "char_vocab_size": 100 if data.characters else None,
                "column_vocab_sizes": [10] * len(data.feature_columns)}  # fmt: skip

    @classmethod
    def unused_fields(cls, data: TaggingData) -> tuple[str, ...]:
        columns = () if data.feature_columns else ("column_embedding_dim",)
        return (*(() if data.characters else CHARACTER_FIELDS), *columns)

    @classmethod
    def check_model_section(cls, options: dict[str, Any], data: Any, where: str = "model") -> Any:
        character_sizes(object() if data.characters else None, options, where)
        if "column_embedding_dim" in options and not data.feature_columns:
            raise ConfigError(f"{where}.column_embedding_dim: no data.feature_columns to embed")
        return super().check_model_section(options, data, where)

    def model_config(self) -> TaggerConfig:
        options, where = (
            self.expand_model_section(self.model_options, f"{self.where}: model"),
            f"{self.where}: model",
        )
        if "column_embedding_dim" in options and not self.column_vocabs:
            raise ConfigError(f"{where}.column_embedding_dim: no data.feature_columns to embed")
        sizes = {"vocab_size": len(self.vocab), "num_tags": len(self.labels), "labels": list(self.labels)}
        if "constraints" not in options:
            sizes["constraints"] = self.crf_constraints if options.get("crf") is True else None
        sizes.update(character_sizes(self.chars, options, where))
        if self.column_vocabs:
            sizes["column_vocab_sizes"] = [len(vocab) for vocab in self.column_vocabs]
        return self.build_model_config(sizes)

    def build_model(self) -> nn.Module:
        return SequenceTagger(self.model_config())

    @staticmethod
    def _loss(model: nn.Module, emissions: Tensor, batch: dict[str, Tensor]) -> Tensor:
        if model.crf is not None:  # per token, as the softmax head's cross-entropy
            return crf_negative_log_likelihood(
                model.crf, emissions, batch["targets"], batch["lengths"], "token_mean"
            )
        return masked_cross_entropy(emissions, batch["targets"])  # padded targets are -100

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        inputs = batch["inputs"]
        if model.training and self.data.word_dropout > 0:
            drop = (torch.rand(inputs.shape, device=inputs.device) < self.data.word_dropout) & (inputs != PAD)
            inputs = torch.where(drop, self._unknown_ids(inputs.device)[inputs], inputs)
        return self._loss(model, model(inputs, batch["lengths"], **self.model_extras(batch)), batch)

    def loss_units(self, batch: dict[str, Tensor]) -> int:
        return int(batch["lengths"].sum())  # both losses are means over the tokens

    def _run_batch(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple:
        """(summed loss, tokens, gold tag ids per sentence, predicted tag ids per sentence) of one batch."""
        batch = move_to_device(batch, self.device)
        emissions = model(batch["inputs"], batch["lengths"], **self.model_extras(batch))
        tokens = int(batch["lengths"].sum())
        loss = self._loss(model, emissions, batch).item() * tokens
        paths = model.decode(batch["inputs"], batch["lengths"], **self.model_extras(batch)).tolist()
        lengths, targets = batch["lengths"].tolist(), batch["targets"].tolist()
        gold = [t[:n] for n, t in zip(lengths, targets)]
        return loss, tokens, gold, [p[:n] for n, p in zip(lengths, paths)]

    @staticmethod
    def _merge_runs(records: list[tuple]) -> tuple[list[list[int]], list[list[int]], float]:
        gold, guess, loss_sum, count = [], [], 0.0, 0
        for loss, tokens, truth, path in records:
            loss_sum += loss
            count += tokens
            gold += truth
            guess += path
        return gold, guess, loss_sum / max(count, 1)

    def _run(self, model: nn.Module, loader: Any) -> tuple[list[list[int]], list[list[int]], float]:
        """Gold and predicted tag ids per sentence, and the token-weighted mean loss."""
        return self._merge_runs([self._run_batch(model, batch) for batch in loader])

    def _scores(self, gold: list[list[str]], guess: list[list[str]], prefix: str) -> dict[str, float]:
        flat = lambda lists: [t for tags in lists for t in tags]  # noqa: E731
        scores = {f"{prefix}_accuracy": accuracy(flat(gold), flat(guess))}
        if self.scheme is not None:
            chunks = chunk_f1(gold, guess, METRIC_SCHEME[self.scheme])
            scores.update({f"{prefix}_chunk_{k}": chunks[k] for k in ("f1", "precision", "recall")})
        return scores

    def _names(self, id_lists: list[list[int]]) -> list[list[str]]:
        return [[self.labels[i] for i in ids] for ids in id_lists]

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        return self.merge_evaluation([self.evaluate_batch(model, batch) for batch in loader])

    def evaluate_batch(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple:
        return self._run_batch(model, batch)

    def merge_evaluation(self, records: list[tuple]) -> dict[str, float]:
        gold, guess, loss = self._merge_runs(records)
        return {"val_loss": loss, **self._scores(self._names(gold), self._names(guess), "val")}

    def report(self, model: nn.Module) -> dict[str, Any]:
        _, _, test_loader = self.loaders()
        eval_mode(model)
        with torch.no_grad():
            gold_ids, guess_ids, loss = self._run(model, test_loader)
        test = sorted(self.splits["test"], key=len)  # the loader's order (sorted by length, ties by index)
        gold, guess = self._names(gold_ids), self._names(guess_ids)
        if [list(s.tags) for s in test] != gold:
            raise RuntimeError("tagging report: the test loader's order is not the sorted test sentences")
        train = self.splits["train"]
        base = MostFrequentTag.fit([self.normalize(s.tokens) for s in train], [s.tags for s in train])
        base_guess = [base.tag(self.normalize(s.tokens)) for s in test]
        unknown = [[t not in self.vocab for t in self.normalize(s.tokens)] for s in test]
        pairs = [
            (g, p) for s, gs, ps, us in zip(test, gold, guess, unknown) for g, p, u in zip(gs, ps, us) if u
        ]
        names = list(range(len(self.labels)))
        flat_gold, flat_guess = [t for s in gold_ids for t in s], [t for s in guess_ids for t in s]
        matrix = confusion_matrix(flat_gold, flat_guess, labels=names)
        per_tag = classification_report(flat_gold, flat_guess, labels=names, names=self.labels)
        shown = self.splits["test"][:: max(1, len(self.splits["test"]) // 5)][:5]
        columns = self.data.feature_columns
        samples = self._tag_tokens(
            model, [list(s.tokens) for s in shown], [[s.features[c] for c in columns] for s in shown]
        )
        results = {
            "test_loss": loss,
            **self._scores(gold, guess, "test"),
            "test_accuracy_unknown_words": accuracy(*zip(*pairs)) if pairs else None,
            "baseline": {
                "name": f"most frequent tag per word (unknown words: {base.default})",
                **self._scores(gold, base_guess, "test"),
            },
            "scheme": self.scheme,
            "unknown_word_rate": sum(map(sum, unknown)) / sum(map(len, unknown)),
            "sizes": {name: len(part) for name, part in self.splits.items()},
            "tokens": {name: sum(map(len, part)) for name, part in self.splits.items()},
            "per_tag": per_tag,
            "confusion_matrix": labelled_matrix(matrix, self.labels),
            "samples": [{**r, "true": list(s.tags)} for r, s in zip(samples, shown)],
        }
        if self.scheme is not None:
            results["per_chunk_type"] = chunk_f1(gold, guess, METRIC_SCHEME[self.scheme])["per_type"]
        return results

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """``confusion_matrix.png`` of the test tags, for tag sets small enough to read (60 tags at most)."""
        if len(self.labels) > MAX_PLOTTED_TAGS:
            return []
        return [plot_labelled_matrix(results["confusion_matrix"], folder / "confusion_matrix.png")]

    # ----- inference ----------------------------------------------------------------------------------
    @torch.no_grad()
    def _tag_tokens(
        self,
        model: nn.Module,
        token_lists: list[list[str]],
        column_lists: list[list[list[str]]] | None = None,
    ) -> list[dict[str, Any]]:
        eval_mode(model)
        column_lists = column_lists or [[] for _ in token_lists]
        tags: list[list[str]] = [[] for _ in token_lists]
        todo = [k for k, tokens in enumerate(token_lists) if tokens]
        for start in range(0, len(todo), 256):
            chunk = todo[start : start + 256]
            batch = self.batch([token_lists[k] for k in chunk], [column_lists[k] for k in chunk])
            batch = move_to_device(batch, self.device)
            paths = model.decode(batch["inputs"], batch["lengths"], **self.model_extras(batch)).tolist()
            for k, n, path in zip(chunk, batch["lengths"].tolist(), paths):
                tags[k] = [self.labels[i] for i in path[:n]]
        results = []
        for tokens, predicted in zip(token_lists, tags):
            result: dict[str, Any] = {"text": " ".join(tokens), "tokens": tokens, "tags": predicted}
            if self.scheme is not None:
                chunks = extract_chunks(predicted, METRIC_SCHEME[self.scheme])
                result["chunks"] = [
                    {"type": kind, "start": s, "end": e, "text": " ".join(tokens[s:e])}
                    for kind, s, e in chunks
                ]
            results.append(result)
        return results

    def parse_inputs(self, inputs: list[str]) -> list[tuple[list[str], list[list[str]]]]:
        """Each raw sentence as its words and the values of its feature columns (:meth:`split_text`).

        Raises:
            InputError: a word without the feature columns the model reads, naming the input.
        """
        parsed = []
        for number, text in enumerate(inputs, 1):
            try:
                parsed.append(self.split_text(text))
            except ValueError as error:
                raise InputError(number, str(error)) from None
        return parsed

    def encode_inputs(self, examples: list[tuple[list[str], list[list[str]]]]) -> dict[str, Tensor]:
        return self.batch([words for words, _ in examples], [columns for _, columns in examples])

    @torch.no_grad()
    def inspection_example(self, model: nn.Module, text: str) -> InspectionInput:
        eval_mode(model)
        words, columns = self.parse_inputs([text])[0]
        if not words:
            raise ValueError("the text has no words to tag")
        batch = move_to_device(self.batch([words], [columns]), next(model.parameters()).device)
        tags = model.decode(batch["inputs"], batch["lengths"], **self.model_extras(batch))
        batch["targets"] = tags
        return batch, {"rnn": words}, "predicted tags: " + " ".join(self.labels[int(t)] for t in tags[0])

    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """Tags for raw sentences, split on whitespace (and punctuation, with ``data.split_punctuation``):
        ``{"text", "tokens", "tags"}`` each, plus ``"chunks"`` (type, start, end, text) for IOB tags.
        With ``data.feature_columns`` each word carries its columns (``He/PRP``); tokens are the words.

        Raises:
            ValueError: a word without the feature columns the model reads, naming the input line.
        """
        parsed = self.parse_inputs(inputs)
        results = self._tag_tokens(model, [w for w, _ in parsed], [c for _, c in parsed])
        for result, text in zip(results, inputs):
            result["text"] = text
        return results
