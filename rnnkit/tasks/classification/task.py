"""Classification: the Task: encoding, model, loss, metrics, artefacts and prediction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.data.batching import BucketBatchSampler, collate_classification, move_to_device, pad_words
from rnnkit.data.records import TextExample
from rnnkit.data.tokenizers import Tokenizer, build_tokenizer, takes_lowercase, tokenizer_from_dict
from rnnkit.data.vocab import SPECIALS, Vocab, character_vocab, encode_characters
from rnnkit.losses import masked_cross_entropy
from rnnkit.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    labelled_matrix,
    macro_f1,
)
from rnnkit.models.classifier import CONV_LSTM, ClassifierConfig, SequenceClassifier
from rnnkit.models.modes import eval_mode
from rnnkit.plots.charts import plot_labelled_matrix
from rnnkit.tasks.base import CHARACTER_FIELDS, Task, character_sizes, nest_flat_keys, register_task
from rnnkit.tasks.classification.baseline import cached_tfidf_baseline, majority_baseline
from rnnkit.tasks.classification.data import ClassificationData, load_splits


def classify_batch(model: nn.Module, batch: dict[str, Any], device: torch.device) -> tuple:
    """(summed cross-entropy, examples, true classes, predicted classes) of one batch."""
    batch = move_to_device(batch, device)
    logits = model(batch["inputs"], batch["lengths"], **Task.model_extras(batch))
    loss = masked_cross_entropy(logits, batch["targets"]).item() * len(logits)
    return loss, len(logits), batch["targets"].tolist(), logits.argmax(-1).tolist()


def merge_classified(records: Sequence[tuple]) -> tuple[list[int], list[int], float]:
    """(true classes, predicted classes, mean cross-entropy) of :func:`classify_batch` records, in order."""
    truth, guess, loss_sum, count = [], [], 0.0, 0
    for loss, items, true, predicted in records:
        loss_sum += loss
        count += items
        truth += true
        guess += predicted
    return truth, guess, loss_sum / max(count, 1)


def classify_batches(
    model: nn.Module, loader: Any, device: torch.device
) -> tuple[list[int], list[int], float]:
    """(true classes, predicted classes, mean cross-entropy) of a classifier over ``collate_classification``
    batches; shared by the text and the series classification tasks."""
    return merge_classified([classify_batch(model, batch, device) for batch in loader])


class ClassifierMethods:
    """Training and evaluating a :class:`SequenceClassifier` on ``collate_classification`` batches: what the
    text and the series classification tasks share once their ``model_config()`` is known."""

    def build_model(self) -> nn.Module:
        return SequenceClassifier(self.model_config())

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        logits = model(batch["inputs"], batch["lengths"], **self.model_extras(batch))
        return masked_cross_entropy(logits, batch["targets"])

    def _predictions(self, model: nn.Module, loader: Any) -> tuple[list[int], list[int], float]:
        return classify_batches(model, loader, self.device)

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        return self.merge_evaluation([self.evaluate_batch(model, batch) for batch in loader])

    def evaluate_batch(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple:
        return classify_batch(model, batch, self.device)

    def merge_evaluation(self, records: list[tuple]) -> dict[str, float]:
        truth, guess, loss = merge_classified(records)
        return {
            "val_loss": loss,
            "val_accuracy": accuracy(truth, guess),
            "val_macro_f1": macro_f1(truth, guess, labels=list(range(len(self.labels)))),
        }


@register_task
class ClassificationTask(ClassifierMethods, Task):
    """Many-to-one: a label per text. The model section is a :class:`ClassifierConfig` without
    ``vocab_size``/``num_classes`` (taken from the data), or ``preset: conv_lstm`` with the keyword
    arguments of :meth:`ClassifierConfig.conv_lstm` (the Embedding-Conv1D-MaxPool1D-LSTM classic)."""

    name = "classification"
    data_config = ClassificationData

    # ----- data ---------------------------------------------------------------------------------------
    def prepare(self, run_dir: Path) -> None:
        self.splits = load_splits(self.data)
        texts = [e.text for e in self.splits["train"]]
        options: dict[str, Any] = {}
        if takes_lowercase(self.data.tokenizer):
            options["lowercase"] = self.data.lowercase
        elif self.data.tokenizer in ("bpe", "unigram"):
            options.update(texts=texts, vocab_size=self.data.subword_vocab_size)
        self.tokenizer: Tokenizer = build_tokenizer(self.data.tokenizer, **options)
        self.vocab = Vocab.build((self.tokens(t) for t in texts), self.data.max_vocab, self.data.min_freq)
        self.chars = None
        if self.data.characters:
            self.chars = character_vocab(token for t in texts for token in self.tokens(t))
        self.labels = sorted({e.label for e in self.splits["train"]})
        self.save_state(run_dir)

    def state(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.to_dict(), "vocab": self.vocab.to_dict(), "labels": self.labels,
                "chars": None if self.chars is None else self.chars.to_dict()}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.tokenizer = tokenizer_from_dict(state["tokenizer"])
        self.__dict__.pop("_token_cache", None)  # tokens of another tokenizer
        self.vocab = Vocab.from_dict(state["vocab"])
        chars = state.get("chars")  # runs saved before character features have none
        self.chars = None if chars is None else Vocab.from_dict(chars, "task state: chars")
        self.labels = list(state["labels"])

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text``, computed once per text (morpheme analysis is the slow part of a run)."""
        cache = self.__dict__.setdefault("_token_cache", {})
        if text not in cache:
            cache[text] = self.tokenizer.tokenize(text)
        return cache[text]

    def encode(self, text: str) -> list[int]:
        ids = self.vocab.encode(self.tokens(text))[: self.data.max_length]
        return ids or [self.vocab.encode(["<unk>"])[0]]  # an empty text still has one step

    def encode_chars(self, text: str) -> list[list[int]]:
        """The character ids of each token :meth:`encode` keeps (the first ``max_word_length`` of each);
        ``[[]]`` for a text without tokens (its one ``<unk>`` step has no characters)."""
        tokens = self.tokens(text)[: self.data.max_length]
        return encode_characters(self.chars, tokens, self.data.max_word_length) or [[]]

    def _item(self, text: str, label: int) -> tuple:
        if self.chars is None:
            return self.encode(text), label
        return self.encode(text), label, self.encode_chars(text)

    def _dataset(self, examples: list[TextExample]) -> list[tuple]:
        """``(ids, label)`` per example, plus the character ids with character features."""
        index = {label: k for k, label in enumerate(self.labels)}
        unknown = sorted({e.label for e in examples} - set(index))
        if unknown:
            raise ValueError(f"labels {unknown[:5]} do not occur in the training data (known: {self.labels})")
        return [self._item(e.text, index[e.label]) for e in examples]

    @staticmethod
    def collate(items: Sequence[tuple]) -> dict[str, Tensor]:
        """``collate_classification`` of the ``(ids, label)``, plus ``chars (B, T, L)`` if items have them."""
        batch = collate_classification([item[:2] for item in items])
        if items and len(items[0]) == 3:
            batch["chars"] = pad_words([item[2] for item in items])
        return batch

    def batch(self, texts: Sequence[str]) -> dict[str, Tensor]:
        """Raw texts as the model reads them (labels all 0): ``predict`` and inspection."""
        return self.collate([self._item(text, 0) for text in texts])

    def loaders(self) -> tuple[Any, Any, Any]:
        if not hasattr(self, "splits"):
            self.splits = load_splits(self.data)
        size = self.train.batch_size

        def loader(examples: list[TextExample], shuffle: bool) -> DataLoader | None:
            if not examples:
                return None
            items = self._dataset(examples)
            sampler = BucketBatchSampler(
                [len(item[0]) for item in items], size, shuffle=shuffle, seed=self.train.seed
            )
            return DataLoader(items, batch_sampler=sampler, collate_fn=self.collate)

        return (
            loader(self.splits["train"], True),
            loader(self.splits["val"], False),
            loader(self.splits["test"], False),
        )

    # ----- the default recipe -------------------------------------------------------------------------
    @classmethod
    def default_recipe(cls, config: Any, where: str = "config") -> tuple[Any, list[Any]]:
        """Tokenizer, model size, regularisation and schedule chosen from the training split
        (:mod:`rnnkit.tasks.classification.recipe`) for every key the config does not give."""
        from rnnkit.tasks.classification.recipe import default_recipe

        return default_recipe(config, where)

    # ----- model --------------------------------------------------------------------------------------
    model_config_class = ClassifierConfig
    DERIVED = ("vocab_size", "num_classes", "input_size", "char_vocab_size")
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"conv_lstm": CONV_LSTM}

    @classmethod
    def legacy_preset_keys(cls, preset: str, options: dict[str, Any]) -> dict[str, Any]:
        """``preset: conv_lstm``'s older flat keys (``channels``, ``kernel_sizes``, ``pool_size`` of the
        front-end; ``hidden_size``, ``bidirectional`` of the LSTM), as run folders of earlier versions hold
        them, moved into ``conv`` and ``rnn``."""
        return nest_flat_keys(options, {"conv": ("channels", "kernel_sizes", "pool_size"),
                                        "rnn": ("hidden_size", "bidirectional")})  # fmt: skip

    @classmethod
    def placeholder_sizes(cls, data: ClassificationData) -> dict[str, Any]:
        return {"vocab_size": 1000, "num_classes": 2, "char_vocab_size": 100 if data.characters else None}

    @classmethod
    def unused_fields(cls, data: ClassificationData) -> tuple[str, ...]:
        return () if data.characters else CHARACTER_FIELDS

    @classmethod
    def check_model_section(cls, options: dict[str, Any], data: Any, where: str = "model") -> Any:
        character_sizes(object() if data.characters else None, options, where)
        return super().check_model_section(options, data, where)

    def build_model(self) -> nn.Module:
        """The classifier; with ``data.embeddings``, its embedding filled from the pretrained vectors
        (the share of the vocabulary found is kept in ``self.vector_coverage`` and reported)."""
        model = SequenceClassifier(self.model_config())
        self.vector_coverage = None
        if self.data.embeddings is not None:
            words = self.vocab.tokens
            generator = torch.Generator().manual_seed(self.train.seed)
            found = model.load_word_vectors(self.data.embeddings, words, generator)
            real = max(len(words) - len(SPECIALS), 1)  # <pad> <unk> <bos> <eos>: in no vector set
            self.vector_coverage = {"source": self.data.embeddings, "found": found, "vocabulary": real,
                                    "oov_rate": round(1 - found / real, 4)}  # fmt: skip
        return model

    def model_config(self) -> ClassifierConfig:
        sizes = {"vocab_size": len(self.vocab), "num_classes": len(self.labels)}
        sizes.update(character_sizes(self.chars, self.model_options, f"{self.where}: model"))
        return self.build_model_config(sizes)

    def report(self, model: nn.Module) -> dict[str, Any]:
        _, _, test_loader = self.loaders()
        eval_mode(model)
        with torch.no_grad():
            truth, guess, loss = self._predictions(model, test_loader)
        names = list(range(len(self.labels)))
        matrix = confusion_matrix(truth, guess, labels=names)
        shown = self.splits["test"][:: max(1, len(self.splits["test"]) // 5)][:5]  # spread over the labels
        samples = self.predict(model, [e.text for e in shown])
        scores = {
            "test_accuracy": accuracy(truth, guess),
            "test_macro_f1": macro_f1(truth, guess, labels=names),
        }
        baselines = self.baselines(scores)
        return {
            "test_loss": loss,
            **scores,
            "baseline": baselines["majority"],
            "baselines": baselines,
            "sizes": {split: len(examples) for split, examples in self.splits.items()},
            **({"embeddings": self.vector_coverage} if getattr(self, "vector_coverage", None) else {}),
            "per_class": classification_report(truth, guess, labels=names, names=self.labels),
            "confusion_matrix": labelled_matrix(matrix, self.labels),
            "samples": [{**s, "true": e.label} for s, e in zip(samples, shown)],
        }

    def baselines(self, scores: dict[str, float]) -> dict[str, dict[str, Any]]:
        """The majority class and (``data.tfidf_baseline``, with scikit-learn) TF-IDF + logistic regression,
        on the task's own train / validation / test split; each with ``gap``: the model's ``scores`` minus
        the baseline's, per metric they share (positive: the model is better)."""
        train, test = self.splits["train"], self.splits["test"]
        out = {"majority": majority_baseline([e.label for e in train], [e.label for e in test])}
        if self.data.tfidf_baseline:
            splits = {name: self.splits[name] for name in ("train", "val", "test")}
            tfidf = cached_tfidf_baseline({k: [(e.text, e.label) for e in v] for k, v in splits.items()})
            if tfidf is not None:
                out["tfidf_logistic_regression"] = tfidf
        for record in out.values():
            record["gap"] = {k: round(v - record[k], 4) for k, v in scores.items() if k in record}
        return out

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """``confusion_matrix.png`` of the test results."""
        return [plot_labelled_matrix(results["confusion_matrix"], folder / "confusion_matrix.png")]

    # ----- inputs -------------------------------------------------------------------------------------
    def encode_inputs(self, examples: list[str]) -> dict[str, Tensor]:
        return self.batch(examples)

    @torch.no_grad()
    def inspection_example(
        self, model: nn.Module, text: str
    ) -> tuple[dict[str, Tensor], dict[str, list[str]], str]:
        eval_mode(model)
        batch = move_to_device(self.batch([text]), next(model.parameters()).device)
        probabilities = model(batch["inputs"], batch["lengths"], **self.model_extras(batch)).softmax(-1)[0]
        best = int(probabilities.argmax())
        batch["targets"] = torch.tensor([best], device=batch["inputs"].device)
        shown = self.tokens(text)[: batch["inputs"].size(1)] or ["<unk>"]
        return batch, {"rnn": shown}, f"predicted: {self.labels[best]} (p = {probabilities[best]:.3f})"

    PREDICT_OPTIONS: ClassVar[dict[str, str]] = {"top_k": "also list the k most likely labels per text"}

    @torch.no_grad()
    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """The most likely label of each text with its probability; with ``data.top_k`` > 1 also ``top``:
        the k most likely labels, most likely first."""
        eval_mode(model)
        results, k = [], min(self.data.top_k, len(self.labels))
        for start in range(0, len(inputs), 256):
            chunk = inputs[start : start + 256]
            batch = move_to_device(self.batch(chunk), self.device)
            probs = model.predict_proba(batch["inputs"], batch["lengths"], **self.model_extras(batch)).cpu()
            for text, p in zip(chunk, probs):
                best = int(p.argmax())
                result = {"text": text, "label": self.labels[best], "probability": round(float(p[best]), 4)}
                if k > 1:
                    values, ids = p.topk(k)
                    result["top"] = [{"label": self.labels[int(i)], "probability": round(float(v), 4)}
                                     for v, i in zip(values, ids)]  # fmt: skip
                results.append(result)
        return results
