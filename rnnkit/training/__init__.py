"""Training: the loop (knows nothing about RNNs), optimisers and schedules, callbacks, checkpoints, seeds.
Losses are in :mod:`rnnkit.losses`, metrics in :mod:`rnnkit.metrics`, pictures in :mod:`rnnkit.plots`."""

from rnnkit.training.callbacks import Callback, CheckpointCallback, JsonlLogger, ProgressBar
from rnnkit.training.checkpoint import latest_checkpoint, load_checkpoint, resume, save_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.seed import seed_everything
from rnnkit.training.trainer import Trainer, TrainResult

__all__ = [
    "Callback",
    "CheckpointCallback",
    "JsonlLogger",
    "ProgressBar",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "latest_checkpoint",
    "load_checkpoint",
    "resume",
    "save_checkpoint",
    "seed_everything",
]
