"""UCR/UEA .ts files and time-series CSV: shapes, variable lengths, missing values, header checks, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.data.datasets import DataError, SeriesExample, load_series_csv, load_ts, load_ts_splits

HEADER = """#A comment line
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true walk run
@data
"""


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_multivariate_variable_length_rows_with_missing_values(tmp_path):
    path = _write(tmp_path / "Toy_TRAIN.ts", HEADER + "1,2,3:4,?,6:walk\n\n0.5:-1e-3:run\n")
    first, second = load_ts(path)
    assert first.label == "walk" and first.values.shape == (3, 2) and first.values.dtype == np.float32
    np.testing.assert_array_equal(first.values, np.array([[1, 4], [2, math.nan], [3, 6]], np.float32))
    assert second == SeriesExample([[0.5, -1e-3]], "run")


def test_univariate_equal_length_header_is_enforced(tmp_path):
    header = (
        "@problemName U\n@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true 1 2\n@data\n"
    )
    path = _write(tmp_path / "U_TRAIN.ts", header + "1,2,3:1\n4,5,6:2\n")
    assert [x.values[:, 0].tolist() for x in load_ts(path)] == [[1, 2, 3], [4, 5, 6]]
    _write(path, header + "1,2,3:1\n4,5:2\n")
    with pytest.raises(DataError, match=r"U_TRAIN\.ts:8: expected @seriesLength 3 values, got 2"):
        load_ts(path)
    _write(path, header + "1,2,3:4,5,6:1\n")
    with pytest.raises(DataError, match=r"U_TRAIN\.ts:7: expected 1 dimension\(s\) separated by ':', got 2"):
        load_ts(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1,2:3:jump", r"Toy_TRAIN\.ts:10: label 'jump' is not one of @classLabel \['run', 'walk'\]"),
        ("1,2:3:walk", r"Toy_TRAIN\.ts:10: expected dimensions of equal length, got lengths \[2, 1\]"),
        ("1,2:3:4:walk", r"Toy_TRAIN\.ts:10: expected 2 dimension\(s\) separated by ':', got 3"),
        ("1,2:3,x:walk", r"Toy_TRAIN\.ts:10: dimension 2, value 2: expected a number or '\?', got 'x'"),
    ],
)
def test_bad_rows_name_file_line_and_problem(tmp_path, row, message):
    with pytest.raises(DataError, match=message):
        load_ts(_write(tmp_path / "Toy_TRAIN.ts", HEADER + row + "\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@problemName X\n@colour red\n@data\n", r"X\.ts:2: unknown header @colour"),
        ("@timeStamps true\n@data\n", r"X\.ts:1: @timestamps true is not supported"),
        ("@classLabel false\n@data\n", r"X\.ts:1: expected '@classLabel true <labels>'"),
        ("@problemName X\n1,2:1\n", r"X\.ts:2: expected a '@' header line or '@data' before the data"),
        ("@problemName X\n", r"X\.ts: expected a '@data' line, found none"),
    ],
)
def test_bad_headers(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_ts(_write(tmp_path / "X.ts", text))


def test_ts_splits_by_ucr_file_names(tmp_path):
    _write(tmp_path / "Toy_TRAIN.ts", HEADER + "1:2:walk\n")
    _write(tmp_path / "Toy_TEST.ts", HEADER + "3:4:run\n5:6:run\n")
    splits = load_ts_splits(tmp_path, "Toy")
    assert {k: len(v) for k, v in splits.items()} == {"train": 1, "test": 2}


def test_series_csv_like_the_airline_file(tmp_path):
    path = tmp_path / "airline-passengers.csv"
    path.write_bytes(b'"Month","Passengers"\r\n"1949-01",112\r\n"1949-02",118\r\n"1949-03",132')
    series = load_series_csv(path)
    assert series.times == ["1949-01", "1949-02", "1949-03"] and series.columns == ["Passengers"]
    assert series.values.shape == (3, 1) and series.values[:, 0].tolist() == [112, 118, 132]
    inputs, targets = series.windows(history=2, horizon=1)
    assert inputs[:, :, 0].tolist() == [[112, 118]] and targets[:, :, 0].tolist() == [[132]]


def test_series_csv_column_choice_and_errors(tmp_path):
    path = _write(tmp_path / "w.csv", "date,temp,rain\n1981-01-01,20.7,0\n1981-01-02,17.9,?\n")
    assert load_series_csv(path, missing="nan").columns == ["temp", "rain"]
    with pytest.raises(DataError, match=r"w\.csv:3: column 'rain': missing value '\?'"):
        load_series_csv(path, value="rain")
    assert math.isnan(load_series_csv(path, value="rain", missing="nan").values[1, 0])
    assert load_series_csv(path, time="date", value=["temp"]).values[:, 0].tolist() == pytest.approx(
        [20.7, 17.9]
    )
    with pytest.raises(DataError, match=r"w\.csv:1: missing column\(s\) \['wind'\]"):
        load_series_csv(path, value="wind")
    with pytest.raises(DataError, match=r"e\.csv: empty file"):
        load_series_csv(_write(tmp_path / "e.csv", ""))
    with pytest.raises(DataError, match=r"h\.csv:1: only a header row \(date, temp\), no data rows"):
        load_series_csv(_write(tmp_path / "h.csv", "date,temp\n"))
