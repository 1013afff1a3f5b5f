"""Argument validation shared by the data modules.

Every public entry point validates its arguments up front so that a bad value fails with a
``ValueError`` naming the argument, instead of a shape error deep inside a render loop.
"""
from __future__ import annotations

import torch

SPLITS = ("train", "val", "test")
SIZES = (32, 64, 96)


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming ``name`` unless it is >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_choice(value, name: str, choices) -> str:
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


def check_seed(seed) -> int:
    """Seeds must be non-negative ints (they key a ``numpy.random.SeedSequence``)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


def check_dtype(dtype) -> torch.dtype:
    """Images come as float32 in [0, 1] or uint8 in [0, 255]."""
    if dtype not in (torch.float32, torch.uint8):
        raise ValueError(f"dtype must be torch.float32 or torch.uint8, got {dtype!r}")
    return dtype
