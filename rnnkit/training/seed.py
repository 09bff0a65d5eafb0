"""Seeds and random-number-generator state: what makes a run reproducible and a resume exact.

Three pieces:

- :func:`seed_everything` seeds python's ``random``, numpy and torch (CPU and every CUDA device).
- :func:`get_rng_state` / :func:`set_rng_state` capture and restore all of those generators, as JSON-able
  values (python, numpy) and uint8 tensors (torch), so a checkpoint can store them without pickle.
- :func:`seed_loader` makes the shuffling of an epoch a function of ``(seed, epoch)`` alone, which is what
  lets a resumed run skip the batches it already did and see the same rest of the epoch.

The shuffling contract: at the start of epoch ``e`` the trainer calls ``seed_loader(loader, seed, e)``.
It calls ``set_epoch(e)`` on the loader, its sampler and its batch sampler where they have one (as
``DistributedSampler`` does), and re-seeds every ``torch.Generator`` they hold with ``epoch_seed(seed, e)``.
Those whose ``generator`` attribute is None (``DataLoader(..., shuffle=True)`` and its ``RandomSampler``,
``SubsetRandomSampler``, ``WeightedRandomSampler``) are given one, the loader's own seeding its workers. A
custom sampler must draw its randomness from such a generator or from ``set_epoch``; one that draws from
the global RNG shuffles differently after a resume.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

_MASK64 = (1 << 64) - 1


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and all CUDA devices).

    Example:
        >>> seed_everything(3); a = torch.rand(2)
        >>> seed_everything(3); torch.equal(a, torch.rand(2))
        True
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` of a run seeded ``seed`` (splitmix64 of the pair).

    Neighbouring ``(seed, epoch)`` pairs give unrelated seeds, so epoch 1 of seed 0 does not shuffle like
    epoch 0 of seed 1.

    Example:
        >>> epoch_seed(0, 0) == epoch_seed(0, 0), epoch_seed(0, 1) == epoch_seed(1, 0)
        (True, False)
    """
    x = (seed * 0x9E3779B97F4A7C15 + (epoch + 1) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (x ^ (x >> 31)) >> 1


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator seeded for epoch ``epoch``: pass it to a sampler you build per epoch.

    Example:
        >>> a = torch.randperm(5, generator=epoch_generator(0, 2))
        >>> torch.equal(a, torch.randperm(5, generator=epoch_generator(0, 2)))
        True
    """
    return torch.Generator().manual_seed(epoch_seed(seed, epoch))


def seed_loader(loader: Any, seed: int, epoch: int) -> None:
    """Make epoch ``epoch`` of ``loader`` shuffle as a function of ``(seed, epoch)`` (see the module doc).

    Example:
        >>> from torch.utils.data import DataLoader
        >>> loader = DataLoader(list(range(6)), batch_size=6, shuffle=True)
        >>> seed_loader(loader, 0, 1); first = next(iter(loader))
        >>> seed_loader(loader, 0, 1); torch.equal(first, next(iter(loader)))
        True
    """
    batch_sampler = getattr(loader, "batch_sampler", None)
    sampler, inner = getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None)
    holders = [loader, sampler, batch_sampler, inner]
    generators: list[torch.Generator] = []
    for index, holder in enumerate(holders):
        if holder is None or any(holder is other for other in holders[:index]):
            continue  # a DataLoader's sampler is also its batch sampler's
        if hasattr(holder, "set_epoch"):
            holder.set_epoch(epoch)
        if hasattr(holder, "generator") and holder.generator is None:
            holder.generator = torch.Generator()  # otherwise it draws from the global RNG
        generator = getattr(holder, "generator", None)
        if isinstance(generator, torch.Generator) and all(generator is not g for g in generators):
            generators.append(generator)
    for generator in generators:
        generator.manual_seed(epoch_seed(seed, epoch))


def get_rng_state() -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Every global generator's state: ``(json_part, tensors)``.

    ``json_part`` holds python's and numpy's states as plain lists; ``tensors`` holds torch's CPU state
    under ``"torch.cpu"`` and each CUDA device's under ``"torch.cuda.<i>"`` (uint8 tensors).
    """
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    json_part = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    tensors = {"torch.cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch.cuda.{index}"] = state
    return json_part, tensors


def set_rng_state(json_part: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    """Restore what :func:`get_rng_state` returned. CUDA states are restored on the devices present.

    Example:
        >>> state = get_rng_state(); a = torch.rand(3), random.random(), np.random.rand()
        >>> set_rng_state(*state); b = torch.rand(3), random.random(), np.random.rand()
        >>> torch.equal(a[0], b[0]), a[1:] == b[1:]
        (True, True)
    """
    version, internal, gauss = json_part["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = json_part["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(tensors["torch.cpu"].cpu())
    cuda = sorted((k for k in tensors if k.startswith("torch.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        for key in cuda[: torch.cuda.device_count()]:
            torch.cuda.set_rng_state(tensors[key].cpu(), device=int(key.rsplit(".", 1)[1]))


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without changing any global generator (its draws are rolled back afterwards).

    Example:
        >>> before = torch.rand(1); set_state = torch.get_rng_state()
        >>> with preserved_rng():
        ...     _ = torch.rand(100), random.random()
        >>> torch.equal(torch.get_rng_state(), set_state)
        True
    """
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(*state)
