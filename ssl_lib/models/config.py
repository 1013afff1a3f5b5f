"""ModelConfig: the fields that define a model (backbone, method, heads, the papers' components).

`ssl_lib.train.config.TrainConfig` extends it with data, optimisation and runtime fields, so a
training config *is* a model config: `build_model(cfg)` takes either, and the field names stay
flat (the same names are CLI flags, notebook parameters and profile entries).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssl_lib.augment import DEFAULT_DESCRIPTOR_KEYS
from ssl_lib.augment.params import validate_descriptor_keys
from ssl_lib.models.augself import AugSelfSettings, parse_groups
from ssl_lib.models.backbones import BACKBONES
from ssl_lib.models.cassle import DESCRIPTOR_MODES, INJECTIONS, CassleSettings
from ssl_lib.models.feature_aug import ARRANGEMENTS, OPERATORS, FeatureAugSettings
from ssl_lib.models.methods import METHODS
from ssl_lib.utils.checks import check_field_types


# Raised whenever what a config *means* changes (revision 2: AugSelf's targets and feature pairing,
# CASSLE's encoder and injections follow the authors' code). Run folders are named after the
# config and this revision (ssl_lib.lab.runs.run_name), so a cached run of an older model is
# never taken for the current one.
MODEL_REVISION = 2


@dataclass
class ModelConfig:
    """What is trained: `backbone` (`backbone_width` for small_cnn, `cifar_stem` for ResNets),
    `method` with head sizes and hyper-parameters (None = the method paper's value), and the
    augmentation-aware components, all off by default (then the model is the plain method).

    The fields stay flat: they are the CLI flags, the keys of config.json and what names a run
    folder. Each component reads them as its typed settings (`augself_settings`,
    `cassle_settings`, `feature_aug_settings`: frozen dataclasses that check themselves)."""

    backbone: str = "small_cnn"
    backbone_width: int = 32
    cifar_stem: bool = True
    method: str = "simclr"
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
    cassle_width: int | None = None  # None = the authors' 64 scaled to the feature width (cassle.scaled_width)
    cassle_descriptors: str = "matched"
    feature_aug: str = ""  # "", "noise", "dropout", "mix" or "generator"
    fa_strength: float | None = None
    fa_stop_grad: bool = True
    fa_arrangement: str = "parallel"
    fa_weight: float = 1.0

    def validate(self):
        """Raise ValueError (TypeError for a value of the wrong type) naming the first invalid
        field; returns self. Every field is first checked against its annotation, in subclasses
        too (`check_field_types`): a config file's "false" is not a bool, NaN not a number."""
        check_field_types(self)
        choices = {"method": METHODS, "backbone": BACKBONES, "cassle_injection": INJECTIONS,
                   "cassle_descriptors": DESCRIPTOR_MODES, "feature_aug": ("",) + OPERATORS,
                   "fa_arrangement": ARRANGEMENTS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{type(self).__name__}.{name}={getattr(self, name)!r} is not one of {list(allowed)}")
        for name in ("backbone_width", "proj_hidden", "proj_dim", "pred_hidden", "temperature", "queue_size",
                     "barlow_lambda", "augself_hidden", "cassle_depth", "cassle_width"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{type(self).__name__}.{name} must be positive, got {value!r}")
        if self.momentum_tau is not None and not 0 <= self.momentum_tau <= 1:
            raise ValueError(f"{type(self).__name__}.momentum_tau must lie in [0, 1], got {self.momentum_tau}")
        try:
            self.augself_groups()
        except ValueError as error:
            raise ValueError(f"{type(self).__name__}.augself: {error}") from None
        if self.cassle or self.cassle_keys:  # a typo in the keys is one even while CASSLE is off
            try:
                validate_descriptor_keys(self.descriptor_keys())
            except ValueError as error:
                raise ValueError(f"{type(self).__name__}.cassle_keys: {error}") from None
        if self.fa_weight < 0 or (self.fa_strength is not None and self.fa_strength < 0):
            raise ValueError(f"{type(self).__name__}.fa_weight and fa_strength must be >= 0")
        for name, settings in (("cassle", self.cassle_settings), ("feature_aug", self.feature_aug_settings)):
            try:
                settings()
            except ValueError as error:
                raise ValueError(f"{type(self).__name__}.{name}: {error}") from None
        return self

    def augself_settings(self) -> AugSelfSettings | None:
        """AugSelf's typed settings, or None when AugSelf is off."""
        groups = self.augself_groups()
        return AugSelfSettings(groups, self.augself_hidden) if groups else None

    def cassle_settings(self) -> CassleSettings | None:
        """CASSLE's typed settings, or None when CASSLE is off."""
        if not self.cassle:
            return None
        return CassleSettings(self.descriptor_keys(), self.cassle_injection, self.cassle_depth, self.cassle_width,
                              self.cassle_descriptors)

    def feature_aug_settings(self) -> FeatureAugSettings | None:
        """Feature augmentation's typed settings, or None when it is off."""
        if not self.feature_aug:
            return None
        return FeatureAugSettings(self.feature_aug, self.fa_strength, self.fa_stop_grad, self.fa_arrangement,
                                  self.fa_weight)

    def unused_fields(self) -> set[str]:
        """The settings of the components that are off: they do not change the model, so they do
        not belong to a run's identity (`ssl_lib.lab.runs.config_identity`)."""
        unused = set()
        if not self.augself_groups():
            unused |= {"augself_hidden"}
        if not self.cassle:
            unused |= {"cassle_keys", "cassle_injection", "cassle_depth", "cassle_width", "cassle_descriptors"}
        if not self.feature_aug:
            unused |= {"fa_strength", "fa_stop_grad", "fa_arrangement", "fa_weight"}
        return unused

    def augself_groups(self) -> dict[str, float]:
        """AugSelf's {group: loss weight} ({} when AugSelf is off)."""
        return parse_groups(self.augself)

    def descriptor_keys(self) -> tuple[str, ...]:
        """CASSLE's descriptor keys (the default set when `cassle_keys` is empty)."""
        keys = [k.strip() for k in self.cassle_keys.split(",") if k.strip()]
        return tuple(keys) or DEFAULT_DESCRIPTOR_KEYS
