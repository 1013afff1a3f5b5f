"""The registry of augmentation ops: each op says once everything the library needs to know about it.

An `Op` declares
* its settings (`AugmentConfig` fields it owns, with their checks; a registered op adds its own);
* how to switch it off, and on for every sample (`off`, `on`: the single-op pipelines of
  `ssl_lib.evaluation.sensitivity`);
* what it records per sample (`AugParams` fields), how a pipeline draws and applies it;
* its blocks of CASSLE's descriptor and its AugSelf target with the loss kind;
* its transforms with one fixed parameter (Ericsson et al.'s invariance measure) and their grids;
* its controls in the explorer, and how settings become recorded parameters and back.

Every consumer reads this registry when called: the pipeline, `AugParams.descriptor`,
`augself_targets`, the AugSelf heads, sensitivity, invariance and the explorer. An op added with
`register` appears in all of them without another file changing (tests/augment/test_ops.py
registers a toy op and looks for it). A solo-learn-style registry: a dict filled at import.

The built-in ops, in the order they are applied: crop (with the flip, one resampling), colour
jitter, grayscale, blur, solarize, rotation. They draw their random numbers in another order
(`draw_order`), the one the pipeline has always used, so recorded runs replay unchanged.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ssl_lib.augment import functional as F

LOSS_KINDS = ("regression", "binary", "classes")
CONTROL_KINDS = ("float", "int", "bool")


@dataclass(frozen=True)
class DescriptorBlock:
    """One block of CASSLE's descriptor: column names, what they mean, and
    `vector(params) -> (B, len(columns))` float."""

    columns: tuple[str, ...]
    meaning: str
    vector: Callable


@dataclass(frozen=True)
class AugSelfTarget:
    """AugSelf's target for an op: `target(params_a, params_b)` is d(t_a, t_b), (B, k) float, or (B,)
    int64 classes for loss "classes"; `outputs` names the head's k outputs. Loss kinds:
    "regression" MSE(tanh(prediction), target), "binary" BCE on a logit, "classes" cross-entropy."""

    outputs: tuple[str, ...]
    target: Callable
    loss: str = "regression"


@dataclass(frozen=True)
class FixedTransform:
    """A transform with one fixed parameter value for a whole batch (the invariance measure):
    `apply(images (B, 3, H, W) in [0, 1], value) -> (B, 3, H, W)`; `grid(size)` the default values
    for images of side `size`; `scalar(value)` the number the tables plot."""

    parameter: str
    grid: Callable
    apply: Callable
    scalar: Callable = float


@dataclass(frozen=True)
class Control:
    """An explorer control: kind ("float", "int", "bool"), the identity value, and the slider's range."""

    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None


def _none(*_):
    return None


@dataclass(frozen=True)
class Op:
    """Everything about one augmentation op (see the module docstring).

    Attributes:
        name: the op's name, also its AugSelf group and sensitivity group.
        knobs: names of the `AugmentConfig` fields the op owns.
        new_knobs: settings the op adds to `AugmentConfig` (a registered op), name -> default.
        configure: `configure(config)` checks (and normalises, with object.__setattr__) the
            op's settings, raising ValueError naming the bad one.
        off, on: settings switching the op off, and on for every sample.
        varies: `varies(config) -> bool`, whether the config's views differ in this op.
        records: the `AugParams` fields the op records.
        draw: `draw(config, batch, height, width, rand, device) -> {field: (B, ...) tensor}`,
            with `rand(*shape)` the pipeline's uniform generator.
        apply: `apply(images, params, config, measured) -> images`, per sample with the recorded
            params; it may store per-sample values measured on the pixels in `measured`.
            None for an op another op applies (flip, inside the crop's resampling).
        draw_order, apply_order: when the op draws and is applied, relative to the others. A new
            op keeps the default (inf: after every built-in op): a finite draw_order moves
            every draw after it, and so every recorded run's views.
        descriptor: descriptor key -> `DescriptorBlock`.
        augself: the op's AugSelf target, or None when AugSelf has none for it.
        transforms: invariance transform name -> `FixedTransform`.
        controls: explorer setting -> `Control`; settings: other settings with their defaults.
        from_settings: `from_settings(settings, batch, (H, W), config, device) -> {field: tensor}`.
        to_settings: `to_settings(params) -> {setting: value}` for one recorded view (B = 1).
    """

    name: str
    records: tuple[str, ...]
    draw: Callable
    apply: Callable | None
    off: dict
    on: dict
    varies: Callable
    from_settings: Callable
    to_settings: Callable
    knobs: tuple[str, ...] = ()
    new_knobs: dict = field(default_factory=dict)
    configure: Callable = _none
    draw_order: float = math.inf
    apply_order: float = math.inf
    descriptor: dict = field(default_factory=dict)
    augself: AugSelfTarget | None = None
    transforms: dict = field(default_factory=dict)
    controls: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.augself is not None and self.augself.loss not in LOSS_KINDS:
            raise ValueError(f"op {self.name!r}: AugSelf loss {self.augself.loss!r} is not one of {list(LOSS_KINDS)}")
        for name, control in self.controls.items():
            if control.kind not in CONTROL_KINDS:
                raise ValueError(f"op {self.name!r}: control {name!r} kind {control.kind!r} "
                                 f"not in {list(CONTROL_KINDS)}")
            if control.kind != "bool" and None in (control.low, control.high, control.step):
                raise ValueError(f"op {self.name!r}: {control.kind} control {name!r} needs low, high and step")


