"""Integration: every loader on the real datasets in shared/data gets the counts their READMEs state.

The folder is ``<repository>/../shared/data`` (or ``$RNNKIT_SHARED_DATA``); without it these tests skip and
say why. Nothing is copied into the repository (the cache tests copy into pytest's tmp_path).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.catalog import DATASETS, load_dataset
from rnnkit.data.datasets import load_mr, load_table
from rnnkit.data.download import sha256_file

SHARED = Path(
    os.environ.get("RNNKIT_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
UCR = ("japanese_vowels", "gunpoint", "italy_power_demand", "basic_motions")


def _folder(name: str) -> Path:
    folder = SHARED / ("ucr_uea_classification" if name in UCR else name)
    if not folder.is_dir():
        pytest.skip(
            f"real dataset {name}: {folder} not found (set RNNKIT_SHARED_DATA to the folder of datasets)"
        )
    return folder


def _load(name: str) -> dict:
    return load_dataset(name, path=_folder(name))


def _labels(examples) -> dict[str, int]:
    return dict(Counter(e.label for e in examples))


def test_nsmc_sample_40k_10k():
    splits = _load("nsmc")
    assert _labels(splits["train"]) == {"0": 20227, "1": 19773}
    assert _labels(splits["test"]) == {"0": 5083, "1": 4917}
    assert max(len(e.text) for e in splits["train"] + splits["test"]) <= 140
    assert any('"' in e.text for e in splits["train"])  # bare quotes survive (no CSV quoting)


def test_mr_5331_each_and_the_same_from_a_latin1_original(tmp_path):
    examples = _load("mr")["all"]
    assert _labels(examples) == {"pos": 5331, "neg": 5331}
    assert examples[0].text.startswith("the rock is destined to be the 21st century's new")
    for name in ("pos", "neg"):  # rebuild the Cornell original: Latin-1 bytes with DOS line endings
        text = (_folder("mr") / f"rt-polarity.{name}").read_text(encoding="utf-8")
        (tmp_path / f"rt-polarity.{name}").write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    assert load_mr(tmp_path) == examples


def test_sst2_sentence_splits_and_glue_phrases():
    splits = _load("sst2")
    assert {k: _labels(v) for k, v in splits.items()} == {
        "train": {"0": 3310, "1": 3610},
        "dev": {"0": 428, "1": 444},
        "test": {"0": 912, "1": 909},
    }
    glue = load_table(_folder("sst2") / "glue_sst2_train_phrases.tsv", text="sentence", label="label")
    assert _labels(glue) == {"0": 29780, "1": 37569}
    assert glue[0].text == "hide new secretions from the parental units" and glue[0].label == "0"


def test_conll2000_sentences_tokens_and_tag_sets():
    splits = _load("conll2000")
    assert {k: len(v) for k, v in splits.items()} == {"train": 8936, "test": 2012}
    assert [sum(map(len, v)) for v in splits.values()] == [211727, 47377]
    train = splits["train"]
    assert (
        len({t for s in train for t in s.tags}) == 22
        and len({p for s in train for p in s.features["pos"]}) == 44
    )
    assert train[0].tokens[0] == "Confidence" and train[0].tags[0] == "B-NP"


def test_ud_korean_gsd_sentences_and_words():
    splits = _load("ud_korean_gsd")
    assert {k: len(v) for k, v in splits.items()} == {"train": 4400, "dev": 950, "test": 989}
    assert [sum(map(len, v)) for v in splits.values()] == [56687, 11958, 11677]
    assert 16 <= len({t for s in splits["train"] for t in s.tags}) <= 17
    first = splits["train"][0]
    assert first.tokens[0] == "잡스는" and first.tags[0] == "NOUN" and first.features["xpos"][0] == "NNP+JX"


def test_tatoeba_pairs_with_attribution():
    pairs = _load("tatoeba_eng_kor")["all"]
    assert len(pairs) == 5749
    assert (pairs[0].source, pairs[0].target) == ("Go.", "가.")
    assert all(p.attribution.startswith("CC-BY 2.0 (France) Attribution: tatoeba.org") for p in pairs)


def test_tinyshakespeare_characters():
    text = _load("tinyshakespeare")["all"]
    assert len(text) == 1115394 and len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.\n")


def test_airline_144_months_and_a_chronological_split():
    series = _load("airline_passengers")["all"]
    assert len(series) == 144 and series.columns == ["Passengers"]
    assert (series.times[0], series.times[-1]) == ("1949-01", "1960-12")
    assert (series.values.min(), series.values.max()) == (104, 622)
    train, val, test = series.chronological_split(108, 12, 24, context=12)
    assert test.times[12] == "1959-01" and test.windows(12, 1)[1].shape == (24, 1, 1)


def test_daily_min_temperatures_3650_days():
    series = _load("daily_min_temperatures")["all"]
    assert len(series) == 3650 and (series.times[0], series.times[-1]) == ("1981-01-01", "1990-12-31")
    assert np.isclose(series.values.min(), 0.0) and np.isclose(series.values.max(), 26.3)


@pytest.mark.parametrize(
    ("name", "counts", "dims", "lengths", "classes"),
    [
        ("japanese_vowels", (270, 370), 12, (7, 29), 9),
        ("gunpoint", (50, 150), 1, (150, 150), 2),
        ("italy_power_demand", (67, 1029), 1, (24, 24), 2),
        ("basic_motions", (40, 40), 6, (100, 100), 4),
    ],
)
def test_ucr_uea_sets(name, counts, dims, lengths, classes):
    splits = _load(name)
    assert (len(splits["train"]), len(splits["test"])) == counts
    every = splits["train"] + splits["test"]
    assert {x.values.shape[1] for x in every} == {dims}
    assert (min(map(len, every)), max(map(len, every))) == lengths
    assert len(_labels(every)) == classes and not any(np.isnan(x.values).any() for x in every)
    if name == "japanese_vowels":
        assert _labels(splits["train"]) == {str(k): 30 for k in range(1, 10)}
        assert _labels(splits["test"])["3"] == 88


def test_every_pinned_hash_matches_the_shared_copy():
    checked = 0
    for name, info in DATASETS.items():
        folder = SHARED / ("ucr_uea_classification" if name in UCR else name)
        for file in info.files:
            local = folder / Path(file.filename).name
            if file.sha256 is not None and local.is_file():
                assert sha256_file(local) == file.sha256, local
                checked += 1
    if checked == 0:
        pytest.skip(f"pinned hashes: {SHARED} not found")
    assert checked == 18  # sst2 3, UD 3, tatoeba 1, tinyshakespeare 1, airline 1, temperatures 1, UCR 8


@pytest.mark.parametrize("name", ["airline_passengers", "sst2", "japanese_vowels"])
def test_load_dataset_uses_a_verified_cache_offline(tmp_path, name):
    folder = _folder(name)
    for file in DATASETS[name].files:  # what fetch would have downloaded, placed in a temporary cache
        target = tmp_path / file.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / target.name, target)
    cached = load_dataset(name, cache_dir=tmp_path, offline=True)
    assert cached.keys() == _load(name).keys()
