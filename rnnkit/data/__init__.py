"""Data: synthetic tasks (more loaders come with the data issue)."""
