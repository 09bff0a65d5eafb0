"""The TF-IDF + logistic-regression baseline: the same numbers as scikit-learn's plain pipeline, cached per
split, and fitted by ``rnnkit train`` on exactly the split the model is tested on."""

import json
import random

import pytest

from rnnkit.cli.main import main
from rnnkit.tasks.classification.baseline import (
    C_GRID,
    TFIDF_NAME,
    cached_tfidf_baseline,
    split_digest,
    tfidf_logistic_regression,
)

pytest.importorskip("sklearn", reason="the TF-IDF baseline needs scikit-learn (pip install 'rnnkit[bench]')")

WORDS = {"pos": ["good", "great", "warm", "funny", "fine"], "neg": ["bad", "dull", "cold", "flat", "poor"],
         "mix": ["film", "plot", "story", "cast", "year"]}  # fmt: skip


def noisy_pairs(count, seed):
    """Texts whose label shows in some words only, so that C matters and no score is 1.0."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        label = rng.choice(["pos", "neg", "mix"])
        words = [rng.choice(WORDS[label] if rng.random() < 0.4 else WORDS["mix"]) for _ in range(5)]
        pairs.append((" ".join(words), label))
    return pairs


def pipeline_reference(train, val, test):
    """The baseline as one scikit-learn pipeline refitted per C (what benchmarks/text_baseline.py did)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    def model(c):
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
        union = FeatureUnion([("words", words), ("chars", chars)])
        return make_pipeline(union, LogisticRegression(C=c, max_iter=2000))

    texts, labels = [t for t, _ in train], [y for _, y in train]
    scores = {c: np.mean(model(c).fit(texts, labels).predict([t for t, _ in val]) == [y for _, y in val])
              for c in C_GRID}  # fmt: skip
    best = max(C_GRID, key=lambda c: (scores[c], -c))
    fitted = model(best).fit(texts + [t for t, _ in val], labels + [y for _, y in val])
    return best, float(np.mean(fitted.predict([t for t, _ in test]) == np.array([y for _, y in test])))


def test_the_baseline_matches_the_plain_pipeline():
    train, val, test = noisy_pairs(120, 0), noisy_pairs(40, 1), noisy_pairs(60, 2)
    result = tfidf_logistic_regression(train, val, test)
    assert (result["C"], result["test_accuracy"]) == pipeline_reference(train, val, test)
    assert result["name"] == TFIDF_NAME and result["C_chosen_by"] == "validation split"
    assert 0.4 < result["test_accuracy"] < 1.0 and 0 < result["test_macro_f1"] <= 1


def test_without_validation_c_is_chosen_by_cross_validation():
    result = tfidf_logistic_regression(noisy_pairs(100, 3), [], noisy_pairs(30, 4))
    assert result["C_chosen_by"] == "5-fold cross-validation on train" and result["C"] in C_GRID


def test_the_baseline_is_fitted_once_per_split(tmp_path):
    splits = {"train": noisy_pairs(60, 5), "val": noisy_pairs(20, 6), "test": noisy_pairs(20, 7)}
    first = cached_tfidf_baseline(splits, tmp_path)
    path = tmp_path / f"{split_digest(splits)}.json"
    assert json.loads(path.read_text(encoding="utf-8")) == first
    path.write_text(json.dumps({**first, "test_accuracy": 0.123}), encoding="utf-8")
    assert cached_tfidf_baseline(splits, tmp_path)["test_accuracy"] == 0.123  # read back, not refitted
    other = {**splits, "test": splits["test"][:10]}
    assert cached_tfidf_baseline(other, tmp_path)["test_accuracy"] != 0.123
    assert len(list(tmp_path.glob("*.json"))) == 2
    path.write_text("{broken", encoding="utf-8")  # a damaged entry is refitted and replaced
    assert cached_tfidf_baseline(splits, tmp_path) == first


def write_table(path, pairs):
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in pairs), encoding="utf-8")
    return str(path)


def test_rnnkit_train_fits_the_baseline_on_the_split_it_tests_on(tmp_path, capsys):
    """Train and test come from files, validation is held out of train: the baseline must see exactly the
    run's three splits (recomputed here from the run's own task), and the summary prints it with the gap."""
    from rnnkit.tasks import load_run

    train = write_table(tmp_path / "train.tsv", noisy_pairs(150, 8))
    test = write_table(tmp_path / "test.tsv", noisy_pairs(50, 9))
    run = tmp_path / "run"
    tiny = ["model.embedding_dim=8", "model.rnn.hidden_size=8", "train.epochs=2", "train.batch_size=16"]
    args = ["train", "--task", "classification", "--train", train, "--test", test, "-o", str(run), "--quiet"]
    assert main([*args, *[f"--set={o}" for o in tiny]]) == 0
    out = capsys.readouterr().out
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    task, _ = load_run(run)
    from rnnkit.tasks.classification.data import load_splits

    splits = load_splits(task.data)  # the run's split, read again from its run.yaml
    assert {name: len(part) for name, part in splits.items()} == results["sizes"]
    pairs = {name: [(e.text, e.label) for e in part] for name, part in splits.items()}
    expected = tfidf_logistic_regression(pairs["train"], pairs["val"], pairs["test"])
    fitted = results["baselines"]["tfidf_logistic_regression"]
    assert {k: fitted[k] for k in expected} == expected
    assert fitted["gap"]["test_accuracy"] == pytest.approx(results["test_accuracy"] - expected["test_accuracy"],
                                                          abs=1e-4)  # fmt: skip
    majority = results["baselines"]["majority"]
    assert majority == results["baseline"] and "gap" in majority
    assert f"baseline: {TFIDF_NAME}: test_accuracy {expected['test_accuracy']:.4f}" in out
    assert out.count("rnnkit - baseline: test_accuracy ") == 2


def test_the_baseline_can_be_switched_off(tmp_path):
    from rnnkit.tasks import fit
    from rnnkit.tasks.base import RunConfig
    from rnnkit.training.config import TrainConfig

    data = {"train": write_table(tmp_path / "train.tsv", noisy_pairs(60, 10)), "tfidf_baseline": False}
    model = {"embedding_dim": 8, "rnn": {"hidden_size": 8}}
    result = fit(
        RunConfig("classification", data, model, TrainConfig(epochs=1)), tmp_path / "run", quiet=True
    )
    assert set(result.results["baselines"]) == {"majority"}
