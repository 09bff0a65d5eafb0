r"""Language modelling: plain text in, a :class:`SequenceGenerator` out, with validation loss, perplexity,
bits per character, a unigram baseline and generated text.

The text is cut, never shuffled, into three contiguous parts (char-rnn, nanoGPT), by characters::

    |------------------------ train (90%) ------------------------|-- val (5%) --|-- test (5%) --|

Training reads chunks of ``bptt + 1`` tokens of the training part, at random starts drawn afresh every
epoch (``chunks="random"``) or every ``stride`` tokens in a shuffled order (``chunks="strided"``). Each
chunk starts from the zero state and is trained on next-token prediction::

    inputs = ids[s : s + bptt]      targets = ids[s + 1 : s + bptt + 1]
    loss   = mean_t −log p(targets_t | inputs_≤t)                           (cross-entropy, nats)

Evaluation scores every token of the validation (test) text but the first (up to ``eval_max_tokens``),
exactly once: the text is cut into ``B = train.batch_size`` contiguous streams, read ``bptt`` tokens at a
time with the recurrent state carried from window to window (the stateful evaluation of the PTB models),
so each token has the whole past of its stream as context. With NLL the summed negative log-likelihood
of the N scored tokens::

    val_loss = NLL / N      perplexity = exp(NLL / N)      bits per character = NLL / (N ln 2)  (char tokens)

The unigram baseline predicts every token by its training frequency p(c); on the training text it costs
H = −Σ_c p(c) log₂ p(c) bits per token, the number a model that learnt anything must beat.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from rnnkit.config import ConfigError, atomic_write_text, from_dict
from rnnkit.data.batching import IGNORE_INDEX
from rnnkit.data.tokenizers import Tokenizer, build_tokenizer, tokenizer_from_dict
from rnnkit.data.vocab import BOS, EOS, PAD, Vocab
from rnnkit.models.generator import GeneratorConfig, SequenceGenerator
from rnnkit.tasks.base import Task, register_task
from rnnkit.training.losses import masked_cross_entropy
from rnnkit.training.metrics import bits_per_character, perplexity
from rnnkit.training.seed import epoch_generator
from rnnkit.training.trainer import move_to_device


@dataclass(frozen=True)
class GenerationOptions:
    """How the report's sample and ``predict`` continue a prompt.

    Attributes:
        prompt: the report's prompt (``predict`` takes its own prompts).
        max_new_tokens: tokens generated per prompt.
        strategy: ``"sample"`` (temperature, top_k, seed) or ``"greedy"`` (argmax at every step).
        temperature: > 0; below 1 sharpens the distribution (sample only).
        top_k: sample among the k most likely tokens only; None: all (sample only).
        seed: the sampling seed: the same prompt gives the same text.
    """

    prompt: str = "\n"
    max_new_tokens: int = 300
    strategy: Literal["sample", "greedy"] = "sample"
    temperature: float = 0.8
    top_k: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.prompt:
            raise ValueError("GenerationOptions.prompt must be a non-empty string, got ''")
        if self.max_new_tokens < 1:
            raise ValueError(f"GenerationOptions.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.strategy not in ("sample", "greedy"):
            raise ValueError(
                f"GenerationOptions.strategy must be 'sample' or 'greedy', got {self.strategy!r}"
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"GenerationOptions.temperature must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"GenerationOptions.top_k must be >= 1 or None, got {self.top_k}")


@dataclass(frozen=True)
class LanguageModelData:
    """Where the text comes from, how it becomes tokens and chunks, and how text is generated.

    Attributes:
        dataset: a catalog name of plain text (``tinyshakespeare``), or ``"text"`` for the file ``path``.
        path: a local copy of the catalog dataset (no download), or the UTF-8 file for ``dataset="text"``.
        encoding: of ``dataset="text"``'s file (``"auto"``: UTF-8, else Latin-1 per line).
        tokenizer: ``char`` (the default), ``word`` (words and punctuation; ``detokenize`` joins them with
            spaces, so generated text loses line breaks) or ``bpe`` (``subword_vocab_size`` pieces trained on
            the training text, spacing and line breaks kept; a prompt is encoded as the start of a text, a
            ``▁`` before its first word, which may split it unlike the same words inside the text).
        lowercase: for char and word tokens.
        max_vocab, min_freq: vocabulary limits (specials included in ``max_vocab``); the rest is ``<unk>``.
        val_fraction, test_fraction: the last characters of the text, in that order (contiguous cuts).
        bptt: tokens per training chunk (backpropagation through time), also the evaluation window.
        chunks: ``"random"`` starts (``chunks_per_epoch`` of them, default: training tokens // bptt) or
            ``"strided"`` starts every ``stride`` tokens (default: bptt, non-overlapping), shuffled.
        eval_max_tokens: score at most this many tokens of the validation and test texts (their start);
            None: all.
        generation: the sampling options (:class:`GenerationOptions`).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "tinyshakespeare"
    path: str | None = None
    encoding: str = "utf-8"
    tokenizer: Literal["char", "word", "bpe"] = "char"
    lowercase: bool = False
    subword_vocab_size: int = 1000
    max_vocab: int | None = None
    min_freq: int = 1
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    bptt: int = 128
    chunks: Literal["random", "strided"] = "random"
    chunks_per_epoch: int | None = None
    stride: int | None = None
    eval_max_tokens: int | None = 100_000
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    offline: bool | None = None

    def __post_init__(self) -> None:
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"LanguageModelData.{name} must be in (0, 1), got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"LanguageModelData: val_fraction + test_fraction must be < 1 (some text must remain for "
                f"training), got {self.val_fraction} + {self.test_fraction}"
            )
        if self.dataset == "text" and self.path is None:
            raise ValueError("LanguageModelData: dataset='text' needs path= (a UTF-8 text file)")
        if self.tokenizer not in ("char", "word", "bpe"):
            raise ValueError(f"LanguageModelData.tokenizer must be char, word or bpe, got {self.tokenizer!r}")
        if self.lowercase and self.tokenizer == "bpe":
            raise ValueError("LanguageModelData.lowercase applies to char and word tokens, not bpe")
        positive = ("bptt", "subword_vocab_size", "min_freq", "chunks_per_epoch", "stride", "eval_max_tokens")
        for name in positive:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"LanguageModelData.{name} must be >= 1, got {value}")
        if self.chunks == "strided" and self.chunks_per_epoch is not None:
            raise ValueError("LanguageModelData.chunks_per_epoch applies to chunks='random', not 'strided'")
        if self.chunks == "random" and self.stride is not None:
            raise ValueError("LanguageModelData.stride applies to chunks='strided', not 'random'")


