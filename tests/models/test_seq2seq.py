"""Seq2Seq: learns to reverse digit strings; attention masking; teacher forcing and scheduled sampling against
the step loop; beam search against greedy and against the model's own log-probabilities; padding
invariance; the bridge against its equation; save/load; configs; RNN variants; errors."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from rnnkit.config import ConfigError, load_config, save_config
from rnnkit.layers.factory import RNNConfig
from rnnkit.losses import masked_cross_entropy
from rnnkit.models.decoding import greedy_decode, length_penalty
from rnnkit.models.io import MODELS, WEIGHTS_FILE, load_model, save_model
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

PAD, BOS, EOS, V = 0, 2, 3, 14  # ids 4..13 are the digits 0..9
KINDS = ["additive", "general", "dot"]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is fastest, and far faster than two threads on busy shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small(**overrides) -> Seq2SeqConfig:
    options = dict(
        src_vocab_size=V,
        tgt_vocab_size=V,
        embedding_dim=8,
        encoder=RNNConfig(cell="gru", hidden_size=8, bidirectional=True),
        decoder=RNNConfig(cell="gru", hidden_size=16),
    )
    return Seq2SeqConfig(**{**options, **overrides})


def build(seed: int = 0, peaky: bool = False, **overrides) -> Seq2Seq:
    torch.manual_seed(seed)
    model = Seq2Seq(small(**overrides))
    if peaky:  # sharper distributions, so beam search and greedy part ways on an untrained model
        with torch.no_grad():
            model.output.weight.mul_(4.0)
    return model.eval()


def digit_batch(n: int, generator: torch.Generator, task=lambda digits: digits.flip(0)):
    """Sources of 3-8 digits (padded with PAD), tgt_in = BOS + target, tgt_out = target + EOS."""
    lengths = torch.randint(3, 9, (n,), generator=generator)
    steps = int(lengths.max())
    src = torch.full((n, steps), PAD)
    tgt_in, tgt_out = torch.full((n, steps + 1), PAD), torch.full((n, steps + 1), PAD)
    for b, length in enumerate(lengths.tolist()):
        digits = torch.randint(4, 14, (length,), generator=generator)
        src[b, :length] = digits
        target = task(digits)
        tgt_in[b, 0], tgt_in[b, 1 : length + 1] = BOS, target
        tgt_out[b, :length], tgt_out[b, length] = target, EOS
    return src, lengths, tgt_in, tgt_out, lengths + 1


def padded_sources(seed: int = 1):
    """Six sources of lengths 1..7 in a batch of width 9; the padding holds random ids, not PAD."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(4, 14, (6, 9), generator=generator)
    return src, torch.tensor([7, 1, 4, 6, 2, 5])


