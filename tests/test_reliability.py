"""The tool's safety guarantees, tried as a hostile but honest user would, against the CLI.

Every bad input must give: a non-zero exit status, exactly one line on stderr (`PROG: error: ...`)
naming the problem, every file that existed before byte-identical afterwards, and no new file (no
partial output, no temp file, no empty folder). The README's "Errors and safety" section lists these
guarantees; each one is a case here. Cases that could kill the process (a division by zero in the
fused LIF kernel) run in a subprocess.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from ssr.cli import export_main, main

PREPARE = ["data", "prepare", "--dataset", "synthetic", "--synthetic-users", "120", "--synthetic-items", "30",
           "--max-len", "8", "--min-count", "3"]
SMALL = ["--epochs", "1", "--batch-size", "64", "--quiet", "--threads", "1", "--model-config", "hidden=8",
         "--model-config", "blocks=1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """data.h5; runs fmlp/ and ssr/ (one epoch each); ssr's export in export/; a raw u.data log."""
    root = tmp_path_factory.mktemp("world")
    assert main([*PREPARE, "--out", str(root / "data.h5")]) == 0
    for model in ("fmlp", "ssr"):
        extra = ["--model-config", "time_steps=2"] if model == "ssr" else []
        assert main(["train", "--model", model, "--data", str(root / "data.h5"), *SMALL, *extra,
                     "--out", str(root / model)]) == 0
    assert export_main([str(root / "ssr" / "model.pt"), "--to", "nir", "-o", str(root / "export" / "model.nir")]) == 0
    rng = np.random.default_rng(0)
    rows = [f"{u}\t{i}\t5\t{100 * u + k}" for u in range(1, 30) for k, i in enumerate(rng.permutation(20)[:8] + 1)]
    (root / "u.data").write_text("\n".join(rows) + "\n")
    return root


def snapshot(*folders: Path) -> dict[str, str]:
    """path -> sha256 of every file (and '<dir>' for every folder) under the folders."""
    state = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            state[str(path)] = "<dir>" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def run_cli(argv: list[str], in_subprocess: bool = False) -> tuple[int, str]:
    """(exit status, stderr) of `ssr ARGV` (`ssr-export` when argv[0] is 'ssr-export')."""
    if in_subprocess:
        entry = "export_main" if argv[0] == "ssr-export" else "main"
        args = argv[1:] if argv[0] == "ssr-export" else argv
        code = f"import sys; from ssr.cli import {entry}; sys.exit({entry}(sys.argv[1:]))"
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
        return done.returncode, done.stderr
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = export_main(argv[1:]) if argv[0] == "ssr-export" else main(argv)
    return code, err.getvalue()


@dataclasses.dataclass
class Case:
    """One bad input: argv with {world}/{tmp} placeholders, a setup that builds bad files in tmp,
    and the phrase the one error line must contain."""

    id: str
    argv: list[str]
    message: str
    setup: Callable[[Path, Path], None] | None = None
    in_subprocess: bool = False


def tamper_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def copy_export(world: Path, tmp: Path) -> Path:
    shutil.copytree(world / "export", tmp / "export")
    return tmp / "export" / "model.nir"


def tampered_graph(world: Path, tmp: Path) -> None:
    tamper_byte(copy_export(world, tmp))


def tampered_host(world: Path, tmp: Path) -> None:
    tamper_byte(copy_export(world, tmp).with_suffix(".host.h5"))


def foreign_graph(world: Path, tmp: Path) -> None:
    """Another model's graph beside this export's manifest (a copied manifest)."""
    import nir

    graph = copy_export(world, tmp)
    nir.write(graph, nir.NIRGraph(nodes={"input": nir.Input(np.array([3])), "output": nir.Output(np.array([3]))},
                                  edges=[("input", "output")]))


def edit_dataset(key: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path, Path], None]:
    def setup(world: Path, tmp: Path) -> None:
        shutil.copy(world / "data.h5", tmp / "data.h5")
        with h5py.File(tmp / "data.h5", "a") as f:
            values = change(f[key][()])
            del f[key]
            f[key] = values
    return setup


def damaged_last_pt(world: Path, tmp: Path) -> None:
    (tmp / "run").mkdir()
    (tmp / "run" / "last.pt").write_bytes(b"PK\x03\x04 this is not a training state")


