"""Seeds per claim from a reproduction's spread: the power analysis behind the profile's seeds.

    python benchmarks/power_analysis.py outputs/cpu
    python benchmarks/power_analysis.py outputs/long outputs/long-recheck --per-experiment

For every claim of ``<output>/results.json`` (notebook 08's table): the standard deviation of its
per-seed difference (from the per-seed values the claim keeps; for a claim recorded before it kept
them, recovered from the recorded detectable effect and seed count, the inverse of
`ssl_lib.lab.verdicts.compare`, exact to the rounding of that effect), the target detectable
effect (half the headroom that bounds the claim, or 0.05 where none does), and the seeds that
reach it (`verdicts.seeds_needed`; "-" when even 100 would not, i.e. the bench cannot show the
claim). A standard deviation from 3 seeds is
itself uncertain (its 95% interval spans about 0.5x to 6x), so the seed counts are a first
estimate to refine with the spread of the larger run.

Given several outputs of the same claims on disjoint seeds (a run and its rerun on new seeds),
the spreads are pooled: per claim the sd is ``sqrt(sum((n_i - 1) sd_i^2) / sum(n_i - 1))`` over
the runs, the target the seed-weighted mean of theirs, so one run's outlying seeds neither
decide the count alone nor are ignored.

Then the seeds per experiment (``--per-experiment``): each trained model needs the most seeds any
of its claims needs (capped at ``--max-seeds``; a claim over the cap stays undecided and says
so), the two single-augmentation models (Spatial, Appearance) also those of every claim a
headroom bounds (its bound is measured on the same seeds); a claim that would need more than the
cap gets no extra seeds (it stays undecided, and its row says what it would take). The result is
printed as the `Profile.seed_counts` it suggests.
"""

from __future__ import annotations

import math
import sys

import pandas as pd

from ssl_lib.lab.experiments import all_experiments
from ssl_lib.lab.results import read_merged
from ssl_lib.lab.validity import KEEPER
from ssl_lib.lab.verdicts import MIN_SEEDS, SeedValues, claim_numbers, detectable_shift, seeds_needed, target_effect
from ssl_lib.utils.cli import BAD_INPUT, OneLineParser, print_error

# Claims whose `measured` labels are not experiment names: the models behind them.
LABEL_MODELS = {"fused": ("Default", "Spatial", "Appearance"), "3 x Default": ("Default",)}


