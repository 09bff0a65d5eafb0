"""Every model type is registered by importing rnnkit.models, so load_model works in a fresh process."""

import subprocess
import sys

from rnnkit.models import (
    MODELS,
    ClassifierConfig,
    Forecaster,
    ForecasterConfig,
    GeneratorConfig,
    Seq2Seq,
    Seq2SeqConfig,
    SequenceClassifier,
    SequenceGenerator,
    SequenceTagger,
    TaggerConfig,
    save_model,
)


def test_all_five_shapes_are_registered():
    assert {"classifier", "tagger", "forecaster", "generator", "seq2seq"} <= set(MODELS)


def test_load_model_in_a_fresh_process_knows_every_model(tmp_path):
    models = {
        "classifier": SequenceClassifier(ClassifierConfig(vocab_size=20, num_classes=3)),
        "tagger": SequenceTagger(TaggerConfig(vocab_size=20, num_tags=4)),
        "forecaster": Forecaster(ForecasterConfig(num_series=1, horizon=2, scaling="none")),
        "generator": SequenceGenerator(GeneratorConfig(vocab_size=20)),
        "seq2seq": Seq2Seq(Seq2SeqConfig(src_vocab_size=20, tgt_vocab_size=20)),
    }
    for name, model in models.items():
        save_model(model, tmp_path / name)
    script = (
        "import sys; from rnnkit.models import load_model\n"
        "for name in sys.argv[1:]:\n"
        "    print(name, type(load_model(name.split('=')[1])).__name__)\n"
    )
    args = [f"{name}={tmp_path / name}" for name in models]
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [
        w for name, m in models.items() for w in (f"{name}={tmp_path / name}", type(m).__name__)
    ]
