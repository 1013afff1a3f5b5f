"""Bundled photographs: offline, right shape and range, faithful to the files."""
import socket
from pathlib import Path

import pytest
import skimage.data
import skimage.io
import torch

from ssl_lib.data import sample_photos
from ssl_lib.data.photos import PHOTOS


def test_all_photos_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("sample_photos tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    photos, names = sample_photos(size=64)
    assert names == list(PHOTOS) and len(names) >= 4
    assert photos.shape == (len(names), 3, 64, 64) and photos.dtype == torch.float32
    assert photos.min() >= 0 and photos.max() <= 1
    assert photos.flatten(1).std(1).min() > 0.05  # real content, not blank


def test_default_size_is_a_crop_of_the_file():
    photos, names = sample_photos(names=["chelsea", "coffee"])
    assert photos.shape == (2, 3, 300, 300)  # the smaller short side (chelsea is 300 x 451)
    cat = skimage.io.imread(Path(skimage.data.__file__).parent / "chelsea.png")
    left = (cat.shape[1] - 300) // 2
    expected = torch.from_numpy(cat[:, left : left + 300].transpose(2, 0, 1) / 255.0).float()
    assert (photos[0] - expected).abs().max() < 1e-5


def test_bad_arguments():
    with pytest.raises(ValueError, match="lena"):
        sample_photos(names=["lena"])
    with pytest.raises(ValueError, match="size"):
        sample_photos(size=0)
