"""Reuse a finished pretraining run or train what is missing: one folder per config.

Notebooks ask for models by config, not by path: ``get_or_train(cfg, runs_root)`` returns the
run folder, training only when no finished run of an identical config exists. So notebook 03
reuses the MoCo v2 model notebook 02 trained, and every notebook still runs on its own.

The folder name is readable and stable: ``<method>-<recipe>-s<seed>-<hash>``, the hash taken
over the config fields that differ from TrainConfig's defaults (so adding a new field with a
default to TrainConfig does not rename existing runs).  ``output_dir``, ``progress`` and
``data_root`` are not part of the identity: they do not change the trained weights; nor are the
settings of a component that is off (`ModelConfig.unused_fields`), so changing, say, CASSLE's
default width renames and retrains CASSLE runs only.

Two processes asking for the same config (two notebooks open side by side in JupyterLab) do not
train it twice into one folder: a lock file next to the run makes the second wait, then reuse.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ssl_lib.models.config import MODEL_REVISION
from ssl_lib.train.config import NOT_TRAINING_FIELDS, TrainConfig
from ssl_lib.train.run_dir import RunDir


def config_identity(cfg: TrainConfig) -> dict:
    """The fields of `cfg` that define the trained model and differ from the defaults."""
    defaults, ignored = TrainConfig().to_dict(), set(NOT_TRAINING_FIELDS) | cfg.unused_fields()
    return {k: v for k, v in sorted(cfg.to_dict().items()) if k not in ignored and defaults.get(k) != v}


def run_name(cfg: TrainConfig) -> str:
    """``<method>-<recipe>-s<seed>-<10 hex digits>``; equal configs of one `MODEL_REVISION` give
    equal names."""
    identity = {"model_revision": MODEL_REVISION, **config_identity(cfg)}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    return f"{cfg.method}-{cfg.recipe}-s{cfg.seed}-{digest}"


def _same_config(run: RunDir, cfg: TrainConfig) -> bool:
    try:
        stored = run.load_config()
    except FileNotFoundError:
        return False
    except (ValueError, TypeError):  # written by another version of TrainConfig
        return False
    return config_identity(stored) == config_identity(cfg)


def is_finished(run_dir, cfg: TrainConfig) -> bool:
    """True when `run_dir` holds a finished run (backbone.pt) of a config identical to `cfg`."""
    run = RunDir(run_dir)
    return run.is_finished() and _same_config(run, cfg)


def get_or_train(cfg: TrainConfig, runs_root, log=print) -> RunDir:
    """The folder of a finished run of `cfg` under `runs_root`, training it if needed.

    * finished run of the same config -> returned as is (no training);
    * interrupted run of the same config (checkpoint.pt, no backbone.pt) -> resumed;
    * anything else in the folder (e.g. a config written by an older TrainConfig) -> cleared
      and trained from scratch, so a stale backbone.pt can never pass for the new config.
    Returns the `RunDir`; ``run.load_backbone()`` loads the model.
    """
    from ssl_lib.train import engine  # looked up at call time so tests can monkeypatch it

    cfg = cfg.validate()
    run = RunDir(Path(runs_root) / run_name(cfg))
    cfg = cfg.replace(output_dir=str(run.path))
    with run.locked():
        if is_finished(run.path, cfg):
            if log:
                log(f"reusing {run.path}")
            return run
        resume = run.has_checkpoint() and _same_config(run, cfg)
        if not resume and run.path.exists():
            shutil.rmtree(run.path)
        if log:
            log(f"{'resuming' if resume else 'training'} {run.path.name} "
                f"({cfg.method}, recipe {cfg.recipe}, {cfg.epochs} epochs, {cfg.n_train} images)")
        engine.train(cfg, resume=resume)
    return run
