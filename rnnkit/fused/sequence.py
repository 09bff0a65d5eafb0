"""Whole-sequence autograd Functions over the C++ kernels, and ``run_fused`` that feeds them a cell.

Each Function takes the hoisted input projection ``xp (T, B, G)`` and runs the time loop in C++: one GEMM
per step forward and one backward, gate nonlinearities and variants fused in one pass over memory, and
the recurrent weight gradient as a single GEMM over all steps after the loop. ``keep`` tensors carry the
sequence lengths (1 past a sequence's end, so its state stays put) and evaluation-mode zoneout; training-mode
zoneout is drawn inside the kernels (a ``draw`` of probabilities and a seed, see :func:`zoneout_draw`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.cells.base import LSTMState, State
from rnnkit.cells.layer_norm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.cells.regularizers import Zoneout
from rnnkit.fused import extension
from rnnkit.fused.plan import FusedPlan

Internals = dict[str, Tensor]
Draw = tuple[float, float, int]  # training-mode zoneout probabilities of h and c, and the kernels' seed
NO_DRAW: Draw = (0.0, 0.0, 0)


def _defined(*tensors: Tensor | None) -> list[Tensor]:
    """None -> an empty tensor (what the kernels read as "not saved: recompute")."""
    return [torch.Tensor() if t is None else t for t in tensors]


def _or_none(grad: Tensor | None) -> Tensor | None:
    return grad if grad is not None and grad.numel() else None


def _zeros_if_none(grad: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if grad is None else grad.contiguous()


class LSTMSequence(torch.autograd.Function):
    """LSTM over ``xp``; returns ``(h_1..h_T, h_T, c_T, gates, c_1..c_T)`` (gates only when recording).

    ``ln_x_gain``: the layer norm of the input projection, done in the kernel's step (``xp`` is then the raw
    ``W_ih x``); None: ``xp`` arrives normalised (or needs no norm)."""

    @staticmethod
    def forward(
        ctx,
        xp,
        h0,
        c0,
        w_hh,
        peephole,
        ln_gain,
        b_hh,
        lnc_gain,
        lnc_bias,
        h_mask,
        keep_h,
        keep_c,
        eps,
        recompute,
        record,
        save,
        draw=NO_DRAW,
        ln_x_gain=None,
        ln_x_groups=1,
    ):
        hs, cs, gates, tc, c_new, hh_hat, rstd_hh, c_hat, rstd_c, stats_x = extension.load().lstm_forward(
            xp,
            h0,
            c0,
            w_hh,
            h_mask,
            keep_h,
            keep_c,
            peephole,
            ln_gain,
            b_hh,
            lnc_gain,
            lnc_bias,
            eps,
            save or record,
            record or not recompute,
            *draw,
            ln_x_gain,
            ln_x_groups,
        )
        ctx.saved = (hs, cs, gates, tc, c_new, hh_hat, rstd_hh, c_hat, rstd_c, stats_x) if save else None
        ctx.save_for_backward(
            xp, w_hh, peephole, ln_gain, b_hh, lnc_gain, lnc_bias, h_mask, keep_h, keep_c, ln_x_gain
        )
        ctx.eps, ctx.draw, ctx.ln_x_groups = eps, draw, ln_x_groups
        outputs = hs[1:], hs[-1].clone(), cs[-1].clone()
        if record:
            ctx.mark_non_differentiable(gates, cs)
            return (*outputs, gates, cs[1:])
        return (*outputs, None, None)

    @staticmethod
    def backward(ctx, grad_out, grad_h, grad_c, *_):
        xp, w_hh, peephole, ln_gain, b_hh, lnc_gain, lnc_bias, h_mask, keep_h, keep_c, ln_x_gain = (
            ctx.saved_tensors
        )
        hs, cs, gates, tc, c_new, hh_hat, rstd_hh, c_hat, rstd_c, stats_x = ctx.saved  # gates None: recompute
        d_xp, d_h0, d_c0, d_w, d_peep, d_lg, d_lb, d_lcg, d_lcb, d_lxg = extension.load().lstm_backward(
            _zeros_if_none(grad_out, hs[1:]),
            _zeros_if_none(grad_h, hs[0]),
            _zeros_if_none(grad_c, cs[0]),
            xp,
            w_hh,
            hs,
            cs,
            *_defined(gates, tc, c_new, hh_hat, rstd_hh, c_hat, rstd_c),
            h_mask,
            keep_h,
            keep_c,
            peephole,
            ln_gain,
            b_hh,
            lnc_gain,
            lnc_bias,
            ctx.eps,
            *ctx.draw,
            ln_x_gain,
            ctx.ln_x_groups,
            *_defined(stats_x),
        )
        grads = (d_xp, d_h0, d_c0, d_w, d_peep, d_lg, d_lb, d_lcg, d_lcb)
        return (*(_or_none(g) for g in grads), *(None,) * 8, _or_none(d_lxg), None)


class GRUSequence(torch.autograd.Function):
    """GRU (reset_after) over ``xp``; returns ``(h_1..h_T, h_T, gates)`` (gates only when recording).

    ``ln_x_gain`` as in :class:`LSTMSequence` (``ln_x_groups`` blocks: one per gate)."""

    @staticmethod
    def forward(
        ctx, xp, h0, w_hh, b_hh, b_x, ln_gain, h_mask, keep, eps, recompute, record, save, draw=NO_DRAW,
        ln_x_gain=None, ln_x_groups=3,
    ):  # fmt: skip
        hs, gates, a, a_hat, rstd, stats_x = extension.load().gru_forward(
            xp, h0, w_hh, b_hh, b_x, h_mask, keep, ln_gain, eps, save or record, record or not recompute,
            draw[0], draw[2], ln_x_gain, ln_x_groups,
        )  # fmt: skip
        ctx.saved = (hs, gates, a, a_hat, rstd, stats_x) if save else None
        ctx.save_for_backward(xp, w_hh, b_hh, b_x, ln_gain, h_mask, keep, ln_x_gain)
        ctx.eps, ctx.draw, ctx.ln_x_groups = eps, draw, ln_x_groups
        if record:
            ctx.mark_non_differentiable(gates)
            return hs[1:], hs[-1].clone(), gates
        return hs[1:], hs[-1].clone(), None

    @staticmethod
    def backward(ctx, grad_out, grad_h, _):
        xp, w_hh, b_hh, b_x, ln_gain, h_mask, keep, ln_x_gain = ctx.saved_tensors
        hs, gates, a, a_hat, rstd, stats_x = ctx.saved  # gates None: recompute
        d_xp, d_h0, d_w, d_b, d_lg, d_bx, d_lxg = extension.load().gru_backward(
            _zeros_if_none(grad_out, hs[1:]),
            _zeros_if_none(grad_h, hs[0]),
            xp,
            w_hh,
            b_hh,
            b_x,
            hs,
            *_defined(gates, a, a_hat, rstd),
            h_mask,
            keep,
            ln_gain,
            ctx.eps,
            ctx.draw[0],
            ctx.draw[2],
            ln_x_gain,
            ctx.ln_x_groups,
            *_defined(stats_x),
        )
        grads = (d_xp, d_h0, d_w, d_b, d_bx, d_lg)
        return (*(_or_none(g) for g in grads), *(None,) * 7, _or_none(d_lxg), None)


class RNNSequence(torch.autograd.Function):
    """Elman RNN over ``xp``; returns ``(h_1..h_T, h_T)``."""

    @staticmethod
    def forward(ctx, xp, h0, w_hh, b_hh, h_mask, keep, relu, save, draw=NO_DRAW):
        hs, h_new = extension.load().rnn_forward(
            xp, h0, w_hh, b_hh, h_mask, keep, relu, save, draw[0], draw[2]
        )
        ctx.saved = (hs, h_new) if save else None
        ctx.save_for_backward(w_hh, h_mask, keep)
        ctx.relu, ctx.has_bias, ctx.draw = relu, b_hh is not None, draw
        return hs[1:], hs[-1].clone()

    @staticmethod
    def backward(ctx, grad_out, grad_h):
        w_hh, h_mask, keep = ctx.saved_tensors
        hs, h_new = ctx.saved
        d_xp, d_h0, d_w = extension.load().rnn_backward(
            _zeros_if_none(grad_out, hs[1:]), _zeros_if_none(grad_h, hs[0]), w_hh, hs,
            *_defined(h_new), h_mask, keep, ctx.relu, ctx.draw[0], ctx.draw[2],
        )  # fmt: skip
        d_b = d_xp.sum((0, 1)) if ctx.has_bias else None
        return d_xp, d_h0, d_w, d_b, None, None, None, None, None


def _keep(zoneout: Zoneout | None, p: float, pad: Tensor | None, xp: Tensor) -> Tensor | None:
    """The keep tensor of one state field: p (eval zoneout) and 1 past the end. Training-mode zoneout is
    not in it: the kernels draw that mask themselves (:func:`zoneout_draw`)."""
    if zoneout is None or p == 0.0 or zoneout.training:
        return pad
    keep = xp.new_full((*xp.shape[:2], 1), p)
    return keep if pad is None else keep + pad - keep * pad


def zoneout_draw(zoneout: Zoneout | None, p_h: float, p_c: float) -> Draw:
    """What the kernels draw for training-mode zoneout: ``(p_h, p_c, seed)``, or :data:`NO_DRAW`.

    The seed is one draw from torch's default generator, so ``torch.manual_seed`` makes a run
    reproducible; the mask itself comes from a counter-based generator inside the kernels (Philox4x32-10,
    keyed by the seed, one counter per step, batch row and unit), which forward, backward and recompute
    regenerate instead of storing it. It is a different random stream from the reference loop's
    per-step ``bernoulli_`` (the same distribution: each unit keeps its value with probability p);
    :func:`zoneout_keep_mask` gives the kernels' mask as a tensor.
    """
    if zoneout is None or not zoneout.training or (p_h == 0.0 and p_c == 0.0):
        return NO_DRAW
    return p_h, p_c, int(torch.randint(0, 2**62, ()))


def zoneout_keep_mask(steps: int, batch: int, hidden: int, p: float, seed: int, field: int) -> Tensor:
    """The kernels' training-mode zoneout mask (steps, batch, hidden) in float64: 1 where a unit keeps its
    previous value. ``field``: 0 for h, 1 for an LSTM's c; ``seed`` as in :func:`zoneout_draw`."""
    return extension.load().zoneout_mask(steps, batch, hidden, p, seed, field)


