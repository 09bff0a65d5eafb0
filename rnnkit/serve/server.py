"""Run an app with uvicorn; SIGTERM or Ctrl-C stops it gracefully and the process exits 0.

Graceful: the listening socket closes (no new connections), the requests in flight finish (up to
``graceful_s`` seconds), then the app's shutdown stops the batchers and the model threads.
"""

from __future__ import annotations

import ipaddress
import logging

import uvicorn

__all__ = ["Server", "is_loopback", "serve", "uvicorn_config"]

# uvicorn's connection settings, for hostile clients (tests/serve/test_hostile_clients.py):
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this long
MAX_CONNECTIONS = 1000  # past it a new connection gets 503 at once, not a slot: memory stays bounded
MAX_HEADER_BYTES = 16 * 1024  # h11: request line and headers larger than this are refused

log = logging.getLogger("rnnkit.serve")


class Server(uvicorn.Server):
    """uvicorn's server, less one habit: after a graceful stop on SIGTERM it would raise the signal again
    (so the process dies by it); a server stopped as asked exits 0."""

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def is_loopback(host: str) -> bool:
    """Whether ``host`` only takes connections from this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", graceful_s: float = 30.0
) -> int:
    """Serve ``app`` until SIGTERM / SIGINT; returns 0 after a graceful stop."""
    server = Server(uvicorn_config(app, host, port, log_level, graceful_s))
    server.run()
    return 0 if server.started else 1


def uvicorn_config(
    app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", graceful_s: float = 30.0
) -> uvicorn.Config:
    """uvicorn's settings for ``app``: graceful stop, idle connections closed after :data:`KEEP_ALIVE_S`,
    at most :data:`MAX_CONNECTIONS` at once, headers of at most :data:`MAX_HEADER_BYTES` (the body limit is
    the app's own, :class:`~rnnkit.serve.security.BodyLimit`)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=int(graceful_s),
        access_log=log_level == "debug",
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
