"""The rnnkit command: sub-commands, help, and the offline demo actually learning."""

import re
import subprocess
import sys

import pytest

from rnnkit.cli.main import main


def test_demo_learns_the_adding_problem_and_shows_gates(capsys):
    assert main(["demo", "--steps", "400", "--length", "20", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    mse = float(re.search(r"test MSE ([0-9.]+)", out).group(1))
    assert mse < 0.05, out  # the baseline (predicting the mean) is 0.167
    assert "mean gate activation" in out and re.search(r"^\s+f\s+[0-9.]+\s+[0-9.]+$", out, re.M)


def test_demo_with_a_vanilla_rnn_reports_no_gates(capsys):
    assert main(["demo", "--cell", "rnn", "--steps", "5", "--length", "4"]) == 0
    assert "has no gates to show" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_bad_option_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--cell", "transformer"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("rnnkit ")
