"""The documentation site builds with warnings as errors, its config reference covers every key."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_config_reference_lists_every_key_with_its_default() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from config_reference import render
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    from rnnkit.layers.factory import RNNConfig
    from rnnkit.tasks.base import TASKS
    from rnnkit.training.config import TrainConfig

    page = render()
    for f in dataclasses.fields(TrainConfig):
        assert f"| `train.{f.name}` |" in page, f.name
    assert "| `train.lr` | <code>float</code> | `0.001` | peak learning rate" in page
    assert "| `train.max_steps` | <code>int &#124; None</code> | `None` |" in page
    for f in dataclasses.fields(RNNConfig):
        assert f"| `model.rnn.{f.name}` |" in page, f.name
    for name, task in TASKS.items():
        assert f"## Task `{name}`" in page
        for f in dataclasses.fields(task.data_config):
            assert f"| `data.{f.name}` |" in page, (name, f.name)


def test_site_builds_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocs_static_i18n") is None:
        pytest.skip('mkdocs is not installed: pip install -e ".[docs]"')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    site = tmp_path / "site"
    config = (site / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    assert "train.early_stopping_patience" in config
    assert "NSMC sample" in (site / "reference" / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert (site / "ko" / "index.html").read_text(encoding="utf-8").count("튜토리얼") >= 1
    assert "SequenceClassifier" in (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    from rnnkit.cli.main import build_parser

    commands = next(a.choices for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")  # docs/guide/, generated
    train = (site / "guide" / "train" / "index.html").read_text(encoding="utf-8")
    assert "--nproc-per-node" in train and "usage: rnnkit train" in train and "User guide" in train
    train_ko = (site / "ko" / "guide" / "train" / "index.html").read_text(encoding="utf-8")
    assert "--nproc-per-node" in train_ko and "사용법" in train_ko and "사용자 안내서" in train_ko
    for name in commands:
        assert f'id="rnnkit-{name}"' in cli, name
        assert (site / "guide" / name / "index.html").is_file(), name
        assert (site / "ko" / "guide" / name / "index.html").is_file(), name
