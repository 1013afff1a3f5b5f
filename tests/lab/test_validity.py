"""The bench-validity measures and floors on hand-made probe results."""

import pandas as pd
import pytest

from ssl_lib.lab.validity import ValidityFloors, check_floors, failed_seeds, summary, validity_table

TASKS = ("shape", "color", "position", "size", "orientation")


def top1_table(overrides=None):
    """Linear top-1 of the five validity models on two seeds; `overrides` {(model, seed, task): value}."""
    base = {"random init": dict(shape=0.25, color=0.50, position=0.30, size=0.50, orientation=0.50),
            "SimCLR": dict(shape=0.60, color=0.60, position=0.40, size=0.55, orientation=0.52),
            "Default": dict(shape=0.55, color=0.80, position=0.45, size=0.60, orientation=0.55),
            "Spatial": dict(shape=0.50, color=0.75, position=0.35, size=0.50, orientation=0.50),
            "Appearance": dict(shape=0.45, color=0.55, position=0.50, size=0.58, orientation=0.60)}
    rows = [dict(model=m, seed=s, **scores) for s in (0, 1) for m, scores in base.items()]
    table = pd.DataFrame(rows).set_index(["model", "seed"])
    for (model, seed, task), value in (overrides or {}).items():
        table.loc[(model, seed), task] = value
    return table


def test_measures_are_the_documented_differences():
    table = validity_table(top1_table())
    row = lambda measure, model, factor: table[(table.seed == 0) & (table.measure == measure) & (table.model == model)
                                               & (table.factor == factor)].iloc[0]
    assert row("content", "SimCLR", "shape").value == pytest.approx(0.60 - 0.25)
    assert row("content", "Default", "shape").value == pytest.approx(0.55 - 0.25)
    assert row("headroom", "SimCLR", "color").value == pytest.approx(0.75 - 0.60)  # Spatial - SimCLR
    assert row("headroom", "Default", "color").value == pytest.approx(0.75 - 0.80)
    assert row("headroom", "SimCLR", "orientation").value == pytest.approx(0.60 - 0.52)  # Appearance - SimCLR
    assert row("headroom", "SimCLR", "position").treatment == 0.50 and row("headroom", "SimCLR", "position").baseline == 0.40
    assert len(table) == 2 * 2 * (1 + 4)  # seeds x full models x (content + 4 factors)
    assert set(summary(table).columns) == {"measure", "model", "factor", "mean", "min", "max"}


def test_floors_pass_and_each_miss_is_named_with_its_seed():
    floors = ValidityFloors()
    assert check_floors(validity_table(top1_table()), floors) == []
    missed = top1_table({("Default", 1, "shape"): 0.35, ("Spatial", 0, "color"): 0.65,
                         ("Appearance", 1, "orientation"): 0.54, ("Appearance", 1, "size"): 0.58,
                         ("Appearance", 1, "position"): 0.42})
    failures = check_floors(validity_table(missed), floors)
    assert len(failures) == 3
    assert failures[0].startswith("seed 0: colour headroom of SimCLR is +0.050")
    assert "seed 1: Default learns shape only +0.100 over random init (floor 0.15)" in failures
    assert any(f.startswith("seed 1: largest geometric headroom of SimCLR is size +0.030") for f in failures)
    assert failed_seeds(validity_table(missed), floors) == [0, 1]  # each seed once, however many floors it misses
    only_seed_1 = top1_table({("SimCLR", 1, "shape"): 0.30})  # content +0.05
    assert failed_seeds(validity_table(only_seed_1), floors) == [1]
    assert failed_seeds(validity_table(top1_table()), floors) == []


def test_missing_models_are_named():
    with pytest.raises(ValueError, match=r"missing \['Appearance'\]"):
        validity_table(top1_table().drop(index="Appearance", level=0))


def test_headroom_per_seed_bounds_a_claim():
    from ssl_lib.lab.validity import headroom

    table = validity_table(top1_table({("Spatial", 1, "color"): 0.62}))
    color = headroom(table, "SimCLR", "color")
    assert color.index.tolist() == [0, 1]
    assert color.tolist() == pytest.approx([0.75 - 0.60, 0.62 - 0.60])  # Spatial - SimCLR per seed
    assert headroom(table, "SimCLR", "size").tolist() == pytest.approx([0.58 - 0.55] * 2)  # Appearance - SimCLR
    with pytest.raises(ValueError, match="no headroom of 'MoCo'"):
        headroom(table, "MoCo", "color")


def test_a_seed_missing_some_models_gets_only_the_measures_it_has():
    # seed 1 has no Default and no Spatial (a profile that gives SimCLR and Appearance more seeds)
    table = validity_table(top1_table({("Default", 1, "shape"): 0.0}).drop(index=[("Default", 1), ("Spatial", 1)]))
    seed1 = table[table.seed == 1]
    assert set(zip(seed1.measure, seed1.model)) == {("content", "SimCLR"), ("headroom", "SimCLR")}
    assert set(seed1.factor[seed1.measure == "headroom"]) == {"position", "size", "orientation"}  # no colour keeper
    assert check_floors(table, ValidityFloors()) == []  # nothing missed, nothing invented for the absent models
    assert len(table[table.seed == 0]) == 2 * (1 + 4)
