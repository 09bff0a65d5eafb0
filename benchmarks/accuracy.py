"""The quality report: rnnkit's example configs trained on the shared datasets, each beside the baseline a
practitioner tries first and a published reference.

Run from the repository root, with the datasets in ``../shared/data`` (or ``--data DIR``):

    python benchmarks/accuracy.py                         # every task; each run under 30 min on 2 cores
    python benchmarks/accuracy.py --only nsmc,mr          # some tasks; the others keep their last result
    python benchmarks/accuracy.py --quick                 # tiny subsets, 1 epoch: checks that it all runs
    python benchmarks/accuracy.py --only sst2 --step gru --set model.rnn.cell=gru   # a step of its own row
    python benchmarks/accuracy.py --recipe default        # the default recipe: configs of task + data only

Each task trains with ``rnnkit.fit`` on its config from ``rnnkit/configs`` (the code path of ``rnnkit
train``) into ``runs/accuracy/<task>``, so ``rnnkit predict`` and ``rnnkit evaluate`` work on every model
in the table. Results accumulate in ``benchmarks/results/accuracy.json`` (one entry per task, written as
soon as it finishes, so an interrupted report keeps what it measured) and the table is rewritten from it:
``benchmarks/results/accuracy.md``. ``--quick`` writes to ``*-quick.*`` files and ``runs/accuracy-quick``.

Baselines: TF-IDF word 1-2 + char 2-5 grams with logistic regression (scikit-learn: ``pip install
'rnnkit[bench]'``) for text classification, fitted on the same split; for the other tasks the baseline
each task computes itself (1-nearest-neighbour for series, most frequent tag per word for chunking,
seasonal naive, Holt-Winters exponential smoothing and ridge on lags and covariates for forecasting,
copying the source for translation, a unigram model for characters).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):  # run as a script: this checkout's rnnkit, and the modules beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from subsets import make_subset

import rnnkit
from rnnkit.config import atomic_write_text
from rnnkit.tasks import fit, load_run_config

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = ROOT / "rnnkit" / "configs"
DEFAULT_DATA = Path(os.environ.get("RNNKIT_SHARED_DATA") or ROOT.parent / "shared" / "data")


@dataclass(frozen=True)
class Entry:
    """One row of the report: which config, where its data lives, what is scored and against what."""

    task: str  # the config's name in rnnkit/configs
    folder: str | None  # under the data root; None: installed with its package
    split: str
    metric: str  # the key in results.json
    metric_name: str
    higher_is_better: bool
    target: float | None
    reference: str
    overrides: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()  # extra overrides for --quick
    baseline: Callable[[Any, dict, Path | None], dict] | None = None  # (task, results, cache) -> its record;
    # None: the baseline in results.json
    extra_metrics: tuple[str, ...] = field(default=())
    val_metric: str | None = None  # also report this validation metric at the best checkpoint
    show_samples: bool = False  # print the run's sample outputs under the table


def text_baseline(task: Any, results: dict, cache: Path | None = None) -> dict[str, Any]:
    """TF-IDF + logistic regression on exactly the task's train / validation / test split: the record the run
    wrote into its results.json (``rnnkit train`` fits it when scikit-learn is installed), else fitted here
    with :func:`rnnkit.tasks.classification.baseline.cached_tfidf_baseline` (once per split, in ``cache``)."""
    from rnnkit.tasks.classification.baseline import cached_tfidf_baseline

    stored = (results.get("baselines") or {}).get("tfidf_logistic_regression")
    if stored is not None:
        return stored
    pairs = {name: [(e.text, e.label) for e in task.splits[name]] for name in ("train", "val", "test")}
    record = cached_tfidf_baseline(pairs, cache)
    if record is None:
        raise ImportError("the TF-IDF baseline needs scikit-learn: pip install 'rnnkit[bench]'")
    return record


QUICK_TEXT = ("train.epochs=1", "data.max_vocab=2000")
ENTRIES = [
    Entry("nsmc", "nsmc", "NSMC sample: 40k train (5% validation) / 10k test", "test_accuracy", "accuracy",
          True, 0.86, "BiLSTM baselines on the full 150k train set: 0.83-0.865",
          quick=QUICK_TEXT, baseline=text_baseline),
    Entry("sst2", "sst2", "SST-2: GLUE's 67,349 training phrases / 872 / 1,821 sentences", "test_accuracy",
          "accuracy", True, 0.84,
          "Kim 2014 CNN-rand 0.827; C-LSTM (word2vec) 0.878", quick=QUICK_TEXT, baseline=text_baseline),
    Entry("mr", "mr", "MR: seeded stratified 80/10/10 split (seed 0), test = 10%", "test_accuracy",
          "accuracy", True, 0.80, "Kim 2014 CNN-rand 0.761, CNN-static 0.810 (10-fold CV)",
          quick=QUICK_TEXT, baseline=text_baseline),
    Entry("japanese_vowels", "ucr_uea_classification", "UEA JapaneseVowels: TRAIN 270 (10% validation) / "
          "TEST 370", "test_accuracy", "accuracy", True, 0.98, "-", quick=("train.epochs=2",)),
    Entry("conll2000", "conll2000", "CoNLL-2000: 8,936 train (10% validation) / 2,012 test sentences",
          "test_chunk_f1", "chunk F1", True, 0.93,
          "shared-task baseline 0.7707; best system 0.9348 (Tjong Kim Sang & Buchholz 2000)",
          quick=("train.epochs=1",)),
    Entry("airline_passengers", "airline_passengers", "monthly 1949-1960: test = last 24 months",
          "test_mase", "MASE", False, 1.0, "MASE 1 = in-sample seasonal naive error (Hyndman & Koehler 2006)",
          quick=("train.epochs=5",)),
    Entry("tatoeba_eng_kor", "tatoeba_eng_kor", "Tatoeba eng->kor: 5,749 pairs, seeded 80/10/10",
          "test_bleu_beam", "BLEU (beam 5)", True, None, "-",
          quick=("train.epochs=1", "data.eval_pairs=10"), extra_metrics=("test_chrf_beam",),
          show_samples=True),
    Entry("digits_captions", None, "scikit-learn digits: 1,797 8x8 images, seeded 70/10/20, English words",
          "test_exact_match", "exact caption", True, None, "-", quick=("train.epochs=1",),
          extra_metrics=("test_chrf",)),
    Entry("nsmc_generation", "nsmc", "NSMC sample, reviews per sentiment: 40k train / first 2,000 test",
          "test_perplexity", "char perplexity", False, None, "-",
          quick=("train.epochs=1", "data.eval_max_texts=20", "data.generation.samples_per_class=5",
                 "data.generation.max_new_tokens=20"),
          extra_metrics=("test_judge_agreement", "test_judge_real_accuracy"), show_samples=True),
    Entry("tinyshakespeare", "tinyshakespeare", "tinyshakespeare: 90/5/5 split of 1.1M characters",
          "test_bpc", "bits per char", False, None, "-",
          quick=("train.epochs=1", "data.chunks_per_epoch=64", "data.eval_max_tokens=2000",
                 "data.generation.max_new_tokens=50"), val_metric="val_bpc", show_samples=True),
]  # fmt: skip


def _stored_baseline(entry: Entry, results: dict) -> dict[str, Any]:
    baselines = results.get("baselines") or {}
    chosen = dict(results.get("baseline_1nn") or results.get("baseline") or {})
    key = entry.metric if entry.metric in chosen else entry.metric.replace("_beam", "")
    value = chosen.get(key)
    out = {"name": chosen.get("name", "-"), "value": value}
    also = [  # e.g. forecasting's Holt-Winters and ridge beside the seasonal naive
        f"{other.get('name', name)}: {other[entry.metric]:.3f}"
        for name, other in baselines.items()
        if name not in ("seasonal_naive",) and isinstance(other, dict) and entry.metric in other
    ]
    if also:
        out["also"] = "; ".join(also)
    return out


def run_entry(
    entry: Entry,
    data_root: Path,
    runs: Path,
    quick: bool,
    subsets: Path,
    step: str | None = None,
    changes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Train one config (with ``changes``, under the name ``step``), time it, score it and its baseline."""
    where: list[str] = []  # a dataset installed with its package (digits: scikit-learn) has no folder
    if entry.folder is not None:
        folder = data_root / entry.folder
        if not folder.is_dir():
            raise FileNotFoundError(f"{entry.task}: dataset folder {folder} not found (see --data)")
        if quick:
            folder = make_subset(folder, subsets / entry.folder, examples=60)
        where = [f"data.path={folder}"]
    overrides = [*where, *entry.overrides, *changes, *(entry.quick if quick else ())]
    config = load_run_config(CONFIGS / f"{entry.task}.yaml", overrides)
    run_dir = runs / (entry.task if step is None else f"{entry.task}-{step}")
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    start = time.perf_counter()
    run = fit(config, run_dir, quiet=True)
    seconds = time.perf_counter() - start
    results = run.results
    if entry.baseline is not None:
        base = entry.baseline(run.task, results, runs / "baselines")
        baseline = {"name": base["name"], "value": base[entry.metric]}
    else:
        baseline = _stored_baseline(entry, results)
    return {
        "task": entry.task,
        "split": entry.split,
        "model": _describe_model(config),
        "metric": entry.metric_name,
        **scores_of_run(entry, run_dir, results),
        "baseline": baseline,
        "target": entry.target,
        "higher_is_better": entry.higher_is_better,
        "reference": entry.reference,
        "wall_s": round(seconds, 1),
        "run_dir": str(run_dir),
        "overrides": [*entry.overrides, *changes],
        "step": step,
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def scores_of_run(entry: Entry, run_dir: Path, results: dict) -> dict[str, Any]:
    """What the report reads from a finished run folder: the metric, the extra metrics, the validation
    metric at the best evaluation (from ``metrics.jsonl``) and a few sample outputs."""
    extra = {name: results.get(name) for name in entry.extra_metrics}
    if entry.val_metric is not None:
        from rnnkit.training.callbacks import read_jsonl

        evals = [e for e in read_jsonl(run_dir / "metrics.jsonl") if e.get("event") == "eval"]
        best = [e for e in evals if e.get("best") is not None and e.get("best") == evals[-1].get("best")]
        extra[entry.val_metric] = best[0].get(entry.val_metric) if best else None
    return {"value": results.get(entry.metric), "extra": extra, "samples": results.get("samples", [])[:3]}


def rescore(entry: Entry, record: dict) -> dict:
    """The record with its scores read again from its run folder and its description from ``entry`` (no
    training; after a change to the report)."""
    run_dir = Path(record["run_dir"])
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    described = {"split": entry.split, "reference": entry.reference, "target": entry.target}
    return {**record, **described, **scores_of_run(entry, run_dir, results)}


def _describe_model(config: Any) -> str:
    model = config.model if isinstance(config.model, dict) else {}
    if model.get("preset"):
        return f"{model['preset']} (config {config.name})"
    rnn = model.get("rnn") or model.get("encoder") or {}
    cell = rnn.get("cell", "?").upper() if isinstance(rnn, dict) else "?"
    bi = "Bi" if isinstance(rnn, dict) and rnn.get("bidirectional") else ""
    extra = " + CRF" if model.get("crf") else ""
    if model.get("attention"):
        extra += f" + {model['attention']} attention"
    data = config.data if isinstance(config.data, dict) else {}
    inputs = ["characters"] * bool(data.get("characters")) + list(data.get("feature_columns") or [])
    if inputs:
        extra += f"; reads words + {' + '.join(inputs)}"
    if model.get("conv"):
        return f"Conv1D + {bi}{cell} (config {config.name})"
    return f"{bi}{cell}{extra} (config {config.name})"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import sklearn

        sk = f", scikit-learn {sklearn.__version__}"
    except ImportError:
        sk = ""
    return (
        f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads; "
        f"rnnkit {rnnkit.__version__}, torch {torch.__version__}, Python {platform.python_version()}{sk}"
    )


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _verdict(record: dict) -> str:
    value, target = record["value"], record["target"]
    if value is None or target is None:
        return "-"
    met = value >= target if record["higher_is_better"] else value < target
    comparison = ">=" if record["higher_is_better"] else "<"
    return f"{comparison} {target:g} " + ("met" if met else f"missed by {abs(value - target):.3f}")


def markdown(records: dict[str, dict], header: str) -> str:
    lines = [header, "", "| dataset, split | model | metric | rnnkit | baseline (same split) | target | "
             "published reference | wall time |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for entry in ENTRIES:
        r = records.get(entry.task)
        if r is None:
            cells = [entry.split, "not run yet", entry.metric_name, "-", "-", "-", entry.reference, "-"]
            lines.append("| " + " | ".join(cells) + " |")
            continue
        lines.append(_row(r))
        steps = [v for k, v in records.items() if k.startswith(entry.task + " [")]
        lines += [_row(v, step=True) for v in steps]
    for entry in ENTRIES:
        r = records.get(entry.task)
        if entry.show_samples and r is not None and r.get("samples"):
            lines += ["", f"Samples of {entry.task} (test set, from its results.json):", ""]
            lines += [_sample(sample) for sample in r["samples"]]
    return "\n".join(lines) + "\n"


def _sample(sample: dict) -> str:
    if "source" in sample:  # translation
        output = sample.get("beam", sample.get("greedy"))
        return f"* {sample['source']} → {output} (reference: {sample['reference']})"
    text = sample.get("text", "")
    return "\n".join(["```text", text.strip(), "```"])


def _row(r: dict, step: bool = False) -> str:
    """One table row; a step row names its changes to the example config instead of repeating the split."""
    extra = "".join(f"; {k.replace('test_', '')} {_number(v)}" for k, v in r["extra"].items())
    ours = _number(r["value"]) + extra
    base = r["baseline"]
    baseline = f"{_number(base.get('value'))} ({base.get('name', '-')})"
    if base.get("also"):
        baseline += f"; {base['also']}"
    minutes = f"{r['wall_s'] / 60:.1f} min ({r['when']})"
    first = f"step {r['step']}: {', '.join(r['overrides'])}" if step else r["split"]
    reference = "" if step else r["reference"]
    cells = [first, r["model"], r["metric"], ours, baseline, _verdict(r), reference, minutes]
    return "| " + " | ".join(cells) + " |"


START, END = "<!-- accuracy table: start -->", "<!-- accuracy table: end -->"


def replace_between_markers(path: Path, table: str, markers: tuple[str, str] = (START, END)) -> None:
    """Put ``table`` between the START and END markers of ``path`` (the README shows the script's output).

    Example:
        >>> import tempfile
        >>> readme = Path(tempfile.mkdtemp()) / "README.md"
        >>> _ = readme.write_text(f"# Quality\\n{START}\\nold\\n{END}\\nmore\\n")
        >>> replace_between_markers(readme, "| new |\\n")
        >>> readme.read_text().splitlines()[1:4]
        ['<!-- accuracy table: start -->', '| new |', '<!-- accuracy table: end -->']
    """
    start, end = markers
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise ValueError(f"{path}: no {start} ... {end} block to put the table in")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{start}\n{table}{end}{tail}", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny subsets and 1 epoch: checks that it runs")
    parser.add_argument("--only", default=None, help="comma-separated tasks (default: all)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"datasets (default {DEFAULT_DATA})")
    parser.add_argument("--runs", type=Path, default=None, help="run folders (default runs/accuracy[-quick])")
    parser.add_argument(
        "--results", type=Path, default=None, help="results JSON (default: benchmarks/results)"
    )
    parser.add_argument("--markdown", type=Path, default=None, help="the table (default beside the JSON)")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also put the table into this file, between its accuracy markers")  # fmt: skip
    parser.add_argument("--rescore", action="store_true",
                        help="read the scores of the finished runs again, without training")  # fmt: skip
    parser.add_argument("--step", default=None, help="record this run as a named step (a row of its own)")
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                        help="change the example config (needs --step; repeatable)")  # fmt: skip
    parser.add_argument("--recipe", choices=["default"], default=None,
                        help="the default recipe on every text set: configs of task + data only "
                             "(benchmarks/recipe_report.py)")  # fmt: skip
    parser.add_argument("--results-recipe", type=Path, default=None,
                        help="the --recipe results JSON (default: results/accuracy-recipe.json)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.recipe is not None:
        from recipe_report import NAMES

        args.runs = args.runs or Path("runs") / f"accuracy{'-quick' if args.quick else ''}"
        unknown = sorted(set((args.only or "").split(",")) - set(NAMES) - {""})
        if unknown:
            parser.error(f"--only: unknown sets {unknown} (known with --recipe: {', '.join(NAMES)})")
        return args
    suffix = "-quick" if args.quick else ""
    args.runs = args.runs or Path("runs") / f"accuracy{suffix}"
    args.results = args.results or ROOT / "benchmarks" / "results" / f"accuracy{suffix}.json"
    args.markdown = args.markdown or args.results.with_suffix(".md")
    if bool(args.step) != bool(args.changes):
        parser.error("--step and --set go together: a step is a named change of the example configs")
    known = [e.task for e in ENTRIES]
    args.tasks = known if args.only is None else [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = sorted(set(args.tasks) - set(known))
    if unknown:
        parser.error(f"--only: unknown tasks {unknown} (known: {', '.join(known)})")
    return args


def save_records(path: Path, records: dict[str, dict]) -> None:
    """Write the results JSON atomically: a report killed while writing keeps its previous results."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(records, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.recipe is not None:
        import recipe_report

        return recipe_report.main(args, machine(), replace_between_markers)
    records = json.loads(args.results.read_text(encoding="utf-8")) if args.results.is_file() else {}
    failures = []
    subsets = args.runs / "_subsets"  # quick mode's data, kept so that `rnnkit evaluate` works on its runs
    for entry in ENTRIES:
        if entry.task not in args.tasks:
            continue
        if args.rescore:
            for key in [k for k in records if k == entry.task or k.startswith(entry.task + " [")]:
                records[key] = rescore(entry, records[key])
            continue
        print(f"== {entry.task}", flush=True)
        try:
            step = (args.step, tuple(args.changes))
            record = run_entry(entry, args.data, args.runs, args.quick, subsets, *step)
        except (FileNotFoundError, ImportError) as error:
            print(f"   skipped: {error}", flush=True)
            failures.append(entry.task)
            continue
        records[entry.task if args.step is None else f"{entry.task} [{args.step}]"] = record
        base = _number(record["baseline"]["value"])
        print(
            f"   {record['metric']} {_number(record['value'])}, baseline {base}, {record['wall_s']:.0f} s",
            flush=True,
        )
        save_records(args.results, records)
    if args.rescore:
        save_records(args.results, records)
    kind = "quick check on tiny subsets (not scored)" if args.quick else "full runs"
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    header = f"rnnkit quality report, {kind}, table written {today}. Machine: {machine()}."
    table = markdown(records, header)
    args.markdown.write_text(table, encoding="utf-8")
    if args.readme is not None:
        replace_between_markers(args.readme, table)
    print(table)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
