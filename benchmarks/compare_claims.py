"""Claims of two or more reproductions side by side: the paired table a change that could move a
number is checked with.

    python benchmarks/compare_claims.py outputs/cpu-before outputs/cpu-after [--names before,after]

Reads each output folder's ``results/08_report.json`` (written by `make reproduce`) and prints one
markdown row per claim (notebook, paper, claim, quantity): each reproduction's difference with
its 95% interval and its verdict, and the largest change of the mean difference between them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ssl_lib.lab.results import recorded
from ssl_lib.lab.verdicts import claim_numbers
from ssl_lib.utils.cli import BAD_INPUT, OneLineParser, print_error


def claims(folder) -> dict:
    """{(notebook, paper, claim, quantity): claim row} of one reproduction's report."""
    report = recorded(folder, "08_report")
    if report is None:
        raise FileNotFoundError(f"{folder} has no results/08_report.json (run `make reproduce` into it first)")
    if not isinstance(report.get("claims"), list):
        raise ValueError(f"{folder}/results/08_report.json has no claims table (rerun notebook 08)")
    rows = report["claims"]
    return {(r["notebook"][:2], r["paper"], r["claim"], r["quantity"]): r for r in rows}


def table(folders, names) -> str:
    tables = [claims(f) for f in folders]
    keys = list(dict.fromkeys(k for t in tables for k in t))
    head = "| notebook | paper | claim (quantity) | " + " | ".join(f"{n}: difference [95% CI], verdict" for n in names)
    lines = [head + " | largest change |", "|" + "---|" * (3 + len(names)) + "---:|"]
    for key in keys:
        cells, means = [], []
        for t in tables:
            row = t.get(key)
            cells.append(f"{row['difference']}, {row['verdict']}" if row else "-")
            if row:
                means.append(float(claim_numbers(pd.DataFrame([row])).diff_mean.iloc[0]))
        change = f"{max(means) - min(means):.3f}" if len(means) > 1 else "-"
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} ({key[3]}) | " + " | ".join(cells) + f" | {change} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="output folders of make reproduce")
    parser.add_argument("--names", help="comma-separated column names (default: the folder names)")
    try:
        args = parser.parse_args(argv)
        names = args.names.split(",") if args.names else [Path(f).name for f in args.folders]
        if len(names) != len(args.folders):
            raise ValueError(f"--names gives {len(names)} names for {len(args.folders)} folders")
        print(table(args.folders, names))
    except BAD_INPUT as error:
        return print_error(error, 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
