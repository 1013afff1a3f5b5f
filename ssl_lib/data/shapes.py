"""The synthetic objects: signed-distance functions of eight shapes with a facing direction.

Every shape is drawn in a canonical frame facing +x and is mirror-symmetric about the x axis
only: it has one mirror axis and no rotational symmetry.  Two consequences matter downstream:

* the facing direction is always recoverable from the pixels (no circle or square whose
  orientation is undefined), so an orientation label is learnable for every shape;
* a mirror image of a shape is the same shape rotated (facing ``pi - angle``), never a new
  chiral shape.  A horizontal flip therefore maps the synthetic distribution onto itself while
  changing the orientation answer, which is what makes flip invariance costly (see
  ``latents.py``).

The raw SDFs below are normalised numerically (:func:`shape_frames`) so that in the
normalised frame every shape has its area centroid at the origin and its farthest point at
distance 1.  The object's position latent is then exactly its mask centroid and its scale
latent is the radius of its bounding circle, both measurable from the rendered pixels.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

SHAPE_NAMES = ("triangle", "arrow", "pacman", "half_disc", "drop", "chevron", "hammer", "crescent")
NUM_SHAPES = len(SHAPE_NAMES)


def _edge(px, apy, ax, ay, bx, by):
    # Signed distance to the line A->B, positive on the right of the direction of travel; the
    # vertices below are listed so that "right" is outside.
    dx, dy = bx - ax, by - ay
    norm = math.hypot(dx, dy)
    nx, ny = -dy / norm, dx / norm
    return px * nx + apy * ny - (ax * nx + ay * ny)


def _box(px, apy, cx, hx, hy):
    # Bound (not exact) box SDF: exact along the edges, which is all anti-aliasing needs.
    return torch.maximum((px - cx).abs_() - hx, apy - hy)


def _triangle(px, apy):
    return torch.maximum(_edge(px, apy, -0.6, 0.55, 1.0, 0.0), -px - 0.6)


def _arrow(px, apy):
    head = torch.maximum(_edge(px, apy, 0.15, 0.6, 1.0, 0.0), 0.15 - px)
    return torch.minimum(head, _box(px, apy, -0.4, 0.55, 0.2))


_MOUTH = math.radians(35.0)


def _pacman(px, apy):
    # The mouth is the wedge |angle| < 35 deg; max(disc, -wedge) cuts it out.
    return torch.maximum(torch.hypot(px, apy) - 1.0, px * math.sin(_MOUTH) - apy * math.cos(_MOUTH))


def _half_disc(px, apy):
    return torch.maximum(torch.hypot(px, apy) - 1.0, -px)


_DROP_C, _DROP_R = -0.35, 0.6
_DROP_B = math.asin(_DROP_R / (1.0 - _DROP_C))  # half-angle of the cone tangent to the bulb


def _drop(px, apy):
    bulb = torch.hypot(px - _DROP_C, apy) - _DROP_R
    cone = torch.maximum((px - 1.0) * math.sin(_DROP_B) + apy * math.cos(_DROP_B), _DROP_C - px)
    return torch.minimum(bulb, cone)


def _chevron(px, apy):
    outer = torch.maximum(_edge(px, apy, -0.5, 0.9, 1.0, 0.0), -px - 0.5)
    inner = torch.maximum(_edge(px + 0.6, apy, -0.5, 0.9, 1.0, 0.0), -(px + 0.6) - 0.5)
    return torch.maximum(outer, -inner)


def _hammer(px, apy):
    return torch.minimum(_box(px, apy, 0.6, 0.22, 0.8), _box(px, apy, -0.25, 0.65, 0.16))


def _crescent(px, apy):
    return torch.maximum(torch.hypot(px, apy) - 1.0, 0.8 - torch.hypot(px - 0.5, apy))


RAW_SDFS = (_triangle, _arrow, _pacman, _half_disc, _drop, _chevron, _hammer, _crescent)


@lru_cache(maxsize=1)
def shape_frames(resolution: int = 801) -> torch.Tensor:
    """Centroid and bounding radius of each raw shape, measured on a fine grid.

    Returns:
        (NUM_SHAPES, 2) float64 tensor of ``(centroid_x, r_max)``; the centroid's y is 0 by the
        x-axis symmetry.  Rendering maps normalised coordinates ``p`` to raw ones with
        ``p * r_max + (centroid_x, 0)``.
    """
    # Numerical rather than analytic: the shapes are CSG combinations whose exact centroids
    # are tedious, and an 801^2 grid pins them to ~1e-3 of the shape size in a few ms.
    ticks = torch.linspace(-1.6, 1.6, resolution, dtype=torch.float64)
    py, px = torch.meshgrid(ticks, ticks, indexing="ij")
    frames = []
    for sdf in RAW_SDFS:
        inside = sdf(px.clone(), py.abs()) < 0
        cx = px[inside].mean()
        cy = py[inside].mean()
        r_max = torch.hypot(px[inside] - cx, py[inside] - cy).max() + (ticks[1] - ticks[0]) / 2
        frames.append(torch.stack([cx, r_max]))
    return torch.stack(frames)
