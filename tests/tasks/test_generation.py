"""The generation task end to end: class-conditioned texts (own files, perplexity per class beside the
Kneser-Ney baseline, the judges, predict, evaluate, inspect) and vector-to-sequence captions (a user table
of digit images; predict from a feature vector), reproducible sampling, the model section checked before any
data is read, and the judge run."""

import json
import random

import numpy as np
import pytest
import torch
import yaml

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.data.vocab import EOS
from rnnkit.tasks import fit, load_run, load_run_config, predict
from rnnkit.tasks.base import InputError
from rnnkit.tasks.generation import KneserNey, load_digits_captions
from rnnkit.tasks.runner import evaluate

WORDS = {"pos": ["good", "great", "fun", "lovely"], "neg": ["bad", "awful", "dull", "boring"]}
SMALL = {"embedding_dim": 16, "rnn": {"cell": "gru", "hidden_size": 32}}


def reviews(count: int, seed: int) -> list[tuple[str, str]]:
    """Short two-class texts: 'a good film, fun' / 'a dull film, bad'."""
    rng = random.Random(seed)
    rows = []
    for k in range(count):
        label = "pos" if k % 2 else "neg"
        first, second = rng.choice(WORDS[label]), rng.choice(WORDS[label])
        rows.append((f"a {first} film, {second}", label))
    return rows


