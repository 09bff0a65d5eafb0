"""The long-memory problems: data, loss, test error and the trivial baseline each is judged against.

============  =====================================  =================  ================================
problem       input -> target                        test error         trivial baseline
============  =====================================  =================  ================================
adding T      (value, marker) x T -> sum of the two  MSE                predict 1: MSE 1/6 ≈ 0.167
              marked values (one in each half)
copy T        10 symbols, T-1 blanks, a delimiter,   cross-entropy per  blanks, then a uniform guess:
              10 blanks -> blanks, then the symbols  step (nats)        10 log 8 / (T + 20)
digits        an 8x8 digit, pixel by pixel (64       error rate         the most frequent class
              steps) -> its class
============  =====================================  =================  ================================

The adding problem is Hochreiter & Schmidhuber (1997) in the form of Le et al. (2015) (see
:func:`rnnkit.data.synthetic.adding_problem`); the copy-memory task is Arjovsky et al. (2016); sequential
digits is the pixel-by-pixel MNIST of Le et al. (2015) on the 8x8 digits that ship with scikit-learn (1797
images, no download), split 80/20 with a fixed seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data.synthetic import adding_problem

__all__ = ["COPY_SYMBOLS", "Problem", "copy_memory", "load_digits", "make_problem"]

COPY_SYMBOLS = 8  # symbols 1..8; 0 is the blank, 9 the delimiter
COPY_LENGTH = 10  # symbols to remember


def copy_memory(
    batch_size: int, delay: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """The copy-memory task (Arjovsky et al. 2016), ``T + 20`` steps for a delay ``T``.

        input    s_1 .. s_10   0 x (T - 1)   9   0 x 10          s_i ~ U{1..8}, 0 blank, 9 delimiter
        target   0 x (T + 10)                    s_1 .. s_10

    A model that outputs blanks and then guesses uniformly among the 8 symbols scores the baseline
    cross-entropy ``10 log 8 / (T + 20)`` per step.

    Returns:
        inputs ``(B, T + 20)`` symbols 0-9 (long) and targets ``(B, T + 20)`` (long).

    Example:
        >>> x, y = copy_memory(2, 5, torch.Generator().manual_seed(0))
        >>> x.shape, bool((y[:, -10:] == x[:, :10]).all()), x[0, 14].item()
        (torch.Size([2, 25]), True, 9)
    """
    if delay < 1:
        raise ValueError(f"copy_memory needs a delay >= 1, got {delay}")
    symbols = torch.randint(1, COPY_SYMBOLS + 1, (batch_size, COPY_LENGTH), generator=generator)
    steps = delay + 2 * COPY_LENGTH
    inputs = torch.zeros(batch_size, steps, dtype=torch.long)
    targets = torch.zeros(batch_size, steps, dtype=torch.long)
    inputs[:, :COPY_LENGTH] = symbols
    inputs[:, delay + COPY_LENGTH - 1] = COPY_SYMBOLS + 1  # the delimiter
    targets[:, -COPY_LENGTH:] = symbols
    return inputs, targets


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """scikit-learn's 8x8 digits as sequences of 64 pixels in [0, 1]: (x_train, y_train, x_test, y_test),
    ``x`` of shape ``(N, 64, 1)``.

    Raises:
        ImportError: scikit-learn is not installed (the message says how to install it or skip the task).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise ImportError(
            "the sequential-digits task reads the 8x8 digits that ship with scikit-learn, which is not "
            "installed: `pip install scikit-learn`, or leave the task out (--tasks adding,copy)"
        ) from error
    data = sklearn_digits()
    x = torch.tensor(data.data, dtype=torch.float32).div(16.0).unsqueeze(-1)  # (N, 64, 1), row by row
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = round(len(y) * (1 - test_fraction))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]


@dataclass
class Problem:
    """One row group of the table: how to draw training batches, the fixed test set, the error and baseline.

    Attributes:
        name: ``"adding"``, ``"copy"`` or ``"digits"``.
        length: T for adding, the delay T for copy, 64 for digits.
        input_size, output_size: of the model; ``per_step``: a prediction at every step (copy) or one at the
            end (adding, digits).
        baseline: the trivial baseline's test error.
    """

    name: str
    length: int
    input_size: int
    output_size: int
    per_step: bool
    baseline: float
    test: tuple[Tensor, Tensor]
    train: tuple[Tensor, Tensor] | None = None

    @property
    def label(self) -> str:
        return {"adding": f"adding T={self.length}", "copy": f"copy T={self.length}"}.get(
            self.name, self.name
        )

    @property
    def steps(self) -> int:
        """Steps of a sequence (what a cell must remember across)."""
        return self.length + 2 * COPY_LENGTH if self.name == "copy" else self.length

    def batch(self, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """A training batch: fresh synthetic sequences, or a random draw from the digits' training split."""
        if self.name == "adding":
            return adding_problem(size, self.length, generator)
        if self.name == "copy":
            return copy_memory(size, self.length, generator)
        x, y = self.train
        index = torch.randint(0, len(y), (size,), generator=generator)
        return x[index], y[index]

    def encode(self, x: Tensor) -> Tensor:
        """Model input from the raw one: copy's symbols become one-hot vectors."""
        return F.one_hot(x, COPY_SYMBOLS + 2).float() if self.name == "copy" else x

    def loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Training loss: MSE (adding) or cross-entropy (per step for copy)."""
        if self.name == "adding":
            return F.mse_loss(prediction.squeeze(-1), target)
        return F.cross_entropy(prediction.flatten(0, -2), target.flatten())

    def error(self, prediction: Tensor, target: Tensor) -> float:
        """Test error: MSE, cross-entropy per step, or the error rate."""
        if self.name == "digits":
            return float((prediction.argmax(-1) != target).float().mean())
        return float(self.loss(prediction, target))


def make_problem(name: str, length: int | None = None, test_size: int = 1000, seed: int = 1234) -> Problem:
    """A :class:`Problem` with its fixed test set (drawn with ``seed``, never seen in training).

    Example:
        >>> p = make_problem("copy", 50, test_size=4)
        >>> p.label, round(p.baseline, 4), p.test[0].shape
        ('copy T=50', 0.2971, torch.Size([4, 70]))
    """
    generator = torch.Generator().manual_seed(seed)
    if name == "adding":
        return Problem("adding", length, 2, 1, False, 1 / 6, adding_problem(test_size, length, generator))
    if name == "copy":
        baseline = COPY_LENGTH * math.log(COPY_SYMBOLS) / (length + 2 * COPY_LENGTH)
        return Problem("copy", length, COPY_SYMBOLS + 2, COPY_SYMBOLS + 2, True, baseline,
                       copy_memory(test_size, length, generator))  # fmt: skip
    if name == "digits":
        x_train, y_train, x_test, y_test = load_digits()
        majority = torch.bincount(y_train).argmax()
        baseline = float((y_test != majority).float().mean())
        return Problem("digits", 64, 1, 10, False, baseline, (x_test, y_test), (x_train, y_train))
    raise ValueError(f"unknown problem {name!r} (known: adding, copy, digits)")
