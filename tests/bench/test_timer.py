"""rnnkit.bench.timer (call counts, interleaving, median) and a smoke run of benchmarks/layers.py.

No timing assertions: the samples depend on the machine and its load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.bench.timer import median, time_interleaved

REPO = Path(__file__).resolve().parents[2]


def recording(calls: list[str], name: str):
    return lambda: calls.append(name)


@pytest.mark.parametrize("repeats, warmup", [(1, 0), (3, 2), (5, 1)])
def test_each_contender_runs_warmup_plus_repeats_times(repeats, warmup):
    calls: list[str] = []
    contenders = {name: recording(calls, name) for name in "abc"}
    samples = time_interleaved(contenders, repeats=repeats, warmup=warmup)
    assert {name: calls.count(name) for name in "abc"} == dict.fromkeys("abc", warmup + repeats)
    assert list(samples) == ["a", "b", "c"]
    assert all(len(times) == repeats for times in samples.values())
    assert all(t >= 0.0 for times in samples.values() for t in times)


def test_timed_calls_are_interleaved_after_the_warmup():
    calls: list[str] = []
    contenders = {name: recording(calls, name) for name in "abc"}
    time_interleaved(contenders, repeats=3, warmup=2)
    assert calls[:6] == ["a", "a", "b", "b", "c", "c"]  # each warmed up before any timing
    assert calls[6:] == ["a", "b", "c"] * 3  # then round-robin


def test_sync_brackets_every_timed_call():
    events: list[str] = []
    time_interleaved(
        {"a": recording(events, "a"), "b": recording(events, "b")},
        repeats=2,
        warmup=1,
        sync=lambda: events.append("sync"),
    )
    assert events[:2] == ["a", "b"]
    assert events[2:] == ["sync", "a", "sync", "sync", "b", "sync"] * 2


@pytest.mark.parametrize("repeats, warmup", [(0, 1), (2, -1), (1.5, 1), (True, 1)])
def test_bad_counts_are_rejected(repeats, warmup):
    with pytest.raises(ValueError):
        time_interleaved({"a": lambda: None}, repeats=repeats, warmup=warmup)


@pytest.mark.parametrize(
    "samples, expected",
    [([2.0], 2.0), ([3.0, 1.0, 2.0], 2.0), ([4.0, 1.0, 3.0, 2.0], 2.5), ([5.0, 5.0, 1.0, 100.0, 2.0], 5.0)],
)
def test_median(samples, expected):
    assert median(samples) == expected


def test_median_of_nothing_raises():
    with pytest.raises(ValueError, match="no samples"):
        median([])


EXPECTED_VARIANTS = {
    "LSTM": [
        "torch.nn",
        "impl=auto",
        "impl=reference",
        "layer_norm",
        "peephole",
        "coupled",
        "recurrent_dropout=0.25",
        "zoneout=0.1",
        "weight_drop=0.5",
        "learn_initial_state",
        "record()",
    ],
    "GRU": [
        "torch.nn",
        "impl=auto",
        "impl=reference",
        "reset_after=False",
        "layer_norm",
        "recurrent_dropout=0.25",
        "zoneout=0.1",
        "weight_drop=0.5",
    ],
    "RNN": ["torch.nn", "impl=auto", "impl=reference", "recurrent_dropout=0.25", "zoneout=0.1"],
}


def test_layers_benchmark_quick_prints_every_row(tmp_path):
    markdown = tmp_path / "layers.md"
    result = subprocess.run(
        [sys.executable, "benchmarks/layers.py", "--quick", "--repeats", "1", "--markdown", str(markdown)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = set()
    for line in result.stdout.splitlines():
        words = line.replace(" *", "").split()
        if len(words) >= 6 and words[0] in ("S1", "S2"):
            rows.add((words[0], words[1], words[2], words[3]))
    for scenario in ("S1", "S2"):
        for cell, variants in EXPECTED_VARIANTS.items():
            for variant in variants:
                modes = ["forward"] if variant == "record()" else ["forward", "fwd+bwd"]
                for mode in modes:
                    assert (scenario, cell, variant, mode) in rows, (scenario, cell, variant, mode)
    assert ("S1", "LSTM", "record()", "fwd+bwd") not in rows  # record() is timed forward only
    table = markdown.read_text(encoding="utf-8")
    assert table.count("\n| S") == len(rows)
