"""Tutorial 5: GRU against LSTM (and the vanilla RNN) on the adding problem, same budget, same loop.

Run: ``python docs/tutorials/t05_gru_vs_lstm.py [--small] [--out FOLDER]``.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from tutorial_args import Report, parse, save

import rnnkit
from rnnkit.data.synthetic import adding_problem

BASELINE = 1 / 6  # MSE of always predicting the mean sum, 1


class Adder(nn.Module):
    """A recurrent layer, then a linear read-out of its last state: a many-to-one regressor."""

    def __init__(self, layer: nn.Module, hidden: int) -> None:
        super().__init__()
        self.layer, self.head = layer, nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.layer(x)  # (B, T, H)
        return self.head(out[:, -1]).squeeze(-1)


def train(
    layer: nn.Module, hidden: int, steps: int, T: int, batch: int, seed: int
) -> tuple[list[float], float]:
    """Adam on fresh batches of the adding problem; returns the test-MSE curve and the seconds it took."""
    torch.manual_seed(seed)
    model = Adder(layer, hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = torch.Generator().manual_seed(seed)
    test_x, test_y = adding_problem(500, T, torch.Generator().manual_seed(999))
    curve, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        x, y = adding_problem(batch, T, data)
        loss = nn.functional.mse_loss(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        if step % max(1, steps // 20) == 0:
            with torch.no_grad():
                curve.append(nn.functional.mse_loss(model(test_x), test_y).item())
    return curve, time.perf_counter() - start


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    report = Report("t05_gru_vs_lstm", args.out, args.small)
    T, H, steps, batch = (10, 16, 50, 32) if args.small else (40, 48, 800, 64)
    report("sequence_length", T)
    report("training_steps", steps)
    report("baseline_mse", BASELINE)
    makers = {
        "RNN": lambda: rnnkit.RNN(2, H, batch_first=True),
        "LSTM": lambda: rnnkit.LSTM(2, H, batch_first=True, forget_bias=1.0),
        "GRU": lambda: rnnkit.GRU(2, H, batch_first=True),
    }
    curves = {}
    for name, make in makers.items():
        torch.manual_seed(0)
        layer = make()
        curve, seconds = train(layer, H, steps, T, batch, seed=0)
        curves[name] = curve
        report(f"{name}_test_mse", curve[-1])
        report(f"{name}_parameters", sum(p.numel() for p in layer.parameters()))
        report(f"{name}_seconds", seconds)

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, curve in curves.items():
        ax.semilogy([steps * (k + 1) / len(curve) for k in range(len(curve))], curve, label=name)
    ax.axhline(BASELINE, color="grey", linestyle="--", label="predict the mean (1/6)")
    ax.set(title=f"adding problem, T={T}: test MSE", xlabel="training step", ylabel="MSE")
    ax.legend()
    save(fig, args.out, "t05_gru_vs_lstm")
    report.save()


if __name__ == "__main__":
    main()
