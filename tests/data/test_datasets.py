"""Real-dataset loading: tiny files in the real on-disk formats, read through torchvision."""
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_lib.data import DatasetNotFoundError, load_dataset, make_loader
from ssl_lib.data.datasets import DATASETS, KNOWN


def write_atomic(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_cifar(root: Path, folder, files, label_key, meta_name, meta_key, n_classes, rng):
    """CIFAR python format: pickled dicts of (n, 3072) uint8 rows (CHW order) and labels."""
    written = {}
    for name in files:
        data = rng.integers(0, 256, size=(3, 3 * 32 * 32), dtype=np.uint8)
        labels = rng.integers(0, n_classes, size=3).tolist()
        write_atomic(root / folder / name, pickle.dumps({"data": data, label_key: labels}))
        written[name] = (data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels)
    names = [f"class{i}" for i in range(n_classes)]
    write_atomic(root / folder / meta_name, pickle.dumps({meta_key: names}))
    return written


def test_cifar10_reads_back_what_was_written(tmp_path):
    rng = np.random.default_rng(0)
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    written = write_cifar(tmp_path, "cifar-10-batches-py", batches + ["test_batch"], "labels", "batches.meta",
                          "label_names", 10, rng)
    train = load_dataset("cifar10", tmp_path, "train", verify=False)
    test = load_dataset("CIFAR-10", tmp_path, "test", verify=False)
    assert len(train) == 15 and len(test) == 3 and train.classes[3] == "class3"
    pixels = np.concatenate([written[b][0] for b in batches])
    labels = sum((written[b][1] for b in batches), [])
    for i in range(len(train)):
        img, y = train[i]
        assert np.array_equal(np.asarray(img), pixels[i]) and y == labels[i]
    assert np.array_equal(np.asarray(test[2][0]), written["test_batch"][0][2])
    # With md5 verification on, the home-made files are rejected with our error.
    with pytest.raises(DatasetNotFoundError, match="verify=False"):
        load_dataset("cifar10", tmp_path, "train")


def test_cifar100_reads_fine_labels(tmp_path):
    written = write_cifar(tmp_path, "cifar-100-python", ["train", "test"], "fine_labels", "meta",
                          "fine_label_names", 100, np.random.default_rng(1))
    ds = load_dataset("cifar100", tmp_path, "test", verify=False)
    assert [ds[i][1] for i in range(3)] == written["test"][1]
    assert np.array_equal(np.asarray(ds[1][0]), written["test"][0][1])


def test_stl10_train_plus_unlabeled(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "stl10_binary"
    images = {}
    for name, n in (("train", 3), ("unlabeled", 2), ("test", 2)):
        chw = rng.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8)
        # STL-10 stores each channel column-major (Fortran order), hence the transpose.
        write_atomic(folder / f"{name}_X.bin", chw.transpose(0, 1, 3, 2).tobytes())
        images[name] = chw.transpose(0, 2, 3, 1)
    train_y = np.array([1, 10, 4], dtype=np.uint8)  # 1-based on disk
    write_atomic(folder / "train_y.bin", train_y.tobytes())
    write_atomic(folder / "test_y.bin", np.array([2, 3], dtype=np.uint8).tobytes())
    ds = load_dataset("stl10", tmp_path, "train+unlabeled", verify=False)
    assert len(ds) == 5
    assert [ds[i][1] for i in range(5)] == [0, 9, 3, -1, -1]
    expected = np.concatenate([images["train"], images["unlabeled"]])
    for i in range(5):
        assert np.array_equal(np.asarray(ds[i][0]), expected[i])
    assert load_dataset("stl10", tmp_path, "test", verify=False)[1][1] == 2


def test_image_folder_and_make_loader(tmp_path):
    rng = np.random.default_rng(3)
    written = {}
    for cls in ("cat", "dog"):
        for i in range(3):
            arr = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
            path = tmp_path / "train" / cls / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(arr).save(tmp)
            os.replace(tmp, path)
            written[(cls, i)] = arr
    ds = load_dataset("imagefolder", tmp_path, "train")
    assert ds.classes == ["cat", "dog"] and len(ds) == 6
    for (cls, i), arr in written.items():
        img, y = ds[ds.class_to_idx[cls] * 3 + i]
        assert np.array_equal(np.asarray(img), arr) and y == ds.class_to_idx[cls]

    batches = list(make_loader(ds, batch_size=4, shuffle=True, seed=0))
    assert len(batches) == 2
    images = torch.cat([b[0] for b in batches])
    labels = torch.cat([b[1] for b in batches])
    assert images.shape == (6, 3, 8, 8) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    expected = {arr.transpose(2, 0, 1).tobytes() for arr in written.values()}
    assert {img.numpy().tobytes() for img in images} == expected

    with pytest.raises(ValueError, match="'val'.*train"):
        load_dataset("imagefolder", tmp_path, "val")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_missing_files_give_a_clear_error(tmp_path, name):
    split = DATASETS[name].splits[0]
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(name, tmp_path, split)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert DATASETS[name].title in msg and str(tmp_path) in msg and "obtain" in msg
    assert list(tmp_path.iterdir()) == []  # nothing created: torchvision was never reached


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="imagenet") as err:
        load_dataset("imagenet", tmp_path, "train")
    assert all(name in str(err.value) for name in KNOWN)


def test_unknown_split_names_it_and_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"'valid'.*'train'.*'test'"):
        load_dataset("cifar10", tmp_path, "valid")
    with pytest.raises(ValueError, match="train\\+unlabeled"):
        load_dataset("stl10", tmp_path, "unlabelled")


