"""Test-wide settings."""

import os

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tests run tiny models: one intra-op thread is faster for them and immune to oversubscription
    when the machine is busy (two threads on a loaded 2-core machine ran 50x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """rnnkit's cache (downloads, fitted baselines) in a folder of the test session, not the user's; child
    processes (the benchmark scripts) inherit it."""
    before = os.environ.get("RNNKIT_CACHE")
    os.environ["RNNKIT_CACHE"] = str(tmp_path_factory.mktemp("rnnkit-cache"))
    yield
    if before is None:
        os.environ.pop("RNNKIT_CACHE", None)
    else:
        os.environ["RNNKIT_CACHE"] = before
