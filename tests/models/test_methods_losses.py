"""How each method assembles its loss, against a hand computation from the loss functions.

The reference recomputes everything from the method's modules (backbone, projector, predictor,
target branch, queue) and `ssl_lib.models.losses`, with each paper's formula written out here;
it never calls the method's own helpers (encode, project, encode_target, pair_loss, the feature
augmenter's positive_loss / predictor_loss). Both views go through the backbone, the projector
and the predictor in one concatenated pass in train mode, as the methods do (BatchNorm batch
statistics are shared by the two views, so a per-view pass gives a different loss).

Gradients are compared too, on every online parameter and on the projections z, against the
hand-built graph, with its stop-gradients where the papers put them; each gradient check also
builds the graph without the stop-gradient and asserts it differs, so the check can fail.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ssl_lib.augment import AugParams, augself_targets
from ssl_lib.models import losses
from ssl_lib.models.backbones import make_backbone
from tests.models.test_methods import batch as views  # two SimCLR views of random images and their params
from ssl_lib.models.compose import build_model
from ssl_lib.models.feature_aug import FeatureAugSettings
from ssl_lib.models.methods import METHODS, build_method
from ssl_lib.train.config import TrainConfig

HEADS = dict(proj_hidden=32, proj_dim=16, pred_hidden=16, queue_size=64)
MOMENTUM = ("mocov2", "byol")
PAIR = ("simclr", "barlow_twins", "vicreg")
# The papers' hyper-parameters, written out (not read from the method's spec).
SIMCLR_T = MOCO_T = 0.2
BARLOW_LAMBDA = 5e-3
VICREG_COEFFS = (25.0, 25.0, 1.0)
FA_WEIGHT = 0.7


def fa_map(z):
    """A deterministic stand-in for FA: neither a rescaling (invisible to cosine losses and to a
    BatchNorm'd predictor) nor a per-dimension shift (removed by BatchNorm)."""
    return z.flip(1) + 0.5 * z


def move_target(method):
    """At initialisation the target branch is a copy of the online one, so a loss that used the
    online projections as targets would have the same value; move the target weights apart."""
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for p in [*method.target_backbone.parameters(), *method.target_projector.parameters()]:
            p.add_(0.05 * torch.randn(p.shape, generator=g))


def build(name, feature_aug=None):
    torch.manual_seed(0)
    method = build_method(name, make_backbone("small_cnn", width=8), feature_aug=feature_aug, **HEADS)
    if name in MOMENTUM:
        move_target(method)
    return method


def with_fa(name, stop_grad, arrangement):
    """The method with feature augmentation whose operator is replaced by `fa_map`."""
    settings = FeatureAugSettings("noise", stop_grad=stop_grad, arrangement=arrangement, weight=FA_WEIGHT)
    method = build(name, settings.factory())
    method.feature_aug.forward = fa_map
    return method


def hand_features(method, data):
    """Backbone features y (2B, C) and projections z (2B, D) of both views in one pass, and the
    target branch's (no gradient) for a momentum method; rows: view 1 then view 2."""
    v1, v2, p1, p2 = data
    params = AugParams.cat([p1, p2])
    y = method.backbone(torch.cat([v1, v2]))
    z = method.projector(y, params)
    yt = zt = None
    if hasattr(method, "target_backbone"):
        with torch.no_grad():
            yt = method.target_backbone(torch.cat([v1, v2]))
            zt = method.target_projector(yt, params)
    return y, z, yt, zt


def byol_pair(p, t):
    """||p/|p| - t/|t|||^2 averaged over the batch (BYOL, eq. 2)."""
    return (F.normalize(p, dim=1) - F.normalize(t, dim=1)).pow(2).sum(dim=1).mean()


def reference_loss(name, method, z, zt=None, queue=None, fa=None, stop_grad_targets=True):
    """The method's loss from its projections z (2B, D) (and target projections zt, queue).

    fa: None, or (stop_grad, arrangement) with FA = `fa_map` and weight FA_WEIGHT, the extra
    terms written out from FeatureAugmenter's docstrings:
        positive (SimCLR, Barlow Twins, VICReg, MoCo): w (L(a1, FA(t2^)) + L(a2, FA(t1^))) / 2;
        basic (BYOL, SimSiam):    w (L(pred(FA(z1^)), z2') + L(pred(FA(z2^)), z1'));
        parallel (BYOL, SimSiam): w (L(p1, FA(z2')) + L(p2, FA(z1'))).
    stop_grad_targets=False drops SimSiam's stop-gradient (a counterfactual for the checks).
    """
    z1, z2 = z.chunk(2)
    src = (lambda x: x)
    if fa is not None and fa[0]:
        src = (lambda x: x.detach())

    if name in PAIR:
        pair = {"simclr": lambda a, b: losses.nt_xent(a, b, SIMCLR_T),
                "barlow_twins": lambda a, b: losses.barlow_twins(a, b, BARLOW_LAMBDA),
                "vicreg": lambda a, b: losses.vicreg(a, b, *VICREG_COEFFS)}[name]
        loss = pair(z1, z2)
        if fa is not None:
            loss = loss + FA_WEIGHT * (pair(z1, fa_map(src(z2))) + pair(z2, fa_map(src(z1)))) / 2
        return loss

    if name == "mocov2":
        k1, k2 = zt.chunk(2)
        loss = (losses.info_nce(z1, k2, queue, MOCO_T) + losses.info_nce(z2, k1, queue, MOCO_T)) / 2
        if fa is not None:
            loss = loss + FA_WEIGHT * (losses.info_nce(z1, fa_map(k2), queue, MOCO_T)
                                       + losses.info_nce(z2, fa_map(k1), queue, MOCO_T)) / 2
        return loss

    p1, p2 = method.predictor(z).chunk(2)
    if name == "byol":
        t1, t2 = zt.chunk(2)
        pair = byol_pair  # summed over both orderings
    else:  # simsiam: (D(p1, sg(z2)) + D(p2, sg(z1))) / 2
        t1, t2 = (z1.detach(), z2.detach()) if stop_grad_targets else (z1, z2)
        pair = lambda p, t: losses.negative_cosine(p, t) / 2
    loss = pair(p1, t2) + pair(p2, t1)
    if fa is not None:
        if fa[1] == "basic":
            q1, q2 = method.predictor(torch.cat([fa_map(src(z1)), fa_map(src(z2))])).chunk(2)
            loss = loss + FA_WEIGHT * (pair(q1, t2) + pair(q2, t1))
        else:
            loss = loss + FA_WEIGHT * (pair(p1, fa_map(t2)) + pair(p2, fa_map(t1)))
    return loss


def online_grads(method, loss):
    method.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None}


