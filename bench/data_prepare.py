"""Data preparation speed on a 1,000,000-interaction log (20,000 users x 50 items, u.data format).

Times `ssr data prepare` end to end (read, dedup, 5-core, re-encode, split, write HDF5) and building
every training window. The issue's reference: the authors' released pipeline takes 12.4 s here.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import save_result
from ssr.data.dataset import read_dataset
from ssr.data.prepare import PrepareConfig, prepare

USERS, ITEMS_PER_USER, CATALOGUE = 20_000, 50, 5_000


def write_log(path: Path, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(1, USERS + 1), ITEMS_PER_USER)
    # 50 distinct items per user (no duplicates to drop), popularity-skewed
    item = np.concatenate([rng.choice(CATALOGUE, ITEMS_PER_USER, replace=False) + 1 for _ in range(USERS)])
    rating = rng.integers(1, 6, len(user))
    timestamp = 1_000_000_000 + rng.permutation(len(user))
    np.savetxt(path, np.stack([user, item, rating, timestamp], 1), fmt="%d", delimiter="\t")
    return len(user)


def main(repeats: int = 3) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "u.data"
        interactions = write_log(log)
        timings = {"prepare_seconds": [], "windows_seconds": []}
        for repeat in range(repeats):
            out = Path(folder) / f"prepared{repeat}.h5"
            started = time.perf_counter()
            stats, _ = prepare(PrepareConfig(dataset="ml-100k", split="ufo"), log, out)
            timings["prepare_seconds"].append(time.perf_counter() - started)
            dataset = read_dataset(out)
            started = time.perf_counter()
            inputs, _ = dataset.inputs_and_targets("train")
            timings["windows_seconds"].append(time.perf_counter() - started)
    result = {
        "interactions": interactions, "users": USERS, "split": "ufo", "max_len": 50,
        "prepare_seconds_best": round(min(timings["prepare_seconds"]), 3),
        "prepare_seconds_all": [round(t, 3) for t in timings["prepare_seconds"]],
        "train_windows_seconds_best": round(min(timings["windows_seconds"]), 3),
        "train_windows_shape": list(inputs.shape),
        "goal_seconds": 2.0,
        "reference_released_pipeline_seconds": 12.4,  # the measurement on this machine
        "stats": stats,
    }
    save_result("data_prepare", result)
    return result


if __name__ == "__main__":
    print(main())
