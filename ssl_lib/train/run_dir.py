"""The run folder: the one owner of a pretraining run's files and of how to read them back.

    config.json      the TrainConfig, written when a run starts
    metrics.jsonl    one JSON line per finished epoch
    checkpoint.pt    model, optimiser and random states after the last finished epoch
    backbone.pt      the trained backbone's state dict: present only when the run finished
    <name>.csv       tables computed from the trained model and cached here (`cached_table`)
    ../.<folder>.lock  an advisory lock held by whoever trains into the folder

    run = RunDir("runs/cpu/simclr-simclr-s0-1a2b3c4d5e")
    run.load_backbone()                 # frozen, eval mode
    run.load_model()                    # the whole SSLModel (heads included) from the checkpoint
    run.read_metrics()[-1]["knn_top1"]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path

import torch
from torch import nn

from ssl_lib.models.backbones import make_backbone
from ssl_lib.models.compose import SSLModel, build_model
from ssl_lib.train.config import TrainConfig
from ssl_lib.utils.io import atomic_torch_save, atomic_write_text


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
        return self.path.with_name(f".{self.path.name}.lock")

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
        """The per-epoch metrics, oldest first ([] before the first epoch ends)."""
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    def load_checkpoint(self, device="cpu") -> dict:
        """The last checkpoint's state (tensors only: loaded with weights_only=True)."""
        self._require(self.checkpoint_path)
        return torch.load(self.checkpoint_path, map_location=device, weights_only=True)

    def load_backbone(self, device="cpu") -> nn.Module:
        """The trained backbone of a finished run, in eval mode on `device`."""
        self._require(self.config_path, self.backbone_path)
        cfg = self.load_config()
        backbone = make_backbone(cfg.backbone, cifar_stem=cfg.cifar_stem, width=cfg.backbone_width)
        backbone.load_state_dict(torch.load(self.backbone_path, map_location=device, weights_only=True))
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

    # -- writing (the engine) -----------------------------------------------------------------

    def start(self, cfg: TrainConfig) -> None:
        """Begin a fresh run: the folder exists, old metrics are gone, config.json is `cfg`."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.metrics_path.unlink(missing_ok=True)
        atomic_write_text(cfg.to_json(), self.config_path)

    def append_metrics(self, metrics: dict) -> None:
        with open(self.metrics_path, "a") as handle:
            handle.write(json.dumps(metrics) + "\n")

    def truncate_metrics(self, last_epoch: int) -> None:
        """Drop metric lines of epochs after the checkpoint (a run killed between the two writes)."""
        lines = [json.dumps(m) for m in self.read_metrics() if m["epoch"] <= last_epoch]
        if self.metrics_path.exists():
            atomic_write_text("".join(line + "\n" for line in lines), self.metrics_path)

    def save_checkpoint(self, state: dict) -> None:
        atomic_torch_save(state, self.checkpoint_path)

    def save_backbone(self, state_dict: dict) -> None:
        atomic_torch_save(state_dict, self.backbone_path)

    @contextlib.contextmanager
    def locked(self):
        """Hold an exclusive advisory lock on the folder for the block; the OS releases it if the
        process dies, so a killed run never leaves a stale lock."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
