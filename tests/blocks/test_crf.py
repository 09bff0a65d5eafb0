"""LinearChainCRF against brute-force enumeration of all K^n paths; gradients; constraints; padding."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnkit.blocks.crf import FORBIDDEN, LinearChainCRF, iob_constraints
from rnnkit.losses import crf_negative_log_likelihood

K = 3


def make_crf(seed: int, constraints: torch.Tensor | None = None, num_tags: int = K) -> LinearChainCRF:
    crf = LinearChainCRF(num_tags, constraints).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # larger than the default init, so that paths differ clearly
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64))
    return crf


def path_score(crf: LinearChainCRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    """s(E, y) from the definition, one term at a time; -inf if the path uses a forbidden transition."""
    allowed, k = crf.constraints, crf.num_tags
    steps = [(k, path[0]), *itertools.pairwise(path), (path[-1], k + 1)]
    if not all(bool(allowed[i, j]) for i, j in steps):
        return -math.inf
    total = crf.start_transitions[path[0]].item() + crf.end_transitions[path[-1]].item()
    total += sum(emissions[t, tag].item() for t, tag in enumerate(path))
    total += sum(crf.transitions[i, j].item() for i, j in itertools.pairwise(path))
    return total


def brute_force(crf: LinearChainCRF, emissions: torch.Tensor, length: int) -> tuple[float, tuple, float]:
    """(log Z, best path, best score) over every allowed path of the valid prefix of one sequence."""
    scored = {p: path_score(crf, emissions, p) for p in itertools.product(range(crf.num_tags), repeat=length)}
    finite = [s for s in scored.values() if s > -math.inf]
    log_z = (
        -math.inf if not finite else max(finite) + math.log(sum(math.exp(s - max(finite)) for s in finite))
    )
    best = max(scored, key=scored.get)
    return log_z, best, scored[best]


def random_constraints(draw_bits: list[bool]) -> torch.Tensor:
    return torch.tensor(draw_bits, dtype=torch.bool).view(K + 2, K + 2)


batches = st.integers(1, 3).flatmap(
    lambda b: st.tuples(st.integers(1, 4), st.lists(st.integers(1, 4), min_size=b, max_size=b))
)


@settings(max_examples=40, deadline=None)
@given(
    batch=batches,
    seed=st.integers(0, 10_000),
    mask_bits=st.none() | st.lists(st.booleans(), min_size=(K + 2) ** 2, max_size=(K + 2) ** 2),
)
def test_partition_and_viterbi_equal_brute_force(batch, seed, mask_bits) -> None:
    extra, lengths = batch
    steps = max(lengths) + extra - 1  # some batches have padding after every sequence
    constraints = None if mask_bits is None else random_constraints(mask_bits)
    crf = make_crf(seed, constraints)
    emissions = torch.randn(
        len(lengths), steps, K, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64
    )
    lengths_t = torch.tensor(lengths)
    oracle = [brute_force(crf, emissions[b], n) for b, n in enumerate(lengths)]
    assume(all(log_z > -math.inf for log_z, _, _ in oracle))  # at least one allowed path per sequence

    log_z = crf.log_partition(emissions, lengths_t)
    paths, scores = crf.viterbi_decode(emissions, lengths_t)
    for b, (n, (z_ref, path_ref, score_ref)) in enumerate(zip(lengths, oracle)):
        assert log_z[b].item() == pytest.approx(z_ref, rel=1e-12, abs=1e-12)
        assert tuple(paths[b, :n].tolist()) == path_ref
        assert paths[b, n:].tolist() == [-1] * (steps - n)
        assert scores[b].item() == pytest.approx(score_ref, rel=1e-12, abs=1e-12)
    gold = paths.clamp(min=0)
    torch.testing.assert_close(crf.score(emissions, paths, lengths_t), scores)  # -1 padding is ignored
    torch.testing.assert_close(crf.log_likelihood(emissions, gold, lengths_t), scores - log_z)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.integers(1, 4))
def test_probabilities_of_all_paths_sum_to_one(seed, length) -> None:
    crf = make_crf(seed, iob_constraints(["O", "B-X", "I-X"]))
    emissions = torch.randn(1, length, K, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    paths = torch.tensor(list(itertools.product(range(K), repeat=length)))  # (K^n, n)
    log_p = crf.log_likelihood(emissions.expand(len(paths), -1, -1), paths)
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-12)


def test_gradcheck_log_likelihood_with_lengths_and_constraints() -> None:
    crf = make_crf(0, iob_constraints(["O", "B-X", "I-X"]))
    emissions = torch.randn(3, 4, K, dtype=torch.float64, requires_grad=True)
    tags = torch.tensor([[0, 1, 2, 2], [1, 0, -1, -1], [2, 2, 0, 5]])  # the last has a forbidden I-X start
    lengths = torch.tensor([4, 2, 3])
    names = ("transitions", "start_transitions", "end_transitions")
    params = [getattr(crf, n).detach().clone().requires_grad_() for n in names]

    def log_likelihood(e, a, s, f):
        return torch.func.functional_call(crf, dict(zip(names, (a, s, f))), (e, tags, lengths))

    assert torch.autograd.gradcheck(log_likelihood, (emissions, *params))
    assert torch.autograd.gradgradcheck(log_likelihood, (emissions, *params))
    ll = log_likelihood(emissions, *params)
    assert ll[2].item() < FORBIDDEN / 2  # forbidden, yet finite
    ll.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (emissions, *params))


def test_padding_changes_nothing_even_nan() -> None:
    crf = make_crf(3, iob_constraints(["O", "B-X", "I-X"]))
    alone = torch.randn(1, 3, K, dtype=torch.float64)
    tags_alone = torch.tensor([[1, 2, 0]])
    padded = torch.full((2, 6, K), float("nan"), dtype=torch.float64)
    padded[1, :3] = alone[0]
    padded[0] = torch.randn(6, K, dtype=torch.float64)
    padded.requires_grad_()
    tags = torch.tensor([[0, 1, 2, 2, 0, 0], [1, 2, 0, 99, -1, -100]])
    lengths = torch.tensor([6, 3])

    ll = crf.log_likelihood(padded, tags, lengths)
    torch.testing.assert_close(ll[1:], crf.log_likelihood(alone, tags_alone))
    paths, scores = crf.viterbi_decode(padded, lengths)
    path_alone, score_alone = crf.viterbi_decode(alone)
    assert paths[1].tolist() == [*path_alone[0].tolist(), -1, -1, -1]
    torch.testing.assert_close(scores[1:], score_alone)
    ll.sum().backward()
    assert padded.grad[1, 3:].abs().sum() == 0 and torch.isfinite(padded.grad).all()


def iob2_valid(tags: list[str]) -> bool:
    """Independent IOB2 check: every I-X continues a chunk of type X."""
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), lengths=st.lists(st.integers(1, 8), min_size=1, max_size=4))
def test_viterbi_never_uses_a_forbidden_transition(seed, lengths) -> None:
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    crf = make_crf(seed, iob_constraints(labels), num_tags=len(labels))
    generator = torch.Generator().manual_seed(seed)
    # emissions that favour I- tags strongly, so that an unconstrained decoder would use invalid paths
    emissions = 5 * torch.randn(
        len(lengths), max(lengths), len(labels), generator=generator, dtype=torch.float64
    )
    emissions[..., [2, 4]] += 5.0
    paths, _ = crf.viterbi_decode(emissions, torch.tensor(lengths))
    for row, n in zip(paths.tolist(), lengths):
        assert iob2_valid([labels[i] for i in row[:n]]), [labels[i] for i in row[:n]]


def test_constraints_change_the_decoded_path() -> None:
    labels = ["O", "B-PER", "I-PER"]
    emissions = torch.tensor([[[0.0, 1.0, 3.0], [2.0, 0.0, 0.5], [0.0, 0.0, 3.0]]])  # I-PER O I-PER by argmax
    free, constrained = LinearChainCRF(3), LinearChainCRF(3, iob_constraints(labels))
    for crf in (free, constrained):
        torch.nn.init.zeros_(crf.transitions), torch.nn.init.zeros_(crf.start_transitions)
        torch.nn.init.zeros_(crf.end_transitions)
    assert free.viterbi_decode(emissions)[0].tolist() == [[2, 0, 2]]
    assert constrained.viterbi_decode(emissions)[0].tolist() == [[1, 2, 2]]  # B-PER I-PER I-PER: 1 + 0.5 + 3


def test_iob_constraints_examples() -> None:
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    index = {name: i for i, name in enumerate(labels)} | {"START": 5, "END": 6}

    def allowed(scheme, pairs, names=labels):
        mask = iob_constraints(names, scheme)
        idx = {name: i for i, name in enumerate(names)} | {"START": len(names), "END": len(names) + 1}
        return [bool(mask[idx[a], idx[b]]) for a, b in pairs]

    assert (
        allowed("IOB2", [("O", "I-PER"), ("B-PER", "I-LOC"), ("START", "I-PER"), ("I-LOC", "I-PER")])
        == [False] * 4
    )
    assert allowed("IOB2", [("B-PER", "I-PER"), ("I-PER", "I-PER"), ("I-PER", "B-PER"), ("I-PER", "O"),
                            ("START", "B-LOC"), ("START", "O"), ("I-LOC", "END"), ("O", "END")]) == [True] * 8  # fmt: skip
    assert (
        allowed("IOB1", [("START", "I-PER"), ("O", "I-PER"), ("I-PER", "B-PER"), ("I-LOC", "I-PER")])
        == [True] * 4
    )
    assert allowed("IOB1", [("O", "B-PER"), ("START", "B-PER"), ("I-LOC", "B-PER")]) == [False] * 3
    bioes = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]
    assert allowed("BIOES", [("B-PER", "I-PER"), ("B-PER", "E-PER"), ("I-PER", "E-PER"), ("E-PER", "S-LOC"),
                             ("S-PER", "B-PER"), ("START", "S-LOC"), ("E-PER", "END"), ("O", "END")], bioes) == [True] * 8  # fmt: skip
    assert allowed("BIOES", [("B-PER", "O"), ("I-PER", "END"), ("B-PER", "END"), ("START", "I-PER"),
                             ("O", "E-PER"), ("S-PER", "I-PER"), ("B-PER", "S-LOC")], bioes) == [False] * 7  # fmt: skip
    mask = iob_constraints(labels)
    assert mask.shape == (7, 7) and mask.dtype == torch.bool
    assert (
        not mask[:, index["START"]].any() and not mask[index["END"]].any()
    )  # nothing enters START / leaves END


@pytest.mark.parametrize(
    ("labels", "scheme", "match"),
    [
        (["O", "PER"], "IOB2", r"label 'PER' at index 1"),
        (["O", "E-PER"], "IOB2", r"label 'E-PER' at index 1 .*<B\|I>"),
        (["O", "B-"], "BIOES", r"label 'B-'"),
        (["O", "O"], "IOB2", "unique"),
        ([], "IOB2", "non-empty"),
        (["O"], "BILOU", "scheme must be one of"),
    ],
)
def test_iob_constraints_errors(labels, scheme, match) -> None:
    with pytest.raises(ValueError, match=match):
        iob_constraints(labels, scheme)


def test_crf_errors() -> None:
    with pytest.raises(ValueError, match="num_tags must be a positive int"):
        LinearChainCRF(0)
    with pytest.raises(ValueError, match=r"shape \(K \+ 2, K \+ 2\) = \(5, 5\).*got \(3, 3\)"):
        LinearChainCRF(3, torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool Tensor"):
        LinearChainCRF(3, torch.ones(5, 5))
    crf = LinearChainCRF(3)
    with pytest.raises(ValueError, match=r"emissions must have shape \(B, T >= 1, K=3\), got \(2, 4, 4\)"):
        crf.log_partition(torch.zeros(2, 4, 4))
    with pytest.raises(TypeError, match="float Tensor"):
        crf.viterbi_decode(torch.zeros(2, 4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="lengths must be <= the number of steps 4"):
        crf.log_partition(torch.zeros(2, 4, 3), torch.tensor([5, 1]))
    with pytest.raises(ValueError, match=r"tags within each length must be in \[0, 3\), got values \[0, 3\]"):
        crf.score(torch.zeros(1, 2, 3), torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match=r"tags must have shape \(B, T\) = \(1, 2\), got \(2,\)"):
        crf.score(torch.zeros(1, 2, 3), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer Tensor"):
        crf.score(torch.zeros(1, 2, 3), torch.zeros(1, 2))


def test_nll_loss_reductions() -> None:
    crf = make_crf(5)
    emissions = torch.randn(2, 3, K, dtype=torch.float64)
    tags, lengths = torch.tensor([[0, 1, 2], [2, 1, -1]]), torch.tensor([3, 2])
    per_sequence = -crf.log_likelihood(emissions, tags, lengths)
    assert (per_sequence > 0).all()
    loss = lambda r: crf_negative_log_likelihood(crf, emissions, tags, lengths, reduction=r)  # noqa: E731
    torch.testing.assert_close(loss("none"), per_sequence)
    torch.testing.assert_close(loss("mean"), per_sequence.mean())
    torch.testing.assert_close(loss("sum"), per_sequence.sum())
    torch.testing.assert_close(loss("token_mean"), per_sequence.sum() / 5)
    with pytest.raises(ValueError, match="reduction must be"):
        loss("avg")


def test_state_dict_keeps_the_constraints() -> None:
    constrained = LinearChainCRF(3, iob_constraints(["O", "B-X", "I-X"]))
    other = LinearChainCRF(3)
    other.load_state_dict(constrained.state_dict())
    assert torch.equal(other.constraints, constrained.constraints)
    assert sorted(other.state_dict()) == [
        "constraints",
        "end_transitions",
        "start_transitions",
        "transitions",
    ]
