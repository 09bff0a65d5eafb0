"""Every tutorial runs at its small (CI) budget, prints its numbers and draws its figures; every tutorial
page exists in English and in Korean, and the Korean one is written in Korean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("t[0-9][0-9]_*.py"))

# what each tutorial must print (name -> check of its value) and the figures it must write
EXPECTED = {
    "t01_sequence_shapes": (
        {
            "many-to-one": lambda v: v.endswith("2x7 -> 2x2"),
            "many-to-many_aligned": lambda v: v.endswith("2x7 -> 2x7x5"),
            "window_in_horizon_out": lambda v: v.endswith("-> 2x3x1"),
        },
        ["t01_sequence_shapes.png"],
    ),
    "t02_vanilla_rnn": (
        {
            "max_abs_diff_cell": lambda v: v < 1e-5,
            "max_abs_diff_layer": lambda v: v < 1e-5,
            "grad_W_equals_sum_of_steps": lambda v: v is True,
        },
        ["t02_vanilla_rnn.png"],
    ),
    "t03_long_term_dependency": (
        {
            "RNN_jacobian_at_distance_30": lambda v: v < 1e-4,  # vanished
            "LSTM_forget_bias3_jacobian_at_distance_30": lambda v: v > 1e-2,  # kept by the cell state
            "tanh_derivative_max": lambda v: abs(v - 1) < 1e-6,
        },
        ["t03_long_term_dependency.png"],
    ),
    "t05_gru_vs_lstm": (
        {
            "baseline_mse": lambda v: abs(v - 1 / 6) < 1e-4,
            "GRU_test_mse": lambda v: 0 <= v < 1,
            "LSTM_test_mse": lambda v: 0 <= v < 1,
            "GRU_parameters": lambda v: v == 3 * 16 * (2 + 16 + 2),  # 3 gates: W (H, I), U (H, H), 2 biases
            "LSTM_parameters": lambda v: v == 4 * 16 * (2 + 16 + 2),
        },
        ["t05_gru_vs_lstm.png"],
    ),
    "t06_bidirectional_stacked": (
        {
            "max_diff_vs_unpadded": lambda v: v < 1e-5,
            "max_diff_h_n_vs_unpadded": lambda v: v < 1e-5,
            "padded_outputs_are_zero": lambda v: v is True,
            "without_lengths_backward_error": lambda v: v > 1e-3,  # why lengths= matters
            "max_diff_vs_torch_packed": lambda v: v < 1e-5,
        },
        ["t06_bidirectional_stacked.png"],
    ),
    "t04_lstm_gates": (
        {
            "test_accuracy": lambda v: 0 <= v <= 1,
            "mean_forget_gate": lambda v: len(v) > 3 and all(0 < g < 1 for g in v),
            "data": lambda v: isinstance(v, str) and v,
        },
        ["t04_gates.png", "t04_cell.png", "t04_forget.png"],
    ),
    "t07_conv_lstm_korean_reviews": (
        {
            "data": lambda v: isinstance(v, str) and v,
            "test_accuracy": lambda v: 0 <= v <= 1,
            "majority_class_accuracy": lambda v: 0 < v <= 1,
            "tfidf_lr_accuracy": lambda v: isinstance(v, str) or 0 <= v <= 1,
            "steps_after_conv_same": lambda v: v >= 1,
            "steps_bilstm_sees": lambda v: v >= 1,
            "bilstm_output_size": lambda v: v % 2 == 0,  # two directions, concatenated
            "saliency": lambda v: len(v) >= 2,
            "served_response": lambda v: json.loads(v)["outputs"][0]["label"] != "",
            "server_stopped": lambda v: v is True,
        },
        ["t07_saliency.png", "t07_gates.png"],
    ),
    "t08_forecasting": (
        {
            "airline_data": lambda v: isinstance(v, str) and v,
            "temperatures_data": lambda v: isinstance(v, str) and v,
            "airline_rnn_mae": lambda v: v > 0,
            "airline_seasonal_naive_mae": lambda v: v > 0,
            "airline_holt_winters_mae": lambda v: v > 0,
            "temperatures_rnn_mase": lambda v: v > 0,
            "temperatures_holt_winters_mase": lambda v: v > 0,
            "airline_coverage_0.1_0.9": lambda v: 0 <= v <= 1,
            "airline_after_the_data": lambda v: len(v) == 12 and all(x > 0 for x in v),
            "temperatures_after_the_data": lambda v: len(v) == 7,
        },
        ["t08_forecasting.png"],
    ),
}


def hangul(text: str) -> int:
    """How many Hangul syllables ``text`` holds."""
    return sum("\uac00" <= ch <= "\ud7a3" for ch in text)


def test_every_tutorial_has_expectations() -> None:
    assert SCRIPTS, TUTORIALS
    missing = [p.name for p in SCRIPTS if p.stem not in EXPECTED]
    assert not missing, f"add the numbers and figures of {missing} to EXPECTED in {__file__}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_tutorial_runs_at_small_budget(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(script), "--small", "--out", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    values = json.loads((tmp_path / f"{script.stem}.json").read_text(encoding="utf-8"))
    assert values["budget"] == "small"
    checks, figures = EXPECTED[script.stem]
    for key, check in checks.items():
        assert key in printed, f"{script.name} did not print {key}: {done.stdout}"
        assert check(values[key]), f"{script.name}: {key} = {values[key]}"
    for name in figures:
        figure = tmp_path / name
        assert figure.is_file() and figure.stat().st_size > 5000, figure
        assert f"figure = {figure}" in done.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_tutorial_page_in_both_languages(script: Path) -> None:
    english = script.with_suffix(".md")
    korean = script.with_suffix(".ko.md")
    assert english.is_file(), f"{english.relative_to(ROOT)} is missing"
    assert korean.is_file(), f"{korean.relative_to(ROOT)} is missing (the Korean page)"
    assert hangul(english.read_text(encoding="utf-8")) < 50, f"{english.name} should be the English page"
    count = hangul(korean.read_text(encoding="utf-8"))
    assert count >= 200, f"{korean.name} has only {count} Hangul syllables: is it really Korean?"
    for page in (english, korean):  # the figures a page embeds are the committed outputs of its script
        for name in EXPECTED[script.stem][1]:
            if name.split(".")[0] in page.read_text(encoding="utf-8"):
                assert (TUTORIALS / "figures" / name).is_file(), name


def test_hangul_counts_syllables() -> None:
    assert hangul("LSTM의 게이트") == 4
