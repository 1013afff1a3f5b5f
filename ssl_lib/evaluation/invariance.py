"""Invariance of frozen features to transformations, as Ericsson, Gouk & Hospedales (BMVC 2022).

Invariance to a transform t is the Mahalanobis cosine between the features of an image and of
its transformed version, ``cos((f(x) - mu) W, (f(t x) - mu) W)``, where ``mu`` and the unbiased
covariance ``S`` come from clean reference features, ``P = (S + ridge I)^-1`` and ``W W^T = P``
(Cholesky). Whitening stops a few high-variance directions from dominating the cosine. It is
averaged over images and over a grid of the transform's parameter (`measure_invariance`), or
over all pairs within groups of renderings of one object under a viewpoint or lighting change
(`group_invariance`, the paper's COIL-100 / ALOI measure).

The transforms are applied with FIXED parameters, one grid point at a time, through the batched
ops of `ssl_lib.augment.functional`. The default grids keep the paper's ranges with 8-16
values instead of 256 (`default_grids`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_lib.augment import ops
from ssl_lib.data import make_groups, make_synthetic
from ssl_lib.evaluation.features import extract_features, module_device
from ssl_lib.utils.checks import as_float_images

DEFAULT_RELATIVE_RIDGE = 1e-3


# -- whitening -------------------------------------------------------------------------------


@dataclass
class Whitener:
    """Mean ``mean`` (D,) and whitening matrix ``weight`` (D, D) with ``weight @ weight.T =
    (S + ridge I)^-1`` for the reference covariance S; float64."""

    mean: Tensor
    weight: Tensor

    @classmethod
    def fit(cls, reference_features: Tensor, ridge: float = 0.0) -> "Whitener":
        """Estimate the whitening from (N, D) clean reference features.

        ``ridge`` is added to the diagonal of the unbiased covariance (absolute, in squared
        feature units; see `default_ridge` for a scale-free choice). Raises ValueError for
        fewer than 2 samples, or fewer than D + 1 without a ridge (S is then singular).
        """
        ref = reference_features
        if not isinstance(ref, Tensor) or ref.ndim != 2:
            raise ValueError(f"reference_features must be a 2-D tensor (N, D), got "
                             f"{tuple(ref.shape) if isinstance(ref, Tensor) else type(ref).__name__}")
        n, d = ref.shape
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        if n < 2:
            raise ValueError(f"reference_features needs at least 2 samples for a covariance, got {n}")
        if ridge == 0 and n < d + 1:
            raise ValueError(f"reference_features has {n} samples for {d} dimensions: the covariance "
                             f"is singular below {d + 1} samples; pass ridge > 0")
        ref = ref.double()
        mean = ref.mean(dim=0)
        cov = torch.cov(ref.T, correction=1).reshape(d, d) + ridge * torch.eye(d, dtype=ref.dtype, device=ref.device)
        # S = C C^T gives P = S^-1 = C^-T C^-1, so W = C^-T: no explicit inverse is formed.
        chol, info = torch.linalg.cholesky_ex(cov)
        if info.item() != 0:
            raise ValueError("the reference covariance is not positive definite "
                             "(constant or collinear features); pass ridge > 0")
        eye = torch.eye(d, dtype=ref.dtype, device=ref.device)
        weight = torch.linalg.solve_triangular(chol, eye, upper=False).T
        return cls(mean, weight)

    def __call__(self, features: Tensor) -> Tensor:
        """Whitened features ``(f - mean) @ weight``, (N, D) float64."""
        if features.ndim != 2 or features.shape[1] != self.mean.shape[0]:
            raise ValueError(f"features must be (N, {self.mean.shape[0]}), got {tuple(features.shape)}")
        return (features.to(self.mean.device, torch.float64) - self.mean) @ self.weight


def default_ridge(reference_features: Tensor, relative: float = DEFAULT_RELATIVE_RIDGE) -> float:
    """A scale-free ridge: ``relative`` times the mean feature variance of (N, D) features.

    Random or ReLU features often have dead or collinear units, so the default measurement adds
    this small shrinkage rather than failing; it is negligible for well-conditioned features.
    """
    var = reference_features.double().var(dim=0, correction=1).mean()
    return float(relative * var) if var > 0 else float(relative)


def _check_pairs(features_x: Tensor, features_tx: Tensor) -> None:
    if features_x.ndim != 2 or features_x.shape != features_tx.shape:
        raise ValueError(f"features_x and features_tx must have the same shape (N, D), got "
                         f"{tuple(features_x.shape)} and {tuple(features_tx.shape)}")


def whitened_cosine(features_x: Tensor, features_tx: Tensor, reference_features: Tensor,
                    ridge: float = 0.0) -> Tensor:
    """Per-pair Mahalanobis cosine (N,) between rows of features_x and features_tx (N, D),
    whitened with the mean and ``(S + ridge I)^-1`` of reference_features (M, D). Float64."""
    _check_pairs(features_x, features_tx)
    whiten = Whitener.fit(reference_features, ridge)
    return F.cosine_similarity(whiten(features_x), whiten(features_tx), dim=1)


def mahalanobis_distance(features_x: Tensor, features_tx: Tensor, reference_features: Tensor,
                         ridge: float = 0.0) -> Tensor:
    """Per-pair Mahalanobis distance (N,) ``sqrt((a - b) P (a - b)^T)``, P as `whitened_cosine`."""
    _check_pairs(features_x, features_tx)
    whiten = Whitener.fit(reference_features, ridge)
    return (whiten(features_x) - whiten(features_tx)).norm(dim=1)


# -- transforms with fixed parameters --------------------------------------------------------


def transform_names() -> tuple[str, ...]:
    """The transforms the ops of `ssl_lib.augment.ops` declare: crop, flip, brightness, contrast,
    saturation, hue, grayscale, blur, solarize, rotation, and any registered op's."""
    return tuple(ops.fixed_transforms())


