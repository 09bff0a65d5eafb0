"""Layers: a cell over time (Recurrent), both directions (Bidirectional), stacked (Stacked), and the
torch.nn-compatible RNN / LSTM / GRU built from them."""

from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.masking import lengths_to_mask, reverse_padded
from rnnkit.layers.rnn import GRU, LSTM, RNN, IndRNN, MinGRU, MinLSTM
from rnnkit.layers.rnn_base import RNNBase
from rnnkit.layers.stacked import Stacked
from rnnkit.layers.stateful import Stateful
from rnnkit.layers.unroll import Internals, Recurrent

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "IndRNN",
    "Internals",
    "MinGRU",
    "MinLSTM",
    "RNNBase",
    "Recurrent",
    "Stacked",
    "Stateful",
    "lengths_to_mask",
    "reverse_padded",
]
