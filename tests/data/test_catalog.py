"""The named datasets: complete entries, describe(), load_dataset on local copies, offline behaviour."""

from __future__ import annotations

import pytest

from rnnkit.data import datasets
from rnnkit.data.catalog import DATASETS, describe, find_file, load_dataset
from rnnkit.data.datasets import DataError, DatasetUnavailable, TextExample
from rnnkit.data.download import UnpinnedFile

REQUIRED = {
    "nsmc", "mr", "sst2", "conll2000", "ud_korean_gsd", "tatoeba_eng_kor", "tinyshakespeare", "airline_passengers",
    "daily_min_temperatures", "japanese_vowels", "gunpoint", "italy_power_demand", "basic_motions",
}  # fmt: skip


def test_every_entry_is_complete():
    assert REQUIRED <= set(DATASETS)
    for name, info in DATASETS.items():
        assert info.name == name and info.description and info.task and info.license and info.source
        function = info.loader.split("(")[0]  # the loader it names exists
        assert function.startswith("rnnkit.data.datasets.load_") and callable(
            getattr(datasets, function.split(".")[-1])
        )
        assert info.files, name
        for file in info.files:
            assert file.url.startswith("https://"), file.url
            assert file.filename.startswith(f"{name}/"), file.filename  # one cache folder per dataset


def test_pinned_urls_point_at_fixed_commits():
    for info in DATASETS.values():
        for file in info.files:
            if file.sha256 is not None and "githubusercontent" in file.url:
                commit = file.url.split("/")[5]
                assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit), file.url


def test_describe_shows_license_files_hashes_and_local_use():
    text = describe("nsmc")
    assert text.startswith("nsmc: Naver Sentiment Movie Corpus")
    assert (
        "CC0 1.0" in text and "ratings_train.txt" in text and "not pinned (fetch needs verify=False)" in text
    )
    assert "rnnkit.data.datasets.load_nsmc(PATH)" in text and "--data FOLDER" in text
    assert "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed" in describe("tinyshakespeare")
    with pytest.raises(ValueError, match=r"unknown dataset 'nsmcc'; known: .*nsmc.*tinyshakespeare"):
        describe("nsmcc")


def test_load_dataset_reads_a_local_folder_without_network(tmp_path):
    for split, lines in (("train", "1 good\n0 bad\n"), ("dev", "1 fine\n"), ("test", "0 meh\n")):
        (tmp_path / f"stsa.binary.{split}").write_text(lines, encoding="utf-8")
    splits = load_dataset("sst2", path=tmp_path)
    assert splits == {
        "train": [TextExample("good", "1"), TextExample("bad", "0")],
        "dev": [TextExample("fine", "1")],
        "test": [TextExample("meh", "0")],
    }
    (tmp_path / "sample.csv").write_text('"Month","Passengers"\n"1949-01",112\n', encoding="utf-8")
    with pytest.raises(
        DataError, match=r"sample\.csv: expected a file named like 'airline-passengers\*\.csv'"
    ):
        load_dataset("airline_passengers", path=tmp_path / "sample.csv")
    (tmp_path / "airline-passengers.csv").write_text(
        '"Month","Passengers"\n"1949-01",112\n', encoding="utf-8"
    )
    assert len(load_dataset("airline_passengers", path=tmp_path / "airline-passengers.csv")["all"]) == 1


def test_find_file_wants_exactly_one_match(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ratings_train.txt").write_text("x")
    assert find_file(tmp_path, "ratings_train*.txt") == tmp_path / "a" / "ratings_train.txt"
    (tmp_path / "ratings_train_40k_sample.txt").write_text("x")
    with pytest.raises(
        DataError, match=r"expected exactly one file named like 'ratings_train\*\.txt' in it, found 2"
    ):
        find_file(tmp_path, "ratings_train*.txt")
    with pytest.raises(DataError, match="found 0"):
        find_file(tmp_path, "kor.txt")


def test_offline_load_dataset_explains_how_to_use_a_local_copy(tmp_path):
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset("airline_passengers", cache_dir=tmp_path, offline=True)
    message = str(info.value)
    assert "airline-passengers.csv: offline mode is on" in message
    assert (
        "load_dataset('airline_passengers', path=FOLDER), rnnkit.data.datasets.load_series_csv(PATH) or --data FOLDER"
        in message
    )
    assert str(tmp_path / "airline_passengers" / "airline-passengers.csv") in message
    with pytest.raises(UnpinnedFile, match=r"no sha256 is pinned.*load_dataset\('nsmc', path=FOLDER\)"):
        load_dataset("nsmc", cache_dir=tmp_path, offline=True)
    with pytest.raises(DatasetUnavailable, match="offline mode is on"):
        load_dataset("nsmc", cache_dir=tmp_path, offline=True, verify=False)
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_imdb_entry_finds_the_extracted_tarball_layout(tmp_path):
    review = tmp_path / "imdb" / "aclImdb_v1" / "aclImdb" / "test" / "pos" / "3_10.txt"
    review.parent.mkdir(parents=True)
    review.write_text("Loved it.<br />Twice.", encoding="utf-8")
    expected = {"test": [TextExample("Loved it. Twice.", "pos")]}
    assert load_dataset("imdb", path=tmp_path / "imdb") == expected
    assert load_dataset("imdb", path=review.parents[2]) == expected  # the aclImdb folder itself