def split_contiguous(text: str, val_fraction: float, test_fraction: float) -> tuple[str, str, str]:
    """``(train, val, test)``: the last ``round(n * test_fraction)`` characters for test, the
    ``round(n * val_fraction)`` before them for validation, the rest for training. Contiguous cuts, so no
    passage lies in two parts.

    Example:
        >>> split_contiguous("abcdefghijklmnopqrst", 0.1, 0.05)
        ('abcdefghijklmnopq', 'rs', 't')
    """
    n = len(text)
    test_start = n - round(n * test_fraction)
    val_start = max(0, test_start - round(n * val_fraction))
    return text[:val_start], text[val_start:test_start], text[test_start:]


def load_text_splits(data: LanguageModelData) -> dict[str, str]:
    """The ``train`` / ``val`` / ``test`` texts of ``data`` (see :func:`split_contiguous`)."""
    if data.dataset == "text":
        from rnnkit.data.loaders_text import load_text

        text: Any = load_text(data.path, data.encoding)
    else:
        from rnnkit.data.catalog import load_dataset

        text = load_dataset(data.dataset, data.path, offline=data.offline).get("all")
        if not isinstance(text, str):
            raise ConfigError(f"data: dataset {data.dataset!r} is not plain text (try tinyshakespeare)")
    if not text:
        raise ValueError(f"data: {data.path or data.dataset}: the text is empty")
    train, val, test = split_contiguous(text, data.val_fraction, data.test_fraction)
    return {"train": train, "val": val, "test": test}