def test_learns_to_reverse_digit_strings():
    """Near-perfect exact match with greedy decoding on held-out strings (none seen in training)."""
    torch.manual_seed(0)
    model = Seq2Seq(
        small(
            embedding_dim=16,
            attention="additive",
            encoder=RNNConfig(cell="gru", hidden_size=32, bidirectional=True),
            decoder=RNNConfig(cell="gru", hidden_size=64),
        )
    )
    steps, generator, seen = 200, torch.Generator().manual_seed(100), set()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=0.02, total_steps=steps, pct_start=0.2)
    model.train()
    for _ in range(steps):
        src, src_lengths, tgt_in, tgt_out, tgt_lengths = digit_batch(64, generator)
        seen.update(tuple(row[:n].tolist()) for row, n in zip(src, src_lengths))
        logits, _ = model(src, src_lengths, tgt_in, tgt_lengths)
        loss = masked_cross_entropy(logits, tgt_out, lengths=tgt_lengths)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
    src, src_lengths, _, tgt_out, tgt_lengths = digit_batch(300, torch.Generator().manual_seed(999))
    held_out = [b for b in range(300) if tuple(src[b, : src_lengths[b]].tolist()) not in seen]
    assert len(held_out) > 200
    decoded, _ = model.translate(src[held_out], src_lengths[held_out], max_length=12)
    exact = [
        int(decoded.lengths[k]) == int(tgt_lengths[b])
        and decoded.tokens[k, : tgt_lengths[b]].equal(tgt_out[b, : tgt_lengths[b]])
        for k, b in enumerate(held_out)
    ]
    assert sum(exact) / len(exact) >= 0.9


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("input_feeding", [False, True])
def test_attention_sums_to_one_over_the_source_and_is_zero_on_padding(kind, input_feeding):
    model = build(attention=kind, input_feeding=input_feeding, decoder=RNNConfig(cell="gru", hidden_size=16))
    src, src_lengths = padded_sources()
    tgt_in = torch.randint(4, 14, (6, 5))
    _, attention = model(src, src_lengths, tgt_in)
    valid = (torch.arange(9) < src_lengths.unsqueeze(1)).unsqueeze(1).expand(-1, 5, -1)  # (B, T, S)
    assert torch.all(attention[~valid] == 0.0)
    torch.testing.assert_close(attention.sum(-1), torch.ones(6, 5))
    decoded, weights = model.translate(src, src_lengths, max_length=6, strategy="beam", beam_size=3)
    steps = torch.arange(weights.size(1)).unsqueeze(0) < decoded.lengths.unsqueeze(1)  # (B, L)
    torch.testing.assert_close(weights.sum(-1), steps.float())  # rows past each output's length are zero
    assert torch.all(weights.masked_select(~valid[:, :1].expand_as(weights)) == 0.0)


def decode_by_hand(model, src, src_lengths, tgt_in):
    """The module docstring's equations, one step and one weight matrix at a time (teacher-forced)."""
    state = model.encode(src, src_lengths)
    memory, hidden = state.memory, state.hidden
    attentional = torch.zeros(src.size(0), model.decoder.output_size)  # h̃_0
    mask = torch.arange(src.size(1)).unsqueeze(0) < src_lengths.unsqueeze(1)
    logits = []
    for t in range(tgt_in.size(1)):
        x = model.tgt_embedding.weight[tgt_in[:, t]]
        if model.config.input_feeding:
            x = torch.cat([x, attentional], -1)
        h, hidden = model.decoder(x.unsqueeze(1), hidden)
        h = h[:, 0]
        if model.config.attention == "general":  # e_s = h_tᵀ W m_s
            scores = torch.einsum("bh,hk,bsk->bs", h, model.attention.key_proj.weight, memory)
        else:  # dot: e_s = h_tᵀ m_s
            scores = torch.einsum("bh,bsh->bs", h, memory)
        a = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
        c = torch.einsum("bs,bsk->bk", a, memory)
        attentional = torch.tanh(torch.cat([c, h], -1) @ model.combine.weight.T)
        logits.append(attentional @ model.output.weight.T + model.output.bias)
    return torch.stack(logits, 1)


@pytest.mark.parametrize("input_feeding", [False, True])
@pytest.mark.parametrize("kind", ["general", "dot"])
def test_teacher_forced_forward_and_step_follow_the_equations(input_feeding, kind):
    model = build(input_feeding=input_feeding, attention=kind, decoder=RNNConfig(cell="lstm", hidden_size=16))
    src, src_lengths = padded_sources()
    tgt_in = torch.randint(4, 14, (6, 5))
    expected = decode_by_hand(model, src, src_lengths, tgt_in)
    logits, _ = model(src, src_lengths, tgt_in)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    state, stepped = model.encode(src, src_lengths), []
    for t in range(5):
        step_logits, state = model.step(tgt_in[:, t], state)
        stepped.append(step_logits)
    torch.testing.assert_close(torch.stack(stepped, 1), expected, rtol=1e-5, atol=1e-5)


