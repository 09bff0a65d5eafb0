"""RNN, LSTM and GRU: drop-in for torch.nn's, composed from cells, with the variants torch lacks."""

from __future__ import annotations

from functools import partial

import torch

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.indrnn import IndRNNCell
from rnnkit.cells.layer_norm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.min_rnn import MinGRUCell, MinLSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.layers.rnn_base import RNNBase

_REGULARISERS = """
    Regularisers (any of them switches to rnnkit's own kernel; all inactive in ``eval()``):
        recurrent_dropout: variational dropout on ``h_{t-1}``, one mask per sequence (Gal & Ghahramani 2016).
        zoneout: probability that a unit keeps its previous value, a float or ``(p_h, p_c)``
            (Krueger et al. 2017).
        weight_drop: DropConnect on ``W_hh``, one mask per forward call (Merity et al. 2018, AWD-LSTM).
        learn_initial_state: learn ``h_0`` (and ``c_0``) instead of starting from zeros.
        impl: ``"auto"`` (the fastest exact path: torch's kernel, rnnkit's fused C++ kernel, else the loop),
            ``"native"`` (torch's kernel), ``"fused"`` (rnnkit's kernel; either one raises, saying why, where
            it cannot run the layer) or ``"reference"`` (the step-by-step loop over the cell).
        recompute: keep only the states for backward and recompute the gates (fused kernel; about 3x less
            activation memory for an LSTM, one more GEMM per step).
"""


