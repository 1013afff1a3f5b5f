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
    capsys.readouterr()
    assert compare_claims.main([str(a), str(tmp_path / "missing")]) == 2
    assert one_error_line(capsys).endswith("missing has no results/08_report.json (run `make reproduce` into it first)")
    assert compare_claims.main([str(a), str(b), "--names", "x"]) == 2
    assert "--names gives 1 names for 2 folders" in one_error_line(capsys)


def one_error_line(capsys) -> str:
    """The command's stderr, which must be one ``error: ...`` line (no usage block, no traceback)."""
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize("content, message", [
    ("{oops", "results.json is not valid JSON"), ("[]", "must hold a JSON object"), ("{}", 'has no "notebooks"'),
])
def test_a_corrupt_results_file_is_named_in_one_line(tmp_path, capsys, content, message):
    import power_analysis

    out = write_output(tmp_path / "a", [0.8, 0.9, 0.85])
    (out / "results.json").write_text(content)
    for script in (report_tables, power_analysis):
        assert script.main([str(out)]) == 2
        assert message in one_error_line(capsys)
    (out / "results" / "08_report.json").write_text(content if content != "{}" else '{"rows": []}')
    assert compare_claims.main([str(out), str(out)]) == 2
    assert "08_report.json" in one_error_line(capsys)


def test_a_stale_corrupt_notebook_result_is_named_when_merged(tmp_path):
    from ssl_lib.lab.results import merge_results

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "02_invariance.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"02_invariance\.json is not valid JSON"):
        merge_results(tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_bad_flags_of_the_scripts_are_one_line(tmp_path, capsys):
    import benchmark_validity
    import colour_resolution
    import power_analysis

    out = write_output(tmp_path / "a", [0.8, 0.9, 0.85])
    cases = [(benchmark_validity, ["--profile", "bogus"], "unknown profile 'bogus'"),
             (benchmark_validity, ["--profile", "smoke", "--variant", "bogus=1"], "bogus"),
             (benchmark_validity, ["--profile", "smoke", "--variant", "epochs=-1"], "epochs must be positive"),
             (benchmark_validity, ["--profile", "smoke", "--variant", "scene=plain"], "scene"),
             (benchmark_validity, ["--seeds", "x"], "invalid int value: 'x'"),
             (colour_resolution, ["--classes", "1"], "--classes must be >= 2"),
             (power_analysis, [str(out), "--max-seeds", "0"], "--max-seeds must be at least 3")]
    for script, argv, message in cases:
        assert script.main(argv) == 2, argv
        assert message in one_error_line(capsys), argv


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
