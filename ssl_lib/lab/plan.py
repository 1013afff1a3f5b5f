"""What a reproduction will cost before it starts: its runs, their state, hours and disk.

    python -m ssl_lib.reproduce --profile gpu --plan              # prints, trains nothing
    table, summary = plan(resolve("gpu"), ["04_augself"])         # the same from Python

Each run the chosen notebooks (and the validity check) need (`ssl_lib.lab.prepare.planned_runs`)
is finished, partly trained (it resumes from its last epoch) or new. Its training time is its
remaining steps times a step time measured here: a few training steps of its config on this
machine's device, one warm-up then the median of `steps`. When the profile asks for CUDA and
there is none, the steps run on the CPU at a smaller batch and are scaled to the profile's batch
in proportion (a CPU step grows about linearly with the batch); the summary says so, and a GPU
runs such a plan many times faster. Evaluation (probes, notebooks) is not included: on the
profiles here it is a small share of the training.

Disk per run: its checkpoint (the model's state and the optimiser's per-parameter slots) plus the
frozen backbone, in float32, from the built model's tensors.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from ssl_lib.lab import prepare
from ssl_lib.lab.runs import run_name
from ssl_lib.train.config import TrainConfig
from ssl_lib.train.run_dir import RunDir

# Images in the pretraining split the engine reads of each real dataset (the official sizes).
PRETRAIN_IMAGES = {"stl10": 105_000, "cifar10": 50_000, "cifar100": 50_000}
OPTIMIZER_SLOTS = {"sgd": 1, "adamw": 2, "lars": 1}  # per-parameter state tensors
CPU_TIMING_BATCH = 32


def pretrain_images(cfg: TrainConfig) -> int:
    """Images per pretraining epoch: `n_train` on synthetic data, the split's official size otherwise."""
    if cfg.dataset == "synthetic":
        return cfg.n_train
    if cfg.dataset not in PRETRAIN_IMAGES:
        raise ValueError(f"no known pretraining size for dataset {cfg.dataset!r}; known: {sorted(PRETRAIN_IMAGES)}")
    return PRETRAIN_IMAGES[cfg.dataset]


def run_state(run: RunDir) -> tuple[str, int]:
    """("finished" | "partial" | "new", epochs already trained) of a run folder."""
    if run.is_finished():
        return "finished", -1
    if run.metrics_path.is_file() and run.has_checkpoint():
        return "partial", len(run.read_metrics())
    return "new", 0


