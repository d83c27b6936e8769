"""Shared by the benchmarks: where the real data is, and writing a result file with its context."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from ssr.io import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"


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
