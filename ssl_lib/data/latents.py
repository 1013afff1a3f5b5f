"""Latent factors of the synthetic scenes: sampling, labels, and the mirror map.

A scene is one object over a background.  Its factors map onto the standard SSL augmentations,
so each augmentation's invariance has a task that pays for it.  The ranges they are drawn from
form a `SceneDesign`; :data:`SCENES` holds the designs measured in benchmarks/RESULTS.md, and
:data:`DEFAULT_SCENE` is the one every profile trains and probes on.

==============  ===========================================  ==========================
label key       meaning                                      destroyed by
==============  ===========================================  ==========================
``shape``       8 classes, :data:`shapes.SHAPE_NAMES`        (nothing: the SSL target)
``color``       hue classes (the design's), centres at k/K   colour jitter (hue)
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
well posed, the facing direction is tilted at most ``max_tilt`` degrees from horizontal (60 in
the first design, 20 in the upright ones), leaving a margin around the ambiguous up/down
directions.

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

NOISE_GRID = 8  # background value noise is an 8x8 grid, upsampled: independent of the image size
POSITION_CELLS = 3  # per axis
NUM_SIZES = 3
NUM_BACKGROUNDS = 4


@dataclass(frozen=True)
class SceneDesign:
    """One design of the synthetic distribution: the ranges its factors are drawn from.

    colors: hue classes of the ``color`` label (centres at k / colors of the hue circle).
    hue_spread: within-class half-width of the object hue; ``0.5 / colors`` makes the hue uniform
        on the circle (every class a full bin), smaller values leave gaps between classes.
    bg_hue_spread: the same for the 4 background hue classes (0.125: uniform).
    centre_range: range of the centroid's x and y (image units); scale_range: of the bounding
        radius. ``centre_range[0] >= scale_range[1]`` keeps every object inside the frame.
    bg_sat, bg_val: background saturation and value ranges; grating_amp, noise_amp: amplitude
        ranges of the background grating and value noise ((0, 0): a flat background).
    two_tone: paint the object's back half (behind the line through its centroid across its
        facing direction) in a second hue, uniform on the circle and independent of the label, so
        that the colour label is carried by the front half only.
    Every design draws the same random numbers in the same order, so the same seed gives the same
    shapes, orientations and noise grids under any design (a two-tone design draws its back hues
    after everything else).
    """

    name: str
    colors: int = 8
    hue_spread: float = 0.02
    bg_hue_spread: float = 0.04
    centre_range: tuple[float, float] = (0.3, 0.7)
    scale_range: tuple[float, float] = (0.15, 0.3)
    bg_sat: tuple[float, float] = (0.3, 0.5)
    bg_val: tuple[float, float] = (0.3, 0.5)
    grating_amp: tuple[float, float] = (0.1, 0.25)
    noise_amp: tuple[float, float] = (0.1, 0.25)
    max_tilt: float = 60.0
    two_tone: bool = False

    def __post_init__(self):
        if not (isinstance(self.colors, int) and self.colors >= 2):
            raise ValueError(f"SceneDesign.colors must be an int >= 2, got {self.colors!r}")
        if not 0 <= self.hue_spread <= 0.5 / self.colors:
            raise ValueError(f"SceneDesign.hue_spread must lie in [0, 0.5 / colors], got {self.hue_spread}")
        for name in ("centre_range", "scale_range", "bg_sat", "bg_val", "grating_amp", "noise_amp"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"SceneDesign.{name} must be an ordered pair in [0, 1], got {(lo, hi)}")
        if not 0 <= self.max_tilt < 90:
            raise ValueError(f"SceneDesign.max_tilt must lie in [0, 90) degrees, got {self.max_tilt}")
        if self.centre_range[0] < self.scale_range[1] or self.centre_range[1] > 1 - self.scale_range[1]:
            raise ValueError(f"SceneDesign {self.name!r}: objects of radius {self.scale_range[1]} at centres "
                             f"{self.centre_range} leave the frame")

    def num_classes(self) -> dict[str, int]:
        """Number of classes of every discrete label of this design."""
        return {"shape": NUM_SHAPES, "color": self.colors, "position": POSITION_CELLS**2, "orientation": 2,
                "size": NUM_SIZES, "background": NUM_BACKGROUNDS}


#: The designs measured in benchmarks/RESULTS.md ("The embedded default's design").
_FLAT = dict(colors=24, hue_spread=0.5 / 24, bg_hue_spread=0.125, bg_sat=(0.0, 0.3), bg_val=(0.2, 0.6),
             grating_amp=(0.0, 0.0), noise_amp=(0.0, 0.0))
SCENES = {
    # Small objects (radius 0.15-0.3) tilted up to 60 degrees over textured backgrounds (gratings
    # and value noise), 8 hue classes with gaps between them: the first default.
    "textured": SceneDesign("textured"),
    # Flat, weakly coloured backgrounds (no texture to match views by), hue uniform on the circle
    # in 24 classes (finer than the colour jitter's hue range, so colour jitter costs colour), and
    # objects of radius 0.25-0.4 near the centre, so that crops keep part of the object.
    "flat-large": SceneDesign("flat-large", **_FLAT, centre_range=(0.4, 0.6), scale_range=(0.25, 0.4)),
    # ... facing left or right within 20 degrees of horizontal: less rotation for a small CNN to
    # absorb before shapes separate.
    "flat-large-upright": SceneDesign("flat-large-upright", **_FLAT, centre_range=(0.4, 0.6),
                                      scale_range=(0.25, 0.4), max_tilt=20.0),
    # Colour lever (issue [power]): the same scenes with the hue task in 48 classes (bins of 0.021
    # of the circle against SimCLR's hue jitter of +-0.2), so that what the jitter blurs is what
    # the colour task asks for. Measured in benchmarks/RESULTS.md; not the default.
    "flat-large-upright-fine-hue": SceneDesign("flat-large-upright-fine-hue", **{**_FLAT, "colors": 48,
                                                                                 "hue_spread": 0.5 / 48},
                                               centre_range=(0.4, 0.6), scale_range=(0.25, 0.4), max_tilt=20.0),
    # Colour lever 2 (issue [power]): the default scenes over grey backgrounds (saturation 0), so
    # that no background hue is left as a reference a network could read the object's hue against
    # after a hue jitter shifted both (the background label is then noise). Measured in
    # benchmarks/RESULTS.md; not the default.
    "flat-large-upright-grey-bg": SceneDesign("flat-large-upright-grey-bg", **{**_FLAT, "bg_sat": (0.0, 0.0)},
                                              centre_range=(0.4, 0.6), scale_range=(0.25, 0.4), max_tilt=20.0),
    # Colour lever 4 (issue [power]): the 48-class design with two-tone objects, the label's hue on
    # the front half only: a hue jitter shifts both halves, so their relative hue survives it but
    # not the front half's own. Measured in benchmarks/RESULTS.md; not the default.
    "flat-large-upright-fine-hue-two-tone": SceneDesign("flat-large-upright-fine-hue-two-tone",
                                                        **{**_FLAT, "colors": 48, "hue_spread": 0.5 / 48},
                                                        centre_range=(0.4, 0.6), scale_range=(0.25, 0.4),
                                                        max_tilt=20.0, two_tone=True),
    # Both colour levers together (issue [power]): grey backgrounds and the 48-class hue task.
    "flat-large-upright-grey-bg-fine-hue": SceneDesign("flat-large-upright-grey-bg-fine-hue",
                                                       **{**_FLAT, "bg_sat": (0.0, 0.0), "colors": 48,
                                                          "hue_spread": 0.5 / 48},
                                                       centre_range=(0.4, 0.6), scale_range=(0.25, 0.4), max_tilt=20.0),
}
DEFAULT_SCENE = "flat-large-upright"  # chosen by the validity numbers: benchmarks/RESULTS.md


def get_scene(scene) -> SceneDesign:
    """A registered design by name (or a `SceneDesign`, returned as is); ValueError naming the known ones."""
    if isinstance(scene, SceneDesign):
        return scene
    if not isinstance(scene, str) or scene not in SCENES:
        raise ValueError(f"unknown scene design {scene!r}; known: {sorted(SCENES)}")
    return SCENES[scene]


#: Number of classes of every discrete label of the default design.
NUM_CLASSES = SCENES[DEFAULT_SCENE].num_classes()
#: Continuous regression targets returned by :func:`labels_from_latents`.
REGRESSION_TARGETS = ("x", "y", "scale", "angle", "hue")
@dataclass(frozen=True)
class Latents:
    """Every factor of N scenes, one tensor per field, first dimension N.

    Geometry: ``x, y`` centroid, ``scale`` bounding radius (image units), ``angle`` facing
    direction.  Object colour in HSV: ``hue, sat, val``; ``back_hue`` paints the back half (equal
    to ``hue`` unless the design is two-tone).  Background: ``bg_hue, bg_sat,
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
    back_hue: torch.Tensor
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


