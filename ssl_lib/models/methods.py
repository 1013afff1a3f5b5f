"""The six joint-embedding SSL methods, each a module whose forward returns its loss.

A method receives both views and their captured augmentation parameters. Its projector is
called as `projector(features, params)`, so an augmentation-conditioned projector (CASSLE)
replaces the plain one without touching the method, and every method returns the backbone
features of both views (online, and momentum-target where there is one) so an auxiliary head
(AugSelf) can add its loss outside. Head sizes default to each paper's and can be scaled down.

Methods (loss, heads):
    simclr        NT-Xent; projector 2048-128
    mocov2        InfoNCE against a queue, momentum encoder (fixed tau); projector 2048-128
    byol          2 - 2 cos(prediction, target); momentum target (tau cosine-scheduled to 1);
                  projector 4096-256, predictor 4096-256
    simsiam       -cos(prediction, stop-grad projection); projector 2048x3 (BN out), predictor 512
    barlow_twins  cross-correlation to identity; projector 8192x3
    vicreg        variance-invariance-covariance; projector 8192x3
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ssl_lib.models import losses
from ssl_lib.augment import AugParams
from ssl_lib.models.heads import mlp, plain_projector
from ssl_lib.utils.distributed import gather_with_grad, is_distributed


@dataclass
class MethodOutput:
    """What a method's forward returns for B view pairs.

    Attributes:
        loss: scalar tensor to minimise (with feature augmentation's terms, when on).
        y1, y2: (B, C) online backbone features of each view.
        y1_target, y2_target: (B, C) momentum-backbone features (no gradient), or None for a
            method without a momentum encoder.
    """

    loss: Tensor
    y1: Tensor
    y2: Tensor
    y1_target: Tensor | None = None
    y2_target: Tensor | None = None


@dataclass(frozen=True)
class HeadSpec:
    """Paper defaults of a method's heads and hyper-parameters."""

    proj_hidden: int
    proj_dim: int
    proj_layers: int
    proj_bn_last: bool = False
    pred_hidden: int | None = None
    temperature: float | None = None
    queue_size: int | None = None
    momentum_tau: float | None = None
    barlow_lambda: float | None = None


PAPER_SPECS = {
    "simclr": HeadSpec(2048, 128, 2, temperature=0.2),
    "mocov2": HeadSpec(2048, 128, 2, temperature=0.2, queue_size=4096, momentum_tau=0.99),
    "byol": HeadSpec(4096, 256, 2, pred_hidden=4096, momentum_tau=0.996),
    "simsiam": HeadSpec(2048, 2048, 3, proj_bn_last=True, pred_hidden=512),
    "barlow_twins": HeadSpec(8192, 8192, 3, barlow_lambda=5e-3),
    "vicreg": HeadSpec(8192, 8192, 3),
}


class SSLMethod(nn.Module):
    """Backbone + projector; subclasses add predictors, momentum targets and the loss.

    Components plug in through the constructor, both as factories:
        projector_factory(in_dim, hidden, out_dim, layers, bn_last) -> projector module
            (`ssl_lib.models.heads.plain_projector`, or CASSLE's conditioned projector);
        feature_aug(dim) -> FeatureAugmenter or None (`ssl_lib.models.feature_aug.FeatureAugSettings.factory`).
    Subclasses add their own modules in `build_heads`, which runs before the feature augmenter
    is built, so a method with feature augmentation off is initialised exactly as the plain one.

    forward(views1, views2, params1, params2) returns a `MethodOutput` (loss, online features y1,
    y2 and momentum features y1_target, y2_target or None).
    """

    has_target = False
    # AugSelf pairs y1 with the momentum y2_target (True) or the online y2 (False): the authors'
    # trainers use the momentum feature for MoCo only (BYOL, SimSiam, SimCLR use the online y2).
    augself_pairs_target = False

    def __init__(self, backbone: nn.Module, spec: HeadSpec, projector_factory=plain_projector, feature_aug=None):
        super().__init__()
        self.backbone = backbone
        self.spec = spec
        self.projector = projector_factory(backbone.feature_dim, spec.proj_hidden, spec.proj_dim,
                                           spec.proj_layers, spec.proj_bn_last)
        self.build_heads()
        self.feature_aug = feature_aug(spec.proj_dim) if feature_aug is not None else None

    def build_heads(self) -> None:
        """Add the method's modules beyond backbone and projector (none by default)."""

    def encode(self, views1: Tensor, views2: Tensor) -> tuple[Tensor, Tensor]:
        """Backbone features of both views in one pass (shared BatchNorm statistics)."""
        y = self.backbone(torch.cat([views1, views2]))
        return y.chunk(2)

    def project(self, y1: Tensor, y2: Tensor, params1: AugParams, params2: AugParams) -> tuple[Tensor, Tensor]:
        z = self.projector(torch.cat([y1, y2]), AugParams.cat([params1, params2]))
        return z.chunk(2)

    def update_target(self, progress: float) -> None:
        """Called after each optimiser step with training progress in [0, 1]; no-op by default."""


class MomentumMethod(SSLMethod):
    """A method with an EMA copy of backbone and projector (the target branch)."""

    has_target = True

    def build_heads(self) -> None:
        self.target_backbone = copy.deepcopy(self.backbone).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)

    def momentum(self, progress: float) -> float:
        return self.spec.momentum_tau

    @torch.no_grad()
    def update_target(self, progress: float) -> None:
        tau = self.momentum(progress)
        # One multi-tensor kernel per list instead of one launch per tensor (same arithmetic).
        pairs = ((self.backbone, self.target_backbone), (self.projector, self.target_projector))
        targets = [p for _, target in pairs for p in target.parameters()]
        onlines = [p.detach() for online, _ in pairs for p in online.parameters()]
        torch._foreach_lerp_(targets, onlines, 1 - tau)
        for online, target in pairs:
            for b_online, b_target in zip(online.buffers(), target.buffers()):
                b_target.copy_(b_online)

    @torch.no_grad()
    def encode_target(self, views1, views2, params1, params2):
        """Target-branch features and projections of both views."""
        y = self.target_backbone(torch.cat([views1, views2]))
        z = self.target_projector(y, AugParams.cat([params1, params2]))
        return y.chunk(2), z.chunk(2)