def state_requires_grad(state: State) -> bool:
    return any(t.requires_grad for t in ([state] if isinstance(state, Tensor) else state))


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return a if b is None else b if a is None else a + b


def run_fused(
    plan: FusedPlan, outer_cell, x: Tensor, state: State, mask: Tensor | None, record: bool, recompute: bool
) -> tuple[Tensor, State, Internals | None]:
    """Run ``plan`` over ``x (T, B, I)`` from ``state``; ``mask (T, B, 1)`` marks valid steps.

    The input projection of all steps is one GEMM. For the plain cells it leaves out ``b_ih``, which the
    kernel adds in its element-wise pass (a bias added to a (T, B, G) tensor costs a pass over memory).

    ``outer_cell`` is the cell with its wrappers: its ``recurrence`` draws the recurrent-dropout mask and
    the dropped weights exactly as the reference loop does. Returns (output, final state, internals),
    internals as the reference loop records them (gates and states, zero past each sequence's end).
    """
    cell = plan.cell
    xp, b_ih = torch.matmul(x, cell.weight_ih.t()), cell.bias_ih
    ln_x = _fused_input_norm(cell)
    if isinstance(cell, (LayerNormLSTMCell, LayerNormGRUCell)) and ln_x is None:  # LN(W_ih x; α_x), in ATen
        norm = cell.ln_ih
        gain = norm.weight.reshape(-1)
        if norm.groups == 1:
            xp = F.layer_norm(xp, (xp.size(-1),), gain, None, norm.eps)
        else:
            xp = (F.layer_norm(xp.unflatten(-1, (norm.groups, norm.size)), (norm.size,), eps=norm.eps)
                  .flatten(-2) * gain)  # fmt: skip
    save = torch.is_grad_enabled() and (
        xp.requires_grad
        or state_requires_grad(state)
        or any(p.requires_grad for p in outer_cell.parameters())
    )
    rec = outer_cell.recurrence(xp.size(1))
    pad = None if mask is None else (~mask).to(xp.dtype).contiguous()  # (T, B, 1): 1 past the end
    zoneout = plan.zoneout
    p_h, p_c = (zoneout.h, zoneout.c) if zoneout is not None else (0.0, 0.0)
    keeps = (_keep(zoneout, p_h, pad, xp), _keep(zoneout, p_c, pad, xp) if plan.family == "lstm" else None)
    draw = zoneout_draw(zoneout, p_h, p_c if plan.family == "lstm" else 0.0)
    run = {"lstm": _run_lstm, "gru": _run_gru, "rnn": _run_rnn}[plan.family]
    output, final, internals = run(
        cell, xp.contiguous(), b_ih, state, rec, keeps, draw, recompute, record, save, ln_x
    )
    if internals is not None and mask is not None:
        internals = {k: v * mask for k, v in internals.items()}
    return output, final, internals


