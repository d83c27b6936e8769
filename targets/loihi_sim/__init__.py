"""Lava Loihi 2 CPU-simulator target. `lava_compat` makes lava-nc 0.10 / lava-dl 0.6 import on 3.11+."""
