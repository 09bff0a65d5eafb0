"""``rnnkit inspect``: gates, cell states, gradient flow and saliency of a trained run, for given texts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = """examples:
  rnnkit inspect runs/chatterbot --text "what is your favorite food?"
  rnnkit inspect runs/chatterbot --input texts.txt --out pictures/ --format png
  rnnkit inspect runs/chatterbot             # no text: the first validation examples
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="draw the gates, cell states, gradient flow and saliency of a run on some inputs",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN", help="a run folder made by rnnkit train")
    parser.add_argument("--text", "-t", action="append", default=[], help="an input text (repeatable)")
    parser.add_argument("--input", "-i", help="a UTF-8 file with one input text per line")
    parser.add_argument("--examples", type=int, default=3, help="validation examples when no text is given")
    parser.add_argument("--out", "-o", help="folder for the pictures and index.html (default: RUN/inspect)")
    parser.add_argument("--format", choices=["png", "svg", "both"], default="both", help="picture files")
    parser.add_argument("--exact", action="store_true", help="exact ‖∂h_T/∂s_t‖ (one pass per unit)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: the run's)")
    parser.set_defaults(run=run)


def formats_of(choice: str) -> tuple[str, ...]:
    """The picture formats of a ``--format`` choice."""
    return ("png", "svg") if choice == "both" else (choice,)


def run(args: argparse.Namespace) -> int:
    from rnnkit.inspect.examples import text_examples, validation_examples
    from rnnkit.inspect.inspection import inspect_example
    from rnnkit.inspect.report import render_page
    from rnnkit.tasks.runner import load_run

    texts = list(args.text)
    if args.input:
        path = Path(args.input)
        if not path.is_file():
            print(f"rnnkit inspect: {path}: no such file", file=sys.stderr)
            return 2
        texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        task, model = load_run(args.run_dir, args.device)
        if texts:
            examples = text_examples(task, model, texts)
        else:
            examples = validation_examples(task, args.examples)
            for example in examples:
                example.batch = {k: v.to(task.device) for k, v in example.batch.items()}
    except (FileNotFoundError, ValueError) as error:
        print(f"rnnkit inspect: {error}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.run_dir) / "inspect"
    formats = formats_of(args.format)
    reports = []
    for k, example in enumerate(examples):
        report = inspect_example(model, example, task.compute_loss, out, f"input{k + 1}", formats,
                                 None if args.exact else 8)  # fmt: skip
        reports.append(report)
        print(f"{example.title}: {example.note or 'no label'}; loss {report.loss:.4f}")
        for picture in report.pictures:
            print(f"  {picture.kind:<10} {', '.join(str(f) for f in picture.files)}")
    if "png" in formats:
        title, command = f"rnnkit inspect: {Path(args.run_dir).name}", "rnnkit " + " ".join(sys.argv[1:])
        page = render_page(title, f"task {task.name}", {}, [], None, [], reports, command)
        (out / "index.html").write_text(page, encoding="utf-8")
        print(f"all pictures on one page: {out / 'index.html'}")
    return 0
