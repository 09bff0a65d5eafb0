"""SequenceTagger: learns a rule-defined chunking task, padding invariance, save/load, configs, variants, errors."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from rnnkit.config import ConfigError, load_config, save_config
from rnnkit.layers.factory import RNNConfig
from rnnkit.losses import crf_negative_log_likelihood, masked_cross_entropy
from rnnkit.models.io import load_model, save_model
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

LABELS = ("O", "B-NUM", "I-NUM", "B-WORD", "I-WORD")
VOCAB = 13  # 0 padding, 1-4 digits, 5-8 letters, 9-12 punctuation


@pytest.fixture(autouse=True)
def one_thread():
    """Two threads on two cores shared with other jobs spin and crawl (measured 20x slower); one does not."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def chunk_task(n: int, generator: torch.Generator, max_len: int = 16):
    """Runs of digits are NUM chunks, runs of letters WORD chunks, punctuation is O (IOB2).

    The tag of a token depends on its class and its left neighbour's (B- starts a run, I- continues it).
    Returns tokens (B, T) padded with 0, tags (B, T) padded with -1, lengths (B,).
    """
    lengths = torch.randint(3, max_len + 1, (n,), generator=generator)
    tokens = torch.randint(1, VOCAB, (n, max_len), generator=generator)
    kind = (tokens - 1) // 4  # 0 digit, 1 letter, 2 punctuation
    previous = torch.cat([torch.full((n, 1), 2), kind[:, :-1]], dim=1)
    tags = torch.where(kind == 2, 0, 1 + 2 * kind + (previous == kind).long())
    valid = torch.arange(max_len) < lengths.unsqueeze(1)
    return tokens.masked_fill(~valid, 0), tags.masked_fill(~valid, -1), lengths


