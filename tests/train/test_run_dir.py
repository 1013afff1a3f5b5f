"""RunDir: the run folder's files, their errors and the folder's lock (no training here)."""

import json
import threading

import pytest
import torch

from ssl_lib.train.config import TrainConfig
from ssl_lib.train.run_dir import RunDir


def test_a_torn_metrics_line_names_the_file_and_line(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.metrics_path.write_text(json.dumps({"epoch": 1}) + '\n{"epoch": 2, "lo')
    with pytest.raises(ValueError, match=r"metrics\.jsonl.* line 2"):
        run.read_metrics()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_an_empty_or_truncated_checkpoint_names_its_path(tmp_path, content):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.checkpoint_path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{run.checkpoint_path}.*(truncated|corrupted)"):
        run.load_checkpoint()


def test_a_truncated_backbone_names_its_path(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.config_path.write_text(TrainConfig().to_json())
    run.backbone_path.write_bytes(b"\x80\x02")
    with pytest.raises(ValueError, match=str(run.backbone_path)):
        run.load_backbone()


def test_start_clears_every_file_of_an_earlier_run(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.config_path.write_text(TrainConfig(seed=1).to_json())
    for name in (run.METRICS, run.CHECKPOINT, run.BACKBONE, "probe.csv", ".checkpoint.pt.x1y2.tmp"):
        (run.path / name).write_text("old")
    (run.path / "notes.txt").write_text("the user's")  # not a run file: kept
    run.start(TrainConfig(seed=3))
    assert sorted(p.name for p in run.path.iterdir()) == ["config.json", "notes.txt"]
    assert run.load_config().seed == 3


def test_a_folder_of_other_files_is_never_taken_for_a_run(tmp_path):
    # A fresh run deletes *.csv (its cached tables): in a folder that holds no run, they are the user's.
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "results.csv").write_text("x,y\n")
    with pytest.raises(ValueError, match=r"mine holds files \(results\.csv\) but no run"):
        RunDir(folder).start(TrainConfig())
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv"]
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match="afile is a file, not a folder"):
        RunDir(tmp_path / "afile").check_trainable()
    for foreign in ('{"lr": 1}', "[]", "not json"):  # a config.json of someone else's is no run's
        (folder / "config.json").write_text(foreign)
        with pytest.raises(ValueError, match="but no run"):
            RunDir(folder).start(TrainConfig())
    assert (folder / "results.csv").is_file()
    (folder / "config.json").write_text('{"method": "simclr", "recipe": "simclr", "retired_field": 1}')
    RunDir(folder).start(TrainConfig())  # an older TrainConfig's run folder is still a run folder
    assert not (folder / "results.csv").exists()


def test_a_new_or_empty_folder_or_one_with_killed_writes_only_may_start(tmp_path):
    for name, files in (("new", None), ("empty", []), ("killed", [".config.json.a1b2.tmp"])):
        run = RunDir(tmp_path / name)
        if files is not None:
            run.path.mkdir()
            for file in files:
                (run.path / file).write_text("")
        run.start(TrainConfig(seed=1))
        assert sorted(p.name for p in run.path.iterdir()) == ["config.json"]


def test_checkpoints_with_non_finite_tensors_are_refused(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    with pytest.raises(ValueError, match="bn.running_var"):
        run.save_checkpoint({"model": {"w": torch.ones(2), "bn.running_var": torch.tensor([1.0, float("inf")])},
                             "epoch": 1})
    assert not run.has_checkpoint()


def test_the_lock_is_reentrant_for_its_thread_and_refused_to_others(tmp_path):
    run = RunDir(tmp_path / "run")
    errors = []

    def other():
        try:
            with run.locked(blocking=False):
                pass
        except RuntimeError as error:
            errors.append(str(error))

    with run.locked():
        with run.locked(blocking=False):  # the holder again: no deadlock, no error
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
    assert len(errors) == 1 and "in use" in errors[0] and str(run.path) in errors[0]
    with run.locked(blocking=False):  # released for everyone afterwards
        pass
