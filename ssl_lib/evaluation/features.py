"""Frozen features: run a trained backbone over images (or a loader) without gradients.

Every instrument of this package (probes, invariance, sensitivity, fusion, transfer) starts
from `extract_features`; `module_device` says where a backbone lives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from ssl_lib.utils.checks import as_float_images


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for a module with neither."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


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
    spatial: bool = False,
):
    """Features of a frozen backbone, computed in eval mode without gradients.

    Args:
        backbone: maps (B, 3, H, W) float images to (B, D) features; with ``stages=True`` it must
            have ``forward_stages`` (a `ssl_lib.models.backbones.Backbone`).
        images_or_loader: a tensor (N, 3, H, W), float in [0, 1] or uint8 (0..255), or an
            iterable of ``(images, labels)`` batches (labels a (B,) tensor or a dict of them).
        batch_size: images per forward pass (tensor input only; a loader sets its own).
        device: where to run; None means the backbone's device. The backbone is not moved:
            it must already live on ``device``.
        transform: the evaluation transform (e.g. normalisation), applied per batch on the
            device to float images in [0, 1].
        stages: return ``{stage: (N, C_stage)}`` from ``forward_stages`` instead of (N, D).
        spatial: with ``stages``, each stage's whole feature map flattened, (N, C * H * W),
            instead of its global pool.
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
            if not stages:
                out = {None: backbone(x)}
            else:
                out = backbone.forward_stages(x, pooled=False) if spatial else backbone.forward_stages(x)
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


