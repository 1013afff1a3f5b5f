"""The command `python -m ssl_lib.fetch`: one line per dataset (ok, fetched, manual), a profile's
datasets, a dry run that fetches nothing; against the local server of test_data_fetch."""

from ssl_lib import fetch as command
from ssl_lib.data import fetch as F
from tests.data.test_fetch import serve_cifar, server  # noqa: F401 (server is a fixture)


def test_the_command_says_ok_fetched_or_manual_per_dataset_and_dry_run_fetches_nothing(server, tmp_path,
                                                                                       monkeypatch, capsys):
    data = serve_cifar(server, tmp_path, monkeypatch)
    root = tmp_path / "data"
    assert command.main(["cifar10", "cars", "mit67", "--root", str(root), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("cifar10: would fetch") and f"({len(data) / 2**30:.2f} GiB)" in out[0]
    assert out[1].startswith("cars: manual:") and out[2].startswith("mit67: manual:") and "TrainImages.txt" in out[2]
    assert not root.exists() or not any(root.rglob("*"))
    assert command.main(["cifar10", "--root", str(root)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("cifar10: fetched")
    asked = []
    monkeypatch.setattr(F, "remote_size", lambda url, timeout=20.0: asked.append(url))  # no network past 127.0.0.1
    assert command.main(["--profile", "gpu", "--root", str(root), "--dry-run"]) == 0  # every set named, none fetched
    lines = capsys.readouterr().out.splitlines()
    assert asked and all(u.startswith("http") for u in asked) and "(0.00 GiB + unknown)" in lines[0]
    assert [line.split(":")[0] for line in lines] == command.profile_datasets("gpu")
    assert command.main(["imagenet", "--root", str(root)]) == 2
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err


def test_a_profile_on_generated_data_has_nothing_to_fetch(capsys):
    assert command.main(["--profile", "cpu", "--dry-run"]) == 0
    assert "reads no real dataset" in capsys.readouterr().out


def test_a_root_that_is_a_file_and_an_image_folder_get_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    for root, flags in [(tmp_path / "afile", []), (tmp_path / "afile", ["--dry-run"]), (tmp_path / "afile" / "in", [])]:
        assert command.main(["cifar10", "--root", str(root), *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "afile is a file, not a folder" in err
    assert command.main(["imagefolder", "--root", str(tmp_path), "--dry-run"]) == 0  # listed as known
    assert capsys.readouterr().out.startswith("imagefolder: manual:")


def test_a_root_that_cannot_be_written_exits_1_with_one_line(capsys):
    assert command.main(["cifar10", "--root", "/sys/ssl_lib_data"]) == 1  # read-only even for root
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and err.count("\n") == 0 and "/sys/ssl_lib_data" in err


def test_an_unknown_flag_is_one_line_not_a_usage_block(capsys):
    assert command.main(["--bogus"]) == 2
    assert capsys.readouterr().err == "error: unrecognized arguments: --bogus\n"
