"""Invariance measurement: the Mahalanobis cosine against scipy, and invariant feature maps."""

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from ssl_lib.models.backbones import make_backbone
from ssl_lib.data import make_synthetic
from ssl_lib.evaluation.invariance import (
    Whitener, apply_transform, default_grids, group_invariance, mahalanobis_distance,
    measure_invariance, real_world_invariance, transform_names, whitened_cosine,
)


def correlated(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(7))
    return torch.randn(n, d, generator=g) @ mix + 2.0


def scipy_precision(ref, ridge):
    cov = np.cov(ref, rowvar=False)  # unbiased
    return scipy.linalg.inv(cov + ridge * np.eye(ref.shape[1]))


@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_whitened_cosine_and_distance_match_scipy_mahalanobis(ridge):
    ref, a, b = correlated(50, 6, 0), correlated(9, 6, 1), correlated(9, 6, 2)
    p = scipy_precision(ref.numpy().astype(np.float64), ridge)
    mu = ref.numpy().astype(np.float64).mean(0)
    u, v = a.numpy() - mu, b.numpy() - mu
    expected = np.einsum("nd,de,ne->n", u, p, v) / np.sqrt(
        np.einsum("nd,de,ne->n", u, p, u) * np.einsum("nd,de,ne->n", v, p, v))
    np.testing.assert_allclose(whitened_cosine(a, b, ref, ridge=ridge).numpy(), expected, rtol=1e-9, atol=1e-10)
    dist = [scipy.spatial.distance.mahalanobis(x, y, p) for x, y in zip(a.double().numpy(), b.double().numpy())]
    np.testing.assert_allclose(mahalanobis_distance(a, b, ref, ridge=ridge).numpy(), dist, rtol=1e-9)


def test_whitener_factor_is_the_precision():
    ref = correlated(40, 5, 3)
    w = Whitener.fit(ref, ridge=0.1)
    np.testing.assert_allclose((w.weight @ w.weight.T).numpy(), scipy_precision(ref.double().numpy(), 0.1), rtol=1e-8)
    # Whitened reference features have identity covariance (ridge 0).
    z = Whitener.fit(ref)(ref)
    np.testing.assert_allclose(np.cov(z.numpy(), rowvar=False), np.eye(5), atol=1e-8)


def test_whitening_errors():
    ref = correlated(5, 6, 0)
    with pytest.raises(ValueError, match="at least 2"):
        whitened_cosine(ref[:1], ref[:1], ref[:1], ridge=1.0)
    with pytest.raises(ValueError, match="ridge"):
        whitened_cosine(ref, ref, ref)  # 5 samples, 6 dimensions
    assert whitened_cosine(ref, ref, ref, ridge=0.1).shape == (5,)
    with pytest.raises(ValueError, match="features_tx"):
        whitened_cosine(ref, ref[:3], correlated(30, 6, 1))
    with pytest.raises(ValueError, match="reference_features"):
        whitened_cosine(ref, ref, ref[0])
    constant = torch.ones(30, 6)
    with pytest.raises(ValueError, match="ridge"):
        Whitener.fit(constant)


# -- transforms ------------------------------------------------------------------------------


def test_fixed_transforms_match_torchvision():
    x = torch.rand(3, 3, 16, 16)
    torch.testing.assert_close(apply_transform(x, "brightness", 1.7), TF.adjust_brightness(x, 1.7))
    torch.testing.assert_close(apply_transform(x, "contrast", 0.4), TF.adjust_contrast(x, 0.4))
    torch.testing.assert_close(apply_transform(x, "hue", 0.2), TF.adjust_hue(x, 0.2), atol=1e-5, rtol=0)
    torch.testing.assert_close(apply_transform(x, "solarize", 0.3), TF.solarize(x, 0.3))
    torch.testing.assert_close(apply_transform(x, "flip", 1), TF.horizontal_flip(x))
    torch.testing.assert_close(apply_transform(x, "grayscale", 1), TF.rgb_to_grayscale(x, 3))
    # The 90-degree path (rot90) turns the same way as the arbitrary-angle path (torchvision).
    torch.testing.assert_close(apply_transform(x, "rotation", 90), TF.rotate(x, 90.0), atol=1e-5, rtol=0)
    torch.testing.assert_close(apply_transform(x, "crop", (0.25, 1.0, 0.0)),
                               TF.resized_crop(x, 8, 0, 8, 8, [16, 16], antialias=False), atol=1e-5, rtol=0)
    blurred = apply_transform(x, "blur", 1.5)
    torch.testing.assert_close(blurred, TF.gaussian_blur(x, [11, 11], [1.5, 1.5]), atol=1e-5, rtol=0)


def test_grids_cover_every_transform_and_unknown_names_fail():
    grids = default_grids(32)
    assert set(grids) == set(transform_names())
    assert all(2 <= len(v) <= 27 for v in grids.values())
    with pytest.raises(ValueError, match="transforms"):
        measure_invariance(nn.Identity(), torch.rand(4, 3, 8, 8), transforms=["twirl"])
    with pytest.raises(ValueError, match="grids"):
        measure_invariance(nn.Identity(), torch.rand(4, 3, 8, 8), transforms=["flip"], grids={"twirl": [1]})


# -- invariant feature maps ------------------------------------------------------------------


class LumaMoments(nn.Module):
    """Spatially pooled statistics: invariant to any pixel permutation (flips, quarter turns)."""

    def forward(self, x):
        grey = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
        stats = [x.mean(dim=(2, 3))] + [grey.pow(p).mean(dim=(1, 2))[:, None] for p in (2, 3, 4)]
        return torch.cat(stats, dim=1)


