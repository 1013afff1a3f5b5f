"""Frozen-feature evaluation: feature extraction, linear and ridge probes, weighted kNN, few-shot.

The protocols follow the papers (REFERENCE.md section 6):

* `linear_probe`: multinomial logistic regression fitted by full-batch L-BFGS, the L2 weight
  chosen on a validation split from ``logspace(-6, 5, 45)``, refitted on train + val, scored on
  test (top-1 and class-average accuracy).
* `ridge_probe`: closed-form ridge regression for continuous targets, scored by R^2.
* `knn_predict` / `knn_accuracy`: the InstDisc / MoCo weighted cosine kNN.
* `few_shot_eval`: N-way K-shot episodes with logistic regression, mean +- 1.96 std / sqrt(n).

Conventions shared by both probes (one place, so the two are comparable):

* Loss. Logistic: ``mean_i CE(x_i W + b, y_i) + l2 / 2 * ||W||^2``; ridge:
  ``mean_i ||x_i W + b - y_i||^2 + l2 * ||W||^2``. The bias is never penalised. In
  scikit-learn terms: ``LogisticRegression(C=1 / (n * l2))`` and ``Ridge(alpha=n * l2)`` for n
  fitting samples.
* Standardisation. Features are standardised with the mean and (population) standard deviation
  of the samples the probe is fitted on -- train while choosing l2, train + val at the refit --
  never with validation or test statistics. The L2 penalty is scale dependent; without this,
  one grid would mean different things for backbones whose feature scales differ by orders of
  magnitude. A linear model on standardised features spans the same functions as on raw ones,
  so only the meaning of the grid changes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

L2_GRID = tuple(np.logspace(-6, 5, 45).tolist())  # the papers' grid


def single_cpu_thread(fn):
    """Run `fn` with one torch CPU thread (restored afterwards).

    Probe fits are thousands of tiny L-BFGS steps: their cost is per-op latency, which extra
    threads only add to. Measured on 2 cores (smoke-sized transfer table, machine under load):
    81 s with 2 threads, 2.6 s with 1. GPU work is unaffected.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
    return wrapper
_STD_FLOOR = 1e-6  # constant features (dead ReLUs) are centred, not blown up


