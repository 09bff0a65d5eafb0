"""Plots: valid PNG and SVG files (headers parsed by hand, no Pillow) from a real training log, a confusion
matrix and a forecast; the series read from the log; fonts; clear errors; no pyplot figure left open."""

import re
import struct
import warnings
import zlib

import matplotlib.pyplot as plt  # only to check that nothing opens a global figure
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.plots.charts import (
    learning_curves,
    plot_confusion_matrix,
    plot_forecast,
    plot_learning_curves,
)
from rnnkit.plots.figure import _font_families
from rnnkit.training.callbacks import Callback, CheckpointCallback, JsonlLogger, read_jsonl
from rnnkit.training.config import TrainConfig
from tests.training.test_trainer import one_thread, train  # noqa: F401 (an autouse fixture)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_global_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def png_size(path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the signature, the chunk's CRC and the IEND end."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    header, (crc,) = data[16:29], struct.unpack(">I", data[29:33])
    assert zlib.crc32(kind + header) == crc
    assert data[-12:] == struct.pack(">I4sI", 0, b"IEND", zlib.crc32(b"IEND"))
    width, height, bit_depth = struct.unpack(">IIB", header[:9])
    assert bit_depth == 8
    return width, height


def svg_texts(path) -> list[str]:
    """The strings drawn in a matplotlib SVG (it writes each text as a path preceded by the text in a comment)."""
    text = path.read_text(encoding="utf-8")
    assert "<svg" in text and text.rstrip().endswith("</svg>")
    return re.findall(r"<!-- (.*?) -->", text)


def only_files(directory, *names):
    """No temp file left behind by the atomic writes."""
    assert sorted(p.name for p in directory.iterdir() if p.is_file()) == sorted(names)


# ----- learning curves from a real run -------------------------------------------------------------
class Crash(Callback):
    def on_step_end(self, trainer, step, loss, lr, batch_size):
        if step == 10:
            raise RuntimeError("crash")


def evaluate_with_a_null():
    """val_loss, val_mae and val_within (the fraction within 0.5); val_mae is NaN (logged null) at first."""
    calls = iter(range(100))

    def evaluate(model, loader):
        errors = torch.cat([model(x) - y for x, y in loader])
        mae = float(errors.abs().mean()) if next(calls) else float("nan")
        return {"val_loss": float(F.mse_loss(errors, torch.zeros_like(errors))), "val_mae": mae,
                "val_within": float((errors.abs() < 0.5).float().mean())}  # fmt: skip

    return evaluate


