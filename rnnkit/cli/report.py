"""``rnnkit report``: one self-contained HTML page with a run's curves, metrics and inside views."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """examples:
  rnnkit report runs/chatterbot                  # writes runs/chatterbot/report.html
  rnnkit report runs/chatterbot --examples 5 -o /tmp/bot.html
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write one HTML page (images embedded, opens offline) about a trained run",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN", help="a run folder made by rnnkit train")
    parser.add_argument("--out", "-o", help="the HTML file (default: RUN/report.html)")
    parser.add_argument("--examples", type=int, default=3, help="validation examples to inspect")
    parser.add_argument("--flow-batches", type=int, default=4, help="validation batches for gradient flow")
    parser.add_argument("--format", choices=["png", "svg", "both"], default="both",
                        help="picture files beside the page (the page embeds PNGs)")  # fmt: skip
    parser.add_argument("--exact", action="store_true", help="exact ‖∂h_T/∂s_t‖ (one pass per unit)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: the run's)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.cli.inspect import formats_of
    from rnnkit.inspect.report import build_report

    try:
        formats = tuple(dict.fromkeys(("png", *formats_of(args.format))))  # the page needs the PNGs
        path = build_report(args.run_dir, args.out, args.examples, formats, None if args.exact else 8,
                            args.flow_batches, args.device)  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        print(f"rnnkit report: {error}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0
