"""The run folder: the one owner of a pretraining run's files and of how to read them back.

    config.json      the TrainConfig, written when a run starts
    metrics.jsonl    one JSON line per finished epoch
    checkpoint.pt    model, optimiser and random states and every epoch's metrics after the last
                     finished epoch; its tensors are always finite
    backbone.pt      the trained backbone's state dict: present only when the run finished
    <name>.csv       tables computed from the trained model and cached here (`cached_table`)
    .<file>.<random>.tmp  what a kill during an atomic write leaves; removed when a run (re)starts
    ../.<folder>.lock  an advisory lock held by whoever trains into the folder

A kill at any point leaves a folder that `train(cfg, resume=True)` continues correctly: the
checkpoint is written (atomically) before the epoch's metrics line, and on resume the lines are
rewritten from the metrics the checkpoint holds. A fresh run first removes every file of an
earlier run, so an old backbone.pt never sits beside a new config.json.

    run = RunDir("runs/cpu/simclr-simclr-s0-1a2b3c4d5e")
    run.load_backbone()                 # frozen, eval mode
    run.load_model()                    # the whole SSLModel (heads included) from the checkpoint
    run.read_metrics()[-1]["knn_top1"]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import threading
from pathlib import Path

import torch
from torch import nn

from ssl_lib.models.backbones import make_backbone
from ssl_lib.models.compose import SSLModel, build_model
from ssl_lib.train.config import TrainConfig
from ssl_lib.utils.checks import non_finite_entries
from ssl_lib.utils.io import atomic_torch_save, atomic_write_text, is_temp_name, remove_stale_temps

# The lock files this thread holds (absolute paths): whoever holds a folder's lock may take it
# again, e.g. get_or_train holds it and calls train, which takes it too.
_HELD = threading.local()


class RunDirBusy(RuntimeError):
    """Another process (or thread) trains into the run folder: its lock is held."""


class RunDir:
    """Paths, readers and writers of one run folder (a thin wrapper: nothing is read on creation)."""

    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.pt"
    BACKBONE = "backbone.pt"

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __eq__(self, other) -> bool:
        return isinstance(other, RunDir) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    # -- paths --------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def backbone_path(self) -> Path:
        return self.path / self.BACKBONE

    @property
    def lock_path(self) -> Path:
        """Beside the folder, not inside it, so clearing the folder never removes a held lock."""
        path = Path(os.path.abspath(self.path))  # "." has no name to put beside
        return path.with_name(f".{path.name}.lock")

    def is_finished(self) -> bool:
        """True when the run wrote its final backbone."""
        return self.backbone_path.is_file()

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    # -- reading ------------------------------------------------------------------------------

    def _require(self, *paths: Path) -> None:
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: is {self.path} a finished pretraining run?")

    def load_config(self) -> TrainConfig:
        """The run's validated TrainConfig (FileNotFoundError naming config.json if missing)."""
        self._require(self.config_path)
        return TrainConfig.from_dict(json.loads(self.config_path.read_text()))

    def read_metrics(self) -> list[dict]:
        """The per-epoch metrics, oldest first ([] before the first epoch ends). ValueError
        naming the file and line for a line that is not JSON (a write cut short)."""
        if not self.metrics_path.is_file():
            return []
        metrics = []
        for number, line in enumerate(self.metrics_path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    metrics.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{self.metrics_path}, line {number}: not a JSON line ({err.msg}); a write "
                                     "was cut short: resuming the run rewrites the file") from None
        return metrics

    def _load_tensors(self, path: Path, device):
        """torch.load with weights_only=True; ValueError naming `path` if it cannot be read."""
        self._require(path)
        try:
            return torch.load(path, map_location=device, weights_only=True)
        except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"{path} is truncated or corrupted ({reason[:120]}); delete it and train again") from None

    def load_checkpoint(self, device="cpu") -> dict:
        """The last checkpoint's state (tensors only: loaded with weights_only=True)."""
        return self._load_tensors(self.checkpoint_path, device)

    def load_backbone(self, device="cpu") -> nn.Module:
        """The trained backbone of a finished run, in eval mode on `device`."""
        self._require(self.config_path, self.backbone_path)
        cfg = self.load_config()
        backbone = make_backbone(cfg.backbone, cifar_stem=cfg.cifar_stem, width=cfg.backbone_width)
        backbone.load_state_dict(self._load_tensors(self.backbone_path, device))
        return backbone.to(device).eval()

    def load_model(self, device="cpu") -> SSLModel:
        """The whole model (projector, AugSelf heads, ...) from the last checkpoint, in eval mode."""
        model = build_model(self.load_config()).to(device)
        model.load_state_dict(self.load_checkpoint(device)["model"])
        return model.eval()

    def cached_table(self, name: str, compute):
        """The pandas table ``<name>`` cached in the folder, computed by ``compute()`` (and
        written atomically) the first time."""
        import pandas as pd

        path = self.path / name
        if path.is_file():
            return pd.read_csv(path)
        table = compute()
        atomic_write_text(table.to_csv(index=False), path)
        return table

    # -- writing (the engine, holding the lock) -----------------------------------------------

    def check_trainable(self) -> None:
        """ValueError unless training may write here: the folder is new, empty (save what killed
        atomic writes left) or a run folder (it holds config.json). A fresh run clears an earlier
        run's files, cached tables (*.csv) included, so a folder of someone else's files must
        never be taken for one."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"output folder {self.path} is a file, not a folder")
        if not self.path.is_dir() or self._holds_run_config():
            return
        foreign = sorted(p.name for p in self.path.iterdir() if not is_temp_name(p.name))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise ValueError(f"output folder {self.path} holds files ({shown}) but no run (no run's {self.CONFIG}); "
                             "choose a new or empty folder")

    def _holds_run_config(self) -> bool:
        """config.json is a run's: a JSON object naming at least a method and a recipe (not a full
        validation, so that the folder of an older TrainConfig still counts as a run)."""
        try:
            stored = json.loads(self.config_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        return isinstance(stored, dict) and {"method", "recipe"} <= set(stored)

    def start(self, cfg: TrainConfig) -> None:
        """Begin a fresh run: every file of an earlier run is gone (the backbone first, so the
        folder never counts as finished for `cfg`), then config.json is `cfg`. ValueError for a
        folder that is not a run's (`check_trainable`)."""
        self.check_trainable()
        self.path.mkdir(parents=True, exist_ok=True)
        for path in (self.backbone_path, self.checkpoint_path, self.metrics_path, *self.path.glob("*.csv")):
            path.unlink(missing_ok=True)
        remove_stale_temps(self.path)
        atomic_write_text(cfg.to_json(), self.config_path)

    def restore(self, checkpoint: dict) -> list[dict]:
        """Continue a run from `checkpoint`: metrics.jsonl becomes the metrics it holds (lines
        lost or torn by a kill come back, lines of later epochs go); returns them."""
        history = checkpoint.get("metrics")
        if history is None:  # a checkpoint written before it held the metrics
            history = [m for m in self.read_metrics() if m["epoch"] <= checkpoint["epoch"]]
        remove_stale_temps(self.path)
        atomic_write_text("".join(json.dumps(m) + "\n" for m in history), self.metrics_path)
        return history

    def save_epoch(self, state: dict, history: list[dict]) -> None:
        """Record a finished epoch: the checkpoint `state` holding `history` (every epoch's
        metrics), then the last epoch's metrics line. A kill between the two loses nothing."""
        self.save_checkpoint({**state, "metrics": history})
        self.append_metrics(history[-1])

    def append_metrics(self, metrics: dict) -> None:
        with open(self.metrics_path, "a") as handle:
            handle.write(json.dumps(metrics) + "\n")

    def save_checkpoint(self, state: dict) -> None:
        """Write `state` atomically; ValueError naming the tensors of ``state["model"]`` that are
        not finite (such a checkpoint could only continue a diverged run)."""
        bad = non_finite_entries(state.get("model", {}))
        if bad:
            raise ValueError(f"refusing to save {self.checkpoint_path}: non-finite tensors {bad[:5]}")
        atomic_torch_save(state, self.checkpoint_path)

    def save_backbone(self, state_dict: dict) -> None:
        atomic_torch_save(state_dict, self.backbone_path)

    @contextlib.contextmanager
    def locked(self, blocking: bool = True):
        """Hold an exclusive advisory lock on the folder for the block; the OS releases it if the
        process dies, so a killed run never leaves a stale lock. With ``blocking=False`` a lock
        held elsewhere raises `RunDirBusy` at once. Re-entrant: the thread that holds it may
        lock again (the inner block then neither waits nor releases)."""
        key = os.path.abspath(self.lock_path)
        if not hasattr(_HELD, "paths"):
            _HELD.paths = set()
        held = _HELD.paths
        if key in held:
            yield self
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                raise RunDirBusy(f"{self.path} is in use by another run (it holds {self.lock_path}); wait for it "
                                 "to finish or choose another output folder") from None
            held.add(key)
            try:
                yield self
            finally:
                held.discard(key)
                fcntl.flock(handle, fcntl.LOCK_UN)
