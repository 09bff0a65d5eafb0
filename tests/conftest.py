"""Test-wide settings."""

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