def test_teacher_forcing_ratio_zero_feeds_back_the_models_own_argmax():
    """Scheduled sampling at ratio 0 is greedy decoding: the same logits as greedy_decode's steps."""
    model = build(input_feeding=True).train()  # dropout 0: training mode is deterministic
    src, src_lengths = padded_sources()
    tgt_in = torch.randint(4, 14, (6, 6))
    tgt_in[:, 0] = BOS
    free_running, _ = model(src, src_lengths, tgt_in, teacher_forcing_ratio=0.0)
    recorded = []

    def step(tokens, state):
        logits, state = model.step(tokens, state)
        recorded.append(logits)
        return logits, state

    greedy = greedy_decode(step, model.encode(src, src_lengths), tgt_in[:, 0], max_length=6)  # no EOS stop
    torch.testing.assert_close(free_running, torch.stack(recorded, 1), rtol=1e-5, atol=1e-5)
    assert free_running.argmax(-1).equal(greedy.tokens)
    teacher_forced, _ = model(src, src_lengths, tgt_in, teacher_forcing_ratio=1.0)
    assert not torch.allclose(teacher_forced, free_running)
    model.eval()  # eval: always teacher-forced, whatever the ratio
    torch.testing.assert_close(model(src, src_lengths, tgt_in, teacher_forcing_ratio=0.0)[0], teacher_forced)


def test_scheduled_sampling_mixes_gold_and_own_tokens_per_step():
    model = build().train()
    src, src_lengths = padded_sources()
    tgt_in = torch.randint(4, 14, (6, 8))
    forced, _ = model(src, src_lengths, tgt_in, teacher_forcing_ratio=1.0)
    free, _ = model(src, src_lengths, tgt_in, teacher_forcing_ratio=0.0)
    torch.manual_seed(3)
    mixed, _ = model(src, src_lengths, tgt_in, teacher_forcing_ratio=0.5)
    torch.testing.assert_close(mixed[:, 0], forced[:, 0])  # the first input is always BOS/gold
    same_as_forced = torch.isclose(mixed, forced, atol=1e-6).all(-1)  # (B, T)
    assert 0 < same_as_forced.float().mean() < 1 and not torch.allclose(mixed, free)


