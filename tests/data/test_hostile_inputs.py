"""Hostile and messy data for every loader: each input the tests write here either reads exactly as its clean
UTF-8 copy, or is refused with ONE message that names the file, the line (and column or field where there is
one) and what to do. The messages' words are asserted, not only the exception type.

What each input does is summed up in docs/reliability.md ("Bad input"), which points back at these tests.
"""

from __future__ import annotations

import gzip
import json
import re
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rnnkit.config import from_dict
from rnnkit.data.loaders_series import load_series_csv, load_ts
from rnnkit.data.loaders_table import load_table
from rnnkit.data.loaders_tagging import load_conll, load_conllu
from rnnkit.data.loaders_text import load_mr, load_nsmc, load_pairs, load_sst, load_text, load_trec
from rnnkit.data.reading import DataError, DataWarning
from rnnkit.tasks.classification.data import ClassificationData, load_splits
from rnnkit.tasks.series_classification import SeriesClassificationData, load_series_splits

MR_NEG = "지루한 시간\n별로인 배우\n"
CONLLU_LINES = [
    "# text = 나는 간다",
    "1\t나는\t나\tPRON\t_\t_\t2\tnsubj\t_\t_",
    "2\t간다\t가다\tVERB\t_\t_\t0\troot\t_\t_",
    "",
    "# text = 그 영화",
    "1\t그\t그\tDET\t_\t_\t2\tdet\t_\t_",
    "2\t영화\t영화\tNOUN\t_\t_\t0\troot\t_\t_",
    "",
]


