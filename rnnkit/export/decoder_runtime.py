"""Predict with the export folder of a translation, language model or generation run
(:mod:`rnnkit.export.decoders`): texts -> ids as the run tokenises them, the decoding of
:mod:`rnnkit.export.ort_decoding` with the run's options (``predict_options.json``), ids -> text as the
run detokenises them. numpy and onnxruntime only. ``precision`` "int8" runs the ``*.int8.onnx`` graphs of
``rnnkit export --quantize int8`` instead of the float32 ones.

Greedy and beam decoding give what ``rnnkit predict RUN`` gives (the same tokens and scores). A run
configured to sample draws with ``numpy.random.default_rng(seed)``: reproducible for a seed, the same
distribution, not the same draws as the run's torch sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.detokenize import detokenize
from rnnkit.data.tokenizers import nfc, tokenizer_from_dict
from rnnkit.data.vocab import BOS, EOS, UNK, Vocab
from rnnkit.export.text_inputs import pad_ids


def _files(folder: Path, manifest: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``preprocessing.json`` and ``predict_options.json`` of a checked folder."""
    from rnnkit.export.runtime import _json

    return _json(folder, manifest, "preprocessing.json"), _json(folder, manifest, "predict_options.json")


class TranslationPredictor:
    """Translation: ``{"text", "translation", "log_prob"}`` per source sentence, decoded (greedy or beam, as
    the run's ``data.strategy``) in batches of sources sorted by length, as the run's ``translate``."""

    def __init__(self, folder: Path, manifest: dict[str, Any], precision: str = "float32") -> None:
        from rnnkit.export.ort_decoding import OrtSeq2Seq

        preprocessing, self.options = _files(folder, manifest)
        self.source_tokenizer = tokenizer_from_dict(preprocessing["source_tokenizer"])
        self.target_tokenizer = tokenizer_from_dict(preprocessing["target_tokenizer"])
        self.source_vocab = Vocab.from_dict(preprocessing["source_vocab"], "preprocessing.json: source_vocab")
        self.target_vocab = Vocab.from_dict(preprocessing["target_vocab"], "preprocessing.json: target_vocab")
        self.source_lowercase = bool(preprocessing["source_lowercase"])
        self.model = OrtSeq2Seq(folder, precision=precision)

    def encode_source(self, text: str) -> list[int]:
        """The source's ids: NFC (and lowercase where the run lowercases), tokens, ``[<unk>]`` when empty."""
        text = nfc(text).lower() if self.source_lowercase else nfc(text)
        return self.source_vocab.encode(self.source_tokenizer.tokenize(text)) or [UNK]

    def decode_target(self, ids: Sequence[int]) -> str:
        return detokenize(self.target_tokenizer, self.target_vocab.decode(ids))

    def predict(self, session: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
        o = self.options
        encoded = [self.encode_source(text) for text in texts]
        order = sorted(range(len(encoded)), key=lambda k: len(encoded[k]))
        results: list[tuple[str, float]] = [("", 0.0)] * len(encoded)
        for start in range(0, len(order), int(o["decode_batch"])):
            chunk = order[start : start + int(o["decode_batch"])]
            src, lengths = pad_ids([encoded[k] for k in chunk])
            decoded = self.model.translate(src, lengths, max_length=int(o["max_output_length"]),
                                           strategy=o["strategy"], beam_size=int(o["beam_size"]),
                                           alpha=float(o["length_penalty"]))  # fmt: skip
            for row, k in enumerate(chunk):
                ids = decoded.tokens[row, : int(decoded.lengths[row])].tolist()
                results[k] = (self.decode_target(ids), float(decoded.scores[row]))
        return [{"text": text, "translation": translation, "log_prob": round(score, 4)}
                for text, (translation, score) in zip(texts, results)]  # fmt: skip


class LanguageModelPredictor:
    """Language model: ``{"prompt", "continuation", "text"}`` per prompt, each continued on its own by
    ``max_new_tokens`` tokens (no stop at ``<eos>``), greedy or sampled as the run's ``data.generation``."""

    def __init__(self, folder: Path, manifest: dict[str, Any], precision: str = "float32") -> None:
        from rnnkit.export.ort_decoding import OrtGenerator

        preprocessing, self.options = _files(folder, manifest)
        self.tokenizer = tokenizer_from_dict(preprocessing["tokenizer"])
        self.vocab = Vocab.from_dict(preprocessing["vocab"], "preprocessing.json: vocab")
        self.model = OrtGenerator(folder, precision=precision)

    def predict(self, session: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
        from rnnkit.export.runtime import ExportInputError

        o, results = self.options, []
        sampling = {}
        if o["strategy"] == "sample":
            sampling = {"temperature": o["temperature"], "top_k": o["top_k"], "seed": o["seed"]}
        for number, prompt in enumerate(texts, 1):
            prompt_ids = self.vocab.encode(self.tokenizer.tokenize(prompt))
            if not prompt_ids:
                reason = f"prompt {prompt!r} has no tokens: give at least one character to continue"
                raise ExportInputError(number, reason)
            out = self.model.generate(np.array([prompt_ids], dtype=np.int64), int(o["max_new_tokens"]),
                                      strategy=o["strategy"], stop_at_eos=False, **sampling)  # fmt: skip
            new_ids = out.tokens[0, : int(out.lengths[0])].tolist()
            decode = self.tokenizer.detokenize
            results.append({"prompt": prompt, "continuation": decode(self.vocab.decode(new_ids)),
                            "text": decode(self.vocab.decode(prompt_ids + new_ids))})  # fmt: skip
        return results


class GenerationPredictor:
    """Generation: ``{"label" | "input", "text", "texts"}`` per input (a class label, or a feature vector,
    optionally followed by ``": "`` and the start of a text), ``count`` texts each, as the run's ``predict``:
    each input on its own, every row starting from ``<bos>`` and the given start, until ``<eos>``."""

    def __init__(self, folder: Path, manifest: dict[str, Any], precision: str = "float32") -> None:
        from rnnkit.export.ort_decoding import OrtGenerator

        preprocessing, self.options = _files(folder, manifest)
        self.tokenizer = tokenizer_from_dict(preprocessing["tokenizer"])
        self.vocab = Vocab.from_dict(preprocessing["vocab"], "preprocessing.json: vocab")
        self.max_length = preprocessing["max_length"]
        self.mode, self.labels = preprocessing["mode"], preprocessing["labels"]
        self.mean, self.std = preprocessing["feature_mean"], preprocessing["feature_std"]
        self.model = OrtGenerator(folder, precision=precision)

    def parse(self, raw: str, number: int) -> tuple[Any, str | None]:
        """An input's condition (a class id, or the standardised features) and the start of its text."""
        from rnnkit.data.numbers import parse_numbers
        from rnnkit.export.runtime import ExportInputError

        raw = raw.strip()
        if self.mode == "class":
            index = {label: k for k, label in enumerate(self.labels)}
            if raw in index:
                return index[raw], None
            head, sep, text = raw.partition(":")
            if sep and head.strip() in index:
                return index[head.strip()], text.strip() or None
            reason = (f"expected a class label (one of {self.labels}), optionally followed by ': ' and the "
                      f"start of a text, got {raw[:60]!r}")  # fmt: skip
            raise ExportInputError(number, reason)
        head, sep, text = raw.partition(":")
        try:
            values = parse_numbers(head, "the features")
        except ValueError as error:
            reason = (f"{error}: give {len(self.mean)} numbers (a JSON list, or separated by commas or "
                      "spaces), optionally followed by ': ' and a caption's start")  # fmt: skip
            raise ExportInputError(number, reason) from None
        if len(values) != len(self.mean):
            raise ExportInputError(number, f"expected {len(self.mean)} features, got {len(values)}")
        scaled = ((np.asarray(values, dtype=np.float64) - self.mean) / self.std).astype(np.float32)
        return scaled, (text.strip() or None) if sep else None

    def text_of(self, ids: Sequence[int]) -> str:
        return self.tokenizer.detokenize(self.vocab.decode(ids))

    def predict(self, session: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
        o, count, results = self.options, int(self.options["count"]), []
        options: dict[str, Any] = {}
        if o["strategy"] == "sample":
            options = {"temperature": o["temperature"], "top_k": o["top_k"], "seed": o["seed"]}
        elif o["strategy"] == "beam":
            options = {"beam_size": int(o["beam_size"])}
        parsed = [self.parse(raw, number) for number, raw in enumerate(texts, 1)]
        for raw, (condition, given) in zip(texts, parsed):
            prompt = self.vocab.encode(self.tokenizer.tokenize(given)[: self.max_length]) if given else []
            start = np.array([[BOS, *prompt]] * count, dtype=np.int64)
            if self.mode == "class":
                options["labels"] = np.full(count, int(condition), dtype=np.int64)
            else:
                options["condition"] = np.tile(condition, (count, 1))
            out = self.model.generate(start, int(o["max_new_tokens"]), strategy=o["strategy"], **options)
            rows = [
                [t for t in row[:n] if t != EOS] for row, n in zip(out.tokens.tolist(), out.lengths.tolist())
            ]
            generated = [self.text_of(prompt + ids) for ids in rows]
            head = (
                {"label": self.labels[int(condition)]}
                if self.mode == "class"
                else {"input": raw.strip()[:80]}
            )
            results.append({**head, "text": generated[0], "texts": generated})
        return results


__all__ = ["GenerationPredictor", "LanguageModelPredictor", "TranslationPredictor"]
