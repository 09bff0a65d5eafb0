"""A real server on a free loopback port, in a thread of the test process (no mocks, no test client)."""

from __future__ import annotations

import socket
import threading
import time

import httpx

from rnnkit.serve import Registry, ServeConfig, create_app
from rnnkit.serve.server import Server, uvicorn_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``with LiveServer(run_dirs, config) as server:`` serves the runs at ``server.url`` until the block
    ends (then stops gracefully); ``wait_ready`` waits for ``/v1/health/ready``."""

    def __init__(self, run_dirs, config: ServeConfig | None = None, wait_ready: bool = True) -> None:
        self.registry = Registry(list(run_dirs))
        self.app = create_app(self.registry, config or ServeConfig())
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = Server(uvicorn_config(self.app, "127.0.0.1", self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.ready = wait_ready

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        if self.ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (answer := httpx.get(self.url + "/v1/health/ready")).status_code != 200:
            if time.monotonic() > deadline or "failed" in answer.text:
                raise RuntimeError(f"the test server's models did not load: {answer.text}")
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
