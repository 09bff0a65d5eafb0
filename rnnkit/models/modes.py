"""Eval mode for inference, free when a model is in it already.

``Module.eval()`` walks every submodule and sets its flag through ``Module.__setattr__``: about 0.2 ms for
the 50-odd modules of a conv + BiLSTM classifier, paid on every predict call (three times per call of a
served classifier before this helper, a third of a one-input forward). A served model stays in eval mode, so
these helpers only look (``m.training`` of each module) and switch only when some module is training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

__all__ = ["eval_mode", "evaluating"]


def eval_mode(model: nn.Module) -> nn.Module:
    """``model.eval()``, skipped when no module of ``model`` is training (the same end state, cheaper).

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        >>> eval_mode(model).training, model[1].training
        (False, False)
    """
    if any(module.training for module in model.modules()):
        model.eval()
    return model


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode inside the block; afterwards ``model.train(was_training)``, as a model's own predict methods
    did by hand. Switches nothing when no module is training.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        >>> with evaluating(model):
        ...     model[1].training
        False
        >>> model[1].training
        True
    """
    was_training = model.training
    switch = was_training or any(module.training for module in model.modules())
    if switch:
        model.eval()
    try:
        yield model
    finally:
        if switch:
            model.train(was_training)
