import pytest
import torch

from rnnkit.data.synthetic import adding_problem


def test_adding_problem_marks_one_step_in_each_half_and_sums_them():
    x, y = adding_problem(500, 9, torch.Generator().manual_seed(3))
    markers = x[..., 1]
    assert torch.all(markers[:, :4].sum(1) == 1) and torch.all(markers[:, 4:].sum(1) == 1)
    torch.testing.assert_close(y, (x[..., 0] * markers).sum(1))
    assert abs(((y - 1) ** 2).mean().item() - 1 / 6) < 0.03  # the baseline MSE the demo quotes


def test_adding_problem_is_reproducible_and_checks_its_length():
    a = adding_problem(4, 6, torch.Generator().manual_seed(0))
    b = adding_problem(4, 6, torch.Generator().manual_seed(0))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="needs steps >= 2"):
        adding_problem(4, 1)
