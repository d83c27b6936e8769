"""`make bench`: every benchmark in turn; results in bench/results/*.json, summary in bench/README.md."""

from bench import data_prepare, lif_speed, quality, train_throughput
from bench.common import RESULTS

if __name__ == "__main__":
    data_prepare.main()
    lif_speed.main()
    train_throughput.main(["fmlp", "ssr", "ssr-hybrid"])
    quality.main(["pop", "fmlp"], ["ml-100k", "beauty"], seeds=1, epochs=40, patience=5,
                 work=RESULTS.parent / "work", name="quality")
