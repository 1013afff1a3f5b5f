"""Atomic writes: a full disk is reported as such, and no temporary file is left behind."""

import errno

import pytest
import torch

from ssl_lib.utils import io


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at inline_container.cc:783] . PytorchStreamWriter failed writing file "
                 "data/3: file write failed"),
    RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 2945472 vs 2945360"),
    OSError(errno.ENOSPC, "No space left on device"),
])
def test_a_full_disk_is_reported_naming_the_file(tmp_path, monkeypatch, error):
    def fails(obj, handle):
        handle.write(b"partial")
        raise error

    monkeypatch.setattr(torch, "save", fails)
    target = tmp_path / "checkpoint.pt"
    with pytest.raises(OSError, match=f"could not write {target}: the disk may be full") as info:
        io.atomic_torch_save({"w": torch.ones(1)}, target)
    assert info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_other_errors_pass_through_unchanged(tmp_path, monkeypatch):
    def fails(obj, handle):
        raise RuntimeError("cannot pickle this")

    monkeypatch.setattr(torch, "save", fails)
    with pytest.raises(RuntimeError, match="^cannot pickle this$"):
        io.atomic_torch_save(object(), tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_remove_stale_temps_removes_only_temporary_files(tmp_path):
    (tmp_path / ".checkpoint.pt.k2j3h4.tmp").write_bytes(b"half")
    (tmp_path / "checkpoint.pt").write_bytes(b"whole")
    assert [p.name for p in io.remove_stale_temps(tmp_path)] == [".checkpoint.pt.k2j3h4.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert io.remove_stale_temps(tmp_path / "missing") == []
