"""The verdict rule on hand-made per-seed values; its interval and detectable effect against
scipy's t-test and a simulation."""

import numpy as np
import pytest
from scipy import stats

from ssl_lib.lab.verdicts import claim_row, claims_table, compare, detectable_shift, pm


def test_verdicts_follow_the_rule():
    # d = 0.1, 0.1, 0.05: the whole interval above zero
    assert compare([0.8, 0.9, 0.85], [0.7, 0.8, 0.8])["verdict"] == "reproduced"
    # d = 0.1, -0.1, 0.15: the mean favours the claim but the interval straddles zero
    assert compare([0.8, 0.7, 0.95], [0.7, 0.8, 0.8])["verdict"] == "inconclusive"
    assert compare([0.6, 0.7, 0.65], [0.7, 0.8, 0.8])["verdict"] == "not reproduced"
    # a large difference on too few seeds gives no verdict
    assert compare([0.9], [0.1])["verdict"] == "inconclusive"
    assert compare([0.9, 0.91], [0.1, 0.1])["verdict"] == "inconclusive"
    assert compare([1.0, 2.0, 3.0], [2.0, 3.1, 4.2], higher_is_better=False)["verdict"] == "reproduced"


def test_statistics_by_hand_and_against_scipy():
    r = compare([1.0, 3.0], [0.0, 0.0])
    assert r["treatment_mean"] == 2.0 and r["treatment_std"] == pytest.approx(2 ** 0.5)
    assert r["diff_mean"] == 2.0 and r["wins"] == 2 and r["seeds"] == 2
    d = np.array([0.03, -0.01, 0.05, 0.02])
    r = compare(d + 0.5, np.full(4, 0.5))
    ci = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high))
    # by hand: mean 0.0225, sd 0.025, t_0.975(3) = 3.182446
    assert r["ci_low"] == pytest.approx(0.0225 - 3.182446 * 0.025 / 2, abs=1e-6)
    assert r["verdict"] == "inconclusive"


def test_the_detectable_effect_is_found_with_80_percent_power():
    # Simulate paired experiments whose true mean difference is the detectable shift: a two-sided
    # t-test at 5% rejects in about 80% of them.
    rng = np.random.default_rng(0)
    for n in (3, 5):
        d = rng.normal(detectable_shift(n) / np.sqrt(n), 1.0, size=(40_000, n))
        p = stats.ttest_1samp(d, 0.0, axis=1).pvalue
        assert (p < 0.05).mean() == pytest.approx(0.80, abs=0.01)
    assert detectable_shift(200) == pytest.approx(1.960 + 0.842, abs=0.02)  # the normal limit
    assert np.isnan(compare([1.0, 2.0], [0.0, 0.5])["detectable"])


