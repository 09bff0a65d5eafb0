"""An installed vector package (a .npy matrix + a parquet word index) is read without pickle, row by row
for the vocabulary; malformed packages are refused with a message naming the file."""

import sys

import numpy as np
import pytest
import torch

from rnnkit.blocks.embedding import WordVectorsError
from rnnkit.blocks.vector_packages import (
    find_vector_package,
    load_package_vectors,
    load_vectors,
    vector_dimension,
)

pq = pytest.importorskip("pyarrow.parquet", reason="the parquet word index needs pyarrow")
import pyarrow as pa  # noqa: E402

WORDS = ["the", "movie", "사과", "good"]
MATRIX = np.arange(len(WORDS) * 3, dtype=np.float32).reshape(len(WORDS), 3) / 10


def write_package(root, name, words=WORDS, matrix=MATRIX, with_root=True):
    package = root / name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\nROOT = str(Path(__file__).parent / 'data')\n" if with_root else ""
    )
    np.save(package / "data" / "emb.npy", matrix, allow_pickle=False)
    pq.write_table(pa.table({"index": words}), package / "data" / "index.parquet")
    return package


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tiny_vectors")]:
        del sys.modules[name]


def test_the_rows_of_the_vocabulary_come_from_the_matrix(site):
    write_package(site, "tiny_vectors_a")
    vocab = ["<pad>", "<unk>", "good", "the", "unseen"]
    vectors, found = load_package_vectors("tiny-vectors-a", vocab, generator=torch.Generator().manual_seed(0))
    assert found == 2 and vectors.shape == (5, 3)
    assert vectors[2].tolist() == pytest.approx(MATRIX[3].tolist())
    assert vectors[3].tolist() == pytest.approx(MATRIX[0].tolist())
    assert vectors[0].abs().sum() == 0  # padding
    assert vectors[4].abs().sum() > 0  # a random row for the word the package lacks
    assert vector_dimension("tiny-vectors-a") == 3
    same, _ = load_vectors("tiny_vectors_a", vocab, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(same, vectors)


def test_a_package_without_root_uses_its_data_folder(site):
    write_package(site, "tiny_vectors_b", with_root=False)
    assert find_vector_package("tiny_vectors_b").matrix.name == "emb.npy"


def test_a_missing_package_says_what_to_install():
    with pytest.raises(WordVectorsError, match="no installed vector package 'no_such_vectors'.*pip install"):
        load_vectors("no-such-vectors", ["<pad>", "a"])


def test_a_pickled_matrix_is_refused_not_executed(site, tmp_path):
    package = write_package(site, "tiny_vectors_c")
    marker = tmp_path / "ran"
    np.save(package / "data" / "emb.npy", np.array([Exploit(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(WordVectorsError, match="emb.npy: not a plain numeric .npy array"):
        load_package_vectors("tiny_vectors_c", ["<pad>", "the"])
    assert not marker.exists()


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_an_index_of_another_length_and_a_wrong_dimension_are_refused(site):
    write_package(site, "tiny_vectors_d", words=WORDS[:3])
    with pytest.raises(WordVectorsError, match="index.parquet: 3 words for the 4 rows"):
        load_package_vectors("tiny_vectors_d", ["<pad>", "the"])
    write_package(site, "tiny_vectors_e")
    with pytest.raises(WordVectorsError, match="dimension mismatch: 3, expected 50"):
        load_package_vectors("tiny_vectors_e", ["<pad>", "the"], 50)
