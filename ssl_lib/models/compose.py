"""The trained model as one module: an SSL method, optionally augmentation-aware.

`build_model(cfg)` composes, from a `ModelConfig` (a `TrainConfig` is one) alone:
    method         ssl_lib.models.methods (SimCLR, MoCo v2, BYOL, SimSiam, Barlow Twins, VICReg)
    + CASSLE       a projector factory: the projector (and momentum projector) is conditioned
    + feature aug  a feature-augmenter factory: extra loss terms inside the method's loss
    + AugSelf      per-group heads on the backbone features, their loss added to the method's
With all three off the model is the plain method, parameter for parameter (same seed, same init).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from ssl_lib.augment import AugParams
from ssl_lib.models.augself import AugSelfHeads
from ssl_lib.models.backbones import make_backbone
from ssl_lib.models.config import ModelConfig
from ssl_lib.models.heads import plain_projector
from ssl_lib.models.methods import MethodOutput, build_method


@dataclass
class ModelOutput:
    """What an `SSLModel` returns for B view pairs.

    Attributes:
        loss: the scalar to minimise, ``ssl_loss`` + sum_g lambda_g * augself[g].
        ssl_loss: the method's own loss (feature augmentation's terms included).
        method: the method's output (its features y1, y2 and momentum features).
        augself: AugSelf's unweighted loss per group ({} without AugSelf heads).
    """

    loss: Tensor
    ssl_loss: Tensor
    method: MethodOutput
    augself: dict[str, Tensor] = field(default_factory=dict)

    def terms(self) -> dict[str, Tensor]:
        """The loss terms a training run logs per epoch, by their metric names: ``ssl_loss`` and
        ``augself_<group>`` for each AugSelf group (the total is logged as ``loss``)."""
        return {"ssl_loss": self.ssl_loss, **{f"augself_{group}": value for group, value in self.augself.items()}}


class SSLModel(nn.Module):
    """forward(views1, views2, params1, params2) -> `ModelOutput` (loss, ssl_loss, method, augself)."""

    def __init__(self, method: nn.Module, augself: AugSelfHeads | None = None):
        super().__init__()
        self.method = method
        self.augself = augself

    @property
    def backbone(self) -> nn.Module:
        return self.method.backbone

    def update_target(self, progress: float) -> None:
        self.method.update_target(progress)

    def forward(self, views1: Tensor, views2: Tensor, params1: AugParams, params2: AugParams) -> ModelOutput:
        out = self.method(views1, views2, params1, params2)
        if self.augself is None:
            return ModelOutput(out.loss, out.loss, out)
        # As the authors' trainers: MoCo pairs the online y1 with the momentum y2 (no gradient
        # through it); BYOL, SimSiam and SimCLR with the online y2 (`augself_pairs_target`).
        use_target = getattr(self.method, "augself_pairs_target", False) and out.y2_target is not None
        aux, per_group = self.augself(out.y1, out.y2_target if use_target else out.y2, params1, params2)
        return ModelOutput(out.loss + aux, out.loss, out, per_group)


def build_model(cfg: ModelConfig) -> SSLModel:
    """Backbone, method with the config's head sizes, and the enabled augmentation-aware parts."""
    cfg.validate()
    backbone = make_backbone(cfg.backbone, cifar_stem=cfg.cifar_stem, width=cfg.backbone_width)
    cassle, feature_aug, augself = cfg.cassle_settings(), cfg.feature_aug_settings(), cfg.augself_settings()
    projector = cassle.projector_factory() if cassle else plain_projector
    method = build_method(cfg.method, backbone, projector, feature_aug.factory() if feature_aug else None,
                          proj_hidden=cfg.proj_hidden, proj_dim=cfg.proj_dim, pred_hidden=cfg.pred_hidden,
                          temperature=cfg.temperature, queue_size=cfg.queue_size, momentum_tau=cfg.momentum_tau,
                          barlow_lambda=cfg.barlow_lambda)
    return SSLModel(method, augself.heads(backbone.feature_dim) if augself else None)
