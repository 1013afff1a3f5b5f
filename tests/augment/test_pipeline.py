"""Composed recipes against torchvision, replay, determinism, sampling laws and bad input."""

import math

import pytest
import torch
import torchvision.transforms.v2 as T
from scipy import stats

from ssl_lib.augment import RECIPES, AugmentConfig, recipe, with_settings
from tests.augment.tv_reference import reference_views, structured_images

TOL = 1e-4
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def batch(n=16, height=40, width=48, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    half = n // 2
    x = torch.cat([torch.rand(half, 3, height, width, generator=g), structured_images(n - half, height, width, seed)])
    return x.to(device)


@pytest.mark.parametrize("name", RECIPES)
@pytest.mark.parametrize("source", [(40, 48), (32, 32), (50, 27)])
def test_recipe_views_equal_torchvision_per_sample(name, source):
    # Probabilities raised so that every op actually runs on some samples of a small batch.
    overrides = dict(rotation_p=0.7)
    if name not in ("spatial",):
        overrides.update(blur_p=0.6, solarize_p=0.4, grayscale_p=0.3)
    pipeline = recipe(name, 24, **overrides)
    x = batch(16, *source)
    views, params = pipeline(x, generator=torch.Generator().manual_seed(3))
    assert views.shape == (16, 3, 24, 24) and views.dtype == x.dtype
    assert (views - reference_views(x, params, pipeline.config)).abs().max() <= TOL


def test_non_square_output_and_default_recipe_without_overrides():
    pipeline = recipe("simclr", (20, 30))
    x = batch(32, 36, 30)
    views, params = pipeline(x)
    assert views.shape == (32, 3, 20, 30)
    assert (views - reference_views(x, params, pipeline.config)).abs().max() <= TOL


@pytest.mark.parametrize("device", DEVICES)
def test_replay_reproduces_views_and_generator_is_deterministic(device):
    pipeline = recipe("byol2", 32, rotation_p=0.5)
    x = batch(8, device=device)
    gen = lambda seed: torch.Generator(device=device).manual_seed(seed)
    views, params = pipeline(x, generator=gen(0))
    again, params_again = pipeline(x, generator=gen(0))
    other, _ = pipeline(x, generator=gen(1))
    assert torch.equal(views, again)
    assert all(torch.equal(a, b) for a, b in zip(params.as_dict().values(), params_again.as_dict().values()))
    assert not torch.equal(views, other)
    assert torch.equal(pipeline.replay(x, params)[0], views)
    assert torch.equal(pipeline.replay(x, params.to("cpu"))[0], views)
    drawn = pipeline.sample(8, x.shape[-2:], device, gen(0))  # the same draws, no colour shift yet
    assert not drawn.color_shift.any()
    _, replayed = pipeline.replay(x, drawn)
    assert torch.allclose(replayed.color_shift, params.color_shift)
    assert not drawn.color_shift.any()  # the caller's params are left as they were
    assert all(t.device == x.device for t in params.as_dict().values())


def test_params_shapes_and_dtypes():
    _, params = recipe("mocov2", 32)(batch(10))
    expected = {
        "crop_box": ((10, 4), torch.int64), "source_size": ((10, 2), torch.int64),
        "flip": ((10,), torch.bool), "jitter_applied": ((10,), torch.bool),
        "jitter_factors": ((10, 4), torch.float32), "jitter_order": ((10, 4), torch.int64),
        "grayscale": ((10,), torch.bool), "blur_sigma": ((10,), torch.float32),
        "solarize": ((10,), torch.bool), "solarize_threshold": ((10,), torch.float32),
        "rotation_k": ((10,), torch.int64),
    }
    d = params.as_dict()
    for key, (shape, dtype) in expected.items():
        assert d[key].shape == shape and d[key].dtype == dtype, key
    assert (d["source_size"] == torch.tensor([40, 48])).all()


def test_unjittered_samples_record_identity():
    _, params = recipe("mocov2", 32, jitter_p=0.5)(batch(64))
    off = ~params.jitter_applied
    assert off.any() and params.jitter_applied.any()
    assert (params.jitter_factors[off] == torch.tensor([1.0, 1.0, 1.0, 0.0])).all()
    assert (params.color_shift[off] == 0).all()
    assert (params.blur_sigma[params.blur_sigma > 0] >= 0.1).all()


def test_fallback_crop_matches_torchvision():
    # A 10 x 100 strip: no try of area >= 90% with aspect in [3/4, 4/3] fits, so both fall back.
    pipeline = recipe("spatial", 8, scale=(0.9, 1.0), flip_p=0.0)
    x = torch.rand(5, 3, 10, 100)
    _, params = pipeline(x)
    expected = T.RandomResizedCrop.get_params(x[0], scale=[0.9, 1.0], ratio=[3 / 4, 4 / 3])
    assert (params.crop_box == torch.tensor(expected)).all()


def test_center_crop_uses_largest_centred_box():
    pipeline = recipe("appearance", 16)
    _, square = pipeline(torch.rand(2, 3, 24, 24))
    _, wide = pipeline(torch.rand(2, 3, 20, 30))
    assert (square.crop_box == torch.tensor([0, 0, 24, 24])).all()
    assert (wide.crop_box == torch.tensor([0, 5, 20, 20])).all()
    assert not square.flip.any()


# -- sampling laws ---------------------------------------------------------------------------

N = 20_000


def binomial_ok(flags, p):
    """Observed rate within 5 standard deviations of p."""
    sd = math.sqrt(p * (1 - p) / flags.numel()) + 1e-12
    return abs(flags.float().mean().item() - p) <= 5 * sd


def test_crop_boxes_follow_torchvision_law():
    pipeline = recipe("simclr", 32)
    params = pipeline.sample(N, (40, 48), generator=torch.Generator().manual_seed(0))
    top, left, h, w = params.crop_box.T.double()
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 40).all() and (left + w <= 48).all()
    area = h * w / (40 * 48)
    # Rounding the sides moves the area and log-ratio by at most about one pixel's worth.
    assert area.min() >= 0.08 * 0.7 and area.max() <= 1.0
    log_ratio = torch.log(w / h)
    assert log_ratio.min() >= math.log(3 / 4) - 0.3 and log_ratio.max() <= math.log(4 / 3) + 0.3
    torch.manual_seed(0)
    reference = torch.tensor([T.RandomResizedCrop.get_params(torch.empty(3, 40, 48), [0.08, 1.0], [3 / 4, 4 / 3])
                              for _ in range(4000)], dtype=torch.float64)
    for column in range(4):  # two-sample KS on each box coordinate against torchvision's sampler
        assert stats.ks_2samp(params.crop_box[:4000, column].numpy(), reference[:, column].numpy()).pvalue > 1e-4