def test_beam_size_one_is_greedy():
    model = build(peaky=True, input_feeding=True)
    src, src_lengths = padded_sources()
    greedy, greedy_attention = model.translate(src, src_lengths, max_length=8)
    beam, beam_attention = model.translate(src, src_lengths, max_length=8, strategy="beam", beam_size=1)
    assert beam.tokens.equal(greedy.tokens) and beam.lengths.equal(greedy.lengths)
    torch.testing.assert_close(beam.scores, greedy.scores)
    torch.testing.assert_close(beam_attention, greedy_attention)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_a_wider_beam_scores_at_least_greedy_and_its_scores_are_the_models_log_probabilities(alpha):
    model = build(
        peaky=True,
        input_feeding=True,
        attention="additive",
        encoder=RNNConfig(cell="lstm", hidden_size=8, bidirectional=True),
    )
    src, src_lengths = padded_sources()
    greedy, _ = model.translate(src, src_lengths, max_length=8)
    beam, _ = model.translate(src, src_lengths, max_length=8, strategy="beam", beam_size=4, alpha=alpha)
    normalised = beam.scores / length_penalty(beam.lengths, alpha)
    assert torch.all(normalised >= greedy.scores / length_penalty(greedy.lengths, alpha) - 1e-5)
    assert (
        normalised > greedy.scores / length_penalty(greedy.lengths, alpha) + 1e-3
    ).any()  # beam found better
    # a wrongly reordered state would give tokens whose score is not their log-probability under the model
    tgt_in = torch.cat([torch.full((6, 1), BOS), beam.tokens[:, :-1]], 1)
    logits, _ = model(src, src_lengths, tgt_in, beam.lengths)
    log_probs = torch.log_softmax(logits, -1).gather(2, beam.tokens.unsqueeze(2)).squeeze(2)
    valid = torch.arange(beam.tokens.size(1)) < beam.lengths.unsqueeze(1)
    torch.testing.assert_close((log_probs * valid).sum(1), beam.scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(attention="dot", decoder=RNNConfig(cell="gru", hidden_size=16)),
        dict(
            attention="additive",
            input_feeding=True,
            encoder=RNNConfig(cell="lstm", hidden_size=8, bidirectional=True, layer_norm=True),
        ),
        dict(
            attention="general",
            input_feeding=True,
            decoder=RNNConfig(cell="lstm", hidden_size=16, num_layers=2),
        ),
    ],
    ids=["dot-gru", "additive-feed-lnlstm", "general-feed-lstm2"],
)
def test_a_source_alone_and_in_a_padded_batch_give_the_same_logits_and_translation(overrides):
    model = build(peaky=True, **overrides)
    src, src_lengths = padded_sources()
    tgt_in = torch.randint(4, 14, (6, 5))
    logits, attention = model(src, src_lengths, tgt_in)
    greedy, greedy_attention = model.translate(src, src_lengths, max_length=7)
    beam, _ = model.translate(src, src_lengths, max_length=7, strategy="beam", beam_size=3, alpha=0.6)
    for b, n in enumerate(src_lengths.tolist()):
        alone = src[b : b + 1, :n]
        alone_logits, alone_attention = model(alone, torch.tensor([n]), tgt_in[b : b + 1])
        torch.testing.assert_close(logits[b : b + 1], alone_logits, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(attention[b : b + 1, :, :n], alone_attention, rtol=1e-5, atol=1e-5)
        for batched, strategy in ((greedy, "greedy"), (beam, "beam")):
            one, _ = model.translate(alone, None, max_length=7, strategy=strategy, beam_size=3, alpha=0.6)
            length = int(batched.lengths[b])
            assert int(one.lengths[0]) == length
            assert one.tokens[0, :length].equal(batched.tokens[b, :length])
            torch.testing.assert_close(one.scores[0], batched.scores[b], rtol=1e-4, atol=1e-4)


def test_padded_target_steps_are_zero_and_never_change_the_valid_ones():
    model = build(input_feeding=True)
    src, src_lengths = padded_sources()
    tgt_in, tgt_lengths = torch.randint(4, 14, (6, 6)), torch.tensor([6, 1, 3, 5, 2, 4])
    logits, attention = model(src, src_lengths, tgt_in, tgt_lengths)
    garbage = tgt_in.clone()
    garbage[torch.arange(6).unsqueeze(0) >= tgt_lengths.unsqueeze(1)] = 1
    other_logits, _ = model(src, src_lengths, garbage, tgt_lengths)
    torch.testing.assert_close(logits, other_logits)
    padded = torch.arange(6).unsqueeze(0) >= tgt_lengths.unsqueeze(1)
    assert torch.all(logits[padded] == 0) and torch.all(attention[padded] == 0)


def test_the_bridge_is_tanh_of_a_linear_map_of_all_final_encoder_states():
    """2-layer bidirectional LSTM encoder -> 1-layer GRU decoder: s_0 = tanh(W [h_n of all 4 rows; c_n] + b)."""
    model = build(
        encoder=RNNConfig(cell="lstm", hidden_size=8, num_layers=2, bidirectional=True),
        decoder=RNNConfig(cell="gru", hidden_size=16),
    )
    src, src_lengths = padded_sources()
    _, (h_n, c_n) = model.encoder(model.src_embedding(src), lengths=src_lengths)  # (4, B, 8) each
    features = torch.cat([h_n.permute(1, 0, 2).reshape(6, 32), c_n.permute(1, 0, 2).reshape(6, 32)], 1)
    (linear,) = model.bridge.maps
    expected = torch.tanh(features @ linear.weight.T + linear.bias)  # (B, 16)
    torch.testing.assert_close(model.encode(src, src_lengths).hidden, expected.unsqueeze(0))
    no_bridge = build(bridge=False)
    assert no_bridge.bridge is None and no_bridge.encode(src, src_lengths).hidden is None


@pytest.mark.parametrize("tie", [False, True])
def test_save_and_load_round_trip(tmp_path, tie):
    model = build(peaky=True, tie_embeddings=tie, embedding_dim=16, input_feeding=True)
    if tie:
        assert model.output.weight is model.tgt_embedding.weight
    src, src_lengths = padded_sources()
    tgt_in = torch.randint(4, 14, (6, 5))
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model").eval()
    assert isinstance(loaded, Seq2Seq) and loaded.config == model.config
    assert loaded(src, src_lengths, tgt_in)[0].equal(model(src, src_lengths, tgt_in)[0])
    ours, theirs = (
        model.translate(src, src_lengths, strategy="beam"),
        loaded.translate(src, src_lengths, strategy="beam"),
    )
    assert ours[0].tokens.equal(theirs[0].tokens) and ours[1].equal(theirs[1])
    if tie:
        assert loaded.output.weight is loaded.tgt_embedding.weight


def test_loading_weights_with_a_missing_or_an_unexpected_tensor_names_it(tmp_path):
    save_model(build(), tmp_path)
    tensors = load_file(tmp_path / WEIGHTS_FILE)
    missing = {k: v for k, v in tensors.items() if k != "combine.weight"}
    save_file(missing, tmp_path / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="missing tensors.*combine.weight"):
        load_model(tmp_path)
    save_file({**tensors, "attention.extra": torch.zeros(2)}, tmp_path / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="unexpected tensors.*attention.extra"):
        load_model(tmp_path)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_config_round_trips_and_rejects_unknown_keys(tmp_path, suffix):
    config = small(
        attention="additive",
        attention_size=12,
        input_feeding=True,
        teacher_forcing_ratio=0.75,
        encoder=RNNConfig(cell="lstm", hidden_size=8, zoneout=(0.1, 0.2), bidirectional=True),
    )
    path = tmp_path / f"seq2seq{suffix}"
    save_config(config, path)
    assert load_config(Seq2SeqConfig, path) == config
    assert config.rnn is config.encoder
    text = path.read_text().replace("input_feeding", "input_feedin")
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"{path}.*unknown key 'input_feedin' in Seq2SeqConfig"):
        load_config(Seq2SeqConfig, path)


