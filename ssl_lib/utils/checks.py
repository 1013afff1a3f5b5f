"""Argument checks shared by every layer: one clear ``ValueError`` (or ``TypeError``) that
names the argument, raised before any work starts, instead of a shape error deep inside a loop.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import types
import typing

import torch
from torch import Tensor


# -- plain values --------------------------------------------------------------------------------


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming ``name`` unless it is >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_seed(seed) -> int:
    """Seeds are non-negative ints (they key a ``numpy.random.SeedSequence``)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


def check_choice(value, name: str, choices):
    """Return ``value`` if it is one of ``choices``; otherwise raise a ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(choices)}")
    return value


def check_device(device) -> torch.device:
    """Parse ``device`` into a ``torch.device`` that exists on this machine.

    A typo such as ``"cdua"`` or a CUDA device on a CPU-only machine raises ``ValueError`` here,
    because torch would otherwise report it as a RuntimeError from the first allocation.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"invalid device {device!r}: {err}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist ({torch.cuda.device_count()} CUDA devices)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} requested but MPS is not available")
    return dev


def check_device_name(name, field: str = "device") -> str:
    """A device string torch can parse ("auto" too), without asking whether it exists here, so a
    config for another machine (e.g. "cuda" written on a laptop) stays valid."""
    if name == "auto":
        return name
    try:
        torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{field}={name!r} is not a device: {err}") from None
    return name


def check_size(size, name: str = "size") -> tuple[int, int]:
    """An image size: a positive int s (meaning (s, s)) or a pair of positive ints (height, width).

    Exactly ints: a string is refused rather than iterated ("32" -> (3, 2)), as are bools and floats.
    """
    def index(value) -> int:
        if isinstance(value, (str, bytes, bool)):
            raise TypeError
        return operator.index(value)

    try:
        iterable = hasattr(size, "__iter__") and not isinstance(size, (str, bytes))
        pair = tuple(index(s) for s in size) if iterable else (index(size),) * 2
    except TypeError:
        pair = ()
    if len(pair) != 2 or min(pair) <= 0:
        raise ValueError(f"{name} must be a positive int or a pair of ints (height, width), got {size!r}")
    return pair


def check_type(value, hint, name: str) -> None:
    """Raise unless ``value`` matches the annotation ``hint`` (bool, int, float, str, or a union of
    them with None). Strict where Python is lax: a bool is not an int, "false" is not a bool,
    1.0 is not an int; an int is a float. Floats must be finite (ValueError): NaN passes every
    ``not x > 0``-style range check by accident, and inf turns the first step into NaN."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kinds = typing.get_args(hint) if union else (hint,)
    if value is None and type(None) in kinds:
        return
    for kind in kinds:
        if kind is bool and isinstance(value, bool) or kind is str and isinstance(value, str):
            return
        if kind in (int, float) and isinstance(value, int) and not isinstance(value, bool):
            return
        if kind is float and isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            return
    expected = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
    raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")


def check_field_types(config) -> None:
    """`check_type` on every field of the dataclass instance ``config`` against its annotation;
    errors name ``<Class>.<field>``."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        check_type(getattr(config, field.name), hints[field.name], f"{type(config).__name__}.{field.name}")


def check_image_dtype(dtype) -> torch.dtype:
    """Images are stored as float32 in [0, 1] or uint8 in [0, 255]."""
    if dtype not in (torch.float32, torch.uint8):
        raise ValueError(f"dtype must be torch.float32 or torch.uint8, got {dtype!r}")
    return dtype


# -- tensors -------------------------------------------------------------------------------------


_RANGE_SLACK = 1e-4


def check_images(images: Tensor, name: str = "images") -> None:
    """Raise unless ``images`` is a float batch (B, 3, H, W) with values in [0, 1] (up to float
    rounding) and no NaN."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0, 1], got dtype {images.dtype}; "
                        "convert uint8 with images.float() / 255")
    if images.numel():
        low, high = torch.aminmax(images)
        # Written so that NaN fails it: every comparison with NaN is False. The slack admits the
        # rounding of blurs and bilinear resampling (1 + 2e-7), not images scaled to 0..255.
        if not (low >= -_RANGE_SLACK and high <= 1 + _RANGE_SLACK):
            found = "NaN" if images.isnan().any() else f"range [{low.item():.4g}, {high.item():.4g}]"
            raise ValueError(f"{name} values must lie in [0, 1], got {found}"
                             + ("; uint8-scaled floats need images / 255" if high > 1.5 else ""))


def as_float_images(images: Tensor, name: str = "images") -> Tensor:
    """(B, 3, H, W) uint8 (0..255) or float images in [0, 1] as float32 in [0, 1]; ValueError
    otherwise (float images in [0, 255] or with NaN would give a plausible but wrong number)."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    if not images.is_floating_point():
        raise ValueError(f"{name} must be float in [0, 1] or uint8, got {images.dtype}")
    check_images(images, name)
    return images.float()


def check_matrix(x: Tensor, name: str) -> Tensor:
    """Raise unless ``x`` is a non-empty 2-D tensor (N, D); returns it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) tensor, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(x.shape)}")
    return x


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Two (N, D) matrices of one shape (e.g. the two views' embeddings)."""
    check_matrix(a, name_a)
    check_matrix(b, name_b)
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def check_features(x: Tensor, name: str) -> Tensor:
    """A non-empty (N, D) feature matrix with finite values; returns it. A probe or kNN fed NaN
    features still returns a number (e.g. a chance-level accuracy), so refuse them here."""
    check_matrix(x, name)
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(x)).sum())} NaN / inf values "
                         f"in shape {tuple(x.shape)}")
    return x


def non_finite_entries(tensors: dict) -> list[str]:
    """Names of the floating-point tensors of ``tensors`` (e.g. a state dict) holding NaN or inf,
    found with one device synchronisation."""
    names = [k for k, t in tensors.items() if isinstance(t, Tensor) and t.is_floating_point() and t.numel()]
    if not names:
        return []
    finite = torch.stack([torch.isfinite(tensors[k]).all().cpu() for k in names]).tolist()
    return [k for k, ok in zip(names, finite) if not ok]


def check_rows(x: Tensor, y: Tensor, x_name: str, y_name: str) -> None:
    """A finite feature matrix ``x`` (N, D) (`check_features`) and targets ``y`` with the same
    number of rows."""
    check_features(x, x_name)
    if not isinstance(y, Tensor):
        raise TypeError(f"{y_name} must be a torch.Tensor, got {type(y).__name__}")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{y_name} has {y.shape[0]} rows but {x_name} has {x.shape[0]}")


def check_same_width(tensors: dict[str, Tensor]) -> None:
    """Feature matrices that one linear model is applied to must share their width D."""
    widths = {name: t.shape[1] for name, t in tensors.items()}
    if len(set(widths.values())) != 1:
        raise ValueError(f"feature widths differ: {widths}")


def check_labels(y: Tensor, name: str, num_classes: int) -> Tensor:
    """(N,) integer class labels in [0, num_classes), returned as int64."""
    if y.ndim != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor, got {tuple(y.shape)} {y.dtype}")
    if y.numel() and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got range [{int(y.min())}, {int(y.max())}]")
    return y.long()
