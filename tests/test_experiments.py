"""Experiments: unique names, valid configs under every profile, shared runs between notebooks."""

import pytest

from ssl_lib.experiments import BASE, all_experiments, get, group
from ssl_lib.profiles import resolve
from ssl_lib.runs import run_name


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_every_experiment_is_a_valid_config(profile):
    P = resolve(profile, seeds=[0, 1, 2])
    for exp in all_experiments():
        for seed in exp.seeds_of(P):
            assert exp.config(P, seed).seed == seed
    names = [e.name for e in all_experiments()]
    assert len(names) == len(set(names))


def test_seed_policy_and_shared_runs():
    P = resolve("smoke", seeds=[3, 4, 5])
    assert get("Default").seeds_of(P) == (3, 4, 5) and get("BYOL").seeds_of(P) == (3,)
    # 03's SimCLR is the control of 04-06: the same run folder as a plain BASE config
    assert run_name(get("SimCLR").config(P, 4)) == run_name(P.train_config(**BASE, seed=4))
    assert run_name(get("Default").config(P, 3)) == run_name(get("MoCo v2").config(P, 3))
    with pytest.raises(ValueError, match="unknown experiment group 'gan'"):
        group("gan")
    with pytest.raises(ValueError, match="unknown experiment 'SwAV'"):
        get("SwAV")
