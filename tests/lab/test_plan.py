"""The reproduction plan: run states, steps, hours and disk before anything trains."""

import json

import pytest
import torch

from ssl_lib.lab import experiments
from ssl_lib.lab import plan as plan_mod
from ssl_lib.lab.plan import disk_bytes, format_plan, plan, pretrain_images
from ssl_lib.lab.profiles import resolve
from ssl_lib.lab.runs import get_or_train, run_name
from ssl_lib.models.compose import build_model


def test_states_steps_and_hours_follow_the_run_folders(tmp_path):
    P = resolve("smoke", seeds=[0], epochs=3, runs_root=str(tmp_path))
    table, summary = plan(P, ["04_augself"], validity=False, steps=1)
    assert list(table.model) == ["SimCLR", "SimCLR + AugSelf"] and set(table.state) == {"new"}
    cfg = experiments.get("SimCLR").config(P, 0)
    assert table.steps_left.tolist() == [3 * (cfg.n_train // cfg.batch_size)] * 2
    assert (table.step_s > 0).all() and summary["hours"] == pytest.approx(table.hours.sum())
    assert summary["new"] == 2 and summary["device"] == "cpu"

    # a finished run costs nothing more; a run with one epoch and a checkpoint resumes for two
    get_or_train(cfg, P.runs_root, log=None)
    partial = tmp_path / run_name(experiments.get("SimCLR + AugSelf").config(P, 0))
    partial.mkdir()
    (partial / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "loss": 1.0}) + "\n")
    (partial / "checkpoint.pt").write_bytes(b"not read by the plan")
    table, summary = plan(P, ["04_augself"], validity=False, steps=1)
    assert table.state.tolist() == ["finished", "partial"] and table.epochs_left.tolist() == [0, 2]
    assert table.hours.iloc[0] == 0 and (summary["finished"], summary["partial"], summary["new"]) == (1, 1, 0)
    assert "2 runs (1 finished, 1 partly trained, 0 new)" in format_plan(table, summary)


def test_disk_is_the_checkpoint_with_the_optimiser_slots_plus_the_backbone():
    cfg = resolve("smoke").train_config(method="simclr", recipe="simclr", seed=0)  # AdamW: two slots
    torch.manual_seed(0)
    model = build_model(cfg)
    params = sum(p.numel() for p in model.parameters())
    state = sum(t.numel() * 4 for t in model.state_dict().values() if t.is_floating_point())
    state += sum(t.numel() * t.element_size() for t in model.state_dict().values() if not t.is_floating_point())
    backbone = sum(t.numel() * t.element_size() for t in model.backbone.state_dict().values())
    assert disk_bytes(cfg) == state + 2 * 4 * params + backbone


def test_without_cuda_the_gpu_plan_times_a_smaller_batch_on_the_cpu_and_scales_it(monkeypatch, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("the scaling applies where the profile's CUDA device is missing")
    timed = []
    monkeypatch.setattr(plan_mod, "step_seconds", lambda cfg, steps: timed.append(cfg) or 0.5)
    P = resolve("gpu", seeds=[0], runs_root=str(tmp_path))
    table, summary = plan(P, ["04_augself"], validity=False)
    assert {c.batch_size for c in timed} == {32} and {c.device for c in timed} == {"cpu"}
    assert table.step_s.tolist() == [0.5 * 256 / 32] * 2
    assert table.steps_left.tolist() == [200 * (105_000 // 256)] * 2 == [200 * (pretrain_images(timed[0]) // 256)] * 2
    assert "no CUDA device" in summary["note"] and summary["hours"] == pytest.approx(2 * 4.0 * 82_000 / 3600, 0.01)


def test_the_plan_flag_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    from ssl_lib.lab.runner import main

    assert main(["--profile", "smoke", "--plan", "--no-validity", "--notebooks", "04", "--seeds", "0", "--runs-root",
                 str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "plan of profile smoke" in out and "2 runs (0 finished, 0 partly trained, 2 new)" in out
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_unknown_real_dataset_size_is_named():
    with pytest.raises(ValueError, match="no known pretraining size for dataset 'food101'"):
        pretrain_images(resolve("gpu").train_config(dataset="food101"))
