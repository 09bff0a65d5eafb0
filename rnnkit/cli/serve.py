"""``rnnkit serve``: trained runs behind an HTTP API and a web page (FastAPI + uvicorn, the serve extra)."""

from __future__ import annotations

import argparse
import os
import sys

EXAMPLES = """examples:
  rnnkit serve runs/chatterbot                        # http://127.0.0.1:8000: the page and /v1 API
  rnnkit serve runs/chatterbot runs/conll2000 --port 9000 --max-batch 64 --max-wait-ms 10
  RNNKIT_KEY=s3cret rnnkit serve runs/chatterbot --api-key-env RNNKIT_KEY --host 0.0.0.0
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve trained runs over HTTP (API and web page)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run folders made by rnnkit train, or export folders made by rnnkit export (served on ONNX "
        "Runtime, no torch needed)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--api-key-env", metavar="NAME", help="require the key held in this environment variable"
    )
    parser.add_argument("--max-batch", type=int, default=32, help="inputs per forward pass (1: no merging)")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a batch waits for company")
    parser.add_argument("--max-queue", type=int, default=512, help="inputs waiting per model before 429")
    parser.add_argument("--max-body-bytes", type=int, default=1_000_000, help="request body limit (413)")
    parser.add_argument("--max-items", type=int, default=64, help="inputs per predict request (422)")
    parser.add_argument("--max-chars", type=int, default=2000, help="characters per input (422)")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="seconds per request (504)")
    parser.add_argument("--max-units", type=int, default=64, help="units shown per layer by inspect")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=1000,
        help="tokens a request's options may ask to generate per input (422)",
    )
    parser.add_argument(
        "--max-beams", type=int, default=16, help="beams or texts per input a request may ask for (422)"
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="serve export folders' int8 models (made with rnnkit export --quantize int8)",
    )
    parser.add_argument("--device", help="cpu, cuda, ... (default: each run's)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch's CPU threads per forward pass (default 1: more compete with the event loop for the "
        "cores; on 2 cores under load, 2 threads served 9 requests/s instead of ~1000)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from rnnkit.serve import Registry, ServeConfig, create_app, serve
        from rnnkit.serve.registry import ServedRun
        from rnnkit.serve.server import is_loopback
    except ImportError as error:
        print(f"rnnkit serve: {error.name or error} is missing; pip install 'rnnkit[serve]'", file=sys.stderr)
        return 2
    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            print(
                f"rnnkit serve: --api-key-env {args.api_key_env}: the variable is unset or empty; "
                "set it to the key",
                file=sys.stderr,
            )
            return 2
    try:
        config = ServeConfig(
            max_batch=args.max_batch,
            max_wait_ms=args.max_wait_ms,
            max_queue=args.max_queue,
            max_body_bytes=args.max_body_bytes,
            max_items=args.max_items,
            max_chars=args.max_chars,
            timeout_s=args.timeout_s,
            max_units=args.max_units,
            max_new_tokens=args.max_new_tokens,
            max_beams=args.max_beams,
            api_key=key,
        )
        registry = Registry(args.runs, device=args.device, freeze_gc=True,
                            precision="int8" if args.int8 else "float32", threads=args.threads)  # fmt: skip
    except (FileNotFoundError, ValueError) as error:
        print(f"rnnkit serve: {error}", file=sys.stderr)
        return 2
    if args.threads < 1:
        print(f"rnnkit serve: --threads must be >= 1, got {args.threads}", file=sys.stderr)
        return 2
    if any(isinstance(run, ServedRun) for run in registry.runs.values()):  # export folders need no torch
        import torch

        torch.set_num_threads(args.threads)
    if not is_loopback(args.host) and key is None:
        print(
            f"rnnkit serve: warning: listening on {args.host} without an API key (--api-key-env NAME)",
            file=sys.stderr,
        )
    print(f"rnnkit serve: http://{args.host}:{args.port}/ serving {', '.join(registry.runs)}", flush=True)
    return serve(create_app(registry, config), args.host, args.port, args.log_level)
