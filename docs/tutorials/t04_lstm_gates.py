"""Tutorial 4: the LSTM's gates on a real sentence of a trained Korean sentiment model (NSMC).

Run: ``RNNKIT_SHARED_DATA=/path/to/data python docs/tutorials/t04_lstm_gates.py [--small] [--out FOLDER]``.
With ``$RNNKIT_SHARED_DATA/nsmc`` (the NSMC sample) it trains on movie reviews (small: 1,500, full:
10,000); without it, on the Korean half of the chatterbot corpus installed with rnnkit (topics as labels),
and says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import yaml
from tutorial_args import Report, parse, save

import rnnkit
from rnnkit.inspect import record
from rnnkit.inspect.plot_gates import plot_cell_trajectories, plot_gates

SENTENCE = "배우들 연기는 좋았지만 스토리가 너무 지루하고 뻔했다"


def nsmc_folder() -> Path | None:
    """``$RNNKIT_SHARED_DATA/nsmc`` when it holds the NSMC sample, else None."""
    root = os.environ.get("RNNKIT_SHARED_DATA")
    folder = Path(root, "nsmc") if root else None
    return folder if folder and (folder / "ratings_train_40k_sample.txt").is_file() else None


def head(source: Path, target: Path, rows: int | None) -> str:
    """The header and the first ``rows`` rows of a table (all with None), written to ``target``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    target.write_text("\n".join(lines if rows is None else lines[: rows + 1]) + "\n", encoding="utf-8")
    return str(target)


def data_section(out: Path, small: bool, report: Report) -> dict:
    """Where the texts come from: NSMC from the shared data, or the installed Korean chatterbot corpus."""
    folder = nsmc_folder()
    if folder is None:
        report("data", "chatterbot corpus (Korean), RNNKIT_SHARED_DATA/nsmc not found")
        return {"dataset": "chatterbot", "languages": ["korean"], "tokenizer": "char"}
    report("data", f"NSMC from {folder}")
    train, test = (1500, 300) if small else (10000, 2000)
    return {
        "train": head(folder / "ratings_train_40k_sample.txt", out / "t04_train.tsv", train),
        "test": head(folder / "ratings_test_10k_sample.txt", out / "t04_test.tsv", test),
        "format": "tsv",
        "text_column": "document",
        "label_column": "label",
        "tokenizer": "word" if small else "morpheme",
        "max_length": 60,
    }


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    report = Report("t04_lstm_gates", args.out, args.small)
    torch.manual_seed(0)
    data = {**data_section(args.out, args.small, report), "tfidf_baseline": False}
    hidden = 32 if args.small else 64
    config = {
        "task": "classification",
        "recipe": "none",
        "data": data,
        "model": {"embedding_dim": hidden, "rnn": {"cell": "lstm", "hidden_size": hidden}, "pooling": "last"},
        "train": {"epochs": 2 if args.small else 3, "batch_size": 32, "lr": 0.005, "device": "cpu"},
    }
    path = args.out / "t04_config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    run = rnnkit.fit(path, run_dir=args.out / "t04_run", quiet=True)
    report("test_accuracy", float(run.results["test_accuracy"]))
    report("prediction", rnnkit.predict(run.run_dir, [SENTENCE])[0])

    task, model = rnnkit.load_run(run.run_dir, device="cpu")
    tokens = task.tokens(SENTENCE)[: len(task.encode(SENTENCE))]
    ids = torch.tensor([task.encode(SENTENCE)])
    with record(model.eval(), check=True) as recording:
        model(ids, torch.tensor([ids.shape[1]]))
    gates = {k: v[0] for k, v in recording["rnn"].internals[0].items()}  # i f g o h c, each (T, H)
    forget = gates["f"].mean(1)  # (T,) the share of the cell state kept at each step, averaged over units
    report("tokens", " ".join(tokens))
    report("mean_forget_gate", [round(v, 3) for v in forget.tolist()])
    report("token_forgetting_most", tokens[int(forget.argmin())])
    report("token_keeping_most", tokens[int(forget.argmax())])
    plot_gates(gates, args.out / "t04_gates", tokens, title="LSTM gates", formats=("png",))
    plot_cell_trajectories(gates, args.out / "t04_cell", tokens, title="cell state c_t", formats=("png",))
    print(f"figure = {args.out / 't04_gates.png'}")
    print(f"figure = {args.out / 't04_cell.png'}")

    import matplotlib.pyplot as plt

    from rnnkit.plots.figure import text_style

    with text_style(tokens):
        fig, ax = plt.subplots(figsize=(8, 2.6))
        ax.bar(range(len(tokens)), forget.numpy())
        ax.set_xticks(range(len(tokens)), tokens, rotation=45, ha="right")
        ax.set(title="mean forget gate per token (1 = keep the cell state)", ylim=(0, 1))
        save(fig, args.out, "t04_forget")
    report.save()


if __name__ == "__main__":
    main()
