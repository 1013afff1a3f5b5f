"""Fidelity to the authors' code (issue "[fidelity] The authors' protocols", points 1-4).

Every expected value here is computed from the authors' definitions, written out in this file
from their code (hankook/AugSelf at c131db6, gmum/CASSLE at b555c10); nothing calls the library's
own target or loss helpers to build a reference.

1. AugSelf crop target (AugSelf transforms.py `extract_diff`): both views' crop centres are
   mirrored by the FIRST view's flip of the ordered pair; CASSLE's descriptor mirrors each view
   by its own flip (CASSLE transforms.py `extract_aug_descriptors`).
2. AugSelf feature pairing (AugSelf trainers.py): MoCo pairs the online y1 with the momentum y2;
   SimSiam, SimCLR and BYOL use the online y2.
3. AugSelf blur and solarize (AugSelf transforms.py `_extract_w`, trainers.py losses): blur is
   MSE(tanh(p), sigma_a - sigma_b); solarize's per-view value is the threshold (drawn in (0, 1))
   or 1 when not solarized, and the target is the difference of those values.
4. CASSLE augmentation encoder and injections (CASSLE models.py `load_mlp`, cond_utils.py
   `AugProjector`): (depth - 1) x [Linear(no bias)-BN-ReLU] + Linear(no bias)-BN(affine), no
   final ReLU; proj-cat [y, e(d)], proj-add y + e(d), proj-mul y * e(d) with e(d) of the feature
   width; the hypernetwork generates every projector layer's weights and biases per sample.
"""

import copy
from dataclasses import replace

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from scipy import stats
from torch import nn
from torch.nn import functional as F
from torch.testing import assert_close

from ssl_lib.augment import recipe
from ssl_lib.models.augself import AugSelfHeads
from ssl_lib.models.cassle import ConditionedProjector
from ssl_lib.models.compose import build_model
from ssl_lib.models.methods import METHODS
from ssl_lib.train.config import TrainConfig


# ----- helpers -------------------------------------------------------------------------------

def base_params(batch, source=(40, 50)):
    """Some AugParams of `batch` rows whose fields the tests then overwrite by hand."""
    return recipe("mocov2", 32).sample(batch, source, generator=torch.Generator().manual_seed(0))


def authors_crop_target(box_a, box_b, source, flip_a):
    """AugSelf extract_diff's crop target for one ordered pair, written out as a scalar formula.

    crop = [top/H, left/W, h/H, w/W]; centre = crop[:2] + crop[2:] / 2; if the FIRST view is
    flipped both centres' x become 1 - x; target = [centre_a - centre_b, size_a - size_b].
    """
    H, W = source
    ca = [box_a[0] / H, box_a[1] / W, box_a[2] / H, box_a[3] / W]
    cb = [box_b[0] / H, box_b[1] / W, box_b[2] / H, box_b[3] / W]
    centre_a = [ca[0] + ca[2] / 2, ca[1] + ca[3] / 2]
    centre_b = [cb[0] + cb[2] / 2, cb[1] + cb[3] / 2]
    if flip_a:
        centre_a[1] = 1 - centre_a[1]
        centre_b[1] = 1 - centre_b[1]
    return [centre_a[0] - centre_b[0], centre_a[1] - centre_b[1], ca[2] - cb[2], ca[3] - cb[3]]


# ----- 1. AugSelf crop target ----------------------------------------------------------------

BOXES_A = [[0, 10, 20, 30], [5, 0, 30, 25], [10, 20, 20, 30], [0, 0, 40, 50]]
BOXES_B = [[10, 0, 30, 50], [0, 25, 20, 25], [5, 5, 35, 20], [8, 30, 16, 20]]
FLIPS_A = [False, True, False, True]
FLIPS_B = [False, False, True, True]  # every combination of the two flips


def crop_pair():
    a = replace(base_params(4), crop_box=torch.tensor(BOXES_A), flip=torch.tensor(FLIPS_A))
    b = replace(base_params(4), crop_box=torch.tensor(BOXES_B), flip=torch.tensor(FLIPS_B))
    return a, b


