"""CASSLE's conditioned projector: it reads descriptors, the backbone never does, all injections."""

import pytest
import torch

from ssl_lib.augment import AugParams, recipe
from ssl_lib.models.cassle import INJECTIONS, ConditionedProjector


def params(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g)
    return recipe("mocov2", 32)(images, g)[1]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_output_changes_when_only_the_descriptor_changes(injection):
    torch.manual_seed(0)
    projector = ConditionedProjector(16, 32, 8, 2, False, injection=injection, depth=2, width=8).eval()
    if injection == "lowrank":  # zero-initialised (our variant): move off the plain projector first
        with torch.no_grad():
            for p in projector.parameters():
                p.add_(0.1 * torch.randn_like(p))
    y = torch.randn(8, 16)
    a, b = params(seed=0), params(seed=1)
    assert not torch.allclose(projector(y, a), projector(y, b))
    assert torch.equal(projector(y, a), projector(y, a))


def test_shuffled_mode_permutes_descriptors_across_the_batch():
    torch.manual_seed(0)
    matched = ConditionedProjector(16, 32, 8, 2, False, depth=2, width=8).eval()
    shuffled = ConditionedProjector(16, 32, 8, 2, False, depth=2, width=8, descriptors="shuffled").eval()
    shuffled.load_state_dict(matched.state_dict())
    y, p = torch.randn(8, 16), params()
    torch.manual_seed(5)
    out = shuffled(y, p)
    torch.manual_seed(5)
    perm = torch.randperm(8)
    permuted = AugParams(**{k: v[perm] for k, v in p.as_dict().items()})
    assert torch.allclose(out, matched(y, permuted), atol=1e-6)
    assert not torch.allclose(out, matched(y, p))


def test_lowrank_injection_starts_as_the_plain_projector():
    # Only our own "lowrank" variant is zero-initialised; the authors' add / mul / hyper are not
    # (add and mul inject the encoder's BN output directly: tests/test_fidelity_authors.py).
    torch.manual_seed(0)
    projector = ConditionedProjector(16, 32, 8, 2, False, injection="lowrank", depth=2, width=8).eval()
    y = torch.randn(8, 16)
    assert torch.allclose(projector(y, params(seed=0)), projector.net(y), atol=1e-6)


def test_bad_settings_and_missing_params():
    with pytest.raises(ValueError, match="unknown CASSLE injection 'film'"):
        ConditionedProjector(16, 32, 8, 2, False, injection="film")
    with pytest.raises(ValueError, match="descriptor keys"):
        ConditionedProjector(16, 32, 8, 2, False, keys=["shear"])
    projector = ConditionedProjector(16, 32, 8, 2, False, depth=1, width=4)
    with pytest.raises(ValueError, match="needs the views' AugParams"):
        projector(torch.randn(8, 16), None)


def test_cassle_settings_check_themselves_and_come_from_the_flat_config_fields():
    from ssl_lib.models.cassle import CassleSettings
    from ssl_lib.models.config import ModelConfig

    with pytest.raises(ValueError, match="injection 'film'"):
        CassleSettings(injection="film")
    with pytest.raises(ValueError, match="shear"):
        CassleSettings(keys=("crop", "shear"))
    assert CassleSettings(keys=("crop", "blur")).keys == ("blur", "crop")  # CASSLE's sorted layout
    assert ModelConfig().cassle_settings() is None
    cfg = ModelConfig(cassle=True, cassle_keys="crop,color", cassle_injection="add", cassle_depth=3)
    assert cfg.cassle_settings() == CassleSettings(("color", "crop"), "add", 3, None, "matched")
    assert ModelConfig(cassle=True, cassle_width=64).cassle_settings().width == 64
    with pytest.raises(ValueError, match="cassle_width must be positive"):
        ModelConfig(cassle=True, cassle_width=0).validate()
    with pytest.raises(ValueError, match="cassle_keys.*bogus"):  # a typo is one even while CASSLE is off
        ModelConfig(cassle=False, cassle_keys="crop,bogus").validate()


def test_default_width_keeps_the_authors_proportion_to_the_feature_width():
    from ssl_lib.models.cassle import scaled_width

    # README recipe: width 64 next to ResNet-50's 2048 features, i.e. 1/32 of the feature width
    assert [scaled_width(c) for c in (2048, 512, 128, 64, 8)] == [64, 16, 4, 2, 1]
    for feature_dim, injection in ((128, "concat"), (512, "concat"), (128, "lowrank"), (128, "add")):
        projector = ConditionedProjector(feature_dim, 32, 8, 2, False, injection=injection, depth=2)
        width = feature_dim // 32
        assert projector.width == width
        hidden = projector.encoder[0]
        assert isinstance(hidden, torch.nn.Linear) and hidden.out_features == width
        if injection == "concat":  # projector input [y, e(d)]: C + width
            assert projector.net[0].in_features == feature_dim + width
        if injection == "add":  # e(d) is added to y, so it has the feature width whatever `width` is
            assert projector.encoder[-2].out_features == feature_dim
    explicit = ConditionedProjector(128, 32, 8, 2, False, depth=2, width=64)
    assert explicit.width == 64 and explicit.net[0].in_features == 192


def test_built_model_scales_the_encoder_with_its_backbone():
    from ssl_lib.models.compose import build_model
    from ssl_lib.models.config import ModelConfig

    model = build_model(ModelConfig(backbone_width=16, proj_hidden=32, proj_dim=16, cassle=True, cassle_depth=2))
    projector = model.method.projector
    assert model.method.backbone.feature_dim == 128 and projector.width == 4
    assert projector.net[0].in_features == 132
