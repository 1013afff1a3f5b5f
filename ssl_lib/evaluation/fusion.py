"""Fusion of several frozen backbones' features (Ericsson et al.: models trained with
complementary augmentations, concatenated, transfer well to tasks wanting either invariance).

The fused features are probed like any others (`ssl_lib.evaluation.linear_probe`, `knn_accuracy`,
`few_shot_eval`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

FUSION_MODES = ("concat", "mean")


def fuse_features(features: Sequence[Tensor], mode: str = "concat", l2_normalize: bool = False) -> Tensor:
    """Fuse per-model features of the same N images.

    Args:
        features: a non-empty sequence of (N, D_m) tensors, one per model, rows aligned.
        mode: "concat" -> (N, sum D_m), the paper's fusion; "mean" -> (N, D) for equal widths.
            The mean is a same-width baseline only: coordinates of independently trained
            models are not aligned, so averaging mixes unrelated units (a linear probe on the
            concatenation can represent any weighted sum; the mean fixes one).
        l2_normalize: scale each model's rows to unit norm first, so that no model dominates a
            cosine kNN or the mean because of its feature scale (the linear probe standardises
            anyway).
    Returns:
        (N, sum D_m) or (N, D) float tensor.
    """
    if mode not in FUSION_MODES:
        raise ValueError(f"mode must be one of {list(FUSION_MODES)}, got {mode!r}")
    features = list(features)
    if not features:
        raise ValueError("features must contain at least one (N, D) tensor")
    for i, f in enumerate(features):
        if not isinstance(f, Tensor) or f.ndim != 2:
            raise ValueError(f"features[{i}] must be a 2-D tensor (N, D), got "
                             f"{tuple(f.shape) if isinstance(f, Tensor) else type(f).__name__}")
    rows = {f.shape[0] for f in features}
    if len(rows) != 1:
        raise ValueError(f"features must describe the same images, got row counts {[f.shape[0] for f in features]}")
    if mode == "mean" and len({f.shape[1] for f in features}) != 1:
        raise ValueError(f"mode='mean' needs equal widths, got {[f.shape[1] for f in features]}; use 'concat'")
    device = features[0].device
    features = [f.to(device).float() for f in features]
    if l2_normalize:
        features = [F.normalize(f, dim=1) for f in features]
    return torch.cat(features, dim=1) if mode == "concat" else torch.stack(features).mean(dim=0)


def fused_l2_grid(l2_grid, n_models: int) -> tuple[float, ...]:
    """Ericsson et al.'s probe grid for `n_models` fused models: the single-model grid moved up
    two decades per extra model (their width-matched control, a 3x wide model, gets the same
    shift as three models)."""
    if n_models < 1:
        raise ValueError(f"n_models must be >= 1, got {n_models}")
    return tuple(float(w) * 100.0 ** (n_models - 1) for w in l2_grid)
