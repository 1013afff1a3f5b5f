"""Atomic file writes: a reader never sees a half-written file, even if the writer is killed.

A write goes to ``.<name>.<random>.tmp`` beside the target and is renamed over it. A kill
between the two leaves that temporary file behind; `remove_stale_temps` clears them from a
folder whose writer is known to be gone (e.g. a run folder whose lock is held).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import torch

_TEMP_SUFFIX = ".tmp"
# What torch.save's zip writer says when the disk fills up mid-write (it checks each write's
# position, not errno): "unexpected pos N vs M", "file write failed".
_SHORT_WRITE_MESSAGES = ("unexpected pos", "file write failed")


def _atomic_write(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        Path(tmp).unlink(missing_ok=True)
        if getattr(err, "errno", None) == errno.ENOSPC or any(m in str(err) for m in _SHORT_WRITE_MESSAGES):
            raise OSError(errno.ENOSPC, f"could not write {path}: the disk may be full "
                                        f"({str(err).strip().splitlines()[-1]})") from err
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def is_temp_name(name: str) -> bool:
    """Whether a file name is that of an atomic write's temporary file (``.<file>.<random>.tmp``)."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


def check_folder_path(folder, what: str) -> None:
    """ValueError when `folder`, or the nearest of its parents that exists, is a file: nothing
    could be written there, so say so before the first write does."""
    folder = Path(folder)
    taken = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if taken is not None and not taken.is_dir():
        raise ValueError(f"{what} {folder}: {taken} is a file, not a folder")


def remove_stale_temps(folder) -> list[Path]:
    """Delete the temporary files that killed atomic writes left in ``folder``; returns them.
    Only call it while no one else writes into ``folder``."""
    folder = Path(folder)
    stale = sorted(p for p in folder.iterdir() if is_temp_name(p.name)) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_torch_save(obj, path) -> Path:
    """torch.save `obj` to `path` via a temporary file in the same folder and a rename.
    OSError (errno ENOSPC) naming `path` when the disk fills up."""
    return _atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(text: str, path) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return _atomic_write(path, lambda handle: handle.write(text.encode()))


def atomic_write_json(obj, path) -> Path:
    """Write `obj` as indented JSON to `path` atomically."""
    return _atomic_write(path, lambda handle: handle.write(json.dumps(obj, indent=2).encode()))
