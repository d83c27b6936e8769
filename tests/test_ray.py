"""`ssr bench --executor ray` on a real local Ray (2 CPUs, no dashboard): the same table as the
in-process matrix bit for bit, a worker killed mid-cell is retried and resumes, an interrupted
driver leaves its finished cells and a second call trains only the missing ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builders import prepare_synthetic

from ssr.cli import main

MATRIX = ["--models", "fmlp,sfmlp", "--seeds", "2", "--epochs", "3", "--patience", "3", "--threads", "1", "--quiet"]
RAY = ["--executor", "ray", "--ray-cpus", "2", "--cpus-per-run", "1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    return prepare_synthetic(root / "syn.h5", users=150, items=30)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The matrix trained in this process, one cell after the other."""
    out = tmp_path_factory.mktemp("in_process")
    assert main(["bench", "--datasets", str(data), *MATRIX, "--out", str(out)]) == 0
    return out


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def bench_process(data: Path, out: Path, *extra: str) -> subprocess.Popen:
    """`ssr bench` as a user starts it from a terminal: Ctrl-C (SIGINT) at its default. A suite started
    in the background (`make test &`, nohup) ignores SIGINT, and an ignored signal stays ignored across
    exec, so without the reset the driver would rightly ignore the test's Ctrl-C."""
    return subprocess.Popen([sys.executable, "-m", "ssr.cli", "bench", "--datasets", str(data), *MATRIX, *extra,
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(condition, process: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the driver ended early: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def ray_workers_training() -> dict[int, Path | None]:
    """Ray worker processes running a matrix cell (Ray titles them after the task): PID -> the run
    folder whose training lock it holds (None before it has taken one)."""
    workers = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ray::train_cell" not in (entry / "cmdline").read_bytes():
                    continue
                locks = [Path(os.readlink(fd)) for fd in (entry / "fd").iterdir()]
            except OSError:
                continue
            workers[int(entry.name)] = next((lock.parent for lock in locks if lock.name == ".train.lock"), None)
    return workers


def resumable_worker() -> int | None:
    """A worker in the middle of a cell: it holds a run whose first epoch is saved (last.pt)."""
    return next((pid for pid, run in ray_workers_training().items()
                 if run is not None and (run / "last.pt").is_file() and not (run / "metrics.json").exists()), None)


def test_ray_matrix_equals_the_in_process_one(data, reference, tmp_path, capsys):
    out = tmp_path / "ray"
    assert main(["bench", "--datasets", str(data), *MATRIX, *RAY, "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("training ") == 4
    assert results(out) == results(reference)
    assert (out / "results.md").read_text() == (reference / "results.md").read_text()
    assert main(["bench", "--datasets", str(data), *MATRIX, *RAY, "--out", str(out)]) == 0  # all finished
    assert "training " not in capsys.readouterr().out


def test_a_worker_killed_mid_cell_is_retried_and_the_table_is_unchanged(data, reference, tmp_path):
    out = tmp_path / "ray"
    driver = bench_process(data, out, *RAY)
    wait_for(lambda: resumable_worker() is not None, driver)
    killed = resumable_worker()
    run = ray_workers_training()[killed]
    os.kill(killed, signal.SIGKILL)
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "resuming after epoch" in (run / "train.log").read_text()  # Ray ran the cell again; it resumed
    assert results(out) == results(reference)


def test_an_interrupted_driver_keeps_its_cells_and_the_next_call_trains_only_the_rest(data, reference, tmp_path):
    out = tmp_path / "ray"
    driver = bench_process(data, out, *RAY)
    runs = out / "runs" / "syn"
    wait_for(lambda: any(runs.glob("*/seed*/metrics.json")), driver)
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode != 0 and "re-run the same command to resume" in stderr
    done = {p.parent: p.parent.joinpath("model.pt").stat().st_mtime_ns for p in runs.glob("*/seed*/metrics.json")}
    assert 1 <= len(done) < 4
    assert not ray_workers_training()  # the cancelled tasks' workers are gone
    again = bench_process(data, out)  # in-process this time: any executor reads the same folders
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert stdout.count("training ") == 4 - len(done)
    assert all(run.joinpath("model.pt").stat().st_mtime_ns == mtime for run, mtime in done.items())
    assert results(out) == results(reference)


def test_bad_executor_options_are_one_line_errors(data, tmp_path, capsys):
    for argv, message in ((["--executor", "spark"], "invalid choice: 'spark'"),
                          (["--cpus-per-run", "0"], "must be a finite number > 0"),
                          (["--sweep", "nonsense=1,2"], "--sweep nonsense: not a field the benchmark can vary"),
                          (["--sweep", "time_steps=1,x"], "--sweep time_steps: 'x' is not a valid int"),
                          (["--sweep", "time_steps=0"], "time_steps must be a number >= 1")):
        assert main(["bench", "--datasets", str(data), *MATRIX, *argv, "--out", str(tmp_path / "r")]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "r" / "runs").exists()


def test_tune_runs_workers_as_ray_tasks_against_one_study(data, tmp_path):
    import optuna

    out = tmp_path / "tune"
    assert main(["tune", "--model", "fmlp", "--data", str(data), "--trials", "3", "--workers", "2", "--epochs", "1",
                 "--threads", "1", *RAY, "--out", str(out)]) == 0
    best = json.loads((out / "best.json").read_text())
    study = optuna.load_study(study_name=best["study"], storage=best["storage"])
    assert len(study.trials) == 3 and best["trials"] == 3 and best["workers"] == 2
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert best["best_value"] == max(t.value for t in study.trials)
    for trial in study.trials:  # each trial's run, validated only: no test metrics were computed
        metrics = json.loads((out / "trials" / f"{trial.number:04d}" / "metrics.json").read_text())
        assert metrics["valid"]["MRR@10"] == trial.value and metrics["test"] is None


INTERRUPTS = """
import os, random, signal, threading, time
from ssr.train.executor import RayOptions, run, session

def cell(seconds):
    time.sleep(seconds)
    return seconds

random.seed(0)
interrupted = 0
with session("ray", RayOptions(cpus=2)):
    for _ in range(20):  # Ctrl-C at random moments, often just as a task finishes
        threading.Timer(random.uniform(0.2, 1.2), os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            run([0.3, 0.6, 0.3, 0.6], cell, lambda job, result: None, "ray", progress=False)
            time.sleep(1.5)
        except KeyboardInterrupt:
            interrupted += 1
print("interrupted", interrupted)
"""


def test_ctrl_c_as_tasks_finish_never_aborts_the_driver(tmp_path):
    """Ray 2.60 aborts the driver ("Tried to complete task that was not pending") when `ray.cancel`
    meets a task's completion; the executor must stop its tasks without it. Twenty Ctrl-Cs at random
    moments: with a cancel, the driver died within the first few."""
    script = tmp_path / "interrupts.py"
    script.write_text(INTERRUPTS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) >= 10  # most of the twenty landed inside a run
