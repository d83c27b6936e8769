"""The `ssr` command line. Heavy imports happen inside each command so `ssr --help` stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

METRIC_KEYS = ("HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR@5", "MRR@10", "MRR@20")


def _parse_assignment(text: str) -> tuple[str, object]:
    """`key=value` with value read as JSON (numbers, true/false, strings) — never eval."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def _integer(low: int):
    """argparse type: an integer >= low (a one-line error otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


POSITIVE_INT, NON_NEGATIVE_INT = _integer(1), _integer(0)


def _finite(above_zero: bool):
    """argparse type: a finite number > 0 (or >= 0)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (value > 0 if above_zero else value >= 0) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number {'>' if above_zero else '>='} 0, got {text}")
        return value
    parse.__name__ = f"number {'>' if above_zero else '>='} 0"
    return parse


_positive_float, _non_negative_float = _finite(True), _finite(False)


def add_executor_options(parser: argparse.ArgumentParser, unit: str) -> None:
    """--executor and Ray's options, shared by bench and tune."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help=f"local: every {unit} in this process, one after the other (default); ray: each "
                        f"{unit} a Ray task, on this machine or the cluster at --ray-address")
    parser.add_argument("--ray-address", help="a running cluster's address (`ray start --head` prints it; 'auto' "
                        "finds a local one); default: start Ray on this machine")
    parser.add_argument("--ray-cpus", type=POSITIVE_INT, help="CPUs of a Ray started here (default: all)")
    parser.add_argument("--cpus-per-run", type=_positive_float, default=1.0,
                        help=f"CPUs each {unit} holds (default 1; torch threads follow it unless --threads)")
    parser.add_argument("--gpus-per-run", type=_non_negative_float, default=0.0,
                        help=f"GPUs each {unit} holds (default 0; above 0 it trains on cuda)")
    parser.add_argument("--max-retries", type=NON_NEGATIVE_INT, default=3,
                        help=f"times Ray runs a {unit} again when its worker dies (default 3); the run resumes")


def ray_options(args: argparse.Namespace):
    from ssr.train.executor import RayOptions

    return RayOptions(address=args.ray_address, cpus=args.ray_cpus, cpus_per_run=args.cpus_per_run,
                      gpus_per_run=args.gpus_per_run, max_retries=args.max_retries)


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line: a bad value (`argument --limit: ...`) becomes
    `PROG: error: --limit must be ...` with exit status 1, like every other bad value; a usage error
    (a missing or unknown option) `PROG: error: ...; see PROG --help` with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        name, sep, problem = message.partition(": ")
        if message.startswith("argument ") and sep:
            self.exit(1, f"{self.prog}: error: {name.removeprefix('argument ')} {problem}\n")
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def format_metrics_table(rows: dict[str, dict[str, float]], keys=METRIC_KEYS) -> str:
    """A fixed-width table: one row per name, one column per metric."""
    width = max(len(name) for name in rows) + 2
    lines = ["".ljust(width) + "".join(key.rjust(9) for key in keys)]
    for name, metrics in rows.items():
        lines.append(name.ljust(width) + "".join(f"{metrics[key]:9.4f}" for key in keys))
    return "\n".join(lines)


def cmd_models(args: argparse.Namespace) -> None:
    from ssr.models import MODELS
    from ssr.models.base import SequentialRecommender

    for name, cls in sorted(MODELS.items()):
        # a model's own docstring, else its module's (files holding one model describe it at the top)
        doc = (cls.__dict__.get("__doc__") or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        recipe = ("; ssr bench --distil starts it from its teacher" if cls.distil_warm_start else "") + (
            f"; ssr bench --distil trains it at lr {cls.distil_lr:g}" if cls.distil_lr != SequentialRecommender.distil_lr else "")
        pair = f" [ANN original: {cls.ann_original}{recipe}]" if cls.ann_original else ""
        print(f"{name:14s} {cls.kind.upper():8s} {doc}{pair}")


def cmd_prepare(args: argparse.Namespace) -> None:
    import dataclasses

    from ssr.data.prepare import PrepareConfig, prepare
    from ssr.data.synthetic import SyntheticConfig

    synthetic = SyntheticConfig()
    given = {"users": args.synthetic_users, "items": args.synthetic_items}  # 0 is an error, not "default"
    synthetic = dataclasses.replace(synthetic, **{k: v for k, v in given.items() if v is not None})
    config = PrepareConfig(dataset=args.dataset, split=args.split, max_len=args.max_len,
                           min_count=args.min_count, seed=args.seed, synthetic=synthetic,
                           user_first=args.user_first, item_features=tuple(args.item_features or ()),
                           item_index=args.item_index)
    from ssr.io import refuse_overwriting_inputs

    refuse_overwriting_inputs([args.out], [args.path, args.item_index,
                                           *(entry.partition("=")[2] for entry in args.item_features or ())])
    stats, reused = prepare(config, args.path, args.out, force=args.force)
    print(f"{'reused' if reused else 'wrote'} {args.out} ({'same config and source' if reused else 'new'})")
    _print_stats(stats)


def _print_stats(stats: dict) -> None:
    for key, value in stats.items():
        print(f"  {key:16s} {value:,.6f}" if isinstance(value, float) else f"  {key:16s} {value:,}")


def cmd_stats(args: argparse.Namespace) -> None:
    from ssr.data.dataset import read_dataset

    dataset = read_dataset(args.file)
    if args.json:
        print(json.dumps({"stats": dataset.stats, "config": dataset.config,
                          "provenance": dataset.provenance, "fingerprint": dataset.fingerprint}, indent=2))
    else:
        print(f"{args.file}: {dataset.config['dataset']}, split {dataset.config['split']}, "
              f"max_len {dataset.config['max_len']}, {dataset.config['min_count']}-core")
        _print_stats(dataset.stats)
        for modality in dataset.config.get("item_features", []):
            print(f"  {'features ' + modality['name']:16s} {modality['dim']}-d, from {modality['file']} "
                  f"(sha256 {modality['sha256'][:12]}...)")


def cmd_fetch(args: argparse.Namespace) -> None:
    from ssr.data.fetch import fetch, get_source

    path = fetch(args.name, Path(args.dir), timeout=args.timeout)
    source = get_source(args.name)
    flags = "".join(f" {flag}" for flag in source.prepare_flags)
    print(f"{args.name}: {path}\nnext: ssr data prepare --dataset {source.reader}{flags} --path {path} "
          "--out DATA.h5")


def cmd_features_extract(args: argparse.Namespace) -> None:
    from ssr.data.extract import extract

    paths = extract(Path(args.items), Path(args.out), Path(args.text_model) if args.text_model else None,
                    Path(args.image_model) if args.image_model else None, batch_size=args.batch_size,
                    max_length=args.max_length, progress=not args.quiet)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    features = " ".join(f"--item-features {name}={path}" for name, path in paths.items() if name != "index")
    print(f"next: ssr data prepare ... {features} --item-index {paths['index']} --out DATA.h5")


def cmd_train(args: argparse.Namespace) -> None:
    from ssr.train.trainer import TrainConfig, train

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         weight_decay=args.weight_decay, patience=args.patience, seed=args.seed,
                         device=args.device, mask_history=args.mask_history, threads=args.threads,
                         init_from=args.init, teacher=args.teacher, teacher_weight=args.teacher_weight,
                         teacher_temperature=args.teacher_temperature, warm_start=args.warm_start,
                         uniformity_weight=args.uniformity_weight)
    metrics = train(args.model, args.data, args.out, config, dict(args.model_config or []),
                    progress=not args.quiet, overwrite=args.overwrite)
    print(format_metrics_table({f"{args.model} valid": metrics["valid"], f"{args.model} test": metrics["test"]}))
    print(f"wrote {Path(args.out) / 'model.pt'} and {Path(args.out) / 'metrics.json'}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    import torch

    from ssr.checkpoint import load_checkpoint
    from ssr.data.dataset import read_dataset
    from ssr.evaluate import evaluate

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model, payload = load_checkpoint(args.checkpoint)
    dataset = read_dataset(args.data)
    if payload["dataset"]["fingerprint"] != dataset.fingerprint:
        print(f"warning: {args.data} is not the dataset this model was trained on "
              f"({payload['dataset']['path']})", file=sys.stderr)
    metrics = evaluate(model, dataset, args.split, mask_history=args.mask_history)
    if args.json:
        print(json.dumps({"model": payload["model"], "split": args.split,
                          "mask_history": args.mask_history, **metrics}, indent=2))
    else:
        print(format_metrics_table({f"{payload['model']} {args.split}": metrics}))


def cmd_export(args: argparse.Namespace) -> None:
    from ssr.convert.export import export, host_path, manifest_path
    from ssr.convert.verify import verify_export, verify_inputs

    if args.verify:  # check the data before writing anything
        item_seq = verify_inputs(args.checkpoint, args.data, args.verify_split, args.verify_sequences)
    path = export(args.checkpoint, to=args.to, out=args.output, profile=args.profile)
    print(f"wrote {path}, {manifest_path(path)}, {host_path(path)}")
    if args.verify:
        report = verify_export(path, args.checkpoint, item_seq, dtype=args.verify_dtype)
        print(report.summary())
        if not report.passed:
            raise ValueError(f"the exported graph {path} does not reproduce {args.checkpoint} (see above)")


def cmd_run_lava(args: argparse.Namespace) -> None:
    from ssr.convert.export import host_path, manifest_path
    from ssr.io import refuse_overwriting_inputs
    from ssr.targets.loihi_sim.run import run_lava

    refuse_overwriting_inputs([args.out], [args.graph, manifest_path(args.graph), host_path(args.graph), args.data,
                                           args.checkpoint])

    result = run_lava(args.graph, args.data, split=args.split, limit=args.limit, precision=args.precision,
                      checkpoint=args.checkpoint, chunk=args.chunk, progress=not args.quiet,
                      batch=args.batch)
    result.write(args.out)
    agree = "identical" if result.spike_counts_identical else "DIFFERENT"
    print(f"{result.sequences} sequences on Lava ({result.precision}): HR@10 {result.hr_at_10:.4f} "
          f"NDCG@10 {result.ndcg_at_10:.4f} MRR@10 {result.mrr_at_10:.4f} (PyTorch: HR@10 "
          f"{result.pytorch['HR@10']:.4f} NDCG@10 {result.pytorch['NDCG@10']:.4f}); top-10 identical to "
          f"PyTorch for {result.top10_exact_agreement:.1%}, mean overlap {result.mean_top10_overlap:.3f}; "
          f"per-layer spike counts {agree}; {result.sequences_per_second:.1f} sequences/s; wrote {args.out}")
    quantisation = result.quantisation
    if quantisation:
        rounded = [name for name, q in {**quantisation["synapses"], **quantisation["lifs"]}.items()
                   if q.get("max_weight_error", 0.0) or q.get("max_bias_error", 0.0)]
        if rounded:
            print(f"note: fixed point rounded the weights or biases of {len(rounded)} layers (this model was not "
                  "trained on Loihi's grids); to run exactly what PyTorch computes, fine-tune it with `ssr train "
                  "--model ssr --init RUN/model.pt --model-config quantise_weights=true ...` and export that")


def cmd_energy_report(args: argparse.Namespace) -> None:
    from ssr.energy.profiles import load_profile
    from ssr.energy.report import REPORT_FILES, build_report, headline_rows, write_report
    from ssr.io import refuse_overwriting_inputs

    out = Path(args.out)
    inputs = [args.lava, args.data, *(args.gpu or [])]
    for run in map(Path, args.runs):  # every run must be complete before any counting starts
        for name in ("model.pt", "metrics.json"):
            if not (run / name).is_file():
                raise FileNotFoundError(f"{run / name} not found: {run} is not a finished run; pass the RUN_DIR "
                                        "of a completed `ssr train`")
            inputs.append(run / name)
    refuse_overwriting_inputs([out / name for name in REPORT_FILES], inputs)
    report = build_report(args.runs, load_profile(args.profile), sequences=args.sequences, lava_path=args.lava,
                          data=args.data, gpu_paths=args.gpu or [])
    out = write_report(report, args.out)
    for row in headline_rows(report):
        print(f"{row[0]}: {row[3]} -> {row[4]} per inference, saving {row[5]} (HR@10 {row[1].split(' /')[0]} -> "
              f"{row[2].split(' /')[0]})")
    print(f"wrote {out / 'report.md'}, {out / 'report.html'}, {out / 'report.json'} and figures")


def cmd_run_gpu(args: argparse.Namespace) -> None:
    from ssr.io import refuse_overwriting_inputs
    from ssr.targets.gpu.run import run_gpu

    refuse_overwriting_inputs([args.out], [args.checkpoint, args.data])

    try:
        batch_sizes = tuple(int(b) for b in args.batch_sizes.split(","))
    except ValueError:
        raise ValueError(f"--batch-sizes takes comma-separated integers, got {args.batch_sizes!r}") from None
    result = run_gpu(args.checkpoint, args.data, split=args.split, batch_sizes=batch_sizes, device=args.device,
                     compile=args.compile, half=args.half, warmup=args.warmup, repeats=args.repeats,
                     mask_history=args.mask_history)
    result.write(args.out)
    print(f"{result.model} on {result.device['name']} ({result.device_note}): HR@10 {result.hr_at_10:.4f} "
          f"NDCG@10 {result.ndcg_at_10:.4f} MRR@10 {result.mrr_at_10:.4f}")
    for row in result.rows:
        if "error" in row:
            print(f"  {row['mode']:<8} batch {row['batch_size']:>4}: {row['error']}")
            continue
        energy = (f", {row['board_energy_mj_per_inference']:.4f} mJ/inference (NVML)"
                  if "board_energy_mj_per_inference" in row else "")
        print(f"  {row['mode']:<8} batch {row['batch_size']:>4}: p50 {row['latency_ms_p50']:.2f} ms, p95 "
              f"{row['latency_ms_p95']:.2f} ms, {row['throughput_sequences_per_second']:,.0f} sequences/s{energy}")
    print(f"45 nm estimate: {result.estimate_45nm_fp32_pj_per_inference / 1e6:.2f} uJ per inference; wrote {args.out}")


def cmd_tune(args: argparse.Namespace) -> None:
    from ssr.train.trainer import TrainConfig
    from ssr.train.tune import tune

    TrainConfig(epochs=args.epochs, patience=args.patience, seed=args.seed, threads=args.threads)

    best = tune(args.model, args.data, args.out, trials=args.trials, metric=args.metric, storage=args.storage,
                study_name=args.study_name, epochs=args.epochs, patience=args.patience, seed=args.seed,
                threads=args.threads, workers=args.workers, executor=args.executor, ray=ray_options(args))
    print(f"best valid {args.metric} {best['best_value']:.4f} after {best['trials']} trials: "
          f"{json.dumps(best['best_params'])}; wrote {Path(args.out) / 'best.json'} (study {best['study']} in "
          f"{best['storage']})")


def cmd_bench(args: argparse.Namespace) -> None:
    from ssr.train.matrix import Distillation, parse_sweep, prepare_datasets, resolve_models, run_matrix
    from ssr.train.trainer import TrainConfig

    TrainConfig(epochs=args.epochs, patience=args.patience, threads=args.threads,  # range-check before any work
                teacher_weight=args.teacher_weight, teacher_temperature=args.teacher_temperature)
    if args.distil_warm and not args.distil:
        raise ValueError("--distil-warm starts each distilled student from its teacher: add --distil")
    if args.distil_cold and not args.distil:
        raise ValueError("--distil-cold starts each distilled student from scratch: add --distil")
    if args.distil_cold and args.distil_warm:
        raise ValueError("--distil-warm and --distil-cold contradict each other: pass one, or neither for each "
                         "model's own recipe")
    out = Path(args.out)
    models = resolve_models(args.models)
    sweeps = [parse_sweep(spec, models) for spec in args.sweep]
    if len({s.field for s in sweeps}) != len(sweeps):
        raise ValueError("--sweep: each field once (give all its values in one --sweep FIELD=V1,V2,...)")
    datasets = prepare_datasets([d for d in args.datasets.split(",") if d], Path(args.data_dir), out)
    run_matrix(models, datasets, args.seeds, out, epochs=args.epochs, patience=args.patience,
               threads=args.threads, mask_history=args.mask_history,
               tuned=Path(args.tuned) if args.tuned else None, sweeps=sweeps, executor=args.executor,
               ray=ray_options(args), data_dir=Path(args.data_dir), progress=not args.quiet,
               distil=Distillation(args.teacher_weight, args.teacher_temperature, args.distil_lr,
                                   warm=True if args.distil_warm else False if args.distil_cold else None)
               if args.distil else None)
    print((out / "results.md").read_text())
    print(f"wrote {out / 'results.md'}, {out / 'results.csv'}, {out / 'results.json'}")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    from ssr.artefacts import PROFILES

    parser.add_argument("checkpoint", help="RUN_DIR/model.pt of a spiking model")
    parser.add_argument("--to", default="nir", help="target format (nir)")
    parser.add_argument("-o", "--output", help="graph file to write (default: beside the checkpoint, .nir, or "
                        ".portable.nir with --profile portable); the manifest (.manifest.json) and host file "
                        "(.host.h5) go beside it")
    parser.add_argument("--profile", default="native", choices=PROFILES,
                        help="native (default: what run-lava and the energy report read) or portable (for other "
                        "NIR tools: 2-D weights, no integrators, tau in seconds; see README 'NIR in other tools')")
    parser.add_argument("--verify", action="store_true",
                        help="run the written graph on the reference NIR executor against the PyTorch model "
                        "on real sequences; exit 1 unless every LIF layer's spikes and the scores agree")
    parser.add_argument("--data", help="dataset for --verify (default: the one the checkpoint was trained on)")
    parser.add_argument("--verify-split", default="test", choices=("train", "valid", "test"),
                        help="split whose first sequences --verify uses (default test)")
    parser.add_argument("--verify-sequences", type=POSITIVE_INT, default=256, metavar="N",
                        help="sequences --verify runs (default 256)")
    parser.add_argument("--verify-dtype", default="float64", choices=("float64", "float32"),
                        help="precision of both sides in --verify (default float64; float32 reports the "
                        "threshold flips its rounding causes)")
    parser.set_defaults(run=cmd_export)


def build_parser() -> argparse.ArgumentParser:
    from ssr.targets.loihi_sim import HOST_IN_THE_LOOP_BATCH, WHOLE_GRAPH_BATCH  # constants: the package imports nothing

    parser = OneLineParser(prog="ssr", description="Spiking sequential recommenders: "
                                     "data, training, evaluation (see README.md).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("models", help="list registered models (ANN / SNN / baseline)").set_defaults(run=cmd_models)

    data = commands.add_parser("data", help="prepare, inspect or fetch datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    prepare = data_commands.add_parser("prepare", help="raw log -> prepared dataset (HDF5)")
    prepare.add_argument("--dataset", required=True, metavar="NAME",
                         help="synthetic | ml-100k | ml-1m | amazon-csv | seqfile | sasrec | recbole-inter | steam | "
                              "retailrocket")
    prepare.add_argument("--path", help="the raw file (not needed for synthetic)")
    prepare.add_argument("--split", default="ufo", choices=("ufo", "loo", "fo"),
                         help="ufo: per-user 80/20 by time (default, the paper's); loo: leave-one-out; fo: random")
    prepare.add_argument("--max-len", type=int, default=50, help="input window length (default 50)")
    prepare.add_argument("--min-count", type=int, default=5, help="iterative k-core threshold (default 5)")
    prepare.add_argument("--seed", type=int, default=0, help="synthetic generator and fo shuffle seed")
    prepare.add_argument("--synthetic-users", type=int, help="users of the synthetic log (default 2000)")
    prepare.add_argument("--synthetic-items", type=int, help="items of the synthetic log (default 500)")
    prepare.add_argument("--user-first", action="store_true",
                         help="amazon-csv: columns are user,item,rating,timestamp (SNAP 2014 files)")
    prepare.add_argument("--item-features", action="append", metavar="NAME=FILE.npy",
                         help="side information: a (rows, dim) float matrix per modality, e.g. text=text.npy "
                              "(repeatable); row r is raw item r, or as --item-index says")
    prepare.add_argument("--item-index", metavar="FILE",
                         help="'item key<TAB>row' lines mapping raw item keys to --item-features rows")
    prepare.add_argument("--force", action="store_true", help="rebuild even if OUT has the same config")
    prepare.add_argument("--out", required=True, help="the dataset file to write (FILE.h5)")
    prepare.set_defaults(run=cmd_prepare)
    stats = data_commands.add_parser("stats", help="print a dataset file's statistics")
    stats.add_argument("file")
    stats.add_argument("--json", action="store_true", help="print stats, config and provenance as JSON")
    stats.set_defaults(run=cmd_stats)
    fetch = data_commands.add_parser("fetch", help="download a public dataset (or say how to get it)")
    fetch.add_argument("name", help="ml-100k | ml-1m | amazon-<category> | steam | retailrocket")
    fetch.add_argument("--dir", default="data", help="where to put it (default ./data)")
    fetch.add_argument("--timeout", type=_positive_float, default=30.0, help="network timeout in seconds")
    fetch.set_defaults(run=cmd_fetch)

    features = commands.add_parser("features", help="item side information (server side)")
    feature_commands = features.add_subparsers(dest="features_command", required=True, metavar="FEATURES_COMMAND")
    extract = feature_commands.add_parser("extract", help="item text / image features from pre-trained models "
                                          "(Hugging Face transformers, local directories)")
    extract.add_argument("--text-model", metavar="DIR", help="a save_pretrained directory: BERT-style encoder "
                         "([CLS] state) or CLIP (text tower)")
    extract.add_argument("--image-model", metavar="DIR", help="a save_pretrained CLIP directory (vision tower)")
    extract.add_argument("--items", required=True, metavar="ITEMS.tsv",
                         help="'key<TAB>text[<TAB>image file]' per item (images relative to the file's folder)")
    extract.add_argument("--batch-size", type=POSITIVE_INT, default=32, help="items per forward pass (default 32)")
    extract.add_argument("--max-length", type=POSITIVE_INT, default=128, help="text tokens kept (default 128)")
    extract.add_argument("--quiet", action="store_true", help="no progress bar")
    extract.add_argument("--out", required=True, metavar="FEATURES.npy",
                         help="the matrix (one model) or FEATURES.text.npy / FEATURES.image.npy (both), and "
                              "FEATURES.index.tsv (key -> row)")
    extract.set_defaults(run=cmd_features_extract)

    train = commands.add_parser("train", help="train a model on a prepared dataset")
    train.add_argument("--model", required=True, help="a name from `ssr models`")
    train.add_argument("--data", required=True, help="prepared dataset (FILE.h5)")
    train.add_argument("--epochs", type=int, default=100, help="maximum epochs (default 100)")
    train.add_argument("--batch-size", type=int, default=128, help="default 128")
    train.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    train.add_argument("--weight-decay", type=float, default=None,
                       help="Adam weight decay (default: the model's published choice, else 0)")
    train.add_argument("--patience", type=int, default=10,
                       help="stop after this many epochs without a better validation MRR@10 (default 10)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    train.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    train.add_argument("--mask-history", action="store_true",
                       help="exclude each user's earlier items from ranking in valid/test (published protocol)")
    train.add_argument("--model-config", action="append", type=_parse_assignment, metavar="KEY=VALUE",
                       help="override a model config field, e.g. hidden=128 (repeatable)")
    train.add_argument("--init", metavar="RUN_DIR/model.pt",
                       help="start from this checkpoint (same model and dataset; its config, with "
                            "--model-config on top): fine-tuning, e.g. quantise_weights=true for Loihi's fixed point")
    train.add_argument("--teacher", metavar="RUN_DIR/model.pt",
                       help="distil a trained model of the same dataset (any model, e.g. the ANN twin): its scores "
                            "over all items are soft targets beside the true next item (training only)")
    train.add_argument("--warm-start", metavar="RUN_DIR/model.pt",
                       help="start from a trained model of the same dataset (any model, e.g. the ANN twin): every "
                            "parameter it has under the same name and shape (ssr: its float item table becomes the "
                            "spike table's encoding currents); training then runs as usual")
    train.add_argument("--teacher-weight", type=float, default=0.9, metavar="W",
                       help="weight w of the soft targets: (1 - w) CE + w tau^2 KL (default 0.9)")
    train.add_argument("--teacher-temperature", type=float, default=2.0, metavar="TAU",
                       help="temperature tau softening both score distributions (default 2)")
    train.add_argument("--uniformity-weight", type=float, default=0.0, metavar="L",
                       help="add L times the uniformity loss of each batch's user vectors (Wang and Isola 2020): "
                            "spreads them against collapse; training only (default 0: off)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an earlier run in --out (kept aside until the new run's first epoch is saved, "
                            "put back if it fails before)")
    train.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    train.add_argument("--out", required=True, help="run directory (model.pt, metrics.json, train.log)")
    train.set_defaults(run=cmd_train, resumable=True)

    evaluate = commands.add_parser("evaluate", help="full-ranking metrics of a checkpoint")
    evaluate.add_argument("checkpoint", help="RUN_DIR/model.pt")
    evaluate.add_argument("--data", required=True, help="prepared dataset (FILE.h5)")
    evaluate.add_argument("--split", default="test", choices=("valid", "test"))
    evaluate.add_argument("--mask-history", action="store_true", help="exclude each user's earlier items")
    evaluate.add_argument("--threads", type=NON_NEGATIVE_INT, default=0)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=cmd_evaluate)

    add_export_arguments(commands.add_parser("export", help="export a spiking model (same as ssr-export)"))
    lava = commands.add_parser("run-lava", help="run an exported graph on Lava's Loihi 2 CPU simulator")
    lava.add_argument("graph", help="model.nir written by ssr-export (its .manifest.json and .host.h5 beside it)")
    lava.add_argument("--data", required=True, help="the dataset the model was trained on (FILE.h5)")
    lava.add_argument("--split", default="test", choices=("train", "valid", "test"))
    lava.add_argument("--limit", type=POSITIVE_INT, help="run the first N sequences of the split (default: all)")
    lava.add_argument("--precision", default="float", choices=("float", "fixed"),
                      help="Loihi2SimCfg floating_pt (default) or fixed_pt")
    lava.add_argument("--checkpoint", help="the model the graph came from, for the PyTorch comparison "
                      "(default: the one named in the manifest)")
    lava.add_argument("--chunk", type=POSITIVE_INT, default=64, help="sequences per run call (progress bar granularity; default 64)")
    lava.add_argument("--batch", type=POSITIVE_INT,
                      help="sequences simulated side by side, each in its own copy of the network (default "
                      f"{WHOLE_GRAPH_BATCH} for a whole-graph model, {HOST_IN_THE_LOOP_BATCH} per sub-graph call with "
                      "the host in the loop: the fastest measured here); results are identical for any value")
    lava.add_argument("--quiet", action="store_true", help="no progress bar")
    lava.add_argument("--out", required=True, help="the measurements file to write (lava.json)")
    lava.set_defaults(run=cmd_run_lava)
    tune = commands.add_parser("tune", help="hyper-parameter search (Optuna TPE) on the validation split")
    tune.add_argument("--model", required=True, help="an ANN model (spiking models reuse their ANN's parameters)")
    tune.add_argument("--data", required=True, help="prepared dataset (FILE.h5)")
    tune.add_argument("--trials", type=POSITIVE_INT, default=20)
    tune.add_argument("--metric", default="MRR@10", help="validation metric to maximise (default MRR@10)")
    tune.add_argument("--storage", help="Optuna storage URL (default: sqlite file OUT/study.db)")
    tune.add_argument("--study-name", help="default: MODEL-DATASTEM")
    tune.add_argument("--epochs", type=int, default=30, help="epochs per trial (default 30)")
    tune.add_argument("--patience", type=int, default=5, help="early-stopping patience per trial (default 5)")
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("--threads", type=int, default=0)
    tune.add_argument("--out", required=True, help="folder for the study, trial runs and best.json")
    tune.add_argument("--workers", type=POSITIVE_INT, default=1,
                      help="trials at a time against the one study (with --executor ray; default 1). On a "
                      "cluster give --storage a database every node reaches (postgresql://..., mysql://...)")
    add_executor_options(tune, "tuning worker")
    tune.set_defaults(run=cmd_tune, resumable=True)
    bench = commands.add_parser("bench", help="train and test a model x dataset x seed matrix; results table")
    bench.add_argument("--models", default="all", help="'all' or a comma-separated list (default all)")
    bench.add_argument("--datasets", required=True,
                       help="comma-separated: ml-100k, beauty (raw files under --data-dir) or prepared FILE.h5")
    bench.add_argument("--data-dir", default=str(Path("..") / "shared" / "data"),
                       help="folder holding ml-100k/u.data and amazon-beauty/Beauty.txt (default ../shared/data)")
    bench.add_argument("--seeds", type=POSITIVE_INT, default=3)
    bench.add_argument("--epochs", type=int, default=100)
    bench.add_argument("--patience", type=int, default=10)
    bench.add_argument("--threads", type=int, default=0)
    bench.add_argument("--mask-history", action="store_true", help="test with history masked (published protocol)")
    bench.add_argument("--tuned", help="folder of `ssr tune` results: TUNED/<dataset>/<ann model>/best.json")
    bench.add_argument("--out", required=True, help="results folder (runs/, results.csv, results.md, results.json); "
                       "on a cluster a filesystem every node shares")
    bench.add_argument("--sweep", action="append", default=[], metavar="FIELD=V1,V2,...",
                       help="vary one config field (training, model, or max_len), e.g. time_steps=1,2,4,8; "
                       "repeatable; adds energy per inference and seconds per epoch, and OUT/sweep_FIELD.png")
    bench.add_argument("--distil", action="store_true",
                       help="train each spiking model from its ANN original's run of the same dataset and seed "
                       "(ssr train --teacher); the ANN cells train first")
    bench.add_argument("--teacher-weight", type=_non_negative_float, default=0.9,
                       help="with --distil: w, the share of the loss on the teacher's soft targets (default 0.9)")
    bench.add_argument("--teacher-temperature", type=_positive_float, default=2.0,
                       help="with --distil: tau (default 2)")
    bench.add_argument("--distil-lr", type=_positive_float, metavar="LR",
                       help="with --distil: every distilled cell's learning rate (default: each model's recipe, "
                       "3e-3 unless ssr models says otherwise; the ANN cells keep the matrix's)")
    bench.add_argument("--distil-warm", action="store_true",
                       help="with --distil: start every student from its teacher's parameters too (ssr train "
                       "--warm-start); by default only the models whose recipe it is (ssr models); run folders "
                       "distilled-...-warm")
    bench.add_argument("--distil-cold", action="store_true",
                       help="with --distil: start every student from scratch (the recipe before 2026-12-02)")
    add_executor_options(bench, "matrix cell")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(run=cmd_bench, resumable=True)
    gpu = commands.add_parser("run-gpu", help="timed PyTorch inference on GPU (CPU fallback)")
    gpu.add_argument("checkpoint", help="RUN_DIR/model.pt (ANN or SNN)")
    gpu.add_argument("--data", required=True, help="the dataset the model was trained on (FILE.h5)")
    gpu.add_argument("--split", default="test", choices=("valid", "test"))
    gpu.add_argument("--batch-sizes", default="1,32,256", help="comma-separated (default 1,32,256)")
    gpu.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda when available, else cpu")
    gpu.add_argument("--compile", action="store_true", help="also time torch.compile (separate rows)")
    gpu.add_argument("--half", action="store_true",
                     help="also time autocast float16 (CUDA) / bfloat16 (CPU) (separate rows)")
    gpu.add_argument("--warmup", type=NON_NEGATIVE_INT, default=3, help="untimed runs per batch size (default 3)")
    gpu.add_argument("--repeats", type=POSITIVE_INT, default=20, help="timed runs per batch size (default 20)")
    gpu.add_argument("--mask-history", action="store_true", help="metrics with history masked, as ssr evaluate")
    gpu.add_argument("--out", required=True, help="the measurements file to write (gpu.json)")
    gpu.set_defaults(run=cmd_run_gpu)
    energy = commands.add_parser("energy-report", help="operation counts and energy per inference, ANN vs SNN")
    energy.add_argument("runs", nargs="+", metavar="RUN_DIR", help="trained runs (model.pt + metrics.json)")
    energy.add_argument("--lava", help="a lava.json from `ssr run-lava`: Lava-measured operations beside PyTorch's")
    energy.add_argument("--gpu", action="append", metavar="gpu.json",
                        help="a gpu.json from `ssr run-gpu` (repeatable): measured latency and, on NVIDIA GPUs, "
                        "board energy beside the estimate")
    energy.add_argument("--profile", default="45nm-fp32",
                        help="45nm-fp32 (default, the paper's), 45nm-fp16, 45nm-int8, loihi, or a .toml file")
    energy.add_argument("--sequences", type=POSITIVE_INT, default=256, help="test sequences counted per run (default 256)")
    energy.add_argument("--data", help="dataset (default: each run's own, recorded in its checkpoint)")
    energy.add_argument("--out", required=True, help="report folder (report.md, report.html, report.json, PNGs)")
    energy.set_defaults(run=cmd_energy_report)
    return parser


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed: its status, as a return value
        return stop.code if isinstance(stop.code, int) else 1
    try:
        args.run(args)
    except KeyboardInterrupt:
        then = ("re-run the same command to resume" if getattr(args, "resumable", False)
                else "no output was written")
        print(f"{parser.prog}: interrupted; {then}", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:  # our errors are one line naming the thing and the fix
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`ssr` console script."""
    return _run(build_parser(), argv)


def export_main(argv: list[str] | None = None) -> int:
    """`ssr-export` console script: `ssr-export RUN_DIR/model.pt --to nir [-o model.nir]`."""
    parser = OneLineParser(prog="ssr-export", description="Export a trained spiking model "
                                     "to the Neuromorphic Intermediate Representation (NIR).")
    add_export_arguments(parser)
    return _run(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
