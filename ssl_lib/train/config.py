"""One config for a pretraining run: the single source of truth for every setting.

Flat on purpose: the same field names are the CLI flags (`python -m ssl_lib.pretrain --method
byol --epochs 5`), notebook parameters and profile entries. `validate()` checks every field
before any work starts and names the field at fault.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields

from ssl_lib.augment import RECIPES, recipe
from ssl_lib.data.latents import DEFAULT_SCENE, SCENES
from ssl_lib.models.config import ModelConfig
from ssl_lib.utils.checks import check_device_name

OPTIMIZERS = ("sgd", "lars", "adamw")
PRECISIONS = ("auto", "fp32", "bf16")
# Fields that say where things are or how chatty a run is, not what is trained: a run's identity
# (ssl_lib.lab.runs) and train()'s resume check ignore them, so moving a checkout keeps its runs.
NOT_TRAINING_FIELDS = ("output_dir", "progress", "data_root")
# What a resumed run may change besides those: how often the kNN monitor runs (it reads the
# model without changing it or any random stream) and how many processes load the data (the
# batch order comes from the loader's own seeded generator). They stay in a run's identity, so
# existing run folders keep their names.
RESUMABLE_FIELDS = NOT_TRAINING_FIELDS + ("knn_every", "num_workers")
# "byol" pairs BYOL's two asymmetric views (byol1 for view 1, byol2 for view 2).
VIEW_RECIPES = tuple(RECIPES) + ("byol",)


@dataclass
class TrainConfig(ModelConfig):
    """Every setting of a pretraining run: the model's (`ModelConfig`) and these.

    Data: `dataset` is "synthetic" (generated, no download; `scene` names its design) or a name of
    `ssl_lib.data.load_dataset` with files under `data_root`; `n_train` / `n_val` size the
    synthetic splits; `monitor_label` is the synthetic label the kNN monitor scores.
    Views: `recipe`, the augmentations of both views.
    Optimisation: SGD, LARS or AdamW, lr = base_lr * batch_size / 256, linear warm-up then cosine decay.
    Runtime: `device` "auto" picks CUDA when present; `precision` "auto" is bf16 autocast on
    CUDA and fp32 on CPU; `channels_last` "auto" is on for CUDA.
    """

    # data
    dataset: str = "synthetic"
    scene: str = DEFAULT_SCENE  # the synthetic data's design (ssl_lib.data.SCENES)
    data_root: str | None = None
    image_size: int = 32
    n_train: int = 10_000
    n_val: int = 2_000
    data_seed: int = 0
    monitor_label: str = "shape"
    recipe: str = "simclr"  # the views' augmentations (ssl_lib.augment.RECIPES, or "byol")
    # optimisation
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "sgd"
    base_lr: float = 0.06
    weight_decay: float = 5e-4
    sgd_momentum: float = 0.9
    warmup_epochs: float = 1.0
    # runtime
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: str = "auto"
    compile: bool = False
    sync_bn: bool = False
    num_workers: int = 4
    knn_every: int = 1
    knn_k: int = 20
    knn_temperature: float = 0.1
    output_dir: str = "runs/default"
    progress: bool = True

    def validate(self) -> "TrainConfig":
        """Raise ValueError (TypeError for a wrong type) naming the first invalid field; returns self."""
        super().validate()
        check_device_name(self.device, "TrainConfig.device")
        choices = {"scene": tuple(SCENES), "recipe": VIEW_RECIPES, "optimizer": OPTIMIZERS, "precision": PRECISIONS,
                   "channels_last": ("auto", "on", "off")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is not one of {list(allowed)}")
        for name in ("image_size", "n_train", "n_val", "epochs", "batch_size", "base_lr", "knn_every", "knn_k",
                     "knn_temperature"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TrainConfig.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("weight_decay", "warmup_epochs", "num_workers", "seed", "data_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.sgd_momentum < 1:
            raise ValueError(f"TrainConfig.sgd_momentum must lie in [0, 1), got {self.sgd_momentum}")
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"TrainConfig.warmup_epochs ({self.warmup_epochs}) exceeds epochs ({self.epochs})")
        self._validate_against_recipe()
        if not str(self.output_dir).strip():
            raise ValueError("TrainConfig.output_dir must name a folder, got an empty string")
        if self.dataset != "synthetic":
            from ssl_lib.data.datasets import pretraining_splits

            pretraining_splits(self.dataset)  # an unknown or downstream-only set, before a missing data_root
        if self.dataset != "synthetic" and not self.data_root:
            raise ValueError(f"TrainConfig.data_root is required for dataset {self.dataset!r}")
        if self.dataset == "synthetic" and self.image_size not in (32, 64, 96):
            raise ValueError(f"TrainConfig.image_size must be 32, 64 or 96 for synthetic data, got {self.image_size}")
        if self.dataset == "synthetic" and self.monitor_label not in SCENES[self.scene].num_classes():
            raise ValueError(f"TrainConfig.monitor_label={self.monitor_label!r} is not a class label of the synthetic "
                             f"scenes; known: {sorted(SCENES[self.scene].num_classes())}")
        if self.dataset == "synthetic" and self.n_train < self.batch_size:
            raise ValueError(f"TrainConfig.n_train ({self.n_train}) is smaller than batch_size ({self.batch_size})")
        return self

    def varying_keys(self) -> set[str]:
        """What the two views' recipes actually vary (union over BYOL's asymmetric pair)."""
        names = ("byol1", "byol2") if self.recipe == "byol" else (self.recipe,)
        return set().union(*(recipe(name, self.image_size).config.varying_keys() for name in names))

    def _validate_against_recipe(self) -> None:
        """AugSelf can only predict, and CASSLE only condition on, what the recipe varies."""
        varying = self.varying_keys()
        for group in self.augself_groups():
            if group not in varying:
                raise ValueError(f"TrainConfig.augself: group {group!r} is never varied by recipe {self.recipe!r}")
        if self.cassle:
            missing = sorted(set(self.descriptor_keys()) - varying)
            if missing:
                raise ValueError(f"TrainConfig.cassle_keys: recipe {self.recipe!r} never records {missing}")

    def replace(self, **changes) -> "TrainConfig":
        """A validated copy with some fields changed; unknown names raise TypeError naming them."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise TypeError(f"unknown TrainConfig field(s) {unknown}")
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Build from a dict (e.g. a checkpoint's); unknown keys raise TypeError naming them."""
        return cls().replace(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
