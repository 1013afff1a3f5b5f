"""Linear probes on frozen features: logistic regression by L-BFGS and closed-form ridge.

The protocols follow the papers (docs/papers.md section 6):

* `linear_probe`: multinomial logistic regression fitted by full-batch L-BFGS, the L2 weight
  chosen on a validation split from ``logspace(-6, 5, 45)``, refitted on train + val, scored on
  test (top-1 and class-average accuracy).
* `ridge_probe`: closed-form ridge regression for continuous targets, scored by R^2.

Both take the splits as dicts ``{"train": ..., "val": ..., "test": ...}`` of features (N, D) and
of targets, the form `ssl_lib.evaluation.transfer.split_features` returns.

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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_lib.utils.checks import check_labels, check_rows, check_same_width

SPLITS = ("train", "val", "test")
L2_GRID = tuple(np.logspace(-6, 5, 45).tolist())  # the papers' grid
_STD_FLOOR = 1e-6  # constant features (dead ReLUs) are centred, not blown up


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
    features: dict[str, Tensor],
    labels: dict[str, Tensor],
    l2_grid=None,
    num_classes: int | None = None,
    select_by: str = "top1",
    max_iter: int = 500,
    device=None,
) -> ProbeResult:
    """Linear evaluation of frozen features, as AugSelf / CASSLE (docs/papers.md section 6).

    For each L2 weight of ``l2_grid`` (default the papers' ``logspace(-6, 5, 45)``; pass a
    shorter grid for speed), fit `fit_logistic` on train (standardised with train statistics)
    and score on val. The grid runs from the strongest to the weakest penalty, each fit
    warm-started from the previous solution, which makes the path cheap. The weight with the
    best validation score (ties: the stronger penalty) is refitted on train + val
    (standardised with train + val statistics) and scored on test.

    Args:
        features: {split: (N_split, D) float features} for train, val and test.
        labels: {split: (N_split,) int64 class labels}.
        num_classes: C; default 1 + the largest label of any split.
        select_by: "top1" or "balanced", the validation score that picks the weight.
        device: where to fit; default the device of ``features['train']``.
    Returns:
        `ProbeResult` (top1, balanced, l2, val_scores). Loss convention: ``mean CE +
        l2 / 2 * ||W||^2``, i.e. scikit-learn ``C = 1 / (n * l2)``.
    """
    if select_by not in ("top1", "balanced"):
        raise ValueError(f"select_by must be 'top1' or 'balanced', got {select_by!r}")
    check_splits(features, labels, "labels")
    if num_classes is None:
        num_classes = 1 + max(int(labels[s].max()) for s in SPLITS)
    device = features["train"].device if device is None else torch.device(device)
    ys = [check_labels(labels[s], f"labels[{s!r}]", num_classes).to(device) for s in SPLITS]
    xs = [features[s].to(device, torch.float32) for s in SPLITS]
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
