"""Notebook 01's statistics of the recipes (ssl_lib/teaching/augmentations.py), against what each
recipe's settings imply."""

import pytest
import torch

from ssl_lib.augment import RECIPES, recipe
from ssl_lib.teaching.augmentations import recipe_statistics


def test_recipe_statistics_follow_the_recipes_settings():
    stats = recipe_statistics(32, 4000, torch.Generator().manual_seed(0))
    assert list(stats.index) == list(RECIPES)
    for name in RECIPES:
        cfg = recipe(name, 32).config
        row = stats.loc[name]
        # a fraction of 4000 Bernoulli draws: within 4 standard errors of the probability
        for column, p in (("p_flip", cfg.flip_p), ("p_jitter", cfg.jitter_p), ("p_grayscale", cfg.grayscale_p),
                          ("p_blur", cfg.blur_p), ("p_solarize", cfg.solarize_p)):
            assert row[column] == pytest.approx(p, abs=4 * (p * (1 - p) / 4000) ** 0.5 + 1e-9), (name, column)
    assert stats.loc["appearance", "crop_area"] == 1.0 and stats.loc["appearance", "crop_target_abs"] == 0.0
    assert stats.loc["spatial", "colour_target_abs"] == 0.0  # no jitter: every colour target is 0
    # RandomResizedCrop's area is uniform in `scale` (before the ten tries' rejections): mean near the middle
    assert 0.45 < stats.loc["simclr", "crop_area"] < 0.6 and 0.5 < stats.loc["mocov2", "crop_area"] < 0.65
