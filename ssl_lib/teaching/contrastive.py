"""SimCLR's contrastive loss (NT-Xent) on one batch, written out: the numbers notebook 03 shows a student.

    view_labels         names of the 2B views, "1·i" and "2·i"
    similarity_matrix   the 2B x 2B cosine matrix of [z1; z2] and its positives
    nt_xent_terms       each anchor's NT-Xent term, written out from that matrix
    nt_xent_check       the model's loss, `nt_xent` and those terms' mean side by side
    contrastive_table   per anchor, its positive, its negatives and its loss term
    similarity_figure   the matrix as a heatmap with the positives marked

Notebook 03 imports this module (and `ssl_lib.lab.session`) only: `example_batch` and
`project_views` come with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_lib.models.losses import nt_xent
from ssl_lib.teaching.one_batch import Batch, example_batch, model_losses, project_views

# This module's own functions, then what its notebook uses from the rest of the library (re-exported).
__all__ = [
    "view_labels", "similarity_matrix", "nt_xent_terms", "nt_xent_check", "contrastive_table",
    "similarity_figure",
    "example_batch", "project_views",
]


def view_labels(b: int) -> list[str]:
    """Names of the 2B rows of [z1; z2]: "1·i" is view 1 of image i, "2·i" view 2."""
    return [f"{v}·{i}" for v in (1, 2) for i in range(b)]


def similarity_matrix(z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """The cosine similarities of all 2B views and where the positives are.

    Args:
        z1, z2: (B, D) projections of the two views; row i of both comes from image i.
    Returns:
        sim: (2B, 2B) float64, sim[a, k] = cos(u_a, u_k) for u = [z1; z2] (rows 0..B-1 view 1,
            B..2B-1 view 2); the diagonal is 1.
        positive: (2B, 2B) bool, True at (i, i + B) and (i + B, i), the other view of the same
            image. Every other off-diagonal entry of a row is a negative.
    """
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape (B, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    u = F.normalize(torch.cat([z1, z2]).detach().double().cpu(), dim=1)
    b = z1.shape[0]
    rows = torch.arange(2 * b)
    positive = torch.zeros(2 * b, 2 * b, dtype=torch.bool)
    positive[rows, (rows + b) % (2 * b)] = True
    return u @ u.T, positive


def nt_xent_terms(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """Each anchor's NT-Xent term (2B,) float64, written out from `similarity_matrix`:

        l_a = -log( exp(sim[a, p(a)] / T) / sum_{k != a} exp(sim[a, k] / T) )

    Their mean is `ssl_lib.models.losses.nt_xent(z1, z2, T)`.
    """
    sim, positive = similarity_matrix(z1, z2)
    logits = torch.exp(sim / temperature)
    others = ~torch.eye(sim.shape[0], dtype=torch.bool)
    numerator = logits[positive]  # one positive per row, in row order
    denominator = (logits * others).sum(dim=1)
    return -torch.log(numerator / denominator)


def nt_xent_check(model: nn.Module, batch: Batch, training: bool = True) -> dict[str, float]:
    """A SimCLR model's loss on the batch three ways: the model's own forward pass, the library's
    `nt_xent` on its projections, and the mean of `nt_xent_terms` (the formula written out),
    with the method's temperature; in train (``training``) or eval mode, as `project_views`."""
    z = project_views(model, batch, training)
    temperature = model.method.spec.temperature
    return {"model's loss": model_losses(model, batch, training)["loss"],
            "nt_xent(z1, z2)": float(nt_xent(z["z1"], z["z2"], temperature)),
            "mean of l_a by hand": float(nt_xent_terms(z["z1"], z["z2"], temperature).mean())}


def contrastive_table(z1: Tensor, z2: Tensor, temperature: float) -> pd.DataFrame:
    """One row per anchor of NT-Xent: anchor, positive (names as `view_labels`), the cosine to
    its positive, the mean and the largest cosine to its 2B - 2 negatives, the softmax
    probability the loss gives the positive (among the 2B - 1 other views) and the loss term."""
    sim, positive = similarity_matrix(z1, z2)
    labels = view_labels(z1.shape[0])
    negative = ~positive & ~torch.eye(sim.shape[0], dtype=torch.bool)
    terms = nt_xent_terms(z1, z2, temperature)
    neg = sim.masked_fill(~negative, float("nan"))
    return pd.DataFrame({
        "anchor": labels,
        "positive": [labels[int(j)] for j in positive.float().argmax(dim=1)],
        "cos positive": sim[positive].numpy(),
        "cos negatives (mean)": np.nanmean(neg.numpy(), axis=1),
        "cos negatives (max)": np.nanmax(neg.numpy(), axis=1),
        "p(positive)": torch.exp(-terms).numpy(),
        "loss term": terms.numpy(),
    })


def similarity_figure(sim: Tensor, positive: Tensor, title: str = "cosine similarity of the 2B views"):
    """A plotly heatmap of the (2B, 2B) `similarity_matrix` with the positives circled."""
    import plotly.express as px

    labels = view_labels(sim.shape[0] // 2)
    fig = px.imshow(sim.numpy(), x=labels, y=labels, zmin=-1, zmax=1, color_continuous_scale="RdBu_r",
                    text_auto=".2f", title=title)
    rows, cols = positive.nonzero(as_tuple=True)
    fig.add_scatter(x=[labels[c] for c in cols.tolist()], y=[labels[r] for r in rows.tolist()], mode="markers",
                    marker=dict(symbol="circle-open", size=22, color="black", line=dict(width=2)), name="positive")
    fig.update_layout(height=520, width=600)
    return fig
