"""Shared by the benchmarks: where the real data is, and writing a result file with its context."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from ssr.io import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"


# Python source that makes a fresh interpreter import ssr from the checkout named by sys.argv[1], not from
# the editable install's: it drops that install's finder (which maps ssr.targets etc. to this checkout)
# and lays the checkout's folders out as pyproject.toml's package-dir does. For side-by-side runs of
# an earlier commit (a git worktree) and this one.
CHECKOUT_IMPORTS = """
import sys
root = sys.argv[1]
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in (getattr(f, "__module__", "") or "")
                    and "__editable__" not in type(f).__module__]
sys.path.insert(0, root)
import ssr
ssr.__path__.append(root)
"""


def commit(checkout: Path) -> str:
    return subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2)}  # > cores: other work ran alongside


def save_result(name: str, result: dict[str, Any]) -> Path:
    path = RESULTS / f"{name}.json"
    write_json(path, {"benchmark": name, "date": time.strftime("%Y-%m-%d"), "machine": machine(), **result})
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def sequence_count(value: str) -> int | None:
    """argparse type of `--sequences`: a count of test sequences, or `all` (None: the whole split)."""
    return None if value == "all" else int(value)


def earlier_result(name: str) -> dict[str, Any]:
    """bench/results/NAME.json as the last call wrote it, or {} when there is none yet."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def run_seed(run: str) -> int:
    """The seed of a benchmark run folder named `<dataset>_<variant>_seed<N>`."""
    found = re.search(r"_seed(\d+)$", str(run))
    if found is None:
        raise ValueError(f"{run} does not end in _seed<N>")
    return int(found[1])


def merge_per_seed(earlier: dict[str, Any] | None, row: dict[str, Any], today: str) -> list[dict[str, Any]]:
    """A variant's per-seed rows (each with the `run` folder it read) after diagnosing `row`'s seeds
    today: `earlier`'s rows (an `earlier_rows` entry) of the other seeds stay, marked with the day
    they were measured, when `earlier` is the same variant (model, model config, training
    overrides); ordered by seed."""
    fresh = [{**entry, "measured": today} for entry in row["per_seed"]]
    if earlier is None or any(earlier.get(k) != row[k] for k in ("model", "model_config", "train_overrides")):
        return fresh
    done = {entry["run"] for entry in fresh}
    kept = [{"measured": earlier["measured"], **entry} for entry in earlier["per_seed"] if entry["run"] not in done]
    return sorted(kept + fresh, key=lambda entry: run_seed(entry["run"]))


def earlier_rows(previous: dict[str, Any], section: str, key: str = "run") -> dict[str, dict[str, Any]]:
    """The rows of an earlier result (`earlier_result`) under `section` (a dict by name, or a list keyed
    by each row's `key`), each marked with the day it was measured (its own `measured`, else the
    file's date): what `--merge` keeps of another day's call. Empty for an empty result."""
    if not previous:
        return {}
    rows = previous[section]
    named = rows if isinstance(rows, dict) else {row[key]: row for row in rows}
    return {k: {**row, "measured": row.get("measured", previous["date"])} for k, row in named.items()}
