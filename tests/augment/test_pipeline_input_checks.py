"""The augmentation pipeline refuses input it would silently get wrong (NaN pixels, a string
size, parameters recorded on another image size) and handles half-precision images."""

import pytest
import torch

from ssl_lib.augment import AugmentConfig, recipe
from ssl_lib.augment import functional as F


def images(n=8, size=32, seed=0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_nan_pixels_are_refused():
    x = images()
    x[3, 1, 5, 7] = float("nan")
    pipeline = recipe("simclr", 32)
    with pytest.raises(ValueError, match="images.*NaN"):
        pipeline(x)
    _, params = pipeline(images())
    with pytest.raises(ValueError, match="images.*NaN"):
        pipeline.replay(x, params)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_images_give_finite_views_equal_to_float32(dtype):
    x = images(16).to(dtype)
    pipeline = recipe("simclr", 32, hue=0.5, jitter_p=1.0)  # hue on every view: the clamp that underflowed
    views, params = pipeline(x, torch.Generator().manual_seed(1))
    reference, _ = pipeline.replay(x.float(), params)
    assert views.dtype == dtype and torch.isfinite(views).all()
    tolerance = 2 * torch.finfo(dtype).eps  # one rounding of the float32 result
    torch.testing.assert_close(views.float(), reference, atol=tolerance, rtol=0)


def test_adjust_hue_is_finite_in_float16():
    x = images(4).half()
    x[0, :, :4, :4] = 0.5  # grey pixels: chroma 0
    x[1, 0] = x[1, 1] + 1e-4  # tiny chroma, below float16's smallest normal number
    out = F.adjust_hue(x, torch.full((4,), 0.25))
    assert out.dtype == torch.float16 and torch.isfinite(out).all()


def test_replay_refuses_parameters_recorded_on_another_image_size():
    pipeline = recipe("simclr", 32)
    _, params = pipeline(images(4, size=64))
    with pytest.raises(ValueError, match="source_size.*64.*32"):
        pipeline.replay(images(4, size=32), params)


@pytest.mark.parametrize("size", ["32", b"32", (32,), (32, 32, 3), 32.5, True, (32, "32"), (0, 32)])
def test_an_output_size_that_is_not_int_or_int_pair_is_refused(size):
    with pytest.raises((ValueError, TypeError), match="size"):
        recipe("simclr", size)


def test_valid_sizes():
    assert AugmentConfig(size=32).size == (32, 32)
    assert AugmentConfig(size=(24, 32)).size == (24, 32)
    assert AugmentConfig(size=torch.Size([16, 16])).size == (16, 16)
