"""benchmarks/compare_claims.py and benchmarks/report_tables.py on hand-made results folders."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import compare_claims  # noqa: E402
import report_tables  # noqa: E402

from ssl_lib.lab.verdicts import claim_row, claims_table, compare  # noqa: E402


def write_output(folder: Path, treatment) -> Path:
    claims = claims_table([claim_row("AugSelf", "helps colour", "colour top-1", "a", "b",
                                     compare(treatment, [0.7, 0.8, 0.8]))]).assign(notebook="04_augself")
    (folder / "results").mkdir(parents=True)
    report = {"claims": claims.to_dict("records")}
    (folder / "results" / "08_report.json").write_text(json.dumps(report))
    validity = {"failures": ["x"], "table": [dict(seed=s, measure="content", model="SimCLR", factor="shape", value=0.1 * s)
                                             for s in (0, 1)]}
    merged = {"run": {"profile": "cpu", "seconds": 60.0, "notebooks": [{"notebook": "04_augself", "seconds": 5.0}]},
              "notebooks": {"08_report": report, "00_validity": validity}}
    (folder / "results.json").write_text(json.dumps(merged))
    return folder


def test_compare_claims_pairs_rows_and_reports_the_largest_change(tmp_path, capsys):
    a = write_output(tmp_path / "a", [0.8, 0.9, 0.85])  # +0.083, reproduced
    b = write_output(tmp_path / "b", [0.8, 0.7, 0.95])  # +0.050, inconclusive
    compare_claims.main([str(a), str(b), "--names", "before,after"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| notebook | paper | claim (quantity) | before:") and len(lines) == 3
    assert "+0.083 [+0.012, +0.155], reproduced" in lines[2] and "inconclusive" in lines[2]
    assert lines[2].rstrip(" |").endswith("0.033")
    with pytest.raises(SystemExit):
        compare_claims.main([str(a), str(tmp_path / "missing")])


def test_report_tables_prints_validity_and_claims(tmp_path, capsys):
    out = write_output(tmp_path / "a", [0.8, 0.9, 0.85])
    assert report_tables.main([str(out)]) == 0
    text = capsys.readouterr().out
    assert "Validity: 1 floor(s) missed" in text and "content shape" in text
    assert "1 claims: 1 reproduced" in text and "| 04 " in text and "helps colour (colour top-1)" in text
    assert report_tables.main([str(tmp_path / "none")]) == 2


def test_power_analysis_recovers_the_spread_and_the_seeds_needed(tmp_path, capsys):
    import numpy as np

    import power_analysis
    from ssl_lib.lab.verdicts import seeds_needed

    out = write_output(tmp_path / "a", [0.8, 0.7, 0.95])  # d = 0.1, -0.1, 0.15
    table = power_analysis.power_table(json.loads((out / "results.json").read_text())["notebooks"]["08_report"]["claims"])
    sd = np.std([0.1, -0.1, 0.15], ddof=1)
    assert table.sd_of_difference[0] == pytest.approx(sd, abs=2e-3)  # from the rounded detectable effect
    assert table.bound[0] == "none" and table.target[0] == 0.05
    assert table.seeds_needed[0] == seeds_needed(sd, 0.05)
    assert power_analysis.main([str(out)]) == 0 and "seeds_needed" in capsys.readouterr().out


def test_power_analysis_takes_the_spread_from_the_claims_per_seed_values():
    import numpy as np

    import power_analysis
    from ssl_lib.lab.results import to_jsonable
    from ssl_lib.lab.verdicts import paired_claim

    # lower is better, with a margin: d = c - (t + 0.01) = 0.09, 0.11, -0.06, 0.20
    t, c = [0.50, 0.40, 0.61, 0.30], [0.60, 0.52, 0.56, 0.51]
    row = to_jsonable(paired_claim("P", "t lower", "q", {"t": t, "c": c}, "t", "c", higher_is_better=False,
                                   margin=0.01))
    table = power_analysis.power_table([{**row, "notebook": "04_augself"}])
    assert table.sd_of_difference[0] == round(np.std([0.09, 0.11, -0.06, 0.20], ddof=1), 4)  # exact, not recovered


def test_power_analysis_pools_the_spreads_of_runs_on_disjoint_seeds(tmp_path, capsys):
    import numpy as np

    import power_analysis
    from ssl_lib.lab.verdicts import seeds_needed

    a = write_output(tmp_path / "a", [0.8, 0.7, 0.95])  # d = 0.1, -0.1, 0.15
    b = write_output(tmp_path / "b", [0.8, 0.9, 0.85])  # d = 0.1, 0.1, 0.05
    claims = [json.loads((o / "results.json").read_text())["notebooks"]["08_report"]["claims"] for o in (a, b)]
    pooled = power_analysis.pooled_table([power_analysis.power_table(c) for c in claims])
    # equal seeds: the pooled variance is the mean of the two sample variances
    sd = np.sqrt((np.var([0.1, -0.1, 0.15], ddof=1) + np.var([0.1, 0.1, 0.05], ddof=1)) / 2)
    assert pooled.sd_of_difference[0] == pytest.approx(sd, abs=2e-3)
    assert pooled.seeds_needed[0] == seeds_needed(pooled.sd_of_difference[0], 0.05)
    assert pooled.seeds[0] == "3+3" and pooled.verdict[0] == "inconclusive / reproduced"
    assert power_analysis.main([str(a), str(b), "--per-experiment"]) == 0
    assert "3+3" in capsys.readouterr().out
    other = write_output(tmp_path / "c", [0.8, 0.9, 0.85])
    report = json.loads((other / "results.json").read_text())
    report["notebooks"]["08_report"]["claims"][0]["claim"] = "another claim"
    (other / "results.json").write_text(json.dumps(report))
    assert power_analysis.main([str(a), str(other)]) == 2
    assert "different claims" in capsys.readouterr().err
