"""Evaluation refuses input that would give a plausible but meaningless number: float images
outside [0, 1] and non-finite features."""

import pytest
import torch

from ssl_lib.evaluation.features import extract_features
from ssl_lib.evaluation.few_shot import few_shot_accuracies
from ssl_lib.evaluation.invariance import measure_invariance
from ssl_lib.evaluation.knn import knn_accuracy, knn_predict
from ssl_lib.evaluation.probes import linear_probe, ridge_probe
from ssl_lib.models.backbones import make_backbone
from ssl_lib.utils.checks import as_float_images


def test_float_images_in_0_255_are_refused():
    x = torch.rand(4, 3, 32, 32) * 255
    with pytest.raises(ValueError, match=r"images.*\[0, 1\].*255"):
        as_float_images(x)
    backbone = make_backbone("small_cnn", width=8)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        extract_features(backbone, x)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        measure_invariance(backbone, x, transforms=["flip"])


def test_nan_float_images_are_refused_and_uint8_still_converted():
    x = torch.rand(2, 3, 8, 8)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        as_float_images(x)
    u = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(as_float_images(u), u.float() / 255)


def features(n=40, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.arange(n) % 4


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_knn_refuses_non_finite_features_naming_the_argument(bad):
    x, y = features()
    poisoned = x.clone()
    poisoned[:] = bad
    with pytest.raises(ValueError, match="train_x.*finite"):
        knn_accuracy(poisoned, y, x, y)
    with pytest.raises(ValueError, match="test_x.*finite"):
        knn_predict(x, y, poisoned)


def test_probes_and_few_shot_refuse_non_finite_features():
    x, y = features(60)
    bad = x.clone()
    bad[3, 2] = float("nan")
    splits = {"train": x[:30], "val": x[30:45], "test": bad[45:].clone()}
    splits["test"][0, 0] = float("nan")
    labels = {"train": y[:30], "val": y[30:45], "test": y[45:]}
    with pytest.raises(ValueError, match=r"features\['test'\].*finite"):
        linear_probe(splits, labels, l2_grid=(1.0,))
    with pytest.raises(ValueError, match=r"features\['test'\].*finite"):
        ridge_probe(splits, {k: v.float() for k, v in labels.items()}, l2_grid=(1.0,))
    with pytest.raises(ValueError, match="features.*finite"):
        few_shot_accuracies(bad, y, ways=2, shots=1, queries=2, episodes=2)


def test_bad_weights_shapes_and_types_are_named_before_lbfgs_or_broadcasting_sees_them():
    from ssl_lib.evaluation.probes import r2_score

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 4, generator=g), torch.arange(20) % 2
    with pytest.raises(ValueError, match="l2_grid must be a non-empty sequence of finite non-negative"):
        linear_probe({"train": x, "val": x, "test": x}, {"train": y, "val": y, "test": y}, l2_grid=[float("nan")])
    with pytest.raises(ValueError, match="l2 must be a finite non-negative weight, got -1.0"):
        few_shot_accuracies(x, y, ways=2, shots=1, queries=2, episodes=3, l2=-1.0)
    with pytest.raises(ValueError, match=r"pred and target must both be \(N, K\), got \(10,\) and \(5,\)"):
        r2_score(torch.randn(10), torch.randn(5))
    with pytest.raises(ValueError, match=r"got \(10, 2\) and \(10, 1\)"):  # broadcast would give 2 outputs
        r2_score(torch.randn(10, 2), torch.randn(10, 1))
    with pytest.raises(ValueError, match="temperature must be > 0, got nan"):
        knn_accuracy(x, y, x, y, temperature=float("nan"))
    with pytest.raises(TypeError, match="train_y must be a torch.Tensor, got list"):
        knn_accuracy(x, y.tolist(), x, y)