def test_application_rates_and_ranges():
    pipeline = recipe("byol2", 32, rotation_p=0.4, flip_p=0.5, jitter_p=0.8)
    params = pipeline.sample(N, (32, 32), generator=torch.Generator().manual_seed(1))
    assert binomial_ok(params.flip, 0.5)
    assert binomial_ok(params.jitter_applied, 0.8)
    assert binomial_ok(params.grayscale, 0.2)
    assert binomial_ok(params.blur_sigma > 0, 0.1)
    assert binomial_ok(params.solarize, 0.2)
    # k is uniform over 4 values when a rotation is drawn, so k != 0 has rate 0.4 * 3/4.
    assert binomial_ok(params.rotation_k != 0, 0.3)
    factors = params.jitter_factors[params.jitter_applied]
    for column, (low, high) in enumerate(pipeline.config.jitter_ranges):
        values = factors[:, column]
        assert low <= values.min() and values.max() <= high
        assert stats.kstest(((values - low) / (high - low)).numpy(), "uniform").pvalue > 1e-4
    sigma = params.blur_sigma[params.blur_sigma > 0]
    assert stats.kstest(((sigma - 0.1) / 1.9).numpy(), "uniform").pvalue > 1e-4


def test_jitter_orders_are_uniform_permutations():
    params = recipe("simclr", 32).sample(24 * 400, (32, 32), generator=torch.Generator().manual_seed(2))
    order = params.jitter_order
    assert (order.sort(dim=1).values == torch.arange(4)).all()
    codes = (order * torch.tensor([64, 16, 4, 1])).sum(dim=1)
    counts = torch.unique(codes, return_counts=True)[1]
    assert counts.numel() == 24
    assert stats.chisquare(counts.numpy()).pvalue > 1e-4


