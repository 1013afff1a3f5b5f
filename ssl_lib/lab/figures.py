"""Plotly figures shared by the notebooks: image grids and the renderer set-up.

Figures are plain `plotly.graph_objects.Figure`s rendered with the "plotly_mimetype" renderer:
interactive in JupyterLab, stored as JSON in executed notebooks, and drawn in the HTML report
(`ssl_lib.reproduce.notebook_to_html` adds the HTML and one shared plotly.min.js).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def setup(template: str = "plotly_white") -> None:
    """Use the mimetype renderer (JupyterLab, VS Code, the report) and a light template."""
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype"
    pio.templates.default = template


def _to_uint8_hwc(images: Tensor, size: int) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, size, size, 3) uint8, resized if needed."""
    images = images.detach().float().cpu()
    if images.shape[-1] != size or images.shape[-2] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def png_source(image: np.ndarray) -> str:
    """A (H, W, 3) uint8 image as a PNG data URI: a figure stores kilobytes, not a list of
    H * W * 3 numbers."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def views_figure(columns: dict[str, Tensor], row_labels=None, size: int | None = None, cell: int = 110,
                 title: str | None = None):
    """A grid of images: one column per entry of ``columns`` (title -> (N, 3, H, W) in [0, 1]),
    one row per image index. Images are shown at a common ``size`` (default: the largest side).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(columns)
    n = {columns[k].shape[0] for k in names}
    if len(n) != 1:
        raise ValueError(f"every column needs the same number of images, got {[columns[k].shape[0] for k in names]}")
    n = n.pop()
    size = size or max(columns[k].shape[-1] for k in names)
    arrays = {k: _to_uint8_hwc(columns[k], size) for k in names}
    fig = make_subplots(rows=n, cols=len(names), column_titles=names, row_titles=row_labels,
                        horizontal_spacing=0.01, vertical_spacing=0.01)
    for j, name in enumerate(names):
        for i in range(n):
            fig.add_trace(go.Image(source=png_source(arrays[name][i])), row=i + 1, col=j + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=cell * n + 60, width=cell * len(names) + 80, margin=dict(l=10, r=40, t=50, b=10),
                      title=title)
    return fig


VERDICT_COLORS = {"reproduced": "#2e7d32", "not reproduced": "#c62828", "cannot show here": "#8e8e8e",
                  "inconclusive": "#ef8f00"}


def claims_forest(claims, title: str = "Every claim: paired difference (favouring the claim) with its 95% interval"):
    """A forest plot of a claims table (`ssl_lib.lab.verdicts.claims_table`, ``notebook`` column
    optional): one row per claim grouped by paper, the mean paired difference with its 95%
    interval coloured by verdict, the detectable effect as an open diamond, zero as a line."""
    import plotly.graph_objects as go

    from ssl_lib.lab.verdicts import VERDICTS, claim_numbers

    claims = claims.reset_index(drop=True)
    numbers = claim_numbers(claims)
    prefix = claims["notebook"].str[:2] + " " if "notebook" in claims else ""
    labels = (prefix + claims["paper"] + ": " + claims["claim"] + " (" + claims["quantity"] + ")").tolist()
    order = claims.sort_values("paper", kind="stable").index.tolist()[::-1]  # first claim on top
    fig = go.Figure()
    for verdict in VERDICTS:
        rows = [i for i in order if claims.verdict[i] == verdict]
        if not rows:
            continue
        n = numbers.loc[rows]
        fig.add_trace(go.Scatter(
            x=n.diff_mean, y=[labels[i] for i in rows], mode="markers", name=verdict,
            marker=dict(color=VERDICT_COLORS[verdict], size=9),
            error_x=dict(type="data", symmetric=False, array=(n.ci_high - n.diff_mean).fillna(0),
                         arrayminus=(n.diff_mean - n.ci_low).fillna(0), color=VERDICT_COLORS[verdict])))
    n = numbers.loc[order]
    fig.add_trace(go.Scatter(x=n.detectable, y=[labels[i] for i in order], mode="markers", name="detectable effect",
                             marker=dict(symbol="diamond-open", color="#555", size=8)))
    fig.add_vline(x=0, line_color="#333", line_width=1)
    fig.update_yaxes(categoryorder="array", categoryarray=[labels[i] for i in order], automargin=True)
    fig.update_layout(title=title, xaxis_title="paired difference (> 0 favours the claim)",
                      height=120 + 26 * len(claims), legend=dict(orientation="h", y=-0.15), margin=dict(l=10, r=10))
    return fig