def assert_same_grads(got, expected):
    assert got.keys() == expected.keys()
    for name in expected:
        assert_close(got[name], expected[name], msg=lambda m, name=name: f"{name}: {m}")


def capture_projections(method):
    """The online projector's output of the next forward, keeping its gradient."""
    store = []

    def hook(module, inputs, output):
        output.retain_grad()
        store.append(output)
    method.projector.register_forward_hook(hook)
    return store


# ----- the loss and every online gradient, per method -----

@pytest.mark.parametrize("name", METHODS)
def test_loss_and_gradients_equal_the_papers_formula(name):
    method, data = build(name), views()
    queue = method.queue.clone() if name == "mocov2" else None  # before the forward enqueues
    out = method(*data)
    got = online_grads(method, out.loss)

    y, z, yt, zt = hand_features(method, data)
    expected = reference_loss(name, method, z, zt, queue)
    assert_close(out.loss, expected)
    assert_close(torch.cat([out.y1, out.y2]), y)
    if name in MOMENTUM:
        assert_close(torch.cat([out.y1_target, out.y2_target]), yt)
    else:
        assert out.y1_target is None and out.y2_target is None
    assert_same_grads(got, online_grads(method, expected))


def test_encoding_the_views_separately_would_change_the_loss():
    """The reference's one-pass encoding matters: BatchNorm statistics over both views."""
    method, data = build("simclr"), views()
    loss = method(*data).loss
    v1, v2, p1, p2 = data
    z1 = method.projector(method.backbone(v1), p1)
    z2 = method.projector(method.backbone(v2), p2)
    assert (losses.nt_xent(z1, z2, SIMCLR_T) - loss).abs() > 1e-3


