"""Batched image ops with one parameter set per sample.

Each function takes float images (B, 3, H, W) in [0, 1] and per-sample parameters as tensors on
the same device, and returns what `torchvision.transforms.v2.functional` returns when the op is
applied to each image alone with that image's parameters (max abs error ~1e-6 in float32).
There is no randomness here: sampling lives in `pipeline.py`, as in torchvision's
functional / transform split.

Ops that only some samples get (grayscale, hue, rotation) select per sample with masks
(`torch.where`), never by gathering rows: the output shapes never depend on the data, so a
training step makes no host round trip (no `nonzero`) and compiles into one graph.
"""

from __future__ import annotations

import torch
from torch import Tensor

# ITU-R 601-2 luma weights, as torchvision's rgb_to_grayscale.
_LUMA = (0.2989, 0.587, 0.114)

BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)


def _source_coords(start: Tensor, length: Tensor, out_size: int, source_size: int,
                   reverse: Tensor | None) -> Tensor:
    """Normalised grid_sample coordinates (B, out_size) of a 1-D bilinear resize of
    [start, start + length) to `out_size` samples.

    Follows `interpolate(mode="bilinear", align_corners=False, antialias=False)`: the source
    coordinate (dst + 0.5) * length / out_size - 0.5 is clamped to [0, length - 1], which is
    exactly where that kernel stops reading (it clamps below at 0 and its upper tap at
    length - 1), so sampling the whole image there never reads outside the box.
    `reverse` (B,) mirrors the output axis: a horizontal flip costs nothing.
    """
    dst = torch.arange(out_size, device=start.device, dtype=torch.float32)
    if reverse is not None:
        dst = torch.where(reverse[:, None], out_size - 1 - dst, dst)
    length_f = length.to(torch.float32)[:, None]
    src = ((dst + 0.5) * (length_f / out_size) - 0.5).clamp(min=0)
    src = torch.minimum(src, length_f - 1) + start[:, None]
    return (2 * src + 1) / source_size - 1  # pixel centre -> [-1, 1], align_corners=False


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
    b, _, h, w = images.shape
    top, left, height, width = boxes.to(images.device).long().unbind(1)
    if flip is not None:
        flip = flip.to(images.device)
    grid_y = _source_coords(top, height, out_h, h, None)
    grid_x = _source_coords(left, width, out_w, w, flip)
    # One separable box per sample, expressed as a (B, out_h, out_w, 2) sampling grid.
    grid = torch.stack([grid_x[:, None, :].expand(b, out_h, out_w), grid_y[:, :, None].expand(b, out_h, out_w)], dim=-1)
    return torch.nn.functional.grid_sample(images, grid.to(images.dtype), mode="bilinear",
                                           padding_mode="border", align_corners=False)


def rgb_to_grayscale(images: Tensor) -> Tensor:
    """Luma of (B, 3, H, W) images as (B, 1, H, W), torchvision's weights."""
    r, g, b = images.unbind(1)
    return r.mul(_LUMA[0]).add_(g, alpha=_LUMA[1]).add_(b, alpha=_LUMA[2]).unsqueeze(1)


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
    # torchvision's ratio * images + (1 - ratio) * other in one pass; torch.lerp returns its end
    # point exactly at weight 1, so ratio 1 leaves `images` bit for bit unchanged.
    return torch.lerp(other.expand_as(images), images, ratio).clamp_(0, 1)


