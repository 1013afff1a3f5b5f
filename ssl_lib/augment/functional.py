"""Batched image ops with one parameter set per sample.

Each function takes float images (B, 3, H, W) in [0, 1] and per-sample parameters as tensors on
the same device, and returns what `torchvision.transforms.v2.functional` returns when the op is
applied to each image alone with that image's parameters (max abs error ~1e-6 in float32).
There is no randomness here: sampling lives in `pipeline.py`, as in torchvision's
functional / transform split.
"""

from __future__ import annotations

import torch
from torch import Tensor

# ITU-R 601-2 luma weights, as torchvision's rgb_to_grayscale.
_LUMA = (0.2989, 0.587, 0.114)

BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)
JITTER_OPS = ("brightness", "contrast", "saturation", "hue")


def check_images(images: Tensor, name: str = "images") -> None:
    """Raise if `images` is not a float batch (B, 3, H, W) with values in [0, 1]."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0, 1], got dtype {images.dtype}; "
                        "convert uint8 with images.float() / 255")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"{name} values must lie in [0, 1], got range "
                         f"[{images.min().item():.4g}, {images.max().item():.4g}]")


def _bilinear_taps(start: Tensor, length: Tensor, out_size: int, reverse: Tensor | None):
    """Source taps of a 1-D bilinear resize of [start, start + length) to `out_size` samples.

    Follows `interpolate(mode="bilinear", align_corners=False, antialias=False)`: the source
    coordinate (dst + 0.5) * length / out_size - 0.5 is clamped to [0, length - 1], which is
    exactly where that kernel stops reading (it clamps below at 0 and the upper tap at length-1).
    `reverse` (B,) mirrors the output axis, which is how a horizontal flip is fused in for free.

    Returns lower index, upper index (B, out_size) int64 and upper weight (B, out_size) float.
    """
    dst = torch.arange(out_size, device=start.device, dtype=torch.float32)
    if reverse is not None:
        dst = torch.where(reverse[:, None], out_size - 1 - dst, dst)
    length_f = length.to(torch.float32)[:, None]
    src = ((dst + 0.5) * (length_f / out_size) - 0.5).clamp(min=0)
    src = torch.minimum(src, length_f - 1)
    lower = src.floor()
    weight = src - lower
    lower = lower.long()
    upper = torch.minimum(lower + 1, length[:, None] - 1)
    return lower + start[:, None], upper + start[:, None], weight


def resized_crop(images: Tensor, boxes: Tensor, size: tuple[int, int],
                 flip: Tensor | None = None) -> Tensor:
    """Crop a box from each image and resize it bilinearly (no antialias), optionally mirrored.

    Args:
        images: (B, C, H, W) float.
        boxes: (B, 4) int64 top, left, height, width in source pixels.
        size: output (height, width).
        flip: optional (B,) bool; True mirrors that output left-right (torchvision's hflip).
    Returns:
        (B, C, size[0], size[1]), equal to `resized_crop(..., antialias=False)` then `hflip`.
    """
    out_h, out_w = size
    b, c, h, w = images.shape
    top, left, height, width = boxes.to(images.device).long().unbind(1)
    y0, y1, wy = _bilinear_taps(top, height, out_h, None)
    x0, x1, wx = _bilinear_taps(left, width, out_w, flip)
    # Gather rows then columns: separable, 4 reads per output pixel, no per-sample loop.
    rows = lambda idx: images.gather(2, idx[:, None, :, None].expand(b, c, out_h, w))
    top_rows, bottom_rows = rows(y0), rows(y1)
    wy = wy.to(images.dtype)[:, None, :, None]
    mixed = top_rows + (bottom_rows - top_rows) * wy
    cols = lambda idx: mixed.gather(3, idx[:, None, None, :].expand(b, c, out_h, out_w))
    left_cols, right_cols = cols(x0), cols(x1)
    wx = wx.to(images.dtype)[:, None, None, :]
    return left_cols + (right_cols - left_cols) * wx


def rgb_to_grayscale(images: Tensor) -> Tensor:
    """Luma of (B, 3, H, W) images as (B, 1, H, W), torchvision's weights."""
    r, g, b = images.unbind(1)
    return (r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]).unsqueeze(1)


