"""int8 dynamic quantisation of an exported model (``rnnkit export --quantize int8``).

ONNX Runtime's ``quantize_dynamic`` stores the weights of the MatMul / Gemm nodes (the embedding-free
projections, the recurrent weights inside the ``Scan`` bodies, the heads) as int8 and quantises their
activations per call; the graph, its inputs and outputs are those of the float model.
"""

from __future__ import annotations

import logging
from pathlib import Path


def quantize_int8(source: Path, target: Path) -> None:
    """Write the int8 version of the float model ``source`` to ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice on pre-processing and on integer tensors it leaves as they are
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
