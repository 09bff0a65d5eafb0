"""ServeConfig: the server's batching, limits and key, checked when made (``rnnkit serve`` flags)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServeConfig"]


@dataclass(frozen=True)
class ServeConfig:
    """How the server batches and what it refuses.

    Attributes:
        max_batch: inputs of one forward pass; concurrent requests are merged up to it (1: no merging).
        max_wait_ms: how long the first request of a batch waits for others to join it.
        max_queue: inputs waiting (or running) per model; past it a request gets 429 with Retry-After.
        max_body_bytes: request body size; past it 413.
        max_items: inputs per predict request; past it 422 naming ``inputs``.
        max_chars: characters per input; past it 422 naming the input (``inputs[2]``, ``input``).
        timeout_s: seconds a request may take, queue included; past it 504.
        max_units: inspect's default number of units shown per layer and direction (the most active ones
            when a layer is wider; a request may ask for more, up to ``max_units_limit``).
        max_units_limit: the most units an inspect request may ask for.
        max_new_tokens: the most tokens a request's options may ask a model to generate per input
            (``generation.max_new_tokens``, ``max_output_length``): a model's thread runs a request to its
            end even after a 504, so one request asking for millions would hold the model for everyone.
        max_beams: the most beams or texts per input a request's options may ask for
            (``beam_size``, ``generation.beam_size``, ``generation.count``).
        api_key: with a key, every ``/v1`` route but health needs ``Authorization: Bearer <key>``.

    Example:
        >>> ServeConfig(max_batch=0)
        Traceback (most recent call last):
        ...
        ValueError: ServeConfig.max_batch must be >= 1, got 0
    """

    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 512
    max_body_bytes: int = 1_000_000
    max_items: int = 64
    max_chars: int = 2000
    timeout_s: float = 30.0
    max_units: int = 64
    max_units_limit: int = 1024
    max_new_tokens: int = 1000
    max_beams: int = 16
    api_key: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_batch",
            "max_queue",
            "max_body_bytes",
            "max_items",
            "max_chars",
            "max_units",
            "max_units_limit",
            "max_new_tokens",
            "max_beams",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ServeConfig.{name} must be >= 1, got {value!r}")
        if self.max_wait_ms < 0:
            raise ValueError(f"ServeConfig.max_wait_ms must be >= 0, got {self.max_wait_ms!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"ServeConfig.timeout_s must be > 0, got {self.timeout_s!r}")
        if self.max_units > self.max_units_limit:
            raise ValueError(
                f"ServeConfig.max_units ({self.max_units}) must not exceed max_units_limit "
                f"({self.max_units_limit})"
            )
        if self.api_key is not None and not self.api_key:
            raise ValueError("ServeConfig.api_key must not be empty (None: no key)")

    def limits(self) -> dict[str, float | int]:
        """The limits a client may want to know (shown by ``GET /v1/models/{name}``)."""
        return {
            "max_batch": self.max_batch,
            "max_items": self.max_items,
            "max_chars": self.max_chars,
            "max_body_bytes": self.max_body_bytes,
            "timeout_s": self.timeout_s,
            "max_units": self.max_units,
            "max_units_limit": self.max_units_limit,
            "max_new_tokens": self.max_new_tokens,
            "max_beams": self.max_beams,
        }