def _per_sample(values: Tensor, images: Tensor) -> Tensor:
    return values.to(device=images.device, dtype=images.dtype).view(-1, 1, 1, 1)


def adjust_brightness(images: Tensor, factor: Tensor) -> Tensor:
    """Multiply (B, 3, H, W) by factor (B,) and clamp, as torchvision's adjust_brightness."""
    return (images * _per_sample(factor, images)).clamp(0, 1)


def adjust_contrast(images: Tensor, factor: Tensor) -> Tensor:
    """Blend (B, 3, H, W) with each image's mean grey level by factor (B,), then clamp."""
    mean = rgb_to_grayscale(images).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(images, mean, _per_sample(factor, images))


def adjust_saturation(images: Tensor, factor: Tensor) -> Tensor:
    """Blend (B, 3, H, W) with its greyscale version by factor (B,), then clamp."""
    return _blend(images, rgb_to_grayscale(images), _per_sample(factor, images))


def _blend(images: Tensor, other: Tensor, ratio: Tensor) -> Tensor:
    return (images * ratio + other * (1 - ratio)).clamp(0, 1)


def adjust_hue(images: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of (B, 3, H, W) by shift (B,) in [-0.5, 0.5] turns, via HSV.

    Same HSV convention as torchvision (Pillow's): hue in [0, 1), grey pixels get hue 0.
    """
    maxc, _ = images.max(dim=1)
    minc, _ = images.min(dim=1)
    r, g, b = images.unbind(1)
    chroma = maxc - minc
    is_grey = chroma == 0
    safe_chroma = torch.where(is_grey, torch.ones_like(chroma), chroma)
    sat = chroma / torch.where(is_grey, torch.ones_like(maxc), maxc)
    # Hue sector by the channel holding the max (r wins ties, then g), as Pillow does.
    hue = torch.where(maxc == r, (g - b) / safe_chroma,
                      torch.where(maxc == g, 2 + (b - r) / safe_chroma, 4 + (r - g) / safe_chroma))
    hue = (hue / 6 + 1).fmod(1)
    hue = (hue + _per_sample(shift, images).view(-1, 1, 1)).remainder(1)
    return _hsv_to_rgb(hue, sat, maxc)


def _hsv_to_rgb(hue: Tensor, sat: Tensor, value: Tensor) -> Tensor:
    """(B, H, W) hue, saturation, value -> (B, 3, H, W) RGB.

    The closed form c = v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6h) mod 6 for n = 5, 3, 1,
    selects the same piecewise-linear segment as the sector table in torchvision's _hsv_to_rgb.
    """
    n = torch.tensor([5.0, 3.0, 1.0], device=hue.device, dtype=hue.dtype).view(1, 3, 1, 1)
    k = (n + hue.unsqueeze(1) * 6).remainder(6)
    ramp = torch.minimum(k, 4 - k).clamp(0, 1)
    value, sat = value.unsqueeze(1), sat.unsqueeze(1)
    return value - value * sat * ramp


def color_jitter(images: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """Apply brightness, contrast, saturation and hue in a per-sample order.

    Args:
        images: (B, 3, H, W) in [0, 1].
        factors: (B, 4) brightness, contrast, saturation factors and hue shift. The identity
            (1, 1, 1, 0) leaves a sample bit-for-bit unchanged, so unjittered samples need no mask.
        order: (B, 4) int64, a permutation of 0..3 (brightness, contrast, saturation, hue) per row.
    Returns:
        (B, 3, H, W), equal to torchvision's adjust_* applied one after another in `order`.
    """
    out = images
    factors = factors.to(device=images.device, dtype=images.dtype)
    order = order.to(images.device)
    zero = torch.zeros((), device=images.device, dtype=images.dtype)
    for step in range(4):
        op = order[:, step]
        # Brightness, contrast and saturation are all blends f*x + (1-f)*target; do them in one
        # pass whose target is chosen per sample (0, the mean grey level, or the grey image).
        factor = factors.gather(1, op.clamp(max=SATURATION)[:, None]).squeeze(1)
        factor = torch.where(op == HUE, torch.ones_like(factor), factor)
        grey = rgb_to_grayscale(out)
        mean = grey.mean(dim=(1, 2, 3), keepdim=True)
        op4 = op.view(-1, 1, 1, 1)
        target = torch.where(op4 == BRIGHTNESS, zero, torch.where(op4 == CONTRAST, mean, grey))
        out = _blend(out, target, factor.view(-1, 1, 1, 1))
        hue_rows = ((op == HUE) & (factors[:, HUE] != 0)).nonzero().squeeze(1)
        if hue_rows.numel():
            out = out.index_copy(0, hue_rows, adjust_hue(out[hue_rows], factors[hue_rows, HUE]))
    return out


def grayscale(images: Tensor, mask: Tensor) -> Tensor:
    """Replace the samples where mask (B,) is True by their 3-channel luma image."""
    grey = rgb_to_grayscale(images).expand_as(images)
    return torch.where(mask.to(images.device).view(-1, 1, 1, 1), grey, images)


def gaussian_kernels(sigma: Tensor, kernel_size: int) -> Tensor:
    """Normalised 1-D Gaussian kernels (B, kernel_size) for sigma (B,), as torchvision builds them."""
    half = (kernel_size - 1) / 2
    x = torch.linspace(-half, half, kernel_size, device=sigma.device, dtype=torch.float32)
    return torch.softmax(-(x[None, :] ** 2) / (2 * sigma[:, None].float() ** 2), dim=1)


def gaussian_blur(images: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Blur each of (B, C, H, W) with its own isotropic sigma (B,) > 0, reflect padding.

    A separable pair of grouped convolutions (one group per channel of every sample), equal to
    torchvision's 2-D gaussian_blur with the outer-product kernel.
    """
    if kernel_size % 2 == 0 or kernel_size <= 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    b, c, h, w = images.shape
    if b == 0:
        return images
    pad = kernel_size // 2
    if pad >= min(h, w):
        raise ValueError(f"kernel_size {kernel_size} needs images larger than {pad} px for reflect "
                         f"padding, got {h}x{w}")
    kernel = gaussian_kernels(sigma.to(images.device), kernel_size).to(images.dtype)
    kernel = kernel.repeat_interleave(c, dim=0)  # (B*C, k)
    x = torch.nn.functional.pad(images, (pad, pad, pad, pad), mode="reflect").view(1, b * c, h + 2 * pad, w + 2 * pad)
    x = torch.nn.functional.conv2d(x, kernel.view(b * c, 1, kernel_size, 1), groups=b * c)
    x = torch.nn.functional.conv2d(x, kernel.view(b * c, 1, 1, kernel_size), groups=b * c)
    return x.view(b, c, h, w)


def solarize(images: Tensor, mask: Tensor, threshold: float) -> Tensor:
    """Invert pixels >= threshold in the samples where mask (B,) is True."""
    invert = mask.to(images.device).view(-1, 1, 1, 1) & (images >= threshold)
    return torch.where(invert, 1 - images, images)


def rotate90(images: Tensor, k: Tensor) -> Tensor:
    """Rotate each square image of (B, C, S, S) counter-clockwise by 90 * k[b] degrees."""
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"90-degree rotation needs square images, got {tuple(images.shape[-2:])}")
    k = k.to(images.device).remainder(4)
    out = images
    for turns in (1, 2, 3):
        rows = (k == turns).nonzero().squeeze(1)
        if rows.numel():
            out = out.index_copy(0, rows, torch.rot90(images[rows], turns, dims=(-2, -1)))
    return out
