"""SequenceClassifier: it learns, padding never matters, and it saves, loads and validates."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from rnnkit.blocks.conv_frontend import ConvConfig
from rnnkit.config import ConfigError, load_config, save_config
from rnnkit.layers.factory import RNNConfig
from rnnkit.losses import masked_cross_entropy
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.io import MODELS, load_model, save_model

POOLINGS = ["last", "mean", "max", "attention"]
CONV = ConvConfig(channels=6, kernel_sizes=(2, 3), pool_size=3)
VARIANTS = [
    RNNConfig(cell="gru", hidden_size=8, reset_after=False),
    RNNConfig(cell="lstm", hidden_size=8, layer_norm=True, bidirectional=True),
    RNNConfig(cell="lstm", hidden_size=8, proj_size=5, num_layers=2, bidirectional=True),
    RNNConfig(cell="mingru", hidden_size=8),
    RNNConfig(cell="indrnn", hidden_size=8, bidirectional=True),
    RNNConfig(cell="rnn", hidden_size=8, nonlinearity="relu", num_layers=2),
    RNNConfig(cell="minlstm", hidden_size=8, bidirectional=True),
]


def token_config(**overrides) -> ClassifierConfig:
    base = ClassifierConfig(
        vocab_size=11, num_classes=3, embedding_dim=6, rnn=RNNConfig(cell="gru", hidden_size=8)
    )
    return replace(base, **overrides)


def padded_tokens(lengths: list[int], vocab: int = 11, extra: int = 2, seed: int = 0) -> torch.Tensor:
    """Random ids everywhere, padding included: a padded position must not matter whatever it holds."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (len(lengths), max(lengths) + extra), generator=generator)


