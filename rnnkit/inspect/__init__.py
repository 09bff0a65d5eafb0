"""See inside a network: record gates and states, measure gradient flow through time, explain predictions,
and draw it all (see docs/inspection.md).

    record(model)                       every gate, c_t and h_t of every recurrent layer, per step
    gradient_flow(model, batch, loss)   ‖dL/ds_t‖ and ‖∂h_T/∂s_t‖ per step, layer and direction
    summarise_flow(...)                 the same averaged over a dataset, by distance from the last step
    saliency(model, tokens)             gradient x input per token of a text classifier
    gate_statistics(...)                mean and saturation of every gate over a dataset

Pictures: :mod:`rnnkit.inspect.plot_gates`, :mod:`rnnkit.inspect.plot_flow`,
:mod:`rnnkit.inspect.plot_text`; the HTML page: :func:`rnnkit.inspect.report.build_report`
(``rnnkit report RUN``).
"""

from rnnkit.inspect.gradient_flow import FlowProfile, FlowSummary, gradient_flow, summarise_flow
from rnnkit.inspect.recording import LayerCall, Recording, record
from rnnkit.inspect.saliency import Saliency, saliency
from rnnkit.inspect.statistics import GateStatistics, gate_statistics

__all__ = [
    "FlowProfile",
    "FlowSummary",
    "GateStatistics",
    "LayerCall",
    "Recording",
    "Saliency",
    "gate_statistics",
    "gradient_flow",
    "record",
    "saliency",
    "summarise_flow",
]
