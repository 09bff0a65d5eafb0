"""int8 dynamic quantisation of an exported model (``rnnkit export --quantize int8``).

ONNX Runtime's ``quantize_dynamic`` stores as int8 the weights of the MatMul / Gemm / Conv nodes (the input
projections of the recurrent layers, the convolutions, the heads) and the embedding tables (Gather; uint8,
dequantised after the lookup), and quantises the activations per call. ``EnableSubgraph`` extends that to
the graphs inside the ``Scan`` loops, so the recurrent weights ``W_hh`` are int8 too; without it they stay
float32 and the file is about 2.6x smaller instead of 3.4x (the chatterbot classifier). The graph, its
inputs and outputs are those of the float model.
"""

from __future__ import annotations

import logging
from pathlib import Path

QUANTIZE_OPTIONS = {"EnableSubgraph": True}  # also the MatMuls inside the Scan bodies (W_hh)


def quantize_int8(source: Path, target: Path) -> None:
    """Write the int8 version of the float model ``source`` to ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice on pre-processing and on integer tensors it leaves as they are
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                         extra_options=dict(QUANTIZE_OPTIONS))  # fmt: skip
    finally:
        root.setLevel(level)
