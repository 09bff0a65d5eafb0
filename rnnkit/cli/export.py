"""``rnnkit export``: a trained run as a self-contained ONNX folder, which ``rnnkit predict`` runs without
torch (:mod:`rnnkit.export.folder`)."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  rnnkit export runs/chatterbot                       # -> runs/chatterbot/export
  rnnkit export runs/chatterbot --quantize int8 -o bot_onnx
  rnnkit predict bot_onnx "what is your favorite food?"   # numpy + onnxruntime, no torch
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained run to ONNX (a folder that runs without torch)", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("run_dir", metavar="RUN", help="a run folder made by rnnkit train")
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="the export format (onnx)")
    parser.add_argument(
        "--quantize",
        choices=["int8"],
        help="also write model_int8.onnx (int8 weights); decoding tasks: <graph>.int8.onnx per graph",
    )
    parser.add_argument("--opset", type=int, default=None, help="the ONNX opset (default 17; 14 or newer)")
    parser.add_argument("--output", "-o", metavar="DIR", help="the export folder (default RUN/export)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.export.folder import MODEL, MODEL_INT8, export_run
    from rnnkit.export.graph import DEFAULT_OPSET

    result = export_run(args.run_dir, args.output, args.opset or DEFAULT_OPSET, args.quantize)
    manifest = result.manifest
    print(f"exported {manifest['task']} model to {result.folder} (ONNX opset {manifest['opset']})")
    graphs = manifest["models"]["float32"]
    if isinstance(graphs, list):  # a decoding task's graphs (rnnkit.export.decoders), int8 copies beside
        for name, quantized in zip(graphs, manifest["models"].get("int8", [None] * len(graphs))):
            print(f"  {name}: {_size(result.size(name))}")
            if quantized is not None:
                before, after = result.size(name), result.size(quantized)
                print(f"  {quantized}: {_size(after)} ({after / before:.0%} of the float graph)")
    else:
        print(f"  {MODEL}: {_size(result.size(MODEL))}")
        if args.quantize:
            before, after = result.size(MODEL), result.size(MODEL_INT8)
            print(f"  {MODEL_INT8}: {_size(after)} ({after / before:.0%} of the float model)")
    metrics = manifest["export_test_metrics"]
    if metrics:
        for kind, scores in metrics.items():
            shown = ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
            print(f"  test split, {kind}: {shown}")
        if "int8" in metrics and "float32" in metrics:
            change = ", ".join(f"{k} {metrics['int8'][k] - v:+.4f}" for k, v in metrics["float32"].items())
            print(f"  int8 - float32: {change}")
    else:
        print("  (the run's test data is not on this machine: no test metrics of the export)")
    print(f'try: rnnkit predict {result.folder} "..."')
    return 0


def _size(size: int) -> str:
    """A file size for people.

    Example:
        >>> _size(2_500_000), _size(900)
        ('2.4 MiB', '0.9 KiB')
    """
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"
