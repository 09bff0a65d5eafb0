"""rnnkit: readable, fast and inspectable recurrent networks for PyTorch.

Shape glossary, used everywhere: B batch, T steps, I input features, H hidden features, P projection
size, D directions (1 or 2), L layers, G gate rows (4H for LSTM, 3H for GRU), V vocabulary.
The drop-in layers and cells follow torch.nn (time-major unless ``batch_first=True``; states ``(L*D, B, H)``).
"""

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

__version__ = "0.1.0"

_LAZY = {"fit": "rnnkit.tasks.runner", "predict": "rnnkit.tasks.runner", "evaluate": "rnnkit.tasks.runner",
         "load_run": "rnnkit.tasks.runner"}  # fmt: skip


def __getattr__(name: str):
    """``rnnkit.fit`` & co. import the data and training stack only when first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


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
