"""Lava Loihi 2 CPU-simulator target. `lava_compat` makes lava-nc 0.10 / lava-dl 0.6 import on 3.11+."""

# sequences side by side (whole graph, and each host-in-the-loop sub-graph call): on 256 test sequences
# of a 2-core machine loaded by two trainings (2026-12-01), 8 was the fastest of those tried for a
# whole-graph model and two host-in-the-loop ones (bench/README.md, "Lava throughput"); beyond that
# Lava's CPU backend pays more for the data it moves each step than it saves on synchronising.
DEFAULT_BATCH = 8
