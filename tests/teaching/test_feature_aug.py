"""Feature augmentation on one batch (ssl_lib/teaching/feature_aug.py),
each function against a computation by hand (loops, numpy) or the library's own loss on the
same inputs."""

import pytest
import torch
import torch.nn.functional as F

from ssl_lib.teaching import feature_aug
from ssl_lib.models.feature_aug import FeatureAugmenter
from ssl_lib.models.losses import nt_xent


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
