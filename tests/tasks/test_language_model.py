"""The language-model task end to end: a repetitive text learnt in seconds (bpc far below the unigram
baseline, exact greedy continuations), predict / evaluate / resume, the contiguous split, the chunk sampler,
the stateful evaluation against one pass, the baseline's arithmetic, config errors, and a shrunken run of
the Tiny Shakespeare example config on the real data (skipped without it)."""

import json
import math
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.layers.factory import RNNConfig
from rnnkit.models.generator import GeneratorConfig, SequenceGenerator
from rnnkit.tasks import fit, load_run, predict
from rnnkit.tasks.language_model import (
    ChunkSampler,
    GenerationOptions,
    score_streams,
    split_contiguous,
    stream_batches,
    unigram_bits,
)
from rnnkit.tasks.runner import evaluate
from rnnkit.training.callbacks import read_jsonl

SHARED = Path(
    os.environ.get("RNNKIT_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
TEXT = "the cat sat on the mat.\n" * 150  # 3,600 characters, period 24
NEW = 30  # greedy tokens generated


def continuation(prompt: str, n: int = NEW) -> str:
    """What follows ``prompt`` in the periodic text: the only right greedy continuation."""
    start = TEXT.index(prompt) + len(prompt)
    return TEXT[start : start + n]


def write_run_config(folder: Path, data=None, model=None, train=None) -> Path:
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    config = {
        "task": "language_model",
        "data": {
            "dataset": "text",
            "path": str(folder / "text.txt"),
            "bptt": 24,
            "generation": {"prompt": "the cat", "max_new_tokens": NEW, "strategy": "greedy"},
            **(data or {}),
        },
        "model": {"embedding_dim": 16, "rnn": {"cell": "lstm", "hidden_size": 32}, **(model or {})},
        "train": {"epochs": 4, "batch_size": 16, "lr": 0.02, "device": "cpu", "seed": 0, **(train or {})},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cat_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    return fit(write_run_config(folder), run_dir=folder / "run", quiet=True)


def test_a_repetitive_text_is_learnt_far_below_the_unigram_baseline(cat_run):
    results = json.loads((cat_run.run_dir / "results.json").read_text(encoding="utf-8"))
    train, val, test = TEXT[:3240], TEXT[3240:3420], TEXT[3420:]  # 90 / 5 / 5 %, contiguous
    counts = Counter(train)
    entropy = -sum(c / len(train) * math.log2(c / len(train)) for c in counts.values())
    baseline = results["baseline"]
    assert baseline["train_entropy_bits"] == pytest.approx(entropy)  # about 3.25 bits per char
    assert baseline["test_bpc"] == pytest.approx(math.log2(baseline["test_perplexity"]))
    assert results["test_bpc"] < 0.2 * baseline["test_bpc"]
    assert results["test_perplexity"] == pytest.approx(2 ** results["test_bpc"])
    assert results["test_loss"] == pytest.approx(results["test_bpc"] * math.log(2))
    assert results["sizes"] == {
        "train_chars": len(train), "val_chars": len(val), "test_chars": len(test), "train_tokens": len(train),
        "vocab": 4 + len(counts), "val_tokens_scored": len(val) - 1, "test_tokens_scored": len(test) - 1,
    }  # fmt: skip
    sample = results["samples"][0]
    assert sample == {"prompt": "the cat", "continuation": continuation("the cat"),
                      "text": "the cat" + continuation("the cat")}  # fmt: skip
    assert (cat_run.run_dir / "sample.txt").read_text(encoding="utf-8") == sample["text"] + "\n"
    history = [r for r in read_jsonl(cat_run.run_dir / "metrics.jsonl") if r.get("event") == "eval"]
    assert {"val_loss", "val_perplexity", "val_bpc"} <= set(history[-1])


def test_predict_continues_each_prompt_exactly(cat_run, capsys):
    prompts = ["on the", "mat.\nthe", "t sat"]
    results = predict(cat_run.run_dir, prompts)
    assert [r["continuation"] for r in results] == [continuation(p) for p in prompts]
    assert main(["predict", str(cat_run.run_dir), "the cat"]) == 0
    assert json.loads(capsys.readouterr().out)["continuation"] == continuation("the cat")
    task, model = load_run(cat_run.run_dir)
    with pytest.raises(ValueError, match=r"prompt '' has no tokens"):
        task.predict(model, [""])


def test_sampling_is_seeded_and_top_k_1_is_greedy(cat_run):
    task, model = load_run(cat_run.run_dir)
    sample = GenerationOptions(max_new_tokens=NEW, strategy="sample", temperature=1.5, seed=3)
    task.data = replace(task.data, generation=sample)
    first = task.predict(model, ["the"])[0]["continuation"]
    assert task.predict(model, ["the"])[0]["continuation"] == first  # the same seed, the same text
    task.data = replace(task.data, generation=replace(sample, top_k=1))
    assert task.predict(model, ["the"])[0]["continuation"] == continuation("the")


def test_evaluate_reproduces_the_test_metrics(cat_run, capsys):
    saved = json.loads((cat_run.run_dir / "results.json").read_text(encoding="utf-8"))
    report = evaluate(cat_run.run_dir)
    assert report["test_bpc"] == pytest.approx(saved["test_bpc"], rel=1e-6)
    assert report["baseline"] == pytest.approx(saved["baseline"])
    assert main(["evaluate", str(cat_run.run_dir)]) == 0
    assert "test_perplexity" in capsys.readouterr().out


@pytest.mark.parametrize("tokenizer", ["word", "bpe"])
def test_word_and_subword_tokens_report_perplexity_not_bpc(tmp_path, tokenizer):
    generation = {"prompt": "the cat", "strategy": "greedy", "max_new_tokens": 12}
    data = {"tokenizer": tokenizer, "bptt": 8, "subword_vocab_size": 40, "generation": generation}
    config = write_run_config(tmp_path, data=data, train={"epochs": 3, "batch_size": 8})
    results = fit(config, run_dir=tmp_path / "run", quiet=True).results
    assert "test_bpc" not in results and "test_bpc" not in results["baseline"]
    assert results["test_perplexity"] < 0.5 * results["baseline"]["test_perplexity"]  # word unigram: 5.7
    text = results["samples"][0]["text"]
    if tokenizer == "word":  # words and punctuation, joined by spaces
        assert text == "the cat sat on the mat . the cat sat on the mat ."
    else:
        # subwords keep spacing and line breaks; the prompt's pieces ("▁the", "▁cat": the start of a text)
        # differ from the same words' inside the text, so the first few generated pieces may stumble
        assert text.startswith("the cat") and "on the mat.\nthe cat sat" in text


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    small = {"model": {"embedding_dim": 8, "rnn": {"cell": "lstm", "hidden_size": 8}},
             "data": {"bptt": 8, "chunks_per_epoch": 40, "generation": {"max_new_tokens": 2}},
             "train": {"epochs": 3, "batch_size": 8, "restore_best": False}}  # fmt: skip
    config = write_run_config(tmp_path, **small)
    straight = fit(config, run_dir=tmp_path / "straight", quiet=True)
    fit(config, run_dir=tmp_path / "killed", quiet=True, overrides=["train.max_steps=7"])  # mid epoch 2
    resumed = fit(None, run_dir=tmp_path / "killed", resume_run=True, quiet=True,
                  overrides=["train.max_steps=null"])  # fmt: skip
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300), st.floats(0.01, 0.45), st.floats(0.01, 0.45))
def test_the_split_is_three_contiguous_cuts_of_the_asked_sizes(text, val_fraction, test_fraction):
    train, val, test = split_contiguous(text, val_fraction, test_fraction)
    assert train + val + test == text
    assert abs(len(test) - len(text) * test_fraction) <= 0.5 + 1e-9
    assert abs(len(val) - len(text) * val_fraction) <= 0.5 + 1e-9


def test_the_chunk_sampler_is_a_function_of_seed_and_epoch():
    random = ChunkSampler(100, bptt=9, batch_size=4, mode="random", count=10, seed=5)
    draws = []
    for epoch in (0, 1, 0):
        random.set_epoch(epoch)
        draws.append([s for batch in random for s in batch])
    assert len(random) == 3 and [len(b) for b in random] == [4, 4, 2]
    assert draws[0] == draws[2] != draws[1]
    assert all(0 <= s <= 90 for s in draws[0] + draws[1])  # a chunk is bptt + 1 = 10 tokens
    strided = ChunkSampler(100, bptt=9, batch_size=4, mode="strided", stride=7)
    starts = [s for batch in strided for s in batch]
    assert sorted(starts) == list(range(0, 91, 7)) and starts != sorted(starts)  # all, shuffled
    assert ChunkSampler(100, bptt=10, batch_size=4).count == 10  # default: tokens // bptt chunks
    with pytest.raises(ValueError, match=r"has 9 tokens, fewer than bptt \+ 1 = 11: lower data.bptt"):
        ChunkSampler(9, bptt=10, batch_size=4)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize(("streams", "window"), [(1, 1), (1, 7), (3, 5), (4, 64), (50, 4)])
def test_stateful_evaluation_equals_one_pass_over_each_stream(cell, streams, window):
    torch.manual_seed(0)
    model = SequenceGenerator(GeneratorConfig(vocab_size=12, embedding_dim=6,
                                              rnn=RNNConfig(cell=cell, hidden_size=8, num_layers=2))).eval()  # fmt: skip
    ids = torch.randint(4, 12, (30,))
    batches = stream_batches(ids, streams, window)
    with torch.no_grad():
        nll, count = score_streams(model, batches)
        targets = torch.cat([b["targets"] for b in batches], dim=1)
        assert targets[targets != -100].sort().values.tolist() == ids[1:].sort().values.tolist()
        expected, start = 0.0, 0
        size = [29 // min(streams, 29) + (k < 29 % min(streams, 29)) for k in range(min(streams, 29))]
        for n in size:  # each stream alone, in one forward pass: every target sees its whole stream
            logits, _ = model(ids[start : start + n].unsqueeze(0))
            expected += F.cross_entropy(logits[0], ids[start + 1 : start + n + 1], reduction="sum").item()
            start += n
    assert count == 29 and nll == pytest.approx(expected, rel=1e-5)


def test_the_unigram_baseline_by_hand():
    counts = [0, 0, 0, 0, 3, 1]  # <pad> <unk> <bos> <eos> a b
    assert unigram_bits(counts) == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    smoothed = {1: 1 / 7, 4: 4 / 7, 5: 2 / 7}  # add-one over <unk>, a, b
    ids = torch.tensor([4, 5, 1])
    assert unigram_bits(counts, ids) == pytest.approx(-sum(math.log2(smoothed[i]) for i in (4, 5, 1)) / 3)


def test_config_errors_name_the_file_and_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    cases = [
        ("data: {bpt: 32}", r"bad.yaml: data: unknown key 'bpt' in LanguageModelData"),
        (
            "data: {generation: {temprature: 1}}",
            r"bad.yaml: data: LanguageModelData.generation: unknown key 'temprature' in GenerationOptions",
        ),
        ("data: {dataset: text}", r"bad.yaml: data: LanguageModelData: dataset='text' needs path="),
        ("data: {val_fraction: 0.6, test_fraction: 0.5}", r"val_fraction \+ test_fraction must be < 1"),
        ("data: {chunks: strided, chunks_per_epoch: 9}", r"chunks_per_epoch applies to chunks='random'"),
        ("data: {generation: {temperature: 0}}", r"GenerationOptions.temperature must be > 0, got 0"),
    ]
    for data, message in cases:
        bad.write_text(f"task: language_model\n{data}\n")
        with pytest.raises(ConfigError, match=message):
            fit(bad, run_dir=tmp_path / "run", quiet=True)
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    for model, message in [
        ("{vocab_size: 10}", r"bad.yaml: model.vocab_size: comes from the data; remove it"),
        ("{num_classes: 3}", r"model.num_classes: a language model of plain text is unconditioned"),
        ("{rnn: {cell: lstm, bidirectional: true}}", r"bad.yaml: model: GeneratorConfig.rnn.bidirectional"),
        (
            "{rnn: {hiden_size: 8}}",
            r"bad.yaml: model: GeneratorConfig.rnn: unknown key 'hiden_size' in RNNConfig",
        ),
    ]:
        bad.write_text(f"task: language_model\ndata: {{dataset: text, path: {text}}}\nmodel: {model}\n")
        with pytest.raises(ConfigError, match=message):
            fit(bad, run_dir=tmp_path / "run2", quiet=True)
    bad.write_text(f"task: language_model\ndata: {{dataset: text, path: {text}, bptt: 4000}}\n")
    with pytest.raises(ValueError, match=r"fewer than bptt \+ 1 = 4001"):
        fit(bad, run_dir=tmp_path / "run3", quiet=True)


def test_the_tinyshakespeare_example_shrunk_to_seconds(tmp_path):
    folder = SHARED / "tinyshakespeare"
    if not folder.is_dir():
        pytest.skip(f"real dataset tinyshakespeare: {folder} not found (set RNNKIT_SHARED_DATA)")
    shrink = [
        f"data.path={folder}", "data.bptt=32", "data.chunks_per_epoch=640", "data.eval_max_tokens=3000",
        "data.generation.max_new_tokens=40", "model.rnn.hidden_size=48", "model.rnn.num_layers=1",
        "model.dropout=0.0", "model.rnn.dropout=0.0", "train.epochs=1", "train.batch_size=16", "train.lr=0.01",
        "train.device=cpu",
    ]  # fmt: skip
    assert main(["train", "tinyshakespeare", "--quiet", "-o", str(tmp_path / "run"),
                 *[f"--set={o}" for o in shrink]]) == 0  # fmt: skip
    results = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert results["sizes"]["train_chars"] == 1115394 - 2 * 55770 and results["sizes"]["vocab"] == 4 + 65
    assert results["sizes"]["test_tokens_scored"] == 3000
    assert results["baseline"]["train_entropy_bits"] == pytest.approx(4.774, abs=1e-3)
    assert results["test_bpc"] < results["baseline"]["test_bpc"] - 0.5  # 40 steps learn more than unigrams
    assert results["samples"][0]["prompt"] == "ROMEO:\n" and results["samples"][0]["continuation"]
