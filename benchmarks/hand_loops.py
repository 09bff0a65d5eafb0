"""HandRNN: what a PyTorch user writes by hand for an LSTM/GRU/RNN layer: hoisted input projection, one
``torch`` op per equation in a Python loop over ``xp.unbind(0)``, autograd for the backward. The peer that
shows what a fused kernel saves (used by benchmarks/speed.py)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def lstm_step(xp_t: Tensor, h: Tensor, c: Tensor, w_hh: Tensor) -> tuple[Tensor, Tensor]:
    i, f, g, o = (xp_t + h @ w_hh.t()).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_step(xp_t: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor) -> Tensor:
    x_r, x_z, x_n = xp_t.chunk(3, dim=-1)
    h_r, h_z, h_n = torch.addmm(b_hh, h, w_hh.t()).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (h - n)


class HandRNN(nn.Module):
    """``num_layers`` (bi)directional layers of ``cell`` ("LSTM" | "GRU" | "RNN"), time-major input."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.cell, self.hidden_size = cell, hidden_size
        self.directions = 2 if bidirectional else 1
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[cell] * hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weights = nn.ParameterList()
        for layer in range(num_layers):
            inputs = input_size if layer == 0 else hidden_size * self.directions
            for _ in range(self.directions):
                for shape in ((gates, inputs), (gates, hidden_size), (gates,), (gates,)):
                    self.weights.append(nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def run_direction(self, x: Tensor, w_ih, w_hh, b_ih, b_hh) -> Tensor:
        h = x.new_zeros(x.size(1), self.hidden_size)
        c = torch.zeros_like(h)
        outputs = []
        if self.cell == "GRU":
            xp = torch.addmm(b_ih, x.flatten(0, 1), w_ih.t()).view(x.size(0), x.size(1), -1)
        else:
            xp = torch.addmm(b_ih + b_hh, x.flatten(0, 1), w_ih.t()).view(x.size(0), x.size(1), -1)
        for xp_t in xp.unbind(0):  # unbind, not xp[t]: indexing makes backward O(T^2) in memory traffic
            if self.cell == "LSTM":
                h, c = lstm_step(xp_t, h, c, w_hh)
            elif self.cell == "GRU":
                h = gru_step(xp_t, h, w_hh, b_hh)
            else:
                h = torch.tanh(torch.addmm(xp_t, h, w_hh.t()))
            outputs.append(h)
        return torch.stack(outputs)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        weights = iter(self.weights)
        for _ in range(len(self.weights) // (4 * self.directions)):
            outputs = [self.run_direction(x, *(next(weights) for _ in range(4)))]
            if self.directions == 2:
                outputs.append(self.run_direction(x.flip(0), *(next(weights) for _ in range(4))).flip(0))
            x = torch.cat(outputs, dim=-1)
        return x, None