# -- feature extraction ----------------------------------------------------------------------


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for a module with neither."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def as_float_images(images: Tensor, name: str = "images") -> Tensor:
    """(B, 3, H, W) uint8 (0..255) or float images as float32 in [0, 1]; ValueError otherwise."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    if not images.is_floating_point():
        raise ValueError(f"{name} must be float in [0, 1] or uint8, got {images.dtype}")
    return images.float()


def _concat_labels(parts: list):
    if isinstance(parts[0], dict):
        return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}
    return torch.cat(parts)


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    images_or_loader: Tensor | Iterable,
    batch_size: int = 256,
    device=None,
    transform: Callable[[Tensor], Tensor] | None = None,
    stages: bool = False,
):
    """Features of a frozen backbone, computed in eval mode without gradients.

    Args:
        backbone: maps (B, 3, H, W) float images to (B, D) features; with ``stages=True`` it must
            have ``forward_stages`` (a `ssl_lib.backbones.Backbone`).
        images_or_loader: a tensor (N, 3, H, W), float in [0, 1] or uint8 (0..255), or an
            iterable of ``(images, labels)`` batches (labels a (B,) tensor or a dict of them).
        batch_size: images per forward pass (tensor input only; a loader sets its own).
        device: where to run; None means the backbone's device. The backbone is not moved:
            it must already live on ``device``.
        transform: the evaluation transform (e.g. normalisation), applied per batch on the
            device to float images in [0, 1].
        stages: return ``{stage: (N, C_stage)}`` from ``forward_stages`` instead of (N, D).
    Returns:
        features (N, D) float32 on ``device`` (a dict of them with ``stages=True``); for a loader,
        ``(features, labels)`` with labels concatenated (on ``device``).
    The backbone's train/eval mode is restored afterwards.
    """
    model_device = module_device(backbone)
    device = model_device if device is None else torch.device(device)
    if device.type != model_device.type or (device.index is not None and device != model_device):
        raise ValueError(f"device {device} differs from the backbone's device {model_device}; "
                         "move the backbone first")
    if stages and not hasattr(backbone, "forward_stages"):
        raise ValueError("stages=True needs a backbone with forward_stages")
    is_tensor = isinstance(images_or_loader, Tensor)
    if is_tensor:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        data = images_or_loader
        batches = ((data[i:i + batch_size], None) for i in range(0, data.shape[0], batch_size))
    else:
        batches = iter(images_or_loader)

    was_training = backbone.training
    backbone.eval()
    try:
        feats, labels = [], []
        for batch, label in batches:
            x = as_float_images(batch.to(device, non_blocking=True), "images")
            if transform is not None:
                x = transform(x)
            out = backbone.forward_stages(x) if stages else {None: backbone(x)}
            feats.append({k: v.float() for k, v in out.items()})
            if not is_tensor:
                labels.append({k: v.to(device) for k, v in label.items()} if isinstance(label, dict)
                              else torch.as_tensor(label).to(device))
    finally:
        backbone.train(was_training)

    if not feats:
        raise ValueError("images_or_loader yielded no images")
    result = {k: torch.cat([f[k] for f in feats]) for k in feats[0]}
    result = result if stages else result[None]
    return result if is_tensor else (result, _concat_labels(labels))


# -- shared checks and standardisation -------------------------------------------------------


def _check_features(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D tensor (N, D), got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    return x


def _check_pair(x: Tensor, y: Tensor, x_name: str, y_name: str) -> None:
    _check_features(x, x_name)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{y_name} has {y.shape[0]} rows but {x_name} has {x.shape[0]}")


def _check_labels(y: Tensor, name: str, num_classes: int) -> Tensor:
    if y.ndim != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor, got {tuple(y.shape)} {y.dtype}")
    if y.numel() and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got range "
                         f"[{int(y.min())}, {int(y.max())}]")
    return y.long()


def _same_width(tensors: dict[str, Tensor]) -> None:
    widths = {name: t.shape[1] for name, t in tensors.items()}
    if len(set(widths.values())) != 1:
        raise ValueError(f"feature widths differ: {widths}")


def standardize(fit_x: Tensor, *others: Tensor) -> list[Tensor]:
    """Standardise (N, D) features with the mean and population std of ``fit_x``.

    Returns ``[fit_x', *others']``, all shifted and scaled by ``fit_x``'s statistics.
    """
    mean = fit_x.mean(dim=0)
    std = fit_x.std(dim=0, unbiased=False).clamp(min=_STD_FLOOR)
    return [(t - mean) / std for t in (fit_x, *others)]


# -- logistic regression by L-BFGS -----------------------------------------------------------


def fit_logistic(
    x: Tensor,
    y: Tensor,
    num_classes: int,
    l2: float,
    init: tuple[Tensor, Tensor] | None = None,
    max_iter: int = 500,
) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression by full-batch L-BFGS (strong-Wolfe line search).

    Minimises ``mean CE(x W + b, y) + l2 / 2 * ||W||^2`` (bias unpenalised), i.e.
    scikit-learn's ``LogisticRegression(C=1 / (N * l2))``. Batched problems are solved at once:
    x (E, N, D), y (E, N) minimise the sum of E independent objectives (their minimisers are
    the separate minimisers, since the objective is separable).

    Args:
        x: (N, D) or (E, N, D) float features (used as given; standardise first if wanted).
        y: (N,) or (E, N) int64 labels in [0, num_classes).
        init: optional (W, b) to warm-start from, shapes as returned.
    Returns:
        W (D, C) or (E, D, C) and b (C,) or (E, C), detached.
    """
    batched = x.ndim == 3
    xb, yb = (x, y) if batched else (x[None], y[None])
    e, _, d = xb.shape
    if init is None:
        weight = xb.new_zeros(e, d, num_classes)
        bias = xb.new_zeros(e, 1, num_classes)
    else:
        weight = init[0].reshape(e, d, num_classes).clone()
        bias = init[1].reshape(e, 1, num_classes).clone()
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                                  tolerance_grad=1e-6, tolerance_change=1e-10,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = torch.baddbmm(bias, xb, weight)
        # Sum over episodes of each episode's mean CE: CE's "mean" over E*N equals that / E.
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum") / xb.shape[1]
        loss = loss + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    weight, bias = weight.detach(), bias.detach().squeeze(1)
    return (weight, bias) if batched else (weight[0], bias[0])


