"""CASSLE's conditioned projector on one batch (ssl_lib/teaching/cassle.py),
each function against a computation by hand (loops, numpy) or the library's own loss on the
same inputs."""

import pytest
import torch
import torch.nn.functional as F

from ssl_lib.models.cassle import ConditionedProjector
from ssl_lib.teaching import cassle
from tests.teaching.test_augself import view_params


def test_conditioning_effect_by_hand():
    torch.manual_seed(0)
    p1, _ = view_params()
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