VARIANTS = {
    "gru-no-reset-after": (
        RNNConfig(cell="gru", hidden_size=8, reset_after=False),
        RNNConfig(cell="gru", hidden_size=8, reset_after=False),
    ),
    "bilstm-layernorm-2layers->gru": (
        RNNConfig(cell="lstm", hidden_size=8, num_layers=2, layer_norm=True, bidirectional=True),
        RNNConfig(cell="gru", hidden_size=16),
    ),
    "mingru->mingru": (
        RNNConfig(cell="mingru", hidden_size=8, bidirectional=True),
        RNNConfig(cell="mingru", hidden_size=12),
    ),
    "indrnn->lstm-proj-2layers": (
        RNNConfig(cell="indrnn", hidden_size=8),
        RNNConfig(cell="lstm", hidden_size=16, proj_size=8, num_layers=2),
    ),
    "bigru->minlstm": (
        RNNConfig(cell="gru", hidden_size=8, bidirectional=True, learn_initial_state=True),
        RNNConfig(cell="minlstm", hidden_size=8),
    ),
}


@pytest.mark.parametrize("input_feeding", [False, True])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_works_with_rnn_variants(variant, input_feeding):
    encoder, decoder = VARIANTS[variant]
    model = build(encoder=encoder, decoder=decoder, input_feeding=input_feeding, attention="general").train()
    src, src_lengths = padded_sources()
    tgt_in = torch.randint(4, 14, (6, 5))
    logits, attention = model(src, src_lengths, tgt_in)
    assert logits.shape == (6, 5, V) and attention.shape == (6, 5, 9)
    logits.logsumexp(-1).sum().backward()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and parameter.grad.isfinite().all(), name
    model.eval()
    alone, _ = model(src[1:2, :1], src_lengths[1:2], tgt_in[1:2])
    torch.testing.assert_close(model(src, src_lengths, tgt_in)[0][1:2], alone, rtol=1e-5, atol=1e-5)
    decoded, weights = model.translate(src, src_lengths, max_length=4, strategy="beam", beam_size=2)
    assert decoded.tokens.shape[0] == 6 and weights.shape == (6, decoded.tokens.size(1), 9)