def parameter_name(name: str) -> str:
    """The name of transform ``name``'s parameter (the ``parameter`` column of the tables)."""
    return ops.fixed_transforms()[check_transform_names(name, "name")[0]].parameter


def default_grids(size: int) -> dict[str, list]:
    """Parameter grids per transform for images of side ``size``: Ericsson's ranges, fewer values.

    crop: area scale {0.64, 0.36, 0.16} (sides 0.8, 0.6, 0.4) x 3 x 3 positions (top-left corner at
    fraction {0, 0.5, 1} of the free space), points ``(scale, y, x)``; flip, grayscale: {0, 1};
    rotation: 0-330 degrees every 30; brightness, contrast, saturation: factors 0.25-5 (12);
    hue: -0.5..0.5 (11); blur: sigma 0.1 to 20 * size / 224 (10; the paper's 20 px at 224);
    solarize: threshold 0..1 (11). Each op declares its own (`ssl_lib.augment.ops.FixedTransform`).
    """
    return {name: transform.grid(size) for name, transform in ops.fixed_transforms().items()}


def check_transform_names(names, argument: str = "transforms") -> tuple[str, ...]:
    """The names as a tuple; ValueError naming ``argument`` and any unknown name."""
    names = (names,) if isinstance(names, str) else tuple(names)
    known = transform_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"{argument}: unknown transform(s) {unknown}; known: {list(known)}")
    return names


def apply_transform(images: Tensor, name: str, value) -> Tensor:
    """Apply transform ``name`` with one fixed parameter ``value`` to every image of (B, 3, H, W)
    float images in [0, 1]; returns (B, 3, H, W). Values are as in `default_grids`."""
    check_transform_names(name, "name")
    return ops.fixed_transforms()[name].apply(images, value)


def _scalar(name: str, value) -> float:
    return ops.fixed_transforms()[name].scalar(value)


# -- measurements ----------------------------------------------------------------------------


# Ericsson et al. whiten without a ridge, but for random models (dead units) add 1e-10 I; the
# same negligible ridge, relative to the mean variance, keeps ReLU features' covariance invertible.
AUTHORS_RELATIVE_RIDGE = 1e-10


def _resolve_whitener(clean: Tensor, reference_features: Tensor | None, ridge: float | None) -> Whitener:
    """The authors' whitening from a separate clean reference set (no ridge to speak of); with
    none given, the measured images themselves, which need `default_ridge` (few samples per
    dimension)."""
    if reference_features is None:
        return Whitener.fit(clean, default_ridge(clean) if ridge is None else ridge)
    if ridge is None:
        ridge = default_ridge(reference_features, AUTHORS_RELATIVE_RIDGE)
    return Whitener.fit(reference_features, ridge)


def reference_features(backbone: nn.Module, n: int, size: int, seed: int = 0, batch_size: int = 256,
                       eval_transform=None) -> Tensor:
    """(n, D) features of n clean synthetic test-split scenes: the whitening's reference set, kept
    apart from the images measured, as Ericsson et al. whiten with the whole validation set (use
    n >= 10 D: a covariance from fewer samples per dimension is too noisy to invert)."""
    device = module_device(backbone)
    images, _ = make_synthetic(n, size, seed=seed, split="test", device=device)
    return extract_features(backbone, images, batch_size=batch_size, transform=eval_transform)


