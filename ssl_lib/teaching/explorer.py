"""The augmentation explorer of notebook 01: views from FIXED, hand-set parameters.

A recipe draws parameters at random (`AugmentPipeline.sample`); the explorer instead builds an
`AugParams` from a flat dict of settings (one slider or toggle per op) and replays it with the
recipe's pipeline, so the view, the recorded parameters, CASSLE's descriptor and AugSelf's
targets are exactly what training would see for that draw.

    settings = identity_settings() | {"brightness": 1.5, "flip": True}
    views, params = apply_settings(images, settings, "mocov2")        # images (B, 3, H, W)
    settings_from_params(params[0]) == settings  (up to rounding of the crop box)

The widget itself (`build_explorer`) is a thin ipywidgets layer over these functions.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor

from ssl_lib.augment import AugmentPipeline, AugParams, augself_targets, descriptor_columns, ops, recipe

crop_box = ops.crop_box  # (top, left, h, w) of the crop the settings describe


def controls() -> dict[str, ops.Control]:
    """One control per setting, every registered op's (`ssl_lib.augment.ops.Op.controls`): kind,
    default (the identity), min, max, step. "crop_*" describe a box by its area fraction, aspect
    ratio (w / h) and centre (fractions of the source)."""
    return ops.explorer_controls()


def identity_settings() -> dict:
    """Settings under which every op is the identity (the view is the clean image), including the
    ones that are not sliders (colour jitter's op order)."""
    return ops.explorer_defaults()


def full_settings(settings: dict) -> dict:
    """All settings, defaults filled in; ValueError naming unknown or out-of-range ones (each op
    checks the rest, e.g. colour jitter's op order, when `params_from_settings` builds its params)."""
    defaults = identity_settings()
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"unknown explorer setting(s) {unknown}; known: {list(defaults)}")
    full = {**defaults, **settings}
    for name, control in controls().items():
        if control.kind != "bool" and not control.low - 1e-9 <= full[name] <= control.high + 1e-9:
            raise ValueError(f"explorer setting {name}={full[name]} is outside [{control.low}, {control.high}]")
    return full


def params_from_settings(settings: dict, batch: int, source_size, pipeline: AugmentPipeline,
                         device="cpu") -> AugParams:
    """The AugParams (B = batch, every row the same) that the settings describe.

    The pipeline's config supplies the jitter normalisation ranges (for the descriptor and the
    AugSelf targets), so the numbers match what that recipe would record for the same draw.
    """
    s = full_settings(settings)
    size = tuple(int(v) for v in source_size)
    values = {}
    for op in ops.ops():
        values.update(op.from_settings(s, batch, size, pipeline.config, device))
    return AugParams.from_values(values)


def settings_from_params(params: AugParams, index: int = 0) -> dict:
    """The settings of row ``index`` of recorded params (inverse of `params_from_settings`)."""
    row = params[index]
    return {name: value for op in ops.ops() for name, value in op.to_settings(row).items()}


def apply_settings(images: Tensor, settings: dict, recipe_name: str = "mocov2", size=None) -> tuple[Tensor, AugParams]:
    """Views of (B, 3, H, W) images under the settings, through `recipe_name`'s pipeline at
    output ``size`` (default: the input side). Returns views (B, 3, size, size) and params."""
    pipeline = recipe(recipe_name, size or images.shape[-1])
    params = params_from_settings(settings, images.shape[0], images.shape[-2:], pipeline, images.device)
    return pipeline.replay(images, params)


def random_settings(recipe_name: str = "mocov2", source_size=(96, 96),
                    generator: torch.Generator | None = None) -> dict:
    """Settings of one random draw of the recipe (what the explorer's "random" button sets)."""
    pipeline = recipe(recipe_name, source_size[0])
    return settings_from_params(pipeline.sample(1, source_size, generator=generator))


