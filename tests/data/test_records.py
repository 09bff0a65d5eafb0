"""Records: TimeSeries windows and splits against hand loops, split_stratified's guarantees, validation."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.records import SeriesExample, TaggedSentence, TextExample, TimeSeries, split_stratified


def _series(steps: int, features: int = 2) -> TimeSeries:
    values = np.arange(steps * features, dtype=np.float32).reshape(steps, features)
    return TimeSeries([f"t{t}" for t in range(steps)], values, [f"c{n}" for n in range(features)])


@settings(max_examples=40, deadline=None)
@given(
    steps=st.integers(2, 40),
    history=st.integers(1, 10),
    horizon=st.integers(1, 5),
    stride=st.integers(1, 4),
    features=st.integers(1, 3),
)
def test_windows_match_a_hand_loop(steps, history, horizon, stride, features):
    series = _series(steps, features)
    if steps < history + horizon:
        with pytest.raises(ValueError, match=f"has {steps} steps, fewer than history {history}"):
            series.windows(history, horizon, stride)
        return
    inputs, targets = series.windows(history, horizon, stride)
    expected_in, expected_out = [], []
    start = 0
    while start + history + horizon <= steps:  # the oracle: a plain loop over window starts
        expected_in.append(series.values[start : start + history])
        expected_out.append(series.values[start + history : start + history + horizon])
        start += stride
    np.testing.assert_array_equal(inputs, np.stack(expected_in))
    np.testing.assert_array_equal(targets, np.stack(expected_out))
    assert inputs.dtype == np.float32 and inputs.shape == (len(expected_in), history, features)


def test_windows_target_columns_and_errors():
    series = _series(6, 3)
    inputs, targets = series.windows(2, 1, target_columns=["c2"])
    assert inputs.shape == (4, 2, 3) and targets.shape == (4, 1, 1)
    np.testing.assert_array_equal(targets[:, 0, 0], series.values[2:, 2])
    with pytest.raises(
        ValueError, match=r"unknown column\(s\) \['nope'\]; the columns are \['c0', 'c1', 'c2'\]"
    ):
        series.windows(2, 1, target_columns=["nope"])
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="history must be an integer >= 1"):
            series.windows(bad, 1)
    with pytest.raises(ValueError, match="stride must be"):
        series.windows(2, 1, stride=0)


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(1, 200), cut=st.tuples(st.integers(0, 100), st.integers(0, 100)))
def test_chronological_split_is_consecutive_and_covers_the_series(steps, cut):
    a, b = sorted(x * steps // 100 for x in cut)
    train, val, test = _series(steps).chronological_split(a, b - a, steps - b)
    assert (len(train), len(val), len(test)) == (a, b - a, steps - b)
    assert train.times + val.times + test.times == [f"t{t}" for t in range(steps)]
    np.testing.assert_array_equal(
        np.concatenate([train.values, val.values, test.values]), _series(steps).values
    )


def test_chronological_split_fractions_context_and_errors():
    series = _series(144, 1)
    train, val, test = series.chronological_split()  # 0.7 / 0.1 / 0.2 of 144 = 100.8 / 14.4 / rest
    assert (len(train), len(val), len(test)) == (101, 14, 29)
    assert train.times[-1] == "t100" and val.times[0] == "t101" and test.times[0] == "t115"
    _, val, test = series.chronological_split(120, 0, 24, context=12)
    assert len(val) == 12 and val.times[0] == "t108"  # an empty part still carries its context
    assert len(test) == 36 and test.times[0] == "t108" and test.times[12] == "t120"
    inputs, targets = test.windows(12, 1)  # with context = history, every test step is a target once
    assert targets.shape[0] == 24 and targets[0, 0, 0] == series.values[120, 0]
    with pytest.raises(ValueError, match="must be >= 0 and sum to 144"):
        series.chronological_split(100, 10, 10)
    with pytest.raises(ValueError, match="must be >= 0 and sum to 1"):
        series.chronological_split(0.5, 0.1, 0.1)
    with pytest.raises(ValueError, match="sum to 1"):
        series.chronological_split(100, 0.1, 0.2)  # not all counts: read as fractions
    with pytest.raises(TypeError, match="three fractions or three counts"):
        series.chronological_split("0.7", 0.1, 0.2)
    with pytest.raises(ValueError, match="context must be an integer >= 0"):
        series.chronological_split(context=-1)


def test_time_series_validates_shapes_and_slices():
    with pytest.raises(ValueError, match=r"values \(3, 1\) need 3 times and 1 column names, got 2 and 1"):
        TimeSeries(["a", "b"], np.zeros(3), ["y"])
    with pytest.raises(ValueError, match="must be"):
        TimeSeries(["a"], np.zeros((1, 1, 1)), ["y"])
    series = _series(5)
    assert series[1:3].times == ["t1", "t2"] and series[1:3].columns == ["c0", "c1"]
    with pytest.raises(TypeError, match="contiguous slice"):
        series[::2]


def test_series_example_is_float32_2d_and_compares_nan_equal():
    a = SeriesExample([1.0, math.nan], "x")
    assert a.values.shape == (2, 1) and a.values.dtype == np.float32
    assert a == SeriesExample(np.array([[1.0], [math.nan]]), "x")
    assert a != SeriesExample([1.0, math.nan], "y") and a != SeriesExample([1.0, 2.0], "x")
    with pytest.raises(ValueError, match=r"values must be \(T, N\), got shape \(1, 1, 1\)"):
        SeriesExample(np.zeros((1, 1, 1)), "x")


def test_tagged_sentence_checks_lengths_and_freezes_sequences():
    sentence = TaggedSentence(["a", "b"], ["X", "Y"], {"pos": ["D", "N"]})
    assert sentence.tokens == ("a", "b") and sentence.features["pos"] == ("D", "N")
    assert hash(sentence) == hash(TaggedSentence(("a", "b"), ("X", "Y")))  # features are left out of the hash
    with pytest.raises(ValueError, match="2 tokens but 1 'pos' values"):
        TaggedSentence(["a", "b"], ["X", "Y"], {"pos": ["D"]})


@settings(max_examples=40, deadline=None)
@given(
    counts=st.dictionaries(st.sampled_from("abcd"), st.integers(1, 60), min_size=1),
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 10**6),
)
def test_split_stratified_partitions_each_label_in_proportion(counts, fraction, seed):
    examples = [TextExample(f"{label}{i}", label) for label, n in counts.items() for i in range(n)]
    train, test = split_stratified(examples, fraction, seed)
    assert sorted(e.text for e in train + test) == sorted(e.text for e in examples)  # a partition
    assert not {e.text for e in train} & {e.text for e in test}
    got = Counter(e.label for e in test)
    for label, n in counts.items():
        assert got[label] == int(n * fraction + 0.5)
    order = {e.text: i for i, e in enumerate(examples)}
    assert [order[e.text] for e in test] == sorted(order[e.text] for e in test)  # input order kept
    assert split_stratified(examples, fraction, seed) == (train, test)  # fixed by the seed


def test_split_stratified_mr_sizes_and_seed_dependence():
    examples = [TextExample(str(i), "pos" if i < 5331 else "neg") for i in range(10662)]
    train, test = split_stratified(examples, 0.1, seed=0)
    assert len(test) == 1066 and Counter(e.label for e in test) == {"pos": 533, "neg": 533}
    assert split_stratified(examples, 0.1, seed=1)[1] != test
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1.0"):
        split_stratified(examples, 1.0)