_REGISTRY: dict[str, Op] = {}
# The attribute names of AugmentConfig ("settings") and AugParams ("records"), given by their
# modules when they are defined (`reserve_attributes`).
_ATTRIBUTES: dict[str, set] = {"settings": set(), "records": set()}


def reserve_attributes(kind: str, names) -> None:
    """Record the attribute names a registered op's settings ("settings") or recorded fields
    ("records") may not take."""
    _ATTRIBUTES[kind] |= set(names)


def register(op: Op) -> Op:
    """Add `op` to the registry; ValueError when its name, a recorded field, a setting, a
    descriptor key, a transform or a control is already another op's."""
    if op.name in _REGISTRY:
        raise ValueError(f"an op named {op.name!r} is already registered")
    # A registered op's settings and records are read as attributes of AugmentConfig / AugParams,
    # after their own attributes: a name they already have would be hidden.
    shadowed = sorted({*op.new_knobs} & _ATTRIBUTES["settings"] | {*op.records} & _ATTRIBUTES["records"])
    if shadowed:
        raise ValueError(f"op {op.name!r}: {shadowed} would be hidden by AugmentConfig / AugParams attributes")
    for what, mine, theirs in (
        ("recorded field", op.records, recorded_fields()),
        ("setting", [*op.knobs, *op.new_knobs], [n for o in ops() for n in (*o.knobs, *o.new_knobs)]),
        ("descriptor key", op.descriptor, descriptor_blocks()),
        ("transform", op.transforms, fixed_transforms()),
        ("control or setting", [*op.controls, *op.settings], explorer_defaults()),
    ):
        taken = sorted(set(mine) & set(theirs))
        if taken:
            raise ValueError(f"op {op.name!r}: {what} {taken} already belongs to another op")
    _REGISTRY[op.name] = op
    return op


def unregister(name: str) -> Op:
    """Remove and return the op called `name` (a test's toy op); KeyError when there is none."""
    return _REGISTRY.pop(name)


def ops() -> tuple[Op, ...]:
    """The registered ops, in registration order (the built-ins first)."""
    return tuple(_REGISTRY.values())


