"""Decoding of exported autoregressive models in ONNX Runtime, with NumPy only (no torch).

:class:`OrtSeq2Seq` translates with the ``encoder.onnx`` + ``decoder_step.onnx`` folder of
:func:`rnnkit.export.seq2seq.export_seq2seq`; :class:`OrtGenerator` continues prompts with the
``prompt.onnx`` + ``decoder_step.onnx`` folder of :func:`rnnkit.export.seq2seq.export_generator`. Token ids
in, token ids out: tokenising is the caller's. This file imports only the standard library, NumPy and
onnxruntime, so it also runs copied next to an exported folder on a machine without torch (importing it as
``rnnkit.export.ort_decoding`` runs the ``rnnkit`` package's ``__init__``, which imports torch).

The searches are those of :mod:`rnnkit.models.decoding`, step for step:

* greedy: the argmax at every step (the lowest id on a tie, as torch's argmax), until EOS or ``max_length``;
* beam: ``beam_size`` prefixes kept by summed log-probability; a finished hypothesis stays in the beam,
  extended by padding at no cost; the best finished one by ``score / ((5 + length) / 6) ** alpha`` (GNMT) is
  returned, unless the greedy sequence scores better by that measure (so a wider beam never does worse than
  greedy, and ``beam_size=1`` is greedy). Candidates with exactly equal scores are ranked by lower flat index;
  torch's ``topk`` leaves that order unspecified, so only such exact ties could part the two;
* sample (generator only): ``softmax(logits / temperature)`` restricted to ``top_k`` and/or the ``top_p``
  nucleus (the filter of rnnkit, tested equal), drawn with ``numpy.random.default_rng(seed)``: reproducible
  for a seed, the same distribution as rnnkit's, but not the same draws as torch's seeded sampler.

Scores are the summed log-probabilities (float32, EOS included) of the untempered distribution, as in rnnkit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import onnxruntime as ort

from rnnkit.decoding_options import check_decoding_options

DECODING_FILE = "decoding.json"
FORMAT_VERSION = 1
PRECISIONS = ("float32", "int8")  # int8: ``rnnkit export --quantize int8`` wrote ``<graph>.int8.onnx`` beside


def graph_file(stem: str, precision: str = "float32") -> str:
    """The file of graph ``stem`` in ``precision``: ``encoder.onnx``, or ``encoder.int8.onnx`` for int8.

    Example:
        >>> graph_file("decoder_step"), graph_file("decoder_step", "int8")
        ('decoder_step.onnx', 'decoder_step.int8.onnx')
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return f"{stem}.onnx" if precision == "float32" else f"{stem}.{precision}.onnx"


State = dict[str, np.ndarray]  # every array batch-first: rows are reordered with array[index]
StepFn = Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]
ReorderFn = Callable[[Any, np.ndarray], Any]


class Decoded(NamedTuple):
    """Decoded sequences, as :class:`rnnkit.models.decoding.Decoded` in NumPy: ``tokens (B, L)`` int64 padded
    with ``pad_id`` after EOS, ``lengths (B,)`` int64 counting EOS, ``scores (B,)`` float32 summed
    log-probabilities."""

    tokens: np.ndarray
    lengths: np.ndarray
    scores: np.ndarray

    def sequences(self) -> list[list[int]]:
        """Each row's tokens up to its length (EOS included when it was generated)."""
        return [row[:n].tolist() for row, n in zip(self.tokens, self.lengths)]


# ----- the searches, over any step function ---------------------------------------------------------------
def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log_softmax`` over the last axis, in float32."""
    x = logits.astype(np.float32, copy=False)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def reorder_rows(state: Any, index: np.ndarray) -> Any:
    """``array[index]`` on every array of a nest of dicts / tuples / lists (None passes)."""
    if state is None:
        return None
    if isinstance(state, np.ndarray):
        return state[index]
    if isinstance(state, dict):
        return {k: reorder_rows(v, index) for k, v in state.items()}
    return type(state)(reorder_rows(s, index) for s in state)


def length_penalty(lengths: np.ndarray, alpha: float) -> np.ndarray:
    """GNMT's length normalisation ``((5 + |Y|) / 6) ** alpha`` in float32; 1 when ``alpha = 0``."""
    return ((np.float32(5.0) + lengths.astype(np.float32)) / np.float32(6.0)) ** np.float32(alpha)


