"""Real photographs that ship inside the scikit-image wheel: no download, no network.

The augmentation explorer needs natural images (skin, fur, sky, texture) to show what an
augmentation does; these five are bundled as files in ``skimage/data`` (unlike most of
``skimage.data``, which fetches through pooch on first use).  They are read straight from the
package folder, so a missing file is an error here rather than a silent download attempt.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

#: name -> file inside the ``skimage/data`` package folder.
PHOTOS = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "motorcycle": "motorcycle_left.png",
}


def _data_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def _centre_square(img: torch.Tensor, size: int) -> torch.Tensor:
    # Resize the short side to ``size`` (antialiased, so no aliasing from the 4-5x reduction),
    # then crop the centre: keeps aspect ratio, as a centre-crop evaluation transform does.
    h, w = img.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    img = F.interpolate(img[None], size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (nh - size) // 2, (nw - size) // 2
    return img[:, top : top + size, left : left + size].clamp_(0, 1)


def sample_photos(size=None, names=None):
    """Bundled scikit-image photographs as a float batch.

    Args:
        size: output side: each photo's short side is resized to ``size``, then the centre
            (size, size) square is cropped.  None uses the smallest short side among the
            chosen photos (300 for the default set), so no photo is upsampled.
        names: subset of :data:`PHOTOS` (default: all, in that order).
    Returns:
        photos: (N, 3, size, size) float32 tensor in [0, 1].
        names: list of the N photo names.
    """
    names = list(PHOTOS) if names is None else list(names)
    for name in names:
        if name not in PHOTOS:
            raise ValueError(f"unknown photo {name!r}; available: {list(PHOTOS)}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise ValueError(f"size must be a positive integer or None, got {size!r}")
    if not names:
        raise ValueError("names must name at least one photo")
    full = [_read(name) for name in names]
    if size is None:
        size = min(min(img.shape[-2:]) for img in full)
    return torch.stack([_centre_square(img, size) for img in full]), names


def _read(name: str) -> torch.Tensor:
    # (3, H, W) float32 in [0, 1] at the file's own resolution.
    path = _data_dir() / PHOTOS[name]
    if not path.is_file():
        raise FileNotFoundError(f"photo {name!r} is not bundled with this scikit-image: {path} is missing")
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255)
