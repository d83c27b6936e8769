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
from ssr.train.matrix import KNOWN_DATASETS, parse_sweep, prepare_datasets, run_matrix

WORK = RESULTS.parent / "work"
MODELS = ["fmlp", "sasrec", "sfmlp", "sfsrec", "ssr"]
READER, RAW, SPLIT = KNOWN_DATASETS["ml-100k"]
SETTINGS = {"dataset": "ml-100k", "split": SPLIT, "seeds": 1, "epochs": 10, "patience": 3, "threads": 1}
SWEEPS = {"time_steps": {"values": "1,2,4,8", "max_len": 20}, "max_len": {"values": "10,20,50"}}


def datasets(field: str, work: Path, out: Path) -> dict[str, Path]:
    """The prepared file each sweep trains on: ml-100k at max length 20 for the T sweep (named
    ml-100k-len20), ml-100k at 50 (prepared again per length by the sweep itself) for the length sweep."""
    from ssr.data.prepare import PrepareConfig, prepare

    max_len = SWEEPS[field].get("max_len")
    if max_len is None:
        return prepare_datasets([SETTINGS["dataset"]], SHARED_DATA, out)
    target = work / "data" / f"{SETTINGS['dataset']}-len{max_len}.h5"
    prepare(PrepareConfig(dataset=READER, split=SPLIT, max_len=max_len), SHARED_DATA / RAW, target)  # reused when unchanged
    return {target.stem: target}


def sweep(field: str, work: Path, executor: str = "local") -> dict[str, Any]:
    out = work / f"sweep_{field}"
    data = datasets(field, work, out)
    spec = f"{field}={SWEEPS[field]['values']}"
    summary = run_matrix(MODELS, data, SETTINGS["seeds"], out, epochs=SETTINGS["epochs"],
                         patience=SETTINGS["patience"], threads=SETTINGS["threads"], executor=executor,
                         sweeps=[parse_sweep(spec, MODELS)], data_dir=SHARED_DATA, progress=True)
    shutil.copyfile(out / f"sweep_{field}.png", RESULTS / f"sweep_{field}.png")
    (name, path), = data.items()
    settings = {**SETTINGS, "models": MODELS, "sweep": spec,
                **({"max_len": SWEEPS[field]["max_len"]} if "max_len" in SWEEPS[field] else {}),
                "command": f"ssr bench --models {','.join(MODELS)} --datasets "
                           f"{name if name == SETTINGS['dataset'] else relpath(path, ROOT)} "
                           f"--seeds {SETTINGS['seeds']} --epochs {SETTINGS['epochs']} --patience {SETTINGS['patience']} "
                           f"--threads {SETTINGS['threads']} --sweep {spec} --out {relpath(out, ROOT)}",
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
