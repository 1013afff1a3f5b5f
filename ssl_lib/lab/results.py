"""What a notebook measured, on disk: ``<output>/results/<notebook>.json`` and ``results.json``.

Inside a notebook, ``record = recorder(P, "02_invariance")`` then ``record("name", value)``
stores a key number atomically; the runner (`ssl_lib.lab.runner`) merges every notebook's file
into ``<output>/results.json``; `recorded` reads one back (notebook 08 builds the report from it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

from ssl_lib.utils.io import atomic_write_json

RESULTS = "results.json"


def to_jsonable(value):
    """Plain JSON types from numbers, numpy / torch scalars and arrays, pandas objects, dicts,
    dataclass instances (their fields).

    Non-finite floats become None (JSON has no NaN); tuples become lists; dict keys strings.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. a claim's per-seed values
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame: its rows
        return to_jsonable(value.to_dict(orient="records"))
    if hasattr(value, "to_dict"):  # a pandas Series
        return to_jsonable(value.to_dict())
    if hasattr(value, "tolist"):  # numpy arrays / scalars, torch tensors
        return to_jsonable(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot record a {type(value).__name__} as JSON: {value!r}")


def results_path(output, notebook: str) -> Path:
    return Path(output) / "results" / f"{notebook}.json"


def record(name: str, value, *, output, notebook: str) -> dict:
    """Store ``value`` under ``name`` in ``<output>/results/<notebook>.json`` (atomically,
    merged with what the notebook recorded before); returns the notebook's results so far."""
    path = results_path(output, notebook)
    current = _read_object(path) if path.is_file() else {}
    current[str(name)] = to_jsonable(value)
    atomic_write_json(current, path)
    return current


def recorder(profile, notebook: str):
    """``record(name, value)`` bound to a notebook and a profile's output (`ssl_lib.lab.profiles.Profile`,
    not imported: profiles -> validity -> results would close a circle) or a folder's."""
    output = profile if isinstance(profile, (str, os.PathLike)) else profile.output

    def record_value(name: str, value) -> None:
        record(name, value, output=output, notebook=notebook)  # returns None: no echo in the notebook

    record_value.__doc__ = f"Record a key number of {notebook} into {results_path(output, notebook)}."
    return record_value




def _read_object(path: Path) -> dict:
    """The JSON object in `path`; ValueError naming the file when it is not one (a write cut short
    by a kill, an edit by hand)."""
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err.msg}, line {err.lineno}); delete it and rerun "
                         "the notebook that wrote it") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text; delete it and rerun the notebook that wrote it") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(value).__name__}")
    return value


def merge_results(output_dir, summary: dict | None = None) -> dict:
    """``<output>/results.json``: every ``results/<notebook>.json`` under its notebook's name,
    plus ``summary`` (profile, timings, status) under ``"run"``. ValueError naming a file that
    is not a JSON object."""
    folder = Path(output_dir) / "results"
    merged = {"run": summary or {}, "notebooks": {}}
    for path in sorted(folder.glob("*.json")):
        merged["notebooks"][path.stem] = _read_object(path)
    atomic_write_json(merged, Path(output_dir) / RESULTS)
    return merged




def recorded(output, notebook: str) -> dict | None:
    """What `notebook` recorded under `output` (its results/<notebook>.json), or None if it has not run."""
    path = results_path(output, notebook)
    return _read_object(path) if path.is_file() else None


def read_merged(output_dir) -> dict:
    """``<output>/results.json`` as `merge_results` wrote it; FileNotFoundError naming the file
    when the reproduction has not run into `output_dir`."""
    path = Path(output_dir) / RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (run make reproduce into {output_dir} first)")
    merged = _read_object(path)
    if not isinstance(merged.get("notebooks"), dict):
        raise ValueError(f"{path} has no \"notebooks\" object: not a results.json of make reproduce")
    return merged
