"""``rnnkit predict EXPORT_DIR`` where torch cannot be imported: with an import blocker, and in a fresh
virtual environment holding numpy and onnxruntime alone (skipped, saying why, when pip cannot install)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.cli.main import main
from rnnkit.export.folder import export_run
from tests.export.runs import CHATTERBOT, make_run

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["what is your favorite food?", "오늘 기분이 좋아", "hi"]
BLOCK_TORCH = textwrap.dedent("""
    import sys

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"torch is blocked in this test (import of {name})")
            return None

    sys.meta_path.insert(0, NoTorch())
    from rnnkit.cli.main import run

    code = run(sys.argv[1:])
    assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
    sys.exit(code)
""")


def venv_without_torch(tmp_path: Path) -> Path:
    """The python of a fresh virtual environment holding numpy and onnxruntime only (pip from the package
    index pip already uses); skips, saying why, where pip cannot install them."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, capture_output=True)
    python = venv / "bin" / "python"
    try:
        install = subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy", "onnxruntime"],
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("pip could not install numpy and onnxruntime within 300 s (no package index here?)")
    if install.returncode != 0:
        print(install.stderr[-2000:])
        pytest.skip(f"pip could not install numpy and onnxruntime here: {install.stderr.strip()[-300:]}")
    return python


def predict_without_torch(folder, inputs, tmp_path):
    """The JSON lines of ``rnnkit predict FOLDER INPUTS...`` in a process that refuses to import torch."""
    script = tmp_path / "no_torch.py"
    script.write_text(BLOCK_TORCH)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(script), "predict", str(folder), *inputs], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    data = {**CHATTERBOT, "tokenizer": "word", "characters": True, "top_k": 2}
    model = {
        "embedding_dim": 8,
        "char_filters": 4,
        "rnn": {"cell": "lstm", "hidden_size": 6},
        "pooling": "mean",
    }
    run = make_run(tmp_path_factory.mktemp("runs") / "bot", "classification", data, model)
    return run, export_run(run, run / "export", quantize="int8").folder


def run_predictions(run, capsys):
    assert main(["predict", str(run), *TEXTS]) == 0
    return capsys.readouterr().out


def test_predict_runs_with_torch_imports_refused(exported, capsys, tmp_path):
    run, folder = exported
    script = tmp_path / "no_torch.py"
    script.write_text(BLOCK_TORCH)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(script), "predict", str(folder), *TEXTS], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_predictions(run, capsys)


def test_predict_in_a_virtual_environment_without_torch(exported, capsys, tmp_path):
    run, folder = exported
    python = venv_without_torch(tmp_path)
    probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True, timeout=60)
    assert probe.returncode != 0, "the fresh virtual environment has torch"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONHOME", None)
    result = subprocess.run([str(python), "-m", "rnnkit", "predict", str(folder), *TEXTS], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_predictions(run, capsys)
    int8 = subprocess.run([str(python), "-m", "rnnkit", "predict", str(folder), *TEXTS, "--int8"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert int8.returncode == 0 and len(int8.stdout.splitlines()) == len(TEXTS), int8.stderr
