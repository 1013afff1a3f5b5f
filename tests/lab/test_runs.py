"""get_or_train: one folder per config, finished runs reused, interrupted runs resumed."""

import json
from pathlib import Path

import pytest

from ssl_lib.train import engine
from ssl_lib.train.config import TrainConfig
from ssl_lib.lab.runs import config_identity, get_or_train, is_finished, run_name

TINY = dict(n_train=64, n_val=32, batch_size=32, epochs=1, backbone_width=8, proj_hidden=32, proj_dim=16,
            pred_hidden=16, queue_size=64, knn_k=5, warmup_epochs=0.0, progress=False, num_workers=0,
            method="mocov2", recipe="spatial")


def tiny(**changes) -> TrainConfig:
    return TrainConfig(**{**TINY, **changes}).validate()


def test_run_name_is_stable_readable_and_ignores_output_dir_and_progress():
    a = tiny()
    assert run_name(a) == run_name(tiny(output_dir="elsewhere", progress=True))
    assert run_name(a).startswith("mocov2-spatial-s0-")
    assert run_name(a) != run_name(tiny(seed=1)) != run_name(tiny(epochs=2))
    assert "output_dir" not in config_identity(a) and "progress" not in config_identity(a)


def test_second_call_reuses_the_finished_run(tmp_path, monkeypatch):
    cfg = tiny()
    run_dir = get_or_train(cfg, tmp_path, log=None)
    assert is_finished(run_dir, cfg) and len(run_dir.read_metrics()) == 1
    mtime = run_dir.backbone_path.stat().st_mtime_ns

    def must_not_train(*args, **kwargs):
        raise AssertionError("get_or_train retrained a finished run")

    monkeypatch.setattr(engine, "train", must_not_train)
    assert get_or_train(tiny(progress=True), tmp_path, log=None) == run_dir
    assert run_dir.backbone_path.stat().st_mtime_ns == mtime


def test_a_different_config_gets_its_own_folder(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(engine, "train", lambda cfg, resume=False: calls.append((cfg.output_dir, resume)))
    a = get_or_train(tiny(seed=0), tmp_path, log=None)
    b = get_or_train(tiny(seed=1), tmp_path, log=None)
    assert a != b and [c[0] for c in calls] == [str(a), str(b)] and not any(c[1] for c in calls)


def test_an_interrupted_run_is_resumed(tmp_path, monkeypatch):
    cfg = tiny(epochs=2)
    run_dir = get_or_train(cfg, tmp_path, log=None)
    run_dir.backbone_path.unlink()  # as if killed after the last checkpoint
    calls = []
    real_train = engine.train
    monkeypatch.setattr(engine, "train", lambda c, resume=False: (calls.append(resume), real_train(c, resume=resume))[1])
    assert get_or_train(cfg, tmp_path, log=None) == run_dir
    assert calls == [True] and run_dir.backbone_path.is_file()


def test_a_stale_folder_is_cleared_before_training(tmp_path, monkeypatch):
    cfg = tiny()
    run_dir = tmp_path / run_name(cfg)
    run_dir.mkdir()
    (run_dir / "backbone.pt").write_bytes(b"stale")
    (run_dir / "config.json").write_text(json.dumps({"not_a_field": 1}))
    seen = []
    monkeypatch.setattr(engine, "train", lambda c, resume=False: seen.append((resume, run_dir.exists())))
    get_or_train(cfg, tmp_path, log=None)
    assert seen == [(False, False)]  # trained from scratch into a fresh folder


def test_a_cassle_run_of_the_old_fixed_width_is_not_taken_for_the_scaled_default(tmp_path, monkeypatch):
    # CASSLE's encoder width used to default to 64; its default is now scaled to the backbone
    # (None), so an old run's folder has the new default's name but its config.json says 64.
    cfg = tiny(cassle=True, cassle_depth=2, recipe="mocov2")
    old = tiny(cassle=True, cassle_depth=2, cassle_width=64, recipe="mocov2")
    run_dir = tmp_path / run_name(cfg)
    run_dir.mkdir()
    (run_dir / "backbone.pt").write_bytes(b"width 64")
    (run_dir / "config.json").write_text(json.dumps(old.to_dict()))
    assert not is_finished(run_dir, cfg) and is_finished(run_dir, old)
    seen = []
    monkeypatch.setattr(engine, "train", lambda c, resume=False: seen.append((resume, (run_dir / "backbone.pt").exists())))
    get_or_train(cfg, tmp_path, log=None)
    assert seen == [(False, False)]


def test_settings_of_a_component_that_is_off_do_not_name_or_invalidate_a_run(tmp_path):
    # A run without CASSLE stored cassle_width=64 when that was the default: it is the same model
    # as today's config, whose default is None, so it must be found and reused, not retrained.
    cfg = tiny()
    assert run_name(cfg) == run_name(tiny(cassle_width=64, cassle_depth=3, fa_weight=0.5, augself_hidden=7))
    run_dir = tmp_path / run_name(cfg)
    run_dir.mkdir()
    (run_dir / "backbone.pt").write_bytes(b"finished")
    (run_dir / "config.json").write_text(json.dumps(tiny(cassle_width=64).to_dict()))
    assert is_finished(run_dir, cfg)
    assert run_name(tiny(recipe="mocov2", cassle=True)) != run_name(tiny(recipe="mocov2", cassle=True, cassle_width=64))


def test_an_invalid_config_is_refused_before_any_folder_is_made(tmp_path):
    with pytest.raises(ValueError, match="epochs"):
        get_or_train(TrainConfig(**{**TINY, "epochs": 0}), tmp_path, log=None)
    assert not any(tmp_path.iterdir())


def test_concurrent_requests_for_one_config_train_it_once(tmp_path, monkeypatch):
    import threading
    import time

    calls = []

    def slow_train(cfg, resume=False):
        calls.append(cfg.output_dir)
        time.sleep(0.3)  # long enough for the other thread to arrive while this one trains
        out = Path(cfg.output_dir)  # what a finished run leaves behind
        out.mkdir(parents=True)
        (out / "config.json").write_text(cfg.to_json())
        (out / "backbone.pt").write_text("")

    monkeypatch.setattr(engine, "train", slow_train)
    results = []
    threads = [threading.Thread(target=lambda: results.append(get_or_train(tiny(), tmp_path, log=None)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1


def test_a_new_model_revision_renames_every_run(monkeypatch):
    from ssl_lib.lab import runs

    before = run_name(tiny())
    monkeypatch.setattr(runs, "MODEL_REVISION", runs.MODEL_REVISION + 1)
    assert run_name(tiny()) != before and run_name(tiny()).startswith("mocov2-spatial-s0-")