class ChunkSampler(Sampler[list[int]]):
    """Batches of chunk starts in ``[0, num_tokens - bptt - 1]``: ``count`` random ones, or every
    ``stride``-th in a shuffled order. The draw depends only on ``seed`` and the epoch (``set_epoch``), as
    the trainer's exact resume needs.

    Example:
        >>> sampler = ChunkSampler(10, bptt=3, batch_size=2, mode="strided", stride=3)
        >>> len(sampler), sorted(s for batch in sampler for s in batch)
        (2, [0, 3, 6])
    """

    def __init__(
        self,
        num_tokens: int,
        bptt: int,
        batch_size: int,
        mode: Literal["random", "strided"] = "random",
        count: int | None = None,
        stride: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.last = num_tokens - bptt - 1  # the last start whose chunk (bptt + 1 tokens) fits
        if self.last < 0:
            raise ValueError(
                f"the training text has {num_tokens} tokens, fewer than bptt + 1 = {bptt + 1}: "
                f"lower data.bptt or give more text"
            )
        self.mode, self.batch_size, self.seed, self.epoch = mode, batch_size, seed, 0
        self.stride = stride or bptt
        if mode == "random":
            self.count = count or max(1, num_tokens // bptt)
        else:
            self.count = self.last // self.stride + 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return math.ceil(self.count / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        generator = epoch_generator(self.seed, self.epoch)
        if self.mode == "random":
            starts = torch.randint(0, self.last + 1, (self.count,), generator=generator)
        else:
            order = torch.randperm(self.count, generator=generator)
            starts = torch.arange(0, self.last + 1, self.stride)[order]
        starts = starts.tolist()
        return iter(starts[i : i + self.batch_size] for i in range(0, self.count, self.batch_size))


class _Chunks(torch.utils.data.Dataset):
    def __init__(self, ids: Tensor, bptt: int) -> None:
        self.ids, self.bptt = ids, bptt

    def __len__(self) -> int:
        return len(self.ids) - self.bptt

    def __getitem__(self, start: int) -> Tensor:
        return self.ids[start : start + self.bptt + 1]


def collate_chunks(chunks: list[Tensor]) -> dict[str, Tensor]:
    """Chunks of ``bptt + 1`` ids -> ``{"inputs" (B, bptt), "targets" (B, bptt), "lengths" (B,)}``.

    Example:
        >>> batch = collate_chunks([torch.tensor([5, 6, 7]), torch.tensor([8, 9, 10])])
        >>> batch["inputs"].tolist(), batch["targets"].tolist(), batch["lengths"].tolist()
        ([[5, 6], [8, 9]], [[6, 7], [9, 10]], [2, 2])
    """
    stacked = torch.stack(chunks)  # (B, bptt + 1)
    lengths = torch.full((stacked.size(0),), stacked.size(1) - 1, dtype=torch.long)
    return {"inputs": stacked[:, :-1], "targets": stacked[:, 1:], "lengths": lengths}


def stream_batches(ids: Tensor, streams: int, window: int) -> list[dict[str, Tensor]]:
    """Windows over ``streams`` contiguous parts of ``ids`` that score each token but the first once.

    Stream k's targets are the k-th of ``streams`` near-equal contiguous ranges of ``ids[1:]``, and its
    inputs the tokens just before them; window w holds columns ``[w * window, (w + 1) * window)`` of every
    stream, so carrying the recurrent state from window to window gives every target its whole stream as
    context. A stream that ends early is padded (input ``PAD``, target ``IGNORE_INDEX``, length >= 1) in
    the last window only.

    Example:
        >>> batches = stream_batches(torch.arange(10, 17), streams=2, window=2)
        >>> [b["inputs"].tolist() for b in batches], [b["targets"].tolist() for b in batches]
        ([[[10, 11], [13, 14]], [[12], [15]]], [[[11, 12], [14, 15]], [[13], [16]]])
    """
    scored = len(ids) - 1
    if scored < 1:
        raise ValueError(f"need at least 2 tokens to score one, got {len(ids)}")
    streams = min(streams, scored)
    sizes = [scored // streams + (k < scored % streams) for k in range(streams)]
    inputs = torch.full((streams, sizes[0]), PAD, dtype=torch.long)
    targets = torch.full((streams, sizes[0]), IGNORE_INDEX, dtype=torch.long)
    start = 0
    for k, size in enumerate(sizes):
        inputs[k, :size], targets[k, :size] = ids[start : start + size], ids[start + 1 : start + size + 1]
        start += size
    lengths = torch.tensor(sizes)
    return [
        {
            "inputs": inputs[:, w : w + window],
            "targets": targets[:, w : w + window],
            "lengths": (lengths - w).clamp(1, min(window, sizes[0] - w)),
        }
        for w in range(0, sizes[0], window)
    ]


def score_streams(model: nn.Module, batches: Iterable[dict[str, Tensor]]) -> tuple[float, int]:
    """``(summed NLL in nats, tokens scored)`` of a :class:`SequenceGenerator` over the windows of
    :func:`stream_batches`, in order, the recurrent state carried from each window to the next (so the
    result does not depend on the window size). Call it under ``torch.no_grad()`` in eval mode."""
    state, nll, count = None, torch.zeros((), dtype=torch.float64), 0
    for batch in batches:
        logits, state = model(batch["inputs"], batch["lengths"], state=state)
        valid = int((batch["targets"] != IGNORE_INDEX).sum())
        nll += masked_cross_entropy(logits.float(), batch["targets"]).detach().double().cpu() * valid
        count += valid
    return float(nll), count


def unigram_bits(counts: list[int], ids: Tensor | None = None) -> float:
    """Bits per token of a unigram model with these token counts: its entropy ``−Σ p log₂ p`` (``ids``
    None), or its cross-entropy on ``ids`` with add-one smoothing over the tokens that can occur (all but
    <pad>, <bos>, <eos>), so an unseen token costs finitely many bits.

    Example:
        >>> unigram_bits([0, 0, 0, 0, 2, 2])  # two equally frequent characters: one bit
        1.0
    """
    if ids is None:
        total = sum(counts)
        return -sum(c / total * math.log2(c / total) for c in counts if c)
    support = [k for k in range(len(counts)) if k not in (PAD, BOS, EOS)]
    smoothed = torch.zeros(len(counts), dtype=torch.float64)
    smoothed[support] = torch.tensor([counts[k] + 1.0 for k in support], dtype=torch.float64)
    log2p = (smoothed / smoothed.sum()).log2()
    return float(-log2p[ids].mean())


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
    def model_config(self) -> GeneratorConfig:
        options, where = dict(self.model_options), f"{self.where}: model"
        derived = {"vocab_size", "bos_id", "eos_id", "pad_id"} & set(options)
        if derived:
            raise ConfigError(f"{where}: {sorted(derived)[0]!r} comes from the vocabulary; remove it")
        for name in ("condition_size", "num_classes"):
            if options.get(name) is not None:
                raise ConfigError(f"{where}: {name!r}: a language model of plain text is unconditioned")
        return from_dict(GeneratorConfig, {**options, "vocab_size": len(self.vocab)}, where)

    def build_model(self) -> nn.Module:
        return SequenceGenerator(self.model_config())

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        logits, _ = model(batch["inputs"], batch["lengths"])
        return masked_cross_entropy(logits, batch["targets"], batch["lengths"])

    # ----- evaluation ---------------------------------------------------------------------------------
    def metrics(self, prefix: str, nll: float, count: int) -> dict[str, float]:
        out = {f"{prefix}_loss": nll / count, f"{prefix}_perplexity": perplexity(nll, count)}
        if self.data.tokenizer == "char":
            out[f"{prefix}_bpc"] = bits_per_character(nll, count)
        return out

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        return self.metrics("val", *score_streams(model, loader))

    def report(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        model.eval()
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
        atomic_write_text(run_dir / "sample.txt", sample["text"] + "\n")
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

    @torch.no_grad()
    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """Each input is a prompt; each result its continuation (one at a time: the seeded sample of a
        prompt does not depend on the other prompts)."""
        return [self.continue_text(model, prompt) for prompt in inputs]