def test_augself_crop_target_mirrors_both_centres_by_the_first_views_flip():
    from ssl_lib.augment import augself_targets

    a, b = crop_pair()
    forward = augself_targets(a, b, ["crop"])["crop"]
    backward = augself_targets(b, a, ["crop"])["crop"]
    expected_ab = torch.tensor([authors_crop_target(BOXES_A[i], BOXES_B[i], (40, 50), FLIPS_A[i]) for i in range(4)])
    expected_ba = torch.tensor([authors_crop_target(BOXES_B[i], BOXES_A[i], (40, 50), FLIPS_B[i]) for i in range(4)])
    assert_close(forward, expected_ab)
    assert_close(backward, expected_ba)
    # Sample 1 by hand: a is flipped, b is not; a's box centre x = (0 + 25/2) / 50 = 0.25,
    # b's = (25 + 25/2) / 50 = 0.75; mirrored by a's flip: 0.75 and 0.25, so dx = +0.5.
    assert forward[1, 1].item() == pytest.approx(0.5)
    assert backward[1, 1].item() == pytest.approx(0.5)  # b unflipped: 0.75 - 0.25, the same sign
    # Flips equal: the reverse pair negates every component; flips differ: dx keeps its sign.
    assert_close(backward[[0, 3]], -forward[[0, 3]])
    assert_close(backward[[1, 2], 1], forward[[1, 2], 1])


def test_cassle_descriptor_keeps_mirroring_each_view_by_its_own_flip():
    a, _ = crop_pair()
    crop = a.descriptor(["crop"])
    H, W = 40, 50
    for i, (top, left, h, w) in enumerate(BOXES_A):
        cx = (left + w / 2) / W
        expected = [(top + h / 2) / H, 1 - cx if FLIPS_A[i] else cx, h / H, w / W]
        assert_close(crop[i], torch.tensor(expected))


# ----- 2. AugSelf feature pairing per method -------------------------------------------------

SMALL = dict(backbone_width=8, proj_hidden=32, proj_dim=16, pred_hidden=16, queue_size=64, augself_hidden=16)
# AugSelf trainers.py: only MoCo feeds the momentum backbone's y2 to the AugSelf heads.
AUTHORS_MOMENTUM_PARTNER = {"mocov2": True, "byol": False, "simclr": False, "simsiam": False}


@pytest.mark.parametrize("name", METHODS)
def test_augself_pairs_features_as_the_authors(name):
    cfg = TrainConfig(**SMALL, augself="crop", recipe="simclr", method=name).validate()
    torch.manual_seed(0)
    model = build_model(cfg)
    if model.method.has_target:  # move the target branch off the online one, else the pairing is invisible
        with torch.no_grad():
            for p in model.method.target_backbone.parameters():
                p.add_(0.5 * torch.randn_like(p))
    g = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 32, 32, generator=g)
    v1, p1 = recipe("simclr", 32)(images, g)
    v2, p2 = recipe("simclr", 32)(images, g)
    out = model(v1, v2, p1, p2)

    y1, y2 = model.method.backbone(torch.cat([v1, v2])).chunk(2)
    if AUTHORS_MOMENTUM_PARTNER.get(name, False):
        with torch.no_grad():
            y2 = model.method.target_backbone(torch.cat([v1, v2])).chunk(2)[1]
    # AugSelf's symmetric objective: rows [y1, y2] with d(1, 2) and [y2, y1] with d(2, 1).
    rows = torch.cat([torch.cat([y1, y2], 1), torch.cat([y2, y1], 1)])
    boxes1, boxes2 = p1.crop_box.tolist(), p2.crop_box.tolist()
    source = tuple(p1.source_size[0].tolist())
    d12 = [authors_crop_target(boxes1[i], boxes2[i], source, bool(p1.flip[i])) for i in range(8)]
    d21 = [authors_crop_target(boxes2[i], boxes1[i], source, bool(p2.flip[i])) for i in range(8)]
    target = torch.tensor(d12 + d21)
    expected = F.mse_loss(torch.tanh(model.augself.heads["crop"](rows)), target)
    assert_close(out.augself["crop"], expected)


# ----- 3. AugSelf blur and solarize ----------------------------------------------------------

