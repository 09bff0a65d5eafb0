"""``rnnkit demo``: train a small recurrent net on the adding problem, offline, and look at its gates."""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import rnnkit
from rnnkit.data.synthetic import adding_problem

LAYERS = {"lstm": rnnkit.LSTM, "gru": rnnkit.GRU, "rnn": rnnkit.RNN}
BASELINE_MSE = 1 / 6  # always predicting the mean sum, 1


class LastStepRegressor(nn.Module):
    """A recurrent layer read at its last step, then a linear head: the many-to-one shape."""

    def __init__(self, layer: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.rnn, self.head = layer, nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)  # (B, T, H)
        return self.head(output[:, -1]).squeeze(-1)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="train a small RNN on the adding problem (offline, ~20 s)")
    parser.add_argument("--cell", choices=sorted(LAYERS), default="lstm")
    parser.add_argument("--length", type=int, default=40, help="sequence length T")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--steps", type=int, default=600, help="training steps")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    data = torch.Generator().manual_seed(args.seed)
    model = LastStepRegressor(LAYERS[args.cell](2, args.hidden, batch_first=True), args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    name = f"{args.cell.upper()} (H={args.hidden})"
    print(f"rnnkit {rnnkit.__version__} demo: {name} on the adding problem, T={args.length}")
    print(f"baseline (predict the mean): MSE {BASELINE_MSE:.3f}")
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = adding_problem(args.batch, args.length, data)
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % max(1, args.steps // 6) == 0 or step == args.steps:
            rate = step * args.batch / (time.perf_counter() - start)
            print(f"step {step:5d}/{args.steps}  train MSE {loss.item():.4f}  ({rate:,.0f} sequences/s)")
    model.eval()
    x, y = adding_problem(1000, args.length, data)
    with torch.no_grad():
        test_mse = nn.functional.mse_loss(model(x), y).item()
        _, _, internals = model.rnn.record(x[:200])
    verdict = (
        "solved"
        if test_mse < 0.1 * BASELINE_MSE
        else "beats the baseline"
        if test_mse < BASELINE_MSE
        else "not learned"
    )
    print(f"test MSE {test_mse:.4f} vs baseline {BASELINE_MSE:.3f}: {verdict}")
    _print_gates(internals[0], x[:200, :, 1].bool())
    return 0


def _print_gates(internals: dict[str, torch.Tensor], marked: torch.Tensor) -> None:
    """How the gates behave on marked steps (values to remember) versus the others."""
    if len(internals) == 1:
        print("(a vanilla RNN has no gates to show)")
        return
    print("mean gate activation     marked steps   other steps")
    for name, values in internals.items():
        if name in ("h", "c"):
            continue
        per_step = values.mean(-1)  # (B, T)
        print(
            f"  {name:<22} {per_step[marked].mean().item():>12.3f} {per_step[~marked].mean().item():>13.3f}"
        )
    gate = internals.get("i", internals.get("z"))  # the gate that lets a new value in
    if gate is not None:
        on, off = gate[marked].mean(0), gate[~marked].mean(0)  # (H,)
        unit = int((on - off).abs().argmax())
        print(f"most selective unit: #{unit}, gate {on[unit]:.2f} on marked steps, {off[unit]:.2f} on others")