def assert_padding_invariant(model: SequenceClassifier, inputs: torch.Tensor, lengths: torch.Tensor) -> None:
    model.eval()
    batch = model(inputs, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = model(inputs[b : b + 1, :n])
        torch.testing.assert_close(batch[b : b + 1], alone, rtol=1e-5, atol=1e-5)


# ----- learning -------------------------------------------------------------------------------------
def first_equals_last(n: int, generator: torch.Generator, symbols: int = 4, low: int = 3, high: int = 12):
    """Token sequences (ids 1..symbols, 0 padding) of lengths in [low, high]; label 1 iff the first token
    equals the last valid one. Balanced; to answer, the model must carry the first token to the end."""
    lengths = torch.randint(low, high + 1, (n,), generator=generator)
    tokens = torch.randint(1, symbols + 1, (n, high), generator=generator)
    labels = torch.randint(0, 2, (n,), generator=generator)
    first = tokens[:, 0]
    other = (first - 1 + torch.randint(1, symbols, (n,), generator=generator)) % symbols + 1  # != first
    tokens[torch.arange(n), lengths - 1] = torch.where(labels == 1, first, other)
    tokens[torch.arange(high) >= lengths[:, None]] = 0
    return tokens, lengths, labels


def contains_motif(n: int, generator: torch.Generator, low: int = 8, high: int = 32):
    """Label 1 iff the motif 1 2 3 occurs somewhere (token 3 appears nowhere else)."""
    lengths = torch.randint(low, high + 1, (n,), generator=generator)
    tokens = torch.randint(1, 6, (n, high), generator=generator)
    tokens[tokens == 3] = 4
    labels = torch.randint(0, 2, (n,), generator=generator)
    starts = (torch.rand(n, generator=generator) * (lengths - 2)).long()
    for i in torch.nonzero(labels).flatten().tolist():
        tokens[i, starts[i] : starts[i] + 3] = torch.tensor([1, 2, 3])
    tokens[torch.arange(high) >= lengths[:, None]] = 0
    return tokens, lengths, labels


def noisy_waves(n: int, generator: torch.Generator, low: int = 10, high: int = 40):
    """Feature sequences (B, T, 2): a noisy sine of random phase, slow (label 0) or fast (label 1), beside a
    noise channel, zero-padded."""
    lengths = torch.randint(low, high + 1, (n,), generator=generator)
    labels = torch.randint(0, 2, (n,), generator=generator)
    frequency = torch.where(labels == 1, 0.9, 0.3) * (1 + 0.2 * torch.rand(n, generator=generator))
    phase = 2 * math.pi * torch.rand(n, generator=generator)
    wave = torch.sin(frequency[:, None] * torch.arange(high) + phase[:, None])
    noise = torch.randn(n, high, 2, generator=generator)
    x = torch.stack([wave, 0.3 * noise[..., 1]], -1) + 0.2 * noise
    x[torch.arange(high) >= lengths[:, None]] = 0
    return x, lengths, labels


def train_and_score(config: ClassifierConfig, task, steps: int, seed: int = 0) -> float:
    """Adam on 2000 training sequences, accuracy on 500 held-out ones (one thread: a small model)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        x, lengths, labels = task(2000, generator)
        x_test, lengths_test, labels_test = task(500, generator)
        model = SequenceClassifier(config)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        for _ in range(steps):
            batch = torch.randint(0, len(x), (64,), generator=generator)
            loss = masked_cross_entropy(model(x[batch], lengths[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return (model.predict(x_test, lengths_test) == labels_test).float().mean().item()
    finally:
        torch.set_num_threads(threads)


def test_learns_whether_the_first_token_equals_the_last():
    config = ClassifierConfig(vocab_size=5, embedding_dim=16, rnn=RNNConfig(cell="gru", hidden_size=32))
    assert train_and_score(config, first_equals_last, steps=250) >= 0.9


def test_conv_lstm_preset_learns_to_spot_a_motif():
    config = ClassifierConfig.conv_lstm(
        6, embedding_dim=16, channels=16, kernel_sizes=(3,), hidden_size=32, embedding_dropout=0.0
    )
    assert train_and_score(config, contains_motif, steps=100) >= 0.9


def test_learns_from_feature_sequences():
    config = ClassifierConfig(input_size=2, rnn=RNNConfig(cell="gru", hidden_size=16), pooling="mean")
    assert train_and_score(config, noisy_waves, steps=100) >= 0.9


# ----- padding ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("conv", [None, CONV], ids=["rnn", "conv"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_invariance_tokens(pooling, conv):
    torch.manual_seed(0)
    rnn = RNNConfig(cell="lstm", hidden_size=8, bidirectional=True)
    model = SequenceClassifier(token_config(pooling=pooling, conv=conv, rnn=rnn))
    lengths = torch.tensor([9, 1, 4, 7, 2])
    assert_padding_invariant(model, padded_tokens(lengths.tolist()), lengths)


@pytest.mark.parametrize("conv", [None, CONV], ids=["rnn", "conv"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_invariance_features(pooling, conv):
    torch.manual_seed(0)
    model = SequenceClassifier(
        ClassifierConfig(input_size=3, pooling=pooling, conv=conv, rnn=RNNConfig(hidden_size=8))
    )
    lengths = torch.tensor([6, 1, 3, 8])
    features = torch.randn(4, 10, 3)
    features[torch.arange(10) >= lengths[:, None]] = 100.0
    assert_padding_invariant(model, features, lengths)


@pytest.mark.parametrize("rnn", VARIANTS, ids=lambda c: f"{c.cell}{'-bi' if c.bidirectional else ''}")
def test_rnn_variants_padding_invariance_and_gradients(rnn):
    torch.manual_seed(0)
    model = SequenceClassifier(token_config(rnn=rnn, pooling="attention", conv=CONV))
    lengths = torch.tensor([8, 3, 1])
    tokens = padded_tokens(lengths.tolist())
    model.train()
    masked_cross_entropy(model(tokens, lengths), torch.tensor([0, 1, 2])).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert_padding_invariant(model, tokens, lengths)


def test_last_pooling_reads_the_final_states():
    torch.manual_seed(0)
    model = SequenceClassifier(
        token_config(rnn=RNNConfig(cell="gru", hidden_size=5, num_layers=2, bidirectional=True))
    )
    model.eval()
    lengths = torch.tensor([6, 2])
    tokens = padded_tokens(lengths.tolist())
    pooled, weights = model.encode(tokens, lengths)
    _, h_n = model.rnn(model.embedding(tokens), lengths=lengths)
    torch.testing.assert_close(pooled, torch.cat([h_n[-2], h_n[-1]], -1))
    assert weights is None


# ----- the preset ------------------------------------------------------------------------------------
def test_conv_lstm_preset_is_the_keras_architecture():
    config = ClassifierConfig.conv_lstm(20000)
    assert (config.vocab_size, config.embedding_dim, config.embedding_dropout) == (20000, 128, 0.25)
    assert config.conv == ConvConfig(channels=64, kernel_sizes=(5,), pool_size=4, activation="relu")
    assert (config.rnn.cell, config.rnn.hidden_size, config.rnn.bidirectional) == ("lstm", 70, False)
    assert (config.pooling, config.num_classes) == ("last", 2)
    model = SequenceClassifier(config)
    assert [name for name, _ in model.named_children()] == ["embedding", "conv", "rnn", "dropout", "head"]
    assert model.head.in_features == 70


def test_conv_lstm_preset_overrides_and_shortened_lengths():
    config = ClassifierConfig.conv_lstm(50, 4, embedding_dim=8, channels=4, hidden_size=6, bidirectional=True,
                                        pooling="attention", dropout=0.5)  # fmt: skip
    assert config.rnn.bidirectional and config.pooling == "attention" and config.dropout == 0.5
    model = SequenceClassifier(config).eval()
    logits = model(torch.randint(1, 50, (2, 100)), torch.tensor([100, 9]))
    _, weights = model.encode(torch.randint(1, 50, (2, 100)), torch.tensor([100, 9]))
    assert logits.shape == (2, 4) and weights.shape == (2, 25)  # ceil(100 / 4) steps reach the LSTM
    assert (weights[1, 3:] == 0).all() and weights[1, :3].sum().item() == pytest.approx(
        1.0
    )  # ceil(9 / 4) = 3


# ----- predictions ------------------------------------------------------------------------------------
def test_predict_proba_and_predict():
    torch.manual_seed(0)
    model = SequenceClassifier(token_config(dropout=0.5, embedding_dropout=0.5))
    model.train()
    tokens, lengths = padded_tokens([5, 3]), torch.tensor([5, 3])
    probabilities = model.predict_proba(tokens, lengths)
    assert model.training  # mode restored
    assert not probabilities.requires_grad
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(2))
    torch.testing.assert_close(model.predict_proba(tokens, lengths), probabilities)  # no dropout
    assert model.predict(tokens, lengths).tolist() == probabilities.argmax(-1).tolist()
    model.eval()
    torch.testing.assert_close(model(tokens, lengths).softmax(-1), probabilities)


def test_no_lengths_means_full_sequences():
    torch.manual_seed(0)
    model = SequenceClassifier(token_config(conv=CONV)).eval()
    tokens = padded_tokens([7, 7], extra=0)
    torch.testing.assert_close(model(tokens), model(tokens, torch.tensor([7, 7])))


# ----- pretrained embeddings -----------------------------------------------------------------------------
def test_load_word_vectors_into_a_frozen_embedding(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("사과 1 2 3 4 5 6\n바나나 -1 -2 -3 -4 -5 -6\n", encoding="utf-8")
    vocab = ["<pad>", "<unk>", "사과", "바나나", *[f"w{i}" for i in range(7)]]
    model = SequenceClassifier(token_config(freeze_embedding=True))
    found = model.load_word_vectors(path, vocab, generator=torch.Generator().manual_seed(0))
    assert found == 2
    assert model.embedding.weight[2].tolist() == [1, 2, 3, 4, 5, 6] and model.embedding.frozen
    assert model.embedding.weight[0].abs().sum() == 0
    before = model.embedding.weight.clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    masked_cross_entropy(model(torch.tensor([[2, 3, 1]])), torch.tensor([1])).backward()
    optimizer.step()
    torch.testing.assert_close(model.embedding.weight, before, rtol=0, atol=0)


def test_load_word_vectors_errors(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("a 1 2 3 4 5 6\n", encoding="utf-8")
    with pytest.raises(ValueError, match="vocab has 3 entries, the model's vocab_size is 11"):
        SequenceClassifier(token_config()).load_word_vectors(path, ["<pad>", "a", "b"])
    with pytest.raises(ValueError, match="dimension mismatch"):
        SequenceClassifier(token_config(embedding_dim=4)).load_word_vectors(path, ["<pad>", "a"])
    with pytest.raises(ValueError, match="takes feature input"):
        SequenceClassifier(ClassifierConfig(input_size=3)).load_word_vectors(path, ["a"])


# ----- saving and loading ------------------------------------------------------------------------------
def saved_model(tmp_path):
    torch.manual_seed(0)
    rnn = RNNConfig(cell="lstm", hidden_size=8, bidirectional=True, layer_norm=True)
    model = SequenceClassifier(token_config(conv=CONV, rnn=rnn, pooling="attention", freeze_embedding=True))
    return model.eval(), save_model(model, tmp_path / "model")


def test_save_load_round_trip(tmp_path):
    model, directory = saved_model(tmp_path)
    assert MODELS["classifier"] is SequenceClassifier
    loaded = load_model(directory)
    assert isinstance(loaded, SequenceClassifier) and loaded.config == model.config
    assert loaded.embedding.frozen
    lengths = torch.tensor([9, 2, 5])
    tokens = padded_tokens(lengths.tolist())
    torch.testing.assert_close(loaded.eval()(tokens, lengths), model(tokens, lengths), rtol=0, atol=0)


@pytest.mark.parametrize("change", ["missing", "unexpected"])
def test_load_rejects_mismatched_weights(tmp_path, change):
    model, directory = saved_model(tmp_path)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    name = "head.bias" if change == "missing" else "head.extra"
    if change == "missing":
        del tensors[name]
    else:
        tensors[name] = torch.zeros(3)
    save_file(tensors, str(directory / "model.safetensors"))
    with pytest.raises(ValueError, match=f"{change} tensors \\['{name}'\\]"):
        load_model(directory)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize(
    "config",
    [
        token_config(conv=CONV, pooling="attention", attention_size=4, padding_idx=None),
        ClassifierConfig.conv_lstm(100, 5, bidirectional=True),
        ClassifierConfig(input_size=7, rnn=RNNConfig(cell="lstm", zoneout=(0.1, 0.2)), pooling="max"),
    ],
    ids=["tokens", "preset", "features"],
)
def test_config_round_trip(tmp_path, config, suffix):
    path = tmp_path / f"classifier{suffix}"
    save_config(config, path)
    assert load_config(ClassifierConfig, path) == config


@pytest.mark.parametrize(
    "data, key",
    [
        ({"vocab_size": 10, "pooling_mode": "max"}, "'pooling_mode' in ClassifierConfig"),
        ({"vocab_size": 10, "conv": {"channels": 4, "kernel": 3}}, "'kernel' in ConvConfig"),
        ({"vocab_size": 10, "rnn": {"hiden_size": 4}}, "'hiden_size' in RNNConfig"),
    ],
)
def test_unknown_config_keys_name_file_and_key(tmp_path, data, key):
    path = tmp_path / "classifier.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: (ClassifierConfig\.\w+: )?unknown key {key}"):
        load_config(ClassifierConfig, path)


# ----- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one of vocab_size .* got vocab_size=None and input_size=None"),
        ({"vocab_size": 5, "input_size": 3}, "exactly one of vocab_size"),
        ({"vocab_size": 0}, "ClassifierConfig.vocab_size must be an int >= 1, got 0"),
        ({"vocab_size": 5, "num_classes": 1}, "ClassifierConfig.num_classes must be an int >= 2, got 1"),
        ({"vocab_size": 5, "padding_idx": 5}, "ClassifierConfig.padding_idx must be < vocab_size=5, got 5"),
        ({"vocab_size": 5, "embedding_dim": 0}, "ClassifierConfig.embedding_dim must be an int >= 1"),
        (
            {"input_size": 3, "freeze_embedding": True},
            "ClassifierConfig.freeze_embedding applies to token input",
        ),
        ({"input_size": 3, "embedding_dim": 64}, "ClassifierConfig.embedding_dim applies to token input"),
        ({"vocab_size": 5, "dropout": 1.0}, r"ClassifierConfig.dropout must be in \[0, 1\), got 1.0"),
        ({"vocab_size": 5, "embedding_dropout": -0.1}, "ClassifierConfig.embedding_dropout must be in"),
        ({"vocab_size": 5, "pooling": "sum"}, "ClassifierConfig.pooling must be one of"),
        ({"vocab_size": 5, "attention_size": 4}, "attention_size applies to pooling='attention' only"),
        (
            {"vocab_size": 5, "conv": {"channels": 4}},
            "ClassifierConfig.conv must be a ConvConfig or None, got dict",
        ),
        ({"vocab_size": 5, "rnn": {"cell": "gru"}}, "ClassifierConfig.rnn must be an RNNConfig, got dict"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassifierConfig(**kwargs)


@pytest.mark.parametrize(
    "config, call, error, match",
    [
        (token_config(), lambda m: m(torch.randn(2, 5)), TypeError,
         r"expected token ids \(B, T\), an integer tensor \(vocab_size is set\), got dtype torch.float32"),
        (token_config(), lambda m: m(torch.ones(2, 5, 1, dtype=torch.long)), ValueError,
         r"expected token ids \(B, T\), an integer tensor, got shape \(2, 5, 1\)"),
        (token_config(), lambda m: m(torch.tensor([[1, 11]])), ValueError, r"token ids must be in \[0, 11\), got 11"),
        (token_config(), lambda m: m([[1, 2]]), TypeError, "inputs must be a Tensor, got list"),
        (token_config(), lambda m: m(torch.ones(2, 0, dtype=torch.long)), ValueError, "at least one step"),
        (token_config(), lambda m: m(torch.ones(2, 4, dtype=torch.long), torch.tensor([4, 5])), ValueError,
         "lengths must be <= the number of steps 4, got a length of 5"),
        (token_config(), lambda m: m(torch.ones(2, 4, dtype=torch.long), torch.tensor([0, 4])), ValueError,
         "lengths must be >= 1"),
        (token_config(), lambda m: m(torch.ones(2, 4, dtype=torch.long), torch.tensor([4])), ValueError,
         r"lengths must have shape \(2,\)"),
        (ClassifierConfig(input_size=3), lambda m: m(torch.randn(2, 5, 4)), ValueError,
         r"expected features \(B, T, 3\), got shape \(2, 5, 4\)"),
        (ClassifierConfig(input_size=3), lambda m: m(torch.randn(2, 5)), ValueError,
         r"expected features \(B, T, 3\), got shape \(2, 5\)"),
        (ClassifierConfig(input_size=3), lambda m: m(torch.ones(2, 5, 3, dtype=torch.long)), TypeError,
         r"expected features \(B, T, 3\) \(input_size is set\), got dtype torch.int64"),
    ],
)  # fmt: skip
def test_forward_errors(config, call, error, match):
    with pytest.raises(error, match=match):
        call(SequenceClassifier(config))


def test_conv_lstm_preset_rejects_unknown_overrides():
    with pytest.raises(TypeError, match="unknown field 'hidden' in the overrides"):
        ClassifierConfig.conv_lstm(10, hidden=4)


def test_wrong_config_type():
    with pytest.raises(TypeError, match="expected a ClassifierConfig, got RNNConfig"):
        SequenceClassifier(RNNConfig())


# ----- character features -------------------------------------------------------------------------------
@pytest.mark.parametrize("conv", [None, CONV], ids=["rnn", "conv"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_character_features_padding_invariance(pooling, conv):
    """More words and longer words of padding (id 0), and any word ids past the end, change nothing."""
    torch.manual_seed(0)
    model = SequenceClassifier(
        token_config(pooling=pooling, conv=conv, char_vocab_size=9, char_filters=5)
    ).eval()
    lengths = torch.tensor([4, 1, 6])
    inputs = padded_tokens(lengths.tolist())
    generator = torch.Generator().manual_seed(1)
    chars = torch.randint(1, 9, (3, inputs.size(1), 4), generator=generator)
    chars[..., 3] = 0  # words of 3 characters, one padding column
    batch = model(inputs, lengths, chars)
    for b, n in enumerate(lengths.tolist()):
        alone = model(inputs[b : b + 1, :n], None, chars[b : b + 1, :n, :3])
        torch.testing.assert_close(batch[b : b + 1], alone, rtol=1e-5, atol=1e-5)


def test_character_features_join_the_embedding_and_get_gradients(tmp_path):
    torch.manual_seed(0)
    model = SequenceClassifier(token_config(char_vocab_size=9, char_filters=5, pooling="max")).eval()
    inputs, chars = torch.tensor([[3, 4]]), torch.tensor([[[1, 2, 0], [5, 6, 7]]])
    x = torch.cat([model.embedding(inputs), model.chars(chars)], dim=2)
    output, _ = model.rnn(x)
    torch.testing.assert_close(model(inputs, None, chars), model.head(output.amax(dim=1)))
    assert model.rnn.input_size == 6 + 5
    model.train()
    model(inputs, None, chars).sum().backward()
    assert model.chars.conv.weight.grad.abs().sum() > 0
    save_model(model.eval(), tmp_path / "chars")
    loaded = load_model(tmp_path / "chars").eval()
    assert torch.equal(loaded.predict_proba(inputs, None, chars), model.predict_proba(inputs, None, chars))


def test_character_feature_errors():
    model = SequenceClassifier(token_config(char_vocab_size=9))
    inputs = torch.ones(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"has character features, so it needs chars \(B, T, L\)"):
        model(inputs)
    with pytest.raises(ValueError, match="chars given, but this model has no character features"):
        SequenceClassifier(token_config())(inputs, None, torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"chars must have shape \(B, T, L\) with \(B, T\) = \(2, 3\)"):
        model(inputs, None, torch.ones(2, 2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="char_kernel_size must be odd"):
        token_config(char_vocab_size=9, char_kernel_size=2)
    with pytest.raises(ValueError, match="char_vocab_size applies to token input"):
        ClassifierConfig(input_size=3, num_classes=2, char_vocab_size=9)
