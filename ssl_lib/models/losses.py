"""Joint-embedding SSL losses as plain functions on (B, D) embedding tensors.

Each function returns a scalar tensor. Those with `gather_distributed=True` all-gather embeddings
with `ssl_lib.utils.distributed.gather_with_grad` (autograd-aware) when a process group with more than
one process is initialised, so that -- combined with DDP's gradient averaging -- training on G
ranks of B samples gives the loss and gradient of one process on the global batch of N = G * B
(see `ssl_lib.utils.distributed` for the gradient bookkeeping). Every rank must pass the same B.
Without a process group the flag changes nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_lib.utils import distributed as _dist
from ssl_lib.utils.checks import check_same_shape

# BatchNorm1d's default eps: Barlow Twins standardises with BatchNorm1d(affine=False).
_BN_EPS = 1e-5
# Added to the variance before the square root in VICReg's hinge (official code).
_VICREG_EPS = 1e-4


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:  # also rejects NaN
        raise ValueError(f"temperature must be > 0, got {temperature}")


def _check_batch_stats(n: int, name: str) -> None:
    # Batch statistics (standardisation, unbiased variance) are undefined for one sample.
    if n < 2:
        raise ValueError(f"{name} needs at least 2 samples in the (global) batch, got {n}")


def _off_diagonal(m: Tensor) -> Tensor:
    """The D * (D - 1) off-diagonal entries of a square (D, D) matrix, as a flat view."""
    d = m.shape[0]
    # Dropping the last element and reshaping to (D - 1, D + 1) puts each diagonal entry in
    # column 0 (official Barlow Twins / VICReg trick: a view, no mask, no copy).
    return m.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def nt_xent(
    z1: Tensor, z2: Tensor, temperature: float = 0.5, gather_distributed: bool = False
) -> Tensor:
    """SimCLR's normalised-temperature cross-entropy (NT-Xent).

    With u = z / ||z|| and the 2N embeddings {u1_1..u1_N, u2_1..u2_N}, each anchor a has one
    positive p(a) (the other view of the same sample) and 2N - 2 negatives:

        l(a) = -log( exp(u_a . u_p(a) / T) / sum_{k != a} exp(u_a . u_k / T) )
        loss = (1 / 2N) * sum_a l(a)

    Args:
        z1, z2: (B, D) embeddings of the two views; row i of each comes from the same sample.
        temperature: T > 0.
        gather_distributed: with a process group of G > 1 ranks, the anchors are this rank's 2B
            embeddings while the candidates (positives and negatives) are the global 2N = 2GB,
            so each anchor has 2N - 2 negatives and the mean over ranks of the returned losses
            equals the single-process loss on the global batch.

    Returns:
        Scalar loss (mean over this rank's 2B anchors).
    """
    check_same_shape(z1, z2, "z1", "z2")
    _check_temperature(temperature)
    z1 = F.normalize(z1, dim=1)
    z2 = F.normalize(z2, dim=1)
    b = z1.shape[0]
    g1, g2, offset = z1, z2, 0
    if gather_distributed and _dist.is_distributed():
        g1, g2 = _dist.gather_with_grad(z1), _dist.gather_with_grad(z2)
        offset = _dist.rank() * b  # this rank's rows in the gathered batch
    n = g1.shape[0]
    anchors = torch.cat([z1, z2])  # (2B, D)
    candidates = torch.cat([g1, g2])  # (2N, D): view-1 block, then view-2 block
    logits = anchors @ candidates.T / temperature  # (2B, 2N)
    local = torch.arange(b, device=z1.device) + offset
    self_idx = torch.cat([local, local + n])
    pos_idx = torch.cat([local + n, local])
    rows = torch.arange(2 * b, device=z1.device)
    # The anchor's similarity with itself is excluded from the denominator.
    self_mask = torch.zeros_like(logits, dtype=torch.bool)
    self_mask[rows, self_idx] = True
    logits = logits.masked_fill(self_mask, float("-inf"))
    return F.cross_entropy(logits, pos_idx)


def info_nce(q: Tensor, k: Tensor, queue: Tensor, temperature: float = 0.2) -> Tensor:
    """MoCo's InfoNCE with a queue of negatives.

    With q_i, k_i L2-normalised here and the queue rows n_j already normalised by the caller:

        logits_i = [q_i . k_i, q_i . n_1, ..., q_i . n_K] / T        (1 + K entries)
        loss     = (1 / B) * sum_i -log softmax(logits_i)[0]

    i.e. cross-entropy with target 0 (the positive key).

    Args:
        q: (B, D) queries (online encoder).
        k: (B, D) keys (momentum encoder). Used as given: the caller detaches them.
        queue: (K, D) negative keys, already L2-normalised (K may be 0).
        temperature: T > 0.

    Returns:
        Scalar loss (mean over the B queries).
    """
    check_same_shape(q, k, "q", "k")
    _check_temperature(temperature)
    if not isinstance(queue, Tensor) or queue.ndim != 2:
        shape = tuple(queue.shape) if isinstance(queue, Tensor) else type(queue).__name__
        raise ValueError(f"queue must be a 2-D (K, D) tensor, got {shape}")
    if queue.shape[1] != q.shape[1]:
        raise ValueError(
            f"queue must have the embedding dim of q ({q.shape[1]}), got {queue.shape[1]}"
        )
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    l_pos = (q * k).sum(dim=1, keepdim=True)  # (B, 1)
    l_neg = q @ queue.T  # (B, K)
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, target)


def negative_cosine(p: Tensor, z: Tensor) -> Tensor:
    """Negative mean cosine similarity (SimSiam; BYOL up to an affine map).

        loss = -(1 / B) * sum_i  p_i . z_i / (||p_i|| ||z_i||)          in [-1, 1]

    BYOL writes its loss as ||p/||p|| - z/||z|| ||^2 = 2 - 2 cos(p, z), which is
    2 + 2 * negative_cosine(p, z): the same minimiser and gradients scaled by 2.

    Args:
        p: (B, D) predictions (online branch).
        z: (B, D) targets. Used as given: the caller applies the stop-gradient (z.detach()).

    Returns:
        Scalar loss.
    """
    check_same_shape(p, z, "p", "z")
    # Same op as SimSiam's official nn.CosineSimilarity(dim=1) (norms clamped by eps=1e-8).
    return -F.cosine_similarity(p, z, dim=1).mean()


def barlow_twins(
    z1: Tensor, z2: Tensor, lambd: float = 5e-3, gather_distributed: bool = False
) -> Tensor:
    """Barlow Twins' redundancy-reduction loss on the cross-correlation matrix.

    Each dimension is standardised over the batch as BatchNorm1d(affine=False) in training mode
    does (biased variance, eps = 1e-5):

        zn[n, i] = (z[n, i] - mean_n z[:, i]) / sqrt(var_n z[:, i] + 1e-5),
                   var_n = (1 / N) * sum_n (z[n, i] - mean)^2
        c[i, j]  = (1 / N) * sum_n z1n[n, i] * z2n[n, j]                    (D, D)
        loss     = sum_i (1 - c[i, i])^2 + lambd * sum_{i != j} c[i, j]^2

    Args:
        z1, z2: (B, D) embeddings of the two views.
        lambd: weight of the off-diagonal (redundancy) term.
        gather_distributed: with G > 1 ranks, the standardisation statistics and c are computed
            over the global batch of N = G * B; every rank then returns the same global loss.
            (The official code all-reduces c with the raw collective, which loses the other
            ranks' gradient paths; gathering with autograd does not.)

    Returns:
        Scalar loss (not divided by D; the official code does not either).
    """
    check_same_shape(z1, z2, "z1", "z2")
    if gather_distributed:
        z1, z2 = _dist.gather_with_grad(z1), _dist.gather_with_grad(z2)
    n = z1.shape[0]
    _check_batch_stats(n, "barlow_twins")

    def standardise(z: Tensor) -> Tensor:
        mean = z.mean(dim=0)
        var = z.var(dim=0, unbiased=False)
        return (z - mean) / torch.sqrt(var + _BN_EPS)

    c = standardise(z1).T @ standardise(z2) / n  # (D, D)
    on_diag = (1 - torch.diagonal(c)).pow(2).sum()
    off_diag = _off_diagonal(c).pow(2).sum()
    return on_diag + lambd * off_diag


def vicreg(
    z1: Tensor,
    z2: Tensor,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    gather_distributed: bool = False,
) -> Tensor:
    """VICReg: variance-invariance-covariance regularisation, as in the official code.

    With x = z1, y = z2 of shape (N, D) (N = B, or the gathered G * B) and x_c = x - mean_n x
    (centred per dimension):

        inv  = (1 / (B D)) * sum_{n, i} (z1[n, i] - z2[n, i])^2            (F.mse_loss)
        std_x[i] = sqrt(Var_n x[:, i] + 1e-4),  Var unbiased (divides by N - 1)
        var  = mean_i relu(1 - std_x[i]) / 2 + mean_i relu(1 - std_y[i]) / 2
        C_x  = x_c^T x_c / (N - 1)                                         (D, D)
        cov  = sum_{i != j} C_x[i, j]^2 / D + sum_{i != j} C_y[i, j]^2 / D
        loss = sim_coeff * inv + std_coeff * var + cov_coeff * cov

    Note the asymmetries the official code has and this keeps: the hinge term is averaged over
    the two branches (/2) while the covariance term is summed over them; both are per-dimension
    means (/ D), and the covariance divides by N - 1.

    Args:
        z1, z2: (B, D) embeddings of the two views.
        sim_coeff, std_coeff, cov_coeff: weights of the invariance, variance and covariance terms.
        gather_distributed: with G > 1 ranks, the variance and covariance terms use the global
            batch (N = G * B) while the invariance term stays on the local B rows, as in the
            official code; the mean over ranks of the returned losses equals the single-process
            loss on the global batch.

    Returns:
        Scalar loss.
    """
    check_same_shape(z1, z2, "z1", "z2")
    # Invariance on local rows: its mean over equal-sized ranks is the global MSE.
    inv = F.mse_loss(z1, z2)
    if gather_distributed:
        z1, z2 = _dist.gather_with_grad(z1), _dist.gather_with_grad(z2)
    n, d = z1.shape
    _check_batch_stats(n, "vicreg")
    x = z1 - z1.mean(dim=0)
    y = z2 - z2.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + _VICREG_EPS)
    std_y = torch.sqrt(y.var(dim=0) + _VICREG_EPS)
    var = F.relu(1 - std_x).mean() / 2 + F.relu(1 - std_y).mean() / 2
    cov_x = x.T @ x / (n - 1)
    cov_y = y.T @ y / (n - 1)
    cov = _off_diagonal(cov_x).pow(2).sum() / d + _off_diagonal(cov_y).pow(2).sum() / d
    return sim_coeff * inv + std_coeff * var + cov_coeff * cov
