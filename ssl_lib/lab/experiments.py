"""The models the notebooks train, by name: one source of truth shared by notebooks 02-08.

An experiment is the TrainConfig fields that define a model on top of a profile, and which of
the profile's seeds it is trained with. The same experiment and seed always give the same config,
hence the same run folder (`ssl_lib.lab.runs.get_or_train`): notebook 07 finds the models 02-06
trained, and trains only what is missing when run on its own.

    for exp in group("augself"):
        for seed in exp.seeds_of(P):
            run_dir = get_or_train(exp.config(P, seed), P.runs_root)

Seed policy: "all" for the models a claim compares (paired over the seeds both models have; a
claim needs at least 3, `ssl_lib.lab.verdicts.MIN_SEEDS`; how many of the profile's seeds each
experiment gets is the profile's `seed_counts`, chosen by the power analysis), "first" for
illustrations that make no claim (one seed, or none in a profile without illustrations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ssl_lib.train.config import TrainConfig
from ssl_lib.train.run_dir import RunDir

# Each method with its own paper's augmentations (SimSiam used MoCo v2's; Barlow Twins and VICReg BYOL's).
METHOD_RECIPES = {"simclr": "simclr", "mocov2": "mocov2", "byol": "byol", "simsiam": "mocov2",
                  "barlow_twins": "byol", "vicreg": "byol"}
METHOD_NAMES = {"simclr": "SimCLR", "mocov2": "MoCo v2", "byol": "BYOL", "simsiam": "SimSiam",
                "barlow_twins": "Barlow Twins", "vicreg": "VICReg"}
# The method notebooks 04-06 build on: the fastest on CPU, and one all three papers used.
BASE = dict(method="simclr", recipe="simclr")


@dataclass(frozen=True)
class Experiment:
    """A named model: TrainConfig `fields` and a seed policy ("all" or "first")."""

    name: str
    fields: dict = field(default_factory=dict)
    seeds: str = "all"

    def seeds_of(self, profile) -> tuple[int, ...]:
        """The profile seeds this experiment is trained with: its own count of them for "all"
        (`Profile.experiment_seeds`), the first for "first" (none when the profile leaves out
        illustrations)."""
        if self.seeds == "all":
            return profile.experiment_seeds(self.name)
        return tuple(profile.seeds[:1]) if profile.illustrations else ()

    def config(self, profile, seed: int) -> TrainConfig:
        """The validated TrainConfig of this experiment under `profile` for `seed`."""
        return profile.train_config(**self.fields, seed=seed)


def _exp(name, seeds="all", **fields) -> Experiment:
    return Experiment(name, fields, seeds)


GROUPS: dict[str, list[Experiment]] = {
    # 02: Ericsson et al.'s three MoCo v2 models
    "invariance": [_exp("Default", method="mocov2", recipe="mocov2"),
                   _exp("Spatial", method="mocov2", recipe="spatial"),
                   _exp("Appearance", method="mocov2", recipe="appearance")],
    # 03: the six baselines. SimCLR on every seed (the control of 04-06), MoCo v2 too (its runs
    # are 02's Default model: same config, same folder); the other four on the first seed.
    "methods": [_exp(METHOD_NAMES[m], seeds="all" if m in ("simclr", "mocov2") else "first", method=m, recipe=r)
                for m, r in METHOD_RECIPES.items()],
    # 04: AugSelf with the authors' STL-10 weights
    "augself": [_exp("SimCLR + AugSelf", **BASE, augself="crop:1.0,color:1.0")],
    # 05: CASSLE with the authors' encoder; the shuffled-descriptor model is the control
    "cassle": [_exp("SimCLR + CASSLE", **BASE, cassle=True),
               _exp("SimCLR + CASSLE (shuffled descriptors)", **BASE, cassle=True,
                    cassle_descriptors="shuffled")],
    # 06: feature augmentation: operators, gradient flow and arrangement
    "feature_aug": [_exp("SimCLR + FA noise", **BASE, feature_aug="noise"),
                    _exp("SimCLR + FA dropout", seeds="first", **BASE, feature_aug="dropout"),
                    _exp("SimCLR + FA mix", seeds="first", **BASE, feature_aug="mix"),
                    _exp("SimCLR + FA generator", seeds="first", **BASE, feature_aug="generator"),
                    _exp("SimCLR + FA noise, no stop-grad", **BASE, feature_aug="noise", fa_stop_grad=False),
                    _exp("BYOL + FA parallel", seeds="first", method="byol", recipe="byol", feature_aug="noise",
                         fa_arrangement="parallel"),
                    _exp("BYOL + FA basic", seeds="first", method="byol", recipe="byol", feature_aug="noise",
                         fa_arrangement="basic")],
}


# What each notebook trains, by its number: the one list a notebook and `ssl_lib.lab.prepare`
# (which trains them ahead, several at a time) both read.
NOTEBOOK_EXPERIMENTS = {
    "02": lambda: GROUPS["invariance"],
    "03": lambda: GROUPS["methods"],
    "04": lambda: [get("SimCLR"), *GROUPS["augself"]],
    "05": lambda: [get("SimCLR"), *GROUPS["cassle"]],
    "06": lambda: [get("SimCLR"), get("BYOL"), *GROUPS["feature_aug"]],
    "07": lambda: all_experiments(),
}


def for_notebook(notebook: str, profile=None) -> list[Experiment]:
    """The experiments notebook `notebook` ("04" or "04_augself") trains; [] for one that trains none.
    With `profile`, only those it trains on at least one seed (illustrations may be off)."""
    make = NOTEBOOK_EXPERIMENTS.get(str(notebook).split("_")[0].zfill(2))
    found = list(make()) if make else []
    return [exp for exp in found if exp.seeds_of(profile)] if profile is not None else found


def group(name: str) -> list[Experiment]:
    """The experiments of one group (a notebook's models); ValueError naming unknown groups."""
    if name not in GROUPS:
        raise ValueError(f"unknown experiment group {name!r}; known: {list(GROUPS)}")
    return GROUPS[name]


def get(name: str) -> Experiment:
    """An experiment by its name, from any group."""
    for experiments in GROUPS.values():
        for exp in experiments:
            if exp.name == name:
                return exp
    raise ValueError(f"unknown experiment {name!r}; known: {[e.name for g in GROUPS.values() for e in g]}")


def all_experiments() -> list[Experiment]:
    """Every experiment once, in notebook order."""
    return [exp for experiments in GROUPS.values() for exp in experiments]


def train_experiments(profile, experiments: list[Experiment], log=print):
    """Train (or reuse) every experiment for each of its seeds.

    Returns a DataFrame with one row per run: model, seed, run (folder path), epochs, final_loss,
    knn_top1 (last epoch) and train_seconds.
    """
    import pandas as pd

    from ssl_lib.lab.runs import get_or_train

    rows = []
    for exp in experiments:
        for seed in exp.seeds_of(profile):
            run = get_or_train(exp.config(profile, seed), profile.runs_root, log=log)
            metrics = run.read_metrics()
            rows.append(dict(model=exp.name, seed=seed, run=str(run.path), epochs=len(metrics),
                             final_loss=metrics[-1]["loss"], knn_top1=metrics[-1].get("knn_top1"),
                             train_seconds=round(sum(m["epoch_seconds"] for m in metrics), 1)))
    return pd.DataFrame(rows)


def training_curves(runs):
    """Per-epoch metrics of the runs in a `train_experiments` table, with model and seed columns."""
    import pandas as pd

    return pd.DataFrame([dict(model=r.model, seed=r.seed, **m) for r in runs.itertuples()
                         for m in RunDir(r.run).read_metrics()])


def load_backbones(runs, device="cpu") -> dict:
    """{(model, seed): frozen backbone in eval mode} for the runs of a `train_experiments` table."""
    return {(r.model, r.seed): RunDir(r.run).load_backbone(device) for r in runs.itertuples()}


def profile_transfer_data(profile, device="cpu", scene=None):
    """The probe splits of a profile (`ssl_lib.evaluation.transfer.TransferData`):
    ``eval.probe_train`` / ``probe_test // 2`` / ``probe_test`` scenes at the profile's image
    size, of its training data's design (or of `scene`, a design name or `SceneDesign`)."""
    from ssl_lib.evaluation.transfer import transfer_data

    sizes = profile.eval
    return transfer_data(sizes.probe_train, sizes.probe_test // 2, sizes.probe_test, size=profile.image_size,
                         device=device, scene=profile.train_config().scene if scene is None else scene)


def profile_transfer_table(features: dict, data, profile, model: str, seed: int):
    """`ssl_lib.evaluation.transfer.transfer_table` of features {split: (N, D)} with the profile's
    L2 grid, probe iterations and few-shot episodes, plus a ``seed`` column."""
    from ssl_lib.evaluation.transfer import transfer_table

    return transfer_table(features, data, model=model, l2_grid=profile.eval.l2_grid,
                          few_shot_episodes=profile.eval.few_shot_episodes, seed=seed,
                          max_iter=profile.eval.probe_iters).assign(seed=seed)


def _settings_digest(profile, data) -> str:
    """A digest of everything a probe table depends on besides the weights: the evaluation
    sizes and L2 grid, the probes' revision, the image size, and the shapes of the probe data."""
    import dataclasses
    import hashlib
    import json

    from ssl_lib.evaluation.probes import PROBE_REVISION

    key = dict(eval=dataclasses.asdict(profile.eval), probe_revision=PROBE_REVISION, size=profile.image_size,
               data={split: list(images.shape) for split, images in data.images.items()})
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]


