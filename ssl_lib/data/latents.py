"""Latent factors of the synthetic scenes: sampling, labels, and the mirror map.

A scene is one object over a textured background.  Its factors map onto the standard SSL
augmentations, so each augmentation's invariance has a task that pays for it:

==============  ===========================================  ==========================
label key       meaning                                      destroyed by
==============  ===========================================  ==========================
``shape``       8 classes, :data:`shapes.SHAPE_NAMES`        (nothing: the SSL target)
``color``       8 hue classes, centres at k/8 of the circle  colour jitter (hue)
``position``    3x3 cell of the object centroid, row-major   crop (translation)
``orientation`` 0 = facing left, 1 = facing right            horizontal flip
``size``        3 bins of the bounding radius (small..large) crop (rescaling)
``background``  4 background hue classes, centres at k/4     colour jitter
``x``, ``y``    centroid in [0, 1] image units (y downward)  crop
``scale``       bounding-circle radius / image side          crop
``angle``       facing direction in radians, [-pi, pi)       flip (its left/right part)
``hue``         object hue in [0, 1)                         colour jitter
==============  ===========================================  ==========================

Why orientation is "facing left/right": every shape has one mirror axis (its facing
direction), so a horizontal flip of a scene is exactly another scene of the same
distribution (position ``1 - x``, angle ``pi - angle``, mirrored background) whose facing
label is the opposite one.  A perfectly flip-invariant encoder maps both to the same feature
and so can do no better than chance (50 %) on this label, while shape, colour, size and
position survive the flip; angle bins that a mirror maps onto themselves would blunt that
tension, and chiral shapes would make flipped images out-of-distribution.  To keep the label
well posed, the facing direction is tilted at most 60 degrees from horizontal, leaving a 60
degree margin around the ambiguous up/down directions.

All sampling happens on the CPU with a ``torch.Generator`` so that the same seed gives the
same scenes on every device; only rendering runs on the target device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from .shapes import NUM_SHAPES

SPLITS = ("train", "val", "test")
SIZES = (32, 64, 96)  # the image sizes the renderer supports

NUM_COLOURS = 8
NUM_BACKGROUNDS = 4
POSITION_CELLS = 3  # per axis
NUM_SIZES = 3
HUE_SPREAD = 0.02  # within-class hue half-width, well inside the 1/16 half-gap to the next class
CENTRE_RANGE = (0.3, 0.7)  # centroid range; with SCALE_RANGE[1] <= 0.3 objects never leave the frame
SCALE_RANGE = (0.15, 0.3)
MAX_TILT = math.radians(60.0)
NOISE_GRID = 8  # background value noise is an 8x8 grid, upsampled: independent of the image size

#: Number of classes of every discrete label returned by :func:`labels_from_latents`.
NUM_CLASSES = {
    "shape": NUM_SHAPES,
    "color": NUM_COLOURS,
    "position": POSITION_CELLS**2,
    "orientation": 2,
    "size": NUM_SIZES,
    "background": NUM_BACKGROUNDS,
}
#: Continuous regression targets returned by :func:`labels_from_latents`.
REGRESSION_TARGETS = ("x", "y", "scale", "angle", "hue")


@dataclass(frozen=True)
class Latents:
    """Every factor of N scenes, one tensor per field, first dimension N.

    Geometry: ``x, y`` centroid, ``scale`` bounding radius (image units), ``angle`` facing
    direction.  Object colour in HSV: ``hue, sat, val``.  Background: ``bg_hue, bg_sat,
    bg_val`` base colour, a sinusoidal grating ``grating_kx, grating_ky`` (radians per image
    side), ``grating_phase, grating_amp``, and value noise ``noise`` (N, 8, 8) in [-1, 1] with
    ``noise_amp``.  Lighting (neutral unless a lighting group sets it): ``gain`` intensity,
    ``temperature`` in [-1, 1] (warm > 0), and a linear shading gradient ``shade_angle,
    shade_strength``.
    """

    shape: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    scale: torch.Tensor
    angle: torch.Tensor
    hue: torch.Tensor
    sat: torch.Tensor
    val: torch.Tensor
    bg_hue: torch.Tensor
    bg_sat: torch.Tensor
    bg_val: torch.Tensor
    grating_kx: torch.Tensor
    grating_ky: torch.Tensor
    grating_phase: torch.Tensor
    grating_amp: torch.Tensor
    noise: torch.Tensor
    noise_amp: torch.Tensor
    gain: torch.Tensor
    temperature: torch.Tensor
    shade_angle: torch.Tensor
    shade_strength: torch.Tensor

    def __len__(self) -> int:
        return self.shape.shape[0]

    def map(self, fn) -> "Latents":
        """Apply ``fn`` to every field tensor (indexing, ``repeat_interleave``, ``.to(device)``)."""
        return Latents(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def replace(self, **changes) -> "Latents":
        """A copy with some fields replaced."""
        return replace(self, **changes)

    @staticmethod
    def cat(parts) -> "Latents":
        """Concatenate several ``Latents`` along N."""
        return Latents(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Latents)})


def wrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """Map angles (any shape) to [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def _uniform(g, n, lo, hi):
    return torch.rand(n, generator=g) * (hi - lo) + lo


def sample_facing_angle(n: int, g: torch.Generator) -> torch.Tensor:
    """(n,) facing angles: left or right with equal odds, tilted by at most ``MAX_TILT``."""
    tilt = _uniform(g, n, -MAX_TILT, MAX_TILT)
    left = torch.rand(n, generator=g) < 0.5
    return wrap_angle(torch.where(left, math.pi - tilt, tilt))


def sample_latents(n: int, g: torch.Generator) -> Latents:
    """Draw ``n`` scenes from the default distribution with generator ``g`` (CPU).

    Returns a :class:`Latents` of float32 fields (``shape`` int64, ``noise`` (n, 8, 8)) with
    neutral lighting.  The draw order is fixed, so a generator state fixes the scenes.
    """
    colour = torch.randint(NUM_COLOURS, (n,), generator=g)
    hue = torch.remainder(colour / NUM_COLOURS + _uniform(g, n, -HUE_SPREAD, HUE_SPREAD), 1.0)
    bg_class = torch.randint(NUM_BACKGROUNDS, (n,), generator=g)
    bg_hue = torch.remainder(bg_class / NUM_BACKGROUNDS + _uniform(g, n, -0.04, 0.04), 1.0)
    direction = torch.rand(n, generator=g) * 2 * math.pi
    freq = _uniform(g, n, 2.0, 6.0) * 2 * math.pi  # 2..6 cycles per image side
    return Latents(
        shape=torch.randint(NUM_SHAPES, (n,), generator=g),
        x=_uniform(g, n, *CENTRE_RANGE),
        y=_uniform(g, n, *CENTRE_RANGE),
        scale=_uniform(g, n, *SCALE_RANGE),
        angle=sample_facing_angle(n, g),
        hue=hue,
        # Saturated, bright objects over desaturated, dark backgrounds: the object stays
        # separable from the background under any hue pairing.
        sat=_uniform(g, n, 0.75, 1.0),
        val=_uniform(g, n, 0.8, 1.0),
        bg_hue=bg_hue,
        bg_sat=_uniform(g, n, 0.3, 0.5),
        bg_val=_uniform(g, n, 0.3, 0.5),
        grating_kx=freq * torch.cos(direction),
        grating_ky=freq * torch.sin(direction),
        grating_phase=torch.rand(n, generator=g) * 2 * math.pi,
        grating_amp=_uniform(g, n, 0.1, 0.25),
        noise=torch.rand(n, NOISE_GRID, NOISE_GRID, generator=g) * 2 - 1,
        noise_amp=_uniform(g, n, 0.1, 0.25),
        gain=torch.ones(n),
        temperature=torch.zeros(n),
        shade_angle=torch.zeros(n),
        shade_strength=torch.zeros(n),
    )


def _bin(value: torch.Tensor, lo: float, hi: float, bins: int) -> torch.Tensor:
    return ((value - lo) / (hi - lo) * bins).floor().clamp(0, bins - 1).long()


def labels_from_latents(lat: Latents) -> dict[str, torch.Tensor]:
    """Labels of the scenes, computed from the continuous latents (so mirrored or re-posed
    latents get consistent labels).

    Returns a dict of (N,) tensors: int64 class labels ``shape, colour, position,
    orientation, size, background`` (class counts in :data:`NUM_CLASSES`) and float32
    regression targets ``x, y, scale, angle, hue`` (see the module docstring).
    """
    col = _bin(lat.x, *CENTRE_RANGE, POSITION_CELLS)
    row = _bin(lat.y, *CENTRE_RANGE, POSITION_CELLS)
    return {
        "shape": lat.shape.long(),
        "color": torch.round(lat.hue * NUM_COLOURS).long() % NUM_COLOURS,
        "position": row * POSITION_CELLS + col,
        "orientation": (torch.cos(lat.angle) > 0).long(),
        "size": _bin(lat.scale, *SCALE_RANGE, NUM_SIZES),
        "background": torch.round(lat.bg_hue * NUM_BACKGROUNDS).long() % NUM_BACKGROUNDS,
        "x": lat.x.float(),
        "y": lat.y.float(),
        "scale": lat.scale.float(),
        "angle": lat.angle.float(),
        "hue": lat.hue.float(),
    }


def keyed_generator(*words: int) -> torch.Generator:
    """A CPU generator whose stream is keyed by non-negative integer ``words``.

    ``SeedSequence`` hashes the whole key, so streams of different keys are statistically
    independent (with a plain ``seed + offset``, seed 1's train stream would be seed 0's val
    stream).  Keys used: ``(seed, split_id, block)`` for scenes (split ids train 0, val 1,
    test 2) and ``(seed, split_id, 0, 1 + change_id)`` for the per-view changes of groups.
    """
    hi, lo = np.random.SeedSequence(list(words)).generate_state(2, dtype=np.uint32)
    g = torch.Generator()
    g.manual_seed(int(hi) << 31 | int(lo) >> 1)
    return g
