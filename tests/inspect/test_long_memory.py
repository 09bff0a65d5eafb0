"""The long-memory experiment: its problems and baselines, and its command end to end (the smoke budget)."""

import json
import math
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import main
from rnnkit.inspect.experiments.long_memory import CELLS, Budget, Result, rnn_config, train_one
from rnnkit.inspect.experiments.outputs import markdown_table, verdict
from rnnkit.inspect.experiments.problems import copy_memory, load_digits, make_problem


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 5), delay=st.integers(1, 120), seed=st.integers(0, 2**31))
def test_copy_memory_is_symbols_blanks_delimiter_then_recall(batch, delay, seed):
    x, y = copy_memory(batch, delay, torch.Generator().manual_seed(seed))
    assert x.shape == y.shape == (batch, delay + 20)
    assert bool(((x[:, :10] >= 1) & (x[:, :10] <= 8)).all())
    assert bool((x[:, 10 : delay + 9] == 0).all()) and bool((x[:, delay + 9] == 9).all())
    assert bool((x[:, delay + 10 :] == 0).all())
    assert bool((y[:, : delay + 10] == 0).all()) and torch.equal(y[:, -10:], x[:, :10])


@pytest.mark.parametrize("delay", [1, 50, 100])
def test_the_copy_baseline_is_the_loss_of_blanks_then_a_uniform_guess(delay):
    problem = make_problem("copy", delay, test_size=16)
    _, y = problem.test
    logits = torch.full((*y.shape, 10), -1e4)
    logits[:, : delay + 10, 0] = 1e4  # certain blanks while waiting
    logits[:, delay + 10 :, 1:9] = 0.0  # then a uniform guess among the 8 symbols
    assert problem.error(logits, y) == pytest.approx(10 * math.log(8) / (delay + 20), rel=1e-5)
    assert problem.baseline == pytest.approx(10 * math.log(8) / (delay + 20))


def test_the_adding_baseline_is_predicting_one():
    problem = make_problem("adding", 50, test_size=4000)
    x, y = problem.test
    assert problem.baseline == pytest.approx(1 / 6)
    assert problem.error(torch.ones(len(y), 1), y) == pytest.approx(1 / 6, abs=0.01)


def test_a_gru_learns_a_short_adding_problem():
    budget = Budget(steps={"adding": 250, "copy": 1, "digits": 1}, batch_size=32, hidden_size=16, lr=1e-2,
                    eval_every=250, test_size=500)  # fmt: skip
    result, _ = train_one(make_problem("adding", 10, budget.test_size), "gru", budget)
    assert result.final < 0.25 * result.baseline, result.errors


def test_every_cell_has_its_configuration():
    assert rnn_config("lstm", 8, 100).forget_bias is None and rnn_config("lnlstm", 8, 100).layer_norm
    assert rnn_config("indrnn", 8, 100).recurrent_max_abs == pytest.approx(2 ** (1 / 100))
    assert {rnn_config(c, 8, 10).cell for c in CELLS} == {"rnn", "lstm", "gru", "indrnn", "mingru"}
    with pytest.raises(ValueError, match="unknown cell"):
        rnn_config("transformer", 8, 10)


def test_the_table_marks_solved_and_stuck_cells():
    results = [Result("adding", "adding T=50", "rnn", 1 / 6, [0, 5], [0.2, 0.166], 1.0, 10),
               Result("adding", "adding T=50", "gru", 1 / 6, [0, 5], [0.2, 0.004], 1.0, 10)]  # fmt: skip
    table = markdown_table(results, ["rnn", "gru", "lstm"])
    assert "| adding T=50 | MSE | 0.167 | 0.166 ✗ | 0.004 ✓ | — |" in table
    assert verdict(float("nan"), 1.0) == "✗"


def test_the_smoke_experiment_writes_its_table_and_figures(tmp_path, capsys):
    out = tmp_path / "results"
    code = main(["experiment", "long-memory", "--smoke", "--tasks", "adding,copy", "--workers", "1",
                 "--out", str(out), "--format", "png"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| adding T=8 | MSE | 0.167 |" in printed and "| copy T=4 | cross-entropy |" in printed
    names = {p.name for p in out.iterdir()}
    assert names == {"long_memory_smoke.md", "long_memory_smoke.json", "long_memory_smoke_curves.png",
                     "long_memory_smoke_flow.png"}  # fmt: skip
    raw = json.loads((out / "long_memory_smoke.json").read_text())
    assert len(raw["results"]) == 2 * len(CELLS)
    assert all(r["steps"][-1] == 12 and len(r["errors"]) == len(r["steps"]) for r in raw["results"])
    page = (out / "long_memory_smoke.md").read_text()
    assert "![learning curves](long_memory_smoke_curves.png)" in page
    assert "rnnkit experiment long-memory --smoke --tasks adding,copy --out" in page


def test_bad_experiment_arguments_fail_clearly(tmp_path, capsys):
    assert main(["experiment", "long-memory", "--smoke", "--tasks", "parity", "--out", str(tmp_path)]) == 2
    assert "unknown tasks" in capsys.readouterr().err
    assert main(["experiment", "long-memory", "--smoke", "--cells", "rnn,tcn", "--out", str(tmp_path)]) == 2
    assert "unknown cells" in capsys.readouterr().err


def test_digits_without_scikit_learn_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits()
    assert main(["experiment", "long-memory", "--smoke", "--tasks", "digits", "--out", str(tmp_path)]) == 2
    assert "--tasks adding,copy" in capsys.readouterr().err


def test_sequential_digits_are_64_pixels_in_the_unit_interval():
    pytest.importorskip("sklearn", reason="scikit-learn is optional: the digits task needs it")
    x_train, y_train, x_test, y_test = load_digits()
    assert x_train.shape[1:] == (64, 1) and len(x_train) + len(x_test) == 1797
    assert (
        float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0 and set(y_test.tolist()) == set(range(10))
    )
    problem = make_problem("digits")
    assert (
        0.85 < problem.baseline < 0.95
    )  # ten balanced classes: the majority class is right ~10% of the time
