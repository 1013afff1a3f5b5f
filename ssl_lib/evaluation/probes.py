"""Linear probes on frozen features: logistic regression by L-BFGS and closed-form ridge.

The protocols follow the papers (docs/papers.md section 6):

* `linear_probe`: multinomial logistic regression on raw features, fitted by full-batch L-BFGS
  over an L2 grid (``logspace(-6, 5, 45)`` in the papers), by AugSelf / CASSLE's protocol (weight
  chosen on a validation split, refit on train + val, their summed loss with the bias penalised)
  or Ericsson et al.'s (scikit-learn's objective, weight chosen by 5-fold cross-validation);
  scored on test (top-1 and class-average accuracy).
* `ridge_probe`: closed-form ridge regression for continuous targets (our synthetic regression
  tasks; no paper's protocol), scored by R^2, on features standardised with the statistics of
  the samples it is fitted on (train while choosing l2, train + val at the refit), with the loss
  ``mean_i ||x_i W + b - y_i||^2 + l2 * ||W||^2`` (scikit-learn ``Ridge(alpha=n * l2)``).

Both take the splits as dicts ``{"train": ..., "val": ..., "test": ...}`` of features (N, D) and
of targets, the form `ssl_lib.evaluation.transfer.split_features` returns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_lib.utils.checks import check_labels, check_rows, check_same_width

SPLITS = ("train", "val", "test")
L2_GRID = tuple(np.logspace(-6, 5, 45).tolist())  # the papers' grid
# objective -> (CE summed, not averaged; penalty factor on l2; bias penalised): see fit_logistic.
OBJECTIVES = {"mean": (False, 0.5, False), "augself": (True, 1.0, True), "sklearn": (True, 0.5, False)}
PROTOCOLS = ("augself", "ericsson")
_STD_FLOOR = 1e-6  # constant features (dead ReLUs) are centred, not blown up
# Bumped whenever a probe's numbers change for the same features (cached probe tables name it):
# 2 = L-BFGS in standardised coordinates (same objective, much closer to its minimum per step);
# 3 = Jacobi scaling that also accounts for the penalty (same objective; no overflow under
# the fused grid's strongest penalties).
PROBE_REVISION = 3


def single_cpu_thread(fn):
    """Run `fn` with one torch CPU thread (restored afterwards).

    Probe fits are thousands of tiny L-BFGS steps: their cost is per-op latency, which extra
    threads only add to (benchmarks/RESULTS.md: 30x faster on a loaded 2-core machine). GPU
    work is unaffected.
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


def check_splits(features: dict[str, Tensor], targets: dict[str, Tensor], targets_name: str = "targets") -> None:
    """Both dicts hold train, val and test (other keys are ignored); features are (N, D) of one
    width; each split's features and targets have the same number of rows."""
    for name, value in (("features", features), (targets_name, targets)):
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a dict {{split: tensor}} with keys {list(SPLITS)}, "
                             f"got {type(value).__name__}")
        missing = [s for s in SPLITS if s not in value]
        if missing:
            raise ValueError(f"{name} lack split(s) {missing}; need {list(SPLITS)}")
    for split in SPLITS:
        check_rows(features[split], targets[split], f"features[{split!r}]", f"{targets_name}[{split!r}]")
    check_same_width({f"features[{s!r}]": features[s] for s in SPLITS})


# -- logistic regression by L-BFGS -----------------------------------------------------------


def standardize(fit_x: Tensor, *others: Tensor) -> list[Tensor]:
    """Standardise (N, D) features with the mean and population std of ``fit_x``.

    Returns ``[fit_x', *others']``, all shifted and scaled by ``fit_x``'s statistics.
    """
    mean = fit_x.mean(dim=0)
    std = fit_x.std(dim=0, unbiased=False).clamp(min=_STD_FLOOR)
    return [(t - mean) / std for t in (fit_x, *others)]




