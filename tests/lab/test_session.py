"""The notebooks' session (ssl_lib/lab/session.py): profile, device, recorder and runs in one call."""

import json

import pytest
import torch

from ssl_lib.lab import experiments
from ssl_lib.lab.results import recorded, results_path
from ssl_lib.lab.session import default_profile, start


@pytest.fixture
def lab(tmp_path):
    return start("04_augself", profile="smoke", output=tmp_path / "out", runs_root=tmp_path / "runs")


def test_the_default_profile_is_cpu_for_users_and_smoke_for_the_tests(monkeypatch):
    monkeypatch.delenv("SMOKE", raising=False)
    assert default_profile() == "cpu"
    monkeypatch.setenv("SMOKE", "1")
    assert default_profile() == "smoke"


def test_start_resolves_the_profile_sets_plotly_up_and_records_under_the_notebook(lab, tmp_path, capsys):
    import plotly.io as pio

    assert lab.P.name == "smoke" and lab.P is lab.profile and lab.device == torch.device("cpu")
    assert pio.renderers.default == "plotly_mimetype"
    lab.record("answer", 42)
    assert json.loads(results_path(tmp_path / "out", "04_augself").read_text())["answer"] == 42
    assert recorded(tmp_path / "out", "04_augself")["answer"] == 42
    start("02_invariance", profile="smoke", output=tmp_path / "out")
    assert "profile smoke" in capsys.readouterr().out


def test_unknown_profile_or_parameter_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="profile"):
        start("04_augself", profile="laptop")
    with pytest.raises(ValueError, match="batch"):
        start("04_augself", profile="smoke", batch=3)


def test_the_session_knows_its_notebooks_experiments(lab):
    assert [e.name for e in lab.experiments] == [e.name for e in experiments.for_notebook("04", lab.P)]
    assert lab.experiment("SimCLR + AugSelf").name == "SimCLR + AugSelf"


def test_an_untrained_model_is_the_experiments_network_on_the_first_seed(lab):
    torch.manual_seed(0)
    model = lab.untrained("SimCLR + AugSelf")
    assert model.augself is not None and set(model.augself.heads) == {"crop", "color"}
    torch.manual_seed(0)
    from ssl_lib.models.compose import build_model

    same = build_model(experiments.get("SimCLR + AugSelf").config(lab.P, lab.P.seeds[0]))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), same.state_dict().values()))


def test_a_run_not_in_the_table_is_named_in_the_error(lab):
    import pandas as pd

    runs = pd.DataFrame(dict(model=["SimCLR"], seed=[0], run=["nowhere"]))
    with pytest.raises(ValueError, match="SimCLR \\+ AugSelf"):
        lab.run_dir(runs, "SimCLR + AugSelf")
    assert str(lab.run_dir(runs, "SimCLR").path) == "nowhere"


def test_ensure_runs_only_the_missing_notebooks_with_the_sessions_own_overrides(tmp_path, monkeypatch):
    from ssl_lib.lab import runner

    calls = []
    monkeypatch.setattr(runner, "reproduce", lambda profile, **kwargs: calls.append((profile, kwargs)))
    lab = start("08_report", profile="smoke", seeds=[5, 6], epochs=None, output=tmp_path / "out",
                runs_root=tmp_path / "runs")
    lab.record("x", 1)
    start("04_augself", profile="smoke", output=tmp_path / "out").record("x", 1)  # 04 has results now
    assert lab.ensure(["04_augself"]) == [] and not calls
    assert lab.ensure(["04_augself", "05_cassle"]) == ["05_cassle"]
    (profile, kwargs), = calls
    assert profile == "smoke" and kwargs["notebooks"] == ["05"] and kwargs["seeds"] == [5, 6]
    assert kwargs["output"] == lab.P.output and kwargs["runs_root"] == lab.P.runs_root and not kwargs["report"]


def test_failed_seeds_reads_the_recorded_validity_check(lab, tmp_path):
    from ssl_lib.lab.results import record
    from ssl_lib.lab.validity import RESULTS_NAME, ValidityFloors

    def rows(seed, colour):  # SimCLR's measures on one seed: only its colour headroom varies
        measures = [("content", "shape", 0.30), ("headroom", "color", colour), ("headroom", "position", 0.20)]
        return [dict(seed=seed, measure=m, model="SimCLR", factor=f, value=v) for m, f, v in measures]

    table = rows(0, 0.05) + rows(1, 0.20) + rows(2, 0.08)
    out = tmp_path / "out"
    record("table", table, output=out, notebook=RESULTS_NAME)
    record("floors", None, output=out, notebook=RESULTS_NAME)
    assert lab.failed_seeds() == []  # a profile without floors: measured, nothing enforced
    record("floors", vars(ValidityFloors()), output=out, notebook=RESULTS_NAME)
    assert lab.failed_seeds() == [0, 2]
