"""``rnnkit tune``: a search of a run config's settings on the validation split, within a time budget.

- :mod:`rnnkit.tune.budget`: ``"90s"`` / ``"20m"`` / ``"1h"`` and the clock that stops trials in time;
- :mod:`rnnkit.tune.space`: the searched keys and their ranges, centred on the config's own values;
- :mod:`rnnkit.tune.objective`: one trial (train on train, score on validation, never the test split);
- :mod:`rnnkit.tune.study`: the Optuna study, ``tune.json`` and the best trial as an ordinary run folder.

Optuna is imported only when a search runs (``pip install 'rnnkit[tune]'``). See ``docs/tune.md``.
"""
