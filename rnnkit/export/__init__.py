"""ONNX export of rnnkit models (issue 14): :mod:`rnnkit.export.recurrent` turns each recurrent layer into an
ONNX ``Scan`` over rnnkit's own cell step, with exact masking of variable lengths and dynamic batch and time
axes. Needs the ``export`` extra (``pip install rnnkit[export]``)."""
