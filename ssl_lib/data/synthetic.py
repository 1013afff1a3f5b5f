"""The library's default dataset: seeded synthetic scenes whose factors match the augmentations.

See ``latents.py`` for the factors, their labels and why each one conflicts with one
augmentation's invariance; ``render.py`` for how they are drawn.
"""
from __future__ import annotations

import torch

from ssl_lib.utils.checks import check_choice, check_device, check_image_dtype, check_positive_int, check_seed

from .latents import (DEFAULT_SCENE, SIZES, SPLITS, Latents, get_scene, keyed_generator, labels_from_latents,
                      sample_latents)
from .render import render

LATENT_BLOCK = 1024  # latents are drawn in fixed blocks, so make_synthetic(n) is a prefix of make_synthetic(n + k)


def synthetic_latents(n: int, seed: int = 0, split: str = "train", scene=DEFAULT_SCENE) -> Latents:
    """The latents of the first ``n`` scenes of ``(seed, split)`` of design ``scene`` (CPU
    tensors, first dim n).

    Scenes are drawn in blocks of ``LATENT_BLOCK``, each from its own generator keyed by
    ``(seed, split, block)``: splits never share a random stream, and asking for more scenes
    extends rather than reshuffles the dataset.
    """
    n = check_positive_int(n, "n")
    check_seed(seed)
    check_choice(split, "split", SPLITS)
    design = get_scene(scene)
    split_id = SPLITS.index(split)
    n_blocks = -(-n // LATENT_BLOCK)
    blocks = [sample_latents(LATENT_BLOCK, keyed_generator(seed, split_id, b), design) for b in range(n_blocks)]
    return Latents.cat(blocks).map(lambda t: t[:n])


def make_synthetic(n: int, size: int = 32, seed: int = 0, split: str = "train", device="cpu", dtype=torch.float32,
                   scene=DEFAULT_SCENE):
    """Generate ``n`` synthetic scenes and all their latent factors.

    Args:
        n: number of images (>= 1).
        size: image side, one of 32, 64, 96.  The same (seed, split) gives the same scenes
            at every size, only rendered at a different resolution.
        seed: non-negative int; the same seed gives bit-identical output on a given device.
        split: "train", "val" or "test"; each split has its own random streams.
        device: where to render and return tensors ("cpu", "cuda", "cuda:1", ...).
        dtype: ``torch.float32`` (values in [0, 1]) or ``torch.uint8`` (0..255).
        scene: the design, a name of :data:`ssl_lib.data.latents.SCENES` or a `SceneDesign`.
    Returns:
        images: (n, 3, size, size) tensor of ``dtype`` on ``device``.
        labels: dict of (n,) tensors on ``device``: int64 classes ``shape`` (8), ``color``
            (the design's hue classes), ``position`` (9), ``orientation`` (2), ``size`` (3), ``background`` (4) and
            float32 regression targets ``x``, ``y``, ``scale``, ``angle``, ``hue``; see
            :mod:`ssl_lib.data.latents` for their definitions.
    """
    n = check_positive_int(n, "n")
    check_choice(size, "size", SIZES)
    check_choice(split, "split", SPLITS)
    check_seed(seed)
    check_image_dtype(dtype)
    device = check_device(device)
    design = get_scene(scene)
    lat = synthetic_latents(n, seed, split, design)
    images = render(lat, size, device, dtype)
    labels = {k: v.to(device) for k, v in labels_from_latents(lat, design).items()}
    return images, labels
