"""Side information on Amazon Scientific: id-only against text, image and text+image, per model.

The benchmark paper's Table 5 shape: for each model (fmlp, sfmlp, ssr, sasrec, sfsrec) and each
setting (`side_info` none / text / image / text+image, fusion sum), test HR/NDCG/MRR@10 under full
ranking on Scientific's own leave-one-out split (`recbole-inter`, CLIP-style 512-d text and image
features from ../shared/data/amazon-scientific-mm), the relative gain over the same model's id-only
run, and the energy per inference (`ssr energy-report`'s counter, 45nm-fp32) beside the server's
one-off cost of fusing the table. Runs go to WORK/runs/scientific_<model>_<setting>_seed<k> and are
reused; at most 30 epochs, patience 5 on validation MRR@10, one torch thread, default
hyper-parameters. The paper reports +7.36% to +26.61% HR@10 and +7.20% to +38.75% NDCG@10 for
spiking models with side information on its three Amazon datasets.

    python -m bench.side_info [--models fmlp,ssr] [--settings none,text] [--seeds 1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import RESULTS, SHARED_DATA, save_result
from bench.ssr_gap import energy_and_firing
from ssr.data.prepare import PrepareConfig, prepare
from ssr.train.trainer import TrainConfig, train

MODELS = ("fmlp", "sfmlp", "ssr", "sasrec", "sfsrec")
SETTINGS = ("none", "text", "image", "text+image")
PAPER = {"HR@10": (7.36, 26.61), "NDCG@10": (7.20, 38.75)}  # % gains of spiking models, the paper's Table 5
SOURCE = SHARED_DATA / "amazon-scientific-mm"


def prepared(work: Path) -> Path:
    data = work / "data" / "scientific.h5"
    config = PrepareConfig(dataset="recbole-inter", split="loo", min_count=1,
                           item_features=(f"text={SOURCE / 'Scientific.text_feat.npy'}",
                                          f"image={SOURCE / 'Scientific.image_feat.npy'}"))
    prepare(config, SOURCE / "Scientific.test.inter", data)
    return data


def run_cell(data: Path, work: Path, model: str, setting: str, seed: int, threads: int) -> dict:
    run = work / "runs" / f"scientific_{model}_{setting.replace('+', '-')}_seed{seed}"
    if not (run / "model.pt").exists():
        train(model, data, run, TrainConfig(epochs=30, patience=5, seed=seed, threads=threads),
              {"side_info": setting}, progress=False)
    metrics = json.loads((run / "metrics.json").read_text())
    cost = energy_and_firing(run, data)  # one energy-report count gives the device's and the server's
    return {"run": str(run), **{k: metrics["test"][k] for k in ("HR@10", "NDCG@10", "MRR@10")},
            "best_epoch": metrics["best_epoch"], "epochs_run": metrics["epochs_run"],
            "train_seconds_per_epoch": metrics["timings"]["train_seconds"] / max(metrics["epochs_run"], 1),
            "energy_pj_per_inference": cost["energy_pj_per_inference"],
            "server_side_energy_pj": cost["server_side_energy_pj"]}


def mean_row(cell: dict, only: set[str] | None = None) -> dict:
    """Mean over the seeds a (model, setting) cell holds (or over those of them in `only`)."""
    seeds = [value for seed, value in cell["seeds"].items() if only is None or seed in only]
    return {key: sum(s[key] for s in seeds) / len(seeds)
            for key in ("HR@10", "NDCG@10", "MRR@10", "energy_pj_per_inference", "server_side_energy_pj")}


def gain_percent(settings: dict, setting: str, metric: str) -> float:
    """% change of `metric` from id-only to `setting`, over the seeds both have."""
    shared = set(settings[setting]["seeds"]) & set(settings["none"]["seeds"])
    return 100 * (mean_row(settings[setting], shared)[metric] / mean_row(settings["none"], shared)[metric] - 1)


def table(rows: dict) -> str:
    lines = ["| model | side information | seeds | HR@10 | NDCG@10 | MRR@10 | HR@10 gain | NDCG@10 gain | "
             "energy / inference | server, once |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for model, settings in rows.items():
        for setting in (s for s in SETTINGS if s in settings):
            row = mean_row(settings[setting])
            gain = {m: f"{gain_percent(settings, setting, m):+.1f}%" if "none" in settings and setting != "none"
                    else "" for m in ("HR@10", "NDCG@10")}  # over the seeds both have
            lines.append(f"| {model} | {setting} | {len(settings[setting]['seeds'])} | {row['HR@10']:.4f} | "
                         f"{row['NDCG@10']:.4f} | {row['MRR@10']:.4f} | "
                         f"{gain['HR@10']} | {gain['NDCG@10']} | {row['energy_pj_per_inference'] / 1e6:.2f} uJ | "
                         f"{row['server_side_energy_pj'] / 1e6:.2f} uJ |")
    return "\n".join(lines)


def figure(rows: dict, out: Path) -> Path:
    """bench/results/side_info.png: each model's HR@10 and NDCG@10 gain over its id-only run per
    setting (mean over the seeds it has), the paper's range for spiking models shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    models = [m for m in MODELS if m in rows and "none" in rows[m]]
    settings = [s for s in SETTINGS[1:] if any(s in rows[m] for m in models)]
    width = 0.8 / max(len(settings), 1)
    for axis, metric in zip(axes, ("HR@10", "NDCG@10")):
        low, high = PAPER[metric]
        axis.axhspan(low, high, color="tab:green", alpha=0.12, label=f"paper, spiking models ({low}-{high}%)")
        axis.axhline(0, color="black", linewidth=0.8)
        for i, setting in enumerate(settings):
            gains = [gain_percent(rows[m], setting, metric) if setting in rows[m] else float("nan") for m in models]
            seeds = [len(rows[m][setting]["seeds"]) if setting in rows[m] else 0 for m in models]
            bars = axis.bar([x + (i - (len(settings) - 1) / 2) * width for x in range(len(models))], gains, width,
                            label=setting)
            for bar, n in zip(bars, seeds):
                if n:
                    axis.annotate(f"{n}s", (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="top",
                                  fontsize=6, xytext=(0, -2), textcoords="offset points")
        axis.set_xticks(range(len(models)), models)
        axis.set_title(f"{metric} gain over id-only, Scientific (test)")
        axis.set_ylabel("% change")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.text(0.01, 0.01, "ns under a bar: seeds averaged", fontsize=6)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


def main(models: list[str], settings: list[str], seeds: int, work: Path, threads: int = 1,
         name: str = "side_info") -> dict:
    data = prepared(work)
    earlier = RESULTS / f"{name}.json"
    rows: dict = {}
    for model in models:
        for setting in settings:
            for seed in range(seeds):
                cell = run_cell(data, work, model, setting, seed, threads)
                print(model, setting, seed, {k: round(cell[k], 4) for k in ("HR@10", "NDCG@10")}, flush=True)
                # cells another process (the other core) wrote meanwhile are kept: read just before writing
                rows = json.loads(earlier.read_text())["models"] if earlier.is_file() else {}
                rows.setdefault(model, {}).setdefault(setting, {"seeds": {}})["seeds"][str(seed)] = cell
                save_result(name, {"dataset": "amazon-scientific-mm (recbole-inter, its leave-one-out split)",
                                   "epochs_max": 30, "patience": 5, "fusion": "sum",
                                   "paper_gain_percent": PAPER, "models": rows})
    print(table(rows))
    if rows:
        figure(rows, RESULTS / f"{name}.png")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", default=str(RESULTS.parent / "work"), help="datasets and runs (git-ignored)")
    parser.add_argument("--figure-only", action="store_true",
                        help="redraw bench/results/side_info.png from side_info.json and print the table; no training")
    args = parser.parse_args()
    if args.figure_only:
        recorded = json.loads((RESULTS / "side_info.json").read_text())["models"]
        print(table(recorded))
        raise SystemExit(print(f"wrote {figure(recorded, RESULTS / 'side_info.png')}"))
    if not SOURCE.is_dir():
        raise SystemExit(f"{SOURCE} not found: the benchmark needs ../shared/data/amazon-scientific-mm")
    main(args.models.split(","), args.settings.split(","), args.seeds, Path(args.work), args.threads)
