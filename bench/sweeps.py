"""`python -m bench.sweeps`: the benchmark paper's sensitivity sweeps (its Figures 5 and 6, Table 6)
on ml-100k through `ssr bench --sweep` — accuracy, energy per inference and training seconds per
epoch against the number of time steps T and against the maximum sequence length.

- `time_steps` = 1, 2, 4, 8 at max length 20 (the released code's ml-100k length; at our usual 50
  the sweep costs 2.5x as much), fmlp and sasrec once each as the flat ANN lines;
- `max_len` = 10, 20, 50 at each model's default T (4), every model at every length.

sfmlp, sfsrec and ssr (each model's defaults, trained without a teacher, as the paper trains them)
beside their ANN originals fmlp and sasrec; one seed, at most 10 epochs (the released code's budget)
with early stopping on validation MRR@10 after 3 epochs without gain, one torch thread per run. Runs
go to WORK/sweep_<field>/ (finished cells are read, never trained again, so a stopped run resumes); the
tables and figures are copied to bench/results/sweep_<field>.{json,png}.
"""

from __future__ import annotations

import argparse
import shutil
from os.path import relpath
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, SHARED_DATA, save_result
from ssr.train.matrix import parse_sweep, prepare_datasets, run_matrix

WORK = RESULTS.parent / "work"
MODELS = ["fmlp", "sasrec", "sfmlp", "sfsrec", "ssr"]
SETTINGS = {"dataset": "ml-100k", "split": "ufo", "seeds": 1, "epochs": 10, "patience": 3, "threads": 1}
SWEEPS = {"time_steps": {"values": "1,2,4,8", "max_len": 20}, "max_len": {"values": "10,20,50"}}


def datasets(field: str, out: Path) -> dict[str, Path]:
    """The prepared file each sweep trains on: ml-100k at max length 20 for the T sweep (named
    ml-100k-len20), ml-100k at 50 (prepared again per length by the sweep itself) for the length sweep."""
    from ssr.data.prepare import PrepareConfig, prepare

    max_len = SWEEPS[field].get("max_len")
    if max_len is None:
        return prepare_datasets([SETTINGS["dataset"]], SHARED_DATA, out)
    target = WORK / "data" / f"{SETTINGS['dataset']}-len{max_len}.h5"
    prepare(PrepareConfig(dataset=SETTINGS["dataset"], split=SETTINGS["split"], max_len=max_len),
            SHARED_DATA / "ml-100k" / "u.data", target)  # reused when unchanged
    return {target.stem: target}


def sweep(field: str, work: Path, executor: str = "local") -> dict[str, Any]:
    out = work / f"sweep_{field}"
    summary = run_matrix(MODELS, datasets(field, out), SETTINGS["seeds"], out, epochs=SETTINGS["epochs"],
                         patience=SETTINGS["patience"], threads=SETTINGS["threads"], executor=executor,
                         sweeps=[parse_sweep(f"{field}={SWEEPS[field]['values']}", MODELS)], data_dir=SHARED_DATA,
                         progress=True)
    shutil.copyfile(out / f"sweep_{field}.png", RESULTS / f"sweep_{field}.png")
    data = "ml-100k" if "max_len" not in SWEEPS[field] else relpath(WORK / "data" / f"ml-100k-len{SWEEPS[field]['max_len']}.h5", ROOT)
    settings = {**SETTINGS, "models": MODELS, "sweep": f"{field}={SWEEPS[field]['values']}",
                **({"max_len": SWEEPS[field]["max_len"]} if "max_len" in SWEEPS[field] else {}),
                "command": f"ssr bench --models {','.join(MODELS)} --datasets {data} --seeds 1 --epochs 10 "
                           f"--patience 3 --threads 1 --sweep {field}={SWEEPS[field]['values']} --out {relpath(out, ROOT)}",
                "energy_profile": "45nm-fp32"}
    return {"settings": settings, "rows": summary["sweeps"][field], "figure": f"bench/results/sweep_{field}.png"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fields", default=",".join(SWEEPS), help=f"which sweeps (default {','.join(SWEEPS)})")
    parser.add_argument("--work", type=Path, default=WORK, help="folder for the runs (default bench/work)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="ray: the cells as Ray tasks on this machine's cores (default: one after another)")
    args = parser.parse_args(argv)
    fields = [f for f in args.fields.split(",") if f]
    unknown = sorted(set(fields) - set(SWEEPS))
    if unknown:
        raise SystemExit(f"--fields: unknown sweep {', '.join(unknown)}; known: {', '.join(SWEEPS)}")
    if not SHARED_DATA.exists():
        print(f"sweeps: {SHARED_DATA} is absent, skipped")
        return
    for field in fields:
        save_result(f"sweep_{field}", sweep(field, args.work, args.executor))


if __name__ == "__main__":
    main()
