"""The ``rnnkit`` command: each sub-command module has ``add_parser(subparsers)`` and ``run(args) -> int``."""