def test_rows_and_errors():
    row = claim_row("AugSelf", "helps colour", "colour top-1", "+AugSelf", "SimCLR",
                    compare([0.5, 0.6, 0.55], [0.4, 0.5, 0.5]))
    assert row["measured"] == "+AugSelf: 0.550 ± 0.050 vs SimCLR: 0.467 ± 0.058"
    # d = 0.1, 0.1, 0.05: mean 0.0833, sd 0.0289, half-width 4.3027 * 0.0289 / sqrt(3) = 0.0717
    assert row["difference"] == "+0.083 [+0.012, +0.155]"
    assert row["detectable"] == f"{5.6535 * 0.028868 / 3 ** 0.5:.3f}"
    assert row["seeds_agreeing"] == "3/3" and row["verdict"] == "reproduced"
    assert list(claims_table([row]).columns)[-2:] == ["verdict", "reason"] and row["reason"] == ""
    assert pm(float("nan"), 0.0) == "n/a"
    with pytest.raises(ValueError, match="same non-empty"):
        compare([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        compare([float("nan")], [1.0])


def test_load_claims_from_recorded_results(tmp_path):
    from ssl_lib.lab.verdicts import load_claims, verdict_counts
    from ssl_lib.lab.results import record

    row = claim_row("CASSLE", "c", "q", "a", "b", compare([2.0, 3.0, 2.5], [1.0, 1.0, 1.0]))
    record("claims", claims_table([row]), output=tmp_path, notebook="05_cassle")
    record("other", 1, output=tmp_path, notebook="06_feature_aug")
    claims = load_claims(tmp_path, ["05_cassle", "06_feature_aug"])
    assert claims.notebook.tolist() == ["05_cassle"] and claims.verdict.tolist() == ["reproduced"]
    assert verdict_counts(claims).loc["CASSLE"].tolist() == [1, 0, 0, 0]
    with pytest.raises(FileNotFoundError, match=r"\['07_transfer'\]"):
        load_claims(tmp_path, ["05_cassle", "07_transfer"])


def _frame():
    import pandas as pd

    # per-seed values of three models; model "c" lacks seed 2
    rows = [("a", 0, 0.50), ("a", 1, 0.60), ("a", 2, 0.70), ("b", 0, 0.40), ("b", 1, 0.65), ("b", 2, 0.50),
            ("c", 0, 0.10), ("c", 1, 0.20)]
    return pd.DataFrame(rows, columns=["model", "seed", "value"]).set_index(["model", "seed"]).value


def test_paired_claim_by_hand():
    from ssl_lib.lab.verdicts import paired_claim

    row = paired_claim("P", "a beats b", "top-1", _frame(), "a", "b")
    values = row.pop("seeds")  # what the claim was judged on, kept for `rejudge`
    assert (values.seeds, values.treatment, values.control, values.headroom) == ((0, 1, 2), (0.5, 0.6, 0.7),
                                                                                (0.4, 0.65, 0.5), None)
    assert str(values) == "0-2"
    # a - b per seed: 0.10, -0.05, 0.20 -> mean 0.0833, sample std 0.1258, half-width 4.3027 * 0.1258 / sqrt(3);
    # a: 0.600 +- 0.100; b: 0.517 +- 0.126
    assert row == dict(paper="P", claim="a beats b", quantity="top-1",
                       measured="a: 0.600 ± 0.100 vs b: 0.517 ± 0.126", difference="+0.083 [-0.229, +0.396]",
                       detectable="0.411", headroom="n/a", target="0.050", seeds_agreeing="2/3", verdict="inconclusive",
                       reason="too noisy: detectable 0.411 > target 0.050")
    lower = paired_claim("P", "b below a", "cosine", _frame(), "b", "a", higher_is_better=False)
    assert lower["difference"] == "+0.083 [-0.229, +0.396]" and lower["seeds_agreeing"] == "2/3"


def test_paired_claim_pairs_only_common_seeds_and_given_seeds():
    import pandas as pd

    from ssl_lib.lab.verdicts import paired_claim

    per_seed = _frame()
    # c has seeds 0, 1 only: a - c = 0.40, 0.40
    row = paired_claim("P", "t", "q", per_seed, "a", "c")
    assert row["measured"] == "a: 0.550 ± 0.071 vs c: 0.150 ± 0.071" and row["seeds_agreeing"] == "2/2"
    first = paired_claim("P", "t", "q", per_seed, "a", "b", seeds=[0])
    assert first["difference"] == "+0.100 [n/a, n/a]" and first["verdict"] == "inconclusive"
    with pytest.raises(KeyError):
        paired_claim("P", "t", "q", per_seed, "a", "c", seeds=[0, 1, 2])
    # the same values as a pivot (one column per model, NaN where c lacks a seed) and as a mapping
    pivot = per_seed.unstack("model")
    assert paired_claim("P", "t", "q", pivot, "a", "c") == row
    mapping = {"a": [0.50, 0.60], "c": pd.Series([0.10, 0.20], index=[0, 1])}
    assert paired_claim("P", "t", "q", mapping, "a", "c") == row
    assert paired_claim("P", "t", "q", per_seed.to_frame(), "a", "c") == row
    named = paired_claim("P", "t", "q", per_seed, "a", "c", labels=("A", "C"))
    assert named["measured"] == "A: 0.550 ± 0.071 vs C: 0.150 ± 0.071"
    with pytest.raises(ValueError, match="MultiIndex"):
        paired_claim("P", "t", "q", pd.Series([1.0, 2.0]), "a", "c")


def test_paired_claim_with_a_margin():
    from ssl_lib.lab.verdicts import paired_claim

    per_seed = {"new": [0.70, 0.71, 0.72], "old": [0.71, 0.72, 0.73]}
    row = paired_claim("P", "keeps it", "shape top-1", per_seed, "new", "old", margin=0.02)
    # (new + 0.02) - old = 0.01 on every seed; measured shows the plain mean of new
    assert row["quantity"] == "shape top-1 (+0.02 margin)"
    assert row["measured"] == "new: 0.710 ± 0.010 vs old: 0.720 ± 0.010"
    assert row["difference"] == "+0.010 [+0.010, +0.010]" and row["verdict"] == "reproduced"
    assert paired_claim("P", "keeps it", "shape top-1", per_seed, "new", "old")["verdict"] == "not reproduced"


def test_a_bounded_claim_the_headroom_cannot_show():
    from ssl_lib.lab.verdicts import paired_claim

    # d = 0.1, -0.1, 0.15 (inconclusive): detectable = 5.6535 * sd(d) / sqrt(3) = 0.4367 by hand
    treatment, control = [0.8, 0.7, 0.95], [0.7, 0.8, 0.8]
    sd = np.std([0.1, -0.1, 0.15], ddof=1)
    detectable = 5.6535 * sd / 3 ** 0.5
    assert compare(treatment, control)["detectable"] == pytest.approx(detectable, rel=1e-4)
    # the headroom that bounds the effect is smaller than what these seeds could detect
    small = compare(treatment, control, headroom=[0.05, 0.02, 0.08])
    assert small["verdict"] == "cannot show here" and small["headroom"] == pytest.approx(0.05)
    # with room enough to show the effect, the same data stay inconclusive (the rule's edge: equal
    # to the detectable effect is room enough)
    room = detectable + 1e-6
    assert compare(treatment, control, headroom=[room] * 3)["verdict"] == "inconclusive"
    # an interval clear of zero is a result whatever the bound
    assert compare([0.8, 0.9, 0.85], [0.7, 0.8, 0.8], headroom=[0.0] * 3)["verdict"] == "reproduced"
    assert compare([0.6, 0.7, 0.65], [0.7, 0.8, 0.8], headroom=[0.0] * 3)["verdict"] == "not reproduced"
    # fewer than MIN_SEEDS seeds give no verdict of any kind
    assert compare([0.9, 0.1], [0.1, 0.2], headroom=[0.0, 0.0])["verdict"] == "inconclusive"
    with pytest.raises(ValueError, match="headroom"):
        compare(treatment, control, headroom=[0.1, 0.1])
    # paired_claim takes the headroom per seed and pairs it on the compared seeds
    per_seed = {"t": treatment, "c": control}
    row = paired_claim("AugSelf", "improves colour", "color top-1", per_seed, "t", "c",
                       headroom={0: 0.05, 1: 0.02, 2: 0.08, 3: 9.0})
    assert row["verdict"] == "cannot show here" and row["headroom"] == "0.050"
    with pytest.raises(KeyError, match="headroom"):
        paired_claim("AugSelf", "improves colour", "color top-1", per_seed, "t", "c", headroom={0: 0.05})


def test_mean_std_over_seeds():
    import pandas as pd

    from ssl_lib.lab.verdicts import mean_std

    table = pd.DataFrame(dict(model=["b", "b", "a"], task=["x", "x", "x"], seed=[0, 1, 0], value=[1.0, 3.0, 5.0]))
    out = mean_std(table, ["model", "task"], "value", seeds=True)
    assert out.columns.tolist() == ["model", "task", "mean", "std", "seeds"]
    assert out.model.tolist() == ["b", "a"]  # order of appearance
    assert out["mean"].tolist() == [2.0, 5.0] and out["seeds"].tolist() == [2, 1]
    assert out["std"].tolist() == pytest.approx([2 ** 0.5, 0.0])
    assert mean_std(table, "model", "value").columns.tolist() == ["model", "mean", "std"]


def test_claim_numbers_invert_the_formatting_and_the_forest_plot_shows_every_claim():
    from ssl_lib.lab.verdicts import VERDICT_COLORS, claim_numbers, claims_forest

    results = [compare([0.8, 0.9, 0.85], [0.7, 0.8, 0.8]), compare([0.8, 0.7, 0.95], [0.7, 0.8, 0.8], headroom=[0.01] * 3),
               compare([0.6, 0.7, 0.65], [0.7, 0.8, 0.8]), compare([0.9], [0.1])]
    table = claims_table([claim_row(p, f"claim {i}", "q", "t", "c", r)
                          for i, (p, r) in enumerate(zip(["A", "B", "A", "B"], results))])
    numbers = claim_numbers(table)
    for i, r in enumerate(results):
        for key in ("diff_mean", "ci_low", "ci_high", "detectable", "headroom", "target"):
            expected = r[key]
            assert (np.isnan(numbers[key][i]) and np.isnan(expected)) or numbers[key][i] == pytest.approx(expected,
                                                                                                          abs=5e-4)
    fig = claims_forest(table.assign(notebook=["04_augself"] * 4))
    verdict_traces = {t.name: t for t in fig.data if t.name in VERDICT_COLORS}
    assert set(verdict_traces) == {"reproduced", "not reproduced", "cannot show here", "inconclusive"}
    assert sum(len(t.y) for t in verdict_traces.values()) == 4
    assert verdict_traces["reproduced"].marker.color == VERDICT_COLORS["reproduced"]
    assert list(verdict_traces["reproduced"].x) == pytest.approx([results[0]["diff_mean"]], abs=5e-4)
    assert all(label.startswith("04 ") for t in verdict_traces.values() for label in t.y)
    detectable = next(t for t in fig.data if t.name == "detectable effect")
    assert len(detectable.x) == 4
    target = next(t for t in fig.data if t.name.startswith("target"))
    assert list(target.y) == list(detectable.y) and target.x[-1] == pytest.approx(0.05)  # the first claim, on top


def test_seeds_needed_is_the_smallest_design_that_detects_the_target():
    from ssl_lib.lab.verdicts import seeds_needed

    sd = 0.02
    for target in (0.05, 0.02, 0.01):
        n = seeds_needed(sd, target)
        assert detectable_shift(n) * sd / np.sqrt(n) <= target
        if n > 3:
            assert detectable_shift(n - 1) * sd / np.sqrt(n - 1) > target
    assert seeds_needed(0.0, 0.01) == 3  # no spread: the minimum
    assert seeds_needed(1.0, 0.001, max_seeds=50) is None
    # by hand: 3.26 sd at 3 seeds, 1.68 at 5, 1.44 at 6 (detectable_shift(n) / sqrt(n))
    assert seeds_needed(1.0, 3.3) == 3 and seeds_needed(1.0, 1.7) == 5 and seeds_needed(1.0, 1.45) == 6
    with pytest.raises(ValueError):
        seeds_needed(0.1, 0.0)


def test_the_target_is_half_the_bounding_headroom_else_the_fixed_target():
    from ssl_lib.lab.verdicts import UNBOUNDED_TARGET, target_effect

    assert target_effect(0.12) == pytest.approx(0.06)
    assert target_effect(float("nan")) == UNBOUNDED_TARGET == 0.05


def test_an_effect_the_interval_rules_out_is_not_reproduced():
    from ssl_lib.lab.verdicts import paired_claim

    # d = 0.01, 0.00, 0.02, 0.01: mean 0.01, sd 0.008165, the interval 0.01 +- 3.182446 * 0.004082
    # = [-0.003, +0.023] straddles zero but ends below the 0.05 target: an effect of 0.05 is ruled out.
    d = np.array([0.01, 0.0, 0.02, 0.01])
    result = compare(0.5 + d, np.full(4, 0.5))
    assert result["ci_high"] == pytest.approx(0.01 + 3.182446 * 0.008165 / 2, abs=1e-6)
    assert result["target"] == 0.05 and result["verdict"] == "not reproduced"
    # the same test written out: a one-sided t-test of "mean >= target" rejects at 2.5%
    assert stats.ttest_1samp(d, 0.05, alternative="less").pvalue < 0.025
    row = claim_row("FA", "improves", "kNN", "FA", "SimCLR", result)
    assert row["target"] == "0.050" and row["reason"] == "rules out >= 0.050"
    # with a bounding headroom of 0.04 the target is 0.02, inside the interval: undecided
    bounded = compare(0.5 + d, np.full(4, 0.5), headroom=[0.04] * 4)
    assert bounded["target"] == pytest.approx(0.02) and bounded["verdict"] == "inconclusive"
    assert stats.ttest_1samp(d, 0.02, alternative="less").pvalue > 0.025
    # a non-inferiority claim claims no effect: no target, so the same interval is undecided
    row = paired_claim("P", "keeps it", "q", {"new": 0.48 + d, "old": np.full(4, 0.5)}, "new", "old", margin=0.02)
    assert row["difference"] == "+0.010 [-0.003, +0.023]" and row["target"] == "n/a"
    assert row["verdict"] == "inconclusive" and row["reason"] == "interval spans 0"


def test_a_headroom_too_small_to_show_the_effect_is_said_before_the_target_test():
    # d = -0.01, 0, -0.02, 0: mean -0.0075, interval [-0.023, +0.008]; detectable 0.020.  A headroom
    # of 0.018 is below it (cannot show here), though its target 0.009 lies above the interval.
    d = np.array([-0.01, 0.0, -0.02, 0.0])
    result = compare(0.5 + d, np.full(4, 0.5), headroom=[0.018] * 4)
    assert result["ci_high"] < 0.009 < result["detectable"] and result["headroom"] < result["detectable"]
    assert result["verdict"] == "cannot show here"


def test_the_reason_names_the_test_that_gave_each_verdict():
    from ssl_lib.lab.verdicts import verdict_reason

    nan = float("nan")
    assert verdict_reason("reproduced", 0.3, 0.02, nan, 0.05) == ""
    assert verdict_reason("not reproduced", -0.01, 0.02, nan, 0.05) == "interval below 0"
    assert verdict_reason("not reproduced", 0.011, 0.031, 0.126, 0.063) == "rules out >= 0.063"
    assert verdict_reason("cannot show here", 0.05, 0.097, 0.032, 0.016) == "headroom 0.032 < detectable 0.097"
    assert verdict_reason("inconclusive", 0.2, 0.15, nan, 0.05) == "too noisy: detectable 0.150 > target 0.050"
    assert verdict_reason("inconclusive", 0.07, 0.04, nan, 0.05) == "interval spans 0 and target 0.050"
    assert verdict_reason("inconclusive", 0.01, 0.04, nan, nan) == "interval spans 0"
    assert verdict_reason("inconclusive", nan, nan, nan, 0.05) == "fewer than 3 seeds"


def test_the_verdict_summary_counts_each_verdict_present():
    import pandas as pd

    from ssl_lib.lab.verdicts import verdict_summary

    claims = pd.DataFrame({"verdict": ["inconclusive", "reproduced", "reproduced"]})
    assert verdict_summary(claims) == "3 claims: 2 reproduced, 1 inconclusive"


def test_seed_ranges():
    from ssl_lib.lab.verdicts import seed_ranges

    assert seed_ranges([3, 0, 1, 2, 7, 9, 10]) == "0-3, 7, 9-10" and seed_ranges([5]) == "5" and seed_ranges([]) == ""


def _four_seeds():
    # per seed: t - c = 0.05, 0.04, -0.10 (seed 2: the outlier), 0.06; headroom 0.2, 0.3, 0.05, 0.25
    return dict(t=[0.55, 0.64, 0.40, 0.66], c=[0.50, 0.60, 0.50, 0.60], h=[0.2, 0.3, 0.05, 0.25])


def test_rejudge_equals_judging_the_remaining_seeds_from_scratch():
    import pandas as pd

    from ssl_lib.lab.verdicts import paired_claim, rejudge

    v = _four_seeds()
    per_seed = {"t": pd.Series(v["t"], index=[0, 1, 2, 3]), "c": pd.Series(v["c"], index=[0, 1, 2, 3])}
    headroom = pd.Series(v["h"], index=[0, 1, 2, 3])
    rows = [paired_claim("P", "t helps", "q", per_seed, "t", "c", headroom=headroom),
            paired_claim("P", "t keeps", "q", per_seed, "t", "c", margin=0.02, labels=("T", "C"), digits=2)]
    claims = claims_table(rows).assign(notebook="04_augself")
    assert claims.verdict.tolist() == ["inconclusive", "inconclusive"]  # seed 2 pulls the interval over 0
    again = rejudge(claims, [2, 99])  # a seed no claim has is ignored
    # the reference: the same claims judged on seeds 0, 1, 3 in the first place
    expected = claims_table([paired_claim("P", "t helps", "q", per_seed, "t", "c", seeds=[0, 1, 3], headroom=headroom),
                             paired_claim("P", "t keeps", "q", per_seed, "t", "c", seeds=[0, 1, 3], margin=0.02,
                                          labels=("T", "C"), digits=2)]).assign(notebook="04_augself")
    pd.testing.assert_frame_equal(again, expected)
    assert again.verdict.tolist() == ["reproduced", "reproduced"] and str(again.seeds[0]) == "0-1, 3"
    assert again.headroom[0] == "0.250" and again.quantity[1] == "q (+0.02 margin)"
    pd.testing.assert_frame_equal(rejudge(claims, []), claims)  # nothing dropped: the same table


def test_rejudge_after_a_json_round_trip_and_its_errors(tmp_path):
    from ssl_lib.lab.results import record
    from ssl_lib.lab.verdicts import claim_numbers, load_claims, paired_claim, rejudge

    v = _four_seeds()
    row = paired_claim("P", "t helps", "q", {"t": v["t"], "c": v["c"]}, "t", "c")
    record("claims", claims_table([row]), output=tmp_path, notebook="05_cassle")
    loaded = load_claims(tmp_path, ["05_cassle"])
    assert loaded.seeds[0] == row["seeds"]  # the per-seed values come back from JSON
    assert rejudge(loaded, [2]).verdict.tolist() == ["reproduced"]
    empty = rejudge(loaded, [0, 1, 2, 3])  # every seed left out: nothing to judge on, said so
    assert empty[["difference", "seeds_agreeing", "verdict", "reason"]].iloc[0].tolist() == [
        "n/a [n/a, n/a]", "0/0", "inconclusive", "no seeds left"]
    assert claim_numbers(empty).isna().all(axis=None)
    old = claims_table([{k: x for k, x in row.items() if k != "seeds"}])  # recorded before values were kept
    with pytest.raises(ValueError, match="recorded without its per-seed values"):
        rejudge(old, [2])


def test_verdicts_without_sets_both_judgements_side_by_side():
    import pandas as pd

    from ssl_lib.lab.verdicts import paired_claim, rejudge, verdicts_without

    v = _four_seeds()
    per_seed = {"t": pd.Series(v["t"], index=[0, 1, 2, 3]), "c": pd.Series(v["c"], index=[0, 1, 2, 3])}
    claims = claims_table([paired_claim("P", "t helps", "q", per_seed, "t", "c"),
                           paired_claim("P", "c helps", "q", per_seed, "c", "t")]).assign(notebook="04_augself")
    table = verdicts_without(claims, [2])
    assert table.columns.tolist() == ["notebook", "paper", "claim", "quantity", "seeds", "difference", "verdict",
                                      "seeds without", "difference without", "verdict without", "reason without", "same",
                                      "same-size drops that change it"]
    assert table.seeds.tolist() == ["0-3", "0-3"] and table["seeds without"].tolist() == ["0-1, 3", "0-1, 3"]
    # without seed 2, t beats c on every seed: the first claim is reproduced, the second contradicted
    assert table["verdict without"].tolist() == ["reproduced", "not reproduced"]
    assert table.same.tolist() == [False, False] and table["reason without"][1] == "interval below 0"
    # the yardstick: leaving out any one of the four seeds. Only seed 2 (the outlier) changes the
    # first claim (without 0, 1 or 3 its interval still spans 0: inconclusive, as on all four)
    assert table["same-size drops that change it"].tolist() == ["1/4", "1/4"]
    assert verdicts_without(claims, [99])["same-size drops that change it"].tolist() == ["-", "-"]  # none of theirs
    # a filtered table (index 1 only) is judged row for row, its index kept
    second = verdicts_without(claims[claims.claim == "c helps"], [2])
    assert second.index.tolist() == [1] and second["verdict without"].tolist() == ["not reproduced"]
    assert rejudge(claims.iloc[[1]], [2]).index.tolist() == [1]


def test_changes_by_chance_counts_every_subset_of_that_size():
    from itertools import combinations

    from ssl_lib.lab.verdicts import changes_by_chance, compare, paired_claim

    values = {"t": [0.55, 0.64, 0.40, 0.66, 0.61], "c": [0.50, 0.60, 0.50, 0.60, 0.58]}
    row = paired_claim("P", "t helps", "q", values, "t", "c")
    # by hand: judge each 3-seed subset with compare and count the verdicts unlike the 5-seed one
    expected = sum(compare([values["t"][i] for i in keep], [values["c"][i] for i in keep])["verdict"] != row["verdict"]
                   for keep in combinations(range(5), 3))
    assert changes_by_chance(row, 2) == (expected, 10) and changes_by_chance(row, 0) == (0, 0)


def test_seed_values_need_one_value_per_seed():
    from ssl_lib.lab.verdicts import SeedValues

    with pytest.raises(ValueError, match="one treatment, control \\(and headroom\\) value per seed: 2 seeds"):
        SeedValues(seeds=(0, 1), treatment=(0.5,), control=(0.4, 0.4))
    with pytest.raises(ValueError, match="per seed"):
        SeedValues(seeds=(0, 1), treatment=(0.5, 0.6), control=(0.4, 0.4), headroom=(0.1,))
    # One run counted three times would pass the rule's minimum of 3 seeds with a zero-width interval.
    with pytest.raises(ValueError, match=r"distinct seeds, got \[0, 0, 0\]"):
        SeedValues(seeds=(0, 0, 0), treatment=(0.9,) * 3, control=(0.5,) * 3)
    assert SeedValues.from_record(None) is None and SeedValues.from_record(float("nan")) is None


def test_a_round_trip_keeps_headroom_margin_and_direction_and_rejudging_uses_them(tmp_path):
    import pandas as pd

    from ssl_lib.lab.results import record
    from ssl_lib.lab.verdicts import changes_by_chance, compare, load_claims, paired_claim, rejudge

    # lower is better (e.g. a cosine), with a margin and a headroom bound
    t, c = [0.50, 0.40, 0.61, 0.30, 0.45], [0.60, 0.52, 0.56, 0.51, 0.50]
    h = pd.Series([0.2, 0.3, 0.1, 0.25, 0.15], index=range(5))
    row = paired_claim("P", "t lower", "q", {"t": t, "c": c}, "t", "c", higher_is_better=False, margin=0.01,
                       headroom=h, labels=("T", "C"), digits=4)
    record("claims", claims_table([row]), output=tmp_path, notebook="04_augself")
    loaded = load_claims(tmp_path, ["04_augself"])
    assert loaded.seeds[0] == row["seeds"] and loaded.seeds[0].labels == ("T", "C")
    again = rejudge(loaded, [2])
    keep = [0, 1, 3, 4]
    by_hand = compare([t[i] + 0.01 for i in keep], [c[i] for i in keep], higher_is_better=False,
                      headroom=[h[i] for i in keep], effect_claim=False)
    assert again.verdict[0] == by_hand["verdict"] and again.seeds_agreeing[0] == f"{by_hand['wins']}/4"
    assert again.difference[0].startswith(f"{by_hand['diff_mean']:+.4f}") and again.quantity[0] == "q (+0.01 margin)"
    assert again.measured[0].startswith("T: ")
    # every seed left out: one subset, judged on nothing, so "inconclusive"
    changed, subsets = changes_by_chance(loaded.to_dict("records")[0], 5)
    assert subsets == 1 and changed == int(row["verdict"] != "inconclusive")


def test_paired_claim_needs_a_seed_in_common_and_old_rows_are_named():
    from ssl_lib.lab.verdicts import SeedValues, changes_by_chance, paired_claim

    import pandas as pd

    per_seed = {"a": pd.Series([0.5, 0.6], index=[0, 1]), "b": pd.Series([0.4], index=[7])}
    with pytest.raises(ValueError, match="'a' and 'b' have no seed in common"):
        paired_claim("P", "t", "q", per_seed, "a", "b")
    with pytest.raises(ValueError, match="recorded without its per-seed values"):
        changes_by_chance(dict(paper="P", claim="old", quantity="q", verdict="reproduced", seeds=None), 1)
    with pytest.raises(ValueError, match=r"unknown fields \['colour'\]"):
        SeedValues.from_record(dict(seeds=[0], treatment=[0.5], control=[0.4], colour=1))
    assert str(SeedValues(seeds=(), treatment=(), control=())) == "none"
