"""Linear evaluation on the papers' real downstream datasets (docs/papers.md section 6).

AugSelf and CASSLE report frozen-feature linear probes on CIFAR-10/100, Food-101, MIT-67, Pets,
Flowers-102, Caltech-101, Cars, Aircraft, DTD and SUN397: centre-cropped images, multinomial
logistic regression with the L2 weight chosen on a validation split, then refitted on train + val;
top-1, or mean per-class accuracy where the papers report it (Pets, Flowers, Caltech, Aircraft).

    data = load_downstream("flowers102", "data", image_size=96)
    features = split_features(backbone, data)              # ssl_lib.evaluation.transfer
    table = downstream_table(features, data, model="mocov2", l2_grid=None)

Datasets without an official validation split get one carved from train (``val_fraction``,
a fixed seeded draw); those with a single "all" split (Caltech-101, SUN397) get train / val /
test carved the same way, as the papers do with their own random splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor

from ssl_lib.data import load_dataset, spread_indices
from ssl_lib.data.datasets import DATASETS, canonical_name
from ssl_lib.evaluation.probes import linear_probe

# The papers' metric per dataset: mean per-class accuracy where the classes are unbalanced.
CLASS_AVERAGE = frozenset({"pets", "flowers102", "caltech101", "aircraft"})
PAPER_SETS = ("cifar10", "cifar100", "food101", "mit67", "pets", "flowers102", "caltech101", "cars", "aircraft",
              "dtd", "sun397")


@dataclass
class DownstreamData:
    """Centre-cropped uint8 images (N, 3, S, S) and int64 labels (N,) per split train / val / test."""

    name: str
    images: dict[str, Tensor]
    labels: dict[str, Tensor]


def carve(n: int, fractions: tuple[float, ...], seed: int = 0) -> list[Tensor]:
    """Split ``range(n)`` into disjoint index sets: one per fraction (rounded down), then the rest.

    The draw is a fixed seeded permutation, so the same n and seed always give the same split.
    """
    if n < 1 or any(not 0 < f < 1 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"carve needs n >= 1 and fractions in (0, 1) summing below 1, got n={n}, {fractions}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    parts, start = [], 0
    for f in fractions:
        size = int(n * f)
        parts.append(order[start:start + size].sort().values)
        start += size
    return parts + [order[start:].sort().values]


def _tensors(dataset, indices) -> tuple[Tensor, Tensor]:
    images, labels = [], []
    for i in indices.tolist():
        image, label = dataset[i]
        images.append(image)
        labels.append(int(label))
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)


def load_downstream(name: str, root, image_size: int, max_per_split: int | None = None,
                    val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0,
                    verify: bool = True) -> DownstreamData:
    """A downstream dataset's train / val / test splits as tensors, resized (shorter side) and
    centre-cropped to ``image_size``.

    Args:
        name: a dataset of `ssl_lib.data.load_dataset` with labels (see PAPER_SETS).
        root: folder holding the datasets (missing files raise DatasetNotFoundError naming them).
        max_per_split: keep an evenly spread subset of each split (None: all images).
        val_fraction / test_fraction: carved from train (val) or from "all" (val and test) when
            the dataset has no such official split; seed fixes the draw.
        verify: check the files' official checksums where torchvision can.
    """
    import torchvision.transforms.v2 as T

    key = canonical_name(name)
    if key in ("stl10", "imagefolder"):
        raise ValueError(f"{name!r} is not a downstream dataset of the papers; use one of {list(PAPER_SETS)}")
    transform = T.Compose([T.Resize(image_size), T.CenterCrop(image_size), T.PILToTensor()])
    splits = DATASETS[key].splits

    def read(split):
        return load_dataset(key, root, split, transform=transform, verify=verify)

    if "all" in splits:
        everything = read("all")
        val, test, train = carve(len(everything), (val_fraction, test_fraction), seed)
        sources = {"train": (everything, train), "val": (everything, val), "test": (everything, test)}
    else:
        train_split = "trainval" if "trainval" in splits and "val" not in splits else "train"
        train_set, test_set = read(train_split), read("test")
        if "val" in splits:
            val_set = read("val")
            sources = {"train": (train_set, torch.arange(len(train_set))),
                       "val": (val_set, torch.arange(len(val_set)))}
        else:
            val, train = carve(len(train_set), (val_fraction,), seed)
            sources = {"train": (train_set, train), "val": (train_set, val)}
        sources["test"] = (test_set, torch.arange(len(test_set)))
    images, labels = {}, {}
    for split, (dataset, indices) in sources.items():
        indices = indices[spread_indices(len(indices), max_per_split)]
        images[split], labels[split] = _tensors(dataset, indices)
    return DownstreamData(key, images, labels)


def downstream_table(features: dict[str, Tensor], data: DownstreamData, model: str, l2_grid=None,
                     seed: int = 0) -> pd.DataFrame:
    """Linear probe of one model's frozen features {split: (N, D)} on one downstream dataset.

    Returns rows model, task (the dataset), kind "linear", metric ("top1", "balanced" and
    "paper", the papers' metric for this dataset), value, seed.
    """
    select = "balanced" if data.name in CLASS_AVERAGE else "top1"
    result = linear_probe(features, data.labels, l2_grid=l2_grid, select_by=select)
    values = {"top1": result.top1, "balanced": result.balanced, "paper": getattr(result, select)}
    return pd.DataFrame([dict(model=model, task=data.name, kind="linear", metric=metric, value=value, seed=seed)
                         for metric, value in values.items()])
