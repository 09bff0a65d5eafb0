"""rnnkit: readable, fast and inspectable recurrent networks for PyTorch.

Shape glossary, used everywhere: B batch, T steps, I input features, H hidden features, P projection
size, D directions (1 or 2), L layers, G gate rows (4H for LSTM, 3H for GRU), V vocabulary.
The drop-in layers and cells follow torch.nn (time-major unless ``batch_first=True``; states ``(L*D, B, H)``).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what static tools see (IDEs, the API reference); at run time __getattr__ imports them
    from rnnkit.cells import (
        GRUCell,
        IndRNNCell,
        LayerNormGRUCell,
        LayerNormLSTMCell,
        LSTMCell,
        LSTMState,
        MinGRUCell,
        MinLSTMCell,
        RecurrentCell,
        RecurrentDropout,
        RNNCell,
        WeightDrop,
        Zoneout,
    )
    from rnnkit.fused.stream import Streamer
    from rnnkit.layers import (
        GRU,
        LSTM,
        RNN,
        Bidirectional,
        IndRNN,
        MinGRU,
        MinLSTM,
        Recurrent,
        RNNBase,
        Stacked,
        Stateful,
    )
    from rnnkit.tasks.runner import evaluate, fit, load_run, predict

__version__ = "0.1.0"

_CELLS = ("GRUCell", "IndRNNCell", "LayerNormGRUCell", "LayerNormLSTMCell", "LSTMCell", "LSTMState",
          "MinGRUCell", "MinLSTMCell", "RecurrentCell", "RecurrentDropout", "RNNCell", "WeightDrop",
          "Zoneout")  # fmt: skip
_LAYERS = ("GRU", "LSTM", "RNN", "Bidirectional", "IndRNN", "MinGRU", "MinLSTM", "Recurrent", "RNNBase",
           "Stacked", "Stateful")  # fmt: skip
_LAZY = {
    **dict.fromkeys(_CELLS, "rnnkit.cells"),
    **dict.fromkeys(_LAYERS, "rnnkit.layers"),
    "Streamer": "rnnkit.fused.stream",
    **dict.fromkeys(("fit", "predict", "evaluate", "load_run"), "rnnkit.tasks.runner"),
}
"""Where each public name lives: importing ``rnnkit`` imports no torch, so that ``rnnkit predict`` on an
exported folder (:mod:`rnnkit.export.runtime`) runs where torch is not installed."""


def __getattr__(name: str):
    """``rnnkit.LSTM``, ``rnnkit.fit`` & co. import torch (and the data and training stack) when first used.

    Example:
        >>> import rnnkit
        >>> rnnkit.LSTM.__module__, rnnkit.fit.__name__
        ('rnnkit.layers.rnn', 'fit')
    """
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found once
        return value
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "GRUCell",
    "IndRNN",
    "IndRNNCell",
    "LSTMCell",
    "LSTMState",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "RNNBase",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "RecurrentDropout",
    "Stacked",
    "Stateful",
    "Streamer",
    "WeightDrop",
    "Zoneout",
    "__version__",
    "evaluate",
    "fit",
    "load_run",
    "predict",
]
