"""Benchmark helpers: an interleaved timer with warm-up, device sync and medians."""
