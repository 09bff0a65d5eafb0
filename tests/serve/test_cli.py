"""``rnnkit serve`` as a process: the key from the environment, SIGTERM drains the request in flight and
exits 0; wrong arguments exit 2 before anything starts."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from rnnkit.cli.main import main
from tests.serve.live import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"rnnkit serve exited {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(url + "/v1/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("rnnkit serve did not get ready")


def test_sigterm_finishes_the_request_in_flight_and_exits_0(toy_runs):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RNNKIT_TEST_KEY": "k3y", "RNNKIT_NO_EXTENSION": "1"}
    command = [sys.executable, "-m", "rnnkit", "serve", str(toy_runs["classification"]), "--port", str(port),
               "--api-key-env", "RNNKIT_TEST_KEY", "--max-wait-ms", "1500", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        headers = {"Authorization": "Bearer k3y"}
        assert httpx.get(url + "/v1/models", timeout=5).status_code == 401
        answers = []
        client = threading.Thread(target=lambda: answers.append(httpx.post(
            url + "/v1/models/classification/predict", json={"inputs": ["hello"]}, headers=headers, timeout=30)))  # fmt: skip
        client.start()
        time.sleep(0.5)  # the request now waits in its batch (1.5 s)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        in_flight = client.is_alive()
        try:  # no new connection is taken while the request in flight finishes
            httpx.get(url + "/v1/health/live", timeout=2)
            refused = False
        except httpx.TransportError:
            refused = True
        assert refused or not in_flight
        client.join(30)
        assert in_flight, "the request ended before SIGTERM: nothing was drained"
        assert process.wait(30) == 0
        assert answers and answers[0].status_code == 200, answers
        assert answers[0].json()["outputs"][0]["text"] == "hello"
        out, err = process.communicate()
        assert "Traceback" not in err and f"http://127.0.0.1:{port}/" in out
    finally:
        if process.poll() is None:
            process.kill()
    try:
        httpx.get(url + "/v1/health/live", timeout=2)
        raise AssertionError("the server still answers after it exited")
    except httpx.TransportError:
        pass


def test_wrong_arguments_exit_2_naming_the_problem(tmp_path, toy_runs, capsys, monkeypatch):
    assert main(["serve", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    monkeypatch.delenv("RNNKIT_NO_SUCH_KEY", raising=False)
    assert main(["serve", str(toy_runs["classification"]), "--api-key-env", "RNNKIT_NO_SUCH_KEY"]) == 2
    assert "RNNKIT_NO_SUCH_KEY" in capsys.readouterr().err
    assert main(["serve", str(toy_runs["classification"]), "--max-batch", "0"]) == 2
    assert "max_batch must be >= 1" in capsys.readouterr().err
    assert main(["serve", str(toy_runs["classification"]), str(toy_runs["classification"])]) == 2
    assert "two runs named" in capsys.readouterr().err
