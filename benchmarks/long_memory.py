"""The long-memory experiment: vanilla RNN, LSTM, GRU, LayerNorm-LSTM, IndRNN and minGRU on the adding
problem (T = 50, 100, 200, 400), the copy-memory task (delay 50, 100) and sequential 8x8 digits, with the
same training budget, against each task's trivial baseline.

Run from the repository root (the same as ``rnnkit experiment long-memory``; see docs/long_memory.md):

    python benchmarks/long_memory.py                  # the table and figures in benchmarks/results/
    python benchmarks/long_memory.py --quick          # a small version (< 3 min on 2 cores)
    python benchmarks/long_memory.py --smoke          # seconds: checks that it all runs (the test suite)

The sequential-digits task needs scikit-learn (``pip install scikit-learn``); ``--tasks adding,copy``
leaves it out.
"""

from __future__ import annotations

import sys

from rnnkit.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "long-memory", *sys.argv[1:]]))