def crafted_checkpoint(world: Path, tmp: Path) -> None:
    """ssr's checkpoint with time_steps = 0 in its config (the fused kernel would divide by it)."""
    payload = torch.load(world / "ssr" / "model.pt", weights_only=True)
    payload["config"]["time_steps"] = 0
    (tmp / "run").mkdir()
    torch.save(payload, tmp / "run" / "model.pt")


def unfinished_run(world: Path, tmp: Path) -> None:
    (tmp / "half").mkdir()
    shutil.copy(world / "ssr" / "model.pt", tmp / "half" / "model.pt")  # no metrics.json


def text_file(world: Path, tmp: Path) -> None:
    (tmp / "notes.txt").write_text("my notes, not a dataset\n")


def export_dir(world: Path, tmp: Path) -> None:
    (tmp / "out.nir").mkdir()


TRAIN = ["train", "--data", "{world}/data.h5", *SMALL, "--out", "{tmp}/run"]
CASES = [
    # 1. a diverged model never reports metrics
    Case("diverged-training", [*TRAIN, "--model", "fmlp", "--lr", "1e30"], "diverged in epoch 1"),
    Case("lr-inf", [*TRAIN, "--model", "fmlp", "--lr", "inf"], "TrainConfig.lr must be a finite number"),
    # 2. every value range-checked where it is parsed
    Case("time-steps-0", [*TRAIN, "--model", "ssr", "--model-config", "time_steps=0"],
         "SSRConfig.time_steps must be", in_subprocess=True),
    Case("time-steps-negative", [*TRAIN, "--model", "ssr", "--model-config", "time_steps=-1"], "time_steps must be"),
    Case("hidden-0", [*TRAIN, "--model", "fmlp", "--model-config", "hidden=0"], "FMLPConfig.hidden must be"),
    Case("hidden-negative", [*TRAIN, "--model", "sasrec", "--model-config", "hidden=-4"], "hidden must be"),
    Case("tau-0", [*TRAIN, "--model", "ssr", "--model-config", "tau=0"], "SSRConfig.tau must be"),
    Case("blocks-0", [*TRAIN, "--model", "fmlp", "--model-config", "blocks=0"], "FMLPConfig.blocks must be"),
    Case("heads-divide-hidden", [*TRAIN, "--model", "sasrec", "--model-config", "heads=3"], "multiple of heads"),
    Case("dropout-1", [*TRAIN, "--model", "fmlp", "--model-config", "dropout=1.0"], "dropout must be"),
    Case("unknown-surrogate", [*TRAIN, "--model", "ssr", "--model-config", "surrogate=relu"], "surrogate must be"),
    Case("batch-size-0", [*TRAIN, "--model", "fmlp", "--batch-size", "0"], "TrainConfig.batch_size must be"),
    Case("epochs-0", [*TRAIN, "--model", "fmlp", "--epochs", "0"], "TrainConfig.epochs must be"),
    Case("synthetic-users-0", [*PREPARE[:4], "--synthetic-users", "0", "--out", "{tmp}/d.h5"],
         "SyntheticConfig.users must be"),
    Case("crafted-checkpoint-evaluate", ["evaluate", "{tmp}/run/model.pt", "--data", "{world}/data.h5"],
         "time_steps must be", crafted_checkpoint, in_subprocess=True),
    Case("crafted-checkpoint-export", ["ssr-export", "{tmp}/run/model.pt", "--to", "nir"], "time_steps must be",
         crafted_checkpoint, in_subprocess=True),
    # 3. no command writes over one of its inputs
    Case("overwrite-with-typo", ["train", "--model", "fmlp", "--data", "{world}/nope.h5", *SMALL, "--overwrite",
                                 "--out", "{world}/fmlp"], "nope.h5 not found"),
    Case("overwrite-then-diverge", ["train", "--model", "fmlp", "--data", "{world}/data.h5", *SMALL, "--lr", "1e30",
                                    "--overwrite", "--out", "{world}/fmlp"], "diverged"),
    Case("export-onto-checkpoint", ["ssr-export", "{world}/ssr/model.pt", "--to", "nir", "-o", "{world}/ssr/model.pt"],
         "would overwrite the input"),
    Case("run-gpu-onto-checkpoint", ["run-gpu", "{world}/fmlp/model.pt", "--data", "{world}/data.h5", "--repeats", "1",
                                     "--out", "{world}/fmlp/model.pt"], "would overwrite the input"),
    Case("run-lava-onto-graph", ["run-lava", "{world}/export/model.nir", "--data", "{world}/data.h5", "--limit", "1",
                                 "--out", "{world}/export/model.nir"], "would overwrite the input"),
    Case("prepare-onto-raw-log", ["data", "prepare", "--dataset", "ml-100k", "--path", "{world}/u.data",
                                  "--out", "{world}/u.data"], "would overwrite the input"),
    Case("prepare-onto-foreign-file", [*PREPARE, "--out", "{tmp}/notes.txt"], "is not an ssr dataset", text_file),
    Case("prepare-force-onto-foreign-file", [*PREPARE, "--force", "--out", "{tmp}/notes.txt"],
         "is not an ssr dataset", text_file),
    # 4. multi-file outputs appear together or not at all
    Case("export-into-directory", ["ssr-export", "{world}/ssr/model.pt", "--to", "nir", "-o", "{tmp}/out.nir"],
         "is a directory", export_dir),
    # 5. run-lava --chunk 0 is an error, not an endless loop
    Case("run-lava-chunk-0", ["run-lava", "{world}/export/model.nir", "--data", "{world}/data.h5", "--chunk", "0",
                              "--out", "{tmp}/lava.json"], "--chunk must be at least 1"),
    Case("run-lava-chunk-negative", ["run-lava", "{world}/export/model.nir", "--data", "{world}/data.h5",
                                     "--chunk", "-3", "--out", "{tmp}/lava.json"], "--chunk must be at least 1"),
    # 6. provenance is checked when read
    Case("tampered-graph", ["run-lava", "{tmp}/export/model.nir", "--data", "{world}/data.h5", "--limit", "2",
                            "--out", "{tmp}/lava.json"], "was changed or replaced after export", tampered_graph),
    Case("tampered-host-file", ["run-lava", "{tmp}/export/model.nir", "--data", "{world}/data.h5", "--limit", "2",
                                "--out", "{tmp}/lava.json"], "was changed or replaced after export", tampered_host),
    Case("foreign-graph-copied-manifest", ["run-lava", "{tmp}/export/model.nir", "--data", "{world}/data.h5",
                                           "--limit", "2", "--out", "{tmp}/lava.json"],
         "is not the file model.manifest.json describes", foreign_graph),
    Case("run-lava-wrong-checkpoint", ["run-lava", "{world}/export/model.nir", "--data", "{world}/data.h5",
                                       "--checkpoint", "{world}/fmlp/model.pt", "--limit", "2",
                                       "--out", "{tmp}/lava.json"], "is not the checkpoint"),
    Case("dataset-offsets-corrupted", ["evaluate", "{world}/fmlp/model.pt", "--data", "{tmp}/data.h5"], "is damaged",
         edit_dataset("sequences/offsets", lambda a: a + np.arange(len(a)) % 2)),
    Case("dataset-items-out-of-range", ["evaluate", "{world}/fmlp/model.pt", "--data", "{tmp}/data.h5"], "is damaged",
         edit_dataset("sequences/items", lambda a: a * 1000)),
    Case("dataset-split-out-of-range", ["train", "--model", "fmlp", "--data", "{tmp}/data.h5", *SMALL,
                                        "--out", "{tmp}/run"], "is damaged",
         edit_dataset("splits/test", lambda a: a + 10**6)),
    # 7. one line where a traceback used to be
    Case("damaged-last-pt", ["train", "--model", "fmlp", "--data", "{world}/data.h5", *SMALL, "--out", "{tmp}/run"],
         "cannot be resumed from", damaged_last_pt),
    Case("tune-bad-storage", ["tune", "--model", "fmlp", "--data", "{world}/data.h5", "--trials", "1",
                              "--storage", "nonsense://x", "--out", "{tmp}/tune"], "is not a usable Optuna storage"),
    Case("energy-report-unfinished-run", ["energy-report", "{world}/fmlp", "{tmp}/half", "--out", "{tmp}/energy"],
         "metrics.json not found", unfinished_run),
    Case("run-gpu-huge-batch", ["run-gpu", "{world}/fmlp/model.pt", "--data", "{world}/data.h5",
                                "--batch-sizes", "100000", "--out", "{tmp}/gpu.json"], "more than the"),
    Case("output-name-too-long", ["run-gpu", "{world}/fmlp/model.pt", "--data", "{world}/data.h5", "--repeats", "1",
                                  "--batch-sizes", "1", "--out", "{tmp}/" + "g" * 300 + ".json"],
         "more than this file system's"),
    # cases that held already and must keep holding
    Case("unknown-model", [*TRAIN, "--model", "nosuch"], "unknown model 'nosuch'"),
    Case("unknown-config-key", [*TRAIN, "--model", "fmlp", "--model-config", "nosuch=1"], "unknown FMLPConfig option"),
    Case("missing-dataset", ["evaluate", "{world}/fmlp/model.pt", "--data", "{tmp}/none.h5"], "not found"),
    Case("export-ann", ["ssr-export", "{world}/fmlp/model.pt", "--to", "nir", "-o", "{tmp}/f.nir"],
         "not a spiking model"),
    Case("busy-limit-0", ["run-lava", "{world}/export/model.nir", "--data", "{world}/data.h5", "--limit", "0",
                          "--out", "{tmp}/lava.json"], "--limit must be at least 1"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case: Case, world: Path, tmp_path: Path) -> None:
    if case.setup is not None:
        case.setup(world, tmp_path)
    before = snapshot(world, tmp_path)
    argv = [arg.format(world=world, tmp=tmp_path) for arg in case.argv]
    code, err = run_cli(argv, case.in_subprocess)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code not in (0, None) and code > 0, (code, err)  # an error exit, not a crash by signal
    assert len(lines) == 1 and ": error: " in lines[0], err
    assert case.message in lines[0], (case.message, lines[0])
    assert snapshot(world, tmp_path) == before  # inputs byte-identical, nothing new, nothing removed


def test_nan_scores_rank_last_not_first() -> None:
    """A NaN target used to count as rank 0 (a perfect hit): every comparison with NaN is false."""
    from ssr.metrics import RankingMetrics, target_ranks, top_k

    scores = torch.tensor([[0.0, float("nan"), 0.5, float("nan"), 0.1, float("-inf")]])
    ranks = [int(target_ranks(scores, torch.tensor([t]))) for t in range(1, 6)]
    assert ranks == [4, 0, 4, 1, 2]  # 0.5, 0.1, -inf; a NaN target is last
    assert top_k(scores, 5).tolist() == [[2, 4, 5, 1, 3]]  # NaN items after every number
    metrics = RankingMetrics(ks=(1,))
    metrics.update(target_ranks(torch.full((2, 4), float("nan")), torch.tensor([1, 2])))
    assert metrics.result()["HR@1"] == 0.0


def test_non_finite_scores_are_an_error_in_evaluation(world: Path) -> None:
    from ssr.checkpoint import load_checkpoint
    from ssr.data.dataset import read_dataset
    from ssr.evaluate import NonFiniteScoresError, evaluate

    model, _ = load_checkpoint(world / "fmlp" / "model.pt")
    with torch.no_grad():
        model.item_embedding.weight[3] = float("nan")
    with pytest.raises(NonFiniteScoresError, match="non-finite scores"):
        evaluate(model, read_dataset(world / "data.h5"), "test")


def test_overwrite_replaces_the_run_once_the_new_one_has_started(world: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(world / "fmlp", run)
    old = (run / "model.pt").read_bytes()
    argv = ["train", "--model", "fmlp", "--data", str(world / "data.h5"), *SMALL, "--seed", "5", "--overwrite",
            "--out", str(run)]
    assert run_cli(argv)[0] == 0
    assert (run / "model.pt").read_bytes() != old and not (run / ".replaced").exists()
    assert sorted(p.name for p in run.iterdir()) == [".train.lock", "metrics.json", "model.pt", "train.log"]


def test_a_failed_rename_half_way_leaves_the_earlier_export_whole(world: Path, tmp_path: Path, monkeypatch) -> None:
    """The graph, manifest and host file change together: when the last rename fails, the earlier
    trio is put back byte for byte (it used to be a new manifest and host file beside the old graph)."""
    from ssr.convert.export import export

    graph = copy_export(world, tmp_path)
    before = snapshot(tmp_path)
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if Path(dst).name == "model.host.h5" and ".old." not in str(src) and ".old." not in str(dst):
            raise OSError(28, "No space left on device")  # the new host file's rename, only
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        export(world / "ssr" / "model.pt", out=graph)
    monkeypatch.undo()
    assert any(Path(c).name == "model.nir" for c in calls)  # the graph had already been swapped in
    assert snapshot(tmp_path) == before


def test_run_lava_records_the_files_own_hash(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "lava.json"
    code, err = run_cli(["run-lava", str(world / "export" / "model.nir"), "--data", str(world / "data.h5"),
                         "--limit", "2", "--quiet", "--out", str(out)])
    assert code == 0, err
    recorded = json.loads(out.read_text())["provenance"]["graph_sha256"]
    assert recorded == hashlib.sha256((world / "export" / "model.nir").read_bytes()).hexdigest()


def test_a_long_output_name_that_the_file_system_takes_is_written(world: Path, tmp_path: Path) -> None:
    """A 250-byte name used to fail with 'File name too long': the temp file's suffix pushed it over."""
    out = tmp_path / ("g" * 245 + ".json")
    code, err = run_cli(["run-gpu", str(world / "fmlp" / "model.pt"), "--data", str(world / "data.h5"),
                         "--batch-sizes", "1", "--repeats", "1", "--warmup", "0", "--out", str(out)])
    assert code == 0, err
    assert json.loads(out.read_text())["model"] == "fmlp"


@pytest.mark.parametrize("command, resumable", [("run-lava", False), ("train", True)])
def test_interrupt_says_resume_only_where_a_rerun_resumes(command, resumable, world, tmp_path, monkeypatch) -> None:
    import ssr.cli

    def interrupted(args) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ssr.cli, {"run-lava": "cmd_run_lava", "train": "cmd_train"}[command], interrupted)
    argv = {"run-lava": ["run-lava", str(world / "export" / "model.nir"), "--data", "x.h5", "--out", "x.json"],
            "train": ["train", "--model", "fmlp", "--data", "x.h5", "--out", str(tmp_path / "r")]}[command]
    code, err = run_cli(argv)
    assert code == 130 and ("resume" in err) == resumable, err


def test_amazon_csv_unbalanced_quote_is_reported_where_it_opens(tmp_path: Path) -> None:
    from ssr.data.readers import read_amazon_csv
    from ssr.data.int_table import DataFormatError

    path = tmp_path / "ratings.csv"
    path.write_text('i1,u1,5.0,100\ni2,"u1,5.0,101\ni3,u2,5.0,102\ni4,u2,4.0,103\n')
    with pytest.raises(DataFormatError, match=r"ratings.csv:2: a quote opened on this line"):
        read_amazon_csv(path)


@pytest.mark.parametrize("reader, text", [
    ("ml-100k", "1\t1\t5\t100\n1\t2\t4\t101\n"),
    ("seqfile", "1 1 2 3\n2 2 3\n"),
    ("amazon-csv", "i1,u1,5.0,100\ni2,u1,4.0,101\n"),
])
def test_a_utf8_bom_is_stripped_by_every_reader(reader: str, text: str, tmp_path: Path) -> None:
    from ssr.data.readers import read_log

    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    plain.write_bytes(text.encode())
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode())
    a, b = read_log(reader, plain), read_log(reader, marked)
    assert a.user.tolist() == b.user.tolist() and a.item.tolist() == b.item.tolist()


def test_every_numeric_config_field_has_a_range() -> None:
    """The config dataclasses own their ranges: a new numeric field without one fails here."""
    import ssr.models  # noqa: F401
    from ssr.config import SURROGATES, Checked, range_of
    from ssr.data.prepare import PrepareConfig
    from ssr.data.synthetic import SyntheticConfig
    from ssr.models.base import MODELS
    from ssr.spiking.surrogate import SURROGATES as KNOWN
    from ssr.train.trainer import TrainConfig

    assert set(SURROGATES) == set(KNOWN)
    configs = {cls.Config for cls in MODELS.values()} | {TrainConfig, PrepareConfig, SyntheticConfig}
    for config in configs:
        assert issubclass(config, Checked), config
        for field in dataclasses.fields(config):
            if field.type in ("int", "float", "float | None", "str") and field.name not in ("dataset", "split",
                                                                                          "device", "init_from",
                                                                                          "teacher"):
                assert range_of(config, field.name) is not None, f"{config.__name__}.{field.name} has no range"
