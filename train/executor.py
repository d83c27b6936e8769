"""Where independent units of work run (matrix cells of `ssr bench`, workers of `ssr tune`): in this
process, one after the other, or as Ray tasks on this machine or a cluster.

`run(jobs, fn, on_result, executor)` calls `fn(job)` for every job and `on_result(job, result)` in
the driver as each one finishes (in finishing order), with a progress bar over the jobs. `fn` must
be a module-level function (Ray ships it by reference) whose jobs and results pickle.

Ray (`executor="ray"`): each job is a task with declared resources (`num_cpus`, `num_gpus`) and
`max_retries`, so a worker that dies (killed process, lost node) has its job run again elsewhere;
`fn` must therefore be restartable (the trainer resumes a run from its `last.pt`). Without an
address Ray starts on this machine (`ray.init(num_cpus=...)`, no dashboard) and stops at the end;
with `address` (what `ray start --head` printed, e.g. `10.0.0.1:6379`, or `auto`) it joins that
cluster. Ctrl-C in the driver (or a job's error) stops every unfinished task and re-raises; what
already finished stays finished. The tasks stop with the session: a Ray started here is shut down
with its workers, and a driver that leaves a cluster ends its job, whose workers Ray stops. (Not
`ray.cancel`: in Ray 2.60 a cancel that meets a task's completion aborts the driver, "Tried to
complete task that was not pending". Inside a Ray the caller started, its unfinished tasks run on
until the caller's job ends.) A Ray started here runs its workers at normal
priority; Ray's own default (nice 15, for nodes started with `ray start`) lets any other busy
process on the node starve them: start cluster nodes with `RAY_worker_niceness=0 ray start ...`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start Ray on this machine
    cpus: int | None = None  # CPUs of a local Ray (None: all of this machine's)
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    max_retries: int = 3  # re-runs of a job whose worker died
    worker_output: bool = False  # show what the workers print (prefixed by Ray) in the driver's output


def torch_threads(threads: int, executor: str, ray: RayOptions) -> int:
    """Torch threads per job: as asked, or (0, torch's default) on Ray the CPUs each task holds."""
    return max(int(ray.cpus_per_run), 1) if executor == "ray" and threads == 0 else threads


@contextlib.contextmanager
def session(executor: str, options: RayOptions) -> Iterator[None]:
    """Ray up for the block: joined at `options.address`, or started on this machine and stopped at
    the end; nothing for the local executor or a Ray already running, so several `run` calls inside
    one block share one start."""
    if executor != "ray":
        yield
        return
    import ray

    if ray.is_initialized():
        yield
        return
    init = {"include_dashboard": False, "log_to_driver": options.worker_output, "configure_logging": False}
    if options.address:
        ray.init(address=options.address, **init)
    else:  # workers at normal priority (Ray's default, nice 15, starves them beside any other busy process)
        ray.init(num_cpus=options.cpus or os.cpu_count() or 1, _system_config={"worker_niceness": 0}, **init)
    try:
        yield
    finally:
        ray.shutdown()


def run(jobs: Sequence[Any], fn: Callable[[Any], Any], on_result: Callable[[Any, Any], None],
        executor: str = "local", ray: RayOptions = RayOptions(), progress: bool = True,
        unit: str = "job") -> None:
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose {' or '.join(EXECUTORS)}")
    if not jobs:
        return
    from tqdm import tqdm

    with tqdm(total=len(jobs), unit=unit, desc=executor, disable=not progress) as bar:
        if executor == "local":
            for job in jobs:
                on_result(job, fn(job))
                bar.update()
        else:
            _run_ray(jobs, fn, on_result, ray, bar)


def _run_ray(jobs, fn, on_result, options: RayOptions, bar) -> None:
    import ray

    with session("ray", options):
        remote = ray.remote(num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run,
                            max_retries=options.max_retries, retry_exceptions=False)(fn)
        pending = {remote.remote(job): job for job in jobs}
        while pending:  # Ctrl-C or a job's error leaves the session, which stops the rest (see above)
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # the job's own exception, as raised
                    raise error.as_instanceof_cause() from None
                on_result(job, result)
                bar.update()