def as_features(tokens: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Noisy one-hot vectors (B, T, VOCAB): the same task given as feature sequences."""
    onehot = torch.nn.functional.one_hot(tokens, VOCAB).float()
    return onehot + 0.1 * torch.randn(onehot.shape, generator=generator)


def iob2_valid(tags: list[str]) -> bool:
    """Every I-X continues a chunk of type X (written from the IOB2 definition, not from the CRF mask)."""
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def small_config(crf: bool = False, features: bool = False, rnn: RNNConfig | None = None) -> TaggerConfig:
    return TaggerConfig(
        num_tags=len(LABELS),
        vocab_size=None if features else VOCAB,
        input_size=VOCAB if features else None,
        embedding_dim=16,
        rnn=rnn or RNNConfig(hidden_size=24, bidirectional=True),
        crf=crf,
        labels=LABELS,
        constraints="IOB2" if crf else None,
    )


@pytest.mark.parametrize("features", [False, True], ids=["tokens", "features"])
@pytest.mark.parametrize("crf", [False, True], ids=["softmax", "crf"])
def test_learns_the_chunking_rule(crf, features) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = SequenceTagger(small_config(crf, features))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):  # seeds 0-2 reach >= 0.99 held-out accuracy by 30 steps (features), 1.0 (tokens)
        tokens, tags, lengths = chunk_task(32, generator)
        inputs = as_features(tokens, generator) if features else tokens
        emissions = model(inputs, lengths)
        if crf:
            loss = crf_negative_log_likelihood(model.crf, emissions, tags, lengths)
        else:
            loss = masked_cross_entropy(emissions, tags, lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    held_out = torch.Generator().manual_seed(12345)
    tokens, tags, lengths = chunk_task(300, held_out)
    inputs = as_features(tokens, held_out) if features else tokens
    predicted = model.eval().decode(inputs, lengths)
    valid = tags >= 0
    assert torch.equal(predicted < 0, ~valid)  # -1 exactly on the padding
    accuracy = (predicted[valid] == tags[valid]).float().mean().item()
    assert accuracy >= 0.95
    if crf:
        for row, n in zip(predicted.tolist(), lengths.tolist()):
            assert iob2_valid([LABELS[i] for i in row[:n]])


VARIANTS = {
    "bilstm": RNNConfig(hidden_size=8, bidirectional=True),
    "gru-reset-before": RNNConfig(cell="gru", hidden_size=8, reset_after=False),
    "lstm-layernorm-bi-2layers": RNNConfig(hidden_size=8, layer_norm=True, bidirectional=True, num_layers=2),
    "mingru-bi": RNNConfig(cell="mingru", hidden_size=8, bidirectional=True),
    "indrnn": RNNConfig(cell="indrnn", hidden_size=8),
    "rnn-reference": RNNConfig(cell="rnn", hidden_size=8, bidirectional=True, impl="reference"),
}
_models: dict[tuple, SequenceTagger] = {}


def cached_model(variant: str, crf: bool, features: bool) -> SequenceTagger:
    """float64, so that the comparison is exact up to rounding whatever the cell (minGRU is unbounded)."""
    key = (variant, crf, features)
    if key not in _models:
        torch.manual_seed(len(_models))
        _models[key] = SequenceTagger(small_config(crf, features, VARIANTS[variant])).double().eval()
    return _models[key]


@pytest.mark.parametrize("variant", list(VARIANTS))
@settings(max_examples=8, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4),
    seed=st.integers(0, 1000),
    crf=st.booleans(),
    features=st.booleans(),
)
def test_padding_changes_nothing(variant, lengths, seed, crf, features) -> None:
    model = cached_model(variant, crf, features)
    generator = torch.Generator().manual_seed(seed)
    steps = max(lengths) + 2
    if features:  # loud padding
        inputs = 100 * torch.randn(len(lengths), steps, VOCAB, generator=generator, dtype=torch.float64)
    else:
        inputs = torch.randint(1, VOCAB, (len(lengths), steps), generator=generator)  # non-zero padding ids
    lengths_t = torch.tensor(lengths)
    emissions, tags = model(inputs, lengths_t), model.decode(inputs, lengths_t)
    for b, n in enumerate(lengths):
        alone = inputs[b : b + 1, :n]
        torch.testing.assert_close(emissions[b : b + 1, :n], model(alone), rtol=1e-9, atol=1e-9)
        assert tags[b, :n].tolist() == model.decode(alone)[0].tolist()
        assert tags[b, n:].tolist() == [-1] * (steps - n)
        assert emissions[b, n:].abs().sum() == 0
    if not crf:
        torch.testing.assert_close(tags, emissions.argmax(2).masked_fill(tags < 0, -1))


@pytest.mark.parametrize("variant", ["bilstm", "lstm-layernorm-bi-2layers", "mingru-bi"])
def test_gradients_flow_to_every_parameter(variant) -> None:
    model = SequenceTagger(small_config(crf=True, rnn=VARIANTS[variant]))
    tokens, tags, lengths = chunk_task(4, torch.Generator().manual_seed(0))
    crf_negative_log_likelihood(model.crf, model(tokens, lengths), tags, lengths).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_save_load_round_trip_and_mismatched_weights(tmp_path) -> None:
    torch.manual_seed(0)
    model = SequenceTagger(small_config(crf=True)).eval()
    with torch.no_grad():
        model.crf.transitions.normal_()  # not the init values
    tokens, _, lengths = chunk_task(5, torch.Generator().manual_seed(1))
    save_model(model, tmp_path / "tagger", extra={"labels": list(LABELS)})
    loaded = load_model(tmp_path / "tagger").eval()
    assert isinstance(loaded, SequenceTagger) and loaded.config == model.config
    assert torch.equal(loaded(tokens, lengths), model(tokens, lengths))
    assert torch.equal(loaded.decode(tokens, lengths), model.decode(tokens, lengths))
    assert torch.equal(loaded.crf.constraints, model.crf.constraints)

    weights = load_file(tmp_path / "tagger" / "model.safetensors")
    del weights["crf.transitions"]
    save_file(weights, tmp_path / "tagger" / "model.safetensors")
    with pytest.raises(ValueError, match=r"missing tensors \['crf.transitions'\]"):
        load_model(tmp_path / "tagger")
    weights["crf.transitions"] = model.crf.transitions.detach().clone()
    weights["head.extra"] = torch.zeros(2)
    save_file(weights, tmp_path / "tagger" / "model.safetensors")
    with pytest.raises(ValueError, match=r"unexpected tensors \['head.extra'\]"):
        load_model(tmp_path / "tagger")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_config_round_trip(tmp_path, suffix) -> None:
    config = TaggerConfig(num_tags=5, input_size=3, crf=True, labels=LABELS, constraints="IOB2",
                          rnn=RNNConfig(cell="gru", hidden_size=8, reset_after=False), dropout=0.25)  # fmt: skip
    path = tmp_path / f"tagger{suffix}"
    save_config(config, path)
    assert load_config(TaggerConfig, path) == config
    assert load_config(TaggerConfig, path).labels == LABELS  # a tuple again, not a list


def test_config_unknown_key_names_file_and_key(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"num_tags": 3, "vocab_size": 10, "num_label": 3}))
    with pytest.raises(ConfigError, match=r"bad.json: unknown key 'num_label' in TaggerConfig"):
        load_config(TaggerConfig, path)
    path.write_text(json.dumps({"num_tags": 3, "vocab_size": 10, "rnn": {"hiden_size": 3}}))
    with pytest.raises(
        ConfigError, match=r"bad.json: TaggerConfig.rnn: unknown key 'hiden_size' in RNNConfig"
    ):
        load_config(TaggerConfig, path)


def test_default_encoder_is_a_bidirectional_lstm() -> None:
    config = TaggerConfig(num_tags=2, vocab_size=5)
    assert config.rnn.cell == "lstm" and config.rnn.bidirectional
    model = SequenceTagger.from_config(config)
    assert model.crf is None and model.embedding.padding_idx == 0
    assert model.head.in_features == 2 * config.rnn.hidden_size


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_tags": 3}, "exactly one of vocab_size .* got vocab_size=None, input_size=None"),
        ({"num_tags": 3, "vocab_size": 5, "input_size": 4}, "exactly one of vocab_size"),
        ({"num_tags": 0, "vocab_size": 5}, r"TaggerConfig.num_tags must be an int >= 1, got 0"),
        ({"num_tags": 3, "vocab_size": 1}, r"TaggerConfig.vocab_size must be an int >= 2"),
        ({"num_tags": 3, "vocab_size": 5, "dropout": 1.0}, r"TaggerConfig.dropout must be in \[0, 1\)"),
        ({"num_tags": 3, "vocab_size": 5, "embedding_dropout": -0.1}, "TaggerConfig.embedding_dropout"),
        ({"num_tags": 3, "vocab_size": 5, "labels": ("O", "B-X")}, "TaggerConfig.labels must be 3 distinct"),
        ({"num_tags": 2, "vocab_size": 5, "labels": ("O", "O")}, "TaggerConfig.labels must be 2 distinct"),
        (
            {"num_tags": 3, "vocab_size": 5, "labels": ("O", "B-X", "I-X"), "constraints": "IOB2"},
            "needs crf=True",
        ),
        ({"num_tags": 3, "vocab_size": 5, "crf": True, "constraints": "IOB2"}, "needs crf=True and labels"),
        (
            {"num_tags": 3, "vocab_size": 5, "crf": True, "labels": ("O", "B-X", "X"), "constraints": "IOB2"},
            r"TaggerConfig.labels: .*label 'X' at index 2",
        ),
        (
            {
                "num_tags": 3,
                "vocab_size": 5,
                "crf": True,
                "labels": ("O", "B-X", "I-X"),
                "constraints": "BIO",
            },
            "TaggerConfig.constraints must be",
        ),
    ],
)
def test_config_errors(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        TaggerConfig(**kwargs)


def test_input_errors() -> None:
    tokens_model = SequenceTagger(small_config())
    features_model = SequenceTagger(small_config(features=True))
    with pytest.raises(TypeError, match="must be integer ids, got dtype torch.float32"):
        tokens_model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"token ids must have shape \(B, T\), got \(2, 3, 4\)"):
        tokens_model(torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 13\), got 13"):
        tokens_model(torch.tensor([[0, 13]]))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 13\), got -1"):
        tokens_model(torch.tensor([[-1, 2]]))
    with pytest.raises(TypeError, match="must be floating point, got dtype torch.int64"):
        features_model(torch.zeros(2, 3, VOCAB, dtype=torch.long))
    with pytest.raises(ValueError, match=r"features must have shape \(B, T, I=13\), got \(2, 3, 4\)"):
        features_model(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="at least one step"):
        tokens_model(torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="lengths must be <= the number of steps 3"):
        tokens_model.decode(torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 4]))
    with pytest.raises(ValueError, match=r"lengths must have shape \(2,\)"):
        tokens_model(torch.ones(2, 3, dtype=torch.long), torch.tensor([3]))
    with pytest.raises(TypeError, match="integer tensor"):
        tokens_model(torch.ones(2, 3, dtype=torch.long), torch.tensor([3.0, 2.0]))
    with pytest.raises(TypeError, match="needs a TaggerConfig"):
        SequenceTagger(RNNConfig())


# ----- character features (CharCNN) ---------------------------------------------------------------------
def char_model(seed: int = 0) -> SequenceTagger:
    torch.manual_seed(seed)
    config = TaggerConfig(num_tags=5, vocab_size=VOCAB, embedding_dim=8, char_vocab_size=11, char_embedding_dim=4,
                          char_filters=6, crf=True, labels=LABELS, constraints="IOB2",
                          rnn=RNNConfig(hidden_size=8, bidirectional=True))  # fmt: skip
    return SequenceTagger(config).double().eval()


@settings(max_examples=20, deadline=None)
@given(
    words=st.lists(st.lists(st.integers(1, 10), min_size=1, max_size=5), min_size=1, max_size=6),
    extra_steps=st.integers(0, 3),
    extra_width=st.integers(0, 3),
    noise=st.integers(1, 10),
)
def test_character_padding_changes_nothing(words, extra_steps, extra_width, noise) -> None:
    """A sentence alone, and padded to more words and longer words (padding ids 0) inside a batch whose
    other sentence is noise, gets the same emissions and tags."""
    model = char_model()
    steps, width = len(words), max(map(len, words))
    alone = torch.zeros(1, steps, width, dtype=torch.long)
    for t, word in enumerate(words):
        alone[0, t, : len(word)] = torch.tensor(word)
    tokens = torch.randint(1, VOCAB, (1, steps))
    padded = torch.full((2, steps + extra_steps, width + extra_width), noise)
    padded[0] = 0
    padded[0, :steps, :width] = alone[0]
    padded_tokens = torch.cat([tokens, torch.full((1, extra_steps), 3)], 1).repeat(2, 1)
    lengths = torch.tensor([steps, steps + extra_steps])
    torch.testing.assert_close(model(padded_tokens, lengths, padded)[:1, :steps], model(tokens, None, alone))
    assert (
        model.decode(padded_tokens, lengths, padded)[0, :steps].tolist()
        == model.decode(tokens, None, alone)[0].tolist()
    )


def test_character_features_are_the_charcnn_of_each_word() -> None:
    """The recurrent layer reads [embedding; CharCNN] per word: recomputed by hand from the parts."""
    model = char_model()
    chars = torch.tensor([[[3, 4, 0], [5, 6, 7]]])
    tokens = torch.tensor([[2, 9]])
    x = torch.cat([model.embedding(tokens), model.chars(chars)], dim=2)
    output, _ = model.rnn(x)
    torch.testing.assert_close(model(tokens, None, chars), model.head(output))
    conv = torch.tanh(
        model.chars.conv(model.chars.embedding(chars[0, 1:2]).transpose(1, 2))
    )  # word 2: no padding
    torch.testing.assert_close(model.chars(chars)[0, 1], conv[0].amax(dim=1))


def test_character_features_get_gradients_and_round_trip(tmp_path) -> None:
    model = char_model().float().train()
    tokens, tags, lengths = chunk_task(4, torch.Generator().manual_seed(0))
    chars = torch.randint(0, 11, (*tokens.shape, 5))
    crf_negative_log_likelihood(model.crf, model(tokens, lengths, chars), tags, lengths).backward()
    assert (
        model.chars.conv.weight.grad.abs().sum() > 0 and model.chars.embedding.weight.grad[1:].abs().sum() > 0
    )
    save_model(model.eval(), tmp_path / "chars")
    loaded = load_model(tmp_path / "chars").eval()
    assert loaded.config.char_vocab_size == 11
    assert torch.equal(loaded.decode(tokens, lengths, chars), model.decode(tokens, lengths, chars))


def test_character_feature_errors() -> None:
    model, plain = char_model(), SequenceTagger(small_config())
    tokens = torch.ones(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"has character features, so it needs chars \(B, T, L\)"):
        model(tokens)
    with pytest.raises(ValueError, match="chars given, but this model has no character features"):
        plain(tokens, None, torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(
        ValueError, match=r"chars must have shape \(B, T, L\) with \(B, T\) = \(2, 3\), got \(2, 4, 4\)"
    ):
        model(tokens, None, torch.ones(2, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="character features .* need token input"):
        TaggerConfig(num_tags=3, input_size=4, char_vocab_size=10)
    with pytest.raises(ValueError, match="TaggerConfig.char_filters must be an int >= 1, got 0"):
        TaggerConfig(num_tags=3, vocab_size=5, char_vocab_size=10, char_filters=0)
    with pytest.raises(ValueError, match="TaggerConfig.char_kernel_size must be odd"):
        TaggerConfig(num_tags=3, vocab_size=5, char_vocab_size=10, char_kernel_size=4)


def test_token_columns_are_embedded_beside_each_word() -> None:
    torch.manual_seed(0)
    config = TaggerConfig(num_tags=5, vocab_size=VOCAB, embedding_dim=8, column_vocab_sizes=[6, 4],
                          column_embedding_dim=3, rnn=RNNConfig(hidden_size=8, bidirectional=True))  # fmt: skip
    model = SequenceTagger(config).eval()
    tokens, lengths = torch.tensor([[2, 9, 4], [5, 1, 0]]), torch.tensor([3, 2])
    columns = torch.tensor([[[1, 2], [5, 3], [2, 1]], [[4, 1], [3, 3], [0, 0]]])
    x = torch.cat(
        [model.embedding(tokens), model.columns[0](columns[..., 0]), model.columns[1](columns[..., 1])], 2
    )
    output, _ = model.rnn(x, lengths=lengths)
    expected = model.head(output).masked_fill(
        torch.tensor([[False] * 3, [False, False, True]]).unsqueeze(2), 0
    )
    torch.testing.assert_close(model(tokens, lengths, columns=columns), expected)
    other = columns.clone()
    other[0, 1, 0] = 4  # another POS tag for one word changes the emissions
    assert not torch.allclose(model(tokens, lengths, columns=other), expected)
    assert model.rnn.input_size == 8 + 2 * 3 and model.columns[0].weight.shape == (6, 3)
    with pytest.raises(ValueError, match=r"reads 2 token columns: it needs columns \(B, T, 2\)"):
        model(tokens, lengths)
    with pytest.raises(
        ValueError, match=r"columns must have shape \(B, T, F\) = \(2, 3, 2\), got \(2, 3, 1\)"
    ):
        model(tokens, lengths, columns=columns[..., :1])
    with pytest.raises(ValueError, match="columns given, but this model reads none"):
        SequenceTagger(small_config())(tokens, lengths, columns=columns)
    with pytest.raises(ValueError, match=r"column_vocab_sizes\[1\] must be an int >= 2, got 1"):
        TaggerConfig(num_tags=3, vocab_size=5, column_vocab_sizes=[4, 1])
    with pytest.raises(ValueError, match="need token input"):
        TaggerConfig(num_tags=3, input_size=5, column_vocab_sizes=[4])
