"""The tagging task end to end: a test-written CoNLL file (chunks, BiLSTM-CRF), a CoNLL-U file (UPOS,
softmax), the baseline and scheme detection as oracles, config errors, and shrunken real-data runs."""

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
from rnnkit.config import ConfigError, from_dict
from rnnkit.data.records import TaggedSentence
from rnnkit.data.vocab import UNK
from rnnkit.models.io import load_model
from rnnkit.tasks.base import load_run_config
from rnnkit.tasks.runner import evaluate, fit, predict
from rnnkit.tasks.tagging import (
    MostFrequentTag,
    TaggingData,
    TaggingTask,
    detect_scheme,
    hold_out,
    split_words,
    transition_violations,
)

SHARED = Path(
    os.environ.get("RNNKIT_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
CONFIGS = Path(__file__).resolve().parents[2] / "rnnkit" / "configs"

# A toy grammar whose chunk tags need context: "run" and "walk" are nouns inside a noun phrase after a
# determiner or adjective (I-NP) and verbs after a noun phrase (B-VP), so a per-word tagger must miss one.
DETS, ADJS, NOUNS, VERBS = (
    ["the", "a", "this"],
    ["big", "red", "old"],
    ["dog", "cat", "man", "park"],
    ["sees"],
)
AMBIGUOUS = ["run", "walk"]


def noun_phrase(rng):
    words = [(rng.choice(DETS), "DT", "B-NP")]
    words += [(rng.choice(ADJS), "JJ", "I-NP") for _ in range(rng.randint(0, 2))]
    return [*words, (rng.choice(NOUNS + AMBIGUOUS * 2), "NN", "I-NP")]


def toy_sentence(rng):
    verb = rng.choice(VERBS + AMBIGUOUS * 2)
    words = [*noun_phrase(rng), (verb, "VB", "B-VP"), *noun_phrase(rng)]
    if rng.random() < 0.5:
        words += [("in", "IN", "B-PP"), *noun_phrase(rng)]
    return [*words, (".", ".", "O")]


def write_conll(path, sentences):
    path.write_text(
        "".join("".join(" ".join(w) + "\n" for w in s) + "\n" for s in sentences), encoding="utf-8"
    )


def toy_files(folder, seed=0):
    rng = random.Random(seed)
    paths = {}
    for name, count in (("train", 200), ("dev", 30), ("test", 60)):
        paths[name] = folder / f"{name}.txt"
        write_conll(paths[name], [toy_sentence(rng) for _ in range(count)])
    return paths


def run_config(path, task="tagging", **sections):
    path.write_text(yaml.safe_dump({"task": task, **sections}), encoding="utf-8")
    return path


TINY_TRAIN = {
    "epochs": 10,
    "batch_size": 16,
    "lr": 0.02,
    "device": "cpu",
    "monitor": "val_accuracy",
    "mode": "max",
}


@pytest.fixture(scope="module")
def chunk_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chunks")
    paths = toy_files(folder)
    config = run_config(
        folder / "run.yaml",
        data={"dataset": "conll", "path": str(paths["train"]), "val_path": str(paths["dev"]),
              "test_path": str(paths["test"]), "tag_column": "chunk"},
        model={"embedding_dim": 16, "rnn": {"cell": "lstm", "hidden_size": 16, "bidirectional": True}, "crf": True},
        train=TINY_TRAIN,
    )  # fmt: skip
    return fit(config, run_dir=folder / "run", quiet=True)


def test_conll_file_run_beats_the_most_frequent_tag_baseline(chunk_run):
    results = json.loads((chunk_run.run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["scheme"] == "IOB2" and results["sizes"] == {"train": 200, "val": 30, "test": 60}
    assert results["test_accuracy"] > 0.95 and results["test_chunk_f1"] > 0.9  # 0.95-1.0 over 4 seeds
    baseline = results["baseline"]
    assert baseline["name"].startswith("most frequent tag per word")
    assert baseline["test_chunk_f1"] < 0.9  # the ambiguous words cost it
    assert results["test_chunk_f1"] > baseline["test_chunk_f1"] + 0.05
    sample = results["samples"][0]
    assert set(sample) == {"text", "tokens", "tags", "chunks", "true"} and len(sample["tags"]) == len(
        sample["true"]
    )
    assert {p.name for p in chunk_run.run_dir.iterdir()} >= {
        "confusion_matrix.png",
        "learning_curves.png",
        "task.json",
    }
    model = load_model(chunk_run.run_dir / "model")
    assert model.config.crf and model.config.constraints == "IOB2" and "I-NP" in model.config.labels


def test_predict_uses_context_and_keeps_iob2_valid(chunk_run):
    texts = [
        "the big run sees a cat .",
        "the dog run the park .",
        "  ",
        "the cat walk this old walk in a park .",
    ]
    results = predict(chunk_run.run_dir, texts)
    assert [r["text"] for r in results] == texts
    assert results[0]["tags"] == ["B-NP", "I-NP", "I-NP", "B-VP", "B-NP", "I-NP", "O"]
    assert results[1]["tags"][2] == "B-VP"  # the same word, a verb here
    assert results[2] == {"text": "  ", "tokens": [], "tags": [], "chunks": []}
    assert results[3]["chunks"][:2] == [
        {"type": "NP", "start": 0, "end": 2, "text": "the cat"},
        {"type": "VP", "start": 2, "end": 3, "text": "walk"},
    ]
    labels = chunk_run.task.labels
    for result in results:  # the CRF's constraints: never an invalid IOB2 transition
        tagged = [TaggedSentence(result["tokens"], result["tags"])] if result["tokens"] else []
        assert transition_violations(labels, tagged, "IOB2") == []


def test_evaluate_and_the_cli_reproduce_the_run(chunk_run, capsys, tmp_path):
    saved = json.loads((chunk_run.run_dir / "results.json").read_text(encoding="utf-8"))
    again = evaluate(chunk_run.run_dir)
    assert again["test_chunk_f1"] == pytest.approx(saved["test_chunk_f1"])
    assert again["baseline"] == saved["baseline"]
    (tmp_path / "in.txt").write_text("the dog sees a cat .\n", encoding="utf-8")
    assert main(["predict", str(chunk_run.run_dir), "--input", str(tmp_path / "in.txt")]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["tokens"] == ["the", "dog", "sees", "a", "cat", "."] and len(line["tags"]) == 6


CONLLU_WORDS = {"NOUN": ["집", "학교", "책"], "VERB": ["간다", "읽는다"], "ADP": ["에", "을"]}


def write_conllu(path, count, seed):
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        # tags follow the position (NOUN ADP VERB PUNCT); "감" is a NOUN first and a VERB third
        words = [
            (rng.choice(CONLLU_WORDS["NOUN"] + ["감"]), "NOUN"),
            (rng.choice(CONLLU_WORDS["ADP"]), "ADP"),
        ]
        words += [(rng.choice(CONLLU_WORDS["VERB"] + ["감"]), "VERB"), (".", "PUNCT")]
        lines.append(f"# sent_id = {n}")
        lines += [f"{i}\t{w}\t{w}\t{tag}\tX{tag}\t_\t0\tdep\t_\t_" for i, (w, tag) in enumerate(words, 1)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_conllu_upos_with_a_softmax_head(tmp_path):
    write_conllu(tmp_path / "all.conllu", 160, seed=1)
    config = run_config(
        tmp_path / "run.yaml",
        data={"dataset": "conllu", "path": str(tmp_path / "all.conllu"), "split_punctuation": True},
        model={"embedding_dim": 8, "rnn": {"cell": "gru", "hidden_size": 8, "bidirectional": True}},
        train={**TINY_TRAIN, "epochs": 6},
    )  # fmt: skip
    result = fit(config, run_dir=tmp_path / "run", quiet=True)
    assert result.results["scheme"] is None and "test_chunk_f1" not in result.results
    assert result.results["sizes"] == {"train": 128, "val": 16, "test": 16}  # 80/10/10, seeded
    accuracy, baseline = result.results["test_accuracy"], result.results["baseline"]["test_accuracy"]
    assert accuracy >= 0.98 and accuracy > baseline  # 1.0 over 4 seeds; the baseline misses "감" (~0.96)
    (tagged,) = predict(tmp_path / "run", ["감 을 감."])  # "감" as NOUN, then as VERB; "." split off
    assert tagged["tokens"] == ["감", "을", "감", "."] and tagged["tags"] == ["NOUN", "ADP", "VERB", "PUNCT"]
    assert "chunks" not in tagged


def test_most_frequent_tag_baseline_is_the_per_word_argmax():
    base = MostFrequentTag.fit([["a", "b", "a", "c"], ["a", "c"]], [["X", "Y", "Z", "Y"], ["Z", "Z"]])
    assert base.table == {"a": "Z", "b": "Y", "c": "Y"}  # a: Z twice, X once; c: a Y-Z tie -> Y
    assert base.default == "Z" and base.tag(["c", "new"]) == ["Y", "Z"]
    with pytest.raises(ValueError, match="no tagged tokens"):
        MostFrequentTag.fit([], [])


def sentences(*tag_lists):
    return [TaggedSentence(tuple("w" * len(tags)), tags) for tags in tag_lists]


@pytest.mark.parametrize(
    ("labels", "tags", "expected"),
    [
        (["B-NP", "I-NP", "O"], [("B-NP", "I-NP", "O")], ("IOB2", "IOB2")),
        (["B-NP", "I-NP", "O"], [("I-NP", "B-NP", "O")], ("IOB2", "IOB1")),  # I- starts chunks: IOB1
        (["B-NP", "I-NP", "B-VP", "O"], [("O", "B-NP", "B-VP", "I-NP")], ("IOB2", None)),  # neither
        (["B-X", "I-X", "E-X", "S-X", "O"], [("B-X", "E-X", "S-X")], ("BIOES", "BIOES")),
        (["NOUN", "VERB", "X"], [("NOUN", "VERB")], (None, None)),
        (["-NONE-", "NN", "O"], [("NN",)], (None, None)),
        (["O"], [("O",)], (None, None)),
    ],
)
def test_detect_scheme(labels, tags, expected):
    assert detect_scheme(labels, sentences(*tags)) == expected


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab가.,!?( )\"'", max_size=30))
def test_split_words_loses_no_character(text):
    words = split_words(text, split_punctuation=True)
    assert "".join(words) == "".join(text.split()) and all(words)
    assert split_words(text) == text.split()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40), st.floats(0, 0.9), st.integers(0, 5))
def test_hold_out_is_a_seeded_ordered_partition(n, fraction, seed):
    data = [TaggedSentence((str(i),), ("X",)) for i in range(n)]
    rest, held = hold_out(data, fraction, seed)
    assert len(held) == round(n * fraction) and sorted(rest + held, key=lambda s: int(s.tokens[0])) == data
    assert rest == sorted(rest, key=lambda s: int(s.tokens[0])) and hold_out(data, fraction, seed) == (
        rest,
        held,
    )


def test_word_dropout_acts_in_training_only(tmp_path):
    paths = toy_files(tmp_path)
    raw = {"data": {"dataset": "conll", "path": str(paths["train"]), "word_dropout": 0.9},
           "model": {"embedding_dim": 8, "rnn": {"hidden_size": 8}}, "train": {"batch_size": 64, "device": "cpu"}}  # fmt: skip
    task = TaggingTask.from_run_config(load_run_config(run_config(tmp_path / "r.yaml", **raw)))
    task.prepare(tmp_path)
    torch.manual_seed(0)
    model = task.build_model()
    batch = next(iter(task.loaders()[0]))
    model.eval()
    assert task.compute_loss(model, batch) == task.compute_loss(model, batch)
    evaluated = task.compute_loss(model, batch)
    model.train()  # no dropout layers are on: only the word dropout changes the loss
    assert task.compute_loss(model, batch) != evaluated


def test_suffix_backoff_gives_unknown_words_their_ending(tmp_path):
    paths = toy_files(tmp_path)
    raw = {"data": {"dataset": "conll", "path": str(paths["train"]), "suffix_backoff": 2}}
    task = TaggingTask.from_run_config(load_run_config(run_config(tmp_path / "r.yaml", **raw)))
    task.prepare(tmp_path)
    ids = task.vocab.token_to_id
    assert task.encode(["flees", "qqq", "sees", "Dog"]) == [ids("<suf>es"), UNK, ids("sees"), ids("<suf>og")]
    unknown = task._unknown_ids(torch.device("cpu"))  # what word dropout feeds in for a known word
    assert unknown[ids("sees")] == ids("<suf>es") and unknown[ids("<suf>es")] == ids("<suf>es")
    assert unknown[:4].tolist() == [0, 1, 2, 3]


# Word classes told apart only by their spelling, in random order (no context helps), with stems that
# never repeat between the files: a word-only model sees only <unk> in the test file.
ENDINGS = {"N": "ox", "V": "ed", "A": "ly"}


def spelled_files(folder, seed=0):
    rng = random.Random(seed)
    letters = "bcdfghjkmnprstvwz"
    stems = sorted({"".join(rng.choice(letters) for _ in range(4)) for _ in range(2000)})
    rng.shuffle(stems)
    pools = {"train": stems[:300], "dev": stems[300:400], "test": stems[400:600]}
    paths = {}
    for name, count in (("train", 200), ("dev", 30), ("test", 60)):
        sentences = []
        for _ in range(count):
            tags = [rng.choice("NVA") for _ in range(rng.randint(3, 8))]
            words = [rng.choice(pools[name]) + ENDINGS[tag] for tag in tags]
            words = [w.capitalize() if i == 0 else w for i, w in enumerate(words)]
            sentences.append(list(zip(words, tags)))
        paths[name] = folder / f"{name}.txt"
        write_conll(paths[name], sentences)
    return paths


def spelled_run(folder, characters):
    folder.mkdir()
    paths = spelled_files(folder)
    data = {"dataset": "conll", "path": str(paths["train"]), "val_path": str(paths["dev"]),
            "test_path": str(paths["test"]), "columns": ["token", "class"], "characters": characters,
            "lowercase": True}  # fmt: skip
    model = {"embedding_dim": 8, "rnn": {"cell": "lstm", "hidden_size": 16, "bidirectional": True}}
    if characters:
        model.update(char_embedding_dim=8, char_filters=16)
    config = run_config(folder / "run.yaml", data=data, model=model, train={**TINY_TRAIN, "seed": 0})
    return fit(config, run_dir=folder / "run", quiet=True)


def test_character_features_tag_words_never_seen_in_training(tmp_path, capsys):
    plain = spelled_run(tmp_path / "plain", characters=False).results
    assert plain["unknown_word_rate"] > 0.95 and plain["test_accuracy"] < 0.6  # <unk> for every test word
    run = spelled_run(tmp_path / "chars", characters=True)
    assert run.results["test_accuracy"] > 0.95 and run.results["test_accuracy_unknown_words"] > 0.95
    assert run.task.chars is not None and "Q" not in run.task.chars and "x" in run.task.chars
    assert run.task.vocab.token_to_id("zzzzox") == UNK
    tagged = predict(run.run_dir, ["Qwrtly zzzzox mmmmed bbbbox"])[0]  # unseen words, an unseen letter
    assert tagged["tags"] == ["A", "N", "V", "N"]
    assert evaluate(run.run_dir)["test_accuracy"] == pytest.approx(run.results["test_accuracy"])
    out = tmp_path / "inspected"
    assert main(["inspect", str(run.run_dir), "--text", "zzzzox mmmmed", "--out", str(out)]) == 0
    assert "predicted tags: N V" in capsys.readouterr().out + (out / "index.html").read_text(encoding="utf-8")


def hinted_files(folder, seed=0):
    """The tag is told by a second column (a "hint", as POS tags hint at chunks), not by the random words."""
    rng = random.Random(seed)
    hints = {"N": ["NN", "NNS"], "V": ["VB", "VBD"], "A": ["RB"]}
    paths = {}
    for name, count in (("train", 200), ("dev", 30), ("test", 60)):
        sentences = []
        for _ in range(count):
            tags = [rng.choice("NVA") for _ in range(rng.randint(3, 8))]
            sentences.append([(rng.choice(["foo", "bar", "baz"]), rng.choice(hints[t]), t) for t in tags])
        paths[name] = folder / f"{name}.txt"
        write_conll(paths[name], sentences)
    return paths


def hinted_run(folder, feature_columns, **model):
    folder.mkdir()
    paths = hinted_files(folder)
    data = {"dataset": "conll", "path": str(paths["train"]), "val_path": str(paths["dev"]),
            "test_path": str(paths["test"]), "columns": ["token", "hint", "class"],
            "feature_columns": feature_columns}  # fmt: skip
    model = {"embedding_dim": 8, "rnn": {"cell": "lstm", "hidden_size": 16, "bidirectional": True}, **model}
    config = run_config(folder / "run.yaml", data=data, model=model, train={**TINY_TRAIN, "seed": 0})
    return fit(config, run_dir=folder / "run", quiet=True)


def test_feature_columns_feed_the_model_and_predict_reads_them(tmp_path, capsys):
    assert hinted_run(tmp_path / "plain", []).results["test_accuracy"] < 0.6  # the words say nothing
    run = hinted_run(tmp_path / "hinted", ["hint"], column_embedding_dim=4)
    assert run.results["test_accuracy"] > 0.95
    assert sorted(run.task.column_vocabs[0].tokens[4:]) == ["NN", "NNS", "RB", "VB", "VBD"]
    assert load_model(run.run_dir / "model").config.column_vocab_sizes == (9,)
    tagged = predict(run.run_dir, ["foo/NN bar/VBD 1/2/RB baz/XX"])[0]  # the last separator wins; XX unseen
    assert tagged["tokens"] == ["foo", "bar", "1/2", "baz"] and tagged["tags"][:3] == ["N", "V", "A"]
    with pytest.raises(ValueError, match=r"input 2: this model also reads \['hint'\]: write each word as "
                                         r"He/<hint>, got 'bar'"):  # fmt: skip
        predict(run.run_dir, ["foo/NN", "foo/NN bar"])
    assert evaluate(run.run_dir)["test_accuracy"] == pytest.approx(run.results["test_accuracy"])
    out = tmp_path / "inspected"
    assert main(["inspect", str(run.run_dir), "--text", "foo/VB bar/NN", "--out", str(out)]) == 0
    assert "predicted tags: V N" in capsys.readouterr().out + (out / "index.html").read_text(encoding="utf-8")


def test_feature_column_errors_name_the_key(tmp_path):
    paths = hinted_files(tmp_path)
    data = {"dataset": "conll", "path": str(paths["train"]), "columns": ["token", "hint", "class"]}
    bad = run_config(tmp_path / "bad.yaml", data={**data, "feature_columns": ["class"]})
    with pytest.raises(ConfigError, match=r"bad.yaml: data.feature_columns: 'class' is the tag column"):
        fit(bad, run_dir=tmp_path / "r1", quiet=True)
    bad = run_config(tmp_path / "bad.yaml", data={**data, "feature_columns": ["pos"]})
    with pytest.raises(
        ConfigError, match=r"'pos' is not a column of the data \(its other columns: \['hint'\]\)"
    ):
        fit(bad, run_dir=tmp_path / "r2", quiet=True)
    bad = run_config(tmp_path / "bad.yaml", data=data, model={"column_embedding_dim": 8})
    with pytest.raises(ConfigError, match=r"bad.yaml: model.column_embedding_dim: no data.feature_columns"):
        fit(bad, run_dir=tmp_path / "r3", quiet=True)
    bad = run_config(tmp_path / "bad.yaml", data={**data, "column_separator": " "})
    with pytest.raises(ConfigError, match=r"column_separator must be non-empty, without spaces"):
        fit(bad, run_dir=tmp_path / "r4", quiet=True)


def test_config_errors_name_the_file_and_the_key(tmp_path):
    paths = toy_files(tmp_path)
    data = {"dataset": "conll", "path": str(paths["train"])}
    bad = run_config(tmp_path / "bad.yaml", data={**data, "tag_colum": "chunk"})
    with pytest.raises(ConfigError, match=r"bad.yaml: data: unknown key 'tag_colum' in TaggingData"):
        fit(bad, run_dir=tmp_path / "r1", quiet=True)
    bad = run_config(tmp_path / "bad.yaml", data={**data, "tag_column": "ner"})
    with pytest.raises(ConfigError, match=r"bad.yaml: data: .*tag_column must name one of the columns"):
        fit(bad, run_dir=tmp_path / "r2", quiet=True)
    bad = run_config(tmp_path / "bad.yaml", data=data, model={"num_tags": 5})
    with pytest.raises(ConfigError, match=r"bad.yaml: model.num_tags: comes from the data"):
        fit(bad, run_dir=tmp_path / "r3", quiet=True)
    bad = run_config(tmp_path / "bad.yaml", data=data, model={"char_filters": 30})
    with pytest.raises(
        ConfigError, match=r"bad.yaml: model.char_filters: character features are off; set data"
    ):
        fit(bad, run_dir=tmp_path / "r3b", quiet=True)
    bad = run_config(tmp_path / "bad.yaml", data={**data, "tag_column": "pos", "scheme": "IOB2"})
    with pytest.raises(ConfigError, match=r"bad.yaml: data.scheme 'IOB2': the tags .* are not 'O'"):
        fit(bad, run_dir=tmp_path / "r4", quiet=True)
    write_conll(tmp_path / "iob1.txt", [[("a", "X", "I-NP"), ("b", "X", "O")]] * 20)  # 16 left for training
    bad = run_config(tmp_path / "bad.yaml", data={**data, "path": str(tmp_path / "iob1.txt"), "scheme": "IOB2"},
                     model={"crf": True})  # fmt: skip
    with pytest.raises(ConfigError, match=r"16 training transitions break it \(sentence 0: START -> I-NP\)"):
        fit(bad, run_dir=tmp_path / "r5", quiet=True)
    with pytest.raises(ConfigError, match=r"TaggingData: dataset='conllu' needs path="):
        fit(
            run_config(tmp_path / "bad.yaml", data={"dataset": "conllu"}), run_dir=tmp_path / "r6", quiet=True
        )
    (tmp_path / "kor.txt").write_text("Go.\t가.\n", encoding="utf-8")
    bad = run_config(
        tmp_path / "bad.yaml", data={"dataset": "tatoeba_eng_kor", "path": str(tmp_path / "kor.txt")}
    )
    with pytest.raises(
        ConfigError, match=r"bad.yaml: data: dataset 'tatoeba_eng_kor' has no tagged sentences"
    ):
        fit(bad, run_dir=tmp_path / "r7", quiet=True)


def test_the_example_configs_parse_and_are_tagging_runs():
    for name in ("conll2000", "ud_korean_pos"):
        config = load_run_config(CONFIGS / f"{name}.yaml")
        assert config.task == "tagging" and config.name == name
        assert isinstance(from_dict(TaggingData, config.data, name), TaggingData)


# ----- real data: the example configs, shrunk to seconds -------------------------------------------------
def shared(name):
    folder = SHARED / name
    if not folder.is_dir():
        pytest.skip(
            f"real dataset {name}: {folder} not found (set RNNKIT_SHARED_DATA to the folder of datasets)"
        )
    return folder


SHRINK = [
    "data.max_sentences=300",
    "model.embedding_dim=16",
    "model.rnn.hidden_size=16",
    "train.epochs=4",
    "train.batch_size=16",
    "train.lr=0.03",
    "train.warmup_ratio=0",
    "train.early_stopping_patience=null",
]  # 76 steps: seconds, not minutes; the full configs measure the real thing


def test_conll2000_example_config_shrunk(tmp_path, capsys):
    folder = shared("conll2000")
    run_dir = tmp_path / "conll2000"
    args = ["train", "conll2000", "--quiet", "-o", str(run_dir), f"--set=data.path={folder}"]
    assert main(args + [f"--set={o}" for o in SHRINK]) == 0
    assert "test_chunk_f1" in capsys.readouterr().out
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["scheme"] == "IOB2" and results["sizes"] == {"train": 300, "val": 300, "test": 300}
    assert results["test_accuracy"] > 0.65 and results["test_chunk_f1"] > 0.45  # 300 sentences, 76 steps
    assert 0.5 < results["baseline"]["test_chunk_f1"] < 0.8
    text = "He/PRP reckons/VBZ the/DT current/JJ account/NN deficit/NN will/MD narrow/VB ./."  # words/POS
    tagged = predict(run_dir, [text])[0]
    assert tagged["tokens"][:2] == ["He", "reckons"] and tagged["tokens"][-1] == "."
    assert len(tagged["tags"]) == 9 and all(t == "O" or t[:2] in ("B-", "I-") for t in tagged["tags"])
    words_only = tmp_path / "words-only"  # the config's comment: raw text in, without the POS column
    shrink = [f"--set={o}" for o in SHRINK]
    assert main([*args[:4], str(words_only), *args[5:], "--set=data.feature_columns=[]", *shrink]) == 0
    assert load_model(words_only / "model").config.column_vocab_sizes == ()
    assert len(predict(words_only, ["He reckons the current account deficit will narrow ."])[0]["tags"]) == 9


def test_ud_korean_example_config_shrunk(tmp_path):
    folder = shared("ud_korean_gsd")
    result = fit(CONFIGS / "ud_korean_pos.yaml", run_dir=tmp_path / "ud", quiet=True,
                 overrides=[f"data.path={folder}", *SHRINK])  # fmt: skip
    assert result.results["scheme"] is None and result.results["test_accuracy"] > 0.45  # 300 sentences
    assert "NOUN" in result.task.labels and len(result.task.labels) <= 17
    tagged = predict(tmp_path / "ud", ["잡스는 워즈니악에게 350달러만을 주었다."])[0]
    assert tagged["tokens"][-1] == "." and len(tagged["tags"]) == 5
