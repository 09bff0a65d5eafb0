"""A user's own Korean table saved by Excel (cp949 / EUC-KR) trains: ``data.encoding`` (``auto`` by default)
and ``data.on_bad_rows`` reach the classification loader, and a wrong codec name is a config error."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.config import ConfigError, from_dict
from rnnkit.data.reading import DataError
from rnnkit.tasks.classification.data import ClassificationData, load_splits

ROWS = [("정말 재미있는 영화였어요", "긍정"), ("시간이 아까운 영화", "부정")] * 10


def write_table(path: Path, encoding: str, extra: str = "") -> Path:
    lines = ["text,label", *(f"{text},{label}" for text, label in ROWS)]
    path.write_bytes(("\r\n".join(lines) + "\r\n" + extra).encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr", "utf-8-sig", "utf-16"])
def test_a_korean_table_in_any_common_encoding_reads_the_same_by_default(
    tmp_path: Path, encoding: str
) -> None:
    path = write_table(tmp_path / "train.csv", encoding)
    splits = load_splits(from_dict(ClassificationData, {"train": str(path)}))
    texts = {e.text for split in splits.values() for e in split}
    assert texts == {text for text, _ in ROWS}
    assert {e.label for e in splits["train"]} == {"긍정", "부정"}


def test_an_explicit_encoding_is_used_and_a_wrong_one_names_the_file_and_line(tmp_path: Path) -> None:
    path = write_table(tmp_path / "train.csv", "cp949")
    data = from_dict(ClassificationData, {"train": str(path), "encoding": "cp949"})
    assert len(load_splits(data)["train"]) > 0
    with pytest.raises(DataError, match=r"train\.csv:2.*encoding"):
        load_splits(from_dict(ClassificationData, {"train": str(path), "encoding": "utf-8"}))


def test_an_unknown_codec_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="korean-excel"):
        from_dict(ClassificationData, {"encoding": "korean-excel"}, "my.yaml: data")


def test_bad_rows_are_skipped_when_asked_and_refused_otherwise(tmp_path: Path) -> None:
    path = write_table(tmp_path / "train.csv", "utf-8", extra='"broken,quote\n')
    with pytest.raises(DataError, match=r"train\.csv:22"):
        load_splits(from_dict(ClassificationData, {"train": str(path)}))
    with pytest.warns(UserWarning, match="22"):
        splits = load_splits(from_dict(ClassificationData, {"train": str(path), "on_bad_rows": "skip"}))
    assert sum(len(v) for v in splits.values()) == len(ROWS)