def write_csv(path, rows, header=("review", "sentiment")):
    lines = [",".join(header)] + [f'"{text}",{label}' for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def class_config(folder, data=None, train=None):
    config = {
        "task": "generation",
        "data": {
            "train": write_csv(folder / "train.csv", reviews(240, 0)),
            "test": write_csv(folder / "test.csv", reviews(40, 1)),
            "text_column": "review",
            "label_column": "sentiment",
            "generation": {"samples_per_class": 8, "max_new_tokens": 30, "temperature": 0.7, "seed": 0},
            **(data or {}),
        },
        "model": {**SMALL, "condition_mode": "every_step"},
        "train": {"epochs": 8, "batch_size": 16, "lr": 0.02, "device": "cpu", "seed": 0, **(train or {})},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen_class")
    return fit(class_config(folder), run_dir=folder / "run", quiet=True)


def test_class_conditioned_texts_are_scored_per_class_beside_the_ngram_and_judged(class_run):
    results = json.loads((class_run.run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["sizes"]["train"] + results["sizes"]["val"] == 240 and results["sizes"]["test"] == 40
    per_class = results["per_class"]
    assert set(per_class) == {"neg", "pos"} and per_class["pos"]["texts"] == 20
    for scores in per_class.values():  # the texts are easy: far better than uniform over ~20 characters
        assert 1.0 < scores["perplexity"] < 3.0 and scores["baseline_perplexity"] > 1.0
    assert results["baselines"]["trigram"]["test_perplexity"] < results["baseline"]["test_perplexity"]
    tfidf = results["judges"]["tfidf"]
    assert tfidf["real_test_accuracy"] == 1.0 and results["test_judge_real_accuracy"] == 1.0
    assert results["test_judge_agreement"] >= 0.75 and 0.0 <= tfidf["bigram_agreement"] <= 1.0
    assert len(results["generated"]) == 16 and {s["label"] for s in results["generated"]} == {"neg", "pos"}
    lines = (class_run.run_dir / "samples.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 17 and lines[1].startswith("[neg] (tfidf=")


def test_predict_a_class_label_reproducibly_with_a_seed(class_run, capsys):
    args = ["predict", str(class_run.run_dir), "pos", "neg", "--set", "generation.count=3"]
    assert main([*args, "--set", "generation.seed=5"]) == 0
    first = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in first] == ["pos", "neg"] and len(first[0]["texts"]) == 3
    assert main([*args, "--set", "generation.seed=5"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == first
    other = predict(class_run.run_dir, ["pos"], data_overrides=["generation.count=3", "generation.seed=6"])
    assert other[0]["texts"] != first[0]["texts"]
    alone = predict(class_run.run_dir, ["pos"], data_overrides=["generation.count=3", "generation.seed=5"])
    assert alone[0] == first[0]  # an input's texts do not depend on the other inputs
    start = predict(class_run.run_dir, ["pos: a good"], data_overrides=["generation.strategy=greedy"])
    assert start[0]["text"].startswith("a good")
    assert main(["predict", str(class_run.run_dir), "pos", "meh"]) == 2
    assert "argument 2: expected a class label (one of ['neg', 'pos'])" in capsys.readouterr().err


def test_evaluate_reproduces_the_report_and_inspect_draws_a_label_and_a_text(class_run, tmp_path, capsys):
    saved = json.loads((class_run.run_dir / "results.json").read_text(encoding="utf-8"))
    again = evaluate(class_run.run_dir)
    assert again["test_perplexity"] == pytest.approx(saved["test_perplexity"], rel=1e-6)
    assert again["generated"] == saved["generated"]  # seeded sampling
    out = tmp_path / "pictures"
    args = ["inspect", str(class_run.run_dir), "--text", "pos", "--text", "neg: a dull film", "-o", str(out)]
    assert main([*args, "--format", "png"]) == 0
    printed = capsys.readouterr().out
    assert (
        "class pos, the model's own text" in printed and "class neg, the given text: 'a dull film'" in printed
    )
    assert list(out.glob("input1_*gates.png")) and list(out.glob("input2_*gradients.png"))
    task, _ = load_run(class_run.run_dir)
    one = next(iter(task.loaders()[1]))
    assert task.describe_example({k: v[:1] for k, v in one.items()}).startswith("class: ")


def test_the_model_section_is_checked_before_any_data_is_read(tmp_path, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("the data were read before the model section was checked")

    monkeypatch.setattr("rnnkit.tasks.generation.task.load_splits", no_reading)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"task": "generation", "model": {"rnn": {"hiden_size": 8}}}))
    with pytest.raises(ConfigError, match=r"run.yaml: model: GeneratorConfig.rnn: unknown key 'hiden_size'"):
        load_run_config(config)
    with pytest.raises(ConfigError, match=r"model.num_classes: comes from the data; remove it"):
        fit(config, run_dir=tmp_path / "run", overrides=["model.rnn={}", "model.num_classes=2"], quiet=True)
    with pytest.raises(ConfigError, match=r"GeneratorConfig.rnn.bidirectional must be False"):
        load_run_config(config, ["model.rnn={bidirectional: true}"])
    with pytest.raises(ConfigError, match=r"data: .*judge.*vector conditioning has none"):
        load_run_config(config, ["model.rnn={}", "data.judge=runs/x"])
    assert not (tmp_path / "run").exists()


def digits_table(path, rows):
    """A user's table: a caption column and one column holding each image's 64 pixels as a JSON list."""
    lines = [json.dumps({"pixels": r.features.tolist(), "caption": r.text}) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_vector_to_caption_from_a_user_table_beside_the_nearest_neighbour(tmp_path, capsys):
    rows = load_digits_captions("korean_native")
    random.Random(0).shuffle(rows)
    config = {
        "task": "generation",
        "data": {"train": digits_table(tmp_path / "train.jsonl", rows[:500]),
                 "test": digits_table(tmp_path / "test.jsonl", rows[500:600]),
                 "text_column": "caption", "feature_columns": ["pixels"], "val_fraction": 0.1},
        "model": {**SMALL, "condition_mode": "init_state"},
        "train": {"epochs": 12, "batch_size": 32, "lr": 0.02, "device": "cpu", "seed": 0},
    }  # fmt: skip
    run = fit(load_run_config_from(tmp_path, config), run_dir=tmp_path / "run", quiet=True)
    results = run.results
    assert results["bleu_tokenize"] == "char" and results["sizes"]["test"] == 100
    assert results["test_exact_match"] > 0.5 and results["test_token_accuracy"] > 0.5
    assert results["baseline"]["test_exact_match"] > 0.8  # 1-NN is strong on digits
    assert results["baselines"]["most_frequent_caption"]["test_exact_match"] < 0.25
    assert (tmp_path / "run" / "samples.txt").read_text(encoding="utf-8").count("\n") == 101
    image = rows[600]
    as_list, as_commas = json.dumps(image.features.tolist()), ", ".join(str(v) for v in image.features)
    out = predict(tmp_path / "run", [as_list, as_commas])
    assert out[0]["text"] == out[1]["text"] and out[0]["texts"] == [out[0]["text"]]
    task, model = load_run(tmp_path / "run")
    with pytest.raises(InputError, match=r"input 1: expected 64 features, got 3"):
        task.predict(model, ["1, 2, 3"])
    with pytest.raises(InputError, match=r"input 2: the features: expected numbers, got 'x'"):
        task.parse_inputs([as_list, "1, x"])
    batch, tokens, note = task.inspection_example(model, f"{as_list}: 일곱")
    assert tokens["rnn"] == ["<bos>", "일", "곱"] and batch["condition"].shape == (1, 64)
    assert note.startswith("a vector of 64 features, the given text")


def load_run_config_from(folder, config):
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return load_run_config(path)


def test_a_classification_run_judges_the_generated_texts(tmp_path):
    classifier = {
        "task": "classification",
        "data": {"train": write_csv(tmp_path / "train.csv", reviews(200, 0)), "tokenizer": "word",
                 "text_column": "review", "label_column": "sentiment"},
        "model": {"embedding_dim": 16, "rnn": {"cell": "gru", "hidden_size": 16}},
        "train": {"epochs": 3, "batch_size": 16, "lr": 0.02, "device": "cpu"},
    }  # fmt: skip
    fit(load_run_config_from(tmp_path, classifier), run_dir=tmp_path / "judge", quiet=True)
    folder = tmp_path / "gen"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"data.judge: .*nowhere: not a run folder"):
        fit(
            class_config(folder, data={"judge": str(tmp_path / "nowhere")}),
            run_dir=folder / "bad",
            quiet=True,
        )
    assert not (folder / "bad" / "model").exists()  # refused before training
    run = fit(class_config(folder, data={"judge": str(tmp_path / "judge")}, train={"epochs": 4}),
              run_dir=folder / "run", quiet=True)  # fmt: skip
    judged = run.results["judges"]["run"]
    assert judged["name"].startswith("rnnkit run judge") and judged["real_test_accuracy"] > 0.9
    assert run.results["test_run_judge_agreement"] == judged["agreement"]
    assert "run_judge" in run.results["generated"][0]


def test_sampling_is_reproducible_with_a_seed_and_stops_at_eos(class_run):
    task, model = load_run(class_run.run_dir)
    labels = torch.tensor([0, 1, 1])
    first = task.decode(model, labels=labels, seed=11)
    assert task.decode(model, labels=labels, seed=11) == first
    assert all(EOS not in ids and len(ids) <= 30 for ids in first)


def test_kneser_ney_distributions_sum_to_one_and_sample_reproducibly():
    rng = np.random.default_rng(0)
    texts = [rng.integers(4, 12, size=int(rng.integers(1, 8))).tolist() for _ in range(50)]
    model = KneserNey(texts, vocab_size=12, order=3)
    for context in ([], [4], [5, 6], [11, 11, 11]):
        p = model.distribution(context)
        assert p.sum() == pytest.approx(1.0) and p[0] == 0 and p[2] == 0
        assert p[7] == pytest.approx(model.probability(7, context))
    nll, count = model.nll([4, 5])
    assert count == 3 and nll == pytest.approx(-np.log([model.probability(4, []), model.probability(5, [4]),
                                                        model.probability(EOS, [4, 5])]).sum())  # fmt: skip
    assert model.sample(5, 10, seed=3) == model.sample(5, 10, seed=3)
