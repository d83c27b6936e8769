"""Lava Loihi 2 CPU-simulator target. `lava_compat` makes lava-nc 0.10 / lava-dl 0.6 import on 3.11+."""

# sequences side by side (whole graph, and each host-in-the-loop sub-graph call). With the dense block
# products of 2026-12-02, on 2,048 ml-100k test sequences of a 2-core machine loaded by two trainings,
# ssr ran 130 / 158 / 158 / 106 sequences/s at 8 / 16 / 32 / 64 and sfsrec 26.5 at 8, 26.8 at 16
# (bench/README.md, "Lava's synapses as dense blocks"); beyond 32 Lava's CPU backend pays more for the
# data it moves each step than it saves on synchronising.
DEFAULT_BATCH = 16
