"""Profiles: every size of a reproduction (data, model, epochs, seeds, evaluation) in one place.

A notebook takes ``profile`` as its papermill parameter and reads everything else from
``resolve(profile, **overrides)``, so the same notebook is a 30-second smoke test, a CPU
reproduction on the synthetic data or a paper-scale GPU run.

    P = resolve("cpu", seeds=[0], epochs=2)        # overrides: see OVERRIDES
    cfg = P.train_config(method="mocov2", recipe="spatial", seed=0)   # a validated TrainConfig
    run_dir = get_or_train(cfg, P.runs_root)       # ssl_lib.lab.runs

Time plan of the ``cpu`` profile (2 CPU cores, small_cnn width 16 at 32 px on the
``flat-large-upright`` scenes; measured wall times are in benchmarks/RESULTS.md, "The cpu
profile's time plan"): a 25-minute budget for the validity check and all 8 notebooks, most of it
the pretraining runs of `ssl_lib.lab.experiments`, which `ssl_lib.lab.prepare` trains and probes
before the notebooks, one single-threaded worker per core.  Runs are shared between notebooks and the
validity check (same experiment and seed = same folder): 03's MoCo v2 is 02's Default model,
03's SimCLR the control of 04-06; each run's transfer table is cached in its folder
(`experiments.transfer_tables`), so 07 re-probes nothing.

* validity (`ssl_lib.lab.validity`): SimCLR, Default, Spatial, Appearance x 3 seeds.
* 01 augmentations: no training.
* 02 invariance: 3 recipes x 3 seeds = 9 runs.
* 03 methods: SimCLR and MoCo v2 x 3 seeds + 4 more methods x seed 0 (no claim).
* 04 AugSelf: 3 runs; 05 CASSLE: 3 + 3 shuffled-descriptor controls; 06 feature augmentation:
  3 + 3 without stop-gradient + 5 single-seed illustrations.
* 07-08 transfer, fusion, sensitivity and the report: evaluation only.

How the data design and the optimiser were chosen (by the validity numbers only, never by a
claim): `benchmarks/benchmark_validity.py`, numbers in benchmarks/RESULTS.md, "The embedded
default's design".

``long`` is the bench the README's claims table comes from: the ``cpu`` profile 4x longer with
the 48-class colour task (the length and design that met every validity floor on the design
sweep's seed; on SimCLR's seven seeds colour headroom misses on two, README), and each
experiment's seed count from the power analysis (docs/power.md); it has no single-seed
illustrations. ``cpu`` stays the teaching run (its bench misses the content and colour floors).

The ``smoke`` profile keeps every code path but shrinks everything (width 8, 512 images,
1 epoch) so that all notebooks together run in a few minutes inside ``make test``; its
numbers are not meant to show the papers' effects.  ``gpu`` is the paper-scale setting
(STL-10 at 96 px, ResNet-18, 200 epochs, as AugSelf's STL-10 setup in docs/papers.md section 2), with
linear probes on the papers' eleven downstream datasets (`ssl_lib.evaluation.downstream`) under ``data_root``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ssl_lib.data import spread_indices
from ssl_lib.evaluation.probes import L2_GRID
from ssl_lib.lab.validity import ValidityFloors
from ssl_lib.train.config import TrainConfig


def project_root() -> Path:
    """The repository root (where pyproject.toml lives) for an editable install, else the cwd.

    Relative output paths are anchored here, so a notebook run from ``notebooks/`` (JupyterLab)
    and one run by the runner from the root write to the same ``runs/`` and ``outputs/``.
    """
    root = Path(__file__).resolve().parents[2]  # ssl_lib/lab/profiles.py -> the repository
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


@dataclass(frozen=True)
class EvalSizes:
    """Sizes of every evaluation, so that a profile scales them all together.

    probe_train / probe_test: labelled images for linear probes and kNN (synthetic splits).
    invariance_images: clean images per `measure_invariance` call; grid_points: values per
    transform grid (at most; the paper uses 256, `default_grids` 8-16).
    groups / group_views: `real_world_invariance` groups and renderings per group.  reference:
    clean images of the invariance whitening's separate reference set (at least 10 x the
    feature dimension, as Ericsson et al. whiten with a whole validation set).
    few_shot_episodes: N-way K-shot episodes.
    explorer_size: side of the photographs shown in notebook 01.
    l2_grid: L2 weights the linear and ridge probes select from (None: the papers' 45-point
    grid; the cpu and smoke profiles use spread subsets of it, docs/papers.md section 6).
    probe_iters: L-BFGS iterations per linear-probe fit (the authors allow thousands; the cpu
    profile's 150 move top-1 by at most about 0.01, benchmarks/RESULTS.md).
    fusion_protocol: how the fused models' probes pick their L2 weight: "ericsson" (Ericsson et
    al.'s 5-fold cross-validation) or "augself" (one validation split, 5x cheaper: cpu, smoke).
    downstream: real downstream datasets (`ssl_lib.evaluation.downstream`) that notebook 07 probes, read
    from the profile's ``data_root``; downstream_max: images kept per split (None: all).
    """

    probe_train: int
    probe_test: int
    invariance_images: int
    grid_points: int
    groups: int
    group_views: int
    reference: int
    few_shot_episodes: int
    explorer_size: int = 96
    l2_grid: tuple[float, ...] | None = None
    probe_iters: int = 500
    fusion_protocol: str = "ericsson"
    downstream: tuple[str, ...] = ()
    downstream_max: int | None = None

    def __post_init__(self):
        from ssl_lib.evaluation.probes import PROTOCOLS

        if self.fusion_protocol not in PROTOCOLS:
            raise ValueError(f"EvalSizes.fusion_protocol must be one of {list(PROTOCOLS)}, "
                             f"got {self.fusion_protocol!r}")
        if not (isinstance(self.probe_iters, int) and self.probe_iters > 0):
            raise ValueError(f"EvalSizes.probe_iters must be a positive int, got {self.probe_iters!r}")


@dataclass(frozen=True)
class Profile:
    """One size of the reproduction.

    train: TrainConfig fields every run of the profile shares (notebooks add method, recipe,
    seed and the method's own settings with `train_config`).  seeds: the repetitions of each
    experiment.  runs_root: where pretraining runs live (one folder per config, reused across
    notebooks); output: where notebooks, results and the HTML report go.  validity: the floors
    `ssl_lib.lab.validity` checks before the notebooks run (None: measured and reported only,
    as in the smoke profile, whose numbers mean nothing).

    Seeds per experiment (the power analysis's choice, docs/power.md): an experiment trains on
    the first ``seed_counts[name]`` of `seeds` when `seed_counts` names it, else on the first
    `base_seeds` (None: all of them); counts are clipped to the seeds given, so an override
    ``seeds=[10, 11, 12, 13, 14, 15]`` moves every experiment to new seeds with the same counts.
    illustrations: train the single-seed models that make no claim (`Experiment` policy
    "first"); False drops them from every notebook.
    """

    name: str
    description: str
    train: dict
    seeds: tuple[int, ...]
    eval: EvalSizes
    validity: ValidityFloors | None = None
    device: str = "auto"
    runs_root: str = ""
    output: str = ""
    base_seeds: int | None = None
    seed_counts: dict = field(default_factory=dict)
    illustrations: bool = True

    def __post_init__(self):
        root = project_root()
        runs = Path(self.runs_root or f"runs/{self.name}")
        out = Path(self.output or f"outputs/{self.name}")
        object.__setattr__(self, "runs_root", str(runs if runs.is_absolute() else root / runs))
        object.__setattr__(self, "output", str(out if out.is_absolute() else root / out))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        data_root = self.train.get("data_root")
        if data_root and not Path(data_root).is_absolute():  # notebooks run with cwd notebooks/
            object.__setattr__(self, "train", {**self.train, "data_root": str(root / data_root)})
        if not self.seeds:
            raise ValueError(f"profile {self.name!r}: seeds must name at least one seed")
        repeated = sorted({s for s in self.seeds if self.seeds.count(s) > 1})
        if repeated:  # one run counted as several seeds would pass the verdict rule's minimum
            raise ValueError(f"profile {self.name!r}: seeds must be distinct, {repeated} repeated")
        counts = {**self.seed_counts, **({} if self.base_seeds is None else {"base_seeds": self.base_seeds})}
        bad = {k: v for k, v in counts.items() if not (isinstance(v, int) and v >= 1)}
        if bad:
            raise ValueError(f"profile {self.name!r}: seed counts must be positive ints, got {bad}")
        from ssl_lib.lab.experiments import all_experiments

        unknown = sorted(set(self.seed_counts) - {e.name for e in all_experiments()})
        if unknown:
            raise ValueError(f"profile {self.name!r}: seed_counts names unknown experiments {unknown}")
        self.train_config()  # fail at resolve time, not in the middle of a notebook

    def experiment_seeds(self, name: str) -> tuple[int, ...]:
        """The seeds experiment `name` trains on (policy "all"): the first ``seed_counts[name]``
        (else `base_seeds`, else all) of `seeds`."""
        count = self.seed_counts.get(name, self.base_seeds or len(self.seeds))
        return tuple(self.seeds[:count])

    @property
    def image_size(self) -> int:
        return self.train_config().image_size

    @property
    def dataset(self) -> str:
        return self.train_config().dataset

    def torch_device(self):
        """The torch.device evaluations run on ("auto": CUDA when available, else CPU)."""
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def invariance_grids(self) -> dict[str, list]:
        """`ssl_lib.evaluation.invariance.default_grids` at the profile's image size, each thinned to at
        most ``eval.grid_points`` evenly spaced values (the ends kept)."""
        from ssl_lib.evaluation.invariance import default_grids

        return {name: [values[i] for i in spread_indices(len(values), self.eval.grid_points)]
                for name, values in default_grids(self.image_size).items()}

    def train_config(self, **changes) -> TrainConfig:
        """A validated TrainConfig: the profile's settings, its device, then `changes`.

        `output_dir` is left to `ssl_lib.lab.runs.get_or_train`, which names the run folder after
        the config.  Unknown field names raise TypeError naming them.
        """
        return TrainConfig().replace(**{"device": self.device, **self.train, **changes})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Settings shared by all CPU-sized profiles: the synthetic data at 32 px, no worker processes
# (the data already lives in memory as a tensor), kNN monitor every epoch.  channels_last: the
# cpu profile's SimCLR run trains in 24.6 s instead of 30.2 s on 2 cores (fp32 either way;
# benchmarks/RESULTS.md, "Tuning the cpu profile").
# AdamW at lr 2e-3 for batches of 128 (base_lr 0.004 per 256): in the few hundred steps a CPU
# budget allows, SGD at the papers' learning rates barely moves the contrastive loss
# (benchmarks/RESULTS.md, "The embedded default's design").
_SYNTHETIC = dict(dataset="synthetic", image_size=32, num_workers=0, backbone="small_cnn", channels_last="on",
                  optimizer="adamw", base_lr=0.004, weight_decay=0.05)

PROFILES: dict[str, Profile] = {}


def papers_grid(points: int) -> tuple[float, ...]:
    """`points` weights spread over the papers' L2 grid ``logspace(-6, 5, 45)``, ends included."""
    return tuple(L2_GRID[i] for i in spread_indices(len(L2_GRID), points))


def _register(profile: Profile) -> Profile:
    PROFILES[profile.name] = profile
    return profile


_register(Profile(
    name="smoke",
    description="Every code path, tiny sizes: all notebooks in a few minutes (tests). Numbers are meaningless.",
    train=dict(_SYNTHETIC, backbone_width=8, n_train=512, n_val=256, epochs=1, batch_size=128,
               warmup_epochs=0.0, proj_hidden=64, proj_dim=32, pred_hidden=32, queue_size=512,
               progress=False),
    # A second seed for the models of 04's claims and their headroom, so that the tests run the
    # notebooks with per-experiment seed counts (as `long` has them).
    seeds=(0, 1),
    base_seeds=1,
    seed_counts={"SimCLR": 2, "SimCLR + AugSelf": 2, "Spatial": 2, "Appearance": 2},
    eval=EvalSizes(probe_train=512, probe_test=256, invariance_images=64, grid_points=3, groups=8,
                   group_views=4, reference=640, few_shot_episodes=20, explorer_size=64,
                   l2_grid=papers_grid(3), probe_iters=50, fusion_protocol="augself"),
    device="cpu",
))

# The cpu profile's data, model and evaluation, shared with `long`.
# batch 128: 32 steps per epoch (batch 256 gave too few steps for the kNN to move); a queue of
# 1024 keys stays well below the 4096 images, so a key of the positive's own image from the
# previous epoch is rarely a negative.
_CPU_TRAIN = dict(_SYNTHETIC, backbone_width=16, n_train=4096, n_val=1024, epochs=6, batch_size=128,
                  warmup_epochs=0.5, proj_hidden=512, proj_dim=128, pred_hidden=128, queue_size=1024,
                  progress=True)
_CPU_EVAL = EvalSizes(probe_train=4096, probe_test=2048, invariance_images=256, grid_points=8, groups=64,
                      group_views=8, reference=1536, few_shot_episodes=500, explorer_size=96,
                      # 7 of the papers' 45 weights and 150 L-BFGS steps keep each probe to seconds on one
                      # core (gpu: all 45 weights, 500 steps)
                      l2_grid=papers_grid(7), probe_iters=150, fusion_protocol="augself")

_register(Profile(
    name="cpu",
    description="The default: synthetic data, small CNN, 2 CPU cores, all notebooks in ~22 minutes.",
    # three seeds, the fewest that give a spread for every claim: the teaching run; its bench
    # misses the content floor (benchmarks/RESULTS.md), the claims are decided by `long`.
    train=_CPU_TRAIN,
    seeds=(0, 1, 2),
    validity=ValidityFloors(),
    eval=_CPU_EVAL,
    device="cpu",
))

_register(Profile(
    name="long",
    description="The claims' bench: the cpu profile 4x longer (24 epochs) with the colour task in 48 hue "
                "classes, seeds per experiment from the power analysis (docs/power.md).",
    # 24 epochs: the shortest length measured at which both models clear the content floor; the
    # 48-class colour task: the lever that gives SimCLR its colour headroom (benchmarks/RESULTS.md,
    # "A colour lever"). No single-seed illustrations: every run here serves a claim.
    train=dict(_CPU_TRAIN, epochs=24, scene="flat-large-upright-fine-hue"),
    # Seeds per experiment: docs/power.md (the power analysis, its inputs and its result).
    # Every experiment on the first 6, those of CASSLE's colour claims on more (fourth pass).
    seeds=tuple(range(10)),
    base_seeds=6,
    # Feature augmentation's models: 3 in the first pass (its claims were decidable with 3), 4 for
    # "SimCLR + FA noise" in the second (the long run's spreads), 5 for both in the third (the
    # spreads of the rerun on seeds 10-15: the stop-gradient shape row needs 5). CASSLE's two
    # colour rows, undecided on seeds 0-5: 10 seeds for matched vs shuffled and 7 for "improves
    # colour" (with its baseline and the headroom's models) in the fourth (the spreads of both
    # seed sets pooled). Those spreads were the width-64 CASSLE's; with the encoder scaled to the
    # backbone the pooled analysis asks for 5 for CASSLE and its control (docs/power.md section 10),
    # left at 10 so the re-measure changed the model and nothing else.
    seed_counts={"SimCLR + FA noise": 5, "SimCLR + FA noise, no stop-grad": 5,
                 "SimCLR + CASSLE": 10, "SimCLR + CASSLE (shuffled descriptors)": 10,
                 "SimCLR": 7, "Spatial": 7, "Appearance": 7},
    validity=ValidityFloors(),
    eval=_CPU_EVAL,
    illustrations=False,
    device="auto",
))

_register(Profile(
    name="gpu",
    description="Paper scale: STL-10 (train+unlabeled) at 96 px, ResNet-18, 200 epochs, one GPU.",
    # AugSelf's STL-10 setup: torchvision's ImageNet stem at 96 px, SGD lr 0.03 x B / 256, wd 5e-4,
    # cosine, no warm-up, 200 epochs; MoCo's queue of 65,536 keys (README, "gpu profile vs the papers").
    train=dict(dataset="stl10", data_root="data", image_size=96, backbone="resnet18", cifar_stem=False,
               n_val=5000, epochs=200, batch_size=256, base_lr=0.03, weight_decay=5e-4, warmup_epochs=0.0,
               queue_size=65536, num_workers=8, progress=True),
    seeds=(0, 1, 2),
    eval=EvalSizes(probe_train=5000, probe_test=8000, invariance_images=1000, grid_points=16, groups=100,
                   group_views=12, reference=5120, few_shot_episodes=2000, explorer_size=96,
                   downstream=("cifar10", "cifar100", "food101", "mit67", "pets", "flowers102", "caltech101",
                               "cars", "aircraft", "dtd", "sun397")),
    device="cuda",
))

# What a notebook (or `make reproduce`) may override, and the profile field each one changes.
OVERRIDES = ("seeds", "device", "dataset", "data_root", "epochs", "output", "runs_root")


def get_profile(name: str) -> Profile:
    """The registered profile `name`; ValueError naming it and the known profiles otherwise."""
    if not isinstance(name, str) or name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known profiles: {sorted(PROFILES)}")
    return PROFILES[name]


def resolve(profile: str | Profile, **overrides) -> Profile:
    """The profile with the given overrides applied; None values keep the profile's setting.

    Overrides (notebook parameters): seeds (int or list of ints), device, dataset, data_root,
    epochs, output (folder of results and the report), runs_root (folder of pretraining runs).
    Raises ValueError naming unknown override keys or an unknown profile, and the TrainConfig
    field at fault if an override makes the training settings invalid.
    """
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown profile override(s) {unknown}; allowed: {list(OVERRIDES)}")
    base = profile if isinstance(profile, Profile) else get_profile(profile)
    given = {k: v for k, v in overrides.items() if v is not None}
    changes, train = {}, dict(base.train)
    if "seeds" in given:
        seeds = given["seeds"]
        changes["seeds"] = (seeds,) if isinstance(seeds, int) else tuple(seeds)
    for key in ("device", "output", "runs_root"):
        if key in given:
            changes[key] = str(given[key])
    for key in ("dataset", "data_root", "epochs"):
        if key in given:
            train[key] = given[key]
    if "epochs" in given and train.get("warmup_epochs", 0) > given["epochs"]:
        train["warmup_epochs"] = float(given["epochs"]) / 2  # keep the warm-up inside the shorter run
    changes["train"] = train
    return dataclasses.replace(base, **changes)