def test_translate_runs_in_eval_mode_and_restores_the_mode():
    model = build(dropout=0.5).train()
    src, src_lengths = padded_sources()
    first, second = model.translate(src, src_lengths), model.translate(src, src_lengths)
    assert model.training and first[0].tokens.equal(second[0].tokens)


def test_is_registered_and_built_from_its_config():
    assert MODELS["seq2seq"] is Seq2Seq and Seq2Seq.config_class is Seq2SeqConfig
    assert isinstance(Seq2Seq.from_config(small()), Seq2Seq)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (dict(decoder=RNNConfig(hidden_size=8, bidirectional=True)), "decoder.bidirectional must be False"),
        (
            dict(attention="dot", decoder=RNNConfig(hidden_size=8)),
            "'dot' needs encoder.output_size == decoder.output_size, got 16 and 8",
        ),
        (dict(attention="bilinear"), "attention must be one of"),
        (dict(attention_size=8), "attention_size applies to attention='additive' only"),
        (
            dict(tie_embeddings=True),
            "tie_embeddings needs embedding_dim == decoder.output_size, got 8 and 16",
        ),
        (dict(teacher_forcing_ratio=1.5), "teacher_forcing_ratio must be in"),
        (dict(dropout=1.0), "dropout must be in"),
        (dict(eos_id=2), "bos_id, eos_id and pad_id must differ"),
        (dict(bos_id=14), r"bos_id must be an id in \[0, 14\)"),
        (dict(embedding_dim=0), "embedding_dim must be an int >= 1"),
        (
            dict(decoder=RNNConfig(hidden_size=8, learn_initial_state=True)),
            "learn_initial_state needs bridge=False",
        ),
    ],
)
def test_bad_configs_name_the_field(overrides, match):
    with pytest.raises(ValueError, match=match):
        small(**overrides)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, s, n, t: m(s.float(), n, t), TypeError, "src must hold integer token ids"),
        (lambda m, s, n, t: m(s[0], n, t), ValueError, r"src must have shape \(B, T\)"),
        (lambda m, s, n, t: m(s + 10, n, t), ValueError, r"src ids must be in \[0, 14\)"),
        (lambda m, s, n, t: m(s, n[:3], t), ValueError, r"lengths must have shape \(6,\)"),
        (lambda m, s, n, t: m(s, n * 0, t), ValueError, "lengths must be >= 1"),
        (lambda m, s, n, t: m(s, n, t[:2]), ValueError, "tgt_in must have src's batch size 6, got 2"),
        (lambda m, s, n, t: m(s, n, t, torch.full((6,), 9)), ValueError, "<= the number of steps 5"),
        (lambda m, s, n, t: m(s, n, t, None, 2.0), ValueError, "teacher_forcing_ratio must be in"),
        (
            lambda m, s, n, t: m.translate(s, n, strategy="sample"),
            ValueError,
            "strategy must be 'greedy' or 'beam'",
        ),
        (
            lambda m, s, n, t: m.translate(s, n, strategy="beam", beam_size=0),
            ValueError,
            "beam_size must be >= 1",
        ),
        (lambda m, s, n, t: m.translate(s, n, max_length=0), ValueError, "max_length must be >= 1"),
        (lambda m, s, n, t: Seq2Seq(RNNConfig()), TypeError, "needs a Seq2SeqConfig"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, match):
    model = build()
    src, src_lengths = padded_sources()
    with pytest.raises(error, match=match):
        call(model, src, src_lengths, torch.randint(4, 14, (6, 5)))
