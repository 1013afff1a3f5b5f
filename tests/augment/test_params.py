"""AugParams container behaviour, CASSLE's descriptor and AugSelf's targets, computed by hand."""

import pytest
import torch

from ssl_lib.augment import AugParams, augself_targets, descriptor_dim, recipe


def two_views():
    """Two hand-written views of two 40 x 50 images; ranges as mocov2 (0.4, 0.4, 0.4, 0.1)."""
    common = dict(source_size=torch.tensor([[40, 50], [40, 50]]),
                  jitter_order=torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]]),
                  jitter_range=torch.tensor([[0.8, 0.8, 0.8, 0.2]] * 2))
    view1 = AugParams(
        crop_box=torch.tensor([[0, 10, 20, 30], [5, 0, 40, 50]]),
        flip=torch.tensor([False, True]),
        jitter_applied=torch.tensor([True, False]),
        jitter_factors=torch.tensor([[1.2, 0.6, 1.0, 0.05], [1.0, 1.0, 1.0, 0.0]]),
        grayscale=torch.tensor([False, True]),
        blur_sigma=torch.tensor([0.0, 1.5]),
        solarize=torch.tensor([False, True]),
        solarize_threshold=torch.tensor([1.0, 0.4]),
        rotation_k=torch.tensor([0, 1]),
        color_shift=torch.tensor([[0.1, -0.2, 0.0], [0.0, 0.0, 0.0]]),
        **common)
    view2 = AugParams(
        crop_box=torch.tensor([[10, 0, 30, 40], [0, 25, 20, 25]]),
        flip=torch.tensor([True, True]),
        jitter_applied=torch.tensor([True, True]),
        jitter_factors=torch.tensor([[0.8, 1.4, 0.6, -0.1], [1.0, 1.0, 1.4, 0.1]]),
        grayscale=torch.tensor([False, False]),
        blur_sigma=torch.tensor([0.5, 0.0]),
        solarize=torch.tensor([False, False]),
        solarize_threshold=torch.tensor([1.0, 1.0]),
        rotation_k=torch.tensor([3, 1]),
        color_shift=torch.tensor([[0.0, 0.0, 0.3], [0.05, 0.05, 0.05]]),
        **common)
    return view1, view2


def test_descriptor_layout_by_hand():
    view1, _ = two_views()
    d = view1.descriptor()
    assert d.shape == (2, 13) == (2, descriptor_dim())
    # sample 0: blur 0 | colour ((1.2-1)/0.8, (0.6-1)/0.8, 0, 0.05/0.2) | shift | crop | grey 0
    crop0 = [(0 + 20 / 2) / 40, (10 + 30 / 2) / 50, 20 / 40, 30 / 50]
    expected0 = [0.0, 0.25, -0.5, 0.0, 0.25, 0.1, -0.2, 0.0, *crop0, 0.0]
    # sample 1: flipped, so centre_x = 1 - 25 / 50; jitter off, so colour = 0
    crop1 = [(5 + 20) / 40, 1 - (0 + 25) / 50, 1.0, 1.0]
    expected1 = [1.5, 0, 0, 0, 0, 0, 0, 0, *crop1, 1.0]
    assert torch.allclose(d, torch.tensor([expected0, expected1]), atol=1e-6)


def test_descriptor_keys_are_sorted_and_validated():
    view1, _ = two_views()
    assert torch.equal(view1.descriptor(["crop", "blur"]), view1.descriptor(["blur", "crop"]))
    assert view1.descriptor(["flip", "rotation"]).tolist() == [[0, 1, 0, 0, 0], [1, 0, 1, 0, 0]]
    with pytest.raises(ValueError, match="colour"):
        view1.descriptor(["colour"])
    with pytest.raises(ValueError, match="descriptor keys"):
        view1.descriptor([])