def power_table(claims: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(claims)
    numbers = claim_numbers(table)  # detectable and headroom as numbers (NaN for "n/a")
    rows = []
    for claim, detectable, headroom in zip(claims, numbers.detectable, numbers.headroom):
        seeds = int(claim["seeds_agreeing"].split("/")[1])
        values = SeedValues.from_record(claim.get("seeds"))
        if values is not None and seeds >= 2:
            sd = values.compared()["diff_std"]
        else:
            sd = detectable * math.sqrt(seeds) / detectable_shift(seeds) if not math.isnan(detectable) else math.nan
        target = target_effect(headroom)
        needed = seeds_needed(sd, target) if not math.isnan(sd) and target > 0 else None
        rows.append(dict(notebook=claim["notebook"][:2], paper=claim["paper"],
                         claim=f"{claim['claim']} ({claim['quantity']})", seeds=seeds, sd_of_difference=round(sd, 4),
                         detectable=detectable, bound=("headroom/2" if not math.isnan(headroom) else "none"),
                         target=round(target, 4), seeds_needed=needed if needed is not None else "-",
                         verdict=claim["verdict"]))
    return pd.DataFrame(rows)


def pooled_table(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One `power_table` from the tables of several runs of the same claims on disjoint seeds:
    per claim the pooled sd of the per-seed difference, the seed-weighted mean target, and the
    seeds that reach them; ``seeds`` and ``verdict`` list each run's ("6+6", "a / b")."""
    first = tables[0]
    for table in tables[1:]:
        if list(table.claim) != list(first.claim):
            differ = sorted(set(table.claim) ^ set(first.claim)) or ["(the same claims in another order)"]
            raise ValueError(f"the outputs hold different claims: {differ[:3]}")
    rows = []
    for i, row in first.iterrows():
        runs = [table.loc[i] for table in tables]
        df = sum(r.seeds - 1 for r in runs)
        sd = math.sqrt(sum((r.seeds - 1) * r.sd_of_difference ** 2 for r in runs) / df)
        target = sum(r.seeds * r.target for r in runs) / sum(r.seeds for r in runs)
        needed = seeds_needed(sd, target) if not math.isnan(sd) and target > 0 else None
        rows.append(dict(notebook=row.notebook, paper=row.paper, claim=row.claim,
                         seeds="+".join(str(r.seeds) for r in runs), sd_of_difference=round(sd, 4),
                         bound=row.bound, target=round(target, 4), seeds_needed=needed if needed is not None else "-",
                         verdict=" / ".join(r.verdict for r in runs)))
    return pd.DataFrame(rows)


def claim_models(claim: dict) -> list[str]:
    """The trained experiments a claim row compares, from its ``measured`` text ("A: m ± s vs B: ..."),
    plus the headroom keepers when a headroom bounds it."""
    names = {e.name for e in all_experiments()}
    models = []
    for side in claim["measured"].split(" vs "):
        label = side.rsplit(": ", 1)[0]
        models += [m for m in LABEL_MODELS.get(label, (label,)) if m in names]
    if claim.get("headroom", "n/a") != "n/a":
        models += sorted(set(KEEPER.values()))
    return list(dict.fromkeys(models))


def experiment_seeds(claims: list[dict], table: pd.DataFrame, max_seeds: int) -> pd.DataFrame:
    """Per experiment: the most seeds any of its claims needs, and that claim. A claim that needs
    more than `max_seeds` (or that no count decides) asks for the minimum (`MIN_SEEDS`): seeds
    are spent only where they decide something, and that claim's row says what it would take."""
    need = {}
    for claim, row in zip(claims, table.itertuples()):
        n = row.seeds_needed if isinstance(row.seeds_needed, int) and row.seeds_needed <= max_seeds else MIN_SEEDS
        for model in claim_models(claim):
            need.setdefault(model, []).append((n, row.claim))
    return pd.DataFrame([dict(experiment=m, seeds=max(n for n, _ in items),
                              deciding_claim=max(items)[1], claims=len(items)) for m, items in need.items()],
                        columns=["experiment", "seeds", "deciding_claim", "claims"])


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", nargs="+", metavar="output",
                        help="the output folder of make reproduce; several (runs on disjoint seeds) pool their spreads")
    parser.add_argument("--per-experiment", action="store_true",
                        help="also the seeds each trained experiment needs, as a Profile.seed_counts")
    parser.add_argument("--max-seeds", type=int, default=10, help="the most seeds any experiment gets (default 10)")
    try:
        args = parser.parse_args(argv)
        if args.max_seeds < MIN_SEEDS:
            raise ValueError(f"--max-seeds must be at least {MIN_SEEDS} (the rule's minimum), got {args.max_seeds}")
        tables = []
        for output in args.outputs:
            claims = read_merged(output)["notebooks"].get("08_report", {}).get("claims") or []
            if not claims:
                raise ValueError(f"{output} has no claims (notebook 08 did not run)")
            tables.append(power_table(claims))
        table = tables[0] if len(tables) == 1 else pooled_table(tables)
    except BAD_INPUT as error:
        return print_error(error, 2)
    print(table.to_markdown(index=False, disable_numparse=True))
    if args.per_experiment:
        # the claims (their models and bounds) are the same in every output: pooled_table checked it
        per_experiment = experiment_seeds(claims, table, args.max_seeds)
        print()
        print(per_experiment.to_markdown(index=False))
        print(f"\nseed_counts={dict(zip(per_experiment.experiment, per_experiment.seeds.astype(int).tolist()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
