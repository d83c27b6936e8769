"""Lava Loihi 2 CPU-simulator target. `lava_compat` makes lava-nc 0.10 / lava-dl 0.6 import on 3.11+."""

# sequences side by side, by default (`run-lava --batch`), measured on ml-100k's whole test split of a
# 2-core machine (2026-12-02, bench/README.md, "Lava's synapses as dense blocks"):
# - a whole-graph model ran 381 / 465 / 523 / 457 sequences/s at 16 / 32 / 64 / 128 copies with the
#   machine otherwise idle (two trainings alongside, 2,048 sequences: 158 / 158 / 106 at 16 / 32 / 64);
# - host in the loop, each sub-graph call: a model of ten sub-graphs ran 28.2 / 23.6 / 17.3 at
#   16 / 32 / 64 (two trainings alongside): a call of 64 sequences becomes one window.
WHOLE_GRAPH_BATCH = 64
HOST_IN_THE_LOOP_BATCH = 16


def default_batch(whole_graph: bool) -> int:
    return WHOLE_GRAPH_BATCH if whole_graph else HOST_IN_THE_LOOP_BATCH
