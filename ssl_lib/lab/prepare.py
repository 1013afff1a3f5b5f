"""Train the runs a reproduction needs before its notebooks start, several at a time.

    python -m ssl_lib.reproduce --profile cpu --jobs 2      # make reproduce JOBS=2

The notebooks train what they need themselves, one run after another. Before they start, the
runner can instead hand every run the chosen notebooks (and the validity check) will ask for to
`jobs` worker processes, each with its share of the cores (`threads_per_job`); on CUDA the
workers share the GPU. Each worker trains a run through `ssl_lib.lab.runs.get_or_train`, so:

* the run-folder lock keeps one trainer per run (a notebook opened meanwhile waits, then reuses);
* a killed worker leaves a checkpoint that the next request resumes;
* a finished run is reused, not retrained.

After training, a worker also probes its run (`experiments.transfer_tables`, cached in the run
folder), and the random-init baselines of each seed are probed by the workers too
(`experiments.random_init_tables`), so the notebooks' linear probes are spread over the workers. One
progress line per finished run gives runs done / left and an estimated time left.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

from ssl_lib.lab import experiments
from ssl_lib.lab.runs import run_name
from ssl_lib.train.config import TrainConfig


@dataclass(frozen=True)
class PlannedRun:
    """One run a reproduction needs: the experiment's name, its seed and its validated config."""

    model: str
    seed: int
    config: TrainConfig


def planned_runs(profile, notebooks, validity: bool = True) -> list[PlannedRun]:
    """The distinct runs (one per run folder) that `notebooks` (names such as "04_augself") and,
    with `validity`, the validity check train under `profile`: seed by seed, in notebook order
    within a seed."""
    from ssl_lib.lab.validity import MODELS

    wanted = [experiments.get(name) for name in MODELS] if validity and profile.dataset == "synthetic" else []
    for notebook in notebooks:
        wanted += experiments.for_notebook(notebook)
    runs, seen = [], set()
    for exp in wanted:
        for seed in exp.seeds_of(profile):
            cfg = exp.config(profile, seed)
            name = run_name(cfg)
            if name not in seen:
                seen.add(name)
                runs.append(PlannedRun(exp.name, seed, cfg))
    # Seed by seed (stable: notebook order within a seed), so that a run stopped part-way has
    # whole seeds done, the experiments with more seeds finishing last.
    order = {seed: i for i, seed in enumerate(profile.seeds)}
    return sorted(runs, key=lambda run: order.get(run.seed, len(order)))


def _cores() -> int:
    """The cores this process may run on (its affinity where the OS tells, else all), at least 1."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def default_jobs(device: str = "cpu") -> int:
    """Workers when none is asked for: one per core on CPU (each single-threaded: measured faster
    than one two-threaded trainer on 2 cores, benchmarks/RESULTS.md), one per GPU on CUDA (each
    pinned to its own GPU: independent runs side by side, no communication between them; one run
    across several GPUs is `torchrun ... -m ssl_lib.pretrain`, DDP)."""
    if device.startswith("cuda"):
        import torch

        return max(1, torch.cuda.device_count())
    return _cores()


def threads_per_job(jobs: int) -> int:
    """CPU threads each of `jobs` workers uses: the available cores shared out, at least 1."""
    return max(1, _cores() // jobs)


def worker_gpu(index: int, visible: list[str]) -> str:
    """The GPU worker `index` trains on, from the `visible` ones (round robin): each worker gets
    its own GPU, so JOBS = GPUs trains that many independent runs side by side."""
    return visible[index % len(visible)]


def _visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them (else 0..count-1)."""
    import torch

    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed:
        return [d.strip() for d in listed.split(",") if d.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def _init_worker(threads: int, counter=None, gpus: list[str] | None = None) -> None:
    # Pin the worker to one GPU before anything initialises CUDA in it (a spawned process).
    if counter is not None and gpus:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        os.environ["CUDA_VISIBLE_DEVICES"] = worker_gpu(index, gpus)
    import torch

    torch.set_num_threads(threads)


def _train_and_probe(profile, planned: PlannedRun, probe: bool) -> tuple[str, float]:
    """In a worker: train (or reuse) one run, then cache its probe table. Returns (run name, seconds)."""
    from ssl_lib.lab.runs import get_or_train

    start = time.perf_counter()
    cfg = planned.config.replace(progress=False)
    run = get_or_train(cfg, profile.runs_root, log=None)
    if probe and profile.dataset == "synthetic":
        import pandas as pd

        row = pd.DataFrame([dict(model=planned.model, seed=planned.seed, run=str(run.path))])
        experiments.transfer_tables(profile, row, _probe_data(profile), profile.torch_device())
    return run.path.name, time.perf_counter() - start


_DATA = {}


def _probe_data(profile):
    # One copy of the probe images per worker process, drawn once.
    if profile.name not in _DATA:
        _DATA[profile.name] = experiments.profile_transfer_data(profile, profile.torch_device())
    return _DATA[profile.name]


def _probe_random_init(profile, seed: int) -> tuple[str, float]:
    """In a worker: cache the random-init backbone's probe table of one seed."""
    start = time.perf_counter()
    experiments.random_init_tables(profile, _probe_data(profile), profile.torch_device(), seeds=[seed])
    return f"random init, seed {seed}", time.perf_counter() - start


def _eta(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def prepare_runs(profile, runs: list[PlannedRun], jobs: int, probe: bool = True, log=print) -> dict:
    """Train (and probe) `runs` with `jobs` worker processes of `threads_per_job(jobs)` threads.

    Runs that are already finished cost a lookup. Returns dict(runs, random_init, jobs, threads,
    seconds).
    A worker's exception (a diverged run, a full disk) is raised here once the other workers
    have stopped; the runs finished so far stay finished, an interrupted one resumes next time.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    import multiprocessing

    threads = threads_per_job(jobs)
    baselines = list(profile.seeds) if probe and runs and profile.dataset == "synthetic" else []
    start, done, total = time.perf_counter(), 0, len(runs) + len(baselines)
    log(f"[runs] {len(runs)} runs and {len(baselines)} random-init probes with {jobs} worker(s) x {threads} thread(s)")
    # "spawn": a fresh interpreter per worker (forking a process that holds torch's thread pools
    # and, on CUDA, a context, is unsafe).
    context = multiprocessing.get_context("spawn")
    gpus = _visible_gpus() if profile.torch_device().type == "cuda" else []
    counter = context.Value("i", 0)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(threads, counter, gpus if len(gpus) > 1 else None)) as pool:
        pending = {pool.submit(_train_and_probe, profile, planned, probe) for planned in runs}
        pending |= {pool.submit(_probe_random_init, profile, seed) for seed in baselines}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    name, seconds = future.result()
                    done += 1
                    elapsed = time.perf_counter() - start
                    left = total - done
                    log(f"[runs] {done}/{total} done, {left} left, ETA {_eta(elapsed / done * left)} "
                        f"({name}: {seconds:.0f} s)")
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return dict(runs=len(runs), random_init=len(baselines), jobs=jobs, threads=threads,
                seconds=round(time.perf_counter() - start, 1))
