"""Tutorial 2: the vanilla RNN h(t) = tanh(U x(t) + W h(t-1) + b) by hand, then rnnkit's, same numbers.

Run: ``python docs/tutorials/t02_vanilla_rnn.py [--small] [--out FOLDER]``.
"""

from __future__ import annotations

import torch
from tutorial_args import Report, parse, save

import rnnkit


def by_hand(x: torch.Tensor, U: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The lecture's loop: one U, W and b for every step (weight sharing); x (B, T, I) -> (B, T, H)."""
    h = torch.zeros(x.shape[0], W.shape[0])
    states = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ U.T + h @ W.T + b)
        states.append(h)
    return torch.stack(states, dim=1)


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    report = Report("t02_vanilla_rnn", args.out, args.small)
    B, T, I, H = (2, 12, 3, 8) if args.small else (8, 60, 3, 16)
    torch.manual_seed(0)
    x = torch.randn(B, T, I)

    cell = rnnkit.RNNCell(I, H)  # W_ih = U, W_hh = W, b = b_ih + b_hh
    U, W, b = cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh
    mine = by_hand(x, U.detach(), W.detach(), b.detach())

    h, steps = None, []
    for t in range(T):  # rnnkit.RNNCell: one step
        h = cell(x[:, t], h)
        steps.append(h)
    from_cell = torch.stack(steps, dim=1)

    layer = rnnkit.RNN(I, H, batch_first=True)  # rnnkit.RNN: the whole sequence, same weights
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    from_layer, _ = layer(x)
    report("max_abs_diff_cell", (mine - from_cell).abs().max().item())
    report("max_abs_diff_layer", (mine - from_layer).abs().max().item())
    report("parameters", sum(p.numel() for p in layer.parameters()))
    report("parameters_if_not_shared", T * sum(p.numel() for p in layer.parameters()))

    # Weight sharing made visible: W's gradient is the sum of one contribution per step.
    out, _ = layer(x)
    out[:, -1].sum().backward()
    total = layer.weight_hh_l0.grad.clone()
    W_steps = [layer.weight_hh_l0.detach().clone().requires_grad_(True) for _ in range(T)]
    hh = torch.zeros(B, H)
    for t in range(T):
        hh = torch.tanh(x[:, t] @ layer.weight_ih_l0.detach().T + hh @ W_steps[t].T + b.detach())
    hh.sum().backward()
    per_step = torch.stack([w.grad for w in W_steps])  # (T, H, H)
    report("grad_W_equals_sum_of_steps", bool(torch.allclose(per_step.sum(0), total, atol=1e-5)))
    norms = per_step.flatten(1).norm(dim=1)
    report("grad_share_of_last_5_steps", (norms[-5:].sum() / norms.sum()).item())

    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    image = left.imshow(from_layer[0].detach().T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    left.set(title="h(t) of sequence 0 (rnnkit.RNN)", xlabel="step t", ylabel="unit")
    fig.colorbar(image, ax=left)
    right.bar(range(T), norms.numpy())
    right.set(title="‖∂L/∂W‖ contributed by each step", xlabel="step t", ylabel="norm")
    save(fig, args.out, "t02_vanilla_rnn")
    report.save()


if __name__ == "__main__":
    main()