def step_seconds(cfg: TrainConfig, steps: int = 2) -> float:
    """Median wall time of `steps` training steps of `cfg` (after one warm-up step) on its device,
    on random uint8 images of its size: draw the views' parameters, render, forward, backward,
    optimiser step."""
    from ssl_lib.train.engine import build_step, placed_model, resolve_runtime
    from ssl_lib.train.optim import build_optimizer

    runtime = resolve_runtime(cfg)
    model = placed_model(cfg, runtime)
    step, pipelines = build_step(model, cfg, runtime)
    optimizer = build_optimizer(cfg.optimizer, model, cfg.base_lr, cfg.weight_decay, cfg.sgd_momentum)
    generator = torch.Generator(device=runtime.device).manual_seed(0)
    images = torch.randint(0, 256, (cfg.batch_size, 3, cfg.image_size, cfg.image_size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(runtime.device)
    sync = torch.cuda.synchronize if runtime.device.type == "cuda" else (lambda: None)
    times = []
    for _ in range(1 + steps):
        sync()
        start = time.perf_counter()
        params = [p.sample(cfg.batch_size, images.shape[-2:], runtime.device, generator) for p in pipelines]
        loss = step(images, *params).loss
        optimizer.zero_grad(set_to_none=True)
        loss.float().backward()
        optimizer.step()
        model.update_target(0.0)
        sync()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def disk_bytes(cfg: TrainConfig) -> int:
    """Bytes a finished run keeps: checkpoint (model state + optimiser slots) and backbone, float32."""
    from ssl_lib.models.compose import build_model

    model = build_model(cfg)
    state = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    slots = OPTIMIZER_SLOTS.get(cfg.optimizer, 2) * sum(p.numel() * 4 for p in model.parameters() if p.requires_grad)
    backbone = sum(t.numel() * t.element_size() for t in model.backbone.state_dict().values())
    return state + slots + backbone


def plan(profile, notebooks, validity: bool = True, steps: int = 2, log=None) -> tuple[pd.DataFrame, dict]:
    """The plan of `notebooks` (names such as "04_augself") under `profile`.

    Returns (table, summary). table: one row per distinct run: model, seed, run (folder name),
    state, epochs_left, steps_left, step_s (the measured or scaled step time; NaN for a finished
    run, which is not timed), hours, disk_mb.
    summary: runs, finished, partial, new, hours (training still to do), disk_gb (all runs),
    device (where the steps were timed) and note (how the times were estimated).
    """
    runs = prepare.planned_runs(profile, notebooks, validity)
    wanted = profile.torch_device()
    cuda_missing = profile.device.startswith("cuda") and not torch.cuda.is_available()
    timed_on = "cpu" if cuda_missing else str(wanted)
    step_cache, disk_cache, rows = {}, {}, []
    for planned in runs:
        cfg = planned.config
        state, done = run_state(RunDir(f"{profile.runs_root}/{run_name(cfg)}"))
        epochs_left = 0 if state == "finished" else cfg.epochs - done
        steps_left = epochs_left * (pretrain_images(cfg) // cfg.batch_size)
        # One timing per config up to the seed (seeds train at the same speed).
        key = run_name(cfg.replace(seed=0))
        if key not in disk_cache:
            disk_cache[key] = disk_bytes(cfg.replace(device="cpu"))
        if steps_left and key not in step_cache:  # a finished run costs nothing more: not timed
            timing = cfg.replace(seed=0, device=timed_on, compile=False)
            if cuda_missing:
                timing = timing.replace(batch_size=min(cfg.batch_size, CPU_TIMING_BATCH), precision="fp32")
            if log:
                log(f"[plan] timing {steps} steps of {planned.model} on {timed_on} (batch {timing.batch_size})")
            step_cache[key] = step_seconds(timing, steps) * cfg.batch_size / timing.batch_size
        step_s = step_cache.get(key, float("nan"))
        seconds = step_s * steps_left if steps_left else 0.0
        rows.append(dict(model=planned.model, seed=planned.seed, run=run_name(cfg), state=state,
                         epochs_left=epochs_left, steps_left=steps_left, step_s=round(step_s, 4),
                         hours=round(seconds / 3600, 2), disk_mb=round(disk_cache[key] / 2**20, 1)))
    table = pd.DataFrame(rows, columns=["model", "seed", "run", "state", "epochs_left", "steps_left", "step_s",
                                       "hours", "disk_mb"])
    note = (f"step times measured on {timed_on}"
            + (f" at batch <= {CPU_TIMING_BATCH} and scaled to the profile's batch: this machine has no CUDA "
               "device, and a GPU runs these steps many times faster" if cuda_missing else "")
            + "; training only (probes and notebooks not included)")
    counts = table.state.value_counts()
    states = {s: int(counts.get(s, 0)) for s in ("finished", "partial", "new")}
    summary = dict(profile=profile.name, runs=len(table), **states,
                   hours=round(float(table.hours.sum()), 2), disk_gb=round(float(table.disk_mb.sum()) / 1024, 2),
                   device=timed_on, note=note)
    return table, summary


def format_plan(table: pd.DataFrame, summary: dict) -> str:
    """The plan as text: the table, then one line of totals and one of how it was estimated."""
    total = (f"{summary['runs']} runs ({summary['finished']} finished, {summary['partial']} partly trained, "
             f"{summary['new']} new): {summary['hours']:.2f} h of training left, {summary['disk_gb']:.2f} GB on disk")
    body = table.to_string(index=False) if len(table) else "(no runs)"
    return f"plan of profile {summary['profile']}:\n{body}\n{total}\n({summary['note']})"

