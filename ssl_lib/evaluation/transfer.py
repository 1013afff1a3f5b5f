"""Downstream transfer on the synthetic tasks: every model on every task, in one tidy table.

The synthetic data's latent factors are the tasks (docs/papers.md sections 1 and 4): shape (what
every augmentation leaves intact), colour and background (destroyed by colour jitter), position
and size (changed by cropping), orientation (flipped by horizontal flips), plus the continuous
latents as regression tasks and few-shot shape recognition. A model that became invariant to an
augmentation should lose exactly the tasks that augmentation changes.

    data = transfer_data(4096, 1024, 2048, size=32)  # images and labels per split, fixed seed
    features = split_features(backbone, data)        # frozen features per split
    table = transfer_table(features, data, model="mocov2")

A profile's sizes are applied in the lab layer (`ssl_lib.lab.experiments.profile_transfer_data`
and `profile_transfer_table`): this module takes the numbers it needs, not a profile. Notebooks
probe trained runs through `ssl_lib.lab.experiments.transfer_tables`, which caches each run's
table in its folder, so a model is probed once however many notebooks report it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor

from ssl_lib.data import DEFAULT_SCENE, make_synthetic
from ssl_lib.evaluation.features import extract_features
from ssl_lib.evaluation.few_shot import few_shot_eval
from ssl_lib.evaluation.probes import SPLITS, linear_probe, ridge_probe

CLASSIFICATION_TASKS = ("shape", "color", "position", "orientation", "size", "background")
# Circular latents are regressed as (cos, sin) so the target has no seam at +-pi.
REGRESSION_TASKS = ("x", "y", "scale", "angle", "hue")


@dataclass
class TransferData:
    """Un-augmented synthetic images (uint8) and all their labels, per split."""

    images: dict[str, Tensor]
    labels: dict[str, dict[str, Tensor]]


def transfer_data(n_train: int, n_val: int, n_test: int, size: int = 32, seed: int = 1000,
                  device="cpu", scene=DEFAULT_SCENE) -> TransferData:
    """Labelled splits for the probes, from a seed disjoint from pretraining's default seed 0,
    of the synthetic design `scene`."""
    sizes = dict(train=n_train, val=n_val, test=n_test)
    images, labels = {}, {}
    for split, n in sizes.items():
        images[split], labels[split] = make_synthetic(n, size, seed=seed, split=split, device=device,
                                                      dtype=torch.uint8, scene=scene)
    return TransferData(images, labels)


def split_features(backbone, data: TransferData, batch_size: int = 512) -> dict[str, Tensor]:
    """Frozen features {split: (N, D)} of `backbone` for every split of `data`."""
    return {split: extract_features(backbone, images, batch_size=batch_size) for split, images in data.images.items()}


def regression_targets(labels: dict[str, Tensor], task: str) -> Tensor:
    """(N, K) float targets of a regression task; angle and hue as (cos, sin) of the angle."""
    value = labels[task].float()
    if task == "angle":
        return torch.stack([value.cos(), value.sin()], dim=1)
    if task == "hue":
        return torch.stack([(2 * math.pi * value).cos(), (2 * math.pi * value).sin()], dim=1)
    return value[:, None]


def transfer_table(features: dict[str, Tensor], data: TransferData, model: str, l2_grid=None,
                   few_shot_episodes: int = 200, few_shot_task: str = "shape", seed: int = 0,
                   protocol: str = "augself", max_iter: int = 500) -> pd.DataFrame:
    """Probe one model's features on every task.

    Args:
        features: {split: (N, D)} frozen features of train, val and test.
        data: the labels those features belong to.
        model: the name put in the table's `model` column.
        l2_grid: probes' L2 grid (None: the papers' 45-point grid).
        few_shot_episodes: 5-way 1- and 5-shot episodes on the test split's `few_shot_task`.
        protocol: the linear probe's (`linear_probe`): "augself" (AugSelf / CASSLE) or
            "ericsson" (Ericsson et al.: 5-fold cross-validation).
        max_iter: L-BFGS iterations per linear-probe fit.
    Returns:
        A DataFrame with columns model, task, kind ("linear", "ridge", "few-shot"), metric and value:
        top-1 and class-average accuracy for classification, R^2 for regression, accuracy with
        its 95% interval half-width for few-shot.
    """
    labels = data.labels  # the probes check the splits and name a missing one
    rows = []
    for task in CLASSIFICATION_TASKS:
        result = linear_probe(features, {s: labels[s][task] for s in SPLITS}, l2_grid=l2_grid, protocol=protocol,
                              seed=seed, max_iter=max_iter)
        rows += [dict(model=model, task=task, kind="linear", metric="top1", value=result.top1),
                 dict(model=model, task=task, kind="linear", metric="balanced", value=result.balanced)]
    for task in REGRESSION_TASKS:
        result = ridge_probe(features, {s: regression_targets(labels[s], task) for s in SPLITS}, l2_grid=l2_grid)
        rows.append(dict(model=model, task=task, kind="ridge", metric="r2", value=result.r2))
    if few_shot_episodes:
        shots = few_shot_eval(features["test"], labels["test"][few_shot_task], ways=5, shots=(1, 5), queries=15,
                              episodes=few_shot_episodes, seed=seed)
        for row in shots.itertuples():
            task = f"{few_shot_task} {row.shots}-shot"
            rows += [dict(model=model, task=task, kind="few-shot", metric="accuracy", value=row.accuracy),
                     dict(model=model, task=task, kind="few-shot", metric="ci95", value=row.ci95)]
    return pd.DataFrame(rows)



def headline(table: pd.DataFrame, index="model") -> pd.DataFrame:
    """One number per (model, task): top-1 for classification, R^2 for regression, few-shot accuracy.

    `index`: the row key, "model" or e.g. ["model", "seed"] for one row per run.
    """
    keep = table["metric"].isin(["top1", "r2", "accuracy"])
    return table[keep].pivot_table(index=index, columns="task", values="value", sort=False)
