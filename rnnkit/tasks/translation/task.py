"""Translation: the Task: encoding, model, loss, metrics, artefacts and prediction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.data.batching import IGNORE_INDEX, BucketBatchSampler, collate_pairs, move_to_device, pad_batch
from rnnkit.data.records import TextPair
from rnnkit.data.tokenizers import (
    Tokenizer,
    build_tokenizer,
    nfc,
    tokenizer_from_dict,
)
from rnnkit.data.vocab import BOS, EOS, PAD, UNK, Vocab
from rnnkit.losses import masked_cross_entropy
from rnnkit.metrics import bleu, chrf
from rnnkit.models.modes import eval_mode
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.base import InspectionInput, Task, register_task
from rnnkit.tasks.translation.data import (
    DECODE_BATCH,
    TranslationData,
    auto_bleu_tokenize,
    detokenize,
    load_splits,
)


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
    model_config_class = Seq2SeqConfig

    @classmethod
    def placeholder_sizes(cls, data: Any) -> dict[str, Any]:
        return {"src_vocab_size": 1000, "tgt_vocab_size": 1000, "bos_id": BOS, "eos_id": EOS, "pad_id": PAD}

    def model_config(self) -> Seq2SeqConfig:
        sizes = {"src_vocab_size": len(self.source_vocab), "tgt_vocab_size": len(self.target_vocab)}
        return self.build_model_config({**sizes, "bos_id": BOS, "eos_id": EOS, "pad_id": PAD})

    def build_model(self) -> nn.Module:
        return Seq2Seq(self.model_config())

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        logits, _ = model(batch["src"], batch["src_lengths"], batch["tgt_in"], batch["tgt_lengths"])
        return masked_cross_entropy(logits, batch["tgt_out"])  # tgt_out's padding is the ignored index

    def loss_units(self, batch: dict[str, Tensor]) -> int:
        return int((batch["tgt_out"] != IGNORE_INDEX).sum())  # the loss is a mean over target tokens

    def _token_loss(self, model: nn.Module, loader: Any) -> float:
        """The mean cross-entropy per target token (EOS included) over the whole loader."""
        total, tokens = 0.0, 0
        for batch in loader:
            batch = move_to_device(batch, self.device)
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

    def report(self, model: nn.Module) -> dict[str, Any]:
        """Test loss, BLEU and chrF of greedy and beam decodes of every test sentence, the copy-the-source
        baseline's BLEU and chrF, split and vocabulary sizes, and five sample translations."""
        train_loader, _, test_loader = self.loaders()
        eval_mode(model)
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

    def encode_inputs(self, examples: list[str]) -> dict[str, Tensor]:
        """Source sentences as ``src (B, S)`` and ``src_lengths (B,)``."""
        src, src_lengths = pad_batch([self.encode_source(text) for text in examples])
        return {"src": src, "src_lengths": src_lengths}

    def batch_tokens(self, batch: dict[str, Tensor]) -> dict[str, list[str]]:
        """The source tokens (encoder) and the decoder's input tokens, ``<bos>`` first (decoder)."""
        read = lambda vocab, ids: [vocab.id_to_token(int(i)) for i in ids.reshape(-1)]  # noqa: E731
        return {
            "encoder": read(self.source_vocab, batch["src"]),
            "decoder": read(self.target_vocab, batch["tgt_in"]),
        }

    @torch.no_grad()
    def inspection_example(self, model: nn.Module, text: str) -> InspectionInput:
        eval_mode(model)
        device = next(model.parameters()).device
        src = self.encode_source(text)
        decoded, _ = model.translate(
            torch.tensor([src], device=device), torch.tensor([len(src)], device=device)
        )
        out = decoded.tokens[0, : int(decoded.lengths[0])].tolist()
        out = out[:-1] if out and out[-1] == EOS else out
        batch = move_to_device(collate_pairs([(src, out)]), device)
        return batch, self.batch_tokens(batch), f"translation: {self.decode_target(out)}"

    PREDICT_OPTIONS: ClassVar[dict[str, str]] = {
        "strategy": "greedy or beam",
        "beam_size": "beams (beam)",
        "length_penalty": "GNMT's alpha (beam)",
        "max_output_length": "target tokens at most",
    }

    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        eval_mode(model)
        return [
            {"text": text, "translation": translation, "log_prob": round(score, 4)}
            for text, (translation, score) in zip(inputs, self.translate(model, inputs))
        ]
