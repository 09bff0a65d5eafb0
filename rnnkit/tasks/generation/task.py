"""Generation: the Task: encoding, model, loss, validation, prediction and inspection (the test report is
in :mod:`rnnkit.tasks.generation.report`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError
from rnnkit.data.batching import IGNORE_INDEX, BucketBatchSampler, move_to_device, pad_batch
from rnnkit.data.tokenizers import Tokenizer, build_tokenizer, tokenizer_from_dict
from rnnkit.data.vocab import BOS, EOS, Vocab
from rnnkit.losses import masked_cross_entropy
from rnnkit.metrics import perplexity
from rnnkit.models.generator import GeneratorConfig, SequenceGenerator
from rnnkit.models.modes import eval_mode
from rnnkit.tasks.base import InputError, InspectionInput, Task, register_task
from rnnkit.tasks.generation.data import GenerationData, load_splits, parse_numbers
from rnnkit.tasks.generation.report import ReportMethods
from rnnkit.tasks.generation.scores import model_inputs, score_texts

# a raw input: the condition (a class id, or the scaled feature vector) and the start of a text, if given
Condition = tuple[Any, "str | None"]


@register_task
class GenerationTask(ReportMethods, Task):
    """One-to-many: a text from a class label or from a feature vector (the captioning pattern). The model
    section is a :class:`GeneratorConfig` without the sizes the data decide (``vocab_size``, and
    ``num_classes`` or ``condition_size``)."""

    name = "generation"
    data_config = GenerationData

    # ----- data ---------------------------------------------------------------------------------------
    def examples(self) -> dict[str, list[Any]]:
        """The train / val / test examples (read once); the test split cut to ``data.eval_max_texts``."""
        if not hasattr(self, "splits"):
            splits = load_splits(self.data, self.where)
            splits["test"] = splits["test"][: self.data.eval_max_texts]
            self.splits = splits
        return self.splits

    def prepare(self, run_dir: Path) -> None:
        splits, data = self.examples(), self.data
        texts = [e.text for e in splits["train"]]
        options: dict[str, Any] = {}
        if data.tokenizer in ("char", "word"):
            options["lowercase"] = data.lowercase
        elif data.tokenizer in ("bpe", "unigram"):
            options.update(texts=texts, vocab_size=data.subword_vocab_size)
        self.tokenizer: Tokenizer = build_tokenizer(data.tokenizer, **options)
        self.vocab = Vocab.build((self.tokenizer.tokenize(t) for t in texts), data.max_vocab, data.min_freq)
        self.labels: list[str] | None = None
        self.mean = self.std = None
        if data.mode == "class":
            self.labels = sorted({e.label for e in splits["train"]})
            if data.judge is not None:
                self.run_judge()  # a wrong folder fails now, before the training
        else:
            sizes = {name: {len(e.features) for e in part} for name, part in splits.items()}
            size = next(iter(sizes["train"]))
            if any(s != {size} for s in sizes.values() if s):
                raise ConfigError(f"{self.where}: data: feature sizes differ between the splits: {sizes}")
            features = np.stack([e.features for e in splits["train"]]).astype(np.float64)
            mean, std = features.mean(0), features.std(0)
            if not data.standardize:
                mean, std = np.zeros(size), np.ones(size)
            self.mean, self.std = mean.tolist(), np.where(std > 1e-8, std, 1.0).tolist()
        self.save_state(run_dir)

    def state(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.to_dict(), "vocab": self.vocab.to_dict(), "labels": self.labels,
                "feature_mean": self.mean, "feature_std": self.std}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.tokenizer = tokenizer_from_dict(state["tokenizer"])
        self.vocab = Vocab.from_dict(state["vocab"])
        self.labels = None if state["labels"] is None else [str(label) for label in state["labels"]]
        self.mean, self.std = state["feature_mean"], state["feature_std"]

    @property
    def mode(self) -> str:
        return self.data.mode

    def ids(self, text: str) -> list[int]:
        """The token ids of a text (the first ``data.max_length``), without ``<bos>`` / ``<eos>``."""
        return self.vocab.encode(self.tokens(text))

    def scale(self, features: Any) -> np.ndarray:
        """Features as the model reads them: standardized with the training mean and deviation."""
        return ((np.asarray(features, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def condition_of(self, example: Any) -> Any:
        """An example's condition: its class id, or its scaled feature vector."""
        if self.mode == "class":
            if example.label not in self._label_index:
                raise ValueError(f"label {example.label!r} does not occur in the training data "
                                 f"(known: {self.labels})")  # fmt: skip
            return self._label_index[example.label]
        return self.scale(example.features)

    @property
    def _label_index(self) -> dict[str, int]:
        return {label: k for k, label in enumerate(self.labels or [])}

    def collate(self, items: Sequence[tuple[list[int], Any]]) -> dict[str, Tensor]:
        """``(ids, condition)`` items -> ``inputs`` (<bos> + ids), ``targets`` (ids + <eos>, padded with
        ``IGNORE_INDEX``), ``lengths`` and ``labels (B,)`` or ``condition (B, C)``.

        Example:
            >>> task = GenerationTask(GenerationData(condition="class"), {}, None)
            >>> batch = task.collate([([5, 6], 1), ([7], 0)])
            >>> batch["inputs"].tolist(), batch["targets"].tolist(), batch["labels"].tolist()
            ([[2, 5, 6], [2, 7, 0]], [[5, 6, 3], [7, 3, -100]], [1, 0])
        """
        inputs, lengths = pad_batch([[BOS, *ids] for ids, _ in items])
        targets, _ = pad_batch([[*ids, EOS] for ids, _ in items], pad_value=IGNORE_INDEX)
        batch = {"inputs": inputs, "targets": targets, "lengths": lengths}
        conditions = [c for _, c in items]
        if self.mode == "class":
            batch["labels"] = torch.tensor(conditions, dtype=torch.long)
        else:
            batch["condition"] = torch.from_numpy(np.stack(conditions))  # (B, C)
        return batch

    def loader(self, examples: list[Any], shuffle: bool) -> DataLoader | None:
        if not examples:
            return None
        items = [(self.ids(e.text), self.condition_of(e)) for e in examples]
        sampler = BucketBatchSampler([len(ids) for ids, _ in items], self.train.batch_size, shuffle=shuffle,
                                     seed=self.train.seed)  # fmt: skip
        return DataLoader(items, batch_sampler=sampler, collate_fn=self.collate)

    def ordered_batches(self, examples: list[Any]) -> list[dict[str, Tensor]]:
        """``examples`` in their own order, ``train.batch_size`` a batch (the report's scoring)."""
        size = self.train.batch_size
        return [self.collate([(self.ids(e.text), self.condition_of(e)) for e in examples[i : i + size]])
                for i in range(0, len(examples), size)]  # fmt: skip

    def tokens(self, text: str) -> list[str]:
        """The tokens of a text, the first ``data.max_length``."""
        return self.tokenizer.tokenize(text)[: self.data.max_length]

    def features(self, examples: list[Any]) -> Tensor:
        """``(N, C)`` the scaled feature vectors of caption examples."""
        return torch.from_numpy(np.stack([self.scale(e.features) for e in examples]))

    def loaders(self) -> tuple[Any, Any, Any]:
        splits = self.examples()
        return (self.loader(splits["train"], True), self.loader(splits["val"], False),
                self.loader(splits["test"], False))  # fmt: skip

    # ----- model --------------------------------------------------------------------------------------
    model_config_class = GeneratorConfig
    DERIVED = ("vocab_size", "bos_id", "eos_id", "pad_id", "condition_size", "num_classes")

    @classmethod
    def placeholder_sizes(cls, data: GenerationData) -> dict[str, Any]:
        return {"vocab_size": 1000, **({"num_classes": 2} if data.mode == "class" else {"condition_size": 8})}

    @classmethod
    def unused_fields(cls, data: GenerationData) -> tuple[str, ...]:
        return ("condition_size",) if data.mode == "class" else ("num_classes",)

    def model_config(self) -> GeneratorConfig:
        sizes = {"vocab_size": len(self.vocab)}
        if self.mode == "class":
            sizes["num_classes"] = len(self.labels)
        else:
            sizes["condition_size"] = len(self.mean)
        return self.build_model_config(sizes)

    def build_model(self) -> nn.Module:
        return SequenceGenerator(self.model_config())

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        logits, _ = model(batch["inputs"], batch["lengths"], **model_inputs(batch))
        return masked_cross_entropy(logits, batch["targets"], batch["lengths"])

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        """``val_loss`` (nats per token), ``val_perplexity`` and, for captions, ``val_exact_match``
        (greedy decoding, token ids compared)."""
        device = next(model.parameters()).device
        nlls, counts, _ = score_texts(model, loader, device)
        metrics = {"val_loss": sum(nlls) / sum(counts), "val_perplexity": perplexity(sum(nlls), sum(counts))}
        if self.mode == "vector":
            hits = total = 0
            for batch in loader:
                batch = move_to_device(batch, device)
                guesses = self.decode(model, condition=batch["condition"], strategy="greedy")
                for guess, target in zip(guesses, batch["targets"].tolist()):
                    hits += guess == target[: target.index(EOS)]
                    total += 1
            metrics["val_exact_match"] = hits / max(total, 1)
        return metrics

    # ----- generation ---------------------------------------------------------------------------------
    def decode(self, model: nn.Module, labels: Tensor | None = None, condition: Tensor | None = None,
               prompt: list[int] | None = None, strategy: str | None = None, seed: int | None = None
               ) -> list[list[int]]:  # fmt: skip
        """Token ids generated for each row of ``labels`` / ``condition`` (``<eos>`` cut), with the
        options of ``data.generation`` (``strategy`` and ``seed`` override them); every row continues
        ``<bos>`` + ``prompt``."""
        g = self.data.generation
        strategy = strategy or g.resolved(self.mode)
        options: dict[str, Any] = {"strategy": strategy}
        if strategy == "sample":
            options.update(temperature=g.temperature, top_k=g.top_k, seed=g.seed if seed is None else seed)
        elif strategy == "beam":
            options["beam_size"] = g.beam_size
        rows = (labels if labels is not None else condition).size(0)
        device = next(model.parameters()).device
        start = torch.tensor([[BOS, *(prompt or [])]] * rows, dtype=torch.long, device=device)
        out = model.generate(start, g.max_new_tokens, labels=labels, condition=condition, **options)
        tokens, lengths = out.tokens.tolist(), out.lengths.tolist()
        return [[t for t in row[:n] if t != EOS] for row, n in zip(tokens, lengths)]

    def text_of(self, ids: Sequence[int]) -> str:
        return self.tokenizer.detokenize(self.vocab.decode(ids))

    def condition_tensors(self, condition: Any, rows: int, device: torch.device) -> dict[str, Tensor]:
        """``labels`` or ``condition`` for ``rows`` copies of one condition, on ``device``."""
        if self.mode == "class":
            return {"labels": torch.full((rows,), int(condition), dtype=torch.long, device=device)}
        vector = torch.as_tensor(condition, dtype=torch.float32, device=device)
        return {"condition": vector.unsqueeze(0).expand(rows, -1).contiguous()}

    # ----- inputs -------------------------------------------------------------------------------------
    def parse_inputs(self, inputs: list[str]) -> list[Condition]:
        """Each input: a class label (class conditioning) or a feature vector (a JSON list, or numbers
        separated by commas or spaces), optionally followed by ``": "`` and the start of a text.

        Raises:
            InputError: an unknown label or a vector of the wrong size, naming the input.
        """
        return [self._parse(raw, k) for k, raw in enumerate(inputs, 1)]

    def _parse(self, raw: str, number: int) -> Condition:
        raw = raw.strip()
        if self.mode == "class":
            index = self._label_index
            if raw in index:
                return index[raw], None
            head, sep, text = raw.partition(":")
            if sep and head.strip() in index:
                return index[head.strip()], text.strip() or None
            raise InputError(number, f"expected a class label (one of {self.labels}), optionally followed "
                                     f"by ': ' and the start of a text, got {raw[:60]!r}")  # fmt: skip
        head, sep, text = raw.partition(":")
        try:
            values = parse_numbers(head, "the features")
        except ValueError as error:
            raise InputError(number, f"{error}: give {len(self.mean)} numbers (a JSON list, or separated by "
                                     "commas or spaces), optionally followed by ': ' and a caption's start"
                             ) from None  # fmt: skip
        if len(values) != len(self.mean):
            raise InputError(number, f"expected {len(self.mean)} features, got {len(values)}")
        return self.scale(values), (text.strip() or None) if sep else None

    def encode_inputs(self, examples: list[Condition]) -> dict[str, Tensor]:
        """Conditions with their texts (None: the empty text) as one teacher-forcing batch."""
        return self.collate([(self.ids(text or ""), condition) for condition, text in examples])

    def describe(self, condition: Any) -> str:
        if self.mode == "class":
            return f"class {self.labels[int(condition)]}"
        return f"a vector of {len(condition)} features"

    def describe_example(self, batch: dict[str, Tensor]) -> str:
        if "labels" in batch:
            return f"class: {self.labels[int(batch['labels'][0])]}"
        target = batch["targets"][0].tolist()
        return f"caption: {self.text_of(target[: target.index(EOS)] if EOS in target else target)}"

    @torch.no_grad()
    def inspection_example(self, model: nn.Module, text: str) -> InspectionInput:
        """The input's text (``LABEL: TEXT``), or the model's own text for the condition (``LABEL``),
        teacher-forced: the loss is the NLL of that text under the condition."""
        (condition, given), = self.parse_inputs([text])  # fmt: skip
        device = next(model.parameters()).device
        if given is None:
            given = self.text_of(self.decode(model, **self.condition_tensors(condition, 1, device))[0])
            origin = "the model's own text"
        else:
            origin = "the given text"
        batch = move_to_device(self.encode_inputs([(condition, given)]), device)
        return batch, self.batch_tokens(batch), f"{self.describe(condition)}, {origin}: {given[:80]!r}"

    PREDICT_OPTIONS: ClassVar[dict[str, str]] = {
        "generation.strategy": "auto, sample, greedy or beam",
        "generation.temperature": "> 0; below 1 sharpens the distribution (sample)",
        "generation.top_k": "sample among the k most likely tokens only (sample)",
        "generation.beam_size": "beams (beam)",
        "generation.seed": "the sampling seed: the same input and seed give the same texts",
        "generation.max_new_tokens": "tokens per text at most",
        "generation.count": "texts per input",
    }

    @torch.no_grad()
    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """``data.generation.count`` texts per input (continuing its text, if given), each input on its
        own, so its texts do not depend on the other inputs (seeded)."""
        eval_mode(model)
        device, count, results = next(model.parameters()).device, self.data.generation.count, []
        for raw, (condition, given) in zip(inputs, self.parse_inputs(inputs)):
            prompt = self.ids(given) if given else []
            rows = self.decode(model, prompt=prompt, **self.condition_tensors(condition, count, device))
            texts = [self.text_of(prompt + ids) for ids in rows]
            head = (
                {"label": self.labels[int(condition)]}
                if self.mode == "class"
                else {"input": raw.strip()[:80]}
            )
            results.append({**head, "text": texts[0], "texts": texts})
        return results

    # ----- the user's judge ---------------------------------------------------------------------------
    def run_judge(self) -> Any:
        """The classification run of ``data.judge`` (loaded once), or None."""
        if self.data.judge is None:
            return None
        if not hasattr(self, "_run_judge"):
            from rnnkit.tasks.generation.judge import RunJudge

            self._run_judge = RunJudge(self.data.judge, self.labels, self.train.device)
        return self._run_judge
