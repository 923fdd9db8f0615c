"""Benchmarks: `make bench` writes benchmarks/results.md (see benchmarks/run.py)."""