def test_augself_targets_by_hand():
    view1, view2 = two_views()
    t = augself_targets(view1, view2)
    # AugSelf's crop target: both centres mirrored by the FIRST view's flip. Sample 0: view 1 is
    # not flipped, so neither centre is mirrored (view 2's own flip does not enter).
    assert torch.allclose(t["crop"][0], torch.tensor([10 / 40 - 25 / 40, 25 / 50 - 20 / 50, 20 / 40 - 30 / 40, 30 / 50 - 40 / 50]))
    # sample 1: view 1 flipped, so both centres are mirrored (here the same as per-view mirroring)
    assert torch.allclose(t["crop"][1], torch.tensor([25 / 40 - 10 / 40, (1 - 25 / 50) - (1 - 37.5 / 50), 1 - 0.5, 1 - 0.5]))
    colour0 = torch.tensor([0.25 - (-0.25), -0.5 - 0.5, 0.0 - (-0.5), 0.25 - (-0.5)])
    colour1 = torch.tensor([0.0, 0.0, 0.0 - 0.5, 0.0 - 0.5])
    assert torch.allclose(t["color"], torch.stack([colour0, colour1]))
    assert t["flip"].tolist() == [[0.0], [1.0]]
    assert torch.allclose(t["blur"], torch.tensor([[-0.5], [1.5]]))
    assert t["rotation"].tolist() == [1, 0] and t["rotation"].dtype == torch.int64
    # solarize: the view's threshold, 1 when not solarized (sample 1: 0.4 - 1)
    assert torch.allclose(t["solarize"], torch.tensor([[0.0], [-0.6]]))
    back = augself_targets(view2, view1)
    # Reversed pair: view 2 is flipped in sample 0, so both centres are mirrored and the x
    # offset keeps its sign while the others flip; sample 1 (same flips) negates everything.
    assert torch.allclose(back["crop"][0], torch.tensor([15 / 40, (1 - 20 / 50) - (1 - 25 / 50), 0.25, 0.2]))
    assert torch.allclose(back["crop"][0, 1], t["crop"][0, 1])
    assert torch.allclose(back["crop"][1], -t["crop"][1]) and torch.equal(back["flip"], t["flip"])
    assert torch.allclose(back["solarize"], -t["solarize"])
    assert back["rotation"].tolist() == [3, 0]


def test_augself_targets_errors():
    view1, view2 = two_views()
    with pytest.raises(ValueError, match="unknown AugSelf groups"):
        augself_targets(view1, view2, groups=["crop", "shear"])
    with pytest.raises(ValueError, match="same batch"):
        augself_targets(view1, view2[0])


def test_index_cat_move_and_serialise(tmp_path):
    view1, view2 = two_views()
    both = AugParams.cat([view1, view2])
    assert len(both) == 4 and torch.equal(both[2:].crop_box, view2.crop_box)
    assert torch.equal(both[torch.tensor([True, False, False, True])].flip, torch.tensor([False, True]))
    assert len(both[-1]) == 1 and torch.equal(both[-1].crop_box, view2.crop_box[1:])
    path = tmp_path / "params.pt"
    both.save(path)
    loaded = AugParams.load(path)
    assert all(torch.equal(a, b) for a, b in zip(both.as_dict().values(), loaded.as_dict().values()))
    assert [p.name for p in tmp_path.iterdir()] == ["params.pt"]  # no temporary file left behind
    with pytest.raises(ValueError, match="missing"):
        AugParams.from_dict({"flip": torch.zeros(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="batch size"):
        AugParams.from_dict({**view1.as_dict(), "flip": torch.zeros(3, dtype=torch.bool)})
    old_record = {k: v for k, v in view1.as_dict().items() if k != "solarize_threshold"}
    with pytest.raises(ValueError, match="solarize_threshold"):  # records from before the field existed
        AugParams.from_dict(old_record)


def test_color_shift_is_mean_before_jitter_minus_after():
    pipeline = recipe("mocov2", 16, grayscale_p=0.0, blur_p=0.0, flip_p=0.0)
    x = torch.rand(8, 3, 16, 16)
    views, params = pipeline(x)
    no_jitter, _ = pipeline.replay(x, AugParams.from_dict({
        **params.as_dict(), "jitter_applied": torch.zeros(8, dtype=torch.bool),
        "jitter_factors": torch.tensor([1.0, 1.0, 1.0, 0.0]).expand(8, 4).clone()}))
    expected = no_jitter.mean(dim=(2, 3)) - views.mean(dim=(2, 3))
    assert torch.allclose(params.color_shift, expected, atol=1e-6)
    assert params.jitter_applied.any()
