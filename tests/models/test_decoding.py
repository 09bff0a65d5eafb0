"""Decoders against brute force on a tiny recurrent language model."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnkit.models.decoding import (
    beam_search,
    filter_logits,
    greedy_decode,
    length_penalty,
    reorder_batch,
    sample_decode,
)

EOS, PAD = 1, 0


class TinyLM(nn.Module):
    """A GRU language model whose logits depend on the whole prefix (so the state must be reordered right)."""

    def __init__(self, vocab: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(vocab, 4)
        self.cell = nn.GRUCell(4, 6)
        self.out = nn.Linear(6, vocab)
        with torch.no_grad():
            self.out.weight.mul_(3.0)  # peaky enough that greedy and beam differ

    def step(self, tokens, h):
        h = self.cell(self.embed(tokens), h)
        return self.out(h), h

    def initial(self, batch):
        return torch.randn(batch, 6, generator=torch.Generator().manual_seed(batch))

    def sequence_score(self, h0, sequence):
        """log p(sequence) for one input, sequence ends with EOS or at max length."""
        tokens, h, total = torch.tensor([2]), h0.unsqueeze(0), 0.0
        for token in sequence:
            logits, h = self.step(tokens, h)
            total += torch.log_softmax(logits, -1)[0, token].item()
            tokens = torch.tensor([token])
        return total


def brute_force_best(model, h0, vocab, max_length, alpha):
    best, best_score = None, -float("inf")
    for n in range(1, max_length + 1):
        for body in itertools.product([t for t in range(vocab) if t != EOS], repeat=n - 1):
            for last in range(vocab):
                if n < max_length and last != EOS:
                    continue  # shorter than max_length only when it ends with EOS
                sequence = (*body, last)
                if EOS in sequence[:-1]:
                    continue
                score = model.sequence_score(h0, sequence) / length_penalty(torch.tensor(n), alpha).item()
                if score > best_score:
                    best, best_score = sequence, score
    return best, best_score


@torch.no_grad()
@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exhaustive_beam_equals_brute_force(seed, alpha):
    vocab, max_length = 3, 4
    model = TinyLM(vocab, seed)
    h0 = model.initial(2)
    result = beam_search(model.step, h0, 2, max_length, beam_size=vocab**max_length, eos=EOS, pad=PAD, alpha=alpha,
                         batch_size=2)  # fmt: skip
    for b in range(2):
        want, want_score = brute_force_best(model, h0[b], vocab, max_length, alpha)
        got = tuple(result.tokens[b, : result.lengths[b]].tolist())
        norm = result.scores[b].item() / length_penalty(result.lengths[b], alpha).item()
        assert got == want and norm == pytest.approx(want_score, abs=1e-5)
        assert result.scores[b].item() == pytest.approx(model.sequence_score(h0[b], got), abs=1e-5)


@torch.no_grad()
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 1000),
    beam=st.integers(2, 6),
    vocab=st.integers(3, 7),
    alpha=st.sampled_from([0.0, 0.6]),
)
def test_wider_beams_never_score_below_greedy(seed, beam, vocab, alpha):
    model = TinyLM(vocab, seed)
    h0 = model.initial(3)
    greedy = greedy_decode(model.step, h0, 2, 6, eos=EOS, batch_size=3)
    result = beam_search(model.step, h0, 2, 6, beam_size=beam, eos=EOS, alpha=alpha, batch_size=3)
    normalise = lambda d: d.scores / length_penalty(d.lengths, alpha)  # noqa: E731
    assert torch.all(normalise(result) >= normalise(greedy) - 1e-5)


@torch.no_grad()
def test_beam_one_is_greedy_and_top_k_one_sampling_is_greedy():
    model = TinyLM(5, 3)
    h0 = model.initial(4)
    greedy = greedy_decode(model.step, h0, 2, 7, eos=EOS, batch_size=4)
    beam = beam_search(model.step, h0, 2, 7, beam_size=1, eos=EOS, batch_size=4)
    sampled = sample_decode(
        model.step, h0, 2, 7, eos=EOS, top_k=1, batch_size=4, generator=torch.Generator().manual_seed(0)
    )
    for other in (beam, sampled):
        assert torch.equal(other.tokens, greedy.tokens) and torch.equal(other.lengths, greedy.lengths)
        torch.testing.assert_close(other.scores, greedy.scores)


@torch.no_grad()
@pytest.mark.parametrize("temperature", [1e-30, 1e-45, 1e-320])
def test_a_tiny_temperature_samples_the_argmax_not_nan(temperature):
    # regression (the server's fuzzing): logits / 1e-320 in float32 was 0 / 0, and multinomial raised
    model = TinyLM(5, 3)
    h0 = model.initial(4)
    greedy = greedy_decode(model.step, h0, 2, 7, eos=EOS, batch_size=4)
    sampled = sample_decode(model.step, h0, 2, 7, eos=EOS, temperature=temperature, batch_size=4,
                            generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert torch.equal(sampled.tokens, greedy.tokens)


@torch.no_grad()
def test_sampling_is_reproducible_with_a_seed_and_varies_without():
    model = TinyLM(6, 4)
    h0 = model.initial(16)
    run = lambda seed: sample_decode(model.step, h0, 2, 8, eos=EOS, temperature=1.5, batch_size=16,  # noqa: E731
                                     generator=torch.Generator().manual_seed(seed))  # fmt: skip
    assert torch.equal(run(7).tokens, run(7).tokens)
    assert not torch.equal(run(7).tokens, run(8).tokens)


@torch.no_grad()
def test_decoded_sequences_stop_at_eos_and_pad_after():
    model = TinyLM(4, 5)
    result = sample_decode(model.step, model.initial(32), 2, 10, eos=EOS, pad=PAD, batch_size=32,
                           generator=torch.Generator().manual_seed(1))  # fmt: skip
    for row, n in zip(result.tokens, result.lengths):
        row = row.tolist()
        assert EOS not in row[: n - 1]
        assert n == len(row) or row[n - 1] == EOS
        assert all(t == PAD for t in row[n:])


def test_filter_logits_top_p_keeps_the_smallest_nucleus():
    logits = torch.log(torch.tensor([[0.1, 0.4, 0.3, 0.2]]))
    assert filter_logits(logits, top_p=0.65).isfinite().tolist() == [[False, True, True, False]]
    assert filter_logits(logits, top_p=0.05).isfinite().sum() == 1  # the best token always stays
    with pytest.raises(ValueError, match="top_p must be in"):
        filter_logits(logits, top_p=0.0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        filter_logits(logits, top_k=0)


def test_reorder_batch_on_other_dims_and_bad_arguments():
    h = torch.arange(12.0).view(2, 3, 2)  # (L, B, H)
    assert torch.equal(reorder_batch(h, torch.tensor([2, 0]), dim=1), h[:, [2, 0]])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_decode(lambda t, s: (torch.zeros(1, 3), s), None, 2, 3, temperature=0.0, batch_size=1)
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        beam_search(lambda t, s: (torch.zeros(1, 3), s), None, 2, 3, beam_size=0, eos=1, batch_size=1)
    with pytest.raises(ValueError, match="give bos as a"):
        greedy_decode(lambda t, s: (torch.zeros(1, 3), s), None, 2, 3)
