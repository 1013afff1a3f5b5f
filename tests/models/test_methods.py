"""SSL methods: losses are finite and train the backbone; momentum targets follow their schedules."""

import math

import pytest
import torch

from ssl_lib.augment import recipe
from ssl_lib.models.backbones import make_backbone
from ssl_lib.models.methods import METHOD_CLASSES, PAPER_SPECS, build_method, head_spec

SMALL_HEADS = dict(proj_hidden=64, proj_dim=32, pred_hidden=16, queue_size=64)


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 32, 32, generator=g)
    pipeline = recipe("simclr", 32)
    v1, p1 = pipeline(images, g)
    v2, p2 = pipeline(images, g)
    return v1, v2, p1, p2


@pytest.mark.parametrize("name", list(METHOD_CLASSES))
def test_loss_is_finite_and_gradients_reach_the_backbone(name):
    torch.manual_seed(0)
    model = build_method(name, make_backbone("small_cnn", width=8), **SMALL_HEADS)
    out = model(*batch())
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert out.y1.shape == out.y2.shape == (8, 64)
    assert (out.y1_target is None) == (not model.has_target)
    out.loss.backward()
    grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    if model.has_target:
        assert all(p.grad is None for p in model.target_backbone.parameters())


def test_training_steps_lower_the_simclr_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = build_method("simclr", make_backbone("small_cnn", width=8), **SMALL_HEADS)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = batch(32)
    first = model(*data).loss.item()
    for _ in range(15):
        loss = model(*data).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first - 0.1


def test_momentum_update_is_an_ema_and_byol_schedule_rises_to_one():
    torch.manual_seed(0)
    model = build_method("byol", make_backbone("small_cnn", width=8), **SMALL_HEADS)
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.target_backbone.parameters()]
    model.update_target(progress=0.0)
    tau = 0.996  # BYOL: 1 - (1 - 0.996) * (cos(0) + 1) / 2
    for b, t, o in zip(before, model.target_backbone.parameters(), model.backbone.parameters()):
        assert torch.allclose(t, tau * b + (1 - tau) * o, atol=1e-6)
    assert model.momentum(1.0) == 1.0
    assert math.isclose(model.momentum(0.5), 1 - 0.004 / 2)
    moco = build_method("mocov2", make_backbone("small_cnn", width=8), **SMALL_HEADS)
    assert moco.momentum(0.0) == moco.momentum(1.0) == 0.99


def test_moco_queue_receives_normalised_keys_in_order():
    torch.manual_seed(0)
    model = build_method("mocov2", make_backbone("small_cnn", width=8), **SMALL_HEADS)
    model(*batch(8))
    assert model.queue_ptr.item() == 16
    assert torch.allclose(model.queue[:16].norm(dim=1), torch.ones(16), atol=1e-5)
    model.eval()
    model(*batch(8))
    assert model.queue_ptr.item() == 16  # evaluation never enqueues


def test_head_specs_follow_the_papers_and_accept_overrides():
    assert (PAPER_SPECS["simclr"].proj_hidden, PAPER_SPECS["simclr"].proj_dim) == (2048, 128)
    assert (PAPER_SPECS["byol"].pred_hidden, PAPER_SPECS["simsiam"].pred_hidden) == (4096, 512)
    assert PAPER_SPECS["barlow_twins"].proj_dim == 8192 and PAPER_SPECS["barlow_twins"].barlow_lambda == 5e-3
    spec = head_spec("vicreg", proj_hidden=128, proj_dim=None)
    assert spec.proj_hidden == 128 and spec.proj_dim == 8192
    with pytest.raises(ValueError, match="unknown method 'swav'"):
        head_spec("swav")
    with pytest.raises(TypeError, match="proj_width"):
        head_spec("simclr", proj_width=3)


def test_moco_step_with_more_keys_than_the_queue_keeps_the_newest():
    torch.manual_seed(0)
    model = build_method("mocov2", make_backbone("small_cnn", width=8), **{**SMALL_HEADS, "queue_size": 8})
    keys = torch.nn.functional.normalize(torch.randn(16, model.spec.proj_dim), dim=1)
    model._enqueue(keys)
    torch.testing.assert_close(model.queue, keys[-8:])
    assert model.queue_ptr.item() == 0