def test_augself_blur_loss_is_mse_on_tanh_of_the_raw_sigma_difference():
    torch.manual_seed(0)
    a = replace(base_params(4), blur_sigma=torch.tensor([0.0, 1.9, 0.5, 0.0]))
    b = replace(base_params(4), blur_sigma=torch.tensor([1.5, 0.0, 0.2, 0.0]))
    heads = AugSelfHeads(6, {"blur": 1.0}, hidden=8)
    ya, yb = torch.randn(4, 6), torch.randn(4, 6)
    got = heads.group_losses(ya, yb, a, b)["blur"]
    rows = torch.cat([torch.cat([ya, yb], 1), torch.cat([yb, ya], 1)])
    dsigma = torch.tensor([[-1.5], [1.9], [0.3], [0.0], [1.5], [-1.9], [-0.3], [0.0]])  # not normalised
    assert_close(got, F.mse_loss(torch.tanh(heads.heads["blur"](rows)), dsigma))
    assert_close(heads.predict(ya, yb)["blur"], torch.tanh(heads.heads["blur"](torch.cat([ya, yb], 1))))


def test_augself_solarize_target_is_the_threshold_difference_with_one_when_not_applied():
    from ssl_lib.augment import augself_targets

    a = replace(base_params(4), solarize=torch.tensor([True, False, True, False]),
                solarize_threshold=torch.tensor([0.3, 1.0, 0.8, 1.0]))
    b = replace(base_params(4), solarize=torch.tensor([False, True, True, False]),
                solarize_threshold=torch.tensor([1.0, 0.25, 0.6, 1.0]))
    value = lambda flag, thr: thr if flag else 1.0  # AugSelf _extract_w: ones, threshold where applied
    expected = [[value(fa, ta) - value(fb, tb)] for fa, ta, fb, tb in
                zip([1, 0, 1, 0], [0.3, 1.0, 0.8, 1.0], [0, 1, 1, 0], [1.0, 0.25, 0.6, 1.0])]
    assert_close(augself_targets(a, b, ["solarize"])["solarize"], torch.tensor(expected))
    assert_close(augself_targets(b, a, ["solarize"])["solarize"], -torch.tensor(expected))


def test_solarize_threshold_is_drawn_uniformly_in_0_1_and_applied_per_sample():
    pipeline = recipe("mocov2", 16, solarize_p=0.5)
    g = torch.Generator().manual_seed(0)
    params = pipeline.sample(20_000, (16, 16), generator=g)
    applied = params.solarize
    assert (params.solarize_threshold[~applied] == 1.0).all()
    thresholds = params.solarize_threshold[applied]
    assert ((thresholds > 0) & (thresholds < 1)).all()
    assert stats.kstest(thresholds.numpy(), "uniform").pvalue > 1e-4  # kornia RandomSolarize(0.5): U(0, 1)
    # The op: torchvision's solarize of each image with its own threshold.
    images = torch.rand(12, 3, 16, 16, generator=g)
    views, p = recipe("mocov2", 16, solarize_p=0.7, crop="center", flip_p=0.0, jitter_p=0.0, grayscale_p=0.0,
                      blur_p=0.0)(images, g)
    assert p.solarize.any() and len(set(p.solarize_threshold[p.solarize].tolist())) > 1
    for i in range(12):
        expected = TF.solarize(images[i], float(p.solarize_threshold[i])) if p.solarize[i] else images[i]
        assert_close(views[i], expected, atol=1e-5, rtol=0)


def test_byol_recipe_keeps_its_fixed_threshold_of_one_half():
    params = recipe("byol2", 16).sample(2000, (16, 16), generator=torch.Generator().manual_seed(0))
    assert params.solarize.any()
    assert (params.solarize_threshold[params.solarize] == 0.5).all()
    assert (params.solarize_threshold[~params.solarize] == 1.0).all()


# ----- 4. CASSLE augmentation encoder and injections -----------------------------------------

def authors_load_mlp_types(depth):
    """CASSLE models.load_mlp(num_layers=depth, last_bn=True): the module types in order."""
    return [nn.Linear, nn.BatchNorm1d, nn.ReLU] * (depth - 1) + [nn.Linear, nn.BatchNorm1d]


