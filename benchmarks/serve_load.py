"""Load on ``rnnkit serve``: many concurrent clients on loopback, micro-batching on and off in one run.

Two servers of the same run are started side by side (``--max-batch B --max-wait-ms W`` and ``--max-batch
1``); the load alternates between them in rounds, so that both see the same machine. Each phase sends a
fixed number of predict requests (one input each) from ``C`` concurrent clients (one keep-alive
connection each, on asyncio streams in this one process: :class:`Connection`), bounded by a time limit: the
script stops by itself. Printed per server: requests, 2xx / 4xx / 5xx / failed, throughput (median over
rounds), p50 / p95 / p99 latency over every request, the mean batch size (the server's /v1/metrics), the
CPU time per request of the server and of this client (they share the machine's cores), and the server's
RSS after warm-up and at the end. The servers are stopped with SIGTERM and must exit 0.

    python benchmarks/serve_load.py runs/chatterbot                 # 3 rounds x 1000 requests, 32 clients
    python benchmarks/serve_load.py runs/chatterbot --quick         # a smoke run (CI): never timed
    python benchmarks/serve_load.py runs/chatterbot --soak 60       # 60 s of valid and invalid requests

``--soak S``: one micro-batching server, ``C`` clients for ``S`` seconds sending a mix of valid requests and
invalid ones (malformed JSON, wrong types, too long an input, too many inputs, an unknown model, an option
too large, a body over the limit); it fails on a 5xx, a dropped connection or a status other than the
one expected, and prints the server's RSS after warm-up and at the end (``--quick --soak S``: 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TEXTS = [
    "hi", "what is your favorite food?", "오늘 기분이 좋아", "tell me a joke", "who are you?",
    "do you like music and movies?", "안녕하세요 반갑습니다", "what is the meaning of life?",
    "i feel a bit sad today", "can you help me with my homework please", "너는 누구니", "good morning",
    "what do you think about artificial intelligence and the future of computers", "ok",
    "재미있는 이야기 해줘", "where do you live",
]  # fmt: skip


@dataclass
class Tally:
    """What one server answered over the whole benchmark."""

    latencies: list[float] = field(default_factory=list)  # seconds, every completed request
    codes: dict[str, int] = field(default_factory=lambda: {"2xx": 0, "4xx": 0, "5xx": 0, "failed": 0})
    throughputs: list[float] = field(default_factory=list)  # requests per second, per round
    server_cpu: float = 0.0  # CPU seconds the server process used during the rounds
    client_cpu: float = 0.0  # CPU seconds this process (the load client) used during them

    def count(self, status: int | None) -> None:
        key = "failed" if status is None else f"{status // 100}xx"
        self.codes[key] = self.codes.get(key, 0) + 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux); NaN elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class ServerProcess:
    """``rnnkit serve RUN`` in a subprocess on a free loopback port."""

    def __init__(self, run: str, label: str, extra: list[str]) -> None:
        self.label, self.port = label, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "rnnkit", "serve", run, "--port", str(self.port),
                   "--log-level", "warning", "--max-queue", "100000", *extra]  # fmt: skip
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read()
                raise SystemExit(f"{self.label}: rnnkit serve exited {self.process.returncode}: {error}")
            try:
                if httpx.get(self.url + "/v1/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.label}: not ready after {timeout:.0f} s")

    def model(self) -> str:
        return httpx.get(self.url + "/v1/models").json()["models"][0]["name"]

    def batches(self, name: str) -> tuple[int, int]:
        stats = httpx.get(self.url + "/v1/metrics").json()["models"][name]
        return stats["inputs"], stats["batches"]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: the load client.

    A request is one write and a response one read of its head and ``Content-Length`` bytes: about 0.03 ms
    of CPU per request, where httpx's async client took about 4 ms with 32 connections, on the same 2 cores
    as the server (it was the bottleneck of this benchmark). It speaks only what the load sends and the
    server answers: JSON bodies with a ``Content-Length``, ``Connection: close`` honoured by reconnecting.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        """Connect, unless connected."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``: ``(status, response body)``."""
        await self.open()
        self.writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self.host.encode(), len(body), body)
        )
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status, length, close = int(lines[0].split()[1]), None, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if length is None:
                raise ConnectionError("a response without Content-Length")
            content = await self.reader.readexactly(length)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            raise
        if close:
            self.close()
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by this process, or by process ``pid`` (from /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def run_loop(coroutine):
    """Run the client's coroutine on uvloop where installed (a cheaper loop), else on asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


async def load(url: str, requests: int, clients: int, limit_s: float, tally: Tally | None) -> float:
    """Send ``requests`` predict requests from ``clients`` concurrent clients, each on its own keep-alive
    connection (at most ``limit_s`` seconds); returns the throughput (completed requests per second).

    The connections are opened before the clock starts: the latencies are those of a keep-alive client's
    requests, not of 32 connections set up at once (their first requests took ~50 ms on 2 cores)."""
    address = url.split("://", 1)[1]
    host_port, path = address.split("/", 1)
    host, port = host_port.rsplit(":", 1)
    bodies = [json.dumps({"inputs": [text]}).encode() for text in TEXTS]
    counter = iter(range(requests))
    deadline = time.monotonic() + limit_s
    done = 0

    async def client(connection: Connection) -> None:
        nonlocal done
        try:
            for k in counter:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(
                        connection.post("/" + path, bodies[k % len(bodies)]), 60
                    )
                except (OSError, EOFError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                    connection.close()
                    status = None
                if tally is not None:
                    tally.count(status)
                    if status is not None:
                        tally.latencies.append(time.perf_counter() - started)
                done += 1
        finally:
            connection.close()

    connections = [Connection(host, int(port)) for _ in range(clients)]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.open() for c in connections)), 60)
    except (OSError, asyncio.TimeoutError):
        pass  # a client that could not connect tries again with its first request (and counts a failure)
    started = time.perf_counter()
    await asyncio.gather(*(client(connection) for connection in connections))
    return done / (time.perf_counter() - started)


def soak_requests(name: str) -> list[tuple[str, bytes, int]]:
    """(path, body, the status it must get): valid requests and every kind of invalid one, in a cycle."""
    predict = f"/v1/models/{name}/predict"
    return [
        (predict, b'{"inputs": ["hello there"]}', 200),
        (predict, '{"inputs": ["오늘 기분이 좋아", "ok"]}'.encode(), 200),
        (f"/v1/models/{name}/inspect", b'{"input": "what is your favorite food?"}', 200),
        (predict, b'{"inputs": ["unterminated', 400),
        (predict, b'{"inputs": [1, 2]}', 422),
        (predict, b'{"inputs": ["' + b"x" * 5000 + b'"]}', 422),
        (predict, b'{"inputs": [' + b'"a",' * 100 + b'"a"]}', 422),
        (predict, b'{"inputs": ["a"], "options": {"top_k": 0}}', 422),
        ("/v1/models/no-such-model/predict", b'{"inputs": ["a"]}', 404),
        (predict, b'{"inputs": ["' + b"y" * 1_100_000 + b'"]}', 413),
    ]


async def soak(base: str, name: str, clients: int, seconds: float) -> dict[str, int]:
    """``clients`` clients cycling through :func:`soak_requests` for ``seconds``; counts by outcome
    ("2xx", "4xx", "5xx", "failed", "cut off" and "unexpected": a status other than the one expected)."""
    requests = soak_requests(name)
    counts = {"2xx": 0, "4xx": 0, "5xx": 0, "failed": 0, "cut off": 0, "unexpected": 0}
    deadline = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient, offset: int) -> None:
        k = offset
        while time.monotonic() < deadline:
            path, body, expected = requests[k % len(requests)]
            k += 1
            try:
                answer = await http.post(
                    base + path, content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError:
                # a body over the limit is answered 413 and the connection closed unread: a client still
                # sending it may see the close before the answer ("cut off"); any other request: "failed"
                counts["cut off" if expected == 413 else "failed"] += 1
                continue
            counts[f"{answer.status_code // 100}xx"] = counts.get(f"{answer.status_code // 100}xx", 0) + 1
            counts["unexpected"] += answer.status_code != expected

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http, k) for k in range(clients)))
    return counts


def run_soak(args: argparse.Namespace) -> int:
    """The ``--soak`` benchmark: prints its table, returns 0 when no answer was a 5xx or dropped."""
    seconds = 3.0 if args.quick else args.soak
    server = ServerProcess(
        args.run, "soak", ["--max-batch", str(args.max_batch), "--threads", str(args.threads)]
    )
    try:
        server.wait_ready()
        name = server.model()
        asyncio.run(soak(server.url, name, args.clients, min(5.0, seconds)))  # warm-up
        warm = rss_mib(server.process.pid)
        started = time.perf_counter()
        counts = asyncio.run(soak(server.url, name, args.clients, seconds))
        elapsed = time.perf_counter() - started
        end = rss_mib(server.process.pid)
        live = httpx.get(server.url + "/v1/health/live").status_code
    finally:
        code = server.stop()
    total = sum(v for k, v in counts.items() if k != "unexpected")
    table = "\n".join(
        [
            f"soak: {seconds:g} s, {args.clients} concurrent clients, valid and invalid requests in a cycle, "
            f"model {name!r} ({args.run}); python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
            "",
            "| requests | req/s | 2xx | 4xx | 5xx | failed | cut off | unexpected | RSS warm MiB "
            "| RSS end MiB |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| {total} | {total / elapsed:.0f} | {counts['2xx']} | {counts['4xx']} | {counts['5xx']} | "
            f"{counts['failed']} | {counts['cut off']} | {counts['unexpected']} | {warm:.0f} | {end:.0f} |",
            "",
            f"zero 5xx: {'yes' if counts['5xx'] == 0 else 'NO'}; live after the soak: {live}; "
            f"server exited {code} after SIGTERM",
        ]
    )
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    ok = counts["5xx"] == counts["failed"] == counts["unexpected"] == 0 and live == 200 and code == 0
    return 0 if ok else 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", nargs="?", default="runs/chatterbot", help="a text-classifier run folder")
    parser.add_argument("--requests", type=int, default=1000, help="requests per server per round")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per server")
    parser.add_argument("--limit-s", type=float, default=60, help="time limit of one phase")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of each server (rnnkit serve --threads)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 40 requests, 8 clients")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument(
        "--soak", type=float, metavar="S", help="instead: S seconds of valid and invalid requests"
    )
    args = parser.parse_args(argv)
    if args.soak is not None:
        if not (Path(args.run) / "run.yaml").is_file():
            print(f"serve_load: {args.run}: not a run folder; train one with `rnnkit train`", file=sys.stderr)
            return 2
        return run_soak(args)
    if args.quick:
        args.requests, args.clients, args.rounds, args.limit_s = 40, 8, 1, 60
    if not (Path(args.run) / "run.yaml").is_file():
        print(f"serve_load: {args.run}: not a run folder; train one with `rnnkit train`", file=sys.stderr)
        return 2
    threads = ["--threads", str(args.threads)]
    batching = ["--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms), *threads]
    servers = [
        ServerProcess(
            args.run, f"micro-batching (max-batch {args.max_batch}, wait {args.max_wait_ms:g} ms)", batching
        ),
        ServerProcess(args.run, "no batching (max-batch 1)", ["--max-batch", "1", *threads]),
    ]
    try:
        for server in servers:
            server.wait_ready()
        name = servers[0].model()
        url = {s.label: f"{s.url}/v1/models/{name}/predict" for s in servers}
        for server in servers:  # warm-up: the allocator and the kernels settle before RSS is read
            run_loop(load(url[server.label], max(20, args.requests // 5), args.clients, args.limit_s, None))
        warm = {s.label: rss_mib(s.process.pid) for s in servers}
        before = {s.label: s.batches(name) for s in servers}
        tallies = {s.label: Tally() for s in servers}
        for _ in range(args.rounds):
            for server in servers:
                tally = tallies[server.label]
                client, served = cpu_s(), cpu_s(server.process.pid)
                rate = run_loop(load(url[server.label], args.requests, args.clients, args.limit_s, tally))
                tally.client_cpu += cpu_s() - client
                tally.server_cpu += cpu_s(server.process.pid) - served
                tally.throughputs.append(rate)
        end = {s.label: rss_mib(s.process.pid) for s in servers}
        after = {s.label: s.batches(name) for s in servers}
    finally:
        codes = [server.stop() for server in servers]
    lines = [
        f"{args.rounds} round(s) x {args.requests} requests, {args.clients} concurrent clients, one input "
        f"each, model {name!r} ({args.run}), {args.threads} torch thread(s) per server; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
        "",
        "| server | requests | 2xx | 4xx | 5xx | failed | req/s (median) | p50 ms | p95 ms | p99 ms "
        "| mean batch | server CPU ms/req | client CPU ms/req | RSS warm MiB | RSS end MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for server in servers:
        tally, label = tallies[server.label], server.label
        inputs = after[label][0] - before[label][0]
        batches = max(1, after[label][1] - before[label][1])
        ms = [1000 * v for v in tally.latencies]
        lines.append(
            f"| {label} | {sum(tally.codes.values())} | {tally.codes['2xx']} | {tally.codes['4xx']} | "
            f"{tally.codes['5xx']} | {tally.codes['failed']} | {statistics.median(tally.throughputs):.0f} | "
            f"{percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} | {percentile(ms, 99):.1f} | "
            f"{inputs / batches:.1f} | {1000 * tally.server_cpu / max(1, len(ms)):.2f} | "
            f"{1000 * tally.client_cpu / max(1, len(ms)):.2f} | {warm[label]:.0f} | {end[label]:.0f} |"
        )
    on, off = (tallies[s.label] for s in servers)
    ratio = statistics.median(on.throughputs) / statistics.median(off.throughputs)
    lines += [
        "",
        f"throughput with micro-batching / without: {ratio:.2f}x; servers exited {codes} after SIGTERM",
    ]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    server_errors = on.codes["5xx"] + off.codes["5xx"] + on.codes["failed"] + off.codes["failed"]
    return 0 if server_errors == 0 and codes == [0, 0] else 1


if __name__ == "__main__":
    sys.exit(main())
