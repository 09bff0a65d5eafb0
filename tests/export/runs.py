"""Run folders for the export tests: a run's config, task state and (untrained, seeded) model, as
``rnnkit train`` writes them, without the training (the export's parity does not need trained weights)."""

from pathlib import Path

import torch
import yaml

from rnnkit.config import save_config
from rnnkit.models.io import save_model
from rnnkit.tasks.base import load_run_config, task_class

CHATTERBOT = {"dataset": "chatterbot", "languages": ["korean", "english"], "tfidf_baseline": False}


def make_run(folder: Path, task: str, data: dict, model: dict, seed: int = 0) -> Path:
    """A run folder for ``task`` with these data and model sections (an untrained model, seeded)."""
    folder.mkdir(parents=True)
    given = folder / "given.yaml"
    given.write_text(yaml.safe_dump({"task": task, "data": data, "model": model, "train": {"seed": seed}}))
    config = load_run_config(given)
    runner = task_class(config.task, str(given)).from_run_config(config, str(given))
    runner.prepare(folder)
    torch.manual_seed(seed)
    built = runner.build_model()
    save_config(config, folder / "run.yaml")
    save_model(built, folder / "model", extra={"task": task})
    given.unlink()
    return folder
