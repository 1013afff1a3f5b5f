"""Feature augmentation (after Zhang et al., arXiv 2410.12396): augment projected features.

The paper does not publish its operator, so this module provides the natural family
(docs/papers.md section 5) and documents each choice:
    noise      z + s * eps,                 eps ~ N(0, I), s = `strength` x per-dimension batch std
    dropout    z * m / (1 - p),             m ~ Bernoulli(1 - p), p = `strength`
    mix        l z + (1 - l) z_j,           l ~ U(1 - strength, 1), j a random other sample
    generator  z + G([z, eps]),             a small learned MLP (zero-initialised output layer)

How a method uses the augmented features FA(z) (our choices where the paper is silent):
* instance discrimination (SimCLR) and redundancy reduction (Barlow Twins, VICReg): FA of the
  other view is an extra positive, L_fa = (L(z1, FA(z2^)) + L(z2, FA(z1^))) / 2;
* MoCo: FA of the momentum keys is an extra positive key, L_fa = mean_i info_nce(q_i, FA(k_j));
  keys carry no gradient, so the stop-gradient choice does not apply;
* instance similarity (BYOL, SimSiam), arrangement "basic" (FA and predictor on the same view):
  L_fa = D(pred(FA(z1^)), z2') + D(pred(FA(z2^)), z1'); arrangement "parallel" (FA and predictor
  on different views, the paper's best): L_fa = D(pred(z1), FA(z2')) + D(pred(z2), FA(z1')),
  with z' the stop-gradient or momentum target.
Here z^ is z.detach() with `stop_grad=True` (the paper: "crucial") and z otherwise.
The total loss is L_ssl + weight * L_fa. The arrangements live here (`positive_loss`,
`predictor_loss`); a method receives `FeatureAugSettings.factory()` in its constructor and calls them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

OPERATORS = ("noise", "dropout", "mix", "generator")
ARRANGEMENTS = ("basic", "parallel")
DEFAULT_STRENGTH = {"noise": 0.1, "dropout": 0.1, "mix": 0.1, "generator": 1.0}


def checked_strength(operator: str, strength: float | None, arrangement: str, weight: float) -> float:
    """The operator's strength (its default for None) once every setting is checked; ValueError
    naming a bad one."""
    if operator not in OPERATORS:
        raise ValueError(f"unknown feature augmentation operator {operator!r}; known: {list(OPERATORS)}")
    if arrangement not in ARRANGEMENTS:
        raise ValueError(f"unknown feature augmentation arrangement {arrangement!r}; known: {list(ARRANGEMENTS)}")
    strength = DEFAULT_STRENGTH[operator] if strength is None else float(strength)
    if strength < 0 or (operator in ("dropout", "mix") and strength >= 1):
        raise ValueError(f"feature augmentation strength for {operator!r} must lie in [0, 1), got {strength}")
    if weight < 0:
        raise ValueError(f"feature augmentation weight must be >= 0, got {weight}")
    return strength


class FeatureAugmenter(nn.Module):
    """FA(z) for z (B, D); a fresh random draw on every call, and the weighted extra loss
    terms of each method family (`positive_loss`, `predictor_loss`)."""

    def __init__(self, operator: str, dim: int, strength: float | None = None, stop_grad: bool = True,
                 arrangement: str = "parallel", weight: float = 1.0, hidden: int = 256):
        super().__init__()
        strength = checked_strength(operator, strength, arrangement, weight)
        self.operator, self.strength = operator, strength
        self.stop_grad, self.arrangement, self.weight = stop_grad, arrangement, weight
        if operator == "generator":
            self.generator = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dim))
            nn.init.zeros_(self.generator[-1].weight)  # starts as the identity map
            nn.init.zeros_(self.generator[-1].bias)

    def source(self, z: Tensor) -> Tensor:
        """The features FA consumes: detached when `stop_grad`."""
        return z.detach() if self.stop_grad else z

    def forward(self, z: Tensor) -> Tensor:
        """(B, D) -> (B, D) augmented features."""
        if self.operator == "noise":
            scale = z.detach().std(dim=0, keepdim=True) if z.shape[0] > 1 else torch.ones_like(z[:1])
            return z + self.strength * scale * torch.randn_like(z)
        if self.operator == "dropout":
            return nn.functional.dropout(z, self.strength, training=True)
        if self.operator == "mix":
            lam = 1 - self.strength * torch.rand(z.shape[0], 1, device=z.device, dtype=z.dtype)
            # a derangement: every sample mixes with another one
            shift = int(torch.randint(1, max(2, z.shape[0]), ()))
            partner = torch.roll(z, shifts=shift, dims=0)
            return lam * z + (1 - lam) * partner
        return z + self.generator(torch.cat([z, self.strength * torch.randn_like(z)], dim=1))

    def positive_loss(self, pair_loss, anchors: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor]) -> Tensor:
        """weight * (pair_loss(a1, FA(t2^)) + pair_loss(a2, FA(t1^))) / 2: augmented features of
        the other view as an extra positive (SimCLR, Barlow Twins, VICReg: anchors = targets = z;
        MoCo: anchors the queries, targets the momentum keys)."""
        (a1, a2), (t1, t2) = anchors, targets
        extra = pair_loss(a1, self(self.source(t2))) + pair_loss(a2, self(self.source(t1)))
        return self.weight * extra / 2

    def predictor_loss(self, pair_loss, predictor: nn.Module, projections: tuple[Tensor, Tensor],
                       predictions: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor]) -> Tensor:
        """weight * L_fa of a predictor method (BYOL, SimSiam), in this augmenter's arrangement.

        projections z (online), predictions p = predictor(z), targets z' (stop-gradient or
        momentum), each a pair of (B, D) tensors for views 1 and 2.
        "basic": pair_loss(predictor(FA(z1^)), z2') + pair_loss(predictor(FA(z2^)), z1');
        "parallel": pair_loss(p1, FA(z2')) + pair_loss(p2, FA(z1')).
        """
        (z1, z2), (p1, p2), (t1, t2) = projections, predictions, targets
        if self.arrangement == "basic":
            q1, q2 = predictor(torch.cat([self(self.source(z1)), self(self.source(z2))])).chunk(2)
            extra = pair_loss(q1, t2) + pair_loss(q2, t1)
        else:
            extra = pair_loss(p1, self(t2)) + pair_loss(p2, self(t1))
        return self.weight * extra


@dataclass(frozen=True)
class FeatureAugSettings:
    """Feature augmentation's part of a model: the operator, its strength (None: its default),
    whether FA's input is detached (stop_grad), the arrangement and the weight of the extra terms.
    ModelConfig's flat fields feature_aug, fa_strength, fa_stop_grad, fa_arrangement, fa_weight.
    Checked when made, so a bad value fails before any model is built."""

    operator: str
    strength: float | None = None
    stop_grad: bool = True
    arrangement: str = "parallel"
    weight: float = 1.0

    def __post_init__(self):
        checked_strength(self.operator, self.strength, self.arrangement, self.weight)

    def factory(self):
        """``dim -> FeatureAugmenter``: the `feature_aug` argument of `ssl_lib.models.methods.build_method`."""
        def factory(dim: int) -> FeatureAugmenter:
            return FeatureAugmenter(self.operator, dim, self.strength, self.stop_grad, self.arrangement, self.weight)
        return factory
