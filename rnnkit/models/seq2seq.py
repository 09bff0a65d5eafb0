r"""Seq2Seq: a recurrent encoder-decoder with attention (Luong et al. 2015, with any of the three scores).

    m, h^enc = (Bi)RNN_enc(dropout(E_src x))                m (B, S, D·He): the memory, zero on padding
    s_0 = tanh(W_b [h^enc_n, c^enc_n of all layers and directions] + b_b)        (bridge; else zeros)
    h_t, s_t = RNN_dec([dropout(E_tgt y_{t-1}); h̃_{t-1}], s_{t-1})               (h̃_{t-1}: input feeding)
    c_t, a_t = Attention(h_t, m, src_lengths)                a_t (B, S): 0 on padding, sums to 1
    h̃_t = tanh(W_c [c_t; h_t])       logits_t = W_o dropout(h̃_t) + b_o           (B, V)

The score of the attention is additive ``vᵀ tanh(W h_t + U m_s + b)`` (Bahdanau et al. 2015), general
``h_tᵀ W m_s`` or dot ``h_tᵀ m_s`` (Luong et al. 2015); see :mod:`rnnkit.blocks.attention`.
Training feeds the gold ``y_{t-1}`` (teacher forcing), or with probability ``1 - teacher_forcing_ratio``
per step the model's own previous argmax (scheduled sampling, Bengio et al. 2015). :meth:`Seq2Seq.translate`
decodes greedily or by beam search with GNMT length normalisation (:mod:`rnnkit.models.decoding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.blocks.attention import KINDS, Attention
from rnnkit.layers.factory import RNNConfig, build_rnn
from rnnkit.layers.masking import check_lengths
from rnnkit.layers.rnn_base import RNNBase
from rnnkit.models.decoding import Decoded, beam_search, greedy_decode, reorder_batch
from rnnkit.models.io import register_model


def _bidirectional_lstm() -> RNNConfig:
    return RNNConfig(cell="lstm", hidden_size=128, bidirectional=True)


@dataclass(frozen=True)
class Seq2SeqConfig:
    """A :class:`Seq2Seq`: vocabularies, encoder and decoder RNNs, attention, and training options.

    Args:
        src_vocab_size, tgt_vocab_size: source and target vocabulary sizes.
        embedding_dim: E, the size of both embeddings.
        encoder: the encoder RNN (may be bidirectional; default a bidirectional LSTM of 128).
        decoder: the decoder RNN (unidirectional; its hidden size is the decoder's).
        attention: "additive", "general" or "dot" (dot needs ``encoder.output_size == decoder.output_size``).
        attention_size: A of the additive score (default: the decoder's output size).
        input_feeding: feed ``h̃_{t-1}`` to the decoder with the embedded token (Luong et al. 2015).
        dropout: on both embeddings and on ``h̃_t`` before the output layer.
        bridge: initialise the decoder from the encoder's final states through linear + tanh maps
            (any layer counts, directions and cell types); False: zeros (or a learned initial state).
        teacher_forcing_ratio: probability of feeding the gold token at each training step.
        tie_embeddings: share the target embedding with the output layer (needs
            ``embedding_dim == decoder.output_size``; Press & Wolf 2017).
        bos_id, eos_id, pad_id: special target ids; ``pad_id`` is also the source padding row.

    Example:
        >>> config = Seq2SeqConfig(src_vocab_size=20, tgt_vocab_size=30, attention="additive",
        ...                        encoder=RNNConfig(cell="gru", hidden_size=16, bidirectional=True),
        ...                        decoder=RNNConfig(cell="lstm", hidden_size=32, num_layers=2))
        >>> config.encoder.output_size, config.decoder.output_size
        (32, 32)
    """

    src_vocab_size: int
    tgt_vocab_size: int
    embedding_dim: int = 64
    encoder: RNNConfig = field(default_factory=_bidirectional_lstm)
    decoder: RNNConfig = field(default_factory=RNNConfig)
    attention: Literal["additive", "general", "dot"] = "general"
    attention_size: int | None = None
    input_feeding: bool = False
    dropout: float = 0.0
    bridge: bool = True
    teacher_forcing_ratio: float = 1.0
    tie_embeddings: bool = False
    bos_id: int = 2
    eos_id: int = 3
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "embedding_dim", "attention_size"):
            value = getattr(self, name)
            if (value is not None or name != "attention_size") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"Seq2SeqConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("encoder", "decoder"):
            if not isinstance(getattr(self, name), RNNConfig):
                raise TypeError(f"Seq2SeqConfig.{name} must be an RNNConfig, got {type(getattr(self, name))}")
        if self.decoder.bidirectional:
            raise ValueError("Seq2SeqConfig.decoder.bidirectional must be False (it decodes left to right)")
        if self.bridge and self.decoder.learn_initial_state:
            raise ValueError("Seq2SeqConfig.decoder.learn_initial_state needs bridge=False (bridge sets s_0)")
        if self.attention not in KINDS:
            raise ValueError(f"Seq2SeqConfig.attention must be one of {list(KINDS)}, got {self.attention!r}")
        if self.attention_size is not None and self.attention != "additive":
            raise ValueError(f"Seq2SeqConfig.attention_size applies to attention='additive' only, "
                             f"got attention={self.attention!r}")  # fmt: skip
        if self.attention == "dot" and self.encoder.output_size != self.decoder.output_size:
            raise ValueError(
                "Seq2SeqConfig.attention='dot' needs encoder.output_size == decoder.output_size, got "
                f"{self.encoder.output_size} and {self.decoder.output_size} (use 'general' or 'additive')"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"Seq2SeqConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 <= self.teacher_forcing_ratio <= 1.0:
            raise ValueError(f"Seq2SeqConfig.teacher_forcing_ratio must be in [0, 1], got "
                             f"{self.teacher_forcing_ratio!r}")  # fmt: skip
        if self.tie_embeddings and self.embedding_dim != self.decoder.output_size:
            raise ValueError(f"Seq2SeqConfig.tie_embeddings needs embedding_dim == decoder.output_size, got "
                             f"{self.embedding_dim} and {self.decoder.output_size}")  # fmt: skip
        for name in ("bos_id", "eos_id", "pad_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.tgt_vocab_size:
                raise ValueError(f"Seq2SeqConfig.{name} must be an id in [0, {self.tgt_vocab_size}) "
                                 f"(tgt_vocab_size), got {value!r}")  # fmt: skip
        if len({self.bos_id, self.eos_id, self.pad_id}) != 3:
            raise ValueError(f"Seq2SeqConfig.bos_id, eos_id and pad_id must differ, got "
                             f"{self.bos_id}, {self.eos_id}, {self.pad_id}")  # fmt: skip
        if self.pad_id >= self.src_vocab_size:
            raise ValueError(f"Seq2SeqConfig.pad_id must be < src_vocab_size {self.src_vocab_size}, "
                             f"got {self.pad_id}")  # fmt: skip

    @property
    def rnn(self) -> RNNConfig:
        """The encoder's config (the ``rnn`` every rnnkit model config has)."""
        return self.encoder


class DecoderState(NamedTuple):
    """What one decoding step needs, for N rows (a batch, or batch × beam)."""

    hidden: Any  # the decoder RNN's state, (L, N, H) or (h, c); None: its initial state
    feed: Tensor | None  # (N, Hd) h̃ of the previous step (input feeding), else None
    memory: Tensor  # (N, S, Hk) encoder outputs
    keys: Tensor  # attention.project_keys(memory)
    src_lengths: Tensor  # (N,)


def reorder_state(state: DecoderState, index: Tensor) -> DecoderState:
    """Select rows of a :class:`DecoderState`: dim 1 of the RNN state (torch layout), dim 0 of the rest."""
    return DecoderState(reorder_batch(state.hidden, index, dim=1), *reorder_batch(tuple(state[1:]), index))


def _state_layout(layer: RNNBase) -> tuple[int, tuple[int, ...]]:
    """(rows L·D, sizes of the state parts) of an rnnkit layer: ``(L·D, (H,))`` or ``(L·D, (P or H, H))``."""
    rows = layer.num_layers * (2 if layer.bidirectional else 1)
    return rows, tuple(layer.recurrent_layers()[0].cell.state_sizes)


class Bridge(nn.Module):
    """``s_0^(k) = tanh(W_k f + b_k)`` for each part k of the decoder state (h; c for an LSTM), where f
    concatenates every part of the encoder's final state over layers and directions.

    One map for all rows handles different layer counts, directions and cell types on the two sides.
    """

    def __init__(self, encoder: RNNBase, decoder: RNNBase) -> None:
        super().__init__()
        rows, sizes = _state_layout(encoder)
        self.rows, self.sizes = _state_layout(decoder)
        self.maps = nn.ModuleList(nn.Linear(rows * sum(sizes), self.rows * size) for size in self.sizes)

    def forward(self, final: Any) -> Any:
        parts = tuple(final) if isinstance(final, (tuple, list)) else (final,)
        batch = parts[0].size(1)
        flat = torch.cat([p.transpose(0, 1).reshape(batch, -1) for p in parts], dim=-1)  # (B, L·D·ΣH)
        out = tuple(
            torch.tanh(m(flat)).view(batch, self.rows, size).transpose(0, 1).contiguous()  # (L, B, H)
            for m, size in zip(self.maps, self.sizes)
        )
        return out if len(out) > 1 else out[0]


@register_model("seq2seq")
class Seq2Seq(nn.Module):
    """Encoder-decoder with attention; ``forward`` gives teacher-forced logits and attention weights.

    Args:
        config: a :class:`Seq2SeqConfig`.

    Shape:
        src ``(B, S)`` ids, src_lengths ``(B,)`` in ``[1, S]`` (None: all S), tgt_in ``(B, T)`` ids starting
        with ``bos_id`` (the caller pairs the logits with ``tgt_out``, the targets shifted by one),
        tgt_lengths ``(B,)`` or None -> logits ``(B, T, V)``, attention ``(B, T, S)``.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = Seq2Seq(Seq2SeqConfig(src_vocab_size=12, tgt_vocab_size=12, embedding_dim=8,
        ...                               encoder=RNNConfig(cell="gru", hidden_size=8, bidirectional=True),
        ...                               decoder=RNNConfig(cell="gru", hidden_size=16)))
        >>> src, src_lengths = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
        >>> logits, attention = model(src, src_lengths, torch.tensor([[2, 7, 6], [2, 9, 8]]))
        >>> logits.shape, attention.shape, attention[1, :, 2].tolist()
        (torch.Size([2, 3, 12]), torch.Size([2, 3, 3]), [0.0, 0.0, 0.0])
        >>> decoded, weights = model.translate(src, src_lengths, max_length=5, strategy="beam", beam_size=3)
        >>> decoded.tokens.shape[0], weights.shape[-1]
        (2, 3)
    """

    config_class = Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"Seq2Seq needs a Seq2SeqConfig, got {type(config).__name__}")
        self.config = c = config
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.embedding_dim, padding_idx=c.pad_id)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.embedding_dim, padding_idx=c.pad_id)
        self.encoder = build_rnn(c.encoder, c.embedding_dim)
        feed = c.decoder.output_size if c.input_feeding else 0
        self.decoder = build_rnn(c.decoder, c.embedding_dim + feed)
        hidden, memory = self.decoder.output_size, self.encoder.output_size
        self.bridge = Bridge(self.encoder, self.decoder) if c.bridge else None
        self.attention = Attention(hidden, memory, c.attention, c.attention_size)
        self.combine = nn.Linear(memory + hidden, hidden, bias=False)  # W_c
        self.output = nn.Linear(hidden, c.tgt_vocab_size)  # W_o, b_o
        if c.tie_embeddings:
            self.output.weight = self.tgt_embedding.weight
        self.dropout = nn.Dropout(c.dropout)

    @classmethod
    def from_config(cls, config: Seq2SeqConfig) -> Seq2Seq:
        """Alternate constructor, as every rnnkit model."""
        return cls(config)

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor | None,
        tgt_in: Tensor,
        tgt_lengths: Tensor | None = None,
        teacher_forcing_ratio: float | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Logits ``(B, T, V)`` and attention weights ``(B, T, S)``; both zero past ``tgt_lengths``.

        Args:
            teacher_forcing_ratio: overrides the config's in training; in eval mode the decoder is always
                fed ``tgt_in`` (teacher-forced).
        """
        state = self.encode(src, src_lengths)
        valid = self._check_target(tgt_in, tgt_lengths, src.size(0))
        ratio = self.config.teacher_forcing_ratio if teacher_forcing_ratio is None else teacher_forcing_ratio
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"Seq2Seq: teacher_forcing_ratio must be in [0, 1], got {ratio!r}")
        logits, weights = self._decode(state, tgt_in, ratio if self.training else 1.0)
        if valid is not None:
            logits = logits.masked_fill(~valid.unsqueeze(-1), 0.0)
            weights = weights.masked_fill(~valid.unsqueeze(-1), 0.0)
        return logits, weights

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> DecoderState:
        """Run the encoder; the decoder's starting :class:`DecoderState` for :meth:`step`."""
        src_lengths = self._check_source(src, src_lengths)
        memory, final = self.encoder(self.dropout(self.src_embedding(src)), lengths=src_lengths)
        hidden = None if self.bridge is None else self.bridge(final)
        feed = memory.new_zeros(src.size(0), self.decoder.output_size) if self.config.input_feeding else None
        return DecoderState(hidden, feed, memory, self.attention.project_keys(memory), src_lengths)

    def step(self, tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        """One decoding step: ``tokens (N,)`` (the previous outputs) -> ``logits (N, V)`` and the new state.

        The ``step`` of :mod:`rnnkit.models.decoding`; inputs are not checked (it runs once per token).
        """
        logits, _, state = self._advance(self.dropout(self.tgt_embedding(tokens)), state)
        return logits, state

    @torch.no_grad()
    def translate(
        self,
        src: Tensor,
        src_lengths: Tensor | None = None,
        max_length: int | None = None,
        strategy: Literal["greedy", "beam"] = "greedy",
        beam_size: int = 4,
        alpha: float = 0.6,
    ) -> tuple[Decoded, Tensor]:
        """Decode each source in eval mode (the mode is restored after).

        Args:
            max_length: most tokens per output, EOS included (default ``2 * S + 10``).
            strategy: "greedy" or "beam" (``beam_size`` K; ``alpha``: GNMT length normalisation,
                ``score / ((5 + |Y|) / 6) ** alpha``; beam only).

        Returns:
            ``Decoded(tokens (B, L), lengths (B,), scores (B,))`` (see :mod:`rnnkit.models.decoding`), and
            the attention weights ``(B, L, S)`` of the returned tokens (zero past each length), recomputed by
            one teacher-forced pass over them.
        """
        if strategy not in ("greedy", "beam"):
            raise ValueError(f"Seq2Seq.translate: strategy must be 'greedy' or 'beam', got {strategy!r}")
        was_training = self.training
        self.eval()
        try:
            state = self.encode(src, src_lengths)
            max_length = 2 * src.size(1) + 10 if max_length is None else max_length
            c = self.config
            bos = torch.full((src.size(0),), c.bos_id, dtype=torch.long, device=src.device)
            if strategy == "greedy":
                decoded = greedy_decode(self.step, state, bos, max_length, c.eos_id, c.pad_id)
            else:
                decoded = beam_search(self.step, state, bos, max_length, beam_size, c.eos_id, c.pad_id,
                                      alpha, reorder=reorder_state)  # fmt: skip
            tgt_in = torch.cat([bos.unsqueeze(1), decoded.tokens[:, :-1]], dim=1)
            _, weights = self._decode(state, tgt_in, 1.0)
            valid = torch.arange(tgt_in.size(1), device=src.device) < decoded.lengths.unsqueeze(1)
            return decoded, weights.masked_fill(~valid.unsqueeze(-1), 0.0)
        finally:
            self.train(was_training)

    # ----- internals ------------------------------------------------------------------------------
    def _decode(self, state: DecoderState, tgt_in: Tensor, ratio: float) -> tuple[Tensor, Tensor]:
        """Logits and attention over all target steps, from the encoder's state."""
        embedded = self.dropout(self.tgt_embedding(tgt_in))  # (B, T, E)
        if ratio >= 1.0 and not self.config.input_feeding:  # every input known: one call per layer
            output, _ = self.decoder(embedded, state.hidden)  # (B, T, Hd)
            context, weights = self.attention(output, state.memory, state.src_lengths, None, state.keys)
            return self._readout(context, output)[0], weights
        logits, weights = [], []
        for t in range(tgt_in.size(1)):
            x = embedded[:, t]
            if t > 0 and ratio < 1.0:  # scheduled sampling: own argmax with probability 1 - ratio
                own = torch.rand(tgt_in.size(0), device=tgt_in.device) >= ratio
                x = torch.where(own.unsqueeze(1), self.dropout(self.tgt_embedding(logits[-1].argmax(-1))), x)
            step_logits, step_weights, state = self._advance(x, state)
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    def _advance(self, x: Tensor, state: DecoderState) -> tuple[Tensor, Tensor, DecoderState]:
        """One step from the embedded input ``x (N, E)``: (logits (N, V), weights (N, S), new state)."""
        if state.feed is not None:
            x = torch.cat([x, state.feed], dim=-1)
        output, hidden = self.decoder(x.unsqueeze(1), state.hidden)
        output = output.squeeze(1)  # (N, Hd)
        context, weights = self.attention(output, state.memory, state.src_lengths, projected_keys=state.keys)
        logits, attentional = self._readout(context, output)
        feed = attentional if state.feed is not None else None
        return logits, weights, state._replace(hidden=hidden, feed=feed)

    def _readout(self, context: Tensor, output: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, h̃): ``h̃ = tanh(W_c [c; h])``, ``logits = W_o dropout(h̃) + b_o``."""
        attentional = torch.tanh(self.combine(torch.cat([context, output], dim=-1)))
        return self.output(self.dropout(attentional)), attentional

    def _check_source(self, src: Tensor, src_lengths: Tensor | None) -> Tensor:
        self._check_ids("src", src, self.config.src_vocab_size)
        if src_lengths is None:
            return torch.full((src.size(0),), src.size(1), dtype=torch.long, device=src.device)
        return check_lengths(src_lengths, src.size(0), src.size(1)).to(src.device)

    def _check_target(self, tgt_in: Tensor, tgt_lengths: Tensor | None, batch: int) -> Tensor | None:
        self._check_ids("tgt_in", tgt_in, self.config.tgt_vocab_size)
        if tgt_in.size(0) != batch:
            raise ValueError(f"Seq2Seq: tgt_in must have src's batch size {batch}, got {tgt_in.size(0)}")
        if tgt_lengths is None:
            return None
        check_lengths(tgt_lengths, batch, tgt_in.size(1))
        return torch.arange(tgt_in.size(1), device=tgt_in.device) < tgt_lengths.to(tgt_in.device).unsqueeze(1)

    @staticmethod
    def _check_ids(name: str, ids: Tensor, vocab_size: int) -> None:
        if not isinstance(ids, Tensor):
            raise TypeError(f"Seq2Seq: {name} must be a Tensor of token ids (B, T), got {type(ids).__name__}")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise TypeError(f"Seq2Seq: {name} must hold integer token ids, got dtype {ids.dtype}")
        if ids.dim() != 2 or ids.size(1) == 0:
            raise ValueError(f"Seq2Seq: {name} must have shape (B, T) with T >= 1, got {tuple(ids.shape)}")
        if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < vocab_size:
            raise ValueError(f"Seq2Seq: {name} ids must be in [0, {vocab_size}), got min {int(ids.min())}, "
                             f"max {int(ids.max())}")  # fmt: skip
