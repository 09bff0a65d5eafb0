"""Saliency equals gradient x input computed directly; every picture is written as PNG and SVG."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.inspect.examples import choose_readable, group_labels, split_batch
from rnnkit.inspect.figures import render, tick_labels
from rnnkit.inspect.plot_flow import plot_flow_by_distance, plot_step_gradients
from rnnkit.inspect.plot_gates import choose_units, plot_cell_trajectories, plot_gates
from rnnkit.inspect.plot_text import plot_attention, plot_saliency_text, saliency_html
from rnnkit.inspect.saliency import saliency
from rnnkit.layers.factory import RNNConfig
from rnnkit.models import ClassifierConfig, SequenceClassifier

PNG = b"\x89PNG\r\n\x1a\n"


def classifier(**options):
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=30, num_classes=3, embedding_dim=6,
                              rnn=RNNConfig(cell="lstm", hidden_size=5), **options)  # fmt: skip
    return SequenceClassifier(config)


@pytest.mark.parametrize("options", [{}, {"freeze_embedding": True}, {"pooling": "attention"}])
def test_saliency_is_gradient_times_input_of_the_chosen_logit(options):
    model = classifier(**options).eval()
    tokens, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    target = torch.tensor([2, 0])
    result = saliency(model, tokens, lengths, target)
    assert all(p.grad is None for p in model.parameters())  # the tool leaves no .grad behind
    embedded = model.embedding(tokens).detach().requires_grad_(True)
    # the same model after its embedding, by hand: the classifier's encode without the lookup
    output, _ = model.rnn(embedded, lengths=lengths)
    from rnnkit.blocks.pooling import pool_sequence

    pooled = (
        model.attention(output, lengths)[0]
        if model.attention is not None
        else pool_sequence(output, lengths, model.config.pooling, 1)
    )
    logits = model.head(pooled)
    logits.gather(1, target.unsqueeze(1)).sum().backward()
    expected = (embedded.grad * embedded).sum(-1) * (torch.arange(4) < lengths.unsqueeze(1))
    torch.testing.assert_close(result.scores, expected.detach(), rtol=1e-5, atol=1e-7)
    assert result.target.tolist() == [2, 0] and result.probabilities.shape == (2, 3)


def test_saliency_explains_the_predicted_class_by_default_and_needs_an_embedding():
    model = classifier()
    tokens = torch.tensor([[3, 4, 5]])
    result = saliency(model, tokens)
    assert result.target.tolist() == model(tokens).argmax(-1).tolist()
    assert model.training  # the mode is restored
    features = SequenceClassifier(ClassifierConfig(input_size=2, num_classes=2, rnn=RNNConfig(hidden_size=3)))
    with pytest.raises(ValueError, match="no token embedding"):
        saliency(features, torch.randn(1, 4, 2))


def test_every_picture_is_written_as_png_and_svg(tmp_path):
    tokens = ["what", "is", "your", "오늘", "food"]
    internals = {"i": torch.rand(5, 8), "f": torch.rand(5, 8), "g": torch.rand(5, 8) * 2 - 1,
                 "o": torch.rand(5, 8), "h": torch.rand(5, 8) - 0.5, "c": torch.randn(5, 8)}  # fmt: skip
    written = [
        *plot_gates(internals, tmp_path / "gates", tokens, "gates"),
        *plot_cell_trajectories(internals, tmp_path / "cells", tokens),
        *plot_flow_by_distance({"RNN": 0.5 ** torch.arange(9.0), "LSTM": torch.ones(9)}, tmp_path / "flow"),
        *plot_flow_by_distance({"a": {"x": torch.ones(3)}, "b": {"x": torch.ones(3)}}, tmp_path / "panels"),
        *plot_step_gradients({"layer 0": torch.rand(5) + 0.1}, tmp_path / "steps", tokens),
        *plot_attention(
            torch.softmax(torch.randn(3, 5), -1), tmp_path / "attention", tokens, ["a", "b", "c"]
        ),
        *plot_saliency_text(tokens, torch.randn(5), tmp_path / "saliency"),
    ]
    assert len(written) == 14
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG) if path.suffix == ".png" else b"<svg" in data[:2000]


def test_pictures_reject_mismatched_shapes(tmp_path):
    with pytest.raises(ValueError, match="expected 3 labels"):
        plot_gates({"f": torch.rand(3, 2)}, tmp_path / "g", ["a", "b"])
    with pytest.raises(ValueError, match="same T"):
        plot_gates({"f": torch.rand(3, 2), "i": torch.rand(4, 2)}, tmp_path / "g")
    with pytest.raises(ValueError, match="out of range"):
        plot_cell_trajectories({"c": torch.rand(3, 2)}, tmp_path / "c", units=[5])
    with pytest.raises(ValueError, match=r"\(T_out, S\)"):
        plot_attention(torch.rand(3), tmp_path / "a")
    with pytest.raises(ValueError, match="formats"):
        render(lambda f: None, tmp_path / "x", (2, 2), formats=["jpg"])


def test_saliency_html_escapes_and_colours_by_sign():
    page = saliency_html(["<b>", "ok"], torch.tensor([-2.0, 1.0]))
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert "rgb(128, 128, 255)" in page and "rgb(255, 192, 192)" in page


@settings(max_examples=30, deadline=None)
@given(tokens=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=200), most=st.integers(1, 80))
def test_tick_labels_keep_at_most_the_asked_number(tokens, most):
    positions, labels = tick_labels(tokens, most)
    assert len(positions) <= most and positions[0] == 0 and len(labels) == len(positions)
    assert all(len(label) <= 14 for label in labels)


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, 50), pool=st.integers(1, 5))
def test_labels_follow_a_pooling_front_end(length, pool):
    tokens = [f"t{k}" for k in range(length)]
    steps = -(-length // pool)
    labels = group_labels(tokens, steps, pool)
    assert len(labels) == steps and " ".join(labels).split() == tokens


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(1, 80), min_size=1, max_size=40), count=st.integers(1, 5))
def test_readable_examples_are_distinct_and_prefer_moderate_lengths(lengths, count):
    chosen = choose_readable(lengths, count)
    assert 1 <= len(chosen) <= count and len(set(chosen)) == len(chosen) and chosen == sorted(chosen)
    if any(5 <= n <= 40 for n in lengths):
        assert all(5 <= lengths[k] <= 40 for k in chosen)


def test_split_batch_cuts_each_sequence_to_its_length():
    batch = {"src": torch.tensor([[4, 5, 6], [7, 0, 0]]), "src_lengths": torch.tensor([3, 1]),
             "tgt_in": torch.tensor([[2, 8], [2, 0]]), "tgt_lengths": torch.tensor([2, 1])}  # fmt: skip
    second = split_batch(batch)[1]
    assert second["src"].tolist() == [[7]] and second["tgt_in"].tolist() == [[2]]


def test_units_that_change_most_come_first():
    values = torch.zeros(4, 3)
    values[:, 2] = torch.tensor([0.0, 3.0, -3.0, 0.0])
    values[:, 0] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    assert choose_units(values, 2) == [2, 0]
