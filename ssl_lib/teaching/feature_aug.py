"""Feature augmentation on one batch of projections: the numbers notebook 06 shows a student.

    feature_aug_table     what each operator does to a batch of z
    stop_gradient_check   which side of L_fa receives a gradient

Notebook 06 imports this module (and `ssl_lib.lab.session`) only: the operators' names and
defaults and the batch helpers come with it.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_lib.models.feature_aug import ARRANGEMENTS, DEFAULT_STRENGTH, OPERATORS, FeatureAugmenter
from ssl_lib.models.losses import nt_xent
from ssl_lib.teaching.one_batch import example_batch, project_views, seeded

# This module's own functions, then what its notebook uses from the rest of the library (re-exported).
__all__ = [
    "feature_aug_table", "stop_gradient_check",
    "example_batch", "project_views", "OPERATORS", "ARRANGEMENTS", "DEFAULT_STRENGTH",
]


@torch.no_grad()
def feature_aug_table(z: Tensor, operators=OPERATORS, strengths: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Each feature-augmentation operator applied once to a batch of projections.

    Args:
        z: (B, D) projections (B >= 2). operators: names from `OPERATORS`.
        strengths: {operator: strength}; missing operators use their default.
        seed: the random draw of every operator (the global RNG is restored afterwards).
    Returns:
        One row per operator: strength, ``cos(FA(z), z)`` mean and min over the batch,
        ``relative change`` mean ||FA(z) - z|| / ||z||, ``entries zeroed`` (the fraction of the
        B x D entries FA set to 0: dropout's rate) and, the same in every row for scale,
        ``cos to nearest other z``: the mean over i of the largest cos(z_i, z_j), j != i (how
        close another image already is).
    """
    strengths = strengths or {}
    rows = []
    others = ~torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    u = F.normalize(z.double(), dim=1)
    nearest = (u @ u.T).masked_fill(~others, -2).max(dim=1).values.mean()
    for operator in operators:
        with seeded(seed, z.device):
            augmenter = FeatureAugmenter(operator, z.shape[1], strengths.get(operator)).to(z.device)
            out = augmenter(z)
        cos = F.cosine_similarity(out.double(), z.double(), dim=1)
        rows.append({"operator": operator, "strength": augmenter.strength, "cos(FA(z), z) mean": float(cos.mean()),
                     "cos(FA(z), z) min": float(cos.min()),
                     "relative change": float(((out - z).norm(dim=1) / z.norm(dim=1)).mean()),
                     "entries zeroed": float(((out == 0) & (z != 0)).double().mean()),
                     "cos to nearest other z": float(nearest)})
    return pd.DataFrame(rows)


def stop_gradient_check(z1: Tensor, z2: Tensor, operator: str = "noise", pair_loss=None, strength=None,
                        seed: int = 0) -> pd.DataFrame:
    """Where the stop-gradient cuts L_fa = (L(a1, FA(t2^)) + L(a2, FA(t1^))) / 2.

    SimCLR passes the same projections as anchors a and targets t; here they are two separate
    leaf copies of (z1, z2), so the gradient L_fa sends back along each path can be read off:
    the anchor path (the un-augmented side) and the target path (through FA, into t^ =
    `FeatureAugmenter.source(t)`, which is t.detach() with stop_grad).

    Args:
        z1, z2: (B, D) projections of the two views.
        operator, strength: the FA operator; pair_loss: L (default SimCLR's NT-Xent, T = 0.2).
        seed: the operator's random draw, the same for both settings.
    Returns:
        One row per stop_grad setting (True, False): L_fa and the gradient norms
        ||dL_fa/da|| (anchors) and ||dL_fa/dt|| (targets, 0 where the stop-gradient cuts).
    """
    pair_loss = pair_loss or (lambda a, b: nt_xent(a, b, 0.2))
    rows = []
    for stop_grad in (True, False):
        anchors = [z.detach().clone().requires_grad_(True) for z in (z1, z2)]
        targets = [z.detach().clone().requires_grad_(True) for z in (z1, z2)]
        with seeded(seed, z1.device):
            augmenter = FeatureAugmenter(operator, z1.shape[1], strength, stop_grad=stop_grad).to(z1.device)
            loss = augmenter.positive_loss(pair_loss, tuple(anchors), tuple(targets))
        loss.backward()
        norm = lambda leaves: math.sqrt(sum(float((leaf.grad.double() ** 2).sum())
                                            for leaf in leaves if leaf.grad is not None))
        rows.append({"stop_grad": stop_grad, "L_fa": float(loss.detach()), "grad norm, anchors": norm(anchors),
                     "grad norm, targets (FA input)": norm(targets)})
    return pd.DataFrame(rows)
