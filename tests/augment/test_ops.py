"""The op registry: an op declared once reaches every consumer (ssl_lib/augment/ops.py).

A toy op, "fade" (blend a view towards mid-grey by a drawn amount), is registered by this test
alone; the pipeline, CASSLE's descriptor, AugSelf's targets and heads, the sensitivity analysis's
single-op pipelines, the invariance transforms and the explorer must all know it, with no other
file changed.
"""

import pytest
import torch

from ssl_lib.augment import AugParams, augself_targets, descriptor_columns, descriptor_layout, ops, recipe
from ssl_lib.evaluation.invariance import apply_transform, default_grids, measure_invariance, transform_names
from ssl_lib.evaluation.sensitivity import op_groups, single_op_pipeline
from ssl_lib.teaching.explorer import apply_settings, controls, identity_settings, settings_from_params
from ssl_lib.models.augself import AugSelfHeads


def fade(images, amount):
    """The toy op written out: x (1 - a) + 0.5 a per sample, amount (B,)."""
    a = amount.to(images.dtype)[:, None, None, None]
    return images * (1 - a) + 0.5 * a


def draw_fade(config, batch, height, width, rand, device):
    amount = config.fade_max * rand(batch)
    return dict(fade_amount=torch.where(rand(batch) < config.fade_p, amount, torch.zeros_like(amount)))


def configure_fade(config):
    if not 0 <= config.fade_max <= 1:
        raise ValueError(f"fade_max must lie in [0, 1], got {config.fade_max}")


FADE = ops.Op(
    name="fade",
    new_knobs={"fade_p": 0.0, "fade_max": 0.5},
    configure=configure_fade,
    off=dict(fade_p=0.0),
    on=dict(fade_p=1.0),
    varies=lambda config: config.fade_p > 0 and config.fade_max > 0,
    records=("fade_amount",),
    draw=draw_fade,
    apply=lambda x, p, config, measured: fade(x, p.fade_amount),
    descriptor={"fade": ops.DescriptorBlock(("amount",), "how far the view was faded to grey",
                                            lambda p: p.fade_amount.float()[:, None])},
    augself=ops.AugSelfTarget(("amount",), lambda a, b: (a.fade_amount - b.fade_amount)[:, None]),
    transforms={"fade": ops.FixedTransform("amount", lambda size: [0.0, 0.25, 0.5],
                                           lambda x, v: fade(x, torch.full((x.shape[0],), float(v))))},
    controls={"fade_amount": ops.Control("float", 0.0, 0.0, 1.0, 0.05)},
    from_settings=lambda s, batch, size, config, device: dict(
        fade_amount=torch.full((batch,), float(s["fade_amount"]), device=device)),
    to_settings=lambda p: {"fade_amount": float(p.fade_amount[0])},
)


@pytest.fixture
def toy_op():
    ops.register(FADE)
    try:
        yield FADE
    finally:
        ops.unregister("fade")


