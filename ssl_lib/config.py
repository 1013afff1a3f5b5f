"""One config for a pretraining run: the single source of truth for every setting.

Flat on purpose: the same field names are the CLI flags (`python -m ssl_lib.pretrain --method
byol --epochs 5`), notebook parameters and profile entries. `validate()` checks every field
before any work starts and names the field at fault.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields

from ssl_lib.augment import RECIPES
from ssl_lib.backbones import BACKBONES

METHODS = ("simclr", "mocov2", "byol", "simsiam", "barlow_twins", "vicreg")
OPTIMIZERS = ("sgd", "lars")
PRECISIONS = ("auto", "fp32", "bf16")
# Fields that say where things are or how chatty a run is, not what is trained: a run's identity
# (ssl_lib.runs) and train()'s resume check ignore them, so moving a checkout keeps its runs.
NOT_TRAINING_FIELDS = ("output_dir", "progress", "data_root")
# "byol" pairs BYOL's two asymmetric views (byol1 for view 1, byol2 for view 2).
VIEW_RECIPES = tuple(RECIPES) + ("byol",)


@dataclass
class TrainConfig:
    """Every setting of a pretraining run.

    Data: `dataset` is "synthetic" (generated, no download) or a name of
    `ssl_lib.data.load_dataset` with files under `data_root`; `n_train` / `n_val` size the
    synthetic splits; `monitor_label` is the synthetic label the kNN monitor scores.
    Model: `backbone`, `backbone_width` (small_cnn), `cifar_stem` (ResNets), `method`, head
    sizes (None = the method paper's size), method hyper-parameters (None = paper default).
    Optimisation: SGD or LARS, lr = base_lr * batch_size / 256, linear warm-up then cosine decay.
    Runtime: `device` "auto" picks CUDA when present; `precision` "auto" is bf16 autocast on
    CUDA and fp32 on CPU; `channels_last` "auto" is on for CUDA.
    """

    # data
    dataset: str = "synthetic"
    data_root: str | None = None
    image_size: int = 32
    n_train: int = 10_000
    n_val: int = 2_000
    data_seed: int = 0
    monitor_label: str = "shape"
    # model
    backbone: str = "small_cnn"
    backbone_width: int = 32
    cifar_stem: bool = True
    method: str = "simclr"
    recipe: str = "simclr"
    proj_hidden: int | None = None
    proj_dim: int | None = None
    pred_hidden: int | None = None
    temperature: float | None = None
    queue_size: int | None = None
    momentum_tau: float | None = None
    barlow_lambda: float | None = None
    # augmentation-aware components; all off is exactly the plain method
    augself: str = ""  # AugSelf groups[:weight], e.g. "crop,color" or "crop:1.0,color:0.5"
    augself_hidden: int = 512
    cassle: bool = False
    cassle_keys: str = ""  # descriptor keys, comma-separated; "" = CASSLE's default 13-dim set
    cassle_injection: str = "concat"
    cassle_depth: int = 6
    cassle_width: int = 64
    cassle_descriptors: str = "matched"
    feature_aug: str = ""  # "", "noise", "dropout", "mix" or "generator"
    fa_strength: float | None = None
    fa_stop_grad: bool = True
    fa_arrangement: str = "parallel"
    fa_weight: float = 1.0
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
        """Raise ValueError naming the first invalid field; returns self."""
        choices = {"method": METHODS, "backbone": BACKBONES, "recipe": VIEW_RECIPES,
                   "optimizer": OPTIMIZERS, "precision": PRECISIONS, "channels_last": ("auto", "on", "off")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is not one of {list(allowed)}")
        positive = ["image_size", "n_train", "n_val", "backbone_width", "epochs", "batch_size", "base_lr",
                    "knn_every", "knn_k", "knn_temperature", "proj_hidden", "proj_dim", "pred_hidden",
                    "temperature", "queue_size", "barlow_lambda"]
        for name in positive:
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"TrainConfig.{name} must be positive, got {value!r}")
        for name in ("weight_decay", "warmup_epochs", "num_workers", "seed", "data_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.sgd_momentum < 1:
            raise ValueError(f"TrainConfig.sgd_momentum must lie in [0, 1), got {self.sgd_momentum}")
        if self.momentum_tau is not None and not 0 <= self.momentum_tau <= 1:
            raise ValueError(f"TrainConfig.momentum_tau must lie in [0, 1], got {self.momentum_tau}")
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"TrainConfig.warmup_epochs ({self.warmup_epochs}) exceeds epochs ({self.epochs})")
        self._validate_augmentation_aware()
        if self.dataset != "synthetic" and not self.data_root:
            raise ValueError(f"TrainConfig.data_root is required for dataset {self.dataset!r}")
        if self.dataset == "synthetic" and self.image_size not in (32, 64, 96):
            raise ValueError(f"TrainConfig.image_size must be 32, 64 or 96 for synthetic data, got {self.image_size}")
        if self.dataset == "synthetic" and self.n_train < self.batch_size:
            raise ValueError(f"TrainConfig.n_train ({self.n_train}) is smaller than batch_size ({self.batch_size})")
        return self

    def descriptor_keys(self) -> tuple[str, ...]:
        """CASSLE's descriptor keys (the default set when `cassle_keys` is empty)."""
        from ssl_lib.augment import DEFAULT_DESCRIPTOR_KEYS
        keys = [k.strip() for k in self.cassle_keys.split(",") if k.strip()]
        return tuple(keys) or DEFAULT_DESCRIPTOR_KEYS

    def varying_keys(self) -> set[str]:
        """What the two views' recipes actually vary (union over BYOL's asymmetric pair)."""
        from ssl_lib.augment import recipe
        names = ("byol1", "byol2") if self.recipe == "byol" else (self.recipe,)
        return set().union(*(recipe(name, self.image_size).config.varying_keys() for name in names))

    def _validate_augmentation_aware(self) -> None:
        from ssl_lib.augment.params import validate_descriptor_keys
        from ssl_lib.augself import parse_groups
        from ssl_lib.cassle import DESCRIPTOR_MODES, INJECTIONS
        from ssl_lib.feature_aug import ARRANGEMENTS, OPERATORS

        varying = self.varying_keys()
        try:
            groups = parse_groups(self.augself)
        except ValueError as error:
            raise ValueError(f"TrainConfig.augself: {error}") from None
        for group in groups:
            if group not in varying:
                raise ValueError(f"TrainConfig.augself: group {group!r} is never varied by recipe {self.recipe!r}")
        if self.cassle:
            try:
                keys = validate_descriptor_keys(self.descriptor_keys())
            except ValueError as error:
                raise ValueError(f"TrainConfig.cassle_keys: {error}") from None
            missing = sorted(set(keys) - varying)
            if missing:
                raise ValueError(f"TrainConfig.cassle_keys: recipe {self.recipe!r} never records {missing}")
        choices = {"cassle_injection": INJECTIONS, "cassle_descriptors": DESCRIPTOR_MODES,
                   "feature_aug": ("",) + OPERATORS, "fa_arrangement": ARRANGEMENTS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is not one of {list(allowed)}")
        for name in ("augself_hidden", "cassle_depth", "cassle_width"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TrainConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.fa_weight < 0 or (self.fa_strength is not None and self.fa_strength < 0):
            raise ValueError("TrainConfig.fa_weight and fa_strength must be >= 0")

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