def _cached_per_run(runs, file_name: str, compute):
    """Concatenate `compute(run_row)` over the runs of a `train_experiments` table, each cached
    as `file_name` in its run folder (`RunDir.cached_table`); model and seed come from `runs`."""
    import pandas as pd

    tables = [RunDir(r.run).cached_table(file_name, lambda r=r: compute(r)).assign(model=r.model, seed=r.seed)
              for r in runs.itertuples()]
    return pd.concat(tables, ignore_index=True)


def _run_features(run_dir, data, device) -> dict:
    """Frozen features {split: (N, D)} of a finished run's backbone on every split of `data`."""
    from ssl_lib.evaluation.transfer import split_features

    return split_features(RunDir(run_dir).load_backbone(device), data)


def transfer_tables(profile, runs, data, device="cpu"):
    """`profile_transfer_table` rows of every run in a `train_experiments` table.

    Each run's table is cached in its folder (``transfer-<digest>.csv``), so a model is probed
    once however many notebooks report it; the ``model`` column is the name this table gives the
    run.  Returns the long table: model, task, kind, metric, value, seed.
    """
    def compute(r):
        return profile_transfer_table(_run_features(r.run, data, device), data, profile, model=r.model, seed=r.seed)

    return _cached_per_run(runs, f"transfer-{_settings_digest(profile, data)}.csv", compute)


