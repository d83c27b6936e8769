"""Energy per inference of fmlp vs ssr and ssr-hybrid on ml-100k and Beauty, with every profile.

For each dataset, `ssr energy-report` on its three runs (seed 0 of the quality benchmark by default,
any run directories with --runs) under every named profile; records the pairs' savings next to the
paper's 59.43% and writes the 45nm-fp32 report folder under bench/work/energy/<dataset>/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import RESULTS, save_result
from ssr.energy.profiles import PROFILES
from ssr.energy.report import build_report, write_report

PAPER_SAVING_PERCENT = 59.43  # "59.43% less energy on average" (Yu et al., IJCAI 2025)


def main(datasets: dict[str, list[Path]], sequences: int = 256, lava: dict[str, Path] | None = None) -> dict:
    rows = []
    for dataset, runs in datasets.items():
        for profile in PROFILES.values():
            report = build_report(runs, profile, sequences=sequences, lava_path=(lava or {}).get(dataset))
            if profile.name == "45nm-fp32":
                write_report(report, RESULTS.parent / "work" / "energy" / dataset)
            by_name = {m["name"]: m for m in report.models}
            for pair in report.pairs:
                ann, snn = by_name[pair["ann"]], by_name[pair["snn"]]
                rows.append({"dataset": dataset, "profile": profile.name, "ann": ann["model"], "snn": snn["model"],
                             "ann_run": ann["run"], "snn_run": snn["run"],
                             "ann_energy_pj": ann["energy_pj"], "snn_energy_pj": snn["energy_pj"],
                             "saving_percent": pair["saving_percent"],
                             "saving_percent_with_memory": pair["saving_percent_with_memory"],
                             "ann_HR@10": ann["HR@10"], "snn_HR@10": snn["HR@10"],
                             "ann_NDCG@10": ann["NDCG@10"], "snn_NDCG@10": snn["NDCG@10"],
                             "ann_memory_bytes": ann["memory_bytes"], "snn_memory_bytes": snn["memory_bytes"],
                             "snn_macs": snn["macs"], "snn_acs": snn["acs"], "ann_macs": ann["macs"],
                             **({"snn_energy_lava_pj": snn["lava"]["energy_pj"]} if "lava" in snn else {})})
                print(dataset, profile.name, ann["model"], "vs", snn["model"], f"{pair['saving_percent']:.2f}%")
    result = {"paper_saving_percent": PAPER_SAVING_PERCENT, "sequences": sequences, "pairs": rows}
    save_result("energy", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    work = RESULTS.parent / "work" / "runs"
    parser.add_argument("--ml-100k", default=",".join(str(work / f"ml-100k_{m}_seed0") for m in ("fmlp", "ssr", "ssr-hybrid")))
    parser.add_argument("--beauty", default=",".join(str(work / f"beauty_{m}_seed0") for m in ("fmlp", "ssr", "ssr-hybrid")))
    parser.add_argument("--lava-ml-100k", help="a lava.json of the ml-100k ssr run, shown beside PyTorch's counts")
    parser.add_argument("--sequences", type=int, default=256)
    args = parser.parse_args()
    main({"ml-100k": [Path(p) for p in args.ml_100k.split(",")], "beauty": [Path(p) for p in args.beauty.split(",")]},
         args.sequences, {"ml-100k": Path(args.lava_ml_100k)} if args.lava_ml_100k else None)
