"""SequenceGenerator: learning (memorised text, conditioning, a held-out copy task), step == forward,
padding invariance, decoding (seeds, top_k=1 / beam_size=1 == greedy, EOS, batched prompts, scores as
the model's log-probabilities), save/load with tied weights, configs and errors."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from rnnkit.config import ConfigError, load_config, save_config
from rnnkit.layers.factory import RNNConfig
from rnnkit.losses import masked_cross_entropy
from rnnkit.models import MODELS, load_model, save_model
from rnnkit.models.generator import GeneratorConfig, GeneratorState, SequenceGenerator

BOS, EOS, PAD = 2, 3, 0
V = 11
VARIANTS = [
    RNNConfig(cell="gru", hidden_size=12, reset_after=False),
    RNNConfig(cell="lstm", hidden_size=12, num_layers=2, layer_norm=True),
    RNNConfig(cell="lstm", hidden_size=12, proj_size=6),
    RNNConfig(cell="mingru", hidden_size=12),
    RNNConfig(cell="indrnn", hidden_size=12, num_layers=2),
    RNNConfig(cell="rnn", hidden_size=12),
]
# name -> (config fields, inputs for a batch of B)
CONDITIONS = {
    "none": ({}, lambda b: {}),
    "vector_init": ({"condition_size": 5}, lambda b: {"condition": torch.randn(b, 5)}),
    "vector_every": (
        {"condition_size": 5, "condition_mode": "every_step"},
        lambda b: {"condition": torch.randn(b, 5)},
    ),
    "class_init": ({"num_classes": 3}, lambda b: {"labels": torch.arange(b) % 3}),
    "both_every": (
        {"condition_size": 5, "num_classes": 3, "condition_mode": "every_step"},
        lambda b: {"condition": torch.randn(b, 5), "labels": torch.arange(b) % 3},
    ),
}


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: on a shared 2-core machine, intra-op threads only wait on each other
    (measured: 100 training steps 0.5 s with one thread, 9 s with two under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(rnn=VARIANTS[0], condition="none", seed=0, **fields):
    torch.manual_seed(seed)
    config = GeneratorConfig(vocab_size=V, embedding_dim=8, rnn=rnn, **CONDITIONS[condition][0], **fields)
    return SequenceGenerator(config).eval(), CONDITIONS[condition][1]


def train(model, tokens, lengths, steps, lr, **inputs):
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        logits, _ = model(tokens, lengths, **inputs)
        loss = masked_cross_entropy(logits[:, :-1], tokens[:, 1:], lengths - 1)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def pad_rows(rows, value=PAD):
    width = max(map(len, rows))
    return torch.tensor([r + [value] * (width - len(r)) for r in rows]), torch.tensor(list(map(len, rows)))


TEXTS = ["the cat sat on the mat.", "a dog ran in the fog!"]
CHARS = {ch: i + 4 for i, ch in enumerate(sorted(set("".join(TEXTS))))}
CHAR_SEQS = [[BOS] + [CHARS[ch] for ch in text] + [EOS] for text in TEXTS]


# ----- learning -----------------------------------------------------------------------------------------
def test_memorises_and_reproduces_a_short_text():
    """Char level, tied weights: from <bos> + 3 chars, greedy decoding writes the rest and stops at <eos>."""
    tokens, lengths = pad_rows(CHAR_SEQS)
    torch.manual_seed(0)
    config = GeneratorConfig(len(CHARS) + 4, embedding_dim=48, rnn=RNNConfig("gru", 48), tie_weights=True)
    model = train(SequenceGenerator(config), tokens, lengths, steps=100, lr=0.02)
    out = model.generate(tokens[:, :4], max_new_tokens=40)
    for b, sequence in enumerate(CHAR_SEQS):
        rest = sequence[4:]
        assert out.lengths[b] == len(rest)
        assert out.tokens[b, : len(rest)].tolist() == rest
        assert out.tokens[b, len(rest) :].eq(PAD).all()  # padded after <eos>


@pytest.mark.parametrize("kind", ["labels", "condition"])
@pytest.mark.parametrize("mode", ["init_state", "every_step"])
def test_conditioning_selects_the_memorised_sequence(kind, mode):
    """Two classes (or two condition vectors) -> two texts; from <bos> alone, each reproduces its own."""
    tokens, lengths = pad_rows(CHAR_SEQS)
    torch.manual_seed(1)
    vectors = torch.randn(2, 4)
    fields = {"num_classes": 2} if kind == "labels" else {"condition_size": 4}
    config = GeneratorConfig(len(CHARS) + 4, 16, RNNConfig("gru", 48), condition_mode=mode, **fields)
    inputs = {"labels": torch.tensor([0, 1])} if kind == "labels" else {"condition": vectors}
    model = train(SequenceGenerator(config), tokens, lengths, steps=100, lr=0.02, **inputs)
    swapped = {name: value.flip(0) for name, value in inputs.items()}
    for given_inputs, order in ((inputs, [0, 1]), (swapped, [1, 0])):
        out = model.generate(None, max_new_tokens=40, **given_inputs)
        for b, k in enumerate(order):
            assert out.tokens[b, : out.lengths[b]].tolist() == CHAR_SEQS[k][1:]


def test_learns_to_copy_and_generalises_to_held_out_sequences():
    """``<bos> x1 x2 x3 <sep> -> x1 x2 x3 <eos>``; tested on 103 triples never seen in training."""
    sep, letters = 4, 8
    triples = list(itertools.product(range(letters), repeat=3))
    order = torch.randperm(len(triples), generator=torch.Generator().manual_seed(0)).tolist()

    def rows(indices):
        return torch.tensor([[BOS, *(5 + a for a in triples[i]), sep, *(5 + a for a in triples[i]), EOS]
                             for i in indices])  # fmt: skip

    cut = int(0.8 * len(triples))
    train_rows, test_rows = rows(order[:cut]), rows(order[cut:])
    torch.manual_seed(0)
    model = SequenceGenerator(GeneratorConfig(5 + letters, 16, RNNConfig("lstm", 64)))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    batches = torch.Generator().manual_seed(0)
    for _ in range(200):
        batch = train_rows[torch.randint(len(train_rows), (64,), generator=batches)]
        logits, _ = model(batch)
        loss = masked_cross_entropy(logits[:, 4:-1], batch[:, 5:])  # the copy and <eos> are predictable
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    out = model.generate(test_rows[:, :5], max_new_tokens=6)
    exact = ((out.tokens[:, :4] == test_rows[:, 5:]).all(1) & (out.lengths == 4)).float().mean()
    assert exact >= 0.9, f"held-out exact-match {exact:.2f}"


# ----- forward, step, padding ---------------------------------------------------------------------------
@pytest.mark.parametrize("rnn", VARIANTS, ids=lambda c: c.cell)
@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_step_by_step_equals_forward_and_state_continues(rnn, condition):
    model, make_inputs = make(rnn, condition)
    tokens = torch.randint(0, V, (3, 6))
    inputs = make_inputs(3)
    logits, final = model(tokens, **inputs)
    state, stepped = model.initial_state(**inputs), []
    for t in range(6):
        step_logits, state = model.step(tokens[:, t], state)
        stepped.append(step_logits)
    torch.testing.assert_close(torch.stack(stepped, 1), logits)
    torch.testing.assert_close(state, final)
    first, middle = model(tokens[:, :2], **inputs)  # truncated BPTT: continue from a state
    second, _ = model(tokens[:, 2:], state=middle)
    torch.testing.assert_close(torch.cat([first, second], 1), logits)


@pytest.mark.parametrize("rnn", VARIANTS, ids=lambda c: c.cell)
@settings(max_examples=8, deadline=None)
@given(lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4), data=st.data())
def test_padding_never_changes_a_sequence(rnn, lengths, data):
    model, make_inputs = make(rnn, "both_every")
    inputs = make_inputs(len(lengths))
    width = max(lengths) + data.draw(st.integers(0, 2))
    tokens = torch.randint(0, V, (len(lengths), width))  # junk ids in the padding too
    logits, state = model(tokens, torch.tensor(lengths), **inputs)
    for b, n in enumerate(lengths):
        alone, alone_state = model(tokens[b : b + 1, :n], **{k: v[b : b + 1] for k, v in inputs.items()})
        torch.testing.assert_close(logits[b : b + 1, :n], alone)
        torch.testing.assert_close(state.condition[b : b + 1], alone_state.condition)
        hx = state.hx if isinstance(state.hx, tuple) else (state.hx,)
        alone_hx = alone_state.hx if isinstance(alone_state.hx, tuple) else (alone_state.hx,)
        for part, alone_part in zip(hx, alone_hx):
            torch.testing.assert_close(part[:, b : b + 1], alone_part)


def test_init_state_mode_maps_the_condition_to_every_layer_state():
    model, _ = make(RNNConfig("lstm", 12, num_layers=2, proj_size=6), "vector_init")
    condition = torch.randn(4, 5)
    h, c = model.initial_state(condition).hx
    assert h.shape == (2, 4, 6) and c.shape == (2, 4, 12)
    flat = torch.tanh(model.condition_to_state(condition))  # the documented map, split h then c
    torch.testing.assert_close(h.transpose(0, 1).reshape(4, -1), flat[:, :12])
    torch.testing.assert_close(c.transpose(0, 1).reshape(4, -1), flat[:, 12:])


# ----- decoding -----------------------------------------------------------------------------------------
def log_probability(model, prompt, continuation, **inputs):
    """Oracle: sum of log p(continuation | prompt) from one teacher-forced forward pass."""
    sequence = torch.cat([prompt, continuation]).unsqueeze(0)
    logits, _ = model(sequence, **inputs)
    log_probs = logits[0, len(prompt) - 1 : -1].log_softmax(-1)
    return log_probs.gather(1, continuation.unsqueeze(1)).sum()


@pytest.mark.parametrize("rnn", VARIANTS[:3], ids=lambda c: c.cell)
@pytest.mark.parametrize(
    "options",
    [
        {"strategy": "greedy"},
        {"strategy": "sample", "top_p": 0.9, "seed": 3},
        {"strategy": "beam", "beam_size": 3},
    ],
    ids=lambda o: o["strategy"],
)
def test_scores_are_the_models_log_probabilities(rnn, options):
    """Each returned sequence's score is what a teacher-forced forward pass gives it (prompt state, beam
    reordering of hx and of the condition, and the first step from the prompt's logits all right)."""
    model, make_inputs = make(rnn, "both_every")
    inputs = make_inputs(3)
    prompt, lengths = pad_rows([[BOS, 5, 6, 7], [BOS], [BOS, 9]])
    out = model.generate(prompt, 6, lengths=lengths, **options, **inputs)
    for b in range(3):
        mine = {k: v[b : b + 1] for k, v in inputs.items()}
        expected = log_probability(model, prompt[b, : lengths[b]], out.tokens[b, : out.lengths[b]], **mine)
        torch.testing.assert_close(out.scores[b], expected)


