"""Ericsson et al.'s whitened cosine step by step (ssl_lib/teaching/ericsson.py),
each function against a computation by hand (loops, numpy) or the library's own loss on the
same inputs."""

import numpy as np
import pytest
import torch

from ssl_lib.teaching import ericsson


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
