"""benchmarks/colour_resolution.py: at the design's own number of colour classes it reads what the
profile's transfer tables read; finer or coarser tasks probe the same runs; a non-uniform design is refused."""

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import colour_resolution  # noqa: E402

from ssl_lib.lab import experiments  # noqa: E402
from ssl_lib.lab.experiments import get  # noqa: E402
from ssl_lib.lab.profiles import resolve  # noqa: E402


def test_colour_top1_at_the_designs_classes_equals_the_transfer_table_and_other_classes_probe_the_same_runs(
        tmp_path, capsys):
    P = resolve("smoke", seeds=[0], runs_root=str(tmp_path))
    runs = experiments.train_experiments(P, [get("Spatial")], log=None)
    own = P.train_config().scene
    from ssl_lib.data.latents import get_scene
    from ssl_lib.evaluation.transfer import headline

    classes = get_scene(own).colors
    table = experiments.transfer_tables(P, runs, experiments.profile_transfer_data(P))
    expected = headline(table, index=["model", "seed"])["color"].iloc[0]
    assert colour_top1(P, classes, runs).top1.iloc[0] == pytest.approx(expected)
    own_probe = str(P.eval.probe_train)
    assert colour_resolution.main(["--profile", "smoke", "--seeds", "0", "--classes", "4", str(classes),
                                   "--probe-train", "128", own_probe, "--runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = [[cell.strip() for cell in line.split("|")[1:-1]] for line in out.splitlines() if line.startswith("|")]
    header, rows = table[0], table[2:]
    assert [(r[0], r[1]) for r in rows] == [("4", "128"), ("4", own_probe), (str(classes), "128"),
                                           (str(classes), own_probe)]  # one row per K and probe size
    spatial = dict(zip(header, rows[3]))["Spatial mean"]
    assert float(spatial) == pytest.approx(expected, abs=5e-4)  # the profile's own probe reads the table's
    assert dict(zip(header, rows[2]))["Spatial mean"] != spatial  # a smaller probe set is another probe
    assert "headroom mean" in header
    steps = colour_top1(P, classes, runs, probe_iters=[P.eval.probe_iters, 5])
    assert list(steps.probe_iters) == [P.eval.probe_iters, 5]  # one fit per step budget, same features
    assert steps.top1.iloc[0] == pytest.approx(expected)
    assert colour_resolution.main(["--profile", "smoke", "--probe-iters", "0"]) == 2  # one line, no usage block
    textured = dataclasses.replace(P, train={**P.train, "scene": "textured"})
    with pytest.raises(ValueError, match="uniformly"):
        colour_top1(textured, 4, runs)
    capsys.readouterr()
    assert colour_resolution.main(["--profile", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown profile 'nope'")


colour_top1 = colour_resolution.colour_top1
