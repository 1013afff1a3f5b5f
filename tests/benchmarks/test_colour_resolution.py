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
    assert colour_resolution.main(["--profile", "smoke", "--seeds", "0", "--classes", "4", str(classes),
                                   "--runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    summary = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("|")][2:]
    assert "headroom" in out and summary == ["4", str(classes)]  # one row per K
    textured = dataclasses.replace(P, train={**P.train, "scene": "textured"})
    with pytest.raises(ValueError, match="uniformly"):
        colour_top1(textured, 4, runs)
    capsys.readouterr()
    assert colour_resolution.main(["--profile", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown profile 'nope'")


colour_top1 = colour_resolution.colour_top1