@pytest.mark.parametrize("injection, out_width", [("concat", 64), ("add", 40), ("mul", 40)])
def test_cassle_encoder_is_the_authors_mlp_without_a_final_relu(injection, out_width):
    projector = ConditionedProjector(40, 32, 8, 2, False, injection=injection, depth=6, width=64)
    encoder = projector.encoder
    assert [type(m) for m in encoder] == authors_load_mlp_types(6)
    assert not isinstance(encoder[-1], nn.ReLU)
    linears = [m for m in encoder if isinstance(m, nn.Linear)]
    assert all(m.bias is None for m in linears)
    assert [m.out_features for m in linears] == [64] * 5 + [out_width]
    assert encoder[-1].affine
    if injection != "concat":  # the encoder's own output is the injected vector: nothing in between
        assert not any(name.startswith("to_") for name, _ in projector.named_children())


@pytest.mark.parametrize("injection", ["concat", "add", "mul"])
def test_cassle_injections_are_exactly_the_authors(injection):
    torch.manual_seed(0)
    projector = ConditionedProjector(40, 32, 8, 2, False, injection=injection, depth=3, width=16)
    with torch.no_grad():  # non-trivial BN affine parameters, so e(d) is not just a standardisation
        projector.encoder[-1].weight.uniform_(0.5, 1.5)
        projector.encoder[-1].bias.uniform_(-0.5, 0.5)
    params = recipe("mocov2", 32)(torch.rand(8, 3, 32, 32), torch.Generator().manual_seed(1))[1]
    y = torch.randn(8, 40)
    seen = []
    projector.net.register_forward_hook(lambda m, inputs, output: seen.append((inputs[0], output)))
    out = projector(y, params)
    e = projector.encoder(params.descriptor(projector.keys))  # the same batch, so the same BN statistics
    x = {"concat": lambda: torch.cat([y, e], 1), "add": lambda: y + e, "mul": lambda: y * e}[injection]()
    assert torch.equal(seen[0][0], x)
    assert torch.equal(out, seen[0][1])


def test_cassle_hypernetwork_generates_every_projector_layer_per_sample():
    torch.manual_seed(0)
    in_dim, out_dim, layers = 12, 5, 3
    projector = ConditionedProjector(in_dim, 32, out_dim, layers, False, injection="hyper", depth=2, width=16)
    assert [type(m) for m in projector.encoder] == authors_load_mlp_types(2)
    # Layer sizes as AugProjector(hn): in -> in -> ... -> out (the hidden width is the feature width).
    sizes = [(in_dim, in_dim), (in_dim, in_dim), (in_dim, out_dim)]
    assert projector.encoder[-2].out_features == sum(i * o + o for i, o in sizes)
    params = recipe("mocov2", 32)(torch.rand(6, 3, 32, 32), torch.Generator().manual_seed(2))[1]
    y = torch.randn(6, in_dim)
    out = projector(y, params)
    generated = projector.encoder(params.descriptor(projector.keys))
    h, start = y.reshape(6, 1, in_dim), 0
    for layer, (n_in, n_out) in enumerate(sizes):
        w = generated[:, start:start + n_in * n_out].reshape(6, n_in, n_out)
        b = generated[:, start + n_in * n_out:start + n_in * n_out + n_out].reshape(6, 1, n_out)
        start += n_in * n_out + n_out
        h = torch.bmm(h, w) + b
        if layer != len(sizes) - 1:
            h = torch.relu(h)
    assert_close(out, h.reshape(6, out_dim))
    # Per sample: one sample's output depends only on its own descriptor and features.
    assert sum(p.numel() for n, p in projector.named_parameters() if not n.startswith("encoder")) == 0


def test_shuffled_descriptors_still_work_for_every_injection():
    from ssl_lib.models.cassle import INJECTIONS

    params = recipe("mocov2", 32)(torch.rand(8, 3, 32, 32), torch.Generator().manual_seed(3))[1]
    y = torch.randn(8, 16)
    for injection in INJECTIONS:
        torch.manual_seed(0)
        matched = ConditionedProjector(16, 32, 8, 2, False, injection=injection, depth=2, width=8).eval()
        shuffled = copy.deepcopy(matched)
        shuffled.descriptors = "shuffled"
        torch.manual_seed(5)
        out = shuffled(y, params)
        torch.manual_seed(5)
        perm = torch.randperm(8)
        assert_close(out, matched(y, params[perm]), atol=1e-6, rtol=1e-5)
