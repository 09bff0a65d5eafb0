"""The check of a decoding call's options, shared by :class:`rnnkit.models.SequenceGenerator` (torch) and
:class:`rnnkit.export.ort_decoding.OrtGenerator` (numpy + onnxruntime): this module imports neither.

Example:
    >>> check_decoding_options("beam", 5, True, beam_size=3, alpha=None, temperature=None)
    >>> check_decoding_options("greedy", 5, True, beam_size=None, alpha=None, temperature=0.7)
    Traceback (most recent call last):
    ...
    ValueError: temperature applies to strategy='sample', not strategy='greedy'
"""

from __future__ import annotations

from typing import Any


def check_decoding_options(strategy: str, max_new_tokens: int, stop_at_eos: bool, **options: Any) -> None:
    """Raise ``ValueError`` on an unknown strategy or an option the chosen strategy would silently ignore
    (``beam_size`` / ``alpha`` belong to beam search, every other option to sampling)."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if strategy not in ("greedy", "sample", "beam"):
        raise ValueError(f"strategy must be 'greedy', 'sample' or 'beam', got {strategy!r}")
    for name, value in options.items():
        owner = "beam" if name in ("beam_size", "alpha") else "sample"
        if value is not None and owner != strategy:
            raise ValueError(f"{name} applies to strategy={owner!r}, not strategy={strategy!r}")
    if strategy == "beam" and not stop_at_eos:
        raise ValueError("beam search ranks finished sequences: it needs stop_at_eos=True")