# -- settings and bad input ------------------------------------------------------------------

def test_settings_are_exposed():
    cfg = recipe("simclr", 96).config
    assert cfg.size == (96, 96) and cfg.blur_kernel == 9
    # the solarize threshold is drawn in (0, 1) as AugSelf's; BYOL's recipes fix it at 0.5
    assert cfg.solarize_threshold == (0.0, 1.0) and recipe("byol2", 96).config.solarize_threshold == (0.5, 0.5)
    assert recipe("mocov2", 32, solarize_threshold=0.3).config.solarize_threshold == (0.3, 0.3)
    assert cfg.brightness == (0.19999999999999996, 1.8) and cfg.hue == (-0.2, 0.2)
    assert recipe("mocov2", 224).config.blur_kernel == 23
    assert with_settings(recipe("mocov2", 32), blur_p=0.0).config.blur_p == 0.0


@pytest.mark.parametrize("overrides, error, word", [
    (dict(scale=(0.0, 1.0)), ValueError, "scale"),
    (dict(scale=(0.5, 1.2)), ValueError, "scale"),
    (dict(flip_p=1.5), ValueError, "flip_p"),
    (dict(jitter_p=-0.1), ValueError, "jitter_p"),
    (dict(blur_kernel=4), ValueError, "blur_kernel"),
    (dict(blur_kernel=0), ValueError, "blur_kernel"),
    (dict(hue=0.7), ValueError, "hue"),
    (dict(brightness=-1.0), ValueError, "brightness"),
    (dict(ratio=(2.0, 1.0)), ValueError, "ratio"),
    (dict(crop="left"), ValueError, "crop"),
    (dict(solarize_threshold=(0.6, 0.2)), ValueError, "solarize_threshold"),
    (dict(solarize_threshold=1.5), ValueError, "solarize_threshold"),
    (dict(colour=0.4), TypeError, "colour"),
])
def test_bad_settings_name_the_argument(overrides, error, word):
    with pytest.raises(error, match=word):
        recipe("mocov2", 32, **overrides)


def test_unknown_recipe_and_bad_size():
    with pytest.raises(ValueError, match="unknown recipe 'moco'"):
        recipe("moco", 32)
    with pytest.raises(ValueError, match="size"):
        AugmentConfig(size=0)
    with pytest.raises(ValueError, match="rotation_p"):
        recipe("mocov2", (16, 24), rotation_p=0.5)


def test_pipeline_rejects_bad_images_and_mismatched_params():
    pipeline = recipe("mocov2", 16)
    with pytest.raises(TypeError, match="dtype"):
        pipeline(torch.zeros(2, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="shape"):
        pipeline(torch.rand(3, 16, 16))
    _, params = pipeline(torch.rand(4, 3, 16, 16))
    with pytest.raises(ValueError, match="params describe 4 images"):
        pipeline.replay(torch.rand(3, 3, 16, 16), params)


def test_crop_sampler_equals_torchvision_algorithm_on_the_same_draws():
    """Feed recorded uniforms through torchvision's get_params, written out as a scalar loop."""
    from ssl_lib.augment.ops import sample_crop_boxes

    g = torch.Generator().manual_seed(5)
    draws = []

    def rand(*shape):
        draws.append(torch.rand(shape, generator=g))
        return draws[-1]

    height, width, scale, ratio = 37, 53, (0.08, 1.0), (3 / 4, 4 / 3)
    boxes = sample_crop_boxes(3000, height, width, scale, ratio, rand)
    u_area, u_ratio, u_top, u_left = draws
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for b in range(3000):
        expected = [(height - height) // 2, (width - width) // 2, height, width]  # fallback: aspect fits
        for t in range(10):
            area = height * width * (scale[0] + (scale[1] - scale[0]) * u_area[b, t].item())
            aspect = math.exp(log_low + (log_high - log_low) * u_ratio[b, t].item())
            w, h = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                expected = [int(u_top[b].item() * (height - h + 1)), int(u_left[b].item() * (width - w + 1)), h, w]
                break
        assert boxes[b].tolist() == expected, f"sample {b}"