def test_sampling_with_a_seed_is_reproducible():
    model, _ = make()
    prompt = torch.tensor([[BOS, 5], [BOS, 6]])

    def sample(**kw):
        return model.generate(prompt, 30, strategy="sample", temperature=2.0, stop_at_eos=False, **kw).tokens

    assert torch.equal(sample(seed=7), sample(seed=7))
    assert torch.equal(sample(seed=7), sample(generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(sample(seed=7), sample(seed=8))


@pytest.mark.parametrize("rnn", VARIANTS[:3], ids=lambda c: c.cell)
def test_top_k_1_and_beam_size_1_are_greedy(rnn):
    model, make_inputs = make(rnn, "vector_init", seed=2)
    inputs = make_inputs(4)
    prompt, lengths = pad_rows([[BOS, 4], [BOS], [BOS, 8, 9, 5], [BOS, 6, 6]])
    greedy = model.generate(prompt, 12, lengths=lengths, **inputs)
    for options in ({"strategy": "sample", "top_k": 1, "seed": 0}, {"strategy": "beam", "beam_size": 1}):
        other = model.generate(prompt, 12, lengths=lengths, **options, **inputs)
        assert torch.equal(other.tokens, greedy.tokens) and torch.equal(other.lengths, greedy.lengths)
        torch.testing.assert_close(other.scores, greedy.scores)


@pytest.mark.parametrize("strategy", ["greedy", "sample", "beam"])
def test_generation_stops_at_eos(strategy):
    model, _ = make()
    with torch.no_grad():
        model.head.bias[EOS] = 50.0  # <eos> is (almost surely) every next token
    out = model.generate(torch.tensor([[BOS, 5], [BOS, 7]]), 9, strategy=strategy)
    assert out.tokens[:, 0].tolist() == [EOS, EOS] and out.tokens[:, 1:].eq(PAD).all()
    assert out.lengths.tolist() == [1, 1]
    if strategy != "beam":
        longer = model.generate(torch.tensor([[BOS, 5]]), 9, strategy=strategy, stop_at_eos=False)
        assert longer.tokens.tolist() == [[EOS] * 9] and longer.lengths.tolist() == [9]


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
@settings(max_examples=6, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=2, max_size=4))
def test_prompts_of_different_lengths_batch_as_they_run_alone(strategy, lengths):
    model, make_inputs = make(RNNConfig("lstm", 12), "class_init", seed=3)
    inputs = make_inputs(len(lengths))
    rows = [
        [BOS, *torch.randint(4, V, (n - 1,), generator=torch.Generator().manual_seed(n)).tolist()]
        for n in lengths
    ]
    prompt, lengths = pad_rows(rows, value=7)  # non-pad junk after each prompt must not matter
    batched = model.generate(prompt, 8, lengths=lengths, strategy=strategy, **inputs)
    for b, row in enumerate(rows):
        alone = model.generate(torch.tensor([row]), 8, strategy=strategy, labels=inputs["labels"][b : b + 1])
        n = int(alone.lengths[0])
        assert batched.lengths[b] == n
        assert batched.tokens[b, :n].tolist() == alone.tokens[0, :n].tolist()
        torch.testing.assert_close(batched.scores[b], alone.scores[0])


def test_generate_runs_in_eval_mode_without_grad_and_restores_training():
    model, _ = make(dropout=0.5)
    model.train()
    first = model.generate(torch.tensor([[BOS, 5]]), 10)
    assert model.training and not first.tokens.requires_grad and not first.scores.requires_grad
    assert torch.equal(first.tokens, model.generate(torch.tensor([[BOS, 5]]), 10).tokens)  # no dropout
    out = model.generate(None, 4, batch_size=3)  # no prompt: <bos> alone
    assert out.tokens.shape[0] == 3


# ----- save / load / configs ----------------------------------------------------------------------------
@pytest.mark.parametrize("tie", [True, False])
def test_save_load_round_trip(tmp_path, tie):
    model, make_inputs = make(RNNConfig("lstm", 8), "both_every", tie_weights=tie)
    inputs = make_inputs(2)
    save_model(model, tmp_path / "lm")
    loaded = load_model(tmp_path / "lm")
    assert type(loaded) is SequenceGenerator and loaded.config == model.config
    assert (loaded.head.weight is loaded.embedding.weight) == tie
    tokens = torch.randint(0, V, (2, 5))
    torch.testing.assert_close(loaded(tokens, **inputs)[0], model(tokens, **inputs)[0], rtol=0, atol=0)
    prompt = torch.tensor([[BOS, 5], [BOS, 6]])
    options = {"strategy": "sample", "seed": 1, "max_new_tokens": 12}
    assert torch.equal(
        loaded.generate(prompt, **options, **inputs).tokens,
        model.generate(prompt, **options, **inputs).tokens,
    )


@pytest.mark.parametrize("change", ["missing", "unexpected"])
def test_load_rejects_a_weights_file_with_a_missing_or_extra_tensor(tmp_path, change):
    model, _ = make(num_classes=2)
    save_model(model, tmp_path)
    weights = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    name = "class_embedding.weight" if change == "missing" else "surprise.weight"
    if change == "missing":
        del weights[name]
    else:
        weights[name] = torch.zeros(2)
    save_file(weights, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        load_model(tmp_path)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_config_round_trips_and_rejects_unknown_keys(tmp_path, suffix):
    config = GeneratorConfig(30, 16, RNNConfig("lstm", 16, num_layers=2, proj_size=8, zoneout=(0.1, 0.2)),
                             condition_size=4, condition_mode="every_step", num_classes=5, eos_id=1)  # fmt: skip
    path = tmp_path / f"generator{suffix}"
    save_config(config, path)
    assert load_config(GeneratorConfig, path) == config
    assert MODELS["generator"] is SequenceGenerator and SequenceGenerator.config_class is GeneratorConfig
    assert SequenceGenerator.from_config(config).config is config
    path.write_text(path.read_text().replace("num_classes", "num_clases"))
    with pytest.raises(ConfigError, match=rf"generator\{suffix}.*'num_clases'"):
        load_config(GeneratorConfig, path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rnn": RNNConfig("gru", 8, bidirectional=True)}, "bidirectional must be False"),
        (
            {"tie_weights": True, "rnn": RNNConfig("gru", 12)},
            "tie_weights needs embedding_dim == rnn.output_size",
        ),
        ({"vocab_size": 1}, "vocab_size"),
        ({"eos_id": V}, "eos_id must be a token id"),
        ({"dropout": 1.0}, "dropout"),
        ({"condition_mode": "sometimes"}, "condition_mode"),
        ({"condition_size": 0}, "condition_size"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_bad_configs_name_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**{"vocab_size": V, "embedding_dim": 8, **fields})


def test_tie_weights_with_a_projection_checks_the_projected_size():
    config = GeneratorConfig(V, 6, RNNConfig("lstm", 12, proj_size=6), tie_weights=True)
    model = SequenceGenerator(config)
    assert model.head.weight is model.embedding.weight


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m(torch.randn(2, 3)), TypeError, "integer Tensor"),
        (lambda m: m(torch.tensor([1, 2])), ValueError, r"shape \(B, T\)"),
        (lambda m: m(torch.tensor([[1, V]])), ValueError, "vocab_size"),
        (lambda m: m(torch.zeros(1, 0, dtype=torch.long)), ValueError, "T >= 1"),
        (lambda m: m(torch.tensor([[1, 2]]), torch.tensor([3])), ValueError, "lengths"),
        (lambda m: m(torch.tensor([[1, 2]])), ValueError, "give condition"),
        (lambda m: m(torch.tensor([[1, 2]]), condition=torch.randn(1, 4)), ValueError, r"shape \(B, 5\)"),
        (
            lambda m: m(torch.tensor([[1, 2]]), condition=torch.randn(2, 5)),
            ValueError,
            "2 rows, tokens have 1",
        ),
        (lambda m: m(torch.tensor([[1]]), condition=torch.ones(1, 5, dtype=torch.long)), TypeError, "float"),
        (lambda m: m.step(torch.tensor([[1]]), None), ValueError, r"shape \(N,\)"),
        (lambda m: m.step(torch.tensor([1]), None), ValueError, "give condition"),
        (lambda m: m.step(torch.tensor([1]), GeneratorState(None)), ValueError, "needs state.condition"),
        (
            lambda m: m.generate(torch.tensor([[2]]), 0, condition=torch.randn(1, 5)),
            ValueError,
            "max_new_tokens",
        ),
        (lambda m: m.generate(None, 3, strategy="nucleus"), ValueError, "strategy"),
        (lambda m: m.generate(None, 3, top_k=5), ValueError, "top_k applies to strategy='sample'"),
        (lambda m: m.generate(None, 3, beam_size=2), ValueError, "beam_size applies to strategy='beam'"),
        (
            lambda m: m.generate(None, 3, strategy="sample", seed=1, generator=torch.Generator()),
            ValueError,
            "seed or generator",
        ),
        (lambda m: m.generate(None, 3, strategy="beam", stop_at_eos=False), ValueError, "stop_at_eos"),
        (
            lambda m: m.generate(None, 3, strategy="beam", beam_size=0, condition=torch.randn(1, 5)),
            ValueError,
            "beam_size must be >= 1",
        ),
        (lambda m: m.generate(None, 3, lengths=torch.tensor([1])), ValueError, "no prompt"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, message):
    model, _ = make(condition="vector_every")
    with pytest.raises(error, match=message):
        call(model)


def test_conditioning_inputs_must_match_the_config():
    unconditioned, _ = make()
    with pytest.raises(ValueError, match="condition_size is None"):
        unconditioned(torch.tensor([[2]]), condition=torch.randn(1, 5))
    classes, _ = make(condition="class_init")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=3\)"):
        classes(torch.tensor([[2]]), labels=torch.tensor([3]))
    with pytest.raises(ValueError, match="give labels"):
        classes.generate(None, 3)
    state = classes.initial_state(labels=torch.tensor([0]))
    with pytest.raises(ValueError, match="not both"):
        classes(torch.tensor([[2]]), labels=torch.tensor([0]), state=state)
    assert isinstance(state, GeneratorState)
