"""CASSLE's conditioned projector on one batch: the numbers notebook 05 shows a student.

    conditioning_effect   the projector's output with matched vs borrowed descriptors

Notebook 05 imports this module (and `ssl_lib.lab.session`) only: the descriptor's layout,
the recipes, the sensitivity analyses and the transfer headline come with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_lib.augment import DEFAULT_DESCRIPTOR_KEYS, AugParams, descriptor_columns, descriptor_layout, recipe
from ssl_lib.evaluation.sensitivity import augmentation_probe, block_sensitivity, projector_sensitivity
from ssl_lib.evaluation.transfer import headline
from ssl_lib.teaching.one_batch import example_batch, kept_as_is, project_views

# This module's own functions, then what its notebook uses from the rest of the library (re-exported).
__all__ = [
    "conditioning_effect",
    "example_batch", "project_views", "DEFAULT_DESCRIPTOR_KEYS", "descriptor_columns", "descriptor_layout",
    "recipe", "block_sensitivity", "projector_sensitivity", "augmentation_probe", "headline",
]


@torch.no_grad()
def conditioning_effect(projector: nn.Module, features: Tensor, params: AugParams, shift: int = 1,
                        training: bool = True) -> pd.DataFrame:
    """What the conditioned projector does with the descriptor: each view's projection with its
    own descriptor ("matched") against the same features with another view's descriptor
    ("borrowed": view i gets the descriptor of view (i + shift) mod B, as a derangement).

    Args:
        projector: a `ssl_lib.models.cassle.ConditionedProjector` in "matched" mode.
        features: (B, C) backbone features; params: the views' AugParams (B rows).
        shift: which other view's descriptor each view borrows (1 <= shift < B).
        training: BatchNorm with the batch's statistics, as in a training step (the default;
            borrowing permutes the descriptors, so their statistics stay the same), or in eval
            mode with the running ones. The projector's mode and running statistics are kept.
    Returns:
        One row per view: ``descriptor distance`` ||d_i - d_j||, ``cos(z matched, z borrowed)``
        and ``relative change`` ||z(y_i, d_i) - z(y_i, d_j)|| / ||z(y_i, d_i)||, and for scale
        ``cos(z_i, z_j) matched``, the cosine between two different images' projections.
    """
    if getattr(projector, "descriptors", "matched") != "matched":
        raise ValueError("conditioning_effect needs a projector in 'matched' mode (a 'shuffled' one permutes "
                         "the descriptors itself)")
    b = features.shape[0]
    if not 1 <= shift < b:
        raise ValueError(f"shift must lie in [1, {b - 1}] for a batch of {b}, got {shift}")
    other = torch.roll(torch.arange(b), -shift)
    with kept_as_is(projector, training):
        matched = projector(features, params)
        borrowed = projector(features, params[other.to(params.flip.device)])
    d = params.descriptor(projector.keys)
    cos = lambda a, c: F.cosine_similarity(a.double(), c.double(), dim=1).cpu().numpy()
    return pd.DataFrame({
        "view": np.arange(b), "borrows from": other.numpy(),
        "descriptor distance": (d - d[other.to(d.device)]).norm(dim=1).cpu().numpy(),
        "cos(z matched, z borrowed)": cos(matched, borrowed),
        "relative change": ((matched - borrowed).norm(dim=1) / matched.norm(dim=1)).cpu().numpy(),
        "cos(z_i, z_j) matched": cos(matched, matched[other.to(matched.device)]),
    })
