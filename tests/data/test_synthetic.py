"""Synthetic scenes: determinism, splits, label ranges and balance, and labels measured back
from the pixels (hue, centroid, radius, mirror symmetry)."""
import colorsys
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssl_lib.data import NUM_CLASSES, REGRESSION_TARGETS, make_synthetic
from ssl_lib.data.latents import DEFAULT_SCENE, Latents, get_scene, wrap_angle
from ssl_lib.data.render import render
from ssl_lib.data.synthetic import synthetic_latents

LABEL_KEYS = set(NUM_CLASSES) | set(REGRESSION_TARGETS)


def hsv_image(img):
    """(3, H, W) float tensor -> (H, W, 3) numpy HSV, by the standard library's colorsys."""
    rgb = img.permute(1, 2, 0).reshape(-1, 3).double().numpy()
    return np.array([colorsys.rgb_to_hsv(*p) for p in rgb]).reshape(*img.shape[1:], 3)


def object_mask(hsv):
    # Documented contrast: objects have saturation >= 0.75, backgrounds <= 0.5 (a texture
    # scales the value only, which leaves saturation unchanged).
    return hsv[..., 1] > 0.65


@pytest.fixture(scope="module")
def big():
    return make_synthetic(4096, size=32, seed=0)


def test_shapes_dtypes_and_ranges(big):
    images, labels = big
    assert images.shape == (4096, 3, 32, 32) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert set(labels) == LABEL_KEYS
    for key, n_classes in NUM_CLASSES.items():
        assert labels[key].dtype == torch.int64 and labels[key].shape == (4096,)
        assert labels[key].min() >= 0 and labels[key].max() < n_classes
    for key in REGRESSION_TARGETS:
        assert labels[key].dtype == torch.float32 and labels[key].shape == (4096,)
    assert labels["hue"].min() >= 0 and labels["hue"].max() < 1
    assert labels["angle"].min() >= -math.pi and labels["angle"].max() < math.pi


def test_classes_are_balanced(big):
    _, labels = big
    for key, k in NUM_CLASSES.items():
        counts = torch.bincount(labels[key], minlength=k).double()
        # expected n/k each; 25 % is > 5 binomial standard deviations for every factor here
        assert (counts - 4096 / k).abs().max() < 0.25 * 4096 / k, (key, counts)


def test_same_seed_same_images_other_seed_differs():
    a, la = make_synthetic(64, seed=3)
    b, lb = make_synthetic(64, seed=3)
    c, _ = make_synthetic(64, seed=4)
    assert torch.equal(a, b) and all(torch.equal(la[k], lb[k]) for k in la)
    assert (a - c).abs().mean() > 0.05


def test_more_images_extend_rather_than_reshuffle():
    small, ls = make_synthetic(10, seed=1, split="val")
    large, ll = make_synthetic(1500, seed=1, split="val")
    assert torch.equal(small, large[:10]) and torch.equal(ls["shape"], ll["shape"][:10])


def test_splits_never_share_an_image():
    seen = {}
    for split in ("train", "val", "test"):
        images, _ = make_synthetic(1024, seed=0, split=split, dtype=torch.uint8)
        for i, img in enumerate(images):
            key = img.numpy().tobytes()
            assert key not in seen, f"{split}[{i}] repeats {seen.get(key)}"
            seen[key] = (split, i)
    assert len(seen) == 3 * 1024


def test_uint8_is_the_rounded_float():
    f, _ = make_synthetic(32, seed=2)
    u, _ = make_synthetic(32, seed=2, dtype=torch.uint8)
    assert u.dtype == torch.uint8
    assert (u.float() - f * 255).abs().max() <= 0.5 + 1e-3


def test_chunking_does_not_change_the_result():
    lat = synthetic_latents(50, seed=5)
    whole = render(lat, 32, "cpu")
    chunked = render(lat, 32, "cpu", pixels_per_chunk=7 * 32 * 32)
    assert torch.equal(whole, chunked)


def test_sizes_render_the_same_scene():
    # Same seed at 96 px, box-filtered to 32 px, matches the 32 px rendering up to edge aliasing.
    hi, lab96 = make_synthetic(16, size=96, seed=7)
    lo, lab32 = make_synthetic(16, size=32, seed=7)
    assert all(torch.equal(lab96[k], lab32[k]) for k in lab32)
    assert (F.avg_pool2d(hi, 3) - lo).abs().mean() < 0.02


