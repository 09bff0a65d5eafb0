"""Optional peers of benchmarks/speed.py (``--peers``): Keras 3 on TensorFlow and ONNX Runtime.

Neither is a dependency of rnnkit. When one is not installed, its rows are skipped with a printed note;
install them with ``pip install tensorflow onnxruntime onnx`` to compare.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

_NOTED: set[str] = set()


def available(module: str) -> bool:
    """Whether ``module`` can be imported; prints a note once when it cannot."""
    if importlib.util.find_spec(module) is not None:
        return True
    if module not in _NOTED:
        _NOTED.add(module)
        print(f"note: {module} is not installed; its rows are skipped (pip install {module})")
    return False


def keras_layer(cell: str, sc, x: Tensor, train: bool) -> Callable[[], None]:
    """A Keras LSTM/GRU/SimpleRNN stack of the same sizes, timed with tf.GradientTape for training."""
    import keras
    import tensorflow as tf

    layer_type = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU, "RNN": keras.layers.SimpleRNN}[cell]
    inputs = keras.Input((sc.steps, sc.input_size), batch_size=sc.batch)
    y = inputs
    for _ in range(sc.num_layers):
        layer = layer_type(sc.hidden_size, return_sequences=True)
        y = (keras.layers.Bidirectional(layer) if sc.bidirectional else layer)(y)
    model = keras.Model(inputs, y)
    data = tf.constant(x.detach().transpose(0, 1).numpy())

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(data)
            loss = tf.reduce_sum(model(data, training=True))
        return tape.gradient(loss, [*model.trainable_variables, data])

    @tf.function
    def infer():
        return model(data, training=False)

    return (lambda: step()) if train else (lambda: infer())


class _WithState(nn.Module):
    """A torch RNN layer as ``(x, *state) -> (y, *state)``: the form ONNX Runtime can stream with."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor, *state: Tensor):
        y, new = self.layer(x, state if len(state) == 2 else state[0])
        return (y, *new) if isinstance(new, tuple) else (y, new)


def onnx_session(module: nn.Module, example: tuple[Tensor, ...]):
    """``module`` exported to ONNX (TorchScript exporter) and loaded in an ONNX Runtime session."""
    import onnxruntime

    path = Path(tempfile.mkdtemp()) / "model.onnx"
    torch.onnx.export(module.eval(), example, str(path), dynamo=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # ONNX Runtime's worker threads spin for a while after each run by default, which steals the cores from
    # whichever system the interleaved timer calls next (it made torch.nn's S3 rows look 2x slower).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, [i.name for i in session.get_inputs()]


def peer_systems(kind: str, cell: str, sc, module: nn.Module | None, x, train: bool = False) -> dict:
    """Extra systems for a layer row (``kind="layer"``) or the streaming rows (``kind="stream"``)."""
    systems: dict[str, Callable[[], None]] = {}
    if kind == "layer":
        if available("keras") and available("tensorflow"):
            systems["keras/tensorflow"] = keras_layer(cell, sc, x, train)
        if not train and available("onnxruntime") and available("onnx"):
            torch.manual_seed(0)
            peer = getattr(nn, cell)(sc.input_size, sc.hidden_size, num_layers=sc.num_layers,
                                     bidirectional=sc.bidirectional)  # fmt: skip
            session, names = onnx_session(peer, (x.detach(),))
            feed = {names[0]: x.detach().numpy()}
            systems["onnxruntime"] = lambda: session.run(None, feed)
    elif kind == "stream" and available("onnxruntime") and available("onnx"):
        zeros = torch.zeros(1, 1, sc.hidden_size)
        state = (zeros, zeros.clone()) if cell == "LSTM" else (zeros,)
        session, names = onnx_session(_WithState(module), (x[0].unsqueeze(0), *state))
        steps = [step.unsqueeze(0).numpy() for step in x]

        def stream() -> None:
            carried = [s.numpy() for s in state]
            for step in steps:
                outputs = session.run(None, {names[0]: step, **dict(zip(names[1:], carried))})
                carried = outputs[1:]

        systems["onnxruntime (T=1)"] = stream
    return systems