def images(n=6, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_the_pipeline_draws_and_applies_a_registered_op_after_the_built_in_ones(toy_op):
    x = images()
    plain_views, plain = recipe("mocov2", 16)(x, generator=torch.Generator().manual_seed(1))
    views, params = recipe("mocov2", 16, fade_p=1.0, fade_max=0.8)(x, generator=torch.Generator().manual_seed(1))
    # drawn after every built-in op: the built-in draws, and so a run's views, do not move
    for name, value in plain.as_dict().items():
        if ops.builtin_field(name) and name != "color_shift":
            torch.testing.assert_close(params.as_dict()[name], value)
    assert params.fade_amount.shape == (6,) and 0 < params.fade_amount.min() and params.fade_amount.max() <= 0.8
    torch.testing.assert_close(views, fade(plain_views, params.fade_amount))
    assert recipe("mocov2", 16).config.fade_p == 0.0  # the op's default: off
    with pytest.raises(ValueError, match="fade_max"):
        recipe("mocov2", 16, fade_max=2.0)


def test_recorded_values_of_a_registered_op_survive_indexing_cat_and_saving(toy_op, tmp_path):
    _, params = recipe("mocov2", 16, fade_p=1.0)(images())
    torch.testing.assert_close(params[2:4].fade_amount, params.fade_amount[2:4])
    torch.testing.assert_close(AugParams.cat([params[:3], params[3:]]).fade_amount, params.fade_amount)
    params.save(tmp_path / "p.pt")
    torch.testing.assert_close(AugParams.load(tmp_path / "p.pt").fade_amount, params.fade_amount)


def test_a_registered_op_is_in_the_descriptor(toy_op):
    _, params = recipe("mocov2", 16, fade_p=1.0)(images())
    torch.testing.assert_close(params.descriptor(["crop", "fade"])[:, 4], params.fade_amount)
    assert descriptor_columns(["fade"]) == ["fade.amount"]
    assert descriptor_layout(["crop", "fade"])[1]["meaning"] == "how far the view was faded to grey"


def test_a_registered_op_has_augself_targets_and_a_head(toy_op):
    pipeline = recipe("mocov2", 16, fade_p=1.0)
    _, p1 = pipeline(images(seed=1))
    _, p2 = pipeline(images(seed=1))
    target = augself_targets(p1, p2, ["fade"])["fade"]
    torch.testing.assert_close(target, (p1.fade_amount - p2.fade_amount)[:, None])
    heads = AugSelfHeads(feature_dim=8, weights={"fade": 1.0}, hidden=16)
    y1, y2 = torch.randn(6, 8), torch.randn(6, 8)
    losses = heads.group_losses(y1, y2, p1, p2)
    prediction = torch.tanh(heads.heads["fade"](torch.cat([torch.cat([y1, y2], 1), torch.cat([y2, y1], 1)])))
    expected = ((prediction - torch.cat([target, -target])) ** 2).mean()  # a regression: MSE of tanh
    torch.testing.assert_close(losses["fade"], expected)


def test_a_registered_op_has_a_single_op_pipeline(toy_op):
    assert "fade" in op_groups()
    pipeline = single_op_pipeline("fade", 16)
    assert pipeline.config.varying_keys() == {"fade"}
    x = images()
    views, params = pipeline(x)
    assert (params.fade_amount > 0).all()
    torch.testing.assert_close(views, fade(x, params.fade_amount), atol=1e-5, rtol=0)
    assert single_op_pipeline("crop", 16).config.fade_p == 0.0  # every other group switches it off


def test_a_registered_op_is_an_invariance_transform(toy_op):
    assert "fade" in transform_names() and default_grids(16)["fade"] == [0.0, 0.25, 0.5]
    x = images()
    torch.testing.assert_close(apply_transform(x, "fade", 0.25), x * 0.75 + 0.125)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 4))
    table = measure_invariance(net, images(40), transforms=["fade"])
    assert list(table.parameter.unique()) == ["amount"] and len(table) == 3
    assert table.invariance.iloc[0] == pytest.approx(1.0)  # amount 0 leaves the image as it is


def test_a_registered_op_has_an_explorer_control(toy_op):
    assert controls()["fade_amount"].high == 1.0 and identity_settings()["fade_amount"] == 0.0
    x = images()
    views, params = apply_settings(x, {"fade_amount": 0.4, "crop_scale": 1.0})
    assert settings_from_params(params)["fade_amount"] == pytest.approx(0.4)
    reference, _ = apply_settings(x, {})
    torch.testing.assert_close(views, fade(reference, torch.full((6,), 0.4)))
    with pytest.raises(ValueError, match="fade_amount"):
        apply_settings(x, {"fade_amount": 1.5})


