"""Cells: one time step each, written from the equations."""

from rnnkit.cells.base import LSTMState, Recurrence, RecurrentCell
from rnnkit.cells.gru import GRUCell, GRUGates
from rnnkit.cells.indrnn import IndRNNCell
from rnnkit.cells.layer_norm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.cells.lstm import LSTMCell, LSTMGates
from rnnkit.cells.min_rnn import MinGRUCell, MinGRUGates, MinLSTMCell, MinLSTMGates
from rnnkit.cells.regularizers import RecurrentDropout, WeightDrop, Zoneout
from rnnkit.cells.rnn import RNNCell

__all__ = [
    "GRUCell",
    "GRUGates",
    "IndRNNCell",
    "LSTMCell",
    "LSTMGates",
    "LSTMState",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRUCell",
    "MinGRUGates",
    "MinLSTMCell",
    "MinLSTMGates",
    "RNNCell",
    "Recurrence",
    "RecurrentCell",
    "RecurrentDropout",
    "WeightDrop",
    "Zoneout",
]
