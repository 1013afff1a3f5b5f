"""The augmentations and what they record: the numbers notebook 01 shows a student.

    recipe_statistics   how often each recipe applies each op and how large AugSelf's targets are

Notebook 01 imports this module (and `ssl_lib.lab.session`) only: the recipes, the fixed-strength
transforms, the photographs, CASSLE's descriptor columns, AugSelf's targets, the image figures
and the explorer (`explorer`, a module) come with it.
"""

from __future__ import annotations

import pandas as pd
import torch

from ssl_lib.augment import RECIPES, augself_targets, descriptor_columns, recipe, recipe_settings
from ssl_lib.data import sample_photos
from ssl_lib.evaluation.invariance import apply_transform, default_grids
from ssl_lib.teaching import explorer
from ssl_lib.teaching.figures import views_figure

# This module's own functions, then what its notebook uses from the rest of the library (re-exported).
__all__ = [
    "recipe_statistics",
    "RECIPES", "recipe", "recipe_settings", "augself_targets", "descriptor_columns", "sample_photos",
    "apply_transform", "default_grids", "views_figure", "explorer",
]


def recipe_statistics(size: int, n_draws: int, generator: torch.Generator | None = None) -> pd.DataFrame:
    """Per recipe, over `n_draws` draws of two views of a (size, size) image: the mean crop area
    fraction, the fraction of views flipped / jittered / grey / blurred / solarized, and the mean
    absolute AugSelf crop and colour target. One row per recipe (index "recipe")."""
    stats = []
    for name in RECIPES:
        pipe = recipe(name, size)
        a = pipe.sample(n_draws, (size, size), generator=generator)
        b = pipe.sample(n_draws, (size, size), generator=generator)
        targets = augself_targets(a, b, groups=("crop", "color"))
        stats.append(dict(
            recipe=name,
            crop_area=float(a.crop_vector()[:, 2:].prod(dim=1).mean()),
            p_flip=float(a.flip.float().mean()),
            p_jitter=float(a.jitter_applied.float().mean()),
            p_grayscale=float(a.grayscale.float().mean()),
            p_blur=float((a.blur_sigma > 0).float().mean()),
            p_solarize=float(a.solarize.float().mean()),
            crop_target_abs=float(targets["crop"].abs().mean()),
            colour_target_abs=float(targets["color"].abs().mean()),
        ))
    return pd.DataFrame(stats).set_index("recipe")
