"""``data.encoding`` and ``data.on_bad_rows`` for every task: a Korean file saved by Excel / Windows (cp949)
or in UTF-16 reads exactly as its UTF-8 copy, ``auto`` logs what it detected per file, an explicit codec is
used, a wrong codec name is a config error naming the key, and ``skip`` leaves a bad row out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnkit.config import ConfigError, from_dict
from rnnkit.data.reading import DataError
from rnnkit.tasks.classification import ClassificationData
from rnnkit.tasks.classification import load_splits as classification_splits
from rnnkit.tasks.forecasting.data import ForecastingData, load_split_series
from rnnkit.tasks.generation.data import GenerationData
from rnnkit.tasks.generation.data import load_splits as generation_splits
from rnnkit.tasks.language_model import LanguageModelData, load_text_splits
from rnnkit.tasks.series_classification import SeriesClassificationData, load_series_splits
from rnnkit.tasks.tagging import TaggingData
from rnnkit.tasks.tagging import load_splits as tagging_splits
from rnnkit.tasks.translation import TranslationData
from rnnkit.tasks.translation import load_splits as translation_splits

REVIEWS = "text,label\n" + "정말 재미있는 영화였어요,긍정\n시간이 아까운 영화,부정\n" * 10
CONLL = "나는 NP B-NP\n간다 VV B-VP\n\n그녀는 NP B-NP\n잔다 VV B-VP\n\n" * 5
CONLLU = (
    "# text = 나는 간다\n1\t나는\t나\tPRON\t_\t_\t2\tnsubj\t_\t_\n2\t간다\t가다\tVERB\t_\t_\t0\troot\t_\t_\n\n"
    * 10
)
TAGGED = "tokens,tags\n" + "나는 간다,PRON VERB\n그녀는 잔다,PRON VERB\n" * 5
PAIRS = "".join(f"I see {i}.\t나는 {i}을 본다.\n" for i in range(20))
PAIR_TABLE = "source,target\n" + "".join(f"I see {i}.,나는 {i}을 본다.\n" for i in range(20))
TEXT = "한국어 문장입니다. 언어 모델이 읽습니다.\n" * 40
SALES = "월,판매량\n" + "".join(f"2020-{i:02d},{100 + i}\n" for i in range(1, 31))
TS = "@problemName 장난감\n@univariate true\n@classLabel true 가 나\n@data\n" + "1,2,3:가\n3,2,1:나\n" * 10
SERIES_TABLE = "label,series\n" + "가,1;2;3\n나,3;2;1\n" * 10


def everything(splits: dict[str, Any] | list[Any]) -> list[Any]:
    """The examples of every split, comparable across encodings."""
    out: list[Any] = []
    parts = [splits] if isinstance(splits, list) else [splits[name] for name in sorted(splits)]
    for part in parts:
        for item in [part] if isinstance(part, str) else part:
            if hasattr(item, "values") and hasattr(item, "label"):  # SeriesExample: arrays compare by value
                out.append((np.asarray(item.values).tolist(), item.label))
            elif hasattr(item, "frame"):  # forecasting's SplitSeries
                out.append((item.frame.times, item.frame.values.tolist(), item.n_train, item.n_fit))
            else:
                out.append(item)
    return out


Load = Callable[[Any], Any]
series = load_series_splits
FORECASTING = {"history": 3, "horizon": 2, "val_size": 2, "test_size": 4, "season": 1,
               "time_column": "월", "value_column": "판매량"}  # fmt: skip
CASES: dict[str, tuple[str, str, type, Load, dict[str, Any]]] = {  # name: (file, text, config, load, keys)
    "classification": ("train.csv", REVIEWS, ClassificationData, classification_splits, {}),
    "tagging conll": ("train.txt", CONLL, TaggingData, tagging_splits, {}),
    "tagging conllu": ("train.conllu", CONLLU, TaggingData, tagging_splits, {}),
    "tagging table": ("train.csv", TAGGED, TaggingData, tagging_splits, {}),
    "translation pairs": ("train.txt", PAIRS, TranslationData, translation_splits, {}),
    "translation table": ("train.csv", PAIR_TABLE, TranslationData, translation_splits, {}),
    "language model": ("train.txt", TEXT, LanguageModelData, load_text_splits, {}),
    "generation": ("train.csv", REVIEWS, GenerationData, lambda d: generation_splits(d), {}),
    "forecasting": ("train.csv", SALES, ForecastingData, load_split_series, FORECASTING),
    "series classification ts": ("t_TRAIN.ts", TS, SeriesClassificationData, series, {}),
    "series classification table": ("train.csv", SERIES_TABLE, SeriesClassificationData, series, {}),
}


def write(path: Path, text: str, encoding: str) -> str:
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))  # as Windows saves it
    return str(path)


def load(case: str, folder: Path, saved_as: str, **keys: Any) -> dict[str, Any]:
    name, text, config, read, extra = CASES[case]
    folder.mkdir(exist_ok=True)
    train = write(folder / name, text, saved_as)
    return read(from_dict(config, {"train": train, **extra, **keys}, "run.yaml: data"))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("encoding", ["cp949", "utf-16"])
def test_a_cp949_or_utf16_file_reads_as_its_utf8_copy_and_auto_says_what_it_found(
    case: str, encoding: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = everything(load(case, tmp_path / "utf8", "utf-8"))
    with caplog.at_level(logging.INFO, logger="rnnkit.data"):
        got = everything(load(case, tmp_path / "other", encoding))
    assert got == expected and len(got) > 0
    detected = "cp949" if encoding == "cp949" else "utf-16"
    assert f"{CASES[case][0]}: {detected} (data.encoding=auto" in caplog.text
    assert caplog.text.count(f"{CASES[case][0]}: {detected}") == 1  # once per file


@pytest.mark.parametrize("case", list(CASES))
def test_an_explicit_codec_is_used_and_a_wrong_one_names_the_file_and_line(case: str, tmp_path: Path) -> None:
    expected = everything(load(case, tmp_path / "utf8", "utf-8"))
    assert everything(load(case, tmp_path / "cp949", "cp949", encoding="cp949")) == expected
    with pytest.raises(DataError, match=rf"{CASES[case][0]}:\d+.*not valid utf-8.*data\.encoding"):
        load(case, tmp_path / "wrong", "cp949", encoding="utf-8")


@pytest.mark.parametrize("config", sorted({c for _, _, c, _, _ in CASES.values()}, key=lambda c: c.__name__))
def test_a_wrong_codec_or_policy_is_a_config_error_naming_the_key(config: type) -> None:
    with pytest.raises(ConfigError, match=r"run.yaml: data: data\.encoding: unknown encoding 'korean-excel'"):
        from_dict(config, {"encoding": "korean-excel"}, "run.yaml: data")
    with pytest.raises(ConfigError, match=r"run.yaml: data.*on_bad_rows.*'ignore'"):
        from_dict(config, {"on_bad_rows": "ignore"}, "run.yaml: data")


BROKEN: dict[str, str | bytes] = {  # a case, and a line to append that its loader cannot read
    "classification": '"broken,quote\n',
    "tagging conll": "나는 NP\n\n",
    "tagging conllu": "1\t나는\tPRON\n\n",
    "translation pairs": "no tab here\n",
    "language model": b"bad \xff byte\n",
    "forecasting": "2020-31,many\n",
    "series classification ts": "1,x,3:가\n",
    "series classification table": "가,1;x;3\n",
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_bad_row_stops_the_load_or_is_skipped_when_asked(case: str, tmp_path: Path) -> None:
    name, text, config, read, extra = CASES[case]
    broken = BROKEN[case] if isinstance(BROKEN[case], bytes) else BROKEN[case].encode()
    train = str(tmp_path / name)
    Path(train).write_bytes(text.encode() + broken)
    with pytest.raises(DataError, match=rf"{name}:\d+: .*data\.on_bad_rows=skip"):
        read(from_dict(config, {"train": train, **extra}, "run.yaml: data"))
    with pytest.warns(
        UserWarning, match=rf"{name}: skipped 1 bad row\(s\) \(data.on_bad_rows=skip; lines \d+"
    ):
        splits = read(from_dict(config, {"train": train, "on_bad_rows": "skip", **extra}, "run.yaml: data"))
    assert everything(splits) == everything(read(from_dict(config, {"train": write(
        tmp_path / f"clean_{name}", text, "utf-8"), **extra}, "run.yaml: data")))  # fmt: skip
