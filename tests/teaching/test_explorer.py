"""The explorer's fixed-parameter views: settings <-> AugParams, replay equals the recipe's views."""

import pytest
import torch

from ssl_lib.augment import DEFAULT_DESCRIPTOR_KEYS, descriptor_columns, descriptor_dim, recipe
from ssl_lib.teaching.explorer import (apply_settings, controls, build_explorer, crop_box, describe_pair,
                              identity_settings, params_from_settings, random_settings, settings_from_params)


def images(n=3, size=32):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_identity_settings_give_the_clean_images():
    x = images()
    views, params = apply_settings(x, identity_settings(), "mocov2")
    torch.testing.assert_close(views, x, atol=1e-5, rtol=0)
    assert not params.jitter_applied.any() and not params.flip.any()
    assert torch.equal(params.color_vector(), torch.zeros(3, 4))


@pytest.mark.parametrize("name", ["mocov2", "simclr", "byol2", "spatial", "appearance"])
def test_random_draw_round_trips_and_replays_the_recipes_views(name):
    x = images(1)
    pipeline = recipe(name, 32)
    views, params = pipeline(x, torch.Generator().manual_seed(3))
    settings = settings_from_params(params)
    again = params_from_settings(settings, 1, (32, 32), pipeline)
    assert torch.equal(again.crop_box, params.crop_box) and torch.equal(again.jitter_order, params.jitter_order)
    replayed_views, replayed = pipeline.replay(x, again)
    torch.testing.assert_close(replayed_views, views)
    torch.testing.assert_close(replayed.descriptor(), params.descriptor())  # color_shift measured by replay


def test_a_slider_value_reaches_the_view():
    x = images(2)
    bright, _ = apply_settings(x, {"brightness": 1.5}, "mocov2")
    torch.testing.assert_close(bright, (x * 1.5).clamp(0, 1))
    flipped, params = apply_settings(x, {"flip": True}, "mocov2")
    torch.testing.assert_close(flipped, x.flip(-1), atol=1e-5, rtol=0)
    # the crop centre is mirrored for a flipped view, as in the CASSLE / AugSelf encodings
    assert params.crop_vector()[0, 1] == pytest.approx(0.5)


def test_crop_box_follows_scale_ratio_and_centre_and_stays_inside():
    assert crop_box(identity_settings(), 32, 32) == (0, 0, 32, 32)
    top, left, h, w = crop_box(identity_settings() | {"crop_scale": 0.25, "crop_cy": 0.0, "crop_cx": 1.0}, 32, 32)
    assert (h, w) == (16, 16) and top == 0 and left == 16


def test_unknown_or_out_of_range_settings_are_named():
    with pytest.raises(ValueError, match="unknown explorer setting"):
        apply_settings(images(), {"sharpness": 2.0})
    with pytest.raises(ValueError, match="brightness=3"):
        apply_settings(images(), {"brightness": 3.0})
    with pytest.raises(ValueError, match="permutation"):
        apply_settings(images(), {"jitter_order": (0, 0, 1, 2)})


def test_random_settings_are_within_the_controls_of_the_recipe():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        s = random_settings("mocov2", (32, 32), g)
        for name, c in controls().items():
            if c.kind == "float":
                assert c.low - 0.02 <= s[name] <= c.high + 0.02, name


def test_descriptor_columns_and_pair_description():
    assert len(descriptor_columns()) == descriptor_dim(DEFAULT_DESCRIPTOR_KEYS) == 13
    x = images(2)
    _, p1 = apply_settings(x, {"brightness": 1.4})
    _, p2 = apply_settings(x, {})
    desc, targets = describe_pair(p1, p2)
    assert list(desc.columns) == ["view1", "view2"] and len(desc) == 13
    assert list(desc.index[:5]) == ["blur.sigma", "color.brightness", "color.contrast", "color.saturation", "color.hue"]
    assert targets[targets.group == "crop"].component.tolist() == ["centre_y", "centre_x", "height", "width"]
    assert not targets.target.isna().any()
    assert list(desc.index[:5]) == ["blur.sigma", "color.brightness", "color.contrast", "color.saturation", "color.hue"]
    assert targets[targets.group == "crop"].component.tolist() == ["centre_y", "centre_x", "height", "width"]
    assert not targets.target.isna().any()
    colour = targets[targets.group == "color"].target.tolist()
    assert colour[0] == pytest.approx(0.4 / 0.8) and colour[1:] == [0, 0, 0]  # (1.4 - 1) / range 0.8


def test_the_widget_builds_and_reacts_without_a_frontend():
    widget = build_explorer({"a": images(2)}, recipes=("mocov2", "spatial"))
    header, sliders, _ = widget.children
    source, preset, randomize, reset = header.children
    randomize.click()
    assert any(c.value != identity_settings()[c.description] for c in sliders.children)
    reset.click()
    assert all(c.value == identity_settings()[c.description] for c in sliders.children)
    preset.value = "spatial"


def _view_sources(widget) -> dict[str, list[str]]:
    """The PNG sources per column title of the figure the explorer's Output widget holds."""
    figure = widget.children[2].outputs[0]["data"]["application/vnd.plotly.v1+json"]
    columns = [a["text"] for a in figure["layout"]["annotations"]]
    per_axis = {}
    for trace in figure["data"]:
        per_axis.setdefault(trace.get("xaxis", "x"), []).append(trace["source"])
    # make_subplots numbers axes row by row: column j of row i is axis i * columns + j + 1.
    axes = sorted(per_axis, key=lambda a: int(a[1:] or 1))
    sources = [per_axis[a][0] for a in axes]
    return {name: sources[j::len(columns)] for j, name in enumerate(columns)}


def test_the_output_widget_holds_the_redrawn_views():
    widget = build_explorer({"a": images(2), "b": images(2, size=32) * 0.5}, recipes=("mocov2", "spatial"))
    header, sliders, out = widget.children
    source = header.children[0]
    assert [o["output_type"] for o in out.outputs] == ["display_data"] * 2
    tables = out.outputs[1]["data"]["text/html"]
    assert "color.brightness" in tables and "centre_y" in tables and "NaN" not in tables
    first = _view_sources(widget)
    clean, view1 = first["clean"], first["view 1 (controls)"]
    assert clean == view1  # identity settings: view 1 is the image itself
    brightness = next(c for c in sliders.children if c.description == "brightness")
    brightness.value = 1.5
    moved = _view_sources(widget)
    assert moved["clean"] == clean and moved["view 1 (controls)"] != view1
    source.value = "b"
    assert _view_sources(widget)["clean"] != clean
