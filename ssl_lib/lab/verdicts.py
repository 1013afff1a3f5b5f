"""Claims and verdicts for the reproduction report, computed from per-seed measurements.

A claim compares a treatment with a control (e.g. "+AugSelf" vs the plain method) on one
measured quantity, seed by seed (the same seed trains both, so the comparison is paired). The
verdict rule is fixed here, before any result is seen, and is the same for every claim. With
d_i the per-seed difference signed so that d > 0 favours the claim, its mean, and the 95%
confidence interval of that mean (Student's t with n - 1 degrees of freedom):

    reproduced        the whole interval lies above zero
    not reproduced    the whole interval lies below zero (the data contradict the claim), or, for a
                      claim of an effect, below its *target*: the data rule out an effect as large
                      as the smallest one the seeds were chosen to detect (`target_effect`: half
                      the bounding headroom, else `UNBOUNDED_TARGET`)
    cannot show here  the interval straddles zero, and the claim's effect is bounded by a factor's
                      headroom (what the un-augmented model reads of that factor beyond the fully
                      augmented one, on the same seeds) that is smaller than the detectable effect:
                      even the largest effect the bench allows would go unseen
    inconclusive      the interval reaches from zero or below to the target or above, or fewer
                      than `MIN_SEEDS` seeds

The tests run in this order, the first that holds decides. An interval clear of zero is a result
whatever the headroom (an improvement shown despite little room, or a loss, which no headroom
bounds); a bound too small to show the effect is said before the target test, which would
otherwise call "not reproduced" what the bench had no room to show. A non-inferiority claim
("keeps shape, not worse than -0.02": `paired_claim`'s ``margin``) claims no effect, so it has no
target: it is not reproduced only below zero. The target test is an equivalence-style test of the
smallest effect of interest (one-sided at 2.5%, the interval's upper end); its target is the one
the power analysis (docs/power.md) chose the seeds for, fixed before the runs it judges.

Each row also gives the smallest effect the design could detect: the true mean difference that a
two-sided paired t-test at 5% finds with 80% power, given the observed seed-to-seed spread of d
(solved exactly with the noncentral t distribution). An inconclusive claim with a detectable effect below the
paper's reported gain says "no such effect here"; one far above it says "too noisy to tell".

Nothing in a verdict is typed by hand: `claim_row` formats what `compare` computed, and
`paired_claim` (what every notebook's claims go through) picks the paired per-seed values of a
treatment and a control and returns that row. The row keeps those values (`SeedValues`, its
``seeds`` column), so a claim can be judged again, by the same rule, on a subset of its seeds
(`rejudge`: e.g. without the seeds on which the bench missed a validity floor). `mean_std` is the
notebooks' "mean ± std over seeds".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ssl_lib.lab.results import recorded

VERDICTS = ("reproduced", "not reproduced", "cannot show here", "inconclusive")
MIN_SEEDS = 3  # fewer seeds give no verdict, however large the difference
CONFIDENCE = 0.95
POWER = 0.80


def detectable_shift(n: int, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """The mean shift, in standard errors, that a two-sided one-sample t-test on n values at level
    1 - `confidence` detects with probability `power`: the noncentrality nc solving
    ``P(|T| > t_crit) = power`` for T ~ noncentral t(n - 1, nc).  n >= 3 (with one degree of
    freedom the power never reaches 0.8 within a sane range)."""
    from scipy.optimize import brentq

    df = n - 1
    t_crit = stats.t.ppf(0.5 + confidence / 2, df)
    # The lower tail vanishes (and scipy returns NaN for it) far from zero.
    reject = lambda nc: stats.nct.sf(t_crit, df, nc) + np.nan_to_num(stats.nct.cdf(-t_crit, df, nc)) - power
    return float(brentq(reject, 0.0, t_crit + 8.0))  # power is ~1 at t_crit + 8 for any df >= 2


# The detectable effect a claim's seeds should reach (docs/power.md): half the headroom that bounds
# the claim, or this where none does.
UNBOUNDED_TARGET = 0.05


def target_effect(headroom: float) -> float:
    """The detectable effect a claim's seeds should reach: half its bounding `headroom`, or
    `UNBOUNDED_TARGET` for a claim without one (`headroom` NaN)."""
    return UNBOUNDED_TARGET if math.isnan(headroom) else headroom / 2


def verdict_reason(verdict: str, ci_high: float, detectable: float, headroom: float, target: float) -> str:
    """Which test of the rule gave the verdict, in a few words ("" for "reproduced"):

    * not reproduced: "interval below 0", or "rules out >= target" (the interval's upper end is
      below the target, an effect of the target's size is excluded);
    * cannot show here: the headroom is below the detectable effect;
    * inconclusive: "fewer than 3 seeds"; "too noisy" when the detectable effect exceeds the
      target (more seeds would decide); else the interval reaches both zero and the target
      ("interval spans 0 and target": an effect smaller than the target, or none).
    `target` is NaN for a non-inferiority claim.
    """
    if verdict == "reproduced":
        return ""
    if verdict == "not reproduced":
        return "interval below 0" if ci_high < 0 else f"rules out >= {target:.3f}"
    if math.isnan(detectable):
        return f"fewer than {MIN_SEEDS} seeds"
    if verdict == "cannot show here":
        return f"headroom {headroom:.3f} < detectable {detectable:.3f}"
    if math.isnan(target):
        return "interval spans 0"
    if detectable > target:
        return f"too noisy: detectable {detectable:.3f} > target {target:.3f}"
    return f"interval spans 0 and target {target:.3f}"


def seeds_needed(diff_std: float, target: float, max_seeds: int = 100) -> int | None:
    """The fewest seeds (>= `MIN_SEEDS`) whose detectable effect, for a per-seed difference of
    standard deviation `diff_std`, is at most `target`: the smallest n with
    ``detectable_shift(n) * diff_std / sqrt(n) <= target``; None when not even `max_seeds` do."""
    if not (diff_std >= 0 and target > 0):
        raise ValueError(f"need diff_std >= 0 and target > 0, got {diff_std} and {target}")
    for n in range(MIN_SEEDS, max_seeds + 1):
        if detectable_shift(n) * diff_std / math.sqrt(n) <= target:
            return n
    return None


def compare(treatment: Sequence[float], control: Sequence[float], higher_is_better: bool = True,
            headroom: Sequence[float] | None = None, effect_claim: bool = True) -> dict:
    """Paired comparison of per-seed values (same order of seeds in both).

    Returns means and sample standard deviations (ddof 1; 0 for one seed) of both, of the
    difference d = treatment - control (sign-flipped when lower is better, so d > 0 always
    favours the claim), the 95% interval of d's mean (``ci_low``, ``ci_high``; NaN for one seed),
    the smallest detectable effect (``detectable``), the number of seeds where d > 0, the mean
    `headroom` (NaN when the claim has no bound), the ``target`` (`target_effect` of it; NaN when
    `effect_claim` is False) and the verdict. `headroom`: per-seed values, in the same seed order,
    of the headroom that bounds the claim's effect (see the module docstring). `effect_claim`:
    False for a non-inferiority claim (no effect claimed, so no target to rule out).
    """
    t, c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    if t.shape != c.shape or t.ndim != 1 or t.size == 0:
        raise ValueError(f"treatment and control need the same non-empty 1-D shape, got {t.shape} and {c.shape}")
    if np.isnan(t).any() or np.isnan(c).any():
        raise ValueError("treatment and control must not contain NaN")
    bound = math.nan
    if headroom is not None:
        h = np.asarray(headroom, dtype=float)
        if h.shape != t.shape or np.isnan(h).any():
            raise ValueError(f"headroom needs one finite value per seed ({t.shape}), got {h.shape}")
        bound = float(h.mean())
    d = (t - c) if higher_is_better else (c - t)
    std = lambda x: float(x.std(ddof=1)) if x.size > 1 else 0.0
    n, mean = int(d.size), float(d.mean())
    if n >= 2:
        se = std(d) / math.sqrt(n)
        t_crit = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))
        ci_low, ci_high = mean - t_crit * se, mean + t_crit * se
        detectable = detectable_shift(n) * se if n >= MIN_SEEDS else math.nan
    else:
        ci_low = ci_high = detectable = math.nan
    target = target_effect(bound) if effect_claim else math.nan
    if n < MIN_SEEDS:
        verdict = "inconclusive"
    elif ci_low > 0:
        verdict = "reproduced"
    elif ci_high < 0:
        verdict = "not reproduced"
    elif bound < detectable:  # False for NaN: a claim without a bound has no such verdict
        verdict = "cannot show here"
    elif ci_high < target:  # False for NaN: a non-inferiority claim has no target
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    return dict(treatment_mean=float(t.mean()), treatment_std=std(t), control_mean=float(c.mean()),
                control_std=std(c), diff_mean=mean, diff_std=std(d), ci_low=ci_low, ci_high=ci_high,
                detectable=detectable, headroom=bound, target=target, seeds=n, wins=int((d > 0).sum()), verdict=verdict)


def pm(mean: float, std: float, digits: int = 3) -> str:
    """"0.812 +- 0.010" (mean and standard deviation over seeds)."""
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """"+0.083 [-0.230, +0.396]": a mean difference and its confidence interval ("n/a" bounds when NaN)."""
    bound = lambda x: "n/a" if math.isnan(x) else f"{x:+.{digits}f}"
    return f"{mean:+.{digits}f} [{bound(low)}, {bound(high)}]"


def seed_ranges(seeds: Iterable[int]) -> str:
    """"0-5, 7": sorted seeds with consecutive runs joined."""
    seeds, parts = sorted(seeds), []
    for seed in seeds:
        if parts and seed == parts[-1][1] + 1:
            parts[-1][1] = seed
        else:
            parts.append([seed, seed])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


@dataclass(frozen=True)
class SeedValues:
    """The paired per-seed values a claim was judged on, and how: what `rejudge` needs to apply
    the rule again to a subset of the seeds. Shown (the claims table's ``seeds`` column) as the
    seeds it holds, "0-5"; recorded to JSON as its fields.

    seeds: the seeds, in the order compared; treatment, control: each model's value per seed, as
    measured (a non-inferiority ``margin`` is not added); headroom: the bounding headroom per seed,
    or None; labels: the (treatment, control) names of ``measured``.
    """

    seeds: tuple[int, ...]
    treatment: tuple[float, ...]
    control: tuple[float, ...]
    headroom: tuple[float, ...] | None = None
    higher_is_better: bool = True
    margin: float = 0.0
    labels: tuple[str, str] = ("treatment", "control")
    digits: int = 3

    def __post_init__(self):
        n = len(self.seeds)
        lengths = [len(self.treatment), len(self.control)] + ([] if self.headroom is None else [len(self.headroom)])
        if any(length != n for length in lengths):
            raise ValueError(f"SeedValues needs one treatment, control (and headroom) value per seed: {n} seeds, "
                             f"{len(self.treatment)} treatment, {len(self.control)} control values")
        if len(set(self.seeds)) != n:  # one run counted twice would pass the rule's minimum of seeds
            raise ValueError(f"SeedValues needs distinct seeds, got {list(self.seeds)}")

    def __str__(self) -> str:  # what a notebook's table shows in the ``seeds`` column
        return seed_ranges(self.seeds) or "none"

    @classmethod
    def from_record(cls, value) -> SeedValues | None:
        """A `SeedValues` from its JSON record (a dict of its fields); an instance passes through,
        anything else (None, a table's NaN for a row recorded without values) gives None."""
        if isinstance(value, cls) or not isinstance(value, dict):
            return value if isinstance(value, cls) else None
        unknown = sorted(set(value) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"a claim's per-seed values have unknown fields {unknown}; "
                             f"expected {list(cls.__dataclass_fields__)}")
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        return cls(**fields)

    def compared(self) -> dict:
        """`compare` of these values: the margin added to the treatment for the test (a
        non-inferiority claim, margin != 0, has no target), ``treatment_mean`` the measured one."""
        result = compare(np.asarray(self.treatment, dtype=float) + self.margin, self.control,
                         higher_is_better=self.higher_is_better, headroom=self.headroom, effect_claim=not self.margin)
        result["treatment_mean"] -= self.margin  # show the measured value; the difference keeps the margin
        return result

    def without(self, seeds: Iterable[int]) -> SeedValues:
        """The same claim's values with `seeds` left out."""
        drop = set(seeds)
        keep = [i for i, seed in enumerate(self.seeds) if seed not in drop]
        pick = lambda values: None if values is None else tuple(values[i] for i in keep)
        return replace(self, seeds=pick(self.seeds), treatment=pick(self.treatment), control=pick(self.control),
                       headroom=pick(self.headroom))


def judge(paper: str, claim: str, quantity: str, values: SeedValues) -> dict:
    """The claims-table row of one claim judged on `values` (`compare`, then `claim_row`), with
    `values` kept under ``seeds``. With no seeds at all the row is "inconclusive" with every
    number "n/a" (the rule's fewer-than-`MIN_SEEDS` case), reason "no seeds left"."""
    if not values.seeds:
        na = "n/a"
        return dict(paper=paper, claim=claim, quantity=quantity, measured=na, difference=f"{na} [{na}, {na}]",
                    detectable=na, headroom=na, target=na, seeds_agreeing="0/0", verdict="inconclusive",
                    reason="no seeds left", seeds=values)
    row = claim_row(paper, claim, quantity, values.labels[0], values.labels[1], values.compared(), values.digits)
    return {**row, "seeds": values}


def _kept_values(row: dict) -> SeedValues:
    """A claim row's `SeedValues`; ValueError naming a claim recorded without them."""
    values = SeedValues.from_record(row.get("seeds"))
    if values is None:
        raise ValueError(f"claim {row['paper']!r}: {row['claim']!r} was recorded without its per-seed values; "
                         f"rerun its notebook to judge it on fewer seeds")
    return values


def rejudge(claims: pd.DataFrame, drop_seeds: Iterable[int]) -> pd.DataFrame:
    """Every claim of a claims table judged again by the same rule without `drop_seeds` (seeds a
    claim lacks are ignored): the same rows, index and columns (e.g. ``notebook``), with the
    judged ones replaced. The target and the headroom are those of the seeds left, as
    `paired_claim(seeds=...)` would compute them. Raises ValueError naming a claim recorded
    without its per-seed values (rerun its notebook)."""
    drop = list(drop_seeds)
    rows = [{**row, **judge(row["paper"], row["claim"], row["quantity"], _kept_values(row).without(drop))}
            for row in claims.to_dict(orient="records")]
    return pd.DataFrame(rows, columns=list(claims.columns), index=claims.index)


def changes_by_chance(row: dict, k: int) -> tuple[int, int]:
    """(changed, subsets): of every way to leave `k` of a claim's seeds out (`row`: a claims-table
    row with its per-seed values), how many change its verdict. The yardstick for
    `verdicts_without`: a verdict that changes without some seeds rests on *those* seeds only if
    leaving out others of the same number rarely changes it; if most do, it changes for lack of
    seeds. (0, 0) for k = 0."""
    from itertools import combinations

    values = _kept_values(row)
    if k == 0:
        return 0, 0
    subsets = list(combinations(values.seeds, k))
    changed = sum(judge(row["paper"], row["claim"], row["quantity"], values.without(drop))["verdict"] != row["verdict"]
                  for drop in subsets)
    return changed, len(subsets)


def verdicts_without(claims: pd.DataFrame, drop_seeds: Iterable[int]) -> pd.DataFrame:
    """Each claim's verdict on all its seeds beside its verdict judged again without `drop_seeds`
    (`rejudge`): columns paper, claim, quantity (and notebook, when the table has it), then for
    both judgements seeds, difference, verdict (the second with `` without`` appended, plus
    ``reason without``), ``same`` (True where the verdicts agree) and ``same-size drops that change
    it`` ("9/15": of all ways to leave out as many of the claim's seeds, this one included, how
    many change its verdict; `changes_by_chance`). Keeps the table's index."""
    drop = set(drop_seeds)
    again = rejudge(claims, drop)
    keys = [c for c in ("notebook", "paper", "claim", "quantity") if c in claims]
    table = claims[keys + ["seeds", "difference", "verdict"]].copy()
    for column in ("seeds", "difference", "verdict", "reason"):
        table[f"{column} without"] = again[column]
    for column in ("seeds", "seeds without"):  # "0-5", not the values behind it
        table[column] = table[column].map(str)
    table["same"] = table["verdict"] == table["verdict without"]
    chance = []
    for row in claims.to_dict(orient="records"):
        k = len(drop & set(_kept_values(row).seeds))
        changed, subsets = changes_by_chance(row, k)
        chance.append(f"{changed}/{subsets}" if subsets else "-")
    table["same-size drops that change it"] = chance
    return table


def claim_row(paper: str, claim: str, quantity: str, treatment: str, control: str, result: dict,
              digits: int = 3) -> dict:
    """One row of the claims table from a `compare` result: ``difference`` is the mean paired
    difference (signed so that > 0 favours the claim) with its 95% interval, ``detectable`` the
    smallest effect the seeds could detect, ``target`` the effect the rule tests against
    ("n/a" for a non-inferiority claim), ``reason`` which test gave the verdict (`verdict_reason`)."""
    detectable, headroom = result["detectable"], result.get("headroom", math.nan)
    target = result.get("target", math.nan)
    number = lambda x: "n/a" if math.isnan(x) else f"{x:.{digits}f}"
    return dict(paper=paper, claim=claim, quantity=quantity,
                measured=f"{treatment}: {pm(result['treatment_mean'], result['treatment_std'], digits)} vs "
                         f"{control}: {pm(result['control_mean'], result['control_std'], digits)}",
                difference=interval(result["diff_mean"], result["ci_low"], result["ci_high"], digits),
                detectable=number(detectable), headroom=number(headroom), target=number(target),
                seeds_agreeing=f"{result['wins']}/{result['seeds']}", verdict=result["verdict"],
                reason=verdict_reason(result["verdict"], result["ci_high"], detectable, headroom, target))


CLAIM_COLUMNS = ["paper", "claim", "quantity", "measured", "difference", "detectable", "headroom", "target", "seeds",
                 "seeds_agreeing", "verdict", "reason"]


def claims_table(rows: list[dict]) -> pd.DataFrame:
    """The report's table: one row per claim, in the order given. A ``seeds`` entry read back from
    JSON (a dict) becomes a `SeedValues` again; a row recorded without one has None there."""
    rows = [{**row, "seeds": SeedValues.from_record(row.get("seeds"))} for row in rows]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def load_claims(output, notebooks) -> pd.DataFrame:
    """Every claim row the given notebooks recorded (under "claims"), with a `notebook` column.

    Raises FileNotFoundError naming the notebooks that have no results under `output`.
    """
    missing = [nb for nb in notebooks if recorded(output, nb) is None]
    if missing:
        raise FileNotFoundError(f"no results under {output} for {missing}: run those notebooks first")
    frames = [claims_table(recorded(output, nb).get("claims", [])).assign(notebook=nb) for nb in notebooks]
    return pd.concat(frames, ignore_index=True)


def verdict_summary(claims: pd.DataFrame) -> str:
    """"25 claims: 13 reproduced, 12 inconclusive": the count of each verdict present, most first."""
    counts = claims.verdict.value_counts()
    return f"{len(claims)} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items())


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
                 digits: int = 3, headroom=None) -> dict:
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
            (the ``difference`` column includes it, ``measured`` shows the plain treatment mean);
            non-zero makes the row a non-inferiority claim, which has no target.
        seeds: the seeds compared, in this order (KeyError if a model lacks one); None: every
            seed both models have a value for (NaN dropped), in increasing order.
        labels: (treatment, control) names printed in ``measured``; default the model names.
        headroom: for a claim whose effect a factor's headroom bounds, that headroom per seed (a
            Series or mapping indexed by seed); the seeds compared must all have a value.
    Returns:
        `claim_row` of `compare(treatment + margin, control, headroom=...)`, with the per-seed
        values under ``seeds`` (`SeedValues`).
    """
    t, c = _seed_values(per_seed, treatment), _seed_values(per_seed, control)
    if seeds is not None:
        seeds = list(seeds)
        t, c = t.loc[seeds], c.loc[seeds]
    else:
        pairs = pd.concat([t.rename("t"), c.rename("c")], axis=1, join="inner").dropna().sort_index()
        t, c = pairs["t"], pairs["c"]
    if t.empty:  # an empty comparison is a mistake here; only `rejudge` leaves a claim no seeds
        raise ValueError(f"{treatment!r} and {control!r} have no seed in common to compare on")
    bound = None
    if headroom is not None:
        headroom = pd.Series(headroom, dtype=float)
        missing = sorted(set(t.index) - set(headroom.index))
        if missing:
            raise KeyError(f"headroom has no value for seeds {missing}")
        bound = tuple(float(h) for h in headroom.loc[list(t.index)])
    if margin:
        quantity = f"{quantity} (+{margin} margin)"
    names = labels if labels is not None else (treatment, control)
    values = SeedValues(seeds=tuple(int(s) for s in t.index), treatment=tuple(float(v) for v in t),
                        control=tuple(float(v) for v in c), headroom=bound, higher_is_better=higher_is_better,
                        margin=float(margin), labels=(str(names[0]), str(names[1])), digits=digits)
    return judge(paper, text, quantity, values)


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


def claim_numbers(claims: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind a claims table's formatted columns: ``diff_mean``, ``ci_low``,
    ``ci_high`` (from ``difference``), ``detectable``, ``headroom`` and ``target`` (NaN where "n/a"
    or the column is absent), one row per claim in the table's order. The inverse of `claim_row`'s
    formatting (`interval`), so a figure needs no second copy of the numbers."""
    def number(text) -> float:
        return math.nan if text in (None, "n/a") or (isinstance(text, float) and math.isnan(text)) else float(text)

    rows = []
    for row in claims.itertuples(index=False):
        mean, bounds = row.difference.split(" [")
        low, high = bounds.rstrip("]").split(", ")
        rows.append(dict(diff_mean=number(mean), ci_low=number(low), ci_high=number(high),
                         detectable=number(row.detectable), headroom=number(getattr(row, "headroom", None)),
                         target=number(getattr(row, "target", None))))
    return pd.DataFrame(rows, index=claims.index)


# -- the picture -------------------------------------------------------------------------------

VERDICT_COLORS = {"reproduced": "#2e7d32", "not reproduced": "#c62828", "cannot show here": "#8e8e8e",
                  "inconclusive": "#ef8f00"}


def claims_forest(claims, title: str = "Every claim: paired difference (favouring the claim) with its 95% interval"):
    """A forest plot of a claims table (`ssl_lib.lab.verdicts.claims_table`, ``notebook`` column
    optional): one row per claim grouped by paper, the mean paired difference with its 95%
    interval coloured by verdict, the detectable effect as an open diamond, the target (an
    interval ending left of it rules the effect out) as a tick, zero as a line."""
    import plotly.graph_objects as go

    claims = claims.reset_index(drop=True)
    numbers = claim_numbers(claims)
    prefix = claims["notebook"].str[:2] + " " if "notebook" in claims else ""
    labels = (prefix + claims["paper"] + ": " + claims["claim"] + " (" + claims["quantity"] + ")").tolist()
    order = claims.sort_values("paper", kind="stable").index.tolist()[::-1]  # first claim on top
    fig = go.Figure()
    for verdict in VERDICTS:
        rows = [i for i in order if claims.verdict[i] == verdict]
        if not rows:
            continue
        n = numbers.loc[rows]
        fig.add_trace(go.Scatter(
            x=n.diff_mean, y=[labels[i] for i in rows], mode="markers", name=verdict,
            marker=dict(color=VERDICT_COLORS[verdict], size=9),
            error_x=dict(type="data", symmetric=False, array=(n.ci_high - n.diff_mean).fillna(0),
                         arrayminus=(n.diff_mean - n.ci_low).fillna(0), color=VERDICT_COLORS[verdict])))
    n = numbers.loc[order]
    fig.add_trace(go.Scatter(x=n.detectable, y=[labels[i] for i in order], mode="markers", name="detectable effect",
                             marker=dict(symbol="diamond-open", color="#555", size=8)))
    fig.add_trace(go.Scatter(x=n.target, y=[labels[i] for i in order], mode="markers", name="target",
                             marker=dict(symbol="line-ns", size=9, line=dict(width=3, color="#1565c0"))))
    fig.add_vline(x=0, line_color="#333", line_width=1)
    fig.update_yaxes(categoryorder="array", categoryarray=[labels[i] for i in order], automargin=True)
    fig.update_layout(title=title, xaxis_title="paired difference (> 0 favours the claim)",
                      height=120 + 26 * len(claims), legend=dict(orientation="h", y=-0.15), margin=dict(l=10, r=10))
    return fig
