"""Losses: against loop-level float64 transcriptions of the papers' formulas, analytic cases,
symmetries, gradients and input validation."""

import math

import pytest
import torch

from ssl_lib.models.losses import barlow_twins, info_nce, negative_cosine, nt_xent, vicreg


# ----- loop-level references: python floats, one anchor / one matrix entry at a time -----

def _rows(z):
    return [[float(v) for v in row] for row in z.double()]


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def _unit(a):
    norm = math.sqrt(_dot(a, a))
    return [x / norm for x in a]


def ref_nt_xent(z1, z2, t):
    u = [_unit(r) for r in _rows(z1) + _rows(z2)]  # 2N rows: views 1 then views 2
    n2 = len(u)
    total = 0.0
    for a in range(n2):
        pos = (a + n2 // 2) % n2  # the other view of the same sample
        denom = sum(math.exp(_dot(u[a], u[k]) / t) for k in range(n2) if k != a)
        total += -math.log(math.exp(_dot(u[a], u[pos]) / t) / denom)
    return total / n2


def ref_info_nce(q, k, queue, t):
    qs, ks, negs = [_unit(r) for r in _rows(q)], [_unit(r) for r in _rows(k)], _rows(queue)
    total = 0.0
    for qi, ki in zip(qs, ks):
        pos = math.exp(_dot(qi, ki) / t)
        total += -math.log(pos / (pos + sum(math.exp(_dot(qi, nj) / t) for nj in negs)))
    return total / len(qs)


def ref_negative_cosine(p, z):
    ps, zs = _rows(p), _rows(z)
    cos = [_dot(a, b) / math.sqrt(_dot(a, a) * _dot(b, b)) for a, b in zip(ps, zs)]
    return -sum(cos) / len(cos)


def _columns(rows):
    return [list(col) for col in zip(*rows)]


def _mean(v):
    return sum(v) / len(v)


def ref_barlow_twins(z1, z2, lambd, eps=1e-5):
    def standardised_columns(z):
        out = []
        for col in _columns(_rows(z)):
            m = _mean(col)
            var = sum((x - m) ** 2 for x in col) / len(col)  # biased, as BatchNorm
            out.append([(x - m) / math.sqrt(var + eps) for x in col])
        return out

    a, b = standardised_columns(z1), standardised_columns(z2)
    n, d = z1.shape
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c_ij = sum(a[i][s] * b[j][s] for s in range(n)) / n
            loss += (1 - c_ij) ** 2 if i == j else lambd * c_ij**2
    return loss


def ref_vicreg(z1, z2, sim, std, cov):
    r1, r2 = _rows(z1), _rows(z2)
    n, d = z1.shape
    inv = sum((x - y) ** 2 for a, b in zip(r1, r2) for x, y in zip(a, b)) / (n * d)

    def var_and_cov(rows):
        cols = [[x - _mean(col) for x in col] for col in _columns(rows)]  # centred
        hinge = 0.0
        for col in cols:
            s = math.sqrt(sum(x * x for x in col) / (n - 1) + 1e-4)
            hinge += max(0.0, 1 - s)
        off = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    off += (sum(cols[i][s] * cols[j][s] for s in range(n)) / (n - 1)) ** 2
        return hinge / d, off / d

    h1, c1 = var_and_cov(r1)
    h2, c2 = var_and_cov(r2)
    return sim * inv + std * (h1 / 2 + h2 / 2) + cov * (c1 + c2)


def _pair(n=6, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


def _hadamard_columns():
    """(4, 3): columns centred, biased variance 1, mutually orthogonal (uncorrelated)."""
    return torch.tensor(
        [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64
    )


# ----- agreement with the loop references on random inputs -----

@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_nt_xent_matches_loop_reference(seed, t):
    z1, z2 = _pair(n=5, d=4, seed=seed)
    assert nt_xent(z1, z2, temperature=t).item() == pytest.approx(ref_nt_xent(z1, z2, t), rel=1e-10)


@pytest.mark.parametrize("k", [0, 1, 7])
def test_info_nce_matches_loop_reference(k):
    q, key = _pair(n=5, d=4, seed=k)
    queue = torch.nn.functional.normalize(torch.randn(k, 4, dtype=torch.float64), dim=1)
    got = info_nce(q, key, queue, temperature=0.2).item()
    assert got == pytest.approx(ref_info_nce(q, key, queue, 0.2), rel=1e-10, abs=1e-12)


def test_negative_cosine_matches_loop_reference():
    p, z = _pair(seed=3)
    assert negative_cosine(p, z).item() == pytest.approx(ref_negative_cosine(p, z), rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("lambd", [5e-3, 0.5])
def test_barlow_twins_matches_loop_reference(seed, lambd):
    z1, z2 = _pair(n=7, d=4, seed=seed)
    z2 = z2 + 0.8 * z1  # correlated views, so the diagonal is not trivially near 0
    got = barlow_twins(z1, z2, lambd=lambd).item()
    assert got == pytest.approx(ref_barlow_twins(z1, z2, lambd), rel=1e-10)


def test_barlow_twins_standardises_like_batchnorm_without_affine():
    z1, z2 = _pair(n=9, d=6, seed=4)
    bn = torch.nn.BatchNorm1d(6, affine=False, dtype=torch.float64).train()
    c = bn(z1).T @ bn(z2) / 9
    on = (1 - c.diagonal()).pow(2).sum()
    off = c.pow(2).sum() - c.diagonal().pow(2).sum()
    expected = (on + 0.1 * off).item()
    assert barlow_twins(z1, z2, lambd=0.1).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("coeffs", [(25.0, 25.0, 1.0), (1.0, 3.0, 7.0)])
def test_vicreg_matches_loop_reference(seed, coeffs):
    z1, z2 = _pair(n=6, d=4, seed=seed)
    z1 = 0.3 * z1  # std below 1 in some dims, so the hinge is active
    sim, std, cov = coeffs
    got = vicreg(z1, z2, sim_coeff=sim, std_coeff=std, cov_coeff=cov).item()
    assert got == pytest.approx(ref_vicreg(z1, z2, sim, std, cov), rel=1e-10)


def test_vicreg_terms_separately():
    # One coefficient at a time: each term has the normalisation the docstring states.
    z1, z2 = _pair(n=6, d=4, seed=5)
    z1 = 0.3 * z1
    for coeffs in [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]:
        got = vicreg(z1, z2, *coeffs).item()
        assert got == pytest.approx(ref_vicreg(z1, z2, *coeffs), rel=1e-10, abs=1e-14)
    assert vicreg(z1, z2, 1.0, 0.0, 0.0).item() == pytest.approx(
        torch.nn.functional.mse_loss(z1, z2).item(), rel=1e-12
    )


# ----- analytic cases -----

@pytest.mark.parametrize("t", [0.1, 0.5])
def test_nt_xent_identical_orthonormal_views(t):
    # Positive similarity 1, all 2B - 2 negatives 0: loss = log(1 + (2B - 2) exp(-1/T)).
    b = 4
    z = 3.0 * torch.eye(b, dtype=torch.float64)  # scale is normalised away
    expected = math.log(1 + (2 * b - 2) * math.exp(-1 / t))
    assert nt_xent(z, z, temperature=t).item() == pytest.approx(expected, rel=1e-12)


def test_info_nce_orthogonal_queue_and_empty_queue():
    q = torch.eye(6, dtype=torch.float64)[:3]
    queue = torch.eye(6, dtype=torch.float64)[3:]  # orthogonal to every query
    expected = math.log(1 + 3 * math.exp(-1 / 0.2))
    assert info_nce(q, 2 * q, queue).item() == pytest.approx(expected, rel=1e-12)
    assert info_nce(q, q, queue[:0]).item() == pytest.approx(0.0, abs=1e-12)


def test_negative_cosine_analytic_values():
    z = torch.randn(5, 3, dtype=torch.float64)
    assert negative_cosine(2.5 * z, z).item() == pytest.approx(-1.0)
    assert negative_cosine(-z, z).item() == pytest.approx(1.0)
    e = torch.eye(2, dtype=torch.float64)
    assert negative_cosine(e, e.flip(0)).item() == pytest.approx(0.0)


def test_negative_cosine_is_byol_loss_up_to_affine_map():
    p, z = _pair(seed=6)
    pn, zn = torch.nn.functional.normalize(p, dim=1), torch.nn.functional.normalize(z, dim=1)
    byol = (pn - zn).pow(2).sum(dim=1).mean()
    assert byol.item() == pytest.approx(2 + 2 * negative_cosine(p, z).item(), rel=1e-12)


def test_barlow_twins_analytic_values():
    z = _hadamard_columns()  # standardised, uncorrelated columns: c = I / (1 + eps)
    d = z.shape[1]
    c_ii = 1 / math.sqrt(1 + 1e-5) ** 2
    assert barlow_twins(z, z).item() == pytest.approx(d * (1 - c_ii) ** 2, abs=1e-15)
    assert barlow_twins(z, -z).item() == pytest.approx(d * (1 + c_ii) ** 2, rel=1e-12)
    # Fully redundant dims (all columns equal): every c_ij = c_ii.
    r = z[:, :1].repeat(1, 3)
    expected = d * (1 - c_ii) ** 2 + 0.1 * d * (d - 1) * c_ii**2
    assert barlow_twins(r, r, lambd=0.1).item() == pytest.approx(expected, rel=1e-12)


def test_barlow_twins_ignores_per_dimension_affine_maps():
    z1, z2 = _pair(n=8, d=3, seed=7)
    scale, shift = torch.tensor([2.0, 0.5, 10.0], dtype=torch.float64), torch.tensor([1.0, -3, 4])
    moved = barlow_twins(z1 * scale + shift, z2).item()
    # Only BatchNorm's eps = 1e-5 keeps this from being exact.
    assert moved == pytest.approx(barlow_twins(z1, z2).item(), rel=1e-4)


def test_vicreg_analytic_values():
    z = 2 * _hadamard_columns()  # unbiased std = 2 sqrt(4/3) > 1, uncorrelated: every term 0
    assert vicreg(z, z).item() == pytest.approx(0.0, abs=1e-12)
    # Collapse: both branches constant -> std = sqrt(1e-4) = 0.01, hinge 0.99 per branch.
    c = torch.ones(5, 4, dtype=torch.float64)
    assert vicreg(c, c).item() == pytest.approx(25 * 0.99, rel=1e-12)
    # Fully correlated dims: cov off-diagonal entries all equal var = 16/3 (per branch).
    r = 2 * _hadamard_columns()[:, :1].repeat(1, 3)
    expected = 2 * (3 * 2) * (16 / 3) ** 2 / 3
    assert vicreg(r, r, 0.0, 0.0, 1.0).item() == pytest.approx(expected, rel=1e-12)


# ----- symmetry and invariances -----

@pytest.mark.parametrize("fn", [nt_xent, negative_cosine, barlow_twins, vicreg])
def test_symmetric_in_the_two_views(fn):
    z1, z2 = _pair(seed=8)
    assert fn(z1, z2).item() == pytest.approx(fn(z2, z1).item(), rel=1e-12)


def test_info_nce_is_not_symmetric_but_invariant_to_scale():
    q, k = _pair(seed=9)
    queue = torch.nn.functional.normalize(torch.randn(4, 5, dtype=torch.float64), dim=1)
    assert info_nce(3 * q, 0.5 * k, queue).item() == pytest.approx(info_nce(q, k, queue).item())
    assert info_nce(q, k, queue).item() != pytest.approx(info_nce(k, q, queue).item())


@pytest.mark.parametrize("fn", [nt_xent, barlow_twins, vicreg])
def test_invariant_to_reordering_the_batch(fn):
    z1, z2 = _pair(seed=10)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    assert fn(z1[perm], z2[perm]).item() == pytest.approx(fn(z1, z2).item(), rel=1e-12)


@pytest.mark.parametrize("fn", [nt_xent, barlow_twins, vicreg])
def test_gather_flag_is_a_no_op_without_a_process_group(fn):
    z1, z2 = _pair(seed=11)
    assert fn(z1, z2, gather_distributed=True).item() == fn(z1, z2).item()


# ----- gradients -----

def _losses_of(z1, z2):
    g = torch.Generator().manual_seed(1)  # the same queue on every call (gradcheck)
    queue = torch.randn(5, z1.shape[1], generator=g, dtype=z1.dtype)
    queue = torch.nn.functional.normalize(queue, dim=1)
    return {
        "nt_xent": lambda: nt_xent(z1, z2),
        "info_nce": lambda: info_nce(z1, z2.detach(), queue),
        "negative_cosine": lambda: negative_cosine(z1, z2.detach()),
        "barlow_twins": lambda: barlow_twins(z1, z2),
        "vicreg": lambda: vicreg(z1, z2),
    }


ALL = ["nt_xent", "info_nce", "negative_cosine", "barlow_twins", "vicreg"]


@pytest.mark.parametrize("name", ALL)
def test_gradients_are_finite_and_nonzero(name):
    z1, z2 = _pair(n=8, d=6, seed=12, dtype=torch.float32)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    _losses_of(z1, z2)[name]().backward()
    assert torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0
    if name in ("info_nce", "negative_cosine"):
        assert z2.grad is None  # the caller's stop-gradient is respected
    else:
        assert torch.isfinite(z2.grad).all() and z2.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ALL)
def test_gradients_match_finite_differences(name):
    z1, z2 = _pair(n=5, d=3, seed=13)
    z1 = (0.5 * z1).requires_grad_(True)  # VICReg hinge active
    z2 = z2.requires_grad_(True)

    assert torch.autograd.gradcheck(lambda a: _losses_of(a, z2)[name](), (z1,))


# ----- input validation -----

@pytest.mark.parametrize("fn", [nt_xent, negative_cosine, barlow_twins, vicreg])
def test_rejects_bad_shapes_naming_the_argument(fn):
    a, b = (x.float() for x in _pair())
    first, second = ("p", "z") if fn is negative_cosine else ("z1", "z2")
    with pytest.raises(ValueError, match=f"{first} must be a 2-D"):
        fn(a[0], b)
    with pytest.raises(ValueError, match=f"{second} must be a 2-D"):
        fn(a, b[None])
    with pytest.raises(ValueError, match=f"{first} and {second} must have the same shape"):
        fn(a, b[:, :3])
    with pytest.raises(ValueError, match=f"{first} and {second} must have the same shape"):
        fn(a, b[:4])


@pytest.mark.parametrize("t", [0.0, -0.1, float("nan")])
def test_rejects_non_positive_temperature(t):
    a, b = _pair()
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(a, b, temperature=t)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(a, b, torch.zeros(3, 5, dtype=torch.float64), temperature=t)


def test_info_nce_rejects_bad_queue_and_keys():
    q, k = _pair()
    with pytest.raises(ValueError, match=r"queue must have the embedding dim of q \(5\), got 4"):
        info_nce(q, k, torch.zeros(3, 4))
    with pytest.raises(ValueError, match="queue must be a 2-D"):
        info_nce(q, k, torch.zeros(5))
    with pytest.raises(ValueError, match="q and k must have the same shape"):
        info_nce(q, k[:, :2], torch.zeros(3, 5))


@pytest.mark.parametrize("fn", [barlow_twins, vicreg])
def test_batch_statistics_need_two_samples(fn):
    a, b = _pair(n=1)
    with pytest.raises(ValueError, match="at least 2 samples"):
        fn(a, b)