def adjust_hue(images: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of (B, 3, H, W) by shift (B,) in [-0.5, 0.5] turns, as torchvision's HSV path.

    A hue rotation keeps each pixel's max and min channel, so with chroma = max - min and the
    hue in sixths h6, channel n is max - chroma * clamp(min(k, 4 - k), 0, 1), k = (n + h6) mod 6
    for n = 5, 3, 1 -- the closed form of the sector table in torchvision's _hsv_to_rgb. Ties
    between max channels need no rule: the hue is continuous across sector borders.
    """
    r, g, b = images.unbind(1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    chroma = maxc - minc
    # |numerator| <= chroma, so h6 stays finite; grey pixels (chroma 0) ignore it anyway. The
    # floor must be a normal number of the dtype: 1e-12 rounds to 0 in float16 (then 0 / 0).
    safe = chroma.clamp(min=max(1e-12, torch.finfo(chroma.dtype).tiny))
    h6 = torch.where(maxc == g, (b - r).add_(chroma, alpha=2), (r - g).add_(chroma, alpha=4))
    h6 = torch.where(maxc == r, g - b, h6).div_(safe)
    h6.add_(_per_sample(shift, images).view(-1, 1, 1) * 6)
    channels = []
    for n in (5.0, 3.0, 1.0):
        # k in [0, 6): min(k, 4 - k) == 2 - |k - 2|, computed in place on a fresh tensor.
        ramp = h6.add(n).remainder_(6).sub_(2).abs_().neg_().add_(2).clamp_(0, 1)
        channels.append(torch.addcmul(maxc, chroma, ramp, value=-1))
    return torch.stack(channels, dim=1)


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
    for step in range(4):
        op = order[:, step]
        # Brightness, contrast and saturation are all blends f*x + (1-f)*target; do them in one
        # pass whose target is chosen per sample (0, the mean grey level, or the grey image).
        factor = factors.gather(1, op.clamp(max=SATURATION)[:, None]).squeeze(1)
        factor = torch.where(op == HUE, torch.ones_like(factor), factor)
        # target = is_saturation * grey + is_contrast * mean(grey); 0 for brightness.
        grey = rgb_to_grayscale(out)
        op4 = op.view(-1, 1, 1, 1)
        mean = grey.mean(dim=(1, 2, 3), keepdim=True) * (op4 == CONTRAST)
        target = torch.addcmul(mean, grey, (op4 == SATURATION).to(images.dtype))
        out = _blend(out, target, factor.view(-1, 1, 1, 1))
        # Hue is computed for every sample and kept where this step is its hue step: a shift of
        # 0 must leave the pixels bit for bit unchanged, which the HSV round trip does not.
        hue_here = ((op == HUE) & (factors[:, HUE] != 0)).view(-1, 1, 1, 1)
        out = torch.where(hue_here, adjust_hue(out, factors[:, HUE]), out)
    return out


def grayscale(images: Tensor, mask: Tensor) -> Tensor:
    """(B, 3, H, W) with the samples where mask (B,) is True replaced by their 3-channel luma image."""
    grey = rgb_to_grayscale(images).expand_as(images)
    return torch.where(mask.to(images.device).view(-1, 1, 1, 1), grey, images)


def gaussian_kernels(sigma: Tensor, kernel_size: int) -> Tensor:
    """Normalised 1-D Gaussian kernels (B, kernel_size) for sigma (B,), as torchvision builds them."""
    half = (kernel_size - 1) / 2
    x = torch.linspace(-half, half, kernel_size, device=sigma.device, dtype=torch.float32)
    return torch.softmax(-(x[None, :] ** 2) / (2 * sigma[:, None].float() ** 2), dim=1)


def gaussian_blur(images: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Blur each of (B, C, H, W) with its own isotropic sigma (B,), reflect padding; samples
    with sigma <= 0 are returned unchanged.

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
    sigma = sigma.to(images.device)
    blurred = sigma > 0
    # Unblurred samples get a harmless kernel and keep their pixels through the mask below.
    kernel = gaussian_kernels(torch.where(blurred, sigma, torch.ones_like(sigma)), kernel_size).to(images.dtype)
    kernel = kernel.repeat_interleave(c, dim=0)  # (B*C, k)
    x = torch.nn.functional.pad(images, (pad, pad, pad, pad), mode="reflect").view(1, b * c, h + 2 * pad, w + 2 * pad)
    x = torch.nn.functional.conv2d(x, kernel.view(b * c, 1, kernel_size, 1), groups=b * c)
    x = torch.nn.functional.conv2d(x, kernel.view(b * c, 1, 1, kernel_size), groups=b * c)
    return torch.where(blurred.view(-1, 1, 1, 1), x.view(b, c, h, w), images)


def solarize(images: Tensor, mask: Tensor, threshold: float | Tensor) -> Tensor:
    """Invert pixels >= threshold in the samples where mask (B,) is True, as torchvision's
    solarize; `threshold` is one number or one per sample (B,)."""
    if isinstance(threshold, Tensor):
        threshold = _per_sample(threshold, images)
    invert = mask.to(images.device).view(-1, 1, 1, 1) & (images >= threshold)
    return torch.where(invert, 1 - images, images)


def rotate90(images: Tensor, k: Tensor) -> Tensor:
    """Rotate each square image of (B, C, S, S) counter-clockwise by 90 * k[b] degrees."""
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"90-degree rotation needs square images, got {tuple(images.shape[-2:])}")
    k = k.to(images.device).remainder(4).view(-1, 1, 1, 1)
    out = images
    for turns in (1, 2, 3):
        out = torch.where(k == turns, torch.rot90(images, turns, dims=(-2, -1)), out)
    return out
