"""The engine never leaves a wrong run folder: divergence, kills at any point, a reused folder,
two writers (tiny synthetic runs on CPU)."""

import json
import threading
import time

import pytest
import torch

import ssl_lib.train.engine as engine
from ssl_lib.train.config import TrainConfig
from ssl_lib.train.engine import TrainingDiverged, train
from ssl_lib.train.run_dir import RunDir

TINY = dict(n_train=128, n_val=32, batch_size=64, epochs=2, backbone_width=8, proj_hidden=32, proj_dim=16,
            pred_hidden=16, queue_size=64, knn_k=5, warmup_epochs=0.0, progress=False, num_workers=0,
            knn_every=100)


def tiny(tmp_path, **changes) -> TrainConfig:
    return TrainConfig(**{**TINY, "output_dir": str(tmp_path / "run"), **changes}).validate()


def non_finite(state: dict) -> list[str]:
    return [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]


# -- 1. divergence -------------------------------------------------------------------------------


@pytest.mark.parametrize("base_lr", [1e8, 1e12])  # overflows in epoch 2 / epoch 1
def test_exploding_weights_stop_the_run_before_a_non_finite_checkpoint_is_saved(tmp_path, base_lr):
    """A huge lr: the loss stays finite (BatchNorm) while running variances overflow to inf."""
    with pytest.raises(TrainingDiverged, match="not finite") as info:
        train(tiny(tmp_path, base_lr=base_lr))
    run = RunDir(tmp_path / "run")
    assert not run.is_finished()
    if run.has_checkpoint():
        assert str(run.checkpoint_path) in str(info.value)
        assert non_finite(run.load_checkpoint()["model"]) == []
    else:
        assert "no checkpoint" in str(info.value)


def test_a_buffer_poisoned_in_epoch_2_keeps_the_finite_epoch_1_checkpoint(tmp_path, monkeypatch):
    original = engine._run_epoch

    def poisoning(loop, epoch, step, out_dir):
        metrics, step = original(loop, epoch, step, out_dir)
        if epoch == 1:  # what an overflow does to BatchNorm, with a loss that still looks fine
            next(b for n, b in loop.method.named_buffers() if n.endswith("running_var")).fill_(float("inf"))
        return metrics, step

    monkeypatch.setattr(engine, "_run_epoch", poisoning)
    with pytest.raises(TrainingDiverged, match="epoch 2") as info:
        train(tiny(tmp_path, epochs=3))
    run = RunDir(tmp_path / "run")
    state = run.load_checkpoint()
    assert state["epoch"] == 1 and non_finite(state["model"]) == []
    assert str(run.checkpoint_path) in str(info.value) and not run.is_finished()


def test_a_nan_loss_before_any_checkpoint_names_no_checkpoint(tmp_path, monkeypatch):
    import ssl_lib.models.methods as methods

    original = methods.SimCLR.forward

    def forward(self, *args):
        out = original(self, *args)
        out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(methods.SimCLR, "forward", forward)
    with pytest.raises(TrainingDiverged, match="no checkpoint") as info:
        train(tiny(tmp_path))
    assert "checkpoint.pt" not in str(info.value)
    assert not RunDir(tmp_path / "run").has_checkpoint()


# -- 2. a kill between the checkpoint and the metrics line -----------------------------------------


@pytest.mark.parametrize("torn", [False, True])
def test_a_kill_after_the_checkpoint_loses_no_metrics_line(tmp_path, monkeypatch, torn):
    original = RunDir.append_metrics

    def killed(self, metrics):
        if torn:  # killed in the middle of the line
            with open(self.metrics_path, "a") as handle:
                handle.write(json.dumps(metrics)[:20])
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "append_metrics", killed)
    cfg = tiny(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(RunDir, "append_metrics", original)
    run = RunDir(tmp_path / "run")
    (run.path / ".checkpoint.pt.q8w7e6.tmp").write_bytes(b"half")  # a kill during a checkpoint write
    last = train(cfg, resume=True)
    metrics = run.read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2] and metrics[-1] == last
    assert not list(run.path.glob(".*.tmp"))


def test_resume_rewrites_metrics_after_the_checkpoint(tmp_path):
    """A line of an epoch the checkpoint does not hold (killed after the line, before the next
    checkpoint could exist) is dropped, and the lines match the checkpoint's history."""
    cfg = tiny(tmp_path, epochs=1)
    train(cfg)
    run = RunDir(tmp_path / "run")
    first = run.read_metrics()
    run.backbone_path.unlink()
    with open(run.metrics_path, "a") as handle:
        handle.write(json.dumps({**first[0], "epoch": 2}) + "\n")
    train(cfg, resume=True)
    assert run.read_metrics() == first


# -- 3. a fresh run into a used folder ---------------------------------------------------------------


def test_a_failed_fresh_run_into_a_finished_folder_leaves_no_old_weights(tmp_path, monkeypatch):
    train(tiny(tmp_path, epochs=1))
    run = RunDir(tmp_path / "run")
    (run.path / ".checkpoint.pt.abc123.tmp").write_bytes(b"half a checkpoint")  # a kill mid-write

    def fails(*args):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(engine, "_run_epoch", fails)
    with pytest.raises(RuntimeError, match="out of memory"):
        train(tiny(tmp_path, epochs=1, seed=1))
    assert not run.is_finished() and not run.has_checkpoint() and run.read_metrics() == []
    assert run.load_config().seed == 1
    with pytest.raises(FileNotFoundError):
        run.load_backbone()
    assert not list(run.path.glob(".*.tmp"))


# -- 4. two writers ------------------------------------------------------------------------------


def test_a_second_run_into_a_busy_folder_fails_at_once(tmp_path):
    cfg = tiny(tmp_path)
    held, release = threading.Event(), threading.Event()

    def hold():  # another trainer, e.g. a second `python -m ssl_lib.pretrain` into the same folder
        with RunDir(cfg.output_dir).locked():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        start = time.perf_counter()
        with pytest.raises(RuntimeError, match="in use"):
            train(cfg)
        assert time.perf_counter() - start < 5
        assert not (tmp_path / "run").exists()
    finally:
        release.set()
        holder.join()


def test_the_lock_holder_may_train(tmp_path):
    """get_or_train holds the folder's lock while it calls train: the lock is re-entrant."""
    cfg = tiny(tmp_path, epochs=1)
    with RunDir(cfg.output_dir).locked():
        train(cfg)
    assert RunDir(cfg.output_dir).is_finished()
