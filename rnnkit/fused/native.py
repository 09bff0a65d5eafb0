"""Our weights through torch's own fused kernels (oneDNN on CPU, cuDNN on GPU).

This works because rnnkit keeps torch's parameter layout: the same ``weight_ih / weight_hh / bias_ih /
bias_hh / weight_hr`` tensors, in torch's order, are what ``torch._VF.lstm`` and friends expect.
"""

from __future__ import annotations

import torch
from torch import _VF, Tensor

from rnnkit.cells.base import State

KERNELS = {"LSTM": _VF.lstm, "GRU": _VF.gru, "RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu}


def run_native(
    mode: str,
    x: Tensor,
    hx: State,
    *,
    weights: list[Tensor],
    bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
    batch_first: bool,
    batch_sizes: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Call torch's kernel for ``mode`` on ``x`` (padded, or the data of a PackedSequence with
    ``batch_sizes``). ``hx`` is ``(h0, c0)`` for LSTM, ``h0`` otherwise, laid out ``(L*D, B, H)``."""
    kernel = KERNELS[mode]
    if not training and x.is_cuda and torch.is_grad_enabled() and _needs_grad(x, hx, weights):
        # cuDNN keeps what its backward needs only when called in training mode; with dropout 0 that
        # mode computes exactly the evaluation output, so gradients work in eval() as they do on CPU
        # (saliency and gradient-flow plots of a trained model need them).
        training, dropout = True, 0.0
    if batch_sizes is None:
        result = kernel(x, hx, weights, bias, num_layers, dropout, training, bidirectional, batch_first)
    else:
        result = kernel(x, batch_sizes, hx, weights, bias, num_layers, dropout, training, bidirectional)
    return result[0], (tuple(result[1:]) if mode == "LSTM" else result[1])


def _needs_grad(x: Tensor, hx: State, weights: list[Tensor]) -> bool:
    states = hx if isinstance(hx, tuple) else (hx,)
    return any(t is not None and t.requires_grad for t in (x, *states, *weights))


def flatten_for_cudnn(
    weights: list[Tensor],
    mode: str,
    *,
    bias: bool,
    input_size: int,
    hidden_size: int,
    proj_size: int,
    num_layers: int,
    batch_first: bool,
    bidirectional: bool,
) -> None:
    """Put the weights in one contiguous cuDNN buffer (what ``torch.nn.RNNBase.flatten_parameters``
    does); a no-op off CUDA, for dtypes cuDNN refuses, or when weights alias."""
    if not weights or not all(w.is_cuda for w in weights):
        return
    dtype = weights[0].dtype
    if any(w.dtype != dtype or not torch.backends.cudnn.is_acceptable(w) for w in weights):
        return
    if len({w.data_ptr() for w in weights}) != len(weights):
        return
    import torch.backends.cudnn.rnn as cudnn_rnn

    with torch.cuda.device_of(weights[0]), torch.no_grad():
        if torch._use_cudnn_rnn_flatten_weight():
            per_layer = (4 if bias else 2) + (1 if proj_size > 0 else 0)
            torch._cudnn_rnn_flatten_weight(
                weights,
                per_layer,
                input_size,
                cudnn_rnn.get_cudnn_mode(mode),
                hidden_size,
                proj_size,
                num_layers,
                batch_first,
                bidirectional,
            )
