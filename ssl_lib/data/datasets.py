"""Real datasets by name through torchvision, with clear errors when files are missing.

``load_dataset(name, root, split)`` covers the pretraining sets (CIFAR-10/100, STL-10 with
its "train+unlabeled" split), the transfer benchmarks torchvision ships (Flowers-102, DTD,
Oxford-IIIT Pets, Food-101, Caltech-101, FGVC-Aircraft, SUN397, Stanford Cars), MIT Indoor-67
(`MIT67`, read here from its official files: torchvision has no class for it) and any
ImageFolder.  Datasets yield ``(PIL image, int label)`` unless a ``transform`` is given;
:func:`ssl_lib.data.make_loader` turns them into device batches.

With ``download=False`` (the default: the project must run offline), the dataset's folder is
checked before torchvision is called, so a missing dataset raises :class:`DatasetNotFoundError`
naming the dataset, the path looked at and how to obtain it, rather than a urllib traceback;
files that fail torchvision's md5 check or cannot be parsed are reported as corrupted.

Security: CIFAR-10/100 are Python pickles, which torchvision unpickles; a tampered file runs
code when read. The md5 check (``verify=True``, the default and the only mode of the command
line) accepts only the official files; ``verify=False`` on a pickled dataset warns
(`UnverifiedPickleWarning`): use it only on files you made or trust.
"""
from __future__ import annotations