def mirror_latents(lat: Latents) -> Latents:
    """Latents of the horizontally mirrored scenes: ``render(mirror(l)) == flip(render(l))``.

    Pixel centres sit at ``(i + 0.5) / size``, so ``x -> 1 - x`` maps pixel columns exactly
    onto each other; the grating ``sin(kx x + ky y + phase)`` becomes
    ``sin(-kx x + ky y + phase + kx)``.
    """
    return lat.replace(
        x=1.0 - lat.x,
        angle=wrap_angle(math.pi - lat.angle),
        grating_kx=-lat.grating_kx,
        grating_phase=lat.grating_phase + lat.grating_kx,
        noise=lat.noise.flip(-1),
        shade_angle=wrap_angle(math.pi - lat.shade_angle),
    )


def test_mirrored_latents_render_the_flipped_image():
    lat = synthetic_latents(64, seed=11, split="test")
    images = render(lat, 64, "cpu")
    mirrored = render(mirror_latents(lat), 64, "cpu")
    assert (mirrored - images.flip(-1)).abs().max() < 1e-4
    # ... and the flip really changed the images, while the orientation answer swapped.
    assert (images - images.flip(-1)).abs().mean() > 0.01
    from ssl_lib.data.latents import labels_from_latents

    before, after = labels_from_latents(lat), labels_from_latents(mirror_latents(lat))
    assert torch.equal(after["orientation"], 1 - before["orientation"])
    for key in ("shape", "color", "size", "background"):
        assert torch.equal(after[key], before[key])


