"""prepare: the runs of the chosen notebooks, trained ahead by worker processes, each once."""

import os

import pytest

from ssl_lib.lab import experiments, prepare
from ssl_lib.lab.profiles import resolve
from ssl_lib.lab.runs import get_or_train, is_finished, run_name
from ssl_lib.lab.validity import MODELS
from ssl_lib.train.run_dir import RunDir


def test_planned_runs_are_the_notebooks_and_validity_runs_each_once(tmp_path):
    P = resolve("cpu", runs_root=str(tmp_path))
    planned = prepare.planned_runs(P, ["04_augself", "05_cassle"], validity=True)
    names = [run_name(r.config) for r in planned]
    assert len(names) == len(set(names))
    expected = {run_name(exp.config(P, seed))
                for exp in [*experiments.for_notebook("04"), *experiments.for_notebook("05"),
                            *[experiments.get(m) for m in MODELS]]
                for seed in exp.seeds_of(P)}
    assert set(names) == expected
    # SimCLR appears in 04, 05 and the validity models, once per seed in the plan
    assert sum(r.model == "SimCLR" for r in planned) == len(P.seeds)
    assert prepare.planned_runs(P, ["01_augmentations", "08_report"], validity=False) == []


def test_planned_runs_go_seed_by_seed_with_each_experiment_its_own_seed_count():
    P = resolve("smoke")  # SimCLR, AugSelf and the headroom keepers on two seeds, the rest on one
    planned = prepare.planned_runs(P, ["04_augself", "05_cassle"], validity=True)
    seeds = [r.seed for r in planned]
    assert seeds == sorted(seeds), "a later seed's run is planned before an earlier seed's"
    assert {r.model for r in planned if r.seed == 1} == {"SimCLR", "SimCLR + AugSelf", "Spatial", "Appearance"}
    assert {r.model for r in planned if r.seed == 0} >= {"Default", "SimCLR + CASSLE"}


def test_every_notebook_that_trains_has_its_experiments_listed():
    assert experiments.for_notebook("07") == experiments.all_experiments()
    assert experiments.for_notebook("04_augself")[1].name == "SimCLR + AugSelf"
    assert experiments.for_notebook("01") == []


def test_threads_are_the_cores_shared_out():
    cores = prepare.threads_per_job(1)
    assert cores >= 1
    assert prepare.threads_per_job(cores) == 1
    assert prepare.threads_per_job(10 * cores) == 1
    assert prepare.default_jobs("cpu") == cores


def test_two_workers_train_and_probe_each_run_once_then_reuse(tmp_path):
    P = resolve("smoke", seeds=[0], runs_root=str(tmp_path / "runs"))
    planned = prepare.planned_runs(P, ["04_augself"], validity=False)
    assert len(planned) == 2
    lines = []
    summary = prepare.prepare_runs(P, planned, jobs=2, log=lines.append)
    assert summary["runs"] == 2 and summary["random_init"] == len(P.seeds) == 1 and summary["jobs"] == 2
    assert lines[0].startswith("[runs] 2 runs and 1 random-init probes with 2 worker(s)")
    assert "1/3 done, 2 left, ETA" in lines[1] and "3/3 done, 0 left" in lines[3]
    for r in planned:
        run = RunDir(tmp_path / "runs" / run_name(r.config))
        assert is_finished(run.path, r.config)
        assert list(run.path.glob("transfer-*.csv")), "the worker did not cache the run's probe table"
    assert list((tmp_path / "runs").glob("random-init-*/transfer-*.csv")), "no random-init probe table cached"
    # the notebooks then find them finished: nothing is trained again
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("backbone.pt")}
    prepare.prepare_runs(P, planned, jobs=1, log=lambda m: None)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("backbone.pt")} == mtimes
    assert get_or_train(planned[0].config, P.runs_root, log=None).is_finished()


def test_a_worker_error_reaches_the_caller(tmp_path):
    P = resolve("smoke", runs_root=str(tmp_path / "runs"))
    planned = prepare.planned_runs(P, ["04_augself"], validity=False)
    bad = prepare.PlannedRun("broken", 0, planned[0].config.replace(dataset="cifar10", data_root=str(tmp_path)))
    with pytest.raises(Exception, match="(?i)cifar"):
        prepare.prepare_runs(P, [bad], jobs=1, log=lambda m: None)
    with pytest.raises(ValueError, match="jobs"):
        prepare.prepare_runs(P, planned, jobs=0)


def test_a_killed_worker_leaves_a_run_that_the_next_call_resumes(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    runs_root = tmp_path / "runs"
    script = f"""
from ssl_lib.lab import prepare
from ssl_lib.lab.profiles import resolve
P = resolve("smoke", runs_root={str(runs_root)!r}, epochs=12)
prepare.prepare_runs(P, prepare.planned_runs(P, ["04"], validity=False)[:1], jobs=1, probe=False)
"""
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.time() + 120
        while not list(runs_root.glob("*/checkpoint.pt")) and time.time() < deadline:
            time.sleep(0.2)
        assert list(runs_root.glob("*/checkpoint.pt")), "no checkpoint within 2 minutes"
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the runner and its worker, mid-run
        process.wait()
    run = next(runs_root.glob("*/checkpoint.pt")).parent
    assert not (run / "backbone.pt").exists()
    first_epoch = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])

    P = resolve("smoke", runs_root=str(runs_root), epochs=12)
    planned = prepare.planned_runs(P, ["04"], validity=False)[:1]
    prepare.prepare_runs(P, planned, jobs=1, probe=False, log=lambda m: None)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert (run / "backbone.pt").exists() and len(lines) == 12
    assert lines[0] == first_epoch  # resumed: the epochs before the kill were not trained again


def test_each_worker_gets_its_own_gpu_round_robin(monkeypatch):
    import multiprocessing

    assert [prepare.worker_gpu(i, ["3", "5"]) for i in range(4)] == ["3", "5", "3", "5"]
    import torch

    counter = multiprocessing.get_context("spawn").Value("i", 0)
    seen, threads = [], torch.get_num_threads()
    try:
        for _ in range(3):  # what three spawned workers' initialisers do, in turn
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
            prepare._init_worker(threads, counter, ["0", "1"])
            seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
    finally:
        torch.set_num_threads(threads)
    assert seen == ["0", "1", "0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,6")
    assert prepare._visible_gpus() == ["2", "6"]
