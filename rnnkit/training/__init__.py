"""Training: losses (and, with the training issue, the trainer, metrics and checkpoints)."""
