"""`make bench`: every benchmark in turn; results in bench/results/*.json, summary in bench/README.md.

Many hours on 2 cores (the quality runs and the zoo matrix dominate); every training run is kept in
bench/work/ and reused, so an interrupted `make bench` resumes where it stopped.
"""

from bench import (data_prepare, energy, gpu_run, lava_run, lava_zoo, lif_speed, nir_verify, published_baselines,
                   quality, sasrec_recbole, ssr_gap, sweeps, train_throughput, zoo_matrix)
from bench.common import RESULTS, SHARED_DATA
from ssr.models import MODELS

WORK = RESULTS.parent / "work"
DATASETS = ("ml-100k", "beauty")

if __name__ == "__main__":
    data_prepare.main()
    lif_speed.main()
    train_throughput.main(["fmlp", "ssr", "ssr-hybrid"])
    quality.main(["pop", "fmlp"], list(DATASETS), seeds=1, epochs=40, patience=5, work=WORK, name="quality")
    # the SSR issue's comparison: fmlp, ssr-hybrid, ssr, three seeds, at most 15 epochs each
    for dataset in DATASETS:
        quality.main(["fmlp", "ssr-hybrid", "ssr"], [dataset], seeds=3, epochs=15, patience=5, work=WORK,
                     name=f"quality_{dataset.replace('-', '')}", threads=1)
    ssr_gap.main(list(ssr_gap.GAP_STUDY), seeds=1, work=WORK)
    ssr_gap.main(list(ssr_gap.LEVERS), seeds=1, work=WORK, name="ssr_levers")
    # the zoo: every ANN/SNN pair, 3 seeds, same protocol; trains the cells the committed ledger
    # (bench/results/zoo_matrix_runs.json) lacks; the quality runs above are its fmlp / ssr / ssr-hybrid rows
    if SHARED_DATA.exists():
        zoo_matrix.main([])
        zoo_matrix.main(["--distil"])  # the models issue 23 changed, as they now ship (zoo_matrix_distilled_recipe_runs.json)
        for start in ("--distil-cold", "--distil-warm"):  # every student from scratch / from its teacher
            zoo_matrix.main(["--distil", start])
        sasrec_recbole.main(WORK / "sasrec_recbole")
        published_baselines.main(WORK / "published_baselines", list(published_baselines.PUBLISHED))
        sweeps.main([])  # the paper's sensitivity to T and to max length, ml-100k (bench/work/sweep_<field>/)
    nir_verify.main(WORK)  # exports and verifies the seed-0 spiking runs above
    lava_run.main(WORK / "runs" / "ml-100k_ssr_seed0", WORK / "ml-100k_ufo.h5")

    def run(dataset: str, model: str):
        quality_run = WORK / "runs" / f"{dataset}_{model}_seed0"
        return quality_run if quality_run.exists() else zoo_matrix.checkpoint(dataset, model)

    pairs = sorted({m for name, cls in MODELS.items() if cls.kind == "snn" for m in (name, cls.ann_original)})
    lava_zoo.main([run("ml-100k", name) for name, cls in MODELS.items() if cls.kind == "snn" and name != "ssr"],
                  WORK / "ml-100k_ufo.h5")
    energy.main({dataset: [run(dataset, model) for model in pairs] for dataset in DATASETS})
    gpu_run.main([run("ml-100k", model) for model in pairs], WORK / "ml-100k_ufo.h5")
