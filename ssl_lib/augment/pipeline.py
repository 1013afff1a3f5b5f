"""A batched SSL augmentation pipeline that draws its own parameters for every sample.

The ops are those of the registry `ssl_lib.augment.ops`, applied in its order (crop with flip,
colour jitter, grayscale, blur, solarize, rotation, then any registered op).
`AugmentPipeline.sample` draws an `AugParams` (one row per image) and `AugmentPipeline.replay`
applies a given `AugParams`; calling the pipeline does both. `AugmentPipeline.apply` is replay
without the input checks: the training step's path, which never waits on the device (no data-
dependent shapes, no host syncs) and compiles with `torch.compile(fullgraph=True)`. The sampling
laws follow torchvision's transforms (RandomResizedCrop's ten tries and centre-crop fallback, ColorJitter's
factor ranges and random op order, RandomApply probabilities), drawn per sample instead of once
per call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import Tensor

from ssl_lib.augment import ops
from ssl_lib.augment.params import AugParams
from ssl_lib.utils.checks import check_images, check_size

# On CPU a batch is processed in chunks of at most this many bytes of output. Fresh tensors
# much larger than this come from new, page-faulting memory on every op, which made 96 px
# batches of 256 about 30% slower than chunks of 128 (benchmarks/augment_throughput.py).
_CPU_CHUNK_BYTES = 16 * 2**20


def _cpu_chunk_size(size: tuple[int, int]) -> int:
    return max(1, _CPU_CHUNK_BYTES // (3 * size[0] * size[1] * 4))


default_blur_kernel = ops.default_blur_kernel  # part of this module's API


@dataclass(frozen=True)
class AugmentConfig:
    """Every setting of a pipeline. Probabilities are per sample.

    `size` is the output (height, width); `crop` is "random" (RandomResizedCrop with `scale`,
    `ratio`) or "center" (the largest centred box with the output's aspect ratio, e.g. the whole
    image for square inputs). Jitter strengths follow torchvision's ColorJitter: a number x means
    factors in [max(0, 1 - x), 1 + x] (hue: [-x, x]), a pair is the range itself.
    `blur_kernel=None` means `default_blur_kernel(size)`. With probability `rotation_p` a view
    is turned by 90 * k degrees, k uniform in {0, 1, 2, 3} (AugSelf's 4-way rotation task).
    With probability `solarize_p` a view's pixels >= its threshold are inverted (torchvision's
    solarize); the threshold is drawn per view uniformly in `solarize_threshold` = (min, max),
    by default (0, 1) as AugSelf's kornia RandomSolarize(0.5); a number x means the fixed
    threshold x, i.e. (x, x) (BYOL's recipes: 0.5). `extra` holds the settings of ops registered
    beyond these (`ssl_lib.augment.ops.register`; read them as attributes). Each op checks its own
    settings (`ssl_lib.augment.ops.Op.configure`).
    """

    size: tuple[int, int]
    crop: str = "random"
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    brightness: float | tuple[float, float] = 0.4
    contrast: float | tuple[float, float] = 0.4
    saturation: float | tuple[float, float] = 0.4
    hue: float | tuple[float, float] = 0.1
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel: int | None = None
    solarize_p: float = 0.0
    solarize_threshold: float | tuple[float, float] = (0.0, 1.0)
    rotation_p: float = 0.0
    extra: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "size", check_size(self.size))
        # Settings of ops registered beyond the built-in ones live in `extra` (given as a dict or
        # pairs), defaults filled in, stored as sorted (name, value) pairs: the config stays
        # immutable and hashable like its fields.
        added = ops.added_settings()
        given = dict(self.extra)
        unknown = sorted(set(given) - set(added))
        if unknown:
            raise ValueError(f"unknown augmentation setting(s) {unknown}; registered ops add {sorted(added)}")
        object.__setattr__(self, "extra", tuple(sorted({**added, **given}.items())))
        for op in ops.ops():  # each op checks (and normalises) its own settings
            op.configure(self)

    def __getattr__(self, name: str):
        # only reached for names that are not fields: a registered op's settings
        extra = dict(self.__dict__.get("extra") or ())
        if name in extra:
            return extra[name]
        raise AttributeError(f"AugmentConfig has no setting {name!r}")

    @classmethod
    def build(cls, size, **settings) -> "AugmentConfig":
        """A config from flat settings: the fields above and the registered ops' settings."""
        return cls(size=size, **_split_settings(settings))

    def changed(self, **changes) -> "AugmentConfig":
        """A copy with some settings (fields or registered ops' settings) changed, checked again."""
        split = _split_settings(changes)
        added = ops.added_settings()
        # an op unregistered since this config was made leaves its settings behind: drop them
        kept = {name: value for name, value in self.extra if name in added}
        extra = {**kept, **split.pop("extra")}
        return replace(self, **split, extra=extra)

    def settings(self) -> dict:
        """Every setting by name, flat (the registered ops' settings next to the fields)."""
        values = asdict(self)
        extra = dict(values.pop("extra"))
        return {**values, **extra}

    def varying_keys(self) -> set[str]:
        """Descriptor keys and AugSelf groups whose values this config actually varies."""
        return {key for op in ops.ops() if op.varies(self) for key in (op.name, *op.descriptor)}

    @property
    def jitter_ranges(self) -> tuple[tuple[float, float], ...]:
        """(min, max) of brightness, contrast, saturation and hue, in `jitter_factors` order."""
        return (self.brightness, self.contrast, self.saturation, self.hue)


ops.reserve_attributes("settings", (name for name in dir(AugmentConfig) if not name.startswith("__")))


class AugmentPipeline:
    """Crop, flip, colour jitter, grayscale, blur, solarize and rotate a batch, per sample.

    >>> pipeline = recipe("simclr", 32)
    >>> views, params = pipeline(images)          # images (B, 3, H, W) float in [0, 1]
    >>> same, _ = pipeline.replay(images, params)  # identical views
    """

    def __init__(self, config: AugmentConfig):
        self.config = config

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.config.settings().items())
        return f"AugmentPipeline({settings})"

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, AugParams]:
        """Augment (B, 3, H, W) float images in [0, 1]; returns views (B, 3, *size) and their params."""
        check_images(images)
        return self.apply(images, self.sample(images.shape[0], images.shape[-2:], images.device, generator))

    def replay(self, images: Tensor, params: AugParams) -> tuple[Tensor, AugParams]:
        """Apply recorded `params` to (B, 3, H, W) images; reproduces the views of the call that drew them.

        Returns the views and a new AugParams (on the images' device) equal to `params` but for
        `color_shift`, which is measured on these views as a call does; `params` is not changed.
        ValueError when `params.source_size` (B, 2) is not the images' (H, W).
        """
        check_images(images)
        if len(params) != images.shape[0]:
            raise ValueError(f"params describe {len(params)} images but images has {images.shape[0]}")
        params = params.to(images.device)
        # Crop boxes are in the source's pixels: on another size they crop the wrong region.
        size = torch.tensor(images.shape[-2:], device=images.device)
        if len(params) and (params.source_size != size).any():
            recorded = sorted({tuple(s) for s in params.source_size.tolist()})
            raise ValueError(f"params.source_size {recorded} (height, width) differs from the images' "
                             f"{tuple(images.shape[-2:])}: params recorded on other images cannot be replayed")
        return self.apply(images, params)

    def apply(self, images: Tensor, params: AugParams) -> tuple[Tensor, AugParams]:
        """Run the ops with `params` on (B, 3, H, W) images in [0, 1], unchecked (see `replay`).

        Returns the views (B, 3, *size) in the images' dtype and `params` with the measured
        colour shift, which depends on the pixels. Eager on CPU the batch runs in chunks (see
        _CPU_CHUNK_BYTES). Half-precision images are augmented in float32 and the views rounded
        back: float16 cannot hold the ops' small intermediates, and grid sampling and blurs in
        bfloat16 would add their own rounding to every op."""
        if images.dtype in (torch.float16, torch.bfloat16):
            views, params = self.apply(images.float(), params)
            return views.to(images.dtype), params
        batch = images.shape[0]
        eager_cpu = images.device.type == "cpu" and not torch.compiler.is_compiling()
        chunk = _cpu_chunk_size(self.config.size) if eager_cpu else batch
        if chunk >= batch:
            views, measured = self._apply_chunk(images, params)
        else:
            views = images.new_empty(batch, 3, *self.config.size)
            parts = []
            for start in range(0, batch, chunk):
                part = slice(start, start + chunk)
                views[part], values = self._apply_chunk(images[part], params[part])
                parts.append(values)
            measured = {name: torch.cat([values[name] for values in parts]) for name in parts[0]}
        return views, params.with_values(**measured)

    def _apply_chunk(self, images: Tensor, params: AugParams) -> tuple[Tensor, dict[str, Tensor]]:
        # Every op runs on the whole batch and masks the samples it skips: asking which samples
        # need an op would wait on the device. Params are obeyed whatever the config's
        # probabilities (the explorer and tests replay edited params).
        x, measured = images, {}
        for op in ops.in_apply_order():
            x = op.apply(x, params, self.config, measured)
        return x, measured

    def sample(self, batch: int, source_size, device=None, generator: torch.Generator | None = None) -> AugParams:
        """Draw parameters for `batch` images of `source_size` (H, W) on `device`."""
        cfg = self.config
        device = torch.device(device) if device is not None else torch.device("cpu")
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())  # one cache key per GPU
        height, width = (int(s) for s in source_size)
        rand = lambda *shape: torch.rand(shape, generator=generator, device=device)
        values = {}
        for op in ops.in_draw_order():  # the order the random numbers are drawn in
            values.update(op.draw(cfg, batch, height, width, rand, device))
        return AugParams.from_values(values)


