"""benchmarks/time_to_accuracy.py's Keras 3 system, where keras imports in this interpreter (its backend:
KERAS_BACKEND, else JAX, as the benchmark's child uses): the model's masking makes its logits independent
of the padding, and ``--quick --keras-python`` trains the tiny synthetic set and reports a Keras row with
the ratio columns. Skipped, with the reason, where keras does not import (the CI venv); run them with the
benchmark's Keras venv (benchmarks/README.md, time to accuracy)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "time_to_accuracy.py"
os.environ.setdefault("KERAS_BACKEND", "jax")  # the benchmark child's default, before keras loads
os.environ.setdefault("JAX_PLATFORMS", "cpu")
keras = pytest.importorskip("keras", reason=f"keras does not import in {sys.executable}: no Keras runs")


def test_keras_classifier_logits_do_not_depend_on_the_padding():
    import numpy as np

    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from time_to_accuracy import keras_classifier
    finally:
        sys.path.remove(str(SCRIPT.parent))
    from rnnkit.models.classifier import ClassifierConfig

    preset = ClassifierConfig.conv_lstm(50, 2, embedding_dim=8, channels=6, hidden_size=5, pool_size=4)
    keras.utils.set_random_seed(0)
    short, long = (keras_classifier(preset, 50, 2, length) for length in (12, 28))
    long.set_weights(short.get_weights())
    texts = [[3, 4, 5, 6, 7], [9, 8, 7, 6, 5, 4, 3, 2, 1, 2, 3, 4]]  # 5 ids: a partial last window
    ids = {length: np.zeros((2, length), dtype="int32") for length in (12, 28)}
    for row, text in enumerate(texts):
        for padded in ids.values():
            padded[row, : len(text)] = text
    got_short, got_long = np.asarray(short(ids[12])), np.asarray(long(ids[28]))
    np.testing.assert_allclose(got_short, got_long, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got_short[0], got_short[1])  # the model does read the texts


def test_quick_run_has_a_keras_row(tmp_path):
    table = tmp_path / "tta.md"
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--keras-python", sys.executable,
                             "--markdown", str(table)], capture_output=True, text=True, timeout=400,
                            cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = table.read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").split(" | ") for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| system") and "---" not in line}  # fmt: skip
    assert set(rows) == {"rnnkit", "hand loop (torch.nn)", "Keras 3"}
    keras_row = rows["Keras 3"]
    assert float(keras_row[1].removeprefix("not reached (").rstrip(")")) > 0
    assert 1 <= float(keras_row[2]) <= 2  # epochs, the quick cap is 2
    assert 0 <= float(keras_row[3]) <= 1
    assert float(keras_row[4]) > 0
    assert keras_row[6] in ("1.00x", "-")  # Keras over itself
    assert rows["hand loop (torch.nn)"][5] in ("1.00x", "-")
    assert f"keras {keras.__version__}, backend {keras.backend.backend()}" in text
    assert "note: keras is not installed" not in text


def test_keras_classifier_torch_init_draws_torch_defaults():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from time_to_accuracy import keras_classifier
    finally:
        sys.path.remove(str(SCRIPT.parent))
    import numpy as np

    from rnnkit.models.classifier import ClassifierConfig

    preset = ClassifierConfig.conv_lstm(400, 2, embedding_dim=16, channels=8, hidden_size=25)
    keras.utils.set_random_seed(0)
    weights = {w.path: np.asarray(w) for w in keras_classifier(preset, 400, 2, 20, init="torch").weights}
    embedding = next(v for k, v in weights.items() if "embedding" in k)
    assert 0.9 < embedding.std() < 1.1  # N(0, 1), not Keras's U(-0.05, 0.05)
    lstm = [v for k, v in weights.items() if "lstm" in k]
    assert lstm and all(np.abs(v).max() <= 25**-0.5 + 1e-7 for v in lstm)
    assert max(np.abs(v).max() for v in lstm) > 0.9 * 25**-0.5  # uniform up to the bound, no forget bias 1
    keras.utils.set_random_seed(0)
    default = {w.path: np.asarray(w) for w in keras_classifier(preset, 400, 2, 20).weights}
    assert np.abs(next(v for k, v in default.items() if "embedding" in k)).max() <= 0.05
