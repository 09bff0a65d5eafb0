"""RNNConfig: every rnnkit recurrent layer and variant as one small config, and build_rnn to make it.

Models take an ``RNNConfig`` for their recurrent part, so every cell type and variant of the layers is
available in every model and is saved with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnnkit.layers.rnn import GRU, LSTM, RNN, IndRNN, MinGRU, MinLSTM
from rnnkit.layers.rnn_base import RNNBase

CellName = Literal["rnn", "lstm", "gru", "indrnn", "mingru", "minlstm"]

_LSTM_ONLY = ("proj_size", "peephole", "coupled", "forget_bias")
_LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU, "indrnn": IndRNN, "mingru": MinGRU, "minlstm": MinLSTM}


@dataclass(frozen=True)
class RNNConfig:
    """A recurrent layer: cell type, sizes, and any variant of :mod:`rnnkit.layers.rnn`.

    Options a cell does not have must stay at their defaults (``peephole=True`` on a GRU is an error).

    Example:
        >>> layer = build_rnn(RNNConfig(cell="gru", hidden_size=16, bidirectional=True, layer_norm=True), 8)
        >>> type(layer).__name__, layer.output_size
        ('GRU', 32)
    """

    cell: CellName = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0  # between layers
    nonlinearity: Literal["tanh", "relu"] | None = None  # rnn: tanh, indrnn: relu when None
    proj_size: int = 0
    layer_norm: bool = False
    peephole: bool = False
    coupled: bool = False
    forget_bias: float | None = None
    reset_after: bool = True
    recurrent_max_abs: float | None = None
    recurrent_dropout: float = 0.0
    zoneout: float | tuple[float, float] = 0.0
    weight_drop: float = 0.0
    learn_initial_state: bool = False
    impl: Literal["auto", "reference", "native", "fused"] = "auto"
    recompute: bool = False  # fused kernel: recompute the gates in backward (less memory)

    def __post_init__(self) -> None:
        if self.cell not in _LAYERS:
            raise ValueError(f"RNNConfig.cell must be one of {sorted(_LAYERS)}, got {self.cell!r}")
        defaults = RNNConfig.__dataclass_fields__
        allowed = {
            "rnn": {"nonlinearity"},
            "lstm": {*_LSTM_ONLY, "layer_norm"},
            "gru": {"reset_after", "layer_norm"},
            "indrnn": {"nonlinearity", "recurrent_max_abs"},
            "mingru": set(),
            "minlstm": set(),
        }[self.cell]
        for name in ("nonlinearity", *_LSTM_ONLY, "layer_norm", "reset_after", "recurrent_max_abs"):
            if name not in allowed and getattr(self, name) != defaults[name].default:
                raise ValueError(f"RNNConfig.{name} does not apply to cell={self.cell!r}")

    @property
    def output_size(self) -> int:
        """Features per step of the layer's output: ``D * (proj_size or hidden_size)``."""
        return (2 if self.bidirectional else 1) * (self.proj_size or self.hidden_size)


def build_rnn(config: RNNConfig, input_size: int) -> RNNBase:
    """The batch-first rnnkit layer described by ``config``, taking ``input_size`` features."""
    options = {
        "num_layers": config.num_layers,
        "batch_first": True,
        "dropout": config.dropout,
        "bidirectional": config.bidirectional,
        "recurrent_dropout": config.recurrent_dropout,
        "zoneout": tuple(config.zoneout) if isinstance(config.zoneout, (list, tuple)) else config.zoneout,
        "weight_drop": config.weight_drop,
        "learn_initial_state": config.learn_initial_state,
        "impl": config.impl,
        "recompute": config.recompute,
    }
    if config.cell == "lstm":
        options.update(proj_size=config.proj_size, layer_norm=config.layer_norm, peephole=config.peephole,
                       coupled=config.coupled, forget_bias=config.forget_bias)  # fmt: skip
    elif config.cell == "gru":
        options.update(reset_after=config.reset_after, layer_norm=config.layer_norm)
    elif config.cell == "rnn":
        options.update(nonlinearity=config.nonlinearity or "tanh")
    elif config.cell == "indrnn":
        options.update(nonlinearity=config.nonlinearity or "relu", recurrent_max_abs=config.recurrent_max_abs)
    return _LAYERS[config.cell](input_size, config.hidden_size, **options)
