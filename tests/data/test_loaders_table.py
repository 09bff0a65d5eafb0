"""load_table: CSV/TSV/JSONL with a column mapping; round trips through the csv writer; clear errors."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.datasets import DataError, TaggedSentence, TextExample, TextPair, TimeSeries, load_table


def _write(path, text: str):
    path.write_text(text, encoding="utf-8", newline="")
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            # "\r\n" inside a field reads back as "\n" (documented); NUL is not text
            st.text(
                st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
            ).filter(lambda t: t.strip() and "\r\n" not in t),
            st.sampled_from(["pos", "neg", "0", "1"]),
        ),
        min_size=1,  # a header with no rows is refused (tests/data/test_hostile_inputs.py)
        max_size=8,
    )
)
def test_csv_round_trips_any_text_through_the_csv_writer(tmp_path, rows):
    path = tmp_path / "data.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:  # the oracle: Python's own CSV writer
        writer = csv.writer(f)
        writer.writerow(["id", "text", "label"])
        writer.writerows((i, text, label) for i, (text, label) in enumerate(rows))
    assert load_table(path, text="text", label="label") == [TextExample(t, label) for t, label in rows]


def test_csv_quotes_multiline_fields_and_line_numbers_after_them(tmp_path):
    path = _write(
        tmp_path / "r.csv", '\ufefftext,label\r\n"two\r\nlines, quoted ""x""",a\r\nplain,b\r\nshort\r\n'
    )
    with pytest.raises(DataError, match=r"r\.csv:5: expected 2 CSV fields \(text, label\), got 1"):
        load_table(path, text="text", label="label")
    _write(path, 'text,label\n"two\nlines, quoted ""x""",a\nplain,b\n')
    assert load_table(path, text="text", label="label") == [
        TextExample('two\nlines, quoted "x"', "a"),
        TextExample("plain", "b"),
    ]
    assert load_table(path, text="text") == [
        TextExample('two\nlines, quoted "x"', ""),
        TextExample("plain", ""),
    ]


def test_tsv_does_no_quote_processing(tmp_path):
    path = _write(
        tmp_path / "glue.tsv", 'label\tsentence\n0\t"hide new secretions\n1\tit \'s a "charming" film\n'
    )
    assert load_table(path, text="sentence", label="label") == [
        TextExample('"hide new secretions', "0"),
        TextExample('it \'s a "charming" film', "1"),
    ]


def test_missing_columns_are_named_with_the_header(tmp_path):
    path = _write(tmp_path / "t.csv", "review,sentiment\nok,pos\n")
    with pytest.raises(
        DataError,
        match=r"t\.csv:1: missing column\(s\) \['text', 'label'\]; the header has \['review', 'sentiment'\]",
    ):
        load_table(path, text="text", label="label")
    with pytest.raises(DataError, match=r"t\.csv: empty file, expected a header row"):
        load_table(_write(tmp_path / "t.csv", ""), text="text")


def test_jsonl_rows_labels_and_errors(tmp_path):
    lines = [{"t": "good", "y": 1}, {"t": "bad", "y": "neg"}, {"t": None, "y": 0}]
    path = _write(tmp_path / "d.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n")
    with pytest.warns(UserWarning, match=r"skipped 1 example\(s\) with empty text \(lines 3\)"):
        assert load_table(path, text="t", label="y") == [TextExample("good", "1"), TextExample("bad", "neg")]
    for bad, message in (
        ('{"t": "x"}', r"d\.jsonl:2: missing key\(s\) \['y'\]; the object has \['t'\]"),
        ("[1, 2]", r"d\.jsonl:2: expected a JSON object, got list"),
        ("{oops", r"d\.jsonl:2: expected a JSON object, got invalid JSON"),
    ):
        _write(path, '{"t": "ok", "y": 1}\n' + bad + "\n")
        with pytest.raises(DataError, match=message):
            load_table(path, text="t", label="y")


def test_pairs_and_tagging_mappings(tmp_path):
    path = _write(tmp_path / "p.tsv", "en\tko\nGo.\t가.\n")
    assert load_table(path, source="en", target="ko") == [TextPair("Go.", "가.")]
    path = _write(tmp_path / "tags.csv", "words,labels\nHe reckons,B-NP B-VP\n")
    assert load_table(path, tokens="words", tags="labels") == [
        TaggedSentence(("He", "reckons"), ("B-NP", "B-VP"))
    ]
    path = _write(
        tmp_path / "tags.jsonl", '{"w": ["New York", "is"], "l": ["LOC", "O"]}\n{"w": ["a"], "l": []}\n'
    )
    with pytest.raises(
        DataError, match=r"tags\.jsonl:2: expected as many tags as tokens, got 1 tokens and 0 tags"
    ):
        load_table(path, tokens="w", tags="l")
    _write(path, '{"w": ["New York", "is"], "l": ["LOC", "O"]}\n')
    assert load_table(path, tokens="w", tags="l")[0].tokens == ("New York", "is")  # lists keep spaces


def test_series_mapping_missing_values_and_bad_numbers(tmp_path):
    path = _write(tmp_path / "s.csv", "date,a,b,note\n2020-01,1.5,2,x\n2020-02,,3,y\n2020-03,4,NA,z\n")
    with pytest.raises(DataError, match=r"s\.csv:3: column 'a': missing value '' \(pass missing='nan'"):
        load_table(path, time="date", value=["a", "b"])
    series = load_table(path, time="date", value=["a", "b"], missing="nan")
    assert isinstance(series, TimeSeries) and series.columns == ["a", "b"]
    assert series.times == ["2020-01", "2020-02", "2020-03"]
    np.testing.assert_array_equal(
        series.values, np.array([[1.5, 2], [math.nan, 3], [4, math.nan]], np.float32)
    )
    assert load_table(path, value="b", missing="nan").times == ["0", "1", "2"]  # no time column: row numbers
    with pytest.raises(DataError, match=r"s\.csv:2: column 'note': expected a number, got 'x'"):
        load_table(path, time="date", value="note")


def test_mapping_and_format_errors(tmp_path):
    path = _write(tmp_path / "t.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match="name the columns of one task.*got none"):
        load_table(path)
    with pytest.raises(ValueError, match=r"name the columns of one task.*got \['label', 'source'\]"):
        load_table(path, label="a", source="b")
    with pytest.raises(ValueError, match="classification also needs text="):
        load_table(path, label="a")
    with pytest.raises(ValueError, match="translation also needs target="):
        load_table(path, source="a")
    with pytest.raises(ValueError, match="cannot tell the table format from the suffix"):
        load_table(_write(tmp_path / "t.dat", "a\n"), text="a")
    with pytest.raises(DataError, match=r"t\.dat:1: only a header row \(a\), no data rows"):
        load_table(tmp_path / "t.dat", "csv", text="a")
    with pytest.raises(ValueError, match="table format must be 'csv', 'tsv' or 'jsonl', got 'xls'"):
        load_table(path, "xls", text="a")
