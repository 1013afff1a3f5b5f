"""Profiles: one source of truth for run sizes; overrides validated by name."""

import pytest

from ssl_lib.train.config import TrainConfig
from ssl_lib.evaluation.invariance import default_grids
from ssl_lib.lab.profiles import OVERRIDES, PROFILES, EvalSizes, Profile, get_profile, project_root, resolve


def test_the_three_profiles_exist_and_give_valid_train_configs():
    assert {"smoke", "cpu", "gpu"} <= set(PROFILES)
    for name, profile in PROFILES.items():
        cfg = profile.train_config(method="mocov2", recipe="spatial", seed=profile.seeds[0])
        assert isinstance(cfg, TrainConfig) and cfg.method == "mocov2" and cfg.device == profile.device
        assert profile.seeds and isinstance(profile.eval, EvalSizes)


def test_cpu_is_bigger_than_smoke_and_gpu_is_paper_scale():
    smoke, cpu, gpu = (get_profile(n).train_config() for n in ("smoke", "cpu", "gpu"))
    assert cpu.n_train * cpu.epochs > 10 * smoke.n_train * smoke.epochs
    assert cpu.dataset == "synthetic" and cpu.device == "cpu"
    assert gpu.dataset == "stl10" and gpu.backbone == "resnet18" and gpu.image_size == 96 and gpu.epochs >= 200


def test_unknown_profile_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"unknown profile 'nope'.*known profiles.*cpu"):
        get_profile("nope")
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        resolve("nope")


def test_unknown_override_is_a_value_error_naming_the_key():
    with pytest.raises(ValueError, match=r"unknown profile override\(s\) \['bogus'\].*allowed"):
        resolve("smoke", bogus=1, seeds=None)


def test_overrides_apply_and_none_keeps_the_profile_value(tmp_path):
    base = get_profile("smoke")
    same = resolve("smoke", seeds=None, device=None, epochs=None, output=None)
    assert same == base
    p = resolve("smoke", seeds=[3, 4], epochs=2, device="cpu", output=tmp_path / "o", runs_root=tmp_path / "r")
    assert p.seeds == (3, 4) and p.train_config().epochs == 2
    assert p.output == str(tmp_path / "o") and p.runs_root == str(tmp_path / "r")
    assert resolve("smoke", seeds=7).seeds == (7,)
    assert base.seeds == (0, 1), "resolve must not mutate the registered profile"


def test_an_override_that_breaks_the_train_config_names_the_field():
    with pytest.raises(ValueError, match="epochs"):
        resolve("smoke", epochs=0)


def test_shorter_epochs_keep_the_warmup_inside_the_run():
    assert resolve("cpu", epochs=1).train_config().warmup_epochs <= 1


def test_relative_folders_are_anchored_at_the_project_root():
    p = get_profile("cpu")
    assert p.runs_root == str(project_root() / "runs" / "cpu")
    assert p.output == str(project_root() / "outputs" / "cpu")


def test_invariance_grids_are_thinned_default_grids_keeping_the_ends():
    p = get_profile("smoke")
    grids, full = p.invariance_grids(), default_grids(p.image_size)
    assert set(grids) == set(full)
    for name, values in grids.items():
        assert len(values) <= max(p.eval.grid_points, 2)
        assert values[0] == full[name][0] and values[-1] == full[name][-1]
        assert all(v in full[name] for v in values)


def test_a_profile_without_seeds_is_refused():
    with pytest.raises(ValueError, match="seeds"):
        Profile(name="x", description="", train={}, seeds=(), eval=get_profile("smoke").eval)


def test_override_names_are_the_documented_ones():
    assert set(OVERRIDES) == {"seeds", "device", "dataset", "data_root", "epochs", "output", "runs_root"}


def test_relative_data_root_is_anchored_at_the_project_root():
    from pathlib import Path

    from ssl_lib.lab.profiles import project_root

    gpu = resolve("gpu")
    assert Path(gpu.train_config().data_root) == project_root() / "data"
    assert resolve("gpu", data_root="/datasets").train_config().data_root == "/datasets"
    assert Path(resolve("cpu", data_root="elsewhere").train["data_root"]) == project_root() / "elsewhere"


def test_project_root_is_the_repository_whatever_the_working_directory(tmp_path, monkeypatch):
    from ssl_lib.lab.profiles import project_root

    monkeypatch.chdir(tmp_path)  # kernels run in notebooks/, the runner in the root
    root = project_root()
    assert (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() and (root / "ssl_lib").is_dir()
    assert resolve("smoke").output == str(root / "outputs" / "smoke")


def test_eval_sizes_refuse_an_unknown_fusion_protocol_and_bad_probe_steps():
    from ssl_lib.lab.profiles import EvalSizes

    sizes = dict(probe_train=8, probe_test=8, invariance_images=8, grid_points=2, groups=2, group_views=2,
                 reference=8, few_shot_episodes=1)
    with pytest.raises(ValueError, match="fusion_protocol"):
        EvalSizes(**sizes, fusion_protocol="cv10")
    with pytest.raises(ValueError, match="probe_iters"):
        EvalSizes(**sizes, probe_iters=0)
    assert resolve("cpu").validity is not None and resolve("smoke").validity is None


def test_seed_counts_give_each_experiment_its_first_seeds_and_follow_a_seeds_override():
    from ssl_lib.lab import experiments

    P = resolve(Profile(name="counted", description="", train=dict(get_profile("cpu").train), seeds=(0, 1, 2, 3, 4),
                        eval=get_profile("cpu").eval, base_seeds=3, seed_counts={"SimCLR + AugSelf": 5},
                        illustrations=False))
    assert experiments.get("SimCLR + AugSelf").seeds_of(P) == (0, 1, 2, 3, 4)
    assert experiments.get("Default").seeds_of(P) == (0, 1, 2)
    assert experiments.get("BYOL").seeds_of(P) == ()  # an illustration, left out
    assert "BYOL" not in [e.name for e in experiments.for_notebook("03", P)]
    moved = resolve(P, seeds=[10, 11, 12, 13])
    assert experiments.get("SimCLR + AugSelf").seeds_of(moved) == (10, 11, 12, 13)  # clipped to the seeds given
    assert experiments.get("Default").seeds_of(moved) == (10, 11, 12)
    with pytest.raises(ValueError, match="seed counts must be positive ints"):
        Profile(name="bad", description="", train={}, seeds=(0,), eval=get_profile("cpu").eval, seed_counts={"SimCLR": 0})
    with pytest.raises(ValueError, match=r"seed_counts names unknown experiments \['SwAV'\]"):
        Profile(name="bad", description="", train={}, seeds=(0,), eval=get_profile("cpu").eval, seed_counts={"SwAV": 3})


def test_repeated_seeds_are_refused():
    # One run counted as three seeds would pass the verdict rule's minimum of 3.
    with pytest.raises(ValueError, match=r"seeds must be distinct, \[0\] repeated"):
        resolve("cpu", seeds=[0, 0, 1])
