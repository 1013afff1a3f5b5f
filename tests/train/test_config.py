"""TrainConfig / ModelConfig validation: every field is type-checked against its annotation."""

import math

import pytest

from ssl_lib.models.augself import parse_groups
from ssl_lib.models.config import ModelConfig
from ssl_lib.train.config import TrainConfig


@pytest.mark.parametrize("values, field", [
    ({"cassle": "false"}, "cassle"),          # a string is not a bool (it would be truthy)
    ({"progress": 1}, "progress"),
    ({"epochs": "1"}, "epochs"),
    ({"epochs": 1.0}, "epochs"),
    ({"backbone_width": True}, "backbone_width"),  # bool is an int subclass, not an int here
    ({"proj_hidden": 1.5}, "proj_hidden"),
    ({"base_lr": math.inf}, "base_lr"),
    ({"base_lr": "0.1"}, "base_lr"),
    ({"weight_decay": math.nan}, "weight_decay"),
    ({"warmup_epochs": math.nan}, "warmup_epochs"),
    ({"temperature": -math.inf}, "temperature"),
    ({"knn_temperature": math.nan}, "knn_temperature"),
    ({"method": 3}, "method"),
    ({"data_root": 5}, "data_root"),
    ({"device": "cdua"}, "device"),
])
def test_a_wrong_type_or_non_finite_value_is_refused_naming_the_field(values, field):
    with pytest.raises((ValueError, TypeError), match=rf"TrainConfig\.{field}\b"):
        TrainConfig.from_dict(values)


def test_ints_are_accepted_for_floats_and_none_for_optional_fields():
    cfg = TrainConfig.from_dict({"base_lr": 1, "warmup_epochs": 0, "temperature": None, "data_root": None,
                                 "device": "cpu"})
    assert cfg.base_lr == 1 and cfg.temperature is None


def test_model_config_checks_its_own_fields():
    with pytest.raises(TypeError, match=r"ModelConfig\.cassle must be bool, got 'yes'"):
        ModelConfig(cassle="yes").validate()


def test_duplicated_augself_groups_are_refused():
    with pytest.raises(ValueError, match="'crop' more than once"):
        parse_groups("crop:1,crop:5")
    with pytest.raises(ValueError, match="augself.*'crop' more than once"):
        TrainConfig(augself="crop, color, crop").validate()
    assert parse_groups("crop:0.5,color") == {"crop": 0.5, "color": 1.0}
