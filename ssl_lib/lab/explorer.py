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

import math

import pandas as pd
import torch
from torch import Tensor

from ssl_lib.augment import AUGSELF_OUTPUTS, AugmentPipeline, AugParams, augself_targets, descriptor_columns, recipe

# One control per setting: (kind, default = the identity, min, max, step). "crop_*" describe a
# box by its area fraction, aspect ratio (w / h) and centre (fractions of the source).
CONTROLS = {
    "crop_scale": ("float", 1.0, 0.05, 1.0, 0.01),  # below 0.08: integer boxes of small images round down
    "crop_ratio": ("float", 1.0, 0.5, 2.0, 0.01),
    "crop_cy": ("float", 0.5, 0.0, 1.0, 0.01),
    "crop_cx": ("float", 0.5, 0.0, 1.0, 0.01),
    "flip": ("bool", False, None, None, None),
    "brightness": ("float", 1.0, 0.0, 2.0, 0.05),
    "contrast": ("float", 1.0, 0.0, 2.0, 0.05),
    "saturation": ("float", 1.0, 0.0, 2.0, 0.05),
    "hue": ("float", 0.0, -0.5, 0.5, 0.01),
    "grayscale": ("bool", False, None, None, None),
    "blur_sigma": ("float", 0.0, 0.0, 2.0, 0.05),  # 0 = no blur
    "solarize": ("bool", False, None, None, None),
    "solarize_threshold": ("float", 0.5, 0.0, 1.0, 0.01),  # used when "solarize" is on
    "rotation_k": ("int", 0, 0, 3, 1),
}
# Colour jitter's op order (0 brightness, 1 contrast, 2 saturation, 3 hue); not a slider.
DEFAULT_ORDER = (0, 1, 2, 3)


def identity_settings() -> dict:
    """Settings under which every op is the identity (the view is the clean image)."""
    settings = {name: spec[1] for name, spec in CONTROLS.items()}
    settings["jitter_order"] = DEFAULT_ORDER
    return settings


def full_settings(settings: dict) -> dict:
    """All settings, defaults filled in; ValueError naming unknown or out-of-range ones."""
    unknown = sorted(set(settings) - set(CONTROLS) - {"jitter_order"})
    if unknown:
        raise ValueError(f"unknown explorer setting(s) {unknown}; known: {[*CONTROLS, 'jitter_order']}")
    full = {**identity_settings(), **settings}
    for name, (kind, _, low, high, _) in CONTROLS.items():
        if kind != "bool" and not low - 1e-9 <= full[name] <= high + 1e-9:
            raise ValueError(f"explorer setting {name}={full[name]} is outside [{low}, {high}]")
    if sorted(full["jitter_order"]) != [0, 1, 2, 3]:
        raise ValueError(f"jitter_order must be a permutation of 0..3, got {full['jitter_order']}")
    return full


