"""Every example run config shipped in rnnkit/configs parses and its data section validates."""

from importlib import resources
from pathlib import Path

import pytest

from rnnkit.cli.train import resolve_config
from rnnkit.tasks.base import load_run_config, task_class

CONFIGS = sorted(Path(str(resources.files("rnnkit") / "configs")).glob("*.yaml"))


def test_the_default_config_is_shipped():
    assert resolve_config(None).name == "chatterbot.yaml"
    assert resolve_config("sst2").name == "sst2.yaml"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_example_config_is_valid(path):
    config = load_run_config(path)
    task = task_class(config.task).from_run_config(config, str(path))
    assert task.train.epochs >= 1
    assert path.read_text(encoding="utf-8").startswith("#"), "start with a comment saying what it trains"
