"""N-way K-shot episodes on frozen features, scored by logistic regression per episode."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_lib.evaluation.probes import fit_logistic, single_cpu_thread
from ssl_lib.utils.checks import check_labels, check_rows


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
    check_rows(features, labels, "features", "labels")
    for name, value in (("ways", ways), ("shots", shots), ("queries", queries), ("episodes", episodes)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if ways < 2:
        raise ValueError(f"ways must be >= 2, got {ways}")
    labels = check_labels(labels, "labels", 1 + int(labels.max()))
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
