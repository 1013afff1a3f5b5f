"""The pretraining engine end to end on tiny synthetic runs (CPU)."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from ssl_lib.data import make_synthetic
from ssl_lib.train.config import TrainConfig
from ssl_lib.train.cli import config_from_args, main
from ssl_lib.train.engine import TrainingDiverged, train
from ssl_lib.train.run_dir import RunDir

TINY = dict(n_train=96, n_val=32, batch_size=32, epochs=2, backbone_width=8, proj_hidden=32, proj_dim=16,
            pred_hidden=16, queue_size=64, knn_k=5, warmup_epochs=0.5, progress=False)


def tiny(tmp_path, **changes) -> TrainConfig:
    return TrainConfig(**{**TINY, "output_dir": str(tmp_path / "run"), **changes}).validate()


def knn_top1_by_hand(backbone, bank, bank_labels, queries, query_labels, k, temperature):
    """Weighted cosine kNN (InstDisc / MoCo monitor), one query at a time: the k most
    cosine-similar bank images vote for their class with weight exp(cos / T); ties go to the
    lower class. Images uint8; the backbone in eval mode."""
    backbone.eval()
    with torch.no_grad():
        unit = lambda images: F.normalize(backbone(images.float() / 255).double(), dim=1)
        similarity = unit(queries) @ unit(bank).T
    correct = 0
    for row, label in zip(similarity, query_labels.tolist()):
        top = row.topk(min(k, len(bank)))
        votes = {}
        for cos, j in zip(top.values.tolist(), top.indices.tolist()):
            votes[int(bank_labels[j])] = votes.get(int(bank_labels[j]), 0.0) + math.exp(cos / temperature)
        correct += max(sorted(votes), key=votes.get) == label
    return correct / len(query_labels)


@pytest.mark.parametrize("method, recipe", [("simclr", "simclr"), ("byol", "byol"), ("mocov2", "mocov2")])
def test_a_run_writes_metrics_checkpoint_and_backbone(tmp_path, method, recipe):
    cfg = tiny(tmp_path, method=method, recipe=recipe)
    last = train(cfg)
    run = tmp_path / "run"
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2] and lines[-1] == last
    assert all("knn_top1" in l and l["loss"] > 0 for l in lines)
    assert sorted(p.name for p in run.iterdir()) == ["backbone.pt", "checkpoint.pt", "config.json", "metrics.jsonl"]
    backbone = RunDir(run).load_backbone()
    assert backbone(torch.rand(2, 3, 32, 32)).shape == (2, backbone.feature_dim)
    # The last kNN score is the saved backbone's: bank = the first n_val training images,
    # queries = the validation split, both labelled by `monitor_label` (shape).
    train_images, train_labels = make_synthetic(cfg.n_train, 32, cfg.data_seed, "train", dtype=torch.uint8)
    val_images, val_labels = make_synthetic(cfg.n_val, 32, cfg.data_seed, "val", dtype=torch.uint8)
    expected = knn_top1_by_hand(backbone, train_images[:cfg.n_val], train_labels["shape"][:cfg.n_val], val_images,
                                val_labels["shape"], cfg.knn_k, cfg.knn_temperature)
    assert last["knn_top1"] == pytest.approx(expected, abs=1e-9)


def test_resume_equals_an_uninterrupted_run(tmp_path):
    full = tiny(tmp_path / "a", method="byol", recipe="byol", epochs=3)
    train(full)
    part = tiny(tmp_path / "b", method="byol", recipe="byol", epochs=3)
    with pytest.raises(KeyboardInterrupt):
        _interrupt_after_epochs(part, 2)
    train(part, resume=True)
    a = torch.load(tmp_path / "a/run/checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "b/run/checkpoint.pt", weights_only=True)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    metrics = lambda d: [json.loads(l)["loss"] for l in (d / "run/metrics.jsonl").read_text().splitlines()]
    assert metrics(tmp_path / "a") == metrics(tmp_path / "b")


def _interrupt_after_epochs(cfg, epochs):
    """Run `cfg` and stop it (as Ctrl-C would) once `epochs` checkpoints exist."""
    import ssl_lib.train.engine as engine

    original, count = engine.knn_monitor, [0]

    def knn_then_maybe_stop(*args):
        count[0] += 1
        if count[0] > epochs:
            raise KeyboardInterrupt
        return original(*args)

    engine.knn_monitor = knn_then_maybe_stop
    try:
        train(cfg)
    finally:
        engine.knn_monitor = original


def test_resume_after_moving_the_run_folder(tmp_path):
    import shutil

    part = tiny(tmp_path / "before", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        _interrupt_after_epochs(part, 1)
    shutil.move(tmp_path / "before", tmp_path / "after")  # e.g. the checkout moved
    last = train(tiny(tmp_path / "after", epochs=2), resume=True)
    assert last["epoch"] == 2


def test_resume_refuses_a_different_config(tmp_path):
    train(tiny(tmp_path, epochs=1))
    with pytest.raises(ValueError, match=r"config fields \['base_lr'\] differ"):
        train(tiny(tmp_path, epochs=1, base_lr=1.0), resume=True)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, epochs=3)
    import ssl_lib.models.methods as methods

    original, calls = methods.SimCLR.forward, [0]

    def forward(self, *args):
        out = original(self, *args)
        calls[0] += 1
        if calls[0] > 4:  # epoch 2 of 3 steps per epoch
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(methods.SimCLR, "forward", forward)
    with pytest.raises(TrainingDiverged, match="loss is nan at epoch 2"):
        train(cfg)
    state = torch.load(tmp_path / "run/checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1
    assert not (tmp_path / "run/backbone.pt").exists()


@pytest.mark.parametrize("changes, field", [
    (dict(method="swav"), "method"), (dict(epochs=0), "epochs"), (dict(batch_size=-1), "batch_size"),
    (dict(recipe="strong"), "recipe"), (dict(dataset="cifar10"), "data_root"), (dict(image_size=48), "image_size"),
    (dict(warmup_epochs=5, epochs=2), "warmup_epochs"), (dict(momentum_tau=1.5), "momentum_tau"),
])
def test_invalid_configs_fail_before_training_naming_the_field(tmp_path, changes, field):
    with pytest.raises(ValueError, match=field):
        train(TrainConfig(**{**TINY, "output_dir": str(tmp_path / "run"), **changes}))
    assert not (tmp_path / "run").exists()


def test_cli_flags_map_to_config_fields(tmp_path, capsys):
    cfg, resume = config_from_args(["--method", "byol", "--epochs", "3", "--proj-hidden", "64", "--no-progress",
                                    "--resume"])
    assert (cfg.method, cfg.epochs, cfg.proj_hidden, cfg.progress, resume) == ("byol", 3, 64, False, True)
    (tmp_path / "c.json").write_text(json.dumps({"method": "vicreg", "epochs": 7}))
    cfg, _ = config_from_args(["--config", str(tmp_path / "c.json"), "--epochs", "2"])
    assert (cfg.method, cfg.epochs) == ("vicreg", 2)
    assert main(["--method", "swav"]) == 2
    assert "TrainConfig.method='swav'" in capsys.readouterr().err


def test_torchrun_two_cpu_processes(tmp_path):
    """The DDP path end to end: torchrun, gloo, sharded global batches, gathered SimCLR negatives."""
    out = tmp_path / "ddp"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items() if k != "progress"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "ssl_lib.pretrain", *flags, "--epochs=1", "--no-progress", f"--output-dir={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads((out / "metrics.jsonl").read_text())
    assert line["step"] == 3 and line["loss"] > 0


def test_real_dataset_path_stl10_train_plus_unlabeled(tmp_path, monkeypatch):
    """The gpu profile's data path (STL-10 "train+unlabeled" through make_loader, kNN monitor on
    the labelled splits), on tiny files in STL-10's binary format."""
    import functools

    import numpy as np

    from ssl_lib.train import engine
    from tests.data.test_datasets import write_atomic

    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "stl10_binary"
    for name, n in (("train", 16), ("unlabeled", 16), ("test", 16)):
        write_atomic(folder / f"{name}_X.bin", rng.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8).tobytes())
    for name in ("train", "test"):
        write_atomic(folder / f"{name}_y.bin", rng.integers(1, 11, size=16, dtype=np.uint8).tobytes())
    # home-made files fail the md5 check that protects real downloads
    monkeypatch.setattr(engine, "load_dataset", functools.partial(engine.load_dataset, verify=False))
    # n_val 16 = every image of the tiny labelled splits, so the monitor uses them all
    cfg = tiny(tmp_path, dataset="stl10", data_root=str(tmp_path / "data"), image_size=32, batch_size=8,
               n_val=16, epochs=1, num_workers=0)
    last = train(cfg)
    assert last["step"] == 4  # 32 images of train + unlabeled, batches of 8
    assert last["loss"] > 0
    backbone = RunDir(tmp_path / "run").load_backbone()
    # The kNN monitor: the labelled "train" split as the bank (not "unlabeled"), "test" as queries.
    import torchvision.transforms.v2 as T

    transform = T.Compose([T.Resize(32), T.CenterCrop(32), T.PILToTensor()])
    split = lambda name: list(zip(*engine.load_dataset("stl10", tmp_path / "data", name, transform=transform)))
    bank, bank_labels = split("train")
    queries, query_labels = split("test")
    expected = knn_top1_by_hand(backbone, torch.stack(bank), torch.tensor(bank_labels), torch.stack(queries),
                                torch.tensor(query_labels), cfg.knn_k, cfg.knn_temperature)
    assert last["knn_top1"] == pytest.approx(expected, abs=1e-9)
