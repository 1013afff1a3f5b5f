"""Ericsson et al.'s whitened cosine, step by step: the numbers notebook 02 shows a student.

    whitened_pairs    plain and whitened cosine of pairs of feature sets
    variance_shares   how unevenly the feature variance is spread
    whitening_error   how exactly W W^T inverts the covariance

Notebooks 02 and 07 import this module (and `ssl_lib.lab.session`) only: the invariance measures,
the features, fusion, the transfer tables and the real downstream sets come with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_lib.data import DatasetNotFoundError
from ssl_lib.evaluation.downstream import load_downstream
from ssl_lib.evaluation.features import extract_features
from ssl_lib.evaluation.fusion import fuse_features, fused_l2_grid
from ssl_lib.evaluation.invariance import (Whitener, apply_transform, default_ridge, measure_invariance,
                                          real_world_invariance, reference_features, whitened_cosine)
from ssl_lib.evaluation.sensitivity import augmentation_probe
from ssl_lib.evaluation.transfer import SPLITS, headline, split_features, transfer_table

# This module's own functions, then what its notebook uses from the rest of the library (re-exported).
__all__ = [
    "whitened_pairs", "variance_shares", "whitening_error",
    "extract_features", "apply_transform", "default_ridge", "measure_invariance", "real_world_invariance",
    "reference_features", "augmentation_probe", "fuse_features", "fused_l2_grid", "split_features",
    "transfer_table", "SPLITS", "headline", "load_downstream", "DatasetNotFoundError",
]


def whitened_pairs(features_x: Tensor, features_tx: Tensor, reference_features: Tensor,
                   ridge: float | None = None) -> pd.DataFrame:
    """Plain and whitened cosine of each pair, and of an unrelated pair for scale.

    Args:
        features_x, features_tx: (N, C) features of N clean images and of their transformed
            versions (row i of both from image i); N >= 2.
        reference_features: (M, C) clean features the whitening is estimated on.
        ridge: as `ssl_lib.evaluation.invariance.whitened_cosine`; None: `default_ridge` of the
            reference (a small scale-free shrinkage).
    Returns:
        One row per image i: ``cos`` and ``whitened cos`` of (x_i, t(x_i)), and the same for the
        unrelated pair (x_i, t(x_{i+1})) (``cos unrelated``, ``whitened cos unrelated``).
    """
    ridge = default_ridge(reference_features) if ridge is None else ridge
    shifted = features_tx.roll(-1, dims=0)
    plain = lambda a, b: F.cosine_similarity(a.double(), b.double(), dim=1).cpu().numpy()
    whitened = lambda a, b: whitened_cosine(a, b, reference_features, ridge).cpu().numpy()
    return pd.DataFrame({"image": np.arange(features_x.shape[0]),
                         "cos": plain(features_x, features_tx),
                         "whitened cos": whitened(features_x, features_tx),
                         "cos unrelated": plain(features_x, shifted),
                         "whitened cos unrelated": whitened(features_x, shifted)})


def variance_shares(features: Tensor) -> np.ndarray:
    """The share of the total variance of (N, C) features along each principal direction
    (eigenvalues of the unbiased covariance over their sum), largest first: (C,)."""
    cov = torch.cov(features.double().T, correction=1).reshape(features.shape[1], features.shape[1])
    eig = torch.linalg.eigvalsh(cov).clamp_min(0).flip(0)
    return (eig / eig.sum()).cpu().numpy()


def whitening_error(reference_features: Tensor, ridge: float) -> float:
    """max |W W^T (S + ridge I) - I| for the `Whitener` fitted on (M, C) reference features:
    how exactly the whitening matrix W inverts the (ridged) covariance S."""
    whitener = Whitener.fit(reference_features, ridge)
    ref = reference_features.double().to(whitener.weight.device)
    d = ref.shape[1]
    eye = torch.eye(d, dtype=torch.float64, device=ref.device)
    cov = torch.cov(ref.T, correction=1).reshape(d, d) + ridge * eye
    return float((whitener.weight @ whitener.weight.T @ cov - eye).abs().max())