def test_after_unregistering_nothing_of_the_op_is_left():
    ops.register(FADE)
    ops.unregister("fade")
    assert "fade" not in op_groups() and "fade" not in transform_names() and "fade_amount" not in controls()
    with pytest.raises(TypeError, match="fade_p"):
        recipe("mocov2", 16, fade_p=1.0)


def test_an_op_cannot_take_what_another_op_declares():
    with pytest.raises(ValueError, match="already registered"):
        ops.register(ops.get("blur"))
    clash = ops.Op(name="blur2", records=("blur_sigma",), draw=draw_fade, apply=None, off={}, on={},
                   varies=lambda c: False, from_settings=lambda *a: {}, to_settings=lambda p: {})
    with pytest.raises(ValueError, match="blur_sigma"):
        ops.register(clash)
    with pytest.raises(ValueError, match="loss"):
        ops.Op(name="bad", records=(), draw=draw_fade, apply=None, off={}, on={}, varies=lambda c: False,
            from_settings=lambda *a: {}, to_settings=lambda p: {}, augself=ops.AugSelfTarget(("x",), None, "hinge"))
    with pytest.raises(ValueError, match="unknown augmentation op"):
        ops.get("fade")


def test_the_built_in_ops_declare_every_part_they_are_read_for():
    for op in ops.ops():
        assert op.records and op.off and op.on and op.controls, op.name
        for name in op.knobs:  # every setting an op owns is a field of AugmentConfig
            assert hasattr(recipe("mocov2", 16).config, name), (op.name, name)
    assert set(ops.augself_groups()) == {"crop", "color", "flip", "blur", "rotation", "solarize"}
    assert {t.loss for t in ops.augself_groups().values()} == set(ops.LOSS_KINDS)


def test_the_recorded_fields_and_settings_are_the_built_in_ops_own():
    from dataclasses import fields

    from ssl_lib.augment import AugmentConfig

    records = sorted(name for op in ops.ops() for name in op.records)
    assert records == sorted(f.name for f in fields(AugParams) if f.name != "extra")
    knobs = sorted(name for op in ops.ops() for name in op.knobs)
    assert knobs == sorted(f.name for f in fields(AugmentConfig) if f.name not in ("size", "extra"))


def test_a_config_with_a_registered_op_stays_immutable_and_hashable(toy_op):
    config = recipe("mocov2", 16, fade_p=0.5).config
    assert hash(config) == hash(recipe("mocov2", 16, fade_p=0.5).config) and config.fade_p == 0.5
    assert config.changed(fade_max=0.2).fade_max == 0.2 and config.fade_max == 0.5
    with pytest.raises(ValueError, match="fade_max"):
        config.changed(fade_max=3.0)


def test_a_config_made_before_an_op_is_unregistered_can_still_be_changed():
    ops.register(FADE)
    try:
        config = recipe("mocov2", 16, fade_p=0.5).config
    finally:
        ops.unregister("fade")
    assert config.changed(blur_p=0.0).settings()["blur_p"] == 0.0 and "fade_p" not in config.changed().settings()


def test_recorded_values_no_op_declares_are_refused():
    _, params = recipe("mocov2", 16)(images())
    with pytest.raises(ValueError, match="flipp"):
        params.with_values(flipp=params.flip)


def test_an_op_may_not_hide_behind_an_existing_attribute_and_sliders_need_a_range():
    hidden = ops.Op(name="toy", records=("descriptor",), new_knobs={"settings": 1}, draw=draw_fade, apply=None,
                    off={}, on={}, varies=lambda c: False, from_settings=lambda *a: {}, to_settings=lambda p: {})
    with pytest.raises(ValueError, match="hidden"):
        ops.register(hidden)
    with pytest.raises(ValueError, match="needs low, high and step"):
        ops.Op(name="toy", records=(), draw=draw_fade, apply=None, off={}, on={}, varies=lambda c: False,
               from_settings=lambda *a: {}, to_settings=lambda p: {}, controls={"amount": ops.Control("float", 0.0)})
