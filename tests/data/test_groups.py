"""Invariance groups: within a group only the intended factors change."""
import pytest
import torch

from ssl_lib.data import make_groups, make_synthetic
from ssl_lib.data.render import temperature_rgb


def saturation(img):
    mx, mn = img.max(dim=-3).values, img.min(dim=-3).values
    return torch.where(mx > 0, (mx - mn) / mx.clamp_min(1e-8), torch.zeros_like(mx))


def test_shapes_and_keys():
    images, fixed, varying = make_groups(3, views=5, change="viewpoint", size=32, seed=1)
    assert images.shape == (3, 5, 3, 32, 32) and images.dtype == torch.float32
    assert set(varying) == {"x", "y", "scale", "angle", "position", "size", "orientation"}
    assert {"shape", "color", "hue", "background"} <= set(fixed) and not set(fixed) & set(varying)
    assert all(v.shape == (3,) for v in fixed.values())
    assert all(v.shape == (3, 5) for v in varying.values())


def test_group_base_scenes_are_the_synthetic_scenes():
    _, fixed, _ = make_groups(6, views=2, seed=4, split="val")
    _, labels = make_synthetic(6, seed=4, split="val")
    for key in ("shape", "color", "hue", "background"):
        assert torch.equal(fixed[key], labels[key])


def test_viewpoint_groups_move_the_object_only():
    # The small objects of the first design: the saturation mask below finds every object pixel
    # there, while the thin tips of the default design's large objects fade below its threshold.
    images, fixed, varying = make_groups(8, views=6, change="viewpoint", size=64, seed=2, scene="textured")
    for g in range(8):
        views = images[g]
        # geometry changes: every pair of views differs and the latents spread out
        assert varying["x"][g].std() > 0.02 and varying["angle"][g].std() > 0.1
        assert (views[1:] - views[:1]).abs().flatten(1).mean(1).min() > 1e-3
        # background identical wherever no view shows the object; objects have saturation
        # >= 0.75, backgrounds <= 0.5; dilating by 2 px covers the anti-aliased edges
        shown = torch.nn.functional.max_pool2d((saturation(views) > 0.55).float(), 5, 1, 2)
        background = (shown == 0).all(dim=0)
        assert background.float().mean() > 0.3
        assert (views - views[:1]).abs()[:, :, background].max() < 1e-6
        # same object colour in every view: the mean colour of the saturated pixels agrees
        colours = torch.stack([v[:, saturation(v) > 0.7].median(dim=1).values for v in views])
        assert (colours - colours[0]).abs().max() < 0.02


def test_lighting_groups_keep_the_geometry():
    images, fixed, varying = make_groups(6, views=5, change="lighting", size=64, seed=3)
    assert set(varying) == {"gain", "temperature", "shade_angle", "shade_strength"}
    assert {"x", "y", "scale", "angle", "shape", "color"} <= set(fixed)
    size = 64
    u = (torch.arange(size) + 0.5) / size - 0.5
    for g in range(6):
        # Undo the documented lighting model: per-channel gain * temperature, times a linear
        # shading ramp.  What is left must be one and the same image for every view.
        gain = varying["gain"][g, :, None] * temperature_rgb(varying["temperature"][g])  # (K, 3)
        s, a = varying["shade_strength"][g], varying["shade_angle"][g]
        ramp = 1 + (s * a.cos())[:, None, None] * u[None, None, :] + (s * a.sin())[:, None, None] * u[None, :, None]
        light = gain[:, :, None, None] * ramp[:, None]
        views = images[g]
        unclipped = (views < 0.999).all(dim=0).all(dim=0)
        unlit = views / light
        assert (unlit - unlit[:1]).abs()[:, :, unclipped].max() < 1e-4
        # ... and lighting really changed the pixels
        assert (views - views[:1]).abs().flatten(1).mean(1)[1:].min() > 0.01


@pytest.mark.parametrize("kwargs, name", [({"n_groups": 0}, "n_groups"), ({"views": 0}, "views"),
                                          ({"change": "pose"}, "change"), ({"size": 50}, "size")])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_groups(**{"n_groups": 2, **kwargs})
