"""Token dropout: the rate, padding never touched, the identity in eval mode, and in the classifier."""

import math

import pytest
import torch

from rnnkit.blocks.token_dropout import TokenDropout
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier


def padded_batch(rows=200, steps=100):
    """Token ids 4..49 with lengths 1..steps; the steps past each length hold padding (0) or, in odd rows,
    a real-looking id (7) that must be left alone just the same."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 50, (rows, steps), generator=g)
    lengths = torch.randint(1, steps + 1, (rows,), generator=g)
    past = torch.arange(steps).unsqueeze(0) >= lengths.unsqueeze(1)
    filler = torch.where(torch.arange(rows) % 2 == 0, 0, 7).unsqueeze(1).expand(rows, steps)
    return torch.where(past, filler, ids), lengths, past


def test_drops_real_tokens_at_the_rate_and_never_padding():
    torch.manual_seed(1)
    ids, lengths, past = padded_batch()
    p = 0.2
    out, dropped = TokenDropout(p, unk_idx=1, padding_idx=0).train()(ids, lengths)
    assert torch.equal(out[past], ids[past])  # padding and the steps past each length
    assert not dropped[past].any()
    assert torch.equal(out[dropped], torch.ones_like(out[dropped]))
    assert torch.equal(out[~dropped], ids[~dropped])
    real = int((~past).sum())
    rate = int(dropped.sum()) / real
    assert abs(rate - p) < 5 * math.sqrt(p * (1 - p) / real)  # 5 standard errors (~0.015 here)


def test_padding_ids_inside_the_length_are_kept_too():
    torch.manual_seed(0)
    ids = torch.tensor([[5, 0, 6, 0]] * 500)
    out, dropped = TokenDropout(0.9, unk_idx=1, padding_idx=0).train()(ids)
    assert (out[:, [1, 3]] == 0).all() and not dropped[:, [1, 3]].any()
    assert dropped[:, [0, 2]].float().mean() > 0.8


def test_identity_in_eval_and_at_zero():
    ids, lengths, _ = padded_batch(20, 10)
    state = torch.random.get_rng_state()
    out, dropped = TokenDropout(0.5, unk_idx=1).eval()(ids, lengths)
    assert torch.equal(out, ids) and not dropped.any()
    out, dropped = TokenDropout(0.0, unk_idx=1).train()(ids, lengths)
    assert torch.equal(out, ids) and not dropped.any()
    assert torch.equal(torch.random.get_rng_state(), state)  # no random draw either
    with pytest.raises(ValueError, match="p must be in"):
        TokenDropout(1.0, unk_idx=1)


def test_classifier_with_token_dropout_predicts_as_without_in_eval_and_reads_unk_in_training():
    sizes = {"embedding_dim": 8, "channels": 8, "hidden_size": 8, "embedding_dropout": 0.0}
    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig.conv_lstm(60, 3, token_dropout=0.3, **sizes))
    plain = SequenceClassifier(ClassifierConfig.conv_lstm(60, 3, **sizes))
    plain.load_state_dict(model.state_dict())  # token dropout has no weights of its own
    ids, lengths, _ = padded_batch(8, 12)
    model.eval(), plain.eval()
    assert torch.equal(model(ids, lengths), plain(ids, lengths))
    model.train(), plain.train()
    torch.manual_seed(3)
    trained = model(ids, lengths)
    torch.manual_seed(3)
    seen, dropped = TokenDropout(0.3, unk_idx=1, padding_idx=0).train()(ids, lengths)
    assert dropped.any()
    torch.testing.assert_close(trained, plain(seen, lengths), rtol=0, atol=0)
    for name, options in [
        ("unk_idx", {"token_dropout": 0.1, "unk_idx": 0}),
        ("unk_idx", {"token_dropout": 0.1, "unk_idx": 60}),
        ("token_dropout", {"token_dropout": 1.0}),
    ]:
        with pytest.raises(ValueError, match=rf"ClassifierConfig\.{name}"):
            ClassifierConfig(vocab_size=60, **options)
    with pytest.raises(ValueError, match=r"token_dropout applies to token input"):
        ClassifierConfig(input_size=4, token_dropout=0.1)
