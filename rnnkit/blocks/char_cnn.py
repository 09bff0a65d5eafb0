r"""Character-level word features: a convolution over each word's characters, max-pooled (Ma & Hovy 2016).

For a word w of characters ``w_1 … w_L`` (padded with id 0 to the batch's longest word):

    c_j = E[w_j]                                        character embeddings            (L, C)
    z_j = act(W · [c_{j-⌊k/2⌋}; …; c_{j+⌊k/2⌋}] + b)    a width-k convolution, F filters (L, F)
    f_w = max_{j ≤ len(w)} z_j                          over the word's own characters  (F,)

so ``f_w`` says which character n-grams (a capital letter, ``-ing``, a digit, a hyphen, ``-는``) the word
has, wherever they sit in it: what a word embedding cannot know for a word it never saw in training.
A padding word (no characters) gets zeros.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import check_size

_ACTIVATIONS = {"tanh": torch.tanh, "relu": F.relu}


class CharCNN(nn.Module):
    """Word vectors from characters: embedding -> Conv1d ("same" padding) -> activation -> masked max.

    Args:
        vocab_size: the number of character ids; id 0 is padding (its embedding stays zero).
        embedding_dim: C, features per character.
        filters: F, the output size per word.
        kernel_size: k, the width of the character n-grams (odd).
        activation: ``"tanh"`` (Ma & Hovy) or ``"relu"``.

    Shape: ``chars (B, T, L)`` integer ids, 0 past each word's end -> ``(B, T, F)``.

    Example:
        >>> cnn = CharCNN(vocab_size=30, embedding_dim=8, filters=16, kernel_size=3)
        >>> chars = torch.tensor([[[3, 4, 5], [6, 0, 0], [0, 0, 0]]])  # "abc", "d", a padding word
        >>> out = cnn(chars)
        >>> out.shape, out[0, 2].abs().sum().item()
        (torch.Size([1, 3, 16]), 0.0)
        >>> torch.allclose(out[0, 1], cnn(torch.tensor([[[6]]]))[0, 0])  # padding characters change nothing
        True
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 25,
        filters: int = 50,
        kernel_size: int = 3,
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        check_size("CharCNN.vocab_size", vocab_size, 2)
        check_size("CharCNN.embedding_dim", embedding_dim)
        check_size("CharCNN.filters", filters)
        check_size("CharCNN.kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f'CharCNN.kernel_size must be odd ("same" padding), got {kernel_size}')
        if activation not in _ACTIVATIONS:
            raise ValueError(f"CharCNN.activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.filters = filters
        self.activation = activation
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.conv = nn.Conv1d(embedding_dim, filters, kernel_size, padding=kernel_size // 2)

    @classmethod
    def from_config(cls, config: Any) -> CharCNN | None:
        """The CharCNN a model config asks for with its ``char_vocab_size``, ``char_embedding_dim``,
        ``char_filters`` and ``char_kernel_size`` fields; None when ``char_vocab_size`` is None."""
        if config.char_vocab_size is None:
            return None
        return cls(
            config.char_vocab_size, config.char_embedding_dim, config.char_filters, config.char_kernel_size
        )

    def forward(self, chars: Tensor) -> Tensor:
        if chars.dim() != 3 or chars.dtype.is_floating_point or chars.dtype == torch.bool:
            raise ValueError(
                f"CharCNN: chars must be integer ids (B, T, L), got {tuple(chars.shape)} {chars.dtype}"
            )
        batch, steps, width = chars.shape
        words = chars.reshape(batch * steps, width)  # (N, L)
        x = self.embedding(words).transpose(1, 2)  # (N, C, L)
        z = _ACTIVATIONS[self.activation](self.conv(x))  # (N, F, L)
        valid = (words != 0).unsqueeze(1)  # (N, 1, L)
        best = z.masked_fill(~valid, float("-inf")).amax(dim=2)  # (N, F)
        best = best.masked_fill(~valid.any(dim=2), 0.0)  # padding words: zeros, not -inf
        return best.reshape(batch, steps, self.filters)


def check_chars(owner: str, chars: Tensor | None, expected: bool, inputs: Tensor) -> None:
    """Raise ValueError unless ``chars`` is given exactly when the model ``owner`` has character features
    (``expected``), with the ``(B, T)`` of ``inputs``.

    Example:
        >>> check_chars("Model", None, True, torch.zeros(2, 3))
        Traceback (most recent call last):
        ...
        ValueError: Model: this model has character features, so it needs chars (B, T, L)
    """
    if (chars is None) == expected:
        raise ValueError(
            f"{owner}: this model has character features, so it needs chars (B, T, L)"
            if chars is None
            else f"{owner}: chars given, but this model has no character features (char_vocab_size)"
        )
    if chars is not None and (chars.dim() != 3 or chars.shape[:2] != inputs.shape[:2]):
        expected_shape = tuple(inputs.shape[:2])
        raise ValueError(f"{owner}: chars must have shape (B, T, L) with (B, T) = {expected_shape}, "
                         f"got {tuple(chars.shape)}")  # fmt: skip
