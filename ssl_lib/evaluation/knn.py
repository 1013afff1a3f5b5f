"""The weighted cosine kNN classifier of InstDisc / MoCo: the training monitor's probe."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_lib.utils.checks import check_features, check_labels, check_rows, check_same_width


def knn_predict(
    train_x: Tensor, train_y: Tensor, test_x: Tensor,
    k: int = 20, temperature: float = 0.07, num_classes: int | None = None,
    batch_size: int = 1024,
) -> Tensor:
    """Weighted cosine kNN (InstDisc / MoCo monitor): each of the k most cosine-similar
    training samples votes for its class with weight ``exp(cos / temperature)``.

    Args:
        train_x: (N, D) feature bank; train_y: (N,) int64 labels; test_x: (M, D); features
            must be finite (ValueError naming the argument otherwise).
        k: neighbours (clipped to N); num_classes: default 1 + max(train_y).
        batch_size: test rows per similarity block (bounds memory at batch_size x N).
    Returns:
        (M,) int64 predicted classes (ties go to the lower class index).
    """
    check_rows(train_x, train_y, "train_x", "train_y")
    check_features(test_x, "test_x")
    check_same_width({"train_x": train_x, "test_x": test_x})
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not temperature > 0:  # NaN included
        raise ValueError(f"temperature must be > 0, got {temperature}")
    num_classes = 1 + int(train_y.max()) if num_classes is None else num_classes
    train_y = check_labels(train_y, "train_y", num_classes).to(train_x.device)
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
    check_rows(test_x, test_y, "test_x", "test_y")
    pred = knn_predict(train_x, train_y, test_x, **kwargs)
    return float((pred == test_y.to(pred.device)).float().mean())