def test_dtd_layout_reads_split_file_and_images(tmp_path):
    # DTD: dtd/dtd/images/<class>/<name>.jpg and dtd/dtd/labels/<split>1.txt with "class/name" lines.
    data = tmp_path / "dtd" / "dtd"
    yy, xx = np.mgrid[0:16, 0:16]
    written = {}
    lines = []
    for k, (cls, name) in enumerate([("banded", "b_0001.jpg"), ("dotted", "d_0001.jpg"), ("banded", "b_0002.jpg")]):
        # smooth images survive JPEG compression to within a few grey levels
        arr = np.stack([xx * 8 + k * 20, yy * 8, (xx + yy) * 4 + 30], axis=-1).astype(np.uint8)
        path = data / "images" / cls / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.jpg")
        Image.fromarray(arr).save(tmp, quality=100, subsampling=0)
        os.replace(tmp, path)
        written[f"{cls}/{name}"] = arr
        lines.append(f"{cls}/{name}")
    write_atomic(data / "labels" / "test1.txt", ("\n".join(lines) + "\n").encode())
    ds = load_dataset("dtd", tmp_path, "test")
    assert len(ds) == 3 and ds.classes == ["banded", "dotted"]
    for i, key in enumerate(lines):
        img, y = ds[i]
        assert y == ds.classes.index(key.split("/")[0])
        assert np.abs(np.asarray(img).astype(int) - written[key]).max() <= 3


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetNotFoundError, match="CIFAR-10.*Download failed") as err:
        load_dataset("cifar10", tmp_path, "train", download=True)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def write_mit67(root: Path, listing: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """MIT-67's official layout: mit67/Images/<class>/<image>.jpg and mit67/{Train,Test}Images.txt."""
    yy, xx = np.mgrid[0:16, 0:16]
    written = {}
    for split, entries in listing.items():
        for k, entry in enumerate(entries):
            arr = np.stack([xx * 8 + k * 10, yy * 8, (xx + yy) * 4 + len(written) * 5], axis=-1).astype(np.uint8)
            path = root / "mit67" / "Images" / entry
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.jpg")
            Image.fromarray(arr).save(tmp, quality=100, subsampling=0)
            os.replace(tmp, path)
            written[entry] = arr
        name = {"train": "TrainImages.txt", "test": "TestImages.txt"}[split]
        write_atomic(root / "mit67" / name, ("\n".join(entries) + "\n").encode())
    return written


def test_mit67_reads_the_official_split_lists_with_sorted_class_labels(tmp_path):
    listing = {"train": ["kitchen/k1.jpg", "airport_inside/a1.jpg", "bakery/b1.jpg", "kitchen/k2.jpg"],
               "test": ["bakery/b2.jpg", "airport_inside/a2.jpg"]}
    written = write_mit67(tmp_path, listing)
    for split, entries in listing.items():
        ds = load_dataset("MIT-Indoor-67", tmp_path, split)
        assert ds.classes == ["airport_inside", "bakery", "kitchen"] and len(ds) == len(entries)
        for i, entry in enumerate(entries):  # the list's order, the class folder's sorted index
            img, y = ds[i]
            assert y == ds.classes.index(entry.split("/")[0]) and img.mode == "RGB"
            assert np.abs(np.asarray(img).astype(int) - written[entry]).max() <= 3


def test_mit67_with_a_listed_image_missing_is_one_clear_error(tmp_path):
    write_mit67(tmp_path, {"train": ["kitchen/k1.jpg"], "test": ["kitchen/k2.jpg"]})
    (tmp_path / "mit67" / "Images" / "kitchen" / "k2.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"MIT Indoor-67 at .*mit67 is incomplete or corrupted"):
        load_dataset("mit67", tmp_path, "test")
    (tmp_path / "mit67" / "TrainImages.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="incomplete or corrupted"):
        load_dataset("mit67", tmp_path, "train")


def test_pretraining_reads_each_sets_official_training_split_and_monitors_on_its_test_split():
    from ssl_lib.data.datasets import pretraining_splits

    expected = {"cifar10": ("train", "test"), "stl10": ("train+unlabeled", "test"), "pets": ("trainval", "test"),
                "aircraft": ("train", "test"), "mit67": ("train", "test"), "imagefolder": ("train", "test"),
                "Oxford-IIIT-Pet": ("trainval", "test")}
    assert {name: pretraining_splits(name) for name in expected} == expected
    for name in ("caltech101", "sun397"):  # one "all" split: downstream sets only
        with pytest.raises(ValueError, match=f"dataset '{name}' has no train / test split.*downstream set"):
            pretraining_splits(name)
    with pytest.raises(ValueError, match="unknown dataset 'bogus'"):
        pretraining_splits("bogus")


def test_an_image_folder_needs_the_splits_pretraining_reads(tmp_path):
    from ssl_lib.data.datasets import DatasetNotFoundError, require_present

    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetNotFoundError, match=f"looked for {tmp_path}/test"):
        require_present("imagefolder", tmp_path)
    (tmp_path / "test").mkdir()
    require_present("imagefolder", tmp_path)


def test_a_missing_root_is_named():
    from ssl_lib.data.datasets import load_dataset, require_present

    for call in (lambda: load_dataset("cifar10", None, "train"), lambda: require_present("cifar10", "")):
        with pytest.raises(ValueError, match="root must name the folder that holds the dataset"):
            call()