import os
import pickle
import urllib.error
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from torchvision import datasets as tvd


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are absent, incomplete or corrupted under the given root (and were not downloaded)."""


class UnverifiedPickleWarning(UserWarning):
    """Pickled dataset files are read without their md5 check: a tampered file can run code."""


@dataclass(frozen=True)
class _Spec:
    title: str
    folder: str  # what must exist under root (relative), checked before torchvision runs
    splits: tuple
    build: Callable  # (cls, root, split, transform, download) -> dataset
    cls: type
    obtain: str  # how to get the files by hand, for the error message
    download: bool = True  # whether torchvision can download it (load_dataset(..., download=True))
    pickled: bool = False  # whether torchvision unpickles its files


def _without_md5(cls: type) -> type:
    """A subclass of a torchvision dataset whose file checks test existence, not md5.

    torchvision compares every CIFAR / STL-10 / Flowers file with the official checksum, so
    re-packed or test-sized files fail.  Setting each recorded md5 to None makes torchvision's
    own ``check_integrity`` test existence only; everything else (parsing, labels, splits)
    stays torchvision's code.
    """
    attrs = {}
    for name in ("train_list", "test_list"):
        if hasattr(cls, name):
            attrs[name] = [[f, None] for f, _ in getattr(cls, name)]
    if hasattr(cls, "meta"):
        attrs["meta"] = {**cls.meta, "md5": None}
    if hasattr(cls, "_file_dict"):
        attrs["_file_dict"] = {k: (f, None) for k, (f, _) in cls._file_dict.items()}
    return type(f"{cls.__name__}Unverified", (cls,), attrs)


class MIT67(tvd.VisionDataset):
    """MIT Indoor-67 (67 indoor scene classes) with its official split: 80 training and 20 test
    images per class.

    Files, as the dataset's page distributes them: ``root/mit67/Images/<class>/<image>`` (the
    archive indoorCVPR_09.tar) and the split lists ``root/mit67/TrainImages.txt`` and
    ``TestImages.txt``, one ``<class>/<image>`` per line. Labels are the class folders in sorted
    order (as an ImageFolder of the same images numbers them). Yields ``(RGB PIL image, label)``.
    Raises RuntimeError ("not found or corrupted", which `load_dataset` reports as
    DatasetNotFoundError) when a list or a listed image is missing.
    """

    split_files = {"train": "TrainImages.txt", "test": "TestImages.txt"}

    def __init__(self, root, split: str = "train", transform=None, download: bool = False):
        super().__init__(root, transform=transform)
        base = Path(root) / "mit67"
        images, listing = base / "Images", base / self.split_files[split]
        if not images.is_dir() or not listing.is_file():
            raise RuntimeError(f"Dataset not found or corrupted: need {images} and {listing}")
        self.classes = sorted(p.name for p in images.iterdir() if p.is_dir())
        index = {name: i for i, name in enumerate(self.classes)}
        entries = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        absent = [e for e in entries if e.split("/")[0] not in index or not (images / e).is_file()]
        if absent:
            raise RuntimeError(f"Dataset not found or corrupted: {len(absent)} image(s) listed in {listing.name} "
                               f"are missing under {images}, e.g. {absent[0]}")
        self.samples = [(images / e, index[e.split("/")[0]]) for e in entries]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        image = tvd.folder.default_loader(str(path))  # PIL, converted to RGB (some scans are grey or CMYK)
        return (self.transform(image) if self.transform is not None else image), label


def _train_flag(cls, root, split, transform, download):
    return cls(root, train=split == "train", transform=transform, download=download)


def _split_kw(cls, root, split, transform, download):
    return cls(root, split=split, transform=transform, download=download)


def _no_split(cls, root, split, transform, download):
    return cls(root, transform=transform, download=download)


def _caltech(cls, root, split, transform, download):
    return cls(root, target_type="category", transform=transform, download=download)


def _aircraft(cls, root, split, transform, download):
    return cls(root, split=split, annotation_level="variant", transform=transform, download=download)


_HOME = {
    "cifar": "https://www.cs.toronto.edu/~kriz/cifar.html",
    "stl10": "https://cs.stanford.edu/~acoates/stl10/",
}

DATASETS = {
    "cifar10": _Spec("CIFAR-10", "cifar-10-batches-py", ("train", "test"), _train_flag, tvd.CIFAR10,
                     f"extract cifar-10-python.tar.gz from {_HOME['cifar']} into root", pickled=True),
    "cifar100": _Spec("CIFAR-100", "cifar-100-python", ("train", "test"), _train_flag, tvd.CIFAR100,
                      f"extract cifar-100-python.tar.gz from {_HOME['cifar']} into root", pickled=True),
    "stl10": _Spec("STL-10", "stl10_binary", ("train", "test", "unlabeled", "train+unlabeled"), _split_kw, tvd.STL10,
                   f"extract stl10_binary.tar.gz (2.6 GB) from {_HOME['stl10']} into root"),
    "flowers102": _Spec("Flowers-102", "flowers-102", ("train", "val", "test"), _split_kw, tvd.Flowers102,
                        "put jpg/, imagelabels.mat and setid.mat from "
                        "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ in root/flowers-102 (reading needs scipy)"),
    "dtd": _Spec("DTD", "dtd/dtd", ("train", "val", "test"), _split_kw, tvd.DTD,
                 "extract dtd-r1.0.1.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/dtd/ into root/dtd"),
    "pets": _Spec("Oxford-IIIT Pets", "oxford-iiit-pet", ("trainval", "test"), _split_kw, tvd.OxfordIIITPet,
                  "extract images.tar.gz and annotations.tar.gz from "
                  "https://www.robots.ox.ac.uk/~vgg/data/pets/ into root/oxford-iiit-pet"),
    "food101": _Spec("Food-101", "food-101", ("train", "test"), _split_kw, tvd.Food101,
                     "extract food-101.tar.gz (5 GB) from "
                     "https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/ into root"),
    "caltech101": _Spec("Caltech-101", "caltech101/101_ObjectCategories", ("all",), _caltech, tvd.Caltech101,
                        "extract 101_ObjectCategories.tar.gz from https://data.caltech.edu/records/mzrjq-6wc02 "
                        "into root/caltech101 (torchvision's download needs gdown)"),
    "aircraft": _Spec("FGVC-Aircraft", "fgvc-aircraft-2013b", ("train", "val", "trainval", "test"), _aircraft,
                      tvd.FGVCAircraft, "extract fgvc-aircraft-2013b.tar.gz from "
                      "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ into root"),
    "sun397": _Spec("SUN397", "SUN397", ("all",), _no_split, tvd.SUN397,
                    "extract SUN397.tar.gz (37 GB) from https://vision.princeton.edu/projects/2010/SUN/ into root"),
    "cars": _Spec("Stanford Cars", "stanford_cars", ("train", "test"), _split_kw, tvd.StanfordCars,
                  "torchvision can no longer download it (the original URL is dead): get it from a mirror (e.g. "
                  "Kaggle 'stanford-cars-dataset') and arrange root/stanford_cars/{devkit, cars_train, cars_test, "
                  "cars_test_annos_withlabels.mat} (reading needs scipy)", download=False),
    "mit67": _Spec("MIT Indoor-67", "mit67", ("train", "test"), _split_kw, MIT67,
                   "extract indoorCVPR_09.tar from https://web.mit.edu/torralba/www/indoor.html into root/mit67 "
                   "(it holds Images/) and put TrainImages.txt and TestImages.txt from the same page beside it",
                   download=False),
}
_ALIASES = {"oxfordiiitpet": "pets", "fgvcaircraft": "aircraft", "stanfordcars": "cars", "folder": "imagefolder",
            "mitindoor67": "mit67", "indoor67": "mit67"}
KNOWN = (*DATASETS, "imagefolder")


def canonical_name(name: str) -> str:
    """The registry key of a dataset name (case, "-", "_" and spaces ignored, aliases resolved);
    ValueError listing the known datasets otherwise."""
    key = str(name).lower().replace("-", "").replace("_", "").replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in KNOWN:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(KNOWN)}")
    return key


def _root(root) -> Path:
    if not isinstance(root, (str, os.PathLike)) or not str(root):
        raise ValueError(f"root must name the folder that holds the dataset, got {root!r}")
    return Path(root).expanduser()


def _how(spec: _Spec) -> str:
    return spec.obtain + (" (from Python, load_dataset(..., download=True) can fetch it)" if spec.download else "")


def _missing(spec: _Spec, path: Path) -> str:
    return f"{spec.title} not found: looked for {path}. To obtain it: {_how(spec)}."


def require_present(name: str, root) -> None:
    """DatasetNotFoundError, naming the path looked at and how to obtain the files, unless dataset
    `name`'s folder is under `root` (for "imagefolder": `root` itself). Cheap: only the folder's
    existence, so a command can check before it writes anything."""
    key = canonical_name(name)
    root = _root(root)
    if key == "imagefolder":
        missing = [split for split in pretraining_splits(key) if not (root / split).is_dir()]
        if missing:
            raise DatasetNotFoundError(f"ImageFolder not found: looked for {root}/{missing[0]}. Arrange images as "
                                       f"{root}/<split>/<class>/<image> with splits train and test")
        return
    if not (root / DATASETS[key].folder).exists():
        raise DatasetNotFoundError(_missing(DATASETS[key], root / DATASETS[key].folder))


def pretraining_splits(name: str) -> tuple[str, str]:
    """(what pretraining reads, what its kNN monitor queries) for dataset `name`: STL-10 trains on
    train + unlabeled, the others on "train" (or "trainval" where that is the official training
    split). ValueError for a set with no official test split to monitor on (Caltech-101, SUN397:
    downstream sets, split by the evaluation) and for an unknown name."""
    key = canonical_name(name)
    if key == "imagefolder":
        return "train", "test"
    splits = DATASETS[key].splits
    train = "train+unlabeled" if key == "stl10" else next((s for s in ("train", "trainval") if s in splits), None)
    if train is None or "test" not in splits:
        usable = [k for k, spec in DATASETS.items() if "test" in spec.splits]
        raise ValueError(f"dataset {key!r} has no train / test split to pretrain and monitor on (splits: "
                         f"{', '.join(splits)}); it is a downstream set: python -m ssl_lib.pretrain reads "
                         f"imagefolder or one of {', '.join(usable)}")
    return train, "test"


def _image_folder(root: Path, split: Optional[str], transform):
    path = root if split is None else root / split
    if split is not None and not path.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        if present:
            raise ValueError(f"unknown split {split!r} for ImageFolder at {root}; valid splits (subfolders): {present}")
        raise DatasetNotFoundError(
            f"ImageFolder not found: looked for {path}. Arrange images as {root}/<split>/<class>/<image>"
        )
    try:
        return tvd.ImageFolder(str(path), transform=transform)
    except FileNotFoundError as err:
        raise DatasetNotFoundError(
            f"ImageFolder not usable at {path}: {err} Arrange images as {path}/<class>/<image>"
        ) from None


def load_dataset(name: str, root, split: Optional[str], download: bool = False, transform=None, verify: bool = True):
    """A dataset by name, read from ``root`` (downloaded there only if ``download=True``).

    Args:
        name: one of ``cifar10, cifar100, stl10, flowers102, dtd, pets, food101, caltech101,
            aircraft, sun397, cars, mit67, imagefolder`` (case, "-" and "_" are ignored).
        root: directory holding the dataset's folder (e.g. ``root/cifar-10-batches-py``);
            for "imagefolder", the folder holding one subfolder per split.
        split: a split of that dataset (``ValueError`` lists the valid ones); STL-10 uses
            "train+unlabeled" for pretraining (label -1 on unlabeled images); Caltech-101
            and SUN397 have no official split in torchvision and take "all"; for
            "imagefolder" a subfolder of ``root``, or None for ``root`` itself.
        download: let torchvision fetch missing files (needs a network).
        transform: applied to each PIL image, as in torchvision.
        verify: check file md5 sums against the official ones (CIFAR, STL-10, Flowers-102);
            ``False`` checks only that the files exist, for re-packed or test files. CIFAR's
            files are pickles: unverified, a tampered file runs code when read, so ``False``
            warns (`UnverifiedPickleWarning`) there; use it only on files you trust.
    Returns:
        A map-style dataset yielding ``(image, label)``.
    Raises:
        ValueError: unknown name or split.
        DatasetNotFoundError: files missing or corrupted (a ``FileNotFoundError``), naming
            the dataset, the path looked at and how to obtain the files.
    Warns:
        UnverifiedPickleWarning: ``verify=False`` on a pickled dataset (CIFAR-10/100).
    """
    key = canonical_name(name)
    root = _root(root)
    if key == "imagefolder":
        return _image_folder(root, split, transform)
    spec = DATASETS[key]
    if split not in spec.splits:
        raise ValueError(f"unknown split {split!r} for {spec.title}; valid splits: {list(spec.splits)}")
    path = root / spec.folder
    missing = _missing(spec, path)
    # Stanford Cars' download URL is dead (torchvision raises ValueError): treat it as offline.
    if (not download or not spec.download) and not path.exists():
        raise DatasetNotFoundError(missing)
    if not verify and spec.pickled:
        warnings.warn(f"{spec.title}'s files are Python pickles, read without their md5 check (verify=False): "
                      f"a tampered file under {path} runs code when read; use only files you made or trust",
                      UnverifiedPickleWarning, stacklevel=2)
    cls = spec.cls if verify else _without_md5(spec.cls)
    corrupted = (f"{spec.title} at {path} is incomplete or corrupted: a file is missing, cut short or not the "
                 f"official one. Re-extract it: {_how(spec)}. Files re-packed on purpose fail the md5 check: from "
                 "Python, load_dataset(..., verify=False) reads them")
    try:
        return spec.build(cls, str(root), split, transform, download)
    except RuntimeError as err:
        if "not found" not in str(err).lower() and "corrupted" not in str(err).lower():
            raise
        raise DatasetNotFoundError(f"{corrupted}.") from None
    except (EOFError, pickle.UnpicklingError) as err:  # a cut-short pickle (verify=False)
        raise DatasetNotFoundError(f"{corrupted} ({type(err).__name__}: {err}).") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        raise DatasetNotFoundError(f"{missing} Download failed: {err}") from None
