"""The verdict rule on hand-made per-seed values."""

import pytest

from ssl_lib.lab.verdicts import claim_row, claims_table, compare, pm


def test_verdicts_follow_the_rule():
    assert compare([0.8, 0.9, 0.85], [0.7, 0.8, 0.8])["verdict"] == "reproduced"
    assert compare([0.8, 0.7, 0.95], [0.7, 0.8, 0.8])["verdict"] == "partly reproduced"
    assert compare([0.6, 0.7, 0.65], [0.7, 0.8, 0.8])["verdict"] == "not reproduced"
    assert compare([0.9], [0.1])["verdict"] == "inconclusive"
    assert compare([0.80, 0.81], [0.80, 0.80], tolerance=0.01)["verdict"] == "inconclusive"
    assert compare([1.0, 2.0], [2.0, 3.0], higher_is_better=False)["verdict"] == "reproduced"


def test_statistics_by_hand():
    r = compare([1.0, 3.0], [0.0, 0.0])
    assert r["treatment_mean"] == 2.0 and r["treatment_std"] == pytest.approx(2 ** 0.5)
    assert r["diff_mean"] == 2.0 and r["wins"] == 2 and r["seeds"] == 2


def test_rows_and_errors():
    row = claim_row("AugSelf", "helps colour", "colour top-1", "+AugSelf", "SimCLR", compare([0.5, 0.6], [0.4, 0.5]))
    assert row["measured"] == "+AugSelf: 0.550 ± 0.071 vs SimCLR: 0.450 ± 0.071"
    assert row["seeds_agreeing"] == "2/2" and row["verdict"] == "reproduced"
    assert list(claims_table([row]).columns)[-1] == "verdict"
    assert pm(float("nan"), 0.0) == "n/a"
    with pytest.raises(ValueError, match="same non-empty"):
        compare([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        compare([float("nan")], [1.0])


def test_load_claims_from_recorded_results(tmp_path):
    from ssl_lib.lab.verdicts import load_claims, verdict_counts
    from ssl_lib.lab.results import record

    row = claim_row("CASSLE", "c", "q", "a", "b", compare([2.0, 3.0], [1.0, 1.0]))
    record("claims", claims_table([row]), output=tmp_path, notebook="05_cassle")
    record("other", 1, output=tmp_path, notebook="06_feature_aug")
    claims = load_claims(tmp_path, ["05_cassle", "06_feature_aug"])
    assert claims.notebook.tolist() == ["05_cassle"] and claims.verdict.tolist() == ["reproduced"]
    assert verdict_counts(claims).loc["CASSLE"].tolist() == [1, 0, 0, 0]
    with pytest.raises(FileNotFoundError, match=r"\['07_transfer'\]"):
        load_claims(tmp_path, ["05_cassle", "07_transfer"])
