"""Batches on the device, with one contract for small and large datasets.

Every loader here yields ``(images, labels)``:

* ``images``: (B, 3, H, W) on the loader's device, ``torch.uint8`` (0..255) by default or
  ``torch.float32`` in [0, 1] when built with ``dtype=torch.float32`` (converted by
  :func:`to_float`, the one place that conversion happens);
* ``labels``: (B,) ``torch.int64`` on the same device, or, for the synthetic data, a dict of
  (B,) tensors keyed by factor name (see :func:`ssl_lib.data.make_synthetic`).

:class:`DeviceLoader` keeps a small dataset (CIFAR, STL-10 at 96 px, the synthetic data)
resident on the device as uint8 and slices shuffled batches there with no worker processes,
so the augmentation pipeline, not the input pipeline, sets the pace.  :func:`make_loader`
wraps ``torch.utils.data.DataLoader`` for datasets too large to hold.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from ssl_lib.utils.checks import check_device, check_image_dtype, check_positive_int


def spread_indices(n: int, limit: int | None) -> list[int]:
    """Indices of an evenly spread, deterministic subset of at most `limit` of n items, the first
    and last kept (all n when `limit` is None or >= n)."""
    if limit is None or limit >= n:
        return list(range(n))
    if limit <= 1:
        return [0][:max(limit, 0)]
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., 3, H, W) in 0..255 -> float32 in [0, 1]; float input is returned as is."""
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 or floating point, got {images.dtype}")
    return images


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float images in [0, 1] -> uint8 0..255 (rounded, clamped); uint8 input is returned as is."""
    if images.dtype == torch.uint8:
        return images
    return images.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)


def _as_labels(labels, n: int, device):
    if isinstance(labels, dict):
        out = {k: torch.as_tensor(v).to(device) for k, v in labels.items()}
    else:
        out = {None: torch.as_tensor(labels).to(device)}
    for k, v in out.items():
        if v.shape[:1] != (n,):
            where = "" if k is None else f"[{k!r}]"
            raise ValueError(f"labels{where} must have first dimension {n}, got {tuple(v.shape)}")
        if not v.is_floating_point():
            out[k] = v.long()
    return out if isinstance(labels, dict) else out[None]


class DeviceLoader:
    """Shuffled batches of a dataset held on the device as uint8.

    Args:
        images: (N, 3, H, W) uint8, or float in [0, 1] (stored rounded to uint8 to save memory).
        labels: (N,) integer tensor or array, or a dict of (N,) tensors.
        batch_size: B.
        shuffle: draw a new permutation each epoch (iteration) from a seeded generator.
        drop_last: skip the last incomplete batch (keeps B constant, as BatchNorm prefers).
        seed: seed of the shuffling generator; the sequence of epochs is reproducible.
        device: where data lives and batches are produced (default: the images' device).
        dtype: output dtype of images, ``torch.uint8`` or ``torch.float32`` (via :func:`to_float`).
    Yields:
        ``(images (B, 3, H, W), labels (B,) int64 or dict of (B,))`` on ``device``.
    """

    def __init__(self, images, labels, batch_size: int, shuffle: bool = True, drop_last: bool = False,
                 seed: int = 0, device=None, dtype=torch.uint8):
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.device = check_device(images.device if device is None else device)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
        self.images = to_uint8(images).to(self.device)
        self.labels = _as_labels(labels, images.shape[0], self.device)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.dtype = check_image_dtype(dtype)
        # The permutation is drawn on the CPU so the batch order is the same on every device.
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = self.images.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = self.images.shape[0]
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.device)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            images = self.images.index_select(0, idx)
            if isinstance(self.labels, dict):
                labels = {k: v.index_select(0, idx) for k, v in self.labels.items()}
            else:
                labels = self.labels.index_select(0, idx)
            yield (to_float(images) if self.dtype == torch.float32 else images), labels


def _image_tensor(img) -> torch.Tensor:
    # PIL images (torchvision datasets without a transform) become uint8 CHW; tensors pass.
    if isinstance(img, torch.Tensor):
        return img
    arr = np.asarray(img.convert("RGB") if hasattr(img, "convert") else img)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def collate_images(batch):
    """Collate ``[(image, label), ...]`` into ``(images (B, 3, H, W), labels (B,) int64)``.

    Images may be PIL images or (3, H, W) tensors of one size; pass a resizing transform to
    the dataset when its images differ in size (Flowers-102, Pets, ...).
    """
    images = [_image_tensor(img) for img, _ in batch]
    shapes = {tuple(t.shape) for t in images}
    if len(shapes) > 1:
        raise ValueError(
            f"images in a batch differ in shape {sorted(shapes)}; give the dataset a transform that resizes them"
        )
    labels = torch.as_tensor([int(y) for _, y in batch], dtype=torch.int64)
    return torch.stack(images), labels


class _DeviceBatches:
    def __init__(self, loader: DataLoader, device: torch.device, dtype: torch.dtype):
        self.loader, self.device, self.dtype = loader, device, dtype

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle a DistributedSampler for `epoch` (every rank must call it with the same value)."""
        if isinstance(self.loader.sampler, DistributedSampler):
            self.loader.sampler.set_epoch(epoch)

    def __iter__(self):
        for images, labels in self.loader:
            images = images.to(self.device, non_blocking=True)
            images = to_float(images) if self.dtype == torch.float32 else to_uint8(images)
            yield images, labels.to(self.device, non_blocking=True)


def make_loader(dataset, batch_size: int, shuffle: bool = True, drop_last: bool = False, num_workers: int = 0,
                seed: int = 0, device="cpu", dtype=torch.uint8, distributed: bool = False):
    """Batches of a map-style dataset through ``torch.utils.data.DataLoader``.

    Args:
        dataset: yields ``(image, label)`` with PIL or (3, H, W) tensor images of one size.
        batch_size, shuffle, drop_last, num_workers: as in ``DataLoader``.
        seed: seeds the shuffling generator (reproducible epochs).
        device: where batches are delivered; pinned host memory is used when it is CUDA.
        dtype: ``torch.uint8`` or ``torch.float32`` output images.
        distributed: shard the dataset over the torch.distributed processes with a
            ``DistributedSampler`` (``batch_size`` is then per process; call ``set_epoch``).
    Returns:
        An iterable with ``len()`` yielding ``(images (B, 3, H, W), labels (B,) int64)`` on
        ``device``, the same contract as :class:`DeviceLoader`.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
    device = check_device(device)
    sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last) if distributed else None
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=collate_images,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=num_workers > 0,
    )
    return _DeviceBatches(loader, device, check_image_dtype(dtype))
