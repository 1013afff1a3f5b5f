"""Per-block sensitivity and the augmentation-parameter probe, with hand-made feature maps."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from ssl_lib.models.backbones import make_backbone
from ssl_lib.data import make_synthetic
from ssl_lib.evaluation.sensitivity import (
    _pair_statistics, op_groups, augmentation_probe, block_sensitivity, single_op_pipeline,
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


def test_pair_statistics_are_the_authors_formulas_batch_by_batch():
    """CASSLE's script, per batch of B: pos = mean cos(fn_i, ft_i); neg = mean cos(fn_i, ft_{B-1-i})
    (torch.flip of the batch); InfoNCE = CE(norm(fn) @ norm(ft)^T / T, arange(B)) * 2T."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    pos, negative, nce = _pair_statistics(a, b, temperature=0.2, chunk=4)
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))
    for batch in (range(0, 4), range(4, 7)):  # the last batch is shorter, as the last of a loader
        size = len(batch)
        for k, i in enumerate(batch):
            assert pos[i].item() == pytest.approx(cos(a[i], b[i]), abs=1e-6)
            assert negative[i].item() == pytest.approx(cos(a[i], b[batch[size - 1 - k]]), abs=1e-6)
            logits = [cos(a[i], b[j]) / 0.2 for j in batch]
            expected = (-logits[k] + math.log(sum(math.exp(v) for v in logits))) * 2 * 0.2
            assert nce[i].item() == pytest.approx(expected, abs=1e-5)


def test_blocks_are_the_flattened_feature_maps_and_the_input(images):
    torch.manual_seed(0)
    net = make_backbone("small_cnn", width=4).eval()
    x = images[:8]
    table = block_sensitivity(net, x, groups=["flip"], batch_size=8)
    assert list(table.block) == ["input", *net.stage_names]
    flipped = x.flip(-1)  # the flip group flips every view, on the full (centre-cropped) image
    with torch.no_grad():
        maps_clean, maps_flip = [x.flatten(1)], [flipped.flatten(1)]
        h_clean, h_flip = net.stem(x), net.stem(flipped)
        for stage in net.stages.values():
            h_clean, h_flip = stage(h_clean), stage(h_flip)
            maps_clean.append(h_clean.flatten(1))
            maps_flip.append(h_flip.flatten(1))
    for row, fn, ft in zip(table.itertuples(), maps_clean, maps_flip):
        cos = torch.nn.functional.cosine_similarity(fn, ft, dim=1)
        assert row.positive == pytest.approx(float(cos.mean()), abs=1e-5)
        neg = torch.nn.functional.cosine_similarity(fn, ft.flip(0), dim=1)
        assert row.negative == pytest.approx(float(neg.mean()), abs=1e-5)
    # Flattened maps see the flip: the input block's positive is far from 1; a pool would hide it.
    assert table.set_index("block").positive["input"] < 0.99


def test_invariant_statistics_have_positive_cosine_one_for_flips_and_rotations(images):
    table = block_sensitivity(PooledStats(), images, groups=["flip", "rotation", "color"], batch_size=16,
                              spatial=False)
    assert list(table.columns) == ["model", "transform", "block", "positive", "negative", "infonce", "n_images"]
    assert len(table) == 6
    by = table.set_index(["transform", "block"])
    for group in ("flip", "rotation"):
        for block in ("means", "moments"):
            assert by.loc[(group, block), "positive"] == pytest.approx(1.0, abs=1e-6)
    assert (by.loc["color", "positive"] < 1 - 1e-4).all()
    # Positives are closer than shuffled pairs, and InfoNCE is below chance log(16) for flips.
    assert (table.positive > table.negative).all()
    assert (by.loc["flip", "infonce"] < 0.4 * math.log(16)).all()  # chance: 2T log B


def test_small_cnn_rows_per_block_and_group(images):
    torch.manual_seed(0)
    net = make_backbone("small_cnn", width=8)
    table = block_sensitivity(net, images[:16], batch_size=8, model="cnn")
    assert len(table) == (len(op_groups()) + 1) * 5 and set(table.block) == {"input", *net.stage_names}
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


def test_projector_sensitivity_matched_and_mixed_descriptors_by_hand(images):
    from ssl_lib.evaluation.sensitivity import projector_sensitivity
    from ssl_lib.models.compose import build_model
    from ssl_lib.train.config import TrainConfig

    torch.manual_seed(0)
    cfg = TrainConfig(backbone_width=4, proj_hidden=16, proj_dim=8, cassle=True, cassle_width=8, cassle_depth=2)
    model = build_model(cfg).eval()
    x = images[:6]
    table = projector_sensitivity(model, x, groups=["crop", "flip"], batch_size=6, seed=2)
    assert list(zip(table["transform"], table["descriptors"])) == [("crop", "matched"), ("crop", "mixed"),
                                                           ("flip", "matched"), ("flip", "mixed")]
    projector = model.method.projector
    with torch.no_grad():
        _, clean_params = single_op_pipeline("crop", 32, crop="center")(x)
        clean = torch.nn.functional.normalize(projector(model.backbone(x), clean_params), dim=1)
        views, params = single_op_pipeline("crop", 32)(x, generator=torch.Generator().manual_seed(2000))
        y = model.backbone(views)
        for mode, desc in (("matched", params), ("mixed", params[torch.arange(5, -1, -1)])):
            z = torch.nn.functional.normalize(projector(y, desc), dim=1)
            row = table[(table["transform"] == "crop") & (table["descriptors"] == mode)].iloc[0]
            assert row.positive == pytest.approx(float((clean * z).sum(1).mean()), abs=1e-5)
            assert row.negative == pytest.approx(float((clean * z.flip(0)).sum(1).mean()), abs=1e-5)
    plain = build_model(TrainConfig(backbone_width=4, proj_hidden=16, proj_dim=8))
    with pytest.raises(ValueError, match="CASSLE"):
        projector_sensitivity(plain, x)
