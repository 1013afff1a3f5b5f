"""Every model's read-out of every synthetic task, mean and sd over its seeds.

    python benchmarks/transfer_summary.py --profile long
    python benchmarks/transfer_summary.py --profile long --seeds 10 11 12 13 14 15 16 17 18 19 --tasks shape color
    python benchmarks/transfer_summary.py --profile long --models SimCLR "SimCLR + CASSLE"
    python benchmarks/transfer_summary.py --profile long --models SimCLR --run-dirs variants/cassle-a-s0 variants/cassle-a-s1
    python benchmarks/transfer_summary.py --profile long --paired "SimCLR + CASSLE" SimCLR --tasks shape

The claims table compares models two at a time; this prints the whole picture behind it: for
every experiment the profile trains (on the seeds `Profile.experiment_seeds` gives it) and for the
random-init backbone, the headline number of each task of the probe splits
(`ssl_lib.evaluation.transfer.headline`: linear top-1, R^2, few-shot accuracy) as "mean ± sd (n
seeds)". It reads the transfer tables the notebooks cached in each run's folder, so after a
reproduction it probes nothing; a run or table that is missing is trained or probed first.

``--paired A B`` adds, per task, A minus B paired by seed on the seeds both have: the mean
difference with its 95% interval, the smallest effect those seeds could detect and how many seeds
favour A (`ssl_lib.lab.verdicts.paired_claim`'s numbers, without a verdict: a look beyond the
claims is not a claim).

``--run-dirs`` adds finished runs trained outside the profile (a variant from
``python -m ssl_lib.pretrain --config <a run's config.json> --<field> <value> --output-dir DIR``),
probed like the profile's own on its probe splits; each is a seed of the model named by its
folder's name without a trailing ``-s<seed>``.
"""

from __future__ import annotations

import re
import sys

import pandas as pd

from ssl_lib.evaluation.transfer import headline
from ssl_lib.lab import experiments
from ssl_lib.lab.profiles import resolve
from ssl_lib.lab.verdicts import mean_std, paired_claim, pm
from ssl_lib.train.run_dir import RunDir
from ssl_lib.utils.cli import BAD_INPUT, OneLineParser, print_error


def summary(long: pd.DataFrame, tasks=None) -> pd.DataFrame:
    """From a long transfer table (model, task, kind, metric, value, seed) to one row per model
    (in order of appearance) and one column per task (`tasks`, default all): "mean ± sd (n)"."""
    wide = headline(long, index=["model", "seed"])
    if tasks:
        unknown = sorted(set(tasks) - set(wide.columns))
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; the probe splits have {list(wide.columns)}")
        wide = wide[list(tasks)]
    runs, cells = wide.reset_index(), {}
    for task in wide.columns:
        stats = mean_std(runs, "model", task, seeds=True)
        cells[task] = [f"{pm(m, s)} ({n})" if n > 1 else f"{m:.3f} (1)"
                       for m, s, n in zip(stats["mean"], stats["std"], stats["seeds"])]
    return pd.DataFrame(cells, index=pd.Index(stats["model"], name="model"))


def paired(long: pd.DataFrame, treatment: str, control: str, tasks=None) -> pd.DataFrame:
    """Per task (`tasks`, default all): `treatment` minus `control` paired by seed on the seeds both
    have, as columns task, difference (mean [95% interval]), detectable and seeds_favouring
    (e.g. "2/7"). ValueError naming an unknown model or task."""
    wide = headline(long, index=["model", "seed"])
    models = set(wide.index.get_level_values("model"))
    missing = [m for m in (treatment, control) if m not in models]
    if missing:
        raise ValueError(f"no transfer results for {missing}; the table has {sorted(models)}")
    unknown = sorted(set(tasks or []) - set(wide.columns))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; the probe splits have {list(wide.columns)}")
    rows = []
    for task in tasks or wide.columns:
        row = paired_claim("", "", task, wide[task], treatment, control)
        rows.append(dict(task=task, difference=row["difference"], detectable=row["detectable"],
                         seeds_favouring=row["seeds_agreeing"]))
    return pd.DataFrame(rows)


def variant_runs(folders: list[str]) -> pd.DataFrame:
    """A `train_experiments`-like table (model, seed, run) of finished run folders: model is the
    folder's name without a trailing ``-s<seed>``, seed the one its config trained with."""
    rows = []
    for folder in folders:
        run = RunDir(folder)
        if not run.is_finished():
            raise ValueError(f"{folder} is not a finished run (no backbone.pt)")
        rows.append(dict(model=re.sub(r"-s\d+$", "", run.path.name), seed=run.load_config().seed, run=str(run.path)))
    return pd.DataFrame(rows, columns=["model", "seed", "run"])


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the profile's")
    parser.add_argument("--models", nargs="+", help="experiment names (default: every one the profile trains)")
    parser.add_argument("--tasks", nargs="+", help="default: every task of the probe splits")
    parser.add_argument("--run-dirs", nargs="+", default=[], help="finished runs trained outside the profile")
    parser.add_argument("--runs", help="runs folder (default: the profile's)")
    parser.add_argument("--paired", nargs=2, metavar=("A", "B"), help="also A minus B per task, paired by seed")
    try:
        args = parser.parse_args(argv)
        P = resolve(args.profile, seeds=args.seeds, runs_root=args.runs)
        chosen = [experiments.get(name) for name in args.models] if args.models else experiments.all_experiments()
        trained = [exp for exp in chosen if exp.seeds_of(P)]
        runs = pd.concat([experiments.train_experiments(P, trained, log=None), variant_runs(args.run_dirs)],
                         ignore_index=True)
        data = experiments.profile_transfer_data(P)
        long = pd.concat([experiments.random_init_tables(P, data),
                          experiments.transfer_tables(P, runs, data)], ignore_index=True)
        table = summary(long, args.tasks)
        difference = paired(long, *args.paired, tasks=args.tasks) if args.paired else None
    except BAD_INPUT as error:  # unknown profile, model or task; an unfinished or missing run
        return print_error(error, 2)
    except OSError as error:  # e.g. a full disk while a run trains
        return print_error(error, 1)
    print(table.reset_index().to_markdown(index=False))
    if difference is not None:
        print(f"\n{args.paired[0]} minus {args.paired[1]}, paired by seed:\n")
        print(difference.to_markdown(index=False, disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