def fit_logistic(
    x: Tensor,
    y: Tensor,
    num_classes: int,
    l2: float,
    init: tuple[Tensor, Tensor] | None = None,
    max_iter: int = 500,
    objective: str = "mean",
    precondition: bool = True,
) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression by full-batch L-BFGS (strong-Wolfe line search).

    Minimises, by `objective` (see OBJECTIVES):
        "mean"     ``mean_i CE_i + l2 / 2 * ||W||^2``, i.e. scikit-learn ``C = 1 / (N * l2)``;
        "augself"  ``sum_i CE_i + l2 * (||W||^2 + ||b||^2)``, AugSelf / CASSLE's linear evaluation;
        "sklearn"  ``sum_i CE_i + l2 / 2 * ||W||^2``, scikit-learn ``LogisticRegression(C=1 / l2)``
                   as Ericsson et al. use it.
    Batched problems are solved at once: x (E, N, D), y (E, N) minimise the sum of E independent
    objectives (their minimisers are the separate minimisers, since the objective is separable).

    With `precondition` (the default) L-BFGS works in rescaled coordinates: ``V = s * W`` and
    ``c = b + m @ W`` for the features' mean m and a per-feature scale s (their standard deviation
    combined with the penalty's curvature), so that the logits are ``((x - m) / s) @ V + c``. That
    is the same objective (the penalty is written in terms of W and b), hence the same minimiser,
    but raw features whose scales differ by orders of magnitude (a random-init network's) no
    longer slow the solver down: benchmarks/RESULTS.md, "Probe budget".

    Args:
        x: (N, D) or (E, N, D) float features (the objective is on these raw features).
        y: (N,) or (E, N) int64 labels in [0, num_classes).
        init: optional (W, b) to warm-start from, shapes as returned.
    Returns:
        W (D, C) or (E, D, C) and b (C,) or (E, C), detached.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; known: {list(OBJECTIVES)}")
    if not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite non-negative weight, got {l2}")
    summed, scale, bias_penalised = OBJECTIVES[objective]
    batched = x.ndim == 3
    xb, yb = (x, y) if batched else (x[None], y[None])
    e, _, d = xb.shape
    if precondition:
        mean = xb.mean(dim=1, keepdim=True)  # (E, 1, D)
        std = xb.std(dim=1, unbiased=False, keepdim=True)
        # Jacobi scaling: the objective's curvature along W_j is about n * s_j^2 (data) + 2 * l2
        # (penalty), n = N for a summed loss, 1 for a mean. Scaling by sqrt(s_j^2 + 2 * l2 / n)
        # standardises when the data dominate and stays isotropic, as raw, when a strong penalty
        # does; nearly constant features (dead ReLUs) are scaled at most 100x the average one.
        n = xb.shape[1] if summed else 1
        std = (std.square() + 2 * scale * l2 / n).sqrt()
        std = std.clamp_min(1e-2 * std.mean(dim=2, keepdim=True).clamp_min(_STD_FLOOR))
        xs = (xb - mean) / std
    else:
        mean = xb.new_zeros(e, 1, d)
        std = xb.new_ones(e, 1, d)
        xs = xb
    # raw (W, b) <-> solver (V, c): W = V / s, b = c - m @ W
    to_raw = lambda v, c: (v / std.transpose(1, 2), c - mean @ (v / std.transpose(1, 2)))
    if init is None:
        v = xb.new_zeros(e, d, num_classes)
        c = xb.new_zeros(e, 1, num_classes)
    else:
        w0 = init[0].reshape(e, d, num_classes)
        b0 = init[1].reshape(e, 1, num_classes)
        v, c = (w0 * std.transpose(1, 2)).clone(), (b0 + mean @ w0).clone()
    v.requires_grad_(True)
    c.requires_grad_(True)
    optimizer = torch.optim.LBFGS([v, c], lr=1.0, max_iter=max_iter, history_size=20,
                                  tolerance_grad=1e-6, tolerance_change=1e-10,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = torch.baddbmm(c, xs, v)
        # Summed over episodes: each episode's own objective (its mean or sum of CE over N).
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum")
        loss = loss if summed else loss / xb.shape[1]
        weight, bias = to_raw(v, c)
        penalty = weight.pow(2).sum() + (bias.pow(2).sum() if bias_penalised else 0.0)
        loss = loss + scale * l2 * penalty
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        weight, bias = to_raw(v.detach(), c.detach())
    bias = bias.squeeze(1)
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
    if not grid or not all(math.isfinite(v) and v >= 0 for v in grid):  # NaN fails every comparison
        raise ValueError(f"l2_grid must be a non-empty sequence of finite non-negative weights, got {l2_grid}")
    return grid


def kfold_indices(n: int, folds: int, seed: int = 0) -> list[tuple[Tensor, Tensor]]:
    """(fit indices, held-out indices) of `folds` shuffled folds of n samples (seeded; fold sizes
    differ by at most one, as scikit-learn's KFold)."""
    if not 2 <= folds <= n:
        raise ValueError(f"folds must lie in [2, {n}] for {n} samples, got {folds}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    parts = order.tensor_split(folds)
    return [(torch.cat(parts[:k] + parts[k + 1:]), parts[k]) for k in range(folds)]


@single_cpu_thread
def linear_probe(
    features: dict[str, Tensor],
    labels: dict[str, Tensor],
    l2_grid=None,
    num_classes: int | None = None,
    select_by: str = "top1",
    max_iter: int = 500,
    device=None,
    protocol: str = "augself",
    folds: int = 5,
    seed: int = 0,
) -> ProbeResult:
    """Linear evaluation of frozen, raw (unstandardised) features by a paper's protocol
    (docs/papers.md section 6).

    "augself" (AugSelf and CASSLE): objective ``sum CE + l2 * (||W||^2 + ||b||^2)``; every weight
        of ``l2_grid`` is fitted on train and scored on val; the best is refitted on train + val.
    "ericsson" (Ericsson et al.): scikit-learn's objective ``sum CE + l2 / 2 * ||W||^2``
        (``LogisticRegression(C=1 / l2)``); train and val are pooled and every weight is scored
        by `folds`-fold cross-validation (mean held-out score); the best is refitted on the pool.
        Their grid moves up two decades per extra fused model: pass the shifted grid.
    Both score the refit on test. The grid (default the papers' ``logspace(-6, 5, 45)``; a
    profile passes a shorter one) runs from the strongest penalty to the weakest, each fit
    warm-started from the previous solution, as the authors' code does; ties go to the stronger
    penalty.

    Args:
        features: {split: (N_split, D) float features} for train, val and test.
        labels: {split: (N_split,) int64 class labels}.
        num_classes: C; default 1 + the largest label of any split.
        select_by: "top1" or "balanced" (class-average), the score that picks the weight.
        max_iter: L-BFGS iterations per fit (the authors allow 5000).
        device: where to fit; default the device of ``features['train']``.
        folds, seed: the cross-validation of "ericsson".
    Returns:
        `ProbeResult` (top1, balanced, l2, val_scores: the selection score of every weight).
    """
    if select_by not in ("top1", "balanced"):
        raise ValueError(f"select_by must be 'top1' or 'balanced', got {select_by!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown probe protocol {protocol!r}; known: {list(PROTOCOLS)}")
    check_splits(features, labels, "labels")
    if num_classes is None:
        num_classes = 1 + max(int(labels[s].max()) for s in SPLITS)
    device = features["train"].device if device is None else torch.device(device)
    ys = [check_labels(labels[s], f"labels[{s!r}]", num_classes).to(device) for s in SPLITS]
    xs = [features[s].to(device, torch.float32) for s in SPLITS]
    grid = _grid(l2_grid)
    pool_x, pool_y = torch.cat(xs[:2]), torch.cat(ys[:2])
    if protocol == "augself":
        objective, splits = "augself", [(xs[0], ys[0], xs[1], ys[1])]
    else:
        objective = "sklearn"
        splits = [(pool_x[f], pool_y[f], pool_x[h], pool_y[h]) for f, h in kfold_indices(len(pool_y), folds, seed)]

    def score(pred, target):
        return float((pred == target).float().mean()) if select_by == "top1" else balanced_accuracy(pred, target)

    val_scores, params, best = {}, [None] * len(splits), None
    for l2 in grid:
        held_out = []
        for k, (fit_x, fit_y, out_x, out_y) in enumerate(splits):
            params[k] = fit_logistic(fit_x, fit_y, num_classes, l2, init=params[k], max_iter=max_iter,
                                     objective=objective)
            held_out.append(score(_predict(out_x, *params[k]), out_y))
        val_scores[l2] = float(np.mean(held_out))
        if best is None or val_scores[l2] > val_scores[best[0]]:
            best = (l2, params[0])

    final = fit_logistic(pool_x, pool_y, num_classes, best[0], init=best[1], max_iter=max_iter, objective=objective)
    pred = _predict(xs[2], *final)
    return ProbeResult(top1=float((pred == ys[2]).float().mean()), balanced=balanced_accuracy(pred, ys[2]),
                       l2=best[0], val_scores=val_scores)


# -- ridge regression ------------------------------------------------------------------------


def r2_score(pred: Tensor, target: Tensor) -> Tensor:
    """Per-output coefficient of determination (K,) for (N, K) predictions, scikit-learn's
    definition ``1 - SSE / SST`` (SST around the target's own mean); NaN for a constant target.
    ValueError unless both are (N, K) of one shape (broadcasting would score the wrong pairs)."""
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(f"pred and target must both be (N, K), got {tuple(pred.shape)} and {tuple(target.shape)}")
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
    features: dict[str, Tensor],
    targets: dict[str, Tensor],
    l2_grid=None,
    device=None,
) -> RegressionResult:
    """Ridge regression of continuous targets on frozen features, scored by R^2.

    The L2 weight (loss ``mean squared error + l2 * ||W||^2``, scikit-learn ``alpha = N * l2``)
    is chosen from ``l2_grid`` (default ``logspace(-6, 5, 45)``) by the mean validation R^2,
    then the model is refitted on train + val and scored on test. Computed in float64.

    Args:
        features: {split: (N_split, D) features} for train, val and test.
        targets: {split: (N_split,) or (N_split, K) float targets}.
    Returns:
        `RegressionResult`; outputs whose test target is constant have R^2 NaN and are left
        out of the mean.
    """
    check_splits(features, targets)
    device = features["train"].device if device is None else torch.device(device)
    xs = [features[s].to(device, torch.float64) for s in SPLITS]
    ys = [_as_targets(targets[s].to(device), f"targets[{s!r}]") for s in SPLITS]
    if len({y.shape[1] for y in ys}) != 1:
        raise ValueError(f"targets have different widths: {[tuple(y.shape) for y in ys]}")

    path = _RidgePath(xs[0], ys[0])
    val_scores = {l2: float(r2_score(path.predict(xs[1], l2), ys[1]).nanmean()) for l2 in _grid(l2_grid)}
    # nan scores (all-constant val targets) lose against any number; ties go to the stronger penalty.
    best = max(val_scores, key=lambda l2: (-math.inf if math.isnan(val_scores[l2]) else val_scores[l2], l2))
    r2 = r2_score(_RidgePath(torch.cat(xs[:2]), torch.cat(ys[:2])).predict(xs[2], best), ys[2])
    return RegressionResult(r2=float(r2.nanmean()), r2_per_output=r2.tolist(), l2=best, val_scores=val_scores)
