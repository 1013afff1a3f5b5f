"""Is the embedded bench valid? Content learned and augmentation headroom, per seed.

`make reproduce` runs the same check (`ssl_lib.lab.validity`) before the notebooks; this script
runs it alone, and compares designs of the miniature side by side.

    python benchmarks/benchmark_validity.py --profile cpu                  # the profile's check
    python benchmarks/benchmark_validity.py --profile cpu --seeds 0 \\
        --variant "scene=textured" --variant "scene=flat-large-upright-fine-hue;epochs=24"  # designs

Every variant is a set of TrainConfig changes applied to all four validity models (SimCLR,
Default, Spatial, Appearance), trained (or reused) under ``--runs`` and probed on the held-out
probe splits of the variant's own scene design. Without ``--variant`` the profile itself is
checked against its floors: the per-seed table is printed, the results recorded under the
profile's output (``results/00_validity.json``), and the exit status is 1 with one line naming
the first missed floor. With variants, one row per variant gives the mean (min over seeds) of
each measure and whether the floors hold on every seed; the exit status is 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import pandas as pd

from ssl_lib.lab import validity
from ssl_lib.lab.profiles import resolve
from ssl_lib.utils.cli import BAD_INPUT, OneLineParser, print_error


def parse_variant(text: str) -> dict:
    """"key=value;key=value" -> {key: value}; values parsed as JSON where possible."""
    import json

    changes = {}
    for item in filter(None, text.split(";")):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"a variant is key=value pairs separated by ';', got {item!r}")
        try:
            changes[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            changes[key.strip()] = value
    return changes


def variant_profile(profile, changes: dict):
    """The profile with `changes` applied to every run's TrainConfig (validated now)."""
    changed = dataclasses.replace(profile, train={**profile.train, **changes})
    changed.train_config()
    return changed


def per_seed(table: pd.DataFrame) -> pd.DataFrame:
    """One row per seed, one column per measure ("content SimCLR", "headroom SimCLR color", ...)."""
    names = table.measure + " " + table.model + table.factor.where(table.measure == "headroom", "").radd(" ").str.rstrip()
    return table.assign(name=names).pivot_table(index="seed", columns="name", values="value", sort=False)


def design_row(name: str, table: pd.DataFrame, floors, seconds: float) -> dict:
    """A designs-table row: mean and min over seeds of each floored measure, and the verdict."""
    wide = per_seed(table)
    row = dict(variant=name, seeds=len(wide))
    for column in wide.columns:
        row[column] = f"{wide[column].mean():+.3f} ({wide[column].min():+.3f})"
    failures = validity.check_floors(table, floors)
    row["floors met"] = "yes" if not failures else f"no: {len(failures)} missed"
    row["seconds"] = round(seconds)
    return row


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the profile's")
    parser.add_argument("--variant", action="append", type=parse_variant, default=[],
                        help='TrainConfig changes for all validity models, e.g. "scene=textured;epochs=12"')
    parser.add_argument("--runs", help="runs folder (default: the profile's)")
    parser.add_argument("--output", help="results folder (default: the profile's)")
    try:
        args = parser.parse_args(argv)
        P = resolve(args.profile, seeds=args.seeds, runs_root=args.runs, output=args.output)
        variants = [variant_profile(P, changes) for changes in args.variant]  # all checked before any trains
    except BAD_INPUT as error:
        return print_error(error, 2)
    floors = P.validity or validity.ValidityFloors()
    if not args.variant:
        start = time.perf_counter()
        try:
            results = validity.run(P)
            status = 0
        except validity.BenchInvalid as error:
            print(f"error: {error}", file=sys.stderr)
            results, status = None, 1
        from ssl_lib.lab.results import recorded

        table = pd.DataFrame(recorded(P.output, validity.RESULTS_NAME)["table"])
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(per_seed(table).round(3).to_string())
        print(f"floors {vars(floors)}; {'met' if results else 'missed'} in {time.perf_counter() - start:.0f} s")
        return status
    rows = []
    for changes, variant in zip(args.variant, variants):
        start = time.perf_counter()
        table = validity.measure(variant)
        name = ";".join(f"{k}={v}" for k, v in changes.items()) or "profile"
        rows.append(design_row(name, table, floors, time.perf_counter() - start))
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