class RNN(RNNBase):
    __doc__ = (
        r"""Multi-layer Elman RNN, drop-in for ``torch.nn.RNN`` (arguments, defaults, outputs, state_dict).

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)       (relu with nonlinearity="relu")

    Shape: ``input (T, B, I)`` (``(B, T, I)`` if batch_first), ``h_0 (L*D, B, H)`` ->
    ``output (T, B, D*H)``, ``h_n (L*D, B, H)``. ``forward`` also takes ``lengths (B,)``.
    """
        + _REGULARISERS
        + r"""
    Example:
        >>> rnn = RNN(8, 16, num_layers=2, bidirectional=True)
        >>> out, h = rnn(torch.randn(5, 3, 8))
        >>> out.shape, h.shape
        (torch.Size([5, 3, 32]), torch.Size([4, 3, 16]))
    """
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **options,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        make_cell = partial(
            _make,
            RNNCell,
            hidden_size=hidden_size,
            bias=bias,
            nonlinearity=nonlinearity,
            device=device,
            dtype=dtype,
        )
        super().__init__(
            f"RNN_{nonlinearity.upper()}",
            make_cell,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            **options,
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    __doc__ = (
        r"""Multi-layer LSTM, drop-in for ``torch.nn.LSTM`` (``proj_size`` included).

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                     h_t = o_t ⊙ tanh(c_t)  (then W_hr h_t: proj_size)

    Shape: ``input (T, B, I)``, ``(h_0 (L*D, B, P or H), c_0 (L*D, B, H))`` -> ``output (T, B, D*(P or H))``,
    ``(h_n, c_n)``. ``forward`` also takes ``lengths (B,)``.

    Variants (each switches to rnnkit's own path, except forget_bias, which is only an initialisation):
        layer_norm: :class:`rnnkit.LayerNormLSTMCell` (Ba et al. 2016).
        peephole: gates see the cell state (Gers & Schmidhuber 2000).
        coupled: input gate tied to the forget gate, ``i_t = 1 - f_t`` (Greff et al. 2017).
        forget_bias: initial total forget-gate bias, e.g. 1.0 (Gers et al. 2000; Jozefowicz et al. 2015).
    """
        + _REGULARISERS
        + r"""
    Example:
        >>> lstm = LSTM(8, 16, batch_first=True, layer_norm=True, zoneout=0.1)
        >>> out, (h, c) = lstm(torch.randn(3, 5, 8), lengths=torch.tensor([5, 2, 4]))
        >>> out.shape, h.shape
        (torch.Size([3, 5, 16]), torch.Size([1, 3, 16]))
    """
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        layer_norm: bool = False,
        peephole: bool = False,
        coupled: bool = False,
        forget_bias: float | None = None,
        **options,
    ) -> None:
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(
                f"proj_size should be a positive integer or zero to disable projections, got {proj_size}"
            )
        if isinstance(hidden_size, int) and 0 < hidden_size <= proj_size:
            raise ValueError(
                f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}"
            )
        cell_type = LayerNormLSTMCell if layer_norm else LSTMCell
        make_cell = partial(
            _make,
            cell_type,
            hidden_size=hidden_size,
            bias=bias,
            device=device,
            dtype=dtype,
            proj_size=proj_size,
            peephole=peephole,
            coupled=coupled,
            forget_bias=forget_bias,
        )
        super().__init__(
            "LSTM",
            make_cell,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            **options,
        )
        self.layer_norm, self.peephole, self.coupled, self.forget_bias = (
            layer_norm,
            peephole,
            coupled,
            forget_bias,
        )


class GRU(RNNBase):
    __doc__ = (
        r"""Multi-layer GRU, drop-in for ``torch.nn.GRU``.

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)      z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Shape: ``input (T, B, I)``, ``h_0 (L*D, B, H)`` -> ``output (T, B, D*H)``, ``h_n (L*D, B, H)``.

    Variants (each switches to rnnkit's own path):
        reset_after: False gives the original paper's form,
            ``n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)``
            (Cho et al. 2014; Keras' ``reset_after=False``).
        layer_norm: :class:`rnnkit.LayerNormGRUCell` (Ba et al. 2016).
    """
        + _REGULARISERS
        + r"""
    Example:
        >>> gru = GRU(8, 16, num_layers=2, reset_after=False, recurrent_dropout=0.2)
        >>> out, h = gru(torch.randn(5, 3, 8))
        >>> out.shape, h.shape
        (torch.Size([5, 3, 16]), torch.Size([2, 3, 16]))
    """
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        reset_after: bool = True,
        layer_norm: bool = False,
        **options,
    ) -> None:
        cell_type = LayerNormGRUCell if layer_norm else GRUCell
        make_cell = partial(
            _make,
            cell_type,
            hidden_size=hidden_size,
            bias=bias,
            device=device,
            dtype=dtype,
            reset_after=reset_after,
        )
        super().__init__(
            "GRU",
            make_cell,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            **options,
        )
        self.reset_after, self.layer_norm = reset_after, layer_norm


class IndRNN(RNNBase):
    __doc__ = (
        r"""Multi-layer IndRNN (Li et al. 2018), with the same interface as :class:`RNN`.

        h_t = relu(W_ih x_t + b_ih + u ⊙ h_{t-1})       (one recurrent weight per unit)

    Units do not talk to each other through time, so ``|u|`` alone controls how gradients flow:
    ``recurrent_max_abs=2 ** (1 / T)`` keeps them from exploding over T steps (the paper's constraint).
    Layers are mixed by the next layer's ``W_ih``; the paper stacks several (with batch norm between).

    Shape: as :class:`RNN`. Parameters per layer: ``weight_ih_l{k} (H, I)``, ``weight_hh_l{k} (H,)``,
    ``bias_ih_l{k} (H,)``.
    """
        + _REGULARISERS
        + r"""
    Example:
        >>> layer = IndRNN(8, 16, num_layers=3, recurrent_max_abs=2 ** (1 / 100))
        >>> out, h = layer(torch.randn(100, 2, 8))
        >>> out.shape, h.shape
        (torch.Size([100, 2, 16]), torch.Size([3, 2, 16]))
    """
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "relu",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_max_abs: float | None = None,
        **options,
    ) -> None:
        make_cell = partial(
            _make, IndRNNCell, hidden_size=hidden_size, bias=bias, nonlinearity=nonlinearity,
            device=device, dtype=dtype, recurrent_max_abs=recurrent_max_abs,
        )  # fmt: skip
        super().__init__(
            None, make_cell, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            **options,
        )  # fmt: skip
        self.nonlinearity, self.recurrent_max_abs = nonlinearity, recurrent_max_abs


class MinGRU(RNNBase):
    __doc__ = r"""Multi-layer minGRU (Feng et al. 2024), trained with the log-space parallel scan.

        z_t = σ(W_z x_t + b_z)     h̃_t = g(W_h x_t + b_h)     h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

    The gates depend on ``x_t`` only, so ``forward`` solves each layer's recurrence for all steps at once
    (:func:`rnnkit.cells.min_rnn.log_space_scan`); ``record`` runs the step loop. Recurrent dropout and
    weight drop do not apply (there is no ``W_hh``); zoneout does.

    Shape: as :class:`GRU`.

    Example:
        >>> layer = MinGRU(8, 16, num_layers=2, batch_first=True)
        >>> out, h = layer(torch.randn(2, 50, 8), lengths=torch.tensor([50, 20]))
        >>> out.shape, h.shape
        (torch.Size([2, 50, 16]), torch.Size([2, 2, 16]))
    """

    cell_type = MinGRUCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **options,
    ) -> None:
        make_cell = partial(
            _make, self.cell_type, hidden_size=hidden_size, bias=bias, device=device, dtype=dtype
        )
        super().__init__(
            None, make_cell, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            **options,
        )  # fmt: skip


class MinLSTM(MinGRU):
    __doc__ = r"""Multi-layer minLSTM (Feng et al. 2024), trained with the log-space parallel scan.

        f_t = σ(W_f x_t + b_f)   i_t = σ(W_i x_t + b_i)   f'_t, i'_t = f_t, i_t / (f_t + i_t)
        h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ g(W_h x_t + b_h)

    Same interface and scan as :class:`MinGRU`; the state is ``h`` only (no cell state).

    Example:
        >>> MinLSTM(8, 16)(torch.randn(30, 2, 8))[0].shape
        torch.Size([30, 2, 16])
    """

    cell_type = MinLSTMCell


def _make(cell_type, input_size: int, **kwargs):
    return cell_type(input_size, **kwargs)
