"""Downstream linear evaluation on real datasets: split carving, loading real-format files, the probe table."""

import numpy as np
import pytest
import torch

from ssl_lib.evaluation.downstream import PAPER_SETS, DownstreamData, carve, downstream_table, load_downstream
from tests.data.test_datasets import write_cifar


def test_carve_is_a_fixed_disjoint_cover():
    val, test, train = carve(103, (0.1, 0.2), seed=3)
    assert (len(val), len(test), len(train)) == (10, 20, 73)
    assert sorted(torch.cat([val, test, train]).tolist()) == list(range(103))
    assert all(torch.equal(a, b) for a, b in zip(carve(103, (0.1, 0.2), seed=3), (val, test, train)))
    assert not torch.equal(carve(103, (0.1, 0.2), seed=4)[0], val)
    with pytest.raises(ValueError, match="fractions"):
        carve(10, (0.6, 0.5))


def test_cifar10_files_load_as_train_val_test_tensors(tmp_path):
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    written = write_cifar(tmp_path, "cifar-10-batches-py", batches + ["test_batch"], "labels", "batches.meta",
                          "label_names", 10, np.random.default_rng(0))
    data = load_downstream("CIFAR-10", tmp_path, image_size=16, val_fraction=0.2, verify=False)
    assert {k: len(v) for k, v in data.labels.items()} == {"train": 12, "val": 3, "test": 3}
    assert data.images["train"].shape == (12, 3, 16, 16) and data.images["train"].dtype == torch.uint8
    # val is carved from train (a fixed draw): together they are the 15 training images' labels
    train_labels = sum((written[b][1] for b in batches), [])
    val, train = carve(15, (0.2,), seed=0)
    assert data.labels["val"].tolist() == [train_labels[i] for i in val]
    assert data.labels["test"].tolist() == written["test_batch"][1]
    small = load_downstream("cifar10", tmp_path, image_size=16, max_per_split=2, val_fraction=0.2, verify=False)
    assert {k: len(v) for k, v in small.labels.items()} == {"train": 2, "val": 2, "test": 2}
    with pytest.raises(ValueError, match="not a downstream dataset"):
        load_downstream("stl10", tmp_path, image_size=16)


def test_table_reports_the_papers_metric_per_dataset():
    g = torch.Generator().manual_seed(0)
    # 3 unbalanced classes, separable along the first feature
    labels = {s: torch.tensor([0] * 40 + [1] * 8 + [2] * 4) for s in ("train", "val", "test")}
    features = {s: torch.randn(52, 6, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 6).float() * 3
                for s, y in labels.items()}
    for name, paper in (("flowers102", "balanced"), ("cifar10", "top1")):
        table = downstream_table(features, DownstreamData(name, {}, labels), model="m", l2_grid=(1e-2,), seed=5)
        values = table.set_index("metric").value
        assert values["top1"] == pytest.approx(1.0) and values["paper"] == values[paper]
        assert set(table.task) == {name} and set(table.seed) == {5}
    with pytest.raises(ValueError, match="lack split"):
        downstream_table({"train": features["train"]}, DownstreamData("dtd", {}, labels), model="m")


def test_downstream_tables_probe_each_run_once(tmp_path, monkeypatch):
    import dataclasses

    from ssl_lib.evaluation import downstream
    from ssl_lib.lab import experiments
    from ssl_lib.lab.profiles import resolve

    P = resolve("smoke", seeds=[0], runs_root=str(tmp_path / "runs"))
    P = dataclasses.replace(P, train={**P.train, "n_train": 128, "n_val": 64})
    runs = experiments.train_experiments(P, [experiments.get("SimCLR")], log=None)
    write_cifar(tmp_path / "data", "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"],
                "labels", "batches.meta", "label_names", 10, np.random.default_rng(0))
    data = load_downstream("cifar10", tmp_path / "data", image_size=32, val_fraction=0.2, verify=False)
    first = experiments.downstream_tables(P, runs, data)
    assert set(first.metric) == {"top1", "balanced", "paper"} and set(first.task) == {"cifar10"}
    assert len(list((tmp_path / "runs").glob("*/downstream-cifar10-*.csv"))) == 1

    def no_probe(*args, **kwargs):
        raise AssertionError("probed a run whose table is cached")

    monkeypatch.setattr(downstream, "downstream_table", no_probe)
    again = experiments.downstream_tables(P, runs.assign(model="renamed"), data)
    assert again.value.tolist() == pytest.approx(first.value.tolist()) and set(again.model) == {"renamed"}


def test_mit67_is_a_downstream_set_with_a_validation_split_carved_from_train(tmp_path):
    from tests.data.test_datasets import write_mit67

    train = [f"{c}/{c[0]}{i}.jpg" for c in ("bakery", "kitchen") for i in range(10)]
    write_mit67(tmp_path, {"train": train, "test": ["bakery/t1.jpg", "kitchen/t2.jpg"]})
    data = load_downstream("mit67", tmp_path, image_size=8, val_fraction=0.2)
    assert "mit67" in PAPER_SETS and data.name == "mit67"
    assert {s: len(y) for s, y in data.labels.items()} == {"train": 16, "val": 4, "test": 2}
    assert data.images["test"].shape == (2, 3, 8, 8) and data.labels["test"].tolist() == [0, 1]
