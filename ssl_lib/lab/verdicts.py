"""Claims and verdicts for the reproduction report, computed from per-seed measurements.

A claim compares a treatment with a control (e.g. "+AugSelf" vs the plain method) on one
measured quantity, seed by seed (the same seed trains both, so the comparison is paired). The
verdict rule is fixed here, before any result is seen, and is the same for every claim:

    reproduced          the mean difference favours the claim and every seed agrees
    partly reproduced   the mean difference favours the claim but some seed disagrees
    not reproduced      the mean difference does not favour the claim
    inconclusive        fewer than 2 seeds, or a difference smaller than `tolerance`

Nothing in a verdict is typed by hand: `claim_row` formats what `compare` computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ssl_lib.lab.results import recorded

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "inconclusive")


def compare(treatment: Sequence[float], control: Sequence[float], higher_is_better: bool = True,
            tolerance: float = 0.0) -> dict:
    """Paired comparison of per-seed values (same order of seeds in both).

    Returns means and sample standard deviations (ddof 1; 0 for one seed) of both, of the
    difference d = treatment - control (sign-flipped when lower is better, so d > 0 always
    favours the claim), the number of seeds where d > 0, and the verdict.
    """
    t, c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    if t.shape != c.shape or t.ndim != 1 or t.size == 0:
        raise ValueError(f"treatment and control need the same non-empty 1-D shape, got {t.shape} and {c.shape}")
    if np.isnan(t).any() or np.isnan(c).any():
        raise ValueError("treatment and control must not contain NaN")
    d = (t - c) if higher_is_better else (c - t)
    std = lambda x: float(x.std(ddof=1)) if x.size > 1 else 0.0
    wins = int((d > 0).sum())
    if t.size < 2 or abs(d.mean()) <= tolerance:
        verdict = "inconclusive"
    elif d.mean() > 0:
        verdict = "reproduced" if wins == t.size else "partly reproduced"
    else:
        verdict = "not reproduced"
    return dict(treatment_mean=float(t.mean()), treatment_std=std(t), control_mean=float(c.mean()),
                control_std=std(c), diff_mean=float(d.mean()), diff_std=std(d), seeds=int(t.size), wins=wins,
                verdict=verdict)


def pm(mean: float, std: float, digits: int = 3) -> str:
    """"0.812 +- 0.010" (mean and standard deviation over seeds)."""
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def claim_row(paper: str, claim: str, quantity: str, treatment: str, control: str, result: dict,
              digits: int = 3) -> dict:
    """One row of the claims table from a `compare` result."""
    return dict(paper=paper, claim=claim, quantity=quantity,
                measured=f"{treatment}: {pm(result['treatment_mean'], result['treatment_std'], digits)} vs "
                         f"{control}: {pm(result['control_mean'], result['control_std'], digits)}",
                difference=pm(result["diff_mean"], result["diff_std"], digits),
                seeds_agreeing=f"{result['wins']}/{result['seeds']}", verdict=result["verdict"])


def claims_table(rows: list[dict]) -> pd.DataFrame:
    """The report's table: one row per claim, in the order given."""
    return pd.DataFrame(rows, columns=["paper", "claim", "quantity", "measured", "difference", "seeds_agreeing",
                                       "verdict"])


def load_claims(output, notebooks) -> pd.DataFrame:
    """Every claim row the given notebooks recorded (under "claims"), with a `notebook` column.

    Raises FileNotFoundError naming the notebooks that have no results under `output`.
    """
    missing = [nb for nb in notebooks if recorded(output, nb) is None]
    if missing:
        raise FileNotFoundError(f"no results under {output} for {missing}: run those notebooks first")
    frames = [claims_table(recorded(output, nb).get("claims", [])).assign(notebook=nb) for nb in notebooks]
    return pd.concat(frames, ignore_index=True)


def verdict_counts(claims: pd.DataFrame) -> pd.DataFrame:
    """Claims per paper and verdict (all four verdict columns, zeros included)."""
    counts = claims.groupby(["paper", "verdict"]).size().unstack(fill_value=0)
    return counts.reindex(columns=list(VERDICTS), fill_value=0)
