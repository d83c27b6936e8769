"""Recommendation quality on the real datasets in ../shared/data (skipped when absent).

Trains each model on ml-100k (`ufo`) and Amazon Beauty (`loo`, max length 50) and records test
HR/NDCG/MRR@{10,20} under full ranking, both plain and with history items masked (`--mask-history`,
the published FMLP-Rec/ICLRec protocol), with the mean and spread over seeds.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bench.common import RESULTS, SHARED_DATA, save_result
from ssr.checkpoint import load_checkpoint
from ssr.data.dataset import read_dataset
from ssr.data.prepare import PrepareConfig, prepare
from ssr.evaluate import evaluate
from ssr.train.matrix import KNOWN_DATASETS
from ssr.train.trainer import TrainConfig, train

DATASETS = {name: (reader, SHARED_DATA / raw, split) for name, (reader, raw, split) in KNOWN_DATASETS.items()}
KEYS = ("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20")


def summarise(values: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {key: {"mean": statistics.fmean(v[key] for v in values),
                  "std": statistics.stdev(v[key] for v in values) if len(values) > 1 else 0.0}
            for key in KEYS}


def main(models: list[str], datasets: list[str], seeds: int, epochs: int, patience: int,
         work: Path, name: str, threads: int = 0) -> dict:
    rows: dict[str, dict] = {}
    for dataset_name in datasets:
        reader, source, split = DATASETS[dataset_name]
        if not source.exists():
            print(f"skipped {dataset_name}: {source} not found")
            continue
        data = work / f"{dataset_name}_{split}.h5"
        prepare(PrepareConfig(dataset=reader, split=split, max_len=50), source, data)
        dataset = read_dataset(data)
        for model in models:
            plain, masked, runs = [], [], []
            for seed in range(seeds):
                run_dir = work / "runs" / f"{dataset_name}_{model}_seed{seed}"
                if not (run_dir / "model.pt").exists():  # resumable: finished runs are reused
                    train(model, data, run_dir, TrainConfig(epochs=epochs, patience=patience, seed=seed,
                                                                   threads=threads),
                          progress=False)
                trained, payload = load_checkpoint(run_dir / "model.pt")
                plain.append(evaluate(trained, dataset, "test"))
                masked.append(evaluate(trained, dataset, "test", mask_history=True))
                runs.append(str(run_dir))
            rows[f"{dataset_name}/{model}"] = {
                "dataset": dataset_name, "split": split, "model": model, "seeds": seeds,
                "test": summarise(plain), "test_mask_history": summarise(masked),
                "per_seed_test": plain, "per_seed_test_mask_history": masked,
            }
            print(dataset_name, model, {k: round(v["mean"], 4) for k, v in rows[f"{dataset_name}/{model}"]["test"].items()})
    result = {"max_len": 50, "epochs_max": epochs, "patience": patience, "results": rows}
    save_result(name, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pop,fmlp")
    parser.add_argument("--datasets", default="ml-100k,beauty")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--work", default=str(RESULTS.parent / "work"), help="datasets and runs (git-ignored)")
    parser.add_argument("--name", default="quality", help="result file name under bench/results/")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    main(args.models.split(","), args.datasets.split(","), args.seeds, args.epochs, args.patience,
         Path(args.work), args.name, args.threads)
