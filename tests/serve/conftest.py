"""Shared fixtures of the server tests: one tiny trained run per task, and a live server holding them all."""

import pytest

pytest.importorskip("fastapi", reason="rnnkit serve needs the serve extra: pip install 'rnnkit[serve]'")
pytest.importorskip("httpx", reason="the server tests talk HTTP with httpx: pip install httpx")

from tests.serve.live import LiveServer
from tests.serve.toy_runs import train_toy_runs


@pytest.fixture(scope="session")
def toy_runs(tmp_path_factory):
    """Task name -> a run folder trained for a few steps (about 10 s for all six)."""
    return train_toy_runs(tmp_path_factory.mktemp("serve_runs"))


@pytest.fixture(scope="session")
def server(toy_runs):
    """Every toy run served with the default settings, no API key."""
    with LiveServer(toy_runs.values()) as live:
        yield live