# Settings of the recipes the papers use. Blur kernels default to ~10% of the output side.
_RECIPES = {
    # SimCLR (Chen et al. 2020), colour strength s = 1: jitter (0.8, 0.8, 0.8, 0.2).
    "simclr": dict(scale=(0.08, 1.0), brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2),
    # MoCo v2 (Chen et al. 2020): the "Default" set of Ericsson et al.
    "mocov2": dict(scale=(0.2, 1.0)),
    # BYOL (Grill et al. 2020): asymmetric blur and solarize between its two views.
    # Their solarize threshold is fixed at 0.5; the other recipes draw it in (0, 1) as AugSelf.
    "byol1": dict(saturation=0.2, blur_p=1.0, solarize_p=0.0, solarize_threshold=0.5),
    "byol2": dict(saturation=0.2, blur_p=0.1, solarize_p=0.2, solarize_threshold=0.5),
    # Ericsson et al.: MoCo v2's spatial ops alone, and its appearance ops with a centre crop.
    "spatial": dict(scale=(0.2, 1.0), jitter_p=0.0, grayscale_p=0.0, blur_p=0.0),
    "appearance": dict(crop="center", flip_p=0.0),
}
RECIPES = tuple(_RECIPES)


def recipe(name: str, size, **overrides) -> AugmentPipeline:
    """The named recipe's pipeline at output `size` (int or (H, W)), with settings overridden.

    Names: "simclr", "mocov2", "byol1", "byol2" (BYOL's two views), "spatial" (crop + flip) and
    "appearance" (jitter + grayscale + blur on a centre crop). Overrides are AugmentConfig
    fields or a registered op's settings, e.g. recipe("mocov2", 32, blur_p=0.0, rotation_p=0.5).
    """
    if name not in _RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known recipes: {list(_RECIPES)}")
    known = _setting_names()
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown recipe override(s) {unknown}; AugmentConfig settings: {sorted(known)}")
    return AugmentPipeline(AugmentConfig.build(size, **{**_RECIPES[name], **overrides}))


def recipe_settings(size=32) -> list[dict]:
    """Every recipe's settings at output `size`, one dict per recipe (recipe name first); the
    output size and blur kernel, which follow from `size`, are left out."""
    rows = []
    for name in RECIPES:
        settings = recipe(name, size).config.settings()
        rows.append({"recipe": name, **{k: v for k, v in settings.items() if k not in ("size", "blur_kernel")}})
    return rows


def with_settings(pipeline: AugmentPipeline, **changes) -> AugmentPipeline:
    """A new pipeline with some settings changed (validated like a fresh config)."""
    return AugmentPipeline(pipeline.config.changed(**changes))


def _setting_names() -> set[str]:
    """Every setting a config takes by name: its fields and the registered ops' settings."""
    return ({f.name for f in fields(AugmentConfig)} - {"size", "extra"}) | set(ops.added_settings())


def _split_settings(settings: dict) -> dict:
    """Flat settings -> AugmentConfig keyword arguments, the registered ops' settings under `extra`."""
    added = ops.added_settings()
    return {**{k: v for k, v in settings.items() if k not in added},
            "extra": {k: v for k, v in settings.items() if k in added}}
