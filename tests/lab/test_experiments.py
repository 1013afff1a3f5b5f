"""Experiments: unique names, valid configs under every profile, shared runs between notebooks."""

import pytest

from ssl_lib.lab.experiments import BASE, all_experiments, get, group
from ssl_lib.lab.profiles import resolve
from ssl_lib.lab.runs import run_name


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_every_experiment_is_a_valid_config(profile):
    P = resolve(profile, seeds=[0, 1, 2])
    for exp in all_experiments():
        for seed in exp.seeds_of(P):
            assert exp.config(P, seed).seed == seed
    names = [e.name for e in all_experiments()]
    assert len(names) == len(set(names))


def test_seed_policy_and_shared_runs():
    P = resolve("cpu", seeds=[3, 4, 5])
    assert get("Default").seeds_of(P) == (3, 4, 5) and get("BYOL").seeds_of(P) == (3,)
    # 03's SimCLR is the control of 04-06: the same run folder as a plain BASE config
    assert run_name(get("SimCLR").config(P, 4)) == run_name(P.train_config(**BASE, seed=4))
    assert run_name(get("Default").config(P, 3)) == run_name(get("MoCo v2").config(P, 3))
    with pytest.raises(ValueError, match="unknown experiment group 'gan'"):
        group("gan")
    with pytest.raises(ValueError, match="unknown experiment 'SwAV'"):
        get("SwAV")


def test_transfer_tables_probe_each_run_once(tmp_path, monkeypatch):
    import dataclasses

    import pandas as pd

    from ssl_lib.lab import experiments
    from ssl_lib.lab.profiles import EvalSizes

    sizes = EvalSizes(probe_train=64, probe_test=320, invariance_images=8, grid_points=2, groups=2,
                      group_views=2, reference=8, few_shot_episodes=4, l2_grid=(1e-2,))
    P = dataclasses.replace(resolve("smoke", seeds=[0], runs_root=str(tmp_path)), eval=sizes)
    P = dataclasses.replace(P, train={**P.train, "n_train": 128, "n_val": 64})
    runs = experiments.train_experiments(P, [get("SimCLR")], log=None)
    data = experiments.profile_transfer_data(P)
    first = experiments.transfer_tables(P, runs, data)
    assert set(first.task) >= {"shape", "color", "x", "shape 5-shot"} and set(first.seed) == {0}
    assert len(list((tmp_path).glob("*/transfer-*.csv"))) == 1

    # cached: no probe runs again, and the table takes the name the caller gives the run
    def no_probe(*args, **kwargs):
        raise AssertionError("probed a run whose table is cached")

    monkeypatch.setattr(experiments, "profile_transfer_table", no_probe)
    again = experiments.transfer_tables(P, runs.assign(model="renamed"), data)
    pd.testing.assert_frame_equal(again.drop(columns="model"), first.drop(columns="model"), check_dtype=False)
    assert set(again.model) == {"renamed"}

    # other evaluation settings are another cache entry, not a stale hit
    other = dataclasses.replace(P, eval=dataclasses.replace(sizes, l2_grid=(1e-1,)))
    with pytest.raises(AssertionError, match="cached"):
        experiments.transfer_tables(other, runs, data)
