"""`ssr bench`: the matrix trains, resumes, and writes the table in the paper's shape."""

from __future__ import annotations

import json

import pytest
import torch

from builders import prepare_synthetic

from ssr.checkpoint import read_checkpoint
from ssr.cli import main
from ssr.train.matrix import ordered, resolve_models


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    prepare_synthetic(root / "syn.h5", users=90, items=25)
    return root / "syn.h5"


def test_models_are_ordered_ann_then_its_spiking_variants():
    assert ordered(["ssr", "sasrec", "fmlp", "sfsrec", "ssr-hybrid"]) == ["fmlp", "ssr", "ssr-hybrid", "sasrec", "sfsrec"]
    everything = resolve_models("all")
    assert "pop" not in everything and everything.index("gru4rec") + 1 == everything.index("sgru4rec")
    with pytest.raises(ValueError, match="unknown model"):
        resolve_models("fmlp,nope")


def test_bench_matrix_resumes_and_reports_gaps(data, tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["bench", "--models", "fmlp,sfmlp", "--datasets", str(data), "--seeds", "2", "--epochs", "1",
            "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert first.count("training ") == 4
    summary = json.loads((out / "results.json").read_text())
    rows = summary["results"]["syn"]
    assert len(rows["fmlp"]["NDCG@10"]["seeds"]) == 2
    gap = rows["sfmlp"]["NDCG@10"]["gap_percent"]
    assert gap == pytest.approx(100 * (rows["sfmlp"]["NDCG@10"]["mean"] / rows["fmlp"]["NDCG@10"]["mean"] - 1))
    assert summary["mean_relative_gap_percent"]["NDCG@10"] == pytest.approx(gap)
    table = (out / "results.md").read_text().splitlines()
    assert table[2].startswith("| model | kind | syn HR@10 | syn NDCG@10 | syn MRR@10 |")
    assert table[4].startswith("| fmlp | ann |") and table[5].startswith("| sfmlp | snn |")
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("dataset,model,kind,ann_original,metric,mean,std,gap_percent") and len(csv_lines) == 7
    assert main(argv) == 0  # everything finished: nothing trains again
    assert "training " not in capsys.readouterr().out


def test_bench_bad_input(tmp_path, capsys):
    assert main(["bench", "--datasets", "movielens-9", "--out", str(tmp_path / "r")]) == 1
    assert "unknown dataset 'movielens-9'" in capsys.readouterr().err
    assert main(["bench", "--datasets", "ml-100k", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
    assert "ml-100k/u.data not found" in capsys.readouterr().err


def test_bench_matrix_resumes_an_interrupted_run_from_its_last_epoch(data, tmp_path, monkeypatch, capsys):
    import ssr.train.trainer as trainer

    saved = trainer.save_checkpoint

    def stop_after_first_epoch(path, payload):
        saved(path, payload)
        if path.name == "last.pt":
            raise KeyboardInterrupt  # the machine went away after epoch 1

    out = tmp_path / "results"
    argv = ["bench", "--models", "fmlp", "--datasets", str(data), "--seeds", "1", "--epochs", "2",
            "--threads", "1", "--out", str(out)]
    monkeypatch.setattr(trainer, "save_checkpoint", stop_after_first_epoch)
    assert main(argv) != 0
    assert "re-run the same command to resume" in capsys.readouterr().err
    run_dir = out / "runs" / "syn" / "fmlp" / "seed0"
    assert (run_dir / "last.pt").is_file() and not (run_dir / "model.pt").exists()
    monkeypatch.setattr(trainer, "save_checkpoint", saved)
    assert main(argv) == 0
    log = (run_dir / "train.log").read_text()
    assert "resuming after epoch 1" in log and log.count("epoch   1 ") == 1 and "epoch   2 " in log
    assert "(1 seed)" in (out / "results.md").read_text()  # no "± 0.0000" spread from a single seed
    assert json.loads((run_dir / "metrics.json").read_text())["epochs_run"] == 2


def test_bench_sweep_varies_one_field_and_reports_energy_and_time(data, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["bench", "--models", "fmlp,sfmlp", "--datasets", str(data), "--seeds", "1", "--epochs", "1",
                 "--threads", "1", "--quiet", "--sweep", "time_steps=1,2", "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("training ") == 3  # fmlp has no time_steps: trained once
    rows = json.loads((out / "results.json").read_text())["sweeps"]["time_steps"]
    by_value = {(row["model"], row["time_steps"]): row for row in rows}
    assert set(by_value) == {("fmlp", None), ("sfmlp", 1), ("sfmlp", 2)}
    for (model, steps), row in by_value.items():
        run = out / "runs" / "syn" / model / (f"time_steps={steps}" if steps else "") / "seed0"
        config = torch.load(run / "model.pt", weights_only=True)["config"]
        assert config.get("time_steps") == steps  # the swept value reached the model
        assert row["NDCG@10"]["seeds"] == [json.loads((run / "metrics.json").read_text())["test"]["NDCG@10"]]
        assert row["energy_pj_per_inference"] > 0 and row["train_seconds_per_epoch"] > 0
    # twice the time steps: every spiking layer runs twice as often, so the device spends more
    assert by_value[("sfmlp", 2)]["energy_pj_per_inference"] > by_value[("sfmlp", 1)]["energy_pj_per_inference"]
    assert "| syn | sfmlp | snn | 2 |" in (out / "results.md").read_text()
    assert (out / "sweep_time_steps.csv").read_text().startswith("dataset,model,kind,time_steps,metric")
    assert (out / "sweep_time_steps.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_sweep_over_max_len_needs_a_dataset_it_can_prepare_again(data, tmp_path, capsys):
    assert main(["bench", "--models", "fmlp", "--datasets", str(data), "--seeds", "1", "--epochs", "1",
                 "--sweep", "max_len=5,8", "--out", str(tmp_path / "r")]) == 1
    assert "--sweep max_len prepares each dataset again: it needs known datasets" in capsys.readouterr().err


def test_bench_distil_trains_each_spiking_model_from_its_ann_run(data, tmp_path, capsys):
    import hashlib

    out = tmp_path / "distil"
    assert main(["bench", "--models", "sfmlp,fmlp", "--datasets", str(data), "--seeds", "2", "--epochs", "1",
                 "--threads", "1", "--quiet", "--distil", "--distil-cold", "--out", str(out)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training ")]
    assert [line.split()[1] for line in lines] == ["fmlp", "fmlp", "sfmlp", "sfmlp"]  # the teachers first
    for seed in (0, 1):
        student = out / "runs" / "syn" / "sfmlp" / "distilled-w0.9-tau2-lr0.003" / f"seed{seed}"
        teacher = out / "runs" / "syn" / "fmlp" / f"seed{seed}" / "model.pt"
        described = json.loads((student / "metrics.json").read_text())["teacher"]
        assert described["sha256"] == hashlib.sha256(teacher.read_bytes()).hexdigest()  # its own seed's fmlp
        # issue 23's recipe by default: w 0.9 and lr 3e-3 for the student, the matrix's lr for the teacher
        trained = read_checkpoint(student / "model.pt")["train_config"]
        assert (trained["teacher_weight"], trained["lr"]) == (0.9, 3e-3)
        assert trained.get("warm_start") is None  # --distil-cold: the student starts from scratch
        assert read_checkpoint(teacher)["train_config"]["lr"] == 1e-3
    summary = json.loads((out / "results.json").read_text())
    assert summary["distillation"] == {"teacher_weight": 0.9, "teacher_temperature": 2.0, "lr": 3e-3,
                                       "warm_start": {"sfmlp": False}, "teachers": {"sfmlp": "fmlp"}}
    assert len(summary["results"]["syn"]["sfmlp"]["NDCG@10"]["seeds"]) == 2
    assert (out / "results.md").read_text().startswith("Spiking models distilled from their ANN original's run")
    assert main(["bench", "--models", "sfmlp", "--datasets", str(data), "--distil", "--out", str(tmp_path / "x")]) == 1
    assert "--distil: sfmlp learns from its ANN original fmlp, which is not in --models" in capsys.readouterr().err


def test_bench_distil_follows_each_models_recipe(data, tmp_path, monkeypatch):
    """Without --distil-warm / --distil-cold / --distil-lr each student trains as its model declares:
    `distil_warm_start` (ssr from its teacher, sfmlp from scratch) and `distil_lr` (3e-3 for ssr; sfmlp
    given 5e-3 here)."""
    from ssr.models import MODELS

    assert MODELS["ssr"].distil_warm_start and not MODELS["sfmlp"].distil_warm_start
    assert MODELS["ssr"].distil_lr == 3e-3
    monkeypatch.setattr(MODELS["sfmlp"], "distil_lr", 5e-3)
    out = tmp_path / "recipe"
    assert main(["bench", "--models", "fmlp,sfmlp,ssr", "--datasets", str(data), "--seeds", "1", "--epochs", "1",
                 "--threads", "1", "--quiet", "--distil", "--out", str(out)]) == 0
    runs = out / "runs" / "syn"
    warm = read_checkpoint(runs / "ssr" / "distilled-w0.9-tau2-lr0.003-warm" / "seed0" / "model.pt")["train_config"]
    cold = read_checkpoint(runs / "sfmlp" / "distilled-w0.9-tau2-lr0.005" / "seed0" / "model.pt")["train_config"]
    assert warm["warm_start"] == warm["teacher"] == str((runs / "fmlp" / "seed0" / "model.pt").resolve())
    assert cold.get("warm_start") is None and cold["teacher"] == warm["teacher"]
    assert (warm["lr"], cold["lr"]) == (3e-3, 5e-3)
    assert read_checkpoint(runs / "fmlp" / "seed0" / "model.pt")["train_config"]["lr"] == 1e-3  # the matrix's
    summary = json.loads((out / "results.json").read_text())
    assert summary["distillation"]["warm_start"] == {"sfmlp": False, "ssr": True}
    assert summary["distillation"]["lr"] == {"sfmlp": 5e-3, "ssr": 3e-3}
    heading = (out / "results.md").read_text().splitlines()[0]
    assert "learning rate 0.003 (sfmlp 0.005)" in heading and "ssr started from its teacher" in heading


def test_bench_distil_warm_starts_each_student_from_its_own_teacher(data, tmp_path, capsys):
    import hashlib

    out = tmp_path / "warm"
    assert main(["bench", "--models", "sfmlp,fmlp", "--datasets", str(data), "--seeds", "1", "--epochs", "1",
                 "--threads", "1", "--quiet", "--distil", "--distil-warm", "--distil-lr", "0.002", "--out",
                 str(out)]) == 0
    student = out / "runs" / "syn" / "sfmlp" / "distilled-w0.9-tau2-lr0.002-warm" / "seed0"
    teacher = hashlib.sha256((out / "runs" / "syn" / "fmlp" / "seed0" / "model.pt").read_bytes()).hexdigest()
    described = json.loads((student / "metrics.json").read_text())
    assert described["warm_start"]["sha256"] == described["teacher"]["sha256"] == teacher
    assert described["warm_start"]["parameters"]  # it took the teacher's shared parameters
    assert read_checkpoint(student / "model.pt")["train_config"]["lr"] == 0.002  # --distil-lr: every student's
    notes = json.loads((out / "results.json").read_text())["distillation"]
    assert notes["warm_start"] == {"sfmlp": True} and notes["lr"] == 0.002
    assert "each started from its teacher" in (out / "results.md").read_text().splitlines()[0]
    assert main(["bench", "--models", "sfmlp,fmlp", "--datasets", str(data), "--distil-warm",
                 "--out", str(tmp_path / "x")]) == 1
    assert "--distil-warm starts each distilled student from its teacher: add --distil" in capsys.readouterr().err
    assert main(["bench", "--models", "sfmlp,fmlp", "--datasets", str(data), "--distil-cold",
                 "--out", str(tmp_path / "x")]) == 1
    assert "--distil-cold starts each distilled student from scratch: add --distil" in capsys.readouterr().err
    assert main(["bench", "--models", "sfmlp,fmlp", "--datasets", str(data), "--distil", "--distil-warm",
                 "--distil-cold", "--out", str(tmp_path / "x")]) == 1
    assert "--distil-warm and --distil-cold contradict each other" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