def downstream_tables(profile, runs, data, device="cpu"):
    """`ssl_lib.evaluation.downstream.downstream_table` rows of every run on one real downstream dataset
    (`data` from `load_downstream`), cached per run like `transfer_tables`."""
    from ssl_lib.evaluation.downstream import downstream_table

    def compute(r):
        return downstream_table(_run_features(r.run, data, device), data, model=r.model,
                                l2_grid=profile.eval.l2_grid, seed=r.seed)

    return _cached_per_run(runs, f"downstream-{data.name}-{_settings_digest(profile, data)}.csv", compute)


def random_init_tables(profile, data, device="cpu", seeds=None):
    """`transfer_tables` rows of the random-init backbone of every profile seed (model "random init").

    Cached like a run's tables, in ``<runs_root>/random-init-<run name of the seed's SimCLR
    config>``: the untrained network depends on the architecture and seed only, and notebooks 03
    and 07 and the validity check all compare with it. `seeds`: a subset of the profile's (None: all).
    """
    import pandas as pd

    from ssl_lib.evaluation.transfer import split_features
    from ssl_lib.lab.runs import run_name

    tables = []
    for (model, seed), backbone in random_backbones(profile, device, seeds).items():
        folder = RunDir(Path(profile.runs_root) / f"random-init-{run_name(get('SimCLR').config(profile, seed))}")
        compute = lambda backbone=backbone, seed=seed: profile_transfer_table(split_features(backbone, data), data,
                                                                               profile, model=model, seed=seed)
        tables.append(folder.cached_table(f"transfer-{_settings_digest(profile, data)}.csv", compute)
                      .assign(model=model, seed=seed))
    return pd.concat(tables, ignore_index=True)


def random_backbones(profile, device="cpu", seeds=None) -> dict:
    """{("random init", seed): an untrained backbone of the profile's architecture} per profile seed
    (or per seed of `seeds`)."""
    import torch

    from ssl_lib.models.compose import build_model

    out = {}
    for seed in profile.seeds if seeds is None else seeds:
        torch.manual_seed(seed)
        out[("random init", seed)] = build_model(profile.train_config(**BASE, seed=seed)).backbone.to(device).eval()
    return out
