"""Atomic file writes: a reader never sees a half-written file, even if the writer is killed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch


def _atomic_write(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_torch_save(obj, path) -> Path:
    """torch.save `obj` to `path` via a temporary file in the same folder and a rename."""
    return _atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(text: str, path) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return _atomic_write(path, lambda handle: handle.write(text.encode()))


def atomic_write_json(obj, path) -> Path:
    """Write `obj` as indented JSON to `path` atomically."""
    return _atomic_write(path, lambda handle: handle.write(json.dumps(obj, indent=2).encode()))
