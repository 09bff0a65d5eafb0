"""``python -m rnnkit`` is the ``rnnkit`` command."""

import sys

from rnnkit.cli.main import run

sys.exit(run())
