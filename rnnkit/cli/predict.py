"""``rnnkit predict``: a trained run's predictions for texts given as arguments or in a file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = """examples:
  rnnkit predict runs/chatterbot "what is your favorite food?" "오늘 기분이 좋아"
  rnnkit predict runs/chatterbot --input texts.txt --output predictions.jsonl
  rnnkit predict runs/airline_passengers "112,118,132,129,121,135,148,148,136,119,104,118,..."
  rnnkit predict runs/pm25 next_day.csv      # forecasting with covariates: a table in the training columns,
                                             # the rows to forecast last (value blank, known-future columns)
  rnnkit predict runs/nsmc_generation 1 0 --set generation.count=5 --set generation.seed=3
  rnnkit predict runs/digits_captions "[0, 0, 5, 13, 9, 1, 0, 0, ...]"   # a feature vector: its caption
  rnnkit predict runs/chatterbot/export "hello"    # an export folder (rnnkit export): ONNX Runtime, no torch
  rnnkit predict runs/chatterbot/export "hello" --int8   # its model_int8.onnx (rnnkit export --quantize int8)
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict with a trained run", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "run_dir",
        metavar="RUN",
        help="a run folder made by rnnkit train, or an export folder (rnnkit export)",
    )
    parser.add_argument(
        "texts", nargs="*", help="inputs to predict (for forecasting: a history, or a table file)"
    )
    parser.add_argument("--input", "-i", help="a UTF-8 file with one input per line")
    parser.add_argument("--output", "-o", help="write JSON lines here instead of standard output")
    parser.add_argument("--device", help="cpu, cuda, ... (default: the run's)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="change the run's data section for this prediction (repeatable), e.g. generation.count=5 "
        "generation.temperature=0.7 generation.top_k=20 generation.seed=1",
    )  # fmt: skip
    parser.add_argument(
        "--int8",
        action="store_true",
        help="with an export folder: use its int8 model (model_int8.onnx; a decoding task's *.int8.onnx)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    texts = list(args.texts)
    sources = [f"argument {k}" for k in range(1, len(texts) + 1)]  # where each input came from
    if args.input:
        path = Path(args.input)
        if not path.is_file():
            print(f"rnnkit predict: {path}: no such file", file=sys.stderr)
            return 2
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                texts.append(line)
                sources.append(f"{path}:{number}")
    if not texts:
        print("rnnkit predict: give texts as arguments or --input FILE", file=sys.stderr)
        return 2
    try:
        predictions = _predictions(args, texts)
    except _input_errors() as error:
        print(f"rnnkit predict: {sources[error.number - 1]}: {error.reason}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"rnnkit predict: {error}", file=sys.stderr)
        return 2
    lines = [json.dumps(p, ensure_ascii=False) for p in predictions]
    if args.output:
        Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        print("\n".join(lines))
    return 0


def _input_errors() -> tuple[type[Exception], ...]:
    """The errors that name one input: the runtime's, and the tasks' where torch is already imported."""
    from rnnkit.export.runtime import ExportInputError

    if "rnnkit.tasks.base" not in sys.modules:  # not imported: a run's tasks did not run
        return (ExportInputError,)
    from rnnkit.tasks.base import InputError

    return (ExportInputError, InputError)


def _predictions(args: argparse.Namespace, texts: list[str]) -> list[dict]:
    """The run's predictions, or an export folder's (rnnkit.export.runtime: no torch)."""
    from rnnkit.errors import UserError
    from rnnkit.export.manifest import is_export_folder

    if is_export_folder(args.run_dir):
        from rnnkit.export.runtime import load_export

        if args.overrides or args.device:
            raise UserError(f"{args.run_dir}: an export folder takes no --set or --device (it runs on the "
                            "CPU as exported); predict with the run folder for those")  # fmt: skip
        return load_export(args.run_dir, "int8" if args.int8 else "float32").predict(texts)
    if args.int8:
        raise UserError(f"{args.run_dir}: --int8 applies to an export folder (rnnkit export --quantize int8)")
    from rnnkit.tasks.runner import predict

    return predict(args.run_dir, texts, args.device, args.overrides)
