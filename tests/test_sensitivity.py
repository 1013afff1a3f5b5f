"""Per-block sensitivity and the augmentation-parameter probe, with hand-made feature maps."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from ssl_lib.models.backbones import make_backbone
from ssl_lib.data import make_synthetic
from ssl_lib.evaluation.sensitivity import (
    OP_GROUPS, _derangement, _pair_statistics, augmentation_probe, block_sensitivity, single_op_pipeline,
)


class PooledStats(nn.Module):
    """Two 'blocks' of pixel-permutation-invariant statistics (flip and quarter-turn invariant)."""

    def forward_stages(self, x):
        moments = torch.cat([x.pow(2).mean(dim=(2, 3)), x.pow(3).mean(dim=(2, 3))], dim=1)
        return {"means": x.mean(dim=(2, 3)), "moments": moments}

    def forward(self, x):
        return self.forward_stages(x)["moments"]


class Constant(nn.Module):
    def forward_stages(self, x):
        return {"const": x.new_ones(x.shape[0], 4)}

    def forward(self, x):
        return x.new_ones(x.shape[0], 4)


@pytest.fixture(scope="module")
def images():
    return make_synthetic(48, 32, seed=1)[0]


def test_single_op_pipelines_switch_on_one_group_only():
    flip = single_op_pipeline("flip", 32).config
    assert flip.flip_p == 1.0 and flip.crop == "center"
    assert flip.jitter_p == flip.grayscale_p == flip.blur_p == flip.solarize_p == flip.rotation_p == 0.0
    color = single_op_pipeline("color", 32).config
    assert color.jitter_p == 1.0 and color.flip_p == 0.0 and color.brightness == (0.6, 1.4)  # mocov2's 0.4
    assert single_op_pipeline("crop", 32).config.crop == "random"
    assert single_op_pipeline("all", 32).config.jitter_p == 0.8
    with pytest.raises(ValueError, match="group"):
        single_op_pipeline("twirl", 32)


def test_derangement_has_no_fixed_points():
    for n in (2, 3, 17):
        perm = _derangement(n, torch.Generator().manual_seed(n))
        assert sorted(perm.tolist()) == list(range(n)) and (perm != torch.arange(n)).all()


def test_pair_statistics_match_a_loop_reference():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    neg = _derangement(6, g)
    pos, negative, nce = _pair_statistics(a, b, neg, temperature=0.2, chunk=4)
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))
    for i in range(6):
        assert pos[i].item() == pytest.approx(cos(a[i], b[i]), abs=1e-6)
        assert negative[i].item() == pytest.approx(cos(a[i], b[neg[i]]), abs=1e-6)
        chunk = range(0, 4) if i < 4 else range(4, 6)  # InfoNCE within the sample's own chunk
        logits = [cos(b[i], a[j]) / 0.2 for j in chunk]
        expected = -logits[i - chunk[0]] + math.log(sum(math.exp(v) for v in logits))
        assert nce[i].item() == pytest.approx(expected, abs=1e-5)


def test_invariant_statistics_have_positive_cosine_one_for_flips_and_rotations(images):
    table = block_sensitivity(PooledStats(), images, groups=["flip", "rotation", "color"], batch_size=16)
    assert list(table.columns) == ["model", "transform", "block", "positive", "negative", "infonce", "n_images"]
    assert len(table) == 6
    by = table.set_index(["transform", "block"])
    for group in ("flip", "rotation"):
        for block in ("means", "moments"):
            assert by.loc[(group, block), "positive"] == pytest.approx(1.0, abs=1e-6)
    assert (by.loc["color", "positive"] < 1 - 1e-4).all()
    # Positives are closer than shuffled pairs, and InfoNCE is below chance log(16) for flips.
    assert (table.positive > table.negative).all()
    assert (by.loc["flip", "infonce"] < math.log(16)).all()


def test_small_cnn_rows_per_block_and_group(images):
    torch.manual_seed(0)
    net = make_backbone("small_cnn", width=8)
    table = block_sensitivity(net, images[:16], batch_size=8, model="cnn")
    assert len(table) == (len(OP_GROUPS) + 1) * 4 and set(table.block) == set(net.stage_names)
    assert table.positive.between(-1, 1).all() and table.negative.between(-1, 1).all()
    again = block_sensitivity(net, images[:16], batch_size=8, model="cnn")
    np.testing.assert_allclose(table.infonce, again.infonce)  # seeded
    with pytest.raises(ValueError, match="images"):
        block_sensitivity(net, images[:1])


def test_augmentation_probe_recovers_what_the_features_record():
    # All images identical, colour jitter only: the colour mean shift is the clean mean minus
    # the view's channel means -- a linear function of PooledStats' "means" block.
    same = make_synthetic(1, 32, seed=2)[0].expand(64, 3, 32, 32)
    pipe = single_op_pipeline("color", 32)
    table = augmentation_probe(PooledStats(), same, pipeline=pipe, keys=["color_shift", "crop"],
                               l2_grid=[1e-6, 1e-3, 1e-1])
    r2 = table.set_index(["block", "key"]).r2
    assert r2[("means", "color_shift")] > 0.99
    assert math.isnan(r2[("means", "crop")])  # the crop never changes: R^2 undefined
    flat = augmentation_probe(Constant(), same, pipeline=pipe, keys=["color_shift"], l2_grid=[1e-3])
    assert (flat.r2 < 0.1).all()  # constant features predict nothing
    with pytest.raises(ValueError, match="split"):
        augmentation_probe(PooledStats(), same[:4])
    with pytest.raises(ValueError, match="keys"):
        augmentation_probe(PooledStats(), same, keys=["twirl"])


def test_augmentation_probe_final_features_only(images):
    table = augmentation_probe(PooledStats(), images, stages=False, l2_grid=[1e-2, 1.0])
    assert set(table.block) == {"features"} and "all" in set(table.key)
