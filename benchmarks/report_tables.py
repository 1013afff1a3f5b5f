"""The README's tables of one reproduction, as markdown: validity per seed and every claim.

    python benchmarks/report_tables.py outputs/cpu

Reads ``<output>/results.json`` (written by `make reproduce`): the validity check's per-seed
measures (one table per full model: content on shape, headroom per factor) and notebook 08's
claims table, and prints them with the run's time and verdict counts, so the README quotes a run
instead of being typed by hand.
"""

from __future__ import annotations

import sys

import pandas as pd

from ssl_lib.lab.results import read_merged
from ssl_lib.lab.verdicts import verdict_summary
from ssl_lib.utils.cli import BAD_INPUT, OneLineParser, print_error


def validity_tables(validity: dict) -> str:
    table = pd.DataFrame(validity["table"])
    parts = []
    for model, rows in table.groupby("model", sort=False):
        wide = rows.assign(column=rows.measure + " " + rows.factor).pivot_table(
            index="seed", columns="column", values="value", sort=False)
        parts.append(f"{model}:\n\n{wide.round(3).reset_index().to_markdown(index=False)}")
    return "\n\n".join(parts)


def claims_table(claims: list[dict]) -> str:
    table = pd.DataFrame(claims)
    table["notebook"] = table.notebook.str[:2]
    table["claim"] = table.claim + " (" + table.quantity + ")"
    columns = ["notebook", "paper", "claim", "measured", "difference", "detectable", "headroom", "target",
               "seeds_agreeing", "verdict", "reason"]
    table = table[[c for c in columns if c in table]].rename(columns={
        "measured": "measured (mean ± std over seeds)", "difference": "difference [95% CI]",
        "seeds_agreeing": "seeds agreeing", "reason": "why"})
    return table.to_markdown(index=False, disable_numparse=True)  # keep "0.150" as recorded


def main(argv=None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="the output folder of make reproduce")
    try:
        merged = read_merged(parser.parse_args(argv).output)
    except BAD_INPUT as error:
        return print_error(error, 2)
    run, results = merged.get("run", {}), merged["notebooks"]
    times = ", ".join(f"{n['notebook'][:2]} {n['seconds']:.0f} s" for n in run.get("notebooks", []) if "seconds" in n)
    prepared = run.get("runs") or {}
    print(f"Run: profile {run.get('profile')}, started {run.get('started')}, {run.get('seconds', 0):.0f} s in all "
          f"(runs trained ahead: {prepared.get('seconds', 0):.0f} s with {prepared.get('jobs')} worker(s); {times})\n")
    if "00_validity" in results:
        failures = results["00_validity"].get("failures") or []
        print(f"Validity: {len(failures)} floor(s) missed\n")
        print(validity_tables(results["00_validity"]) + "\n")
    claims = results.get("08_report", {}).get("claims")
    if claims:
        print(verdict_summary(pd.DataFrame(claims)) + "\n")
        print(claims_table(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
