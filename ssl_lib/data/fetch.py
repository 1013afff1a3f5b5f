"""Fetching the real datasets: checked against torchvision's md5 sums, resumable, never half-installed.

    python -m ssl_lib.fetch cifar10 dtd --root data      # named datasets (the command: ssl_lib/fetch.py)
    python -m ssl_lib.fetch --profile gpu --dry-run      # what the gpu profile reads, and its size
    make data PROFILE=gpu                                # the same, fetching
    fetch("dtd", "data")                                 # from Python: "dtd: fetched into data/dtd/dtd"

For each dataset: present (its folder exists under the root, as `ssl_lib.data.load_dataset`
reads it) -> "ok", nothing fetched; fetchable -> its files are downloaded from the URLs and with
the md5 sums torchvision records for them (`SOURCES`, read from torchvision's dataset classes)
into ``<root>/.downloads/<name>/``, each as ``<file>.part`` first, which a later call resumes
with an HTTP range request; a file whose md5 differs is removed and named in a one-line error;
when every file is whole they are extracted (or moved) where `load_dataset` looks. Datasets
torchvision cannot fetch (Stanford Cars: its host is gone; Caltech-101: a Google Drive download;
MIT-67: no torchvision class) get "manual" and the exact steps and folder layout. The last lines
say, per dataset: ok, fetched or manual.
"""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from torchvision import datasets as tvd
from torchvision.datasets.utils import check_integrity, extract_archive

from ssl_lib.data.datasets import DATASETS, canonical_name
from ssl_lib.utils.io import check_folder_path

CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download failed (network, HTTP status, checksum): one line naming the URL or file."""


@dataclass(frozen=True)
class Resource:
    """One file to fetch: its URL, md5 (None where torchvision records none) and the folder
    (relative to the root) it is saved in and, when an archive, extracted into."""

    url: str
    md5: str | None
    folder: str = "."

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _sources() -> dict[str, list[Resource]]:
    flowers = tvd.Flowers102
    return {
        "cifar10": [Resource(tvd.CIFAR10.url, tvd.CIFAR10.tgz_md5)],
        "cifar100": [Resource(tvd.CIFAR100.url, tvd.CIFAR100.tgz_md5)],
        "stl10": [Resource(tvd.STL10.url, tvd.STL10.tgz_md5)],
        "flowers102": [Resource(flowers._download_url_prefix + name, md5, "flowers-102")
                       for name, md5 in flowers._file_dict.values()],
        "dtd": [Resource(tvd.DTD._URL, tvd.DTD._MD5, "dtd")],
        "pets": [Resource(url, md5, "oxford-iiit-pet") for url, md5 in tvd.OxfordIIITPet._RESOURCES],
        "food101": [Resource(tvd.Food101._URL, tvd.Food101._MD5)],
        "aircraft": [Resource(tvd.FGVCAircraft._URL, None)],
        "sun397": [Resource(tvd.SUN397._DATASET_URL, tvd.SUN397._DATASET_MD5)],
    }


SOURCES = _sources()  # the datasets this command can fetch; the others are manual


def _is_archive(name: str) -> bool:
    return name.endswith((".tar.gz", ".tgz", ".tar", ".zip"))


def download(resource: Resource, folder: Path, timeout: float = 60.0) -> Path:
    """The resource's file in `folder`, downloaded (or resumed from its ``.part``) and checked
    against its md5. Raises FetchError naming the URL (network, HTTP) or the file (md5 mismatch,
    after removing it)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / resource.filename
    if final.is_file() and (resource.md5 is None or check_integrity(str(final), resource.md5)):
        return final
    part = final.with_name(final.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(resource.url, headers={"Range": f"bytes={have}-"} if have else {})
    resume = f"(the partial file {part.name} is kept: run again to resume)"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have and response.status == 206
            length = response.headers.get("Content-Length")
            expected = (have if resumed else 0) + int(length) if length is not None else None
            with open(part, "ab" if resumed else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the .part is already whole
            expected = None
        else:
            raise FetchError(f"download of {resource.url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise FetchError(f"cannot reach {resource.url}: {reason} {resume}") from None
    if expected is not None and part.stat().st_size < expected:  # the connection closed early
        raise FetchError(f"download of {resource.url} stopped at {part.stat().st_size} of {expected} bytes {resume}")
    if resource.md5 is not None and not check_integrity(str(part), resource.md5):
        part.unlink()
        raise FetchError(f"{final.name} from {resource.url} does not match torchvision's md5 {resource.md5}: "
                         "removed; run again to download it afresh")
    os.replace(part, final)
    return final


def fetch(name: str, root, dry_run: bool = False, log=print) -> str:
    """Fetch one dataset under ``root``; returns its status line ("<name>: ok | fetched | manual ...").
    Raises FetchError (one line) when a download fails."""
    key = canonical_name(name)
    if key not in DATASETS:  # "imagefolder": any folder of images, nothing to fetch
        return f"{key}: manual: arrange your images as <root>/<split>/<class>/<image>; nothing to download"
    spec = DATASETS[key]
    root = Path(root).expanduser()
    check_folder_path(root, "the data root")
    if (root / spec.folder).exists():
        return f"{key}: ok (present at {root / spec.folder})"
    if key not in SOURCES:
        return f"{key}: manual: {spec.obtain} (expected folder: {root / spec.folder})"
    resources = SOURCES[key]
    if dry_run:
        sizes = [remote_size(r.url) for r in resources]
        known = sum(s for s in sizes if s is not None)
        size = f"{known / 2**30:.2f} GiB" + (" + unknown" if None in sizes else "")
        return f"{key}: would fetch {', '.join(r.url for r in resources)} ({size}) into {root / spec.folder}"
    # Every file is downloaded under root/.downloads/<name> and unpacked into a tree there; only
    # the finished tree is renamed into the root, so the dataset's folder (what "present" means)
    # never holds half a dataset, whether a download or an extraction is interrupted.
    staging = root / ".downloads" / key
    files = []
    for resource in resources:
        log(f"{key}: fetching {resource.url}")
        files.append(download(resource, staging))
    tree = staging / "tree"
    shutil.rmtree(tree, ignore_errors=True)  # what an interrupted extraction left
    for resource, path in zip(resources, files):
        target = tree / resource.folder
        target.mkdir(parents=True, exist_ok=True)
        if _is_archive(path.name):
            extract_archive(str(path), str(target))
        else:
            shutil.copy2(path, target / path.name)
    for entry in sorted(tree.iterdir()):
        if (root / entry.name).exists():
            raise FetchError(f"{root / entry.name} exists but holds no complete {spec.title}: "
                             "remove it and run again")
        os.replace(entry, root / entry.name)  # a rename within one file system: all or nothing
    shutil.rmtree(staging)
    return f"{key}: fetched into {root / spec.folder}"


def remote_size(url: str, timeout: float = 20.0) -> int | None:
    """The Content-Length a HEAD request reports (None when the server does not say or is unreachable)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length is not None else None
    except (urllib.error.URLError, OSError, ValueError):
        return None
