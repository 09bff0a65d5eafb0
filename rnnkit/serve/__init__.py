"""Serve trained runs over HTTP: a JSON API (predict, inspect, health, metadata) and a page that shows the
network at work, micro-batched, with limits and an optional API key (``rnnkit serve``; docs/serving.md).

    registry = Registry(["runs/chatterbot"])       # run folders, checked now, loaded when the app starts
    app = create_app(registry, ServeConfig(max_batch=32, max_wait_ms=5))
    serve(app, "127.0.0.1", 8000)                  # uvicorn; SIGTERM drains and exits 0

Needs the ``serve`` extra (``pip install rnnkit[serve]``: FastAPI and uvicorn); importing
:mod:`rnnkit` itself never imports them.
"""

from rnnkit.serve.app import create_app
from rnnkit.serve.batching import MicroBatcher
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.registry import Registry
from rnnkit.serve.server import serve

__all__ = ["MicroBatcher", "Registry", "ServeConfig", "create_app", "serve"]
