"""SequenceClassifier: many-to-one, a sequence of tokens or of feature vectors in, one label out.

    tokens (B, T) ─ [TokenDropout] ─ Embedding ─┐
                                                ├─ [ConvFrontend] ─ RNN ─ pooling ─ dropout ─ Linear ─ logits
    features (B, T, I) ─────────────────────────┘                                               (B, K)

K is ``num_classes``. Every stage keeps ``lengths``: the front-end's pooling shortens them
(``ceil(length / pool_size)``), the recurrent layer stops at each sequence's end and the pooling reads valid
steps only, so padding never changes the logits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import torch
from torch import Tensor, nn

from rnnkit.blocks.char_cnn import CharCNN, check_chars
from rnnkit.blocks.conv_frontend import ConvConfig, ConvFrontend
from rnnkit.blocks.embedding import Embedding, Vocabulary
from rnnkit.blocks.pooling import AttentionPooling, pool_sequence
from rnnkit.blocks.token_dropout import TokenDropout
from rnnkit.layers.factory import RNNConfig, build_rnn
from rnnkit.layers.masking import check_lengths
from rnnkit.models.init import INITS, Init, initialise_
from rnnkit.models.io import register_model
from rnnkit.models.modes import evaluating

Pooling = Literal["last", "mean", "max", "attention"]
POOLINGS = ("last", "mean", "max", "attention")
# ClassifierConfig.conv_lstm's defaults, in the model section's spelling (the ``conv_lstm`` preset)
CONV_LSTM = {
    "embedding_dim": 128,
    "embedding_dropout": 0.25,
    "conv": {"channels": 64, "kernel_sizes": [5], "pool_size": 4},
    "rnn": {"cell": "lstm", "hidden_size": 70, "bidirectional": False},
    "init": "keras",
}
_TOKEN_ONLY = ("embedding_dim", "padding_idx", "freeze_embedding", "embedding_dropout", "char_vocab_size",
               "token_dropout", "unk_idx")  # fmt: skip


@dataclass(frozen=True)
class ClassifierConfig:
    """A :class:`SequenceClassifier`: its input, optional front-end, recurrent layer, pooling and head.

    Give exactly one of ``vocab_size`` (token ids in) or ``input_size`` (feature vectors in). The
    embedding fields apply to token input only and must stay at their defaults otherwise. A pretrained
    embedding is not named here: load it into the model with
    :meth:`SequenceClassifier.load_word_vectors`; the weights are saved with the model.

    Attributes:
        num_classes: K >= 2 labels.
        vocab_size: V, for token input.
        input_size: I, for feature input (sensors, speech frames, ...).
        embedding_dim: features per token.
        padding_idx: the padding token's id (its embedding row is zero); None: none.
        freeze_embedding: keep the embedding fixed in training.
        embedding_dropout: dropout on the embedded tokens (and their character features).
        token_dropout: in training only, replace each real token id (never padding) by ``unk_idx`` with this
            probability, and blank its character ids (word dropout,
            :class:`~rnnkit.blocks.token_dropout.TokenDropout`).
        unk_idx: the unknown token's id (rnnkit vocabularies: 1), what ``token_dropout`` puts in.
        char_vocab_size: the number of character ids (0 is padding) to add character-level features to
            each token's embedding (:class:`~rnnkit.blocks.char_cnn.CharCNN`); the model then takes
            ``chars (B, T, L)``. None: none.
        char_embedding_dim, char_filters, char_kernel_size: the CharCNN's C, F and (odd) k.
        conv: a :class:`ConvConfig` front-end (Conv1d + MaxPool1d over time), or None.
        rnn: the recurrent layer, any :class:`RNNConfig` (cell, layers, bidirectional, variants).
        pooling: "last" (each direction's final state), "mean", "max" or "attention" (additive).
        attention_size: width of the attention scorer (default: the RNN's output size).
        dropout: dropout before the linear head.
        init: the initial weights: ``"torch"`` (torch's defaults) or ``"keras"`` (Keras's: small uniform
            embeddings, Glorot and orthogonal matrices, forget-gate bias 1; :mod:`rnnkit.models.init`).

    Example:
        >>> rnn = RNNConfig(cell="gru", hidden_size=16)
        >>> config = ClassifierConfig(vocab_size=100, num_classes=3, rnn=rnn)
        >>> config.rnn.cell, config.pooling
        ('gru', 'last')
    """

    num_classes: int = 2
    vocab_size: int | None = None
    input_size: int | None = None
    embedding_dim: int = 128
    padding_idx: int | None = 0
    freeze_embedding: bool = False
    embedding_dropout: float = 0.0
    token_dropout: float = 0.0
    unk_idx: int = 1
    char_vocab_size: int | None = None
    char_embedding_dim: int = 25
    char_filters: int = 50
    char_kernel_size: int = 3
    conv: ConvConfig | None = None
    rnn: RNNConfig = field(default_factory=RNNConfig)
    pooling: Pooling = "last"
    attention_size: int | None = None
    dropout: float = 0.0
    init: Init = "torch"

    def __post_init__(self) -> None:
        if (self.vocab_size is None) == (self.input_size is None):
            raise ValueError(
                "ClassifierConfig: give exactly one of vocab_size (token input) and input_size "
                f"(feature input), got vocab_size={self.vocab_size} and input_size={self.input_size}"
            )
        _check_int("num_classes", self.num_classes, 2)
        for name in ("vocab_size", "input_size", "attention_size"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)
        _check_int("embedding_dim", self.embedding_dim, 1)
        if self.char_vocab_size is not None:
            _check_int("char_vocab_size", self.char_vocab_size, 2)
        for name in ("char_embedding_dim", "char_filters", "char_kernel_size"):
            _check_int(name, getattr(self, name), 1)
        if self.char_kernel_size % 2 == 0:
            raise ValueError(f"ClassifierConfig.char_kernel_size must be odd, got {self.char_kernel_size}")
        if self.vocab_size is None:
            defaults = {f.name: f.default for f in fields(ClassifierConfig)}
            for name in _TOKEN_ONLY:
                if getattr(self, name) != defaults[name]:
                    raise ValueError(f"ClassifierConfig.{name} applies to token input (vocab_size) only")
        elif self.padding_idx is not None:
            _check_int("padding_idx", self.padding_idx, 0)
            if self.padding_idx >= self.vocab_size:
                raise ValueError(
                    f"ClassifierConfig.padding_idx must be < vocab_size={self.vocab_size}, "
                    f"got {self.padding_idx}"
                )
        if self.vocab_size is not None and self.token_dropout:
            _check_int("unk_idx", self.unk_idx, 0)
            if self.unk_idx >= self.vocab_size or self.unk_idx == self.padding_idx:
                raise ValueError(
                    f"ClassifierConfig.unk_idx must be < vocab_size={self.vocab_size} and not the padding id "
                    f"{self.padding_idx}, got {self.unk_idx}"
                )
        for name in ("embedding_dropout", "token_dropout", "dropout"):
            p = getattr(self, name)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ValueError(f"ClassifierConfig.{name} must be in [0, 1), got {p!r}")
        if self.init not in INITS:
            raise ValueError(f"ClassifierConfig.init must be one of {list(INITS)}, got {self.init!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(
                f"ClassifierConfig.pooling must be one of {list(POOLINGS)}, got {self.pooling!r}"
            )
        if self.attention_size is not None and self.pooling != "attention":
            raise ValueError("ClassifierConfig.attention_size applies to pooling='attention' only")
        if self.conv is not None and not isinstance(self.conv, ConvConfig):
            raise ValueError(
                f"ClassifierConfig.conv must be a ConvConfig or None, got {type(self.conv).__name__}"
            )
        if not isinstance(self.rnn, RNNConfig):
            raise ValueError(f"ClassifierConfig.rnn must be an RNNConfig, got {type(self.rnn).__name__}")

    @classmethod
    def conv_lstm(
        cls,
        vocab_size: int,
        num_classes: int = 2,
        *,
        embedding_dim: int = 128,
        channels: int = 64,
        kernel_sizes: tuple[int, ...] = (5,),
        pool_size: int = 4,
        hidden_size: int = 70,
        bidirectional: bool = False,
        embedding_dropout: float = 0.25,
        init: Init = "keras",
        **overrides: Any,
    ) -> ClassifierConfig:
        """The classic text classifier of the Keras example ``imdb_cnn_lstm.py``:

            Embedding(V, 128) -> Dropout(0.25) -> Conv1D(64, 5, relu) -> MaxPooling1D(4) -> LSTM(70) -> Dense

        Differences, on purpose: the convolution pads "same" (Keras: "valid") and the pooling keeps partial
        windows, so lengths are ``ceil(length / 4)``; padding is masked instead of read by the LSTM; the head
        has ``num_classes`` logits (softmax) where Keras has one sigmoid unit for two classes. The weights
        start as Keras starts them (``init="keras"``: it reaches a validation target in fewer epochs than
        torch's initialisation, ``benchmarks/time_to_accuracy.py``). ``overrides`` sets any other
        :class:`ClassifierConfig` field (``pooling="max"``, ``dropout=0.5``).

        Example:
            >>> config = ClassifierConfig.conv_lstm(20000)
            >>> config.embedding_dim, config.conv.channels, config.conv.pool_size, config.rnn.hidden_size
            (128, 64, 4, 70)
        """
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"ClassifierConfig.conv_lstm: unknown field {unknown[0]!r} in the overrides")
        conv = ConvConfig(channels=channels, kernel_sizes=tuple(kernel_sizes), pool_size=pool_size)
        rnn = RNNConfig(cell="lstm", hidden_size=hidden_size, bidirectional=bidirectional)
        base = cls(num_classes=num_classes, vocab_size=vocab_size, embedding_dim=embedding_dim,
                   embedding_dropout=embedding_dropout, conv=conv, rnn=rnn, init=init)  # fmt: skip
        return replace(base, **overrides)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"ClassifierConfig.{name} must be an int >= {minimum}, got {value!r}")


@register_model("classifier")
class SequenceClassifier(nn.Module):
    """Many-to-one classifier: ``(inputs, lengths) -> logits (B, num_classes)``; never a loss.

    Args:
        config: a :class:`ClassifierConfig`.

    Shape: ``inputs (B, T)`` integer token ids (``vocab_size``) or ``(B, T, I)`` floats (``input_size``),
    ``lengths (B,)`` in ``[1, T]`` or None (all ``T`` steps valid) -> ``logits (B, K)``.

    Example:
        >>> config = ClassifierConfig.conv_lstm(100, 3, embedding_dim=16, channels=8, hidden_size=12)
        >>> model = SequenceClassifier(config)
        >>> tokens = torch.randint(1, 100, (2, 9))
        >>> model(tokens, torch.tensor([9, 4])).shape
        torch.Size([2, 3])
        >>> probabilities = model.predict_proba(tokens)
        >>> probabilities.shape, torch.allclose(probabilities.sum(-1), torch.ones(2))
        (torch.Size([2, 3]), True)
    """

    config_class = ClassifierConfig

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        if not isinstance(config, ClassifierConfig):
            raise TypeError(f"SequenceClassifier: expected a ClassifierConfig, got {type(config).__name__}")
        self.config = config
        if config.vocab_size is not None:
            self.embedding = Embedding(config.vocab_size, config.embedding_dim, config.padding_idx,
                                       config.freeze_embedding, config.embedding_dropout)  # fmt: skip
            features = config.embedding_dim
        else:
            self.embedding = None
            features = config.input_size
        self.token_dropout = None  # a module only when it drops: the architecture is otherwise unchanged
        if self.embedding is not None and config.token_dropout:
            self.token_dropout = TokenDropout(config.token_dropout, config.unk_idx, config.padding_idx)
        self.chars = CharCNN.from_config(config)
        if self.chars is not None:
            self.char_dropout = nn.Dropout(config.embedding_dropout)
            features += config.char_filters
        self.conv = None if config.conv is None else ConvFrontend.from_config(config.conv, features)
        self.rnn = build_rnn(config.rnn, features if self.conv is None else self.conv.output_size)
        size = self.rnn.output_size
        self.attention = (
            AttentionPooling(size, config.attention_size) if config.pooling == "attention" else None
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(size, config.num_classes)
        initialise_(self, config.init)

    @classmethod
    def from_config(cls, config: ClassifierConfig) -> SequenceClassifier:
        """Alternate constructor (the model is built from its config alone)."""
        return cls(config)

    def encode(
        self, inputs: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """The pooled sequence vectors before the head, and the attention weights. ``chars (B, T, L)``: each
        token's character ids, given exactly when the model has character features.

        Returns:
            ``(pooled (B, D*H), weights (B, T') or None)``: weights only with ``pooling="attention"``; ``T'``
            is the number of steps the recurrent layer saw (``ceil(T / pool_size)`` after a front-end).
        """
        x, lengths = self._check_inputs(inputs, lengths, chars)
        if self.token_dropout is not None:
            x, dropped = self.token_dropout(x, lengths)  # the identity in eval mode
            if chars is not None:
                chars = chars.masked_fill(dropped.unsqueeze(-1), 0)
        if self.embedding is not None:
            x = self.embedding(x)  # (B, T, E)
        if self.chars is not None:
            x = torch.cat([x, self.char_dropout(self.chars(chars))], dim=2)  # (B, T, E + F)
        if self.conv is not None:
            x, lengths = self.conv(x, lengths)  # (B, T', C'), lengths shortened by the pooling
        output, _ = self.rnn(x, lengths=lengths)  # (B, T', D*H), zero past each length
        if self.attention is not None:
            return self.attention(output, lengths)
        directions = 2 if self.config.rnn.bidirectional else 1
        return pool_sequence(output, lengths, self.config.pooling, directions), None

    def forward(self, inputs: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None) -> Tensor:
        """Logits ``(B, num_classes)`` for ``inputs`` with valid ``lengths`` (None: all steps valid), and
        ``chars (B, T, L)`` with character features."""
        pooled, _ = self.encode(inputs, lengths, chars)
        return self.head(self.dropout(pooled))

    @torch.no_grad()
    def predict_proba(
        self, inputs: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None
    ) -> Tensor:
        """Class probabilities ``(B, num_classes)``, computed in eval mode (no dropout), without gradients.

        The model's train/eval mode is restored afterwards.
        """
        with evaluating(self):
            return self(inputs, lengths, chars).softmax(dim=-1)

    def predict(self, inputs: Tensor, lengths: Tensor | None = None, chars: Tensor | None = None) -> Tensor:
        """The most probable class of each sequence, ``(B,)`` int64 (as :meth:`predict_proba`)."""
        return self.predict_proba(inputs, lengths, chars).argmax(dim=-1)

    def load_word_vectors(
        self,
        path: str | os.PathLike,
        vocab: Vocabulary,
        generator: torch.Generator | None = None,
    ) -> int:
        """Fill the embedding from a word2vec/GloVe text file (see :func:`load_word_vectors`) or an
        installed vector package (``path`` is then its name: :mod:`rnnkit.blocks.vector_packages`).

        Words of ``vocab`` missing from the file get small random vectors from ``generator``; the padding
        row stays zero; ``freeze_embedding`` is kept. Returns how many rows came from the file.
        """
        if self.embedding is None:
            raise ValueError(
                "SequenceClassifier.load_word_vectors: this model takes feature input (no embedding)"
            )
        padding_idx = self.config.padding_idx
        from rnnkit.blocks.vector_packages import load_vectors

        vectors, found = load_vectors(
            path, vocab, self.config.embedding_dim, padding_idx=padding_idx, generator=generator
        )
        if vectors.size(0) != self.config.vocab_size:
            raise ValueError(
                f"SequenceClassifier.load_word_vectors: vocab has {vectors.size(0)} entries, "
                f"the model's vocab_size is {self.config.vocab_size}"
            )
        self.embedding.load_vectors(vectors.to(self.embedding.weight))
        return found

    def _check_inputs(
        self, inputs: Tensor, lengths: Tensor | None, chars: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        name = type(self).__name__
        if not isinstance(inputs, Tensor):
            raise TypeError(f"{name}: inputs must be a Tensor, got {type(inputs).__name__}")
        check_chars(name, chars, self.chars is not None, inputs)
        tokens = self.embedding is not None
        if tokens:
            expected, shape_ok = "token ids (B, T), an integer tensor", inputs.dim() == 2
            dtype_ok = not (inputs.is_floating_point() or inputs.is_complex() or inputs.dtype == torch.bool)
        else:
            expected = f"features (B, T, {self.config.input_size})"
            shape_ok = inputs.dim() == 3 and inputs.size(-1) == self.config.input_size
            dtype_ok = inputs.is_floating_point()
        if not dtype_ok:
            kind = "vocab_size" if tokens else "input_size"
            raise TypeError(f"{name}: expected {expected} ({kind} is set), got dtype {inputs.dtype}")
        if not shape_ok:
            raise ValueError(f"{name}: expected {expected}, got shape {tuple(inputs.shape)}")
        if inputs.size(1) == 0:
            raise ValueError(f"{name}: expected at least one step, got inputs of shape {tuple(inputs.shape)}")
        if lengths is not None:
            lengths = check_lengths(lengths, inputs.size(0), inputs.size(1)).to(inputs.device)
        return inputs, lengths
