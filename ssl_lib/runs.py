"""Reuse a finished pretraining run or train what is missing: one folder per config.

Notebooks ask for models by config, not by path: ``get_or_train(cfg, runs_root)`` returns the
run folder, training only when no finished run of an identical config exists. So notebook 03
reuses the MoCo v2 model notebook 02 trained, and every notebook still runs on its own.

The folder name is readable and stable: ``<method>-<recipe>-s<seed>-<hash>``, the hash taken
over the config fields that differ from TrainConfig's defaults (so adding a new field with a
default to TrainConfig does not rename existing runs).  ``output_dir``, ``progress`` and
``data_root`` are not part of the identity: they do not change the trained weights.

Two processes asking for the same config (two notebooks open side by side in JupyterLab) do not
train it twice into one folder: a lock file next to the run makes the second wait, then reuse.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
from pathlib import Path

from ssl_lib.config import NOT_TRAINING_FIELDS, TrainConfig

FINISHED = "backbone.pt"


def config_identity(cfg: TrainConfig) -> dict:
    """The fields of `cfg` that define the trained model and differ from the defaults."""
    defaults = TrainConfig().to_dict()
    return {k: v for k, v in sorted(cfg.to_dict().items()) if k not in NOT_TRAINING_FIELDS and defaults.get(k) != v}


def run_name(cfg: TrainConfig) -> str:
    """``<method>-<recipe>-s<seed>-<10 hex digits>``; equal configs give equal names."""
    digest = hashlib.sha256(json.dumps(config_identity(cfg), sort_keys=True).encode()).hexdigest()[:10]
    return f"{cfg.method}-{cfg.recipe}-s{cfg.seed}-{digest}"


def _same_config(run_dir: Path, cfg: TrainConfig) -> bool:
    path = run_dir / "config.json"
    if not path.is_file():
        return False
    try:
        stored = TrainConfig.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError):  # written by another version of TrainConfig
        return False
    return config_identity(stored) == config_identity(cfg)


def is_finished(run_dir, cfg: TrainConfig) -> bool:
    """True when `run_dir` holds a finished run (backbone.pt) of a config identical to `cfg`."""
    run_dir = Path(run_dir)
    return (run_dir / FINISHED).is_file() and _same_config(run_dir, cfg)


def get_or_train(cfg: TrainConfig, runs_root, log=print) -> Path:
    """The folder of a finished run of `cfg` under `runs_root`, training it if needed.

    * finished run of the same config -> returned as is (no training);
    * interrupted run of the same config (checkpoint.pt, no backbone.pt) -> resumed;
    * anything else in the folder (e.g. a config written by an older TrainConfig) -> cleared
      and trained from scratch, so a stale backbone.pt can never pass for the new config.
    Returns the run folder (a Path); `ssl_lib.train.load_backbone(run_dir)` loads the model.
    """
    from ssl_lib import train as engine  # looked up at call time so tests can monkeypatch it

    cfg = cfg.validate()
    run_dir = Path(runs_root) / run_name(cfg)
    cfg = cfg.replace(output_dir=str(run_dir))
    with _locked(run_dir.with_name(f".{run_dir.name}.lock")):
        if is_finished(run_dir, cfg):
            if log:
                log(f"reusing {run_dir}")
            return run_dir
        resume = (run_dir / engine.CHECKPOINT).is_file() and _same_config(run_dir, cfg)
        if not resume and run_dir.exists():
            shutil.rmtree(run_dir)
        if log:
            log(f"{'resuming' if resume else 'training'} {run_dir.name} "
                f"({cfg.method}, recipe {cfg.recipe}, {cfg.epochs} epochs, {cfg.n_train} images)")
        engine.train(cfg, resume=resume)
    return run_dir


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive advisory lock on `path` (created if missing) for the block; the OS
    releases it if the process dies, so a killed run never leaves a stale lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_metrics(run_dir) -> list[dict]:
    """The per-epoch metrics of a run (metrics.jsonl), oldest first."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
