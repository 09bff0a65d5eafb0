r"""SequenceTagger: many-to-many aligned, one label per step (part of speech, chunks, named entities, frames).

    x_t = Embedding(token_t)  or  the feature vector of step t      (B, T, E | I)
    x_t = [x_t ; CharCNN(chars of token_t)]   with character features (B, T, E + F)
    x_t = [x_t ; E_1[column_1,t] ; …]         with token columns (POS tags, say), then dropout
    h_t = BiLSTM(x)_t          (any RNNConfig)                       (B, T, D·H)
    e_t = W h_t + b            emission scores of the K tags         (B, T, K)

With the softmax head each step is labelled on its own, ``ŷ_t = argmax_k e_t[k]``, and trained with masked
cross-entropy (:func:`rnnkit.losses.masked_cross_entropy`). With the CRF head (Lample et al. 2016)
a :class:`~rnnkit.blocks.crf.LinearChainCRF` scores whole tag paths, ``ŷ = argmax_y s(e, y)`` by Viterbi,
trained with :func:`rnnkit.losses.crf_negative_log_likelihood`; with tag names and an IOB scheme
the CRF never outputs an invalid transition (``O -> I-PER`` in IOB2, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.blocks.char_cnn import CharCNN, check_chars
from rnnkit.blocks.crf import LinearChainCRF, iob_constraints
from rnnkit.blocks.embedding import Embedding
from rnnkit.layers.factory import RNNConfig, build_rnn
from rnnkit.layers.masking import check_lengths
from rnnkit.models.io import register_model

_MINIMUMS = {"num_tags": 1, "vocab_size": 2, "input_size": 1, "embedding_dim": 1, "char_vocab_size": 2,
             "char_embedding_dim": 1, "char_filters": 1, "char_kernel_size": 1,
             "column_embedding_dim": 1}  # fmt: skip
"""The smallest value of each integer field of :class:`TaggerConfig` (None passes: the field is off)."""


def _bidirectional_lstm() -> RNNConfig:
    return RNNConfig(cell="lstm", bidirectional=True)


@dataclass(frozen=True)
class TaggerConfig:
    """A :class:`SequenceTagger`: input (token ids or features), recurrent encoder, and head.

    Args:
        num_tags: K, the number of labels.
        vocab_size: V for token-id input (id 0 is padding, its embedding stays zero); or
        input_size: I for feature-sequence input ``(B, T, I)``. Give exactly one of the two.
        embedding_dim: E, the embedding size (token input only). Pretrained vectors: build the model, then
            ``tagger.embedding.load_vectors(vectors)`` (see :mod:`rnnkit.blocks.embedding`).
        char_vocab_size: the number of character ids (0 is padding) to add character-level word features
            (:class:`~rnnkit.blocks.char_cnn.CharCNN`, token input only); None: none. The model then takes
            ``chars (B, T, L)``, each token's character ids.
        char_embedding_dim, char_filters, char_kernel_size: the CharCNN's C, F and k.
        column_vocab_sizes: one size per extra categorical column the model reads beside each token (the
            part-of-speech tags of CoNLL-2000, say; 0 is padding), each embedded in
        column_embedding_dim features (token input only). The model then takes ``columns (B, T, F)``.
        embedding_dropout: dropout on the embedded (or feature) inputs, character features included.
        rnn: the recurrent encoder (default: a one-layer bidirectional LSTM).
        dropout: dropout on the encoder's outputs, before the emission layer.
        crf: True for a linear-chain CRF head (Viterbi decoding), False for a softmax head (argmax).
        labels: optional tag names, one per tag (index order), e.g. ``("O", "B-PER", "I-PER")``.
        constraints: "IOB1", "IOB2" or "BIOES" to forbid the scheme's invalid transitions in the CRF
            (needs ``crf=True`` and ``labels``); None allows all.

    Example:
        >>> config = TaggerConfig(num_tags=3, vocab_size=100, crf=True, labels=("O", "B-X", "I-X"),
        ...                       constraints="IOB2", rnn=RNNConfig(hidden_size=16, bidirectional=True))
        >>> config.rnn.cell, config.labels
        ('lstm', ('O', 'B-X', 'I-X'))
    """

    num_tags: int
    vocab_size: int | None = None
    input_size: int | None = None
    embedding_dim: int = 64
    char_vocab_size: int | None = None
    char_embedding_dim: int = 25
    char_filters: int = 50
    char_kernel_size: int = 3
    column_vocab_sizes: tuple[int, ...] = ()
    column_embedding_dim: int = 16
    embedding_dropout: float = 0.0
    rnn: RNNConfig = field(default_factory=_bidirectional_lstm)
    dropout: float = 0.0
    crf: bool = False
    labels: tuple[str, ...] | None = None
    constraints: Literal["IOB1", "IOB2", "BIOES"] | None = None

    def __post_init__(self) -> None:
        if (self.vocab_size is None) == (self.input_size is None):
            raise ValueError(
                "TaggerConfig: give exactly one of vocab_size (token ids) or input_size (feature "
                f"sequences), got vocab_size={self.vocab_size!r}, input_size={self.input_size!r}"
            )
        object.__setattr__(self, "column_vocab_sizes", tuple(self.column_vocab_sizes))
        if self.vocab_size is None and (self.char_vocab_size is not None or self.column_vocab_sizes):
            raise ValueError("TaggerConfig: character features (char_vocab_size) and token columns "
                             "(column_vocab_sizes) need token input (vocab_size)")  # fmt: skip
        for k, size in enumerate(self.column_vocab_sizes):
            if isinstance(size, bool) or not isinstance(size, int) or size < 2:
                raise ValueError(f"TaggerConfig.column_vocab_sizes[{k}] must be an int >= 2, got {size!r}")
        for name, low in _MINIMUMS.items():
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ValueError(f"TaggerConfig.{name} must be an int >= {low}, got {value!r}")
        if self.char_kernel_size % 2 == 0:
            raise ValueError(
                f'TaggerConfig.char_kernel_size must be odd ("same" padding), got {self.char_kernel_size}'
            )
        for name in ("embedding_dropout", "dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"TaggerConfig.{name} must be in [0, 1), got {value!r}")
        if not isinstance(self.rnn, RNNConfig):
            raise TypeError(f"TaggerConfig.rnn must be an RNNConfig, got {type(self.rnn).__name__}")
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))
            if len(self.labels) != self.num_tags or len(set(self.labels)) != self.num_tags:
                raise ValueError(f"TaggerConfig.labels must be {self.num_tags} distinct names (num_tags), "
                                 f"got {list(self.labels)}")  # fmt: skip
        if self.constraints is not None:
            if not self.crf or self.labels is None:
                raise ValueError(
                    f"TaggerConfig.constraints={self.constraints!r} needs crf=True and labels "
                    f"(got crf={self.crf}, labels={self.labels})"
                )
            if self.constraints not in ("IOB1", "IOB2", "BIOES"):
                raise ValueError(f"TaggerConfig.constraints must be 'IOB1', 'IOB2', 'BIOES' or None, "
                                 f"got {self.constraints!r}")  # fmt: skip
            try:
                iob_constraints(self.labels, self.constraints)
            except ValueError as error:
                raise ValueError(f"TaggerConfig.labels: {error}") from error


@register_model("tagger")
class SequenceTagger(nn.Module):
    """One label per step: (Embedding |) features -> RNN -> Linear emissions -> softmax or CRF head.

    ``forward`` returns the emission scores (logits for the softmax head); :meth:`decode` returns tags.
    Padded steps are zeros in the emissions and -1 in the decoded tags; they never change a valid step.

    Args:
        config: a :class:`TaggerConfig`.

    Shape:
        inputs ``(B, T)`` token ids (``vocab_size``) or ``(B, T, I)`` features (``input_size``);
        lengths ``(B,)`` integer in ``[1, T]`` or None; emissions ``(B, T, K)``; tags ``(B, T)``.

    Example:
        >>> from rnnkit.losses import crf_negative_log_likelihood
        >>> config = TaggerConfig(num_tags=3, vocab_size=20, embedding_dim=8, crf=True,
        ...                       labels=("O", "B-X", "I-X"), constraints="IOB2",
        ...                       rnn=RNNConfig(hidden_size=8, bidirectional=True))
        >>> tagger = SequenceTagger(config)
        >>> tokens, lengths = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
        >>> tagger(tokens, lengths).shape
        torch.Size([2, 3, 3])
        >>> gold = torch.tensor([[0, 1, 2], [1, 2, -1]])
        >>> loss = crf_negative_log_likelihood(tagger.crf, tagger(tokens, lengths), gold, lengths)
        >>> tags = tagger.decode(tokens, lengths)
        >>> tags.shape, tags[1, 2].item()
        (torch.Size([2, 3]), -1)
    """

    config_class = TaggerConfig

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        if not isinstance(config, TaggerConfig):
            raise TypeError(f"SequenceTagger needs a TaggerConfig, got {type(config).__name__}")
        self.config = config
        if config.vocab_size is not None:
            self.embedding = Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
            features = config.embedding_dim
        else:
            self.embedding = None
            features = config.input_size
        self.chars = CharCNN.from_config(config)
        features += 0 if self.chars is None else config.char_filters
        self.columns = nn.ModuleList(
            Embedding(size, config.column_embedding_dim, padding_idx=0) for size in config.column_vocab_sizes
        )
        features += config.column_embedding_dim * len(self.columns)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.rnn = build_rnn(config.rnn, features)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.rnn.output_size, config.num_tags)
        self.crf = None
        if config.crf:
            mask = None if config.constraints is None else iob_constraints(config.labels, config.constraints)
            self.crf = LinearChainCRF(config.num_tags, mask)

    @classmethod
    def from_config(cls, config: TaggerConfig) -> SequenceTagger:
        """Alternate constructor, as every rnnkit model."""
        return cls(config)

    def forward(
        self,
        inputs: Tensor,
        lengths: Tensor | None = None,
        chars: Tensor | None = None,
        columns: Tensor | None = None,
    ) -> Tensor:
        """Emission scores ``(B, T, K)`` (logits of the softmax head), zero past each length.

        ``chars (B, T, L)``: each token's character ids, given exactly when the model has character
        features (``char_vocab_size``). ``columns (B, T, F)``: the ids of each token's F extra columns,
        given exactly when the model reads some (``column_vocab_sizes``).
        """
        mask = self._check(inputs, lengths, chars, columns)
        return self._emissions(inputs, lengths, mask, chars, columns)

    @torch.no_grad()
    def decode(
        self,
        inputs: Tensor,
        lengths: Tensor | None = None,
        chars: Tensor | None = None,
        columns: Tensor | None = None,
    ) -> Tensor:
        """The predicted tags ``(B, T)`` (long), -1 past each length: argmax per step, or Viterbi with a CRF.

        ``tags[b, :lengths[b]].tolist()`` is the list for sequence b. Call ``eval()`` first (dropout).
        """
        mask = self._check(inputs, lengths, chars, columns)
        emissions = self._emissions(inputs, lengths, mask, chars, columns)
        if self.crf is not None:
            return self.crf.viterbi_decode(emissions, mask.sum(1))[0]
        return emissions.argmax(dim=2).masked_fill(~mask, -1)

    def _emissions(
        self,
        inputs: Tensor,
        lengths: Tensor | None,
        mask: Tensor,
        chars: Tensor | None,
        columns: Tensor | None,
    ) -> Tensor:
        x = self.embedding(inputs) if self.embedding is not None else inputs  # (B, T, E | I)
        if self.chars is not None:
            x = torch.cat([x, self.chars(chars)], dim=2)  # (B, T, E + F)
        if len(self.columns):
            x = torch.cat([x, *(embed(columns[..., k]) for k, embed in enumerate(self.columns))], dim=2)
        output, _ = self.rnn(self.embedding_dropout(x), lengths=lengths)  # (B, T, D·H), zero padding
        emissions = self.head(self.dropout(output))  # (B, T, K)
        return emissions.masked_fill(~mask.unsqueeze(2), 0.0)

    def _check(
        self,
        inputs: Tensor,
        lengths: Tensor | None,
        chars: Tensor | None = None,
        columns: Tensor | None = None,
    ) -> Tensor:
        """Validate the arguments; return the ``(B, T)`` mask of valid steps on the input's device."""
        if not isinstance(inputs, Tensor):
            raise TypeError(f"SequenceTagger: inputs must be a Tensor, got {type(inputs).__name__}")
        check_chars("SequenceTagger", chars, self.chars is not None, inputs)
        wanted = len(self.columns)
        if (columns is None) != (wanted == 0):
            raise ValueError(
                f"SequenceTagger: this model reads {wanted} token columns: it needs columns (B, T, {wanted})"
                if columns is None
                else "SequenceTagger: columns given, but this model reads none (column_vocab_sizes)"
            )
        if columns is not None and tuple(columns.shape) != (*inputs.shape[:2], wanted):
            raise ValueError(f"SequenceTagger: columns must have shape (B, T, F) = "
                             f"{(*inputs.shape[:2], wanted)}, got {tuple(columns.shape)}")  # fmt: skip
        if self.embedding is not None:
            if inputs.dtype.is_floating_point or inputs.dtype.is_complex or inputs.dtype == torch.bool:
                raise TypeError(f"SequenceTagger: token input (vocab_size set) must be integer ids, "
                                f"got dtype {inputs.dtype}")  # fmt: skip
            if inputs.dim() != 2:
                raise ValueError(
                    f"SequenceTagger: token ids must have shape (B, T), got {tuple(inputs.shape)}"
                )
            # the embedding checks that the ids lie in [0, V)
        else:
            if not inputs.dtype.is_floating_point:
                raise TypeError(f"SequenceTagger: feature input (input_size set) must be floating point, "
                                f"got dtype {inputs.dtype}")  # fmt: skip
            if inputs.dim() != 3 or inputs.size(2) != self.config.input_size:
                expected = f"(B, T, I={self.config.input_size})"
                raise ValueError(
                    f"SequenceTagger: features must have shape {expected}, got {tuple(inputs.shape)}"
                )
        batch, steps = inputs.shape[:2]
        if steps < 1:
            raise ValueError(
                f"SequenceTagger: inputs need at least one step, got shape {tuple(inputs.shape)}"
            )
        if lengths is None:
            return torch.ones(batch, steps, dtype=torch.bool, device=inputs.device)
        lengths = check_lengths(lengths, batch, steps).to(inputs.device)
        return torch.arange(steps, device=inputs.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
