"""Each batched op against torchvision's functional op applied to one image at a time."""

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from ssl_lib.augment import functional as F
from ssl_lib.utils.checks import check_images
from tests.augment.tv_reference import structured_images

TOL = 1e-4


def images(batch=6, height=20, width=28, seed=0):
    random = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))
    return torch.cat([random, structured_images(batch, height, width, seed)])


def per_sample(fn, x, *columns):
    return torch.stack([fn(x[b], *(c[b] for c in columns)) for b in range(x.shape[0])])


@pytest.mark.parametrize("size", [(16, 16), (31, 9), (48, 40)])
def test_resized_crop_matches_torchvision(size):
    x = images()
    h, w = x.shape[-2:]
    boxes = torch.tensor([
        [0, 0, h, w],          # the whole image
        [0, 0, 1, 1],          # one pixel, upsampled
        [h - 5, w - 7, 5, 7],  # bottom-right border
        [3, 2, 10, 20],
        [0, w - 3, h, 3],      # right border, tall and thin
        [7, 0, 2, w],
    ]).repeat(2, 1)
    flip = torch.tensor([False, True] * 6)
    out = F.resized_crop(x, boxes, size, flip=flip)
    for b in range(x.shape[0]):
        ref = TF.resized_crop(x[b], *boxes[b].tolist(), list(size), antialias=False)
        ref = TF.hflip(ref) if flip[b] else ref
        assert (out[b] - ref).abs().max() <= TOL, f"sample {b}, box {boxes[b].tolist()}"


@pytest.mark.parametrize("name, tv_fn, factors", [
    ("brightness", TF.adjust_brightness, [0.0, 0.6, 1.0, 1.4, 2.5]),
    ("contrast", TF.adjust_contrast, [0.0, 0.6, 1.0, 1.4, 2.5]),
    ("saturation", TF.adjust_saturation, [0.0, 0.6, 1.0, 1.4, 2.5]),
    ("hue", TF.adjust_hue, [-0.5, -0.1, 0.0, 0.25, 0.5]),
])
def test_colour_ops_match_torchvision(name, tv_fn, factors):
    x = images(batch=5)
    factor = torch.tensor(factors * 2)
    out = getattr(F, f"adjust_{name}")(x, factor)
    ref = torch.stack([tv_fn(x[b], float(factor[b])) for b in range(x.shape[0])])
    assert (out - ref).abs().max() <= TOL


def test_color_jitter_follows_per_sample_order():
    x = images(batch=12)
    g = torch.Generator().manual_seed(1)
    factors = torch.stack([0.5 + torch.rand(24, generator=g)] * 3 + [torch.rand(24, generator=g) - 0.5], dim=1)
    order = torch.rand(24, 4, generator=g).argsort(dim=1)
    out = F.color_jitter(x, factors, order)
    fns = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for b in range(x.shape[0]):
        ref = x[b]
        for op in order[b].tolist():
            ref = fns[op](ref, float(factors[b, op]))
        assert (out[b] - ref).abs().max() <= TOL, f"sample {b}, order {order[b].tolist()}"


def test_identity_jitter_is_exact():
    x = images()
    identity = torch.tensor([1.0, 1.0, 1.0, 0.0]).expand(x.shape[0], 4)
    order = torch.arange(4).expand(x.shape[0], 4)
    assert torch.equal(F.color_jitter(x, identity, order), x)


def test_grayscale_and_solarize_match_torchvision():
    x = images()
    mask = torch.arange(x.shape[0]) % 3 == 0
    grey = F.grayscale(x, mask)
    sol = F.solarize(x, mask, 0.3)
    for b in range(x.shape[0]):
        ref_grey = TF.rgb_to_grayscale(x[b], num_output_channels=3) if mask[b] else x[b]
        ref_sol = TF.solarize(x[b], 0.3) if mask[b] else x[b]
        assert (grey[b] - ref_grey).abs().max() <= TOL
        assert torch.equal(sol[b], ref_sol)


@pytest.mark.parametrize("kernel", [3, 9, 23])
def test_gaussian_blur_matches_torchvision(kernel):
    x = images(height=26, width=30)
    sigma = torch.tensor([0.1, 2.0, 0.5, 1.0, 1.7, 0.1, 5.0, 0.3, 2.0, 1.2, 0.8, 0.1])
    out = F.gaussian_blur(x, sigma, kernel)
    for b in range(x.shape[0]):
        ref = TF.gaussian_blur(x[b], [kernel, kernel], [float(sigma[b])] * 2)
        assert (out[b] - ref).abs().max() <= TOL, f"sigma {sigma[b]}"


def test_rotate90_matches_torchvision():
    x = images(height=17, width=17)
    k = torch.arange(x.shape[0]) % 4
    out = F.rotate90(x, k)
    ref = torch.stack([TF.rotate(x[b], 90.0 * int(k[b])) for b in range(x.shape[0])])
    assert torch.equal(out, ref)


@pytest.mark.parametrize("bad, error, word", [
    (torch.rand(3, 8, 8), ValueError, "shape"),
    (torch.rand(2, 4, 8, 8), ValueError, "shape"),
    (torch.randint(0, 255, (2, 3, 8, 8), dtype=torch.uint8), TypeError, "dtype"),
    (torch.rand(2, 3, 8, 8) * 2, ValueError, "[0, 1]"),
    (torch.rand(2, 3, 8, 8) - 0.5, ValueError, "[0, 1]"),
    ([[0.5]], TypeError, "Tensor"),
])
def test_check_images_names_the_problem(bad, error, word):
    with pytest.raises(error, match="images") as info:
        check_images(bad)
    assert word in str(info.value)


@pytest.mark.parametrize("kernel", [0, 4, -3])
def test_blur_rejects_bad_kernel(kernel):
    with pytest.raises(ValueError, match="kernel_size"):
        F.gaussian_blur(torch.rand(1, 3, 8, 8), torch.ones(1), kernel)