def filter_logits(logits: np.ndarray, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """Keep the ``top_k`` most likely tokens and/or the smallest set whose probability reaches ``top_p``; the
    rest get ``-inf`` (:func:`rnnkit.models.decoding.filter_logits`). The most likely token always stays."""
    logits = logits.astype(np.float32, copy=True)
    vocab = logits.shape[-1]
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        k = min(top_k, vocab)
        kth = np.partition(logits, vocab - k, axis=-1)[..., vocab - k : vocab - k + 1]
        logits[logits < kth] = -np.inf
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        order = np.argsort(-logits, axis=-1, kind="stable")
        probs = np.exp(log_softmax(np.take_along_axis(logits, order, axis=-1)))
        drop_sorted = probs.cumsum(axis=-1) - probs >= np.float32(top_p)  # mass before it already >= p
        drop = np.empty_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=-1)
        logits[drop] = -np.inf
    return logits


def _decode_loop(
    step: StepFn, state: Any, bos: np.ndarray, max_length: int, eos: int | None, pad: int,
    pick: Callable[[np.ndarray], np.ndarray],
) -> Decoded:  # fmt: skip
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be an int >= 1, got {max_length!r}")
    tokens = np.asarray(bos, dtype=np.int64)
    scores = np.zeros(tokens.shape[0], dtype=np.float32)
    finished = np.zeros(tokens.shape[0], dtype=bool)
    lengths = np.zeros(tokens.shape[0], dtype=np.int64)
    out = []
    for _ in range(max_length):
        logits, state = step(tokens, state)
        log_probs = log_softmax(logits)
        tokens = pick(logits).astype(np.int64)
        gained = np.take_along_axis(log_probs, tokens[:, None], axis=1)[:, 0]
        scores = scores + np.where(finished, np.float32(0.0), gained)
        tokens = np.where(finished, pad, tokens)
        lengths = lengths + ~finished
        out.append(tokens)
        if eos is not None:
            finished = finished | (tokens == eos)
            if finished.all():
                break
    return Decoded(np.stack(out, axis=1), lengths, scores)


def greedy_decode(
    step: StepFn, state: Any, bos: np.ndarray, max_length: int, eos: int | None = None, pad: int = 0
) -> Decoded:
    """The most likely token at every step until EOS or ``max_length`` (EOS included)."""
    return _decode_loop(step, state, bos, max_length, eos, pad, lambda logits: logits.argmax(axis=-1))


