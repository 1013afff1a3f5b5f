"""The mechanism-on-a-batch helpers of notebooks 02-06, each against a computation by hand
(loops, numpy) or the library's own loss on the same inputs."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssl_lib.augment import augself_targets, recipe
from ssl_lib.teaching import augself, cassle, contrastive, ericsson, feature_aug, one_batch
from ssl_lib.models.augself import AugSelfHeads
from ssl_lib.models.cassle import ConditionedProjector
from ssl_lib.models.feature_aug import FeatureAugmenter
from ssl_lib.models.losses import nt_xent


def _params(n=6, seed=0, name="simclr"):
    generator = torch.Generator().manual_seed(seed)
    pipeline = recipe(name, 32)
    return pipeline.sample(n, (32, 32), generator=generator), pipeline.sample(n, (32, 32), generator=generator)


def test_similarity_matrix_and_nt_xent_by_hand():
    torch.manual_seed(0)
    b, t = 5, 0.3
    z1, z2 = torch.randn(b, 7), torch.randn(b, 7)
    sim, positive = contrastive.similarity_matrix(z1, z2)
    u = torch.cat([z1, z2]).double()
    for a in range(2 * b):
        for k in range(2 * b):
            assert float(sim[a, k]) == pytest.approx(float(u[a] @ u[k] / (u[a].norm() * u[k].norm())), abs=1e-12)
    assert positive.sum() == 2 * b and all(positive[i, i + b] and positive[i + b, i] for i in range(b))
    # l_a = -log(exp(s_ap / t) / sum_{k != a} exp(s_ak / t)), element by element
    s = sim.numpy()
    by_hand = [-np.log(np.exp(s[a, (a + b) % (2 * b)] / t) / sum(np.exp(s[a, k] / t) for k in range(2 * b) if k != a))
               for a in range(2 * b)]
    terms = contrastive.nt_xent_terms(z1, z2, t)
    assert terms.numpy() == pytest.approx(by_hand, abs=1e-10)
    assert float(terms.mean()) == pytest.approx(float(nt_xent(z1, z2, t)), abs=1e-5)
    table = contrastive.contrastive_table(z1, z2, t)
    assert table.anchor.tolist()[:2] == ["1·0", "1·1"] and table.positive.tolist()[:2] == ["2·0", "2·1"]
    assert table.positive.tolist()[b] == "1·0"
    negatives = [[s[a, k] for k in range(2 * b) if k not in (a, (a + b) % (2 * b))] for a in range(2 * b)]
    assert table["cos positive"].tolist() == pytest.approx([s[a, (a + b) % (2 * b)] for a in range(2 * b)])
    assert table["cos negatives (mean)"].tolist() == pytest.approx([np.mean(n) for n in negatives])
    assert table["cos negatives (max)"].tolist() == pytest.approx([np.max(n) for n in negatives])
    assert table["p(positive)"].tolist() == pytest.approx(np.exp(-np.array(by_hand)).tolist())
    contrastive.similarity_figure(sim, positive)  # draws


def test_project_views_gives_the_models_loss_and_leaves_it_as_it_was():
    from ssl_lib.lab import experiments
    from ssl_lib.lab.profiles import resolve
    from ssl_lib.models.compose import build_model

    P = resolve("smoke")
    batch = one_batch.example_batch(P.image_size, n=4)
    assert batch.views1.shape == (4, 3, P.image_size, P.image_size) and len(batch.params2) == 4
    torch.manual_seed(0)
    model = build_model(experiments.get("SimCLR").config(P, 0)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = one_batch.project_views(model, batch)
    assert not model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.train()
    with torch.no_grad():
        loss = model(batch.views1, batch.views2, batch.params1, batch.params2)["loss"]
    assert float(contrastive.nt_xent_terms(out["z1"], out["z2"], model.method.spec.temperature).mean()) == \
        pytest.approx(float(loss), abs=1e-5)
    check = contrastive.nt_xent_check(model, batch)
    assert list(check.values()) == pytest.approx([float(loss)] * 3, abs=1e-5)


def test_whitened_pairs_against_numpy():
    torch.manual_seed(0)
    mix = torch.randn(4, 4) * torch.tensor([5.0, 1.0, 0.5, 0.1])
    reference = torch.randn(60, 4) @ mix + 3.0
    x = torch.randn(6, 4) @ mix + 3.0
    tx = x + 0.3 * torch.randn(6, 4)
    ridge = 0.05
    table = ericsson.whitened_pairs(x, tx, reference, ridge=ridge)
    ref = reference.double().numpy()
    mu = ref.mean(axis=0)
    precision = np.linalg.inv(np.cov(ref, rowvar=False, ddof=1) + ridge * np.eye(4))
    mahalanobis = lambda a, c: ((a - mu) @ precision @ (c - mu)) / np.sqrt(
        ((a - mu) @ precision @ (a - mu)) * ((c - mu) @ precision @ (c - mu)))
    cosine = lambda a, c: a @ c / (np.linalg.norm(a) * np.linalg.norm(c))
    xs, txs = x.double().numpy(), tx.double().numpy()
    for i in range(6):
        j = (i + 1) % 6
        row = table.iloc[i]
        assert row["cos"] == pytest.approx(cosine(xs[i], txs[i]))
        assert row["whitened cos"] == pytest.approx(mahalanobis(xs[i], txs[i]))
        assert row["cos unrelated"] == pytest.approx(cosine(xs[i], txs[j]))
        assert row["whitened cos unrelated"] == pytest.approx(mahalanobis(xs[i], txs[j]))
    shares = ericsson.variance_shares(reference)
    eig = np.sort(np.linalg.eigvalsh(np.cov(ref, rowvar=False, ddof=1)))[::-1]
    assert shares == pytest.approx(eig / eig.sum()) and shares.sum() == pytest.approx(1.0)
    assert ericsson.whitening_error(reference, ridge) < 1e-8
    # the default ridge is the library's scale-free one
    from ssl_lib.evaluation.invariance import default_ridge, whitened_cosine

    expected = whitened_cosine(x, tx, reference, default_ridge(reference)).numpy()
    assert ericsson.whitened_pairs(x, tx, reference)["whitened cos"].to_numpy() == pytest.approx(expected)


def test_augself_target_table_by_hand():
    p1, p2 = _params()
    crop = augself.augself_target_table(p1, p2, "crop")
    for part, params in (("view 1", p1), ("view 2", p2)):
        top, left, h, w = params.crop_box.double().numpy().T
        size = params.source_size.double().numpy()
        assert crop[(part, "centre_y")].to_numpy() == pytest.approx((top + h / 2) / size[:, 0])
        assert crop[(part, "centre_x")].to_numpy() == pytest.approx((left + w / 2) / size[:, 1])
        assert crop[(part, "width")].to_numpy() == pytest.approx(w / size[:, 1])
        assert crop[(part, "flipped")].tolist() == params.flip.tolist()
    target = augself_targets(p1, p2, ["crop"])["crop"].numpy()
    assert crop["target d(t1, t2)"].to_numpy() == pytest.approx(target)
    # height and centre_y differences do not depend on any flip convention
    assert crop[("target d(t1, t2)", "height")].to_numpy() == pytest.approx(
        (crop[("view 1", "height")] - crop[("view 2", "height")]).to_numpy(), abs=1e-6)
    color = augself.augself_target_table(p1, p2, "color")
    assert color["target d(t1, t2)"].to_numpy() == pytest.approx(
        color["view 1"].to_numpy() - color["view 2"].to_numpy(), abs=1e-6)
    with pytest.raises(ValueError, match="rotation"):
        augself.augself_target_table(p1, p2, "rotation")


@pytest.mark.parametrize("training", [True, False])
def test_augself_breakdown_matches_group_losses(training):
    torch.manual_seed(0)
    p1, p2 = _params()
    heads = AugSelfHeads(5, {"crop": 1.0, "color": 1.0}, hidden=16)
    heads(torch.randn(6, 5), torch.randn(6, 5), p1, p2)  # move the running statistics off their init
    heads.eval()
    y1, y2 = torch.randn(6, 5), torch.randn(6, 5)
    table, losses = augself.augself_breakdown(heads, y1, y2, p1, p2, training=training)
    heads.train(training)
    with torch.no_grad():
        expected = heads.group_losses(y1, y2, p1, p2)
    assert losses == pytest.approx({g: float(v) for g, v in expected.items()}, rel=1e-5)
    assert len(table) == 2 * 6 * 8 and set(table.ordering) == {"(1, 2)", "(2, 1)"}
    forward = augself_targets(p1, p2, ["crop"])["crop"]
    rows = table[(table.ordering == "(1, 2)") & (table.group == "crop")]
    assert rows.target.to_numpy() == pytest.approx(forward.flatten().numpy())
    if not training:  # eval mode: each row's prediction is the head's on that row alone
        with torch.no_grad():
            alone = torch.tanh(heads.heads["crop"](torch.cat([y1[:1], y2[:1]], dim=1)))
        assert rows.prediction.to_numpy()[:4] == pytest.approx(alone.flatten().numpy(), abs=1e-6)
    flips = AugSelfHeads(5, {"flip": 1.0}, hidden=8)
    with pytest.raises(ValueError, match="flip"):
        augself.augself_breakdown(flips, y1, y2, p1, p2)


def test_conditioning_effect_by_hand():
    torch.manual_seed(0)
    p1, _ = _params()
    projector = ConditionedProjector(5, 16, 4, 2, False, depth=2, width=8).eval()
    y = torch.randn(6, 5)
    table = cassle.conditioning_effect(projector, y, p1, shift=2, training=False)
    other = [(i + 2) % 6 for i in range(6)]
    d = p1.descriptor()
    with torch.no_grad():
        matched = projector.net(torch.cat([y, projector.encoder(d)], dim=1))
        borrowed = projector.net(torch.cat([y, projector.encoder(d[other])], dim=1))
    assert table["borrows from"].tolist() == other
    assert table["descriptor distance"].to_numpy() == pytest.approx((d - d[other]).norm(dim=1).numpy())
    assert table["cos(z matched, z borrowed)"].to_numpy() == pytest.approx(
        F.cosine_similarity(matched, borrowed).numpy(), abs=1e-6)
    assert table["relative change"].to_numpy() == pytest.approx(
        ((matched - borrowed).norm(dim=1) / matched.norm(dim=1)).numpy(), rel=1e-5)
    assert table["cos(z_i, z_j) matched"].to_numpy() == pytest.approx(
        F.cosine_similarity(matched, matched[other]).numpy(), abs=1e-6)
    assert not projector.training
    cassle.conditioning_effect(projector, y, p1)  # train mode runs and leaves the projector in eval mode
    assert not projector.training
    shuffled = ConditionedProjector(5, 16, 4, 2, False, depth=2, width=8, descriptors="shuffled")
    with pytest.raises(ValueError, match="matched"):
        cassle.conditioning_effect(shuffled, y, p1)


def test_feature_aug_table_by_hand():
    torch.manual_seed(0)
    z = torch.randn(8, 16)
    state = torch.random.get_rng_state()
    table = feature_aug.feature_aug_table(z, seed=3).set_index("operator")
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
    # noise by hand with the same draw: z + s * std * eps
    torch.manual_seed(3)
    noisy = z + 0.1 * z.std(dim=0, keepdim=True) * torch.randn_like(z)
    assert table.loc["noise", "cos(FA(z), z) mean"] == pytest.approx(
        float(F.cosine_similarity(noisy, z).mean()), abs=1e-6)
    assert table.loc["noise", "relative change"] == pytest.approx(
        float(((noisy - z).norm(dim=1) / z.norm(dim=1)).mean()), rel=1e-5)
    # the generator's output layer starts at zero: FA starts as the identity
    assert table.loc["generator", "cos(FA(z), z) mean"] == pytest.approx(1.0)
    assert table.loc["generator", "relative change"] == 0.0
    assert table.loc["dropout", "entries zeroed"] > 0 and table.loc["noise", "entries zeroed"] == 0
    u = F.normalize(z, dim=1)
    sim = (u @ u.T).fill_diagonal_(-2)
    assert table["cos to nearest other z"].tolist() == pytest.approx([float(sim.max(dim=1).values.mean())] * 4)


def test_stop_gradient_check_by_hand():
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    table = feature_aug.stop_gradient_check(z1, z2, seed=1).set_index("stop_grad")
    assert table.loc[True, "grad norm, targets (FA input)"] == 0.0
    assert table.loc[False, "grad norm, targets (FA input)"] > 0
    assert table.loc[True, "grad norm, anchors"] == pytest.approx(table.loc[False, "grad norm, anchors"])
    # by hand: (L(a1, FA(t2)) + L(a2, FA(t1))) / 2 with FA(t2) drawn first, anchors' gradient
    a1, a2 = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    torch.manual_seed(1)
    fa = FeatureAugmenter("noise", 8)
    loss = (nt_xent(a1, fa(z2), 0.2) + nt_xent(a2, fa(z1), 0.2)) / 2
    loss.backward()
    assert table.loc[True, "L_fa"] == pytest.approx(float(loss.detach()), rel=1e-6)
    grad = float(torch.sqrt(a1.grad.pow(2).sum() + a2.grad.pow(2).sum()))
    assert table.loc[True, "grad norm, anchors"] == pytest.approx(grad, rel=1e-5)
