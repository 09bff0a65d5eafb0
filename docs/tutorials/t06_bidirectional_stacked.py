"""Tutorial 6: bidirectional and stacked layers, and variable lengths done right (``lengths=``, no packing).

Run: ``python docs/tutorials/t06_bidirectional_stacked.py [--small] [--out FOLDER]``.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tutorial_args import Report, parse, save

import rnnkit


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    report = Report("t06_bidirectional_stacked", args.out, args.small)
    I, H, L = (4, 8, 2) if args.small else (16, 64, 3)
    lengths = torch.tensor([12, 5, 8]) if args.small else torch.tensor([80, 23, 51, 7])
    torch.manual_seed(0)
    x = torch.randn(len(lengths), int(lengths.max()), I)
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0  # padding

    lstm = rnnkit.LSTM(I, H, num_layers=L, bidirectional=True, batch_first=True)
    out, (h_n, _) = lstm(x, lengths=lengths)  # (B, T, 2H), (L*2, B, H)
    report("output_shape", list(out.shape))
    report("h_n_shape", list(h_n.shape))

    short = int(lengths.argmin())
    n = int(lengths[short])
    alone, (h_alone, _) = lstm(x[short : short + 1, :n])  # the short sequence without any padding
    report("max_diff_vs_unpadded", (out[short, :n] - alone[0]).abs().max().item())
    report("max_diff_h_n_vs_unpadded", (h_n[:, short] - h_alone[:, 0]).abs().max().item())
    report("padded_outputs_are_zero", bool((out[short, n:] == 0).all()))

    naive, _ = lstm(x)  # no lengths: the backward direction starts on the padding
    fwd_err = (naive[short, :n, :H] - alone[0, :, :H]).abs().max().item()
    bwd_err = (naive[short, :n, H:] - alone[0, :, H:]).abs().max().item()
    report("without_lengths_forward_error", fwd_err)
    report("without_lengths_backward_error", bwd_err)

    reference = torch.nn.LSTM(I, H, num_layers=L, bidirectional=True, batch_first=True)
    reference.load_state_dict(lstm.state_dict())  # the same keys as torch.nn.LSTM
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    ref_out, _ = pad_packed_sequence(reference(packed)[0], batch_first=True)
    report("max_diff_vs_torch_packed", (out - ref_out).abs().max().item())

    import matplotlib.pyplot as plt

    steps = torch.arange(n)
    per_step = (naive[short, :n] - alone[0]).abs().detach()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.semilogy(steps, per_step[:, :H].max(1).values.clamp_min(1e-9), "o-", label="forward half")
    ax.semilogy(steps, per_step[:, H:].max(1).values.clamp_min(1e-9), "s-", label="backward half")
    ax.set(
        title=f"error of the short sequence (length {n}) run without lengths=",
        xlabel="step t",
        ylabel="max |difference|",
    )
    ax.legend()
    save(fig, args.out, "t06_bidirectional_stacked")
    report.save()


if __name__ == "__main__":
    main()
