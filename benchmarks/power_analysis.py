"""Seeds per claim from a reproduction's spread: the power analysis behind the profile's seeds.

    python benchmarks/power_analysis.py outputs/cpu

For every claim of ``<output>/results.json`` (notebook 08's table): the standard deviation of its
per-seed difference (recovered from the recorded detectable effect and seed count, the inverse of
`ssl_lib.lab.verdicts.compare`), the target detectable effect (half the headroom that bounds the
claim, or 0.05 where none does), and the seeds that reach it (`verdicts.seeds_needed`; "-" when
even 100 would not, i.e. the bench cannot show the claim). A standard deviation from 3 seeds is
itself uncertain (its 95% interval spans about 0.5x to 6x), so the seed counts are a first
estimate to refine with the spread of the larger run.
"""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd

from ssl_lib.lab.results import read_merged
from ssl_lib.lab.verdicts import claim_numbers, detectable_shift, seeds_needed

UNBOUNDED_TARGET = 0.05


def power_table(claims: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(claims)
    numbers = claim_numbers(table)  # detectable and headroom as numbers (NaN for "n/a")
    rows = []
    for claim, detectable, headroom in zip(claims, numbers.detectable, numbers.headroom):
        seeds = int(claim["seeds_agreeing"].split("/")[1])
        sd = detectable * math.sqrt(seeds) / detectable_shift(seeds) if not math.isnan(detectable) else math.nan
        target = headroom / 2 if not math.isnan(headroom) else UNBOUNDED_TARGET
        needed = seeds_needed(sd, target) if not math.isnan(sd) and target > 0 else None
        rows.append(dict(notebook=claim["notebook"][:2], paper=claim["paper"],
                         claim=f"{claim['claim']} ({claim['quantity']})", seeds=seeds, sd_of_difference=round(sd, 4),
                         detectable=detectable, bound=("headroom/2" if not math.isnan(headroom) else "none"),
                         target=round(target, 4), seeds_needed=needed if needed is not None else "-",
                         verdict=claim["verdict"]))
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="the output folder of make reproduce")
    args = parser.parse_args(argv)
    try:
        claims = read_merged(args.output)["notebooks"].get("08_report", {}).get("claims") or []
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not claims:
        print(f"error: {args.output} has no claims (notebook 08 did not run)", file=sys.stderr)
        return 2
    print(power_table(claims).to_markdown(index=False, disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
