"""The trials of a search as a table: one row each, with its parameters, validation metric, state and
seconds; the best trial marked."""

from __future__ import annotations

from typing import Any


def short_key(key: str) -> str:
    """The last part of a dotted key: what a table column needs.

    Example:
        >>> short_key("model.rnn.hidden_size")
        'hidden_size'
    """
    return key.rsplit(".", 1)[-1]


def format_value(value: Any) -> str:
    """Floats to 4 significant digits, the rest as ``str``.

    Example:
        >>> format_value(0.0023456), format_value(0.5), format_value("gru"), format_value(None)
        ('0.002346', '0.5', 'gru', '-')
    """
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def trials_table(trials: list[dict[str, Any]], monitor: str, best: int | None) -> str:
    """A fixed-width table of ``trials`` (``tune.json``'s rows), the best one marked ``*``.

    Example:
        >>> rows = [{"number": 0, "state": "complete", "value": 0.75, "seconds": 3.2,
        ...          "params": {"train.lr": 0.002}},
        ...         {"number": 1, "state": "pruned (median)", "value": 0.5, "seconds": 1.0,
        ...          "params": {"train.lr": 0.01}}]
        >>> print(trials_table(rows, "val_accuracy", best=0))
          trial  state            val_accuracy  seconds  lr
        * 0      complete         0.75          3.2      0.002
          1      pruned (median)  0.5           1        0.01
    """
    keys = list(dict.fromkeys(key for row in trials for key in row.get("params", {})))
    header = ["trial", "state", monitor, "seconds", *(short_key(k) for k in keys)]
    rows = [
        [str(row["number"]), row["state"], format_value(row.get("value")), format_value(row.get("seconds")),
         *(format_value(row.get("params", {}).get(k)) for k in keys)]
        for row in trials
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str], mark: str) -> str:
        return (mark + " " + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip()

    marks = ["*" if row["number"] == best else " " for row in trials]
    return "\n".join([line(header, " "), *(line(r, m) for r, m in zip(rows, marks))])
