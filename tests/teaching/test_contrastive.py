"""SimCLR's NT-Xent written out (ssl_lib/teaching/contrastive.py),
each function against a computation by hand (loops, numpy) or the library's own loss on the
same inputs."""

import numpy as np
import pytest
import torch

from ssl_lib.teaching import contrastive
from ssl_lib.models.losses import nt_xent


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
    contrastive.similarity_figure(sim, positive)