def sample_decode(
    step: StepFn, state: Any, bos: np.ndarray, max_length: int, eos: int | None = None, pad: int = 0,
    temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
    rng: np.random.Generator | None = None,
) -> Decoded:  # fmt: skip
    """Each token drawn from ``softmax(filter_logits(logits / temperature, top_k, top_p))`` with ``rng``."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy decoding for argmax), got {temperature}")
    rng = np.random.default_rng() if rng is None else rng

    def pick(logits: np.ndarray) -> np.ndarray:
        filtered = filter_logits(logits / np.float32(temperature), top_k, top_p)
        cdf = np.exp(log_softmax(filtered)).astype(np.float64).cumsum(axis=-1)  # (N, V)
        draws = rng.random(cdf.shape[0])[:, None] * cdf[:, -1:]
        return np.minimum((cdf <= draws).sum(axis=-1), cdf.shape[1] - 1)  # the first id whose cdf > draw

    return _decode_loop(step, state, bos, max_length, eos, pad, pick)


def _top_k_indices(candidates: np.ndarray, k: int) -> np.ndarray:
    """The flat indices ``(B, k)`` of each row's k largest values, in descending order (lower index first
    among equal values)."""
    if k < candidates.shape[1]:
        part = np.argpartition(-candidates, k - 1, axis=1)[:, :k]
        part.sort(axis=1)
    else:
        part = np.broadcast_to(np.arange(candidates.shape[1]), candidates.shape)
    order = np.argsort(-np.take_along_axis(candidates, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def beam_search(
    step: StepFn, state: Any, bos: np.ndarray, max_length: int, beam_size: int, eos: int, pad: int = 0,
    alpha: float = 0.0, reorder: ReorderFn = reorder_rows,
) -> Decoded:  # fmt: skip
    """Keep the ``beam_size`` best prefixes at every step; return each input's best finished sequence by
    ``score / length_penalty(length, alpha)``, or the greedy sequence where it scores better
    (:func:`rnnkit.models.decoding.beam_search`). ``state`` holds B rows; ``reorder`` selects rows of it."""
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be an int >= 1, got {beam_size!r}")
    bos = np.asarray(bos, dtype=np.int64)
    greedy = greedy_decode(step, state, bos, max_length, eos, pad)
    if beam_size == 1:
        return greedy
    B, K = bos.shape[0], beam_size
    state = reorder(state, np.repeat(np.arange(B), K))
    tokens = np.repeat(bos, K)  # (B*K,)
    scores = np.full((B, K), -np.inf, dtype=np.float32)
    scores[:, 0] = 0.0  # all beams start identical: one alive, so the first step does not repeat it
    finished = np.zeros((B, K), dtype=bool)
    lengths = np.zeros((B, K), dtype=np.int64)
    history, pointers = [], []
    for _ in range(max_length):
        logits, state = step(tokens, state)
        log_probs = log_softmax(logits).reshape(B, K, -1)  # (B, K, V)
        vocab = log_probs.shape[-1]
        pad_only = np.full(vocab, -np.inf, dtype=np.float32)
        pad_only[pad] = 0.0
        log_probs = np.where(finished[..., None], pad_only, log_probs)
        candidates = (scores[..., None] + log_probs).reshape(B, K * vocab)
        flat = _top_k_indices(candidates, K)  # (B, K)
        scores = np.take_along_axis(candidates, flat, axis=1)
        beam, token = flat // vocab, flat % vocab
        was_finished = np.take_along_axis(finished, beam, axis=1)
        lengths = np.take_along_axis(lengths, beam, axis=1) + ~was_finished
        finished = was_finished | (token == eos)
        history.append(token)
        pointers.append(beam)
        rows = (beam + np.arange(B)[:, None] * K).reshape(-1)
        state, tokens = reorder(state, rows), token.reshape(-1)
        if finished.all():
            break
    best = (scores / length_penalty(lengths, alpha)).argmax(axis=1)  # (B,)
    out, index = [], best[:, None]
    for token, beam in zip(reversed(history), reversed(pointers)):  # follow the back-pointers
        out.append(np.take_along_axis(token, index, axis=1)[:, 0])
        index = np.take_along_axis(beam, index, axis=1)
    chosen = best[:, None]
    beam_result = Decoded(np.stack(out[::-1], axis=1), np.take_along_axis(lengths, chosen, axis=1)[:, 0],
                          np.take_along_axis(scores, chosen, axis=1)[:, 0])  # fmt: skip
    return _prefer_greedy(beam_result, greedy, alpha, pad)


def _prefer_greedy(beam: Decoded, greedy: Decoded, alpha: float, pad: int) -> Decoded:
    """Per input, the better of the beam result and the greedy result (by normalised score)."""
    greedy_normalised = greedy.scores / length_penalty(greedy.lengths, alpha)
    take = greedy_normalised > beam.scores / length_penalty(beam.lengths, alpha)
    width = max(beam.tokens.shape[1], greedy.tokens.shape[1])

    def widen(tokens: np.ndarray) -> np.ndarray:
        return np.pad(tokens, ((0, 0), (0, width - tokens.shape[1])), constant_values=pad)

    return Decoded(
        np.where(take[:, None], widen(greedy.tokens), widen(beam.tokens)),
        np.where(take, greedy.lengths, beam.lengths),
        np.where(take, greedy.scores, beam.scores),
    )


# ----- the exported folders -----------------------------------------------------------------------------
def read_decoding_info(folder: Path, model: str) -> dict[str, Any]:
    """``decoding.json`` of an exported folder, checked to describe a ``model`` ("seq2seq" or "generator")."""
    path = Path(folder) / DECODING_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; export the model with rnnkit.export.seq2seq first")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); export the model again") from error
    if not isinstance(info, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(info).__name__}; export the model again")
    if info.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: field 'format' must be {FORMAT_VERSION}, got {info.get('format')!r}; "
                         "export the model again with this rnnkit")  # fmt: skip
    if info.get("model") != model:
        raise ValueError(
            f"{path}: field 'model' is {info.get('model')!r}, this runner reads {model!r} folders"
        )
    sizes = ("vocab_size", "src_vocab_size") if model == "seq2seq" else ("vocab_size",)
    for name in (*sizes, "bos_id", "eos_id", "pad_id"):
        if isinstance(info.get(name), bool) or not isinstance(info.get(name), int):
            raise ValueError(f"{path}: field {name!r} must be an int, got {info.get(name)!r}")
    return info


def _session(path: Path, providers: Sequence[str] | None) -> ort.InferenceSession:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; export the model with rnnkit.export.seq2seq first")
    return ort.InferenceSession(str(path), providers=list(providers or ["CPUExecutionProvider"]))


class _StepGraph:
    """``decoder_step.onnx``: ``(tokens (N,), state) -> (logits (N, V), state)``, each ``next_<name>`` output
    replacing the state's ``<name>``."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.inputs = [i.name for i in session.get_inputs()]
        self.outputs = [o.name for o in session.get_outputs()]

    def __call__(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        feeds = {name: state[name] for name in self.inputs[1:]}
        results = self.session.run(None, {self.inputs[0]: tokens.astype(np.int64), **feeds})
        new = dict(state)
        for name, value in zip(self.outputs[1:], results[1:]):
            new[name.removeprefix("next_")] = value
        return results[0], new


def _batch_ids(ids: np.ndarray | Sequence[Sequence[int]], lengths: np.ndarray | Sequence[int] | None,
               pad: int, vocab_size: int, name: str) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(ids (B, T) int64, lengths (B,) int64)`` from a padded array (+ lengths) or a list of id lists."""
    if not isinstance(ids, np.ndarray):
        rows = [list(r) for r in ids]
        if lengths is not None:
            raise ValueError(f"{name}: give lengths with a padded array only (a list of lists has its own)")
        if not rows or min(len(r) for r in rows) == 0:
            raise ValueError(f"{name}: give at least one sequence, each of at least one token")
        lengths = [len(r) for r in rows]
        ids = np.full((len(rows), max(lengths)), pad, dtype=np.int64)
        for k, r in enumerate(rows):
            ids[k, : len(r)] = r
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[1] == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"{name}: expected integer ids of shape (B, T) with T >= 1, got {ids.dtype} {ids.shape}"
        )
    if ids.size and not 0 <= int(ids.min()) <= int(ids.max()) < vocab_size:
        raise ValueError(
            f"{name}: ids must be in [0, {vocab_size}), got {int(ids.min())} .. {int(ids.max())}"
        )
    lengths = np.full(ids.shape[0], ids.shape[1]) if lengths is None else np.asarray(lengths)
    if lengths.shape != (ids.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(
            f"{name}: lengths must be {ids.shape[0]} integers, got {lengths.dtype} {lengths.shape}"
        )
    if ids.shape[0] and not 1 <= int(lengths.min()) <= int(lengths.max()) <= ids.shape[1]:
        raise ValueError(f"{name}: lengths must be in [1, {ids.shape[1]}], got {lengths.tolist()}")
    return ids.astype(np.int64), lengths.astype(np.int64)


class OrtSeq2Seq:
    """Translate with an exported :class:`~rnnkit.models.seq2seq.Seq2Seq` folder (``encoder.onnx``,
    ``decoder_step.onnx``, ``decoding.json``), as :meth:`Seq2Seq.translate` does.

    Args:
        folder: the directory :func:`rnnkit.export.seq2seq.export_seq2seq` wrote.
        providers: onnxruntime execution providers (default CPU).
        precision: "float32", or "int8" for the ``*.int8.onnx`` graphs of ``--quantize int8``.
    """

    def __init__(self, folder: Path | str, providers: Sequence[str] | None = None,
                 precision: str = "float32") -> None:  # fmt: skip
        folder = Path(folder)
        self.info = read_decoding_info(folder, "seq2seq")
        self.encoder = _session(folder / graph_file("encoder", precision), providers)
        self.step = _StepGraph(_session(folder / graph_file("decoder_step", precision), providers))
        self.encoder_outputs = [o.name for o in self.encoder.get_outputs()]

    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> State:
        """The decoder's starting state for ``src (B, S)`` and ``src_lengths (B,)`` (int64, in ``[1, S]``)."""
        outputs = self.encoder.run(None, {"src": src, "src_lengths": src_lengths})
        return {**dict(zip(self.encoder_outputs, outputs)), "src_lengths": src_lengths}

    def translate(
        self,
        src: np.ndarray | Sequence[Sequence[int]],
        src_lengths: np.ndarray | Sequence[int] | None = None,
        max_length: int | None = None,
        strategy: str = "greedy",
        beam_size: int = 4,
        alpha: float = 0.6,
    ) -> Decoded:
        """Decode each source: the tokens :meth:`Seq2Seq.translate` returns (without its attention weights).

        Args:
            src: ``(B, S)`` source ids padded with anything past ``src_lengths`` (None: all S valid), or a
                list of id lists (padded here with ``pad_id``).
            max_length: most tokens per output, EOS included (default ``2 * S + 10``, S the padded width).
            strategy: "greedy" or "beam" (``beam_size`` K >= 1; ``alpha``, GNMT length normalisation).

        Returns:
            :class:`Decoded`: target ids ``(B, L)`` (``pad_id`` after EOS), lengths (EOS counted), scores.
        """
        if strategy not in ("greedy", "beam"):
            raise ValueError(f"strategy must be 'greedy' or 'beam', got {strategy!r}")
        info = self.info
        src, src_lengths = _batch_ids(src, src_lengths, info["pad_id"], info["src_vocab_size"], "src")
        max_length = 2 * src.shape[1] + 10 if max_length is None else max_length
        state = self.encode(src, src_lengths)
        bos = np.full(src.shape[0], info["bos_id"], dtype=np.int64)
        if strategy == "greedy":
            return greedy_decode(self.step, state, bos, max_length, info["eos_id"], info["pad_id"])
        return beam_search(
            self.step, state, bos, max_length, beam_size, info["eos_id"], info["pad_id"], alpha
        )


class OrtGenerator:
    """Continue prompts with an exported :class:`~rnnkit.models.generator.SequenceGenerator` folder
    (``prompt.onnx``, ``decoder_step.onnx``, ``decoding.json``), as :meth:`SequenceGenerator.generate` does.

    Args:
        folder: the directory :func:`rnnkit.export.seq2seq.export_generator` wrote.
        providers: onnxruntime execution providers (default CPU).
        precision: "float32", or "int8" for the ``*.int8.onnx`` graphs of ``--quantize int8``.
    """

    def __init__(self, folder: Path | str, providers: Sequence[str] | None = None,
                 precision: str = "float32") -> None:  # fmt: skip
        folder = Path(folder)
        self.info = read_decoding_info(folder, "generator")
        self.prompt_graph = _session(folder / graph_file("prompt", precision), providers)
        self.step = _StepGraph(_session(folder / graph_file("decoder_step", precision), providers))
        self.prompt_inputs = [i.name for i in self.prompt_graph.get_inputs()]
        self.prompt_outputs = [o.name for o in self.prompt_graph.get_outputs()]

    def run_prompt(
        self, tokens: np.ndarray, lengths: np.ndarray, condition: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> tuple[np.ndarray, State]:  # fmt: skip
        """``(logits (B, V) after each prompt's last valid token, the state after it)``."""
        feeds = {"tokens": tokens, "lengths": lengths}
        for name, value in (("condition", condition), ("labels", labels)):
            if (name in self.prompt_inputs) != (value is not None):
                needed = "needs" if name in self.prompt_inputs else "does not take"
                raise ValueError(f"this exported generator {needed} {name}")
            if value is not None:
                value = np.asarray(value, dtype=np.float32 if name == "condition" else np.int64)
                if value.shape[:1] != tokens.shape[:1]:
                    raise ValueError(f"{name} has {value.shape[:1]} rows, the prompt has {tokens.shape[0]}")
                feeds[name] = value
        logits, *state = self.prompt_graph.run(None, feeds)
        return logits, dict(zip(self.prompt_outputs[1:], state))

    def generate(
        self,
        prompt: np.ndarray | Sequence[Sequence[int]] | None = None,
        max_new_tokens: int = 50,
        *,
        lengths: np.ndarray | Sequence[int] | None = None,
        strategy: str = "greedy",
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        beam_size: int | None = None,
        alpha: float | None = None,
        condition: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        batch_size: int | None = None,
        stop_at_eos: bool = True,
    ) -> Decoded:
        """Continue each prompt by up to ``max_new_tokens`` tokens (:meth:`SequenceGenerator.generate`).

        Args:
            prompt: ``(B, T0)`` ids (``lengths``: the valid prefix of each, None: all), a list of id lists, or
                None: ``<bos>`` alone for ``batch_size`` rows (default the rows of condition/labels, or 1).
            strategy: "greedy", "sample" (``temperature`` default 1, ``top_k``, ``top_p``, ``seed``; drawn
                with NumPy, see the module docstring) or "beam" (``beam_size``, default 4; ``alpha``, 0).
            condition / labels: ``(B, C)`` float32 / ``(B,)`` int64, for a conditioned model.
            stop_at_eos: stop a sequence at ``eos_id`` (beam search needs it).

        Returns:
            :class:`Decoded`: the new tokens only ``(B, L)``, their lengths (EOS counted) and scores.
        """
        info = self.info
        sampling = dict(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        options = dict(beam_size=beam_size, alpha=alpha, **sampling)
        check_decoding_options(strategy, max_new_tokens, stop_at_eos, **options)
        if prompt is None:
            if lengths is not None:
                raise ValueError("lengths gives the prompts' lengths, but there is no prompt")
            given = [np.asarray(t) for t in (condition, labels) if t is not None]
            rows = batch_size or (given[0].shape[0] if given and given[0].ndim else 1)
            prompt = np.full((rows, 1), info["bos_id"], dtype=np.int64)
        tokens, lengths = _batch_ids(prompt, lengths, info["pad_id"], info["vocab_size"], "prompt")
        if batch_size is not None and tokens.shape[0] != batch_size:
            raise ValueError(f"batch_size={batch_size} but the prompt has {tokens.shape[0]} rows")
        logits, state = self.run_prompt(tokens, lengths, condition, labels)
        start = tokens[np.arange(tokens.shape[0]), lengths - 1]

        def step(tokens: np.ndarray, carry: tuple[State, np.ndarray | None]) -> tuple[np.ndarray, Any]:
            state, pending = carry
            if pending is not None:  # the prompt's prediction is the first step's logits
                return pending, (state, None)
            logits, state = self.step(tokens, state)
            return logits, (state, None)

        carry, eos, pad = (state, logits), info["eos_id"] if stop_at_eos else None, info["pad_id"]
        if strategy == "greedy":
            return greedy_decode(step, carry, start, max_new_tokens, eos, pad)
        if strategy == "sample":
            temperature = 1.0 if temperature is None else temperature
            rng = np.random.default_rng(seed)
            return sample_decode(step, carry, start, max_new_tokens, eos, pad, temperature, top_k, top_p, rng)
        return beam_search(step, carry, start, max_new_tokens, 4 if beam_size is None else beam_size,
                           info["eos_id"], pad, alpha or 0.0)  # fmt: skip


__all__ = [
    "Decoded",
    "OrtGenerator",
    "OrtSeq2Seq",
    "beam_search",
    "filter_logits",
    "graph_file",
    "greedy_decode",
    "read_decoding_info",
    "sample_decode",
]
