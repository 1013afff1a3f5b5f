"""Feature fusion: layout, modes and errors."""

import pytest
import torch

from ssl_lib.evaluation.fusion import fuse_features


def test_concat_keeps_each_models_block_in_order():
    a, b = torch.randn(5, 3), torch.randn(5, 2)
    fused = fuse_features([a, b])
    assert fused.shape == (5, 5)
    assert torch.equal(fused[:, :3], a) and torch.equal(fused[:, 3:], b)


def test_mean_and_l2_normalisation():
    a, b = torch.randn(4, 3), torch.randn(4, 3) * 100
    torch.testing.assert_close(fuse_features([a, b], mode="mean"), (a + b) / 2)
    normed = fuse_features([a, b], mode="concat", l2_normalize=True)
    torch.testing.assert_close(normed[:, :3].norm(dim=1), torch.ones(4))
    torch.testing.assert_close(normed[:, 3:].norm(dim=1), torch.ones(4))


def test_fusion_errors():
    with pytest.raises(ValueError, match="mode"):
        fuse_features([torch.ones(2, 2)], mode="max")
    with pytest.raises(ValueError, match="equal widths"):
        fuse_features([torch.ones(2, 2), torch.ones(2, 3)], mode="mean")
    with pytest.raises(ValueError, match="same images"):
        fuse_features([torch.ones(2, 2), torch.ones(3, 2)])
    with pytest.raises(ValueError, match="features"):
        fuse_features([])
    with pytest.raises(ValueError, match=r"features\[1\]"):
        fuse_features([torch.ones(2, 2), torch.ones(2)])


def test_fused_grid_moves_up_two_decades_per_extra_model():
    from ssl_lib.evaluation.fusion import fused_l2_grid

    grid = (1e-6, 1.0, 1e5)  # the ends and middle of logspace(-6, 5, 45)
    assert fused_l2_grid(grid, 1) == grid
    assert fused_l2_grid(grid, 3) == pytest.approx((1e-2, 1e4, 1e9))  # the authors' c = 2 -> logspace(-2, 9)
    with pytest.raises(ValueError, match="n_models"):
        fused_l2_grid(grid, 0)