def _fused_input_norm(cell) -> tuple[Tensor, int] | None:
    """(gain, groups) of a layer-norm cell's input-side norm when the kernel's step can apply it (one pass
    over each row while it is in cache, instead of an ATen layer norm over all of ``xp`` and its backward);
    None otherwise: another cell, peepholes (their gradients read the gates' gradients after the loop),
    or an eps that differs from the recurrent norm's (the kernel takes one)."""
    if not isinstance(cell, (LayerNormLSTMCell, LayerNormGRUCell)):
        return None
    if isinstance(cell, LayerNormLSTMCell) and cell.peephole:
        return None
    if cell.ln_ih.eps != cell.ln_hh.eps:
        return None
    return cell.ln_ih.weight.reshape(-1), cell.ln_ih.groups


def _run_lstm(cell, xp, b_ih, state, rec, keeps, draw, recompute, record, save, ln_x):
    layer_norm = isinstance(cell, LayerNormLSTMCell)
    peephole = torch.stack([cell.weight_ci, cell.weight_cf, cell.weight_co]) if cell.peephole else None
    ln_gain = lnc_gain = lnc_bias = None
    b_hh = _add(b_ih, cell.bias_hh if layer_norm else rec.bias)  # layer norm: both come after the norms
    if layer_norm:
        ln_gain = cell.ln_hh.weight.reshape(-1)
        lnc_gain = cell.ln_c.weight if cell.ln_c.weight is not None else xp.new_ones(cell.hidden_size)
        lnc_bias = cell.ln_c.bias if cell.ln_c.bias is not None else xp.new_zeros(cell.hidden_size)
    eps = cell.ln_hh.eps if layer_norm else 1e-5
    h0, c0 = state
    out, h, c, gates, cs = LSTMSequence.apply(
        xp, h0.contiguous(), c0.contiguous(), rec.weight, peephole, ln_gain, b_hh, lnc_gain, lnc_bias,
        rec.h_mask, *keeps, eps, recompute, record, save, draw, *(ln_x or (None, 1)),
    )  # fmt: skip
    internals = None
    if record:
        i, f, g, o = gates.chunk(4, dim=-1)
        internals = {"i": i, "f": f, "g": g, "o": o, "h": out, "c": cs}
    return out, LSTMState(h, c), internals


