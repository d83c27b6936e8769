"""Training throughput (samples/s) on ml-100k (`ufo`, max length 50), one torch thread.

Each model trains for one real epoch through `ssr.train.trainer.train` (data windows, forward,
backward, Adam step), and the trainer's own timing is reported. The issue's reference: the authors'
released FMLP-Rec code does about 920 samples/s here, their spiking SSR about 183.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from bench.common import SHARED_DATA, save_result
from ssr.data.prepare import PrepareConfig, prepare
from ssr.train.trainer import TrainConfig, train

REFERENCE_SAMPLES_PER_SECOND = {"fmlp": 920, "ssr": 183, "ssr-hybrid": 183}  # released code, per the issue
GOAL_SPEEDUP = {"ssr": 2.0, "ssr-hybrid": 3.0}  # over the released SSR (spikingjelly), per the issue


def main(models: list[str], epochs: int = 1) -> dict | None:
    source = SHARED_DATA / "ml-100k" / "u.data"
    if not source.exists():
        print(f"skipped: {source} not found")
        return None
    torch.set_num_threads(1)
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "ml100k.h5"
        prepare(PrepareConfig(dataset="ml-100k", split="ufo", max_len=50), source, data)
        for model in models:
            metrics = train(model, data, Path(folder) / model, TrainConfig(epochs=epochs, threads=1),
                            progress=False)
            rate, reference = metrics["timings"]["train_samples_per_second"], REFERENCE_SAMPLES_PER_SECOND.get(model)
            rows[model] = {"train_samples_per_second": rate, "reference_samples_per_second": reference,
                           "speedup_vs_reference": round(rate / reference, 2) if reference else None,
                           "goal_speedup": GOAL_SPEEDUP.get(model)}
            print(model, json.dumps(rows[model]))
    result = {"dataset": "ml-100k", "split": "ufo", "max_len": 50, "batch_size": 128,
              "torch_threads": 1, "epochs_timed": epochs, "models": rows}
    save_result("train_throughput", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="fmlp")
    main(parser.parse_args().models.split(","))
