"""Language model: the Task: encoding, model, loss, metrics, artefacts and prediction."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError, atomic_write_text
from rnnkit.data.batching import IGNORE_INDEX, move_to_device, pad_batch
from rnnkit.data.tokenizers import Tokenizer, build_tokenizer, tokenizer_from_dict
from rnnkit.data.vocab import Vocab
from rnnkit.losses import masked_cross_entropy
from rnnkit.metrics import bits_per_character, perplexity
from rnnkit.models.generator import GeneratorConfig, SequenceGenerator
from rnnkit.models.modes import eval_mode
from rnnkit.tasks.base import InspectionInput, Task, register_task
from rnnkit.tasks.language_model.baseline import unigram_bits
from rnnkit.tasks.language_model.batches import (
    ChunkSampler,
    _Chunks,
    collate_chunks,
    score_streams,
    stream_batches,
)
from rnnkit.tasks.language_model.data import (
    LanguageModelData,
    load_text_splits,
)


@register_task
class LanguageModelTask(Task):
    """Next-token prediction on plain text. The model section is a :class:`GeneratorConfig` without
    ``vocab_size`` (taken from the data); the model is unconditioned."""

    name = "language_model"
    data_config = LanguageModelData

    # ----- data ---------------------------------------------------------------------------------------
    def texts(self) -> dict[str, str]:
        if not hasattr(self, "_texts"):
            self._texts = load_text_splits(self.data)
            self._ids: dict[str, Tensor] = {}
        return self._texts

    def prepare(self, run_dir: Path) -> None:
        train = self.texts()["train"]
        options: dict[str, Any] = {"lowercase": self.data.lowercase}
        if self.data.tokenizer == "bpe":
            lines = train.splitlines(keepends=True)  # with their "\n": a newline must be a piece, not <unk>
            options = {"texts": lines, "vocab_size": self.data.subword_vocab_size}
        self.tokenizer: Tokenizer = build_tokenizer(self.data.tokenizer, **options)
        tokens = self.tokenizer.tokenize(train)
        self.vocab = Vocab.build([tokens], self.data.max_vocab, self.data.min_freq)
        ids = self._ids["train"] = torch.tensor(self.vocab.encode(tokens), dtype=torch.long)
        counts = Counter(ids.tolist())
        self.unigram_counts = [counts.get(k, 0) for k in range(len(self.vocab))]
        self.save_state(run_dir)

    def state(self) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer.to_dict(),
            "vocab": self.vocab.to_dict(),
            "unigram_counts": self.unigram_counts,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.tokenizer = tokenizer_from_dict(state["tokenizer"])
        self.vocab = Vocab.from_dict(state["vocab"])
        self.unigram_counts = list(state["unigram_counts"])

    def ids(self, split: str) -> Tensor:
        """The token ids of a split; val and test cut to ``eval_max_tokens`` scored tokens."""
        texts = self.texts()
        if split not in self._ids:
            ids = self.vocab.encode(self.tokenizer.tokenize(texts[split]))
            cap = self.data.eval_max_tokens
            kept = ids if split == "train" or cap is None else ids[: cap + 1]
            self._ids[split] = torch.tensor(kept, dtype=torch.long)
        return self._ids[split]

    def eval_batches(self, split: str) -> list[dict[str, Tensor]]:
        ids = self.ids(split)
        if len(ids) < 2:
            raise ValueError(
                f"data: the {split} text has {len(ids)} token(s), too few to score; give more text or a "
                f"larger data.{split}_fraction"
            )
        return stream_batches(ids, self.train.batch_size, self.data.bptt)

    def loaders(self) -> tuple[Any, Any, Any]:
        ids, data = self.ids("train"), self.data
        sampler = ChunkSampler(
            len(ids), data.bptt, self.train.batch_size, data.chunks, data.chunks_per_epoch, data.stride,
            seed=self.train.seed,
        )  # fmt: skip
        train = DataLoader(_Chunks(ids, data.bptt), batch_sampler=sampler, collate_fn=collate_chunks)
        return train, self.eval_batches("val"), self.eval_batches("test")

    # ----- model --------------------------------------------------------------------------------------
    model_config_class = GeneratorConfig
    DERIVED = ("vocab_size", "bos_id", "eos_id", "pad_id")

    @classmethod
    def placeholder_sizes(cls, data: Any) -> dict[str, Any]:
        return {"vocab_size": 1000}

    @classmethod
    def unused_fields(cls, data: Any) -> tuple[str, ...]:
        return ("condition_size", "condition_mode", "num_classes")  # plain text: unconditioned

    @classmethod
    def check_model_section(cls, options: dict[str, Any], data: Any, where: str = "model") -> Any:
        for name in ("condition_size", "num_classes"):
            if options.get(name) is not None:
                raise ConfigError(f"{where}.{name}: a language model of plain text is unconditioned")
        return super().check_model_section(options, data, where)

    def model_config(self) -> GeneratorConfig:
        self.check_model_section(self.model_options, self.data, f"{self.where}: model")
        return self.build_model_config({"vocab_size": len(self.vocab)})

    def build_model(self) -> nn.Module:
        return SequenceGenerator(self.model_config())

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        logits, _ = model(batch["inputs"], batch["lengths"])
        return masked_cross_entropy(logits, batch["targets"], batch["lengths"])

    def loss_units(self, batch: dict[str, Tensor]) -> int:
        return int(batch["lengths"].sum())  # the loss is a mean over the scored tokens

    # ----- evaluation ---------------------------------------------------------------------------------
    def metrics(self, prefix: str, nll: float, count: int) -> dict[str, float]:
        out = {f"{prefix}_loss": nll / count, f"{prefix}_perplexity": perplexity(nll, count)}
        if self.data.tokenizer == "char":
            out[f"{prefix}_bpc"] = bits_per_character(nll, count)
        return out

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        return self.metrics("val", *score_streams(model, loader))

    def report(self, model: nn.Module) -> dict[str, Any]:
        eval_mode(model)
        device = next(model.parameters()).device
        with torch.no_grad():
            nll, count = score_streams(model, (move_to_device(b, device) for b in self.eval_batches("test")))
        unit = "char" if self.data.tokenizer == "char" else "token"
        test_bits = unigram_bits(self.unigram_counts, self.ids("test")[1:])
        baseline: dict[str, Any] = {
            "name": f"unigram (training {unit} frequencies)",
            "train_entropy_bits": unigram_bits(self.unigram_counts),
            "test_perplexity": 2.0**test_bits,
        }
        if unit == "char":
            baseline["test_bpc"] = test_bits
        sample = self.continue_text(model, self.data.generation.prompt)
        texts = self.texts()
        return {
            **self.metrics("test", nll, count),
            "baseline": baseline,
            "sizes": {
                **{f"{split}_chars": len(text) for split, text in texts.items()},
                "train_tokens": len(self.ids("train")),
                "vocab": len(self.vocab),
                "val_tokens_scored": len(self.ids("val")) - 1,
                "test_tokens_scored": count,
            },
            "samples": [sample],
        }

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """``sample.txt``: the text generated from ``data.generation.prompt``."""
        path = folder / "sample.txt"
        atomic_write_text(path, results["samples"][0]["text"] + "\n")
        return [path]

    # ----- inputs -------------------------------------------------------------------------------------
    def encode_inputs(self, examples: list[str]) -> dict[str, Tensor]:
        """Texts as next-token prediction batches: ``inputs`` all tokens but the last, ``targets`` all but
        the first (texts of fewer than 2 tokens are refused by :meth:`inspection_example`)."""
        ids = [self.vocab.encode(self.tokenizer.tokenize(text)) for text in examples]
        inputs, lengths = pad_batch([i[:-1] for i in ids])
        targets, _ = pad_batch([i[1:] for i in ids], pad_value=IGNORE_INDEX)
        return {"inputs": inputs, "targets": targets, "lengths": lengths}

    @torch.no_grad()
    def inspection_example(self, model: nn.Module, text: str) -> InspectionInput:
        ids = self.vocab.encode(self.tokenizer.tokenize(text))
        if len(ids) < 2:
            raise ValueError(f"a language model needs at least 2 tokens, got {len(ids)}")
        batch = move_to_device(self.encode_inputs([text]), next(model.parameters()).device)
        return batch, self.batch_tokens(batch), "next-token prediction"

    # ----- generation ---------------------------------------------------------------------------------
    def continue_text(self, model: nn.Module, prompt: str) -> dict[str, Any]:
        """The model's continuation of ``prompt`` with the options of ``data.generation``."""
        if not isinstance(prompt, str):
            raise TypeError(f"a prompt must be a str, got {type(prompt).__name__}")
        prompt_ids = self.vocab.encode(self.tokenizer.tokenize(prompt))
        if not prompt_ids:
            raise ValueError(f"prompt {prompt!r} has no tokens: give at least one character to continue")
        g = self.data.generation
        options: dict[str, Any] = {"strategy": g.strategy}
        if g.strategy == "sample":
            options.update(temperature=g.temperature, top_k=g.top_k, seed=g.seed)
        device = next(model.parameters()).device
        prompt_tensor = torch.tensor([prompt_ids], device=device)
        out = model.generate(prompt_tensor, g.max_new_tokens, stop_at_eos=False, **options)
        new_ids = out.tokens[0, : int(out.lengths[0])].tolist()
        decode = self.tokenizer.detokenize
        return {
            "prompt": prompt,
            "continuation": decode(self.vocab.decode(new_ids)),
            "text": decode(self.vocab.decode(prompt_ids + new_ids)),
        }

    PREDICT_OPTIONS: ClassVar[dict[str, str]] = {
        "generation.strategy": "sample or greedy",
        "generation.temperature": "> 0; below 1 sharpens the distribution (sample)",
        "generation.top_k": "sample among the k most likely tokens only (sample)",
        "generation.seed": "the sampling seed: the same prompt and seed give the same text",
        "generation.max_new_tokens": "tokens generated per prompt",
    }

    @torch.no_grad()
    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """Each input is a prompt; each result its continuation (one at a time: the seeded sample of a
        prompt does not depend on the other prompts)."""
        return [self.continue_text(model, prompt) for prompt in inputs]
