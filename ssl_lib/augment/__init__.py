"""Batched GPU/CPU augmentations that record their per-sample parameters.

    from ssl_lib.augment import recipe, augself_targets
    pipeline = recipe("simclr", 32)
    views, params = pipeline(images)            # images (B, 3, H, W) float in [0, 1]
    params.as_dict()["crop_box"]                # (B, 4) top, left, height, width
    params.descriptor()                         # (B, 13) CASSLE conditioning vector
    augself_targets(params1, params2)           # AugSelf targets per group

Every op (its settings, records, descriptor block, AugSelf target, invariance transform and
explorer control) is declared once in `ssl_lib.augment.ops`.
"""

from ssl_lib.augment import ops
from ssl_lib.augment.params import (
    DEFAULT_DESCRIPTOR_KEYS,
    AugParams,
    augself_outputs,
    augself_targets,
    descriptor_columns,
    descriptor_dim,
    descriptor_layout,
)
from ssl_lib.augment.pipeline import RECIPES, AugmentConfig, AugmentPipeline, recipe, recipe_settings, with_settings

__all__ = [
    "DEFAULT_DESCRIPTOR_KEYS", "RECIPES", "AugParams", "AugmentConfig", "AugmentPipeline", "ops",
    "augself_outputs", "augself_targets", "descriptor_columns", "descriptor_dim", "descriptor_layout", "recipe",
    "recipe_settings", "with_settings",
]
