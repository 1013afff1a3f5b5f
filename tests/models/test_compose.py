"""Composition: every method with AugSelf, CASSLE and feature augmentation, by config alone."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ssl_lib.augment import recipe
from ssl_lib.models.cassle import ConditionedProjector
from ssl_lib.models.compose import build_model
from ssl_lib.models.heads import Projector
from ssl_lib.models.methods import METHODS
from ssl_lib.train.config import TrainConfig
from tests.models.test_methods_losses import hand_features, reference_loss

SMALL = dict(backbone_width=8, proj_hidden=32, proj_dim=16, pred_hidden=16, queue_size=64, augself_hidden=16,
             cassle_depth=2, cassle_width=8, n_train=256, batch_size=8)
VARIANTS = {
    "augself": dict(augself="crop,color"),
    "cassle": dict(cassle=True),
    "cassle_lowrank": dict(cassle=True, cassle_injection="lowrank"),
    "feature_aug": dict(feature_aug="noise"),
    "all": dict(augself="crop:0.5,color:0.5", cassle=True, cassle_injection="hyper", feature_aug="mix",
                fa_arrangement="basic", fa_stop_grad=False),
}


def batch(cfg, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g)
    names = ("byol1", "byol2") if cfg.recipe == "byol" else (cfg.recipe, cfg.recipe)
    v1, p1 = recipe(names[0], 32)(images, g)
    v2, p2 = recipe(names[1], 32)(images, g)
    return v1, v2, p1, p2


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_method_composes_with_every_component(method, variant):
    cfg = TrainConfig(method=method, **SMALL, **VARIANTS[variant]).validate()
    torch.manual_seed(0)
    model = build_model(cfg)
    out = model(*batch(cfg))
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert sum(p.grad.abs().sum() for p in model.backbone.parameters()) > 0
    if cfg.augself:
        assert set(out.augself) == {"crop", "color"} and set(out.terms()) == {"ssl_loss", "augself_crop", "augself_color"}
        # loss = ssl_loss + the weighted AugSelf terms (compared, not "not equal": with the
        # authors' hypernetwork VICReg's initial loss is ~1e11 and swallows the terms in float32)
        aux = sum(weight * out.augself[group] for group, weight in model.augself.weights.items())
        assert aux > 0
        assert_close(out.loss, out.ssl_loss + aux)
    if cfg.cassle:
        assert isinstance(model.method.projector, ConditionedProjector)
        if model.method.has_target:  # the momentum branch is conditioned on its own view too
            assert isinstance(model.method.target_projector, ConditionedProjector)


# The projector's and predictor's Linear layers (in, out) each paper prescribes, at SMALL's sizes
# (small_cnn width 8: 64 features; proj_hidden 32, proj_dim 16, pred_hidden 16).
TWO_LAYERS, THREE_LAYERS = [(64, 32), (32, 16)], [(64, 32), (32, 32), (32, 16)]
PAPER_LAYERS = {"simclr": TWO_LAYERS, "mocov2": TWO_LAYERS, "byol": TWO_LAYERS, "simsiam": THREE_LAYERS,
                "barlow_twins": THREE_LAYERS, "vicreg": THREE_LAYERS}


def linear_shapes(module):
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("method", METHODS)
def test_all_components_off_is_the_plain_method_by_hand(method):
    """All components off: the paper's heads at the config's sizes, and the loss of the method's
    paper formula computed by hand from its modules (test_method_losses' reference)."""
    cfg = TrainConfig(method=method, **SMALL).validate()
    torch.manual_seed(0)
    model = build_model(cfg)
    plain = model.method
    assert model.augself is None and plain.feature_aug is None and type(plain.projector) is Projector
    assert linear_shapes(plain.projector) == PAPER_LAYERS[method]
    if method in ("byol", "simsiam"):
        assert linear_shapes(plain.predictor) == [(16, 16), (16, 16)]
    if method == "mocov2":
        assert plain.queue.shape == (64, 16)
    data = batch(cfg)
    queue = plain.queue.clone() if method == "mocov2" else None
    out = model(*data)
    _, z, _, zt = hand_features(plain, data)
    assert_close(out.loss, reference_loss(method, plain, z, zt, queue))
    assert_close(out.ssl_loss, out.loss)


@pytest.mark.parametrize("method", ["simclr", "byol"])
def test_augself_and_feature_aug_leave_the_methods_initialisation_unchanged(method):
    """Paired comparisons (same seed, component on vs off) compare like with like: the heads that
    AugSelf and a parameter-free feature augmenter add do not shift the method's random init."""
    torch.manual_seed(0)
    plain = build_model(TrainConfig(method=method, **SMALL).validate()).method.state_dict()
    torch.manual_seed(0)
    aware = build_model(TrainConfig(method=method, **SMALL, augself="crop,color", feature_aug="noise").validate())
    assert aware.augself is not None and aware.method.feature_aug is not None
    state = aware.method.state_dict()
    assert state.keys() == plain.keys()
    for name, value in plain.items():
        assert torch.equal(state[name], value), name


def test_augself_gradient_reaches_the_backbone():
    cfg = TrainConfig(method="simclr", **SMALL, augself="crop,color").validate()
    model = build_model(cfg)
    out = model(*batch(cfg))
    (out.loss - out.ssl_loss).backward()
    assert sum(p.grad.abs().sum() for p in model.backbone.parameters()) > 0
    assert all(p.grad is None or not p.grad.any() for p in model.method.projector.parameters())


def test_the_backbone_never_sees_descriptors():
    cfg = TrainConfig(method="byol", recipe="byol", **SMALL, cassle=True).validate()
    model = build_model(cfg).eval()
    seen = []
    model.backbone.register_forward_hook(lambda m, inputs, output: seen.append(inputs))
    v1, v2, p1, p2 = batch(cfg)
    _, _, q1, q2 = batch(cfg, seed=9)
    with torch.no_grad():
        a, b = model(v1, v2, p1, p2), model(v1, v2, q1, q2)
    assert all(len(inputs) == 1 and inputs[0].shape[1] == 3 for inputs in seen)
    assert torch.equal(a.method.y1, b.method.y1) and not torch.equal(a.loss, b.loss)


@pytest.mark.parametrize("changes, message", [
    (dict(augself="crop,shear"), "augself: unknown AugSelf group 'shear'"),
    (dict(augself="crop:-0.5"), "augself: AugSelf weight"),
    (dict(augself="rotation"), "group 'rotation' is never varied by recipe 'simclr'"),
    (dict(cassle=True, recipe="spatial"), r"recipe 'spatial' never records \['blur', 'color', 'color_shift', 'grayscale'\]"),
    (dict(cassle=True, cassle_keys="crop,shear"), "cassle_keys"),
    (dict(cassle=True, cassle_injection="film"), "cassle_injection"),
    (dict(feature_aug="cutout"), "feature_aug"),
    (dict(feature_aug="noise", fa_weight=-1.0), "fa_weight"),
])
def test_bad_configuration_is_a_clear_error(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes).validate()


def test_spatial_recipe_with_matching_keys_is_fine():
    cfg = TrainConfig(cassle=True, recipe="spatial", cassle_keys="crop,flip", augself="crop,flip").validate()
    assert cfg.descriptor_keys() == ("crop", "flip")
