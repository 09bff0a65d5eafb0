r"""SequenceGenerator: a one-to-many recurrent language model, optionally conditioned (captioning pattern).

    x_t = Embedding(token_t)                                     (B, T, E)
    s   = [condition ; ClassEmbedding(label)]                    (B, S)   when conditioned
    h_0 = tanh(W_s s + b_s)     (h_0 and c_0, every layer)       condition_mode="init_state"
    x_t = [x_t ; s]             (the same s at every step)       condition_mode="every_step"
    h_t = RNN(x)_t               (any unidirectional RNNConfig)  (B, T, H)
    logits_t = W_o h_t + b_o     (W_o = Embedding.weight when tied, Press & Wolf 2017)

``logits[:, t]`` predicts ``tokens[:, t + 1]``: train with
``masked_cross_entropy(logits[:, :-1], tokens[:, 1:], lengths - 1)`` on sequences written
``<bos> w_1 ... w_n <eos>``. :meth:`SequenceGenerator.generate` continues prompts (nanoGPT's
``generate(idx, max_new_tokens, temperature, top_k)``) with the decoders of :mod:`rnnkit.models.decoding`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.cells.base import State
from rnnkit.decoding_options import check_decoding_options
from rnnkit.layers.factory import RNNConfig, build_rnn
from rnnkit.layers.masking import check_lengths
from rnnkit.models.decoding import Decoded, beam_search, greedy_decode, reorder_batch, sample_decode
from rnnkit.models.io import register_model


@dataclass(frozen=True)
class GeneratorConfig:
    """A :class:`SequenceGenerator`.

    Args:
        vocab_size: V, token ids ``0 .. V-1`` (the specials included).
        embedding_dim: E, the token embedding size (and the class embedding size when ``num_classes``).
        rnn: the recurrent layer; unidirectional only (a language model cannot look ahead).
        dropout: dropout on the embeddings and on the RNN outputs.
        tie_weights: share the embedding matrix with the output layer; needs
            ``embedding_dim == rnn.output_size`` (``proj_size or hidden_size``).
        condition_size: C, the size of a conditioning vector (an image feature, say), or None.
        condition_mode: "init_state" (a tanh-linear map of the condition gives the initial state of every
            layer, in place of ``rnn.learn_initial_state``'s) or "every_step" (the condition is concatenated
            to every input embedding).
        num_classes: condition on a class label through a learned class embedding of size E, used like a
            condition vector (concatenated after it when both are given); or None.
        bos_id, eos_id, pad_id: the specials, as rnnkit's Vocab fixes them (<pad>=0 <unk>=1 <bos>=2 <eos>=3).

    Example:
        >>> config = GeneratorConfig(vocab_size=50, embedding_dim=16, rnn=RNNConfig(hidden_size=16),
        ...                          tie_weights=True, num_classes=3)
        >>> config.rnn.cell, config.condition_mode
        ('lstm', 'init_state')
    """

    vocab_size: int
    embedding_dim: int = 64
    rnn: RNNConfig = field(default_factory=RNNConfig)
    dropout: float = 0.0
    tie_weights: bool = False
    condition_size: int | None = None
    condition_mode: Literal["init_state", "every_step"] = "init_state"
    num_classes: int | None = None
    bos_id: int = 2
    eos_id: int = 3
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name, low in (("vocab_size", 2), ("embedding_dim", 1), ("condition_size", 1), ("num_classes", 1)):
            value = getattr(self, name)
            if (value is not None or name in ("vocab_size", "embedding_dim")) and (
                isinstance(value, bool) or not isinstance(value, int) or value < low
            ):
                raise ValueError(f"GeneratorConfig.{name} must be an int >= {low}, got {value!r}")
        for name in ("bos_id", "eos_id", "pad_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.vocab_size:
                raise ValueError(
                    f"GeneratorConfig.{name} must be a token id in [0, vocab_size={self.vocab_size}), "
                    f"got {value!r}"
                )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GeneratorConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.condition_mode not in ("init_state", "every_step"):
            raise ValueError(f"GeneratorConfig.condition_mode must be 'init_state' or 'every_step', "
                             f"got {self.condition_mode!r}")  # fmt: skip
        if not isinstance(self.rnn, RNNConfig):
            raise TypeError(f"GeneratorConfig.rnn must be an RNNConfig, got {type(self.rnn).__name__}")
        if self.rnn.bidirectional:
            raise ValueError(
                "GeneratorConfig.rnn.bidirectional must be False: a language model predicts the next token "
                "from the past only, and generation runs one step at a time"
            )
        if self.tie_weights and self.embedding_dim != self.rnn.output_size:
            raise ValueError(f"GeneratorConfig.tie_weights needs embedding_dim == rnn.output_size (proj_size "
                             f"or hidden_size), got embedding_dim={self.embedding_dim}, "
                             f"rnn.output_size={self.rnn.output_size}")  # fmt: skip

    @property
    def state_condition_size(self) -> int:
        """S, the size of the conditioning vector ``[condition ; class embedding]`` (0: unconditioned)."""
        return (self.condition_size or 0) + (self.embedding_dim if self.num_classes else 0)


class GeneratorState(NamedTuple):
    """What :meth:`SequenceGenerator.step` carries: the layer's ``hx`` (``(L, B, H)``, ``(h, c)`` for
    LSTM, None for the layer's initial state) and, with ``condition_mode="every_step"``, the conditioning
    vector ``(B, S)`` fed at every step (None otherwise)."""

    hx: State | None
    condition: Tensor | None = None


def reorder_state(state: GeneratorState, index: Tensor) -> GeneratorState:
    """Select rows of a :class:`GeneratorState` by a ``(N,)`` index (beam search's ``reorder``):
    dim 1 of ``hx`` (torch's state layout), dim 0 of the condition."""
    return GeneratorState(reorder_batch(state.hx, index, dim=1), reorder_batch(state.condition, index))


@register_model("generator")
class SequenceGenerator(nn.Module):
    """Next-token prediction with any recurrent layer, optionally conditioned on a vector or a class.

    ``forward`` is teacher forcing and returns logits, never a loss: ``logits[:, t]`` predicts
    ``tokens[:, t + 1]``. :meth:`step` advances one token, :meth:`generate` continues prompts. Padded steps
    (past ``lengths``) never change a valid step's logits nor the returned state.

    Args:
        config: a :class:`GeneratorConfig`.

    Shape:
        tokens ``(B, T)`` ids; lengths ``(B,)`` in ``[1, T]`` or None; condition ``(B, C)``; labels ``(B,)``;
        logits ``(B, T, V)``.

    Example:
        >>> from rnnkit.losses import masked_cross_entropy
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = SequenceGenerator(GeneratorConfig(vocab_size=10, embedding_dim=8,
        ...                                           rnn=RNNConfig(cell="gru", hidden_size=8)))
        >>> tokens, lengths = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]]), torch.tensor([4, 3])
        >>> logits, state = model(tokens, lengths)
        >>> loss = masked_cross_entropy(logits[:, :-1], tokens[:, 1:], lengths - 1)
        >>> logits.shape, state.hx.shape
        (torch.Size([2, 4, 10]), torch.Size([1, 2, 8]))
        >>> out = model.generate(torch.tensor([[2, 5]]), max_new_tokens=6, strategy="sample", top_k=3, seed=0)
        >>> out.tokens.shape[1] <= 6, out.lengths.shape
        (True, torch.Size([1]))
    """

    config_class = GeneratorConfig

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        if not isinstance(config, GeneratorConfig):
            raise TypeError(f"SequenceGenerator takes a GeneratorConfig, got {type(config).__name__}")
        self.config = config
        cond = config.state_condition_size
        # padding never reaches a valid step (lengths), so pad needs no padding_idx; tied, it is an output row
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.class_embedding = (
            nn.Embedding(config.num_classes, config.embedding_dim) if config.num_classes else None
        )
        every_step = self._every_step = cond > 0 and config.condition_mode == "every_step"
        self.rnn = build_rnn(config.rnn, config.embedding_dim + (cond if every_step else 0))
        self._state_sizes = tuple(self.rnn.recurrent_layers()[0].cell.state_sizes)
        init_size = config.rnn.num_layers * sum(self._state_sizes)
        self.condition_to_state = nn.Linear(cond, init_size) if cond and not every_step else None
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.rnn.output_size, config.vocab_size)
        if config.tie_weights:
            self.head.weight = self.embedding.weight

    @classmethod
    def from_config(cls, config: GeneratorConfig) -> SequenceGenerator:
        """Alternate constructor (as every rnnkit model)."""
        return cls(config)

    def initial_state(self, condition: Tensor | None = None, labels: Tensor | None = None) -> GeneratorState:
        """The state before the first token, from the condition and/or labels the config asks for
        (``GeneratorState(None)`` for an unconditioned model: the layer's own initial state).

        Raises:
            ValueError: a condition or labels the config does not ask for, a missing one, a wrong shape,
                labels outside ``[0, num_classes)``, or condition and labels with different batch sizes.
        """
        vector = self._condition_vector(condition, labels)  # (B, S) or None
        if vector is None or self.condition_to_state is None:  # every_step: the vector rides in the state
            return GeneratorState(None, vector)
        flat = torch.tanh(self.condition_to_state(vector))  # (B, L * sum(state sizes))
        layers, batch = self.config.rnn.num_layers, vector.size(0)
        pieces = flat.split([layers * size for size in self._state_sizes], dim=-1)
        hx = [
            p.view(batch, layers, n).transpose(0, 1).contiguous() for p, n in zip(pieces, self._state_sizes)
        ]
        return GeneratorState(tuple(hx) if len(hx) == 2 else hx[0])  # (L, B, H) each

    def _condition_vector(self, condition: Tensor | None, labels: Tensor | None) -> Tensor | None:
        c = self.config
        for name, value, field_name, size in (
            ("condition", condition, "condition_size", c.condition_size),
            ("labels", labels, "num_classes", c.num_classes),
        ):
            if size is None and value is not None:
                raise ValueError(
                    f"got {name} but GeneratorConfig.{field_name} is None (an unconditioned model)"
                )
            if size is not None and value is None:
                raise ValueError(
                    f"this model is conditioned (GeneratorConfig.{field_name}={size}): give {name}"
                )
        parts = []
        if condition is not None:
            if not isinstance(condition, Tensor) or not condition.is_floating_point():
                raise TypeError(f"condition must be a float Tensor (B, C), got {type(condition).__name__} "
                                f"{getattr(condition, 'dtype', '')}")  # fmt: skip
            if condition.dim() != 2 or condition.size(1) != c.condition_size:
                raise ValueError(
                    f"condition must have shape (B, {c.condition_size}), got {tuple(condition.shape)}"
                )
            parts.append(condition.to(self.head.weight.dtype))
        if labels is not None:
            if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.dim() != 1:
                raise ValueError(f"labels must be an integer Tensor (B,), got {labels!r:.80}")
            if not bool(((labels >= 0) & (labels < c.num_classes)).all()):
                raise ValueError(
                    f"labels must lie in [0, num_classes={c.num_classes}), got {labels.tolist()}"
                )
            parts.append(self.class_embedding(labels))
        if len(parts) == 2 and parts[0].size(0) != parts[1].size(0):  # traced sizes are tensors: no set
            raise ValueError(f"condition has {parts[0].size(0)} rows but labels has {parts[1].size(0)}")
        return torch.cat(parts, dim=-1) if parts else None

    def forward(
        self,
        tokens: Tensor,
        lengths: Tensor | None = None,
        condition: Tensor | None = None,
        labels: Tensor | None = None,
        state: GeneratorState | None = None,
    ) -> tuple[Tensor, GeneratorState]:
        """Teacher-forced logits: ``logits[:, t]`` is the prediction of ``tokens[:, t + 1]``.

        Args:
            tokens: ``(B, T)`` token ids.
            lengths: ``(B,)`` valid lengths in ``[1, T]``; None: all T steps are valid.
            condition / labels: start from these (when the config is conditioned); or
            state: continue from a state returned by ``forward`` or :meth:`step` (not both).

        Returns:
            ``(logits (B, T, V), state)``; the state is each sequence's after its last valid token.
        """
        batch, steps = self._check_tokens(tokens, check_ids=True)
        if lengths is not None:
            lengths = check_lengths(lengths, batch, steps)
        for name, value in (("condition", condition), ("labels", labels)):
            if isinstance(value, Tensor) and value.dim() and value.size(0) != batch:
                raise ValueError(f"{name} has {value.size(0)} rows, tokens have {batch} (one per sequence)")
        if state is None:
            state = self.initial_state(condition, labels)
        elif condition is not None or labels is not None:
            raise ValueError("give condition/labels to start sequences or state to continue them, not both")
        x = self._inputs(tokens, state)
        output, hx = self.rnn(x, state.hx, lengths=lengths)  # (B, T, H)
        return self.head(self.dropout(output)), GeneratorState(hx, state.condition)

    def step(self, tokens: Tensor, state: GeneratorState | None = None) -> tuple[Tensor, GeneratorState]:
        """One token per sequence: ``tokens (N,)`` -> ``(logits (N, V), state)``, the decoders' step function.

        Start from :meth:`initial_state` (needed for a conditioned model) or a state from ``forward``.
        """
        self._check_tokens(tokens, check_ids=False, dims=1)
        state = self.initial_state() if state is None else state  # an error for a conditioned model
        x = self._inputs(tokens.unsqueeze(1), state)  # (N, 1, E)
        output, hx = self.rnn(x, state.hx)
        return self.head(self.dropout(output[:, 0])), GeneratorState(hx, state.condition)

    def _inputs(self, tokens: Tensor, state: GeneratorState) -> Tensor:
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        if self._every_step:
            if state.condition is None:
                raise ValueError("condition_mode='every_step' needs state.condition (see initial_state)")
            if state.condition.size(0) != x.size(0):
                raise ValueError(
                    f"state.condition has {state.condition.size(0)} rows, tokens have {x.size(0)}"
                )
            x = torch.cat([x, state.condition.unsqueeze(1).expand(-1, x.size(1), -1)], dim=-1)  # (B, T, E+S)
        return x

    def _check_tokens(self, tokens: Tensor, check_ids: bool, dims: int = 2) -> tuple[int, ...]:
        shape = "(B, T) with T >= 1" if dims == 2 else "(N,)"
        if not isinstance(tokens, Tensor) or tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise TypeError(
                f"tokens must be an integer Tensor {shape}, got {getattr(tokens, 'dtype', type(tokens))}"
            )
        if tokens.dim() != dims or (dims == 2 and tokens.size(1) == 0):
            raise ValueError(f"tokens must have shape {shape}, got {tuple(tokens.shape)}")
        if check_ids and tokens.numel():
            low, high = int(tokens.min()), int(tokens.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(f"token ids must lie in [0, vocab_size={self.config.vocab_size}), "
                                 f"got ids from {low} to {high}")  # fmt: skip
        return tuple(tokens.shape)

    @torch.no_grad()
    def generate(
        self,
        prompt: Tensor | None = None,
        max_new_tokens: int = 50,
        *,
        lengths: Tensor | None = None,
        strategy: Literal["greedy", "sample", "beam"] = "greedy",
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        beam_size: int | None = None,
        alpha: float | None = None,
        condition: Tensor | None = None,
        labels: Tensor | None = None,
        batch_size: int | None = None,
        stop_at_eos: bool = True,
    ) -> Decoded:
        """Continue each prompt by up to ``max_new_tokens`` tokens, in ``eval()`` mode without gradients.

        The prompt is fed as it is (start it with ``bos_id`` if the model was trained so); None starts
        from ``<bos>`` alone, for ``batch_size`` sequences (default: the rows of condition/labels, or 1).
        Each prompt is run up to its own length, and decoding starts from the logits after its last valid
        token, so prompts of different lengths batch exactly as they run alone.

        Args:
            prompt: ``(B, T0)`` token ids, or None.
            max_new_tokens: the most tokens to generate per sequence (EOS included).
            lengths: ``(B,)`` valid prompt lengths (None: all ``T0``).
            strategy: "greedy" (argmax), "sample" (temperature / top_k / top_p, reproducible with ``seed``
                or a ``generator``) or "beam" (``beam_size``, default 4, and length normalisation ``alpha``).
            condition / labels: for a conditioned model.
            stop_at_eos: stop a sequence at ``eos_id`` (beam search needs it).

        Returns:
            :class:`~rnnkit.models.decoding.Decoded`: the new tokens ``(B, L)`` (``pad_id`` after EOS), their
            ``lengths`` (EOS counted) and the summed log-probabilities ``scores``. nanoGPT's output (prompt
            and continuation) is ``torch.cat([prompt, tokens], 1)`` when all prompts have the same length.
        """
        c, device = self.config, self.head.weight.device
        sampling = dict(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, generator=generator)
        _check_decoding_options(
            strategy, max_new_tokens, stop_at_eos, beam_size=beam_size, alpha=alpha, **sampling
        )
        if prompt is None:
            if lengths is not None:
                raise ValueError("lengths gives the prompts' lengths, but there is no prompt")
            rows = next((t.size(0) for t in (condition, labels) if isinstance(t, Tensor) and t.dim()), 1)
            prompt = torch.full((batch_size or rows, 1), c.bos_id, dtype=torch.long, device=device)
        elif batch_size is not None and isinstance(prompt, Tensor) and prompt.size(0) != batch_size:
            raise ValueError(f"batch_size={batch_size} but the prompt has {prompt.size(0)} rows")
        was_training = self.training
        self.eval()
        try:
            logits, state = self(prompt, lengths, condition, labels)
            rows = torch.arange(prompt.size(0), device=device)
            last = torch.full_like(rows, prompt.size(1) - 1) if lengths is None else lengths.to(device) - 1
            carry = (state, logits[rows, last])  # the prompt's prediction is the first step's logits

            def step(tokens: Tensor, carry: tuple[GeneratorState, Tensor | None]) -> tuple[Tensor, Any]:
                state, pending = carry
                if pending is not None:
                    return pending, (state, None)
                logits, state = self.step(tokens, state)
                return logits, (state, None)

            start, eos = prompt[rows, last], c.eos_id if stop_at_eos else None
            if strategy == "greedy":
                return greedy_decode(step, carry, start, max_new_tokens, eos, c.pad_id)
            if strategy == "sample":
                generator = torch.Generator().manual_seed(seed) if seed is not None else generator
                temperature = 1.0 if temperature is None else temperature
                return sample_decode(
                    step, carry, start, max_new_tokens, eos, c.pad_id, temperature, top_k, top_p, generator
                )
            return beam_search(
                step, carry, start, max_new_tokens, 4 if beam_size is None else beam_size, c.eos_id, c.pad_id,
                alpha or 0.0,
                lambda carry, index: (reorder_state(carry[0], index), reorder_batch(carry[1], index)),
            )  # fmt: skip
        finally:
            self.train(was_training)


def _check_decoding_options(strategy: str, max_new_tokens: int, stop_at_eos: bool, **options: Any) -> None:
    """:func:`~rnnkit.decoding_options.check_decoding_options`, and ``seed`` and ``generator`` not both."""
    check_decoding_options(strategy, max_new_tokens, stop_at_eos, **options)
    if options["seed"] is not None and options["generator"] is not None:
        raise ValueError("give seed or generator, not both")