class FlipSymmetricConv(nn.Module):
    """A random conv net applied to x + flip(x): invariant to flips only."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU(), nn.Conv2d(12, 12, 3, padding=1), nn.Tanh())

    def forward(self, x):
        return self.net(x + x.flip(-1)).mean(dim=(2, 3))


@pytest.fixture(scope="module")
def images():
    return make_synthetic(64, 32, seed=0)[0]


def test_identity_transforms_give_invariance_one(images):
    torch.manual_seed(0)
    net = make_backbone("small_cnn", width=8)
    identity = {"brightness": [1.0], "hue": [0.0], "rotation": [0], "flip": [0], "grayscale": [0]}
    table = measure_invariance(net, images, transforms=list(identity), grids=identity, model="cnn")
    np.testing.assert_allclose(table.invariance, 1.0, atol=1e-6)
    np.testing.assert_allclose(table.distance, 0.0, atol=1e-3)  # hue 0 goes through HSV
    assert list(table.columns[:5]) == ["model", "transform", "parameter", "value", "setting"]
    # The same random CNN is not invariant to a real flip or a 30-degree turn: the measure can fail.
    moved = measure_invariance(net, images, transforms=["flip", "rotation"], grids={"flip": [1], "rotation": [30]})
    assert (moved.invariance < 0.99).all()


def test_pooled_statistics_are_invariant_to_flips_and_quarter_turns(images):
    grids = {"flip": [0, 1], "rotation": [0, 90, 180, 270], "brightness": [0.5, 2.0]}
    table = measure_invariance(LumaMoments(), images, transforms=list(grids), grids=grids, model="moments")
    inv = table.set_index(["transform", "value"]).invariance
    np.testing.assert_allclose(inv.loc["flip"], 1.0, atol=1e-6)
    np.testing.assert_allclose(inv.loc["rotation"], 1.0, atol=1e-6)
    assert (inv.loc["brightness"] < 0.95).all()  # but brightness changes every statistic


def test_flip_symmetric_network_is_flip_invariant_only(images):
    net = FlipSymmetricConv()
    grids = {"flip": [1], "saturation": [0.25], "rotation": [90]}
    table = measure_invariance(net, images, transforms=list(grids), grids=grids)
    inv = table.groupby("transform").invariance.mean()
    assert inv["flip"] == pytest.approx(1.0, abs=1e-6)
    assert inv["saturation"] < 0.99 and inv["rotation"] < 0.99


def test_whole_default_grid_runs_on_a_small_cnn(images):
    torch.manual_seed(0)
    table = measure_invariance(make_backbone("small_cnn", width=8), images[:32])
    assert set(table["transform"]) == set(transform_names())
    assert len(table) == sum(len(v) for v in default_grids(32).values())
    assert table.invariance.between(-1, 1).all() and table.notna().all().all()


# -- groups ----------------------------------------------------------------------------------


def test_group_invariance_is_the_mean_over_distinct_pairs(images):
    net = FlipSymmetricConv()
    groups = images[:12].reshape(3, 4, 3, 32, 32)
    with torch.no_grad():
        reference = net(images)
        feats = net(groups.flatten(0, 1)).reshape(3, 4, -1)
    table = group_invariance(net, groups, reference, ridge=0.01, model="m", change="viewpoint")
    for g in range(3):
        pairs = [(i, j) for i in range(4) for j in range(4) if i != j]
        a = torch.stack([feats[g, i] for i, _ in pairs])
        b = torch.stack([feats[g, j] for _, j in pairs])
        expected = whitened_cosine(a, b, reference, ridge=0.01).mean().item()
        assert table.invariance[g] == pytest.approx(expected, abs=1e-9)
    assert set(table.change) == {"viewpoint"} and list(table.group) == [0, 1, 2]
    same = images[:2, None].expand(2, 3, 3, 32, 32)
    np.testing.assert_allclose(group_invariance(net, same, reference).invariance, 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="groups"):
        group_invariance(net, images[:4], reference)
    with pytest.raises(ValueError, match="2 views"):
        group_invariance(net, images[:2, None], reference)


def test_real_world_invariance_tables():
    table = real_world_invariance(LumaMoments(), n_groups=4, views=3, n_reference=64, model="moments")
    assert sorted(table.change.unique()) == ["lighting", "viewpoint"] and len(table) == 8
    assert table.invariance.between(-1, 1).all()


def test_measure_invariance_whitens_with_a_separate_reference_set_as_the_authors():
    """Ericsson et al.: mu and the unbiased covariance of clean reference features (kept apart
    from the measured images, no ridge), L = cholesky(inv(S)), score cos((mu - f) L, (mu - f_t) L)."""
    from ssl_lib.evaluation.invariance import reference_features

    torch.manual_seed(0)
    net = make_backbone("small_cnn", width=4).eval()
    ref = reference_features(net, 400, 32, seed=5).double()
    assert ref.shape == (400, net.feature_dim)
    measured = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    table = measure_invariance(net, measured, transforms=["brightness"], grids={"brightness": [1.5]},
                               reference_features=ref)
    mu = ref.mean(0).numpy()
    chol = np.linalg.cholesky(np.linalg.inv(np.cov(ref.numpy(), rowvar=False)))
    with torch.no_grad():
        clean = net(measured).double().numpy()
        moved = net(apply_transform(measured, "brightness", 1.5)).double().numpy()
    a, b = (mu - clean) @ chol, (mu - moved) @ chol
    expected = ((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).mean()
    assert table.invariance.item() == pytest.approx(expected, abs=1e-5)