@pytest.fixture(scope="module")
def resumed_log(tmp_path_factory):
    """The JsonlLogger file of a run killed at step 10 (checkpoint at 8) and resumed to step 16."""
    run = tmp_path_factory.mktemp("run")
    log, config = run / "log.jsonl", TrainConfig(epochs=2, eval_every=4, log_every=2, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    evaluate = evaluate_with_a_null()  # one for both runs: only the first evaluation (step 4) is NaN
    try:
        with pytest.raises(RuntimeError, match="crash"):
            train(
                config, [JsonlLogger(log), CheckpointCallback(run, every_steps=4), Crash()], evaluate=evaluate
            )
        train(config, [JsonlLogger(log)], evaluate=evaluate, resume_from=run)
    finally:
        torch.set_num_threads(threads)
    return read_jsonl(log)


def test_learning_curves_reads_a_resumed_run_with_nulls(resumed_log):
    curves = learning_curves(resumed_log)
    assert curves.steps.tolist() == [2, 4, 6, 8, 10, 12, 14, 16]
    logged = {r["step"]: r["loss"] for r in resumed_log if r["event"] == "train"}
    assert curves.loss.tolist() == [logged[s] for s in curves.steps]
    assert curves.resumed_at == [8]
    assert curves.eval_steps.tolist() == [4, 8, 12, 16]
    assert list(curves.metrics) == ["val_loss", "val_mae", "val_within"]  # "best" is not a metric
    assert np.isnan(curves.metrics["val_mae"][0]) and np.isfinite(curves.metrics["val_mae"][1:]).all()
    assert curves.metrics["val_loss"][-1] < curves.metrics["val_loss"][0]  # it did learn


def test_plot_learning_curves_png_and_svg(resumed_log, tmp_path):
    png = plot_learning_curves(resumed_log, tmp_path / "curves.png")
    assert png == tmp_path / "curves.png"
    assert png_size(png) == (800, 680)  # 8 in x (1.2 + 2.8 per panel) in at 100 dpi: two panels
    texts = svg_texts(plot_learning_curves(resumed_log, tmp_path / "curves.svg"))
    for text in ("train loss", "val_loss", "val_mae", "val_within", "resumed", "step", "loss", "metric"):
        assert text in texts, text
    only_files(tmp_path, "curves.png", "curves.svg")


def test_plot_learning_curves_of_chosen_metrics(resumed_log, tmp_path):
    assert png_size(plot_learning_curves(resumed_log, tmp_path / "loss.png", metrics=["val_loss"])) == (
        800,
        400,
    )
    texts = svg_texts(plot_learning_curves(resumed_log, tmp_path / "acc.svg", metrics=["val_within"]))
    assert "val_within" in texts and "val_loss" not in texts and "train loss" in texts


def test_only_the_last_run_counts_and_a_redone_step_keeps_its_last_record():
    records = [
        {"event": "start", "step": 0, "resumed": False},
        {"event": "train", "step": 1, "loss": 9.0},  # an earlier run in the same file
        {"event": "start", "step": 0, "resumed": False},
        {"event": "train", "step": 1, "loss": 2.0},
        {"event": "train", "step": 2, "loss": 1.5},
        {"event": "start", "step": 1, "resumed": True},
        {"event": "train", "step": 2, "loss": 1.0},  # step 2 redone, the old record not dropped
        {"event": "eval", "step": 2, "val_acc": None, "note": "text is not a metric", "best": 1.0},
    ]
    curves = learning_curves(records)
    assert (curves.steps.tolist(), curves.loss.tolist(), curves.resumed_at) == ([1, 2], [2.0, 1.0], [1])
    assert list(curves.metrics) == ["val_acc"] and np.isnan(curves.metrics["val_acc"]).all()


def test_evaluation_only_records_plot_without_a_loss_panel(tmp_path):
    records = [{"event": "eval", "step": s, "val_accuracy": s / 10} for s in range(1, 5)]
    assert png_size(plot_learning_curves(records, tmp_path / "acc.png")) == (800, 400)


# ----- confusion matrix ----------------------------------------------------------------------------
def test_confusion_matrix_korean_labels_annotations_and_no_warnings(tmp_path):
    counts = torch.tensor([[6, 2, 0], [1, 3, 0], [0, 0, 0]])
    labels = ["긍정", "부정", "중립"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Glyph missing" flood when no Hangul font is installed
        width, height = png_size(plot_confusion_matrix(counts, labels, tmp_path / "cm.png"))
        normalised = svg_texts(plot_confusion_matrix(counts, labels, tmp_path / "cm.svg"))
        raw = svg_texts(plot_confusion_matrix(counts.tolist(), labels, tmp_path / "raw.svg", normalize=False))
    assert 300 < height < width < 1000
    assert normalised.count("긍정") == 2 and normalised.count("중립") == 2  # rows and columns
    cells = [t for t in normalised if re.fullmatch(r"\d\.\d\d", t)]
    assert cells == [
        "0.75",
        "0.25",
        "0.00",
        "0.25",
        "0.75",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    ]  # an empty row: 0
    assert [t for t in raw if t.isdigit()][:9] == ["6", "2", "0", "1", "3", "0", "0", "0", "0"]
    only_files(tmp_path, "cm.png", "cm.svg", "raw.svg")


def test_confusion_matrix_of_40_classes_grows_and_drops_annotations(tmp_path):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 5, size=(40, 40)) + 20 * np.eye(40, dtype=np.int64)
    labels = [f"class {i}" for i in range(40)]
    width, height = png_size(plot_confusion_matrix(counts, labels, tmp_path / "cm40.png"))
    small = png_size(plot_confusion_matrix(np.eye(3), labels[:3], tmp_path / "cm3.png"))
    assert width > 3 * small[0] and height > 3 * small[1]
    texts = svg_texts(plot_confusion_matrix(counts, labels, tmp_path / "cm40.svg"))
    assert not [t for t in texts if re.fullmatch(r"\d\.\d\d", t)]  # no cell annotation
    assert all(label in texts for label in labels)


def test_fallback_font_covers_what_the_default_lacks():
    assert _font_families(["loss 0.25", "Ωμέγα"]) is None  # all in the default font (DejaVu Sans)
    families = _font_families(["ᵫ"])  # U+1D6B: in DejaVu Serif (shipped with matplotlib), not in DejaVu Sans
    assert families is not None and len(families) == 2
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    found = font_manager.findfont(font_manager.FontProperties(family=families[-1]), fallback_to_default=False)
    assert ord("ᵫ") in FT2Font(getattr(found, "path", found)).get_charmap()


def test_hangul_gets_an_installed_korean_font_if_there_is_one():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    families = _font_families(["긍정"])
    installed = [e for e in font_manager.fontManager.ttflist if ord("긍") in FT2Font(e.fname).get_charmap()
                 and "Last Resort" not in e.name]  # fmt: skip
    if installed:
        assert families is not None and families[-1] in {e.name for e in installed}
    else:  # nothing to fall back to: the default family alone
        assert families is not None and len(families) == 1


# ----- forecast ------------------------------------------------------------------------------------
def test_forecast_with_quantile_bands(tmp_path):
    history, actual = np.sin(np.arange(40) / 4), np.sin(np.arange(40, 50) / 4)
    bands = np.stack([actual - 0.3, actual - 0.1, actual, actual + 0.1, actual + 0.3], axis=1)  # (H, Q)
    levels = (0.05, 0.25, 0.5, 0.75, 0.95)
    assert png_size(plot_forecast(history, actual, bands, tmp_path / "f.png", quantiles=levels)) == (900, 400)
    texts = svg_texts(plot_forecast(history, actual, bands, tmp_path / "f.svg", levels, title="판매량"))
    for text in ("history", "actual", "forecast (median)", "0.05–0.95", "0.25–0.75", "판매량"):
        assert text in texts, text


def test_point_forecast_from_tensors_without_actual(tmp_path):
    texts = svg_texts(
        plot_forecast(torch.randn(20), None, torch.randn(5, dtype=torch.float64), tmp_path / "p.svg")
    )
    assert "forecast" in texts and "actual" not in texts
    two = plot_forecast(
        torch.randn(20), torch.zeros(5), torch.randn(5, 2), tmp_path / "q.png", quantiles=[0.1, 0.9]
    )
    assert png_size(two) == (900, 400)
    assert "forecast (q=0.1)" in svg_texts(
        plot_forecast([0.0], [1.0], [[0.5, 1.5]], tmp_path / "q.svg", (0.1, 0.9))
    )


# ----- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda p: plot_confusion_matrix([[1, 2, 3], [4, 5, 6]], ["a", "b"], p),
            r"square .*got shape \(2, 3\)",
        ),
        (lambda p: plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b", "c"], p), "2 classes .* got 3 labels"),
        (lambda p: plot_confusion_matrix([[1, -2], [3, 4]], ["a", "b"], p), "non-negative"),
        (lambda p: plot_confusion_matrix([[1, 2], [3, float("nan")]], ["a", "b"], p), "finite"),
        (
            lambda p: plot_forecast(np.zeros(5), np.zeros(3), np.zeros(4), p),
            r"actual must be .*\(4,\).*got \(3,\)",
        ),
        (
            lambda p: plot_forecast(np.zeros(5), None, np.zeros(4), p, quantiles=(0.1, 0.9)),
            "one level per forecast column",
        ),
        (
            lambda p: plot_forecast(np.zeros(5), None, np.zeros((4, 3)), p, (0.1, 0.9)),
            r"2 quantiles .*\(4, 3\)",
        ),
        (
            lambda p: plot_forecast(np.zeros(5), None, np.zeros((4, 2)), p),
            "2 columns .* pass their quantiles",
        ),
        (lambda p: plot_forecast(np.zeros(5), None, np.zeros((4, 2)), p, (0.9, 0.1)), "strictly increasing"),
        (lambda p: plot_forecast(np.zeros((5, 1)), None, np.zeros(4), p), r"history must be 1-D .*\(5, 1\)"),
        (lambda p: plot_learning_curves([{"event": "start", "step": 0}], p), "no 'train' loss"),
        (
            lambda p: plot_learning_curves([{"event": "eval", "step": 1, "acc": 1}], p, ["f1"]),
            r"\['f1'\].*\['acc'\]",
        ),
        (lambda p: plot_learning_curves(["not a record"], p), r"records\[0\] must be a dict"),
    ],
)
def test_bad_inputs_raise_clear_errors_and_write_nothing(tmp_path, call, message):
    with pytest.raises(ValueError, match=message):
        call(tmp_path / "out.png")
    only_files(tmp_path)


@pytest.mark.parametrize("name", ["plot.jpg", "plot", "plot.pdf"])
def test_the_suffix_must_be_png_or_svg(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plot_forecast([1.0], None, [2.0], tmp_path / name)
