"""Hostile clients on a real uvicorn server (loopback, raw sockets): one that dribbles or stalls its body,
bodies far over the limit with and without Content-Length, many idle connections, a client that goes
away mid-request. Meanwhile every other client is still served, within a bound."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from rnnkit.serve import ServeConfig
from tests.serve.live import LiveServer

LIMIT = 4000  # the body limit of this server, bytes
BOUND_S = 5.0  # a well-behaved request must be answered within this while the hostile clients hang on


@pytest.fixture(scope="module")
def live(toy_runs):
    with LiveServer([toy_runs["classification"]], ServeConfig(max_body_bytes=LIMIT)) as server:
        yield server


def connect(live) -> socket.socket:
    return socket.create_connection(("127.0.0.1", live.port), timeout=10)


def head(path: str, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\r\n".encode()
    )


def rss_mib() -> float:
    """This process's resident memory (the server runs in it): /proc, Linux."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("no /proc/self/status here (not Linux): the memory bound is not measured")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def assert_others_are_served(live) -> None:
    started = time.monotonic()
    answer = httpx.post(
        live.url + "/v1/models/classification/predict", json={"inputs": ["hi"]}, timeout=BOUND_S
    )
    assert answer.status_code == 200 and time.monotonic() - started < BOUND_S


def read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_a_client_dribbling_or_stalling_its_body_does_not_hold_up_the_others(live):
    path = "/v1/models/classification/predict"
    body = b'{"inputs": ["dribbled"]}'
    slow = [connect(live) for _ in range(5)]
    for sock in slow:
        sock.sendall(head(path, f"Content-Length: {len(body)}\r\n"))
    for k in range(8):  # byte by byte, the others asked between the bytes
        for sock in slow:
            sock.sendall(body[k : k + 1])
        assert_others_are_served(live)
    for sock in slow[1:]:  # these stall for good: closed by the client at the end
        sock.close()
    slow[0].sendall(body[8:])  # the first one finishes, and is answered
    assert read_status(slow[0]) == 200
    slow[0].close()


def test_a_body_far_over_the_limit_is_413_declared_or_chunked_and_not_read_whole(live):
    path = "/v1/models/classification/predict"
    with connect(live) as sock:  # declared: refused from the headers, before a byte of body
        sock.sendall(head(path, "Content-Length: 1000000000\r\n"))
        assert read_status(sock) == 413
    with connect(live) as sock:  # chunked, no length: refused once past the limit
        sock.sendall(head(path, "Transfer-Encoding: chunked\r\n"))
        chunk, before = b"x" * 65536, rss_mib()
        try:
            for _ in range(640):  # 40 MiB offered; the server stops reading at the limit
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:  # the server answered and closed while we were still sending
            pass
        assert read_status(sock) == 413
        assert rss_mib() - before < 20  # the server (this process) did not keep the 40 MiB
    assert_others_are_served(live)


def test_many_idle_connections_do_not_starve_the_others(live):
    idle = [connect(live) for _ in range(100)]
    try:
        assert_others_are_served(live)
    finally:
        for sock in idle:
            sock.close()


def test_a_client_gone_mid_request_leaves_the_server_serving(live):
    path = "/v1/models/classification/predict"
    for _ in range(5):
        with connect(live) as sock:  # headers and half the body, then gone
            sock.sendall(head(path, "Content-Length: 100\r\n") + b'{"inputs": ["half')
        with connect(live) as sock:  # a whole request, gone before the answer
            body = b'{"inputs": ["gone"]}'
            sock.sendall(head(path, f"Content-Length: {len(body)}\r\n") + body)
    assert_others_are_served(live)
    deadline = time.monotonic() + BOUND_S  # the abandoned requests are answered into the void, then forgotten
    while httpx.get(live.url + "/v1/metrics").json()["models"]["classification"]["queued"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
