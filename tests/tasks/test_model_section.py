"""One spelling of the model section: presets expand into it, it is checked before any data is read,
``--print-config`` shows it resolved, and ``--set model.rnn.cell=gru`` works for every shipped config."""

import os
from importlib import resources
from pathlib import Path

import pytest
import yaml

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.data.download import UnpinnedFile
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks import fit, load_run_config
from rnnkit.tasks.base import RunConfig, check_run_config, resolved_run_config, task_class

CONFIGS = sorted(Path(str(resources.files("rnnkit") / "configs")).glob("*.yaml"))
SHARED = Path(
    os.environ.get("RNNKIT_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
FOLDERS = {"daily_min_temperatures": "daily_min_temperatures", "japanese_vowels": "ucr_uea_classification"}
SMALL_RNN = ["model.rnn.cell=gru", "model.rnn.hidden_size=8"]
OVERRIDES = {  # a few overrides per task: another cell, small sizes
    "classification": [*SMALL_RNN, "model.embedding_dim=8"],
    "tagging": [*SMALL_RNN, "model.embedding_dim=8"],
    "series_classification": SMALL_RNN,
    "forecasting": SMALL_RNN,
    "language_model": [*SMALL_RNN, "model.embedding_dim=8", "data.eval_max_tokens=300"],
    "translation": [
        "model.encoder.cell=gru",
        "model.decoder.cell=lstm",
        "model.encoder.hidden_size=8",
        "model.decoder.hidden_size=8",
        "model.embedding_dim=8",
        "data.max_output_length=4",
        "data.eval_pairs=2",
    ],
}
ONE_STEP = ["train.max_steps=1", "train.epochs=1", "train.early_stopping_patience=null"]


def overrides_for(task: str) -> list[str]:
    return OVERRIDES.get(task, SMALL_RNN)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_takes_model_overrides(path):
    config = load_run_config(path, overrides_for(yaml.safe_load(path.read_text(encoding="utf-8"))["task"]))
    cls = task_class(config.task)
    data = cls.from_run_config(config, str(path)).data
    model_config = cls.check_model_section(config.model, data, "model")
    rnn = getattr(model_config, "rnn", None) or model_config.encoder
    assert rnn.cell == "gru" and rnn.hidden_size == 8
    resolved = resolved_run_config(config, str(path))
    assert check_run_config(RunConfig(**{**resolved, "train": config.train})) is not None  # round trip


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_trains_one_step_with_overrides(path, tmp_path, capsys):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    dataset = raw["data"].get("dataset")
    extra = []
    folder = SHARED / FOLDERS.get(dataset, dataset or "")
    if dataset and folder.is_dir():
        extra = [f"data.path={folder}"]
    args = ["train", path.stem, "--quiet", "-o", str(tmp_path / "run")]
    for override in [*overrides_for(raw["task"]), *ONE_STEP, *extra]:
        args += ["--set", override]
    os.environ["RNNKIT_OFFLINE"] = "1"
    try:
        status = main(args)
    except (FileNotFoundError, ConnectionError, OSError, UnpinnedFile) as error:  # not here, not downloadable
        if extra:
            raise
        pytest.skip(f"{path.stem}: its data is not here ({error}); set RNNKIT_SHARED_DATA")
    finally:
        del os.environ["RNNKIT_OFFLINE"]
    assert status == 0
    saved = yaml.safe_load((tmp_path / "run" / "run.yaml").read_text(encoding="utf-8"))
    section = saved["model"].get("rnn") or saved["model"]["encoder"]
    assert section["cell"] == "gru"
    assert "trained 1 steps" in capsys.readouterr().out


def test_a_preset_is_a_set_of_defaults_in_the_same_spelling():
    cls = task_class("classification")
    expanded = cls.expand_model_section({"preset": "conv_lstm", "rnn": {"cell": "gru"}, "pooling": "max"})
    assert expanded["rnn"] == {"cell": "gru", "hidden_size": 70, "bidirectional": False}
    assert expanded["conv"] == {"channels": 64, "kernel_sizes": [5], "pool_size": 4}
    old = ClassifierConfig.conv_lstm(
        100, 3, channels=32, kernel_sizes=(3,), hidden_size=16, bidirectional=True
    )
    legacy = {
        "preset": "conv_lstm",
        "channels": 32,
        "kernel_sizes": [3],
        "hidden_size": 16,
        "bidirectional": True,
    }
    data = cls.data_config()
    new = cls.check_model_section(legacy, data)  # the older flat spelling of run folders still reads
    assert (new.conv, new.rnn, new.embedding_dim, new.embedding_dropout) == (
        old.conv, old.rnn, old.embedding_dim, old.embedding_dropout)  # fmt: skip
    with pytest.raises(ConfigError, match=r"model.preset: unknown preset 'conv_gru' \(known: conv_lstm\)"):
        cls.expand_model_section({"preset": "conv_gru"})
    with pytest.raises(ConfigError, match=r"model.vocab_size: comes from the data; remove it"):
        cls.expand_model_section({"vocab_size": 10})


def test_the_model_section_is_checked_before_any_data_is_read(tmp_path, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("the data were read before the model section was checked")

    monkeypatch.setattr("rnnkit.data.chatterbot.load_chatterbot", no_reading)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"task": "classification", "model": {"rnn": {"hiden_size": 8}}}))
    with pytest.raises(ConfigError, match=r"run.yaml: model: ClassifierConfig.rnn: unknown key 'hiden_size'"):
        load_run_config(config)
    with pytest.raises(ConfigError, match=r"run.yaml: model: .*RNNConfig.cell: expected one of"):
        fit(config, run_dir=tmp_path / "run", overrides=["model.rnn={cell: gur}"], quiet=True)
    with pytest.raises(ConfigError, match=r"model.char_filters: character features are off"):
        load_run_config(config, ["model.rnn={}", "model.char_filters=8"])
    assert not (tmp_path / "run").exists()


def test_print_config_shows_the_resolved_config_which_trains_as_it_is(capsys, tmp_path):
    assert main(["train", "--print-config", "--set", "model.rnn.cell=gru"]) == 0
    text = capsys.readouterr().out
    resolved = yaml.safe_load(text)
    assert resolved["model"]["rnn"]["cell"] == "gru" and resolved["model"]["rnn"]["hidden_size"] == 64
    assert resolved["model"]["conv"]["kernel_sizes"] == [3, 5] and "vocab_size" not in resolved["model"]
    assert resolved["data"]["tokenizer"] == "char" and resolved["train"]["lr"] == 0.003
    again = tmp_path / "resolved.yaml"
    again.write_text(text, encoding="utf-8")
    assert main(["train", str(again), "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == resolved
