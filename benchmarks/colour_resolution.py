"""Colour headroom against the colour task's resolution, on a profile's trained models.

    python benchmarks/colour_resolution.py --profile long --seeds 0 1 2 3 4 5 --classes 24 48 96
    python benchmarks/colour_resolution.py --profile long --classes 48 --probe-train 4096 16384 --probe-iters 150 500

The colour headroom of the validity check (`ssl_lib.lab.validity`) is the colour linear top-1 of
the Spatial model (no colour augmentation) minus SimCLR's. How fine the colour task is decides
how much of what the hue jitter blurs the task asks for. When the profile's scene design draws
the object hue uniformly on the circle (``hue_spread = 0.5 / colors``), a design with K classes
draws its images from the same distribution for every K: only the label's bins differ. So the
headroom at K classes can be measured on the runs already trained, by probing them on probe
splits of the same design with K classes; no model is retrained.

``--probe-train`` and ``--probe-iters`` vary the linear probe instead (its training images, its
L-BFGS steps; default: the profile's), to tell the probe's share of the headroom's seed-to-seed
spread from the models'. Prints one row per (K, probe, seed), then per (K, probe) the mean, min
and sd over seeds of the headroom and of each model's colour top-1.
"""

from __future__ import annotations

import dataclasses
import sys

import pandas as pd

from ssl_lib.data.latents import get_scene
from ssl_lib.evaluation.probes import linear_probe
from ssl_lib.evaluation.transfer import SPLITS, split_features
from ssl_lib.lab import experiments
from ssl_lib.lab.experiments import get
from ssl_lib.lab.profiles import resolve
from ssl_lib.lab.validity import KEEPER
from ssl_lib.train.run_dir import RunDir
from ssl_lib.utils.cli import BAD_INPUT, OneLineParser, print_error


def colour_top1(profile, classes: int, runs: pd.DataFrame, probe_iters=None) -> pd.DataFrame:
    """Colour linear top-1 of every run in `runs` (a `train_experiments` table) on the profile's
    probe splits with the colour label in `classes` hue classes, fitted with each of `probe_iters`
    L-BFGS step budgets (default: the profile's) on features extracted once per run: columns K,
    probe_iters, model, seed, top1."""
    base = get_scene(profile.train_config().scene)
    if abs(base.hue_spread - 0.5 / base.colors) > 1e-12:
        raise ValueError(f"scene {base.name!r} does not draw hues uniformly on the circle: changing its colour "
                         f"classes would change its images, so the trained runs cannot be reused")
    design = dataclasses.replace(base, name=f"{base.name}-{classes}-classes", colors=classes,
                                 hue_spread=0.5 / classes)
    sizes = profile.eval
    data = experiments.profile_transfer_data(profile, scene=design)
    labels = {split: data.labels[split]["color"] for split in SPLITS}
    rows = []
    for run in runs.itertuples():
        features = split_features(RunDir(run.run).load_backbone("cpu"), data)
        for steps in probe_iters or [sizes.probe_iters]:
            result = linear_probe(features, labels, l2_grid=sizes.l2_grid, seed=run.seed, max_iter=steps)
            rows.append(dict(K=classes, probe_iters=steps, model=run.model, seed=run.seed, top1=result.top1))
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the profile's")
    parser.add_argument("--classes", type=int, nargs="+", default=[24, 48, 96])
    parser.add_argument("--probe-train", type=int, nargs="+", help="probe training images (default: the profile's)")
    parser.add_argument("--probe-iters", type=int, nargs="+", help="probe L-BFGS steps (default: the profile's)")
    parser.add_argument("--runs", help="runs folder (default: the profile's)")
    try:
        args = parser.parse_args(argv)
        for name in ("classes", "probe_train", "probe_iters"):
            values = getattr(args, name) or [2]
            if min(values) < 2:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 2, got {values}")
        P = resolve(args.profile, seeds=args.seeds, runs_root=args.runs)
        runs = experiments.train_experiments(P, [get("SimCLR"), get(KEEPER["color"])], log=None)
        tables = []
        for n in args.probe_train or [P.eval.probe_train]:
            probe = dataclasses.replace(P, eval=dataclasses.replace(P.eval, probe_train=n))
            tables += [colour_top1(probe, k, runs, args.probe_iters).assign(probe_train=n) for k in args.classes]
        table = pd.concat(tables, ignore_index=True)
    except BAD_INPUT as error:  # unknown profile, a design whose images depend on its classes
        return print_error(error, 2)
    except OSError as error:  # e.g. a full disk while a run trains
        return print_error(error, 1)
    settings = ["K", "probe_train", "probe_iters"]
    wide = table.pivot_table(index=[*settings, "seed"], columns="model", values="top1")
    wide["headroom"] = wide[KEEPER["color"]] - wide["SimCLR"]
    summary = wide.groupby(settings).agg(["mean", "min", "std"])
    summary.columns = [f"{column} {stat}" for column, stat in summary.columns]
    with pd.option_context("display.width", 200):
        print(wide.round(3).to_string())
        print(summary.round(3).reset_index().to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