def sample_facing_angle(n: int, g: torch.Generator, max_tilt: float) -> torch.Tensor:
    """(n,) facing angles: left or right with equal odds, tilted by at most ``max_tilt`` radians."""
    tilt = _uniform(g, n, -max_tilt, max_tilt)
    left = torch.rand(n, generator=g) < 0.5
    return wrap_angle(torch.where(left, math.pi - tilt, tilt))


def sample_latents(n: int, g: torch.Generator, scene=DEFAULT_SCENE) -> Latents:
    """Draw ``n`` scenes of design ``scene`` (a name of `SCENES` or a `SceneDesign`) with
    generator ``g`` (CPU).

    Returns a :class:`Latents` of float32 fields (``shape`` int64, ``noise`` (n, 8, 8)) with
    neutral lighting.  The draw order is fixed, so a generator state fixes the scenes.
    """
    d = get_scene(scene)
    colour = torch.randint(d.colors, (n,), generator=g)
    hue = torch.remainder(colour / d.colors + _uniform(g, n, -d.hue_spread, d.hue_spread), 1.0)
    bg_class = torch.randint(NUM_BACKGROUNDS, (n,), generator=g)
    bg_hue = torch.remainder(bg_class / NUM_BACKGROUNDS + _uniform(g, n, -d.bg_hue_spread, d.bg_hue_spread), 1.0)
    direction = torch.rand(n, generator=g) * 2 * math.pi
    freq = _uniform(g, n, 2.0, 6.0) * 2 * math.pi  # 2..6 cycles per image side
    lat = Latents(
        shape=torch.randint(NUM_SHAPES, (n,), generator=g),
        x=_uniform(g, n, *d.centre_range),
        y=_uniform(g, n, *d.centre_range),
        scale=_uniform(g, n, *d.scale_range),
        angle=sample_facing_angle(n, g, math.radians(d.max_tilt)),
        hue=hue,
        # Saturated, bright objects over desaturated, dark backgrounds: the object stays
        # separable from the background under any hue pairing.
        sat=_uniform(g, n, 0.75, 1.0),
        val=_uniform(g, n, 0.8, 1.0),
        back_hue=hue,
        bg_hue=bg_hue,
        bg_sat=_uniform(g, n, *d.bg_sat),
        bg_val=_uniform(g, n, *d.bg_val),
        grating_kx=freq * torch.cos(direction),
        grating_ky=freq * torch.sin(direction),
        grating_phase=torch.rand(n, generator=g) * 2 * math.pi,
        grating_amp=_uniform(g, n, *d.grating_amp),
        noise=torch.rand(n, NOISE_GRID, NOISE_GRID, generator=g) * 2 - 1,
        noise_amp=_uniform(g, n, *d.noise_amp),
        gain=torch.ones(n),
        temperature=torch.zeros(n),
        shade_angle=torch.zeros(n),
        shade_strength=torch.zeros(n),
    )
    # Drawn last, so that every other factor is the same draw as in the one-tone design.
    return lat.replace(back_hue=torch.rand(n, generator=g)) if d.two_tone else lat


def _bin(value: torch.Tensor, lo: float, hi: float, bins: int) -> torch.Tensor:
    return ((value - lo) / (hi - lo) * bins).floor().clamp(0, bins - 1).long()


def labels_from_latents(lat: Latents, scene=DEFAULT_SCENE) -> dict[str, torch.Tensor]:
    """Labels of the scenes, computed from the continuous latents (so mirrored or re-posed
    latents get consistent labels) with the bins of design ``scene``.

    Returns a dict of (N,) tensors: int64 class labels ``shape, colour, position,
    orientation, size, background`` (class counts in `SceneDesign.num_classes`) and float32
    regression targets ``x, y, scale, angle, hue`` (see the module docstring).
    """
    d = get_scene(scene)
    col = _bin(lat.x, *d.centre_range, POSITION_CELLS)
    row = _bin(lat.y, *d.centre_range, POSITION_CELLS)
    return {
        "shape": lat.shape.long(),
        "color": torch.round(lat.hue * d.colors).long() % d.colors,
        "position": row * POSITION_CELLS + col,
        "orientation": (torch.cos(lat.angle) > 0).long(),
        "size": _bin(lat.scale, *d.scale_range, NUM_SIZES),
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