def crop_box(settings: dict, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, h, w) in source pixels of the crop the settings describe, kept inside the image."""
    area = settings["crop_scale"] * height * width
    h = min(height, max(1, round(math.sqrt(area / settings["crop_ratio"]))))
    w = min(width, max(1, round(math.sqrt(area * settings["crop_ratio"]))))
    top = min(max(0, round(settings["crop_cy"] * height - h / 2)), height - h)
    left = min(max(0, round(settings["crop_cx"] * width - w / 2)), width - w)
    return top, left, h, w


def params_from_settings(settings: dict, batch: int, source_size, pipeline: AugmentPipeline,
                         device="cpu") -> AugParams:
    """The AugParams (B = batch, every row the same) that the settings describe.

    The pipeline's config supplies the jitter normalisation ranges (for the descriptor and the
    AugSelf targets), so the numbers match what that recipe would record for the same draw.
    """
    s = full_settings(settings)
    height, width = (int(v) for v in source_size)
    rows = lambda values, dtype=torch.float32: torch.tensor(values, dtype=dtype, device=device).expand(batch, -1).clone()
    flags = lambda value: torch.full((batch,), bool(value), device=device)
    factors = [s["brightness"], s["contrast"], s["saturation"], s["hue"]]
    cfg = pipeline.config
    span = [high - low for low, high in cfg.jitter_ranges]
    return AugParams(
        crop_box=rows(crop_box(s, height, width), torch.long),
        source_size=rows((height, width), torch.long),
        flip=flags(s["flip"]),
        # The jitter flag follows the factors: a view whose factors are all the identity was
        # not jittered, and its colour descriptor is then 0, as for a skipped jitter.
        jitter_applied=flags(factors != [1.0, 1.0, 1.0, 0.0]),
        jitter_factors=rows(factors),
        jitter_order=rows(tuple(s["jitter_order"]), torch.long),
        jitter_range=rows(span),
        grayscale=flags(s["grayscale"]),
        blur_sigma=torch.full((batch,), float(s["blur_sigma"]), device=device),
        solarize=flags(s["solarize"]),
        # as a recipe records it: the threshold where solarized, 1.0 where not
        solarize_threshold=torch.full((batch,), float(s["solarize_threshold"]) if s["solarize"] else 1.0,
                                      device=device),
        rotation_k=torch.full((batch,), int(s["rotation_k"]), dtype=torch.long, device=device),
        color_shift=torch.zeros(batch, 3, device=device),
    )


def settings_from_params(params: AugParams, index: int = 0) -> dict:
    """The settings of row ``index`` of recorded params (inverse of `params_from_settings`)."""
    p = params[index]
    top, left, h, w = (int(v) for v in p.crop_box[0])
    src_h, src_w = (int(v) for v in p.source_size[0])
    b, c, s, hue = (float(v) for v in p.jitter_factors[0])
    return {
        "crop_scale": h * w / (src_h * src_w), "crop_ratio": w / h,
        "crop_cy": (top + h / 2) / src_h, "crop_cx": (left + w / 2) / src_w,
        "flip": bool(p.flip[0]), "brightness": b, "contrast": c, "saturation": s, "hue": hue,
        "grayscale": bool(p.grayscale[0]), "blur_sigma": float(p.blur_sigma[0]),
        "solarize": bool(p.solarize[0]),
        "solarize_threshold": float(p.solarize_threshold[0]) if bool(p.solarize[0]) else CONTROLS["solarize_threshold"][1],
        "rotation_k": int(p.rotation_k[0]),
        "jitter_order": tuple(int(v) for v in p.jitter_order[0]),
    }


def apply_settings(images: Tensor, settings: dict, recipe_name: str = "mocov2", size=None) -> tuple[Tensor, AugParams]:
    """Views of (B, 3, H, W) images under the settings, through `recipe_name`'s pipeline at
    output ``size`` (default: the input side). Returns views (B, 3, size, size) and params."""
    pipeline = recipe(recipe_name, size or images.shape[-1])
    params = params_from_settings(settings, images.shape[0], images.shape[-2:], pipeline, images.device)
    return pipeline.replay(images, params)


def random_settings(recipe_name: str = "mocov2", source_size=(96, 96), generator: torch.Generator | None = None) -> dict:
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
        names = ("class",) if group == "rotation" else AUGSELF_OUTPUTS[group]  # rotation's target is a class
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

    from ssl_lib.lab.figures import views_figure

    generator = torch.Generator().manual_seed(seed)
    controls = {}
    for name, (kind, default, low, high, step) in CONTROLS.items():
        if kind == "bool":
            controls[name] = W.Checkbox(value=default, description=name)
        elif kind == "int":
            controls[name] = W.IntSlider(value=default, min=low, max=high, step=step, description=name)
        else:
            controls[name] = W.FloatSlider(value=default, min=low, max=high, step=step, description=name,
                                           continuous_update=False, readout_format=".2f")
    source = W.Dropdown(options=list(sources), description="images")
    preset = W.Dropdown(options=list(recipes), description="recipe")
    randomize = W.Button(description="random", tooltip="draw view 1 and view 2 from the recipe")
    reset = W.Button(description="identity")
    out = W.Output()
    state = {"order": DEFAULT_ORDER, "view2": None, "hold": False}

    def redraw(*_):
        if state["hold"]:  # setting many controls at once: draw once at the end
            return
        images = sources[source.value]
        pipeline = recipe(preset.value, images.shape[-1])
        settings = {n: c.value for n, c in controls.items()} | {"jitter_order": state["order"]}
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
        state.update(order=settings.pop("jitter_order"), view2=None)
        set_controls(settings)

    def on_reset(_):
        settings = identity_settings()
        state["order"] = settings.pop("jitter_order")
        set_controls(settings)

    def set_controls(settings):
        state["hold"] = True
        try:
            for name, value in settings.items():
                control = controls[name]
                # A recipe can draw beyond a slider's range (e.g. SimCLR's brightness up to 1.8
                # fits, its crop ratio may not after rounding): clip to what the slider shows.
                control.value = value if isinstance(control, W.Checkbox) else max(control.min, min(control.max, value))
        finally:
            state["hold"] = False
        redraw()

    for widget in [*controls.values(), source]:
        widget.observe(redraw, names="value")
    preset.observe(lambda change: (state.update(view2=None), redraw()), names="value")
    randomize.on_click(on_random)
    reset.on_click(on_reset)
    redraw()
    sliders = W.GridBox(list(controls.values()), layout=W.Layout(grid_template_columns="repeat(3, 1fr)"))
    return W.VBox([W.HBox([source, preset, randomize, reset]), sliders, out])
