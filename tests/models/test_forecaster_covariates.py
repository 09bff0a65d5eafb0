"""Forecaster with past-only and categorical covariates, against the reference behaviour of known numeric
covariates: a past-only column is a known column the head never reads, a category embedding is a numeric
column holding the embedding's values; models without them keep the old weights' names."""

from __future__ import annotations

import pytest
import torch

from rnnkit.layers.factory import RNNConfig
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.io import load_model, save_model

RNN = RNNConfig(cell="gru", hidden_size=8)


def fitted(config: ForecasterConfig, seed: int = 0) -> Forecaster:
    torch.manual_seed(seed)
    model = Forecaster(config).double()
    g = torch.Generator().manual_seed(seed)
    c, p = config.num_covariates, config.num_past_only_covariates
    model.fit_scaler(
        torch.randn(200, config.num_series, generator=g, dtype=torch.float64) * 4 + 10,
        torch.randn(200, c, generator=g, dtype=torch.float64) * 3 + 1 if c else None,
        torch.randn(200, p, generator=g, dtype=torch.float64) * 2 - 5 if p else None,
    )
    return model.eval()


def test_past_only_covariates_are_known_ones_the_head_never_reads():
    """Direct mode: P past-only columns == P extra known columns with zero head weights on their future."""
    h, c, p, steps = 3, 2, 2, 6
    ours = fitted(ForecasterConfig(num_covariates=c, num_past_only_covariates=p, horizon=h, rnn=RNN))
    reference = Forecaster(ForecasterConfig(num_covariates=c + p, horizon=h, rnn=RNN)).double().eval()
    reference.scaler.load_state_dict(ours.scaler.state_dict())
    for name in ("shift", "scale", "fitted"):  # per-column statistics: the two scalers side by side
        both = [getattr(ours.covariate_scaler, name), getattr(ours.past_only_scaler, name)]
        getattr(reference.covariate_scaler, name).copy_(torch.cat(both) if both[0].dim() else both[0])
    reference.rnn.load_state_dict(ours.rnn.state_dict())  # input [y, x (C), z (P)] in both
    with torch.no_grad():
        context = ours.rnn.output_size
        weight = reference.head.weight.zero_()
        for step in range(h):  # the head reads [c, x_L (C + P), x_{L+1} (C + P), ...]; ours [c, x_L (C), ...]
            weight[:, context + step * (c + p) : context + step * (c + p) + c] = ours.head.weight[
                :, context + step * c : context + (step + 1) * c
            ]
        weight[:, :context] = ours.head.weight[:, :context]
        reference.head.bias.copy_(ours.head.bias)
    g = torch.Generator().manual_seed(3)
    history = torch.randn(4, steps, 1, generator=g, dtype=torch.float64) * 4 + 10
    known = torch.randn(4, steps, c, generator=g, dtype=torch.float64)
    future = torch.randn(4, h, c, generator=g, dtype=torch.float64)
    observed = torch.randn(4, steps, p, generator=g, dtype=torch.float64)
    lengths = torch.tensor([6, 4, 2, 5])
    with torch.no_grad():
        got = ours(history, lengths, known, future, past_only_covariates=observed)
        unknown = torch.randn(4, h, p, generator=g, dtype=torch.float64)  # whatever their future: not read
        want = reference(history, lengths, torch.cat([known, observed], -1), torch.cat([future, unknown], -1))
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
        changed = observed.clone()
        changed[1, 3] += 1.0  # a past-only value inside window 1 moves its forecast, and only its own
        moved = ours(history, lengths, known, future, past_only_covariates=changed)
        changed[1, 4:] = float("nan")  # padding of window 1 (length 4) is never read
        padded = ours(history, lengths, known, future, past_only_covariates=changed)
    assert not torch.allclose(moved[1], got[1]) and torch.equal(moved[[0, 2, 3]], got[[0, 2, 3]])
    torch.testing.assert_close(padded, moved, rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["direct", "autoregressive"])
