"""Tutorial 3: the long-term-dependency problem measured: ‖∂h_T/∂h_t‖ against distance, and tanh'.

Run: ``python docs/tutorials/t03_long_term_dependency.py [--small] [--out FOLDER]``.
"""

from __future__ import annotations

import torch
from tutorial_args import Report, parse, save

import rnnkit
from rnnkit.inspect import gradient_flow


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    report = Report("t03_long_term_dependency", args.out, args.small)
    B, T, I, H = (4, 40, 8, 32) if args.small else (16, 200, 8, 64)
    torch.manual_seed(0)
    x = torch.randn(B, T, I)

    def last_state(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return model(batch)[0][:, -1].sum()

    curves = {}
    makers = {
        "RNN": lambda: rnnkit.RNN(I, H, batch_first=True),
        "LSTM": lambda: rnnkit.LSTM(I, H, batch_first=True),
        "LSTM forget_bias=3": lambda: rnnkit.LSTM(I, H, batch_first=True, forget_bias=3.0),
        "GRU": lambda: rnnkit.GRU(I, H, batch_first=True),
    }
    for name, make in makers.items():
        torch.manual_seed(1)
        layer = make()
        [flow] = gradient_flow(
            layer, x, last_state, projections=8, generator=torch.Generator().manual_seed(0)
        )
        jac = flow.jacobian.mean(0).flip(0)  # index = distance T-1-t from the last step
        curves[name] = jac
        for distance in (10, 30) if args.small else (10, 50, 150):
            report(
                f"{name.replace(' ', '_').replace('=', '')}_jacobian_at_distance_{distance}",
                (jac[distance] / jac[0]).item(),
            )

    z = torch.linspace(-4, 4, 401)
    dtanh = 1 - torch.tanh(z) ** 2
    report("tanh_derivative_max", dtanh.max().item())
    report("tanh_derivative_at_2", (1 - torch.tanh(torch.tensor(2.0)) ** 2).item())

    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, jac in curves.items():
        left.semilogy(range(T), (jac / jac[0]).numpy(), label=name)
    left.set(title="‖∂h_T/∂h_t‖ / ‖∂h_T/∂h_T‖ (untrained)", xlabel="distance T - t", ylabel="relative norm")
    left.legend()
    right.plot(z.numpy(), torch.tanh(z).numpy(), label="tanh(z)")
    right.plot(z.numpy(), dtanh.numpy(), label="tanh'(z) = 1 - tanh²(z)")
    right.set(title="tanh and its derivative (at most 1)", xlabel="z")
    right.legend()
    save(fig, args.out, "t03_long_term_dependency")
    report.save()


if __name__ == "__main__":
    main()
