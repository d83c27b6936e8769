"""Benchmarks (`make bench`): speed, memory and quality figures, written to bench/results/*.json."""
