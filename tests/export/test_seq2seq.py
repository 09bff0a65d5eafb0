"""Seq2Seq and language models as ONNX encoder / prompt + decoder-step graphs, decoded in ONNX Runtime.

Parity with rnnkit at batch sizes and lengths other than the export's (3 rows, 7 or 6 steps), with variable
lengths inside a batch; greedy and beam search from NumPy give rnnkit's own token sequences.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.export.ort_decoding import OrtGenerator, OrtSeq2Seq
from rnnkit.export.seq2seq import export_generator, export_seq2seq
from rnnkit.layers.factory import RNNConfig
from rnnkit.models.generator import GeneratorConfig, SequenceGenerator
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

pytestmark = pytest.mark.filterwarnings("ignore")
TOLERANCE = 1e-5

SEQ2SEQ = {
    "bilstm-lstm2-additive-feeding": dict(
        encoder=RNNConfig(cell="lstm", hidden_size=6, bidirectional=True),
        decoder=RNNConfig(cell="lstm", hidden_size=7, num_layers=2), attention="additive", input_feeding=True,
    ),
    "gru2-gru-general-zeros": dict(
        encoder=RNNConfig(cell="gru", hidden_size=6, num_layers=2), decoder=RNNConfig(cell="gru", hidden_size=8),
        attention="general", bridge=False,
    ),
    "bilnlstm-lnlstm-dot": dict(
        encoder=RNNConfig(cell="lstm", hidden_size=4, bidirectional=True, layer_norm=True),
        decoder=RNNConfig(cell="lstm", hidden_size=8, layer_norm=True), attention="dot",
    ),
    "gru2-bridge-lstm2-general": dict(
        encoder=RNNConfig(cell="gru", hidden_size=5, num_layers=2), decoder=RNNConfig(cell="lstm", hidden_size=6,
        num_layers=2), attention="general",
    ),
    "bigru2-learned-init-tied": dict(
        encoder=RNNConfig(cell="gru", hidden_size=5, num_layers=2, bidirectional=True), embedding_dim=9,
        decoder=RNNConfig(cell="gru", hidden_size=9, learn_initial_state=True), bridge=False,
        tie_embeddings=True,
    ),
}  # fmt: skip


def seq2seq_model(name: str, sharp: bool = False) -> Seq2Seq:
    """A random model; ``sharp``: with larger weights and EOS's bias set so that outputs end at different
    lengths (for the decoding tests; larger activations make float32 differences larger than 1e-5)."""
    torch.manual_seed(0)
    options = {"embedding_dim": 8, **SEQ2SEQ[name]}
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=23, tgt_vocab_size=17, **options)).eval()
    with torch.no_grad():
        for key, parameter in model.named_parameters():
            if "initial" in key:  # a learned initial state starts at zero: make it count
                parameter.normal_()
        if not sharp:
            return model
        sharpen(model)
        src, lengths = sources(8, 9, seed=99)
        tgt_in = torch.randint(4, 17, (8, 10)).index_fill(1, torch.tensor([0]), model.config.bos_id)
        logits, _ = model(src, lengths, tgt_in)
        end_about_one_step_in(6, model.output.bias, logits, model.config.eos_id)
    return model


def sharpen(model: torch.nn.Module) -> None:
    """Random weights, but large enough that the logits depend on the input."""
    for parameter in model.parameters():
        parameter.mul_(2.5)


def end_about_one_step_in(steps: int, bias: torch.Tensor, logits: torch.Tensor, eos: int) -> None:
    """Shift EOS's bias so that it is the argmax at about one position in ``steps`` of ``logits`` (B, T, V),
    and never at the first: outputs end at different lengths, testing EOS handling."""
    others = torch.cat([logits[..., :eos], logits[..., eos + 1 :]], dim=-1).amax(-1)
    margin = logits[..., eos] - others  # (B, T): EOS is the argmax where > 0
    bias[eos] -= torch.maximum(margin.flatten().quantile(1 - 1 / steps), margin[:, 0].max() + 0.1)


def sources(batch: int, steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    src = torch.randint(4, 23, (batch, steps), generator=generator)
    return src.masked_fill(torch.arange(steps) >= lengths.unsqueeze(1), 0), lengths


def batch_first(hidden) -> list[np.ndarray]:
    parts = hidden if isinstance(hidden, tuple) else (hidden,)
    return [p.transpose(0, 1).numpy() for p in parts]


@pytest.mark.parametrize("name", list(SEQ2SEQ))
def test_seq2seq_graphs_match_encode_and_step(name, tmp_path):
    model = seq2seq_model(name)
    paths = export_seq2seq(model, tmp_path, opset=17)
    assert set(paths) == {"encoder", "decoder_step", "decoding"} and all(p.is_file() for p in paths.values())
    runner = OrtSeq2Seq(tmp_path)
    for batch, steps in [(1, 1), (5, 12), (8, 4)]:
        src, lengths = sources(batch, steps, seed=batch)
        state = runner.encode(src.numpy(), lengths.numpy())
        with torch.no_grad():
            expected = model.encode(src, lengths)
        assert np.abs(state["memory"] - expected.memory.numpy()).max() <= TOLERANCE
        assert np.abs(state["keys"] - expected.keys.numpy()).max() <= TOLERANCE
        if expected.hidden is not None:
            for got, want in zip([state["state_h"], state.get("state_c")], batch_first(expected.hidden)):
                assert np.abs(got - want).max() <= TOLERANCE
        tokens = torch.randint(0, 17, (batch,))
        for _ in range(3):  # the state carried through ONNX Runtime steps as through rnnkit's
            with torch.no_grad():
                logits, expected = model.step(tokens, expected)
            got, state = runner.step(tokens.numpy(), state)
            assert np.abs(got - logits.numpy()).max() <= TOLERANCE
            for got_part, want in zip([state["state_h"], state.get("state_c")], batch_first(expected.hidden)):
                assert np.abs(got_part - want).max() <= TOLERANCE
            if expected.feed is not None:
                assert np.abs(state["feed"] - expected.feed.numpy()).max() <= TOLERANCE
            tokens = logits.argmax(-1)


@pytest.mark.parametrize("name", list(SEQ2SEQ))
def test_seq2seq_greedy_and_beam_equal_rnnkit(name, tmp_path):
    model = seq2seq_model(name, sharp=True)
    export_seq2seq(model, tmp_path, opset=17)
    runner = OrtSeq2Seq(tmp_path)
    src, lengths = sources(6, 9, seed=3)
    for strategy, beam_size, alpha in [
        ("greedy", 4, 0.6),
        ("beam", 1, 0.6),
        ("beam", 3, 0.6),
        ("beam", 4, 0.0),
    ]:
        expected, _ = model.translate(src, lengths, max_length=12, strategy=strategy, beam_size=beam_size,
                                      alpha=alpha)  # fmt: skip
        got = runner.translate(src.numpy(), lengths.numpy(), max_length=12, strategy=strategy,
                               beam_size=beam_size, alpha=alpha)  # fmt: skip
        np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())
        np.testing.assert_array_equal(got.lengths, expected.lengths.numpy())
        np.testing.assert_allclose(got.scores, expected.scores.numpy(), atol=1e-4)


def test_seq2seq_lists_of_ids_and_default_length(tmp_path):
    model = seq2seq_model("gru2-gru-general-zeros", sharp=True).train()
    export_seq2seq(model, tmp_path, opset=17)
    assert model.training  # exported in eval mode, the mode restored
    model.eval()
    rows = [[5, 6, 7, 8], [9, 10]]
    got = OrtSeq2Seq(tmp_path).translate(rows, strategy="beam", beam_size=2)
    src, lengths = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([4, 2])
    expected, _ = model.translate(src, lengths, strategy="beam", beam_size=2)  # max_length 2 * 4 + 10
    assert got.sequences() == [row[:n] for row, n in zip(expected.tokens.tolist(), expected.lengths.tolist())]
    info = json.loads((tmp_path / "decoding.json").read_text())
    assert (info["model"], info["vocab_size"], info["src_vocab_size"], info["eos_id"]) == (
        "seq2seq",
        17,
        23,
        3,
    )
    with pytest.raises(ValueError, match=r"ids must be in \[0, 23\)"):
        OrtSeq2Seq(tmp_path).translate([[5, 40]])
    with pytest.raises(ValueError, match="'model' is 'seq2seq'"):
        OrtGenerator(tmp_path)


GENERATORS = {
    "lstm2": dict(rnn=RNNConfig(cell="lstm", hidden_size=8, num_layers=2)),
    "gru-init-state-condition-labels": dict(
        rnn=RNNConfig(cell="gru", hidden_size=7), condition_size=3, num_classes=4
    ),
    "lnlstm-every-step-condition": dict(
        rnn=RNNConfig(cell="lstm", hidden_size=6, layer_norm=True), condition_size=3,
        condition_mode="every_step",
    ),
    "lstm-proj-learned-init": dict(rnn=RNNConfig(cell="lstm", hidden_size=8, proj_size=4,
                                                 learn_initial_state=True, num_layers=2)),
}  # fmt: skip


def generator_model(name: str, sharp: bool = False) -> SequenceGenerator:
    """A random model; ``sharp``: as for :func:`seq2seq_model`."""
    torch.manual_seed(1)
    model = SequenceGenerator(GeneratorConfig(vocab_size=19, embedding_dim=6, **GENERATORS[name])).eval()
    with torch.no_grad():
        for key, parameter in model.named_parameters():
            if "initial" in key:  # a learned initial state starts at zero: make it count
                parameter.normal_()
        if not sharp:
            return model
        sharpen(model)
        tokens, lengths = prompts(8, 10, seed=99)
        logits, _ = model(tokens, lengths, **conditioning(model, 8))
        end_about_one_step_in(6, model.head.bias, logits, model.config.eos_id)
    return model


def conditioning(model: SequenceGenerator, batch: int) -> dict[str, torch.Tensor]:
    c, out = model.config, {}
    if c.condition_size:
        out["condition"] = torch.randn(
            batch, c.condition_size, generator=torch.Generator().manual_seed(batch)
        )
    if c.num_classes:
        out["labels"] = torch.arange(batch) % c.num_classes
    return out


def prompts(batch: int, steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[-1] = steps
    return torch.randint(4, 19, (batch, steps), generator=generator), lengths


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generator_graphs_match_forward_and_step(name, tmp_path):
    model = generator_model(name)
    paths = export_generator(model, tmp_path, opset=17)
    assert set(paths) == {"prompt", "decoder_step", "decoding"}
    runner = OrtGenerator(tmp_path)
    for batch, steps in [(1, 1), (5, 11), (2, 3)]:
        tokens, lengths = prompts(batch, steps, seed=steps)
        extra = conditioning(model, batch)
        logits, state = runner.run_prompt(
            tokens.numpy(), lengths.numpy(), **{k: v.numpy() for k, v in extra.items()}
        )
        with torch.no_grad():
            all_logits, expected = model(tokens, lengths, **extra)
        last = all_logits[torch.arange(batch), lengths - 1]
        assert np.abs(logits - last.numpy()).max() <= TOLERANCE
        step_tokens = tokens[:, 0]
        for _ in range(3):
            for got, want in zip([state["state_h"], state.get("state_c")], batch_first(expected.hx)):
                assert np.abs(got - want).max() <= TOLERANCE
            with torch.no_grad():
                want_logits, expected = model.step(step_tokens, expected)
            logits, state = runner.step(step_tokens.numpy(), state)
            assert np.abs(logits - want_logits.numpy()).max() <= TOLERANCE
            step_tokens = want_logits.argmax(-1)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generator_greedy_and_beam_equal_rnnkit(name, tmp_path):
    model = generator_model(name, sharp=True)
    export_generator(model, tmp_path, opset=17)
    runner = OrtGenerator(tmp_path)
    tokens, lengths = prompts(5, 6, seed=4)
    extra = conditioning(model, 5)
    numpy_extra = {k: v.numpy() for k, v in extra.items()}
    for options in [
        dict(strategy="greedy"),
        dict(strategy="beam", beam_size=3),
        dict(strategy="beam", alpha=0.6),
    ]:
        expected = model.generate(tokens, 10, lengths=lengths, **options, **extra)
        got = runner.generate(tokens.numpy(), 10, lengths=lengths.numpy(), **options, **numpy_extra)
        np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())
        np.testing.assert_array_equal(got.lengths, expected.lengths.numpy())
        np.testing.assert_allclose(got.scores, expected.scores.numpy(), atol=1e-4)
    expected = model.generate(None, 8, batch_size=None if extra else 3, stop_at_eos=False, **extra)
    got = runner.generate(None, 8, batch_size=None if extra else 3, stop_at_eos=False, **numpy_extra)
    np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())


def test_generator_sampling_is_seeded_and_top_k_1_is_greedy(tmp_path):
    model = generator_model("lstm2", sharp=True)
    export_generator(model, tmp_path, opset=17)
    runner = OrtGenerator(tmp_path)
    prompt = [[2, 5, 6], [2, 7]]
    first = runner.generate(prompt, 12, strategy="sample", temperature=0.9, top_p=0.8, seed=3)
    again = runner.generate(prompt, 12, strategy="sample", temperature=0.9, top_p=0.8, seed=3)
    np.testing.assert_array_equal(first.tokens, again.tokens)
    greedy = runner.generate(prompt, 12)
    top1 = runner.generate(prompt, 12, strategy="sample", top_k=1, temperature=0.5, seed=0)
    np.testing.assert_array_equal(top1.tokens, greedy.tokens)
    np.testing.assert_allclose(top1.scores, greedy.scores, atol=1e-6)
    with pytest.raises(ValueError, match="top_k applies to strategy='sample'"):
        runner.generate(prompt, 5, top_k=3)
    with pytest.raises(ValueError, match="needs condition"):
        OrtGenerator(_exported(generator_model("gru-init-state-condition-labels"), tmp_path / "c")).generate(
            None, 3
        )


def _exported(model: SequenceGenerator, folder: Path) -> Path:
    export_generator(model, folder, opset=17)
    return folder


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_a_model_on_the_gpu_exports_from_a_cpu_copy(tmp_path):
    model = seq2seq_model("bilstm-lstm2-additive-feeding", sharp=True)
    export_seq2seq(model.cuda(), tmp_path, opset=17)
    assert next(model.parameters()).is_cuda
    src, lengths = sources(4, 6, seed=5)
    expected, _ = model.cpu().translate(src, lengths, max_length=8, strategy="beam", beam_size=3)
    got = OrtSeq2Seq(tmp_path).translate(
        src.numpy(), lengths.numpy(), max_length=8, strategy="beam", beam_size=3
    )
    np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())
