"""A torch module -> one ONNX model, its recurrent layers ``Scan`` loops (:mod:`rnnkit.export.recurrent`)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence

import onnx
import torch
from torch import Tensor, nn

from rnnkit.export.recurrent import scan_recurrent_layers, splice_scans

DEFAULT_OPSET = 17
MIN_OPSET = 14  # Scan with the masking ops of the cell steps; older opsets lack some of them


def to_onnx(
    module: nn.Module,
    example: Sequence[Tensor],
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int = DEFAULT_OPSET,
) -> onnx.ModelProto:
    """Trace ``module`` (in eval mode, without gradients) on ``example`` and return the checked ONNX model.

    ``dynamic_axes`` names the axes (batch, time, ...) that may differ from the example's at run time.
    """
    module.eval()
    buffer = io.BytesIO()
    with (
        scan_recurrent_layers(module) as tracing,
        torch.no_grad(),
        warnings.catch_warnings(),
        _quiet_placeholders(),
    ):
        warnings.simplefilter("ignore")  # the tracer's notes on Python values: the masks keep them exact
        torch.onnx.export(module, tuple(example), buffer, dynamo=False, opset_version=opset,
                          input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dynamic_axes)  # fmt: skip
    model = splice_scans(onnx.load_from_string(buffer.getvalue()), tracing, opset)
    onnx.checker.check_model(model)
    return model


PLACEHOLDER_NOTE = "ScanPlaceholder type is missing"  # torch's C++ note on each loop placeholder: expected


@contextlib.contextmanager
def _quiet_placeholders() -> Iterator[None]:
    """Drop torch's C++ warnings about the loop placeholders (they are replaced by Scans); anything else the
    C++ side writes to stderr meanwhile is passed on."""
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest's capture): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(descriptor)
        os.dup2(captured.fileno(), descriptor)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, descriptor)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if PLACEHOLDER_NOTE not in line]  # fmt: skip
            sys.stderr.write("".join(kept))