def describe_pair(params1: AugParams, params2: AugParams, index: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Row ``index`` of two views' CASSLE descriptors (one row per dimension, columns view1,
    view2) and AugSelf targets d(t1, t2) (one row per target component)."""
    labels = descriptor_columns()
    desc = pd.DataFrame({"view1": params1.descriptor()[index].tolist(), "view2": params2.descriptor()[index].tolist()},
                        index=pd.Index(labels, name="descriptor"))
    rows = []
    for group, target in augself_targets(params1, params2).items():
        values = target[index].reshape(-1).tolist()
        declared = ops.augself_groups()[group]
        names = ("class",) if declared.loss == "classes" else declared.outputs  # a class index, not logits
        for name, value in zip(names, values):
            rows.append(dict(group=group, component=name, target=float(value)))
    return desc, pd.DataFrame(rows)


# -- the widget ------------------------------------------------------------------------------


def targets_by_group(targets: pd.DataFrame) -> pd.DataFrame:
    """`describe_pair`'s AugSelf targets as one row per group: "component value" pairs, so groups
    of different widths share a table without empty cells."""
    text = targets.groupby("group", sort=False).apply(
        lambda d: ", ".join(f"{c} {v:+.3f}" for c, v in zip(d.component, d.target)), include_groups=False)
    return text.rename("d(view 1, view 2)").to_frame()


class SideBySide:
    """Tables shown next to each other (an HTML flex row), each with its own header."""

    def __init__(self, *tables: pd.DataFrame):
        self.tables = tables

    def to_html(self) -> str:
        cells = "".join(f"<div>{t.to_html()}</div>" for t in self.tables)
        return f'<div style="display:flex;gap:2em;align-items:flex-start">{cells}</div>'

    def __repr__(self) -> str:
        return "\n\n".join(repr(t) for t in self.tables)


def output_bundle(obj) -> dict:
    """An ipywidgets Output entry (a display_data message) for a plotly figure or a table (anything
    with `to_html`): the figure as plotly's JSON mime type (JupyterLab's plotly renderer draws it),
    a table as HTML."""
    import json

    import plotly.io as pio

    if hasattr(obj, "to_plotly_json"):
        data = {"application/vnd.plotly.v1+json": json.loads(pio.to_json(obj, validate=False)),
                "text/plain": f"<plotly figure: {len(obj.data)} traces>"}
    else:
        data = {"text/html": obj.to_html(), "text/plain": repr(obj)}
    return {"output_type": "display_data", "data": data, "metadata": {}}


def build_explorer(sources: dict[str, Tensor], recipes=("mocov2", "simclr", "byol1", "byol2", "spatial", "appearance"),
                   seed: int = 0):
    """An ipywidgets explorer: one control per op, a recipe preset, a "random" button.

    sources: name -> (N, 3, H, W) float images in [0, 1] (e.g. photographs, synthetic scenes).
    View 1 follows the controls; view 2 is a random draw of the preset recipe (redrawn by the
    button), so the AugSelf targets d(view1, view2) are those of a real training pair.
    Returns the widget (display it in JupyterLab; it needs a live kernel).
    """
    import ipywidgets as W

    from ssl_lib.teaching.figures import views_figure

    generator = torch.Generator().manual_seed(seed)
    widgets = {}
    for name, c in controls().items():
        if c.kind == "bool":
            widgets[name] = W.Checkbox(value=c.default, description=name)
        elif c.kind == "int":
            widgets[name] = W.IntSlider(value=c.default, min=c.low, max=c.high, step=c.step, description=name)
        else:
            widgets[name] = W.FloatSlider(value=c.default, min=c.low, max=c.high, step=c.step, description=name,
                                          continuous_update=False, readout_format=".2f")
    source = W.Dropdown(options=list(sources), description="images")
    preset = W.Dropdown(options=list(recipes), description="recipe")
    randomize = W.Button(description="random", tooltip="draw view 1 and view 2 from the recipe")
    reset = W.Button(description="identity")
    out = W.Output()
    hidden = lambda settings: {k: v for k, v in settings.items() if k not in widgets}  # e.g. jitter_order
    state = {"hidden": hidden(identity_settings()), "view2": None, "hold": False}

    def redraw(*_):
        if state["hold"]:  # setting many controls at once: draw once at the end
            return
        images = sources[source.value]
        pipeline = recipe(preset.value, images.shape[-1])
        settings = {n: w.value for n, w in widgets.items()} | state["hidden"]
        params1 = params_from_settings(settings, images.shape[0], images.shape[-2:], pipeline)
        views1, params1 = pipeline.replay(images, params1)
        if state["view2"] is None or len(state["view2"]) != images.shape[0]:
            state["view2"] = pipeline.sample(images.shape[0], images.shape[-2:], generator=generator)
        views2, state["view2"] = pipeline.replay(images, state["view2"])
        desc, targets = describe_pair(params1, state["view2"])
        figure = views_figure({"clean": images, "view 1 (controls)": views1, f"view 2 ({preset.value})": views2})
        # The Output widget's state is set to mime bundles built here, not filled by display
        # calls: plotly's display hook would send a figure to the cell's output instead (and a
        # redraw inside a widget callback nowhere), and `with out:` capture can hang a headless
        # kernel.
        out.outputs = (output_bundle(figure), output_bundle(SideBySide(desc.round(3), targets_by_group(targets))))

    def on_random(_):
        images = sources[source.value]
        settings = random_settings(preset.value, tuple(images.shape[-2:]), generator)
        state.update(hidden=hidden(settings), view2=None)
        set_controls(settings)

    def on_reset(_):
        settings = identity_settings()
        state["hidden"] = hidden(settings)
        set_controls(settings)

    def set_controls(settings):
        state["hold"] = True
        try:
            for name, value in settings.items():
                if name not in widgets:
                    continue
                control = widgets[name]
                # A recipe can draw beyond a slider's range (e.g. SimCLR's brightness up to 1.8
                # fits, its crop ratio may not after rounding): clip to what the slider shows.
                control.value = value if isinstance(control, W.Checkbox) else max(control.min, min(control.max, value))
        finally:
            state["hold"] = False
        redraw()

    for widget in [*widgets.values(), source]:
        widget.observe(redraw, names="value")
    preset.observe(lambda change: (state.update(view2=None), redraw()), names="value")
    randomize.on_click(on_random)
    reset.on_click(on_reset)
    redraw()
    sliders = W.GridBox(list(widgets.values()), layout=W.Layout(grid_template_columns="repeat(3, 1fr)"))
    return W.VBox([W.HBox([source, preset, randomize, reset]), sliders, out])