def jsonl(*rows: dict[str, Any]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def read_mr(path: Path, **keys: Any) -> Any:
    """MR is a folder of two files: the test writes ``rt-polarity.pos``; a clean ``.neg`` sits beside it."""
    (path.parent / "rt-polarity.neg").write_text(MR_NEG, encoding="utf-8")
    return load_mr(path.parent, **keys)


Loader = Callable[..., Any]
# name: (file name, a clean UTF-8 sample whose first "영화" is on a line after the first, the loader)
LOADERS: dict[str, tuple[str, str, Loader]] = {
    "csv": (
        "data.csv",
        "text,label\n재미있다,긍정\n지루하다,부정\n최고의 영화,긍정\n별로인 배우,부정\n",
        lambda p, **k: load_table(p, "csv", text="text", label="label", **k),
    ),
    "tsv": (
        "data.tsv",
        'text\tlabel\n재미있다 "정말"\t긍정\n지루하다\t부정\n최고의 영화\t긍정\n별로인 배우\t부정\n',
        lambda p, **k: load_table(p, "tsv", text="text", label="label", **k),
    ),
    "jsonl": (
        "data.jsonl",
        jsonl(
            {"text": "재미있다", "label": "긍정"},
            {"text": "최고의 영화", "label": "긍정"},
            {"text": "지루하다", "label": "부정"},
        ),
        lambda p, **k: load_table(p, "jsonl", text="text", label="label", **k),
    ),
    "nsmc": (
        "ratings.txt",
        "id\tdocument\tlabel\n1\t재미있다\t1\n2\t지루하다\t0\n3\t최고의 영화\t1\n4\t별로인 배우\t0\n",
        load_nsmc,
    ),
    "mr": ("rt-polarity.pos", "재미있다\n최고의 영화\n멋진 배우\n", read_mr),
    "sst": ("stsa.binary.train", "1 재미있다\n0 지루하다\n1 최고의 영화\n0 별로인 배우\n", load_sst),
    "trec": (
        "train_5500.label",
        "DESC:manner 어떻게 하나요 ?\nHUM:ind 누가 했나요 ?\nLOC:city 영화 어디서 ?\nNUM:date 언제 ?\n",
        load_trec,
    ),
    "conll": ("train.txt", "나는 NP B-NP\n간다 VV B-VP\n\n그 MM B-NP\n영화 NNG I-NP\n\n", load_conll),
    "conllu": ("ko.conllu", "\n".join(CONLLU_LINES) + "\n", load_conllu),
    "pairs": ("kor.txt", "Go.\t가.\nHi.\t안녕.\nA movie.\t영화.\nRun.\t뛰어.\n", load_pairs),
    "text": ("input.txt", "첫 줄입니다.\n둘째 줄.\n영화 이야기.\n끝.\n", load_text),
    "ts": (
        "Toy_TRAIN.ts",
        "@problemName 장난감\n@univariate true\n@classLabel true 가 나 영화\n@data\n1,2,3:가\n3,2,1:나\n"
        "4,5,6:영화\n",
        load_ts,
    ),
    "series csv": ("series.csv", "월,판매량\n1월,100\n2월,110\n영화,120\n4월,130\n", load_series_csv),
}


def write(folder: Path, loader: str, data: bytes) -> Path:
    path = folder / LOADERS[loader][0]
    path.write_bytes(data)
    return path


def read(loader: str, path: Path, **keys: Any) -> Any:
    return LOADERS[loader][2](path, **keys)


def clean(loader: str, folder: Path) -> str:
    """repr of what the clean UTF-8 sample reads as (records hold numpy arrays: repr compares them)."""
    folder = folder / "clean"
    folder.mkdir()
    return repr(read(loader, write(folder, loader, LOADERS[loader][1].encode("utf-8"))))


def refused(loader: str, path: Path, *words: str, **keys: Any) -> str:
    """The one-line message of the DataError reading ``path`` raises; each of ``words`` (regexes) in it."""
    with pytest.raises(DataError) as caught:
        read(loader, path, **keys)
    message = str(caught.value)
    assert "\n" not in message, message
    for word in words:
        assert re.search(word, message), f"{word!r} not in {message!r}"
    return message


def marker_line(loader: str) -> tuple[int, int]:
    """The line and column (1-based, in bytes of UTF-8) of the sample's first "영화"."""
    text = LOADERS[loader][1]
    before = text[: text.index("영화")]
    line = before.count("\n") + 1
    return line, len(before.rsplit("\n", 1)[-1].encode("utf-8")) + 1


# ----- encodings and line ends: every loader reads them as the clean UTF-8 copy ------------------------
SAVED_AS: dict[str, Callable[[str], bytes]] = {
    "cp949 (Korean Windows, Excel)": lambda text: text.encode("cp949"),
    "EUC-KR": lambda text: text.encode("euc-kr"),
    "UTF-8 with BOM": lambda text: text.encode("utf-8-sig"),
    "UTF-16 with BOM": lambda text: text.encode("utf-16"),
    "CRLF line ends": lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    "lone CR line ends (old Mac)": lambda text: text.replace("\n", "\r").encode("utf-8"),
    "cp949 with CRLF": lambda text: text.replace("\n", "\r\n").encode("cp949"),
}


@pytest.mark.parametrize("saved_as", list(SAVED_AS))
@pytest.mark.parametrize("loader", list(LOADERS))
def test_any_common_encoding_and_line_end_reads_as_the_clean_file(
    loader: str, saved_as: str, tmp_path: Path
) -> None:
    path = write(tmp_path, loader, SAVED_AS[saved_as](LOADERS[loader][1]))
    assert repr(read(loader, path)) == clean(loader, tmp_path)


# ----- damaged bytes: refused naming file:line(:column) and the way out, or skipped when asked ----------
@pytest.mark.parametrize("loader", list(LOADERS))
def test_invalid_utf8_in_the_middle_is_refused_at_its_line_and_column_or_skipped(
    loader: str, tmp_path: Path
) -> None:
    line, column = marker_line(loader)
    damaged = LOADERS[loader][1].encode("utf-8").replace("영화".encode(), b"\xff\xfe", 1)
    path = write(tmp_path, loader, damaged)
    name = re.escape(path.name)
    refused(loader, path, rf"{name}:{line}: not valid utf-8 \(byte 0xff at column {column}\)",
            "set data.encoding", "cp949", "data.on_bad_rows=skip")  # fmt: skip
    with pytest.warns(DataWarning, match=rf"{name}: skipped 1 bad row\(s\) .*lines {line}\)"):
        read(loader, path, on_bad_rows="skip")


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_nul_byte_is_refused_as_binary_naming_line_and_column(loader: str, tmp_path: Path) -> None:
    line, column = marker_line(loader)
    path = write(tmp_path, loader, LOADERS[loader][1].encode("utf-8").replace("영화".encode(), b"\x00", 1))
    refused(loader, path, rf"{re.escape(path.name)}:{line}:{column}: NUL byte", "rnnkit reads text files",
            "utf-16")  # fmt: skip


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_binary_file_is_refused_saying_what_it_looks_like(loader: str, tmp_path: Path) -> None:
    path = write(tmp_path, loader, gzip.compress(LOADERS[loader][1].encode("utf-8")))
    refused(loader, path, rf"{re.escape(path.name)}:1:1: not a text file: it looks like a gzip archive",
            "gunzip")  # fmt: skip


@pytest.mark.parametrize("loader", list(LOADERS))
def test_an_empty_file_is_refused_saying_what_was_expected(loader: str, tmp_path: Path) -> None:
    path = write(tmp_path, loader, b"")
    refused(loader, path, rf"{re.escape(path.name)}: empty file, expected \S")


@pytest.mark.parametrize("loader", ["csv", "text"])
def test_a_50_mb_line_is_refused_without_reading_it_into_memory(loader: str, tmp_path: Path) -> None:
    head = "text,label\n" if loader == "csv" else ""
    path = tmp_path / LOADERS[loader][0]
    with open(path, "wb") as f:
        f.write(head.encode())
        for _ in range(50):
            f.write(b"a" * 2**20)  # 50 MiB, no line break
    tracemalloc.start()
    try:
        refused(loader, path, rf"{path.name}:{2 if head else 1}: line longer than 4 MiB \(no line break\)",
                "line-per-record")  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB reading a 50 MiB line"


# ----- structure: headers, columns, quoting ------------------------------------------------------------
STRUCTURE = [  # (loader, content, words the message holds; none: it reads)
    (
        "csv",
        "text,label\n",
        [r"data\.csv:1: only a header row \(text, label\), no data rows", "add the rows"],
    ),
    ("tsv", "text\tlabel\n", [r"data\.tsv:1: only a header row", "add the rows"]),
    ("nsmc", "id\tdocument\tlabel\n", [r"ratings\.txt: no reviews below the header", "add rows"]),
    ("series csv", "월,판매량\n", [r"series\.csv:1: only a header row \(월, 판매량\)", "add the rows"]),
    ("ts", "@problemName x\n@data\n", [r"Toy_TRAIN\.ts: no series after the '@data' line", "add rows"]),
    (
        "csv",
        "review,label\n좋다,1\n",
        [
            r"data\.csv:1: missing column\(s\) \['text'\]",
            r"the header has \['review', 'label'\]",
            "data.\\*_column",
        ],
    ),
    ("csv", "text;label\n좋다;1\n", [r"data\.csv:1: missing column", "data.format=tsv"]),
    (
        "series csv",
        "월\n1월\n",
        [r"series\.csv:1: the header has only \['월'\]", "needs a value column", "data.format"],
    ),
    (
        "jsonl",
        jsonl({"text": "좋다", "label": "1"}, {"txt": "싫다", "label": "0"}),
        [r"data\.jsonl:2: missing key\(s\) \['text'\]", r"the object has \['label', 'txt'\]", "on_bad_rows"],
    ),
    (
        "jsonl",
        '{"text": "좋다", "label": 1}\n{"text": "싫다",\n',
        [r"data\.jsonl:2: expected a JSON object, got invalid JSON", "column", "on_bad_rows"],
    ),
    (
        "csv",
        "text,label\n좋다,1\n싫다,0,여분\n",
        [r"data\.csv:3: expected 2 CSV fields \(text, label\), got 3", "data.on_bad_rows=skip"],
    ),
    ("csv", "text,label\n좋다,1\n싫다\n", [r"data\.csv:3: expected 2 CSV fields \(text, label\), got 1"]),
    (
        "csv",
        "text,label,text\n좋다,1,x\n",
        [
            r"data\.csv:1: column 'text' appears 2 times in the header "
            r"\(fields 1, 3\)",
            "rename all but one",
        ],
    ),
    (
        "csv",
        'text,label\n좋다,1\n"안 닫힌 따옴표,0\n',
        [r"data\.csv:3: malformed CSV in the row starting here", "double quotes", r'doubled \(""\)'],
    ),
    ("csv", 'text,label\n"좋다"다,1\n', [r"data\.csv:2: malformed CSV", "',' expected after"]),
    (
        "csv",
        "text,label\n좋다\r싫다,1\n",
        [r"data\.csv:2: malformed CSV", r"lone carriage return \(\\r\)", "one kind of line end"],
    ),
    ("nsmc", "id\tdocument\tlabel\n1\t좋다\n", [r"ratings\.txt:2: expected 3 tab-separated fields"]),
    ("nsmc", "id\tdocument\tlabel\n1\t좋다\t긍정\n", [r"ratings\.txt:2: expected label 0 or 1, got '긍정'"]),
    (
        "nsmc",
        "id,document,label\n1,좋다,1\n",
        [r"ratings\.txt:1: expected the header 'id<TAB>document<TAB>label'"],
    ),
    ("sst", "1 좋다\n긍정 싫다\n", [r"stsa\.binary\.train:2: expected '<integer label> <sentence>'"]),
    ("trec", "DESC:manner 어떻게 ?\nHUM 누가 ?\n", [r"train_5500\.label:2: expected 'COARSE:fine question'"]),
    ("conll", "나는 NP B-NP\n간다 VV\n", [r"train\.txt:2: expected 3 columns \(token pos chunk\), got 2"]),
    (
        "conllu",
        "1\t나\t나\tPRON\t_\t_\t0\troot\t_\t_\n3\t가\t가\tVERB\t_\t_\t1\tx\t_\t_\n",
        [r"ko\.conllu:2: expected word id 2, got '3'"],
    ),
    ("conllu", "1\t나\tPRON\n", [r"ko\.conllu:1: expected 10 tab-separated CoNLL-U columns"]),
    ("pairs", "Go.\t가.\nno tab\n", [r"kor\.txt:2: expected 2 or 3 tab-separated fields"]),
    ("ts", "@dimensions 1\n@data\n1,2:가\n", []),  # reads: no @classLabel, any label
    (
        "ts",
        "@classLabel true 가\n@data\n1,2:나\n",
        [r"Toy_TRAIN\.ts:3: label '나' is not one of @classLabel"],
    ),
    (
        "ts",
        "@data\n1,x,3:가\n",
        [r"Toy_TRAIN\.ts:2: dimension 1, value 2: expected a number or '\?', got 'x'"],
    ),
    (
        "ts",
        "@data\n1,2:3,4:가\n1:가\n",
        [r"Toy_TRAIN\.ts:3: expected 2 dimension\(s\) separated by ':', got 1"],
    ),
    ("ts", "@bogus 1\n@data\n", [r"Toy_TRAIN\.ts:1: unknown header @bogus"]),
    (
        "series csv",
        "월,판매량\n1월,100\n2월,많음\n",
        [
            r"series\.csv:3: column '판매량': expected a number, got "
            "'많음'",
            "missing value",
            "on_bad_rows",
        ],
    ),
    (
        "series csv",
        "월,판매량\n1월,100\n2월,NA\n",
        [r"series\.csv:3: column '판매량': missing value 'NA'", "missing='nan'"],
    ),
]


@pytest.mark.parametrize(("loader", "content", "words"), STRUCTURE,
                         ids=[f"{loader}: {content[:30]!r}" for loader, content, _ in STRUCTURE])  # fmt: skip
def test_a_structural_mistake_is_refused_naming_file_line_and_field(
    loader: str, content: str, words: list[str], tmp_path: Path
) -> None:
    path = write(tmp_path, loader, content.encode("utf-8"))
    if not words:
        assert read(loader, path)
        return
    refused(loader, path, *words)


def test_a_bare_quote_in_tsv_and_a_quoted_field_in_csv_read_as_written(tmp_path: Path) -> None:
    tsv = write(tmp_path, "tsv", 'text\tlabel\n그가 "최고"라고 했다\t1\n'.encode())
    assert read("tsv", tsv)[0].text == '그가 "최고"라고 했다'
    csv = write(tmp_path, "csv", 'text,label\n"쉼표, 그리고 ""따옴표""\n그리고 줄바꿈",1\n'.encode())
    assert read("csv", csv)[0].text == '쉼표, 그리고 "따옴표"\n그리고 줄바꿈'


def test_skipping_bad_rows_reports_their_count_and_first_line_numbers(tmp_path: Path) -> None:
    rows = ["text,label", "좋다,1"] + [f"나쁜 줄 {i},0,여분" for i in range(8)] + ["싫다,0"]
    path = write(tmp_path, "csv", ("\n".join(rows) + "\n").encode())
    with pytest.warns(DataWarning) as caught:
        examples = read("csv", path, on_bad_rows="skip")
    assert [e.text for e in examples] == ["좋다", "싫다"]
    message = next(str(w.message) for w in caught if "skipped" in str(w.message))
    assert "data.csv: skipped 8 bad row(s) (data.on_bad_rows=skip; lines 3, 4, 5, 6, 7, ...)" in message
    assert "the first: " in message and "data.csv:3: expected 2 CSV fields" in message


# ----- labels and texts ----------------------------------------------------------------------------------
def test_labels_differing_only_in_surrounding_whitespace_are_merged(tmp_path: Path) -> None:
    path = write(tmp_path, "csv", "text,label\n좋다, 긍정\n멋지다,긍정 \n싫다,부정\n".encode())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # merged silently: surrounding spaces never mean another class
        assert [e.label for e in read("csv", path)] == ["긍정", "긍정", "부정"]
    nsmc = write(tmp_path, "nsmc", "id\tdocument\tlabel\n1\t좋다\t1 \n2\t싫다\t0\n".encode())
    assert [e.label for e in read("nsmc", nsmc)] == ["1", "0"]


@pytest.mark.parametrize("loader", ["csv", "tsv", "jsonl"])
def test_labels_differing_only_in_case_stay_apart_with_a_warning_naming_them(
    loader: str, tmp_path: Path
) -> None:
    rows = [("good", "pos"), ("fine", "Pos"), ("bad", "neg"), ("great", "pos")]
    text = {
        "csv": "text,label\n" + "".join(f"{t},{label}\n" for t, label in rows),
        "tsv": "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows),
        "jsonl": jsonl(*({"text": t, "label": label} for t, label in rows)),
    }[loader]
    path = write(tmp_path, loader, text.encode())
    with pytest.warns(DataWarning, match=rf"{path.name}: labels that differ only in case are different classes: "
                      r"'Pos' \(1 rows\), 'pos' \(2 rows\); make them one spelling"):  # fmt: skip
        assert [e.label for e in read(loader, path)] == ["pos", "Pos", "neg", "pos"]


def test_a_single_class_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "csv", ("text,label\n" + "좋다,긍정\n멋지다,긍정\n" * 10).encode())
    with pytest.raises(DataError, match=rf"{path.name}: every training example has the label '긍정' \(column "
                       r"'label'\); a classifier needs at least two classes.*data\.label_column"):  # fmt: skip
        load_splits(from_dict(ClassificationData, {"train": str(path)}))
    ts = write(tmp_path, "ts", ("@data\n" + "1,2,3:가\n" * 10).encode())
    with pytest.raises(DataError, match=rf"{ts.name}: every training example has the label '가'"):
        load_series_splits(from_dict(SeriesClassificationData, {"train": str(ts)}))


