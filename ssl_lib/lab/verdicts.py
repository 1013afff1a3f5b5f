"""Claims and verdicts for the reproduction report, computed from per-seed measurements.

A claim compares a treatment with a control (e.g. "+AugSelf" vs the plain method) on one
measured quantity, seed by seed (the same seed trains both, so the comparison is paired). The
verdict rule is fixed here, before any result is seen, and is the same for every claim:

    reproduced          the mean difference favours the claim and every seed agrees
    partly reproduced   the mean difference favours the claim but some seed disagrees
    not reproduced      the mean difference does not favour the claim
    inconclusive        fewer than 2 seeds, or a difference smaller than `tolerance`

Nothing in a verdict is typed by hand: `claim_row` formats what `compare` computed, and
`paired_claim` (what every notebook's claims go through) picks the paired per-seed values of a
treatment and a control and returns that row. `mean_std` is the notebooks' "mean ± std over seeds".
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


def _seed_values(per_seed, model: str) -> pd.Series:
    """One model's per-seed values as a float Series indexed by seed (see `paired_claim`)."""
    if isinstance(per_seed, pd.Series):
        if not isinstance(per_seed.index, pd.MultiIndex):
            raise ValueError("a Series of per-seed values needs a (model, seed) MultiIndex")
        values = per_seed.xs(model, level=0)
    elif isinstance(per_seed, pd.DataFrame):
        if model in per_seed.columns:
            values = per_seed[model]
        elif isinstance(per_seed.index, pd.MultiIndex) and per_seed.shape[1] == 1:
            values = per_seed.iloc[:, 0].xs(model, level=0)
        else:
            raise KeyError(f"{model!r} is neither a column of the per-seed table nor, with one column, a model of "
                           f"its (model, seed) index")
    else:
        values = per_seed[model]
        if not isinstance(values, pd.Series):
            values = pd.Series(np.asarray(values, dtype=float))
    if not isinstance(values, pd.Series):
        raise ValueError(f"the per-seed values of {model!r} are not one value per seed (a table of "
                         f"{values.shape[1]} columns); select the quantity's column first")
    return values.astype(float)


def paired_claim(paper: str, text: str, quantity: str, per_seed, treatment: str, control: str,
                 higher_is_better: bool = True, margin: float = 0.0, seeds=None, labels=None,
                 digits: int = 3) -> dict:
    """One claims-table row: `treatment` against `control` on one quantity, paired by seed.

    Args:
        paper, text: the row's ``paper`` and ``claim``.
        quantity: the row's ``quantity``; `` (+{margin} margin)`` is appended when margin != 0.
        per_seed: each model's per-seed values of the quantity, as
            * a Series indexed by (model, seed),
            * a DataFrame with one column per model and one row per seed (a pivot), or indexed by
              (model, seed) with a single column,
            * a mapping model -> values (a Series indexed by seed, or a sequence in seed order).
        treatment, control: the two models compared (keys of ``per_seed``).
        higher_is_better: False when a lower value favours the claim.
        margin: a non-inferiority margin, added to the treatment's values before the comparison
            (the ``difference`` column includes it, ``measured`` shows the plain treatment mean).
        seeds: the seeds compared, in this order (KeyError if a model lacks one); None: every
            seed both models have a value for (NaN dropped), in increasing order.
        labels: (treatment, control) names printed in ``measured``; default the model names.
    Returns:
        `claim_row` of `compare(treatment + margin, control)`.
    """
    t, c = _seed_values(per_seed, treatment), _seed_values(per_seed, control)
    if seeds is not None:
        seeds = list(seeds)
        t, c = t.loc[seeds], c.loc[seeds]
    else:
        pairs = pd.concat([t.rename("t"), c.rename("c")], axis=1, join="inner").dropna().sort_index()
        t, c = pairs["t"], pairs["c"]
    result = compare(t.to_numpy() + margin, c.to_numpy(), higher_is_better=higher_is_better)
    result["treatment_mean"] -= margin  # show the measured value; the difference keeps the margin
    if margin:
        quantity = f"{quantity} (+{margin} margin)"
    names = labels if labels is not None else (treatment, control)
    return claim_row(paper, text, quantity, names[0], names[1], result, digits)


def mean_std(table: pd.DataFrame, by, value: str, seeds: bool = False) -> pd.DataFrame:
    """Mean and standard deviation of ``value`` over the rows of each ``by`` group (usually the
    seeds): a flat frame with the ``by`` columns, ``mean``, ``std`` (ddof 1; 0 for a group of one
    row, e.g. one seed) and, with ``seeds=True``, ``seeds`` (the number of rows). Groups keep their
    order of appearance."""
    by = [by] if isinstance(by, str) else list(by)
    stats = ["mean", "std", "size"] if seeds else ["mean", "std"]
    out = table.groupby(by, sort=False)[value].agg(stats).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out.rename(columns={"size": "seeds"})
