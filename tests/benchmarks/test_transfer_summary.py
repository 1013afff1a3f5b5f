"""benchmarks/transfer_summary.py: mean and sample sd over seeds per model and task, from the
transfer tables the runs cached; unknown tasks and profiles are one-line errors."""

import statistics
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import transfer_summary  # noqa: E402

from ssl_lib.lab import experiments  # noqa: E402


def long_table(values: dict) -> pd.DataFrame:
    """{(model, seed): {task: top-1}} -> the long transfer-table form (plus a balanced metric row
    that the headline must ignore)."""
    rows = []
    for (model, seed), tasks in values.items():
        for task, value in tasks.items():
            rows += [dict(model=model, task=task, kind="linear", metric="top1", value=value, seed=seed),
                     dict(model=model, task=task, kind="linear", metric="balanced", value=0.0, seed=seed)]
    return pd.DataFrame(rows)


def test_summary_is_mean_and_sample_sd_over_seeds_per_model_in_order():
    table = transfer_summary.summary(long_table({
        ("B", 0): {"shape": 0.50, "color": 0.30}, ("B", 1): {"shape": 0.70, "color": 0.40},
        ("B", 2): {"shape": 0.60, "color": 0.20}, ("A", 0): {"shape": 0.90, "color": 0.10}}))
    assert list(table.index) == ["B", "A"]  # order of appearance, not sorted
    sd = statistics.stdev([0.5, 0.7, 0.6])
    assert table.loc["B", "shape"] == f"0.600 ± {sd:.3f} (3)"
    assert table.loc["A", "color"] == "0.100 (1)"  # one seed: no spread to show
    assert list(transfer_summary.summary(long_table({("A", 0): {"shape": 1.0, "color": 0.0}}), ["color"]).columns) == ["color"]
    with pytest.raises(ValueError, match="unknown task"):
        transfer_summary.summary(long_table({("A", 0): {"shape": 1.0}}), ["hue angle"])


def test_paired_is_the_per_seed_difference_on_the_seeds_both_models_have():
    from scipy import stats

    values = long_table({("A", 0): {"shape": 0.70}, ("A", 1): {"shape": 0.65}, ("A", 2): {"shape": 0.80},
                         ("A", 3): {"shape": 0.99},  # B lacks seed 3: left out
                         ("B", 0): {"shape": 0.60}, ("B", 1): {"shape": 0.70}, ("B", 2): {"shape": 0.60}})
    table = transfer_summary.paired(values, "A", "B")
    d = [0.10, -0.05, 0.20]  # by hand, seeds 0-2
    ci = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert table.task.tolist() == ["shape"]
    assert table.difference[0] == f"{statistics.fmean(d):+.3f} [{ci.low:+.3f}, {ci.high:+.3f}]"
    assert table.seeds_favouring[0] == "2/3"
    with pytest.raises(ValueError, match=r"no transfer results for \['C'\]"):
        transfer_summary.paired(values, "A", "C")
    with pytest.raises(ValueError, match="unknown task"):
        transfer_summary.paired(values, "A", "B", tasks=["hue angle"])


def test_main_reads_the_runs_transfer_tables(tmp_path, capsys):
    assert transfer_summary.main(["--profile", "smoke", "--seeds", "0", "--models", "Spatial", "--tasks", "shape",
                                  "--runs", str(tmp_path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in lines[1:]}
    from ssl_lib.evaluation.transfer import headline
    from ssl_lib.lab.profiles import resolve

    P = resolve("smoke", seeds=[0], runs_root=str(tmp_path))
    runs = experiments.train_experiments(P, [experiments.get("Spatial")], log=None)
    expected = headline(experiments.transfer_tables(P, runs, experiments.profile_transfer_data(P)))
    assert set(rows) == {"random init", "Spatial"}
    assert rows["Spatial"] == f"{expected.loc['Spatial', 'shape']:.3f} (1)"
    assert transfer_summary.main(["--profile", "smoke", "--seeds", "0", "--models", "Spatial", "--tasks", "shape",
                                  "--runs", str(tmp_path), "--paired", "Spatial", "random init"]) == 0
    gain = expected.loc["Spatial", "shape"] - headline(experiments.random_init_tables(
        P, experiments.profile_transfer_data(P))).loc["random init", "shape"]
    out = capsys.readouterr().out
    assert "Spatial minus random init, paired by seed" in out and f"| shape  | {gain:+.3f} [n/a, n/a]" in out
    assert transfer_summary.main(["--profile", "smoke", "--seeds", "0", "--models", "Spatial", "--tasks", "nope",
                                  "--runs", str(tmp_path)]) == 2
    assert transfer_summary.main(["--profile", "smoke", "--models", "Nope", "--runs", str(tmp_path)]) == 2

    # a run trained outside the profile is one seed of the model its folder names
    import shutil

    variant = tmp_path / "variants" / "my-variant-s0"
    shutil.copytree(runs.run.iloc[0], variant)
    for stale in variant.glob("transfer-*.csv"):
        stale.unlink()  # probed afresh, not read from the copy's cache
    capsys.readouterr()
    assert transfer_summary.main(["--profile", "smoke", "--seeds", "0", "--models", "Spatial", "--tasks", "shape",
                                  "--runs", str(tmp_path), "--run-dirs", str(variant)]) == 0
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in capsys.readouterr().out.splitlines()[2:] if line.startswith("| ")}
    assert rows["my-variant"] == rows["Spatial"]  # the same weights, probed the same way
    (variant / "backbone.pt").unlink()
    assert transfer_summary.main(["--profile", "smoke", "--seeds", "0", "--models", "Spatial",
                                  "--runs", str(tmp_path), "--run-dirs", str(variant)]) == 2
    assert "not a finished run" in capsys.readouterr().err
    assert transfer_summary.main(["--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err
    (variant / "backbone.pt").write_bytes(b"")
    (variant / "config.json").unlink()  # a folder that is no run at all: named, no traceback
    assert transfer_summary.main(["--profile", "smoke", "--seeds", "0", "--models", "Spatial",
                                  "--runs", str(tmp_path), "--run-dirs", str(variant)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "config.json" in err and "\n" not in err
