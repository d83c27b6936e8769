"""The ANN baselines on Amazon Beauty against the published figures for that protocol.

Protocol: Beauty.txt (the FMLP-Rec / ICLRec preprocessing), leave-one-out, max length 50, full
ranking over every item with the user's history masked (the published evaluation). Published
(ICLRec, Chen et al., WWW 2022, Table 2, Beauty; the same baseline rows appear in the ICLRec and
ICSRec repositories): GRU4Rec HR@20 0.0427 / NDCG@20 0.0186, Caser 0.0643 / 0.0298, SASRec
0.0894 / 0.0386. Ours: each model's defaults (RecBole's), full cross-entropy, batch 256, Adam lr
1e-3, at most 50 epochs with early stopping on validation MRR@10 (history masked too), one seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import RESULTS, SHARED_DATA, save_result
from ssr.data.prepare import PrepareConfig, prepare
from ssr.train.trainer import TrainConfig, train

PUBLISHED = {  # model -> (HR@20, NDCG@20)
    "gru4rec": (0.0427, 0.0186),
    "caser": (0.0643, 0.0298),
    "sasrec": (0.0894, 0.0386),
}
SOURCE = ("ICLRec (Chen et al., 'Intent Contrastive Learning for Sequential Recommendation', WWW 2022), "
          "Table 2, Beauty; reproduced in github.com/salesforce/ICLRec and github.com/QinHsiu/ICSRec")
SETTINGS = TrainConfig(epochs=50, patience=5, batch_size=256, lr=1e-3, mask_history=True, threads=1)


def main(work: Path, models: list[str]) -> dict:
    data = work / "beauty_loo.h5"
    prepare(PrepareConfig(dataset="seqfile", split="loo", max_len=50), SHARED_DATA / "amazon-beauty" / "Beauty.txt", data)
    previous = RESULTS / "published_baselines.json"  # a run of some models keeps the others' rows
    rows = json.loads(previous.read_text())["results"] if previous.is_file() else {}
    for model in models:
        run = work / f"beauty_{model}"
        if not (run / "metrics.json").exists():  # resumable: an interrupted run continues from last.pt
            train(model, data, run, SETTINGS, progress=False)
        metrics = json.loads((run / "metrics.json").read_text())
        test = metrics["test"]
        hr, ndcg = PUBLISHED[model]
        rows[model] = {"ours": {k: test[k] for k in ("HR@10", "NDCG@10", "HR@20", "NDCG@20")},
                       "published": {"HR@20": hr, "NDCG@20": ndcg},
                       "reaches_published": test["HR@20"] >= hr and test["NDCG@20"] >= ndcg,
                       "best_epoch": metrics["best_epoch"], "epochs_run": metrics["epochs_run"],
                       "train_seconds": metrics["timings"]["train_seconds"], "run": str(run)}
        print(model, rows[model]["ours"], "published", rows[model]["published"])
    result = {"source": SOURCE, "settings": {**SETTINGS.__dict__, "data": str(data)},
              "results": {model: rows[model] for model in PUBLISHED if model in rows}}
    save_result("published_baselines", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(RESULTS.parent / "work" / "published_baselines"))
    parser.add_argument("--models", default=",".join(PUBLISHED))
    args = parser.parse_args()
    main(Path(args.work), args.models.split(","))
