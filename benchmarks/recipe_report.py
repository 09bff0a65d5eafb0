"""``benchmarks/accuracy.py --recipe default``: the default recipe on every text-classification set, with
configs that name only ``task`` and ``data`` (where the data are and how they are split), as a new user
writes them; each beside TF-IDF + logistic regression on the same split, with the gap and the wall time.

    python benchmarks/accuracy.py --recipe default                     # every set
    python benchmarks/accuracy.py --recipe default --only mr,chatterbot
    python benchmarks/accuracy.py --recipe default --quick             # tiny subsets, 1 epoch: it runs

Results accumulate in ``benchmarks/results/accuracy-recipe.json`` and the table is written to
``accuracy-recipe.md`` (``--readme README.md`` puts it between the README's recipe markers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rnnkit.config import atomic_write_text
from rnnkit.tasks import fit
from rnnkit.tasks.base import apply_overrides, run_config_from_raw, with_recipe

DataSection = Callable[[Path, Path], dict[str, Any]]  # (dataset folder, scratch folder) -> data section


@dataclass(frozen=True)
class RecipeSet:
    """One row: a dataset, how its data section reads it, and what the tuned example config scored."""

    name: str
    folder: str | None  # under the data root; None: installed with rnnkit
    split: str
    data: DataSection
    tuned: str = "-"  # the example config's score on the same split, for comparison


def _catalog(name: str, **split: Any) -> DataSection:
    return lambda folder, scratch: {"dataset": name, "path": str(folder), **split}


def _tables(train: str, test: str, text: str, label: str) -> DataSection:
    return lambda folder, scratch: {
        "train": str(folder / train),
        "test": str(folder / test),
        "text_column": text,
        "label_column": label,
    }


def _clinc(folder: Path, scratch: Path) -> dict[str, Any]:
    """CLINC150's in-scope queries (its JSON's train / val / test lists) as JSON-lines tables."""
    raw = json.loads((folder / "data_full.json").read_text(encoding="utf-8"))
    scratch.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, key in (("train", "train"), ("validation", "val"), ("test", "test")):
        path = scratch / f"clinc150_{split}.jsonl"
        rows = [json.dumps({"text": text, "label": label}, ensure_ascii=False) for text, label in raw[key]]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        files[split] = str(path)
    return files


SETS = [
    RecipeSet(
        "chatterbot",
        None,
        "chatterbot corpus (installed), Korean + English, 19 topics, seeded 75/10/15",
        lambda folder, scratch: {"dataset": "chatterbot", "val_fraction": 0.1, "test_fraction": 0.15},
        tuned="0.569 (config chatterbot, seed 0)",
    ),
    RecipeSet(
        "mr",
        "mr",
        "MR: seeded stratified 80/10/10 (seed 0)",
        _catalog("mr", test_fraction=0.1, val_fraction=0.1, split_seed=0),
        tuned="0.752 (config mr)",
    ),
    RecipeSet(
        "sst2",
        "sst2",
        "SST-2: GLUE's 67,349 training phrases / 872 / 1,821",
        _catalog("sst2", train_table="glue_sst2_train_phrases.tsv", text_column="sentence"),
        tuned="0.852 (config sst2)",
    ),
    RecipeSet(
        "nsmc",
        "nsmc",
        "NSMC sample: 40k train (5% validation) / 10k test",
        _catalog("nsmc", val_fraction=0.05),
        tuned="0.861 (config nsmc)",
    ),
    RecipeSet(
        "korean_hate_speech",
        "korean_hate_speech",
        "Korean hate speech: 7,896 train (10% validation) / 471 dev as test, hate / offensive / none",
        _tables("train.tsv", "dev.tsv", "comments", "hate"),
    ),
    RecipeSet(
        "banking77",
        "banking77",
        "BANKING77: 10,003 train (10% validation) / 3,080 test, 77 intents",
        _tables("train.csv", "test.csv", "text", "category"),
    ),
    RecipeSet("clinc150", "clinc150", "CLINC150 in-scope: 15,000 / 3,000 / 4,500, 150 intents", _clinc),
]
NAMES = [s.name for s in SETS]
QUICK = ["train.epochs=1", "data.max_vocab=2000"]


def _subset(data: dict[str, Any], scratch: Path, examples: int) -> dict[str, Any]:
    """Quick mode: the first ``examples`` rows of each own file (catalog sets: their subset folder)."""
    out = dict(data)
    for split in ("train", "validation", "test"):
        if split in data:
            source = Path(data[split])
            lines = source.read_text(encoding="utf-8").splitlines()
            header = 0 if source.suffix == ".jsonl" else 1
            target = scratch / f"quick_{source.name}"
            target.write_text("\n".join(lines[: header + examples]) + "\n", encoding="utf-8")
            out[split] = str(target)
    return out


def run_set(entry: RecipeSet, data_root: Path, runs: Path, quick: bool) -> dict[str, Any]:
    """Train the default recipe on one set (its config: task + data only) and score it beside TF-IDF + LR."""
    from subsets import make_subset

    scratch = runs / "_data" / entry.name
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path() if entry.folder is None else data_root / entry.folder
    if entry.folder is not None and not folder.is_dir():
        raise FileNotFoundError(f"{entry.name}: dataset folder {folder} not found (see --data)")
    if (
        quick
        and entry.folder is not None
        and entry.name not in ("banking77", "korean_hate_speech", "clinc150")
    ):
        folder = make_subset(folder, scratch / "subset", examples=60)
    data = entry.data(folder, scratch)
    if quick:
        data = _subset(data, scratch, 80)
    raw = with_recipe({"task": "classification", "name": entry.name, "data": data})
    config = run_config_from_raw(apply_overrides(raw, QUICK if quick else []), entry.name)
    run_dir = runs / entry.name
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    start = time.perf_counter()
    results = fit(config, run_dir, quiet=True).results
    seconds = time.perf_counter() - start
    tfidf = results["baselines"].get("tfidf_logistic_regression", {})
    choices = json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
    return {
        "set": entry.name,
        "split": entry.split,
        "accuracy": results["test_accuracy"],
        "tfidf": tfidf.get("test_accuracy"),
        "majority": results["baseline"]["test_accuracy"],
        "gap": None if not tfidf else round(results["test_accuracy"] - tfidf["test_accuracy"], 4),
        "tuned": entry.tuned,
        "recipe": {c["key"]: c["value"] for c in choices[1:]},
        "embeddings": results.get("embeddings"),
        "wall_s": round(seconds, 1),
        "run_dir": str(run_dir),
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _describe(recipe: dict[str, Any]) -> str:
    rnn = "BiLSTM" if recipe.get("model.rnn.bidirectional") else "LSTM"
    reads = recipe.get("data.tokenizer", "word") + (
        "s + characters" if recipe.get("data.characters") else "s"
    )
    vectors = " + GloVe 50-d" if recipe.get("data.embeddings") else ""
    return f"{rnn} {recipe.get('model.rnn.hidden_size', '?')}, {reads}{vectors}"


def markdown(records: dict[str, dict], header: str) -> str:
    """The table: one row per set, in :data:`SETS` order."""
    lines = [
        header,
        "",
        "| set, split | default recipe chose | rnnkit | TF-IDF + LR | gap | majority | tuned "
        "example config | wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in SETS:
        r = records.get(entry.name)
        if r is None:
            lines.append(f"| {entry.split} | not run yet | - | - | - | - | {entry.tuned} | - |")
            continue
        gap = "-" if r["gap"] is None else f"{r['gap']:+.3f}"
        tfidf = "-" if r["tfidf"] is None else f"{r['tfidf']:.3f}"
        cells = [
            r["split"],
            _describe(r["recipe"]),
            f"{r['accuracy']:.3f}",
            tfidf,
            gap,
            f"{r['majority']:.3f}",
            r["tuned"],
            f"{r['wall_s'] / 60:.1f} min ({r['when']})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(args: Any, machine: str, replace_between_markers: Callable[..., None]) -> int:
    """The ``--recipe default`` report (called by ``accuracy.py`` with its parsed arguments)."""
    suffix = "-quick" if args.quick else ""
    results = (
        args.results_recipe or Path(__file__).resolve().parent / "results" / f"accuracy-recipe{suffix}.json"
    )
    records = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
    failures = []
    for entry in SETS:
        if args.only is not None and entry.name not in args.only.split(","):
            continue
        print(f"== {entry.name} (default recipe)", flush=True)
        try:
            record = run_set(entry, args.data, args.runs / "recipe", args.quick)
        except (FileNotFoundError, ImportError) as error:
            print(f"   skipped: {error}", flush=True)
            failures.append(entry.name)
            continue
        records[entry.name] = record
        print(
            f"   accuracy {record['accuracy']:.3f}, TF-IDF + LR {record['tfidf']}, {record['wall_s']:.0f} s",
            flush=True,
        )
        results.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(results, json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    kind = "quick check on tiny subsets (not scored)" if args.quick else "full runs"
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    table = markdown(
        records, f"Default recipe (configs of task + data only), {kind}, {today}. Machine: {machine}."
    )
    results.with_suffix(".md").write_text(table, encoding="utf-8")
    if args.readme is not None:
        replace_between_markers(args.readme, table, markers=RECIPE_MARKERS)
    print(table)
    return 1 if failures else 0


RECIPE_MARKERS = ("<!-- recipe table: start -->", "<!-- recipe table: end -->")
