"""`python -m ssl_lib.pretrain` (ssl_lib.train.cli.main): one `error: ...` line per failure, exit 2
for bad input and 1 for a failed run, and nothing written before the config is valid."""


import pytest
import torch

from ssl_lib.train.cli import main
from ssl_lib.train.run_dir import RunDir

TINY = dict(n_train=128, n_val=32, batch_size=64, epochs=1, backbone_width=8, proj_hidden=32, proj_dim=16,
            pred_hidden=16, queue_size=64, knn_k=5, warmup_epochs=0.0, num_workers=0, knn_every=100)


def flags(out, **changes) -> list[str]:
    values = {**TINY, "output_dir": str(out), **changes}
    return [f"--{k.replace('_', '-')}={v}" for k, v in values.items()] + ["--no-progress"]


def run_main(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("extra, field", [
    (["--base-lr", "inf"], "base_lr"), (["--weight-decay", "nan"], "weight_decay"),
    (["--warmup-epochs", "nan"], "warmup_epochs"), (["--device", "cdua"], "device"),
    (["--epochs", "abc"], "--epochs"), (["--no-such-flag"], "--no-such-flag"),
    (["--monitor-label", "hue"], "monitor_label"),  # a regression target, not a class: before the lock file
])
def test_bad_flags_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, extra, field):
    code, err = run_main(flags(tmp_path / "run") + extra, capsys)
    assert code == 2 and field in one_error_line(err)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("content, expected", [
    (None, "not found|No such file"), ("{not json", "config.json"), ('["a list"]', "object"),
    ('{"cassle": "false"}', "cassle"), ('{"epochs": "1"}', "epochs"),
])
def test_a_missing_malformed_or_mistyped_config_file_exits_2(tmp_path, capsys, content, expected):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    code, err = run_main(["--config", str(path), "--output-dir", str(tmp_path / "run")], capsys)
    assert code == 2
    assert __import__("re").search(expected, one_error_line(err))
    assert not (tmp_path / "run").exists()


def test_resume_with_a_changed_config_is_one_line_but_knn_every_and_workers_may_change(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(flags(out, epochs=2)) == 0
    RunDir(out).backbone_path.unlink()
    checkpoint = RunDir(out).load_checkpoint()
    checkpoint["epoch"] = 1  # as if stopped after epoch 1
    torch.save(checkpoint, RunDir(out).checkpoint_path)
    capsys.readouterr()
    code, err = run_main(flags(out, epochs=2, base_lr=1.0) + ["--resume"], capsys)
    assert code == 2 and "base_lr" in one_error_line(err)
    assert main(flags(out, epochs=2, knn_every=1, num_workers=2) + ["--resume"]) == 0


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut short"])
def test_resume_from_an_empty_or_truncated_checkpoint_names_it(tmp_path, capsys, content):
    out = tmp_path / "run"
    assert main(flags(out)) == 0
    RunDir(out).backbone_path.unlink()
    RunDir(out).checkpoint_path.write_bytes(content)
    capsys.readouterr()
    code, err = run_main(flags(out) + ["--resume"], capsys)
    assert code == 2 and str(RunDir(out).checkpoint_path) in one_error_line(err)


def test_an_unwritable_output_folder_exits_1_with_one_line(capsys):
    code, err = run_main(flags("/sys/ssl_lib_run"), capsys)  # read-only even for root
    assert code == 1 and "/sys" in one_error_line(err)


def test_a_missing_dataset_exits_2_without_python_only_advice(tmp_path, capsys):
    code, err = run_main(flags(tmp_path / "run", dataset="cifar10", data_root=str(tmp_path / "data")), capsys)
    line = one_error_line(err)
    assert code == 2 and "CIFAR-10 not found" in line
    assert "download=True" not in line.replace("from Python, load_dataset(..., download=True)", "")
    assert not any(tmp_path.iterdir())  # neither the run folder nor a lock file beside it


def test_a_folder_of_the_users_files_exits_2_and_keeps_them(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "results.csv").write_text("x,y\n")
    code, err = run_main(flags(folder), capsys)
    assert code == 2 and "no run" in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no lock file left beside it
    assert (folder / "results.csv").read_text() == "x,y\n"


@pytest.mark.parametrize("changes, message", [
    (dict(output_dir=""), "output_dir must name a folder"),
    (dict(dataset="foo"), "unknown dataset 'foo'"),  # not "data_root is required"
    (dict(dataset="sun397", data_root="nodata"), "it is a downstream set"),
    (dict(dataset="pets", data_root="nodata"), "Oxford-IIIT Pets not found"),  # not "unknown split 'train'"
])
def test_an_empty_output_dir_or_unknown_dataset_is_named(tmp_path, capsys, changes, message):
    code, err = run_main(flags(tmp_path / "run", **changes), capsys)
    assert code == 2 and message in one_error_line(err)
    assert not any(tmp_path.iterdir())


def test_a_diverged_run_exits_1(tmp_path, capsys):
    code, err = run_main(flags(tmp_path / "run", base_lr=1e12), capsys)
    assert code == 1 and "not finite" in one_error_line(err)
