"""Experiments that show what the inspection tools are for: the long-memory tasks (``rnnkit experiment``)."""