def test_moco_uses_the_queue_before_the_forward_and_then_enqueues_the_keys():
    method, data = build("mocov2"), views()
    queue = method.queue.clone()
    method(*data)
    _, _, _, zt = hand_features(method, data)
    assert method.queue_ptr.item() == 16
    assert_close(method.queue[:16], F.normalize(zt, dim=1))  # keys of view 1, then view 2
    assert torch.equal(method.queue[16:], queue[16:])


# ----- where the stop-gradient sits -----

@pytest.mark.parametrize("name", METHODS)
def test_gradient_into_the_projections_follows_the_papers_stop_gradient(name):
    method, data = build(name), views()
    queue = method.queue.clone() if name == "mocov2" else None
    captured = capture_projections(method)
    method(*data).loss.backward()
    z = captured[0]
    _, _, _, zt = hand_features(method, data)
    leaf = z.detach().clone().requires_grad_(True)
    expected = torch.autograd.grad(reference_loss(name, method, leaf, zt, queue), leaf)[0]
    assert_close(z.grad, expected)
    if name == "simsiam":  # the gradient reaches z only through the predictions
        without = torch.autograd.grad(reference_loss(name, method, leaf, stop_grad_targets=False), leaf)[0]
        assert (without - expected).abs().max() > 1e-3 * expected.abs().max()


@pytest.mark.parametrize("name", MOMENTUM)
def test_momentum_target_gets_no_gradient_and_enters_the_loss_by_value(name):
    method, data = build(name), views()
    twin = copy.deepcopy(method)
    targets = []
    method.target_projector.register_forward_hook(lambda m, i, o: targets.append(o))
    out = method(*data)
    out.loss.backward()
    assert targets and not targets[0].requires_grad
    assert not out.y1_target.requires_grad and not out.y2_target.requires_grad
    for module in (method.target_backbone, method.target_projector):
        assert all(p.grad is None for p in module.parameters())
    assert sum(p.grad.abs().sum() for p in method.backbone.parameters()) > 0
    move_target(twin)  # other target weights, same online weights, same queue: another loss
    assert (twin(*data).loss - out.loss).abs() > 1e-4


# ----- feature augmentation -----

@pytest.mark.parametrize("stop_grad", [True, False])
@pytest.mark.parametrize("arrangement", ["basic", "parallel"])
@pytest.mark.parametrize("name", METHODS)
def test_feature_augmentation_adds_the_documented_weighted_term(name, arrangement, stop_grad):
    method, data = with_fa(name, stop_grad, arrangement), views()
    queue = method.queue.clone() if name == "mocov2" else None
    out = method(*data)
    got = online_grads(method, out.loss)

    _, z, _, zt = hand_features(method, data)
    fa = (stop_grad, arrangement)
    expected = reference_loss(name, method, z, zt, queue, fa=fa)
    base = reference_loss(name, method, z, zt, queue)
    assert (expected - base).abs() > 1e-3  # the extra term is there
    assert_close(out.loss, expected)
    if name in ("byol", "simsiam"):  # the two arrangements give different losses
        other = "parallel" if arrangement == "basic" else "basic"
        swapped = reference_loss(name, method, z, zt, fa=(stop_grad, other))
        assert (swapped - expected).abs() > 1e-3
    assert_same_grads(got, online_grads(method, expected))


# Where the stop-gradient choice applies: the FA source is an online projection.
FA_SOURCES = [("simclr", "parallel"), ("barlow_twins", "parallel"), ("vicreg", "parallel"),
              ("byol", "basic"), ("simsiam", "basic")]


