"""The default recipe: pure rules of the training data's statistics, explicit keys always win, every
choice written into run.yaml / recipe.json / the log, never re-chosen on resume, the test split unread."""

import json

import pytest
import yaml

from rnnkit.tasks.base import RunConfig, given_train_keys, load_run_config
from rnnkit.tasks.classification import recipe
from rnnkit.tasks.classification.recipe import Choice, TextStats, apply_choices, choose_recipe
from rnnkit.tasks.runner import fit
from rnnkit.training.callbacks import read_jsonl
from rnnkit.training.config import TrainConfig


def stats(**changes):
    base = dict(train_size=9000, classes=2, imbalance=1.0, mean_words=18.0, p90_words=35, mean_chars=90.0,
                script="latin", hangul_share=0.0, word_types=20000, singleton_share=0.45,
                p90_chars=180)  # fmt: skip
    return TextStats(**{**base, **changes})


def chosen(choices):
    return {c.key: c.value for c in choices}


def test_statistics_name_the_script_the_balance_and_the_vocabulary_growth():
    korean = TextStats.of(["정말 재미있는 영화", "지루했다"] * 10, ["pos", "neg"] * 10)
    assert (korean.script, korean.classes, korean.imbalance) == ("korean", 2, 1.0)
    english = TextStats.of(["a fine film", "a dull one", "dull"], ["p", "n", "n"])
    assert english.script == "latin" and english.imbalance == 2.0 and english.p90_words == 3
    assert english.p90_chars == len("a fine film")
    assert english.word_types == 5 and english.singleton_share == 0.6  # fine, film, one once; a, dull twice
    with pytest.raises(ValueError, match="no training texts"):
        TextStats.of([], [])


def test_korean_reads_syllables_and_english_uses_installed_vectors():
    ko = chosen(choose_recipe(stats(script="korean", hangul_share=0.9, singleton_share=0.7), "glove", None))
    assert ko["data.tokenizer"] == "syllable" and ko["data.characters"] is False
    assert "data.embeddings" not in ko  # English vectors are not for Korean
    en = chosen(choose_recipe(stats(), "glove", 50))
    assert en["data.embeddings"] == "glove" and en["model.embedding_dim"] == 50
    assert en["data.tokenizer"] == "word" and en["data.characters"] is False  # 45% singletons: words suffice
    assert chosen(choose_recipe(stats(singleton_share=0.7), None, None))["data.characters"] is True
    none = chosen(choose_recipe(stats(), None, None))
    assert "data.embeddings" not in none and none["model.embedding_dim"] == 128


def test_english_with_a_korean_part_reads_korean_syllables_and_english_words_with_vectors():
    mixed = chosen(choose_recipe(stats(hangul_share=0.25, p90_chars=60), "glove", 50))
    assert mixed["data.tokenizer"] == "syllable" and mixed["data.embeddings"] == "glove"
    assert mixed["data.max_length"] == 120  # counted in characters, an upper bound of syllable tokens
    english = chosen(choose_recipe(stats(hangul_share=0.05), "glove", 50))
    assert english["data.tokenizer"] == "word"  # a few Korean words in English text: words


def test_short_mixed_script_texts_read_characters():
    mixed = chosen(choose_recipe(stats(script="other", mean_words=2.5, p90_chars=40), None, None))
    assert mixed["data.tokenizer"] == "char" and mixed["data.characters"] is False
    assert mixed["data.max_length"] == 80  # counted in characters, not in words


def test_the_length_is_counted_in_the_tokens_of_the_tokenizer_the_config_gives():
    words = chosen(choose_recipe(stats(p90_words=20, p90_chars=120), None, None))
    chars = chosen(choose_recipe(stats(p90_words=20, p90_chars=120), None, None, tokenizer="char"))
    assert words["data.max_length"] == 40 and chars["data.max_length"] == 240


def test_the_model_and_the_schedule_grow_with_the_data():
    small, large = (
        chosen(choose_recipe(stats(train_size=2000), None, None)),
        chosen(choose_recipe(stats(train_size=60000, word_types=90000), None, None)),
    )
    assert small["model.rnn.hidden_size"] < large["model.rnn.hidden_size"]
    assert small["model.dropout"] > large["model.dropout"]
    assert small["train.epochs"] > large["train.epochs"]  # about the same number of steps
    assert small["train.batch_size"] <= large["train.batch_size"]
    assert 5 <= large["train.epochs"] and small["train.epochs"] <= 30
    assert recipe.length_choice(stats(p90_words=300)).value == 400  # capped


