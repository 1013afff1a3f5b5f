"""AugSelf heads: loss forms written out, symmetric use, gradients, config parsing."""

import pytest
import torch
from torch.nn import functional as F

from ssl_lib.augment import augself_targets, recipe
from ssl_lib.models.augself import AugSelfHeads, parse_groups


def views(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g)
    pipeline = recipe("mocov2", 32, rotation_p=1.0, solarize_p=0.5)
    return pipeline(images, g)[1], pipeline(images, g)[1]


def test_group_losses_equal_the_written_out_forms():
    torch.manual_seed(0)
    p1, p2 = views()
    heads = AugSelfHeads(8, {"crop": 1.0, "color": 0.5, "flip": 1.0, "blur": 1.0, "rotation": 1.0, "solarize": 1.0},
                         hidden=16)
    y1, y2 = torch.randn(16, 8), torch.randn(16, 8)
    got = heads.group_losses(y1, y2, p1, p2)
    pair = torch.cat([torch.cat([y1, y2], 1), torch.cat([y2, y1], 1)])
    t12, t21 = augself_targets(p1, p2), augself_targets(p2, p1)
    target = {g: torch.cat([t12[g], t21[g]]) for g in t12}
    pred = {g: head(pair) for g, head in heads.heads.items()}
    assert torch.allclose(got["crop"], ((torch.tanh(pred["crop"]) - target["crop"]) ** 2).mean())
    # blur: MSE on tanh of the raw sigma difference, as the authors (not MSE on the raw output)
    assert torch.allclose(got["blur"], ((torch.tanh(pred["blur"]) - target["blur"]) ** 2).mean())
    assert torch.allclose(got["solarize"], ((torch.tanh(pred["solarize"]) - target["solarize"]) ** 2).mean())
    assert torch.allclose(got["flip"], F.binary_cross_entropy_with_logits(pred["flip"], target["flip"]))
    assert torch.allclose(got["rotation"], -F.log_softmax(pred["rotation"], 1).gather(1, target["rotation"][:, None]).mean())
    total, _ = heads(y1, y2, p1, p2)
    assert torch.allclose(total, sum(heads.weights[g] * v for g, v in got.items()))


def test_gradients_reach_the_features():
    p1, p2 = views()
    heads = AugSelfHeads(8, {"crop": 1.0, "color": 1.0}, hidden=16)
    y1 = torch.randn(16, 8, requires_grad=True)
    y2 = torch.randn(16, 8, requires_grad=True)
    heads(y1, y2, p1, p2)[0].backward()
    assert y1.grad.abs().sum() > 0 and y2.grad.abs().sum() > 0


def test_parse_groups():
    assert parse_groups("crop,color") == {"crop": 1.0, "color": 1.0}
    assert parse_groups("crop:0.5, rotation:2") == {"crop": 0.5, "rotation": 2.0}
    assert parse_groups("") == {}
    with pytest.raises(ValueError, match="unknown AugSelf group 'shear'"):
        parse_groups("crop,shear")
    with pytest.raises(ValueError, match="must be >= 0"):
        parse_groups("crop:-1")
    with pytest.raises(ValueError, match="must be a number"):
        parse_groups("crop:high")


def test_augself_settings_parse_the_groups_once_and_build_the_heads():
    from ssl_lib.models.augself import AugSelfSettings
    from ssl_lib.models.config import ModelConfig

    settings = AugSelfSettings("crop:0.5,color", hidden=16)
    assert settings.weights == {"crop": 0.5, "color": 1.0}
    with pytest.raises(ValueError, match="at least one group"):
        AugSelfSettings("")
    assert ModelConfig().augself_settings() is None
    assert ModelConfig(augself="crop", augself_hidden=16).augself_settings() == AugSelfSettings({"crop": 1.0}, 16)
    heads = settings.heads(feature_dim=8)
    assert set(heads.heads) == {"crop", "color"} and heads.weights == settings.weights
