"""A batched SSL augmentation pipeline that draws its own parameters for every sample.

Ops run in a fixed order: crop, flip, colour jitter, grayscale, blur, solarize, rotation.
`AugmentPipeline.sample` draws an `AugParams` (one row per image) and `AugmentPipeline.replay`
applies a given `AugParams`; calling the pipeline does both. `AugmentPipeline.apply` is replay
without the input checks: the training step's path, which never waits on the device (no data-
dependent shapes, no host syncs) and compiles with `torch.compile(fullgraph=True)`. The sampling laws follow
torchvision's transforms (RandomResizedCrop's ten tries and centre-crop fallback, ColorJitter's
factor ranges and random op order, RandomApply probabilities), drawn per sample instead of once
per call.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import Tensor

from ssl_lib.augment import functional as F
from ssl_lib.augment.params import AugParams
from ssl_lib.utils.checks import check_images, check_size

_CROP_TRIES = 10  # as torchvision's RandomResizedCrop.get_params

# On CPU a batch is processed in chunks of at most this many bytes of output. Fresh tensors
# much larger than this come from new, page-faulting memory on every op, which made 96 px
# batches of 256 about 30% slower than chunks of 128 (benchmarks/augment_throughput.py).
_CPU_CHUNK_BYTES = 16 * 2**20


def _cpu_chunk_size(size: tuple[int, int]) -> int:
    return max(1, _CPU_CHUNK_BYTES // (3 * size[0] * size[1] * 4))


@functools.lru_cache(maxsize=None)
def _constant(values: tuple, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """A small read-only tensor of Python numbers on `device`, copied there once per process: a
    copy from the host inside every step would make the step wait for the device (CUDA)."""
    return torch.tensor(values, device=device, dtype=dtype)


def default_blur_kernel(size: int) -> int:
    """SimCLR's blur kernel: about 10% of the image side, made odd (23 at 224 px, 9 at 96 px)."""
    return int(0.1 * size) // 2 * 2 + 1