def test_explicit_keys_win_and_a_leaf_protects_what_is_under_it():
    choices = [Choice("model.rnn.hidden_size", 64, "-"), Choice("model.conv.channels", 8, "-"),
               Choice("train.lr", 0.002, "-"), Choice("data.tokenizer", "word", "-")]  # fmt: skip
    given = recipe.given_keys(
        {"model": {"rnn": {"cell": "gru"}, "conv": None}, "data": {"tokenizer": "char"}}
    )
    out, applied = apply_choices({"data": {"tokenizer": "char"}, "model": {"conv": None}, "train": {}},
                                 choices, given | {"train.lr"})  # fmt: skip
    assert [c.key for c in applied] == ["model.rnn.hidden_size"]
    assert out["model"] == {"conv": None, "rnn": {"hidden_size": 64}} and out["data"] == {"tokenizer": "char"}


def test_train_keys_given_at_their_default_value_still_count_as_given(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"task": "classification", "data": {}, "train": {"lr": 0.001}}))
    config = load_run_config(path, ["train.epochs=10"])  # both at TrainConfig's defaults
    assert given_train_keys(config) == {"lr", "epochs"} and config.recipe == "default"
    in_code = RunConfig("classification", train=TrainConfig(lr=0.5))
    assert given_train_keys(in_code) == {"lr"}
    with_model = load_run_config(path, ["model.pooling=max"])
    assert with_model.recipe == "default"  # decided before --set: a --set model key keeps the recipe
    path.write_text(yaml.safe_dump({"task": "classification", "data": {}, "model": {"pooling": "max"}}))
    assert load_run_config(path).recipe == "auto"  # an example config with a model section: no recipe


def reviews(path, n, start=0):
    words = ["great", "awful", "fine", "dull", "superb", "boring"]
    rows = [
        f"{words[i % 6]} film {i} ok,{'pos' if i % 6 in (0, 2, 4) else 'neg'}"
        for i in range(start, start + n)
    ]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def only_task_and_data(tmp_path):
    config = tmp_path / "mine.yaml"
    data = {"train": reviews(tmp_path / "train.csv", 80), "validation": reviews(tmp_path / "val.csv", 12, 80),
            "test": reviews(tmp_path / "test.csv", 12, 92), "embeddings": None}  # fmt: skip
    config.write_text(yaml.safe_dump({"task": "classification", "data": data}), encoding="utf-8")
    return config


def test_a_run_of_only_task_and_data_writes_every_choice_and_keeps_the_given_keys(
    only_task_and_data, tmp_path, capsys
):
    run = tmp_path / "run"
    overrides = ["train.epochs=1", "model.rnn.cell=gru", "train.seed=0"]
    result = fit(only_task_and_data, run_dir=run, overrides=overrides, quiet=True)
    printed = capsys.readouterr().out
    assert "default recipe:" in printed and "model.rnn.hidden_size=64: 80 training texts" in printed
    saved = yaml.safe_load((run / "run.yaml").read_text())
    assert saved["model"]["rnn"] == {"cell": "gru", "hidden_size": 64, "bidirectional": True}  # gru kept
    assert saved["train"]["epochs"] == 1 and saved["train"]["monitor"] == "val_accuracy"
    assert saved["data"]["embeddings"] is None  # given (None): no vectors chosen
    choices = json.loads((run / "recipe.json").read_text())
    assert choices[0]["key"] == "recipe.stats" and choices[0]["value"]["train_size"] == 80
    assert all(c["reason"] for c in choices) and "model.rnn.cell" not in {c["key"] for c in choices}
    logged = [r for r in read_jsonl(run / "metrics.jsonl") if r["event"] == "recipe"]
    assert len(logged) == 1 and logged[0]["choices"] == choices
    assert result.task.model_config().rnn.cell == "gru" and result.task.model_config().pooling == "max"

    resumed = fit(None, run_dir=run, resume_run=True, overrides=["train.epochs=2"], quiet=True)
    assert "default recipe:" not in capsys.readouterr().out  # run.yaml holds the choices: none re-chosen
    assert resumed.results["train"]["steps"] > result.results["train"]["steps"]


def test_the_recipe_measures_the_training_split_only(only_task_and_data, tmp_path, monkeypatch):
    seen = []
    real = TextStats.of.__func__

    def spy(cls, texts, labels):
        seen.extend(texts)
        return real(cls, texts, labels)

    monkeypatch.setattr(TextStats, "of", classmethod(spy))
    config = load_run_config(only_task_and_data, ["train.epochs=1"])
    chosen_config, _ = recipe.default_recipe(config)
    test_texts = (tmp_path / "test.csv").read_text().splitlines()[1:]
    assert len(seen) == 80 and not {t.rsplit(",", 1)[0] for t in test_texts} & set(seen)
    assert chosen_config.model["pooling"] == "max"


def test_a_given_character_tokenizer_gets_a_length_in_characters(only_task_and_data):
    config = load_run_config(only_task_and_data, ["data.tokenizer=char"])
    chosen_config, applied = recipe.default_recipe(config)
    longest = max(len(f"{w} film {i} ok") for w in ("superb", "boring") for i in range(80))
    assert chosen_config.data["tokenizer"] == "char" and "data.tokenizer" not in {c.key for c in applied}
    assert chosen_config.data["max_length"] == max(32, 2 * longest)  # words would give 32
