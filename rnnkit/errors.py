"""The one base class of the errors a user can fix (a config key, a data file, a run folder, an argument).

``rnnkit``'s command line prints such an error's message in one or two lines and exits with status 2;
any other exception is a bug in rnnkit and keeps its traceback. Raise a subclass (or ``UserError``
itself) with a message that names the file, line or field, and says what to do.

Example:
    >>> from rnnkit.config import ConfigError
    >>> issubclass(ConfigError, UserError)
    True
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user gave (file, key, argument) that rnnkit cannot use; the message says what to do."""


class RunFolderError(UserError, FileNotFoundError):
    """A run folder that is missing, incomplete or damaged (or not one ``rnnkit train`` wrote); the message
    names the folder or its file and what to do. A :class:`FileNotFoundError` too, for older callers."""


class RunExistsError(UserError, FileExistsError):
    """A new ``rnnkit train`` given a folder that already holds a run (resume it, or choose another)."""


class ArgumentError(UserError, ValueError):
    """An argument (of a command or a function) that cannot be used; the message names it."""


class PredictOptionError(UserError, ValueError):
    """A per-request option of ``predict`` that the task does not take or whose value it refuses;
    ``field`` is the option's key.

    Example:
        >>> str(PredictOptionError("top_k", "must be >= 1"))
        'options.top_k: must be >= 1'
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"options.{field}: {reason}")
        self.field, self.reason = field, reason


class InputError(ValueError):
    """An input to ``predict`` that the task cannot read; ``number`` is its place among the inputs (from 1),
    so that a caller can name the argument or the file line it came from.

    Example:
        >>> error = InputError(2, "expected numbers")
        >>> str(error), error.number, error.reason
        ('input 2: expected numbers', 2, 'expected numbers')
    """

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"input {number}: {reason}")
        self.number, self.reason = number, reason
