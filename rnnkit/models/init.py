"""Weight initialisations a model can start from: torch's (the default) or Keras's.

Keras's defaults, which the Keras models of the lecture notes start from::

    embedding        E ~ U(-0.05, 0.05)                      padding row 0 (torch: N(0, 1))
    conv, dense      W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)), b = 0    (Glorot uniform)
    recurrent        W_ih ~ Glorot uniform over the (gates * H, I) matrix, W_hh orthogonal, b = 0,
                     and the LSTM's forget-gate bias 1 (Keras's ``unit_forget_bias``; Jozefowicz et al. 2015)

torch starts every recurrent matrix and bias at U(-1/sqrt(H), 1/sqrt(H)) and embeddings at N(0, 1), which
is large next to the rest: with it the lecture's Embedding -> Conv1D -> MaxPool1D -> LSTM classifier needs
more epochs to reach the same validation accuracy (``benchmarks/time_to_accuracy.py --keras-init torch``).

Example:
    >>> import torch
    >>> from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
    >>> config = ClassifierConfig.conv_lstm(50, 2, embedding_dim=8, channels=4, hidden_size=6)
    >>> model = SequenceClassifier(config)
    >>> _ = keras_init_(model)
    >>> bool(model.embedding.weight.abs().max() <= 0.05), model.embedding.weight[0].abs().sum().item()
    (True, 0.0)
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from rnnkit.blocks.embedding import Embedding
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.lstm import LSTMCell

Init = Literal["torch", "keras"]
INITS = ("torch", "keras")
EMBEDDING_RANGE = 0.05  # keras.initializers.RandomUniform's default range


@torch.no_grad()
def keras_init_(model: nn.Module) -> nn.Module:
    """Re-initialise ``model``'s embeddings, convolutions, linear layers and recurrent cells in place as
    Keras does by default (the module docstring); other parameters (layer-norm gains, peepholes,
    projections) keep theirs. Returns ``model``."""
    for module in model.modules():
        if isinstance(module, RecurrentCell):
            _recurrent(module)
        elif isinstance(module, (nn.Conv1d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, (nn.Embedding, Embedding)):
            module.weight.uniform_(-EMBEDDING_RANGE, EMBEDDING_RANGE)
            padding = getattr(module, "padding_idx", None)
            if padding is not None:
                module.weight[padding].zero_()
    return model


def _recurrent(cell: RecurrentCell) -> None:
    weight_ih, weight_hh = getattr(cell, "weight_ih", None), getattr(cell, "weight_hh", None)
    if not isinstance(weight_ih, nn.Parameter) or not isinstance(weight_hh, nn.Parameter):
        return  # a cell of another form (minGRU's, IndRNN's vector): torch's initialisation stays
    nn.init.xavier_uniform_(weight_ih)
    if weight_hh.dim() == 2:
        for gate in weight_hh.split(cell.hidden_size, dim=0):  # each gate's block, as Keras's kernel
            nn.init.orthogonal_(gate)
    for name in ("bias_ih", "bias_hh"):
        bias = getattr(cell, name, None)
        if isinstance(bias, nn.Parameter):
            bias.zero_()
    if isinstance(cell, LSTMCell) and isinstance(getattr(cell, "bias_ih", None), nn.Parameter):
        hidden = cell.hidden_size
        forget = slice(0, hidden) if cell.coupled else slice(hidden, 2 * hidden)
        cell.bias_ih[forget].fill_(1.0)


def initialise_(model: nn.Module, init: Init) -> nn.Module:
    """``model`` re-initialised by ``init`` (``"torch"``: left as built; ``"keras"``: :func:`keras_init_`).

    Example:
        >>> initialise_(nn.Linear(2, 2), "jax")
        Traceback (most recent call last):
        ...
        ValueError: init must be one of ['torch', 'keras'], got 'jax'
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    return keras_init_(model) if init == "keras" else model
