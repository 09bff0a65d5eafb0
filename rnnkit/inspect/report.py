"""One self-contained HTML page per run: learning curves, metrics, and what the network does inside.

The page embeds every picture as a base64 PNG and has no script, stylesheet or font to fetch, so it opens
offline, from an e-mail attachment as well as from the run folder. The PNG and SVG files of the pictures
are also written next to it (``report/``).
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.inspect.examples import validation_examples
from rnnkit.inspect.figures import FORMATS
from rnnkit.inspect.gradient_flow import summarise_flow
from rnnkit.inspect.inspection import ExampleReport, Picture, inspect_example
from rnnkit.inspect.plot_flow import plot_flow_by_distance
from rnnkit.inspect.statistics import GateStatistics, gate_statistics

__all__ = ["build_report", "render_page"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1280px; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.6em 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.row { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; flex: 1 1 520px; max-width: 620px; }
figure img { width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.85em; color: #555; }
.token { padding: 1px 3px; margin: 1px; border-radius: 3px; display: inline-block; }
.note { color: #555; } code { background: #f5f5f5; padding: 1px 4px; }
"""


def _on(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}


def build_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    examples: int = 3,
    formats: Sequence[str] = FORMATS,
    projections: int | None = 8,
    flow_batches: int = 4,
    device: str | None = None,
) -> Path:
    """Inspect a run and write its report page.

    Args:
        run_dir: a run folder made by ``rnnkit train``.
        out: the HTML file (default ``RUN/report.html``); pictures go to ``report/`` beside it.
        examples: validation examples to inspect one by one.
        projections: Gaussian projections for ``‖∂h_T/∂s_t‖`` (None: exact).
        flow_batches: validation batches the gradient-flow summary averages over.
        device: cpu, cuda, ... (default: the run's).

    Returns:
        the path of the HTML file.
    """
    from rnnkit.plots.charts import plot_learning_curves
    from rnnkit.tasks.runner import LOG, RESULTS, load_run
    from rnnkit.training.callbacks import read_jsonl

    run_dir = Path(run_dir)
    task, model = load_run(run_dir, device)
    out = Path(out) if out is not None else run_dir / "report.html"
    pictures_dir = out.parent / "report"
    pictures_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    dev = task.device

    def loss(m: Any, batch: dict[str, Any]) -> Any:
        return task.compute_loss(m, _on(batch, dev))

    results = (
        json.loads((run_dir / RESULTS).read_text(encoding="utf-8")) if (run_dir / RESULTS).is_file() else {}
    )
    run_pictures = []
    if (run_dir / LOG).is_file() and not (run_dir / "learning_curves.png").is_file():
        records = read_jsonl(run_dir / LOG)
        if records:
            plot_learning_curves(records, pictures_dir / "learning_curves.png")
            run_pictures.append(Picture("learning curves", "curves", [pictures_dir / "learning_curves.png"]))
    for png in sorted(run_dir.glob("*.png")):
        run_pictures.append(Picture(png.stem.replace("_", " "), "run", [png]))

    _, val, test = task.loaders()
    batches = val if val is not None else test
    statistics = gate_statistics(model, batches, loss) if batches is not None else None
    flow_pictures = []
    if batches is not None:
        summaries = summarise_flow(model, batches, loss, projections=4, max_batches=flow_batches)
        summaries = [s for s in summaries if len(s.count) > 1]  # a decoder stepping token by token: no flow
        curves = {f"{s.call} {s.label}".strip(): s.jacobian for s in summaries if s.jacobian is not None}
        grads = {f"{s.call} {s.label}".strip(): s.loss_grad for s in summaries}
        if curves:
            title = "‖∂h_T/∂s_t‖_F over the validation data"
            files = plot_flow_by_distance(curves, pictures_dir / "flow_jacobian", title, formats=formats)
            flow_pictures.append(
                Picture(
                    "how much the state s_t still moves the last hidden state h_T, by distance", "flow", files
                )
            )
            title = "‖dL/ds_t‖ over the validation data"
            files = plot_flow_by_distance(grads, pictures_dir / "flow_loss", title, "‖dL/ds_t‖", formats)
            flow_pictures.append(
                Picture("gradient of the loss by distance from the last step", "flow", files)
            )

    reports: list[ExampleReport] = []
    for k, example in enumerate(validation_examples(task, examples)):
        example.batch = _on(example.batch, dev)
        reports.append(
            inspect_example(
                model, example, task.compute_loss, pictures_dir, f"example{k + 1}", formats, projections
            )
        )
    page = render_page(
        title=f"rnnkit report: {run_dir.name}",
        subtitle=f"task {task.name} · model {type(model).__name__} · "
        f"{sum(p.numel() for p in model.parameters()):,} parameters",
        results=results,
        run_pictures=run_pictures,
        statistics=statistics,
        flow_pictures=flow_pictures,
        examples=reports,
        command=f"rnnkit report {run_dir}",
    )
    out.write_text(page, encoding="utf-8")
    return out