def test_colour_class_matches_measured_hue():
    images, labels = make_synthetic(48, size=64, seed=13)
    for img, hue, cls in zip(images, labels["hue"], labels["color"]):
        hsv = hsv_image(img)
        h = hsv[..., 0][object_mask(hsv)]
        # circular median of the object's hue
        measured = (np.median(np.remainder(h - hue.item() + 0.5, 1.0)) - 0.5 + hue.item()) % 1.0
        assert abs((measured - hue.item() + 0.5) % 1.0 - 0.5) < 0.01
        # the class is the hue's bin; a measured hue within 0.01 of a bin edge may fall either side
        k = get_scene(DEFAULT_SCENE).colors
        assert cls.item() == round(hue.item() * k) % k
        off_by = (round(measured * k) - cls.item() + k // 2) % k - k // 2
        assert off_by == 0 or (abs(off_by) == 1 and abs((hue.item() * k) % 1 - 0.5) < 0.01 * k)


def test_position_and_scale_match_the_object_mask():
    size = 96
    images, labels = make_synthetic(48, size=size, seed=17)
    centres = (np.arange(size) + 0.5) / size
    lo, hi = get_scene(DEFAULT_SCENE).centre_range
    cells_agree = 0
    for i, img in enumerate(images):
        mask = object_mask(hsv_image(img))
        ys, xs = np.nonzero(mask)
        cx, cy = centres[xs].mean(), centres[ys].mean()
        assert abs(cx - labels["x"][i].item()) < 1.0 / size
        assert abs(cy - labels["y"][i].item()) < 1.0 / size
        radius = np.hypot(centres[xs] - cx, centres[ys] - cy).max()
        assert abs(radius - labels["scale"][i].item()) < 2.0 / size
        col = min(2, int((cx - lo) / (hi - lo) * 3))
        row = min(2, int((cy - lo) / (hi - lo) * 3))
        cells_agree += row * 3 + col == labels["position"][i].item()
    assert cells_agree >= 46  # centroids within a pixel of a cell edge may land either side


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n": 0}, "n"),
        ({"n": -3}, "n"),
        ({"n": 2.5}, "n"),
        ({"size": 48}, "size"),
        ({"split": "training"}, "split"),
        ({"device": "cdua"}, "device"),
        ({"seed": -1}, "seed"),
        ({"dtype": torch.float64}, "dtype"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    args = {"n": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        make_synthetic(**args)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    a, la = make_synthetic(256, seed=1)
    b, lb = make_synthetic(256, seed=1, device="cuda")
    assert b.device.type == "cuda" and all(torch.equal(la[k], lb[k].cpu()) for k in la)
    assert (a - b.cpu()).abs().max() < 1e-3


# -- scene designs -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(__import__("ssl_lib.data", fromlist=["SCENES"]).SCENES))
def test_every_registered_design_renders_with_labels_in_its_own_classes(name):
    design = get_scene(name)
    images, labels = make_synthetic(2048, seed=1, scene=name)
    assert images.shape == (2048, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    for key, k in design.num_classes().items():
        counts = torch.bincount(labels[key], minlength=k)
        assert len(counts) == k and (counts > 0).all(), (name, key)
    # the facing direction stays within max_tilt of horizontal
    tilt = torch.minimum(labels["angle"].abs(), math.pi - labels["angle"].abs())
    assert tilt.max() <= math.radians(design.max_tilt) + 1e-6
    lo, hi = design.centre_range
    assert labels["x"].min() >= lo and labels["x"].max() <= hi
    lo, hi = design.scale_range
    assert labels["scale"].min() >= lo and labels["scale"].max() <= hi


def test_a_full_bin_hue_spread_makes_the_hue_uniform_and_flat_backgrounds_are_flat():
    from ssl_lib.data.latents import SceneDesign

    design = SceneDesign("test", colors=24, hue_spread=0.5 / 24, grating_amp=(0, 0), noise_amp=(0, 0))
    images, labels = make_synthetic(4096, size=32, seed=2, scene=design)
    # uniform on the circle: each tenth of it holds about a tenth of the hues
    counts = torch.histc(labels["hue"], bins=10, min=0, max=1)
    assert (counts - 409.6).abs().max() < 0.2 * 409.6
    # no texture: the corner pixels (background for every object position here) of an image agree
    corners = images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners.amax(dim=2) - corners.amin(dim=2)).max() < 1e-6


def test_designs_share_the_random_stream():
    # same seed: same shapes and facing sides under any design, so designs differ only in ranges
    a = make_synthetic(256, seed=4, scene="textured")[1]
    b = make_synthetic(256, seed=4, scene="flat-large-upright")[1]
    assert torch.equal(a["shape"], b["shape"]) and torch.equal(a["orientation"], b["orientation"])


def test_bad_designs_are_refused_by_name():
    from ssl_lib.data.latents import SceneDesign

    with pytest.raises(ValueError, match="unknown scene design 'nope'"):
        make_synthetic(4, scene="nope")
    with pytest.raises(ValueError, match="leave the frame"):
        SceneDesign("x", centre_range=(0.2, 0.8), scale_range=(0.1, 0.3))
    with pytest.raises(ValueError, match="max_tilt"):
        SceneDesign("x", max_tilt=90)
    with pytest.raises(ValueError, match="hue_spread"):
        SceneDesign("x", colors=8, hue_spread=0.1)


def _circular_median_offset(h, centre):
    """Median of the hues h (numpy, [0, 1)) around `centre`, as an offset in [-0.5, 0.5)."""
    return float(np.median(np.remainder(h - centre + 0.5, 1.0)) - 0.5)


def test_two_tone_objects_carry_the_label_hue_in_front_and_a_free_hue_behind():
    from ssl_lib.data.latents import labels_from_latents, sample_latents
    from ssl_lib.data.render import front_half
    from ssl_lib.data.synthetic import keyed_generator

    one = sample_latents(24, keyed_generator(3, 0, 0), "flat-large-upright-fine-hue")
    two = sample_latents(24, keyed_generator(3, 0, 0), "flat-large-upright-fine-hue-two-tone")
    # every factor is the one-tone design's draw; only the back hue is new (uniform, not the label's)
    for name in ("shape", "x", "y", "scale", "angle", "hue", "sat", "val", "bg_hue", "noise"):
        assert torch.equal(getattr(one, name), getattr(two, name)), name
    assert torch.equal(one.back_hue, one.hue) and not torch.equal(two.back_hue, two.hue)
    labels = labels_from_latents(two, "flat-large-upright-fine-hue-two-tone")
    assert torch.equal(labels["color"], labels_from_latents(one, "flat-large-upright-fine-hue")["color"])
    images = render(two, 64, "cpu")
    front = front_half(two, 64).numpy()
    for img, is_front, hue, back in zip(images, front, two.hue.tolist(), two.back_hue.tolist()):
        hsv = hsv_image(img)
        mask = object_mask(hsv)
        assert abs(_circular_median_offset(hsv[..., 0][mask & is_front], hue)) < 0.01
        assert abs(_circular_median_offset(hsv[..., 0][mask & ~is_front], back)) < 0.01
    # the front stays the front under a mirror: the flipped image is the mirrored scene's
    assert (render(mirror_latents(two), 64, "cpu") - images.flip(-1)).abs().max() < 1e-4
    # a one-tone scene renders as before: back_hue equal to hue takes no other path
    assert torch.equal(render(one, 64, "cpu"), render(two.replace(back_hue=two.hue), 64, "cpu"))