def _as_range(name: str, value, centre: float, lower_bound: float | None) -> tuple[float, float]:
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
    threshold x, i.e. (x, x) (BYOL's recipes: 0.5).
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

    def __post_init__(self):
        size = check_size(self.size)
        object.__setattr__(self, "size", size)
        if self.crop not in ("random", "center"):
            raise ValueError(f"crop must be 'random' or 'center', got {self.crop!r}")
        low, high = self.scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {self.scale}")
        low, high = self.ratio
        if not 0 < low <= high:
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {self.ratio}")
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p", "rotation_p"):
            p = getattr(self, name)
            if not 0 <= p <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        for name in ("brightness", "contrast", "saturation"):
            object.__setattr__(self, name, _as_range(name, getattr(self, name), 1.0, 0.0))
        object.__setattr__(self, "hue", _as_range("hue", self.hue, 0.0, None))
        if not -0.5 <= self.hue[0] <= self.hue[1] <= 0.5:
            raise ValueError(f"hue range must lie in [-0.5, 0.5], got {self.hue}")
        low, high = self.blur_sigma
        if not 0 < low <= high:
            raise ValueError(f"blur_sigma must satisfy 0 < min <= max, got {self.blur_sigma}")
        kernel = default_blur_kernel(min(size)) if self.blur_kernel is None else self.blur_kernel
        if not isinstance(kernel, int) or kernel <= 0 or kernel % 2 == 0:
            raise ValueError(f"blur_kernel must be an odd positive int, got {kernel}")
        object.__setattr__(self, "blur_kernel", kernel)
        threshold = self.solarize_threshold
        low, high = (threshold, threshold) if isinstance(threshold, (int, float)) else (float(v) for v in threshold)
        if not 0 <= low <= high <= 1:
            raise ValueError(f"solarize_threshold must be a number or an ordered (min, max) in [0, 1], got {threshold}")
        object.__setattr__(self, "solarize_threshold", (float(low), float(high)))
        if self.rotation_p > 0 and size[0] != size[1]:
            raise ValueError(f"rotation_p > 0 needs a square output size, got {size}")

    def varying_keys(self) -> set[str]:
        """Descriptor keys (and AugSelf groups) whose values this config actually varies."""
        jitter = self.jitter_p > 0 and any(low != high for low, high in self.jitter_ranges)
        varying = {"crop": self.crop == "random", "flip": self.flip_p > 0, "color": jitter, "color_shift": jitter,
                   "grayscale": self.grayscale_p > 0, "blur": self.blur_p > 0, "solarize": self.solarize_p > 0,
                   "rotation": self.rotation_p > 0}
        return {key for key, on in varying.items() if on}

    @property
    def jitter_ranges(self) -> tuple[tuple[float, float], ...]:
        """(min, max) of brightness, contrast, saturation and hue, in `jitter_factors` order."""
        return (self.brightness, self.contrast, self.saturation, self.hue)


class AugmentPipeline:
    """Crop, flip, colour jitter, grayscale, blur, solarize and rotate a batch, per sample.

    >>> pipeline = recipe("simclr", 32)
    >>> views, params = pipeline(images)          # images (B, 3, H, W) float in [0, 1]
    >>> same, _ = pipeline.replay(images, params)  # identical views
    """

    def __init__(self, config: AugmentConfig):
        self.config = config

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())
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
            views, shift = self._apply_chunk(images, params)
        else:
            views = images.new_empty(batch, 3, *self.config.size)
            shift = images.new_empty(batch, 3)
            for start in range(0, batch, chunk):
                part = slice(start, start + chunk)
                views[part], shift[part] = self._apply_chunk(images[part], params[part])
        return views, replace(params, color_shift=shift)

    def _apply_chunk(self, images: Tensor, params: AugParams) -> tuple[Tensor, Tensor]:
        cfg = self.config
        x = F.resized_crop(images, params.crop_box, cfg.size, flip=params.flip)
        mean_before = x.mean(dim=(2, 3))
        x = F.color_jitter(x, params.jitter_factors, params.jitter_order)
        # CASSLE's colour mean shift is measured on the views actually produced.
        color_shift = mean_before - x.mean(dim=(2, 3))
        # Every op runs on the whole batch and masks the samples it skips: asking which samples
        # need an op would wait on the device. Params are obeyed whatever the config's
        # probabilities (the explorer and tests replay edited params).
        x = F.grayscale(x, params.grayscale)
        x = F.gaussian_blur(x, params.blur_sigma, cfg.blur_kernel)
        x = F.solarize(x, params.solarize, params.solarize_threshold)
        if cfg.size[0] == cfg.size[1]:  # AugmentConfig allows rotation on square outputs only
            x = F.rotate90(x, params.rotation_k)
        return x, color_shift

    def sample(self, batch: int, source_size, device=None, generator: torch.Generator | None = None) -> AugParams:
        """Draw parameters for `batch` images of `source_size` (H, W) on `device`."""
        cfg = self.config
        device = torch.device(device) if device is not None else torch.device("cpu")
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())  # one cache key per GPU
        height, width = (int(s) for s in source_size)
        rand = lambda *shape: torch.rand(shape, generator=generator, device=device)

        if cfg.crop == "random":
            crop_box = _sample_crop_boxes(batch, height, width, cfg.scale, cfg.ratio, rand)
        else:
            crop_box = _center_box(height, width, cfg.size[1] / cfg.size[0], device).expand(batch, 4).clone()

        jitter_applied = rand(batch) < cfg.jitter_p
        low = _constant(tuple(r[0] for r in cfg.jitter_ranges), device)
        high = _constant(tuple(r[1] for r in cfg.jitter_ranges), device)
        factors = low + (high - low) * rand(batch, 4)
        identity = _constant((1.0, 1.0, 1.0, 0.0), device)
        jitter_factors = torch.where(jitter_applied[:, None], factors, identity)
        jitter_order = rand(batch, 4).argsort(dim=1)  # uniform over the 24 orders

        sigma_low, sigma_high = cfg.blur_sigma
        sigma = sigma_low + (sigma_high - sigma_low) * rand(batch)
        blur_sigma = torch.where(rand(batch) < cfg.blur_p, sigma, torch.zeros_like(sigma))

        rotate = rand(batch) < cfg.rotation_p
        rotation_k = torch.where(rotate, (rand(batch) * 4).long().clamp(max=3), torch.zeros(batch, dtype=torch.long, device=device))

        params = dict(
            crop_box=crop_box,
            source_size=_constant((height, width), device, torch.int64).expand(batch, 2).clone(),
            flip=rand(batch) < cfg.flip_p,
            jitter_applied=jitter_applied,
            jitter_factors=jitter_factors,
            jitter_order=jitter_order,
            jitter_range=(high - low).expand(batch, 4).clone(),
            grayscale=rand(batch) < cfg.grayscale_p,
            blur_sigma=blur_sigma,
            solarize=rand(batch) < cfg.solarize_p,
            rotation_k=rotation_k,
            color_shift=torch.zeros(batch, 3, device=device),
        )
        # The threshold is drawn last, and only when it varies, so that every pipeline that does
        # not draw it (no solarize, or a fixed threshold as BYOL's) keeps its random stream.
        thr_low, thr_high = cfg.solarize_threshold
        if cfg.solarize_p > 0 and thr_low < thr_high:
            threshold = thr_low + (thr_high - thr_low) * rand(batch)
        else:
            threshold = torch.full((batch,), thr_low, device=device)
        solarized = params["solarize"]
        params["solarize_threshold"] = torch.where(solarized, threshold, torch.ones_like(threshold))
        return AugParams(**params)


def _sample_crop_boxes(batch, height, width, scale, ratio, rand) -> Tensor:
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
    fallback = _constant(((height - fb_h) // 2, (width - fb_w) // 2, fb_h, fb_w), boxes.device, torch.int64)
    return torch.where(fits.any(dim=1, keepdim=True), boxes, fallback)


def _center_box(height: int, width: int, aspect: float, device) -> Tensor:
    """(1, 4) the largest centred box of width / height = aspect (the whole image when it matches)."""
    if width / height > aspect:
        box_h, box_w = height, min(width, int(round(height * aspect)))
    else:
        box_h, box_w = min(height, int(round(width / aspect))), width
    return _constant(((height - box_h) // 2, (width - box_w) // 2, box_h, box_w), device, torch.int64)[None]


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
    fields, e.g. recipe("mocov2", 32, blur_p=0.0, rotation_p=0.5).
    """
    if name not in _RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known recipes: {list(_RECIPES)}")
    known = {f.name for f in fields(AugmentConfig)} - {"size"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"unknown recipe override(s) {unknown}; AugmentConfig fields: {sorted(known)}")
    return AugmentPipeline(AugmentConfig(size=size, **{**_RECIPES[name], **overrides}))


def recipe_settings(size=32) -> list[dict]:
    """Every recipe's settings at output `size`, one dict per recipe (recipe name first); the
    output size and blur kernel, which follow from `size`, are left out."""
    rows = []
    for name in RECIPES:
        settings = asdict(recipe(name, size).config)
        rows.append({"recipe": name, **{k: v for k, v in settings.items() if k not in ("size", "blur_kernel")}})
    return rows


def with_settings(pipeline: AugmentPipeline, **changes) -> AugmentPipeline:
    """A new pipeline with some settings changed (validated like a fresh config)."""
    return AugmentPipeline(replace(pipeline.config, **changes))