def _predict(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return (x @ weight + bias).argmax(dim=-1)


def balanced_accuracy(pred: Tensor, target: Tensor) -> float:
    """Mean per-class recall over the classes present in ``target`` (N,), as scikit-learn's."""
    classes = target.unique()
    recalls = [(pred[target == c] == c).float().mean() for c in classes]
    return float(torch.stack(recalls).mean())


@dataclass
class ProbeResult:
    """Outcome of `linear_probe`: test top-1 and class-average accuracy (fractions in [0, 1]),
    the chosen L2 weight and the validation accuracy of every grid point."""

    top1: float
    balanced: float
    l2: float
    val_scores: dict[float, float] = field(default_factory=dict)


def _grid(l2_grid) -> list[float]:
    grid = sorted({float(v) for v in (L2_GRID if l2_grid is None else l2_grid)}, reverse=True)
    if not grid or grid[-1] < 0:
        raise ValueError(f"l2_grid must be a non-empty sequence of non-negative weights, got {l2_grid}")
    return grid


@single_cpu_thread
def linear_probe(
    train_x: Tensor, train_y: Tensor,
    val_x: Tensor, val_y: Tensor,
    test_x: Tensor, test_y: Tensor,
    l2_grid=None,
    num_classes: int | None = None,
    select_by: str = "top1",
    max_iter: int = 500,
    device=None,
) -> ProbeResult:
    """Linear evaluation of frozen features, as AugSelf / CASSLE (REFERENCE.md section 6).

    For each L2 weight of ``l2_grid`` (default the papers' ``logspace(-6, 5, 45)``; pass a
    shorter grid for speed), fit `fit_logistic` on train (standardised with train statistics)
    and score on val. The grid runs from the strongest to the weakest penalty, each fit
    warm-started from the previous solution, which makes the path cheap. The weight with the
    best validation score (ties: the stronger penalty) is refitted on train + val
    (standardised with train + val statistics) and scored on test.

    Args:
        *_x: (N_split, D) float features; *_y: (N_split,) int64 class labels.
        num_classes: C; default 1 + the largest label of any split.
        select_by: "top1" or "balanced", the validation score that picks the weight.
        device: where to fit; default the device of ``train_x``.
    Returns:
        `ProbeResult` (top1, balanced, l2, val_scores). Loss convention: ``mean CE +
        l2 / 2 * ||W||^2``, i.e. scikit-learn ``C = 1 / (n * l2)``.
    """
    if select_by not in ("top1", "balanced"):
        raise ValueError(f"select_by must be 'top1' or 'balanced', got {select_by!r}")
    splits = {"train_x": train_x, "val_x": val_x, "test_x": test_x}
    for name, x in splits.items():
        _check_features(x, name)
    _same_width(splits)
    for xn, yn, y in (("train_x", "train_y", train_y), ("val_x", "val_y", val_y), ("test_x", "test_y", test_y)):
        _check_pair(splits[xn], y, xn, yn)
    if num_classes is None:
        num_classes = 1 + max(int(y.max()) for y in (train_y, val_y, test_y))
    device = train_x.device if device is None else torch.device(device)
    ys = [_check_labels(y, n, num_classes).to(device) for y, n in
          ((train_y, "train_y"), (val_y, "val_y"), (test_y, "test_y"))]
    xs = [x.to(device, torch.float32) for x in (train_x, val_x, test_x)]
    grid = _grid(l2_grid)

    def score(pred, target):
        return float((pred == target).float().mean()) if select_by == "top1" else balanced_accuracy(pred, target)

    tr_x, va_x = standardize(xs[0], xs[1])
    val_scores, params, best = {}, None, None
    for l2 in grid:
        params = fit_logistic(tr_x, ys[0], num_classes, l2, init=params, max_iter=max_iter)
        val_scores[l2] = score(_predict(va_x, *params), ys[1])
        if best is None or val_scores[l2] > val_scores[best[0]]:
            best = (l2, params)

    fit_x, te_x = standardize(torch.cat(xs[:2]), xs[2])
    params = fit_logistic(fit_x, torch.cat(ys[:2]), num_classes, best[0], init=best[1], max_iter=max_iter)
    pred = _predict(te_x, *params)
    return ProbeResult(top1=float((pred == ys[2]).float().mean()), balanced=balanced_accuracy(pred, ys[2]),
                       l2=best[0], val_scores=val_scores)


# -- ridge regression ------------------------------------------------------------------------


def r2_score(pred: Tensor, target: Tensor) -> Tensor:
    """Per-output coefficient of determination (K,) for (N, K) predictions, scikit-learn's
    definition ``1 - SSE / SST`` (SST around the target's own mean); NaN for a constant target."""
    sse = (target - pred).pow(2).sum(dim=0)
    sst = (target - target.mean(dim=0)).pow(2).sum(dim=0)
    return torch.where(sst > 0, 1 - sse / sst.clamp(min=torch.finfo(sst.dtype).tiny),
                       torch.full_like(sst, float("nan")))


class _RidgePath:
    """Closed-form ridge solutions for many L2 weights from one eigendecomposition.

    With standardised X and centred y, ``W(l2) = V diag(1 / (e + l2)) V^T X^T y / N`` where
    ``X^T X / N = V diag(e) V^T`` -- one eigh instead of one solve per grid point.
    """

    def __init__(self, x: Tensor, y: Tensor):
        self.x_mean, self.y_mean = x.mean(dim=0), y.mean(dim=0)
        self.x_std = x.std(dim=0, unbiased=False).clamp(min=_STD_FLOOR)
        xs = (x - self.x_mean) / self.x_std
        n = x.shape[0]
        evals, self.evecs = torch.linalg.eigh(xs.T @ xs / n)
        self.evals = evals.clamp(min=0)
        self.proj = self.evecs.T @ (xs.T @ (y - self.y_mean) / n)  # (D, K)

    def predict(self, x: Tensor, l2: float) -> Tensor:
        weight = self.evecs @ (self.proj / (self.evals + l2)[:, None])
        return ((x - self.x_mean) / self.x_std) @ weight + self.y_mean


def fit_ridge(x: Tensor, y: Tensor, l2: float) -> Callable[[Tensor], Tensor]:
    """Ridge regression ``mean ||x W + b - y||^2 + l2 ||W||^2`` on features standardised with
    ``x``'s statistics (scikit-learn ``Ridge(alpha=N * l2)`` on those features).

    Args: x (N, D), y (N, K) or (N,). Returns a predictor mapping (M, D) to (M, K) (float64).
    """
    y2 = y.reshape(y.shape[0], -1).double()
    path = _RidgePath(x.double(), y2)
    return lambda new_x: path.predict(new_x.double(), l2)


@dataclass
class RegressionResult:
    """Outcome of `ridge_probe`: mean test R^2 over the non-constant outputs, the R^2 of each
    output (K,), the chosen L2 weight and the validation mean R^2 of every grid point."""

    r2: float
    r2_per_output: list[float]
    l2: float
    val_scores: dict[float, float] = field(default_factory=dict)


def _as_targets(y: Tensor, name: str) -> Tensor:
    if y.ndim not in (1, 2):
        raise ValueError(f"{name} must be (N,) or (N, K), got {tuple(y.shape)}")
    return y.reshape(y.shape[0], -1).double()


@single_cpu_thread
def ridge_probe(
    train_x: Tensor, train_y: Tensor,
    val_x: Tensor, val_y: Tensor,
    test_x: Tensor, test_y: Tensor,
    l2_grid=None,
    device=None,
) -> RegressionResult:
    """Ridge regression of continuous targets on frozen features, scored by R^2.

    The L2 weight (loss ``mean squared error + l2 * ||W||^2``, scikit-learn ``alpha = N * l2``)
    is chosen from ``l2_grid`` (default ``logspace(-6, 5, 45)``) by the mean validation R^2,
    then the model is refitted on train + val and scored on test. Computed in float64.

    Args:
        *_x: (N_split, D) features; *_y: (N_split,) or (N_split, K) float targets.
    Returns:
        `RegressionResult`; outputs whose test target is constant have R^2 NaN and are left
        out of the mean.
    """
    splits = {"train_x": train_x, "val_x": val_x, "test_x": test_x}
    for name, x in splits.items():
        _check_features(x, name)
    _same_width(splits)
    targets = {"train_y": train_y, "val_y": val_y, "test_y": test_y}
    for (xn, x), (yn, y) in zip(splits.items(), targets.items()):
        _check_pair(x, y, xn, yn)
    device = train_x.device if device is None else torch.device(device)
    xs = [x.to(device, torch.float64) for x in splits.values()]
    ys = [_as_targets(y.to(device), name) for name, y in targets.items()]
    if len({y.shape[1] for y in ys}) != 1:
        raise ValueError(f"targets have different widths: {[tuple(y.shape) for y in ys]}")

    path = _RidgePath(xs[0], ys[0])
    val_scores = {l2: float(r2_score(path.predict(xs[1], l2), ys[1]).nanmean()) for l2 in _grid(l2_grid)}
    # nan scores (all-constant val targets) lose against any number; ties go to the stronger penalty.
    best = max(val_scores, key=lambda l2: (-math.inf if math.isnan(val_scores[l2]) else val_scores[l2], l2))
    r2 = r2_score(_RidgePath(torch.cat(xs[:2]), torch.cat(ys[:2])).predict(xs[2], best), ys[2])
    return RegressionResult(r2=float(r2.nanmean()), r2_per_output=r2.tolist(), l2=best, val_scores=val_scores)


# -- weighted kNN ----------------------------------------------------------------------------


def knn_predict(
    train_x: Tensor, train_y: Tensor, test_x: Tensor,
    k: int = 20, temperature: float = 0.07, num_classes: int | None = None,
    batch_size: int = 1024,
) -> Tensor:
    """Weighted cosine kNN (InstDisc / MoCo monitor): each of the k most cosine-similar
    training samples votes for its class with weight ``exp(cos / temperature)``.

    Args:
        train_x: (N, D) feature bank; train_y: (N,) int64 labels; test_x: (M, D).
        k: neighbours (clipped to N); num_classes: default 1 + max(train_y).
        batch_size: test rows per similarity block (bounds memory at batch_size x N).
    Returns:
        (M,) int64 predicted classes (ties go to the lower class index).
    """
    _check_pair(train_x, train_y, "train_x", "train_y")
    _check_features(test_x, "test_x")
    _same_width({"train_x": train_x, "test_x": test_x})
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    num_classes = 1 + int(train_y.max()) if num_classes is None else num_classes
    train_y = _check_labels(train_y, "train_y", num_classes).to(train_x.device)
    bank = F.normalize(train_x.float(), dim=1)
    k = min(k, bank.shape[0])
    preds = []
    for start in range(0, test_x.shape[0], batch_size):
        query = F.normalize(test_x[start:start + batch_size].to(bank.device, torch.float32), dim=1)
        sim, idx = (query @ bank.T).topk(k, dim=1)
        scores = sim.new_zeros(query.shape[0], num_classes)
        # exp(cos/T) up to a common factor exp(1/T) per row, which keeps T = 0.01 finite.
        scores.scatter_add_(1, train_y[idx], torch.exp((sim - 1) / temperature))
        preds.append(scores.argmax(dim=1))
    return torch.cat(preds)


def knn_accuracy(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, **kwargs) -> float:
    """Top-1 accuracy (fraction) of `knn_predict` on (M,) ``test_y``; kwargs go to `knn_predict`."""
    _check_pair(test_x, test_y, "test_x", "test_y")
    pred = knn_predict(train_x, train_y, test_x, **kwargs)
    return float((pred == test_y.to(pred.device)).float().mean())


# -- few-shot episodes -----------------------------------------------------------------------


def mean_ci95(accuracies) -> tuple[float, float]:
    """Mean and 95% interval half-width ``1.96 * std / sqrt(n)`` of per-episode accuracies
    (population std, ddof = 0, as the usual few-shot code's ``np.std``)."""
    acc = np.asarray(accuracies, dtype=np.float64)
    if acc.ndim != 1 or acc.size == 0:
        raise ValueError(f"accuracies must be a non-empty 1-D sequence, got shape {acc.shape}")
    return float(acc.mean()), float(1.96 * acc.std() / math.sqrt(acc.size))


def sample_episodes(labels: Tensor, ways: int, shots: int, queries: int, episodes: int,
                    generator: torch.Generator) -> Tensor:
    """Indices (E, ways, shots + queries) of N-way episodes: ``ways`` distinct classes among those
    with at least shots + queries samples, then that many distinct samples per class (support
    first). Sampling is on the CPU so a seed gives the same episodes on every device."""
    labels = labels.cpu()
    classes, counts = labels.unique(return_counts=True)
    eligible = classes[counts >= shots + queries]
    if eligible.numel() < ways:
        raise ValueError(f"ways={ways} needs {ways} classes with >= shots + queries = {shots + queries} "
                         f"samples, found {eligible.numel()}")
    chosen = eligible[torch.rand(episodes, eligible.numel(), generator=generator).argsort(dim=1)[:, :ways]]
    out = torch.empty(episodes, ways, shots + queries, dtype=torch.long)
    for c in chosen.unique():
        members = (labels == c).nonzero().squeeze(1)
        slots = (chosen == c).nonzero()  # (m, 2) episode, way
        picks = torch.rand(slots.shape[0], members.numel(), generator=generator).argsort(dim=1)
        out[slots[:, 0], slots[:, 1]] = members[picks[:, :shots + queries]]
    return out


@single_cpu_thread
def few_shot_accuracies(
    features: Tensor, labels: Tensor,
    ways: int = 5, shots: int = 1, queries: int = 15, episodes: int = 600,
    l2: float = 1e-2, seed: int = 0, episode_batch: int = 500, max_iter: int = 100,
) -> Tensor:
    """Per-episode query accuracy (E,) of logistic regression on N-way K-shot episodes.

    Features are L2-normalised per sample (no statistics to estimate from 1-5 shots; the usual
    few-shot practice), and each episode's classifier is `fit_logistic` with weight ``l2`` on
    its ``ways * shots`` support samples, scored on ``ways * queries`` queries. Episodes are
    solved ``episode_batch`` at a time as one batched L-BFGS problem. Seeded: the same seed
    gives the same episodes.

    Args:
        features: (N, D); labels: (N,) int64.
    """
    _check_pair(features, labels, "features", "labels")
    for name, value in (("ways", ways), ("shots", shots), ("queries", queries), ("episodes", episodes)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if ways < 2:
        raise ValueError(f"ways must be >= 2, got {ways}")
    labels = _check_labels(labels, "labels", 1 + int(labels.max()))
    generator = torch.Generator().manual_seed(seed)
    index = sample_episodes(labels, ways, shots, queries, episodes, generator).to(features.device)
    feats = F.normalize(features.float(), dim=1)
    # Episode-local labels: way w is class w, for support and query alike.
    local = torch.arange(ways, device=feats.device).repeat_interleave(shots)
    query_local = torch.arange(ways, device=feats.device).repeat_interleave(queries)
    accs = []
    for start in range(0, episodes, episode_batch):
        idx = index[start:start + episode_batch]
        e = idx.shape[0]
        support = feats[idx[:, :, :shots].reshape(e, -1)]
        query = feats[idx[:, :, shots:].reshape(e, -1)]
        weight, bias = fit_logistic(support, local.expand(e, -1), ways, l2, max_iter=max_iter)
        pred = (torch.bmm(query, weight) + bias[:, None]).argmax(dim=-1)
        accs.append((pred == query_local).float().mean(dim=1))
    return torch.cat(accs).cpu()


def few_shot_eval(
    features: Tensor, labels: Tensor,
    ways: int = 5, shots=(1, 5), queries: int = 15, episodes: int = 600,
    l2: float = 1e-2, seed: int = 0, **kwargs,
) -> pd.DataFrame:
    """N-way K-shot accuracy for each K in ``shots``: one row per K with columns ways, shots,
    queries, episodes, accuracy (mean fraction) and ci95 (``1.96 * std / sqrt(episodes)``).
    The papers use 5-way, 1 and 5 shots, 16 queries, 2000 episodes. See `few_shot_accuracies`."""
    rows = []
    for k in (shots,) if isinstance(shots, int) else shots:
        acc = few_shot_accuracies(features, labels, ways, k, queries, episodes, l2, seed, **kwargs)
        mean, half = mean_ci95(acc.numpy())
        rows.append(dict(ways=ways, shots=k, queries=queries, episodes=episodes, accuracy=mean, ci95=half))
    return pd.DataFrame(rows)