@pytest.mark.parametrize("loader", ["csv", "jsonl", "nsmc", "mr", "sst", "trec", "pairs"])
def test_empty_texts_are_skipped_with_a_count_or_refused_when_asked(loader: str, tmp_path: Path) -> None:
    text = {
        "csv": "text,label\n좋다,1\n  ,0\n싫다,0\n",
        "jsonl": jsonl(
            {"text": "좋다", "label": 1}, {"text": None, "label": 0}, {"text": "싫다", "label": 0}
        ),
        "nsmc": "id\tdocument\tlabel\n1\t좋다\t1\n2\t\t0\n3\t싫다\t0\n",
        "mr": "좋다\n   \n멋지다\n",
        "sst": "1 좋다\n0 \n0 싫다\n",
        "trec": "DESC:manner 어떻게 ?\nHUM:ind \nLOC:city 어디 ?\n",
        "pairs": "Go.\t가.\nHi.\t\nRun.\t뛰어.\n",
    }[loader]
    path = write(tmp_path, loader, text.encode())
    line = 3 if loader in ("csv", "nsmc") else 2  # after the header
    with pytest.warns(
        DataWarning, match=rf"{path.name}: skipped 1 example\(s\) with empty \w+ \(lines {line}\)"
    ):
        assert len(read(loader, path)) == 2 + (loader == "mr") * 2  # MR also reads its two negatives
    refused(loader, path, rf"{path.name}:{line}: empty \w+", "empty='skip'", empty="error")


def test_every_row_blank_or_skipped_is_refused_saying_so(tmp_path: Path) -> None:
    path = write(tmp_path, "mr", b"\n  \n\n")
    with pytest.warns(DataWarning, match="skipped 3 example"):
        refused("mr", path, r"rt-polarity\.pos: no examples in its 3 line\(s\) \(blank, comments or header "
                r"only\)", "expected one snippet per line")  # fmt: skip
    path = write(tmp_path, "pairs", b"no tab\nnone here\n")
    refused("pairs", path, r"kor\.txt: no examples in its 2 line\(s\).*2 of them bad rows skipped",
            on_bad_rows="skip")  # fmt: skip
