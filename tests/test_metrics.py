"""Metrics against hand-computed values and independent implementations (no scikit-learn here)."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.losses import masked_cross_entropy
from rnnkit.metrics import (
    accuracy,
    bits_per_character,
    bleu,
    chrf,
    chunk_f1,
    classification_report,
    confusion_matrix,
    extract_chunks,
    macro_f1,
    mae,
    mape,
    mase,
    perplexity,
    rmse,
    seasonal_naive_forecast,
)

# ------------------------------------------------------------------------------------------ classification

Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 1, 0, 1, 2, 2]
# class 0: TP 2, predicted 2, true 3 -> P 1, R 2/3, F1 0.8
# class 1: TP 1, predicted 2, true 2 -> P 1/2, R 1/2, F1 1/2
# class 2: TP 1, predicted 2, true 1 -> P 1/2, R 1, F1 2/3


def test_accuracy_by_hand():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    assert (
        accuracy(torch.tensor([[1, 2], [3, -100]]), torch.tensor([[1, 0], [3, 3]]), ignore_index=-100)
        == 2 / 3
    )
    assert accuracy(np.array(["a", "b"]), ["a", "a"]) == 0.5


def test_classification_report_by_hand():
    report = classification_report(Y_TRUE, Y_PRED, names=["neg", "neu", "pos"])
    expected = {
        "neg": (1.0, 2 / 3, 0.8, 3),
        "neu": (0.5, 0.5, 0.5, 2),
        "pos": (0.5, 1.0, 2 / 3, 1),
    }
    for name, (p, r, f, n) in expected.items():
        got = report["classes"][name]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p, r, f))
        assert got["support"] == n
    assert report["macro"]["precision"] == pytest.approx(2 / 3)
    assert report["macro"]["recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert report["macro"]["f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report["weighted"]["f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert report["weighted"]["recall"] == pytest.approx(4 / 6)  # weighted recall is accuracy
    assert report["macro"]["support"] == 6 and report["accuracy"] == pytest.approx(4 / 6)
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_report_on_a_subset_of_labels_still_counts_other_errors():
    report = classification_report(Y_TRUE, Y_PRED, labels=[1, 2])
    assert list(report["classes"]) == [1, 2]
    assert report["classes"][1]["precision"] == 0.5  # the 0 predicted as 1 still counts against class 1
    assert macro_f1(Y_TRUE, Y_PRED, labels=[1, 2]) == pytest.approx((0.5 + 2 / 3) / 2)
    absent = classification_report([0, 0], [0, 0], labels=[0, 1])["classes"][1]
    assert absent == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_confusion_matrix_by_hand():
    assert confusion_matrix(Y_TRUE, Y_PRED) == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert confusion_matrix(Y_TRUE, Y_PRED, labels=[2, 1, 0]) == [[1, 0, 0], [1, 1, 0], [0, 1, 2]]
    with pytest.raises(ValueError, match="label 2 is not in labels"):
        confusion_matrix(Y_TRUE, Y_PRED, labels=[0, 1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_report_agrees_with_the_confusion_matrix(pairs):
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    labels = [0, 1, 2, 3]
    matrix = np.array(confusion_matrix(y_true, y_pred, labels=labels))
    assert matrix.sum() == len(pairs)
    assert matrix.trace() / len(pairs) == pytest.approx(accuracy(y_true, y_pred))
    report = classification_report(y_true, y_pred, labels=labels)
    f1s = []
    for k in labels:
        tp, predicted, true = matrix[k, k], matrix[:, k].sum(), matrix[k, :].sum()
        p = tp / predicted if predicted else 0.0
        r = tp / true if true else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        got = report["classes"][k]
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx(
            (p, r, f1s[-1], true)
        )
    assert macro_f1(y_true, y_pred, labels=labels) == pytest.approx(sum(f1s) / 4)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: accuracy([1, 2], [1]), ValueError, "same length, got 2 and 1"),
        (lambda: accuracy([], []), ValueError, "no labels to score"),
        (lambda: accuracy([-100], [0], ignore_index=-100), ValueError, "ignore_index"),
        (lambda: accuracy("ab", "ab"), TypeError, "got a str"),
        (lambda: classification_report([0], [0], labels=[0, 0]), ValueError, "distinct"),
        (lambda: classification_report([0], [0], labels=[0], names=["a", "b"]), ValueError, "2 names for 1"),
    ],
)
def test_classification_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------------------ tagging


@pytest.mark.parametrize(
    "tags, scheme, chunks",
    [
        (["O", "I-PER", "I-PER", "O"], "IOB2", [("PER", 1, 3)]),  # I- without B- opens a chunk
        (["B-PER", "I-LOC"], "IOB2", [("PER", 0, 1), ("LOC", 1, 2)]),  # type change ends and opens
        (["B-PER", "B-PER", "I-PER"], "IOB2", [("PER", 0, 1), ("PER", 1, 3)]),
        (["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB1", [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]),
        (["B-LOC", "I-LOC"], "IOB2", [("LOC", 0, 2)]),  # a chunk open at the end is closed
        (
            ["B-PER", "E-PER", "S-LOC", "B-ORG", "I-ORG", "E-ORG", "S-ORG", "O"],
            "IOBES",
            [("PER", 0, 2), ("LOC", 2, 3), ("ORG", 3, 6), ("ORG", 6, 7)],
        ),
        (["O", "O"], "IOB2", []),
        ([], "IOB2", []),
    ],
)
def test_extract_chunks_by_hand(tags, scheme, chunks):
    assert extract_chunks(tags, scheme) == chunks


def _encode(spans, steps, scheme):
    """Tags for non-overlapping (type, start, end) spans: the encoder the decoder must invert."""
    tags = ["O"] * steps
    previous_end, previous_type = -1, None
    for kind, start, end in spans:
        for t in range(start, end):
            if scheme == "IOBES":
                prefix = "S" if end - start == 1 else "B" if t == start else "E" if t == end - 1 else "I"
            elif scheme == "IOB2":
                prefix = "B" if t == start else "I"
            else:  # IOB1: B- only where a chunk directly follows one of the same type
                prefix = "B" if t == start and previous_end == start and previous_type == kind else "I"
            tags[t] = f"{prefix}-{kind}"
        previous_end, previous_type = end, kind
    return tags


@st.composite
def spans(draw):
    steps = draw(st.integers(0, 15))
    cuts = sorted(draw(st.sets(st.integers(0, steps), max_size=10)))
    out = []
    for start, end in itertools.pairwise(cuts):
        if draw(st.booleans()):
            out.append((draw(st.sampled_from(["PER", "LOC"])), start, end))
    return out, steps


@settings(max_examples=100, deadline=None)
@given(spans(), st.sampled_from(["IOB1", "IOB2", "IOBES"]))
def test_extract_chunks_inverts_each_encoding(spans_and_steps, scheme):
    chunks, steps = spans_and_steps
    assert extract_chunks(_encode(chunks, steps, scheme), scheme) == chunks


def test_chunk_f1_by_hand():
    true = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["O", "B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["O", "I-ORG", "O"]]
    # true: PER 0-2, LOC 3-5, ORG 1-2; predicted: PER 0-2, LOC 3-4 (too short), ORG 1-2 (I- opens it)
    result = chunk_f1(true, pred)
    assert (result["true_chunks"], result["pred_chunks"], result["correct"]) == (3, 3, 2)
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert result["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert result["per_type"]["ORG"]["f1"] == 1.0


def test_chunk_f1_counts_unequal_chunk_numbers():
    true = ["B-PER", "I-PER", "I-PER", "O", "B-LOC"]
    pred = ["B-PER", "B-PER", "I-PER", "O", "B-LOC"]  # PER split in two: 3 predicted, 1 of them right
    result = chunk_f1(true, pred)  # one flat sequence is one sentence
    assert (result["precision"], result["recall"]) == pytest.approx((1 / 3, 1 / 2))
    assert result["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))


def test_chunks_do_not_cross_sentences():
    result = chunk_f1([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]])  # joined, the truth would be one chunk
    assert (result["true_chunks"], result["f1"]) == (2, 1.0)
    assert chunk_f1([["O"]], [["O"]])["f1"] == 0.0  # no chunks at all: zero, as conlleval


@pytest.mark.parametrize(
    "true, pred, scheme, match",
    [
        (["E-PER"], ["O"], "IOB2", "tag 'E-PER' is not valid IOB2"),
        (["B-"], ["O"], "IOB2", "not valid"),
        (["PER"], ["O"], "IOB2", "not valid"),
        (["O"], ["O"], "BILOU", "scheme must be one of"),
        ([["O", "O"]], [["O"]], "IOB2", "sentence 0: 2 true tags but 1 predicted"),
        ([["O"], ["O"]], [["O"]], "IOB2", "as many sentences"),
    ],
)
def test_chunk_f1_errors(true, pred, scheme, match):
    with pytest.raises(ValueError, match=match):
        chunk_f1(true, pred, scheme)


# -------------------------------------------------------------------------------------- language models


def test_perplexity_and_bits_per_character_by_hand():
    nll = -(math.log(0.5) + math.log(0.25) + math.log(0.125))  # = 6 ln 2
    assert perplexity(nll, 3) == pytest.approx(4.0)  # exp(2 ln 2)
    assert bits_per_character(nll, 3) == pytest.approx(2.0)
    assert perplexity(torch.tensor(nll), torch.tensor(3)) == pytest.approx(4.0)
    assert perplexity(1e6, 1) == math.inf


def test_perplexity_is_exp_of_the_mean_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(50, 7, generator=generator), torch.randint(0, 7, (50,), generator=generator)
    total = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    expected = math.exp(masked_cross_entropy(logits, targets).item())
    assert perplexity(total, 50) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("tokens", [0, -1, float("inf")])
def test_perplexity_needs_a_positive_count(tokens):
    with pytest.raises(ValueError, match="total_tokens must be a positive finite count"):
        perplexity(1.0, tokens)


# ------------------------------------------------------------------------------------------- translation


def _ngrams(words, n):
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def bleu_by_hand(hypotheses, references):
    """Papineni et al. 2002 at corpus level: clipped n-gram precisions (n <= 4), closest-reference brevity."""
    matches, totals, hyp_len, ref_len = [0] * 4, [0] * 4, 0, 0
    for hyp, refs in zip(hypotheses, references):
        h, rs = hyp.split(), [r.split() for r in refs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
        for n in range(1, 5):
            counts = _ngrams(h, n)
            best = Counter()
            for r in rs:
                best |= _ngrams(r, n)  # max count over references
            matches[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            totals[n - 1] += sum(counts.values())
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return 100 * brevity * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / 4)


HYPS = ["the cat sat on the mat today", "a quick brown fox jumps over the dog"]
REFS = ["the cat sat on the red mat", "the quick brown fox jumps over the lazy dog"]


def test_bleu_matches_a_hand_implementation():
    expected = bleu_by_hand(HYPS, [[r] for r in REFS])
    assert 10 < expected < 90
    assert bleu(HYPS, REFS) == pytest.approx(expected, abs=1e-9)
    assert bleu(HYPS, [[r] for r in REFS]) == pytest.approx(expected, abs=1e-9)


def test_bleu_with_two_references():
    other = ["the cat sat on the mat today", "a fast brown fox jumped over the dog"]
    references = [[a, b] for a, b in zip(REFS, other)]
    assert bleu(HYPS, references) == pytest.approx(bleu_by_hand(HYPS, references), abs=1e-9)


def test_bleu_tokenizer_option_for_korean():
    hyp, ref = ["영화가 정말 재밌었어요"], ["영화가 정말 재밌어요"]  # one changed ending
    word_level, char_level = bleu(hyp, ref), bleu(hyp, ref, tokenize="char")
    assert word_level < char_level < 100
    same = ["영화가 정말 재밌어요. 배우들도 좋았어요!"]  # intl splits the punctuation off the eojeol
    assert bleu(same, same, tokenize="intl") == pytest.approx(100.0)


def chrf_by_hand(hypotheses, references, order=6, beta=2.0):
    """Popović 2015 as sacrebleu computes it: corpus char n-gram counts (spaces removed), P and R averaged
    over the orders present, then F-beta."""
    stats = np.zeros((order, 3))
    for hyp, ref in zip(hypotheses, references):
        h, r = "".join(hyp.split()), "".join(ref.split())
        for n in range(1, order + 1):
            hc, rc = _ngrams(list(h), n), _ngrams(list(r), n)
            stats[n - 1] += (sum(hc.values()), sum(rc.values()), sum((hc & rc).values()))
    present = [(m / hn, m / rn) for hn, rn, m in stats if hn > 0 and rn > 0]
    p = sum(x for x, _ in present) / len(present)
    r = sum(y for _, y in present) / len(present)
    return 100 * (1 + beta**2) * p * r / (beta**2 * p + r)


@pytest.mark.parametrize(
    "hyps, refs",
    [(HYPS, REFS), (["영화가 정말 재밌었어요", "별로"], ["영화가 정말 재밌어요", "별로였어요"])],
)
def test_chrf_matches_a_hand_implementation(hyps, refs):
    expected = chrf_by_hand(hyps, refs)
    assert 10 < expected < 100
    assert chrf(hyps, refs) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "hyps, refs, match",
    [
        (["a"], ["a", "b"], "one reference entry per hypothesis"),
        ([], [], "one reference entry per hypothesis"),
        (["a", "b"], [["a"], ["b", "c"]], "same number"),
    ],
)
def test_translation_metric_errors(hyps, refs, match):
    with pytest.raises(ValueError, match=match):
        bleu(hyps, refs)
    with pytest.raises(ValueError, match=match):
        chrf(hyps, refs)


# ------------------------------------------------------------------------------------------- forecasting


def test_point_errors_by_hand():
    y, yhat = [1.0, -2.0, 4.0, 10.0], [2.0, -2.0, 1.0, 12.0]  # errors 1, 0, -3, 2
    assert mae(y, yhat) == pytest.approx(6 / 4)
    assert rmse(y, yhat) == pytest.approx(math.sqrt(14 / 4))
    assert mape(y, yhat) == pytest.approx(100 * (1 / 1 + 0 / 2 + 3 / 4 + 2 / 10) / 4)
    assert mae(torch.tensor([[1.0, -2.0], [4.0, 10.0]]), torch.tensor([[2.0, -2.0], [1.0, 12.0]])) == 1.5


def test_mape_zero_targets():
    with pytest.raises(ValueError, match="1 of 3 are 0"):
        mape([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    assert mape([0.0, 1.0, 2.0], [1.0, 1.5, 1.0], zeros="skip") == pytest.approx(100 * (0.5 + 0.5) / 2)
    with pytest.raises(ValueError, match="every target is 0"):
        mape([0.0], [1.0], zeros="skip")


def test_seasonal_naive_forecast_by_hand():
    history = [1, 2, 3, 10, 20, 30]
    assert seasonal_naive_forecast(history, horizon=7, season=3) == [10, 20, 30, 10, 20, 30, 10]
    assert seasonal_naive_forecast(history, horizon=2) == [30, 30]
    series = torch.arange(12.0).view(6, 2)  # (T, F)
    out = seasonal_naive_forecast(series, horizon=3, season=2)
    assert torch.equal(out, series[[4, 5, 4]])
    assert seasonal_naive_forecast(np.array(history), 1, 6).tolist() == [1]


def test_mase_by_hand():
    train = [1.0, 3.0, 2.0, 5.0, 4.0]  # |diffs| 2, 1, 3, 1: naive in-sample MAE 7/4
    assert mase([6.0, 7.0], [5.0, 9.0], train) == pytest.approx(1.5 / 1.75)
    train2 = [1.0, 3.0, 2.0, 5.0, 4.0, 7.0]  # lag-2 |diffs| 1, 2, 2, 2: 7/4
    assert mase([6.0, 7.0], [5.0, 9.0], train2, season=2) == pytest.approx(1.5 / 1.75)


def test_mase_of_the_naive_forecast_in_sample_is_one():
    walk = np.cumsum(np.random.default_rng(0).normal(size=200))
    assert mase(walk[1:], walk[:-1], walk) == pytest.approx(1.0)
    seasonal = np.tile([3.0, 1.0, 4.0, 1.0], 10) + np.random.default_rng(1).normal(0, 0.1, 40)
    assert mase(seasonal[4:], seasonal[:-4], seasonal, season=4) == pytest.approx(1.0)


def test_mase_is_zero_for_a_perfectly_periodic_series():
    series = [2.0, 5.0, 1.0] * 6
    train, test = series[:12], series[12:]
    assert mase(test, seasonal_naive_forecast(train, 6, season=3), train, season=1) == 0.0


def test_mase_scales_each_series_by_its_own_history():
    rng = np.random.default_rng(0)
    train = np.cumsum(rng.normal(size=(30, 2)) * [1.0, 10.0], axis=0)  # (T, F): very different scales
    y, yhat = rng.normal(size=(5, 4, 2)), rng.normal(size=(5, 4, 2))  # (B, horizon, F)
    per_series = [mase(y[..., f], yhat[..., f], train[:, f]) for f in range(2)]
    assert mase(y, yhat, train) == pytest.approx(sum(per_series) / 2)
    assert mase(torch.tensor(y), torch.tensor(yhat), torch.tensor(train)) == pytest.approx(
        sum(per_series) / 2
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mae([1.0, 2.0], [1.0]), r"same shape, got \(2,\) and \(1,\)"),
        (lambda: rmse([], []), "y_true is empty"),
        (lambda: mape([1.0], [1.0], zeros="ignore"), "zeros must be 'raise' or 'skip'"),
        (lambda: mase([1.0], [1.0], [2.0, 2.0, 2.0]), "does not change over a season"),
        (lambda: mase([1.0], [1.0], [1.0, 2.0], season=2), "T > season=2"),
        (lambda: mase(np.ones((2, 3)), np.ones((2, 3)), np.arange(10.0).reshape(5, 2)), "last dimension"),
        (lambda: seasonal_naive_forecast([1, 2], horizon=3, season=3), "at least one season"),
        (lambda: seasonal_naive_forecast([1, 2], horizon=0), "horizon must be an int >= 1"),
    ],
)
def test_forecast_metric_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
