"""`ssr run-lava` throughput: this checkout against an earlier one, side by side in one run.

Each case (an exported graph, its dataset, a batch size) runs first with the code of `--baseline`
(a git worktree of an earlier commit) and then with this checkout's, each in its own Python process
on the same test sequences, one after the other on the same machine, so the load is the same for
both. Recorded per side: sequences/s, where the time went, and that Lava's top-10 lists and spike
counts equal PyTorch's. The machine's load is recorded too: on a 2-core machine shared with
trainings, absolute figures are low; the ratio is the point.

    git worktree add /tmp/baseline <commit>
    python -m bench.lava_speed --baseline /tmp/baseline --case GRAPH:DATA:SEQUENCES[:BATCH] ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import CHECKOUT_IMPORTS, ROOT, commit, save_result

RUN = CHECKOUT_IMPORTS + """
import json
import ssr.targets.loihi_sim.run as code
r = code.run_lava(sys.argv[2], sys.argv[3], limit=int(sys.argv[4]), batch=int(sys.argv[5]), progress=False).to_dict()
r.pop("per_sequence")
r["code"] = code.__file__
print(json.dumps(r))
"""
KEYS = ("sequences", "sequences_per_second", "top10_exact_agreement", "spike_counts_identical", "wall_seconds",
        "mode", "batch", "chunk", "code")


def measure(checkout: Path, graph: str, data: str, sequences: int, batch: int) -> dict:
    """One run-lava call with the code of `checkout`, in a fresh process (cwd: this checkout, where
    the manifest's relative checkpoint path points)."""
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, "-c", RUN, str(checkout), graph, data, str(sequences), str(batch)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"run-lava with {checkout} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"commit": commit(checkout), "load_average_1min_before": load,
            **{key: result[key] for key in KEYS if key in result}}


def main(baseline: Path, cases: list[tuple[str, str, int, int]], name: str = "lava_speed") -> dict:
    rows = []
    for graph, data, sequences, batch in cases:
        before = measure(baseline, graph, data, sequences, batch)
        after = measure(ROOT, graph, data, sequences, batch)
        manifest = json.loads(Path(graph).with_suffix(".manifest.json").read_text())
        row = {"graph": graph, "model": manifest["model"], "data": data, "sequences": sequences, "batch": batch,
               "before": before, "after": after,
               "speed_up": after["sequences_per_second"] / before["sequences_per_second"]}
        rows.append(row)
        print(f"{manifest['model']:<8} batch {batch:>3}: {before['sequences_per_second']:.1f} -> "
              f"{after['sequences_per_second']:.1f} sequences/s ({row['speed_up']:.1f}x); identical to PyTorch: "
              f"{after['top10_exact_agreement'] == 1.0 and after['spike_counts_identical']}", flush=True)
    out = {"baseline": str(baseline), "cases": rows}
    save_result(name, out)
    return out


def parse_case(text: str) -> tuple[str, str, int, int]:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(f"--case {text}: expected GRAPH:DATA:SEQUENCES[:BATCH]")
    return parts[0], parts[1], int(parts[2]), int(parts[3]) if len(parts) == 4 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a checkout (git worktree) of the earlier commit")
    parser.add_argument("--case", type=parse_case, action="append", required=True,
                        help="GRAPH:DATA:SEQUENCES[:BATCH] (repeatable)")
    parser.add_argument("--name", default="lava_speed",
                        help="result file bench/results/NAME.json (default lava_speed; another name keeps "
                             "an earlier comparison's file)")
    args = parser.parse_args()
    main(Path(args.baseline), args.case, args.name)
