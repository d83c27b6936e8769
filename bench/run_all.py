"""`make bench`: every benchmark in turn; results in bench/results/*.json, summary in bench/README.md."""

from bench import data_prepare, energy, gpu_run, lava_run, lif_speed, nir_verify, quality, train_throughput
from bench.common import RESULTS

if __name__ == "__main__":
    data_prepare.main()
    lif_speed.main()
    train_throughput.main(["fmlp", "ssr", "ssr-hybrid"])
    # several hours on 2 cores; finished runs in bench/work/ are reused, so it resumes where it stopped
    quality.main(["pop", "fmlp", "ssr", "ssr-hybrid"], ["ml-100k", "beauty"], seeds=3, epochs=40,
                 patience=5, work=RESULTS.parent / "work", name="quality")
    nir_verify.main(RESULTS.parent / "work")  # exports and verifies the seed-0 spiking runs above
    lava_run.main(RESULTS.parent / "work" / "runs" / "ml-100k_ssr_seed0", RESULTS.parent / "work" / "ml-100k_ufo.h5")
    runs = RESULTS.parent / "work" / "runs"
    energy.main({dataset: [runs / f"{dataset}_{model}_seed0" for model in ("fmlp", "ssr", "ssr-hybrid")]
                 for dataset in ("ml-100k", "beauty")})
    gpu_run.main([runs / f"ml-100k_{model}_seed0" for model in ("fmlp", "ssr", "ssr-hybrid")],
                 RESULTS.parent / "work" / "ml-100k_ufo.h5")