def _image(picture: Picture) -> str:
    png = next((f for f in picture.files if f.suffix == ".png"), None)
    if png is None:
        return ""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    caption = html.escape(picture.caption)
    return (
        f'<figure data-kind="{picture.kind}"><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _images(pictures: list[Picture]) -> str:
    return f"<div class='row'>{''.join(_image(p) for p in pictures)}</div>" if pictures else ""


def _metrics_table(results: dict[str, Any]) -> str:
    rows = []
    for key, value in results.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((key, value))
        elif isinstance(value, dict) and key in ("baseline", "train"):
            rows += [(f"{key}: {k}", v) for k, v in value.items() if isinstance(v, (int, float, str))]
    if not rows:
        return "<p class='note'>No metrics: the run has no results.json (has it finished?).</p>"
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td class='n'>{html.escape(_number(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table><tr><th>metric</th><th>value</th></tr>{body}</table>"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _statistics_table(statistics: GateStatistics | None) -> str:
    if statistics is None or not statistics.rows:
        return "<p class='note'>No gates recorded (no validation data, or a cell without gates).</p>"
    body = "".join(
        f"<tr><td>{html.escape(c or '(model)')}</td><td>{html.escape(label)}</td><td>{html.escape(gate)}</td>"
        f"<td class='n'>{mean:.3f}</td><td class='n'>{saturated:.1%}</td><td class='n'>{count:,}</td></tr>"
        for c, label, gate, mean, saturated, count in statistics.rows
    )
    return (
        f"<p>Recorded {statistics.sequences:,} validation sequences in {statistics.seconds:.1f} s.</p>"
        "<table><tr><th>layer</th><th>direction</th><th>gate</th><th>mean</th><th>saturated</th>"
        f"<th>values</th></tr>{body}</table>"
    )


def render_page(
    title: str,
    subtitle: str,
    results: dict[str, Any],
    run_pictures: list[Picture],
    statistics: GateStatistics | None,
    flow_pictures: list[Picture],
    examples: list[ExampleReport],
    command: str,
) -> str:
    """The HTML text of a report (pure: everything it shows comes in through the arguments)."""
    curves = [p for p in run_pictures if "learning" in p.caption]
    others = [p for p in run_pictures if p not in curves]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(subtitle)}</p>",
    ]
    if results or curves:
        parts += ["<h2>Training</h2>", f"<div class='row'>{_metrics_table(results)}{_images(curves)}</div>"]
    for example in examples:
        parts.append(f"<h2>{html.escape(example.title)}</h2>")
        note = f"{example.note} · " if example.note else ""
        parts.append(f"<p class='note'>{html.escape(note)}loss {example.loss:.4f}</p>")
        if example.saliency_html:
            parts.append(f"<p>{example.saliency_html}</p>")
        parts.append(_images(example.pictures))
    if flow_pictures:
        parts += ["<h2>Gradient flow over the validation data</h2>", _images(flow_pictures)]
    if statistics is not None:
        parts += ["<h2>Gates over the validation data</h2>", _statistics_table(statistics)]
    if others:
        parts += ["<h2>More plots of the run</h2>", _images(others)]
    stamp = time.strftime("%Y-%m-%d %H:%M")
    parts.append(f"<p class='note'>Made by <code>{html.escape(command)}</code> on {stamp}.</p></body></html>")
    return "\n".join(parts) + "\n"
