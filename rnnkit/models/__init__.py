"""Models, one file per sequence shape; each returns predictions, never a loss."""

from rnnkit.models.io import MODELS, load_model, register_model, save_model

__all__ = ["MODELS", "load_model", "register_model", "save_model"]
