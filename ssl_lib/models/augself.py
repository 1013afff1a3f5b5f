"""AugSelf (Lee et al., NeurIPS 2021): predict the difference of augmentation parameters.

One MLP head per augmentation group reads the concatenated backbone features of two views,
[y_a, y_b] (2C), and predicts d(t_a, t_b) from `ssl_lib.augment.augself_targets`. It is used
symmetrically, on [y1, y2] and [y2, y1]; which y2 is the method's choice
(`SSLMethod.augself_pairs_target`): as the authors' trainers, MoCo v2 pairs y1 with the momentum
backbone's y2, every other method (BYOL included) with the online y2. The auxiliary loss is
sum_g lambda_g L_g with, as the authors' trainers.py (each op declares its loss kind in
`ssl_lib.augment.ops`),
    crop, color, blur, solarize: MSE(tanh(prediction), target)
        (blur's target is the raw sigma difference, up to about +-1.9: tanh cannot reach
        |d sigma| > 1, as in the authors' code);
    flip:     BCE(logit, same-flip flag);
    rotation: cross-entropy over the 4 classes of (k_a - k_b) mod 4.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ssl_lib.augment import AugParams, augself_targets, ops
from ssl_lib.models.heads import Block, build_mlp, hidden_block

DEFAULT_WEIGHTS = {"crop": 1.0, "color": 1.0}  # the authors' STL-10 setting


def parse_groups(spec) -> dict[str, float]:
    """"crop,color" or "crop:1.0,color:0.5" (or a dict) -> {group: weight}; "" -> {}.

    Raises ValueError naming an unknown or repeated group or a negative / non-numeric weight
    ("crop:1,crop:5" is refused rather than silently keeping the last weight).
    """
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        items = []
        for part in filter(None, (p.strip() for p in str(spec).split(","))):
            name, _, weight = part.partition(":")
            try:
                items.append((name.strip(), float(weight) if weight else DEFAULT_WEIGHTS.get(name.strip(), 1.0)))
            except ValueError:
                raise ValueError(f"AugSelf weight for {name!r} must be a number, got {weight!r}") from None
    weights, known = {}, ops.augself_groups()
    for name, weight in items:
        if name not in known:
            raise ValueError(f"unknown AugSelf group {name!r}; known: {list(known)}")
        if name in weights:
            raise ValueError(f"AugSelf group {name!r} more than once in {spec!r}")
        if not weight >= 0:
            raise ValueError(f"AugSelf weight for {name!r} must be >= 0, got {weight}")
        weights[name] = float(weight)
    return weights


@dataclass(frozen=True)
class AugSelfSettings:
    """AugSelf's part of a model: {group: loss weight lambda_g} (parsed from "crop,color" or
    "crop:1.0,color:0.5" by `parse_groups`) and the heads' hidden width. ModelConfig's flat fields
    augself and augself_hidden."""

    weights: Mapping[str, float] | str = field(default_factory=lambda: dict(DEFAULT_WEIGHTS), hash=False)
    hidden: int = 512

    def __post_init__(self):
        # parsed once, and read-only like the rest of the frozen settings
        object.__setattr__(self, "weights", MappingProxyType(parse_groups(self.weights)))
        if not self.weights:
            raise ValueError("AugSelf needs at least one group")
        if self.hidden < 1:
            raise ValueError(f"AugSelf's hidden width must be >= 1, got {self.hidden}")

    def heads(self, feature_dim: int) -> "AugSelfHeads":
        """The per-group heads on backbone features of width `feature_dim`."""
        return AugSelfHeads(feature_dim, dict(self.weights), self.hidden)


def _head(in_dim: int, width: int, out_dim: int) -> nn.Sequential:
    # The authors' head: Linear(no bias)-BN-ReLU, Linear(with bias)-BN-ReLU, Linear.
    return build_mlp(in_dim, [hidden_block(width), Block(width, bias=True, bn="affine", relu=True), Block(out_dim)])


class AugSelfHeads(nn.Module):
    """Per-group prediction heads and their weighted, symmetric loss."""

    def __init__(self, feature_dim: int, weights: dict[str, float], hidden: int = 512):
        super().__init__()
        if not weights:
            raise ValueError("AugSelfHeads needs at least one group")
        self.weights = parse_groups(weights)
        # each group's loss kind, as its op declares it (`ssl_lib.augment.ops.AugSelfTarget`)
        declared = ops.augself_groups()
        self.kinds = {g: declared[g].loss for g in self.weights}
        self.heads = nn.ModuleDict({g: _head(2 * feature_dim, hidden, len(declared[g].outputs)) for g in self.weights})

    def group_losses(self, y_a: Tensor, y_b: Tensor, params_a: AugParams, params_b: AugParams) -> dict[str, Tensor]:
        """Unweighted loss per group, averaged over the two orderings (y_a, y_b) and (y_b, y_a).

        y_a, y_b: (B, C) features; params_*: the views' AugParams (B rows each).
        """
        pair = torch.cat([torch.cat([y_a, y_b], dim=1), torch.cat([y_b, y_a], dim=1)])
        forward = augself_targets(params_a, params_b, self.weights)
        backward = augself_targets(params_b, params_a, self.weights)
        out = {}
        for group, head in self.heads.items():
            prediction = head(pair).float()
            target = torch.cat([forward[group], backward[group]]).to(prediction.device)
            if self.kinds[group] == "classes":  # rotation
                out[group] = F.cross_entropy(prediction, target)
            elif self.kinds[group] == "binary":  # flip
                out[group] = F.binary_cross_entropy_with_logits(prediction, target)
            else:  # regression: crop, color, blur, solarize
                out[group] = F.mse_loss(torch.tanh(prediction), target)
        return out

    @torch.no_grad()
    def predict(self, y_a: Tensor, y_b: Tensor) -> dict[str, Tensor]:
        """Each head's prediction of d(t_a, t_b) in the targets' space, from features (B, C) of
        the two views: tanh (crop, color, blur, solarize), sigmoid (flip), class (rotation)."""
        pair = torch.cat([y_a, y_b], dim=1)
        out = {}
        for group, head in self.heads.items():
            prediction = head(pair).float()
            if self.kinds[group] == "classes":
                out[group] = prediction.argmax(dim=1)
            elif self.kinds[group] == "binary":
                out[group] = torch.sigmoid(prediction)
            else:
                out[group] = torch.tanh(prediction)
        return out

    def forward(self, y_a, y_b, params_a, params_b) -> tuple[Tensor, dict[str, Tensor]]:
        """Weighted total sum_g lambda_g L_g and the per-group losses."""
        losses = self.group_losses(y_a, y_b, params_a, params_b)
        return sum(self.weights[g] * value for g, value in losses.items()), losses
