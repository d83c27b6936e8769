"""SASRec against RecBole 1.2.1's SASRec on the same file and protocol (issue: the zoo).

RecBole's run (`run_recbole.py --model=SASRec --dataset=ml-100k` with `train_neg_sample_args: ~`,
as measured on this machine by the issue): the whole ml-100k log (no k-core filter; 943 users,
1,682 items), leave-one-out, max length 50, full ranking without history masking, full
cross-entropy, batch 2048, Adam lr 1e-3, no weight decay: test NDCG@10 0.0400, HR@10 0.0806 after
15 epochs, 178 s per training epoch on one torch thread, 8.3 s per full-ranking evaluation.

Here: the same raw file prepared the same way (`--split loo --min-count 1`), `ssr train --model
sasrec` with the same settings for 15 epochs (our trainer: cosine schedule, best validation MRR@10
kept), and a separate one-epoch run for the per-epoch time (run it with nothing else on the machine).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import RESULTS, SHARED_DATA, save_result
from ssr.data.prepare import PrepareConfig, prepare
from ssr.train.trainer import TrainConfig, train

RECBOLE = {"NDCG@10": 0.0400, "HR@10": 0.0806, "epochs": 15, "train_seconds_per_epoch": 178.0,
           "eval_seconds": 8.3, "source": "the issue (RecBole 1.2.1 on this machine, one torch thread)"}
SETTINGS = TrainConfig(epochs=15, batch_size=2048, lr=1e-3, weight_decay=0.0, patience=15, threads=1)


def run(work: Path, name: str, config: TrainConfig, data: Path) -> dict:
    if not (work / name / "metrics.json").exists():  # reuse a finished run
        train("sasrec", data, work / name, config, progress=False)
    return json.loads((work / name / "metrics.json").read_text())


def main(work: Path) -> dict:
    data = work / "ml100k_loo_all.h5"
    prepare(PrepareConfig(dataset="ml-100k", split="loo", max_len=50, min_count=1), SHARED_DATA / "ml-100k" / "u.data", data)
    full = run(work, "sasrec_recbole_protocol", SETTINGS, data)
    speed = run(work, "sasrec_speed", TrainConfig(**{**SETTINGS.__dict__, "epochs": 1}), data)
    per_epoch = speed["timings"]["train_seconds"]
    result = {
        "recbole": RECBOLE,
        "ours": {"test": {k: full["test"][k] for k in ("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20")},
                 "best_epoch": full["best_epoch"], "epochs_run": full["epochs_run"],
                 "train_seconds_per_epoch": per_epoch, "eval_seconds_valid_and_test": speed["timings"]["eval_seconds"],
                 "train_seconds_per_epoch_15_epoch_run": full["timings"]["train_seconds"] / full["epochs_run"]},
        "relative": {"NDCG@10": full["test"]["NDCG@10"] / RECBOLE["NDCG@10"] - 1,
                     "HR@10": full["test"]["HR@10"] / RECBOLE["HR@10"] - 1,
                     "speed_up_per_epoch": RECBOLE["train_seconds_per_epoch"] / per_epoch},
        "settings": {**SETTINGS.__dict__, "data": str(data)},
    }
    save_result("sasrec_recbole", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(RESULTS.parent / "work" / "sasrec_recbole"),
                        help="dataset and runs (finished runs are reused)")
    main(Path(parser.parse_args().work))