@pytest.mark.parametrize("where", ["known", "past_only"])
def test_a_category_embedding_is_a_numeric_column_holding_its_vector(mode, where):
    """Category ids embedded == the embedding vectors given as (unscaled) numeric covariates."""
    if mode == "autoregressive" and where == "past_only":
        with pytest.raises(
            ValueError, match=r"num_past_only_covariates must be 0 with mode='autoregressive'"
        ):
            ForecasterConfig(num_past_only_covariates=1, past_only_categories=(3,), mode=mode)
        return
    h, e, steps, sizes = 3, 2, 5, (4, 3)
    k = len(sizes)
    kind = {"known_categories": sizes, "num_covariates": 1 + k} if where == "known" else {
        "past_only_categories": sizes, "num_past_only_covariates": 1 + k, "num_covariates": 1}  # fmt: skip
    ours = fitted(ForecasterConfig(horizon=h, mode=mode, category_embedding_dim=e, rnn=RNN, scaling="none",
                                   **kind))  # fmt: skip
    wide = 1 + e * k  # the numeric column, then each embedding's e values
    numeric = (
        {"num_covariates": wide}
        if where == "known"
        else {"num_covariates": 1, "num_past_only_covariates": wide}
    )
    reference = fitted(ForecasterConfig(horizon=h, mode=mode, rnn=RNN, scaling="none", **numeric))
    reference.rnn.load_state_dict(ours.rnn.state_dict())
    reference.head.load_state_dict(ours.head.state_dict())
    embeddings = ours.known_embeddings if where == "known" else ours.past_only_embeddings
    g = torch.Generator().manual_seed(1)

    def columns(shape) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.stack([torch.randint(0, n, shape, generator=g) for n in sizes], -1)
        number = torch.randn(*shape, 1, generator=g, dtype=torch.float64)
        vectors = torch.cat([emb(ids[..., j]) for j, emb in enumerate(embeddings)], -1)
        return torch.cat([number, ids.double()], -1), torch.cat([number, vectors], -1)

    history = torch.randn(3, steps, 1, generator=g, dtype=torch.float64)
    with torch.no_grad():
        if where == "known":
            (past, past_wide), (future, future_wide) = columns((3, steps)), columns((3, h))
            got = ours(history, past_covariates=past, future_covariates=future)
            want = reference(history, past_covariates=past_wide, future_covariates=future_wide)
        else:
            (observed, observed_wide) = columns((3, steps))
            known, future = (
                torch.randn(3, steps, 1, dtype=torch.float64),
                torch.randn(3, h, 1, dtype=torch.float64),
            )
            got = ours(
                history, past_covariates=known, future_covariates=future, past_only_covariates=observed
            )
            want = reference(history, past_covariates=known, future_covariates=future,
                             past_only_covariates=observed_wide)  # fmt: skip
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_categories_train_save_load_and_reject_bad_ids(tmp_path):
    config = ForecasterConfig(num_covariates=2, known_categories=(3,), num_past_only_covariates=2,
                              past_only_categories=(5,), horizon=2, rnn=RNN)  # fmt: skip
    model = fitted(config).float().train()
    batch = {
        "history": torch.randn(2, 4, 1),
        "past_covariates": torch.tensor([[[0.5, 2.0]] * 4] * 2),
        "future_covariates": torch.tensor([[[0.1, 1.0]] * 2] * 2),
        "past_only_covariates": torch.tensor([[[1.0, 4.0]] * 4] * 2),
    }
    model(**batch).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.covariate_scaler.num_features == 1 and model.past_only_scaler.num_features == 1
    model.eval()
    loaded = load_model(save_model(model, tmp_path / "m")).eval()
    assert loaded.config == config and torch.equal(loaded(**batch), model(**batch))
    with pytest.raises(
        ValueError, match=r"categorical covariate 0 \(column 1\) holds id 5; expected ids in \[0, 5\)"
    ):
        model(**{**batch, "past_only_covariates": torch.tensor([[[1.0, 5.0]] * 4] * 2)})
    with pytest.raises(ValueError, match=r"num_past_only_covariates=2, so past_only_covariates \(B, T, P\)"):
        model(**{k: v for k, v in batch.items() if k != "past_only_covariates"})
    with pytest.raises(ValueError, match=r"known_categories: 2 categorical columns, but num_covariates=1"):
        ForecasterConfig(num_covariates=1, known_categories=(2, 2))
    with pytest.raises(ValueError, match=r"past_only_covariates \(\.\.\., 2\) are needed"):
        Forecaster(config).fit_scaler(torch.randn(5, 1), torch.randn(5, 2))


def test_models_without_the_new_covariates_keep_their_weight_names():
    """Old run folders load: a model of the earlier layout has exactly the earlier state_dict keys."""
    config = ForecasterConfig(num_covariates=1, horizon=2, rnn=RNNConfig(cell="gru", hidden_size=4))
    keys = set(Forecaster(config).state_dict())
    assert {k for k in keys if not k.startswith("rnn.")} == {
        "scaler.shift", "scaler.scale", "scaler.fitted", "covariate_scaler.shift", "covariate_scaler.scale",
        "covariate_scaler.fitted", "head.weight", "head.bias",
    }  # fmt: skip