def get(name: str) -> Op:
    """The op called `name`; ValueError naming the known ones otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown augmentation op {name!r}; known: {list(_REGISTRY)}")
    return _REGISTRY[name]


def op_names() -> tuple[str, ...]:
    """Names of the registered ops (the sensitivity analysis's op groups)."""
    return tuple(_REGISTRY)


def added_settings() -> dict[str, Any]:
    """The settings registered ops add to `AugmentConfig` (beyond its fields), with their defaults."""
    return {name: default for op in ops() for name, default in op.new_knobs.items()}


def recorded_fields() -> set[str]:
    """Every field an `AugParams` records: each registered op's `records`."""
    return {name for op in ops() for name in op.records}


def in_draw_order() -> list[Op]:
    return sorted(ops(), key=lambda op: op.draw_order)


def in_apply_order() -> list[Op]:
    return sorted((op for op in ops() if op.apply is not None), key=lambda op: op.apply_order)


def descriptor_blocks() -> dict[str, DescriptorBlock]:
    """Descriptor key -> its block, over every op."""
    return {key: block for op in ops() for key, block in op.descriptor.items()}


def augself_groups() -> dict[str, AugSelfTarget]:
    """AugSelf group (op name) -> its target, for the ops that declare one."""
    return {op.name: op.augself for op in ops() if op.augself is not None}


def fixed_transforms() -> dict[str, FixedTransform]:
    """Invariance transform name -> `FixedTransform`, over every op."""
    return {name: t for op in ops() for name, t in op.transforms.items()}


def explorer_controls() -> dict[str, Control]:
    """Explorer setting -> `Control`, over every op, in the ops' order."""
    return {name: c for op in ops() for name, c in op.controls.items()}


def explorer_defaults() -> dict[str, Any]:
    """Every explorer setting (controls and the other settings) at the identity."""
    return {**{name: c.default for name, c in explorer_controls().items()},
            **{name: v for op in ops() for name, v in op.settings.items()}}


def builtin_field(name: str) -> bool:
    """Whether `name` is one of the built-in ops' recorded fields (an `AugParams` attribute)."""
    return name in _BUILTIN_RECORDS


# -- helpers the ops' sampling shares -------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def constant(values: tuple, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """A small read-only tensor of Python numbers on `device`, copied there once per process: a
    copy from the host inside every step would make the step wait for the device (CUDA)."""
    return torch.tensor(values, device=device, dtype=dtype)


def _probability(config, name: str) -> None:
    p = getattr(config, name)
    if not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")


def _flags(value, batch: int, device) -> Tensor:
    return torch.full((batch,), bool(value), device=device)


def _floats(value, batch: int, device) -> Tensor:
    return torch.full((batch,), float(value), device=device)


def _per_image(images: Tensor, value) -> Tensor:
    """(B,) float: one fixed parameter for each of the B images."""
    return _floats(value, images.shape[0], images.device)


def _rows(values, batch: int, device, dtype=torch.float32) -> Tensor:
    return torch.tensor(values, dtype=dtype, device=device).expand(batch, -1).clone()


# -- crop ----------------------------------------------------------------------------------------

_CROP_TRIES = 10  # as torchvision's RandomResizedCrop.get_params


def sample_crop_boxes(batch, height, width, scale, ratio, rand) -> Tensor:
    """RandomResizedCrop boxes (B, 4) top, left, h, w: ten tries per sample, first valid one wins.

    Same law as torchvision's get_params: area ~ U(scale) * H * W, log aspect ~ U(log ratio),
    sides rounded half-to-even, top/left uniform over valid integers, and the centre-crop
    fallback (aspect clamped to `ratio`) when no try fits.
    """
    area = height * width * (scale[0] + (scale[1] - scale[0]) * rand(batch, _CROP_TRIES))
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_low + (log_high - log_low) * rand(batch, _CROP_TRIES))
    w = torch.sqrt(area * aspect).round().long()
    h = torch.sqrt(area / aspect).round().long()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.long().argmax(dim=1, keepdim=True)  # index of the first fitting try (0 if none)
    h, w = h.gather(1, first).squeeze(1), w.gather(1, first).squeeze(1)
    top = (rand(batch) * (height - h + 1)).long().clamp(max=height - h)
    left = (rand(batch) * (width - w + 1)).long().clamp(max=width - w)
    boxes = torch.stack([top, left, h, w], dim=1)

    in_ratio = width / height
    if in_ratio < ratio[0]:
        fb_w, fb_h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        fb_w, fb_h = int(round(height * ratio[1])), height
    else:
        fb_w, fb_h = width, height
    fallback = constant(((height - fb_h) // 2, (width - fb_w) // 2, fb_h, fb_w), boxes.device, torch.int64)
    return torch.where(fits.any(dim=1, keepdim=True), boxes, fallback)


def center_box(height: int, width: int, aspect: float, device) -> Tensor:
    """(1, 4) the largest centred box of width / height = aspect (the whole image when it matches)."""
    if width / height > aspect:
        box_h, box_w = height, min(width, int(round(height * aspect)))
    else:
        box_h, box_w = min(height, int(round(width / aspect))), width
    return constant(((height - box_h) // 2, (width - box_w) // 2, box_h, box_w), device, torch.int64)[None]


def crop_box(settings: dict, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, h, w) in source pixels of the crop the explorer settings describe (area fraction
    `crop_scale`, aspect `crop_ratio` = w / h, centre `crop_cy`, `crop_cx`), kept inside the image."""
    area = settings["crop_scale"] * height * width
    h = min(height, max(1, round(math.sqrt(area / settings["crop_ratio"]))))
    w = min(width, max(1, round(math.sqrt(area * settings["crop_ratio"]))))
    top = min(max(0, round(settings["crop_cy"] * height - h / 2)), height - h)
    left = min(max(0, round(settings["crop_cx"] * width - w / 2)), width - w)
    return top, left, h, w


def augself_crop_target(params_a, params_b) -> Tensor:
    """AugSelf's crop target d(t_a, t_b) (B, 4): centre_y, centre_x, height, width differences.

    As the authors' `extract_diff`: both views' centre_x are mirrored (1 - x) when the FIRST view
    of the ordered pair is flipped, so the x-difference is a relative offset in view a's frame
    (its sign follows a's flip; the second view's own flip does not enter). Hence the reverse
    pair negates every component when the flips agree, but keeps d_centre_x when they differ.
    CASSLE's descriptor (`AugParams.crop_vector`) mirrors each view by its own flip instead.
    """
    diff = params_a.crop_vector(mirror=False) - params_b.crop_vector(mirror=False)
    sign = torch.where(params_a.flip, -1.0, 1.0).to(diff.dtype)
    return torch.cat([diff[:, :1], diff[:, 1:2] * sign[:, None], diff[:, 2:]], dim=1)


def _configure_crop(config) -> None:
    if config.crop not in ("random", "center"):
        raise ValueError(f"crop must be 'random' or 'center', got {config.crop!r}")
    low, high = config.scale
    if not 0 < low <= high <= 1:
        raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {config.scale}")
    low, high = config.ratio
    if not 0 < low <= high:
        raise ValueError(f"ratio must satisfy 0 < min <= max, got {config.ratio}")


def _draw_crop(config, batch, height, width, rand, device) -> dict:
    if config.crop == "random":
        box = sample_crop_boxes(batch, height, width, config.scale, config.ratio, rand)
    else:
        box = center_box(height, width, config.size[1] / config.size[0], device).expand(batch, 4).clone()
    return dict(crop_box=box, source_size=constant((height, width), device, torch.int64).expand(batch, 2).clone())


def _crop_at(images: Tensor, value) -> Tensor:
    scale, y, x = value
    b, _, h, w = images.shape
    side = math.sqrt(scale)
    ch, cw = max(1, round(side * h)), max(1, round(side * w))
    box = torch.tensor([round(y * (h - ch)), round(x * (w - cw)), ch, cw], device=images.device)
    return F.resized_crop(images, box.expand(b, 4), (h, w))


def _crop_to_settings(p) -> dict:
    top, left, h, w = (int(v) for v in p.crop_box[0])
    src_h, src_w = (int(v) for v in p.source_size[0])
    return {"crop_scale": h * w / (src_h * src_w), "crop_ratio": w / h,
            "crop_cy": (top + h / 2) / src_h, "crop_cx": (left + w / 2) / src_w}


_POSITIONS = (0.0, 0.5, 1.0)

CROP = Op(
    name="crop",
    knobs=("crop", "scale", "ratio"),
    configure=_configure_crop,
    off=dict(crop="center"),  # the largest centred box: the whole image for square inputs
    on=dict(crop="random"),
    varies=lambda config: config.crop == "random",
    records=("crop_box", "source_size"),
    draw=_draw_crop,
    draw_order=0,
    # The flip is applied here too: one resampling reads the mirrored box.
    apply=lambda x, p, config, measured: F.resized_crop(x, p.crop_box, config.size, flip=p.flip),
    apply_order=0,
    descriptor={"crop": DescriptorBlock(("centre_y", "centre_x", "height", "width"),
                                        "crop centre y, centre x (flip-mirrored), height, width / source size",
                                        lambda p: p.crop_vector())},
    augself=AugSelfTarget(("centre_y", "centre_x", "height", "width"), augself_crop_target),
    # Area scale {0.64, 0.36, 0.16} (sides 0.8, 0.6, 0.4) at 3 x 3 positions: the top-left corner
    # at a fraction {0, 0.5, 1} of the free space; a point is (scale, y, x).
    transforms={"crop": FixedTransform("scale", lambda size: [(s, y, x) for s in (0.64, 0.36, 0.16)
                                                              for y in _POSITIONS for x in _POSITIONS],
                                       _crop_at, scalar=lambda value: float(value[0]))},
    # A box by its area fraction, aspect ratio (w / h) and centre (fractions of the source);
    # below 0.08 the integer boxes of small images round down.
    controls={"crop_scale": Control("float", 1.0, 0.05, 1.0, 0.01), "crop_ratio": Control("float", 1.0, 0.5, 2.0, 0.01),
              "crop_cy": Control("float", 0.5, 0.0, 1.0, 0.01), "crop_cx": Control("float", 0.5, 0.0, 1.0, 0.01)},
    from_settings=lambda s, batch, size, config, device: dict(
        crop_box=_rows(crop_box(s, *size), batch, device, torch.long),
        source_size=_rows(size, batch, device, torch.long)),
    to_settings=_crop_to_settings,
)

# -- flip ----------------------------------------------------------------------------------------


def flag_op(name: str, probability: str, column: str, meaning: str, parameter: str, fixed: Callable,
            **parts) -> Op:
    """An op applied to a sample or not, with probability setting `probability`, recording one
    bool field `name` (its descriptor block `name`: one column `column`, 1 where applied), an
    invariance transform `name` over {0, 1} (`fixed(images, value)`) and an explorer toggle."""
    return Op(
        name=name,
        knobs=(probability,),
        configure=lambda config: _probability(config, probability),
        off={probability: 0.0},
        on={probability: 1.0},
        varies=lambda config: getattr(config, probability) > 0,
        records=(name,),
        draw=lambda config, batch, height, width, rand, device: {name: rand(batch) < getattr(config, probability)},
        descriptor={name: DescriptorBlock((column,), meaning, lambda p: getattr(p, name).float()[:, None])},
        transforms={name: FixedTransform(parameter, lambda size: [0, 1], fixed)},
        controls={name: Control("bool", False)},
        from_settings=lambda s, batch, size, config, device: {name: _flags(s[name], batch, device)},
        to_settings=lambda p: {name: bool(getattr(p, name)[0])},
        **parts,
    )


FLIP = flag_op(
    "flip", "flip_p", "flipped", "1 if flipped horizontally", "flipped",
    # torch.flip is the exact mirror; resized_crop's flip reads through grid_sample.
    lambda images, value: images.flip(-1) if value else images,
    draw_order=4,
    apply=None,  # inside the crop's resampling
    augself=AugSelfTarget(("same_flip",), lambda a, b: (a.flip == b.flip).float()[:, None], "binary"),
)

# -- colour jitter -------------------------------------------------------------------------------


def as_range(name: str, value, centre: float, lower_bound: float | None) -> tuple[float, float]:
    """ColorJitter's convention: x -> (centre - x, centre + x) clipped at lower_bound, or a (min, max) pair."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")
        low, high = centre - value, centre + value
        if lower_bound is not None:
            low = max(low, lower_bound)
    else:
        low, high = (float(v) for v in value)
    if low > high or (lower_bound is not None and low < lower_bound):
        raise ValueError(f"{name} range must be ordered and >= {lower_bound}, got ({low}, {high})")
    return float(low), float(high)


def _configure_color(config) -> None:
    _probability(config, "jitter_p")
    for name in ("brightness", "contrast", "saturation"):
        object.__setattr__(config, name, as_range(name, getattr(config, name), 1.0, 0.0))
    object.__setattr__(config, "hue", as_range("hue", config.hue, 0.0, None))
    if not -0.5 <= config.hue[0] <= config.hue[1] <= 0.5:
        raise ValueError(f"hue range must lie in [-0.5, 0.5], got {config.hue}")


def _draw_color(config, batch, height, width, rand, device) -> dict:
    applied = rand(batch) < config.jitter_p
    low = constant(tuple(r[0] for r in config.jitter_ranges), device)
    high = constant(tuple(r[1] for r in config.jitter_ranges), device)
    factors = low + (high - low) * rand(batch, 4)
    identity = constant((1.0, 1.0, 1.0, 0.0), device)
    return dict(jitter_applied=applied, jitter_factors=torch.where(applied[:, None], factors, identity),
                jitter_order=rand(batch, 4).argsort(dim=1),  # uniform over the 24 orders
                jitter_range=(high - low).expand(batch, 4).clone(), color_shift=torch.zeros(batch, 3, device=device))


def _apply_color(x, p, config, measured) -> Tensor:
    mean_before = x.mean(dim=(2, 3))
    x = F.color_jitter(x, p.jitter_factors, p.jitter_order)
    measured["color_shift"] = mean_before - x.mean(dim=(2, 3))  # CASSLE's shift, on the views produced
    return x


def _color_from_settings(s, batch, size, config, device) -> dict:
    if sorted(s["jitter_order"]) != [0, 1, 2, 3]:
        raise ValueError(f"jitter_order must be a permutation of 0..3, got {s['jitter_order']}")
    factors = [s["brightness"], s["contrast"], s["saturation"], s["hue"]]
    return dict(
        # The jitter flag follows the factors: a view whose factors are all the identity was
        # not jittered, and its colour descriptor is then 0, as for a skipped jitter.
        jitter_applied=_flags(factors != [1.0, 1.0, 1.0, 0.0], batch, device),
        jitter_factors=_rows(factors, batch, device),
        jitter_order=_rows(tuple(s["jitter_order"]), batch, device, torch.long),
        # the recipe's ranges normalise the descriptor and the AugSelf targets, as a draw of it would
        jitter_range=_rows([high - low for low, high in config.jitter_ranges], batch, device),
        color_shift=torch.zeros(batch, 3, device=device))


def _color_to_settings(p) -> dict:
    b, c, s, hue = (float(v) for v in p.jitter_factors[0])
    return {"brightness": b, "contrast": c, "saturation": s, "hue": hue,
            "jitter_order": tuple(int(v) for v in p.jitter_order[0])}


def _jitter_varies(config) -> bool:
    return config.jitter_p > 0 and any(low != high for low, high in config.jitter_ranges)


_FACTORS = lambda size: np.linspace(0.25, 5.0, 12).tolist()  # noqa: E731 -- brightness, contrast, saturation

COLOR = Op(
    name="color",
    knobs=("brightness", "contrast", "saturation", "hue", "jitter_p"),
    configure=_configure_color,
    off=dict(jitter_p=0.0),
    on=dict(jitter_p=1.0),
    varies=_jitter_varies,
    records=("jitter_applied", "jitter_factors", "jitter_order", "jitter_range", "color_shift"),
    draw=_draw_color,
    draw_order=1,
    apply=_apply_color,
    apply_order=1,
    descriptor={"color": DescriptorBlock(("brightness", "contrast", "saturation", "hue"),
                                         "jitter factors normalised as in AugSelf (0: not jittered)",
                                         lambda p: p.color_vector()),
                "color_shift": DescriptorBlock(("red", "green", "blue"), "per-channel mean before jitter minus after",
                                               lambda p: p.color_shift.float())},
    augself=AugSelfTarget(("brightness", "contrast", "saturation", "hue"),
                          lambda a, b: a.color_vector() - b.color_vector()),
    transforms={"brightness": FixedTransform("factor", _FACTORS, lambda x, v: F.adjust_brightness(x, _per_image(x, v))),
                "contrast": FixedTransform("factor", _FACTORS, lambda x, v: F.adjust_contrast(x, _per_image(x, v))),
                "saturation": FixedTransform("factor", _FACTORS,
                                             lambda x, v: F.adjust_saturation(x, _per_image(x, v))),
                "hue": FixedTransform("shift", lambda size: np.linspace(-0.5, 0.5, 11).tolist(),
                                      lambda x, v: F.adjust_hue(x, _per_image(x, v)))},
    controls={"brightness": Control("float", 1.0, 0.0, 2.0, 0.05), "contrast": Control("float", 1.0, 0.0, 2.0, 0.05),
              "saturation": Control("float", 1.0, 0.0, 2.0, 0.05), "hue": Control("float", 0.0, -0.5, 0.5, 0.01)},
    settings={"jitter_order": (0, 1, 2, 3)},  # the jitter's op order (brightness, contrast, saturation, hue)
    from_settings=_color_from_settings,
    to_settings=_color_to_settings,
)

# -- grayscale -----------------------------------------------------------------------------------

GRAYSCALE = flag_op(
    "grayscale", "grayscale_p", "grey", "1 if converted to grey", "applied",
    lambda x, v: F.grayscale(x, _flags(v, x.shape[0], x.device)),
    draw_order=5,
    apply=lambda x, p, config, measured: F.grayscale(x, p.grayscale),
    apply_order=2,
)

# -- blur ----------------------------------------------------------------------------------------


def default_blur_kernel(size: int) -> int:
    """SimCLR's blur kernel: about 10% of the image side, made odd (23 at 224 px, 9 at 96 px)."""
    return int(0.1 * size) // 2 * 2 + 1


def _configure_blur(config) -> None:
    _probability(config, "blur_p")
    low, high = config.blur_sigma
    if not 0 < low <= high:
        raise ValueError(f"blur_sigma must satisfy 0 < min <= max, got {config.blur_sigma}")
    kernel = default_blur_kernel(min(config.size)) if config.blur_kernel is None else config.blur_kernel
    if not isinstance(kernel, int) or kernel <= 0 or kernel % 2 == 0:
        raise ValueError(f"blur_kernel must be an odd positive int, got {kernel}")
    object.__setattr__(config, "blur_kernel", kernel)


def _draw_blur(config, batch, height, width, rand, device) -> dict:
    low, high = config.blur_sigma
    sigma = low + (high - low) * rand(batch)
    return dict(blur_sigma=torch.where(rand(batch) < config.blur_p, sigma, torch.zeros_like(sigma)))


def _blur_at(images: Tensor, sigma) -> Tensor:
    h, w = images.shape[-2:]
    # +-3 sigma covers the kernel's mass; reflect padding needs pad < side.
    kernel = min(2 * math.ceil(3 * float(sigma)) + 1, 2 * min(h, w) - 1)
    return F.gaussian_blur(images, _per_image(images, sigma), kernel)


BLUR = Op(
    name="blur",
    knobs=("blur_p", "blur_sigma", "blur_kernel"),
    configure=_configure_blur,
    off=dict(blur_p=0.0),
    on=dict(blur_p=1.0),
    varies=lambda config: config.blur_p > 0,
    records=("blur_sigma",),
    draw=_draw_blur,
    draw_order=2,
    apply=lambda x, p, config, measured: F.gaussian_blur(x, p.blur_sigma, config.blur_kernel),
    apply_order=3,
    descriptor={"blur": DescriptorBlock(("sigma",), "Gaussian blur sigma (0: not blurred)",
                                        lambda p: p.blur_sigma.float()[:, None])},
    augself=AugSelfTarget(("sigma",), lambda a, b: (a.blur_sigma.float() - b.blur_sigma.float())[:, None]),
    # sigma 0.1 to the paper's 20 px at 224 px, scaled to the image side
    transforms={"blur": FixedTransform("sigma", lambda size: np.linspace(0.1, max(0.2, 20.0 * size / 224), 10).tolist(),
                                       _blur_at)},
    controls={"blur_sigma": Control("float", 0.0, 0.0, 2.0, 0.05)},  # 0 = no blur
    from_settings=lambda s, batch, size, config, device: dict(blur_sigma=_floats(s["blur_sigma"], batch, device)),
    to_settings=lambda p: {"blur_sigma": float(p.blur_sigma[0])},
)

# -- solarize ------------------------------------------------------------------------------------


def _configure_solarize(config) -> None:
    _probability(config, "solarize_p")
    threshold = config.solarize_threshold
    low, high = (threshold, threshold) if isinstance(threshold, (int, float)) else (float(v) for v in threshold)
    if not 0 <= low <= high <= 1:
        raise ValueError(f"solarize_threshold must be a number or an ordered (min, max) in [0, 1], got {threshold}")
    object.__setattr__(config, "solarize_threshold", (float(low), float(high)))


def _draw_solarize(config, batch, height, width, rand, device) -> dict:
    solarized = rand(batch) < config.solarize_p
    # The threshold is drawn last, and only when it varies, so that every pipeline that does
    # not draw it (no solarize, or a fixed threshold as BYOL's) keeps its random stream.
    low, high = config.solarize_threshold
    if config.solarize_p > 0 and low < high:
        threshold = low + (high - low) * rand(batch)
    else:
        threshold = torch.full((batch,), low, device=device)
    return dict(solarize=solarized, solarize_threshold=torch.where(solarized, threshold, torch.ones_like(threshold)))


def _solarize_value(p) -> Tensor:
    return p.solarize_value()


SOLARIZE = Op(
    name="solarize",
    knobs=("solarize_p", "solarize_threshold"),
    configure=_configure_solarize,
    off=dict(solarize_p=0.0),
    on=dict(solarize_p=1.0),
    varies=lambda config: config.solarize_p > 0,
    records=("solarize", "solarize_threshold"),
    draw=_draw_solarize,
    draw_order=6,
    apply=lambda x, p, config, measured: F.solarize(x, p.solarize, p.solarize_threshold),
    apply_order=4,
    descriptor={"solarize": DescriptorBlock(("solarized",), "1 if solarized", lambda p: p.solarize.float()[:, None])},
    augself=AugSelfTarget(("threshold",), lambda a, b: (_solarize_value(a) - _solarize_value(b))[:, None]),
    transforms={"solarize": FixedTransform("threshold", lambda size: np.linspace(0.0, 1.0, 11).tolist(),
                                           lambda x, v: F.solarize(x, _flags(True, x.shape[0], x.device), float(v)))},
    controls={"solarize": Control("bool", False),
              "solarize_threshold": Control("float", 0.5, 0.0, 1.0, 0.01)},  # used when "solarize" is on
    from_settings=lambda s, batch, size, config, device: dict(
        solarize=_flags(s["solarize"], batch, device),
        # as a recipe records it: the threshold where solarized, 1.0 where not
        solarize_threshold=_floats(s["solarize_threshold"] if s["solarize"] else 1.0, batch, device)),
    to_settings=lambda p: {"solarize": bool(p.solarize[0]),
                           "solarize_threshold": float(p.solarize_threshold[0]) if bool(p.solarize[0])
                           else SOLARIZE.controls["solarize_threshold"].default},
)

# -- rotation ------------------------------------------------------------------------------------


def _configure_rotation(config) -> None:
    _probability(config, "rotation_p")
    if config.rotation_p > 0 and config.size[0] != config.size[1]:
        raise ValueError(f"rotation_p > 0 needs a square output size, got {config.size}")


def _draw_rotation(config, batch, height, width, rand, device) -> dict:
    rotate = rand(batch) < config.rotation_p
    k = torch.where(rotate, (rand(batch) * 4).long().clamp(max=3), torch.zeros(batch, dtype=torch.long, device=device))
    return dict(rotation_k=k)


def _rotate_at(images: Tensor, degrees) -> Tensor:
    if float(degrees) % 90 == 0:
        return F.rotate90(images, torch.full((images.shape[0],), int(degrees) // 90, device=images.device))
    # One angle for the whole batch is exactly one grid point; corners are filled black.
    return TF.rotate(images, float(degrees), interpolation=InterpolationMode.BILINEAR, fill=0.0)


ROTATION = Op(
    name="rotation",
    knobs=("rotation_p",),
    configure=_configure_rotation,
    off=dict(rotation_p=0.0),
    on=dict(rotation_p=1.0),  # k uniform in 0..3: a quarter of the views stay unrotated
    varies=lambda config: config.rotation_p > 0,
    records=("rotation_k",),
    draw=_draw_rotation,
    draw_order=3,
    # AugmentConfig allows rotation on square outputs only
    apply=lambda x, p, config, measured: F.rotate90(x, p.rotation_k) if config.size[0] == config.size[1] else x,
    apply_order=5,
    descriptor={"rotation": DescriptorBlock(
        ("k0", "k1", "k2", "k3"), "one-hot number of quarter turns",
        lambda p: torch.nn.functional.one_hot(p.rotation_k.remainder(4), 4).float())},
    augself=AugSelfTarget(("k0", "k1", "k2", "k3"), lambda a, b: (a.rotation_k - b.rotation_k).remainder(4), "classes"),
    transforms={"rotation": FixedTransform("degrees", lambda size: list(range(0, 360, 30)), _rotate_at)},
    controls={"rotation_k": Control("int", 0, 0, 3, 1)},
    from_settings=lambda s, batch, size, config, device: dict(
        rotation_k=torch.full((batch,), int(s["rotation_k"]), dtype=torch.long, device=device)),
    to_settings=lambda p: {"rotation_k": int(p.rotation_k[0])},
)

for _op in (CROP, FLIP, COLOR, GRAYSCALE, BLUR, SOLARIZE, ROTATION):
    register(_op)
_BUILTIN_RECORDS = frozenset(recorded_fields())
