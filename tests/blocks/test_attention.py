"""Attention against its equations written out one (b, s) at a time; masking, padding invariance, gradcheck."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.blocks.attention import Attention

KINDS = ["additive", "general", "dot"]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is fastest, and far faster than two threads on busy shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(kind: str, query_size: int = 5, key_size: int = 5, dtype=torch.float64, seed: int = 0) -> Attention:
    torch.manual_seed(seed)
    if kind == "dot":
        key_size = query_size
    return Attention(query_size, key_size, kind).to(dtype)


def score_by_hand(attention: Attention, q: torch.Tensor, k: torch.Tensor) -> float:
    """e(q, k) for one query vector and one key vector, straight from the papers."""
    q, k = q.detach(), k.detach()
    if attention.kind == "additive":  # Bahdanau et al. 2015: vᵀ tanh(W q + U k + b)
        W, U = attention.query_proj.weight.detach(), attention.key_proj.weight.detach()
        b, v = attention.key_proj.bias.detach(), attention.v.weight[0].detach()
        return float(v @ torch.tanh(W @ q + U @ k + b))
    if attention.kind == "general":  # Luong et al. 2015: qᵀ W k
        return float(q @ attention.key_proj.weight.detach() @ k)
    return float(q @ k)  # dot: qᵀ k


def attend_by_hand(attention, query, keys, lengths):
    """Context and weights, one sequence and one key at a time: softmax over the first n keys only."""
    batch, steps = keys.shape[:2]
    contexts, weights = (
        torch.zeros(batch, keys.size(2), dtype=keys.dtype),
        torch.zeros(batch, steps, dtype=keys.dtype),
    )
    for b in range(batch):
        n = int(lengths[b])
        scores = [score_by_hand(attention, query[b], keys[b, s]) for s in range(n)]
        top = max(scores)
        exps = [math.exp(e - top) for e in scores]
        for s in range(n):
            weights[b, s] = exps[s] / sum(exps)
            contexts[b] += weights[b, s] * keys[b, s]
    return contexts, weights


@pytest.mark.parametrize("kind", KINDS)
def test_matches_the_formula(kind):
    attention = make(kind, query_size=4, key_size=6)
    query, keys = (
        torch.randn(3, 4, dtype=torch.float64),
        torch.randn(3, 5, 6 if kind != "dot" else 4, dtype=torch.float64),
    )
    lengths = torch.tensor([5, 2, 1])
    context, weights = attention(query, keys, lengths)
    expected_context, expected_weights = attend_by_hand(attention, query, keys, lengths)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(context, expected_context, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(KINDS), batch=st.integers(1, 4), steps=st.integers(1, 7), data=st.data())
def test_weights_sum_to_one_over_valid_keys_and_are_zero_on_padding(kind, batch, steps, data):
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch)))
    attention = make(kind, dtype=torch.float32)
    query, keys = torch.randn(batch, 5) * 3, torch.randn(batch, steps, 5) * 3
    _, weights = attention(query, keys, lengths)
    valid = torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)
    assert torch.all(weights[~valid] == 0.0)  # exactly zero, not just small
    assert torch.all(weights[valid] > 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(batch))


@pytest.mark.parametrize("kind", KINDS)
def test_padding_never_changes_the_result(kind):
    """Each sequence alone equals its row in a padded batch, whatever the padding holds (even inf and nan)."""
    attention = make(kind)
    lengths = torch.tensor([3, 6, 1])
    query, keys = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 7, 5, dtype=torch.float64)
    padding = ~(torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1))
    keys[padding] = torch.tensor([1e30, -1e30, float("inf"), float("nan"), 7.0], dtype=torch.float64)
    context, weights = attention(query, keys, lengths)
    assert not context.isnan().any()
    for b, n in enumerate(lengths.tolist()):
        alone_context, alone_weights = attention(query[b : b + 1], keys[b : b + 1, :n])
        torch.testing.assert_close(context[b : b + 1], alone_context, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(weights[b : b + 1, :n], alone_weights, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_padding_mask_lengths_and_projected_keys_agree(kind):
    attention = make(kind)
    query, keys, lengths = (
        torch.randn(2, 5, dtype=torch.float64),
        torch.randn(2, 4, 5, dtype=torch.float64),
        torch.tensor([4, 2]),
    )
    by_lengths = attention(query, keys, lengths)
    mask = torch.tensor([[False] * 4, [False, False, True, True]])  # True on padding, as torch's MHA
    by_mask = attention(query, keys, key_padding_mask=mask)
    reused = attention(query, keys, lengths, projected_keys=attention.project_keys(keys))
    for a, b in ((by_lengths, by_mask), (by_lengths, reused)):
        torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
        torch.testing.assert_close(a[1], b[1], rtol=0, atol=0)
    full = attention(query, keys)  # no lengths: every key is valid
    torch.testing.assert_close(full[0][0], by_lengths[0][0])


@pytest.mark.parametrize("kind", KINDS)
def test_several_queries_at_once_equal_one_at_a_time(kind):
    attention = make(kind)
    queries, keys, lengths = (
        torch.randn(2, 3, 5, dtype=torch.float64),
        torch.randn(2, 4, 5, dtype=torch.float64),
        torch.tensor([4, 3]),
    )
    context, weights = attention(queries, keys, lengths)
    assert context.shape == (2, 3, 5) and weights.shape == (2, 3, 4)
    for t in range(3):
        one_context, one_weights = attention(queries[:, t], keys, lengths)
        torch.testing.assert_close(context[:, t], one_context, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(weights[:, t], one_weights, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_float64(kind):
    attention = make(kind, query_size=3, key_size=4)
    query = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 4, 3 if kind == "dot" else 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])
    assert torch.autograd.gradcheck(lambda q, k: attention(q, k, lengths), (query, keys))
    params = dict(attention.named_parameters())
    if params:  # and with respect to the parameters

        def by_params(*values):
            return torch.func.functional_call(attention, dict(zip(params, values)), (query, keys, lengths))

        assert torch.autograd.gradcheck(
            by_params, tuple(p.detach().requires_grad_() for p in params.values())
        )


def test_parameters_of_each_kind():
    additive = Attention(4, 6, "additive", attention_size=3)
    assert {n: tuple(p.shape) for n, p in additive.named_parameters()} == {
        "query_proj.weight": (3, 4),
        "key_proj.weight": (3, 6),
        "key_proj.bias": (3,),
        "v.weight": (1, 3),
    }
    assert {n: tuple(p.shape) for n, p in Attention(4, 6, "general").named_parameters()} == {
        "key_proj.weight": (4, 6)
    }
    assert list(Attention(4, 4, "dot").parameters()) == []


@pytest.mark.parametrize(
    ("make_call", "error", "match"),
    [
        (lambda: Attention(4, 6, "dot"), ValueError, "query_size == key_size, got 4 and 6"),
        (lambda: Attention(4, 4, "cosine"), ValueError, "kind must be one of"),
        (
            lambda: Attention(4, 4, "general", attention_size=8),
            ValueError,
            "attention_size applies to kind='additive'",
        ),
        (lambda: Attention(4, 4, attention_size=0), ValueError, "attention_size must be >= 1"),
        (lambda: Attention(0, 4), ValueError, "query_size must be >= 1"),
        (
            lambda: Attention(4, 4)(torch.randn(2, 3), torch.randn(2, 5, 4)),
            ValueError,
            r"query must have shape \(2, 4\)",
        ),
        (
            lambda: Attention(4, 4)(torch.randn(2, 4), torch.randn(2, 5, 3)),
            ValueError,
            r"keys must have shape \(B, S, 4\)",
        ),
        (
            lambda: Attention(4, 4)(torch.randn(3, 4), torch.randn(2, 5, 4)),
            ValueError,
            "query must have shape",
        ),
        (
            lambda: Attention(4, 4)(torch.randn(2, 4), torch.randn(2, 5, 4), torch.tensor([5, 0])),
            ValueError,
            "lengths must be >= 1",
        ),
        (
            lambda: Attention(4, 4)(torch.randn(2, 4), torch.randn(2, 5, 4), torch.tensor([6, 1])),
            ValueError,
            "<= the number of steps 5",
        ),
        (
            lambda: Attention(4, 4)(torch.randn(2, 4), torch.randn(2, 5, 4), torch.tensor([2.0, 1.0])),
            TypeError,
            "integer tensor",
        ),
        (
            lambda: Attention(4, 4)(
                torch.randn(1, 4), torch.randn(1, 2, 4), torch.tensor([2]), torch.tensor([[False, True]])
            ),
            ValueError,
            "not both",
        ),
        (
            lambda: Attention(4, 4)(
                torch.randn(1, 4), torch.randn(1, 2, 4), key_padding_mask=torch.tensor([[0, 1]])
            ),
            ValueError,
            "bool tensor",
        ),
        (
            lambda: Attention(4, 4)(
                torch.randn(1, 4), torch.randn(1, 2, 4), key_padding_mask=torch.tensor([[True, True]])
            ),
            ValueError,
            "masks every key",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(make_call, error, match):
    with pytest.raises(error, match=match):
        make_call()
