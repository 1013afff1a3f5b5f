"""The notebook runner (ssl_lib.lab.runner) and recorded results (ssl_lib.lab.results): recording, selection, parameter checks, failure messages, the report."""

import json
import math

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ssl_lib.lab import results
from ssl_lib.lab import runner as R

PARAMETERS = 'profile = "cpu"\nseeds = None\ndevice = None\ndataset = None\ndata_root = None\nepochs = None\noutput = None\nruns_root = None'


def write_notebook(folder, name, code_cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": R.KERNEL_NAME, "display_name": "Python (ssl-lib)", "language": "python"}
    params = new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# a test notebook"), params, *[new_code_cell(c) for c in code_cells]]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_record_merges_atomically_into_the_notebooks_json(tmp_path):
    results.record("a", 1, output=tmp_path, notebook="01_x")
    results.record("b", {"x": np.float32(0.5), "t": torch.tensor([1, 2]), "nan": math.nan, "flag": np.bool_(True)},
             output=tmp_path, notebook="01_x")
    rec = results.recorder(str(tmp_path), "01_x")
    assert rec("c", pd.DataFrame({"m": ["A"], "v": [0.25]})) is None
    data = json.loads((tmp_path / "results" / "01_x.json").read_text())
    assert data == {"a": 1, "b": {"x": 0.5, "t": [1, 2], "nan": None, "flag": True}, "c": [{"m": "A", "v": 0.25}]}
    assert not [p for p in (tmp_path / "results").iterdir() if p.suffix == ".tmp"]


def test_to_jsonable_refuses_what_it_cannot_represent():
    with pytest.raises(TypeError, match="cannot record"):
        results.to_jsonable(object())


def test_list_notebooks_selects_by_number_or_name_and_names_unknown_ones(tmp_path):
    for name in ("01_a", "02_b", "10_c"):
        write_notebook(tmp_path, name, [])
    (tmp_path / "scratch.ipynb").write_text("{}")  # not numbered: never run
    assert [p.stem for p in R.list_notebooks(folder=tmp_path)] == ["01_a", "02_b", "10_c"]
    assert [p.stem for p in R.list_notebooks("2, 01", folder=tmp_path)] == ["02_b", "01_a"]
    assert [p.stem for p in R.list_notebooks(["10_c.ipynb"], folder=tmp_path)] == ["10_c"]
    with pytest.raises(ValueError, match=r"unknown notebook '07'.*01_a"):
        R.list_notebooks("07", folder=tmp_path)


def test_unknown_parameters_are_refused_before_a_kernel_starts(tmp_path):
    path = write_notebook(tmp_path, "01_a", ["raise AssertionError('must not run')"])
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['bogus'\] for notebook 01_a"):
        R.run_notebook(path, tmp_path / "out", {"profile": "smoke", "bogus": 1})


def test_a_notebook_without_parameters_cell_is_refused(tmp_path):
    nb = new_notebook()
    nb.cells = [new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "01_a.ipynb")
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        R.run_notebook(tmp_path / "01_a.ipynb", tmp_path / "out", {})


def test_missing_real_data_or_an_output_under_a_file_is_refused_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--profile", "smoke", "--jobs", "0", "--no-validity", "--notebooks", "03", "--output", str(out)]
    assert R.main(argv + ["--dataset", "cifar10", "--data-root", str(tmp_path / "nodata")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: CIFAR-10 not found") and "\n" not in err
    (tmp_path / "afile").write_text("")
    for flag in ("--output", "--runs-root"):
        assert R.main([*argv, flag, str(tmp_path / "afile" / "sub")]) == 2
        assert "afile is a file, not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing written


def test_real_data_is_asked_for_only_when_a_run_must_be_trained(tmp_path, monkeypatch):
    # Notebook 01 trains nothing: no dataset needed. With every run of 03 finished, none either.
    asked = []
    monkeypatch.setattr(R, "require_present", lambda name, root: asked.append(name))
    P = R.resolve("smoke", dataset="cifar10", data_root=str(tmp_path), runs_root=str(tmp_path / "runs"))
    assert R._runs_to_train(P, ["01_augmentations"], validity=False) == []
    planned = R._runs_to_train(P, ["03_methods"], validity=False)
    assert planned and all(run.config.dataset == "cifar10" for run in planned)
    from ssl_lib.lab.runs import run_name
    from ssl_lib.train.run_dir import RunDir

    for run in planned:  # mark each as finished: its config and a backbone file
        folder = RunDir(tmp_path / "runs" / run_name(run.config))
        folder.start(run.config)
        folder.backbone_path.write_bytes(b"")
    assert R._runs_to_train(P, ["03_methods"], validity=False) == []


def test_repeated_seeds_on_the_command_line_are_refused(capsys):
    assert R.main(["--profile", "smoke", "--seeds", "0,0", "--plan"]) == 2
    assert "seeds must be distinct, [0] repeated" in capsys.readouterr().err


def test_unknown_profile_and_override_fail_before_running(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        R.reproduce("nope", output=tmp_path, notebook_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown override\(s\) \['bogus'\]"):
        R.reproduce("smoke", output=tmp_path, notebook_dir=tmp_path, bogus=1)


def test_a_failing_cell_names_the_notebook_cell_and_error_and_the_cli_exits_1(tmp_path, capsys):
    write_notebook(tmp_path, "01_fine", ["from ssl_lib.lab.results import recorder\n"
                                         "recorder(output, '01_fine')('answer', 42)"])
    write_notebook(tmp_path, "02_broken", ["x = 1", "raise RuntimeError('boom in the third code cell')"])
    out = tmp_path / "out"
    code = R.main(["--profile", "smoke", "--output", str(out), "--runs-root", str(tmp_path / "runs"),
                   "--notebook-dir", str(tmp_path), "--no-progress", "--no-validity"])
    err = capsys.readouterr().err
    assert code == 1
    # The committed notebook's cells: markdown, parameters, x = 1, raise -> cell 4 (counting from 1).
    assert "notebook 02_broken failed in cell 4 (In [" in err
    assert "`raise RuntimeError('boom in the third code cell')`: RuntimeError: boom in the third code cell" in err
    with pytest.raises(R.NotebookFailed) as info:
        R.reproduce("smoke", output=out, runs_root=tmp_path / "runs", notebook_dir=tmp_path, notebooks="02",
                    progress=False, log=lambda m: None, validity=False)
    failed = info.value
    assert failed.notebook == "02_broken" and failed.ename == "RuntimeError" and failed.cell_index == 3
    committed = nbformat.read(tmp_path / "02_broken.ipynb", as_version=4)
    assert committed.cells[failed.cell_index].source.startswith("raise RuntimeError")
    # What ran before the failure is reported: results.json and the HTML index.
    results = json.loads((out / "results.json").read_text())
    assert results["notebooks"]["01_fine"] == {"answer": 42}
    assert [n["status"] for n in results["run"]["notebooks"]] == ["failed"]
    assert "02_broken" in (out / "html" / "index.html").read_text()


def test_a_successful_run_writes_notebooks_html_and_results(tmp_path):
    write_notebook(tmp_path, "01_ok", [
        "import plotly.express as px\nfrom ssl_lib.lab.session import setup_figures\nsetup_figures()",
        "from ssl_lib.lab.results import recorder\nrecorder(output, '01_ok')('seen', {'profile': profile, 'epochs': epochs})",
        "px.bar(x=['a', 'b'], y=[1, 2])",
    ])
    out = tmp_path / "out"
    merged = R.reproduce("smoke", output=out, runs_root=tmp_path / "runs", notebook_dir=tmp_path, epochs=3,
                         progress=False, log=lambda m: None, validity=False)
    assert merged["notebooks"]["01_ok"] == {"seen": {"profile": "smoke", "epochs": 3}}
    assert merged["run"]["notebooks"][0]["status"] == "ok" and merged["run"]["parameters"]["epochs"] == 3
    assert json.loads((out / "results.json").read_text()) == merged
    html = (out / "html" / "01_ok.html").read_text()
    assert "Plotly.newPlot" in html and 'src="plotly.min.js"' in html
    assert (out / "html" / "plotly.min.js").stat().st_size > 1_000_000
    assert 'href="01_ok.html"' in (out / "html" / "index.html").read_text()
    assert (out / "notebooks" / "01_ok.ipynb").is_file()


def test_an_invalid_bench_still_runs_the_notebooks_then_fails_in_one_line(tmp_path, monkeypatch, capsys):
    from ssl_lib.lab import validity

    write_notebook(tmp_path, "01_runs", ["from ssl_lib.lab.results import recorder\nrecorder(output, '01_runs')('ran', 1)"])
    calls = []

    def invalid(profile, device=None, log=print):
        calls.append(profile.name)
        raise validity.BenchInvalid("the smoke bench is not valid: seed 0: SimCLR learns shape only +0.010")

    monkeypatch.setattr(validity, "run", invalid)
    out = tmp_path / "out"
    code = R.main(["--profile", "smoke", "--output", str(out), "--runs-root", str(tmp_path / "runs"),
                   "--notebook-dir", str(tmp_path), "--no-progress", "--no-report"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and calls == ["smoke"]
    assert err == "error: the smoke bench is not valid: seed 0: SimCLR learns shape only +0.010"
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["validity"]["status"] == "invalid"
    assert [n["status"] for n in results["run"]["notebooks"]] == ["ok"] and results["notebooks"]["01_runs"] == {"ran": 1}
    # --no-validity skips the check
    assert R.main(["--profile", "smoke", "--output", str(out), "--runs-root", str(tmp_path / "runs"),
                   "--notebook-dir", str(tmp_path), "--no-progress", "--no-report", "--no-validity"]) == 0
    assert calls == ["smoke"]