def _run_gru(cell, xp, b_ih, h0, rec, keeps, draw, recompute, record, save, ln_x):
    layer_norm = isinstance(cell, LayerNormGRUCell)
    ln_gain = cell.ln_hh.weight.reshape(-1) if layer_norm else None
    b_hh = cell.bias_hh if layer_norm else rec.bias
    eps = cell.ln_hh.eps if layer_norm else 1e-5
    out, h, gates = GRUSequence.apply(
        xp,
        h0.contiguous(),
        rec.weight,
        b_hh,
        b_ih,
        ln_gain,
        rec.h_mask,
        keeps[0],
        eps,
        recompute,
        record,
        save,
        draw,
        *(ln_x or (None, 3)),
    )
    internals = None
    if record:
        r, z, n = gates.chunk(3, dim=-1)
        internals = {"r": r, "z": z, "n": n, "h": out}
    return out, h, internals


def _run_rnn(cell, xp, b_ih, h0, rec, keeps, draw, recompute, record, save, ln_x):
    relu = cell.nonlinearity == "relu"
    bias = _add(b_ih, rec.bias)
    out, h = RNNSequence.apply(xp, h0.contiguous(), rec.weight, bias, rec.h_mask, keeps[0], relu, save, draw)
    return out, h, ({"h": out} if record else None)
