"""Fast paths. ``dispatch.choose_path`` is the only code that decides which one runs."""