class PairLossMethod(SSLMethod):
    """A method whose loss is a function of the two views' projections alone."""

    def pair_loss(self, z1: Tensor, z2: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, views1, views2, params1, params2):
        y1, y2 = self.encode(views1, views2)
        z1, z2 = self.project(y1, y2, params1, params2)
        loss = self.pair_loss(z1, z2)
        if self.feature_aug is not None:
            loss = loss + self.feature_aug.positive_loss(self.pair_loss, (z1, z2), (z1, z2))
        return MethodOutput(loss, y1, y2)


class SimCLR(PairLossMethod):
    def pair_loss(self, z1, z2):
        return losses.nt_xent(z1, z2, self.spec.temperature, gather_distributed=is_distributed())


class MoCoV2(MomentumMethod):
    """Symmetrised MoCo v2: each view's query against the other view's key and the queue."""

    augself_pairs_target = True

    def build_heads(self) -> None:
        super().build_heads()
        spec = self.spec
        self.register_buffer("queue", nn.functional.normalize(torch.randn(spec.queue_size, spec.proj_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def forward(self, views1, views2, params1, params2):
        y1, y2 = self.encode(views1, views2)
        q1, q2 = self.project(y1, y2, params1, params2)
        (y1_t, y2_t), (k1, k2) = self.encode_target(views1, views2, params1, params2)
        t = self.spec.temperature
        queue = self.queue.clone()  # the enqueue below writes in place before backward reads it
        pair = lambda q, k: losses.info_nce(q, k, queue, t)
        loss = (pair(q1, k2) + pair(q2, k1)) / 2
        if self.feature_aug is not None:  # augmented momentum keys as extra positives
            loss = loss + self.feature_aug.positive_loss(pair, (q1, q2), (k1, k2))
        if self.training:
            self._enqueue(torch.cat([k1, k2]))
        return MethodOutput(loss, y1, y2, y1_t, y2_t)

    @torch.no_grad()
    def _enqueue(self, keys: Tensor) -> None:
        keys = nn.functional.normalize(gather_with_grad(keys.float()), dim=1)
        size = self.queue.shape[0]
        keys = keys[-size:]  # a step with more keys than the queue holds keeps the newest
        idx = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[idx] = keys
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)


class BYOL(MomentumMethod):
    def build_heads(self) -> None:
        super().build_heads()
        self.predictor = mlp([self.spec.proj_dim, self.spec.pred_hidden, self.spec.proj_dim])

    def momentum(self, progress: float) -> float:
        # BYOL's schedule: tau = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2, rising to 1.
        return 1 - (1 - self.spec.momentum_tau) * (math.cos(math.pi * progress) + 1) / 2

    def forward(self, views1, views2, params1, params2):
        y1, y2 = self.encode(views1, views2)
        z1, z2 = self.project(y1, y2, params1, params2)
        p1, p2 = self.predictor(torch.cat([z1, z2])).chunk(2)
        (y1_t, y2_t), (t1, t2) = self.encode_target(views1, views2, params1, params2)
        # sum over both orderings of ||p/|p| - z'/|z'|||^2 = 2 - 2 cos(p, z'), as the BYOL paper
        pair = lambda p, target: 2 + 2 * losses.negative_cosine(p, target)
        loss = pair(p1, t2) + pair(p2, t1)
        if self.feature_aug is not None:
            loss = loss + self.feature_aug.predictor_loss(pair, self.predictor, (z1, z2), (p1, p2), (t1, t2))
        return MethodOutput(loss, y1, y2, y1_t, y2_t)


class SimSiam(SSLMethod):
    def build_heads(self) -> None:
        self.predictor = mlp([self.spec.proj_dim, self.spec.pred_hidden, self.spec.proj_dim])

    def forward(self, views1, views2, params1, params2):
        y1, y2 = self.encode(views1, views2)
        z1, z2 = self.project(y1, y2, params1, params2)
        p1, p2 = self.predictor(torch.cat([z1, z2])).chunk(2)
        t1, t2 = z1.detach(), z2.detach()
        pair = lambda p, target: losses.negative_cosine(p, target) / 2
        loss = pair(p1, t2) + pair(p2, t1)
        if self.feature_aug is not None:
            loss = loss + self.feature_aug.predictor_loss(pair, self.predictor, (z1, z2), (p1, p2), (t1, t2))
        return MethodOutput(loss, y1, y2)


class BarlowTwins(PairLossMethod):
    def pair_loss(self, z1, z2):
        return losses.barlow_twins(z1, z2, self.spec.barlow_lambda, gather_distributed=is_distributed())


class VICReg(PairLossMethod):
    def pair_loss(self, z1, z2):
        return losses.vicreg(z1, z2, gather_distributed=is_distributed())


METHOD_CLASSES = {"simclr": SimCLR, "mocov2": MoCoV2, "byol": BYOL, "simsiam": SimSiam,
                  "barlow_twins": BarlowTwins, "vicreg": VICReg}
METHODS = tuple(METHOD_CLASSES)


def head_spec(method: str, **overrides) -> HeadSpec:
    """The method's paper spec with non-None overrides applied (e.g. smaller heads for small backbones)."""
    if method not in PAPER_SPECS:
        raise ValueError(f"unknown method {method!r}; known methods: {list(PAPER_SPECS)}")
    spec = PAPER_SPECS[method]
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(changes) - set(spec.__dataclass_fields__))
    if unknown:
        raise TypeError(f"unknown head setting(s) {unknown}")
    return spec.__class__(**{**spec.__dict__, **changes})


def build_method(method: str, backbone: nn.Module, projector_factory=plain_projector, feature_aug=None,
                 **overrides) -> SSLMethod:
    """Instantiate `method` on `backbone` with its paper heads, overridden where given.

    projector_factory and feature_aug: the pluggable components (see `SSLMethod`).
    """
    spec = head_spec(method, **overrides)
    return METHOD_CLASSES[method](backbone, spec, projector_factory, feature_aug)
