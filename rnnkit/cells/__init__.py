"""Cells: one time step each, written from the equations."""

from rnnkit.cells.base import LSTMState, Recurrence, RecurrentCell
from rnnkit.cells.gru import GRUCell, GRUGates
from rnnkit.cells.layer_norm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.cells.lstm import LSTMCell, LSTMGates
from rnnkit.cells.regularizers import RecurrentDropout, WeightDrop, Zoneout
from rnnkit.cells.rnn import RNNCell

__all__ = [
    "GRUCell",
    "GRUGates",
    "LSTMCell",
    "LSTMGates",
    "LSTMState",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "RNNCell",
    "Recurrence",
    "RecurrentCell",
    "RecurrentDropout",
    "WeightDrop",
    "Zoneout",
]