def measure_invariance(
    backbone: nn.Module,
    images: Tensor,
    transforms=None,
    grids: dict | None = None,
    reference_features: Tensor | None = None,
    ridge: float | None = None,
    model: str = "model",
    batch_size: int = 256,
    eval_transform=None,
) -> pd.DataFrame:
    """Invariance of a frozen backbone to each transform at each grid point.

    Args:
        backbone: (B, 3, H, W) -> (B, D), used in eval mode on its own device.
        images: (N, 3, H, W) clean float images in [0, 1] (or uint8), on any device.
        transforms: names from `transform_names()` (default all).
        grids: per-transform overrides of `default_grids` (e.g. ``{"rotation": [0, 45, 90]}``).
        reference_features: (M, D) clean features of a separate reference set for the
            whitening (`reference_features`, M >= 10 D), as the authors; None falls back to the
            features of ``images`` themselves.
        ridge: absolute ridge for `Whitener.fit`; None means the authors' negligible one with a
            reference set, `default_ridge` without.
        model: the value of the ``model`` column.
        eval_transform: evaluation transform (e.g. normalisation), applied after the transform.
    Returns:
        A tidy DataFrame, one row per (transform, grid point), columns: model, transform,
        parameter, value (the scalar parameter; the area scale for crop), setting (the full
        grid point as text), invariance (mean whitened cosine over images), invariance_std,
        distance (mean Mahalanobis distance), n_images.
    """
    transforms = transform_names() if transforms is None else check_transform_names(transforms)
    size = images.shape[-1]
    grid_of = default_grids(size)
    check_transform_names(list(grids or {}), "grids")
    grid_of.update(grids or {})
    device = module_device(backbone)
    extract = lambda x: extract_features(backbone, x, batch_size=batch_size, transform=eval_transform)
    clean_images = as_float_images(images, "images")
    clean = extract(clean_images)
    whiten = _resolve_whitener(clean, reference_features, ridge)
    clean_w = whiten(clean)
    rows = []
    for name in transforms:
        for value in grid_of[name]:
            parts = []
            for start in range(0, clean_images.shape[0], batch_size):
                batch = clean_images[start:start + batch_size].to(device)
                parts.append(extract(apply_transform(batch, name, value)))
            moved = whiten(torch.cat(parts))
            cos = F.cosine_similarity(clean_w, moved, dim=1)
            rows.append(dict(model=model, transform=name, parameter=parameter_name(name),
                             value=_scalar(name, value), setting=str(value),
                             invariance=float(cos.mean()), invariance_std=float(cos.std(correction=0)),
                             distance=float((clean_w - moved).norm(dim=1).mean()),
                             n_images=clean_images.shape[0]))
    return pd.DataFrame(rows)


def group_invariance(
    backbone: nn.Module,
    groups: Tensor,
    reference_features: Tensor,
    ridge: float | None = None,
    model: str = "model",
    change: str = "",
    batch_size: int = 256,
    eval_transform=None,
) -> pd.DataFrame:
    """Real-world-like invariance: mean pairwise whitened cosine within each group.

    Args:
        groups: (G, K, 3, H, W) images, K >= 2 renderings per group (`ssl_lib.data.make_groups`).
        reference_features: (M, D) clean features for the whitening (e.g. of `make_synthetic`
            images); ridge as in `measure_invariance`.
        change: the value of the ``change`` column (e.g. "viewpoint").
    Returns:
        A tidy DataFrame, one row per group: model, change, group, invariance (mean over the
        K (K - 1) ordered pairs of distinct views; self-pairs excluded).
    """
    if groups.ndim != 5 or groups.shape[2] != 3:
        raise ValueError(f"groups must have shape (G, K, 3, H, W), got {tuple(groups.shape)}")
    g, k = groups.shape[:2]
    if k < 2:
        raise ValueError(f"groups need at least 2 views each for pairs, got K = {k}")
    feats = extract_features(backbone, groups.flatten(0, 1), batch_size=batch_size, transform=eval_transform)
    whiten = _resolve_whitener(feats, reference_features, ridge)
    z = F.normalize(whiten(feats), dim=1).reshape(g, k, -1)
    gram = z @ z.transpose(1, 2)
    pair_mean = (gram.sum(dim=(1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(dim=1)) / (k * (k - 1))
    return pd.DataFrame(dict(model=model, change=change, group=np.arange(g), invariance=pair_mean.cpu().numpy()))


def real_world_invariance(
    backbone: nn.Module,
    changes=("viewpoint", "lighting"),
    n_groups: int = 32,
    views: int = 8,
    size: int = 32,
    n_reference: int = 512,
    seed: int = 0,
    model: str = "model",
    ridge: float | None = None,
    **kwargs,
) -> pd.DataFrame:
    """`group_invariance` on synthetic groups (`make_groups`) for each change, whitened with
    the features of ``n_reference`` clean `make_synthetic` test-split scenes. Rows: one per
    (change, group); kwargs go to `group_invariance`."""
    device = module_device(backbone)
    ref_feats = reference_features(backbone, n_reference, size, seed, eval_transform=kwargs.get("eval_transform"))
    tables = []
    for change in changes:
        groups, _, _ = make_groups(n_groups, views, change=change, size=size, seed=seed, device=device)
        tables.append(group_invariance(backbone, groups, ref_feats, ridge=ridge, model=model,
                                       change=change, **kwargs))
    return pd.concat(tables, ignore_index=True)