def check_fa_gradient(name, method, data, stop_grad, arrangement):
    """dLoss/dz equals the hand graph's with FA's source detached iff stop_grad, and differs
    from the graph with the opposite choice."""
    captured = capture_projections(method)
    method(*data).loss.backward()
    z = captured[0]
    _, _, _, zt = hand_features(method, data)
    leaf = z.detach().clone().requires_grad_(True)

    def grad(sg):
        return torch.autograd.grad(reference_loss(name, method, leaf, zt, fa=(sg, arrangement)), leaf)[0]
    own, opposite = grad(stop_grad), grad(not stop_grad)
    assert (own - opposite).abs().max() > 1e-3 * own.abs().max()
    assert_close(z.grad, own)


@pytest.mark.parametrize("stop_grad", [True, False])
@pytest.mark.parametrize("name, arrangement", FA_SOURCES)
def test_feature_augmentation_stop_gradient_blocks_the_source_gradient(name, arrangement, stop_grad):
    check_fa_gradient(name, with_fa(name, stop_grad, arrangement), views(), stop_grad, arrangement)


@pytest.mark.parametrize("name, arrangement", FA_SOURCES)
def test_the_stop_gradient_check_fails_without_the_detach(name, arrangement):
    method = with_fa(name, True, arrangement)
    method.feature_aug.source = lambda z: z  # FeatureAugmenter.source without its .detach()
    with pytest.raises(AssertionError):
        check_fa_gradient(name, method, views(), True, arrangement)


# ----- AugSelf in SSLModel -----

def crop_loss_by_hand(head, y_a, y_b, p1, p2):
    """AugSelf's crop loss: MSE(tanh(head([y_a, y_b])), d(t1, t2)), both orderings."""
    pair = torch.cat([torch.cat([y_a, y_b], dim=1), torch.cat([y_b, y_a], dim=1)])
    target = torch.cat([augself_targets(p1, p2, ["crop"])["crop"], augself_targets(p2, p1, ["crop"])["crop"]])
    return F.mse_loss(torch.tanh(head(pair)), target)


@pytest.mark.parametrize("name", METHODS)
def test_augself_pairs_online_y1_with_the_momentum_y2_or_the_online_y2(name):
    """As the authors' trainers: MoCo v2 pairs y1 with the momentum y2; BYOL (though it has a
    momentum branch) and the others with the online y2."""
    cfg = TrainConfig(backbone_width=8, proj_hidden=32, proj_dim=16, pred_hidden=16, queue_size=64,
                      augself_hidden=16, augself="crop", recipe="simclr", method=name).validate()
    torch.manual_seed(0)
    model = build_model(cfg)
    if name in MOMENTUM:
        move_target(model.method)  # else y2_target == y2 exactly and the pairing is invisible
    data = views()
    out = model(*data)
    v1, v2, p1, p2 = data
    y1, y2 = model.method.backbone(torch.cat([v1, v2])).chunk(2)
    head = model.augself.heads["crop"]
    if name == "mocov2":
        with torch.no_grad():
            partner = model.method.target_backbone(torch.cat([v1, v2])).chunk(2)[1]
        wrong = crop_loss_by_hand(head, y1, y2, p1, p2)
    elif name in MOMENTUM:  # BYOL: the online y2, not its momentum feature
        partner = y2
        with torch.no_grad():
            wrong = crop_loss_by_hand(head, y1, model.method.target_backbone(torch.cat([v1, v2])).chunk(2)[1], p1, p2)
    else:
        partner = y2
        wrong = crop_loss_by_hand(head, y1, y1, p1, p2)  # any other partner: the check can fail
    expected = crop_loss_by_hand(head, y1, partner, p1, p2)
    assert (expected - wrong).abs() > 1e-4
    assert_close(out.augself["crop"], expected)
    assert_close(out.loss, out.ssl_loss + 1.0 * expected)  # crop's default weight
