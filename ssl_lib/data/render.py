"""Vectorised rasteriser for synthetic scenes: SDF objects over textured backgrounds.

Every image of a batch is evaluated at once on a shared pixel grid.  Per-image quantities
are kept as (N, 1, W) row and (N, H, 1) column vectors as long as possible and only
broadcast to (N, H, W) at the last step: rotations, the background grating (via
``sin(a + b) = sin a cos b + cos a sin b``) and the shading gradient are all separable,
which keeps the number of full-size tensor ops, and so the cost, low.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .latents import Latents
from .shapes import NUM_SHAPES, RAW_SDFS, shape_frames

PIXELS_PER_CHUNK = 1 << 20  # ~1M pixels: 1024 images at 32 px, ~40 MB of float32 temporaries


def hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """HSV in [0, 1] (any shape) -> RGB in [0, 1] with a trailing dimension of 3."""
    n = torch.tensor([5.0, 3.0, 1.0], device=h.device, dtype=h.dtype)
    k = torch.remainder(n + h.unsqueeze(-1) * 6, 6)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return v.unsqueeze(-1) * (1 - s.unsqueeze(-1) * ramp)


def temperature_rgb(t: torch.Tensor) -> torch.Tensor:
    """(N,) colour temperature in [-1, 1] -> (N, 3) RGB gains: warm (>0) boosts red, cuts blue."""
    return torch.stack([1 + 0.2 * t, 1 + 0.03 * t, 1 - 0.2 * t], dim=-1)


def _pixel_centres(size: int, device) -> torch.Tensor:
    # (i + 0.5) / size: symmetric under i -> size - 1 - i, so a mirror is exact on the grid.
    return (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size


def object_coverage(lat: Latents, size: int) -> torch.Tensor:
    """Anti-aliased object masks.

    Args:
        lat: N scenes, fields on the target device.
        size: image side H = W in pixels.
    Returns:
        (N, H, W) float32 coverage in [0, 1]: 1 inside, 0 outside, a linear ramp one pixel
        wide across the edge (``clamp(0.5 - signed_distance_in_pixels, 0, 1)``).
    """
    u = _pixel_centres(size, lat.x.device)
    frames = shape_frames().to(device=lat.x.device, dtype=torch.float32)
    cover = torch.empty(len(lat), size, size, device=lat.x.device)
    for s in range(NUM_SHAPES):
        idx = (lat.shape == s).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        centre_x, r_max = frames[s, 0], frames[s, 1]
        k = r_max / lat.scale[idx]  # image units -> raw shape units
        cos = (torch.cos(lat.angle[idx]) * k)[:, None]
        sin = (torch.sin(lat.angle[idx]) * k)[:, None]
        dx = u[None, :] - lat.x[idx, None]  # (m, W)
        dy = u[None, :] - lat.y[idx, None]  # (m, H)
        # Rotate into the shape frame (facing +x); the y sign is irrelevant by symmetry.
        px = (dx * cos + centre_x)[:, None, :] + (dy * sin)[:, :, None]
        py = (dx * sin)[:, None, :] - (dy * cos)[:, :, None]
        d = RAW_SDFS[s](px, py.abs_())
        d.mul_((size / k)[:, None, None]).neg_().add_(0.5).clamp_(0, 1)
        cover[idx] = d
    return cover


def front_half(lat: Latents, size: int) -> torch.Tensor:
    """(N, H, W) bool: the pixels ahead of the line through each object's centroid across its
    facing direction (where a two-tone object shows the label's hue). A mirror maps the front of
    a scene onto the front of its mirror image."""
    u = _pixel_centres(size, lat.x.device)
    dx = u[None, None, :] - lat.x[:, None, None]  # (N, 1, W)
    dy = u[None, :, None] - lat.y[:, None, None]  # (N, H, 1)
    return dx * torch.cos(lat.angle)[:, None, None] + dy * torch.sin(lat.angle)[:, None, None] > 0


def background(lat: Latents, size: int) -> torch.Tensor:
    """(N, 3, H, W) background: base colour x (1 + grating + value noise), before lighting."""
    u = _pixel_centres(size, lat.x.device)
    a = lat.grating_kx[:, None] * u[None, :] + lat.grating_phase[:, None]  # (N, W)
    b = lat.grating_ky[:, None] * u[None, :]  # (N, H)
    amp = lat.grating_amp[:, None]
    texture = (amp * torch.sin(a))[:, None, :] * torch.cos(b)[:, :, None]
    texture.addcmul_((amp * torch.cos(a))[:, None, :], torch.sin(b)[:, :, None])
    noise = F.interpolate(lat.noise[:, None], size=(size, size), mode="bilinear", align_corners=False)
    texture.addcmul_(noise[:, 0], lat.noise_amp[:, None, None]).add_(1.0)
    rgb = hsv_to_rgb(lat.bg_hue, lat.bg_sat, lat.bg_val)  # (N, 3)
    return texture[:, None] * rgb[:, :, None, None]


def _tint(lat: Latents) -> torch.Tensor:
    """(N, 3) the global gain and colour temperature of each scene's lighting, as an RGB factor."""
    return lat.gain[:, None] * temperature_rgb(lat.temperature)


def _lighting(lat: Latents, size: int, rgb_obj, rgb_bg):
    # Global gain and colour temperature fold into the two colours (cheap (N, 3) ops); only
    # the shading gradient needs a per-pixel factor, and it is skipped when all are zero.
    tint = _tint(lat)
    shade = None
    if bool((lat.shade_strength != 0).any()):
        u = _pixel_centres(size, lat.x.device) - 0.5
        sx = (lat.shade_strength * torch.cos(lat.shade_angle))[:, None] * u[None, :]
        sy = (lat.shade_strength * torch.sin(lat.shade_angle))[:, None] * u[None, :]
        shade = (1 + sx[:, None, :] + sy[:, :, None])[:, None]  # (N, 1, H, W)
    return rgb_obj * tint, rgb_bg * tint[:, :, None, None], shade


def render_chunk(lat: Latents, size: int) -> torch.Tensor:
    """Render N scenes in one pass: (N, 3, H, W) float32 in [0, 1] on the latents' device."""
    cover = object_coverage(lat, size)
    obj = hsv_to_rgb(lat.hue, lat.sat, lat.val)
    obj, bg, shade = _lighting(lat, size, obj, background(lat, size))
    obj = obj[:, :, None, None]
    if not torch.equal(lat.back_hue, lat.hue):  # two-tone objects: the back half in its own hue
        back = (hsv_to_rgb(lat.back_hue, lat.sat, lat.val) * _tint(lat))[:, :, None, None]
        obj = torch.where(front_half(lat, size)[:, None], obj, back)
    # bg + cover * (obj - bg): the anti-aliased edge blends the two colours linearly.
    img = bg.addcmul_(cover[:, None], obj - bg)
    if shade is not None:
        img.mul_(shade)
    return img.clamp_(0, 1)


def render(lat: Latents, size: int, device, dtype=torch.float32, pixels_per_chunk: int = PIXELS_PER_CHUNK):
    """Render scenes chunk by chunk to bound peak memory.

    Args:
        lat: N scenes (CPU latents; each chunk is moved to ``device``).
        size: image side in pixels.
        device: where to render and return the images.
        dtype: ``torch.float32`` (values in [0, 1]) or ``torch.uint8`` (round(255 * value)).
        pixels_per_chunk: work-set size; results do not depend on it.
    Returns:
        (N, 3, size, size) tensor of ``dtype`` on ``device``.
    """
    n = len(lat)
    out = torch.empty(n, 3, size, size, dtype=dtype, device=device)
    step = max(1, pixels_per_chunk // (size * size))
    for start in range(0, n, step):
        part = lat.map(lambda t: t[start : start + step].to(device, non_blocking=True))
        img = render_chunk(part, size)
        if dtype == torch.uint8:
            img = img.mul_(255).add_(0.5).floor_().to(torch.uint8)
        out[start : start + step] = img
    return out
