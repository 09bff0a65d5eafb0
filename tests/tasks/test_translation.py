"""The translation task end to end: a test-written language whose target is a function of the source (each
word mapped to Korean, order reversed), so a tiny model must reach a high chrF in seconds; then predict,
evaluate, the tokenizers and vocabularies, batching invariance, splits, config errors, and a shrunken run
of the example config on the real Tatoeba pairs (skipped without the shared data folder)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.data.reading import DataError
from rnnkit.data.records import TextPair
from rnnkit.tasks import fit, load_run_config, predict
from rnnkit.tasks.base import RunConfig
from rnnkit.tasks.runner import evaluate
from rnnkit.tasks.translation import TranslationData, TranslationTask, detokenize, load_splits, split_pairs
from rnnkit.training.callbacks import read_jsonl
from rnnkit.training.config import TrainConfig

SHARED = Path(
    os.environ.get("RNNKIT_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
WORDS = {"one": "하나", "two": "둘", "three": "셋", "four": "넷", "five": "다섯", "six": "여섯",
         "seven": "일곱", "eight": "여덟"}  # fmt: skip
TINY = {
    "embedding_dim": 16,
    "encoder": {"cell": "gru", "hidden_size": 32, "bidirectional": True},
    "decoder": {"cell": "gru", "hidden_size": 32},
}


def translate_by_rule(source: str) -> str:
    """The language of the tests: map each word, reverse the order."""
    return " ".join(WORDS[w] for w in reversed(source.split()))


def write_pairs(path: Path, count: int, seed: int = 0) -> Path:
    """``count`` distinct sources of 1-5 different words (a repeated word would make attention ambiguous)."""
    rng, sources = random.Random(seed), set()
    while len(sources) < count:
        sources.add(" ".join(rng.sample(list(WORDS), rng.randint(1, 5))))
    lines = [f"{s}\t{translate_by_rule(s)}\tCC-BY test\n" for s in sorted(sources)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def task_for(data: dict, model: dict | None = None, train: dict | None = None) -> TranslationTask:
    config = RunConfig("translation", data, model or TINY, TrainConfig(**{"device": "cpu", **(train or {})}))
    return TranslationTask.from_run_config(config)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("translation")
    pairs = write_pairs(folder / "pairs.txt", 500)
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump({
        "task": "translation",
        "data": {"dataset": "pairs", "path": str(pairs), "source_tokenizer": "word", "target_tokenizer": "word",
                 "beam_size": 3, "eval_pairs": 40},
        "model": TINY,
        "train": {"epochs": 8, "batch_size": 32, "lr": 0.02, "schedule": "cosine", "warmup_ratio": 0.05,
                  "monitor": "val_chrf", "mode": "max", "device": "cpu", "seed": 0},
    }))  # fmt: skip
    return fit(config, run_dir=folder / "run", quiet=True)


def test_learns_the_rule_and_beats_copying_the_source(toy_run):
    names = {p.name for p in toy_run.run_dir.iterdir()}
    assert {"run.yaml", "task.json", "model", "results.json", "metrics.jsonl", "learning_curves.png"} <= names
    results = json.loads((toy_run.run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["test_chrf_greedy"] > 85 and results["test_chrf_beam"] > 85
    assert results["test_bleu_greedy"] > 85 and results["bleu_tokenize"] == "char"  # Hangul targets
    assert results["baseline"]["test_chrf"] < 5  # the source shares no character with the target
    assert results["sizes"]["train"] + results["sizes"]["val"] + results["sizes"]["test"] == 500
    sample = results["samples"][0]
    assert set(sample) == {"source", "reference", "greedy", "beam"}
    assert sample["reference"] == translate_by_rule(sample["source"])
    evals = [r for r in read_jsonl(toy_run.run_dir / "metrics.jsonl") if r.get("event") == "eval"]
    assert {"val_loss", "val_bleu", "val_chrf", "val_perplexity"} <= set(evals[-1])
    assert max(r["val_chrf"] for r in evals) > evals[0]["val_chrf"]


def test_predict_translates_held_out_sentences(toy_run, tmp_path):
    held_out = [p.source for p in toy_run.task.splits["test"]][:20]  # no test source is in training
    assert not set(held_out) & {p.source for p in toy_run.task.splits["train"]}
    results = predict(toy_run.run_dir, held_out)
    assert [r["text"] for r in results] == held_out
    right = sum(r["translation"] == translate_by_rule(r["text"]) for r in results)
    assert right >= 15, results
    assert all(r["log_prob"] <= 0 for r in results)
    texts = tmp_path / "in.txt"
    texts.write_text(f"{held_out[0]}\n\n{held_out[1]}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(toy_run.run_dir), "--input", str(texts), "--output", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for line, result in zip(lines, results[:2], strict=True):  # the command line gives what the API gives
        assert line["translation"] == result["translation"] and line["text"] == result["text"]
        assert line["log_prob"] == pytest.approx(result["log_prob"], abs=1e-3)


def test_evaluate_reproduces_the_saved_test_metrics(toy_run):
    report = evaluate(toy_run.run_dir, device="cpu")
    saved = json.loads((toy_run.run_dir / "results.json").read_text(encoding="utf-8"))
    for key in ("test_loss", "test_chrf_greedy", "test_bleu_beam"):
        assert report[key] == pytest.approx(saved[key], abs=1e-6)
    assert report["baseline"] == saved["baseline"]


def test_val_loss_and_decodes_do_not_depend_on_batching(tmp_path):
    pairs = write_pairs(tmp_path / "pairs.txt", 120)
    data = {"dataset": "pairs", "path": str(pairs), "target_tokenizer": "char", "eval_pairs": 12}
    metrics, translations = [], []
    for batch_size in (1, 7):
        task = task_for(data, train={"batch_size": batch_size})
        task.prepare(tmp_path)
        torch.manual_seed(0)
        model = task.build_model().eval()
        _, val_loader, _ = task.loaders()
        with torch.no_grad():
            metrics.append(task.evaluate(model, val_loader))
        sources = [p.source for p in task.splits["val"]][:6]
        together = task.translate(model, sources, "beam", beam_size=2)
        alone = [task.translate(model, [s], "beam", beam_size=2)[0] for s in sources]
        assert [t for t, _ in together] == [t for t, _ in alone]
        for (_, a), (_, b) in zip(together, alone):
            assert a == pytest.approx(b, abs=1e-4)
        translations.append(together)
    assert metrics[0]["val_loss"] == pytest.approx(metrics[1]["val_loss"], rel=1e-5)  # a token mean
    assert metrics[0]["val_chrf"] == pytest.approx(metrics[1]["val_chrf"])


@pytest.mark.parametrize(
    "source, target", [("word", "char"), ("bpe", "unigram"), ("char", "morpheme")], ids=lambda x: x
)
def test_tokenizers_and_vocabularies_come_from_the_training_side(tmp_path, source, target):
    if "morpheme" in (source, target):
        pytest.importorskip("kiwipiepy")
    pairs = write_pairs(tmp_path / "pairs.txt", 150)
    data = {"dataset": "pairs", "path": str(pairs), "source_tokenizer": source, "target_tokenizer": target,
            "subword_vocab_size": 40, "source_lowercase": False}  # fmt: skip
    task = task_for(data)
    task.prepare(tmp_path)
    assert task.source_tokenizer.kind == source and task.target_tokenizer.kind == target
    train_targets = [p.target for p in task.splits["train"]]
    seen = {tok for t in train_targets for tok in task.target_tokenizer.tokenize(t)}
    assert set(task.target_vocab.to_dict()["tokens"][4:]) <= seen
    again = task_for(data)
    again.load_state(tmp_path)
    for text in train_targets[:10]:
        assert again.encode_target(text) == task.encode_target(text)
        assert again.decode_target(again.encode_target(text)).replace(" ", "") == text.replace(" ", "")
    assert again.model_config() == task.model_config()
    assert again.model_config().src_vocab_size == len(task.source_vocab)
    assert again.encode_source("") == [1]  # an empty sentence becomes one <unk> step


def test_detokenize_keeps_unknowns_visible():
    from rnnkit.data.tokenizers import CharTokenizer, WordTokenizer

    assert detokenize(WordTokenizer(), ["<unk>", "is", "here", "!"]) == "<unk> is here!"
    assert detokenize(CharTokenizer(), ["가", "<unk>", "."]) == "가<unk>."
    kiwi = pytest.importorskip("kiwipiepy")  # noqa: F841
    from rnnkit.data.tokenizers import MorphemeTokenizer

    tokens = MorphemeTokenizer().tokenize("나는 행복해.")
    assert detokenize(MorphemeTokenizer(), tokens) == "나는 행복해."
    assert "<unk>" in detokenize(MorphemeTokenizer(), ["<unk>", *tokens])


def test_tables_reversal_and_length_limit(tmp_path):
    table = tmp_path / "pairs.csv"
    rows = [(f"w{i} w{i + 1}", f"x{i}") for i in range(30)] + [("long " * 20, "y")]
    table.write_text("en,ko\n" + "".join(f"{s},{t}\n" for s, t in rows), encoding="utf-8")
    data = {"dataset": "table", "path": str(table), "format": "csv", "source_column": "en",
            "target_column": "ko", "max_length": 10, "val_fraction": 0.0, "test_fraction": 0.2}  # fmt: skip
    splits = load_splits(from_data(data))
    assert splits["val"] == [] and len(splits["train"]) + len(splits["test"]) == 31
    task = task_for(data)
    task.prepare(tmp_path)
    train_loader, val_loader, _ = task.loaders()
    long_in_train = any(p.target == "y" for p in task.splits["train"])
    assert len(train_loader.dataset) == len(task.splits["train"]) - long_in_train and val_loader is None
    pairs = write_pairs(tmp_path / "pairs.txt", 20)
    flipped = load_splits(from_data({"dataset": "pairs", "path": str(pairs), "reverse": True}))
    assert all(translate_by_rule(p.target) == p.source for split in flipped.values() for p in split)


def from_data(data: dict) -> TranslationData:
    from rnnkit.config import from_dict

    return from_dict(TranslationData, data)


@settings(max_examples=40, deadline=None)
@given(
    sources=st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=40),
    fraction=st.floats(0.05, 0.9),
    seed=st.integers(0, 100),
)
def test_split_pairs_is_seeded_and_keeps_sources_together(sources, fraction, seed):
    pairs = [TextPair(s, f"{s}{k}") for k, s in enumerate(sources)]
    rest, held = split_pairs(pairs, fraction, seed)
    assert (rest, held) == split_pairs(pairs, fraction, seed)
    assert sorted(rest + held, key=pairs.index) == pairs
    assert not {p.source for p in rest} & {p.source for p in held}
    distinct = len(set(sources))
    if distinct >= 2:
        assert len({p.source for p in held}) == max(1, round(fraction * distinct))


def test_config_errors_name_the_file_and_the_key(tmp_path):
    pairs = write_pairs(tmp_path / "pairs.txt", 30)
    bad = tmp_path / "bad.yaml"

    def config(data: dict, model: dict | None = None) -> Path:
        bad.write_text(yaml.safe_dump({"task": "translation", "data": data, "model": model or {}}))
        return bad

    with pytest.raises(ConfigError, match=r"bad.yaml: data: unknown key 'tokenizer' in TranslationData"):
        fit(
            config({"dataset": "pairs", "path": str(pairs), "tokenizer": "char"}), tmp_path / "r1", quiet=True
        )
    with pytest.raises(ConfigError, match=r"TranslationData.strategy"):
        fit(
            config({"dataset": "pairs", "path": str(pairs), "strategy": "sample"}),
            tmp_path / "r2",
            quiet=True,
        )
    with pytest.raises(ConfigError, match=r"dataset='pairs' needs path="):
        fit(config({"dataset": "pairs"}), tmp_path / "r3", quiet=True)
    for key in ("src_vocab_size", "eos_id"):
        with pytest.raises(ConfigError, match=rf"bad.yaml: model.{key}: comes from the data"):
            fit(config({"dataset": "pairs", "path": str(pairs)}, {key: 5}), tmp_path / f"r{key}", quiet=True)
    with pytest.raises(ConfigError, match=r"bad.yaml: model: unknown key 'hidden' in Seq2SeqConfig"):
        fit(config({"dataset": "pairs", "path": str(pairs)}, {"hidden": 5}), tmp_path / "r4", quiet=True)
    for data, message in [
        ({"beam_size": 0}, r"TranslationData.beam_size must be >= 1, got 0"),
        (
            {"val_fraction": 0.5, "test_fraction": 0.5},
            r"TranslationData: val_fraction \+ test_fraction must be < 1",
        ),
    ]:
        with pytest.raises(ConfigError, match=rf"bad.yaml: data: {message}"):
            TranslationTask.from_run_config(load_run_config(config(data)), str(bad))
    broken = tmp_path / "broken.txt"
    broken.write_text("one\t하나\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.txt:2: expected 2 or 3 tab-separated fields"):
        fit(config({"dataset": "pairs", "path": str(broken)}), tmp_path / "r5", quiet=True)


def test_the_example_config_on_real_tatoeba_pairs(tmp_path):
    folder = SHARED / "tatoeba_eng_kor"
    if not folder.is_dir():
        pytest.skip(f"real dataset tatoeba_eng_kor: {folder} not found (set RNNKIT_SHARED_DATA)")
    shrink = [f"data.path={folder}", "data.test_fraction=0.03", "data.eval_pairs=16", "data.beam_size=2",
              "train.epochs=1", "train.max_steps=12", "train.batch_size=64", "train.device=cpu",
              "model.embedding_dim=16", "model.encoder.hidden_size=16", "model.decoder.hidden_size=32",
              "data.max_output_length=30"]  # fmt: skip
    run_dir = tmp_path / "tatoeba"
    args = ["train", "tatoeba_eng_kor", "--quiet", "-o", str(run_dir), *[f"--set={o}" for o in shrink]]
    assert main(args) == 0
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["sizes"]["train"] > 4500 and 100 < results["sizes"]["test"] < 250
    assert results["bleu_tokenize"] == "char" and results["vocab_sizes"]["target"] > 500
    assert 0 <= results["baseline"]["test_chrf"] < 10  # English copied into a Korean reference
    assert all(any("가" <= c <= "힣" for c in s["reference"]) for s in results["samples"])
    (translated,) = predict(run_dir, ["I love you."], device="cpu")
    assert isinstance(translated["translation"], str) and translated["text"] == "I love you."
