"""Transfer table: every task present, and probes read the factor they are asked about."""

import math

import pytest
import torch

from ssl_lib.evaluation.transfer import CLASSIFICATION_TASKS, REGRESSION_TASKS, headline, regression_targets, transfer_data, transfer_table


@pytest.fixture(scope="module")
def data():
    return transfer_data(300, 150, 300, size=32, seed=3)


def one_hot_features(data, task):
    """Features that encode one label perfectly (one-hot) plus noise: an oracle for that task."""
    g = torch.Generator().manual_seed(0)
    out = {}
    for split, labels in data.labels.items():
        y = labels[task]
        onehot = torch.nn.functional.one_hot(y, int(y.max()) + 1 if task != "shape" else 8).float()
        out[split] = torch.cat([onehot, 0.1 * torch.randn(len(y), 6, generator=g)], dim=1)
    return out


def test_table_covers_every_task_and_an_oracle_feature_wins_its_task(data):
    grid = [1e-4, 1e-2, 1.0]
    table = transfer_table(one_hot_features(data, "shape"), data, model="oracle", l2_grid=grid, few_shot_episodes=20)
    h = headline(table)
    assert set(CLASSIFICATION_TASKS) | set(REGRESSION_TASKS) | {"shape 1-shot", "shape 5-shot"} == set(h.columns)
    assert h.loc["oracle", "shape"] > 0.98
    assert h.loc["oracle", "color"] < 0.5  # the shape oracle knows nothing about colour
    assert h.loc["oracle", "shape 5-shot"] > 0.9


def test_regression_targets_are_seamless_for_circular_latents(data):
    labels = data.labels["train"]
    angle = regression_targets(labels, "angle")
    assert angle.shape == (300, 2) and torch.allclose(angle.norm(dim=1), torch.ones(300), atol=1e-5)
    assert torch.allclose(regression_targets({"angle": torch.tensor([math.pi - 1e-4])}, "angle"),
                          regression_targets({"angle": torch.tensor([-math.pi + 1e-4])}, "angle"), atol=1e-3)
    assert regression_targets(labels, "x").shape == (300, 1)


def test_missing_split_is_an_error(data):
    with pytest.raises(ValueError, match=r"lack split\(s\) \['test'\]"):
        transfer_table({"train": torch.zeros(3, 2), "val": torch.zeros(3, 2)}, data, model="m")
