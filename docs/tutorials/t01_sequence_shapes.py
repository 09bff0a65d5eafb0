"""Tutorial 1: sequences and the five modelling shapes, each with the rnnkit model and task that serves it.

Run: ``python docs/tutorials/t01_sequence_shapes.py [--small] [--out FOLDER]``.
"""

from __future__ import annotations

import torch
from tutorial_args import Report, parse, save

from rnnkit.layers.factory import RNNConfig
from rnnkit.models import (
    ClassifierConfig,
    Forecaster,
    ForecasterConfig,
    GeneratorConfig,
    Seq2Seq,
    Seq2SeqConfig,
    SequenceClassifier,
    SequenceGenerator,
    SequenceTagger,
    TaggerConfig,
)


def shape(t: torch.Tensor) -> str:
    """``B x T x ...`` of a tensor."""
    return "x".join(str(n) for n in t.shape)


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    report = Report("t01_sequence_shapes", args.out, args.small)
    B, T, V, H = (2, 7, 50, 16) if args.small else (4, 20, 1000, 64)
    torch.manual_seed(0)
    rnn = RNNConfig(cell="lstm", hidden_size=H)
    tokens, lengths = torch.randint(4, V, (B, T)), torch.full((B,), T)
    rows = []  # (shape, lecture example, model, task, input, output)

    with torch.no_grad():
        gen = SequenceGenerator(GeneratorConfig(vocab_size=V, rnn=rnn, condition_size=8)).eval()
        logits, _ = gen(tokens, lengths, condition=torch.randn(B, 8))
        rows.append(
            (
                "one-to-many",
                "image captioning",
                "SequenceGenerator",
                "generation",
                f"{B}x8 vector",
                shape(logits),
            )
        )

        clf = SequenceClassifier(ClassifierConfig(vocab_size=V, num_classes=2, rnn=rnn)).eval()
        rows.append(
            (
                "many-to-one",
                "sentiment of a review",
                "SequenceClassifier",
                "classification",
                shape(tokens),
                shape(clf(tokens, lengths)),
            )
        )

        tagger = SequenceTagger(TaggerConfig(num_tags=5, vocab_size=V, rnn=rnn)).eval()
        rows.append(
            (
                "many-to-many, aligned",
                "a label per frame / word",
                "SequenceTagger",
                "tagging",
                shape(tokens),
                shape(tagger(tokens, lengths)),
            )
        )

        s2s = Seq2Seq(Seq2SeqConfig(src_vocab_size=V, tgt_vocab_size=V, encoder=rnn, decoder=rnn)).eval()
        tgt = torch.randint(4, V, (B, T - 2))
        out, attention = s2s(tokens, lengths, tgt)
        rows.append(
            (
                "many-to-many, encoder-decoder",
                "translation",
                "Seq2Seq",
                "translation",
                shape(tokens),
                shape(out),
            )
        )

        fc = Forecaster(ForecasterConfig(horizon=3, rnn=rnn, scaling="none")).eval()
        history = torch.randn(B, T, 1)
        rows.append(
            (
                "window in, horizon out",
                "forecasting a series",
                "Forecaster",
                "forecasting",
                shape(history),
                shape(fc(history)),
            )
        )

    for kind, _, model, task, x, y in rows:
        report(kind.replace(" ", "_").replace(",", ""), f"{model} (task {task}): {x} -> {y}")
    report("attention_shape", shape(attention))

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(14, 2.6))
    layouts = [(1, 4), (4, 1), (4, 4), (4, 3), (4, 3)]  # inputs, outputs drawn per shape
    for ax, (kind, example, model, *_), (n_in, n_out) in zip(axes, rows, layouts):
        for k in range(4):
            ax.add_patch(plt.Rectangle((k, 1), 0.8, 0.6, color="#9ecae1"))  # the recurrent state
        for k in range(n_in):
            ax.add_patch(plt.Rectangle((k, 0), 0.8, 0.6, color="#fdae6b"))
        start = 4 - n_out if "encoder" in kind or "horizon" in kind else 0
        if kind == "many-to-one":
            start = 3
        for k in range(start, start + n_out):
            ax.add_patch(plt.Rectangle((k, 2), 0.8, 0.6, color="#a1d99b"))
        ax.set(xlim=(-0.2, 4), ylim=(-0.2, 2.8), title=f"{kind}\n{example}\n{model}")
        ax.title.set_fontsize(8)
        ax.axis("off")
    save(fig, args.out, "t01_sequence_shapes")
    report.save()


if __name__ == "__main__":
    main()
