"""Predict with the export folder of a translation or language model run (:mod:`rnnkit.export.decoders`):
texts -> ids as the run tokenises them, the decoding of :mod:`rnnkit.export.ort_decoding` with the run's
options (``predict_options.json``), ids -> text as the run detokenises them. numpy and onnxruntime only.

Greedy and beam decoding give what ``rnnkit predict RUN`` gives (the same tokens and scores). A language
model configured to sample draws with ``numpy.random.default_rng(seed)``: reproducible for a seed, the same
distribution, not the same draws as the run's torch sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.detokenize import detokenize
from rnnkit.data.tokenizers import nfc, tokenizer_from_dict
from rnnkit.data.vocab import UNK, Vocab
from rnnkit.export.text_inputs import pad_ids


def _files(folder: Path, manifest: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``preprocessing.json`` and ``predict_options.json`` of a checked folder."""
    from rnnkit.export.runtime import _json

    return _json(folder, manifest, "preprocessing.json"), _json(folder, manifest, "predict_options.json")


class TranslationPredictor:
    """Translation: ``{"text", "translation", "log_prob"}`` per source sentence, decoded (greedy or beam, as
    the run's ``data.strategy``) in batches of sources sorted by length, as the run's ``translate``."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        from rnnkit.export.ort_decoding import OrtSeq2Seq

        preprocessing, self.options = _files(folder, manifest)
        self.source_tokenizer = tokenizer_from_dict(preprocessing["source_tokenizer"])
        self.target_tokenizer = tokenizer_from_dict(preprocessing["target_tokenizer"])
        self.source_vocab = Vocab.from_dict(preprocessing["source_vocab"], "preprocessing.json: source_vocab")
        self.target_vocab = Vocab.from_dict(preprocessing["target_vocab"], "preprocessing.json: target_vocab")
        self.source_lowercase = bool(preprocessing["source_lowercase"])
        self.model = OrtSeq2Seq(folder)

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

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        from rnnkit.export.ort_decoding import OrtGenerator

        preprocessing, self.options = _files(folder, manifest)
        self.tokenizer = tokenizer_from_dict(preprocessing["tokenizer"])
        self.vocab = Vocab.from_dict(preprocessing["vocab"], "preprocessing.json: vocab")
        self.model = OrtGenerator(folder)

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


__all__ = ["LanguageModelPredictor", "TranslationPredictor"]
