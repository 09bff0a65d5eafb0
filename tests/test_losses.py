"""Losses: masked positions never count; values equal the formulas."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.losses import masked_cross_entropy, masked_mae, masked_mse, quantile_loss


def test_masked_cross_entropy_ignores_padding_and_equals_the_mean_over_valid_steps():
    logits, targets = torch.randn(3, 5, 4), torch.randint(0, 4, (3, 5))
    lengths = torch.tensor([5, 2, 3])
    got = masked_cross_entropy(logits, targets, lengths=lengths)
    want = torch.cat(
        [F.cross_entropy(logits[b, :n], targets[b, :n], reduction="none") for b, n in enumerate(lengths)]
    )
    torch.testing.assert_close(got, want.mean())
    noisy = logits.clone()
    noisy[1, 2:] = 100 * torch.randn(3, 4)
    torch.testing.assert_close(masked_cross_entropy(noisy, targets, lengths=lengths), got)
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    torch.testing.assert_close(masked_cross_entropy(logits, targets, mask=mask), got)


def test_masked_cross_entropy_one_label_per_sequence_and_smoothing():
    logits, targets = torch.randn(4, 3), torch.tensor([0, 2, 1, 1])
    torch.testing.assert_close(masked_cross_entropy(logits, targets, label_smoothing=0.1),
                               F.cross_entropy(logits, targets, label_smoothing=0.1))  # fmt: skip
    with pytest.raises(ValueError, match="lengths/mask apply to sequence targets"):
        masked_cross_entropy(logits, targets, lengths=torch.tensor([1, 1, 1, 1]))
    with pytest.raises(ValueError, match="give lengths or mask, not both"):
        masked_cross_entropy(torch.randn(2, 3, 4), torch.zeros(2, 3, dtype=torch.long),
                             lengths=torch.tensor([1, 2]), mask=torch.ones(2, 3, dtype=torch.bool))  # fmt: skip


def test_masked_regression_losses():
    prediction, target = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    lengths = torch.tensor([4, 1])
    valid = torch.cat([prediction[0], prediction[1, :1]]), torch.cat([target[0], target[1, :1]])
    torch.testing.assert_close(masked_mse(prediction, target, lengths=lengths), F.mse_loss(*valid))
    torch.testing.assert_close(masked_mae(prediction, target, lengths=lengths), F.l1_loss(*valid))
    torch.testing.assert_close(masked_mse(prediction, target), F.mse_loss(prediction, target))


def test_quantile_loss_is_the_pinball_loss():
    prediction = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([2.5])
    # errors y - ŷ: 1.5, 0.5, -0.5 -> 0.1*1.5, 0.5*0.5, (0.9-1)*(-0.5)
    want = (0.1 * 1.5 + 0.5 * 0.5 + 0.1 * 0.5) / 3
    assert quantile_loss(prediction, target, (0.1, 0.5, 0.9)).item() == pytest.approx(want)
    with pytest.raises(ValueError, match="quantiles must lie in"):
        quantile_loss(prediction, target, (0.0, 0.5, 1.0))
    with pytest.raises(ValueError, match="prediction has 3 quantile outputs, quantiles has 2"):
        quantile_loss(prediction, target, (0.1, 0.9))
