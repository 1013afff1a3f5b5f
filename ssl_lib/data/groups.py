"""Groups of renderings of one object for measuring real-world-like invariance.

Ericsson et al. score invariance on photo sets of one object under viewpoint change (COIL-100
turntable) or lighting change (ALOI): the mean pairwise feature similarity within a group.
Here a group is K renderings of one synthetic scene in which only one family of factors
changes:

* ``"viewpoint"``: the object's rotation (any facing direction), position and scale; shape,
  colour, background and lighting stay fixed (the camera moves, the world does not).
* ``"lighting"``: a global illumination change -- intensity (gain 0.6..1.3) and colour
  temperature (-1..1) -- plus a linear shading gradient in a random direction (up to +-30 %
  across the image); the geometry, hence the object mask, is identical across the group.
"""
from __future__ import annotations

import math

import torch

from ssl_lib.utils.checks import check_choice, check_device, check_image_dtype, check_positive_int, check_seed

from .latents import (DEFAULT_SCENE, SIZES, SPLITS, Latents, SceneDesign, get_scene, keyed_generator,
                      labels_from_latents, wrap_angle)
from .render import render
from .synthetic import synthetic_latents

CHANGES = ("viewpoint", "lighting")
VIEWPOINT_FACTORS = ("x", "y", "scale", "angle")
LIGHTING_FACTORS = ("gain", "temperature", "shade_angle", "shade_strength")


def _vary_viewpoint(lat: Latents, g: torch.Generator, design: SceneDesign) -> Latents:
    n = len(lat)

    def uniform(lo, hi):
        return torch.rand(n, generator=g) * (hi - lo) + lo

    return lat.replace(
        x=uniform(*design.centre_range),
        y=uniform(*design.centre_range),
        scale=uniform(*design.scale_range),
        angle=wrap_angle(uniform(0.0, 2 * math.pi)),
    )


def _vary_lighting(lat: Latents, g: torch.Generator) -> Latents:
    n = len(lat)
    return lat.replace(
        gain=torch.rand(n, generator=g) * 0.7 + 0.6,
        temperature=torch.rand(n, generator=g) * 2 - 1,
        shade_angle=wrap_angle(torch.rand(n, generator=g) * 2 * math.pi),
        shade_strength=torch.rand(n, generator=g) * 0.6,
    )


def make_groups(
    n_groups: int,
    views: int = 8,
    change: str = "viewpoint",
    size: int = 32,
    seed: int = 0,
    split: str = "test",
    device="cpu",
    dtype=torch.float32,
    scene=DEFAULT_SCENE,
):
    """Render ``n_groups`` groups of ``views`` renderings that differ only in ``change``.

    Args:
        n_groups: G, number of groups (objects).
        views: K, renderings per group (>= 1).
        change: "viewpoint" or "lighting" (see the module docstring).
        size: image side, one of 32, 64, 96.
        seed, split: the group's base scenes are ``synthetic_latents(G, seed, split)``, i.e.
            the first G scenes of :func:`make_synthetic` with the same arguments; the per-view
            changes come from a separate stream of the same seed.
        device, dtype, scene: as in :func:`make_synthetic`.
    Returns:
        images: (G, K, 3, size, size) tensor of ``dtype`` on ``device``.
        fixed: dict of (G,) tensors, the labels held fixed within each group (every label
            of :func:`make_synthetic` not affected by ``change``).
        varying: dict of (G, K) tensors, the per-view values of what changes: for viewpoint
            ``x, y, scale, angle`` and the derived ``position, size, orientation``; for
            lighting ``gain, temperature, shade_angle, shade_strength``.
    """
    g_count = check_positive_int(n_groups, "n_groups")
    k = check_positive_int(views, "views")
    check_choice(change, "change", CHANGES)
    check_choice(size, "size", SIZES)
    check_choice(split, "split", SPLITS)
    check_seed(seed)
    check_image_dtype(dtype)
    device = check_device(device)

    design = get_scene(scene)
    base = synthetic_latents(g_count, seed, split, design)
    lat = base.map(lambda t: t.repeat_interleave(k, dim=0))
    # A 4-word key never collides with the 3-word scene keys: views are independent of scenes.
    gen = keyed_generator(seed, SPLITS.index(split), 0, 1 + CHANGES.index(change))
    lat = _vary_viewpoint(lat, gen, design) if change == "viewpoint" else _vary_lighting(lat, gen)

    images = render(lat, size, device, dtype).reshape(g_count, k, 3, size, size)
    labels = labels_from_latents(lat, design)
    if change == "viewpoint":
        varying_keys = (*VIEWPOINT_FACTORS, "position", "size", "orientation")
    else:
        varying_keys = LIGHTING_FACTORS
        labels.update({name: getattr(lat, name) for name in LIGHTING_FACTORS})
    varying = {name: labels[name].reshape(g_count, k).to(device) for name in varying_keys}
    fixed = {name: v.reshape(g_count, k)[:, 0].to(device) for name, v in labels.items() if name not in varying}
    return images, fixed, varying

