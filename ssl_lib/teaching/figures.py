"""Plotly figures of images: grids of views, as PNG sources (notebook 01 and the explorer).

Figures are plain `plotly.graph_objects.Figure`s rendered with the "plotly_mimetype" renderer:
interactive in JupyterLab, stored as JSON in executed notebooks, and drawn in the HTML report
(`ssl_lib.lab.html_report` adds one shared plotly.min.js); `ssl_lib.lab.session.start` sets the
renderer up.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


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
