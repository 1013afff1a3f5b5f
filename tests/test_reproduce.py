"""`python -m ssl_lib.reproduce` (ssl_lib.lab.runner.main): bad input is one `error: ...` line and
exit 2, a failed run exit 1, before any notebook starts."""

import pytest

from ssl_lib.lab import runner as R
from tests.lab.test_runner import write_notebook


def run_main(argv, capsys) -> tuple[int, str]:
    code = R.main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return code, lines[0]


@pytest.mark.parametrize("extra, expected", [
    (["--seeds", "a,b"], "--seeds"), (["--seeds", "1,,2"], "--seeds"), (["--device", "cdua"], "cdua"),
    (["--epochs", "0"], "epochs"), (["--profile", "nope"], "nope"), (["--bogus"], "--bogus"),
    (["--jobs", "-1"], "jobs"), (["--jobs", "two"], "--jobs"),
])
def test_bad_arguments_exit_2_with_one_line_before_any_notebook_runs(tmp_path, capsys, extra, expected):
    write_notebook(tmp_path, "01_a", ["raise AssertionError('must not run')"])
    out = tmp_path / "out"
    code, line = run_main(["--profile", "smoke", "--output", str(out), "--notebook-dir", str(tmp_path),
                           "--runs-root", str(tmp_path / "runs"), "--no-progress", "--no-report", *extra], capsys)
    assert code == 2 and expected in line
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_an_unwritable_output_folder_exits_1_with_one_line(tmp_path, capsys):
    write_notebook(tmp_path, "01_a", ["x = 1"])
    code, line = run_main(["--profile", "smoke", "--output", "/sys/ssl_lib_out", "--notebook-dir", str(tmp_path),
                           "--runs-root", str(tmp_path / "runs"), "--no-progress", "--no-report"], capsys)
    assert code == 1 and "/sys/ssl_lib_out" in line
